//! The ingest of one message: one `TransactWriteItems`, race-free.
//!
//! 1. Read the contact (consistent read): which ticket does it have open on this channel?
//! 2. Open ticket: put dedup + put message + update ticket (still open) + update contact
//!    (still names that ticket).
//! 3. No open ticket: put dedup + put ticket + reserve its reference + put message + update
//!    contact (names no open ticket, or still names the closed one we saw).
//! 4. Email that answers a known mail (Message-ID or `[#REF]`) joins that ticket instead:
//!    put dedup + put message + update ticket (still open, still email) + update contact.
//!    Every stored mail also maps its Message-ID to its ticket, for the replies to come.
//! 5. Cancellation reasons decide: dedup failed → a retry of something stored; anything else
//!    failed → someone moved first, read again (bounded).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use jiff::Timestamp;
use std::time::Duration;

use super::attrs::{Item, n, s, time};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, classify};
use crate::ids::TicketIds;
use crate::keywords::Keyword;
use crate::model::{AckStatus, EmailDetails, InboundMessage};

/// Attempts before an ingest under heavy contention gives up (and the provider retries).
const MAX_ATTEMPTS: u32 = 10;

/// At most this many `In-Reply-To`/`References` ids are looked up per mail.
const MAX_THREAD_IDS: usize = 50;

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The message was stored on a ticket.
    Stored {
        /// The ticket.
        ticket_id: String,
        /// Whether this message opened it.
        new_ticket: bool,
    },
    /// The provider sent this message before; nothing was written.
    Duplicate,
    /// A STOP/START keyword: the contact's opt-out changed; no ticket.
    ContactUpdated,
}

/// Where a message goes, decided from the contact read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Join the contact's open ticket.
    Existing {
        /// The open ticket's id.
        ticket_id: String,
    },
    /// Join the ticket an email answers, whoever's open ticket it is.
    Thread {
        /// The ticket the mail's Message-ID references or `[#REF]` point at.
        ticket_id: String,
    },
    /// Open a new ticket.
    New {
        /// Its ids.
        ids: TicketIds,
        /// The closed ticket the contact still names, if any.
        replaces_closed: Option<String>,
    },
    /// Only record an opt-out or opt-in on the contact.
    ContactOnly(Keyword),
}

/// What each item of the transaction is, to read its cancellation reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The provider message id reservation.
    Dedup,
    /// The message item.
    Message,
    /// The ticket item.
    Ticket,
    /// The human reference reservation.
    Reference,
    /// The contact item.
    Contact,
    /// The email Message-ID → ticket mapping.
    Thread,
}

/// A transaction ready to send.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    /// The items, in order.
    pub items: Vec<TransactWriteItem>,
    /// The role of each item.
    pub roles: Vec<Role>,
}

