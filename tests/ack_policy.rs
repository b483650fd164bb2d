//! The acknowledgement policy end to end: the configured brand, hours, language and limits
//! decide what the customer receives, through the real stack.

use intake::model::AckStatus;
use intake_dev::simulate::TwilioSms;
use intake_tests::{
    Endpoints, OUR_NUMBER, fixture_settings, new_number, own_stack_with, quiet_period,
    stopped_clock,
};

/// Saturday 28 November 2026, 10:00 in Jakarta (WIB, UTC+7).
const SATURDAY_10_WIB: &str = "2026-11-28T03:00:00Z";

/// A stack with the fixture's brands whose acknowledger lives on Saturday 10:00 in Jakarta.
async fn saturday_in_jakarta() -> (intake_dev::stack::Stack, Endpoints) {
    let stack = own_stack_with(|o| {
        o.config.ack = fixture_settings();
        o.clock = Some(stopped_clock(SATURDAY_10_WIB));
    })
    .await;
    let endpoints = Endpoints::of(&stack);
    (stack, endpoints)
}

#[tokio::test]
async fn saturday_in_jakarta_gets_the_indonesian_closed_text_with_monday_opening() {
    let (_stack, endpoints) = saturday_in_jakarta().await;
    let customer = new_number();
    let sms = TwilioSms::new(&customer, OUR_NUMBER, "Halo, pesanan saya belum sampai");
    assert_eq!(endpoints.send(&sms).await.0, 200);

    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    let sent = endpoints.sent_to(&customer).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body.as_deref(),
        Some(
            format!(
                "Terima kasih, pesan Anda sudah kami terima (tiket #{}). Kami sedang tutup dan membalas mulai Senin, 08.00 WIB.",
                ticket.reference
            )
            .as_str()
        )
    );
    let contact = endpoints.contact_after_ack(&customer).await;
    assert_eq!(
        contact.language.as_deref(),
        Some("id"),
        "the language used is remembered"
    );
    assert_eq!(contact.recent_acks.len(), 1);
}

#[tokio::test]
async fn english_customer_of_the_same_brand_gets_english() {
    let (_stack, endpoints) = saturday_in_jakarta().await;
    let customer = new_number();
    let sms = TwilioSms::new(&customer, OUR_NUMBER, "Hello, my order has not arrived yet");
    assert_eq!(endpoints.send(&sms).await.0, 200);
    endpoints.settled_ticket(&customer).await;
    let body = endpoints.sent_to(&customer).await[0]
        .body
        .clone()
        .unwrap_or_default();
    assert!(
        body.ends_with("We are closed now and will reply from Monday 08:00 WIB."),
        "{body}"
    );
}

#[tokio::test]
async fn a_new_ticket_within_the_quiet_period_is_stored_but_not_acknowledged() {
    let (stack, endpoints) = saturday_in_jakarta().await;
    let customer = new_number();
    assert_eq!(
        endpoints
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
            .await
            .0,
        200
    );
    let first = endpoints.settled_ticket(&customer).await;
    assert_eq!(first.ack_status, AckStatus::Sent);

    // An agent closes the ticket; the customer writes again a minute later (same clock).
    stack
        .store
        .client()
        .update_item()
        .table_name(stack.store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TICKET#{}", first.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("META".into()),
        )
        .update_expression("SET #s = :closed")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(
            ":closed",
            aws_sdk_dynamodb::types::AttributeValue::S("closed".into()),
        )
        .send()
        .await
        .expect("close ticket");
    assert_eq!(
        endpoints
            .send(&TwilioSms::new(&customer, OUR_NUMBER, "Satu lagi"))
            .await
            .0,
        200
    );

    let mut second = None;
    for _ in 0..100 {
        let tickets = endpoints.tickets_of(&customer).await;
        if let Some(t) = tickets
            .into_iter()
            .find(|t| t.id != first.id && t.ack_status == AckStatus::Skipped)
        {
            second = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = second.expect("a second ticket whose ack was skipped");
    assert_eq!(second.ack_reason.as_deref(), Some("quiet_period"));
    quiet_period().await;
    assert_eq!(endpoints.sent_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn social_on_saturday_in_jakarta_gets_the_indonesian_closed_text_too() {
    use intake_dev::simulate::{self, SocialMessage};
    let (_stack, endpoints) = saturday_in_jakarta().await;
    // Telegram, the platform saying the user writes Indonesian.
    let user = (100_000_000 + ulid::Ulid::new().random() % 900_000_000).to_string();
    let mut message = SocialMessage::new(&user, "", "Hello there");
    message.language = Some("id".into());
    message.name = Some("Sari".into());
    let post = simulate::sign_telegram(
        &endpoints.url,
        intake_dev::stack::TEST_TELEGRAM_SECRET,
        simulate::telegram_payload(7, &message),
    );
    assert_eq!(
        simulate::post_json(&intake_tests::http(), &post)
            .await
            .expect("reachable")
            .0,
        200
    );
    let ticket = endpoints.settled_ticket(&format!("telegram:{user}")).await;
    let body = endpoints.sent_to(&user).await[0]
        .body
        .clone()
        .unwrap_or_default();
    assert_eq!(
        body,
        format!(
            "Halo Sari, terima kasih atas pesannya! Nomor tiket Anda #{}. Saat ini kami sedang tutup dan akan membalas di sini mulai Senin, 08.00 WIB.",
            ticket.reference
        )
    );
}
