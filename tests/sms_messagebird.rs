//! MessageBird / Bird SMS end to end: a signed webhook of either platform → DynamoDB Local →
//! stream → acknowledger → the recorder standing in for that platform's API.

use intake::model::AckStatus;
use intake::providers::messagebird;
use intake_dev::simulate_messagebird::{
    self as mb, BIRD_CHANNEL_ID, MessageBirdSms, Platform, SignedRequest,
};
use intake_dev::stack::{
    TEST_BIRD_SIGNING_KEY, TEST_BIRD_WORKSPACE_ID, TEST_MESSAGEBIRD_SIGNING_KEY,
};
use intake_tests::{OUR_NUMBER, http, new_number, quiet_period, shared_stack};
use jiff::{SignedDuration, Timestamp};

/// `{"alg":"none","typ":"JWT"}`, base64url (the header of MessageBird's published `none` case).
const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

async fn post(request: &SignedRequest) -> (u16, String) {
    mb::post(&http(), request).await.expect("stack reachable")
}

fn legacy(sms: &MessageBirdSms, now: Timestamp) -> SignedRequest {
    mb::sign(
        Platform::Legacy,
        &shared_stack().url,
        TEST_MESSAGEBIRD_SIGNING_KEY,
        sms,
        now,
    )
}

fn bird(sms: &MessageBirdSms, now: Timestamp) -> SignedRequest {
    mb::sign(
        Platform::Bird,
        &shared_stack().url,
        TEST_BIRD_SIGNING_KEY,
        sms,
        now,
    )
}

/// The number as legacy MessageBird writes it (and is sent to): digits, no `+`.
fn digits(number: &str) -> String {
    number.trim_start_matches('+').to_owned()
}

#[tokio::test]
async fn a_legacy_messagebird_sms_opens_a_ticket_and_gets_one_ack_through_messagebird() {
    let stack = shared_stack();
    let customer = new_number();
    let sms = MessageBirdSms::new(&customer, OUR_NUMBER, "Halo, pesanan saya belum sampai");
    let (status, body) = post(&legacy(&sms, Timestamp::now())).await;
    assert_eq!(status, 200, "{body}");

    // The pipeline writes the customer's number in E.164 whatever MessageBird wrote.
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(ticket.provider, "messagebird");
    assert_eq!(ticket.message_count, 1);
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Halo, pesanan saya belum sampai");
    assert_eq!(messages[0].from, customer);
    assert_eq!(messages[0].to, digits(OUR_NUMBER));
    assert_eq!(messages[0].provider_message_id.len(), 32);

    quiet_period().await;
    let sent = stack.sent_to(&digits(&customer)).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].provider, "messagebird");
    assert_eq!(sent[0].path, "/messages");
    assert_eq!(sent[0].from.as_deref(), Some(digits(OUR_NUMBER).as_str()));
    assert!(sent[0].authenticated);
    assert_eq!(sent[0].status, 201);
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
    assert!(
        ticket
            .ack_provider_message_id
            .as_deref()
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn a_bird_sms_opens_a_ticket_and_gets_one_ack_through_birds_channel() {
    let stack = shared_stack();
    let customer = new_number();
    let sms = MessageBirdSms::new(&customer, BIRD_CHANNEL_ID, "Paket saya rusak");
    let (status, body) = post(&bird(&sms, Timestamp::now())).await;
    assert_eq!(status, 200, "{body}");

    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(ticket.provider, "messagebird");
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Paket saya rusak");
    assert_eq!(messages[0].from, customer);
    assert_eq!(messages[0].to, BIRD_CHANNEL_ID);
    // Its dedup item, whose absence the bad-input test relies on.
    let dedup = format!("DEDUP#messagebird#{}", messages[0].provider_message_id);
    assert!(stack.any_key_contains(&dedup).await, "{dedup}");

    quiet_period().await;
    let sent = stack.sent_to(&customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].provider, "messagebird");
    assert_eq!(sent[0].kind.as_deref(), Some("bird"));
    assert_eq!(
        sent[0].path,
        format!("/workspaces/{TEST_BIRD_WORKSPACE_ID}/channels/{BIRD_CHANNEL_ID}/messages")
    );
    assert!(sent[0].authenticated);
    assert_eq!(sent[0].status, 202);
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
}

