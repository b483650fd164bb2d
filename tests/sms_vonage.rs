//! Vonage SMS end to end: SMS API signed webhooks and Messages API webhooks → DynamoDB Local →
//! stream → acknowledger → the recorder's Messages API (or SMS API).
//!
//! Vonage writes numbers as digits without `+`; the pipeline stores every SMS sender in E.164
//! (`+` and those digits), and acks go back to Vonage without the `+`.

use std::time::Duration;

use intake::config::{VonageSendApi, VonageSignatureMethod};
use intake::model::{AckStatus, Ticket};
use intake_dev::recorder::{self, Recorded};
use intake_dev::simulate::{self, VonageDelivery, VonageRequest, VonageSms};
use intake_dev::simulate::{MetaApp, SocialMessage};
use intake_dev::stack::TEST_META_APP_SECRET;
use intake_dev::stack::TEST_VONAGE_SIGNATURE_SECRET;
use intake_tests::{Endpoints, http, new_number, own_stack_with, quiet_period, shared_stack};

/// Our Vonage number (Vonage writes it without `+`).
const OUR_VONAGE_NUMBER: &str = "6221555000";

/// A new customer's number as Vonage writes it.
fn new_customer() -> String {
    new_number().trim_start_matches('+').to_owned()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// `sms` as the test stack's Vonage account delivers it (SMS API signed with HMAC-SHA256).
fn signed(stack: &Endpoints, delivery: VonageDelivery, sms: &VonageSms) -> VonageRequest {
    simulate::sign_vonage(
        &stack.url,
        TEST_VONAGE_SIGNATURE_SECRET,
        VonageSignatureMethod::Sha256Hmac,
        delivery,
        sms,
        now(),
    )
}

async fn send(request: &VonageRequest) -> (u16, String) {
    simulate::send_vonage(&http(), request)
        .await
        .expect("stack reachable")
}

/// Twenty copies of `request` at once, each answered 200.
async fn send_twenty_at_once(request: &VonageRequest) {
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move { send(&request).await })
        })
        .collect();
    for copy in copies {
        let (status, body) = copy.await.expect("task");
        assert_eq!(status, 200, "{body}");
    }
}

/// The customer's tickets: stored under the number in E.164, never as Vonage wrote it.
async fn tickets(stack: &Endpoints, digits: &str) -> Vec<Ticket> {
    assert!(
        stack.tickets_of(digits).await.is_empty(),
        "a ticket under {digits}, not in E.164"
    );
    stack.tickets_of(&format!("+{digits}")).await
}

/// The customer's one ticket once its ack is decided.
async fn settled(stack: &Endpoints, digits: &str) -> Ticket {
    for _ in 0..200 {
        if let Some(t) = tickets(stack, digits).await.into_iter().next()
            && !matches!(t.ack_status, AckStatus::Pending | AckStatus::Sending)
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the ack of {digits}'s ticket never settled");
}

/// What the recorder received for the customer, as Vonage numbers are sent (no `+`).
async fn sent_to(stack: &Endpoints, digits: &str) -> Vec<Recorded> {
    stack.sent_to(digits).await
}

/// Nothing at all was stored for this customer: no ticket, no contact.
async fn nothing_stored(stack: &Endpoints, digits: &str) {
    quiet_period().await;
    assert!(
        tickets(stack, digits).await.is_empty(),
        "a ticket was stored"
    );
    assert!(
        stack.contact(digits).await.is_none(),
        "a contact was stored"
    );
    assert!(
        stack.contact(&format!("+{digits}")).await.is_none(),
        "a contact was stored"
    );
    assert!(
        !stack.any_key_contains(digits).await,
        "an item names {digits}"
    );
}

/// A first message from a new customer, answered 200: the customer and their ticket once
/// its ack is decided.
async fn first_message(
    stack: &Endpoints,
    delivery: VonageDelivery,
    text: &str,
) -> (String, Ticket) {
    let customer = new_customer();
    let (status, body) = send(&signed(
        stack,
        delivery,
        &VonageSms::new(&customer, OUR_VONAGE_NUMBER, text),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let ticket = settled(stack, &customer).await;
    (customer, ticket)
}

/// A valid webhook: one ticket with one message, one ack through the Messages API.
async fn opens_a_ticket_with_one_ack(delivery: VonageDelivery, text: &str) {
    let stack = shared_stack();
    let (customer, ticket) = first_message(stack, delivery, text).await;
    assert_eq!(ticket.provider, "vonage");
    assert_eq!(
        ticket.ack_status,
        AckStatus::Sent,
        "{:?}",
        ticket.ack_reason
    );
    assert_eq!(ticket.message_count, 1);
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, text);
    assert_eq!(messages[0].from, format!("+{customer}"));
    assert_eq!(messages[0].to, OUR_VONAGE_NUMBER);

    quiet_period().await;
    let sent = sent_to(stack, &customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].provider, "vonage");
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].from.as_deref(), Some(OUR_VONAGE_NUMBER));
    assert!(sent[0].authenticated);
    assert_eq!(sent[0].status, 202);
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
    assert_eq!(
        ticket.ack_provider_message_id.as_deref().map(str::len),
        Some(36),
        "the Messages API's message_uuid"
    );
}

