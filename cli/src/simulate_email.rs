//! Realistic inbound mail as each email provider posts it, correctly signed or authenticated,
//! for `intake simulate ses|mailgun|sendgrid|postmark` and the tests.

use base64::Engine;
use intake::email::{FormField, encode_form_data};
use intake::sns::SnsMessage;
use serde_json::json;

use crate::DevResult;

/// A customer's mail.
#[derive(Debug, Clone)]
pub struct CustomerMail {
    /// The customer's address.
    pub from: String,
    /// The customer's display name.
    pub from_name: Option<String>,
    /// Our inbox.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain text (or HTML, with `html_only`).
    pub body: String,
    /// Send only an HTML part.
    pub html_only: bool,
    /// `Message-ID` without brackets; fresh when `None`.
    pub message_id: Option<String>,
    /// `In-Reply-To` (and `References`) without brackets.
    pub in_reply_to: Option<String>,
    /// More headers (`Auto-Submitted`, `List-Id`, ...).
    pub headers: Vec<(String, String)>,
    /// SMTP envelope sender; the `From` address when `None` (`""` is a bounce).
    pub envelope_sender: Option<String>,
}

impl CustomerMail {
    /// A plain-text mail with a fresh Message-ID.
    pub fn new(from: &str, to: &str, subject: &str, body: &str) -> CustomerMail {
        CustomerMail {
            from: from.into(),
            from_name: None,
            to: to.into(),
            subject: subject.into(),
            body: body.into(),
            html_only: false,
            message_id: None,
            in_reply_to: None,
            headers: Vec::new(),
            envelope_sender: None,
        }
    }

    /// The same mail with its Message-ID fixed (a fresh one is chosen once).
    pub fn with_fixed_id(mut self) -> CustomerMail {
        if self.message_id.is_none() {
            self.message_id = Some(format!(
                "{}@mail.example.com",
                ulid::Ulid::new().to_string().to_lowercase()
            ));
        }
        self
    }

    /// The SMTP envelope sender.
    pub fn envelope_sender(&self) -> &str {
        self.envelope_sender.as_deref().unwrap_or(&self.from)
    }

    /// The mail as RFC 5322 text: UTF-8 body in quoted-printable-free base64, so any text
    /// survives every provider's transport.
    pub fn mime(&self) -> String {
        let fixed = self.clone().with_fixed_id();
        let mut out = String::new();
        let from = match &self.from_name {
            Some(name) => format!(
                "=?UTF-8?B?{}?= <{}>",
                base64::engine::general_purpose::STANDARD.encode(name),
                self.from
            ),
            None => self.from.clone(),
        };
        let subject = format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(&self.subject)
        );
        let mut push = |name: &str, value: &str| {
            out.push_str(&format!("{name}: {value}\r\n"));
        };
        push("Return-Path", &format!("<{}>", self.envelope_sender()));
        push("From", &from);
        push("To", &self.to);
        push("Subject", &subject);
        push(
            "Date",
            &jiff::Timestamp::now()
                .strftime("%a, %d %b %Y %H:%M:%S +0000")
                .to_string(),
        );
        push(
            "Message-ID",
            &format!("<{}>", fixed.message_id.unwrap_or_default()),
        );
        if let Some(parent) = &self.in_reply_to {
            push("In-Reply-To", &format!("<{parent}>"));
            push("References", &format!("<{parent}>"));
        }
        for (name, value) in &self.headers {
            push(name, value);
        }
        push("MIME-Version", "1.0");
        let kind = if self.html_only { "html" } else { "plain" };
        push("Content-Type", &format!("text/{kind}; charset=UTF-8"));
        push("Content-Transfer-Encoding", "base64");
        out.push_str("\r\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(&self.body);
        for line in encoded.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push_str("\r\n");
        }
        out
    }
}

/// A form or JSON post ready to send.
#[derive(Debug, Clone)]
pub struct MailPost {
    /// Target URL.
    pub url: String,
    /// `Content-Type`.
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
    /// `Authorization`, for providers that use Basic credentials.
    pub authorization: Option<String>,
}

