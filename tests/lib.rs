//! Test harness: a local stack per test binary (or per test, where a test breaks things),
//! and the questions a user would ask of it: what was stored, what was sent.

pub mod templates;

use aws_sdk_dynamodb::types::AttributeValue;
use std::sync::OnceLock;
use std::time::Duration;

use intake::metrics::MemorySink;
use intake::model::{AckStatus, Channel, Contact, StoredMessage, Ticket};
use intake::store::AckRecord;
use intake::store::Store;
use intake_dev::recorder::{self, Recorded};
use intake_dev::ses_local::{self, SentEmail};
use intake_dev::simulate::{self, SignedPost, TwilioSms};
use intake_dev::simulate_email::{self, MailPost};
use intake_dev::stack::{self, Stack, StackOptions, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN};

/// Our number in tests.
pub const OUR_NUMBER: &str = "+6221555000";

/// Addresses of a running stack, usable from any test's runtime.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Webhook base URL.
    pub url: String,
    /// Recorder base URL.
    pub recorder: String,
    /// DynamoDB Local endpoint.
    pub dynamodb: String,
    /// Table name.
    pub table: String,
    /// SES v2 emulator endpoint (email acks).
    pub ses: String,
    /// The EMF metric lines the stack's functions wrote (shared with the stack).
    pub metrics: MemorySink,
}

impl Endpoints {
    /// Of a stack.
    pub fn of(stack: &Stack) -> Endpoints {
        Endpoints {
            url: stack.url(),
            recorder: stack.recorder.url(),
            dynamodb: stack.dynamo.endpoint(),
            table: stack.store.table().to_owned(),
            ses: stack.ses.endpoint(),
            metrics: stack.metrics.clone(),
        }
    }

    /// Every metric line written so far, as text.
    pub fn metric_lines(&self) -> Vec<String> {
        self.metrics.lines()
    }

    /// The webhook metric lines (`Webhooks`), each checked against the EMF specification.
    pub fn webhook_metrics(&self) -> Vec<serde_json::Value> {
        self.metrics_with("Webhooks")
    }

    /// The ack metric lines (`Acks`), each checked against the EMF specification.
    pub fn ack_metrics(&self) -> Vec<serde_json::Value> {
        self.metrics_with("Acks")
    }

    fn metrics_with(&self, metric: &str) -> Vec<serde_json::Value> {
        self.metric_lines()
            .iter()
            .map(|line| emf(line))
            .filter(|v| v.get(metric).is_some())
            .collect()
    }

    /// A store client on this runtime.
    pub async fn store(&self) -> Store {
        let sdk = stack::local_sdk_config(&self.dynamodb).await;
        Store::from_sdk_config(&sdk, &self.table)
    }

    /// A signed Twilio webhook for `sms`.
    pub fn sign(&self, sms: &TwilioSms) -> SignedPost {
        simulate::sign_twilio(&self.url, TEST_AUTH_TOKEN, TEST_ACCOUNT_SID, sms)
    }

    /// Posts a signed webhook; returns status and body.
    pub async fn post(&self, post: &SignedPost) -> (u16, String) {
        simulate::post(&http(), post)
            .await
            .expect("stack reachable")
    }

    /// Sends `sms` signed; returns status and body.
    pub async fn send(&self, sms: &TwilioSms) -> (u16, String) {
        self.post(&self.sign(sms)).await
    }

    /// Everything the recorder received for `to`.
    pub async fn sent_to(&self, to: &str) -> Vec<Recorded> {
        recorder::fetch(&self.recorder)
            .await
            .expect("recorder reachable")
            .into_iter()
            .filter(|r| r.to.as_deref() == Some(to))
            .collect()
    }

    /// Posts a mail as its provider would; returns status and body.
    pub async fn post_mail(&self, post: &MailPost) -> (u16, String) {
        simulate_email::post(&http(), post)
            .await
            .expect("stack reachable")
    }

    /// Every email ack the SES emulator received for `to`.
    pub async fn emails_to(&self, to: &str) -> Vec<SentEmail> {
        ses_local::sent_emails(&self.ses)
            .await
            .expect("SES emulator reachable")
            .into_iter()
            .filter(|e| e.to.iter().any(|t| t == to))
            .collect()
    }

    /// The email contact item of an address.
    pub async fn email_contact(&self, address: &str) -> Option<Contact> {
        self.store()
            .await
            .contact(Channel::Email, address)
            .await
            .expect("get")
    }

    /// Tickets of one customer.
    pub async fn tickets_of(&self, contact: &str) -> Vec<Ticket> {
        self.store()
            .await
            .all_tickets()
            .await
            .expect("scan")
            .into_iter()
            .filter(|t| t.contact == contact)
            .collect()
    }

