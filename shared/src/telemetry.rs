//! Structured JSON logs for CloudWatch, configured once per process.

/// Installs the JSON log subscriber. The level comes from `RUST_LOG` (default `info`).
/// Message bodies and addresses are never logged above `debug`.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}
