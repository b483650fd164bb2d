//! The HTTP client every provider API call goes through.

use std::sync::Arc;
use std::time::Duration;

/// The HTTP client for provider APIs: rustls, short timeouts (a slow provider is retried
/// through the stream rather than holding the function).
///
/// Its roots are Mozilla's, compiled in (`webpki-roots`), and checked as strictly as any
/// (rustls's WebPKI verifier: chain, name, validity). reqwest's default verifier reads the
/// system's certificate files when the client is built, and the AWS SDK's client has just
/// read them too: a second read of ~150 files was the largest part of every function's
/// cold start beyond a bare Lambda binary (BENCHMARKS.md, "Cold start").
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder();
    let builder = match compiled_in_roots_tls() {
        Ok(tls) => builder.use_preconfigured_tls(tls),
        // Unreachable with aws-lc-rs (it offers every default protocol version); reqwest's own
        // verifier is as strict, only slower to build.
        Err(_) => builder,
    };
    builder
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .https_only(false)
        .user_agent(concat!("intake/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// TLS 1.2 and 1.3 through aws-lc-rs (named, so no other provider enabled in the build can
/// make rustls pick one at run time), trusting Mozilla's root store.
fn compiled_in_roots_tls() -> Result<rustls::ClientConfig, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

#[cfg(test)]
#[path = "http_client_tests.rs"]
mod tests;
