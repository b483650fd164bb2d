//! Postmark inbound webhooks (`POST /email/postmark`, JSON).
//!
//! Postmark signs nothing; the webhook URL carries HTTP Basic credentials
//! (`https://user:password@.../email/postmark`), compared in constant time. When the server
//! is set to include the raw email (`RawEmail`), that MIME is parsed as it arrived; otherwise
//! the JSON fields are rebuilt into a small mail so both paths read threading ids and loop
//! markers with the same parser.

use base64::Engine;
use jiff::Timestamp;
use serde::Deserialize;

use super::mail::{self, Envelope};
use super::{Provider, json};
use crate::config::{BasicCredentials, ConfigError};
use crate::error::WebhookError;
use crate::model::{Attachment, Channel, InboundMessage};
use crate::request::WebhookRequest;
use crate::verify::check_basic_auth;

/// Route name.
pub const PROVIDER: &str = "postmark";

/// Postmark inbound.
pub struct Postmark {
    credentials: BasicCredentials,
}

impl Postmark {
    /// With the credentials embedded in the configured webhook URL; refused when they are
    /// blank (anyone could send them).
    pub fn new(credentials: &BasicCredentials) -> Result<Postmark, ConfigError> {
        Ok(Postmark {
            credentials: credentials.require("POSTMARK_BASIC_AUTH")?.clone(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Inbound {
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
    from_full: Option<Address>,
    to_full: Vec<Address>,
    cc_full: Vec<Address>,
    original_recipient: Option<String>,
    subject: Option<String>,
    date: Option<String>,
    text_body: Option<String>,
    html_body: Option<String>,
    headers: Vec<Header>,
    attachments: Vec<PostmarkAttachment>,
    raw_email: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Address {
    email: String,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Header {
    name: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PostmarkAttachment {
    name: Option<String>,
    content_type: Option<String>,
    content_length: Option<u64>,
    content: Option<String>,
}

impl Provider for Postmark {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn max_body_bytes(&self) -> usize {
        mail::MAX_BODY_BYTES
    }

    fn verify(&self, req: &WebhookRequest, _now: Timestamp) -> Result<(), WebhookError> {
        check_basic_auth(req.header("authorization"), &self.credentials)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        req.require_media_type("application/json")?;
        let inbound: Inbound = serde_json::from_slice(&req.body).map_err(json::malformed)?;
        let recipient = inbound
            .original_recipient
            .clone()
            .filter(|r| r.contains('@'));
        let (raw, from_fields) = match inbound.raw_email.as_deref().filter(|r| !r.is_empty()) {
            Some(raw) => (raw.as_bytes().to_vec(), false),
            None => (rebuild(&inbound), true),
        };
        let mut parsed = mail::parse(&raw)?;
        if from_fields {
            // The rebuilt mail has no attachment bodies; Postmark's metadata says what came.
            parsed.attachments = inbound.attachments.iter().map(attachment).collect();
        }
        let envelope = Envelope {
            provider_id: inbound.message_id.as_deref().filter(|id| !id.is_empty()),
            recipient: recipient.as_deref(),
            sender: None,
            flagged: spam_verdict(&inbound.headers),
        };
        Ok(vec![mail::inbound(PROVIDER, parsed, envelope, &raw, now)?])
    }
}

/// The JSON fields as one MIME mail: the original headers, then From/To/Cc/Subject/Date
/// where the headers lack them, and the text (or else the HTML) body.
fn rebuild(inbound: &Inbound) -> Vec<u8> {
    let headers: Vec<(String, String)> = inbound
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    let to: Vec<String> = inbound.to_full.iter().map(display).collect();
    let cc: Vec<String> = inbound.cc_full.iter().map(display).collect();
    let defaults = [
        ("From", inbound.from_full.as_ref().map(display)),
        ("To", (!to.is_empty()).then(|| to.join(", "))),
        ("Cc", (!cc.is_empty()).then(|| cc.join(", "))),
        ("Subject", inbound.subject.clone()),
        ("Date", inbound.date.clone()),
    ];
    mail::rebuild(
        &headers,
        &defaults,
        inbound.text_body.as_deref().unwrap_or("").as_bytes(),
        inbound.html_body.as_deref().unwrap_or("").as_bytes(),
        "utf-8",
    )
}

/// Postmark runs SpamAssassin on inbound mail and reports `X-Spam-Status: Yes, ...`.
fn spam_verdict(headers: &[Header]) -> Option<&'static str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("X-Spam-Status"))
        .filter(|h| h.value.trim_start().to_ascii_lowercase().starts_with("yes"))
        .map(|_| "spam")
}

fn display(a: &Address) -> String {
    match a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("\"{}\" <{}>", name.replace(['"', '\\'], ""), a.email.trim()),
        None => a.email.trim().to_owned(),
    }
}

fn attachment(a: &PostmarkAttachment) -> Attachment {
    Attachment {
        url: None,
        content_type: a.content_type.clone(),
        name: a.name.clone(),
        size: a.content_length.or_else(|| {
            let content = a.content.as_deref()?;
            base64::engine::general_purpose::STANDARD
                .decode(content.trim())
                .ok()
                .map(|b| b.len() as u64)
        }),
    }
}

#[cfg(test)]
#[path = "postmark_tests.rs"]
mod tests;
