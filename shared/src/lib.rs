//! Intake: the front door of a helpdesk on AWS.
//!
//! Providers (Twilio, Amazon SES, Meta, Telegram, ...) call our webhooks. Each call is
//! verified on its raw bytes ([`providers`]), turned into normalized
//! [`model::InboundMessage`]s, stored as tickets in one DynamoDB table ([`store`]) with a
//! single transaction per message, and acknowledged once on the channel the customer used
//! ([`ack`]).
//!
//! Everything here is plain Rust that can be tested without AWS; the Lambda adapters in
//! [`lambda`] and the SDK clients built in [`aws`] are the only edges.

pub mod ack;
pub mod archive;
pub mod aws;
pub mod aws_calls;
pub mod config;
pub mod email;
pub mod error;
pub mod future;
pub mod grants;
pub mod ids;
pub mod keywords;
pub mod lambda;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod phone;
pub mod providers;
pub mod replay;
pub mod reply;
pub mod request;
pub mod sms;
pub mod sns;
pub mod store;
pub mod telemetry;
pub mod verify;
pub mod webhook;

pub use config::Config;
pub use error::WebhookError;
pub use model::{Channel, InboundMessage};
pub use reply::Reply;
pub use request::WebhookRequest;
pub use webhook::WebhookService;
