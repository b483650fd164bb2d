//! Emulators run as child processes: stopping one cleanly.

use std::time::Duration;
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
