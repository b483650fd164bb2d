//! Why a webhook call was refused. Mapped to HTTP once, in [`crate::reply`].

use std::borrow::Cow;

use crate::store::StoreError;

/// Everything that can stop a webhook call. Each variant has one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No provider is served at this path.
    #[error("no provider is served at this path")]
    UnknownRoute,
    /// The method is not one this route accepts.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the route accepts, answered in the `Allow` header.
        allowed: &'static [&'static str],
    },
    /// The body is larger than the provider ever sends.
    #[error("body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The provider's limit in bytes.
        limit: usize,
    },
    /// The body is not in the format the provider sends.
    #[error("content type must be {expected}")]
    UnsupportedMediaType {
        /// What the provider sends.
        expected: &'static str,
    },
    /// The signature header is missing.
    #[error("missing signature header {0}")]
    MissingSignature(&'static str),
    /// The signature does not match the request.
    #[error("signature does not match")]
    BadSignature,
    /// HTTP Basic credentials missing or wrong (providers that sign nothing).
    #[error("missing or wrong credentials")]
    Unauthorized,
    /// A one-time token (Mailgun's) was already used for another request.
    #[error("token already used")]
    Replayed,
    /// The sender is not one this endpoint accepts (an SNS topic not configured).
    #[error("sender not accepted: {0}")]
    Forbidden(&'static str),
    /// A dependency other than the store (a certificate download, S3) failed: retry later.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// A subscription handshake with the wrong verify token.
    #[error("verify token does not match")]
    HandshakeRefused,
    /// The signed timestamp is outside the replay window.
    #[error("request timestamp is outside the accepted window")]
    Stale,
    /// The body could not be read.
    #[error("malformed body: {0}")]
    Malformed(String),
    /// A field the provider always sends is missing.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// The store could not be reached or refused the write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WebhookError {
    /// A stable machine-readable code for the JSON error body and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::UnknownRoute => "unknown_route",
            WebhookError::MethodNotAllowed { .. } => "method_not_allowed",
            WebhookError::PayloadTooLarge { .. } => "payload_too_large",
            WebhookError::UnsupportedMediaType { .. } => "unsupported_media_type",
            WebhookError::MissingSignature(_) => "missing_signature",
            WebhookError::BadSignature => "bad_signature",
            WebhookError::Stale => "stale_request",
            WebhookError::HandshakeRefused => "handshake_refused",
            WebhookError::Unauthorized => "unauthorized",
            WebhookError::Replayed => "replayed_request",
            WebhookError::Forbidden(_) => "forbidden",
            WebhookError::Unavailable(_) => "dependency_unavailable",
            WebhookError::Malformed(_) => "malformed_body",
            WebhookError::MissingField(_) => "missing_field",
            WebhookError::Store(e) if e.is_retryable() => "store_unavailable",
            WebhookError::Store(_) => "store_error",
        }
    }

    /// What the caller is told in the JSON body. A refusal (4xx) says what is wrong with the
    /// request, in the error's own words, which describe the request and never our insides.
    /// A failure (5xx) names only what failed: its detail (an SDK error with an internal
    /// address, an S3 or HTTPS failure) is for the log, never for whoever called.
    pub fn public_message(&self) -> Cow<'static, str> {
        match self {
            WebhookError::Store(e) if e.is_retryable() => {
                "the ticket store is unavailable, retry later".into()
            }
            WebhookError::Store(_) => "the ticket store could not save the message".into(),
            WebhookError::Unavailable(_) => {
                "a service this webhook depends on is unavailable, retry later".into()
            }
            // Any 5xx added later is told nothing more than this until it gets its own line.
            other if other.status() >= 500 => "internal error".into(),
            other => other.to_string().into(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::UnknownRoute => 404,
            WebhookError::MethodNotAllowed { .. } => 405,
            WebhookError::PayloadTooLarge { .. } => 413,
            WebhookError::UnsupportedMediaType { .. } => 415,
            WebhookError::MissingSignature(_)
            | WebhookError::BadSignature
            | WebhookError::Stale
            | WebhookError::HandshakeRefused
            | WebhookError::Replayed
            | WebhookError::Forbidden(_) => 403,
            WebhookError::Unauthorized => 401,
            WebhookError::Unavailable(_) => 503,
            WebhookError::Malformed(_) | WebhookError::MissingField(_) => 400,
            // 503 tells the provider to retry; the dedup key makes the retry harmless.
            WebhookError::Store(e) if e.is_retryable() => 503,
            WebhookError::Store(_) => 500,
        }
    }
}
