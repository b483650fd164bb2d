//! `intake load`: drives the local stack with signed webhooks of every channel at a given
//! rate and concurrency, then holds what the table and the providers received against what
//! was sent (lost, duplicated, un-acked), with webhook latency and ticket-to-ack delay.
//! `--mode direct` sends the same transactions straight to DynamoDB Local, `both` measures
//! the webhook ÷ direct ratio in one run, and `fault` stops DynamoDB Local mid-run.
//!
//! The parts: `workload.rs` builds the webhooks and the schedule, `driver.rs` sends them,
//! `direct.rs` sends their transactions without HTTP, `measure.rs` reads the verdict from
//! the stack, `report.rs` shows it. This file starts (or finds) the stack and runs the
//! modes. Every loop is bounded by a count and a time, and traffic goes to 127.0.0.1 only.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use intake::store::Store;

use crate::DevResult;
use crate::dead_letters::DeadLetterQueue;
use crate::dynamo_local::DynamoLocal;
use crate::stack::{self, Stack, StackOptions};

pub mod direct;
pub mod driver;
pub mod measure;
pub mod report;
pub mod workload;

pub use report::Report;
pub use workload::LoadChannel;

/// What `intake load` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Signed webhooks over HTTP, then the verdict.
    Webhook,
    /// The same transactions straight to DynamoDB Local (no HTTP, no verdict).
    Direct,
    /// Direct, then webhooks, on the same stack: the webhook ÷ direct ratio.
    Both,
    /// Webhooks while DynamoDB Local is stopped and restarted; nothing may be lost.
    Fault,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Webhook => "webhook",
            Mode::Direct => "direct",
            Mode::Both => "both",
            Mode::Fault => "fault",
        }
    }
}

/// Upper bounds of the settings: the harness is for this machine's local stack.
const MAX_DURATION_S: f64 = 600.0;
const MAX_RATE: f64 = 5_000.0;
const MAX_DELIVERIES: usize = 100_000;
const MAX_CONCURRENCY: usize = 1_000;
const MAX_DRAIN_S: f64 = 600.0;
const MAX_RETRIES: u32 = 10;
const MAX_WARMUP: usize = 10_000;
/// Untimed webhooks before the timed ones, unless told otherwise (see [`LoadArgs::warmup`]).
pub const DEFAULT_WARMUP: usize = 200;
/// Longest wait for the warm-up's acks before the timed run starts anyway.
const WARMUP_DRAIN: Duration = Duration::from_secs(60);
/// Where the warm-up's webhooks are numbered from: customers of their own, never one of the
/// timed run's (which are numbered from 0, at most [`MAX_DELIVERIES`]).
const WARMUP_FIRST_INDEX: usize = 90_000_000;

