//! Amazon SES, both ways.
//!
//! Inbound (`POST /email/ses`): a receipt rule publishes each mail to an SNS topic whose
//! HTTPS subscription calls us. Only configured topics are accepted; each delivery's SNS
//! signature is verified (certificate fetched from SNS once per process); subscription
//! confirmations are confirmed once; notifications carry the raw mail inline (SNS action)
//! or name the S3 object a receipt rule stored it in. A spam or virus `FAIL` verdict stores
//! the mail flagged, never answered.
//!
//! Outbound: acknowledgements through SES v2 `SendEmail`, threaded into the customer's
//! conversation and marked as automatic (RFC 3834), so neither their client nor their own
//! auto-responder mistakes it for a person.

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};

use base64::Engine;
use jiff::Timestamp;
use serde::Deserialize;

use super::mail::{self, Envelope};
use super::{Clients, OutboundMessage, Provider, Received, SendError, SendReceipt, Sender};
use crate::config::{ConfigError, SesConfig};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Channel, InboundMessage};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::sns::{
    CertSource, HttpsCertSource, SnsError, SnsMessage, SnsVerifier, StaticCertSource, is_sns_host,
};
use crate::store::{Claim, Store};

/// Route name of SES (inbound through SNS, outbound through SES v2).
pub const PROVIDER: &str = "ses";

/// The `Message` of an SES receipt notification (`notificationType: Received`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesNotification {
    /// `Received` for mail; bounce and complaint notifications carry nothing to store.
    pub notification_type: String,
    /// Envelope and headers SES read.
    #[serde(default)]
    pub mail: SesMail,
    /// What the receipt rule did and decided.
    #[serde(default)]
    pub receipt: SesReceipt,
    /// The raw mail, when the SNS action carried it (UTF-8 or Base64, per the action).
    #[serde(default)]
    pub content: Option<String>,
}

/// `mail` of a receipt notification.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SesMail {
    /// SES's id of the mail (also the S3 object key by default).
    pub message_id: String,
    /// SMTP `MAIL FROM`; empty for bounces.
    pub source: Option<String>,
}

/// `receipt` of a receipt notification.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SesReceipt {
    /// The recipients the rule matched: our inboxes.
    pub recipients: Vec<String>,
    /// Spam scan verdict.
    pub spam_verdict: Option<Verdict>,
    /// Virus scan verdict.
    pub virus_verdict: Option<Verdict>,
    /// The action that published this notification.
    pub action: SesAction,
}

/// A scan verdict.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Verdict {
    /// `PASS`, `FAIL`, `GRAY` or `PROCESSING_FAILED`.
    pub status: String,
}

/// The receipt rule action.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SesAction {
    /// `SNS` (content inline) or `S3` (content in a bucket).
    #[serde(rename = "type")]
    pub kind: String,
    /// `UTF8` or `BASE64` (SNS action).
    pub encoding: Option<String>,
    /// Bucket (S3 action).
    pub bucket_name: Option<String>,
    /// Object key (S3 action).
    pub object_key: Option<String>,
}

impl SesNotification {
    /// Reads the SNS `Message` of a receipt notification.
    pub fn parse(message: &str) -> Result<SesNotification, WebhookError> {
        serde_json::from_str(message).map_err(super::json::malformed)
    }

    /// The notification of a received mail; `None` for bounce, complaint and delivery
    /// notifications published to the same topic, which carry no mail.
    pub fn received(message: &str) -> Result<Option<SesNotification>, WebhookError> {
        let notification = SesNotification::parse(message)?;
        Ok((notification.notification_type == "Received").then_some(notification))
    }

    /// The verdict that flags the mail: a virus first, then spam.
    pub fn flagged(&self) -> Option<&'static str> {
        let failed = |v: &Option<Verdict>| v.as_ref().is_some_and(|v| v.status == "FAIL");
        if failed(&self.receipt.virus_verdict) {
            Some("virus")
        } else if failed(&self.receipt.spam_verdict) {
            Some("spam")
        } else {
            None
        }
    }

    /// The inline mail, decoded; `None` when the rule stored it in S3 instead.
    pub fn inline_content(&self) -> Result<Option<Vec<u8>>, WebhookError> {
        let Some(content) = &self.content else {
            return Ok(None);
        };
        match self.receipt.action.encoding.as_deref() {
            Some(e) if e.eq_ignore_ascii_case("base64") => {
                // SES sends one unbroken line; only folded content needs compacting first.
                let decoded = if content.bytes().any(|b| b.is_ascii_whitespace()) {
                    let compact: String = content.split_ascii_whitespace().collect();
                    base64::engine::general_purpose::STANDARD.decode(compact)
                } else {
                    base64::engine::general_purpose::STANDARD.decode(content)
                };
                decoded
                    .map(Some)
                    .map_err(|_| WebhookError::Malformed("content is not base64".into()))
            }
            _ => Ok(Some(content.as_bytes().to_vec())),
        }
    }

    /// Where the rule stored the mail, for an S3 action.
    pub fn s3_location(&self) -> Option<(&str, &str)> {
        let action = &self.receipt.action;
        Some((
            action.bucket_name.as_deref()?,
            action.object_key.as_deref()?,
        ))
    }
}

