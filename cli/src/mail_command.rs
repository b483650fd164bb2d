//! `intake simulate ses|mailgun|sendgrid|postmark`: a customer's mail through each email
//! provider, signed or authenticated as that provider does it.

use clap::Args;
use intake_dev::DevResult;
use intake_dev::dotenv::var_or;
use intake_dev::simulate_email::{self, CustomerMail, SnsSigner};
use std::io::Write;

/// Which email provider delivers the mail.
#[derive(Clone, Copy)]
pub enum MailProvider {
    /// Amazon SES through a signed SNS notification.
    Ses,
    /// A Mailgun route forward (`body-mime`).
    Mailgun,
    /// SendGrid Inbound Parse (raw MIME).
    Sendgrid,
    /// Postmark inbound JSON.
    Postmark,
}

/// A customer's mail.
#[derive(Args)]
pub struct MailArgs {
    /// The customer's address.
    #[arg(long, default_value = "budi@example.co.id")]
    from: String,
    /// The customer's display name.
    #[arg(long)]
    name: Option<String>,
    /// Our inbox.
    #[arg(long, default_value = "halo@tokoku.id")]
    to: String,
    /// Subject.
    #[arg(long, default_value = "Pesanan belum sampai")]
    subject: String,
    /// Text.
    #[arg(long)]
    body: String,
    /// Message-ID (repeat one to see deduplication); fresh by default.
    #[arg(long)]
    message_id: Option<String>,
    /// The Message-ID this mail answers (threading).
    #[arg(long)]
    in_reply_to: Option<String>,
    /// An extra header, `Name: value` (e.g. `Auto-Submitted: auto-replied`); repeatable.
    #[arg(long)]
    header: Vec<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

fn secret(name: &str) -> DevResult<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

/// Sends the mail and prints the webhook's answer.
pub async fn simulate(provider: MailProvider, args: MailArgs) -> DevResult<()> {
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"));
    let mail = CustomerMail {
        from_name: args.name,
        message_id: args.message_id,
        in_reply_to: args.in_reply_to,
        headers: args
            .header
            .iter()
            .filter_map(|h| {
                let (name, value) = h.split_once(':')?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect(),
        ..CustomerMail::new(&args.from, &args.to, &args.subject, &args.body)
    }
    .with_fixed_id();
    let post = match provider {
        MailProvider::Ses => {
            let topic = secret("SES_TOPIC_ARNS")?
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            simulate_email::ses(&base, &SnsSigner::local()?, &topic, &mail)?
        }
        MailProvider::Mailgun => {
            simulate_email::mailgun(&base, &secret("MAILGUN_SIGNING_KEY")?, &mail)
        }
        MailProvider::Sendgrid => {
            simulate_email::sendgrid(&base, &secret("SENDGRID_BASIC_AUTH")?, &mail)
        }
        MailProvider::Postmark => {
            simulate_email::postmark(&base, &secret("POSTMARK_BASIC_AUTH")?, &mail)
        }
    };
    let (status, body) = simulate_email::post(&reqwest::Client::new(), &post)
        .await
        .map_err(|e| intake_dev::reach::http("the webhook server", &base, e))?;
    out!("{status} {body}");
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}").into())
    }
}
