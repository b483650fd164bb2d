//! Bad input gets a clear status and a JSON error body, and nothing is stored.

use intake::providers::twilio;
use intake_dev::simulate::{self, TwilioSms};
use intake_dev::stack::{TEST_ACCOUNT_SID, TEST_AUTH_TOKEN};
use intake_tests::{
    Endpoints, OUR_NUMBER, http, new_number, own_stack, own_stack_with, shared_stack,
};

/// Posts raw bytes with headers; returns status and the parsed JSON error body.
async fn raw(
    method: reqwest::Method,
    url: &str,
    content_type: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let (status, _, json) = raw_with_headers(method, url, content_type, signature, body).await;
    (status, json)
}

/// [`raw`], with the response's headers.
async fn raw_with_headers(
    method: reqwest::Method,
    url: &str,
    content_type: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut req = http()
        .request(method, url)
        .header("content-type", content_type)
        .body(body);
    if let Some(sig) = signature {
        req = req.header("x-twilio-signature", sig);
    }
    let response = req.send().await.expect("stack reachable");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is not JSON: {text}"));
    (status, headers, json)
}

/// A response header as text, or `None`.
fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A correctly signed post of an arbitrary form.
fn signed_form(stack: &Endpoints, form: &[(&str, &str)]) -> (String, String) {
    let url = format!("{}/sms/twilio", stack.url);
    let pairs: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (
        simulate::encode(&pairs),
        twilio::signature(TEST_AUTH_TOKEN, &url, &pairs),
    )
}

async fn assert_nothing_stored(stack: &Endpoints, customer: &str, sid: Option<&str>) {
    assert!(
        !stack.any_key_contains(customer).await,
        "something was stored for {customer}"
    );
    if let Some(sid) = sid {
        assert!(
            !stack.any_key_contains(sid).await,
            "a dedup key was stored for {sid}"
        );
    }
}

