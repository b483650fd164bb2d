//! Dead letters: the stream batches the acknowledger gave up on, as Lambda's on-failure
//! destination describes them.
//!
//! In the cloud, the event source mapping sends an [`OnFailureRecord`] to the stack's SQS
//! queue (`AcknowledgerDeadLetterQueue`) when a batch still fails after its retries. The
//! local poller writes the identical JSON, by default to a directory (one file per dead
//! letter, `.local/dead-letters/`), or to any SQS queue. Both are a [`DeadLetterQueue`]: the
//! listing and the redrive (`crate::redrive`) read them through one code path.
//!
//! Why a directory rather than SQS in moto for `intake dev`: `make dev` installs only npm
//! packages and Java, not the Python environment moto needs, and moto keeps its queues in
//! memory while DynamoDB Local keeps the table (and its stream) on disk, so a restarted stack
//! would forget dead letters whose records are still there.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

use crate::DevResult;

/// What Lambda writes to a DynamoDB stream source's on-failure destination: where the
/// failed batch is in the stream, not its records (they stay in the stream for 24 hours).
/// The shape of the AWS Lambda Developer Guide ("Retaining discarded records for a DynamoDB
/// event source").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnFailureRecord {
    /// The invocation that failed.
    #[serde(rename = "requestContext")]
    pub request_context: RequestContext,
    /// What the last invocation answered.
    #[serde(rename = "responseContext", default)]
    pub response_context: ResponseContext,
    /// `1.0`.
    #[serde(default)]
    pub version: String,
    /// When the batch was given up (RFC 3339, milliseconds).
    pub timestamp: String,
    /// Where the batch is in the stream.
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch: BatchInfo,
}

/// `requestContext` of an [`OnFailureRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    /// The last invocation's request id.
    #[serde(default)]
    pub request_id: String,
    /// The function (and version) the mapping invoked.
    #[serde(default)]
    pub function_arn: String,
    /// Why it was given up: `RetryAttemptsExhausted`, `RecordAgeExceeded`, ...
    pub condition: String,
    /// Invocations of the batch, the first included.
    #[serde(default)]
    pub approximate_invoke_count: u32,
}

/// `responseContext` of an [`OnFailureRecord`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseContext {
    /// 200 when the function answered (a partial batch failure is an answer).
    #[serde(default)]
    pub status_code: u16,
    /// `$LATEST` or the version.
    #[serde(default)]
    pub executed_version: Option<String>,
    /// `Unhandled` when the function itself failed; null for reported item failures.
    #[serde(default)]
    pub function_error: Option<String>,
}

/// `DDBStreamBatchInfo` of an [`OnFailureRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    /// The shard the batch was read from.
    pub shard_id: String,
    /// Its first record's sequence number.
    pub start_sequence_number: String,
    /// Its last record's sequence number.
    pub end_sequence_number: String,
    /// When its first record was written (seconds, `2019-11-14T00:13:19Z`).
    pub approximate_arrival_of_first_record: String,
    /// When its last record was written.
    pub approximate_arrival_of_last_record: String,
    /// Records in the batch.
    pub batch_size: u32,
    /// The stream.
    pub stream_arn: String,
}

/// The `condition` of a batch that still failed after its retries.
pub const RETRY_ATTEMPTS_EXHAUSTED: &str = "RetryAttemptsExhausted";

/// One dead letter as read from its queue.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The SQS message id (a file's name locally).
    pub id: String,
    /// What deletes it: the SQS receipt handle, or the file.
    handle: String,
    /// Its content; `Err` with the reason when it is not an on-failure record.
    pub record: Result<OnFailureRecord, String>,
}

/// Where dead letters are kept: an SQS queue (the cloud's on-failure destination, or any
/// queue) or a local directory of JSON files.
#[derive(Debug, Clone)]
pub enum DeadLetterQueue {
    /// An SQS queue.
    Sqs {
        /// A client of its region and account.
        client: aws_sdk_sqs::Client,
        /// Its URL.
        url: String,
    },
    /// A directory, one `<id>.json` per dead letter.
    Dir(PathBuf),
}

/// How long a listed or redriven SQS message stays hidden from other readers while this
/// command works on it; every message not deleted is made visible again at the end.
const SQS_VISIBILITY: Duration = Duration::from_secs(300);

impl DeadLetterQueue {
    /// The SQS queue at `url`.
    pub fn sqs(sdk: &aws_config::SdkConfig, url: &str) -> DeadLetterQueue {
        DeadLetterQueue::Sqs {
            client: aws_sdk_sqs::Client::new(sdk),
            url: url.to_owned(),
        }
    }

