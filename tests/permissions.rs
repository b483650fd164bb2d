//! Least privilege, proven from the code's own calls.
//!
//! While `make test` runs the end-to-end suite, every AWS call the functions make is written
//! down as IAM would authorize it (`intake::aws_calls`, switched on by
//! `INTAKE_RECORD_AWS_CALLS`). This test runs after the suite (`make test` calls it last, it
//! is `#[ignore]`d otherwise) and holds three things to each other:
//!
//! 1. the recorded calls: each must be declared in the manifest (`intake::grants`) for the
//!    function that made it;
//! 2. the manifest: each grant must be exercised by some recorded call, unless it says why
//!    none can be (calls the Lambda service makes with the role);
//! 3. both templates: each function's role must grant exactly the manifest's actions on the
//!    manifest's resources: nothing missing, nothing more.

use std::collections::{BTreeMap, BTreeSet};

use intake::aws_calls::{AwsCall, RECORD_ENV, read_recorded};
use intake::grants::{Grant, Resource};
use intake_tests::templates::{self, Normalizer, pascal};
use serde_json::Value;

/// The resource kind a recorded call was made on, as the test stacks are configured (they
/// send email as `identities`).
fn kind_of(call: &AwsCall, identities: &[String]) -> Result<Resource, String> {
    let r = call.resource.as_str();
    let service = call.action.split(':').next().unwrap_or("");
    match service {
        "dynamodb" => match r.strip_prefix("table/") {
            Some(table) if !table.contains('/') => Ok(Resource::Table),
            _ => Err(format!("{r}: no index or stream is granted to a function")),
        },
        "ses" => {
            if let Some(set) = r.strip_prefix("configuration-set/") {
                return (set == intake_dev::stack::TEST_SES_CONFIGURATION_SET)
                    .then_some(Resource::SesConfigurationSet)
                    .ok_or_else(|| format!("{r}: not the configured set"));
            }
            let from = r.strip_prefix("identity/").unwrap_or(r);
            identities
                .iter()
                .any(|i| intake::providers::ses::identity_covers(i, from))
                .then_some(Resource::SesIdentities)
                .ok_or_else(|| format!("{r}: sends as an address under none of {identities:?}"))
        }
        "ssm" => {
            // The parameter test names each parameter after its variable.
            let var = r.rsplit('/').next().unwrap_or("");
            intake::manifest::parameter_vars()
                .find(|v| v.name == var)
                .map(|v| Resource::Parameter(v.name))
                .ok_or_else(|| format!("{r}: not a parameter of any variable"))
        }
        "sms-voice" => {
            if let Some(set) = r.strip_prefix("configuration-set/") {
                return (set == intake_dev::stack::TEST_AWS_SMS_CONFIGURATION_SET)
                    .then_some(Resource::SmsConfigurationSet)
                    .ok_or_else(|| format!("{r}: not the configured set"));
            }
            r.strip_prefix("phone-number/")
                .map(|_| Resource::SmsPhoneNumbers)
                .ok_or_else(|| format!("{r}: not a phone number"))
        }
        "s3" => match r.split_once('/') {
            Some((_, key)) if key.starts_with(intake::archive::PREFIX) => {
                Ok(Resource::ArchiveObjects)
            }
            Some((_, key)) if key.starts_with("inbound/") => Ok(Resource::InboundMailBucket),
            _ => Err(format!(
                "{r}: neither an archived delivery nor inbound mail"
            )),
        },
        _ => Err(format!("{}: no service of ours", call.action)),
    }
}

