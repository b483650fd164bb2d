//! Carrier compliance keywords (CTIA / Twilio Advanced Opt-Out), in English and Indonesian,
//! and the words a deployment configures for them in `intake.toml` (`[sms.keywords]`).

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

/// The opt-out words carriers and providers honour (CTIA, Twilio, Vonage, Plivo, AWS), and
/// the Indonesian `BERHENTI`.
pub const DEFAULT_OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
    "BERHENTI",
];
/// The opt-in words, with the Indonesian `MULAI`.
pub const DEFAULT_OPT_IN: &[&str] = &["START", "UNSTOP", "MULAI"];
/// The help words, with the Indonesian `BANTUAN`.
pub const DEFAULT_HELP: &[&str] = &["HELP", "BANTUAN"];

/// The words that make a whole message a keyword, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
    help: Vec<String>,
    /// The longest word, in characters: a longer message is never a keyword, and is not
    /// upper-cased to find out.
    longest: usize,
}

impl Default for Keywords {
    fn default() -> Keywords {
        let owned = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect();
        Keywords::new(
            owned(DEFAULT_OPT_OUT),
            owned(DEFAULT_OPT_IN),
            owned(DEFAULT_HELP),
        )
        .expect("the default keywords are valid")
    }
}

impl Keywords {
    /// The three lists, checked: every word is one word (no white space), and no word is in
    /// two lists. The error names every problem.
    pub fn new(
        opt_out: Vec<String>,
        opt_in: Vec<String>,
        help: Vec<String>,
    ) -> Result<Keywords, Vec<String>> {
        let upper = |words: Vec<String>| -> Vec<String> {
            words.iter().map(|w| w.trim().to_uppercase()).collect()
        };
        let (opt_out, opt_in, help) = (upper(opt_out), upper(opt_in), upper(help));
        let mut problems = Vec::new();
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (list, words) in [("opt_out", &opt_out), ("opt_in", &opt_in), ("help", &help)] {
            for word in words {
                if word.is_empty() || word.chars().any(char::is_whitespace) {
                    problems.push(format!("sms.keywords.{list}: {word:?} is not one word"));
                } else if let Some((other, _)) = seen.iter().find(|(_, w)| w == word) {
                    if *other != list {
                        problems.push(format!(
                            "sms.keywords: {word:?} is in both {other} and {list}"
                        ));
                    }
                } else {
                    seen.push((list, word));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let longest = [&opt_out, &opt_in, &help]
            .into_iter()
            .flatten()
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0);
        Ok(Keywords {
            opt_out,
            opt_in,
            help,
            longest,
        })
    }

    /// Classifies a whole message, ignoring case and surrounding white space. Only an exact
    /// keyword counts: "stop sending me promos" is a support message, not an opt-out.
    pub fn classify(&self, body: &str) -> Option<Keyword> {
        let word = body.trim();
        if word.chars().count() > self.longest {
            return None;
        }
        let word = word.to_uppercase();
        let has = |list: &[String]| list.contains(&word);
        if has(&self.opt_out) {
            Some(Keyword::Stop)
        } else if has(&self.opt_in) {
            Some(Keyword::Start)
        } else if has(&self.help) {
            Some(Keyword::Help)
        } else {
            None
        }
    }
}

impl Keyword {
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

    fn classify(body: &str) -> Option<Keyword> {
        Keywords::default().classify(body)
    }

    #[test]
    fn every_opt_out_word_in_any_case_in_english_and_indonesian() {
        for w in [
            "STOP",
            "stop",
            " Stop\n",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "END",
            "quit",
            "optout",
            "Revoke",
            "berhenti",
            "BERHENTI",
        ] {
            assert_eq!(classify(w), Some(Keyword::Stop), "{w:?}");
        }
    }

    #[test]
    fn opt_in_and_help_in_english_and_indonesian() {
        assert_eq!(classify("start"), Some(Keyword::Start));
        assert_eq!(classify("UNSTOP"), Some(Keyword::Start));
        assert_eq!(classify("Mulai"), Some(Keyword::Start));
        assert_eq!(classify("Help"), Some(Keyword::Help));
        assert_eq!(classify("bantuan"), Some(Keyword::Help));
    }

    #[test]
    fn a_deployment_chooses_its_words() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let k = Keywords::new(words(&["stop", "Keluar"]), words(&["start"]), words(&[]))
            .expect("valid");
        assert_eq!(k.classify("keluar"), Some(Keyword::Stop));
        assert_eq!(k.classify("berhenti"), None);
        assert_eq!(k.classify("help"), None);
        let problems = Keywords::new(words(&["stop"]), words(&["STOP", "two words"]), words(&[]))
            .expect_err("invalid");
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn only_the_whole_message_counts() {
        for w in [
            "stop it",
            "please stop",
            "help me",
            "STOP!",
            "",
            "berhenti dulu",
            "ＳＴＯＰ",
        ] {
            assert_eq!(classify(w), None, "{w:?}");
        }
    }

    #[test]
    fn stored_values_round_trip() {
        for k in [Keyword::Stop, Keyword::Start, Keyword::Help] {
            assert_eq!(Keyword::parse(k.as_str()), Some(k));
        }
    }
}
