//! Meta webhook verification, parsing and Graph request shapes.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

const SECRET: &str = "meta-app-secret";

fn meta() -> Meta {
    Meta {
        app_secret: Secret::new(SECRET),
        verify_token: Secret::new("verify-me"),
    }
}

fn sign(body: &[u8]) -> String {
    let mac = hmac_sha256(SECRET.as_bytes(), &[body]);
    format!(
        "sha256={}",
        mac.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn post(body: &str, signature: Option<&str>) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(s) = signature {
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(s).unwrap());
    }
    WebhookRequest::new(
        Method::POST,
        "/social/meta",
        None,
        headers,
        Bytes::from(body.to_owned()),
    )
}

fn get(query: &str) -> WebhookRequest {
    WebhookRequest::new(
        Method::GET,
        "/social/meta",
        Some(query.into()),
        HeaderMap::new(),
        Bytes::new(),
    )
}

/// GitHub documents the same `sha256=` HMAC-SHA256 header scheme with a worked example
/// (docs.github.com, "Validating webhook deliveries"): secret "It's a Secret to Everybody",
/// payload "Hello, World!".
#[test]
fn published_hmac_sha256_header_vector() {
    let mac = hmac_sha256(b"It's a Secret to Everybody", &[b"Hello, World!"]);
    assert_eq!(
        decode_hex("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17").unwrap(),
        mac.to_vec()
    );
}

#[test]
fn signature_over_escaped_unicode_verifies_only_on_the_raw_bytes() {
    // As Meta sends it: "é" and "🙏" escaped.
    let raw = r#"{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"message":{"mid":"m1","text":"Caf\u00e9 \ud83d\ude4f"}}]}]}"#;
    let now = Timestamp::UNIX_EPOCH;
    assert!(
        meta()
            .verify(&post(raw, Some(&sign(raw.as_bytes()))), now)
            .is_ok()
    );
    // Re-serialized JSON has the characters unescaped: its bytes differ, so does the MAC.
    let reserialized =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(raw).unwrap()).unwrap();
    assert_ne!(reserialized, raw);
    assert!(matches!(
        meta().verify(&post(&reserialized, Some(&sign(raw.as_bytes()))), now),
        Err(WebhookError::BadSignature)
    ));
    let msgs = meta().parse(&post(raw, None), now).unwrap();
    assert_eq!(msgs[0].body, "Café 🙏");
}

#[test]
fn tampering_missing_and_malformed_signatures_are_refused() {
    let raw = r#"{"object":"page","entry":[]}"#;
    let now = Timestamp::UNIX_EPOCH;
    let mut tampered = raw.as_bytes().to_vec();
    tampered[3] ^= 1;
    let req = post(
        std::str::from_utf8(&tampered).unwrap(),
        Some(&sign(raw.as_bytes())),
    );
    assert!(matches!(
        meta().verify(&req, now),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        meta().verify(&post(raw, None), now),
        Err(WebhookError::MissingSignature(_))
    ));
    for bad in ["sha1=abc", "sha256=zz", "sha256=abc", ""] {
        assert!(meta().verify(&post(raw, Some(bad)), now).is_err(), "{bad}");
    }
}

#[test]
fn handshake() {
    let ok = meta()
        .handshake(&get(
            "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444",
        ))
        .unwrap()
        .unwrap();
    assert_eq!((ok.status, ok.body.as_str()), (200, "1158201444"));
    assert!(ok.content_type.starts_with("text/plain"));
    assert!(matches!(
        meta().handshake(&get(
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"
        )),
        Some(Err(WebhookError::HandshakeRefused))
    ));
    assert!(matches!(
        meta().handshake(&get(
            "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=%3Cscript%3E"
        )),
        Some(Err(WebhookError::Malformed(_)))
    ));
    assert!(
        meta().handshake(&get("")).is_none(),
        "a plain GET is not a handshake"
    );
    assert!(meta().handshake(&post("{}", None)).is_none());
}

/// A Messenger batch: `entries` entries × `per_entry` messages, plus noise that must be
/// ignored in each entry (echo, delivery, read, reaction).
pub(crate) fn messenger_batch(entries: usize, per_entry: usize) -> String {
    let entry = |e: usize| {
        let mut events: Vec<serde_json::Value> = (0..per_entry)
            .map(|m| serde_json::json!({
                "sender": {"id": format!("PSID{e}")}, "recipient": {"id": "PAGE1"}, "timestamp": 1795334400000u64,
                "message": {"mid": format!("m_{e}_{m}"), "text": format!("Halo, pesan {m} dari {e}")}
            }))
            .collect();
        events.push(
            serde_json::json!({"sender": {"id": "PAGE1"}, "recipient": {"id": format!("PSID{e}")},
            "message": {"mid": format!("echo_{e}"), "is_echo": true, "text": "our own"}}),
        );
        events.push(
            serde_json::json!({"sender": {"id": format!("PSID{e}")}, "recipient": {"id": "PAGE1"},
            "delivery": {"mids": ["x"], "watermark": 1}}),
        );
        events.push(
            serde_json::json!({"sender": {"id": format!("PSID{e}")}, "recipient": {"id": "PAGE1"},
            "read": {"watermark": 1}}),
        );
        events.push(
            serde_json::json!({"sender": {"id": format!("PSID{e}")}, "recipient": {"id": "PAGE1"},
            "reaction": {"mid": "m", "action": "react", "emoji": "❤"}}),
        );
        serde_json::json!({"id": "PAGE1", "time": 1795334400000u64, "messaging": events})
    };
    serde_json::json!({"object": "page", "entry": (0..entries).map(entry).collect::<Vec<_>>()})
        .to_string()
}

