//! Realistic, correctly signed provider webhooks, for `intake simulate` and the tests.

use intake::providers::twilio;

use crate::DevResult;

/// An inbound SMS as Twilio would post it.
#[derive(Debug, Clone)]
pub struct TwilioSms {
    /// The customer's number.
    pub from: String,
    /// Our number.
    pub to: String,
    /// Text.
    pub body: String,
    /// `MessageSid`; a fresh one when `None`.
    pub message_sid: Option<String>,
    /// Media URLs and content types (MMS).
    pub media: Vec<(String, String)>,
}

impl TwilioSms {
    /// A text message with a fresh SID.
    pub fn new(from: &str, to: &str, body: &str) -> TwilioSms {
        TwilioSms {
            from: from.into(),
            to: to.into(),
            body: body.into(),
            message_sid: None,
            media: Vec::new(),
        }
    }

    /// The form fields, as Twilio sends them for an inbound message.
    pub fn form(&self, account_sid: &str) -> Vec<(String, String)> {
        let sid = self.message_sid.clone().unwrap_or_else(new_message_sid);
        let segments = intake::sms::measure(&self.body).segments.max(1);
        let mut form = vec![
            ("ToCountry", country(&self.to)),
            ("ToState", String::new()),
            ("SmsMessageSid", sid.clone()),
            ("NumMedia", self.media.len().to_string()),
            ("ToCity", String::new()),
            ("FromZip", String::new()),
            ("SmsSid", sid.clone()),
            ("FromState", String::new()),
            ("SmsStatus", "received".into()),
            ("FromCity", String::new()),
            ("Body", self.body.clone()),
            ("FromCountry", country(&self.from)),
            ("To", self.to.clone()),
            ("ToZip", String::new()),
            ("NumSegments", segments.to_string()),
            ("MessageSid", sid),
            ("AccountSid", account_sid.to_owned()),
            ("From", self.from.clone()),
            ("ApiVersion", "2010-04-01".into()),
        ];
        let mut media = Vec::new();
        for (i, (url, content_type)) in self.media.iter().enumerate() {
            media.push((format!("MediaUrl{i}"), url.clone()));
            media.push((format!("MediaContentType{i}"), content_type.clone()));
        }
        let mut out: Vec<(String, String)> =
            form.drain(..).map(|(k, v)| (k.to_owned(), v)).collect();
        out.extend(media);
        out
    }
}

impl TwilioSms {
    /// The message as a Twilio Event Streams webhook sink delivers it: a JSON array of
    /// CloudEvents with one `com.twilio.messaging.inbound-message.received` event (schema
    /// `Messaging.InboundMessageV1`). Media are not part of that event.
    pub fn event_streams_json(&self, account_sid: &str) -> String {
        let sid = self.message_sid.clone().unwrap_or_else(new_message_sid);
        let time = jiff::Timestamp::now().to_string();
        serde_json::json!([{
            "specversion": "1.0",
            "type": "com.twilio.messaging.inbound-message.received",
            "source": format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"),
            "id": format!("EZ{:032x}", ulid::Ulid::new().0),
            "dataschema": "https://events-schemas.twilio.com/Messaging.InboundMessageV1/1",
            "datacontenttype": "application/json",
            "time": time,
            "data": {
                "messageSid": sid,
                "timestamp": time,
                "accountSid": account_sid,
                "eventName": "com.twilio.messaging.inbound-message.received",
                "from": self.from,
                "to": self.to,
                "numMedia": 0,
                "body": self.body,
                "fromCountry": country(&self.from),
                "toCountry": country(&self.to),
            }
        }])
        .to_string()
    }
}

/// A Twilio JSON callback (`body`) to the stack at `base_url`, signed as Twilio signs JSON:
/// `bodySHA256` added to the URL, and `X-Twilio-Signature` over that URL alone.
pub fn sign_twilio_json(base_url: &str, auth_token: &str, body: String) -> JsonPost {
    let url = format!("{}/sms/twilio", base_url.trim_end_matches('/'));
    let (url, signature) = twilio::sign_json(auth_token, &url, body.as_bytes());
    JsonPost {
        url,
        body,
        headers: vec![("x-twilio-signature".into(), signature)],
    }
}

fn country(number: &str) -> String {
    if number.starts_with("+62") {
        "ID"
    } else if number.starts_with("+1") {
        "US"
    } else {
        ""
    }
    .into()
}

