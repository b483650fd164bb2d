//! Reading the deployment templates: the SAM template (`infra/.build/template.json`, made by
//! `make infra-test` with cfn-flip) and the synthesized CDK app
//! (`infra/cdk/cdk.out/IntakeStack.template.json`), with each function's role statements and
//! a normal form of CloudFormation expressions, so that both can be compared with what the
//! code declares and does.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A generated template, refusing a missing or stale one.
pub fn generated(rel: &str, sources: &[&str]) -> Value {
    let path = root().join(rel);
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let Some(made) = modified(&path) else {
        panic!("{rel} is missing: run `make infra-test` first (it generates it)");
    };
    for source in sources {
        let source_path = root().join(source);
        if let Some(changed) = modified(&source_path) {
            assert!(
                changed <= made,
                "{rel} is older than {source}: run `make infra-test` again"
            );
        }
    }
    let text = std::fs::read_to_string(&path).expect("read template");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The SAM template as JSON.
pub fn sam() -> Value {
    generated(
        "infra/.build/template.json",
        &["infra/template.yaml", "infra/manifest.json"],
    )
}

/// The synthesized CDK app.
pub fn cdk() -> Value {
    generated(
        "infra/cdk/cdk.out/IntakeStack.template.json",
        &[
            "infra/manifest.json",
            "infra/cdk/lib/intake-stack.ts",
            "infra/cdk/lib/manifest.ts",
            "infra/cdk/bin/intake.ts",
        ],
    )
}

/// Both templates, named.
pub fn both() -> [(&'static str, Value); 2] {
    [("SAM", sam()), ("CDK", cdk())]
}

/// `TWILIO_AUTH_TOKEN` → `TwilioAuthToken`, `sms-webhook` → `SmsWebhook`: how both templates
/// name what the code names.
pub fn pascal(s: &str) -> String {
    s.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_ascii_lowercase();
            w[..1].to_ascii_uppercase() + &w[1..]
        })
        .collect()
}

/// The template's resources.
pub fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

/// The functions of a template by manifest name (tag `intake:function`), with logical ids.
pub fn functions(t: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (id, r) in resources(t) {
        let ty = r["Type"].as_str().unwrap_or_default();
        if ty != "AWS::Serverless::Function" && ty != "AWS::Lambda::Function" {
            continue;
        }
        let tags = &r["Properties"]["Tags"];
        let name = match tags {
            // SAM: a map; CloudFormation: a list of Key/Value.
            Value::Object(map) => map.get("intake:function").and_then(Value::as_str),
            Value::Array(list) => list
                .iter()
                .find(|t| t["Key"] == "intake:function")
                .and_then(|t| t["Value"].as_str()),
            _ => None,
        };
        let name = name.unwrap_or_else(|| panic!("function {id} has no intake:function tag"));
        assert!(
            out.insert(name.to_owned(), id.clone()).is_none(),
            "two functions are tagged {name}"
        );
    }
    out
}

/// The logical id of the role a function runs with.
pub fn role_of(t: &Value, function_id: &str) -> String {
    resources(t)[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        .as_str()
        .expect("Role: GetAtt X.Arn")
        .to_owned()
}

/// Every statement that applies to a role: its inline policies and the `AWS::IAM::Policy`
/// resources attached to it. A statement behind `Fn::If [condition, statement, NoValue]`
/// counts (granted when its condition holds).
pub fn role_statements(t: &Value, role: &str) -> Vec<Value> {
    let r = resources(t);
    let mut statements: Vec<Value> = Vec::new();
    for p in r[role]["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        statements.extend(
            p["PolicyDocument"]["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| match s["Fn::If"].as_array() {
                    Some(branches) if branches.len() == 3 => branches[1].clone(),
                    _ => s.clone(),
                }),
        );
    }
    for p in r.values().filter(|x| x["Type"] == "AWS::IAM::Policy") {
        let attached = p["Properties"]["Roles"]
            .as_array()
            .is_some_and(|rs| rs.contains(&json!({"Ref": role})));
        if attached {
            statements.extend(
                p["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    statements
}

/// A statement's actions (a string or a list).
pub fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(a) => vec![a.clone()],
        _ => Vec::new(),
    }
}

/// CloudFormation expressions in a normal form both templates share: parameters and pseudo
/// parameters as `{Name}`, resources by the role they play (`{Table.Arn}`), `Fn::Sub`,
/// `Fn::Join` and `Fn::If` resolved into every string they can produce, `AWS::NoValue`
/// dropped.
pub struct Normalizer<'a> {
    template: &'a Value,
    aliases: BTreeMap<String, String>,
}

