//! Telnyx SMS end to end: signed webhook → DynamoDB Local → stream → acknowledger → the
//! recorder standing in for Telnyx's Messages API.

use intake::model::AckStatus;
use intake_dev::recorder;
use intake_dev::simulate::{self, JsonPost, TelnyxSms, TwilioSms};
use intake_dev::stack::TEST_TELNYX_SEED;
use intake_tests::{
    Endpoints, OUR_NUMBER, http, new_number, own_stack, quiet_period, shared_stack,
};

/// `sms` signed now with the stack's Telnyx test key.
fn signed(sms: &TelnyxSms) -> JsonPost {
    signed_at(sms, jiff::Timestamp::now().as_second())
}

fn signed_at(sms: &TelnyxSms, timestamp: i64) -> JsonPost {
    simulate::sign_telnyx(
        &shared_stack().url,
        &TEST_TELNYX_SEED,
        timestamp,
        sms.payload(),
    )
}

async fn post(post: &JsonPost) -> (u16, String) {
    simulate::post_json(&http(), post)
        .await
        .expect("stack reachable")
}

/// Nothing at all was stored for `customer`: no ticket, no contact.
async fn nothing_stored_for(customer: &str) {
    let stack = shared_stack();
    assert!(stack.tickets_of(customer).await.is_empty(), "{customer}");
    assert!(stack.contact(customer).await.is_none(), "{customer}");
}

#[tokio::test]
async fn a_signed_sms_opens_a_ticket_and_gets_one_ack_through_telnyx() {
    let stack = shared_stack();
    let customer = new_number();
    let (status, body) = post(&signed(&TelnyxSms::new(
        &customer,
        OUR_NUMBER,
        "Halo, pesanan saya belum sampai",
    )))
    .await;
    assert_eq!(status, 200, "{body}");

    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.provider, "telnyx");
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(ticket.message_count, 1);
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Halo, pesanan saya belum sampai");
    assert_eq!(messages[0].from, customer);
    assert_eq!(messages[0].to, OUR_NUMBER);

    quiet_period().await;
    let sent = stack.sent_to(&customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].provider, "telnyx");
    assert_eq!(sent[0].path, "/v2/messages");
    assert_eq!(sent[0].from.as_deref(), Some(OUR_NUMBER));
    assert!(sent[0].authenticated, "sent with the API key as Bearer");
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
    // The id Telnyx gave the ack is kept on the ticket.
    let ack_id = stack
        .settled_ticket(&customer)
        .await
        .ack_provider_message_id;
    assert!(ack_id.is_some_and(|id| id.len() == 36), "a UUID");
}

