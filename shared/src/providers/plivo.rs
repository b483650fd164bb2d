//! Plivo Messaging: inbound SMS/MMS webhooks (an application's Message URL) and the Message
//! API for acks.
//!
//! Webhook signature, as Plivo's SDKs check it (plivo-python `utils/signature_v3.py`,
//! plivo-node `utils/v3Security.js`, plivo-go `utils.go`): `X-Plivo-Signature-V3` is
//! base64(HMAC-SHA256(auth token, S)) where, for a POST,
//!
//! ```text
//! S = URL up to '?'
//!     + '?' when the query or the form has any parameter
//!     + the query's parameters, sorted, as name=value joined by '&'
//!     + '.' when both the query and the form have parameters
//!     + the form's parameters, sorted, as name + value with no separator
//!     + '.' + X-Plivo-Signature-V3-Nonce
//! ```
//!
//! Names and values are the decoded ones; a repeated name contributes each of its values,
//! sorted. A GET puts every parameter in the query (`URL?name=value&....nonce`). The text is
//! hashed as UTF-8 (plivo-python 4.59.1 fixed its double encoding of non-ASCII text to agree).
//! The URL is the one Plivo called: our `PUBLIC_BASE_URL` with the path and the raw query,
//! never the Host header.
//!
//! The header holds one signature per active auth token, comma-separated, while a token is
//! being rotated; any one that matches passes. `X-Plivo-Signature-Ma-V3` is the same with the
//! main account's token (`PLIVO_MAIN_AUTH_TOKEN`; on a main account that is its own token, so
//! `PLIVO_AUTH_TOKEN` is used when it is unset). Plivo signs no timestamp: each nonce is kept
//! for a day (see [`Plivo::receive`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use std::borrow::Cow;

use super::{OutboundMessage, Provider, Received, SendError, SendReceipt, Sender};
use crate::config::{ConfigError, PlivoConfig, Secret};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::keywords::Keyword;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::store::Store;
use crate::verify::{constant_time_eq, hmac_sha256};

/// Route name.
pub const PROVIDER: &str = "plivo";
/// The subaccount's (or account's) signatures.
pub const SIGNATURE_HEADER: &str = "x-plivo-signature-v3";
/// The main account's signatures.
pub const MAIN_SIGNATURE_HEADER: &str = "x-plivo-signature-ma-v3";
/// The nonce both signatures cover.
pub const NONCE_HEADER: &str = "x-plivo-signature-v3-nonce";
const AUTH_TOKEN_VAR: &str = "PLIVO_AUTH_TOKEN";
const MAIN_AUTH_TOKEN_VAR: &str = "PLIVO_MAIN_AUTH_TOKEN";
const FORM: &str = "application/x-www-form-urlencoded";
/// How long a used nonce is remembered: a day, as issue 11 asks. Plivo retries a message
/// three times within about seven minutes, so a genuine retry always falls inside it.
const NONCE_TTL_SECONDS: i64 = 24 * 60 * 60;
/// Plivo's nonces are 20 digits; anything far longer is not one of them.
const MAX_NONCE: usize = 64;
/// Plivo sends at most 10 media items per MMS.
const MAX_MEDIA: usize = 10;

/// Plivo's incoming-message webhook (`/sms/plivo`).
pub struct Plivo {
    auth_token: Secret,
    main_auth_token: Option<Secret>,
}

impl Plivo {
    /// From configuration; refused when a token is blank (it would verify anything).
    pub fn new(config: &PlivoConfig) -> Result<Plivo, ConfigError> {
        Ok(Plivo {
            auth_token: config.auth_token.require(AUTH_TOKEN_VAR)?.clone(),
            main_auth_token: match &config.main_auth_token {
                Some(token) => Some(token.require(MAIN_AUTH_TOKEN_VAR)?.clone()),
                None => None,
            },
        })
    }

