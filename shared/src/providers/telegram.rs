//! Telegram Bot API: webhook updates (`/social/telegram`) and `sendMessage`.
//!
//! Reference: <https://core.telegram.org/bots/api> (Update, Message, setWebhook, sendMessage,
//! ReplyParameters, "Making requests when getting updates").
//!
//! - Trust: `setWebhook` is given a `secret_token` (1-256 characters `A-Za-z0-9_-`), and
//!   Telegram sends it back in `X-Telegram-Bot-Api-Secret-Token` on every call. There is no
//!   signature over the body: the header is the proof, compared in constant time.
//! - Updates: one `Update` per call, with at most one optional field. Only `message` and
//!   `edited_message` of private chats carry customer messages; groups, channels, callback
//!   queries, member updates and the rest are answered 200 with nothing stored.
//! - Ids: the customer is `telegram:<from.id>`, our side `telegram:<bot id>` (the number
//!   before `:` in the bot token). The provider message id is
//!   `<chat id>:<message id>:<update id>`: the update id makes every delivery (an edit too)
//!   its own dedup key, and the sender reads the chat and message back for `reply_parameters`.
//! - `/start` (with or without a deep-link payload) is how every Telegram conversation
//!   begins: it is flagged [`Keyword::Start`] (no ticket), and the webhook's answer greets the
//!   customer through the Bot API's "reply in the webhook response" method.
//! - Files need a URL with the bot token in it (`getFile`), so attachments are stored as
//!   `telegram-file:<file_id>` and resolved by whoever shows them.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{OutboundMessage, Provider, SendError, SendReceipt, Sender, json};
use crate::ack::language::Language;
use crate::ack::settings::AckSettings;
use crate::config::{ConfigError, Secret, TelegramConfig};
use crate::error::WebhookError;
use crate::future::BoxFuture;
use crate::keywords::Keyword;
use crate::model::{Attachment, Channel, InboundMessage, Party};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::verify::check_signature;

const PROVIDER: &str = "telegram";
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
const JSON: &str = "application/json";
/// Updates are small; a message's text is at most 4096 characters.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Telegram's webhook (`/social/telegram`).
pub struct Telegram {
    /// SHA-256 of the `secret_token`: comparing digests hides the token's length too.
    secret_digest: [u8; 32],
    /// `telegram:<bot id>`.
    our_address: String,
    /// The `/start` greeting in every shipped language, for the brand of this bot.
    greetings: Vec<(Language, String)>,
    /// The brand's language when the customer's is not one we ship.
    default_language: Language,
}

impl Telegram {
    /// From configuration and the ack settings (for the `/start` greeting).
    /// `None` when the webhook's secret token is not configured; refused when it or the bot
    /// token is blank (a blank secret token would admit any caller that sends the header
    /// empty).
    pub fn new(
        config: &TelegramConfig,
        settings: &AckSettings,
    ) -> Result<Option<Telegram>, ConfigError> {
        let Some(secret_token) = &config.secret_token else {
            return Ok(None);
        };
        secret_token.require("TELEGRAM_SECRET_TOKEN")?;
        config.bot_token.require("TELEGRAM_BOT_TOKEN")?;
        let our_address = format!("{PROVIDER}:{}", bot_id(&config.bot_token));
        let brand = settings.brand_for(&our_address);
        Ok(Some(Telegram {
            secret_digest: Sha256::digest(secret_token.expose().as_bytes()).into(),
            greetings: Language::ALL
                .iter()
                .map(|&language| (language, greeting(language, &brand.name)))
                .collect(),
            default_language: brand.default_language,
            our_address,
        }))
    }

    fn greeting_in(&self, language: Language) -> &str {
        self.greetings
            .iter()
            .find(|(l, _)| *l == language)
            .or_else(|| self.greetings.first())
            .map_or("", |(_, text)| text.as_str())
    }
}

/// The bot's id: the digits before `:` in its token (configuration checks the shape). Never
/// the rest of the token, even for a malformed one.
fn bot_id(token: &Secret) -> &str {
    token
        .expose()
        .split_once(':')
        .map(|(id, _)| id)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("0")
}

/// The answer to `/start`.
fn greeting(language: Language, brand: &str) -> String {
    match language {
        Language::En => {
            format!("Hi! Send us your question here and {brand} will reply.")
        }
        Language::Id => {
            format!("Halo! Silakan kirim pertanyaan Anda di sini, {brand} akan membalas.")
        }
    }
}

