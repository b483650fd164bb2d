//! Twilio SMS end to end: webhook → DynamoDB Local → stream → acknowledger → recorder.

use intake::model::AckStatus;
use intake_dev::simulate::{self, JsonPost, TwilioSms};
use intake_dev::stack::{TEST_ACCOUNT_SID, TEST_AUTH_TOKEN};
use intake_tests::{OUR_NUMBER, eventually, http, new_number, quiet_period, shared_stack};

#[tokio::test]
async fn first_message_opens_a_ticket_and_gets_one_ack() {
    let stack = shared_stack();
    let customer = new_number();
    let sms = TwilioSms::new(&customer, OUR_NUMBER, "Halo, pesanan saya belum sampai");
    let (status, body) = stack.send(&sms).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Response/>"), "{body}");

    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(ticket.message_count, 1);
    assert_eq!(ticket.status, "open");
    assert_eq!(ticket.provider, "twilio");
    assert!(
        ticket
            .ack_provider_message_id
            .as_deref()
            .is_some_and(|s| s.starts_with("SM"))
    );

    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Halo, pesanan saya belum sampai");
    assert_eq!(messages[0].from, customer);
    assert_eq!(messages[0].to, OUR_NUMBER);
    assert!(messages[0].provider_message_id.starts_with("SM"));

    let contact = stack.contact(&customer).await.expect("contact stored");
    assert_eq!(contact.open_ticket.as_deref(), Some(ticket.id.as_str()));

    quiet_period().await;
    let sent = stack.sent_to(&customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].from.as_deref(), Some(OUR_NUMBER));
    assert!(sent[0].authenticated);
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
    assert!(intake::sms::measure(&text).segments == 1);
}

#[tokio::test]
async fn the_same_webhook_fifty_times_at_once_stores_and_acks_once() {
    let stack = shared_stack();
    let customer = new_number();
    let post = stack.sign(&TwilioSms::new(&customer, OUR_NUMBER, "Paket saya rusak"));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let post = post.clone();
            tokio::spawn(async move { shared_stack().post(&post).await })
        })
        .collect();
    for handle in handles {
        let (status, body) = handle.await.expect("task");
        assert_eq!(status, 200, "{body}");
    }
    let ticket = stack.settled_ticket(&customer).await;
    quiet_period().await;
    assert_eq!(stack.tickets_of(&customer).await.len(), 1);
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);
    let ticket = stack.tickets_of(&customer).await.remove(0);
    assert_eq!(ticket.message_count, 1);
    assert_eq!(stack.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn two_messages_from_one_contact_make_one_ticket_with_one_ack() {
    let stack = shared_stack();
    let customer = new_number();
    assert_eq!(
        stack
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
            .await
            .0,
        200
    );
    stack.settled_ticket(&customer).await;
    assert_eq!(
        stack
            .send(&TwilioSms::new(
                &customer,
                OUR_NUMBER,
                "Nomor pesanan 12345"
            ))
            .await
            .0,
        200
    );
    quiet_period().await;
    let tickets = stack.tickets_of(&customer).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].message_count, 2);
    let bodies: Vec<String> = stack
        .messages(&tickets[0].id)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, vec!["Halo", "Nomor pesanan 12345"]);
    assert_eq!(stack.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn different_first_messages_at_the_same_instant_end_in_one_ticket() {
    let stack = shared_stack();
    // Several customers, each sending two different first messages at once, so the race
    // between "no open ticket" reads really happens.
    let customers: Vec<String> = (0..8).map(|_| new_number()).collect();
    let mut handles = Vec::new();
    for customer in &customers {
        for text in ["Pesanan belum sampai", "Tolong dibantu"] {
            let post = stack.sign(&TwilioSms::new(customer, OUR_NUMBER, text));
            handles.push(tokio::spawn(
                async move { shared_stack().post(&post).await },
            ));
        }
    }
    for handle in handles {
        assert_eq!(handle.await.expect("task").0, 200);
    }
    for customer in &customers {
        let ticket = stack.settled_ticket(customer).await;
        let tickets = stack.tickets_of(customer).await;
        assert_eq!(tickets.len(), 1, "{customer} has {} tickets", tickets.len());
        assert_eq!(tickets[0].message_count, 2);
        assert_eq!(stack.messages(&ticket.id).await.len(), 2);
    }
    quiet_period().await;
    for customer in &customers {
        assert_eq!(stack.sent_to(customer).await.len(), 1, "{customer}");
    }
}

#[tokio::test]
async fn stop_opts_out_and_is_never_acknowledged_start_opts_back_in() {
    let stack = shared_stack();
    let customer = new_number();
    assert_eq!(
        stack
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "STOP"))
            .await
            .0,
        200
    );
    let contact = stack.contact(&customer).await.expect("contact stored");
    assert!(contact.opted_out);
    assert!(
        stack.tickets_of(&customer).await.is_empty(),
        "STOP opens no ticket"
    );

    // A later question is stored, but an opted-out customer gets no automatic message.
    assert_eq!(
        stack
            .send(&TwilioSms::new(
                &customer,
                OUR_NUMBER,
                "Kapan paket saya datang?"
            ))
            .await
            .0,
        200
    );
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(ticket.ack_reason.as_deref(), Some("opted_out"));
    quiet_period().await;
    assert!(stack.sent_to(&customer).await.is_empty());

    assert_eq!(
        stack
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "start"))
            .await
            .0,
        200
    );
    assert!(!stack.contact(&customer).await.expect("contact").opted_out);
}

