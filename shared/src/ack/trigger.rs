//! What invoked the acknowledger: a batch of the table's stream records, or the EventBridge
//! schedule that runs the stale-claim sweeper ([`super::sweep`]). Told apart by their
//! shapes: a stream event has `Records`; a scheduled event has `source: aws.events` and
//! `detail-type: Scheduled Event`.

use aws_lambda_events::event::dynamodb::Event;

/// One invocation's event.
#[derive(Debug)]
pub enum Trigger {
    /// Stream records to acknowledge.
    Stream(Box<Event>),
    /// The schedule: sweep stale claims.
    Schedule,
}

/// An event that is neither shape.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// Not a stream batch nor a scheduled event.
    #[error("neither DynamoDB stream records nor an EventBridge scheduled event")]
    Unknown,
    /// `Records` present but not the stream's shape.
    #[error("stream records of an unexpected shape: {0}")]
    BadRecords(#[from] serde_json::Error),
}

impl Trigger {
    /// Reads an invocation's payload.
    pub fn from_value(event: serde_json::Value) -> Result<Trigger, TriggerError> {
        if event.get("Records").is_some() {
            return Ok(Trigger::Stream(Box::new(serde_json::from_value(event)?)));
        }
        let scheduled =
            event["source"] == "aws.events" && event["detail-type"] == "Scheduled Event";
        if scheduled {
            Ok(Trigger::Schedule)
        } else {
            Err(TriggerError::Unknown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Trigger, TriggerError};
    use serde_json::json;

    #[test]
    fn a_stream_batch_is_stream_records() {
        let event = json!({ "Records": [{
            "eventID": "1", "eventName": "INSERT", "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "ap-southeast-3",
            "dynamodb": {
                "Keys": { "pk": { "S": "TICKET#a" }, "sk": { "S": "META" } },
                "SequenceNumber": "1", "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:ap-southeast-3:123456789012:table/intake/stream/x"
        }]});
        match Trigger::from_value(event) {
            Ok(Trigger::Stream(e)) => assert_eq!(e.records.len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_eventbridge_scheduled_event_is_the_sweep() {
        // As EventBridge delivers a `rate(5 minutes)` rule's event.
        let event = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-30T16:00:00Z", "region": "ap-southeast-3",
            "resources": ["arn:aws:events:ap-southeast-3:123456789012:rule/intake-sweep"],
            "detail": {}
        });
        assert!(matches!(Trigger::from_value(event), Ok(Trigger::Schedule)));
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(matches!(
            Trigger::from_value(json!({ "source": "aws.s3", "detail-type": "Object Created" })),
            Err(TriggerError::Unknown)
        ));
        assert!(matches!(
            Trigger::from_value(json!({ "Records": "no" })),
            Err(TriggerError::BadRecords(_))
        ));
    }
}
