//! The acknowledger: one automatic reply per new ticket, on the channel the customer used.
//!
//! It reacts to the INSERT of a ticket item on the table's stream, so "one ack per ticket"
//! is structural. The ack moves `pending → sending → sent | failed`, or `pending → skipped`,
//! each step a conditional update: a redelivered record finds the ticket no longer pending
//! and does nothing, so it never sends twice. The claim `pending → sending` carries a token
//! of this attempt, and only that attempt moves the ack on: a claim whose call failed is
//! released, and once the ack is claimed its outcome is written back within a deadline
//! ([`write_back`]), so a DynamoDB outage of seconds delays an ack but leaves none `sending`.
//!
//! One ack is three DynamoDB requests, each for a guarantee (DESIGN.md, "The acknowledger"):
//! one consistent BatchGetItem of the ticket, its contact and its first message (the keys
//! come from the record's `NewImage`), the claim `pending → sending` before the provider is
//! called, and one TransactWriteItems recording `sent` with the contact's note and an email
//! ack's Message-ID. A skip is the read and one conditional update.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures_util::{StreamExt, stream};
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::{self, AckMetric, AckMetricOutcome};
use crate::model::{AckStatus, Channel, Ticket};
use crate::providers::{OutboundMessage, SendError, Sender};
use crate::store::keys;
use crate::store::{AckRecord, SentAck, Store, StoreError, ticket_from_image};

pub mod batching;
pub mod hours;
pub mod language;
pub mod policy;
pub mod settings;
pub mod sweep;
pub mod templates;
pub mod trigger;
pub mod write_back;

pub use language::Language;
pub use policy::{Decision, Rendered, decide};
pub use settings::AckSettings;

/// Where the acknowledger reads the time (tests set a Saturday in Jakarta).
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// What the acknowledger did with one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// The provider accepted the ack.
    Sent,
    /// Deliberately not sent.
    Skipped(String),
    /// The provider refused it for good.
    Failed(String),
    /// Another delivery of the same record already acted, or the ticket is gone.
    AlreadyHandled,
    /// The ack was claimed but its outcome (`sent`, `pending`, `failed`, `skipped`, or the
    /// release of a claim whose call failed: `claim`) could not be written within the write
    /// deadline: it stays `sending` for the stale-claim sweeper.
    Unrecorded(&'static str),
}

impl AckOutcome {
    /// A log-safe summary: our own reason codes, and for failures only the provider's code
    /// (its text may quote the customer's address).
    pub fn summary(&self) -> String {
        match self {
            AckOutcome::Sent => "sent".into(),
            AckOutcome::Skipped(reason) => format!("skipped:{reason}"),
            AckOutcome::Failed(reason) => {
                format!("failed:{}", reason.split(':').next().unwrap_or(""))
            }
            AckOutcome::AlreadyHandled => "already_handled".into(),
            AckOutcome::Unrecorded(what) => format!("unrecorded:{what}"),
        }
    }
}

/// Why a ticket must be tried again later (its stream record is reported as failed).
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// The provider had a temporary problem.
    #[error("send will be retried: {0}")]
    RetryLater(String),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AckError {
    /// A log-safe kind: provider error texts can quote the customer's number.
    pub fn kind(&self) -> &'static str {
        match self {
            AckError::RetryLater(_) => "provider_unavailable",
            AckError::Store(e) => e.kind(),
        }
    }
}

/// The acknowledger, built once per cold start.
pub struct Acknowledger {
    store: Store,
    senders: Vec<Arc<dyn Sender>>,
    settings: AckSettings,
    clock: Clock,
    metrics: metrics::Sink,
    /// How long a claimed ack's outcome is tried ([`write_back::WRITE_DEADLINE`]).
    write_deadline: Duration,
}

