//! Dead letters (issue 14): a provider outage makes the stream poller give up on an ack as
//! Lambda's mapping would; `intake acks dead-letters` shows it and `intake acks redrive`
//! sends it once, and never again.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use intake::model::AckStatus;
use intake_dev::dead_letters::{DeadLetter, DeadLetterQueue, OnFailureRecord};
use intake_dev::recorder;
use intake_dev::stack::{Stack, StackOptions};

mod common;
use common::{create_stack, first_ticket, intake, intake_cloud, json_lines};

/// Retries of a failing batch in these tests: two quick ones instead of the mapping's five
/// slow ones.
const RETRIES: (u32, Duration) = (2, Duration::from_millis(20));

/// A stack whose poller gives up quickly, writing to `dead_letters` (by default a fresh
/// directory).
async fn stack_with(dead_letters: Option<DeadLetterQueue>) -> Stack {
    let mut options = StackOptions::ephemeral(None).expect("ports");
    options.retries = RETRIES;
    if let Some(queue) = dead_letters {
        options.dead_letters = queue;
    }
    Stack::start(options)
        .await
        .expect("the local stack starts (run `npm ci` first)")
}

/// The dead letters of `queue` once there are `count` of them (bounded wait).
async fn dead_letters(queue: &DeadLetterQueue, count: usize) -> Vec<DeadLetter> {
    for _ in 0..200 {
        let letters = queue.receive_all().await.expect("dead-letter queue");
        if letters.len() >= count {
            return letters;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no dead letter appeared in {}", queue.describe());
}

/// The records of the dead letters of `queue` once there are `count` of them.
async fn records(queue: &DeadLetterQueue, count: usize) -> Vec<OnFailureRecord> {
    dead_letters(queue, count)
        .await
        .into_iter()
        .map(|l| l.record.expect("an on-failure record"))
        .collect()
}

/// A provider outage longer than the poller's retries, then a first message from `customer`.
async fn message_during_outage(stack: &Stack, customer: &str) {
    recorder::fail_next(&stack.recorder.url(), 503, 1000)
        .await
        .expect("recorder");
    let (ok, out) = intake(
        stack,
        &["simulate", "twilio", "--from", customer, "--body", "Halo"],
    )
    .await;
    assert!(ok, "{out}");
}

/// The outage ends (the recorder forgets its queued failures and what it received).
async fn end_outage(stack: &Stack) {
    reqwest::Client::new()
        .post(format!("{}/__recorder/reset", stack.recorder.url()))
        .send()
        .await
        .expect("recorder");
}

/// What the Twilio fake received for `customer`.
async fn sends_to(stack: &Stack, customer: &str) -> Vec<u16> {
    recorder::fetch(&stack.recorder.url())
        .await
        .expect("recorder")
        .into_iter()
        .filter(|r| r.to.as_deref() == Some(customer))
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn an_ack_dead_lettered_in_an_outage_is_listed_then_redriven_once_and_never_again() {
    let stack = stack_with(None).await;
    let queue = stack.options.dead_letters.clone();
    let DeadLetterQueue::Dir(dir) = queue.clone() else {
        panic!("the local stack keeps dead letters in a directory");
    };
    let customer = "+6281277770001";
    message_during_outage(&stack, customer).await;
    let letters = records(&queue, 1).await;
    let letter = &letters[0];
    assert_eq!(letter.request_context.condition, "RetryAttemptsExhausted");
    assert_eq!(
        letter.request_context.approximate_invoke_count,
        RETRIES.0 + 1
    );
    // From the failed record to the end of its batch, as Lambda retries and gives up.
    assert!(letter.batch.batch_size >= 1, "{letter:?}");
    assert!(
        letter.batch.stream_arn.contains(stack.store.table()),
        "{letter:?}"
    );
    let ticket = first_ticket(&stack, customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Pending);
    // Every attempt reached the provider and failed; none was accepted.
    assert_eq!(sends_to(&stack, customer).await, vec![503; 3]);

    end_outage(&stack).await;

    // A second dead letter whose shard no longer exists, from the same moment: its records
    // cannot be read back, so the tickets still pending from then are named instead.
    let dir_arg = dir.display().to_string();
    let mut lost = letter.clone();
    lost.batch.shard_id = "shardId-00000000000000000000-00000000".into();
    queue.send(&lost).await.expect("dead-letter directory");

    let (ok, out) = intake(
        &stack,
        &["acks", "dead-letters", "--dir", &dir_arg, "--json"],
    )
    .await;
    assert!(ok, "{out}");
    let listed = json_lines(&out);
    assert_eq!(listed.len(), 2, "{out}");
    assert_eq!(listed[0]["condition"], "RetryAttemptsExhausted");
    assert_eq!(listed[0]["invocations"], 3);
    assert_eq!(
        listed[0]["tickets"],
        serde_json::json!([{ "id": ticket.id, "ack": "pending" }]),
        "{out}"
    );
    assert!(listed[0]["lost"].is_null(), "{out}");
    assert!(listed[1]["lost"].is_string(), "{out}");
    assert_eq!(
        listed[1]["pendingTickets"],
        serde_json::json!([ticket.id]),
        "{out}"
    );
    let (ok, table) = intake(&stack, &["acks", "dead-letters", "--dir", &dir_arg]).await;
    assert!(ok, "{table}");
    assert!(
        table.contains(&format!("{} (pending)", ticket.id)),
        "{table}"
    );
    assert!(table.contains("LOST"), "{table}");
    // Listing changes nothing.
    assert_eq!(records(&queue, 2).await.len(), 2);
    assert!(sends_to(&stack, customer).await.is_empty());

    // The redrive acks the ticket once and deletes its dead letter; the lost one is kept
    // (and said so, with a failing exit status) until the operator drops it.
    let (ok, out) = intake(&stack, &["acks", "redrive", "--dir", &dir_arg]).await;
    assert!(!ok, "a lost dead letter remains: {out}");
    assert!(out.contains("redriven, deleted"), "{out}");
    assert!(out.contains("LOST"), "{out}");
    assert_eq!(sends_to(&stack, customer).await, vec![201]);
    let ticket_now = stack
        .store
        .ticket(&ticket.id)
        .await
        .expect("store")
        .expect("ticket");
    assert_eq!(ticket_now.ack_status, AckStatus::Sent);
    let remaining = records(&queue, 1).await;
    assert_eq!(remaining, vec![lost.clone()]);

    // Redriving the same batch again (a dead letter delivered twice, or a redrive that
    // stopped before deleting it) sends nothing: the ticket is no longer pending.
    queue.send(letter).await.expect("dead-letter directory");
    let (ok, out) = intake(
        &stack,
        &["acks", "redrive", "--dir", &dir_arg, "--drop-lost"],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("redriven, deleted"), "{out}");
    assert!(
        out.contains("(deleted)"),
        "the lost one is dropped on request: {out}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sends_to(&stack, customer).await,
        vec![201],
        "sent once, not twice"
    );
    let (ok, out) = intake(
        &stack,
        &["acks", "dead-letters", "--dir", &dir_arg, "--json"],
    )
    .await;
    assert!(ok && out.is_empty(), "no dead letter left: {out}");
    let (ok, out) = intake(&stack, &["acks", "redrive", "--dir", &dir_arg]).await;
    assert!(ok && out.contains("no dead letters"), "{out}");
    assert_eq!(sends_to(&stack, customer).await, vec![201]);
}

/// The same dead letter through a real SQS API (moto in server mode, as the cloud's
/// on-failure queue): the poller sends it, the listing and the redrive read it through the
/// one code path `intake acks` uses, and the redrive deletes the message once acked.
///
/// The redrive runs the acknowledger in-process here (moto's Lambda invoke needs Docker);
/// `the_deployed_acknowledger_redrives_a_dead_letter_once` runs it as the deployed function.
#[tokio::test]
async fn through_sqs_the_dead_letter_is_sent_listed_redriven_and_deleted() {
    use intake_dev::redrive::{self, Acker, Redriven};

    let (_moto, aws) = common::moto().await;
    let url = aws_sdk_sqs::Client::new(&aws)
        .create_queue()
        .queue_name("intake-acknowledger-dlq")
        .send()
        .await
        .expect("moto SQS")
        .queue_url
        .expect("a queue URL");
    let queue = DeadLetterQueue::sqs(&aws, &url);
    let stack = stack_with(Some(queue.clone())).await;
    let customer = "+6281277770002";
    message_during_outage(&stack, customer).await;

    let local = intake_dev::stack::local_sdk_config(&stack.dynamo.endpoint()).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&local);
    let letters = dead_letters(&queue, 1).await;
    assert_eq!(letters.len(), 1, "one dead letter in the queue");
    let listed = redrive::inspect(&letters[0], &streams, &stack.store).await;
    assert_eq!(listed.condition, "RetryAttemptsExhausted");
    assert_eq!(listed.tickets.len(), 1, "{listed:?}");
    assert_eq!(listed.tickets[0].ack, "pending", "{listed:?}");
    // Listed, then visible again at once for the redrive.
    queue.release(&letters).await;

    end_outage(&stack).await;
    let acker = Acker::Local(stack.acknowledger.clone());
    let done = redrive::redrive_all(&queue, &streams, &stack.store, &acker, false)
        .await
        .expect("redrive");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        done[0].1,
        Redriven::Done {
            tickets: vec![listed.tickets[0].id.clone()]
        }
    );
    assert_eq!(sends_to(&stack, customer).await, vec![201]);
    assert!(
        queue.receive_all().await.expect("moto SQS").is_empty(),
        "the message is deleted"
    );
    let again = redrive::redrive_all(&queue, &streams, &stack.store, &acker, false)
        .await
        .expect("redrive");
    assert!(again.is_empty());
    assert_eq!(sends_to(&stack, customer).await, vec![201]);
}

/// A deployed stack in moto: its CloudFormation outputs, table and stream, the acknowledger
/// function, its on-failure queue and the stream mapping that names both. The table holds
/// the ticket of `local` (a local stack's ticket item, copied as is).
struct Deployed {
    stack: String,
    queue: DeadLetterQueue,
    stream_arn: String,
}

async fn deploy(aws: &aws_config::SdkConfig, local: &Stack, ticket_id: &str) -> Deployed {
    use aws_sdk_lambda::types::{DestinationConfig, EventSourcePosition, OnFailure, Runtime};
    use intake::store::{Store, keys, schema};

    let name = "intake-prod";
    let table = format!("{name}-Table");
    let cloud = Store::from_sdk_config(aws, &table);
    schema::create_table_if_missing(cloud.client(), &table)
        .await
        .expect("moto DynamoDB");
    let item = local
        .store
        .client()
        .get_item()
        .table_name(local.store.table())
        .key(keys::PK, AttributeValue::S(keys::ticket(ticket_id)))
        .key(keys::SK, AttributeValue::S(keys::TICKET_SK.into()))
        .send()
        .await
        .expect("DynamoDB Local")
        .item
        .expect("the ticket item");
    cloud
        .client()
        .put_item()
        .table_name(&table)
        .set_item(Some(item))
        .send()
        .await
        .expect("moto DynamoDB");
    let stream_arn = cloud
        .client()
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("moto DynamoDB")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("a stream");
    create_stack(
        aws,
        name,
        serde_json::json!({ "TableName": { "Value": table } }),
    )
    .await;
    let role = aws_sdk_iam::Client::new(aws)
        .create_role()
        .role_name("acknowledger")
        .assume_role_policy_document("{}")
        .send()
        .await
        .expect("moto IAM")
        .role
        .expect("a role")
        .arn;
    let lambda = aws_sdk_lambda::Client::new(aws);
    lambda
        .create_function()
        .function_name(format!("{name}-Acknowledger"))
        .runtime(Runtime::Providedal2023)
        .role(role)
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(b"not run".to_vec()))
                .build(),
        )
        .send()
        .await
        .expect("moto Lambda");
    let sqs = aws_sdk_sqs::Client::new(aws);
    let url = sqs
        .create_queue()
        .queue_name(format!("{name}-AcknowledgerDeadLetterQueue"))
        .send()
        .await
        .expect("moto SQS")
        .queue_url
        .expect("a queue URL");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("moto SQS")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("the queue's ARN");
    // After the ticket is written: moto would try to invoke the function on new records.
    lambda
        .create_event_source_mapping()
        .function_name(format!("{name}-Acknowledger"))
        .event_source_arn(&stream_arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination(queue_arn).build())
                .build(),
        )
        .send()
        .await
        .expect("moto Lambda");
    Deployed {
        stack: name.to_owned(),
        queue: DeadLetterQueue::sqs(aws, &url),
        stream_arn,
    }
}

