//! The `intake` binary as a developer uses it, against a running local stack.

use std::time::Duration;

use intake_dev::stack::{Stack, StackOptions};

mod common;
use common::{intake, json_lines};

#[tokio::test]
async fn simulate_then_inspect_tickets_and_outbox() {
    let stack = Stack::start(StackOptions::ephemeral(None).expect("ports"))
        .await
        .expect("the local stack starts (run `npm ci` first)");
    let customer = "+6281299990001";
    // Nothing sent yet: the table's header, and why a restarted `intake dev` shows nothing.
    let (ok, out) = intake(&stack, &["outbox", "list"]).await;
    assert!(ok, "{out}");
    assert!(out.starts_with("TIME"), "{out}");
    assert!(
        out.contains(
            "nothing sent since `intake dev` started: the outbox is kept in memory, so it is \
             empty after a restart while tickets persist"
        ),
        "{out}"
    );
    let (ok, out) = intake(&stack, &["outbox", "list", "--json"]).await;
    assert!(ok && out.is_empty(), "--json stays machine-readable: {out}");

    let (ok, out) = intake(
        &stack,
        &[
            "simulate",
            "twilio",
            "--from",
            customer,
            "--body",
            "Halo, pesanan saya belum sampai",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.starts_with("200 "), "{out}");

    let mut ticket = serde_json::Value::Null;
    for _ in 0..100 {
        let (ok, out) = intake(&stack, &["tickets", "list", "--json"]).await;
        assert!(ok);
        if let Some(t) = json_lines(&out)
            .into_iter()
            .find(|t| t["contact"] == customer)
            && t["ack_status"] == "sent"
        {
            ticket = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for key in [
        "id",
        "ref",
        "channel",
        "provider",
        "contact",
        "status",
        "message_count",
        "ack_status",
        "created_at",
    ] {
        assert!(
            !ticket[key].is_null(),
            "tickets list --json lacks {key}: {ticket}"
        );
    }
    assert_eq!(ticket["channel"], "sms");
    assert_eq!(ticket["message_count"], 1);

    let reference = ticket["ref"].as_str().expect("ref");
    let (ok, out) = intake(&stack, &["tickets", "show", reference, "--json"]).await;
    assert!(ok, "{out}");
    let shown: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(shown["id"], ticket["id"]);
    let message = &shown["messages"][0];
    assert_eq!(message["body"], "Halo, pesanan saya belum sampai");
    assert_eq!(message["from"], customer);
    assert!(message["received_at"].is_string() && message["provider_message_id"].is_string());

    let (ok, out) = intake(&stack, &["outbox", "list", "--json"]).await;
    assert!(ok);
    let sent: Vec<_> = json_lines(&out)
        .into_iter()
        .filter(|r| r["to"] == customer)
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["channel"], "sms");
    assert!(sent[0]["body"].as_str().unwrap_or("").contains(reference));
    assert!(sent[0]["time"].is_string());

    let (ok, table) = intake(&stack, &["tickets", "list"]).await;
    assert!(ok && table.contains(reference) && table.starts_with("ID"));
}

#[tokio::test]
async fn tickets_list_contact_finds_one_customer_on_every_channel_newest_first() {
    let stack = Stack::start(StackOptions::ephemeral(None).expect("ports"))
        .await
        .expect("the local stack starts (run `npm ci` first)");
    // One customer writes by SMS, then on WhatsApp (Meta gives the number without '+'), and
    // by mail; another customer writes too.
    for args in [
        &[
            "simulate",
            "twilio",
            "--from",
            "+6281299990002",
            "--body",
            "Halo",
        ][..],
        &[
            "simulate",
            "meta",
            "--app",
            "whatsapp",
            "--from",
            "6281299990002",
            "--to",
            "200000000000002",
            "--body",
            "Halo lagi",
        ],
        &[
            "simulate",
            "twilio",
            "--from",
            "+6281299990003",
            "--body",
            "Halo juga",
        ],
        &[
            "simulate",
            "mailgun",
            "--from",
            "Budi.Santoso@Example.co.id",
            "--body",
            "Pesanan saya belum sampai",
        ],
        // The first customer again by SMS, the number written nationally.
        &[
            "simulate",
            "twilio",
            "--from",
            "081299990002",
            "--body",
            "Masih belum sampai",
        ],
    ] {
        let (ok, out) = intake(&stack, args).await;
        assert!(ok && out.starts_with("200 "), "{args:?}: {out}");
    }

    // As a person types the number: spaces and dashes, any channel.
    let (ok, out) = intake(
        &stack,
        &[
            "tickets",
            "list",
            "--contact",
            "+62 812-9999-0002",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let tickets = json_lines(&out);
    let seen: Vec<(&str, &str)> = tickets
        .iter()
        .map(|t| {
            (
                t["channel"].as_str().unwrap_or_default(),
                t["contact"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("social", "whatsapp:6281299990002"),
            ("sms", "+6281299990002")
        ],
        "newest first: {out}"
    );
    assert!(tickets[0]["created_at"].as_str() > tickets[1]["created_at"].as_str());

    // The WhatsApp form finds the WhatsApp ticket only.
    let (ok, out) = intake(
        &stack,
        &[
            "tickets",
            "list",
            "--contact",
            "whatsapp:+6281299990002",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let tickets = json_lines(&out);
    assert_eq!(tickets.len(), 1, "{out}");
    assert_eq!(tickets[0]["contact"], "whatsapp:6281299990002");

    // An email address, whatever its case.
    let (ok, out) = intake(
        &stack,
        &[
            "tickets",
            "list",
            "--contact",
            "budi.santoso@example.co.id",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let tickets = json_lines(&out);
    assert_eq!(tickets.len(), 1, "{out}");
    assert_eq!(tickets[0]["channel"], "email");

    // The customer: one SMS contact (both spellings), one WhatsApp contact, both tickets.
    let (ok, out) = intake(&stack, &["customers", "show", "0812 9999 0002", "--json"]).await;
    assert!(ok, "{out}");
    let customer: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(customer["number"], "+6281299990002");
    let contacts: Vec<&str> = customer["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .map(|c| c["address"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(contacts, ["+6281299990002", "whatsapp:6281299990002"]);
    let tickets = customer["tickets"].as_array().expect("tickets");
    assert_eq!(tickets.len(), 2, "{out}");
    let sms = tickets.iter().find(|t| t["channel"] == "sms").expect("sms");
    assert_eq!(
        sms["message_count"], 2,
        "0812… joined +62812…'s ticket: {out}"
    );
    let (ok, table) = intake(&stack, &["customers", "show", "+6281299990002"]).await;
    assert!(
        ok && table.starts_with("customer +6281299990002"),
        "{table}"
    );
    let (ok, out) = intake(&stack, &["customers", "show", "budi"]).await;
    assert!(!ok && out.contains("not a phone number"), "{out}");

    // Nobody by that number: an empty list, and the table's header.
    let (ok, out) = intake(&stack, &["tickets", "list", "--contact", "+6281200000000"]).await;
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("ID"), "{out}");
}

#[tokio::test]
async fn config_check_previews_a_valid_file_and_lists_every_problem_of_a_bad_one() {
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
            .args(["config", "check"])
            .arg(file)
            .current_dir(std::env::temp_dir())
            .output()
            .expect("intake runs")
    };
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../intake.example.toml");
    let out = run(&example);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("valid"));
    assert!(
        text.contains("-- sms · id · closed  [1 segment(s)"),
        "{text}"
    );
    // The preview uses the real next opening, so only its shape is fixed.
    assert!(
        text.contains("Kami sedang tutup dan membalas mulai") && text.contains(" WIB."),
        "{text}"
    );

    // Brands whose email acks would go out from an address SES may not send as.
    let with_identities = |list: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
            .args(["config", "check", "--ses-identities", list])
            .arg(&example)
            .current_dir(std::env::temp_dir())
            .output()
            .expect("intake runs")
    };
    let out = with_identities("example.org");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "a warning, not an error: {text}");
    assert!(
        text.contains("warning: brand tokoku sends email acks as halo@tokoku.id"),
        "{text}"
    );
    let out = with_identities("tokoku.id");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("warning: brand tokoku"), "{text}");

    let bad = std::env::temp_dir().join(format!("intake-bad-{}.toml", std::process::id()));
    std::fs::write(
        &bad,
        "[[brand]]\nid = \"x\"\ntime_zone = \"Asia/Jakrta\"\n[brand.hours]\nmonday = [\"08:00-12:00\", \"11:00-13:00\"]\n[brand.templates.sms.id]\nopen = \"Tiket {nomor}\"\n",
    )
    .expect("write");
    let out = run(&bad);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for expected in ["Asia/Jakrta", "overlap", "unknown placeholder {nomor}"] {
        assert!(errors.contains(expected), "{expected}: {errors}");
    }
    let _ = std::fs::remove_file(bad);
}

/// The ticket of `contact` once the acknowledger has decided its ack (not `pending`).
async fn decided(stack: &Stack, contact: &str) -> serde_json::Value {
    for _ in 0..150 {
        let (ok, out) = intake(stack, &["tickets", "list", "--json"]).await;
        assert!(ok, "{out}");
        if let Some(t) = json_lines(&out)
            .into_iter()
            // `sending` is the claim before the provider's answer: not decided yet.
            .find(|t| {
                t["contact"] == contact
                    && !matches!(t["ack_status"].as_str(), Some("pending" | "sending"))
            })
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no decided ack for {contact}");
}

/// The cells of a table's rows, cut where the header's columns begin: what a reader's eye
/// does, so a misaligned row shows as wrong cells.
fn cells(table: &str) -> Vec<Vec<String>> {
    let mut lines = table.lines();
    let header: Vec<char> = lines.next().expect("a header").chars().collect();
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != ' ' && (i == 0 || header[i - 1] == ' '))
        .collect();
    lines
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            starts
                .iter()
                .enumerate()
                .map(|(n, &start)| {
                    let end = if n + 1 == starts.len() {
                        chars.len()
                    } else {
                        starts[n + 1].min(chars.len())
                    };
                    chars[start.min(chars.len())..end]
                        .iter()
                        .collect::<String>()
                        .trim()
                        .to_owned()
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn tables_give_the_ack_reason_keep_long_contacts_aligned_and_list_email_acks() {
    let stack = Stack::start(StackOptions::ephemeral(None).expect("ports"))
        .await
        .expect("the local stack starts (run `npm ci` first)");
    let line_user = "U4af4980629f3c6e8d1b2a7c5e9d0f1a2b";
    let opted_out = "+6281299990004";
    let mail = "dewi.lestari@example.co.id";
    for args in [
        // STOP opens no ticket; the customer's next message does, and is not acknowledged.
        &["simulate", "twilio", "--from", opted_out, "--body", "STOP"][..],
        &["simulate", "twilio", "--from", opted_out, "--body", "Halo"],
        &[
            "simulate",
            "meta",
            "--app",
            "whatsapp",
            "--from",
            "6281299990005",
            "--to",
            "200000000000002",
            "--body",
            "Halo",
        ],
        &["simulate", "line", "--from", line_user, "--body", "Halo"],
        &[
            "simulate",
            "mailgun",
            "--from",
            mail,
            "--body",
            "Pesanan saya belum sampai",
        ],
    ] {
        let (ok, out) = intake(&stack, args).await;
        assert!(ok && out.starts_with("200 "), "{args:?}: {out}");
    }
    let skipped = decided(&stack, opted_out).await;
    assert_eq!(skipped["ack_status"], "skipped", "{skipped}");
    assert_eq!(skipped["ack_reason"], "opted_out", "{skipped}");
    let line_contact = format!("line:{line_user}");
    let email_ticket = decided(&stack, mail).await;
    assert_eq!(email_ticket["ack_status"], "sent", "{email_ticket}");
    for contact in ["whatsapp:6281299990005", &line_contact] {
        decided(&stack, contact).await;
    }

    // Every row's cells sit under their headers, whatever the contact's length, and the
    // ack column says why an ack was skipped.
    let (ok, table) = intake(&stack, &["tickets", "list"]).await;
    assert!(ok, "{table}");
    let (ok, out) = intake(&stack, &["tickets", "list", "--json"]).await;
    assert!(ok, "{out}");
    let expected: Vec<Vec<String>> = json_lines(&out)
        .iter()
        .map(|t| {
            let ack = match t["ack_reason"].as_str() {
                Some(reason) => format!("{} ({reason})", t["ack_status"].as_str().unwrap_or("")),
                None => t["ack_status"].as_str().unwrap_or("").to_owned(),
            };
            [
                &t["id"],
                &t["ref"],
                &t["channel"],
                &t["provider"],
                &t["contact"],
                &t["status"],
            ]
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .chain([t["message_count"].to_string(), ack])
            .chain([t["created_at"].as_str().unwrap_or_default().to_owned()])
            .collect()
        })
        .collect();
    assert_eq!(cells(&table), expected, "{table}");
    assert!(
        table.contains(&line_contact) && table.contains("skipped (opted_out)"),
        "{table}"
    );

    // The email ack, which went to the SES emulator, is in the outbox beside the others.
    let reference = email_ticket["ref"].as_str().expect("ref");
    let (ok, out) = intake(&stack, &["outbox", "list", "--json"]).await;
    assert!(ok, "{out}");
    let sent = json_lines(&out);
    let email: Vec<_> = sent.iter().filter(|r| r["to"] == mail).collect();
    assert_eq!(email.len(), 1, "{out}");
    assert_eq!(email[0]["channel"], "email");
    assert_eq!(email[0]["provider"], "ses");
    assert!(
        email[0]["subject"]
            .as_str()
            .is_some_and(|s| s.contains(reference))
            && email[0]["body"]
                .as_str()
                .is_some_and(|b| b.contains(reference)),
        "{out}"
    );
    assert!(sent.iter().any(|r| r["provider"] == "line"), "{out}");
    // Oldest first, to the second (the SES emulator keeps whole seconds).
    let seconds: Vec<i64> = sent
        .iter()
        .map(|r| {
            r["time"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .expect("an RFC 3339 time")
                .as_second()
        })
        .collect();
    assert!(seconds.is_sorted(), "oldest first: {out}");

    let (ok, table) = intake(&stack, &["outbox", "list"]).await;
    assert!(ok, "{table}");
    let rows = cells(&table);
    let row = rows
        .iter()
        .find(|r| r[4] == mail)
        .unwrap_or_else(|| panic!("the email ack is listed: {table}"));
    assert_eq!(row[1..4], ["email", "ses", "200"], "{table}");
    assert!(row[5].contains(reference), "{table}");
    assert!(!table.contains("empty after a restart"), "{table}");
}
