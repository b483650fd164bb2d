//! `intake replay list` and `intake replay run` against the local stack (`make dev` with
//! `ARCHIVE_BUCKET` and `ARCHIVE_ENDPOINT_URL`): see [`intake_dev::replay`].

use clap::Subcommand;
use intake::{Channel, WebhookService};
use intake_dev::DevResult;
use intake_dev::replay::{self, Filter};
use intake_dev::stack::StackOptions;
use intake_dev::table::{self, Column};
use intake_dev::ticket_filter::parse_since;
use jiff::{SignedDuration, Timestamp};
use std::io::Write;

/// `intake replay ...`.
#[derive(Subcommand)]
pub enum Replay {
    /// The archived deliveries: verified requests that were not stored (a parse failure, a
    /// store outage, an internal error), oldest first.
    List {
        /// Only those received within this long (`90s`, `30m`, `1h`, `2d`).
        #[arg(long, value_name = "DURATION", value_parser = parse_since)]
        since: Option<SignedDuration>,
        /// Only this provider's (`twilio`).
        #[arg(long)]
        provider: Option<String>,
        /// Only those answered with this error code (`malformed_body`, `store_unavailable`).
        #[arg(long)]
        error: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Runs archived deliveries again through the current code: verified with their
    /// original signature at the time they arrived, then parsed and stored as a live
    /// delivery. Says per delivery: stored, duplicate, or still failing (and why). Replaying
    /// twice is harmless (dedup). Exits non-zero while one still fails.
    Run {
        /// The archived delivery's id.
        #[arg(required_unless_present = "since", conflicts_with = "since")]
        id: Option<String>,
        /// Every delivery received within this long.
        #[arg(long, value_name = "DURATION", value_parser = parse_since)]
        since: Option<SignedDuration>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `command` against the local stack's archive and table.
pub async fn run(command: Replay) -> DevResult<()> {
    let options = StackOptions::from_env()?;
    let archive_options = options.archive.clone().ok_or(
        "the archive is off: set ARCHIVE_BUCKET and ARCHIVE_ENDPOINT_URL (a local S3 server), \
         as `make dev` was started with",
    )?;
    let sdk = intake::aws::load().await;
    let archive = archive_options.open(&sdk).await?;
    let since = |d: Option<SignedDuration>| d.map(|d| Timestamp::now() - d);
    match command {
        Replay::List {
            since: within,
            provider,
            error,
            json,
        } => {
            let filter = Filter {
                since: since(within),
                provider,
                error,
            };
            let deliveries = replay::list(&archive, &filter).await?;
            let mut out = std::io::stdout().lock();
            if json {
                for d in &deliveries {
                    let mut v = serde_json::to_value(d)?;
                    if let Some(o) = v.as_object_mut() {
                        o.remove("body");
                        o.remove("headers");
                    }
                    writeln!(out, "{v}")?;
                }
                return Ok(());
            }
            let columns = [
                Column::left("ID"),
                Column::left("RECEIVED"),
                Column::left("CHANNEL"),
                Column::left("PROVIDER"),
                Column::right("STATUS"),
                Column::left("ERROR"),
            ];
            let rows: Vec<Vec<String>> = deliveries
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.time.to_string(),
                        d.channel.to_string(),
                        d.provider.clone(),
                        d.status.to_string(),
                        d.code.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table::write(&mut out, &columns, &rows)?;
            Ok(())
        }
        Replay::Run {
            id,
            since: within,
            json,
        } => {
            let deliveries = match id {
                Some(id) => vec![archive.get(&id).await?],
                None => {
                    let filter = Filter {
                        since: since(within),
                        ..Filter::default()
                    };
                    replay::list(&archive, &filter).await?
                }
            };
            let store = intake::store::Store::from_sdk_config(&sdk, &options.config.table_name);
            let clients = intake::providers::Clients::new(&sdk)?;
            let services: Vec<WebhookService> = Channel::ALL
                .into_iter()
                .filter_map(|c| {
                    WebhookService::from_config(c, &options.config, store.clone(), &clients)
                        .ok()
                        .map(|s| s.with_metrics(std::sync::Arc::new(Unmeasured)))
                })
                .collect();
            let reports = replay::run(&services, &deliveries).await;
            let mut out = std::io::stdout().lock();
            for r in &reports {
                if json {
                    writeln!(out, "{}", r.json())?;
                } else {
                    match r.outcome {
                        intake::webhook::Replayed::Failing { status, code } => writeln!(
                            out,
                            "{} {}: still failing ({status} {code})",
                            r.id, r.provider
                        )?,
                        _ => writeln!(out, "{} {}: {}", r.id, r.provider, r.outcome_name())?,
                    }
                }
            }
            let failing = reports
                .iter()
                .filter(|r| r.outcome_name() == "failing")
                .count();
            if failing > 0 {
                return Err(format!("{failing} of {} still failing", reports.len()).into());
            }
            Ok(())
        }
    }
}

/// The replays' own metric lines are left out: stdout is the report (and `--json`'s).
struct Unmeasured;

impl intake::metrics::MetricsSink for Unmeasured {
    fn emit(&self, _line: &str) {}
}
