//! The stale-claim sweeper, end to end against DynamoDB Local: an ack claimed `sending` by an
//! acknowledger that then died (simulated by writing the claim through the store, as the
//! acknowledger does) is failed as `interrupted` once it is older than the acknowledger's
//! timeout plus a margin (`ack::sweep::STALE_AFTER`), and not before; acks in any other state,
//! and a claim completed between the sweeper's scan and its update, are never touched; each
//! swept ack writes one `Acks{Outcome=interrupted}` metric line and nothing else.
//!
//! The claims are written at the real time; the sweeper is handed a later "now" instead of
//! waiting five minutes.

use std::sync::Arc;
use std::time::Duration;

use intake::ack::sweep::{STALE_AFTER, SweepReport, Sweeper};
use intake::metrics::MemorySink;
use intake::model::AckStatus;
use intake::store::{AckRecord, INTERRUPTED};
use intake_tests::{
    Endpoints, assert_lines_private, emf, own_stack, pending_tickets, stored_ticket,
};

/// `now` moved on by `by`.
fn later(by: Duration) -> jiff::Timestamp {
    jiff::Timestamp::now() + jiff::SignedDuration::try_from(by).expect("duration")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_claim_is_failed_as_interrupted_after_the_timeout_and_nothing_else_is_touched() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    // A customer whose ack went out (sent), and three whose ticket is pending again.
    let (sent_customer, sent) = intake_tests::new_customer_ticket(&endpoints).await;
    assert_eq!(sent.ack_status, AckStatus::Sent);
    let tickets = pending_tickets(&stack, &endpoints, 3).await;
    let (dead, finishing, waiting) = (&tickets[0].1, &tickets[1].1, &tickets[2].1);

    // Two acks claimed as the acknowledger claims them; their functions "die" here.
    for (ticket, token) in [(dead, "01DEADCLAIM"), (finishing, "01FINISHINGCLAIM")] {
        assert!(
            stack
                .store
                .claim_ack(&ticket.id, token)
                .await
                .expect("claim")
        );
    }
    let sink = MemorySink::default();
    let sweeper = Sweeper::new(stack.store.clone(), Arc::new(sink.clone()));

    // Not before the timeout plus the margin: now, and a minute short of it.
    for now in [
        jiff::Timestamp::now(),
        later(STALE_AFTER - Duration::from_secs(60)),
    ] {
        let report = sweeper.sweep(now).await.expect("sweep");
        assert_eq!(report, SweepReport::default(), "nothing stale at {now}");
    }
    assert_eq!(
        stored_ticket(&stack, &dead.id).await.ack_status,
        AckStatus::Sending
    );

    // A claim whose acknowledger finishes between the sweeper's scan and its update: the
    // update's condition (the same claim, still sending) fails and the ack stays as written.
    let stale = stack
        .store
        .stale_claims(later(STALE_AFTER + Duration::from_secs(60)))
        .await
        .expect("scan");
    let mut found: Vec<&str> = stale.iter().map(|c| c.ticket_id.as_str()).collect();
    found.sort();
    let mut expected = vec![dead.id.as_str(), finishing.id.as_str()];
    expected.sort();
    assert_eq!(found, expected, "exactly the two claims are stale");
    let racing = stale
        .iter()
        .find(|c| c.ticket_id == finishing.id)
        .expect("found");
    let record = AckRecord {
        reason: None,
        provider_message_id: Some("SM-late"),
    };
    let finished = stack
        .store
        .finish_claim(&finishing.id, "01FINISHINGCLAIM", AckStatus::Sent, record)
        .await
        .expect("write-back");
    assert!(finished);
    assert!(!stack.store.fail_interrupted(racing).await.expect("update"));
    let after_race = stored_ticket(&stack, &finishing.id).await;
    assert_eq!(after_race.ack_status, AckStatus::Sent, "not overwritten");

    // After the timeout plus the margin: the dead claim is failed as interrupted, once.
    let report = sweeper
        .sweep(later(STALE_AFTER + Duration::from_secs(60)))
        .await
        .expect("sweep");
    assert_eq!(
        report,
        SweepReport {
            found: 1,
            interrupted: 1,
            moved_on: 0,
            tickets: vec![dead.id.clone()],
        }
    );
    let swept = stored_ticket(&stack, &dead.id).await;
    assert_eq!(swept.ack_status, AckStatus::Failed);
    assert_eq!(swept.ack_reason.as_deref(), Some(INTERRUPTED));
    let again = sweeper
        .sweep(later(STALE_AFTER + Duration::from_secs(120)))
        .await
        .expect("sweep");
    assert_eq!(
        again,
        SweepReport::default(),
        "a swept ack is not swept again"
    );

    // Every other ack as it was.
    assert_eq!(
        stored_ticket(&stack, &sent.id).await.ack_status,
        AckStatus::Sent
    );
    assert_eq!(
        stored_ticket(&stack, &waiting.id).await.ack_status,
        AckStatus::Pending
    );
    assert_eq!(
        stored_ticket(&stack, &finishing.id).await.ack_status,
        AckStatus::Sent
    );

    // One metric line per swept ack: Acks{Outcome=interrupted}, a count, no ticket or phone.
    let lines = sink.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = emf(&lines[0]);
    assert_eq!(line["Acks"], 1);
    assert_eq!(line["Outcome"], "interrupted");
    assert_eq!(line["Channel"], "sms");
    assert_eq!(line["Provider"], "twilio");
    let mut private: Vec<&str> = vec![dead.id.as_str(), sent_customer.as_str()];
    private.extend(tickets.iter().map(|(customer, _)| customer.as_str()));
    assert_lines_private(&lines, &private);
}
