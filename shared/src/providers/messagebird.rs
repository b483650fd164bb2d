//! MessageBird and Bird SMS (`/sms/messagebird`): inbound SMS webhooks of both platforms on
//! one route, and acks through either REST API.
//!
//! Two signatures, told apart by their headers:
//!
//! - **Legacy MessageBird** (`MessageBird-Signature-JWT`): a JWT signed with the account's
//!   signing key, as the official SDKs check it (messagebird/python-rest-api
//!   `request_validator.py`, the Node SDK's `webhook-signature-jwt.js`): HS256, HS384 or
//!   HS512 only (`alg: none` and every other algorithm refused), `iss` = `MessageBird`,
//!   `nbf` and `exp` required and checked with 1 s of leeway, `url_hash` = hex SHA-256 of
//!   the exact URL called (query string included), and `payload_hash` = hex SHA-256 of the
//!   body, present exactly when there is a body.
//! - **Bird** (`messagebird-signature`, `messagebird-request-timestamp`): base64 of
//!   HMAC-SHA256(signing key, `timestamp \n URL \n SHA-256(body)`), the body's digest as its
//!   32 raw bytes, as Bird's "Verifying a webhook subscription" page computes it; the
//!   timestamp (Unix seconds) must be within 5 minutes of now, either way.
//!
//! The URL is always the public one the provider called (`req.public_url`, rebuilt from
//! `PUBLIC_BASE_URL` and the raw query), never the `Host` header.
//!
//! The JWT is checked by hand with the HMAC and SHA-2 crates already in the tree: the
//! `jsonwebtoken` crate would bring RSA/EC key handling (and a crypto-backend choice) that an
//! HMAC-only token never uses into the size-budgeted `sms-webhook` binary, and the checks
//! that matter here (the algorithm allow-list, MessageBird's own claims) are a few lines.
//!
//! Acks: a message received through Bird is answered through Bird's Channels API, on the
//! channel it came in on (Bird names our side by channel id, which becomes the ticket's
//! `to`); a legacy message through `POST /messages` of the MessageBird REST API, from the
//! number it was sent to.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64URL};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::Value;
use sha2::Digest;
use std::borrow::Cow;
use url::Url;

use super::{OutboundMessage, Provider, SendError, SendReceipt, Sender};
use crate::config::{ConfigError, MessageBirdConfig, Secret};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::request::WebhookRequest;
use crate::verify::{check_signature, constant_time_eq, hex, hmac_sha256};

/// Legacy MessageBird's signature header.
pub const JWT_HEADER: &str = "messagebird-signature-jwt";
/// Bird's signature header.
pub const BIRD_SIGNATURE_HEADER: &str = "messagebird-signature";
/// Bird's timestamp header (Unix seconds).
pub const BIRD_TIMESTAMP_HEADER: &str = "messagebird-request-timestamp";
/// The variables holding the keys, named in configuration errors.
const SIGNING_KEY_VAR: &str = "MESSAGEBIRD_SIGNING_KEY";
const BIRD_SIGNING_KEY_VAR: &str = "BIRD_SIGNING_KEY";
const ACCESS_KEY_VAR: &str = "MESSAGEBIRD_ACCESS_KEY";
const BIRD_ACCESS_KEY_VAR: &str = "BIRD_ACCESS_KEY";
/// The JWT issuer the SDKs require.
const ISSUER: &str = "MessageBird";
/// Leeway on `nbf` and `exp`, as the SDKs allow.
const JWT_LEEWAY_SECONDS: f64 = 1.0;
/// Bird's replay window, either side of now.
const BIRD_WINDOW_SECONDS: i64 = 5 * 60;
/// A MessageBird token is a few hundred bytes; anything far larger is not one.
const MAX_JWT_BYTES: usize = 4096;
/// The largest decoded signature (HS512).
const MAX_SIGNATURE: usize = 64;
/// Bird's event of a received SMS.
const BIRD_INBOUND_EVENT: &str = "sms.inbound";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const FORM_OR_JSON: &str = "application/x-www-form-urlencoded or application/json";
/// The most attachments kept from one message.
const MAX_MEDIA: usize = 10;

