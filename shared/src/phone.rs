//! Phone numbers: one customer per number, whichever provider or channel carried it.
//!
//! Providers write numbers in their own ways: Twilio and Telnyx `+6281234567890`, Vonage
//! and Plivo `6281234567890`, Twilio's WhatsApp `whatsapp:+6281234567890`, Meta's WhatsApp
//! `6281234567890` (its `wa_id`), and a number typed by a person `0812-3456-7890`. They are
//! all one number, written in E.164 as `+6281234567890`.

/// The country code a national number (one starting with a single `0`) belongs to when
/// configuration names none: Intake's first deployments are Indonesian.
pub const DEFAULT_COUNTRY_CODE: &str = "62";

/// The prefix Twilio puts before WhatsApp addresses on its SMS API.
pub const WHATSAPP_PREFIX: &str = "whatsapp:";

/// E.164 allows at most 15 digits after the `+`.
const MAX_DIGITS: usize = 15;
/// The shortest full international number in use has 7 digits with its country code
/// (Niue, +683 and 4 digits); anything shorter is a short code, not a person's number.
const MIN_DIGITS: usize = 7;

/// `raw` in E.164 (`+` and 7–15 digits), or `None` when it is not a phone number (a short
/// code, an alphanumeric sender id, an email address).
///
/// Spaces, dots, dashes and brackets are ignored. `+62…` and `0062…` are international;
/// `62…` (no prefix, as Vonage, Plivo and WhatsApp write them) is taken as international
/// too; `0812…` is national and gets `country_code` (digits only, such as `62`).
pub fn e164(raw: &str, country_code: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix("tel:").unwrap_or(raw);
    let (international, rest) = match raw.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let mut digits = String::with_capacity(MAX_DIGITS + 1);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            _ => return None,
        }
    }
    let digits = if international {
        digits
    } else if let Some(after) = digits.strip_prefix("00") {
        after.to_owned()
    } else if let Some(national) = digits.strip_prefix('0') {
        if country_code.is_empty() || !country_code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        format!("{country_code}{national}")
    } else {
        digits
    };
    let valid = (MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) && !digits.starts_with('0');
    valid.then(|| format!("+{digits}"))
}

/// A customer's address on an SMS provider, with its number in E.164: `0812…` and
/// `62812…` become `+62812…`, and `whatsapp:0812…` becomes `whatsapp:+62812…`. An address
/// that is not a number (an alphanumeric sender) is kept as it came.
pub fn sms_address(raw: &str, country_code: &str) -> String {
    let (prefix, number) = match raw.strip_prefix(WHATSAPP_PREFIX) {
        Some(number) => (WHATSAPP_PREFIX, number),
        None => ("", raw),
    };
    match e164(number, country_code) {
        Some(number) => format!("{prefix}{number}"),
        None => raw.to_owned(),
    }
}

/// The E.164 number of the person behind a contact address, whatever channel it is on:
/// an SMS number (`+62…`, `whatsapp:+62…`) or a WhatsApp id on the social channel
/// (`whatsapp:62…`). `None` for addresses that are not phone numbers (email, Messenger,
/// Telegram, LINE).
pub fn customer_number(
    channel: crate::model::Channel,
    address: &str,
    country_code: &str,
) -> Option<String> {
    use crate::model::Channel;
    match channel {
        Channel::Sms => e164(
            address.strip_prefix(WHATSAPP_PREFIX).unwrap_or(address),
            country_code,
        ),
        Channel::Social => e164(address.strip_prefix(WHATSAPP_PREFIX)?, country_code),
        Channel::Email => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Channel;
    use proptest::prelude::*;

    #[test]
    fn every_indonesian_spelling_is_one_number() {
        for raw in [
            "+6281234567890",
            "6281234567890",
            "081234567890",
            "0812-3456-7890",
            "0812 3456 7890",
            "(0812) 3456.7890",
            "006281234567890",
            "+62 812 3456 7890",
            "tel:+6281234567890",
        ] {
            assert_eq!(
                e164(raw, "62").as_deref(),
                Some("+6281234567890"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn not_phone_numbers() {
        for raw in [
            "",
            "+",
            "12345",
            "MyShop",
            "a@b.id",
            "+0812345678",
            "+1234567890123456",
            "0812x",
            "+62 812 ext 1",
        ] {
            assert_eq!(e164(raw, "62"), None, "{raw:?}");
        }
    }

    #[test]
    fn a_national_number_needs_a_country_code() {
        assert_eq!(e164("081234567890", ""), None);
        assert_eq!(e164("081234567890", "6x"), None);
        assert_eq!(e164("07911123456", "44").as_deref(), Some("+447911123456"));
    }

    #[test]
    fn sms_addresses_keep_their_whatsapp_prefix() {
        assert_eq!(sms_address("081234567890", "62"), "+6281234567890");
        assert_eq!(
            sms_address("whatsapp:081234567890", "62"),
            "whatsapp:+6281234567890"
        );
        assert_eq!(sms_address("MyShop", "62"), "MyShop");
    }

    #[test]
    fn the_person_behind_an_address() {
        let n = Some("+6281234567890".to_owned());
        assert_eq!(customer_number(Channel::Sms, "+6281234567890", "62"), n);
        assert_eq!(
            customer_number(Channel::Sms, "whatsapp:+6281234567890", "62"),
            n
        );
        assert_eq!(
            customer_number(Channel::Social, "whatsapp:6281234567890", "62"),
            n
        );
        assert_eq!(
            customer_number(Channel::Social, "messenger:123456789", "62"),
            None
        );
        assert_eq!(customer_number(Channel::Email, "a@b.id", "62"), None);
    }

    proptest! {
        #[test]
        fn normalizing_twice_changes_nothing(raw in "\\PC{0,24}") {
            if let Some(once) = e164(&raw, "62") {
                prop_assert_eq!(e164(&once, "62"), Some(once.clone()));
                prop_assert!(once.len() <= MAX_DIGITS + 1);
            }
        }

        #[test]
        fn any_e164_number_is_kept(digits in "[1-9][0-9]{6,14}") {
            let number = format!("+{digits}");
            prop_assert_eq!(e164(&number, "62"), Some(number.clone()));
            prop_assert_eq!(e164(&digits, "62"), Some(number));
        }
    }
}