#[tokio::test]
async fn sms_api_form_webhook_opens_a_ticket_and_gets_one_ack() {
    opens_a_ticket_with_one_ack(VonageDelivery::Post, "Halo, pesanan saya belum sampai").await;
}

#[tokio::test]
async fn sms_api_json_webhook_opens_a_ticket_and_gets_one_ack() {
    opens_a_ticket_with_one_ack(
        VonageDelivery::PostJson,
        "Paket rusak \u{2014} mohon dibantu & dicek = segera",
    )
    .await;
}

/// Vonage's SMS API can also be set to GET, its parameters in the signed query
/// (`Provider::delivers_by_get`).
#[tokio::test]
async fn sms_api_get_webhook_opens_a_ticket_and_gets_one_ack() {
    opens_a_ticket_with_one_ack(VonageDelivery::Get, "Halo, saya mau tanya ongkir").await;
}

#[tokio::test]
async fn messages_api_webhook_opens_a_ticket_and_gets_one_ack() {
    opens_a_ticket_with_one_ack(VonageDelivery::Messages, "Halo dari Messages API").await;
}

#[tokio::test]
async fn forged_tampered_or_stale_webhooks_are_refused_and_store_nothing() {
    let stack = shared_stack();
    let customer = new_customer();
    let sms = VonageSms::new(&customer, OUR_VONAGE_NUMBER, "Saya mau refund");
    let form = signed(stack, VonageDelivery::Post, &sms);
    let json = signed(stack, VonageDelivery::PostJson, &sms);
    let messages = signed(stack, VonageDelivery::Messages, &sms);

    let tampered = |request: &VonageRequest| VonageRequest {
        body: request.body.replace("refund", "voucher"),
        ..request.clone()
    };
    let other_secret = |delivery| {
        simulate::sign_vonage(
            &stack.url,
            "not-the-signature-secret",
            VonageSignatureMethod::Sha256Hmac,
            delivery,
            &sms,
            now(),
        )
    };
    let at = |delivery, seconds| {
        simulate::sign_vonage(
            &stack.url,
            TEST_VONAGE_SIGNATURE_SECRET,
            VonageSignatureMethod::Sha256Hmac,
            delivery,
            &sms,
            seconds,
        )
    };
    let wrong_method = simulate::sign_vonage(
        &stack.url,
        TEST_VONAGE_SIGNATURE_SECRET,
        VonageSignatureMethod::Md5Hash,
        VonageDelivery::Post,
        &sms,
        now(),
    );
    // The JWT of one body on another: its payload_hash no longer matches.
    let mut other_body = messages.clone();
    other_body.body =
        VonageSms::new(&customer, OUR_VONAGE_NUMBER, "Saya mau voucher").messages_api_json();
    let mut unsigned = messages.clone();
    unsigned.headers.clear();

    for (what, request, code) in [
        ("form body changed", tampered(&form), "bad_signature"),
        ("JSON body changed", tampered(&json), "bad_signature"),
        (
            "Messages API body changed",
            tampered(&messages),
            "bad_signature",
        ),
        ("payload_hash of another body", other_body, "bad_signature"),
        (
            "SMS API, wrong secret",
            other_secret(VonageDelivery::Post),
            "bad_signature",
        ),
        (
            "Messages API, wrong secret",
            other_secret(VonageDelivery::Messages),
            "bad_signature",
        ),
        ("another signature method", wrong_method, "bad_signature"),
        (
            "timestamp 301 s old",
            at(VonageDelivery::Post, now() - 301),
            "stale_request",
        ),
        (
            "timestamp 301 s ahead",
            at(VonageDelivery::PostJson, now() + 301),
            "stale_request",
        ),
        (
            "iat 301 s old",
            at(VonageDelivery::Messages, now() - 301),
            "stale_request",
        ),
        ("no JWT", unsigned, "missing_signature"),
    ] {
        let (status, body) = send(&request).await;
        assert_eq!(status, 403, "{what}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert_eq!(answer["code"], code, "{what}: {body}");
    }
    nothing_stored(stack, &customer).await;
}

#[tokio::test]
async fn a_retry_and_twenty_concurrent_copies_store_one_message_and_ack_once() {
    let stack = shared_stack();
    for delivery in [VonageDelivery::Post, VonageDelivery::Messages] {
        let customer = new_customer();
        let request = signed(
            stack,
            delivery,
            &VonageSms::new(&customer, OUR_VONAGE_NUMBER, "Paket saya belum datang"),
        );
        assert_eq!(send(&request).await.0, 200);
        let ticket = settled(stack, &customer).await;
        // Vonage retries a webhook it got no 200 for: the same signed request again.
        assert_eq!(send(&request).await.0, 200);
        send_twenty_at_once(&request).await;
        quiet_period().await;
        assert_eq!(tickets(stack, &customer).await.len(), 1, "{delivery:?}");
        assert_eq!(stack.messages(&ticket.id).await.len(), 1, "{delivery:?}");
        assert_eq!(sent_to(stack, &customer).await.len(), 1, "{delivery:?}");
    }
}

#[tokio::test]
async fn twenty_concurrent_first_copies_open_one_ticket() {
    let stack = shared_stack();
    let customer = new_customer();
    let request = signed(
        stack,
        VonageDelivery::PostJson,
        &VonageSms::new(&customer, OUR_VONAGE_NUMBER, "Tolong dibantu"),
    );
    send_twenty_at_once(&request).await;
    let ticket = settled(stack, &customer).await;
    quiet_period().await;
    assert_eq!(tickets(stack, &customer).await.len(), 1);
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);
    assert_eq!(sent_to(stack, &customer).await.len(), 1);
}