/// The options of `intake load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Deliveries per second, paced whatever the answers (`20`, `20/s`), or `max`: each sent
    /// as soon as fewer than --concurrency are in flight (a burst; give --count).
    #[arg(long, default_value = "20", value_parser = parse_rate)]
    pub rate: Rate,
    /// Seconds of traffic (deliveries = rate × duration).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Deliveries in all, instead of rate × duration (needed with --rate max).
    #[arg(long)]
    pub count: Option<usize>,
    /// Most requests in flight (and the direct mode's parallel transactions).
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Channels, in turn: sms (Twilio), whatsapp (Meta), social (Messenger, Instagram,
    /// LINE), email (SES, Mailgun, SendGrid, Postmark).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sms,whatsapp,social,email"
    )]
    pub channels: Vec<LoadChannel>,
    /// Share of deliveries that repeat one sent within the last second (0 to 0.5).
    #[arg(long, default_value_t = 0.05)]
    pub duplicates: f64,
    /// Longest wait, after the traffic, for every ticket's ack to be decided (seconds).
    #[arg(long, default_value_t = 60.0)]
    pub drain: f64,
    /// What to measure.
    #[arg(long, value_enum, default_value = "webhook")]
    pub mode: Mode,
    /// A running `intake dev` to load (its webhook base URL, on 127.0.0.1) instead of a
    /// stack of the harness's own; the recorder, SES emulator and DynamoDB Local are found
    /// from the same settings as `intake dev` (.env). Not with --mode fault.
    #[arg(long)]
    pub url: Option<String>,
    /// Retries of a delivery not answered 2xx (after 0.5, 1, 2, 4, 8, 8, ... s).
    #[arg(long, default_value_t = 6)]
    pub retries: u32,
    /// Fault mode: seconds DynamoDB Local stays stopped before it is started again.
    #[arg(long, default_value_t = 3.0)]
    pub outage: f64,
    /// Fault mode: when to stop DynamoDB Local, in seconds from the start (default: a third
    /// of the duration).
    #[arg(long)]
    pub fault_at: Option<f64>,
    /// Seed of the schedule (which deliveries repeat); random by default.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Hold the acknowledger back while the webhooks are sent, and let it go once the last
    /// is answered: the webhook run then has DynamoDB Local to itself, as the direct run
    /// does (the like-for-like webhook ÷ direct ratio). Ack delays then include the hold.
    /// Only with a stack of its own.
    #[arg(long)]
    pub hold_acks: bool,
    /// The direct run also makes the webhook's one read before each transaction (the
    /// consistent read of the contact's open ticket): the same DynamoDB work as a webhook,
    /// so the ratio is the webhook layer's own cost.
    #[arg(long)]
    pub direct_reads: bool,
    /// Untimed webhooks sent first, as a burst, to customers of their own (left out of the
    /// report), their acks awaited before the timed run starts: DynamoDB Local's JVM runs
    /// its first few hundred requests several times slower until it has compiled them (acks
    /// were handed over in 0.4–0.9 s for the first five seconds of a cold run, 15 ms after),
    /// which a stack that has been running, or DynamoDB in the cloud, does not show. The
    /// direct run of `--mode both` warms its own DynamoDB Local with as many transactions.
    /// 0 measures the cold start too.
    #[arg(long, default_value_t = DEFAULT_WARMUP)]
    pub warmup: usize,
}

impl LoadArgs {
    /// The defaults of `intake load` (what `make load` runs, unless told otherwise).
    pub fn defaults() -> LoadArgs {
        LoadArgs {
            rate: Rate(Some(20.0)),
            duration: 10.0,
            count: None,
            concurrency: 50,
            channels: LoadChannel::ALL.to_vec(),
            duplicates: 0.05,
            drain: 60.0,
            mode: Mode::Webhook,
            url: None,
            retries: 6,
            outage: 3.0,
            fault_at: None,
            seed: None,
            json: false,
            hold_acks: false,
            direct_reads: false,
            warmup: DEFAULT_WARMUP,
        }
    }

    /// Deliveries in all.
    fn deliveries(&self) -> DevResult<usize> {
        let total = match (self.count, self.rate.0) {
            (Some(count), _) => count,
            (None, Some(rate)) => (rate * self.duration).round() as usize,
            (None, None) => return Err("--rate max needs --count".into()),
        };
        if total == 0 || total > MAX_DELIVERIES {
            return Err(format!("deliveries must be 1 to {MAX_DELIVERIES}, not {total}").into());
        }
        Ok(total)
    }

