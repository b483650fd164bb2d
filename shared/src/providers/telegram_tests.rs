//! Telegram webhook verification, parsing and API request shapes.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

const SECRET: &str = "s3cr3t-Token_42";
const SETTINGS: &str = r#"
[[brand]]
id = "other"
name = "Other"
addresses = ["+6221555000"]

[[brand]]
id = "tokoku"
name = "TokoKu"
addresses = ["telegram:7012345678"]
default_language = "id"
"#;

fn config() -> TelegramConfig {
    TelegramConfig {
        bot_token: Secret::new("7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        secret_token: Some(Secret::new(SECRET)),
        api_base_url: url::Url::parse("https://api.telegram.org").unwrap(),
    }
}

fn telegram() -> Telegram {
    Telegram::new(&config(), &AckSettings::from_toml(SETTINGS).unwrap())
        .unwrap()
        .expect("secret configured")
}

fn request(body: &str, secret: Option<&str>) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(s) = secret {
        headers.insert(SECRET_HEADER, HeaderValue::from_str(s).unwrap());
    }
    WebhookRequest::new(
        Method::POST,
        "/social/telegram",
        None,
        headers,
        Bytes::from(body.to_owned()),
    )
}

fn parse(update: &Value) -> Result<Vec<InboundMessage>, WebhookError> {
    telegram().parse(&request(&update.to_string(), None), Timestamp::UNIX_EPOCH)
}

fn one(update: &Value) -> InboundMessage {
    let mut messages = parse(update).unwrap();
    assert_eq!(messages.len(), 1, "{update}");
    messages.remove(0)
}

/// A private-chat update as Telegram sends it, with `content` merged into the message.
fn private(update_id: i64, content: Value) -> Value {
    let mut message = json!({
        "message_id": 1365,
        "from": {
            "id": 123456789,
            "is_bot": false,
            "first_name": "Budi",
            "last_name": "Santoso",
            "username": "budisan",
            "language_code": "id"
        },
        "chat": {
            "id": 123456789,
            "first_name": "Budi",
            "last_name": "Santoso",
            "username": "budisan",
            "type": "private"
        },
        "date": 1735689600
    });
    if let (Some(m), Value::Object(extra)) = (message.as_object_mut(), content) {
        m.extend(extra);
    }
    json!({ "update_id": update_id, "message": message })
}

#[test]
fn verifies_the_secret_token_header() {
    let now = Timestamp::UNIX_EPOCH;
    let body = private(1, json!({"text": "halo"})).to_string();
    assert!(
        telegram()
            .verify(&request(&body, Some(SECRET)), now)
            .is_ok()
    );
    assert!(matches!(
        telegram().verify(&request(&body, None), now),
        Err(WebhookError::MissingSignature(_))
    ));
    for wrong in [
        "s3cr3t-Token_43",  // one byte changed
        "s3cr3t-Token_4",   // a prefix
        "s3cr3t-Token_420", // longer
        "another-secret",
        "",
    ] {
        assert!(
            matches!(
                telegram().verify(&request(&body, Some(wrong)), now),
                Err(WebhookError::BadSignature)
            ),
            "{wrong:?}"
        );
    }
    let mut form = request(&body, Some(SECRET));
    form.headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    assert!(matches!(
        telegram().verify(&form, now),
        Err(WebhookError::UnsupportedMediaType { .. })
    ));
    let mut with_charset = request(&body, Some(SECRET));
    with_charset.headers.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    assert!(telegram().verify(&with_charset, now).is_ok());
}

#[test]
fn limits_and_names() {
    let t = telegram();
    assert_eq!(t.max_body_bytes(), 1024 * 1024);
    assert_eq!(t.name(), "telegram");
    assert_eq!(t.channel(), Channel::Social);
    assert_eq!(bot_id(&Secret::new("123:abc")), "123");
    // A malformed token never leaks into an address.
    assert_eq!(bot_id(&Secret::new("no-colon-secret")), "0");
    assert_eq!(bot_id(&Secret::new("abc:def")), "0");
}

