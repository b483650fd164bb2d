//! Everything the local stack sent, in one list (`intake outbox list`): the provider API
//! requests the recorder received (SMS, social, SNS) and the email acks the SES emulator
//! accepted, oldest first.
//!
//! Both keep what they hold in memory, so the outbox of `intake dev` is empty after a restart
//! while the tickets, in DynamoDB Local's data directory, persist ([`EMPTY_NOTE`]).

use crate::recorder::{self, Recorded};
use crate::ses_local::{self, SentEmail};
use crate::{DevResult, reach};

/// What `intake outbox list` says under an empty table.
pub const EMPTY_NOTE: &str = "(nothing sent since `intake dev` started: the outbox is kept in \
                              memory, so it is empty after a restart while tickets persist)";

/// The recorder's requests and the SES emulator's emails, oldest first (to the second). A
/// part that does not answer is named ([`reach::NotAnswering`]).
pub async fn read(recorder_url: &str, ses_endpoint: &str) -> DevResult<Vec<Recorded>> {
    let requests = recorder::fetch(recorder_url)
        .await
        .map_err(|e| reach::http("the recorder", recorder_url, e))?;
    let emails = ses_local::sent_emails(ses_endpoint)
        .await
        .map_err(|e| reach::http("the SES emulator", ses_endpoint, e))?;
    let mut all: Vec<(jiff::Timestamp, Recorded)> = requests
        .into_iter()
        .map(|r| (r.time.parse().unwrap_or_default(), r))
        .chain(emails.iter().map(|e| {
            let time = jiff::Timestamp::from_second(e.at).unwrap_or_default();
            (time, from_email(e, time))
        }))
        .collect();
    // The emulator keeps whole seconds, so the order is by the second; within one, the
    // recorder's requests come first (the sort is stable, and each source is in order).
    all.sort_by_key(|(time, _)| time.as_second());
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// An email ack in the recorder's shape: `SendEmail` to the SES v2 API.
pub fn from_email(email: &SentEmail, time: jiff::Timestamp) -> Recorded {
    Recorded {
        time: time.to_string(),
        provider: "ses".into(),
        channel: "email".into(),
        method: "POST".into(),
        path: "/v2/email/outbound-emails".into(),
        to: Some(email.to.join(", ")).filter(|to| !to.is_empty()),
        from: Some(email.from.clone()),
        body: email.text.clone().or_else(|| email.html.clone()),
        subject: Some(email.subject.clone()),
        reply_to: email.header("In-Reply-To").map(str::to_owned),
        kind: Some("email".into()),
        retry_key: None,
        // The emulator accepts only signed requests.
        authenticated: true,
        status: 200,
    }
}
