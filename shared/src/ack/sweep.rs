//! The stale-claim sweeper: an acknowledger killed between its claim (`pending → sending`)
//! and its write-back (a timeout, an out-of-memory, a DynamoDB outage longer than
//! [`super::write_back::WRITE_DEADLINE`]) leaves the ack `sending` for good. On a schedule
//! (EventBridge, every [`SCHEDULE_MINUTES`] minutes, on the acknowledger function itself),
//! every ack `sending` for longer than [`STALE_AFTER`] is marked `failed` with reason
//! `interrupted`, each by a conditional update on the claim that was read, and counted as
//! `Acks{Outcome=interrupted}`.
//!
//! It sends again only where the provider refuses a repeat of a request it accepted
//! (`Sender::resend_is_safe`: LINE's push, whose `X-Line-Retry-Key` is derived from the
//! message it answers): such a claim is put back `pending` and acknowledged at once, so the
//! customer gets the ack if the dead attempt never reached LINE, and LINE answers 409 (recorded
//! as sent) if it did. Everywhere else a second send could be a second ack (DESIGN.md, "The
//! stale-claim sweeper").

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::Acknowledger;
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
    /// Of those, sent again (their provider refuses a repeat).
    pub resent: usize,
    /// Of those, moved on between the scan and the update (left alone).
    pub moved_on: usize,
    /// The tickets whose ack was marked `failed (interrupted)` (for logs and the operator,
    /// never for metrics).
    pub tickets: Vec<String>,
}

/// Finds and fails stale claims, or sends them again where that is safe; writes one metric
/// line per ack it fails.
pub struct Sweeper {
    store: Store,
    metrics: metrics::Sink,
    resender: Option<Arc<Acknowledger>>,
}

impl Sweeper {
    /// A sweeper of `store`'s table, writing its metric lines to `metrics`. It fails every
    /// stale claim, unless given an acknowledger to send again with
    /// ([`Sweeper::resending_with`]).
    pub fn new(store: Store, metrics: metrics::Sink) -> Sweeper {
        Sweeper {
            store,
            metrics,
            resender: None,
        }
    }

    /// The same sweeper, sending the stale claims `acknowledger`'s senders say are safe to
    /// send again through it (the acknowledger function's own).
    pub fn resending_with(mut self, acknowledger: Arc<Acknowledger>) -> Sweeper {
        self.resender = Some(acknowledger);
        self
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
            if let Some(acknowledger) = self
                .resender
                .as_ref()
                .filter(|a| a.resend_is_safe(claim, now))
            {
                self.resend(acknowledger, claim, &mut report).await?;
                continue;
            }
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

impl Sweeper {
    /// Puts `claim` back `pending` and acknowledges it now. The acknowledgement writes its own
    /// metric line; should it end in an error (the ack then waits `pending`, and no record
    /// will bring it back), the `interrupted` line is written too, so the alarm still asks a
    /// person to look (`intake tickets list --ack pending`).
    async fn resend(
        &self,
        acknowledger: &Acknowledger,
        claim: &StaleClaim,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        if !self.store.release_interrupted(claim).await? {
            report.moved_on += 1;
            return Ok(());
        }
        report.resent += 1;
        report.tickets.push(claim.ticket_id.clone());
        match acknowledger.acknowledge(&claim.ticket_id).await {
            Ok(outcome) => {
                tracing::warn!(ticket_id = %claim.ticket_id, outcome = %outcome.summary(), "stale ack claim sent again");
            }
            Err(err) => {
                tracing::error!(ticket_id = %claim.ticket_id, error_kind = err.kind(), "stale ack claim sent again, and failed; left pending");
                self.metrics.emit(&metric(claim).line(Timestamp::now()));
            }
        }
        Ok(())
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
