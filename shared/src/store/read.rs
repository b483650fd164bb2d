//! Reading tickets, messages and contacts back.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{Item, get_bool, get_n, opt_s, req_s, s};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, classify};
use crate::keywords::Keyword;
use crate::model::{AckStatus, Attachment, Channel, Contact, RecentAck, StoredMessage, Ticket};

/// What an ack decision reads, all consistent: the ticket (when asked for), its contact, its
/// first message.
#[derive(Debug, Default)]
pub struct AckReads {
    /// The ticket as it is now; `None` when not asked for or gone.
    pub ticket: Option<Ticket>,
    /// The contact; `None` when it has no item.
    pub contact: Option<Contact>,
    /// The ticket's first message; `None` when gone.
    pub first: Option<StoredMessage>,
}

/// Times a BatchGetItem is sent again for the keys DynamoDB left unprocessed (it does so
/// when throttled) before the ack is left for its record's retry.
const BATCH_ATTEMPTS: u32 = 4;

/// The contact's acks: a map of ticket id to time, or the list Intake stored before it.
fn recent_acks(item: &Item) -> Vec<RecentAck> {
    let parse = |v: &AttributeValue| v.as_s().ok()?.parse().ok();
    match item.get("recent_acks") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(key, at)| {
                Some(RecentAck {
                    at: parse(at)?,
                    key: Some(key.clone()),
                })
            })
            .collect(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|at| Some(RecentAck::at(parse(at)?)))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn contact_from(i: &Item) -> Contact {
    Contact {
        channel: opt_s(i, "channel").and_then(|c| c.parse().ok()),
        address: opt_s(i, "address").unwrap_or_default(),
        name: opt_s(i, "name"),
        language: opt_s(i, "language"),
        opted_out: get_bool(i, "opted_out"),
        open_ticket: opt_s(i, "open_ticket"),
        recent_acks: recent_acks(i),
    }
}

pub(super) fn ticket_from(item: &Item) -> Result<Ticket, StoreError> {
    let channel = req_s(item, "channel")?;
    let ack = req_s(item, "ack_status")?;
    Ok(Ticket {
        id: req_s(item, "id")?,
        reference: req_s(item, "ref")?,
        channel: channel
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unknown channel {channel}")))?,
        provider: req_s(item, "provider")?,
        contact: req_s(item, "contact")?,
        contact_name: opt_s(item, "contact_name"),
        our_address: req_s(item, "our_address")?,
        subject: opt_s(item, "subject"),
        status: req_s(item, "status")?,
        message_count: get_n(item, "message_count"),
        ack_status: AckStatus::parse(&ack)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown ack status {ack}")))?,
        ack_reason: opt_s(item, "ack_reason"),
        flagged: opt_s(item, "flagged"),
        ack_provider_message_id: opt_s(item, "ack_provider_message_id"),
        first_message_sk: req_s(item, "first_message_sk")?,
        created_at: req_s(item, "created_at")?,
        updated_at: req_s(item, "updated_at")?,
    })
}

