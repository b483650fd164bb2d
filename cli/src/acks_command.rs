//! `intake acks sweep` (the stale-claim sweep, run once), and `intake acks dead-letters` and
//! `intake acks redrive`: the stream batches the acknowledger gave up on, locally (the local
//! stack's dead-letter directory, the acknowledger run in this process) or for a deployed
//! stack (its on-failure SQS queue, its acknowledger function invoked with the re-read
//! records).

use aws_sdk_dynamodbstreams::Client as StreamsClient;
use clap::{Args, Subcommand};
use intake::store::Store;
use intake_dev::DevResult;
use intake_dev::dead_letters::DeadLetterQueue;
use intake_dev::dotenv::var_or;
use intake_dev::redrive::{self, Acker, Inspected, Redriven};
use intake_dev::table::{self, Column};
use intake_dev::target::{Deployed, failed, operator_sdk, ready};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// `intake acks ...`.
#[derive(Subcommand)]
pub enum Acks {
    /// The stream batches the acknowledger gave up on after its retries: when, why, the
    /// shard and sequence range, and the tickets they hold (re-read from the stream) with
    /// their ack's state. A batch past the stream's 24 h retention is shown as lost, with
    /// the tickets still pending from its time.
    DeadLetters {
        #[command(flatten)]
        target: Target,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Hands every dead letter's records to the acknowledger again and deletes each dead
    /// letter whose records were all acked or decided. Never sends an ack twice: the
    /// acknowledger acts only on a ticket whose ack is still pending. Exits non-zero while
    /// a dead letter remains.
    Redrive {
        #[command(flatten)]
        target: Target,
        /// Also delete the dead letters whose records are lost (after noting their
        /// pending tickets, which are then answered by hand).
        #[arg(long)]
        drop_lost: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Marks `failed` (reason `interrupted`) every ack still `sending` 5 minutes after its
    /// claim: a function that died between calling the provider and recording its answer.
    /// Never sends an ack (the acknowledger's 5-minute schedule sends a LINE push again,
    /// which LINE deduplicates; this run by hand has no provider credentials and fails it
    /// too). The customer may or may not have had the ack: the provider's log says. Scans the
    /// whole table.
    Sweep {
        /// A deployed stack (`--stack` or `--table`); default: the local stack's table.
        #[command(flatten)]
        deployed: Deployed,
        /// One JSON object: found, interrupted, moved_on, tickets.
        #[arg(long)]
        json: bool,
    },
}

/// Which dead letters: the local stack's (default) or a deployed stack's.
#[derive(Args)]
pub struct Target {
    /// A deployed stack (`--stack` or `--table`). The on-failure queue and the acknowledger
    /// are those of the table's stream mapping.
    #[command(flatten)]
    deployed: Deployed,
    /// The on-failure queue's URL (default: the stream mapping's OnFailure destination).
    #[arg(long)]
    queue: Option<String>,
    /// The acknowledger function's name or ARN (default: the stream mapping's function).
    #[arg(long)]
    function: Option<String>,
    /// The local stack's dead-letter directory (default: $INTAKE_DEAD_LETTER_DIR, else
    /// .local/dead-letters in the project).
    #[arg(long, conflicts_with_all = ["stack", "table", "queue", "function"])]
    dir: Option<std::path::PathBuf>,
}

impl Acks {
    /// Whether it reads a deployed stack (with the caller's own AWS environment, not the
    /// local stack's settings).
    pub fn is_cloud(&self) -> bool {
        match self {
            Acks::DeadLetters { target, .. } | Acks::Redrive { target, .. } => {
                target.deployed.is_cloud() || target.queue.is_some() || target.function.is_some()
            }
            Acks::Sweep { deployed, .. } => deployed.is_cloud(),
        }
    }
}

/// Runs `intake acks ...`. Logs (the acknowledger's, when it runs here) go to stderr:
/// warnings by default, more with `RUST_LOG=debug`.
pub async fn run(command: Acks) -> DevResult<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match command {
        Acks::DeadLetters { target, json } => {
            let place = resolve(&target, false).await?;
            let letters = place.queue.receive_all().await?;
            let mut listed = Vec::new();
            for letter in &letters {
                listed.push(redrive::inspect(letter, &place.streams, &place.store).await);
            }
            place.queue.release(&letters).await;
            list(&listed, json, &place.queue)
        }
        Acks::Redrive {
            target,
            drop_lost,
            json,
        } => {
            let place = resolve(&target, true).await?;
            let acker = place.acker.ok_or("no acknowledger to redrive through")?;
            let done = redrive::redrive_all(
                &place.queue,
                &place.streams,
                &place.store,
                &acker,
                drop_lost,
            )
            .await?;
            report(&done, json)
        }
        Acks::Sweep { deployed, json } => sweep(&deployed, json).await,
    }
}

/// `intake acks sweep`: the scheduled sweep, run once now. Its metric lines are the
/// function's business (the schedule's sweeps are counted in CloudWatch), not this output.
async fn sweep(deployed: &Deployed, json: bool) -> DevResult<()> {
    let store = deployed.store().await?;
    let quiet: intake::metrics::Sink = Arc::new(intake::metrics::MemorySink::default());
    let report = intake::ack::sweep::Sweeper::new(store, quiet)
        .sweep(jiff::Timestamp::now())
        .await?;
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string(&report)?)?;
        return Ok(());
    }
    let minutes = intake::ack::sweep::STALE_AFTER.as_secs() / 60;
    writeln!(
        stdout,
        "{} ack(s) sending for over {minutes} minutes: {} marked failed (interrupted), {} moved on meanwhile",
        report.found, report.interrupted, report.moved_on
    )?;
    for ticket in &report.tickets {
        writeln!(
            stdout,
            "  {ticket}  failed (interrupted): check the provider's log whether the ack went out"
        )?;
    }
    Ok(())
}

