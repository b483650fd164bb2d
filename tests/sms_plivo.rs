//! Plivo SMS end to end: Message URL webhook → DynamoDB Local → stream → acknowledger →
//! Plivo's Message API (the recorder).

use intake::model::{AckStatus, Contact, Ticket};
use intake_dev::simulate::{self, FormPost, PlivoSms};
use intake_dev::stack::{TEST_PLIVO_AUTH_TOKEN, TEST_PLIVO_MAIN_AUTH_TOKEN};
use intake_tests::{OUR_NUMBER, eventually, http, new_number, quiet_period, shared_stack};

/// Our Plivo number, as Plivo writes numbers (no `+`).
const PLIVO_NUMBER: &str = "6221555000";

/// A number as Plivo writes it.
fn digits(number: &str) -> &str {
    number.trim_start_matches('+')
}

/// `sms` from `customer` (E.164; Plivo posts it without the `+`), signed with the test token.
fn signed(customer: &str, text: &str) -> (PlivoSms, FormPost) {
    let sms = PlivoSms::new(digits(customer), PLIVO_NUMBER, text);
    let post = simulate::sign_plivo(&shared_stack().url, TEST_PLIVO_AUTH_TOKEN, &sms);
    (sms, post)
}

async fn post(post: &FormPost) -> (u16, String) {
    simulate::post_form(&http(), post)
        .await
        .expect("stack reachable")
}

const SIGNATURE: &str = "x-plivo-signature-v3";
const MAIN_SIGNATURE: &str = "x-plivo-signature-ma-v3";
const NONCE: &str = "x-plivo-signature-v3-nonce";

fn header<'a>(post: &'a FormPost, name: &str) -> &'a str {
    post.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .expect("header")
}

/// `post` with header `name` replaced by `value` (removed when `None`).
fn with_header(post: &FormPost, name: &str, value: Option<String>) -> FormPost {
    let mut changed = post.clone();
    changed.headers.retain(|(k, _)| k != name);
    changed.headers.extend(value.map(|v| (name.to_owned(), v)));
    changed
}

/// Exactly one ticket with one message, and one ack sent, for `customer`.
async fn stored_and_acked_once(customer: &str) {
    let ticket = settled(customer).await;
    quiet_period().await;
    assert_eq!(tickets(customer).await.len(), 1);
    assert_eq!(shared_stack().messages(&ticket.id).await.len(), 1);
    assert_eq!(settled(customer).await.message_count, 1);
    assert_eq!(shared_stack().sent_to(customer).await.len(), 1);
}

fn code(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON error body");
    json["code"].as_str().unwrap_or_default().to_owned()
}

/// The customer's tickets, under the number in E.164: Plivo posts `6281…`, and the pipeline
/// stores every SMS sender as `+6281…` (one customer per number, whichever provider).
async fn tickets(customer: &str) -> Vec<Ticket> {
    shared_stack().tickets_of(customer).await
}

async fn contact(customer: &str) -> Option<Contact> {
    shared_stack().contact(customer).await
}

/// The customer's one ticket, once its ack is decided.
async fn settled(customer: &str) -> Ticket {
    for _ in 0..200 {
        if let Some(t) = tickets(customer).await.into_iter().next()
            && !matches!(t.ack_status, AckStatus::Pending | AckStatus::Sending)
        {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the ack of {customer}'s ticket never settled");
}

/// Nothing of this customer or message is in the table.
async fn nothing_stored(customer: &str, message_uuid: &str) {
    quiet_period().await;
    assert!(tickets(customer).await.is_empty(), "tickets of {customer}");
    // Under any spelling of the number (its digits are in every one).
    assert!(
        !shared_stack().any_key_contains(digits(customer)).await,
        "an item of {customer}"
    );
    assert!(
        !shared_stack().any_key_contains(message_uuid).await,
        "an item of {message_uuid}"
    );
    assert!(shared_stack().sent_to(customer).await.is_empty());
}

fn uuid_of(post: &FormPost) -> String {
    form_urlencoded::parse(post.body.as_bytes())
        .find(|(k, _)| k == "MessageUUID")
        .map(|(_, v)| v.into_owned())
        .expect("MessageUUID")
}

#[tokio::test]
async fn a_signed_sms_opens_a_ticket_and_gets_one_ack_through_plivo() {
    let stack = shared_stack();
    let customer = new_number();
    let (_, signed) = signed(&customer, "Halo, pesanan saya belum sampai \u{1f64f}");
    let (status, body) = post(&signed).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("<Response></Response>"), "{body}");

    let ticket = settled(&customer).await;
    assert_eq!(ticket.provider, "plivo");
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(ticket.message_count, 1);
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].body,
        "Halo, pesanan saya belum sampai \u{1f64f}"
    );
    assert_eq!(messages[0].provider_message_id, uuid_of(&signed));
    assert_eq!(messages[0].to, PLIVO_NUMBER);
    assert_eq!(messages[0].from, customer, "the sender in E.164");

    quiet_period().await;
    let sent = stack.sent_to(&customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].provider, "plivo");
    assert_eq!(sent[0].from.as_deref(), Some(PLIVO_NUMBER));
    assert!(sent[0].authenticated, "Basic auth as the Auth ID");
    assert_eq!(sent[0].status, 202);
    assert!(
        sent[0].path.starts_with("/v1/Account/SA") && sent[0].path.ends_with("/Message/"),
        "{}",
        sent[0].path
    );
    let text = sent[0].body.clone().unwrap_or_default();
    assert!(text.contains(&format!("#{}", ticket.reference)), "{text}");
    // Plivo's message_uuid of the ack is kept on the ticket.
    let ticket = settled(&customer).await;
    assert!(
        ticket
            .ack_provider_message_id
            .as_deref()
            .is_some_and(|id| id.len() == 36 && id.matches('-').count() == 4),
        "{:?}",
        ticket.ack_provider_message_id
    );
}

