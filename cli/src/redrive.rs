//! `intake acks dead-letters` and `intake acks redrive`: what a dead letter names, read back
//! from the stream, and handed to the acknowledger again.
//!
//! A dead letter ([`OnFailureRecord`]) names a shard and a range of sequence numbers, not the
//! records. They are re-read with `GetShardIterator` (`AT_SEQUENCE_NUMBER`) and `GetRecords`
//! up to the range's end. The range can hold records of other lanes (the poller and Lambda
//! run several batches of a shard at once): handing those over again is harmless, since the
//! acknowledger acts only on a ticket whose ack is still `pending` and claims it before
//! sending, so a redrive never sends an ack twice.
//!
//! Records past the stream's 24-hour retention (or of a shard or stream that is gone) cannot
//! be read back: the dead letter is reported as lost, with the tickets whose ack is still
//! pending and that were created within [`LOST_WINDOW_MARGIN`] of its arrival window. That
//! lookup scans the table's tickets: an operator command, not a request path.

use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;

use intake::ack::{Acknowledger, batching};
use intake::model::AckStatus;
use intake::store::{Store, keys};

use crate::DevResult;
use crate::dead_letters::{BatchInfo, DeadLetter, DeadLetterQueue};
use crate::poller::{lambda_event_from, lambda_event_json};

/// How far before the first record's arrival a lost batch's pending tickets are looked for:
/// a ticket's `created_at` is the webhook's clock, a moment before its stream record's.
pub const LOST_WINDOW_BEFORE: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);
/// How far after the last record's arrival: arrivals are rounded down, to the second by AWS
/// and to the minute by DynamoDB Local, so a minute more than [`LOST_WINDOW_BEFORE`].
pub const LOST_WINDOW_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(70);

/// What acknowledges re-read records: the acknowledger in this process (local stack), or
/// the deployed function, invoked with the stream event the mapping would send (its code
/// and its permissions).
pub enum Acker {
    /// In-process.
    Local(Arc<Acknowledger>),
    /// The deployed function.
    Lambda {
        /// A client of the stack's region.
        client: aws_sdk_lambda::Client,
        /// Its name or ARN.
        function: String,
    },
}

impl Acker {
    /// Hands `records` (at most a batch) over; the sequence numbers reported failed.
    async fn handle(&self, stream_arn: &str, records: &[Record]) -> DevResult<HashSet<String>> {
        let response = match self {
            Acker::Local(acknowledger) => {
                acknowledger
                    .handle_event(lambda_event_from(stream_arn, records))
                    .await
            }
            Acker::Lambda { client, function } => {
                let payload = serde_json::to_vec(&lambda_event_json(stream_arn, records))?;
                let out = client
                    .invoke()
                    .function_name(function)
                    .payload(aws_sdk_lambda::primitives::Blob::new(payload))
                    .send()
                    .await
                    .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())?;
                if let Some(error) = out.function_error() {
                    return Err(format!(
                        "the acknowledger failed ({error}); see its logs in CloudWatch"
                    )
                    .into());
                }
                let body = out.payload().map(|b| b.as_ref()).unwrap_or(b"{}");
                serde_json::from_slice(if body.is_empty() { b"{}" } else { body })?
            }
        };
        Ok(response
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect())
    }
}

/// A dead letter's records, read back from the stream.
pub enum Reread {
    /// Every record of the range still in the stream.
    Records(Vec<Record>),
    /// Nothing can be read back, and why.
    Lost(String),
}

/// Reads the records of `batch` back from its stream.
pub async fn reread(streams: &StreamsClient, batch: &BatchInfo) -> DevResult<Reread> {
    let iterator = match streams
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start_sequence_number)
        .send()
        .await
    {
        Ok(out) => out.shard_iterator,
        Err(e) => return gone(aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)),
    };
    let mut records = Vec::new();
    let mut iterator = iterator;
    let mut empty_reads = 0;
    while let Some(current) = iterator.take() {
        let page = match streams
            .get_records()
            .shard_iterator(current)
            .limit(1000)
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) => return gone(aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)),
        };
        iterator = page.next_shard_iterator().map(str::to_owned);
        if page.records().is_empty() {
            // An open shard may answer empty before its next records: a few tries.
            empty_reads += 1;
            if empty_reads >= 3 {
                break;
            }
            continue;
        }
        empty_reads = 0;
        let mut past_end = false;
        for record in page.records() {
            let sequence = record
                .dynamodb()
                .and_then(|d| d.sequence_number())
                .unwrap_or_default();
            if !at_or_before(sequence, &batch.end_sequence_number) {
                past_end = true;
                break;
            }
            records.push(record.clone());
        }
        if past_end
            || records.last().and_then(|r| r.dynamodb()?.sequence_number())
                == Some(batch.end_sequence_number.as_str())
        {
            break;
        }
    }
    if records.is_empty() {
        return Ok(Reread::Lost(
            "no record of its range is left in the stream".into(),
        ));
    }
    Ok(Reread::Records(records))
}

