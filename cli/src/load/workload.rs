//! What the load harness sends: one distinct customer per webhook (so every webhook opens a
//! new ticket), on every channel asked for, each request realistic and signed by the same code
//! as `intake simulate`; and which deliveries repeat an earlier one (a provider's retry of
//! something already stored), to check deduplication under load.

use bytes::Bytes;

use crate::DevResult;
use crate::simulate::{self, MetaApp, SocialMessage, TwilioSms};
use crate::simulate_email::{self, CustomerMail, SnsSigner};
use crate::stack;

/// Our number, page, WhatsApp phone number id, LINE bot and inbox in generated webhooks.
const OUR_NUMBER: &str = "+6221555000";
const PAGE: &str = "100000000000001";
const INSTAGRAM_ACCOUNT: &str = "17841400000000001";
const PHONE_NUMBER_ID: &str = "200000000000002";
const LINE_BOT: &str = "Ubot0000000000000000000000000001";
const INBOX: &str = "halo@tokoku.id";

/// The channels `--channels` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadChannel {
    /// Twilio SMS.
    Sms,
    /// WhatsApp through Meta's Cloud API.
    Whatsapp,
    /// Messenger and Instagram through Meta, and LINE.
    Social,
    /// Email through SES (signed SNS), Mailgun, SendGrid and Postmark.
    Email,
}

impl LoadChannel {
    /// Every channel, the default.
    pub const ALL: [LoadChannel; 4] = [
        LoadChannel::Sms,
        LoadChannel::Whatsapp,
        LoadChannel::Social,
        LoadChannel::Email,
    ];

    /// The providers (and apps) whose webhooks this channel's traffic takes turns through.
    fn kinds(self) -> &'static [Kind] {
        match self {
            LoadChannel::Sms => &[Kind::Twilio],
            LoadChannel::Whatsapp => &[Kind::Whatsapp],
            LoadChannel::Social => &[Kind::Messenger, Kind::Instagram, Kind::Line],
            LoadChannel::Email => &[Kind::Ses, Kind::Mailgun, Kind::Sendgrid, Kind::Postmark],
        }
    }
}

/// One provider's webhook (or one Meta app's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Twilio Messaging, form post.
    Twilio,
    /// Meta, `whatsapp_business_account`.
    Whatsapp,
    /// Meta, `page`.
    Messenger,
    /// Meta, `instagram`.
    Instagram,
    /// LINE Messaging API.
    Line,
    /// SES receipt through a signed SNS notification.
    Ses,
    /// Mailgun route with `body-mime`.
    Mailgun,
    /// SendGrid Inbound Parse, raw MIME.
    Sendgrid,
    /// Postmark inbound JSON.
    Postmark,
}

impl Kind {
    /// The provider's route segment, as `intake::providers` names it.
    pub fn provider(self) -> &'static str {
        match self {
            Kind::Twilio => "twilio",
            Kind::Whatsapp | Kind::Messenger | Kind::Instagram => "meta",
            Kind::Line => "line",
            Kind::Ses => "ses",
            Kind::Mailgun => "mailgun",
            Kind::Sendgrid => "sendgrid",
            Kind::Postmark => "postmark",
        }
    }

    /// The function's channel.
    pub fn channel(self) -> intake::Channel {
        match self {
            Kind::Twilio => intake::Channel::Sms,
            Kind::Whatsapp | Kind::Messenger | Kind::Instagram | Kind::Line => {
                intake::Channel::Social
            }
            Kind::Ses | Kind::Mailgun | Kind::Sendgrid | Kind::Postmark => intake::Channel::Email,
        }
    }
}

/// The signing secrets of the stack under load (the test stack's, or `.env`'s for a running
/// `intake dev`).
pub struct Secrets {
    twilio_token: String,
    twilio_account: String,
    meta_app_secret: String,
    line_channel_secret: String,
    mailgun_signing_key: String,
    sendgrid_basic: String,
    postmark_basic: String,
    ses_topic: String,
    sns: SnsSigner,
}

impl Secrets {
    /// The secrets of a stack started with [`stack::StackOptions::ephemeral`].
    pub fn of_test_stack() -> DevResult<Secrets> {
        Secrets::from_lookup(|name| {
            Some(
                match name {
                    "TWILIO_AUTH_TOKEN" => stack::TEST_AUTH_TOKEN,
                    "TWILIO_ACCOUNT_SID" => stack::TEST_ACCOUNT_SID,
                    "META_APP_SECRET" => stack::TEST_META_APP_SECRET,
                    "LINE_CHANNEL_SECRET" => stack::TEST_LINE_CHANNEL_SECRET,
                    "MAILGUN_SIGNING_KEY" => stack::TEST_MAILGUN_SIGNING_KEY,
                    "SENDGRID_BASIC_AUTH" | "POSTMARK_BASIC_AUTH" => stack::TEST_BASIC_AUTH,
                    "SES_TOPIC_ARNS" => stack::TEST_SES_TOPIC_ARN,
                    _ => return None,
                }
                .to_owned(),
            )
        })
    }

