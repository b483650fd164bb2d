//! Ports for the local servers a stack starts (webhooks, recorder, DynamoDB Local, the SES
//! emulator, moto). A port is chosen before its server binds it, and the emulators are child
//! processes that can only be told a number, so two things must not happen in that gap:
//! - another stack of the same process (tests start several side by side) is handed the same
//!   port. The "bind port 0 and release it" idiom allows that, and a child that then fails to
//!   bind goes unnoticed, because its readiness check is answered by the other stack's server.
//!   Two stacks would then share one DynamoDB Local, and one stack's acknowledger could answer
//!   the other's tickets.
//! - an outgoing connection takes the port as its local end. The kernel picks those from the
//!   ephemeral range, so ports are chosen below it.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// The lowest port handed out: above the well-known and commonly configured ones.
const LOWEST: u16 = 20_000;
/// Used when the kernel's ephemeral range cannot be read (Linux's default starts here).
const DEFAULT_EPHEMERAL_START: u16 = 32_768;
/// Random candidates tried before asking the kernel for any free port.
const ATTEMPTS: usize = 500;

/// Every port this process has handed out; none is handed out twice.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A TCP port that no server listens on, that this process has not handed out before, and
/// (where the kernel's range is known) below the ephemeral ports.
pub fn free_port() -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    let below = ephemeral_start().max(LOWEST + 1);
    let span = u64::from(below - LOWEST);
    let random = RandomState::new();
    let candidates = (0..ATTEMPTS as u64).map(|i| LOWEST + (random.hash_one(i) % span) as u16);
    for port in candidates {
        if !handed_out.contains(&port) && bindable(port) {
            handed_out.insert(port);
            return Ok(port);
        }
    }
    // Everything below the range is taken: any port the kernel offers, still never twice.
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
}

/// Fails, naming `what`, when another process already listens on `port`. An emulator started
/// there would exit at once, and its readiness check would be answered by that process.
pub fn ensure_free(port: u16, what: &str) -> crate::DevResult<()> {
    if bindable(port) {
        Ok(())
    } else {
        Err(format!("port {port} is in use by another process: {what} cannot listen there").into())
    }
}

/// Whether nothing holds `port` on any interface (DynamoDB Local binds all of them).
fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
        && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The first port of the kernel's ephemeral range (Linux: `ip_local_port_range`).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

#[cfg(test)]
mod tests {
    use super::{LOWEST, ephemeral_start, free_port};
    use std::collections::HashSet;

    #[test]
    fn no_port_is_handed_out_twice_and_each_can_be_bound() {
        let ports: Vec<u16> = (0..300).map(|_| free_port().expect("a port")).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        for port in ports.iter().take(20) {
            std::net::TcpListener::bind(("127.0.0.1", *port)).expect("the port is free");
        }
    }

    #[test]
    fn ports_are_chosen_below_the_ephemeral_range() {
        let below = ephemeral_start();
        if below > LOWEST + 1000 {
            for _ in 0..50 {
                let port = free_port().expect("a port");
                assert!((LOWEST..below).contains(&port), "{port} not below {below}");
            }
        }
    }

    #[test]
    fn a_port_in_use_is_not_handed_out() {
        let held = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let taken = held.local_addr().expect("addr").port();
        for _ in 0..200 {
            assert_ne!(free_port().expect("a port"), taken);
        }
    }

    #[tokio::test]
    async fn no_emulator_starts_where_another_process_listens() {
        let held = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = held.local_addr().expect("addr").port();
        let root = crate::project_root().expect("the project root");
        let errors = [
            crate::dynamo_local::DynamoLocal::start(port, None)
                .await
                .err(),
            crate::moto_local::MotoLocal::start_on(port).await.err(),
            crate::ses_local::SesLocal::start(&root, port).await.err(),
        ];
        for error in errors {
            // Not the emulator's own "address in use" as it exits: refused before it starts.
            let error = error
                .expect("no emulator starts on a port in use")
                .to_string();
            assert!(error.contains("is in use by another process"), "{error}");
        }
    }
}
