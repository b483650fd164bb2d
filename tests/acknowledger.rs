//! The acknowledger against provider failures and stream redelivery. Each test has its own
//! stack: they tell the recorder to fail, which would disturb other tests.

use aws_lambda_events::event::dynamodb::Event;
use intake::model::{AckStatus, Ticket};
use intake_dev::recorder;
use intake_dev::stack::Stack;
use intake_tests::{
    Endpoints, new_customer_ticket, own_stack, pending_tickets, quiet_period, stored_ticket,
};

/// A stack whose Twilio fake fails the next `failures` sends with `status`, and a first
/// message from a new customer, once its ack has settled.
async fn first_message_with(status: u16, failures: usize) -> (Stack, Endpoints, String, Ticket) {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    if failures > 0 {
        recorder::fail_next(&endpoints.recorder, status, failures)
            .await
            .expect("recorder");
    }
    let (customer, ticket) = new_customer_ticket(&endpoints).await;
    (stack, endpoints, customer, ticket)
}

/// The statuses the Twilio fake answered for `customer`, once the stream has gone quiet.
async fn attempts(endpoints: &Endpoints, customer: &str) -> Vec<u16> {
    quiet_period().await;
    endpoints
        .sent_to(customer)
        .await
        .iter()
        .map(|r| r.status)
        .collect()
}

/// A stream batch as Lambda delivers it: the INSERT of each `(ticket id, sequence number)`.
fn batch(records: &[(&str, &str)]) -> Event {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(ticket_id, sequence)| serde_json::json!({
            "eventID": format!("record-{sequence}"),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "ap-southeast-3",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795334400.0,
                "Keys": { "pk": { "S": format!("TICKET#{ticket_id}") }, "sk": { "S": "META" } },
                "SequenceNumber": sequence,
                "SizeBytes": 120,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:ap-southeast-3:123456789012:table/intake/stream/2026-11-22T00:00:00.000"
        }))
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records }))
        .expect("Lambda's DynamoDB event shape")
}

/// The sequence numbers a response reports for retry.
fn reported(response: &aws_lambda_events::event::streams::DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

/// The stored ack status of a ticket.
async fn ack_status(stack: &Stack, ticket_id: &str) -> AckStatus {
    stored_ticket(stack, ticket_id).await.ack_status
}

/// The statuses the Twilio fake answered `customer` after the first (refused) ack.
async fn attempts_after_reset(endpoints: &Endpoints, customer: &str) -> Vec<u16> {
    let all = attempts(endpoints, customer).await;
    assert_eq!(all.first(), Some(&400), "the refused first ack");
    all[1..].to_vec()
}

#[tokio::test]
async fn a_temporary_provider_failure_is_retried_and_sent_once() {
    let (_stack, endpoints, customer, ticket) = first_message_with(503, 1).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(attempts(&endpoints, &customer).await, vec![503, 201]);
}

#[tokio::test]
async fn a_throttled_send_is_retried_too() {
    let (_stack, endpoints, customer, ticket) = first_message_with(429, 2).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(attempts(&endpoints, &customer).await, vec![429, 429, 201]);
}

#[tokio::test]
async fn a_permanent_rejection_is_recorded_as_failed_and_not_retried() {
    let (_stack, endpoints, customer, ticket) = first_message_with(400, 1).await;
    assert_eq!(ticket.ack_status, AckStatus::Failed);
    let reason = ticket.ack_reason.unwrap_or_default();
    assert!(
        reason.starts_with("21211"),
        "Twilio's error code is stored: {reason}"
    );
    assert_eq!(attempts(&endpoints, &customer).await, vec![400]);
}

#[tokio::test]
async fn a_redelivered_stream_record_never_sends_twice() {
    let (stack, endpoints, customer, ticket) = first_message_with(0, 0).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);

    // The INSERT record of the ticket, as Lambda would deliver it again after a timeout.
    let event = batch(&[(&ticket.id, "100000000000000000001")]);
    let (a, b) = tokio::join!(
        stack.acknowledger.handle_event(event.clone()),
        stack.acknowledger.handle_event(event)
    );
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty());
    assert_eq!(attempts(&endpoints, &customer).await, vec![201]);
}

#[tokio::test]
async fn a_batch_naming_a_ticket_twice_sends_once() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let tickets = pending_tickets(&stack, &endpoints, 1).await;
    let (customer, ticket) = &tickets[0];
    // The provider fails the one send for now: run side by side, the second record must not
    // claim the ticket again once the first has put it back to pending.
    recorder::fail_next(&endpoints.recorder, 503, 1)
        .await
        .expect("recorder");
    let response = stack
        .acknowledger
        .handle_event(batch(&[(&ticket.id, "201"), (&ticket.id, "202")]))
        .await;
    assert_eq!(attempts_after_reset(&endpoints, customer).await, vec![503]);
    assert_eq!(reported(&response), vec!["201", "202"]);
    assert_eq!(ack_status(&stack, &ticket.id).await, AckStatus::Pending);

    // Delivered again (as Lambda retries it), the ticket is sent, once.
    let response = stack
        .acknowledger
        .handle_event(batch(&[(&ticket.id, "201"), (&ticket.id, "202")]))
        .await;
    assert!(reported(&response).is_empty());
    assert_eq!(
        attempts_after_reset(&endpoints, customer).await,
        vec![503, 201]
    );
}

#[tokio::test]
async fn a_batch_reports_exactly_its_temporarily_failed_records() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    // More tickets than are acked at once, so the bound is crossed.
    let count = intake::ack::batching::ACK_CONCURRENCY + 2;
    let tickets = pending_tickets(&stack, &endpoints, count).await;
    // Whichever sends come first: three fail for now, two for good, the rest go out.
    recorder::fail_next(&endpoints.recorder, 503, 3)
        .await
        .expect("recorder");
    recorder::fail_next(&endpoints.recorder, 400, 2)
        .await
        .expect("recorder");
    let sequences: Vec<String> = (0..count).map(|i| format!("{}", 300 + i)).collect();
    let records: Vec<(&str, &str)> = tickets
        .iter()
        .zip(&sequences)
        .map(|((_, t), s)| (t.id.as_str(), s.as_str()))
        .collect();
    let response = stack.acknowledger.handle_event(batch(&records)).await;

    let mut expected = Vec::new();
    let mut statuses = Vec::new();
    for ((customer, ticket), sequence) in tickets.iter().zip(&sequences) {
        let sent = attempts_after_reset(&endpoints, customer).await;
        assert_eq!(sent.len(), 1, "one send per ticket: {sent:?}");
        let want = match sent[0] {
            503 => {
                expected.push(sequence.clone());
                AckStatus::Pending
            }
            400 => AckStatus::Failed,
            _ => AckStatus::Sent,
        };
        assert_eq!(
            ack_status(&stack, &ticket.id).await,
            want,
            "ticket {}",
            ticket.id
        );
        statuses.push(sent[0]);
    }
    statuses.sort_unstable();
    let mut want_statuses = vec![201; count - 5];
    want_statuses.extend([400, 400, 503, 503, 503]);
    want_statuses.sort_unstable();
    assert_eq!(statuses, want_statuses);
    assert_eq!(reported(&response), expected);
}
