//! `intake`: the local stack, a webhook simulator and a ticket inspector.

use clap::{Args, Parser, Subcommand};
use intake::store::Store;
use intake_dev::DevResult;
use intake_dev::dotenv::{self, var_or};
use intake_dev::simulate::{self, TwilioSms};
use intake_dev::stack::{Stack, StackOptions};
use intake_dev::table::{self, Column};
use intake_dev::target::Deployed;
use intake_dev::{outbox, reach};
use std::io::Write;
use std::process::ExitCode;

/// `println!` that returns the error instead of panicking: a closed pipe (`intake tickets
/// list | head -1`) ends the command quietly ([`exit`]).
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*)?
    };
}

mod mail_command;

// Plivo (issue 11).
mod plivo_command;

// Dead letters and their redrive (issue 14): a block of their own.
mod acks_command;

// One customer per phone number (issue 11).
mod customers_command;

// Archive and replay (issue 12).
mod replay_command;

#[derive(Parser)]
#[command(
    name = "intake",
    version,
    about = "Intake developer tool: local stack, simulator, inspector"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole stack locally (DynamoDB Local, webhooks on INTAKE_PORT, acknowledger,
    /// recorder) in the foreground until Ctrl-C.
    Dev,
    /// Send a realistic, signed provider webhook to a running stack.
    #[command(subcommand)]
    Simulate(Simulate),
    /// Inspect tickets in the table.
    #[command(subcommand)]
    Tickets(Tickets),
    /// Inspect customers: one person behind a phone number, on every channel.
    #[command(subcommand)]
    Customers(customers_command::Customers),
    /// Inspect what the functions sent: provider API requests (the local recorder) and email
    /// acks (the SES emulator).
    #[command(subcommand)]
    Outbox(Outbox),
    /// Check the acknowledgement configuration (intake.toml).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// What a deployment must provide: functions, routes, environment (for infra checks).
    Manifest,
    /// Check a deployed stack: its status, the SSM parameters it names, the SES inbound
    /// subscription and receipt rule set, the SES sending identities. Read-only; exits
    /// non-zero when a check fails.
    Doctor {
        /// The CloudFormation stack name (region and credentials from the environment).
        #[arg(long)]
        stack: String,
    },

    // -- Dead letters (issue 14) --
    /// Acknowledgements the stream poller (or Lambda's mapping) gave up on: list them, and
    /// send them through the acknowledger again. The local stack by default; a deployed one
    /// with --stack NAME.
    #[command(subcommand)]
    Acks(acks_command::Acks),

    // -- Load harness (issue 14) --
    /// Drive a local stack with signed webhooks of every channel at a given rate, then
    /// report throughput, latency, ticket-to-ack delay, and what was lost, duplicated or
    /// left un-acked (read from the table and the recorder). Starts a stack of its own
    /// unless --url names a running `intake dev`. Exits non-zero when anything was.
    Load(Box<intake_dev::load::LoadArgs>),

    // -- Archive and replay (issue 12) --
    /// Verified deliveries the local stack did not store (a parse failure, a store outage):
    /// list them, and run them again through the current code after a fix. Needs
    /// ARCHIVE_BUCKET and ARCHIVE_ENDPOINT_URL (a local S3 server, e.g. moto).
    #[command(subcommand)]
    Replay(replay_command::Replay),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate it offline and preview every template for each channel, language and
    /// opening state.
    Check {
        /// The file (default: $INTAKE_CONFIG, else intake.toml).
        file: Option<std::path::PathBuf>,
        /// The SES identities acks may be sent from, comma-separated (default:
        /// $SES_IDENTITIES): brands whose email acks would go out from an address under none
        /// of them are warned about, since SES would refuse those acks.
        #[arg(long, value_name = "LIST")]
        ses_identities: Option<String>,
    },
}

