//! `intake simulate plivo`: a customer's SMS or MMS through Plivo, posted to the Message URL
//! and signed as Plivo signs it (`X-Plivo-Signature-V3` with a fresh nonce).

use clap::Args;
use intake_dev::DevResult;
use intake_dev::dotenv::var_or;
use intake_dev::simulate::{self, PlivoSms};
use std::io::Write;

/// An inbound Plivo message.
#[derive(Args)]
pub struct PlivoArgs {
    /// The customer's number, as Plivo writes it (digits, no `+`).
    #[arg(long, default_value = "6281234567890")]
    from: String,
    /// Our Plivo number the customer writes to.
    #[arg(long, default_value = "6221555000")]
    to: String,
    /// Message text.
    #[arg(long)]
    body: String,
    /// MessageUUID to use (repeat one to see deduplication); fresh by default.
    #[arg(long)]
    uuid: Option<String>,
    /// A media URL (makes it an MMS); repeatable.
    #[arg(long)]
    media: Vec<String>,
    /// Plivo's keyword flag `MessageIntent` (optout, optin, help).
    #[arg(long)]
    intent: Option<String>,
    /// Base URL of the stack (default PUBLIC_BASE_URL).
    #[arg(long)]
    url: Option<String>,
}

/// Sends the message and prints the webhook's answer.
pub async fn simulate(args: PlivoArgs) -> DevResult<()> {
    let base = args
        .url
        .unwrap_or_else(|| var_or("PUBLIC_BASE_URL", "http://127.0.0.1:3000"));
    let token = std::env::var("PLIVO_AUTH_TOKEN").map_err(|_| "PLIVO_AUTH_TOKEN is not set")?;
    let sms = PlivoSms {
        message_uuid: args.uuid,
        media: args.media,
        intent: args.intent,
        ..PlivoSms::new(&args.from, &args.to, &args.body)
    };
    let post = simulate::sign_plivo(&base, &token, &sms);
    let (status, body) = simulate::post_form(&reqwest::Client::new(), &post)
        .await
        .map_err(|e| intake_dev::reach::http("the webhook server", &base, e))?;
    out!("{status} {body}");
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}").into())
    }
}