    fn check(&self) -> DevResult<()> {
        let in_range = |v: f64, lo: f64, hi: f64| v.is_finite() && v >= lo && v <= hi;
        if !in_range(self.duration, 0.1, MAX_DURATION_S) {
            return Err(format!("--duration is 0.1 to {MAX_DURATION_S} s").into());
        }
        if self.rate.0.is_some_and(|r| !in_range(r, 0.1, MAX_RATE)) {
            return Err(format!("--rate is 0.1 to {MAX_RATE} per second, or max").into());
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(format!("--concurrency is 1 to {MAX_CONCURRENCY}").into());
        }
        if !in_range(self.duplicates, 0.0, 0.5) {
            return Err("--duplicates is 0 to 0.5".into());
        }
        if !in_range(self.drain, 0.0, MAX_DRAIN_S) {
            return Err(format!("--drain is 0 to {MAX_DRAIN_S} s").into());
        }
        if self.warmup > MAX_WARMUP {
            return Err(format!("--warmup is at most {MAX_WARMUP}").into());
        }
        if self.retries > MAX_RETRIES {
            return Err(format!("--retries is at most {MAX_RETRIES}").into());
        }
        if !in_range(self.outage, 0.0, 120.0) {
            return Err("--outage is 0 to 120 s".into());
        }
        if self
            .fault_at
            .is_some_and(|at| !in_range(at, 0.0, self.duration))
        {
            return Err("--fault-at is within the run: 0 to --duration".into());
        }
        if self.hold_acks && self.url.is_some() {
            return Err(
                "--hold-acks holds the poller of a stack of its own: leave out --url".into(),
            );
        }
        if self.mode == Mode::Fault && self.url.is_some() {
            return Err(
                "--mode fault stops DynamoDB Local, so it runs on a stack of its own: leave out --url"
                    .into(),
            );
        }
        self.deliveries().map(|_| ())
    }
}

/// Deliveries per second, or `None` for a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub Option<f64>);

fn parse_rate(text: &str) -> Result<Rate, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(Rate(None));
    }
    text.trim_end_matches("/s")
        .parse::<f64>()
        .map(|r| Rate(Some(r)))
        .map_err(|_| format!("not a rate: {text} (20, 20/s or max)"))
}

/// Where the stack under load listens.
struct Endpoints {
    /// Where webhooks are posted.
    url: String,
    /// Its `PUBLIC_BASE_URL`, which the providers' signatures cover.
    public_url: String,
    recorder: String,
    ses: String,
    dynamodb: String,
    table: String,
}

/// The stack under load: the harness's own (stopped and its data removed at the end), or
/// a running `intake dev`.
enum Target {
    Own { stack: Box<Stack>, data: PathBuf },
    Running,
}

/// Runs the load `args` describe and reports.
pub async fn run(args: &LoadArgs) -> DevResult<Report> {
    args.check()?;
    // With --hold-acks: the poller reads nothing while the sender says true (set once the
    // warm-up's acks are out), until it says false (or is dropped).
    let hold = args
        .hold_acks
        .then(|| tokio::sync::watch::channel(args.warmup == 0));
    let (mut target, endpoints, config, dead_letters, secrets) = match &args.url {
        None => {
            let data = std::env::temp_dir().join(format!("intake-load-{}", ulid::Ulid::new()));
            let mut options = StackOptions::ephemeral(Some(data.join("dynamodb")))?;
            // The run's dead letters beside its table, removed with it.
            options.dead_letters = DeadLetterQueue::Dir(data.join("dead-letters"));
            if let Some((_, held)) = &hold {
                options.acks_held = Some(held.clone());
            }
            let stack = Stack::start(options).await?;
            let endpoints = Endpoints {
                url: stack.url(),
                public_url: stack.url(),
                recorder: stack.recorder.url(),
                ses: stack.ses.endpoint(),
                dynamodb: stack.dynamo.endpoint(),
                table: stack.store.table().to_owned(),
            };
            let (config, dead_letters) = (
                stack.options.config.clone(),
                stack.options.dead_letters.clone(),
            );
            (
                Target::Own {
                    stack: Box::new(stack),
                    data,
                },
                endpoints,
                config,
                dead_letters,
                workload::Secrets::of_test_stack()?,
            )
        }
        Some(url) => {
            let options = StackOptions::from_env()?;
            let endpoints = Endpoints {
                url: loopback(url, "--url")?,
                public_url: options.config.public_base_url.as_ref().map_or_else(
                    || url.clone(),
                    |u| u.as_str().trim_end_matches('/').to_owned(),
                ),
                recorder: format!("http://127.0.0.1:{}", options.recorder_port),
                ses: format!("http://127.0.0.1:{}", options.ses_port),
                dynamodb: format!("http://127.0.0.1:{}", options.dynamodb_port),
                table: options.config.table_name.clone(),
            };
            loopback(
                &crate::dotenv::var_or("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
                "AWS_ENDPOINT_URL_DYNAMODB",
            )?;
            let health = format!("{}/health", endpoints.url.trim_end_matches('/'));
            reqwest::get(&health)
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("no `intake dev` answers at {health}: {e}"))?;
            (
                Target::Running,
                endpoints,
                options.config,
                options.dead_letters,
                workload::Secrets::from_env()?,
            )
        }
    };
    let result = run_on(
        args,
        &mut target,
        &endpoints,
        &config,
        &dead_letters,
        secrets,
        hold.map(|(release, _)| release),
    )
    .await;
    if let Target::Own { mut stack, data } = target {
        stack.dynamo.stop().await;
        stack.ses.stop().await;
        drop(stack);
        let _ = std::fs::remove_dir_all(data);
    }
    result
}

