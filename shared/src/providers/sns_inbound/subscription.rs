//! The SNS handshakes of a subscribed topic (SES mail, AWS SMS): a `SubscriptionConfirmation` is confirmed once, by
//! fetching its `SubscribeURL` (an SNS host only); an `UnsubscribeConfirmation` is logged.
//! Both are answered without storing anything else.

use jiff::Timestamp;

use crate::error::WebhookError;
use crate::reply::Reply;
use crate::sns::{SnsMessage, is_sns_host};
use crate::store::{Claim, Store};

/// How long a confirmed subscription's message id is remembered.
const CONFIRMATION_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// The one-time claim scope of confirmed subscriptions (`ONCE#sns-subscription#<id>`).
const SCOPE: &str = "sns-subscription";

/// Confirms the subscriptions of the configured topics.
pub(super) struct Subscriptions {
    http: reqwest::Client,
    /// Where confirmations go instead of SNS (the local stack's emulator).
    confirm_base_url: Option<url::Url>,
}

impl Subscriptions {
    /// Confirmations through `http`, to SNS or to `confirm_base_url`.
    pub(super) fn new(http: reqwest::Client, confirm_base_url: Option<url::Url>) -> Subscriptions {
        Subscriptions {
            http,
            confirm_base_url,
        }
    }

    /// The answer to a verified subscription message; `None` for anything else (a
    /// notification, which carries mail).
    pub(super) async fn answer(
        &self,
        message: &SnsMessage,
        now: Timestamp,
        store: &Store,
    ) -> Result<Option<Reply>, WebhookError> {
        match message.kind.as_str() {
            "SubscriptionConfirmation" => {
                let claim = store
                    .claim_once(
                        SCOPE,
                        &message.message_id,
                        "confirm",
                        now,
                        CONFIRMATION_TTL_SECONDS,
                    )
                    .await?;
                // A redelivered confirmation was confirmed the first time.
                if claim == Claim::New {
                    if let Err(e) = self.confirm(message).await {
                        store.release_once(SCOPE, &message.message_id).await?;
                        return Err(e);
                    }
                    tracing::info!(topic = %message.topic_arn, "SNS subscription confirmed");
                }
                Ok(Some(Reply::json(
                    200,
                    serde_json::json!({"confirmed": true}).to_string(),
                )))
            }
            "UnsubscribeConfirmation" => {
                // Re-subscribing is a deployment's decision, not a webhook's.
                tracing::warn!(topic = %message.topic_arn, "SNS subscription removed");
                Ok(Some(Reply::json(
                    200,
                    serde_json::json!({"unsubscribed": true}).to_string(),
                )))
            }
            _ => Ok(None),
        }
    }

    /// Confirms a subscription by fetching its `SubscribeURL` (an SNS host only).
    async fn confirm(&self, message: &SnsMessage) -> Result<(), WebhookError> {
        let subscribe_url = message
            .subscribe_url
            .as_deref()
            .ok_or(WebhookError::MissingField("SubscribeURL"))?;
        let url = url::Url::parse(subscribe_url)
            .ok()
            .filter(|u| u.scheme() == "https")
            .filter(|u| matches!(u.host(), Some(url::Host::Domain(h)) if is_sns_host(h)))
            .ok_or(WebhookError::Forbidden("SubscribeURL is not an SNS URL"))?;
        let target = match &self.confirm_base_url {
            Some(base) => format!(
                "{}{}?{}",
                base.as_str().trim_end_matches('/'),
                url.path(),
                url.query().unwrap_or("")
            ),
            None => url.to_string(),
        };
        let response =
            self.http.get(target).send().await.map_err(|e| {
                WebhookError::Unavailable(format!("confirming: {}", e.without_url()))
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(WebhookError::Unavailable(format!(
                "confirming: SNS answered {}",
                response.status().as_u16()
            )))
        }
    }
}
