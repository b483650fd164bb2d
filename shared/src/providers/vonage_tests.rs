use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;
use serde_json::json;

use crate::config::{Secret, VonageConfig, VonageSendApi, VonageSignatureMethod as M};

const ALL_METHODS: [(&str, M); 5] = [
    ("md5hash", M::Md5Hash),
    ("md5", M::Md5Hmac),
    ("sha1", M::Sha1Hmac),
    ("sha256", M::Sha256Hmac),
    ("sha512", M::Sha512Hmac),
];

fn config(secret: &str, method: M) -> VonageConfig {
    VonageConfig {
        signature_secret: Some(Secret::new(secret)),
        signature_method: method,
        api_key: None,
        api_secret: None,
        send_api: VonageSendApi::Messages,
        api_base_url: url::Url::parse("https://api.nexmo.com").expect("url"),
        rest_base_url: url::Url::parse("https://rest.nexmo.com").expect("url"),
    }
}

fn vonage(secret: &str, method: M) -> Vonage {
    Vonage::new(&config(secret, method))
        .expect("secret accepted")
        .expect("webhook side")
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("time")
}

fn get(query: &str) -> WebhookRequest {
    WebhookRequest::new(
        Method::GET,
        "/sms/vonage",
        Some(query.to_owned()),
        HeaderMap::new(),
        Bytes::new(),
    )
}

fn post(content_type: &str, body: &str, authorization: Option<&str>) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_str(content_type).expect("header"),
    );
    if let Some(value) = authorization {
        headers.insert(
            "authorization",
            HeaderValue::from_str(value).expect("header"),
        );
    }
    WebhookRequest::new(
        Method::POST,
        "/sms/vonage",
        None,
        headers,
        Bytes::from(body.to_owned()),
    )
}

fn form(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn sorted<'a>(params: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut sorted = params.to_vec();
    sorted.sort_unstable();
    sorted
}

// --- Published vectors -------------------------------------------------------------------

/// vonage-python-sdk v3.18.0, `tests/test_signature.py` (`DummyData.signature_secret` is
/// "secret"): `test_signature` (md5hash) and `test_signature_md5/sha1/sha256/sha512`.
#[test]
fn python_sdk_3_signature_vectors() {
    let params = [("a", "1"), ("b", "2"), ("timestamp", "1461605396")];
    let expected = [
        "6af838ef94998832dbfc29020b564830",
        "c15c21ced558c93a226c305f58f902f2",
        "3e19a4e6880fdc2c1426bfd0587c98b9532f0210",
        "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24",
        "812a18f76680fa0fe1b8bd9ee1625466ceb1bd96242e4d050d2cfd9a7b40166c63ed26ec9702168781b6edcf1633db8ff95af9341701004eec3fcf9550572ee8",
    ];
    for ((name, method), expected) in ALL_METHODS.iter().zip(expected) {
        assert_eq!(
            sms_signature(*method, "secret", &params),
            expected,
            "{name}"
        );
    }
}

/// vonage-python-sdk 4.x, `http_client/tests/test_auth.py` (`signature_secret =
/// 'signature_secret'`): `test_sign_params` (sha256), `test_sign_params_default_sig_method`
/// (HMAC-MD5, 4.x's default), `test_sign_params_with_special_characters` (`&` and `=` in
/// values) and `test_check_signature_valid_signature`.
#[test]
fn python_sdk_4_signature_vectors() {
    let params = [
        ("param1", "value1"),
        ("param2", "value2"),
        ("timestamp", "1234567890"),
    ];
    assert_eq!(
        sms_signature(M::Sha256Hmac, "signature_secret", &params),
        "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287"
    );
    assert_eq!(
        sms_signature(M::Md5Hmac, "signature_secret", &params),
        "724c2bf6ca423c36e20631b11d1c5753"
    );
    let special = [
        ("param1", "value&1"),
        ("param2", "value=2"),
        ("timestamp", "1234567890"),
    ];
    assert_eq!(
        sms_signature(M::Md5Hmac, "signature_secret", &special),
        "2bbf0abafb2c55e5af6231513896a2ac"
    );
    assert_eq!(
        sms_signature(
            M::Md5Hmac,
            "signature_secret",
            &[("param", "value"), ("timestamp", "1234567890")]
        ),
        "655a4d0b7f064dff438defc52b012cf5"
    );
}

