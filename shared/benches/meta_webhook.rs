//! Verify + parse of a 10-message Meta (Messenger) batch, in process, no I/O.
//!
//! Run: `cargo bench -p intake --bench meta_webhook`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use jiff::Timestamp;

use intake::WebhookRequest;
use intake::config::{MetaConfig, Secret};
use intake::providers::Provider;
use intake::providers::meta::Meta;
use intake::verify::hmac_sha256;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Five entries of two messages each, as Meta batches busy pages, with the escaped
/// non-ASCII text Meta sends (about 3 KB).
fn batch() -> String {
    let entries: Vec<serde_json::Value> = (0..5)
        .map(|e| {
            let events: Vec<serde_json::Value> = (0..2)
                .map(|m| serde_json::json!({
                    "sender": {"id": format!("2468{e}13579{m}")},
                    "recipient": {"id": "100000000000001"},
                    "timestamp": 1795334400000u64,
                    "message": {
                        "mid": format!("m_AbCdEfGhIjKlMnOpQrStUvWxYz{e}{m}0123456789"),
                        "text": "Halo kak, pesanan saya INV-2026-118842 belum sampai, tolong dicek ya \u{1f64f}"
                    }
                }))
                .collect();
            serde_json::json!({"id": "100000000000001", "time": 1795334400000u64, "messaging": events})
        })
        .collect();
    let json = serde_json::json!({"object": "page", "entry": entries}).to_string();
    let mut escaped = String::new();
    for c in json.chars() {
        if c.is_ascii() {
            escaped.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                escaped.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    escaped
}

fn bench(c: &mut Criterion) {
    let meta = Meta::new(&MetaConfig {
        app_secret: Some(Secret::new(SECRET)),
        verify_token: Some(Secret::new("v")),
        page_access_token: None,
        whatsapp_token: None,
        graph_base_url: url::Url::parse("https://graph.facebook.com").expect("url"),
        graph_version: "v21.0".into(),
        whatsapp_template: None,
    })
    .expect("secrets not blank")
    .expect("webhook secrets configured");
    let body = batch();
    let mac = hmac_sha256(SECRET.as_bytes(), &[body.as_bytes()]);
    let signature: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&format!("sha256={signature}")).expect("header"),
    );
    let req = WebhookRequest::new(
        Method::POST,
        "/social/meta",
        None,
        headers,
        Bytes::from(body),
    );
    let now = Timestamp::now();
    assert!(meta.verify(&req, now).is_ok());
    assert_eq!(meta.parse(&req, now).expect("parses").len(), 10);

    c.bench_function("meta/verify_10_message_batch", |b| {
        b.iter(|| meta.verify(black_box(&req), now))
    });
    c.bench_function("meta/verify+parse_10_message_batch", |b| {
        b.iter(|| {
            meta.verify(black_box(&req), now).expect("verifies");
            meta.parse(&req, now).expect("parses")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
