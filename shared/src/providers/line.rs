//! LINE Messaging API: webhook events (`/social/line`), reply and push.
//!
//! References: <https://developers.line.biz/en/reference/messaging-api/> and the official
//! OpenAPI definitions in <https://github.com/line/line-openapi> (`webhook.yml`,
//! `messaging-api.yml`).
//!
//! - Signature: `x-line-signature` is base64(HMAC-SHA256(channel secret, raw body))
//!   (<https://developers.line.biz/en/docs/messaging-api/verify-webhook-signature/>). Only
//!   the exact bytes received verify, so the body is checked before it is parsed.
//! - Batches: `{"destination": <bot user id>, "events": [...]}`. Every event is read; only
//!   `message` events from a one-to-one chat (`source.type == "user"`) are customer
//!   messages. Follow, unfollow, postback, join, unsend, group and room events are dropped,
//!   and the console's "Verify" call (`"events": []`) is answered 200 with nothing stored.
//! - Ids: `webhookEventId` (a ULID, the same on redelivery) is the dedup key; the message id
//!   stays in the attachment URL (`line-content:<id>`, served by
//!   `GET https://api-data.line.me/v2/bot/message/{id}/content`). The customer is
//!   `line:<userId>`, our side `line:<destination>`.
//! - Acks: the free reply API while the event's `replyToken` is young, else a push (which
//!   counts against the channel's monthly message quota) with an `X-Line-Retry-Key`, so a
//!   retried push is delivered at most once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{OutboundMessage, Provider, SendError, SendReceipt, Sender, json};
use crate::config::{ConfigError, LineConfig, Secret};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::request::WebhookRequest;
use crate::verify::{check_signature, hmac_sha256};

const PROVIDER: &str = "line";
const SIGNATURE_HEADER: &str = "x-line-signature";
const JSON: &str = "application/json";
const MAX_BODY_BYTES: usize = 1024 * 1024;
const RETRY_KEY_HEADER: &str = "X-Line-Retry-Key";
/// How long after the customer wrote we still try the reply token. LINE's reference says a
/// reply token must be used within one minute of receiving the webhook and that later use
/// is not guaranteed ("応答トークンは、Webhookを受信してから1分以内に使用する必要があります",
/// <https://developers.line.biz/ja/reference/messaging-api/#send-reply-message>); we stop
/// ten seconds short of that, and fall back to a push when LINE refuses the token anyway.
const REPLY_WINDOW: SignedDuration = SignedDuration::from_secs(50);
/// Between the clock that chose reply or push and the claim's timestamp: an attempt claimed
/// this much past [`REPLY_WINDOW`] surely pushed.
const CLAIM_SLACK: SignedDuration = SignedDuration::from_secs(15);
/// LINE keeps a retry key for 24 hours after the first request
/// (<https://developers.line.biz/en/docs/messaging-api/retrying-api-request/>); an hour
/// short of it, a re-sent push is still refused if the first was accepted.
const RETRY_KEY_LIFETIME: SignedDuration = SignedDuration::from_hours(23);

/// LINE's webhook (`/social/line`).
pub struct Line {
    channel_secret: Secret,
}

impl Line {
    /// From configuration; `None` when the channel secret is not configured, refused when it
    /// is blank (it would verify any body).
    pub fn new(config: &LineConfig) -> Result<Option<Line>, ConfigError> {
        config
            .channel_secret
            .as_ref()
            .map(|secret| {
                Ok(Line {
                    channel_secret: secret.require("LINE_CHANNEL_SECRET")?.clone(),
                })
            })
            .transpose()
    }
}

/// The `x-line-signature` of `body` (base64, as in the header).
pub fn signature(channel_secret: &str, body: &[u8]) -> String {
    BASE64.encode(hmac_sha256(channel_secret.as_bytes(), &[body]))
}

