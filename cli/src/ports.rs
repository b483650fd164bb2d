//! Ports for the local servers a stack or a test starts (webhooks, recorder, DynamoDB Local,
//! the SES emulator, moto, cargo-lambda). A port is chosen before its server binds it, and the
//! emulators are child processes that can only be told a number, so two things must not
//! happen in that gap:
//! - another stack of the same process (tests start several side by side) is handed the same
//!   port. The "bind port 0 and release it" idiom allows that, and a child that then fails to
//!   bind goes unnoticed, because its readiness check is answered by the other stack's server.
//!   Two stacks would then share one DynamoDB Local, and one stack's acknowledger could answer
//!   the other's tickets.
//! - an outgoing connection takes the port as its local end. The kernel picks those from the
//!   ephemeral range, so ports are chosen below it where the range leaves room.
//!
//! And should a port be taken anyway, [`ensure_free`] refuses to start an emulator there.

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
/// How long [`ensure_free`] waits for a port held by another process to be let go.
const HELD_FOR_A_MOMENT: std::time::Duration = std::time::Duration::from_secs(2);

/// Every port this process has handed out; none is handed out twice.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A TCP port that no server listens on and that this process has not handed out before;
/// below the kernel's ephemeral ports where the range leaves room, else any free port.
pub fn free_port() -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    if let Some(port) = choose_below(ephemeral_start(), handed_out, |p| bind(p).is_ok()) {
        return Ok(port);
    }
    // Nothing free below the range (or no room there): a port the kernel offers, still
    // never twice.
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if bind(port).is_ok() && handed_out.insert(port) {
            return Ok(port);
        }
    }
}

/// A random port in `LOWEST..below` that is `free` and not in `handed_out` (then added to
/// it), or `None` when [`ATTEMPTS`] random tries find none.
fn choose_below(
    below: u16,
    handed_out: &mut HashSet<u16>,
    free: impl Fn(u16) -> bool,
) -> Option<u16> {
    let span = u64::from(below.checked_sub(LOWEST).filter(|span| *span > 0)?);
    let random = RandomState::new();
    let port = (0..ATTEMPTS as u64)
        .map(|i| LOWEST + (random.hash_one(i) % span) as u16)
        .find(|port| !handed_out.contains(port) && free(*port))?;
    handed_out.insert(port);
    Some(port)
}

/// Fails, naming `what`, when `port` cannot be listened on, and says "in use" only when
/// another listener holds it. An emulator started on a port in use would exit at once, and
/// its readiness check would be answered by whatever holds the port.
///
/// A port held for a moment is waited for, up to [`HELD_FOR_A_MOMENT`]: a clean-clone CI run
/// once found a port that `free_port` had just checked held when moto was about to start on
/// it (by what, it did not show; nothing of ours was listening there minutes later).
pub async fn ensure_free(port: u16, what: &str) -> crate::DevResult<()> {
    let started = std::time::Instant::now();
    loop {
        match bind(port) {
            Ok(()) => return Ok(()),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && started.elapsed() < HELD_FOR_A_MOMENT =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(format!(
                    "port {port} is in use by another process: {what} cannot listen there"
                )
                .into());
            }
            Err(e) => return Err(format!("port {port} cannot be used for {what}: {e}").into()),
        }
    }
}

/// Binds `port` for a moment, on every IPv4 interface (DynamoDB Local binds all of them) and
/// on 127.0.0.1. On Linux the first fails against any IPv4 listener on the port; the second
/// is for systems where `SO_REUSEADDR` (which std sets) lets a wildcard bind share a port
/// with a listener on one address. Each listener is dropped before the next bind.
pub(crate) fn bind(port: u16) -> std::io::Result<()> {
    drop(TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?);
    drop(TcpListener::bind((Ipv4Addr::LOCALHOST, port))?);
    Ok(())
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
    use super::{LOWEST, choose_below, ephemeral_start, free_port};
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
        // Three ports below the range, the middle one held: the other two, then none.
        let held = LOWEST + 1;
        let mut handed_out = HashSet::new();
        let free = |port: u16| port != held;
        let first = choose_below(LOWEST + 3, &mut handed_out, free).expect("a port");
        let second = choose_below(LOWEST + 3, &mut handed_out, free).expect("a port");
        let mut both = [first, second];
        both.sort_unstable();
        assert_eq!(both, [LOWEST, LOWEST + 2]);
        assert_eq!(choose_below(LOWEST + 3, &mut handed_out, free), None);
    }

    #[test]
    fn no_port_is_chosen_below_a_range_that_leaves_no_room_there() {
        assert_eq!(choose_below(LOWEST, &mut HashSet::new(), |_| true), None);
        assert_eq!(choose_below(1024, &mut HashSet::new(), |_| true), None);
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
