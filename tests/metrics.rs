//! CloudWatch metrics (EMF) end to end: every webhook the stack answers writes exactly one
//! metric line, every ack decision one more, with the dimensions the alarms in `infra/`
//! read, and nothing a customer wrote or is known by. Each test has its own stack: lines
//! carry no ticket id or address, so tests sharing a stack could not tell theirs apart.

use intake::model::AckStatus;
use intake_dev::recorder;
use intake_dev::simulate::{self, JsonPost, MetaApp, SocialMessage, TwilioSms};
use intake_dev::simulate_email::{self, CustomerMail};
use intake_dev::stack::Stack;
use intake_dev::stack::{TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_BASIC_AUTH, TEST_META_APP_SECRET};
use intake_tests::{
    Endpoints, OUR_NUMBER, assert_lines_private, dimension_sets, eventually, http, new_address,
    new_number, own_stack, quiet_period,
};
use serde_json::{Value, json};

const BODY: &str = "Halo, paket saya belum sampai";

/// Waits until `count` ack lines were written, then a little longer, so a late extra line
/// would show; returns them.
async fn ack_lines(endpoints: &Endpoints, count: usize) -> Vec<Value> {
    eventually(&format!("{count} ack line(s)"), || {
        let n = endpoints.ack_metrics().len();
        async move { n >= count }
    })
    .await;
    quiet_period().await;
    let lines = endpoints.ack_metrics();
    assert_eq!(lines.len(), count, "{lines:#?}");
    lines
}

/// A stack of the calling test alone (dropped with the first value) and its endpoints.
async fn stack() -> (Stack, Endpoints) {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    (stack, endpoints)
}

/// Sends `body` from `customer` to our number, signed as Twilio would, and checks the 200.
async fn sms(endpoints: &Endpoints, customer: &str, body: &str) {
    let (status, answer) = endpoints
        .send(&TwilioSms::new(customer, OUR_NUMBER, body))
        .await;
    assert_eq!(status, 200, "{answer}");
}

/// Tells the Twilio fake to answer the next send with `status`, then a new customer writes;
/// returns the customer once the ticket's ack settled as `expected`.
async fn first_message_against(endpoints: &Endpoints, status: u16, expected: AckStatus) -> String {
    recorder::fail_next(&endpoints.recorder, status, 1)
        .await
        .expect("recorder");
    let customer = new_number();
    sms(endpoints, &customer, BODY).await;
    assert_eq!(
        endpoints.settled_ticket(&customer).await.ack_status,
        expected
    );
    customer
}

/// Posts a JSON webhook; returns the status.
async fn post_json(post: &JsonPost) -> u16 {
    simulate::post_json(&http(), post)
        .await
        .expect("stack reachable")
        .0
}

/// The messages a webhook line says its request carried, and the tickets it opened.
fn counts(line: &Value) -> (u64, u64) {
    (
        line["Messages"].as_u64().expect("Messages"),
        line["NewTickets"].as_u64().expect("NewTickets"),
    )
}

/// Checks a line's namespace, its dimension members, its count metric (always 1), and its
/// dimension sets: `base`, plus `[Outcome, <name>]` when the `optional` dimension has a value
/// (and no such member when it has none).
fn assert_line(
    line: &Value,
    count: &str,
    dimensions: &[(&str, &str)],
    base: Value,
    optional: (&str, Option<&str>),
) {
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Intake");
    for (name, value) in dimensions {
        assert_eq!(line[*name], *value, "{name}: {line}");
    }
    assert_eq!(line[count], 1, "{line}");
    let mut sets = base.as_array().cloned().unwrap_or_default();
    match optional {
        (name, Some(value)) => {
            assert_eq!(line[name], value, "{line}");
            sets.push(json!(["Outcome", name]));
        }
        (name, None) => assert!(line.get(name).is_none(), "{line}"),
    }
    assert_eq!(dimension_sets(line), Value::Array(sets), "{line}");
}

fn assert_webhook(line: &Value, channel: &str, provider: &str, outcome: &str, code: Option<&str>) {
    assert_line(
        line,
        "Webhooks",
        &[
            ("Channel", channel),
            ("Provider", provider),
            ("Outcome", outcome),
        ],
        json!([["Channel", "Provider", "Outcome"], ["Outcome"]]),
        ("Code", code),
    );
    assert!(line["WebhookLatency"].as_f64().is_some_and(|ms| ms >= 0.0));
}

