//! Table-driven tests of `decide`, on the test fixture `tests/fixtures/intake.toml`.

use jiff::Timestamp;

use super::*;
use crate::ack::settings::AckSettings;
use crate::keywords::Keywords;
use crate::model::{AckStatus, Channel, Contact, RecentAck, StoredMessage, Ticket};

const FIXTURE: &str = include_str!("../../../tests/fixtures/intake.toml");

fn settings() -> AckSettings {
    AckSettings::from_toml(FIXTURE).expect("fixture is valid")
}

fn ticket(channel: Channel, our_address: &str, name: Option<&str>) -> Ticket {
    Ticket {
        id: "01KAQ0RZ3B5YV8W5T0Q3CQK7F3".into(),
        reference: "K7F3Q2".into(),
        channel,
        provider: "twilio".into(),
        contact: "+6281234567890".into(),
        contact_name: name.map(str::to_owned),
        our_address: our_address.into(),
        subject: None,
        status: "open".into(),
        message_count: 1,
        ack_status: AckStatus::Pending,
        ack_reason: None,
        flagged: None,
        ack_provider_message_id: None,
        first_message_sk: "MSG#x".into(),
        created_at: "2026-11-28T03:00:00.000Z".into(),
        updated_at: "2026-11-28T03:00:00.000Z".into(),
    }
}

