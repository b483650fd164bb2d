//! Whether to acknowledge a new ticket, and with what text. Pure: tested without AWS.

use crate::keywords::Keyword;
use crate::model::{Channel, Contact, StoredMessage, Ticket};

/// Default SMS acknowledgement. GSM-7 only and one segment long with any reference.
pub const DEFAULT_SMS_ACK: &str =
    "Thanks, we got your message. Your ticket is #{ref}. We will reply as soon as we can.";

/// The acknowledger's decision for one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send this text.
    Send {
        /// Rendered text.
        text: String,
    },
    /// Do not send; the reason is stored on the ticket.
    Skip {
        /// Machine-readable reason.
        reason: &'static str,
    },
}

/// Decides for a new ticket, given its contact and first message, and whether a sender for
/// its provider is configured.
pub fn decide(
    ticket: &Ticket,
    contact: Option<&Contact>,
    first: Option<&StoredMessage>,
    can_send: bool,
) -> Decision {
    if contact.is_some_and(|c| c.opted_out) {
        return Decision::Skip {
            reason: "opted_out",
        };
    }
    match first.and_then(|m| m.keyword) {
        // Carriers and providers answer HELP themselves; a second answer is noise.
        Some(Keyword::Help) => {
            return Decision::Skip {
                reason: "help_keyword",
            };
        }
        Some(Keyword::Stop) => {
            return Decision::Skip {
                reason: "opted_out",
            };
        }
        _ => {}
    }
    if !can_send {
        return Decision::Skip {
            reason: "no_sender_configured",
        };
    }
    let text = match ticket.channel {
        Channel::Sms | Channel::Email | Channel::Social => {
            DEFAULT_SMS_ACK.replace("{ref}", &ticket.reference)
        }
    };
    Decision::Send { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AckStatus;
    use crate::sms::measure;

    fn ticket() -> Ticket {
        Ticket {
            id: "01J0000000000000000000000".into(),
            reference: "K7F3Q2".into(),
            channel: Channel::Sms,
            provider: "twilio".into(),
            contact: "+6281234567890".into(),
            contact_name: None,
            our_address: "+6221555000".into(),
            subject: None,
            status: "open".into(),
            message_count: 1,
            ack_status: AckStatus::Pending,
            ack_reason: None,
            ack_provider_message_id: None,
            first_message_sk: "MSG#x".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    fn message(body: &str) -> StoredMessage {
        StoredMessage {
            ticket_id: "t".into(),
            provider: "twilio".into(),
            provider_message_id: "SM1".into(),
            from: "+6281234567890".into(),
            from_name: None,
            to: "+6221555000".into(),
            subject: None,
            body: body.into(),
            attachments: vec![],
            received_at: "2026-01-01T00:00:00.000Z".into(),
            keyword: Keyword::classify(body),
        }
    }

    #[test]
    fn default_ack_names_the_ticket_and_fits_one_gsm7_segment() {
        let Decision::Send { text } = decide(&ticket(), None, Some(&message("Halo")), true) else {
            panic!("expected send");
        };
        assert!(text.contains("#K7F3Q2"));
        let length = measure(&text);
        assert!(length.gsm7 && length.segments == 1, "{length:?}");
    }

    #[test]
    fn skips() {
        let opted_out = Contact {
            opted_out: true,
            ..Contact::default()
        };
        let cases = [
            (Some(&opted_out), "Halo", true, "opted_out"),
            (None, "HELP", true, "help_keyword"),
            (None, "help", true, "help_keyword"),
            (None, "Halo", false, "no_sender_configured"),
        ];
        for (contact, body, can_send, reason) in cases {
            assert_eq!(
                decide(&ticket(), contact, Some(&message(body)), can_send),
                Decision::Skip { reason },
                "{body}"
            );
        }
    }
}
