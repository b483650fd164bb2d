//! The webhook driver: sends a schedule of deliveries to the stack, open-loop. Each
//! delivery's send time is fixed in advance (`--rate`), whatever the answers so far, so a
//! slow server shows as latency (measured from the scheduled time, queueing included), not
//! as a lower offered rate. At most `--concurrency` requests are in flight. A delivery that
//! is not answered 2xx is sent again, unchanged, after a backoff, as a provider retries.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use super::workload::{Slot, Webhook, Workload};
use crate::DevResult;

/// How the driver paces and retries.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Deliveries per second; `None` sends each as soon as a slot is free (a burst).
    pub rate: Option<f64>,
    /// Most requests in flight.
    pub concurrency: usize,
    /// Retries of a delivery not answered 2xx.
    pub retries: u32,
    /// How long one request may take before it counts as unanswered.
    pub timeout: Duration,
}

/// One request of a delivery.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// From when it was due (the schedule's time for the first, the end of the backoff for
    /// a retry) to its answer.
    pub latency: Duration,
    /// The HTTP status; `None` when no answer came (refused, reset, timed out).
    pub status: Option<u16>,
}

/// One delivery of a webhook (its first, or a repeat).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Which distinct webhook.
    pub webhook: usize,
    /// Whether it repeats an earlier delivery of that webhook.
    pub repeat: bool,
    /// Its requests, in order.
    pub attempts: Vec<Attempt>,
    /// When it was answered 2xx, from the run's start.
    pub accepted_at: Option<Duration>,
}

impl Delivery {
    /// Whether a request of it was answered 2xx.
    pub fn accepted(&self) -> bool {
        self.accepted_at.is_some()
    }
}

/// What a run sent.
pub struct Sent {
    /// Every distinct webhook, by index.
    pub webhooks: Vec<Arc<Webhook>>,
    /// Every delivery, in schedule order.
    pub deliveries: Vec<Delivery>,
    /// When the run started (for the fault's times).
    pub started: Instant,
    /// The same, on the wall clock (the stack's clock, for the acks' times).
    pub started_at: jiff::Timestamp,
    /// From the start to the last answer.
    pub elapsed: Duration,
    /// How late the scheduler started a delivery at worst (its own lag, not the server's).
    pub max_start_lag: Duration,
}

/// Sends `slots` from `workload` to the stack.
pub async fn drive(workload: &Workload, slots: &[Slot], pacing: &Pacing) -> DevResult<Sent> {
    let client = reqwest::Client::builder()
        .timeout(pacing.timeout)
        .pool_max_idle_per_host(pacing.concurrency)
        .build()?;
    let permits = Arc::new(Semaphore::new(pacing.concurrency.max(1)));
    let mut webhooks: Vec<Arc<Webhook>> = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    let started_at = jiff::Timestamp::now();
    let mut max_start_lag = Duration::ZERO;
    for (i, slot) in slots.iter().enumerate() {
        // Built before its time comes, so building (signing) is not counted as latency.
        let (webhook, repeat) = match *slot {
            Slot::New(n) => {
                let webhook = Arc::new(workload.webhook(n)?);
                webhooks.push(webhook.clone());
                (webhook, false)
            }
            Slot::Repeat(n) => (
                webhooks
                    .get(n)
                    .cloned()
                    .ok_or("a repeat of a webhook not sent yet")?,
                true,
            ),
        };
        let (due, permit) = match pacing.rate {
            Some(rate) => {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                max_start_lag = max_start_lag.max(Instant::now().saturating_duration_since(due));
                (due, None)
            }
            // A burst: the next request waits for a free slot, then is due at once.
            None => {
                let permit = permits.clone().acquire_owned().await?;
                (Instant::now(), Some(permit))
            }
        };
        let (client, permits, retries) = (client.clone(), permits.clone(), pacing.retries);
        tasks.spawn(async move {
            let delivery =
                deliver(&client, &permits, &webhook, permit, due, started, retries).await;
            (i, Delivery { repeat, ..delivery })
        });
    }
    let mut deliveries: Vec<Option<Delivery>> = vec![None; slots.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, delivery) = done?;
        deliveries[i] = Some(delivery);
    }
    let deliveries: Vec<Delivery> = deliveries.into_iter().flatten().collect();
    let elapsed = deliveries
        .iter()
        .filter_map(|d| d.accepted_at)
        .max()
        .unwrap_or_else(|| started.elapsed());
    Ok(Sent {
        webhooks,
        deliveries,
        started,
        started_at,
        elapsed,
        max_start_lag,
    })
}

/// One delivery: the request, then again after a backoff while it is not answered 2xx.
async fn deliver(
    client: &reqwest::Client,
    permits: &Arc<Semaphore>,
    webhook: &Webhook,
    mut permit: Option<tokio::sync::OwnedSemaphorePermit>,
    due: Instant,
    started: Instant,
    retries: u32,
) -> Delivery {
    let mut delivery = Delivery {
        webhook: webhook.index,
        repeat: false,
        attempts: Vec::new(),
        accepted_at: None,
    };
    let mut due = due;
    for attempt in 0..=retries {
        let held = match permit.take() {
            Some(p) => Some(p),
            None => permits.clone().acquire_owned().await.ok(),
        };
        let status = send(client, webhook).await;
        let answered = Instant::now();
        drop(held);
        delivery.attempts.push(Attempt {
            latency: answered.saturating_duration_since(due),
            status,
        });
        if status.is_some_and(|s| (200..300).contains(&s)) {
            delivery.accepted_at = Some(answered.saturating_duration_since(started));
            break;
        }
        if attempt == retries {
            break;
        }
        tokio::time::sleep(backoff(attempt)).await;
        due = Instant::now();
    }
    delivery
}

/// 0.5 s, 1 s, 2 s, 4 s, then 8 s: a DynamoDB Local restart (several seconds) fits in the
/// default six retries.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(4))
}

async fn send(client: &reqwest::Client, webhook: &Webhook) -> Option<u16> {
    let request = &webhook.request;
    let mut builder = client.post(&request.url).body(request.body.clone());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.ok()?;
    let status = response.status().as_u16();
    // Read the answer whole, as a provider does, so the connection can be reused.
    let _ = response.bytes().await;
    Some(status)
}
