//! Configuration, read once per cold start from the environment.
//!
//! Names follow AWS conventions (`TABLE_NAME`, `AWS_ENDPOINT_URL_DYNAMODB` is read by the SDK
//! itself). Secrets come from the environment locally; in the cloud the functions read them
//! from SSM Parameter Store at cold start (`<NAME>_PARAM`). Wherever a secret comes from, its
//! surrounding whitespace is trimmed, and a secret that is then empty stops the cold start:
//! an empty HMAC key or password would accept anything signed with it, which anyone can do.

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

    /// A secret read from variable `name`: trimmed (SSM values and `.env` lines often carry a
    /// newline), and refused when nothing is left. The error names the variable, never the
    /// value.
    pub fn from_config(name: &'static str, value: &str) -> Result<Secret, ConfigError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ConfigError::EmptySecret(name));
        }
        Ok(Secret(value.to_owned()))
    }

    /// `Ok` when the secret has something besides whitespace; provider constructors call it
    /// with the variable's `name`, so a provider can never verify with an empty key, however
    /// its configuration was built.
    pub fn require(&self, name: &'static str) -> Result<&Secret, ConfigError> {
        if self.0.trim().is_empty() {
            Err(ConfigError::EmptySecret(name))
        } else {
            Ok(self)
        }
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
    /// A secret is set but empty or whitespace only: with it, any signature would pass.
    #[error("{0} is empty or whitespace only (in the environment or its SSM parameter)")]
    EmptySecret(&'static str),
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

/// Plivo account settings.
#[derive(Debug, Clone)]
pub struct PlivoConfig {
    /// Auth ID (`MA...` or `SA...`), used for the Message API path and Basic auth.
    pub auth_id: String,
    /// Auth token of the account (or subaccount) that owns the number: signs
    /// `X-Plivo-Signature-V3` and authenticates sends.
    pub auth_token: Secret,
    /// The main account's auth token, which signs `X-Plivo-Signature-Ma-V3`; only needed when
    /// the number belongs to a subaccount and Plivo sends the main account's signature alone.
    pub main_auth_token: Option<Secret>,
    /// Base URL of the REST API; the local stack points it at its recorder.
    pub api_base_url: Url,
}

/// MessageBird (legacy) and Bird (the new platform) SMS settings: one route serves both,
/// each platform's side enabled by its own keys.
#[derive(Debug, Clone)]
pub struct MessageBirdConfig {
    /// Legacy signing key: verifies `MessageBird-Signature-JWT` (webhook side).
    pub signing_key: Option<Secret>,
    /// Bird webhook subscription signing key: verifies `messagebird-signature` (webhook side).
    pub bird_signing_key: Option<Secret>,
    /// Legacy REST API access key: sends acks of legacy messages (acknowledger side).
    pub access_key: Option<Secret>,
    /// Legacy REST API base URL; the local stack points it at its recorder.
    pub api_base_url: Url,
    /// Bird access key: sends acks of Bird messages (acknowledger side).
    pub bird_access_key: Option<Secret>,
    /// Bird workspace id (required with `bird_access_key`).
    pub bird_workspace_id: Option<String>,
    /// Bird API base URL; the local stack points it at its recorder.
    pub bird_api_base_url: Url,
}

/// The variable holding Telnyx's public key, named in configuration errors.
pub const TELNYX_PUBLIC_KEY: &str = "TELNYX_PUBLIC_KEY";

/// Telnyx Messaging settings. Each function is given only the side it uses.
#[derive(Debug, Clone)]
pub struct TelnyxConfig {
    /// The account's Ed25519 public key: verifies `telnyx-signature-ed25519` (webhook side).
    pub public_key: Option<Ed25519PublicKey>,
    /// API key: authenticates sends through the Messages API (acknowledger side).
    pub api_key: Option<Secret>,
    /// Messaging profile the acks are sent under (`TELNYX_MESSAGING_PROFILE_ID`); without it
    /// Telnyx uses the profile of the number they are sent from.
    pub messaging_profile_id: Option<String>,
    /// Base URL of the REST API; the local stack points it at its recorder.
    pub api_base_url: Url,
}

/// An Ed25519 public key (32 bytes) given base64 in configuration. Not a secret, but it
/// decides which signatures are accepted, so it is checked as strictly as one: the wrong
/// length, and the few weak keys of small order (any of which would let anyone forge a
/// signature for some messages), stop the cold start.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519PublicKey([u8; 32]);

/// The encodings of the Edwards25519 points of small order, as libsodium refuses them
/// (`ge25519_has_small_order`), compared without the sign bit: 0 (order 4), 1 (order 1), the
/// two points of order 8, and p-1, p, p+1 (orders 2, 4, 1).
const SMALL_ORDER_POINTS: [[u8; 32]; 7] = {
    let mut p_minus_1 = [0xff; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    let mut one = [0; 32];
    one[0] = 1;
    [
        [0; 32],
        one,
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
        p_minus_1,
        p,
        p_plus_1,
    ]
};

impl Ed25519PublicKey {
    /// The key in variable `name`: standard base64 (surrounding whitespace trimmed) of exactly
    /// 32 bytes, not of small order. A blank value is an empty secret.
    pub fn from_base64(name: &'static str, value: &str) -> Result<Ed25519PublicKey, ConfigError> {
        use base64::Engine;
        let value = value.trim();
        if value.is_empty() {
            return Err(ConfigError::EmptySecret(name));
        }
        let invalid = |reason: &str| ConfigError::Invalid {
            name,
            reason: reason.to_owned(),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| invalid("is not base64 (copy the public key from Mission Control)"))?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            invalid(&format!(
                "must be a 32-byte Ed25519 public key, base64; this is {} bytes",
                bytes.len()
            ))
        })?;
        let mut unsigned = key;
        unsigned[31] &= 0x7f;
        if SMALL_ORDER_POINTS.contains(&unsigned) {
            return Err(invalid(
                "is a weak Ed25519 key (a point of small order); it is not a Telnyx public key",
            ));
        }
        Ok(Ed25519PublicKey(key))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519PublicKey(..)")
    }
}

/// Vonage: SMS API and Messages API webhooks (webhook side), acks through either API
/// (acknowledger side).
#[derive(Debug, Clone)]
pub struct VonageConfig {
    /// Signature secret (`VONAGE_SIGNATURE_SECRET`): signs SMS API webhooks (`sig`) and the
    /// JWT of Messages API webhooks (webhook side).
    pub signature_secret: Option<Secret>,
    /// How SMS API webhooks are signed (`VONAGE_SIGNATURE_METHOD`, as chosen in the
    /// dashboard; Vonage's default is `md5hash`).
    pub signature_method: VonageSignatureMethod,
    /// API key (`VONAGE_API_KEY`), not secret (acknowledger side).
    pub api_key: Option<String>,
    /// API secret (`VONAGE_API_SECRET`) (acknowledger side).
    pub api_secret: Option<Secret>,
    /// Which API sends acks (`VONAGE_SEND_API`: `messages`, the default, or `sms`).
    pub send_api: VonageSendApi,
    /// Messages API base URL (`VONAGE_API_BASE_URL`); the local stack points it at its
    /// recorder.
    pub api_base_url: Url,
    /// SMS API base URL (`VONAGE_REST_BASE_URL`); the local stack points it at its recorder.
    pub rest_base_url: Url,
}

/// The signature methods of Vonage's SMS API webhooks, as its dashboard offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VonageSignatureMethod {
    /// `MD5(params + secret)`, Vonage's default.
    #[default]
    Md5Hash,
    /// HMAC-MD5.
    Md5Hmac,
    /// HMAC-SHA1.
    Sha1Hmac,
    /// HMAC-SHA256.
    Sha256Hmac,
    /// HMAC-SHA512.
    Sha512Hmac,
}

