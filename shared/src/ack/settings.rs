//! The acknowledgement configuration (`intake.toml`): brands, their hours and templates,
//! limits and switches. Validated completely when a function starts; an invalid file fails
//! the cold start with every problem listed, never a silent default.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::collections::HashMap;

use super::hours::{OpeningHours, Range, check_overlaps, weekday};
use super::language::Language;
use super::templates::{MAX_NAME_CHARS, Template, Values, builtin};
use crate::keywords::Keywords;
use crate::model::Channel;
use crate::sms;

/// The three opening states a template is written for.
pub const STATES: [&str; 3] = ["open", "closed", "holiday"];

/// One brand's template for one channel, language and state.
#[derive(Debug, Clone)]
pub struct BrandTemplate {
    /// Text (SMS, social, email text part).
    pub text: Template,
    /// HTML (email only).
    pub html: Option<Template>,
}

/// A brand (inbox): which of our addresses belong to it and how it answers.
#[derive(Debug, Clone)]
pub struct Brand {
    /// Short id, e.g. `tokoku`.
    pub id: String,
    /// Name customers know, for `{brand}`.
    pub name: String,
    /// Our numbers, addresses and page ids that belong to it (lower-cased).
    pub addresses: Vec<String>,
    /// Language when nothing else tells.
    pub default_language: Language,
    /// Promised reply time during opening hours, in minutes.
    pub reply_within_minutes: u32,
    /// Address for email acks (`From`), when it has one.
    pub support_address: Option<String>,
    /// Opening hours in its time zone.
    pub hours: OpeningHours,
    templates: HashMap<(Channel, Language, &'static str), BrandTemplate>,
}

impl Brand {
    /// A template rendered with sample values (reference `K7F3Q2`, the name "Budi", the
    /// real next opening after `now`), for previews: text and, for email, HTML.
    pub fn sample(
        &self,
        channel: Channel,
        language: Language,
        state: &str,
        now: jiff::Timestamp,
    ) -> Option<(String, Option<String>)> {
        let template = self.template(channel, language, state)?;
        let local = now.to_zoned(self.hours.time_zone.clone());
        let values = Values {
            reference: "K7F3Q2".into(),
            name: "Budi".into(),
            next_open: self
                .hours
                .next_open(now)
                .map(|at| language.opening(&at, &local))
                .unwrap_or_else(|| language.soon().to_owned()),
            reply_within: language.duration(self.reply_within_minutes),
            channel: language.channel_name(channel).to_owned(),
            brand: self.name.clone(),
        };
        Some((
            template.text.render(&values),
            template.html.as_ref().map(|h| h.render_html(&values)),
        ))
    }

    /// The template for a channel, language and state (always present once validated).
    pub fn template(
        &self,
        channel: Channel,
        language: Language,
        state: &str,
    ) -> Option<&BrandTemplate> {
        let state = STATES.iter().find(|s| **s == state)?;
        self.templates.get(&(channel, language, *state))
    }
}

/// Limits and switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Acks one contact may get in 24 hours.
    pub per_contact_per_day: u32,
    /// After an ack, no other ack to the same contact for this long (minutes).
    pub quiet_period_minutes: u32,
    /// Segments an SMS ack may take.
    pub sms_max_segments: usize,
    /// Channels whose acks are on.
    pub enabled: Vec<Channel>,
}

/// The validated acknowledgement settings.
#[derive(Debug, Clone)]
pub struct AckSettings {
    /// Every brand; the first is the default unless `default_brand` names another.
    pub brands: Vec<Brand>,
    default_brand: usize,
    /// Limits and switches.
    pub limits: Limits,
    /// How SMS senders are read: their numbers and keywords.
    pub sms: SmsSettings,
}

/// How the SMS webhook reads what customers send (`[sms]` in `intake.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSettings {
    /// The country code (digits, such as `62`) of national numbers (`0812…`), so that
    /// `0812…`, `62812…` and `+62812…` are one customer.
    pub default_country_code: String,
    /// The opt-out, opt-in and help words.
    pub keywords: Keywords,
}

impl Default for SmsSettings {
    fn default() -> SmsSettings {
        SmsSettings {
            default_country_code: crate::phone::DEFAULT_COUNTRY_CODE.to_owned(),
            keywords: Keywords::default(),
        }
    }
}

