//! The SES receipt notification SNS delivers (`notificationType: Received`): its envelope,
//! scan verdicts and action, the inline mail decoded, and the mail as a message.

use base64::Engine;
use jiff::Timestamp;
use serde::Deserialize;

use super::PROVIDER;
use crate::error::WebhookError;
use crate::model::InboundMessage;
use crate::providers::json;
use crate::providers::mail::{self, Envelope};

/// The `Message` of an SES receipt notification (`notificationType: Received`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesNotification {
    /// `Received` for mail; bounce and complaint notifications carry nothing to store.
    pub notification_type: String,
    /// Envelope and headers SES read.
    #[serde(default)]
    pub mail: SesMail,
    /// What the receipt rule did and decided.
    #[serde(default)]
    pub receipt: SesReceipt,
    /// The raw mail, when the SNS action carried it (UTF-8 or Base64, per the action).
    #[serde(default)]
    pub content: Option<String>,
}

/// `mail` of a receipt notification.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SesMail {
    /// SES's id of the mail (also the S3 object key by default).
    pub message_id: String,
    /// SMTP `MAIL FROM`; empty for bounces.
    pub source: Option<String>,
}

/// `receipt` of a receipt notification.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SesReceipt {
    /// The recipients the rule matched: our inboxes.
    pub recipients: Vec<String>,
    /// Spam scan verdict.
    pub spam_verdict: Option<Verdict>,
    /// Virus scan verdict.
    pub virus_verdict: Option<Verdict>,
    /// The action that published this notification.
    pub action: SesAction,
}

/// A scan verdict.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Verdict {
    /// `PASS`, `FAIL`, `GRAY` or `PROCESSING_FAILED`.
    pub status: String,
}

/// The receipt rule action.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SesAction {
    /// `SNS` (content inline) or `S3` (content in a bucket).
    #[serde(rename = "type")]
    pub kind: String,
    /// `UTF8` or `BASE64` (SNS action).
    pub encoding: Option<String>,
    /// Bucket (S3 action).
    pub bucket_name: Option<String>,
    /// Object key (S3 action).
    pub object_key: Option<String>,
}

impl SesNotification {
    /// Reads the SNS `Message` of a receipt notification.
    pub fn parse(message: &str) -> Result<SesNotification, WebhookError> {
        serde_json::from_str(message).map_err(json::malformed)
    }

    /// The notification of a received mail; `None` for bounce, complaint and delivery
    /// notifications published to the same topic, which carry no mail.
    pub fn received(message: &str) -> Result<Option<SesNotification>, WebhookError> {
        let notification = SesNotification::parse(message)?;
        Ok((notification.notification_type == "Received").then_some(notification))
    }

    /// The verdict that flags the mail: a virus first, then spam.
    pub fn flagged(&self) -> Option<&'static str> {
        let failed = |v: &Option<Verdict>| v.as_ref().is_some_and(|v| v.status == "FAIL");
        if failed(&self.receipt.virus_verdict) {
            Some("virus")
        } else if failed(&self.receipt.spam_verdict) {
            Some("spam")
        } else {
            None
        }
    }

    /// The inline mail, decoded; `None` when the rule stored it in S3 instead.
    pub fn inline_content(&self) -> Result<Option<Vec<u8>>, WebhookError> {
        let Some(content) = &self.content else {
            return Ok(None);
        };
        match self.receipt.action.encoding.as_deref() {
            Some(e) if e.eq_ignore_ascii_case("base64") => {
                // SES sends one unbroken line; only folded content needs compacting first.
                let decoded = if content.bytes().any(|b| b.is_ascii_whitespace()) {
                    let compact: String = content.split_ascii_whitespace().collect();
                    base64::engine::general_purpose::STANDARD.decode(compact)
                } else {
                    base64::engine::general_purpose::STANDARD.decode(content)
                };
                decoded
                    .map(Some)
                    .map_err(|_| WebhookError::Malformed("content is not base64".into()))
            }
            _ => Ok(Some(content.as_bytes().to_vec())),
        }
    }

    /// Where the rule stored the mail, for an S3 action.
    pub fn s3_location(&self) -> Option<(&str, &str)> {
        let action = &self.receipt.action;
        Some((
            action.bucket_name.as_deref()?,
            action.object_key.as_deref()?,
        ))
    }
}

/// A received mail as a message, with SES's envelope and verdicts.
pub fn inbound_mail(
    notification: &SesNotification,
    raw: &[u8],
    now: Timestamp,
) -> Result<InboundMessage, WebhookError> {
    let parsed = mail::parse(raw)?;
    let envelope = Envelope {
        provider_id: Some(notification.mail.message_id.as_str()).filter(|id| !id.is_empty()),
        recipient: notification.receipt.recipients.first().map(String::as_str),
        sender: notification.mail.source.as_deref(),
        flagged: notification.flagged(),
    };
    mail::inbound(PROVIDER, parsed, envelope, raw, now)
}