impl VonageSignatureMethod {
    /// From the names Vonage's SDKs use: `md5hash`, `md5`, `sha1`, `sha256`, `sha512` (the
    /// Python and Node `verifySignature` spelling), or `md5hmac`, `sha1hmac`, ... (Node's
    /// `AlgorithmTypes`), in any case.
    pub fn parse(value: &str) -> Option<VonageSignatureMethod> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "md5hash" => VonageSignatureMethod::Md5Hash,
            "md5" | "md5hmac" => VonageSignatureMethod::Md5Hmac,
            "sha1" | "sha1hmac" => VonageSignatureMethod::Sha1Hmac,
            "sha256" | "sha256hmac" => VonageSignatureMethod::Sha256Hmac,
            "sha512" | "sha512hmac" => VonageSignatureMethod::Sha512Hmac,
            _ => return None,
        })
    }
}

/// The Vonage API acks go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VonageSendApi {
    /// The Messages API (`POST /v1/messages`).
    #[default]
    Messages,
    /// The SMS API (`POST /sms/json`).
    Sms,
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

/// AWS End User Messaging SMS (formerly Pinpoint SMS) settings.
#[derive(Debug, Clone)]
pub struct AwsSmsConfig {
    /// SNS topics two-way SMS publishes inbound messages to (`AWS_SMS_TOPIC_ARNS`,
    /// comma-separated; webhook side). Empty: the webhook accepts none.
    pub topic_arns: Vec<String>,
    /// Whether acks to AWS SMS customers go out through `SendTextMessage` (`AWS_SMS_SEND`,
    /// `true`; acknowledger side).
    pub send: bool,
    /// Configuration set for sent acks (`AWS_SMS_CONFIGURATION_SET`), for event publishing.
    pub configuration_set: Option<String>,
    /// SMS and Voice v2 endpoint override (`AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2`): the
    /// local stack's recorder.
    pub endpoint: Option<Url>,
    /// Local stack only: a certificate used for every SNS signing-certificate URL
    /// (`SNS_TRUSTED_CERT_FILE`), as for SES.
    pub trusted_cert_file: Option<String>,
    /// Local stack only: where subscription confirmations go (`SNS_CONFIRM_BASE_URL`).
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
    /// `user:password` from variable `name`, trimmed; an empty password is an empty secret.
    fn parse(name: &'static str, value: &str) -> Result<BasicCredentials, ConfigError> {
        let value = Secret::from_config(name, value)?;
        let credentials = match value.expose().split_once(':') {
            Some((_, password)) if password.trim().is_empty() => {
                return Err(ConfigError::EmptySecret(name));
            }
            Some((user, password)) if !user.trim().is_empty() && password.len() >= 16 => {
                BasicCredentials {
                    user: user.to_owned(),
                    password: Secret::new(password),
                }
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be user:password, with a password of at least 16 characters"
                        .into(),
                });
            }
        };
        Ok(credentials)
    }

    /// `Ok` when both the user and the password have more than whitespace (provider
    /// constructors check it: empty credentials would let anyone in).
    pub fn require(&self, name: &'static str) -> Result<&BasicCredentials, ConfigError> {
        self.password.require(name)?;
        if self.user.trim().is_empty() {
            return Err(ConfigError::EmptySecret(name));
        }
        Ok(self)
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
    /// Plivo, when `PLIVO_AUTH_TOKEN` is set.
    pub plivo: Option<PlivoConfig>,
    /// MessageBird / Bird, when a signing key (webhook) or an access key (acks) is set.
    pub messagebird: Option<MessageBirdConfig>,
    /// Telnyx, when `TELNYX_PUBLIC_KEY` (webhook) or `TELNYX_API_KEY` (acks) is set.
    pub telnyx: Option<TelnyxConfig>,
    /// Vonage, when `VONAGE_SIGNATURE_SECRET` (webhook) or `VONAGE_API_SECRET` (acks) is set.
    pub vonage: Option<VonageConfig>,
    /// Meta, when its webhook secrets (`META_APP_SECRET` with `META_VERIFY_TOKEN`) or a send
    /// token are set. Each function is given only the side it uses.
    pub meta: Option<MetaConfig>,
    /// Telegram, when `TELEGRAM_BOT_TOKEN` is set.
    pub telegram: Option<TelegramConfig>,
    /// LINE, when `LINE_CHANNEL_SECRET` (webhook) or `LINE_CHANNEL_ACCESS_TOKEN` (acks) is set.
    pub line: Option<LineConfig>,
    /// Amazon SES, when `SES_TOPIC_ARNS` (webhook) or `SES_IDENTITIES` (acks) is set.
    pub ses: Option<SesConfig>,
    /// AWS End User Messaging SMS, when `AWS_SMS_TOPIC_ARNS` (webhook) or `AWS_SMS_SEND`
    /// (acks) is set.
    pub aws_sms: Option<AwsSmsConfig>,
    /// Mailgun's webhook signing key (`MAILGUN_SIGNING_KEY`).
    pub mailgun_signing_key: Option<Secret>,
    /// SendGrid Inbound Parse credentials (`SENDGRID_BASIC_AUTH`, `user:password`).
    pub sendgrid: Option<BasicCredentials>,
    /// Postmark inbound credentials (`POSTMARK_BASIC_AUTH`, `user:password`).
    pub postmark: Option<BasicCredentials>,
    /// Acknowledgement settings: from `INTAKE_CONFIG` (a path) or `INTAKE_CONFIG_TOML` (the
    /// document itself), else the built-in ones.
    pub ack: AckSettings,
    /// The archive of verified deliveries not stored, when `ARCHIVE_BUCKET` is set.
    pub archive: Option<ArchiveSettings>,
}

