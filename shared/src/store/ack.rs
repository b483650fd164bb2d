//! Recording the acknowledgement outcome, with a conditional update so a redelivered stream
//! record never acts twice.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use jiff::Timestamp;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{s, time};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, classify};
use crate::model::{AckStatus, Channel};

/// Details recorded with an ack transition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckRecord<'a> {
    /// Why it was skipped or failed.
    pub reason: Option<&'a str>,
    /// The provider's id of the sent ack.
    pub provider_message_id: Option<&'a str>,
}

impl Store {
    /// Moves a ticket's ack from `from` to `to`. Returns `false` when the ticket is not in
    /// `from` (someone else already acted), which is not an error.
    pub async fn transition_ack(
        &self,
        ticket_id: &str,
        from: AckStatus,
        to: AckStatus,
        record: AckRecord<'_>,
    ) -> Result<bool, StoreError> {
        let mut update = String::from("SET ack_status = :to, ack_updated_at = :now");
        let mut remove = Vec::new();
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(keys::ticket(ticket_id)))
            .key(SK, s(keys::TICKET_SK))
            .condition_expression("ack_status = :from")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":now", s(time(Timestamp::now())));
        match record.reason {
            Some(reason) => {
                update.push_str(", ack_reason = :reason");
                req = req.expression_attribute_values(":reason", s(reason));
            }
            None => remove.push("ack_reason"),
        }
        if let Some(id) = record.provider_message_id {
            update.push_str(", ack_provider_message_id = :pid");
            req = req.expression_attribute_values(":pid", s(id));
        }
        if !remove.is_empty() {
            update.push_str(" REMOVE ");
            update.push_str(&remove.join(", "));
        }
        match req.update_expression(update).send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(e)),
        }
    }
}

impl Store {
    /// Records on the contact that an ack went out at `now` (keeping the last 24 hours, for
    /// the daily cap and the quiet period) and, if it has none yet, the language used.
    pub async fn record_contact_ack(
        &self,
        channel: Channel,
        address: &str,
        previous: &[Timestamp],
        now: Timestamp,
        language: &str,
    ) -> Result<(), StoreError> {
        let day_ago = now - jiff::SignedDuration::from_hours(24);
        let recent: Vec<AttributeValue> = previous
            .iter()
            .filter(|t| **t > day_ago)
            .chain(std::iter::once(&now))
            .map(|t| s(time(*t)))
            .collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(keys::contact(channel, address)))
            .key(SK, s(keys::CONTACT_SK))
            .update_expression(
                "SET recent_acks = :recent, last_ack_at = :now, #language = if_not_exists(#language, :language)",
            )
            .expression_attribute_names("#language", "language")
            .expression_attribute_values(":recent", AttributeValue::L(recent))
            .expression_attribute_values(":now", s(time(now)))
            .expression_attribute_values(":language", s(language))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Maps a Message-ID we sent (an email ack) to its ticket, so the customer's reply to
    /// it joins the ticket.
    pub async fn record_thread_id(
        &self,
        message_id: &str,
        ticket_id: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::message_id(message_id)))
            .item(SK, s(keys::REF_SK))
            .item("type", s("msgid"))
            .item("ticket_id", s(ticket_id))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
