//! Telegram and LINE end to end: webhook → DynamoDB Local → stream → acknowledger → recorder.

use intake::model::AckStatus;
use intake_dev::simulate::{self, SocialMessage};
use intake_dev::stack::{TEST_LINE_CHANNEL_SECRET, TEST_TELEGRAM_SECRET};
use intake_tests::{Endpoints, http, own_stack_with, quiet_period, shared_stack, stopped_clock};

const LINE_BOT: &str = "Ubot0000000000000000000000000001";

fn fresh_user() -> String {
    (100_000_000 + ulid::Ulid::new().random() % 900_000_000).to_string()
}

fn fresh_line_user() -> String {
    format!("U{:032x}", ulid::Ulid::new().random())
}

async fn telegram(stack: &Endpoints, update_id: i64, message: &SocialMessage) -> (u16, String) {
    let post = simulate::sign_telegram(
        &stack.url,
        TEST_TELEGRAM_SECRET,
        simulate::telegram_payload(update_id, message),
    );
    simulate::post_json(&http(), &post)
        .await
        .expect("stack reachable")
}

async fn line(stack: &Endpoints, body: String) -> (u16, String) {
    let post = simulate::sign_line(&stack.url, TEST_LINE_CHANNEL_SECRET, body);
    simulate::post_json(&http(), &post)
        .await
        .expect("stack reachable")
}

fn update_id() -> i64 {
    (ulid::Ulid::new().random() % 1_000_000_000) as i64
}

#[tokio::test]
async fn telegram_message_gets_a_reply_in_the_users_language() {
    let stack = shared_stack();
    let user = fresh_user();
    let mut message = SocialMessage::new(&user, "", "Halo, pesanan saya belum sampai");
    message.language = Some("id".into());
    message.id = Some("4242".into());
    let (status, body) = telegram(stack, update_id(), &message).await;
    assert_eq!(status, 200, "{body}");
    let ticket = stack.settled_ticket(&format!("telegram:{user}")).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    let sent = stack.sent_to(&user).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].provider, "telegram");
    assert_eq!(sent[0].reply_to.as_deref(), Some("4242"));
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(
        text.starts_with("Halo Budi") && text.contains(&ticket.reference),
        "{text}"
    );
    assert!(
        !sent[0].path.contains("TEST-telegram"),
        "the bot token is not recorded"
    );
}

#[tokio::test]
async fn telegram_start_is_greeted_in_the_webhook_answer_and_opens_no_ticket() {
    let stack = shared_stack();
    let user = fresh_user();
    let mut message = SocialMessage::new(&user, "", "/start");
    message.language = Some("id".into());
    let (status, body) = telegram(stack, update_id(), &message).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON method");
    assert_eq!(answer["method"], "sendMessage");
    assert_eq!(answer["chat_id"].to_string(), user);
    assert!(
        answer["text"].as_str().unwrap_or("").starts_with("Halo!"),
        "{answer}"
    );
    quiet_period().await;
    assert!(
        stack
            .tickets_of(&format!("telegram:{user}"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn telegram_retry_is_stored_once_and_a_wrong_secret_is_refused() {
    let stack = shared_stack();
    let user = fresh_user();
    let message = SocialMessage::new(&user, "", "Tolong dibantu");
    let id = update_id();
    for _ in 0..3 {
        assert_eq!(telegram(stack, id, &message).await.0, 200);
    }
    let ticket = stack.settled_ticket(&format!("telegram:{user}")).await;
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);

    let other = fresh_user();
    let post = simulate::sign_telegram(
        &stack.url,
        "not-the-secret",
        simulate::telegram_payload(update_id(), &SocialMessage::new(&other, "", "Halo")),
    );
    let (status, body) = simulate::post_json(&http(), &post)
        .await
        .expect("reachable");
    assert_eq!(status, 403, "{body}");
    assert!(!stack.any_key_contains(&other).await);
}

#[tokio::test]
async fn line_events_of_one_body_are_all_stored_and_acked_with_the_reply_token() {
    let stack = shared_stack();
    let (a, b) = (fresh_line_user(), fresh_line_user());
    let body = simulate::line_payload(
        LINE_BOT,
        &[
            SocialMessage::new(&a, LINE_BOT, "Halo, saya mau tanya"),
            SocialMessage::new(&b, LINE_BOT, "Hello, is my order shipped?"),
        ],
    );
    let tokens: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["replyToken"].as_str().unwrap_or("").to_owned())
            .collect();
    assert_eq!(line(stack, body).await.0, 200);
    for user in [&a, &b] {
        let ticket = stack.settled_ticket(&format!("line:{user}")).await;
        assert_eq!(ticket.ack_status, AckStatus::Sent, "{user}");
    }
    quiet_period().await;
    let replies: Vec<_> = intake_dev::recorder::fetch(&stack.recorder)
        .await
        .expect("recorder")
        .into_iter()
        .filter(|r| r.reply_to.as_ref().is_some_and(|t| tokens.contains(t)))
        .collect();
    assert_eq!(replies.len(), 2);
    assert!(
        replies
            .iter()
            .all(|r| r.kind.as_deref() == Some("reply") && r.authenticated)
    );
}

#[tokio::test]
async fn line_verify_request_and_tampering() {
    let stack = shared_stack();
    let (status, body) = line(
        stack,
        format!(r#"{{"destination":"{LINE_BOT}","events":[]}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let user = fresh_line_user();
    let mut post = simulate::sign_line(
        &stack.url,
        TEST_LINE_CHANNEL_SECRET,
        simulate::line_payload(LINE_BOT, &[SocialMessage::new(&user, LINE_BOT, "Halo")]),
    );
    post.body = post.body.replacen("Halo", "Hala", 1);
    let (status, _) = simulate::post_json(&http(), &post)
        .await
        .expect("reachable");
    assert_eq!(status, 403);
    assert!(!stack.any_key_contains(&user).await);
}

#[tokio::test]
async fn a_stale_line_reply_token_falls_back_to_push() {
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let at: &'static str = Box::leak(later.to_string().into_boxed_str());
    let stack = own_stack_with(|o| o.clock = Some(stopped_clock(at))).await;
    let endpoints = Endpoints::of(&stack);
    let user = fresh_line_user();
    let body = simulate::line_payload(LINE_BOT, &[SocialMessage::new(&user, LINE_BOT, "Halo")]);
    assert_eq!(line(&endpoints, body).await.0, 200);
    let ticket = endpoints.settled_ticket(&format!("line:{user}")).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    let pushed = endpoints.sent_to(&user).await;
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].kind.as_deref(), Some("push"));
}
