//! `--mode direct`: the transactions the webhooks would write, sent straight to DynamoDB
//! Local with the same concurrency, no HTTP, no verification. Each webhook is read by its
//! provider's own code (`Provider::receive`, before the clock starts), and its new ticket's
//! `TransactWriteItems` is built by the ingest code's [`intake::store::plan`]. They go to a
//! table of their own beside the stack's (same schema and stream, created for the run and
//! deleted after), so the acknowledger never sees them.
//!
//! What is timed is the transaction alone: the webhook path also reads the contact
//! (`GetItem`, consistent) before it, which the ratio therefore counts as webhook overhead.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use intake::ids::TicketIds;
use intake::providers::{self, Clients, Provider, Received};
use intake::store::{Store, Target, keys, schema};
use intake::{Config, WebhookRequest};

use super::workload::Workload;
use crate::DevResult;

/// What a direct run measured.
pub struct DirectRun {
    /// Transactions sent.
    pub transactions: usize,
    /// Those DynamoDB accepted.
    pub committed: usize,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Latency of each transaction.
    pub latencies: Vec<Duration>,
    /// The table they went to.
    pub table: String,
    /// Transactions sent first, untimed, to warm DynamoDB Local's JVM up (as many as the
    /// webhook run's warm-up webhooks: a JVM just started runs slowly until its JIT has
    /// compiled the hot paths).
    pub warmup: usize,
}

/// Deletes the run's direct table (`<table>-direct` of `store`), if there is one.
pub async fn delete_table(store: &Store, table: &str) {
    let _ = store.client().delete_table().table_name(table).send().await;
}

/// What a direct run sends.
pub struct Plan {
    /// Timed transactions (one per distinct webhook).
    pub count: usize,
    /// Transactions in flight at once.
    pub concurrency: usize,
    /// Untimed transactions sent first.
    pub warmup: usize,
    /// Whether each transaction follows the webhook's consistent read of its contact.
    pub with_reads: bool,
}

/// Builds `plan.count` webhooks' transactions, then sends them `plan.concurrency` at a time
/// to a fresh table `<table>-direct` of `store`'s DynamoDB (after `plan.warmup` untimed
/// ones).
pub async fn run(
    workload: &Workload,
    plan: &Plan,
    config: &Config,
    sdk: &aws_config::SdkConfig,
    store: &Store,
) -> DevResult<DirectRun> {
    let table = format!("{}-direct", store.table());
    let client = store.client().clone();
    schema::create_table_if_missing(&client, &table).await?;
    let direct = Store::from_sdk_config(sdk, &table);
    let (concurrency, warmup) = (plan.concurrency, plan.warmup);
    let outcome = match prepare(workload, plan.count + warmup, config, sdk, &direct).await {
        Ok(mut transactions) => {
            let timed = transactions.split_off(warmup);
            let reads = plan.with_reads.then(|| direct.table().to_owned());
            send(&client, Arc::new(transactions), concurrency, reads.clone()).await;
            Ok(send(&client, Arc::new(timed), concurrency, reads).await)
        }
        Err(e) => Err(e),
    };
    // The caller deletes the table when the whole run is over (or stops the server it had
    // for this run); only a failed run's table goes at once.
    if outcome.is_err() {
        delete_table(store, &table).await;
    }
    let (committed, elapsed, latencies) = outcome?;
    Ok(DirectRun {
        transactions: latencies.len(),
        committed,
        elapsed,
        latencies,
        table,
        warmup,
    })
}

