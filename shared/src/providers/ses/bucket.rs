//! Mail a receipt rule stored in S3 (the S3 action: mail larger than SNS carries inline).

use crate::config::SesConfig;
use crate::error::WebhookError;
use crate::providers::Clients;

/// Reads mail a receipt rule stored in S3.
pub struct MailBucket {
    client: aws_sdk_s3::Client,
}

impl MailBucket {
    /// An S3 client from the shared configuration (path-style on a local endpoint).
    pub fn new(config: &SesConfig, clients: &Clients) -> MailBucket {
        let mut builder = aws_sdk_s3::config::Builder::from(&clients.aws);
        if let Some(endpoint) = &config.s3_endpoint {
            builder = builder
                .endpoint_url(endpoint.as_str().trim_end_matches('/'))
                .force_path_style(true);
        }
        if crate::aws_calls::enabled() {
            builder = builder.interceptor(crate::aws_calls::CallRecorder);
        }
        MailBucket {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
        }
    }

    /// The mail's bytes; a failure is temporary (SNS retries), a missing object is not.
    pub async fn fetch(&self, bucket: &str, key: &str) -> Result<Vec<u8>, WebhookError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => {
                    WebhookError::Malformed("the notified S3 object does not exist".into())
                }
                _ => WebhookError::Unavailable(format!(
                    "S3 GetObject failed: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )),
            })?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| WebhookError::Unavailable(format!("S3 read failed: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }
}
