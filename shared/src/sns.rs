//! Amazon SNS HTTPS deliveries, verified by us: the canonical string of each message type,
//! RSA signatures (SignatureVersion 1: SHA-1, 2: SHA-256) against the certificate SNS names,
//! fetched only from SNS's own hosts over rustls and kept for the life of the process.
//!
//! The certificate source and the clock are injected, so the published vectors (signed by a
//! certificate that has since expired) and the local stack's test key verify offline.

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use url::Url;
use x509_cert::der::{Decode, DecodePem};

use crate::future::BoxFuture;

/// Why an SNS delivery is not trusted or not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// Not an SNS message (not JSON, a required field missing): a 400.
    #[error("malformed SNS message: {0}")]
    Malformed(&'static str),
    /// `SigningCertURL` is not an https `.pem` on an SNS host: a 403.
    #[error("signing certificate URL is not an SNS certificate")]
    UntrustedCertUrl,
    /// A SignatureVersion other than 1 or 2: a 403.
    #[error("unsupported SignatureVersion")]
    UnsupportedVersion,
    /// The certificate is outside its validity period at the message's verification time.
    #[error("signing certificate is not valid now")]
    CertificateExpired,
    /// The certificate cannot be read.
    #[error("signing certificate is unreadable")]
    BadCertificate,
    /// The signature does not match the message: a 403.
    #[error("SNS signature does not match")]
    BadSignature,
    /// The certificate could not be fetched: a 503, SNS retries.
    #[error("signing certificate unavailable: {0}")]
    Unavailable(String),
}

/// An SNS message as POSTed to an HTTPS subscription (or handed to Lambda, whose spelling of
/// two keys differs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SnsMessage {
    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// SNS's id of the message.
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// The topic it was published to.
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    /// Subject, when the publisher set one (`null` counts as absent).
    #[serde(rename = "Subject")]
    pub subject: Option<String>,
    /// The payload.
    #[serde(rename = "Message")]
    pub message: String,
    /// When SNS published it.
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    /// `1` (SHA1withRSA) or `2` (SHA256withRSA).
    #[serde(rename = "SignatureVersion")]
    pub signature_version: String,
    /// Base64 signature (may contain line breaks).
    #[serde(rename = "Signature")]
    pub signature: String,
    /// Where the signing certificate is served.
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    pub signing_cert_url: String,
    /// Subscription confirmations: the URL that confirms.
    #[serde(rename = "SubscribeURL", alias = "SubscribeUrl")]
    pub subscribe_url: Option<String>,
    /// Subscription confirmations: the token.
    #[serde(rename = "Token")]
    pub token: Option<String>,
    /// Notifications: the URL that unsubscribes.
    #[serde(rename = "UnsubscribeURL", alias = "UnsubscribeUrl")]
    pub unsubscribe_url: Option<String>,
}

impl SnsMessage {
    /// Reads a delivery body.
    pub fn parse(body: &[u8]) -> Result<SnsMessage, SnsError> {
        let message: SnsMessage =
            serde_json::from_slice(body).map_err(|_| SnsError::Malformed("not an SNS message"))?;
        if message.kind.is_empty() || message.message_id.is_empty() || message.topic_arn.is_empty()
        {
            return Err(SnsError::Malformed("Type, MessageId or TopicArn missing"));
        }
        Ok(message)
    }
}

/// The string SNS signed: `Key\nValue\n` for each field of the message's type, in AWS's
/// documented order.
pub fn canonical_string(m: &SnsMessage) -> Result<String, SnsError> {
    let mut out = String::with_capacity(m.message.len() + 512);
    let mut push = |key: &str, value: &str| {
        out.push_str(key);
        out.push('\n');
        out.push_str(value);
        out.push('\n');
    };
    let required = |value: &Option<String>, what| value.clone().ok_or(SnsError::Malformed(what));
    match m.kind.as_str() {
        "Notification" => {
            push("Message", &m.message);
            push("MessageId", &m.message_id);
            if let Some(subject) = &m.subject {
                push("Subject", subject);
            }
            push("Timestamp", &m.timestamp);
            push("TopicArn", &m.topic_arn);
            push("Type", &m.kind);
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            let subscribe_url = required(&m.subscribe_url, "SubscribeURL missing")?;
            let token = required(&m.token, "Token missing")?;
            push("Message", &m.message);
            push("MessageId", &m.message_id);
            push("SubscribeURL", &subscribe_url);
            push("Timestamp", &m.timestamp);
            push("Token", &token);
            push("TopicArn", &m.topic_arn);
            push("Type", &m.kind);
        }
        _ => return Err(SnsError::Malformed("unknown Type")),
    }
    Ok(out)
}