/// `Lost` for errors that say the records are gone; the error itself otherwise.
fn gone(error: impl std::fmt::Display) -> DevResult<Reread> {
    let text = error.to_string();
    const GONE: [&str; 3] = [
        "TrimmedDataAccessException",
        "ResourceNotFoundException",
        // DynamoDB Local names a shard it does not have this way.
        "ValidationException",
    ];
    match GONE.iter().find(|code| text.contains(*code)) {
        Some(code) => Ok(Reread::Lost(format!(
            "past the stream's 24 h retention, or its shard is gone ({code})"
        ))),
        None => Err(format!("cannot read the stream: {text}").into()),
    }
}

/// Whether sequence number `a` comes at or before `b`: decimal strings of any length, with
/// leading zeros in DynamoDB Local's.
fn at_or_before(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    (a.len(), a) <= (b.len(), b)
}

/// The tickets whose INSERT is among `records`, each once, in stream order.
pub fn tickets(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for record in records {
        if record.event_name().map(|n| n.as_str()) != Some("INSERT") {
            continue;
        }
        let Some(keys) = record.dynamodb().and_then(|d| d.keys.as_ref()) else {
            continue;
        };
        let key = |name: &str| keys.get(name).and_then(|v| v.as_s().ok());
        if key("sk").map(String::as_str) != Some(keys::TICKET_SK) {
            continue;
        }
        if let Some(id) = key("pk").and_then(|pk| keys::ticket_id(pk))
            && !out.iter().any(|t| t == id)
        {
            out.push(id.to_owned());
        }
    }
    out
}

/// The tickets still waiting for their ack that were created within the arrival window of a
/// lost batch (a scan of the table's tickets).
pub async fn pending_in_window(store: &Store, batch: &BatchInfo) -> DevResult<Vec<String>> {
    let first: jiff::Timestamp = batch.approximate_arrival_of_first_record.parse()?;
    let last: jiff::Timestamp = batch.approximate_arrival_of_last_record.parse()?;
    let (from, to) = (first - LOST_WINDOW_BEFORE, last + LOST_WINDOW_AFTER);
    let tickets = store.all_tickets().await.map_err(|e| e.to_string())?;
    let mut out: Vec<String> = tickets
        .into_iter()
        .filter(|t| t.ack_status == AckStatus::Pending)
        .filter(|t| {
            t.created_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|at| from <= at && at <= to)
        })
        .map(|t| t.id)
        .collect();
    out.sort();
    Ok(out)
}

/// A ticket a dead letter names, with its ack's state now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NamedTicket {
    /// Its id.
    pub id: String,
    /// `pending`, `sent`, ... (`gone` if the ticket no longer exists).
    pub ack: String,
}

/// What `intake acks dead-letters` says of one dead letter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspected {
    /// The message id (a file's name locally).
    pub id: String,
    /// When it was dead-lettered.
    pub timestamp: String,
    /// Why (`RetryAttemptsExhausted`, ...).
    pub condition: String,
    /// Invocations before it was given up.
    pub invocations: u32,
    /// Where its records are.
    pub shard_id: String,
    /// The first record's sequence number.
    pub start_sequence_number: String,
    /// The last record's sequence number.
    pub end_sequence_number: String,
    /// Records in the failed batch.
    pub batch_size: u32,
    /// When its first and last records were written.
    pub arrivals: (String, String),
    /// The stream.
    pub stream_arn: String,
    /// The tickets its range holds (when it can be read back).
    pub tickets: Vec<NamedTicket>,
    /// Why its records cannot be read back, when they cannot.
    pub lost: Option<String>,
    /// When lost: the tickets still pending created within its arrival window.
    pub pending_tickets: Vec<String>,
    /// When it is no on-failure record, or the stream could not be read.
    pub error: Option<String>,
}

