//! Postmark: Basic credentials, the JSON fields, and `RawEmail` when the server includes it.
//! The fixture follows the shape of Postmark's documented inbound webhook example
//! (postmarkapp.com/developer/webhooks/inbound-webhook), with our own content.

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;

use super::*;
use crate::config::Secret;

const FIXTURE: &str = include_str!("../../../tests/fixtures/email/postmark_inbound.json");

fn provider() -> Postmark {
    Postmark::new(&BasicCredentials {
        user: "intake".into(),
        password: Secret::new("0123456789abcdef"),
    })
    .unwrap()
}

fn request(body: &str, credentials: Option<&str>) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(c) = credentials {
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(c)
        );
        headers.insert("authorization", HeaderValue::from_str(&value).unwrap());
    }
    WebhookRequest::new(
        Method::POST,
        "/email/postmark",
        None,
        headers,
        body.to_owned().into(),
    )
}

fn now() -> Timestamp {
    "2026-11-22T03:15:33Z".parse().unwrap()
}

#[test]
fn credentials_are_required() {
    let p = provider();
    assert!(
        p.verify(&request(FIXTURE, Some("intake:0123456789abcdef")), now())
            .is_ok()
    );
    for bad in [
        None,
        Some("intake:0123456789abcdeX"),
        Some("other:0123456789abcdef"),
    ] {
        assert!(matches!(
            p.verify(&request(FIXTURE, bad), now()),
            Err(WebhookError::Unauthorized)
        ));
    }
}

#[test]
fn json_fields_become_one_threaded_message() {
    let messages = provider().parse(&request(FIXTURE, None), now()).unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.provider, "postmark");
    assert_eq!(
        m.provider_message_id,
        "73e6d360-66eb-11e1-8e72-a8904824019b"
    );
    assert_eq!(m.from.address, "budi@example.co.id");
    assert_eq!(m.from.name.as_deref(), Some("Budi Santoso"));
    assert_eq!(m.to, "halo@tokoku.id");
    assert_eq!(m.subject.as_deref(), Some("Pesanan #INV-2291 belum sampai"));
    assert_eq!(
        m.body,
        "Selamat pagi,\n\nPesanan saya INV-2291 belum sampai sejak Senin. Mohon dicek.\n\nTerima kasih,\nBudi"
    );
    let email = m.email.as_ref().unwrap();
    assert!(
        email.quoted.contains("Nomor resi: JNE123"),
        "{}",
        email.quoted
    );
    assert_eq!(
        email.message_id.as_deref(),
        Some("CAF=budi.2291@mail.gmail.com")
    );
    assert_eq!(
        email.in_reply_to,
        vec!["0100018f-order-shipped@email.amazonses.com".to_owned()]
    );
    assert_eq!(email.cc, vec!["sari@example.co.id".to_owned()]);
    assert_eq!(email.no_reply, None);
    assert_eq!(email.flagged, None);
    assert_eq!(
        m.attachments,
        vec![Attachment {
            url: None,
            content_type: Some("application/pdf".into()),
            name: Some("resi.pdf".into()),
            size: Some(18),
        }]
    );
}

#[test]
fn html_only_and_loop_markers_from_headers() {
    let mut json: Value = serde_json::from_str(FIXTURE).unwrap();
    json["TextBody"] = Value::String(String::new());
    json["HtmlBody"] =
        Value::String("<p>Halo&nbsp;tim,</p><p>Barang <b>rusak</b> &amp; penyok.</p>".into());
    json["Headers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"Name": "Auto-Submitted", "Value": "auto-replied"}));
    let m = &provider()
        .parse(&request(&json.to_string(), None), now())
        .unwrap()[0];
    assert!(m.body.contains("Barang rusak & penyok."), "{}", m.body);
    assert!(!m.body.contains('<'));
    assert_eq!(
        m.email.as_ref().unwrap().no_reply.as_deref(),
        Some("auto_submitted")
    );
}

#[test]
fn header_values_cannot_add_headers() {
    let mut json: Value = serde_json::from_str(FIXTURE).unwrap();
    json["Subject"] = Value::String("Hi\r\nAuto-Submitted: auto-replied".into());
    json["Headers"] = serde_json::json!([]);
    let m = &provider()
        .parse(&request(&json.to_string(), None), now())
        .unwrap()[0];
    assert_eq!(m.email.as_ref().unwrap().no_reply, None);
    assert_eq!(
        m.subject.as_deref(),
        Some("Hi  Auto-Submitted: auto-replied")
    );
}

#[test]
fn raw_email_wins_over_the_fields() {
    let mut json: Value = serde_json::from_str(FIXTURE).unwrap();
    json["RawEmail"] = Value::String(
        "From: Rina <rina@example.com>\r\nTo: halo@tokoku.id\r\nSubject: Raw\r\nMessage-ID: <raw-1@example.com>\r\n\r\nIsi asli.\r\n"
            .into(),
    );
    let m = &provider()
        .parse(&request(&json.to_string(), None), now())
        .unwrap()[0];
    assert_eq!(m.from.address, "rina@example.com");
    assert_eq!(m.subject.as_deref(), Some("Raw"));
    assert_eq!(m.body, "Isi asli.");
}

#[test]
fn spamassassin_yes_flags_the_mail() {
    let spam = FIXTURE.replace(
        r#""Value": "No" }"#,
        r#""Value": "Yes, score=7.1 required=5.0" }"#,
    );
    let m = &provider().parse(&request(&spam, None), now()).unwrap()[0];
    assert_eq!(m.email.as_ref().unwrap().flagged.as_deref(), Some("spam"));
}

#[test]
fn bad_bodies_are_400_or_415() {
    let p = provider();
    for body in ["", "[]", "{\"FromFull\": 3}", "not json"] {
        let err = p.parse(&request(body, None), now()).unwrap_err();
        assert_eq!(err.status(), 400, "{body}: {err}");
    }
    // No sender at all: nothing to make a ticket of.
    let mut json: Value = serde_json::from_str(FIXTURE).unwrap();
    json.as_object_mut().unwrap().remove("FromFull");
    json["Headers"] = serde_json::json!([]);
    let err = p
        .parse(&request(&json.to_string(), None), now())
        .unwrap_err();
    assert_eq!(err.status(), 400);
    let mut req = request(FIXTURE, None);
    req.headers
        .insert("content-type", HeaderValue::from_static("text/plain"));
    assert_eq!(p.parse(&req, now()).unwrap_err().status(), 415);
}