#[tokio::test]
async fn forged_requests_are_refused_and_store_nothing() {
    let customer = new_number();
    let (_, good) = signed(&customer, "Saya mau refund");
    let uuid = uuid_of(&good);

    let mut tampered = good.clone();
    tampered.body = good.body.replace("refund", "voucher");
    let wrong_token = simulate::sign_plivo(
        &shared_stack().url,
        "not-the-token",
        &PlivoSms {
            message_uuid: Some(uuid.clone()),
            ..PlivoSms::new(digits(&customer), PLIVO_NUMBER, "Saya mau refund")
        },
    );
    let other_nonce = with_header(&good, NONCE, Some(simulate::new_plivo_nonce()));
    let no_nonce = with_header(&good, NONCE, None);
    let unsigned = with_header(&good, SIGNATURE, None);
    let mut other_url = good.clone();
    other_url.url = format!("{}?stage=dev", good.url);

    for (what, attempt, wanted) in [
        ("body changed", &tampered, "bad_signature"),
        ("wrong token", &wrong_token, "bad_signature"),
        ("nonce changed", &other_nonce, "bad_signature"),
        ("URL changed", &other_url, "bad_signature"),
        ("no nonce", &no_nonce, "missing_signature"),
        ("no signature", &unsigned, "missing_signature"),
    ] {
        let (status, body) = post(attempt).await;
        assert_eq!(status, 403, "{what}: {body}");
        assert_eq!(code(&body), wanted, "{what}");
    }
    nothing_stored(&customer, &uuid).await;
}

#[tokio::test]
async fn a_nonce_reused_for_another_message_is_refused() {
    let stack = shared_stack();
    let first = new_number();
    let (_, original) = signed(&first, "Pesanan 5512 belum sampai");
    assert_eq!(post(&original).await.0, 200);
    let ticket = settled(&first).await;

    // Someone who can sign (a leaked token) sends another message under the same nonce.
    let second = new_number();
    let other = PlivoSms::new(digits(&second), PLIVO_NUMBER, "Kirim ke alamat lain");
    let url = original.url.clone();
    let nonce = header(&original, NONCE).to_owned();
    let body = simulate::encode(&other.form());
    let replay = FormPost {
        headers: vec![
            (
                SIGNATURE.into(),
                intake::providers::plivo::signature(
                    TEST_PLIVO_AUTH_TOKEN,
                    false,
                    &url,
                    body.as_bytes(),
                    &nonce,
                ),
            ),
            (NONCE.into(), nonce),
        ],
        url,
        body,
    };
    let (status, answer) = post(&replay).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(code(&answer), "replayed_request");
    nothing_stored(&second, &uuid_of(&replay)).await;
    // The first message is untouched.
    assert_eq!(stack.messages(&ticket.id).await.len(), 1);
    assert_eq!(stack.sent_to(&first).await.len(), 1);
}

#[tokio::test]
async fn retries_with_the_same_or_a_new_nonce_store_and_ack_once() {
    let customer = new_number();
    let (sms, first) = signed(&customer, "Paket saya rusak");
    assert_eq!(post(&first).await.0, 200);
    settled(&customer).await;

    // The same delivery again (a retry that keeps its nonce) ...
    let (status, body) = post(&first).await;
    assert_eq!(status, 200, "{body}");
    // ... and a retry signed afresh (a new nonce), same MessageUUID.
    let again = PlivoSms {
        message_uuid: Some(uuid_of(&first)),
        ..sms
    };
    let resent = simulate::sign_plivo(&shared_stack().url, TEST_PLIVO_AUTH_TOKEN, &again);
    assert_ne!(header(&resent, NONCE), header(&first, NONCE));
    let (status, body) = post(&resent).await;
    assert_eq!(status, 200, "{body}");
    stored_and_acked_once(&customer).await;
}

