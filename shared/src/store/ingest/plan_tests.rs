//! The transactions `plan` builds, written out attribute by attribute and compared with
//! `plan_golden.txt`. The acknowledger and the CLI read these items, so what is stored must
//! not change when the way they are built does (the golden file was written by the plan of
//! `main` before the hot-path work of issue 14, and reviewed against DESIGN.md's layout).
//! To accept an intended change of layout: `INTAKE_WRITE_GOLDEN=1 cargo test -p intake
//! plan_tests`, then review the diff of the golden file.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use ulid::Ulid;

use super::{Target, plan};
use crate::ids::TicketIds;
use crate::keywords::Keyword;
use crate::model::{Attachment, Channel, EmailDetails, InboundMessage, Party};

const GOLDEN: &str = "src/store/ingest/plan_golden.txt";

fn value(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => format!("S {s:?}"),
        AttributeValue::N(n) => format!("N {n}"),
        AttributeValue::Bool(b) => format!("BOOL {b}"),
        AttributeValue::L(list) => {
            let items: Vec<String> = list.iter().map(value).collect();
            format!("L [{}]", items.join(", "))
        }
        AttributeValue::M(map) => format!("M {{{}}}", attributes(map).join(", ")),
        other => format!("{other:?}"),
    }
}

/// `name = value`, sorted by name (a `HashMap`'s order differs from run to run).
fn attributes(map: &HashMap<String, AttributeValue>) -> Vec<String> {
    let sorted: BTreeMap<_, _> = map.iter().collect();
    sorted
        .into_iter()
        .map(|(k, v)| format!("{k} = {}", value(v)))
        .collect()
}

fn names(map: Option<&HashMap<String, String>>) -> String {
    let sorted: BTreeMap<_, _> = map.into_iter().flatten().collect();
    format!("{sorted:?}")
}

/// One item of a transaction, every field of it.
fn render(out: &mut String, item: &TransactWriteItem) {
    if let Some(put) = item.put() {
        let _ = writeln!(out, "  put into {}", put.table_name());
        for line in attributes(put.item()) {
            let _ = writeln!(out, "    {line}");
        }
        let _ = writeln!(out, "    condition: {:?}", put.condition_expression());
        let _ = writeln!(
            out,
            "    names: {}",
            names(put.expression_attribute_names())
        );
        let values = put.expression_attribute_values().map(attributes);
        let _ = writeln!(out, "    values: {values:?}");
    }
    if let Some(update) = item.update() {
        let _ = writeln!(out, "  update in {}", update.table_name());
        let _ = writeln!(out, "    key: {:?}", attributes(update.key()));
        let _ = writeln!(out, "    set: {:?}", update.update_expression());
        let _ = writeln!(out, "    condition: {:?}", update.condition_expression());
        let _ = writeln!(
            out,
            "    names: {}",
            names(update.expression_attribute_names())
        );
        let values = update.expression_attribute_values().map(attributes);
        let _ = writeln!(out, "    values: {values:?}");
    }
    assert!(item.delete().is_none() && item.condition_check().is_none());
}

fn sms() -> InboundMessage {
    InboundMessage {
        channel: Channel::Sms,
        provider: "twilio",
        provider_message_id: "SM5f1c7a0d3b2e4f6a8c9d0e1f2a3b4c5d".into(),
        from: Party {
            address: "+6281234567890".into(),
            name: Some("Budi \"B\" Santoso".into()),
        },
        to: "+6221555000".into(),
        subject: None,
        body: "Halo, pesanan saya belum sampai 🙏".into(),
        attachments: vec![
            Attachment {
                url: Some("https://api.twilio.com/media/ME1".into()),
                content_type: Some("image/jpeg".into()),
                name: None,
                size: None,
            },
            Attachment {
                url: None,
                content_type: None,
                name: Some("foto.jpg".into()),
                size: Some(123_456),
            },
        ],
        language: Some("id".into()),
        received_at: Timestamp::UNIX_EPOCH,
        keyword: Some(Keyword::Help),
        reply_token: Some("reply-token-1".into()),
        email: None,
    }
}

fn email() -> InboundMessage {
    InboundMessage {
        channel: Channel::Email,
        provider: "ses",
        provider_message_id: "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1".into(),
        from: Party {
            address: "Budi@Example.co.id".into(),
            name: None,
        },
        to: "halo@tokoku.id".into(),
        subject: Some("Re: Pesanan belum sampai [#K7F3Q2]".into()),
        body: "Sudah sampai, terima kasih.".into(),
        attachments: Vec::new(),
        language: None,
        received_at: Timestamp::UNIX_EPOCH,
        keyword: None,
        reply_token: None,
        email: Some(EmailDetails {
            message_id: Some("CAF=x@mail.gmail.com".into()),
            in_reply_to: vec!["0100018f@email.amazonses.com".into()],
            references: vec![
                "a@example.co.id".into(),
                "0100018f@email.amazonses.com".into(),
            ],
            cc: vec!["siti@example.co.id".into()],
            quoted: "> Pesanan Anda sudah kami terima".into(),
            no_reply: Some("auto-submitted".into()),
            flagged: Some("spam".into()),
        }),
    }
}

fn every_plan() -> String {
    let now: Timestamp = "2026-11-30T09:15:42.123456Z".parse().unwrap();
    let ids = TicketIds::from_ulid(Ulid::from_parts(1_795_000_000_000, 0x1234_5678_9abc));
    let cases: Vec<(&str, InboundMessage, Target)> = vec![
        (
            "sms, new ticket",
            sms(),
            Target::New {
                ids: ids.clone(),
                replaces_closed: None,
            },
        ),
        (
            "sms, new ticket replacing a closed one",
            sms(),
            Target::New {
                ids: ids.clone(),
                replaces_closed: Some("01JCLOSEDTICKET0000000000".into()),
            },
        ),
        (
            "sms, open ticket",
            sms(),
            Target::Existing {
                ticket_id: "01JOPENTICKET000000000000".into(),
            },
        ),
        (
            "sms, STOP",
            InboundMessage {
                keyword: Some(Keyword::Stop),
                ..sms()
            },
            Target::ContactOnly(Keyword::Stop),
        ),
        (
            "sms, START",
            InboundMessage {
                keyword: Some(Keyword::Start),
                ..sms()
            },
            Target::ContactOnly(Keyword::Start),
        ),
        (
            "email, new ticket",
            email(),
            Target::New {
                ids: ids.clone(),
                replaces_closed: None,
            },
        ),
        (
            "email, thread",
            email(),
            Target::Thread {
                ticket_id: "01JTHREADTICKET0000000000".into(),
            },
        ),
    ];
    let mut out = String::new();
    for (name, message, target) in cases {
        let plan = plan("intake", &message, &target, now);
        assert_eq!(plan.items.len(), plan.roles.len());
        let _ = writeln!(out, "== {name}");
        for (item, role) in plan.items.iter().zip(&plan.roles) {
            let _ = writeln!(out, "{role:?}");
            render(&mut out, item);
        }
    }
    out
}

#[test]
fn every_transaction_stores_what_it_always_stored() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let rendered = every_plan();
    if std::env::var_os("INTAKE_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap();
    assert!(
        rendered == golden,
        "the transactions differ from {GOLDEN}:\n{rendered}"
    );
}