    /// The secrets a running `intake dev` reads: the environment, after `.env` and
    /// `.env.example` were loaded.
    pub fn from_env() -> DevResult<Secrets> {
        Secrets::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> DevResult<Secrets> {
        let need = |name: &str| lookup(name).ok_or_else(|| format!("{name} is not set"));
        Ok(Secrets {
            twilio_token: need("TWILIO_AUTH_TOKEN")?,
            twilio_account: need("TWILIO_ACCOUNT_SID")?,
            meta_app_secret: need("META_APP_SECRET")?,
            line_channel_secret: need("LINE_CHANNEL_SECRET")?,
            mailgun_signing_key: need("MAILGUN_SIGNING_KEY")?,
            sendgrid_basic: need("SENDGRID_BASIC_AUTH")?,
            postmark_basic: need("POSTMARK_BASIC_AUTH")?,
            ses_topic: need("SES_TOPIC_ARNS")?
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            sns: SnsSigner::local()?,
        })
    }
}

/// A request ready to post, whatever the provider: sent again unchanged on a retry.
#[derive(Debug)]
pub struct Request {
    /// Where (always the stack on 127.0.0.1).
    pub url: String,
    /// The URL the provider signed: the stack's `PUBLIC_BASE_URL` and the route (the same as
    /// `url` unless `--url` names the stack differently, e.g. `localhost`).
    pub public_url: String,
    /// Every header, `content-type` included.
    pub headers: Vec<(String, String)>,
    /// The body, exactly as signed.
    pub body: Bytes,
}

/// How the ack of a customer's ticket shows at the provider's API (the recorder) or at the
/// SES emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckAddress {
    /// The recorder's `to` (Twilio, Meta, a LINE push).
    To(String),
    /// A LINE reply with this token, or a push `to` this user.
    Line {
        /// The user id.
        user: String,
        /// The webhook's reply token.
        reply_token: String,
    },
    /// An email ack to this address, in the SES emulator.
    Email(String),
}

/// One distinct webhook: a new customer's first message.
#[derive(Debug)]
pub struct Webhook {
    /// Its number in the run.
    pub index: usize,
    /// Provider (and app).
    pub kind: Kind,
    /// The channel asked for in `--channels`.
    pub channel: LoadChannel,
    /// The customer as the ticket and its message store them (`+62812…`,
    /// `whatsapp:62812…`, `messenger:…`, `line:U…`, `load…@example.co.id`).
    pub contact: String,
    /// Where its ack shows.
    pub ack: AckAddress,
    /// The signed request.
    pub request: Request,
}

/// Builds webhooks: the `index`th of a run goes to the channels in turn, and within a
/// channel to its providers in turn.
pub struct Workload {
    /// The stack's `PUBLIC_BASE_URL`, which signatures cover.
    base_url: String,
    /// Where requests go, when not there.
    post_to: Option<String>,
    secrets: Secrets,
    channels: Vec<LoadChannel>,
    /// Keeps customers of different runs apart (a reused customer would meet the quiet
    /// period and get no ack).
    run: u64,
}

impl Workload {
    /// Webhooks for the stack whose `PUBLIC_BASE_URL` is `base_url`, posted to `post_to`
    /// (another name of the same stack) when given.
    pub fn new(
        base_url: &str,
        post_to: Option<&str>,
        secrets: Secrets,
        channels: &[LoadChannel],
        run: u64,
    ) -> DevResult<Workload> {
        if channels.is_empty() {
            return Err("--channels names no channel".into());
        }
        let base_url = base_url.trim_end_matches('/').to_owned();
        Ok(Workload {
            post_to: post_to
                .map(|p| p.trim_end_matches('/').to_owned())
                .filter(|p| *p != base_url),
            base_url,
            secrets,
            channels: channels.to_vec(),
            run,
        })
    }

