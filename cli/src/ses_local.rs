//! A local Amazon SES (v2 API) for the local stack and the tests: the emulator of the npm
//! package `aws-ses-v2-local` (installed by `make dev` / `make test` with `npm ci`), run
//! with the `node` on `PATH` (or `$NODE`).
//!
//! It serves the SES v2 JSON API (`POST /v2/email/outbound-emails` is `SendEmail`) for any
//! signed request (it checks only that an `Authorization: AWS…` header is present), keeps
//! what was sent in memory, shows it in a web inbox at `/`, and hands it out as JSON at
//! `GET /store` ([`sent_emails`]). It keeps `Content.Simple.Headers` (and
//! `Content.Template.Headers`); for `Content.Raw` it keeps only what it parses out of the
//! message (from, to, cc, reply-to, subject, text, html, attachments), not its other headers.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Child;

use crate::DevResult;

/// The npm package of the emulator.
pub const PACKAGE: &str = "aws-ses-v2-local";

/// A running SES emulator. Stopped when dropped, and when this process dies.
pub struct SesLocal {
    child: Option<Child>,
    port: u16,
}

impl SesLocal {
    /// Starts the emulator of `<project_root>/node_modules/aws-ses-v2-local` on
    /// `127.0.0.1:<port>` and waits until it answers its health check.
    ///
    /// Fails if the package is not installed, `node` cannot be run, the port is taken or the
    /// emulator does not answer within 15 s.
    pub async fn start(project_root: &Path, port: u16) -> DevResult<SesLocal> {
        let script = find_script(project_root)?;
        // A port that was free a moment ago can still be held briefly by an outgoing
        // connection when it lies in the kernel's ephemeral range (a configured port, or
        // `free_port`'s fallback); the emulator then exits with "Server does not have an
        // address". Try again.
        let mut attempt = 0;
        let child = loop {
            attempt += 1;
            match SesLocal::spawn(project_root, &script, port).await {
                Err(e) if attempt < 5 && e.to_string().contains("does not have an address") => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                other => break other?,
            }
        };
        Ok(SesLocal {
            child: Some(child),
            port,
        })
    }

    /// Starts the emulator once and waits until it answers.
    async fn spawn(
        project_root: &Path,
        script: &Path,
        port: u16,
    ) -> DevResult<tokio::process::Child> {
        crate::ports::ensure_free(port, "the SES emulator").await?;
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        let mut cmd = crate::child::guarded("ses-local", &node);
        cmd.arg(script)
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(port.to_string())
            .current_dir(project_root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start the SES emulator ({node} {}): {e}",
                script.display()
            )
        })?;
        let stderr = crate::child::keep_stderr(&mut child);
        crate::child::wait_until_answers(
            &mut child,
            &stderr,
            &format!("http://127.0.0.1:{port}/health-check"),
            Duration::from_secs(60),
            "the SES emulator",
            &format!("is `{node}` Node.js 20+?"),
        )
        .await?;
        Ok(child)
    }

    /// `http://127.0.0.1:<port>`: the SES endpoint (`AWS_ENDPOINT_URL_SESV2`) and the base
    /// for [`sent_emails`] and [`clear`].
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The web inbox, where a person can read what was sent: `http://127.0.0.1:<port>/`.
    pub fn inbox_url(&self) -> String {
        format!("{}/", self.endpoint())
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the emulator (what it stored is lost) and waits until its port is free.
    pub async fn stop(&mut self) {
        crate::child::stop(self.child.take(), self.port, Duration::from_secs(5)).await;
    }
}

/// The emulator's start script: the `bin` of its `package.json` under
/// `<project_root>/node_modules`.
pub fn find_script(project_root: &Path) -> DevResult<PathBuf> {
    let package = project_root.join("node_modules").join(PACKAGE);
    let manifest = package.join("package.json");
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        format!(
            "the SES emulator is not installed ({}: {e}): run `npm ci` in the project root",
            manifest.display()
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not JSON: {e}", manifest.display()))?;
    let bin = match &json["bin"] {
        serde_json::Value::String(s) => Some(s.as_str()),
        serde_json::Value::Object(bins) => bins.get(PACKAGE).and_then(|b| b.as_str()),
        _ => None,
    }
    .ok_or_else(|| format!("{}: no `bin` for {PACKAGE}", manifest.display()))?;
    let script = package.join(bin);
    if !script.is_file() {
        return Err(format!("the SES emulator's script {} is missing", script.display()).into());
    }
    Ok(script)
}

/// One email the emulator accepted, as its store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    /// The `MessageId` SES answered with (`ses-<9 digits>`).
    pub message_id: String,
    /// `FromEmailAddress` (for Raw content, the parsed `From:` as written, with any name).
    pub from: String,
    /// `Destination.ToAddresses`.
    pub to: Vec<String>,
    /// `Destination.CcAddresses`.
    pub cc: Vec<String>,
    /// `Destination.BccAddresses`.
    pub bcc: Vec<String>,
    /// `ReplyToAddresses`.
    pub reply_to: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// `Content.Simple.Headers` / `Content.Template.Headers` as sent, in order. Always empty
    /// for Raw content: the emulator does not keep a raw message's headers.
    pub headers: Vec<(String, String)>,
    /// Attachments.
    pub attachments: Vec<SentAttachment>,
    /// When it was accepted, in seconds since the Unix epoch.
    pub at: i64,
}

