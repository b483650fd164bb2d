//! Every vector of `tests/fixtures/sns/VECTORS.md` gives its documented verdict.

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/sns/", $name))
    };
}

const C_REAL: &str = fixture!("sns_cert_7ff5318490ec183fbaddaa2a969abfda.pem");
const C_TEST: &str = fixture!("testkey/certificate.pem");
const S1: &str = fixture!("sns_real_1_792cda85_v1.json");
const S2: &str = fixture!("sns_real_2_17dea24b_v2.json");
const S3: &str = fixture!("sns_real_3_11405cc3_v1.json");
const S4: &str = fixture!("sns_real_4_4504e649_v2.json");
const S6: &str = fixture!("testkey/valid_signature.json");
const S6_INVALID: &str = fixture!("testkey/invalid_signature.json");
const S7: &str = fixture!("sns_gen_subscription_confirmation_v2.json");
const S8: &str = fixture!("sns_gen_ses_received_v2.json");
const S9: &str = fixture!("sns_gen_eum_sms_inbound_v1.json");
const S10: &str = fixture!("sns_gen_unsubscribe_confirmation_v1.json");

/// Inside C-REAL's validity (2021-09-07 → 2022-08-17).
fn real_time() -> Timestamp {
    "2022-07-29T00:00:00Z".parse().unwrap()
}

/// Inside C-TEST's validity (2024-05-15 → 2025-05-15).
fn test_time() -> Timestamp {
    "2024-06-01T12:30:00Z".parse().unwrap()
}

fn verdict(body: &str, cert: &str, now: Timestamp) -> Result<(), SnsError> {
    let message = SnsMessage::parse(body.as_bytes())?;
    SigningCert::from_pem(cert.as_bytes())?.verify(&message, now)
}

/// `body` with one top-level string field replaced.
fn with(body: &str, field: &str, value: &str) -> String {
    let mut json: serde_json::Value = serde_json::from_str(body).unwrap();
    json[field] = serde_json::Value::String(value.into());
    json.to_string()
}

#[test]
fn real_aws_messages_s1_to_s4() {
    for (name, body) in [("S1", S1), ("S2", S2), ("S3", S3), ("S4", S4)] {
        assert_eq!(verdict(body, C_REAL, real_time()), Ok(()), "{name}");
        let tampered = with(body, "Message", "Hello World");
        assert_eq!(
            verdict(&tampered, C_REAL, real_time()),
            Err(SnsError::BadSignature),
            "{name} tampered"
        );
    }
}

#[test]
fn canonical_strings_match_the_documented_ones() {
    let s1 = SnsMessage::parse(S1.as_bytes()).unwrap();
    assert_eq!(
        canonical_string(&s1).unwrap(),
        "Message\nHello world\nMessageId\n792cda85-518f-5dd3-9163-81d851212f3a\nTimestamp\n2022-07-28T21:23:58.317Z\nTopicArn\narn:aws:sns:us-east-2:295079676684:publish-and-verify-892f85fe-4836-424d-8188-ab85bef0f362\nType\nNotification\n"
    );
    let s4 = SnsMessage::parse(S4.as_bytes()).unwrap();
    assert!(
        canonical_string(&s4)
            .unwrap()
            .contains("\nSubject\nHello world\nTimestamp\n")
    );
    let s7 = SnsMessage::parse(S7.as_bytes()).unwrap();
    let text = canonical_string(&s7).unwrap();
    let at = |key: &str| text.find(key).unwrap_or_else(|| panic!("{key} missing"));
    assert!(text.starts_with("Message\n"));
    assert!(
        at("\nMessageId\n") < at("\nSubscribeURL\nhttps://")
            && at("\nSubscribeURL\n") < at("\nTimestamp\n")
            && at("\nTimestamp\n") < at("\nToken\n")
            && at("\nToken\n") < at("\nTopicArn\n")
            && text.ends_with("\nType\nSubscriptionConfirmation\n")
    );
}

#[test]
fn lambda_shaped_keys_and_null_subject_s5() {
    let lambda = S1
        .replace("\"SigningCertURL\"", "\"SigningCertUrl\"")
        .replace("\"UnsubscribeURL\"", "\"UnsubscribeUrl\"")
        .replacen("\"Message\"", "\"Subject\" : null, \"Message\"", 1);
    assert_eq!(verdict(&lambda, C_REAL, real_time()), Ok(()));
    let lambda = S2.replace("\"SigningCertURL\"", "\"SigningCertUrl\"");
    assert_eq!(verdict(&lambda, C_REAL, real_time()), Ok(()));
}

#[test]
fn real_message_against_the_test_certificate_is_invalid_s_neg() {
    assert_eq!(
        verdict(S1, C_TEST, test_time()),
        Err(SnsError::BadSignature)
    );
}

#[test]
fn published_test_key_messages_s6() {
    assert_eq!(verdict(S6, C_TEST, test_time()), Ok(()));
    assert_eq!(
        verdict(S6_INVALID, C_TEST, test_time()),
        Err(SnsError::BadSignature)
    );
}