    /// Checks the signatures of `req`, whose form decoded to `form`; returns the nonce.
    fn check<'r>(&self, req: &'r WebhookRequest, form: &Form<'_>) -> Result<&'r str, WebhookError> {
        let nonce = req
            .header(NONCE_HEADER)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or(WebhookError::MissingSignature("X-Plivo-Signature-V3-Nonce"))?;
        let own = req.header(SIGNATURE_HEADER);
        let main = req.header(MAIN_SIGNATURE_HEADER);
        if own.is_none() && main.is_none() {
            return Err(WebhookError::MissingSignature("X-Plivo-Signature-V3"));
        }
        if nonce.len() > MAX_NONCE {
            return Err(WebhookError::BadSignature);
        }
        let signed = string_to_sign(
            req.method == http::Method::GET,
            &req.public_url,
            form,
            nonce,
        );
        let matches = |header: Option<&str>, token: &Secret| {
            header.is_some_and(|claimed| {
                let expected =
                    BASE64.encode(hmac_sha256(token.expose().as_bytes(), &[signed.as_bytes()]));
                claimed
                    .split(',')
                    .any(|one| constant_time_eq(one.trim().as_bytes(), expected.as_bytes()))
            })
        };
        let main_token = self.main_auth_token.as_ref().unwrap_or(&self.auth_token);
        if matches(own, &self.auth_token) || matches(main, main_token) {
            Ok(nonce)
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

impl Provider for Plivo {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn verify(&self, req: &WebhookRequest, _now: Timestamp) -> Result<(), WebhookError> {
        self.check(req, &Form::read(req)?).map(drop)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        read(&req.body, &Form::read(req)?, now)
    }

    /// The form is decoded once, for the signature and then for the fields.
    fn verify_and_parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let form = Form::read(req)?;
        self.check(req, &form)?;
        read(&req.body, &form, now)
    }

    fn accepted(&self) -> Reply {
        // An empty Plivo XML document: a Message URL may answer with <Message> elements to
        // reply; Plivo sends nothing by itself, the acknowledger answers.
        Reply::xml(
            200,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#,
        )
    }

    /// Verifies and reads, then claims the nonce for a day. Plivo signs no timestamp, so the
    /// nonce is what makes a signed request single-use.
    ///
    /// The claim is keyed by the nonce and fingerprinted with the message's `MessageUUID`.
    /// Plivo's documents do not say whether a retry (after a timeout or a 5xx, three times
    /// within about seven minutes) carries a new nonce or the same one; either way it is
    /// the same `MessageUUID`: with the same nonce the claim is ours again, with a new one it
    /// is a new claim, and the ingest's dedup item then answers 200 without storing twice.
    /// A 503 from the ingest after the claim therefore never turns into a lost message. The
    /// same nonce on another message is refused (403, nothing stored): that is a replay. The
    /// claim comes after the signature check, so unsigned requests never write.
    fn receive<'a>(
        &'a self,
        req: &'a WebhookRequest,
        now: Timestamp,
        store: &'a Store,
    ) -> BoxFuture<'a, Result<Received, WebhookError>> {
        Box::pin(async move {
            let form = Form::read(req)?;
            let nonce = self.check(req, &form)?;
            let messages = read(&req.body, &form, now)?;
            let uuid = form.required("MessageUUID")?;
            let claim = store
                .claim_once(PROVIDER, nonce, uuid, now, NONCE_TTL_SECONDS)
                .await?;
            if !claim.is_ours() {
                return Err(WebhookError::Replayed);
            }
            Ok(Received::Messages(messages))
        })
    }
}