/// Where the dead letters are and what reads and acknowledges their records.
struct Place {
    queue: DeadLetterQueue,
    streams: StreamsClient,
    store: Store,
    acker: Option<Acker>,
}

async fn resolve(target: &Target, redriving: bool) -> DevResult<Place> {
    if !target.deployed.is_cloud() {
        if target.queue.is_some() || target.function.is_some() {
            return Err(
                "--queue and --function need --stack or --table (the stack's table)".into(),
            );
        }
        return local(target, redriving).await;
    }
    cloud(target).await
}

/// The local stack: the table at `AWS_ENDPOINT_URL_DYNAMODB`, the dead-letter directory, and
/// an acknowledger built from the same settings as `intake dev`'s.
async fn local(target: &Target, redriving: bool) -> DevResult<Place> {
    let endpoint = var_or("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000");
    // The records are re-read from the local stream: say so when the stack is down.
    if !intake_dev::reach::accepts(&endpoint).await {
        return Err(intake_dev::reach::NotAnswering::Dynamo { endpoint }.into());
    }
    let sdk = intake_dev::stack::local_sdk_config(&endpoint).await;
    let store = Store::from_sdk_config(&sdk, var_or("TABLE_NAME", "intake-local"));
    let dir = match &target.dir {
        Some(dir) => dir.clone(),
        None => intake_dev::stack::local_dead_letter_dir()?,
    };
    let acker = if redriving {
        let options = intake_dev::stack::StackOptions::from_env()?;
        let clients = intake::providers::Clients::new(&sdk)?;
        // Its metric lines are the local stack's business, not this command's output.
        let quiet: intake::metrics::Sink = Arc::new(intake::metrics::MemorySink::default());
        let acknowledger =
            intake::ack::Acknowledger::from_config(&options.config, store.clone(), &clients)
                .with_metrics(quiet);
        Some(Acker::Local(Arc::new(acknowledger)))
    } else {
        None
    };
    Ok(Place {
        queue: DeadLetterQueue::Dir(dir),
        streams: StreamsClient::new(&sdk),
        store,
        acker,
    })
}

/// A deployed stack: its table, then the table's stream mapping for the function and the
/// on-failure queue (unless given).
async fn cloud(target: &Target) -> DevResult<Place> {
    let sdk = operator_sdk(Duration::from_secs(120)).await;
    ready(&sdk).await?;
    let table = target
        .deployed
        .table_name(&sdk)
        .await?
        .ok_or("resolve sends the local stack elsewhere")?;
    let described = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .map_err(failed(format!("table {table}")))?;
    let stream_arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .ok_or_else(|| format!("table {table} has no stream"))?
        .to_owned();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let (mut function, mut queue_arn) = (None, None);
    if target.function.is_none() || target.queue.is_none() {
        let mappings = lambda
            .list_event_source_mappings()
            .event_source_arn(&stream_arn)
            .send()
            .await
            .map_err(failed("the stream's mapping".to_owned()))?;
        let mapping = mappings
            .event_source_mappings()
            .first()
            .ok_or_else(|| format!("no function reads the stream of {table}"))?;
        function = mapping.function_arn().map(str::to_owned);
        queue_arn = mapping
            .destination_config()
            .and_then(|d| d.on_failure())
            .and_then(|f| f.destination())
            .map(str::to_owned);
    }
    let queue_url = match (&target.queue, queue_arn) {
        (Some(url), _) => url.clone(),
        (None, Some(arn)) => queue_url(&sdk, &arn).await?,
        (None, None) => {
            return Err(format!(
                "the stream mapping of {table} has no on-failure destination: give --queue"
            )
            .into());
        }
    };
    let function = target
        .function
        .clone()
        .or(function)
        .ok_or("the stream mapping names no function: give --function")?;
    Ok(Place {
        queue: DeadLetterQueue::sqs(&sdk, &queue_url),
        streams: StreamsClient::new(&sdk),
        store: Store::from_sdk_config(&sdk, table),
        acker: Some(Acker::Lambda {
            client: lambda,
            function,
        }),
    })
}

