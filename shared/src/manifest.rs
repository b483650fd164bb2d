//! What a deployment must provide: every function, the routes it serves, and the environment
//! it reads. `intake manifest --json` prints it; the SAM template and the CDK app are checked
//! against it, so a provider added here but not wired there fails the build.

use serde::Serialize;

use crate::model::Channel;

/// A provider route: `/{channel}/{provider}` and the methods it accepts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Route {
    /// Channel segment.
    pub channel: Channel,
    /// Provider segment.
    pub provider: &'static str,
    /// HTTP methods (GET where the provider handshakes).
    pub methods: &'static [&'static str],
}

/// The methods `/{channel}/{provider}` accepts, from [`ROUTES`] (`POST` for a route not
/// listed there), for the `Allow` header of a 405.
pub fn methods(channel: Channel, provider: &str) -> &'static [&'static str] {
    ROUTES
        .iter()
        .find(|r| r.channel == channel && r.provider == provider)
        .map_or(&["POST"], |r| r.methods)
}

/// Every provider route Intake serves. One line per provider.
pub const ROUTES: &[Route] = &[
    Route {
        channel: Channel::Sms,
        provider: "twilio",
        methods: &["POST"],
    },
    // Vonage: the SMS API sends GET (query) or POST; the Messages API POSTs JSON.
    Route {
        channel: Channel::Sms,
        provider: "vonage",
        methods: &["GET", "POST"],
    },
    Route {
        channel: Channel::Sms,
        provider: "plivo",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Sms,
        provider: "messagebird",
        methods: &["GET", "POST"],
    },
    Route {
        channel: Channel::Sms,
        provider: "telnyx",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Sms,
        provider: "aws",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Email,
        provider: "ses",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Email,
        provider: "mailgun",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Email,
        provider: "sendgrid",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Email,
        provider: "postmark",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Social,
        provider: "meta",
        methods: &["GET", "POST"],
    },
    Route {
        channel: Channel::Social,
        provider: "telegram",
        methods: &["POST"],
    },
    Route {
        channel: Channel::Social,
        provider: "line",
        methods: &["POST"],
    },
];

/// Which functions of a provider read a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The channel's webhook function (verifying).
    Webhook,
    /// The acknowledger (sending).
    Acknowledger,
    /// Both.
    Both,
}

/// An environment variable a function reads.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EnvVar {
    /// Its name.
    pub name: &'static str,
    /// Which functions read it (not part of the deployment manifest: each function's list
    /// already says).
    #[serde(skip)]
    pub side: Side,
    /// A secret: deployments set `<NAME>_PARAM` (an SSM SecureString parameter name) instead,
    /// and the function reads the parameter once at cold start.
    pub secret: bool,
    /// Whether the function refuses to start without it.
    pub required: bool,
}

const fn var(name: &'static str) -> EnvVar {
    EnvVar {
        name,
        side: Side::Both,
        secret: false,
        required: true,
    }
}

const fn optional(name: &'static str) -> EnvVar {
    EnvVar {
        name,
        side: Side::Both,
        secret: false,
        required: false,
    }
}

const fn secret(name: &'static str) -> EnvVar {
    EnvVar {
        name,
        side: Side::Both,
        secret: true,
        required: false,
    }
}

/// Read by the webhook only.
const fn webhook(v: EnvVar) -> EnvVar {
    EnvVar {
        side: Side::Webhook,
        ..v
    }
}

/// Read by the acknowledger only.
const fn acknowledger(v: EnvVar) -> EnvVar {
    EnvVar {
        side: Side::Acknowledger,
        ..v
    }
}