impl Provider for Telegram {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Social
    }

    fn max_body_bytes(&self) -> usize {
        MAX_BODY_BYTES
    }

    fn verify(&self, req: &WebhookRequest, _now: Timestamp) -> Result<(), WebhookError> {
        req.require_media_type(JSON)?;
        let claimed = req
            .headers
            .get(SECRET_HEADER)
            .ok_or(WebhookError::MissingSignature(
                "X-Telegram-Bot-Api-Secret-Token",
            ))?;
        check_signature(&Sha256::digest(claimed.as_bytes()), &self.secret_digest)
    }

    fn parse(
        &self,
        req: &WebhookRequest,
        now: Timestamp,
    ) -> Result<Vec<InboundMessage>, WebhookError> {
        let update = json::object(&req.body)?;
        let update_id = integer(update.get("update_id"), "update_id")?;
        // At most one of the optional fields is present. Everything but a (new or edited)
        // message — callback queries, member updates, channel posts, business messages,
        // reactions, polls — is acknowledged and dropped.
        let (message, edited) = match (update.get("message"), update.get("edited_message")) {
            (Some(m), _) => (m, false),
            (None, Some(m)) => (m, true),
            (None, None) => return Ok(Vec::new()),
        };
        let message = message
            .as_object()
            .ok_or_else(|| WebhookError::Malformed("message is not an object".into()))?;
        let chat = message
            .get("chat")
            .and_then(Value::as_object)
            .ok_or(WebhookError::MissingField("message.chat"))?;
        if chat.get("type").and_then(Value::as_str) != Some("private") {
            // Groups, supergroups and channels are not support conversations.
            return Ok(Vec::new());
        }
        let chat_id = integer(chat.get("id"), "message.chat.id")?;
        let message_id = integer(message.get("message_id"), "message.message_id")?;
        let from = message.get("from").and_then(Value::as_object);
        // In a private chat the chat id is the user's id; `from` is there in practice.
        let user_id = match from.and_then(|f| f.get("id")) {
            Some(id) => integer(Some(id), "message.from.id")?,
            None => chat_id,
        };
        let text = json::string(message.get("text"));
        let attachments = attachments(message);
        let body = match text.or_else(|| json::string(message.get("caption"))) {
            Some(t) => t.to_owned(),
            None => shared_place_or_contact(message).unwrap_or_default(),
        };
        if body.trim().is_empty() && attachments.is_empty() {
            // Service messages (pinned, payments, shared users, ...), polls, dice: nothing a
            // person wrote, so nothing to open a ticket for.
            return Ok(Vec::new());
        }
        // An edit to "/start" re-runs nothing in Telegram: only a new message is the command.
        let keyword = (!edited && text.is_some_and(is_start)).then_some(Keyword::Start);
        Ok(vec![InboundMessage {
            channel: Channel::Social,
            provider: PROVIDER,
            provider_message_id: format!("{chat_id}:{message_id}:{update_id}"),
            from: Party {
                address: format!("{PROVIDER}:{user_id}"),
                name: from.and_then(display_name),
            },
            to: self.our_address.clone(),
            subject: None,
            body,
            attachments,
            language: from
                .and_then(|f| json::string(f.get("language_code")))
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
            received_at: now,
            keyword,
            reply_token: None,
            email: None,
        }])
    }

    /// With a `/start` in the batch, the answer is a `sendMessage` for Telegram to perform:
    /// the greeting costs no API call and no ticket. Otherwise an empty JSON object.
    fn accepted_for(&self, messages: &[InboundMessage]) -> Reply {
        let start = messages
            .iter()
            .find(|m| m.provider == PROVIDER && m.keyword == Some(Keyword::Start));
        let Some(start) = start else {
            return Reply::empty_ok();
        };
        let Some(chat_id) = reply_target(&start.provider_message_id).map(|(chat, _)| chat) else {
            return Reply::empty_ok();
        };
        let language = start
            .language
            .as_deref()
            .and_then(Language::from_tag)
            .unwrap_or(self.default_language);
        let answer = json!({
            "method": "sendMessage",
            "chat_id": chat_id,
            "text": self.greeting_in(language),
        });
        Reply::json(200, answer.to_string())
    }
}