fn assert_ack(line: &Value, channel: &str, provider: &str, outcome: &str, reason: Option<&str>) {
    assert_line(
        line,
        "Acks",
        &[
            ("Channel", channel),
            ("Provider", provider),
            ("Outcome", outcome),
        ],
        json!([["Channel", "Outcome"], ["Outcome"]]),
        ("Reason", reason),
    );
    if outcome == "sent" {
        let delay = line["AckDelay"].as_f64().expect("a sent ack has its delay");
        // From the customer's message to the provider's answer: not negative, and in a
        // local stack well under the test's own timeouts.
        assert!((0.0..60_000.0).contains(&delay), "{line}");
    } else {
        assert!(line.get("AckDelay").is_none(), "{line}");
    }
}

#[tokio::test]
async fn an_sms_webhook_its_retry_a_forgery_and_the_ack_each_write_one_line() {
    let (_stack, endpoints) = stack().await;
    let customer = new_number();
    let post = endpoints.sign(&TwilioSms::new(&customer, OUR_NUMBER, BODY));

    assert_eq!(endpoints.post(&post).await.0, 200);
    let lines = endpoints.webhook_metrics();
    assert_eq!(lines.len(), 1, "exactly one line per webhook: {lines:#?}");
    assert_webhook(&lines[0], "sms", "twilio", "stored", None);
    assert_eq!(counts(&lines[0]), (1, 1));

    // Twilio retries the same webhook: stored once, and the line says so.
    assert_eq!(endpoints.post(&post).await.0, 200);
    let lines = endpoints.webhook_metrics();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_webhook(&lines[1], "sms", "twilio", "duplicate", None);
    assert_eq!(counts(&lines[1]), (1, 0));

    // Someone without the auth token.
    let forged = simulate::sign_twilio(
        &endpoints.url,
        "not-the-auth-token",
        TEST_ACCOUNT_SID,
        &TwilioSms::new(&customer, OUR_NUMBER, BODY),
    );
    assert_eq!(endpoints.post(&forged).await.0, 403);
    let lines = endpoints.webhook_metrics();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_webhook(&lines[2], "sms", "twilio", "refused", Some("bad_signature"));
    assert_eq!(counts(&lines[2]), (0, 0));

    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    let acks = ack_lines(&endpoints, 1).await;
    assert_ack(&acks[0], "sms", "twilio", "sent", None);

    let digits = customer.trim_start_matches('+');
    assert_lines_private(
        &endpoints.metric_lines(),
        &[
            digits,
            BODY,
            "Halo",
            OUR_NUMBER.trim_start_matches('+'),
            &ticket.id,
            &ticket.reference,
            TEST_AUTH_TOKEN,
            TEST_ACCOUNT_SID,
        ],
    );
}

#[tokio::test]
async fn a_stop_is_accepted_and_the_next_ticket_is_skipped_with_its_reason() {
    let (_stack, endpoints) = stack().await;
    let customer = new_number();

    sms(&endpoints, &customer, "STOP").await;
    let lines = endpoints.webhook_metrics();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    // Verified, one message carried, nothing stored: the contact was opted out.
    assert_webhook(&lines[0], "sms", "twilio", "accepted", None);
    assert_eq!(counts(&lines[0]), (1, 0));

    sms(&endpoints, &customer, BODY).await;
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    let acks = ack_lines(&endpoints, 1).await;
    assert_ack(&acks[0], "sms", "twilio", "skipped", Some("opted_out"));
    assert!(endpoints.sent_to(&customer).await.is_empty());
    assert_lines_private(
        &endpoints.metric_lines(),
        &[customer.trim_start_matches('+'), BODY, &ticket.id],
    );
}

