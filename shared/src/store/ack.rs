//! Recording the acknowledgement outcome, with conditional updates so a redelivered stream
//! record never acts twice, and a sent ack's record, contact note and Message-ID in one
//! transaction.
//!
//! The claim `pending → sending` carries a token unique to the attempt that took it
//! (`ack_claim`): the SDK's own retry of a claim that committed but whose answer was lost
//! then succeeds again instead of reading as "someone else has it", and only the claimer
//! moves the ack on from `sending` (each such move is conditional on its token and removes
//! it).

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use jiff::Timestamp;

use super::attrs::{Item, s, time};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, classify};
use crate::model::{AckStatus, Channel, RecentAck};

/// Details recorded with an ack transition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckRecord<'a> {
    /// Why it was skipped or failed.
    pub reason: Option<&'a str>,
    /// The provider's id of the sent ack.
    pub provider_message_id: Option<&'a str>,
}

/// An ack the provider accepted, and what recording it touches.
#[derive(Debug, Clone)]
pub struct SentAck<'a> {
    /// The acknowledged ticket (its ack is `sending`).
    pub ticket_id: &'a str,
    /// The provider's id of the ack.
    pub provider_message_id: Option<&'a str>,
    /// The token of the claim that sent it (see [`Store::claim_ack`]).
    pub claim: &'a str,
    /// The Message-ID of an email ack, mapped to the ticket so a reply to the ack joins it.
    pub thread_id: Option<&'a str>,
    /// The contact's channel.
    pub channel: Channel,
    /// The contact's address.
    pub contact: &'a str,
    /// The contact's acks as read for the decision.
    pub previous: &'a [RecentAck],
    /// When the ack was decided (the policy's clock).
    pub at: Timestamp,
    /// The language the ack was written in (the contact's, if it has none yet).
    pub language: &'a str,
}