/// Builds the transaction for `message` going to `target` on `table`. Pure: no I/O.
pub fn plan(table: &str, message: &InboundMessage, target: &Target, now: Timestamp) -> IngestPlan {
    let now_text = time(now);
    let contact_key = keys::contact(message.channel, &message.from.address);
    let mut items = Vec::with_capacity(5);
    let mut roles = Vec::with_capacity(5);

    let ticket_id = match target {
        Target::Existing { ticket_id } | Target::Thread { ticket_id } => Some(ticket_id.as_str()),
        Target::New { ids, .. } => Some(ids.id.as_str()),
        Target::ContactOnly(_) => None,
    };
    let mut dedup = Item::new();
    dedup.insert(
        PK.into(),
        s(keys::dedup(message.provider, &message.dedup_key())),
    );
    dedup.insert(SK.into(), s(keys::DEDUP_SK));
    dedup.insert("type".into(), s("dedup"));
    dedup.insert(
        keys::EXPIRES_AT.into(),
        n(now.as_second() + keys::DEDUP_TTL_SECONDS),
    );
    if let Some(id) = ticket_id {
        dedup.insert("ticket_id".into(), s(id));
    }
    items.push(put(table, dedup));
    roles.push(Role::Dedup);

    let Some(ticket_id) = ticket_id else {
        let Target::ContactOnly(keyword) = target else {
            unreachable!("only contact-only targets have no ticket")
        };
        items.push(opt_out_update(
            table,
            message,
            &contact_key,
            *keyword,
            &now_text,
        ));
        roles.push(Role::Contact);
        return IngestPlan { items, roles };
    };

    let message_sk = keys::message(&now_text, message.provider, &message.provider_message_id);
    items.push(put(
        table,
        message_item(message, ticket_id, &message_sk, &now_text),
    ));
    roles.push(Role::Message);

    if let Some(message_id) = message.email.as_ref().and_then(|e| e.message_id.as_deref()) {
        let mut thread = Item::new();
        thread.insert(PK.into(), s(keys::message_id(message_id)));
        thread.insert(SK.into(), s(keys::REF_SK));
        thread.insert("type".into(), s("msgid"));
        thread.insert("ticket_id".into(), s(ticket_id));
        // Unconditional: a Message-ID seen again (a resend, the same mail through two
        // providers) points at the ticket it joined last.
        items.push(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(thread))
                        .build()
                        .expect("put has table and item"),
                )
                .build(),
        );
        roles.push(Role::Thread);
    }

    match target {
        Target::Thread { ticket_id } => {
            items.push(ticket_join(table, ticket_id, &now_text, true));
            roles.push(Role::Ticket);
            let (set, values) = contact_set(message, &now_text);
            items.push(contact_builder(table, &contact_key, set, "", values));
            roles.push(Role::Contact);
        }
        Target::Existing { ticket_id } => {
            items.push(ticket_join(table, ticket_id, &now_text, false));
            roles.push(Role::Ticket);
            items.push(contact_update(
                table,
                message,
                &contact_key,
                ticket_id,
                &now_text,
            ));
            roles.push(Role::Contact);
        }
        Target::New {
            ids,
            replaces_closed,
        } => {
            let ticket = ticket_item(message, ids, &contact_key, &message_sk, &now_text);
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(table)
                            .set_item(Some(ticket))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .expect("ticket put has item"),
                    )
                    .build(),
            );
            roles.push(Role::Ticket);
            let mut reference = Item::new();
            reference.insert(PK.into(), s(keys::reference(&ids.reference)));
            reference.insert(SK.into(), s(keys::REF_SK));
            reference.insert("type".into(), s("ref"));
            reference.insert("ticket_id".into(), s(&ids.id));
            items.push(put(table, reference));
            roles.push(Role::Reference);
            items.push(contact_update_for_new(
                table,
                message,
                &contact_key,
                &ids.id,
                &now_text,
                replaces_closed.as_deref(),
            ));
            roles.push(Role::Contact);
        }
        Target::ContactOnly(_) => unreachable!("handled above"),
    }
    IngestPlan { items, roles }
}

/// Adds a message to a ticket that must still be open (and, for threaded email, still an
/// email ticket: a `[#REF]` typed into a subject must not reach an SMS conversation).
fn ticket_join(table: &str, ticket_id: &str, now: &str, email_only: bool) -> TransactWriteItem {
    let mut update = Update::builder()
        .table_name(table)
        .key(PK, s(keys::ticket(ticket_id)))
        .key(SK, s(keys::TICKET_SK))
        .update_expression(
            "SET message_count = message_count + :one, updated_at = :now, last_message_at = :now",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":now", s(now))
        .expression_attribute_values(":open", s("open"));
    update = if email_only {
        update
            .condition_expression("#status = :open AND channel = :email")
            .expression_attribute_values(":email", s("email"))
    } else {
        update.condition_expression("#status = :open")
    };
    TransactWriteItem::builder()
        .update(
            update
                .build()
                .expect("ticket update has key and expression"),
        )
        .build()
}

fn put(table: &str, item: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("put has table and item"),
        )
        .build()
}

fn message_item(message: &InboundMessage, ticket_id: &str, sk: &str, now: &str) -> Item {
    let mut item = Item::with_capacity(20);
    item.insert(PK.into(), s(keys::ticket(ticket_id)));
    item.insert(SK.into(), s(sk));
    item.insert("type".into(), s("message"));
    item.insert("ticket_id".into(), s(ticket_id));
    item.insert("channel".into(), s(message.channel.as_str()));
    item.insert("provider".into(), s(message.provider));
    item.insert(
        "provider_message_id".into(),
        s(&message.provider_message_id),
    );
    item.insert("from".into(), s(&message.from.address));
    if let Some(name) = &message.from.name {
        item.insert("from_name".into(), s(name));
    }
    item.insert("to".into(), s(&message.to));
    if let Some(subject) = &message.subject {
        item.insert("subject".into(), s(subject));
    }
    item.insert("body".into(), s(&message.body));
    if !message.attachments.is_empty() {
        let list = message
            .attachments
            .iter()
            .map(|a| {
                let mut m = Item::new();
                for (k, v) in [
                    ("url", &a.url),
                    ("content_type", &a.content_type),
                    ("name", &a.name),
                ] {
                    if let Some(v) = v {
                        m.insert(k.into(), s(v));
                    }
                }
                if let Some(size) = a.size {
                    m.insert("size".into(), n(size));
                }
                AttributeValue::M(m)
            })
            .collect();
        item.insert("attachments".into(), AttributeValue::L(list));
    }
    if let Some(lang) = &message.language {
        item.insert("language".into(), s(lang));
    }
    if let Some(k) = message.keyword {
        item.insert("keyword".into(), s(k.as_str()));
    }
    if let Some(token) = &message.reply_token {
        item.insert("reply_token".into(), s(token));
    }
    if let Some(email) = &message.email {
        email_attributes(&mut item, email);
    }
    item.insert("received_at".into(), s(now));
    item
}

