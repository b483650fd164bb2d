//! `intake doctor --stack <name>` against moto in server mode (PyPI `moto[server]`, installed
//! by `make infra-deps`): stacks deployed through the real SDK clients, checked by the
//! `intake` binary as an engineer runs it.
//!
//! What moto cannot hold is built the way AWS gets there (see `intake_dev::moto_local`):
//! moto's CloudFormation skips `AWS::SNS::Subscription` and `AWS::SES::ReceiptRuleSet`, so
//! the fixture subscribes the inbound topic and creates the rule set through SNS and SES
//! and names them in the stack's outputs, as the real template does. moto confirms every
//! subscription at once and none can be made pending, so the broken stack's subscription is
//! in the state AWS leaves a subscription nobody confirmed: deleted (after 3 days).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::types::ParameterType;
use intake_dev::moto_local::MotoLocal;
use serde_json::json;
use std::time::Duration;
use tokio::process::Command;

/// The secret the healthy stack's Twilio parameter holds: doctor must never print it.
const SECRET: &str = "s3cret-twilio-token-value";
const WEBHOOK: &str = "https://hooks.example.com/email/ses";

async fn sdk(moto: &MotoLocal) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// A template with the real template's parameter names and the resource types doctor
/// reads that moto's CloudFormation creates.
fn template() -> String {
    let string = json!({ "Type": "String", "Default": "" });
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "TwilioAuthTokenParameterName": string,
            "MetaAppSecretParameterName": string,
            "AckConfigParameterName": string,
            "SesIdentities": string,
            "SesIdentity": string,
            "SesInboundRecipients": string,
        },
        "Resources": {
            "SesInboundTopic": { "Type": "AWS::SNS::Topic", "Properties": {} },
            "AlarmTopic": { "Type": "AWS::SNS::Topic", "Properties": {} },
        },
        "Outputs": {
            "SesInboundTopicArn": { "Value": { "Ref": "SesInboundTopic" } },
            "SesInboundRuleSetName": { "Value": { "Fn::Sub": "${AWS::StackName}-inbound" } },
            "WebhookUrlEmailSes": { "Value": WEBHOOK },
            "WebhookUrlSmsTwilio": { "Value": "https://hooks.example.com/sms/twilio" },
        },
    })
    .to_string()
}

/// Deploys stack `name`: healthy, or with the Twilio parameter missing and the inbound
/// subscription gone.
async fn deploy(sdk: &SdkConfig, name: &str, healthy: bool) {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let twilio = format!("/{name}/twilio-auth-token");
    let config = format!("/{name}/intake-config");
    if healthy {
        ssm.put_parameter()
            .name(&twilio)
            .r#type(ParameterType::SecureString)
            .value(SECRET)
            .send()
            .await
            .expect("put the Twilio token");
    }
    ssm.put_parameter()
        .name(&config)
        .r#type(ParameterType::String)
        .value("[limits]\nper_contact_per_day = 3\n")
        .send()
        .await
        .expect("put the ack configuration");

    let sesv2 = aws_sdk_sesv2::Client::new(sdk);
    for identity in ["tokoku.id", "help@tokoku.id"] {
        sesv2
            .create_email_identity()
            .email_identity(identity)
            .send()
            .await
            .expect("create the SES identity");
    }
    let ses = aws_sdk_ses::Client::new(sdk);
    let rule_set = format!("{name}-inbound");
    ses.create_receipt_rule_set()
        .rule_set_name(&rule_set)
        .send()
        .await
        .expect("create the rule set");
    ses.set_active_receipt_rule_set()
        .rule_set_name(&rule_set)
        .send()
        .await
        .expect("activate the rule set");

    let parameter = |k: &str, v: &str| {
        aws_sdk_cloudformation::types::Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let identities = if healthy {
        // The list the template now takes.
        parameter("SesIdentities", "tokoku.id,help@tokoku.id")
    } else {
        // The single identity of earlier deployments.
        parameter("SesIdentity", "tokoku.id")
    };
    cfn.create_stack()
        .stack_name(name)
        .template_body(template())
        .parameters(parameter("TwilioAuthTokenParameterName", &twilio))
        .parameters(parameter("AckConfigParameterName", &config))
        .parameters(identities)
        .parameters(parameter("SesInboundRecipients", "help@tokoku.id"))
        .send()
        .await
        .expect("create the stack");
    let stack = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .expect("describe the stack");
    let topic = stack.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("SesInboundTopicArn"))
        .and_then(|o| o.output_value())
        .expect("the inbound topic output")
        .to_owned();

    let sns = aws_sdk_sns::Client::new(sdk);
    let subscription = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("https")
        .endpoint(WEBHOOK)
        .return_subscription_arn(true)
        .send()
        .await
        .expect("subscribe the webhook")
        .subscription_arn
        .expect("a subscription ARN");
    if !healthy {
        sns.unsubscribe()
            .subscription_arn(subscription)
            .send()
            .await
            .expect("unsubscribe");
    }
}

