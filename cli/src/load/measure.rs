//! The verdict of a run, read from what the stack kept, not from the harness's own counts:
//! the table (tickets and messages, consistent scans), the recorder (provider API requests)
//! and the SES emulator (email acks). Waits first until every ticket's ack is decided (or
//! the drain limit).

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use intake::store::keys;

use super::workload::{AckAddress, LoadChannel, Webhook};
use crate::{DevResult, recorder, ses_local};

/// A ticket of one of the run's customers.
#[derive(Debug, Clone)]
pub struct TicketRow {
    /// Its id.
    pub id: String,
    /// The customer, as stored.
    pub contact: String,
    /// When the message that opened it was received (the stack's clock).
    pub created_at: Option<jiff::Timestamp>,
    /// `pending`, `sending`, `sent`, `skipped`, `failed`.
    pub ack_status: String,
    /// Why skipped or failed.
    pub ack_reason: Option<String>,
}

/// A stored message of one of the run's customers.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// The customer, as stored.
    pub from: String,
    /// Its ticket.
    pub ticket_id: String,
}

/// The run's tickets and messages in the table.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Tickets.
    pub tickets: Vec<TicketRow>,
    /// Messages.
    pub messages: Vec<MessageRow>,
}

/// One ack a provider API (or the SES emulator) accepted.
#[derive(Debug, Clone)]
pub struct AckSeen {
    /// When it arrived (the stack's clock).
    pub at: jiff::Timestamp,
    /// To whom (the recorder's `to`, the email's recipients).
    pub to: Vec<String>,
    /// The LINE reply token it used.
    pub reply_token: Option<String>,
    /// An email ack: the SES emulator records whole seconds.
    pub email: bool,
}

