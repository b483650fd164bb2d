//! Reads the table's real DynamoDB Local stream and feeds the acknowledger the same event
//! Lambda's event source mapping would: the Lambda JSON shape, batches per shard, and
//! `ReportBatchItemFailures` honoured by redelivering from the first failed record.
//!
//! It runs with the mapping's own numbers ([`batching`]), so a burst reaches the acknowledger
//! locally as it would deployed:
//! - only records that pass the mapping's filter ([`batching::filter_pattern`]: the INSERT of
//!   a ticket's item) are delivered, the rest dropped before batching as Lambda drops them;
//! - a batch holds at most [`batching::BATCH_SIZE`] of those records;
//! - up to [`batching::PARALLELIZATION_FACTOR`] batches of one shard are in flight at once.
//!   Lambda keeps the order of records with the same partition key; here each shard has
//!   FACTOR lanes, each record goes to the lane of its partition key's hash (a ticket's
//!   items always take the same lane, in stream order), and every lane hands its records
//!   over on its own, as soon as they arrive, up to a batch at a time, retrying and
//!   dead-lettering its own batches; a failing batch holds up only its own lane, as in
//!   Lambda. The shard is read on meanwhile;
//! - a batch is handed over at once with what its lane holds, as the mapping's batching
//!   window of [`batching::MAXIMUM_BATCHING_WINDOW_SECONDS`] (none) has Lambda do;
//! - a batch still failing after its retries ([`MAX_RETRIES`], as `MaximumRetryAttempts`) is
//!   written as Lambda's on-failure record to a [`DeadLetterQueue`] (see
//!   [`crate::dead_letters`]), and the shard moves on.
//!
//! Shards are read one after another every [`POLL`]. Lambda reads a shard four times a
//! second, so a deployed ack that arrives while all is quiet can be up to 250 ms later than a
//! local one; in a burst both find full batches at every read.

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

use intake::ack::{Acknowledger, batching};

use crate::dead_letters::{
    BatchInfo, DeadLetterQueue, OnFailureRecord, RETRY_ATTEMPTS_EXHAUSTED, RequestContext,
    ResponseContext,
};

/// How often a shard is read.
const POLL: Duration = Duration::from_millis(50);
/// Records asked for per `GetRecords` call (the API's maximum). Most of a shard's records are
/// not ticket INSERTs (a ticket writes about eight), and the filter drops them, so a read asks
/// for as many as it may.
const RAW_READ_LIMIT: i32 = 1000;
/// Retries of a failing batch before it is dead-lettered (the mapping's `MaximumRetryAttempts`).
pub const MAX_RETRIES: u32 = 5;
/// The pause before the first retry; the n-th retry waits n times as long.
pub const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// The function the local on-failure records name.
const LOCAL_FUNCTION_ARN: &str = "arn:aws:lambda:local:000000000000:function:acknowledger";

/// Polls every shard of the table's stream and hands batches to the acknowledger.
pub struct StreamPoller {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: StreamsClient,
    table: String,
    acknowledger: Arc<Acknowledger>,
    max_retries: u32,
    retry_pause: Duration,
    dead_letters: Option<DeadLetterQueue>,
    held: Option<watch::Receiver<bool>>,
}

enum Shard {
    Open,
    Closed,
    Lost,
}

struct ShardState {
    iterator: Option<String>,
    /// Each lane's queue. A lane's task hands what arrives to the acknowledger a batch at a
    /// time, and ends once the shard is dropped (closed, or lost and read again) and its
    /// queue is empty.
    lanes: Vec<mpsc::UnboundedSender<Record>>,
}