#[derive(Subcommand)]
enum Simulate {
    /// An inbound SMS through Twilio.
    Twilio(TwilioArgs),
    /// An inbound SMS or MMS through Plivo (signed with PLIVO_AUTH_TOKEN).
    Plivo(plivo_command::PlivoArgs),
    /// An inbound SMS through legacy MessageBird (MESSAGEBIRD_SIGNING_KEY) or Bird
    /// (BIRD_SIGNING_KEY).
    Messagebird(MessageBirdArgs),
    /// An inbound SMS or MMS through Telnyx (signed with the local stack's test key).
    Telnyx(TwilioArgs),
    /// An inbound SMS through Vonage (SMS API signed webhook, or Messages API).
    Vonage(VonageArgs),
    /// A Messenger, Instagram or WhatsApp message through Meta's webhook.
    Meta(MetaArgs),
    /// A Telegram private-chat message.
    Telegram(SocialArgs),
    /// A LINE message event.
    Line(SocialArgs),
    /// A mail through Amazon SES (an SNS notification signed with the local test key).
    Ses(mail_command::MailArgs),
    /// A mail through a Mailgun route (signed with MAILGUN_SIGNING_KEY).
    Mailgun(mail_command::MailArgs),
    /// A mail through SendGrid Inbound Parse (Basic credentials SENDGRID_BASIC_AUTH).
    Sendgrid(mail_command::MailArgs),
    /// A mail through Postmark inbound (Basic credentials POSTMARK_BASIC_AUTH).
    Postmark(mail_command::MailArgs),
    /// An SMS through AWS End User Messaging SMS (two-way SMS's SNS notification, signed
    /// with the local test key).
    Aws(AwsSmsArgs),
}

#[derive(Args)]
struct AwsSmsArgs {
    /// The customer's number (E.164).
    #[arg(long, default_value = "+6281234567890")]
    from: String,
    /// Our number the customer writes to.
    #[arg(long, default_value = "+6221555000")]
    to: String,
    /// Message text.
    #[arg(long)]
    body: String,
    /// `messageKeyword`: the keyword of our number the text matched (STOP, HELP, JOIN).
    #[arg(long)]
    keyword: Option<String>,
    /// `inboundMessageId` to use (repeat one to see deduplication); fresh by default.
    #[arg(long)]
    id: Option<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Args)]
struct MetaArgs {
    /// Which app the message comes from.
    #[arg(long, value_enum, default_value = "messenger")]
    app: simulate::MetaApp,
    #[command(flatten)]
    message: SocialArgs,
}

#[derive(Args)]
struct SocialArgs {
    /// The customer's platform id (PSID, IGSID, WhatsApp number, Telegram or LINE user id).
    #[arg(long, default_value = "6281234567890")]
    from: String,
    /// Our id on the platform (page, account, phone number id, LINE bot id).
    #[arg(long, default_value = "100000000000001")]
    to: String,
    /// Message text.
    #[arg(long)]
    body: String,
    /// The customer's display name.
    #[arg(long)]
    name: Option<String>,
    /// The language the platform reports (Telegram `language_code`).
    #[arg(long)]
    language: Option<String>,
    /// Message id to use (repeat one to see deduplication); fresh by default.
    #[arg(long)]
    id: Option<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

impl SocialArgs {
    fn message(&self) -> simulate::SocialMessage {
        simulate::SocialMessage {
            from: self.from.clone(),
            to: self.to.clone(),
            body: self.body.clone(),
            name: self.name.clone(),
            language: self.language.clone(),
            id: self.id.clone(),
        }
    }

    fn base(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"))
    }
}

#[derive(Args)]
struct TwilioArgs {
    /// The customer's number (E.164).
    #[arg(long, default_value = "+6281234567890")]
    from: String,
    /// Our number the customer writes to.
    #[arg(long, default_value = "+6221555000")]
    to: String,
    /// Message text.
    #[arg(long)]
    body: String,
    /// Message id to use (Twilio MessageSid, Telnyx message UUID; repeat one to see
    /// deduplication); fresh by default.
    #[arg(long)]
    sid: Option<String>,
    /// A media URL (MMS); repeatable.
    #[arg(long)]
    media: Vec<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Args)]
struct MessageBirdArgs {
    /// Which platform delivers it.
    #[arg(long, value_enum, default_value = "legacy")]
    platform: intake_dev::simulate_messagebird::Platform,
    /// The customer's number.
    #[arg(long, default_value = "+6281234567890")]
    from: String,
    /// Our number (legacy; default +6221555000) or Bird channel id (Bird; default the local
    /// stack's).
    #[arg(long)]
    to: Option<String>,
    /// Message text.
    #[arg(long)]
    body: String,
    /// Message id to use (repeat one to see deduplication); fresh by default.
    #[arg(long)]
    id: Option<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Args)]
