//! The webhook hot path, N times per stage, for instruction counts and allocation counts:
//! Twilio verify, parse, the new ticket's transaction, and all three as the webhook runs
//! them; Meta's 10-message batch, verify and verify + parse. Same inputs as the Criterion
//! benchmarks (`benches/fixtures`).
//!
//! `scripts/callgrind_hot_path.sh` builds it with the `bench` profile and runs it under
//! callgrind, one stage per process; a stage runs in one never-inlined function, so the
//! inclusive cost of `hot_path::stage` divided by N is the cost of one request. Run alone, it prints the
//! heap allocations per request of each stage (a counting global allocator around the
//! system one; its bookkeeping is two relaxed atomic adds per call).
//!
//! Run: `cargo run --profile bench -p intake --example hot_path -- [N [stage]]` (N defaults
//! to 10,000; a stage name such as `twilio/total` runs that stage alone).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use intake::WebhookRequest;
use intake::ids::TicketIds;
use intake::model::InboundMessage;
use intake::providers::Provider;
use intake::store::{Target, plan};
use jiff::Timestamp;

#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

/// The system allocator, counting allocations (`alloc` and `realloc`) and bytes asked for.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The table name the functions are deployed with by default.
const TABLE: &str = "intake";

/// One stage: `request` N times. Never inlined, so callgrind counts it as one function
/// (`hot_path::stage`), of which the script runs one kind per process.
#[inline(never)]
fn stage<T>(n: u64, mut request: impl FnMut() -> T) {
    for _ in 0..n {
        black_box(request());
    }
}

/// What the webhook runs between routing and the store (`Provider::receive` of both).
fn receive(provider: &dyn Provider, req: &WebhookRequest, now: Timestamp) -> Vec<InboundMessage> {
    provider
        .verify_and_parse(req, now)
        .expect("verifies and parses")
}

/// The transaction of a new ticket, with fresh ids as the ingest makes them.
fn new_ticket(message: &InboundMessage, now: Timestamp) -> intake::store::IngestPlan {
    let target = Target::New {
        ids: TicketIds::generate(),
        replaces_closed: None,
    };
    plan(TABLE, message, &target, now)
}

/// Runs `stage` (unless another one was asked for) and prints the heap allocations and
/// bytes it asked for, per request.
fn counted(name: &str, n: u64, stage: impl FnOnce()) {
    if std::env::args().nth(2).is_some_and(|only| only != name) {
        return;
    }
    let (allocations, bytes) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
    stage();
    let allocations = ALLOCATIONS.load(Relaxed) - allocations;
    let bytes = BYTES.load(Relaxed) - bytes;
    println!(
        "{name:<26} {:>8.1} allocations {:>8.0} bytes per request",
        allocations as f64 / n as f64,
        bytes as f64 / n as f64
    );
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N is a number of iterations"))
        .unwrap_or(10_000);
    let now = Timestamp::now();
    let twilio = fixtures::twilio();
    let twilio_req = fixtures::twilio_request();
    let meta = fixtures::meta();
    let meta_req = fixtures::meta_request();
    let message = receive(&twilio, &twilio_req, now).remove(0);
    assert_eq!(receive(&meta, &meta_req, now).len(), 10);

    println!("{n} iterations per stage");
    let twilio_verify = || {
        twilio
            .verify(black_box(&twilio_req), now)
            .expect("verifies")
    };
    counted("twilio/verify", n, || stage(n, twilio_verify));
    let twilio_parse = || twilio.parse(black_box(&twilio_req), now).expect("parses");
    counted("twilio/parse", n, || stage(n, twilio_parse));
    let transaction = || new_ticket(black_box(&message), now);
    counted("twilio/transaction", n, || stage(n, transaction));
    let twilio_total = || {
        let messages = receive(&twilio, black_box(&twilio_req), now);
        new_ticket(&messages[0], now)
    };
    counted("twilio/total", n, || stage(n, twilio_total));
    let meta_verify = || meta.verify(black_box(&meta_req), now).expect("verifies");
    counted("meta/verify", n, || stage(n, meta_verify));
    let meta_total = || receive(&meta, black_box(&meta_req), now);
    counted("meta/verify+parse", n, || stage(n, meta_total));
}