/// The parts of one UpdateItem, sent alone or as an item of a transaction.
struct UpdateParts {
    pk: String,
    sk: String,
    expression: String,
    condition: Option<&'static str>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// Sets an [`UpdateParts`] on `builder`: a transaction's `Update` or an `UpdateItem` request,
/// which have the same setters but no common trait.
macro_rules! with_parts {
    ($builder:expr, $table:expr, $parts:expr) => {{
        let parts: UpdateParts = $parts;
        $builder
            .table_name($table)
            .key(PK, s(parts.pk))
            .key(SK, s(parts.sk))
            .update_expression(parts.expression)
            .set_condition_expression(parts.condition.map(str::to_owned))
            .set_expression_attribute_names((!parts.names.is_empty()).then_some(parts.names))
            .set_expression_attribute_values(Some(parts.values))
    }};
}

impl UpdateParts {
    fn transaction_item(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let update = with_parts!(Update::builder(), table, self)
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn send(
        self,
        store: &Store,
    ) -> Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>> {
        with_parts!(store.client.update_item(), &store.table, self)
            .send()
            .await
    }
}

/// The move of a ticket's ack from `from` to `to`, on condition that it is in `from` and,
/// given a `claim`, that the claim is that one. Every move but a claim removes the claim's
/// token.
fn transition(
    ticket_id: &str,
    from: AckStatus,
    to: AckStatus,
    claim: Option<&str>,
    record: AckRecord<'_>,
) -> UpdateParts {
    let mut expression = String::from("SET ack_status = :to, ack_updated_at = :now");
    let mut values = HashMap::from([
        (":from".to_owned(), s(from.as_str())),
        (":to".to_owned(), s(to.as_str())),
        (":now".to_owned(), s(time(Timestamp::now()))),
    ]);
    if let Some(reason) = record.reason {
        expression.push_str(", ack_reason = :reason");
        values.insert(":reason".into(), s(reason));
    }
    if let Some(id) = record.provider_message_id {
        expression.push_str(", ack_provider_message_id = :pid");
        values.insert(":pid".into(), s(id));
    }
    let mut remove = Vec::new();
    if record.reason.is_none() {
        remove.push("ack_reason");
    }
    if to != AckStatus::Sending {
        remove.push("ack_claim");
    }
    if !remove.is_empty() {
        expression.push_str(" REMOVE ");
        expression.push_str(&remove.join(", "));
    }
    let condition = match claim {
        Some(token) => {
            values.insert(":claim".into(), s(token));
            "ack_status = :from AND ack_claim = :claim"
        }
        None => "ack_status = :from",
    };
    UpdateParts {
        pk: keys::ticket(ticket_id),
        sk: keys::TICKET_SK.to_owned(),
        expression,
        condition: Some(condition),
        names: HashMap::new(),
        values,
    }
}

/// The claim `pending → sending` under `token`; a retry of the same claim (same token)
/// passes its condition again.
fn claim(ticket_id: &str, token: &str) -> UpdateParts {
    UpdateParts {
        pk: keys::ticket(ticket_id),
        sk: keys::TICKET_SK.to_owned(),
        expression: "SET ack_status = :sending, ack_claim = :claim, ack_updated_at = :now \
                     REMOVE ack_reason"
            .to_owned(),
        condition: Some("ack_status = :pending OR (ack_status = :sending AND ack_claim = :claim)"),
        names: HashMap::new(),
        values: HashMap::from([
            (":pending".to_owned(), s(AckStatus::Pending.as_str())),
            (":sending".to_owned(), s(AckStatus::Sending.as_str())),
            (":claim".to_owned(), s(token)),
            (":now".to_owned(), s(time(Timestamp::now()))),
        ]),
    }
}

/// The note of a sent ack on its contact: for the daily cap and the quiet period, and the
/// language used if the contact has none yet. Unconditional, so it can never fail the record
/// of a sent ack. The contact's `recent_acks` is a map of ticket id to time: this ack is set
/// under its own name and the entries a day old at the read are removed by theirs, so an ack
/// noted by another ticket meanwhile is kept (and noting this one twice changes nothing). A
/// contact without such a map yet (no acks, or the list of earlier versions) is given the
/// whole map; so is every contact when `whole` (that form fails on no stored shape).
fn contact_note(sent: &SentAck<'_>, whole: bool) -> UpdateParts {
    let day_ago = sent.at - jiff::SignedDuration::from_hours(24);
    let mut names = HashMap::from([
        ("#acks".to_owned(), "recent_acks".to_owned()),
        ("#language".to_owned(), "language".to_owned()),
    ]);
    let mut values = HashMap::from([
        (":at".to_owned(), s(time(sent.at))),
        (":language".to_owned(), s(sent.language)),
    ]);
    let keyed = !sent.previous.is_empty() && sent.previous.iter().all(|a| a.key.is_some());
    let mut remove = Vec::new();
    let mut expression = if keyed && !whole {
        names.insert("#ticket".into(), sent.ticket_id.to_owned());
        let stale = sent
            .previous
            .iter()
            .filter(|a| a.at <= day_ago)
            .filter_map(|a| a.key.as_deref())
            .filter(|key| *key != sent.ticket_id);
        for (i, key) in stale.enumerate() {
            names.insert(format!("#old{i}"), key.to_owned());
            remove.push(format!("#acks.#old{i}"));
        }
        String::from("SET #acks.#ticket = :at")
    } else {
        let fresh = sent
            .previous
            .iter()
            .filter(|a| a.at > day_ago)
            .map(|a| (a.key.clone().unwrap_or_else(|| time(a.at)), s(time(a.at))));
        let acks = fresh
            .chain(std::iter::once((
                sent.ticket_id.to_owned(),
                s(time(sent.at)),
            )))
            .collect();
        values.insert(":acks".into(), AttributeValue::M(acks));
        String::from("SET #acks = :acks")
    };
    expression.push_str(", last_ack_at = :at, #language = if_not_exists(#language, :language)");
    if !remove.is_empty() {
        expression.push_str(" REMOVE ");
        expression.push_str(&remove.join(", "));
    }
    UpdateParts {
        pk: keys::contact(sent.channel, sent.contact),
        sk: keys::CONTACT_SK.to_owned(),
        expression,
        condition: None,
        names,
        values,
    }
}

/// The `MSGID#` item mapping a Message-ID we sent to its ticket.
fn thread_item(message_id: &str, ticket_id: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), s(keys::message_id(message_id))),
        (SK.to_owned(), s(keys::REF_SK)),
        ("type".to_owned(), s("msgid")),
        ("ticket_id".to_owned(), s(ticket_id)),
    ])
}

impl Store {
    /// Moves a ticket's ack from `from` to `to`, whoever claimed it. Returns `false` when the
    /// ticket is not in `from` (someone else already acted), which is not an error. The
    /// acknowledger moves an ack out of `sending` only with [`Store::finish_claim`].
    pub async fn transition_ack(
        &self,
        ticket_id: &str,
        from: AckStatus,
        to: AckStatus,
        record: AckRecord<'_>,
    ) -> Result<bool, StoreError> {
        conditional(
            transition(ticket_id, from, to, None, record)
                .send(self)
                .await,
        )
    }

    /// Claims a ticket's ack, `pending → sending`, under `token` (unique to the attempt).
    /// Returns `false` when the ack is neither pending nor already claimed under `token`.
    pub async fn claim_ack(&self, ticket_id: &str, token: &str) -> Result<bool, StoreError> {
        conditional(claim(ticket_id, token).send(self).await)
    }

    /// Moves an ack claimed under `token` from `sending` to `to` (`pending` releases the
    /// claim). Returns `false` when the ack is not `sending` under that claim: it was never
    /// taken, or has already been moved on.
    pub async fn finish_claim(
        &self,
        ticket_id: &str,
        token: &str,
        to: AckStatus,
        record: AckRecord<'_>,
    ) -> Result<bool, StoreError> {
        let parts = transition(ticket_id, AckStatus::Sending, to, Some(token), record);
        conditional(parts.send(self).await)
    }