/// The normal forms (see [`Normalizer`]) a template may give a grant's resource.
fn matches(resource: Resource, text: &str) -> bool {
    const PREFIX: &str = "arn:{AWS::Partition}:";
    const REGIONAL: &str = "{AWS::Region}:{AWS::AccountId}:";
    match resource {
        Resource::Table => text == "{Table.Arn}",
        Resource::TableStream => text == "{Table.StreamArn}",
        Resource::LogGroup => text == "{LogGroup.Arn}",
        Resource::DeadLetterQueue => text == "{DeadLetterQueue.Arn}",
        Resource::Parameter(var) => {
            text == format!(
                "{PREFIX}ssm:{REGIONAL}parameter{{{}ParameterName}}",
                pascal(var)
            )
        }
        Resource::ParameterKeys => text == format!("{PREFIX}kms:{REGIONAL}key/*"),
        Resource::SesIdentities => {
            text.starts_with(&format!("{PREFIX}ses:{REGIONAL}identity/"))
                && text.contains("{SesIdentities}")
        }
        Resource::SesConfigurationSet => {
            text == format!("{PREFIX}ses:{REGIONAL}configuration-set/{{SesConfigurationSet}}")
        }
        Resource::InboundMailBucket => {
            text == format!("{PREFIX}s3:::{{InboundMailBucket}}/inbound/*")
        }
        Resource::InboundMailKey => text == "{InboundMailKmsKeyArn}",
        Resource::ArchiveObjects => text == format!("{PREFIX}s3:::{{ArchiveBucket}}/archive/*"),
        Resource::SmsPhoneNumbers => text == format!("{PREFIX}sms-voice:{REGIONAL}phone-number/*"),
        Resource::SmsConfigurationSet => {
            text == format!(
                "{PREFIX}sms-voice:{REGIONAL}configuration-set/{{AwsSmsConfigurationSet}}"
            )
        }
        Resource::Any => text == "*",
    }
}

