//! CloudWatch metrics in Embedded Metric Format (EMF): one JSON line per webhook and one per
//! ack decision, printed to stdout, where CloudWatch Logs extracts the metrics. No SDK and no
//! network call: the line is the metric.
//!
//! The lines carry only closed vocabularies (channel, provider, outcome, error or skip code)
//! and numbers: never a body, an address, a ticket id or a secret. The alarms and the
//! dashboard in `infra/` are written against the names here; DESIGN.md ("Metrics") lists
//! them.
//!
//! This module depends on nothing above [`crate::model`]: the webhook pipeline and the
//! acknowledger describe what happened, this module only writes it down.

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::Channel;

/// The CloudWatch namespace of every Intake metric.
pub const NAMESPACE: &str = "Intake";

/// What a dimension value becomes when the raw value is not a safe code.
pub const OTHER: &str = "other";

/// The provider dimension when no provider matched the route.
pub const UNKNOWN: &str = "unknown";

/// A CloudWatch unit (the two Intake uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count of events.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
}

impl Unit {
    /// The name CloudWatch expects in `MetricDefinition.Unit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// How one webhook request ended, as the `Outcome` dimension of `Webhooks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// At least one message was newly stored.
    Stored,
    /// Every message the request carried was already stored (a provider retry).
    Duplicate,
    /// Verified and answered 2xx with nothing newly stored and not every message a
    /// duplicate: receipts, handshakes, subscription confirmations, STOP/START updates.
    Accepted,
    /// Answered 4xx (route, method, size, media type, signature, credentials, body).
    Refused,
    /// Answered 5xx (the store or another dependency failed; the provider retries).
    Failed,
}

impl WebhookOutcome {
    /// The dimension value.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Stored => "stored",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Accepted => "accepted",
            WebhookOutcome::Refused => "refused",
            WebhookOutcome::Failed => "failed",
        }
    }

    /// The outcome of a request answered 2xx that carried `messages`, of which `stored`
    /// were newly stored and `duplicates` were already stored.
    pub fn of_accepted(messages: usize, stored: usize, duplicates: usize) -> WebhookOutcome {
        if stored > 0 {
            WebhookOutcome::Stored
        } else if messages > 0 && duplicates == messages {
            WebhookOutcome::Duplicate
        } else {
            WebhookOutcome::Accepted
        }
    }

    /// The outcome of a request answered with an error `status`.
    pub fn of_error_status(status: u16) -> WebhookOutcome {
        if status >= 500 {
            WebhookOutcome::Failed
        } else {
            WebhookOutcome::Refused
        }
    }
}

/// One webhook request, as the `Webhooks` line reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookMetric {
    /// The function's channel.
    pub channel: Channel,
    /// The provider's route segment, or [`UNKNOWN`].
    pub provider: &'static str,
    /// How it ended.
    pub outcome: WebhookOutcome,
    /// The `WebhookError::code()` of a refused or failed request.
    pub code: Option<&'static str>,
    /// Messages the verified request carried.
    pub messages: usize,
    /// Tickets it opened.
    pub new_tickets: usize,
    /// Time from receiving the request to answering it.
    pub latency: Duration,
}

impl WebhookMetric {
    /// The EMF line (no trailing newline) for metrics taken at `at`.
    pub fn line(&self, at: Timestamp) -> String {
        let mut doc = Document::new(at);
        doc.dimension("Channel", self.channel.as_str());
        doc.dimension("Provider", &code_or_other(self.provider));
        doc.dimension("Outcome", self.outcome.as_str());
        doc.dimension_set(&["Channel", "Provider", "Outcome"]);
        doc.dimension_set(&["Outcome"]);
        if let Some(code) = self.code {
            doc.dimension("Code", &code_or_other(code));
            doc.dimension_set(&["Outcome", "Code"]);
        }
        doc.metric("Webhooks", Unit::Count, json!(1));
        doc.metric("Messages", Unit::Count, json!(self.messages));
        doc.metric("NewTickets", Unit::Count, json!(self.new_tickets));
        doc.metric("WebhookLatency", Unit::Milliseconds, millis(self.latency));
        doc.render()
    }
}

