//! Reading JSON webhook bodies, shared by the JSON providers. Errors say where, never what:
//! the body is customer text, and serde's messages quote the values they reject.

use serde_json::{Map, Value};

use crate::error::WebhookError;

/// A JSON decoding error as a 400 that names the kind and position only.
pub(crate) fn malformed(e: serde_json::Error) -> WebhookError {
    WebhookError::Malformed(format!(
        "invalid JSON ({:?} error at line {} column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}

/// The body as one JSON object.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, WebhookError> {
    match serde_json::from_slice::<Value>(body).map_err(malformed)? {
        Value::Object(map) => Ok(map),
        _ => Err(WebhookError::Malformed(
            "the body is not a JSON object".into(),
        )),
    }
}

/// A field as text, when it is a string.
pub(crate) fn string(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}