/// The text Plivo signs for a request to `url` with `form` (empty for a GET, whose
/// parameters are all in the query) and `nonce`, as the SDKs build it.
fn string_to_sign(get: bool, url: &str, form: &Form<'_>, nonce: &str) -> String {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut query: Vec<(Cow<'_, str>, Cow<'_, str>)> =
        form_urlencoded::parse(query.as_bytes()).collect();
    query.sort_unstable();
    let params = if get { &[][..] } else { form.sorted() };
    let mut out = String::with_capacity(url.len() + form.len() + nonce.len() + 4);
    out.push_str(base);
    let before_query = out.len();
    out.push('?');
    for (i, (name, value)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    let has_query = out.len() > before_query + 1;
    if !has_query && params.is_empty() {
        out.truncate(before_query);
    }
    if has_query && !params.is_empty() {
        out.push('.');
    }
    for (name, value) in params {
        out.push_str(name);
        out.push_str(value);
    }
    out.push('.');
    out.push_str(nonce);
    out
}

/// The base64 `X-Plivo-Signature-V3` of a request (`get`: a GET whose parameters are all in
/// `url`'s query; else a POST of the url-encoded `body`) signed with `auth_token`.
pub fn signature(auth_token: &str, get: bool, url: &str, body: &[u8], nonce: &str) -> String {
    let form = Form::parse(body);
    let signed = string_to_sign(get, url, &form, nonce);
    BASE64.encode(hmac_sha256(auth_token.as_bytes(), &[signed.as_bytes()]))
}

/// The message of a verified form (`body` is the raw form).
fn read(body: &[u8], form: &Form<'_>, now: Timestamp) -> Result<Vec<InboundMessage>, WebhookError> {
    if std::str::from_utf8(body).is_err() {
        return Err(WebhookError::Malformed("body is not UTF-8".into()));
    }
    let uuid = form.required("MessageUUID")?;
    if uuid.len() > 64 || !uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(WebhookError::Malformed(
            "MessageUUID is not a Plivo message id".into(),
        ));
    }
    let from = form.required("From")?;
    let to = form.required("To")?;
    if form
        .get("Type")
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("whatsapp"))
    {
        // WhatsApp reaches Intake through Meta's Cloud API (/social/meta), where its
        // 24-hour window and templates are kept. A WhatsApp message posted here is genuine
        // (it is signed) but would be answered by SMS: it is not stored, and answered 200 so
        // Plivo does not retry it.
        tracing::warn!(
            provider = PROVIDER,
            "a WhatsApp message reached the SMS webhook: not stored (connect WhatsApp through Meta)"
        );
        return Ok(Vec::new());
    }
    if form.get("Status").is_some() && form.get("Text").is_none() && form.get("Body").is_none() {
        // A delivery report of an outbound message (a Message URL also used as the `url` of
        // sends): no customer wrote anything. Answered 200, stored nowhere; Intake's own
        // sends ask for no reports.
        return Ok(Vec::new());
    }
    // SMS carry `Text`, MMS `Body`.
    let text = [form.get("Text"), form.get("Body")]
        .into_iter()
        .flatten()
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    // Plivo's documents number media from 0 (support articles) or from 1 (the API
    // reference), as `Media<n>` (`MediaUrl<n>` in some examples): every index up to the
    // limit is read, in order, in one pass over the form.
    let mut media: Vec<(usize, &str)> = form
        .sorted()
        .iter()
        .filter_map(|(name, url)| {
            let index = name
                .strip_prefix("MediaUrl")
                .or_else(|| name.strip_prefix("Media"))?;
            let index = index.parse::<usize>().ok().filter(|i| *i <= MAX_MEDIA)?;
            let url = url.trim();
            (!url.is_empty()).then_some((index, url))
        })
        .collect();
    // Stable: of `Media<n>` and `MediaUrl<n>`, the first (by name) is kept.
    media.sort_by_key(|(index, _)| *index);
    media.dedup_by_key(|(index, _)| *index);
    let attachments = media
        .into_iter()
        .take(MAX_MEDIA)
        .map(|(_, url)| Attachment {
            url: Some(url.to_owned()),
            ..Attachment::default()
        })
        .collect();
    // Plivo's own keyword flag: its standard opt-out, opt-in and help words. Other words are
    // classified by the pipeline from the text.
    let keyword = match form.get("MessageIntent").map(str::trim) {
        Some(intent) if intent.eq_ignore_ascii_case("optout") => Some(Keyword::Stop),
        Some(intent) if intent.eq_ignore_ascii_case("optin") => Some(Keyword::Start),
        Some(intent) if intent.eq_ignore_ascii_case("help") => Some(Keyword::Help),
        _ => None,
    };
    Ok(vec![InboundMessage {
        channel: Channel::Sms,
        provider: PROVIDER,
        provider_message_id: uuid.to_owned(),
        from: Party {
            address: from.to_owned(),
            name: None,
        },
        to: to.to_owned(),
        subject: None,
        body: text.to_owned(),
        attachments,
        language: None,
        received_at: now,
        keyword,
        reply_token: None,
        email: None,
    }])
}

