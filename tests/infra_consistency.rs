//! The deployment templates against the Rust code: every function, route and environment
//! variable the code declares (`intake::manifest::functions()`) is deployed by both the SAM
//! template (`infra/template.yaml`) and the CDK app (`infra/cdk`), with secrets passed as SSM
//! parameter names, and the two deploy the same table, stream consumer, API stage and
//! permissions. A provider added to the code but not wired in the templates fails here.
//!
//! Reads JSON only: `make infra-test` converts the SAM template (cfn-flip) to
//! `infra/.build/template.json` and synthesizes the CDK app to
//! `infra/cdk/cdk.out/IntakeStack.template.json`. Run it before this test.

use intake_tests::templates::{cdk, functions, pascal, resources, root, sam};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Variables a deployment may leave unset: the acknowledgement configuration as a path
/// (deployments pass the document, INTAKE_CONFIG_TOML, and only to the acknowledger), the log
/// filter, and the provider API base URLs that only the local stack changes.
const MAY_BE_UNSET: &[&str] = &[
    "INTAKE_CONFIG",
    "INTAKE_CONFIG_TOML",
    "RUST_LOG",
    "TWILIO_API_BASE_URL",
    // Plivo
    "PLIVO_API_BASE_URL",
    "MESSAGEBIRD_API_BASE_URL",
    "BIRD_API_BASE_URL",
    "TELNYX_API_BASE_URL",
    "VONAGE_API_BASE_URL",
    "VONAGE_REST_BASE_URL",
    "META_GRAPH_BASE_URL",
    "TELEGRAM_API_BASE_URL",
    "LINE_API_BASE_URL",
];

fn manifest() -> Value {
    serde_json::to_value(intake::manifest::functions()).expect("manifest serializes")
}

/// `true` if the value can resolve to `AWS::NoValue` (a conditional variable).
fn may_be_absent(v: &Value) -> bool {
    v.to_string().contains("AWS::NoValue")
}

/// The parameter a secret's `_PARAM` variable names: `Ref`, or `Fn::If [cond, Ref, NoValue]`.
fn referenced_parameter(v: &Value) -> Option<&str> {
    if let Some(name) = v["Ref"].as_str() {
        return Some(name);
    }
    let branches = v["Fn::If"].as_array()?;
    (branches.len() == 3 && branches[2] == json!({"Ref": "AWS::NoValue"}))
        .then(|| branches[1]["Ref"].as_str())
        .flatten()
}