#[tokio::test]
async fn the_parts_of_a_concatenated_sms_are_each_stored_once_in_one_ticket() {
    let stack = shared_stack();
    let customer = new_customer();
    let reference = (ulid::Ulid::new().random() % 255).to_string();
    let part = |n: u32, text: &str| VonageSms {
        part: Some((reference.clone(), n, 2)),
        ..VonageSms::new(&customer, OUR_VONAGE_NUMBER, text)
    };
    let second = signed(stack, VonageDelivery::Post, &part(2, "mohon dicek ya"));
    let first = signed(
        stack,
        VonageDelivery::Post,
        &part(1, "Pesanan 4411 belum sampai, "),
    );
    // Parts may arrive in any order, and each may be retried.
    for request in [&second, &first, &second] {
        assert_eq!(send(request).await.0, 200);
    }
    let ticket = settled(stack, &customer).await;
    quiet_period().await;
    assert_eq!(tickets(stack, &customer).await.len(), 1);
    let mut bodies: Vec<String> = stack
        .messages(&ticket.id)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        vec!["Pesanan 4411 belum sampai, ", "mohon dicek ya"]
    );
    assert_eq!(sent_to(stack, &customer).await.len(), 1);
}

/// A Messages API webhook of `body` (JSON), its JWT issued now.
fn messages_api(stack: &Endpoints, body: serde_json::Value) -> VonageRequest {
    let body = body.to_string();
    VonageRequest {
        get: false,
        url: format!("{}/sms/vonage", stack.url),
        content_type: Some("application/json"),
        headers: vec![(
            "authorization".into(),
            intake::providers::vonage::messages_authorization(
                TEST_VONAGE_SIGNATURE_SECRET,
                body.as_bytes(),
                now(),
            ),
        )],
        body,
    }
}

#[tokio::test]
async fn an_mms_keeps_its_image_as_an_attachment_and_its_caption_as_text() {
    let stack = shared_stack();
    let customer = new_customer();
    let image = "https://api-eu.nexmo.com/v3/media/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let mms = serde_json::json!({
        "channel": "mms", "message_uuid": simulate::uuid_shaped(ulid::Ulid::new()),
        "to": OUR_VONAGE_NUMBER, "from": customer, "timestamp": "2026-11-30T12:00:00Z",
        "message_type": "image",
        "image": {"url": image, "caption": "Ini foto paketnya"},
    });
    let (status, body) = send(&messages_api(stack, mms)).await;
    assert_eq!(status, 200, "{body}");
    let ticket = settled(stack, &customer).await;
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Ini foto paketnya");
    let urls: Vec<_> = messages[0]
        .attachments
        .iter()
        .map(|a| a.url.clone().unwrap_or_default())
        .collect();
    assert_eq!(urls, vec![image]);
    quiet_period().await;
    assert_eq!(sent_to(stack, &customer).await.len(), 1);
}

