//! MessageBird / Bird: the SDK's published vectors, vectors judged by the official SDK, Bird's
//! documented formula, parsing, and arbitrary input.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

/// MessageBird's own SDK test data (messagebird/python-rest-api; see PROVENANCE.md).
const PUBLISHED: &str = include_str!("../../../tests/fixtures/messagebird/published_vectors.json");
/// Made by `make_vectors.py`: legacy cases judged by the official SDK, Bird cases per Bird's
/// documented formula.
const VECTORS: &str = include_str!("../../../tests/fixtures/messagebird/vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn at_seconds(seconds: f64) -> Timestamp {
    Timestamp::from_millisecond((seconds * 1000.0).round() as i64).unwrap()
}

fn config(legacy: Option<&str>, bird: Option<&str>) -> MessageBirdConfig {
    MessageBirdConfig {
        signing_key: legacy.map(Secret::new),
        bird_signing_key: bird.map(Secret::new),
        access_key: Some(Secret::new("live_access_key")),
        api_base_url: Url::parse("https://rest.messagebird.com").unwrap(),
        bird_access_key: None,
        bird_workspace_id: None,
        bird_api_base_url: Url::parse("https://api.bird.com").unwrap(),
    }
}

fn provider() -> MessageBird {
    let v = vectors();
    MessageBird::new(&config(
        v["signing_key"].as_str(),
        v["bird_signing_key"].as_str(),
    ))
    .unwrap()
    .unwrap()
}

/// A request as the router hands it over: `url` is the public URL with its query.
fn request(
    method: Method,
    url: &str,
    body: &str,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
) -> WebhookRequest {
    let mut map = HeaderMap::new();
    if let Some(ct) = content_type {
        map.insert("content-type", HeaderValue::from_str(ct).unwrap());
    }
    for (name, value) in headers {
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let query = url.split_once('?').map(|(_, q)| q.to_owned());
    let mut req = WebhookRequest::new(
        method,
        "/sms/messagebird",
        query,
        map,
        Bytes::from(body.to_owned()),
    );
    req.public_url = url.to_owned();
    req
}

#[test]
fn published_sdk_vectors() {
    let published: Value = serde_json::from_str(PUBLISHED).unwrap();
    let key = published["secret"].as_str().unwrap();
    // 2021-07-05T12:00:00+02:00, the moment the SDK's tests freeze the clock at.
    let now: Timestamp = "2021-07-05T10:00:00Z".parse().unwrap();
    let cases = published["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let body = case["payload"].as_str().unwrap_or("");
        let verdict = verify_jwt(
            key.as_bytes(),
            case["token"].as_str().unwrap(),
            case["url"].as_str().unwrap(),
            body.as_bytes(),
            now,
        );
        assert_eq!(
            verdict.is_ok(),
            case["valid"].as_bool().unwrap(),
            "{name}: {verdict:?}"
        );
        let reason = case["reason"].as_str().unwrap_or("");
        if reason.contains("nbf") || reason.contains("exp") {
            assert!(matches!(verdict, Err(WebhookError::Stale)), "{name}");
        } else if !reason.is_empty() {
            assert!(matches!(verdict, Err(WebhookError::BadSignature)), "{name}");
        }
    }
}

#[test]
fn legacy_vectors_judged_by_the_official_sdk() {
    let v = vectors();
    let mb = provider();
    let cases = v["legacy"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let body = case["body"].as_str().unwrap();
        let method = if body.is_empty() {
            Method::GET
        } else {
            Method::POST
        };
        let req = request(
            method,
            case["url"].as_str().unwrap(),
            body,
            case["content_type"].as_str(),
            &[(JWT_HEADER, case["token"].as_str().unwrap())],
        );
        let now = at_seconds(case["now"].as_f64().unwrap());
        let verdict = mb.verify(&req, now);
        assert_eq!(
            verdict.is_ok(),
            case["sdk_valid"].as_bool().unwrap(),
            "{name}: {verdict:?}"
        );
        if let Err(e) = verdict {
            assert_eq!(e.status(), 403, "{name}");
        }
    }
}

#[test]
fn bird_vectors_from_the_documented_formula() {
    let v = vectors();
    let mb = provider();
    for case in v["bird"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let req = request(
            Method::POST,
            case["url"].as_str().unwrap(),
            case["body"].as_str().unwrap(),
            Some("application/json"),
            &[
                (BIRD_SIGNATURE_HEADER, case["signature"].as_str().unwrap()),
                (BIRD_TIMESTAMP_HEADER, case["timestamp"].as_str().unwrap()),
            ],
        );
        let now = at_seconds(case["now"].as_f64().unwrap());
        let verdict = mb.verify(&req, now);
        assert_eq!(
            verdict.is_ok(),
            case["valid"].as_bool().unwrap(),
            "{name}: {verdict:?}"
        );
    }
}

#[test]
fn our_signers_agree_with_the_vectors() {
    let v = vectors();
    let key = v["bird_signing_key"].as_str().unwrap();
    let valid = &v["bird"][0];
    assert_eq!(valid["name"], "valid");
    let ts: i64 = valid["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        sign_bird(
            key,
            ts,
            valid["url"].as_str().unwrap(),
            valid["body"].as_str().unwrap().as_bytes()
        ),
        valid["signature"].as_str().unwrap()
    );
    // The simulator's tokens pass the verifier that passes the SDK's.
    let now = Timestamp::now();
    let url = "https://hooks.example.com/sms/messagebird";
    let token = sign_jwt("k3y", url, b"id=1", now);
    assert!(verify_jwt(b"k3y", &token, url, b"id=1", now).is_ok());
    assert!(verify_jwt(b"k3y", &token, url, b"id=2", now).is_err());
}