/// The URL of the queue `arn` (`arn:aws:sqs:<region>:<account>:<name>`).
async fn queue_url(sdk: &aws_config::SdkConfig, arn: &str) -> DevResult<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, _, "sqs", _, account, name] = parts[..] else {
        return Err(format!("the on-failure destination {arn} is not an SQS queue").into());
    };
    aws_sdk_sqs::Client::new(sdk)
        .get_queue_url()
        .queue_name(name)
        .queue_owner_aws_account_id(account)
        .send()
        .await
        .map_err(failed(format!("queue {name}")))?
        .queue_url
        .ok_or_else(|| format!("queue {name} has no URL").into())
}

/// The columns of `acks dead-letters`.
const COLUMNS: [Column; 7] = [
    Column::left("ID"),
    Column::left("WHEN"),
    Column::left("WHY"),
    Column::left("SHARD"),
    Column::left("SEQUENCES"),
    Column::right("RECORDS"),
    Column::left("TICKETS"),
];

fn list(listed: &[Inspected], json: bool, queue: &DeadLetterQueue) -> DevResult<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        for item in listed {
            writeln!(stdout, "{}", serde_json::to_string(item)?)?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|d| {
            let tickets = match (&d.error, &d.lost) {
                (Some(error), _) => format!("? {error}"),
                (None, Some(lost)) => format!(
                    "LOST ({lost}); still pending from then: {}",
                    none_if_empty(&d.pending_tickets.join(", "))
                ),
                (None, None) => none_if_empty(
                    &d.tickets
                        .iter()
                        .map(|t| format!("{} ({})", t.id, t.ack))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            vec![
                d.id.clone(),
                d.timestamp.clone(),
                format!("{} ({} tries)", d.condition, d.invocations),
                d.shard_id.clone(),
                format!("{}..{}", d.start_sequence_number, d.end_sequence_number),
                d.batch_size.to_string(),
                tickets,
            ]
        })
        .collect();
    table::write(&mut stdout, &COLUMNS, &rows)?;
    if listed.is_empty() {
        writeln!(stdout, "no dead letters in {}", queue.describe())?;
    }
    Ok(())
}

fn none_if_empty(text: &str) -> String {
    if text.is_empty() {
        "none".to_owned()
    } else {
        text.to_owned()
    }
}

fn report(done: &[(String, Redriven)], json: bool) -> DevResult<()> {
    let mut stdout = std::io::stdout().lock();
    let mut remaining = 0;
    for (id, outcome) in done {
        if json {
            let mut value = serde_json::to_value(outcome)?;
            value["id"] = id.clone().into();
            writeln!(stdout, "{value}")?;
        }
        let line = match outcome {
            Redriven::Done { tickets } => format!(
                "{id}: redriven, deleted (tickets: {})",
                none_if_empty(&tickets.join(", "))
            ),
            Redriven::StillFailing { tickets, failed } => {
                remaining += 1;
                format!(
                    "{id}: {failed} record(s) failed again, kept (tickets: {})",
                    tickets.join(", ")
                )
            }
            Redriven::Lost {
                reason,
                pending_tickets,
                dropped,
            } => {
                remaining += usize::from(!dropped);
                format!(
                    "{id}: LOST, {reason}; answer by hand the tickets still pending from then: {}{}",
                    none_if_empty(&pending_tickets.join(", ")),
                    if *dropped {
                        " (deleted)"
                    } else {
                        " (kept; --drop-lost deletes it)"
                    }
                )
            }
            Redriven::Error { reason } => {
                remaining += 1;
                format!("{id}: not redriven, kept: {reason}")
            }
        };
        if !json {
            writeln!(stdout, "{line}")?;
        }
    }
    if !json && done.is_empty() {
        writeln!(stdout, "no dead letters")?;
    }
    if remaining > 0 {
        return Err(format!("{remaining} dead letter(s) remain").into());
    }
    Ok(())
}
