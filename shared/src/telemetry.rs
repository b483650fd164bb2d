//! Structured JSON logs for CloudWatch, configured once per process.

use std::str::FromStr;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON log subscriber. The level comes from `RUST_LOG` (default `info`).
/// Message bodies and addresses are never logged above `debug`.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .finish()
        .with(level_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .try_init();
}

/// `RUST_LOG` read as levels per target (`info`, `info,aws=warn`, `intake=debug`), which is
/// all a function's log level ever is (the templates set one level). `tracing_subscriber`'s
/// `EnvFilter` reads span and field filters too, through a regex engine: about 200 KB of every
/// binary for nothing a deployment uses. A setting this cannot read means `info`.
fn level_filter(setting: Option<&str>) -> Targets {
    setting
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| Targets::from_str(s).ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::level_filter;
    use tracing::Level;

    #[test]
    fn a_level_per_target_is_read_as_rust_log_says() {
        let filter = level_filter(Some("info,aws_config=warn"));
        assert!(filter.would_enable("intake::webhook", &Level::INFO));
        assert!(!filter.would_enable("intake::webhook", &Level::DEBUG));
        assert!(!filter.would_enable("aws_config::profile", &Level::INFO));
        assert!(filter.would_enable("aws_config::profile", &Level::WARN));
        // A prefix names every crate it starts (`aws` for `aws_config`, `aws_smithy_runtime`...),
        // as the local stack's `info,aws=warn` relies on.
        let filter = level_filter(Some("info,aws=warn"));
        assert!(!filter.would_enable("aws_smithy_runtime::client", &Level::INFO));
        assert!(filter.would_enable("intake", &Level::INFO));
        let filter = level_filter(Some("debug"));
        assert!(filter.would_enable("intake::ack", &Level::DEBUG));
    }

    #[test]
    fn no_setting_an_empty_one_or_one_it_cannot_read_means_info() {
        for setting in [None, Some(""), Some("  "), Some("info,=nonsense=")] {
            let filter = level_filter(setting);
            assert!(filter.would_enable("intake", &Level::INFO), "{setting:?}");
            assert!(!filter.would_enable("intake", &Level::DEBUG), "{setting:?}");
        }
    }
}
