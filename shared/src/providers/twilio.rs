//! Twilio Programmable Messaging: inbound SMS/MMS webhooks and the Messages REST API.
//!
//! Webhook signature (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>), as
//! Twilio's SDKs check it (twilio-python `request_validator.py`, twilio-node `webhooks.ts`):
//!
//! - Form posts (`application/x-www-form-urlencoded`, the messaging webhook):
//!   base64(HMAC-SHA1(auth token, URL + every POST parameter name and value, sorted by name,
//!   the distinct values of a repeated name sorted too)).
//! - JSON posts (`application/json`: Event Streams webhook sinks, Studio's "Make HTTP
//!   Request" with a JSON body): the signature covers the URL alone, and Twilio adds a
//!   `bodySHA256` query parameter holding the hex SHA-256 of the body. Both must match: the
//!   signature proves the URL (hash included) came from Twilio, the hash ties the body to it.
//!
//! The URL is the one Twilio called, query string included exactly as sent (the router
//! rebuilds it from `PUBLIC_BASE_URL` and the raw query). The SDKs accept it with and
//! without the port (added as the scheme's default, or removed), because proxies differ in
//! what they put in the URL; so do we.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use std::borrow::Cow;
use url::Url;

use super::{OutboundMessage, Provider, SendError, SendReceipt, Sender};
use crate::config::{ConfigError, Secret, TwilioConfig};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::verify::{check_signature, constant_time_eq, hex, hmac_sha1};

const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// The variable holding the auth token, named in configuration errors.
const AUTH_TOKEN_VAR: &str = "TWILIO_AUTH_TOKEN";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const FORM_OR_JSON: &str = "application/x-www-form-urlencoded or application/json";
/// The query parameter of a JSON callback's URL that carries the body's hex SHA-256.
const BODY_HASH_PARAM: &str = "bodySHA256";
/// The Event Streams event of an inbound message (schema `Messaging.InboundMessageV1`).
const INBOUND_MESSAGE_EVENT: &str = "com.twilio.messaging.inbound-message.received";
/// Twilio sends at most 10 media items per MMS.
const MAX_MEDIA: usize = 10;

/// Twilio's inbound webhook for SMS and MMS (`/sms/twilio`).
pub struct Twilio {
    auth_token: Secret,
}

impl Twilio {
    /// From configuration; refused when the auth token is blank (it would verify anything).
    pub fn new(config: &TwilioConfig) -> Result<Twilio, ConfigError> {
        Ok(Twilio {
            auth_token: config.auth_token.require(AUTH_TOKEN_VAR)?.clone(),
        })
    }
}

impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn verify(&self, req: &WebhookRequest, _now: Timestamp) -> Result<(), WebhookError> {
        self.verified(req).map(|_| ())
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        if req.media_type().as_deref() == Some(JSON) {
            return parse_events(&req.body, now);
        }
        form_messages(&req.body, &Form::parse(&req.body), now)
    }

    /// The form is decoded once, for the signature and then for the fields.
    fn verify_and_parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        match self.verified(req)? {
            Verified::Json => parse_events(&req.body, now),
            Verified::Form(form) => form_messages(&req.body, &form, now),
        }
    }

    fn accepted(&self) -> Reply {
        // Empty TwiML: Twilio sends nothing back by itself; the acknowledger answers.
        Reply::xml(200, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
    }
}

/// A request whose signature matched, and what it was read into to check it.
enum Verified<'a> {
    /// A JSON callback (its body is proven by the signed `bodySHA256`).
    Json,
    /// A form post, decoded.
    Form(Form<'a>),
}

/// The largest `X-Twilio-Signature` kept after decoding: an HMAC-SHA1 is 20 bytes, so
/// anything longer cannot match and is refused like any other wrong signature.
const MAX_SIGNATURE: usize = 32;

