//! The operator's view of a deployed stack (issue 12): `intake tickets list|show` and `intake
//! customers show` with `--stack NAME` find the table from the stack's `TableName` output
//! (CloudFormation in moto, server mode) and read it with the caller's own AWS environment,
//! here moto's endpoint and DynamoDB Local's, none of the local stack's settings. `--ack
//! sending` finds the ack a crashed acknowledger left claimed.

use aws_sdk_dynamodb::types::AttributeValue;
use intake::model::AckStatus;
use intake_dev::moto_local::MotoLocal;
use intake_dev::stack::{Stack, StackOptions};

mod common;
use common::{acked_ticket, create_stack, first_ticket, intake, intake_cloud, json_lines};

/// `intake ...` against the deployment: CloudFormation and the rest at moto, DynamoDB at the
/// test stack's DynamoDB Local; no TABLE_NAME, no project directory, no .env.
async fn operator(moto: &MotoLocal, stack: &Stack, args: &[&str]) -> (bool, String) {
    let dynamo = stack.dynamo.endpoint();
    intake_cloud(moto, &[("AWS_ENDPOINT_URL_DYNAMODB", &dynamo)], args).await
}

/// A first SMS ("Halo") from `customer`, through Twilio.
async fn sms(stack: &Stack, customer: &str) {
    let (ok, out) = intake(
        stack,
        &["simulate", "twilio", "--from", customer, "--body", "Halo"],
    )
    .await;
    assert!(ok, "{out}");
}

fn ids(tickets: &[serde_json::Value]) -> Vec<&str> {
    tickets
        .iter()
        .map(|t| t["id"].as_str().expect("an id"))
        .collect()
}