struct VonageArgs {
    /// The customer's number, as Vonage writes it (digits, no +).
    #[arg(long, default_value = "6281234567890")]
    from: String,
    /// Our Vonage number.
    #[arg(long, default_value = "6221555000")]
    to: String,
    /// Message text.
    #[arg(long)]
    body: String,
    /// How Vonage delivers it: the SMS API's GET, POST or POST-JSON (signed with
    /// VONAGE_SIGNATURE_METHOD), or the Messages API (an HS256 JWT).
    #[arg(long, value_enum, default_value = "post")]
    delivery: simulate::VonageDelivery,
    /// messageId / message_uuid to use (repeat one to see deduplication); fresh by default.
    #[arg(long)]
    id: Option<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Subcommand)]
enum Tickets {
    /// Every ticket, newest first: the local stack's, or a deployed stack's with --stack.
    List {
        /// Only the tickets of this contact, on every channel: a phone number
        /// (+6281234567890, also finds its WhatsApp tickets), an email address, or a
        /// platform id as stored (whatsapp:6281234567890, telegram:123456).
        #[arg(long)]
        contact: Option<String>,
        #[command(flatten)]
        filter: intake_dev::ticket_filter::TicketFilter,
        #[command(flatten)]
        deployed: Deployed,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its messages.
    Show {
        /// Ticket id or reference (K7F3Q2).
        id: String,
        #[command(flatten)]
        deployed: Deployed,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

impl Tickets {
    /// The table it reads.
    fn deployed(&self) -> &Deployed {
        let (Tickets::List { deployed, .. } | Tickets::Show { deployed, .. }) = self;
        deployed
    }
}

#[derive(Subcommand)]
enum Outbox {
    /// Everything the stack sent, oldest first: the provider API requests the recorder
    /// received and the email acks the SES emulator accepted. Bodies are cut at 120
    /// characters; --json has them whole.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The local settings (.env, .env.example, else the same defaults built in: fake
    // credentials, emulator endpoints) are for the local stack; doctor and `--stack` (or
    // `--table`) read a real account with the caller's own environment. Loaded before the
    // runtime starts its threads, since loading sets environment variables.
    let cloud = match &cli.command {
        Command::Doctor { .. } => true,
        Command::Acks(acks) => acks.is_cloud(),
        Command::Tickets(tickets) => tickets.deployed().is_cloud(),
        Command::Customers(customers) => customers.deployed().is_cloud(),
        _ => false,
    };
    let settings = (!cloud).then(dotenv::load);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return exit(Err(e.into())),
    };
    exit(runtime.block_on(run(cli.command, settings)))
}

/// The exit status, after saying what went wrong. A closed stdout (the reader of a pipe
/// stopped reading, as `head` does) is no error: the command ends quietly, like any Unix
/// tool.
fn exit(result: DevResult<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "intake: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Option<dotenv::Loaded>) -> DevResult<()> {
    match command {
        Command::Dev => dev(settings).await,
        Command::Simulate(Simulate::Twilio(args)) => simulate_twilio(args).await,
        Command::Simulate(Simulate::Plivo(args)) => plivo_command::simulate(args).await,
        Command::Simulate(Simulate::Messagebird(args)) => simulate_messagebird(args).await,
        Command::Simulate(Simulate::Telnyx(args)) => simulate_telnyx(args).await,
        Command::Simulate(Simulate::Vonage(args)) => simulate_vonage(args).await,
        Command::Simulate(Simulate::Aws(args)) => simulate_aws_sms(args).await,
        Command::Simulate(Simulate::Ses(args)) => {
            mail_command::simulate(mail_command::MailProvider::Ses, args).await
        }
        Command::Simulate(Simulate::Mailgun(args)) => {
            mail_command::simulate(mail_command::MailProvider::Mailgun, args).await
        }
        Command::Simulate(Simulate::Sendgrid(args)) => {
            mail_command::simulate(mail_command::MailProvider::Sendgrid, args).await
        }
        Command::Simulate(Simulate::Postmark(args)) => {
            mail_command::simulate(mail_command::MailProvider::Postmark, args).await
        }
        Command::Simulate(other) => simulate_social(other).await,
        Command::Tickets(Tickets::List {
            contact,
            filter,
            deployed,
            json,
        }) => tickets_list(contact.as_deref(), &filter, &deployed, json).await,
        Command::Tickets(Tickets::Show { id, deployed, json }) => {
            tickets_show(&id, &deployed, json).await
        }
        Command::Customers(command) => customers_command::run(command).await,
        Command::Outbox(Outbox::List { json }) => outbox_list(json).await,
        Command::Config(ConfigCommand::Check {
            file,
            ses_identities,
        }) => config_check(file, ses_identities),
        Command::Doctor { stack } => doctor(&stack).await,
        Command::Acks(acks) => acks_command::run(acks).await,
        Command::Load(args) => load(&args).await,
        Command::Replay(command) => replay_command::run(command).await,
        Command::Manifest => {
            out!(
                "{}",
                serde_json::to_string_pretty(&intake::manifest::functions())?
            );
            Ok(())
        }
    }
}

async fn dev(settings: Option<dotenv::Loaded>) -> DevResult<()> {
    if settings
        .as_ref()
        .and_then(dotenv::Loaded::project)
        .is_none()
    {
        return Err(not_in_project().into());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws=warn")),
        )
        .init();
    let options = StackOptions::from_env()?;
    reach::ports_free(&options.ports())?;
    let archive_server = archive_server(options.archive.as_ref()).await?;
    let archive = options.archive.clone();
    let stack = Stack::start(options).await?;
    out!("Intake is running:");
    out!(
        "  webhooks   {}/sms/twilio  (health: {}/health)",
        stack.url(),
        stack.url()
    );
    out!(
        "  dynamodb   {}  table {}",
        stack.dynamo.endpoint(),
        stack.store.table()
    );
    out!(
        "  recorder   {}  (intake outbox list)",
        stack.recorder.url()
    );
    out!(
        "  ses        {}  (web inbox of email acks)",
        stack.ses.inbox_url()
    );
    if let Some(archive) = &archive {
        out!(
            "  archive    {}  bucket {} (intake replay list)",
            archive.endpoint.as_str().trim_end_matches('/'),
            archive.bucket
        );
    }
    out!("Try: intake simulate twilio --body \"Halo, pesanan saya belum sampai\"");
    out!("Ctrl-C stops everything.");
    wait_for_shutdown().await;
    out!("stopping");
    let mut stack = stack;
    stack.dynamo.stop().await;
    drop(archive_server);
    Ok(())
}

/// The local S3 server of the archive (`ARCHIVE_ENDPOINT_URL`): moto started on its port,
/// unless something S3 already answers there (a moto of your own); `None` when the archive
/// is off. moto keeps the archive in memory, for as long as `intake dev` runs.
async fn archive_server(
    archive: Option<&intake_dev::replay::ArchiveOptions>,
) -> DevResult<Option<intake_dev::moto_local::MotoLocal>> {
    let Some(archive) = archive else {
        return Ok(None);
    };
    if reach::accepts(archive.endpoint.as_str()).await {
        return Ok(None);
    }
    let port = archive
        .endpoint
        .port_or_known_default()
        .ok_or("ARCHIVE_ENDPOINT_URL names no port")?;
    intake_dev::moto_local::MotoLocal::start_on(port)
        .await
        .map(Some)
        .map_err(|e| {
            format!(
                "the archive's S3 server (moto, ARCHIVE_ENDPOINT_URL) did not start: {e}; \
                 `make dev` installs it, or leave ARCHIVE_BUCKET empty to run without the archive"
            )
            .into()
        })
}

/// `intake load`: the report, then a non-zero exit if anything was lost, duplicated or left
/// un-acked.
async fn load(args: &intake_dev::load::LoadArgs) -> DevResult<()> {
    // The functions log every webhook at `info` (and `.env` asks for `info`): under load,
    // only warnings and errors, unless INTAKE_LOAD_LOG says otherwise.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INTAKE_LOAD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let report = intake_dev::load::run(args).await?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        write!(std::io::stdout(), "{}", report.text())?;
    }
    if report.clean() {
        Ok(())
    } else {
        Err("the load run lost, duplicated or left un-acked some messages (see the verdict)".into())
    }
}

/// Why `intake dev` does not run here, and where it does.
fn not_in_project() -> String {
    let built_from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .filter(|dir| dotenv::is_project(dir))
        .map(|dir| format!(" (this intake was built from {})", dir.display()))
        .unwrap_or_default();
    format!(
        "`intake dev` runs in the Intake project, where `make dev` installs DynamoDB Local and \
         the SES emulator: run `make dev` (or `intake dev`) in your clone{built_from}. The other \
         commands work from any directory."
    )
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

impl TwilioArgs {
    fn base(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"))
    }

    /// The media URLs with a content type guessed from the name.
    fn media(&self) -> Vec<(String, String)> {
        self.media
            .iter()
            .map(|url| {
                let kind = if url.ends_with(".pdf") {
                    "application/pdf"
                } else {
                    "image/jpeg"
                };
                (url.clone(), kind.to_owned())
            })
            .collect()
    }
}

async fn simulate_twilio(args: TwilioArgs) -> DevResult<()> {
    let base = args.base();
    let token = std::env::var("TWILIO_AUTH_TOKEN").map_err(|_| "TWILIO_AUTH_TOKEN is not set")?;
    let account = var_or("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000");
    let sms = TwilioSms {
        media: args.media(),
        from: args.from,
        to: args.to,
        body: args.body,
        message_sid: args.sid,
    };
    let signed = simulate::sign_twilio(&base, &token, &account, &sms);
    let (status, body) = simulate::post(&reqwest::Client::new(), &signed)
        .await
        .map_err(|e| reach::http("the webhook server", &base, e))?;
    answered(status, &body)
}

async fn simulate_messagebird(args: MessageBirdArgs) -> DevResult<()> {
    use intake_dev::simulate_messagebird::{self as mb, Platform};
    let base = args
        .url
        .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"));
    let now = jiff::Timestamp::now();
    let to = args.to.unwrap_or_else(|| match args.platform {
        Platform::Legacy => "+6221555000".to_owned(),
        Platform::Bird => mb::BIRD_CHANNEL_ID.to_owned(),
    });
    let sms = mb::MessageBirdSms {
        from: args.from,
        to,
        body: args.body,
        id: args.id,
    };
    let key = secret(match args.platform {
        Platform::Legacy => "MESSAGEBIRD_SIGNING_KEY",
        Platform::Bird => "BIRD_SIGNING_KEY",
    })?;
    let signed = mb::sign(args.platform, &base, &key, &sms, now);
    let (status, body) = mb::post(&reqwest::Client::new(), &signed)
        .await
        .map_err(|e| reach::http("the webhook server", &base, e))?;
    answered(status, &body)
}

async fn simulate_vonage(args: VonageArgs) -> DevResult<()> {
    let base = args
        .url
        .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"));
    let secret = secret("VONAGE_SIGNATURE_SECRET")?;
    let method_name = var_or("VONAGE_SIGNATURE_METHOD", "md5hash");
    let method = intake::config::VonageSignatureMethod::parse(&method_name)
        .ok_or_else(|| format!("VONAGE_SIGNATURE_METHOD {method_name} is not a Vonage method"))?;
    let sms = simulate::VonageSms {
        id: args.id,
        ..simulate::VonageSms::new(&args.from, &args.to, &args.body)
    };
    let now = jiff::Timestamp::now().as_second();
    let request = simulate::sign_vonage(&base, &secret, method, args.delivery, &sms, now);
    let (status, body) = simulate::send_vonage(&reqwest::Client::new(), &request)
        .await
        .map_err(|e| reach::http("the webhook server", &base, e))?;
    answered(status, &body)
}

/// Prints the webhook's answer; an error unless it was 2xx.
fn answered(status: u16, body: &str) -> DevResult<()> {
    out!("{status} {body}");
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}").into())
    }
}

