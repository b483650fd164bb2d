//! Secrets and the ack configuration read from SSM Parameter Store at cold start, as deployed:
//! each function is given `<NAME>_PARAM` names (the templates' wiring) and reads the
//! parameters from moto's SSM (server mode, PyPI) through the real `aws-sdk-ssm`. Run inside
//! each function's code path, so `make test` records the `ssm:GetParameters` calls each
//! function makes (tests/permissions.rs holds the templates to them).

use intake::Config;
use intake::manifest::{self, Function};
use intake_dev::moto_local::MotoLocal;

/// A value the configuration accepts for each variable read from a parameter; padded with
/// spaces and a newline, as a value typed into the console can be.
fn value_for(var: &str) -> String {
    let value = match var {
        "TELEGRAM_BOT_TOKEN" => "7000000001:TEST-from-ssm".to_owned(),
        "SENDGRID_BASIC_AUTH" | "POSTMARK_BASIC_AUTH" => "intake:0123456789abcdef-ssm".to_owned(),
        // A 32-byte Ed25519 public key, base64 (the local stack's test key).
        "TELNYX_PUBLIC_KEY" => intake_dev::stack::test_telnyx_public_key().expect("key"),
        "INTAKE_CONFIG_TOML" => std::fs::read_to_string(
            intake_tests::templates::root().join("tests/fixtures/intake.toml"),
        )
        .expect("tests/fixtures/intake.toml"),
        other => format!("{}-from-ssm", other.to_ascii_lowercase()),
    };
    format!("  {value}\n")
}

fn parameter_name(var: &str) -> String {
    format!("/intake-test/{var}")
}

/// What a function's configuration holds of each value it read from a parameter.
fn read_values(config: &Config) -> Vec<(&'static str, Option<String>)> {
    let meta = config.meta.as_ref();
    let messagebird = config.messagebird.as_ref();
    let expose = |s: Option<&intake::config::Secret>| s.map(|s| s.expose().to_owned());
    let telnyx = config.telnyx.as_ref();
    vec![
        (
            "TWILIO_AUTH_TOKEN",
            expose(config.twilio.as_ref().map(|t| &t.auth_token)),
        ),
        // Plivo
        (
            "PLIVO_AUTH_TOKEN",
            expose(config.plivo.as_ref().map(|p| &p.auth_token)),
        ),
        (
            "PLIVO_MAIN_AUTH_TOKEN",
            expose(
                config
                    .plivo
                    .as_ref()
                    .and_then(|p| p.main_auth_token.as_ref()),
            ),
        ),
        // MessageBird / Bird
        (
            "MESSAGEBIRD_SIGNING_KEY",
            expose(messagebird.and_then(|m| m.signing_key.as_ref())),
        ),
        (
            "BIRD_SIGNING_KEY",
            expose(messagebird.and_then(|m| m.bird_signing_key.as_ref())),
        ),
        (
            "MESSAGEBIRD_ACCESS_KEY",
            expose(messagebird.and_then(|m| m.access_key.as_ref())),
        ),
        (
            "BIRD_ACCESS_KEY",
            expose(messagebird.and_then(|m| m.bird_access_key.as_ref())),
        ),
        (
            "TELNYX_PUBLIC_KEY",
            telnyx.and_then(|t| t.public_key.as_ref()).map(|k| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(k.as_bytes())
            }),
        ),
        (
            "TELNYX_API_KEY",
            expose(telnyx.and_then(|t| t.api_key.as_ref())),
        ),
        // Vonage
        (
            "VONAGE_SIGNATURE_SECRET",
            expose(
                config
                    .vonage
                    .as_ref()
                    .and_then(|v| v.signature_secret.as_ref()),
            ),
        ),
        (
            "VONAGE_API_SECRET",
            expose(config.vonage.as_ref().and_then(|v| v.api_secret.as_ref())),
        ),
        (
            "META_APP_SECRET",
            expose(meta.and_then(|m| m.app_secret.as_ref())),
        ),
        (
            "META_VERIFY_TOKEN",
            expose(meta.and_then(|m| m.verify_token.as_ref())),
        ),
        (
            "META_PAGE_ACCESS_TOKEN",
            expose(meta.and_then(|m| m.page_access_token.as_ref())),
        ),
        (
            "META_WHATSAPP_TOKEN",
            expose(meta.and_then(|m| m.whatsapp_token.as_ref())),
        ),
        (
            "TELEGRAM_BOT_TOKEN",
            expose(config.telegram.as_ref().map(|t| &t.bot_token)),
        ),
        (
            "TELEGRAM_SECRET_TOKEN",
            expose(
                config
                    .telegram
                    .as_ref()
                    .and_then(|t| t.secret_token.as_ref()),
            ),
        ),
        (
            "LINE_CHANNEL_SECRET",
            expose(config.line.as_ref().and_then(|l| l.channel_secret.as_ref())),
        ),
        (
            "LINE_CHANNEL_ACCESS_TOKEN",
            expose(config.line.as_ref().and_then(|l| l.access_token.as_ref())),
        ),
        (
            "MAILGUN_SIGNING_KEY",
            expose(config.mailgun_signing_key.as_ref()),
        ),
        (
            "SENDGRID_BASIC_AUTH",
            config
                .sendgrid
                .as_ref()
                .map(|c| format!("{}:{}", c.user, c.password.expose())),
        ),
        (
            "POSTMARK_BASIC_AUTH",
            config
                .postmark
                .as_ref()
                .map(|c| format!("{}:{}", c.user, c.password.expose())),
        ),
    ]
}