/// Every ticket and message of `contacts`, read with a consistent scan.
pub async fn read_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    contacts: &HashSet<&str>,
) -> DevResult<Stored> {
    let mut pages = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .filter_expression("#t = :ticket OR #t = :message")
        .projection_expression("#t, #id, #contact, #created, #status, #reason, #from, #ticket")
        .expression_attribute_names("#t", "type")
        .expression_attribute_names("#id", "id")
        .expression_attribute_names("#contact", "contact")
        .expression_attribute_names("#created", "created_at")
        .expression_attribute_names("#status", "ack_status")
        .expression_attribute_names("#reason", "ack_reason")
        .expression_attribute_names("#from", "from")
        .expression_attribute_names("#ticket", "ticket_id")
        .expression_attribute_values(":ticket", AttributeValue::S("ticket".into()))
        .expression_attribute_values(":message", AttributeValue::S("message".into()))
        .into_paginator()
        .items()
        .send();
    let mut stored = Stored::default();
    // Bounded: a scan ends; the count only guards against a table that never stops growing.
    for _ in 0..10_000_000 {
        let Some(item) = pages.next().await else {
            break;
        };
        let item = item.map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        };
        match text("type").as_deref() {
            Some("ticket") => {
                let contact = text("contact").unwrap_or_default();
                if contacts.contains(contact.as_str()) {
                    stored.tickets.push(TicketRow {
                        id: text("id").unwrap_or_default(),
                        contact,
                        created_at: text("created_at").and_then(|t| t.parse().ok()),
                        ack_status: text("ack_status").unwrap_or_default(),
                        ack_reason: text("ack_reason"),
                    });
                }
            }
            Some("message") => {
                let from = text("from").unwrap_or_default();
                if contacts.contains(from.as_str()) {
                    stored.messages.push(MessageRow {
                        from,
                        ticket_id: text("ticket_id").unwrap_or_default(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(stored)
}

/// Whether an ack state is still undecided.
pub fn undecided(status: &str) -> bool {
    status == "pending" || status == "sending"
}

/// Waits until no ticket of `stored` is pending or sending, or `limit` passed, reading only
/// the undecided tickets again (`BatchGetItem`, every half second). Returns how long it
/// waited.
pub async fn drain(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    stored: &Stored,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    let mut waiting: Vec<String> = stored
        .tickets
        .iter()
        .filter(|t| undecided(&t.ack_status))
        .map(|t| t.id.clone())
        .collect();
    while !waiting.is_empty() && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut still = Vec::new();
        for chunk in waiting.chunks(100) {
            match ack_states(client, table, chunk).await {
                Ok(states) => still.extend(
                    chunk
                        .iter()
                        .filter(|id| states.get(*id).is_none_or(|s| undecided(s)))
                        .cloned(),
                ),
                // DynamoDB Local restarting: ask again next round.
                Err(_) => still.extend(chunk.iter().cloned()),
            }
        }
        waiting = still;
    }
    started.elapsed()
}

/// The ack state of each of `ids` (at most 100) that DynamoDB answered for.
async fn ack_states(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    ids: &[String],
) -> DevResult<HashMap<String, String>> {
    let mut request = KeysAndAttributes::builder()
        .consistent_read(true)
        .projection_expression("id, ack_status");
    for id in ids {
        request = request.keys(HashMap::from([
            (keys::PK.to_owned(), AttributeValue::S(keys::ticket(id))),
            (
                keys::SK.to_owned(),
                AttributeValue::S(keys::TICKET_SK.into()),
            ),
        ]));
    }
    let out = client
        .batch_get_item()
        .request_items(table, request.build()?)
        .send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
    let mut states = HashMap::new();
    for item in out
        .responses
        .unwrap_or_default()
        .remove(table)
        .unwrap_or_default()
    {
        if let (Some(AttributeValue::S(id)), Some(AttributeValue::S(status))) =
            (item.get("id"), item.get("ack_status"))
        {
            states.insert(id.clone(), status.clone());
        }
    }
    Ok(states)
}

/// Every ack the recorder answered 2xx and every email the SES emulator accepted.
pub async fn acks_seen(recorder_url: &str, ses_endpoint: &str) -> DevResult<Vec<AckSeen>> {
    let mut seen: Vec<AckSeen> = recorder::fetch(recorder_url)
        .await?
        .into_iter()
        .filter(|r| (200..300).contains(&r.status) && r.channel != "email")
        .map(|r| AckSeen {
            at: r.time.parse().unwrap_or_default(),
            to: r.to.into_iter().collect(),
            reply_token: r.reply_to,
            email: false,
        })
        .collect();
    seen.extend(
        ses_local::sent_emails(ses_endpoint)
            .await?
            .into_iter()
            .map(|e| AckSeen {
                at: jiff::Timestamp::from_second(e.at).unwrap_or_default(),
                to: e.to,
                reply_token: None,
                email: true,
            }),
    );
    Ok(seen)
}

/// What the table and the providers say about the run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verdict {
    /// Distinct webhooks (customers).
    pub webhooks: usize,
    /// Of those, answered 2xx at least once.
    pub accepted: usize,
    /// Never answered 2xx, even after every retry (the provider would go on retrying).
    pub gave_up: usize,
    /// Their tickets in the table.
    pub tickets: usize,
    /// Answered 2xx, yet no message of the customer is in the table.
    pub lost: usize,
    /// Customers with more than one stored message (each sent exactly one).
    pub duplicated_messages: usize,
    /// Customers with more than one ticket.
    pub duplicated_tickets: usize,
    /// Tickets whose ack reached the provider more than once.
    pub duplicated_acks: usize,
    /// Tickets whose ack is still pending or sending.
    pub unacked: usize,
    /// Of those, still `sending` (claimed, never finished).
    pub unacked_sending: usize,
    /// Tickets marked sent whose ack no provider received.
    pub sent_not_received: usize,
    /// Tickets whose ack was sent.
    pub acks_sent: usize,
    /// Tickets whose ack was skipped, by reason.
    pub acks_skipped: BTreeMap<String, usize>,
    /// Tickets whose ack failed, by reason.
    pub acks_failed: BTreeMap<String, usize>,
    /// Batches the stream poller gave up on during the run (its dead letters; `intake acks
    /// dead-letters` lists them). Counted here, not held against the run: a ticket they
    /// leave without an ack is already un-acked.
    pub dead_letters: Option<usize>,
    /// The first few problems, by webhook and ticket id, to look into.
    pub examples: Vec<String>,
    /// When the last of their acks reached a provider.
    #[serde(skip)]
    pub last_ack: Option<jiff::Timestamp>,
    /// Ticket-to-ack delay of every sent ack, with its channel; email's to the second.
    #[serde(skip)]
    pub delays: Vec<(LoadChannel, Duration)>,
}

impl Verdict {
    /// Nothing lost, stored twice, sent twice, left undecided or given up on.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated_messages == 0
            && self.duplicated_tickets == 0
            && self.duplicated_acks == 0
            && self.unacked == 0
            && self.sent_not_received == 0
            && self.gave_up == 0
    }

    /// The sum of the duplicate counts.
    pub fn duplicated(&self) -> usize {
        self.duplicated_messages + self.duplicated_tickets + self.duplicated_acks
    }
}

/// How many problems [`Verdict::examples`] names.
const MAX_EXAMPLES: usize = 20;

/// Holds each webhook (`accepted[i]`: webhook `i` was answered 2xx) against what the table
/// stored and what the providers received.
pub fn tally(
    webhooks: &[Arc<Webhook>],
    accepted: &[bool],
    stored: &Stored,
    acks: &[AckSeen],
) -> Verdict {
    let mut by_address: HashMap<String, usize> = HashMap::new();
    for (i, w) in webhooks.iter().enumerate() {
        match &w.ack {
            AckAddress::To(to) => {
                by_address.insert(format!("to:{to}"), i);
            }
            AckAddress::Line { user, reply_token } => {
                by_address.insert(format!("to:{user}"), i);
                by_address.insert(format!("reply:{reply_token}"), i);
            }
            AckAddress::Email(address) => {
                by_address.insert(format!("email:{address}"), i);
            }
        }
    }
    let mut received: Vec<Vec<jiff::Timestamp>> = vec![Vec::new(); webhooks.len()];
    for ack in acks {
        let prefix = if ack.email { "email" } else { "to" };
        let of = ack
            .to
            .iter()
            .map(|to| format!("{prefix}:{to}"))
            .chain(ack.reply_token.iter().map(|t| format!("reply:{t}")))
            .find_map(|key| by_address.get(&key).copied());
        if let Some(i) = of {
            received[i].push(ack.at);
        }
    }
    let mut messages: HashMap<&str, usize> = HashMap::new();
    for m in &stored.messages {
        *messages.entry(m.from.as_str()).or_default() += 1;
    }
    let mut tickets: HashMap<&str, Vec<&TicketRow>> = HashMap::new();
    for t in &stored.tickets {
        tickets.entry(t.contact.as_str()).or_default().push(t);
    }
    let mut v = Verdict {
        webhooks: webhooks.len(),
        ..Verdict::default()
    };
    let note = |v: &mut Verdict, what: String| {
        if v.examples.len() < MAX_EXAMPLES {
            v.examples.push(what);
        }
    };
    v.last_ack = received.iter().flatten().max().copied();
    for (i, w) in webhooks.iter().enumerate() {
        let ok = accepted.get(i).copied().unwrap_or(false);
        v.accepted += usize::from(ok);
        v.gave_up += usize::from(!ok);
        let stored_messages = messages.get(w.contact.as_str()).copied().unwrap_or(0);
        let own = tickets
            .get(w.contact.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let ids: Vec<&str> = own.iter().map(|t| t.id.as_str()).collect();
        let which = format!("webhook {i} ({:?}, tickets {ids:?})", w.kind);
        if !ok {
            note(&mut v, format!("{which}: never answered 2xx"));
        }
        if ok && stored_messages == 0 {
            v.lost += 1;
            note(&mut v, format!("{which}: answered 2xx, no message stored"));
        }
        if stored_messages > 1 {
            v.duplicated_messages += 1;
            note(
                &mut v,
                format!("{which}: {stored_messages} messages stored"),
            );
        }
        v.tickets += own.len();
        if own.len() > 1 {
            v.duplicated_tickets += 1;
            note(&mut v, format!("{which}: {} tickets", own.len()));
        }
        if received[i].len() > 1 {
            v.duplicated_acks += 1;
            note(
                &mut v,
                format!("{which}: {} acks received", received[i].len()),
            );
        }
        for ticket in own {
            match ticket.ack_status.as_str() {
                s if undecided(s) => {
                    v.unacked += 1;
                    v.unacked_sending += usize::from(s == "sending");
                    note(
                        &mut v,
                        format!("{which}: ack still {s}, {} received", received[i].len()),
                    );
                }
                "sent" => {
                    v.acks_sent += 1;
                    match (received[i].iter().min(), ticket.created_at) {
                        (Some(at), Some(created)) => {
                            let delay = at.duration_since(created);
                            let delay = Duration::try_from(delay).unwrap_or(Duration::ZERO);
                            v.delays.push((w.channel, delay));
                        }
                        (None, _) => {
                            v.sent_not_received += 1;
                            note(&mut v, format!("{which}: marked sent, no ack received"));
                        }
                        _ => {}
                    }
                }
                other => {
                    let reason = ticket.ack_reason.clone().unwrap_or_else(|| "-".into());
                    let map = if other == "skipped" {
                        &mut v.acks_skipped
                    } else {
                        &mut v.acks_failed
                    };
                    *map.entry(reason).or_default() += 1;
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::workload::{Kind, Request};

    fn webhook(index: usize, contact: &str, ack: AckAddress) -> Arc<Webhook> {
        Arc::new(Webhook {
            index,
            kind: Kind::Twilio,
            channel: LoadChannel::Sms,
            contact: contact.into(),
            ack,
            request: Request {
                url: String::new(),
                public_url: String::new(),
                headers: Vec::new(),
                body: bytes::Bytes::new(),
            },
        })
    }

    fn ticket(id: &str, contact: &str, status: &str) -> TicketRow {
        TicketRow {
            id: id.into(),
            contact: contact.into(),
            created_at: "2026-11-30T10:00:00Z".parse().ok(),
            ack_status: status.into(),
            ack_reason: None,
        }
    }

    fn message(from: &str, ticket_id: &str) -> MessageRow {
        MessageRow {
            from: from.into(),
            ticket_id: ticket_id.into(),
        }
    }

    fn ack(to: &str, at: &str) -> AckSeen {
        AckSeen {
            at: at.parse().expect("time"),
            to: vec![to.into()],
            reply_token: None,
            email: false,
        }
    }

    #[test]
    fn a_clean_run_has_one_message_ticket_and_ack_per_customer() {
        let hooks = [
            webhook(0, "+1", AckAddress::To("+1".into())),
            webhook(
                1,
                "line:U1",
                AckAddress::Line {
                    user: "U1".into(),
                    reply_token: "rt1".into(),
                },
            ),
        ];
        let stored = Stored {
            tickets: vec![ticket("a", "+1", "sent"), ticket("b", "line:U1", "sent")],
            messages: vec![message("+1", "a"), message("line:U1", "b")],
        };
        let mut line_reply = ack("", "2026-11-30T10:00:00.250Z");
        line_reply.to.clear();
        line_reply.reply_token = Some("rt1".into());
        let acks = [ack("+1", "2026-11-30T10:00:00.080Z"), line_reply];
        let v = tally(&hooks, &[true, true], &stored, &acks);
        assert!(v.clean(), "{v:?}");
        assert_eq!((v.tickets, v.acks_sent), (2, 2));
        let mut delays: Vec<u128> = v.delays.iter().map(|(_, d)| d.as_millis()).collect();
        delays.sort();
        assert_eq!(delays, [80, 250]);
    }

    #[test]
    fn losses_doubles_and_undecided_acks_are_each_counted() {
        let hooks = [
            webhook(0, "+1", AckAddress::To("+1".into())),
            webhook(1, "+2", AckAddress::To("+2".into())),
            webhook(2, "+3", AckAddress::To("+3".into())),
            webhook(3, "+4", AckAddress::To("+4".into())),
        ];
        let stored = Stored {
            // +1 answered 200 but never stored; +2 stored twice on two tickets; +3 pending;
            // +4 marked sent, but its ack reached the provider twice.
            tickets: vec![
                ticket("b1", "+2", "sent"),
                ticket("b2", "+2", "sent"),
                ticket("c", "+3", "pending"),
                ticket("d", "+4", "sent"),
            ],
            messages: vec![
                message("+2", "b1"),
                message("+2", "b2"),
                message("+3", "c"),
                message("+4", "d"),
            ],
        };
        let acks = [
            ack("+2", "2026-11-30T10:00:01Z"),
            ack("+4", "2026-11-30T10:00:01Z"),
            ack("+4", "2026-11-30T10:00:02Z"),
            ack("+9", "2026-11-30T10:00:02Z"),
        ];
        let v = tally(&hooks, &[true, true, true, false], &stored, &acks);
        assert_eq!(v.lost, 1);
        assert_eq!(v.duplicated_messages, 1);
        assert_eq!(v.duplicated_tickets, 1);
        assert_eq!(v.duplicated_acks, 1);
        assert_eq!(v.unacked, 1);
        assert_eq!(v.gave_up, 1);
        // +2's second ticket says sent, and one ack (its first) reached the provider.
        assert_eq!(v.sent_not_received, 0);
        assert!(!v.clean());
    }

    #[test]
    fn a_ticket_marked_sent_without_an_ack_at_the_provider_is_counted() {
        let hooks = [webhook(0, "+1", AckAddress::To("+1".into()))];
        let stored = Stored {
            tickets: vec![ticket("a", "+1", "sent")],
            messages: vec![message("+1", "a")],
        };
        let v = tally(&hooks, &[true], &stored, &[]);
        assert_eq!(v.sent_not_received, 1);
        assert!(!v.clean());
    }
}
