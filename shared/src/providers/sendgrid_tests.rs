//! SendGrid Inbound Parse: Basic credentials, raw MIME and parsed fields (with charsets).
//! Field names follow SendGrid's Inbound Parse documentation (`email`, `envelope`, `headers`,
//! `charsets`, `spam_score`, `attachmentN`).

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method};

use super::*;
use crate::config::Secret;
use crate::email::{FormField, encode_form_data};

fn provider() -> SendGrid {
    SendGrid::new(&BasicCredentials {
        user: "intake".into(),
        password: Secret::new("0123456789abcdef"),
    })
    .unwrap()
}

fn request(fields: &[FormField], credentials: Option<&str>) -> WebhookRequest {
    let (content_type, body) = encode_form_data(fields);
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_str(&content_type).unwrap(),
    );
    if let Some(c) = credentials {
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(c)
        );
        headers.insert("authorization", HeaderValue::from_str(&value).unwrap());
    }
    WebhookRequest::new(Method::POST, "/email/sendgrid", None, headers, body.into())
}

fn now() -> Timestamp {
    "2026-11-22T03:00:00Z".parse().unwrap()
}

const RAW: &str = "Received: by mx.sendgrid.net\r\nFrom: \"Dewi\" <dewi@example.com>\r\nTo: halo@tokoku.id\r\nSubject: Re: Pesanan belum sampai [#K7F3Q2]\r\nMessage-ID: <dewi-2@example.com>\r\nIn-Reply-To: <0100018f-ack@email.amazonses.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSudah sampai, terima kasih!\r\n";

fn raw_fields(envelope: &str) -> Vec<FormField> {
    vec![
        FormField::text("email", RAW),
        FormField::text("envelope", envelope),
        FormField::text("to", "halo@tokoku.id"),
        FormField::text("from", "Dewi <dewi@example.com>"),
        FormField::text("subject", "Re: Pesanan belum sampai [#K7F3Q2]"),
        FormField::text(
            "charsets",
            r#"{"to":"UTF-8","subject":"UTF-8","from":"UTF-8"}"#,
        ),
        FormField::text("spam_score", "0.1"),
        FormField::text("SPF", "pass"),
    ]
}

#[test]
fn credentials_are_required() {
    let fields = raw_fields(r#"{"to":["halo@tokoku.id"],"from":"dewi@example.com"}"#);
    let p = provider();
    assert!(
        p.verify(&request(&fields, Some("intake:0123456789abcdef")), now())
            .is_ok()
    );
    assert!(matches!(
        p.verify(&request(&fields, None), now()),
        Err(WebhookError::Unauthorized)
    ));
    assert!(matches!(
        p.verify(&request(&fields, Some("intake:wrong-password-123")), now()),
        Err(WebhookError::Unauthorized)
    ));
}

#[test]
fn raw_mime_with_the_smtp_envelope() {
    let fields = raw_fields(r#"{"to":["support@tokoku.id"],"from":"dewi@example.com"}"#);
    let m = &provider().parse(&request(&fields, None), now()).unwrap()[0];
    assert_eq!(m.provider, "sendgrid");
    // The envelope recipient is the inbox it was delivered to, whatever To says.
    assert_eq!(m.to, "support@tokoku.id");
    assert_eq!(m.from.address, "dewi@example.com");
    assert_eq!(m.body, "Sudah sampai, terima kasih!");
    assert_eq!(m.provider_message_id, "dewi-2@example.com");
    let email = m.email.as_ref().unwrap();
    assert_eq!(
        email.in_reply_to,
        vec!["0100018f-ack@email.amazonses.com".to_owned()]
    );
    assert_eq!(email.flagged, None);
}

#[test]
fn parsed_fields_in_latin_1_with_an_attachment() {
    let mut text = b"Bonjour, la livraison est arriv".to_vec();
    text.push(0xe9); // é in ISO-8859-1
    text.extend_from_slice(b"e ab\xeem\xe9e.\n");
    let fields = vec![
        FormField::text(
            "headers",
            "From: =?ISO-8859-1?Q?J=FCrgen?= <juergen@example.de>\nTo: halo@tokoku.id\nSubject: Colis\nMessage-ID: <colis-1@example.de>\nContent-Type: multipart/mixed;\n boundary=\"xyz\"\nAuto-Submitted: no\n",
        ),
        FormField {
            name: "text".into(),
            filename: None,
            content_type: None,
            data: text,
        },
        FormField::text("charsets", r#"{"text":"iso-8859-1","subject":"UTF-8"}"#),
        FormField::text(
            "envelope",
            r#"{"to":["halo@tokoku.id"],"from":"juergen@example.de"}"#,
        ),
        FormField::text("spam_score", "6.3"),
        FormField {
            name: "attachment1".into(),
            filename: Some("foto.jpg".into()),
            content_type: Some("image/jpeg".into()),
            data: vec![0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3],
        },
    ];
    let m = &provider().parse(&request(&fields, None), now()).unwrap()[0];
    assert_eq!(m.body, "Bonjour, la livraison est arrivée abîmée.");
    assert_eq!(m.from.name.as_deref(), Some("Jürgen"));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].size, Some(8));
    let email = m.email.as_ref().unwrap();
    assert_eq!(email.flagged.as_deref(), Some("spam"));
    assert_eq!(email.no_reply, None, "Auto-Submitted: no is a person");
}

#[test]
fn wrong_shapes_are_refused() {
    let p = provider();
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let req = WebhookRequest::new(
        Method::POST,
        "/email/sendgrid",
        None,
        headers,
        "email=x".into(),
    );
    assert_eq!(p.parse(&req, now()).unwrap_err().status(), 415);
    // Neither raw MIME nor a header block: nothing to read.
    let only_text = vec![FormField::text("text", "hello")];
    assert_eq!(
        p.parse(&request(&only_text, None), now())
            .unwrap_err()
            .status(),
        400
    );
    let mut broken = request(&only_text, None);
    broken.headers.insert(
        "content-type",
        HeaderValue::from_static("multipart/form-data"),
    );
    assert_eq!(p.parse(&broken, now()).unwrap_err().status(), 400);
}