fn env_errors(which: &str, t: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let fns = functions(t);
    let params = t["Parameters"].as_object().cloned().unwrap_or_default();
    let declared: BTreeSet<String> = manifest()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    for extra in fns.keys().filter(|n| !declared.contains(*n)) {
        errors.push(format!(
            "{which}: deploys {extra}, which the manifest does not have"
        ));
    }
    for f in intake::manifest::functions() {
        let Some(id) = fns.get(f.name) else {
            errors.push(format!("{which}: function {} is not deployed", f.name));
            continue;
        };
        let vars = resources(t)[id]["Properties"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut allowed = BTreeSet::new();
        for v in &f.env {
            let set_as = if v.secret {
                format!("{}_PARAM", v.name)
            } else {
                v.name.to_owned()
            };
            allowed.insert(set_as.clone());
            if v.secret && vars.contains_key(v.name) {
                errors.push(format!(
                    "{which}: {} gets the secret {} itself; set {}_PARAM (an SSM parameter name)",
                    f.name, v.name, v.name
                ));
            }
            match vars.get(&set_as) {
                None if !MAY_BE_UNSET.contains(&v.name) => errors.push(format!(
                    "{which}: {} reads {} but it is not wired (set {set_as})",
                    f.name, v.name
                )),
                Some(value) if v.required && may_be_absent(value) => errors.push(format!(
                    "{which}: {} requires {} but it is only set conditionally",
                    f.name, v.name
                )),
                Some(value) if v.secret => match referenced_parameter(value) {
                    Some(p) if params.contains_key(p) => {
                        let default = params[p]["Default"].as_str().unwrap_or_default();
                        if !(default.is_empty() || default.starts_with('/')) {
                            errors.push(format!("{which}: {p} defaults to a value, not a name"));
                        }
                    }
                    _ => errors.push(format!(
                        "{which}: {}.{set_as} must name a stack parameter, not {value}",
                        f.name
                    )),
                },
                _ => {}
            }
        }
        for name in vars.keys().filter(|n| !allowed.contains(*n)) {
            errors.push(format!(
                "{which}: {} sets {name}, which it does not read (not in the manifest)",
                f.name
            ));
        }
    }
    errors
}

/// `METHOD /channel/provider -> function` for every route of the template's HTTP API.
fn routes(t: &Value) -> BTreeSet<String> {
    let by_id: BTreeMap<String, String> = functions(t).into_iter().map(|(n, i)| (i, n)).collect();
    let r = resources(t);
    let integration_of = |target: &Value| -> String {
        // SAM: {"Fn::Sub": "integrations/${X}"}; CDK: {"Fn::Join": ["", ["integrations/", {"Ref": X}]]}.
        if let Some(sub) = target["Fn::Sub"].as_str() {
            return sub
                .strip_prefix("integrations/${")
                .and_then(|s| s.strip_suffix('}'))
                .unwrap_or_else(|| panic!("route target {sub}"))
                .to_owned();
        }
        let parts = &target["Fn::Join"][1];
        assert_eq!(parts[0], "integrations/", "route target {target}");
        parts[1]["Ref"]
            .as_str()
            .expect("integration ref")
            .to_owned()
    };
    r.values()
        .filter(|x| x["Type"] == "AWS::ApiGatewayV2::Route")
        .map(|route| {
            let integration = &r[&integration_of(&route["Properties"]["Target"])]["Properties"];
            assert_eq!(integration["IntegrationType"], "AWS_PROXY");
            assert_eq!(integration["PayloadFormatVersion"], "2.0");
            let function = integration["IntegrationUri"]["Fn::GetAtt"][0]
                .as_str()
                .expect("integration uri is a function's GetAtt Arn");
            format!(
                "{} -> {}",
                route["Properties"]["RouteKey"].as_str().unwrap(),
                by_id.get(function).map_or("?", String::as_str)
            )
        })
        .collect()
}

fn expected_routes() -> BTreeSet<String> {
    intake::manifest::functions()
        .iter()
        .flat_map(|f| {
            f.routes.iter().flat_map(move |r| {
                r.methods
                    .iter()
                    .map(move |m| format!("{m} /{}/{} -> {}", r.channel, r.provider, f.name))
            })
        })
        .collect()
}

fn only(t: &Value, ty: &str) -> (String, Value) {
    let found: Vec<_> = resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .collect();
    assert_eq!(found.len(), 1, "one {ty}");
    (found[0].0.clone(), found[0].1.clone())
}

/// Every action granted to a function's role (inline policies and attached AWS::IAM::Policy),
/// and the secret parameters (`<Secret>ParameterName`) its statements name (the secrets it may
/// read). Other parameters a statement names (SesIdentity) are checked on their own.
fn role_grants(t: &Value, function: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let statements =
        intake_tests::templates::role_statements(t, &intake_tests::templates::role_of(t, function));
    let actions = statements
        .iter()
        .flat_map(intake_tests::templates::actions)
        .collect();
    // `{"Ref": "P"}` (CDK) or `${P}` inside an Fn::Sub string (SAM), for parameters P.
    let parameters = t["Parameters"].as_object().cloned().unwrap_or_default();
    let text = Value::Array(statements).to_string();
    let named = parameters
        .keys()
        .filter(|p| p.ends_with("ParameterName"))
        .filter(|p| {
            text.contains(&format!("{{\"Ref\":\"{p}\"}}")) || text.contains(&format!("${{{p}}}"))
        })
        .cloned()
        .collect();
    (actions, named)
}

#[test]
fn committed_manifest_is_the_codes() {
    let path = root().join("infra/manifest.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("infra/manifest.json"))
            .expect("infra/manifest.json is JSON");
    assert_eq!(
        committed,
        manifest(),
        "infra/manifest.json differs from intake::manifest::functions(): run \
         scripts/update-infra-manifest.sh, then wire what changed in infra/template.yaml"
    );
}

#[test]
fn every_route_is_served_by_its_function_in_both_templates() {
    let expected = expected_routes();
    assert!(expected.contains("POST /sms/twilio -> sms-webhook"));
    for (which, t) in [("SAM", sam()), ("CDK", cdk())] {
        assert_eq!(
            routes(&t),
            expected,
            "{which}: API routes differ from the manifest"
        );
        let outputs = t["Outputs"].as_object().expect("Outputs");
        for f in intake::manifest::functions() {
            for r in &f.routes {
                let id = format!(
                    "WebhookUrl{}{}",
                    pascal(&r.channel.to_string()),
                    pascal(r.provider)
                );
                let value = outputs
                    .get(&id)
                    .unwrap_or_else(|| panic!("{which}: no output {id}"))
                    .get("Value")
                    .expect("Value")
                    .to_string();
                assert!(
                    value.contains(&format!("/{}/{}", r.channel, r.provider)),
                    "{which}: {id} = {value}"
                );
            }
        }
    }
}

#[test]
fn every_variable_is_wired_in_both_templates_and_secrets_only_by_name() {
    let errors: Vec<String> = env_errors("SAM", &sam())
        .into_iter()
        .chain(env_errors("CDK", &cdk()))
        .collect();
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

#[test]
fn a_provider_added_but_not_wired_fails() {
    // What the SAM template would be if the manifest gained a provider: take the real template
    // and drop one wiring; the check must notice. (A check that cannot fail proves nothing.)
    let mut t = sam();
    let sms = functions(&t)["sms-webhook"].clone();
    t["Resources"][&sms]["Properties"]["Environment"]["Variables"]
        .as_object_mut()
        .unwrap()
        .remove("TWILIO_AUTH_TOKEN_PARAM");
    t["Resources"][&sms]["Properties"]["Environment"]["Variables"]["STRAY"] = json!("x");
    t["Resources"][&sms]["Properties"]["Environment"]["Variables"]["TWILIO_AUTH_TOKEN"] =
        json!("hunter2");
    let errors = env_errors("SAM", &t).join("\n");
    assert!(
        errors.contains("reads TWILIO_AUTH_TOKEN but it is not wired"),
        "{errors}"
    );
    assert!(errors.contains("sets STRAY"), "{errors}");
    assert!(
        errors.contains("gets the secret TWILIO_AUTH_TOKEN itself"),
        "{errors}"
    );
    let mut t = sam();
    let route = resources(&t)
        .iter()
        .find(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::Route")
        .map(|(id, _)| id.clone())
        .unwrap();
    t["Resources"].as_object_mut().unwrap().remove(&route);
    assert_ne!(routes(&t), expected_routes());
}

#[test]
fn sam_and_cdk_deploy_the_same_table_stream_consumer_stage_and_functions() {
    let (s, c) = (sam(), cdk());
    let (_, st) = only(&s, "AWS::DynamoDB::Table");
    let (_, ct) = only(&c, "AWS::DynamoDB::Table");
    assert_eq!(st["Properties"], ct["Properties"], "table");
    for t in [&st, &ct] {
        assert_eq!(t["DeletionPolicy"], "Retain");
        assert_eq!(t["UpdateReplacePolicy"], "Retain");
        assert_eq!(t["Properties"]["DeletionProtectionEnabled"], true);
        assert_eq!(
            t["Properties"]["StreamSpecification"]["StreamViewType"],
            "NEW_AND_OLD_IMAGES"
        );
        assert_eq!(
            t["Properties"]["TimeToLiveSpecification"]["AttributeName"],
            "expires_at"
        );
    }

    let mapping = |t: &Value| {
        let (_, m) = only(t, "AWS::Lambda::EventSourceMapping");
        let mut p = m["Properties"].clone();
        let p = p.as_object_mut().unwrap();
        for differs_by_logical_id in ["FunctionName", "EventSourceArn", "DestinationConfig"] {
            assert!(p.remove(differs_by_logical_id).is_some());
        }
        let filter = p.remove("FilterCriteria").unwrap();
        let pattern: Value =
            serde_json::from_str(filter["Filters"][0]["Pattern"].as_str().unwrap()).unwrap();
        (Value::Object(p.clone()), pattern)
    };
    let (sm, sp) = mapping(&s);
    assert_eq!(sm, mapping(&c).0, "event source mapping");
    assert_eq!(sp, mapping(&c).1, "event filter");
    assert_eq!(
        sm["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(sm["BisectBatchOnFunctionError"], true);
    // The batching the acknowledger and the local poller are built for.
    use intake::ack::batching;
    assert_eq!(sm["BatchSize"], json!(batching::BATCH_SIZE), "BatchSize");
    assert_eq!(
        sm["MaximumBatchingWindowInSeconds"],
        json!(batching::MAXIMUM_BATCHING_WINDOW_SECONDS),
        "MaximumBatchingWindowInSeconds"
    );
    assert_eq!(
        sm["ParallelizationFactor"],
        json!(batching::PARALLELIZATION_FACTOR),
        "ParallelizationFactor"
    );
    // The filter the local poller applies too (ack::batching::passes_filter).
    assert_eq!(sp, batching::filter_pattern(), "the mapping's filter");
    assert_eq!(
        sp,
        json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "TICKET#"}]}, "sk": {"S": ["META"]}}}})
    );

    let stage = |t: &Value| {
        let (_, st) = only(t, "AWS::ApiGatewayV2::Stage");
        let mut p = st["Properties"].clone();
        p["AccessLogSettings"]
            .as_object_mut()
            .unwrap()
            .remove("DestinationArn");
        p.as_object_mut().unwrap().remove("ApiId");
        p
    };
    assert_eq!(stage(&s), stage(&c), "API stage");

    let params = |t: &Value| -> BTreeSet<String> {
        t["Parameters"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "BootstrapVersion")
            .cloned()
            .collect()
    };
    assert_eq!(params(&s), params(&c), "stack parameters");

    let (sf, cf) = (functions(&s), functions(&c));
    for (name, sid) in &sf {
        let sp = &resources(&s)[sid]["Properties"];
        let cp = &resources(&c)[&cf[name]]["Properties"];
        for key in [
            "Runtime",
            "Architectures",
            "Handler",
            "MemorySize",
            "Timeout",
            "ReservedConcurrentExecutions",
        ] {
            assert_eq!(sp[key], cp[key], "{name}: {key}");
        }
        assert_eq!(
            sp["Tracing"], cp["TracingConfig"]["Mode"],
            "{name}: tracing"
        );
        for key in ["LogFormat", "ApplicationLogLevel"] {
            assert_eq!(
                sp["LoggingConfig"][key], cp["LoggingConfig"][key],
                "{name}: {key}"
            );
        }
        assert_eq!(sp["Runtime"], "provided.al2023");
        assert_eq!(sp["Architectures"], json!([{"Ref": "Architecture"}]));
        assert_eq!(cp["Architectures"], json!([{"Ref": "Architecture"}]));
        assert_eq!(sp["LoggingConfig"]["LogFormat"], "JSON");
        let metadata = &resources(&s)[sid]["Metadata"];
        assert_eq!(metadata["BuildMethod"], "rust-cargolambda");
        assert_eq!(metadata["BuildProperties"]["Binary"], name.as_str());
        let (sam_actions, sam_secrets) = role_grants(&s, sid);
        let (cdk_actions, cdk_secrets) = role_grants(&c, &cf[name]);
        assert_eq!(sam_actions, cdk_actions, "{name}: IAM actions");
        assert_eq!(
            sam_secrets, cdk_secrets,
            "{name}: parameters its policies name"
        );
        let reads: BTreeSet<String> = intake::manifest::functions()
            .iter()
            .filter(|f| f.name == name)
            .flat_map(|f| f.env.iter().filter(|v| v.secret))
            .map(|v| format!("{}ParameterName", pascal(v.name)))
            .collect();
        assert_eq!(
            sam_secrets, reads,
            "{name}: may read exactly its own secrets"
        );
    }
}

