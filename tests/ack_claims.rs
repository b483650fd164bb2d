//! A DynamoDB outage around an ack's claim leaves no ack `sending` for good: the claim carries
//! a token of its attempt (so the SDK's retry of a committed claim is still this attempt's),
//! and once claimed, the outcome is written back within a deadline. Each test has its own
//! stack: it stops DynamoDB Local or fails the recorder.
//!
//! The acknowledger here is built on its own DynamoDB client and senders, so a test can lose
//! an answer (an SDK interceptor, the SDK's own mechanism) or hold the acknowledger right after
//! the provider accepted (a gate around the real Twilio sender) while it stops DynamoDB Local.
//! The stack's own poller re-reads the stream after DynamoDB Local restarts: that is a
//! redelivery of the ticket's record, which must change nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use intake::ack::{AckError, AckOutcome, Acknowledger};
use intake::future::BoxFuture;
use intake::metrics::MemorySink;
use intake::model::AckStatus;
use intake::providers::{OutboundMessage, SendError, SendReceipt, Sender};
use intake::store::Store;
use intake_dev::recorder;
use intake_dev::stack::{Stack, local_sdk_config};
use intake_tests::{Endpoints, own_stack, pending_tickets, quiet_period, stored_ticket};
use tokio::sync::oneshot;

/// An interceptor that turns the answer to the first claim (`UpdateItem` setting
/// `ack_claim`) into an HTTP 500 after DynamoDB has applied it, as a response lost on the way
/// back would: the SDK retries the same request.
#[derive(Debug, Default, Clone)]
struct LoseFirstClaimAnswer {
    /// Claims transmitted (shared by the clones: the client's and the test's).
    claims: Arc<AtomicUsize>,
    /// Set between transmitting the first claim and its answer.
    losing: Arc<Mutex<bool>>,
}

impl Intercept for LoseFirstClaimAnswer {
    fn name(&self) -> &'static str {
        "LoseFirstClaimAnswer"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let body = std::str::from_utf8(request.body().bytes().unwrap_or_default()).unwrap_or("");
        let update = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".UpdateItem"));
        if update && body.contains("ack_claim = :claim,") {
            let first = self.claims.fetch_add(1, Ordering::SeqCst) == 0;
            *self.losing.lock().expect("lock") = first;
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut losing = self.losing.lock().expect("lock");
        if std::mem::take(&mut *losing) {
            assert_eq!(context.response().status().as_u16(), 200, "the claim committed");
            *context.response_mut().status_mut() = 500u16.try_into()?;
        }
        Ok(())
    }
}

/// A real sender that, once the provider accepted an ack, says so and waits for the test's
/// go-ahead before the acknowledger writes it back.
struct Gate {
    inner: Arc<dyn Sender>,
    accepted: Mutex<Option<oneshot::Sender<()>>>,
    go: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl Sender for Gate {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    fn answers_channel(&self) -> Option<intake::model::Channel> {
        self.inner.answers_channel()
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let answer = self.inner.send(message).await;
            if let Some(accepted) = self.accepted.lock().expect("lock").take() {
                let _ = accepted.send(());
            }
            if let Some(go) = self.go.lock().await.take() {
                let _ = go.await;
            }
            answer
        })
    }
}

/// The gate's two ends, as the test holds them.
struct GateControl {
    accepted: oneshot::Receiver<()>,
    go: oneshot::Sender<()>,
}

/// An acknowledger on its own DynamoDB client (with `interceptor`, if any) whose senders, if
/// `gated`, stop after the provider's answer until the test lets them go on; and its metric
/// lines.
async fn acknowledger(
    stack: &Stack,
    interceptor: Option<LoseFirstClaimAnswer>,
    gated: bool,
) -> (Acknowledger, Option<GateControl>, MemorySink) {
    let sdk = local_sdk_config(&stack.dynamo.endpoint()).await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Some(interceptor) = interceptor {
        config = config.interceptor(interceptor);
    }
    let store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config.build()),
        stack.store.table(),
    );
    let clients = intake::providers::Clients::new(&sdk).expect("clients");
    let mut senders = intake::providers::senders(&stack.options.config, &clients);
    let mut control = None;
    if gated {
        let (accepted_tx, accepted) = oneshot::channel();
        let (go, go_rx) = oneshot::channel();
        let twilio = senders
            .iter()
            .position(|s| s.provider() == "twilio")
            .expect("the Twilio sender");
        senders[twilio] = Arc::new(Gate {
            inner: senders[twilio].clone(),
            accepted: Mutex::new(Some(accepted_tx)),
            go: tokio::sync::Mutex::new(Some(go_rx)),
        });
        control = Some(GateControl { accepted, go });
    }
    let metrics = MemorySink::default();
    let sink: intake::metrics::Sink = Arc::new(metrics.clone());
    let ack = Acknowledger::new(store, senders, stack.options.config.ack.clone()).with_metrics(sink);
    (ack, control, metrics)
}

/// The statuses the Twilio fake answered `customer` after the first (refused) ack of
/// [`pending_tickets`], once the stream has gone quiet.
async fn sends_after_reset(endpoints: &Endpoints, customer: &str) -> Vec<u16> {
    quiet_period().await;
    let all: Vec<u16> = endpoints
        .sent_to(customer)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(all.first(), Some(&400), "the refused first ack");
    all[1..].to_vec()
}

