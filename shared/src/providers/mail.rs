//! Turning a parsed mail into a ticket message, shared by the email providers (SES, Mailgun,
//! SendGrid, Postmark): who wrote, to which of our inboxes, the new words apart from the
//! quoted history, the threading ids, and why it must never be answered automatically.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::email::{self, FormField, ParsedEmail};
use crate::error::WebhookError;
use crate::model::{Attachment, Channel, EmailDetails, InboundMessage};
use crate::request::WebhookRequest;

/// The most text of one kind a message item keeps: DynamoDB items end at 400 KB, and a
/// mail longer than this is an attachment in disguise.
pub(crate) const MAX_TEXT_BYTES: usize = 128 * 1024;

/// Subjects longer than this are cut (a header can be made arbitrarily long).
const MAX_SUBJECT_BYTES: usize = 2048;

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
fn capped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[... truncated by Intake: {} bytes in all]",
        &text[..end],
        text.len()
    )
}

/// Largest body an email provider may post: Mailgun, SendGrid and Postmark inline
/// attachments, and API Gateway hands Lambda at most 6 MB anyway.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What the provider says beside the MIME itself.
#[derive(Debug, Default)]
pub(crate) struct Envelope<'a> {
    /// The provider's own id of the mail, if it has one.
    pub provider_id: Option<&'a str>,
    /// The inbox it was delivered to (SMTP `RCPT TO`), when the provider reports it: the
    /// `To` header may name a list or someone else entirely.
    pub recipient: Option<&'a str>,
    /// The SMTP envelope sender (`MAIL FROM`); empty for bounces.
    pub sender: Option<&'a str>,
    /// The provider's verdict (`spam`, `virus`).
    pub flagged: Option<&'static str>,
}

/// A parsed mail as one message of the email channel.
pub(crate) fn inbound(
    provider: &'static str,
    parsed: ParsedEmail,
    envelope: Envelope<'_>,
    raw: &[u8],
    now: Timestamp,
) -> Result<InboundMessage, WebhookError> {
    let from = parsed.from.ok_or(WebhookError::MissingField("from"))?;
    let to = envelope
        .recipient
        .map(str::to_owned)
        .or_else(|| parsed.to.first().cloned())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .ok_or(WebhookError::MissingField("to"))?;
    // Providers without ids of their own (SendGrid) still dedup retries: the Message-ID, or
    // for mail without one, the mail's own bytes.
    let provider_message_id = envelope
        .provider_id
        .map(str::to_owned)
        .or_else(|| parsed.message_id.clone())
        .unwrap_or_else(|| {
            Sha256::digest(raw)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
    let no_reply = parsed.auto_reply.or_else(|| {
        envelope
            .sender
            .and_then(email::loop_reason_for_envelope_sender)
    });
    Ok(InboundMessage {
        channel: Channel::Email,
        provider,
        provider_message_id,
        from,
        to,
        subject: parsed
            .subject
            .filter(|s| !s.trim().is_empty())
            .map(|s| capped(&s, MAX_SUBJECT_BYTES)),
        body: capped(&parsed.new_text, MAX_TEXT_BYTES),
        attachments: parsed.attachments,
        language: None,
        received_at: now,
        // STOP and friends are SMS compliance words; in a mail they are just words.
        keyword: None,
        reply_token: None,
        email: Some(EmailDetails {
            message_id: parsed.message_id,
            in_reply_to: parsed.in_reply_to,
            references: parsed.references,
            cc: parsed.cc,
            quoted: capped(parsed.quoted.trim(), MAX_TEXT_BYTES),
            no_reply: no_reply.map(str::to_owned),
            flagged: envelope.flagged.map(str::to_owned),
        }),
    })
}

/// Parses raw MIME, refusing what is not a mail with a 400 that quotes nothing of it.
pub(crate) fn parse(raw: &[u8]) -> Result<ParsedEmail, WebhookError> {
    email::parse_mime(raw).map_err(|e| WebhookError::Malformed(e.to_string()))
}

/// A mail provider's form, urlencoded or multipart (Mailgun posts either, SendGrid multipart).
pub(crate) struct Form {
    fields: Vec<FormField>,
}

impl Form {
    pub(crate) fn read(req: &WebhookRequest) -> Result<Form, WebhookError> {
        let fields = match req.media_type().as_deref() {
            Some("multipart/form-data") => {
                email::parse_form_data(req.header("content-type").unwrap_or(""), &req.body)
                    .map_err(|e| WebhookError::Malformed(e.to_string()))?
            }
            Some("application/x-www-form-urlencoded") => form_urlencoded::parse(&req.body)
                .map(|(k, v)| FormField {
                    name: k.into_owned(),
                    filename: None,
                    content_type: None,
                    data: v.into_owned().into_bytes(),
                })
                .collect(),
            _ => {
                return Err(WebhookError::UnsupportedMediaType {
                    expected: "multipart/form-data",
                });
            }
        };
        Ok(Form { fields })
    }

    pub(crate) fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.name == name && f.filename.is_none())
            .map(|f| f.data.as_slice())
    }

    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.bytes(name)
            .and_then(|b| std::str::from_utf8(b).ok())
            .filter(|t| !t.trim().is_empty())
    }

    /// Uploaded files as attachment metadata.
    pub(crate) fn files(&self) -> impl Iterator<Item = Attachment> + '_ {
        self.fields
            .iter()
            .filter(|f| f.filename.is_some())
            .map(|f| Attachment {
                url: None,
                content_type: f.content_type.clone(),
                name: f.filename.clone(),
                size: Some(f.data.len() as u64),
            })
    }
}

