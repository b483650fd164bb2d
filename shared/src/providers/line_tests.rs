//! Line webhook verification, parsing and API request shapes.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

const SECRET: &str = "8c570fa6dd201bb328f1c1eac23a96d8";
const BOT: &str = "Ub0c0a1b2c3d4e5f60718293a4b5c6d7e";
const USER: &str = "U4af4980629a1b2c3d4e5f60718293a4b";

fn line() -> Line {
    Line::new(&config())
        .unwrap()
        .expect("channel secret configured")
}

fn config() -> LineConfig {
    LineConfig {
        channel_secret: Some(Secret::new(SECRET)),
        access_token: Some(Secret::new("channel-access-token")),
        api_base_url: url::Url::parse("https://api.line.me").unwrap(),
    }
}

fn request(body: &str, sig: Option<&str>) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(s) = sig {
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(s).unwrap());
    }
    WebhookRequest::new(
        Method::POST,
        "/social/line",
        None,
        headers,
        Bytes::from(body.to_owned()),
    )
}

fn parse(body: &Value) -> Result<Vec<InboundMessage>, WebhookError> {
    line().parse(&request(&body.to_string(), None), Timestamp::UNIX_EPOCH)
}

/// A one-to-one `message` event as LINE sends it.
fn user_message(event_id: &str, message: Value) -> Value {
    json!({
        "type": "message",
        "message": message,
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": false},
        "timestamp": 1735689600123_i64,
        "source": {"type": "user", "userId": USER},
        "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
        "mode": "active"
    })
}

fn batch(events: Vec<Value>) -> Value {
    json!({ "destination": BOT, "events": events })
}

/// The signature test of LINE's official Python SDK
/// (`line/line-bot-sdk-python`, `tests/test_webhook.py`, `TestSignatureValidator`):
/// channel secret `channel_secret`, body `bodybodybodybody`.
#[test]
fn line_sdk_signature_vector() {
    let sdk_signature = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=";
    assert_eq!(
        signature("channel_secret", b"bodybodybodybody"),
        sdk_signature
    );
    let sdk = Line::new(&LineConfig {
        channel_secret: Some(Secret::new("channel_secret")),
        ..config()
    })
    .unwrap()
    .expect("channel secret configured");
    let req = request("bodybodybodybody", Some(sdk_signature));
    assert!(sdk.verify(&req, Timestamp::UNIX_EPOCH).is_ok());
    let req = request("bodybodybodybody", Some("invalid_signature"));
    assert!(matches!(
        sdk.verify(&req, Timestamp::UNIX_EPOCH),
        Err(WebhookError::BadSignature)
    ));
}

#[test]
fn verifies_the_signature_of_the_exact_body() {
    let now = Timestamp::UNIX_EPOCH;
    let body = batch(vec![user_message(
        "01JGEX6S3ZB3M2D1TQK7P9V4AA",
        json!({"id": "534988", "type": "text", "text": "Halo", "quoteToken": "q"}),
    )])
    .to_string();
    let good = signature(SECRET, body.as_bytes());
    assert!(line().verify(&request(&body, Some(&good)), now).is_ok());
    assert!(matches!(
        line().verify(&request(&body, None), now),
        Err(WebhookError::MissingSignature(_))
    ));
    // Signed with another channel's secret.
    let other = signature("another-channel-secret", body.as_bytes());
    assert!(matches!(
        line().verify(&request(&body, Some(&other)), now),
        Err(WebhookError::BadSignature)
    ));
    // One byte of the body changed.
    let tampered = body.replacen("Halo", "Halp", 1);
    assert_eq!(tampered.len(), body.len());
    assert!(matches!(
        line().verify(&request(&tampered, Some(&good)), now),
        Err(WebhookError::BadSignature)
    ));
    // One byte of the signature changed, a truncated one, and one that is not base64.
    let mut flipped = BASE64.decode(&good).unwrap();
    flipped[31] ^= 1;
    for sig in [
        BASE64.encode(&flipped),
        good[..20].to_owned(),
        "!!notbase64!!".to_owned(),
    ] {
        assert!(
            matches!(
                line().verify(&request(&body, Some(&sig)), now),
                Err(WebhookError::BadSignature)
            ),
            "{sig}"
        );
    }
    let mut form = request(&body, Some(&good));
    form.headers
        .insert("content-type", HeaderValue::from_static("text/plain"));
    assert!(matches!(
        line().verify(&form, now),
        Err(WebhookError::UnsupportedMediaType { .. })
    ));
}

