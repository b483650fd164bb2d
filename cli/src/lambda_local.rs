//! The Lambda service on this machine, for tests that must invoke a deployed function the way
//! AWS does: cargo-lambda's emulation of the Lambda Invoke API and of the Runtime API the
//! function polls (`cargo lambda watch --only-lambda-apis`, PyPI `cargo-lambda`, pinned in
//! `infra/requirements.txt`), with one of the workspace's function binaries run against it.
//!
//! So a caller's `lambda:Invoke` (the real `aws-sdk-lambda`, pointed here with
//! `AWS_ENDPOINT_URL_LAMBDA`) reaches the function's own `main`: `lambda_runtime`'s loop, the
//! event as the runtime delivers it, the answer as the caller reads it.
//!
//! What it does not do like AWS, found by trying it (cargo-lambda 1.9): with
//! `--only-lambda-apis` every function process it serves is known as `_`
//! ([`FUNCTION_NAME`]); an invocation of any other name waits for a function that never
//! comes.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Child;

use crate::DevResult;

/// The cargo-lambda binary, relative to the project root.
pub const TOOL: &str = ".venv/bin/cargo-lambda";

/// The name the emulator gives the function it serves.
pub const FUNCTION_NAME: &str = "_";

/// A running emulator, stopped when dropped (its function with it).
pub struct LambdaLocal {
    _emulator: Child,
    function: Option<Child>,
    port: u16,
}

impl LambdaLocal {
    /// Starts the emulator (`$CARGO_LAMBDA`, else `.venv/bin/cargo-lambda`) on a free port of
    /// 127.0.0.1 and waits until it accepts connections.
    pub async fn start() -> DevResult<LambdaLocal> {
        let tool = match std::env::var_os("CARGO_LAMBDA") {
            Some(path) => PathBuf::from(path),
            None => crate::moto_local::find_venv_tool(TOOL, "cargo-lambda", "CARGO_LAMBDA")?,
        };
        let port = crate::free_port()?;
        crate::ports::ensure_free(port, "cargo-lambda").await?;
        let mut cmd = crate::child::guarded("cargo-lambda", &tool);
        cmd.args(["lambda", "watch", "--only-lambda-apis", "--quiet"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut emulator = cmd
            .spawn()
            .map_err(|e| format!("cannot start cargo-lambda ({}): {e}", tool.display()))?;
        let stderr = crate::child::keep_stderr(&mut emulator);
        let started = std::time::Instant::now();
        while !crate::reach::accepts(&format!("http://127.0.0.1:{port}")).await {
            if let Some(status) = emulator.try_wait()? {
                return Err(format!(
                    "cargo-lambda exited at start ({status}): {}",
                    crate::child::tail(&stderr)
                )
                .into());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err("cargo-lambda did not listen within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(LambdaLocal {
            _emulator: emulator,
            function: None,
            port,
        })
    }

    /// The Invoke API's endpoint (`AWS_ENDPOINT_URL_LAMBDA` of a caller).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `binary` as the function [`FUNCTION_NAME`], with the Lambda environment the
    /// emulator asks for, a local region and credentials (the emulators check none), and
    /// `env` (its configuration) on top of this process's.
    pub fn run(&mut self, binary: &Path, env: &[(&str, String)]) -> DevResult<()> {
        let mut cmd = crate::child::guarded("lambda-function", binary);
        cmd.env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{}/.rt", self.port),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        self.function = Some(
            cmd.spawn()
                .map_err(|e| format!("cannot run {}: {e}", binary.display()))?,
        );
        Ok(())
    }
}

/// The workspace's function binary `name` (`sms-webhook`), built first if it is missing or
/// stale (`cargo build -p <name>`: quick when `cargo test --workspace` built it already).
pub fn function_binary(name: &str) -> DevResult<PathBuf> {
    let root = crate::project_root()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", name, "--bin", name])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run cargo to build {name}: {e}"))?;
    if !built.success() {
        return Err(format!("cargo build -p {name} failed ({built})").into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug").join(name))
}
