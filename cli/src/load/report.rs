//! The figures of a load run, as text for a person and as JSON (`--json`) for a script.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use super::direct::DirectRun;
use super::driver::Sent;
use super::measure::Verdict;

/// p50, p90, p99 and max of some durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// How many.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (all zero when there are none).
    pub fn of(values: impl IntoIterator<Item = Duration>) -> Percentiles {
        let mut ms: Vec<f64> = values
            .into_iter()
            // To the tenth of a millisecond: finer is noise.
            .map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        Percentiles {
            count: ms.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// The settings the run used.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// `webhook`, `direct`, `both` or `fault`.
    pub mode: String,
    /// `debug` or `release`: the build of this `intake` (and of the stack it started).
    pub build: &'static str,
    /// Which stack took the load.
    pub stack: String,
    /// Deliveries per second; `None` for a burst (`--rate max`).
    pub rate: Option<f64>,
    /// Deliveries in all, repeats included.
    pub deliveries: usize,
    /// Distinct webhooks (customers, tickets).
    pub distinct: usize,
    /// Most requests in flight.
    pub concurrency: usize,
    /// The channels, in turn.
    pub channels: Vec<String>,
    /// Share of deliveries that repeat an earlier one.
    pub duplicates: f64,
    /// Retries of a delivery not answered 2xx.
    pub retries: u32,
    /// Longest wait for every ack to be decided, in seconds.
    pub drain_limit_s: f64,
    /// The schedule's seed (`--seed` repeats which deliveries repeat).
    pub seed: u64,
    /// Untimed webhooks sent (and acknowledged) before the timed run, left out of every
    /// figure (`--warmup`).
    pub warmup: usize,
}

/// The webhook run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookFigures {
    /// Deliveries per second the schedule offered (`None` for a burst).
    pub offered_per_s: Option<f64>,
    /// Deliveries answered 2xx per second, over the schedule's span or until the last 2xx,
    /// whichever is longer.
    pub achieved_per_s: f64,
    /// That span, in seconds.
    pub elapsed_s: f64,
    /// The scheduler's own worst lag behind the schedule, in milliseconds.
    pub scheduler_lag_ms: f64,
    /// Latency of every request, from when it was due (queueing for a free slot included).
    pub latency_ms: Percentiles,
    /// Latency of the requests answered 2xx.
    pub accepted_latency_ms: Percentiles,
    /// Requests by status (`none`: no answer).
    pub statuses: BTreeMap<String, usize>,
    /// Requests in all (retries included).
    pub requests: usize,
    /// Deliveries that needed more than one request.
    pub retried: usize,
}

impl WebhookFigures {
    /// From what the driver sent.
    pub fn of(sent: &Sent, rate: Option<f64>) -> WebhookFigures {
        let attempts = sent.deliveries.iter().flat_map(|d| d.attempts.iter());
        let mut statuses = BTreeMap::new();
        for a in attempts.clone() {
            let key = a.status.map_or("none".to_owned(), |s| s.to_string());
            *statuses.entry(key).or_default() += 1;
        }
        let accepted = sent.deliveries.iter().filter(|d| d.accepted()).count();
        // Paced, the schedule spans deliveries ÷ rate: a server that keeps up achieves the
        // offered rate, not more (the last delivery is due one interval before the end).
        let planned = rate.map_or(0.0, |r| sent.deliveries.len() as f64 / r);
        let elapsed = sent.elapsed.as_secs_f64().max(planned);
        WebhookFigures {
            offered_per_s: rate,
            achieved_per_s: if elapsed > 0.0 {
                accepted as f64 / elapsed
            } else {
                0.0
            },
            elapsed_s: elapsed,
            scheduler_lag_ms: sent.max_start_lag.as_secs_f64() * 1000.0,
            latency_ms: Percentiles::of(attempts.clone().map(|a| a.latency)),
            accepted_latency_ms: Percentiles::of(
                attempts
                    .clone()
                    .filter(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
                    .map(|a| a.latency),
            ),
            requests: attempts.count(),
            retried: sent
                .deliveries
                .iter()
                .filter(|d| d.attempts.len() > 1)
                .count(),
            statuses,
        }
    }
}

/// The direct run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct DirectFigures {
    /// Transactions sent.
    pub transactions: usize,
    /// Those DynamoDB committed.
    pub committed: usize,
    /// Committed per second.
    pub per_s: f64,
    /// From the first send to the last answer, in seconds.
    pub elapsed_s: f64,
    /// Latency of each transaction.
    pub latency_ms: Percentiles,
    /// The table they went to (the run's own, deleted after).
    pub table: String,
    /// Untimed transactions sent before them (JVM warm-up).
    pub warmup: usize,
}