/// Runs `intake doctor --stack <stack>` against moto: (exit status success, stdout).
async fn doctor(moto: &MotoLocal, stack: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["doctor", "--stack", stack])
        // In the project, whose .env.example points SES v2 at the local emulator and sets
        // fake credentials: doctor must not load it (else the identity checks go there).
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("doctor finishes")
        .expect("doctor runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn lines<'a>(out: &'a str, level: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.split_whitespace().next() == Some(level))
        .collect()
}

#[tokio::test]
async fn a_healthy_stack_passes_every_check() {
    let moto = MotoLocal::start().await.expect("moto starts");
    let sdk = sdk(&moto).await;
    deploy(&sdk, "doctor-ok", true).await;

    let (ok, out) = doctor(&moto, "doctor-ok").await;
    assert!(ok, "{out}");
    assert!(lines(&out, "FAIL").is_empty(), "{out}");
    let passed = lines(&out, "ok");
    for expected in [
        "stack doctor-ok: CREATE_COMPLETE",
        "parameter TwilioAuthTokenParameterName: /doctor-ok/twilio-auth-token exists",
        "parameter AckConfigParameterName: /doctor-ok/intake-config exists",
        "SES inbound subscription: https https://hooks.example.com/email/ses confirmed",
        "SES receipt rule set: doctor-ok-inbound is active",
        "SES identity tokoku.id: verified for sending",
        "SES identity help@tokoku.id: verified for sending",
    ] {
        assert!(
            passed.iter().any(|l| l.ends_with(expected)),
            "no `ok  {expected}` in:\n{out}"
        );
    }
    // An unused provider (empty parameter) is not checked.
    assert!(!out.contains("MetaAppSecret"), "{out}");
    // Doctor never reads secret values.
    assert!(!out.contains(SECRET), "{out}");
    // The URLs to paste into the provider consoles.
    assert!(
        out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["SmsTwilio", "https://hooks.example.com/sms/twilio"]),
        "{out}"
    );
}

#[tokio::test]
async fn a_broken_stack_fails_naming_exactly_its_problems() {
    let moto = MotoLocal::start().await.expect("moto starts");
    let sdk = sdk(&moto).await;
    deploy(&sdk, "doctor-broken", false).await;

    let (ok, out) = doctor(&moto, "doctor-broken").await;
    assert!(!ok, "doctor must exit non-zero:\n{out}");
    let failed = lines(&out, "FAIL");
    assert_eq!(failed.len(), 2, "{out}");
    assert!(
        failed.iter().any(|l| l.starts_with(
            "FAIL  parameter TwilioAuthTokenParameterName: /doctor-broken/twilio-auth-token does not exist — create it: aws ssm put-parameter"
        )),
        "{out}"
    );
    assert!(
        failed.iter().any(|l| l
            .starts_with("FAIL  SES inbound subscription: no subscription of arn:aws:sns:")
            && l.contains(" delivers to https://hooks.example.com/email/ses — ")
            && l.contains("aws sns subscribe --topic-arn arn:aws:sns:")),
        "{out}"
    );
    // Everything else is as it should be, read from the single `SesIdentity` too.
    let passed = lines(&out, "ok");
    for expected in [
        "parameter AckConfigParameterName: /doctor-broken/intake-config exists",
        "SES receipt rule set: doctor-broken-inbound is active",
        "SES identity tokoku.id: verified for sending",
    ] {
        assert!(
            passed.iter().any(|l| l.ends_with(expected)),
            "no `ok  {expected}` in:\n{out}"
        );
    }

    // A stack that is not there is one failure, and nothing else is checked.
    let (ok, out) = doctor(&moto, "doctor-missing").await;
    assert!(!ok, "{out}");
    let failed = lines(&out, "FAIL");
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0].starts_with("FAIL  stack doctor-missing: ")
            && failed[0].contains("does not exist"),
        "{out}"
    );
    assert!(lines(&out, "ok").is_empty(), "{out}");
}

#[tokio::test]
async fn an_inactive_rule_set_and_an_unknown_identity_fail_with_how_to_fix_them() {
    let moto = MotoLocal::start().await.expect("moto starts");
    let sdk = sdk(&moto).await;
    deploy(&sdk, "doctor-mail", true).await;
    // Someone deactivated the rule set (as tear-down does) and deleted an identity.
    aws_sdk_ses::Client::new(&sdk)
        .set_active_receipt_rule_set()
        .send()
        .await
        .expect("deactivate");
    aws_sdk_sesv2::Client::new(&sdk)
        .delete_email_identity()
        .email_identity("help@tokoku.id")
        .send()
        .await
        .expect("delete the identity");

    let (ok, out) = doctor(&moto, "doctor-mail").await;
    assert!(!ok, "{out}");
    assert_eq!(
        lines(&out, "FAIL"),
        [
            "FAIL  SES receipt rule set: no rule set is active; doctor-mail-inbound receives no mail — activate it: aws ses set-active-receipt-rule-set --rule-set-name doctor-mail-inbound",
            "FAIL  SES identity help@tokoku.id: not an SES identity in this region — create it, then verify it (DNS records for a domain, the mailed link for an address): aws sesv2 create-email-identity --email-identity help@tokoku.id",
        ],
        "{out}"
    );
    assert!(
        lines(&out, "ok")
            .iter()
            .any(|l| l.ends_with("SES identity tokoku.id: verified for sending")),
        "{out}"
    );
}