/// Posts it; returns the status and body text.
pub async fn post(client: &reqwest::Client, post: &MailPost) -> DevResult<(u16, String)> {
    let mut request = client
        .post(&post.url)
        .header("content-type", &post.content_type)
        .timeout(std::time::Duration::from_secs(30))
        .body(post.body.clone());
    if let Some(auth) = &post.authorization {
        request = request.header("authorization", auth);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

fn basic(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

fn url(base_url: &str, provider: &str) -> String {
    format!("{}/email/{provider}", base_url.trim_end_matches('/'))
}

/// Mailgun's route forward with `body-mime`, signed with `signing_key` at `now`.
pub fn mailgun(base_url: &str, signing_key: &str, mail: &CustomerMail) -> MailPost {
    let timestamp = jiff::Timestamp::now().as_second().to_string();
    let token = format!("{:050x}", ulid::Ulid::new().0);
    let signature: String = intake::verify::hmac_sha256(
        signing_key.as_bytes(),
        &[timestamp.as_bytes(), token.as_bytes()],
    )
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    let fields = vec![
        FormField::text("recipient", &mail.to),
        FormField::text("sender", mail.envelope_sender()),
        FormField::text("from", &mail.from),
        FormField::text("subject", &mail.subject),
        FormField::text("body-mime", &mail.mime()),
        FormField::text("timestamp", &timestamp),
        FormField::text("token", &token),
        FormField::text("signature", &signature),
    ];
    let (content_type, body) = encode_form_data(&fields);
    MailPost {
        url: url(base_url, "mailgun"),
        content_type,
        body,
        authorization: None,
    }
}

/// SendGrid Inbound Parse with "POST the raw, full MIME message" on.
pub fn sendgrid(base_url: &str, credentials: &str, mail: &CustomerMail) -> MailPost {
    let envelope = json!({"to": [mail.to], "from": mail.envelope_sender()}).to_string();
    let fields = vec![
        FormField::text("email", &mail.mime()),
        FormField::text("envelope", &envelope),
        FormField::text("to", &mail.to),
        FormField::text("from", &mail.from),
        FormField::text("subject", &mail.subject),
        FormField::text(
            "charsets",
            r#"{"to":"UTF-8","from":"UTF-8","subject":"UTF-8"}"#,
        ),
        FormField::text("spam_score", "0.1"),
    ];
    let (content_type, body) = encode_form_data(&fields);
    MailPost {
        url: url(base_url, "sendgrid"),
        content_type,
        body,
        authorization: Some(basic(credentials)),
    }
}

/// Postmark's inbound JSON (parsed fields, as Postmark posts by default).
pub fn postmark(base_url: &str, credentials: &str, mail: &CustomerMail) -> MailPost {
    let fixed = mail.clone().with_fixed_id();
    let mut headers = vec![
        json!({"Name": "Return-Path", "Value": format!("<{}>", mail.envelope_sender())}),
        json!({"Name": "Message-ID", "Value": format!("<{}>", fixed.message_id.unwrap_or_default())}),
        json!({"Name": "X-Spam-Status", "Value": "No"}),
    ];
    if let Some(parent) = &mail.in_reply_to {
        headers.push(json!({"Name": "In-Reply-To", "Value": format!("<{parent}>")}));
        headers.push(json!({"Name": "References", "Value": format!("<{parent}>")}));
    }
    for (name, value) in &mail.headers {
        headers.push(json!({"Name": name, "Value": value}));
    }
    let (text, html) = if mail.html_only {
        (String::new(), mail.body.clone())
    } else {
        (mail.body.clone(), String::new())
    };
    let body = json!({
        "FromName": mail.from_name.clone().unwrap_or_default(),
        "MessageStream": "inbound",
        "From": mail.from,
        "FromFull": {"Email": mail.from, "Name": mail.from_name.clone().unwrap_or_default(), "MailboxHash": ""},
        "To": mail.to,
        "ToFull": [{"Email": mail.to, "Name": "", "MailboxHash": ""}],
        "Cc": "", "CcFull": [], "Bcc": "", "BccFull": [],
        "OriginalRecipient": mail.to,
        "Subject": mail.subject,
        "MessageID": ulid::Ulid::new().to_string().to_lowercase(),
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        "TextBody": text,
        "HtmlBody": html,
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": headers,
        "Attachments": [],
    });
    MailPost {
        url: url(base_url, "postmark"),
        content_type: "application/json".into(),
        body: body.to_string().into_bytes(),
        authorization: Some(basic(credentials)),
    }
}

/// Signs SNS messages as SNS would, with a private key (the local stack's public test key:
/// only a stack told to trust its certificate accepts them).
pub struct SnsSigner {
    key: aws_lc_rs::signature::RsaKeyPair,
}

impl SnsSigner {
    /// From a PEM `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8).
    pub fn from_pem(pem: &str) -> DevResult<SnsSigner> {
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let der = base64::engine::general_purpose::STANDARD.decode(body.trim())?;
        let key = aws_lc_rs::signature::RsaKeyPair::from_der(&der)
            .or_else(|_| aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der))
            .map_err(|e| format!("not an RSA private key: {e}"))?;
        Ok(SnsSigner { key })
    }

    /// The local stack's signer (`tests/fixtures/sns-dev/privatekey.pem`).
    pub fn local() -> DevResult<SnsSigner> {
        let path = crate::project_root()?.join(crate::stack::TEST_SNS_KEY);
        SnsSigner::from_pem(
            &std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        )
    }

    /// Fills in `SignatureVersion` 2 and the signature of `message`.
    pub fn sign(&self, message: &mut SnsMessage) -> DevResult<()> {
        message.signature_version = "2".into();
        let canonical = intake::sns::canonical_string(message)?;
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                canonical.as_bytes(),
                &mut signature,
            )
            .map_err(|e| format!("signing failed: {e}"))?;
        message.signature = base64::engine::general_purpose::STANDARD.encode(signature);
        Ok(())
    }
}

/// Where simulated SNS messages say their certificate is.
pub const LOCAL_CERT_URL: &str =
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-intake-local.pem";

/// An unsigned SNS envelope on `topic_arn`.
pub fn sns_message(
    kind: &str,
    topic_arn: &str,
    subject: Option<&str>,
    message: String,
) -> SnsMessage {
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let mut m = SnsMessage {
        kind: kind.into(),
        message_id: id.clone(),
        topic_arn: topic_arn.into(),
        subject: subject.map(str::to_owned),
        message,
        timestamp: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: LOCAL_CERT_URL.into(),
        subscribe_url: None,
        token: None,
        unsubscribe_url: None,
    };
    if kind == "Notification" {
        m.unsubscribe_url = Some(format!(
            "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:{id}"
        ));
    } else {
        let token = format!("{:064x}", ulid::Ulid::new().0);
        m.subscribe_url = Some(format!(
            "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"
        ));
        m.token = Some(token);
    }
    m
}

/// The SES receipt notification (SNS action, Base64 content) of `mail`.
pub fn ses_received(mail: &CustomerMail, spam: &str, virus: &str) -> String {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    json!({
        "notificationType": "Received",
        "mail": {
            "timestamp": now,
            "source": mail.envelope_sender(),
            "messageId": format!("{:040x}", ulid::Ulid::new().0),
            "destination": [mail.to],
            "headersTruncated": false,
            "commonHeaders": {"from": [mail.from], "to": [mail.to], "subject": mail.subject},
        },
        "receipt": {
            "timestamp": now,
            "processingTimeMillis": 321,
            "recipients": [mail.to],
            "spamVerdict": {"status": spam},
            "virusVerdict": {"status": virus},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "PASS"},
            "action": {"type": "SNS", "topicArn": "", "encoding": "BASE64"},
        },
        "content": base64::engine::general_purpose::STANDARD.encode(mail.mime()),
    })
    .to_string()
}