impl AckSettings {
    /// The built-in settings when no file is configured: one brand, open around the clock
    /// in UTC, English by default, replies within 2 hours, every channel on.
    pub fn builtin() -> AckSettings {
        AckSettings::from_toml("").expect("the empty configuration is valid")
    }

    /// The addresses email acks go out from, by brand: the brand's `support_address`, else
    /// each of its email addresses (an ack answers from the inbox the customer wrote to).
    pub fn email_senders(&self) -> Vec<(&str, &str)> {
        self.brands
            .iter()
            .flat_map(|b| {
                let addresses: Vec<&str> = match &b.support_address {
                    Some(address) => vec![address.as_str()],
                    None => b
                        .addresses
                        .iter()
                        .filter(|a| a.contains('@'))
                        .map(String::as_str)
                        .collect(),
                };
                addresses.into_iter().map(move |a| (b.id.as_str(), a))
            })
            .collect()
    }

    /// The brand an address of ours belongs to, or the default brand.
    pub fn brand_for(&self, our_address: &str) -> &Brand {
        let address = our_address.to_lowercase();
        self.brands
            .iter()
            .find(|b| b.addresses.contains(&address))
            .unwrap_or(&self.brands[self.default_brand])
    }

    /// Whether acks on `channel` are on.
    pub fn enabled(&self, channel: Channel) -> bool {
        self.limits.enabled.contains(&channel)
    }

