//! Plivo webhook signatures (V3 and Ma-V3, rotation), parsing, and the SDK vectors.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

const URL: &str = "https://hooks.example.com/prod/sms/plivo";
const TOKEN: &str = "ZjA1NmQ4YzM5ZTRhYjI3MTBiOGU2ZDQ1YTkzMmM0";
const NONCE: &str = "05429567804466091622";
const BODY: &str = "From=6281234567890&To=6221555000&Text=Halo%2C+pesanan+saya+belum+sampai&Type=sms&MessageUUID=3d1f8a52-9c4e-11ef-a6b1-0242ac110002&Units=1&TotalRate=0.00000&TotalAmount=0.00000&MessageIntent=&PowerpackUUID=";

fn plivo() -> Plivo {
    Plivo {
        auth_token: Secret::new(TOKEN),
        main_auth_token: None,
    }
}

fn request(method: Method, url: &str, body: &str, headers: &[(&str, &str)]) -> WebhookRequest {
    let mut map = HeaderMap::new();
    if method == Method::POST {
        map.insert("content-type", HeaderValue::from_static(FORM));
    }
    for (name, value) in headers {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let query = url.split_once('?').map(|(_, q)| q.to_owned());
    let mut req = WebhookRequest::new(
        method,
        "/sms/plivo",
        query,
        map,
        Bytes::from(body.to_owned()),
    );
    req.public_url = url.to_owned();
    req
}

/// `BODY` signed with `TOKEN` and `NONCE` in the subaccount header.
fn signed(body: &str) -> WebhookRequest {
    let sig = signature(TOKEN, false, URL, body.as_bytes(), NONCE);
    request(
        Method::POST,
        URL,
        body,
        &[(SIGNATURE_HEADER, &sig), (NONCE_HEADER, NONCE)],
    )
}

fn code(result: Result<(), WebhookError>) -> (u16, &'static str) {
    let e = result.expect_err("refused");
    (e.status(), e.code())
}

/// Where the SDKs put `?` and `.`: the shapes of the text signed, written out by hand from
/// plivo-python's `construct_post_url`/`construct_get_url` and `get_signature_v3`.
#[test]
fn the_signed_text_has_the_sdks_shape() {
    let form = |body: &'static str| Form::parse(body.as_bytes());
    let post = |url, body| string_to_sign(false, url, &form(body), "7");
    // A POST with a form and no query: '?' before the form, names and values run together.
    assert_eq!(post("https://h/p", "b=2&a=1"), "https://h/p?a1b2.7");
    // With a query: sorted name=value&..., then '.', then the form.
    assert_eq!(
        post("https://h/p?z=9&c=3&c=1", "b=2&a=1"),
        "https://h/p?c=1&c=3&z=9.a1b2.7"
    );
    // No form: no '?' at all without a query, and no '.' after the query.
    assert_eq!(post("https://h/p", ""), "https://h/p.7");
    assert_eq!(post("https://h/p?x=1", ""), "https://h/p?x=1.7");
    // Decoded names and values; a repeated name is signed once per value, sorted.
    assert_eq!(
        post("https://h/p?q=a+b%21", "t=%C3%A9+%26&t=0&e="),
        "https://h/p?q=a b!.et0t\u{e9} &.7"
    );
    // A GET: every parameter is in the query.
    assert_eq!(
        string_to_sign(true, "https://h/p?b=2&a=1", &form(""), "7"),
        "https://h/p?a=1&b=2.7"
    );
    assert_eq!(
        string_to_sign(true, "https://h/p", &form(""), "7"),
        "https://h/p.7"
    );
}

/// One case of `tests/fixtures/plivo/vectors.json` (made by Plivo's Python SDK; see the
/// PROVENANCE note beside it).
#[test]
fn vectors_from_the_plivo_sdk() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/plivo/vectors.json")).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let (mut valid, mut refused) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let method = match case["method"].as_str().unwrap() {
            "GET" => Method::GET,
            _ => Method::POST,
        };
        let headers: Vec<(String, String)> = case["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap().to_owned()))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = request(
            method,
            case["url"].as_str().unwrap(),
            case["body"].as_str().unwrap(),
            &headers,
        );
        let provider = Plivo {
            auth_token: Secret::new(case["auth_token"].as_str().unwrap()),
            main_auth_token: case["main_auth_token"].as_str().map(Secret::new),
        };
        let verdict = provider.verify(&req, Timestamp::UNIX_EPOCH);
        if case["sdk_valid"].as_bool().unwrap() {
            assert!(verdict.is_ok(), "{name}: {verdict:?}");
            valid += 1;
        } else {
            assert_eq!(code(verdict), (403, "bad_signature"), "{name}");
            refused += 1;
        }
    }
    assert!(
        valid >= 10 && refused >= 5,
        "{valid} valid, {refused} refused"
    );
}