#[tokio::test]
async fn a_deployed_stacks_tickets_are_found_from_its_name_and_a_stuck_ack_by_its_state() {
    let (moto, aws) = common::moto().await;
    // The acknowledger held from the start, so the stuck ticket is claimed before it runs.
    let (hold, held) = tokio::sync::watch::channel(true);
    let mut options = StackOptions::ephemeral(None).expect("ports");
    options.acks_held = Some(held);
    let stack = Stack::start(options)
        .await
        .expect("the local stack starts (run `npm ci` first)");

    // A ticket whose ack an acknowledger claimed and never recorded (it died between the
    // claim and the provider's answer): the claim written as the acknowledger writes it.
    let stuck_customer = "+6281277780001";
    sms(&stack, stuck_customer).await;
    let stuck = first_ticket(&stack, stuck_customer).await;
    assert_eq!(stuck.ack_status, AckStatus::Pending);
    let token = ulid::Ulid::new().to_string();
    assert!(
        stack
            .store
            .claim_ack(&stuck.id, &token)
            .await
            .expect("claim")
    );
    // Two tickets acked as usual (the stuck one's record finds it claimed: nothing sent).
    hold.send(false).expect("the poller");
    let customers = ["+6281277780002", "+6281277780003"];
    let mut sent = Vec::new();
    for customer in customers {
        sms(&stack, customer).await;
        let ticket = acked_ticket(&stack, customer).await;
        assert_eq!(ticket["ack_status"], "sent", "{customer}");
        sent.push(ticket["id"].as_str().expect("an id").to_owned());
    }

    // The deployment: a stack whose TableName output names the test stack's table, and one
    // that is not an Intake stack.
    let name = "intake-prod";
    create_stack(
        &aws,
        name,
        serde_json::json!({ "TableName": { "Value": stack.store.table() } }),
    )
    .await;
    create_stack(
        &aws,
        "website",
        serde_json::json!({ "BucketName": { "Value": "www" } }),
    )
    .await;

    let (ok, out) = operator(
        &moto,
        &stack,
        &["tickets", "list", "--stack", name, "--json"],
    )
    .await;
    assert!(ok, "{out}");
    let all = json_lines(&out);
    assert_eq!(
        ids(&all),
        [sent[1].as_str(), sent[0].as_str(), stuck.id.as_str()],
        "newest first: {out}"
    );

    // The on-call engineer's question: which acks are stuck?
    let (ok, out) = operator(
        &moto,
        &stack,
        &[
            "tickets", "list", "--stack", name, "--ack", "sending", "--json",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let stuck_listed = json_lines(&out);
    assert_eq!(ids(&stuck_listed), [stuck.id.as_str()], "{out}");
    assert_eq!(stuck_listed[0]["ack_status"], "sending");
    assert_eq!(stuck_listed[0]["contact"], stuck_customer);
    // Combined with --contact and --since, and none failed.
    for (args, expected) in [
        (
            vec![
                "--ack",
                "sending",
                "--contact",
                stuck_customer,
                "--since",
                "1h",
            ],
            vec![stuck.id.as_str()],
        ),
        (vec!["--ack", "sending", "--contact", customers[0]], vec![]),
        (
            vec!["--ack", "sent", "--contact", customers[0]],
            vec![sent[0].as_str()],
        ),
        (vec!["--ack", "failed"], vec![]),
    ] {
        let mut all_args = vec!["tickets", "list", "--stack", name, "--json"];
        all_args.extend(&args);
        let (ok, out) = operator(&moto, &stack, &all_args).await;
        assert!(ok, "{args:?}: {out}");
        assert_eq!(ids(&json_lines(&out)), expected, "{args:?}: {out}");
    }
    // The table, for a person.
    let (ok, out) = operator(
        &moto,
        &stack,
        &["tickets", "list", "--stack", name, "--ack", "sending"],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&stuck.reference) && out.contains("sending"),
        "{out}"
    );
    assert!(!out.contains(&sent[0]), "{out}");

    // One ticket by reference, by --stack and by --table.
    for target in [["--stack", name], ["--table", stack.store.table()]] {
        let (ok, out) = operator(
            &moto,
            &stack,
            &[
                "tickets",
                "show",
                &stuck.reference,
                target[0],
                target[1],
                "--json",
            ],
        )
        .await;
        assert!(ok, "{out}");
        let shown = json_lines(&out);
        assert_eq!(shown[0]["id"], stuck.id.as_str(), "{out}");
        assert_eq!(shown[0]["messages"][0]["body"], "Halo", "{out}");
    }
    let (ok, out) = operator(
        &moto,
        &stack,
        &["tickets", "show", &stuck.reference, "--stack", name],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("Ticket #{}", stuck.reference)),
        "{out}"
    );

    // One customer, by a national spelling of the number.
    let (ok, out) = operator(
        &moto,
        &stack,
        &[
            "customers",
            "show",
            "0812-7778-0002",
            "--stack",
            name,
            "--json",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let customer = json_lines(&out);
    assert_eq!(customer[0]["number"], customers[0], "{out}");
    assert_eq!(
        ids(customer[0]["tickets"].as_array().expect("tickets")),
        [sent[0].as_str()]
    );

    // The sweep, run once by the on-call engineer: a claim younger than the acknowledger's
    // timeout plus the margin may still be live, and is left alone.
    let sweep = ["acks", "sweep", "--stack", name, "--json"];
    let (ok, out) = operator(&moto, &stack, &sweep).await;
    assert!(ok, "{out}");
    assert_eq!(json_lines(&out)[0]["found"], 0, "{out}");
    // Ten minutes later (the claim's time moved back, as DynamoDB would have it had the
    // acknowledger died ten minutes ago): failed as interrupted, never sent.
    let ten_minutes_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    stack
        .store
        .client()
        .update_item()
        .table_name(stack.store.table())
        .key("pk", AttributeValue::S(format!("TICKET#{}", stuck.id)))
        .key("sk", AttributeValue::S("META".into()))
        .update_expression("SET ack_updated_at = :at")
        .expression_attribute_values(
            ":at",
            AttributeValue::S(
                ten_minutes_ago
                    .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
                    .to_string(),
            ),
        )
        .send()
        .await
        .expect("the claim aged");
    let (ok, out) = operator(&moto, &stack, &sweep).await;
    assert!(ok, "{out}");
    let report = &json_lines(&out)[0];
    assert_eq!(
        (&report["found"], &report["interrupted"], &report["tickets"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!([stuck.id])
        ),
        "{out}"
    );
    let (ok, out) = operator(
        &moto,
        &stack,
        &[
            "tickets", "list", "--stack", name, "--ack", "failed", "--json",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let failed = json_lines(&out);
    assert_eq!(ids(&failed), [stuck.id.as_str()], "{out}");
    assert_eq!(failed[0]["ack_reason"], "interrupted", "{out}");
    // For a person; and a second sweep finds nothing.
    let (ok, out) = operator(&moto, &stack, &["acks", "sweep", "--stack", name]).await;
    assert!(ok, "{out}");
    assert!(
        out.starts_with("0 ack(s) sending for over 5 minutes"),
        "{out}"
    );
    assert!(
        intake_dev::recorder::fetch(&stack.recorder.url())
            .await
            .expect("the recorder")
            .iter()
            .all(|r| r.to.as_deref() != Some(stuck_customer)),
        "the stuck ack is never sent"
    );

    // What goes wrong says so in one line, and exits non-zero.
    for (args, expected) in [
        (
            vec!["tickets", "list", "--stack", "intake-staging"],
            "intake: no stack intake-staging in us-east-1",
        ),
        (
            vec!["tickets", "show", &stuck.reference, "--stack", "website"],
            "intake: stack website has no TableName output",
        ),
        (
            vec![
                "customers",
                "show",
                customers[0],
                "--table",
                "no-such-table",
            ],
            "intake: table no-such-table: ",
        ),
    ] {
        let (ok, out) = operator(&moto, &stack, &args).await;
        assert!(!ok, "{args:?}: {out}");
        let stderr = out.split("[stderr] ").nth(1).expect("an error");
        assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
    // No credentials at all.
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_intake"));
    cmd.args(["tickets", "list", "--stack", name])
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", std::env::temp_dir().join("intake-operator-no-home"));
    let (ok, out) = common::run(cmd).await;
    assert!(!ok, "{out}");
    assert!(out.contains("[stderr] intake: no AWS credentials"), "{out}");
}

/// `intake replay --stack`: the archive found from the stack's `ArchiveBucketName` output and
/// read with the operator's own credentials (moto's S3 here), listed without bodies; a replay
/// of a channel the stack names no function for says so per delivery and exits non-zero.
#[tokio::test]
async fn a_deployed_stacks_archive_is_listed_from_its_name() {
    use intake::archive::{Archive, ArchivedDelivery};
    let (moto, aws) = common::moto().await;
    let bucket = "intake-prod-archivebucket-1a2b3c";
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    )
    .create_bucket()
    .bucket(bucket)
    .send()
    .await
    .expect("moto S3");
    let archive = Archive::new(&aws, bucket, Some(&moto.endpoint()), false);
    let request = |body: &'static str| {
        intake::WebhookRequest::new(
            http::Method::POST,
            "/sms/twilio",
            None,
            http::HeaderMap::new(),
            bytes::Bytes::from_static(body.as_bytes()),
        )
    };
    let now = jiff::Timestamp::now();
    let parse_failure = ArchivedDelivery::of(
        &request("MessageSid=SM-1&Body=Halo"),
        now - jiff::SignedDuration::from_mins(30),
        intake::Channel::Sms,
        "twilio",
        400,
        Some("malformed_body"),
    );
    let outage = ArchivedDelivery::of(
        &request("MessageSid=SM2&Body=Halo"),
        now - jiff::SignedDuration::from_mins(10),
        intake::Channel::Sms,
        "twilio",
        503,
        Some("store_unavailable"),
    );
    for d in [&parse_failure, &outage] {
        archive.put(d).await.expect("archived");
    }
    create_stack(
        &aws,
        "intake-prod",
        serde_json::json!({ "ArchiveBucketName": { "Value": bucket } }),
    )
    .await;
    let replay = |args: &'static [&'static str]| {
        let moto = &moto;
        async move {
            let mut all = vec!["replay"];
            all.extend(args);
            intake_cloud(moto, &[], &all).await
        }
    };

    let (ok, out) = replay(&["list", "--stack", "intake-prod", "--json"]).await;
    assert!(ok, "{out}");
    let listed = json_lines(&out);
    let listed_ids: Vec<&str> = listed.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(
        listed_ids,
        [&parse_failure.id, &outage.id],
        "oldest first: {out}"
    );
    assert_eq!(listed[0]["code"], "malformed_body");
    assert_eq!(listed[1]["status"], 503);
    assert!(listed[0].get("body").is_none() && listed[0].get("headers").is_none());
    let (ok, out) = replay(&[
        "list",
        "--stack",
        "intake-prod",
        "--error",
        "store_unavailable",
    ])
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&outage.id) && !out.contains(&parse_failure.id),
        "{out}"
    );

    // No SmsWebhookFunctionName output: nothing to invoke, said per delivery.
    let (ok, out) = replay(&["run", "--stack", "intake-prod", "--since", "1h", "--json"]).await;
    assert!(!ok, "{out}");
    let reports: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a report"))
        .collect();
    assert_eq!(reports.len(), 2, "{out}");
    assert!(
        reports
            .iter()
            .all(|r| r["outcome"] == "failing" && r["code"] == "unknown_route"),
        "{out}"
    );

    create_stack(
        &aws,
        "website",
        serde_json::json!({ "BucketName": { "Value": "www" } }),
    )
    .await;
    let (ok, out) = replay(&["list", "--stack", "website"]).await;
    assert!(!ok);
    assert!(out.contains("ArchiveBucketName"), "{out}");
}
