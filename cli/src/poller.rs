//! Reads the table's real DynamoDB Local stream and feeds the acknowledger the same event
//! Lambda's event source mapping would: the Lambda JSON shape, batches per shard, and
//! `ReportBatchItemFailures` honoured by redelivering from the first failed record.
//!
//! Batches hold at most [`batching::BATCH_SIZE`] records, as the cloud's event source mapping
//! sends, so a burst reaches the acknowledger in the same batch sizes locally as deployed. The
//! poller checks each shard every [`POLL`], well within the mapping's batching window, so a
//! local ack is never later than a deployed one would be; and it hands one shard one batch at
//! a time (a `ParallelizationFactor` of 1), so locally a shard drains no faster than in the
//! cloud.

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use intake::ack::{Acknowledger, batching};

/// How often an idle shard is polled.
const POLL: Duration = Duration::from_millis(150);
/// Records per `GetRecords` call: a Lambda batch.
const BATCH_LIMIT: i32 = batching::BATCH_SIZE as i32;
/// Attempts of a failing batch before it is dropped (Lambda would send it to the DLQ).
const MAX_RETRIES: u32 = 5;

/// Polls every shard of the table's stream and hands batches to the acknowledger.
pub struct StreamPoller {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: StreamsClient,
    table: String,
    acknowledger: Arc<Acknowledger>,
}

enum Shard {
    Open,
    Closed,
    Lost,
}

struct ShardState {
    iterator: Option<String>,
    /// Records handed over but reported failed, to deliver again.
    retry: Vec<Record>,
    attempts: u32,
}

impl StreamPoller {
    /// A poller for `table`.
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
        }
    }

    /// Runs until the task is aborted. Errors (DynamoDB Local restarting) are logged and
    /// retried; nothing is skipped.
    pub async fn run(self) {
        let mut shards: HashMap<String, ShardState> = HashMap::new();
        let mut finished: HashSet<String> = HashSet::new();
        let mut tick = 0u64;
        loop {
            if tick.is_multiple_of(20)
                && let Err(e) = self.discover(&mut shards, &finished).await
            {
                tracing::debug!(error = %e, "stream discovery failed; retrying");
            }
            tick += 1;
            let ids: Vec<String> = shards.keys().cloned().collect();
            for id in ids {
                let Some(state) = shards.get_mut(&id) else {
                    continue;
                };
                match self.poll_shard(state).await {
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

    async fn discover(
        &self,
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
            shards.insert(
                id.to_owned(),
                ShardState {
                    iterator,
                    retry: Vec::new(),
                    attempts: 0,
                },
            );
        }
        Ok(())
    }

    /// Delivers what the shard has.
    async fn poll_shard(&self, state: &mut ShardState) -> Shard {
        let records = if !state.retry.is_empty() {
            std::mem::take(&mut state.retry)
        } else {
            let Some(iterator) = state.iterator.clone() else {
                return Shard::Closed;
            };
            match self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(BATCH_LIMIT)
                .send()
                .await
            {
                Ok(out) => {
                    state.iterator = out.next_shard_iterator().map(str::to_owned);
                    out.records().to_vec()
                }
                Err(e) => {
                    let text = aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string();
                    tracing::debug!(error = %text, "get_records failed");
                    return Shard::Lost;
                }
            }
        };
        if records.is_empty() {
            return Shard::Open;
        }
        let event = lambda_event(&records);
        let response = self.acknowledger.handle_event(event).await;
        let failed: HashSet<String> = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.clone())
            .collect();
        if let Some(first) = records.iter().position(|r| {
            r.dynamodb()
                .and_then(|d| d.sequence_number())
                .is_some_and(|s| failed.contains(s))
        }) {
            state.attempts += 1;
            if state.attempts <= MAX_RETRIES {
                // As Lambda does: retry from the first failed record, after a pause.
                state.retry = records[first..].to_vec();
                tokio::time::sleep(Duration::from_millis(250 * u64::from(state.attempts))).await;
            } else {
                tracing::error!(
                    records = records.len() - first,
                    "batch still failing; dropped (Lambda would send it to the DLQ)"
                );
                state.attempts = 0;
            }
        } else {
            state.attempts = 0;
        }
        Shard::Open
    }
}

/// The Lambda event for a batch of stream records.
pub fn lambda_event(records: &[Record]) -> Event {
    let records: Vec<Value> = records.iter().map(record_json).collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}

fn record_json(r: &Record) -> Value {
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
        "eventSourceARN": "arn:aws:dynamodb:local:000000000000:table/local/stream/local",
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
