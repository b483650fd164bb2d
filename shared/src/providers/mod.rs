//! Messaging providers. One file per provider holds all of it: how to trust its webhooks,
//! how to read them, and how to send through its API (SES, which has more parts, is one
//! folder instead). Adding a provider is one new file plus one line in [`inbound`] and, if
//! it can send, one in [`senders`].

use jiff::Timestamp;
use std::sync::Arc;

pub use http_client::http_client;

use crate::config::Config;
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::model::{Channel, InboundMessage};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::store::Store;

mod aws_errors;
pub mod aws_sms;
mod http_client;
mod json;
pub mod line;
mod mail;
pub mod mailgun;
pub mod messagebird;
pub mod meta;
pub mod plivo;
pub mod postmark;
pub mod sendgrid;
pub mod ses;
pub mod sns_inbound;
pub mod telegram;
pub mod telnyx;
pub mod twilio;
pub mod vonage;

/// One messaging provider's inbound side: how to trust its webhooks and read them.
pub trait Provider: Send + Sync {
    /// Route segment: `twilio`, `ses`, `meta`, ...
    fn name(&self) -> &'static str;
    /// The channel its messages arrive on.
    fn channel(&self) -> Channel;
    /// The largest body this provider sends; larger bodies are refused with 413 unread.
    fn max_body_bytes(&self) -> usize {
        256 * 1024
    }
    /// Whether the provider may deliver messages by GET, the fields in the signed query string
    /// (Vonage's SMS API and legacy MessageBird can be set to): such a GET is verified and
    /// read like a POST. Every other provider's GET is a handshake or a 405. The route must
    /// declare GET in the manifest too.
    fn delivers_by_get(&self) -> bool {
        false
    }
    /// GET handshakes (Meta `hub.challenge`), SNS subscription confirmations.
    fn handshake(&self, _req: &WebhookRequest) -> Option<Result<Reply, WebhookError>> {
        None
    }
    /// Proves the request came from the provider, on the raw bytes, before anything is parsed.
    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError>;
    /// A verified request → every message it carries (batches hold many; receipts none).
    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError>;
    /// [`Provider::verify`] then [`Provider::parse`], with the same outcome. A provider
    /// that has to decode the body to check its signature (Twilio's form) overrides it to
    /// decode the body once for both.
    fn verify_and_parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        self.verify(req, now)?;
        self.parse(req, now)
    }
    /// Verifies and reads a POST ([`Provider::verify_and_parse`]). Providers that need the
    /// network or the store to trust a request override it: SNS fetches its signing
    /// certificate before verifying and confirms subscriptions; Mailgun refuses a signing
    /// token used for another mail.
    fn receive<'a>(
        &'a self,
        req: &'a WebhookRequest,
        now: Timestamp,
        _store: &'a Store,
    ) -> BoxFuture<'a, Result<Received, WebhookError>> {
        Box::pin(async move { Ok(Received::Messages(self.verify_and_parse(req, now)?)) })
    }
    /// What the provider expects back on success.
    fn accepted(&self) -> Reply {
        Reply::empty_ok()
    }
    /// What the provider expects back for these messages (Telegram can carry a reply
    /// method in the webhook's answer); [`Provider::accepted`] by default.
    fn accepted_for(&self, _messages: &[InboundMessage]) -> Reply {
        self.accepted()
    }
}

/// What a verified POST turned out to be.
#[derive(Debug)]
pub enum Received {
    /// Messages to store (possibly none: receipts, echoes).
    Messages(Vec<InboundMessage>),
    /// Not a message; answer this and store nothing (an SNS subscription confirmation).
    Answer(Reply),
}

/// An acknowledgement ready to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The customer's address.
    pub to: String,
    /// Our address the customer wrote to.
    pub from: String,
    /// Rendered text.
    pub body: String,
    /// Rendered HTML (email).
    pub html: Option<String>,
    /// Subject (email).
    pub subject: Option<String>,
    /// The id of the message we answer, for threaded replies: the provider's id, or for
    /// email its `Message-ID`.
    pub in_reply_to: String,
    /// Email `References` of the message we answer, oldest first (empty elsewhere).
    pub references: Vec<String>,
    /// The ticket's short reference (templates that carry it as a parameter).
    pub ticket_reference: String,
    /// The platform's reply token for that message, if it gave one.
    pub reply_token: Option<String>,
    /// When the customer's message arrived (platforms limit how late a free reply may be).
    pub customer_wrote_at: Timestamp,
    /// Now, as the acknowledger sees it.
    pub now: Timestamp,
}