fn message(body: &str, language: Option<&str>) -> StoredMessage {
    StoredMessage {
        ticket_id: "t".into(),
        provider: "twilio".into(),
        provider_message_id: "SM1".into(),
        from: "+6281234567890".into(),
        from_name: None,
        to: "+6221555000".into(),
        subject: None,
        body: body.into(),
        attachments: vec![],
        received_at: "2026-11-28T03:00:00.000Z".into(),
        keyword: Keywords::default().classify(body),
        language: language.map(str::to_owned),
        reply_token: None,
        message_id: None,
        references: vec![],
        cc: vec![],
        quoted: None,
        no_reply: None,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

const ID_TEXT: &str = "Halo, pesanan saya belum sampai";
const EN_TEXT: &str = "Hello, my order has not arrived yet";
// 2026-11-28 is a Saturday; WIB is UTC+7 all year, WITA UTC+8.
const SATURDAY_10_WIB: &str = "2026-11-28T03:00:00Z";
const MONDAY_10_WIB: &str = "2026-11-30T03:00:00Z";

struct Case {
    name: &'static str,
    channel: Channel,
    to: &'static str,
    body: &'static str,
    platform_language: Option<&'static str>,
    contact: Option<Contact>,
    now: &'static str,
    expect: Expect,
}

enum Expect {
    Skip(&'static str),
    /// Language, state, and pieces the text must contain.
    Send(Language, &'static str, &'static [&'static str]),
}

fn case(name: &'static str, now: &'static str, body: &'static str, expect: Expect) -> Case {
    Case {
        name,
        channel: Channel::Sms,
        to: "+6221555000",
        body,
        platform_language: None,
        contact: None,
        now,
        expect,
    }
}

fn acked(times: &[&str]) -> Contact {
    Contact {
        recent_acks: times.iter().map(|t| RecentAck::at(at(t))).collect(),
        ..Contact::default()
    }
}

#[test]
fn decisions() {
    use Expect::*;
    let cases = vec![
        case(
            "weekday hours, Indonesian",
            MONDAY_10_WIB,
            ID_TEXT,
            Send(Language::Id, "open", &["#K7F3Q2", "dalam 2 jam"]),
        ),
        case(
            "Saturday in Jakarta: closed, next opening Monday",
            SATURDAY_10_WIB,
            ID_TEXT,
            Send(
                Language::Id,
                "closed",
                &["#K7F3Q2", "tutup", "mulai Senin, 08.00 WIB"],
            ),
        ),
        case(
            "Saturday in English",
            SATURDAY_10_WIB,
            EN_TEXT,
            Send(
                Language::En,
                "closed",
                &["closed now", "from Monday 08:00 WIB"],
            ),
        ),
        case(
            "lunch break reopens the same day",
            "2026-11-30T05:30:00Z",
            ID_TEXT,
            Send(Language::Id, "closed", &["Senin, 13.00 WIB"]),
        ),
        case(
            "Friday prayer break has its own hours",
            "2026-11-27T05:00:00Z",
            ID_TEXT,
            Send(Language::Id, "closed", &["Jumat, 13.30 WIB"]),
        ),
        case(
            "holiday",
            "2026-12-25T03:00:00Z",
            ID_TEXT,
            Send(Language::Id, "holiday", &["libur", "Senin, 08.00 WIB"]),
        ),
        case(
            "short day before the holiday, afternoon",
            "2026-12-24T07:00:00Z",
            EN_TEXT,
            Send(Language::En, "closed", &["Monday 08:00 WIB"]),
        ),
        case(
            "unsure language falls back to the brand's",
            SATURDAY_10_WIB,
            "ok",
            Send(Language::Id, "closed", &["Senin"]),
        ),
        Case {
            platform_language: Some("en_US"),
            ..case(
                "platform language wins over the text",
                SATURDAY_10_WIB,
                ID_TEXT,
                Send(Language::En, "closed", &["Monday 08:00 WIB"]),
            )
        },
        Case {
            contact: Some(Contact {
                language: Some("id".into()),
                ..Contact::default()
            }),
            ..case(
                "stored language wins over detection",
                SATURDAY_10_WIB,
                EN_TEXT,
                Send(Language::Id, "closed", &["Senin, 08.00 WIB"]),
            )
        },
        Case {
            to: "+62411777000",
            ..case(
                "second brand: Makassar, open on Saturday, English default",
                SATURDAY_10_WIB,
                "ok",
                Send(Language::En, "open", &["within 30 minutes"]),
            )
        },
        Case {
            to: "+62411777000",
            ..case(
                "second brand at night: WITA next morning",
                "2026-11-28T15:00:00Z",
                "ok",
                Send(Language::En, "closed", &["Sunday 09:00 WITA"]),
            )
        },
        Case {
            to: "+31201234567",
            ..case(
                "Amsterdam across the DST change: Monday 08:00 CEST",
                "2026-03-28T12:00:00Z",
                "ok",
                Send(Language::En, "closed", &["Monday 08:00 CEST"]),
            )
        },
        Case {
            to: "+31201234567",
            ..case(
                "Amsterdam in winter: CET",
                "2026-11-28T12:00:00Z",
                "ok",
                Send(Language::En, "closed", &["Monday 08:00 CET"]),
            )
        },
        Case {
            contact: Some(Contact {
                opted_out: true,
                ..Contact::default()
            }),
            ..case("opted out", MONDAY_10_WIB, ID_TEXT, Skip("opted_out"))
        },
        case(
            "HELP is the provider's to answer",
            MONDAY_10_WIB,
            "help",
            Skip("help_keyword"),
        ),
        Case {
            contact: Some(acked(&[
                "2026-11-29T04:00:00Z",
                "2026-11-29T08:00:00Z",
                "2026-11-30T01:00:00Z",
            ])),
            ..case(
                "three acks in 24 hours: capped",
                MONDAY_10_WIB,
                ID_TEXT,
                Skip("contact_daily_cap"),
            )
        },
        Case {
            contact: Some(acked(&[
                "2026-11-28T04:00:00Z",
                "2026-11-29T08:00:00Z",
                "2026-11-30T01:00:00Z",
            ])),
            ..case(
                "one of three is older than 24 hours",
                MONDAY_10_WIB,
                ID_TEXT,
                Send(Language::Id, "open", &["#K7F3Q2"]),
            )
        },
        Case {
            contact: Some(acked(&["2026-11-30T02:55:00Z"])),
            ..case(
                "an ack five minutes ago: quiet period",
                MONDAY_10_WIB,
                ID_TEXT,
                Skip("quiet_period"),
            )
        },
        Case {
            contact: Some(acked(&["2026-11-30T02:45:00Z"])),
            ..case(
                "an ack fifteen minutes ago: past the quiet period",
                MONDAY_10_WIB,
                ID_TEXT,
                Send(Language::Id, "open", &[]),
            )
        },
        Case {
            channel: Channel::Social,
            ..case(
                "brand's own social template, unnamed customer",
                MONDAY_10_WIB,
                ID_TEXT,
                Send(
                    Language::Id,
                    "open",
                    &["Halo Kak!", "diterima TokoKu", "2 jam ya"],
                ),
            )
        },
        Case {
            channel: Channel::Email,
            to: "halo@tokoku.id",
            ..case(
                "email by address, shipped Indonesian text",
                SATURDAY_10_WIB,
                ID_TEXT,
                Send(
                    Language::Id,
                    "closed",
                    &["Halo Kak,", "menghubungi TokoKu", "[#K7F3Q2]"],
                ),
            )
        },
    ];
    let settings = settings();
    for c in cases {
        let ticket = ticket(c.channel, c.to, None);
        let msg = message(c.body, c.platform_language);
        let got = decide(
            &ticket,
            c.contact.as_ref(),
            Some(&msg),
            &settings,
            at(c.now),
        );
        match (c.expect, got) {
            (Expect::Skip(reason), Decision::Skip { reason: got }) => {
                assert_eq!(got, reason, "{}", c.name)
            }
            (Expect::Send(language, state, pieces), Decision::Send(r)) => {
                assert_eq!(
                    (r.language, r.state),
                    (language, state),
                    "{}: {}",
                    c.name,
                    r.text
                );
                for piece in pieces {
                    assert!(
                        r.text.contains(piece),
                        "{}: {:?} lacks {piece:?}",
                        c.name,
                        r.text
                    );
                }
                if c.channel == Channel::Sms {
                    assert_eq!(
                        crate::sms::measure(&r.text).segments,
                        1,
                        "{}: {}",
                        c.name,
                        r.text
                    );
                }
            }
            (_, got) => panic!("{}: unexpected {got:?}", c.name),
        }
    }
}

#[test]
fn channel_switch_off() {
    let settings = AckSettings::from_toml("[channels]\nsms = false\n").unwrap();
    let got = decide(
        &ticket(Channel::Sms, "+1", None),
        None,
        Some(&message("hi", None)),
        &settings,
        at(MONDAY_10_WIB),
    );
    assert_eq!(
        got,
        Decision::Skip {
            reason: "channel_disabled"
        }
    );
}

#[test]
fn names_are_used_cut_and_escaped_in_html() {
    let settings = settings();
    let long = "Budi <Santoso> Wijaya Kusuma Atmaja";
    let got = decide(
        &ticket(Channel::Email, "halo@tokoku.id", Some(long)),
        None,
        Some(&message(EN_TEXT, None)),
        &settings,
        at(MONDAY_10_WIB),
    );
    let Decision::Send(r) = got else {
        panic!("expected send")
    };
    assert!(r.text.starts_with("Hi Budi <Santoso> Wijay,"), "{}", r.text);
    assert!(
        !r.text.contains("Kusuma"),
        "names are cut at {MAX_NAME_CHARS} characters"
    );
    let html = r.html.expect("email has html");
    assert!(html.contains("Hi Budi &lt;Santoso&gt; Wijay,"), "{html}");
}

#[test]
fn builtin_settings_answer_around_the_clock_in_english() {
    let settings = AckSettings::builtin();
    let got = decide(
        &ticket(Channel::Sms, "+1", None),
        None,
        Some(&message("ok", None)),
        &settings,
        at(SATURDAY_10_WIB),
    );
    let Decision::Send(r) = got else {
        panic!("expected send")
    };
    assert_eq!((r.language, r.state), (Language::En, "open"));
    assert!(
        r.text.contains("#K7F3Q2") && r.text.contains("within 2 hours"),
        "{}",
        r.text
    );
}

fn email_ticket(contact: &str) -> Ticket {
    Ticket {
        contact: contact.into(),
        provider: "ses".into(),
        subject: Some("Pesanan".into()),
        ..ticket(Channel::Email, "halo@tokoku.id", Some("Budi"))
    }
}

#[test]
fn email_loop_protection() {
    let settings = settings();
    let now = at(MONDAY_10_WIB);
    let customer = email_ticket("budi@example.co.id");
    let first = message(ID_TEXT, None);
    let sent = decide(&customer, None, Some(&first), &settings, now);
    let Decision::Send(rendered) = sent else {
        panic!("a customer's mail is answered: {sent:?}")
    };
    assert_eq!(rendered.reply_from.as_deref(), Some("halo@tokoku.id"));

    for reason in [
        "auto_submitted",
        "precedence_bulk",
        "mailing_list",
        "auto_response_suppressed",
        "bounce",
        "system_sender",
    ] {
        let marked = StoredMessage {
            no_reply: Some(reason.into()),
            ..first.clone()
        };
        assert_eq!(
            decide(&customer, None, Some(&marked), &settings, now),
            Decision::Skip { reason },
            "{reason}"
        );
    }
    let flagged = Ticket {
        flagged: Some("virus".into()),
        ..customer.clone()
    };
    assert_eq!(
        decide(&flagged, None, Some(&first), &settings, now),
        Decision::Skip {
            reason: "flagged_virus"
        }
    );
    for ours in ["halo@tokoku.id", "HALO@TokoKu.id", "billing@tokoku.id"] {
        assert_eq!(
            decide(&email_ticket(ours), None, Some(&first), &settings, now),
            Decision::Skip {
                reason: "own_address"
            },
            "{ours}"
        );
    }
}

#[test]
fn email_cap_is_three_a_day_whatever_the_setting() {
    let mut settings = settings();
    settings.limits.per_contact_per_day = 10;
    settings.limits.quiet_period_minutes = 0;
    let now = at(MONDAY_10_WIB);
    let three = acked(&[
        "2026-11-29T05:00:00Z",
        "2026-11-29T09:00:00Z",
        "2026-11-30T01:00:00Z",
    ]);
    let customer = email_ticket("budi@example.co.id");
    assert_eq!(
        decide(&customer, Some(&three), None, &settings, now),
        Decision::Skip {
            reason: "contact_daily_cap"
        }
    );
    // SMS keeps the configured cap.
    assert!(matches!(
        decide(
            &ticket(Channel::Sms, "+6221555000", None),
            Some(&three),
            None,
            &settings,
            now
        ),
        Decision::Send(_)
    ));
}
