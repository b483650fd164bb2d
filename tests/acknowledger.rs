//! The acknowledger against provider failures and stream redelivery. Each test has its own
//! stack: they tell the recorder to fail, which would disturb other tests.

use intake::model::AckStatus;
use intake_dev::recorder;
use intake_dev::simulate::TwilioSms;
use intake_tests::{Endpoints, OUR_NUMBER, new_number, own_stack, quiet_period};

#[tokio::test]
async fn a_temporary_provider_failure_is_retried_and_sent_once() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    recorder::fail_next(&endpoints.recorder, 503, 1)
        .await
        .expect("recorder");
    let customer = new_number();
    assert_eq!(
        endpoints
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
            .await
            .0,
        200
    );
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    quiet_period().await;
    let attempts = endpoints.sent_to(&customer).await;
    let statuses: Vec<u16> = attempts.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 201]);
}

#[tokio::test]
async fn a_throttled_send_is_retried_too() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    recorder::fail_next(&endpoints.recorder, 429, 2)
        .await
        .expect("recorder");
    let customer = new_number();
    assert_eq!(
        endpoints
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
            .await
            .0,
        200
    );
    assert_eq!(
        endpoints.settled_ticket(&customer).await.ack_status,
        AckStatus::Sent
    );
    quiet_period().await;
    let statuses: Vec<u16> = endpoints
        .sent_to(&customer)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 429, 201]);
}

#[tokio::test]
async fn a_permanent_rejection_is_recorded_as_failed_and_not_retried() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    recorder::fail_next(&endpoints.recorder, 400, 1)
        .await
        .expect("recorder");
    let customer = new_number();
    assert_eq!(
        endpoints
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
            .await
            .0,
        200
    );
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Failed);
    let reason = ticket.ack_reason.unwrap_or_default();
    assert!(
        reason.starts_with("21211"),
        "Twilio's error code is stored: {reason}"
    );
    quiet_period().await;
    assert_eq!(endpoints.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn a_redelivered_stream_record_never_sends_twice() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    assert_eq!(
        endpoints
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
            .await
            .0,
        200
    );
    let ticket = endpoints.settled_ticket(&customer).await;
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
    quiet_period().await;
    assert_eq!(endpoints.sent_to(&customer).await.len(), 1);
}
