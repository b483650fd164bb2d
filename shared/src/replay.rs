//! Replaying archived deliveries ([`crate::archive`]) through the current code, and what each
//! replay came to.
//!
//! Locally, `intake replay run` replays in its own process. Against a deployed stack it
//! invokes the channel's webhook function directly with a [`ReplayInvocation`] naming the
//! archived object, so the replay runs the deployed code with the deployed permissions; the
//! function answers with a [`ReplayReport`]. API Gateway cannot send that event: it only
//! ever invokes the function with its own request shape, so only a caller allowed
//! `lambda:InvokeFunction` (an operator) can ask for a replay.

use serde::{Deserialize, Serialize};

use crate::archive::{Archive, ArchivedDelivery};
use crate::webhook::{Replayed, WebhookService};

/// The direct invocation of a webhook function that replays one archived delivery:
/// `{"intakeReplay": {"key": "archive/2026/11/30/sms/twilio/01J….json"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayInvocation {
    /// Which delivery.
    #[serde(rename = "intakeReplay")]
    pub replay: ReplayTarget,
}

/// The archived object a [`ReplayInvocation`] names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayTarget {
    /// The object key ([`ArchivedDelivery::key`]).
    pub key: String,
}

impl ReplayInvocation {
    /// The invocation replaying `delivery`.
    pub fn of(delivery: &ArchivedDelivery) -> ReplayInvocation {
        ReplayInvocation {
            replay: ReplayTarget {
                key: delivery.key(),
            },
        }
    }
}

/// What a replay came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayOutcome {
    /// At least one of its messages was stored now.
    Stored,
    /// Every message was stored already (by the provider's retry or an earlier replay).
    Duplicate,
    /// It still fails; the report says how.
    Failing,
}

/// What one replay came to, as `intake replay run` prints it (`--json`: one per line) and a
/// webhook function answers a [`ReplayInvocation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// The archive entry.
    pub id: String,
    /// Its provider.
    pub provider: String,
    /// Stored, duplicate or failing.
    pub outcome: ReplayOutcome,
    /// The status it is answered with today, when failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error code (`malformed_body`, `store_unavailable`, ...), when failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl ReplayReport {
    /// The report of `delivery` replayed to `replayed`.
    pub fn of(delivery: &ArchivedDelivery, replayed: Replayed) -> ReplayReport {
        ReplayReport::new(&delivery.id, &delivery.provider, replayed)
    }

    fn new(id: &str, provider: &str, replayed: Replayed) -> ReplayReport {
        let (outcome, status, code) = match replayed {
            Replayed::Stored => (ReplayOutcome::Stored, None, None),
            Replayed::Duplicate => (ReplayOutcome::Duplicate, None, None),
            Replayed::Failing { status, code } => {
                (ReplayOutcome::Failing, Some(status), Some(code.to_owned()))
            }
        };
        ReplayReport {
            id: id.to_owned(),
            provider: provider.to_owned(),
            outcome,
            status,
            code,
        }
    }

    /// The report of `delivery` failing with `status` and `code` before it could be replayed
    /// (no function for its channel, an invocation that failed, ...).
    pub fn not_replayed(delivery: &ArchivedDelivery, status: u16, code: &str) -> ReplayReport {
        ReplayReport {
            id: delivery.id.clone(),
            provider: delivery.provider.clone(),
            outcome: ReplayOutcome::Failing,
            status: Some(status),
            code: Some(code.to_owned()),
        }
    }

    /// Whether it still fails.
    pub fn failing(&self) -> bool {
        self.outcome == ReplayOutcome::Failing
    }
}

/// Replays `delivery` through `service` (of its channel), verified at its archived receive
/// time. A delivery of another channel fails with `unknown_route`, one that cannot be
/// decoded with `archive_unreadable`.
pub async fn replay(service: &WebhookService, delivery: &ArchivedDelivery) -> ReplayReport {
    let replayed = if service.channel() != delivery.channel {
        Replayed::Failing {
            status: 404,
            code: "unknown_route",
        }
    } else {
        match delivery.request() {
            Ok(req) => service.replay(req, delivery.time).await,
            Err(_) => Replayed::Failing {
                status: 400,
                code: "archive_unreadable",
            },
        }
    };
    ReplayReport::of(delivery, replayed)
}

/// Answers a [`ReplayInvocation`] in a deployed webhook function: reads the object from the
/// function's own archive (`archive`: `None` when the function has no `ARCHIVE_BUCKET`) and
/// replays it. Only keys of the archive's form are read.
pub async fn invoked(
    service: &WebhookService,
    archive: Option<&Archive>,
    invocation: &ReplayInvocation,
) -> ReplayReport {
    // The archive read is the function's own call, recorded for the permission test.
    crate::aws_calls::within(
        crate::manifest::webhook_function(service.channel()),
        answer(service, archive, invocation),
    )
    .await
}

async fn answer(
    service: &WebhookService,
    archive: Option<&Archive>,
    invocation: &ReplayInvocation,
) -> ReplayReport {
    let key = &invocation.replay.key;
    let failing = |status, code| {
        let (id, provider) = crate::archive::parse_key(key).unwrap_or(("", ""));
        ReplayReport::new(id, provider, Replayed::Failing { status, code })
    };
    let Some(archive) = archive else {
        return failing(503, "archive_off");
    };
    if crate::archive::parse_key(key).is_none() {
        return failing(400, "invalid_archive_key");
    }
    match archive.read(key).await {
        Ok(delivery) => replay(service, &delivery).await,
        Err(err) => {
            tracing::error!(error = %err, "archived delivery unreadable");
            failing(404, "archive_unreadable")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_is_told_from_its_one_field() {
        let json = r#"{"intakeReplay":{"key":"archive/2026/11/30/sms/twilio/01JDA.json"}}"#;
        let parsed: ReplayInvocation = serde_json::from_str(json).unwrap();
        assert_eq!(
            parsed.replay.key,
            "archive/2026/11/30/sms/twilio/01JDA.json"
        );
        assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        // Anything beside it (an API Gateway event's fields) is not a replay.
        let api = r#"{"intakeReplay":{"key":"k"},"version":"2.0"}"#;
        assert!(serde_json::from_str::<ReplayInvocation>(api).is_err());
        let api = r#"{"version":"2.0","rawPath":"/sms/twilio"}"#;
        assert!(serde_json::from_str::<ReplayInvocation>(api).is_err());
    }

    #[test]
    fn a_report_reads_back_what_it_wrote() {
        let failing = ReplayReport::new(
            "01J",
            "twilio",
            Replayed::Failing {
                status: 400,
                code: "malformed_body",
            },
        );
        let json = serde_json::to_string(&failing).unwrap();
        assert_eq!(
            json,
            r#"{"id":"01J","provider":"twilio","outcome":"failing","status":400,"code":"malformed_body"}"#
        );
        assert_eq!(
            serde_json::from_str::<ReplayReport>(&json).unwrap(),
            failing
        );
        let stored = ReplayReport::new("01J", "twilio", Replayed::Stored);
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            r#"{"id":"01J","provider":"twilio","outcome":"stored"}"#
        );
        assert!(!stored.failing());
    }
}