/// Reads mail a receipt rule stored in S3.
pub struct MailBucket {
    client: aws_sdk_s3::Client,
}

impl MailBucket {
    /// An S3 client from the shared configuration (path-style on a local endpoint).
    pub fn new(config: &SesConfig, clients: &Clients) -> MailBucket {
        let mut builder = aws_sdk_s3::config::Builder::from(&clients.aws);
        if let Some(endpoint) = &config.s3_endpoint {
            builder = builder
                .endpoint_url(endpoint.as_str().trim_end_matches('/'))
                .force_path_style(true);
        }
        if crate::aws_calls::enabled() {
            builder = builder.interceptor(crate::aws_calls::CallRecorder);
        }
        MailBucket {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
        }
    }

    /// The mail's bytes; a failure is temporary (SNS retries), a missing object is not.
    pub async fn fetch(&self, bucket: &str, key: &str) -> Result<Vec<u8>, WebhookError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => {
                    WebhookError::Malformed("the notified S3 object does not exist".into())
                }
                _ => WebhookError::Unavailable(format!(
                    "S3 GetObject failed: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )),
            })?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| WebhookError::Unavailable(format!("S3 read failed: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }
}

/// How long a confirmed subscription's message id is remembered.
const CONFIRMATION_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// SES inbound through SNS.
pub struct Ses {
    topics: Vec<String>,
    verifier: SnsVerifier,
    bucket: MailBucket,
    http: reqwest::Client,
    confirm_base_url: Option<url::Url>,
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
            http: clients.http.clone(),
            confirm_base_url: config.confirm_base_url.clone(),
        }))
    }

    fn accepted_topic(&self, message: &SnsMessage) -> Result<(), WebhookError> {
        if self.topics.contains(&message.topic_arn) {
            Ok(())
        } else {
            Err(WebhookError::Forbidden("SNS topic not configured"))
        }
    }

    /// Confirms a subscription by fetching its `SubscribeURL` (an SNS host only).
    async fn confirm(&self, message: &SnsMessage) -> Result<(), WebhookError> {
        let subscribe_url = message
            .subscribe_url
            .as_deref()
            .ok_or(WebhookError::MissingField("SubscribeURL"))?;
        let url = url::Url::parse(subscribe_url)
            .ok()
            .filter(|u| u.scheme() == "https")
            .filter(|u| matches!(u.host(), Some(url::Host::Domain(h)) if is_sns_host(h)))
            .ok_or(WebhookError::Forbidden("SubscribeURL is not an SNS URL"))?;
        let target = match &self.confirm_base_url {
            Some(base) => format!(
                "{}{}?{}",
                base.as_str().trim_end_matches('/'),
                url.path(),
                url.query().unwrap_or("")
            ),
            None => url.to_string(),
        };
        let response =
            self.http.get(target).send().await.map_err(|e| {
                WebhookError::Unavailable(format!("confirming: {}", e.without_url()))
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(WebhookError::Unavailable(format!(
                "confirming: SNS answered {}",
                response.status().as_u16()
            )))
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

/// A received mail as a message, with SES's envelope and verdicts.
pub fn inbound_mail(
    notification: &SesNotification,
    raw: &[u8],
    now: Timestamp,
) -> Result<InboundMessage, WebhookError> {
    let parsed = mail::parse(raw)?;
    let envelope = Envelope {
        provider_id: Some(notification.mail.message_id.as_str()).filter(|id| !id.is_empty()),
        recipient: notification.receipt.recipients.first().map(String::as_str),
        sender: notification.mail.source.as_deref(),
        flagged: notification.flagged(),
    };
    mail::inbound(PROVIDER, parsed, envelope, raw, now)
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
            match message.kind.as_str() {
                "SubscriptionConfirmation" => {
                    let scope = "sns-subscription";
                    let claim = store
                        .claim_once(
                            scope,
                            &message.message_id,
                            "confirm",
                            now,
                            CONFIRMATION_TTL_SECONDS,
                        )
                        .await?;
                    // A redelivered confirmation was confirmed the first time.
                    if claim == Claim::New {
                        if let Err(e) = self.confirm(&message).await {
                            store.release_once(scope, &message.message_id).await?;
                            return Err(e);
                        }
                        tracing::info!(topic = %message.topic_arn, "SNS subscription confirmed");
                    }
                    Ok(Received::Answer(Reply::json(
                        200,
                        serde_json::json!({"confirmed": true}).to_string(),
                    )))
                }
                "UnsubscribeConfirmation" => {
                    // Re-subscribing is a deployment's decision, not a webhook's.
                    tracing::warn!(topic = %message.topic_arn, "SNS subscription removed");
                    Ok(Received::Answer(Reply::json(
                        200,
                        serde_json::json!({"unsubscribed": true}).to_string(),
                    )))
                }
                _ => Ok(Received::Messages(self.mail(&message, now).await?)),
            }
        })
    }
}