/// Telnyx signs with its private key: only a stack that trusts the test key pair (its
/// `TELNYX_PUBLIC_KEY`) can be sent a simulated webhook.
async fn simulate_telnyx(args: TwilioArgs) -> DevResult<()> {
    let base = args.base();
    let test_key = intake_dev::stack::test_telnyx_public_key()?;
    match std::env::var("TELNYX_PUBLIC_KEY") {
        Ok(key) if key.trim() != test_key => {
            return Err(format!(
                "TELNYX_PUBLIC_KEY is not the local test key ({test_key}): only Telnyx can sign \
                 for the key configured"
            )
            .into());
        }
        _ => {}
    }
    let sms = simulate::TelnyxSms {
        media: args.media(),
        from: args.from,
        to: args.to,
        body: args.body,
        id: args.sid,
    };
    let post = simulate::sign_telnyx(
        &base,
        &intake_dev::stack::TEST_TELNYX_SEED,
        jiff::Timestamp::now().as_second(),
        sms.payload(),
    );
    post_signed_json(&base, &post).await
}

/// Posts a signed JSON webhook to the stack at `base` and prints its answer; an error unless
/// it is a 2xx.
async fn post_signed_json(base: &str, post: &simulate::JsonPost) -> DevResult<()> {
    let (status, body) = simulate::post_json(&reqwest::Client::new(), post)
        .await
        .map_err(|e| reach::http("the webhook server", base, e))?;
    out!("{status} {body}");
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}").into())
    }
}

