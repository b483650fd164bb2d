//! Verify + parse + build-the-transaction of a typical Twilio SMS webhook, in process, no I/O.
//!
//! Run: `cargo bench -p intake --bench twilio_webhook`

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use jiff::Timestamp;

use intake::ids::TicketIds;
use intake::providers::Provider;
use intake::store::{Target, plan};

mod fixtures;

fn bench(c: &mut Criterion) {
    let twilio = fixtures::twilio();
    let req = fixtures::twilio_request();
    let now = Timestamp::now();
    assert!(twilio.verify(&req, now).is_ok());

    c.bench_function("twilio/verify", |b| {
        b.iter(|| twilio.verify(black_box(&req), now))
    });
    c.bench_function("twilio/parse", |b| {
        b.iter(|| twilio.parse(black_box(&req), now))
    });
    let message = twilio.parse(&req, now).expect("parses").remove(0);
    c.bench_function("store/plan_new_ticket", |b| {
        b.iter(|| {
            let target = Target::New {
                ids: TicketIds::generate(),
                replaces_closed: None,
            };
            plan("intake", black_box(&message), &target, now)
        })
    });
    let kilobyte = [0x5au8; 1024];
    c.bench_function("reference/hmac_sha1_1KiB", |b| {
        b.iter(|| intake::verify::hmac_sha1(black_box(b"token"), [black_box(&kilobyte)]))
    });
    c.bench_function("twilio/verify+parse+transaction", |b| {
        b.iter(|| {
            // As the webhook runs it: the form decoded once for both.
            let messages = twilio
                .verify_and_parse(black_box(&req), now)
                .expect("verifies and parses");
            let target = Target::New {
                ids: TicketIds::generate(),
                replaces_closed: None,
            };
            plan("intake", &messages[0], &target, now)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
