//! Test harness: a local stack per test binary (or per test, where a test breaks things),
//! and the questions a user would ask of it: what was stored, what was sent.

pub mod templates;

use aws_sdk_dynamodb::types::AttributeValue;
use std::sync::OnceLock;
use std::time::Duration;

use intake::model::{Channel, Contact, StoredMessage, Ticket};
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
        }
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
