//! Vonage (formerly Nexmo): inbound SMS and MMS through either kind of webhook a Vonage number
//! can be set to, and acks through the Messages API or the SMS API.
//!
//! - **SMS API signed webhooks** (the account's default SMS setting "SMS API"): the
//!   parameters arrive as the query of a GET, a form POST or a JSON POST (the dashboard's
//!   "HTTP Method": GET, POST, POST-JSON). `sig` signs every other parameter, sorted by name,
//!   each written `&name=value` with `&` and `=` inside the value replaced by `_`: hashed as
//!   `MD5(string + secret)` (`md5hash`, Vonage's default) or HMAC'd with the signature secret
//!   (MD5, SHA-1, SHA-256, SHA-512), in hex of either case (Vonage writes HMACs in upper case).
//!   This is the "Signing Messages" guide, Python `vonage` 3.x `Client.signature`/
//!   `check_signature` and Node `@vonage/sms` `SMS.verifySignature`. The signed `timestamp`
//!   must be within 5 minutes of now, both ways.
//! - **Messages API webhooks** (the application's inbound URL): a JSON POST with
//!   `Authorization: Bearer <JWT>`, HS256 with the signature secret (the dashboard's method
//!   does not apply: "SHA-256 is always used"); its `payload_hash` claim is the hex SHA-256 of
//!   the body and `iat` must be within 5 minutes. Only HS256 passes: `alg: none` and every
//!   other algorithm are refused by `jsonwebtoken` before any signature is computed. Only
//!   `channel` `sms` and `mms` inbound messages are stored (WhatsApp, Viber, Messenger or RCS
//!   through Vonage are other channels, and status webhooks are not messages): everything else
//!   is answered 200 with nothing stored, since it is genuine and a refusal would only be
//!   retried.
//!
//! Replays: a replay within the 5 minutes is the same signed message id (`messageId`,
//! `message_uuid`) and is stored once by the ingest's deduplication; the `nonce` and `jti`
//! Vonage sign along are not claimed in the table, since the signature already binds each to
//! its message id (a second DynamoDB write per webhook would prove nothing more).
//!
//! Concatenated SMS through the SMS API arrive one webhook per part (`concat`, `concat-ref`,
//! `concat-part`, `concat-total`), each with its own `messageId`. Each part is stored once, as
//! its own message of the customer's open ticket (the first part to arrive opens it and gets
//! the one ack), with its text as sent: reassembling would mean holding parts back until the
//! last arrives, and a part lost by the network would hold the rest for good. The Messages API
//! delivers a concatenated SMS already joined.

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

use super::{OutboundMessage, Provider, SendError, SendReceipt, Sender, json};
use crate::config::{ConfigError, Secret, VonageConfig, VonageSendApi, VonageSignatureMethod};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::request::WebhookRequest;
use crate::verify::{constant_time_eq, hex};

const PROVIDER: &str = "vonage";
const SECRET_VAR: &str = "VONAGE_SIGNATURE_SECRET";
const API_SECRET_VAR: &str = "VONAGE_API_SECRET";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const FORM_OR_JSON: &str = "application/x-www-form-urlencoded or application/json";
/// How far a signed `timestamp` or a JWT's `iat` may be from now, either way.
const WINDOW_SECONDS: i64 = 5 * 60;
/// An SMS API webhook has about 15 parameters; more is not Vonage.
const MAX_PARAMS: usize = 64;
/// The Messages API kinds whose content is a file at a URL.
const MEDIA_KINDS: [&str; 5] = ["image", "audio", "video", "file", "vcard"];

/// Vonage's inbound webhooks (`/sms/vonage`, GET and POST).
pub struct Vonage {
    secret: Secret,
    method: VonageSignatureMethod,
    jwt_key: DecodingKey,
    jwt_rules: Validation,
}

impl Vonage {
    /// From configuration; `None` without a signature secret (an acknowledger-only
    /// configuration), refused when it is blank (it would verify anything).
    pub fn new(config: &VonageConfig) -> Result<Option<Vonage>, ConfigError> {
        let Some(secret) = &config.signature_secret else {
            return Ok(None);
        };
        let secret = secret.require(SECRET_VAR)?.clone();
        jwt_crypto();
        let jwt_key = DecodingKey::from_secret(secret.expose().as_bytes())
            .map_err(|_| ConfigError::EmptySecret(SECRET_VAR))?;
        let mut jwt_rules = Validation::new(Algorithm::HS256);
        // `iat` is checked below against the request's `now` (Vonage's tokens carry no
        // `exp`); an `exp` or `nbf`, when present, is checked there too.
        jwt_rules.required_spec_claims.clear();
        jwt_rules.validate_exp = false;
        jwt_rules.validate_nbf = false;
        jwt_rules.validate_aud = false;
        Ok(Some(Vonage {
            secret,
            method: config.signature_method,
            jwt_key,
            jwt_rules,
        }))
    }
}