#[tokio::test]
async fn provider_rejections_and_outages_are_failed_and_retry_lines() {
    let (_stack, endpoints) = stack().await;

    // A permanent rejection: Twilio's 400 with its error code 21211.
    let rejected = first_message_against(&endpoints, 400, AckStatus::Failed).await;
    let acks = ack_lines(&endpoints, 1).await;
    assert_ack(&acks[0], "sms", "twilio", "failed", Some("21211"));

    // A temporary outage: the record goes back to the stream, then the ack is sent.
    let delayed = first_message_against(&endpoints, 503, AckStatus::Sent).await;
    let acks = ack_lines(&endpoints, 3).await;
    assert_ack(
        &acks[1],
        "sms",
        "twilio",
        "retry",
        Some("provider_unavailable"),
    );
    assert_ack(&acks[2], "sms", "twilio", "sent", None);
    assert_eq!(
        endpoints
            .sent_to(&delayed)
            .await
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![503, 201]
    );
    assert_lines_private(
        &endpoints.metric_lines(),
        &[
            rejected.trim_start_matches('+'),
            delayed.trim_start_matches('+'),
            BODY,
        ],
    );
}

#[tokio::test]
async fn email_and_social_webhooks_and_acks_write_their_channel_lines() {
    let (_stack, endpoints) = stack().await;

    // Email through Postmark, answered through SES.
    let address = new_address();
    let mail_body = "Selamat pagi, pesanan saya INV-2291 belum sampai.";
    let mail = CustomerMail::new(
        &address,
        "halo@tokoku.id",
        "Pesanan belum sampai",
        mail_body,
    );
    let post = simulate_email::postmark(&endpoints.url, TEST_BASIC_AUTH, &mail);
    let (status, answer) = endpoints.post_mail(&post).await;
    assert_eq!(status, 200, "{answer}");
    let email_ticket = endpoints.settled_ticket(&address).await;
    assert_eq!(email_ticket.ack_status, AckStatus::Sent);
    let acks = ack_lines(&endpoints, 1).await;
    assert_ack(&acks[0], "email", "ses", "sent", None);

    // Messenger through Meta, answered through the Graph API.
    let psid = format!("PSID{}", ulid::Ulid::new().random() % 1_000_000_000_000);
    let text = "Apakah toko buka hari Minggu?";
    let payload = simulate::meta_payload(
        MetaApp::Messenger,
        &[SocialMessage::new(&psid, "100000000000001", text)],
    );
    let signed = simulate::sign_meta(&endpoints.url, TEST_META_APP_SECRET, payload.clone());
    assert_eq!(post_json(&signed).await, 200);
    let social_ticket = endpoints.settled_ticket(&format!("messenger:{psid}")).await;
    assert_eq!(social_ticket.ack_status, AckStatus::Sent);
    let acks = ack_lines(&endpoints, 2).await;
    assert_ack(&acks[1], "social", "meta", "sent", None);

    // The same body without its signature, and a provider that is not served.
    let unsigned = JsonPost {
        headers: Vec::new(),
        ..signed.clone()
    };
    assert_eq!(post_json(&unsigned).await, 403);
    let unknown = JsonPost {
        url: format!("{}/social/nosuchprovider", endpoints.url),
        ..signed
    };
    assert_eq!(post_json(&unknown).await, 404);

    let lines = endpoints.webhook_metrics();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_webhook(&lines[0], "email", "postmark", "stored", None);
    assert_webhook(&lines[1], "social", "meta", "stored", None);
    assert_webhook(
        &lines[2],
        "social",
        "meta",
        "refused",
        Some("missing_signature"),
    );
    assert_webhook(
        &lines[3],
        "social",
        "unknown",
        "refused",
        Some("unknown_route"),
    );

    assert_lines_private(
        &endpoints.metric_lines(),
        &[
            &address,
            "@",
            mail_body,
            "INV-2291",
            &psid,
            text,
            "100000000000001",
            &email_ticket.reference,
            &social_ticket.reference,
            TEST_BASIC_AUTH,
        ],
    );
}

#[tokio::test]
async fn a_store_outage_is_a_failed_webhook_line() {
    let (mut stack, endpoints) = stack().await;
    let customer = new_number();
    let post = endpoints.sign(&TwilioSms::new(&customer, OUR_NUMBER, BODY));
    stack.dynamo.stop().await;
    assert_eq!(endpoints.post(&post).await.0, 503);
    let lines = endpoints.webhook_metrics();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_webhook(
        &lines[0],
        "sms",
        "twilio",
        "failed",
        Some("store_unavailable"),
    );
    assert_eq!(counts(&lines[0]), (0, 0));
    assert_lines_private(
        &endpoints.metric_lines(),
        &[customer.trim_start_matches('+'), BODY],
    );
}