/// What one ack decision learned along the way, for its metric line.
#[derive(Debug, Default)]
struct Facts {
    channel: Option<Channel>,
    provider: Option<String>,
    /// When the customer's first message arrived.
    customer_wrote_at: Option<jiff::Timestamp>,
    /// When the provider accepted the ack (the real clock, not the policy's).
    accepted_at: Option<jiff::Timestamp>,
}

impl Facts {
    /// The metric line's content for `result`.
    fn metric(self, result: &Result<AckOutcome, AckError>) -> AckMetric {
        let (outcome, reason) = match result {
            Ok(AckOutcome::Sent) => (AckMetricOutcome::Sent, None),
            Ok(AckOutcome::Skipped(reason)) => (AckMetricOutcome::Skipped, Some(reason.clone())),
            Ok(AckOutcome::Failed(reason)) => (
                AckMetricOutcome::Failed,
                // Stored as "code: provider text"; only the code is a dimension.
                reason.split(':').next().map(str::to_owned),
            ),
            Ok(AckOutcome::AlreadyHandled) => (AckMetricOutcome::AlreadyHandled, None),
            Ok(AckOutcome::Unrecorded(what)) => {
                (AckMetricOutcome::Unrecorded, Some((*what).to_owned()))
            }
            Err(AckError::RetryLater(_)) => {
                (AckMetricOutcome::Retry, Some("provider_unavailable".into()))
            }
            // The same codes as a webhook's store failures.
            Err(AckError::Store(e)) => (
                AckMetricOutcome::Retry,
                Some(
                    if e.is_retryable() {
                        "store_unavailable"
                    } else {
                        "store_error"
                    }
                    .into(),
                ),
            ),
        };
        let delay = self
            .accepted_at
            .zip(self.customer_wrote_at)
            .map(|(sent, wrote)| {
                // A provider's clock ahead of ours must not make a negative delay.
                sent.duration_since(wrote)
                    .try_into()
                    .unwrap_or(std::time::Duration::ZERO)
            });
        AckMetric {
            channel: self.channel,
            provider: self.provider.unwrap_or_else(|| metrics::UNKNOWN.to_owned()),
            outcome,
            reason,
            delay,
        }
    }
}

impl Acknowledger {
    /// With the store, every configured sender, and the settings.
    pub fn new(store: Store, senders: Vec<Arc<dyn Sender>>, settings: AckSettings) -> Acknowledger {
        Acknowledger {
            store,
            senders,
            settings,
            clock: Arc::new(jiff::Timestamp::now),
            metrics: metrics::stdout(),
            write_deadline: write_back::WRITE_DEADLINE,
        }
    }

    /// The same acknowledger giving a claimed ack's outcome `deadline` to be written (tests
    /// of an outage longer than that).
    pub fn with_write_deadline(mut self, deadline: Duration) -> Acknowledger {
        self.write_deadline = deadline;
        self
    }

    /// The same acknowledger writing its metric lines to `sink` instead of stdout.
    pub fn with_metrics(mut self, sink: metrics::Sink) -> Acknowledger {
        self.metrics = sink;
        self
    }

