//! The contact item as each ingest updates it: name and language from the message, the open
//! ticket it names (the condition that makes the ingest race-free), or the opt-out of a
//! STOP/START keyword. Each update's maps are built at their final size and handed to the
//! SDK's builder whole (its one-at-a-time setters grow them step by step).

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use std::collections::HashMap;

use crate::keywords::Keyword;
use crate::model::InboundMessage;
use crate::store::attrs::{Item, s};
use crate::store::keys::{self, PK, SK};

/// The SET clause of a contact written with a message, with the attribute names and values
/// it uses; each case adds its own before [`contact_builder`] makes the update.
pub(super) struct ContactSet {
    set: String,
    names: HashMap<String, String>,
    values: Item,
}

/// The SET clause every contact update starts with.
const SET: &str = "SET #type = :contact, channel = :channel, address = :address, created_at = if_not_exists(created_at, :now), updated_at = :now";

/// Common SET clause for a contact written with a message, with room for `extra` values.
pub(super) fn contact_set(message: &InboundMessage, now: &str, extra: usize) -> ContactSet {
    // Sized once: the longest clause adds name, language and the opt-out or open ticket.
    let mut set = String::with_capacity(SET.len() + 96);
    set.push_str(SET);
    let mut names = HashMap::with_capacity(3);
    names.insert("#type".into(), "type".into());
    let mut values = Item::with_capacity(6 + extra);
    values.insert(":contact".into(), s("contact"));
    values.insert(":channel".into(), s(message.channel.as_str()));
    values.insert(":address".into(), s(&message.from.address));
    values.insert(":now".into(), s(now));
    if let Some(name) = &message.from.name {
        set.push_str(", #name = :name");
        names.insert("#name".into(), "name".into());
        values.insert(":name".into(), s(name));
    }
    if let Some(lang) = &message.language {
        set.push_str(", #language = :language");
        names.insert("#language".into(), "language".into());
        values.insert(":language".into(), s(lang));
    }
    ContactSet { set, names, values }
}

impl ContactSet {
    /// Adds `clause` (`, a = :b`) to the SET clause.
    fn set(mut self, clause: &str) -> ContactSet {
        self.set.push_str(clause);
        self
    }

    /// Adds the value of `placeholder`.
    fn value(mut self, placeholder: &str, value: AttributeValue) -> ContactSet {
        self.values.insert(placeholder.into(), value);
        self
    }
}

/// The update of the contact item `contact_key` with `update` under `condition` (none when
/// empty).
pub(super) fn contact_builder(
    table: &str,
    contact_key: &str,
    update: ContactSet,
    condition: &str,
) -> TransactWriteItem {
    let mut key = Item::with_capacity(2);
    key.insert(PK.into(), s(contact_key));
    key.insert(SK.into(), s(keys::CONTACT_SK));
    let mut b = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(update.set)
        .set_expression_attribute_names(Some(update.names))
        .set_expression_attribute_values(Some(update.values));
    if !condition.is_empty() {
        b = b.condition_expression(condition);
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
    let update = contact_set(message, now, 1).value(":ticket", s(ticket_id));
    contact_builder(table, contact_key, update, "open_ticket = :ticket")
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
    let update = contact_set(message, now, 2)
        .set(", open_ticket = :ticket")
        .value(":ticket", s(ticket_id));
    let (update, condition) = match replaces_closed {
        Some(closed) => (
            update.value(":closed", s(closed)),
            "attribute_not_exists(open_ticket) OR open_ticket = :closed",
        ),
        None => (update, "attribute_not_exists(open_ticket)"),
    };
    contact_builder(table, contact_key, update, condition)
}

/// STOP/START: record the opt-out state; no ticket, no message.
pub(super) fn opt_out_update(
    table: &str,
    message: &InboundMessage,
    contact_key: &str,
    keyword: Keyword,
    now: &str,
) -> TransactWriteItem {
    let update = contact_set(message, now, 1)
        .set(", opted_out = :opted_out, opted_out_changed_at = :now")
        .value(":opted_out", AttributeValue::Bool(keyword == Keyword::Stop));
    contact_builder(table, contact_key, update, "")
}
