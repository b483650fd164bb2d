//! Telnyx webhook signatures (against vectors checked by Telnyx's own SDK), parsing, the
//! sender's request, and arbitrary input.

use super::*;
use crate::config::Ed25519PublicKey;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;
use serde_json::json;

/// `tests/fixtures/telnyx/vectors.json`: made by `make_vectors.py` with PyNaCl, each case's
/// verdict given by the official `telnyx` SDK (see PROVENANCE.md there).
const VECTORS: &str = include_str!("../../../tests/fixtures/telnyx/vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vectors.json is JSON")
}

fn config(public_key: &str) -> TelnyxConfig {
    TelnyxConfig {
        public_key: Some(Ed25519PublicKey::from_base64("TELNYX_PUBLIC_KEY", public_key).unwrap()),
        api_key: None,
        messaging_profile_id: None,
        api_base_url: url::Url::parse("https://api.telnyx.com").unwrap(),
    }
}

fn telnyx(public_key: &str) -> Telnyx {
    Telnyx::new(&config(public_key)).unwrap().unwrap()
}

fn request(body: &str, timestamp: Option<&str>, signature: Option<&str>) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(JSON));
    if let Some(t) = timestamp {
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_str(t).unwrap());
    }
    if let Some(s) = signature {
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(s).unwrap());
    }
    WebhookRequest::new(
        Method::POST,
        "/sms/telnyx",
        None,
        headers,
        Bytes::from(body.to_owned()),
    )
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

fn case(v: &Value) -> (WebhookRequest, Timestamp) {
    let s = |k: &str| v[k].as_str().unwrap();
    (
        request(s("body"), Some(s("timestamp")), Some(s("signature"))),
        at(v["now"].as_i64().unwrap()),
    )
}

/// Every case of the SDK-checked vectors: Intake reaches the SDK's verdict, and refuses for
/// the reason the case names.
#[test]
fn vectors_from_telnyx_sdk() {
    let v = vectors();
    let provider = telnyx(v["public_key"].as_str().unwrap());
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 14, "{}", cases.len());
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let (req, now) = case(c);
        let verdict = provider.verify(&req, now);
        match c["refusal"].as_str() {
            None => {
                assert!(c["sdk_valid"].as_bool().unwrap(), "{name}");
                assert!(verdict.is_ok(), "{name}: {verdict:?}");
            }
            Some(reason) => {
                assert!(!c["sdk_valid"].as_bool().unwrap(), "{name}");
                let err = verdict.expect_err(name);
                assert_eq!(err.code(), reason, "{name}: {err:?}");
                assert_eq!(err.status(), 403, "{name}");
            }
        }
    }
}

/// Under the other key of the fixture, every case is refused but the one it signed.
#[test]
fn another_accounts_key_verifies_only_its_own_signature() {
    let v = vectors();
    let provider = telnyx(v["other_public_key"].as_str().unwrap());
    for c in v["cases"].as_array().unwrap() {
        let (req, now) = case(c);
        let own = c["name"] == "signed_by_another_key";
        assert_eq!(provider.verify(&req, now).is_ok(), own, "{}", c["name"]);
    }
}

/// RFC 8032 section 7.1, TEST 1 and 2 (also checked with PyNaCl by the script): the primitive
/// is standard Ed25519.
#[test]
fn rfc8032_vectors() {
    use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let v = vectors();
    let rfc = v["rfc8032"].as_array().unwrap();
    assert_eq!(rfc.len(), 2);
    for t in rfc {
        let key = hex(t["public_key"].as_str().unwrap());
        let message = hex(t["message"].as_str().unwrap());
        let mut signature = hex(t["signature"].as_str().unwrap());
        let key = UnparsedPublicKey::new(&ED25519, key);
        assert!(key.verify(&message, &signature).is_ok(), "{}", t["name"]);
        signature[0] ^= 1;
        assert!(key.verify(&message, &signature).is_err(), "{}", t["name"]);
    }
}