impl Provider for Vonage {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    /// The SMS API's "HTTP Method" may be GET.
    fn delivers_by_get(&self) -> bool {
        true
    }

    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        self.verified(req, now).map(drop)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        match delivery(req)? {
            Delivery::Messages => messages_api(&req.body, now),
            Delivery::Sms(params) => sms_api(&params, now),
        }
    }

    /// The parameters are decoded once, for the signature and then for the fields.
    fn verify_and_parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        match self.verified(req, now)? {
            Delivery::Messages => messages_api(&req.body, now),
            Delivery::Sms(params) => sms_api(&params, now),
        }
    }
}

/// Which of Vonage's webhooks a request is.
enum Delivery<'a> {
    /// A Messages API webhook: JSON, its JWT in `Authorization`.
    Messages,
    /// An SMS API webhook, its parameters decoded (`sig` among them).
    Sms(Params<'a>),
}

/// What a request is, from its method and headers, with the SMS API's parameters decoded.
fn delivery(req: &WebhookRequest) -> Result<Delivery<'_>, WebhookError> {
    if req.method == http::Method::GET {
        // Only the SMS API sends GETs; the Messages API always POSTs JSON.
        return Params::form(req.query.as_deref().unwrap_or("").as_bytes()).map(Delivery::Sms);
    }
    let json = match req.media_type().as_deref() {
        Some(FORM) => false,
        Some(JSON) => true,
        _ => {
            return Err(WebhookError::UnsupportedMediaType {
                expected: FORM_OR_JSON,
            });
        }
    };
    if json && bearer(req).is_some() {
        return Ok(Delivery::Messages);
    }
    if json {
        Params::json(&req.body).map(Delivery::Sms)
    } else {
        Params::form(&req.body).map(Delivery::Sms)
    }
}

/// The token of an `Authorization: Bearer` header.
fn bearer(req: &WebhookRequest) -> Option<&str> {
    let (scheme, token) = req.header("authorization")?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl Vonage {
    /// Checks whichever signature the request carries; returns what it decoded to do so.
    fn verified<'a>(
        &self,
        req: &'a WebhookRequest,
        now: Timestamp,
    ) -> Result<Delivery<'a>, WebhookError> {
        let delivery = delivery(req)?;
        match &delivery {
            Delivery::Messages => self.check_jwt(req, now)?,
            Delivery::Sms(params) => self.check_sig(params, now)?,
        }
        Ok(delivery)
    }

    /// The SMS API's `sig` over the other parameters, then its signed `timestamp`.
    fn check_sig(&self, params: &Params<'_>, now: Timestamp) -> Result<(), WebhookError> {
        let claimed = params
            .get("sig")
            .ok_or(WebhookError::MissingSignature("sig"))?;
        let mut signed: Vec<(&str, &str)> = params.pairs().filter(|(k, _)| *k != "sig").collect();
        signed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let expected = sms_signature(self.method, self.secret.expose(), &signed);
        // Vonage writes HMACs in upper-case hex, md5hash in lower case; hex is not secret.
        if !constant_time_eq(
            expected.as_bytes(),
            claimed.trim().to_ascii_lowercase().as_bytes(),
        ) {
            return Err(WebhookError::BadSignature);
        }
        let timestamp = params
            .get("timestamp")
            .and_then(|t| t.trim().parse::<i64>().ok())
            .ok_or(WebhookError::MissingSignature("timestamp"))?;
        within_window(timestamp, now)
    }

    /// The Messages API's JWT: HS256 with the signature secret, its `payload_hash` the
    /// body's, issued within the window.
    fn check_jwt(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        let token = bearer(req).ok_or(WebhookError::MissingSignature("Authorization"))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.jwt_key, &self.jwt_rules)
            .map_err(|_| WebhookError::BadSignature)?
            .claims;
        let claimed_hash = claims.payload_hash.ok_or(WebhookError::BadSignature)?;
        if !constant_time_eq(
            body_hash(&req.body).as_bytes(),
            claimed_hash.trim().to_ascii_lowercase().as_bytes(),
        ) {
            return Err(WebhookError::BadSignature);
        }
        within_window(claims.iat.ok_or(WebhookError::BadSignature)?, now)?;
        let now = now.as_second();
        if claims.exp.is_some_and(|exp| exp < now) || claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(WebhookError::Stale);
        }
        Ok(())
    }
}

