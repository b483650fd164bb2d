//! The whole system on one machine: what `intake dev` runs and what the tests start.

use aws_sdk_dynamodb::config::{Credentials, Region};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

use intake::ack::Acknowledger;
use intake::metrics::{MemorySink, MetricsSink};
use intake::store::{Store, schema};
use intake::{Channel, Config, WebhookService};

use crate::dead_letters::DeadLetterQueue;
use crate::dotenv::var_or;
use crate::dynamo_local::DynamoLocal;
use crate::poller::{self, StreamPoller};
use crate::reach::Wanted;
use crate::recorder::Recorder;
use crate::ses_local::SesLocal;
use crate::{DevResult, free_port, server};
use intake::ack::sweep::{SCHEDULE_MINUTES, Sweeper};

/// Where each part listens and what the functions are configured with.
#[derive(Clone)]
pub struct StackOptions {
    /// Port of the webhook server (`INTAKE_PORT`, 3000).
    pub port: u16,
    /// Port of the recorder (`INTAKE_RECORDER_PORT`, 3001).
    pub recorder_port: u16,
    /// Port of DynamoDB Local (from `AWS_ENDPOINT_URL_DYNAMODB`, 8000).
    pub dynamodb_port: u16,
    /// Port of the SES v2 emulator (from `AWS_ENDPOINT_URL_SESV2`, 8005).
    pub ses_port: u16,
    /// Where DynamoDB Local keeps its data (`INTAKE_DATA_DIR`, else `.local/dynamodb` in the
    /// project; the value `:memory:` keeps it in memory).
    pub data_dir: Option<PathBuf>,
    /// The functions' configuration.
    pub config: Config,
    /// The acknowledger's clock (the system clock when `None`).
    pub clock: Option<intake::ack::Clock>,
    /// Where the poller writes the batches it gives up on (`INTAKE_DEAD_LETTER_DIR`, else
    /// `.local/dead-letters` in the project; tests: a fresh directory, or an SQS queue).
    pub dead_letters: DeadLetterQueue,
    /// Retries of a failing batch before it is dead-lettered, and the pause before the
    /// first ([`poller::MAX_RETRIES`], [`poller::RETRY_PAUSE`]: the mapping's).
    pub retries: (u32, std::time::Duration),
    /// While this reads `true`, the stream poller reads nothing (`intake load --hold-acks`
    /// measures ingest alone, then releases the acks); `None`: never held.
    pub acks_held: Option<tokio::sync::watch::Receiver<bool>>,
    /// Where the webhook functions archive verified deliveries they did not store
    /// (`ARCHIVE_BUCKET` with `ARCHIVE_ENDPOINT_URL`, a local S3 server such as moto);
    /// `None`: off, as other tests' stacks run.
    pub archive: Option<crate::replay::ArchiveOptions>,
}

/// `INTAKE_DEAD_LETTER_DIR`, else `.local/dead-letters` in the project: where the local
/// stack keeps dead letters (what `intake acks` reads without `--stack`).
pub fn local_dead_letter_dir() -> DevResult<PathBuf> {
    match std::env::var_os("INTAKE_DEAD_LETTER_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(crate::project_root()?.join(".local/dead-letters")),
    }
}