/// Variables of each provider, by the provider's route name.
pub const PROVIDER_ENV: &[(&str, &[EnvVar])] = &[
    (
        "twilio",
        &[
            optional("TWILIO_ACCOUNT_SID"),
            secret("TWILIO_AUTH_TOKEN"),
            acknowledger(optional("TWILIO_API_BASE_URL")),
        ],
    ),
    // Vonage
    (
        "vonage",
        &[
            webhook(secret("VONAGE_SIGNATURE_SECRET")),
            webhook(optional("VONAGE_SIGNATURE_METHOD")),
            acknowledger(optional("VONAGE_API_KEY")),
            acknowledger(secret("VONAGE_API_SECRET")),
            acknowledger(optional("VONAGE_SEND_API")),
            acknowledger(optional("VONAGE_API_BASE_URL")),
            acknowledger(optional("VONAGE_REST_BASE_URL")),
        ],
    ),
    (
        "plivo",
        &[
            optional("PLIVO_AUTH_ID"),
            secret("PLIVO_AUTH_TOKEN"),
            // Signs X-Plivo-Signature-Ma-V3 only: the acknowledger sends with the account's own.
            webhook(secret("PLIVO_MAIN_AUTH_TOKEN")),
            acknowledger(optional("PLIVO_API_BASE_URL")),
        ],
    ),
    (
        "messagebird",
        &[
            // Legacy MessageBird signs with a JWT, Bird with an HMAC: each key enables its
            // platform's webhooks; each access key its platform's acks.
            webhook(secret("MESSAGEBIRD_SIGNING_KEY")),
            webhook(secret("BIRD_SIGNING_KEY")),
            acknowledger(secret("MESSAGEBIRD_ACCESS_KEY")),
            acknowledger(optional("MESSAGEBIRD_API_BASE_URL")),
            acknowledger(secret("BIRD_ACCESS_KEY")),
            acknowledger(optional("BIRD_WORKSPACE_ID")),
            acknowledger(optional("BIRD_API_BASE_URL")),
        ],
    ),
    (
        "telnyx",
        &[
            // The account's public key is not secret, but it decides what is accepted: it is
            // kept in SSM like the secrets, and checked as strictly.
            webhook(secret("TELNYX_PUBLIC_KEY")),
            acknowledger(secret("TELNYX_API_KEY")),
            acknowledger(optional("TELNYX_MESSAGING_PROFILE_ID")),
            acknowledger(optional("TELNYX_API_BASE_URL")),
        ],
    ),
    (
        "ses",
        &[
            // Inbound: SNS topics the SES receipt rule publishes to. Acks: the verified
            // identities (IAM allows sending as these only) and an optional configuration set.
            webhook(optional("SES_TOPIC_ARNS")),
            acknowledger(optional("SES_IDENTITIES")),
            acknowledger(optional("SES_CONFIGURATION_SET")),
        ],
    ),
    (
        "aws",
        &[
            // Inbound: SNS topics two-way SMS publishes to. Acks: SendTextMessage when on.
            webhook(optional("AWS_SMS_TOPIC_ARNS")),
            acknowledger(optional("AWS_SMS_SEND")),
            acknowledger(optional("AWS_SMS_CONFIGURATION_SET")),
        ],
    ),
    ("mailgun", &[webhook(secret("MAILGUN_SIGNING_KEY"))]),
    ("sendgrid", &[webhook(secret("SENDGRID_BASIC_AUTH"))]),
    ("postmark", &[webhook(secret("POSTMARK_BASIC_AUTH"))]),
    (
        "meta",
        &[
            webhook(secret("META_APP_SECRET")),
            webhook(secret("META_VERIFY_TOKEN")),
            acknowledger(secret("META_PAGE_ACCESS_TOKEN")),
            acknowledger(secret("META_WHATSAPP_TOKEN")),
            acknowledger(optional("META_GRAPH_BASE_URL")),
            acknowledger(optional("META_GRAPH_VERSION")),
            acknowledger(optional("META_WHATSAPP_TEMPLATE")),
        ],
    ),
    (
        "telegram",
        &[
            // The webhook reads the bot token for the bot's id (our address), and the ack
            // settings for the brand's `/start` greeting.
            secret("TELEGRAM_BOT_TOKEN"),
            webhook(ACK_SETTINGS),
            webhook(secret("TELEGRAM_SECRET_TOKEN")),
            acknowledger(optional("TELEGRAM_API_BASE_URL")),
        ],
    ),
    (
        "line",
        &[
            webhook(secret("LINE_CHANNEL_SECRET")),
            acknowledger(secret("LINE_CHANNEL_ACCESS_TOKEN")),
            acknowledger(optional("LINE_API_BASE_URL")),
        ],
    ),
];

/// The acknowledgement settings (`intake.toml`) as a document. Deployments keep it in an SSM
/// parameter and set `INTAKE_CONFIG_TOML_PARAM` to its name, like a secret: the function reads
/// it at every cold start, so a changed parameter reaches every new execution environment
/// without a redeploy (and is not limited to Lambda's 4 KB of environment).
pub const ACK_SETTINGS: EnvVar = secret("INTAKE_CONFIG_TOML");

/// Every variable that may name an SSM parameter instead (`<NAME>_PARAM`), once each.
pub fn parameter_vars() -> impl Iterator<Item = &'static EnvVar> {
    let mut seen = std::collections::BTreeSet::new();
    PROVIDER_ENV
        .iter()
        .flat_map(|(_, vars)| vars.iter())
        .chain(std::iter::once(&ACK_SETTINGS))
        .filter(move |v| v.secret && seen.insert(v.name))
}

/// The variables of `env` a function may read from SSM parameters.
fn read_from_ssm(env: &[EnvVar]) -> Vec<&'static str> {
    env.iter().filter(|v| v.secret).map(|v| v.name).collect()
}

/// The function that consumes the table's stream and sends the acks.
pub const ACKNOWLEDGER: &str = "acknowledger";

/// The webhook function of a channel.
pub const fn webhook_function(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "sms-webhook",
        Channel::Email => "email-webhook",
        Channel::Social => "social-webhook",
    }
}

/// What triggers a function.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// HTTP API routes of a channel.
    Http(Channel),
    /// The table's DynamoDB stream.
    TableStream,
}

