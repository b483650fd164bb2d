//! One person behind a phone number, on every channel: the SMS contact every SMS provider
//! shares, and the WhatsApp contacts of Twilio and Meta, with all their tickets.

use serde::Serialize;

use super::attrs::opt_s;
use super::keys::{self, PK};
use super::read::{contact_from, phone_contact_keys};
use super::{Store, StoreError};
use crate::model::{Contact, Ticket};

/// A customer, keyed by their E.164 number.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    /// The number, in E.164 (`+6281234567890`).
    pub number: String,
    /// The contacts stored under that number, one per channel identity (SMS, WhatsApp
    /// through Twilio, WhatsApp through Meta), each with its own opt-out: a STOP by SMS
    /// stops SMS acks through every SMS provider, not WhatsApp's.
    pub contacts: Vec<Contact>,
    /// Every ticket of those contacts, newest first.
    pub tickets: Vec<Ticket>,
}

impl Store {
    /// The customer with this E.164 number (see [`crate::phone::e164`]): their contacts in
    /// one consistent BatchGetItem, their tickets by a Query of the `by_contact` index per
    /// contact key.
    pub async fn customer(&self, number: &str) -> Result<Customer, StoreError> {
        let contact_keys = phone_contact_keys(number);
        let wanted: Vec<(String, &str)> = contact_keys
            .iter()
            .map(|k| (k.clone(), keys::CONTACT_SK))
            .collect();
        let mut found = self.batch_get(&wanted).await?;
        // In the order of the keys: SMS first, then Twilio's WhatsApp, then Meta's.
        found.sort_by_key(|item| {
            let pk = opt_s(item, PK);
            contact_keys.iter().position(|k| Some(k) == pk.as_ref())
        });
        let mut tickets = Vec::new();
        for key in &contact_keys {
            tickets.extend(self.tickets_of_contact_key(key).await?);
        }
        tickets.sort_by(|a, b| (&b.created_at, &b.id).cmp(&(&a.created_at, &a.id)));
        Ok(Customer {
            number: number.to_owned(),
            contacts: found.iter().map(contact_from).collect(),
            tickets,
        })
    }
}
