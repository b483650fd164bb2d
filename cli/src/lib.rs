//! The local stack behind `intake dev`, shared with the end-to-end tests: DynamoDB Local, the
//! webhook server, the stream poller that feeds the acknowledger as Lambda would, and the
//! recorder that stands in for provider APIs.

pub mod dotenv;
pub mod dynamo_local;
pub mod poller;
pub mod recorder;
pub mod server;
pub mod ses_local;
pub mod simulate;
pub mod stack;

/// Errors of the developer tools, with a message meant for a person.
pub type DevResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a local process).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