/// MessageBird / Bird inbound SMS (`/sms/messagebird`). Each platform's calls are accepted
/// only when its key is configured.
pub struct MessageBird {
    signing_key: Option<Secret>,
    bird_signing_key: Option<Secret>,
}

impl MessageBird {
    /// From configuration: `None` when neither signing key is set (a deployment that only
    /// sends through MessageBird); refused when a key is blank.
    pub fn new(config: &MessageBirdConfig) -> Result<Option<MessageBird>, ConfigError> {
        let signing_key = match &config.signing_key {
            Some(k) => Some(k.require(SIGNING_KEY_VAR)?.clone()),
            None => None,
        };
        let bird_signing_key = match &config.bird_signing_key {
            Some(k) => Some(k.require(BIRD_SIGNING_KEY_VAR)?.clone()),
            None => None,
        };
        if signing_key.is_none() && bird_signing_key.is_none() {
            return Ok(None);
        }
        Ok(Some(MessageBird {
            signing_key,
            bird_signing_key,
        }))
    }
}

/// Which platform signed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Legacy,
    Bird,
}

/// The platform whose signature header the request carries (the JWT first: Bird never sends
/// it).
fn platform(req: &WebhookRequest) -> Result<Platform, WebhookError> {
    if req.headers.contains_key(JWT_HEADER) {
        Ok(Platform::Legacy)
    } else if req.headers.contains_key(BIRD_SIGNATURE_HEADER) {
        Ok(Platform::Bird)
    } else {
        Err(WebhookError::MissingSignature("MessageBird-Signature-JWT"))
    }
}

impl Provider for MessageBird {
    fn name(&self) -> &'static str {
        "messagebird"
    }

    /// Legacy MessageBird's per-number forwarding calls with the fields in the signed query.
    fn delivers_by_get(&self) -> bool {
        true
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        match platform(req)? {
            Platform::Legacy => {
                // A deployment without the legacy key accepts no legacy call.
                let key = self
                    .signing_key
                    .as_ref()
                    .ok_or(WebhookError::BadSignature)?;
                let token = req
                    .header(JWT_HEADER)
                    .ok_or(WebhookError::BadSignature)?
                    .trim();
                verify_jwt(
                    key.expose().as_bytes(),
                    token,
                    &req.public_url,
                    &req.body,
                    now,
                )
            }
            Platform::Bird => {
                let key = self
                    .bird_signing_key
                    .as_ref()
                    .ok_or(WebhookError::BadSignature)?;
                let signature = req
                    .header(BIRD_SIGNATURE_HEADER)
                    .ok_or(WebhookError::BadSignature)?;
                let timestamp = req
                    .header(BIRD_TIMESTAMP_HEADER)
                    .ok_or(WebhookError::MissingSignature(BIRD_TIMESTAMP_HEADER))?;
                verify_bird(
                    key.expose().as_bytes(),
                    signature,
                    timestamp,
                    &req.public_url,
                    &req.body,
                    now,
                )
            }
        }
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        match platform(req)? {
            Platform::Legacy => legacy_message(req, now).map(|m| vec![m]),
            Platform::Bird => {
                req.require_media_type(JSON)?;
                parse_bird(&req.body, now)
            }
        }
    }
}