/// What Lambda writes to the on-failure queue for the first record of `stream_arn`.
async fn dead_letter_of_first_record(
    aws: &aws_config::SdkConfig,
    stream_arn: &str,
) -> OnFailureRecord {
    let streams = aws_sdk_dynamodbstreams::Client::new(aws);
    let shard = streams
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await
        .expect("moto DynamoDB Streams")
        .stream_description
        .and_then(|d| d.shards.and_then(|s| s.into_iter().next()))
        .expect("a shard");
    let shard_id = shard.shard_id.expect("a shard id");
    let start = shard
        .sequence_number_range
        .and_then(|r| r.starting_sequence_number)
        .expect("a first sequence number");
    let mut letter: OnFailureRecord = serde_json::from_value(serde_json::json!({
        "requestContext": {
            "requestId": "316aa6d0-8154-4f6c-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:intake-prod-Acknowledger",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6
        },
        "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": null },
        "version": "1.0",
        "timestamp": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": start,
            "approximateArrivalOfFirstRecord": "",
            "approximateArrivalOfLastRecord": "",
            "batchSize": 1,
            "streamArn": stream_arn
        }
    }))
    .expect("an on-failure record");
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    letter.batch.approximate_arrival_of_first_record = now.clone();
    letter.batch.approximate_arrival_of_last_record = now;
    letter
}

