//! One customer per phone number (issue 11): every spelling of a number is one SMS contact
//! whichever provider carried it, keywords in English and Indonesian, and a STOP by SMS that
//! leaves WhatsApp alone.

use intake::model::AckStatus;
use intake_dev::simulate::{self, MetaApp, SocialMessage, TwilioSms};
use intake_dev::stack::TEST_META_APP_SECRET;
use intake_tests::{OUR_NUMBER, eventually, http, new_number, quiet_period, shared_stack};

/// Our WhatsApp phone number id in the local stack's Meta configuration.
const PHONE_NUMBER_ID: &str = "200000000000002";

async fn sms(from: &str, body: &str) {
    let (status, answer) = shared_stack()
        .send(&TwilioSms::new(from, OUR_NUMBER, body))
        .await;
    assert_eq!(status, 200, "{answer}");
}

async fn whatsapp(wa_id: &str, body: &str) {
    let payload = simulate::meta_payload(
        MetaApp::Whatsapp,
        &[SocialMessage::new(wa_id, PHONE_NUMBER_ID, body)],
    );
    let post = simulate::sign_meta(&shared_stack().url, TEST_META_APP_SECRET, payload);
    let (status, answer) = simulate::post_json(&http(), &post)
        .await
        .expect("stack reachable");
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn every_spelling_of_a_number_is_one_contact_one_ticket_one_ack() {
    let stack = shared_stack();
    let number = new_number(); // +62812…
    let national = format!("0{}", &number[3..]);
    let without_plus = number[1..].to_owned();
    sms(&national, "Halo, paket saya belum sampai").await;
    sms(&without_plus, "Nomor resi JNE123").await;
    sms(&number, "Tolong dicek ya").await;

    let ticket = stack.settled_ticket(&number).await;
    assert_eq!(ticket.contact, number);
    eventually("all three messages on one ticket", || async {
        stack.messages(&ticket.id).await.len() == 3
    })
    .await;
    assert_eq!(stack.tickets_of(&number).await.len(), 1);
    for key in stack.all_keys().await {
        assert!(
            !key.contains(&national) && !key.contains(&format!("#{without_plus}")),
            "stored under another spelling: {key}"
        );
    }
    quiet_period().await;
    assert_eq!(stack.sent_to(&number).await.len(), 1);
}

#[tokio::test]
async fn indonesian_keywords_opt_out_and_back_in() {
    let stack = shared_stack();
    let number = new_number();
    sms(&number, "Berhenti").await;
    assert!(stack.contact(&number).await.expect("contact").opted_out);
    assert!(stack.tickets_of(&number).await.is_empty(), "no ticket");

    sms(&number, "Kapan dikirim?").await;
    let ticket = stack.settled_ticket(&number).await;
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(ticket.ack_reason.as_deref(), Some("opted_out"));

    sms(&number, "MULAI").await;
    assert!(!stack.contact(&number).await.expect("contact").opted_out);

    // BANTUAN is a help request: stored, never acknowledged by us.
    let other = new_number();
    sms(&other, "bantuan").await;
    let ticket = stack.settled_ticket(&other).await;
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    quiet_period().await;
    assert!(stack.sent_to(&other).await.is_empty());
}

#[tokio::test]
async fn a_stop_by_sms_leaves_whatsapp_acks_on() {
    let stack = shared_stack();
    let number = new_number();
    let wa_id = number[1..].to_owned();
    sms(&number, "STOP").await;
    assert!(stack.contact(&number).await.expect("contact").opted_out);

    whatsapp(&wa_id, "Halo, saya mau tanya pesanan").await;
    let ticket = stack.settled_ticket(&format!("whatsapp:{wa_id}")).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent, "{ticket:?}");

    // One customer: the opted-out SMS contact and the WhatsApp contact with its ticket.
    let customer = stack
        .store()
        .await
        .customer(&number)
        .await
        .expect("customer");
    let contacts: Vec<(&str, bool)> = customer
        .contacts
        .iter()
        .map(|c| (c.address.as_str(), c.opted_out))
        .collect();
    assert_eq!(
        contacts,
        [
            (number.as_str(), true),
            (format!("whatsapp:{wa_id}").as_str(), false)
        ]
    );
    assert_eq!(customer.tickets.len(), 1);
    assert_eq!(customer.tickets[0].id, ticket.id);
}
