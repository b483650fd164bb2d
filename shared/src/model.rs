//! The normalized vocabulary every provider translates into.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::keywords::Keyword;

/// The kind of channel a customer wrote on. One webhook function serves each channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Text messages (Twilio, ...).
    Sms,
    /// Email (Amazon SES, Mailgun, ...).
    Email,
    /// Social messaging (Meta, Telegram, LINE, ...).
    Social,
}

impl Channel {
    /// Every channel, in route order.
    pub const ALL: [Channel; 3] = [Channel::Sms, Channel::Email, Channel::Social];

    /// The route segment and stored value: `sms`, `email`, `social`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Social => "social",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownChannel(s.to_owned()))
    }
}

/// A channel name that Intake does not serve.
#[derive(Debug, thiserror::Error)]
#[error("unknown channel {0:?}")]
pub struct UnknownChannel(pub String);

/// Who sent a message: the address on the channel (phone number, email, platform user id)
/// and the display name when the provider gives one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Phone number in E.164, email address, or platform user id.
    pub address: String,
    /// Display name, when the provider knows it.
    pub name: Option<String>,
}

/// A file that came with a message. Only metadata is stored; the provider keeps the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Where the provider serves the file, when it has a URL.
    pub url: Option<String>,
    /// MIME type as reported by the provider.
    pub content_type: Option<String>,
    /// File name, when known.
    pub name: Option<String>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// One customer message, normalized. Every provider's `parse` produces these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The channel it arrived on.
    pub channel: Channel,
    /// The provider's route name (`twilio`, ...).
    pub provider: &'static str,
    /// The provider's own id for this message: the deduplication key.
    pub provider_message_id: String,
    /// The customer.
    pub from: Party,
    /// Our address the customer wrote to (the number or inbox); acks are sent from it.
    pub to: String,
    /// Subject line, for channels that have one.
    pub subject: Option<String>,
    /// Text of the message (may be empty for media-only messages).
    pub body: String,
    /// Attachment metadata.
    pub attachments: Vec<Attachment>,
    /// Language tag reported by the platform, if any.
    pub language: Option<String>,
    /// When Intake received it.
    pub received_at: Timestamp,
    /// A compliance keyword (STOP, START, HELP) when the whole message is one.
    pub keyword: Option<Keyword>,
    /// A short-lived token the platform accepts for a reply (LINE `replyToken`).
    pub reply_token: Option<String>,
    /// What only email carries; `None` on other channels.
    pub email: Option<EmailDetails>,
}

impl InboundMessage {
    /// The deduplication key under the provider: its own id, and for email also the
    /// Message-ID, so a provider that reuses ids across mails cannot hide a new one.
    pub fn dedup_key(&self) -> String {
        match self.email.as_ref().and_then(|e| e.message_id.as_deref()) {
            Some(message_id) if message_id != self.provider_message_id => {
                format!("{}#{message_id}", self.provider_message_id)
            }
            _ => self.provider_message_id.clone(),
        }
    }
}

/// What only an email carries: threading ids, quoted history, loop markers and verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailDetails {
    /// RFC 5322 `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// `Cc` addresses.
    pub cc: Vec<String>,
    /// The quoted history below the customer's new text (`body` holds only the new text).
    pub quoted: String,
    /// Why this mail must never get an automatic reply (RFC 3834 loop markers, bounces,
    /// system senders): a reason code such as `auto_submitted`.
    pub no_reply: Option<String>,
    /// Why the mail is flagged (`spam`, `virus`): stored, shown, never acknowledged.
    pub flagged: Option<String>,
}

impl EmailDetails {
    /// The ids this mail answers, most specific first: `In-Reply-To`, then `References`
    /// newest to oldest.
    pub fn thread_ids(&self) -> impl Iterator<Item = &str> {
        self.in_reply_to
            .iter()
            .chain(self.references.iter().rev())
            .map(String::as_str)
    }
}

