//! AWS End User Messaging SMS end to end: two-way SMS's SNS notification (signed with the
//! local test key the stack trusts) → webhook → DynamoDB Local → acknowledger →
//! `SendTextMessage` through the real `aws-sdk-pinpointsmsvoicev2` to the recorder.

use intake::model::AckStatus;
use intake_dev::simulate::TwilioSms;
use intake_dev::simulate_aws_sms::{AwsSms, TEST_AWS_SMS_TOPIC_ARN, aws_sms};
use intake_dev::simulate_email::{MailPost, SnsSigner, sns_message, sns_post_to};
use intake_tests::{
    Endpoints, OUR_NUMBER, eventually, new_number, own_stack, quiet_period, shared_stack,
};

fn signed(sms: &AwsSms) -> MailPost {
    aws_sms(
        &shared_stack().url,
        &SnsSigner::local().expect("test key"),
        TEST_AWS_SMS_TOPIC_ARN,
        sms,
    )
    .expect("signed")
}

#[tokio::test]
async fn an_inbound_sms_opens_a_ticket_and_gets_one_ack_through_send_text_message() {
    let stack = shared_stack();
    let customer = new_number();
    let (status, body) = stack
        .post_mail(&signed(&AwsSms::new(
            &customer,
            OUR_NUMBER,
            "Halo, pesanan saya belum sampai",
        )))
        .await;
    assert_eq!(status, 200, "{body}");
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.provider, "aws");
    assert_eq!(ticket.ack_status, AckStatus::Sent, "{ticket:?}");
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Halo, pesanan saya belum sampai");
    assert_eq!(messages[0].to, OUR_NUMBER);

    quiet_period().await;
    let sent = stack.sent_to(&customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].provider, "aws");
    assert_eq!(sent[0].from.as_deref(), Some(OUR_NUMBER));
    assert_eq!(sent[0].kind.as_deref(), Some("transactional"));
    assert!(sent[0].authenticated, "SigV4-signed");
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
    assert_eq!(
        ticket.ack_provider_message_id.as_deref().map(str::len),
        Some(26)
    );
}

#[tokio::test]
async fn a_national_number_is_stored_in_e164() {
    let stack = shared_stack();
    let customer = new_number();
    let national = format!("0{}", &customer[3..]);
    let (status, body) = stack
        .post_mail(&signed(&AwsSms::new(&national, OUR_NUMBER, "Halo")))
        .await;
    assert_eq!(status, 200, "{body}");
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.contact, customer);
}

#[tokio::test]
async fn forged_tampered_and_foreign_deliveries_are_403_and_store_nothing() {
    let stack = shared_stack();
    let customer = new_number();
    let signer = SnsSigner::local().expect("test key");
    let sms = AwsSms::new(&customer, OUR_NUMBER, "Halo");

    // The text changed after SNS signed it.
    let mut message = sns_message("Notification", TEST_AWS_SMS_TOPIC_ARN, None, sms.payload());
    signer.sign(&mut message).expect("signed");
    message.message = message.message.replace("Halo", "Hola");
    let url = format!("{}/sms/aws", stack.url);
    // A signature that is not SNS's.
    let mut forged = sns_message("Notification", TEST_AWS_SMS_TOPIC_ARN, None, sms.payload());
    signer.sign(&mut forged).expect("signed");
    forged.signature = forged.signature.chars().rev().collect();
    // A genuine notification of a topic this stack does not accept.
    let mut foreign = sns_message(
        "Notification",
        "arn:aws:sns:eu-west-1:222222222222:someone-else",
        None,
        sms.payload(),
    );
    signer.sign(&mut foreign).expect("signed");
    for (what, message) in [
        ("tampered", &message),
        ("forged", &forged),
        ("foreign", &foreign),
    ] {
        let (status, body) = stack.post_mail(&sns_post_to(url.clone(), message)).await;
        assert_eq!(status, 403, "{what}: {body}");
        assert!(body.contains("\"code\""), "{what}: {body}");
    }
    assert!(!stack.any_key_contains(&customer).await, "nothing stored");
}

