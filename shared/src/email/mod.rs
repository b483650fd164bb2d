//! Mail as a helpdesk needs it: raw MIME parsed into sender, threading ids, readable text
//! (the customer's new words apart from the quoted history), attachment metadata and the
//! markers that say a mail must never be answered automatically; plus the
//! `multipart/form-data` bodies Mailgun and SendGrid post mail in.

mod form;
mod loops;
mod mime;
mod quote;

pub use form::{FormField, encode_form_data, parse_form_data};
pub use loops::{loop_reason, loop_reason_for_envelope_sender};
pub use mime::{MimeError, ParsedEmail, parse_mime};
pub use quote::split_quoted;