/// Checks a legacy `MessageBird-Signature-JWT` for a call to `url` with `body`, as the
/// official SDKs do.
pub fn verify_jwt(
    key: &[u8],
    token: &str,
    url: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), WebhookError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(WebhookError::BadSignature);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(WebhookError::BadSignature);
    };
    let header: JwtHeader = decode_json(header)?;
    let mut claimed = [0u8; MAX_SIGNATURE];
    let len = BASE64URL
        .decode_slice(signature, &mut claimed)
        .map_err(|_| WebhookError::BadSignature)?;
    let signed = &token[..token.len() - signature.len() - 1];
    let expected = match header.alg.as_str() {
        "HS256" => mac::<Hmac<sha2::Sha256>>(key, signed),
        "HS384" => mac::<Hmac<sha2::Sha384>>(key, signed),
        "HS512" => mac::<Hmac<sha2::Sha512>>(key, signed),
        // `none`, RS*/ES* (which would take the key as a public key) and anything else.
        _ => return Err(WebhookError::BadSignature),
    };
    check_signature(&expected, &claimed[..len])?;
    let claims: Claims = decode_json(claims)?;
    if claims.iss.as_deref() != Some(ISSUER) {
        return Err(WebhookError::BadSignature);
    }
    let (Some(nbf), Some(exp)) = (claims.nbf, claims.exp) else {
        return Err(WebhookError::BadSignature);
    };
    let now = now.as_millisecond() as f64 / 1000.0;
    if nbf > now + JWT_LEEWAY_SECONDS || exp <= now - JWT_LEEWAY_SECONDS {
        return Err(WebhookError::Stale);
    }
    let url_hash = claims.url_hash.ok_or(WebhookError::BadSignature)?;
    if !constant_time_eq(sha256_hex(url.as_bytes()).as_bytes(), url_hash.as_bytes()) {
        return Err(WebhookError::BadSignature);
    }
    // An empty `payload_hash` counts as none, as in the SDKs.
    match (
        body.is_empty(),
        claims.payload_hash.filter(|h| !h.is_empty()),
    ) {
        (true, None) => Ok(()),
        (false, Some(hash)) => check_signature(sha256_hex(body).as_bytes(), hash.as_bytes()),
        // A body the token does not vouch for, or a vouched-for body that is gone.
        _ => Err(WebhookError::BadSignature),
    }
}

/// The JOSE header: only the algorithm matters.
#[derive(serde::Deserialize)]
struct JwtHeader {
    alg: String,
}

/// MessageBird's claims (numbers may be integers or decimals in JSON).
#[derive(serde::Deserialize)]
struct Claims {
    iss: Option<String>,
    nbf: Option<f64>,
    exp: Option<f64>,
    url_hash: Option<String>,
    payload_hash: Option<String>,
}

/// One base64url JWT segment decoded as JSON; anything unreadable is a bad signature (it
/// cannot be a token MessageBird signed).
fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, WebhookError> {
    let bytes = BASE64URL
        .decode(segment)
        .map_err(|_| WebhookError::BadSignature)?;
    serde_json::from_slice(&bytes).map_err(|_| WebhookError::BadSignature)
}

/// The MAC `M` (an HMAC) of `data`, as bytes.
fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Lower-case hex SHA-256, as `url_hash` and `payload_hash` hold it.
fn sha256_hex(data: &[u8]) -> String {
    hex(&sha2::Sha256::digest(data))
}

/// Checks Bird's `messagebird-signature` for a call to `url` with `body`, signed at
/// `timestamp` (which must be within 5 minutes of `now`).
pub fn verify_bird(
    key: &[u8],
    signature: &str,
    timestamp: &str,
    url: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), WebhookError> {
    let mut claimed = [0u8; MAX_SIGNATURE];
    let len = BASE64
        .decode_slice(signature.trim(), &mut claimed)
        .map_err(|_| WebhookError::BadSignature)?;
    let timestamp = timestamp.trim();
    let signed_at: i64 = timestamp.parse().map_err(|_| WebhookError::BadSignature)?;
    check_signature(&bird_mac(key, timestamp, url, body), &claimed[..len])?;
    if (now.as_second() - signed_at).abs() > BIRD_WINDOW_SECONDS {
        return Err(WebhookError::Stale);
    }
    Ok(())
}

/// HMAC-SHA256 of `timestamp \n url \n SHA-256(body)` (the digest as raw bytes).
fn bird_mac(key: &[u8], timestamp: &str, url: &str, body: &[u8]) -> [u8; 32] {
    let digest = sha2::Sha256::digest(body);
    hmac_sha256(
        key,
        &[timestamp.as_bytes(), b"\n", url.as_bytes(), b"\n", &digest],
    )
}