/// What the acknowledger decided for one ticket record, as the `Outcome` dimension of `Acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMetricOutcome {
    /// The provider accepted the ack.
    Sent,
    /// Deliberately not sent (the reason says why).
    Skipped,
    /// The provider refused it for good (the reason is its error code).
    Failed,
    /// A temporary failure: the record goes back to the stream and is tried again.
    Retry,
    /// Another delivery of the record already acted, or the ticket is gone.
    AlreadyHandled,
    /// The ack was claimed, but what became of it could not be written within the
    /// acknowledger's write deadline (the reason says what: `sent`, `pending`, `failed`,
    /// `skipped`, `claim`): it stays `sending` until the stale-claim sweeper takes it.
    Unrecorded,
    /// Found `sending` past the acknowledger's timeout by the stale-claim sweeper
    /// (`ack::sweep`) and marked `failed (interrupted)`: the acknowledger died
    /// between its claim and its write-back; the customer may or may not have had the ack.
    Interrupted,
}

impl AckMetricOutcome {
    /// The dimension value.
    pub fn as_str(self) -> &'static str {
        match self {
            AckMetricOutcome::Sent => "sent",
            AckMetricOutcome::Skipped => "skipped",
            AckMetricOutcome::Failed => "failed",
            AckMetricOutcome::Retry => "retry",
            AckMetricOutcome::AlreadyHandled => "already_handled",
            AckMetricOutcome::Unrecorded => "unrecorded",
            AckMetricOutcome::Interrupted => "interrupted",
        }
    }
}

/// One ack decision, as the `Acks` line reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AckMetric {
    /// The ticket's channel, when the ticket could be read.
    pub channel: Option<Channel>,
    /// The sending provider, else the ticket's provider, else [`UNKNOWN`].
    pub provider: String,
    /// What was decided.
    pub outcome: AckMetricOutcome,
    /// A skip reason (`opted_out`), a provider's error code (`21211`), or why a retry is
    /// needed: a code, never text (anything else is written as [`OTHER`]).
    pub reason: Option<String>,
    /// From the customer's message to the provider accepting the ack (sent acks only).
    pub delay: Option<Duration>,
}

impl AckMetric {
    /// The EMF line (no trailing newline) for metrics taken at `at`.
    pub fn line(&self, at: Timestamp) -> String {
        let mut doc = Document::new(at);
        doc.dimension("Channel", self.channel.map_or(UNKNOWN, Channel::as_str));
        doc.dimension("Provider", &code_or_other(&self.provider));
        doc.dimension("Outcome", self.outcome.as_str());
        doc.dimension_set(&["Channel", "Outcome"]);
        doc.dimension_set(&["Outcome"]);
        if let Some(reason) = &self.reason {
            doc.dimension("Reason", &code_or_other(reason));
            doc.dimension_set(&["Outcome", "Reason"]);
        }
        doc.metric("Acks", Unit::Count, json!(1));
        if let (AckMetricOutcome::Sent, Some(delay)) = (self.outcome, self.delay) {
            doc.metric("AckDelay", Unit::Milliseconds, millis(delay));
        }
        doc.render()
    }
}

/// One verified delivery put in the archive (or an archive write that failed), as the
/// `ArchivedDeliveries` / `ArchiveWriteFailures` line reports it: an alarm fires on archived
/// failures, another on writes that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveMetric {
    /// The delivery's channel.
    pub channel: Channel,
    /// The provider of the route.
    pub provider: &'static str,
    /// The error code the delivery was answered with; `None` for a stored delivery kept by
    /// `ARCHIVE_ALL`.
    pub code: Option<&'static str>,
    /// Whether the archive write succeeded.
    pub written: bool,
}

impl ArchiveMetric {
    /// The EMF line (no trailing newline) for metrics taken at `at`.
    pub fn line(&self, at: Timestamp) -> String {
        let mut doc = Document::new(at);
        doc.dimension("Channel", self.channel.as_str());
        doc.dimension("Provider", self.provider);
        doc.dimension("Code", self.code.unwrap_or("stored"));
        // `Kept`: `failure` for a delivery that was not stored (what the alarm watches),
        // `audit` for a stored one kept by ARCHIVE_ALL.
        doc.dimension(
            "Kept",
            if self.code.is_some() {
                "failure"
            } else {
                "audit"
            },
        );
        doc.dimension_set(&["Channel", "Provider", "Code"]);
        doc.dimension_set(&["Code"]);
        doc.dimension_set(&["Kept"]);
        let name = if self.written {
            "ArchivedDeliveries"
        } else {
            "ArchiveWriteFailures"
        };
        doc.metric(name, Unit::Count, json!(1));
        doc.render()
    }
}

