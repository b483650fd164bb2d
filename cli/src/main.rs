//! `intake`: the local stack, a webhook simulator and a ticket inspector.

use clap::{Args, Parser, Subcommand};
use intake::store::Store;
use intake_dev::DevResult;
use intake_dev::dotenv::{self, var_or};
use intake_dev::recorder;
use intake_dev::simulate::{self, TwilioSms};
use intake_dev::stack::{Stack, StackOptions};
use std::process::ExitCode;

mod mail_command;

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
    /// Inspect what the functions sent to provider APIs (the local recorder).
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
    /// MessageSid to use (repeat one to see deduplication); fresh by default.
    #[arg(long)]
    sid: Option<String>,
    /// A media URL (MMS); repeatable.
    #[arg(long)]
    media: Vec<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Subcommand)]
enum Tickets {
    /// Every ticket, newest first.
    List {
        /// Only the tickets of this contact, on every channel: a phone number
        /// (+6281234567890, also finds its WhatsApp tickets), an email address, or a
        /// platform id as stored (whatsapp:6281234567890, telegram:123456).
        #[arg(long)]
        contact: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its messages.
    Show {
        /// Ticket id or reference (K7F3Q2).
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Outbox {
    /// Every request the recorder received.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The local settings (.env, .env.example: fake credentials, emulator endpoints) are for
    // the local stack; doctor reads a real account with the caller's own environment.
    if !matches!(cli.command, Command::Doctor { .. }) {
        dotenv::load();
    }
    let result = match cli.command {
        Command::Dev => dev().await,
        Command::Simulate(Simulate::Twilio(args)) => simulate_twilio(args).await,
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
        Command::Tickets(Tickets::List { contact, json }) => {
            tickets_list(contact.as_deref(), json).await
        }
        Command::Tickets(Tickets::Show { id, json }) => tickets_show(&id, json).await,
        Command::Outbox(Outbox::List { json }) => outbox_list(json).await,
        Command::Config(ConfigCommand::Check {
            file,
            ses_identities,
        }) => config_check(file, ses_identities),
        Command::Doctor { stack } => doctor(&stack).await,
        Command::Manifest => {
            println!(
                "{}",
                serde_json::to_string_pretty(&intake::manifest::functions()).unwrap_or_default()
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("intake: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dev() -> DevResult<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws=warn")),
        )
        .init();
    let options = StackOptions::from_env()?;
    let stack = Stack::start(options).await?;
    println!("Intake is running:");
    println!(
        "  webhooks   {}/sms/twilio  (health: {}/health)",
        stack.url(),
        stack.url()
    );
    println!(
        "  dynamodb   {}  table {}",
        stack.dynamo.endpoint(),
        stack.store.table()
    );
    println!(
        "  recorder   {}  (intake outbox list)",
        stack.recorder.url()
    );
    println!(
        "  ses        {}  (web inbox of email acks)",
        stack.ses.inbox_url()
    );
    println!("Try: intake simulate twilio --body \"Halo, pesanan saya belum sampai\"");
    println!("Ctrl-C stops everything.");
    wait_for_shutdown().await;
    println!("stopping");
    let mut stack = stack;
    stack.dynamo.stop().await;
    Ok(())
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

async fn simulate_twilio(args: TwilioArgs) -> DevResult<()> {
    let base = args
        .url
        .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"));
    let token = std::env::var("TWILIO_AUTH_TOKEN").map_err(|_| "TWILIO_AUTH_TOKEN is not set")?;
    let account = var_or("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000");
    let sms = TwilioSms {
        from: args.from,
        to: args.to,
        body: args.body,
        message_sid: args.sid,
        media: args
            .media
            .into_iter()
            .map(|url| {
                let kind = if url.ends_with(".pdf") {
                    "application/pdf"
                } else {
                    "image/jpeg"
                };
                (url, kind.to_owned())
            })
            .collect(),
    };
    let signed = simulate::sign_twilio(&base, &token, &account, &sms);
    let (status, body) = simulate::post(&reqwest::Client::new(), &signed).await?;
    println!("{status} {body}");
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
        _ => unreachable!("handled by simulate_twilio and mail_command"),
    };
    let (status, body) = simulate::post_json(&reqwest::Client::new(), &post).await?;
    println!("{status} {body}");
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}").into())
    }
}

async fn store() -> DevResult<Store> {
    let config = intake::Config::from_env()?;
    Ok(Store::from_sdk_config(
        &intake::aws::load().await,
        &config.table_name,
    ))
}

async fn tickets_list(contact: Option<&str>, json: bool) -> DevResult<()> {
    let store = store().await?;
    let tickets = match contact {
        Some(address) => store.contact_tickets(address).await?,
        None => store.all_tickets().await?,
    };
    if json {
        for t in &tickets {
            println!("{}", serde_json::to_string(t)?);
        }
        return Ok(());
    }
    println!(
        "{:<26}  {:<6}  {:<6}  {:<8}  {:<16}  {:<6}  {:>4}  {:<8}  CREATED",
        "ID", "REF", "CHAN", "PROVIDER", "CONTACT", "STATUS", "MSGS", "ACK"
    );
    for t in &tickets {
        println!(
            "{:<26}  {:<6}  {:<6}  {:<8}  {:<16}  {:<6}  {:>4}  {:<8}  {}",
            t.id,
            t.reference,
            t.channel,
            t.provider,
            t.contact,
            t.status,
            t.message_count,
            t.ack_status,
            t.created_at
        );
    }
    Ok(())
}

async fn tickets_show(id: &str, json: bool) -> DevResult<()> {
    let store = store().await?;
    let id = if intake::ids::is_reference(&id.to_ascii_uppercase()) {
        store
            .ticket_id_of_reference(id)
            .await?
            .ok_or_else(|| format!("no ticket with reference {id}"))?
    } else {
        id.to_owned()
    };
    let ticket = store
        .ticket(&id)
        .await?
        .ok_or_else(|| format!("no ticket {id}"))?;
    let messages = store.messages(&id).await?;
    if json {
        let mut value = serde_json::to_value(&ticket)?;
        value["messages"] = serde_json::to_value(&messages)?;
        println!("{value}");
        return Ok(());
    }
    println!("Ticket #{} ({})", ticket.reference, ticket.id);
    println!("  channel   {} via {}", ticket.channel, ticket.provider);
    println!("  contact   {}", ticket.contact);
    println!("  status    {}", ticket.status);
    println!(
        "  ack       {}{}",
        ticket.ack_status,
        ticket
            .ack_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("  created   {}", ticket.created_at);
    for m in &messages {
        println!(
            "\n  [{}] {} ({})",
            m.received_at, m.from, m.provider_message_id
        );
        println!("    {}", m.body);
        for a in &m.attachments {
            println!("    attachment: {}", a.url.as_deref().unwrap_or("-"));
        }
    }
    Ok(())
}

async fn outbox_list(json: bool) -> DevResult<()> {
    let url = format!(
        "http://127.0.0.1:{}",
        var_or("INTAKE_RECORDER_PORT", "3001")
    );
    let requests = recorder::fetch(&url).await?;
    if json {
        for r in &requests {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    println!(
        "{:<30}  {:<6}  {:<8}  {:>6}  {:<16}  BODY",
        "TIME", "CHAN", "PROVIDER", "STATUS", "TO"
    );
    for r in &requests {
        println!(
            "{:<30}  {:<6}  {:<8}  {:>6}  {:<16}  {}",
            r.time,
            r.channel,
            r.provider,
            r.status,
            r.to.as_deref().unwrap_or("-"),
            r.body.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

async fn doctor(stack: &str) -> DevResult<()> {
    use aws_config::timeout::TimeoutConfig;
    // The functions' short timeouts suit a webhook, not a person waiting on CloudFormation.
    let config = intake::aws::loader()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .operation_timeout(std::time::Duration::from_secs(60))
                .build(),
        )
        .load()
        .await;
    let region = config
        .region()
        .map(|r| r.to_string())
        .ok_or("no AWS region: set AWS_REGION (or a profile's region)")?;
    println!("Checking stack {stack} in {region}");
    let report = intake_dev::doctor::diagnose(&config, stack).await;
    for check in &report.checks {
        println!("{check}");
    }
    if !report.webhook_urls.is_empty() {
        println!("\nWebhook URLs for the provider consoles:");
        let width = report
            .webhook_urls
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        for (name, url) in &report.webhook_urls {
            println!("  {name:<width$}  {url}");
        }
    }
    let (failures, warnings) = (report.failures(), report.warnings());
    println!(
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
    println!("{}: valid", path.display());
    warn_about_ses_senders(&settings, ses_identities);
    println!(
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
        println!(
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
        println!("   now: {}", brand.hours.state(now).key());
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
                    println!("\n-- {channel} · {language} · {state}{length}");
                    for line in text.lines() {
                        println!("   {line}");
                    }
                    if let Some(html) = html {
                        println!("   (html) {html}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Warns about brands whose email acks would be sent from an address under none of the SES
/// identities the deployment grants (`SesIdentities`): SES would refuse them.
fn warn_about_ses_senders(settings: &intake::ack::AckSettings, identities: Option<String>) {
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
            println!(
                "email acks: give --ses-identities (or SES_IDENTITIES) to check that SES may send as {}",
                senders
                    .iter()
                    .map(|(_, a)| *a)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return;
    }
    let outside = intake::providers::ses::senders_outside(settings, &identities);
    for (brand, address) in &outside {
        println!(
            "warning: brand {brand} sends email acks as {address}, which is under none of the SES identities ({}): \
             SES would refuse them. Verify it (or its domain) and add it to SesIdentities, or set the brand's support_address.",
            identities.join(", ")
        );
    }
    if outside.is_empty() && !senders.is_empty() {
        println!(
            "email acks: every sending address is under {}",
            identities.join(", ")
        );
    }
}
