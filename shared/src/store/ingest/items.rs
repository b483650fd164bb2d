//! What a message and a new ticket look like in the table (see DESIGN.md's item layout).

use aws_sdk_dynamodb::types::AttributeValue;

use crate::ids::TicketIds;
use crate::model::{AckStatus, EmailDetails, InboundMessage};
use crate::store::attrs::{Item, n, s};
use crate::store::keys::{self, PK, SK};

/// The message item, under its ticket.
pub(super) fn message_item(message: &InboundMessage, ticket_id: &str, sk: &str, now: &str) -> Item {
    let optional = [
        message.from.name.is_some(),
        message.subject.is_some(),
        !message.attachments.is_empty(),
        message.language.is_some(),
        message.keyword.is_some(),
        message.reply_token.is_some(),
    ];
    // At its final size from the start: no table grown and rehashed on the way.
    let capacity = 11
        + optional.iter().filter(|&&present| present).count()
        + message.email.as_ref().map_or(0, |_| EMAIL_ATTRIBUTES);
    let mut item = Item::with_capacity(capacity);
    item.insert(PK.into(), s(keys::ticket(ticket_id)));
    item.insert(SK.into(), s(sk));
    item.insert("type".into(), s("message"));
    item.insert("ticket_id".into(), s(ticket_id));
    item.insert("channel".into(), s(message.channel.as_str()));
    item.insert("provider".into(), s(message.provider));
    item.insert(
        "provider_message_id".into(),
        s(&message.provider_message_id),
    );
    item.insert("from".into(), s(&message.from.address));
    if let Some(name) = &message.from.name {
        item.insert("from_name".into(), s(name));
    }
    item.insert("to".into(), s(&message.to));
    if let Some(subject) = &message.subject {
        item.insert("subject".into(), s(subject));
    }
    item.insert("body".into(), s(&message.body));
    if !message.attachments.is_empty() {
        let list = message
            .attachments
            .iter()
            .map(|a| {
                let mut m = Item::with_capacity(4);
                for (k, v) in [
                    ("url", &a.url),
                    ("content_type", &a.content_type),
                    ("name", &a.name),
                ] {
                    if let Some(v) = v {
                        m.insert(k.into(), s(v));
                    }
                }
                if let Some(size) = a.size {
                    m.insert("size".into(), n(size));
                }
                AttributeValue::M(m)
            })
            .collect();
        item.insert("attachments".into(), AttributeValue::L(list));
    }
    if let Some(lang) = &message.language {
        item.insert("language".into(), s(lang));
    }
    if let Some(k) = message.keyword {
        item.insert("keyword".into(), s(k.as_str()));
    }
    if let Some(token) = &message.reply_token {
        item.insert("reply_token".into(), s(token));
    }
    if let Some(email) = &message.email {
        email_attributes(&mut item, email);
    }
    item.insert("received_at".into(), s(now));
    item
}

/// The most attributes [`email_attributes`] adds.
const EMAIL_ATTRIBUTES: usize = 7;

fn email_attributes(item: &mut Item, email: &EmailDetails) {
    let list = |values: &[String]| AttributeValue::L(values.iter().map(s).collect());
    if let Some(id) = &email.message_id {
        item.insert("message_id".into(), s(id));
    }
    if !email.in_reply_to.is_empty() {
        item.insert("in_reply_to".into(), list(&email.in_reply_to));
    }
    if !email.references.is_empty() {
        item.insert("references".into(), list(&email.references));
    }
    if !email.cc.is_empty() {
        item.insert("cc".into(), list(&email.cc));
    }
    if !email.quoted.is_empty() {
        item.insert("quoted".into(), s(&email.quoted));
    }
    if let Some(reason) = &email.no_reply {
        item.insert("no_reply".into(), s(reason));
    }
    if let Some(flag) = &email.flagged {
        item.insert("flagged".into(), s(flag));
    }
}

/// A new ticket item: open, ack `pending`, its first message named.
pub(super) fn ticket_item(
    message: &InboundMessage,
    ids: &TicketIds,
    contact_key: &str,
    message_sk: &str,
    now: &str,
) -> Item {
    let mut item = Item::with_capacity(20);
    item.insert(PK.into(), s(keys::ticket(&ids.id)));
    item.insert(SK.into(), s(keys::TICKET_SK));
    item.insert("type".into(), s("ticket"));
    item.insert("id".into(), s(&ids.id));
    item.insert("ref".into(), s(&ids.reference));
    item.insert("channel".into(), s(message.channel.as_str()));
    item.insert("provider".into(), s(message.provider));
    item.insert("contact_key".into(), s(contact_key));
    item.insert("contact".into(), s(&message.from.address));
    if let Some(name) = &message.from.name {
        item.insert("contact_name".into(), s(name));
    }
    item.insert("our_address".into(), s(&message.to));
    if let Some(subject) = &message.subject {
        item.insert("subject".into(), s(subject));
    }
    item.insert("status".into(), s("open"));
    if let Some(flag) = message.email.as_ref().and_then(|e| e.flagged.as_ref()) {
        item.insert("flagged".into(), s(flag));
    }
    item.insert("message_count".into(), n(1));
    item.insert("ack_status".into(), s(AckStatus::Pending.as_str()));
    item.insert("first_message_sk".into(), s(message_sk));
    item.insert("created_at".into(), s(now));
    item.insert("updated_at".into(), s(now));
    item.insert("last_message_at".into(), s(now));
    item
}
