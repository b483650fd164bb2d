//! `multipart/form-data` (RFC 7578), the body Mailgun and SendGrid post mail in. Read with
//! the MIME parser, since a form is a MIME multipart; every part's bytes survive exactly.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::MimeError;

/// One field of a form: a value, or a file with its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The field name.
    pub name: String,
    /// The file name, for uploaded files.
    pub filename: Option<String>,
    /// The part's content type, when given.
    pub content_type: Option<String>,
    /// The bytes, exactly as sent.
    pub data: Vec<u8>,
}

impl FormField {
    /// A text field.
    pub fn text(name: &str, value: &str) -> FormField {
        FormField {
            name: name.to_owned(),
            filename: None,
            content_type: None,
            data: value.as_bytes().to_vec(),
        }
    }
}

/// The fields of a `multipart/form-data` body with this `Content-Type` header value.
pub fn parse_form_data(content_type: &str, body: &[u8]) -> Result<Vec<FormField>, MimeError> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or(MimeError::Form("no boundary"))?;
    if !contains(body, format!("--{boundary}").as_bytes()) {
        return Err(MimeError::Form("boundary not found in the body"));
    }
    let mut wrapped =
        format!("Content-Type: multipart/form-data; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    wrapped.extend_from_slice(body);
    let message = MessageParser::new()
        .with_mime_headers()
        .parse(&wrapped)
        .ok_or(MimeError::Form("unreadable"))?;
    let root = message.root_part();
    let Some(parts) = root.sub_parts() else {
        return Err(MimeError::Form("not multipart"));
    };
    let mut fields = Vec::with_capacity(parts.len());
    for id in parts {
        let Some(part) = message.part(*id) else {
            continue;
        };
        let Some(disposition) = part.content_disposition() else {
            continue;
        };
        let Some(name) = disposition.attribute("name") else {
            continue;
        };
        let data = match &part.body {
            PartType::Text(t) | PartType::Html(t) => raw_or(part, &wrapped, t.as_bytes()),
            PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
            PartType::Message(_) | PartType::Multipart(_) => wrapped
                .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
                .unwrap_or_default()
                .to_vec(),
        };
        fields.push(FormField {
            name: name.to_owned(),
            filename: disposition.attribute("filename").map(str::to_owned),
            content_type: part.content_type().map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            }),
            data,
        });
    }
    Ok(fields)
}

/// Text parts come back decoded to UTF-8; a form field's bytes must stay as sent (SendGrid
/// posts Latin-1 text and says so in `charsets`), so read them from the body itself unless a
/// transfer encoding was applied.
fn raw_or(part: &mail_parser::MessagePart<'_>, wrapped: &[u8], decoded: &[u8]) -> Vec<u8> {
    if part.content_transfer_encoding().is_some() {
        return decoded.to_vec();
    }
    let (start, end) = (
        part.raw_body_offset() as usize,
        part.raw_end_offset() as usize,
    );
    // The offsets end before the line break that belongs to the next boundary.
    let raw = wrapped.get(start..end).unwrap_or(decoded);
    raw.to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Encodes fields as `multipart/form-data`: `(content type header value, body)`. For the
/// simulator and tests, which post mail as Mailgun and SendGrid do.
pub fn encode_form_data(fields: &[FormField]) -> (String, Vec<u8>) {
    let boundary = format!("----intake{:032x}", ulid::Ulid::new().0);
    let mut body = Vec::new();
    for field in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", field.name);
        if let Some(filename) = &field.filename {
            disposition.push_str(&format!("; filename=\"{filename}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = &field.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&field.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_binary_files_round_trip() {
        let binary: Vec<u8> = (0..=255u8).chain([b'\r', b'\n', b'-', b'-']).collect();
        let fields = vec![
            FormField::text("sender", "budi@example.co.id"),
            FormField::text("body-plain", "Baris satu\r\nBaris dua\r\n"),
            FormField {
                name: "attachment-1".into(),
                filename: Some("data.bin".into()),
                content_type: Some("application/octet-stream".into()),
                data: binary.clone(),
            },
            FormField {
                name: "text".into(),
                filename: None,
                content_type: None,
                data: b"caf\xe9".to_vec(),
            },
        ];
        let (content_type, body) = encode_form_data(&fields);
        let parsed = parse_form_data(&content_type, &body).unwrap();
        assert_eq!(parsed, fields);
    }

    #[test]
    fn bad_forms() {
        assert_eq!(
            parse_form_data("multipart/form-data", b"x"),
            Err(MimeError::Form("no boundary"))
        );
        assert_eq!(
            parse_form_data("multipart/form-data; boundary=abc", b"no parts here"),
            Err(MimeError::Form("boundary not found in the body"))
        );
    }
}