#[test]
fn parses_a_private_text_message() {
    let m = one(&private(
        880001,
        json!({"text": "Halo, pesanan #A123 belum sampai"}),
    ));
    assert_eq!(m.channel, Channel::Social);
    assert_eq!(m.provider, "telegram");
    assert_eq!(m.provider_message_id, "123456789:1365:880001");
    assert_eq!(m.from.address, "telegram:123456789");
    assert_eq!(m.from.name.as_deref(), Some("Budi Santoso"));
    assert_eq!(m.to, "telegram:7012345678");
    assert_eq!(m.body, "Halo, pesanan #A123 belum sampai");
    assert_eq!(m.language.as_deref(), Some("id"));
    assert_eq!(m.received_at, Timestamp::UNIX_EPOCH);
    assert_eq!(m.keyword, None);
    assert_eq!(m.reply_token, None);
    assert!(m.attachments.is_empty());
}

#[test]
fn sms_keywords_do_not_apply() {
    for word in ["STOP", "help", "start"] {
        assert_eq!(one(&private(2, json!({ "text": word }))).keyword, None);
    }
}

#[test]
fn photo_with_caption_takes_the_largest_size() {
    let m = one(&private(
        880002,
        json!({
            "caption": "Paketnya rusak",
            "photo": [
                {"file_id": "AgACAgQAAxk-small", "file_unique_id": "AQAD1", "file_size": 1290, "width": 90, "height": 67},
                {"file_id": "AgACAgQAAxk-large", "file_unique_id": "AQAD3", "file_size": 98765, "width": 1280, "height": 960},
                {"file_id": "AgACAgQAAxk-medium", "file_unique_id": "AQAD2", "file_size": 17436, "width": 320, "height": 240}
            ]
        }),
    ));
    assert_eq!(m.body, "Paketnya rusak");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            url: Some("telegram-file:AgACAgQAAxk-large".into()),
            content_type: Some("image/jpeg".into()),
            name: None,
            size: Some(98765),
        }]
    );
}

#[test]
fn document_without_caption_is_a_message() {
    let m = one(&private(
        880003,
        json!({
            "document": {
                "file_name": "invoice-0425.pdf",
                "mime_type": "application/pdf",
                "file_id": "BQACAgQAAxkBAAIB",
                "file_unique_id": "AgADbQ8AAk",
                "file_size": 48213
            }
        }),
    ));
    assert_eq!(m.body, "");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            url: Some("telegram-file:BQACAgQAAxkBAAIB".into()),
            content_type: Some("application/pdf".into()),
            name: Some("invoice-0425.pdf".into()),
            size: Some(48213),
        }]
    );
}

#[test]
fn voice_audio_video_sticker_and_animation_metadata() {
    let voice = one(&private(
        3,
        json!({"voice": {"duration": 4, "mime_type": "audio/ogg", "file_id": "AwACAgQ-voice", "file_unique_id": "u", "file_size": 9023}}),
    ));
    assert_eq!(
        voice.attachments[0].content_type.as_deref(),
        Some("audio/ogg")
    );
    assert_eq!(voice.attachments[0].size, Some(9023));

    let audio = one(&private(
        4,
        json!({"audio": {"duration": 180, "file_name": "rekaman.mp3", "mime_type": "audio/mpeg", "file_id": "CQACAgQ-audio", "file_unique_id": "u"}}),
    ));
    assert_eq!(audio.attachments[0].name.as_deref(), Some("rekaman.mp3"));
    assert_eq!(
        audio.attachments[0].url.as_deref(),
        Some("telegram-file:CQACAgQ-audio")
    );

    let video = one(&private(
        5,
        json!({"caption": "lihat", "video": {"duration": 12, "width": 720, "height": 1280, "mime_type": "video/mp4", "file_id": "BAACAgQ-video", "file_unique_id": "u", "file_size": 2_000_000}}),
    ));
    assert_eq!(video.body, "lihat");
    assert_eq!(
        video.attachments[0].content_type.as_deref(),
        Some("video/mp4")
    );

    let sticker = one(&private(
        6,
        json!({"sticker": {"width": 512, "height": 512, "emoji": "👍", "set_name": "HotCherry", "is_animated": true, "is_video": false, "type": "regular", "file_id": "CAACAgIAAxk-sticker", "file_unique_id": "u", "file_size": 14872}}),
    ));
    assert_eq!(sticker.body, "");
    assert_eq!(
        sticker.attachments[0].content_type.as_deref(),
        Some("application/x-tgsticker")
    );

    // An animation fills `document` too: stored once.
    let gif = one(&private(
        7,
        json!({
            "animation": {"file_name": "lol.mp4", "mime_type": "video/mp4", "duration": 2, "width": 320, "height": 240, "file_id": "CgACAgQ-anim", "file_unique_id": "u", "file_size": 51234},
            "document": {"file_name": "lol.mp4", "mime_type": "video/mp4", "file_id": "CgACAgQ-anim", "file_unique_id": "u", "file_size": 51234}
        }),
    ));
    assert_eq!(gif.attachments.len(), 1);
    assert_eq!(
        gif.attachments[0].url.as_deref(),
        Some("telegram-file:CgACAgQ-anim")
    );
}