fn email_attributes(item: &mut Item, email: &EmailDetails) {
    let list = |values: &[String]| AttributeValue::L(values.iter().map(s).collect());
    if let Some(id) = &email.message_id {
        item.insert("message_id".into(), s(id));
    }
    if !email.in_reply_to.is_empty() {
        item.insert("in_reply_to".into(), list(&email.in_reply_to));
    }
    if !email.references.is_empty() {
        item.insert("references".into(), list(&email.references));
    }
    if !email.cc.is_empty() {
        item.insert("cc".into(), list(&email.cc));
    }
    if !email.quoted.is_empty() {
        item.insert("quoted".into(), s(&email.quoted));
    }
    if let Some(reason) = &email.no_reply {
        item.insert("no_reply".into(), s(reason));
    }
    if let Some(flag) = &email.flagged {
        item.insert("flagged".into(), s(flag));
    }
}

fn ticket_item(
    message: &InboundMessage,
    ids: &TicketIds,
    contact_key: &str,
    message_sk: &str,
    now: &str,
) -> Item {
    let mut item = Item::with_capacity(20);
    item.insert(PK.into(), s(keys::ticket(&ids.id)));
    item.insert(SK.into(), s(keys::TICKET_SK));
    item.insert("type".into(), s("ticket"));
    item.insert("id".into(), s(&ids.id));
    item.insert("ref".into(), s(&ids.reference));
    item.insert("channel".into(), s(message.channel.as_str()));
    item.insert("provider".into(), s(message.provider));
    item.insert("contact_key".into(), s(contact_key));
    item.insert("contact".into(), s(&message.from.address));
    if let Some(name) = &message.from.name {
        item.insert("contact_name".into(), s(name));
    }
    item.insert("our_address".into(), s(&message.to));
    if let Some(subject) = &message.subject {
        item.insert("subject".into(), s(subject));
    }
    item.insert("status".into(), s("open"));
    if let Some(flag) = message.email.as_ref().and_then(|e| e.flagged.as_ref()) {
        item.insert("flagged".into(), s(flag));
    }
    item.insert("message_count".into(), n(1));
    item.insert("ack_status".into(), s(AckStatus::Pending.as_str()));
    item.insert("first_message_sk".into(), s(message_sk));
    item.insert("created_at".into(), s(now));
    item.insert("updated_at".into(), s(now));
    item.insert("last_message_at".into(), s(now));
    item
}