#[tokio::test]
async fn forged_stale_or_tampered_webhooks_are_refused_and_store_nothing() {
    let stack = shared_stack();
    let customer = new_number();
    let now = Timestamp::now();
    let sms = MessageBirdSms::new(&customer, OUR_NUMBER, "Saya mau refund");
    let good = legacy(&sms, now);

    let mut tampered = good.clone();
    tampered.body = good.body.replace("refund", "voucher");
    let wrong_key = mb::sign(
        Platform::Legacy,
        &stack.url,
        "not-the-signing-key",
        &sms,
        now,
    );
    // Signed for another URL (another deployment's, or an attacker's), replayed here.
    let mut other_url = mb::sign(
        Platform::Legacy,
        "https://attacker.example.net",
        TEST_MESSAGEBIRD_SIGNING_KEY,
        &sms,
        now,
    );
    other_url.url = good.url.clone();
    let expired = legacy(&sms, now - SignedDuration::from_secs(120));
    let mut alg_none = good.clone();
    let claims = good.headers[0].1.split('.').nth(1).expect("claims");
    alg_none.headers[0].1 = format!("{NONE_HEADER}.{claims}.");
    let mut unsigned = good.clone();
    unsigned.headers.clear();

    let bird_sms = MessageBirdSms::new(&customer, BIRD_CHANNEL_ID, "Saya mau refund");
    let mut bird_tampered = bird(&bird_sms, now);
    bird_tampered.body = bird_tampered.body.replace("refund", "voucher");
    let bird_wrong_key = mb::sign(
        Platform::Bird,
        &stack.url,
        "not-the-signing-key",
        &bird_sms,
        now,
    );
    // Well past the 5-minute edge (the unit tests check the edge itself to the second): these
    // requests are posted over a few seconds of a busy shared stack.
    let bird_old = bird(&bird_sms, now - SignedDuration::from_secs(330));
    let bird_ahead = bird(&bird_sms, now + SignedDuration::from_secs(330));

    for (what, attempt, code) in [
        ("tampered body", &tampered, "bad_signature"),
        ("wrong key", &wrong_key, "bad_signature"),
        ("url_hash of another URL", &other_url, "bad_signature"),
        ("expired JWT", &expired, "stale_request"),
        ("alg none", &alg_none, "bad_signature"),
        ("no signature", &unsigned, "missing_signature"),
        ("Bird: tampered body", &bird_tampered, "bad_signature"),
        ("Bird: wrong key", &bird_wrong_key, "bad_signature"),
        ("Bird: signed 5½ min ago", &bird_old, "stale_request"),
        ("Bird: signed 5½ min ahead", &bird_ahead, "stale_request"),
    ] {
        let (status, body) = post(attempt).await;
        assert_eq!(status, 403, "{what}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert_eq!(json["code"], code, "{what}: {body}");
    }
    quiet_period().await;
    assert!(stack.tickets_of(&customer).await.is_empty());
    assert!(stack.contact(&customer).await.is_none());
    assert!(stack.sent_to(&customer).await.is_empty());
    assert!(stack.sent_to(&digits(&customer)).await.is_empty());
}

#[tokio::test]
async fn a_retry_and_twenty_concurrent_copies_store_and_ack_once() {
    let stack = shared_stack();
    for platform in [Platform::Legacy, Platform::Bird] {
        let customer = new_number();
        let (to, mut sms) = match platform {
            Platform::Legacy => (
                digits(&customer),
                MessageBirdSms::new(&customer, OUR_NUMBER, "Tolong dibantu"),
            ),
            Platform::Bird => (
                customer.clone(),
                MessageBirdSms::new(&customer, BIRD_CHANNEL_ID, "Tolong dibantu"),
            ),
        };
        let sign = |sms: &MessageBirdSms, now| match platform {
            Platform::Legacy => legacy(sms, now),
            Platform::Bird => bird(sms, now),
        };
        // One message id for every delivery: the first, a retry signed anew (a new token, or
        // for Bird a new signing), and twenty copies of the same request at once.
        let first = sign(&sms, Timestamp::now());
        let id = match platform {
            Platform::Legacy => first
                .body
                .split('&')
                .next()
                .expect("id")
                .trim_start_matches("id=")
                .to_owned(),
            Platform::Bird => serde_json::from_str::<serde_json::Value>(&first.body).expect("JSON")
                ["payload"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        };
        sms.id = Some(id);
        assert_eq!(post(&first).await.0, 200, "{platform:?}");
        let retry = sign(&sms, Timestamp::now());
        assert_eq!(post(&retry).await.0, 200, "{platform:?} retry");
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let retry = retry.clone();
                tokio::spawn(async move { post(&retry).await })
            })
            .collect();
        for handle in handles {
            let (status, body) = handle.await.expect("task");
            assert_eq!(status, 200, "{platform:?}: {body}");
        }
        let ticket = stack.settled_ticket(&customer).await;
        quiet_period().await;
        let tickets = stack.tickets_of(&customer).await;
        assert_eq!(tickets.len(), 1, "{platform:?}");
        assert_eq!(tickets[0].message_count, 1, "{platform:?}");
        assert_eq!(stack.messages(&ticket.id).await.len(), 1, "{platform:?}");
        assert_eq!(stack.sent_to(&to).await.len(), 1, "{platform:?}");
    }
}