impl Config {
    /// Reads the process environment, fetching secrets from SSM Parameter Store where the
    /// deployment names a parameter instead of a value: for a secret such as
    /// `TWILIO_AUTH_TOKEN`, `TWILIO_AUTH_TOKEN_PARAM=/intake/twilio-auth-token` makes the
    /// function read that SecureString, decrypted, once at cold start. Parameter values are
    /// trimmed; one that is empty after trimming stops the cold start.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Config, ConfigError> {
        Config::load_with(sdk, |name| std::env::var(name).ok()).await
    }

    /// [`Config::load`] with the variables read through `lookup` (tests pass a map).
    pub async fn load_with(
        sdk: &aws_config::SdkConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        // A secret set in the environment (even blank: that is refused below) wins over its
        // parameter.
        let wanted: Vec<(&'static str, String)> = crate::manifest::parameter_vars()
            .filter(|v| lookup(v.name).is_none())
            .filter_map(|v| Some((v.name, set(&format!("{}_PARAM", v.name))?)))
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
                        fetched.insert(*var, Secret::from_config(var, value)?);
                    }
                }
            }
        }
        Config::from_lookup(|name| {
            lookup(name).or_else(|| fetched.get(name).map(|s| s.expose().to_owned()))
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (tests pass a map). A plain setting that is empty
    /// is the same as unset; a secret that is empty or whitespace only is an error
    /// ([`ConfigError::EmptySecret`]), and every secret is trimmed.
    pub fn from_lookup(raw: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let lookup = |name: &str| raw(name).filter(|v| !v.trim().is_empty());
        let secret =
            |name: &'static str| raw(name).map(|v| Secret::from_config(name, &v)).transpose();
        let table_name = lookup("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let public_base_url = lookup("PUBLIC_BASE_URL")
            .map(|v| service_url("PUBLIC_BASE_URL", &v))
            .transpose()?;
        // The test certificate's private key is committed: a deployment trusting it would
        // accept SES mail anyone can sign. Only a stack served on this machine may.
        let trusted_cert_file = lookup("SNS_TRUSTED_CERT_FILE");
        if trusted_cert_file.is_some() && !public_base_url.as_ref().is_some_and(is_loopback) {
            return Err(ConfigError::Invalid {
                name: "SNS_TRUSTED_CERT_FILE",
                reason: "is for the local stack only: it is refused unless PUBLIC_BASE_URL is a \
                         loopback address (127.0.0.0/8, ::1 or localhost)"
                    .into(),
            });
        }
        let twilio = match secret("TWILIO_AUTH_TOKEN")? {
            None => None,
            Some(auth_token) => Some(TwilioConfig {
                account_sid: lookup("TWILIO_ACCOUNT_SID")
                    .ok_or(ConfigError::Missing("TWILIO_ACCOUNT_SID"))?,
                auth_token,
                api_base_url: service_url(
                    "TWILIO_API_BASE_URL",
                    &lookup("TWILIO_API_BASE_URL")
                        .unwrap_or_else(|| "https://api.twilio.com".to_owned()),
                )?,
            }),
        };
        // Plivo: the main token is read first, so a blank one is refused even without the
        // account's token.
        let plivo_main_auth_token = secret("PLIVO_MAIN_AUTH_TOKEN")?;
        let plivo = match secret("PLIVO_AUTH_TOKEN")? {
            None if plivo_main_auth_token.is_some() => {
                return Err(ConfigError::Missing("PLIVO_AUTH_TOKEN"));
            }
            None => None,
            Some(auth_token) => Some(PlivoConfig {
                auth_id: plivo_auth_id(lookup("PLIVO_AUTH_ID"))?,
                auth_token,
                main_auth_token: plivo_main_auth_token,
                api_base_url: service_url(
                    "PLIVO_API_BASE_URL",
                    &lookup("PLIVO_API_BASE_URL")
                        .unwrap_or_else(|| "https://api.plivo.com".to_owned()),
                )?,
            }),
        };
        let base = |name: &'static str, default: &str| {
            service_url(name, &lookup(name).unwrap_or_else(|| default.to_owned()))
        };
        let messagebird = messagebird_config(&lookup, &secret)?;
        // Telnyx: the public key is read like a secret (blank refused, SSM allowed), then
        // decoded and checked.
        let telnyx_public_key = secret(TELNYX_PUBLIC_KEY)?
            .map(|key| Ed25519PublicKey::from_base64(TELNYX_PUBLIC_KEY, key.expose()))
            .transpose()?;
        let telnyx_api_key = secret("TELNYX_API_KEY")?;
        let telnyx = match telnyx_public_key.is_some() || telnyx_api_key.is_some() {
            false => None,
            true => Some(TelnyxConfig {
                public_key: telnyx_public_key,
                api_key: telnyx_api_key,
                messaging_profile_id: lookup("TELNYX_MESSAGING_PROFILE_ID")
                    .map(|v| v.trim().to_owned()),
                api_base_url: base("TELNYX_API_BASE_URL", "https://api.telnyx.com")?,
            }),
        };
        let vonage = vonage(&lookup, &secret, &base)?;
        let app_secret = secret("META_APP_SECRET")?;
        let verify_token = secret("META_VERIFY_TOKEN")?;
        if app_secret.is_some() && verify_token.is_none() {
            return Err(ConfigError::Missing("META_VERIFY_TOKEN"));
        }
        if verify_token.is_some() && app_secret.is_none() {
            return Err(ConfigError::Missing("META_APP_SECRET"));
        }
        let page_access_token = secret("META_PAGE_ACCESS_TOKEN")?;
        let whatsapp_token = secret("META_WHATSAPP_TOKEN")?;
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
        let telegram_secret_token = secret("TELEGRAM_SECRET_TOKEN")?;
        let telegram = match secret("TELEGRAM_BOT_TOKEN")? {
            None => None,
            Some(token) => {
                if !token.expose().split_once(':').is_some_and(|(id, rest)| {
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty()
                }) {
                    return Err(ConfigError::Invalid {
                        name: "TELEGRAM_BOT_TOKEN",
                        reason: "must look like 123456789:AA... (from @BotFather)".into(),
                    });
                }
                Some(TelegramConfig {
                    bot_token: token,
                    secret_token: telegram_secret_token,
                    api_base_url: base("TELEGRAM_API_BASE_URL", "https://api.telegram.org")?,
                })
            }
        };
        let channel_secret = secret("LINE_CHANNEL_SECRET")?;
        let access_token = secret("LINE_CHANNEL_ACCESS_TOKEN")?;
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
                trusted_cert_file,
                confirm_base_url: lookup("SNS_CONFIRM_BASE_URL")
                    .map(|v| service_url("SNS_CONFIRM_BASE_URL", &v))
                    .transpose()?,
            }),
        };
        // SNS_TRUSTED_CERT_FILE was refused above unless the stack is local.
        let aws_sms = aws_sms(&lookup, lookup("SNS_TRUSTED_CERT_FILE"))?;
        let basic = |name: &'static str| {
            raw(name)
                .map(|v| BasicCredentials::parse(name, &v))
                .transpose()
        };
        let sendgrid = basic("SENDGRID_BASIC_AUTH")?;
        let postmark = basic("POSTMARK_BASIC_AUTH")?;
        let mailgun_signing_key = secret("MAILGUN_SIGNING_KEY")?;
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
            plivo,
            messagebird,
            telnyx,
            vonage,
            meta,
            telegram,
            line,
            ses,
            aws_sms,
            mailgun_signing_key,
            sendgrid,
            postmark,
            ack,
            archive: ArchiveSettings::from_lookup(lookup)?,
        })
    }
}