/// Headers that describe the original body, which a rebuilt mail replaces.
const BODY_HEADERS: &[&str] = &["content-type", "content-transfer-encoding", "mime-version"];

/// A mail rebuilt from a provider's parsed fields (Postmark's JSON, Mailgun's and SendGrid's
/// form fields), so threading ids and loop markers are read by the same parser as raw MIME:
/// the original `headers`, then `defaults` for those the headers lack, then the text body
/// (or, when it is empty, the HTML) in `charset`.
pub(crate) fn rebuild(
    headers: &[(String, String)],
    defaults: &[(&str, Option<String>)],
    text: &[u8],
    html: &[u8],
    charset: &str,
) -> Vec<u8> {
    let mut out = String::new();
    let mut push = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        // A value with a line break would start a header of its own.
        out.push_str(&value.replace(|c: char| c.is_control(), " "));
        out.push_str("\r\n");
    };
    let valid_name =
        |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    for (name, value) in defaults {
        let present = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if let (false, Some(value)) = (present, value) {
            push(name, value);
        }
    }
    for (name, value) in headers {
        if valid_name(name) && !BODY_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            push(name, value);
        }
    }
    let text_is_empty = text.iter().all(u8::is_ascii_whitespace);
    let html_is_empty = html.iter().all(u8::is_ascii_whitespace);
    let (kind, body) = if text_is_empty && !html_is_empty {
        ("html", html)
    } else {
        ("plain", text)
    };
    let charset: String = charset
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_:.".contains(*c))
        .collect();
    let charset = if charset.is_empty() {
        "utf-8".into()
    } else {
        charset
    };
    push("MIME-Version", "1.0");
    push("Content-Type", &format!("text/{kind}; charset={charset}"));
    push("Content-Transfer-Encoding", "base64");
    out.push_str("\r\n");
    use base64::Engine;
    out.push_str(&base64::engine::general_purpose::STANDARD.encode(body));
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_BYTES);
        let cut = capped(&long, MAX_TEXT_BYTES);
        assert!(cut.len() < MAX_TEXT_BYTES + 100);
        assert!(cut.ends_with(&format!(
            "[... truncated by Intake: {} bytes in all]",
            long.len()
        )));
        assert_eq!(capped("short", MAX_TEXT_BYTES), "short");
    }
}