    /// Messages of a ticket.
    pub async fn messages(&self, ticket_id: &str) -> Vec<StoredMessage> {
        self.store().await.messages(ticket_id).await.expect("query")
    }

    /// The SMS contact item of a number.
    pub async fn contact(&self, number: &str) -> Option<Contact> {
        self.store()
            .await
            .contact(Channel::Sms, number)
            .await
            .expect("get")
    }

    /// The partition key of every item in the table.
    pub async fn all_keys(&self) -> Vec<String> {
        let store = self.store().await;
        let mut pages = store
            .client()
            .scan()
            .table_name(store.table())
            .consistent_read(true)
            .projection_expression("pk")
            .into_paginator()
            .items()
            .send();
        let mut keys = Vec::new();
        while let Some(item) = pages.next().await {
            if let Some(AttributeValue::S(pk)) = item.expect("scan").get("pk") {
                keys.push(pk.clone());
            }
        }
        keys
    }

    /// How many items the table holds (for "nothing was stored").
    pub async fn item_count(&self) -> usize {
        self.all_keys().await.len()
    }

    /// Whether any item mentions `value` in its partition key.
    pub async fn any_key_contains(&self, value: &str) -> bool {
        self.all_keys().await.iter().any(|pk| pk.contains(value))
    }

    /// Waits (bounded) until the ticket's ack is no longer pending or being sent.
    pub async fn settled_ticket(&self, contact: &str) -> Ticket {
        for _ in 0..200 {
            if let Some(t) = self.tickets_of(contact).await.into_iter().next()
                && !matches!(
                    t.ack_status,
                    intake::model::AckStatus::Pending | intake::model::AckStatus::Sending
                )
            {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the ack of {contact}'s ticket never settled");
    }

    /// The contact of `number` once the acknowledger has recorded an ack on it (the ticket
    /// shows `sent` a moment before the contact's record of it is written).
    pub async fn contact_after_ack(&self, number: &str) -> Contact {
        for _ in 0..200 {
            if let Some(c) = self.contact(number).await
                && !c.recent_acks.is_empty()
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no ack was ever recorded on {number}'s contact");
    }
}

/// A first SMS from a new customer, and its ticket once the ack has settled.
pub async fn new_customer_ticket(endpoints: &Endpoints) -> (String, Ticket) {
    let customer = new_number();
    let (code, body) = endpoints
        .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
        .await;
    assert_eq!(code, 200, "{body}");
    let ticket = endpoints.settled_ticket(&customer).await;
    (customer, ticket)
}

/// A ticket of `stack` as stored now.
pub async fn stored_ticket(stack: &Stack, ticket_id: &str) -> Ticket {
    stack
        .store
        .ticket(ticket_id)
        .await
        .expect("store")
        .expect("ticket")
}

/// A fresh customer address, so tests sharing a stack never meet.
pub fn new_address() -> String {
    format!(
        "cust{}@example.co.id",
        ulid::Ulid::new().random() % 1_000_000_000
    )
}

/// An HTTP client.
pub fn http() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    // No idle connections: each test has its own runtime, and a pooled connection outlives
    // the runtime that drove it.
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client")
        })
        .clone()
}

/// A fresh Indonesian mobile number, so tests sharing a stack never meet.
pub fn new_number() -> String {
    let digits = ulid::Ulid::new().random() % 100_000_000;
    format!("+62812{digits:08}")
}

/// One stack for the whole test binary, on its own runtime so it outlives each test's.
pub fn shared_stack() -> &'static Endpoints {
    static SHARED: OnceLock<Endpoints> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let stack = Stack::start(StackOptions::ephemeral(None).expect("ports"))
                    .await
                    .expect("the local stack starts (run `npm ci` first)");
                tx.send(Endpoints::of(&stack)).expect("test waits");
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("stack started")
    })
}

/// A stack of the calling test alone, with data in a fresh directory (it survives a
/// DynamoDB Local restart).
pub async fn own_stack() -> Stack {
    own_stack_with(|_| {}).await
}

/// [`own_stack`], with its options adjusted first (settings, clock).
pub async fn own_stack_with(adjust: impl FnOnce(&mut StackOptions)) -> Stack {
    let dir = std::env::temp_dir().join(format!("intake-test-{}", ulid::Ulid::new()));
    let mut options = StackOptions::ephemeral(Some(dir)).expect("ports");
    adjust(&mut options);
    Stack::start(options)
        .await
        .expect("the local stack starts (run `npm ci` first)")
}