/// What a dead letter holds now.
pub async fn inspect(letter: &DeadLetter, streams: &StreamsClient, store: &Store) -> Inspected {
    let mut out = Inspected {
        id: letter.id.clone(),
        timestamp: String::new(),
        condition: String::new(),
        invocations: 0,
        shard_id: String::new(),
        start_sequence_number: String::new(),
        end_sequence_number: String::new(),
        batch_size: 0,
        arrivals: (String::new(), String::new()),
        stream_arn: String::new(),
        tickets: Vec::new(),
        lost: None,
        pending_tickets: Vec::new(),
        error: None,
    };
    let record = match &letter.record {
        Ok(record) => record,
        Err(e) => {
            out.error = Some(e.clone());
            return out;
        }
    };
    let batch = &record.batch;
    out.timestamp = record.timestamp.clone();
    out.condition = record.request_context.condition.clone();
    out.invocations = record.request_context.approximate_invoke_count;
    out.shard_id = batch.shard_id.clone();
    out.start_sequence_number = batch.start_sequence_number.clone();
    out.end_sequence_number = batch.end_sequence_number.clone();
    out.batch_size = batch.batch_size;
    out.arrivals = (
        batch.approximate_arrival_of_first_record.clone(),
        batch.approximate_arrival_of_last_record.clone(),
    );
    out.stream_arn = batch.stream_arn.clone();
    match reread(streams, batch).await {
        Ok(Reread::Records(records)) => {
            for id in tickets(&records) {
                let ack = match store.ticket(&id).await {
                    Ok(Some(t)) => t.ack_status.to_string(),
                    Ok(None) => "gone".to_owned(),
                    Err(e) => {
                        out.error = Some(format!("cannot read the table: {e}"));
                        "?".to_owned()
                    }
                };
                out.tickets.push(NamedTicket { id, ack });
            }
        }
        Ok(Reread::Lost(why)) => {
            match pending_in_window(store, batch).await {
                Ok(pending) => out.pending_tickets = pending,
                Err(e) => out.error = Some(format!("cannot look for its tickets: {e}")),
            }
            out.lost = Some(why);
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

/// What `intake acks redrive` did with one dead letter.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Redriven {
    /// Every record was acked or decided: the dead letter is deleted.
    Done {
        /// The tickets its records named.
        tickets: Vec<String>,
    },
    /// Some records failed again: the dead letter is kept for another redrive.
    StillFailing {
        /// The tickets its records named.
        tickets: Vec<String>,
        /// Records reported failed.
        failed: usize,
    },
    /// Its records are gone: these tickets, still pending, were created in its window.
    /// Kept unless `--drop-lost`.
    Lost {
        /// Why.
        reason: String,
        /// The tickets to answer by hand.
        pending_tickets: Vec<String>,
        /// Whether the dead letter was deleted.
        dropped: bool,
    },
    /// It could not be redriven now (not an on-failure record, the stream or the function
    /// unreachable): kept.
    Error {
        /// Why.
        reason: String,
    },
}

/// Redrives every dead letter of `queue` through `acker`; returns each one's id and outcome.
pub async fn redrive_all(
    queue: &DeadLetterQueue,
    streams: &StreamsClient,
    store: &Store,
    acker: &Acker,
    drop_lost: bool,
) -> DevResult<Vec<(String, Redriven)>> {
    let letters = queue.receive_all().await?;
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for letter in letters {
        let mut outcome = redrive(&letter, streams, store, acker, drop_lost).await;
        let delete = matches!(
            outcome,
            Redriven::Done { .. } | Redriven::Lost { dropped: true, .. }
        );
        if !delete {
            kept.push(letter.clone());
        } else if let Err(e) = queue.delete(&letter).await {
            outcome = Redriven::Error {
                reason: format!("redriven, but the dead letter was not deleted: {e}"),
            };
            kept.push(letter.clone());
        }
        out.push((letter.id, outcome));
    }
    queue.release(&kept).await;
    Ok(out)
}

async fn redrive(
    letter: &DeadLetter,
    streams: &StreamsClient,
    store: &Store,
    acker: &Acker,
    drop_lost: bool,
) -> Redriven {
    let record = match &letter.record {
        Ok(record) => record,
        Err(e) => return Redriven::Error { reason: e.clone() },
    };
    let batch = &record.batch;
    let records = match reread(streams, batch).await {
        Ok(Reread::Records(records)) => records,
        Ok(Reread::Lost(reason)) => {
            return match pending_in_window(store, batch).await {
                Ok(pending_tickets) => Redriven::Lost {
                    reason,
                    pending_tickets,
                    dropped: drop_lost,
                },
                Err(e) => Redriven::Error {
                    reason: format!("{reason}; cannot look for its tickets: {e}"),
                },
            };
        }
        Err(e) => {
            return Redriven::Error {
                reason: e.to_string(),
            };
        }
    };
    let tickets = tickets(&records);
    let mut failed = 0;
    for chunk in records.chunks(batching::BATCH_SIZE) {
        match acker.handle(&batch.stream_arn, chunk).await {
            Ok(failures) => failed += failures.len(),
            Err(e) => {
                return Redriven::Error {
                    reason: e.to_string(),
                };
            }
        }
    }
    if failed == 0 {
        Redriven::Done { tickets }
    } else {
        Redriven::StillFailing { tickets, failed }
    }
}

#[cfg(test)]
mod tests {
    use super::at_or_before;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(at_or_before("9", "10"));
        assert!(at_or_before("100", "100"));
        assert!(!at_or_before("101", "100"));
        assert!(!at_or_before("1000", "999"));
        assert!(at_or_before("000000000000000000003", "12"));
        assert!(!at_or_before(
            "000000000000000000013",
            "000000000000000000003"
        ));
    }
}