impl StackOptions {
    /// From the environment (after [`crate::dotenv::load`]), with the documented defaults.
    pub fn from_env() -> DevResult<StackOptions> {
        let port: u16 = var_or("INTAKE_PORT", "3000").parse()?;
        let recorder_port: u16 = var_or("INTAKE_RECORDER_PORT", "3001").parse()?;
        let endpoint = var_or("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000");
        let dynamodb_port = url::Url::parse(&endpoint)?
            .port_or_known_default()
            .ok_or("AWS_ENDPOINT_URL_DYNAMODB has no port")?;
        let ses_endpoint = var_or("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:8005");
        let ses_port = url::Url::parse(&ses_endpoint)?
            .port_or_known_default()
            .ok_or("AWS_ENDPOINT_URL_SESV2 has no port")?;
        let root = crate::project_root()?;
        let defaults = [
            ("TABLE_NAME", "intake-local".to_owned()),
            ("PUBLIC_BASE_URL", format!("http://127.0.0.1:{port}")),
            (
                "TWILIO_API_BASE_URL",
                format!("http://127.0.0.1:{recorder_port}"),
            ),
            // Plivo
            (
                "PLIVO_API_BASE_URL",
                format!("http://127.0.0.1:{recorder_port}"),
            ),
            ("AWS_ENDPOINT_URL_SESV2", ses_endpoint.clone()),
            ("SES_TOPIC_ARNS", TEST_SES_TOPIC_ARN.to_owned()),
            ("SES_IDENTITIES", "tokoku.id".to_owned()),
            ("AWS_SMS_TOPIC_ARNS", TEST_AWS_SMS_TOPIC_ARN.to_owned()),
            ("AWS_SMS_SEND", "true".to_owned()),
            (
                "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2",
                format!("http://127.0.0.1:{recorder_port}"),
            ),
            (
                "SNS_TRUSTED_CERT_FILE",
                root.join(TEST_SNS_CERT).display().to_string(),
            ),
            (
                "SNS_CONFIRM_BASE_URL",
                format!("http://127.0.0.1:{recorder_port}/sns"),
            ),
            (
                "AWS_ENDPOINT_URL_S3",
                format!("http://127.0.0.1:{recorder_port}/s3"),
            ),
            ("MAILGUN_SIGNING_KEY", TEST_MAILGUN_SIGNING_KEY.to_owned()),
            // MessageBird / Bird: both platforms, acks to the recorder.
            (
                "MESSAGEBIRD_SIGNING_KEY",
                TEST_MESSAGEBIRD_SIGNING_KEY.to_owned(),
            ),
            ("BIRD_SIGNING_KEY", TEST_BIRD_SIGNING_KEY.to_owned()),
            (
                "MESSAGEBIRD_ACCESS_KEY",
                "test-messagebird-access-key".to_owned(),
            ),
            ("BIRD_ACCESS_KEY", "test-bird-access-key".to_owned()),
            ("BIRD_WORKSPACE_ID", TEST_BIRD_WORKSPACE_ID.to_owned()),
            (
                "MESSAGEBIRD_API_BASE_URL",
                format!("http://127.0.0.1:{recorder_port}"),
            ),
            (
                "BIRD_API_BASE_URL",
                format!("http://127.0.0.1:{recorder_port}"),
            ),
            ("TELNYX_PUBLIC_KEY", test_telnyx_public_key()?),
            ("TELNYX_API_KEY", TEST_TELNYX_API_KEY.to_owned()),
            (
                "TELNYX_API_BASE_URL",
                format!("http://127.0.0.1:{recorder_port}"),
            ),
            ("SENDGRID_BASIC_AUTH", TEST_BASIC_AUTH.to_owned()),
            ("POSTMARK_BASIC_AUTH", TEST_BASIC_AUTH.to_owned()),
        ];
        let config = Config::from_lookup(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| {
                    defaults
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.clone())
                })
        })?;
        Ok(StackOptions {
            port,
            recorder_port,
            dynamodb_port,
            ses_port,
            clock: None,
            dead_letters: DeadLetterQueue::Dir(local_dead_letter_dir()?),
            retries: (poller::MAX_RETRIES, poller::RETRY_PAUSE),
            acks_held: None,
            archive: crate::replay::ArchiveOptions::from_env()?,
            data_dir: match std::env::var("INTAKE_DATA_DIR").ok().as_deref() {
                Some(":memory:") => None,
                Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
                _ => Some(root.join(".local/dynamodb")),
            },
            config,
        })
    }

    /// The ports the stack listens on, with what listens and the setting that chooses each
    /// (for [`crate::reach::ports_free`]).
    pub fn ports(&self) -> [Wanted; 4] {
        [
            Wanted {
                port: self.port,
                what: "the webhook server",
                setting: "INTAKE_PORT",
            },
            Wanted {
                port: self.recorder_port,
                what: "the recorder",
                setting: "INTAKE_RECORDER_PORT",
            },
            Wanted {
                port: self.dynamodb_port,
                what: "DynamoDB Local",
                setting: "AWS_ENDPOINT_URL_DYNAMODB",
            },
            Wanted {
                port: self.ses_port,
                what: "the SES emulator",
                setting: "AWS_ENDPOINT_URL_SESV2",
            },
        ]
    }

    /// Free ports, data in `data_dir` (or memory), a Twilio account with `TEST_AUTH_TOKEN`:
    /// for tests, which may run several stacks at once.
    pub fn ephemeral(data_dir: Option<PathBuf>) -> DevResult<StackOptions> {
        let port = free_port()?;
        let recorder_port = free_port()?;
        let dynamodb_port = free_port()?;
        let ses_port = free_port()?;
        let root = crate::project_root()?;
        let telnyx_public_key = test_telnyx_public_key()?;
        let config = Config::from_lookup(|name| {
            Some(match name {
                "AWS_ENDPOINT_URL_SESV2" => format!("http://127.0.0.1:{ses_port}"),
                "SES_TOPIC_ARNS" => TEST_SES_TOPIC_ARN.to_owned(),
                "SES_IDENTITIES" => "tokoku.id".to_owned(),
                "SES_CONFIGURATION_SET" => TEST_SES_CONFIGURATION_SET.to_owned(),
                "AWS_SMS_TOPIC_ARNS" => TEST_AWS_SMS_TOPIC_ARN.to_owned(),
                "AWS_SMS_SEND" => "true".to_owned(),
                "AWS_SMS_CONFIGURATION_SET" => TEST_AWS_SMS_CONFIGURATION_SET.to_owned(),
                "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2" => {
                    format!("http://127.0.0.1:{recorder_port}")
                }
                "SNS_TRUSTED_CERT_FILE" => root.join(TEST_SNS_CERT).display().to_string(),
                "SNS_CONFIRM_BASE_URL" => format!("http://127.0.0.1:{recorder_port}/sns"),
                "AWS_ENDPOINT_URL_S3" => format!("http://127.0.0.1:{recorder_port}/s3"),
                "MAILGUN_SIGNING_KEY" => TEST_MAILGUN_SIGNING_KEY.to_owned(),
                "SENDGRID_BASIC_AUTH" | "POSTMARK_BASIC_AUTH" => TEST_BASIC_AUTH.to_owned(),
                "TABLE_NAME" => "intake-test".to_owned(),
                "PUBLIC_BASE_URL" => format!("http://127.0.0.1:{port}"),
                "TWILIO_AUTH_TOKEN" => TEST_AUTH_TOKEN.to_owned(),
                "TWILIO_ACCOUNT_SID" => TEST_ACCOUNT_SID.to_owned(),
                "TWILIO_API_BASE_URL" => format!("http://127.0.0.1:{recorder_port}"),
                // Plivo
                "PLIVO_AUTH_ID" => TEST_PLIVO_AUTH_ID.to_owned(),
                "PLIVO_AUTH_TOKEN" => TEST_PLIVO_AUTH_TOKEN.to_owned(),
                "PLIVO_MAIN_AUTH_TOKEN" => TEST_PLIVO_MAIN_AUTH_TOKEN.to_owned(),
                "PLIVO_API_BASE_URL" => format!("http://127.0.0.1:{recorder_port}"),
                // MessageBird / Bird
                "MESSAGEBIRD_SIGNING_KEY" => TEST_MESSAGEBIRD_SIGNING_KEY.to_owned(),
                "BIRD_SIGNING_KEY" => TEST_BIRD_SIGNING_KEY.to_owned(),
                "MESSAGEBIRD_ACCESS_KEY" => "test-messagebird-access-key".to_owned(),
                "BIRD_ACCESS_KEY" => "test-bird-access-key".to_owned(),
                "BIRD_WORKSPACE_ID" => TEST_BIRD_WORKSPACE_ID.to_owned(),
                "MESSAGEBIRD_API_BASE_URL" | "BIRD_API_BASE_URL" => {
                    format!("http://127.0.0.1:{recorder_port}")
                }
                // Vonage
                "VONAGE_SIGNATURE_SECRET" => TEST_VONAGE_SIGNATURE_SECRET.to_owned(),
                "VONAGE_SIGNATURE_METHOD" => "sha256".to_owned(),
                "VONAGE_API_KEY" => TEST_VONAGE_API_KEY.to_owned(),
                "VONAGE_API_SECRET" => "test-vonage-api-secret".to_owned(),
                "VONAGE_API_BASE_URL" | "VONAGE_REST_BASE_URL" => {
                    format!("http://127.0.0.1:{recorder_port}")
                }
                "META_APP_SECRET" => TEST_META_APP_SECRET.to_owned(),
                "META_VERIFY_TOKEN" => TEST_META_VERIFY_TOKEN.to_owned(),
                "META_PAGE_ACCESS_TOKEN" => "test-page-token".to_owned(),
                "META_WHATSAPP_TOKEN" => "test-whatsapp-token".to_owned(),
                "META_GRAPH_BASE_URL" | "TELEGRAM_API_BASE_URL" | "LINE_API_BASE_URL" => {
                    format!("http://127.0.0.1:{recorder_port}")
                }
                "TELEGRAM_BOT_TOKEN" => TEST_TELEGRAM_BOT_TOKEN.to_owned(),
                "TELEGRAM_SECRET_TOKEN" => TEST_TELEGRAM_SECRET.to_owned(),
                "LINE_CHANNEL_SECRET" => TEST_LINE_CHANNEL_SECRET.to_owned(),
                "LINE_CHANNEL_ACCESS_TOKEN" => "test-line-token".to_owned(),
                "TELNYX_PUBLIC_KEY" => telnyx_public_key.clone(),
                "TELNYX_API_KEY" => TEST_TELNYX_API_KEY.to_owned(),
                "TELNYX_API_BASE_URL" => format!("http://127.0.0.1:{recorder_port}"),
                _ => return None,
            })
        })?;
        Ok(StackOptions {
            port,
            recorder_port,
            dynamodb_port,
            ses_port,
            data_dir,
            config,
            clock: None,
            dead_letters: DeadLetterQueue::Dir(
                std::env::temp_dir().join(format!("intake-dead-letters-{}", ulid::Ulid::new())),
            ),
            retries: (poller::MAX_RETRIES, poller::RETRY_PAUSE),
            acks_held: None,
            archive: None,
        })
    }
}

