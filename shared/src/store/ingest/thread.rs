//! Threading: the ticket an email answers, by the Message-IDs it references (one
//! BatchGetItem of `MSGID#` items, newest first) or a `[#REF]` in its subject.

use crate::model::EmailDetails;
use crate::store::attrs::opt_s;
use crate::store::keys::{self, PK};
use crate::store::{Store, StoreError};

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

    /// `MSGID#` keys → the tickets they map to (keys not found are absent), in one
    /// consistent BatchGetItem ([`Store::batch_get`], which asks again for unprocessed keys).
    async fn ticket_ids_of(
        &self,
        keys_wanted: &[String],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let wanted: Vec<(String, &str)> = keys_wanted
            .iter()
            .map(|key| (key.clone(), keys::REF_SK))
            .collect();
        Ok(self
            .batch_get(&wanted)
            .await?
            .iter()
            .filter_map(|item| Some((opt_s(item, PK)?, opt_s(item, "ticket_id")?)))
            .collect())
    }
}