    /// Records an ack the provider accepted: `sending → sent` with its provider id, the note
    /// on the contact and, for email, its Message-ID, in one TransactWriteItems whose only
    /// condition is the ticket's own (still `sending` under the sender's claim). Should the
    /// transaction fail for any reason (the ticket no longer `sending` under that claim, a
    /// conflict with an ingest writing the same contact, DynamoDB unavailable), the three are
    /// written one by one as before it: the transition first, whose error is returned (the
    /// acknowledger retries the whole record within its write deadline), then the other two,
    /// best effort. Returns whether the ticket moved to `sent` (`false` when it was no longer
    /// `sending` under the claim, e.g. an earlier try whose answer was lost had moved it).
    pub async fn record_sent(&self, sent: &SentAck<'_>) -> Result<bool, StoreError> {
        let ticket_id = sent.ticket_id;
        match self.record_sent_at_once(sent).await {
            Ok(()) => return Ok(true),
            Err(e) => tracing::warn!(
                ticket_id,
                error_kind = e.kind(),
                "ack's record written one by one"
            ),
        }
        let record = AckRecord {
            reason: None,
            provider_message_id: sent.provider_message_id,
        };
        let moved = self
            .finish_claim(ticket_id, sent.claim, AckStatus::Sent, record)
            .await?;
        if let Some(thread_id) = sent.thread_id {
            // Sent is sent; without this mapping a reply to the ack still finds the ticket
            // through the [#REF] in its subject or the contact's open ticket.
            if let Err(e) = self.record_thread_id(thread_id, ticket_id).await {
                tracing::warn!(
                    ticket_id,
                    error_kind = e.kind(),
                    "ack sent but its Message-ID not mapped"
                );
            }
        }
        // Sent is sent: a failure to note it on the contact only weakens the daily cap for
        // this contact; it must not make the record retry.
        if let Err(e) = contact_note(sent, true).send(self).await {
            tracing::warn!(
                ticket_id,
                error_kind = classify(e).kind(),
                "ack sent but not noted on the contact"
            );
        }
        Ok(moved)
    }

    async fn record_sent_at_once(&self, sent: &SentAck<'_>) -> Result<(), StoreError> {
        let record = AckRecord {
            reason: None,
            provider_message_id: sent.provider_message_id,
        };
        let mut items = vec![
            transition(
                sent.ticket_id,
                AckStatus::Sending,
                AckStatus::Sent,
                Some(sent.claim),
                record,
            )
            .transaction_item(&self.table)?,
            contact_note(sent, false).transaction_item(&self.table)?,
        ];
        if let Some(thread_id) = sent.thread_id {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(thread_item(thread_id, sent.ticket_id)))
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
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
            .set_item(Some(thread_item(message_id, ticket_id)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// A conditional update's answer: `false` when its condition failed.
pub(super) fn conditional(
    answer: Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>>,
) -> Result<bool, StoreError> {
    match answer {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
        {
            Ok(false)
        }
        Err(e) => Err(classify(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::{SentAck, contact_note};
    use crate::model::{Channel, RecentAck};
    use aws_sdk_dynamodb::types::AttributeValue;

    fn sent<'a>(previous: &'a [RecentAck], at: jiff::Timestamp) -> SentAck<'a> {
        SentAck {
            ticket_id: "T2",
            provider_message_id: None,
            claim: "01CLAIM",
            thread_id: None,
            channel: Channel::Sms,
            contact: "+6281234567890",
            previous,
            at,
            language: "id",
        }
    }

    fn ack(at: jiff::Timestamp, key: Option<&str>) -> RecentAck {
        RecentAck {
            at,
            key: key.map(str::to_owned),
        }
    }

    #[test]
    fn a_map_is_noted_entry_by_entry_and_drops_only_stale_entries_of_others() {
        let now: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let hours = |h: i64| now - jiff::SignedDuration::from_hours(h);
        let previous = [
            ack(hours(1), Some("T1")),
            ack(hours(30), Some("T0")),
            ack(hours(30), Some("T2")),
        ];
        let note = contact_note(&sent(&previous, now), false);
        assert_eq!(
            note.expression,
            "SET #acks.#ticket = :at, last_ack_at = :at, #language = if_not_exists(#language, :language) REMOVE #acks.#old0"
        );
        assert_eq!(note.names["#old0"], "T0");
        assert_eq!(note.names["#ticket"], "T2");
        assert!(note.condition.is_none());
    }

    #[test]
    fn a_list_or_no_acks_get_the_whole_map_of_the_last_day() {
        let now: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let hours = |h: i64| now - jiff::SignedDuration::from_hours(h);
        let previous = [ack(hours(2), None), ack(hours(25), None)];
        for (previous, whole) in [
            (&previous[..], false),
            (&[][..], false),
            (&previous[..], true),
        ] {
            let note = contact_note(&sent(previous, now), whole);
            assert!(note.expression.starts_with("SET #acks = :acks, "));
            let Some(AttributeValue::M(map)) = note.values.get(":acks") else {
                panic!("a map");
            };
            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let want = if previous.is_empty() {
                vec!["T2"]
            } else {
                vec!["2026-11-30T08:00:00.000000Z", "T2"]
            };
            assert_eq!(keys, want);
        }
    }
}
