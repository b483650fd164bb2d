//! The boxed future that async trait methods return, so providers, senders and the SNS
//! certificate sources can live behind `dyn`. A leaf: it imports nothing of the crate.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future borrowing for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