/// The `Outcome` and `Reason` of the acknowledger's metric lines.
fn outcomes(metrics: &MemorySink) -> Vec<(String, Option<String>)> {
    metrics
        .lines()
        .iter()
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).expect("EMF JSON");
            let text = |name: &str| doc[name].as_str().map(str::to_owned);
            (text("Outcome").unwrap_or_default(), text("Reason"))
        })
        .collect()
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_retried_by_the_sdk_and_sent_once() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let (customer, ticket) = pending_tickets(&stack, &endpoints, 1).await.remove(0);
    let loser = LoseFirstClaimAnswer::default();
    let (ack, _, _) = acknowledger(&stack, Some(loser.clone()), false).await;

    let outcome = ack.acknowledge(&ticket.id).await.expect("acknowledged");

    assert_eq!(
        loser.claims.load(Ordering::SeqCst),
        2,
        "the committed claim was sent again by the SDK"
    );
    assert_eq!(outcome, AckOutcome::Sent);
    assert_eq!(sends_after_reset(&endpoints, &customer).await, vec![201]);
    let stored = stored_ticket(&stack, &ticket.id).await;
    assert_eq!(stored.ack_status, AckStatus::Sent);
}

/// Runs `ack` on `ticket_id` while, once the provider has answered, DynamoDB Local is stopped
/// and started again `down_for` later; returns the acknowledger's result.
async fn ack_across_an_outage(
    stack: &mut Stack,
    ack: &Acknowledger,
    control: GateControl,
    ticket_id: &str,
    down_for: Duration,
) -> Result<AckOutcome, AckError> {
    let outage = async {
        control.accepted.await.expect("the provider was called");
        stack.dynamo.stop().await;
        let _ = control.go.send(());
        tokio::time::sleep(down_for).await;
        stack
            .dynamo
            .restart()
            .await
            .expect("DynamoDB Local restarts");
    };
    let (result, ()) = tokio::join!(ack.acknowledge(ticket_id), outage);
    result
}

#[tokio::test]
async fn dynamodb_down_once_the_provider_accepted_still_ends_sent_once() {
    let mut stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let (customer, ticket) = pending_tickets(&stack, &endpoints, 1).await.remove(0);
    let (ack, control, metrics) = acknowledger(&stack, None, true).await;

    let control = control.expect("gated");
    let result =
        ack_across_an_outage(&mut stack, &ack, control, &ticket.id, Duration::from_secs(3)).await;

    assert_eq!(result.expect("acknowledged"), AckOutcome::Sent);
    assert_eq!(
        stored_ticket(&stack, &ticket.id).await.ack_status,
        AckStatus::Sent
    );
    assert_eq!(outcomes(&metrics), vec![("sent".to_owned(), None)]);
    // Delivered again (the stack's poller re-read the stream after the restart; Lambda may
    // retry): nothing more is sent.
    let again = ack.acknowledge(&ticket.id).await.expect("acknowledged");
    assert_eq!(again, AckOutcome::AlreadyHandled);
    assert_eq!(sends_after_reset(&endpoints, &customer).await, vec![201]);
}

#[tokio::test]
async fn a_retryable_send_while_dynamodb_is_down_ends_pending_then_sent_once() {
    let mut stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let (customer, ticket) = pending_tickets(&stack, &endpoints, 1).await.remove(0);
    let (ack, control, _) = acknowledger(&stack, None, true).await;
    recorder::fail_next(&endpoints.recorder, 503, 1)
        .await
        .expect("recorder");

    let control = control.expect("gated");
    let result =
        ack_across_an_outage(&mut stack, &ack, control, &ticket.id, Duration::from_secs(3)).await;

    assert!(
        matches!(result, Err(AckError::RetryLater(_))),
        "{result:?}"
    );
    assert_eq!(
        stored_ticket(&stack, &ticket.id).await.ack_status,
        AckStatus::Pending
    );
    // The record retried (by Lambda, or the stack's poller re-reading the stream after the
    // restart): the ack goes out, once.
    let again = ack.acknowledge(&ticket.id).await.expect("acknowledged");
    assert!(
        matches!(again, AckOutcome::Sent | AckOutcome::AlreadyHandled),
        "{again:?}"
    );
    assert_eq!(
        stored_ticket(&stack, &ticket.id).await.ack_status,
        AckStatus::Sent
    );
    assert_eq!(
        sends_after_reset(&endpoints, &customer).await,
        vec![503, 201]
    );
}

#[tokio::test]
async fn an_outage_past_the_write_deadline_is_reported_unrecorded_and_never_resent() {
    let mut stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let (customer, ticket) = pending_tickets(&stack, &endpoints, 1).await.remove(0);
    let (ack, control, metrics) = acknowledger(&stack, None, true).await;
    let ack = ack.with_write_deadline(Duration::from_secs(2));

    let control = control.expect("gated");
    let result =
        ack_across_an_outage(&mut stack, &ack, control, &ticket.id, Duration::from_secs(4)).await;

    assert_eq!(
        result.expect("decided"),
        AckOutcome::Unrecorded("sent"),
        "sent, but not written within the deadline"
    );
    assert_eq!(
        outcomes(&metrics),
        vec![("unrecorded".to_owned(), Some("sent".to_owned()))]
    );
    // Left for the stale-claim sweeper: a redelivered record finds another attempt's claim
    // and sends nothing.
    assert_eq!(
        stored_ticket(&stack, &ticket.id).await.ack_status,
        AckStatus::Sending
    );
    let again = ack.acknowledge(&ticket.id).await.expect("acknowledged");
    assert_eq!(again, AckOutcome::AlreadyHandled);
    assert_eq!(sends_after_reset(&endpoints, &customer).await, vec![201]);
}
