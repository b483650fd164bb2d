//! `intake doctor --stack <name>`: checks a deployed stack the way an engineer would on the
//! first day, from the stack itself (its status, parameters, outputs and resources), with
//! read-only calls: `cloudformation:DescribeStacks` and `ListStackResources`,
//! `ssm:GetParameters` (without decryption: no secret value is read or printed),
//! `sns:GetSubscriptionAttributes` and `ListSubscriptionsByTopic`,
//! `ses:DescribeActiveReceiptRuleSet`, and SES v2 `GetEmailIdentity` and `GetAccount`.
//!
//! Every check gives one [`Check`]: ok, warn (works, but someone should look) or fail (a
//! message will be lost or refused), with a hint of how to fix it.

use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// As it should be.
    Ok,
    /// Works, but someone should look (or the check could not be made).
    Warn,
    /// Messages will be lost or refused until it is fixed.
    Fail,
}

impl Level {
    /// `ok`, `warn` or `FAIL` (capitals stand out in a terminal).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

/// One check: what was checked, what was found, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Its outcome.
    pub level: Level,
    /// What was checked: `parameter TwilioAuthTokenParameterName`, `SES identity tokoku.id`.
    pub subject: String,
    /// What was found.
    pub detail: String,
    /// How to fix it (empty when ok).
    pub hint: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<4}  {}: {}",
            self.level.as_str(),
            self.subject,
            self.detail
        )?;
        if !self.hint.is_empty() {
            write!(f, " — {}", self.hint)?;
        }
        Ok(())
    }
}

/// What `intake doctor` found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The checks, in the order they were made.
    pub checks: Vec<Check>,
    /// The stack's `WebhookUrl*` outputs (name without the prefix, URL), for the provider
    /// consoles.
    pub webhook_urls: Vec<(String, String)>,
}

impl Report {
    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.count(Level::Fail)
    }

    /// How many checks warned.
    pub fn warnings(&self) -> usize {
        self.count(Level::Warn)
    }

    fn count(&self, level: Level) -> usize {
        self.checks.iter().filter(|c| c.level == level).count()
    }

    fn push(&mut self, level: Level, subject: impl Into<String>, detail: impl Into<String>) {
        self.checks.push(Check {
            level,
            subject: subject.into(),
            detail: detail.into(),
            hint: String::new(),
        });
    }

    fn ok(&mut self, subject: impl Into<String>, detail: impl Into<String>) {
        self.push(Level::Ok, subject, detail);
    }

    fn problem(
        &mut self,
        level: Level,
        subject: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.checks.push(Check {
            level,
            subject: subject.into(),
            detail: detail.into(),
            hint: hint.into(),
        });
    }
}

/// The SDK clients of the checks.
struct Clients {
    cfn: aws_sdk_cloudformation::Client,
    ssm: aws_sdk_ssm::Client,
    sns: aws_sdk_sns::Client,
    ses: aws_sdk_ses::Client,
    sesv2: aws_sdk_sesv2::Client,
}

/// What the checks read from the stack.
struct StackFacts {
    parameters: Vec<(String, String)>,
    outputs: HashMap<String, String>,
    /// (type, logical id, physical id) of every resource moto or AWS lists.
    resources: Vec<(String, String, String)>,
}

impl StackFacts {
    fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn output(&self, name: &str) -> Option<&str> {
        self.outputs
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn physical_ids<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.resources
            .iter()
            .filter(move |(t, _, id)| t == kind && !id.is_empty())
            .map(|(_, logical, id)| (logical.as_str(), id.as_str()))
    }
}

/// Checks the stack `stack` with the clients of `config` (its region, credentials and
/// `AWS_ENDPOINT_URL*` endpoints).
pub async fn diagnose(config: &aws_config::SdkConfig, stack: &str) -> Report {
    let clients = Clients {
        cfn: aws_sdk_cloudformation::Client::new(config),
        ssm: aws_sdk_ssm::Client::new(config),
        sns: aws_sdk_sns::Client::new(config),
        ses: aws_sdk_ses::Client::new(config),
        sesv2: aws_sdk_sesv2::Client::new(config),
    };
    let mut report = Report::default();
    let Some(facts) = read_stack(&clients.cfn, stack, &mut report).await else {
        return report;
    };
    check_parameters(&clients.ssm, &facts, &mut report).await;
    check_subscriptions(&clients.sns, &facts, &mut report).await;
    check_rule_set(&clients.ses, &facts, &mut report).await;
    check_identities(&clients.sesv2, &facts, &mut report).await;
    let mut urls: Vec<(String, String)> = facts
        .outputs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("WebhookUrl")?.to_owned(), v.clone())))
        .collect();
    urls.sort();
    report.webhook_urls = urls;
    report
}