/// The `messagebird-signature` Bird sends for a call to `url` with `body` at `timestamp`
/// (`intake simulate`; the unit tests check it against vectors made from Bird's formula).
pub fn sign_bird(key: &str, timestamp: i64, url: &str, body: &[u8]) -> String {
    BASE64.encode(bird_mac(key.as_bytes(), &timestamp.to_string(), url, body))
}

/// A `MessageBird-Signature-JWT` as MessageBird signs it (HS256, valid for a minute from
/// `now`) for a call to `url` with `body` (`intake simulate`; the unit tests check the
/// verifier against tokens from MessageBird's own SDK test suite).
pub fn sign_jwt(key: &str, url: &str, body: &[u8], now: Timestamp) -> String {
    let header = BASE64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let mut claims = serde_json::json!({
        "iss": ISSUER,
        "nbf": now.as_second(),
        "exp": now.as_second() + 60,
        "jti": ulid::Ulid::new().to_string(),
        "url_hash": sha256_hex(url.as_bytes()),
    });
    if !body.is_empty() {
        claims["payload_hash"] = Value::String(sha256_hex(body));
    }
    let signed = format!("{header}.{}", BASE64URL.encode(claims.to_string()));
    let signature = BASE64URL.encode(mac::<Hmac<sha2::Sha256>>(key.as_bytes(), &signed));
    format!("{signed}.{signature}")
}

/// A legacy inbound SMS: MessageBird forwards it with its fields (`id`, `originator`,
/// `recipient`, `body`, `createdDatetime`; shortcodes `mid`, `shortcode`, `message`) in the
/// query string of a GET, or in a POST's form or JSON body (Flow Builder). The query is
/// signed too (`url_hash`), so its fields are as trustworthy as the body's.
fn legacy_message(req: &WebhookRequest, now: Timestamp) -> Result<InboundMessage, WebhookError> {
    let fields = if req.body.is_empty() {
        Fields::form(req.query.as_deref().unwrap_or("").as_bytes())
    } else {
        match req.media_type().as_deref() {
            Some(FORM) => {
                if std::str::from_utf8(&req.body).is_err() {
                    return Err(WebhookError::Malformed("body is not UTF-8".into()));
                }
                Fields::form(&req.body)
            }
            Some(JSON) => Fields::json(&req.body)?,
            _ => {
                return Err(WebhookError::UnsupportedMediaType {
                    expected: FORM_OR_JSON,
                });
            }
        }
    };
    let id = fields.required(&["id", "mid"], "id")?;
    check_id(&id)?;
    Ok(message(
        id.into_owned(),
        fields.required(&["originator"], "originator")?.into_owned(),
        fields
            .required(&["recipient", "shortcode"], "recipient")?
            .into_owned(),
        fields
            .get(&["body", "message"])
            .map(Cow::into_owned)
            .unwrap_or_default(),
        Vec::new(),
        now,
    ))
}

/// A provider message id: printable ASCII of a sane length (it becomes a key).
fn check_id(id: &str) -> Result<(), WebhookError> {
    if id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(WebhookError::Malformed(
            "id is not a MessageBird message id".into(),
        ))
    }
}

/// The fields of a legacy call, from a form (or query string) or a JSON object.
enum Fields<'a> {
    Form(Vec<(Cow<'a, str>, Cow<'a, str>)>),
    Json(serde_json::Map<String, Value>),
}

impl<'a> Fields<'a> {
    fn form(bytes: &'a [u8]) -> Fields<'a> {
        Fields::Form(form_urlencoded::parse(bytes).collect())
    }

    fn json(body: &[u8]) -> Result<Fields<'a>, WebhookError> {
        super::json::object(body).map(Fields::Json)
    }

