//! `intake replay --stack NAME`: a deployed stack's archive, listed with the operator's own
//! credentials, and each delivery replayed by invoking the deployed webhook function of its
//! channel with a [`ReplayInvocation`], so the replay runs the deployed code with the
//! deployed permissions (the function reads the object itself: it is given only the key).

use intake::Channel;
use intake::archive::{Archive, ArchivedDelivery};
use intake::replay::{ReplayInvocation, ReplayReport};

use crate::DevResult;
use crate::target::{failed, stack_output};

/// The stack output naming the archive bucket.
pub const ARCHIVE_BUCKET_OUTPUT: &str = "ArchiveBucketName";

/// The stack output naming `channel`'s webhook function (`SmsWebhookFunctionName`).
pub fn function_output(channel: Channel) -> String {
    let name = channel.as_str();
    let mut pascal = name[..1].to_uppercase();
    pascal.push_str(&name[1..]);
    format!("{pascal}WebhookFunctionName")
}

/// A deployed stack's archive and webhook functions.
pub struct Deployment {
    /// The archive, read with the operator's credentials.
    pub archive: Archive,
    lambda: aws_sdk_lambda::Client,
    functions: Vec<(Channel, String)>,
}

impl Deployment {
    /// The deployment of `stack`: its `ArchiveBucketName` output, and each channel's
    /// `<Channel>WebhookFunctionName` output (a stack without one cannot replay that
    /// channel's deliveries).
    pub async fn of_stack(sdk: &aws_config::SdkConfig, stack: &str) -> DevResult<Deployment> {
        let bucket = stack_output(sdk, stack, ARCHIVE_BUCKET_OUTPUT).await?;
        let mut functions = Vec::new();
        for channel in Channel::ALL {
            if let Ok(function) = stack_output(sdk, stack, &function_output(channel)).await {
                functions.push((channel, function));
            }
        }
        Ok(Deployment {
            // An endpoint of the operator's own (AWS_ENDPOINT_URL: a proxy, an emulator) is
            // addressed path-style, which S3 still serves; AWS's own virtual-host style.
            archive: Archive::new(sdk, bucket, sdk.endpoint_url(), false),
            lambda: aws_sdk_lambda::Client::new(sdk),
            functions,
        })
    }

    /// Replays `delivery` by invoking its channel's function and reading its report. A
    /// failed invocation is reported failing (`invoke_failed`), its cause on stderr.
    pub async fn replay(&self, delivery: &ArchivedDelivery) -> ReplayReport {
        let failing = |status, code| ReplayReport::not_replayed(delivery, status, code);
        let function = self.functions.iter().find(|(c, _)| *c == delivery.channel);
        let Some((_, function)) = function else {
            return failing(404, "unknown_route");
        };
        match self.invoke(function, delivery).await {
            Ok(report) => report,
            Err(err) => {
                eprintln!("{}: {err}", delivery.id);
                failing(502, "invoke_failed")
            }
        }
    }

    async fn invoke(&self, function: &str, delivery: &ArchivedDelivery) -> DevResult<ReplayReport> {
        let payload = serde_json::to_vec(&ReplayInvocation::of(delivery))?;
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(failed(format!("invoking {function}")))?;
        if let Some(error) = out.function_error() {
            return Err(format!("{function} failed ({error}); see its logs in CloudWatch").into());
        }
        let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
        serde_json::from_slice(body).map_err(|e| {
            format!(
                "{function} did not answer with a replay report ({e}): is it older than this CLI?"
            )
            .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_outputs_are_named_after_the_channel() {
        assert_eq!(function_output(Channel::Sms), "SmsWebhookFunctionName");
        assert_eq!(function_output(Channel::Email), "EmailWebhookFunctionName");
        assert_eq!(
            function_output(Channel::Social),
            "SocialWebhookFunctionName"
        );
    }
}
