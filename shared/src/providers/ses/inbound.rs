//! SES inbound through SNS (`POST /email/ses`): only configured topics, each delivery's
//! signature verified on its raw bytes (the certificate fetched once per process), then the
//! subscription handshakes answered or the mail read, inline or from S3.

use jiff::Timestamp;

use super::PROVIDER;
use super::bucket::MailBucket;
use super::notification::{SesNotification, inbound_mail};
use super::subscription::Subscriptions;
use crate::config::{ConfigError, SesConfig};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Channel, InboundMessage};
use crate::providers::{Clients, Provider, Received, mail};
use crate::request::WebhookRequest;
use crate::sns::{
    CertSource, HttpsCertSource, SnsError, SnsMessage, SnsVerifier, StaticCertSource,
};
use crate::store::Store;

/// SES inbound through SNS.
pub struct Ses {
    topics: Vec<String>,
    verifier: SnsVerifier,
    bucket: MailBucket,
    subscriptions: Subscriptions,
}

impl Ses {
    /// The provider when topics are configured.
    pub fn new(config: &SesConfig, clients: &Clients) -> Result<Option<Ses>, ConfigError> {
        if config.topic_arns.is_empty() {
            return Ok(None);
        }
        let source: Box<dyn CertSource> = match &config.trusted_cert_file {
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
        Ok(Some(Ses {
            topics: config.topic_arns.clone(),
            verifier: SnsVerifier::new(source),
            bucket: MailBucket::new(config, clients),
            subscriptions: Subscriptions::new(
                clients.http.clone(),
                config.confirm_base_url.clone(),
            ),
        }))
    }

    fn accepted_topic(&self, message: &SnsMessage) -> Result<(), WebhookError> {
        if self.topics.contains(&message.topic_arn) {
            Ok(())
        } else {
            Err(WebhookError::Forbidden("SNS topic not configured"))
        }
    }

    /// The messages of a verified notification.
    async fn mail(
        &self,
        message: &SnsMessage,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let Some(notification) = SesNotification::received(&message.message)? else {
            return Ok(Vec::new());
        };
        let raw = match notification.inline_content()? {
            Some(raw) => raw,
            None => {
                let (bucket, key) = notification
                    .s3_location()
                    .ok_or(WebhookError::MissingField("content"))?;
                self.bucket.fetch(bucket, key).await?
            }
        };
        Ok(vec![inbound_mail(&notification, &raw, now)?])
    }
}

fn sns_error(e: SnsError) -> WebhookError {
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

impl Provider for Ses {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn max_body_bytes(&self) -> usize {
        // SNS messages are at most 256 KB (SES's inline mail 150 KB); the email limit
        // covers them with room to spare.
        mail::MAX_BODY_BYTES
    }

    /// Verifies with a certificate already fetched ([`Provider::receive`] fetches it first).
    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        let message = SnsMessage::parse(&req.body).map_err(sns_error)?;
        self.accepted_topic(&message)?;
        let cert = self
            .verifier
            .cached(&message)
            .ok_or_else(|| WebhookError::Unavailable("signing certificate not fetched".into()))?;
        cert.verify(&message, now).map_err(sns_error)
    }

    /// Reads inline mail of a verified notification (mail in S3 needs [`Provider::receive`]).
    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let message = SnsMessage::parse(&req.body).map_err(sns_error)?;
        if message.kind != "Notification" {
            return Ok(Vec::new());
        }
        let Some(notification) = SesNotification::received(&message.message)? else {
            return Ok(Vec::new());
        };
        let raw = notification
            .inline_content()?
            .ok_or(WebhookError::MissingField("content"))?;
        Ok(vec![inbound_mail(&notification, &raw, now)?])
    }

    fn receive<'a>(
        &'a self,
        req: &'a WebhookRequest,
        now: Timestamp,
        store: &'a Store,
    ) -> BoxFuture<'a, Result<Received, WebhookError>> {
        Box::pin(async move {
            let message = SnsMessage::parse(&req.body).map_err(sns_error)?;
            self.accepted_topic(&message)?;
            let cert = self
                .verifier
                .certificate(&message)
                .await
                .map_err(sns_error)?;
            cert.verify(&message, now).map_err(sns_error)?;
            match self.subscriptions.answer(&message, now, store).await? {
                Some(reply) => Ok(Received::Answer(reply)),
                None => Ok(Received::Messages(self.mail(&message, now).await?)),
            }
        })
    }
}