/// `Code: message` of an AWS error; the HTTP status of an answer that is not an AWS error (an
/// endpoint without the operation); the chain of causes of a request that got no answer.
fn why<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message(), e) {
        (Some(code), Some(message), _) => format!("{code}: {message}"),
        (Some(code), None, _) => code.to_owned(),
        (None, _, SdkError::ServiceError(context)) => {
            format!(
                "HTTP {} without an AWS error",
                context.raw().status().as_u16()
            )
        }
        _ => DisplayErrorContext(e).to_string(),
    }
}

async fn read_stack(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    report: &mut Report,
) -> Option<StackFacts> {
    let subject = format!("stack {name}");
    let described = match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(e) => {
            let text = why(&e);
            let hint = if text.contains("does not exist") {
                "check the name and the region (aws cloudformation list-stacks)"
            } else {
                "check the credentials and the region"
            };
            report.problem(Level::Fail, subject, text, hint);
            return None;
        }
    };
    let Some(stack) = described.stacks().first() else {
        report.problem(
            Level::Fail,
            subject,
            "not found",
            "check the name and the region (aws cloudformation list-stacks)",
        );
        return None;
    };
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    if status.ends_with("_COMPLETE") && !status.contains("ROLLBACK") {
        report.ok(subject, status);
    } else if status.ends_with("_IN_PROGRESS") {
        report.problem(
            Level::Fail,
            subject,
            status,
            "wait until it completes, then run doctor again",
        );
    } else {
        let reason = stack
            .stack_status_reason()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        report.problem(
            Level::Fail,
            subject,
            format!("{status}{reason}"),
            format!("see why: aws cloudformation describe-stack-events --stack-name {name}"),
        );
    }
    let parameters = stack
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_owned(),
                p.parameter_value().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let mut resources = Vec::new();
    let mut pages = cfn
        .list_stack_resources()
        .stack_name(name)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        match item {
            Ok(r) => resources.push((
                r.resource_type().unwrap_or_default().to_owned(),
                r.logical_resource_id().unwrap_or_default().to_owned(),
                r.physical_resource_id().unwrap_or_default().to_owned(),
            )),
            Err(e) => {
                report.problem(
                    Level::Fail,
                    format!("resources of stack {name}"),
                    why(&e),
                    "the checks of SNS subscriptions and receipt rules need cloudformation:ListStackResources",
                );
                break;
            }
        }
    }
    Some(StackFacts {
        parameters,
        outputs,
        resources,
    })
}

/// Stack parameters that name an SSM parameter: the secrets (`*ParameterName`, `*Param`)
/// and the acknowledgement configuration.
fn names_ssm_parameter(key: &str) -> bool {
    key.ends_with("ParameterName") || key.ends_with("Param")
}