/// Twilio auth token of test stacks.
pub const TEST_AUTH_TOKEN: &str = "test-twilio-auth-token";
/// Plivo Auth ID of test stacks (a subaccount's shape).
pub const TEST_PLIVO_AUTH_ID: &str = "SA00000000000000TEST";
/// Plivo auth token of test stacks (signs `X-Plivo-Signature-V3`).
pub const TEST_PLIVO_AUTH_TOKEN: &str = "test-plivo-auth-token";
/// Plivo main account token of test stacks (signs `X-Plivo-Signature-Ma-V3`).
pub const TEST_PLIVO_MAIN_AUTH_TOKEN: &str = "test-plivo-main-auth-token";
/// Legacy MessageBird signing key of local and test stacks.
pub const TEST_MESSAGEBIRD_SIGNING_KEY: &str = "test-messagebird-signing-key";
/// Bird webhook signing key of local and test stacks.
pub const TEST_BIRD_SIGNING_KEY: &str = "test-bird-signing-key";
/// Bird workspace of local and test stacks.
pub const TEST_BIRD_WORKSPACE_ID: &str = "0a0b0c0d-0000-4000-8000-000000000001";
/// Vonage signature secret of test stacks (SMS API webhooks signed with HMAC-SHA256, and
/// Messages API JWTs).
pub const TEST_VONAGE_SIGNATURE_SECRET: &str = "test-vonage-signature-secret";
/// Vonage API key of test stacks.
pub const TEST_VONAGE_API_KEY: &str = "abcd1234";
/// Meta App Secret of test stacks.
pub const TEST_META_APP_SECRET: &str = "test-meta-app-secret";
/// Meta verify token of test stacks.
pub const TEST_META_VERIFY_TOKEN: &str = "test-meta-verify-token";
/// Telegram bot token of test stacks (bot id 7000000001).
pub const TEST_TELEGRAM_BOT_TOKEN: &str = "7000000001:TEST-telegram-bot-token";
/// Telegram webhook secret of test stacks.
pub const TEST_TELEGRAM_SECRET: &str = "test-telegram-secret";
/// LINE channel secret of test stacks.
pub const TEST_LINE_CHANNEL_SECRET: &str = "test-line-channel-secret";
/// The seed of the Ed25519 key pair that stands in for Telnyx's on local and test stacks
/// (`intake simulate telnyx` signs with it; the stacks are given its public key).
pub const TEST_TELNYX_SEED: [u8; 32] = *b"intake-test-telnyx-ed25519-seed!";
/// Telnyx API key of local and test stacks.
pub const TEST_TELNYX_API_KEY: &str = "KEYtest-telnyx-api-key";