/// `message` as SNS posts it to the SES route.
pub fn sns_post(base_url: &str, message: &SnsMessage) -> MailPost {
    sns_post_to(url(base_url, "ses"), message)
}

/// `message` as SNS posts it to `url` (any SNS-subscribed route: `/email/ses`, `/sms/aws`).
pub fn sns_post_to(url: String, message: &SnsMessage) -> MailPost {
    let mut body = json!({
        "Type": message.kind,
        "MessageId": message.message_id,
        "TopicArn": message.topic_arn,
        "Message": message.message,
        "Timestamp": message.timestamp,
        "SignatureVersion": message.signature_version,
        "Signature": message.signature,
        "SigningCertURL": message.signing_cert_url,
    });
    for (key, value) in [
        ("Subject", &message.subject),
        ("SubscribeURL", &message.subscribe_url),
        ("Token", &message.token),
        ("UnsubscribeURL", &message.unsubscribe_url),
    ] {
        if let Some(value) = value {
            body[key] = json!(value);
        }
    }
    MailPost {
        url,
        content_type: "text/plain; charset=UTF-8".into(),
        body: body.to_string().into_bytes(),
        authorization: None,
    }
}

/// `mail` as SES delivers it through a signed SNS notification on `topic_arn`.
pub fn ses(
    base_url: &str,
    signer: &SnsSigner,
    topic_arn: &str,
    mail: &CustomerMail,
) -> DevResult<MailPost> {
    let mut message = sns_message(
        "Notification",
        topic_arn,
        Some("Amazon SES Email Receipt Notification"),
        ses_received(mail, "PASS", "PASS"),
    );
    signer.sign(&mut message)?;
    Ok(sns_post(base_url, &message))
}