/// Sends email acks with SES v2.
pub struct SesSender {
    client: aws_sdk_sesv2::Client,
    identities: Vec<String>,
    configuration_set: Option<String>,
}

impl SesSender {
    /// A sender when SES has identities to send from.
    pub fn new(config: &SesConfig, clients: &Clients) -> Option<SesSender> {
        if config.identities.is_empty() {
            return None;
        }
        let mut builder = aws_sdk_sesv2::config::Builder::from(&clients.aws);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint.as_str().trim_end_matches('/'));
        }
        if crate::aws_calls::enabled() {
            builder = builder.interceptor(crate::aws_calls::CallRecorder);
        }
        Some(SesSender {
            client: aws_sdk_sesv2::Client::from_conf(builder.build()),
            identities: config.identities.clone(),
            configuration_set: config.configuration_set.clone(),
        })
    }
}

impl Sender for SesSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn answers_channel(&self) -> Option<Channel> {
        Some(Channel::Email)
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let request = AckEmail::build(message)?;
            // IAM lets the acknowledger send as SES_IDENTITIES only: a From under none of them
            // would be refused by AWS. Said here, with a code the ticket and the metrics show.
            if !self
                .identities
                .iter()
                .any(|i| identity_covers(i, &request.from))
            {
                return Err(SendError::Permanent {
                    code: "sender_not_in_ses_identities".into(),
                    reason: "the brand's sending address is under none of SES_IDENTITIES".into(),
                });
            }
            let content = |text: &str| {
                Content::builder()
                    .data(text)
                    .charset("UTF-8")
                    .build()
                    .map_err(|e| SendError::Permanent {
                        code: "invalid_request".into(),
                        reason: e.to_string(),
                    })
            };
            let mut body = Body::builder().text(content(&message.body)?);
            if let Some(html) = &message.html {
                body = body.html(content(html)?);
            }
            let mut simple = Message::builder()
                .subject(content(&request.subject)?)
                .body(body.build());
            for (name, value) in &request.headers {
                simple = simple.headers(
                    MessageHeader::builder()
                        .name(*name)
                        .value(value)
                        .build()
                        .map_err(|e| SendError::Permanent {
                            code: "invalid_request".into(),
                            reason: e.to_string(),
                        })?,
                );
            }
            let result = self
                .client
                .send_email()
                .from_email_address(&request.from)
                .destination(Destination::builder().to_addresses(&request.to).build())
                .content(EmailContent::builder().simple(simple.build()).build())
                .set_configuration_set_name(self.configuration_set.clone())
                .send()
                .await;
            match result {
                Ok(out) => {
                    let id = out.message_id().map(str::to_owned);
                    Ok(SendReceipt {
                        // SES replaces any Message-ID we set with its own, built from this id.
                        thread_id: id.as_ref().map(|id| format!("{id}@email.amazonses.com")),
                        provider_message_id: id,
                    })
                }
                Err(err) => Err(classify(err)),
            }
        })
    }
}

/// Whether SES lets `identity` (a verified domain or address) send as `address`: the
/// address itself, an address of the domain, or of one of its subdomains.
pub fn identity_covers(identity: &str, address: &str) -> bool {
    let identity = identity.trim().to_ascii_lowercase();
    let address = address.trim().to_ascii_lowercase();
    if identity.contains('@') {
        return identity == address;
    }
    let Some((_, domain)) = address.rsplit_once('@') else {
        return false;
    };
    domain == identity
        || domain
            .strip_suffix(&identity)
            .is_some_and(|sub| sub.ends_with('.'))
}