/// The four V3 vectors of Plivo's own SDK test suites (plivo-go `utils_test.go`, the same in
/// plivo-ruby and plivo-dotnet), signed by Plivo's server for a voice callback.
#[test]
fn vectors_published_in_plivos_sdk_tests() {
    let doc: serde_json::Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/plivo/sdk_test_vectors.json"
    ))
    .unwrap();
    let provider = Plivo {
        auth_token: Secret::new(doc["auth_token"].as_str().unwrap()),
        main_auth_token: None,
    };
    let nonce = doc["nonce"].as_str().unwrap();
    let params: Vec<(String, String)> = doc["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let url = case["url"].as_str().unwrap();
        let sig = case["signature"].as_str().unwrap();
        let headers = [(SIGNATURE_HEADER, sig), (NONCE_HEADER, nonce)];
        let req = match case["method"].as_str().unwrap() {
            // Plivo's GET carries the parameters in the query, after the URL's own.
            "GET" => {
                let sep = if url.contains('?') { '&' } else { '?' };
                request(Method::GET, &format!("{url}{sep}{encoded}"), "", &headers)
            }
            _ => request(Method::POST, url, &encoded, &headers),
        };
        assert!(
            provider.verify(&req, Timestamp::UNIX_EPOCH).is_ok(),
            "{name}"
        );
        // And one changed parameter is refused.
        let mut tampered = req.clone();
        if tampered.method == Method::GET {
            tampered.public_url = tampered.public_url.replace("StartApp", "Hangup");
        } else {
            tampered.body = Bytes::from(encoded.replace("StartApp", "Hangup"));
        }
        assert_eq!(
            code(provider.verify(&tampered, Timestamp::UNIX_EPOCH)),
            (403, "bad_signature"),
            "{name}"
        );
    }
}

#[test]
fn any_of_the_rotated_signatures_passes_and_spaces_are_ignored() {
    let good = signature(TOKEN, false, URL, BODY.as_bytes(), NONCE);
    let other = signature("another-token", false, URL, BODY.as_bytes(), NONCE);
    for header in [
        format!("{other},{good}"),
        format!("{good},{other}"),
        format!("{other}, {good}"),
    ] {
        let req = request(
            Method::POST,
            URL,
            BODY,
            &[(SIGNATURE_HEADER, &header), (NONCE_HEADER, NONCE)],
        );
        assert!(
            plivo().verify(&req, Timestamp::UNIX_EPOCH).is_ok(),
            "{header}"
        );
    }
    for header in [
        other.clone(),
        format!("{other},"),
        ",".into(),
        String::new(),
    ] {
        let req = request(
            Method::POST,
            URL,
            BODY,
            &[(SIGNATURE_HEADER, &header), (NONCE_HEADER, NONCE)],
        );
        assert_eq!(
            code(plivo().verify(&req, Timestamp::UNIX_EPOCH)),
            (403, "bad_signature"),
            "{header}"
        );
    }
}

#[test]
fn the_main_accounts_signature_is_checked_with_the_main_token() {
    let main_token = "OGIzZjFlNmE5YzJkNDc1MGIxZThhM2Y2YzA5ZDJl";
    let main_sig = signature(main_token, false, URL, BODY.as_bytes(), NONCE);
    let req = request(
        Method::POST,
        URL,
        BODY,
        &[(MAIN_SIGNATURE_HEADER, &main_sig), (NONCE_HEADER, NONCE)],
    );
    let with_main = Plivo {
        auth_token: Secret::new(TOKEN),
        main_auth_token: Some(Secret::new(main_token)),
    };
    assert!(with_main.verify(&req, Timestamp::UNIX_EPOCH).is_ok());
    // Without the main token, only a main account's own token can match it.
    assert_eq!(
        code(plivo().verify(&req, Timestamp::UNIX_EPOCH)),
        (403, "bad_signature")
    );
    // A wrong V3 beside a good Ma-V3 still passes: either proves the request.
    let own_wrong = signature("nope", false, URL, BODY.as_bytes(), NONCE);
    let both = request(
        Method::POST,
        URL,
        BODY,
        &[
            (SIGNATURE_HEADER, &own_wrong),
            (MAIN_SIGNATURE_HEADER, &main_sig),
            (NONCE_HEADER, NONCE),
        ],
    );
    assert!(with_main.verify(&both, Timestamp::UNIX_EPOCH).is_ok());
}