/// The public key (base64) of [`TEST_TELNYX_SEED`], as `TELNYX_PUBLIC_KEY` holds it.
pub fn test_telnyx_public_key() -> DevResult<String> {
    Ok(intake::providers::telnyx::public_key_of(&TEST_TELNYX_SEED)?)
}

/// The SNS topic local and test stacks accept SES mail from.
pub const TEST_SES_TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:111111111111:intake-local-mail";
/// The SNS topic local and test stacks accept AWS SMS from.
pub const TEST_AWS_SMS_TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:111111111111:intake-local-sms";
/// The certificate local stacks trust for SNS signatures (its key is public: tests only).
pub const TEST_SNS_CERT: &str = "tests/fixtures/sns-dev/certificate.pem";
/// The private key `intake simulate ses` signs with.
pub const TEST_SNS_KEY: &str = "tests/fixtures/sns-dev/privatekey.pem";
/// The AWS End User Messaging SMS configuration set test stacks send SMS acks with.
pub const TEST_AWS_SMS_CONFIGURATION_SET: &str = "intake-test-sms-acks";
/// The SES configuration set test stacks send acks with.
pub const TEST_SES_CONFIGURATION_SET: &str = "intake-test-acks";
/// Mailgun webhook signing key of local and test stacks.
pub const TEST_MAILGUN_SIGNING_KEY: &str = "test-mailgun-signing-key";
/// Basic credentials of SendGrid and Postmark webhooks on local and test stacks.
pub const TEST_BASIC_AUTH: &str = "intake:test-basic-password";
/// Twilio account SID of test stacks.
pub const TEST_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