#[tokio::test]
async fn every_opt_out_word_is_honoured() {
    let stack = shared_stack();
    for word in ["stopall", "Unsubscribe", "CANCEL", "end", "Quit"] {
        let customer = new_number();
        assert_eq!(
            stack
                .send(&TwilioSms::new(&customer, OUR_NUMBER, word))
                .await
                .0,
            200
        );
        assert!(
            stack.contact(&customer).await.expect("contact").opted_out,
            "{word}"
        );
        assert!(stack.tickets_of(&customer).await.is_empty(), "{word}");
    }
}

#[tokio::test]
async fn help_is_stored_but_not_acknowledged() {
    let stack = shared_stack();
    let customer = new_number();
    assert_eq!(
        stack
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "HELP"))
            .await
            .0,
        200
    );
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(ticket.ack_reason.as_deref(), Some("help_keyword"));
    quiet_period().await;
    assert!(stack.sent_to(&customer).await.is_empty());
}

#[tokio::test]
async fn mms_media_is_stored_as_attachments() {
    let stack = shared_stack();
    let customer = new_number();
    let mut sms = TwilioSms::new(&customer, OUR_NUMBER, "Ini foto paketnya");
    sms.media = vec![
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1".into(),
            "image/jpeg".into(),
        ),
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2".into(),
            "application/pdf".into(),
        ),
    ];
    assert_eq!(stack.send(&sms).await.0, 200);
    let mut tickets = Vec::new();
    eventually("ticket stored", || {
        let customer = customer.clone();
        async move { !shared_stack().tickets_of(&customer).await.is_empty() }
    })
    .await;
    tickets.extend(stack.tickets_of(&customer).await);
    let messages = stack.messages(&tickets[0].id).await;
    let kinds: Vec<_> = messages[0]
        .attachments
        .iter()
        .map(|a| a.content_type.clone().unwrap_or_default())
        .collect();
    assert_eq!(kinds, vec!["image/jpeg", "application/pdf"]);
}

/// `sms` as an Event Streams webhook sink posts it, signed as Twilio signs JSON callbacks.
fn json_callback(sms: &TwilioSms) -> JsonPost {
    simulate::sign_twilio_json(
        &shared_stack().url,
        TEST_AUTH_TOKEN,
        sms.event_streams_json(TEST_ACCOUNT_SID),
    )
}

