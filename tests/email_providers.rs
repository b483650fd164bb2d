//! Mailgun, SendGrid and Postmark end to end: authenticated mail becomes a ticket with one
//! threaded ack in the SES emulator; unauthenticated, replayed or broken posts store nothing.

use intake::model::AckStatus;
use intake_dev::simulate_email::{self, CustomerMail};
use intake_dev::stack::{TEST_BASIC_AUTH, TEST_MAILGUN_SIGNING_KEY};
use intake_tests::{Endpoints, eventually, new_address, quiet_period, shared_stack};

const INBOX: &str = "halo@tokoku.id";

fn mail(from: &str) -> CustomerMail {
    CustomerMail {
        from_name: Some("Budi Santoso".into()),
        ..CustomerMail::new(
            from,
            INBOX,
            "Pesanan belum sampai",
            "Selamat pagi, pesanan saya INV-2291 belum sampai.",
        )
    }
    .with_fixed_id()
}

/// Sends `mail` through `provider` and checks the ticket and the one ack it gets.
async fn new_mail_gets_one_threaded_ack(endpoints: &Endpoints, provider: &str) {
    let customer = new_address();
    let mail = mail(&customer);
    let post = match provider {
        "mailgun" => simulate_email::mailgun(&endpoints.url, TEST_MAILGUN_SIGNING_KEY, &mail),
        "sendgrid" => simulate_email::sendgrid(&endpoints.url, TEST_BASIC_AUTH, &mail),
        _ => simulate_email::postmark(&endpoints.url, TEST_BASIC_AUTH, &mail),
    };
    let (status, body) = endpoints.post_mail(&post).await;
    assert_eq!(status, 200, "{provider}: {body}");

    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.provider, provider);
    assert_eq!(
        ticket.ack_status,
        AckStatus::Sent,
        "{:?}",
        ticket.ack_reason
    );
    assert_eq!(ticket.subject.as_deref(), Some("Pesanan belum sampai"));
    let messages = endpoints.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].body,
        "Selamat pagi, pesanan saya INV-2291 belum sampai."
    );
    assert_eq!(messages[0].from_name.as_deref(), Some("Budi Santoso"));

    let emails = endpoints.emails_to(&customer).await;
    assert_eq!(emails.len(), 1, "{provider}: exactly one ack");
    let ack = &emails[0];
    assert_eq!(ack.from, INBOX);
    assert_eq!(
        ack.subject,
        format!("Re: Pesanan belum sampai [#{}]", ticket.reference)
    );
    let message_id = format!("<{}>", mail.message_id.as_deref().unwrap());
    assert_eq!(ack.header("In-Reply-To"), Some(message_id.as_str()));
    assert_eq!(ack.header("References"), Some(message_id.as_str()));
    assert_eq!(ack.header("Auto-Submitted"), Some("auto-replied"));
    assert_eq!(ack.header("X-Auto-Response-Suppress"), Some("All"));
    assert!(
        ack.text
            .as_deref()
            .unwrap_or("")
            .contains(&ticket.reference)
    );
    assert!(
        ack.html
            .as_deref()
            .unwrap_or("")
            .contains(&ticket.reference)
    );

    // The provider retries the same post: stored once, acknowledged once.
    if provider != "mailgun" {
        assert_eq!(endpoints.post_mail(&post).await.0, 200);
        quiet_period().await;
        assert_eq!(endpoints.messages(&ticket.id).await.len(), 1);
        assert_eq!(endpoints.emails_to(&customer).await.len(), 1);
    }
}

#[tokio::test]
async fn mailgun_mail_becomes_a_ticket_with_a_threaded_ack() {
    new_mail_gets_one_threaded_ack(shared_stack(), "mailgun").await;
}

#[tokio::test]
async fn sendgrid_mail_becomes_a_ticket_with_a_threaded_ack() {
    new_mail_gets_one_threaded_ack(shared_stack(), "sendgrid").await;
}