    /// The same acknowledger reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Acknowledger {
        self.clock = clock;
        self
    }

    /// The acknowledger with every sender configured in `config`.
    pub fn from_config(
        config: &crate::Config,
        store: Store,
        clients: &crate::providers::Clients,
    ) -> Acknowledger {
        Acknowledger::new(
            store,
            crate::providers::senders(config, clients),
            config.ack.clone(),
        )
    }

    /// Handles one batch of stream records as Lambda delivers it, up to
    /// [`batching::ACK_CONCURRENCY`] tickets at once. Records whose ack failed temporarily
    /// are reported back (`ReportBatchItemFailures`, by sequence number, in batch order) so
    /// Lambda retries them.
    pub async fn handle_event(&self, event: Event) -> DynamoDbEventResponse {
        let tickets = tickets_of(&event);
        let mut retry: Vec<RecordRef> =
            stream::iter(tickets.into_iter().map(|ticket| async move {
                let acked = self
                    .acknowledge_logged(&ticket.id, ticket.image.as_ref())
                    .await;
                (acked, ticket.records)
            }))
            .buffer_unordered(batching::ACK_CONCURRENCY)
            .filter_map(|(acked, records)| std::future::ready((!acked).then_some(records)))
            .flat_map(stream::iter)
            .collect()
            .await;
        retry.sort_by_key(|(position, _)| *position);
        let mut response = DynamoDbEventResponse::default();
        for (_, sequence_number) in retry {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence_number;
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// [`Acknowledger::acknowledge`] from a record's image, logged; `false` when the ticket
    /// must be tried again.
    async fn acknowledge_logged(&self, ticket_id: &str, image: Option<&serde_json::Value>) -> bool {
        match self.acknowledge_with(ticket_id, image).await {
            Ok(outcome) => {
                tracing::info!(ticket_id, outcome = outcome.summary(), "ack decided");
                true
            }
            Err(err) => {
                // Details at debug only, the kind of failure at warn.
                tracing::warn!(ticket_id, error_kind = err.kind(), "ack will be retried");
                tracing::debug!(ticket_id, error = %err, "ack retry reason");
                false
            }
        }
    }

    /// Decides and, if so decided, sends the ack of one ticket. Whatever the outcome, writes
    /// exactly one metric line (see [`crate::metrics`]).
    pub async fn acknowledge(&self, ticket_id: &str) -> Result<AckOutcome, AckError> {
        self.acknowledge_with(ticket_id, None).await
    }

    /// [`Acknowledger::acknowledge`], given the ticket's INSERT image if the record has one
    /// (it saves reading the ticket before its contact and first message).
    async fn acknowledge_with(
        &self,
        ticket_id: &str,
        image: Option<&serde_json::Value>,
    ) -> Result<AckOutcome, AckError> {
        crate::aws_calls::within(crate::manifest::ACKNOWLEDGER, async {
            let mut facts = Facts::default();
            let result = self.decide_and_send(ticket_id, image, &mut facts).await;
            self.metrics
                .emit(&facts.metric(&result).line(jiff::Timestamp::now()));
            result
        })
        .await
    }

    /// The ticket as its record's image shows it (`true`), or else as read now (`None` when
    /// gone or already decided).
    async fn known_ticket(
        &self,
        ticket_id: &str,
        image: Option<&serde_json::Value>,
    ) -> Result<Option<(Ticket, bool)>, AckError> {
        let imaged = image.and_then(|image| match ticket_from_image(image) {
            Ok(ticket) if ticket.id == ticket_id => Some(ticket),
            _ => {
                tracing::debug!(ticket_id, "record image unusable; ticket read");
                None
            }
        });
        if let Some(ticket) = imaged {
            return Ok(Some((ticket, true)));
        }
        Ok(self
            .store
            .ticket(ticket_id)
            .await?
            .filter(|t| t.ack_status == AckStatus::Pending)
            .map(|t| (t, false)))
    }

    /// Whether the stale claim `stale` may be sent again at `now` (see
    /// [`Sender::resend_is_safe`]): its provider's sender says so for an attempt claimed that
    /// long after the customer wrote, that long ago. A claim missing either time is not.
    pub fn resend_is_safe(&self, stale: &crate::store::StaleClaim, now: jiff::Timestamp) -> bool {
        let time = |t: Option<&str>| t.and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let (Some(claimed), Some(created)) = (
            time(Some(&stale.claimed_at)),
            time(stale.created_at.as_deref()),
        ) else {
            return false;
        };
        self.senders
            .iter()
            .find(|s| Some(s.provider()) == stale.provider.as_deref())
            .is_some_and(|s| {
                s.resend_is_safe(claimed.duration_since(created), now.duration_since(claimed))
            })
    }

    /// The provider that brought the ticket answers it; email is answered through SES
    /// whichever provider received the mail.
    fn sender_for(&self, ticket: &Ticket) -> Option<&Arc<dyn Sender>> {
        self.senders
            .iter()
            .find(|s| s.provider() == ticket.provider)
            .or_else(|| {
                self.senders
                    .iter()
                    .find(|s| s.answers_channel() == Some(ticket.channel))
            })
    }

    async fn decide_and_send(
        &self,
        ticket_id: &str,
        image: Option<&serde_json::Value>,
        facts: &mut Facts,
    ) -> Result<AckOutcome, AckError> {
        let Some((known, from_image)) = self.known_ticket(ticket_id, image).await? else {
            return Ok(AckOutcome::AlreadyHandled);
        };
        facts.channel = Some(known.channel);
        facts.provider = Some(known.provider.clone());
        let Some(sender) = self.sender_for(&known) else {
            return self.skip(ticket_id, "no_sender_configured").await;
        };
        // An image is as old as its record: the ticket is read again with its contact and
        // first message, in the same request, for its ack status now.
        let reads = self.store.ack_reads(&known, from_image).await?;
        let ticket = match reads.ticket {
            Some(current) if current.ack_status == AckStatus::Pending => current,
            Some(_) => return Ok(AckOutcome::AlreadyHandled),
            None if from_image => return Ok(AckOutcome::AlreadyHandled),
            None => known,
        };
        let (contact, first) = (reads.contact, reads.first);
        facts.customer_wrote_at = first.as_ref().and_then(|m| m.received_at.parse().ok());
        facts.provider = Some(sender.provider().to_owned());
        let now = (self.clock)();
        let rendered = match decide(
            &ticket,
            contact.as_ref(),
            first.as_ref(),
            &self.settings,
            now,
        ) {
            Decision::Send(rendered) => rendered,
            Decision::Skip { reason } => {
                return self.skip(ticket_id, reason).await;
            }
        };
        let claim = crate::ids::claim_token();
        match self.store.claim_ack(ticket_id, &claim).await {
            Ok(true) => {}
            Ok(false) => return Ok(AckOutcome::AlreadyHandled),
            Err(e) => return self.release(ticket_id, &claim, e).await,
        }
        let message = OutboundMessage {
            to: ticket.contact.clone(),
            from: rendered
                .reply_from
                .clone()
                .unwrap_or_else(|| ticket.our_address.clone()),
            body: rendered.text,
            html: rendered.html,
            subject: ticket.subject.clone(),
            customer_wrote_at: facts.customer_wrote_at.unwrap_or(now),
            reply_token: first.as_ref().and_then(|m| m.reply_token.clone()),
            references: first
                .as_ref()
                .map(|m| m.references.clone())
                .unwrap_or_default(),
            in_reply_to: first
                .map(|m| m.message_id.unwrap_or(m.provider_message_id))
                .unwrap_or_default(),
            ticket_reference: ticket.reference.clone(),
            now,
        };
        // From here on only this attempt can move the ack: whatever the provider answered
        // is written back within the deadline (see `write_back`).
        match sender.send(&message).await {
            Ok(receipt) => {
                facts.accepted_at = Some(jiff::Timestamp::now());
                let previous = contact.as_ref().map(|c| c.recent_acks.as_slice());
                let sent = SentAck {
                    ticket_id,
                    provider_message_id: receipt.provider_message_id.as_deref(),
                    claim: &claim,
                    thread_id: receipt.thread_id.as_deref(),
                    channel: ticket.channel,
                    contact: &ticket.contact,
                    previous: previous.unwrap_or_default(),
                    at: now,
                    language: rendered.language.code(),
                };
                let recorded = self
                    .write_back(ticket_id, "sent", || self.store.record_sent(&sent))
                    .await;
                // Sent is sent, even if a sweeper moved the ack meanwhile.
                Ok(recorded.map_or(AckOutcome::Unrecorded("sent"), |_| AckOutcome::Sent))
            }
            Err(SendError::NotAllowed(reason)) => {
                self.finish_claimed(ticket_id, &claim, AckStatus::Skipped, &reason)
                    .await
            }
            Err(SendError::Permanent { code, reason }) => {
                let reason = format!("{code}: {reason}");
                self.finish_claimed(ticket_id, &claim, AckStatus::Failed, &reason)
                    .await
            }
            Err(SendError::Retryable(reason)) => {
                let record = || AckRecord {
                    reason: Some(&reason),
                    provider_message_id: None,
                };
                let released = self
                    .write_back(ticket_id, "pending", || {
                        self.store
                            .finish_claim(ticket_id, &claim, AckStatus::Pending, record())
                    })
                    .await;
                match released {
                    Some(_) => Err(AckError::RetryLater(reason)),
                    // A retry of the record would find the ack claimed and do nothing.
                    None => Ok(AckOutcome::Unrecorded("pending")),
                }
            }
        }
    }

    /// [`write_back::until_written`] with this acknowledger's deadline.
    async fn write_back<F, Fut>(
        &self,
        ticket_id: &str,
        what: &'static str,
        write: F,
    ) -> Option<bool>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool, StoreError>>,
    {
        write_back::until_written(ticket_id, what, self.write_deadline, write).await
    }

    /// After a claim call failed (`error`): nothing was sent, but the claim may have committed
    /// with its answer lost, and no other attempt could then take the ack. So the claim is
    /// released, `sending → pending` under its token (a failed condition means it never
    /// committed), and the record is retried with `error`.
    async fn release(
        &self,
        ticket_id: &str,
        claim: &str,
        error: StoreError,
    ) -> Result<AckOutcome, AckError> {
        let released = self
            .write_back(ticket_id, "claim", || {
                self.store
                    .finish_claim(ticket_id, claim, AckStatus::Pending, AckRecord::default())
            })
            .await;
        match released {
            Some(_) => Err(AckError::Store(error)),
            None => Ok(AckOutcome::Unrecorded("claim")),
        }
    }

    /// Ends an ack claimed under `claim`, not sent, in `to` with `reason`, within the write
    /// deadline.
    async fn finish_claimed(
        &self,
        ticket_id: &str,
        claim: &str,
        to: AckStatus,
        reason: &str,
    ) -> Result<AckOutcome, AckError> {
        let record = || AckRecord {
            reason: Some(reason),
            provider_message_id: None,
        };
        let moved = self
            .write_back(ticket_id, to.as_str(), || {
                self.store.finish_claim(ticket_id, claim, to, record())
            })
            .await;
        Ok(match (moved, to) {
            (None, AckStatus::Failed) => AckOutcome::Unrecorded("failed"),
            (None, _) => AckOutcome::Unrecorded("skipped"),
            (Some(false), _) => AckOutcome::AlreadyHandled,
            (Some(true), AckStatus::Failed) => AckOutcome::Failed(reason.to_owned()),
            (Some(true), _) => AckOutcome::Skipped(reason.to_owned()),
        })
    }

    /// Skips an ack that is still `pending` (decided before any claim): one conditional
    /// update. Should it fail, the record is retried and decides again.
    async fn skip(&self, ticket_id: &str, reason: &str) -> Result<AckOutcome, AckError> {
        let record = AckRecord {
            reason: Some(reason),
            provider_message_id: None,
        };
        let moved = self
            .store
            .transition_ack(ticket_id, AckStatus::Pending, AckStatus::Skipped, record)
            .await?;
        Ok(if moved {
            AckOutcome::Skipped(reason.to_owned())
        } else {
            AckOutcome::AlreadyHandled
        })
    }
}

/// A record of a batch: its position and its sequence number (what Lambda retries by).
type RecordRef = (usize, Option<String>);

/// A ticket named by a batch: its id, the image of its first INSERT record (if the record
/// carries one), and the position and sequence number of every record that names it.
#[derive(Debug, PartialEq)]
struct BatchTicket {
    id: String,
    image: Option<serde_json::Value>,
    records: Vec<RecordRef>,
}

/// The tickets of a batch's ticket INSERTs, each once. A ticket named twice is acked once per
/// batch: run side by side, its second record could otherwise claim it again after the first
/// put it back to pending on a temporary failure, and send twice within one batch.
fn tickets_of(event: &Event) -> Vec<BatchTicket> {
    let mut tickets: Vec<BatchTicket> = Vec::new();
    for (position, record) in event.records.iter().enumerate() {
        let keys = serde_json::to_value(&record.change.keys).unwrap_or_default();
        let (Some(pk), Some(sk)) = (keys["pk"]["S"].as_str(), keys["sk"]["S"].as_str()) else {
            continue;
        };
        // The mapping's filter already dropped everything else; a redrive or a test may not.
        if !batching::passes_filter(&record.event_name, pk, sk) {
            continue;
        }
        let Some(ticket_id) = keys::ticket_id(pk) else {
            continue;
        };
        let entry = (position, record.change.sequence_number.clone());
        match tickets.iter_mut().find(|t| t.id == ticket_id) {
            Some(ticket) => ticket.records.push(entry),
            None => tickets.push(BatchTicket {
                id: ticket_id.to_owned(),
                image: serde_json::to_value(&record.change.new_image)
                    .ok()
                    .filter(|image| image.as_object().is_some_and(|o| !o.is_empty())),
                records: vec![entry],
            }),
        }
    }
    tickets
}

#[cfg(test)]
mod tests {
    use super::{AckOutcome, BatchTicket, tickets_of};

    fn record(name: &str, pk: &str, sk: &str, sequence: &str) -> serde_json::Value {
        serde_json::json!({
            "eventID": sequence, "eventName": name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "ap-southeast-3",
            "dynamodb": {
                "Keys": { "pk": { "S": pk }, "sk": { "S": sk } },
                "SequenceNumber": sequence, "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:ap-southeast-3:123456789012:table/intake/stream/x"
        })
    }

    #[test]
    fn a_batch_names_each_ticket_once_with_all_its_records() {
        let event = serde_json::from_value(serde_json::json!({ "Records": [
            record("INSERT", "TICKET#a", "META", "1"),
            record("INSERT", "TICKET#b", "META", "2"),
            record("MODIFY", "TICKET#c", "META", "3"),
            record("INSERT", "TICKET#a", "META", "4"),
            record("INSERT", "TICKET#d", "MSG#1", "5"),
        ]}))
        .expect("Lambda's DynamoDB event shape");
        let ticket = |id: &str, records: Vec<(usize, Option<String>)>| BatchTicket {
            id: id.to_owned(),
            image: None,
            records,
        };
        assert_eq!(
            tickets_of(&event),
            vec![
                ticket("a", vec![(0, Some("1".into())), (3, Some("4".into()))]),
                ticket("b", vec![(1, Some("2".into()))]),
            ]
        );
    }

    #[test]
    fn a_record_with_an_image_carries_it() {
        let mut with_image = record("INSERT", "TICKET#a", "META", "1");
        with_image["dynamodb"]["NewImage"] = serde_json::json!({ "id": { "S": "a" } });
        let event = serde_json::from_value(serde_json::json!({ "Records": [
            with_image,
            record("INSERT", "TICKET#a", "META", "2"),
        ]}))
        .expect("Lambda's DynamoDB event shape");
        let tickets = tickets_of(&event);
        assert_eq!(tickets.len(), 1);
        assert_eq!(
            tickets[0].image,
            Some(serde_json::json!({ "id": { "S": "a" } }))
        );
    }

    #[test]
    fn log_summaries_never_carry_provider_text() {
        let failed =
            AckOutcome::Failed("21211: The 'To' number +6281234567890 is not valid".into());
        assert_eq!(failed.summary(), "failed:21211");
        assert_eq!(
            AckOutcome::Skipped("quiet_period".into()).summary(),
            "skipped:quiet_period"
        );
    }
}
