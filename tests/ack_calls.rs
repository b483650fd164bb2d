//! How many DynamoDB requests one ack makes, counted by an interceptor on the real SDK client
//! against DynamoDB Local, for the ticket's INSERT record exactly as the table's stream
//! delivers it (its `NewImage` included). Each request waits behind ingest traffic during a
//! burst, so this number is what an ack costs under load (see DESIGN.md, "The acknowledger").

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use intake::ack::{AckOutcome, Acknowledger};
use intake::aws_calls::CallCounter;
use intake::metrics::MemorySink;
use intake::model::{AckStatus, RecentAck, Ticket};
use intake::store::{AckRecord, SentAck, Store, keys};
use intake_dev::simulate_email::{self, CustomerMail, SnsSigner};
use intake_dev::stack::{Stack, TEST_SES_TOPIC_ARN, local_sdk_config};
use intake_tests::{Endpoints, new_address, new_customer_ticket, own_stack, stored_ticket};

/// The stack's store, on a DynamoDB client whose requests `counter` counts.
async fn counted_store(stack: &Stack, counter: &CallCounter) -> Store {
    let sdk = local_sdk_config(&stack.dynamo.endpoint()).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        stack.store.table(),
    )
}

/// The stack's acknowledger, on a DynamoDB client whose requests `counter` counts.
async fn counted_acknowledger(stack: &Stack, counter: &CallCounter) -> Acknowledger {
    let sdk = local_sdk_config(&stack.dynamo.endpoint()).await;
    let clients = intake::providers::Clients::new(&sdk).expect("clients");
    let store = counted_store(stack, counter).await;
    // Its metric lines are kept out of the test's output.
    let metrics: intake::metrics::Sink = std::sync::Arc::new(MemorySink::default());
    Acknowledger::from_config(&stack.options.config, store, &clients).with_metrics(metrics)
}

/// The INSERT record of `ticket_id`, read from the table's stream, as Lambda delivers it.
async fn insert_record(stack: &Stack, ticket_id: &str) -> Event {
    let sdk = local_sdk_config(&stack.dynamo.endpoint()).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let table = stack
        .store
        .client()
        .describe_table()
        .table_name(stack.store.table())
        .send()
        .await
        .expect("describe table");
    let arn = table
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream");
    let stream = streams
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .expect("describe stream");
    let ticket_pk = keys::ticket(ticket_id);
    let shards = stream
        .stream_description()
        .map(|d| d.shards())
        .unwrap_or_default();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard.shard_id().unwrap_or_default())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .expect("records");
            if page.records().is_empty() {
                break;
            }
            let found = page.records().iter().find(|r| {
                let key = |name: &str| {
                    r.dynamodb()
                        .and_then(|d| d.keys()?.get(name)?.as_s().ok())
                        .cloned()
                };
                r.event_name().map(|n| n.as_str()) == Some("INSERT")
                    && key("pk").as_deref() == Some(ticket_pk.as_str())
                    && key("sk").as_deref() == Some(keys::TICKET_SK)
            });
            if let Some(record) = found {
                return intake_dev::poller::lambda_event(std::slice::from_ref(record));
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    panic!("no INSERT record of ticket {ticket_id} on the stream");
}

/// Puts an acknowledged ticket back to pending, as if its ack had never been decided, and
/// (when `forget_acks`) gives its contact only an ack from two days ago, so the policy sends
/// again and the write must drop that stale entry.
async fn undecide(stack: &Stack, ticket: &Ticket, forget_acks: bool) {
    let from = stored_ticket(stack, &ticket.id).await.ack_status;
    assert!(
        stack
            .store
            .transition_ack(&ticket.id, from, AckStatus::Pending, AckRecord::default())
            .await
            .expect("store")
    );
    if forget_acks {
        let two_days_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48);
        let old = [(
            "OLDTICKET".to_owned(),
            AttributeValue::S(two_days_ago.to_string()),
        )];
        set_contact_acks(stack, ticket, AttributeValue::M(old.into())).await;
    }
}