/// The `(brand, address)` pairs acks would be sent from that no identity covers: SES (and the
/// acknowledger's IAM policy) would refuse them.
pub fn senders_outside<'a>(
    settings: &'a crate::ack::settings::AckSettings,
    identities: &[String],
) -> Vec<(&'a str, &'a str)> {
    settings
        .email_senders()
        .into_iter()
        .filter(|(_, address)| !identities.iter().any(|i| identity_covers(i, address)))
        .collect()
}

/// The parts of an ack email that come from the ticket rather than the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckEmail {
    /// `From`.
    pub from: String,
    /// The customer.
    pub to: String,
    /// `Re: <original subject> [#REF]`.
    pub subject: String,
    /// Threading and auto-reply headers.
    pub headers: Vec<(&'static str, String)>,
}

impl AckEmail {
    /// Addresses checked, every header value stripped of line breaks (a subject or
    /// Message-ID carrying CR/LF must not add headers of its own).
    pub fn build(message: &OutboundMessage) -> Result<AckEmail, SendError> {
        let from = address(&message.from)?;
        let to = address(&message.to)?;
        let original = one_line(message.subject.as_deref().unwrap_or(""));
        let reference = format!("[#{}]", message.ticket_reference);
        let mut subject = if original.is_empty() {
            String::new()
        } else if has_reply_prefix(&original) {
            original.clone()
        } else {
            format!("Re: {original}")
        };
        if !subject.contains(&reference) {
            if !subject.is_empty() {
                subject.push(' ');
            }
            subject.push_str(&reference);
        }
        let mut headers = vec![
            ("Auto-Submitted", "auto-replied".to_owned()),
            ("X-Auto-Response-Suppress", "All".to_owned()),
        ];
        let answered = message_id(&message.in_reply_to);
        if let Some(id) = &answered {
            headers.push(("In-Reply-To", id.clone()));
            let mut chain: Vec<String> = message
                .references
                .iter()
                .filter_map(|r| message_id(r))
                .filter(|r| r != id)
                .collect();
            // Long chains are trimmed from the oldest side but keep the thread's first id,
            // as RFC 5322 §3.6.4 suggests.
            if chain.len() > 10 {
                chain.drain(1..chain.len() - 9);
            }
            chain.push(id.clone());
            headers.push(("References", chain.join(" ")));
        }
        Ok(AckEmail {
            from,
            to,
            subject,
            headers,
        })
    }
}

/// A header value on one line: CR, LF and other control characters become spaces, runs of
/// spaces collapse.
pub fn one_line(value: &str) -> String {
    value
        .split(|c: char| c.is_control())
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_reply_prefix(subject: &str) -> bool {
    let lower = subject.to_lowercase();
    ["re:", "re :", "aw:", "sv:", "balas:"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// `<id>` for a Message-ID, or `None` when it cannot be one (spaces, controls, no `@`).
fn message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let valid = !id.is_empty()
        && id.len() <= 500
        && id.contains('@')
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    valid.then(|| format!("<{id}>"))
}

/// One bare address; anything that could smuggle a second recipient or header is refused.
fn address(value: &str) -> Result<String, SendError> {
    let value = value.trim();
    let valid = value.len() <= 320
        && value.split('@').count() == 2
        && !value.starts_with('@')
        && !value.ends_with('@')
        && value
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !",;<>\"()[]\\".contains(c));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(SendError::Permanent {
            code: "invalid_address".into(),
            reason: "not a single email address".into(),
        })
    }
}