#[test]
fn shared_location_and_contact_become_text() {
    let at = one(&private(
        8,
        json!({"location": {"latitude": -6.2, "longitude": 106.816666}}),
    ));
    assert_eq!(at.body, "📍 (-6.2, 106.816666)");
    let contact = one(&private(
        9,
        json!({"contact": {"phone_number": "+6281234567890", "first_name": "Sari", "user_id": 42}}),
    ));
    assert_eq!(contact.body, "👤 Sari +6281234567890");
}

#[test]
fn edited_message_is_its_own_delivery() {
    let mut update = private(
        880004,
        json!({"text": "Halo, pesanan #A124", "edit_date": 1735689700}),
    );
    let message = update["message"].take();
    let update = json!({"update_id": 880004, "edited_message": message});
    let m = one(&update);
    assert_eq!(m.body, "Halo, pesanan #A124");
    assert_eq!(m.provider_message_id, "123456789:1365:880004");
}

#[test]
fn groups_channels_and_other_updates_are_ignored() {
    let mut group = private(10, json!({"text": "halo semua"}));
    group["message"]["chat"] =
        json!({"id": -1001234567890_i64, "title": "Pelanggan", "type": "supergroup"});
    let channel_post = json!({
        "update_id": 11,
        "channel_post": {
            "message_id": 3, "date": 1735689600, "text": "Promo!",
            "chat": {"id": -1009876543210_i64, "title": "Promo", "type": "channel"}
        }
    });
    let callback = json!({
        "update_id": 12,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": 123456789, "is_bot": false, "first_name": "Budi"},
            "chat_instance": "-8290712345",
            "data": "order:A123"
        }
    });
    let member = json!({
        "update_id": 13,
        "my_chat_member": {
            "chat": {"id": 123456789, "first_name": "Budi", "type": "private"},
            "from": {"id": 123456789, "is_bot": false, "first_name": "Budi"},
            "date": 1735689600,
            "old_chat_member": {"user": {"id": 7012345678_i64, "is_bot": true, "first_name": "TokoKu"}, "status": "member"},
            "new_chat_member": {"user": {"id": 7012345678_i64, "is_bot": true, "first_name": "TokoKu"}, "status": "kicked", "until_date": 0}
        }
    });
    let service = private(14, json!({"pinned_message": {"message_id": 1}}));
    for update in [group, channel_post, callback, member, service] {
        assert_eq!(parse(&update).unwrap(), Vec::new(), "{update}");
    }
}