/// vonage-node-sdk, `packages/sms/__tests__/__dataSets__/signature.ts`: a real inbound SMS's
/// parameters and the signature of each method as Vonage writes it (HMACs in upper case),
/// checked here through the whole provider, as a form POST at the webhook's own timestamp.
#[test]
fn node_sdk_inbound_sms_vectors_verify_end_to_end() {
    let params = [
        ("message-timestamp", "2013-11-21 15:27:30"),
        ("messageId", "020000001B0FE827"),
        ("msisdn", "14843472194"),
        ("text", "Test again"),
        ("timestamp", "1385047698"),
        ("to", "13239877404"),
        ("type", "text"),
    ];
    let signatures = [
        "d2e7b1dc968737c5998ad624e02f90b7",
        "DDEBD46008C2D4E93CCE578A332A52D5",
        "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A",
        "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330",
        "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82",
    ];
    for ((name, method), sig) in ALL_METHODS.iter().zip(signatures) {
        let provider = vonage("my_secret_key_for_testing", *method);
        let mut signed = params.to_vec();
        signed.push(("sig", sig));
        let req = post(FORM, &form(&signed), None);
        let messages = provider
            .verify_and_parse(&req, at(1_385_047_698))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(messages.len(), 1, "{name}");
        let m = &messages[0];
        assert_eq!(m.provider_message_id, "020000001B0FE827");
        assert_eq!(m.from.address, "14843472194");
        assert_eq!(m.to, "13239877404");
        assert_eq!(m.body, "Test again");
        assert_eq!(m.channel, Channel::Sms);
        assert_eq!(m.provider, "vonage");
        // Another method's secret-holder could not have made it.
        let other = ALL_METHODS
            .iter()
            .map(|(_, m)| *m)
            .find(|m| m != method)
            .expect("another method");
        assert!(matches!(
            vonage("my_secret_key_for_testing", other).verify(&req, at(1_385_047_698)),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            vonage("not_my_secret", *method).verify(&req, at(1_385_047_698)),
            Err(WebhookError::BadSignature)
        ));
    }
}

/// vonage-python-sdk, `jwt/tests/test_verify_jwt.py`: an HS256 token and the secret
/// `vonage_jwt.verify_signature` accepts it with (and `asdf`, which it refuses). It has no
/// `payload_hash`, so as a webhook it is refused; its signature is what is checked here.
#[test]
fn python_sdk_jwt_vector() {
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM";
    let good = vonage("qwertyuiopasdfghjklzxcvbnm123456", M::Md5Hash);
    let claims = jsonwebtoken::decode::<Claims>(token, &good.jwt_key, &good.jwt_rules)
        .expect("the SDK's secret verifies it")
        .claims;
    assert_eq!(claims.iat, Some(1_697_634_680));
    let bad = vonage("asdf", M::Md5Hash);
    assert!(jsonwebtoken::decode::<Claims>(token, &bad.jwt_key, &bad.jwt_rules).is_err());
    let req = post(JSON, "{}", Some(&format!("Bearer {token}")));
    assert!(matches!(
        good.verify(&req, at(1_697_634_680)),
        Err(WebhookError::BadSignature)
    ));
}

// --- Vectors generated with the official SDKs (tests/fixtures/vonage) --------------------

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../tests/fixtures/vonage/vectors.json"))
        .expect("vectors.json")
}

fn method_named(name: &str) -> M {
    ALL_METHODS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, m)| *m)
        .expect("known method")
}

/// The request a vector describes.
fn vector_request(v: &Value) -> WebhookRequest {
    match v["delivery"].as_str() {
        Some("get") => get(v["query"].as_str().expect("query")),
        _ => post(
            v["content_type"].as_str().expect("type"),
            v["body"].as_str().expect("body"),
            None,
        ),
    }
}

