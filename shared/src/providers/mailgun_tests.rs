//! Mailgun: the signature, the replay window, both body shapes.
//!
//! The signature vector was computed independently with Python's `hmac` module:
//! `hmac.new(b"key-3ax6xnjp29jd6fds4gc373sgvjxteol0", b"1795333200" + TOKEN, sha256)`.

use http::{HeaderMap, HeaderValue, Method};

use super::*;
use crate::email::{FormField, encode_form_data};

const KEY: &str = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
const TIMESTAMP: &str = "1795333200"; // 2026-11-22T07:40:00Z
const TOKEN: &str = "b4c1e0a1f2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f40";
const SIGNATURE: &str = "b717281dc566a2f71a38f64977fa82b1cb56dc9834cf307b3a0de4c38d594c47";

fn provider() -> Mailgun {
    Mailgun::new(&Secret::new(KEY)).unwrap()
}

fn at(seconds_after_signing: i64) -> Timestamp {
    Timestamp::from_second(1_795_333_200 + seconds_after_signing).unwrap()
}

fn urlencoded(pairs: &[(&str, &str)]) -> WebhookRequest {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    WebhookRequest::new(Method::POST, "/email/mailgun", None, headers, body.into())
}

fn fields<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("recipient", "halo@tokoku.id"),
        ("sender", "budi@example.co.id"),
        ("from", "Budi Santoso <budi@example.co.id>"),
        ("subject", "Retur barang"),
        (
            "body-plain",
            "Saya mau retur sepatu ukuran 42.\n\nOn Fri, Nov 20, 2026 at 9:00 AM TokoKu <halo@tokoku.id> wrote:\n> Terima kasih sudah berbelanja.\n",
        ),
        (
            "message-headers",
            r#"[["Message-Id", "<CAJ=retur.42@mail.gmail.com>"], ["From", "Budi Santoso <budi@example.co.id>"], ["To", "halo@tokoku.id"], ["Subject", "Retur barang"], ["References", "<order-2291@tokoku.id>"]]"#,
        ),
        ("timestamp", TIMESTAMP),
        ("token", TOKEN),
        ("signature", SIGNATURE),
    ];
    all.extend_from_slice(extra);
    all
}

#[test]
fn signature_vector_and_replay_window() {
    let p = provider();
    let req = urlencoded(&fields(&[]));
    assert!(p.verify(&req, at(30)).is_ok());
    assert!(p.verify(&req, at(-30)).is_ok(), "small clock skew is fine");
    assert!(matches!(p.verify(&req, at(301)), Err(WebhookError::Stale)));
    let mut tampered = fields(&[]);
    tampered[7] = (
        "token",
        "b4c1e0a1f2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f41",
    );
    assert!(matches!(
        p.verify(&urlencoded(&tampered), at(30)),
        Err(WebhookError::BadSignature)
    ));
    let unsigned: Vec<_> = fields(&[])
        .into_iter()
        .filter(|(k, _)| *k != "signature")
        .collect();
    assert!(matches!(
        p.verify(&urlencoded(&unsigned), at(30)),
        Err(WebhookError::MissingSignature("signature"))
    ));
    let other_key = Mailgun::new(&Secret::new("key-other")).unwrap();
    assert!(other_key.verify(&req, at(30)).is_err());
}

#[test]
fn parsed_fields_become_a_threaded_message() {
    let m = &provider().parse(&urlencoded(&fields(&[])), at(1)).unwrap()[0];
    assert_eq!(m.provider, "mailgun");
    assert_eq!(m.from.address, "budi@example.co.id");
    assert_eq!(m.from.name.as_deref(), Some("Budi Santoso"));
    assert_eq!(m.to, "halo@tokoku.id");
    assert_eq!(m.subject.as_deref(), Some("Retur barang"));
    assert_eq!(m.body, "Saya mau retur sepatu ukuran 42.");
    let email = m.email.as_ref().unwrap();
    assert_eq!(
        email.message_id.as_deref(),
        Some("CAJ=retur.42@mail.gmail.com")
    );
    assert_eq!(m.provider_message_id, "CAJ=retur.42@mail.gmail.com");
    assert_eq!(email.references, vec!["order-2291@tokoku.id".to_owned()]);
    assert!(email.quoted.contains("Terima kasih sudah berbelanja."));
    assert_eq!(email.no_reply, None);
}

#[test]
fn bounces_from_the_envelope_are_never_answered() {
    let bounce = fields(&[]);
    let bounce: Vec<_> = bounce
        .into_iter()
        .map(|(k, v)| if k == "sender" { (k, "") } else { (k, v) })
        .collect();
    let m = &provider().parse(&urlencoded(&bounce), at(1)).unwrap()[0];
    assert_eq!(
        m.email.as_ref().unwrap().no_reply.as_deref(),
        Some("bounce")
    );
}

#[test]
fn body_mime_multipart_with_an_attachment() {
    let mime = "From: Rina <rina@example.com>\r\nTo: halo@tokoku.id\r\nSubject: Foto\r\nMessage-ID: <foto-1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFoto barang rusak terlampir.\r\n--b1\r\nContent-Type: image/jpeg; name=\"rusak.jpg\"\r\nContent-Disposition: attachment; filename=\"rusak.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n--b1--\r\n";
    let form = vec![
        FormField::text("recipient", "halo@tokoku.id"),
        FormField::text("sender", "rina@example.com"),
        FormField::text("timestamp", TIMESTAMP),
        FormField::text("token", TOKEN),
        FormField::text("signature", SIGNATURE),
        FormField::text("body-mime", mime),
    ];
    let (content_type, body) = encode_form_data(&form);
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_str(&content_type).unwrap(),
    );
    let req = WebhookRequest::new(Method::POST, "/email/mailgun", None, headers, body.into());
    let p = provider();
    assert!(p.verify(&req, at(5)).is_ok());
    let m = &p.parse(&req, at(5)).unwrap()[0];
    assert_eq!(m.body, "Foto barang rusak terlampir.");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].name.as_deref(), Some("rusak.jpg"));
    assert_eq!(m.attachments[0].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(m.attachments[0].size, Some(13));
}

#[test]
fn other_bodies_are_refused() {
    let mut req = urlencoded(&fields(&[]));
    req.headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    assert_eq!(provider().verify(&req, at(1)).unwrap_err().status(), 415);
    let broken = fields(&[]);
    let broken: Vec<_> = broken
        .into_iter()
        .map(|(k, v)| {
            if k == "message-headers" {
                (k, "{")
            } else {
                (k, v)
            }
        })
        .collect();
    assert_eq!(
        provider()
            .parse(&urlencoded(&broken), at(1))
            .unwrap_err()
            .status(),
        400
    );
}