/// The fixture's inbound cases, read as a user would check them.
#[test]
fn parses_sms_mms_and_ignores_receipts() {
    let v = vectors();
    let provider = telnyx(v["public_key"].as_str().unwrap());
    let by_name = |name: &str| {
        let c = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        let (req, now) = case(c);
        provider.verify_and_parse(&req, now).unwrap()
    };
    let sms = by_name("sms");
    assert_eq!(sms.len(), 1);
    let m = &sms[0];
    assert_eq!(m.provider, "telnyx");
    assert_eq!(m.channel, Channel::Sms);
    assert_eq!(
        m.provider_message_id,
        "b0c9d2a4-6d3e-4a8e-9f1b-3c2d1e0f9a8b"
    );
    assert_eq!(m.from.address, "+6281234567890");
    assert_eq!(m.to, "+6221555000");
    assert_eq!(m.body, "Halo, pesanan saya belum sampai. Tolong dicek ya");
    assert!(m.attachments.is_empty());
    assert_eq!(m.keyword, None);

    let mms = by_name("mms_two_media");
    assert_eq!(mms[0].body, "Ini foto paketnya");
    let media: Vec<(Option<&str>, Option<&str>, Option<u64>)> = mms[0]
        .attachments
        .iter()
        .map(|a| (a.url.as_deref(), a.content_type.as_deref(), a.size))
        .collect();
    assert_eq!(
        media,
        [
            (
                Some("https://media.telnyx.com/mms/c1d0e3b5/photo-1.jpg"),
                Some("image/jpeg"),
                Some(180224)
            ),
            (
                Some("https://media.telnyx.com/mms/c1d0e3b5/receipt.pdf"),
                Some("application/pdf"),
                Some(51200)
            ),
        ]
    );

    let unicode = by_name("unicode_text");
    assert_eq!(
        unicode[0].body,
        "Pesanan #1234 belum datang \u{1F61F} \u{2014} mohon bantuannya"
    );
    // Pretty-printed, the same message: the same dedup key.
    assert_eq!(by_name("pretty_printed_body"), sms);
    assert!(by_name("receipt_message_sent").is_empty());
    assert!(by_name("receipt_message_finalized").is_empty());
}

fn event(payload: Value) -> String {
    json!({"data": {"event_type": "message.received", "id": "e1", "payload": payload}}).to_string()
}

#[test]
fn refuses_inbound_messages_missing_what_telnyx_always_sends() {
    let now = at(0);
    let good = json!({
        "id": "7ee4241c-f127-47e5-9c34-3aac291f8058",
        "from": {"phone_number": "+18665550001"},
        "to": [{"phone_number": "+18445550001"}],
        "text": "Hello, World!",
    });
    assert_eq!(parse(event(good.clone()).as_bytes(), now).unwrap().len(), 1);
    for (field, value, code) in [
        ("id", Value::Null, "missing_field"),
        ("id", json!("../../etc"), "malformed_body"),
        ("id", json!(42), "malformed_body"),
        ("from", json!({}), "missing_field"),
        ("from", json!({"phone_number": " "}), "missing_field"),
        ("to", json!([]), "missing_field"),
        ("to", json!("+18445550001"), "missing_field"),
        ("text", json!(["x"]), "malformed_body"),
    ] {
        let mut payload = good.clone();
        payload[field] = value;
        let err = parse(event(payload).as_bytes(), now).expect_err(field);
        assert_eq!(err.code(), code, "{field}: {err:?}");
        assert_eq!(err.status(), 400);
    }
    // A media-only MMS has no text.
    let mut no_text = good.clone();
    no_text["text"] = Value::Null;
    assert_eq!(parse(event(no_text).as_bytes(), now).unwrap()[0].body, "");
    for body in [
        "",
        "[]",
        "{}",
        r#"{"data":{}}"#,
        r#"{"data":{"event_type":"message.received"}}"#,
    ] {
        let err = parse(body.as_bytes(), now).expect_err(body);
        assert_eq!(err.status(), 400, "{body}");
    }
}