/// Common SET clause for a contact written with a message.
fn contact_set(
    message: &InboundMessage,
    now: &str,
) -> (String, Vec<(&'static str, AttributeValue)>) {
    let mut set = String::from(
        "SET #type = :contact, channel = :channel, address = :address, created_at = if_not_exists(created_at, :now), updated_at = :now",
    );
    let mut values = vec![
        (":contact", s("contact")),
        (":channel", s(message.channel.as_str())),
        (":address", s(&message.from.address)),
        (":now", s(now)),
    ];
    if let Some(name) = &message.from.name {
        set.push_str(", #name = :name");
        values.push((":name", s(name)));
    }
    if let Some(lang) = &message.language {
        set.push_str(", #language = :language");
        values.push((":language", s(lang)));
    }
    (set, values)
}

fn contact_builder(
    table: &str,
    contact_key: &str,
    update: String,
    condition: &str,
    values: Vec<(&'static str, AttributeValue)>,
) -> TransactWriteItem {
    let mut b = Update::builder()
        .table_name(table)
        .key(PK, s(contact_key))
        .key(SK, s(keys::CONTACT_SK))
        .update_expression(update)
        .expression_attribute_names("#type", "type");
    if values.iter().any(|(k, _)| *k == ":name") {
        b = b.expression_attribute_names("#name", "name");
    }
    if values.iter().any(|(k, _)| *k == ":language") {
        b = b.expression_attribute_names("#language", "language");
    }
    if !condition.is_empty() {
        b = b.condition_expression(condition);
    }
    for (k, v) in values {
        b = b.expression_attribute_values(k, v);
    }
    TransactWriteItem::builder()
        .update(b.build().expect("contact update has key and expression"))
        .build()
}

/// Contact update joining an existing ticket: it must still name that ticket.
fn contact_update(
    table: &str,
    message: &InboundMessage,
    contact_key: &str,
    ticket_id: &str,
    now: &str,
) -> TransactWriteItem {
    let (set, mut values) = contact_set(message, now);
    values.push((":ticket", s(ticket_id)));
    contact_builder(table, contact_key, set, "open_ticket = :ticket", values)
}

/// Contact update opening a new ticket: it must name no open ticket, or still the closed
/// one we saw.
fn contact_update_for_new(
    table: &str,
    message: &InboundMessage,
    contact_key: &str,
    ticket_id: &str,
    now: &str,
    replaces_closed: Option<&str>,
) -> TransactWriteItem {
    let (mut set, mut values) = contact_set(message, now);
    set.push_str(", open_ticket = :ticket");
    values.push((":ticket", s(ticket_id)));
    let condition = match replaces_closed {
        Some(closed) => {
            values.push((":closed", s(closed)));
            "attribute_not_exists(open_ticket) OR open_ticket = :closed"
        }
        None => "attribute_not_exists(open_ticket)",
    };
    contact_builder(table, contact_key, set, condition, values)
}

/// STOP/START: record the opt-out state; no ticket, no message.
fn opt_out_update(
    table: &str,
    message: &InboundMessage,
    contact_key: &str,
    keyword: Keyword,
    now: &str,
) -> TransactWriteItem {
    let (mut set, mut values) = contact_set(message, now);
    set.push_str(", opted_out = :opted_out, opted_out_changed_at = :now");
    values.push((":opted_out", AttributeValue::Bool(keyword == Keyword::Stop)));
    contact_builder(table, contact_key, set, "", values)
}

/// How a cancelled transaction should continue.
enum Next {
    Duplicate,
    TicketClosed,
    Retry,
    Fail(StoreError),
}

fn after_cancel(
    err: SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
    roles: &[Role],
) -> Next {
    let reasons: Vec<Option<String>> = match &err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => e
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().map(str::to_owned))
                .collect(),
            _ => return Next::Fail(classify(err)),
        },
        _ => return Next::Fail(classify(err)),
    };
    let failed = |role: Role, code: &str| {
        roles
            .iter()
            .zip(&reasons)
            .any(|(r, c)| *r == role && c.as_deref() == Some(code))
    };
    if failed(Role::Dedup, "ConditionalCheckFailed") {
        return Next::Duplicate;
    }
    if reasons
        .iter()
        .flatten()
        .any(|c| c == "ThrottlingError" || c == "ProvisionedThroughputExceeded")
    {
        return Next::Fail(StoreError::Unavailable("throttled".into()));
    }
    if failed(Role::Ticket, "ConditionalCheckFailed") && roles.contains(&Role::Reference) {
        // A new ticket id collided: astronomically unlikely, but a fresh id fixes it.
        return Next::Retry;
    }
    if failed(Role::Ticket, "ConditionalCheckFailed") {
        return Next::TicketClosed;
    }
    if failed(Role::Contact, "ConditionalCheckFailed")
        || failed(Role::Reference, "ConditionalCheckFailed")
        || reasons.iter().flatten().any(|c| c == "TransactionConflict")
    {
        return Next::Retry;
    }
    Next::Fail(StoreError::Rejected(format!(
        "transaction cancelled: {reasons:?}"
    )))
}

