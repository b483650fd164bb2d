//! The transaction of one message, built without I/O: which items it puts or updates, under
//! which conditions, and the role of each (to read a cancellation). Unit-testable and
//! benchmarked on its own.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use jiff::Timestamp;

use super::contact::{
    contact_builder, contact_set, contact_update, contact_update_for_new, opt_out_update,
};
use super::items::{message_item, ticket_item};
use crate::ids::TicketIds;
use crate::keywords::Keyword;
use crate::model::InboundMessage;
use crate::store::attrs::{Item, n, s, time};
use crate::store::keys::{self, PK, SK};

/// Where a message goes, decided from the contact read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Join the contact's open ticket.
    Existing {
        /// The open ticket's id.
        ticket_id: String,
    },
    /// Join the ticket an email answers, whoever's open ticket it is.
    Thread {
        /// The ticket the mail's Message-ID references or `[#REF]` point at.
        ticket_id: String,
    },
    /// Open a new ticket.
    New {
        /// Its ids.
        ids: TicketIds,
        /// The closed ticket the contact still names, if any.
        replaces_closed: Option<String>,
    },
    /// Only record an opt-out or opt-in on the contact.
    ContactOnly(Keyword),
}

/// What each item of the transaction is, to read its cancellation reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The provider message id reservation.
    Dedup,
    /// The message item.
    Message,
    /// The ticket item.
    Ticket,
    /// The human reference reservation.
    Reference,
    /// The contact item.
    Contact,
    /// The email Message-ID → ticket mapping.
    Thread,
}

/// A transaction ready to send.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    /// The items, in order.
    pub items: Vec<TransactWriteItem>,
    /// The role of each item.
    pub roles: Vec<Role>,
}

/// Builds the transaction for `message` going to `target` on `table`. Pure: no I/O.
pub fn plan(table: &str, message: &InboundMessage, target: &Target, now: Timestamp) -> IngestPlan {
    let now_text = time(now);
    let contact_key = keys::contact(message.channel, &message.from.address);
    let mut items = Vec::with_capacity(5);
    let mut roles = Vec::with_capacity(5);

    let ticket_id = match target {
        Target::Existing { ticket_id } | Target::Thread { ticket_id } => Some(ticket_id.as_str()),
        Target::New { ids, .. } => Some(ids.id.as_str()),
        Target::ContactOnly(_) => None,
    };
    let mut dedup = Item::with_capacity(5);
    dedup.insert(
        PK.into(),
        s(keys::dedup(message.provider, &message.dedup_key())),
    );
    dedup.insert(SK.into(), s(keys::DEDUP_SK));
    dedup.insert("type".into(), s("dedup"));
    dedup.insert(
        keys::EXPIRES_AT.into(),
        n(now.as_second() + keys::DEDUP_TTL_SECONDS),
    );
    if let Some(id) = ticket_id {
        dedup.insert("ticket_id".into(), s(id));
    }
    items.push(put(table, dedup));
    roles.push(Role::Dedup);

    let Some(ticket_id) = ticket_id else {
        let Target::ContactOnly(keyword) = target else {
            unreachable!("only contact-only targets have no ticket")
        };
        items.push(opt_out_update(
            table,
            message,
            &contact_key,
            *keyword,
            &now_text,
        ));
        roles.push(Role::Contact);
        return IngestPlan { items, roles };
    };

    let message_sk = keys::message(&now_text, message.provider, &message.provider_message_id);
    items.push(put(
        table,
        message_item(message, ticket_id, &message_sk, &now_text),
    ));
    roles.push(Role::Message);

    if let Some(message_id) = message.email.as_ref().and_then(|e| e.message_id.as_deref()) {
        let mut thread = Item::with_capacity(4);
        thread.insert(PK.into(), s(keys::message_id(message_id)));
        thread.insert(SK.into(), s(keys::REF_SK));
        thread.insert("type".into(), s("msgid"));
        thread.insert("ticket_id".into(), s(ticket_id));
        // Unconditional: a Message-ID seen again (a resend, the same mail through two
        // providers) points at the ticket it joined last.
        items.push(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(thread))
                        .build()
                        .expect("put has table and item"),
                )
                .build(),
        );
        roles.push(Role::Thread);
    }

    match target {
        Target::Thread { ticket_id } => {
            items.push(ticket_join(table, ticket_id, &now_text, true));
            roles.push(Role::Ticket);
            let update = contact_set(message, &now_text, 0);
            items.push(contact_builder(table, &contact_key, update, ""));
            roles.push(Role::Contact);
        }
        Target::Existing { ticket_id } => {
            items.push(ticket_join(table, ticket_id, &now_text, false));
            roles.push(Role::Ticket);
            items.push(contact_update(
                table,
                message,
                &contact_key,
                ticket_id,
                &now_text,
            ));
            roles.push(Role::Contact);
        }
        Target::New {
            ids,
            replaces_closed,
        } => {
            let ticket = ticket_item(message, ids, &contact_key, &message_sk, &now_text);
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(table)
                            .set_item(Some(ticket))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .expect("ticket put has item"),
                    )
                    .build(),
            );
            roles.push(Role::Ticket);
            let mut reference = Item::with_capacity(4);
            reference.insert(PK.into(), s(keys::reference(&ids.reference)));
            reference.insert(SK.into(), s(keys::REF_SK));
            reference.insert("type".into(), s("ref"));
            reference.insert("ticket_id".into(), s(&ids.id));
            items.push(put(table, reference));
            roles.push(Role::Reference);
            items.push(contact_update_for_new(
                table,
                message,
                &contact_key,
                &ids.id,
                &now_text,
                replaces_closed.as_deref(),
            ));
            roles.push(Role::Contact);
        }
        Target::ContactOnly(_) => unreachable!("handled above"),
    }
    IngestPlan { items, roles }
}

/// Adds a message to a ticket that must still be open (and, for threaded email, still an
/// email ticket: a `[#REF]` typed into a subject must not reach an SMS conversation).
fn ticket_join(table: &str, ticket_id: &str, now: &str, email_only: bool) -> TransactWriteItem {
    let mut key = Item::with_capacity(2);
    key.insert(PK.into(), s(keys::ticket(ticket_id)));
    key.insert(SK.into(), s(keys::TICKET_SK));
    let mut values = Item::with_capacity(4);
    values.insert(":one".into(), n(1));
    values.insert(":now".into(), s(now));
    values.insert(":open".into(), s("open"));
    let condition = if email_only {
        values.insert(":email".into(), s("email"));
        "#status = :open AND channel = :email"
    } else {
        "#status = :open"
    };
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(
            "SET message_count = message_count + :one, updated_at = :now, last_message_at = :now",
        )
        .expression_attribute_names("#status", "status")
        .set_expression_attribute_values(Some(values))
        .condition_expression(condition);
    TransactWriteItem::builder()
        .update(
            update
                .build()
                .expect("ticket update has key and expression"),
        )
        .build()
}

fn put(table: &str, item: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("put has table and item"),
        )
        .build()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
