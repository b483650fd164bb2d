//! Threading: the ticket an email answers, by the Message-IDs it references (one
//! BatchGetItem of `MSGID#` items, newest first) or a `[#REF]` in its subject.

use super::{MAX_ATTEMPTS, backoff};
use crate::model::EmailDetails;
use crate::store::attrs::{opt_s, s};
use crate::store::keys::{self, PK, SK};
use crate::store::{Store, StoreError, classify};

/// At most this many `In-Reply-To`/`References` ids are looked up per mail.
const MAX_THREAD_IDS: usize = 50;

impl Store {
    /// The ticket an email answers: a Message-ID it references that Intake has seen
    /// (a customer's mail or our ack), else a `[#REF]` in its subject.
    pub(super) async fn thread_of(
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
                if let (Some(pk), Some(ticket)) = (opt_s(&item, PK), opt_s(&item, "ticket_id")) {
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
}
