//! Meta (Messenger, Instagram, WhatsApp) end to end: webhook → DynamoDB Local → stream →
//! acknowledger → Graph API recorder.

use intake::model::AckStatus;
use intake_dev::simulate::{self, JsonPost, MetaApp, SocialMessage, ascii_json};
use intake_dev::stack::{TEST_META_APP_SECRET, TEST_META_VERIFY_TOKEN};
use intake_tests::{
    Endpoints, eventually, http, own_stack_with, quiet_period, shared_stack, stopped_clock,
};

const PAGE: &str = "100000000000001";
const PHONE_NUMBER_ID: &str = "200000000000002";

fn fresh_id(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new().random() % 1_000_000_000_000)
}

async fn post(stack: &Endpoints, body: String) -> (u16, String) {
    let post = simulate::sign_meta(&stack.url, TEST_META_APP_SECRET, body);
    simulate::post_json(&http(), &post)
        .await
        .expect("stack reachable")
}

#[tokio::test]
async fn a_batch_of_three_entries_with_two_messages_each_stores_six() {
    let stack = shared_stack();
    let customers: Vec<String> = (0..3).map(|_| fresh_id("PSID")).collect();
    let entries: Vec<_> = customers
        .iter()
        .map(|psid| {
            let events: Vec<_> = (0..2)
                .map(|i| {
                    serde_json::json!({
                        "sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": 1,
                        "message": {"mid": fresh_id("m_"), "text": format!("Pesan {i}")}
                    })
                })
                .collect();
            serde_json::json!({"id": PAGE, "time": 1, "messaging": events})
        })
        .collect();
    let body = ascii_json(&serde_json::json!({"object": "page", "entry": entries}));
    let (status, answer) = post(stack, body).await;
    assert_eq!(status, 200, "{answer}");
    for psid in &customers {
        let address = format!("messenger:{psid}");
        let ticket = stack.settled_ticket(&address).await;
        assert_eq!(ticket.message_count, 2, "{address}");
        let bodies: Vec<_> = stack
            .messages(&ticket.id)
            .await
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, vec!["Pesan 0", "Pesan 1"]);
        assert_eq!(ticket.ack_status, AckStatus::Sent);
    }
    quiet_period().await;
    for psid in &customers {
        let sent = stack.sent_to(psid).await;
        assert_eq!(sent.len(), 1, "one ack per customer");
        assert_eq!(sent[0].provider, "meta");
        assert_eq!(sent[0].from.as_deref(), Some(PAGE));
        assert!(sent[0].authenticated);
        assert!(
            sent[0].body.as_deref().unwrap_or("").contains("#"),
            "{:?}",
            sent[0].body
        );
    }
}

#[tokio::test]
async fn echoes_receipts_reactions_and_statuses_store_nothing() {
    let stack = shared_stack();
    let psid = fresh_id("PSID");
    let wa = fresh_id("62812");
    let messenger = ascii_json(
        &serde_json::json!({"object": "page", "entry": [{"id": PAGE, "messaging": [
            {"sender": {"id": PAGE}, "recipient": {"id": psid}, "message": {"mid": fresh_id("m_"), "is_echo": true, "text": "our reply"}},
            {"sender": {"id": psid}, "recipient": {"id": PAGE}, "delivery": {"mids": ["m_1"], "watermark": 1}},
            {"sender": {"id": psid}, "recipient": {"id": PAGE}, "read": {"watermark": 1}},
            {"sender": {"id": psid}, "recipient": {"id": PAGE}, "reaction": {"mid": "m_1", "action": "react", "emoji": "\u{2764}"}}
        ]}]}),
    );
    assert_eq!(post(stack, messenger).await.0, 200);
    let whatsapp = ascii_json(
        &serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [
            {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                "statuses": [{"id": "wamid.OUT", "status": "read", "timestamp": "1", "recipient_id": wa}]}},
            {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                "messages": [{"from": wa, "id": fresh_id("wamid."), "type": "reaction", "reaction": {"message_id": "wamid.OUT", "emoji": "\u{1f44d}"}}]}}
        ]}]}),
    );
    assert_eq!(post(stack, whatsapp).await.0, 200);
    assert!(!stack.any_key_contains(&psid).await);
    assert!(!stack.any_key_contains(&wa).await);
}

