//! Email acks through SES v2 `SendEmail` (Simple content with our headers); SES errors sorted
//! into retryable and permanent.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};

use super::PROVIDER;
use super::ack_email::AckEmail;
use super::identity::identity_covers;
use crate::config::SesConfig;
use crate::future::BoxFuture;
use crate::model::Channel;
use crate::providers::{Clients, OutboundMessage, SendError, SendReceipt, Sender};

/// Sends email acks with SES v2.
pub struct SesSender {
    client: aws_sdk_sesv2::Client,
    identities: Vec<String>,
    configuration_set: Option<String>,
}

impl SesSender {
    /// A sender when SES has identities to send from.
    pub fn new(config: &SesConfig, clients: &Clients) -> Option<SesSender> {
        if config.identities.is_empty() {
            return None;
        }
        let mut builder = aws_sdk_sesv2::config::Builder::from(&clients.aws);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint.as_str().trim_end_matches('/'));
        }
        if crate::aws_calls::enabled() {
            builder = builder.interceptor(crate::aws_calls::CallRecorder);
        }
        Some(SesSender {
            client: aws_sdk_sesv2::Client::from_conf(builder.build()),
            identities: config.identities.clone(),
            configuration_set: config.configuration_set.clone(),
        })
    }
}

impl Sender for SesSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn answers_channel(&self) -> Option<Channel> {
        Some(Channel::Email)
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let request = AckEmail::build(message)?;
            // IAM lets the acknowledger send as SES_IDENTITIES only: a From under none of them
            // would be refused by AWS. Said here, with a code the ticket and the metrics show.
            if !self
                .identities
                .iter()
                .any(|i| identity_covers(i, &request.from))
            {
                return Err(SendError::Permanent {
                    code: "sender_not_in_ses_identities".into(),
                    reason: "the brand's sending address is under none of SES_IDENTITIES".into(),
                });
            }
            let content = |text: &str| {
                Content::builder()
                    .data(text)
                    .charset("UTF-8")
                    .build()
                    .map_err(|e| SendError::Permanent {
                        code: "invalid_request".into(),
                        reason: e.to_string(),
                    })
            };
            let mut body = Body::builder().text(content(&message.body)?);
            if let Some(html) = &message.html {
                body = body.html(content(html)?);
            }
            let mut simple = Message::builder()
                .subject(content(&request.subject)?)
                .body(body.build());
            for (name, value) in &request.headers {
                simple = simple.headers(
                    MessageHeader::builder()
                        .name(*name)
                        .value(value)
                        .build()
                        .map_err(|e| SendError::Permanent {
                            code: "invalid_request".into(),
                            reason: e.to_string(),
                        })?,
                );
            }
            let result = self
                .client
                .send_email()
                .from_email_address(&request.from)
                .destination(Destination::builder().to_addresses(&request.to).build())
                .content(EmailContent::builder().simple(simple.build()).build())
                .set_configuration_set_name(self.configuration_set.clone())
                .send()
                .await;
            match result {
                Ok(out) => {
                    let id = out.message_id().map(str::to_owned);
                    Ok(SendReceipt {
                        // SES replaces any Message-ID we set with its own, built from this id.
                        thread_id: id.as_ref().map(|id| format!("{id}@email.amazonses.com")),
                        provider_message_id: id,
                    })
                }
                // Throttling and server errors come back through the stream; everything else
                // SES says no to (unverified identity, rejected message, paused account) is
                // stored with its reason.
                Err(err) => Err(crate::providers::aws_errors::classify("SES", err)),
            }
        })
    }
}