/// A running stack. Dropping it stops every part.
pub struct Stack {
    /// DynamoDB Local (tests stop and restart it).
    pub dynamo: DynamoLocal,
    /// The provider API stand-in.
    pub recorder: Recorder,
    /// The SES v2 emulator (email acks; web inbox at its root).
    pub ses: SesLocal,
    /// The store the functions use.
    pub store: Store,
    /// The acknowledger the poller feeds (tests may call it directly).
    pub acknowledger: Arc<Acknowledger>,
    /// What it was started with.
    pub options: StackOptions,
    /// The webhook routes served (`/sms/twilio`, ...).
    pub routes: Vec<String>,
    /// Every EMF metric line the functions wrote (in a deployment they go to stdout).
    pub metrics: MemorySink,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Stack {
    /// Starts DynamoDB Local, creates the table, then the recorder, the acknowledger's
    /// stream poller and the webhook server; returns once `GET /health` would answer.
    pub async fn start(options: StackOptions) -> DevResult<Stack> {
        // Our own ports first, before the emulators take seconds to start: a port is only
        // ours once bound. (The emulators refuse a port in use, and retry when they exit at
        // once.)
        let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
        let recorder = Recorder::start(options.recorder_port).await?;
        let dynamo = DynamoLocal::start(options.dynamodb_port, options.data_dir.as_deref()).await?;
        let sdk = local_sdk_config(&dynamo.endpoint()).await;
        let store = Store::from_sdk_config(&sdk, &options.config.table_name);
        // The table with a patient client: a JVM that has only just bound its port can take
        // longer than the functions' 6 s budget to answer its first request when many stacks
        // start at once on a small machine (a CI run failed so).
        let setup = Store::from_sdk_config(
            &setup_sdk_config(&dynamo.endpoint()).await,
            &options.config.table_name,
        );
        schema::create_table_if_missing(setup.client(), setup.table()).await?;
        let ses = SesLocal::start(&crate::project_root()?, options.ses_port).await?;
        let clients = intake::providers::Clients::new(&sdk)?;
        let mut acknowledger = Acknowledger::from_config(&options.config, store.clone(), &clients);
        if let Some(clock) = options.clock.clone() {
            acknowledger = acknowledger.with_clock(clock);
        }
        let metrics = MemorySink::default();
        let sink: intake::metrics::Sink = Arc::new(LocalMetrics(metrics.clone()));
        let acknowledger = Arc::new(acknowledger.with_metrics(sink.clone()));
        let mut poller = StreamPoller::new(&sdk, store.table(), acknowledger.clone())
            .with_retries(options.retries.0, options.retries.1)
            .with_dead_letters(options.dead_letters.clone());
        if let Some(held) = options.acks_held.clone() {
            poller = poller.held_while(held);
        }
        let archive = match &options.archive {
            Some(archive) => Some(archive.open(&sdk).await?),
            None => None,
        };
        let services: Vec<WebhookService> = Channel::ALL
            .into_iter()
            .filter_map(|c| {
                let service =
                    WebhookService::from_config(c, &options.config, store.clone(), &clients)
                        .ok()?
                        .with_metrics(sink.clone());
                Some(match &archive {
                    Some(archive) => service.with_archive(archive.clone()),
                    None => service,
                })
            })
            .collect();
        // A channel without providers starts and answers 404, as in the cloud.
        let routes: Vec<String> = services.iter().flat_map(|s| s.routes()).collect();
        if routes.is_empty() {
            return Err(
                "no provider is configured: set TWILIO_AUTH_TOKEN and TWILIO_ACCOUNT_SID".into(),
            );
        }
        let sweeper =
            Sweeper::new(store.clone(), sink.clone()).resending_with(acknowledger.clone());
        let tasks = vec![
            tokio::spawn(poller.run()),
            server::spawn(listener, server::webhook_handler(services)),
            tokio::spawn(sweep_on_schedule(sweeper)),
        ];
        Ok(Stack {
            dynamo,
            recorder,
            ses,
            store,
            acknowledger,
            options,
            routes,
            metrics,
            tasks,
        })
    }

    /// The webhook server's base URL (what `PUBLIC_BASE_URL` says).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.options.port)
    }
}

