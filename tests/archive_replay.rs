//! The archive of verified deliveries, end to end: DynamoDB Local, moto's S3 through the
//! real `aws-sdk-s3`, the webhook server, and `intake replay` after the fix.

use intake::archive::{Archive, ArchivedDelivery};
use intake::model::Channel;
use intake::providers::{Clients, Provider};
use intake::replay::{ReplayInvocation, ReplayOutcome, ReplayReport};
use intake::{InboundMessage, WebhookError, WebhookRequest, WebhookService};
use intake_dev::moto_local::MotoLocal;
use intake_dev::replay::{self, ArchiveOptions, Filter};
use intake_dev::simulate::{TwilioSms, new_message_sid};
use intake_dev::stack::{Stack, local_sdk_config};
use intake_tests::{Endpoints, OUR_NUMBER, new_number, own_stack_with, quiet_period};
use jiff::Timestamp;

const BUCKET: &str = "intake-archive-test";

/// A stack archiving to a fresh moto (`all`: `ARCHIVE_ALL`), and a client of that archive.
async fn archiving_stack_with(all: bool) -> (Stack, MotoLocal, Archive) {
    let moto = MotoLocal::start()
        .await
        .expect("moto starts (make infra-deps)");
    let options = ArchiveOptions::new(BUCKET, &moto.endpoint(), all).expect("loopback");
    let archive_options = options.clone();
    let stack = own_stack_with(|o| o.archive = Some(options)).await;
    let sdk = local_sdk_config(&stack.dynamo.endpoint()).await;
    let archive = archive_options.open(&sdk).await.expect("archive bucket");
    (stack, moto, archive)
}

/// A stack archiving what it did not store, to a fresh moto.
async fn archiving_stack() -> (Stack, MotoLocal, Archive) {
    archiving_stack_with(false).await
}

/// The SMS service as the stack builds it, with `providers` instead of the configured ones.
fn sms_service(stack: &Stack, providers: Vec<Box<dyn Provider>>) -> WebhookService {
    WebhookService::with_providers(
        Channel::Sms,
        providers,
        &stack.options.config,
        stack.store.clone(),
    )
    .expect("service")
}

/// The configured Twilio provider of the stack (today's parser).
async fn twilio(stack: &Stack) -> Box<dyn Provider> {
    let sdk = local_sdk_config(&stack.dynamo.endpoint()).await;
    let clients = Clients::new(&sdk).expect("clients");
    intake::providers::inbound(Channel::Sms, &stack.options.config, &clients)
        .expect("providers")
        .into_iter()
        .find(|p| p.name() == "twilio")
        .expect("twilio is configured")
}

/// "The fix": Twilio's parser that also accepts a `MessageSid` with dashes (it drops them).
/// Verification is Twilio's own, on the bytes as they were signed.
struct FixedTwilio(Box<dyn Provider>);

impl Provider for FixedTwilio {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn channel(&self) -> Channel {
        self.0.channel()
    }
    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        self.0.verify(req, now)
    }
    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let mut fixed = req.clone();
        fixed.body = String::from_utf8_lossy(&req.body)
            .replace("MessageSid=SM-", "MessageSid=SM")
            .into();
        self.0.parse(&fixed, now)
    }
}

/// A Twilio SMS whose `MessageSid` today's parser refuses (a dash in it).
fn unparsable(customer: &str) -> TwilioSms {
    let mut sms = TwilioSms::new(customer, OUR_NUMBER, "Pesanan saya belum sampai");
    sms.message_sid = Some(new_message_sid().replacen("SM", "SM-", 1));
    sms
}

fn archived_metrics(endpoints: &Endpoints) -> Vec<serde_json::Value> {
    endpoints
        .metric_lines()
        .iter()
        .map(|l| intake_tests::emf(l))
        .filter(|v| v.get("ArchivedDeliveries").is_some())
        .collect()
}