    /// Where this queue is, for messages to a person.
    pub fn describe(&self) -> String {
        match self {
            DeadLetterQueue::Sqs { url, .. } => url.clone(),
            DeadLetterQueue::Dir(dir) => dir.display().to_string(),
        }
    }

    /// Adds a dead letter.
    pub async fn send(&self, record: &OnFailureRecord) -> DevResult<()> {
        let body = serde_json::to_string(record)?;
        match self {
            DeadLetterQueue::Sqs { client, url } => {
                client
                    .send_message()
                    .queue_url(url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            }
            DeadLetterQueue::Dir(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                // Written aside then renamed: a reader never sees half a file.
                let id = ulid::Ulid::new().to_string();
                let part = dir.join(format!(".{id}.part"));
                tokio::fs::write(&part, body).await?;
                tokio::fs::rename(&part, dir.join(format!("{id}.json"))).await?;
            }
        }
        Ok(())
    }

    /// Every dead letter, oldest first. SQS messages stay hidden from other readers until
    /// [`DeadLetterQueue::release`] (or [`SQS_VISIBILITY`]): call it when done.
    pub async fn receive_all(&self) -> DevResult<Vec<DeadLetter>> {
        let mut out = Vec::new();
        match self {
            DeadLetterQueue::Sqs { client, url } => loop {
                let received = client
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .visibility_timeout(SQS_VISIBILITY.as_secs() as i32)
                    // Long polling asks every server, so an empty answer means an empty queue.
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
                let messages = received.messages();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    out.push(DeadLetter {
                        id: m.message_id().unwrap_or_default().to_owned(),
                        handle: m.receipt_handle().unwrap_or_default().to_owned(),
                        record: parse(m.body().unwrap_or_default()),
                    });
                }
            },
            DeadLetterQueue::Dir(dir) => {
                let mut entries = match tokio::fs::read_dir(dir).await {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(format!("{}: {e}", dir.display()).into()),
                };
                while let Some(entry) = entries.next_entry().await? {
                    let path = entry.path();
                    let Some(id) = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_suffix(".json"))
                        .filter(|n| !n.starts_with('.'))
                    else {
                        continue;
                    };
                    let text = tokio::fs::read_to_string(&path).await?;
                    out.push(DeadLetter {
                        id: id.to_owned(),
                        handle: path.display().to_string(),
                        record: parse(&text),
                    });
                }
                // Ids are ULIDs: by name is by time.
                out.sort_by(|a, b| a.id.cmp(&b.id));
            }
        }
        Ok(out)
    }

    /// Removes a dead letter for good.
    pub async fn delete(&self, letter: &DeadLetter) -> DevResult<()> {
        match self {
            DeadLetterQueue::Sqs { client, url } => {
                client
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(&letter.handle)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            }
            DeadLetterQueue::Dir(_) => match tokio::fs::remove_file(&letter.handle).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            },
        }
        Ok(())
    }

    /// Makes received SQS messages visible again at once (nothing to do for a directory).
    pub async fn release(&self, letters: &[DeadLetter]) {
        let DeadLetterQueue::Sqs { client, url } = self else {
            return;
        };
        for letter in letters {
            if let Err(e) = client
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(&letter.handle)
                .visibility_timeout(0)
                .send()
                .await
            {
                // Not lost: it becomes visible again when its visibility timeout ends.
                tracing::debug!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "dead letter not released");
            }
        }
    }
}

fn parse(body: &str) -> Result<OnFailureRecord, String> {
    serde_json::from_str(body).map_err(|e| format!("not an on-failure record: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the AWS Lambda Developer Guide ("Retaining discarded records for a
    /// DynamoDB event source"), as Lambda writes it to SQS.
    const AWS_EXAMPLE: &str = r#"{
        "requestContext": {
            "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled"
        },
        "version": "1.0",
        "timestamp": "2019-11-14T00:13:49.717Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362",
            "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
        }
    }"#;

    #[test]
    fn reads_and_writes_lambdas_own_record() {
        let record = parse(AWS_EXAMPLE).expect("Lambda's on-failure record");
        assert_eq!(record.request_context.condition, RETRY_ATTEMPTS_EXHAUSTED);
        assert_eq!(
            record.batch.shard_id,
            "shardId-00000001573689847184-864758bb"
        );
        assert_eq!(record.batch.batch_size, 1);
        // What the poller writes has every field, named as Lambda names them.
        let written: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        let example: serde_json::Value = serde_json::from_str(AWS_EXAMPLE).unwrap();
        assert_eq!(written, example);
    }

    #[test]
    fn a_message_that_is_not_a_record_is_reported_not_dropped() {
        assert!(parse("{\"hello\": 1}").is_err());
    }
}