/// The deployed archive's settings: `ARCHIVE_BUCKET` (the stack's bucket) and
/// `ARCHIVE_ALL` (`true`: keep stored deliveries too, for audits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSettings {
    /// The bucket.
    pub bucket: String,
    /// Whether stored deliveries are kept too.
    pub all: bool,
    /// A local S3 server instead of S3 (`ARCHIVE_ENDPOINT_URL`, loopback only, path-style):
    /// for a function run on this machine (the local stack, a Lambda emulator). Never set in
    /// a deployment, so not in the manifest.
    pub endpoint: Option<String>,
}

impl ArchiveSettings {
    /// From `lookup` (empty values already dropped); `None` without `ARCHIVE_BUCKET`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ArchiveSettings>, ConfigError> {
        let invalid = |name, reason: &str| ConfigError::Invalid {
            name,
            reason: reason.to_owned(),
        };
        let all = match lookup("ARCHIVE_ALL").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(invalid("ARCHIVE_ALL", "must be true or false")),
        };
        let Some(bucket) = lookup("ARCHIVE_BUCKET") else {
            return Ok(None);
        };
        let bucket = bucket.trim().to_owned();
        // S3's rule for bucket names, so a typo stops the cold start instead of every write.
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid {
            return Err(invalid("ARCHIVE_BUCKET", "is not an S3 bucket name"));
        }
        let endpoint = match lookup("ARCHIVE_ENDPOINT_URL") {
            None => None,
            Some(raw) => match Url::parse(raw.trim()) {
                Ok(url) if is_loopback(&url) => Some(raw.trim().trim_end_matches('/').to_owned()),
                _ => {
                    return Err(invalid(
                        "ARCHIVE_ENDPOINT_URL",
                        "is for a local S3 server only: it must be a loopback URL \
                         (127.0.0.0/8, ::1 or localhost)",
                    ));
                }
            },
        };
        Ok(Some(ArchiveSettings {
            bucket,
            all,
            endpoint,
        }))
    }
}

/// `PLIVO_AUTH_ID`, required with the token: it is a path segment of the Message API, so
/// only letters and digits are accepted (Plivo's are `MA` or `SA` and 18 more).
fn plivo_auth_id(value: Option<String>) -> Result<String, ConfigError> {
    let id = value.ok_or(ConfigError::Missing("PLIVO_AUTH_ID"))?;
    let id = id.trim();
    if id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id.to_owned())
    } else {
        Err(ConfigError::Invalid {
            name: "PLIVO_AUTH_ID",
            reason: "must be letters and digits only, as in the Plivo console (MA... or SA...)"
                .into(),
        })
    }
}

/// MessageBird / Bird: enabled by any of its keys; a Bird access key needs its workspace.
fn messagebird_config(
    lookup: &impl Fn(&str) -> Option<String>,
    secret: &impl Fn(&'static str) -> Result<Option<Secret>, ConfigError>,
) -> Result<Option<MessageBirdConfig>, ConfigError> {
    let signing_key = secret("MESSAGEBIRD_SIGNING_KEY")?;
    let bird_signing_key = secret("BIRD_SIGNING_KEY")?;
    let access_key = secret("MESSAGEBIRD_ACCESS_KEY")?;
    let bird_access_key = secret("BIRD_ACCESS_KEY")?;
    if signing_key.is_none()
        && bird_signing_key.is_none()
        && access_key.is_none()
        && bird_access_key.is_none()
    {
        return Ok(None);
    }
    let bird_workspace_id = lookup("BIRD_WORKSPACE_ID").map(|v| v.trim().to_owned());
    if bird_access_key.is_some() && bird_workspace_id.is_none() {
        return Err(ConfigError::Missing("BIRD_WORKSPACE_ID"));
    }
    // It becomes a path segment of the send URL.
    if let Some(id) = &bird_workspace_id
        && !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ConfigError::Invalid {
            name: "BIRD_WORKSPACE_ID",
            reason: "must be the workspace's id (letters, digits and dashes)".into(),
        });
    }
    let base = |name: &'static str, default: &str| {
        service_url(name, &lookup(name).unwrap_or_else(|| default.to_owned()))
    };
    Ok(Some(MessageBirdConfig {
        signing_key,
        bird_signing_key,
        access_key,
        api_base_url: base("MESSAGEBIRD_API_BASE_URL", "https://rest.messagebird.com")?,
        bird_access_key,
        bird_workspace_id,
        bird_api_base_url: base("BIRD_API_BASE_URL", "https://api.bird.com")?,
    }))
}

