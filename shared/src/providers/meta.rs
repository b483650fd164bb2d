//! Meta: Messenger, Instagram Direct and the WhatsApp Cloud API, one webhook for the apps of
//! one Meta app (`/social/meta`), and the Graph API for replies.
//!
//! - Handshake: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` answered with the
//!   challenge when the token matches (constant time), 403 otherwise.
//! - Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the App
//!   Secret>`. Meta escapes non-ASCII as `\uXXXX`, so only the exact bytes received verify.
//! - Batches: every entry, every `messaging` event and every WhatsApp change and message is
//!   read; echoes, receipts, statuses, reactions and typing events open no ticket.
//!
//! Addresses carry the app, so ids of different apps never collide: the customer is
//! `messenger:<PSID>`, `instagram:<IGSID>` or `whatsapp:<wa_id>`; our side is
//! `messenger:<page id>`, `instagram:<account id>` or `whatsapp:<phone number id>`.

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use std::borrow::Cow;

use super::{OutboundMessage, Provider, SendError, SendReceipt, Sender};
use crate::config::{ConfigError, MetaConfig, Secret};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::verify::{check_signature, constant_time_eq, hmac_sha256};

const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const JSON: &str = "application/json";
/// Meta allows free-form replies for 24 hours after the customer's last message.
const WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// Meta's webhook (`/social/meta`).
pub struct Meta {
    app_secret: Secret,
    verify_token: Secret,
}

impl Meta {
    /// From configuration; `None` when the webhook secrets are not configured, refused when
    /// one is blank (an empty App Secret would verify any body).
    pub fn new(config: &MetaConfig) -> Result<Option<Meta>, ConfigError> {
        let (Some(app_secret), Some(verify_token)) = (&config.app_secret, &config.verify_token)
        else {
            return Ok(None);
        };
        Ok(Some(Meta {
            app_secret: app_secret.require("META_APP_SECRET")?.clone(),
            verify_token: verify_token.require("META_VERIFY_TOKEN")?.clone(),
        }))
    }
}