    /// The first of `names` present, as text (JSON numbers as written: MessageBird writes
    /// `recipient` as a number in JSON).
    fn get(&self, names: &[&str]) -> Option<Cow<'_, str>> {
        names.iter().find_map(|name| match self {
            Fields::Form(pairs) => pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| Cow::Borrowed(v.as_ref())),
            Fields::Json(map) => match map.get(*name)? {
                Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                Value::Number(n) => Some(Cow::Owned(n.to_string())),
                _ => None,
            },
        })
    }

    fn required(&self, names: &[&str], field: &'static str) -> Result<Cow<'_, str>, WebhookError> {
        self.get(names)
            .filter(|v| !v.trim().is_empty())
            .map(|v| match v {
                Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
                Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
            })
            .ok_or(WebhookError::MissingField(field))
    }
}

/// Bird's webhook body: `{"service":"channels","event":"sms.inbound","payload":{message}}`.
/// Only received SMS become messages; every other event a subscription may carry (outbound
/// statuses, interactions) is answered 200 with nothing stored, since refusing a genuine
/// call would only make Bird retry it for hours.
fn parse_bird(body: &[u8], now: Timestamp) -> Result<Vec<InboundMessage>, WebhookError> {
    let event = super::json::object(body)?;
    if super::json::string(event.get("event")) != Some(BIRD_INBOUND_EVENT) {
        return Ok(Vec::new());
    }
    let payload = event
        .get("payload")
        .ok_or(WebhookError::MissingField("payload"))?;
    if super::json::string(payload.get("direction")).is_some_and(|d| d != "incoming") {
        return Ok(Vec::new());
    }
    let id = text(payload.get("id"), "payload.id")?;
    check_id(id)?;
    let from = text(
        payload.pointer("/sender/contact/identifierValue"),
        "payload.sender.contact.identifierValue",
    )?;
    let channel = text(payload.get("channelId"), "payload.channelId")?;
    let content = payload.get("body").unwrap_or(&Value::Null);
    let body = super::json::string(content.pointer("/text/text")).unwrap_or_default();
    let media = ["/image/images", "/file/files"]
        .iter()
        .filter_map(|p| content.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(|item| {
            Some(Attachment {
                url: Some(super::json::string(item.get("mediaUrl"))?.to_owned()),
                content_type: super::json::string(item.get("contentType")).map(str::to_owned),
                name: super::json::string(item.get("filename")).map(str::to_owned),
                size: None,
            })
        })
        .take(MAX_MEDIA)
        .collect();
    Ok(vec![message(
        id.to_owned(),
        from.to_owned(),
        channel.to_owned(),
        body.to_owned(),
        media,
        now,
    )])
}

/// A required, non-blank text field of Bird's payload.
fn text<'a>(value: Option<&'a Value>, field: &'static str) -> Result<&'a str, WebhookError> {
    super::json::string(value)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(WebhookError::MissingField(field))
}

/// One inbound SMS. `keyword` is left to the pipeline, which classifies every SMS body.
fn message(
    id: String,
    from: String,
    to: String,
    body: String,
    attachments: Vec<Attachment>,
    now: Timestamp,
) -> InboundMessage {
    InboundMessage {
        channel: Channel::Sms,
        provider: "messagebird",
        provider_message_id: id,
        from: Party {
            address: from,
            name: None,
        },
        to,
        subject: None,
        body,
        attachments,
        language: None,
        received_at: now,
        keyword: None,
        reply_token: None,
        email: None,
    }
}

/// Whether our address is a Bird channel id (a UUID), rather than a number or sender name.
fn is_bird_channel(address: &str) -> bool {
    let b = address.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Sends acks through MessageBird's REST API (`POST /messages`) or Bird's Channels API
/// (`POST /workspaces/{workspace}/channels/{channel}/messages`), whichever the message came
/// through; a platform without its access key configured has its acks refused, visibly.
pub struct MessageBirdSender {
    legacy: Option<(String, Secret)>,
    bird: Option<(String, Secret)>,
    http: reqwest::Client,
}

impl MessageBirdSender {
    /// From configuration: `None` when no access key is set; refused when one is blank.
    pub fn new(
        config: &MessageBirdConfig,
        http: reqwest::Client,
    ) -> Result<Option<MessageBirdSender>, ConfigError> {
        let legacy = match &config.access_key {
            Some(key) => Some((
                format!("{}/messages", base(&config.api_base_url)),
                key.require(ACCESS_KEY_VAR)?.clone(),
            )),
            None => None,
        };
        let bird = match (&config.bird_access_key, &config.bird_workspace_id) {
            (Some(key), Some(workspace)) => Some((
                format!("{}/workspaces/{workspace}", base(&config.bird_api_base_url)),
                key.require(BIRD_ACCESS_KEY_VAR)?.clone(),
            )),
            (Some(_), None) => return Err(ConfigError::Missing("BIRD_WORKSPACE_ID")),
            (None, _) => None,
        };
        if legacy.is_none() && bird.is_none() {
            return Ok(None);
        }
        Ok(Some(MessageBirdSender { legacy, bird, http }))
    }
}

fn base(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// What either API answers: `id` on success; legacy errors as `errors[]`, Bird's as
/// `code`/`message`.
#[derive(serde::Deserialize)]
struct Answer {
    id: Option<String>,
    #[serde(default)]
    errors: Vec<LegacyError>,
    code: Option<Value>,
    message: Option<String>,
}

#[derive(serde::Deserialize)]
struct LegacyError {
    code: Option<Value>,
    description: Option<String>,
}

impl Sender for MessageBirdSender {
    fn provider(&self) -> &'static str {
        "messagebird"
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let (url, key, body) = if is_bird_channel(&message.from) {
                let (workspace, key) = self.bird.as_ref().ok_or_else(|| not_configured("Bird"))?;
                let url = format!("{workspace}/channels/{}/messages", message.from);
                let body = serde_json::json!({
                    "receiver": {"contacts": [{
                        "identifierKey": "phonenumber",
                        "identifierValue": message.to,
                    }]},
                    "body": {"type": "text", "text": {"text": message.body}},
                });
                (url, key, body)
            } else {
                let (url, key) = self
                    .legacy
                    .as_ref()
                    .ok_or_else(|| not_configured("MessageBird"))?;
                let body = serde_json::json!({
                    "originator": message.from,
                    // MSISDNs without the `+` the pipeline writes.
                    "recipients": [message.to.trim_start_matches('+')],
                    "body": message.body,
                });
                (url.clone(), key, body)
            };
            let response = self
                .http
                .post(&url)
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("AccessKey {}", key.expose()),
                )
                .json(&body)
                .send()
                .await
                .map_err(|e| SendError::Retryable(format!("MessageBird unreachable: {e}")))?;
            let status = response.status().as_u16();
            let answer: Option<Answer> = response.json().await.ok();
            if (200..300).contains(&status) {
                return Ok(SendReceipt {
                    provider_message_id: answer.and_then(|a| a.id),
                    thread_id: None,
                });
            }
            Err(failure(status, answer))
        })
    }
}

/// A refused send, classified by its status, with the platform's own code and reason: the
/// first of legacy MessageBird's `errors`, or Bird's `code` and `message`.
fn failure(status: u16, answer: Option<Answer>) -> SendError {
    let text = |v: Value| v.to_string().trim_matches('"').to_owned();
    let (code, reason) = match answer {
        Some(mut a) if !a.errors.is_empty() => {
            let e = a.errors.swap_remove(0);
            (e.code.map(text), e.description.unwrap_or_default())
        }
        Some(a) => (a.code.map(text), a.message.unwrap_or_default()),
        None => (None, String::new()),
    };
    super::classify_status(status, code, reason)
}

/// An ack for a platform whose access key is not configured.
fn not_configured(platform: &str) -> SendError {
    SendError::Permanent {
        code: "not_configured".into(),
        reason: format!("no {platform} access key is configured for this message's platform"),
    }
}

#[cfg(test)]
#[path = "messagebird_tests.rs"]
mod tests;
