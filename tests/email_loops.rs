//! Mail that must never be answered automatically (RFC 3834 and common practice) is stored
//! like any other, and its ticket says why it got no ack. Each rule goes through another
//! provider, so every provider's path reads the markers. Plus the email side of the ack
//! policy: Saturday in Jakarta, in Indonesian, by email.

use intake::model::AckStatus;
use intake_dev::simulate_email::{self, CustomerMail, MailPost, SnsSigner};
use intake_dev::stack::{TEST_BASIC_AUTH, TEST_MAILGUN_SIGNING_KEY, TEST_SES_TOPIC_ARN};
use intake_tests::{
    Endpoints, fixture_settings, new_address, own_stack_with, shared_stack, stopped_clock,
};

const INBOX: &str = "halo@tokoku.id";

fn post(endpoints: &Endpoints, provider: usize, mail: &CustomerMail) -> MailPost {
    match provider % 4 {
        0 => simulate_email::ses(
            &endpoints.url,
            &SnsSigner::local().expect("test key"),
            TEST_SES_TOPIC_ARN,
            mail,
        )
        .expect("signed"),
        1 => simulate_email::mailgun(&endpoints.url, TEST_MAILGUN_SIGNING_KEY, mail),
        2 => simulate_email::sendgrid(&endpoints.url, TEST_BASIC_AUTH, mail),
        _ => simulate_email::postmark(&endpoints.url, TEST_BASIC_AUTH, mail),
    }
}

#[tokio::test]
async fn robots_lists_and_bounces_are_stored_but_never_answered() {
    let endpoints = shared_stack();
    let header = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
    type Build = Box<dyn Fn(&str) -> CustomerMail>;
    let cases: Vec<(&str, Build)> = vec![
        (
            "auto_submitted",
            Box::new(move |from| CustomerMail {
                headers: header("Auto-Submitted", "auto-replied"),
                ..CustomerMail::new(from, INBOX, "Out of office", "I am away until Monday.")
            }),
        ),
        (
            "precedence_bulk",
            Box::new(move |from| CustomerMail {
                headers: header("Precedence", "bulk"),
                ..CustomerMail::new(from, INBOX, "Promo", "Diskon 50%")
            }),
        ),
        (
            "mailing_list",
            Box::new(move |from| CustomerMail {
                headers: header("List-Id", "<news.example.co.id>"),
                ..CustomerMail::new(from, INBOX, "Newsletter", "Berita minggu ini")
            }),
        ),
        (
            "mailing_list",
            Box::new(move |from| CustomerMail {
                headers: header("List-Unsubscribe", "<mailto:leave@example.co.id>"),
                ..CustomerMail::new(from, INBOX, "Newsletter", "Berita minggu ini")
            }),
        ),
        (
            "auto_response_suppressed",
            Box::new(move |from| CustomerMail {
                headers: header("X-Auto-Response-Suppress", "All"),
                ..CustomerMail::new(from, INBOX, "Notification", "Your report is ready")
            }),
        ),
        (
            "auto_response_suppressed",
            Box::new(move |from| CustomerMail {
                headers: header("X-Autoreply", "yes"),
                ..CustomerMail::new(from, INBOX, "Autoreply", "Thanks for your mail")
            }),
        ),
        (
            "bounce",
            Box::new(|from| CustomerMail {
                envelope_sender: Some(String::new()),
                ..CustomerMail::new(from, INBOX, "Undelivered Mail", "Delivery failed")
            }),
        ),
    ];
    for (i, (reason, build)) in cases.iter().enumerate() {
        let customer = new_address();
        let mail = build(&customer).with_fixed_id();
        let (status, body) = endpoints.post_mail(&post(endpoints, i, &mail)).await;
        assert_eq!(status, 200, "{reason} via #{i}: {body}");
        let ticket = endpoints.settled_ticket(&customer).await;
        assert_eq!(ticket.ack_status, AckStatus::Skipped, "{reason} via #{i}");
        assert_eq!(ticket.ack_reason.as_deref(), Some(*reason), "via #{i}");
        assert_eq!(endpoints.messages(&ticket.id).await.len(), 1);
        assert!(endpoints.emails_to(&customer).await.is_empty());
    }
}

