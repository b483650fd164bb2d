//! Verify + parse + build-the-transaction of a typical Twilio SMS webhook, in process, no I/O.
//!
//! Run: `cargo bench -p intake --bench twilio_webhook`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use jiff::Timestamp;

use intake::WebhookRequest;
use intake::config::{Secret, TwilioConfig};
use intake::ids::TicketIds;
use intake::providers::Provider;
use intake::providers::twilio::{Twilio, signature};
use intake::store::{Target, plan};

const URL: &str = "https://abc123.execute-api.ap-southeast-3.amazonaws.com/sms/twilio";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// The fields Twilio posts for an inbound SMS (about 650 bytes url-encoded).
fn typical_request() -> WebhookRequest {
    let form: Vec<(String, String)> = [
        ("ToCountry", "ID"),
        ("ToState", ""),
        ("SmsMessageSid", "SM5f1c7a0d3b2e4f6a8c9d0e1f2a3b4c5d"),
        ("NumMedia", "0"),
        ("ToCity", ""),
        ("FromZip", ""),
        ("SmsSid", "SM5f1c7a0d3b2e4f6a8c9d0e1f2a3b4c5d"),
        ("FromState", ""),
        ("SmsStatus", "received"),
        ("FromCity", ""),
        ("Body", "Halo, pesanan saya dengan nomor INV-2026-118842 belum sampai sejak hari Senin. Mohon dibantu dicek ya, terima kasih."),
        ("FromCountry", "ID"),
        ("To", "+6221555000"),
        ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
        ("ToZip", ""),
        ("NumSegments", "1"),
        ("MessageSid", "SM5f1c7a0d3b2e4f6a8c9d0e1f2a3b4c5d"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "+6281234567890"),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(
        "x-twilio-signature",
        HeaderValue::from_str(&signature(TOKEN, URL, &form)).expect("base64 is a header value"),
    );
    let mut req = WebhookRequest::new(
        Method::POST,
        "/sms/twilio",
        None,
        headers,
        Bytes::from(body),
    );
    req.public_url = URL.to_owned();
    req
}

fn bench(c: &mut Criterion) {
    let twilio = Twilio::new(&TwilioConfig {
        account_sid: "AC0123456789abcdef0123456789abcdef".into(),
        auth_token: Secret::new(TOKEN),
        api_base_url: url::Url::parse("https://api.twilio.com").expect("url"),
    })
    .expect("token set");
    let req = typical_request();
    let now = Timestamp::now();
    assert!(twilio.verify(&req, now).is_ok());

    c.bench_function("twilio/verify", |b| {
        b.iter(|| twilio.verify(black_box(&req), now))
    });
    c.bench_function("twilio/parse", |b| {
        b.iter(|| twilio.parse(black_box(&req), now))
    });
    let message = twilio.parse(&req, now).expect("parses").remove(0);
    c.bench_function("store/plan_new_ticket", |b| {
        b.iter(|| {
            let target = Target::New {
                ids: TicketIds::generate(),
                replaces_closed: None,
            };
            plan("intake", black_box(&message), &target, now)
        })
    });
    let kilobyte = [0x5au8; 1024];
    c.bench_function("reference/hmac_sha1_1KiB", |b| {
        b.iter(|| intake::verify::hmac_sha1(black_box(b"token"), &[black_box(&kilobyte)]))
    });
    c.bench_function("twilio/verify+parse+transaction", |b| {
        b.iter(|| {
            twilio.verify(black_box(&req), now).expect("verifies");
            let messages = twilio.parse(&req, now).expect("parses");
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