/// Throttling and server errors come back through the stream; everything else SES says no
/// to (unverified identity, rejected message, paused account) is stored with its reason.
fn classify<R: std::fmt::Debug>(err: SdkError<SendEmailError, R>) -> SendError {
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let reason = e.message().unwrap_or_default().to_owned();
            match e {
                SendEmailError::TooManyRequestsException(_)
                | SendEmailError::LimitExceededException(_) => {
                    SendError::Retryable(format!("{code}: {reason}"))
                }
                _ if code.contains("Throttl") || code == "InternalFailure" => {
                    SendError::Retryable(format!("{code}: {reason}"))
                }
                _ => SendError::Permanent { code, reason },
            }
        }
        SdkError::ResponseError(r) if format!("{r:?}").contains("status: 5") => {
            SendError::Retryable("SES answered a server error".into())
        }
        _ => SendError::Retryable(format!(
            "SES unreachable: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(&err)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_outside_the_identities_are_named_by_brand() {
        let settings = crate::ack::AckSettings::from_toml(
            r#"
default_brand = "toko"
[[brand]]
id = "toko"
name = "Toko"
addresses = ["halo@tokoku.id", "+6221555000"]
time_zone = "Asia/Jakarta"
[[brand]]
id = "kopi"
name = "Kopi"
addresses = ["halo@kopi.id"]
support_address = "help@kopi.co.id"
time_zone = "Asia/Makassar"
"#,
        )
        .expect("settings");
        assert_eq!(
            senders_outside(&settings, &["tokoku.id".into()]),
            vec![("kopi", "help@kopi.co.id")]
        );
        assert!(senders_outside(&settings, &["tokoku.id".into(), "kopi.co.id".into()]).is_empty());
    }

    #[test]
    fn identities_cover_their_addresses_domains_and_subdomains() {
        assert!(identity_covers("tokoku.id", "halo@tokoku.id"));
        assert!(identity_covers("tokoku.id", "Halo@Mail.Tokoku.ID"));
        assert!(identity_covers("help@tokoku.id", "help@tokoku.id"));
        assert!(!identity_covers("help@tokoku.id", "sales@tokoku.id"));
        assert!(!identity_covers("tokoku.id", "halo@nottokoku.id"));
        assert!(!identity_covers("tokoku.id", "halo@tokoku.id.evil.com"));
        assert!(!identity_covers("tokoku.id", "tokoku.id"));
    }

    fn outbound(subject: Option<&str>) -> OutboundMessage {
        let now: jiff::Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
        OutboundMessage {
            to: "budi@example.co.id".into(),
            from: "halo@tokoku.id".into(),
            body: "Halo".into(),
            html: None,
            subject: subject.map(str::to_owned),
            in_reply_to: "CAF=abc@mail.gmail.com".into(),
            references: vec!["first@mail.gmail.com".into()],
            ticket_reference: "K7F3Q2".into(),
            reply_token: None,
            customer_wrote_at: now,
            now,
        }
    }

    #[test]
    fn subject_and_threading_headers() {
        let ack = AckEmail::build(&outbound(Some("Pesanan belum sampai"))).unwrap();
        assert_eq!(ack.subject, "Re: Pesanan belum sampai [#K7F3Q2]");
        assert_eq!(
            ack.headers,
            vec![
                ("Auto-Submitted", "auto-replied".to_owned()),
                ("X-Auto-Response-Suppress", "All".to_owned()),
                ("In-Reply-To", "<CAF=abc@mail.gmail.com>".to_owned()),
                (
                    "References",
                    "<first@mail.gmail.com> <CAF=abc@mail.gmail.com>".to_owned()
                ),
            ]
        );
        let again = AckEmail::build(&outbound(Some("RE: Pesanan [#K7F3Q2]"))).unwrap();
        assert_eq!(again.subject, "RE: Pesanan [#K7F3Q2]");
        assert_eq!(
            AckEmail::build(&outbound(None)).unwrap().subject,
            "[#K7F3Q2]"
        );
    }

    #[test]
    fn header_injection_is_stripped() {
        let mut message = outbound(Some("Hi\r\nBcc: victim@example.com"));
        message.in_reply_to = "x@y\r\nBcc: victim@example.com".into();
        let ack = AckEmail::build(&message).unwrap();
        assert_eq!(ack.subject, "Re: Hi Bcc: victim@example.com [#K7F3Q2]");
        assert!(!ack.subject.contains('\n') && !ack.subject.contains('\r'));
        // A Message-ID with a line break is no Message-ID: no threading headers at all.
        assert!(ack.headers.iter().all(|(n, _)| *n != "In-Reply-To"));
        for (_, value) in &ack.headers {
            assert!(!value.contains('\r') && !value.contains('\n'));
        }
        message.to = "budi@example.co.id\r\nBcc: victim@example.com".into();
        assert!(AckEmail::build(&message).is_err());
        message.to = "a@b.c, victim@example.com".into();
        assert!(AckEmail::build(&message).is_err());
    }

    #[test]
    fn long_reference_chains_keep_the_first_and_the_newest() {
        let mut message = outbound(Some("x"));
        message.references = (0..30).map(|i| format!("m{i}@example.com")).collect();
        let ack = AckEmail::build(&message).unwrap();
        let references = &ack.headers[3].1;
        let ids: Vec<&str> = references.split(' ').collect();
        assert_eq!(ids.len(), 11);
        assert_eq!(ids[0], "<m0@example.com>");
        assert_eq!(ids[9], "<m29@example.com>");
        assert_eq!(ids[10], "<CAF=abc@mail.gmail.com>");
    }
}