/// Stores `acks` as the `recent_acks` of the ticket's contact.
async fn set_contact_acks(stack: &Stack, ticket: &Ticket, acks: AttributeValue) {
    stack
        .store
        .client()
        .update_item()
        .table_name(stack.store.table())
        .key(
            "pk",
            AttributeValue::S(keys::contact(ticket.channel, &ticket.contact)),
        )
        .key("sk", AttributeValue::S(keys::CONTACT_SK.into()))
        .update_expression("SET recent_acks = :acks")
        .expression_attribute_values(":acks", acks)
        .send()
        .await
        .expect("contact");
}

/// Records `sent` through `store`, checking that the transaction failed and the writes were
/// made one by one (the transition, then the contact's note); whether the ticket moved.
async fn record_one_by_one(store: &Store, counter: &CallCounter, sent: &SentAck<'_>) -> bool {
    counter.take();
    let moved = store.record_sent(sent).await.expect("recorded");
    assert_eq!(
        counter.take(),
        ["TransactWriteItems", "UpdateItem", "UpdateItem"]
    );
    moved
}

/// Runs the acknowledger on `event` and returns the DynamoDB operations it sent.
async fn calls_of(ack: &Acknowledger, counter: &CallCounter, event: Event) -> Vec<String> {
    counter.take();
    let response = ack.handle_event(event).await;
    assert!(response.batch_item_failures.is_empty());
    let calls = counter.take();
    println!("DynamoDB calls: {} {calls:?}", calls.len());
    calls
}

#[tokio::test]
async fn an_sms_ack_is_one_read_the_claim_and_one_write_and_a_skip_two_calls() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let counter = CallCounter::default();
    let ack = counted_acknowledger(&stack, &counter).await;
    let (customer, ticket) = new_customer_ticket(&endpoints).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    let event = insert_record(&stack, &ticket.id).await;

    // Sent again, from the stream's image of the ticket.
    undecide(&stack, &ticket, true).await;
    let calls = calls_of(&ack, &counter, event.clone()).await;
    assert_eq!(endpoints.sent_to(&customer).await.len(), 2);
    assert_eq!(
        stored_ticket(&stack, &ticket.id).await.ack_status,
        AckStatus::Sent
    );
    let contact = endpoints.contact(&customer).await.expect("contact");
    assert_eq!(
        contact.recent_acks.len(),
        1,
        "the stale ack is dropped, the new one noted"
    );
    assert_eq!(calls, ["BatchGetItem", "UpdateItem", "TransactWriteItems"]);

    // Within the quiet period of that ack: skipped, in two calls.
    undecide(&stack, &ticket, false).await;
    let calls = calls_of(&ack, &counter, event.clone()).await;
    assert_eq!(
        stored_ticket(&stack, &ticket.id).await.ack_status,
        AckStatus::Skipped
    );
    assert_eq!(calls, ["BatchGetItem", "UpdateItem"]);

    // The record redelivered: the read shows the ticket decided, and nothing is written.
    let calls = calls_of(&ack, &counter, event).await;
    assert_eq!(calls, ["BatchGetItem"]);
    assert_eq!(endpoints.sent_to(&customer).await.len(), 2);

    // By ticket id alone (the CLI, tests): the ticket is read first.
    undecide(&stack, &ticket, false).await;
    counter.take();
    let outcome = ack.acknowledge(&ticket.id).await.expect("acknowledged");
    assert_eq!(outcome, AckOutcome::Skipped("quiet_period".into()));
    assert_eq!(counter.take(), ["GetItem", "BatchGetItem", "UpdateItem"]);
}

