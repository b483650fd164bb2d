//! AWS SDK configuration, loaded once per cold start.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// Loads the shared SDK configuration from the environment (region, credentials and the
/// per-service endpoint overrides such as `AWS_ENDPOINT_URL_DYNAMODB`).
///
/// Timeouts are short on purpose: a webhook answers its provider within seconds, and a
/// DynamoDB that does not answer is better reported as 503 (the provider retries) than
/// waited on until the provider gives up.
pub async fn load() -> aws_config::SdkConfig {
    loader().load().await
}

/// The loader behind [`load`], for tools that set region, credentials or endpoint
/// themselves (the local stack).
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(6))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
}
