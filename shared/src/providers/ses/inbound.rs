//! SES inbound through SNS (`POST /email/ses`): only configured topics, each delivery's
//! signature verified on its raw bytes (the certificate fetched once per process), then the
//! subscription handshakes answered or the mail read, inline or from S3.

use jiff::Timestamp;

use super::PROVIDER;
use super::bucket::MailBucket;
use super::notification::{SesNotification, inbound_mail};
use crate::config::{ConfigError, SesConfig};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Channel, InboundMessage};
use crate::providers::sns_inbound::{SnsDelivery, SnsEndpoint, sns_error};
use crate::providers::{Clients, Provider, Received, mail};
use crate::request::WebhookRequest;
use crate::sns::SnsMessage;
use crate::store::Store;

/// SES inbound through SNS.
pub struct Ses {
    sns: SnsEndpoint,
    bucket: MailBucket,
}

impl Ses {
    /// The provider when topics are configured.
    pub fn new(config: &SesConfig, clients: &Clients) -> Result<Option<Ses>, ConfigError> {
        if config.topic_arns.is_empty() {
            return Ok(None);
        }
        Ok(Some(Ses {
            sns: SnsEndpoint::new(
                config.topic_arns.clone(),
                config.trusted_cert_file.as_deref(),
                config.confirm_base_url.clone(),
                clients.http.clone(),
            )?,
            bucket: MailBucket::new(config, clients),
        }))
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
        self.sns.verify_cached(&req.body, now).map(drop)
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
            match self.sns.receive(&req.body, now, store).await? {
                SnsDelivery::Answered(reply) => Ok(Received::Answer(reply)),
                SnsDelivery::Notification(message) => {
                    Ok(Received::Messages(self.mail(&message, now).await?))
                }
            }
        })
    }
}
