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
//!
//! Where the parts are: `plan.rs` builds the transaction (pure, no I/O) from the item shapes
//! of `items.rs` (message, new ticket) and the contact updates of `contact.rs`; `thread.rs`
//! finds the ticket an email answers (step 4); `cancel.rs` reads a cancelled transaction's
//! reasons (step 5). This file reads the contact and runs the bounded loop.

use std::time::Duration;

use crate::ids::TicketIds;
use crate::keywords::Keyword;
use crate::model::InboundMessage;
use crate::store::attrs::{opt_s, s};
use crate::store::keys::{self, PK, SK};
use crate::store::{Store, StoreError, classify};
use cancel::{Next, after_cancel};

mod cancel;
mod contact;
mod items;
mod plan;
mod thread;

pub use plan::{IngestPlan, Role, Target, plan};

/// Attempts before an ingest under heavy contention gives up (and the provider retries).
const MAX_ATTEMPTS: u32 = 10;

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
        Ok(out.item.and_then(|item| opt_s(&item, "open_ticket")))
    }
}

/// Exponential backoff with jitter, capped, so racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.min(6);
    let jitter = u64::from(ulid::Ulid::new().random() as u16) % base.max(1);
    Duration::from_millis((base + jitter).min(400))
}
