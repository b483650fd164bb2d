//! The IAM permissions each function's role needs, declared next to its routes and
//! environment in the manifest ([`crate::manifest::Function::grants`]).
//!
//! This list is held to reality from both sides by `tests/permissions.rs`: every AWS call the
//! functions make during the end-to-end suite ([`crate::aws_calls`]) must be declared here,
//! every grant here must be exercised by some test unless it says why it cannot be (a call the
//! Lambda service makes with the function's role, not our code), and both deployment
//! templates must give each role exactly these actions on these resources.

use serde::Serialize;

use crate::model::Channel;

/// What a grant is on, in terms both templates can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "variable")]
pub enum Resource {
    /// The table's items.
    Table,
    /// The table's stream.
    TableStream,
    /// The function's own log group.
    LogGroup,
    /// The acknowledger's on-failure destination (an SQS queue).
    DeadLetterQueue,
    /// The SSM parameter a variable's `<NAME>_PARAM` names.
    Parameter(&'static str),
    /// The KMS keys SSM decrypts SecureStrings with, used through SSM only.
    ParameterKeys,
    /// Every SES identity acks may be sent from (`SesIdentities`).
    SesIdentities,
    /// The SES configuration set acks are sent with (`SesConfigurationSet`).
    SesConfigurationSet,
    /// The account's phone numbers in the region, which SMS acks are sent from through AWS End
    /// User Messaging SMS (IAM knows them by id, not by the number Intake names).
    SmsPhoneNumbers,
    /// The AWS End User Messaging SMS configuration set SMS acks are sent with
    /// (`AwsSmsConfigurationSet`).
    SmsConfigurationSet,
    /// The objects of the bucket an SES receipt rule stores large mail in.
    InboundMailBucket,
    /// The KMS key that bucket encrypts with, when it has one.
    InboundMailKey,
    /// The objects under `archive/` of the stack's archive bucket (`ArchiveBucket`):
    /// verified deliveries that were not stored ([`crate::archive`]).
    ArchiveObjects,
    /// Actions that support no narrower resource than `*`.
    Any,
}

/// Some actions on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// IAM actions, `service:Action`.
    pub actions: Vec<&'static str>,
    /// What they are granted on.
    pub resource: Resource,
    /// Why no end-to-end test makes this call, when none can: the Lambda service (logs,
    /// traces, the stream mapping) or another AWS service on the function's behalf (KMS
    /// through SSM or S3) uses the role, not the function's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexercised: Option<&'static str>,
}

const BY_LAMBDA_LOGS: &str = "Lambda writes the function's logs with its role";
const BY_LAMBDA_TRACES: &str =
    "Lambda sends X-Ray segments with the function's role (EnableTracing=true only)";
const BY_STREAM_MAPPING: &str = "the event source mapping reads the stream with the role";
const BY_ON_FAILURE: &str =
    "the event source mapping sends batches it gives up on to the queue with the role";
const BY_SSM_KMS: &str = "SSM decrypts SecureStrings with the caller's kms:Decrypt; no call of ours (and no emulator) shows it";
const BY_S3_KMS: &str = "S3 decrypts SSE-KMS objects with the caller's kms:Decrypt; no call of ours (and no emulator) shows it";

