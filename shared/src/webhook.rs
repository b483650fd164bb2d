//! The webhook pipeline every channel function runs: route, verify, parse, ingest, answer.

use bytes::Bytes;
use http::{HeaderMap, Method};
use jiff::Timestamp;
use std::time::Instant;
use url::Url;

use crate::error::WebhookError;
use crate::metrics::{self, WebhookMetric, WebhookOutcome};
use crate::model::Channel;
use crate::providers::{Provider, Received};
use crate::reply::Reply;
use crate::store::{IngestOutcome, Store};

/// An HTTP request as a provider sent it, independent of Lambda or hyper.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// HTTP method.
    pub method: Method,
    /// Request path as received (a stage prefix may precede `/{channel}/{provider}`).
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body bytes (already base64-decoded by the Lambda adapter).
    pub body: Bytes,
    /// The URL the provider called, rebuilt from `PUBLIC_BASE_URL`; set by the router.
    pub public_url: String,
}

impl WebhookRequest {
    /// A request with no public URL yet (the router fills it in).
    pub fn new(
        method: Method,
        path: impl Into<String>,
        query: Option<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> WebhookRequest {
        WebhookRequest {
            method,
            path: path.into(),
            query: query.filter(|q| !q.is_empty()),
            headers,
            body,
            public_url: String::new(),
        }
    }

    /// A header as text; `None` when absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Refuses a body that is not of the `expected` media type (415).
    pub fn require_media_type(&self, expected: &'static str) -> Result<(), WebhookError> {
        if self.media_type().as_deref() == Some(expected) {
            Ok(())
        } else {
            Err(WebhookError::UnsupportedMediaType { expected })
        }
    }

    /// The media type of the body, lower-cased and without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// One channel's webhook endpoint: its providers, the store, and the public URL.
pub struct WebhookService {
    channel: Channel,
    providers: Vec<Box<dyn Provider>>,
    store: Store,
    public_base_url: Url,
    metrics: metrics::Sink,
}

impl WebhookService {
    /// A service for `channel` with the given providers (all must be of that channel).
    pub fn new(
        channel: Channel,
        providers: Vec<Box<dyn Provider>>,
        store: Store,
        public_base_url: Url,
    ) -> WebhookService {
        debug_assert!(providers.iter().all(|p| p.channel() == channel));
        WebhookService {
            channel,
            providers,
            store,
            public_base_url,
            metrics: metrics::stdout(),
        }
    }

    /// The service of `channel` with every provider configured in `config`.
    pub fn from_config(
        channel: Channel,
        config: &crate::Config,
        store: Store,
        clients: &crate::providers::Clients,
    ) -> Result<WebhookService, crate::config::ConfigError> {
        let providers = crate::providers::inbound(channel, config, clients)?;
        WebhookService::with_providers(channel, providers, config, store)
    }

    /// The service of `channel` with `providers` (refused when there are none).
    pub fn with_providers(
        channel: Channel,
        providers: Vec<Box<dyn Provider>>,
        config: &crate::Config,
        store: Store,
    ) -> Result<WebhookService, crate::config::ConfigError> {
        let base = config
            .public_base_url
            .clone()
            .ok_or(crate::config::ConfigError::Missing("PUBLIC_BASE_URL"))?;
        if providers.is_empty() {
            return Err(crate::config::ConfigError::Invalid {
                name: "providers",
                reason: format!("no {channel} provider is configured (set its secrets)"),
            });
        }
        Ok(WebhookService::new(channel, providers, store, base))
    }

    /// The same service writing its metric lines to `sink` instead of stdout.
    pub fn with_metrics(mut self, sink: metrics::Sink) -> WebhookService {
        self.metrics = sink;
        self
    }

    /// The channel this service serves.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The route paths this service answers, e.g. `/sms/twilio`.
    pub fn routes(&self) -> Vec<String> {
        self.providers
            .iter()
            .map(|p| format!("/{}/{}", self.channel, p.name()))
            .collect()
    }

    /// Handles one request and always answers: errors become their status and JSON body.
    /// Whatever the outcome, writes exactly one metric line (see [`crate::metrics`]).
    pub async fn handle(&self, req: WebhookRequest) -> Reply {
        crate::aws_calls::within(
            crate::manifest::webhook_function(self.channel),
            self.handle_request(req),
        )
        .await
    }

    async fn handle_request(&self, req: WebhookRequest) -> Reply {
        let started = Instant::now();
        let route = req.path.clone();
        let routed = self.route(&req.path);
        let provider = routed.as_ref().map_or(metrics::UNKNOWN, |p| p.name());
        let result = match routed {
            Ok(p) => self.process(p, req, Timestamp::now()).await,
            Err(err) => Err(err),
        };
        let (reply, metric) = match result {
            Ok((reply, summary)) => {
                tracing::info!(
                    channel = %self.channel,
                    provider,
                    status = reply.status,
                    messages = summary.messages,
                    new_tickets = summary.new_tickets,
                    duplicates = summary.duplicates,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "webhook accepted"
                );
                let metric = self.metric(provider, &summary, started);
                (reply, metric)
            }
            Err(err) => {
                let reply = Reply::from_error(&err);
                if reply.status >= 500 {
                    tracing::error!(channel = %self.channel, route, code = err.code(), error = %err, "webhook failed");
                } else {
                    tracing::warn!(channel = %self.channel, route, code = err.code(), status = reply.status, "webhook refused");
                }
                let metric = WebhookMetric {
                    outcome: WebhookOutcome::of_error_status(reply.status),
                    code: Some(err.code()),
                    ..self.metric(provider, &Summary::default(), started)
                };
                (reply, metric)
            }
        };
        self.metrics.emit(&metric.line(Timestamp::now()));
        reply
    }

    /// The metric of a request answered 2xx with `summary`.
    fn metric(&self, provider: &'static str, summary: &Summary, started: Instant) -> WebhookMetric {
        WebhookMetric {
            channel: self.channel,
            provider,
            outcome: WebhookOutcome::of_accepted(
                summary.messages,
                summary.stored,
                summary.duplicates,
            ),
            code: None,
            messages: summary.messages,
            new_tickets: summary.new_tickets,
            latency: started.elapsed(),
        }
    }

    async fn process(
        &self,
        provider: &dyn Provider,
        mut req: WebhookRequest,
        now: Timestamp,
    ) -> Result<(Reply, Summary), WebhookError> {
        if req.body.len() > provider.max_body_bytes() {
            return Err(WebhookError::PayloadTooLarge {
                limit: provider.max_body_bytes(),
            });
        }
        req.public_url = self.public_url(provider, req.query.as_deref());
        if let Some(answer) = provider.handshake(&req) {
            return answer.map(|reply| (reply, Summary::default()));
        }
        if req.method != Method::POST {
            return Err(WebhookError::MethodNotAllowed);
        }
        let mut messages = match provider.receive(&req, now, &self.store).await? {
            Received::Messages(messages) => messages,
            Received::Answer(reply) => return Ok((reply, Summary::default())),
        };
        // Messages of one batch arrive in order: a microsecond apart, they keep it in the
        // ticket (message sort keys start with the receive time).
        for (i, message) in messages.iter_mut().enumerate() {
            message.received_at += jiff::SignedDuration::from_micros(i as i64);
        }
        let mut summary = Summary {
            messages: messages.len(),
            ..Summary::default()
        };
        for message in &messages {
            match self.store.ingest(message).await? {
                IngestOutcome::Duplicate => summary.duplicates += 1,
                IngestOutcome::Stored { new_ticket, .. } => {
                    summary.stored += 1;
                    summary.new_tickets += usize::from(new_ticket)
                }
                IngestOutcome::ContactUpdated => {}
            }
        }
        Ok((provider.accepted_for(&messages), summary))
    }

    /// Finds the provider from the last two path segments, so a stage prefix
    /// (`/prod/sms/twilio`) routes the same as `/sms/twilio`.
    fn route(&self, path: &str) -> Result<&dyn Provider, WebhookError> {
        let mut segments = path.trim_end_matches('/').rsplit('/');
        let (Some(name), Some(channel)) = (segments.next(), segments.next()) else {
            return Err(WebhookError::UnknownRoute);
        };
        if channel != self.channel.as_str() {
            return Err(WebhookError::UnknownRoute);
        }
        self.providers
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.as_ref())
            .ok_or(WebhookError::UnknownRoute)
    }

    fn public_url(&self, provider: &dyn Provider, query: Option<&str>) -> String {
        let mut url = format!(
            "{}/{}/{}",
            self.public_base_url.as_str().trim_end_matches('/'),
            self.channel,
            provider.name()
        );
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    }
}

#[derive(Debug, Default)]
struct Summary {
    messages: usize,
    /// Messages newly stored (STOP/START keywords update the contact only).
    stored: usize,
    new_tickets: usize,
    duplicates: usize,
}
