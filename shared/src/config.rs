//! Configuration, read once per cold start from the environment.
//!
//! Names follow AWS conventions (`TABLE_NAME`, `AWS_ENDPOINT_URL_DYNAMODB` is read by the SDK
//! itself). Secrets come from the environment locally; in the cloud the deployment puts them
//! there from SSM Parameter Store or Secrets Manager.

use std::fmt;
use url::Url;

use crate::ack::settings::{AckSettings, SettingsError};

/// A secret value. Its `Debug` never shows it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for signing and comparing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A configuration problem, reported at cold start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// The acknowledgement configuration is invalid.
    #[error(transparent)]
    Ack(SettingsError),
    /// A variable is set to something unusable.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Twilio account settings.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Account SID (`AC...`), used for the Messages API path and Basic auth.
    pub account_sid: String,
    /// Auth token: signs inbound webhooks and authenticates outbound calls.
    pub auth_token: Secret,
    /// Base URL of the REST API; the local stack points it at its recorder.
    pub api_base_url: Url,
}

/// Meta (Messenger, Instagram, WhatsApp Cloud API) app settings.
#[derive(Debug, Clone)]
pub struct MetaConfig {
    /// App Secret: signs `X-Hub-Signature-256` (webhook side).
    pub app_secret: Option<Secret>,
    /// The verify token typed into the webhook settings, for the GET handshake (webhook side).
    pub verify_token: Option<Secret>,
    /// Page access token: sends on Messenger and Instagram.
    pub page_access_token: Option<Secret>,
    /// WhatsApp Cloud API access token.
    pub whatsapp_token: Option<Secret>,
    /// Graph API base URL; the local stack points it at its recorder.
    pub graph_base_url: Url,
    /// Graph API version path segment, e.g. `v21.0`.
    pub graph_version: String,
    /// Approved WhatsApp template for acks outside the 24-hour window: `(name, language)`.
    pub whatsapp_template: Option<(String, String)>,
}

/// Telegram bot settings.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    /// Bot token (`123456:ABC...`): sends messages; its number is the bot's id.
    pub bot_token: Secret,
    /// The `secret_token` given to `setWebhook`, echoed in every call (webhook side).
    pub secret_token: Option<Secret>,
    /// Bot API base URL; the local stack points it at its recorder.
    pub api_base_url: Url,
}

/// LINE Messaging API channel settings.
#[derive(Debug, Clone)]
pub struct LineConfig {
    /// Channel secret: signs `x-line-signature` (webhook side).
    pub channel_secret: Option<Secret>,
    /// Channel access token: sends replies and pushes (acknowledger side).
    pub access_token: Option<Secret>,
    /// API base URL; the local stack points it at its recorder.
    pub api_base_url: Url,
}

/// Amazon SES: inbound mail through SNS (webhook side) and acks through SES v2 (acknowledger).
#[derive(Debug, Clone, Default)]
pub struct SesConfig {
    /// SNS topics whose notifications the webhook accepts (`SES_TOPIC_ARNS`, comma-separated).
    pub topic_arns: Vec<String>,
    /// The SES identities acks may be sent from (`SES_IDENTITIES`, comma-separated verified
    /// domains or addresses; IAM lets the acknowledger send as these only). Empty: the
    /// acknowledger sends no email.
    pub identities: Vec<String>,
    /// Configuration set for sent acks (`SES_CONFIGURATION_SET`), for event publishing.
    pub configuration_set: Option<String>,
    /// SES v2 endpoint override (`AWS_ENDPOINT_URL_SESV2`): the local emulator.
    pub endpoint: Option<Url>,
    /// S3 endpoint override (`AWS_ENDPOINT_URL_S3`), for mail a receipt rule stored in S3:
    /// the local stack's stand-in.
    pub s3_endpoint: Option<Url>,
    /// Local stack only: a certificate used for every SNS signing-certificate URL instead of
    /// downloading it (`SNS_TRUSTED_CERT_FILE`). Never set in a deployment.
    pub trusted_cert_file: Option<String>,
    /// Local stack only: where subscription confirmations are sent instead of SNS's own
    /// host (`SNS_CONFIRM_BASE_URL`); the path and query of `SubscribeURL` are kept.
    pub confirm_base_url: Option<Url>,
}

