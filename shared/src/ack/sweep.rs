//! The stale-claim sweeper: an acknowledger killed between its claim (`pending → sending`)
//! and its write-back (a timeout, an out-of-memory, a DynamoDB outage longer than
//! [`super::write_back::WRITE_DEADLINE`]) leaves the ack `sending` for good. On a schedule
//! (EventBridge, every [`SCHEDULE_MINUTES`] minutes, on the acknowledger function itself),
//! every ack `sending` for longer than [`STALE_AFTER`] is marked `failed` with reason
//! `interrupted`, each by a conditional update on the claim that was read, and counted as
//! `Acks{Outcome=interrupted}`.
//!
//! It never sends again: no provider Intake uses is called with an idempotency key yet, so a
//! second send could be a second ack (DESIGN.md, "The stale-claim sweeper").

use std::time::Duration;

use jiff::Timestamp;

use crate::metrics::{self, AckMetric, AckMetricOutcome};
use crate::model::Channel;
use crate::store::{StaleClaim, Store, StoreError};

/// The acknowledger function's timeout in both templates (`Timeout: 90`): no invocation
/// holds a claim longer than this.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(90);

/// How old a `sending` claim must be to be swept: the function's timeout, with a margin
/// for clocks and for Lambda's own start and shutdown, rounded to 5 minutes. A live attempt
/// is gone by then, so whatever still holds the claim died.
pub const STALE_AFTER: Duration = Duration::from_secs(300);

/// How often the schedule runs the sweep (`rate(5 minutes)` in both templates): a stuck ack
/// is failed within [`STALE_AFTER`] plus this.
pub const SCHEDULE_MINUTES: u32 = 5;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Stale claims found.
    pub found: usize,
    /// Of those, marked `failed (interrupted)`.
    pub interrupted: usize,
    /// Of those, moved on between the scan and the update (left alone).
    pub moved_on: usize,
    /// The tickets whose ack was marked `failed (interrupted)` (for logs and the operator,
    /// never for metrics).
    pub tickets: Vec<String>,
}

/// Finds and fails stale claims; writes one metric line per ack it fails.
pub struct Sweeper {
    store: Store,
    metrics: metrics::Sink,
}

impl Sweeper {
    /// A sweeper of `store`'s table, writing its metric lines to `metrics`.
    pub fn new(store: Store, metrics: metrics::Sink) -> Sweeper {
        Sweeper { store, metrics }
    }

    /// Sweeps the acks claimed before `now - STALE_AFTER` (`now`: the real clock in the
    /// function; tests and the CLI may move it). Records its AWS calls as the acknowledger's.
    pub async fn sweep(&self, now: Timestamp) -> Result<SweepReport, StoreError> {
        crate::aws_calls::within(crate::manifest::ACKNOWLEDGER, self.sweep_at(now)).await
    }

    async fn sweep_at(&self, now: Timestamp) -> Result<SweepReport, StoreError> {
        let stale_after = jiff::SignedDuration::try_from(STALE_AFTER)
            .unwrap_or(jiff::SignedDuration::from_secs(300));
        let stale = self.store.stale_claims(now - stale_after).await?;
        let mut report = SweepReport {
            found: stale.len(),
            ..SweepReport::default()
        };
        for claim in &stale {
            if self.store.fail_interrupted(claim).await? {
                report.interrupted += 1;
                report.tickets.push(claim.ticket_id.clone());
                tracing::warn!(ticket_id = %claim.ticket_id, "stale ack claim failed as interrupted");
                self.metrics.emit(&metric(claim).line(Timestamp::now()));
            } else {
                report.moved_on += 1;
            }
        }
        Ok(report)
    }
}

/// The `Acks{Outcome=interrupted}` line of one swept ack: its channel and provider, no more.
fn metric(claim: &StaleClaim) -> AckMetric {
    AckMetric {
        channel: claim
            .channel
            .as_deref()
            .and_then(|c| c.parse::<Channel>().ok()),
        provider: claim
            .provider
            .clone()
            .unwrap_or_else(|| metrics::UNKNOWN.to_owned()),
        outcome: AckMetricOutcome::Interrupted,
        reason: None,
        delay: None,
    }
}
