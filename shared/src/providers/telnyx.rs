//! Telnyx Messaging (API v2): inbound SMS/MMS webhooks (`/sms/telnyx`) and the Messages API.
//!
//! Webhook signature (<https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks>),
//! as Telnyx's SDKs check it (telnyx-python `lib/webhook_verification.py`, telnyx-go
//! `lib/webhook_verification.go`, telnyx-node `webhooks.constructEvent`):
//!
//! - `telnyx-signature-ed25519` is the base64 Ed25519 signature (64 bytes) of
//!   `{telnyx-timestamp}|{raw body}`, made with the account's key; the account's public key
//!   (Mission Control → Keys & Credentials → Public Key) verifies it. Only the exact bytes
//!   received verify, so the body is checked before it is parsed.
//! - `telnyx-timestamp` is in Unix seconds, and must be within five minutes of now in both
//!   directions (the SDKs' tolerance): a captured request cannot be replayed later, and a
//!   request signed "in the future" cannot be kept for later either.
//!
//! Payload: `{"data": {"event_type", "id", "payload": {...}}}`. `message.received` carries an
//! inbound SMS or MMS (`payload.id`, `from.phone_number`, `to[].phone_number`, `text`,
//! `media[]`). Every other event (`message.sent`, `message.finalized`, ...) is a receipt of
//! our own sends: answered 200, nothing stored. The dedup key is the message's `payload.id`,
//! the same in every retry of the event.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::{OutboundMessage, Provider, SendError, SendReceipt, Sender, json};
use crate::config::{ConfigError, Secret, TelnyxConfig};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::request::WebhookRequest;

const PROVIDER: &str = "telnyx";
const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
const JSON: &str = "application/json";
/// The variable holding the API key, named in configuration errors.
const API_KEY_VAR: &str = "TELNYX_API_KEY";
/// The event of an inbound message; every other event type is a receipt.
const INBOUND_EVENT: &str = "message.received";
/// How far the signed timestamp may be from now, either way (the SDKs' tolerance).
pub const REPLAY_WINDOW_SECONDS: i64 = 5 * 60;
/// An MMS carries at most 10 media items.
const MAX_MEDIA: usize = 10;
/// Telnyx message ids are UUIDs; anything longer is not one.
const MAX_ID_LEN: usize = 128;
/// A message webhook is a few kilobytes; 64 KiB leaves room for long texts and many media.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// An Ed25519 signature is 64 bytes; a longer header cannot hold one.
const SIGNATURE_LEN: usize = 64;

/// Telnyx's messaging webhook (`/sms/telnyx`).
pub struct Telnyx {
    public_key: aws_lc_rs::signature::ParsedPublicKey,
}

impl Telnyx {
    /// From configuration; `None` when the webhook's public key is not configured (the
    /// acknowledger's side). The key was checked when the configuration was read (32 bytes,
    /// not a weak key); it is parsed once here.
    pub fn new(config: &TelnyxConfig) -> Result<Option<Telnyx>, ConfigError> {
        let Some(key) = &config.public_key else {
            return Ok(None);
        };
        let public_key = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ED25519,
            key.as_bytes(),
        )
        .map_err(|e| ConfigError::Invalid {
            name: crate::config::TELNYX_PUBLIC_KEY,
            reason: format!("not an Ed25519 public key: {e}"),
        })?;
        Ok(Some(Telnyx { public_key }))
    }
}