/// A deployed stack's dead letter, found from the stack's name alone: its table (output),
/// the stream mapping's function and on-failure queue, the record re-read from the stream.
/// moto cannot run the function (no Docker: it answers a function error), so the redrive
/// keeps the dead letter, as it must when the acknowledger fails.
#[tokio::test]
async fn a_deployed_stacks_dead_letter_is_found_from_its_name_and_kept_while_the_function_fails() {
    let (moto, aws) = common::moto().await;
    // A ticket whose ack is pending for good, to deploy.
    let local = stack_with(None).await;
    let customer = "+6281277770003";
    message_during_outage(&local, customer).await;
    records(&local.options.dead_letters, 1).await;
    let ticket = first_ticket(&local, customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Pending);
    let deployed = deploy(&aws, &local, &ticket.id).await;
    let letter = dead_letter_of_first_record(&aws, &deployed.stream_arn).await;
    deployed.queue.send(&letter).await.expect("moto SQS");

    let (ok, out) = intake_cloud(
        &moto,
        &[],
        &["acks", "dead-letters", "--stack", &deployed.stack, "--json"],
    )
    .await;
    assert!(ok, "{out}");
    let listed = json_lines(&out);
    assert_eq!(listed.len(), 1, "{out}");
    assert_eq!(listed[0]["condition"], "RetryAttemptsExhausted");
    assert_eq!(listed[0]["shardId"], letter.batch.shard_id);
    assert_eq!(
        listed[0]["tickets"],
        serde_json::json!([{ "id": ticket.id, "ack": "pending" }]),
        "{out}"
    );

    let (ok, out) =
        intake_cloud(&moto, &[], &["acks", "redrive", "--stack", &deployed.stack]).await;
    assert!(!ok, "the function failed: {out}");
    assert!(out.contains("not redriven, kept"), "{out}");
    assert!(out.contains("the acknowledger failed"), "{out}");
    let kept = dead_letters(&deployed.queue, 1).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].record.as_ref().ok(), Some(&letter));
}