#[test]
fn limits_and_names() {
    assert_eq!(line().max_body_bytes(), 1024 * 1024);
    assert_eq!(line().name(), "line");
    assert_eq!(line().channel(), Channel::Social);
}

#[test]
fn two_events_in_one_body_are_two_messages() {
    let body = batch(vec![
        user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4AA",
            json!({"id": "534988", "type": "text", "text": "Halo, pesanan saya belum sampai", "quoteToken": "q1"}),
        ),
        user_message(
            "01JGEX6S40C1N8R5WZD2H7M3BB",
            json!({"id": "534989", "type": "image", "contentProvider": {"type": "line"}, "quoteToken": "q2"}),
        ),
    ]);
    let messages = parse(&body).unwrap();
    assert_eq!(messages.len(), 2);
    let text = &messages[0];
    assert_eq!(text.channel, Channel::Social);
    assert_eq!(text.provider, "line");
    assert_eq!(text.provider_message_id, "01JGEX6S3ZB3M2D1TQK7P9V4AA");
    assert_eq!(text.from.address, format!("line:{USER}"));
    assert_eq!(text.from.name, None);
    assert_eq!(text.to, format!("line:{BOT}"));
    assert_eq!(text.body, "Halo, pesanan saya belum sampai");
    assert_eq!(
        text.reply_token.as_deref(),
        Some("nHuyWiB7yP5Zw52FIkcQobQuGDXCTA")
    );
    assert_eq!(text.received_at, Timestamp::UNIX_EPOCH);
    assert_eq!(text.keyword, None);
    assert_eq!(text.language, None);
    let image = &messages[1];
    assert_eq!(image.provider_message_id, "01JGEX6S40C1N8R5WZD2H7M3BB");
    assert_eq!(image.body, "");
    assert_eq!(
        image.attachments,
        vec![Attachment {
            url: Some("line-content:534989".into()),
            content_type: Some("image".into()),
            name: None,
            size: None,
        }]
    );
}

#[test]
fn sms_keywords_do_not_apply() {
    for word in ["STOP", "help", "start"] {
        let body = batch(vec![user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4AC",
            json!({"id": "1", "type": "text", "text": word}),
        )]);
        assert_eq!(parse(&body).unwrap()[0].keyword, None);
    }
}

#[test]
fn files_video_audio_stickers_and_locations() {
    let body = batch(vec![
        user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4B1",
            json!({"id": "325708", "type": "file", "fileName": "invoice-0425.pdf", "fileSize": 2138}),
        ),
        user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4B2",
            json!({"id": "325709", "type": "video", "duration": 60000, "contentProvider": {"type": "external", "originalContentUrl": "https://example.com/v.mp4", "previewImageUrl": "https://example.com/v.jpg"}, "quoteToken": "q"}),
        ),
        user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4B3",
            json!({"id": "325710", "type": "audio", "duration": 4000, "contentProvider": {"type": "line"}}),
        ),
        user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4B4",
            json!({"id": "325711", "type": "sticker", "packageId": "446", "stickerId": "1988", "stickerResourceType": "STATIC", "keywords": ["Thanks"], "quoteToken": "q"}),
        ),
        user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4B5",
            json!({"id": "325712", "type": "location", "title": "Toko Pusat", "address": "Jl. Sudirman 1, Jakarta", "latitude": -6.2, "longitude": 106.816666}),
        ),
    ]);
    let m = parse(&body).unwrap();
    assert_eq!(m.len(), 5);
    assert_eq!(
        m[0].attachments,
        vec![Attachment {
            url: Some("line-content:325708".into()),
            content_type: Some("file".into()),
            name: Some("invoice-0425.pdf".into()),
            size: Some(2138),
        }]
    );
    assert_eq!(
        m[1].attachments[0].url.as_deref(),
        Some("https://example.com/v.mp4")
    );
    assert_eq!(m[1].attachments[0].content_type.as_deref(), Some("video"));
    assert_eq!(
        m[2].attachments[0].url.as_deref(),
        Some("line-content:325710")
    );
    assert_eq!(m[2].attachments[0].content_type.as_deref(), Some("audio"));
    assert_eq!(m[3].body, "");
    assert_eq!(m[3].attachments[0].content_type.as_deref(), Some("sticker"));
    assert_eq!(
        m[3].attachments[0].name.as_deref(),
        Some("sticker 446/1988")
    );
    assert_eq!(
        m[4].body,
        "📍 Toko Pusat, Jl. Sudirman 1, Jakarta (-6.2, 106.816666)"
    );
}