#[test]
fn each_platform_needs_its_own_key() {
    let v = vectors();
    let legacy = &v["legacy"][1];
    let bird = &v["bird"][0];
    let only_bird = MessageBird::new(&config(None, v["bird_signing_key"].as_str()))
        .unwrap()
        .unwrap();
    let req = request(
        Method::POST,
        legacy["url"].as_str().unwrap(),
        legacy["body"].as_str().unwrap(),
        legacy["content_type"].as_str(),
        &[(JWT_HEADER, legacy["token"].as_str().unwrap())],
    );
    let now = at_seconds(legacy["now"].as_f64().unwrap());
    assert!(matches!(
        only_bird.verify(&req, now),
        Err(WebhookError::BadSignature)
    ));
    let only_legacy = MessageBird::new(&config(v["signing_key"].as_str(), None))
        .unwrap()
        .unwrap();
    let req = request(
        Method::POST,
        bird["url"].as_str().unwrap(),
        bird["body"].as_str().unwrap(),
        Some("application/json"),
        &[
            (BIRD_SIGNATURE_HEADER, bird["signature"].as_str().unwrap()),
            (BIRD_TIMESTAMP_HEADER, bird["timestamp"].as_str().unwrap()),
        ],
    );
    assert!(only_legacy.verify(&req, now).is_err());
    // No signature at all.
    let bare = request(Method::POST, "https://h/sms/messagebird", "id=1", None, &[]);
    assert!(matches!(
        provider().verify(&bare, now),
        Err(WebhookError::MissingSignature(_))
    ));
    // Neither key: no webhook provider (a send-only deployment); a blank key is refused.
    assert!(MessageBird::new(&config(None, None)).unwrap().is_none());
    assert!(MessageBird::new(&config(Some("  "), None)).is_err());
}

#[test]
fn legacy_messages_from_query_form_and_json() {
    let v = vectors();
    let mb = provider();
    let now = at_seconds(v["legacy"][0]["now"].as_f64().unwrap());
    let mut seen = Vec::new();
    for i in 0..3 {
        let case = &v["legacy"][i];
        let body = case["body"].as_str().unwrap();
        let req = request(
            if body.is_empty() {
                Method::GET
            } else {
                Method::POST
            },
            case["url"].as_str().unwrap(),
            body,
            case["content_type"].as_str(),
            &[(JWT_HEADER, case["token"].as_str().unwrap())],
        );
        let messages = mb.verify_and_parse(&req, now).unwrap();
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(m.provider, "messagebird");
        assert_eq!(m.channel, Channel::Sms);
        assert_eq!(m.from.address, "6281234567890");
        assert_eq!(m.to, "6281298765432");
        assert_eq!(m.keyword, None);
        seen.push((m.provider_message_id.clone(), m.body.clone()));
    }
    assert_eq!(
        seen,
        [
            (
                "e8077d803532c0b5937c639b60216938".to_owned(),
                "Halo, pesanan saya belum sampai".to_owned()
            ),
            (
                "e8077d803532c0b5937c639b60216938".to_owned(),
                "Halo, pesanan saya belum sampai".to_owned()
            ),
            (
                "f9a1b2c3d4e5f60718293a4b5c6d7e8f".to_owned(),
                "Paket belum datang — tolong dicek".to_owned()
            ),
        ]
    );
}