#[test]
fn sdk_signed_sms_api_webhooks_verify_for_every_method_and_delivery() {
    let all = vectors();
    let secret = all["secret"].as_str().expect("secret");
    let cases = all["sms_api"].as_array().expect("cases");
    assert_eq!(cases.len(), 15, "5 methods x GET, POST form, POST JSON");
    for v in cases {
        let what = format!("{} {}", v["method"], v["delivery"]);
        let provider = vonage(secret, method_named(v["method"].as_str().expect("method")));
        let now = at(v["timestamp"].as_i64().expect("timestamp"));
        let req = vector_request(v);
        let messages = provider
            .verify_and_parse(&req, now)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let params = &v["params"];
        assert_eq!(messages.len(), 1, "{what}");
        assert_eq!(
            messages[0].body,
            params["text"].as_str().expect("text"),
            "{what}"
        );
        assert_eq!(
            messages[0].from.address,
            params["msisdn"].as_str().expect("msisdn")
        );
        assert_eq!(
            messages[0].provider_message_id,
            params["messageId"].as_str().expect("id")
        );
        // verify then parse answers the same.
        assert!(provider.verify(&req, now).is_ok(), "{what}");
        assert_eq!(
            provider.parse(&req, now).expect("parses"),
            messages,
            "{what}"
        );

        // Within the window both ways; a second outside it is stale.
        let t = v["timestamp"].as_i64().expect("timestamp");
        assert!(provider.verify(&req, at(t + 300)).is_ok(), "{what}");
        assert!(provider.verify(&req, at(t - 300)).is_ok(), "{what}");
        for late in [t + 301, t - 301] {
            assert!(
                matches!(provider.verify(&req, at(late)), Err(WebhookError::Stale)),
                "{what}"
            );
        }
        // Another secret, or any changed parameter, fails.
        assert!(matches!(
            vonage("another-secret", provider.method).verify(&req, now),
            Err(WebhookError::BadSignature)
        ));
        let tampered = match v["delivery"].as_str() {
            Some("get") => get(&v["query"]
                .as_str()
                .expect("q")
                .replace("6221555000", "6221555001")),
            _ => post(
                v["content_type"].as_str().expect("type"),
                &v["body"]
                    .as_str()
                    .expect("body")
                    .replace("6221555000", "6221555001"),
                None,
            ),
        };
        assert!(
            matches!(
                provider.verify(&tampered, now),
                Err(WebhookError::BadSignature)
            ),
            "{what}"
        );
    }
}

