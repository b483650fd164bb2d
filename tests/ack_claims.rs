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

/// An interceptor that turns the answers to the first `lose` claims (`UpdateItem` setting
/// `ack_claim`) into HTTP 500 after DynamoDB has applied them, as a response lost on the way
/// back would: the SDK retries the same request (3 attempts in all).
#[derive(Debug, Default, Clone)]
struct LoseFirstClaimAnswer {
    /// How many claim answers to lose.
    lose: usize,
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
            let early = self.claims.fetch_add(1, Ordering::SeqCst) < self.lose;
            *self.losing.lock().expect("lock") = early;
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
            assert_eq!(
                context.response().status().as_u16(),
                200,
                "the claim committed"
            );
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
    let ack =
        Acknowledger::new(store, senders, stack.options.config.ack.clone()).with_metrics(sink);
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
    let loser = LoseFirstClaimAnswer {
        lose: 1,
        ..Default::default()
    };
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

#[tokio::test]
async fn a_claim_call_that_failed_after_committing_is_released_and_sent_on_retry() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let (customer, ticket) = pending_tickets(&stack, &endpoints, 1).await.remove(0);
    // Every attempt of the first claim call commits (the same claim) and loses its answer.
    let loser = LoseFirstClaimAnswer {
        lose: 3,
        ..Default::default()
    };
    let (ack, _, _) = acknowledger(&stack, Some(loser.clone()), false).await;

    let result = ack.acknowledge(&ticket.id).await;
    assert!(matches!(result, Err(AckError::Store(_))), "{result:?}");
    assert_eq!(loser.claims.load(Ordering::SeqCst), 3);
    assert_eq!(
        stored_ticket(&stack, &ticket.id).await.ack_status,
        AckStatus::Pending,
        "the committed claim is released"
    );
    // The record retried: claimed anew, sent once.
    let again = ack.acknowledge(&ticket.id).await.expect("acknowledged");
    assert_eq!(again, AckOutcome::Sent);
    assert_eq!(sends_after_reset(&endpoints, &customer).await, vec![201]);
}

/// A pending ticket acknowledged by a gated acknowledger while, once the provider has
/// answered, DynamoDB Local is stopped and started again `down_for` later.
struct Outage {
    stack: Stack,
    endpoints: Endpoints,
    customer: String,
    ticket_id: String,
    ack: Acknowledger,
    metrics: MemorySink,
    /// What the acknowledger returned.
    result: Result<AckOutcome, AckError>,
}

impl Outage {
    /// The outage, the provider answering 503 first if `provider_fails`, the acknowledger
    /// giving its write-back `write_deadline` if set.
    async fn run(
        provider_fails: bool,
        write_deadline: Option<Duration>,
        down_for: Duration,
    ) -> Outage {
        let mut stack = own_stack().await;
        let endpoints = Endpoints::of(&stack);
        let (customer, ticket) = pending_tickets(&stack, &endpoints, 1).await.remove(0);
        let (mut ack, control, metrics) = acknowledger(&stack, None, true).await;
        if let Some(deadline) = write_deadline {
            ack = ack.with_write_deadline(deadline);
        }
        if provider_fails {
            recorder::fail_next(&endpoints.recorder, 503, 1)
                .await
                .expect("recorder");
        }
        let control = control.expect("gated");
        let dynamo = &mut stack.dynamo;
        let outage = async {
            control.accepted.await.expect("the provider was called");
            dynamo.stop().await;
            let _ = control.go.send(());
            tokio::time::sleep(down_for).await;
            dynamo.restart().await.expect("DynamoDB Local restarts");
        };
        let (result, ()) = tokio::join!(ack.acknowledge(&ticket.id), outage);
        Outage {
            stack,
            endpoints,
            customer,
            ticket_id: ticket.id,
            ack,
            metrics,
            result,
        }
    }

    /// The ticket's ack status as stored now.
    async fn status(&self) -> AckStatus {
        stored_ticket(&self.stack, &self.ticket_id).await.ack_status
    }

    /// The record delivered again (Lambda's retry; the stack's own poller also re-reads the
    /// stream after the restart); then the statuses the provider answered since the reset.
    async fn redelivered(&self) -> (AckOutcome, Vec<u16>) {
        let again = self.ack.acknowledge(&self.ticket_id).await.expect("acked");
        (
            again,
            sends_after_reset(&self.endpoints, &self.customer).await,
        )
    }
}

#[tokio::test]
async fn dynamodb_down_once_the_provider_accepted_still_ends_sent_once() {
    let outage = Outage::run(false, None, Duration::from_secs(3)).await;

    assert_eq!(outage.result.as_ref().ok(), Some(&AckOutcome::Sent));
    assert_eq!(outage.status().await, AckStatus::Sent);
    assert_eq!(outcomes(&outage.metrics), vec![("sent".to_owned(), None)]);
    let (again, sends) = outage.redelivered().await;
    assert_eq!(again, AckOutcome::AlreadyHandled);
    assert_eq!(sends, vec![201]);
}

#[tokio::test]
async fn a_retryable_send_while_dynamodb_is_down_ends_pending_then_sent_once() {
    let outage = Outage::run(true, None, Duration::from_secs(3)).await;

    let result = &outage.result;
    assert!(matches!(result, Err(AckError::RetryLater(_))), "{result:?}");
    assert_eq!(outage.status().await, AckStatus::Pending);
    // Whichever delivery comes first (this one, or the stack's poller) sends it, once.
    let (again, sends) = outage.redelivered().await;
    assert!(
        matches!(again, AckOutcome::Sent | AckOutcome::AlreadyHandled),
        "{again:?}"
    );
    assert_eq!(outage.status().await, AckStatus::Sent);
    assert_eq!(sends, vec![503, 201]);
}

#[tokio::test]
async fn an_outage_past_the_write_deadline_is_reported_unrecorded_and_never_resent() {
    let outage = Outage::run(false, Some(Duration::from_secs(2)), Duration::from_secs(4)).await;

    // Sent, but not written within the deadline.
    assert_eq!(
        outage.result.as_ref().ok(),
        Some(&AckOutcome::Unrecorded("sent"))
    );
    assert_eq!(
        outcomes(&outage.metrics),
        vec![("unrecorded".to_owned(), Some("sent".to_owned()))]
    );
    // Left for the stale-claim sweeper: a redelivered record finds another attempt's claim
    // and sends nothing.
    assert_eq!(outage.status().await, AckStatus::Sending);
    let (again, sends) = outage.redelivered().await;
    assert_eq!(again, AckOutcome::AlreadyHandled);
    assert_eq!(sends, vec![201]);
}