impl Provider for Telnyx {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn max_body_bytes(&self) -> usize {
        MAX_BODY_BYTES
    }

    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        req.require_media_type(JSON)?;
        let claimed = req
            .header(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature("telnyx-signature-ed25519"))?;
        let timestamp = req
            .header(TIMESTAMP_HEADER)
            .ok_or(WebhookError::MissingSignature("telnyx-timestamp"))?;
        // Room for the decoder's estimate of 88 base64 characters (66 bytes); a longer header
        // overflows it and is refused like any wrong signature.
        let mut signature = [0u8; SIGNATURE_LEN + 3];
        let len = BASE64
            .decode_slice(claimed.trim(), &mut signature)
            .map_err(|_| WebhookError::BadSignature)?;
        if len != SIGNATURE_LEN {
            return Err(WebhookError::BadSignature);
        }
        // The header as sent is what was signed; it is read as a number only for the window.
        self.public_key
            .verify_sig(&signed_bytes(timestamp, &req.body), &signature[..len])
            .map_err(|_| WebhookError::BadSignature)?;
        // Checked after the signature, so an unsigned request learns nothing of our clock.
        let signed_at: i64 = timestamp.trim().parse().map_err(|_| WebhookError::Stale)?;
        if now.as_second().abs_diff(signed_at) > REPLAY_WINDOW_SECONDS.unsigned_abs() {
            return Err(WebhookError::Stale);
        }
        Ok(())
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        parse(&req.body, now)
    }
}

/// The `telnyx-signature-ed25519` of `body` sent at `timestamp` (Unix seconds), made with
/// the key pair of `seed` (base64, as in the header). For the local stack and tests only:
/// Telnyx holds the real key.
pub fn sign(seed: &[u8; 32], timestamp: &str, body: &[u8]) -> Result<String, ConfigError> {
    let signature = key_pair(seed)?.sign(&signed_bytes(timestamp, body));
    Ok(BASE64.encode(signature.as_ref()))
}

/// The public key (base64, as Mission Control shows it) of the key pair of `seed`.
pub fn public_key_of(seed: &[u8; 32]) -> Result<String, ConfigError> {
    use aws_lc_rs::signature::KeyPair;
    Ok(BASE64.encode(key_pair(seed)?.public_key().as_ref()))
}

fn key_pair(seed: &[u8; 32]) -> Result<aws_lc_rs::signature::Ed25519KeyPair, ConfigError> {
    aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| {
        ConfigError::Invalid {
            name: "Ed25519 seed",
            reason: e.to_string(),
        }
    })
}

/// What Telnyx signs: `{telnyx-timestamp}|{raw body}`.
fn signed_bytes(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    signed
}

/// The webhook, as far as it is read.
#[derive(Deserialize)]
struct Webhook<'a> {
    #[serde(borrow)]
    data: Option<Event<'a>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event_type: Option<std::borrow::Cow<'a, str>>,
    payload: Option<Value>,
}

/// The messages of a verified webhook: one for `message.received`, none for a receipt.
pub(crate) fn parse(body: &[u8], now: Timestamp) -> Result<Vec<InboundMessage>, WebhookError> {
    let webhook: Webhook<'_> = serde_json::from_slice(body).map_err(json::malformed)?;
    let event = webhook.data.ok_or(WebhookError::MissingField("data"))?;
    let event_type = event
        .event_type
        .ok_or(WebhookError::MissingField("data.event_type"))?;
    if event_type != INBOUND_EVENT {
        // message.sent, message.finalized, ...: receipts of our own sends.
        return Ok(Vec::new());
    }
    let payload = event
        .payload
        .as_ref()
        .and_then(Value::as_object)
        .ok_or(WebhookError::MissingField("data.payload"))?;
    let id = required(payload.get("id"), "data.payload.id")?;
    if id.len() > MAX_ID_LEN
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(WebhookError::Malformed(
            "data.payload.id is not a Telnyx message id".into(),
        ));
    }
    let from = required(
        payload.get("from").and_then(|f| f.get("phone_number")),
        "data.payload.from.phone_number",
    )?;
    // A group MMS lists several recipients; the first is our number.
    let to = required(
        payload
            .get("to")
            .and_then(Value::as_array)
            .and_then(|to| to.first())
            .and_then(|to| to.get("phone_number")),
        "data.payload.to.phone_number",
    )?;
    let text = match payload.get("text") {
        None | Some(Value::Null) => "",
        Some(Value::String(text)) => text,
        Some(_) => {
            return Err(WebhookError::Malformed(
                "data.payload.text is not a string".into(),
            ));
        }
    };
    Ok(vec![InboundMessage {
        channel: Channel::Sms,
        provider: PROVIDER,
        provider_message_id: id.to_owned(),
        from: Party {
            address: from.to_owned(),
            name: None,
        },
        to: to.to_owned(),
        subject: None,
        body: text.to_owned(),
        attachments: media(payload.get("media")),
        language: None,
        received_at: now,
        // The pipeline classifies STOP/START/HELP centrally; Telnyx has no keyword flag.
        keyword: None,
        reply_token: None,
        email: None,
    }])
}