fn secret(name: &str) -> DevResult<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

async fn simulate_social(which: Simulate) -> DevResult<()> {
    let base = match &which {
        Simulate::Meta(args) => args.message.base(),
        Simulate::Telegram(args) | Simulate::Line(args) => args.base(),
        _ => unreachable!("handled by their own simulate_* functions and mail_command"),
    };
    let post = match &which {
        Simulate::Meta(args) => simulate::sign_meta(
            &args.message.base(),
            &secret("META_APP_SECRET")?,
            simulate::meta_payload(args.app, &[args.message.message()]),
        ),
        Simulate::Telegram(args) => {
            let update_id = jiff::Timestamp::now().as_millisecond() % 1_000_000_000;
            simulate::sign_telegram(
                &args.base(),
                &secret("TELEGRAM_SECRET_TOKEN")?,
                simulate::telegram_payload(update_id, &args.message()),
            )
        }
        Simulate::Line(args) => simulate::sign_line(
            &args.base(),
            &secret("LINE_CHANNEL_SECRET")?,
            simulate::line_payload(&args.to, &[args.message()]),
        ),
        _ => unreachable!("handled by their own simulate_* functions and mail_command"),
    };
    post_signed_json(&base, &post).await
}

async fn simulate_aws_sms(args: AwsSmsArgs) -> DevResult<()> {
    use intake_dev::simulate_aws_sms::{AwsSms, TEST_AWS_SMS_TOPIC_ARN, aws_sms};
    let base = args
        .url
        .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"));
    let mut sms = AwsSms::new(&args.from, &args.to, &args.body);
    sms.keyword = args.keyword;
    if let Some(id) = args.id {
        sms.id = id;
    }
    let topic = var_or("AWS_SMS_TOPIC_ARNS", TEST_AWS_SMS_TOPIC_ARN);
    let topic = topic
        .split(',')
        .next()
        .unwrap_or(TEST_AWS_SMS_TOPIC_ARN)
        .trim();
    let post = aws_sms(
        &base,
        &intake_dev::simulate_email::SnsSigner::local()?,
        topic,
        &sms,
    )?;
    let (status, body) = intake_dev::simulate_email::post(&reqwest::Client::new(), &post)
        .await
        .map_err(|e| format!("the webhook server at {base}: {e}"))?;
    answered(status, &body)
}