fn grant(resource: Resource, actions: &[&'static str]) -> Grant {
    Grant {
        actions: actions.to_vec(),
        resource,
        unexercised: None,
    }
}

fn by_aws(resource: Resource, actions: &[&'static str], why: &'static str) -> Grant {
    Grant {
        unexercised: Some(why),
        ..grant(resource, actions)
    }
}

/// Logs and traces: every function.
fn lambda_service() -> Vec<Grant> {
    vec![
        by_aws(
            Resource::LogGroup,
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            BY_LAMBDA_LOGS,
        ),
        by_aws(
            Resource::Any,
            &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            BY_LAMBDA_TRACES,
        ),
    ]
}

/// Each parameter the function may read at cold start (`Config::load`), and decryption.
fn parameters(parameters: &[&'static str]) -> Vec<Grant> {
    let mut out: Vec<Grant> = parameters
        .iter()
        .map(|name| grant(Resource::Parameter(name), &["ssm:GetParameters"]))
        .collect();
    if !out.is_empty() {
        out.push(by_aws(
            Resource::ParameterKeys,
            &["kms:Decrypt"],
            BY_SSM_KMS,
        ));
    }
    out
}

/// A channel's webhook function, which may read the variables `parameters` from SSM.
pub fn webhook(channel: Channel, parameters_read: &[&'static str]) -> Vec<Grant> {
    let mut out = lambda_service();
    // The ingest (store/ingest.rs): a consistent GetItem of the contact, then one
    // TransactWriteItems of Puts and Updates, each item authorized with its item-level action.
    let mut table = vec![
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ];
    if channel == Channel::Email {
        // Threading by Message-ID reads the MSGID# items in one BatchGetItem; one-time claims
        // (store/once.rs: SNS subscriptions, Mailgun tokens) are released with DeleteItem.
        table.extend(["dynamodb:BatchGetItem", "dynamodb:DeleteItem"]);
    }
    out.push(grant(Resource::Table, &table));
    out.extend(parameters(parameters_read));
    // A verified delivery that was not stored is put in the archive (archive.rs), and read
    // back by key when an operator replays it through the deployed function.
    out.push(grant(
        Resource::ArchiveObjects,
        &["s3:PutObject", "s3:GetObject"],
    ));
    if channel == Channel::Email {
        // SES mail over SNS's 150 KB limit is stored by the receipt rule's S3 action.
        out.push(grant(Resource::InboundMailBucket, &["s3:GetObject"]));
        out.push(by_aws(
            Resource::InboundMailKey,
            &["kms:Decrypt"],
            BY_S3_KMS,
        ));
    }
    out
}

/// The acknowledger, which may read the variables `parameters_read` from SSM.
pub fn acknowledger(parameters_read: &[&'static str]) -> Vec<Grant> {
    let mut out = lambda_service();
    // Reads the ticket, contact and first message in one BatchGetItem (the ticket alone with
    // GetItem when its record has no image); claims the ack (conditional UpdateItem); records
    // it with the contact's recent acks and an email ack's Message-ID (a MSGID# item) in one
    // TransactWriteItems, authorized item by item as UpdateItem and PutItem (the same
    // actions when a failed transaction is written one by one). On its schedule it sweeps
    // stale claims (ack/sweep.rs): a Scan of the table for acks `sending` too long, then a
    // conditional UpdateItem each.
    out.push(grant(
        Resource::Table,
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:Scan",
        ],
    ));
    out.push(by_aws(
        Resource::TableStream,
        &[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        ],
        BY_STREAM_MAPPING,
    ));
    out.push(by_aws(
        Resource::Any,
        &["dynamodb:ListStreams"],
        BY_STREAM_MAPPING,
    ));
    out.push(by_aws(
        Resource::DeadLetterQueue,
        &[
            "sqs:SendMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        ],
        BY_ON_FAILURE,
    ));
    out.extend(parameters(parameters_read));
    // SES v2 SendEmail is authorized on the sending identity and on the configuration set.
    out.push(grant(Resource::SesIdentities, &["ses:SendEmail"]));
    out.push(grant(Resource::SesConfigurationSet, &["ses:SendEmail"]));
    // SendTextMessage is authorized on the origination identity (the number the customer
    // wrote to) and on the configuration set, when one is used.
    out.push(grant(
        Resource::SmsPhoneNumbers,
        &["sms-voice:SendTextMessage"],
    ));
    out.push(grant(
        Resource::SmsConfigurationSet,
        &["sms-voice:SendTextMessage"],
    ));
    out
}
