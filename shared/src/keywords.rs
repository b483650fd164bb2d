//! Carrier compliance keywords (CTIA / Twilio Advanced Opt-Out).

use serde::{Deserialize, Serialize};

/// A message that is, as a whole, a compliance keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keyword {
    /// The customer opts out of messages: never acknowledged, contact marked opted out.
    Stop,
    /// The customer opts back in.
    Start,
    /// The customer asks for help; providers answer it, so we do not acknowledge it.
    Help,
}

impl Keyword {
    /// Classifies a whole message, ignoring case and surrounding white space. Only an exact
    /// keyword counts: "stop sending me promos" is a support message, not an opt-out.
    pub fn classify(body: &str) -> Option<Keyword> {
        let word = body.trim();
        if word.len() > 11 {
            return None;
        }
        let word = word.to_ascii_uppercase();
        match word.as_str() {
            "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::Stop),
            "START" | "UNSTOP" => Some(Keyword::Start),
            "HELP" => Some(Keyword::Help),
            _ => None,
        }
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Stop => "stop",
            Keyword::Start => "start",
            Keyword::Help => "help",
        }
    }

    /// Reads a stored value.
    pub fn parse(s: &str) -> Option<Keyword> {
        match s {
            "stop" => Some(Keyword::Stop),
            "start" => Some(Keyword::Start),
            "help" => Some(Keyword::Help),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opt_out_word_in_any_case() {
        for w in [
            "STOP",
            "stop",
            " Stop\n",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "END",
            "quit",
        ] {
            assert_eq!(Keyword::classify(w), Some(Keyword::Stop), "{w:?}");
        }
    }

    #[test]
    fn opt_in_and_help() {
        assert_eq!(Keyword::classify("start"), Some(Keyword::Start));
        assert_eq!(Keyword::classify("UNSTOP"), Some(Keyword::Start));
        assert_eq!(Keyword::classify("Help"), Some(Keyword::Help));
    }

    #[test]
    fn only_the_whole_message_counts() {
        for w in [
            "stop it",
            "please stop",
            "help me",
            "STOP!",
            "",
            "berhenti",
            "ＳＴＯＰ",
        ] {
            assert_eq!(Keyword::classify(w), None, "{w:?}");
        }
    }

    #[test]
    fn stored_values_round_trip() {
        for k in [Keyword::Stop, Keyword::Start, Keyword::Help] {
            assert_eq!(Keyword::parse(k.as_str()), Some(k));
        }
    }
}