/// HTTP Basic credentials a provider embeds in the webhook URL (`user:password`), for
/// providers that sign nothing (SendGrid Inbound Parse, Postmark inbound).
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: Secret,
}

impl BasicCredentials {
    fn parse(name: &'static str, value: &str) -> Result<BasicCredentials, ConfigError> {
        match value.split_once(':') {
            Some((user, password)) if !user.is_empty() && password.len() >= 16 => {
                Ok(BasicCredentials {
                    user: user.to_owned(),
                    password: Secret::new(password),
                })
            }
            _ => Err(ConfigError::Invalid {
                name,
                reason: "must be user:password, with a password of at least 16 characters".into(),
            }),
        }
    }
}

/// Everything a function reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table name (`TABLE_NAME`).
    pub table_name: String,
    /// The public URL providers call (`PUBLIC_BASE_URL`), as configured in their consoles.
    /// Signatures are checked against it, never against the `Host` header.
    pub public_base_url: Option<Url>,
    /// Twilio, when `TWILIO_AUTH_TOKEN` is set.
    pub twilio: Option<TwilioConfig>,
    /// Meta, when its webhook secrets (`META_APP_SECRET` with `META_VERIFY_TOKEN`) or a send
    /// token are set. Each function is given only the side it uses.
    pub meta: Option<MetaConfig>,
    /// Telegram, when `TELEGRAM_BOT_TOKEN` is set.
    pub telegram: Option<TelegramConfig>,
    /// LINE, when `LINE_CHANNEL_SECRET` (webhook) or `LINE_CHANNEL_ACCESS_TOKEN` (acks) is set.
    pub line: Option<LineConfig>,
    /// Amazon SES, when `SES_TOPIC_ARNS` (webhook) or `SES_IDENTITIES` (acks) is set.
    pub ses: Option<SesConfig>,
    /// Mailgun's webhook signing key (`MAILGUN_SIGNING_KEY`).
    pub mailgun_signing_key: Option<Secret>,
    /// SendGrid Inbound Parse credentials (`SENDGRID_BASIC_AUTH`, `user:password`).
    pub sendgrid: Option<BasicCredentials>,
    /// Postmark inbound credentials (`POSTMARK_BASIC_AUTH`, `user:password`).
    pub postmark: Option<BasicCredentials>,
    /// Acknowledgement settings: from `INTAKE_CONFIG` (a path) or `INTAKE_CONFIG_TOML` (the
    /// document itself), else the built-in ones.
    pub ack: AckSettings,
}

