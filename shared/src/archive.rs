//! The archive of verified deliveries: a request that passed its provider's verification
//! but was not stored (a parse failure, a store outage, an internal error) is kept in S3 as
//! the exact bytes and headers, so that `intake replay` can run it again through fixed code.
//!
//! One JSON object per delivery ([`ArchivedDelivery`]) under
//! `archive/<yyyy>/<mm>/<dd>/<channel>/<provider>/<id>.json`. A request that failed
//! verification is never archived: it could be anything.

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::Channel;
use crate::request::WebhookRequest;

/// The key prefix of every archived delivery.
pub const PREFIX: &str = "archive/";

/// Headers never kept: a cookie is no part of any signature.
const DROPPED_HEADERS: [&str; 1] = ["cookie"];

/// Why the archive could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// S3 refused or could not be reached.
    #[error("S3 {operation} failed: {detail}")]
    S3 {
        /// `PutObject`, `ListObjectsV2`, `GetObject`.
        operation: &'static str,
        /// The SDK's error.
        detail: String,
    },
    /// An object that is not an archived delivery.
    #[error("{key} is not an archived delivery: {detail}")]
    Decode {
        /// The object key.
        key: String,
        /// What was wrong.
        detail: String,
    },
    /// No archived delivery has this id.
    #[error("no archived delivery has the id {0}")]
    NotFound(String),
}

/// One archived delivery: the request as the provider sent it, and how it was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedDelivery {
    /// ULID of the archive entry.
    pub id: String,
    /// When the request was received (the time its signature is verified at on replay).
    pub time: Timestamp,
    /// `sms`, `email`, `social`.
    pub channel: Channel,
    /// The provider of the route (`twilio`).
    pub provider: String,
    /// HTTP method.
    pub method: String,
    /// Path as received.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Every header but `cookie`, in order (a name may repeat).
    pub headers: Vec<(String, String)>,
    /// The raw body, base64.
    pub body: String,
    /// The status it was answered with.
    pub status: u16,
    /// The error code it was answered with (`None`: stored, kept by `ARCHIVE_ALL`).
    pub code: Option<String>,
}