/// The MMS media kept as attachments (URL, type and size; the files stay at Telnyx).
/// Items without a URL, or of the wrong shape, are left out rather than refusing the message.
fn media(value: Option<&Value>) -> Vec<Attachment> {
    let Some(items) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let url = json::string(item.get("url")).filter(|u| !u.trim().is_empty())?;
            Some(Attachment {
                url: Some(url.to_owned()),
                content_type: json::string(item.get("content_type")).map(str::to_owned),
                name: None,
                size: item.get("size").and_then(Value::as_u64),
            })
        })
        .take(MAX_MEDIA)
        .collect()
}

/// A required, non-empty string.
fn required<'v>(value: Option<&'v Value>, field: &'static str) -> Result<&'v str, WebhookError> {
    match value {
        None | Some(Value::Null) => Err(WebhookError::MissingField(field)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(WebhookError::MissingField(field)),
        Some(Value::String(s)) => Ok(s.trim()),
        Some(_) => Err(WebhookError::Malformed(format!("{field} is not a string"))),
    }
}

/// Telnyx's Messages API (`POST /v2/messages`, Bearer API key).
pub struct TelnyxSender {
    endpoint: String,
    api_key: Secret,
    messaging_profile_id: Option<String>,
    http: reqwest::Client,
}

impl TelnyxSender {
    /// From configuration, with a client built once per cold start; `None` without an API
    /// key (the webhook's side), refused when it is blank.
    pub fn new(
        config: &TelnyxConfig,
        http: reqwest::Client,
    ) -> Result<Option<TelnyxSender>, ConfigError> {
        let Some(api_key) = &config.api_key else {
            return Ok(None);
        };
        Ok(Some(TelnyxSender {
            endpoint: format!(
                "{}/v2/messages",
                config.api_base_url.as_str().trim_end_matches('/')
            ),
            api_key: api_key.require(API_KEY_VAR)?.clone(),
            messaging_profile_id: config.messaging_profile_id.clone(),
            http,
        }))
    }

    /// The JSON body of the send.
    fn body(&self, message: &OutboundMessage) -> Value {
        let mut body = serde_json::json!({
            "from": message.from,
            "to": message.to,
            "text": message.body,
        });
        if let Some(profile) = &self.messaging_profile_id {
            body["messaging_profile_id"] = Value::String(profile.clone());
        }
        body
    }
}

/// Telnyx's answer: `{"data": {"id": ...}}` on success, `{"errors": [{"code", "title",
/// "detail"}]}` on failure.
#[derive(Deserialize)]
struct TelnyxAnswer {
    data: Option<SentMessage>,
    #[serde(default)]
    errors: Vec<ApiError>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<Value>,
    title: Option<String>,
    detail: Option<String>,
}

impl Sender for TelnyxSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(&self.endpoint)
                .bearer_auth(self.api_key.expose())
                .json(&self.body(message))
                .send()
                .await
                .map_err(|e| {
                    SendError::Retryable(format!("Telnyx unreachable: {}", e.without_url()))
                })?;
            let status = response.status().as_u16();
            let answer: Option<TelnyxAnswer> = response.json().await.ok();
            if (200..300).contains(&status) {
                return Ok(SendReceipt {
                    provider_message_id: answer.and_then(|a| a.data?.id),
                    thread_id: None,
                });
            }
            let (code, reason) = match answer.and_then(|a| a.errors.into_iter().next()) {
                Some(error) => (
                    error.code.map(|c| match c {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }),
                    [error.title, error.detail]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": "),
                ),
                None => (None, String::new()),
            };
            Err(super::classify_status(status, code, reason))
        })
    }
}

#[cfg(test)]
#[path = "telnyx_tests.rs"]
mod tests;