/// `raw` when it is a safe dimension value, else [`OTHER`]. Safe means a code: 1 to 64
/// ASCII letters, digits, `_`, `-` or `.` (CloudWatch wants ASCII without control
/// characters or blanks), and no run of 8 or more digits, the shortest phone numbers. So a
/// provider's code (`21211`, `MessageRejected`, `http_400`) passes and text, an address or
/// a number does not.
pub fn code_or_other(raw: &str) -> String {
    let shaped = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let longest_digits = raw
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if shaped && longest_digits < 8 {
        raw.to_owned()
    } else {
        OTHER.to_owned()
    }
}

/// Milliseconds with microsecond precision.
fn millis(d: Duration) -> Value {
    json!((d.as_micros() as f64) / 1000.0)
}

/// One EMF document: dimension values and metric values as top-level members, and one
/// metric directive naming them.
struct Document {
    at: Timestamp,
    members: Map<String, Value>,
    dimension_sets: Vec<Value>,
    metrics: Vec<Value>,
}

impl Document {
    fn new(at: Timestamp) -> Document {
        Document {
            at,
            members: Map::new(),
            dimension_sets: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// A dimension's value (EMF: a dimension target must be a string).
    fn dimension(&mut self, name: &str, value: &str) {
        self.members.insert(name.to_owned(), Value::from(value));
    }

    /// A dimension set; its names must have been given values.
    fn dimension_set(&mut self, names: &[&str]) {
        debug_assert!(names.iter().all(|n| self.members.contains_key(*n)));
        self.dimension_sets.push(json!(names));
    }

    /// A metric and its value (EMF: a metric target must be a number).
    fn metric(&mut self, name: &str, unit: Unit, value: Value) {
        debug_assert!(value.is_number());
        self.members.insert(name.to_owned(), value);
        self.metrics
            .push(json!({ "Name": name, "Unit": unit.as_str() }));
    }

    /// The document as one line of compact JSON (serde_json escapes every control
    /// character, so the line never breaks).
    fn render(mut self) -> String {
        self.members.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": self.at.as_millisecond(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": self.dimension_sets,
                    "Metrics": self.metrics,
                }],
            }),
        );
        Value::Object(self.members).to_string()
    }
}

/// Where EMF lines go: stdout in a function, a buffer in the local stack and the tests.
pub trait MetricsSink: Send + Sync {
    /// Writes one EMF line (without its newline).
    fn emit(&self, line: &str);
}

/// A shared sink, as the webhook service and the acknowledger hold it.
pub type Sink = Arc<dyn MetricsSink>;

/// The production sink: one line on stdout, where Lambda sends it to CloudWatch Logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutSink;