#[test]
fn sdk_made_messages_api_jwts_are_judged_as_the_sdk_and_the_issue_say() {
    let all = vectors();
    let secret = all["secret"].as_str().expect("secret");
    let provider = vonage(secret, M::Md5Hash);
    for v in all["messages_api"].as_array().expect("cases") {
        let name = v["name"].as_str().expect("name");
        let req = post(
            JSON,
            v["body"].as_str().expect("body"),
            Some(v["authorization"].as_str().expect("authorization")),
        );
        let now = at(v["now"].as_i64().expect("now"));
        let result = provider.verify_and_parse(&req, now);
        if v["valid"] == json!(true) {
            assert_eq!(v["sdk_verify_signature"], json!(true), "{name}");
            let messages = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(messages.len(), 1, "{name}");
        } else {
            let err = result.expect_err(name);
            assert_eq!(err.status(), 403, "{name}: {err}");
            // The SDK checks the signature only: it refuses what is not HS256 with the secret,
            // and accepts the genuine token whose body or age Intake refuses.
            if ["wrong_secret", "hs512", "alg_none"].contains(&name) {
                assert_ne!(v["sdk_verify_signature"], json!(true), "{name}");
                assert!(matches!(err, WebhookError::BadSignature), "{name}");
            }
        }
    }
    let case = |name: &str| {
        all["messages_api"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .expect("case")
    };
    let text = case("sms_text");
    let req = post(
        JSON,
        text["body"].as_str().expect("body"),
        Some(text["authorization"].as_str().expect("authorization")),
    );
    let m = provider
        .verify_and_parse(&req, at(1_796_040_000))
        .expect("valid")
        .remove(0);
    assert_eq!(
        m.provider_message_id,
        "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
    );
    assert_eq!(m.from.address, "6281200000042");
    assert_eq!(m.to, "6221555000");
    assert_eq!(m.body, "Halo dari Messages API");
    assert!(matches!(
        provider.verify(&req, at(1_796_040_000 + 301)),
        Err(WebhookError::Stale)
    ));
    assert!(matches!(
        case_verdict(&provider, &case("payload_hash_mismatch")),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        case_verdict(&provider, &case("iat_old")),
        Err(WebhookError::Stale)
    ));
    let image = case("mms_image");
    let req = post(
        JSON,
        image["body"].as_str().expect("body"),
        Some(image["authorization"].as_str().expect("authorization")),
    );
    let m = provider
        .verify_and_parse(&req, at(1_796_040_000))
        .expect("valid")
        .remove(0);
    assert_eq!(m.body, "Ini fotonya");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(
        m.attachments[0].url.as_deref(),
        Some("https://api-eu.nexmo.com/v3/media/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
    );
}

fn case_verdict(provider: &Vonage, v: &Value) -> Result<(), WebhookError> {
    let req = post(
        JSON,
        v["body"].as_str().expect("body"),
        Some(v["authorization"].as_str().expect("authorization")),
    );
    provider.verify(&req, at(v["now"].as_i64().expect("now")))
}

// --- Behaviour ---------------------------------------------------------------------------

const SECRET: &str = "test-vonage-signature-secret";
const NOW: i64 = 1_796_040_000;

/// An SMS API form POST of `params` signed with sha256 at `NOW`.
fn signed_form(params: &[(&str, &str)]) -> WebhookRequest {
    let now = NOW.to_string();
    let mut all = params.to_vec();
    all.push(("timestamp", &now));
    let sig = sms_signature(M::Sha256Hmac, SECRET, &sorted(&all));
    all.push(("sig", &sig));
    post(FORM, &form(&all), None)
}

fn sha256() -> Vonage {
    vonage(SECRET, M::Sha256Hmac)
}

/// A Messages API webhook of `body`, its JWT issued at `NOW`.
fn messages_post(body: &Value) -> WebhookRequest {
    let body = body.to_string();
    let authorization = messages_authorization(SECRET, body.as_bytes(), NOW);
    post(JSON, &body, Some(&authorization))
}

#[test]
fn concatenated_parts_are_each_one_message_under_their_own_id() {
    let part = |n: &str, id: &str, text: &str| {
        signed_form(&[
            ("msisdn", "6281234567890"),
            ("to", "6221555000"),
            ("messageId", id),
            ("text", text),
            ("type", "text"),
            ("concat", "true"),
            ("concat-ref", "108"),
            ("concat-total", "2"),
            ("concat-part", n),
        ])
    };
    let first = sha256()
        .verify_and_parse(
            &part("1", "0C000000217B7F02", "Halo, pesanan saya "),
            at(NOW),
        )
        .expect("part 1");
    let second = sha256()
        .verify_and_parse(&part("2", "0C000000217B7F03", "belum sampai"), at(NOW))
        .expect("part 2");
    assert_eq!(first[0].provider_message_id, "0C000000217B7F02");
    assert_eq!(second[0].provider_message_id, "0C000000217B7F03");
    assert_eq!(first[0].body, "Halo, pesanan saya ");
    assert_eq!(second[0].body, "belum sampai");
}

#[test]
fn receipts_binary_sms_status_webhooks_and_other_channels_store_nothing() {
    let receipt = signed_form(&[
        ("msisdn", "6281234567890"),
        ("to", "6221555000"),
        ("messageId", "0B00000053FF9D1A"),
        ("status", "delivered"),
        ("err-code", "0"),
        ("scts", "2611301200"),
    ]);
    assert_eq!(
        sha256().verify_and_parse(&receipt, at(NOW)).expect("ok"),
        vec![]
    );
    let binary = signed_form(&[
        ("msisdn", "6281234567890"),
        ("to", "6221555000"),
        ("messageId", "0B00000053FF9D1B"),
        ("type", "binary"),
        ("data", "0605040B8423F0"),
        ("udh", "06050415811581"),
    ]);
    assert_eq!(
        sha256().verify_and_parse(&binary, at(NOW)).expect("ok"),
        vec![]
    );
    let status = json!({
        "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
        "to": "6281234567890", "from": "6221555000", "timestamp": "2026-11-30T12:00:00Z",
        "status": "delivered", "channel": "sms",
        "usage": {"currency": "EUR", "price": "0.0333"},
    });
    assert_eq!(
        sha256()
            .verify_and_parse(&messages_post(&status), at(NOW))
            .expect("ok"),
        vec![]
    );
    let whatsapp = json!({
        "channel": "whatsapp", "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac",
        "to": "6221555000", "from": "6281234567890", "timestamp": "2026-11-30T12:00:00Z",
        "message_type": "text", "text": "Halo",
    });
    assert_eq!(
        sha256()
            .verify_and_parse(&messages_post(&whatsapp), at(NOW))
            .expect("ok"),
        vec![]
    );
    // Genuine or not is decided first: the same status webhook unsigned is refused.
    let mut unsigned = messages_post(&status);
    unsigned.headers.remove("authorization");
    assert!(matches!(
        sha256().verify(&unsigned, at(NOW)),
        Err(WebhookError::MissingSignature("Authorization"))
    ));
}

#[test]
fn a_get_webhook_is_read_from_the_query() {
    let req = signed_form(&[
        ("msisdn", "6281234567890"),
        ("to", "6221555000"),
        ("messageId", "0B00000053FF9D1C"),
        ("text", "Halo & selamat pagi = terima kasih"),
        ("type", "text"),
    ]);
    let query = String::from_utf8(req.body.to_vec()).expect("utf-8");
    let messages = sha256()
        .verify_and_parse(&get(&query), at(NOW))
        .expect("ok");
    assert_eq!(messages[0].body, "Halo & selamat pagi = terima kasih");
    // A GET carries nothing in its body: an empty query has no signature.
    assert!(matches!(
        sha256().verify(&get(""), at(NOW)),
        Err(WebhookError::MissingSignature("sig"))
    ));
}

#[test]
fn refusals() {
    let good = [
        ("msisdn", "6281234567890"),
        ("to", "6221555000"),
        ("messageId", "0B00000053FF9D1D"),
        ("text", "Halo"),
        ("type", "text"),
    ];
    let req = signed_form(&good);
    let body = String::from_utf8(req.body.to_vec()).expect("utf-8");
    let v = sha256();
    let now = at(NOW);
    // No signature at all.
    assert!(matches!(
        v.verify(&post(FORM, &form(&good), None), now),
        Err(WebhookError::MissingSignature("sig"))
    ));
    assert!(matches!(
        v.verify(&post(JSON, "{}", None), now),
        Err(WebhookError::MissingSignature("sig"))
    ));
    // A repeated parameter leaves unclear which one was signed.
    let repeated = format!("{body}&text=Hola");
    assert_eq!(
        v.verify(&post(FORM, &repeated, None), now)
            .map_err(|e| e.status()),
        Err(400)
    );
    // Only form and JSON bodies.
    assert_eq!(
        v.verify(&post("text/plain", &body, None), now)
            .map_err(|e| e.status()),
        Err(415)
    );
    // The signature in upper case passes (Vonage's HMACs are upper case).
    let upper = body
        .split('&')
        .map(|p| match p.strip_prefix("sig=") {
            Some(sig) => format!("sig={}", sig.to_ascii_uppercase()),
            None => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    assert!(v.verify(&post(FORM, &upper, None), now).is_ok());
    // A signed request without its timestamp cannot be placed in time.
    let sig = sms_signature(M::Sha256Hmac, SECRET, &sorted(&good));
    let mut no_timestamp = good.to_vec();
    no_timestamp.push(("sig", &sig));
    assert!(matches!(
        v.verify(&post(FORM, &form(&no_timestamp), None), now),
        Err(WebhookError::MissingSignature("timestamp"))
    ));
    // A message id that is not Vonage's is not a table key.
    let odd = signed_form(&[
        ("msisdn", "6281234567890"),
        ("to", "6221555000"),
        ("messageId", "../../etc"),
        ("text", "Halo"),
    ]);
    assert_eq!(
        v.verify_and_parse(&odd, now).map_err(|e| e.status()),
        Err(400)
    );
    // Messages API: a token made with another secret, or for another body.
    let message = json!({
        "channel": "sms", "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ad",
        "to": "6221555000", "from": "6281234567890", "message_type": "text", "text": "Halo",
    });
    let body = message.to_string();
    let other = messages_authorization("another-secret", body.as_bytes(), NOW);
    assert!(matches!(
        v.verify(&post(JSON, &body, Some(&other)), now),
        Err(WebhookError::BadSignature)
    ));
    let mine = messages_authorization(SECRET, body.as_bytes(), NOW);
    assert!(matches!(
        v.verify(&post(JSON, &body.replace("Halo", "Hola"), Some(&mine)), now),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        v.verify(&post(JSON, &body, Some("Bearer not.a.jwt")), now),
        Err(WebhookError::BadSignature)
    ));
    assert!(v.verify(&post(JSON, &body, Some(&mine)), now).is_ok());
}

#[test]
fn blank_secrets_are_refused() {
    assert!(matches!(
        Vonage::new(&config("  ", M::Md5Hash)),
        Err(ConfigError::EmptySecret("VONAGE_SIGNATURE_SECRET"))
    ));
    let mut c = config(SECRET, M::Md5Hash);
    c.api_key = Some("abcd1234".into());
    c.api_secret = Some(Secret::new(" "));
    assert!(matches!(
        VonageSender::new(&c, reqwest::Client::new()),
        Err(ConfigError::EmptySecret("VONAGE_API_SECRET"))
    ));
    c.signature_secret = None;
    c.api_secret = None;
    assert!(Vonage::new(&c).expect("ok").is_none());
    assert!(
        VonageSender::new(&c, reqwest::Client::new())
            .expect("ok")
            .is_none()
    );
}

#[test]
fn sms_api_answers_are_classified() {
    let sent = json!({"message-count": "2", "messages": [
        {"to": "6281234567890", "message-id": "0A0000000123ABCD", "status": "0"},
        {"to": "6281234567890", "message-id": "0A0000000123ABCE", "status": "0"},
    ]});
    assert_eq!(
        sms_outcome(&sent)
            .expect("sent")
            .provider_message_id
            .as_deref(),
        Some("0A0000000123ABCD")
    );
    let throttled = json!({"messages": [{"status": "1", "error-text": "Throttled"}]});
    assert!(matches!(
        sms_outcome(&throttled),
        Err(SendError::Retryable(_))
    ));
    let barred = json!({"messages": [{"status": "7", "error-text": "Number barred"}]});
    assert_eq!(
        sms_outcome(&barred),
        Err(SendError::Permanent {
            code: "7".into(),
            reason: "Number barred".into()
        })
    );
    // One part out, the next throttled: a retry would send the first part twice.
    let partial = json!({"messages": [
        {"status": "0", "message-id": "0A0000000123ABCF"},
        {"status": "1", "error-text": "Throttled"},
    ]});
    assert!(matches!(
        sms_outcome(&partial),
        Err(SendError::Permanent { code, .. }) if code == "1"
    ));
    assert!(matches!(
        sms_outcome(&json!({})),
        Err(SendError::Permanent { code, .. }) if code == "unreadable_answer"
    ));
}

#[test]
fn numbers_are_sent_without_plus() {
    assert_eq!(vonage_number("+6281234567890"), "6281234567890");
    assert_eq!(vonage_number("6221555000"), "6221555000");
}

// --- Arbitrary input ---------------------------------------------------------------------

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic_and_are_refused_with_4xx(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        kind in 0usize..4,
    ) {
        let text = String::from_utf8_lossy(&body).into_owned();
        let req = match kind {
            0 => get(&text),
            1 => post(FORM, "", None),
            2 => post(JSON, "", None),
            _ => post(JSON, "", Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln")),
        };
        let mut req = req;
        if kind > 0 {
            req.body = Bytes::from(body);
        }
        for result in [
            sha256().verify(&req, at(NOW)),
            sha256().parse(&req, at(NOW)).map(drop),
            sha256().verify_and_parse(&req, at(NOW)).map(drop),
        ] {
            if let Err(e) = result {
                prop_assert!((400..500).contains(&e.status()), "{e}");
            }
        }
    }

    #[test]
    fn signed_arbitrary_parameters_never_panic(
        fields in proptest::collection::vec((
            prop_oneof![
                Just("msisdn".to_owned()), Just("to".to_owned()), Just("messageId".to_owned()),
                Just("text".to_owned()), Just("type".to_owned()), Just("status".to_owned()),
                "[a-z-]{1,12}",
            ],
            prop_oneof![".{0,40}", "[0-9A-F]{1,20}", Just("binary".to_owned())],
        ), 0..10),
        json_body in any::<bool>(),
    ) {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let now = NOW.to_string();
        let mut all = pairs.clone();
        all.push(("timestamp", &now));
        all.sort_unstable();
        all.dedup_by(|a, b| a.0 == b.0);
        let sig = sms_signature(M::Sha256Hmac, SECRET, &all);
        all.push(("sig", &sig));
        let req = if json_body {
            let object: Map<String, Value> = all
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                .collect();
            post(JSON, &Value::Object(object).to_string(), None)
        } else {
            post(FORM, &form(&all), None)
        };
        match sha256().verify_and_parse(&req, at(NOW)) {
            Ok(messages) => {
                prop_assert!(messages.len() <= 1);
                prop_assert_eq!(sha256().parse(&req, at(NOW)).expect("parses"), messages);
            }
            Err(e) => {
                prop_assert!((400..500).contains(&e.status()), "{}", e);
                prop_assert!(!matches!(e, WebhookError::BadSignature), "signed by us: {}", e);
            }
        }
    }
}
