//! MessageBird / Bird inbound SMS, signed as each platform signs them, for
//! `intake simulate messagebird` and the tests.

use intake::providers::messagebird;
use jiff::Timestamp;

use crate::DevResult;

/// The Bird SMS channel of local and test stacks (Bird names our side by channel id).
pub const BIRD_CHANNEL_ID: &str = "614208aa-b153-4d5d-9989-2fddfc0ce4c3";

/// Which platform delivers the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    /// Legacy MessageBird: a form POST signed with `MessageBird-Signature-JWT`.
    Legacy,
    /// Bird: an `sms.inbound` event signed with `messagebird-signature`.
    Bird,
}

/// An inbound SMS through MessageBird or Bird.
#[derive(Debug, Clone)]
pub struct MessageBirdSms {
    /// The customer's number (written without `+` by legacy MessageBird, with it by Bird).
    pub from: String,
    /// Our number (legacy) or Bird channel id (Bird).
    pub to: String,
    /// Text.
    pub body: String,
    /// The message id; a fresh one of the platform's shape when `None`.
    pub id: Option<String>,
}

impl MessageBirdSms {
    /// A text message with a fresh id.
    pub fn new(from: &str, to: &str, body: &str) -> MessageBirdSms {
        MessageBirdSms {
            from: from.into(),
            to: to.into(),
            body: body.into(),
            id: None,
        }
    }

    /// The form legacy MessageBird forwards a received SMS with (its id is 32 hex digits).
    pub fn legacy_form(&self, now: Timestamp) -> String {
        let id = self
            .id
            .clone()
            .unwrap_or_else(|| format!("{:032x}", ulid::Ulid::new().0));
        form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &id)
            .append_pair("recipient", self.to.trim_start_matches('+'))
            .append_pair("originator", self.from.trim_start_matches('+'))
            .append_pair("body", &self.body)
            .append_pair(
                "createdDatetime",
                &now.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            )
            .finish()
    }

    /// Bird's webhook for a received SMS: the Channels API message in an `sms.inbound` event.
    pub fn bird_event(&self, now: Timestamp) -> String {
        let time = now.to_string();
        serde_json::json!({
            "service": "channels",
            "event": "sms.inbound",
            "payload": {
                "id": self.id.clone().unwrap_or_else(new_uuid),
                "channelId": self.to,
                "sender": {"contact": {
                    "id": new_uuid(),
                    "identifierKey": "phonenumber",
                    "identifierValue": self.from,
                }},
                "receiver": {"connector": {"id": new_uuid()}},
                "body": {"type": "text", "text": {"text": self.body}},
                "parts": [{"platformReference": format!("{:032x}", ulid::Ulid::new().0)}],
                "status": "delivered",
                "direction": "incoming",
                "lastStatusAt": time,
                "createdAt": time,
                "updatedAt": time,
            }
        })
        .to_string()
    }
}

/// A UUID-shaped id (version 4 layout) from a fresh ULID's bits.
fn new_uuid() -> String {
    let hex = format!("{:032x}", ulid::Ulid::new().0);
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..]
    )
}

/// A webhook ready to post: where, what, its media type and signature headers.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// Target URL (the one signed).
    pub url: String,
    /// `content-type`.
    pub content_type: &'static str,
    /// Raw body, exactly as signed.
    pub body: String,
    /// Signature headers.
    pub headers: Vec<(String, String)>,
}

/// `sms` as `platform` delivers it to the stack at `base_url`, signed with `signing_key` at
/// `now`: legacy MessageBird forwards a form POST with a `MessageBird-Signature-JWT`; Bird
/// posts its `sms.inbound` event with `messagebird-signature` and its timestamp.
pub fn sign(
    platform: Platform,
    base_url: &str,
    signing_key: &str,
    sms: &MessageBirdSms,
    now: Timestamp,
) -> SignedRequest {
    let url = format!("{}/sms/messagebird", base_url.trim_end_matches('/'));
    match platform {
        Platform::Legacy => {
            let body = sms.legacy_form(now);
            let token = messagebird::sign_jwt(signing_key, &url, body.as_bytes(), now);
            SignedRequest {
                url,
                content_type: "application/x-www-form-urlencoded",
                body,
                headers: vec![("MessageBird-Signature-JWT".into(), token)],
            }
        }
        Platform::Bird => {
            let body = sms.bird_event(now);
            let timestamp = now.as_second();
            let signature = messagebird::sign_bird(signing_key, timestamp, &url, body.as_bytes());
            SignedRequest {
                url,
                content_type: "application/json",
                body,
                headers: vec![
                    (messagebird::BIRD_SIGNATURE_HEADER.into(), signature),
                    (
                        messagebird::BIRD_TIMESTAMP_HEADER.into(),
                        timestamp.to_string(),
                    ),
                ],
            }
        }
    }
}

/// Posts a signed request; returns the status and body text.
pub async fn post(client: &reqwest::Client, request: &SignedRequest) -> DevResult<(u16, String)> {
    let mut builder = client
        .post(&request.url)
        .header("content-type", request.content_type)
        .timeout(std::time::Duration::from_secs(30))
        .body(request.body.clone());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}