fn message_from(item: &Item) -> Result<StoredMessage, StoreError> {
    let attachments = match item.get("attachments") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|v| match v {
                AttributeValue::M(m) => Some(Attachment {
                    url: opt_s(m, "url"),
                    content_type: opt_s(m, "content_type"),
                    name: opt_s(m, "name"),
                    size: m.get("size").map(|_| get_n(m, "size")),
                }),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(StoredMessage {
        ticket_id: req_s(item, "ticket_id")?,
        provider: req_s(item, "provider")?,
        provider_message_id: req_s(item, "provider_message_id")?,
        from: req_s(item, "from")?,
        from_name: opt_s(item, "from_name"),
        to: req_s(item, "to")?,
        subject: opt_s(item, "subject"),
        body: opt_s(item, "body").unwrap_or_default(),
        attachments,
        received_at: req_s(item, "received_at")?,
        keyword: opt_s(item, "keyword").and_then(|k| Keyword::parse(&k)),
        language: opt_s(item, "language"),
        reply_token: opt_s(item, "reply_token"),
        message_id: opt_s(item, "message_id"),
        references: strings(item, "references"),
        cc: strings(item, "cc"),
        quoted: opt_s(item, "quoted"),
        no_reply: opt_s(item, "no_reply"),
    })
}

/// The contact keys an address typed by a person may be stored under, on every channel.
///
/// A phone number, in any spelling [`crate::phone::e164`] reads (`+62 812-3456-7890`,
/// `6281234567890`, `0812…` with `country_code`), is its person's keys
/// ([`phone_contact_keys`]). `whatsapp:<number>` is both WhatsApp forms; an email address is
/// the email channel's (case-insensitive); any other `platform:id` (`telegram:123`,
/// `messenger:<PSID>`) is looked up as typed on the social and SMS channels, and anything
/// else as typed on every channel.
fn contact_keys(typed: &str, country_code: &str) -> Vec<String> {
    let typed = typed.trim();
    let mut out = match typed.split_once(':') {
        Some((scheme, number)) if scheme.eq_ignore_ascii_case("whatsapp") => {
            match crate::phone::e164(number, country_code) {
                Some(number) => phone_contact_keys(&number)[1..].to_vec(),
                None => vec![keys::contact(Channel::Social, typed)],
            }
        }
        Some(_) => vec![
            keys::contact(Channel::Social, typed),
            keys::contact(Channel::Sms, typed),
        ],
        None if typed.contains('@') => vec![keys::contact(Channel::Email, typed)],
        None => match crate::phone::e164(typed, country_code) {
            Some(number) => phone_contact_keys(&number).to_vec(),
            None => Channel::ALL
                .iter()
                .map(|c| keys::contact(*c, typed))
                .collect(),
        },
    };
    out.dedup();
    out
}

/// Every contact key of the person with this E.164 number (`+62…`): an SMS sender through
/// any SMS provider (`+62…`, the webhook writes every SMS number so), a WhatsApp sender
/// through Twilio (`whatsapp:+62…`, the SMS channel) and through Meta (`whatsapp:62…`, the
/// social channel). The customer is these keys: no item of its own links them, so no write
/// of any message has to keep one up to date.
pub fn phone_contact_keys(number: &str) -> [String; 3] {
    let digits = number.trim_start_matches('+');
    [
        keys::contact(Channel::Sms, &format!("+{digits}")),
        keys::contact(
            Channel::Sms,
            &format!("{}+{digits}", crate::phone::WHATSAPP_PREFIX),
        ),
        keys::contact(
            Channel::Social,
            &format!("{}{digits}", crate::phone::WHATSAPP_PREFIX),
        ),
    ]
}

/// A list of strings; absent or of another type reads as empty.
fn strings(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    }
}

