//! LINE Messaging API: webhook events, reply and push. (Being written.)

use crate::config::LineConfig;

/// LINE's webhook (`/social/line`).
pub struct Line;

impl Line {
    /// From configuration.
    pub fn new(_config: &LineConfig) -> Line {
        Line
    }
}

/// LINE's reply and push APIs.
pub struct LineSender;

impl LineSender {
    /// From configuration, with a client built once per cold start.
    pub fn new(_config: &LineConfig, _http: reqwest::Client) -> LineSender {
        LineSender
    }
}
