//! `intake replay list` and `intake replay run`, against the local stack (`make dev` with
//! `ARCHIVE_BUCKET` and `ARCHIVE_ENDPOINT_URL`: see [`intake_dev::replay`]) or a deployed one
//! (`--stack NAME`: see [`intake_dev::replay_cloud`]).

use clap::Subcommand;
use intake::archive::{Archive, ArchivedDelivery};
use intake::replay::{ReplayOutcome, ReplayReport};
use intake::{Channel, WebhookService};
use intake_dev::DevResult;
use intake_dev::replay::{self, Filter};
use intake_dev::replay_cloud::Deployment;
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
        /// A deployed stack's archive (its ArchiveBucketName output), read with the AWS
        /// environment's region and credentials, instead of the local stack's.
        #[arg(long)]
        stack: Option<String>,
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
        /// A deployed stack: each delivery is replayed by invoking the stack's webhook
        /// function of its channel (its <Channel>WebhookFunctionName output), so the deployed
        /// code runs it with the deployed permissions.
        #[arg(long)]
        stack: Option<String>,
    },
}

/// Where the archive is, and what replays it.
enum Source {
    /// The local stack: replayed in this process.
    Local {
        archive: Archive,
        services: Vec<WebhookService>,
    },
    /// A deployed stack: replayed by its functions.
    Cloud(Deployment),
}

impl Source {
    async fn of(stack: Option<&str>) -> DevResult<Source> {
        if let Some(stack) = stack {
            let sdk = intake_dev::target::operator_sdk(std::time::Duration::from_secs(120)).await;
            intake_dev::target::ready(&sdk).await?;
            return Ok(Source::Cloud(Deployment::of_stack(&sdk, stack).await?));
        }
        let options = StackOptions::from_env()?;
        let archive_options = options.archive.clone().ok_or(
            "the archive is off: set ARCHIVE_BUCKET and ARCHIVE_ENDPOINT_URL (a local S3 \
             server), as `make dev` was started with, or give --stack for a deployed stack",
        )?;
        let sdk = intake::aws::load().await;
        let archive = archive_options.open(&sdk).await?;
        let store = intake::store::Store::from_sdk_config(&sdk, &options.config.table_name);
        let clients = intake::providers::Clients::new(&sdk)?;
        let services = Channel::ALL
            .into_iter()
            .filter_map(|c| {
                WebhookService::from_config(c, &options.config, store.clone(), &clients)
                    .ok()
                    .map(|s| s.with_metrics(std::sync::Arc::new(Unmeasured)))
            })
            .collect();
        Ok(Source::Local { archive, services })
    }

    fn archive(&self) -> &Archive {
        match self {
            Source::Local { archive, .. } => archive,
            Source::Cloud(deployment) => &deployment.archive,
        }
    }

    async fn replay(&self, deliveries: &[ArchivedDelivery]) -> Vec<ReplayReport> {
        match self {
            Source::Local { services, .. } => replay::run(services, deliveries).await,
            Source::Cloud(deployment) => {
                let mut reports = Vec::with_capacity(deliveries.len());
                for d in deliveries {
                    reports.push(deployment.replay(d).await);
                }
                reports
            }
        }
    }
}

/// Runs `command` against the local stack's archive and table, or a deployed stack's.
pub async fn run(command: Replay) -> DevResult<()> {
    let since = |d: Option<SignedDuration>| d.map(|d| Timestamp::now() - d);
    match command {
        Replay::List {
            since: within,
            provider,
            error,
            json,
            stack,
        } => {
            let source = Source::of(stack.as_deref()).await?;
            let archive = source.archive();
            let filter = Filter {
                since: since(within),
                provider,
                error,
            };
            let deliveries = replay::list(archive, &filter).await?;
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
            stack,
        } => {
            let source = Source::of(stack.as_deref()).await?;
            let archive = source.archive();
            let deliveries = match id {
                Some(id) => vec![archive.get(&id).await?],
                None => {
                    let filter = Filter {
                        since: since(within),
                        ..Filter::default()
                    };
                    replay::list(archive, &filter).await?
                }
            };
            let reports = source.replay(&deliveries).await;
            let mut out = std::io::stdout().lock();
            for r in &reports {
                if json {
                    writeln!(out, "{}", serde_json::to_string(r)?)?;
                } else if r.failing() {
                    writeln!(
                        out,
                        "{} {}: still failing ({} {})",
                        r.id,
                        r.provider,
                        r.status.unwrap_or_default(),
                        r.code.as_deref().unwrap_or("-")
                    )?;
                } else {
                    let outcome = match r.outcome {
                        ReplayOutcome::Stored => "stored",
                        _ => "duplicate",
                    };
                    writeln!(out, "{} {}: {outcome}", r.id, r.provider)?;
                }
            }
            let failing = reports.iter().filter(|r| r.failing()).count();
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