#[tokio::test]
async fn an_email_ack_maps_its_message_id_in_the_same_final_write() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let counter = CallCounter::default();
    let ack = counted_acknowledger(&stack, &counter).await;
    let customer = new_address();
    let mail = CustomerMail::new(&customer, "halo@tokoku.id", "Pesanan belum sampai", "Halo")
        .with_fixed_id();
    let signer = SnsSigner::local().expect("the local test key");
    let post =
        simulate_email::ses(&endpoints.url, &signer, TEST_SES_TOPIC_ARN, &mail).expect("signed");
    let (status, body) = endpoints.post_mail(&post).await;
    assert_eq!(status, 200, "{body}");
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(
        ticket.ack_status,
        AckStatus::Sent,
        "{:?}",
        ticket.ack_reason
    );
    let event = insert_record(&stack, &ticket.id).await;

    undecide(&stack, &ticket, true).await;
    let calls = calls_of(&ack, &counter, event).await;
    let acks = endpoints.emails_to(&customer).await;
    assert_eq!(acks.len(), 2);
    let second = &acks[1].message_id;
    let stored = stored_ticket(&stack, &ticket.id).await;
    assert_eq!(stored.ack_status, AckStatus::Sent);
    assert_eq!(stored.ack_provider_message_id.as_ref(), Some(second));
    // A reply to the second ack finds the ticket by its Message-ID.
    let mapped = stack
        .store
        .client()
        .get_item()
        .table_name(stack.store.table())
        .key(
            "pk",
            AttributeValue::S(keys::message_id(&format!("{second}@email.amazonses.com"))),
        )
        .key("sk", AttributeValue::S(keys::REF_SK.into()))
        .send()
        .await
        .expect("get")
        .item
        .and_then(|i| i.get("ticket_id")?.as_s().ok().cloned());
    assert_eq!(mapped.as_ref(), Some(&ticket.id));
    let contact = endpoints.email_contact(&customer).await.expect("contact");
    assert_eq!(contact.recent_acks.len(), 1);
    assert_eq!(calls, ["BatchGetItem", "UpdateItem", "TransactWriteItems"]);
}

#[tokio::test]
async fn a_failed_transaction_still_records_the_sent_ack_one_write_at_a_time() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let counter = CallCounter::default();
    let store = counted_store(&stack, &counter).await;
    let (customer, ticket) = new_customer_ticket(&endpoints).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);

    // The acknowledger read the contact's acks as a map, but they are now the list earlier
    // versions stored: the transaction's entry-by-entry note fails on that shape.
    let now = jiff::Timestamp::now();
    let hour_ago = now - jiff::SignedDuration::from_hours(1);
    let list = vec![AttributeValue::S(hour_ago.to_string())];
    set_contact_acks(&stack, &ticket, AttributeValue::L(list)).await;
    // Claimed again, as the acknowledger claims: under a token of its attempt.
    assert!(
        stack
            .store
            .transition_ack(
                &ticket.id,
                AckStatus::Sent,
                AckStatus::Pending,
                AckRecord::default()
            )
            .await
            .expect("store")
    );
    let claim = intake::ids::claim_token();
    assert!(
        stack
            .store
            .claim_ack(&ticket.id, &claim)
            .await
            .expect("store")
    );
    let previous = [RecentAck {
        at: hour_ago,
        key: Some("OTHERTICKET".into()),
    }];
    let sent = SentAck {
        ticket_id: &ticket.id,
        provider_message_id: Some("SMfallback"),
        claim: &claim,
        thread_id: None,
        channel: ticket.channel,
        contact: &ticket.contact,
        previous: &previous,
        at: now,
        language: "id",
    };
    assert!(record_one_by_one(&store, &counter, &sent).await);
    let stored = stored_ticket(&stack, &ticket.id).await;
    assert_eq!(stored.ack_status, AckStatus::Sent);
    assert_eq!(
        stored.ack_provider_message_id.as_deref(),
        Some("SMfallback")
    );
    let contact = endpoints.contact(&customer).await.expect("contact");
    let mut noted: Vec<_> = contact.recent_acks.iter().map(|a| a.key.clone()).collect();
    noted.sort();
    let mut expected = [Some("OTHERTICKET".to_owned()), Some(ticket.id.clone())];
    expected.sort();
    assert_eq!(noted, expected, "the contact's acks are written whole");

    // Recorded again (the ticket is no longer sending): the ticket's condition fails the
    // transaction, the ticket keeps its record, and the contact's note is written anyway.
    assert!(!record_one_by_one(&store, &counter, &sent).await);
    let stored = stored_ticket(&stack, &ticket.id).await;
    assert_eq!(stored.ack_status, AckStatus::Sent);
    assert_eq!(
        endpoints
            .contact(&customer)
            .await
            .expect("contact")
            .recent_acks
            .len(),
        2
    );
}
