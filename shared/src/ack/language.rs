//! Languages an acknowledgement can be written in, how one is chosen, and the words each
//! needs around the templates (weekdays, months, durations).

use jiff::Zoned;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A language Intake ships complete templates and formats for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[serde(rename = "en")]
    En,
    /// Bahasa Indonesia.
    #[serde(rename = "id")]
    Id,
}

impl Language {
    /// Every shipped language.
    pub const ALL: [Language; 2] = [Language::En, Language::Id];

    /// BCP 47 code.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Id => "id",
        }
    }

    /// Reads a platform's language tag: `id`, `id-ID`, `id_ID` (Meta locales), `in`
    /// (Java's old code for Indonesian), `en-US`, ...; `None` for other languages.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" | "eng" => Some(Language::En),
            "id" | "in" | "ind" => Some(Language::Id),
            _ => None,
        }
    }

    /// Detects English or Indonesian from a message's text; `None` when unsure.
    pub fn detect(text: &str) -> Option<Language> {
        let detector =
            whatlang::Detector::with_allowlist(vec![whatlang::Lang::Eng, whatlang::Lang::Ind]);
        let info = detector.detect(text)?;
        // Short messages ("ok", "halo") carry little signal: only a confident guess counts.
        if info.confidence() < 0.5 {
            return None;
        }
        match info.lang() {
            whatlang::Lang::Eng => Some(Language::En),
            whatlang::Lang::Ind => Some(Language::Id),
            _ => None,
        }
    }

    /// Chooses, in order: what the platform says, the contact's stored language, a
    /// detection of the text, the brand's default.
    pub fn choose(
        platform: Option<&str>,
        stored: Option<&str>,
        text: &str,
        default: Language,
    ) -> Language {
        platform
            .and_then(Language::from_tag)
            .or_else(|| stored.and_then(Language::from_tag))
            .or_else(|| Language::detect(text))
            .unwrap_or(default)
    }

    /// How a customer whose name is unknown is addressed ("Hi there", "Halo Kak").
    pub fn unnamed(self) -> &'static str {
        match self {
            Language::En => "there",
            Language::Id => "Kak",
        }
    }

    /// The channel as a customer would call it.
    pub fn channel_name(self, channel: crate::model::Channel) -> &'static str {
        use crate::model::Channel;
        match (self, channel) {
            (_, Channel::Sms) => "SMS",
            (_, Channel::Email) => "email",
            (Language::En, Channel::Social) => "chat",
            (Language::Id, Channel::Social) => "chat",
        }
    }

    /// A duration in minutes: "2 hours", "1 hour 30 minutes"; "2 jam", "1 jam 30 menit".
    pub fn duration(self, minutes: u32) -> String {
        let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
        let unit = |n: u32, en_one: &str, en_many: &str, id: &str| match self {
            Language::En => format!("{n} {}", if n == 1 { en_one } else { en_many }),
            Language::Id => format!("{n} {id}"),
        };
        let mut parts = Vec::new();
        if days > 0 {
            parts.push(unit(days, "day", "days", "hari"));
        }
        if hours > 0 {
            parts.push(unit(hours, "hour", "hours", "jam"));
        }
        if mins > 0 || parts.is_empty() {
            parts.push(unit(mins, "minute", "minutes", "menit"));
        }
        parts.join(" ")
    }

    /// The next opening, as a customer reads it: within a week "Monday 08:00 WIB" /
    /// "Senin, 08.00 WIB"; later the date too: "Monday 5 January 08:00 WIB" /
    /// "Senin, 5 Januari 08.00 WIB".
    pub fn opening(self, at: &Zoned, now: &Zoned) -> String {
        let weekday = at.weekday().to_monday_zero_offset() as usize;
        let zone = at.strftime("%Z").to_string();
        let far = at.date()
            > now
                .date()
                .checked_add(jiff::Span::new().days(6))
                .unwrap_or(at.date());
        let month = at.month() as usize - 1;
        match self {
            Language::En => {
                let day = EN_WEEKDAYS[weekday];
                let time = at.strftime("%H:%M");
                if far {
                    format!("{day} {} {} {time} {zone}", at.day(), EN_MONTHS[month])
                } else {
                    format!("{day} {time} {zone}")
                }
            }
            Language::Id => {
                let day = ID_WEEKDAYS[weekday];
                let time = at.strftime("%H.%M");
                if far {
                    format!("{day}, {} {} {time} {zone}", at.day(), ID_MONTHS[month])
                } else {
                    format!("{day}, {time} {zone}")
                }
            }
        }
    }

    /// "soon" when no opening is scheduled.
    pub fn soon(self) -> &'static str {
        match self {
            Language::En => "as soon as we can",
            Language::Id => "secepatnya",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

const EN_WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const ID_WEEKDAYS: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const ID_MONTHS: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    #[test]
    fn platform_tags() {
        for (tag, lang) in [
            ("id", Some(Language::Id)),
            ("id-ID", Some(Language::Id)),
            ("id_ID", Some(Language::Id)),
            ("in", Some(Language::Id)),
            ("en", Some(Language::En)),
            ("en_US", Some(Language::En)),
            ("EN-gb", Some(Language::En)),
            ("ms", None),
            ("", None),
        ] {
            assert_eq!(Language::from_tag(tag), lang, "{tag}");
        }
    }

    #[test]
    fn detection_of_typical_messages() {
        for (text, lang) in [
            ("Halo, pesanan saya belum sampai", Some(Language::Id)),
            (
                "Selamat pagi, saya mau tanya soal pengiriman paket saya yang belum datang",
                Some(Language::Id),
            ),
            ("Hello, my order has not arrived yet", Some(Language::En)),
            (
                "Hi, I would like to change the delivery address of my order",
                Some(Language::En),
            ),
        ] {
            assert_eq!(Language::detect(text), lang, "{text}");
        }
    }

    #[test]
    fn choice_order() {
        let text = "Hello, my order has not arrived yet";
        assert_eq!(
            Language::choose(Some("id"), Some("en"), text, Language::En),
            Language::Id
        );
        assert_eq!(
            Language::choose(None, Some("id"), text, Language::En),
            Language::Id
        );
        assert_eq!(
            Language::choose(Some("fr"), None, text, Language::Id),
            Language::En
        );
        assert_eq!(
            Language::choose(None, None, "ok", Language::Id),
            Language::Id
        );
    }

    #[test]
    fn durations() {
        assert_eq!(Language::En.duration(120), "2 hours");
        assert_eq!(Language::En.duration(60), "1 hour");
        assert_eq!(Language::En.duration(90), "1 hour 30 minutes");
        assert_eq!(Language::En.duration(1), "1 minute");
        assert_eq!(Language::Id.duration(120), "2 jam");
        assert_eq!(Language::Id.duration(90), "1 jam 30 menit");
        assert_eq!(Language::Id.duration(2880), "2 hari");
    }

    #[test]
    fn openings_in_both_languages() {
        let tz = TimeZone::get("Asia/Jakarta").unwrap();
        let now = "2026-11-28T03:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .to_zoned(tz.clone());
        let monday = "2026-11-30T01:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .to_zoned(tz.clone());
        assert_eq!(Language::En.opening(&monday, &now), "Monday 08:00 WIB");
        assert_eq!(Language::Id.opening(&monday, &now), "Senin, 08.00 WIB");
        let january = "2027-01-04T01:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .to_zoned(tz);
        assert_eq!(
            Language::En.opening(&january, &now),
            "Monday 4 January 08:00 WIB"
        );
        assert_eq!(
            Language::Id.opening(&january, &now),
            "Senin, 4 Januari 08.00 WIB"
        );
    }
}
