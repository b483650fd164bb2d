//! Mail that must never get an automatic reply (RFC 3834 §2 and common practice): other
//! robots' replies, bulk and list mail, bounces, and system senders. Answering them is how
//! two auto-responders end up mailing each other forever.

/// Local parts of senders that are machines, whatever their headers say.
const SYSTEM_SENDERS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
];

/// The reason code for a mail with these headers (`name`, `value`; names in any case),
/// from this sender address; `None` when a person may be answered.
pub fn loop_reason<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    sender: Option<&str>,
) -> Option<&'static str> {
    let mut reason = None;
    for (name, value) in headers {
        let value = value.trim();
        let lower = value.to_ascii_lowercase();
        let found = match name.to_ascii_lowercase().as_str() {
            "auto-submitted" if !lower.is_empty() && !lower.starts_with("no") => {
                Some("auto_submitted")
            }
            "precedence"
                if matches!(
                    lower.split([';', ' ']).next(),
                    Some("bulk" | "junk" | "list")
                ) =>
            {
                Some("precedence_bulk")
            }
            "list-id" | "list-unsubscribe" => Some("mailing_list"),
            "x-autoreply" | "x-autorespond" => Some("auto_response_suppressed"),
            "x-auto-response-suppress"
                if lower
                    .split(',')
                    .map(str::trim)
                    .any(|v| v == "all" || v == "autoreply") =>
            {
                Some("auto_response_suppressed")
            }
            "return-path" if value.trim_matches(['<', '>', ' ']).is_empty() => Some("bounce"),
            _ => None,
        };
        // Every marker counts the same; the first one found is the one stored.
        reason = reason.or(found);
    }
    reason.or_else(|| sender.and_then(system_sender))
}

/// The reason code for an SMTP envelope sender (`MAIL FROM`): empty for bounces, or a
/// system sender.
pub fn loop_reason_for_envelope_sender(sender: &str) -> Option<&'static str> {
    if sender.trim().trim_matches(['<', '>']).trim().is_empty() {
        return Some("bounce");
    }
    system_sender(sender)
}

fn system_sender(address: &str) -> Option<&'static str> {
    let address = address.trim().trim_matches(['<', '>']);
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let local = local.to_ascii_lowercase();
    SYSTEM_SENDERS
        .iter()
        .any(|s| local == *s || local.starts_with(&format!("{s}+")))
        .then_some("system_sender")
}

#[cfg(test)]
mod tests {
    use super::*;

    type Headers = &'static [(&'static str, &'static str)];

    #[test]
    fn markers() {
        let cases: &[(Headers, Option<&str>)] = &[
            (
                &[("Auto-Submitted", "auto-replied")],
                Some("auto_submitted"),
            ),
            (
                &[("auto-submitted", "auto-generated")],
                Some("auto_submitted"),
            ),
            (&[("Auto-Submitted", "no")], None),
            (&[("Precedence", "bulk")], Some("precedence_bulk")),
            (&[("Precedence", "JUNK")], Some("precedence_bulk")),
            (&[("Precedence", "list")], Some("precedence_bulk")),
            (&[("Precedence", "first-class")], None),
            (&[("List-Id", "<news.tokoku.id>")], Some("mailing_list")),
            (
                &[("List-Unsubscribe", "<mailto:x@y>")],
                Some("mailing_list"),
            ),
            (&[("X-Autoreply", "yes")], Some("auto_response_suppressed")),
            (&[("X-Autorespond", "x")], Some("auto_response_suppressed")),
            (
                &[("X-Auto-Response-Suppress", "DR, AutoReply")],
                Some("auto_response_suppressed"),
            ),
            (&[("X-Auto-Response-Suppress", "OOF")], None),
            (&[("Return-Path", "<>")], Some("bounce")),
            (&[("Return-Path", "<budi@example.com>")], None),
            (&[("Subject", "Auto-Submitted")], None),
        ];
        for (headers, expected) in cases {
            assert_eq!(
                loop_reason(headers.iter().copied(), Some("budi@example.com")),
                *expected,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn system_senders_and_envelopes() {
        for sender in [
            "MAILER-DAEMON@mx.example.com",
            "postmaster@example.com",
            "noreply@shop.example",
            "no-reply@accounts.example",
            "DoNotReply@bank.example",
            "noreply+tag@x.example",
        ] {
            assert_eq!(
                loop_reason([], Some(sender)),
                Some("system_sender"),
                "{sender}"
            );
        }
        assert_eq!(loop_reason([], Some("norene@example.com")), None);
        assert_eq!(loop_reason_for_envelope_sender(""), Some("bounce"));
        assert_eq!(loop_reason_for_envelope_sender("<>"), Some("bounce"));
        assert_eq!(loop_reason_for_envelope_sender("budi@example.com"), None);
        assert_eq!(
            loop_reason_for_envelope_sender("mailer-daemon@example.com"),
            Some("system_sender")
        );
    }
}
