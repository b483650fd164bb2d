//! Opening hours: a weekly schedule in the brand's time zone, dated holidays, and dated
//! exceptions (a short day before a holiday, a Saturday opening).

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// A range of opening time within one day, `start < end` (a range may end at 24:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Opens at.
    pub start: Time,
    /// Closes at (exclusive); `None` means midnight at the end of the day.
    pub end: Option<Time>,
}

impl Range {
    fn contains(&self, t: Time) -> bool {
        t >= self.start && self.end.is_none_or(|end| t < end)
    }

    /// Parses `08:00-17:00` (`24:00` allowed as an end).
    pub fn parse(text: &str) -> Result<Range, String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not a range like 08:00-17:00"))?;
        let start =
            parse_time(a.trim()).ok_or_else(|| format!("{a:?} is not a time like 08:00"))?;
        let end = match b.trim() {
            "24:00" => None,
            other => Some(
                parse_time(other).ok_or_else(|| format!("{other:?} is not a time like 17:00"))?,
            ),
        };
        if end.is_some_and(|end| end <= start) {
            return Err(format!("{text:?} ends before it starts"));
        }
        Ok(Range { start, end })
    }
}

fn parse_time(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// Whether the business is open, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenState {
    /// Within opening hours.
    Open,
    /// Outside opening hours on a normal day.
    Closed,
    /// Closed for a named holiday.
    Holiday(String),
}

impl OpenState {
    /// The template key: `open`, `closed`, `holiday`.
    pub fn key(&self) -> &'static str {
        match self {
            OpenState::Open => "open",
            OpenState::Closed => "closed",
            OpenState::Holiday(_) => "holiday",
        }
    }
}

/// A brand's opening hours.
#[derive(Debug, Clone)]
pub struct OpeningHours {
    /// IANA time zone.
    pub time_zone: TimeZone,
    /// Ranges per weekday, Monday first.
    pub weekly: [Vec<Range>; 7],
    /// Dated holidays (closed all day).
    pub holidays: Vec<(Date, String)>,
    /// Dated exceptions: these ranges replace the weekday's on that date.
    pub exceptions: Vec<(Date, Vec<Range>)>,
}

impl OpeningHours {
    /// Open around the clock (the default when a brand configures no hours).
    pub fn always(time_zone: TimeZone) -> OpeningHours {
        let all_day = vec![Range {
            start: Time::midnight(),
            end: None,
        }];
        OpeningHours {
            time_zone,
            weekly: std::array::from_fn(|_| all_day.clone()),
            holidays: Vec::new(),
            exceptions: Vec::new(),
        }
    }

    /// The ranges that apply on `date`, and the holiday name if it is one.
    fn day(&self, date: Date) -> (&[Range], Option<&str>) {
        if let Some((_, name)) = self.holidays.iter().find(|(d, _)| *d == date) {
            return (&[], Some(name));
        }
        if let Some((_, ranges)) = self.exceptions.iter().find(|(d, _)| *d == date) {
            return (ranges, None);
        }
        let index = date.weekday().to_monday_zero_offset() as usize;
        (&self.weekly[index], None)
    }

    /// Open, closed, or a holiday at `now`.
    pub fn state(&self, now: Timestamp) -> OpenState {
        let local = now.to_zoned(self.time_zone.clone());
        let (ranges, holiday) = self.day(local.date());
        if let Some(name) = holiday {
            return OpenState::Holiday(name.to_owned());
        }
        if ranges.iter().any(|r| r.contains(local.time())) {
            OpenState::Open
        } else {
            OpenState::Closed
        }
    }

    /// The next moment the business opens after `now` (at most a year ahead), in its zone.
    /// `None` when it never opens in that year.
    pub fn next_open(&self, now: Timestamp) -> Option<Zoned> {
        let local = now.to_zoned(self.time_zone.clone());
        let today = local.date();
        for offset in 0..=366 {
            let date = today.checked_add(jiff::Span::new().days(offset)).ok()?;
            let (ranges, _) = self.day(date);
            let mut starts: Vec<Time> = ranges.iter().map(|r| r.start).collect();
            starts.sort();
            for start in starts {
                if offset == 0 && start <= local.time() {
                    continue;
                }
                // A start of "00:00" right after a day that ended at 24:00 is a
                // continuation, not an opening.
                if start == Time::midnight() && self.open_at_end_of(date.yesterday().ok()?) {
                    continue;
                }
                if let Ok(z) = date.to_datetime(start).to_zoned(self.time_zone.clone()) {
                    return Some(z);
                }
            }
        }
        None
    }