/// Every `AWS::IAM::Policy` statement granting `action`, with the policy's condition and roles.
fn policies_granting(t: &Value, action: &str) -> Vec<(Value, Value, Value)> {
    let mut out = Vec::new();
    for p in resources(t)
        .values()
        .filter(|x| x["Type"] == "AWS::IAM::Policy")
    {
        for st in p["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let actions = match &st["Action"] {
                Value::Array(a) => a.clone(),
                a => vec![a.clone()],
            };
            if actions.iter().any(|a| a == action) {
                out.push((
                    p["Condition"].clone(),
                    p["Properties"]["Roles"].clone(),
                    st.clone(),
                ));
            }
        }
    }
    out
}

/// A statement's resources as a set of JSON texts (SAM and CDK order them differently).
fn resource_set(statement: &Value) -> BTreeSet<String> {
    match &statement["Resource"] {
        Value::Array(a) => a.iter().map(Value::to_string).collect(),
        r => BTreeSet::from([r.to_string()]),
    }
}

/// The manifest's functions that read `var`, in manifest order.
fn readers_of(var: &str) -> Vec<&'static str> {
    intake::manifest::functions()
        .iter()
        .filter(|f| f.env.iter().any(|v| v.name == var))
        .map(|f| f.name)
        .collect()
}