impl<'a> Normalizer<'a> {
    /// Resources are named by `aliases` (logical id → role), others by their logical id.
    pub fn new(template: &'a Value, aliases: BTreeMap<String, String>) -> Normalizer<'a> {
        Normalizer { template, aliases }
    }

    fn name(&self, id: &str) -> String {
        if id.starts_with("AWS::") {
            return id.to_owned();
        }
        if self.template["Parameters"].get(id).is_some() {
            return id.to_owned();
        }
        self.aliases
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    fn getatt(&self, id: &str, attr: &str) -> String {
        format!("{{{}.{attr}}}", self.name(id))
    }

    /// Every string `v` can stand for.
    pub fn strings(&self, v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Number(n) => vec![n.to_string()],
            Value::Array(items) => items.iter().flat_map(|i| self.strings(i)).collect(),
            Value::Object(map) if map.len() == 1 => {
                let (f, arg) = map.iter().next().expect("one entry");
                match f.as_str() {
                    "Ref" if arg == "AWS::NoValue" => Vec::new(),
                    "Ref" => vec![format!("{{{}}}", self.name(arg.as_str().unwrap_or("")))],
                    "Fn::GetAtt" => {
                        let (id, attr) = match arg {
                            Value::Array(a) => (
                                a[0].as_str().unwrap_or("").to_owned(),
                                a[1].as_str().unwrap_or("").to_owned(),
                            ),
                            Value::String(s) => {
                                let (i, a) = s.split_once('.').unwrap_or((s, ""));
                                (i.to_owned(), a.to_owned())
                            }
                            _ => return vec![v.to_string()],
                        };
                        vec![self.getatt(&id, &attr)]
                    }
                    "Fn::If" => arg
                        .as_array()
                        .map(|a| a[1..].iter().flat_map(|b| self.strings(b)).collect())
                        .unwrap_or_default(),
                    "Fn::Join" => {
                        let (Some(sep), Some(parts)) = (arg[0].as_str(), arg.get(1)) else {
                            return vec![v.to_string()];
                        };
                        match parts {
                            Value::Array(parts) => {
                                let mut out = vec![String::new()];
                                for (i, part) in parts.iter().enumerate() {
                                    let options = self.strings(part);
                                    out = out
                                        .iter()
                                        .flat_map(|prefix| {
                                            options.iter().map(move |o| {
                                                if i == 0 {
                                                    o.clone()
                                                } else {
                                                    format!("{prefix}{sep}{o}")
                                                }
                                            })
                                        })
                                        .collect();
                                }
                                out
                            }
                            other => self
                                .strings(other)
                                .into_iter()
                                .map(|s| format!("{{Join {sep:?} {s}}}"))
                                .collect(),
                        }
                    }
                    "Fn::Select" => {
                        let index = arg[0].as_u64().map_or_else(
                            || arg[0].as_str().unwrap_or("?").to_owned(),
                            |i| i.to_string(),
                        );
                        self.strings(&arg[1])
                            .into_iter()
                            .map(|s| format!("{{Select {index} {s}}}"))
                            .collect()
                    }
                    "Fn::Split" => {
                        let sep = arg[0].as_str().unwrap_or("");
                        self.strings(&arg[1])
                            .into_iter()
                            .map(|s| format!("{{Split {sep:?} {s}}}"))
                            .collect()
                    }
                    "Fn::Sub" => {
                        let (text, vars) = match arg {
                            Value::String(s) => (s.as_str(), serde_json::Map::new()),
                            Value::Array(a) => (
                                a[0].as_str().unwrap_or(""),
                                a.get(1)
                                    .and_then(Value::as_object)
                                    .cloned()
                                    .unwrap_or_default(),
                            ),
                            _ => return vec![v.to_string()],
                        };
                        self.sub(text, &vars)
                    }
                    _ => vec![v.to_string()],
                }
            }
            other => vec![other.to_string()],
        }
    }

    fn sub(&self, text: &str, vars: &serde_json::Map<String, Value>) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let literal = &rest[..start];
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + end];
            let options = match vars.get(name) {
                Some(value) => self.strings(value),
                None => match name.split_once('.') {
                    Some((id, attr)) if !id.starts_with("AWS::") => vec![self.getatt(id, attr)],
                    _ => vec![format!("{{{}}}", self.name(name))],
                },
            };
            out = out
                .iter()
                .flat_map(|prefix| options.iter().map(move |o| format!("{prefix}{literal}{o}")))
                .collect();
            rest = &rest[start + end + 1..];
        }
        out.into_iter().map(|s| s + rest).collect()
    }
}
