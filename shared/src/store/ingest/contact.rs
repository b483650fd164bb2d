//! The contact item as each ingest updates it: name and language from the message, the open
//! ticket it names (the condition that makes the ingest race-free), or the opt-out of a
//! STOP/START keyword.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use crate::keywords::Keyword;
use crate::model::InboundMessage;
use crate::store::attrs::s;
use crate::store::keys::{self, PK, SK};

/// Common SET clause for a contact written with a message.
pub(super) fn contact_set(
    message: &InboundMessage,
    now: &str,
) -> (String, Vec<(&'static str, AttributeValue)>) {
    let mut set = String::from(
        "SET #type = :contact, channel = :channel, address = :address, created_at = if_not_exists(created_at, :now), updated_at = :now",
    );
    let mut values = vec![
        (":contact", s("contact")),
        (":channel", s(message.channel.as_str())),
        (":address", s(&message.from.address)),
        (":now", s(now)),
    ];
    if let Some(name) = &message.from.name {
        set.push_str(", #name = :name");
        values.push((":name", s(name)));
    }
    if let Some(lang) = &message.language {
        set.push_str(", #language = :language");
        values.push((":language", s(lang)));
    }
    (set, values)
}

/// The update of the contact item `contact_key` with `update` under `condition` (none when
/// empty).
pub(super) fn contact_builder(
    table: &str,
    contact_key: &str,
    update: String,
    condition: &str,
    values: Vec<(&'static str, AttributeValue)>,
) -> TransactWriteItem {
    let mut b = Update::builder()
        .table_name(table)
        .key(PK, s(contact_key))
        .key(SK, s(keys::CONTACT_SK))
        .update_expression(update)
        .expression_attribute_names("#type", "type");
    if values.iter().any(|(k, _)| *k == ":name") {
        b = b.expression_attribute_names("#name", "name");
    }
    if values.iter().any(|(k, _)| *k == ":language") {
        b = b.expression_attribute_names("#language", "language");
    }
    if !condition.is_empty() {
        b = b.condition_expression(condition);
    }
    for (k, v) in values {
        b = b.expression_attribute_values(k, v);
    }
    TransactWriteItem::builder()
        .update(b.build().expect("contact update has key and expression"))
        .build()
}

/// Contact update joining an existing ticket: it must still name that ticket.
pub(super) fn contact_update(
    table: &str,
    message: &InboundMessage,
    contact_key: &str,
    ticket_id: &str,
    now: &str,
) -> TransactWriteItem {
    let (set, mut values) = contact_set(message, now);
    values.push((":ticket", s(ticket_id)));
    contact_builder(table, contact_key, set, "open_ticket = :ticket", values)
}

/// Contact update opening a new ticket: it must name no open ticket, or still the closed
/// one we saw.
pub(super) fn contact_update_for_new(
    table: &str,
    message: &InboundMessage,
    contact_key: &str,
    ticket_id: &str,
    now: &str,
    replaces_closed: Option<&str>,
) -> TransactWriteItem {
    let (mut set, mut values) = contact_set(message, now);
    set.push_str(", open_ticket = :ticket");
    values.push((":ticket", s(ticket_id)));
    let condition = match replaces_closed {
        Some(closed) => {
            values.push((":closed", s(closed)));
            "attribute_not_exists(open_ticket) OR open_ticket = :closed"
        }
        None => "attribute_not_exists(open_ticket)",
    };
    contact_builder(table, contact_key, set, condition, values)
}

/// STOP/START: record the opt-out state; no ticket, no message.
pub(super) fn opt_out_update(
    table: &str,
    message: &InboundMessage,
    contact_key: &str,
    keyword: Keyword,
    now: &str,
) -> TransactWriteItem {
    let (mut set, mut values) = contact_set(message, now);
    set.push_str(", opted_out = :opted_out, opted_out_changed_at = :now");
    values.push((":opted_out", AttributeValue::Bool(keyword == Keyword::Stop)));
    contact_builder(table, contact_key, set, "", values)
}