/// One Lambda function of the workspace.
#[derive(Debug, Clone, Serialize)]
pub struct Function {
    /// Crate and binary name under `functions/`.
    pub name: &'static str,
    /// What invokes it.
    pub trigger: Trigger,
    /// Routes it serves (HTTP functions).
    pub routes: Vec<Route>,
    /// Environment it reads.
    pub env: Vec<EnvVar>,
    /// The IAM permissions its role needs, and on what ([`crate::grants`]).
    pub grants: Vec<crate::grants::Grant>,
}

/// Every function with its routes and environment.
pub fn functions() -> Vec<Function> {
    let common = [
        var("TABLE_NAME"),
        optional("INTAKE_CONFIG"),
        optional("RUST_LOG"),
    ];
    let provider_env = |routes: &[Route], side: Side| -> Vec<EnvVar> {
        routes
            .iter()
            .flat_map(|r| {
                PROVIDER_ENV
                    .iter()
                    .filter(move |(p, _)| *p == r.provider)
                    .flat_map(|(_, vars)| vars.iter().copied())
            })
            .filter(|v| v.side == Side::Both || v.side == side)
            .fold(Vec::new(), |mut vars: Vec<EnvVar>, v| {
                if !vars.iter().any(|seen| seen.name == v.name) {
                    vars.push(v);
                }
                vars
            })
    };
    let mut out = Vec::new();
    for channel in Channel::ALL {
        let name = webhook_function(channel);
        let routes: Vec<Route> = ROUTES
            .iter()
            .copied()
            .filter(|r| r.channel == channel)
            .collect();
        if routes.is_empty() {
            continue;
        }
        let mut env = common.to_vec();
        env.push(var("PUBLIC_BASE_URL"));
        // The archive of verified deliveries that were not stored (archive.rs): the stack's
        // bucket, and `true` to keep stored ones too.
        env.push(optional("ARCHIVE_BUCKET"));
        env.push(optional("ARCHIVE_ALL"));
        env.extend(provider_env(&routes, Side::Webhook));
        // The SMS webhook reads the keywords and the default country code of intake.toml.
        if channel == Channel::Sms && !env.iter().any(|v| v.name == ACK_SETTINGS.name) {
            env.push(ACK_SETTINGS);
        }
        let grants = crate::grants::webhook(channel, &read_from_ssm(&env));
        out.push(Function {
            name,
            trigger: Trigger::Http(channel),
            routes,
            env,
            grants,
        });
    }
    let mut env = common.to_vec();
    env.push(ACK_SETTINGS);
    env.extend(provider_env(ROUTES, Side::Acknowledger));
    let grants = crate::grants::acknowledger(&read_from_ssm(&env));
    out.push(Function {
        name: ACKNOWLEDGER,
        trigger: Trigger::TableStream,
        routes: Vec::new(),
        env,
        grants,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_crate_exists_and_every_route_has_a_provider() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
        for f in functions() {
            assert!(
                root.join(f.name).join("Cargo.toml").is_file(),
                "functions/{} is missing",
                f.name
            );
        }
        let config = crate::Config::from_lookup(|name| {
            Some(match name {
                "TABLE_NAME" => "t".to_owned(),
                "TWILIO_AUTH_TOKEN" => "x".to_owned(),
                "TWILIO_ACCOUNT_SID" => "AC1".to_owned(),
                "PLIVO_AUTH_TOKEN" => "p".to_owned(),
                "PLIVO_AUTH_ID" => "MA1".to_owned(),
                "MESSAGEBIRD_SIGNING_KEY" | "BIRD_SIGNING_KEY" => "k".to_owned(),
                "AWS_SMS_TOPIC_ARNS" => "arn:aws:sns:us-east-1:111111111111:intake-sms".to_owned(),
                // RFC 8032 section 7.1, TEST 1.
                "TELNYX_PUBLIC_KEY" => "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".to_owned(),
                "VONAGE_SIGNATURE_SECRET" => "v".to_owned(),
                "META_APP_SECRET" | "META_VERIFY_TOKEN" => "m".to_owned(),
                "TELEGRAM_BOT_TOKEN" => "123:abc".to_owned(),
                "TELEGRAM_SECRET_TOKEN" => "s".to_owned(),
                "LINE_CHANNEL_SECRET" | "LINE_CHANNEL_ACCESS_TOKEN" => "l".to_owned(),
                "SES_TOPIC_ARNS" => "arn:aws:sns:us-east-1:111111111111:intake-mail".to_owned(),
                "MAILGUN_SIGNING_KEY" => "key".to_owned(),
                "SENDGRID_BASIC_AUTH" | "POSTMARK_BASIC_AUTH" => {
                    "intake:0123456789abcdef".to_owned()
                }
                _ => return None,
            })
        })
        .expect("config");
        for route in ROUTES {
            let served = crate::providers::inbound(
                route.channel,
                &config,
                &crate::providers::Clients::without_aws(),
            )
            .expect("providers");
            assert!(
                served.iter().any(|p| p.name() == route.provider),
                "{route:?} has no provider"
            );
            assert!(
                PROVIDER_ENV.iter().any(|(p, _)| *p == route.provider),
                "{route:?} has no env"
            );
        }
    }
}