#[tokio::test]
async fn subscription_handshake_with_good_and_bad_token() {
    let stack = shared_stack();
    let url = |token: &str| {
        format!(
            "{}/social/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444",
            stack.url
        )
    };
    let ok = http()
        .get(url(TEST_META_VERIFY_TOKEN))
        .send()
        .await
        .expect("reachable");
    assert_eq!(ok.status().as_u16(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/plain")
    );
    assert_eq!(ok.text().await.unwrap_or_default(), "1158201444");
    let bad = http().get(url("guess")).send().await.expect("reachable");
    assert_eq!(bad.status().as_u16(), 403);
    let json: serde_json::Value = bad.json().await.expect("JSON error");
    assert_eq!(json["code"], "handshake_refused");
}

#[tokio::test]
async fn escaped_unicode_verifies_and_a_one_byte_tamper_is_refused() {
    let stack = shared_stack();
    let psid = fresh_id("PSID");
    let body = simulate::meta_payload(
        MetaApp::Messenger,
        &[SocialMessage::new(&psid, PAGE, "Terima kasih 🙏 café")],
    );
    assert!(
        body.contains("\\ud83d\\ude4f"),
        "sent escaped, as Meta does"
    );
    let mut tampered = simulate::sign_meta(&stack.url, TEST_META_APP_SECRET, body.clone());
    tampered.body = tampered.body.replacen("Terima", "Terimo", 1);
    let (status, answer) = simulate::post_json(&http(), &tampered)
        .await
        .expect("reachable");
    assert_eq!(status, 403, "{answer}");
    assert!(
        !stack.any_key_contains(&psid).await,
        "nothing stored after a tamper"
    );

    assert_eq!(post(stack, body).await.0, 200);
    let ticket = stack.settled_ticket(&format!("messenger:{psid}")).await;
    assert_eq!(
        stack.messages(&ticket.id).await[0].body,
        "Terima kasih 🙏 café"
    );
}

#[tokio::test]
async fn each_app_gets_its_ack_with_the_right_recipient_and_reply_reference() {
    let stack = shared_stack();
    // Instagram
    let igsid = fresh_id("IGSID");
    let body = simulate::meta_payload(
        MetaApp::Instagram,
        &[SocialMessage::new(&igsid, "17841400000000001", "Halo, kak")],
    );
    assert_eq!(post(stack, body).await.0, 200);
    stack.settled_ticket(&format!("instagram:{igsid}")).await;
    let sent = stack.sent_to(&igsid).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].from.as_deref(), Some("17841400000000001"));
    // WhatsApp: a reply to the customer's wamid, with the contact's name stored
    let wa = fresh_id("62813");
    let wamid = fresh_id("wamid.");
    let mut message = SocialMessage::new(&wa, PHONE_NUMBER_ID, "Pesanan saya belum sampai");
    message.id = Some(wamid.clone());
    message.name = Some("Sari".into());
    assert_eq!(
        post(stack, simulate::meta_payload(MetaApp::Whatsapp, &[message]))
            .await
            .0,
        200
    );
    let ticket = stack.settled_ticket(&format!("whatsapp:{wa}")).await;
    assert_eq!(ticket.contact_name.as_deref(), Some("Sari"));
    let sent = stack.sent_to(&wa).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].from.as_deref(), Some(PHONE_NUMBER_ID));
    assert_eq!(sent[0].reply_to.as_deref(), Some(wamid.as_str()));
    assert_eq!(sent[0].kind.as_deref(), Some("text"));
    assert!(
        sent[0]
            .body
            .as_deref()
            .unwrap_or("")
            .contains(&ticket.reference)
    );
}