impl DirectFigures {
    /// From a direct run.
    pub fn of(run: &DirectRun) -> DirectFigures {
        let elapsed = run.elapsed.as_secs_f64();
        DirectFigures {
            transactions: run.transactions,
            committed: run.committed,
            per_s: if elapsed > 0.0 {
                run.committed as f64 / elapsed
            } else {
                0.0
            },
            elapsed_s: elapsed,
            latency_ms: Percentiles::of(run.latencies.iter().copied()),
            table: run.table.clone(),
            warmup: run.warmup,
        }
    }
}

/// When DynamoDB Local was down in a fault run (seconds from the webhook run's start).
#[derive(Debug, Clone, Serialize)]
pub struct FaultFigures {
    /// Stopped at.
    pub stopped_at_s: f64,
    /// Accepting connections again at.
    pub restarted_at_s: f64,
}

/// Ticket-to-ack delays.
#[derive(Debug, Clone, Serialize)]
pub struct AckDelays {
    /// Every sent ack.
    pub all_ms: Percentiles,
    /// By channel.
    pub by_channel_ms: BTreeMap<String, Percentiles>,
    /// From the last webhook's 2xx to the last ack at a provider, in seconds: how long the
    /// backlog took to clear once the traffic stopped (0: it never built up).
    pub last_ack_after_last_webhook_s: Option<f64>,
}

impl AckDelays {
    /// From the verdict's delays, and what the driver sent.
    pub fn of(verdict: &Verdict, sent: &Sent) -> AckDelays {
        let mut by_channel: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
        for (channel, delay) in &verdict.delays {
            by_channel
                .entry(channel_name(*channel))
                .or_default()
                .push(*delay);
        }
        AckDelays {
            all_ms: Percentiles::of(verdict.delays.iter().map(|(_, d)| *d)),
            by_channel_ms: by_channel
                .into_iter()
                .map(|(c, d)| (c, Percentiles::of(d)))
                .collect(),
            last_ack_after_last_webhook_s: verdict.last_ack.and_then(|last| {
                let last_webhook = sent
                    .started_at
                    .checked_add(jiff::SignedDuration::try_from(sent.elapsed).ok()?)
                    .ok()?;
                // Zero when the acks kept up (an email ack's time, to the second, can even
                // read as before the last webhook).
                Some(last.duration_since(last_webhook).as_secs_f64().max(0.0))
            }),
        }
    }
}

fn channel_name(channel: super::workload::LoadChannel) -> String {
    serde_json::to_value(channel)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was asked.
    pub settings: Settings,
    /// The direct run (`direct`, `both`).
    pub direct: Option<DirectFigures>,
    /// The webhook run (`webhook`, `both`, `fault`).
    pub webhook: Option<WebhookFigures>,
    /// Webhook ÷ direct throughput (`both`).
    pub webhook_direct_ratio: Option<f64>,
    /// The outage (`fault`).
    pub fault: Option<FaultFigures>,
    /// Ticket-to-ack delays (webhook runs).
    pub ack_delay: Option<AckDelays>,
    /// How long the drain waited for acks to be decided, in seconds.
    pub drained_s: Option<f64>,
    /// The table's and the providers' verdict (webhook runs).
    pub verdict: Option<Verdict>,
}

impl Report {
    /// Whether the run found nothing wrong (a direct run checks nothing).
    pub fn clean(&self) -> bool {
        self.verdict.as_ref().is_none_or(Verdict::clean)
    }

