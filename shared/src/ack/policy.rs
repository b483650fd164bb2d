//! Whether to acknowledge a new ticket, and with what words. One pure function that every
//! channel uses, so the rules are tested once, without AWS.

use jiff::{SignedDuration, Timestamp};

use super::language::Language;
use super::settings::AckSettings;
use super::templates::{MAX_NAME_CHARS, Values};
use crate::keywords::Keyword;
use crate::model::{Channel, Contact, StoredMessage, Ticket};

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
    /// The brand's support address, the `From` of email acks (else the address written to).
    pub reply_from: Option<String>,
}

/// Acks to one email address in 24 hours never exceed this (RFC 3834 §2: limit the rate).
pub const EMAIL_DAILY_CAP: u32 = 3;

/// Reason codes for mail that must never be answered automatically, as stored on tickets.
const NO_REPLY_REASONS: &[&str] = &[
    "auto_submitted",
    "precedence_bulk",
    "mailing_list",
    "auto_response_suppressed",
    "bounce",
    "system_sender",
];

/// Why an email ticket must not be answered: loop markers on its first mail, a spam or virus
/// verdict, or a sender that is one of our own addresses or domains.
fn email_loop_reason(
    ticket: &Ticket,
    message: Option<&StoredMessage>,
    settings: &AckSettings,
) -> Option<&'static str> {
    match ticket.flagged.as_deref() {
        Some("spam") => return Some("flagged_spam"),
        Some("virus") => return Some("flagged_virus"),
        Some(_) => return Some("flagged"),
        None => {}
    }
    if let Some(reason) = message.and_then(|m| m.no_reply.as_deref()) {
        return Some(
            NO_REPLY_REASONS
                .iter()
                .find(|r| **r == reason)
                .copied()
                .unwrap_or("no_reply"),
        );
    }
    let sender = ticket.contact.trim().to_ascii_lowercase();
    let sender_domain = sender.rsplit_once('@').map(|(_, d)| d);
    let ours = settings.brands.iter().flat_map(|b| {
        b.addresses
            .iter()
            .chain(b.support_address.iter())
            .filter(|a| a.contains('@'))
    });
    for address in ours.chain(std::iter::once(&ticket.our_address)) {
        let address = address.trim().to_ascii_lowercase();
        if address == sender || address.rsplit_once('@').map(|(_, d)| d) == sender_domain {
            return Some("own_address");
        }
    }
    None
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
    if ticket.channel == Channel::Email
        && let Some(reason) = email_loop_reason(ticket, message, settings)
    {
        return skip(reason);
    }
    if let Some(contact) = contact {
        let day_ago = now - SignedDuration::from_hours(24);
        let today = contact
            .recent_acks
            .iter()
            .filter(|a| a.at > day_ago)
            .count();
        let cap = match ticket.channel {
            // Two auto-responders answering each other stop here at the latest, whatever the
            // configured cap says.
            Channel::Email => settings.limits.per_contact_per_day.min(EMAIL_DAILY_CAP),
            _ => settings.limits.per_contact_per_day,
        };
        if today >= cap as usize {
            return skip("contact_daily_cap");
        }
        let quiet = SignedDuration::from_mins(i64::from(settings.limits.quiet_period_minutes));
        if contact.recent_acks.iter().any(|a| a.at + quiet > now) {
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
        reply_from: match ticket.channel {
            Channel::Email => brand.support_address.clone(),
            _ => None,
        },
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
