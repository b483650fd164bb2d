//! Verify + parse + build-the-transaction of an AWS End User Messaging SMS delivery (an SNS
//! notification carrying one SMS), in process, no I/O: the signing certificate is already
//! cached, as it is after a function's first delivery.
//!
//! Run: `cargo bench -p intake --bench aws_sms_webhook`

use base64::Engine;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, Method};
use jiff::Timestamp;

use intake::config::AwsSmsConfig;
use intake::ids::TicketIds;
use intake::providers::aws_sms::AwsSms;
use intake::providers::{Clients, Provider};
use intake::request::WebhookRequest;
use intake::sns::{SnsMessage, canonical_string};
use intake::store::{Store, Target, plan};

const KEY: &str = include_str!("../../tests/fixtures/sns-dev/privatekey.pem");
const CERT_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/sns-dev/certificate.pem"
);
const TOPIC: &str = "arn:aws:sns:eu-west-1:111111111111:intake-sms";

/// A two-way SMS notification, signed SHA256withRSA with the local test key.
fn notification() -> Vec<u8> {
    let sms = serde_json::json!({
        "originationNumber": "+6281234567890",
        "destinationNumber": "+6221555000",
        "messageBody": "Halo, pesanan saya INV-2026-118842 belum sampai, mohon dicek ya.",
        "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
        "previousPublishedMessageId": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    });
    let mut message = SnsMessage {
        kind: "Notification".into(),
        message_id: "7b3c5f2a-1d9e-5a4b-9c8d-0e1f2a3b4c5d".into(),
        topic_arn: TOPIC.into(),
        subject: None,
        message: sms.to_string(),
        timestamp: "2026-11-30T12:10:00.500Z".into(),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url:
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-intake-local.pem".into(),
        subscribe_url: None,
        token: None,
        unsubscribe_url: Some("https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe".into()),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = KEY.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = b64.decode(body).expect("key");
    let key = aws_lc_rs::signature::RsaKeyPair::from_der(&der)
        .or_else(|_| aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der))
        .expect("RSA key");
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        canonical_string(&message).expect("canonical").as_bytes(),
        &mut signature,
    )
    .expect("signed");
    message.signature = b64.encode(signature);
    serde_json::json!({
        "Type": message.kind, "MessageId": message.message_id, "TopicArn": message.topic_arn,
        "Message": message.message, "Timestamp": message.timestamp,
        "SignatureVersion": "2", "Signature": message.signature,
        "SigningCertURL": message.signing_cert_url, "UnsubscribeURL": message.unsubscribe_url,
    })
    .to_string()
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let config = AwsSmsConfig {
        topic_arns: vec![TOPIC.into()],
        send: false,
        configuration_set: None,
        endpoint: None,
        trusted_cert_file: Some(CERT_FILE.into()),
        confirm_base_url: None,
    };
    let clients = Clients::without_aws();
    let aws = AwsSms::new(&config, &clients)
        .expect("config")
        .expect("topics");
    let req = WebhookRequest::new(
        Method::POST,
        "/sms/aws",
        None,
        HeaderMap::new(),
        notification().into(),
    );
    let now = Timestamp::now();
    // The first delivery fetches (here: reads) the certificate; the rest find it cached.
    let store = Store::from_sdk_config(&clients.aws, "bench");
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(aws.receive(&req, now, &store))
        .expect("verified");
    assert!(aws.verify(&req, now).is_ok());

    c.bench_function("aws_sms/verify", |b| {
        b.iter(|| aws.verify(black_box(&req), now))
    });
    c.bench_function("aws_sms/verify+parse+transaction", |b| {
        b.iter(|| {
            let messages = aws
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