impl SentEmail {
    /// The value of the first custom header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An attachment of a [`SentEmail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentAttachment {
    /// File name.
    pub filename: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// The content, base64.
    pub content_base64: Option<String>,
}

#[derive(Deserialize)]
struct WireStore {
    emails: Vec<WireEmail>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEmail {
    message_id: String,
    from: String,
    #[serde(default)]
    reply_to: Vec<String>,
    destination: WireDestination,
    subject: String,
    #[serde(default)]
    body: WireBody,
    #[serde(default)]
    attachments: Vec<WireAttachment>,
    #[serde(default)]
    headers: Vec<WireHeader>,
    at: i64,
}

#[derive(Deserialize, Default)]
struct WireDestination {
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    bcc: Vec<String>,
}

#[derive(Deserialize, Default)]
struct WireBody {
    text: Option<String>,
    html: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAttachment {
    filename: Option<String>,
    content_type: Option<String>,
    size: Option<u64>,
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireHeader {
    name: String,
    value: String,
}

impl From<WireEmail> for SentEmail {
    fn from(e: WireEmail) -> SentEmail {
        SentEmail {
            message_id: e.message_id,
            from: e.from,
            to: e.destination.to,
            cc: e.destination.cc,
            bcc: e.destination.bcc,
            reply_to: e.reply_to,
            subject: e.subject,
            text: e.body.text,
            html: e.body.html,
            headers: e.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            attachments: e
                .attachments
                .into_iter()
                .map(|a| SentAttachment {
                    filename: a.filename,
                    content_type: a.content_type,
                    size: a.size,
                    content_base64: a.content,
                })
                .collect(),
            at: e.at,
        }
    }
}

/// Every email the emulator at `endpoint` accepted since it started (or was [`clear`]ed),
/// oldest first.
pub async fn sent_emails(endpoint: &str) -> DevResult<Vec<SentEmail>> {
    read_store(&format!("{}/store", endpoint.trim_end_matches('/'))).await
}

/// The emails accepted at or after `since` (seconds since the Unix epoch; the store keeps
/// whole seconds), oldest first.
pub async fn sent_emails_since(endpoint: &str, since: i64) -> DevResult<Vec<SentEmail>> {
    read_store(&format!(
        "{}/store?since={since}",
        endpoint.trim_end_matches('/')
    ))
    .await
}

async fn read_store(url: &str) -> DevResult<Vec<SentEmail>> {
    let response = reqwest::get(url).await?;
    if !response.status().is_success() {
        return Err(format!("{url}: the SES emulator answered {}", response.status()).into());
    }
    let store: WireStore = response
        .json()
        .await
        .map_err(|e| format!("{url}: not the SES emulator's store: {e}"))?;
    Ok(store.emails.into_iter().map(SentEmail::from).collect())
}

/// Forgets every email (and email template) the emulator at `endpoint` holds.
pub async fn clear(endpoint: &str) -> DevResult<()> {
    let url = format!("{}/clear-store", endpoint.trim_end_matches('/'));
    let response = reqwest::Client::new().post(&url).send().await?;
    if !response.status().is_success() {
        return Err(format!("{url}: the SES emulator answered {}", response.status()).into());
    }
    Ok(())
}

/// The email `message_id` as a MIME message (what the inbox's download gives), which the
/// emulator renders from what it stored: custom headers of Simple content are in it, a raw
/// message's own headers are not.
pub async fn eml(endpoint: &str, message_id: &str) -> DevResult<Vec<u8>> {
    #[derive(Deserialize)]
    struct Eml {
        body: Buffer,
    }
    #[derive(Deserialize)]
    struct Buffer {
        data: Vec<u8>,
    }
    // The emulator crashes on an unknown id (it answers, then fails to answer again).
    if !sent_emails(endpoint)
        .await?
        .iter()
        .any(|e| e.message_id == message_id)
    {
        return Err(format!("the SES emulator holds no email {message_id}").into());
    }
    let url = url::Url::parse_with_params(
        &format!("{}/get-emlContent", endpoint.trim_end_matches('/')),
        [("messageId", message_id)],
    )?;
    let response = reqwest::get(url.clone()).await?;
    if !response.status().is_success() {
        return Err(format!(
            "{url}: the SES emulator answered {} for {message_id}",
            response.status()
        )
        .into());
    }
    let eml: Eml = response
        .json()
        .await
        .map_err(|e| format!("{url}: unexpected answer for {message_id}: {e}"))?;
    Ok(eml.body.data)
}
