//! Verify + parse of a typical Telnyx inbound SMS webhook, in process, no I/O, measured as
//! `twilio_webhook` measures Twilio's. The request is the `sms` case of
//! `tests/fixtures/telnyx/vectors.json` (signed with PyNaCl, accepted by Telnyx's SDK).
//!
//! Run: `cargo bench -p intake --bench telnyx_webhook`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use jiff::Timestamp;

use intake::WebhookRequest;
use intake::config::{Ed25519PublicKey, TelnyxConfig};
use intake::providers::Provider;
use intake::providers::telnyx::Telnyx;

const VECTORS: &str = include_str!("../../tests/fixtures/telnyx/vectors.json");

fn bench(c: &mut Criterion) {
    let vectors: serde_json::Value = serde_json::from_str(VECTORS).expect("JSON");
    let case = &vectors["cases"][0];
    assert_eq!(case["name"], "sms");
    let text = |v: &serde_json::Value| v.as_str().expect("text").to_owned();
    let telnyx = Telnyx::new(&TelnyxConfig {
        public_key: Some(
            Ed25519PublicKey::from_base64("TELNYX_PUBLIC_KEY", &text(&vectors["public_key"]))
                .expect("key"),
        ),
        api_key: None,
        messaging_profile_id: None,
        api_base_url: url::Url::parse("https://api.telnyx.com").expect("url"),
    })
    .expect("configured")
    .expect("webhook side");
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, field) in [
        ("telnyx-signature-ed25519", "signature"),
        ("telnyx-timestamp", "timestamp"),
    ] {
        headers.insert(
            name,
            HeaderValue::from_str(&text(&case[field])).expect("header"),
        );
    }
    let req = WebhookRequest::new(
        Method::POST,
        "/sms/telnyx",
        None,
        headers,
        Bytes::from(text(&case["body"])),
    );
    let now = Timestamp::from_second(case["now"].as_i64().expect("now")).expect("time");
    assert!(telnyx.verify(&req, now).is_ok());
    assert_eq!(telnyx.parse(&req, now).expect("parses").len(), 1);

    c.bench_function("telnyx/verify", |b| {
        b.iter(|| telnyx.verify(black_box(&req), now))
    });
    c.bench_function("telnyx/parse", |b| {
        b.iter(|| telnyx.parse(black_box(&req), now))
    });
    c.bench_function("telnyx/verify+parse", |b| {
        b.iter(|| {
            telnyx
                .verify_and_parse(black_box(&req), now)
                .expect("verifies and parses")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