    /// Parses and validates a TOML document. The error lists every problem found.
    pub fn from_toml(text: &str) -> Result<AckSettings, SettingsError> {
        let file: File = toml::from_str(text).map_err(|e| SettingsError(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        let limits = file.limits.unwrap_or_default();
        let channels = file.channels.unwrap_or_default();
        let limits = Limits {
            per_contact_per_day: limits.per_contact_per_day.unwrap_or(3),
            quiet_period_minutes: limits.quiet_period_minutes.unwrap_or(10),
            sms_max_segments: limits.sms_max_segments.unwrap_or(1),
            enabled: [
                (Channel::Sms, channels.sms),
                (Channel::Email, channels.email),
                (Channel::Social, channels.social),
            ]
            .into_iter()
            .filter(|(_, on)| on.unwrap_or(true))
            .map(|(c, _)| c)
            .collect(),
        };
        if limits.sms_max_segments == 0 {
            problems.push("limits.sms_max_segments must be at least 1".to_owned());
        }
        let sms = sms_settings(file.sms.unwrap_or_default(), &mut problems);
        let raw_brands = if file.brands.is_empty() {
            vec![RawBrand::default()]
        } else {
            file.brands
        };
        let mut brands = Vec::new();
        for (i, raw) in raw_brands.into_iter().enumerate() {
            let label = raw.id.clone().unwrap_or_else(|| format!("brands[{i}]"));
            match build_brand(raw, i, &limits) {
                Ok(b) => brands.push(b),
                Err(mut errors) => {
                    for e in errors.drain(..) {
                        problems.push(format!("brand {label}: {e}"));
                    }
                }
            }
        }
        let mut seen = HashMap::new();
        for b in &brands {
            for a in &b.addresses {
                if let Some(other) = seen.insert(a.clone(), b.id.clone()) {
                    problems.push(format!("address {a} belongs to both {other} and {}", b.id));
                }
            }
        }
        let default_brand = match &file.default_brand {
            None => 0,
            Some(id) => match brands.iter().position(|b| &b.id == id) {
                Some(i) => i,
                None => {
                    problems.push(format!("default_brand {id:?} is not a brand"));
                    0
                }
            },
        };
        if problems.is_empty() {
            Ok(AckSettings {
                brands,
                default_brand,
                limits,
                sms,
            })
        } else {
            Err(SettingsError(problems))
        }
    }
}

/// Everything wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub Vec<String>);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid acknowledgement configuration:")?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

fn build_brand(raw: RawBrand, index: usize, limits: &Limits) -> Result<Brand, Vec<String>> {
    let mut problems = Vec::new();
    let time_zone_name = raw.time_zone.clone().unwrap_or_else(|| "UTC".to_owned());
    let time_zone = match TimeZone::get(&time_zone_name) {
        Ok(tz) => tz,
        Err(_) => {
            problems.push(format!(
                "time_zone {time_zone_name:?} is not an IANA time zone (e.g. Asia/Jakarta)"
            ));
            TimeZone::UTC
        }
    };
    let default_language = match raw.default_language.as_deref() {
        None => Language::En,
        Some(tag) => Language::from_tag(tag).unwrap_or_else(|| {
            problems.push(format!("default_language {tag:?} is not en or id"));
            Language::En
        }),
    };
    let hours = match raw.hours {
        None => OpeningHours::always(time_zone.clone()),
        Some(week) => {
            let mut weekly: [Vec<Range>; 7] = Default::default();
            for (day, ranges) in week {
                let Some(w) = weekday(&day) else {
                    problems.push(format!("hours: {day:?} is not a weekday"));
                    continue;
                };
                weekly[w.to_monday_zero_offset() as usize] =
                    parse_ranges(&format!("hours.{day}"), &ranges, &mut problems);
            }
            let mut holidays = Vec::new();
            for h in raw.holidays {
                match h.date.parse::<Date>() {
                    Ok(d) => holidays.push((d, h.name.unwrap_or_default())),
                    Err(_) => problems.push(format!("holiday date {:?} is not YYYY-MM-DD", h.date)),
                }
            }
            let mut exceptions = Vec::new();
            for e in raw.exceptions {
                match e.date.parse::<Date>() {
                    Ok(d) => exceptions.push((
                        d,
                        parse_ranges(&format!("exception {}", e.date), &e.hours, &mut problems),
                    )),
                    Err(_) => {
                        problems.push(format!("exception date {:?} is not YYYY-MM-DD", e.date))
                    }
                }
            }
            OpeningHours {
                time_zone,
                weekly,
                holidays,
                exceptions,
            }
        }
    };
    let mut brand = Brand {
        id: raw.id.unwrap_or_else(|| {
            if index == 0 {
                "default".into()
            } else {
                format!("brand{index}")
            }
        }),
        name: raw.name.unwrap_or_else(|| "our team".into()),
        addresses: raw
            .addresses
            .iter()
            .map(|a| a.trim().to_lowercase())
            .collect(),
        default_language,
        reply_within_minutes: raw.reply_within_minutes.unwrap_or(120),
        support_address: raw.support_address,
        hours,
        templates: HashMap::new(),
    };
    if brand.reply_within_minutes == 0 {
        problems.push("reply_within_minutes must be at least 1".into());
    }
    // Brand templates over the shipped ones, for every channel × language × state.
    for channel in Channel::ALL {
        for language in Language::ALL {
            for state in STATES {
                let custom = raw
                    .templates
                    .get(channel.as_str())
                    .and_then(|by_lang| by_lang.get(language.code()))
                    .and_then(|by_state| by_state.get(state));
                let (text, html) = match custom {
                    Some(RawTemplate::Text(t)) => (t.clone(), None),
                    Some(RawTemplate::Rich { text, html }) => (text.clone(), html.clone()),
                    None => {
                        let (t, h) = builtin(channel, language, state);
                        (t.to_owned(), h.map(str::to_owned))
                    }
                };
                let at = format!("templates.{channel}.{language}.{state}");
                let text = match Template::parse(&text) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(format!("{at}: {e}"));
                        continue;
                    }
                };
                let html = match html.map(|h| Template::parse(&h)).transpose() {
                    Ok(h) => h,
                    Err(e) => {
                        problems.push(format!("{at}.html: {e}"));
                        continue;
                    }
                };
                if html.is_some() && channel != Channel::Email {
                    problems.push(format!("{at}: only email templates have an html variant"));
                }
                if channel == Channel::Sms {
                    let worst = worst_case_values(&brand, language);
                    let length = sms::measure(&text.render(&worst));
                    if length.segments > limits.sms_max_segments {
                        problems.push(format!(
                            "{at}: {} SMS segments at worst ({} {}), limit is {}",
                            length.segments,
                            length.units,
                            if length.gsm7 {
                                "GSM-7 characters"
                            } else {
                                "UCS-2 units: a character outside GSM-7 makes every segment 70"
                            },
                            limits.sms_max_segments
                        ));
                    }
                }
                brand
                    .templates
                    .insert((channel, language, state), BrandTemplate { text, html });
            }
        }
    }
    for (key, by_lang) in &raw.templates {
        if key.parse::<Channel>().is_err() {
            problems.push(format!(
                "templates.{key}: not a channel (sms, email, social)"
            ));
        }
        for (lang, by_state) in by_lang {
            if Language::from_tag(lang).is_none() || lang.len() != 2 {
                problems.push(format!("templates.{key}.{lang}: not a language (en, id)"));
            }
            for state in by_state.keys() {
                if !STATES.contains(&state.as_str()) {
                    problems.push(format!(
                        "templates.{key}.{lang}.{state}: not a state (open, closed, holiday)"
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(brand)
    } else {
        Err(problems)
    }
}

/// The longest values a rendering can take, to check SMS lengths at load time.
pub fn worst_case_values(brand: &Brand, language: Language) -> Values {
    Values {
        reference: "WWWWWW".into(),
        name: "W".repeat(MAX_NAME_CHARS),
        next_open: match language {
            Language::En => "Wednesday 30 September 08:00 WITA".into(),
            Language::Id => "Minggu, 30 Desember 08.00 WITA".into(),
        },
        reply_within: language.duration(brand.reply_within_minutes.max(1)),
        channel: "email".into(),
        brand: brand.name.clone(),
    }
}

fn parse_ranges(at: &str, ranges: &[String], problems: &mut Vec<String>) -> Vec<Range> {
    let parsed: Vec<Range> = ranges
        .iter()
        .filter_map(|r| match Range::parse(r) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                None
            }
        })
        .collect();
    if let Err(e) = check_overlaps(&parsed) {
        problems.push(format!("{at}: {e}"));
    }
    parsed
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    default_brand: Option<String>,
    limits: Option<RawLimits>,
    channels: Option<RawChannels>,
    sms: Option<RawSms>,
    #[serde(default, rename = "brand")]
    brands: Vec<RawBrand>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    per_contact_per_day: Option<u32>,
    quiet_period_minutes: Option<u32>,
    sms_max_segments: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSms {
    default_country_code: Option<String>,
    keywords: Option<RawKeywords>,
}

/// Each list replaces the built-in one when given.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKeywords {
    opt_out: Option<Vec<String>>,
    opt_in: Option<Vec<String>>,
    help: Option<Vec<String>>,
}

/// The `[sms]` section, checked; its problems are added to `problems`.
fn sms_settings(raw: RawSms, problems: &mut Vec<String>) -> SmsSettings {
    let defaults = SmsSettings::default();
    let default_country_code = match raw.default_country_code {
        None => defaults.default_country_code,
        Some(code) => {
            let code = code.trim().trim_start_matches('+').to_owned();
            if code.is_empty() || code.len() > 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                problems.push(format!(
                    "sms.default_country_code {code:?} is not a country calling code (1 to 3 digits, such as \"62\")"
                ));
            }
            code
        }
    };
    let keywords = match raw.keywords {
        None => defaults.keywords,
        Some(k) => {
            let list = |given: Option<Vec<String>>, builtin: &[&str]| {
                given.unwrap_or_else(|| builtin.iter().map(|w| (*w).to_owned()).collect())
            };
            use crate::keywords::{DEFAULT_HELP, DEFAULT_OPT_IN, DEFAULT_OPT_OUT};
            Keywords::new(
                list(k.opt_out, DEFAULT_OPT_OUT),
                list(k.opt_in, DEFAULT_OPT_IN),
                list(k.help, DEFAULT_HELP),
            )
            .unwrap_or_else(|errors| {
                problems.extend(errors);
                Keywords::default()
            })
        }
    };
    SmsSettings {
        default_country_code,
        keywords,
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChannels {
    sms: Option<bool>,
    email: Option<bool>,
    social: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBrand {
    id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    addresses: Vec<String>,
    time_zone: Option<String>,
    default_language: Option<String>,
    reply_within_minutes: Option<u32>,
    support_address: Option<String>,
    hours: Option<HashMap<String, Vec<String>>>,
    #[serde(default)]
    holidays: Vec<RawHoliday>,
    #[serde(default)]
    exceptions: Vec<RawException>,
    #[serde(default)]
    templates: HashMap<String, HashMap<String, HashMap<String, RawTemplate>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    date: String,
    hours: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTemplate {
    Text(String),
    Rich { text: String, html: Option<String> },
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
