//! SendGrid Inbound Parse (`POST /email/sendgrid`, multipart/form-data).
//!
//! SendGrid signs nothing it parses, so the webhook URL carries HTTP Basic credentials
//! (`https://user:password@.../email/sendgrid`), compared in constant time. With "POST the
//! raw, full MIME message" on, the mail arrives whole in `email`; otherwise as parsed fields,
//! with the original header block in `headers` and each field's charset in `charsets`.

use jiff::Timestamp;
use serde::Deserialize;

use super::Provider;
use super::mail::{self, Envelope, Form};
use crate::config::{BasicCredentials, ConfigError};
use crate::error::WebhookError;
use crate::model::{Channel, InboundMessage};
use crate::request::WebhookRequest;
use crate::verify::check_basic_auth;

/// Route name.
pub const PROVIDER: &str = "sendgrid";

/// SpamAssassin's default threshold: a `spam_score` at or above it flags the mail.
const SPAM_THRESHOLD: f64 = 5.0;

/// SendGrid Inbound Parse.
pub struct SendGrid {
    credentials: BasicCredentials,
}

impl SendGrid {
    /// With the credentials embedded in the configured Parse URL; refused when they are
    /// blank (anyone could send them).
    pub fn new(credentials: &BasicCredentials) -> Result<SendGrid, ConfigError> {
        Ok(SendGrid {
            credentials: credentials.require("SENDGRID_BASIC_AUTH")?.clone(),
        })
    }
}

/// The SMTP envelope SendGrid reports as JSON.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SmtpEnvelope {
    to: Vec<String>,
    from: Option<String>,
}

impl Provider for SendGrid {
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
        req.require_media_type("multipart/form-data")?;
        let form = Form::read(req)?;
        let (raw, parsed_from_fields) = match form.bytes("email") {
            Some(mime) => (mime.to_vec(), false),
            None => (rebuild(&form)?, true),
        };
        let mut parsed = mail::parse(&raw)?;
        if parsed_from_fields {
            parsed.attachments = form.files().collect();
        }
        let smtp: SmtpEnvelope = form
            .text("envelope")
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or_default();
        let flagged = form
            .text("spam_score")
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|score| *score >= SPAM_THRESHOLD)
            .map(|_| "spam");
        let envelope = Envelope {
            provider_id: None,
            recipient: smtp.to.first().map(String::as_str),
            sender: smtp.from.as_deref(),
            flagged,
        };
        Ok(vec![mail::inbound(PROVIDER, parsed, envelope, &raw, now)?])
    }
}

/// The parsed fields as one mail: the original header block, then the text (or HTML) body
/// in the charset SendGrid reports for it.
fn rebuild(form: &Form) -> Result<Vec<u8>, WebhookError> {
    let block = form
        .text("headers")
        .ok_or(WebhookError::MissingField("headers"))?;
    let charsets: std::collections::HashMap<String, String> = form
        .text("charsets")
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let text = form.bytes("text").unwrap_or(b"");
    let html = form.bytes("html").unwrap_or(b"");
    let body_field = if text.iter().all(u8::is_ascii_whitespace) && !html.is_empty() {
        "html"
    } else {
        "text"
    };
    let charset = charsets
        .get(body_field)
        .map(String::as_str)
        .unwrap_or("utf-8");
    let field = |name: &str| form.text(name).map(str::to_owned);
    let defaults = [
        ("From", field("from")),
        ("To", field("to")),
        ("Cc", field("cc")),
        ("Subject", field("subject")),
    ];
    Ok(mail::rebuild(
        &header_block(block),
        &defaults,
        text,
        html,
        charset,
    ))
}

/// A raw header block as `(name, value)` pairs, folded lines joined.
fn header_block(block: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    headers
}

#[cfg(test)]
#[path = "sendgrid_tests.rs"]
mod tests;