/// `url` if it is an `http` URL on this machine.
fn loopback(url: &str, what: &str) -> DevResult<String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{what}: {e}"))?;
    if parsed.scheme() != "http" || !intake::config::is_loopback(&parsed) {
        return Err(format!(
            "{what} must be http on 127.0.0.1 (the load goes to this machine only): {url}"
        )
        .into());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

async fn run_on(
    args: &LoadArgs,
    target: &mut Target,
    endpoints: &Endpoints,
    config: &intake::Config,
    dead_letters: &DeadLetterQueue,
    secrets: workload::Secrets,
    acks_held: Option<tokio::sync::watch::Sender<bool>>,
) -> DevResult<Report> {
    // A short random seed, easy to copy into --seed.
    let seed = args
        .seed
        .unwrap_or_else(|| ulid::Ulid::new().random() as u64 % 1_000_000);
    let deliveries = args.deliveries()?;
    let window = args.rate.0.map_or(args.concurrency, |r| r.ceil() as usize);
    let slots = workload::schedule(deliveries, args.duplicates, window, seed);
    let distinct = slots
        .iter()
        .filter(|s| matches!(s, workload::Slot::New(_)))
        .count();
    // Customers are new on every run, whatever the seed: on a running `intake dev` a customer
    // of an earlier run would join their open ticket and meet the quiet period.
    let run = ulid::Ulid::new().random() as u64;
    let workload = workload::Workload::new(
        &endpoints.public_url,
        Some(&endpoints.url),
        secrets,
        &args.channels,
        run,
    )?;
    let sdk = stack::local_sdk_config(&endpoints.dynamodb).await;
    let store = Store::from_sdk_config(&sdk, &endpoints.table);
    // The direct run's table on a running stack's server, deleted at the end.
    let mut direct_table: Option<String> = None;
    let mut report = Report {
        settings: report::Settings {
            mode: args.mode.name().into(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            stack: format!("{}{}", match (&target, args.mode) {
                (Target::Running, _) => format!("the running intake dev at {}", endpoints.url),
                (Target::Own { .. }, Mode::Both) => "a stack of its own (ephemeral ports, DynamoDB Local on disk in a temporary directory); direct first, on a fresh DynamoDB Local of the same kind, then webhooks".into(),
                (Target::Own { .. }, _) => "a stack of its own (ephemeral ports, DynamoDB Local on disk in a temporary directory)".into(),
            }, [
                (args.hold_acks, "; the acknowledger held back until the last webhook was answered (ack delays include the hold)"),
                (args.direct_reads, "; the direct run reads each contact's open ticket before its transaction, as the webhook does"),
            ].iter().filter(|(on, _)| *on).map(|(_, text)| *text).collect::<String>()),
            rate: args.rate.0,
            deliveries,
            distinct,
            concurrency: args.concurrency,
            channels: args
                .channels
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_owned))
                .collect(),
            duplicates: args.duplicates,
            retries: args.retries,
            drain_limit_s: args.drain,
            seed,
            warmup: args.warmup,
        },
        direct: None,
        webhook: None,
        webhook_direct_ratio: None,
        fault: None,
        ack_delay: None,
        drained_s: None,
        verdict: None,
    };
    if matches!(args.mode, Mode::Direct | Mode::Both) {
        // With a stack of its own, the direct run has a DynamoDB Local of its own too (the
        // same kind: on disk, fresh), so each run starts on a fresh server. On the stack's
        // server, the webhook run that followed 2,400 direct transactions timed out: DynamoDB
        // Local spent both cores on the other table (measured; BENCHMARKS.md, "Load harness").
        let mut own = match &target {
            Target::Own { data, .. } => Some(
                DynamoLocal::start(crate::free_port()?, Some(&data.join("dynamodb-direct")))
                    .await?,
            ),
            Target::Running => None,
        };
        let (direct_sdk, direct_store) = match &own {
            Some(local) => {
                let sdk = stack::local_sdk_config(&local.endpoint()).await;
                let store = Store::from_sdk_config(&sdk, &endpoints.table);
                (sdk, store)
            }
            None => (sdk.clone(), store.clone()),
        };
        let plan = direct::Plan {
            count: distinct,
            concurrency: args.concurrency,
            warmup: args.warmup,
            with_reads: args.direct_reads,
        };
        let run = direct::run(&workload, &plan, config, &direct_sdk, &direct_store).await;
        match own.as_mut() {
            Some(local) => local.stop().await,
            // On a running stack's server: the table is deleted when the whole run is over.
            None => {
                if let Ok(run) = &run {
                    direct_table = Some(run.table.clone());
                }
            }
        }
        report.direct = Some(report::DirectFigures::of(&run?));
    }
    if args.mode == Mode::Direct {
        if let Some(table) = &direct_table {
            direct::delete_table(&store, table).await;
        }
        return Ok(report);
    }
    let pacing = driver::Pacing {
        rate: args.rate.0,
        concurrency: args.concurrency,
        retries: args.retries,
        timeout: Duration::from_secs(15),
    };
    warm_up(args, &workload, &pacing, &store, &endpoints.table).await?;
    if let Some(hold) = &acks_held {
        let _ = hold.send(true);
    }
    // Counted after the warm-up: only the timed run's dead letters are its own.
    let letters_before = dead_letters.receive_all().await.map_or(0, |l| l.len());
    let sent = match (args.mode, target) {
        (Mode::Fault, Target::Own { stack, .. }) => {
            let fault_at = args.fault_at.unwrap_or(args.duration / 3.0);
            let started = Instant::now();
            let (sent, outage) = tokio::join!(
                driver::drive(&workload, &slots, &pacing),
                outage(
                    &mut stack.dynamo,
                    Duration::from_secs_f64(fault_at.max(0.0)),
                    Duration::from_secs_f64(args.outage)
                )
            );
            let sent = sent?;
            let (stopped, restarted) = outage?;
            // Both measured from the same instant (the driver started a moment later).
            let offset = sent.started.saturating_duration_since(started);
            report.fault = Some(report::FaultFigures {
                stopped_at_s: stopped.saturating_sub(offset).as_secs_f64(),
                restarted_at_s: restarted.saturating_sub(offset).as_secs_f64(),
            });
            sent
        }
        _ => driver::drive(&workload, &slots, &pacing).await?,
    };
    if let Some(release) = acks_held {
        let _ = release.send(false);
    }
    let figures = report::WebhookFigures::of(&sent, args.rate.0);
    if let Some(direct) = &report.direct
        && direct.per_s > 0.0
    {
        report.webhook_direct_ratio = Some(figures.achieved_per_s / direct.per_s);
    }
    report.webhook = Some(figures);

    let mut accepted = vec![false; sent.webhooks.len()];
    for d in &sent.deliveries {
        if d.accepted() {
            accepted[d.webhook] = true;
        }
    }
    let contacts: HashSet<&str> = sent.webhooks.iter().map(|w| w.contact.as_str()).collect();
    let client = store.client();
    let limit = Duration::from_secs_f64(args.drain);
    let drained = await_acks(client, &endpoints.table, &contacts, limit).await?;
    // A late second ack would arrive within a few poller rounds: give it the chance to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let acks = measure::acks_seen(&endpoints.recorder, &endpoints.ses).await?;
    let stored = read_table_patiently(client, &endpoints.table, &contacts).await?;
    let mut verdict = measure::tally(&sent.webhooks, &accepted, &stored, &acks);
    verdict.dead_letters = dead_letters
        .receive_all()
        .await
        .ok()
        .map(|l| l.len().saturating_sub(letters_before));
    report.ack_delay = Some(report::AckDelays::of(&verdict, &sent));
    report.drained_s = Some(drained.as_secs_f64());
    report.verdict = Some(verdict);
    if let Some(table) = &direct_table {
        direct::delete_table(&store, table).await;
    }
    Ok(report)
}