#[tokio::test]
async fn twenty_concurrent_copies_store_and_ack_once() {
    let customer = new_number();
    let (_, signed) = signed(&customer, "Tolong cek resi saya");
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let signed = signed.clone();
            tokio::spawn(async move { post(&signed).await })
        })
        .collect();
    for handle in handles {
        let (status, body) = handle.await.expect("task");
        assert_eq!(status, 200, "{body}");
    }
    stored_and_acked_once(&customer).await;
}

#[tokio::test]
async fn the_main_accounts_signature_and_rotated_tokens_are_accepted() {
    let stack = shared_stack();
    // A subaccount's number: Plivo also signs with the main account's token.
    let customer = new_number();
    let sms = PlivoSms::new(digits(&customer), PLIVO_NUMBER, "Dari subaccount");
    let by_main = simulate::sign_plivo(&stack.url, TEST_PLIVO_MAIN_AUTH_TOKEN, &sms);
    let main_only = with_header(
        &with_header(&by_main, SIGNATURE, None),
        MAIN_SIGNATURE,
        Some(header(&by_main, SIGNATURE).to_owned()),
    );
    let (status, body) = post(&main_only).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(settled(&customer).await.provider, "plivo");

    // During a token rotation Plivo sends one signature per active token.
    let customer = new_number();
    let (_, current) = signed(&customer, "Token baru");
    let old = intake::providers::plivo::signature(
        "the-previous-token",
        false,
        &current.url,
        current.body.as_bytes(),
        header(&current, NONCE),
    );
    let both = format!("{old},{}", header(&current, SIGNATURE));
    let rotated = with_header(&current, SIGNATURE, Some(both));
    let (status, body) = post(&rotated).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(settled(&customer).await.message_count, 1);
}

#[tokio::test]
async fn mms_media_urls_are_kept_as_attachments() {
    let stack = shared_stack();
    let customer = new_number();
    let sms = PlivoSms {
        media: vec![
            "https://media.plivo.com/Account/SA0/Media/m-0.jpg".into(),
            "https://media.plivo.com/Account/SA0/Media/m-1.pdf".into(),
        ],
        ..PlivoSms::new(digits(&customer), PLIVO_NUMBER, "Ini foto paketnya")
    };
    let signed = simulate::sign_plivo(&stack.url, TEST_PLIVO_AUTH_TOKEN, &sms);
    assert_eq!(post(&signed).await.0, 200);
    eventually("ticket stored", || {
        let customer = customer.clone();
        async move { !tickets(&customer).await.is_empty() }
    })
    .await;
    let ticket = tickets(&customer).await.remove(0);
    let messages = stack.messages(&ticket.id).await;
    assert_eq!(messages[0].body, "Ini foto paketnya");
    let urls: Vec<_> = messages[0]
        .attachments
        .iter()
        .map(|a| a.url.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        urls,
        [
            "https://media.plivo.com/Account/SA0/Media/m-0.jpg",
            "https://media.plivo.com/Account/SA0/Media/m-1.pdf"
        ]
    );
}

#[tokio::test]
async fn plivos_opt_out_flag_opts_the_customer_out() {
    let customer = new_number();
    let sms = PlivoSms {
        intent: Some("optout".into()),
        ..PlivoSms::new(digits(&customer), PLIVO_NUMBER, "STOP")
    };
    let signed = simulate::sign_plivo(&shared_stack().url, TEST_PLIVO_AUTH_TOKEN, &sms);
    assert_eq!(post(&signed).await.0, 200);
    eventually("contact opted out", || {
        let customer = customer.clone();
        async move { contact(&customer).await.is_some_and(|c| c.opted_out) }
    })
    .await;
    quiet_period().await;
    assert!(tickets(&customer).await.is_empty(), "STOP opens no ticket");
    assert!(shared_stack().sent_to(&customer).await.is_empty());
}