#[tokio::test]
async fn berhenti_through_bird_opts_out_of_acks_through_legacy_messagebird_too() {
    let stack = shared_stack();
    let customer = new_number();
    let stop = MessageBirdSms::new(&customer, BIRD_CHANNEL_ID, "BERHENTI");
    assert_eq!(post(&bird(&stop, Timestamp::now())).await.0, 200);
    assert!(stack.contact(&customer).await.expect("contact").opted_out);
    assert!(
        stack.tickets_of(&customer).await.is_empty(),
        "STOP opens no ticket"
    );

    // The same person through the other platform: one customer, still opted out.
    let question = MessageBirdSms::new(&customer, OUR_NUMBER, "Kapan paket saya datang?");
    assert_eq!(post(&legacy(&question, Timestamp::now())).await.0, 200);
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(ticket.ack_reason.as_deref(), Some("opted_out"));
    quiet_period().await;
    assert!(stack.sent_to(&digits(&customer)).await.is_empty());
    assert!(stack.sent_to(&customer).await.is_empty());
}

/// A request to our route with `body`, signed for it by the platform's own rules.
fn signed_raw(platform: Platform, content_type: &'static str, body: &str) -> SignedRequest {
    let url = format!("{}/sms/messagebird", shared_stack().url);
    let now = Timestamp::now();
    let headers = match platform {
        Platform::Legacy => vec![(
            "MessageBird-Signature-JWT".to_owned(),
            messagebird::sign_jwt(TEST_MESSAGEBIRD_SIGNING_KEY, &url, body.as_bytes(), now),
        )],
        Platform::Bird => vec![
            (
                messagebird::BIRD_SIGNATURE_HEADER.to_owned(),
                messagebird::sign_bird(
                    TEST_BIRD_SIGNING_KEY,
                    now.as_second(),
                    &url,
                    body.as_bytes(),
                ),
            ),
            (
                messagebird::BIRD_TIMESTAMP_HEADER.to_owned(),
                now.as_second().to_string(),
            ),
        ],
    };
    SignedRequest {
        url,
        content_type,
        body: body.to_owned(),
        headers,
    }
}