/// What the provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The provider's id of the message we sent.
    pub provider_message_id: Option<String>,
    /// The email `Message-ID` the customer's reply will reference (email only).
    pub thread_id: Option<String>,
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: timeouts, 5xx, 429.
    #[error("temporary failure: {0}")]
    Retryable(String),
    /// The platform's rules forbid this message now (e.g. outside Meta's 24-hour window
    /// with no approved template): recorded as skipped with the reason.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// Will never work as it is: 4xx such as an invalid or unsubscribed number.
    #[error("rejected ({code}): {reason}")]
    Permanent {
        /// The provider's error code (or the HTTP status).
        code: String,
        /// The provider's explanation.
        reason: String,
    },
}

/// One provider's outbound API.
pub trait Sender: Send + Sync {
    /// The provider name, as stored on tickets.
    fn provider(&self) -> &'static str;
    /// A channel this sender answers for every provider of it (SES sends every email ack,
    /// whichever provider received the mail); `None` when it answers its own provider only.
    fn answers_channel(&self) -> Option<Channel> {
        None
    }
    /// Sends one message.
    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>>;
    /// Whether an ack whose attempt died between its claim and the provider's answer may be
    /// sent again without any risk of a second message to the customer: only where the
    /// provider itself refuses a repeat of a request it accepted (LINE's push with
    /// `X-Line-Retry-Key`). `age_at_claim`: how long after the customer wrote the attempt was
    /// claimed (what chose its API); `since_claim`: how long ago that was. No by default.
    fn resend_is_safe(
        &self,
        _age_at_claim: jiff::SignedDuration,
        _since_claim: jiff::SignedDuration,
    ) -> bool {
        false
    }
}

/// The clients providers talk through, built once per cold start.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Provider REST APIs (rustls).
    pub http: reqwest::Client,
    /// The AWS SDK configuration (SES v2, S3).
    pub aws: aws_config::SdkConfig,
}

impl Clients {
    /// The HTTP client of [`http_client`] beside `aws`.
    pub fn new(aws: &aws_config::SdkConfig) -> Result<Clients, reqwest::Error> {
        Ok(Clients {
            http: http_client()?,
            aws: aws.clone(),
        })
    }

    /// Clients for code that never calls AWS (configuration checks, unit tests).
    pub fn without_aws() -> Clients {
        Clients {
            http: reqwest::Client::new(),
            aws: aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
        }
    }
}

/// Builds the configured providers of one channel, once per cold start.
pub type ProviderSet =
    fn(&Config, &Clients) -> Result<Vec<Box<dyn Provider>>, crate::config::ConfigError>;

/// The configured providers of `channel`.
pub fn inbound(
    channel: Channel,
    config: &Config,
    clients: &Clients,
) -> Result<Vec<Box<dyn Provider>>, crate::config::ConfigError> {
    let set: ProviderSet = match channel {
        Channel::Sms => sms,
        Channel::Email => email,
        Channel::Social => social,
    };
    set(config, clients)
}

/// The SMS providers. Each channel's function links only its own set, so the SMS and social
/// binaries carry no mail parser, SNS verifier or S3 client.
pub fn sms(
    config: &Config,
    clients: &Clients,
) -> Result<Vec<Box<dyn Provider>>, crate::config::ConfigError> {
    let mut all: Vec<Box<dyn Provider>> = Vec::new();
    if let Some(c) = &config.aws_sms
        && let Some(p) = aws_sms::AwsSms::new(c, clients)?
    {
        all.push(Box::new(p));
    }
    if let Some(c) = &config.twilio {
        all.push(Box::new(twilio::Twilio::new(c)?));
    }
    if let Some(c) = &config.plivo {
        all.push(Box::new(plivo::Plivo::new(c)?));
    }
    if let Some(c) = &config.messagebird
        && let Some(p) = messagebird::MessageBird::new(c)?
    {
        all.push(Box::new(p));
    }
    if let Some(c) = &config.telnyx
        && let Some(p) = telnyx::Telnyx::new(c)?
    {
        all.push(Box::new(p));
    }
    // Vonage
    if let Some(c) = &config.vonage
        && let Some(p) = vonage::Vonage::new(c)?
    {
        all.push(Box::new(p));
    }
    Ok(all)
}

