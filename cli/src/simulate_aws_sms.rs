//! `intake simulate aws`: an SMS through AWS End User Messaging SMS, as two-way SMS publishes
//! it to its SNS topic and SNS posts it to us (signed with the local test key, which only a
//! local stack trusts).

use serde_json::json;

use crate::DevResult;
use crate::simulate_email::{MailPost, SnsSigner, sns_message, sns_post_to};

pub use crate::stack::TEST_AWS_SMS_TOPIC_ARN;

/// One inbound SMS.
#[derive(Debug, Clone)]
pub struct AwsSms {
    /// The customer's number (`originationNumber`, E.164).
    pub from: String,
    /// Our number (`destinationNumber`).
    pub to: String,
    /// The text.
    pub body: String,
    /// `inboundMessageId` (a fresh UUID-shaped id by default).
    pub id: String,
    /// `messageKeyword`, when the text matched a keyword of the number.
    pub keyword: Option<String>,
}

impl AwsSms {
    /// An SMS with a fresh id.
    pub fn new(from: &str, to: &str, body: &str) -> AwsSms {
        let n = ulid::Ulid::new().0;
        AwsSms {
            from: from.into(),
            to: to.into(),
            body: body.into(),
            id: format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                (n >> 96) as u32,
                (n >> 80) as u16,
                (n >> 64) as u16,
                (n >> 48) as u16,
                n as u64 & 0xffff_ffff_ffff
            ),
            keyword: None,
        }
    }

    /// The JSON two-way SMS publishes (the shape of the AWS End User Messaging SMS User
    /// Guide's example payload).
    pub fn payload(&self) -> String {
        let mut payload = json!({
            "originationNumber": self.from,
            "destinationNumber": self.to,
            "messageBody": self.body,
            "inboundMessageId": self.id,
            "previousPublishedMessageId": format!("{:032x}", ulid::Ulid::new().0),
        });
        if let Some(keyword) = &self.keyword {
            payload["messageKeyword"] = json!(keyword);
        }
        payload.to_string()
    }
}

/// `sms` as SNS posts it to `/sms/aws` of `base_url`: a notification on `topic_arn`, signed.
pub fn aws_sms(
    base_url: &str,
    signer: &SnsSigner,
    topic_arn: &str,
    sms: &AwsSms,
) -> DevResult<MailPost> {
    let mut message = sns_message("Notification", topic_arn, None, sms.payload());
    signer.sign(&mut message)?;
    Ok(sns_post_to(
        format!("{}/sms/aws", base_url.trim_end_matches('/')),
        &message,
    ))
}