#[tokio::test]
async fn system_senders_and_our_own_address_are_never_answered() {
    let endpoints = shared_stack();
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    for (i, (sender, reason)) in [
        (format!("mailer-daemon.{suffix}@example.co.id"), None),
        (
            format!("noreply@{suffix}.example.co.id"),
            Some("system_sender"),
        ),
        (
            format!("no-reply@{suffix}.example.co.id"),
            Some("system_sender"),
        ),
        (
            format!("postmaster@{suffix}.example.co.id"),
            Some("system_sender"),
        ),
        (INBOX.to_owned(), Some("own_address")),
    ]
    .into_iter()
    .enumerate()
    {
        // "mailer-daemon.<x>" is a person's local part that merely starts like one.
        let mail = CustomerMail::new(&sender, INBOX, "Info", "Pesan otomatis").with_fixed_id();
        let (status, _) = endpoints.post_mail(&post(endpoints, i, &mail)).await;
        assert_eq!(status, 200, "{sender}");
        let ticket = endpoints.settled_ticket(&sender).await;
        match reason {
            Some(reason) => {
                assert_eq!(ticket.ack_status, AckStatus::Skipped, "{sender}");
                assert_eq!(ticket.ack_reason.as_deref(), Some(reason), "{sender}");
            }
            None => assert_eq!(ticket.ack_status, AckStatus::Sent, "{sender}"),
        }
    }
}

#[tokio::test]
async fn replies_to_an_answered_ticket_get_no_second_ack() {
    let endpoints = shared_stack();
    // The cap of three acks a day per address is checked in the `ack::policy` tests; here,
    // whichever provider brings them, replies join the ticket and are not answered again.
    let customer = new_address();
    let first = CustomerMail::new(&customer, INBOX, "Tanya stok", "Ukuran 42 ada?").with_fixed_id();
    assert_eq!(
        endpoints.post_mail(&post(endpoints, 2, &first)).await.0,
        200
    );
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    for n in 0..3 {
        let again = CustomerMail {
            in_reply_to: first.message_id.clone(),
            ..CustomerMail::new(&customer, INBOX, "Re: Tanya stok", &format!("Halo? ({n})"))
        }
        .with_fixed_id();
        assert_eq!(
            endpoints.post_mail(&post(endpoints, n, &again)).await.0,
            200
        );
    }
    intake_tests::quiet_period().await;
    assert_eq!(endpoints.messages(&ticket.id).await.len(), 4);
    assert_eq!(endpoints.emails_to(&customer).await.len(), 1);
}

#[tokio::test]
async fn saturday_in_jakarta_by_email_is_answered_in_indonesian() {
    let stack = own_stack_with(|o| {
        o.config.ack = fixture_settings();
        o.clock = Some(stopped_clock("2026-11-28T03:00:00Z"));
    })
    .await;
    let endpoints = Endpoints::of(&stack);
    let customer = new_address();
    let mail = CustomerMail::new(
        &customer,
        INBOX,
        "Pesanan belum sampai",
        "Halo, pesanan saya belum sampai. Mohon dibantu.",
    )
    .with_fixed_id();
    assert_eq!(
        endpoints.post_mail(&post(&endpoints, 0, &mail)).await.0,
        200
    );
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(
        ticket.ack_status,
        AckStatus::Sent,
        "{:?}",
        ticket.ack_reason
    );
    let acks = endpoints.emails_to(&customer).await;
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(ack.from, "halo@tokoku.id", "the brand's support address");
    let text = ack.text.as_deref().unwrap_or("");
    assert!(text.starts_with("Halo"), "{text}");
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
    assert!(text.contains("Senin, 08.00 WIB"), "{text}");
    let html = ack.html.as_deref().unwrap_or("");
    assert!(
        html.contains(&format!("<strong>#{}</strong>", ticket.reference)),
        "{html}"
    );
    assert!(html.contains("Senin, 08.00 WIB"), "{html}");
}
