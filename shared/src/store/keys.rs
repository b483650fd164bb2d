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
/// Prefix of message sort keys.
pub const MESSAGE_PREFIX: &str = "MSG#";
/// How long a provider message id is remembered for deduplication.
pub const DEDUP_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// `TICKET#<id>`
pub fn ticket(id: &str) -> String {
    format!("TICKET#{id}")
}

/// The ticket id of a `TICKET#<id>` key.
pub fn ticket_id(pk: &str) -> Option<&str> {
    pk.strip_prefix("TICKET#")
}

/// `MSG#<received_at>#<provider>#<provider message id>`: sorts by arrival.
pub fn message(received_at: &str, provider: &str, provider_message_id: &str) -> String {
    format!("{MESSAGE_PREFIX}{received_at}#{provider}#{provider_message_id}")
}

/// `CONTACT#<channel>#<address>`; email addresses compare case-insensitively.
pub fn contact(channel: Channel, address: &str) -> String {
    match channel {
        Channel::Email => format!("CONTACT#{channel}#{}", address.to_lowercase()),
        _ => format!("CONTACT#{channel}#{address}"),
    }
}

/// `DEDUP#<provider>#<provider message id>`
pub fn dedup(provider: &str, provider_message_id: &str) -> String {
    format!("DEDUP#{provider}#{provider_message_id}")
}

/// `REF#<reference>`: reserves a human reference and maps it to its ticket.
pub fn reference(reference: &str) -> String {
    format!("REF#{reference}")
}
