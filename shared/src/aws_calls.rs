//! Which AWS calls each function makes, for the permission test.
//!
//! IAM decides at run time, in the cloud, whether a function may make a call; the local
//! emulators accept everything. So while the end-to-end suite runs, every call the functions'
//! SDK clients send is written down as the authorizations IAM would check: the action
//! (`dynamodb:PutItem`, `ses:SendEmail`, ...), the resource it is checked on, and the
//! function whose code path made it. `tests/permissions.rs` then holds the manifest
//! ([`crate::manifest`]) and both deployment templates to exactly those calls.
//!
//! Recording is off unless [`RECORD_ENV`] names a directory (`make test` sets it); the
//! interceptor is then attached to every client the functions build. The function is known
//! from a task-local set at each function's entry point ([`within`]), so a call made by a
//! test or a tool (no function around it) is not recorded.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The variable naming the directory the calls are written to (one JSON-lines file per
/// process). Unset: nothing is recorded and no interceptor is attached.
pub const RECORD_ENV: &str = "INTAKE_RECORD_AWS_CALLS";

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Runs `fut` as the code path of `function` (a manifest function name): the AWS calls it
/// makes are recorded against that function.
pub async fn within<F: Future>(function: &'static str, fut: F) -> F::Output {
    FUNCTION.scope(function, fut).await
}

/// The function whose code path is running, if any.
pub fn current_function() -> Option<&'static str> {
    FUNCTION.try_with(|f| *f).ok()
}

/// One authorization an AWS call needs: `action` on `resource`, asked by `function`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AwsCall {
    /// The manifest function (`sms-webhook`, `acknowledger`, ...).
    pub function: String,
    /// The IAM action, `service:Operation`.
    pub action: String,
    /// The resource IAM checks, relative to the service's ARN prefix: `table/<name>`,
    /// `table/<name>/index/<index>`, `identity/<from address>`,
    /// `configuration-set/<name>`, `parameter/<name>`, `<bucket>/<key>`.
    pub resource: String,
}

struct CallLog {
    file: Mutex<(std::fs::File, BTreeSet<AwsCall>)>,
}

fn log() -> Option<&'static CallLog> {
    static LOG: OnceLock<Option<CallLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        let dir = std::env::var_os(RECORD_ENV).filter(|d| !d.is_empty())?;
        let dir = std::path::PathBuf::from(dir);
        let opened = std::fs::create_dir_all(&dir).and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("calls-{}.jsonl", std::process::id())))
        });
        match opened {
            Ok(file) => Some(CallLog {
                file: Mutex::new((file, BTreeSet::new())),
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot record AWS calls");
                None
            }
        }
    })
    .as_ref()
}

impl CallLog {
    fn record(&self, call: AwsCall) {
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        let (file, seen) = &mut *guard;
        if !seen.insert(call.clone()) {
            return;
        }
        if let Ok(line) = serde_json::to_string(&call) {
            // One write per line, so lines of concurrent test processes never interleave.
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// Whether calls are being recorded (clients attach [`CallRecorder`] only then).
pub fn enabled() -> bool {
    log().is_some()
}

/// Reads every call recorded under `dir`.
pub fn read_recorded(dir: &std::path::Path) -> std::io::Result<BTreeSet<AwsCall>> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path)?.lines() {
                let call: AwsCall = serde_json::from_str(line)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                out.insert(call);
            }
        }
    }
    Ok(out)
}

/// The SDK interceptor that writes each call down as the authorizations IAM checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallRecorder;

impl CallRecorder {
    fn record(&self, authorizations: Vec<(String, String)>) {
        let (Some(log), Some(function)) = (log(), current_function()) else {
            return;
        };
        for (action, resource) in authorizations {
            log.record(AwsCall {
                function: function.to_owned(),
                action,
                resource,
            });
        }
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "IntakeCallRecorder"
    }

    // S3 puts the bucket in the host or the path depending on the endpoint, so it is read
    // from the typed input instead of the request.
    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context
            .input()
            .downcast_ref::<aws_sdk_s3::operation::get_object::GetObjectInput>()
        {
            let (bucket, key) = (input.bucket().unwrap_or(""), input.key().unwrap_or(""));
            self.record(vec![("s3:GetObject".into(), format!("{bucket}/{key}"))]);
        }
        if let Some(input) = context
            .input()
            .downcast_ref::<aws_sdk_s3::operation::put_object::PutObjectInput>()
        {
            let (bucket, key) = (input.bucket().unwrap_or(""), input.key().unwrap_or(""));
            self.record(vec![("s3:PutObject".into(), format!("{bucket}/{key}"))]);
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let body = context.request().body().bytes().unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        self.record(authorizations(metadata.service(), metadata.name(), &body));
        Ok(())
    }
}

/// An SDK interceptor that counts the requests a client sends, by operation (`GetItem`,
/// `TransactWriteItems`, ...): each attempt the SDK transmits is one round trip, retries
/// included. Tests attach it to a real client to hold a code path to its number of calls.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    sent: std::sync::Arc<Mutex<Vec<String>>>,
}

impl CallCounter {
    /// The operations transmitted since the last call, in order, and forgets them.
    pub fn take(&self) -> Vec<String> {
        self.sent
            .lock()
            .map(|mut sent| std::mem::take(&mut *sent))
            .unwrap_or_default()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "IntakeCallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(metadata), Ok(mut sent)) = (cfg.load::<Metadata>(), self.sent.lock()) {
            sent.push(metadata.name().to_owned());
        }
        Ok(())
    }
}