/// Whether the customer's automatic acknowledgement has gone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckStatus {
    /// Not decided yet; the acknowledger will act on it.
    Pending,
    /// Claimed by an acknowledger that is sending it right now.
    Sending,
    /// Accepted by the provider.
    Sent,
    /// Deliberately not sent (reason stored on the ticket).
    Skipped,
    /// The provider refused it permanently (reason stored on the ticket).
    Failed,
}

impl AckStatus {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            AckStatus::Pending => "pending",
            AckStatus::Sending => "sending",
            AckStatus::Sent => "sent",
            AckStatus::Skipped => "skipped",
            AckStatus::Failed => "failed",
        }
    }

    /// Reads a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        [
            AckStatus::Pending,
            AckStatus::Sending,
            AckStatus::Sent,
            AckStatus::Skipped,
            AckStatus::Failed,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A ticket as stored: one conversation with one contact on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Sortable id (ULID).
    pub id: String,
    /// Short human reference, e.g. `K7F3Q2`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Channel of the conversation.
    pub channel: Channel,
    /// Provider the first message came through (acks go back through it).
    pub provider: String,
    /// The customer's address on the channel.
    pub contact: String,
    /// The customer's display name, if known.
    pub contact_name: Option<String>,
    /// Our address the customer wrote to.
    pub our_address: String,
    /// Subject, for channels that have one.
    pub subject: Option<String>,
    /// `open` or `closed` (closing is the helpdesk's business).
    pub status: String,
    /// Number of messages on the ticket.
    pub message_count: u64,
    /// Acknowledgement state.
    pub ack_status: AckStatus,
    /// Why the ack was skipped or failed.
    pub ack_reason: Option<String>,
    /// Why the ticket is flagged (`spam`, `virus`), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged: Option<String>,
    /// The provider's id of our ack message, once sent.
    pub ack_provider_message_id: Option<String>,
    /// Sort key of the message that opened the ticket.
    pub first_message_sk: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// A stored message of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Ticket it belongs to.
    pub ticket_id: String,
    /// Provider it came through.
    pub provider: String,
    /// The provider's id.
    pub provider_message_id: String,
    /// Sender address.
    pub from: String,
    /// Sender display name.
    pub from_name: Option<String>,
    /// Our address it was sent to.
    pub to: String,
    /// Subject, for channels that have one.
    pub subject: Option<String>,
    /// Text.
    pub body: String,
    /// Attachment metadata.
    pub attachments: Vec<Attachment>,
    /// RFC 3339 receive time.
    pub received_at: String,
    /// Compliance keyword, if the message was one.
    pub keyword: Option<Keyword>,
    /// Language tag the platform reported, if any.
    pub language: Option<String>,
    /// Reply token the platform gave with the message, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_token: Option<String>,
    /// Email `Message-ID`, without angle brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Email `References` ids, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Email `Cc` addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// Quoted history below the new text (email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<String>,
    /// Why this message must never be answered automatically, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_reply: Option<String>,
}

/// A customer on one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Channel of this identity.
    pub channel: Option<Channel>,
    /// Address on the channel.
    pub address: String,
    /// Display name, if known.
    pub name: Option<String>,
    /// Preferred language, if known.
    pub language: Option<String>,
    /// The customer asked not to be messaged (STOP).
    pub opted_out: bool,
    /// The ticket new messages currently join.
    pub open_ticket: Option<String>,
    /// The acks this contact was last sent (the last 24 hours' worth, and older ones until
    /// the next ack's write drops them).
    #[serde(default)]
    pub recent_acks: Vec<RecentAck>,
}

/// One ack sent to a contact, for the daily cap and the quiet period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentAck {
    /// When the provider was asked to send it.
    pub at: Timestamp,
    /// The name it is stored under in the contact's `recent_acks` map (the acked ticket's
    /// id); `None` for an entry of the list Intake stored before that map.
    pub key: Option<String>,
}

impl RecentAck {
    /// An ack at `at`, stored under no key yet.
    pub fn at(at: Timestamp) -> RecentAck {
        RecentAck { at, key: None }
    }
}