impl Config {
    /// Reads the process environment, fetching secrets from SSM Parameter Store where the
    /// deployment names a parameter instead of a value: for a secret such as
    /// `TWILIO_AUTH_TOKEN`, `TWILIO_AUTH_TOKEN_PARAM=/intake/twilio-auth-token` makes the
    /// function read that SecureString, decrypted, once at cold start.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Config, ConfigError> {
        Config::load_with(sdk, |name| std::env::var(name).ok()).await
    }

    /// [`Config::load`] with the variables read through `lookup` (tests pass a map).
    pub async fn load_with(
        sdk: &aws_config::SdkConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let env = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let wanted: Vec<(&'static str, String)> = crate::manifest::parameter_vars()
            .filter(|v| env(v.name).is_none())
            .filter_map(|v| Some((v.name, env(&format!("{}_PARAM", v.name))?)))
            .collect();
        let mut fetched = std::collections::HashMap::new();
        if !wanted.is_empty() {
            let mut ssm = aws_sdk_ssm::config::Builder::from(sdk);
            if crate::aws_calls::enabled() {
                ssm = ssm.interceptor(crate::aws_calls::CallRecorder);
            }
            let ssm = aws_sdk_ssm::Client::from_conf(ssm.build());
            for chunk in wanted.chunks(10) {
                let out = ssm
                    .get_parameters()
                    .set_names(Some(chunk.iter().map(|(_, p)| p.clone()).collect()))
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| ConfigError::Invalid {
                        name: "SSM parameters",
                        reason: aws_sdk_ssm::error::DisplayErrorContext(&e).to_string(),
                    })?;
                if let Some(missing) = out.invalid_parameters().first() {
                    return Err(ConfigError::Invalid {
                        name: "SSM parameters",
                        reason: format!("parameter {missing} does not exist"),
                    });
                }
                for p in out.parameters() {
                    if let (Some(name), Some(value)) = (p.name(), p.value())
                        && let Some((var, _)) = chunk.iter().find(|(_, param)| param == name)
                    {
                        fetched.insert(*var, value.to_owned());
                    }
                }
            }
        }
        Config::from_lookup(|name| env(name).or_else(|| fetched.get(name).cloned()))
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let table_name = lookup("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let public_base_url = lookup("PUBLIC_BASE_URL")
            .map(|v| service_url("PUBLIC_BASE_URL", &v))
            .transpose()?;
        let twilio = match lookup("TWILIO_AUTH_TOKEN") {
            None => None,
            Some(token) => Some(TwilioConfig {
                account_sid: lookup("TWILIO_ACCOUNT_SID")
                    .ok_or(ConfigError::Missing("TWILIO_ACCOUNT_SID"))?,
                auth_token: Secret::new(token),
                api_base_url: service_url(
                    "TWILIO_API_BASE_URL",
                    &lookup("TWILIO_API_BASE_URL")
                        .unwrap_or_else(|| "https://api.twilio.com".to_owned()),
                )?,
            }),
        };
        let base = |name: &'static str, default: &str| {
            service_url(name, &lookup(name).unwrap_or_else(|| default.to_owned()))
        };
        let app_secret = lookup("META_APP_SECRET").map(Secret::new);
        let verify_token = lookup("META_VERIFY_TOKEN").map(Secret::new);
        if app_secret.is_some() && verify_token.is_none() {
            return Err(ConfigError::Missing("META_VERIFY_TOKEN"));
        }
        if verify_token.is_some() && app_secret.is_none() {
            return Err(ConfigError::Missing("META_APP_SECRET"));
        }
        let page_access_token = lookup("META_PAGE_ACCESS_TOKEN").map(Secret::new);
        let whatsapp_token = lookup("META_WHATSAPP_TOKEN").map(Secret::new);
        let meta_enabled =
            app_secret.is_some() || page_access_token.is_some() || whatsapp_token.is_some();
        let meta = match meta_enabled {
            false => None,
            true => Some(MetaConfig {
                app_secret,
                verify_token,
                page_access_token,
                whatsapp_token,
                graph_base_url: base("META_GRAPH_BASE_URL", "https://graph.facebook.com")?,
                graph_version: lookup("META_GRAPH_VERSION").unwrap_or_else(|| "v21.0".to_owned()),
                whatsapp_template: match lookup("META_WHATSAPP_TEMPLATE") {
                    None => None,
                    Some(v) => Some(
                        v.split_once(':')
                            .map(|(n, l)| (n.trim().to_owned(), l.trim().to_owned()))
                            .filter(|(n, l)| !n.is_empty() && !l.is_empty())
                            .ok_or(ConfigError::Invalid {
                                name: "META_WHATSAPP_TEMPLATE",
                                reason: "must be name:language, e.g. ticket_received:id".into(),
                            })?,
                    ),
                },
            }),
        };
        let telegram = match lookup("TELEGRAM_BOT_TOKEN") {
            None => None,
            Some(token) => {
                if !token.split_once(':').is_some_and(|(id, rest)| {
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty()
                }) {
                    return Err(ConfigError::Invalid {
                        name: "TELEGRAM_BOT_TOKEN",
                        reason: "must look like 123456789:AA... (from @BotFather)".into(),
                    });
                }
                Some(TelegramConfig {
                    bot_token: Secret::new(token),
                    secret_token: lookup("TELEGRAM_SECRET_TOKEN").map(Secret::new),
                    api_base_url: base("TELEGRAM_API_BASE_URL", "https://api.telegram.org")?,
                })
            }
        };
        let channel_secret = lookup("LINE_CHANNEL_SECRET").map(Secret::new);
        let access_token = lookup("LINE_CHANNEL_ACCESS_TOKEN").map(Secret::new);
        let line = match channel_secret.is_some() || access_token.is_some() {
            false => None,
            true => Some(LineConfig {
                channel_secret,
                access_token,
                api_base_url: base("LINE_API_BASE_URL", "https://api.line.me")?,
            }),
        };
        let topic_arns = list(lookup("SES_TOPIC_ARNS"));
        if let Some(bad) = topic_arns.iter().find(|a| !a.starts_with("arn:aws")) {
            return Err(ConfigError::Invalid {
                name: "SES_TOPIC_ARNS",
                reason: format!("{bad} is not an SNS topic ARN"),
            });
        }
        let identities = list(lookup("SES_IDENTITIES"));
        if let Some(bad) = identities.iter().find(|i| !is_ses_identity(i)) {
            return Err(ConfigError::Invalid {
                name: "SES_IDENTITIES",
                reason: format!("{bad} is neither a domain nor an email address"),
            });
        }
        let ses = match (topic_arns.is_empty(), identities.is_empty()) {
            (true, true) => None,
            _ => Some(SesConfig {
                topic_arns,
                identities,
                configuration_set: lookup("SES_CONFIGURATION_SET"),
                endpoint: lookup("AWS_ENDPOINT_URL_SESV2")
                    .map(|v| service_url("AWS_ENDPOINT_URL_SESV2", &v))
                    .transpose()?,
                s3_endpoint: lookup("AWS_ENDPOINT_URL_S3")
                    .map(|v| service_url("AWS_ENDPOINT_URL_S3", &v))
                    .transpose()?,
                trusted_cert_file: lookup("SNS_TRUSTED_CERT_FILE"),
                confirm_base_url: lookup("SNS_CONFIRM_BASE_URL")
                    .map(|v| service_url("SNS_CONFIRM_BASE_URL", &v))
                    .transpose()?,
            }),
        };
        let basic = |name: &'static str| {
            lookup(name)
                .map(|v| BasicCredentials::parse(name, &v))
                .transpose()
        };
        let sendgrid = basic("SENDGRID_BASIC_AUTH")?;
        let postmark = basic("POSTMARK_BASIC_AUTH")?;
        let mailgun_signing_key = lookup("MAILGUN_SIGNING_KEY").map(Secret::new);
        let ack = match (lookup("INTAKE_CONFIG_TOML"), lookup("INTAKE_CONFIG")) {
            (Some(text), _) => AckSettings::from_toml(&text).map_err(ConfigError::Ack)?,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                    name: "INTAKE_CONFIG",
                    reason: format!("cannot read {path}: {e}"),
                })?;
                AckSettings::from_toml(&text).map_err(ConfigError::Ack)?
            }
            (None, None) => AckSettings::builtin(),
        };
        Ok(Config {
            table_name,
            public_base_url,
            twilio,
            meta,
            telegram,
            line,
            ses,
            mailgun_signing_key,
            sendgrid,
            postmark,
            ack,
        })
    }
}

