//! Which table a command reads: the local stack's (`TABLE_NAME` at
//! `AWS_ENDPOINT_URL_DYNAMODB`, the default) or a deployed stack's, found from its
//! CloudFormation `TableName` output (`--stack`) or named (`--table`) and read with the
//! caller's own AWS environment (region, credentials, profile), never the local stack's.
//! `intake tickets`, `intake customers` and `intake acks` share it; `intake doctor` shares
//! the operator's SDK configuration.

use std::time::Duration;

use aws_smithy_types::error::display::DisplayErrorContext;
use clap::Args;
use intake::store::Store;

use crate::DevResult;
use crate::dotenv::var_or;

/// `--stack NAME` or `--table NAME`: a deployed stack's table instead of the local one.
#[derive(Args, Clone, Debug, Default)]
pub struct Deployed {
    /// A deployed stack: its TableName output, read with the AWS environment's region and
    /// credentials (AWS_PROFILE, AWS_REGION, ...), not the local stack's settings.
    #[arg(long, conflicts_with = "table")]
    pub stack: Option<String>,
    /// A deployed stack's table, instead of --stack.
    #[arg(long)]
    pub table: Option<String>,
}

impl Deployed {
    /// Whether it names a deployed stack (then the local settings are not loaded).
    pub fn is_cloud(&self) -> bool {
        self.stack.is_some() || self.table.is_some()
    }

    /// The deployed table's name: `--table`, else the stack's `TableName` output; `None` for
    /// the local stack.
    pub async fn table_name(&self, sdk: &aws_config::SdkConfig) -> DevResult<Option<String>> {
        match (&self.table, &self.stack) {
            (Some(table), _) => Ok(Some(table.clone())),
            (None, Some(stack)) => Ok(Some(stack_output(sdk, stack, "TableName").await?)),
            (None, None) => Ok(None),
        }
    }

    /// The store these options name: the deployed table (with [`operator_sdk`], after
    /// checking there is a region and credentials), else the local stack's.
    pub async fn store(&self) -> DevResult<Store> {
        if !self.is_cloud() {
            // Only the table's name is needed, not the functions' whole configuration.
            return Ok(Store::from_sdk_config(
                &intake::aws::load().await,
                var_or("TABLE_NAME", "intake-local"),
            ));
        }
        let sdk = operator_sdk(Duration::from_secs(60)).await;
        ready(&sdk).await?;
        let table = self
            .table_name(&sdk)
            .await?
            .ok_or("--stack or --table names the table")?;
        Ok(Store::from_sdk_config(&sdk, table))
    }
}

/// The caller's AWS environment, with timeouts for a person waiting (the functions' short
/// ones suit a webhook): `timeout` per call, long enough for an invocation of the
/// acknowledger when redriving.
pub async fn operator_sdk(timeout: Duration) -> aws_config::SdkConfig {
    use aws_config::timeout::TimeoutConfig;
    intake::aws::loader()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(timeout)
                .operation_timeout(timeout)
                .build(),
        )
        .load()
        .await
}

/// Fails in one line when the AWS environment has no region or no credentials, instead of
/// the SDK's chain of causes at the first call.
pub async fn ready(sdk: &aws_config::SdkConfig) -> DevResult<()> {
    use aws_sdk_cloudformation::config::ProvideCredentials;
    if sdk.region().is_none() {
        return Err(
            "no AWS region: set AWS_REGION (or a profile's region with AWS_PROFILE)".into(),
        );
    }
    let provider = sdk
        .credentials_provider()
        .ok_or("no AWS credentials provider")?;
    if let Err(e) = provider.provide_credentials().await {
        let hint = match std::env::var("AWS_PROFILE") {
            Ok(profile) => format!(
                "profile {profile} gives none (is it in ~/.aws/config? `aws sso login --profile \
                 {profile}` if it uses SSO)"
            ),
            Err(_) => "set AWS_PROFILE (after `aws sso login` if it uses SSO) or \
                       AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .to_owned(),
        };
        // No provider found any: the hint says it all. Otherwise (an expired SSO token, a
        // refused role) the provider's own explanation follows.
        let text = e.to_string();
        let detail = if text.contains("not enabled") {
            String::new()
        } else {
            format!(": {}", DisplayErrorContext(e))
        };
        return Err(format!("no AWS credentials: {hint}{detail}").into());
    }
    Ok(())
}

/// The output `name` of the CloudFormation stack `stack`, or an error naming what is
/// missing: the stack, or the output.
pub async fn stack_output(
    sdk: &aws_config::SdkConfig,
    stack: &str,
    name: &str,
) -> DevResult<String> {
    use aws_sdk_cloudformation::error::ProvideErrorMetadata;
    let out = match aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
    {
        Ok(out) => out,
        // CloudFormation's answer for a stack that does not exist.
        Err(e)
            if e.code() == Some("ValidationError")
                && e.message().is_some_and(|m| m.contains("does not exist")) =>
        {
            let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
            return Err(
                format!("no stack {stack} in {region} (check AWS_REGION or AWS_PROFILE)").into(),
            );
        }
        Err(e) => return Err(failed(format!("stack {stack}"))(e).into()),
    };
    out.stacks()
        .first()
        .into_iter()
        .flat_map(|s| s.outputs())
        .find(|o| o.output_key() == Some(name))
        .and_then(|o| o.output_value())
        .map(str::to_owned)
        .ok_or_else(|| {
            format!("stack {stack} has no {name} output (is it an Intake stack? give --table)")
                .into()
        })
}

/// What went wrong calling AWS about `what`, with the SDK's whole explanation.
pub fn failed<E: std::error::Error>(what: String) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {}", DisplayErrorContext(e))
}