#[tokio::test]
async fn bad_meta_input_is_400_or_413_and_stores_nothing() {
    let stack = shared_stack();
    for (body, code) in [
        ("{not json".to_owned(), "malformed_body"),
        (r#"{"object":"user","entry":[]}"#.to_owned(), "malformed_body"),
        (r#"{"object":"page","entry":[{"messaging":[{"recipient":{"id":"1"},"message":{"mid":"m_x","text":"x"}}]}]}"#.to_owned(), "missing_field"),
    ] {
        let (status, answer) = post(stack, body).await;
        assert_eq!(status, 400, "{answer}");
        let json: serde_json::Value = serde_json::from_str(&answer).expect("JSON error");
        assert_eq!(json["code"], code);
    }
    let huge = JsonPost {
        url: format!("{}/social/meta", stack.url),
        body: format!(
            "{{\"object\":\"page\",\"pad\":\"{}\"}}",
            "a".repeat(1024 * 1024)
        ),
        headers: vec![("x-hub-signature-256".into(), "sha256=00".into())],
    };
    let (status, _) = simulate::post_json(&http(), &huge)
        .await
        .expect("reachable");
    assert_eq!(status, 413);
}

/// A stack whose acknowledger lives 25 hours after the customer wrote.
async fn late_stack(template: Option<(&str, &str)>) -> intake_dev::stack::Stack {
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(25);
    let at: &'static str = Box::leak(later.to_string().into_boxed_str());
    let template = template.map(|(n, l)| (n.to_owned(), l.to_owned()));
    own_stack_with(move |o| {
        o.clock = Some(stopped_clock(at));
        if let Some(meta) = o.config.meta.as_mut() {
            meta.whatsapp_template = template;
        }
    })
    .await
}

#[tokio::test]
async fn outside_the_24_hour_window_whatsapp_uses_the_approved_template() {
    let stack = late_stack(Some(("ticket_received", "id"))).await;
    let endpoints = Endpoints::of(&stack);
    let wa = fresh_id("62814");
    let body = simulate::meta_payload(
        MetaApp::Whatsapp,
        &[SocialMessage::new(&wa, PHONE_NUMBER_ID, "Halo")],
    );
    assert_eq!(post(&endpoints, body).await.0, 200);
    let ticket = endpoints.settled_ticket(&format!("whatsapp:{wa}")).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    let sent = endpoints.sent_to(&wa).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind.as_deref(), Some("template"));
    assert_eq!(sent[0].body.as_deref(), Some("template:ticket_received"));
}

#[tokio::test]
async fn outside_the_24_hour_window_without_a_template_the_ack_is_skipped() {
    let stack = late_stack(None).await;
    let endpoints = Endpoints::of(&stack);
    let wa = fresh_id("62815");
    let body = simulate::meta_payload(
        MetaApp::Whatsapp,
        &[SocialMessage::new(&wa, PHONE_NUMBER_ID, "Halo")],
    );
    assert_eq!(post(&endpoints, body).await.0, 200);
    let ticket = endpoints.settled_ticket(&format!("whatsapp:{wa}")).await;
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(
        ticket.ack_reason.as_deref(),
        Some("outside_24h_window_no_template")
    );
    quiet_period().await;
    assert!(endpoints.sent_to(&wa).await.is_empty());
}

#[tokio::test]
async fn a_graph_rate_limit_is_retried_and_a_permanent_error_is_stored() {
    let stack = own_stack_with(|_| {}).await;
    let endpoints = Endpoints::of(&stack);
    intake_dev::recorder::fail_next(&endpoints.recorder, 400, 1)
        .await
        .expect("recorder");
    let psid = fresh_id("PSID");
    let body = simulate::meta_payload(
        MetaApp::Messenger,
        &[SocialMessage::new(&psid, PAGE, "Halo")],
    );
    assert_eq!(post(&endpoints, body).await.0, 200);
    let ticket = endpoints.settled_ticket(&format!("messenger:{psid}")).await;
    assert_eq!(ticket.ack_status, AckStatus::Failed);
    assert!(
        ticket
            .ack_reason
            .as_deref()
            .unwrap_or("")
            .starts_with("100:"),
        "{:?}",
        ticket.ack_reason
    );

    intake_dev::recorder::fail_next(&endpoints.recorder, 503, 1)
        .await
        .expect("recorder");
    let psid = fresh_id("PSID");
    let body = simulate::meta_payload(
        MetaApp::Messenger,
        &[SocialMessage::new(&psid, PAGE, "Halo")],
    );
    assert_eq!(post(&endpoints, body).await.0, 200);
    eventually("the retried ack is sent", || {
        let endpoints = endpoints.clone();
        let address = format!("messenger:{psid}");
        async move {
            endpoints
                .tickets_of(&address)
                .await
                .first()
                .is_some_and(|t| t.ack_status == AckStatus::Sent)
        }
    })
    .await;
    let statuses: Vec<u16> = endpoints
        .sent_to(&psid)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![503, 200]);
}