/// The authorizations `(action, resource)` IAM checks for one call of a JSON-protocol
/// service (DynamoDB, SES v2, SMS and Voice v2, SSM), from its serialized input. S3 is read
/// elsewhere.
pub fn authorizations(
    service: &str,
    operation: &str,
    body: &serde_json::Value,
) -> Vec<(String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    match service {
        "DynamoDB" => dynamodb_authorizations(operation, body),
        "SESv2" if operation == "SendEmail" => {
            // SES authorizes the sending identity (the From address, or the identity it
            // belongs to) and the configuration set, when one is used.
            let mut out = vec![(
                "ses:SendEmail".to_owned(),
                format!("identity/{}", address_of(&text(&body["FromEmailAddress"]))),
            )];
            if let Some(set) = body["ConfigurationSetName"].as_str() {
                out.push(("ses:SendEmail".into(), format!("configuration-set/{set}")));
            }
            out
        }
        "Pinpoint SMS Voice V2" if operation == "SendTextMessage" => {
            // Authorized on the origination identity and on the configuration set, if used.
            let mut out = vec![(
                "sms-voice:SendTextMessage".to_owned(),
                format!("phone-number/{}", text(&body["OriginationIdentity"])),
            )];
            if let Some(set) = body["ConfigurationSetName"].as_str() {
                out.push((
                    "sms-voice:SendTextMessage".into(),
                    format!("configuration-set/{set}"),
                ));
            }
            out
        }
        "SSM" if operation == "GetParameters" || operation == "GetParameter" => {
            let names = match &body["Names"] {
                serde_json::Value::Array(names) => names.iter().map(text).collect(),
                _ => vec![text(&body["Name"])],
            };
            names
                .into_iter()
                .map(|n| {
                    (
                        format!("ssm:{operation}"),
                        format!("parameter/{}", n.trim_start_matches('/')),
                    )
                })
                .collect()
        }
        "S3" => Vec::new(),
        _ => vec![(
            format!("{}:{operation}", service.to_ascii_lowercase()),
            "*".to_owned(),
        )],
    }
}

/// DynamoDB authorizes a transaction item by item with the item-level action (there is no
/// `TransactWriteItems` permission), a batch per table, and a query of an index on the index.
fn dynamodb_authorizations(operation: &str, body: &serde_json::Value) -> Vec<(String, String)> {
    let table = |v: &serde_json::Value| format!("table/{}", v["TableName"].as_str().unwrap_or(""));
    match operation {
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, inner) = item.as_object()?.iter().next()?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    _ => return None,
                };
                Some((format!("dynamodb:{action}"), table(inner)))
            })
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .map(|t| (format!("dynamodb:{operation}"), format!("table/{t}")))
            .collect(),
        _ => {
            let mut resource = table(body);
            if let Some(index) = body["IndexName"].as_str() {
                resource.push_str(&format!("/index/{index}"));
            }
            vec![(format!("dynamodb:{operation}"), resource)]
        }
    }
}

/// `help@tokoku.id` from `"Toko Ku" <help@tokoku.id>` or the bare address.
fn address_of(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(start), Some(end)) if start < end => &from[start + 1..end],
        _ => from.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect()
    }

    #[test]
    fn a_transaction_is_authorized_item_by_item() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {}}},
            {"Update": {"TableName": "t", "Key": {}}},
            {"ConditionCheck": {"TableName": "t", "Key": {}}},
        ]});
        assert_eq!(
            authorizations("DynamoDB", "TransactWriteItems", &body),
            pairs(&[
                ("dynamodb:PutItem", "table/t"),
                ("dynamodb:UpdateItem", "table/t"),
                ("dynamodb:ConditionCheckItem", "table/t"),
            ])
        );
    }

    #[test]
    fn batches_indexes_and_plain_items() {
        let batch = json!({"RequestItems": {"t": {"Keys": []}}});
        assert_eq!(
            authorizations("DynamoDB", "BatchGetItem", &batch),
            pairs(&[("dynamodb:BatchGetItem", "table/t")])
        );
        let query = json!({"TableName": "t", "IndexName": "by_contact"});
        assert_eq!(
            authorizations("DynamoDB", "Query", &query),
            pairs(&[("dynamodb:Query", "table/t/index/by_contact")])
        );
        let delete = json!({"TableName": "t", "Key": {}});
        assert_eq!(
            authorizations("DynamoDB", "DeleteItem", &delete),
            pairs(&[("dynamodb:DeleteItem", "table/t")])
        );
    }

    #[test]
    fn ses_sends_are_authorized_on_the_sender_and_the_configuration_set() {
        let body = json!({"FromEmailAddress": "\"Toko Ku\" <help@tokoku.id>", "ConfigurationSetName": "acks"});
        assert_eq!(
            authorizations("SESv2", "SendEmail", &body),
            pairs(&[
                ("ses:SendEmail", "identity/help@tokoku.id"),
                ("ses:SendEmail", "configuration-set/acks"),
            ])
        );
    }

    #[test]
    fn ssm_parameters_one_by_one() {
        let body = json!({"Names": ["/intake/a", "/intake/b"], "WithDecryption": true});
        assert_eq!(
            authorizations("SSM", "GetParameters", &body),
            pairs(&[
                ("ssm:GetParameters", "parameter/intake/a"),
                ("ssm:GetParameters", "parameter/intake/b"),
            ])
        );
    }

    #[tokio::test]
    async fn the_function_is_known_only_inside_its_code_path() {
        assert_eq!(current_function(), None);
        let inside = within("acknowledger", async { current_function() }).await;
        assert_eq!(inside, Some("acknowledger"));
    }
}
