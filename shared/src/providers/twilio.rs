//! Twilio Programmable Messaging: inbound SMS/MMS webhooks and the Messages REST API.
//!
//! Webhook signature (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>):
//! base64(HMAC-SHA1(auth token, URL + every POST parameter name and value, sorted by name,
//! values of a repeated name sorted too)). Twilio's SDKs accept the URL with and without the
//! scheme's default port, because proxies differ in what they put in the URL; so do we.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use std::borrow::Cow;
use url::Url;

use super::{BoxFuture, OutboundMessage, Provider, SendError, SendReceipt, Sender};
use crate::config::{Secret, TwilioConfig};
use crate::error::WebhookError;
use crate::keywords::Keyword;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::reply::Reply;
use crate::verify::{constant_time_eq, hmac_sha1};
use crate::webhook::WebhookRequest;

const SIGNATURE_HEADER: &str = "x-twilio-signature";
const FORM: &str = "application/x-www-form-urlencoded";
/// Twilio sends at most 10 media items per MMS.
const MAX_MEDIA: usize = 10;

/// Twilio's inbound webhook for SMS and MMS (`/sms/twilio`).
pub struct Twilio {
    auth_token: Secret,
}

impl Twilio {
    /// From configuration.
    pub fn new(config: &TwilioConfig) -> Twilio {
        Twilio {
            auth_token: config.auth_token.clone(),
        }
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
        req.require_media_type(FORM)?;
        let claimed = req
            .header(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature("X-Twilio-Signature"))?;
        let claimed = BASE64
            .decode(claimed.trim())
            .map_err(|_| WebhookError::BadSignature)?;
        let mut params: Vec<_> = form_urlencoded::parse(&req.body).collect();
        params.sort_unstable();
        let token = self.auth_token.expose().as_bytes();
        let matches = |url: &str| constant_time_eq(&mac(token, url, &params), &claimed);
        // The configured URL first; the port variant only when that does not match.
        if matches(&req.public_url)
            || other_port_variant(&req.public_url).is_some_and(|u| matches(&u))
        {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        if std::str::from_utf8(&req.body).is_err() {
            return Err(WebhookError::Malformed("body is not UTF-8".into()));
        }
        let form = Form::parse(&req.body);
        let sid = form.required("MessageSid")?;
        if !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(WebhookError::Malformed(
                "MessageSid is not a Twilio SID".into(),
            ));
        }
        let from = form.required("From")?;
        let to = form.required("To")?;
        let body = form.get("Body").unwrap_or_default().to_owned();
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
        Ok(vec![InboundMessage {
            channel: Channel::Sms,
            provider: "twilio",
            provider_message_id: sid.to_owned(),
            from: Party {
                address: from.to_owned(),
                // WhatsApp senders through Twilio carry a profile name.
                name: form.get("ProfileName").map(str::to_owned),
            },
            to: to.to_owned(),
            subject: None,
            keyword: Keyword::classify(&body),
            body,
            attachments,
            language: None,
            received_at: now,
            reply_token: None,
            email: None,
        }])
    }

    fn accepted(&self) -> Reply {
        // Empty TwiML: Twilio sends nothing back by itself; the acknowledger answers.
        Reply::xml(200, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
    }
}

/// The Twilio signature of a POST to `url` with form `params` (base64, as in the header).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    BASE64.encode(mac(auth_token.as_bytes(), url, &sorted))
}