#[test]
fn generated_messages_s7_to_s10() {
    for (name, body) in [("S7", S7), ("S8", S8), ("S9", S9), ("S10", S10)] {
        assert_eq!(verdict(body, C_TEST, test_time()), Ok(()), "{name}");
        let moved = with(body, "Timestamp", "2024-06-01T12:00:00.001Z");
        assert_eq!(
            verdict(&moved, C_TEST, test_time()),
            Err(SnsError::BadSignature),
            "{name} Timestamp changed"
        );
        let kind = if body.contains("\"Notification\"") {
            "SubscriptionConfirmation"
        } else {
            "Notification"
        };
        let switched = with(body, "Type", kind);
        assert!(
            verdict(&switched, C_TEST, test_time()).is_err(),
            "{name} Type switched"
        );
    }
}

#[test]
fn signature_version_must_match_the_signature() {
    // S1 is SHA1withRSA; relabelled as version 2 it must not verify, nor as version 3.
    let relabelled = with(S1, "SignatureVersion", "2");
    assert_eq!(
        verdict(&relabelled, C_REAL, real_time()),
        Err(SnsError::BadSignature)
    );
    let relabelled = with(S2, "SignatureVersion", "1");
    assert_eq!(
        verdict(&relabelled, C_REAL, real_time()),
        Err(SnsError::BadSignature)
    );
    assert_eq!(
        verdict(&with(S1, "SignatureVersion", "3"), C_REAL, real_time()),
        Err(SnsError::UnsupportedVersion)
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused() {
    let later: Timestamp = "2026-11-22T00:00:00Z".parse().unwrap();
    assert_eq!(
        verdict(S1, C_REAL, later),
        Err(SnsError::CertificateExpired)
    );
    let before: Timestamp = "2021-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(
        verdict(S1, C_REAL, before),
        Err(SnsError::CertificateExpired)
    );
}

#[test]
fn certificate_urls() {
    for good in [
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
        "https://sns.us-gov-west-1.amazonaws.com/x.pem",
    ] {
        assert!(check_cert_url(good).is_ok(), "{good}");
    }
    for bad in [
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.key",
        "https://s3.us-east-1.amazonaws.com/evil/cert.pem",
        "https://evil.com/sns.us-east-1.amazonaws.com.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
        "https://internetbadguys.com/cert.pem",
        "https://sns.a.amazonaws.com/x.pem",
        "https://xsns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us_east.amazonaws.com/x.pem",
        "https://user@sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "not a url",
    ] {
        assert_eq!(
            check_cert_url(bad),
            Err(SnsError::UntrustedCertUrl),
            "{bad}"
        );
    }
}

#[test]
fn malformed_messages() {
    for body in ["", "[]", "{}", "{\"Type\": \"Notification\"}", "not json"] {
        assert!(
            matches!(
                SnsMessage::parse(body.as_bytes()),
                Err(SnsError::Malformed(_))
            ),
            "{body}"
        );
    }
    let no_token = serde_json::from_str::<serde_json::Value>(S7)
        .map(|mut v| {
            v.as_object_mut().unwrap().remove("Token");
            v.to_string()
        })
        .unwrap();
    assert!(matches!(
        verdict(&no_token, C_TEST, test_time()),
        Err(SnsError::Malformed(_))
    ));
}

struct Counting {
    pem: &'static str,
    calls: std::sync::atomic::AtomicUsize,
}

impl CertSource for Counting {
    fn fetch<'a>(&'a self, _url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, SnsError>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move { Ok(self.pem.as_bytes().to_vec()) })
    }
}

#[tokio::test]
async fn certificates_are_fetched_once_per_url() {
    let source = std::sync::Arc::new(Counting {
        pem: C_REAL,
        calls: Default::default(),
    });
    struct Shared(std::sync::Arc<Counting>);
    impl CertSource for Shared {
        fn fetch<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, SnsError>> {
            self.0.fetch(url)
        }
    }
    let verifier = SnsVerifier::new(Box::new(Shared(source.clone())));
    for body in [S1, S2, S3, S4] {
        verifier.verify(body.as_bytes(), real_time()).await.unwrap();
    }
    assert_eq!(source.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A URL off SNS's hosts is refused before anything is fetched.
    let off_host = with(S1, "SigningCertURL", "https://evil.com/cert.pem");
    assert_eq!(
        verifier
            .verify(off_host.as_bytes(), real_time())
            .await
            .err(),
        Some(SnsError::UntrustedCertUrl)
    );
    assert_eq!(source.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

proptest::proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
        if let Ok(message) = SnsMessage::parse(&body) {
            let _ = canonical_string(&message);
        }
    }

    #[test]
    fn arbitrary_fields_never_panic(
        kind in "(Notification|SubscriptionConfirmation|UnsubscribeConfirmation|[A-Za-z]{0,12})",
        message in ".{0,200}",
        subject in proptest::option::of(".{0,40}"),
        signature in "[A-Za-z0-9+/=\\n]{0,400}",
        version in "[0-9]{0,2}",
        url in ".{0,80}",
    ) {
        let m = SnsMessage {
            kind,
            message_id: "id".into(),
            topic_arn: "arn".into(),
            subject,
            message,
            timestamp: "t".into(),
            signature_version: version,
            signature,
            signing_cert_url: url.clone(),
            subscribe_url: Some(url),
            token: Some("t".into()),
            unsubscribe_url: None,
        };
        let _ = canonical_string(&m);
        let _ = check_cert_url(&m.signing_cert_url);
        if let Ok(cert) = SigningCert::from_pem(C_TEST.as_bytes()) {
            let _ = cert.verify(&m, test_time());
        }
    }
}