/// Sends `args.warmup` untimed webhooks of customers of their own as a burst and waits (up
/// to [`WARMUP_DRAIN`]) until each of their tickets' acks is decided, so the timed run meets
/// a DynamoDB Local whose JVM has compiled the paths every request takes.
async fn warm_up(
    args: &LoadArgs,
    workload: &workload::Workload,
    pacing: &driver::Pacing,
    store: &Store,
    table: &str,
) -> DevResult<()> {
    if args.warmup == 0 {
        return Ok(());
    }
    let slots: Vec<workload::Slot> = (0..args.warmup)
        .map(|i| workload::Slot::New(WARMUP_FIRST_INDEX + i))
        .collect();
    let burst = driver::Pacing {
        rate: None,
        ..pacing.clone()
    };
    let sent = driver::drive(workload, &slots, &burst).await?;
    let contacts: HashSet<&str> = sent.webhooks.iter().map(|w| w.contact.as_str()).collect();
    await_acks(store.client(), table, &contacts, WARMUP_DRAIN).await?;
    Ok(())
}

/// Waits (up to `limit`) until the ack of every ticket of `contacts` is decided; returns how
/// long it waited.
async fn await_acks(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    contacts: &HashSet<&str>,
    limit: Duration,
) -> DevResult<Duration> {
    let stored = read_table_patiently(client, table, contacts).await?;
    Ok(measure::drain(client, table, &stored, limit).await)
}

/// Stops DynamoDB Local `after` from now, starts it again `down` later; returns when each
/// happened (the restart: when it accepts connections again).
async fn outage(
    dynamo: &mut DynamoLocal,
    after: Duration,
    down: Duration,
) -> DevResult<(Duration, Duration)> {
    let started = Instant::now();
    tokio::time::sleep(after).await;
    let stopped = started.elapsed();
    dynamo.stop().await;
    tokio::time::sleep(down).await;
    dynamo.restart().await?;
    Ok((stopped, started.elapsed()))
}

/// [`measure::read_table`], again a few times while DynamoDB Local is not answering (just
/// restarted).
async fn read_table_patiently(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    contacts: &HashSet<&str>,
) -> DevResult<measure::Stored> {
    let mut last = None;
    for _ in 0..10 {
        match measure::read_table(client, table, contacts).await {
            Ok(stored) => return Ok(stored),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(last.unwrap_or_else(|| "the table could not be read".into()))
}
