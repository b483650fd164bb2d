//! Verify + parse + build-the-transaction of a typical Plivo SMS webhook, in process, no I/O,
//! measured as `twilio_webhook` measures Twilio's (issue 11: within 2x of Twilio's figure).
//! The nonce claim (one conditional PutItem) is I/O and not part of it, as the ingest's
//! transaction is not.
//!
//! Run: `cargo bench -p intake --bench plivo_webhook`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use jiff::Timestamp;

use intake::WebhookRequest;
use intake::config::{PlivoConfig, Secret};
use intake::ids::TicketIds;
use intake::providers::Provider;
use intake::providers::plivo::{NONCE_HEADER, Plivo, SIGNATURE_HEADER, signature};
use intake::store::{Target, plan};

/// The URL Plivo called (the signature covers it).
const URL: &str = "https://abc123.execute-api.ap-southeast-3.amazonaws.com/sms/plivo";
/// The auth token of the fixture account (Plivo's are 40 characters).
const TOKEN: &str = "ZjA1NmQ4YzM5ZTRhYjI3MTBiOGU2ZDQ1YTkzMmM0";
const NONCE: &str = "05429567804466091622";

/// The fields Plivo posts for an inbound SMS, with the same text as Twilio's benchmark.
fn request() -> WebhookRequest {
    let form = [
        ("From", "6281234567890"),
        ("To", "6221555000"),
        (
            "Text",
            "Halo, pesanan saya dengan nomor INV-2026-118842 belum sampai sejak hari Senin. Mohon dibantu dicek ya, terima kasih.",
        ),
        ("Type", "sms"),
        ("MessageUUID", "3d1f8a52-9c4e-11ef-a6b1-0242ac110002"),
        ("Units", "1"),
        ("TotalRate", "0.00000"),
        ("TotalAmount", "0.00000"),
        ("MessageIntent", ""),
        ("PowerpackUUID", ""),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let sig = signature(TOKEN, false, URL, body.as_bytes(), NONCE);
    headers.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_str(&sig).expect("ascii"),
    );
    headers.insert(NONCE_HEADER, HeaderValue::from_static(NONCE));
    let mut req = WebhookRequest::new(Method::POST, "/sms/plivo", None, headers, Bytes::from(body));
    req.public_url = URL.to_owned();
    req
}

fn bench(c: &mut Criterion) {
    let plivo = Plivo::new(&PlivoConfig {
        auth_id: "MA0000000000000000AA".into(),
        auth_token: Secret::new(TOKEN),
        main_auth_token: None,
        api_base_url: url::Url::parse("https://api.plivo.com").expect("url"),
    })
    .expect("token set");
    let req = request();
    let now = Timestamp::now();
    assert!(plivo.verify(&req, now).is_ok());

    c.bench_function("plivo/verify", |b| {
        b.iter(|| plivo.verify(black_box(&req), now))
    });
    c.bench_function("plivo/parse", |b| {
        b.iter(|| plivo.parse(black_box(&req), now))
    });
    c.bench_function("plivo/verify+parse+transaction", |b| {
        b.iter(|| {
            // As the webhook runs it: the form decoded once for both.
            let messages = plivo
                .verify_and_parse(black_box(&req), now)
                .expect("verifies and parses");
            let target = Target::New {
                ids: TicketIds::generate(),
                replaces_closed: None,
            };
            plan("intake", &messages[0], &target, now)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
