//! Fixture mails (`tests/fixtures/email/*.eml`), read as a support agent would read them.

use super::*;
use crate::email::{parse_form_data, split_quoted};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/email")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn html_only_becomes_readable_text() {
    let mail = parse_mime(&fixture("html_only.eml")).unwrap();
    assert!(
        !mail.text.contains('<') && !mail.text.contains("&amp;"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("Halo tim TokoKu,"), "{}", mail.text);
    assert!(
        mail.text
            .contains("Barang yang saya terima rusak & penyok.")
    );
    assert!(mail.text.contains("Mohon diganti."));
    assert_eq!(mail.message_id.as_deref(), Some("html-only-1@example.com"));
}

#[test]
fn latin1_quoted_printable_is_decoded() {
    let mail = parse_mime(&fixture("latin1_qp.eml")).unwrap();
    let from = mail.from.unwrap();
    assert_eq!(from.name.as_deref(), Some("Jürgen Müller"));
    assert_eq!(from.address, "juergen@example.de");
    assert_eq!(mail.subject.as_deref(), Some("Lieferung beschädigt"));
    assert_eq!(
        mail.text,
        "Guten Tag, das Paket kam beschädigt an. Café-Maschine funktioniert nicht.\n\nGrüße, Jürgen"
    );
    assert_eq!(mail.date, "2026-11-22T02:00:00Z".parse().ok());
}

#[test]
fn base64_utf8_with_attachment_and_threading_ids() {
    let mail = parse_mime(&fixture("base64_attachment.eml")).unwrap();
    let from = mail.from.clone().unwrap();
    // The domain is case-insensitive and stored lower-cased; the local part is kept.
    assert_eq!(from.address, "Siti@example.co.id");
    assert_eq!(from.name.as_deref(), Some("Siti Rahma"));
    assert_eq!(
        mail.subject.as_deref(),
        Some("Pembayaran sudah ditransfer ✅")
    );
    assert_eq!(mail.cc, vec!["budi@example.co.id".to_owned()]);
    assert_eq!(
        mail.in_reply_to,
        vec!["0100018f-ack@email.amazonses.com".to_owned()]
    );
    assert_eq!(
        mail.references,
        vec![
            "first@example.co.id".to_owned(),
            "0100018f-ack@email.amazonses.com".to_owned()
        ]
    );
    assert!(mail.new_text.contains("Rp 250.000"));
    assert!(mail.new_text.contains("🙏"));
    assert!(mail.new_text.ends_with("Terima kasih,\nSiti"));
    assert_eq!(
        mail.attachments,
        vec![Attachment {
            url: None,
            content_type: Some("application/pdf".into()),
            name: Some("bukti-transfer.pdf".into()),
            size: Some(1009),
        }]
    );
    assert_eq!(mail.auto_reply, None);
}

#[test]
fn auto_replies_and_bounces_are_marked() {
    let auto = b"From: Budi <budi@example.co.id>\r\nTo: halo@tokoku.id\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n";
    assert_eq!(parse_mime(auto).unwrap().auto_reply, Some("auto_submitted"));
    let bounce = b"Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: halo@tokoku.id\r\nSubject: Undelivered\r\n\r\nx\r\n";
    assert_eq!(parse_mime(bounce).unwrap().auto_reply, Some("bounce"));
    let daemon = b"From: MAILER-DAEMON@mx.example.com\r\nTo: halo@tokoku.id\r\n\r\nx\r\n";
    assert_eq!(
        parse_mime(daemon).unwrap().auto_reply,
        Some("system_sender")
    );
}

#[test]
fn not_mail() {
    assert_eq!(parse_mime(b""), Err(MimeError::Empty));
    assert_eq!(parse_mime(b"  \r\n"), Err(MimeError::Empty));
    assert_eq!(
        parse_mime(b"To: halo@tokoku.id\r\nSubject: x\r\n\r\nno sender\r\n"),
        Err(MimeError::NoSender)
    );
    assert!(parse_mime(b"just some text without headers").is_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
        let _ = parse_mime(&raw);
        let _ = parse_form_data("multipart/form-data; boundary=x", &raw);
        let _ = split_quoted(&String::from_utf8_lossy(&raw));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        cut in 0usize..2400,
        flip in 0usize..2400,
        byte in proptest::num::u8::ANY,
    ) {
        let mut raw = fixture("base64_attachment.eml");
        if flip < raw.len() {
            raw[flip] = byte;
        }
        raw.truncate(cut.min(raw.len()));
        let _ = parse_mime(&raw);
    }
}