/// A fresh Twilio-shaped message SID (`SM` + 32 hex digits).
pub fn new_message_sid() -> String {
    let id = ulid::Ulid::new().0;
    format!("SM{id:032x}")
}

/// The url-encoded body of `form`.
pub fn encode(form: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish()
}

/// A request ready to post: where, what, and its `X-Twilio-Signature`.
#[derive(Debug, Clone)]
pub struct SignedPost {
    /// Target URL.
    pub url: String,
    /// Url-encoded body.
    pub body: String,
    /// Signature header value.
    pub signature: String,
}

/// Signs `sms` for the stack at `base_url` as Twilio would with `auth_token`.
pub fn sign_twilio(
    base_url: &str,
    auth_token: &str,
    account_sid: &str,
    sms: &TwilioSms,
) -> SignedPost {
    let url = format!("{}/sms/twilio", base_url.trim_end_matches('/'));
    let form = sms.form(account_sid);
    SignedPost {
        signature: twilio::signature(auth_token, &url, &form),
        body: encode(&form),
        url,
    }
}

/// Posts a signed request; returns the status and body text.
pub async fn post(client: &reqwest::Client, post: &SignedPost) -> DevResult<(u16, String)> {
    let response = client
        .post(&post.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", &post.signature)
        .header("i-twilio-idempotency-token", ulid::Ulid::new().to_string())
        .body(post.body.clone())
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// A JSON webhook ready to post, with its signature or secret header.
#[derive(Debug, Clone)]
pub struct JsonPost {
    /// Target URL.
    pub url: String,
    /// Raw JSON body, exactly as signed.
    pub body: String,
    /// Headers besides `content-type`.
    pub headers: Vec<(String, String)>,
}

/// Posts a JSON webhook; returns the status and body text.
pub async fn post_json(client: &reqwest::Client, post: &JsonPost) -> DevResult<(u16, String)> {
    post_with(
        client,
        "application/json",
        &post.url,
        &post.body,
        &post.headers,
    )
    .await
}

/// Posts `body` as `content_type` with `headers`; returns the status and body text.
async fn post_with(
    client: &reqwest::Client,
    content_type: &str,
    url: &str,
    body: &str,
    headers: &[(String, String)],
) -> DevResult<(u16, String)> {
    let mut request = client
        .post(url)
        .header("content-type", content_type)
        .timeout(std::time::Duration::from_secs(30))
        .body(body.to_owned());
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// One customer message on a social platform.
#[derive(Debug, Clone)]
pub struct SocialMessage {
    /// The customer's platform id (PSID, IGSID, WhatsApp number, Telegram or LINE user id).
    pub from: String,
    /// Our id on the platform (page, Instagram account, WhatsApp phone number id, LINE bot).
    pub to: String,
    /// Text.
    pub body: String,
    /// Display name, where the platform sends one.
    pub name: Option<String>,
    /// Language tag, where the platform sends one (Telegram).
    pub language: Option<String>,
    /// The platform's message id; fresh when `None`.
    pub id: Option<String>,
}

impl SocialMessage {
    /// A text message.
    pub fn new(from: &str, to: &str, body: &str) -> SocialMessage {
        SocialMessage {
            from: from.into(),
            to: to.into(),
            body: body.into(),
            name: None,
            language: None,
            id: None,
        }
    }

    fn id_or_fresh(&self, prefix: &str) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("{prefix}{}", ulid::Ulid::new()))
    }
}

/// Which app of a Meta app a webhook comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetaApp {
    /// Facebook Messenger (`object: page`).
    Messenger,
    /// Instagram Direct (`object: instagram`).
    Instagram,
    /// WhatsApp Cloud API (`object: whatsapp_business_account`).
    Whatsapp,
}

