//! Raw MIME → what a ticket needs, with `mail-parser`: any charset and transfer encoding,
//! encoded words, text/plain preferred and HTML turned into readable text otherwise.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};

use crate::model::{Attachment, Party};

/// Why raw bytes are not a mail we can make a ticket of. Texts never quote the mail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    /// Nothing at all.
    #[error("the mail is empty")]
    Empty,
    /// No header section could be read.
    #[error("the mail has no readable headers")]
    NoHeaders,
    /// No `From` address.
    #[error("the mail has no From address")]
    NoSender,
    /// A `multipart/form-data` body that cannot be split.
    #[error("malformed form data: {0}")]
    Form(&'static str),
}

/// A mail as a helpdesk reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedEmail {
    /// The sender: address (domain lower-cased) and display name.
    pub from: Option<Party>,
    /// `To` addresses.
    pub to: Vec<String>,
    /// `Cc` addresses.
    pub cc: Vec<String>,
    /// `Reply-To`, when set.
    pub reply_to: Option<String>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids without angle brackets, oldest first.
    pub references: Vec<String>,
    /// `Date`.
    pub date: Option<jiff::Timestamp>,
    /// The whole readable text.
    pub text: String,
    /// The customer's new words, quoted history removed.
    pub new_text: String,
    /// The quoted history below them (empty when there is none).
    pub quoted: String,
    /// Attachment metadata (size in decoded bytes).
    pub attachments: Vec<Attachment>,
    /// Why the mail must never be answered automatically, if so.
    pub auto_reply: Option<&'static str>,
}

/// Parses a raw mail.
pub fn parse_mime(raw: &[u8]) -> Result<ParsedEmail, MimeError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MimeError::Empty);
    }
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(MimeError::NoHeaders)?;
    let from = message
        .from()
        .and_then(Address::first)
        .and_then(|a| {
            let address = normalize_address(a.address()?)?;
            Some(Party {
                address,
                name: a
                    .name()
                    .map(|n| n.trim().trim_matches('"').trim().to_owned())
                    .filter(|n| !n.is_empty()),
            })
        })
        .ok_or(MimeError::NoSender)?;
    let text = body_text(&message);
    let (new, quoted) = super::split_quoted(&text);
    let (new_text, quoted) = (new.to_owned(), quoted.to_owned());
    let attachments = message
        .attachments()
        .map(|part| Attachment {
            url: None,
            content_type: part.content_type().map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                None => ct.ctype().to_ascii_lowercase(),
            }),
            name: part.attachment_name().map(str::to_owned),
            size: Some(part.contents().len() as u64),
        })
        .collect();
    let headers: Vec<(&str, &str)> = message.headers_raw().collect();
    let auto_reply = super::loop_reason(headers, Some(&from.address));
    Ok(ParsedEmail {
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        reply_to: addresses(message.reply_to()).into_iter().next(),
        subject: message.subject().map(|s| s.trim().to_owned()),
        message_id: message
            .message_id()
            .map(clean_id)
            .filter(|id| !id.is_empty()),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        date: message
            .date()
            .and_then(|d| jiff::Timestamp::from_second(d.to_timestamp()).ok()),
        from: Some(from),
        text,
        new_text,
        quoted,
        attachments,
        auto_reply,
    })
}

/// text/plain when there is one, else the HTML as text; line endings normalized.
fn body_text(message: &mail_parser::Message<'_>) -> String {
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let text = text.replace("\r\n", "\n").replace('\u{a0}', " ");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_owned()
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address
        .map(|a| {
            a.iter()
                .filter_map(|a| normalize_address(a.address()?))
                .collect()
        })
        .unwrap_or_default()
}

/// An address with its domain lower-cased (local parts may be case-sensitive).
fn normalize_address(address: &str) -> Option<String> {
    let address = address.trim();
    let (local, domain) = address.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty())
        .then(|| format!("{local}@{}", domain.to_ascii_lowercase()))
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .flat_map(|v| v.split_whitespace())
        .map(clean_id)
        .filter(|id| !id.is_empty())
        .collect()
}

fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_owned()
}

#[cfg(test)]
#[path = "mime_tests.rs"]
mod tests;
