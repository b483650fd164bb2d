//! Turning a parsed mail into a ticket message, shared by the email providers (SES, Mailgun,
//! SendGrid, Postmark): who wrote, to which of our inboxes, the new words apart from the
//! quoted history, the threading ids, and why it must never be answered automatically.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::email::{self, ParsedEmail};
use crate::error::WebhookError;
use crate::model::{Channel, EmailDetails, InboundMessage};

/// What the provider says beside the MIME itself.
#[derive(Debug, Default)]
pub(crate) struct Envelope<'a> {
    /// The provider's own id of the mail, if it has one.
    pub provider_id: Option<&'a str>,
    /// The inbox it was delivered to (SMTP `RCPT TO`), when the provider reports it: the
    /// `To` header may name a list or someone else entirely.
    pub recipient: Option<&'a str>,
    /// The SMTP envelope sender (`MAIL FROM`); empty for bounces.
    pub sender: Option<&'a str>,
    /// The provider's verdict (`spam`, `virus`).
    pub flagged: Option<&'static str>,
}

/// A parsed mail as one message of the email channel.
pub(crate) fn inbound(
    provider: &'static str,
    parsed: ParsedEmail,
    envelope: Envelope<'_>,
    raw: &[u8],
    now: Timestamp,
) -> Result<InboundMessage, WebhookError> {
    let from = parsed.from.ok_or(WebhookError::MissingField("from"))?;
    let to = envelope
        .recipient
        .map(str::to_owned)
        .or_else(|| parsed.to.first().cloned())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .ok_or(WebhookError::MissingField("to"))?;
    // Providers without ids of their own (SendGrid) still dedup retries: the Message-ID, or
    // for mail without one, the mail's own bytes.
    let provider_message_id = envelope
        .provider_id
        .map(str::to_owned)
        .or_else(|| parsed.message_id.clone())
        .unwrap_or_else(|| {
            Sha256::digest(raw)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
    let (_, quoted) = email::split_quoted(&parsed.text);
    let no_reply = parsed
        .auto_reply
        .or_else(|| envelope.sender.and_then(email::loop_reason_for_envelope_sender));
    Ok(InboundMessage {
        channel: Channel::Email,
        provider,
        provider_message_id,
        from,
        to,
        subject: parsed.subject.filter(|s| !s.trim().is_empty()),
        body: parsed.new_text,
        attachments: parsed.attachments,
        language: None,
        received_at: now,
        // STOP and friends are SMS compliance words; in a mail they are just words.
        keyword: None,
        reply_token: None,
        email: Some(EmailDetails {
            message_id: parsed.message_id,
            in_reply_to: parsed.in_reply_to,
            references: parsed.references,
            cc: parsed.cc,
            quoted: quoted.trim().to_owned(),
            no_reply: no_reply.map(str::to_owned),
            flagged: envelope.flagged.map(str::to_owned),
        }),
    })
}

/// Parses raw MIME, refusing what is not a mail with a 400 that quotes nothing of it.
pub(crate) fn parse(raw: &[u8]) -> Result<ParsedEmail, WebhookError> {
    email::parse_mime(raw).map_err(|e| WebhookError::Malformed(e.to_string()))
}
