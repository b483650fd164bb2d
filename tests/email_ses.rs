//! Amazon SES end to end: SNS deliveries signed with the local test key, DynamoDB Local, the
//! SES v2 emulator. New mail gets one threaded ack; replies thread; forged, foreign or
//! tampered deliveries store nothing; subscriptions are confirmed once.

use intake::model::AckStatus;
use intake_dev::recorder;
use intake_dev::simulate_email::{self, CustomerMail, SnsSigner};
use intake_dev::stack::TEST_SES_TOPIC_ARN;
use intake_tests::{Endpoints, http, new_address, own_stack, quiet_period, shared_stack};

const INBOX: &str = "halo@tokoku.id";

fn signer() -> SnsSigner {
    SnsSigner::local().expect("the local test key")
}

/// SNS's signed SubscriptionConfirmation of the stack's topic.
fn subscription_confirmation() -> intake::sns::SnsMessage {
    let mut confirmation = simulate_email::sns_message(
        "SubscriptionConfirmation",
        TEST_SES_TOPIC_ARN,
        None,
        format!("You have chosen to subscribe to the topic {TEST_SES_TOPIC_ARN}."),
    );
    signer().sign(&mut confirmation).expect("signed");
    confirmation
}

fn mail(from: &str, subject: &str, body: &str) -> CustomerMail {
    CustomerMail::new(from, INBOX, subject, body).with_fixed_id()
}

async fn send(endpoints: &Endpoints, mail: &CustomerMail) -> (u16, String) {
    let post =
        simulate_email::ses(&endpoints.url, &signer(), TEST_SES_TOPIC_ARN, mail).expect("signed");
    endpoints.post_mail(&post).await
}

#[tokio::test]
async fn new_mail_gets_a_threaded_ack_and_replies_join_the_ticket() {
    let endpoints = shared_stack();
    let customer = new_address();
    let first = mail(
        &customer,
        "Pesanan INV-2291 belum sampai",
        "Selamat pagi, pesanan saya belum sampai.",
    );
    let (status, body) = send(endpoints, &first).await;
    assert_eq!(status, 200, "{body}");

    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.provider, "ses");
    assert_eq!(
        ticket.ack_status,
        AckStatus::Sent,
        "{:?}",
        ticket.ack_reason
    );
    let acks = endpoints.emails_to(&customer).await;
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(
        ack.subject,
        format!("Re: Pesanan INV-2291 belum sampai [#{}]", ticket.reference)
    );
    let answered = format!("<{}>", first.message_id.as_deref().unwrap());
    assert_eq!(ack.header("In-Reply-To"), Some(answered.as_str()));
    assert_eq!(ack.header("References"), Some(answered.as_str()));
    assert_eq!(ack.header("Auto-Submitted"), Some("auto-replied"));
    assert_eq!(ack.header("X-Auto-Response-Suppress"), Some("All"));
    assert_eq!(
        ticket.ack_provider_message_id.as_deref(),
        Some(ack.message_id.as_str())
    );

    // The customer answers the ack: In-Reply-To is the Message-ID SES gave it.
    let ack_id = format!("{}@email.amazonses.com", ack.message_id);
    let reply = CustomerMail {
        in_reply_to: Some(ack_id.clone()),
        ..mail(&customer, "Re: Pesanan", "Sudah saya cek, resi JNE123.")
    };
    assert_eq!(send(endpoints, &reply).await.0, 200);
    // A colleague in Cc answers the same ack from another address: same ticket too.
    let colleague = new_address();
    let from_colleague = CustomerMail {
        in_reply_to: Some(ack_id),
        ..mail(&colleague, "Re: Pesanan", "Saya istrinya, mohon dibantu.")
    };
    assert_eq!(send(endpoints, &from_colleague).await.0, 200);
    // Someone who only kept [#REF] in the subject.
    let by_reference = new_address();
    let with_ref = mail(
        &by_reference,
        &format!("Tentang pesanan [#{}]", ticket.reference),
        "Ada kabar?",
    );
    assert_eq!(send(endpoints, &with_ref).await.0, 200);

    quiet_period().await;
    let messages = endpoints.messages(&ticket.id).await;
    let bodies: Vec<&str> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec![
            "Selamat pagi, pesanan saya belum sampai.",
            "Sudah saya cek, resi JNE123.",
            "Saya istrinya, mohon dibantu.",
            "Ada kabar?",
        ]
    );
    assert!(endpoints.tickets_of(&colleague).await.is_empty());
    assert!(endpoints.tickets_of(&by_reference).await.is_empty());
    assert_eq!(
        endpoints.emails_to(&customer).await.len(),
        1,
        "no second ack"
    );
    assert!(endpoints.emails_to(&colleague).await.is_empty());
    assert!(endpoints.emails_to(&by_reference).await.is_empty());
}