#[tokio::test]
async fn mms_media_are_kept_as_attachments() {
    let stack = shared_stack();
    let customer = new_number();
    let mut sms = TelnyxSms::new(&customer, OUR_NUMBER, "Ini foto paketnya");
    sms.media = vec![
        (
            "https://media.telnyx.com/mms/1/photo.jpg".into(),
            "image/jpeg".into(),
        ),
        (
            "https://media.telnyx.com/mms/1/receipt.pdf".into(),
            "application/pdf".into(),
        ),
    ];
    assert_eq!(post(&signed(&sms)).await.0, 200);
    let ticket = stack.settled_ticket(&customer).await;
    let messages = stack.messages(&ticket.id).await;
    let media: Vec<(String, String)> = messages[0]
        .attachments
        .iter()
        .map(|a| {
            (
                a.url.clone().unwrap_or_default(),
                a.content_type.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(media, sms.media);
}

#[tokio::test]
async fn a_retry_and_twenty_concurrent_copies_store_and_ack_once() {
    let stack = shared_stack();
    let customer = new_number();
    let webhook = signed(&TelnyxSms::new(&customer, OUR_NUMBER, "Paket saya rusak"));
    assert_eq!(post(&webhook).await.0, 200);
    // Telnyx retries when it did not see a 2xx in time: the same event, re-signed later.
    let mut retry = TelnyxSms::new(&customer, OUR_NUMBER, "Paket saya rusak");
    let id: serde_json::Value = serde_json::from_str(&webhook.body).expect("JSON");
    retry.id = id["data"]["payload"]["id"].as_str().map(str::to_owned);
    let retry = signed_at(&retry, jiff::Timestamp::now().as_second() + 1);
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let retry = retry.clone();
            tokio::spawn(async move { post(&retry).await })
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
    assert_eq!(stack.tickets_of(&customer).await[0].message_count, 1);
    assert_eq!(stack.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn forged_tampered_and_replayed_webhooks_are_refused_and_store_nothing() {
    let customer = new_number();
    let sms = TelnyxSms::new(&customer, OUR_NUMBER, "Saya mau refund");
    let now = jiff::Timestamp::now().as_second();
    let good = signed_at(&sms, now);

    let mut tampered = good.clone();
    tampered.body = good.body.replace("refund", "voucher");
    let wrong_key = simulate::sign_telnyx(
        &shared_stack().url,
        b"not-the-telnyx-account-key-seed!",
        now,
        sms.payload(),
    );
    let six_minutes_old = signed_at(&sms, now - 360);
    let six_minutes_ahead = signed_at(&sms, now + 360);
    // The signature of one moment under another timestamp header.
    let mut retimed = good.clone();
    for (name, value) in &mut retimed.headers {
        if name == "telnyx-timestamp" {
            *value = (now + 1).to_string();
        }
    }
    let mut unsigned = good.clone();
    unsigned.headers.clear();

    for (what, attempt, code) in [
        ("tampered body", &tampered, "bad_signature"),
        ("another key", &wrong_key, "bad_signature"),
        ("timestamp changed", &retimed, "bad_signature"),
        ("6 minutes old", &six_minutes_old, "stale_request"),
        (
            "6 minutes in the future",
            &six_minutes_ahead,
            "stale_request",
        ),
        ("no signature", &unsigned, "missing_signature"),
    ] {
        let (status, body) = post(attempt).await;
        assert_eq!(status, 403, "{what}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert_eq!(json["code"], code, "{what}: {body}");
        assert!(!body.contains(&customer), "{what}: {body}");
    }
    quiet_period().await;
    nothing_stored_for(&customer).await;
    assert!(shared_stack().sent_to(&customer).await.is_empty());
}

#[tokio::test]
async fn delivery_receipts_are_answered_and_store_nothing() {
    let customer = new_number();
    for event in ["message.sent", "message.finalized"] {
        let body = serde_json::json!({
            "data": {
                "event_type": event,
                "id": simulate::new_uuid(),
                "record_type": "event",
                "payload": {
                    "direction": "outbound",
                    "id": simulate::new_uuid(),
                    "from": {"phone_number": OUR_NUMBER},
                    "to": [{"phone_number": customer, "status": "delivered"}],
                    "text": "Terima kasih, tiket Anda sudah kami terima.",
                }
            }
        })
        .to_string();
        let receipt = simulate::sign_telnyx(
            &shared_stack().url,
            &TEST_TELNYX_SEED,
            jiff::Timestamp::now().as_second(),
            body,
        );
        let (status, answer) = post(&receipt).await;
        assert_eq!(status, 200, "{event}: {answer}");
    }
    quiet_period().await;
    nothing_stored_for(&customer).await;
}

/// Telnyx sends no keyword flag: STOP is recognised by the pipeline's central keyword
/// classification.
#[tokio::test]
async fn stop_through_telnyx_opts_out_without_a_ticket_or_an_ack() {
    let stack = shared_stack();
    let customer = new_number();
    assert_eq!(
        post(&signed(&TelnyxSms::new(&customer, OUR_NUMBER, "STOP")))
            .await
            .0,
        200
    );
    let contact = stack.contact(&customer).await.expect("contact stored");
    assert!(contact.opted_out);
    assert!(stack.tickets_of(&customer).await.is_empty());
    quiet_period().await;
    assert!(stack.sent_to(&customer).await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_a_telnyx_webhook_is_a_400_after_its_signature() {
    let customer = new_number();
    let mut webhook = signed(&TelnyxSms::new(&customer, OUR_NUMBER, "x"));
    webhook.body = format!(
        "{{\"data\":{{\"event_type\":\"message.received\",\"payload\":{{\"from\":{{\"phone_number\":\"{customer}\"}}}}}}}}"
    );
    let now = jiff::Timestamp::now().as_second();
    let resigned = simulate::sign_telnyx(&shared_stack().url, &TEST_TELNYX_SEED, now, webhook.body);
    let (status, body) = post(&resigned).await;
    assert_eq!(status, 400, "{body}");
    quiet_period().await;
    nothing_stored_for(&customer).await;
}

#[test]
fn the_documented_local_public_key_is_the_test_key_pairs() {
    let key = intake_dev::stack::test_telnyx_public_key().expect("key");
    assert!(
        intake_dev::dotenv::BUILT_IN.contains(&format!("\nTELNYX_PUBLIC_KEY={key}\n")),
        "set TELNYX_PUBLIC_KEY={key} in .env.example"
    );
}

#[tokio::test]
async fn other_media_types_large_bodies_and_other_methods_are_refused_with_json() {
    let customer = new_number();
    let url = format!("{}/sms/telnyx", shared_stack().url);
    let mut form = signed(&TelnyxSms::new(&customer, OUR_NUMBER, "Halo"));
    form.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let mut large = signed(&TelnyxSms::new(
        &customer,
        OUR_NUMBER,
        &"a".repeat(70 * 1024),
    ));
    large
        .headers
        .push(("content-type".into(), "application/json".into()));
    for (what, webhook, status) in [("form", &form, 415), ("over 64 KiB", &large, 413)] {
        let mut request = http().post(&url).body(webhook.body.clone());
        for (k, v) in &webhook.headers {
            request = request.header(k, v);
        }
        let response = request.send().await.expect("stack reachable");
        assert_eq!(response.status().as_u16(), status, "{what}");
        let json: serde_json::Value = response.json().await.expect("JSON error");
        assert!(json["code"].is_string(), "{what}: {json}");
    }
    let response = http().get(&url).send().await.expect("stack reachable");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    quiet_period().await;
    nothing_stored_for(&customer).await;
}

/// A first Telnyx SMS from a new customer to a stack of its own whose Telnyx fake fails the
/// next `failures` sends with `status`: the settled ticket and the statuses the fake answered.
async fn acked_through_failures(status: u16, failures: usize) -> (intake::model::Ticket, Vec<u16>) {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    recorder::fail_next(&endpoints.recorder, status, failures)
        .await
        .expect("recorder");
    let customer = new_number();
    let webhook = simulate::sign_telnyx(
        &endpoints.url,
        &TEST_TELNYX_SEED,
        jiff::Timestamp::now().as_second(),
        TelnyxSms::new(&customer, OUR_NUMBER, "Halo").payload(),
    );
    assert_eq!(post(&webhook).await.0, 200);
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
async fn a_temporary_telnyx_failure_is_retried_and_sent_once() {
    let (ticket, statuses) = acked_through_failures(503, 1).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(statuses, vec![503, 200]);
}

#[tokio::test]
async fn a_telnyx_rejection_is_recorded_with_its_error_code_and_not_retried() {
    let (ticket, statuses) = acked_through_failures(400, 1).await;
    assert_eq!(ticket.ack_status, AckStatus::Failed);
    let reason = ticket.ack_reason.unwrap_or_default();
    assert!(
        reason.starts_with("40310"),
        "errors[0].code is stored: {reason}"
    );
    assert_eq!(statuses, vec![400]);
}

#[tokio::test]
async fn a_stop_through_twilio_stops_acks_through_telnyx_and_numbers_are_one_customer() {
    let stack = shared_stack();
    let customer = new_number();
    assert_eq!(
        stack
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "BERHENTI"))
            .await
            .0,
        200
    );
    assert!(stack.contact(&customer).await.expect("contact").opted_out);

    // The same person through Telnyx, the number written nationally (0812...).
    let national = format!("0{}", &customer[3..]);
    assert_eq!(
        post(&signed(&TelnyxSms::new(
            &national,
            OUR_NUMBER,
            "Halo, ada yang bisa bantu?"
        )))
        .await
        .0,
        200
    );
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.provider, "telnyx");
    assert_eq!(ticket.contact, customer);
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(ticket.ack_reason.as_deref(), Some("opted_out"));
    quiet_period().await;
    assert!(stack.sent_to(&customer).await.is_empty());
}