async fn check_parameters(ssm: &aws_sdk_ssm::Client, facts: &StackFacts, report: &mut Report) {
    let wanted: Vec<(&str, &str)> = facts
        .parameters
        .iter()
        .filter(|(k, _)| names_ssm_parameter(k))
        .filter_map(|(k, _)| Some((k.as_str(), facts.parameter(k)?)))
        .collect();
    let names: Vec<String> = wanted
        .iter()
        .map(|(_, v)| (*v).to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut found = BTreeSet::new();
    let mut unreadable: HashMap<String, String> = HashMap::new();
    // GetParameters takes at most 10 names.
    for chunk in names.chunks(10) {
        match ssm
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(false)
            .send()
            .await
        {
            Ok(out) => found.extend(
                out.parameters()
                    .iter()
                    .filter_map(|p| p.name())
                    .map(str::to_owned),
            ),
            Err(e) => {
                let text = why(&e);
                unreadable.extend(chunk.iter().map(|n| (n.clone(), text.clone())));
            }
        }
    }
    for (key, name) in wanted {
        let subject = format!("parameter {key}");
        if found.contains(name) {
            report.ok(subject, format!("{name} exists"));
        } else if let Some(e) = unreadable.get(name) {
            report.problem(
                Level::Fail,
                subject,
                format!("cannot read {name}: {e}"),
                "doctor needs ssm:GetParameters on it",
            );
        } else {
            // The acknowledgement configuration is a TOML file, not a secret.
            let create = if key.contains("Config") {
                format!(
                    "aws ssm put-parameter --name {name} --type String --value file://intake.toml"
                )
            } else {
                format!(
                    "aws ssm put-parameter --name {name} --type SecureString --value '<the secret>'"
                )
            };
            report.problem(
                Level::Fail,
                subject,
                format!("{name} does not exist"),
                format!("create it: {create}"),
            );
        }
    }
}

/// One SNS subscription as `GetSubscriptionAttributes` describes it.
struct Subscription {
    topic: String,
    protocol: String,
    endpoint: String,
    pending: bool,
}

async fn subscription(
    sns: &aws_sdk_sns::Client,
    arn: &str,
) -> Result<Option<Subscription>, String> {
    match sns
        .get_subscription_attributes()
        .subscription_arn(arn)
        .send()
        .await
    {
        Ok(out) => {
            let attrs = out.attributes().cloned().unwrap_or_default();
            let get = |k: &str| attrs.get(k).cloned().unwrap_or_default();
            Ok(Some(Subscription {
                topic: get("TopicArn"),
                protocol: get("Protocol"),
                endpoint: get("Endpoint"),
                pending: get("PendingConfirmation") == "true",
            }))
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(why(&e)),
    }
}

fn subscribe_command(topic: &str, protocol: &str, endpoint: &str) -> String {
    format!(
        "aws sns subscribe --topic-arn {topic} --protocol {protocol} --notification-endpoint {endpoint}"
    )
}

/// A subscription found pending: a webhook's (nothing is delivered) fails, an alarm email's
/// warns.
fn report_subscription(sub: &Subscription, subject: String, report: &mut Report) {
    let webhook = sub.protocol.starts_with("http");
    if !sub.pending {
        report.ok(
            subject,
            format!("{} {} confirmed", sub.protocol, sub.endpoint),
        );
    } else if webhook {
        report.problem(
            Level::Fail,
            subject,
            format!("{} {} pending confirmation", sub.protocol, sub.endpoint),
            format!(
                "the email webhook confirms it when SNS posts the confirmation: read its logs, fix, then resend: {}",
                subscribe_command(&sub.topic, &sub.protocol, &sub.endpoint)
            ),
        );
    } else {
        report.problem(
            Level::Warn,
            subject,
            format!("{} {} pending confirmation", sub.protocol, sub.endpoint),
            "click the link in the mail AWS sent (nothing is delivered until then)",
        );
    }
}

async fn check_subscriptions(sns: &aws_sdk_sns::Client, facts: &StackFacts, report: &mut Report) {
    let mut topics_checked = BTreeSet::new();
    for (logical, arn) in facts.physical_ids("AWS::SNS::Subscription") {
        let subject = format!("subscription {logical}");
        match subscription(sns, arn).await {
            Ok(Some(sub)) => {
                topics_checked.insert(sub.topic.clone());
                report_subscription(&sub, subject, report);
            }
            Ok(None) => report.problem(
                Level::Fail,
                subject,
                format!("{arn} no longer exists"),
                "SNS deletes a subscription left unconfirmed for 3 days: re-create it by updating the stack, or with aws sns subscribe",
            ),
            Err(e) => report.problem(
                Level::Fail,
                subject,
                format!("cannot read {arn}: {e}"),
                "doctor needs sns:GetSubscriptionAttributes",
            ),
        }
    }
    // The inbound topic must deliver to the email webhook, whether or not the stack holds the
    // subscription as a resource (and after SNS deleted the stack's own).
    let Some(topic) = facts.output("SesInboundTopicArn") else {
        return;
    };
    if topics_checked.contains(topic) {
        return;
    }
    let webhook = facts.output("WebhookUrlEmailSes");
    let subject = "SES inbound subscription".to_owned();
    let mut listed = Vec::new();
    let mut pages = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        match item {
            Ok(s) => listed.push(s),
            Err(e) => {
                report.problem(
                    Level::Fail,
                    subject,
                    format!("cannot list the subscriptions of {topic}: {}", why(&e)),
                    "doctor needs sns:ListSubscriptionsByTopic",
                );
                return;
            }
        }
    }
    let ours = listed.iter().find(|s| {
        s.protocol().is_some_and(|p| p.starts_with("http"))
            && webhook.is_none_or(|url| s.endpoint() == Some(url))
    });
    let target = webhook.unwrap_or("the email webhook (/email/ses)");
    let Some(ours) = ours else {
        report.problem(
            Level::Fail,
            subject,
            format!("no subscription of {topic} delivers to {target}"),
            format!(
                "SNS deletes a subscription left unconfirmed for 3 days; re-create it: {}",
                subscribe_command(topic, "https", webhook.unwrap_or("<ApiUrl>/email/ses"))
            ),
        );
        return;
    };
    // A pending subscription is listed with the ARN "PendingConfirmation".
    let arn = ours.subscription_arn().unwrap_or("PendingConfirmation");
    let sub = if arn == "PendingConfirmation" {
        Ok(None)
    } else {
        subscription(sns, arn).await
    };
    match sub {
        Ok(Some(sub)) => report_subscription(&sub, subject, report),
        Ok(None) => report_subscription(
            &Subscription {
                topic: topic.to_owned(),
                protocol: ours.protocol().unwrap_or("https").to_owned(),
                endpoint: ours.endpoint().unwrap_or(target).to_owned(),
                pending: true,
            },
            subject,
            report,
        ),
        Err(e) => report.problem(
            Level::Fail,
            subject,
            format!("cannot read {arn}: {e}"),
            "doctor needs sns:GetSubscriptionAttributes",
        ),
    }
}

async fn check_rule_set(ses: &aws_sdk_ses::Client, facts: &StackFacts, report: &mut Report) {
    let ours = facts
        .physical_ids("AWS::SES::ReceiptRuleSet")
        .map(|(_, id)| id)
        .next()
        .or_else(|| facts.output("SesInboundRuleSetName"));
    let Some(ours) = ours else {
        return;
    };
    let subject = "SES receipt rule set";
    let activate = format!("aws ses set-active-receipt-rule-set --rule-set-name {ours}");
    match ses.describe_active_receipt_rule_set().send().await {
        Ok(out) => match out.metadata().and_then(|m| m.name()) {
            Some(active) if active == ours => report.ok(subject, format!("{ours} is active")),
            Some(active) => report.problem(
                Level::Fail,
                subject,
                format!("{active} is active, not {ours} (one rule set is active per region)"),
                format!("move the rules of {active} into {ours}, then: {activate}"),
            ),
            None => report.problem(
                Level::Fail,
                subject,
                format!("no rule set is active; {ours} receives no mail"),
                format!("activate it: {activate}"),
            ),
        },
        Err(e) => report.problem(
            Level::Fail,
            subject,
            format!("cannot read the active rule set: {}", why(&e)),
            "doctor needs ses:DescribeActiveReceiptRuleSet (and SES receiving in this region)",
        ),
    }
}

/// The sending identities: `SesIdentities` (comma-separated) and the older single
/// `SesIdentity`.
fn identities(facts: &StackFacts) -> Vec<String> {
    let mut seen = BTreeSet::new();
    ["SesIdentities", "SesIdentity"]
        .into_iter()
        .filter_map(|k| facts.parameter(k))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|i| !i.is_empty() && seen.insert(i.to_ascii_lowercase()))
        .map(str::to_owned)
        .collect()
}

