//! Writing an ack's outcome back once it is claimed: retried in-process within a deadline.
//!
//! Once an ack is `sending` under this attempt's claim, no other attempt may move it (that is
//! what keeps it from being sent twice), so a write this attempt fails to make is not made by
//! anyone: a redelivered record finds the ack `sending` and does nothing. A DynamoDB outage of
//! seconds must therefore cost a delay, not a stuck ack: the write is tried again, with a
//! growing pause, until it is made or the deadline passes. Past the deadline the ack stays
//! `sending` for the stale-claim sweeper, and the acknowledger reports it as `unrecorded`.

use std::future::Future;
use std::time::Duration;

use crate::store::StoreError;

/// How long a claimed ack's outcome is tried, from the first try of its write. With the
/// read, the claim (6 s each at worst) and one provider call (10 s) this keeps a batch, whose
/// records are acked side by side, well within the acknowledger's 90 s timeout
/// (infra/template.yaml).
pub const WRITE_DEADLINE: Duration = Duration::from_secs(30);

/// The pause after the first failed try; it doubles after each, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between two tries.
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

/// Tries `write` (a conditional update: `Ok(moved)`) until it is made or refused for good,
/// or until `deadline` has passed; `what` names the write in logs. Returns whether the ack
/// moved, or `None` when the write could not be made (logged as an error).
///
/// A condition that fails after an earlier try failed counts as moved: only the claimer moves
/// a claimed ack, so the earlier try committed and only its answer was lost.
pub(crate) async fn until_written<F, Fut>(
    ticket_id: &str,
    what: &'static str,
    deadline: Duration,
    write: F,
) -> Option<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let mut last_kind = "none";
    let result =
        tokio::time::timeout(deadline, tries(ticket_id, what, write, &mut last_kind)).await;
    let refused = match result {
        Ok(Ok(moved)) => return Some(moved),
        Ok(Err(kind)) => kind,
        Err(_) => "deadline",
    };
    tracing::error!(
        ticket_id,
        write = what,
        error_kind = last_kind,
        ended_by = refused,
        "ack outcome not recorded: the ack stays sending for the stale-claim sweeper"
    );
    None
}

/// The tries of [`until_written`], without the deadline; `Err` with the error's kind when
/// DynamoDB refused the write for good. `last_kind` keeps the latest failure's kind.
async fn tries<F, Fut>(
    ticket_id: &str,
    what: &'static str,
    mut write: F,
    last_kind: &mut &'static str,
) -> Result<bool, &'static str>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let mut failed_before = false;
    let mut pause = FIRST_PAUSE;
    loop {
        match write().await {
            Ok(moved) => return Ok(moved || failed_before),
            Err(e) if e.is_retryable() => {
                *last_kind = e.kind();
                tracing::warn!(
                    ticket_id,
                    write = what,
                    error_kind = e.kind(),
                    retry_in_ms = pause.as_millis() as u64,
                    "ack outcome not written yet; trying again"
                );
            }
            Err(e) => {
                *last_kind = e.kind();
                return Err("refused");
            }
        }
        failed_before = true;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::until_written;
    use crate::store::StoreError;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn a_write_is_tried_again_until_made() {
        let calls = AtomicUsize::new(0);
        let moved = until_written("T", "test", Duration::from_secs(5), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(StoreError::Unavailable("down".into())),
                _ => Ok(true),
            }
        })
        .await;
        assert_eq!(moved, Some(true));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_condition_failing_after_a_failed_try_counts_as_moved() {
        let calls = AtomicUsize::new(0);
        let moved = until_written("T", "test", Duration::from_secs(5), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(StoreError::Unavailable("answer lost".into())),
                _ => Ok(false),
            }
        })
        .await;
        assert_eq!(moved, Some(true));
        // On the first try it means someone else holds the ack.
        let first = until_written("T", "test", Duration::from_secs(5), || async { Ok(false) });
        assert_eq!(first.await, Some(false));
    }

    #[tokio::test]
    async fn a_refused_write_or_the_deadline_ends_the_tries() {
        let calls = AtomicUsize::new(0);
        let refused = until_written("T", "test", Duration::from_secs(5), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Rejected("ValidationException".into()))
        });
        assert_eq!(refused.await, None);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let started = std::time::Instant::now();
        let down = until_written("T", "test", Duration::from_millis(500), || async {
            Err(StoreError::Unavailable("down".into()))
        });
        assert_eq!(down.await, None);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