#[tokio::test]
async fn postmark_mail_becomes_a_ticket_with_a_threaded_ack() {
    new_mail_gets_one_threaded_ack(shared_stack(), "postmark").await;
}

#[tokio::test]
async fn mailgun_tokens_are_single_use_and_signatures_checked() {
    let endpoints = shared_stack();
    let customer = new_address();
    let original = mail(&customer);
    let post = simulate_email::mailgun(&endpoints.url, TEST_MAILGUN_SIGNING_KEY, &original);
    assert_eq!(endpoints.post_mail(&post).await.0, 200);
    // Mailgun retrying the same mail (say after a 503) holds the token already: accepted,
    // stored once.
    assert_eq!(endpoints.post_mail(&post).await.0, 200);
    eventually("the ticket is stored", || async {
        endpoints.tickets_of(&customer).await.len() == 1
    })
    .await;
    // The same token and signature around another mail: a replay.
    let other = new_address();
    let replay_body = String::from_utf8_lossy(&post.body)
        .replace(&customer, &other)
        .replace(
            original.message_id.as_deref().unwrap(),
            "another-mail@example.com",
        );
    let mut replay = post.clone();
    replay.body = replay_body.into_bytes();
    let (status, body) = endpoints.post_mail(&replay).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("replayed_request"), "{body}");
    // Signed with another key.
    let forged = simulate_email::mailgun(&endpoints.url, "not-the-key", &mail(&other));
    assert_eq!(endpoints.post_mail(&forged).await.0, 403);
    quiet_period().await;
    assert!(endpoints.tickets_of(&other).await.is_empty());
}

#[tokio::test]
async fn basic_credentials_are_required_for_sendgrid_and_postmark() {
    let endpoints = shared_stack();
    let customer = new_address();
    for wrong in ["intake:wrong-password-0000", "other:test-basic-password"] {
        let sendgrid = simulate_email::sendgrid(&endpoints.url, wrong, &mail(&customer));
        let (status, body) = endpoints.post_mail(&sendgrid).await;
        assert_eq!(status, 401, "{body}");
        let postmark = simulate_email::postmark(&endpoints.url, wrong, &mail(&customer));
        assert_eq!(endpoints.post_mail(&postmark).await.0, 401);
    }
    let mut anonymous = simulate_email::postmark(&endpoints.url, TEST_BASIC_AUTH, &mail(&customer));
    anonymous.authorization = None;
    assert_eq!(endpoints.post_mail(&anonymous).await.0, 401);
    quiet_period().await;
    assert!(endpoints.tickets_of(&customer).await.is_empty());
}

#[tokio::test]
async fn broken_mail_is_a_400_with_nothing_stored() {
    let endpoints = shared_stack();
    let customer = new_address();
    let mut no_sender = mail(&customer);
    no_sender.from = String::new();
    let mut post = simulate_email::sendgrid(&endpoints.url, TEST_BASIC_AUTH, &no_sender);
    let (status, body) = endpoints.post_mail(&post).await;
    assert_eq!(status, 400, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
    assert!(
        json["error"].is_string() && json["code"].is_string(),
        "{body}"
    );

    post = simulate_email::postmark(&endpoints.url, TEST_BASIC_AUTH, &mail(&customer));
    post.body = b"{\"FromFull\": [1, 2".to_vec();
    assert_eq!(endpoints.post_mail(&post).await.0, 400);
    post.content_type = "text/plain".into();
    assert_eq!(endpoints.post_mail(&post).await.0, 415);

    let mut huge = simulate_email::postmark(&endpoints.url, TEST_BASIC_AUTH, &mail(&customer));
    huge.body = vec![b' '; 10 * 1024 * 1024 + 1];
    assert_eq!(endpoints.post_mail(&huge).await.0, 413);
    quiet_period().await;
    assert!(endpoints.tickets_of(&customer).await.is_empty());
}
