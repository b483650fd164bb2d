//! A small, safe template syntax: text with `{placeholders}` from a fixed list; `{{` and
//! `}}` for literal braces. Unknown placeholders are errors when the configuration loads,
//! never blanks at send time.

use super::language::Language;
use crate::model::Channel;

/// A value a template can insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{ref}`: the ticket reference, `K7F3Q2`.
    Ref,
    /// `{name}`: the customer's name, or a polite stand-in.
    Name,
    /// `{next_open}`: the next opening, in the customer's language.
    NextOpen,
    /// `{reply_within}`: the brand's reply time, in the customer's language.
    ReplyWithin,
    /// `{channel}`: SMS, email, chat.
    Channel,
    /// `{brand}`: the brand's name.
    Brand,
}

impl Placeholder {
    /// Every placeholder and its name in templates.
    pub const ALL: [(&'static str, Placeholder); 6] = [
        ("ref", Placeholder::Ref),
        ("name", Placeholder::Name),
        ("next_open", Placeholder::NextOpen),
        ("reply_within", Placeholder::ReplyWithin),
        ("channel", Placeholder::Channel),
        ("brand", Placeholder::Brand),
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Placeholder),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Names longer than this are cut in acks (an SMS must stay within its segments). Here,
/// below both the policy that cuts them and the settings that check SMS lengths with the
/// longest name.
pub const MAX_NAME_CHARS: usize = 20;

/// The values of one rendering.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// `{ref}`
    pub reference: String,
    /// `{name}`
    pub name: String,
    /// `{next_open}`
    pub next_open: String,
    /// `{reply_within}`
    pub reply_within: String,
    /// `{channel}`
    pub channel: String,
    /// `{brand}`
    pub brand: String,
}

impl Template {
    /// Parses `text`; the error names the unknown placeholder or the stray brace.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed {{ at character {i}"))?;
                    let name = &rest[..end];
                    let placeholder = Placeholder::ALL
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, p)| *p)
                        .ok_or_else(|| {
                            let known: Vec<_> = Placeholder::ALL
                                .iter()
                                .map(|(n, _)| format!("{{{n}}}"))
                                .collect();
                            format!(
                                "unknown placeholder {{{name}}} (known: {})",
                                known.join(", ")
                            )
                        })?;
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Value(placeholder));
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(format!(
                        "stray }} at character {i} (write }}}} for a brace)"
                    ));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// Whether the template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.pieces.contains(&Piece::Value(placeholder))
    }

    /// Renders as text.
    pub fn render(&self, values: &Values) -> String {
        self.render_with(values, |s| s.to_owned())
    }

    /// Renders as HTML: the template is trusted markup, the values are escaped.
    pub fn render_html(&self, values: &Values) -> String {
        self.render_with(values, escape_html)
    }

    fn render_with(&self, values: &Values, escape: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Value(p) => out.push_str(&escape(match p {
                    Placeholder::Ref => &values.reference,
                    Placeholder::Name => &values.name,
                    Placeholder::NextOpen => &values.next_open,
                    Placeholder::ReplyWithin => &values.reply_within,
                    Placeholder::Channel => &values.channel,
                    Placeholder::Brand => &values.brand,
                })),
            }
        }
        out
    }
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The texts shipped with Intake for `channel`, `language` and opening state (`open`,
/// `closed`, `holiday`): the text, and for email an HTML variant.
pub fn builtin(
    channel: Channel,
    language: Language,
    state: &str,
) -> (&'static str, Option<&'static str>) {
    use Channel::*;
    use Language::*;
    match (channel, language, state) {
        // SMS: one GSM-7 segment with any reference and a week-away opening.
        (Sms, En, "open") => (
            "Thanks, we got your message. Your ticket is #{ref}. We reply within {reply_within}.",
            None,
        ),
        (Sms, En, "closed") => (
            "Thanks, we got your message (ticket #{ref}). We are closed now and will reply from {next_open}.",
            None,
        ),
        (Sms, En, _) => (
            "Thanks, we got your message (ticket #{ref}). We are closed for the holiday and will reply from {next_open}.",
            None,
        ),
        (Sms, Id, "open") => (
            "Terima kasih, pesan Anda sudah kami terima. Nomor tiket #{ref}. Kami membalas dalam {reply_within}.",
            None,
        ),
        (Sms, Id, "closed") => (
            "Terima kasih, pesan Anda sudah kami terima (tiket #{ref}). Kami sedang tutup dan membalas mulai {next_open}.",
            None,
        ),
        (Sms, Id, _) => (
            "Terima kasih, pesan Anda sudah kami terima (tiket #{ref}). Kami sedang libur dan membalas mulai {next_open}.",
            None,
        ),
        (Social, En, "open") => (
            "Hi {name}, thanks for your message! Your ticket number is #{ref}. Our team will reply here within {reply_within}.",
            None,
        ),
        (Social, En, "closed") => (
            "Hi {name}, thanks for your message! Your ticket number is #{ref}. We are closed right now and will reply here from {next_open}.",
            None,
        ),
        (Social, En, _) => (
            "Hi {name}, thanks for your message! Your ticket number is #{ref}. We are closed for the holiday and will reply here from {next_open}.",
            None,
        ),
        (Social, Id, "open") => (
            "Halo {name}, terima kasih atas pesannya! Nomor tiket Anda #{ref}. Tim kami akan membalas di sini dalam {reply_within}.",
            None,
        ),
        (Social, Id, "closed") => (
            "Halo {name}, terima kasih atas pesannya! Nomor tiket Anda #{ref}. Saat ini kami sedang tutup dan akan membalas di sini mulai {next_open}.",
            None,
        ),
        (Social, Id, _) => (
            "Halo {name}, terima kasih atas pesannya! Nomor tiket Anda #{ref}. Kami sedang libur dan akan membalas di sini mulai {next_open}.",
            None,
        ),
        (Email, En, "open") => (
            "Hi {name},\n\nThank you for contacting {brand}. We have received your message and opened ticket #{ref}.\n\nOur team replies within {reply_within}. To add anything, simply reply to this email and keep [#{ref}] in the subject.\n\nThis is an automatic reply.",
            Some(
                "<p>Hi {name},</p><p>Thank you for contacting {brand}. We have received your message and opened ticket <strong>#{ref}</strong>.</p><p>Our team replies within {reply_within}. To add anything, simply reply to this email and keep [#{ref}] in the subject.</p><p><small>This is an automatic reply.</small></p>",
            ),
        ),
        (Email, En, "closed") => (
            "Hi {name},\n\nThank you for contacting {brand}. We have received your message and opened ticket #{ref}.\n\nWe are closed right now and will reply from {next_open}. To add anything, simply reply to this email and keep [#{ref}] in the subject.\n\nThis is an automatic reply.",
            Some(
                "<p>Hi {name},</p><p>Thank you for contacting {brand}. We have received your message and opened ticket <strong>#{ref}</strong>.</p><p>We are closed right now and will reply from {next_open}. To add anything, simply reply to this email and keep [#{ref}] in the subject.</p><p><small>This is an automatic reply.</small></p>",
            ),
        ),
        (Email, En, _) => (
            "Hi {name},\n\nThank you for contacting {brand}. We have received your message and opened ticket #{ref}.\n\nWe are closed for the holiday and will reply from {next_open}. To add anything, simply reply to this email and keep [#{ref}] in the subject.\n\nThis is an automatic reply.",
            Some(
                "<p>Hi {name},</p><p>Thank you for contacting {brand}. We have received your message and opened ticket <strong>#{ref}</strong>.</p><p>We are closed for the holiday and will reply from {next_open}. To add anything, simply reply to this email and keep [#{ref}] in the subject.</p><p><small>This is an automatic reply.</small></p>",
            ),
        ),
        (Email, Id, "open") => (
            "Halo {name},\n\nTerima kasih telah menghubungi {brand}. Pesan Anda sudah kami terima dengan nomor tiket #{ref}.\n\nTim kami akan membalas dalam {reply_within}. Untuk menambahkan informasi, cukup balas email ini dan biarkan [#{ref}] tetap di subjek.\n\nIni adalah balasan otomatis.",
            Some(
                "<p>Halo {name},</p><p>Terima kasih telah menghubungi {brand}. Pesan Anda sudah kami terima dengan nomor tiket <strong>#{ref}</strong>.</p><p>Tim kami akan membalas dalam {reply_within}. Untuk menambahkan informasi, cukup balas email ini dan biarkan [#{ref}] tetap di subjek.</p><p><small>Ini adalah balasan otomatis.</small></p>",
            ),
        ),
        (Email, Id, "closed") => (
            "Halo {name},\n\nTerima kasih telah menghubungi {brand}. Pesan Anda sudah kami terima dengan nomor tiket #{ref}.\n\nSaat ini kami sedang tutup dan akan membalas mulai {next_open}. Untuk menambahkan informasi, cukup balas email ini dan biarkan [#{ref}] tetap di subjek.\n\nIni adalah balasan otomatis.",
            Some(
                "<p>Halo {name},</p><p>Terima kasih telah menghubungi {brand}. Pesan Anda sudah kami terima dengan nomor tiket <strong>#{ref}</strong>.</p><p>Saat ini kami sedang tutup dan akan membalas mulai {next_open}. Untuk menambahkan informasi, cukup balas email ini dan biarkan [#{ref}] tetap di subjek.</p><p><small>Ini adalah balasan otomatis.</small></p>",
            ),
        ),
        (Email, Id, _) => (
            "Halo {name},\n\nTerima kasih telah menghubungi {brand}. Pesan Anda sudah kami terima dengan nomor tiket #{ref}.\n\nKami sedang libur dan akan membalas mulai {next_open}. Untuk menambahkan informasi, cukup balas email ini dan biarkan [#{ref}] tetap di subjek.\n\nIni adalah balasan otomatis.",
            Some(
                "<p>Halo {name},</p><p>Terima kasih telah menghubungi {brand}. Pesan Anda sudah kami terima dengan nomor tiket <strong>#{ref}</strong>.</p><p>Kami sedang libur dan akan membalas mulai {next_open}. Untuk menambahkan informasi, cukup balas email ini dan biarkan [#{ref}] tetap di subjek.</p><p><small>Ini adalah balasan otomatis.</small></p>",
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            reference: "K7F3Q2".into(),
            name: "Budi <b>".into(),
            next_open: "Senin, 08.00 WIB".into(),
            reply_within: "2 jam".into(),
            channel: "SMS".into(),
            brand: "TokoKu".into(),
        }
    }

    #[test]
    fn renders_placeholders_and_literal_braces() {
        let t = Template::parse("Tiket #{ref} {{ok}} buka {next_open}").unwrap();
        assert_eq!(
            t.render(&values()),
            "Tiket #K7F3Q2 {ok} buka Senin, 08.00 WIB"
        );
        assert!(t.uses(Placeholder::Ref) && !t.uses(Placeholder::Name));
    }

    #[test]
    fn html_escapes_values_not_markup() {
        let t = Template::parse("<p>Halo {name}</p>").unwrap();
        assert_eq!(t.render_html(&values()), "<p>Halo Budi &lt;b&gt;</p>");
    }

    #[test]
    fn load_time_errors() {
        assert!(
            Template::parse("Hi {nmae}")
                .unwrap_err()
                .contains("unknown placeholder {nmae}")
        );
        assert!(
            Template::parse("Hi {name")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(Template::parse("Hi name}").unwrap_err().contains("stray"));
        assert!(Template::parse("Hi {}").is_err());
    }

    #[test]
    fn every_builtin_parses() {
        for channel in Channel::ALL {
            for language in Language::ALL {
                for state in ["open", "closed", "holiday"] {
                    let (text, html) = builtin(channel, language, state);
                    Template::parse(text).unwrap();
                    if let Some(html) = html {
                        Template::parse(html).unwrap();
                    }
                }
            }
        }
    }
}