async fn tickets_list(
    contact: Option<&str>,
    filter: &intake_dev::ticket_filter::TicketFilter,
    deployed: &Deployed,
    json: bool,
) -> DevResult<()> {
    let store = deployed.store().await?;
    let tickets = match contact {
        Some(address) => {
            let sms = customers_command::sms_settings()?;
            store
                .contact_tickets(address, &sms.default_country_code)
                .await
        }
        None => store.all_tickets().await,
    };
    let mut tickets = match tickets {
        Ok(tickets) => tickets,
        Err(e) => return Err(reach::table(&store, e).await),
    };
    let now = jiff::Timestamp::now();
    tickets.retain(|t| filter.keeps(t, now));
    if json {
        for t in &tickets {
            out!("{}", serde_json::to_string(t)?);
        }
        return Ok(());
    }
    write_tickets(&tickets)
}

/// Tickets as a table, a row each.
fn write_tickets(tickets: &[intake::model::Ticket]) -> DevResult<()> {
    let rows: Vec<Vec<String>> = tickets
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.reference.clone(),
                t.channel.to_string(),
                t.provider.clone(),
                t.contact.clone(),
                t.status.clone(),
                t.message_count.to_string(),
                ack(t),
                t.created_at.clone(),
            ]
        })
        .collect();
    table::write(&mut std::io::stdout().lock(), &TICKET_COLUMNS, &rows)?;
    Ok(())
}

