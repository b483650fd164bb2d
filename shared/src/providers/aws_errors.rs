//! How a send through an AWS SDK failed, for every provider that sends with one (SES v2,
//! End User Messaging SMS): throttling, server errors and an unreachable endpoint come back
//! through the stream; everything else the service says no to will not change by retrying
//! and is stored with its code and reason.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::SendError;

/// Error codes that mean "later", across AWS services.
fn retryable_code(code: &str) -> bool {
    code.contains("Throttl")
        || matches!(
            code,
            "InternalFailure"
                | "InternalServerException"
                | "ServiceUnavailable"
                | "TooManyRequestsException"
                | "LimitExceededException"
        )
}

/// `err` of a send to `service` (named in the reason) as a [`SendError`].
pub(crate) fn classify<E, R>(service: &str, err: SdkError<E, R>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(failure) => {
            let e = failure.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let reason = e.message().unwrap_or_default().to_owned();
            if retryable_code(&code) {
                SendError::Retryable(format!("{code}: {reason}"))
            } else {
                SendError::Permanent { code, reason }
            }
        }
        SdkError::ResponseError(r) if format!("{r:?}").contains("status: 5") => {
            SendError::Retryable(format!("{service} answered a server error"))
        }
        _ => SendError::Retryable(format!(
            "{service} unreachable: {}",
            DisplayErrorContext(&err)
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn later_is_throttling_and_server_trouble_only() {
        for code in [
            "ThrottlingException",
            "Throttling",
            "InternalFailure",
            "InternalServerException",
            "TooManyRequestsException",
            "LimitExceededException",
        ] {
            assert!(super::retryable_code(code), "{code}");
        }
        for code in [
            "ValidationException",
            "ConflictException",
            "AccessDeniedException",
            "MessageRejected",
            "ResourceNotFoundException",
        ] {
            assert!(!super::retryable_code(code), "{code}");
        }
    }
}
