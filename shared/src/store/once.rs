//! One-time tokens: a value a provider promises to use once (Mailgun's signing token), or an
//! action Intake must take once (confirming an SNS subscription).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use jiff::Timestamp;

use aws_sdk_dynamodb::types::ReturnValue;

use super::attrs::{n, s};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, classify};

/// What a one-time claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody held it: it is ours now.
    New,
    /// We held it already (the same fingerprint): a retry of the same request.
    Again,
    /// Another request holds it.
    Taken,
}

impl Claim {
    /// New or held by the same request.
    pub fn is_ours(self) -> bool {
        self != Claim::Taken
    }
}

impl Store {
    /// Claims `value` in `scope` for `fingerprint` until `ttl_seconds` from `now`.
    pub async fn claim_once(
        &self,
        scope: &str,
        value: &str,
        fingerprint: &str,
        now: Timestamp,
        ttl_seconds: i64,
    ) -> Result<Claim, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::once(scope, value)))
            .item(SK, s(keys::ONCE_SK))
            .item("type", s("once"))
            .item("fingerprint", s(fingerprint))
            .item(keys::EXPIRES_AT, n(now.as_second() + ttl_seconds))
            .condition_expression("attribute_not_exists(pk) OR fingerprint = :fingerprint")
            .expression_attribute_values(":fingerprint", s(fingerprint))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) if out.attributes().is_some_and(|a| !a.is_empty()) => Ok(Claim::Again),
            Ok(_) => Ok(Claim::New),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(Claim::Taken)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Gives a claim back, so the action it guarded can be tried again (it failed).
    pub async fn release_once(&self, scope: &str, value: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(keys::once(scope, value)))
            .key(SK, s(keys::ONCE_SK))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
