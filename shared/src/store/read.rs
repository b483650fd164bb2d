//! Reading tickets, messages and contacts back.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{Item, get_bool, get_n, opt_s, req_s, s};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, classify};
use crate::keywords::Keyword;
use crate::model::{AckStatus, Attachment, Channel, Contact, StoredMessage, Ticket};

fn ticket_from(item: &Item) -> Result<Ticket, StoreError> {
    let channel = req_s(item, "channel")?;
    let ack = req_s(item, "ack_status")?;
    Ok(Ticket {
        id: req_s(item, "id")?,
        reference: req_s(item, "ref")?,
        channel: channel
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unknown channel {channel}")))?,
        provider: req_s(item, "provider")?,
        contact: req_s(item, "contact")?,
        contact_name: opt_s(item, "contact_name"),
        our_address: req_s(item, "our_address")?,
        subject: opt_s(item, "subject"),
        status: req_s(item, "status")?,
        message_count: get_n(item, "message_count"),
        ack_status: AckStatus::parse(&ack)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown ack status {ack}")))?,
        ack_reason: opt_s(item, "ack_reason"),
        flagged: opt_s(item, "flagged"),
        ack_provider_message_id: opt_s(item, "ack_provider_message_id"),
        first_message_sk: req_s(item, "first_message_sk")?,
        created_at: req_s(item, "created_at")?,
        updated_at: req_s(item, "updated_at")?,
    })
}

fn message_from(item: &Item) -> Result<StoredMessage, StoreError> {
    let attachments = match item.get("attachments") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|v| match v {
                AttributeValue::M(m) => Some(Attachment {
                    url: opt_s(m, "url"),
                    content_type: opt_s(m, "content_type"),
                    name: opt_s(m, "name"),
                    size: m.get("size").map(|_| get_n(m, "size")),
                }),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(StoredMessage {
        ticket_id: req_s(item, "ticket_id")?,
        provider: req_s(item, "provider")?,
        provider_message_id: req_s(item, "provider_message_id")?,
        from: req_s(item, "from")?,
        from_name: opt_s(item, "from_name"),
        to: req_s(item, "to")?,
        subject: opt_s(item, "subject"),
        body: opt_s(item, "body").unwrap_or_default(),
        attachments,
        received_at: req_s(item, "received_at")?,
        keyword: opt_s(item, "keyword").and_then(|k| Keyword::parse(&k)),
        language: opt_s(item, "language"),
        reply_token: opt_s(item, "reply_token"),
        message_id: opt_s(item, "message_id"),
        references: strings(item, "references"),
        cc: strings(item, "cc"),
        quoted: opt_s(item, "quoted"),
        no_reply: opt_s(item, "no_reply"),
    })
}

/// A list of strings; absent or of another type reads as empty.
fn strings(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    }
}

impl Store {
    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?
            .item)
    }

    /// A ticket by id.
    pub async fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        self.get(keys::ticket(id), keys::TICKET_SK)
            .await?
            .map(|i| ticket_from(&i))
            .transpose()
    }

    /// The ticket id a human reference (`K7F3Q2`) stands for.
    pub async fn ticket_id_of_reference(
        &self,
        reference: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .get(
                keys::reference(&reference.to_ascii_uppercase()),
                keys::REF_SK,
            )
            .await?
            .and_then(|i| opt_s(&i, "ticket_id")))
    }

    /// One message of a ticket by its sort key.
    pub async fn message(
        &self,
        ticket_id: &str,
        sk: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.get(keys::ticket(ticket_id), sk)
            .await?
            .map(|i| message_from(&i))
            .transpose()
    }

    /// Every message of a ticket, oldest first.
    pub async fn messages(&self, ticket_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :msg)")
            .expression_attribute_values(":pk", s(keys::ticket(ticket_id)))
            .expression_attribute_values(":msg", s(keys::MESSAGE_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            out.push(message_from(&item.map_err(classify)?)?);
        }
        Ok(out)
    }

    /// A contact by channel and address.
    pub async fn contact(
        &self,
        channel: Channel,
        address: &str,
    ) -> Result<Option<Contact>, StoreError> {
        Ok(self
            .get(keys::contact(channel, address), keys::CONTACT_SK)
            .await?
            .map(|i| Contact {
                channel: opt_s(&i, "channel").and_then(|c| c.parse().ok()),
                address: opt_s(&i, "address").unwrap_or_default(),
                name: opt_s(&i, "name"),
                language: opt_s(&i, "language"),
                opted_out: get_bool(&i, "opted_out"),
                open_ticket: opt_s(&i, "open_ticket"),
                recent_acks: match i.get("recent_acks") {
                    Some(AttributeValue::L(list)) => list
                        .iter()
                        .filter_map(|v| v.as_s().ok()?.parse().ok())
                        .collect(),
                    _ => Vec::new(),
                },
            }))
    }

    /// Every ticket, newest first. A full scan: for tools and small tables, not for request
    /// paths.
    pub async fn all_tickets(&self) -> Result<Vec<Ticket>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :meta AND begins_with(pk, :ticket)")
            .expression_attribute_values(":meta", s(keys::TICKET_SK))
            .expression_attribute_values(":ticket", s("TICKET#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            out.push(ticket_from(&item.map_err(classify)?)?);
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }
}