/// Names `jsonwebtoken`'s aws-lc-rs backend as the process's, once. With one backend feature
/// enabled the crate finds it by itself; if another crate of the workspace ever enabled the
/// `rust_crypto` one too, it would panic at the first token instead. Either backend installed
/// first (by anyone) does HS256 the same.
fn jwt_crypto() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}

/// The claims of a Messages API webhook's JWT that are checked (Vonage also signs `jti`,
/// `iss`, `api_key` and `application_id`).
#[derive(Deserialize)]
struct Claims {
    iat: Option<i64>,
    payload_hash: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

/// `Ok` when `seconds` (Unix time) is within [`WINDOW_SECONDS`] of `now`, either way.
fn within_window(seconds: i64, now: Timestamp) -> Result<(), WebhookError> {
    if now.as_second().abs_diff(seconds) <= WINDOW_SECONDS as u64 {
        Ok(())
    } else {
        Err(WebhookError::Stale)
    }
}

/// The hex SHA-256 of a body, as the `payload_hash` claim carries it.
pub fn body_hash(body: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(body))
}

/// The SMS API signature (lower-case hex) of parameters already sorted by name, `sig` not
/// among them, with `secret` and `method`.
pub fn sms_signature(
    method: VonageSignatureMethod,
    secret: &str,
    sorted: &[(&str, &str)],
) -> String {
    use hmac::{Hmac, Mac};
    fn hmac_hex<M: Mac + hmac::digest::KeyInit>(secret: &str, sorted: &[(&str, &str)]) -> String {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC accepts keys of any length");
        signed_string(sorted, |part| mac.update(part));
        hex(&mac.finalize().into_bytes())
    }
    match method {
        VonageSignatureMethod::Md5Hash => {
            use md5::Digest;
            let mut md5 = md5::Md5::new();
            signed_string(sorted, |part| md5.update(part));
            md5.update(secret.as_bytes());
            hex(&md5.finalize())
        }
        VonageSignatureMethod::Md5Hmac => hmac_hex::<Hmac<md5::Md5>>(secret, sorted),
        VonageSignatureMethod::Sha1Hmac => hmac_hex::<Hmac<sha1::Sha1>>(secret, sorted),
        VonageSignatureMethod::Sha256Hmac => hmac_hex::<Hmac<sha2::Sha256>>(secret, sorted),
        VonageSignatureMethod::Sha512Hmac => hmac_hex::<Hmac<sha2::Sha512>>(secret, sorted),
    }
}

/// Feeds `&name=value` for each parameter, `&` and `=` in values written `_`, piece by
/// piece (no buffer of the whole string).
fn signed_string(sorted: &[(&str, &str)], mut update: impl FnMut(&[u8])) {
    for (name, value) in sorted {
        update(b"&");
        update(name.as_bytes());
        update(b"=");
        for (i, piece) in value.split(['&', '=']).enumerate() {
            if i > 0 {
                update(b"_");
            }
            update(piece.as_bytes());
        }
    }
}

/// The parameters of an SMS API webhook, in the order received.
struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    /// A query string or form body.
    fn form(text: &'a [u8]) -> Result<Params<'a>, WebhookError> {
        Params::checked(form_urlencoded::parse(text).collect())
    }

    /// A JSON object of strings (numbers are taken as written). Without a `sig` it is not a
    /// signed SMS API webhook: most likely a Messages API webhook that lost its JWT.
    fn json(body: &[u8]) -> Result<Params<'a>, WebhookError> {
        let object: Map<String, Value> = json::object(body)?;
        if !object.contains_key("sig") {
            return Err(WebhookError::MissingSignature(
                if object.contains_key("message_uuid") {
                    "Authorization"
                } else {
                    "sig"
                },
            ));
        }
        let pairs = object
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(WebhookError::Malformed(
                            "a parameter is not a string or a number".into(),
                        ));
                    }
                };
                Ok((Cow::Owned(name), Cow::Owned(value)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Params::checked(pairs)
    }

    /// Refuses what Vonage never sends: a repeated name (which value was signed?) or
    /// hundreds of parameters.
    fn checked(pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>) -> Result<Params<'a>, WebhookError> {
        if pairs.len() > MAX_PARAMS {
            return Err(WebhookError::Malformed("too many parameters".into()));
        }
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(other, _)| other == name) {
                return Err(WebhookError::Malformed("a parameter is repeated".into()));
            }
        }
        Ok(Params(pairs))
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn required(&self, name: &'static str) -> Result<&str, WebhookError> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingField(name))
    }
}

