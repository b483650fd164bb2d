//! Whether to acknowledge a new ticket, and with what words. One pure function that every
//! channel uses, so the rules are tested once, without AWS.

use jiff::{SignedDuration, Timestamp};

use super::language::Language;
use super::settings::AckSettings;
use super::templates::Values;
use crate::keywords::Keyword;
use crate::model::{Contact, StoredMessage, Ticket};

/// Names longer than this are cut in acks (an SMS must stay within its segments).
pub const MAX_NAME_CHARS: usize = 20;

/// A rendered acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Brand id it was rendered for.
    pub brand: String,
    /// Language chosen.
    pub language: Language,
    /// Opening state: `open`, `closed` or `holiday`.
    pub state: &'static str,
    /// Text.
    pub text: String,
    /// HTML variant (email).
    pub html: Option<String>,
}

/// The acknowledger's decision for one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send this.
    Send(Rendered),
    /// Do not send; the reason is stored on the ticket.
    Skip {
        /// Machine-readable reason.
        reason: &'static str,
    },
}

/// Decides for a new ticket, given its contact, its first message, the settings, and now.
pub fn decide(
    ticket: &Ticket,
    contact: Option<&Contact>,
    message: Option<&StoredMessage>,
    settings: &AckSettings,
    now: Timestamp,
) -> Decision {
    let skip = |reason| Decision::Skip { reason };
    if !settings.enabled(ticket.channel) {
        return skip("channel_disabled");
    }
    if contact.is_some_and(|c| c.opted_out) {
        return skip("opted_out");
    }
    match message.and_then(|m| m.keyword) {
        // Carriers and providers answer HELP themselves; a second answer is noise.
        Some(Keyword::Help) => return skip("help_keyword"),
        Some(Keyword::Stop) => return skip("opted_out"),
        _ => {}
    }
    if let Some(contact) = contact {
        let day_ago = now - SignedDuration::from_hours(24);
        let today = contact.recent_acks.iter().filter(|t| **t > day_ago).count();
        if today >= settings.limits.per_contact_per_day as usize {
            return skip("contact_daily_cap");
        }
        let quiet = SignedDuration::from_mins(i64::from(settings.limits.quiet_period_minutes));
        if contact.recent_acks.iter().any(|t| *t + quiet > now) {
            return skip("quiet_period");
        }
    }
    let brand = settings.brand_for(&ticket.our_address);
    let language = Language::choose(
        message.and_then(|m| m.language.as_deref()),
        contact.and_then(|c| c.language.as_deref()),
        message.map(|m| m.body.as_str()).unwrap_or(""),
        brand.default_language,
    );
    let state = brand.hours.state(now);
    let local_now = now.to_zoned(brand.hours.time_zone.clone());
    let next_open = brand
        .hours
        .next_open(now)
        .map(|at| language.opening(&at, &local_now))
        .unwrap_or_else(|| language.soon().to_owned());
    let name = ticket
        .contact_name
        .as_deref()
        .or(contact.and_then(|c| c.name.as_deref()))
        .map(|n| n.trim().chars().take(MAX_NAME_CHARS).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| language.unnamed().to_owned());
    let values = Values {
        reference: ticket.reference.clone(),
        name,
        next_open,
        reply_within: language.duration(brand.reply_within_minutes),
        channel: language.channel_name(ticket.channel).to_owned(),
        brand: brand.name.clone(),
    };
    let Some(template) = brand.template(ticket.channel, language, state.key()) else {
        return skip("no_template");
    };
    Decision::Send(Rendered {
        brand: brand.id.clone(),
        language,
        state: state.key(),
        text: template.text.render(&values),
        html: template.html.as_ref().map(|h| h.render_html(&values)),
    })
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
