//! Load-time validation: every mistake a support manager can make in `intake.toml` is
//! reported when the function starts, with where it is.

use super::*;

fn problems(toml: &str) -> Vec<String> {
    match AckSettings::from_toml(toml) {
        Ok(_) => Vec::new(),
        Err(SettingsError(p)) => p,
    }
}

fn assert_problem(toml: &str, expected: &str) {
    let found = problems(toml);
    assert!(
        found.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got {found:?}"
    );
}

#[test]
fn the_fixture_and_the_empty_file_are_valid() {
    assert!(problems(include_str!("../../../tests/fixtures/intake.toml")).is_empty());
    assert!(problems("").is_empty());
    assert!(problems(include_str!("../../../intake.example.toml")).is_empty());
}

#[test]
fn unknown_placeholder() {
    assert_problem(
        "[[brand]]\nid = \"a\"\n[brand.templates.sms.en]\nopen = \"Hi {nmae}\"\n",
        "brand a: templates.sms.en.open: unknown placeholder {nmae}",
    );
}

#[test]
fn bad_time_zone() {
    assert_problem(
        "[[brand]]\ntime_zone = \"Asia/Jakrta\"\n",
        "is not an IANA time zone",
    );
    assert_problem(
        "[[brand]]\ntime_zone = \"WIB\"\n",
        "is not an IANA time zone",
    );
}

#[test]
fn overlapping_and_malformed_hours() {
    assert_problem(
        "[[brand]]\n[brand.hours]\nmonday = [\"08:00-12:00\", \"11:30-17:00\"]\n",
        "hours.monday: ranges starting 08:00 and 11:30 overlap",
    );
    assert_problem(
        "[[brand]]\n[brand.hours]\nfunday = [\"08:00-12:00\"]\n",
        "\"funday\" is not a weekday",
    );
    assert_problem(
        "[[brand]]\n[brand.hours]\nmonday = [\"17:00-08:00\"]\n",
        "ends before it starts",
    );
    assert_problem(
        "[[brand]]\n[brand.hours]\nmonday = []\n[[brand.holidays]]\ndate = \"25-12-2026\"\n",
        "is not YYYY-MM-DD",
    );
}

#[test]
fn sms_overflow() {
    let long = "x".repeat(160);
    assert_problem(
        &format!("[[brand]]\n[brand.templates.sms.en]\nopen = \"{long} #{{ref}}\"\n"),
        "templates.sms.en.open: 2 SMS segments at worst",
    );
    // One emoji makes the whole SMS UCS-2: 70 characters a segment.
    assert_problem(
        &format!(
            "[[brand]]\n[brand.templates.sms.id]\nopen = \"🙏 {}\"\n",
            "x".repeat(70)
        ),
        "UCS-2",
    );
    // Allowed when the brand accepts two segments.
    assert!(problems(&format!("[limits]\nsms_max_segments = 2\n[[brand]]\n[brand.templates.sms.en]\nopen = \"{long}\"\n")).is_empty());
}

#[test]
fn typos_and_unknowns_are_not_ignored() {
    assert_problem("[limits]\nper_contact_per_dya = 3\n", "unknown field");
    assert_problem(
        "[[brand]]\n[brand.templates.fax.en]\nopen = \"x\"\n",
        "templates.fax: not a channel",
    );
    assert_problem(
        "[[brand]]\n[brand.templates.sms.fr]\nopen = \"x\"\n",
        "templates.sms.fr: not a language",
    );
    assert_problem(
        "[[brand]]\n[brand.templates.sms.en]\nopne = \"x\"\n",
        "templates.sms.en.opne: not a state",
    );
    assert_problem(
        "[[brand]]\ndefault_language = \"fr\"\n",
        "default_language \"fr\" is not en or id",
    );
    assert_problem(
        "default_brand = \"nope\"\n[[brand]]\nid = \"a\"\n",
        "default_brand \"nope\" is not a brand",
    );
    assert_problem(
        "[[brand]]\nid = \"a\"\naddresses = [\"+1\"]\n[[brand]]\nid = \"b\"\naddresses = [\"+1\"]\n",
        "address +1 belongs to both a and b",
    );
    assert_problem(
        "[[brand]]\n[brand.templates.sms.en.open]\ntext = \"x\"\nhtml = \"<p>x</p>\"\n",
        "only email templates have an html variant",
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let found = problems(
        "[[brand]]\ntime_zone = \"Mars/Olympus\"\n[brand.templates.sms.en]\nopen = \"{x}\"\nclosed = \"{y}\"\n",
    );
    assert!(found.len() >= 3, "{found:?}");
}

#[test]
fn sms_numbers_and_keywords_are_configurable() {
    use crate::keywords::Keyword;
    let built_in = AckSettings::builtin().sms;
    assert_eq!(built_in.default_country_code, "62");
    assert_eq!(built_in.keywords.classify("BERHENTI"), Some(Keyword::Stop));

    let settings = AckSettings::from_toml(
        "[sms]\ndefault_country_code = \"+44\"\n[sms.keywords]\nopt_out = [\"stop\", \"keluar\"]\n",
    )
    .expect("valid");
    assert_eq!(settings.sms.default_country_code, "44");
    let k = &settings.sms.keywords;
    assert_eq!(k.classify("Keluar"), Some(Keyword::Stop));
    // The opt-out list was replaced; the others keep their built-in words.
    assert_eq!(k.classify("berhenti"), None);
    assert_eq!(k.classify("mulai"), Some(Keyword::Start));
    assert_eq!(k.classify("bantuan"), Some(Keyword::Help));
}

#[test]
fn bad_sms_settings_are_named() {
    assert_problem(
        "[sms]\ndefault_country_code = \"Indonesia\"\n",
        "sms.default_country_code",
    );
    assert_problem(
        "[sms.keywords]\nopt_in = [\"STOP\"]\n",
        "\"STOP\" is in both opt_out and opt_in",
    );
    assert_problem(
        "[sms.keywords]\nhelp = [\"tolong saya\"]\n",
        "is not one word",
    );
    assert_problem("[sms]\nkeyword = []\n", "unknown field");
}
