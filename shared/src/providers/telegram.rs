//! Telegram Bot API: webhook updates and `sendMessage`. (Being written.)

use crate::config::TelegramConfig;

/// Telegram's webhook (`/social/telegram`).
pub struct Telegram;

impl Telegram {
    /// From configuration and the ack settings (for the `/start` greeting).
    pub fn new(_config: &TelegramConfig, _settings: &crate::ack::AckSettings) -> Telegram {
        Telegram
    }
}

/// Telegram's `sendMessage`.
pub struct TelegramSender;

impl TelegramSender {
    /// From configuration, with a client built once per cold start.
    pub fn new(_config: &TelegramConfig, _http: reqwest::Client) -> TelegramSender {
        TelegramSender
    }
}