#[tokio::test]
async fn encodings_arrive_as_readable_text() {
    let endpoints = shared_stack();
    for (fixture, expected) in [
        ("html_only.eml", "Barang yang saya terima rusak & penyok."),
        (
            "latin1_qp.eml",
            "Guten Tag, das Paket kam beschädigt an. Café-Maschine funktioniert nicht.",
        ),
        ("base64_attachment.eml", "Rp 250.000"),
    ] {
        let customer = new_address();
        let raw = std::fs::read_to_string(format!(
            "{}/fixtures/email/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        // The fixture's sender becomes this test's fresh customer.
        let raw = raw
            .replace("rina@example.com", &customer)
            .replace("juergen@example.de", &customer)
            .replace("Siti@Example.CO.ID", &customer);
        let mut message = simulate_email::sns_message(
            "Notification",
            TEST_SES_TOPIC_ARN,
            Some("Amazon SES Email Receipt Notification"),
            ses_received_raw(&customer, &raw),
        );
        signer().sign(&mut message).expect("signed");
        let (status, body) = endpoints
            .post_mail(&simulate_email::sns_post(&endpoints.url, &message))
            .await;
        assert_eq!(status, 200, "{fixture}: {body}");
        let ticket = endpoints.settled_ticket(&customer).await;
        let messages = endpoints.messages(&ticket.id).await;
        assert!(
            messages[0].body.contains(expected),
            "{fixture}: {}",
            messages[0].body
        );
        assert!(!messages[0].body.contains('<'), "{fixture}: no markup");
    }
}

/// A receipt notification carrying `raw` as Base64 content.
fn ses_received_raw(sender: &str, raw: &str) -> String {
    use base64::Engine;
    serde_json::json!({
        "notificationType": "Received",
        "mail": {"messageId": ulid::Ulid::new().to_string(), "source": sender},
        "receipt": {
            "recipients": [INBOX],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "action": {"type": "SNS", "encoding": "BASE64"}
        },
        "content": base64::engine::general_purpose::STANDARD.encode(raw),
    })
    .to_string()
}

#[tokio::test]
async fn spam_and_virus_verdicts_are_stored_flagged_and_never_answered() {
    let endpoints = shared_stack();
    for (spam, virus, reason) in [
        ("FAIL", "PASS", "flagged_spam"),
        ("PASS", "FAIL", "flagged_virus"),
    ] {
        let customer = new_address();
        let m = mail(&customer, "Hadiah untuk Anda", "Klik tautan ini");
        let mut message = simulate_email::sns_message(
            "Notification",
            TEST_SES_TOPIC_ARN,
            None,
            simulate_email::ses_received(&m, spam, virus),
        );
        signer().sign(&mut message).expect("signed");
        assert_eq!(
            endpoints
                .post_mail(&simulate_email::sns_post(&endpoints.url, &message))
                .await
                .0,
            200
        );
        let ticket = endpoints.settled_ticket(&customer).await;
        assert_eq!(ticket.ack_status, AckStatus::Skipped);
        assert_eq!(ticket.ack_reason.as_deref(), Some(reason));
        assert_eq!(
            ticket.flagged.as_deref(),
            Some(reason.trim_start_matches("flagged_"))
        );
        assert!(endpoints.emails_to(&customer).await.is_empty());
    }
}

#[tokio::test]
async fn mail_stored_in_s3_is_fetched() {
    let endpoints = shared_stack();
    let customer = new_address();
    let m = mail(&customer, "Mail besar", "Lampiran foto ada di S3.");
    let key = format!("inbound/{}", ulid::Ulid::new());
    let put = http()
        .put(format!("{}/s3/intake-mail/{key}", endpoints.recorder))
        .body(m.mime())
        .send()
        .await
        .expect("S3 stand-in");
    assert!(put.status().is_success());
    let mut notification: serde_json::Value =
        serde_json::from_str(&simulate_email::ses_received(&m, "PASS", "PASS")).unwrap();
    notification.as_object_mut().unwrap().remove("content");
    notification["receipt"]["action"] =
        serde_json::json!({"type": "S3", "bucketName": "intake-mail", "objectKey": key});
    let mut message = simulate_email::sns_message(
        "Notification",
        TEST_SES_TOPIC_ARN,
        None,
        notification.to_string(),
    );
    signer().sign(&mut message).expect("signed");
    let post = simulate_email::sns_post(&endpoints.url, &message);
    let (status, body) = endpoints.post_mail(&post).await;
    assert_eq!(status, 200, "{body}");
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(
        endpoints.messages(&ticket.id).await[0].body,
        "Lampiran foto ada di S3."
    );

    // An object that is not there: a clear 400, nothing stored.
    let other = new_address();
    let mut missing: serde_json::Value = serde_json::from_str(&simulate_email::ses_received(
        &mail(&other, "x", "y"),
        "PASS",
        "PASS",
    ))
    .unwrap();
    missing.as_object_mut().unwrap().remove("content");
    missing["receipt"]["action"] =
        serde_json::json!({"type": "S3", "bucketName": "intake-mail", "objectKey": "inbound/nope"});
    let mut message = simulate_email::sns_message(
        "Notification",
        TEST_SES_TOPIC_ARN,
        None,
        missing.to_string(),
    );
    signer().sign(&mut message).expect("signed");
    let (status, _) = endpoints
        .post_mail(&simulate_email::sns_post(&endpoints.url, &message))
        .await;
    assert_eq!(status, 400);
    quiet_period().await;
    assert!(endpoints.tickets_of(&other).await.is_empty());
}

#[tokio::test]
async fn forged_foreign_and_tampered_deliveries_are_403_and_store_nothing() {
    let endpoints = shared_stack();
    let customer = new_address();
    let m = mail(&customer, "Halo", "Isi pesan");
    let signed = || {
        let mut message = simulate_email::sns_message(
            "Notification",
            TEST_SES_TOPIC_ARN,
            None,
            simulate_email::ses_received(&m, "PASS", "PASS"),
        );
        signer().sign(&mut message).expect("signed");
        message
    };
    let mut cases = Vec::new();
    // The body changed after signing.
    let mut tampered = signed();
    tampered.message = tampered.message.replace("PASS", "PASS ");
    cases.push(("tampered body", tampered));
    // A topic this stack does not take mail from, properly signed.
    let mut foreign = simulate_email::sns_message(
        "Notification",
        "arn:aws:sns:eu-west-1:999999999999:someone-else",
        None,
        simulate_email::ses_received(&m, "PASS", "PASS"),
    );
    signer().sign(&mut foreign).expect("signed");
    cases.push(("wrong topic", foreign));
    // The certificate URL points off SNS's hosts (re-signed, so only the URL is wrong).
    let mut off_host = signed();
    off_host.signing_cert_url = "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem".into();
    signer().sign(&mut off_host).expect("signed");
    cases.push(("certificate off SNS hosts", off_host));
    let mut http_cert = signed();
    http_cert.signing_cert_url = "http://sns.eu-west-1.amazonaws.com/cert.pem".into();
    signer().sign(&mut http_cert).expect("signed");
    cases.push(("certificate over http", http_cert));
    // A SHA256withRSA signature presented as SignatureVersion 1.
    let mut mislabelled = signed();
    mislabelled.signature_version = "1".into();
    cases.push(("SignatureVersion mismatch", mislabelled));
    let mut unsigned = signed();
    unsigned.signature = String::new();
    cases.push(("no signature", unsigned));

    for (what, message) in cases {
        let (status, body) = endpoints
            .post_mail(&simulate_email::sns_post(&endpoints.url, &message))
            .await;
        assert_eq!(status, 403, "{what}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert!(json["code"].is_string(), "{what}: {body}");
    }
    quiet_period().await;
    assert!(endpoints.tickets_of(&customer).await.is_empty());
    assert!(endpoints.email_contact(&customer).await.is_none());
}

#[tokio::test]
async fn subscriptions_are_confirmed_once_and_only_for_our_topics() {
    let endpoints = shared_stack();
    let confirmations = |topic: &'static str| async move {
        recorder::fetch(&endpoints.recorder)
            .await
            .expect("recorder")
            .into_iter()
            .filter(|r| r.provider == "sns" && r.to.as_deref() == Some(topic))
            .count()
    };
    let confirmation = subscription_confirmation();
    let before = confirmations(TEST_SES_TOPIC_ARN).await;
    let post = simulate_email::sns_post(&endpoints.url, &confirmation);
    let (status, body) = endpoints.post_mail(&post).await;
    assert_eq!(status, 200, "{body}");
    // SNS resends the same confirmation: answered, not confirmed again.
    assert_eq!(endpoints.post_mail(&post).await.0, 200);
    assert_eq!(confirmations(TEST_SES_TOPIC_ARN).await, before + 1);

    const FOREIGN: &str = "arn:aws:sns:eu-west-1:999999999999:someone-else";
    let mut foreign = simulate_email::sns_message(
        "SubscriptionConfirmation",
        FOREIGN,
        None,
        "subscribe".into(),
    );
    signer().sign(&mut foreign).expect("signed");
    let (status, _) = endpoints
        .post_mail(&simulate_email::sns_post(&endpoints.url, &foreign))
        .await;
    assert_eq!(status, 403);
    assert_eq!(confirmations(FOREIGN).await, 0);
}

/// SNS gives up on a subscription whose confirmation never succeeds, and then drops every mail.
/// A confirmation whose GET failed is answered 503 and its claim released, so SNS's
/// redelivery confirms it.
#[tokio::test]
async fn a_confirmation_that_failed_is_confirmed_by_the_redelivery() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    let confirmation = subscription_confirmation();
    let post = simulate_email::sns_post(&endpoints.url, &confirmation);

    recorder::fail_next(&endpoints.recorder, 503, 1)
        .await
        .expect("recorder");
    let (status, body) = endpoints.post_mail(&post).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = endpoints.post_mail(&post).await;
    assert_eq!(status, 200, "{body}");

    let attempts: Vec<u16> = recorder::fetch(&endpoints.recorder)
        .await
        .expect("recorder")
        .into_iter()
        .filter(|r| r.provider == "sns")
        .map(|r| r.status)
        .collect();
    assert_eq!(attempts, vec![503, 200], "failed once, then confirmed");
}