/// What a template's role for `function` grants: `(action, resource in normal form)`.
fn granted(t: &Value, function: &str) -> BTreeSet<(String, String)> {
    let ids = templates::functions(t);
    let Some(id) = ids.get(function) else {
        return BTreeSet::new();
    };
    let r = templates::resources(t);
    let mut aliases = BTreeMap::new();
    for (rid, res) in r {
        match res["Type"].as_str() {
            Some("AWS::DynamoDB::Table") => {
                aliases.insert(rid.clone(), "Table".to_owned());
            }
            Some("AWS::Lambda::EventSourceMapping") => {
                if let Some(q) = res["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
                    ["Fn::GetAtt"][0]
                    .as_str()
                {
                    aliases.insert(q.to_owned(), "DeadLetterQueue".to_owned());
                }
            }
            _ => {}
        }
    }
    if let Some(group) = r[id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"].as_str() {
        aliases.insert(group.to_owned(), "LogGroup".to_owned());
    }
    let normal = Normalizer::new(t, aliases);
    let mut out = BTreeSet::new();
    for statement in templates::role_statements(t, &templates::role_of(t, id)) {
        if statement["Effect"] != "Allow" {
            continue;
        }
        let resources = normal.strings(&statement["Resource"]);
        for action in templates::actions(&statement) {
            for resource in &resources {
                out.insert((action.clone(), resource.clone()));
            }
        }
    }
    out
}

fn describe(grant: &Grant) -> String {
    format!("{} on {:?}", grant.actions.join(", "), grant.resource)
}

/// Where a template's role grants a function less or more than the manifest declares.
fn template_errors(functions: &[intake::manifest::Function]) -> Vec<String> {
    let mut errors = Vec::new();
    for (which, t) in templates::both() {
        for f in functions {
            let given = granted(&t, f.name);
            for g in &f.grants {
                for action in &g.actions {
                    if !given
                        .iter()
                        .any(|(a, r)| a == action && matches(g.resource, r))
                    {
                        errors.push(format!(
                            "{which}: {} lacks {action} on {:?} (manifest: {})",
                            f.name,
                            g.resource,
                            describe(g)
                        ));
                    }
                }
            }
            for (action, resource) in &given {
                let declared = f
                    .grants
                    .iter()
                    .any(|g| g.actions.contains(&action.as_str()) && matches(g.resource, resource));
                if !declared {
                    errors.push(format!(
                        "{which}: {} is granted {action} on {resource}, which the manifest \
                         does not declare (least privilege)",
                        f.name
                    ));
                }
            }
        }
    }
    errors
}

/// The template side of the proof alone, without the suite's recorded calls (so it runs with
/// every `cargo test` after `make infra-test`): both templates grant each role exactly the
/// manifest's grants.
#[test]
fn both_templates_grant_each_role_exactly_its_manifest_grants() {
    let errors = template_errors(&intake::manifest::functions());
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

/// The archive grant in the normal form `matches` expects, in both templates: each webhook may
/// put and get objects under `archive/` of the stack's bucket, nothing else of it.
#[test]
fn each_webhook_may_put_and_get_archived_deliveries_only() {
    let archive = "arn:{AWS::Partition}:s3:::{ArchiveBucket}/archive/*";
    assert!(matches(Resource::ArchiveObjects, archive));
    assert!(!matches(
        Resource::ArchiveObjects,
        "arn:{AWS::Partition}:s3:::{ArchiveBucket}/*"
    ));
    assert_eq!(
        intake::archive::PREFIX,
        "archive/",
        "the prefix the grant names"
    );
    for (which, t) in templates::both() {
        for f in intake::manifest::functions() {
            let on_bucket: BTreeSet<(String, String)> = granted(&t, f.name)
                .into_iter()
                .filter(|(_, r)| r.contains("{ArchiveBucket"))
                .collect();
            let expected: BTreeSet<(String, String)> = f
                .grants
                .iter()
                .filter(|g| g.resource == Resource::ArchiveObjects)
                .flat_map(|g| g.actions.iter())
                .map(|a| ((*a).to_owned(), archive.to_owned()))
                .collect();
            assert_eq!(on_bucket, expected, "{which}: {}", f.name);
            if f.name.ends_with("-webhook") {
                assert_eq!(
                    on_bucket
                        .iter()
                        .map(|(a, _)| a.as_str())
                        .collect::<Vec<_>>(),
                    ["s3:GetObject", "s3:PutObject"],
                    "{which}: {}",
                    f.name
                );
            }
        }
    }
}

#[test]
#[ignore = "reads the calls the whole end-to-end suite recorded: `make test` runs it last"]
fn every_call_is_granted_every_grant_is_exercised_and_the_templates_grant_exactly_that() {
    let dir = std::env::var_os(RECORD_ENV).unwrap_or_else(|| {
        panic!("{RECORD_ENV} is not set: run `make test`, which records the suite's AWS calls")
    });
    let calls = read_recorded(std::path::Path::new(&dir))
        .unwrap_or_else(|e| panic!("cannot read the recorded calls in {dir:?}: {e}"));
    assert!(
        !calls.is_empty(),
        "no AWS call was recorded in {dir:?}: did the end-to-end suite run?"
    );
    let functions = intake::manifest::functions();
    let identities = intake_dev::stack::StackOptions::ephemeral(None)
        .expect("the test stacks' options")
        .config
        .ses
        .map(|s| s.identities)
        .unwrap_or_default();
    let mut errors = Vec::new();

    // 1. Every call is declared for its function.
    let mut exercised: BTreeSet<(String, String, Resource)> = BTreeSet::new();
    for call in &calls {
        let kind = match kind_of(call, &identities) {
            Ok(kind) => kind,
            Err(e) => {
                errors.push(format!("{} calls {}: {e}", call.function, call.action));
                continue;
            }
        };
        let Some(f) = functions.iter().find(|f| f.name == call.function) else {
            errors.push(format!("{}: not a function of the manifest", call.function));
            continue;
        };
        let declared = f
            .grants
            .iter()
            .any(|g| g.resource == kind && g.actions.contains(&call.action.as_str()));
        if !declared {
            errors.push(format!(
                "{} calls {} on {:?} ({}), which the manifest does not grant it",
                call.function, call.action, kind, call.resource
            ));
        }
        exercised.insert((call.function.clone(), call.action.clone(), kind));
    }

    // 2. Every grant is exercised, or says why it cannot be.
    for f in &functions {
        for g in f.grants.iter().filter(|g| g.unexercised.is_none()) {
            for action in &g.actions {
                if !exercised.contains(&(f.name.to_owned(), (*action).to_owned(), g.resource)) {
                    errors.push(format!(
                        "{}: {action} on {:?} is granted but no test makes that call \
                         (test it, or say in intake::grants why no test can)",
                        f.name, g.resource
                    ));
                }
            }
        }
    }

    // 3. Both templates grant each role exactly its manifest grants.
    errors.extend(template_errors(&functions));

    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}
