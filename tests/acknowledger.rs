//! The acknowledger against provider failures and stream redelivery. Each test has its own
//! stack: they tell the recorder to fail, which would disturb other tests.

use intake::model::{AckStatus, Ticket};
use intake_dev::recorder;
use intake_dev::simulate::TwilioSms;
use intake_dev::stack::Stack;
use intake_tests::{Endpoints, OUR_NUMBER, new_number, own_stack, quiet_period};

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
    let customer = new_number();
    let (code, body) = endpoints
        .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
        .await;
    assert_eq!(code, 200, "{body}");
    let ticket = endpoints.settled_ticket(&customer).await;
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
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(serde_json::json!({
        "Records": [{
            "eventID": "redelivered-1",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "ap-southeast-3",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795334400.0,
                "Keys": { "pk": { "S": format!("TICKET#{}", ticket.id) }, "sk": { "S": "META" } },
                "SequenceNumber": "100000000000000000001",
                "SizeBytes": 120,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:ap-southeast-3:123456789012:table/intake/stream/2026-11-22T00:00:00.000"
        }]
    }))
    .expect("Lambda's DynamoDB event shape");
    let (a, b) = tokio::join!(
        stack.acknowledger.handle_event(event.clone()),
        stack.acknowledger.handle_event(event)
    );
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty());
    assert_eq!(attempts(&endpoints, &customer).await, vec![201]);
}