#[tokio::test]
async fn status_webhooks_and_other_channels_are_answered_and_store_nothing() {
    let stack = shared_stack();
    let customer = new_customer();
    let status = serde_json::json!({
        "message_uuid": simulate::uuid_shaped(ulid::Ulid::new()),
        "to": customer, "from": OUR_VONAGE_NUMBER,
        "timestamp": "2026-11-30T12:00:00Z", "status": "delivered", "channel": "sms",
    });
    let whatsapp = serde_json::json!({
        "channel": "whatsapp", "message_uuid": simulate::uuid_shaped(ulid::Ulid::new()),
        "to": OUR_VONAGE_NUMBER, "from": customer, "timestamp": "2026-11-30T12:00:00Z",
        "message_type": "text", "text": "Halo lewat WhatsApp",
        "profile": {"name": "Budi"},
    });
    for body in [status, whatsapp] {
        let (status, answer) = send(&messages_api(stack, body)).await;
        assert_eq!(status, 200, "{answer}");
    }
    nothing_stored(stack, &customer).await;
}

#[tokio::test]
async fn acks_go_through_the_sms_api_when_it_is_configured() {
    let stack = own_stack_with(|options| {
        if let Some(vonage) = options.config.vonage.as_mut() {
            vonage.send_api = VonageSendApi::Sms;
        }
    })
    .await;
    let endpoints = Endpoints::of(&stack);
    let (customer, ticket) =
        first_message(&endpoints, VonageDelivery::Post, "Kapan paket saya sampai?").await;
    assert_eq!(
        ticket.ack_status,
        AckStatus::Sent,
        "{:?}",
        ticket.ack_reason
    );
    let sent = sent_to(&endpoints, &customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].path, "/sms/json");
    assert!(sent[0].authenticated, "api_key and api_secret in the form");
    assert_eq!(sent[0].from.as_deref(), Some(OUR_VONAGE_NUMBER));
    assert!(
        sent[0]
            .body
            .as_deref()
            .is_some_and(|b| b.contains(&format!("#{}", ticket.reference)))
    );

    // The SMS API answers refusals with HTTP 200 too: status 3 (invalid parameters) ends
    // the ack as failed with Vonage's code, not as sent.
    recorder::fail_next(&endpoints.recorder, 400, 1)
        .await
        .expect("recorder");
    let (_, ticket) = first_message(&endpoints, VonageDelivery::Post, "Halo").await;
    assert_eq!(ticket.ack_status, AckStatus::Failed);
    let reason = ticket.ack_reason.unwrap_or_default();
    assert!(reason.starts_with("3:"), "Vonage's status code: {reason}");
}

/// Issue 11's cross-provider case: an SMS through Vonage and a WhatsApp message (through
/// Meta) from the same number are one customer with both tickets.
#[tokio::test]
async fn an_sms_through_vonage_and_a_whatsapp_message_from_that_number_are_one_customer() {
    let stack = shared_stack();
    let (customer, sms_ticket) =
        first_message(stack, VonageDelivery::Messages, "Halo, lewat SMS").await;
    let payload = simulate::meta_payload(
        MetaApp::Whatsapp,
        &[SocialMessage::new(
            &customer,
            "200000000000002",
            "Halo, lewat WhatsApp",
        )],
    );
    let post = simulate::sign_meta(&stack.url, TEST_META_APP_SECRET, payload);
    let (status, answer) = simulate::post_json(&http(), &post)
        .await
        .expect("stack reachable");
    assert_eq!(status, 200, "{answer}");
    let number = format!("+{customer}");
    for _ in 0..100 {
        let found = stack
            .store()
            .await
            .customer(&number)
            .await
            .expect("customer");
        if found.tickets.len() == 2 {
            let mut providers: Vec<_> = found.tickets.iter().map(|t| t.provider.clone()).collect();
            providers.sort();
            assert_eq!(providers, ["meta", "vonage"]);
            assert!(found.tickets.iter().any(|t| t.id == sms_ticket.id));
            let addresses: Vec<_> = found.contacts.iter().map(|c| c.address.clone()).collect();
            assert_eq!(addresses, [number.clone(), format!("whatsapp:{customer}")]);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{number} never had both tickets");
}
