//! The headers of an ack email that come from the ticket: `Re: <subject> [#REF]`, threading
//! (`In-Reply-To`, `References`) and the automatic-reply markers of RFC 3834, every value on
//! one line and every address a single one.

use crate::providers::{OutboundMessage, SendError};

/// The parts of an ack email that come from the ticket rather than the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckEmail {
    /// `From`.
    pub from: String,
    /// The customer.
    pub to: String,
    /// `Re: <original subject> [#REF]`.
    pub subject: String,
    /// Threading and auto-reply headers.
    pub headers: Vec<(&'static str, String)>,
}

impl AckEmail {
    /// Addresses checked, every header value stripped of line breaks (a subject or
    /// Message-ID carrying CR/LF must not add headers of its own).
    pub fn build(message: &OutboundMessage) -> Result<AckEmail, SendError> {
        let from = address(&message.from)?;
        let to = address(&message.to)?;
        let original = one_line(message.subject.as_deref().unwrap_or(""));
        let reference = format!("[#{}]", message.ticket_reference);
        let mut subject = if original.is_empty() {
            String::new()
        } else if has_reply_prefix(&original) {
            original.clone()
        } else {
            format!("Re: {original}")
        };
        if !subject.contains(&reference) {
            if !subject.is_empty() {
                subject.push(' ');
            }
            subject.push_str(&reference);
        }
        let mut headers = vec![
            ("Auto-Submitted", "auto-replied".to_owned()),
            ("X-Auto-Response-Suppress", "All".to_owned()),
        ];
        let answered = message_id(&message.in_reply_to);
        if let Some(id) = &answered {
            headers.push(("In-Reply-To", id.clone()));
            let mut chain: Vec<String> = message
                .references
                .iter()
                .filter_map(|r| message_id(r))
                .filter(|r| r != id)
                .collect();
            // Long chains are trimmed from the oldest side but keep the thread's first id,
            // as RFC 5322 §3.6.4 suggests.
            if chain.len() > 10 {
                chain.drain(1..chain.len() - 9);
            }
            chain.push(id.clone());
            headers.push(("References", chain.join(" ")));
        }
        Ok(AckEmail {
            from,
            to,
            subject,
            headers,
        })
    }
}

/// A header value on one line: CR, LF and other control characters become spaces, runs of
/// spaces collapse.
pub fn one_line(value: &str) -> String {
    value
        .split(|c: char| c.is_control())
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_reply_prefix(subject: &str) -> bool {
    let lower = subject.to_lowercase();
    ["re:", "re :", "aw:", "sv:", "balas:"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// `<id>` for a Message-ID, or `None` when it cannot be one (spaces, controls, no `@`).
fn message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let valid = !id.is_empty()
        && id.len() <= 500
        && id.contains('@')
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    valid.then(|| format!("<{id}>"))
}

/// One bare address; anything that could smuggle a second recipient or header is refused.
fn address(value: &str) -> Result<String, SendError> {
    let value = value.trim();
    let valid = value.len() <= 320
        && value.split('@').count() == 2
        && !value.starts_with('@')
        && !value.ends_with('@')
        && value
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !",;<>\"()[]\\".contains(c));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(SendError::Permanent {
            code: "invalid_address".into(),
            reason: "not a single email address".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(subject: Option<&str>) -> OutboundMessage {
        let now: jiff::Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
        OutboundMessage {
            to: "budi@example.co.id".into(),
            from: "halo@tokoku.id".into(),
            body: "Halo".into(),
            html: None,
            subject: subject.map(str::to_owned),
            in_reply_to: "CAF=abc@mail.gmail.com".into(),
            references: vec!["first@mail.gmail.com".into()],
            ticket_reference: "K7F3Q2".into(),
            reply_token: None,
            customer_wrote_at: now,
            now,
        }
    }

    #[test]
    fn subject_and_threading_headers() {
        let ack = AckEmail::build(&outbound(Some("Pesanan belum sampai"))).unwrap();
        assert_eq!(ack.subject, "Re: Pesanan belum sampai [#K7F3Q2]");
        assert_eq!(
            ack.headers,
            vec![
                ("Auto-Submitted", "auto-replied".to_owned()),
                ("X-Auto-Response-Suppress", "All".to_owned()),
                ("In-Reply-To", "<CAF=abc@mail.gmail.com>".to_owned()),
                (
                    "References",
                    "<first@mail.gmail.com> <CAF=abc@mail.gmail.com>".to_owned()
                ),
            ]
        );
        let again = AckEmail::build(&outbound(Some("RE: Pesanan [#K7F3Q2]"))).unwrap();
        assert_eq!(again.subject, "RE: Pesanan [#K7F3Q2]");
        assert_eq!(
            AckEmail::build(&outbound(None)).unwrap().subject,
            "[#K7F3Q2]"
        );
    }

    #[test]
    fn header_injection_is_stripped() {
        let mut message = outbound(Some("Hi\r\nBcc: victim@example.com"));
        message.in_reply_to = "x@y\r\nBcc: victim@example.com".into();
        let ack = AckEmail::build(&message).unwrap();
        assert_eq!(ack.subject, "Re: Hi Bcc: victim@example.com [#K7F3Q2]");
        assert!(!ack.subject.contains('\n') && !ack.subject.contains('\r'));
        // A Message-ID with a line break is no Message-ID: no threading headers at all.
        assert!(ack.headers.iter().all(|(n, _)| *n != "In-Reply-To"));
        for (_, value) in &ack.headers {
            assert!(!value.contains('\r') && !value.contains('\n'));
        }
        message.to = "budi@example.co.id\r\nBcc: victim@example.com".into();
        assert!(AckEmail::build(&message).is_err());
        message.to = "a@b.c, victim@example.com".into();
        assert!(AckEmail::build(&message).is_err());
    }

    #[test]
    fn long_reference_chains_keep_the_first_and_the_newest() {
        let mut message = outbound(Some("x"));
        message.references = (0..30).map(|i| format!("m{i}@example.com")).collect();
        let ack = AckEmail::build(&message).unwrap();
        let references = &ack.headers[3].1;
        let ids: Vec<&str> = references.split(' ').collect();
        assert_eq!(ids.len(), 11);
        assert_eq!(ids[0], "<m0@example.com>");
        assert_eq!(ids[9], "<m29@example.com>");
        assert_eq!(ids[10], "<CAF=abc@mail.gmail.com>");
    }
}