#[test]
fn shortcode_fields_and_missing_fields() {
    let now = Timestamp::now();
    let parse = |body: &str| {
        let req = request(
            Method::POST,
            "https://h/sms/messagebird",
            body,
            Some("application/x-www-form-urlencoded"),
            &[(JWT_HEADER, "x")],
        );
        provider().parse(&req, now)
    };
    let m = parse("mid=123&shortcode=1008&originator=6281234567890&message=STOP").unwrap();
    assert_eq!(m[0].provider_message_id, "123");
    assert_eq!(m[0].to, "1008");
    assert_eq!(m[0].body, "STOP");
    assert!(matches!(
        parse("id=1&recipient=1008"),
        Err(WebhookError::MissingField("originator"))
    ));
    assert!(matches!(
        parse("originator=1&recipient=1008"),
        Err(WebhookError::MissingField("id"))
    ));
    assert!(matches!(
        parse("id=a%20b&originator=1&recipient=2"),
        Err(WebhookError::Malformed(_))
    ));
    let req = request(
        Method::POST,
        "https://h/sms/messagebird",
        "<xml/>",
        Some("text/xml"),
        &[(JWT_HEADER, "x")],
    );
    assert!(matches!(
        provider().parse(&req, now),
        Err(WebhookError::UnsupportedMediaType { .. })
    ));
}

#[test]
fn bird_inbound_sms_and_other_events() {
    let v = vectors();
    let case = &v["bird"][0];
    let body = case["body"].as_str().unwrap();
    let req = |body: &str| {
        request(
            Method::POST,
            "https://h/sms/messagebird",
            body,
            Some("application/json"),
            &[(BIRD_SIGNATURE_HEADER, "x")],
        )
    };
    let now = Timestamp::now();
    let m = provider().parse(&req(body), now).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].provider_message_id,
        "96a0b5fa-a986-453d-be5c-3117f989f025"
    );
    assert_eq!(m[0].from.address, "+6281234567890");
    assert_eq!(m[0].to, "614208aa-b153-4d5d-9989-2fddfc0ce4c3");
    assert_eq!(m[0].body, "Halo, pesanan saya belum sampai");
    assert!(is_bird_channel(&m[0].to));
    // A delivery status of one of our messages stores nothing.
    let outbound = body.replace("sms.inbound", "sms.outbound");
    assert!(provider().parse(&req(&outbound), now).unwrap().is_empty());
    // An MMS-like image message keeps its media.
    let image = serde_json::json!({"service":"channels","event":"sms.inbound","payload":{
        "id":"b2a0b5fa-a986-453d-be5c-3117f989f025","channelId":"614208aa-b153-4d5d-9989-2fddfc0ce4c3",
        "direction":"incoming","sender":{"contact":{"identifierValue":"+6281234567890"}},
        "body":{"type":"image","image":{"images":[{"mediaUrl":"https://media.example.com/a.jpg"}]}}}});
    let m = provider().parse(&req(&image.to_string()), now).unwrap();
    assert_eq!(m[0].body, "");
    assert_eq!(
        m[0].attachments[0].url.as_deref(),
        Some("https://media.example.com/a.jpg")
    );
    let missing = body.replace("identifierValue", "identifier");
    assert!(matches!(
        provider().parse(&req(&missing), now),
        Err(WebhookError::MissingField(_))
    ));
}

#[test]
fn bird_channel_ids_are_told_from_numbers() {
    assert!(is_bird_channel("614208aa-b153-4d5d-9989-2fddfc0ce4c3"));
    assert!(!is_bird_channel("6281298765432"));
    assert!(!is_bird_channel("+6281298765432"));
    assert!(!is_bird_channel("614208aa-b153-4d5d-9989-2fddfc0ce4cg"));
}