/// A Meta webhook carrying `messages`, one entry per message, as Meta batches them.
pub fn meta_payload(app: MetaApp, messages: &[SocialMessage]) -> String {
    let time = jiff::Timestamp::now().as_millisecond();
    let entries: Vec<serde_json::Value> = match app {
        MetaApp::Messenger | MetaApp::Instagram => messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.to, "time": time,
                    "messaging": [{
                        "sender": {"id": m.from}, "recipient": {"id": m.to}, "timestamp": time,
                        "message": {"mid": m.id_or_fresh(if app == MetaApp::Messenger { "m_" } else { "aWdf" }), "text": m.body}
                    }]
                })
            })
            .collect(),
        MetaApp::Whatsapp => messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": "WABA_ID",
                    "changes": [{
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "6221555000", "phone_number_id": m.to},
                            "contacts": [{"profile": {"name": m.name.clone().unwrap_or_else(|| "Pelanggan".into())}, "wa_id": m.from}],
                            "messages": [{
                                "from": m.from, "id": m.id_or_fresh("wamid."), "timestamp": (time / 1000).to_string(),
                                "type": "text", "text": {"body": m.body}
                            }]
                        }
                    }]
                })
            })
            .collect(),
    };
    let object = match app {
        MetaApp::Messenger => "page",
        MetaApp::Instagram => "instagram",
        MetaApp::Whatsapp => "whatsapp_business_account",
    };
    // Meta escapes non-ASCII characters; so do we, so signatures are computed the same way.
    ascii_json(&serde_json::json!({"object": object, "entry": entries}))
}

/// JSON with every non-ASCII character escaped as `\uXXXX`, as Meta and LINE send it.
pub fn ascii_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Signs a Meta webhook body with the App Secret (`X-Hub-Signature-256`).
pub fn sign_meta(base_url: &str, app_secret: &str, body: String) -> JsonPost {
    let mac = intake::verify::hmac_sha256(app_secret.as_bytes(), &[body.as_bytes()]);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    JsonPost {
        url: format!("{}/social/meta", base_url.trim_end_matches('/')),
        body,
        headers: vec![("x-hub-signature-256".into(), format!("sha256={hex}"))],
    }
}

/// A Telegram update with one private-chat message.
pub fn telegram_payload(update_id: i64, message: &SocialMessage) -> String {
    let user: i64 = message.from.parse().unwrap_or(0);
    let message_id = message
        .id
        .as_deref()
        .and_then(|i| i.parse::<i64>().ok())
        .unwrap_or(update_id % 100_000);
    let mut from = serde_json::json!({"id": user, "is_bot": false, "first_name": message.name.clone().unwrap_or_else(|| "Budi".into())});
    if let Some(language) = &message.language {
        from["language_code"] = language.clone().into();
    }
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": from,
            "chat": {"id": user, "first_name": from["first_name"], "type": "private"},
            "date": jiff::Timestamp::now().as_second(),
            "text": message.body,
        }
    })
    .to_string()
}

/// A Telegram webhook post with its secret token header.
pub fn sign_telegram(base_url: &str, secret_token: &str, body: String) -> JsonPost {
    JsonPost {
        url: format!("{}/social/telegram", base_url.trim_end_matches('/')),
        body,
        headers: vec![(
            "x-telegram-bot-api-secret-token".into(),
            secret_token.into(),
        )],
    }
}

/// A LINE webhook with one message event per message (each with a fresh reply token).
pub fn line_payload(destination: &str, messages: &[SocialMessage]) -> String {
    let time = jiff::Timestamp::now().as_millisecond();
    let events: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "type": "message",
                "message": {"type": "text", "id": (ulid::Ulid::new().random() % 1_000_000_000_000).to_string(), "text": m.body, "quoteToken": "q"},
                "webhookEventId": m.id_or_fresh("01"),
                "deliveryContext": {"isRedelivery": false},
                "timestamp": time,
                "source": {"type": "user", "userId": m.from},
                "replyToken": format!("rt{}", ulid::Ulid::new()),
                "mode": "active",
            })
        })
        .collect();
    ascii_json(&serde_json::json!({"destination": destination, "events": events}))
}

/// Signs a LINE webhook body with the channel secret (`x-line-signature`).
pub fn sign_line(base_url: &str, channel_secret: &str, body: String) -> JsonPost {
    use base64::Engine;
    let mac = intake::verify::hmac_sha256(channel_secret.as_bytes(), &[body.as_bytes()]);
    JsonPost {
        url: format!("{}/social/line", base_url.trim_end_matches('/')),
        body,
        headers: vec![(
            "x-line-signature".into(),
            base64::engine::general_purpose::STANDARD.encode(mac),
        )],
    }
}

// Plivo

/// An inbound SMS or MMS as Plivo posts it to an application's Message URL.
#[derive(Debug, Clone)]
pub struct PlivoSms {
    /// The customer's number, as Plivo writes it (digits, no `+`).
    pub from: String,
    /// Our Plivo number.
    pub to: String,
    /// Text.
    pub text: String,
    /// `MessageUUID`; a fresh one when `None`.
    pub message_uuid: Option<String>,
    /// Media URLs (an MMS when there are any).
    pub media: Vec<String>,
    /// `MessageIntent` (`optout`, `optin`, `help`), as Plivo flags its standard keywords.
    pub intent: Option<String>,
}

