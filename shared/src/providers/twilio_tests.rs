//! Twilio webhook signatures (form and JSON callbacks), parsing, and the SDK vectors.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The example from Twilio's webhook security documentation
/// (<https://www.twilio.com/docs/usage/security#validating-requests>), also used as the
/// fixture of the official SDKs' request-validator tests.
#[test]
fn twilio_documentation_vector() {
    let params = pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]);
    assert_eq!(
        signature(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params
        ),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
}

#[test]
fn order_of_params_does_not_matter_but_repeated_values_are_sorted() {
    let a = pairs(&[("b", "2"), ("a", "y"), ("a", "x")]);
    let b = pairs(&[("a", "x"), ("a", "y"), ("b", "2")]);
    assert_eq!(
        signature("t", "https://h/p", &a),
        signature("t", "https://h/p", &b)
    );
    // Sorted, the data is "https://h/p" + "ax" + "ay" + "b2".
    let manual = BASE64.encode(hmac_sha1(b"t", [b"https://h/paxayb2"]));
    assert_eq!(signature("t", "https://h/p", &a), manual);
}

#[test]
fn url_with_and_without_default_port() {
    assert_eq!(
        other_port_variant("https://mycompany.com/sms/twilio?x=1").as_deref(),
        Some("https://mycompany.com:443/sms/twilio?x=1")
    );
    assert_eq!(
        other_port_variant("https://mycompany.com:443/sms/twilio").as_deref(),
        Some("https://mycompany.com/sms/twilio")
    );
    assert_eq!(
        other_port_variant("http://127.0.0.1:3000/sms/twilio").as_deref(),
        Some("http://127.0.0.1/sms/twilio")
    );
}

fn request(body: &str, sig: Option<&str>, url: &str) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(FORM));
    if let Some(s) = sig {
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(s).unwrap());
    }
    let mut req = WebhookRequest::new(
        Method::POST,
        "/sms/twilio",
        None,
        headers,
        Bytes::from(body.to_owned()),
    );
    req.public_url = url.to_owned();
    req
}

fn twilio() -> Twilio {
    Twilio {
        auth_token: Secret::new("12345"),
    }
}

const URL: &str = "https://hooks.example.com/sms/twilio";
const BODY: &str = "MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B6281234567890&To=%2B6221555000&Body=Halo%2C+pesanan+saya+belum+sampai&NumMedia=2&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm0&MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm1&MediaContentType1=application%2Fpdf";

fn signed(body: &str, url_signed: &str) -> String {
    let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    signature("12345", url_signed, &params)
}

#[test]
fn verifies_signed_request_and_port_variant() {
    let now = Timestamp::now();
    let sig = signed(BODY, URL);
    assert!(
        twilio()
            .verify(&request(BODY, Some(&sig), URL), now)
            .is_ok()
    );
    let sig = signed(BODY, "https://hooks.example.com:443/sms/twilio");
    assert!(
        twilio()
            .verify(&request(BODY, Some(&sig), URL), now)
            .is_ok()
    );
}

#[test]
fn refuses_tampering_missing_signature_and_wrong_content_type() {
    let now = Timestamp::now();
    let sig = signed(BODY, URL);
    let tampered = BODY.replace("belum", "sudah");
    assert!(matches!(
        twilio().verify(&request(&tampered, Some(&sig), URL), now),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        twilio().verify(
            &request(BODY, Some(&sig), "https://evil.example.com/sms/twilio"),
            now
        ),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        twilio().verify(&request(BODY, None, URL), now),
        Err(WebhookError::MissingSignature(_))
    ));
    let mut text = request(BODY, Some(&sig), URL);
    text.headers
        .insert("content-type", HeaderValue::from_static("text/plain"));
    assert!(matches!(
        twilio().verify(&text, now),
        Err(WebhookError::UnsupportedMediaType { .. })
    ));
    // A form's signature on a JSON body: the URL carries no body hash, so nothing proves
    // the body.
    let mut json = request(BODY, Some(&sig), URL);
    json.headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    assert!(matches!(
        twilio().verify(&json, now),
        Err(WebhookError::MissingSignature("bodySHA256"))
    ));
}