/// The email providers.
pub fn email(
    config: &Config,
    clients: &Clients,
) -> Result<Vec<Box<dyn Provider>>, crate::config::ConfigError> {
    let mut all: Vec<Box<dyn Provider>> = Vec::new();
    if let Some(c) = &config.ses
        && let Some(p) = ses::Ses::new(c, clients)?
    {
        all.push(Box::new(p));
    }
    if let Some(key) = &config.mailgun_signing_key {
        all.push(Box::new(mailgun::Mailgun::new(key)?));
    }
    if let Some(c) = &config.sendgrid {
        all.push(Box::new(sendgrid::SendGrid::new(c)?));
    }
    if let Some(c) = &config.postmark {
        all.push(Box::new(postmark::Postmark::new(c)?));
    }
    Ok(all)
}

/// The social providers.
pub fn social(
    config: &Config,
    _clients: &Clients,
) -> Result<Vec<Box<dyn Provider>>, crate::config::ConfigError> {
    let mut all: Vec<Box<dyn Provider>> = Vec::new();
    if let Some(c) = &config.meta
        && let Some(p) = meta::Meta::new(c)?
    {
        all.push(Box::new(p));
    }
    if let Some(c) = &config.telegram
        && let Some(p) = telegram::Telegram::new(c, &config.ack)?
    {
        all.push(Box::new(p));
    }
    if let Some(c) = &config.line
        && let Some(p) = line::Line::new(c)?
    {
        all.push(Box::new(p));
    }
    Ok(all)
}

/// Every configured outbound API, built once per cold start. A sender whose constructor
/// refuses its configuration (a blank token, which [`Config`] already refuses when it reads
/// it) is left out and logged: its provider's acks are then skipped as
/// `no_sender_configured`, visibly, instead of being sent with an empty credential.
pub fn senders(config: &Config, clients: &Clients) -> Vec<Arc<dyn Sender>> {
    let http = &clients.http;
    let mut all: Vec<Arc<dyn Sender>> = Vec::new();
    type Built = Result<Option<Arc<dyn Sender>>, crate::config::ConfigError>;
    let mut add = |provider: &'static str, built: Built| match built {
        Ok(Some(sender)) => all.push(sender),
        Ok(None) => {}
        Err(e) => tracing::error!(provider, error = %e, "sender not built: configuration refused"),
    };
    if let Some(c) = &config.twilio {
        add(
            "twilio",
            twilio::TwilioSender::new(c, http.clone()).map(|s| Some(Arc::new(s) as _)),
        );
    }
    if let Some(c) = &config.plivo {
        add(
            "plivo",
            plivo::PlivoSender::new(c, http.clone()).map(|s| Some(Arc::new(s) as _)),
        );
    }
    if let Some(c) = &config.messagebird {
        add(
            "messagebird",
            messagebird::MessageBirdSender::new(c, http.clone())
                .map(|s| s.map(|s| Arc::new(s) as _)),
        );
    }
    if let Some(c) = &config.telnyx {
        add(
            "telnyx",
            telnyx::TelnyxSender::new(c, http.clone()).map(|s| s.map(|s| Arc::new(s) as _)),
        );
    }
    // Vonage
    if let Some(c) = &config.vonage {
        add(
            "vonage",
            vonage::VonageSender::new(c, http.clone()).map(|s| s.map(|s| Arc::new(s) as _)),
        );
    }
    if let Some(c) = &config.meta {
        add(
            "meta",
            meta::MetaSender::new(c, http.clone()).map(|s| s.map(|s| Arc::new(s) as _)),
        );
    }
    if let Some(c) = &config.telegram {
        add(
            "telegram",
            telegram::TelegramSender::new(c, http.clone()).map(|s| Some(Arc::new(s) as _)),
        );
    }
    if let Some(c) = &config.line {
        add(
            "line",
            line::LineSender::new(c, http.clone()).map(|s| s.map(|s| Arc::new(s) as _)),
        );
    }
    if let Some(s) = config
        .ses
        .as_ref()
        .and_then(|c| ses::SesSender::new(c, clients))
    {
        all.push(Arc::new(s));
    }
    if let Some(s) = config
        .aws_sms
        .as_ref()
        .and_then(|c| aws_sms::AwsSmsSender::new(c, clients))
    {
        all.push(Arc::new(s));
    }
    all
}

/// Classifies an HTTP status from a provider API.
pub fn classify_status(status: u16, code: Option<String>, reason: String) -> SendError {
    if status == 429 || status >= 500 || status == 408 {
        SendError::Retryable(format!("HTTP {status}: {reason}"))
    } else {
        SendError::Permanent {
            code: code.unwrap_or_else(|| format!("http_{status}")),
            reason,
        }
    }
}