#[test]
fn every_entry_and_message_of_a_batch_is_read_and_noise_is_not() {
    let msgs = meta()
        .parse(&post(&messenger_batch(3, 2), None), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(msgs.len(), 6);
    let ids: Vec<_> = msgs
        .iter()
        .map(|m| m.provider_message_id.as_str())
        .collect();
    assert_eq!(ids, ["m_0_0", "m_0_1", "m_1_0", "m_1_1", "m_2_0", "m_2_1"]);
    assert_eq!(msgs[2].from.address, "messenger:PSID1");
    assert_eq!(msgs[2].to, "messenger:PAGE1");
}

#[test]
fn instagram_with_attachment() {
    let raw = serde_json::json!({"object": "instagram", "entry": [{"id": "IG1", "time": 1, "messaging": [
        {"sender": {"id": "IGSID9"}, "recipient": {"id": "IG1"}, "timestamp": 1,
         "message": {"mid": "aWdfZ", "attachments": [{"type": "image", "payload": {"url": "https://lookaside.example/img"}}]}}
    ]}]}).to_string();
    let msgs = meta()
        .parse(&post(&raw, None), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].from.address, "instagram:IGSID9");
    assert_eq!(msgs[0].body, "");
    assert_eq!(
        msgs[0].attachments[0].content_type.as_deref(),
        Some("image")
    );
    assert_eq!(
        msgs[0].attachments[0].url.as_deref(),
        Some("https://lookaside.example/img")
    );
}

pub(crate) fn whatsapp_batch() -> String {
    serde_json::json!({"object": "whatsapp_business_account", "entry": [
        {"id": "WABA1", "changes": [
            {"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "6221555000", "phone_number_id": "PN1"},
                "contacts": [{"profile": {"name": "Budi"}, "wa_id": "6281234567890"},
                             {"profile": {"name": "Sari"}, "wa_id": "6281111111111"}],
                "messages": [
                    {"from": "6281234567890", "id": "wamid.A", "timestamp": "1795334400", "type": "text", "text": {"body": "Pesanan saya belum sampai"}},
                    {"from": "6281111111111", "id": "wamid.B", "timestamp": "1795334401", "type": "image",
                     "image": {"id": "MEDIA1", "mime_type": "image/jpeg", "sha256": "x", "caption": "Foto paket"}},
                    {"from": "6281111111111", "id": "wamid.C", "timestamp": "1795334402", "type": "reaction",
                     "reaction": {"message_id": "wamid.X", "emoji": "👍"}}
                ]}},
            {"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "6221555000", "phone_number_id": "PN1"},
                "statuses": [{"id": "wamid.OUT", "status": "delivered", "timestamp": "1", "recipient_id": "6281234567890"}]}}
        ]}
    ]}).to_string()
}

#[test]
fn whatsapp_messages_with_names_media_and_ignored_reactions_and_statuses() {
    let msgs = meta()
        .parse(&post(&whatsapp_batch(), None), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].from.address, "whatsapp:6281234567890");
    assert_eq!(msgs[0].from.name.as_deref(), Some("Budi"));
    assert_eq!(msgs[0].to, "whatsapp:PN1");
    assert_eq!(msgs[0].provider_message_id, "wamid.A");
    assert_eq!(msgs[1].body, "Foto paket");
    assert_eq!(
        msgs[1].attachments[0].url.as_deref(),
        Some("whatsapp-media:MEDIA1")
    );
    assert_eq!(
        msgs[1].attachments[0].content_type.as_deref(),
        Some("image/jpeg")
    );
}

#[test]
fn bad_payloads_are_400s() {
    let now = Timestamp::UNIX_EPOCH;
    let cases = [
        ("not json", "malformed_body"),
        (r#"{"entry":[]}"#, "malformed_body"),
        (r#"{"object":"user","entry":[]}"#, "malformed_body"),
        (
            r#"{"object":"page","entry":[{"messaging":[{"recipient":{"id":"1"},"message":{"mid":"m","text":"x"}}]}]}"#,
            "missing_field",
        ),
        (
            r#"{"object":"page","entry":[{"messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"message":{"text":"x"}}]}]}"#,
            "missing_field",
        ),
        (
            r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"w","type":"text","text":{"body":"x"}}]}}]}]}"#,
            "missing_field",
        ),
    ];
    for (body, code) in cases {
        let err = meta().parse(&post(body, None), now).unwrap_err();
        assert_eq!(err.code(), code, "{body}");
        assert_eq!(err.status(), 400);
    }
}

