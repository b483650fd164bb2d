//! Key shapes of the single table. Every key Intake writes is built here.

use crate::model::Channel;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";
/// GSI listing a contact's tickets by creation time.
pub const BY_CONTACT_INDEX: &str = "by_contact";
/// Sort key of a ticket's own item.
pub const TICKET_SK: &str = "META";
/// Sort key of a contact item.
pub const CONTACT_SK: &str = "PROFILE";
/// Sort key of a dedup item.
pub const DEDUP_SK: &str = "DEDUP";
/// Sort key of a reference item.
pub const REF_SK: &str = "REF";
/// Sort key of a one-time token item.
pub const ONCE_SK: &str = "ONCE";
/// Prefix of message sort keys.
pub const MESSAGE_PREFIX: &str = "MSG#";
/// How long a provider message id is remembered for deduplication.
pub const DEDUP_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// The parts one after another, in a string of exactly their length: every ingest builds
/// half a dozen keys, and `format!` would parse its pattern and grow the string for each.
fn join(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.push_str(part);
    }
    key
}

/// `TICKET#<id>`
pub fn ticket(id: &str) -> String {
    join(&["TICKET#", id])
}

/// The ticket id of a `TICKET#<id>` key.
pub fn ticket_id(pk: &str) -> Option<&str> {
    pk.strip_prefix("TICKET#")
}

/// `MSG#<received_at>#<provider>#<provider message id>`: sorts by arrival.
pub fn message(received_at: &str, provider: &str, provider_message_id: &str) -> String {
    join(&[
        MESSAGE_PREFIX,
        received_at,
        "#",
        provider,
        "#",
        provider_message_id,
    ])
}

/// `CONTACT#<channel>#<address>`; email addresses compare case-insensitively.
pub fn contact(channel: Channel, address: &str) -> String {
    match channel {
        Channel::Email => join(&["CONTACT#", channel.as_str(), "#", &address.to_lowercase()]),
        _ => join(&["CONTACT#", channel.as_str(), "#", address]),
    }
}

/// `DEDUP#<provider>#<provider message id>`
pub fn dedup(provider: &str, provider_message_id: &str) -> String {
    join(&["DEDUP#", provider, "#", provider_message_id])
}

/// `REF#<reference>`: reserves a human reference and maps it to its ticket.
pub fn reference(reference: &str) -> String {
    join(&["REF#", reference])
}

/// `ONCE#<scope>#<value>`: a token that may be used once (expires with its TTL).
pub fn once(scope: &str, value: &str) -> String {
    format!("ONCE#{scope}#{value}")
}

/// `MSGID#<message id>`: maps an email Message-ID (a customer's mail or our own ack) to its
/// ticket, for threading replies. SES replaces the Message-ID of what we send with
/// `<id>@<region>.amazonses.com`; every region's form maps to one key.
pub fn message_id(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    match id.rsplit_once('@') {
        Some((local, domain))
            if domain.eq_ignore_ascii_case("amazonses.com")
                || domain.to_ascii_lowercase().ends_with(".amazonses.com") =>
        {
            format!("MSGID#{local}@amazonses.com")
        }
        _ => format!("MSGID#{id}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ses_message_ids_map_to_one_key_in_every_region() {
        let key = super::message_id("0100018f@email.amazonses.com");
        assert_eq!(key, "MSGID#0100018f@amazonses.com");
        assert_eq!(super::message_id("<0100018f@eu-west-1.amazonses.com>"), key);
        assert_eq!(
            super::message_id("CAF=x@mail.gmail.com"),
            "MSGID#CAF=x@mail.gmail.com"
        );
        assert_eq!(
            super::message_id("a@notamazonses.com"),
            "MSGID#a@notamazonses.com"
        );
    }
}
