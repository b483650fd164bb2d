//! `intake tickets list --ack STATE --since DURATION`: which tickets an on-call engineer
//! wants to see (acks stuck in `sending`, or `failed`, in the last hour).

use clap::Args;
use intake::model::{AckStatus, Ticket};

/// The filters of `intake tickets list`, beside `--contact`.
#[derive(Args, Clone, Debug, Default)]
pub struct TicketFilter {
    /// Only the tickets whose ack is in this state: pending, sending (claimed, not yet
    /// recorded: stuck if it stays so), sent, skipped or failed.
    #[arg(long, value_name = "STATE", value_parser = parse_ack)]
    pub ack: Option<AckStatus>,
    /// Only the tickets created within this long before now: 90s, 30m, 1h, 2d, 1w.
    #[arg(long, value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<jiff::SignedDuration>,
}

impl TicketFilter {
    /// Whether `ticket` passes, at `now`. A ticket whose creation time cannot be read is
    /// kept (shown rather than hidden).
    pub fn keeps(&self, ticket: &Ticket, now: jiff::Timestamp) -> bool {
        if self.ack.is_some_and(|ack| ticket.ack_status != ack) {
            return false;
        }
        match (self.since, ticket.created_at.parse::<jiff::Timestamp>()) {
            (Some(since), Ok(created)) => created >= now - since,
            _ => true,
        }
    }
}

/// An ack state as stored (`sending`), for `--ack`.
pub fn parse_ack(text: &str) -> Result<AckStatus, String> {
    AckStatus::parse(&text.to_ascii_lowercase())
        .ok_or_else(|| "expected pending, sending, sent, skipped or failed".to_owned())
}

/// A duration as a number and a unit (`90s`, `30m`, `1h`, `2d`, `1w`), for `--since`.
pub fn parse_since(text: &str) -> Result<jiff::SignedDuration, String> {
    const EXPECTED: &str = "expected a number and a unit: 90s, 30m, 1h, 2d or 1w";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(EXPECTED.to_owned())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| EXPECTED.to_owned())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(EXPECTED.to_owned()),
    };
    number
        .checked_mul(seconds)
        .filter(|s| *s < 100 * 365 * 86_400)
        .map(jiff::SignedDuration::from_secs)
        .ok_or_else(|| format!("{text} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_number_and_a_unit() {
        let secs = |s: &str| parse_since(s).map(|d| d.as_secs());
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("30m"), Ok(1800));
        assert_eq!(secs("1h"), Ok(3600));
        assert_eq!(secs(" 2d "), Ok(172_800));
        assert_eq!(secs("1w"), Ok(604_800));
        assert_eq!(secs("0h"), Ok(0));
    }

    #[test]
    fn other_durations_are_refused() {
        for bad in [
            "",
            "h",
            "1",
            "-1h",
            "1.5h",
            "1 h",
            "1H",
            "1hour",
            "1h30m",
            "99999999999999999999h",
        ] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
        assert!(parse_since("1000000w").unwrap_err().contains("too long"));
    }

    #[test]
    fn ack_states_are_the_stored_ones() {
        assert_eq!(parse_ack("sending"), Ok(AckStatus::Sending));
        assert_eq!(parse_ack("FAILED"), Ok(AckStatus::Failed));
        assert!(parse_ack("stuck").is_err());
    }

    #[test]
    fn the_filter_keeps_the_state_asked_for_within_the_duration() {
        let now: jiff::Timestamp = "2026-11-30T16:00:00Z".parse().expect("time");
        let ticket = |ack: AckStatus, created: &str| Ticket {
            id: "01JDZ0000000000000000000AA".into(),
            reference: "K7F3Q2".into(),
            channel: intake::model::Channel::Sms,
            provider: "twilio".into(),
            contact: "+6281234567890".into(),
            contact_name: None,
            our_address: "+6221555000".into(),
            subject: None,
            status: "open".into(),
            message_count: 1,
            ack_status: ack,
            ack_reason: None,
            flagged: None,
            ack_provider_message_id: None,
            first_message_sk: "MSG#".into(),
            created_at: created.into(),
            updated_at: created.into(),
        };
        let stuck = ticket(AckStatus::Sending, "2026-11-30T15:30:00.123Z");
        let old = ticket(AckStatus::Sending, "2026-11-30T14:00:00Z");
        let sent = ticket(AckStatus::Sent, "2026-11-30T15:59:00Z");
        let sending = TicketFilter {
            ack: Some(AckStatus::Sending),
            since: None,
        };
        assert!(sending.keeps(&stuck, now) && sending.keeps(&old, now));
        assert!(!sending.keeps(&sent, now));
        let last_hour = TicketFilter {
            ack: Some(AckStatus::Sending),
            since: parse_since("1h").ok(),
        };
        assert!(last_hour.keeps(&stuck, now));
        assert!(!last_hour.keeps(&old, now));
        assert!(TicketFilter::default().keeps(&sent, now));
    }
}