#[tokio::test]
async fn a_verified_delivery_that_fails_parsing_is_archived_and_replayed_once_after_the_fix() {
    let (stack, _moto, archive) = archiving_stack().await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    let post = endpoints.sign(&unparsable(&customer));

    let (status, body) = endpoints.post(&post).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("malformed_body"), "{body}");
    assert!(endpoints.tickets_of(&customer).await.is_empty());

    // What the operator lists: one delivery, its provider, code and exact bytes.
    let filter = Filter {
        since: Some(Timestamp::now() - jiff::SignedDuration::from_hours(1)),
        provider: Some("twilio".into()),
        error: Some("malformed_body".into()),
    };
    let listed = replay::list(&archive, &filter).await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let delivery: &ArchivedDelivery = &listed[0];
    assert_eq!(delivery.channel, Channel::Sms);
    assert_eq!(delivery.status, 400);
    assert_eq!(delivery.code.as_deref(), Some("malformed_body"));
    assert_eq!(
        delivery.request().expect("request").body,
        post.body.as_bytes()
    );
    assert!(delivery.key().contains("/sms/twilio/"));
    let other = Filter {
        error: Some("store_unavailable".into()),
        ..Filter::default()
    };
    assert!(
        replay::list(&archive, &other)
            .await
            .expect("list")
            .is_empty()
    );
    let metrics = archived_metrics(&endpoints);
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0]["Code"], "malformed_body");
    assert_eq!(metrics[0]["Provider"], "twilio");
    // What the alarm watches: a delivery that was not stored.
    assert_eq!(metrics[0]["Kept"], "failure");

    // Replayed through today's parser, it still fails, and says why.
    let today = [sms_service(&stack, vec![twilio(&stack).await])];
    let report = replay::run(&today, &listed).await;
    assert_eq!(report[0].outcome, ReplayOutcome::Failing);
    assert_eq!(report[0].status, Some(400));
    assert_eq!(report[0].code.as_deref(), Some("malformed_body"));
    // A failing replay is not archived again.
    assert_eq!(archive.list(None).await.expect("list").len(), 1);

    // After the fix: stored once, then a duplicate.
    let fixed = [sms_service(
        &stack,
        vec![Box::new(FixedTwilio(twilio(&stack).await))],
    )];
    let first = replay::run(&fixed, &listed).await;
    assert_eq!(first[0].outcome, ReplayOutcome::Stored);
    let by_id = archive.get(&delivery.id).await.expect("get by id");
    let second = replay::run(&fixed, &[by_id]).await;
    assert_eq!(second[0].outcome, ReplayOutcome::Duplicate);

    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(endpoints.tickets_of(&customer).await.len(), 1);
    assert_eq!(endpoints.messages(&ticket.id).await.len(), 1);
    quiet_period().await;
    assert_eq!(
        endpoints.sent_to(&customer).await.len(),
        1,
        "ack {:?} ({:?})",
        ticket.ack_status,
        ticket.ack_reason
    );
}

