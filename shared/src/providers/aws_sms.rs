//! AWS End User Messaging SMS (formerly Amazon Pinpoint SMS), both ways.
//!
//! Inbound (`POST /sms/aws`): two-way SMS publishes each message a customer sends to one of
//! our numbers to an SNS topic, whose HTTPS subscription calls us. The delivery is trusted
//! exactly as SES mail is (`providers/sns_inbound`: configured topics only, the SNS signature
//! verified on the raw bytes, subscription confirmed once); its `Message` is the JSON of the
//! SMS (`originationNumber`, `destinationNumber`, `messageBody`, `inboundMessageId`,
//! `messageKeyword`). The provider message id is `inboundMessageId`, so an SNS redelivery of
//! the same SMS is stored once.
//!
//! Outbound: acks through `SendTextMessage` of the SMS and Voice v2 API, from the number the
//! customer wrote to, as transactional messages.

use aws_sdk_pinpointsmsvoicev2::types::MessageType;
use jiff::Timestamp;
use serde::Deserialize;

use crate::config::{AwsSmsConfig, ConfigError};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::keywords::Keyword;
use crate::model::{Channel, InboundMessage, Party};
use crate::providers::sns_inbound::{SnsDelivery, SnsEndpoint};
use crate::providers::{Clients, OutboundMessage, Provider, Received, SendError, SendReceipt};
use crate::request::WebhookRequest;
use crate::sns::SnsMessage;
use crate::store::Store;

/// Route name (`/sms/aws`) and the provider stored on tickets.
pub const PROVIDER: &str = "aws";

/// The keywords AWS acts on by default for every number (it opts the sender out of the
/// account's list and answers them itself). `messageKeyword` names the keyword the message
/// matched; these are the ones that mean opt-out.
const AWS_OPT_OUT_KEYWORDS: &[&str] = &[
    "ARRET",
    "CANCEL",
    "END",
    "OPT-OUT",
    "OPTOUT",
    "QUIT",
    "REMOVE",
    "STOP",
    "TD",
    "UNSUBSCRIBE",
];

/// The inbound SMS as two-way SMS publishes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InboundSms {
    origination_number: String,
    destination_number: String,
    #[serde(default)]
    message_body: String,
    inbound_message_id: String,
    #[serde(default)]
    message_keyword: Option<String>,
}

/// AWS End User Messaging SMS inbound through SNS.
pub struct AwsSms {
    sns: SnsEndpoint,
}

impl AwsSms {
    /// The provider when topics are configured.
    pub fn new(config: &AwsSmsConfig, clients: &Clients) -> Result<Option<AwsSms>, ConfigError> {
        if config.topic_arns.is_empty() {
            return Ok(None);
        }
        Ok(Some(AwsSms {
            sns: SnsEndpoint::new(
                config.topic_arns.clone(),
                config.trusted_cert_file.as_deref(),
                config.confirm_base_url.clone(),
                clients.http.clone(),
            )?,
        }))
    }
}

/// The SMS a verified notification carries (an unsubscribe or other kind carries none).
fn messages(message: &SnsMessage, now: Timestamp) -> Result<Vec<InboundMessage>, WebhookError> {
    if message.kind != "Notification" {
        return Ok(Vec::new());
    }
    let sms: InboundSms = serde_json::from_str(&message.message).map_err(super::json::malformed)?;
    if sms.inbound_message_id.trim().is_empty() {
        return Err(WebhookError::MissingField("inboundMessageId"));
    }
    if sms.origination_number.trim().is_empty() {
        return Err(WebhookError::MissingField("originationNumber"));
    }
    Ok(vec![InboundMessage {
        channel: Channel::Sms,
        provider: PROVIDER,
        provider_message_id: sms.inbound_message_id,
        from: Party {
            address: sms.origination_number,
            name: None,
        },
        to: sms.destination_number,
        subject: None,
        keyword: sms.message_keyword.as_deref().and_then(keyword),
        body: sms.message_body,
        attachments: Vec::new(),
        language: None,
        received_at: now,
        reply_token: None,
        email: None,
    }])
}

/// The compliance meaning of the keyword AWS matched, if it has one; a brand's own keyword
/// (`JOIN`) has none, and the webhook then reads the body with the configured words.
fn keyword(matched: &str) -> Option<Keyword> {
    let matched = matched.trim().to_ascii_uppercase();
    if AWS_OPT_OUT_KEYWORDS.contains(&matched.as_str()) {
        Some(Keyword::Stop)
    } else if matched == "HELP" {
        Some(Keyword::Help)
    } else {
        None
    }
}

impl Provider for AwsSms {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn max_body_bytes(&self) -> usize {
        // An SNS message is at most 256 KB; an SMS is far smaller, with its envelope.
        64 * 1024
    }