impl PlivoSms {
    /// A text message with a fresh `MessageUUID`.
    pub fn new(from: &str, to: &str, text: &str) -> PlivoSms {
        PlivoSms {
            from: from.into(),
            to: to.into(),
            text: text.into(),
            message_uuid: None,
            media: Vec::new(),
            intent: None,
        }
    }

    /// The form fields, as Plivo posts them (Plivo's "Handling incoming SMS/MMS" reference).
    pub fn form(&self) -> Vec<(String, String)> {
        let uuid = self.message_uuid.clone().unwrap_or_else(new_plivo_uuid);
        let units = intake::sms::measure(&self.text).segments.max(1);
        let mms = !self.media.is_empty();
        let mut form = vec![
            ("From".to_owned(), self.from.clone()),
            ("To".to_owned(), self.to.clone()),
            (
                "Type".to_owned(),
                if mms { "mms" } else { "sms" }.to_owned(),
            ),
            (
                if mms { "Body" } else { "Text" }.to_owned(),
                self.text.clone(),
            ),
            ("MessageUUID".to_owned(), uuid),
            ("Units".to_owned(), units.to_string()),
            ("TotalRate".to_owned(), "0.00000".to_owned()),
            ("TotalAmount".to_owned(), "0.00000".to_owned()),
            (
                "MessageIntent".to_owned(),
                self.intent.clone().unwrap_or_default(),
            ),
            ("PowerpackUUID".to_owned(), String::new()),
        ];
        if mms {
            form.push(("MediaCount".to_owned(), self.media.len().to_string()));
            for (i, url) in self.media.iter().enumerate() {
                form.push((format!("Media{i}"), url.clone()));
            }
        }
        form
    }
}

