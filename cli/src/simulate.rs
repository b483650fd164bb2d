//! Realistic, correctly signed provider webhooks, for `intake simulate` and the tests.

use intake::providers::twilio;

use crate::DevResult;

/// An inbound SMS as Twilio would post it.
#[derive(Debug, Clone)]
pub struct TwilioSms {
    /// The customer's number.
    pub from: String,
    /// Our number.
    pub to: String,
    /// Text.
    pub body: String,
    /// `MessageSid`; a fresh one when `None`.
    pub message_sid: Option<String>,
    /// Media URLs and content types (MMS).
    pub media: Vec<(String, String)>,
}

impl TwilioSms {
    /// A text message with a fresh SID.
    pub fn new(from: &str, to: &str, body: &str) -> TwilioSms {
        TwilioSms {
            from: from.into(),
            to: to.into(),
            body: body.into(),
            message_sid: None,
            media: Vec::new(),
        }
    }

    /// The form fields, as Twilio sends them for an inbound message.
    pub fn form(&self, account_sid: &str) -> Vec<(String, String)> {
        let sid = self.message_sid.clone().unwrap_or_else(new_message_sid);
        let segments = intake::sms::measure(&self.body).segments.max(1);
        let mut form = vec![
            ("ToCountry", country(&self.to)),
            ("ToState", String::new()),
            ("SmsMessageSid", sid.clone()),
            ("NumMedia", self.media.len().to_string()),
            ("ToCity", String::new()),
            ("FromZip", String::new()),
            ("SmsSid", sid.clone()),
            ("FromState", String::new()),
            ("SmsStatus", "received".into()),
            ("FromCity", String::new()),
            ("Body", self.body.clone()),
            ("FromCountry", country(&self.from)),
            ("To", self.to.clone()),
            ("ToZip", String::new()),
            ("NumSegments", segments.to_string()),
            ("MessageSid", sid),
            ("AccountSid", account_sid.to_owned()),
            ("From", self.from.clone()),
            ("ApiVersion", "2010-04-01".into()),
        ];
        let mut media = Vec::new();
        for (i, (url, content_type)) in self.media.iter().enumerate() {
            media.push((format!("MediaUrl{i}"), url.clone()));
            media.push((format!("MediaContentType{i}"), content_type.clone()));
        }
        let mut out: Vec<(String, String)> =
            form.drain(..).map(|(k, v)| (k.to_owned(), v)).collect();
        out.extend(media);
        out
    }
}

fn country(number: &str) -> String {
    if number.starts_with("+62") {
        "ID"
    } else if number.starts_with("+1") {
        "US"
    } else {
        ""
    }
    .into()
}

/// A fresh Twilio-shaped message SID (`SM` + 32 hex digits).
pub fn new_message_sid() -> String {
    let id = ulid::Ulid::new().0;
    format!("SM{id:032x}")
}

/// The url-encoded body of `form`.
pub fn encode(form: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish()
}

/// A request ready to post: where, what, and its `X-Twilio-Signature`.
#[derive(Debug, Clone)]
pub struct SignedPost {
    /// Target URL.
    pub url: String,
    /// Url-encoded body.
    pub body: String,
    /// Signature header value.
    pub signature: String,
}

/// Signs `sms` for the stack at `base_url` as Twilio would with `auth_token`.
pub fn sign_twilio(
    base_url: &str,
    auth_token: &str,
    account_sid: &str,
    sms: &TwilioSms,
) -> SignedPost {
    let url = format!("{}/sms/twilio", base_url.trim_end_matches('/'));
    let form = sms.form(account_sid);
    SignedPost {
        signature: twilio::signature(auth_token, &url, &form),
        body: encode(&form),
        url,
    }
}

/// Posts a signed request; returns the status and body text.
pub async fn post(client: &reqwest::Client, post: &SignedPost) -> DevResult<(u16, String)> {
    let response = client
        .post(&post.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", &post.signature)
        .header("i-twilio-idempotency-token", ulid::Ulid::new().to_string())
        .body(post.body.clone())
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}
