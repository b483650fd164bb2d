//! An HTTP request as a provider sent it: what every provider verifies and reads. It sits
//! below both the providers and the webhook pipeline that routes to them, so the arrows run
//! one way (webhook → providers → request).

use bytes::Bytes;
use http::{HeaderMap, Method};
use std::borrow::Cow;

use crate::error::WebhookError;

/// An HTTP request as a provider sent it, independent of Lambda or hyper.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// HTTP method.
    pub method: Method,
    /// Request path as received (a stage prefix may precede `/{channel}/{provider}`).
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body bytes (already base64-decoded by the Lambda adapter).
    pub body: Bytes,
    /// The URL the provider called, rebuilt from `PUBLIC_BASE_URL`; set by the router.
    pub public_url: String,
}

impl WebhookRequest {
    /// A request with no public URL yet (the router fills it in).
    pub fn new(
        method: Method,
        path: impl Into<String>,
        query: Option<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> WebhookRequest {
        WebhookRequest {
            method,
            path: path.into(),
            query: query.filter(|q| !q.is_empty()),
            headers,
            body,
            public_url: String::new(),
        }
    }

    /// A header as text; `None` when absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Refuses a body that is not of the `expected` media type (415).
    pub fn require_media_type(&self, expected: &'static str) -> Result<(), WebhookError> {
        if self.media_type().as_deref() == Some(expected) {
            Ok(())
        } else {
            Err(WebhookError::UnsupportedMediaType { expected })
        }
    }

    /// The media type of the body, lower-cased and without parameters (borrowed from the
    /// header when it is lower case already, as providers send it).
    pub fn media_type(&self) -> Option<Cow<'_, str>> {
        self.header("content-type").map(|ct| {
            let media_type = ct.split(';').next().unwrap_or("").trim();
            if media_type.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(media_type.to_ascii_lowercase())
            } else {
                Cow::Borrowed(media_type)
            }
        })
    }
}
