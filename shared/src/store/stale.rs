//! Acks left `sending` by an acknowledger that died between its claim and its write-back:
//! found by a Scan (the whole table each run, filtered to `ack_status = sending` claimed
//! before a cutoff) and marked `failed` with reason `interrupted` (or put back `pending` to
//! be sent again, where the provider refuses a repeat), each by a conditional update on the
//! claim that was read, so an ack that moved on meanwhile is never touched.

use std::collections::HashMap;

use jiff::Timestamp;

use super::attrs::{s, time};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, classify};
use crate::model::AckStatus;

/// The reason a swept ack is failed with.
pub const INTERRUPTED: &str = "interrupted";

/// An ack found in `sending` since before the cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleClaim {
    /// The ticket.
    pub ticket_id: String,
    /// The claim's token (`None` for a claim without one).
    pub claim: Option<String>,
    /// When the ack was claimed (`ack_updated_at` as stored).
    pub claimed_at: String,
    /// The ticket's channel (`sms`, `email`, `social`), for the metric.
    pub channel: Option<String>,
    /// The ticket's provider, for the metric.
    pub provider: Option<String>,
    /// When the ticket was created: the first message's `received_at`, from which the
    /// attempt chose its API (a LINE reply or push).
    pub created_at: Option<String>,
}

impl Store {
    /// Every ticket whose ack is `sending` with an `ack_updated_at` before `cutoff`, by a
    /// consistent, paginated Scan of the whole table (an operator's sweep, every few minutes;
    /// DESIGN.md says what it costs).
    pub async fn stale_claims(&self, cutoff: Timestamp) -> Result<Vec<StaleClaim>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(
                "sk = :meta AND begins_with(pk, :ticket) AND ack_status = :sending \
                 AND ack_updated_at < :cutoff",
            )
            .expression_attribute_values(":meta", s(keys::TICKET_SK))
            .expression_attribute_values(":ticket", s("TICKET#"))
            .expression_attribute_values(":sending", s(AckStatus::Sending.as_str()))
            .expression_attribute_values(":cutoff", s(time(cutoff)))
            // Names, not words: `channel` and the like may be DynamoDB reserved words.
            .projection_expression("#pk, #claim, #at, #channel, #provider, #created")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#claim", "ack_claim")
            .expression_attribute_names("#at", "ack_updated_at")
            .expression_attribute_names("#channel", "channel")
            .expression_attribute_names("#provider", "provider")
            .expression_attribute_names("#created", "created_at")
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(classify)?;
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let Some(ticket_id) = text(PK)
                .as_deref()
                .and_then(keys::ticket_id)
                .map(str::to_owned)
            else {
                continue;
            };
            out.push(StaleClaim {
                ticket_id,
                claim: text("ack_claim"),
                claimed_at: text("ack_updated_at").unwrap_or_default(),
                channel: text("channel"),
                provider: text("provider"),
                created_at: text("created_at"),
            });
        }
        Ok(out)
    }

    /// Marks a stale claim `sending → failed` with reason [`INTERRUPTED`], on condition that
    /// the ack is still `sending` under the same claim and claimed at the same time as read.
    /// Returns `false` when it moved on meanwhile (which is left alone).
    pub async fn fail_interrupted(&self, stale: &StaleClaim) -> Result<bool, StoreError> {
        self.settle_stale(stale, AckStatus::Failed).await
    }

    /// Puts a stale claim back `sending → pending` (reason [`INTERRUPTED`]) so that it is sent
    /// again, on the same condition as [`Store::fail_interrupted`]: only for a provider that
    /// refuses a repeat of what it accepted (`Sender::resend_is_safe`).
    pub async fn release_interrupted(&self, stale: &StaleClaim) -> Result<bool, StoreError> {
        self.settle_stale(stale, AckStatus::Pending).await
    }

    async fn settle_stale(&self, stale: &StaleClaim, to: AckStatus) -> Result<bool, StoreError> {
        let mut values = HashMap::from([
            (":sending".to_owned(), s(AckStatus::Sending.as_str())),
            (":to".to_owned(), s(to.as_str())),
            (":reason".to_owned(), s(INTERRUPTED)),
            (":now".to_owned(), s(time(Timestamp::now()))),
            (":claimed_at".to_owned(), s(&stale.claimed_at)),
        ]);
        let mut condition = String::from("ack_status = :sending AND ack_updated_at = :claimed_at");
        match &stale.claim {
            Some(token) => {
                condition.push_str(" AND ack_claim = :claim");
                values.insert(":claim".into(), s(token));
            }
            None => condition.push_str(" AND attribute_not_exists(ack_claim)"),
        }
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(keys::ticket(&stale.ticket_id)))
            .key(SK, s(keys::TICKET_SK))
            .update_expression(
                "SET ack_status = :to, ack_reason = :reason, ack_updated_at = :now \
                 REMOVE ack_claim",
            )
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        super::ack::conditional(answer)
    }
}