/// The message of a verified SMS API webhook: none for a delivery receipt pointed at this
/// URL (it has no `text` or `type`) or a binary SMS (no text a person wrote).
fn sms_api(params: &Params<'_>, now: Timestamp) -> Result<Vec<InboundMessage>, WebhookError> {
    let kind = params.get("type");
    if kind.is_none() && params.get("text").is_none() && params.get("status").is_some() {
        return Ok(Vec::new());
    }
    if kind == Some("binary") {
        return Ok(Vec::new());
    }
    Ok(vec![message(
        params.required("messageId")?,
        params.required("msisdn")?,
        params.required("to")?,
        params.get("text").unwrap_or_default(),
        Vec::new(),
        now,
    )?])
}

/// The message of a verified Messages API webhook: an inbound SMS or MMS, else nothing.
fn messages_api(body: &[u8], now: Timestamp) -> Result<Vec<InboundMessage>, WebhookError> {
    let event = json::object(body)?;
    let text = json::string;
    let channel = text(event.get("channel"));
    // Status webhooks carry `status` and no `message_type`.
    let Some(kind) = text(event.get("message_type")) else {
        return Ok(Vec::new());
    };
    if !matches!(channel, Some("sms" | "mms")) {
        return Ok(Vec::new());
    }
    let required = |field: &'static str| {
        text(event.get(field))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingField(field))
    };
    let (body, attachments) = if MEDIA_KINDS.contains(&kind) {
        let media = event.get(kind);
        let attachment = text(media.and_then(|m| m.get("url"))).map(|url| Attachment {
            url: Some(url.to_owned()),
            name: text(media.and_then(|m| m.get("name"))).map(str::to_owned),
            ..Attachment::default()
        });
        let caption = text(media.and_then(|m| m.get("caption")));
        (
            caption.unwrap_or_default(),
            attachment.into_iter().collect(),
        )
    } else {
        (text(event.get("text")).unwrap_or_default(), Vec::new())
    };
    Ok(vec![message(
        required("message_uuid")?,
        required("from")?,
        required("to")?,
        body,
        attachments,
        now,
    )?])
}

/// One inbound message. The customer's number is kept as Vonage writes it (digits, no `+`);
/// the pipeline writes it in E.164.
fn message(
    id: &str,
    from: &str,
    to: &str,
    body: &str,
    attachments: Vec<Attachment>,
    now: Timestamp,
) -> Result<InboundMessage, WebhookError> {
    // Vonage ids are hex (`messageId`) or UUIDs (`message_uuid`); they become table keys.
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(WebhookError::Malformed(
            "the message id is not a Vonage id".into(),
        ));
    }
    Ok(InboundMessage {
        channel: Channel::Sms,
        provider: PROVIDER,
        provider_message_id: id.to_owned(),
        from: Party {
            address: from.to_owned(),
            name: None,
        },
        to: to.to_owned(),
        subject: None,
        body: body.to_owned(),
        attachments,
        language: None,
        received_at: now,
        // The pipeline classifies STOP/START/HELP. Vonage's own `keyword` is only the first
        // word upper-cased, not an opt-out flag.
        keyword: None,
        reply_token: None,
        email: None,
    })
}

/// A Messages API webhook's `Authorization` value for `body`: a Bearer HS256 JWT with the
/// claims Vonage signs, issued at `iat` (for `intake simulate` and the tests).
pub fn messages_authorization(secret: &str, body: &[u8], iat: i64) -> String {
    jwt_crypto();
    let claims = serde_json::json!({
        "iat": iat,
        "jti": ulid::Ulid::new().to_string(),
        "iss": "Vonage",
        "payload_hash": body_hash(body),
        "api_key": "intake-local",
        "application_id": "00000000-0000-4000-8000-000000000000",
    });
    let token = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())
        .and_then(|key| {
            jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims, &key)
        })
        .unwrap_or_default();
    format!("Bearer {token}")
}

/// Vonage's send APIs: the Messages API (`POST /v1/messages`, JSON, HTTP Basic with the API
/// key and secret) or the SMS API (`POST /sms/json`, the key and secret in the form).
pub struct VonageSender {
    api: VonageSendApi,
    endpoint: String,
    api_key: String,
    api_secret: Secret,
    http: reqwest::Client,
}