/// A comma-separated list, entries trimmed, empty entries dropped.
fn list(value: Option<String>) -> Vec<String> {
    value
        .iter()
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect()
}

/// A domain (`tokoku.id`) or an address (`help@tokoku.id`), as SES verifies identities.
fn is_ses_identity(value: &str) -> bool {
    let domain = value.rsplit_once('@').map_or(
        value,
        |(local, domain)| {
            if local.is_empty() { "" } else { domain }
        },
    );
    domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Parses a base URL: `https`, or plain `http` only for this machine (the local stack).
/// No credentials, query or fragment; a trailing slash is dropped.
pub fn service_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name,
        reason: reason.to_owned(),
    };
    let url = Url::parse(value.trim()).map_err(|e| invalid(&e.to_string()))?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(invalid("must be https (plain http only for localhost)")),
    }
    if url.host().is_none() {
        return Err(invalid("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    let trimmed = url.as_str().trim_end_matches('/').to_owned();
    Url::parse(&trimmed).map_err(|e| invalid(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn minimal_and_full() {
        let c = Config::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap();
        assert!(c.twilio.is_none() && c.public_base_url.is_none());

        let c = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("PUBLIC_BASE_URL", "https://hooks.example.com/prod/"),
            ("TWILIO_AUTH_TOKEN", "tok"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
        ]))
        .unwrap();
        assert_eq!(
            c.public_base_url.unwrap().as_str(),
            "https://hooks.example.com/prod"
        );
        let t = c.twilio.unwrap();
        assert_eq!(t.api_base_url.as_str(), "https://api.twilio.com/");
        assert_eq!(format!("{:?}", t.auth_token), "Secret(***)");
    }

    #[test]
    fn refuses_what_would_weaken_verification() {
        for bad in [
            "http://hooks.example.com",
            "https://user:pw@hooks.example.com",
            "https://hooks.example.com/?x=1",
            "ftp://hooks.example.com",
            "not a url",
        ] {
            assert!(service_url("PUBLIC_BASE_URL", bad).is_err(), "{bad}");
        }
        assert!(service_url("PUBLIC_BASE_URL", "http://127.0.0.1:3000").is_ok());
        assert!(service_url("PUBLIC_BASE_URL", "http://localhost:3000").is_ok());
    }

    #[test]
    fn each_function_needs_only_its_side_of_a_provider() {
        let ack_side = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("META_PAGE_ACCESS_TOKEN", "p"),
            ("LINE_CHANNEL_ACCESS_TOKEN", "l"),
            ("TELEGRAM_BOT_TOKEN", "123:abc"),
        ]))
        .unwrap();
        let clients = crate::providers::Clients::without_aws();
        assert_eq!(crate::providers::senders(&ack_side, &clients).len(), 3);
        assert!(
            crate::providers::inbound(crate::Channel::Social, &ack_side, &clients)
                .unwrap()
                .is_empty()
        );

        let webhook_side = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("META_APP_SECRET", "s"),
            ("META_VERIFY_TOKEN", "v"),
            ("LINE_CHANNEL_SECRET", "c"),
            ("TELEGRAM_BOT_TOKEN", "123:abc"),
            ("TELEGRAM_SECRET_TOKEN", "x"),
        ]))
        .unwrap();
        assert_eq!(
            crate::providers::inbound(crate::Channel::Social, &webhook_side, &clients)
                .unwrap()
                .len(),
            3
        );
        // Telegram sends with the bot token alone; Meta and LINE need their send tokens.
        assert_eq!(crate::providers::senders(&webhook_side, &clients).len(), 1);

        let half = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("META_APP_SECRET", "s")]));
        assert!(matches!(
            half,
            Err(ConfigError::Missing("META_VERIFY_TOKEN"))
        ));
    }

    #[test]
    fn twilio_token_needs_account_sid() {
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("TWILIO_AUTH_TOKEN", "x")]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::Missing("TWILIO_ACCOUNT_SID")));
    }
}
