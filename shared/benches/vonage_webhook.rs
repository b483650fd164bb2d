//! Verify + parse of typical Vonage inbound SMS webhooks, in process, no I/O: an SMS API form
//! POST signed with each method, and a Messages API JSON POST with its HS256 JWT. Measured
//! the same way as `twilio_webhook` (the issue asks for within 2x of Twilio's figure).
//!
//! Run: `cargo bench -p intake --bench vonage_webhook`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use jiff::Timestamp;

use intake::WebhookRequest;
use intake::config::{Secret, VonageConfig, VonageSendApi, VonageSignatureMethod};
use intake::providers::Provider;
use intake::providers::vonage::{Vonage, messages_authorization, sms_signature};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn vonage(method: VonageSignatureMethod) -> Vonage {
    Vonage::new(&VonageConfig {
        signature_secret: Some(Secret::new(SECRET)),
        signature_method: method,
        api_key: None,
        api_secret: None,
        send_api: VonageSendApi::Messages,
        api_base_url: url::Url::parse("https://api.nexmo.com").expect("url"),
        rest_base_url: url::Url::parse("https://rest.nexmo.com").expect("url"),
    })
    .expect("secret set")
    .expect("webhook side configured")
}

fn request(content_type: &str, body: String, authorization: Option<String>) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_str(content_type).expect("header"),
    );
    if let Some(value) = authorization {
        headers.insert(
            "authorization",
            HeaderValue::from_str(&value).expect("header"),
        );
    }
    let mut req = WebhookRequest::new(
        Method::POST,
        "/sms/vonage",
        None,
        headers,
        Bytes::from(body),
    );
    req.public_url = "https://abc123.execute-api.ap-southeast-3.amazonaws.com/sms/vonage".into();
    req
}

/// The parameters the SMS API posts for an inbound SMS, signed with `method`.
fn sms_api_request(method: VonageSignatureMethod, now: Timestamp) -> WebhookRequest {
    let timestamp = now.as_second().to_string();
    let mut params = vec![
        ("api-key", "abcd1234"),
        ("keyword", "HALO"),
        ("message-timestamp", "2026-11-30 14:00:00"),
        ("messageId", "1600000012345678"),
        ("msisdn", "6281234567890"),
        ("nonce", "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091"),
        (
            "text",
            "Halo, pesanan saya belum sampai. Nomor pesanan 4411, mohon dicek ya",
        ),
        ("timestamp", timestamp.as_str()),
        ("to", "6221555000"),
        ("type", "text"),
    ];
    let sig = sms_signature(method, SECRET, &params);
    params.push(("sig", &sig));
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    request("application/x-www-form-urlencoded", body, None)
}

/// A Messages API inbound SMS with its JWT.
fn messages_api_request(now: Timestamp) -> WebhookRequest {
    let body = serde_json::json!({
        "channel": "sms",
        "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
        "to": "6221555000",
        "from": "6281234567890",
        "timestamp": "2026-11-30T14:00:00Z",
        "text": "Halo, pesanan saya belum sampai. Nomor pesanan 4411, mohon dicek ya",
        "sms": {"num_messages": "1", "keyword": "HALO"},
        "usage": {"price": "0.0057", "currency": "EUR"},
        "message_type": "text",
    })
    .to_string();
    let authorization = messages_authorization(SECRET, body.as_bytes(), now.as_second());
    request("application/json", body, Some(authorization))
}

fn bench(c: &mut Criterion) {
    let now = Timestamp::now();
    for (name, method) in [
        ("md5hash", VonageSignatureMethod::Md5Hash),
        ("sha256", VonageSignatureMethod::Sha256Hmac),
        ("sha512", VonageSignatureMethod::Sha512Hmac),
    ] {
        let provider = vonage(method);
        let req = sms_api_request(method, now);
        assert!(provider.verify(&req, now).is_ok());
        c.bench_function(&format!("vonage/sms_api_{name}/verify+parse"), |b| {
            b.iter(|| provider.verify_and_parse(black_box(&req), now))
        });
    }
    let provider = vonage(VonageSignatureMethod::Md5Hash);
    let req = messages_api_request(now);
    assert!(provider.verify(&req, now).is_ok());
    c.bench_function("vonage/messages_api_jwt/verify+parse", |b| {
        b.iter(|| provider.verify_and_parse(black_box(&req), now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