#[tokio::test]
async fn tampered_body_is_refused_and_the_table_is_unchanged() {
    let stack = own_stack().await;
    let endpoints = Endpoints::of(&stack);
    // Something stored first, so "unchanged" means more than "empty".
    assert_eq!(
        endpoints
            .send(&TwilioSms::new(&new_number(), OUR_NUMBER, "hi"))
            .await
            .0,
        200
    );
    let before = endpoints.item_count().await;

    let customer = new_number();
    let mut post = endpoints.sign(&TwilioSms::new(&customer, OUR_NUMBER, "Refund Rp100.000"));
    post.body = post.body.replace("100.000", "900.000");
    let (status, body) = endpoints.post(&post).await;
    assert_eq!(status, 403, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(json["code"], "bad_signature");
    assert!(json["error"].is_string());
    assert_eq!(endpoints.item_count().await, before);
}

#[tokio::test]
async fn signature_for_another_url_or_token_is_refused() {
    let stack = shared_stack();
    let customer = new_number();
    let sms = TwilioSms::new(&customer, OUR_NUMBER, "Halo");
    let wrong_url = simulate::sign_twilio(
        "https://attacker.example.com",
        TEST_AUTH_TOKEN,
        TEST_ACCOUNT_SID,
        &sms,
    );
    let mut post = stack.sign(&sms);
    post.signature = wrong_url.signature;
    assert_eq!(stack.post(&post).await.0, 403);
    let wrong_token = simulate::sign_twilio(&stack.url, "not-the-token", TEST_ACCOUNT_SID, &sms);
    assert_eq!(stack.post(&wrong_token).await.0, 403);
    assert_nothing_stored(stack, &customer, None).await;
}

#[tokio::test]
async fn missing_signature_is_403() {
    let stack = shared_stack();
    let customer = new_number();
    let post = stack.sign(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"));
    let (status, json) = raw(
        reqwest::Method::POST,
        &post.url,
        "application/x-www-form-urlencoded",
        None,
        post.body.into_bytes(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(json["code"], "missing_signature");
    assert_nothing_stored(stack, &customer, None).await;
}

#[tokio::test]
async fn missing_from_or_message_sid_is_400() {
    let stack = shared_stack();
    let customer = new_number();
    let sid = simulate::new_message_sid();
    for form in [
        vec![
            ("MessageSid", sid.as_str()),
            ("To", OUR_NUMBER),
            ("Body", "Halo"),
        ],
        vec![
            ("From", customer.as_str()),
            ("To", OUR_NUMBER),
            ("Body", "Halo"),
        ],
    ] {
        let (body, signature) = signed_form(stack, &form);
        let (status, json) = raw(
            reqwest::Method::POST,
            &format!("{}/sms/twilio", stack.url),
            "application/x-www-form-urlencoded",
            Some(&signature),
            body.into_bytes(),
        )
        .await;
        assert_eq!(status, 400, "{json}");
        assert_eq!(json["code"], "missing_field");
    }
    assert_nothing_stored(stack, &customer, Some(&sid)).await;
}

#[tokio::test]
async fn malformed_form_body_is_400() {
    let stack = shared_stack();
    let url = format!("{}/sms/twilio", stack.url);
    // Raw bytes that are not UTF-8, signed over exactly what form decoding sees, so the
    // request passes verification and is refused by the parser.
    let body = b"MessageSid=SM1&From=\xff\xfe&To=%2B1&Body=x".to_vec();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let signature = twilio::signature(TEST_AUTH_TOKEN, &url, &pairs);
    let (status, json) = raw(
        reqwest::Method::POST,
        &url,
        "application/x-www-form-urlencoded",
        Some(&signature),
        body,
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["code"], "malformed_body");
}

#[tokio::test]
async fn body_over_256_kib_is_413() {
    let stack = shared_stack();
    let body = format!("Body={}", "a".repeat(256 * 1024));
    let (status, json) = raw(
        reqwest::Method::POST,
        &format!("{}/sms/twilio", stack.url),
        "application/x-www-form-urlencoded",
        Some("irrelevant"),
        body.into_bytes(),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(json["code"], "payload_too_large");
}

#[tokio::test]
async fn wrong_method_is_405_and_unknown_routes_are_404() {
    let stack = shared_stack();
    // Each 405 names what the route does accept (Meta's handshake is a GET).
    for (method, path, allow) in [
        (reqwest::Method::GET, "/sms/twilio", "POST"),
        (reqwest::Method::PUT, "/sms/twilio", "POST"),
        (reqwest::Method::DELETE, "/email/postmark", "POST"),
        (reqwest::Method::PUT, "/social/meta", "GET, POST"),
        (reqwest::Method::PATCH, "/social/telegram", "POST"),
    ] {
        let (status, headers, json) = raw_with_headers(
            method.clone(),
            &format!("{}{path}", stack.url),
            "application/x-www-form-urlencoded",
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(json["code"], "method_not_allowed", "{method} {path}");
        assert_eq!(header(&headers, "allow"), Some(allow), "{method} {path}");
    }
    for path in ["/sms/nexmo", "/fax/twilio", "/sms", "/"] {
        let (status, json) = raw(
            reqwest::Method::POST,
            &format!("{}{path}", stack.url),
            "application/x-www-form-urlencoded",
            None,
            b"a=b".to_vec(),
        )
        .await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(json["code"], "unknown_route", "{path}");
    }
}

/// SendGrid and Postmark sign nothing: their credentials are HTTP Basic in the webhook URL,
/// and a 401 says so, as HTTP asks, so a deployer trying the URL by hand sees what is wanted.
#[tokio::test]
async fn missing_credentials_are_401_with_a_basic_challenge() {
    let stack = shared_stack();
    for (path, content_type) in [
        ("/email/postmark", "application/json"),
        ("/email/sendgrid", "multipart/form-data; boundary=x"),
    ] {
        let (status, headers, json) = raw_with_headers(
            reqwest::Method::POST,
            &format!("{}{path}", stack.url),
            content_type,
            None,
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(json["code"], "unauthorized", "{path}");
        assert_eq!(
            header(&headers, "www-authenticate"),
            Some(r#"Basic realm="intake""#),
            "{path}"
        );
    }
    // Other refusals carry no challenge.
    let (status, headers, _) = raw_with_headers(
        reqwest::Method::POST,
        &format!("{}/sms/twilio", stack.url),
        "application/x-www-form-urlencoded",
        None,
        b"a=b".to_vec(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "www-authenticate"), None);
    assert_eq!(header(&headers, "allow"), None);
}

/// The local stack's health check answers GET and HEAD; anything else is a 405 like any
/// route's, not a 200 that would hide a wrong client.
#[tokio::test]
async fn health_answers_get_and_head_and_refuses_other_methods() {
    let stack = shared_stack();
    let url = format!("{}/health", stack.url);
    let get = http().get(&url).send().await.expect("stack reachable");
    assert_eq!(get.status(), 200);
    let body: serde_json::Value = get.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
    let head = http().head(&url).send().await.expect("stack reachable");
    assert_eq!(head.status(), 200);
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
    ] {
        let (status, headers, json) = raw_with_headers(
            method.clone(),
            &url,
            "application/json",
            None,
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(status, 405, "{method}");
        assert_eq!(json["code"], "method_not_allowed", "{method}");
        assert_eq!(json["error"], "method not allowed", "{method}");
        assert_eq!(header(&headers, "allow"), Some("GET, HEAD"), "{method}");
    }
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let stack = shared_stack();
    let (status, json) = raw(
        reqwest::Method::POST,
        &format!("{}/sms/twilio", stack.url),
        "text/plain",
        Some("x"),
        b"From=+1".to_vec(),
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(json["code"], "unsupported_media_type");
}

#[tokio::test]
async fn json_without_its_body_hash_is_403() {
    let stack = shared_stack();
    let customer = new_number();
    // Signed like a form (URL only): the URL lacks `bodySHA256`, so nothing proves the body.
    let url = format!("{}/sms/twilio", stack.url);
    let body = format!(r#"{{"From":"{customer}","To":"{OUR_NUMBER}","Body":"x"}}"#);
    let signature = twilio::signature(TEST_AUTH_TOKEN, &url, &[]);
    let (status, json) = raw(
        reqwest::Method::POST,
        &url,
        "application/json",
        Some(&signature),
        body.into_bytes(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(json["code"], "missing_signature");
    assert_eq!(json["error"], "missing signature header bodySHA256");
    assert_nothing_stored(stack, &customer, None).await;
}

/// A deployment without social providers (Twilio and email only): the stack starts, every
/// social route answers 404 with the JSON error, and the configured channels work.
#[tokio::test]
async fn a_channel_without_providers_answers_404_and_the_rest_works() {
    let stack = own_stack_with(|options| {
        options.config.meta = None;
        options.config.telegram = None;
        options.config.line = None;
    })
    .await;
    assert!(
        stack.routes.iter().all(|r| !r.starts_with("/social/")),
        "{:?}",
        stack.routes
    );
    let endpoints = Endpoints::of(&stack);
    for (method, path) in [
        (reqwest::Method::POST, "/social/meta"),
        (
            reqwest::Method::GET,
            "/social/meta?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1",
        ),
        (reqwest::Method::POST, "/social/telegram"),
        (reqwest::Method::POST, "/social/line"),
    ] {
        let (status, json) = raw(
            method,
            &format!("{}{path}", endpoints.url),
            "application/json",
            None,
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(json["code"], "unknown_route", "{path}");
        assert_eq!(json["error"], "no provider is served at this path");
    }
    let customer = new_number();
    let (status, body) = endpoints
        .send(&TwilioSms::new(&customer, OUR_NUMBER, "Halo"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(endpoints.tickets_of(&customer).await.len(), 1);
}
