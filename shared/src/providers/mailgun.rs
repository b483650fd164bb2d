//! Mailgun inbound routes (`POST /email/mailgun`): a route's `forward()` action posts each
//! mail as a form (urlencoded, or multipart with attachments). A route URL ending in `mime`
//! makes Mailgun send the whole mail as `body-mime`; otherwise its parsed fields, with the
//! original headers in `message-headers`.
//!
//! Trust: `signature` is the hex HMAC-SHA256 of `timestamp + token` under the webhook
//! signing key. A timestamp more than five minutes away is refused, and so is a token already
//! used for another mail (a one-time claim in the table, kept for an hour): a captured
//! request cannot be replayed with another body, nor later.

use jiff::Timestamp;

use super::mail::{self, Envelope, Form};
use super::{Provider, Received};
use crate::config::{ConfigError, Secret};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Channel, InboundMessage};
use crate::request::WebhookRequest;
use crate::store::Store;
use crate::verify::{check_signature, hex, hmac_sha256};

/// Route name.
pub const PROVIDER: &str = "mailgun";

/// How far a signed timestamp may be from now.
pub const REPLAY_WINDOW_SECONDS: i64 = 5 * 60;

/// How long a used token is remembered (well past the window it could be accepted in).
const TOKEN_TTL_SECONDS: i64 = 60 * 60;

/// Mailgun routes.
pub struct Mailgun {
    signing_key: Secret,
}

impl Mailgun {
    /// With the account's HTTP webhook signing key; refused when it is blank (it would
    /// verify any form).
    pub fn new(signing_key: &Secret) -> Result<Mailgun, ConfigError> {
        Ok(Mailgun {
            signing_key: signing_key.require("MAILGUN_SIGNING_KEY")?.clone(),
        })
    }

    fn check(&self, form: &Form, now: Timestamp) -> Result<(), WebhookError> {
        let timestamp = form
            .text("timestamp")
            .ok_or(WebhookError::MissingSignature("timestamp"))?;
        let token = form
            .text("token")
            .ok_or(WebhookError::MissingSignature("token"))?;
        let signature = form
            .text("signature")
            .ok_or(WebhookError::MissingSignature("signature"))?;
        let expected = hex(&hmac_sha256(
            self.signing_key.expose().as_bytes(),
            &[timestamp.as_bytes(), token.as_bytes()],
        ));
        check_signature(
            expected.as_bytes(),
            signature.trim().to_ascii_lowercase().as_bytes(),
        )?;
        let signed_at: i64 = timestamp.trim().parse().map_err(|_| WebhookError::Stale)?;
        if (now.as_second() - signed_at).abs() > REPLAY_WINDOW_SECONDS {
            return Err(WebhookError::Stale);
        }
        Ok(())
    }

    fn read(&self, form: &Form, now: Timestamp) -> Result<InboundMessage, WebhookError> {
        let (raw, parsed_from_fields) = match form.bytes("body-mime") {
            Some(mime) => (mime.to_vec(), false),
            None => (rebuild(form)?, true),
        };
        let mut parsed = mail::parse(&raw)?;
        if parsed_from_fields {
            parsed.attachments = form.files().collect();
        }
        let envelope = Envelope {
            provider_id: None,
            recipient: form.text("recipient").and_then(|r| r.split(',').next()),
            // An empty sender is a bounce, not a missing field.
            sender: form
                .bytes("sender")
                .and_then(|b| std::str::from_utf8(b).ok()),
            flagged: form
                .text("X-Mailgun-Sflag")
                .filter(|f| f.trim().eq_ignore_ascii_case("yes"))
                .map(|_| "spam"),
        };
        mail::inbound(PROVIDER, parsed, envelope, &raw, now)
    }
}

impl Provider for Mailgun {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn max_body_bytes(&self) -> usize {
        mail::MAX_BODY_BYTES
    }

    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        self.check(&Form::read(req)?, now)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        Ok(vec![self.read(&Form::read(req)?, now)?])
    }

    fn receive<'a>(
        &'a self,
        req: &'a WebhookRequest,
        now: Timestamp,
        store: &'a Store,
    ) -> BoxFuture<'a, Result<Received, WebhookError>> {
        Box::pin(async move {
            let form = Form::read(req)?;
            self.check(&form, now)?;
            let message = self.read(&form, now)?;
            let token = form
                .text("token")
                .ok_or(WebhookError::MissingSignature("token"))?;
            // The same mail retried after a failure further on holds the claim already.
            let claim = store
                .claim_once(
                    PROVIDER,
                    token,
                    &message.dedup_key(),
                    now,
                    TOKEN_TTL_SECONDS,
                )
                .await?;
            if !claim.is_ours() {
                return Err(WebhookError::Replayed);
            }
            Ok(Received::Messages(vec![message]))
        })
    }
}

/// The parsed fields as one mail: `message-headers` is a JSON list of `[name, value]` pairs.
fn rebuild(form: &Form) -> Result<Vec<u8>, WebhookError> {
    let headers: Vec<(String, String)> = match form.text("message-headers") {
        Some(json) => serde_json::from_str::<Vec<(String, String)>>(json).map_err(|_| {
            WebhookError::Malformed("message-headers is not a list of pairs".into())
        })?,
        None => Vec::new(),
    };
    let field = |name: &str| form.text(name).map(str::to_owned);
    let defaults = [
        ("From", field("from")),
        ("To", field("To").or_else(|| field("recipient"))),
        ("Subject", field("subject")),
        ("Message-Id", field("Message-Id")),
        ("In-Reply-To", field("In-Reply-To")),
        ("References", field("References")),
    ];
    Ok(mail::rebuild(
        &headers,
        &defaults,
        form.bytes("body-plain").unwrap_or(b""),
        form.bytes("body-html").unwrap_or(b""),
        "utf-8",
    ))
}

#[cfg(test)]
#[path = "mailgun_tests.rs"]
mod tests;