/// HMAC-SHA1 over the URL and the already sorted parameters, fed piece by piece.
fn mac<K: AsRef<str>, V: AsRef<str>>(token: &[u8], url: &str, sorted: &[(K, V)]) -> [u8; 20] {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + sorted.len() * 2);
    parts.push(url.as_bytes());
    for (k, v) in sorted {
        parts.push(k.as_ref().as_bytes());
        parts.push(v.as_ref().as_bytes());
    }
    hmac_sha1(token, &parts)
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
struct Form<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Form<'a> {
    fn parse(body: &'a [u8]) -> Form<'a> {
        Form(form_urlencoded::parse(body).collect())
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

/// Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`).
pub struct TwilioSender {
    endpoint: String,
    account_sid: String,
    auth_token: Secret,
    http: reqwest::Client,
}

impl TwilioSender {
    /// From configuration, with a client built once per cold start.
    pub fn new(config: &TwilioConfig, http: reqwest::Client) -> TwilioSender {
        TwilioSender {
            endpoint: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                config.api_base_url.as_str().trim_end_matches('/'),
                config.account_sid
            ),
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.clone(),
            http,
        }
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
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The example from Twilio's webhook security documentation
    /// (<https://www.twilio.com/docs/usage/security#validating-requests>), also used as the
    /// fixture of the official SDKs' request-validator tests.
    #[test]
    fn twilio_documentation_vector() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn order_of_params_does_not_matter_but_repeated_values_are_sorted() {
        let a = pairs(&[("b", "2"), ("a", "y"), ("a", "x")]);
        let b = pairs(&[("a", "x"), ("a", "y"), ("b", "2")]);
        assert_eq!(
            signature("t", "https://h/p", &a),
            signature("t", "https://h/p", &b)
        );
        // Sorted, the data is "https://h/p" + "ax" + "ay" + "b2".
        let manual = BASE64.encode(hmac_sha1(b"t", &[b"https://h/paxayb2"]));
        assert_eq!(signature("t", "https://h/p", &a), manual);
    }

    #[test]
    fn url_with_and_without_default_port() {
        assert_eq!(
            other_port_variant("https://mycompany.com/sms/twilio?x=1").as_deref(),
            Some("https://mycompany.com:443/sms/twilio?x=1")
        );
        assert_eq!(
            other_port_variant("https://mycompany.com:443/sms/twilio").as_deref(),
            Some("https://mycompany.com/sms/twilio")
        );
        assert_eq!(
            other_port_variant("http://127.0.0.1:3000/sms/twilio").as_deref(),
            Some("http://127.0.0.1/sms/twilio")
        );
    }

    fn request(body: &str, sig: Option<&str>, url: &str) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static(FORM));
        if let Some(s) = sig {
            headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(s).unwrap());
        }
        let mut req = WebhookRequest::new(
            Method::POST,
            "/sms/twilio",
            None,
            headers,
            Bytes::from(body.to_owned()),
        );
        req.public_url = url.to_owned();
        req
    }

    fn twilio() -> Twilio {
        Twilio {
            auth_token: Secret::new("12345"),
        }
    }

    const URL: &str = "https://hooks.example.com/sms/twilio";
    const BODY: &str = "MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B6281234567890&To=%2B6221555000&Body=Halo%2C+pesanan+saya+belum+sampai&NumMedia=2&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm0&MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm1&MediaContentType1=application%2Fpdf";

    fn signed(body: &str, url_signed: &str) -> String {
        let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        signature("12345", url_signed, &params)
    }

    #[test]
    fn verifies_signed_request_and_port_variant() {
        let now = Timestamp::now();
        let sig = signed(BODY, URL);
        assert!(
            twilio()
                .verify(&request(BODY, Some(&sig), URL), now)
                .is_ok()
        );
        let sig = signed(BODY, "https://hooks.example.com:443/sms/twilio");
        assert!(
            twilio()
                .verify(&request(BODY, Some(&sig), URL), now)
                .is_ok()
        );
    }

    #[test]
    fn refuses_tampering_missing_signature_and_wrong_content_type() {
        let now = Timestamp::now();
        let sig = signed(BODY, URL);
        let tampered = BODY.replace("belum", "sudah");
        assert!(matches!(
            twilio().verify(&request(&tampered, Some(&sig), URL), now),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            twilio().verify(
                &request(BODY, Some(&sig), "https://evil.example.com/sms/twilio"),
                now
            ),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            twilio().verify(&request(BODY, None, URL), now),
            Err(WebhookError::MissingSignature(_))
        ));
        let mut json = request(BODY, Some(&sig), URL);
        json.headers
            .insert("content-type", HeaderValue::from_static("application/json"));
        assert!(matches!(
            twilio().verify(&json, now),
            Err(WebhookError::UnsupportedMediaType { .. })
        ));
    }

    #[test]
    fn parses_sms_with_media() {
        let msgs = twilio()
            .parse(&request(BODY, None, URL), Timestamp::UNIX_EPOCH)
            .unwrap();
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(m.provider_message_id, "SM0123456789abcdef0123456789abcdef");
        assert_eq!(m.from.address, "+6281234567890");
        assert_eq!(m.to, "+6221555000");
        assert_eq!(m.body, "Halo, pesanan saya belum sampai");
        assert_eq!(m.keyword, None);
        assert_eq!(m.attachments.len(), 2);
        assert_eq!(
            m.attachments[1].content_type.as_deref(),
            Some("application/pdf")
        );
        assert_eq!(
            m.attachments[0].url.as_deref(),
            Some("https://api.twilio.com/m0")
        );
    }

    #[test]
    fn parse_flags_keywords_and_missing_fields() {
        let stop = "MessageSid=SM1&From=%2B1&To=%2B2&Body=Stop";
        let m = twilio()
            .parse(&request(stop, None, URL), Timestamp::UNIX_EPOCH)
            .unwrap();
        assert_eq!(m[0].keyword, Some(Keyword::Stop));
        for (body, field) in [
            ("From=%2B1&To=%2B2&Body=x", "MessageSid"),
            ("MessageSid=SM1&To=%2B2&Body=x", "From"),
            ("MessageSid=SM1&From=+&To=%2B2", "From"),
            ("MessageSid=SM1&From=%2B1&Body=x", "To"),
        ] {
            match twilio().parse(&request(body, None, URL), Timestamp::UNIX_EPOCH) {
                Err(WebhookError::MissingField(f)) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        assert!(matches!(
            twilio().parse(
                &request("MessageSid=SM1&From=1&To=2&NumMedia=x", None, URL),
                Timestamp::UNIX_EPOCH
            ),
            Err(WebhookError::Malformed(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let mut req = request("", None, URL);
            req.body = Bytes::from(body);
            let _ = twilio().parse(&req, Timestamp::UNIX_EPOCH);
            let _ = twilio().verify(&req, Timestamp::UNIX_EPOCH);
        }

        #[test]
        fn parse_never_panics_on_form_shaped_input(
            fields in proptest::collection::vec(("[A-Za-z]{1,12}[0-9]?", ".{0,40}"), 0..12)
        ) {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter())
                .finish();
            let _ = twilio().parse(&request(&body, None, URL), Timestamp::UNIX_EPOCH);
        }
    }
}