#[tokio::test]
async fn dynamodb_down_archives_the_503_and_replay_plus_the_retry_store_one_message() {
    let (mut stack, _moto, archive) = archiving_stack().await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    let post = endpoints.sign(&TwilioSms::new(&customer, OUR_NUMBER, "Halo, ada orang?"));

    stack.dynamo.stop().await;
    let (status, body) = endpoints.post(&post).await;
    assert_eq!(status, 503, "{body}");
    let listed = archive.list(None).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, 503);
    assert_eq!(listed[0].code.as_deref(), Some("store_unavailable"));

    stack
        .dynamo
        .restart()
        .await
        .expect("DynamoDB Local restarts");
    let live = [sms_service(&stack, vec![twilio(&stack).await])];
    let report = replay::run(&live, &listed).await;
    assert_eq!(report[0].outcome, ReplayOutcome::Stored);
    // Twilio's own retry of the same request: accepted, and nothing new.
    assert_eq!(endpoints.post(&post).await.0, 200);
    assert_eq!(
        replay::run(&live, &listed).await[0].outcome,
        ReplayOutcome::Duplicate
    );

    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(endpoints.tickets_of(&customer).await.len(), 1);
    assert_eq!(endpoints.messages(&ticket.id).await.len(), 1);
    quiet_period().await;
    assert_eq!(endpoints.sent_to(&customer).await.len(), 1);
    // Only the failure was archived (ARCHIVE_ALL is off).
    assert_eq!(archive.list(None).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_forged_request_is_never_archived_even_when_its_body_fails_parsing() {
    let (stack, _moto, archive) = archiving_stack().await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    for sms in [
        unparsable(&customer),
        TwilioSms::new(&customer, OUR_NUMBER, "Halo"),
    ] {
        let mut forged = endpoints.sign(&sms);
        forged.signature = "bm90IGEgc2lnbmF0dXJl".into();
        let (status, body) = endpoints.post(&forged).await;
        assert_eq!(status, 403, "{body}");
    }
    // A broken body that Twilio's form reader refuses before any signature is checked.
    let mut garbage = endpoints.sign(&TwilioSms::new(&customer, OUR_NUMBER, "x"));
    garbage.body = "MessageSid=SM-%ZZ&&=".into();
    let (status, _) = endpoints.post(&garbage).await;
    assert!(status == 400 || status == 403, "{status}");

    assert!(archive.list(None).await.expect("list").is_empty());
    assert!(archived_metrics(&endpoints).is_empty());
    assert!(endpoints.tickets_of(&customer).await.is_empty());
}

#[tokio::test]
async fn an_archive_that_cannot_be_written_changes_no_answer_and_is_counted() {
    let (stack, mut moto, _archive) = archiving_stack().await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    moto.stop().await;

    let (status, body) = endpoints
        .post(&endpoints.sign(&unparsable(&customer)))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("malformed_body"), "{body}");
    let (status, _) = endpoints
        .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
        .await;
    assert_eq!(status, 200);

    let failures: Vec<serde_json::Value> = endpoints
        .metric_lines()
        .iter()
        .map(|l| intake_tests::emf(l))
        .filter(|v| v.get("ArchiveWriteFailures").is_some())
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["Code"], "malformed_body");
    assert!(archived_metrics(&endpoints).is_empty());
}

#[tokio::test]
async fn archive_all_keeps_stored_deliveries_once_and_not_their_duplicates() {
    let (stack, _moto, archive) = archiving_stack_with(true).await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    let post = endpoints.sign(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"));

    assert_eq!(endpoints.post(&post).await.0, 200);
    assert_eq!(endpoints.post(&post).await.0, 200);
    let listed = archive.list(None).await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].status, 200);
    assert_eq!(listed[0].code, None);
    let metrics = archived_metrics(&endpoints);
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0]["Code"], "stored");
    // Replaying a stored delivery is a duplicate.
    let live = [sms_service(&stack, vec![twilio(&stack).await])];
    assert_eq!(
        replay::run(&live, &listed).await[0].outcome,
        ReplayOutcome::Duplicate
    );
}

/// The deployed path of `intake replay run --stack`: the function is invoked with the exact
/// payload the CLI sends, tells it from an HTTP event, reads the object from its own archive
/// by key and replays it (stored once, then a duplicate). A key of any other form, or a
/// function without an archive, is refused without reading anything.
#[tokio::test]
async fn a_deployed_function_replays_the_archived_delivery_the_cli_names() {
    let (stack, _moto, archive) = archiving_stack().await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    let (status, _) = endpoints
        .post(&endpoints.sign(&unparsable(&customer)))
        .await;
    assert_eq!(status, 400);
    let delivery = archive.list(None).await.expect("list").remove(0);

    // The CLI's payload, as the Lambda runtime hands it to the function.
    let payload = serde_json::to_vec(&ReplayInvocation::of(&delivery)).expect("payload");
    let intake::lambda::Invocation::Replay(invocation) =
        serde_json::from_slice(&payload).expect("an invocation")
    else {
        panic!("the CLI's payload was read as an HTTP event");
    };
    let fixed = sms_service(&stack, vec![Box::new(FixedTwilio(twilio(&stack).await))]);
    let answer = |report: ReplayReport| serde_json::to_value(report).expect("report");

    let first = intake::replay::invoked(&fixed, Some(&archive), &invocation).await;
    assert_eq!(
        answer(first),
        serde_json::json!({"id": delivery.id, "provider": "twilio", "outcome": "stored"})
    );
    let again = intake::replay::invoked(&fixed, Some(&archive), &invocation).await;
    assert_eq!(again.outcome, ReplayOutcome::Duplicate);
    assert_eq!(endpoints.tickets_of(&customer).await.len(), 1);

    let mut elsewhere = invocation.clone();
    elsewhere.replay.key = "inbound/mail-of-someone-else".into();
    let refused = intake::replay::invoked(&fixed, Some(&archive), &elsewhere).await;
    assert_eq!(refused.code.as_deref(), Some("invalid_archive_key"));
    let mut missing = invocation.clone();
    missing.replay.key = missing
        .replay
        .key
        .replace(&delivery.id, "01JDAB0C1D2E3F4G5H6J7K8M9N");
    let gone = intake::replay::invoked(&fixed, Some(&archive), &missing).await;
    assert_eq!(gone.code.as_deref(), Some("archive_unreadable"));
    let off = intake::replay::invoked(&fixed, None, &invocation).await;
    assert_eq!(off.code.as_deref(), Some("archive_off"));
    // Another channel's function does not replay an SMS delivery.
    let email = WebhookService::from_config(
        Channel::Email,
        &stack.options.config,
        stack.store.clone(),
        &Clients::new(&local_sdk_config(&stack.dynamo.endpoint()).await).expect("clients"),
    )
    .expect("email service");
    let wrong = intake::replay::invoked(&email, Some(&archive), &invocation).await;
    assert_eq!(wrong.code.as_deref(), Some("unknown_route"));
}

