//! The DynamoDB single-table store. See `DESIGN.md` for the item layout.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

mod ack;
mod attrs;
mod customer;
mod image;
mod ingest;
pub mod keys;
mod once;
mod read;
mod stale;

pub use ack::{AckRecord, SentAck};
pub use customer::Customer;
pub use image::ticket_from_image;
pub use read::{AckReads, phone_contact_keys};
pub use stale::{INTERRUPTED, StaleClaim};
pub mod schema;

pub use ingest::{IngestOutcome, IngestPlan, Role, Target, plan};
pub use once::Claim;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB is unreachable, throttling, or too contended right now: try again later.
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB refused the request as invalid (a bug, not a transient condition).
    #[error("DynamoDB rejected the request: {0}")]
    Rejected(String),
    /// An item does not have the shape Intake writes.
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// The kind of failure, for logs: the error's text may quote keys or values (a phone
    /// number in a contact's key), its kind never does.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Rejected(_) => "rejected",
            StoreError::Corrupt(_) => "corrupt",
        }
    }
}

/// Error codes DynamoDB uses for conditions that pass on their own.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Sorts an SDK failure into retryable or not.
pub(crate) fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown");
            let text = format!("{code}: {}", e.message().unwrap_or_default());
            if TRANSIENT_CODES.contains(&code) {
                StoreError::Unavailable(text)
            } else {
                StoreError::Rejected(text)
            }
        }
        // Timeouts, connection refused, unreadable responses: all transient.
        _ => {
            StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string())
        }
    }
}

/// The ticket table, with its client built once per cold start.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    /// A store on `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store {
            client,
            table: table.into(),
        }
    }

    /// A store from the shared SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Store {
        let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
        if crate::aws_calls::enabled() {
            config = config.interceptor(crate::aws_calls::CallRecorder);
        }
        Store::new(Client::from_conf(config.build()), table)
    }

    /// The DynamoDB client (for tools and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }
}