impl ArchivedDelivery {
    /// The entry of `req`, received at `time` on `channel`'s `provider` route.
    pub fn of(
        req: &WebhookRequest,
        time: Timestamp,
        channel: Channel,
        provider: &str,
        status: u16,
        code: Option<&str>,
    ) -> ArchivedDelivery {
        let headers = req
            .headers
            .iter()
            .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        ArchivedDelivery {
            id: ulid::Ulid::new().to_string(),
            time,
            channel,
            provider: provider.to_owned(),
            method: req.method.as_str().to_owned(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers,
            body: STANDARD.encode(&req.body),
            status,
            code: code.map(str::to_owned),
        }
    }

    /// The object key: `archive/<yyyy>/<mm>/<dd>/<channel>/<provider>/<id>.json` (UTC).
    pub fn key(&self) -> String {
        format!(
            "{}{}/{}/{}.json",
            day_prefix(utc_day(self.time)),
            self.channel,
            self.provider,
            self.id
        )
    }

    /// The request again, byte for byte (a header that no longer parses is left out).
    pub fn request(&self) -> Result<WebhookRequest, ArchiveError> {
        let decode = |detail: String| ArchiveError::Decode {
            key: self.key(),
            detail,
        };
        let method =
            Method::from_bytes(self.method.as_bytes()).map_err(|e| decode(e.to_string()))?;
        let body = STANDARD
            .decode(&self.body)
            .map_err(|e| decode(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        Ok(WebhookRequest::new(
            method,
            self.path.clone(),
            self.query.clone(),
            headers,
            Bytes::from(body),
        ))
    }
}

/// The day (UTC) of `time`, which names its deliveries' key prefix.
fn utc_day(time: Timestamp) -> jiff::civil::Date {
    time.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// The key prefix of one day's deliveries: `archive/<yyyy>/<mm>/<dd>/`.
fn day_prefix(day: jiff::civil::Date) -> String {
    format!("{PREFIX}{}/", day.strftime("%Y/%m/%d"))
}

/// The key prefixes of the days (UTC) from `since`'s to `until`'s, both included (one,
/// when `since` is later).
fn day_prefixes(since: Timestamp, until: Timestamp) -> Vec<String> {
    let mut day = utc_day(since);
    let last = utc_day(until);
    let mut out = vec![day_prefix(day)];
    while day < last {
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
        out.push(day_prefix(day));
    }
    out
}

/// The id and provider of an archive key of the form [`ArchivedDelivery::key`] writes, and
/// `None` for any other key: a replay reads nothing else from the bucket.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = key.strip_prefix(PREFIX)?.split('/').collect();
    let [year, month, day, channel, provider, file] = parts[..] else {
        return None;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let id = file.strip_suffix(".json")?;
    let named = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let ulid = id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    (digits(year, 4)
        && digits(month, 2)
        && digits(day, 2)
        && Channel::ALL.iter().any(|c| c.as_str() == channel)
        && named(provider)
        && ulid)
        .then_some((id, provider))
}

/// An S3 call's error as an [`ArchiveError`], with the SDK's whole explanation.
fn s3_error<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> ArchiveError {
    move |e| ArchiveError::S3 {
        operation,
        detail: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
    }
}

/// Where verified deliveries are archived: a bucket, and whether stored ones are kept too.
#[derive(Debug, Clone)]
pub struct Archive {
    client: aws_sdk_s3::Client,
    bucket: String,
    all: bool,
}

impl Archive {
    /// The archive in `bucket`, through `endpoint` when given (a local S3 server: path-style
    /// addressing). `all`: keep every verified delivery that was stored too (`ARCHIVE_ALL`).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        bucket: impl Into<String>,
        endpoint: Option<&str>,
        all: bool,
    ) -> Archive {
        let mut builder = aws_sdk_s3::config::Builder::from(sdk);
        if crate::aws_calls::enabled() {
            builder = builder.interceptor(crate::aws_calls::CallRecorder);
        }
        if let Some(endpoint) = endpoint {
            builder = builder
                .endpoint_url(endpoint.trim_end_matches('/'))
                .force_path_style(true);
        }
        Archive {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: bucket.into(),
            all,
        }
    }

    /// Whether stored deliveries are archived too.
    pub fn keeps_all(&self) -> bool {
        self.all
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Writes one delivery.
    pub async fn put(&self, delivery: &ArchivedDelivery) -> Result<(), ArchiveError> {
        let body = serde_json::to_vec(delivery).map_err(|e| ArchiveError::Decode {
            key: delivery.key(),
            detail: e.to_string(),
        })?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(delivery.key())
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(s3_error("PutObject"))?;
        Ok(())
    }

    /// Every archived delivery received at or after `since` (all when `None`), oldest first.
    /// With `since`, only the day prefixes from its day (UTC) to today are listed.
    pub async fn list(
        &self,
        since: Option<Timestamp>,
    ) -> Result<Vec<ArchivedDelivery>, ArchiveError> {
        let keys = match since {
            None => self.keys(PREFIX).await?,
            Some(since) => {
                let mut keys = Vec::new();
                for prefix in day_prefixes(since, Timestamp::now()) {
                    keys.extend(self.keys(&prefix).await?);
                }
                keys
            }
        };
        let mut out = Vec::new();
        for key in keys {
            let delivery = self.read(&key).await?;
            if since.is_none_or(|since| delivery.time >= since) {
                out.push(delivery);
            }
        }
        out.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        Ok(out)
    }

    /// The archived delivery with this id: looked for under the day its ULID was made
    /// (the receive time), else everywhere.
    pub async fn get(&self, id: &str) -> Result<ArchivedDelivery, ArchiveError> {
        let suffix = format!("/{id}.json");
        let made = ulid::Ulid::from_string(id)
            .ok()
            .and_then(|u| Timestamp::from_millisecond(u.timestamp_ms() as i64).ok());
        let prefixes = made.map(|t| day_prefix(utc_day(t))).into_iter();
        for prefix in prefixes.chain([PREFIX.to_owned()]) {
            let keys = self.keys(&prefix).await?;
            if let Some(key) = keys.into_iter().find(|k| k.ends_with(&suffix)) {
                return self.read(&key).await;
            }
        }
        Err(ArchiveError::NotFound(id.to_owned()))
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, ArchiveError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(s3_error("ListObjectsV2"))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// The archived delivery stored under `key`.
    pub async fn read(&self, key: &str) -> Result<ArchivedDelivery, ArchiveError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_error("GetObject"))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| ArchiveError::S3 {
                operation: "GetObject",
                detail: e.to_string(),
            })?
            .into_bytes();
        serde_json::from_slice(&bytes).map_err(|e| ArchiveError::Decode {
            key: key.to_owned(),
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_round_trips_without_its_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert("x-twilio-signature", HeaderValue::from_static("c2ln"));
        headers.insert("cookie", HeaderValue::from_static("session=secret"));
        let req = WebhookRequest::new(
            Method::POST,
            "/sms/twilio",
            Some("a=1".into()),
            headers,
            Bytes::from_static(b"MessageSid=SM-1&Body=x"),
        );
        let time: Timestamp = "2026-11-30T03:04:05Z".parse().unwrap();
        let entry = ArchivedDelivery::of(
            &req,
            time,
            Channel::Sms,
            "twilio",
            400,
            Some("malformed_body"),
        );
        assert!(entry.key().starts_with("archive/2026/11/30/sms/twilio/"));
        assert!(entry.key().ends_with(&format!("{}.json", entry.id)));
        let json = serde_json::to_string(&entry).unwrap();
        assert!(!json.contains("secret"));
        let back: ArchivedDelivery = serde_json::from_str(&json).unwrap();
        let again = back.request().unwrap();
        assert_eq!(again.body, req.body);
        assert_eq!(again.query.as_deref(), Some("a=1"));
        assert_eq!(again.header("x-twilio-signature"), Some("c2ln"));
        assert_eq!(again.header("cookie"), None);
        assert_eq!(parse_key(&entry.key()), Some((entry.id.as_str(), "twilio")));
    }

    #[test]
    fn since_lists_the_days_from_its_own_to_today() {
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        assert_eq!(
            day_prefixes(at("2026-11-29T23:30:00Z"), at("2026-12-01T00:10:00Z")),
            [
                "archive/2026/11/29/",
                "archive/2026/11/30/",
                "archive/2026/12/01/"
            ]
        );
        assert_eq!(
            day_prefixes(at("2026-11-30T08:00:00Z"), at("2026-11-30T09:00:00Z")),
            ["archive/2026/11/30/"]
        );
        assert_eq!(
            day_prefixes(at("2026-12-02T08:00:00Z"), at("2026-11-30T09:00:00Z")),
            ["archive/2026/12/02/"]
        );
    }

    #[test]
    fn only_keys_of_the_archive_form_are_read() {
        let id = "01JDAB0C1D2E3F4G5H6J7K8M9N";
        let good = format!("archive/2026/11/30/email/ses/{id}.json");
        assert_eq!(parse_key(&good), Some((id, "ses")));
        for bad in [
            format!("inbound/2026/11/30/email/ses/{id}.json"),
            format!("archive/2026/11/30/fax/ses/{id}.json"),
            format!("archive/2026/11/30/email/../{id}.json"),
            format!("archive/2026/11/30/email/ses/x/{id}.json"),
            format!("archive/2026/1/30/email/ses/{id}.json"),
            format!("archive/2026/11/30/email/ses/{id}.txt"),
            "archive/2026/11/30/email/ses/short.json".to_owned(),
            "archive/".to_owned(),
        ] {
            assert_eq!(parse_key(&bad), None, "{bad}");
        }
    }
}