#[test]
fn repeated_form_values_are_signed_once_as_the_sdks_do() {
    // twilio-python signs `sorted(set(values))`; twilio-node `new Set(values)`.
    let once = pairs(&[("a", "x"), ("b", "2")]);
    let twice = pairs(&[("a", "x"), ("a", "x"), ("b", "2")]);
    assert_eq!(
        signature("t", "https://h/p", &once),
        signature("t", "https://h/p", &twice)
    );
    let body = "a=x&a=x&b=2";
    let sig = signature("12345", URL, &once);
    assert!(
        twilio()
            .verify(&request(body, Some(&sig), URL), Timestamp::now())
            .is_ok()
    );
}

#[test]
fn parses_sms_with_media() {
    let msgs = twilio()
        .parse(&request(BODY, None, URL), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.provider_message_id, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(m.from.address, "+6281234567890");
    assert_eq!(m.to, "+6221555000");
    assert_eq!(m.body, "Halo, pesanan saya belum sampai");
    assert_eq!(m.keyword, None);
    assert_eq!(m.attachments.len(), 2);
    assert_eq!(
        m.attachments[1].content_type.as_deref(),
        Some("application/pdf")
    );
    assert_eq!(
        m.attachments[0].url.as_deref(),
        Some("https://api.twilio.com/m0")
    );
}

#[test]
fn parse_flags_keywords_and_missing_fields() {
    let stop = "MessageSid=SM1&From=%2B1&To=%2B2&Body=Stop";
    let m = twilio()
        .parse(&request(stop, None, URL), Timestamp::UNIX_EPOCH)
        .unwrap();
    // Keywords are the webhook's business, with the deployment's words (`webhook.rs`).
    assert_eq!(m[0].keyword, None);
    assert_eq!(m[0].body, "Stop");
    for (body, field) in [
        ("From=%2B1&To=%2B2&Body=x", "MessageSid"),
        ("MessageSid=SM1&To=%2B2&Body=x", "From"),
        ("MessageSid=SM1&From=+&To=%2B2", "From"),
        ("MessageSid=SM1&From=%2B1&Body=x", "To"),
    ] {
        match twilio().parse(&request(body, None, URL), Timestamp::UNIX_EPOCH) {
            Err(WebhookError::MissingField(f)) => assert_eq!(f, field, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    assert!(matches!(
        twilio().parse(
            &request("MessageSid=SM1&From=1&To=2&NumMedia=x", None, URL),
            Timestamp::UNIX_EPOCH
        ),
        Err(WebhookError::Malformed(_))
    ));
}

/// One case of `tests/fixtures/twilio/json_vectors.json` (made by Twilio's Python SDK; see
/// the PROVENANCE note beside it).
struct Vector {
    name: String,
    url: String,
    body: String,
    signature: String,
    sdk_valid: bool,
}

const SDK_VECTORS: &str = include_str!("../../../tests/fixtures/twilio/json_vectors.json");

fn sdk_vectors() -> (Twilio, Vec<Vector>) {
    let doc: serde_json::Value = serde_json::from_str(SDK_VECTORS).unwrap();
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_owned();
    let twilio = Twilio {
        auth_token: Secret::new(text(&doc, "auth_token")),
    };
    let cases = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Vector {
            name: text(c, "name"),
            url: text(c, "url"),
            body: text(c, "body"),
            signature: text(c, "signature"),
            sdk_valid: c["sdk_valid"].as_bool().unwrap(),
        })
        .collect();
    (twilio, cases)
}

/// A JSON callback as the router hands it over: `public_url` is the URL Twilio called.
fn json_request(body: &str, signature: Option<&str>, url: &str) -> WebhookRequest {
    let mut req = request(body, signature, url);
    req.headers.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    req
}

#[test]
fn json_vectors_from_twilio_sdk() {
    let (twilio, cases) = sdk_vectors();
    assert!(cases.len() >= 6);
    assert!(cases.iter().any(|c| c.sdk_valid) && cases.iter().any(|c| !c.sdk_valid));
    for case in &cases {
        let req = json_request(&case.body, Some(&case.signature), &case.url);
        let verdict = twilio.verify(&req, Timestamp::now());
        assert_eq!(
            verdict.is_ok(),
            case.sdk_valid,
            "{}: {verdict:?}",
            case.name
        );
        if let Err(e) = verdict {
            assert_eq!(e.status(), 403, "{}", case.name);
        }
    }
}

#[test]
fn json_signer_agrees_with_the_sdk() {
    let (_, cases) = sdk_vectors();
    let doc: serde_json::Value = serde_json::from_str(SDK_VECTORS).unwrap();
    let valid = cases.iter().find(|c| c.name == "valid").unwrap();
    let base = valid.url.split_once('?').unwrap().0;
    let (url, signature) = sign_json(
        doc["auth_token"].as_str().unwrap(),
        base,
        valid.body.as_bytes(),
    );
    assert_eq!(url, valid.url);
    assert_eq!(signature, valid.signature);
}

#[test]
fn json_callbacks_without_a_usable_body_hash_are_refused() {
    let (twilio, cases) = sdk_vectors();
    let valid = cases.iter().find(|c| c.name == "valid").unwrap();
    let base = valid.url.split_once('?').unwrap().0;
    let token = twilio.auth_token.expose().to_owned();
    let now = Timestamp::now();
    let refused = |url: &str, signature: &str| {
        twilio
            .verify(&json_request(&valid.body, Some(signature), url), now)
            .unwrap_err()
    };
    // Signed, but the URL carries no hash at all.
    let err = refused(base, &signature(&token, base, &[]));
    assert!(
        matches!(err, WebhookError::MissingSignature("bodySHA256")),
        "{err:?}"
    );
    assert_eq!(err.status(), 403);
    // Two hashes, both signed: which one did Twilio mean?
    let twice = format!("{}&bodySHA256=00", valid.url);
    let err = refused(&twice, &signature(&token, &twice, &[]));
    assert!(matches!(err, WebhookError::BadSignature), "{err:?}");
    // The hash in upper case: the SDKs compare the hex text exactly, so do we.
    let upper = format!(
        "{base}?bodySHA256={}",
        valid.url.rsplit_once('=').unwrap().1.to_ascii_uppercase()
    );
    let err = refused(&upper, &signature(&token, &upper, &[]));
    assert!(matches!(err, WebhookError::BadSignature), "{err:?}");
    // No signature header.
    let err = twilio
        .verify(&json_request(&valid.body, None, &valid.url), now)
        .unwrap_err();
    assert!(matches!(
        err,
        WebhookError::MissingSignature("X-Twilio-Signature")
    ));
}

#[test]
fn event_streams_batch_yields_its_inbound_message_only() {
    let (twilio, cases) = sdk_vectors();
    let valid = cases.iter().find(|c| c.name == "valid").unwrap();
    let messages = twilio
        .parse(
            &json_request(&valid.body, None, &valid.url),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
    assert_eq!(messages.len(), 1, "the delivery status is not a message");
    let m = &messages[0];
    assert_eq!(m.provider, "twilio");
    assert_eq!(m.provider_message_id, "SM5c0e0b6bd0c54a1d8a0f6a6a3b1c2d3e");
    assert_eq!(m.from.address, "+6281234567890");
    assert_eq!(m.to, "+6221555000");
    assert_eq!(
        m.body,
        "Halo, pesanan saya belum sampai \u{2014} tolong dicek"
    );
    assert_eq!(m.channel, Channel::Sms);

    // The same message as the messaging webhook's form: the same dedup id.
    let form = "MessageSid=SM5c0e0b6bd0c54a1d8a0f6a6a3b1c2d3e&From=%2B6281234567890&To=%2B6221555000&Body=Halo";
    let from_form = twilio
        .parse(&request(form, None, URL), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(from_form[0].provider_message_id, m.provider_message_id);
}

fn inbound_event(data: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "specversion": "1.0",
        "type": "com.twilio.messaging.inbound-message.received",
        "id": "EZ1",
        "data": data,
    })
}

#[test]
fn json_payloads_without_messages_store_nothing() {
    let now = Timestamp::UNIX_EPOCH;
    let parse = |body: &str| twilio().parse(&json_request(body, None, URL), now);
    for body in [
        // The sink's test event.
        r#"[{"specversion":"1.0","type":"com.twilio.eventstreams.test-event","id":"EZ1","data":{"test_id":"x"}}]"#,
        // Delivery statuses.
        r#"[{"type":"com.twilio.messaging.message.delivered","data":{"messageSid":"SM1","from":"+1","to":"+2"}}]"#,
        // A Studio flow's own JSON.
        r#"{"customer":"+6281234567890","note":"called back"}"#,
        "[]",
        "42",
        "null",
    ] {
        assert_eq!(parse(body).unwrap().len(), 0, "{body}");
    }
    assert!(matches!(
        parse("{not json"),
        Err(WebhookError::Malformed(_))
    ));
    assert!(matches!(parse(""), Err(WebhookError::Malformed(_))));
}

#[test]
fn inbound_events_are_read_like_the_form() {
    let now = Timestamp::UNIX_EPOCH;
    let parse =
        |v: serde_json::Value| twilio().parse(&json_request(&v.to_string(), None, URL), now);
    // One event on its own, not in an array; its text is read as in the form.
    let single = inbound_event(serde_json::json!({
        "messageSid": "SM1", "from": "whatsapp:+6281", "to": "whatsapp:+6221", "body": "STOP"
    }));
    let m = parse(single).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].body, "STOP");
    assert_eq!(m[0].from.address, "whatsapp:+6281");
    // No body is an empty message (an MMS without text), not an error.
    let no_body = inbound_event(serde_json::json!({"messageSid": "SM2", "from": "+1", "to": "+2"}));
    assert_eq!(parse(serde_json::json!([no_body])).unwrap()[0].body, "");
    for (data, field) in [
        (serde_json::json!({"from": "+1", "to": "+2"}), "messageSid"),
        (serde_json::json!({"messageSid": "SM1", "to": "+2"}), "from"),
        (
            serde_json::json!({"messageSid": "SM1", "from": " ", "to": "+2"}),
            "from",
        ),
        (serde_json::json!({"messageSid": "SM1", "from": "+1"}), "to"),
    ] {
        match parse(serde_json::json!([inbound_event(data)])) {
            Err(WebhookError::MissingField(f)) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let bad_sid =
        inbound_event(serde_json::json!({"messageSid": "SM/../1", "from": "+1", "to": "+2"}));
    assert!(matches!(parse(bad_sid), Err(WebhookError::Malformed(_))));
    let no_data = serde_json::json!({"type": "com.twilio.messaging.inbound-message.received"});
    assert!(matches!(
        parse(no_data),
        Err(WebhookError::MissingField("messageSid"))
    ));
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let mut req = request("", None, URL);
        req.body = Bytes::from(body);
        let _ = twilio().parse(&req, Timestamp::UNIX_EPOCH);
        let _ = twilio().verify(&req, Timestamp::UNIX_EPOCH);
        let mut json = json_request("", Some("c2ln"), "https://h/sms/twilio?bodySHA256=ab");
        json.body = req.body.clone();
        let _ = twilio().parse(&json, Timestamp::UNIX_EPOCH);
        let _ = twilio().verify(&json, Timestamp::UNIX_EPOCH);
    }

    #[test]
    fn json_parse_never_panics_on_event_shaped_input(
        sid in ".{0,40}", from in ".{0,20}", body in ".{0,80}", kind in ".{0,60}"
    ) {
        let event = serde_json::json!([
            {"type": kind, "data": {"messageSid": sid, "from": from, "to": "+2", "body": body}},
            inbound_event(serde_json::json!({"messageSid": sid, "from": from, "to": "+2", "body": body})),
        ]);
        let _ = twilio().parse(&json_request(&event.to_string(), None, URL), Timestamp::UNIX_EPOCH);
    }

    #[test]
    fn parse_never_panics_on_form_shaped_input(
        fields in proptest::collection::vec(("[A-Za-z]{1,12}[0-9]?", ".{0,40}"), 0..12)
    ) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish();
        let _ = twilio().parse(&request(&body, None, URL), Timestamp::UNIX_EPOCH);
    }
}

/// What the webhook answered before the form was decoded once for both steps: verify, then
/// parse. Errors compare by their `Debug` text (status, code and message).
fn verify_then_parse(req: &WebhookRequest) -> String {
    let now = Timestamp::UNIX_EPOCH;
    format!(
        "{:?}",
        twilio()
            .verify(req, now)
            .and_then(|()| twilio().parse(req, now))
    )
}

fn verified_and_parsed(req: &WebhookRequest) -> String {
    format!(
        "{:?}",
        twilio().verify_and_parse(req, Timestamp::UNIX_EPOCH)
    )
}

proptest::proptest! {
    /// The webhook runs `verify_and_parse`: whatever arrives, signed or not, it must answer
    /// exactly what `verify` then `parse` answer.
    #[test]
    fn decoding_once_answers_as_verify_then_parse(
        fields in proptest::collection::vec((
            proptest::prop_oneof![
                proptest::strategy::Just("MessageSid".to_owned()),
                proptest::strategy::Just("From".to_owned()),
                proptest::strategy::Just("To".to_owned()),
                proptest::strategy::Just("Body".to_owned()),
                proptest::strategy::Just("NumMedia".to_owned()),
                proptest::strategy::Just("MediaUrl0".to_owned()),
                proptest::strategy::Just("ProfileName".to_owned()),
                "[A-Za-z]{1,12}[0-9]?",
            ],
            proptest::prop_oneof![".{0,40}", "[A-Za-z0-9]{1,34}", "[0-9]{1,2}"],
        ), 0..12),
        sign in proptest::bool::ANY,
        raw in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
    ) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish();
        let signature = sign.then(|| signed(&body, URL));
        let form = request(&body, signature.as_deref(), URL);
        proptest::prop_assert_eq!(verified_and_parsed(&form), verify_then_parse(&form));

        // Bytes that are no form (not UTF-8, stray `%`), signed as Twilio would sign them.
        let params: Vec<(String, String)> = form_urlencoded::parse(&raw)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut bytes = request("", Some(&signature_of(&params)), URL);
        bytes.body = Bytes::from(raw.clone());
        proptest::prop_assert_eq!(verified_and_parsed(&bytes), verify_then_parse(&bytes));

        // The same body as JSON, and with a content type Twilio never sends.
        let (url, json_signature) = sign_json("12345", URL, body.as_bytes());
        let json = json_request(&body, Some(&json_signature), &url);
        proptest::prop_assert_eq!(verified_and_parsed(&json), verify_then_parse(&json));
        let mut text = form.clone();
        text.headers.insert("content-type", HeaderValue::from_static("text/plain"));
        proptest::prop_assert_eq!(verified_and_parsed(&text), verify_then_parse(&text));
    }
}