impl MetricsSink for StdoutSink {
    fn emit(&self, line: &str) {
        // One write of the whole line under stdout's lock: `tracing`'s JSON logs go through
        // the same lock, so the two never interleave within a line. A failed write must not
        // fail the request; the log line is all there was to lose.
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// The stdout sink, shared.
pub fn stdout() -> Sink {
    Arc::new(StdoutSink)
}

/// Keeps the latest lines in memory (the local stack and the tests read them). Clones share
/// one buffer.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl MemorySink {
    /// How many lines are kept; older ones are dropped, so a long `intake dev` session
    /// does not grow without bound.
    pub const CAPACITY: usize = 10_000;

    /// Every kept line, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.buffer().iter().cloned().collect()
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // A panic elsewhere while holding the lock leaves whole lines behind: keep them.
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl MetricsSink for MemorySink {
    fn emit(&self, line: &str) {
        let mut lines = self.buffer();
        if lines.len() == MemorySink::CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-11-22T08:00:00.123Z".parse().unwrap()
    }

    fn parse(line: &str) -> Value {
        assert!(!line.contains('\n'), "one line: {line}");
        serde_json::from_str(line).unwrap()
    }

    fn directive(v: &Value) -> &Value {
        let all = v["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(all.len(), 1);
        &all[0]
    }

    fn metric_names(v: &Value) -> Vec<(String, String)> {
        directive(v)["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap().to_owned(),
                    m["Unit"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn stored() -> WebhookMetric {
        WebhookMetric {
            channel: Channel::Sms,
            provider: "twilio",
            outcome: WebhookOutcome::Stored,
            code: None,
            messages: 2,
            new_tickets: 1,
            latency: Duration::from_micros(12_345),
        }
    }

    #[test]
    fn a_webhook_line_is_an_emf_document() {
        let v = parse(&stored().line(at()));
        assert_eq!(v["_aws"]["Timestamp"], json!(1_795_334_400_123i64));
        let d = directive(&v);
        assert_eq!(d["Namespace"], "Intake");
        assert_eq!(
            d["Dimensions"],
            json!([["Channel", "Provider", "Outcome"], ["Outcome"]])
        );
        assert_eq!(
            metric_names(&v),
            [
                ("Webhooks", "Count"),
                ("Messages", "Count"),
                ("NewTickets", "Count"),
                ("WebhookLatency", "Milliseconds")
            ]
            .map(|(n, u)| (n.to_owned(), u.to_owned()))
        );
        assert_eq!(v["Channel"], "sms");
        assert_eq!(v["Provider"], "twilio");
        assert_eq!(v["Outcome"], "stored");
        assert_eq!(v["Webhooks"], json!(1));
        assert_eq!(v["Messages"], json!(2));
        assert_eq!(v["NewTickets"], json!(1));
        assert_eq!(v["WebhookLatency"], json!(12.345));
        assert!(v.get("Code").is_none());
    }

    #[test]
    fn a_refusal_adds_its_code_and_the_outcome_code_set() {
        let refused = WebhookMetric {
            outcome: WebhookOutcome::Refused,
            code: Some("bad_signature"),
            messages: 0,
            new_tickets: 0,
            ..stored()
        };
        let v = parse(&refused.line(at()));
        assert_eq!(v["Code"], "bad_signature");
        assert_eq!(v["Outcome"], "refused");
        assert_eq!(
            directive(&v)["Dimensions"],
            json!([
                ["Channel", "Provider", "Outcome"],
                ["Outcome"],
                ["Outcome", "Code"]
            ])
        );
    }

    #[test]
    fn every_dimension_named_is_a_string_member_and_every_metric_a_number() {
        let lines = [
            stored().line(at()),
            AckMetric {
                channel: None,
                provider: UNKNOWN.into(),
                outcome: AckMetricOutcome::Retry,
                reason: Some("store_unavailable".into()),
                delay: None,
            }
            .line(at()),
        ];
        for line in lines {
            let v = parse(&line);
            let d = directive(&v);
            for set in d["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(set.len() <= 30);
                for name in set {
                    assert!(v[name.as_str().unwrap()].is_string(), "{name} in {line}");
                }
            }
            for m in d["Metrics"].as_array().unwrap() {
                assert!(v[m["Name"].as_str().unwrap()].is_number(), "{m} in {line}");
            }
        }
    }

    #[test]
    fn webhook_outcomes_follow_the_documented_rule() {
        use WebhookOutcome::*;
        assert_eq!(WebhookOutcome::of_accepted(3, 1, 2), Stored);
        assert_eq!(WebhookOutcome::of_accepted(2, 0, 2), Duplicate);
        // A STOP keyword updates the contact only; a receipt carries nothing.
        assert_eq!(WebhookOutcome::of_accepted(1, 0, 0), Accepted);
        assert_eq!(WebhookOutcome::of_accepted(0, 0, 0), Accepted);
        // A retried STOP beside a new STOP: not every message was already stored.
        assert_eq!(WebhookOutcome::of_accepted(2, 0, 1), Accepted);
        assert_eq!(WebhookOutcome::of_error_status(403), Refused);
        assert_eq!(WebhookOutcome::of_error_status(503), Failed);
    }

    #[test]
    fn a_sent_ack_carries_its_delay_and_nothing_else_does() {
        let sent = AckMetric {
            channel: Some(Channel::Email),
            provider: "ses".into(),
            outcome: AckMetricOutcome::Sent,
            reason: None,
            delay: Some(Duration::from_millis(1500)),
        };
        let v = parse(&sent.line(at()));
        assert_eq!(
            directive(&v)["Dimensions"],
            json!([["Channel", "Outcome"], ["Outcome"]])
        );
        assert_eq!(v["Channel"], "email");
        assert_eq!(v["Provider"], "ses");
        assert_eq!(v["Outcome"], "sent");
        assert_eq!(v["Acks"], json!(1));
        assert_eq!(v["AckDelay"], json!(1500.0));
        assert_eq!(
            metric_names(&v),
            [("Acks", "Count"), ("AckDelay", "Milliseconds")]
                .map(|(n, u)| (n.to_owned(), u.to_owned()))
        );

        let skipped = AckMetric {
            outcome: AckMetricOutcome::Skipped,
            reason: Some("quiet_period".into()),
            ..sent
        };
        let v = parse(&skipped.line(at()));
        assert!(v.get("AckDelay").is_none());
        assert_eq!(metric_names(&v).len(), 1);
        assert_eq!(v["Reason"], "quiet_period");
        assert_eq!(
            directive(&v)["Dimensions"],
            json!([["Channel", "Outcome"], ["Outcome"], ["Outcome", "Reason"]])
        );
    }

    #[test]
    fn reasons_are_codes_or_other() {
        for code in [
            "21211",
            "opted_out",
            "MessageRejected",
            "http_400",
            "131047",
        ] {
            assert_eq!(code_or_other(code), code);
        }
        for text in [
            "",
            "The 'To' number +6281234567890 is not valid",
            "budi@example.co.id",
            "6281234567890",
            "messenger:PSID1234",
            "line\nbreak",
            "x".repeat(65).as_str(),
            "sélection",
        ] {
            assert_eq!(code_or_other(text), OTHER, "{text:?}");
        }
        let failed = AckMetric {
            channel: Some(Channel::Sms),
            provider: "+6281234567890".into(),
            outcome: AckMetricOutcome::Failed,
            reason: Some("budi@example.co.id".into()),
            delay: None,
        };
        let line = failed.line(at());
        assert!(
            !line.contains("6281234567890") && !line.contains('@'),
            "{line}"
        );
    }

    /// Lambda sends stdout to CloudWatch Logs line by line: an EMF line cut by a log line
    /// (or the reverse) would lose both. This test runs itself again as a child process that
    /// writes JSON logs through `tracing` and EMF lines through [`StdoutSink`] from several
    /// threads at once, and reads the child's real stdout.
    #[test]
    fn emf_lines_and_json_logs_share_stdout_whole_lines() {
        const THREADS: usize = 4;
        const EACH: usize = 200;
        if std::env::var_os("INTAKE_EMF_CHILD").is_some() {
            crate::telemetry::init();
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    std::thread::spawn(move || {
                        for i in 0..EACH {
                            tracing::info!(thread = t, i, padding = "x".repeat(700), "log line");
                            StdoutSink.emit(&stored().line(at()));
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "metrics::tests::emf_lines_and_json_logs_share_stdout_whole_lines",
                "-q",
                "--test-threads=1",
            ])
            .env("INTAKE_EMF_CHILD", "1")
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let (mut emf, mut logs) = (0, 0);
        // The test harness's own lines ("running 1 test") carry no JSON.
        for line in text.lines().filter(|l| l.contains('{')) {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if v.get("_aws").is_some() {
                assert_eq!(v["Outcome"], "stored");
                emf += 1;
            } else {
                assert_eq!(v["fields"]["message"], "log line", "{line}");
                logs += 1;
            }
        }
        assert_eq!((emf, logs), (THREADS * EACH, THREADS * EACH));
    }

    #[test]
    fn the_memory_sink_keeps_the_latest_lines() {
        let sink = MemorySink::default();
        let shared: Sink = Arc::new(sink.clone());
        for i in 0..MemorySink::CAPACITY + 2 {
            shared.emit(&i.to_string());
        }
        let lines = sink.lines();
        assert_eq!(lines.len(), MemorySink::CAPACITY);
        assert_eq!(lines[0], "2");
        assert_eq!(
            lines.last().map(String::as_str),
            Some((MemorySink::CAPACITY + 1).to_string().as_str())
        );
    }
}