impl StreamPoller {
    /// A poller for `table`, retrying like the mapping ([`MAX_RETRIES`]) and logging what it
    /// gives up on (see [`StreamPoller::with_dead_letters`]).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        table: &str,
        acknowledger: Arc<Acknowledger>,
    ) -> StreamPoller {
        StreamPoller {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            streams: StreamsClient::new(sdk),
            table: table.to_owned(),
            acknowledger,
            max_retries: MAX_RETRIES,
            retry_pause: RETRY_PAUSE,
            dead_letters: None,
            held: None,
        }
    }

    /// The same poller reading nothing while `held` reads `true` (the load harness measures
    /// ingest alone this way; records wait in the stream, as during a Lambda throttle).
    pub fn held_while(mut self, held: watch::Receiver<bool>) -> StreamPoller {
        self.held = Some(held);
        self
    }

    /// The same poller retrying a failing batch `max_retries` times, the n-th retry after n
    /// times `pause` (tests use a few short ones).
    pub fn with_retries(mut self, max_retries: u32, pause: Duration) -> StreamPoller {
        self.max_retries = max_retries;
        self.retry_pause = pause;
        self
    }

    /// The same poller writing the batches it gives up on to `queue`.
    pub fn with_dead_letters(mut self, queue: DeadLetterQueue) -> StreamPoller {
        self.dead_letters = Some(queue);
        self
    }

    /// Runs until the task is aborted. Errors (DynamoDB Local restarting) are logged and
    /// retried; nothing is skipped.
    pub async fn run(self) {
        let this = Arc::new(self);
        let mut held = this.held.clone();
        let mut shards: HashMap<String, ShardState> = HashMap::new();
        let mut finished: HashSet<String> = HashSet::new();
        let mut tick = 0u64;
        loop {
            if let Some(held) = held.as_mut() {
                // A dropped sender releases the hold for good.
                while *held.borrow_and_update() {
                    if held.changed().await.is_err() {
                        break;
                    }
                }
            }
            if tick.is_multiple_of(20)
                && let Err(e) = this.discover(&mut shards, &finished).await
            {
                tracing::debug!(error = %e, "stream discovery failed; retrying");
            }
            tick += 1;
            let ids: Vec<String> = shards.keys().cloned().collect();
            for id in ids {
                let Some(state) = shards.get_mut(&id) else {
                    continue;
                };
                match this.poll_shard(state).await {
                    Shard::Open => {}
                    Shard::Closed => {
                        shards.remove(&id);
                        finished.insert(id);
                    }
                    // DynamoDB Local restarted or the iterator expired: read the shard again
                    // from its start; redelivery is harmless.
                    Shard::Lost => {
                        shards.remove(&id);
                        tick = 0;
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Adds the stream's new shards, each with its lanes.
    async fn discover(
        self: &Arc<Self>,
        shards: &mut HashMap<String, ShardState>,
        finished: &HashSet<String>,
    ) -> Result<(), String> {
        let table = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let Some(arn) = table.table().and_then(|t| t.latest_stream_arn()) else {
            return Err("table has no stream".into());
        };
        let stream = self
            .streams
            .describe_stream()
            .stream_arn(arn)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let Some(description) = stream.stream_description() else {
            return Ok(());
        };
        for shard in description.shards() {
            let Some(id) = shard.shard_id() else { continue };
            if shards.contains_key(id) || finished.contains(id) {
                continue;
            }
            // From the oldest record: redelivering old tickets is harmless (their ack is no
            // longer pending) and nothing written while the stack was down is missed.
            let iterator = self
                .streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .shard_iterator;
            let lanes = (0..batching::PARALLELIZATION_FACTOR.max(1))
                .map(|_| {
                    let (queue, arrivals) = mpsc::unbounded_channel();
                    tokio::spawn(Arc::clone(self).run_lane(
                        arn.to_owned(),
                        id.to_owned(),
                        arrivals,
                    ));
                    queue
                })
                .collect();
            shards.insert(id.to_owned(), ShardState { iterator, lanes });
        }
        Ok(())
    }

    /// Reads what the shard has (up to [`RAW_READ_LIMIT`] records) and queues the records
    /// that pass the mapping's filter on their lanes.
    async fn poll_shard(&self, state: &mut ShardState) -> Shard {
        let Some(iterator) = state.iterator.clone() else {
            return Shard::Closed;
        };
        let read = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(RAW_READ_LIMIT)
            .send()
            .await;
        let out = match read {
            Ok(out) => out,
            Err(e) => {
                let text = aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string();
                tracing::debug!(error = %text, "get_records failed");
                // The shard is read again from its start: what is delivered twice is harmless.
                return Shard::Lost;
            }
        };
        state.iterator = out.next_shard_iterator().map(str::to_owned);
        // Only what the mapping's filter lets through reaches the acknowledger.
        let records = out.records().iter().filter(|r| passes_filter(r)).cloned();
        for (lane, records) in lanes(records.collect()).into_iter().enumerate() {
            for record in records {
                // A lane's task ends only when its queue is dropped, so this cannot fail.
                let _ = state.lanes[lane].send(record);
            }
        }
        match state.iterator {
            // At the shard's end: closed once its lanes have delivered what they hold.
            None => Shard::Closed,
            Some(_) => Shard::Open,
        }
    }

    /// One lane of a shard: hands its records to the acknowledger in stream order, as soon
    /// as they arrive, up to a batch at a time; a failing batch holds up only its own lane.
    async fn run_lane(
        self: Arc<Self>,
        stream_arn: String,
        shard_id: String,
        mut arrivals: mpsc::UnboundedReceiver<Record>,
    ) {
        let mut batch = Vec::with_capacity(batching::BATCH_SIZE);
        while let Some(first) = arrivals.recv().await {
            batch.push(first);
            while batch.len() < batching::BATCH_SIZE {
                match arrivals.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
            self.deliver(&stream_arn, &shard_id, &batch).await;
            batch.clear();
        }
    }

    /// Hands a batch over until every record is decided, retrying from the first failed
    /// record as Lambda does; after [`StreamPoller::with_retries`] retries, dead-letters the
    /// rest.
    async fn deliver(&self, stream_arn: &str, shard_id: &str, batch: &[Record]) {
        let mut pending = batch;
        let mut invocations = 0u32;
        loop {
            invocations += 1;
            let event = lambda_event_from(stream_arn, pending);
            let response = self.acknowledger.handle_event(event).await;
            let failed: HashSet<String> = response
                .batch_item_failures
                .iter()
                .filter_map(|f| f.item_identifier.clone())
                .collect();
            let Some(first) = pending
                .iter()
                .position(|r| sequence_number(r).is_some_and(|s| failed.contains(s)))
            else {
                return;
            };
            pending = &pending[first..];
            if invocations > self.max_retries {
                self.dead_letter(stream_arn, shard_id, pending, invocations)
                    .await;
                return;
            }
            tokio::time::sleep(self.retry_pause * invocations).await;
        }
    }

    /// Writes Lambda's on-failure record of `records`, or logs them when there is nowhere
    /// to write it.
    async fn dead_letter(
        &self,
        stream_arn: &str,
        shard_id: &str,
        records: &[Record],
        invocations: u32,
    ) {
        let record = on_failure_record(stream_arn, shard_id, records, invocations);
        let Some(queue) = &self.dead_letters else {
            tracing::error!(
                records = records.len(),
                "batch still failing; dropped (no dead-letter queue)"
            );
            return;
        };
        match queue.send(&record).await {
            Ok(()) => tracing::error!(
                records = records.len(),
                queue = %queue.describe(),
                "batch still failing after its retries; dead-lettered (intake acks dead-letters)"
            ),
            Err(e) => tracing::error!(
                records = records.len(),
                error = %e,
                "batch still failing; the dead letter could not be written, dropped"
            ),
        }
    }
}

/// The records of one read split into [`batching::PARALLELIZATION_FACTOR`] lanes by a hash of
/// their partition key (a ticket's records share a lane and keep their order).
fn lanes(records: Vec<Record>) -> Vec<Vec<Record>> {
    let factor = batching::PARALLELIZATION_FACTOR.max(1) as usize;
    let mut lanes: Vec<Vec<Record>> = vec![Vec::new(); factor];
    for record in records {
        // Lambda keys by partition key: every item of a ticket (`TICKET#<id>`) shares a lane.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        record
            .dynamodb()
            .and_then(|d| d.keys.as_ref())
            .and_then(|keys| keys.get("pk"))
            .and_then(|pk| pk.as_s().ok())
            .hash(&mut hasher);
        lanes[(hasher.finish() % factor as u64) as usize].push(record);
    }
    lanes
}

/// Whether the event source mapping's filter lets `record` through
/// ([`batching::filter_pattern`]).
fn passes_filter(record: &Record) -> bool {
    let key = |name: &str| {
        record
            .dynamodb()
            .and_then(|d| d.keys.as_ref())
            .and_then(|keys| keys.get(name))
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    let (Some(event), Some(pk), Some(sk)) = (record.event_name(), key("pk"), key("sk")) else {
        return false;
    };
    batching::passes_filter(event.as_str(), pk, sk)
}

fn sequence_number(record: &Record) -> Option<&str> {
    record.dynamodb().and_then(|d| d.sequence_number())
}

/// What Lambda would write to the on-failure destination for `records`, given up after
/// `invocations` invocations.
fn on_failure_record(
    stream_arn: &str,
    shard_id: &str,
    records: &[Record],
    invocations: u32,
) -> OnFailureRecord {
    let arrival = |r: Option<&Record>| {
        r.and_then(|r| r.dynamodb())
            .and_then(|d| d.approximate_creation_date_time())
            .and_then(|t| jiff::Timestamp::from_second(t.secs()).ok())
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    let sequence = |r: Option<&Record>| r.and_then(sequence_number).unwrap_or_default().to_owned();
    OnFailureRecord {
        request_context: RequestContext {
            request_id: ulid::Ulid::new().to_string(),
            function_arn: LOCAL_FUNCTION_ARN.to_owned(),
            condition: RETRY_ATTEMPTS_EXHAUSTED.to_owned(),
            approximate_invoke_count: invocations,
        },
        // The function answered each time, reporting the records as failed.
        response_context: ResponseContext {
            status_code: 200,
            executed_version: Some("$LATEST".to_owned()),
            function_error: None,
        },
        version: "1.0".to_owned(),
        timestamp: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        batch: BatchInfo {
            shard_id: shard_id.to_owned(),
            start_sequence_number: sequence(records.first()),
            end_sequence_number: sequence(records.last()),
            approximate_arrival_of_first_record: arrival(records.first()),
            approximate_arrival_of_last_record: arrival(records.last()),
            batch_size: records.len() as u32,
            stream_arn: stream_arn.to_owned(),
        },
    }
}

/// The stream of [`lambda_event`]'s records.
const LOCAL_STREAM_ARN: &str = "arn:aws:dynamodb:local:000000000000:table/local/stream/local";

/// The Lambda event for a batch of stream records (of a local stream).
pub fn lambda_event(records: &[Record]) -> Event {
    lambda_event_from(LOCAL_STREAM_ARN, records)
}

/// The Lambda event for a batch of records of the stream `stream_arn`, as the event source
/// mapping would deliver it.
pub fn lambda_event_from(stream_arn: &str, records: &[Record]) -> Event {
    serde_json::from_value(lambda_event_json(stream_arn, records)).unwrap_or_default()
}

/// [`lambda_event_from`] as JSON: what the function is invoked with.
pub fn lambda_event_json(stream_arn: &str, records: &[Record]) -> Value {
    let records: Vec<Value> = records.iter().map(|r| record_json(stream_arn, r)).collect();
    json!({ "Records": records })
}

fn record_json(stream_arn: &str, r: &Record) -> Value {
    let d = r.dynamodb();
    let image = |m: Option<&HashMap<String, AttributeValue>>| -> Value {
        m.map(|m| {
            Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), attribute_json(v)))
                    .collect(),
            )
        })
        .unwrap_or(Value::Null)
    };
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str()),
        "eventVersion": r.event_version(),
        "eventSource": r.event_source(),
        "awsRegion": r.aws_region(),
        "dynamodb": {
            "ApproximateCreationDateTime": d.and_then(|d| d.approximate_creation_date_time()).map(|t| t.as_secs_f64()),
            "Keys": image(d.and_then(|d| d.keys.as_ref())),
            "NewImage": image(d.and_then(|d| d.new_image.as_ref())),
            "OldImage": image(d.and_then(|d| d.old_image.as_ref())),
            "SequenceNumber": d.and_then(|d| d.sequence_number()),
            "SizeBytes": d.and_then(|d| d.size_bytes()).unwrap_or(0),
            "StreamViewType": d.and_then(|d| d.stream_view_type()).map(|v| v.as_str()),
        },
        "eventSourceARN": stream_arn,
    })
}