/// A decoded form, its pairs sorted by name then value (the order the signature needs;
/// lookups by name scan it, for Plivo's dozen fields).
struct Form<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Form<'a> {
    /// The form of a POST (415 unless url-encoded); a GET has none.
    fn read(req: &'a WebhookRequest) -> Result<Form<'a>, WebhookError> {
        if req.method == http::Method::GET {
            return Ok(Form(Vec::new()));
        }
        req.require_media_type(FORM)?;
        Ok(Form::parse(&req.body))
    }

    fn parse(body: &'a [u8]) -> Form<'a> {
        let mut pairs: Vec<_> = form_urlencoded::parse(body).collect();
        pairs.sort_unstable();
        Form(pairs)
    }

    fn sorted(&self) -> &[(Cow<'a, str>, Cow<'a, str>)] {
        &self.0
    }

    /// The decoded length of every name and value.
    fn len(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// The first value of `name`.
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

/// Plivo's Message API (`POST /v1/Account/{auth_id}/Message/`).
pub struct PlivoSender {
    endpoint: String,
    auth_id: String,
    auth_token: Secret,
    http: reqwest::Client,
}

impl PlivoSender {
    /// From configuration, with a client built once per cold start; refused when the auth
    /// token is blank.
    pub fn new(config: &PlivoConfig, http: reqwest::Client) -> Result<PlivoSender, ConfigError> {
        Ok(PlivoSender {
            endpoint: format!(
                "{}/v1/Account/{}/Message/",
                config.api_base_url.as_str().trim_end_matches('/'),
                config.auth_id
            ),
            auth_id: config.auth_id.clone(),
            auth_token: config.auth_token.require(AUTH_TOKEN_VAR)?.clone(),
            http,
        })
    }
}

/// What the Message API answers: `message_uuid` on success, `error` otherwise (a sentence,
/// or an object on some endpoints).
#[derive(serde::Deserialize)]
struct PlivoAnswer {
    message_uuid: Option<Vec<String>>,
    error: Option<serde_json::Value>,
}

impl Sender for PlivoSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            // `dst` may list several numbers separated by '<': only a single E.164 number
            // goes out, so an address can never fan the ack out.
            let Some(dst) = crate::phone::e164(&message.to, crate::phone::DEFAULT_COUNTRY_CODE)
            else {
                return Err(SendError::Permanent {
                    code: "invalid_number".into(),
                    reason: "the customer's address is not a phone number".into(),
                });
            };
            let response = self
                .http
                .post(&self.endpoint)
                .basic_auth(&self.auth_id, Some(self.auth_token.expose()))
                .json(&serde_json::json!({
                    "src": message.from,
                    "dst": dst,
                    "text": message.body,
                }))
                .send()
                .await
                .map_err(|e| SendError::Retryable(format!("Plivo unreachable: {e}")))?;
            let status = response.status().as_u16();
            let answer: Option<PlivoAnswer> = response.json().await.ok();
            if (200..300).contains(&status) {
                return Ok(SendReceipt {
                    provider_message_id: answer
                        .and_then(|a| a.message_uuid)
                        .and_then(|ids| ids.into_iter().next()),
                    thread_id: None,
                });
            }
            let reason = match answer.and_then(|a| a.error) {
                Some(serde_json::Value::String(text)) => text,
                Some(other) => other.to_string(),
                None => String::new(),
            };
            Err(super::classify_status(status, None, reason))
        })
    }
}

#[cfg(test)]
#[path = "plivo_tests.rs"]
mod tests;
