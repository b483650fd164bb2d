//! Verify + parse of typical MessageBird / Bird SMS webhooks, in process, no I/O: a legacy
//! form POST with its `MessageBird-Signature-JWT`, and a Bird `sms.inbound` event with its
//! `messagebird-signature` (both from `tests/fixtures/messagebird/vectors.json`). Measured as
//! `twilio_webhook` measures Twilio, for the "within 2× of Twilio" check.
//!
//! Run: `cargo bench -p intake --bench messagebird_webhook`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use jiff::Timestamp;
use serde_json::Value;

use intake::config::{MessageBirdConfig, Secret};
use intake::providers::Provider;
use intake::providers::messagebird::{
    BIRD_SIGNATURE_HEADER, BIRD_TIMESTAMP_HEADER, JWT_HEADER, MessageBird,
};
use intake::request::WebhookRequest;

const VECTORS: &str = include_str!("../../tests/fixtures/messagebird/vectors.json");

fn case<'a>(cases: &'a Value, name: &str) -> &'a Value {
    cases
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .expect("vector present")
}

fn request(
    case: &Value,
    content_type: &'static str,
    headers: &[(&'static str, &str)],
) -> WebhookRequest {
    let mut map = HeaderMap::new();
    map.insert("content-type", HeaderValue::from_static(content_type));
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).expect("header"));
    }
    let url = case["url"].as_str().expect("url");
    let mut req = WebhookRequest::new(
        Method::POST,
        "/prod/sms/messagebird",
        url.split_once('?').map(|(_, q)| q.to_owned()),
        map,
        Bytes::from(case["body"].as_str().expect("body").to_owned()),
    );
    req.public_url = url.to_owned();
    req
}

fn bench(c: &mut Criterion) {
    let vectors: Value = serde_json::from_str(VECTORS).expect("vectors");
    let provider = MessageBird::new(&MessageBirdConfig {
        signing_key: vectors["signing_key"].as_str().map(Secret::new),
        bird_signing_key: vectors["bird_signing_key"].as_str().map(Secret::new),
        access_key: None,
        api_base_url: url::Url::parse("https://rest.messagebird.com").expect("url"),
        bird_access_key: None,
        bird_workspace_id: None,
        bird_api_base_url: url::Url::parse("https://api.bird.com").expect("url"),
    })
    .expect("keys")
    .expect("webhook side configured");

    let legacy = case(&vectors["legacy"], "POST form");
    let legacy_req = request(
        legacy,
        "application/x-www-form-urlencoded",
        &[(JWT_HEADER, legacy["token"].as_str().expect("token"))],
    );
    let legacy_now = Timestamp::from_second(legacy["now"].as_i64().expect("now")).expect("now");
    let bird = case(&vectors["bird"], "valid");
    let bird_req = request(
        bird,
        "application/json",
        &[
            (
                BIRD_SIGNATURE_HEADER,
                bird["signature"].as_str().expect("signature"),
            ),
            (
                BIRD_TIMESTAMP_HEADER,
                bird["timestamp"].as_str().expect("timestamp"),
            ),
        ],
    );
    let bird_now = Timestamp::from_second(bird["now"].as_i64().expect("now")).expect("now");
    assert_eq!(
        provider
            .verify_and_parse(&legacy_req, legacy_now)
            .map(|m| m.len())
            .ok(),
        Some(1)
    );
    assert_eq!(
        provider
            .verify_and_parse(&bird_req, bird_now)
            .map(|m| m.len())
            .ok(),
        Some(1)
    );

    c.bench_function("messagebird/legacy_verify", |b| {
        b.iter(|| provider.verify(black_box(&legacy_req), legacy_now))
    });
    c.bench_function("messagebird/legacy_verify+parse", |b| {
        b.iter(|| provider.verify_and_parse(black_box(&legacy_req), legacy_now))
    });
    c.bench_function("messagebird/bird_verify", |b| {
        b.iter(|| provider.verify(black_box(&bird_req), bird_now))
    });
    c.bench_function("messagebird/bird_verify+parse", |b| {
        b.iter(|| provider.verify_and_parse(black_box(&bird_req), bird_now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