/// The columns of `tickets list`.
const TICKET_COLUMNS: [Column; 9] = [
    Column::left("ID"),
    Column::left("REF"),
    Column::left("CHAN"),
    Column::left("PROVIDER"),
    Column::left("CONTACT"),
    Column::left("STATUS"),
    Column::right("MSGS"),
    Column::left("ACK"),
    Column::left("CREATED"),
];

/// The ack's state with its reason: `sent`, `skipped (opted_out)`.
fn ack(ticket: &intake::model::Ticket) -> String {
    match &ticket.ack_reason {
        Some(reason) => format!("{} ({reason})", ticket.ack_status),
        None => ticket.ack_status.to_string(),
    }
}

async fn tickets_show(id: &str, deployed: &Deployed, json: bool) -> DevResult<()> {
    let store = deployed.store().await?;
    let (ticket, messages) = match ticket_with_messages(&store, id).await {
        Ok(found) => found,
        Err(e) => return Err(reach::table(&store, e).await),
    };
    let ticket = ticket.ok_or_else(|| format!("no ticket {id} in table {}", store.table()))?;
    if json {
        let mut value = serde_json::to_value(&ticket)?;
        value["messages"] = serde_json::to_value(&messages)?;
        out!("{value}");
        return Ok(());
    }
    out!("Ticket #{} ({})", ticket.reference, ticket.id);
    out!("  channel   {} via {}", ticket.channel, ticket.provider);
    out!("  contact   {}", ticket.contact);
    out!("  status    {}", ticket.status);
    out!("  ack       {}", ack(&ticket));
    out!("  created   {}", ticket.created_at);
    for m in &messages {
        out!(
            "\n  [{}] {} ({})",
            m.received_at,
            m.from,
            m.provider_message_id
        );
        out!("    {}", m.body);
        for a in &m.attachments {
            out!("    attachment: {}", a.url.as_deref().unwrap_or("-"));
        }
    }
    Ok(())
}

/// The ticket a reference or id names (`None` if none), with its messages.
async fn ticket_with_messages(
    store: &Store,
    id: &str,
) -> Result<
    (
        Option<intake::model::Ticket>,
        Vec<intake::model::StoredMessage>,
    ),
    intake::store::StoreError,
> {
    let id = if intake::ids::is_reference(&id.to_ascii_uppercase()) {
        match store.ticket_id_of_reference(id).await? {
            Some(id) => id,
            None => return Ok((None, Vec::new())),
        }
    } else {
        id.to_owned()
    };
    let Some(ticket) = store.ticket(&id).await? else {
        return Ok((None, Vec::new()));
    };
    Ok((Some(ticket), store.messages(&id).await?))
}

