//! The SES v2 emulator of the local stack, driven by the real `aws-sdk-sesv2` client. Needs
//! `npm ci` in the project root and Node.js; fails (never skips) without them.

use std::path::Path;

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::config::{Credentials, Region};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};
use intake_dev::ses_local::{self, SesLocal};

fn project_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
}

async fn start() -> SesLocal {
    let port = intake_dev::free_port().expect("a free port");
    SesLocal::start(project_root(), port)
        .await
        .expect("the SES emulator starts (run `npm ci`; needs Node.js)")
}

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .build();
    Client::from_conf(config)
}

fn content(data: &str) -> Content {
    Content::builder().data(data).build().expect("content")
}

fn header(name: &str, value: &str) -> MessageHeader {
    MessageHeader::builder()
        .name(name)
        .value(value)
        .build()
        .expect("header")
}

#[tokio::test]
async fn send_email_simple_content_is_stored_with_its_headers() {
    let ses = start().await;
    let client = client(&ses.endpoint());
    let before = jiff::Timestamp::now().as_second();

    let message = Message::builder()
        .subject(content("Re: my order #42"))
        .body(
            Body::builder()
                .text(content("We got your message."))
                .html(content("<p>We got your message.</p>"))
                .build(),
        )
        .headers(header("In-Reply-To", "<m2@customer.test>"))
        .headers(header(
            "References",
            "<m1@customer.test> <m2@customer.test>",
        ))
        .headers(header("Auto-Submitted", "auto-replied"))
        .build();
    let sent = client
        .send_email()
        .from_email_address("support@helpdesk.test")
        .destination(
            Destination::builder()
                .to_addresses("customer@customer.test")
                .cc_addresses("team@helpdesk.test")
                .build(),
        )
        .reply_to_addresses("reply+t1@helpdesk.test")
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .expect("SendEmail succeeds");
    let message_id = sent.message_id().expect("a MessageId").to_string();

    let emails = ses_local::sent_emails(&ses.endpoint())
        .await
        .expect("the store");
    assert_eq!(emails.len(), 1, "{emails:#?}");
    let email = &emails[0];
    assert_eq!(email.message_id, message_id);
    assert_eq!(email.from, "support@helpdesk.test");
    assert_eq!(email.to, ["customer@customer.test"]);
    assert_eq!(email.cc, ["team@helpdesk.test"]);
    assert!(email.bcc.is_empty());
    assert_eq!(email.reply_to, ["reply+t1@helpdesk.test"]);
    assert_eq!(email.subject, "Re: my order #42");
    assert_eq!(email.text.as_deref(), Some("We got your message."));
    assert_eq!(email.html.as_deref(), Some("<p>We got your message.</p>"));
    assert_eq!(
        email.headers,
        [
            ("In-Reply-To".to_string(), "<m2@customer.test>".to_string()),
            (
                "References".to_string(),
                "<m1@customer.test> <m2@customer.test>".to_string()
            ),
            ("Auto-Submitted".to_string(), "auto-replied".to_string()),
        ]
    );
    assert_eq!(email.header("auto-submitted"), Some("auto-replied"));
    assert!(email.attachments.is_empty());
    assert!(email.at >= before && email.at <= jiff::Timestamp::now().as_second());

    // The MIME message it renders carries the custom headers too.
    let eml = ses_local::eml(&ses.endpoint(), &message_id)
        .await
        .expect("the .eml");
    let eml = String::from_utf8_lossy(&eml);
    assert!(eml.contains("In-Reply-To: <m2@customer.test>\r\n"), "{eml}");
    assert!(eml.contains("Auto-Submitted: auto-replied\r\n"), "{eml}");

    let later = ses_local::sent_emails_since(&ses.endpoint(), email.at + 1)
        .await
        .expect("the store");
    assert!(later.is_empty(), "{later:#?}");
}

#[tokio::test]
async fn clear_empties_the_store_and_stop_frees_the_port() {
    let mut ses = start().await;
    let client = client(&ses.endpoint());
    client
        .send_email()
        .from_email_address("support@helpdesk.test")
        .destination(
            Destination::builder()
                .to_addresses("customer@customer.test")
                .build(),
        )
        .content(
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(content("Hello"))
                        .body(Body::builder().text(content("Hi.")).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("SendEmail succeeds");
    assert_eq!(
        ses_local::sent_emails(&ses.endpoint()).await.unwrap().len(),
        1
    );

    ses_local::clear(&ses.endpoint()).await.expect("clear");
    assert!(
        ses_local::sent_emails(&ses.endpoint())
            .await
            .unwrap()
            .is_empty()
    );

    let port = ses.port();
    ses.stop().await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the emulator still listens after stop"
    );
}

#[tokio::test]
async fn start_fails_without_the_package() {
    let dir = std::env::temp_dir().join(format!("intake-no-ses-{}", std::process::id()));
    let port = intake_dev::free_port().expect("a free port");
    let err = SesLocal::start(&dir, port)
        .await
        .err()
        .expect("no emulator outside the project");
    assert!(err.to_string().contains("npm ci"), "{err}");
}
