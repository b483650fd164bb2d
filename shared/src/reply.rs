//! What a webhook answers. The one place where errors become HTTP.

use crate::error::WebhookError;

/// An HTTP answer, independent of Lambda or hyper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: &'static str,
    /// Body text.
    pub body: String,
    /// Further headers, names in lower case: `allow` on a 405, `www-authenticate` on a 401.
    pub headers: Vec<(&'static str, String)>,
}

/// The challenge a 401 carries: the providers that sign nothing (SendGrid, Postmark) prove
/// themselves with HTTP Basic credentials in the webhook URL (RFC 7235 §3.1 wants one).
pub const BASIC_CHALLENGE: &str = r#"Basic realm="intake""#;

impl Reply {
    /// `200` with an empty JSON object.
    pub fn empty_ok() -> Reply {
        Reply::json(200, "{}".to_owned())
    }

    /// A JSON answer.
    pub fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
            headers: Vec::new(),
        }
    }

    /// A plain-text answer (handshakes echo a challenge this way).
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// An XML answer (Twilio expects TwiML).
    pub fn xml(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/xml",
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// The JSON error body `{"error": "...", "code": "..."}` with the error's status. The
    /// text is [`WebhookError::public_message`]: for a 5xx a fixed sentence, the detail being
    /// logged by the caller ([`crate::WebhookService::handle`]) and never sent.
    ///
    /// A 405 names the route's methods in `Allow` (RFC 9110 §15.5.6); a 401 carries the
    /// [`BASIC_CHALLENGE`] (RFC 9110 §15.5.2).
    pub fn from_error(err: &WebhookError) -> Reply {
        let body = serde_json::json!({ "error": err.public_message(), "code": err.code() });
        let reply = Reply::json(err.status(), body.to_string());
        match err {
            WebhookError::MethodNotAllowed { allowed } => {
                reply.with_header("allow", allowed.join(", "))
            }
            WebhookError::Unauthorized => reply.with_header("www-authenticate", BASIC_CHALLENGE),
            _ => reply,
        }
    }

    /// The same answer with one more header (`name` in lower case).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// The value of a further header, by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn errors_are_json_with_code_and_status() {
        let reply = Reply::from_error(&WebhookError::MissingField("From"));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.content_type, "application/json");
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(v["code"], "missing_field");
        assert_eq!(v["error"], "missing field From");
    }

    /// The JSON body of `err` as `(status, error, code)`, checking it has no other field.
    fn body_of(err: &WebhookError) -> (u16, String, String) {
        let reply = Reply::from_error(err);
        assert_eq!(reply.content_type, "application/json");
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{}", reply.body);
        (
            reply.status,
            v["error"].as_str().unwrap().to_owned(),
            v["code"].as_str().unwrap().to_owned(),
        )
    }

    /// What the AWS SDK and reqwest really put in their errors: addresses, ports, the
    /// dispatch layer's words. None of it may reach the caller of a 5xx.
    const INTERNALS: &str = "dispatch failure: io error: error trying to connect: tcp connect \
                             error: Connection refused (os error 111) to http://10.0.3.7:8000/";

    fn assert_no_internals(body: &str) {
        for leak in [
            "10.0.3.7", "8000", "dispatch", "connect", "os error", "http",
        ] {
            assert!(!body.contains(leak), "{leak:?} leaked into {body:?}");
        }
    }

    #[test]
    fn store_unavailable_names_the_store_only() {
        let err = WebhookError::Store(StoreError::Unavailable(INTERNALS.into()));
        let (status, error, code) = body_of(&err);
        assert_eq!(status, 503);
        assert_eq!(code, "store_unavailable");
        assert_eq!(error, "the ticket store is unavailable, retry later");
        assert_no_internals(&Reply::from_error(&err).body);
        // The detail is still there for the log line.
        assert!(err.to_string().contains("10.0.3.7"));
    }

    #[test]
    fn store_errors_that_are_not_retryable_say_nothing_of_dynamodb() {
        for inner in [
            StoreError::Rejected(format!("ValidationException: {INTERNALS}")),
            StoreError::Corrupt(format!("item TICKET#01J at {INTERNALS}")),
        ] {
            let err = WebhookError::Store(inner);
            let (status, error, code) = body_of(&err);
            assert_eq!(status, 500);
            assert_eq!(code, "store_error");
            assert_eq!(error, "the ticket store could not save the message");
            assert_no_internals(&Reply::from_error(&err).body);
        }
    }

    #[test]
    fn dependency_unavailable_does_not_say_which_host() {
        let err = WebhookError::Unavailable(format!("S3 read failed: {INTERNALS}"));
        let (status, error, code) = body_of(&err);
        assert_eq!(status, 503);
        assert_eq!(code, "dependency_unavailable");
        assert_eq!(
            error,
            "a service this webhook depends on is unavailable, retry later"
        );
        assert_no_internals(&Reply::from_error(&err).body);
    }

    #[test]
    fn a_405_names_the_methods_of_its_route() {
        for (channel, provider, allow) in [
            (crate::model::Channel::Sms, "twilio", "POST"),
            (crate::model::Channel::Social, "meta", "GET, POST"),
        ] {
            let allowed = crate::manifest::methods(channel, provider);
            let reply = Reply::from_error(&WebhookError::MethodNotAllowed { allowed });
            assert_eq!(reply.status, 405);
            assert_eq!(reply.header("allow"), Some(allow), "{provider}");
            assert_eq!(reply.headers.len(), 1);
            let (_, _, code) = body_of(&WebhookError::MethodNotAllowed { allowed });
            assert_eq!(code, "method_not_allowed");
        }
    }

    #[test]
    fn a_401_challenges_for_basic_credentials() {
        let reply = Reply::from_error(&WebhookError::Unauthorized);
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Basic realm="intake""#)
        );
        assert_eq!(reply.headers.len(), 1);
    }

    #[test]
    fn other_answers_carry_no_further_headers() {
        for err in [
            WebhookError::BadSignature,
            WebhookError::UnknownRoute,
            WebhookError::MissingField("From"),
            WebhookError::Store(StoreError::Unavailable(INTERNALS.into())),
        ] {
            assert!(Reply::from_error(&err).headers.is_empty(), "{err:?}");
        }
        assert!(Reply::empty_ok().headers.is_empty());
        assert!(Reply::xml(200, "<Response/>").headers.is_empty());
    }

    #[test]
    fn refusals_keep_their_helpful_message() {
        let (status, error, code) = body_of(&WebhookError::PayloadTooLarge { limit: 1024 });
        assert_eq!((status, code.as_str()), (413, "payload_too_large"));
        assert_eq!(error, "body is larger than 1024 bytes");
        let (status, error, _) = body_of(&WebhookError::Forbidden("SNS topic not configured"));
        assert_eq!(status, 403);
        assert_eq!(error, "sender not accepted: SNS topic not configured");
    }
}
