//! Verify + parse of email webhooks, in process, no I/O:
//! - a 20 KB SES receipt notification through SNS: JSON, canonical string, RSA-SHA256 check
//!   with the certificate already cached, Base64 content, MIME;
//! - a 1 MB SendGrid Inbound Parse post (raw MIME with a 900 KB attachment): Basic
//!   credentials, multipart/form-data, MIME.
//!
//! Run: `cargo bench -p intake --bench email_webhook`

use base64::Engine;
use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use jiff::Timestamp;

use intake::WebhookRequest;
use intake::config::{BasicCredentials, Secret};
use intake::email::{FormField, encode_form_data};
use intake::providers::Provider;
use intake::providers::sendgrid::SendGrid;
use intake::providers::ses::{SesNotification, inbound_mail};
use intake::sns::{SigningCert, SnsMessage, canonical_string};

const KEY: &str = include_str!("../../tests/fixtures/sns/testkey/privatekey.pem");
const CERT: &str = include_str!("../../tests/fixtures/sns/testkey/certificate.pem");

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A customer's mail with `text_bytes` of Indonesian text and an optional attachment.
fn mail(text_bytes: usize, attachment: usize) -> String {
    let line = "Halo, pesanan saya INV-2026-118842 belum sampai, mohon dicek ya. Terima kasih.\r\n";
    let text: String = line.repeat(text_bytes / line.len() + 1);
    let mut out = format!(
        "From: Budi Santoso <budi@example.co.id>\r\nTo: halo@tokoku.id\r\nSubject: Pesanan belum sampai\r\nMessage-ID: <bench-1@example.co.id>\r\nDate: Sun, 22 Nov 2026 09:00:00 +0700\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n"
    );
    if attachment > 0 {
        let data = vec![0x5au8; attachment];
        out.push_str("--b\r\nContent-Type: image/jpeg; name=\"foto.jpg\"\r\nContent-Disposition: attachment; filename=\"foto.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        for chunk in b64(&data).as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            out.push_str("\r\n");
        }
    }
    out.push_str("--b--\r\n");
    out
}

/// An SNS notification of about 20 KB, signed SHA256withRSA with the fixture test key.
fn ses_notification() -> Vec<u8> {
    let notification = serde_json::json!({
        "notificationType": "Received",
        "mail": {"messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1", "source": "budi@example.co.id"},
        "receipt": {
            "recipients": ["halo@tokoku.id"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "action": {"type": "SNS", "encoding": "BASE64"}
        },
        "content": b64(mail(14_000, 0).as_bytes()),
    });
    let mut message = SnsMessage {
        kind: "Notification".into(),
        message_id: "7b3c5f2a-1d9e-5a4b-9c8d-0e1f2a3b4c5d".into(),
        topic_arn: "arn:aws:sns:eu-west-1:111111111111:example-topic".into(),
        subject: Some("Amazon SES Email Receipt Notification".into()),
        message: notification.to_string(),
        timestamp: "2024-06-01T12:10:00.500Z".into(),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a86cb10b4e1f29c941702d737128f7b6.pem".into(),
        subscribe_url: None,
        token: None,
        unsubscribe_url: None,
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            KEY.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .expect("key");
    let key = aws_lc_rs::signature::RsaKeyPair::from_der(&der).expect("RSA key");
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        canonical_string(&message).expect("canonical").as_bytes(),
        &mut signature,
    )
    .expect("signed");
    message.signature = b64(&signature);
    serde_json::json!({
        "Type": message.kind, "MessageId": message.message_id, "TopicArn": message.topic_arn,
        "Subject": message.subject, "Message": message.message, "Timestamp": message.timestamp,
        "SignatureVersion": "2", "Signature": message.signature,
        "SigningCertURL": message.signing_cert_url,
    })
    .to_string()
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let now: Timestamp = "2024-06-01T12:30:00Z".parse().expect("time");
    let cert = SigningCert::from_pem(CERT.as_bytes()).expect("cert");
    let body = ses_notification();
    assert!(
        (19_000..23_000).contains(&body.len()),
        "{} bytes",
        body.len()
    );
    c.bench_function("ses_20kb_notification_verify_parse", |b| {
        b.iter(|| {
            let message = SnsMessage::parse(black_box(&body)).expect("sns");
            cert.verify(&message, now).expect("valid");
            let notification = SesNotification::parse(&message.message).expect("ses");
            let raw = notification.inline_content().expect("b64").expect("inline");
            black_box(inbound_mail(&notification, &raw, now).expect("mail"))
        })
    });

    let message = SnsMessage::parse(&body).expect("sns");
    let notification = SesNotification::parse(&message.message).expect("ses");
    let raw = notification.inline_content().expect("b64").expect("inline");
    let mut stages = c.benchmark_group("ses_20kb_stages");
    stages.bench_function("sns_json", |b| {
        b.iter(|| SnsMessage::parse(black_box(&body)))
    });
    stages.bench_function("sns_rsa_verify", |b| {
        b.iter(|| cert.verify(black_box(&message), now))
    });
    stages.bench_function("ses_json_and_base64", |b| {
        b.iter(|| {
            SesNotification::parse(black_box(&message.message))
                .expect("ses")
                .inline_content()
        })
    });
    stages.bench_function("mime_to_message", |b| {
        b.iter(|| inbound_mail(&notification, black_box(&raw), now))
    });
    stages.bench_function("mime_parse_only", |b| {
        b.iter(|| intake::email::parse_mime(black_box(&raw)))
    });
    stages.finish();

    let sendgrid = SendGrid::new(&BasicCredentials {
        user: "intake".into(),
        password: Secret::new("0123456789abcdef"),
    })
    .expect("credentials set");
    let (content_type, form) = encode_form_data(&[
        FormField::text("email", &mail(4_000, 900_000)),
        FormField::text(
            "envelope",
            r#"{"to":["halo@tokoku.id"],"from":"budi@example.co.id"}"#,
        ),
        FormField::text(
            "charsets",
            r#"{"to":"UTF-8","from":"UTF-8","subject":"UTF-8"}"#,
        ),
        FormField::text("spam_score", "0.1"),
    ]);
    assert!(form.len() > 1_000_000, "{} bytes", form.len());
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_str(&content_type).expect("ct"),
    );
    headers.insert(
        "authorization",
        HeaderValue::from_static("Basic aW50YWtlOjAxMjM0NTY3ODlhYmNkZWY="),
    );
    let request = WebhookRequest::new(
        Method::POST,
        "/email/sendgrid",
        None,
        headers,
        Bytes::from(form),
    );
    c.bench_function("sendgrid_1mb_multipart_verify_parse", |b| {
        b.iter(|| {
            sendgrid.verify(black_box(&request), now).expect("auth");
            black_box(sendgrid.parse(&request, now).expect("parsed"))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