#[test]
fn media_without_url_is_dropped_and_at_most_ten_are_kept() {
    let mut items: Vec<Value> = (0..12)
        .map(|i| json!({"url": format!("https://media.telnyx.com/{i}"), "content_type": "image/png"}))
        .collect();
    items.insert(0, json!({"content_type": "image/png"}));
    items.insert(0, json!("not an object"));
    let payload = json!({
        "id": "m1",
        "from": {"phone_number": "+18665550001"},
        "to": [{"phone_number": "+18445550001"}],
        "media": items,
    });
    let message = parse(event(payload).as_bytes(), at(0)).unwrap().remove(0);
    assert_eq!(message.attachments.len(), 10);
    assert_eq!(
        message.attachments[0].url.as_deref(),
        Some("https://media.telnyx.com/0")
    );
}

#[test]
fn refuses_missing_headers_bad_signatures_and_other_media_types() {
    let v = vectors();
    let provider = telnyx(v["public_key"].as_str().unwrap());
    let sms = &v["cases"][0];
    let (body, timestamp, signature) = (
        sms["body"].as_str().unwrap(),
        sms["timestamp"].as_str().unwrap(),
        sms["signature"].as_str().unwrap(),
    );
    let now = at(sms["now"].as_i64().unwrap());
    let code = |req: WebhookRequest| provider.verify(&req, now).unwrap_err().code();
    assert_eq!(
        code(request(body, None, Some(signature))),
        "missing_signature"
    );
    assert_eq!(
        code(request(body, Some(timestamp), None)),
        "missing_signature"
    );
    for bad in ["", "not base64!", "AAAA", &format!("{signature}AAAA")] {
        assert_eq!(
            code(request(body, Some(timestamp), Some(bad))),
            "bad_signature"
        );
    }
    let mut text = request(body, Some(timestamp), Some(signature));
    text.headers
        .insert("content-type", HeaderValue::from_static("text/plain"));
    assert_eq!(code(text), "unsupported_media_type");
    // Surrounding whitespace in the signature header is tolerated, as the SDKs' decoders do.
    assert!(
        provider
            .verify(
                &request(body, Some(timestamp), Some(&format!(" {signature} "))),
                now
            )
            .is_ok()
    );
}

#[test]
fn signing_helpers_make_what_the_verifier_accepts() {
    let seed = [7u8; 32];
    let key = public_key_of(&seed).unwrap();
    let provider = telnyx(&key);
    let body = event(json!({
        "id": "m1",
        "from": {"phone_number": "+6281234567890"},
        "to": [{"phone_number": "+6221555000"}],
        "text": "halo",
    }));
    let signature = sign(&seed, "1796025600", body.as_bytes()).unwrap();
    let req = request(&body, Some("1796025600"), Some(&signature));
    assert!(provider.verify(&req, at(1796025600)).is_ok());
    assert!(provider.verify(&req, at(1796025600 + 301)).is_err());
    // A signed timestamp that is not a number proves the request but gives no time to
    // check: refused as stale.
    let signature = sign(&seed, "soon", body.as_bytes()).unwrap();
    let req = request(&body, Some("soon"), Some(&signature));
    assert_eq!(
        provider.verify(&req, at(0)).unwrap_err().code(),
        "stale_request"
    );
}

