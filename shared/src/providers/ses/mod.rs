//! Amazon SES, both ways. One provider, one folder: each file is a part a newcomer looks for.
//!
//! Inbound (`POST /email/ses`, `inbound.rs`): a receipt rule publishes each mail to an SNS
//! topic whose HTTPS subscription calls us. Only configured topics are accepted; each
//! delivery's SNS signature is verified (certificate fetched from SNS once per process);
//! subscription confirmations are confirmed once (both shared with every SNS-delivered
//! provider: `providers/sns_inbound`); notifications
//! (`notification.rs`) carry the raw mail inline (SNS action) or name the S3 object a receipt
//! rule stored it in (`bucket.rs`). A spam or virus `FAIL` verdict stores the mail flagged,
//! never answered.
//!
//! Outbound (`sender.rs`): acknowledgements through SES v2 `SendEmail`, threaded into the
//! customer's conversation and marked as automatic (RFC 3834, `ack_email.rs`), so neither their
//! client nor their own auto-responder mistakes it for a person; sent only from addresses
//! an SES identity covers (`identity.rs`).

mod ack_email;
mod bucket;
mod identity;
mod inbound;
mod notification;
mod sender;

pub use ack_email::{AckEmail, one_line};
pub use bucket::MailBucket;
pub use identity::{identity_covers, senders_outside};
pub use inbound::Ses;
pub use notification::{SesAction, SesMail, SesNotification, SesReceipt, Verdict, inbound_mail};
pub use sender::SesSender;

/// Route name of SES (inbound through SNS, outbound through SES v2).
pub const PROVIDER: &str = "ses";