impl Twilio {
    /// Checks the signature of `req`; for a form post, returns the form it decoded to do so.
    fn verified<'a>(&self, req: &'a WebhookRequest) -> Result<Verified<'a>, WebhookError> {
        let json = match req.media_type().as_deref() {
            Some(FORM) => false,
            Some(JSON) => true,
            _ => {
                return Err(WebhookError::UnsupportedMediaType {
                    expected: FORM_OR_JSON,
                });
            }
        };
        let claimed = req
            .header(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature("X-Twilio-Signature"))?;
        let mut decoded = [0u8; MAX_SIGNATURE];
        let len = BASE64
            .decode_slice(claimed.trim(), &mut decoded)
            .map_err(|_| WebhookError::BadSignature)?;
        let claimed = &decoded[..len];
        if json {
            // A JSON body without its hash in the URL is not something Twilio sends: the
            // signature alone would then leave the body unproven.
            let claimed_hash = body_hash_param(&req.public_url)?;
            self.check_url_signature(&req.public_url, &[], claimed)?;
            check_signature(body_hash(&req.body).as_bytes(), claimed_hash.as_bytes())?;
            return Ok(Verified::Json);
        }
        let form = Form::parse(&req.body);
        let mut params: Vec<(&str, &str)> = form.pairs().collect();
        // The SDKs sign each distinct value of a repeated name once.
        params.sort_unstable();
        params.dedup();
        self.check_url_signature(&req.public_url, &params, claimed)?;
        Ok(Verified::Form(form))
    }

    /// `Ok` when `claimed` is the signature of `url` (or of its port variant) with the
    /// sorted `params`, compared in constant time.
    fn check_url_signature(
        &self,
        url: &str,
        sorted: &[(&str, &str)],
        claimed: &[u8],
    ) -> Result<(), WebhookError> {
        let token = self.auth_token.expose().as_bytes();
        let matches = |url: &str| constant_time_eq(&mac(token, url, sorted), claimed);
        // The configured URL first; the port variant only when that does not match.
        if matches(url) || other_port_variant(url).is_some_and(|u| matches(&u)) {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

/// The message of a form post (`body` is the raw form, `form` its decoded fields).
fn form_messages(
    body: &[u8],
    form: &Form<'_>,
    now: Timestamp,
) -> Result<Vec<InboundMessage>, WebhookError> {
    if std::str::from_utf8(body).is_err() {
        return Err(WebhookError::Malformed("body is not UTF-8".into()));
    }
    let media_count = match form.get("NumMedia") {
        None | Some("") => 0,
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| WebhookError::Malformed("NumMedia is not a number".into()))?,
    };
    let attachments = (0..media_count.min(MAX_MEDIA))
        .filter_map(|i| {
            let url = form.get(&format!("MediaUrl{i}"))?;
            Some(Attachment {
                url: Some(url.to_owned()),
                content_type: form.get(&format!("MediaContentType{i}")).map(str::to_owned),
                ..Attachment::default()
            })
        })
        .collect();
    Ok(vec![message(
        Fields {
            sid: form.required("MessageSid")?,
            from: form.required("From")?,
            to: form.required("To")?,
            body: form.get("Body").unwrap_or_default(),
            // WhatsApp senders through Twilio carry a profile name.
            name: form.get("ProfileName"),
        },
        attachments,
        now,
    )?])
}

/// What `bodySHA256` holds for `body`: its SHA-256 in lower-case hex.
fn body_hash(body: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(body))
}

/// The one `bodySHA256` of the URL's query, as sent (the SDKs compare the hex text as is).
fn body_hash_param(url: &str) -> Result<String, WebhookError> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mut hashes = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == BODY_HASH_PARAM)
        .map(|(_, value)| value);
    match (hashes.next(), hashes.next()) {
        (Some(hash), None) => Ok(hash.into_owned()),
        (None, _) => Err(WebhookError::MissingSignature(BODY_HASH_PARAM)),
        // Twilio adds one; two leave it unclear which the signature vouched for.
        (Some(_), Some(_)) => Err(WebhookError::BadSignature),
    }
}

/// The fields of one inbound message, however Twilio delivered it.
struct Fields<'a> {
    sid: &'a str,
    from: &'a str,
    to: &'a str,
    body: &'a str,
    name: Option<&'a str>,
}

