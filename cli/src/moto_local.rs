//! moto in server mode: an emulator of the AWS APIs that no other local emulator here covers
//! (CloudFormation, SNS, SSM, SES receipt rules, ...), for tests that must talk to them
//! through the real SDK clients.
//!
//! moto is the PyPI package `moto[server]`, pinned in `infra/requirements.txt` and installed
//! into the project's `.venv` by `make infra-deps` (which `make test` runs). [`MotoLocal`]
//! runs its `moto_server` as a child process on 127.0.0.1; point an SDK at
//! [`MotoLocal::endpoint`] (`AWS_ENDPOINT_URL`, any region, any credentials: moto checks no
//! signature). One server emulates every service, one account (`123456789012`) and every
//! region, in memory; each server starts empty.
//!
//! What moto does not do like AWS, found by trying it (moto 5.2):
//! - every SNS subscription is confirmed at once, whatever its protocol; none is ever
//!   `PendingConfirmation`, and no API makes one so;
//! - CloudFormation creates the resource types moto models (`AWS::SNS::Topic`,
//!   `AWS::SSM::Parameter`, ...) and silently skips the others (`AWS::SNS::Subscription`,
//!   `AWS::SES::ReceiptRuleSet`): they are listed with an empty type and id;
//! - SES v2 `GetEmailIdentity` answers `VerifiedForSendingStatus: false` for every identity
//!   (its `VerificationStatus` is `SUCCESS`), and `GetAccount` is not implemented (404).

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Child;

use crate::DevResult;

/// The server script, relative to the project root.
pub const SERVER: &str = ".venv/bin/moto_server";

/// A running moto server. Stopped when dropped, and when this process dies.
pub struct MotoLocal {
    child: Option<Child>,
    port: u16,
}

impl MotoLocal {
    /// Starts moto on a free port of 127.0.0.1 and waits until it answers.
    ///
    /// Fails with "run `make infra-deps`" when `.venv/bin/moto_server` is not installed.
    pub async fn start() -> DevResult<MotoLocal> {
        MotoLocal::start_on(crate::free_port()?).await
    }

    /// Starts moto (`$MOTO_SERVER`, else [`find_server`]) on `127.0.0.1:<port>` and waits up
    /// to 30 s until it answers.
    pub async fn start_on(port: u16) -> DevResult<MotoLocal> {
        crate::ports::ensure_free(port, "moto").await?;
        let server = match std::env::var_os("MOTO_SERVER") {
            Some(path) => PathBuf::from(path),
            None => find_server()?,
        };
        let mut cmd = crate::child::guarded("moto-server", &server);
        cmd.arg("-H")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start moto ({}): {e}", server.display()))?;
        let stderr = crate::child::keep_stderr(&mut child);

        let local = MotoLocal { child: None, port };
        // moto's own API: answers once the server is up, whatever services are used.
        crate::child::wait_until_answers(
            &mut child,
            &stderr,
            &format!("{}/moto-api/data.json", local.endpoint()),
            Duration::from_secs(60),
            "moto",
            &format!("is port {port} free?"),
        )
        .await?;
        Ok(MotoLocal {
            child: Some(child),
            ..local
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint of every service (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forgets everything every service holds (moto's `/moto-api/reset`).
    pub async fn reset(&self) -> DevResult<()> {
        let url = format!("{}/moto-api/reset", self.endpoint());
        let response = reqwest::Client::new().post(&url).send().await?;
        if !response.status().is_success() {
            return Err(format!("{url}: moto answered {}", response.status()).into());
        }
        Ok(())
    }

    /// Stops the server (what it held is lost) and waits until its port is free.
    pub async fn stop(&mut self) {
        crate::child::stop(self.child.take(), self.port, Duration::from_secs(5)).await;
    }
}

/// `.venv/bin/moto_server` of the project: in the working directory or one of its parents,
/// else beside this crate's workspace.
pub fn find_server() -> DevResult<PathBuf> {
    find_venv_tool(SERVER, "moto", "MOTO_SERVER")
}

/// A tool the project installs into its `.venv` (`relative` to the project root): in the
/// working directory or one of its parents, else beside this crate's workspace. `what` and
/// `variable` (which overrides the path) name it in the error.
pub fn find_venv_tool(relative: &str, what: &str, variable: &str) -> DevResult<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    let cwd = std::env::current_dir().ok();
    cwd.iter()
        .flat_map(|c| c.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
        .chain(workspace)
        .map(|root| root.join(relative))
        .find(|tool| tool.is_file())
        .ok_or_else(|| {
            format!(
                "{what} is not installed ({relative} not found): run `make infra-deps` in the \
                 project root (or set {variable})"
            )
            .into()
        })
}