#[test]
fn other_events_and_sources_are_ignored() {
    let base = |kind: &str| {
        json!({
            "type": kind,
            "mode": "active",
            "timestamp": 1735689600123_i64,
            "source": {"type": "user", "userId": USER},
            "webhookEventId": "01JGEX6S3ZB3M2D1TQK7P9V4C1",
            "deliveryContext": {"isRedelivery": false}
        })
    };
    let mut follow = base("follow");
    follow["replyToken"] = json!("nHuyWiB7yP5Zw52FIkcQobQuGDXCTA");
    follow["follow"] = json!({"isUnblocked": false});
    let unfollow = base("unfollow");
    let mut postback = base("postback");
    postback["postback"] = json!({"data": "action=buy&itemId=123"});
    let mut unsend = base("unsend");
    unsend["unsend"] = json!({"messageId": "325708"});
    let mut group = user_message(
        "01JGEX6S3ZB3M2D1TQK7P9V4C2",
        json!({"id": "1", "type": "text", "text": "halo grup"}),
    );
    group["source"] =
        json!({"type": "group", "groupId": "Ca56f94637cc4347f90a25382909b24b9", "userId": USER});
    let mut room = group.clone();
    room["source"] =
        json!({"type": "room", "roomId": "Ra8dbf4673c4c812cd491258042226c99", "userId": USER});
    let unknown = user_message(
        "01JGEX6S3ZB3M2D1TQK7P9V4C3",
        json!({"id": "2", "type": "hologram"}),
    );
    let body = batch(vec![
        follow, unfollow, postback, unsend, group, room, unknown,
    ]);
    assert_eq!(parse(&body).unwrap(), Vec::new());
}

#[test]
fn console_verify_request_is_zero_messages() {
    let body = json!({"destination": BOT, "events": []});
    assert_eq!(parse(&body).unwrap(), Vec::new());
}

#[test]
fn redelivered_and_standby_events_carry_no_reply_token() {
    let mut redelivered = user_message(
        "01JGEX6S3ZB3M2D1TQK7P9V4D1",
        json!({"id": "3", "type": "text", "text": "halo lagi"}),
    );
    redelivered["deliveryContext"] = json!({"isRedelivery": true});
    let mut standby = user_message(
        "01JGEX6S3ZB3M2D1TQK7P9V4D2",
        json!({"id": "4", "type": "text", "text": "halo"}),
    );
    standby["mode"] = json!("standby");
    if let Some(e) = standby.as_object_mut() {
        e.remove("replyToken");
    }
    let m = parse(&batch(vec![redelivered, standby])).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].provider_message_id, "01JGEX6S3ZB3M2D1TQK7P9V4D1");
    assert_eq!(m[0].reply_token, None);
    assert_eq!(m[1].reply_token, None);
}

