//! The webhook pipeline every channel function runs: route, verify, parse, ingest, answer.

use http::Method;
use jiff::Timestamp;
use std::time::Instant;
use url::Url;

use crate::ack::settings::SmsSettings;
use crate::archive::{Archive, ArchivedDelivery};
use crate::error::WebhookError;
use crate::metrics::{self, WebhookMetric, WebhookOutcome};
use crate::model::Channel;
use crate::providers::{Provider, Received};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::store::{IngestOutcome, Store};

/// One channel's webhook endpoint: its providers, the store, and the public URL.
pub struct WebhookService {
    channel: Channel,
    providers: Vec<Box<dyn Provider>>,
    store: Store,
    public_base_url: Url,
    metrics: metrics::Sink,
    sms: SmsSettings,
    archive: Option<Archive>,
}

/// What a replayed delivery came to ([`WebhookService::replay`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// At least one of its messages was stored now.
    Stored,
    /// Every message was stored already (by the provider's retry, or an earlier replay),
    /// or it carried none.
    Duplicate,
    /// It still fails: the status and error code it is answered with today.
    Failing {
        /// The HTTP status.
        status: u16,
        /// The error code (`malformed_body`, `store_unavailable`, ...).
        code: &'static str,
    },
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
            sms: SmsSettings::default(),
            archive: None,
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

    /// The service of `channel` with `providers`. With none (a deployment that uses no
    /// provider of this channel) it still starts, warns once, and answers every route 404
    /// `unknown_route`: a scanner probing `/social/*` of a Twilio-only deployment is then
    /// refused like any unknown path, instead of failing a cold start (and firing the
    /// function's Errors alarm) on every request.
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
            tracing::warn!(
                channel = %channel,
                "no {channel} provider is configured (set its secrets): every /{channel}/* route answers 404"
            );
        }
        Ok(WebhookService {
            sms: config.ack.sms.clone(),
            ..WebhookService::new(channel, providers, store, base)
        })
    }

    /// The same service writing its metric lines to `sink` instead of stdout.
    pub fn with_metrics(mut self, sink: metrics::Sink) -> WebhookService {
        self.metrics = sink;
        self
    }

    /// The same service archiving verified deliveries it does not store in `archive`
    /// (see [`crate::archive`]).
    pub fn with_archive(mut self, archive: Archive) -> WebhookService {
        self.archive = Some(archive);
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
            self.handle_request(req, Timestamp::now(), true),
        )
        .await
        .0
    }

    /// Runs an archived request again as if it arrived at `received` (its signature is
    /// checked at that time, so windows such as Mailgun's 5 minutes still accept it), then
    /// parses and ingests it exactly as a live delivery. Never archived again.
    pub async fn replay(&self, req: WebhookRequest, received: Timestamp) -> Replayed {
        let (reply, outcome) = crate::aws_calls::within(
            crate::manifest::webhook_function(self.channel),
            self.handle_request(req, received, false),
        )
        .await;
        match outcome {
            Ok(summary) if summary.stored > 0 => Replayed::Stored,
            Ok(_) => Replayed::Duplicate,
            Err(code) => Replayed::Failing {
                status: reply.status,
                code,
            },
        }
    }

    async fn handle_request(
        &self,
        mut req: WebhookRequest,
        now: Timestamp,
        archive: bool,
    ) -> (Reply, Result<Summary, &'static str>) {
        let started = Instant::now();
        let route = req.path.clone();
        let routed = self.route(&req.path);
        let provider = routed.as_ref().map_or(metrics::UNKNOWN, |p| p.name());
        let routed_to = routed.as_ref().ok().copied();
        let result = match routed {
            Ok(p) => self.process(p, &mut req, now).await,
            Err(err) => Err(err),
        };
        if let (true, Some(p)) = (archive, routed_to) {
            let (status, code) = match &result {
                // A delivery that stored nothing new (a duplicate, a receipt, a handshake)
                // is not kept even with ARCHIVE_ALL.
                Ok((_, summary)) if summary.stored == 0 => (0, None),
                Ok((reply, _)) => (reply.status, None),
                Err(err) => (err.status(), Some(err.code())),
            };
            self.archive(p, &req, now, status, code).await;
        }
        let (reply, metric, outcome) = match result {
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
                (reply, metric, Ok(summary))
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
                (reply, metric, Err(err.code()))
            }
        };
        self.metrics.emit(&metric.line(Timestamp::now()));
        (reply, outcome)
    }

    /// Archives a verified delivery answered `status`: a parse failure (400) or a failure
    /// (5xx), or with `ARCHIVE_ALL` one that was stored. Verification is run again (it is
    /// pure), so a request that failed it is never archived, whatever else failed first. A
    /// failed write is logged and counted, and changes nothing in the answer.
    async fn archive(
        &self,
        provider: &dyn Provider,
        req: &WebhookRequest,
        received: Timestamp,
        status: u16,
        code: Option<&'static str>,
    ) {
        let Some(archive) = &self.archive else {
            return;
        };
        let kept = match code {
            Some(_) => status == 400 || status >= 500,
            None => archive.keeps_all() && (200..300).contains(&status),
        };
        if !kept || provider.verify(req, received).is_err() {
            return;
        }
        let delivery =
            ArchivedDelivery::of(req, received, self.channel, provider.name(), status, code);
        let written = match archive.put(&delivery).await {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(channel = %self.channel, provider = provider.name(), code, error = %err, "archive write failed");
                false
            }
        };
        let metric = metrics::ArchiveMetric {
            channel: self.channel,
            provider: provider.name(),
            code,
            written,
        };
        self.metrics.emit(&metric.line(Timestamp::now()));
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
        req: &mut WebhookRequest,
        now: Timestamp,
    ) -> Result<(Reply, Summary), WebhookError> {
        if req.body.len() > provider.max_body_bytes() {
            return Err(WebhookError::PayloadTooLarge {
                limit: provider.max_body_bytes(),
            });
        }
        req.public_url = self.public_url(provider, req.query.as_deref());
        if let Some(answer) = provider.handshake(req) {
            return answer.map(|reply| (reply, Summary::default()));
        }
        let delivery =
            req.method == Method::POST || (req.method == Method::GET && provider.delivers_by_get());
        if !delivery {
            return Err(WebhookError::MethodNotAllowed {
                allowed: crate::manifest::methods(self.channel, provider.name()),
            });
        }
        let mut messages = match provider.receive(req, now, &self.store).await? {
            Received::Messages(messages) => messages,
            Received::Answer(reply) => return Ok((reply, Summary::default())),
        };
        // Messages of one batch arrive in order: a microsecond apart, they keep it in the
        // ticket (message sort keys start with the receive time).
        for (i, message) in messages.iter_mut().enumerate() {
            message.received_at += jiff::SignedDuration::from_micros(i as i64);
            self.read_sms_sender(message);
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

    /// One customer per number, one set of keywords, whichever SMS provider carried the
    /// message: the sender's number in E.164 (so `0812…` through one provider and `62812…`
    /// through another are one contact, with one opt-out), and the configured STOP/START/HELP
    /// words, unless the provider already flagged a keyword itself.
    fn read_sms_sender(&self, message: &mut crate::model::InboundMessage) {
        if message.channel != Channel::Sms {
            return;
        }
        message.from.address =
            crate::phone::sms_address(&message.from.address, &self.sms.default_country_code);
        if message.keyword.is_none() {
            message.keyword = self.sms.keywords.classify(&message.body);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Clients;
    use bytes::Bytes;
    use http::HeaderMap;

    /// A Twilio-only deployment's configuration, as its functions read it.
    fn twilio_only() -> crate::Config {
        crate::Config::from_lookup(|name| {
            let value = match name {
                "TABLE_NAME" => "intake",
                "PUBLIC_BASE_URL" => "https://hooks.example.com/prod",
                "TWILIO_AUTH_TOKEN" => "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                "TWILIO_ACCOUNT_SID" => "AC00000000000000000000000000000000",
                _ => return None,
            };
            Some(value.to_owned())
        })
        .unwrap()
    }

    /// Built exactly as `serve_channel` builds it; the store is never reached here (an
    /// unknown route is refused before anything is read), so its endpoint does not matter.
    fn service(channel: Channel, config: &crate::Config) -> WebhookService {
        let clients = Clients::without_aws();
        let store = Store::from_sdk_config(&clients.aws, &config.table_name);
        WebhookService::from_config(channel, config, store, &clients)
            .expect("a channel without providers still starts")
    }

    fn request(method: Method, path: &str, query: Option<&str>, body: &str) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        WebhookRequest::new(
            method,
            path,
            query.map(str::to_owned),
            headers,
            Bytes::from(body.to_owned()),
        )
    }

    #[tokio::test]
    async fn a_channel_without_providers_starts_and_answers_404_everywhere() {
        let config = twilio_only();
        let social = service(Channel::Social, &config);
        assert!(social.routes().is_empty());
        let probes = [
            request(Method::POST, "/social/meta", None, r#"{"object":"page"}"#),
            request(
                Method::GET,
                "/social/meta",
                Some("hub.mode=subscribe&hub.verify_token=x&hub.challenge=1"),
                "",
            ),
            request(Method::POST, "/prod/social/telegram", None, "{}"),
            request(Method::POST, "/social/", None, ""),
            request(Method::POST, "/social", None, ""),
        ];
        for probe in probes {
            let path = probe.path.clone();
            let reply = social.handle(probe).await;
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.content_type, "application/json");
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["code"], "unknown_route", "{path}");
            assert_eq!(body["error"], "no provider is served at this path");
        }
        // The configured channel of the same deployment is served as before.
        assert_eq!(service(Channel::Sms, &config).routes(), ["/sms/twilio"]);
    }

    /// Refused before the store is read, so the unreachable store does not matter.
    #[tokio::test]
    async fn a_wrong_method_is_405_with_the_routes_methods() {
        let sms = service(Channel::Sms, &twilio_only());
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let reply = sms
                .handle(request(method.clone(), "/sms/twilio", None, ""))
                .await;
            assert_eq!(reply.status, 405, "{method}");
            assert_eq!(reply.header("allow"), Some("POST"), "{method}");
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["code"], "method_not_allowed");
        }
    }

    #[test]
    fn a_service_still_needs_its_public_url() {
        let mut config = twilio_only();
        config.public_base_url = None;
        let clients = Clients::without_aws();
        let store = Store::from_sdk_config(&clients.aws, "intake");
        assert!(matches!(
            WebhookService::from_config(Channel::Email, &config, store, &clients),
            Err(crate::config::ConfigError::Missing("PUBLIC_BASE_URL"))
        ));
    }
}