async fn outbox_list(json: bool) -> DevResult<()> {
    let recorder = format!(
        "http://127.0.0.1:{}",
        var_or("INTAKE_RECORDER_PORT", "3001")
    );
    let ses = var_or("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:8005");
    let sent = outbox::read(&recorder, &ses).await?;
    if json {
        for r in &sent {
            out!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = sent
        .iter()
        .map(|r| {
            vec![
                r.time
                    .parse::<jiff::Timestamp>()
                    .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_else(|_| r.time.clone()),
                r.channel.clone(),
                r.provider.clone(),
                r.status.to_string(),
                r.to.clone().unwrap_or_else(|| "-".into()),
                table::cut(
                    &match (&r.subject, &r.body) {
                        (Some(subject), Some(body)) => format!("{subject} | {body}"),
                        (subject, body) => subject.clone().or(body.clone()).unwrap_or_default(),
                    },
                    BODY_WIDTH,
                ),
            ]
        })
        .collect();
    table::write(&mut std::io::stdout().lock(), &OUTBOX_COLUMNS, &rows)?;
    if sent.is_empty() {
        out!("{}", outbox::EMPTY_NOTE);
    }
    Ok(())
}

/// The columns of `outbox list`.
const OUTBOX_COLUMNS: [Column; 6] = [
    Column::left("TIME"),
    Column::left("CHAN"),
    Column::left("PROVIDER"),
    Column::right("STATUS"),
    Column::left("TO"),
    Column::left("BODY"),
];

/// How much of a body `outbox list` shows (`--json` has it whole).
const BODY_WIDTH: usize = 120;

async fn doctor(stack: &str) -> DevResult<()> {
    // The functions' short timeouts suit a webhook, not a person waiting on CloudFormation.
    let config = intake_dev::target::operator_sdk(std::time::Duration::from_secs(60)).await;
    let region = config
        .region()
        .map(|r| r.to_string())
        .ok_or("no AWS region: set AWS_REGION (or a profile's region)")?;
    intake_dev::target::ready(&config).await?;
    out!("Checking stack {stack} in {region}");
    let report = intake_dev::doctor::diagnose(&config, stack).await;
    for check in &report.checks {
        out!("{check}");
    }
    if !report.webhook_urls.is_empty() {
        out!("\nWebhook URLs for the provider consoles:");
        let width = report
            .webhook_urls
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        for (name, url) in &report.webhook_urls {
            out!("  {name:<width$}  {url}");
        }
    }
    let (failures, warnings) = (report.failures(), report.warnings());
    out!(
        "\n{failures} failed, {warnings} warning(s), {} ok",
        report.checks.len() - failures - warnings
    );
    if failures > 0 {
        Err(format!("{failures} check(s) failed").into())
    } else {
        Ok(())
    }
}

fn config_check(file: Option<std::path::PathBuf>, ses_identities: Option<String>) -> DevResult<()> {
    use intake::ack::settings::STATES;
    use intake::ack::{AckSettings, Language};
    use intake::model::Channel;

    let path = file
        .or_else(|| std::env::var_os("INTAKE_CONFIG").map(Into::into))
        .unwrap_or_else(|| "intake.toml".into());
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let settings = AckSettings::from_toml(&text)?;
    let limits = &settings.limits;
    out!("{}: valid", path.display());
    warn_about_ses_senders(&settings, ses_identities)?;
    out!(
        "limits: {} acks per contact per day, quiet period {} min, SMS at most {} segment(s); acks on for: {}",
        limits.per_contact_per_day,
        limits.quiet_period_minutes,
        limits.sms_max_segments,
        limits
            .enabled
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let now = jiff::Timestamp::now();
    for brand in &settings.brands {
        out!(
            "\n== brand {} ({}) · {} · default language {} · reply within {} min · addresses: {}",
            brand.id,
            brand.name,
            brand.hours.time_zone.iana_name().unwrap_or("?"),
            brand.default_language,
            brand.reply_within_minutes,
            if brand.addresses.is_empty() {
                "(default)".to_owned()
            } else {
                brand.addresses.join(", ")
            }
        );
        out!("   now: {}", brand.hours.state(now).key());
        for channel in Channel::ALL {
            for language in Language::ALL {
                for state in STATES {
                    let Some((text, html)) = brand.sample(channel, language, state, now) else {
                        continue;
                    };
                    let length = if channel == Channel::Sms {
                        let m = intake::sms::measure(&text);
                        format!(
                            "  [{} segment(s), {} {}]",
                            m.segments,
                            m.units,
                            if m.gsm7 { "GSM-7" } else { "UCS-2" }
                        )
                    } else {
                        String::new()
                    };
                    out!("\n-- {channel} · {language} · {state}{length}");
                    for line in text.lines() {
                        out!("   {line}");
                    }
                    if let Some(html) = html {
                        out!("   (html) {html}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Warns about brands whose email acks would be sent from an address under none of the SES
/// identities the deployment grants (`SesIdentities`): SES would refuse them.
fn warn_about_ses_senders(
    settings: &intake::ack::AckSettings,
    identities: Option<String>,
) -> DevResult<()> {
    let identities: Vec<String> = identities
        .or_else(|| std::env::var("SES_IDENTITIES").ok())
        .unwrap_or_default()
        .split(',')
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect();
    let senders = settings.email_senders();
    if identities.is_empty() {
        if !senders.is_empty() {
            out!(
                "email acks: give --ses-identities (or SES_IDENTITIES) to check that SES may send as {}",
                senders
                    .iter()
                    .map(|(_, a)| *a)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return Ok(());
    }
    let outside = intake::providers::ses::senders_outside(settings, &identities);
    for (brand, address) in &outside {
        out!(
            "warning: brand {brand} sends email acks as {address}, which is under none of the SES identities ({}): \
             SES would refuse them. Verify it (or its domain) and add it to SesIdentities, or set the brand's support_address.",
            identities.join(", ")
        );
    }
    if outside.is_empty() && !senders.is_empty() {
        out!(
            "email acks: every sending address is under {}",
            identities.join(", ")
        );
    }
    Ok(())
}