#[tokio::test]
async fn bad_input_gets_a_clear_status_and_stores_nothing() {
    let stack = shared_stack();
    let url = format!("{}/sms/plivo", stack.url);
    let get = http().get(&url).send().await.expect("stack reachable");
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(
        get.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );

    let customer = new_number();
    let (_, good) = signed(&customer, "Halo");
    let mut json = good.clone();
    json.body = r#"{"From":"6281234567890"}"#.into();
    let as_json = http()
        .post(&url)
        .header("content-type", "application/json")
        .header(SIGNATURE, header(&good, SIGNATURE))
        .header(NONCE, header(&good, NONCE))
        .body(json.body)
        .send()
        .await
        .expect("stack reachable");
    assert_eq!(as_json.status().as_u16(), 415);

    let huge = FormPost {
        body: format!("Text={}", "a".repeat(300 * 1024)),
        ..good.clone()
    };
    let (status, body) = post(&huge).await;
    assert_eq!((status, code(&body).as_str()), (413, "payload_too_large"));

    // Signed, but not a message Plivo would send: 400, and nothing stored.
    for (what, form, wanted) in [
        (
            "no MessageUUID",
            format!("From={}&To={PLIVO_NUMBER}&Text=Halo", digits(&customer)),
            "missing_field",
        ),
        (
            "not a Plivo id",
            format!(
                "From={}&To={PLIVO_NUMBER}&Text=Halo&MessageUUID=..%2F..",
                digits(&customer)
            ),
            "malformed_body",
        ),
    ] {
        let nonce = simulate::new_plivo_nonce();
        let sig = intake::providers::plivo::signature(
            TEST_PLIVO_AUTH_TOKEN,
            false,
            &good.url,
            form.as_bytes(),
            &nonce,
        );
        let bad = FormPost {
            url: good.url.clone(),
            body: form,
            headers: vec![(SIGNATURE.into(), sig), (NONCE.into(), nonce)],
        };
        let (status, body) = post(&bad).await;
        assert_eq!((status, code(&body).as_str()), (400, wanted), "{what}");
    }
    nothing_stored(&customer, &uuid_of(&good)).await;
}

/// One customer per number across SMS providers: a STOP through Plivo (the pipeline's own
/// keyword list, Indonesian here, without Plivo's flag) stops acks through Twilio.
#[tokio::test]
async fn a_stop_through_plivo_stops_acks_through_twilio() {
    let stack = shared_stack();
    let customer = new_number();
    let (_, stop) = signed(&customer, "berhenti");
    assert_eq!(post(&stop).await.0, 200);
    eventually("contact opted out", || {
        let customer = customer.clone();
        async move { contact(&customer).await.is_some_and(|c| c.opted_out) }
    })
    .await;
    let (status, body) = stack
        .send(&intake_dev::simulate::TwilioSms::new(
            &customer,
            OUR_NUMBER,
            "Halo, paket saya belum datang",
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let ticket = settled(&customer).await;
    assert_eq!(ticket.provider, "twilio");
    assert_eq!(ticket.ack_status, AckStatus::Skipped);
    assert_eq!(ticket.ack_reason.as_deref(), Some("opted_out"));
    quiet_period().await;
    assert!(stack.sent_to(&customer).await.is_empty());
}

/// Plivo's answers sorted as the acknowledger needs them: a 5xx is tried again and sent once,
/// a 4xx ends the ack as `failed`, its reason led by the HTTP status as the code. A stack of its own, since
/// the recorder is told to fail the next sends, whoever's they are.
#[tokio::test]
async fn plivo_errors_are_retried_or_recorded_as_failed() {
    let stack = intake_tests::own_stack().await;
    let endpoints = intake_tests::Endpoints::of(&stack);
    let send = |customer: &str, text: &str| {
        let sms = PlivoSms::new(digits(customer), PLIVO_NUMBER, text);
        simulate::sign_plivo(&endpoints.url, TEST_PLIVO_AUTH_TOKEN, &sms)
    };
    let statuses = |customer: String| {
        let endpoints = endpoints.clone();
        async move {
            quiet_period().await;
            let sent = endpoints.sent_to(&customer).await;
            sent.iter().map(|r| r.status).collect::<Vec<_>>()
        }
    };

    intake_dev::recorder::fail_next(&endpoints.recorder, 503, 1)
        .await
        .expect("recorder");
    let customer = new_number();
    assert_eq!(post(&send(&customer, "Halo")).await.0, 200);
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Sent);
    assert_eq!(statuses(customer).await, [503, 202]);

    intake_dev::recorder::fail_next(&endpoints.recorder, 400, 1)
        .await
        .expect("recorder");
    let customer = new_number();
    assert_eq!(post(&send(&customer, "Halo lagi")).await.0, 200);
    let ticket = endpoints.settled_ticket(&customer).await;
    assert_eq!(ticket.ack_status, AckStatus::Failed);
    let reason = ticket.ack_reason.unwrap_or_default();
    assert!(reason.starts_with("http_400"), "{reason}");
    assert_eq!(statuses(customer).await, [400]);
}