/// DynamoDB JSON (`{"S": "..."}`) of an attribute, as Lambda delivers it.
fn attribute_json(v: &AttributeValue) -> Value {
    use base64::Engine;
    let b64 =
        |b: &aws_smithy_types::Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Ss(list) => json!({ "SS": list }),
        AttributeValue::Ns(list) => json!({ "NS": list }),
        AttributeValue::Bs(list) => json!({ "BS": list.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(list) => {
            json!({ "L": list.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => {
            json!({ "M": map.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<serde_json::Map<_, _>>() })
        }
        _ => json!({ "NULL": true }),
    }
}

#[cfg(test)]
mod tests {
    use super::lanes;
    use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, StreamRecord};
    use intake::ack::batching;

    fn record(pk: &str, sequence: u32) -> Record {
        Record::builder()
            .dynamodb(
                StreamRecord::builder()
                    .keys("pk", AttributeValue::S(pk.to_owned()))
                    .keys("sk", AttributeValue::S(format!("S{sequence}")))
                    .sequence_number(sequence.to_string())
                    .build(),
            )
            .build()
    }

    fn sequences(lane: &[Record]) -> Vec<u32> {
        lane.iter()
            .filter_map(|r| r.dynamodb()?.sequence_number()?.parse().ok())
            .collect()
    }

    #[test]
    fn a_tickets_records_share_a_lane_in_stream_order_and_tickets_spread() {
        // 40 tickets, then a second record of each: 80 records in stream order.
        let records: Vec<Record> = (0..80)
            .map(|n| record(&format!("TICKET#{}", n % 40), n))
            .collect();
        let lanes = lanes(records);
        assert_eq!(lanes.len(), batching::PARALLELIZATION_FACTOR as usize);
        assert_eq!(lanes.iter().map(Vec::len).sum::<usize>(), 80, "none lost");
        for lane in &lanes {
            let seen = sequences(lane);
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(seen, sorted, "a lane keeps stream order");
            for n in &seen {
                // The ticket's other record is in the same lane.
                assert!(seen.contains(&((n + 40) % 80)), "{seen:?}");
            }
        }
        assert!(
            lanes.iter().filter(|l| !l.is_empty()).count() > 1,
            "tickets spread over lanes"
        );
    }
}