/// Every channel's function archives what it could not store, and replays it when invoked:
/// a Mailgun mail and a Telegram message that came while DynamoDB was down are stored once
/// each by their own channel's function (the email and social webhooks' `s3:PutObject` and
/// `s3:GetObject`, which the permission test holds to their grants).
#[tokio::test]
async fn each_channel_archives_what_it_could_not_store_and_its_function_replays_it() {
    use intake_dev::simulate::{self, SocialMessage};
    use intake_dev::simulate_email::{self, CustomerMail};
    use intake_dev::stack::{TEST_MAILGUN_SIGNING_KEY, TEST_TELEGRAM_SECRET};

    let (mut stack, _moto, archive) = archiving_stack().await;
    let endpoints = Endpoints::of(&stack);
    let sender = format!("pelanggan.{}@example.com", ulid::Ulid::new()).to_lowercase();
    let mail = CustomerMail::new(&sender, "halo@tokoku.id", "Pesanan", "Belum sampai");
    let chat = (100_000_000 + ulid::Ulid::new().random() % 900_000_000).to_string();

    stack.dynamo.stop().await;
    let (status, _) = endpoints
        .post_mail(&simulate_email::mailgun(
            &endpoints.url,
            TEST_MAILGUN_SIGNING_KEY,
            &mail,
        ))
        .await;
    assert_eq!(status, 503);
    let telegram = simulate::sign_telegram(
        &endpoints.url,
        TEST_TELEGRAM_SECRET,
        simulate::telegram_payload(
            (ulid::Ulid::new().random() % 1_000_000_000) as i64,
            &SocialMessage::new(&chat, "bot", "Halo"),
        ),
    );
    let (status, _) = simulate::post_json(&intake_tests::http(), &telegram)
        .await
        .expect("reachable");
    assert_eq!(status, 503);
    stack
        .dynamo
        .restart()
        .await
        .expect("DynamoDB Local restarts");

    let archived = archive.list(None).await.expect("list");
    let mut channels: Vec<Channel> = archived.iter().map(|d| d.channel).collect();
    channels.sort_by_key(|c| c.as_str());
    assert_eq!(channels, [Channel::Email, Channel::Social], "{archived:?}");
    let clients = Clients::new(&local_sdk_config(&stack.dynamo.endpoint()).await).expect("clients");
    for delivery in &archived {
        let service = WebhookService::from_config(
            delivery.channel,
            &stack.options.config,
            stack.store.clone(),
            &clients,
        )
        .expect("service");
        let report =
            intake::replay::invoked(&service, Some(&archive), &ReplayInvocation::of(delivery))
                .await;
        assert_eq!(report.outcome, ReplayOutcome::Stored, "{report:?}");
    }
    assert_eq!(endpoints.tickets_of(&sender).await.len(), 1);
    assert_eq!(
        endpoints
            .tickets_of(&format!("telegram:{chat}"))
            .await
            .len(),
        1
    );
}