impl Store {
    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?
            .item)
    }

    /// A ticket by id.
    pub async fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        self.get(keys::ticket(id), keys::TICKET_SK)
            .await?
            .map(|i| ticket_from(&i))
            .transpose()
    }

    /// The ticket id a human reference (`K7F3Q2`) stands for.
    pub async fn ticket_id_of_reference(
        &self,
        reference: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .get(
                keys::reference(&reference.to_ascii_uppercase()),
                keys::REF_SK,
            )
            .await?
            .and_then(|i| opt_s(&i, "ticket_id")))
    }

    /// One message of a ticket by its sort key.
    pub async fn message(
        &self,
        ticket_id: &str,
        sk: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.get(keys::ticket(ticket_id), sk)
            .await?
            .map(|i| message_from(&i))
            .transpose()
    }

    /// Every message of a ticket, oldest first.
    pub async fn messages(&self, ticket_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :msg)")
            .expression_attribute_values(":pk", s(keys::ticket(ticket_id)))
            .expression_attribute_values(":msg", s(keys::MESSAGE_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            out.push(message_from(&item.map_err(classify)?)?);
        }
        Ok(out)
    }

    /// A contact by channel and address.
    pub async fn contact(
        &self,
        channel: Channel,
        address: &str,
    ) -> Result<Option<Contact>, StoreError> {
        Ok(self
            .get(keys::contact(channel, address), keys::CONTACT_SK)
            .await?
            .map(|i| contact_from(&i)))
    }

    /// What deciding `ticket`'s ack needs, in one consistent BatchGetItem: its contact (a
    /// STOP may have just arrived), its first message and, with `reread_ticket`, the ticket
    /// itself as it is now (`ticket` may be a stream image, as old as the record).
    pub async fn ack_reads(
        &self,
        ticket: &Ticket,
        reread_ticket: bool,
    ) -> Result<AckReads, StoreError> {
        let ticket_pk = keys::ticket(&ticket.id);
        let contact_pk = keys::contact(ticket.channel, &ticket.contact);
        let mut wanted = vec![
            (contact_pk.clone(), keys::CONTACT_SK),
            (ticket_pk.clone(), ticket.first_message_sk.as_str()),
        ];
        if reread_ticket {
            wanted.push((ticket_pk.clone(), keys::TICKET_SK));
        }
        let mut reads = AckReads::default();
        for item in self.batch_get(&wanted).await? {
            let (pk, sk) = (opt_s(&item, PK), opt_s(&item, SK));
            match (pk.as_deref(), sk.as_deref()) {
                (Some(pk), _) if pk == contact_pk => reads.contact = Some(contact_from(&item)),
                (Some(pk), Some(keys::TICKET_SK)) if pk == ticket_pk => {
                    reads.ticket = Some(ticket_from(&item)?)
                }
                (Some(pk), _) if pk == ticket_pk => reads.first = Some(message_from(&item)?),
                _ => {}
            }
        }
        Ok(reads)
    }

    /// The items of `wanted` (partition and sort keys) that exist, read consistently in one
    /// BatchGetItem; keys DynamoDB leaves unprocessed are asked for again, a bounded number
    /// of times.
    pub(crate) async fn batch_get(
        &self,
        wanted: &[(String, &str)],
    ) -> Result<Vec<Item>, StoreError> {
        let mut keys: Vec<Item> = wanted
            .iter()
            .map(|(pk, sk)| [(PK.to_owned(), s(pk)), (SK.to_owned(), s(*sk))].into())
            .collect();
        let mut found = Vec::new();
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(classify)?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            keys = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if keys.is_empty() {
                return Ok(found);
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed".into(),
        ))
    }

    /// The tickets of one contact key, newest first: a Query of the `by_contact` index.
    pub async fn tickets_of_contact_key(
        &self,
        contact_key: &str,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::BY_CONTACT_INDEX)
            .key_condition_expression("contact_key = :contact")
            .expression_attribute_values(":contact", s(contact_key))
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            out.push(ticket_from(&item.map_err(classify)?)?);
        }
        Ok(out)
    }

    /// Every ticket of the contact a person typed, on every channel, newest first: a phone
    /// number finds its SMS and WhatsApp tickets (Twilio's `whatsapp:+62…` and Meta's
    /// `whatsapp:62…`; `0812…` is read with `country_code`), an email address its email
    /// tickets whatever its case, and a
    /// `platform:id` (`telegram:123`) is taken as stored. One Query of the `by_contact`
    /// index per key the address may be stored under.
    pub async fn contact_tickets(
        &self,
        typed: &str,
        country_code: &str,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut out = Vec::new();
        for key in contact_keys(typed, country_code) {
            out.extend(self.tickets_of_contact_key(&key).await?);
        }
        out.sort_by(|a, b| (&b.created_at, &b.id).cmp(&(&a.created_at, &a.id)));
        Ok(out)
    }

    /// Every ticket, newest first. A full scan: for tools and small tables, not for request
    /// paths.
    pub async fn all_tickets(&self) -> Result<Vec<Ticket>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :meta AND begins_with(pk, :ticket)")
            .expression_attribute_values(":meta", s(keys::TICKET_SK))
            .expression_attribute_values(":ticket", s("TICKET#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            out.push(ticket_from(&item.map_err(classify)?)?);
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::contact_keys;

    #[test]
    fn a_phone_number_is_looked_up_as_sms_and_both_whatsapp_forms() {
        let keys = [
            "CONTACT#sms#+6281234567890",
            "CONTACT#sms#whatsapp:+6281234567890",
            "CONTACT#social#whatsapp:6281234567890",
        ];
        for typed in [
            "+6281234567890",
            " +62 812-3456-7890 ",
            "6281234567890",
            "081234567890",
        ] {
            assert_eq!(contact_keys(typed, "62"), keys, "{typed}");
        }
        assert_eq!(contact_keys("whatsapp:+6281234567890", "62"), keys[1..]);
        assert_eq!(contact_keys("WhatsApp:6281234567890", "62"), keys[1..]);
        assert_eq!(contact_keys("whatsapp:081234567890", "62"), keys[1..]);
    }

    #[test]
    fn other_addresses_are_looked_up_as_typed() {
        assert_eq!(
            contact_keys("Budi@Example.co.id", "62"),
            ["CONTACT#email#budi@example.co.id"]
        );
        assert_eq!(
            contact_keys("telegram:123456", "62"),
            [
                "CONTACT#social#telegram:123456",
                "CONTACT#sms#telegram:123456"
            ]
        );
        assert_eq!(
            contact_keys("budi", "62"),
            [
                "CONTACT#sms#budi",
                "CONTACT#email#budi",
                "CONTACT#social#budi"
            ]
        );
    }
}