/// Whether `host` is an SNS endpoint: `sns.<region>.amazonaws.com`, or `.com.cn` in China
/// (`^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$`).
pub fn is_sns_host(host: &str) -> bool {
    let rest = host
        .strip_suffix(".amazonaws.com.cn")
        .or_else(|| host.strip_suffix(".amazonaws.com"));
    rest.and_then(|r| r.strip_prefix("sns."))
        .is_some_and(|region| {
            region.len() >= 3
                && region
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Accepts a certificate URL only when it is `https` on an SNS host, on the default port,
/// without credentials, and names a `.pem` file.
pub fn check_cert_url(value: &str) -> Result<Url, SnsError> {
    let url = Url::parse(value).map_err(|_| SnsError::UntrustedCertUrl)?;
    let host_ok = matches!(url.host(), Some(url::Host::Domain(h)) if is_sns_host(h));
    let ok = url.scheme() == "https"
        && host_ok
        && url.port().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().ends_with(".pem");
    if ok {
        Ok(url)
    } else {
        Err(SnsError::UntrustedCertUrl)
    }
}

/// A signing certificate, read once.
#[derive(Debug)]
pub struct SigningCert {
    /// PKCS#1 `RSAPublicKey`.
    public_key: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

impl SigningCert {
    /// Reads a PEM (or DER) X.509 certificate.
    pub fn from_pem(bytes: &[u8]) -> Result<SigningCert, SnsError> {
        let cert = x509_cert::Certificate::from_pem(bytes)
            .or_else(|_| x509_cert::Certificate::from_der(bytes))
            .map_err(|_| SnsError::BadCertificate)?;
        let tbs = &cert.tbs_certificate;
        let seconds = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        Ok(SigningCert {
            public_key: tbs
                .subject_public_key_info
                .subject_public_key
                .raw_bytes()
                .to_vec(),
            not_before: seconds(&tbs.validity.not_before),
            not_after: seconds(&tbs.validity.not_after),
        })
    }

    /// Checks `message`'s signature at `now` (the certificate must be valid then).
    pub fn verify(&self, message: &SnsMessage, now: Timestamp) -> Result<(), SnsError> {
        let algorithm = match message.signature_version.as_str() {
            "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(SnsError::UnsupportedVersion),
        };
        let at = now.as_second();
        if at < self.not_before || at > self.not_after {
            return Err(SnsError::CertificateExpired);
        }
        let compact: String = message.signature.split_ascii_whitespace().collect();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| SnsError::BadSignature)?;
        let signed = canonical_string(message)?;
        UnparsedPublicKey::new(algorithm, &self.public_key)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| SnsError::BadSignature)
    }
}

/// Where signing certificates come from.
pub trait CertSource: Send + Sync {
    /// The PEM served at `url` (already checked to be an SNS certificate URL).
    fn fetch<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, SnsError>>;
}

/// Downloads certificates from SNS over https (rustls), with short timeouts.
pub struct HttpsCertSource {
    client: reqwest::Client,
}

impl HttpsCertSource {
    /// With its own https-only client.
    pub fn new() -> Result<HttpsCertSource, SnsError> {
        let client = reqwest::Client::builder()
            .https_only(true)
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(4))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SnsError::Unavailable(e.to_string()))?;
        Ok(HttpsCertSource { client })
    }
}

impl CertSource for HttpsCertSource {
    fn fetch<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, SnsError>> {
        Box::pin(async move {
            let response = self
                .client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| SnsError::Unavailable(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(SnsError::Unavailable(format!(
                    "HTTP {}",
                    response.status().as_u16()
                )));
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| SnsError::Unavailable(e.without_url().to_string()))?;
            Ok(bytes.to_vec())
        })
    }
}

/// The same certificate for every SNS URL: tests, and the local stack that signs with a
/// public test key. A deployment never uses it.
pub struct StaticCertSource {
    pem: Vec<u8>,
}

impl StaticCertSource {
    /// Serves `pem` for every URL.
    pub fn new(pem: impl Into<Vec<u8>>) -> StaticCertSource {
        StaticCertSource { pem: pem.into() }
    }
}

impl CertSource for StaticCertSource {
    fn fetch<'a>(&'a self, _url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, SnsError>> {
        Box::pin(async move { Ok(self.pem.clone()) })
    }
}

/// Verifies SNS deliveries; certificates are fetched once per URL and kept (a failed fetch
/// is not kept: the next delivery tries again).
pub struct SnsVerifier {
    source: Box<dyn CertSource>,
    cache: RwLock<HashMap<String, Arc<SigningCert>>>,
}

impl SnsVerifier {
    /// With a certificate source.
    pub fn new(source: Box<dyn CertSource>) -> SnsVerifier {
        SnsVerifier {
            source,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The certificate `message` names, if it has been fetched already.
    pub fn cached(&self, message: &SnsMessage) -> Option<Arc<SigningCert>> {
        let url = check_cert_url(&message.signing_cert_url).ok()?;
        self.cache.read().ok()?.get(url.as_str()).cloned()
    }

    /// The certificate `message` names, from the cache or its source.
    pub async fn certificate(&self, message: &SnsMessage) -> Result<Arc<SigningCert>, SnsError> {
        let url = check_cert_url(&message.signing_cert_url)?;
        if let Some(cert) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.get(url.as_str()).cloned())
        {
            return Ok(cert);
        }
        let pem = self.source.fetch(&url).await?;
        let cert = Arc::new(SigningCert::from_pem(&pem)?);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(url.as_str().to_owned(), cert.clone());
        }
        Ok(cert)
    }

    /// Parses and verifies a delivery body at `now`.
    pub async fn verify(&self, body: &[u8], now: Timestamp) -> Result<SnsMessage, SnsError> {
        let message = SnsMessage::parse(body)?;
        if !matches!(message.signature_version.as_str(), "1" | "2") {
            return Err(SnsError::UnsupportedVersion);
        }
        self.certificate(&message).await?.verify(&message, now)?;
        Ok(message)
    }
}

#[cfg(test)]
#[path = "sns_tests.rs"]
mod tests;