#[tokio::test]
async fn genuine_but_unreadable_calls_are_4xx_with_a_json_error_and_store_nothing() {
    let stack = shared_stack();
    let customer = new_number();
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let cases = [
        (
            "legacy: no originator",
            signed_raw(
                Platform::Legacy,
                form,
                "id=abc123&recipient=6221555000&body=Halo",
            ),
            400,
            "missing_field",
        ),
        (
            "legacy: text/plain",
            signed_raw(Platform::Legacy, "text/plain", "Halo"),
            415,
            "unsupported_media_type",
        ),
        (
            "legacy: broken JSON",
            signed_raw(Platform::Legacy, json, "{\"id\": \"abc"),
            400,
            "malformed_body",
        ),
        (
            "Bird: not JSON",
            signed_raw(Platform::Bird, json, "not json at all"),
            400,
            "malformed_body",
        ),
        (
            "Bird: form",
            signed_raw(Platform::Bird, form, "event=sms.inbound"),
            415,
            "unsupported_media_type",
        ),
        (
            "Bird: an inbound SMS without its sender",
            signed_raw(
                Platform::Bird,
                json,
                &serde_json::json!({"service": "channels", "event": "sms.inbound", "payload": {
                    "id": "96a0b5fa-a986-453d-be5c-3117f989f0ff", "channelId": BIRD_CHANNEL_ID,
                    "direction": "incoming", "body": {"type": "text", "text": {"text": customer}}}})
                .to_string(),
            ),
            400,
            "missing_field",
        ),
    ];
    for (what, request, status, code) in cases {
        let (got, body) = post(&request).await;
        assert_eq!(got, status, "{what}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert_eq!(error["code"], code, "{what}: {body}");
    }
    // Larger than any SMS webhook: refused unread.
    let huge = signed_raw(Platform::Bird, json, &"x".repeat(300 * 1024));
    assert_eq!(post(&huge).await.0, 413);
    // A genuine Bird event that is not an inbound SMS (a delivery status) is answered 200.
    let status_event = serde_json::json!({"service": "channels", "event": "sms.outbound",
        "payload": {"id": "96a0b5fa-a986-453d-be5c-3117f989f0aa", "channelId": BIRD_CHANNEL_ID,
        "direction": "outgoing", "status": "delivered"}});
    assert_eq!(
        post(&signed_raw(Platform::Bird, json, &status_event.to_string()))
            .await
            .0,
        200
    );
    quiet_period().await;
    // No message was stored: none of the ids these calls carried has a dedup item.
    for id in [
        "abc123",
        "96a0b5fa-a986-453d-be5c-3117f989f0ff",
        "96a0b5fa-a986-453d-be5c-3117f989f0aa",
    ] {
        assert!(
            !stack
                .any_key_contains(&format!("DEDUP#messagebird#{id}"))
                .await,
            "{id}"
        );
    }
    assert!(stack.tickets_of(&customer).await.is_empty());
}

#[tokio::test]
async fn a_legacy_get_with_the_fields_in_the_signed_query_is_stored_once() {
    let stack = shared_stack();
    let customer = new_number();
    let sms = MessageBirdSms::new(&customer, OUR_NUMBER, "Halo lewat GET");
    let now = Timestamp::now();
    let url = format!("{}/sms/messagebird?{}", stack.url, sms.legacy_form(now));
    let token = messagebird::sign_jwt(TEST_MESSAGEBIRD_SIGNING_KEY, &url, b"", now);
    let get = || {
        http()
            .get(&url)
            .header("MessageBird-Signature-JWT", &token)
            .send()
    };
    for _ in 0..2 {
        let response = get().await.expect("stack reachable");
        assert_eq!(response.status().as_u16(), 200);
    }
    let ticket = stack.settled_ticket(&customer).await;
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);
    assert_eq!(stack.messages(&ticket.id).await[0].body, "Halo lewat GET");

    // The query is signed: another text under the same token is refused.
    let forged = url.replace("GET", "POST");
    let response = http()
        .get(&forged)
        .header("MessageBird-Signature-JWT", &token)
        .send()
        .await
        .expect("stack reachable");
    assert_eq!(response.status().as_u16(), 403);
}
