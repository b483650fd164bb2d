//! Reading a cancelled transaction: which item's condition failed decides whether the message
//! was a retry (duplicate), its ticket closed meanwhile, someone else moved first (read
//! again), or the store failed (5xx, the provider retries).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use super::plan::Role;
use crate::store::{StoreError, classify};

/// How a cancelled transaction should continue.
pub(super) enum Next {
    Duplicate,
    TicketClosed,
    Retry,
    Fail(StoreError),
}

/// What to do after `err`, given the role of each item of the cancelled transaction.
pub(super) fn after_cancel(
    err: SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
    roles: &[Role],
) -> Next {
    let reasons: Vec<Option<String>> = match &err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => e
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().map(str::to_owned))
                .collect(),
            _ => return Next::Fail(classify(err)),
        },
        _ => return Next::Fail(classify(err)),
    };
    let failed = |role: Role, code: &str| {
        roles
            .iter()
            .zip(&reasons)
            .any(|(r, c)| *r == role && c.as_deref() == Some(code))
    };
    if failed(Role::Dedup, "ConditionalCheckFailed") {
        return Next::Duplicate;
    }
    if reasons
        .iter()
        .flatten()
        .any(|c| c == "ThrottlingError" || c == "ProvisionedThroughputExceeded")
    {
        return Next::Fail(StoreError::Unavailable("throttled".into()));
    }
    if failed(Role::Ticket, "ConditionalCheckFailed") && roles.contains(&Role::Reference) {
        // A new ticket id collided: astronomically unlikely, but a fresh id fixes it.
        return Next::Retry;
    }
    if failed(Role::Ticket, "ConditionalCheckFailed") {
        return Next::TicketClosed;
    }
    if failed(Role::Contact, "ConditionalCheckFailed")
        || failed(Role::Reference, "ConditionalCheckFailed")
        || reasons.iter().flatten().any(|c| c == "TransactionConflict")
    {
        return Next::Retry;
    }
    Next::Fail(StoreError::Rejected(format!(
        "transaction cancelled: {reasons:?}"
    )))
}