#[test]
fn missing_headers_and_other_bodies_are_refused() {
    let sig = signature(TOKEN, false, URL, BODY.as_bytes(), NONCE);
    let no_nonce = request(Method::POST, URL, BODY, &[(SIGNATURE_HEADER, &sig)]);
    assert_eq!(
        code(plivo().verify(&no_nonce, Timestamp::UNIX_EPOCH)),
        (403, "missing_signature")
    );
    let no_signature = request(Method::POST, URL, BODY, &[(NONCE_HEADER, NONCE)]);
    assert_eq!(
        code(plivo().verify(&no_signature, Timestamp::UNIX_EPOCH)),
        (403, "missing_signature")
    );
    // Only the V2 family (which does not cover the body) is not enough.
    let v2 = request(
        Method::POST,
        URL,
        BODY,
        &[
            ("x-plivo-signature-v2", &sig),
            ("x-plivo-signature-v2-nonce", NONCE),
        ],
    );
    assert_eq!(
        code(plivo().verify(&v2, Timestamp::UNIX_EPOCH)),
        (403, "missing_signature")
    );
    let long_nonce = "1".repeat(65);
    let long = request(
        Method::POST,
        URL,
        BODY,
        &[(SIGNATURE_HEADER, &sig), (NONCE_HEADER, &long_nonce)],
    );
    assert_eq!(
        code(plivo().verify(&long, Timestamp::UNIX_EPOCH)),
        (403, "bad_signature")
    );
    let mut json = signed(BODY);
    json.headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    assert_eq!(
        code(plivo().verify(&json, Timestamp::UNIX_EPOCH)),
        (415, "unsupported_media_type")
    );
}

#[test]
fn the_url_signed_is_the_public_one_query_included() {
    let mut req = signed(BODY);
    assert!(plivo().verify(&req, Timestamp::UNIX_EPOCH).is_ok());
    req.public_url = format!("{URL}?x=1");
    assert_eq!(
        code(plivo().verify(&req, Timestamp::UNIX_EPOCH)),
        (403, "bad_signature")
    );
    req.public_url = URL.replace("https://", "http://");
    assert_eq!(
        code(plivo().verify(&req, Timestamp::UNIX_EPOCH)),
        (403, "bad_signature")
    );
}

#[test]
fn an_sms_is_read_as_plivo_writes_it() {
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let messages = plivo().verify_and_parse(&signed(BODY), now).unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.channel, Channel::Sms);
    assert_eq!(m.provider, "plivo");
    assert_eq!(
        m.provider_message_id,
        "3d1f8a52-9c4e-11ef-a6b1-0242ac110002"
    );
    // As Plivo writes it; the pipeline puts every SMS number in E.164.
    assert_eq!(m.from.address, "6281234567890");
    assert_eq!(m.to, "6221555000");
    assert_eq!(m.body, "Halo, pesanan saya belum sampai");
    assert!(m.attachments.is_empty());
    assert_eq!(m.keyword, None);
    assert_eq!(m.received_at, now);
}

#[test]
fn an_mms_keeps_its_media_as_attachments() {
    let body = "From=6281234567891&To=6221555000&Body=Ini+foto+paketnya&Type=mms&MessageUUID=5b2e9c70-9c4e-11ef-8f3a-0242ac110003&MediaCount=3&Media0=https%3A%2F%2Fmedia.plivo.com%2Fa.jpg&Media1=https%3A%2F%2Fmedia.plivo.com%2Fb.pdf&Media2=&MediaUrl3=https%3A%2F%2Fmedia.plivo.com%2Fc.png";
    let m = plivo()
        .verify_and_parse(&signed(body), Timestamp::UNIX_EPOCH)
        .unwrap()
        .remove(0);
    assert_eq!(m.body, "Ini foto paketnya");
    let urls: Vec<_> = m
        .attachments
        .iter()
        .map(|a| a.url.clone().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "https://media.plivo.com/a.jpg",
            "https://media.plivo.com/b.pdf",
            "https://media.plivo.com/c.png"
        ]
    );
    // Ten at most, numbered from 1 as the API reference has it.
    let many: String = (1..=12)
        .map(|i| format!("&Media{i}=https%3A%2F%2Fm%2F{i}"))
        .collect();
    let body = format!("From=1&To=2&Type=mms&MessageUUID=u1{many}");
    let m = plivo()
        .parse(&signed(&body), Timestamp::UNIX_EPOCH)
        .unwrap()
        .remove(0);
    assert_eq!(m.attachments.len(), 10);
    assert_eq!(m.attachments[0].url.as_deref(), Some("https://m/1"));
    assert_eq!(m.attachments[9].url.as_deref(), Some("https://m/10"));
}

