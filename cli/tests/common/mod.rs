//! Running the `intake` binary against a test stack, shared by the CLI's test files.
// Each test file uses a part of it.
#![allow(dead_code)]

use std::time::Duration;
use tokio::process::Command;

use intake_dev::stack::{
    Stack, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_BIRD_SIGNING_KEY, TEST_LINE_CHANNEL_SECRET,
    TEST_MAILGUN_SIGNING_KEY, TEST_MESSAGEBIRD_SIGNING_KEY, TEST_META_APP_SECRET,
    TEST_META_VERIFY_TOKEN, TEST_PLIVO_AUTH_TOKEN, TEST_TELEGRAM_SECRET,
};

/// Runs `intake` without blocking the runtime that serves the stack.
pub async fn intake(stack: &Stack, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_intake"));
    cmd.args(args)
        // Outside the project: what is set here, else the built-in local defaults.
        .current_dir(std::env::temp_dir())
        .env("TABLE_NAME", stack.store.table())
        .env("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("PUBLIC_BASE_URL", stack.url())
        .env("TWILIO_AUTH_TOKEN", TEST_AUTH_TOKEN)
        .env("TWILIO_ACCOUNT_SID", TEST_ACCOUNT_SID)
        .env("PLIVO_AUTH_TOKEN", TEST_PLIVO_AUTH_TOKEN)
        .env("META_APP_SECRET", TEST_META_APP_SECRET)
        .env("META_VERIFY_TOKEN", TEST_META_VERIFY_TOKEN)
        .env("MAILGUN_SIGNING_KEY", TEST_MAILGUN_SIGNING_KEY)
        .env("LINE_CHANNEL_SECRET", TEST_LINE_CHANNEL_SECRET)
        .env("TELEGRAM_SECRET_TOKEN", TEST_TELEGRAM_SECRET)
        .env("MESSAGEBIRD_SIGNING_KEY", TEST_MESSAGEBIRD_SIGNING_KEY)
        .env("BIRD_SIGNING_KEY", TEST_BIRD_SIGNING_KEY)
        .env(
            "INTAKE_RECORDER_PORT",
            stack.options.recorder_port.to_string(),
        )
        .env("AWS_ENDPOINT_URL_SESV2", stack.ses.endpoint())
        // Provider APIs at this stack's recorder (`intake acks redrive` acks in-process).
        .env("TWILIO_API_BASE_URL", stack.recorder.url());
    run(cmd).await
}

/// Runs `cmd` (the `intake` binary) without blocking the runtime: its success and stdout,
/// with its stderr added when it failed (for the assertion message).
pub async fn run(mut cmd: Command) -> (bool, String) {
    let out = cmd.kill_on_drop(true).output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("intake finishes")
        .expect("intake runs");
    let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        stdout.push_str(&format!(
            "\n[stderr] {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    (out.status.success(), stdout)
}

/// The ticket of `contact` from `intake tickets list --json` once its ack is sent (`Null`
/// if that does not happen within ten seconds).
pub async fn acked_ticket(stack: &Stack, contact: &str) -> serde_json::Value {
    for _ in 0..100 {
        let (ok, out) = intake(stack, &["tickets", "list", "--json"]).await;
        assert!(ok, "{out}");
        if let Some(t) = json_lines(&out)
            .into_iter()
            .find(|t| t["contact"] == contact)
            && t["ack_status"] == "sent"
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serde_json::Value::Null
}

pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}
