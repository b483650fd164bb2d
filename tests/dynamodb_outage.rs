//! DynamoDB unavailable: the provider gets 503 (so it retries), and the retry is stored once.

use intake::model::AckStatus;
use intake_dev::simulate::TwilioSms;
use intake_tests::{Endpoints, OUR_NUMBER, new_number, own_stack, quiet_period};

#[tokio::test]
async fn dynamodb_down_gives_503_and_the_retry_lands_once() {
    let mut stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_number();
    let post = endpoints.sign(&TwilioSms::new(&customer, OUR_NUMBER, "Halo, ada orang?"));

    stack.dynamo.stop().await;
    let (status, body) = endpoints.post(&post).await;
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
    // What failed, and nothing of how: the SDK's error (with DynamoDB Local's address) is
    // in the log only.
    assert_eq!(
        json,
        serde_json::json!({
            "error": "the ticket store is unavailable, retry later",
            "code": "store_unavailable",
        })
    );
    let dynamodb_port = endpoints.dynamodb.rsplit(':').next().expect("port");
    for internal in [
        "127.0.0.1",
        dynamodb_port,
        "dispatch",
        "connect",
        "DynamoDB",
    ] {
        assert!(!body.contains(internal), "{internal:?} in {body}");
    }

    stack
        .dynamo
        .restart()
        .await
        .expect("DynamoDB Local restarts");
    // Twilio retries the identical request; a second retry must change nothing.
    assert_eq!(endpoints.post(&post).await.0, 200);
    assert_eq!(endpoints.post(&post).await.0, 200);

    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(endpoints.tickets_of(&customer).await.len(), 1);
    assert_eq!(endpoints.messages(&ticket.id).await.len(), 1);
    quiet_period().await;
    assert_eq!(endpoints.sent_to(&customer).await.len(), 1);
}