    /// The report for a person.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let _ = writeln!(
            out,
            "intake load · mode {} · {} build · {}",
            s.mode, s.build, s.stack
        );
        let _ = writeln!(
            out,
            "  {} deliveries ({} distinct webhooks, {} repeats) at {}, {} in flight at most, channels {}, {} retries, seed {}",
            s.deliveries,
            s.distinct,
            s.deliveries - s.distinct,
            s.rate
                .map_or("full speed (burst)".to_owned(), |r| format!("{r}/s")),
            s.concurrency,
            s.channels.join(","),
            s.retries,
            s.seed,
        );
        if s.warmup > 0 {
            let _ = writeln!(
                out,
                "  after {} untimed webhooks to customers of their own, acknowledged before the timed run (--warmup; left out of every figure)",
                s.warmup
            );
        }
        if let Some(d) = &self.direct {
            let _ = writeln!(
                out,
                "\ndirect (TransactWriteItems to DynamoDB Local, table {}):",
                d.table
            );
            let _ = writeln!(
                out,
                "  {} of {} committed in {:.2} s: {:.1}/s (after {} untimed to warm the JVM up)",
                d.committed, d.transactions, d.elapsed_s, d.per_s, d.warmup
            );
            let _ = writeln!(out, "  latency ms   {}", line(&d.latency_ms));
        }
        if let Some(w) = &self.webhook {
            let _ = writeln!(out, "\nwebhooks:");
            let _ = writeln!(
                out,
                "  offered {}  achieved {:.1}/s (2xx deliveries over {:.2} s)  scheduler lag {:.0} ms",
                w.offered_per_s
                    .map_or("burst".to_owned(), |r| format!("{r:.1}/s")),
                w.achieved_per_s,
                w.elapsed_s,
                w.scheduler_lag_ms
            );
            let _ = writeln!(out, "  latency ms   {}", line(&w.latency_ms));
            let _ = writeln!(out, "  2xx only     {}", line(&w.accepted_latency_ms));
            let statuses: Vec<String> = w
                .statuses
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(
                out,
                "  {} requests ({}), {} deliveries retried",
                w.requests,
                statuses.join(", "),
                w.retried
            );
        }
        if let Some(r) = self.webhook_direct_ratio {
            let _ = writeln!(out, "\nwebhook ÷ direct throughput: {r:.2}");
            if self.settings.rate.is_some() {
                let _ = writeln!(
                    out,
                    "  (webhooks were paced: the ratio compares capacities only with --rate max)"
                );
            }
        }
        if let Some(f) = &self.fault {
            let _ = writeln!(
                out,
                "\nfault: DynamoDB Local stopped at {:.1} s, answering again at {:.1} s",
                f.stopped_at_s, f.restarted_at_s
            );
        }
        if let Some(a) = &self.ack_delay {
            let _ = writeln!(
                out,
                "\nticket-to-ack delay ms (ticket received → provider API or SES emulator):"
            );
            let _ = writeln!(out, "  all          {}", line(&a.all_ms));
            for (channel, p) in &a.by_channel_ms {
                let _ = writeln!(out, "  {channel:<12} {}", line(p));
            }
            if let Some(after) = a.last_ack_after_last_webhook_s {
                let _ = writeln!(
                    out,
                    "  the last ack came {after:.1} s after the last webhook's 2xx"
                );
            }
            if a.by_channel_ms.contains_key("email") {
                let _ = writeln!(out, "  (email: the SES emulator keeps whole seconds)");
            }
        }
        if let Some(v) = &self.verdict {
            let _ = writeln!(
                out,
                "\nverdict (from the table, the recorder and the SES emulator{}):",
                self.drained_s
                    .map(|d| format!(", after a {d:.1} s drain"))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "  webhooks {}  accepted {}  gave up {}  tickets {}",
                v.webhooks, v.accepted, v.gave_up, v.tickets
            );
            let _ = writeln!(
                out,
                "  acks sent {}  skipped {}  failed {}",
                v.acks_sent,
                summary(&v.acks_skipped),
                summary(&v.acks_failed)
            );
            let _ = writeln!(
                out,
                "  lost {}  duplicated {} (messages {}, tickets {}, acks {})  un-acked {} ({} sending)  sent but not received {}",
                v.lost,
                v.duplicated(),
                v.duplicated_messages,
                v.duplicated_tickets,
                v.duplicated_acks,
                v.unacked,
                v.unacked_sending,
                v.sent_not_received
            );
            if let Some(letters) = v.dead_letters.filter(|n| *n > 0) {
                let _ = writeln!(
                    out,
                    "  dead letters: {letters} batch(es) the stream poller gave up on"
                );
            }
            for example in &v.examples {
                let _ = writeln!(out, "    {example}");
            }
            let _ = writeln!(out, "  {}", if v.clean() { "OK" } else { "FAILED" });
        }
        out
    }
}

fn line(p: &Percentiles) -> String {
    format!(
        "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  (n={})",
        p.p50, p.p90, p.p99, p.max, p.count
    )
}

fn summary(counts: &BTreeMap<String, usize>) -> String {
    let total: usize = counts.values().sum();
    if counts.is_empty() {
        return "0".into();
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{total} ({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = Percentiles::of((1..=100).map(Duration::from_millis));
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        let one = Percentiles::of([Duration::from_millis(7)]);
        assert_eq!((one.p50, one.p99, one.count), (7.0, 7.0, 1));
        assert_eq!(Percentiles::of([]).count, 0);
    }
}