#[test]
fn plivos_own_keyword_flag_is_kept() {
    for (intent, keyword) in [
        ("optout", Some(Keyword::Stop)),
        ("optin", Some(Keyword::Start)),
        ("help", Some(Keyword::Help)),
        ("", None),
        ("other", None),
    ] {
        let body = BODY.replace("MessageIntent=", &format!("MessageIntent={intent}"));
        let m = plivo()
            .parse(&signed(&body), Timestamp::UNIX_EPOCH)
            .unwrap()
            .remove(0);
        assert_eq!(m.keyword, keyword, "{intent}");
    }
}

#[test]
fn a_whatsapp_message_is_answered_but_not_stored() {
    let body = BODY.replace("Type=sms", "Type=whatsapp");
    let messages = plivo()
        .verify_and_parse(&signed(&body), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert!(messages.is_empty());
}

#[test]
fn a_delivery_report_is_answered_but_not_stored() {
    let report = "MessageUUID=3d1f8a52-9c4e-11ef-a6b1-0242ac110002&From=6221555000&To=6281234567890&Type=sms&Status=delivered&Units=1&TotalRate=0.0035&TotalAmount=0.0035&MCC=510&MNC=10&ErrorCode=&Sequence=2";
    let messages = plivo()
        .verify_and_parse(&signed(report), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert!(messages.is_empty());
    // A message with a status field and its text is still a message.
    let body = format!("{BODY}&Status=received");
    assert_eq!(
        plivo()
            .verify_and_parse(&signed(&body), Timestamp::UNIX_EPOCH)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn missing_or_odd_fields_are_a_400() {
    for (what, body, wanted) in [
        (
            "no MessageUUID",
            "From=1&To=2&Text=x".to_owned(),
            "missing_field",
        ),
        (
            "no From",
            "To=2&Text=x&MessageUUID=u".to_owned(),
            "missing_field",
        ),
        (
            "blank To",
            "From=1&To=+&MessageUUID=u".to_owned(),
            "missing_field",
        ),
        (
            "not a Plivo id",
            "From=1&To=2&MessageUUID=a%2Fb".to_owned(),
            "malformed_body",
        ),
        (
            "overlong id",
            format!("From=1&To=2&MessageUUID={}", "a".repeat(65)),
            "malformed_body",
        ),
    ] {
        let err = plivo()
            .verify_and_parse(&signed(&body), Timestamp::UNIX_EPOCH)
            .expect_err(what);
        assert_eq!((err.status(), err.code()), (400, wanted), "{what}");
    }
    let mut req = signed(BODY);
    req.body = Bytes::from_static(b"From=1&To=2&MessageUUID=u&Text=\xff");
    assert_eq!(
        plivo()
            .parse(&req, Timestamp::UNIX_EPOCH)
            .expect_err("not UTF-8")
            .code(),
        "malformed_body"
    );
}

#[test]
fn blank_tokens_are_refused_by_the_constructors() {
    let config = |token: &str, main: Option<&str>| PlivoConfig {
        auth_id: "MA0000000000000000AA".into(),
        auth_token: Secret::new(token),
        main_auth_token: main.map(Secret::new),
        api_base_url: url::Url::parse("https://api.plivo.com").unwrap(),
    };
    assert!(matches!(
        Plivo::new(&config(" \n", None)),
        Err(ConfigError::EmptySecret("PLIVO_AUTH_TOKEN"))
    ));
    assert!(matches!(
        Plivo::new(&config(TOKEN, Some(" "))),
        Err(ConfigError::EmptySecret("PLIVO_MAIN_AUTH_TOKEN"))
    ));
    assert!(matches!(
        PlivoSender::new(&config("", None), reqwest::Client::new()),
        Err(ConfigError::EmptySecret("PLIVO_AUTH_TOKEN"))
    ));
    assert!(Plivo::new(&config(TOKEN, Some("main"))).is_ok());
    let sender = PlivoSender::new(&config(TOKEN, None), reqwest::Client::new()).unwrap();
    assert_eq!(
        sender.endpoint,
        "https://api.plivo.com/v1/Account/MA0000000000000000AA/Message/"
    );
}

/// An address that is not one phone number is never handed to the Message API, whose
/// `dst` would read `a<b` as two recipients.
#[tokio::test]
async fn an_ack_goes_to_one_number_only() {
    let sender = PlivoSender::new(
        &PlivoConfig {
            auth_id: "MA1".into(),
            auth_token: Secret::new(TOKEN),
            main_auth_token: None,
            // Nothing listens there: the refusal must come before any request.
            api_base_url: url::Url::parse("http://127.0.0.1:9").unwrap(),
        },
        reqwest::Client::new(),
    )
    .unwrap();
    let message = OutboundMessage {
        to: "+6281234567890<+6281111111111".into(),
        from: "6221555000".into(),
        body: "Terima kasih".into(),
        html: None,
        subject: None,
        in_reply_to: "u1".into(),
        references: Vec::new(),
        ticket_reference: "K7F3Q2".into(),
        reply_token: None,
        customer_wrote_at: Timestamp::UNIX_EPOCH,
        now: Timestamp::UNIX_EPOCH,
    };
    assert!(matches!(
        sender.send(&message).await,
        Err(SendError::Permanent { code, .. }) if code == "invalid_number"
    ));
}

fn answer(req: &WebhookRequest) -> String {
    format!("{:?}", plivo().verify_and_parse(req, Timestamp::UNIX_EPOCH))
}

fn verify_then_parse(req: &WebhookRequest) -> String {
    let now = Timestamp::UNIX_EPOCH;
    format!(
        "{:?}",
        plivo()
            .verify(req, now)
            .and_then(|()| plivo().parse(req, now))
    )
}

proptest::proptest! {
    /// Arbitrary bytes, signed or not: never a panic, and every refusal is a 4xx.
    #[test]
    fn arbitrary_bodies_are_refused_cleanly(
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
        sign in proptest::bool::ANY,
    ) {
        let sig = signature(TOKEN, false, URL, &body, NONCE);
        let mut req = request(Method::POST, URL, "", &[(NONCE_HEADER, NONCE)]);
        if sign {
            req.headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&sig).unwrap());
        }
        req.body = Bytes::from(body);
        for result in [
            plivo().verify_and_parse(&req, Timestamp::UNIX_EPOCH).map(drop),
            plivo().parse(&req, Timestamp::UNIX_EPOCH).map(drop),
        ] {
            if let Err(e) = result {
                proptest::prop_assert!((400..500).contains(&e.status()), "{e:?}");
            }
        }
        proptest::prop_assert_eq!(answer(&req), verify_then_parse(&req));
    }

    /// Form-shaped input with Plivo's field names, signed: the parser answers a message or a
    /// 4xx, and decoding once answers as verify then parse.
    #[test]
    fn form_shaped_input_is_read_or_refused_cleanly(
        fields in proptest::collection::vec((
            proptest::prop_oneof![
                proptest::strategy::Just("MessageUUID".to_owned()),
                proptest::strategy::Just("From".to_owned()),
                proptest::strategy::Just("To".to_owned()),
                proptest::strategy::Just("Text".to_owned()),
                proptest::strategy::Just("Body".to_owned()),
                proptest::strategy::Just("Type".to_owned()),
                proptest::strategy::Just("Media0".to_owned()),
                proptest::strategy::Just("MessageIntent".to_owned()),
                "[A-Za-z]{1,12}[0-9]?",
            ],
            proptest::prop_oneof![".{0,40}", "[a-f0-9-]{1,36}", "[0-9]{1,2}"],
        ), 0..12),
        query in proptest::option::of("[a-z]{1,4}=[ -~]{0,8}"),
    ) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish();
        let url = match &query {
            Some(q) => format!("{URL}?{q}"),
            None => URL.to_owned(),
        };
        let sig = signature(TOKEN, false, &url, body.as_bytes(), NONCE);
        let req = request(Method::POST, &url, &body, &[(SIGNATURE_HEADER, &sig), (NONCE_HEADER, NONCE)]);
        match plivo().verify_and_parse(&req, Timestamp::UNIX_EPOCH) {
            Ok(messages) => proptest::prop_assert!(messages.len() <= 1),
            Err(e) => proptest::prop_assert_eq!(e.status(), 400, "{:?}", e),
        }
        proptest::prop_assert_eq!(answer(&req), verify_then_parse(&req));
    }
}
