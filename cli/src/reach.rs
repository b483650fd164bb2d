//! Errors that name their cause: which part of the local stack did not answer, and where,
//! instead of `error sending request for url (...)` or an SDK's `DispatchFailure`.

use std::time::Duration;

use crate::DevResult;

/// A part of the local stack that does not answer.
#[derive(Debug, thiserror::Error)]
pub enum NotAnswering {
    /// An HTTP service: the webhook server, the recorder, the SES emulator.
    #[error("nothing answers on {url} ({what}) — is `make dev` running?")]
    Http {
        /// What should be there ("the webhook server").
        what: &'static str,
        /// Its base URL.
        url: String,
    },
    /// The table's DynamoDB endpoint.
    #[error("DynamoDB Local does not answer on {endpoint} — is `make dev` running?")]
    Dynamo {
        /// `AWS_ENDPOINT_URL_DYNAMODB`.
        endpoint: String,
    },
}

/// `err`, from a request to `what` at `url`, as [`NotAnswering`] when the connection itself
/// failed (refused, unreachable, no such host); any other error unchanged.
pub fn http(
    what: &'static str,
    url: &str,
    err: Box<dyn std::error::Error + Send + Sync>,
) -> Box<dyn std::error::Error + Send + Sync> {
    if err
        .downcast_ref::<reqwest::Error>()
        .is_some_and(|e| e.is_connect())
    {
        let url = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| url.to_owned());
        Box::new(NotAnswering::Http { what, url })
    } else {
        err
    }
}

/// The DynamoDB endpoint the SDK is pointed at (`AWS_ENDPOINT_URL_DYNAMODB`, else
/// `AWS_ENDPOINT_URL`), if any: none means AWS itself.
pub fn dynamo_endpoint() -> Option<String> {
    ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// `err`, from reading `store`'s table, as [`NotAnswering::Dynamo`] when the store was
/// unavailable and nothing accepts a connection on the local endpoint; otherwise the error
/// with the table's name (`table intake-prod-Table: DynamoDB rejected ...`).
pub async fn table(
    store: &intake::store::Store,
    err: intake::store::StoreError,
) -> Box<dyn std::error::Error + Send + Sync> {
    if err.is_retryable()
        && let Some(endpoint) = dynamo_endpoint()
        && !accepts(&endpoint).await
    {
        return Box::new(NotAnswering::Dynamo { endpoint });
    }
    format!("table {}: {err}", store.table()).into()
}

/// Whether something accepts a TCP connection at `url`'s host and port within a second.
pub async fn accepts(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect((host, port))
        )
        .await,
        Ok(Ok(_))
    )
}

/// A port `intake dev` needs, with what needs it and the setting that chooses it.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    /// The port.
    pub port: u16,
    /// What listens there ("the webhook server").
    pub what: &'static str,
    /// The setting that chooses it ("INTAKE_PORT").
    pub setting: &'static str,
}

/// Fails, naming the port and what wanted it, when one of `ports` is in use on this machine.
pub fn ports_free(ports: &[Wanted]) -> DevResult<()> {
    for wanted in ports {
        if let Err(e) = crate::ports::bind(wanted.port) {
            let Wanted {
                port,
                what,
                setting,
            } = wanted;
            return Err(if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "port {port} ({what}, {setting}) is in use: stop what holds it (another \
                     `intake dev`?) or choose another port with {setting} in .env"
                )
            } else {
                format!("port {port} ({what}, {setting}) cannot be used: {e}")
            }
            .into());
        }
    }
    Ok(())
}