/// The stale-claim sweep (`intake::ack::sweep`) every [`SCHEDULE_MINUTES`] minutes, as the
/// deployed schedule runs it, from one period after the start.
async fn sweep_on_schedule(sweeper: Sweeper) {
    let period = std::time::Duration::from_secs(u64::from(SCHEDULE_MINUTES) * 60);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticks.tick().await;
        match sweeper.sweep(jiff::Timestamp::now()).await {
            Ok(report) if report.interrupted > 0 => {
                tracing::warn!(?report, "stale ack claims failed as interrupted");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error_kind = e.kind(), "stale-claim sweep failed"),
        }
    }
}

/// The local stack's metric sink: lines are kept for the tests (and `intake dev`), and shown
/// in the log at `debug` under the target `metrics` (`RUST_LOG=info,metrics=debug`) rather
/// than printed among the human-readable logs.
struct LocalMetrics(MemorySink);

impl MetricsSink for LocalMetrics {
    fn emit(&self, line: &str) {
        tracing::debug!(target: "metrics", "{line}");
        self.0.emit(line);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// SDK configuration for DynamoDB Local: any region and credentials do (it runs with
/// `-sharedDb`), the endpoint is the local one, timeouts as in the cloud.
pub async fn local_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    local_loader(endpoint).load().await
}

/// [`local_sdk_config`] with minutes instead of seconds to answer, for setting up a stack
/// (creating its table), never for the functions themselves.
pub async fn setup_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let patient = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .operation_attempt_timeout(std::time::Duration::from_secs(30))
        .operation_timeout(std::time::Duration::from_secs(120))
        .build();
    local_loader(endpoint)
        .timeout_config(patient)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
        .load()
        .await
}

fn local_loader(endpoint: &str) -> aws_config::ConfigLoader {
    intake::aws::loader()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "intake-local",
        ))
        .endpoint_url(endpoint)
}
