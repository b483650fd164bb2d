//! The load harness, run briefly at a low rate on a stack of its own: everything it sent is
//! stored once and acknowledged once, and its report says so. (The harness's figures are
//! for BENCHMARKS.md; this only checks that it runs and that its verdict holds.)

use intake_dev::load::{self, LoadArgs, Mode, Rate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_stores_and_acknowledges_every_webhook_once() {
    let args = LoadArgs {
        rate: Rate(Some(5.0)),
        duration: 2.0,
        // One delivery in four repeats an earlier one (seed 3 makes some: checked below).
        duplicates: 0.25,
        seed: Some(3),
        drain: 15.0,
        // Direct first, then webhooks: both paths run.
        mode: Mode::Both,
        // A few untimed webhooks first: they must stay out of every count below.
        warmup: 4,
        ..LoadArgs::defaults()
    };
    let report = load::run(&args).await.expect("the harness runs");
    let text = report.text();

    let settings = &report.settings;
    assert_eq!(settings.deliveries, 10, "{text}");
    let distinct = settings.distinct;
    assert!(
        distinct < settings.deliveries && distinct >= 5,
        "some deliveries repeat: {text}"
    );

    let webhook = report.webhook.as_ref().expect("a webhook run");
    assert_eq!(webhook.statuses.get("200"), Some(&10), "{text}");
    assert_eq!(webhook.latency_ms.count, 10, "{text}");

    assert_eq!(settings.warmup, 4, "{text}");
    let direct = report.direct.as_ref().expect("a direct run");
    assert_eq!(direct.transactions, distinct, "{text}");
    assert_eq!(
        direct.warmup, 4,
        "as many untimed as the webhook run: {text}"
    );
    assert_eq!(direct.committed, distinct, "{text}");
    assert!(
        report.webhook_direct_ratio.is_some_and(|r| r > 0.0),
        "{text}"
    );

    let verdict = report.verdict.as_ref().expect("a verdict");
    assert_eq!(verdict.webhooks, distinct, "{text}");
    assert_eq!(verdict.accepted, distinct, "{text}");
    assert_eq!(verdict.tickets, distinct, "one ticket per customer: {text}");
    assert_eq!(
        verdict.acks_sent, distinct,
        "every ticket acknowledged: {text}"
    );
    assert_eq!(
        (verdict.lost, verdict.duplicated(), verdict.unacked),
        (0, 0, 0),
        "{text}"
    );
    assert!(report.clean(), "{text}");
    let delays = report.ack_delay.as_ref().expect("ack delays");
    assert_eq!(delays.all_ms.count, distinct, "{text}");
    for channel in ["sms", "whatsapp", "social", "email"] {
        assert!(
            delays.by_channel_ms.contains_key(channel),
            "{channel} was loaded: {text}"
        );
    }
}

/// `--hold-acks`: no ack leaves before the last webhook is answered, and every one leaves
/// after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_acks_wait_for_the_last_webhook_then_all_go() {
    let args = LoadArgs {
        rate: Rate(Some(5.0)),
        duration: 2.0,
        duplicates: 0.0,
        drain: 15.0,
        hold_acks: true,
        ..LoadArgs::defaults()
    };
    let report = load::run(&args).await.expect("the harness runs");
    let text = report.text();
    let verdict = report.verdict.as_ref().expect("a verdict");
    assert_eq!(verdict.acks_sent, 10, "every ticket acknowledged: {text}");
    assert!(report.clean(), "{text}");
    // The first ticket arrives at 0 s, the last webhook at 1.8 s: held, the first ack waits
    // for it (unheld, an ack follows its ticket within a few poller reads).
    let delays = report.ack_delay.as_ref().expect("ack delays");
    assert!(delays.all_ms.max >= 1500.0, "{text}");
}

#[test]
fn held_acks_need_a_stack_of_its_own() {
    let args = LoadArgs {
        hold_acks: true,
        url: Some("http://127.0.0.1:3000".into()),
        ..LoadArgs::defaults()
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let error = runtime
        .block_on(load::run(&args))
        .expect_err("the hold needs its own stack");
    assert!(error.to_string().contains("leave out --url"), "{error}");
}

#[test]
fn fault_mode_refuses_a_stack_it_does_not_own() {
    let args = LoadArgs {
        mode: Mode::Fault,
        url: Some("http://127.0.0.1:3000".into()),
        ..LoadArgs::defaults()
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let error = runtime
        .block_on(load::run(&args))
        .expect_err("fault needs its own stack");
    assert!(error.to_string().contains("leave out --url"), "{error}");
}

#[test]
fn only_this_machine_is_loaded() {
    let args = LoadArgs {
        url: Some("http://192.0.2.1:3000".into()),
        ..LoadArgs::defaults()
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let error = runtime.block_on(load::run(&args)).expect_err("refused");
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
}
