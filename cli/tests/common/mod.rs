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

/// An SDK configuration for moto, with the SDK's default timeouts: moto answers slowly while
/// other tests run, and a create retried after the functions' short timeout would find its
/// first attempt done ("already exists").
pub async fn moto_sdk(moto: &intake_dev::moto_local::MotoLocal) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// A CloudFormation stack `name` in moto with these `Outputs` (and a placeholder resource).
pub async fn create_stack(aws: &aws_config::SdkConfig, name: &str, outputs: serde_json::Value) {
    aws_sdk_cloudformation::Client::new(aws)
        .create_stack()
        .stack_name(name)
        .template_body(
            serde_json::json!({
                "Resources": { "Placeholder": { "Type": "AWS::SQS::Queue" } },
                "Outputs": outputs
            })
            .to_string(),
        )
        .send()
        .await
        .expect("moto CloudFormation");
}

/// `intake ...` as an operator runs it against a deployed stack: the caller's AWS environment
/// (here moto's endpoint, and `env` on top: another endpoint for a service), none of the local
/// stack's settings, outside the project.
pub async fn intake_cloud(
    moto: &intake_dev::moto_local::MotoLocal,
    env: &[(&str, &str)],
    args: &[&str],
) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_intake"));
    cmd.args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied());
    run(cmd).await
}

/// The first ticket of the customer `number` in `stack`'s table (read straight from it).
pub async fn first_ticket(stack: &Stack, number: &str) -> intake::model::Ticket {
    stack
        .store
        .contact_tickets(number, intake::phone::DEFAULT_COUNTRY_CODE)
        .await
        .expect("the table answers")
        .pop()
        .expect("the ticket was stored")
}

/// moto in server mode, and an SDK configuration for it ([`moto_sdk`]).
pub async fn moto() -> (intake_dev::moto_local::MotoLocal, aws_config::SdkConfig) {
    let moto = intake_dev::moto_local::MotoLocal::start()
        .await
        .expect("moto starts (make infra-deps)");
    let aws = moto_sdk(&moto).await;
    (moto, aws)
}