/// Vonage's settings, when its signature secret or API secret is set.
fn vonage(
    lookup: &impl Fn(&str) -> Option<String>,
    secret: &impl Fn(&'static str) -> Result<Option<Secret>, ConfigError>,
    base: &impl Fn(&'static str, &str) -> Result<Url, ConfigError>,
) -> Result<Option<VonageConfig>, ConfigError> {
    let signature_secret = secret("VONAGE_SIGNATURE_SECRET")?;
    let api_secret = secret("VONAGE_API_SECRET")?;
    if signature_secret.is_none() && api_secret.is_none() {
        return Ok(None);
    }
    let api_key = lookup("VONAGE_API_KEY").map(|k| k.trim().to_owned());
    if api_secret.is_some() && api_key.is_none() {
        return Err(ConfigError::Missing("VONAGE_API_KEY"));
    }
    let signature_method = match lookup("VONAGE_SIGNATURE_METHOD") {
        None => VonageSignatureMethod::default(),
        Some(v) => VonageSignatureMethod::parse(&v).ok_or(ConfigError::Invalid {
            name: "VONAGE_SIGNATURE_METHOD",
            reason: "must be md5hash, md5, sha1, sha256 or sha512 (the dashboard's choice)".into(),
        })?,
    };
    let send_api = match lookup("VONAGE_SEND_API").map(|v| v.trim().to_ascii_lowercase()) {
        None => VonageSendApi::default(),
        Some(v) if v == "messages" => VonageSendApi::Messages,
        Some(v) if v == "sms" => VonageSendApi::Sms,
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "VONAGE_SEND_API",
                reason: "must be messages or sms".into(),
            });
        }
    };
    Ok(Some(VonageConfig {
        signature_secret,
        signature_method,
        api_key,
        api_secret,
        send_api,
        api_base_url: base("VONAGE_API_BASE_URL", "https://api.nexmo.com")?,
        rest_base_url: base("VONAGE_REST_BASE_URL", "https://rest.nexmo.com")?,
    }))
}

/// AWS End User Messaging SMS, when either side of it is configured.
fn aws_sms(
    lookup: &impl Fn(&str) -> Option<String>,
    trusted_cert_file: Option<String>,
) -> Result<Option<AwsSmsConfig>, ConfigError> {
    let topic_arns = list(lookup("AWS_SMS_TOPIC_ARNS"));
    if let Some(bad) = topic_arns.iter().find(|a| !a.starts_with("arn:aws")) {
        return Err(ConfigError::Invalid {
            name: "AWS_SMS_TOPIC_ARNS",
            reason: format!("{bad} is not an SNS topic ARN"),
        });
    }
    let send = match lookup("AWS_SMS_SEND").map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            return Err(ConfigError::Invalid {
                name: "AWS_SMS_SEND",
                reason: format!("{v:?} is neither true nor false"),
            });
        }
    };
    if topic_arns.is_empty() && !send {
        return Ok(None);
    }
    let url = |name: &'static str| lookup(name).map(|v| service_url(name, &v)).transpose();
    Ok(Some(AwsSmsConfig {
        topic_arns,
        send,
        configuration_set: lookup("AWS_SMS_CONFIGURATION_SET"),
        endpoint: url("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2")?,
        trusted_cert_file,
        confirm_base_url: url("SNS_CONFIRM_BASE_URL")?,
    }))
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
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
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