#[test]
fn config_refuses_keys_of_the_wrong_size_or_small_order() {
    let check = |v: &str| Ed25519PublicKey::from_base64("TELNYX_PUBLIC_KEY", v);
    let v = vectors();
    assert!(check(v["public_key"].as_str().unwrap()).is_ok());
    for bad in [
        "not base64",
        "AAAA",
        // 31 and 33 bytes.
        "9tAV2/2USWhxhS/etCw5UjJrg/uJvCagmJsLL3F2lw==",
        "9tAV2/2USWhxhS/etCw5UjJrg/uJvCagmJsLL3F2lx8A",
    ] {
        assert!(
            matches!(
                check(bad),
                Err(ConfigError::Invalid {
                    name: "TELNYX_PUBLIC_KEY",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        check(" \n"),
        Err(ConfigError::EmptySecret("TELNYX_PUBLIC_KEY"))
    ));
    // The small-order points libsodium refuses as keys (the script lists them with PyNaCl's
    // verdict), with and without the sign bit.
    let weak = v["weak_public_keys"].as_array().unwrap();
    assert_eq!(weak.len(), 14);
    for w in weak {
        assert!(!w["libsodium_valid_point"].as_bool().unwrap());
        let key = w["public_key"].as_str().unwrap();
        assert!(
            matches!(check(key), Err(ConfigError::Invalid { .. })),
            "{key}"
        );
    }
}

#[test]
fn sender_body_and_profile() {
    let mut c = config(vectors()["public_key"].as_str().unwrap());
    assert!(
        TelnyxSender::new(&c, reqwest::Client::new())
            .unwrap()
            .is_none()
    );
    c.api_key = Some(Secret::new("KEY0123456789"));
    c.messaging_profile_id = Some("40017f8e-49bd-4f16-9e3d-ef103f916228".into());
    let sender = TelnyxSender::new(&c, reqwest::Client::new())
        .unwrap()
        .unwrap();
    assert_eq!(sender.endpoint, "https://api.telnyx.com/v2/messages");
    let now = at(0);
    let message = OutboundMessage {
        to: "+6281234567890".into(),
        from: "+6221555000".into(),
        body: "Terima kasih".into(),
        html: None,
        subject: None,
        in_reply_to: "m1".into(),
        references: Vec::new(),
        ticket_reference: "T-1".into(),
        reply_token: None,
        customer_wrote_at: now,
        now,
    };
    assert_eq!(
        sender.body(&message),
        json!({
            "from": "+6221555000",
            "to": "+6281234567890",
            "text": "Terima kasih",
            "messaging_profile_id": "40017f8e-49bd-4f16-9e3d-ef103f916228",
        })
    );
    c.api_key = Some(Secret::new(" "));
    assert!(matches!(
        TelnyxSender::new(&c, reqwest::Client::new()),
        Err(ConfigError::EmptySecret("TELNYX_API_KEY"))
    ));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "id",
                        "phone_number",
                        "url",
                        "content_type",
                        "size",
                        "text",
                        "x"
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    /// Arbitrary bytes: verify and parse never panic, and every refusal is a 4xx.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        timestamp in ".{0,16}",
        signature in ".{0,100}",
    ) {
        let provider = telnyx(vectors()["public_key"].as_str().unwrap());
        let mut req = request("", None, None);
        if let Ok(t) = HeaderValue::from_str(&timestamp) {
            req.headers.insert(TIMESTAMP_HEADER, t);
        }
        if let Ok(s) = HeaderValue::from_str(&signature) {
            req.headers.insert(SIGNATURE_HEADER, s);
        }
        req.body = Bytes::from(body);
        if let Err(e) = provider.verify(&req, at(0)) {
            prop_assert!((400..500).contains(&e.status()));
        }
        if let Err(e) = provider.parse(&req, at(0)) {
            prop_assert!((400..500).contains(&e.status()));
        }
    }

    /// JSON shaped like a Telnyx webhook, with any value where a field is expected.
    #[test]
    fn json_shaped_input_never_panics(
        event_type in prop_oneof![Just(json!("message.received")), json_value()],
        id in json_value(),
        from in json_value(),
        to in prop_oneof![json_value(), json_value().prop_map(|v| json!([{"phone_number": v}]))],
        text in json_value(),
        media in json_value(),
    ) {
        let body = json!({"data": {"event_type": event_type, "payload": {
            "id": id, "from": from, "to": to, "text": text, "media": media,
        }}})
        .to_string();
        match parse(body.as_bytes(), at(0)) {
            Ok(messages) => prop_assert!(messages.len() <= 1),
            Err(e) => prop_assert!((400..500).contains(&e.status())),
        }
    }
}