fn sender(template: Option<(&str, &str)>) -> MetaSender {
    MetaSender {
        graph: "https://graph.example/v21.0".into(),
        page_token: Some(Secret::new("page")),
        whatsapp_token: Some(Secret::new("wa")),
        whatsapp_template: template.map(|(n, l)| (n.into(), l.into())),
        http: reqwest::Client::new(),
    }
}

fn outbound(to: &str, from: &str, hours_late: i64) -> OutboundMessage {
    let now: Timestamp = "2026-11-28T03:00:00Z".parse().unwrap();
    OutboundMessage {
        to: to.into(),
        from: from.into(),
        body: "Halo Kak! Tiket #K7F3Q2".into(),
        html: None,
        subject: None,
        in_reply_to: "wamid.A".into(),
        references: vec![],
        ticket_reference: "K7F3Q2".into(),
        reply_token: None,
        customer_wrote_at: now - SignedDuration::from_hours(hours_late),
        now,
    }
}

#[test]
fn graph_requests_per_app() {
    let s = sender(None);
    let (url, _, body) = s
        .request(&outbound("messenger:PSID1", "messenger:PAGE1", 0))
        .unwrap();
    assert_eq!(url, "https://graph.example/v21.0/PAGE1/messages");
    assert_eq!(body["recipient"]["id"], "PSID1");
    assert_eq!(body["messaging_type"], "RESPONSE");
    let (url, _, body) = s
        .request(&outbound("instagram:IGSID", "instagram:IG1", 0))
        .unwrap();
    assert_eq!(url, "https://graph.example/v21.0/IG1/messages");
    assert_eq!(body["message"]["text"], "Halo Kak! Tiket #K7F3Q2");
    let (url, _, body) = s
        .request(&outbound("whatsapp:628123", "whatsapp:PN1", 0))
        .unwrap();
    assert_eq!(url, "https://graph.example/v21.0/PN1/messages");
    assert_eq!(body["to"], "628123");
    assert_eq!(body["context"]["message_id"], "wamid.A");
    assert_eq!(body["type"], "text");
}

#[test]
fn outside_the_24_hour_window() {
    let late = outbound("whatsapp:628123", "whatsapp:PN1", 25);
    assert_eq!(
        sender(None).request(&late).unwrap_err(),
        SendError::NotAllowed("outside_24h_window_no_template".into())
    );
    let (_, _, body) = sender(Some(("ticket_received", "id")))
        .request(&late)
        .unwrap();
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "ticket_received");
    assert_eq!(body["template"]["language"]["code"], "id");
    assert_eq!(
        body["template"]["components"][0]["parameters"][0]["text"],
        "K7F3Q2"
    );
    assert_eq!(
        sender(None)
            .request(&outbound("messenger:P", "messenger:PAGE", 25))
            .unwrap_err(),
        SendError::NotAllowed("outside_24h_window".into())
    );
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..1024)) {
        let mut req = post("", None);
        req.body = Bytes::from(body);
        let _ = meta().parse(&req, Timestamp::UNIX_EPOCH);
        let _ = meta().verify(&req, Timestamp::UNIX_EPOCH);
    }

    #[test]
    fn parse_never_panics_on_meta_shaped_json(
        object in proptest::sample::select(vec!["page", "instagram", "whatsapp_business_account", "x"]),
        ids in proptest::collection::vec(proptest::option::of("[a-z0-9.]{0,8}"), 0..6),
        text in proptest::option::of(".{0,20}"),
        echo in proptest::bool::ANY,
    ) {
        let events: Vec<_> = ids.iter().map(|id| serde_json::json!({
            "sender": {"id": id}, "recipient": {"id": id},
            "message": {"mid": id, "text": text, "is_echo": echo}
        })).collect();
        let messages: Vec<_> = ids.iter().map(|id| serde_json::json!({
            "from": id, "id": id, "type": "text", "text": {"body": text}
        })).collect();
        let body = serde_json::json!({"object": object, "entry": [
            {"messaging": events, "changes": [{"field": "messages", "value": {"metadata": {"phone_number_id": ids.first()}, "messages": messages}}]}
        ]}).to_string();
        let _ = meta().parse(&post(&body, None), Timestamp::UNIX_EPOCH);
    }
}

/// Ids and the object are read without copying when Meta wrote them plainly; escaped, they
/// are unescaped as before.
#[test]
fn escaped_ids_and_object_read_as_their_text() {
    let raw = r#"{"object":"p\u0061ge","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"24\u0036813579"},"recipient":{"id":"1000\/1"},"timestamp":1,"message":{"mid":"m_\u0041b","text":"hi"}}]}]}"#;
    let msgs = meta()
        .parse(&post(raw, None), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].from.address, "messenger:246813579");
    assert_eq!(msgs[0].to, "messenger:1000/1");
    assert_eq!(msgs[0].provider_message_id, "m_Ab");
    let blank = raw.replace(r#""24\u0036813579""#, r#"" \u0020""#);
    assert!(matches!(
        meta().parse(&post(&blank, None), Timestamp::UNIX_EPOCH),
        Err(WebhookError::MissingField("sender.id"))
    ));
}