impl Provider for Meta {
    fn name(&self) -> &'static str {
        "meta"
    }

    fn channel(&self) -> Channel {
        Channel::Social
    }

    fn max_body_bytes(&self) -> usize {
        1024 * 1024
    }

    fn handshake(&self, req: &WebhookRequest) -> Option<Result<Reply, WebhookError>> {
        if req.method != http::Method::GET {
            return None;
        }
        let query = req.query.as_deref().unwrap_or("");
        let field = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let mode = field("hub.mode")?;
        let token = field("hub.verify_token").unwrap_or_default();
        if mode != "subscribe"
            || !constant_time_eq(token.as_bytes(), self.verify_token.expose().as_bytes())
        {
            return Some(Err(WebhookError::HandshakeRefused));
        }
        let challenge = field("hub.challenge").unwrap_or_default();
        // Echo only what Meta sends (digits), never arbitrary text back to a caller.
        if challenge.is_empty()
            || challenge.len() > 128
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Some(Err(WebhookError::Malformed(
                "hub.challenge is missing or unusual".into(),
            )));
        }
        Some(Ok(Reply::text(200, challenge)))
    }

    fn verify(&self, req: &WebhookRequest, _now: Timestamp) -> Result<(), WebhookError> {
        req.require_media_type(JSON)?;
        let header = req
            .header(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature("X-Hub-Signature-256"))?;
        let claimed = header
            .trim()
            .strip_prefix("sha256=")
            .and_then(decode_hex)
            .ok_or(WebhookError::BadSignature)?;
        let expected = hmac_sha256(self.app_secret.expose().as_bytes(), &[&req.body]);
        check_signature(&expected, &claimed)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let payload: Payload = serde_json::from_slice(&req.body).map_err(super::json::malformed)?;
        let mut out = Vec::new();
        match payload.object.as_ref() {
            "page" | "instagram" => {
                let app = if payload.object == "page" {
                    "messenger"
                } else {
                    "instagram"
                };
                for entry in payload.entry {
                    for event in entry.messaging {
                        if let Some(m) = messaging_event(app, event, now)? {
                            out.push(m);
                        }
                    }
                }
            }
            "whatsapp_business_account" => {
                for entry in payload.entry {
                    for change in entry.changes {
                        if change.field.as_deref().is_some_and(|f| f != "messages") {
                            continue;
                        }
                        let Some(value) = change.value else { continue };
                        whatsapp_messages(value, now, &mut out)?;
                    }
                }
            }
            other => {
                return Err(WebhookError::Malformed(format!(
                    "unknown object {:?}",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
        Ok(out)
    }

    fn accepted(&self) -> Reply {
        Reply::text(200, "EVENT_RECEIVED")
    }
}

/// Lower-case or upper-case hex → bytes.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

// Ids borrow from the body (`Cow`): they are copied only where Meta escaped something in
// them, and most are only read into the addresses built from them.

/// An optional string that borrows from the body unless it holds escapes (serde's `borrow`
/// does not reach a `Cow` inside an `Option`).
fn borrowed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text>::deserialize(d)?.map(|text| text.0))
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    object: Cow<'a, str>,
    #[serde(default, borrow)]
    entry: Vec<Entry<'a>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(default, borrow)]
    messaging: Vec<MessagingEvent<'a>>,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Id<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed")]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MessagingEvent<'a> {
    #[serde(borrow)]
    sender: Option<Id<'a>>,
    #[serde(borrow)]
    recipient: Option<Id<'a>>,
    #[serde(borrow)]
    message: Option<MessengerMessage<'a>>,
    postback: Option<Postback>,
}

#[derive(Deserialize)]
struct MessengerMessage<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed")]
    mid: Option<Cow<'a, str>>,
    text: Option<String>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    attachments: Vec<MessengerAttachment>,
}

#[derive(Deserialize)]
struct MessengerAttachment {
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<AttachmentPayload>,
}

#[derive(Deserialize)]
struct AttachmentPayload {
    url: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize)]
struct Postback {
    mid: Option<String>,
    title: Option<String>,
}

fn required<S: AsRef<str>>(value: Option<S>, field: &'static str) -> Result<S, WebhookError> {
    value
        .filter(|v| !v.as_ref().trim().is_empty())
        .ok_or(WebhookError::MissingField(field))
}

/// One Messenger/Instagram event → a message, or `None` for echoes, receipts, reactions
/// and the like.
fn messaging_event(
    app: &'static str,
    event: MessagingEvent<'_>,
    now: Timestamp,
) -> Result<Option<InboundMessage>, WebhookError> {
    let (id, body, attachments) = match (event.message, event.postback) {
        (Some(m), _) if m.is_echo || m.is_deleted => return Ok(None),
        (Some(m), _) => {
            let attachments = m
                .attachments
                .into_iter()
                .map(|a| Attachment {
                    url: a.payload.as_ref().and_then(|p| p.url.clone()),
                    content_type: a.kind,
                    name: a.payload.and_then(|p| p.title),
                    size: None,
                })
                .collect();
            (m.mid, m.text.unwrap_or_default(), attachments)
        }
        // A tapped button is the customer speaking too.
        (None, Some(p)) => (
            p.mid.map(Cow::Owned),
            p.title.unwrap_or_default(),
            Vec::new(),
        ),
        // delivery, read, reaction, referral, typing, optin, ...
        (None, None) => return Ok(None),
    };
    let sender = required(event.sender.and_then(|s| s.id), "sender.id")?;
    let recipient = required(event.recipient.and_then(|r| r.id), "recipient.id")?;
    Ok(Some(InboundMessage {
        channel: Channel::Social,
        provider: "meta",
        provider_message_id: required(id, "message.mid")?.into_owned(),
        from: Party {
            address: format!("{app}:{sender}"),
            name: None,
        },
        to: format!("{app}:{recipient}"),
        subject: None,
        body,
        attachments,
        language: None,
        received_at: now,
        keyword: None,
        reply_token: None,
        email: None,
    }))
}

#[derive(Deserialize)]
struct Change {
    field: Option<String>,
    value: Option<WhatsAppValue>,
}

#[derive(Deserialize)]
struct WhatsAppValue {
    metadata: Option<WhatsAppMetadata>,
    #[serde(default)]
    contacts: Vec<WhatsAppContact>,
    #[serde(default)]
    messages: Vec<WhatsAppMessage>,
}

#[derive(Deserialize)]
struct WhatsAppMetadata {
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct WhatsAppContact {
    wa_id: Option<String>,
    profile: Option<WhatsAppProfile>,
}

#[derive(Deserialize)]
struct WhatsAppProfile {
    name: Option<String>,
}

#[derive(Deserialize)]
struct WhatsAppMessage {
    from: Option<String>,
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<WhatsAppText>,
    image: Option<WhatsAppMedia>,
    document: Option<WhatsAppMedia>,
    audio: Option<WhatsAppMedia>,
    video: Option<WhatsAppMedia>,
    sticker: Option<WhatsAppMedia>,
    button: Option<WhatsAppButton>,
    interactive: Option<serde_json::Value>,
    location: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WhatsAppText {
    body: Option<String>,
}

#[derive(Deserialize)]
struct WhatsAppMedia {
    id: Option<String>,
    mime_type: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
}

#[derive(Deserialize)]
struct WhatsAppButton {
    text: Option<String>,
}

fn whatsapp_messages(
    value: WhatsAppValue,
    now: Timestamp,
    out: &mut Vec<InboundMessage>,
) -> Result<(), WebhookError> {
    if value.messages.is_empty() {
        // Statuses (sent, delivered, read, failed) and other changes: nothing to store.
        return Ok(());
    }
    let phone_number_id = required(
        value.metadata.and_then(|m| m.phone_number_id),
        "metadata.phone_number_id",
    )?;
    for message in value.messages {
        let kind = message.kind.clone().unwrap_or_default();
        if kind == "reaction" || kind == "system" || kind == "ephemeral" {
            continue;
        }
        let from = required(message.from, "messages.from")?;
        let name = value
            .contacts
            .iter()
            .find(|c| c.wa_id.as_deref() == Some(from.as_str()))
            .and_then(|c| c.profile.as_ref()?.name.clone());
        let media = [
            message.image,
            message.document,
            message.audio,
            message.video,
            message.sticker,
        ]
        .into_iter()
        .flatten()
        .next();
        let body = match (&message.text, &media, &message.button) {
            (Some(t), _, _) => t.body.clone().unwrap_or_default(),
            (_, Some(m), _) => m.caption.clone().unwrap_or_default(),
            (_, _, Some(b)) => b.text.clone().unwrap_or_default(),
            _ => interactive_title(message.interactive.as_ref())
                .or_else(|| message.location.as_ref().map(location_text))
                .unwrap_or_default(),
        };
        let attachments = media
            .map(|m| Attachment {
                url: m.id.map(|id| format!("whatsapp-media:{id}")),
                content_type: m.mime_type.or(Some(kind.clone())),
                name: m.filename,
                size: None,
            })
            .into_iter()
            .collect();
        out.push(InboundMessage {
            channel: Channel::Social,
            provider: "meta",
            provider_message_id: required(message.id, "messages.id")?,
            from: Party {
                address: format!("whatsapp:{from}"),
                name,
            },
            to: format!("whatsapp:{phone_number_id}"),
            subject: None,
            body,
            attachments,
            language: None,
            received_at: now,
            keyword: None,
            reply_token: None,
            email: None,
        });
    }
    Ok(())
}

fn interactive_title(value: Option<&serde_json::Value>) -> Option<String> {
    let v = value?;
    ["button_reply", "list_reply"]
        .iter()
        .find_map(|k| v.get(k)?.get("title")?.as_str().map(str::to_owned))
}

fn location_text(v: &serde_json::Value) -> String {
    let coordinate = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or_default();
    let name = v.get("name").and_then(|x| x.as_str()).unwrap_or("");
    format!(
        "📍 {name} ({}, {})",
        coordinate("latitude"),
        coordinate("longitude")
    )
    .trim()
    .to_owned()
}

/// The Graph API: Messenger and Instagram Send API, WhatsApp Cloud API messages.
pub struct MetaSender {
    graph: String,
    page_token: Option<Secret>,
    whatsapp_token: Option<Secret>,
    whatsapp_template: Option<(String, String)>,
    http: reqwest::Client,
}

impl MetaSender {
    /// From configuration, with a client built once per cold start; `None` without any
    /// send token.
    pub fn new(
        config: &MetaConfig,
        http: reqwest::Client,
    ) -> Result<Option<MetaSender>, ConfigError> {
        if config.page_access_token.is_none() && config.whatsapp_token.is_none() {
            return Ok(None);
        }
        if let Some(token) = &config.page_access_token {
            token.require("META_PAGE_ACCESS_TOKEN")?;
        }
        if let Some(token) = &config.whatsapp_token {
            token.require("META_WHATSAPP_TOKEN")?;
        }
        Ok(Some(MetaSender {
            graph: format!(
                "{}/{}",
                config.graph_base_url.as_str().trim_end_matches('/'),
                config.graph_version
            ),
            page_token: config.page_access_token.clone(),
            whatsapp_token: config.whatsapp_token.clone(),
            whatsapp_template: config.whatsapp_template.clone(),
            http,
        }))
    }

    /// The request for `message`: URL, token, JSON body.
    fn request(
        &self,
        message: &OutboundMessage,
    ) -> Result<(String, &Secret, serde_json::Value), SendError> {
        let split = |address: &str| {
            address
                .split_once(':')
                .map(|(a, id)| (a.to_owned(), id.to_owned()))
                .ok_or_else(|| SendError::Permanent {
                    code: "bad_address".into(),
                    reason: "address has no app prefix".into(),
                })
        };
        let (app, customer) = split(&message.to)?;
        let (_, ours) = split(&message.from)?;
        let outside_window = message.now.duration_since(message.customer_wrote_at) > WINDOW;
        let missing = |what: &str| SendError::NotAllowed(format!("no_{what}_configured"));
        match app.as_str() {
            "messenger" | "instagram" => {
                if outside_window {
                    return Err(SendError::NotAllowed("outside_24h_window".into()));
                }
                let token = self
                    .page_token
                    .as_ref()
                    .ok_or_else(|| missing("page_access_token"))?;
                let mut body = serde_json::json!({
                    "recipient": { "id": customer },
                    "message": { "text": message.body },
                });
                if app == "messenger" {
                    body["messaging_type"] = "RESPONSE".into();
                }
                Ok((format!("{}/{ours}/messages", self.graph), token, body))
            }
            "whatsapp" => {
                let token = self
                    .whatsapp_token
                    .as_ref()
                    .ok_or_else(|| missing("whatsapp_token"))?;
                let body = if !outside_window {
                    serde_json::json!({
                        "messaging_product": "whatsapp",
                        "recipient_type": "individual",
                        "to": customer,
                        "context": { "message_id": message.in_reply_to },
                        "type": "text",
                        "text": { "preview_url": false, "body": message.body },
                    })
                } else if let Some((name, language)) = &self.whatsapp_template {
                    // Outside the window only an approved template may be sent; its one
                    // parameter is the ticket reference.
                    serde_json::json!({
                        "messaging_product": "whatsapp",
                        "recipient_type": "individual",
                        "to": customer,
                        "type": "template",
                        "template": {
                            "name": name,
                            "language": { "code": language },
                            "components": [{
                                "type": "body",
                                "parameters": [{ "type": "text", "text": message.ticket_reference }],
                            }],
                        },
                    })
                } else {
                    return Err(SendError::NotAllowed(
                        "outside_24h_window_no_template".into(),
                    ));
                };
                Ok((format!("{}/{ours}/messages", self.graph), token, body))
            }
            other => Err(SendError::Permanent {
                code: "bad_address".into(),
                reason: format!("unknown Meta app {other:?}"),
            }),
        }
    }
}

#[derive(Deserialize)]
struct GraphAnswer {
    message_id: Option<String>,
    messages: Option<Vec<SentMessage>>,
    error: Option<GraphError>,
}

/// `messages[]` of a WhatsApp send's answer.
#[derive(Deserialize)]
struct SentMessage {
    id: Option<String>,
}

#[derive(Deserialize)]
struct GraphError {
    message: Option<String>,
    code: Option<i64>,
}

/// Graph error codes that pass on their own: unknown/temporary errors and rate limits.
const TRANSIENT_GRAPH_CODES: &[i64] = &[
    1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131016, 131048, 131056,
];

impl Sender for MetaSender {
    fn provider(&self) -> &'static str {
        "meta"
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let (url, token, body) = self.request(message)?;
            let response = self
                .http
                .post(url)
                .bearer_auth(token.expose())
                .json(&body)
                .send()
                .await
                .map_err(|e| {
                    SendError::Retryable(format!("Graph API unreachable: {}", e.without_url()))
                })?;
            let status = response.status().as_u16();
            let answer: Option<GraphAnswer> = response.json().await.ok();
            if (200..300).contains(&status) {
                let id = answer
                    .and_then(|a| a.message_id.or_else(|| a.messages?.into_iter().next()?.id));
                return Ok(SendReceipt {
                    provider_message_id: id,
                    thread_id: None,
                });
            }
            let error = answer.and_then(|a| a.error);
            let code = error.as_ref().and_then(|e| e.code);
            let reason = error.and_then(|e| e.message).unwrap_or_default();
            if code.is_some_and(|c| TRANSIENT_GRAPH_CODES.contains(&c)) {
                return Err(SendError::Retryable(format!(
                    "Graph error {code:?}: {reason}"
                )));
            }
            Err(super::classify_status(
                status,
                code.map(|c| c.to_string()),
                reason,
            ))
        })
    }
}

#[cfg(test)]
#[path = "meta_tests.rs"]
mod tests;