/// A required integer id.
fn integer(value: Option<&Value>, field: &'static str) -> Result<i64, WebhookError> {
    match value {
        None | Some(Value::Null) => Err(WebhookError::MissingField(field)),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| WebhookError::Malformed(format!("{field} is not an integer"))),
    }
}

/// `first_name` and `last_name`, when there is any.
fn display_name(user: &Map<String, Value>) -> Option<String> {
    let name = [user.get("first_name"), user.get("last_name")]
        .into_iter()
        .filter_map(json::string)
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

/// `/start`, `/start <payload>` (deep links) or `/start@bot_username`, but not `/starting`.
fn is_start(text: &str) -> bool {
    text.trim_start()
        .strip_prefix("/start")
        .is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with('@')
        })
}

/// Every file of a message: the largest photo size, documents, animations, voice notes,
/// audio, video, video notes and stickers. Fields of the wrong type are left out rather than
/// refusing the update (Telegram would retry it for a day).
fn attachments(message: &Map<String, Value>) -> Vec<Attachment> {
    let mut out = Vec::new();
    if let Some(sizes) = message.get("photo").and_then(Value::as_array) {
        // Sizes come smallest first; pick the most pixels, the last among equals.
        let area = |p: &Value| {
            let side = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
            side("width").saturating_mul(side("height"))
        };
        if let Some(largest) = sizes.iter().max_by_key(|p| area(p)) {
            // Telegram re-encodes photos as JPEG; other images arrive as documents.
            out.extend(file(largest, Some("image/jpeg")));
        }
    }
    // An animation also fills `document`, for old clients: take it once.
    let animation = message.get("animation");
    let document = if animation.is_some() {
        animation
    } else {
        message.get("document")
    };
    out.extend(document.and_then(|d| file(d, None)));
    out.extend(
        message
            .get("voice")
            .and_then(|v| file(v, Some("audio/ogg"))),
    );
    out.extend(message.get("audio").and_then(|a| file(a, None)));
    out.extend(message.get("video").and_then(|v| file(v, None)));
    out.extend(
        message
            .get("video_note")
            .and_then(|v| file(v, Some("video/mp4"))),
    );
    if let Some(sticker) = message.get("sticker") {
        let flag = |k: &str| sticker.get(k).and_then(Value::as_bool).unwrap_or(false);
        let kind = if flag("is_video") {
            "video/webm"
        } else if flag("is_animated") {
            "application/x-tgsticker"
        } else {
            "image/webp"
        };
        out.extend(file(sticker, Some(kind)));
    }
    out
}

/// One Telegram file object (`PhotoSize`, `Document`, `Voice`, ...) as an attachment.
fn file(object: &Value, default_type: Option<&str>) -> Option<Attachment> {
    let file_id = json::string(object.get("file_id"))?.trim();
    if file_id.is_empty() {
        return None;
    }
    Some(Attachment {
        url: Some(format!("telegram-file:{file_id}")),
        content_type: json::string(object.get("mime_type"))
            .or(default_type)
            .map(str::to_owned),
        name: json::string(object.get("file_name")).map(str::to_owned),
        size: object.get("file_size").and_then(Value::as_u64),
    })
}

/// A shared venue, location or contact as text, so the agent sees what was sent.
fn shared_place_or_contact(message: &Map<String, Value>) -> Option<String> {
    let coordinates = |location: &Value| {
        let c = |k: &str| location.get(k).and_then(Value::as_f64);
        Some(format!("({}, {})", c("latitude")?, c("longitude")?))
    };
    if let Some(venue) = message.get("venue") {
        let words: Vec<&str> = [venue.get("title"), venue.get("address")]
            .into_iter()
            .filter_map(json::string)
            .collect();
        let at = venue
            .get("location")
            .and_then(coordinates)
            .unwrap_or_default();
        return Some(format!("📍 {} {at}", words.join(", ")).trim().to_owned());
    }
    if let Some(location) = message.get("location") {
        return coordinates(location).map(|at| format!("📍 {at}"));
    }
    let contact = message.get("contact")?;
    let words: Vec<&str> = ["first_name", "last_name", "phone_number"]
        .into_iter()
        .filter_map(|k| json::string(contact.get(k)))
        .collect();
    Some(format!("👤 {}", words.join(" ")).trim().to_owned())
}