#[test]
fn missing_fields_are_refused() {
    let event = || {
        user_message(
            "01JGEX6S3ZB3M2D1TQK7P9V4E1",
            json!({"id": "5", "type": "text", "text": "x"}),
        )
    };
    let without = |path: &[&str]| {
        let mut e = event();
        let (last, parents) = path.split_last().unwrap();
        let mut at = &mut e;
        for p in parents {
            at = &mut at[*p];
        }
        if let Some(o) = at.as_object_mut() {
            o.remove(*last);
        }
        batch(vec![e])
    };
    let cases = [
        (json!({"events": []}), "destination"),
        (json!({"destination": BOT}), "events"),
        (json!({"destination": "", "events": []}), "destination"),
        (without(&["webhookEventId"]), "events.webhookEventId"),
        (without(&["source", "userId"]), "events.source.userId"),
        (without(&["source"]), "events.source"),
        (without(&["message"]), "events.message"),
        (without(&["message", "id"]), "events.message.id"),
    ];
    for (body, field) in cases {
        match parse(&body) {
            Err(WebhookError::MissingField(f)) => assert_eq!(f, field, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn invalid_json_is_malformed() {
    for body in [
        "",
        "{",
        "not json",
        "[]",
        "null",
        r#"{"destination": 42, "events": []}"#,
        r#"{"destination": "U1", "events": {}}"#,
        r#"{"destination": "U1", "events": ["x"]}"#,
    ] {
        assert!(
            matches!(
                line().parse(&request(body, None), Timestamp::UNIX_EPOCH),
                Err(WebhookError::Malformed(_))
            ),
            "{body:?}"
        );
    }
    let Err(WebhookError::Malformed(why)) = line().parse(
        &request(
            r#"{"destination": "U1", "events": [{"text": "rahasia"#,
            None,
        ),
        Timestamp::UNIX_EPOCH,
    ) else {
        panic!("expected Malformed");
    };
    assert!(!why.contains("rahasia"), "{why}");
}

fn outbound(reply_token: Option<&str>, seconds_late: i64) -> OutboundMessage {
    let now = Timestamp::from_second(1_735_689_600).unwrap();
    OutboundMessage {
        to: format!("line:{USER}"),
        from: format!("line:{BOT}"),
        body: "Terima kasih! Tiket Anda #K7F3Q2.".into(),
        html: None,
        subject: None,
        in_reply_to: "01JGEX6S3ZB3M2D1TQK7P9V4AA".into(),
        references: vec![],
        ticket_reference: "K7F3Q2".into(),
        reply_token: reply_token.map(str::to_owned),
        customer_wrote_at: now - SignedDuration::from_secs(seconds_late),
        now,
    }
}

#[test]
fn reply_token_is_used_only_while_young() {
    let token = Some("nHuyWiB7yP5Zw52FIkcQobQuGDXCTA");
    assert_eq!(usable_reply_token(&outbound(token, 3)), token);
    assert_eq!(usable_reply_token(&outbound(token, 49)), token);
    assert_eq!(usable_reply_token(&outbound(token, 50)), None);
    assert_eq!(usable_reply_token(&outbound(token, 3600)), None);
    assert_eq!(usable_reply_token(&outbound(None, 1)), None);
    assert_eq!(usable_reply_token(&outbound(Some(" "), 1)), None);
}

#[test]
fn request_bodies_are_as_documented() {
    assert_eq!(
        reply_body("nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "Terima kasih!"),
        json!({
            "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
            "messages": [{"type": "text", "text": "Terima kasih!"}]
        })
    );
    assert_eq!(
        push_body(USER, "Terima kasih!"),
        json!({"to": USER, "messages": [{"type": "text", "text": "Terima kasih!"}]})
    );
    assert_eq!(push_target(&format!("line:{USER}")).unwrap(), USER);
    for bad in ["telegram:1", "line:", USER] {
        assert!(
            matches!(push_target(bad), Err(SendError::Permanent { .. })),
            "{bad}"
        );
    }
    let sender = LineSender::new(&config(), reqwest::Client::new())
        .unwrap()
        .expect("access token configured");
    assert_eq!(sender.reply_url, "https://api.line.me/v2/bot/message/reply");
    assert_eq!(sender.push_url, "https://api.line.me/v2/bot/message/push");
    assert_eq!(sender.provider(), "line");
}

#[test]
fn retry_key_is_a_stable_uuid_per_message() {
    let key = retry_key("01JGEX6S3ZB3M2D1TQK7P9V4AA");
    assert_eq!(key, retry_key("01JGEX6S3ZB3M2D1TQK7P9V4AA"));
    assert_ne!(key, retry_key("01JGEX6S3ZB3M2D1TQK7P9V4AB"));
    let groups: Vec<&str> = key.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(
        key.bytes()
            .all(|b| b == b'-' || (b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    );
    assert!(groups[2].starts_with('5'), "{key}");
    assert!(
        matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
        "{key}"
    );
    // The formula, so a test double can compute it: SHA-256 of "abc" starts
    // ba7816bf 8f01 cfea 4141 40de5dae...
    assert_eq!(retry_key("abc"), "ba7816bf-8f01-5fea-8141-40de5dae2223");
}

#[test]
fn error_answers() {
    let answer = |text: &str| serde_json::from_str::<LineAnswer>(text).ok();
    let invalid = reason(answer(r#"{"message":"Invalid reply token"}"#));
    assert!(is_invalid_reply_token(400, &invalid));
    assert!(!is_invalid_reply_token(429, &invalid));
    let detailed = reason(answer(
        r#"{"message":"The request body has 1 error(s)","details":[{"message":"must be specified","property":"messages[0].text"}]}"#,
    ));
    assert_eq!(
        detailed,
        "The request body has 1 error(s); messages[0].text: must be specified"
    );
    assert!(!is_invalid_reply_token(400, &detailed));
    assert_eq!(reason(None), "");
    assert_eq!(
        receipt(answer(
            r#"{"sentMessages":[{"id":"461230966842064897","quoteToken":"IStG5h1Tz7b"}]}"#
        )),
        SendReceipt {
            provider_message_id: Some("461230966842064897".into()),
            thread_id: None,
        }
    );
    assert_eq!(
        receipt(answer("{}")),
        SendReceipt {
            provider_message_id: None,
            thread_id: None,
        }
    );
}

/// Any JSON value, small and nested.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("message".to_owned()),
            Just("user".to_owned()),
            Just("external".to_owned()),
            ".{0,12}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "type",
            "id",
            "text",
            "userId",
            "contentProvider",
            "originalContentUrl",
            "fileName",
            "fileSize",
            "packageId",
            "stickerId",
            "latitude",
            "longitude",
            "isRedelivery",
            "title",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{1,8}",
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut req = request("", Some("c2lnbmF0dXJl"));
        req.body = Bytes::from(body);
        let _ = line().verify(&req, Timestamp::UNIX_EPOCH);
        let _ = line().parse(&req, Timestamp::UNIX_EPOCH);
    }

    #[test]
    fn parse_never_panics_on_json_shaped_input(
        destination in json_value(),
        kind in prop_oneof![Just(json!("message")), json_value()],
        source in prop_oneof![Just(json!({"type": "user", "userId": USER})), json_value()],
        event_id in json_value(),
        message in json_value(),
        message_type in proptest::sample::select(vec![
            "text", "image", "video", "audio", "file", "sticker", "location", "other",
        ]),
        delivery in json_value(),
        anything in json_value(),
    ) {
        let mut message = message;
        if let Some(m) = message.as_object_mut() {
            m.insert("type".into(), json!(message_type));
        }
        let body = json!({
            "destination": destination,
            "events": [{
                "type": kind,
                "source": source,
                "webhookEventId": event_id,
                "deliveryContext": delivery,
                "replyToken": "r",
                "message": message,
            }],
        });
        for body in [body.to_string(), anything.to_string()] {
            let _ = line().parse(&request(&body, None), Timestamp::UNIX_EPOCH);
        }
    }
}

#[test]
fn only_a_push_within_its_retry_keys_lifetime_is_sent_again() {
    let sender = LineSender::new(&config(), reqwest::Client::new())
        .unwrap()
        .expect("access token configured");
    let s = SignedDuration::from_secs;
    let minutes = |m| SignedDuration::from_mins(m);
    // Claimed while the reply token was young (or too close to tell): maybe a reply.
    for age in [s(0), s(49), s(50), s(64)] {
        assert!(!sender.resend_is_safe(age, minutes(6)), "{age}");
    }
    // Surely a push: sent again while LINE still remembers its key.
    assert!(sender.resend_is_safe(s(65), minutes(6)));
    assert!(sender.resend_is_safe(minutes(30), SignedDuration::from_hours(22)));
    assert!(!sender.resend_is_safe(minutes(30), SignedDuration::from_hours(23)));
}