#[test]
fn start_is_a_keyword_not_a_support_message() {
    for text in [
        "/start",
        "/start promo-ramadan_2025",
        "/start@TokoKuBot",
        " /start",
    ] {
        assert_eq!(
            one(&private(15, json!({ "text": text }))).keyword,
            Some(Keyword::Start),
            "{text:?}"
        );
    }
    for text in ["/starting", "start", "/stop", "please /start"] {
        assert_eq!(
            one(&private(16, json!({ "text": text }))).keyword,
            None,
            "{text:?}"
        );
    }
    // A caption is not a command, and neither is an edit.
    let photo = json!({"caption": "/start", "photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]});
    assert_eq!(one(&private(17, photo)).keyword, None);
    let edited = json!({"update_id": 18, "edited_message": private(18, json!({"text": "/start"}))["message"]});
    assert_eq!(one(&edited).keyword, None);
}

#[test]
fn start_is_answered_in_the_webhook_response() {
    let t = telegram();
    let greeting = |language_code: Option<&str>| {
        let mut update = private(19, json!({"text": "/start"}));
        match language_code {
            Some(code) => update["message"]["from"]["language_code"] = json!(code),
            None => {
                if let Some(from) = update["message"]["from"].as_object_mut() {
                    from.remove("language_code");
                }
            }
        }
        let messages = t
            .parse(&request(&update.to_string(), None), Timestamp::UNIX_EPOCH)
            .unwrap();
        let reply = t.accepted_for(&messages);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "application/json");
        serde_json::from_str::<Value>(&reply.body).unwrap()
    };
    assert_eq!(
        greeting(Some("en")),
        json!({
            "method": "sendMessage",
            "chat_id": 123456789,
            "text": "Hi! Send us your question here and TokoKu will reply."
        })
    );
    assert_eq!(
        greeting(Some("id")),
        json!({
            "method": "sendMessage",
            "chat_id": 123456789,
            "text": "Halo! Silakan kirim pertanyaan Anda di sini, TokoKu akan membalas."
        })
    );
    // en-GB reads as English; French and no tag fall back to the brand's Indonesian.
    assert!(
        greeting(Some("en-GB"))["text"]
            .as_str()
            .unwrap()
            .starts_with("Hi!")
    );
    assert!(
        greeting(Some("fr"))["text"]
            .as_str()
            .unwrap()
            .starts_with("Halo!")
    );
    assert!(
        greeting(None)["text"]
            .as_str()
            .unwrap()
            .starts_with("Halo!")
    );
}

#[test]
fn other_batches_answer_an_empty_object() {
    let t = telegram();
    let messages = parse(&private(20, json!({"text": "halo"}))).unwrap();
    assert_eq!(t.accepted_for(&messages), Reply::empty_ok());
    assert_eq!(t.accepted_for(&[]), Reply::empty_ok());
}

#[test]
fn default_brand_greets_when_the_bot_belongs_to_no_brand() {
    let t = Telegram::new(&config(), &AckSettings::builtin())
        .unwrap()
        .expect("secret configured");
    assert_eq!(
        t.greeting_in(Language::En),
        "Hi! Send us your question here and our team will reply."
    );
}

#[test]
fn missing_ids_and_bad_json_are_refused() {
    let cases = [
        (
            json!({"message": private(1, json!({"text": "x"}))["message"]}),
            "update_id",
        ),
        (
            {
                let mut u = private(1, json!({"text": "x"}));
                if let Some(m) = u["message"].as_object_mut() {
                    m.remove("chat");
                }
                u
            },
            "message.chat",
        ),
        (
            {
                let mut u = private(1, json!({"text": "x"}));
                if let Some(c) = u["message"]["chat"].as_object_mut() {
                    c.remove("id");
                }
                u
            },
            "message.chat.id",
        ),
        (
            {
                let mut u = private(1, json!({"text": "x"}));
                if let Some(m) = u["message"].as_object_mut() {
                    m.remove("message_id");
                }
                u
            },
            "message.message_id",
        ),
    ];
    for (update, field) in cases {
        match parse(&update) {
            Err(WebhookError::MissingField(f)) => assert_eq!(f, field, "{update}"),
            other => panic!("{update}: {other:?}"),
        }
    }
    for body in [
        "",
        "{",
        "not json",
        "[]",
        "42",
        r#"{"update_id": "one"}"#,
        r#"{"update_id": 1, "message": "hi"}"#,
        r#"{"update_id": 1.5}"#,
    ] {
        assert!(
            matches!(
                telegram().parse(&request(body, None), Timestamp::UNIX_EPOCH),
                Err(WebhookError::Malformed(_))
            ),
            "{body:?}"
        );
    }
    // The error names the position, never the content.
    let Err(WebhookError::Malformed(why)) = telegram().parse(
        &request(r#"{"update_id": 1, "message": {"text": "rahasia"#, None),
        Timestamp::UNIX_EPOCH,
    ) else {
        panic!("expected Malformed");
    };
    assert!(!why.contains("rahasia"), "{why}");
}

fn outbound(in_reply_to: &str, to: &str) -> OutboundMessage {
    OutboundMessage {
        to: to.into(),
        from: "telegram:7012345678".into(),
        body: "Terima kasih! Tiket Anda #K7F3Q2.".into(),
        html: None,
        subject: None,
        in_reply_to: in_reply_to.into(),
        references: vec![],
        ticket_reference: "K7F3Q2".into(),
        reply_token: None,
        customer_wrote_at: Timestamp::UNIX_EPOCH,
        now: Timestamp::UNIX_EPOCH,
    }
}

#[test]
fn send_message_replies_to_the_customer_message() {
    let body = send_message_body(&outbound("123456789:1365:880001", "telegram:123456789")).unwrap();
    assert_eq!(
        body,
        json!({
            "chat_id": 123456789,
            "text": "Terima kasih! Tiket Anda #K7F3Q2.",
            "reply_parameters": {"message_id": 1365, "allow_sending_without_reply": true}
        })
    );
    // Without a usable message id the chat is the user's.
    let body = send_message_body(&outbound("", "telegram:123456789")).unwrap();
    assert_eq!(
        body,
        json!({"chat_id": 123456789, "text": "Terima kasih! Tiket Anda #K7F3Q2."})
    );
    assert!(matches!(
        send_message_body(&outbound("", "messenger:123")),
        Err(SendError::Permanent { .. })
    ));
}

#[test]
fn sender_keeps_the_token_out_of_sight() {
    let sender = TelegramSender::new(&config(), reqwest::Client::new()).unwrap();
    assert_eq!(
        sender.endpoint.expose(),
        "https://api.telegram.org/bot7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
    );
    assert_eq!(format!("{:?}", sender.endpoint), "Secret(***)");
    assert_eq!(sender.provider(), "telegram");
}

/// Any JSON value, small and nested.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("private".to_owned()),
            Just("/start".to_owned()),
            ".{0,12}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "file_id",
            "file_size",
            "file_name",
            "mime_type",
            "width",
            "height",
            "id",
            "type",
            "latitude",
            "longitude",
            "is_video",
            "is_animated",
            "first_name",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut req = request("", Some(SECRET));
        req.body = Bytes::from(body);
        let t = telegram();
        let _ = t.verify(&req, Timestamp::UNIX_EPOCH);
        if let Ok(messages) = t.parse(&req, Timestamp::UNIX_EPOCH) {
            let _ = t.accepted_for(&messages);
        }
    }

    #[test]
    fn parse_never_panics_on_json_shaped_input(
        update_id in json_value(),
        message_id in json_value(),
        chat_id in json_value(),
        from in json_value(),
        text in json_value(),
        media in json_value(),
        media_key in proptest::sample::select(vec![
            "photo", "document", "animation", "voice", "audio", "video", "video_note",
            "sticker", "venue", "location", "contact", "caption",
        ]),
        anything in json_value(),
    ) {
        let t = telegram();
        let update = json!({
            "update_id": update_id,
            "message": {
                "message_id": message_id,
                "chat": {"id": chat_id, "type": "private"},
                "from": from,
                "text": text,
                media_key: media,
            },
        });
        for body in [update.to_string(), anything.to_string()] {
            if let Ok(messages) = t.parse(&request(&body, None), Timestamp::UNIX_EPOCH) {
                let _ = t.accepted_for(&messages);
            }
        }
    }
}