impl Store {
    /// Stores one message exactly once: on the contact's open ticket, or on a new one.
    pub async fn ingest(&self, message: &InboundMessage) -> Result<IngestOutcome, StoreError> {
        let contact_key = keys::contact(message.channel, &message.from.address);
        let mut known_closed: Option<String> = None;
        let mut thread = match &message.email {
            Some(email) => self.thread_of(email, message.subject.as_deref()).await?,
            None => None,
        };
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let target = match (message.keyword, &thread) {
                (Some(k @ (Keyword::Stop | Keyword::Start)), _) => Target::ContactOnly(k),
                (_, Some(ticket_id)) => Target::Thread {
                    ticket_id: ticket_id.clone(),
                },
                _ => match self.open_ticket_of(&contact_key).await? {
                    Some(open) if known_closed.as_deref() != Some(open.as_str()) => {
                        Target::Existing { ticket_id: open }
                    }
                    other => Target::New {
                        ids: TicketIds::generate(),
                        replaces_closed: other,
                    },
                },
            };
            let plan = plan(&self.table, message, &target, message.received_at);
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(plan.items))
                .send()
                .await;
            match result {
                Ok(_) => {
                    return Ok(match target {
                        Target::Existing { ticket_id } | Target::Thread { ticket_id } => {
                            IngestOutcome::Stored {
                                ticket_id,
                                new_ticket: false,
                            }
                        }
                        Target::New { ids, .. } => IngestOutcome::Stored {
                            ticket_id: ids.id,
                            new_ticket: true,
                        },
                        Target::ContactOnly(_) => IngestOutcome::ContactUpdated,
                    });
                }
                Err(err) => match after_cancel(err, &plan.roles) {
                    Next::Duplicate => return Ok(IngestOutcome::Duplicate),
                    Next::TicketClosed => match target {
                        Target::Existing { ticket_id } => known_closed = Some(ticket_id),
                        // The answered ticket is closed (or not email): the mail goes the
                        // usual way, to the contact's open ticket or a new one.
                        Target::Thread { .. } => thread = None,
                        _ => {}
                    },
                    Next::Retry => {}
                    Next::Fail(e) => return Err(e),
                },
            }
        }
        Err(StoreError::Unavailable(format!(
            "contention: no consistent write after {MAX_ATTEMPTS} attempts"
        )))
    }

    /// The ticket an email answers: a Message-ID it references that Intake has seen
    /// (a customer's mail or our ack), else a `[#REF]` in its subject.
    async fn thread_of(
        &self,
        email: &EmailDetails,
        subject: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        // A long References chain is history; the newest ids decide, and one BatchGetItem
        // (at most 100 keys) reads them all.
        let mut wanted: Vec<String> = Vec::new();
        for id in email.thread_ids() {
            let key = keys::message_id(id);
            if !wanted.contains(&key) && wanted.len() < MAX_THREAD_IDS {
                wanted.push(key);
            }
        }
        if !wanted.is_empty() {
            let found = self.ticket_ids_of(&wanted).await?;
            if let Some(ticket_id) = wanted.iter().find_map(|k| found.get(k)) {
                return Ok(Some(ticket_id.clone()));
            }
        }
        match subject.and_then(crate::ids::reference_in_subject) {
            Some(reference) => self.ticket_id_of_reference(&reference).await,
            None => Ok(None),
        }
    }

    /// `MSGID#` keys → the tickets they map to (keys not found are absent).
    async fn ticket_ids_of(
        &self,
        keys_wanted: &[String],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut request = KeysAndAttributes::builder()
            .consistent_read(true)
            .projection_expression("pk, ticket_id");
        for key in keys_wanted {
            request = request.keys(
                [(PK.to_owned(), s(key)), (SK.to_owned(), s(keys::REF_SK))]
                    .into_iter()
                    .collect(),
            );
        }
        let request = request
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        let mut pending = Some(
            [(self.table.clone(), request)]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
        let mut found = std::collections::HashMap::new();
        // DynamoDB may hand back unprocessed keys under load; ask again, a bounded number
        // of times, before letting the provider retry.
        for attempt in 0..MAX_ATTEMPTS {
            let Some(items) = pending.take().filter(|p| !p.is_empty()) else {
                break;
            };
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(items))
                .send()
                .await
                .map_err(classify)?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                if let (Some(pk), Some(ticket)) = (
                    super::attrs::opt_s(&item, PK),
                    super::attrs::opt_s(&item, "ticket_id"),
                ) {
                    found.insert(pk, ticket);
                }
            }
            pending = out.unprocessed_keys;
        }
        if pending.is_some_and(|p| !p.is_empty()) {
            return Err(StoreError::Unavailable("thread lookup throttled".into()));
        }
        Ok(found)
    }

    async fn open_ticket_of(&self, contact_key: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(contact_key))
            .key(SK, s(keys::CONTACT_SK))
            .projection_expression("open_ticket")
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out
            .item
            .and_then(|item| super::attrs::opt_s(&item, "open_ticket")))
    }
}

/// Exponential backoff with jitter, capped, so racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.min(6);
    let jitter = u64::from(ulid::Ulid::new().random() as u16) % base.max(1);
    Duration::from_millis((base + jitter).min(400))
}
