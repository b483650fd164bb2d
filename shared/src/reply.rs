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
}

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
        }
    }

    /// A plain-text answer (handshakes echo a challenge this way).
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    /// An XML answer (Twilio expects TwiML).
    pub fn xml(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/xml",
            body: body.into(),
        }
    }

    /// The JSON error body `{"error": "...", "code": "..."}` with the error's status.
    pub fn from_error(err: &WebhookError) -> Reply {
        let body = serde_json::json!({ "error": err.to_string(), "code": err.code() });
        Reply::json(err.status(), body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_json_with_code_and_status() {
        let reply = Reply::from_error(&WebhookError::MissingField("From"));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.content_type, "application/json");
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(v["code"], "missing_field");
        assert_eq!(v["error"], "missing field From");
    }
}