async fn load_as(function: &Function, sdk: &aws_config::SdkConfig) -> Config {
    let names: Vec<(String, String)> = function
        .env
        .iter()
        .filter(|v| v.secret)
        .map(|v| (format!("{}_PARAM", v.name), parameter_name(v.name)))
        .collect();
    let lookup = move |name: &str| -> Option<String> {
        match name {
            "TABLE_NAME" => Some("intake-test".into()),
            "PUBLIC_BASE_URL" => Some("https://hooks.example.com".into()),
            "TWILIO_ACCOUNT_SID" => Some("AC00000000000000000000000000000000".into()),
            "PLIVO_AUTH_ID" => Some("MA00000000000000TEST".into()),
            "BIRD_WORKSPACE_ID" => Some("0a0b0c0d-0000-4000-8000-000000000001".into()),
            // Vonage: the acknowledger's API secret comes with its (not secret) key.
            "VONAGE_API_KEY" => Some("abcd1234".into()),
            _ => names
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone()),
        }
    };
    intake::aws_calls::within(function.name, Config::load_with(sdk, lookup))
        .await
        .unwrap_or_else(|e| panic!("{} does not start: {e}", function.name))
}

#[tokio::test]
async fn every_function_reads_its_secrets_and_settings_from_ssm_at_cold_start() {
    let moto = MotoLocal::start()
        .await
        .expect("moto server (make infra-deps)");
    let sdk = intake_dev::stack::local_sdk_config(&moto.endpoint()).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for var in manifest::parameter_vars() {
        ssm.put_parameter()
            .name(parameter_name(var.name))
            .value(value_for(var.name))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("put parameter");
    }

    for function in manifest::functions() {
        let config = load_as(&function, &sdk).await;
        let read = read_values(&config);
        for var in function.env.iter().filter(|v| v.secret) {
            if var.name == "INTAKE_CONFIG_TOML" {
                // The fixture's brands, not the built-in settings.
                assert_eq!(
                    config.ack.brand_for("+62411777000").id,
                    "kopi",
                    "{}: the brands of the ack settings in SSM",
                    function.name
                );
                continue;
            }
            let got = read.iter().find(|(n, _)| *n == var.name).map(|(_, v)| v);
            assert_eq!(
                got,
                Some(&Some(value_for(var.name).trim().to_owned())),
                "{} reads {} from its parameter, trimmed",
                function.name,
                var.name
            );
        }
    }

    // A parameter that does not exist stops the cold start, naming the parameter.
    let err = Config::load_with(&sdk, |name| match name {
        "TABLE_NAME" => Some("intake-test".into()),
        "MAILGUN_SIGNING_KEY_PARAM" => Some("/intake-test/missing".into()),
        _ => None,
    })
    .await
    .expect_err("a missing parameter is an error");
    assert!(err.to_string().contains("/intake-test/missing"), "{err}");
}