/// One inbound message. The provider message id is the `MessageSid` in every delivery
/// form, so a message that reaches us both as a form webhook and as an Event Streams event
/// is stored once.
fn message(
    fields: Fields<'_>,
    attachments: Vec<Attachment>,
    now: Timestamp,
) -> Result<InboundMessage, WebhookError> {
    if !fields.sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(WebhookError::Malformed(
            "MessageSid is not a Twilio SID".into(),
        ));
    }
    Ok(InboundMessage {
        channel: Channel::Sms,
        provider: "twilio",
        provider_message_id: fields.sid.to_owned(),
        from: Party {
            address: fields.from.to_owned(),
            name: fields.name.map(str::to_owned),
        },
        to: fields.to.to_owned(),
        subject: None,
        keyword: None,
        body: fields.body.to_owned(),
        attachments,
        language: None,
        received_at: now,
        reply_token: None,
        email: None,
    })
}

/// The messages of a verified JSON callback.
///
/// Twilio posts JSON from two places. Event Streams webhook sinks post a JSON array of
/// CloudEvents; each `com.twilio.messaging.inbound-message.received` event is a customer
/// message (`data.messageSid`, `from`, `to`, `body`) and becomes one, while every other
/// event type (delivery statuses, the sink's test event, voice, ...) carries none and is
/// skipped. Studio's "Make HTTP Request" posts whatever JSON the flow's author wrote: it has
/// no schema to read, so it stores nothing. Either way the answer is 200: the call is
/// genuine (its signature and hash matched), and refusing it would only make Twilio retry,
/// for hours, something that can never be read. The inbound event lists no media URLs, so
/// an MMS arrives as its text (the helpdesk can fetch the media by the message SID).
fn parse_events(body: &[u8], now: Timestamp) -> Result<Vec<InboundMessage>, WebhookError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(super::json::malformed)?;
    let events = match &value {
        serde_json::Value::Array(events) => events.as_slice(),
        event @ serde_json::Value::Object(_) => std::slice::from_ref(event),
        _ => &[],
    };
    let mut messages = Vec::new();
    for event in events {
        if super::json::string(event.get("type")) != Some(INBOUND_MESSAGE_EVENT) {
            continue;
        }
        let data = event.get("data").unwrap_or(&serde_json::Value::Null);
        messages.push(message(
            Fields {
                sid: required(data, "messageSid")?,
                from: required(data, "from")?,
                to: required(data, "to")?,
                body: super::json::string(data.get("body")).unwrap_or_default(),
                name: None,
            },
            Vec::new(),
            now,
        )?);
    }
    Ok(messages)
}

/// A required text field of an event's `data`.
fn required<'a>(data: &'a serde_json::Value, field: &'static str) -> Result<&'a str, WebhookError> {
    super::json::string(data.get(field))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(WebhookError::MissingField(field))
}

/// The Twilio signature of a POST to `url` with form `params` (base64, as in the header).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    BASE64.encode(mac(auth_token.as_bytes(), url, &sorted))
}

/// A JSON callback to `url` as Twilio signs it: the URL with `bodySHA256` (the body's hex
/// SHA-256) appended to its query, and the `X-Twilio-Signature` of that URL alone.
/// Returns `(url, signature)`.
pub fn sign_json(auth_token: &str, url: &str, body: &[u8]) -> (String, String) {
    let hash = body_hash(body);
    let separator = if url.contains('?') { '&' } else { '?' };
    let signed_url = format!("{url}{separator}{BODY_HASH_PARAM}={hash}");
    let signature = signature(auth_token, &signed_url, &[]);
    (signed_url, signature)
}

/// HMAC-SHA1 over the URL and the already sorted parameters, fed piece by piece.
fn mac(token: &[u8], url: &str, sorted: &[(&str, &str)]) -> [u8; 20] {
    let params = sorted
        .iter()
        .flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]);
    hmac_sha1(token, std::iter::once(url.as_bytes()).chain(params))
}