/// `intake acks redrive` against a deployment, with nothing of ours standing in for AWS: the
/// dead letter in moto's SQS (the on-failure queue), the records re-read from the table's
/// stream (DynamoDB Local's), and `Acker::Lambda` invoking the real `acknowledger` binary
/// through cargo-lambda's emulation of the Lambda Invoke and Runtime APIs, with the stream
/// event the mapping would send. The ack is sent once; a second redrive finds nothing.
#[tokio::test]
async fn the_deployed_acknowledger_redrives_a_dead_letter_once() {
    use intake_dev::lambda_local::{self, LambdaLocal};
    use intake_dev::stack::{TEST_ACCOUNT_SID, TEST_AUTH_TOKEN};

    let (moto, aws) = common::moto().await;
    let url = aws_sdk_sqs::Client::new(&aws)
        .create_queue()
        .queue_name("intake-prod-AcknowledgerDeadLetterQueue")
        .send()
        .await
        .expect("moto SQS")
        .queue_url
        .expect("a queue URL");
    let queue = DeadLetterQueue::sqs(&aws, &url);
    let stack = stack_with(Some(queue.clone())).await;
    let customer = "+6281277770003";
    message_during_outage(&stack, customer).await;
    let letters = dead_letters(&queue, 1).await;
    assert_eq!(letters.len(), 1);
    // Seen, then visible again at once for the redrive.
    queue.release(&letters).await;
    end_outage(&stack).await;

    // The deployed acknowledger: its binary under the Lambda emulator, configured as the
    // stack's (Twilio sends to the recorder).
    let mut lambda = LambdaLocal::start()
        .await
        .expect("cargo-lambda starts (make infra-deps)");
    let binary = lambda_local::function_binary("acknowledger").expect("acknowledger builds");
    let env = [
        ("TABLE_NAME", stack.store.table().to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.endpoint()),
        ("TWILIO_AUTH_TOKEN", TEST_AUTH_TOKEN.to_owned()),
        ("TWILIO_ACCOUNT_SID", TEST_ACCOUNT_SID.to_owned()),
        ("TWILIO_API_BASE_URL", stack.recorder.url()),
    ];
    lambda.run(&binary, &env).expect("the function runs");

    let (lambda_endpoint, dynamo) = (lambda.endpoint(), stack.dynamo.endpoint());
    let env = [
        ("AWS_ENDPOINT_URL_LAMBDA", lambda_endpoint.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamo.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", dynamo.as_str()),
    ];
    let args = [
        "acks",
        "redrive",
        "--table",
        stack.store.table(),
        "--queue",
        &url,
        "--function",
        lambda_local::FUNCTION_NAME,
        "--json",
    ];
    let redrive = || intake_cloud(&moto, &env, &args);
    let (ok, out) = redrive().await;
    assert!(ok, "{out}");
    let ticket = first_ticket(&stack, customer).await;
    let done = json_lines(&out);
    assert_eq!(done.len(), 1, "{out}");
    assert!(out.contains(&ticket.id), "{out}");
    assert_eq!(sends_to(&stack, customer).await, vec![201]);
    assert_eq!(
        first_ticket(&stack, customer).await.ack_status,
        AckStatus::Sent
    );
    assert!(queue.receive_all().await.expect("moto SQS").is_empty());

    let (ok, out) = redrive().await;
    assert!(ok, "{out}");
    assert_eq!(sends_to(&stack, customer).await, vec![201], "never twice");
}