fn signature_of(params: &[(String, String)]) -> String {
    signature("12345", URL, params)
}

#[test]
fn decoding_once_reads_a_signed_webhook_like_verify_then_parse() {
    let req = request(BODY, Some(&signed(BODY, URL)), URL);
    let messages = twilio()
        .verify_and_parse(&req, Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].from.address, "+6281234567890");
    assert_eq!(messages[0].body, "Halo, pesanan saya belum sampai");
    assert_eq!(messages[0].attachments.len(), 2);
    assert_eq!(verified_and_parsed(&req), verify_then_parse(&req));
    let tampered = request(&BODY.replace("Halo", "Hola"), Some(&signed(BODY, URL)), URL);
    assert!(matches!(
        twilio().verify_and_parse(&tampered, Timestamp::UNIX_EPOCH),
        Err(WebhookError::BadSignature)
    ));
}

proptest::proptest! {
    /// The signature is computed over the decoded fields: they must be exactly what
    /// `form_urlencoded` (and so Twilio's SDKs) decode, for any bytes at all.
    #[test]
    fn the_form_decodes_as_form_urlencoded_does(
        raw in proptest::collection::vec(proptest::prop_oneof![
            proptest::num::u8::ANY,
            proptest::sample::select(b"%+&=0aF9zG".to_vec()),
        ], 0..96),
        text in "([a-zA-Z0-9]|%[0-9a-fA-F]{2}|%[0-9a-zA-Z]?|[+&=]|.){0,40}",
    ) {
        for body in [raw.as_slice(), text.as_bytes()] {
            let (ours, theirs) = decoded_both_ways(body);
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}

#[test]
fn the_form_decodes_edge_cases_as_form_urlencoded_does() {
    for body in [
        &b""[..],
        b"&&",
        b"a",
        b"=",
        b"a=b=c",
        b"a=%",
        b"a=%4",
        b"a=%41%4g%zz%%41",
        b"a+b=c+d&&e=%2B",
        b"%E2%82%AC=%E2%82",
        b"\xff\xfe=\xc3\xa9+\xc3",
        b"Body=Halo%2C+pesanan&From=%2B6281234567890",
    ] {
        let (ours, theirs) = decoded_both_ways(body);
        assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(body));
    }
}

/// `body`'s fields as our `Form` decodes them, and as `form_urlencoded` does.
type Fields = Vec<(String, String)>;
fn decoded_both_ways(body: &[u8]) -> (Fields, Fields) {
    let ours = Form::parse(body)
        .pairs()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let theirs = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (ours, theirs)
}