/// Whether `url` points at this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
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

    /// Every secret the manifest declares, blank in any way, stops the cold start with an
    /// error naming the variable (and nothing of the value).
    #[test]
    fn blank_secrets_are_refused() {
        // The ack settings are read like a secret but are not one: blank means the built-in
        // settings, as unset does.
        let secrets: Vec<&'static str> = crate::manifest::parameter_vars()
            .filter(|v| v.name != crate::manifest::ACK_SETTINGS.name)
            .map(|v| v.name)
            .collect();
        assert!(secrets.len() >= 12, "{secrets:?}");
        for name in secrets {
            for blank in ["", " ", "\n", " \t\r\n "] {
                let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), (name, blank)]))
                    .expect_err(name);
                assert!(
                    matches!(err, ConfigError::EmptySecret(n) if n == name),
                    "{name}: {err:?}"
                );
                assert!(err.to_string().starts_with(name), "{err}");
            }
        }
    }

    #[test]
    fn basic_credentials_with_a_blank_password_are_an_empty_secret() {
        for value in ["intake:", "intake:                  ", "  intake:\n"] {
            let err = Config::from_lookup(lookup(&[
                ("TABLE_NAME", "t"),
                ("SENDGRID_BASIC_AUTH", value),
            ]))
            .unwrap_err();
            assert!(
                matches!(err, ConfigError::EmptySecret("SENDGRID_BASIC_AUTH")),
                "{value:?}: {err:?}"
            );
        }
        let short = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("POSTMARK_BASIC_AUTH", "intake:short-pw-here"),
        ]))
        .unwrap_err();
        assert!(!short.to_string().contains("short-pw-here"), "{short}");
    }

    /// SSM SecureStrings put with `--value file://token.txt`, and `.env` lines, often end in a
    /// newline; the secret is what is between the whitespace.
    #[test]
    fn secrets_are_trimmed_wherever_they_come_from() {
        let c = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("TWILIO_AUTH_TOKEN", "  0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            (
                "MAILGUN_SIGNING_KEY",
                "key-3ax6xnjp29jd6fds4gc373sgvjxteol0\r\n",
            ),
            ("SENDGRID_BASIC_AUTH", "intake:0123456789abcdef\n"),
            ("TELEGRAM_BOT_TOKEN", "\t123:abc\n"),
            ("TELEGRAM_SECRET_TOKEN", "s3cret \n"),
        ]))
        .unwrap();
        assert_eq!(
            c.twilio.unwrap().auth_token.expose(),
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        );
        assert_eq!(
            c.mailgun_signing_key.unwrap().expose(),
            "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
        );
        assert_eq!(c.sendgrid.unwrap().password.expose(), "0123456789abcdef");
        let telegram = c.telegram.unwrap();
        assert_eq!(telegram.bot_token.expose(), "123:abc");
        assert_eq!(telegram.secret_token.unwrap().expose(), "s3cret");
        // What `Config::load` does with each SecureString it fetched.
        assert_eq!(
            Secret::from_config("LINE_CHANNEL_SECRET", " abc\n")
                .unwrap()
                .expose(),
            "abc"
        );
        assert!(matches!(
            Secret::from_config("LINE_CHANNEL_SECRET", " \n"),
            Err(ConfigError::EmptySecret("LINE_CHANNEL_SECRET"))
        ));
    }

    /// Providers built from a configuration made by hand (not read by `from_lookup`) refuse
    /// a blank secret too: nothing can verify with an empty key.
    #[test]
    fn providers_refuse_blank_secrets_themselves() {
        use crate::providers::{
            line, mailgun, messagebird, meta, postmark, sendgrid, telegram, twilio,
        };
        let http = reqwest::Client::new;
        let url = |u: &str| Url::parse(u).unwrap();
        let blank = || Secret::new(" \n");
        let fine = || Secret::new("a-real-secret-value");
        let empty = |r: Result<(), ConfigError>, name: &str| {
            assert!(
                matches!(&r, Err(ConfigError::EmptySecret(n)) if *n == name),
                "{name}: {r:?}"
            )
        };
        let twilio_config = TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: blank(),
            api_base_url: url("https://api.twilio.com"),
        };
        empty(
            twilio::Twilio::new(&twilio_config).map(drop),
            "TWILIO_AUTH_TOKEN",
        );
        empty(
            twilio::TwilioSender::new(&twilio_config, http()).map(drop),
            "TWILIO_AUTH_TOKEN",
        );
        // MessageBird / Bird: each of its four keys.
        let messagebird_config = |blank_one: &str| {
            let key = |name: &str| Some(if name == blank_one { blank() } else { fine() });
            MessageBirdConfig {
                signing_key: key("MESSAGEBIRD_SIGNING_KEY"),
                bird_signing_key: key("BIRD_SIGNING_KEY"),
                access_key: key("MESSAGEBIRD_ACCESS_KEY"),
                api_base_url: url("https://rest.messagebird.com"),
                bird_access_key: key("BIRD_ACCESS_KEY"),
                bird_workspace_id: Some("w1".into()),
                bird_api_base_url: url("https://api.bird.com"),
            }
        };
        for name in ["MESSAGEBIRD_SIGNING_KEY", "BIRD_SIGNING_KEY"] {
            empty(
                messagebird::MessageBird::new(&messagebird_config(name)).map(drop),
                name,
            );
        }
        for name in ["MESSAGEBIRD_ACCESS_KEY", "BIRD_ACCESS_KEY"] {
            empty(
                messagebird::MessageBirdSender::new(&messagebird_config(name), http()).map(drop),
                name,
            );
        }
        let meta_config = |app: Secret, verify: Secret, page: Option<Secret>| MetaConfig {
            app_secret: Some(app),
            verify_token: Some(verify),
            page_access_token: page,
            whatsapp_token: None,
            graph_base_url: url("https://graph.facebook.com"),
            graph_version: "v21.0".into(),
            whatsapp_template: None,
        };
        empty(
            meta::Meta::new(&meta_config(blank(), fine(), None)).map(drop),
            "META_APP_SECRET",
        );
        empty(
            meta::Meta::new(&meta_config(fine(), blank(), None)).map(drop),
            "META_VERIFY_TOKEN",
        );
        empty(
            meta::MetaSender::new(&meta_config(fine(), fine(), Some(blank())), http()).map(drop),
            "META_PAGE_ACCESS_TOKEN",
        );
        let telegram_config = |bot: Secret, secret: Secret| TelegramConfig {
            bot_token: bot,
            secret_token: Some(secret),
            api_base_url: url("https://api.telegram.org"),
        };
        let settings = crate::ack::AckSettings::builtin();
        empty(
            telegram::Telegram::new(&telegram_config(Secret::new("1:a"), blank()), &settings)
                .map(drop),
            "TELEGRAM_SECRET_TOKEN",
        );
        empty(
            telegram::TelegramSender::new(&telegram_config(blank(), fine()), http()).map(drop),
            "TELEGRAM_BOT_TOKEN",
        );
        let line_config = LineConfig {
            channel_secret: Some(blank()),
            access_token: Some(blank()),
            api_base_url: url("https://api.line.me"),
        };
        empty(
            line::Line::new(&line_config).map(drop),
            "LINE_CHANNEL_SECRET",
        );
        empty(
            line::LineSender::new(&line_config, http()).map(drop),
            "LINE_CHANNEL_ACCESS_TOKEN",
        );
        empty(
            mailgun::Mailgun::new(&blank()).map(drop),
            "MAILGUN_SIGNING_KEY",
        );
        for (user, password) in [("intake", blank()), (" ", fine())] {
            let credentials = BasicCredentials {
                user: user.into(),
                password,
            };
            empty(
                sendgrid::SendGrid::new(&credentials).map(drop),
                "SENDGRID_BASIC_AUTH",
            );
            empty(
                postmark::Postmark::new(&credentials).map(drop),
                "POSTMARK_BASIC_AUTH",
            );
        }
        // With real secrets the same constructors succeed.
        assert!(
            twilio::Twilio::new(&TwilioConfig {
                auth_token: fine(),
                ..twilio_config
            })
            .is_ok()
        );
        assert!(mailgun::Mailgun::new(&fine()).is_ok());

        // Through the provider sets: the webhook's cold start fails, the sender is left out.
        let mut hand_made = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("TWILIO_AUTH_TOKEN", "tok"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
        ]))
        .unwrap();
        let clients = crate::providers::Clients::without_aws();
        assert_eq!(crate::providers::senders(&hand_made, &clients).len(), 1);
        if let Some(t) = hand_made.twilio.as_mut() {
            t.auth_token = blank();
        }
        assert!(matches!(
            crate::providers::inbound(crate::Channel::Sms, &hand_made, &clients),
            Err(ConfigError::EmptySecret("TWILIO_AUTH_TOKEN"))
        ));
        assert!(crate::providers::senders(&hand_made, &clients).is_empty());
    }

    /// The committed test certificate may be trusted only by a stack on this machine.
    #[test]
    fn trusted_sns_certificate_only_on_loopback() {
        let with = |base: Option<&str>| {
            let mut pairs = vec![
                ("TABLE_NAME", "t"),
                ("SES_TOPIC_ARNS", "arn:aws:sns:eu-west-1:111111111111:mail"),
                (
                    "SNS_TRUSTED_CERT_FILE",
                    "tests/fixtures/sns-dev/certificate.pem",
                ),
            ];
            if let Some(base) = base {
                pairs.push(("PUBLIC_BASE_URL", base));
            }
            Config::from_lookup(lookup(&pairs))
        };
        for local in [
            "http://127.0.0.1:3000",
            "http://127.8.9.10:3000",
            "http://localhost:3000",
            "http://[::1]:3000",
            "https://localhost",
        ] {
            let c = with(Some(local)).unwrap_or_else(|e| panic!("{local}: {e}"));
            assert!(c.ses.unwrap().trusted_cert_file.is_some());
        }
        for deployed in [
            Some("https://abc123.execute-api.ap-southeast-3.amazonaws.com"),
            Some("https://hooks.example.com/prod"),
            Some("https://127.0.0.1.nip.io"),
            Some("https://localhost.example.com"),
            None,
        ] {
            let err = with(deployed).expect_err("refused");
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "SNS_TRUSTED_CERT_FILE",
                        ..
                    }
                ),
                "{deployed:?}: {err:?}"
            );
        }
        // Without the variable, a deployed URL is of course fine.
        let c = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("PUBLIC_BASE_URL", "https://hooks.example.com/prod"),
            ("SES_TOPIC_ARNS", "arn:aws:sns:eu-west-1:111111111111:mail"),
        ]))
        .unwrap();
        assert!(c.ses.unwrap().trusted_cert_file.is_none());
    }

    #[test]
    fn telnyx_each_side_and_its_public_key_checked_at_cold_start() {
        // The public key of the RFC 8032 section 7.1 TEST 1 key pair.
        let key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let webhook = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("TELNYX_PUBLIC_KEY", &format!(" {key}\n")),
        ]))
        .unwrap();
        let telnyx = webhook.telnyx.clone().unwrap();
        assert_eq!(
            telnyx.public_key.unwrap().as_bytes()[..4],
            [0xd7, 0x5a, 0x98, 0x01]
        );
        assert!(telnyx.api_key.is_none());
        assert_eq!(telnyx.api_base_url.as_str(), "https://api.telnyx.com/");
        let clients = crate::providers::Clients::without_aws();
        let sms = crate::providers::inbound(crate::Channel::Sms, &webhook, &clients).unwrap();
        assert_eq!(sms.iter().map(|p| p.name()).collect::<Vec<_>>(), ["telnyx"]);
        assert!(crate::providers::senders(&webhook, &clients).is_empty());

        let acks = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("TELNYX_API_KEY", "KEY0123"),
            (
                "TELNYX_MESSAGING_PROFILE_ID",
                "40017f8e-49bd-4f16-9e3d-ef103f916228",
            ),
            ("TELNYX_API_BASE_URL", "http://127.0.0.1:3001"),
        ]))
        .unwrap();
        let telnyx = acks.telnyx.clone().unwrap();
        assert!(telnyx.public_key.is_none());
        assert_eq!(
            telnyx.messaging_profile_id.as_deref(),
            Some("40017f8e-49bd-4f16-9e3d-ef103f916228")
        );
        assert!(
            crate::providers::inbound(crate::Channel::Sms, &acks, &clients)
                .unwrap()
                .is_empty()
        );
        let senders = crate::providers::senders(&acks, &clients);
        assert_eq!(
            senders.iter().map(|s| s.provider()).collect::<Vec<_>>(),
            ["telnyx"]
        );

        for bad in [
            "not base64!",
            // 16 bytes: an API key pasted by mistake is not a public key.
            "MDEyMzQ1Njc4OWFiY2RlZg==",
            // All zeros: a point of small order, with which signatures can be forged.
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            let err =
                Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("TELNYX_PUBLIC_KEY", bad)]))
                    .expect_err(bad);
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "TELNYX_PUBLIC_KEY",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
            assert!(!err.to_string().contains(bad), "{err}");
        }
        let err = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("TELNYX_API_KEY", "KEY0123"),
            ("TELNYX_API_BASE_URL", "http://api.telnyx.com"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "TELNYX_API_BASE_URL",
                ..
            }
        ));
    }

    #[test]
    fn twilio_token_needs_account_sid() {
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("TWILIO_AUTH_TOKEN", "x")]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::Missing("TWILIO_ACCOUNT_SID")));
    }

    #[test]
    fn plivo_needs_its_auth_id_and_takes_an_optional_main_token() {
        let read = |pairs: &[(&str, &str)]| {
            let mut all = vec![("TABLE_NAME", "t")];
            all.extend_from_slice(pairs);
            Config::from_lookup(lookup(&all))
        };
        let c = read(&[
            ("PLIVO_AUTH_TOKEN", " sub-token\n"),
            ("PLIVO_AUTH_ID", "SA0000000000000000AA"),
        ])
        .unwrap()
        .plivo
        .unwrap();
        assert_eq!(c.auth_token.expose(), "sub-token");
        assert!(c.main_auth_token.is_none());
        assert_eq!(c.api_base_url.as_str(), "https://api.plivo.com/");
        let c = read(&[
            ("PLIVO_AUTH_TOKEN", "sub-token"),
            ("PLIVO_AUTH_ID", "SA0000000000000000AA"),
            ("PLIVO_MAIN_AUTH_TOKEN", "main-token"),
            ("PLIVO_API_BASE_URL", "http://127.0.0.1:3001"),
        ])
        .unwrap()
        .plivo
        .unwrap();
        assert_eq!(c.main_auth_token.unwrap().expose(), "main-token");
        assert_eq!(c.api_base_url.as_str(), "http://127.0.0.1:3001/");
        assert!(matches!(
            read(&[("PLIVO_AUTH_TOKEN", "x")]),
            Err(ConfigError::Missing("PLIVO_AUTH_ID"))
        ));
        assert!(matches!(
            read(&[("PLIVO_MAIN_AUTH_TOKEN", "x")]),
            Err(ConfigError::Missing("PLIVO_AUTH_TOKEN"))
        ));
        assert!(matches!(
            read(&[("PLIVO_AUTH_TOKEN", "x"), ("PLIVO_AUTH_ID", "MA1/../x")]),
            Err(ConfigError::Invalid {
                name: "PLIVO_AUTH_ID",
                ..
            })
        ));
        assert!(read(&[]).unwrap().plivo.is_none());
    }

    #[test]
    fn messagebird_platforms_and_their_keys() {
        let read = |pairs: &[(&str, &str)]| {
            let mut all = vec![("TABLE_NAME", "t")];
            all.extend_from_slice(pairs);
            Config::from_lookup(lookup(&all))
        };
        assert!(read(&[]).unwrap().messagebird.is_none());
        // The webhook side alone: legacy, Bird, or both.
        let legacy = read(&[("MESSAGEBIRD_SIGNING_KEY", " k1\n")]).unwrap();
        let m = legacy.messagebird.unwrap();
        assert_eq!(m.signing_key.unwrap().expose(), "k1");
        assert!(m.bird_signing_key.is_none());
        assert_eq!(m.api_base_url.as_str(), "https://rest.messagebird.com/");
        assert_eq!(m.bird_api_base_url.as_str(), "https://api.bird.com/");
        // The acknowledger side: a Bird access key needs its workspace.
        assert!(matches!(
            read(&[("BIRD_ACCESS_KEY", "a")]),
            Err(ConfigError::Missing("BIRD_WORKSPACE_ID"))
        ));
        assert!(matches!(
            read(&[("BIRD_ACCESS_KEY", "a"), ("BIRD_WORKSPACE_ID", "w/../x")]),
            Err(ConfigError::Invalid {
                name: "BIRD_WORKSPACE_ID",
                ..
            })
        ));
        let bird = read(&[
            ("BIRD_ACCESS_KEY", "a"),
            ("BIRD_WORKSPACE_ID", "0a0b0c0d-0000-4000-8000-000000000001"),
            ("BIRD_API_BASE_URL", "http://127.0.0.1:3001"),
        ])
        .unwrap()
        .messagebird
        .unwrap();
        assert_eq!(bird.bird_api_base_url.as_str(), "http://127.0.0.1:3001/");
        assert!(matches!(
            read(&[
                ("MESSAGEBIRD_ACCESS_KEY", "a"),
                ("MESSAGEBIRD_API_BASE_URL", "http://rest.messagebird.com")
            ]),
            Err(ConfigError::Invalid {
                name: "MESSAGEBIRD_API_BASE_URL",
                ..
            })
        ));
    }

    // Vonage
    #[test]
    fn vonage_settings() {
        let read = |pairs: &[(&str, &str)]| {
            let mut all = vec![("TABLE_NAME", "t")];
            all.extend_from_slice(pairs);
            Config::from_lookup(lookup(&all))
        };
        assert!(read(&[]).unwrap().vonage.is_none());
        let webhook_only = read(&[("VONAGE_SIGNATURE_SECRET", " s3cret\n")])
            .unwrap()
            .vonage
            .unwrap();
        assert_eq!(webhook_only.signature_secret.unwrap().expose(), "s3cret");
        // Vonage's dashboard default, and the Messages API for acks.
        assert_eq!(
            webhook_only.signature_method,
            VonageSignatureMethod::Md5Hash
        );
        assert_eq!(webhook_only.send_api, VonageSendApi::Messages);
        assert_eq!(webhook_only.api_base_url.as_str(), "https://api.nexmo.com/");
        assert_eq!(
            webhook_only.rest_base_url.as_str(),
            "https://rest.nexmo.com/"
        );
        assert!(webhook_only.api_secret.is_none());

        let full = read(&[
            ("VONAGE_SIGNATURE_SECRET", "s3cret"),
            ("VONAGE_SIGNATURE_METHOD", "SHA256"),
            ("VONAGE_API_KEY", "abcd1234"),
            ("VONAGE_API_SECRET", "api-secret"),
            ("VONAGE_SEND_API", "sms"),
            ("VONAGE_REST_BASE_URL", "http://127.0.0.1:3001"),
        ])
        .unwrap()
        .vonage
        .unwrap();
        assert_eq!(full.signature_method, VonageSignatureMethod::Sha256Hmac);
        assert_eq!(full.send_api, VonageSendApi::Sms);
        assert_eq!(full.api_key.as_deref(), Some("abcd1234"));
        assert_eq!(full.rest_base_url.as_str(), "http://127.0.0.1:3001/");
        for (name, method) in [
            ("md5hash", VonageSignatureMethod::Md5Hash),
            ("MD5HMAC", VonageSignatureMethod::Md5Hmac),
            ("sha1", VonageSignatureMethod::Sha1Hmac),
            ("sha512hmac", VonageSignatureMethod::Sha512Hmac),
        ] {
            assert_eq!(VonageSignatureMethod::parse(name), Some(method), "{name}");
        }

        assert!(matches!(
            read(&[("VONAGE_API_SECRET", "api-secret")]).unwrap_err(),
            ConfigError::Missing("VONAGE_API_KEY")
        ));
        assert!(matches!(
            read(&[("VONAGE_SIGNATURE_SECRET", "  ")]).unwrap_err(),
            ConfigError::EmptySecret("VONAGE_SIGNATURE_SECRET")
        ));
        for (name, value) in [
            ("VONAGE_SIGNATURE_METHOD", "sha384"),
            ("VONAGE_SEND_API", "voice"),
            ("VONAGE_API_BASE_URL", "http://api.nexmo.com"),
        ] {
            let err = read(&[("VONAGE_SIGNATURE_SECRET", "s3cret"), (name, value)]).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}: {err}"
            );
        }
    }
    #[test]
    fn the_deployed_archive_is_on_with_a_bucket_and_refuses_typos() {
        let settings = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ArchiveSettings::from_lookup(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        assert_eq!(settings(&[]).unwrap(), None);
        assert_eq!(settings(&[("ARCHIVE_ALL", "true")]).unwrap(), None);
        assert_eq!(
            settings(&[("ARCHIVE_BUCKET", "intake-prod-archive-1a2b")]).unwrap(),
            Some(ArchiveSettings {
                bucket: "intake-prod-archive-1a2b".into(),
                all: false,
                endpoint: None,
            })
        );
        let all = settings(&[("ARCHIVE_BUCKET", "b12"), ("ARCHIVE_ALL", "true")]);
        assert!(all.unwrap().unwrap().all);
        assert!(settings(&[("ARCHIVE_BUCKET", "b12"), ("ARCHIVE_ALL", "yes")]).is_err());
        for bad in ["Intake_Archive", "ab", "s3://bucket", "arn:aws:s3:::bucket"] {
            assert!(settings(&[("ARCHIVE_BUCKET", bad)]).is_err(), "{bad}");
        }
        let local = settings(&[
            ("ARCHIVE_BUCKET", "b12"),
            ("ARCHIVE_ENDPOINT_URL", "http://127.0.0.1:8007/"),
        ]);
        assert_eq!(
            local.unwrap().unwrap().endpoint.as_deref(),
            Some("http://127.0.0.1:8007")
        );
        for remote in [
            "https://s3.amazonaws.com",
            "http://10.0.0.5:9000",
            "not a url",
        ] {
            let refused = settings(&[("ARCHIVE_BUCKET", "b12"), ("ARCHIVE_ENDPOINT_URL", remote)]);
            assert!(refused.is_err(), "{remote}");
        }
    }
}