    fn open_at_end_of(&self, date: Date) -> bool {
        self.day(date).0.iter().any(|r| r.end.is_none())
    }
}

/// Weekday from its English name (`monday`, `mon`).
pub fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// Checks that no two ranges of one day overlap.
pub fn check_overlaps(ranges: &[Range]) -> Result<(), String> {
    let mut sorted = ranges.to_vec();
    sorted.sort_by_key(|r| r.start);
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.end.is_none_or(|end| end > b.start) {
            return Err(format!(
                "ranges starting {} and {} overlap",
                a.start.strftime("%H:%M"),
                b.start.strftime("%H:%M")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn jakarta_office() -> OpeningHours {
        let day = vec![
            Range::parse("08:00-12:00").unwrap(),
            Range::parse("13:00-17:00").unwrap(),
        ];
        let mut weekly: [Vec<Range>; 7] = Default::default();
        for w in weekly.iter_mut().take(5) {
            *w = day.clone();
        }
        OpeningHours {
            time_zone: TimeZone::get("Asia/Jakarta").unwrap(),
            weekly,
            holidays: vec![(date(2026, 12, 25), "Natal".into())],
            exceptions: vec![(
                date(2026, 12, 24),
                vec![Range::parse("08:00-12:00").unwrap()],
            )],
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn states_through_a_week_in_jakarta() {
        let h = jakarta_office();
        // 2026-11-23 is a Monday. WIB is UTC+7 all year.
        let cases = [
            ("2026-11-23T01:00:00Z", OpenState::Open),   // 08:00 WIB
            ("2026-11-23T00:59:59Z", OpenState::Closed), // 07:59:59
            ("2026-11-23T05:30:00Z", OpenState::Closed), // 12:30, lunch
            ("2026-11-23T06:00:00Z", OpenState::Open),   // 13:00
            ("2026-11-23T10:00:00Z", OpenState::Closed), // 17:00 exactly
            ("2026-11-28T03:00:00Z", OpenState::Closed), // Saturday 10:00
            ("2026-12-25T03:00:00Z", OpenState::Holiday("Natal".into())),
            ("2026-12-24T06:00:00Z", OpenState::Closed), // short day: 13:00 closed
            ("2026-12-24T02:00:00Z", OpenState::Open),
        ];
        for (when, expected) in cases {
            assert_eq!(h.state(at(when)), expected, "{when}");
        }
    }

    #[test]
    fn next_opening() {
        let h = jakarta_office();
        let next = |when| {
            h.next_open(at(when))
                .unwrap()
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        };
        assert_eq!(next("2026-11-28T03:00:00Z"), "2026-11-30 08:00 WIB"); // Sat → Mon
        assert_eq!(next("2026-11-23T05:30:00Z"), "2026-11-23 13:00 WIB"); // lunch
        assert_eq!(next("2026-11-23T12:00:00Z"), "2026-11-24 08:00 WIB"); // evening
        assert_eq!(next("2026-12-24T06:00:00Z"), "2026-12-28 08:00 WIB"); // Christmas Eve → Mon
    }

    #[test]
    fn always_open_has_no_next_opening_and_is_open() {
        let h = OpeningHours::always(TimeZone::UTC);
        assert_eq!(h.state(at("2026-11-28T03:00:00Z")), OpenState::Open);
        assert_eq!(h.next_open(at("2026-11-28T03:00:00Z")), None);
    }

    #[test]
    fn ranges_parse_and_overlaps_are_found() {
        assert!(Range::parse("17:00-08:00").is_err());
        assert!(Range::parse("8:00-17:00").is_err());
        assert!(Range::parse("08:00-25:00").is_err());
        assert!(Range::parse("20:00-24:00").unwrap().end.is_none());
        let overlapping = [
            Range::parse("08:00-12:00").unwrap(),
            Range::parse("11:00-13:00").unwrap(),
        ];
        assert!(check_overlaps(&overlapping).is_err());
        let touching = [
            Range::parse("08:00-12:00").unwrap(),
            Range::parse("12:00-13:00").unwrap(),
        ];
        assert!(check_overlaps(&touching).is_ok());
    }
}