    /// Verifies with a certificate already fetched ([`Provider::receive`] fetches it first).
    fn verify(&self, req: &WebhookRequest, now: Timestamp) -> Result<(), WebhookError> {
        self.sns.verify_cached(&req.body, now).map(drop)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let message = SnsMessage::parse(&req.body).map_err(super::sns_inbound::sns_error)?;
        messages(&message, now)
    }

    fn receive<'a>(
        &'a self,
        req: &'a WebhookRequest,
        now: Timestamp,
        store: &'a Store,
    ) -> BoxFuture<'a, Result<Received, WebhookError>> {
        Box::pin(async move {
            match self.sns.receive(&req.body, now, store).await? {
                SnsDelivery::Answered(reply) => Ok(Received::Answer(reply)),
                SnsDelivery::Notification(message) => {
                    Ok(Received::Messages(messages(&message, now)?))
                }
            }
        })
    }
}

/// Sends SMS acks with `SendTextMessage`.
pub struct AwsSmsSender {
    client: aws_sdk_pinpointsmsvoicev2::Client,
    configuration_set: Option<String>,
}

impl AwsSmsSender {
    /// A sender when `AWS_SMS_SEND` is on.
    pub fn new(config: &AwsSmsConfig, clients: &Clients) -> Option<AwsSmsSender> {
        if !config.send {
            return None;
        }
        let mut builder = aws_sdk_pinpointsmsvoicev2::config::Builder::from(&clients.aws);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint.as_str().trim_end_matches('/'));
        }
        if crate::aws_calls::enabled() {
            builder = builder.interceptor(crate::aws_calls::CallRecorder);
        }
        Some(AwsSmsSender {
            client: aws_sdk_pinpointsmsvoicev2::Client::from_conf(builder.build()),
            configuration_set: config.configuration_set.clone(),
        })
    }
}

impl super::Sender for AwsSmsSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let result = self
                .client
                .send_text_message()
                .destination_phone_number(&message.to)
                // From the number the customer wrote to, so the answer stays in one thread.
                .origination_identity(&message.from)
                .message_body(&message.body)
                .message_type(MessageType::Transactional)
                .set_configuration_set_name(self.configuration_set.clone())
                .send()
                .await;
            match result {
                Ok(out) => Ok(SendReceipt {
                    provider_message_id: out.message_id().map(str::to_owned),
                    thread_id: None,
                }),
                Err(err) => Err(super::aws_errors::classify("AWS SMS", err)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(message: &str) -> SnsMessage {
        SnsMessage::parse(
            serde_json::json!({
                "Type": "Notification",
                "MessageId": "m-1",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:intake-sms",
                "Message": message,
                "Timestamp": "2026-11-30T10:00:00.000Z",
                "SignatureVersion": "2",
                "Signature": "x",
                "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
            })
            .to_string()
            .as_bytes(),
        )
        .expect("envelope")
    }

    /// The example payload of the AWS End User Messaging SMS User Guide, "Example of a
    /// two-way SMS message payload for Amazon SNS topics".
    const DOCUMENTED: &str = r#"{"originationNumber":"+14255550182","destinationNumber":"+12125550101","messageKeyword":"JOIN","messageBody":"EXAMPLE","inboundMessageId":"cae173d2-66b9-564c-8309-21f858e9fb84","previousPublishedMessageId":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#;

    #[test]
    fn the_documented_payload_is_one_message() {
        let m = messages(&notification(DOCUMENTED), Timestamp::UNIX_EPOCH).expect("read");
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].provider_message_id,
            "cae173d2-66b9-564c-8309-21f858e9fb84"
        );
        assert_eq!(m[0].from.address, "+14255550182");
        assert_eq!(m[0].to, "+12125550101");
        assert_eq!(m[0].body, "EXAMPLE");
        // JOIN is the brand's keyword, not a compliance one: the webhook reads the body.
        assert_eq!(m[0].keyword, None);
        assert_eq!(m[0].channel, Channel::Sms);
    }

    #[test]
    fn aws_keyword_flags_are_honoured() {
        for (matched, expected) in [
            ("STOP", Some(Keyword::Stop)),
            ("arret", Some(Keyword::Stop)),
            ("OPT-OUT", Some(Keyword::Stop)),
            ("HELP", Some(Keyword::Help)),
            ("JOIN", None),
        ] {
            assert_eq!(keyword(matched), expected, "{matched}");
        }
    }

    #[test]
    fn missing_fields_and_bad_json_are_400_and_never_panic() {
        for message in [
            "not json",
            "{}",
            r#"{"originationNumber":"+1","destinationNumber":"+2","inboundMessageId":""}"#,
            r#"{"originationNumber":"","destinationNumber":"+2","inboundMessageId":"x"}"#,
            r#"{"originationNumber":1}"#,
        ] {
            let err = messages(&notification(message), Timestamp::UNIX_EPOCH).expect_err(message);
            assert_eq!(err.status(), 400, "{message}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_messages_never_panic(message in "\\PC{0,200}") {
            let _ = messages(&notification(&message), Timestamp::UNIX_EPOCH);
        }
    }
}