#[tokio::test]
async fn sns_redeliveries_and_twenty_concurrent_copies_store_one_message() {
    let stack = shared_stack();
    let customer = new_number();
    let sms = AwsSms::new(&customer, OUR_NUMBER, "Paket saya rusak");
    let post = signed(&sms);
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let post = post.clone();
            tokio::spawn(async move { shared_stack().post_mail(&post).await })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.expect("joined").0, 200);
    }
    // SNS redelivers the same SMS in a new envelope (a new MessageId): still one message.
    let (status, _) = stack.post_mail(&signed(&sms)).await;
    assert_eq!(status, 200);
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);
    quiet_period().await;
    assert_eq!(stack.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn an_aws_stop_stops_acks_through_every_sms_provider() {
    let stack = shared_stack();
    let customer = new_number();
    // AWS flags the keyword it matched; the text may be anything AWS counts as one.
    let mut stop = AwsSms::new(&customer, OUR_NUMBER, "arret");
    stop.keyword = Some("ARRET".into());
    assert_eq!(stack.post_mail(&signed(&stop)).await.0, 200);
    assert!(stack.contact(&customer).await.expect("contact").opted_out);

    // The same person writes through Twilio, their number spelled without '+'.
    let (status, _) = stack
        .send(&TwilioSms::new(&customer[1..], OUR_NUMBER, "Halo?"))
        .await;
    assert_eq!(status, 200);
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.provider, "twilio");
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(ticket.ack_reason.as_deref(), Some("opted_out"));
    quiet_period().await;
    assert!(stack.sent_to(&customer).await.is_empty());
}

#[tokio::test]
async fn the_topic_subscription_is_confirmed_once() {
    let stack = shared_stack();
    let signer = SnsSigner::local().expect("test key");
    let mut confirmation = sns_message(
        "SubscriptionConfirmation",
        TEST_AWS_SMS_TOPIC_ARN,
        None,
        "You have chosen to subscribe to the topic.".into(),
    );
    signer.sign(&mut confirmation).expect("signed");
    let post = sns_post_to(format!("{}/sms/aws", stack.url), &confirmation);
    for _ in 0..2 {
        let (status, body) = stack.post_mail(&post).await;
        assert_eq!(status, 200, "{body}");
    }
    let token = confirmation.token.clone().expect("token");
    eventually("one confirmation reached SNS", || async {
        intake_dev::recorder::fetch(&stack.recorder)
            .await
            .expect("recorder")
            .iter()
            .filter(|r| {
                r.provider == "sns" && r.body.as_deref().is_some_and(|b| b.contains(&token))
            })
            .count()
            == 1
    })
    .await;
}

/// A first AWS SMS from a new customer to a stack of its own whose SendTextMessage fake fails
/// the next `failures` sends with `status`: the settled ticket and what the fake answered.
async fn acked_through_failures(status: u16, failures: usize) -> (intake::model::Ticket, Vec<u16>) {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    intake_dev::recorder::fail_next(&endpoints.recorder, status, failures)
        .await
        .expect("recorder");
    let customer = new_number();
    let post = aws_sms(
        &endpoints.url,
        &SnsSigner::local().expect("test key"),
        TEST_AWS_SMS_TOPIC_ARN,
        &AwsSms::new(&customer, OUR_NUMBER, "Halo"),
    )
    .expect("signed");
    assert_eq!(endpoints.post_mail(&post).await.0, 200);
    let ticket = endpoints.settled_ticket(&customer).await;
    quiet_period().await;
    let statuses = endpoints
        .sent_to(&customer)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    (ticket, statuses)
}

#[tokio::test]
async fn a_server_error_of_send_text_message_is_retried_and_sent_once() {
    let (ticket, statuses) = acked_through_failures(500, 1).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(statuses, vec![500, 200]);
}

#[tokio::test]
async fn a_validation_error_is_recorded_with_its_code_and_not_retried() {
    let (ticket, statuses) = acked_through_failures(400, 1).await;
    assert_eq!(ticket.ack_status, AckStatus::Failed);
    let reason = ticket.ack_reason.unwrap_or_default();
    assert!(reason.starts_with("ValidationException"), "{reason}");
    assert_eq!(statuses, vec![400]);
}
