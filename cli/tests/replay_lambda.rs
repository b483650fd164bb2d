//! `intake replay run --stack` end to end, with nothing of ours standing in for AWS: the CLI
//! finds the stack in moto's CloudFormation, lists the archive in moto's S3, and invokes the
//! real `sms-webhook` binary through cargo-lambda's emulation of the Lambda Invoke and Runtime
//! APIs ([`intake_dev::lambda_local`]). The function reads the archived object from moto's S3
//! by the key it was given, verifies the original signature at the archived time and stores
//! into DynamoDB Local. The delivery was archived because DynamoDB was down when it came.

use intake_dev::lambda_local::{self, LambdaLocal};
use intake_dev::replay::ArchiveOptions;
use intake_dev::stack::{Stack, StackOptions, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN};

mod common;
use common::{create_stack, first_ticket, intake, intake_cloud};

const BUCKET: &str = "intake-prod-archivebucket-5e6f";

#[tokio::test]
async fn an_outage_archived_delivery_is_replayed_once_by_the_deployed_function() {
    let (moto, aws) = common::moto().await;
    let dir = std::env::temp_dir().join(format!("intake-test-{}", ulid::Ulid::new()));
    let mut options = StackOptions::ephemeral(Some(dir)).expect("ports");
    options.archive = Some(ArchiveOptions::new(BUCKET, &moto.endpoint(), false).expect("loopback"));
    let mut stack = Stack::start(options)
        .await
        .expect("the local stack starts (run `npm ci` first)");

    // DynamoDB down: Twilio is answered 503 and the verified request archived.
    let customer = "+6281277790001";
    stack.dynamo.stop().await;
    let (ok, out) = intake(
        &stack,
        &[
            "simulate",
            "twilio",
            "--from",
            customer,
            "--body",
            "Halo, ada orang?",
        ],
    )
    .await;
    assert!(!ok && out.contains("503"), "{out}");
    stack
        .dynamo
        .restart()
        .await
        .expect("DynamoDB Local restarts");

    // The deployed function: the sms-webhook binary under the Lambda emulator, configured as
    // the stack's webhook is, with the archive bucket (moto's S3).
    let mut lambda = LambdaLocal::start()
        .await
        .expect("cargo-lambda starts (make infra-deps)");
    let binary = lambda_local::function_binary("sms-webhook").expect("sms-webhook builds");
    let env = [
        ("TABLE_NAME", stack.store.table().to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.endpoint()),
        ("PUBLIC_BASE_URL", stack.url()),
        ("TWILIO_AUTH_TOKEN", TEST_AUTH_TOKEN.to_owned()),
        ("TWILIO_ACCOUNT_SID", TEST_ACCOUNT_SID.to_owned()),
        ("ARCHIVE_BUCKET", BUCKET.to_owned()),
        ("ARCHIVE_ENDPOINT_URL", moto.endpoint()),
    ];
    lambda.run(&binary, &env).expect("the function runs");

    create_stack(
        &aws,
        "intake-prod",
        serde_json::json!({
            "ArchiveBucketName": { "Value": BUCKET },
            "SmsWebhookFunctionName": { "Value": lambda_local::FUNCTION_NAME },
        }),
    )
    .await;
    let lambda_endpoint = lambda.endpoint();
    let operator = |args: &'static [&'static str]| {
        let (moto, endpoint) = (&moto, lambda_endpoint.clone());
        async move {
            let mut all = vec!["replay"];
            all.extend(args);
            intake_cloud(moto, &[("AWS_ENDPOINT_URL_LAMBDA", &endpoint)], &all).await
        }
    };

    let (ok, out) = operator(&["list", "--stack", "intake-prod", "--json"]).await;
    assert!(ok, "{out}");
    let listed = common::json_lines(&out);
    assert_eq!(listed.len(), 1, "{out}");
    assert_eq!(listed[0]["code"], "store_unavailable");
    let id = listed[0]["id"].as_str().expect("an id").to_owned();

    let (ok, out) = operator(&["run", "--stack", "intake-prod", "--since", "1h", "--json"]).await;
    assert!(ok, "{out}");
    assert_eq!(
        common::json_lines(&out),
        [serde_json::json!({"id": id, "provider": "twilio", "outcome": "stored"})],
        "{out}"
    );
    let ticket = first_ticket(&stack, customer).await;
    let messages = stack.store.messages(&ticket.id).await.expect("messages");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Halo, ada orang?");

    // Replayed again (by id this time): a duplicate, nothing more stored.
    let (ok, out) = intake_cloud(
        &moto,
        &[("AWS_ENDPOINT_URL_LAMBDA", &lambda_endpoint)],
        &["replay", "run", &id, "--stack", "intake-prod"],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("{id} twilio: duplicate"));
    assert_eq!(
        stack
            .store
            .messages(&ticket.id)
            .await
            .expect("messages")
            .len(),
        1
    );
}