async fn check_identities(sesv2: &aws_sdk_sesv2::Client, facts: &StackFacts, report: &mut Report) {
    let identities = identities(facts);
    if identities.is_empty() {
        return;
    }
    for identity in &identities {
        let subject = format!("SES identity {identity}");
        let out = match sesv2
            .get_email_identity()
            .email_identity(identity)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                report.problem(
                    Level::Fail,
                    subject,
                    "not an SES identity in this region",
                    format!(
                        "create it, then verify it (DNS records for a domain, the mailed link for an address): aws sesv2 create-email-identity --email-identity {identity}"
                    ),
                );
                continue;
            }
            Err(e) => {
                report.problem(
                    Level::Fail,
                    subject,
                    format!("cannot read it: {}", why(&e)),
                    "doctor needs ses:GetEmailIdentity",
                );
                continue;
            }
        };
        let status = out.verification_status().map(|s| s.as_str());
        if out.verified_for_sending_status() || status == Some("SUCCESS") {
            report.ok(subject, "verified for sending");
        } else {
            report.problem(
                Level::Fail,
                subject,
                format!("not verified ({})", status.unwrap_or("unknown status")),
                format!(
                    "publish its DNS records (a domain) or click the mailed link (an address): aws sesv2 get-email-identity --email-identity {identity}"
                ),
            );
        }
    }
    let subject = "SES account";
    match sesv2.get_account().send().await {
        Ok(account) if !account.sending_enabled() => report.problem(
            Level::Fail,
            subject,
            "sending is paused",
            "see the SES console's account dashboard (reputation)",
        ),
        Ok(account) if !account.production_access_enabled() => report.problem(
            Level::Warn,
            subject,
            "in the SES sandbox: acks reach verified addresses only",
            "request production access in the SES console (Account dashboard)",
        ),
        Ok(_) => report.ok(subject, "production access, sending enabled"),
        Err(e) => report.problem(
            Level::Warn,
            subject,
            format!("cannot tell whether it is in the sandbox: {}", why(&e)),
            "doctor needs ses:GetAccount; check by hand: aws sesv2 get-account",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(parameters: &[(&str, &str)]) -> StackFacts {
        StackFacts {
            parameters: parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            outputs: HashMap::new(),
            resources: Vec::new(),
        }
    }

    #[test]
    fn both_identity_parameters_are_read_once_each() {
        let f = facts(&[
            ("SesIdentities", " tokoku.id,help@tokoku.id,,Tokoku.id "),
            ("SesIdentity", "help@tokoku.id"),
        ]);
        assert_eq!(identities(&f), ["tokoku.id", "help@tokoku.id"]);
        assert!(identities(&facts(&[("SesIdentity", " ")])).is_empty());
    }

    #[test]
    fn parameters_naming_ssm_parameters_are_recognised_by_name() {
        for key in [
            "TwilioAuthTokenParameterName",
            "AckConfigParameterName",
            "IntakeConfigParam",
        ] {
            assert!(names_ssm_parameter(key), "{key}");
        }
        for key in ["SesIdentity", "TwilioAccountSid", "LogLevel", "Parameters"] {
            assert!(!names_ssm_parameter(key), "{key}");
        }
    }

    // moto confirms every subscription at once (see moto_local), so the pending branch is
    // checked here on the attributes AWS documents for GetSubscriptionAttributes.
    #[test]
    fn a_pending_webhook_subscription_fails_and_a_pending_alarm_email_warns() {
        let sub = |protocol: &str, endpoint: &str, pending| Subscription {
            topic: "arn:aws:sns:us-east-1:123456789012:t".into(),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            pending,
        };
        let mut report = Report::default();
        report_subscription(
            &sub("https", "https://h.example/email/ses", true),
            "a".into(),
            &mut report,
        );
        report_subscription(
            &sub("email", "ops@example.com", true),
            "b".into(),
            &mut report,
        );
        report_subscription(
            &sub("https", "https://h.example/email/ses", false),
            "c".into(),
            &mut report,
        );
        let levels: Vec<Level> = report.checks.iter().map(|c| c.level).collect();
        assert_eq!(levels, [Level::Fail, Level::Warn, Level::Ok]);
        assert!(report.checks[0].hint.ends_with(
            "aws sns subscribe --topic-arn arn:aws:sns:us-east-1:123456789012:t --protocol https --notification-endpoint https://h.example/email/ses"
        ));
        assert_eq!(
            report.checks[2].to_string(),
            "ok    c: https https://h.example/email/ses confirmed"
        );
    }

    #[test]
    fn a_check_is_one_line_with_its_hint() {
        let check = Check {
            level: Level::Fail,
            subject: "parameter X".into(),
            detail: "/x does not exist".into(),
            hint: "create it".into(),
        };
        assert_eq!(
            check.to_string(),
            "FAIL  parameter X: /x does not exist — create it"
        );
    }
}
