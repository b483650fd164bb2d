//! An HTTPS endpoint subscribed to SNS topics, shared by every provider that delivers through
//! SNS (SES inbound mail, AWS End User Messaging inbound SMS): only the configured topics are
//! accepted, each delivery's signature is verified on its raw bytes (the signing certificate
//! fetched once per process, from an SNS host only), and subscription confirmations are
//! confirmed once (`subscription.rs`).

use jiff::Timestamp;

use crate::config::ConfigError;
use crate::error::WebhookError;
use crate::reply::Reply;
use crate::sns::{
    CertSource, HttpsCertSource, SnsError, SnsMessage, SnsVerifier, StaticCertSource,
};
use crate::store::Store;
use subscription::Subscriptions;

mod subscription;

/// What a verified SNS delivery turned out to be.
pub enum SnsDelivery {
    /// A subscription handshake, answered: store nothing.
    Answered(Reply),
    /// A notification of a configured topic, verified (boxed: an envelope is much larger
    /// than an answer).
    Notification(Box<SnsMessage>),
}

/// The SNS side of a provider: its topics, its verifier, its subscriptions.
pub struct SnsEndpoint {
    topics: Vec<String>,
    verifier: SnsVerifier,
    subscriptions: Subscriptions,
}

impl SnsEndpoint {
    /// An endpoint accepting `topics`. `trusted_cert_file` (local stack only) replaces every
    /// signing certificate; `confirm_base_url` (local stack only) receives confirmations.
    pub fn new(
        topics: Vec<String>,
        trusted_cert_file: Option<&str>,
        confirm_base_url: Option<url::Url>,
        http: reqwest::Client,
    ) -> Result<SnsEndpoint, ConfigError> {
        let source: Box<dyn CertSource> = match trusted_cert_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| ConfigError::Invalid {
                    name: "SNS_TRUSTED_CERT_FILE",
                    reason: format!("cannot read {path}: {e}"),
                })?;
                tracing::warn!(
                    "SNS_TRUSTED_CERT_FILE is set: SNS signatures are checked against a local test certificate (local stack only)"
                );
                Box::new(StaticCertSource::new(pem))
            }
            None => Box::new(HttpsCertSource::new().map_err(|e| ConfigError::Invalid {
                name: "SNS certificate client",
                reason: e.to_string(),
            })?),
        };
        Ok(SnsEndpoint {
            topics,
            verifier: SnsVerifier::new(source),
            subscriptions: Subscriptions::new(http, confirm_base_url),
        })
    }

    fn accepted_topic(&self, message: &SnsMessage) -> Result<(), WebhookError> {
        if self.topics.contains(&message.topic_arn) {
            Ok(())
        } else {
            Err(WebhookError::Forbidden("SNS topic not configured"))
        }
    }

    /// Verifies `body` with a certificate already fetched (by [`SnsEndpoint::receive`]).
    pub fn verify_cached(&self, body: &[u8], now: Timestamp) -> Result<SnsMessage, WebhookError> {
        let message = SnsMessage::parse(body).map_err(sns_error)?;
        self.accepted_topic(&message)?;
        let cert = self
            .verifier
            .cached(&message)
            .ok_or_else(|| WebhookError::Unavailable("signing certificate not fetched".into()))?;
        cert.verify(&message, now).map_err(sns_error)?;
        Ok(message)
    }

    /// Verifies `body` (fetching the signing certificate if needed), then answers a
    /// subscription handshake or hands over the notification.
    pub async fn receive(
        &self,
        body: &[u8],
        now: Timestamp,
        store: &Store,
    ) -> Result<SnsDelivery, WebhookError> {
        let message = SnsMessage::parse(body).map_err(sns_error)?;
        self.accepted_topic(&message)?;
        let cert = self
            .verifier
            .certificate(&message)
            .await
            .map_err(sns_error)?;
        cert.verify(&message, now).map_err(sns_error)?;
        Ok(
            match self.subscriptions.answer(&message, now, store).await? {
                Some(reply) => SnsDelivery::Answered(reply),
                None => SnsDelivery::Notification(Box::new(message)),
            },
        )
    }
}

/// The webhook error of an SNS failure: a bad signature of any kind is 403.
pub fn sns_error(e: SnsError) -> WebhookError {
    match e {
        SnsError::Malformed(what) => WebhookError::Malformed(what.into()),
        SnsError::Unavailable(why) => WebhookError::Unavailable(why),
        SnsError::BadSignature
        | SnsError::UntrustedCertUrl
        | SnsError::UnsupportedVersion
        | SnsError::CertificateExpired
        | SnsError::BadCertificate => WebhookError::BadSignature,
    }
}
