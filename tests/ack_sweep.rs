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
            resent: 0,
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

const LINE_BOT: &str = "Ubot0000000000000000000000000001";

/// A LINE user's first message, acknowledged as the stack's acknowledger does; returns the
/// user and their ticket once the ack settled (sent, or failed when the recorder refused it).
async fn line_ticket(endpoints: &Endpoints) -> (String, intake::model::Ticket) {
    use intake_dev::simulate::{self, SocialMessage};
    let user = format!("U{:032x}", ulid::Ulid::new().random());
    let body = simulate::line_payload(LINE_BOT, &[SocialMessage::new(&user, LINE_BOT, "Halo")]);
    let post = simulate::sign_line(
        &endpoints.url,
        intake_dev::stack::TEST_LINE_CHANNEL_SECRET,
        body,
    );
    let (status, answer) = simulate::post_json(&intake_tests::http(), &post)
        .await
        .expect("stack reachable");
    assert_eq!(status, 200, "{answer}");
    let ticket = endpoints.settled_ticket(&format!("line:{user}")).await;
    (user, ticket)
}

/// The ack of `ticket` back in `sending` under a claim, as an acknowledger that died after
/// its call leaves it, and the ticket created `created_before` the claim (LINE's webhook, or
/// the acknowledger, running late: what decides a reply or a push).
async fn dead_claim(
    stack: &intake_dev::stack::Stack,
    ticket: &intake::model::Ticket,
    created_before: jiff::SignedDuration,
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    use intake::store::keys;
    assert!(
        stack
            .store
            .transition_ack(
                &ticket.id,
                ticket.ack_status,
                AckStatus::Pending,
                AckRecord::default()
            )
            .await
            .expect("store")
    );
    let token = ulid::Ulid::new().to_string();
    assert!(
        stack
            .store
            .claim_ack(&ticket.id, &token)
            .await
            .expect("claim")
    );
    let created = (jiff::Timestamp::now() - created_before).to_string();
    stack
        .store
        .client()
        .update_item()
        .table_name(stack.store.table())
        .key(keys::PK, AttributeValue::S(keys::ticket(&ticket.id)))
        .key(keys::SK, AttributeValue::S(keys::TICKET_SK.to_owned()))
        .update_expression("SET created_at = :created")
        .expression_attribute_values(":created", AttributeValue::S(created))
        .send()
        .await
        .expect("backdated");
}

/// LINE pushes carry an `X-Line-Retry-Key` derived from the message they answer, and LINE
/// refuses a repeat of a push it accepted (409; the recorder answers as LINE does). So a dead
/// claim of an ack that pushed is sent again rather than failed: the customer whose first push
/// went out gets nothing more (the repeat is a 409, recorded as sent), the customer whose push
/// never went out gets it now. A claim made while the reply token was young (the reply API
/// has no retry key) is failed as everywhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_line_push_is_sent_again_under_its_retry_key_and_a_dead_reply_is_not() {
    // The acknowledger's clock five minutes on: its acks are pushes (the reply token is old).
    let five_minutes_on = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let at: &'static str = Box::leak(five_minutes_on.to_string().into_boxed_str());
    let stack =
        intake_tests::own_stack_with(|o| o.clock = Some(intake_tests::stopped_clock(at))).await;
    let endpoints = Endpoints::of(&stack);

    // Two pushes that did not go out (refused here).
    intake_dev::recorder::fail_next(&endpoints.recorder, 400, 2)
        .await
        .expect("recorder");
    let (reached, reached_ticket) = line_ticket(&endpoints).await;
    let (lost, lost_ticket) = line_ticket(&endpoints).await;
    assert_eq!(reached_ticket.ack_status, AckStatus::Failed);
    assert_eq!(lost_ticket.ack_status, AckStatus::Failed);
    // A: the dead attempt's push did reach LINE: the same request, with its retry key,
    // accepted (as if the function died after LINE's answer).
    let refused = endpoints.sent_to(&reached).await;
    let key = refused[0]
        .retry_key
        .clone()
        .expect("pushes carry a retry key");
    let accepted = intake_tests::http()
        .post(format!("{}/v2/bot/message/push", endpoints.recorder))
        .bearer_auth("test-line-token")
        .header("x-line-retry-key", &key)
        .json(&serde_json::json!({"to": reached, "messages": [{"type": "text", "text": "ack"}]}))
        .send()
        .await
        .expect("recorder");
    assert_eq!(accepted.status(), 200);
    // B: its push never reached LINE (the function died before it).
    // C: claimed seconds after the customer wrote: it may have used the reply API.
    let (replied, replied_ticket) = line_ticket(&endpoints).await;
    let two_minutes = jiff::SignedDuration::from_mins(2);
    dead_claim(&stack, &reached_ticket, two_minutes).await;
    dead_claim(&stack, &lost_ticket, two_minutes).await;
    dead_claim(&stack, &replied_ticket, jiff::SignedDuration::ZERO).await;

    let sink = MemorySink::default();
    let sweeper = Sweeper::new(stack.store.clone(), Arc::new(sink.clone()))
        .resending_with(stack.acknowledger.clone());
    let report = sweeper
        .sweep(later(STALE_AFTER + Duration::from_secs(60)))
        .await
        .expect("sweep");
    assert_eq!(
        (report.found, report.resent, report.interrupted),
        (3, 2, 1),
        "{report:?}"
    );

    let pushes = |user: String| {
        let endpoints = &endpoints;
        async move {
            let sent = endpoints.sent_to(&user).await;
            assert!(
                sent.iter().all(|r| r.kind.as_deref() == Some("push")),
                "{sent:?}"
            );
            let keys: Vec<_> = sent.iter().map(|r| r.retry_key.clone()).collect();
            assert!(
                keys[0].is_some() && keys.iter().all(|k| *k == keys[0]),
                "one key: {keys:?}"
            );
            sent.iter().map(|r| r.status).collect::<Vec<u16>>()
        }
    };
    // A: accepted once; the repeat refused by LINE; the ack recorded as sent.
    assert_eq!(pushes(reached).await, [400, 200, 409]);
    assert_eq!(
        stored_ticket(&stack, &reached_ticket.id).await.ack_status,
        AckStatus::Sent
    );
    // B: delivered now, under the same key.
    assert_eq!(pushes(lost).await, [400, 200]);
    assert_eq!(
        stored_ticket(&stack, &lost_ticket.id).await.ack_status,
        AckStatus::Sent
    );
    // C: failed as interrupted, nothing sent again.
    assert_eq!(pushes(replied).await, [200]);
    let swept = stored_ticket(&stack, &replied_ticket.id).await;
    assert_eq!(swept.ack_status, AckStatus::Failed);
    assert_eq!(swept.ack_reason.as_deref(), Some(INTERRUPTED));
    let interrupted: Vec<_> = sink
        .lines()
        .iter()
        .map(|l| emf(l))
        .filter(|l| l["Outcome"] == "interrupted")
        .collect();
    assert_eq!(interrupted.len(), 1, "only C is counted as interrupted");
}