/// The chat and message a provider message id (`<chat>:<message>:<update>`) points at.
fn reply_target(provider_message_id: &str) -> Option<(i64, i64)> {
    let mut parts = provider_message_id.split(':');
    let chat = parts.next()?.parse().ok()?;
    let message = parts.next()?.parse().ok()?;
    Some((chat, message))
}

/// Telegram's `sendMessage` (`POST {api}/bot<token>/sendMessage`, JSON).
pub struct TelegramSender {
    /// The method URL. It contains the bot token, so it is a secret and never printed:
    /// reqwest errors are stripped of their URL before they become text.
    endpoint: Secret,
    http: reqwest::Client,
}

impl TelegramSender {
    /// From configuration, with a client built once per cold start; refused when the bot
    /// token is blank.
    pub fn new(
        config: &TelegramConfig,
        http: reqwest::Client,
    ) -> Result<TelegramSender, ConfigError> {
        Ok(TelegramSender {
            endpoint: Secret::new(format!(
                "{}/bot{}/sendMessage",
                config.api_base_url.as_str().trim_end_matches('/'),
                config.bot_token.require("TELEGRAM_BOT_TOKEN")?.expose()
            )),
            http,
        })
    }
}

/// The `sendMessage` parameters for an ack: into the customer's chat, as a reply to their
/// message (sent anyway if that message was deleted meanwhile).
fn send_message_body(message: &OutboundMessage) -> Result<Value, SendError> {
    if let Some((chat_id, message_id)) = reply_target(&message.in_reply_to) {
        return Ok(json!({
            "chat_id": chat_id,
            "text": message.body,
            "reply_parameters": {
                "message_id": message_id,
                "allow_sending_without_reply": true,
            },
        }));
    }
    // No message to answer: the private chat with a user has the user's id.
    let chat_id: i64 = message
        .to
        .strip_prefix("telegram:")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| SendError::Permanent {
            code: "bad_address".into(),
            reason: "not a telegram:<user id> address".into(),
        })?;
    Ok(json!({ "chat_id": chat_id, "text": message.body }))
}

/// What every Bot API method answers.
#[derive(Deserialize)]
struct BotAnswer {
    #[serde(default)]
    ok: bool,
    result: Option<SentMessage>,
    error_code: Option<i64>,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
}

#[derive(Deserialize)]
struct SentMessage {
    message_id: Option<i64>,
}

#[derive(Deserialize)]
struct ResponseParameters {
    retry_after: Option<u64>,
}

impl Sender for TelegramSender {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn send<'a>(
        &'a self,
        message: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(async move {
            let body = send_message_body(message)?;
            let response = self
                .http
                .post(self.endpoint.expose())
                .json(&body)
                .send()
                .await
                .map_err(|e| {
                    SendError::Retryable(format!("Telegram unreachable: {}", e.without_url()))
                })?;
            let status = response.status().as_u16();
            // Read the bytes and decode here: reqwest's decode errors would name the URL.
            let bytes = response.bytes().await.map_err(|e| {
                SendError::Retryable(format!(
                    "Telegram answer unreadable (HTTP {status}): {}",
                    e.without_url()
                ))
            })?;
            let answer: Option<BotAnswer> = serde_json::from_slice(&bytes).ok();
            let ok = answer.as_ref().is_none_or(|a| a.ok);
            if (200..300).contains(&status) && ok {
                return Ok(SendReceipt {
                    provider_message_id: answer
                        .and_then(|a| a.result?.message_id)
                        .map(|id| id.to_string()),
                    thread_id: None,
                });
            }
            let (code, mut reason, retry_after) = match answer {
                Some(a) => (
                    a.error_code,
                    a.description.unwrap_or_default(),
                    a.parameters.and_then(|p| p.retry_after),
                ),
                None => (None, String::new(), None),
            };
            if let Some(seconds) = retry_after {
                reason = format!("{reason} (retry after {seconds} s)");
            }
            // A 200 saying `ok: false` is classified by its error code.
            let status = if (200..300).contains(&status) {
                code.and_then(|c| u16::try_from(c).ok()).unwrap_or(500)
            } else {
                status
            };
            Err(super::classify_status(
                status,
                code.map(|c| c.to_string()),
                reason,
            ))
        })
    }
}

#[cfg(test)]
#[path = "telegram_tests.rs"]
mod tests;