#[test]
fn refused_sends_keep_the_platforms_code_and_retry_only_what_may_pass() {
    let answer = |json: &str| serde_json::from_str::<Answer>(json).ok();
    // Legacy MessageBird's error shape (its REST API documentation's example).
    let legacy = r#"{"errors":[{"code":2,"description":"Request not allowed (incorrect access_key)","parameter":"access_key"}]}"#;
    assert_eq!(
        failure(401, answer(legacy)),
        SendError::Permanent {
            code: "2".into(),
            reason: "Request not allowed (incorrect access_key)".into()
        }
    );
    let bird = r#"{"code":"InvalidPayload","message":"receiver is invalid"}"#;
    assert_eq!(
        failure(422, answer(bird)),
        SendError::Permanent {
            code: "InvalidPayload".into(),
            reason: "receiver is invalid".into()
        }
    );
    assert!(matches!(
        failure(429, answer(bird)),
        SendError::Retryable(_)
    ));
    assert!(matches!(failure(503, None), SendError::Retryable(_)));
    assert_eq!(
        failure(400, None),
        SendError::Permanent {
            code: "http_400".into(),
            reason: String::new()
        }
    );
}

#[tokio::test]
async fn an_ack_for_a_platform_without_its_access_key_is_refused_before_any_call() {
    let mut c = config(None, None);
    c.access_key = None;
    c.bird_access_key = Some(Secret::new("bird-key"));
    c.bird_workspace_id = Some("w1".into());
    // Nothing listens here: a call would fail as retryable, not as this permanent refusal.
    c.api_base_url = Url::parse("http://127.0.0.1:9").unwrap();
    let sender = MessageBirdSender::new(&c, reqwest::Client::new())
        .unwrap()
        .unwrap();
    let now = Timestamp::now();
    let message = OutboundMessage {
        to: "+6281234567890".into(),
        from: "6221555000".into(),
        body: "Terima kasih".into(),
        html: None,
        subject: None,
        in_reply_to: "e8077d803532c0b5937c639b60216938".into(),
        references: Vec::new(),
        ticket_reference: "ABC123".into(),
        reply_token: None,
        customer_wrote_at: now,
        now,
    };
    assert!(matches!(
        sender.send(&message).await,
        Err(SendError::Permanent { code, .. }) if code == "not_configured"
    ));
    c.bird_access_key = None;
    assert!(
        MessageBirdSender::new(&c, reqwest::Client::new())
            .unwrap()
            .is_none()
    );
}

proptest! {
    /// Arbitrary bytes with either platform's headers: never a panic, only a 4xx refusal
    /// (or, for a body that happens to parse, messages).
    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        token in "[A-Za-z0-9_.=-]{0,300}",
        json in any::<bool>(),
        bird in any::<bool>(),
    ) {
        let mb = provider();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static(if json { "application/json" } else { "application/x-www-form-urlencoded" }));
        if bird {
            headers.insert(BIRD_SIGNATURE_HEADER, HeaderValue::from_str(&token).unwrap());
            headers.insert(BIRD_TIMESTAMP_HEADER, HeaderValue::from_static("1796025600"));
        } else {
            headers.insert(JWT_HEADER, HeaderValue::from_str(&token).unwrap());
        }
        let mut req = WebhookRequest::new(Method::POST, "/sms/messagebird", None, headers, Bytes::from(body));
        req.public_url = "https://hooks.example.com/sms/messagebird".into();
        let now = Timestamp::now();
        if let Err(e) = mb.verify(&req, now) {
            prop_assert!((400..500).contains(&e.status()));
        }
        if let Err(e) = mb.parse(&req, now) {
            prop_assert!((400..500).contains(&e.status()));
        }
    }

    /// Any well-formed JSON shape under Bird's event: parse refuses with a 4xx or reads it.
    #[test]
    fn arbitrary_bird_payloads_never_panic(
        id in proptest::option::of("[ -~]{0,40}"),
        sender in proptest::option::of("[ -~]{0,20}"),
        text in proptest::option::of(any::<String>()),
        kind in "[a-z]{0,8}",
    ) {
        let body = serde_json::json!({"service":"channels","event":"sms.inbound","payload":{
            "id": id, "channelId": "c", "sender": {"contact": {"identifierValue": sender}},
            "body": {"type": kind, "text": {"text": text}}}});
        let req = request(Method::POST, "https://h/sms/messagebird", &body.to_string(), Some("application/json"), &[(BIRD_SIGNATURE_HEADER, "x")]);
        if let Err(e) = provider().parse(&req, Timestamp::now()) {
            prop_assert!((400..500).contains(&e.status()));
        }
    }
}
