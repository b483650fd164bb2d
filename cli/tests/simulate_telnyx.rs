//! `intake simulate telnyx` as a developer uses it: a signed Telnyx webhook to a running
//! local stack, then the ticket and the ack through the recorder's Telnyx Messages API.

use intake_dev::stack::{Stack, StackOptions};

mod common;
use common::{acked_ticket, intake, json_lines};

#[tokio::test]
async fn simulate_telnyx_opens_a_ticket_acknowledged_through_telnyx() {
    let stack = Stack::start(StackOptions::ephemeral(None).expect("ports"))
        .await
        .expect("the local stack starts (run `npm ci` first)");
    let customer = "+6281299990071";
    let (ok, out) = intake(
        &stack,
        &[
            "simulate",
            "telnyx",
            "--from",
            customer,
            "--body",
            "Ini foto paketnya",
            "--media",
            "https://example.com/paket.jpg",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.starts_with("200 "), "{out}");

    let ticket = acked_ticket(&stack, customer).await;
    assert_eq!(ticket["provider"], "telnyx", "{ticket}");
    let reference = ticket["ref"].as_str().expect("ref");
    let (ok, out) = intake(&stack, &["tickets", "show", reference, "--json"]).await;
    assert!(ok, "{out}");
    let shown: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    let message = &shown["messages"][0];
    assert_eq!(message["body"], "Ini foto paketnya");
    assert_eq!(
        message["attachments"][0]["url"],
        "https://example.com/paket.jpg"
    );

    let (ok, out) = intake(&stack, &["outbox", "list", "--json"]).await;
    assert!(ok, "{out}");
    let sent: Vec<_> = json_lines(&out)
        .into_iter()
        .filter(|r| r["to"] == customer)
        .collect();
    assert_eq!(sent.len(), 1, "{out}");
    assert_eq!(sent[0]["provider"], "telnyx");
    assert!(sent[0]["body"].as_str().unwrap_or("").contains(reference));
}

/// Only Telnyx holds its private key: against a stack configured with another public key,
/// the CLI says so instead of sending a webhook that can only be refused.
#[tokio::test]
async fn simulate_telnyx_refuses_to_sign_for_a_key_it_does_not_hold() {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_intake"));
    // Nothing listens there: the refusal comes before any request.
    cmd.args([
        "simulate",
        "telnyx",
        "--body",
        "Halo",
        "--url",
        "http://127.0.0.1:9",
    ])
    .current_dir(std::env::temp_dir())
    // The RFC 8032 TEST 1 public key: not the local test key pair's.
    .env(
        "TELNYX_PUBLIC_KEY",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    );
    let (ok, out) = common::run(cmd).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("TELNYX_PUBLIC_KEY is not the local test key"),
        "{out}"
    );
}