async fn post_json(post: &JsonPost) -> (u16, String) {
    simulate::post_json(&http(), post)
        .await
        .expect("stack reachable")
}

#[tokio::test]
async fn a_signed_json_callback_opens_a_ticket_and_gets_one_ack() {
    let stack = shared_stack();
    let customer = new_number();
    let post = json_callback(&TwilioSms::new(
        &customer,
        OUR_NUMBER,
        "Halo, paket saya belum datang \u{2014} mohon dicek",
    ));
    assert!(post.url.contains("?bodySHA256="), "{}", post.url);
    let (status, body) = post_json(&post).await;
    assert_eq!(status, 200, "{body}");

    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.provider, "twilio");
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].body,
        "Halo, paket saya belum datang \u{2014} mohon dicek"
    );
    assert_eq!(messages[0].to, OUR_NUMBER);
    // Event Streams redelivers after a timeout: the retry changes nothing.
    assert_eq!(post_json(&post).await.0, 200);
    quiet_period().await;
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);
    assert_eq!(stack.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn a_message_delivered_as_form_and_as_json_is_stored_once() {
    let stack = shared_stack();
    let customer = new_number();
    let mut sms = TwilioSms::new(&customer, OUR_NUMBER, "Pesanan 4411 belum sampai");
    sms.message_sid = Some(simulate::new_message_sid());
    assert_eq!(stack.send(&sms).await.0, 200);
    assert_eq!(post_json(&json_callback(&sms)).await.0, 200);
    let ticket = stack.settled_ticket(&customer).await;
    quiet_period().await;
    assert_eq!(stack.tickets_of(&customer).await.len(), 1);
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);
    assert_eq!(stack.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn tampered_json_callbacks_are_refused_and_store_nothing() {
    let stack = shared_stack();
    let customer = new_number();
    let post = json_callback(&TwilioSms::new(&customer, OUR_NUMBER, "Saya mau refund"));

    let mut body_changed = post.clone();
    body_changed.body = post.body.replace("refund", "voucher");
    // The attacker recomputes the hash for the new body; the signature no longer covers it.
    let mut hash_changed = body_changed.clone();
    let resigned =
        simulate::sign_twilio_json(&stack.url, "not-the-token", body_changed.body.clone());
    hash_changed.url = resigned.url;
    let mut no_hash = post.clone();
    no_hash.url = post.url.split_once('?').expect("query").0.to_owned();
    let mut unsigned = post.clone();
    unsigned.headers.clear();

    for (what, attempt) in [
        ("body changed", &body_changed),
        ("hash changed", &hash_changed),
        ("bodySHA256 missing", &no_hash),
        ("no signature", &unsigned),
    ] {
        let (status, body) = post_json(attempt).await;
        assert_eq!(status, 403, "{what}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert!(
            ["bad_signature", "missing_signature"].contains(&json["code"].as_str().unwrap_or("")),
            "{what}: {body}"
        );
    }
    quiet_period().await;
    assert!(stack.tickets_of(&customer).await.is_empty());
    assert!(stack.contact(&customer).await.is_none());
}

#[tokio::test]
async fn a_json_callback_without_a_message_is_answered_and_stores_nothing() {
    let stack = shared_stack();
    let customer = new_number();
    let statuses = serde_json::json!([{
        "specversion": "1.0",
        "type": "com.twilio.messaging.message.delivered",
        "id": "EZ00000000000000000000000000000009",
        "data": {
            "messageSid": simulate::new_message_sid(),
            "messageStatus": "DELIVERED",
            "from": OUR_NUMBER,
            "to": customer,
        }
    }]);
    let post = simulate::sign_twilio_json(&stack.url, TEST_AUTH_TOKEN, statuses.to_string());
    let (status, body) = post_json(&post).await;
    assert_eq!(status, 200, "{body}");
    quiet_period().await;
    assert!(stack.tickets_of(&customer).await.is_empty());
    assert!(stack.contact(&customer).await.is_none());
}