/// The transaction of each of the first `count` webhooks, as the webhook path would write
/// it for a new ticket.
async fn prepare(
    workload: &Workload,
    count: usize,
    config: &Config,
    sdk: &aws_config::SdkConfig,
    store: &Store,
) -> DevResult<Vec<Transaction>> {
    let clients = Clients::new(sdk)?;
    let mut by_channel: Vec<(intake::Channel, Vec<Box<dyn Provider>>)> = Vec::new();
    let mut out = Vec::with_capacity(count);
    for index in 0..count {
        let webhook = workload.webhook(index)?;
        let channel = webhook.kind.channel();
        if !by_channel.iter().any(|(c, _)| *c == channel) {
            let built = providers::inbound(channel, config, &clients)?;
            by_channel.push((channel, built));
        }
        let provider = by_channel
            .iter()
            .find(|(c, _)| *c == channel)
            .and_then(|(_, all)| all.iter().find(|p| p.name() == webhook.kind.provider()))
            .ok_or_else(|| {
                format!(
                    "the stack has no {} provider configured",
                    webhook.kind.provider()
                )
            })?;
        let request = webhook_request(
            &webhook.request.public_url,
            &webhook.request.headers,
            &webhook.request.body,
        )?;
        let now = jiff::Timestamp::now();
        let messages = match provider.receive(&request, now, store).await {
            Ok(Received::Messages(messages)) => messages,
            Ok(Received::Answer(_)) => return Err("a webhook carried no message".into()),
            Err(e) => {
                return Err(format!(
                    "the {} webhook was refused ({e}): the stack's secrets differ from the harness's",
                    webhook.kind.provider()
                )
                .into());
            }
        };
        for message in &messages {
            let target = Target::New {
                ids: TicketIds::generate(),
                replaces_closed: None,
            };
            out.push(Transaction {
                contact: keys::contact(message.channel, &message.from.address),
                items: intake::store::plan(store.table(), message, &target, message.received_at)
                    .items,
            });
        }
    }
    Ok(out)
}

/// The request as the webhook function would see it.
fn webhook_request(
    url: &str,
    headers: &[(String, String)],
    body: &Bytes,
) -> DevResult<WebhookRequest> {
    let parsed = url::Url::parse(url)?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            HeaderName::try_from(name.as_str())?,
            HeaderValue::from_str(value)?,
        );
    }
    let mut request = WebhookRequest::new(
        Method::POST,
        parsed.path(),
        parsed.query().map(str::to_owned),
        map,
        body.clone(),
    );
    request.public_url = url.to_owned();
    Ok(request)
}

/// A new ticket's transaction, and the contact item the webhook reads before it.
struct Transaction {
    contact: String,
    items: Vec<TransactWriteItem>,
}

/// Sends every transaction, `concurrency` at a time, as fast as DynamoDB answers; with
/// `reads_in` (the table), each after the consistent read of its contact's open ticket that
/// the webhook's ingest makes first.
async fn send(
    client: &aws_sdk_dynamodb::Client,
    transactions: Arc<Vec<Transaction>>,
    concurrency: usize,
    reads_in: Option<String>,
) -> (usize, Duration, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, transactions, next) = (client.clone(), transactions.clone(), next.clone());
        let reads_in = reads_in.clone();
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(transaction) = transactions.get(i) else {
                    break;
                };
                let sent = Instant::now();
                if let Some(table) = &reads_in {
                    let _ = client
                        .get_item()
                        .table_name(table)
                        .key(keys::PK, AttributeValue::S(transaction.contact.clone()))
                        .key(keys::SK, AttributeValue::S(keys::CONTACT_SK.to_owned()))
                        .projection_expression("open_ticket")
                        .consistent_read(true)
                        .send()
                        .await;
                }
                let ok = client
                    .transact_write_items()
                    .set_transact_items(Some(transaction.items.clone()))
                    .send()
                    .await
                    .is_ok();
                done.push((sent.elapsed(), ok));
            }
            done
        });
    }
    let mut latencies = Vec::with_capacity(transactions.len());
    let mut committed = 0;
    while let Some(Ok(done)) = workers.join_next().await {
        for (latency, ok) in done {
            latencies.push(latency);
            committed += usize::from(ok);
        }
    }
    (committed, started.elapsed(), latencies)
}