/// The same URL with the scheme's default port added, or removed when it is written.
fn other_port_variant(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let default = parsed.port_or_known_default()?;
    let written = format!("{host}:{default}");
    if parsed.port().is_some() || url.contains(&written) {
        let mut without = parsed.clone();
        without.set_port(None).ok()?;
        Some(without.to_string())
    } else {
        Some(url.replacen(host, &written, 1))
    }
}

/// A decoded form body with lookups by name (Twilio posts about 20 fields: a scan is fine).
/// Names and values borrow from the body unless they had to be unescaped.
struct Form<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Form<'a> {
    /// Decodes `body` as `form_urlencoded::parse` does (the same names and values for any
    /// bytes, which the signature depends on), in one pass per value: a value without `+`
    /// or `%` is borrowed, any other is unescaped into one allocation of its length.
    fn parse(body: &'a [u8]) -> Form<'a> {
        let pairs = body
            .split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(at) => (&pair[..at], &pair[at + 1..]),
                    None => (pair, &[][..]),
                };
                (unescape(name), unescape(value))
            });
        // Twilio posts about 20 fields.
        let mut fields = Vec::with_capacity(24);
        fields.extend(pairs);
        Form(fields)
    }

    /// Every field, in the order posted.
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    fn required(&self, name: &'static str) -> Result<&str, WebhookError> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingField(name))
    }
}

/// One form name or value: `+` is a space, `%` and two hex digits a byte (a `%` without
/// them stays as it is), then UTF-8 with invalid sequences replaced, as `form_urlencoded`
/// decodes it.
fn unescape(text: &[u8]) -> Cow<'_, str> {
    let special = |b: &u8| *b == b'+' || *b == b'%';
    let Some(first) = text.iter().position(special) else {
        return match std::str::from_utf8(text) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(text),
        };
    };
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::with_capacity(text.len());
    out.extend_from_slice(&text[..first]);
    let mut i = first;
    while let Some(&b) = text.get(i) {
        i += 1;
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(text.get(i)), hex(text.get(i + 1))) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => {
                // The plain run up to the next `+` or `%`, copied at once.
                let run = text[i..].iter().position(special).unwrap_or(text.len() - i);
                out.push(b);
                out.extend_from_slice(&text[i..i + run]);
                i += run;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(text) => Cow::Owned(text),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`).
pub struct TwilioSender {
    endpoint: String,
    account_sid: String,
    auth_token: Secret,
    http: reqwest::Client,
}

impl TwilioSender {
    /// From configuration, with a client built once per cold start; refused when the auth
    /// token is blank.
    pub fn new(config: &TwilioConfig, http: reqwest::Client) -> Result<TwilioSender, ConfigError> {
        Ok(TwilioSender {
            endpoint: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                config.api_base_url.as_str().trim_end_matches('/'),
                config.account_sid
            ),
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.require(AUTH_TOKEN_VAR)?.clone(),
            http,
        })
    }
}

#[derive(serde::Deserialize)]
struct TwilioAnswer {
    sid: Option<String>,
    code: Option<serde_json::Value>,
    message: Option<String>,
}

impl Sender for TwilioSender {
    fn provider(&self) -> &'static str {
        "twilio"
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(&self.endpoint)
                .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
                .form(&[
                    ("To", message.to.as_str()),
                    ("From", message.from.as_str()),
                    ("Body", message.body.as_str()),
                ])
                .send()
                .await
                .map_err(|e| SendError::Retryable(format!("Twilio unreachable: {e}")))?;
            let status = response.status().as_u16();
            let answer: Option<TwilioAnswer> = response.json().await.ok();
            if (200..300).contains(&status) {
                return Ok(SendReceipt {
                    provider_message_id: answer.and_then(|a| a.sid),
                    thread_id: None,
                });
            }
            let (code, reason) = match answer {
                Some(a) => (
                    a.code.map(|c| c.to_string().trim_matches('"').to_owned()),
                    a.message.unwrap_or_default(),
                ),
                None => (None, String::new()),
            };
            Err(super::classify_status(status, code, reason))
        })
    }
}

#[cfg(test)]
#[path = "twilio_tests.rs"]
mod tests;