/// A fresh id shaped like Plivo's `MessageUUID`.
pub fn new_plivo_uuid() -> String {
    let hex = format!("{:032x}", ulid::Ulid::new().0);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A fresh nonce shaped like Plivo's (20 digits).
pub fn new_plivo_nonce() -> String {
    format!(
        "{:020}",
        ulid::Ulid::new().random() % 100_000_000_000_000_000_000
    )
}

/// A form webhook ready to post: where, what, and its headers besides `content-type`.
#[derive(Debug, Clone)]
pub struct FormPost {
    /// Target URL.
    pub url: String,
    /// Url-encoded body, exactly as signed.
    pub body: String,
    /// Signature headers.
    pub headers: Vec<(String, String)>,
}

/// `sms` posted to the stack at `base_url`, signed as Plivo signs it with `auth_token`
/// (`X-Plivo-Signature-V3` with a fresh nonce).
pub fn sign_plivo(base_url: &str, auth_token: &str, sms: &PlivoSms) -> FormPost {
    let url = format!("{}/sms/plivo", base_url.trim_end_matches('/'));
    let body = encode(&sms.form());
    let nonce = new_plivo_nonce();
    let signature =
        intake::providers::plivo::signature(auth_token, false, &url, body.as_bytes(), &nonce);
    FormPost {
        url,
        body,
        headers: vec![
            ("x-plivo-signature-v3".into(), signature),
            ("x-plivo-signature-v3-nonce".into(), nonce),
        ],
    }
}

/// Posts a form webhook; returns the status and body text.
pub async fn post_form(client: &reqwest::Client, post: &FormPost) -> DevResult<(u16, String)> {
    post_with(
        client,
        "application/x-www-form-urlencoded",
        &post.url,
        &post.body,
        &post.headers,
    )
    .await
}

/// An inbound SMS or MMS as Telnyx delivers it (a Messaging API v2 `message.received`
/// webhook).
#[derive(Debug, Clone)]
pub struct TelnyxSms {
    /// The customer's number.
    pub from: String,
    /// Our number.
    pub to: String,
    /// Text.
    pub body: String,
    /// The message id (`data.payload.id`, a UUID); fresh when `None`.
    pub id: Option<String>,
    /// Media URLs and content types (MMS).
    pub media: Vec<(String, String)>,
}

impl TelnyxSms {
    /// A text message with a fresh id.
    pub fn new(from: &str, to: &str, body: &str) -> TelnyxSms {
        TelnyxSms {
            from: from.into(),
            to: to.into(),
            body: body.into(),
            id: None,
            media: Vec::new(),
        }
    }

    /// The webhook body, shaped as Telnyx documents `message.received`
    /// (<https://developers.telnyx.com/api-reference/callbacks/inbound-message>).
    pub fn payload(&self) -> String {
        let id = self.id.clone().unwrap_or_else(new_uuid);
        let now = jiff::Timestamp::now().to_string();
        let media: Vec<serde_json::Value> = self
            .media
            .iter()
            .map(|(url, content_type)| {
                serde_json::json!({"url": url, "content_type": content_type, "size": 10240, "hash_sha256": null})
            })
            .collect();
        let kind = if media.is_empty() { "SMS" } else { "MMS" };
        serde_json::json!({
            "data": {
                "event_type": "message.received",
                "id": new_uuid(),
                "occurred_at": now,
                "record_type": "event",
                "payload": {
                    "cc": [],
                    "direction": "inbound",
                    "encoding": if self.body.is_ascii() { "GSM-7" } else { "UCS-2" },
                    "errors": [],
                    "from": {"carrier": "Telkomsel", "line_type": "Wireless", "phone_number": self.from},
                    "id": id,
                    "media": media,
                    "messaging_profile_id": "40017f8e-49bd-4f16-9e3d-ef103f916228",
                    "parts": intake::sms::measure(&self.body).segments.max(1),
                    "received_at": now,
                    "record_type": "message",
                    "tags": [],
                    "text": self.body,
                    "to": [{"carrier": "Telnyx", "line_type": "Wireless", "phone_number": self.to, "status": "webhook_delivered"}],
                    "type": kind,
                }
            },
            "meta": {"attempt": 1, "delivered_to": "/sms/telnyx"}
        })
        .to_string()
    }
}

/// A fresh UUID-shaped id, as Telnyx names messages and events.
pub fn new_uuid() -> String {
    let n: u128 = ulid::Ulid::new().0;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        n >> 96,
        (n >> 80) & 0xffff,
        (n >> 64) & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

/// A Telnyx webhook `body` to the stack at `base_url`, signed at `timestamp` (Unix seconds)
/// with the key pair of `seed`, as Telnyx signs: Ed25519 over `{timestamp}|{body}`.
pub fn sign_telnyx(base_url: &str, seed: &[u8; 32], timestamp: i64, body: String) -> JsonPost {
    let timestamp = timestamp.to_string();
    // The seed is a fixed array, which the key pair always accepts.
    let signature =
        intake::providers::telnyx::sign(seed, &timestamp, body.as_bytes()).unwrap_or_default();
    JsonPost {
        url: format!("{}/sms/telnyx", base_url.trim_end_matches('/')),
        body,
        headers: vec![
            ("telnyx-signature-ed25519".into(), signature),
            ("telnyx-timestamp".into(), timestamp),
        ],
    }
}

// Vonage

/// An inbound SMS as Vonage delivers it, through the SMS API or the Messages API.
#[derive(Debug, Clone)]
pub struct VonageSms {
    /// The customer's number, as Vonage writes it (digits, no `+`).
    pub from: String,
    /// Our Vonage number.
    pub to: String,
    /// Text.
    pub text: String,
    /// `messageId` (SMS API) or `message_uuid` (Messages API); fresh when `None`.
    pub id: Option<String>,
    /// One part of a concatenated SMS (SMS API): `(concat-ref, concat-part, concat-total)`.
    pub part: Option<(String, u32, u32)>,
}

/// How a Vonage webhook is delivered: the SMS API's three HTTP methods, or the Messages API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VonageDelivery {
    /// SMS API, parameters in the query string.
    Get,
    /// SMS API, a form POST.
    Post,
    /// SMS API, a JSON POST.
    PostJson,
    /// Messages API, JSON with a Bearer JWT.
    Messages,
}

impl VonageSms {
    /// A text message with a fresh id.
    pub fn new(from: &str, to: &str, text: &str) -> VonageSms {
        VonageSms {
            from: from.into(),
            to: to.into(),
            text: text.into(),
            id: None,
            part: None,
        }
    }

    /// The SMS API's parameters for this message at `timestamp` (Unix seconds), unsigned.
    pub fn sms_api_params(&self, timestamp: i64) -> Vec<(String, String)> {
        let id = self
            .id
            .clone()
            .unwrap_or_else(|| format!("{:016X}", ulid::Ulid::new().random() as u64));
        let gsm = intake::sms::measure(&self.text).gsm7;
        let message_time = jiff::Timestamp::from_second(timestamp)
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        let mut params = vec![
            ("msisdn", self.from.clone()),
            ("to", self.to.clone()),
            ("messageId", id),
            ("text", self.text.clone()),
            ("type", if gsm { "text" } else { "unicode" }.to_owned()),
            (
                "keyword",
                self.text
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_uppercase(),
            ),
            // The receiving account's API key (signed like the rest; not checked).
            ("api-key", "abcd1234".to_owned()),
            ("message-timestamp", message_time),
            ("timestamp", timestamp.to_string()),
            ("nonce", uuid_shaped(ulid::Ulid::new())),
        ];
        if let Some((reference, part, total)) = &self.part {
            params.push(("concat", "true".into()));
            params.push(("concat-ref", reference.clone()));
            params.push(("concat-part", part.to_string()));
            params.push(("concat-total", total.to_string()));
        }
        params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The Messages API's inbound SMS webhook body for this message.
    pub fn messages_api_json(&self) -> String {
        let id = self
            .id
            .clone()
            .unwrap_or_else(|| uuid_shaped(ulid::Ulid::new()));
        serde_json::json!({
            "channel": "sms",
            "message_uuid": id,
            "to": self.to,
            "from": self.from,
            "timestamp": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "text": self.text,
            "sms": {"num_messages": "1", "count_total": "1"},
            "usage": {"price": "0.0057", "currency": "EUR"},
            "message_type": "text",
        })
        .to_string()
    }
}

/// A UUID-shaped rendering of a ULID (Vonage's `message_uuid` and `nonce`).
pub fn uuid_shaped(id: ulid::Ulid) -> String {
    let hex = format!("{:032x}", id.0);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A Vonage webhook ready to send.
#[derive(Debug, Clone)]
pub struct VonageRequest {
    /// `GET` or `POST`.
    pub get: bool,
    /// Target URL (with the query of a GET).
    pub url: String,
    /// The body's media type (POST).
    pub content_type: Option<&'static str>,
    /// Body, exactly as signed.
    pub body: String,
    /// Headers besides `content-type` (the Messages API's `Authorization`).
    pub headers: Vec<(String, String)>,
}

/// `sms` delivered to the stack at `base_url` as Vonage would, signed with `secret` (by
/// `method` for the SMS API; the Messages API's JWT is always HS256) at `now` (Unix seconds).
pub fn sign_vonage(
    base_url: &str,
    secret: &str,
    method: intake::config::VonageSignatureMethod,
    delivery: VonageDelivery,
    sms: &VonageSms,
    now: i64,
) -> VonageRequest {
    use intake::providers::vonage;
    let url = format!("{}/sms/vonage", base_url.trim_end_matches('/'));
    if delivery == VonageDelivery::Messages {
        let body = sms.messages_api_json();
        let authorization = vonage::messages_authorization(secret, body.as_bytes(), now);
        return VonageRequest {
            get: false,
            url,
            content_type: Some("application/json"),
            body,
            headers: vec![("authorization".into(), authorization)],
        };
    }
    let mut params = sms.sms_api_params(now);
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    let sig = vonage::sms_signature(method, secret, &sorted);
    params.push(("sig".into(), sig));
    match delivery {
        VonageDelivery::Get => VonageRequest {
            get: true,
            url: format!("{url}?{}", encode(&params)),
            content_type: None,
            body: String::new(),
            headers: Vec::new(),
        },
        VonageDelivery::PostJson => VonageRequest {
            get: false,
            url,
            content_type: Some("application/json"),
            body: serde_json::Value::Object(
                params
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
            )
            .to_string(),
            headers: Vec::new(),
        },
        _ => VonageRequest {
            get: false,
            url,
            content_type: Some("application/x-www-form-urlencoded"),
            body: encode(&params),
            headers: Vec::new(),
        },
    }
}

/// Sends a Vonage webhook; returns the status and body text.
pub async fn send_vonage(
    client: &reqwest::Client,
    request: &VonageRequest,
) -> DevResult<(u16, String)> {
    let mut builder = if request.get {
        client.get(&request.url)
    } else {
        client.post(&request.url).body(request.body.clone())
    };
    if let Some(content_type) = request.content_type {
        builder = builder.header("content-type", content_type);
    }
    for (k, v) in &request.headers {
        builder = builder.header(k, v);
    }
    let response = builder
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}
