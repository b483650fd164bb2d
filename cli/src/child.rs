//! Emulators run as child processes: stopping one cleanly.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Child;

/// Closes the child's stdin (its wrapper then ends it), waits up to `grace` before killing
/// it, then waits until `port` is free again so a restart can bind it.
pub async fn stop(child: Option<Child>, port: u16, grace: Duration) {
    if let Some(mut child) = child {
        drop(child.stdin.take());
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A command that runs `program` (the caller adds its arguments) under a small shell that
/// kills it when our end of its stdin closes, which happens however this process ends (even
/// a test binary that never drops what started it). `name` is the shell's `$0`, shown by
/// `ps`. Stdin is piped for that reason, and the child is killed when dropped.
pub fn guarded(name: &str, program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        // (Background jobs read /dev/null in a non-interactive shell, hence fd 3.)
        .arg(r#"exec 3<&0; "$@" & pid=$!; (read _ignored <&3; kill $pid 2>/dev/null) & wait $pid"#)
        .arg(name)
        .arg(program)
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// How much of a child's stderr [`keep_stderr`] keeps for error messages.
const STDERR_KEEP: usize = 4096;

/// Reads the child's stderr in the background, keeping its last few KB for [`tail`].
pub fn keep_stderr(child: &mut Child) -> Arc<Mutex<Vec<u8>>> {
    let kept = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut stderr) = child.stderr.take() {
        let kept = kept.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut kept) = kept.lock() {
                    kept.extend_from_slice(&buf[..n]);
                    let excess = kept.len().saturating_sub(STDERR_KEEP);
                    kept.drain(..excess);
                }
            }
        });
    }
    kept
}

/// What [`keep_stderr`] kept, trimmed, or "(no output)".
pub fn tail(stderr: &Arc<Mutex<Vec<u8>>>) -> String {
    let text = stderr
        .lock()
        .map(|k| String::from_utf8_lossy(&k).trim().to_string())
        .unwrap_or_default();
    if text.is_empty() {
        "(no output)".into()
    } else {
        text
    }
}

/// Polls `url` every 100 ms until it answers 2xx, for up to `limit`. Fails when the child
/// exits first ("`what` exited at start (status; `exit_hint`)") or does not answer in time
/// (it is then killed), with the tail of its stderr.
pub async fn wait_until_answers(
    child: &mut Child,
    stderr: &Arc<Mutex<Vec<u8>>>,
    url: &str,
    limit: Duration,
    what: &str,
    exit_hint: &str,
) -> crate::DevResult<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait()? {
            // Let the reader take the last of the output.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(format!(
                "{what} exited at start ({status}; {exit_hint}): {}",
                tail(stderr)
            )
            .into());
        }
        let answered = client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if answered {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill().await;
    Err(format!(
        "{what} did not answer within {} s: {}",
        limit.as_secs(),
        tail(stderr)
    )
    .into())
}
