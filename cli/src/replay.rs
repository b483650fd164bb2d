//! `intake replay`: the archive of verified deliveries the local stack did not store
//! ([`intake::archive`]), listed and run again through the current code.
//!
//! The local stack archives only when asked: `ARCHIVE_BUCKET` with `ARCHIVE_ENDPOINT_URL`, a
//! loopback S3 server (moto in server mode: `.venv/bin/moto_server -p 5000`). The endpoint
//! is separate from `AWS_ENDPOINT_URL_S3`, which points SES's mail bucket at the recorder.

use intake::WebhookService;
use intake::archive::{Archive, ArchivedDelivery};
use intake::replay::ReplayReport;
use jiff::Timestamp;

use crate::DevResult;

/// The local archive: a bucket on a loopback S3 server.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// `ARCHIVE_BUCKET`.
    pub bucket: String,
    /// `ARCHIVE_ENDPOINT_URL` (loopback only).
    pub endpoint: url::Url,
    /// `ARCHIVE_ALL=true`: keep stored deliveries too.
    pub all: bool,
}

impl ArchiveOptions {
    /// From `ARCHIVE_BUCKET`, `ARCHIVE_ENDPOINT_URL` and `ARCHIVE_ALL`; `None` without a
    /// bucket. An endpoint that is not loopback is refused: this is a local setting only.
    pub fn from_env() -> DevResult<Option<ArchiveOptions>> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let Some(bucket) = var("ARCHIVE_BUCKET") else {
            return Ok(None);
        };
        let endpoint = var("ARCHIVE_ENDPOINT_URL").ok_or(
            "ARCHIVE_BUCKET is set but ARCHIVE_ENDPOINT_URL is not: the local archive needs a \
             local S3 server (e.g. `.venv/bin/moto_server -p 5000`, then \
             ARCHIVE_ENDPOINT_URL=http://127.0.0.1:5000)",
        )?;
        ArchiveOptions::new(
            &bucket,
            &endpoint,
            var("ARCHIVE_ALL").as_deref() == Some("true"),
        )
        .map(Some)
    }

    /// The archive in `bucket` on `endpoint`, refused unless the endpoint is loopback.
    pub fn new(bucket: &str, endpoint: &str, all: bool) -> DevResult<ArchiveOptions> {
        let endpoint = url::Url::parse(endpoint)?;
        if !intake::config::is_loopback(&endpoint) {
            return Err(format!(
                "ARCHIVE_ENDPOINT_URL must be a loopback address (127.0.0.0/8, ::1 or \
                 localhost), not {endpoint}: it is for a local S3 server only"
            )
            .into());
        }
        Ok(ArchiveOptions {
            bucket: bucket.to_owned(),
            endpoint,
            all,
        })
    }

    /// The archive, its bucket created when missing.
    pub async fn open(&self, sdk: &aws_config::SdkConfig) -> DevResult<Archive> {
        let endpoint = self.endpoint.as_str().trim_end_matches('/');
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .endpoint_url(endpoint)
                .force_path_style(true)
                .build(),
        );
        if s3.head_bucket().bucket(&self.bucket).send().await.is_err() {
            s3.create_bucket()
                .bucket(&self.bucket)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "cannot create the archive bucket {} at {endpoint}: {}",
                        self.bucket,
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    )
                })?;
        }
        Ok(Archive::new(sdk, &self.bucket, Some(endpoint), self.all))
    }
}

/// Which archived deliveries `list` and `run --since` take.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Received at or after.
    pub since: Option<Timestamp>,
    /// Of this provider (`twilio`).
    pub provider: Option<String>,
    /// Answered with this error code (`malformed_body`, `store_unavailable`).
    pub error: Option<String>,
}

impl Filter {
    fn keeps(&self, d: &ArchivedDelivery) -> bool {
        self.provider.as_ref().is_none_or(|p| *p == d.provider)
            && self
                .error
                .as_ref()
                .is_none_or(|e| Some(e) == d.code.as_ref())
    }
}

/// The archived deliveries `filter` keeps, oldest first.
pub async fn list(archive: &Archive, filter: &Filter) -> DevResult<Vec<ArchivedDelivery>> {
    let all = archive.list(filter.since).await?;
    Ok(all.into_iter().filter(|d| filter.keeps(d)).collect())
}

/// Runs each delivery again through the service of its channel among `services`, verified
/// at its archived receive time. A delivery whose channel is not served fails with
/// `unknown_route`.
pub async fn run(
    services: &[WebhookService],
    deliveries: &[ArchivedDelivery],
) -> Vec<ReplayReport> {
    let mut reports = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let report = match services.iter().find(|s| s.channel() == d.channel) {
            Some(service) => intake::replay::replay(service, d).await,
            None => ReplayReport::not_replayed(d, 404, "unknown_route"),
        };
        reports.push(report);
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_endpoint_must_be_loopback() {
        for local in [
            "http://127.0.0.1:5000",
            "http://localhost:5000",
            "http://[::1]:5000",
        ] {
            assert!(ArchiveOptions::new("b", local, false).is_ok(), "{local}");
        }
        for remote in ["https://s3.amazonaws.com", "http://10.0.0.5:5000"] {
            let err = ArchiveOptions::new("b", remote, false).unwrap_err();
            assert!(err.to_string().contains("loopback"), "{remote}: {err}");
        }
    }
}