/// The acknowledgement settings of the test fixture `fixtures/intake.toml`.
pub fn fixture_settings() -> intake::ack::AckSettings {
    intake::ack::AckSettings::from_toml(include_str!("fixtures/intake.toml"))
        .expect("fixture is valid")
}

/// A clock stopped at `rfc3339`.
pub fn stopped_clock(rfc3339: &'static str) -> intake::ack::Clock {
    let at: jiff::Timestamp = rfc3339.parse().expect("timestamp");
    std::sync::Arc::new(move || at)
}

/// Polls `check` until it is true (bounded), then gives a last chance to be false:
/// for "exactly one" assertions, waits a little longer so a late duplicate would show.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Lets the stream poller run a few rounds, so an ack that should not happen would have.
pub async fn quiet_period() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// The CloudWatch metric units (`MetricDatum.Unit`).
const CLOUDWATCH_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Parses one metric line and checks it against the EMF specification as CloudWatch Logs
/// applies it (a line it would reject would silently publish nothing): one JSON object
/// alone on its line, at most 256 KB; `_aws.Timestamp` in epoch milliseconds;
/// `CloudWatchMetrics` directives with a namespace, at least one dimension set of at most 30
/// keys, at most 100 metrics; every dimension a string member on the root (ASCII, not
/// blank, no control characters, at most 1024 characters), every metric a numeric member.
pub fn emf(line: &str) -> serde_json::Value {
    assert!(line.len() <= 256 * 1024, "too large: {line}");
    assert!(!line.contains('\n'), "one line: {line}");
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON object");
    let root = v.as_object().expect("a JSON object");
    let timestamp = v["_aws"]["Timestamp"].as_i64().expect("_aws.Timestamp");
    let now = jiff::Timestamp::now().as_millisecond();
    assert!(
        (now - timestamp).abs() < 3_600_000,
        "Timestamp in milliseconds: {line}"
    );
    let directives = v["_aws"]["CloudWatchMetrics"]
        .as_array()
        .expect("_aws.CloudWatchMetrics");
    assert!(!directives.is_empty(), "{line}");
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!(!namespace.is_empty() && namespace.len() <= 1024);
        let sets = directive["Dimensions"].as_array().expect("Dimensions");
        assert!(!sets.is_empty(), "at least one dimension set: {line}");
        for set in sets {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions: {line}");
            for key in set {
                let key = key.as_str().expect("dimension keys are strings");
                assert!(!key.is_empty() && key.len() <= 250);
                let value = root
                    .get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or_else(|| panic!("dimension {key} is a string member: {line}"));
                assert!(
                    !value.trim().is_empty()
                        && value.len() <= 1024
                        && value.bytes().all(|b| b.is_ascii() && !b.is_ascii_control()),
                    "dimension {key}={value:?} is valid: {line}"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(
                root.get(name).is_some_and(|v| v.is_number()),
                "metric {name} is a number: {line}"
            );
            if let Some(unit) = metric.get("Unit") {
                let unit = unit.as_str().expect("Unit is a string");
                assert!(CLOUDWATCH_UNITS.contains(&unit), "unit {unit}: {line}");
            }
        }
    }
    v
}

/// The dimension sets of a metric line's (only) directive.
pub fn dimension_sets(line: &serde_json::Value) -> serde_json::Value {
    line["_aws"]["CloudWatchMetrics"][0]["Dimensions"].clone()
}

/// Asserts that no metric line mentions any of `private` (bodies, numbers, addresses, ids).
pub fn assert_lines_private(lines: &[String], private: &[&str]) {
    assert!(!lines.is_empty());
    for line in lines {
        for value in private.iter().filter(|p| !p.is_empty()) {
            assert!(
                !line.contains(value),
                "{value:?} appears in a metric line: {line}"
            );
        }
    }
}

/// `count` customers whose first message's ack the provider refused for good, each ticket put
/// back to pending (an update, which the stream poller ignores as Lambda's filter does): tickets
/// a test can hand to the acknowledger itself, with the recorder's failures all its own.
pub async fn pending_tickets(
    stack: &Stack,
    endpoints: &Endpoints,
    count: usize,
) -> Vec<(String, Ticket)> {
    recorder::fail_next(&endpoints.recorder, 400, count)
        .await
        .expect("recorder");
    let mut tickets = Vec::new();
    for _ in 0..count {
        let (customer, ticket) = new_customer_ticket(endpoints).await;
        assert_eq!(ticket.ack_status, AckStatus::Failed);
        let reset = stack
            .store
            .transition_ack(
                &ticket.id,
                AckStatus::Failed,
                AckStatus::Pending,
                AckRecord::default(),
            )
            .await
            .expect("store");
        assert!(reset);
        tickets.push((customer, ticket));
    }
    quiet_period().await;
    tickets
}