#[test]
fn sam_and_cdk_send_email_acks_only_as_the_configured_identity() {
    let senders: BTreeSet<&str> = readers_of("SES_IDENTITIES").into_iter().collect();
    assert_eq!(senders, BTreeSet::from(["acknowledger"]));
    // One slot per identity (at most five): the padded list's i-th entry.
    let identity = |i: usize| {
        json!({"Fn::Sub": [
            "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Identity}",
            {"Identity": {"Fn::Select": [i, {"Fn::Split": [",", {"Fn::Sub": [
                "${Listed},,,,",
                {"Listed": {"Fn::Join": [",", {"Ref": "SesIdentities"}]}}
            ]}]}]}}
        ]})
        .to_string()
    };
    let configuration_set = json!({"Fn::If": [
        "HasSesConfigurationSet",
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${SesConfigurationSet}"},
        {"Ref": "AWS::NoValue"}
    ]});
    let mut shapes = Vec::new();
    for (which, t) in [("SAM", sam()), ("CDK", cdk())] {
        let fns = functions(&t);
        let role_of =
            |name: &str| resources(&t)[&fns[name]]["Properties"]["Role"]["Fn::GetAtt"][0].clone();
        // Only in AWS::IAM::Policy resources: no role's inline policy sends email.
        assert!(
            !Value::Object(
                resources(&t)
                    .iter()
                    .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            )
            .to_string()
            .contains("ses:"),
            "{which}: a role's inline policy grants ses:"
        );
        let grants = policies_granting(&t, "ses:SendEmail");
        assert_eq!(
            grants.len(),
            1,
            "{which}: one statement grants ses:SendEmail"
        );
        let (condition, roles, statement) = &grants[0];
        assert_eq!(
            condition, "HasSesIdentities",
            "{which}: only with SesIdentities"
        );
        let expected_roles: Vec<Value> =
            senders.iter().map(|n| json!({"Ref": role_of(n)})).collect();
        assert_eq!(
            roles,
            &json!(expected_roles),
            "{which}: ses:SendEmail roles"
        );
        let mut expected: BTreeSet<String> = (0..5).map(identity).collect();
        expected.insert(configuration_set.to_string());
        assert_eq!(
            resource_set(statement),
            expected,
            "{which}: ses:SendEmail on the identities (and the configuration set), never *"
        );
        assert_eq!(statement["Effect"], "Allow");
        assert!(statement.get("NotResource").is_none());
        for c in ["HasSesIdentities", "HasSesConfigurationSet"] {
            assert!(t["Conditions"][c].is_object(), "{which}: condition {c}");
        }
        let ack = &resources(&t)[&fns["acknowledger"]]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            ack["SES_IDENTITIES"],
            json!({"Fn::Join": [",", {"Ref": "SesIdentities"}]}),
            "{which}"
        );
        assert_eq!(
            ack["SES_CONFIGURATION_SET"],
            json!({"Ref": "SesConfigurationSet"}),
            "{which}"
        );
        shapes.push((
            t["Conditions"]["HasSesIdentities"].clone(),
            t["Conditions"]["HasSesConfigurationSet"].clone(),
            t["Parameters"]["SesIdentities"].clone(),
            t["Parameters"]["SesConfigurationSet"].clone(),
        ));
    }
    assert_eq!(
        json!(shapes[0].0),
        json!({"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "SesIdentities"}]}, ""]}]})
    );
    let strip = |p: &Value| {
        let mut p = p.clone();
        p.as_object_mut().unwrap().remove("Description");
        p
    };
    assert_eq!(shapes[0].0, shapes[1].0, "HasSesIdentities");
    assert_eq!(shapes[0].1, shapes[1].1, "HasSesConfigurationSet");
    assert_eq!(strip(&shapes[0].2), strip(&shapes[1].2), "SesIdentities");
    assert_eq!(
        strip(&shapes[0].3),
        strip(&shapes[1].3),
        "SesConfigurationSet"
    );
}

/// The SES inbound resources of a template, reduced to what SAM and CDK must agree on.
fn ses_inbound(which: &str, t: &Value) -> Value {
    let r = resources(t);
    let (rule_id, rule) = only(t, "AWS::SES::ReceiptRule");
    let (rule_set_id, rule_set) = only(t, "AWS::SES::ReceiptRuleSet");
    let (_, subscription) = {
        let subs: Vec<_> = r
            .iter()
            .filter(|(_, x)| {
                x["Type"] == "AWS::SNS::Subscription"
                    && x["Properties"]["Protocol"] != "email"
                    && !x["Properties"]["Endpoint"].to_string().contains("/sms/aws")
            })
            .collect();
        assert_eq!(
            subs.len(),
            1,
            "{which}: one subscription besides the alarm email and AWS SMS's"
        );
        (subs[0].0.clone(), subs[0].1.clone())
    };
    for (id, x) in [
        (&rule_id, &rule),
        (&rule_set_id, &rule_set),
        (&"subscription".to_owned(), &subscription),
    ] {
        assert_eq!(x["Condition"], "HasSesInbound", "{which}: {id} is optional");
    }
    assert_eq!(
        t["Conditions"]["HasSesInbound"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "SesInboundRecipients"}, ""]}]}),
        "{which}: HasSesInbound"
    );

    // The rule: every recipient named, TLS required, scanned, one action: SNS in Base64, or
    // with InboundMailBucket an S3 action under inbound/ notifying the same topic.
    let rule_p = &rule["Properties"];
    assert_eq!(
        rule_p["RuleSetName"],
        json!({"Ref": rule_set_id}),
        "{which}"
    );
    let body = &rule_p["Rule"];
    assert_eq!(body["Enabled"], true, "{which}");
    assert_eq!(body["TlsPolicy"], "Require", "{which}");
    assert_eq!(body["ScanEnabled"], true, "{which}");
    assert_eq!(
        body["Recipients"],
        json!({"Fn::Split": [",", {"Ref": "SesInboundRecipients"}]}),
        "{which}"
    );
    let actions = body["Actions"].as_array().expect("Actions");
    assert_eq!(actions.len(), 1, "{which}: one action");
    let choice = actions[0]["Fn::If"]
        .as_array()
        .expect("an action chosen by condition");
    assert_eq!(choice[0], "HasInboundMailBucket", "{which}");
    let s3 = &choice[1]["S3Action"];
    assert_eq!(
        s3["BucketName"],
        json!({"Ref": "InboundMailBucket"}),
        "{which}"
    );
    assert_eq!(s3["ObjectKeyPrefix"], "inbound/", "{which}");
    assert!(
        s3.get("KmsKeyArn").is_none(),
        "{which}: no client-side encryption"
    );
    let action_types: Vec<&String> = choice[2].as_object().unwrap().keys().collect();
    let sns = &choice[2]["SNSAction"];
    assert_eq!(
        s3["TopicArn"], sns["TopicArn"],
        "{which}: both notify the topic"
    );
    assert_eq!(sns["Encoding"], "Base64", "{which}");
    let topic_id = sns["TopicArn"]["Ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{which}: SNS action topic {sns}"))
        .to_owned();
    let topic = &r[&topic_id];
    assert_eq!(topic["Type"], "AWS::SNS::Topic", "{which}");
    assert_eq!(topic["Condition"], "HasSesInbound", "{which}");
    // Encrypted with a key of the stack whose policy lets SES use it (aws/sns could not be).
    let key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{which}: topic key {}", topic["Properties"]))
        .to_owned();
    let key = &r[&key_id];
    assert_eq!(key["Type"], "AWS::KMS::Key", "{which}");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true, "{which}");
    let key_for_ses: Vec<&Value> = key["Properties"]["KeyPolicy"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Principal"]["Service"] == "ses.amazonaws.com")
        .collect();
    assert_eq!(key_for_ses.len(), 1, "{which}: one key statement for SES");
    assert_eq!(
        key_for_ses[0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!({"Ref": "AWS::AccountId"}),
        "{which}: key use by SES limited to this account"
    );

    // The topic policy: SES may publish, for this account only.
    let policies: Vec<&Value> = r
        .values()
        .filter(|x| {
            x["Type"] == "AWS::SNS::TopicPolicy"
                && x["Properties"]["Topics"] == json!([{"Ref": topic_id}])
        })
        .collect();
    assert_eq!(
        policies.len(),
        1,
        "{which}: one policy on the inbound topic"
    );
    let statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(statements.len(), 1, "{which}");
    let st = &statements[0];
    assert_eq!(
        st["Principal"],
        json!({"Service": "ses.amazonaws.com"}),
        "{which}"
    );
    assert_eq!(st["Action"], "sns:Publish", "{which}");
    assert_eq!(st["Resource"], json!({"Ref": topic_id}), "{which}");
    assert_eq!(
        st["Condition"]["StringEquals"],
        json!({"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}),
        "{which}"
    );
    let rule_depends = rule["DependsOn"].to_string();
    assert!(
        r.iter().any(|(id, x)| x["Type"] == "AWS::SNS::TopicPolicy"
            && rule_depends.contains(&format!("\"{id}\""))),
        "{which}: the rule is created after the topic policy (SES checks it may publish)"
    );

    // The subscription: HTTPS to the API's /email/ses, after that route exists.
    let sp = &subscription["Properties"];
    assert_eq!(sp["TopicArn"], json!({"Ref": topic_id}), "{which}");
    assert!(
        sp.get("RawMessageDelivery").is_none_or(|v| v == false),
        "{which}"
    );
    let endpoint = &sp["Endpoint"]["Fn::If"];
    assert_eq!(endpoint[0], "HasPublicBaseUrl", "{which}");
    for branch in [&endpoint[1], &endpoint[2]] {
        let text = branch.to_string();
        assert!(
            text.ends_with("/email/ses\"]]}") || text.ends_with("/email/ses\"}"),
            "{which}: endpoint {text} does not end in /email/ses"
        );
    }
    assert!(endpoint[1].to_string().contains("PublicBaseUrl"), "{which}");
    let depends = subscription["DependsOn"].to_string();
    let ses_route = r
        .iter()
        .find(|(_, x)| {
            x["Type"] == "AWS::ApiGatewayV2::Route"
                && x["Properties"]["RouteKey"] == "POST /email/ses"
        })
        .map(|(id, _)| id.clone())
        .expect("route POST /email/ses");
    assert!(
        depends.contains(&format!("\"{ses_route}\"")),
        "{which}: the subscription is created after POST /email/ses ({depends})"
    );
    let dlq = sp["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{which}: subscription without a dead-letter queue"));
    assert_eq!(r[dlq]["Type"], "AWS::SQS::Queue", "{which}");

    // The email webhook accepts the topic (and the extra topics named).
    let fns = functions(t);
    let email = &r[&fns["email-webhook"]]["Properties"]["Environment"]["Variables"];
    let arns = &email["SES_TOPIC_ARNS"]["Fn::If"];
    assert_eq!(arns[0], "HasSesInbound", "{which}");
    assert!(
        arns[1].to_string().contains(topic_id.as_str())
            && arns[1].to_string().contains("SesExtraTopicArns"),
        "{which}: SES_TOPIC_ARNS {arns}"
    );
    assert_eq!(arns[2], json!({"Ref": "SesExtraTopicArns"}), "{which}");

    let parameters: Vec<Value> = ["SesInboundRecipients", "SesExtraTopicArns"]
        .iter()
        .map(|p| {
            let mut p = t["Parameters"][p].clone();
            p.as_object_mut().unwrap().remove("Description");
            p
        })
        .collect();
    json!({
        "action types": action_types,
        "encoding": sns["Encoding"],
        "rule": {"TlsPolicy": body["TlsPolicy"], "ScanEnabled": body["ScanEnabled"], "Recipients": body["Recipients"]},
        "protocol": sp["Protocol"],
        "delivery policy": sp["DeliveryPolicy"],
        "topic policy condition": st["Condition"]["StringEquals"],
        "key statement actions": key_for_ses[0]["Action"],
        "parameters": parameters,
    })
}

#[test]
fn sam_and_cdk_deploy_the_same_ses_inbound() {
    let (s, c) = (sam(), cdk());
    let (sam_inbound, cdk_inbound) = (ses_inbound("SAM", &s), ses_inbound("CDK", &c));
    assert_eq!(sam_inbound, cdk_inbound, "SES inbound");
    assert_eq!(sam_inbound["action types"], json!(["SNSAction"]));
    assert_eq!(sam_inbound["protocol"], "https");
}

/// AWS End User Messaging SMS in both templates, the same: the encrypted inbound topic only
/// End User Messaging SMS of this account may publish to, its HTTPS subscription to
/// `/sms/aws` with a dead-letter queue, all behind `HasAwsSmsInbound`; and the send grant,
/// behind `HasAwsSmsSend`, on the account's numbers and the named configuration set only.
#[test]
fn sam_and_cdk_deploy_the_same_aws_sms() {
    let shape = |which: &str, t: &Value| -> Value {
        let r = resources(t);
        let get = |id: &str| -> &Value { r.get(id).unwrap_or_else(|| panic!("{which}: no {id}")) };
        let service_statement = |doc: &Value| -> Value {
            doc["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|st| st["Principal"]["Service"].is_string())
                .cloned()
                .unwrap_or(Value::Null)
        };
        let subscription = &get("AwsSmsInboundSubscription")["Properties"];
        let endpoint = subscription["Endpoint"].to_string();
        let send = &get("AwsSmsSendPolicy");
        // The CDK orders a statement's resources its own way.
        let mut statements = send["Properties"]["PolicyDocument"]["Statement"].clone();
        for st in statements.as_array_mut().into_iter().flatten() {
            if let Some(list) = st["Resource"].as_array_mut() {
                list.sort_by_key(|v| v.to_string());
            }
        }
        let conditions: Vec<Value> = [
            "AwsSmsInboundKey",
            "AwsSmsInboundTopic",
            "AwsSmsInboundTopicPolicy",
            "AwsSmsInboundDeadLetterQueue",
            "AwsSmsInboundDeadLetterQueuePolicy",
            "AwsSmsInboundSubscription",
        ]
        .iter()
        .map(|id| get(id)["Condition"].clone())
        .collect();
        json!({
            "conditions": conditions,
            "key": service_statement(&get("AwsSmsInboundKey")["Properties"]["KeyPolicy"]),
            "rotation": get("AwsSmsInboundKey")["Properties"]["EnableKeyRotation"],
            "topic key": get("AwsSmsInboundTopic")["Properties"]["KmsMasterKeyId"],
            "topic policy": service_statement(&get("AwsSmsInboundTopicPolicy")["Properties"]["PolicyDocument"]),
            "queue": get("AwsSmsInboundDeadLetterQueue")["Properties"],
            "protocol": subscription["Protocol"],
            "to /sms/aws": endpoint.contains("/sms/aws"),
            "delivery": subscription["DeliveryPolicy"],
            "redrive": subscription["RedrivePolicy"],
            "send condition": send["Condition"],
            "send": statements,
        })
    };
    let (s, c) = (sam(), cdk());
    let (sam_shape, cdk_shape) = (shape("SAM", &s), shape("CDK", &c));
    assert_eq!(sam_shape, cdk_shape, "AWS SMS");
    assert_eq!(sam_shape["protocol"], "https");
    assert_eq!(sam_shape["to /sms/aws"], true);
    assert_eq!(sam_shape["send condition"], "HasAwsSmsSend");
    assert_eq!(
        sam_shape["topic policy"]["Principal"]["Service"],
        "sms-voice.amazonaws.com"
    );
    for t in [&s, &c] {
        assert_eq!(
            t["Conditions"]["HasAwsSmsInbound"],
            json!({"Fn::Equals": [{"Ref": "AwsSmsInbound"}, "true"]})
        );
    }
}

/// X-Ray permissions live in each function's own role (behind `TracingEnabled`), never in a
/// separate policy: CloudFormation would not wait for a separate policy before creating a
/// function with tracing on, and the function could start before it may write traces.
#[test]
fn tracing_permissions_are_inside_each_role() {
    for (which, t) in [("SAM", sam()), ("CDK", cdk())] {
        for (name, id) in functions(&t) {
            let role = intake_tests::templates::role_of(&t, &id);
            let inline = resources(&t)[&role]["Properties"]["Policies"].to_string();
            assert!(
                inline.contains("xray:PutTraceSegments") && inline.contains("TracingEnabled"),
                "{which}: {name}'s role does not grant X-Ray itself"
            );
        }
        for (id, r) in resources(&t) {
            if r["Type"] == "AWS::IAM::Policy" {
                assert!(
                    !r["Properties"].to_string().contains("xray:"),
                    "{which}: {id} grants X-Ray outside the roles"
                );
            }
        }
    }
}

/// The alarms on handled failures (the functions' own metrics, API Gateway's 5xx, SNS
/// deliveries) and the dashboard: the same in both templates, on exactly the metric names and
/// dimensions the code writes (`intake::metrics`).
#[test]
fn sam_and_cdk_alarm_on_the_same_handled_failures() {
    let shape = |t: &Value| -> BTreeSet<String> {
        resources(t)
            .values()
            .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
            .filter_map(|r| {
                let p = &r["Properties"];
                let literal = |dims: &Value| -> Vec<String> {
                    let mut dims: Vec<String> = dims
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|d| match d["Value"].as_str() {
                            Some(v) => format!("{}={v}", d["Name"].as_str().unwrap_or("")),
                            None => format!("{}=<ref>", d["Name"].as_str().unwrap_or("")),
                        })
                        .collect();
                    dims.sort();
                    dims
                };
                let metric = if let Some(metrics) = p["Metrics"].as_array() {
                    let mut parts: Vec<String> = metrics
                        .iter()
                        .map(|m| match m["Expression"].as_str() {
                            // The expression's own id is a name only (CDK numbers it).
                            Some(e) => format!("= {e}"),
                            None => {
                                let s = &m["MetricStat"];
                                format!(
                                    "{}: {}/{} {:?} {} {}",
                                    m["Id"].as_str().unwrap_or(""),
                                    s["Metric"]["Namespace"].as_str().unwrap_or(""),
                                    s["Metric"]["MetricName"].as_str().unwrap_or(""),
                                    literal(&s["Metric"]["Dimensions"]),
                                    s["Stat"],
                                    s["Period"]
                                )
                            }
                        })
                        .collect();
                    parts.sort();
                    parts.join("; ")
                } else {
                    let ns = p["Namespace"].as_str()?;
                    if ns == "AWS/Lambda" || ns == "AWS/SQS" {
                        return None; // compared elsewhere
                    }
                    format!(
                        "{ns}/{} {:?} {} {}",
                        p["MetricName"].as_str().unwrap_or(""),
                        literal(&p["Dimensions"]),
                        p["Statistic"],
                        p["Period"]
                    )
                };
                Some(format!(
                    "{metric} | {} {} | {} | {}",
                    p["ComparisonOperator"], p["Threshold"], p["TreatMissingData"], r["Condition"]
                ))
            })
            .collect()
    };
    let (s, c) = (sam(), cdk());
    let sam_alarms = shape(&s);
    assert_eq!(sam_alarms, shape(&c), "the same alarms on handled failures");
    for expected in [
        "Intake/Webhooks [\"Outcome=failed\"]",
        "Intake/Acks [\"Outcome=failed\"]",
        "Intake/Acks [\"Outcome=unrecorded\"]",
        "Intake/Acks [\"Outcome=interrupted\"]",
        "Intake/ArchivedDeliveries [\"Kept=failure\"]",
        "failure: Intake/ArchiveWriteFailures [\"Kept=failure\"]",
        "audit: Intake/ArchiveWriteFailures [\"Kept=audit\"]",
        "AWS/ApiGateway/5xx [\"ApiId=<ref>\"]",
        "AWS/SNS/NumberOfNotificationsFailed",
        "Intake/Webhooks [\"Code=bad_signature\", \"Outcome=refused\"]",
        "Intake/Webhooks [\"Code=missing_signature\", \"Outcome=refused\"]",
    ] {
        assert!(
            sam_alarms.iter().any(|a| a.contains(expected)),
            "no alarm on {expected}: {sam_alarms:#?}"
        );
    }
    // The codes the alarms watch are the codes the code writes.
    assert_eq!(
        intake::metrics::AckMetricOutcome::Unrecorded.as_str(),
        "unrecorded"
    );
    assert_eq!(
        intake::metrics::AckMetricOutcome::Interrupted.as_str(),
        "interrupted"
    );
    for code in ["bad_signature", "missing_signature"] {
        assert!(
            [
                intake::WebhookError::BadSignature.code(),
                intake::WebhookError::MissingSignature("x").code()
            ]
            .contains(&code)
        );
    }
    let dashboard = |t: &Value| {
        resources(t)
            .values()
            .find(|r| r["Type"] == "AWS::CloudWatch::Dashboard")
            .map(|r| r["Properties"]["DashboardBody"]["Fn::Sub"].clone())
            .expect("a dashboard")
    };
    let body = |d: &Value| match d {
        Value::Array(a) => a[0].as_str().unwrap_or("").trim().to_owned(),
        v => v.as_str().unwrap_or("").trim().to_owned(),
    };
    assert_eq!(
        body(&dashboard(&s)),
        body(&dashboard(&c)),
        "the same dashboard"
    );
}

/// The stale-claim sweeper's schedule, the same in both templates: one EventBridge rule every
/// `ack::sweep::SCHEDULE_MINUTES` minutes whose only target is the acknowledger, and the
/// permission for EventBridge to invoke it from that rule only.
#[test]
fn sam_and_cdk_schedule_the_same_sweep_of_stale_acks() {
    for (which, t) in intake_tests::templates::both() {
        let r = resources(&t);
        let acknowledger = functions(&t)
            .remove("acknowledger")
            .unwrap_or_else(|| panic!("{which}: no acknowledger"));
        let rules: Vec<(&String, &Value)> = r
            .iter()
            .filter(|(_, v)| v["Type"] == "AWS::Events::Rule")
            .collect();
        assert_eq!(rules.len(), 1, "{which}: one schedule");
        let (rule_id, rule) = rules[0];
        let p = &rule["Properties"];
        assert_eq!(
            p["ScheduleExpression"],
            format!("rate({} minutes)", intake::ack::sweep::SCHEDULE_MINUTES),
            "{which}"
        );
        assert_eq!(p["State"], "ENABLED", "{which}");
        assert_eq!(p["Targets"].as_array().map(Vec::len), Some(1), "{which}");
        assert_eq!(
            p["Targets"][0]["Arn"],
            json!({"Fn::GetAtt": [acknowledger, "Arn"]}),
            "{which}: the acknowledger is the target"
        );
        assert!(r.contains_key(&acknowledger));
        let permissions: Vec<&Value> = r
            .values()
            .filter(|v| v["Type"] == "AWS::Lambda::Permission")
            .filter(|v| v["Properties"]["Principal"] == "events.amazonaws.com")
            .collect();
        assert_eq!(
            permissions.len(),
            1,
            "{which}: one permission for EventBridge"
        );
        let p = &permissions[0]["Properties"];
        assert_eq!(p["Action"], "lambda:InvokeFunction", "{which}");
        assert_eq!(
            p["FunctionName"],
            json!({"Fn::GetAtt": [acknowledger, "Arn"]}),
            "{which}"
        );
        assert_eq!(
            p["SourceArn"],
            json!({"Fn::GetAtt": [rule_id, "Arn"]}),
            "{which}: from that rule only"
        );
    }
    // The schedule's period and the staleness the sweeper waits for are the code's.
    assert_eq!(
        intake::ack::sweep::STALE_AFTER.as_secs(),
        300,
        "the documented 5 minutes"
    );
}

/// A resource by logical id: exactly `id` (SAM, and CDK where it overrides the id) or, for a
/// CDK construct, `id` followed by its hash.
fn by_id<'a>(which: &str, t: &'a Value, id: &str) -> (String, &'a Value) {
    let found: Vec<(&String, &Value)> = resources(t)
        .iter()
        .filter(|(k, _)| {
            *k == id
                || (k.len() == id.len() + 8
                    && k.starts_with(id)
                    && k[id.len()..].bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect();
    assert_eq!(found.len(), 1, "{which}: one resource {id}");
    (found[0].0.clone(), found[0].1)
}

/// A parameter without its description (the two templates word some differently).
fn parameter_shape(t: &Value, name: &str) -> Value {
    let mut p = t["Parameters"][name].clone();
    assert!(p.is_object(), "no parameter {name}");
    p.as_object_mut().unwrap().remove("Description");
    p
}

/// The archive of verified deliveries not stored (issue 12), the same in both templates: one
/// bucket, always deployed and retained with the stack, that no ACL or policy can open to the
/// public (all four public access blocks, objects owned by the bucket), encrypted at rest with
/// S3-managed keys (no key policy, no kms: for the roles), refusing every request without TLS,
/// not versioned, whose lifecycle deletes `archive/` (the code's prefix) after
/// `ArchiveRetentionDays` (30 by default) and unfinished uploads after a day.
#[test]
fn sam_and_cdk_deploy_the_same_archive_bucket() {
    let mut shapes = Vec::new();
    for (which, t) in intake_tests::templates::both() {
        let r = resources(&t);
        let buckets: Vec<&String> = r
            .iter()
            .filter(|(_, x)| x["Type"] == "AWS::S3::Bucket")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(buckets, ["ArchiveBucket"], "{which}: the one bucket");
        let bucket = &r["ArchiveBucket"];
        assert!(bucket.get("Condition").is_none(), "{which}: always there");
        assert_eq!(bucket["DeletionPolicy"], "Retain", "{which}");
        assert_eq!(bucket["UpdateReplacePolicy"], "Retain", "{which}");
        let p = &bucket["Properties"];

        // No public access, whatever an ACL or a policy says; ACLs off.
        assert_eq!(
            p["PublicAccessBlockConfiguration"],
            json!({"BlockPublicAcls": true, "BlockPublicPolicy": true,
                   "IgnorePublicAcls": true, "RestrictPublicBuckets": true}),
            "{which}: public access blocked"
        );
        assert_eq!(
            p["OwnershipControls"],
            json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
            "{which}"
        );
        // Encrypted with S3-managed keys, so no role needs kms:.
        assert_eq!(
            p["BucketEncryption"],
            json!({"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]}),
            "{which}: SSE-S3"
        );
        // Not versioned: an expired delivery is gone, not kept as a noncurrent version.
        assert!(
            p.get("VersioningConfiguration").is_none(),
            "{which}: versioned"
        );

        // The lifecycle: the archive's prefix expires after ArchiveRetentionDays.
        let rules = p["LifecycleConfiguration"]["Rules"]
            .as_array()
            .unwrap_or_else(|| panic!("{which}: no lifecycle"));
        let expiring: Vec<&Value> = rules
            .iter()
            .filter(|rule| rule.get("ExpirationInDays").is_some())
            .collect();
        assert_eq!(expiring.len(), 1, "{which}: one expiring rule");
        let rule = expiring[0];
        assert_eq!(rule["Status"], "Enabled", "{which}");
        assert_eq!(
            rule["Prefix"],
            intake::archive::PREFIX,
            "{which}: expires what the code writes"
        );
        assert!(
            rule.get("TagFilters").is_none() && rule.get("Filter").is_none(),
            "{which}: the whole prefix, no narrower filter"
        );
        assert_eq!(
            rule["ExpirationInDays"],
            json!({"Ref": "ArchiveRetentionDays"}),
            "{which}"
        );
        assert!(
            rules.iter().any(|rule| rule["Status"] == "Enabled"
                && rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
                && rule.get("Prefix").is_none()),
            "{which}: unfinished uploads aborted after a day"
        );
        let days = parameter_shape(&t, "ArchiveRetentionDays");
        assert_eq!(days["Type"], "Number", "{which}");
        assert_eq!(
            days["Default"].to_string().trim_matches('"'),
            "30",
            "{which}"
        );
        assert_eq!(days["MinValue"].to_string().trim_matches('"'), "1");
        assert_eq!(days["MaxValue"].to_string().trim_matches('"'), "3650");

        // TLS only: one policy on the bucket, denying every s3: action without TLS, to anyone.
        let policies: Vec<(&String, &Value)> = r
            .iter()
            .filter(|(_, x)| {
                x["Type"] == "AWS::S3::BucketPolicy"
                    && x["Properties"]["Bucket"] == json!({"Ref": "ArchiveBucket"})
            })
            .collect();
        assert_eq!(policies.len(), 1, "{which}: one policy on the archive");
        let (policy_id, policy) = policies[0];
        assert_eq!(policy_id, "ArchiveBucketPolicy", "{which}");
        assert_eq!(
            policy["DeletionPolicy"], "Retain",
            "{which}: a retained archive stays TLS-only"
        );
        let statements = policy["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("Statement");
        assert!(
            statements.iter().all(|s| s["Effect"] == "Deny"),
            "{which}: the bucket policy allows nothing"
        );
        let tls = statements
            .iter()
            .find(|s| s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
            .unwrap_or_else(|| panic!("{which}: no statement on aws:SecureTransport"));
        assert_eq!(tls["Principal"], "*", "{which}: anyone");
        assert_eq!(tls["Action"], "s3:*", "{which}: every action");
        assert_eq!(
            tls["Resource"],
            json!([{"Fn::GetAtt": ["ArchiveBucket", "Arn"]}, {"Fn::Sub": "${ArchiveBucket.Arn}/*"}]),
            "{which}: the bucket and its objects"
        );

        let without_metadata = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("Metadata");
            v
        };
        shapes.push(json!({
            "bucket": without_metadata(bucket),
            "policy": without_metadata(policy),
            "retention": days,
        }));
    }
    assert_eq!(shapes[0], shapes[1], "the archive bucket");
}

/// Each function that archives (`ARCHIVE_BUCKET` in the manifest) gets the stack's bucket and
/// `ArchiveAll` in both templates; the bucket's name and each webhook function's name are
/// outputs, for `intake replay --stack`.
#[test]
fn each_webhook_archives_to_the_stacks_bucket_in_both_templates() {
    let archivers = readers_of("ARCHIVE_BUCKET");
    assert_eq!(
        archivers,
        ["sms-webhook", "email-webhook", "social-webhook"]
    );
    // Those that archive are those granted the archive, and read ARCHIVE_ALL too.
    for f in intake::manifest::functions() {
        let granted = f
            .grants
            .iter()
            .any(|g| g.resource == intake::grants::Resource::ArchiveObjects);
        assert_eq!(granted, archivers.contains(&f.name), "{}", f.name);
        assert_eq!(
            f.env.iter().any(|v| v.name == "ARCHIVE_ALL"),
            archivers.contains(&f.name),
            "{}",
            f.name
        );
    }
    let mut all = Vec::new();
    for (which, t) in intake_tests::templates::both() {
        let fns = functions(&t);
        for name in &archivers {
            let vars = &resources(&t)[&fns[*name]]["Properties"]["Environment"]["Variables"];
            assert_eq!(
                vars["ARCHIVE_BUCKET"],
                json!({"Ref": "ArchiveBucket"}),
                "{which}: {name}"
            );
            assert_eq!(
                vars["ARCHIVE_ALL"],
                json!({"Ref": "ArchiveAll"}),
                "{which}: {name}"
            );
        }
        let archive_all = parameter_shape(&t, "ArchiveAll");
        assert_eq!(archive_all["Default"], "false", "{which}");
        assert_eq!(archive_all["AllowedValues"], json!(["false", "true"]));
        // Every value the parameter allows is one the functions accept at cold start.
        for value in archive_all["AllowedValues"].as_array().unwrap() {
            let settings = intake::config::ArchiveSettings::from_lookup(|name| match name {
                // What CloudFormation names a bucket: <stack>-archivebucket-<random>.
                "ARCHIVE_BUCKET" => Some("intake-archivebucket-1x2y3z4w5v6u".to_owned()),
                "ARCHIVE_ALL" => value.as_str().map(str::to_owned),
                _ => None,
            });
            assert!(
                matches!(settings, Ok(Some(_))),
                "{which}: ArchiveAll={value} refused: {settings:?}"
            );
        }
        all.push(archive_all);

        let outputs = t["Outputs"].as_object().expect("Outputs");
        let output = |id: &str| -> Value {
            outputs
                .get(id)
                .unwrap_or_else(|| panic!("{which}: no output {id}"))["Value"]
                .clone()
        };
        assert_eq!(
            output("ArchiveBucketName"),
            json!({"Ref": "ArchiveBucket"}),
            "{which}"
        );
        for f in intake::manifest::functions()
            .iter()
            .filter(|f| matches!(f.trigger, intake::manifest::Trigger::Http(_)))
        {
            assert_eq!(
                output(&format!("{}FunctionName", pascal(f.name))),
                json!({"Ref": fns[f.name]}),
                "{which}: {}",
                f.name
            );
        }
    }
    assert_eq!(all[0], all[1], "ArchiveAll");
}

/// The archive's two alarms, the same in both templates (to the alarm topic, on the metric
/// names and `Kept` values the code writes, `intake::metrics::ArchiveMetric`):
/// `ArchivedFailuresAlarm` on `ArchivedDeliveries{Kept=failure}` (not `audit`: a stored one
/// kept by ArchiveAll) and `ArchiveWriteFailuresAlarm` on `ArchiveWriteFailures` of both.
#[test]
fn sam_and_cdk_alarm_the_same_on_archived_failures_and_failed_archive_writes() {
    // What the code writes: metric name and Kept of each kind of archive line.
    let emitted = |code: Option<&'static str>, written: bool| -> (String, String) {
        let line = intake::metrics::ArchiveMetric {
            channel: intake::Channel::Sms,
            provider: "twilio",
            code,
            written,
        }
        .line(jiff::Timestamp::now());
        let v: Value = serde_json::from_str(&line).expect("EMF");
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert!(
            directive["Dimensions"]
                .as_array()
                .unwrap()
                .contains(&json!(["Kept"])),
            "Kept is a dimension set of its own: {line}"
        );
        assert_eq!(directive["Namespace"], "Intake");
        (
            directive["Metrics"][0]["Name"].as_str().unwrap().to_owned(),
            v["Kept"].as_str().unwrap().to_owned(),
        )
    };
    let (archived, failure) = emitted(Some("parse_failed"), true);
    let (_, audit) = emitted(None, true);
    let (write_failed, failure_not_written) = emitted(Some("parse_failed"), false);
    let (write_failed_audit, audit_not_written) = emitted(None, false);
    assert_eq!(
        (archived.as_str(), failure.as_str(), audit.as_str()),
        ("ArchivedDeliveries", "failure", "audit")
    );
    assert_eq!(write_failed, "ArchiveWriteFailures");
    assert_eq!(write_failed_audit, write_failed);
    assert_eq!(
        (failure_not_written, audit_not_written),
        (failure.clone(), audit.clone())
    );

    let mut shapes = Vec::new();
    for (which, t) in intake_tests::templates::both() {
        let (topic, _) = by_id(which, &t, "AlarmTopic");
        let alarm = |id: &str| -> Value {
            let (_, a) = by_id(which, &t, id);
            assert_eq!(a["Type"], "AWS::CloudWatch::Alarm");
            assert!(a.get("Condition").is_none(), "{which}: {id} always");
            let mut p = a["Properties"].clone();
            let p = p.as_object_mut().unwrap();
            for actions in ["AlarmActions", "OKActions"] {
                assert_eq!(
                    p.remove(actions),
                    Some(json!([{"Ref": topic}])),
                    "{which}: {id} {actions}"
                );
            }
            // The expression's own id is a name only (CDK numbers it).
            for m in p
                .get_mut("Metrics")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if m.get("Expression").is_some() {
                    m.as_object_mut().unwrap().remove("Id");
                }
            }
            Value::Object(p.clone())
        };
        let on_failures = alarm("ArchivedFailuresAlarm");
        assert_eq!(on_failures["Namespace"], "Intake", "{which}");
        assert_eq!(on_failures["MetricName"], archived, "{which}");
        assert_eq!(
            on_failures["Dimensions"],
            json!([{"Name": "Kept", "Value": failure}]),
            "{which}: failures only, not audit copies"
        );
        assert_eq!(on_failures["Statistic"], "Sum", "{which}");
        assert_eq!(on_failures["Period"], 300, "{which}");
        let description = on_failures["AlarmDescription"].as_str().unwrap_or("");
        for step in ["intake replay list --stack", "intake replay run --stack"] {
            assert!(
                description.contains(step),
                "{which}: the description says {step}"
            );
        }

        let on_writes = alarm("ArchiveWriteFailuresAlarm");
        let metrics = on_writes["Metrics"].as_array().expect("metric math");
        let expression: Vec<&Value> = metrics
            .iter()
            .filter(|m| m.get("Expression").is_some())
            .collect();
        assert_eq!(expression.len(), 1, "{which}");
        assert_eq!(expression[0]["ReturnData"], true, "{which}");
        let mut watched: Vec<(String, Value)> = metrics
            .iter()
            .filter(|m| m.get("MetricStat").is_some())
            .map(|m| {
                let s = &m["MetricStat"];
                assert_eq!(m["ReturnData"], false, "{which}");
                assert_eq!(s["Stat"], "Sum", "{which}");
                assert_eq!(s["Period"], 300, "{which}");
                assert_eq!(s["Metric"]["Namespace"], "Intake", "{which}");
                assert_eq!(s["Metric"]["MetricName"], write_failed, "{which}");
                let id = m["Id"].as_str().unwrap().to_owned();
                let expr = expression[0]["Expression"].as_str().unwrap();
                assert!(
                    expr.contains(&format!("FILL({id}, 0)")),
                    "{which}: {expr} counts {id} even when the other has no data"
                );
                (id, s["Metric"]["Dimensions"].clone())
            })
            .collect();
        watched.sort_by_key(|(id, _)| id.clone());
        assert_eq!(
            watched.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
            [
                json!([{"Name": "Kept", "Value": audit}]),
                json!([{"Name": "Kept", "Value": failure}]),
            ],
            "{which}: write failures of both kinds"
        );
        for a in [&on_failures, &on_writes] {
            assert_eq!(a["Threshold"], 0, "{which}");
            assert_eq!(a["ComparisonOperator"], "GreaterThanThreshold", "{which}");
            assert_eq!(a["TreatMissingData"], "notBreaching", "{which}");
            assert_eq!(a["EvaluationPeriods"], 1, "{which}");
        }
        shapes.push((on_failures, on_writes));
    }
    assert_eq!(shapes[0].0, shapes[1].0, "ArchivedFailuresAlarm");
    assert_eq!(shapes[0].1, shapes[1].1, "ArchiveWriteFailuresAlarm");
}