impl VonageSender {
    /// From configuration, with a client built once per cold start; `None` without an API
    /// secret (a webhook-only configuration), refused when it is blank.
    pub fn new(
        config: &VonageConfig,
        http: reqwest::Client,
    ) -> Result<Option<VonageSender>, ConfigError> {
        let Some(secret) = &config.api_secret else {
            return Ok(None);
        };
        let api_key = config
            .api_key
            .clone()
            .filter(|k| !k.trim().is_empty())
            .ok_or(ConfigError::Missing("VONAGE_API_KEY"))?;
        let endpoint = match config.send_api {
            VonageSendApi::Messages => format!(
                "{}/v1/messages",
                config.api_base_url.as_str().trim_end_matches('/')
            ),
            VonageSendApi::Sms => format!(
                "{}/sms/json",
                config.rest_base_url.as_str().trim_end_matches('/')
            ),
        };
        Ok(Some(VonageSender {
            api: config.send_api,
            endpoint,
            api_key,
            api_secret: secret.require(API_SECRET_VAR)?.clone(),
            http,
        }))
    }

    /// The Messages API: 202 with the `message_uuid`; errors are RFC 7807 problems whose
    /// `type` ends in `#<code>`.
    async fn send_message(
        &self,
        to: &str,
        from: &str,
        text: &str,
    ) -> Result<SendReceipt, SendError> {
        let response = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.api_key, Some(self.api_secret.expose()))
            .json(&serde_json::json!({
                "message_type": "text",
                "channel": "sms",
                "to": to,
                "from": from,
                "text": text,
            }))
            .send()
            .await
            .map_err(|e| SendError::Retryable(format!("Vonage unreachable: {e}")))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(SendReceipt {
                provider_message_id: json::string(answer.get("message_uuid")).map(str::to_owned),
                thread_id: None,
            });
        }
        let code = json::string(answer.get("type"))
            .and_then(|t| t.rsplit_once('#'))
            .map(|(_, code)| code.to_owned());
        let reason = json::string(answer.get("detail"))
            .or(json::string(answer.get("title")))
            .unwrap_or_default()
            .to_owned();
        Err(super::classify_status(status, code, reason))
    }

    /// The SMS API: 200 whatever happened, with a `status` per part.
    async fn send_sms(&self, to: &str, from: &str, text: &str) -> Result<SendReceipt, SendError> {
        let mut form = vec![
            ("api_key", self.api_key.as_str()),
            ("api_secret", self.api_secret.expose()),
            ("from", from),
            ("to", to),
            ("text", text),
        ];
        // Text outside GSM-7 is sent as UCS-2, or the handset shows question marks.
        if !crate::sms::measure(text).gsm7 {
            form.push(("type", "unicode"));
        }
        let response = self
            .http
            .post(&self.endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| SendError::Retryable(format!("Vonage unreachable: {e}")))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(super::classify_status(status, None, String::new()));
        }
        sms_outcome(&answer)
    }
}

/// What the SMS API's answer says: every part `"0"` is sent; otherwise the first refused
/// part's status, temporary (`1` throttled, `5` internal error) only when no part went out,
/// since a retry would send the parts that did again.
pub fn sms_outcome(answer: &Value) -> Result<SendReceipt, SendError> {
    let parts = answer
        .get("messages")
        .and_then(Value::as_array)
        .filter(|parts| !parts.is_empty())
        .ok_or_else(|| SendError::Permanent {
            code: "unreadable_answer".into(),
            reason: "the SMS API answered without a message status".into(),
        })?;
    let status = |part: &Value| json::string(part.get("status")).unwrap_or("").to_owned();
    let Some(refused) = parts.iter().find(|p| status(p) != "0") else {
        return Ok(SendReceipt {
            provider_message_id: json::string(parts[0].get("message-id")).map(str::to_owned),
            thread_id: None,
        });
    };
    let code = status(refused);
    let reason = json::string(refused.get("error-text"))
        .unwrap_or_default()
        .to_owned();
    let some_sent = parts.iter().any(|p| status(p) == "0");
    if matches!(code.as_str(), "1" | "5") && !some_sent {
        Err(SendError::Retryable(format!(
            "SMS API status {code}: {reason}"
        )))
    } else {
        Err(SendError::Permanent { code, reason })
    }
}

/// A number as Vonage writes it: digits, without `+`.
fn vonage_number(number: &str) -> &str {
    number.trim().trim_start_matches('+')
}

impl Sender for VonageSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let to = vonage_number(&message.to);
            let from = vonage_number(&message.from);
            match self.api {
                VonageSendApi::Messages => self.send_message(to, from, &message.body).await,
                VonageSendApi::Sms => self.send_sms(to, from, &message.body).await,
            }
        })
    }
}

#[cfg(test)]
#[path = "vonage_tests.rs"]
mod tests;
