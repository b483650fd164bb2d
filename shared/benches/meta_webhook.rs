//! Verify + parse of a 10-message Meta (Messenger) batch, in process, no I/O.
//!
//! Run: `cargo bench -p intake --bench meta_webhook`

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use jiff::Timestamp;

use intake::providers::Provider;

mod fixtures;

fn bench(c: &mut Criterion) {
    let meta = fixtures::meta();
    let req = fixtures::meta_request();
    let now = Timestamp::now();
    assert!(meta.verify(&req, now).is_ok());
    assert_eq!(meta.parse(&req, now).expect("parses").len(), 10);

    c.bench_function("meta/verify_10_message_batch", |b| {
        b.iter(|| meta.verify(black_box(&req), now))
    });
    c.bench_function("meta/verify+parse_10_message_batch", |b| {
        b.iter(|| {
            meta.verify_and_parse(black_box(&req), now)
                .expect("verifies and parses")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