    /// The `index`th distinct webhook of the run.
    pub fn webhook(&self, index: usize) -> DevResult<Webhook> {
        let channel = self.channels[index % self.channels.len()];
        let kinds = channel.kinds();
        let kind = kinds[(index / self.channels.len()) % kinds.len()];
        // 12 decimal digits of customer: the run's high digits, the index's low ones.
        let serial = (self.run % 10_000) * 100_000_000 + index as u64 % 100_000_000;
        let body = "Halo, pesanan saya belum sampai. Mohon dibantu dicek ya, terima kasih.";
        let base = &self.base_url;
        let s = &self.secrets;
        let (contact, ack, request) = match kind {
            Kind::Twilio => {
                let number = format!("+62{serial:012}");
                let mut sms = TwilioSms::new(&number, OUR_NUMBER, body);
                sms.message_sid = Some(simulate::new_message_sid());
                let post = simulate::sign_twilio(base, &s.twilio_token, &s.twilio_account, &sms);
                let request = Request {
                    public_url: post.url.clone(),
                    url: post.url,
                    headers: vec![
                        (
                            "content-type".into(),
                            "application/x-www-form-urlencoded".into(),
                        ),
                        ("x-twilio-signature".into(), post.signature),
                        // Twilio sends its retries with the same idempotency token.
                        (
                            "i-twilio-idempotency-token".into(),
                            ulid::Ulid::new().to_string(),
                        ),
                    ],
                    body: Bytes::from(post.body),
                };
                (number.clone(), AckAddress::To(number), request)
            }
            Kind::Whatsapp | Kind::Messenger | Kind::Instagram => {
                let (app, from, to, prefix) = match kind {
                    Kind::Whatsapp => (
                        MetaApp::Whatsapp,
                        format!("62{serial:012}"),
                        PHONE_NUMBER_ID,
                        "whatsapp",
                    ),
                    Kind::Messenger => (
                        MetaApp::Messenger,
                        format!("7{serial:015}"),
                        PAGE,
                        "messenger",
                    ),
                    _ => (
                        MetaApp::Instagram,
                        format!("8{serial:015}"),
                        INSTAGRAM_ACCOUNT,
                        "instagram",
                    ),
                };
                let payload = simulate::meta_payload(app, &[SocialMessage::new(&from, to, body)]);
                let post = simulate::sign_meta(base, &s.meta_app_secret, payload);
                (
                    format!("{prefix}:{from}"),
                    AckAddress::To(from),
                    json_request(post),
                )
            }
            Kind::Line => {
                let user = format!("U{:032x}", (u128::from(self.run) << 64) | index as u128);
                let payload =
                    simulate::line_payload(LINE_BOT, &[SocialMessage::new(&user, LINE_BOT, body)]);
                let reply_token = serde_json::from_str::<serde_json::Value>(&payload)?["events"][0]
                    ["replyToken"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let post = simulate::sign_line(base, &s.line_channel_secret, payload);
                (
                    format!("line:{user}"),
                    AckAddress::Line {
                        user: user.clone(),
                        reply_token,
                    },
                    json_request(post),
                )
            }
            Kind::Ses | Kind::Mailgun | Kind::Sendgrid | Kind::Postmark => {
                let address = format!("load{serial:012}@example.co.id");
                let mail = CustomerMail::new(&address, INBOX, "Pesanan belum sampai", body)
                    .with_fixed_id();
                let post = match kind {
                    Kind::Ses => simulate_email::ses(base, &s.sns, &s.ses_topic, &mail)?,
                    Kind::Mailgun => simulate_email::mailgun(base, &s.mailgun_signing_key, &mail),
                    Kind::Sendgrid => simulate_email::sendgrid(base, &s.sendgrid_basic, &mail),
                    _ => simulate_email::postmark(base, &s.postmark_basic, &mail),
                };
                let mut headers = vec![("content-type".to_owned(), post.content_type)];
                if let Some(auth) = post.authorization {
                    headers.push(("authorization".into(), auth));
                }
                let request = Request {
                    public_url: post.url.clone(),
                    url: post.url,
                    headers,
                    body: Bytes::from(post.body),
                };
                (address.clone(), AckAddress::Email(address), request)
            }
        };
        let mut request = request;
        if let Some(post_to) = &self.post_to
            && let Some(route) = request.url.strip_prefix(&self.base_url)
        {
            request.url = format!("{post_to}{route}");
        }
        Ok(Webhook {
            index,
            kind,
            channel,
            contact,
            ack,
            request,
        })
    }
}

fn json_request(post: simulate::JsonPost) -> Request {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend(post.headers);
    Request {
        public_url: post.url.clone(),
        url: post.url,
        headers,
        body: Bytes::from(post.body),
    }
}

/// What the run sends in each slot of its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The `n`th distinct webhook.
    New(usize),
    /// The `n`th distinct webhook again (a provider delivering it twice).
    Repeat(usize),
}

/// The schedule of `total` deliveries: about `duplicates` of them (0..1) repeat a webhook
/// sent within the last `window` slots (so some repeats race the first delivery, others
/// come after it was stored). Deterministic for a `seed`.
pub fn schedule(total: usize, duplicates: f64, window: usize, seed: u64) -> Vec<Slot> {
    let mut rng = SplitMix(seed);
    let mut slots = Vec::with_capacity(total);
    let mut distinct = 0usize;
    for _ in 0..total {
        if distinct > 0 && rng.unit() < duplicates {
            let back = (rng.next() as usize % window.max(1)).min(distinct - 1);
            slots.push(Slot::Repeat(distinct - 1 - back));
        } else {
            slots.push(Slot::New(distinct));
            distinct += 1;
        }
    }
    slots
}

/// SplitMix64: a small, seedable generator (the schedule need not be unpredictable, only
/// repeatable).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_repeats_about_the_share_asked_and_only_webhooks_already_sent() {
        let slots = schedule(10_000, 0.05, 50, 7);
        let repeats = slots
            .iter()
            .filter(|s| matches!(s, Slot::Repeat(_)))
            .count();
        assert!((400..600).contains(&repeats), "{repeats}");
        let mut sent = 0;
        for slot in &slots {
            match *slot {
                Slot::New(n) => {
                    assert_eq!(n, sent);
                    sent += 1;
                }
                Slot::Repeat(n) => assert!(n < sent && sent - n <= 50, "{n} of {sent}"),
            }
        }
        assert_eq!(
            schedule(100, 0.0, 50, 1),
            (0..100).map(Slot::New).collect::<Vec<_>>()
        );
    }
}