impl Provider for Line {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Social
    }

    fn max_body_bytes(&self) -> usize {
        MAX_BODY_BYTES
    }

    fn verify(&self, req: &WebhookRequest, _now: Timestamp) -> Result<(), WebhookError> {
        req.require_media_type(JSON)?;
        let header = req
            .headers
            .get(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature("X-Line-Signature"))?;
        let claimed = BASE64
            .decode(header.as_bytes().trim_ascii())
            .map_err(|_| WebhookError::BadSignature)?;
        let expected = hmac_sha256(self.channel_secret.expose().as_bytes(), &[&req.body]);
        check_signature(&expected, &claimed)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let root = json::object(&req.body)?;
        let destination = required(root.get("destination"), "destination")?;
        let events = match root.get("events") {
            None | Some(Value::Null) => return Err(WebhookError::MissingField("events")),
            Some(Value::Array(events)) => events,
            Some(_) => return Err(WebhookError::Malformed("events is not an array".into())),
        };
        let mut out = Vec::new();
        for event in events {
            let event = event
                .as_object()
                .ok_or_else(|| WebhookError::Malformed("an event is not an object".into()))?;
            if let Some(message) = message_event(event, destination, now)? {
                out.push(message);
            }
        }
        Ok(out)
    }
}

/// One event → a customer message, or `None` for every other kind of event.
fn message_event(
    event: &Map<String, Value>,
    destination: &str,
    now: Timestamp,
) -> Result<Option<InboundMessage>, WebhookError> {
    if event.get("type").and_then(Value::as_str) != Some("message") {
        // follow, unfollow, postback, join, leave, unsend, memberJoined, beacon, ...
        return Ok(None);
    }
    let source = event
        .get("source")
        .and_then(Value::as_object)
        .ok_or(WebhookError::MissingField("events.source"))?;
    if source.get("type").and_then(Value::as_str) != Some("user") {
        // Group chats and multi-person rooms are not support conversations.
        return Ok(None);
    }
    let user_id = required(source.get("userId"), "events.source.userId")?;
    let event_id = required(event.get("webhookEventId"), "events.webhookEventId")?;
    let message = event
        .get("message")
        .and_then(Value::as_object)
        .ok_or(WebhookError::MissingField("events.message"))?;
    let message_id = required(message.get("id"), "events.message.id")?;
    let (body, attachments) = content(message, message_id);
    if body.trim().is_empty() && attachments.is_empty() {
        // A message type this adapter does not know yet, with nothing to show.
        return Ok(None);
    }
    let redelivered = event
        .get("deliveryContext")
        .and_then(|c| c.get("isRedelivery"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // A redelivered event arrives long after its reply token was issued: push instead.
    // (Events in `standby` mode carry no reply token at all.)
    let reply_token = json::string(event.get("replyToken"))
        .filter(|t| !redelivered && !t.trim().is_empty())
        .map(str::to_owned);
    Ok(Some(InboundMessage {
        channel: Channel::Social,
        provider: PROVIDER,
        provider_message_id: event_id.to_owned(),
        from: Party {
            address: format!("{PROVIDER}:{user_id}"),
            // The webhook has no profile; the name is one more API call away.
            name: None,
        },
        to: format!("{PROVIDER}:{destination}"),
        subject: None,
        body,
        attachments,
        language: None,
        received_at: now,
        keyword: None,
        reply_token,
        email: None,
    }))
}

/// Text and attachment metadata of one message object. Optional fields of the wrong type are
/// left out rather than refusing the batch.
fn content(message: &Map<String, Value>, message_id: &str) -> (String, Vec<Attachment>) {
    let kind = json::string(message.get("type")).unwrap_or_default();
    match kind {
        "text" => (
            json::string(message.get("text"))
                .unwrap_or_default()
                .to_owned(),
            Vec::new(),
        ),
        "image" | "video" | "audio" | "file" => {
            let provider = message.get("contentProvider");
            // Content sent through LINE is fetched from the content API by message id; an
            // `external` provider names its own URL.
            let url = match provider.and_then(|p| json::string(p.get("type"))) {
                Some("external") => provider
                    .and_then(|p| json::string(p.get("originalContentUrl")))
                    .map(str::to_owned),
                _ => None,
            }
            .unwrap_or_else(|| format!("line-content:{message_id}"));
            let attachment = Attachment {
                url: Some(url),
                content_type: Some(kind.to_owned()),
                name: json::string(message.get("fileName")).map(str::to_owned),
                size: message.get("fileSize").and_then(Value::as_u64),
            };
            (String::new(), vec![attachment])
        }
        "sticker" => {
            // Message stickers carry the words the customer typed on them.
            let text = json::string(message.get("text"))
                .unwrap_or_default()
                .to_owned();
            let ids = [message.get("packageId"), message.get("stickerId")]
                .into_iter()
                .map(|v| json::string(v).unwrap_or("?"))
                .collect::<Vec<_>>()
                .join("/");
            let sticker = Attachment {
                url: None,
                content_type: Some("sticker".into()),
                name: Some(format!("sticker {ids}")),
                size: None,
            };
            (text, vec![sticker])
        }
        "location" => {
            let words: Vec<&str> = [message.get("title"), message.get("address")]
                .into_iter()
                .filter_map(json::string)
                .filter(|w| !w.trim().is_empty())
                .collect();
            let coordinate = |k: &str| message.get(k).and_then(Value::as_f64);
            let at = match (coordinate("latitude"), coordinate("longitude")) {
                (Some(lat), Some(lon)) => format!("({lat}, {lon})"),
                _ => String::new(),
            };
            let text = format!("📍 {} {at}", words.join(", ")).trim().to_owned();
            (text, Vec::new())
        }
        _ => (String::new(), Vec::new()),
    }
}

/// A required, non-empty string.
fn required<'v>(value: Option<&'v Value>, field: &'static str) -> Result<&'v str, WebhookError> {
    match value {
        None | Some(Value::Null) => Err(WebhookError::MissingField(field)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(WebhookError::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(WebhookError::Malformed(format!("{field} is not a string"))),
    }
}

/// LINE's reply (`POST /v2/bot/message/reply`) and push (`POST /v2/bot/message/push`) APIs.
pub struct LineSender {
    reply_url: String,
    push_url: String,
    access_token: Secret,
    http: reqwest::Client,
}

impl LineSender {
    /// From configuration, with a client built once per cold start; `None` without an
    /// access token, refused when it is blank.
    pub fn new(
        config: &LineConfig,
        http: reqwest::Client,
    ) -> Result<Option<LineSender>, ConfigError> {
        let Some(token) = &config.access_token else {
            return Ok(None);
        };
        let base = config.api_base_url.as_str().trim_end_matches('/');
        Ok(Some(LineSender {
            reply_url: format!("{base}/v2/bot/message/reply"),
            push_url: format!("{base}/v2/bot/message/push"),
            access_token: token.require("LINE_CHANNEL_ACCESS_TOKEN")?.clone(),
            http,
        }))
    }

    /// POSTs `body`; `(status, decoded answer)`, or a retryable error when LINE is not
    /// reached.
    async fn post(
        &self,
        url: &str,
        body: &Value,
        retry_key: Option<&str>,
    ) -> Result<(u16, Option<LineAnswer>), SendError> {
        let mut request = self
            .http
            .post(url)
            .bearer_auth(self.access_token.expose())
            .json(body);
        if let Some(key) = retry_key {
            request = request.header(RETRY_KEY_HEADER, key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| SendError::Retryable(format!("LINE unreachable: {}", e.without_url())))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| {
            SendError::Retryable(format!(
                "LINE answer unreadable (HTTP {status}): {}",
                e.without_url()
            ))
        })?;
        Ok((status, serde_json::from_slice(&bytes).ok()))
    }
}

/// The reply token to use for `message`, if it is still young enough.
fn usable_reply_token(message: &OutboundMessage) -> Option<&str> {
    let token = message
        .reply_token
        .as_deref()
        .filter(|t| !t.trim().is_empty())?;
    let age = message.now.duration_since(message.customer_wrote_at);
    (age < REPLY_WINDOW).then_some(token)
}

fn text_messages(body: &str) -> Value {
    json!([{ "type": "text", "text": body }])
}

fn reply_body(reply_token: &str, body: &str) -> Value {
    json!({ "replyToken": reply_token, "messages": text_messages(body) })
}

fn push_body(user_id: &str, body: &str) -> Value {
    json!({ "to": user_id, "messages": text_messages(body) })
}

/// The LINE user id in a `line:<userId>` address.
fn push_target(address: &str) -> Result<&str, SendError> {
    address
        .strip_prefix("line:")
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| SendError::Permanent {
            code: "bad_address".into(),
            reason: "not a line:<user id> address".into(),
        })
}

/// The `X-Line-Retry-Key` for the push answering `in_reply_to`: LINE wants a hex UUID, and a
/// retried ack must present the same one, so it is derived rather than drawn — the first 16
/// bytes of SHA-256(`in_reply_to`) with the version (5) and variant (RFC 4122) bits set.
fn retry_key(in_reply_to: &str) -> String {
    let digest = Sha256::digest(in_reply_to.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// LINE's answer to a send: `sentMessages` on success, `message` (+ `details`) on error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineAnswer {
    message: Option<String>,
    #[serde(default)]
    details: Vec<ErrorDetail>,
    #[serde(default)]
    sent_messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    property: Option<String>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: Option<String>,
}

fn receipt(answer: Option<LineAnswer>) -> SendReceipt {
    SendReceipt {
        provider_message_id: answer.and_then(|a| a.sent_messages.into_iter().next()?.id),
        thread_id: None,
    }
}

fn reason(answer: Option<LineAnswer>) -> String {
    let Some(answer) = answer else {
        return String::new();
    };
    let mut reason = answer.message.unwrap_or_default();
    for detail in answer.details {
        let part = match (detail.property, detail.message) {
            (Some(p), Some(m)) => format!("{p}: {m}"),
            (None, Some(m)) => m,
            (Some(p), None) => p,
            (None, None) => continue,
        };
        reason = format!("{reason}; {part}");
    }
    reason
}

/// LINE answers a used or expired reply token with 400 `{"message": "Invalid reply token"}`.
fn is_invalid_reply_token(status: u16, reason: &str) -> bool {
    status == 400 && reason.to_ascii_lowercase().contains("invalid reply token")
}

impl Sender for LineSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    /// A push carries the retry key derived from the message it answers, so sending it again
    /// is refused (409, recorded as sent) if the first reached LINE. A reply carries none:
    /// an attempt claimed while the reply token was young is never sent again.
    fn resend_is_safe(&self, age_at_claim: SignedDuration, since_claim: SignedDuration) -> bool {
        age_at_claim >= REPLY_WINDOW + CLAIM_SLACK && since_claim < RETRY_KEY_LIFETIME
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            if let Some(token) = usable_reply_token(message) {
                let body = reply_body(token, &message.body);
                let (status, answer) = self.post(&self.reply_url, &body, None).await?;
                if (200..300).contains(&status) {
                    return Ok(receipt(answer));
                }
                let reason = reason(answer);
                if !is_invalid_reply_token(status, &reason) {
                    return Err(super::classify_status(status, None, reason));
                }
                // Used up or expired sooner than documented: one push instead.
                tracing::debug!(provider = PROVIDER, "reply token refused, pushing instead");
            }
            let body = push_body(push_target(&message.to)?, &message.body);
            let key = retry_key(&message.in_reply_to);
            let (status, answer) = self.post(&self.push_url, &body, Some(&key)).await?;
            // 409: a push with this retry key was already accepted; this is its retry.
            if (200..300).contains(&status) || status == 409 {
                return Ok(receipt(answer));
            }
            Err(super::classify_status(status, None, reason(answer)))
        })
    }
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
