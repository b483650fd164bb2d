//! Items as a stream record carries them (`NewImage`, in DynamoDB JSON: `{"S": "..."}`), so
//! the acknowledger learns a ticket's keys from its INSERT record without reading it first.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::StoreError;
use super::attrs::Item;
use crate::model::Ticket;

/// One attribute in DynamoDB JSON; `None` for a type a ticket never holds (binary, sets).
fn attribute(value: &Value) -> Option<AttributeValue> {
    let (kind, inner) = value.as_object()?.iter().next()?;
    Some(match (kind.as_str(), inner) {
        ("S", Value::String(s)) => AttributeValue::S(s.clone()),
        ("N", Value::String(n)) => AttributeValue::N(n.clone()),
        ("BOOL", Value::Bool(b)) => AttributeValue::Bool(*b),
        ("NULL", _) => AttributeValue::Null(true),
        ("L", Value::Array(list)) => AttributeValue::L(list.iter().filter_map(attribute).collect()),
        ("M", Value::Object(_)) => AttributeValue::M(item(inner)),
        _ => return None,
    })
}

/// An image (a JSON object of attributes) as an item.
fn item(image: &Value) -> Item {
    image
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.clone(), attribute(value)?)))
        .collect()
}

/// The ticket a stream record's `NewImage` shows. An image is the item as it was written,
/// not as it is now: read it for what never changes (ids, channel, contact, first message).
pub fn ticket_from_image(image: &Value) -> Result<Ticket, StoreError> {
    super::read::ticket_from(&item(image))
}

#[cfg(test)]
mod tests {
    use super::ticket_from_image;
    use crate::model::{AckStatus, Channel};

    #[test]
    fn a_ticket_image_reads_as_the_stored_ticket() {
        let image = serde_json::json!({
            "pk": {"S": "TICKET#01J"}, "sk": {"S": "META"}, "id": {"S": "01J"},
            "ref": {"S": "K7F3Q2"}, "channel": {"S": "sms"}, "provider": {"S": "twilio"},
            "contact": {"S": "+6281234567890"}, "our_address": {"S": "+6221555000"},
            "status": {"S": "open"}, "message_count": {"N": "1"},
            "ack_status": {"S": "pending"}, "first_message_sk": {"S": "MSG#1"},
            "created_at": {"S": "2026-11-30T10:00:00.000000Z"},
            "updated_at": {"S": "2026-11-30T10:00:00.000000Z"},
            "tags": {"L": [{"S": "a"}, {"BS": []}]}, "flags": {"M": {"x": {"BOOL": true}}}
        });
        let ticket = ticket_from_image(&image).expect("a ticket");
        assert_eq!(ticket.id, "01J");
        assert_eq!(ticket.channel, Channel::Sms);
        assert_eq!(ticket.contact, "+6281234567890");
        assert_eq!(ticket.first_message_sk, "MSG#1");
        assert_eq!(ticket.message_count, 1);
        assert_eq!(ticket.ack_status, AckStatus::Pending);
    }

    #[test]
    fn an_image_without_a_ticket_is_corrupt() {
        let image = serde_json::json!({"pk": {"S": "TICKET#01J"}, "id": {"N": "1"}});
        assert!(ticket_from_image(&image).is_err());
        assert!(ticket_from_image(&serde_json::Value::Null).is_err());
    }
}
