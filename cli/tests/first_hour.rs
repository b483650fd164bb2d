//! A newcomer's first hour with `intake`, run as they run it (issue 13): `make dev` shows
//! its first build, the binary works from any directory, a closed pipe ends it quietly, and
//! a stack that is down or a port that is taken is named.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

use intake_dev::simulate;
use intake_dev::stack::{Stack, StackOptions, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN};

mod common;

/// The workspace root (where `make dev` runs).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
}

#[test]
fn make_dev_announces_the_first_build_and_shows_cargos_progress() {
    // What `make dev` would run, without running it.
    let out = std::process::Command::new("make")
        .args(["-n", "dev", "CARGO=cargo"])
        .current_dir(root())
        .output()
        .expect("make runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let run = lines
        .iter()
        .position(|l| l.starts_with("cargo run "))
        .unwrap_or_else(|| panic!("make dev runs cargo: {text}"));
    assert!(
        lines[..run]
            .iter()
            .any(|l| l.contains("building Intake (the first build takes a few minutes)")),
        "a line before the build says it may take minutes: {text}"
    );
    let words: Vec<&str> = lines[run].split_whitespace().collect();
    assert!(
        !words.contains(&"--quiet") && !words.contains(&"-q"),
        "cargo's progress is not hidden: {}",
        lines[run]
    );
}

/// A command as a user runs it in a fresh shell: only `PATH`, then `vars`, in `dir`.
fn intake(dir: &Path, args: &[&str], vars: &[(&str, String)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_intake"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs it to the end: success, stdout, stderr. (Spawned rather than `output()`, which
/// would replace the stdout it was given with a pipe of its own.)
async fn run(mut cmd: tokio::process::Command) -> (bool, String, String) {
    finish(cmd.spawn().expect("intake runs")).await
}

/// Waits (a minute at most) for a spawned `intake`: success, stdout (what is left of it),
/// stderr.
async fn finish(child: tokio::process::Child) -> (bool, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("intake finishes")
        .expect("intake runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A local stack on free ports, data in memory.
async fn a_stack() -> Stack {
    Stack::start(StackOptions::ephemeral(None).expect("ports"))
        .await
        .expect("the local stack starts (run `npm ci` first)")
}

/// A directory outside the project.
fn elsewhere() -> std::path::PathBuf {
    std::env::temp_dir()
}

/// A ticket on the stack, through its webhook as Twilio would send it; returns its reference.
async fn a_ticket(stack: &Stack, from: &str) -> String {
    let signed = simulate::sign_twilio(
        &stack.url(),
        TEST_AUTH_TOKEN,
        TEST_ACCOUNT_SID,
        &simulate::TwilioSms::new(from, "+6221555000", "Halo"),
    );
    let (status, body) = simulate::post(&reqwest::Client::new(), &signed)
        .await
        .expect("the webhook answers");
    assert_eq!(status, 200, "{body}");
    common::first_ticket(stack, from).await.reference
}

#[tokio::test]
async fn intake_finds_a_running_stack_from_any_directory() {
    let stack = a_stack().await;
    let reference = a_ticket(&stack, "+6281299990010").await;
    // Only what differs from the local defaults (region, credentials, ... are built in).
    let vars = [
        ("TABLE_NAME", stack.store.table().to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.endpoint()),
    ];
    for dir in [elsewhere(), root().join("cli")] {
        let (ok, out, err) = run(intake(&dir, &["tickets", "list"], &vars)).await;
        assert!(ok, "from {}: {err}", dir.display());
        assert!(
            out.starts_with("ID") && out.contains(&reference),
            "from {}: {out}",
            dir.display()
        );
    }

    // In cli/, the project's settings are read with their paths relative to the project's
    // root (INTAKE_CONFIG=intake.example.toml).
    let (ok, out, err) = run(intake(&root().join("cli"), &["config", "check"], &[])).await;
    assert!(ok, "{err}");
    let example = root().join("intake.example.toml");
    assert!(
        out.starts_with(&format!("{}: valid", example.display())),
        "{out}"
    );
}

#[tokio::test]
async fn intake_dev_outside_the_project_says_where_to_run_it() {
    // Free ports and no data on disk, should it start anyway.
    let ports = Ports::free();
    let (ok, out, err) = run(intake(&elsewhere(), &["dev"], &ports.vars())).await;
    assert!(!ok, "{out}");
    assert!(
        err.contains("`intake dev` runs in the Intake project")
            && err.contains(&format!("built from {}", root().display())),
        "{err}"
    );
}

/// The four ports of a stack that is not running.
struct Ports {
    web: u16,
    recorder: u16,
    dynamo: u16,
    ses: u16,
}

impl Ports {
    fn free() -> Ports {
        let free = || intake_dev::free_port().expect("a free port");
        Ports {
            web: free(),
            recorder: free(),
            dynamo: free(),
            ses: free(),
        }
    }

    /// The settings naming them, with DynamoDB Local's data in memory.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("INTAKE_PORT", self.web.to_string()),
            ("PUBLIC_BASE_URL", format!("http://127.0.0.1:{}", self.web)),
            ("INTAKE_RECORDER_PORT", self.recorder.to_string()),
            (
                "AWS_ENDPOINT_URL_DYNAMODB",
                format!("http://127.0.0.1:{}", self.dynamo),
            ),
            (
                "AWS_ENDPOINT_URL_SESV2",
                format!("http://127.0.0.1:{}", self.ses),
            ),
            ("INTAKE_DATA_DIR", ":memory:".to_owned()),
        ]
    }
}

#[tokio::test]
async fn with_the_stack_down_each_command_names_what_does_not_answer() {
    let ports = Ports::free();
    let vars = ports.vars();
    let dir = elsewhere();
    let expect = |args: &'static [&'static str], message: String| {
        let cmd = intake(&dir, args, &vars);
        async move {
            let (ok, out, err) = run(cmd).await;
            assert!(!ok, "{args:?}: {out}");
            assert_eq!(err.trim(), format!("intake: {message}"), "{args:?}");
        }
    };
    let web = format!("http://127.0.0.1:{}", ports.web);
    for args in [
        &["simulate", "twilio", "--body", "Halo"][..],
        &["simulate", "telegram", "--body", "Halo"],
        &["simulate", "mailgun", "--body", "Halo"],
    ] {
        expect(
            args,
            format!("nothing answers on {web} (the webhook server) — is `make dev` running?"),
        )
        .await;
    }
    expect(
        &["outbox", "list"],
        format!(
            "nothing answers on http://127.0.0.1:{} (the recorder) — is `make dev` running?",
            ports.recorder
        ),
    )
    .await;
    let dynamo = format!(
        "DynamoDB Local does not answer on http://127.0.0.1:{} — is `make dev` running?",
        ports.dynamo
    );
    expect(&["tickets", "list"], dynamo.clone()).await;
    expect(&["tickets", "show", "K7F3Q2"], dynamo).await;

    // The recorder up and the SES emulator down: the outbox names the emulator.
    let recorder = intake_dev::recorder::Recorder::start(ports.recorder)
        .await
        .expect("the recorder starts");
    expect(
        &["outbox", "list"],
        format!(
            "nothing answers on http://127.0.0.1:{} (the SES emulator) — is `make dev` running?",
            ports.ses
        ),
    )
    .await;
    drop(recorder);
}

#[tokio::test]
async fn intake_dev_names_a_port_that_is_taken_and_what_wanted_it() {
    let ports = Ports::free();
    for (port, what) in [
        (ports.web, "the webhook server, INTAKE_PORT"),
        (ports.recorder, "the recorder, INTAKE_RECORDER_PORT"),
        (ports.dynamo, "DynamoDB Local, AWS_ENDPOINT_URL_DYNAMODB"),
        (ports.ses, "the SES emulator, AWS_ENDPOINT_URL_SESV2"),
    ] {
        // Someone else listens there (on every interface, as DynamoDB Local would).
        let taken = std::net::TcpListener::bind(("0.0.0.0", port)).expect("bind");
        let (ok, out, err) = run(intake(root(), &["dev"], &ports.vars())).await;
        assert!(!ok, "{out}");
        assert!(
            err.starts_with(&format!("intake: port {port} ({what}) is in use")),
            "{err}"
        );
        drop(taken);
    }
}

/// Runs `args` with its stdout a pipe whose reading end is already closed, as after `| head
/// -0` (or `head -1` once it has its line): the first write fails with EPIPE.
async fn into_a_closed_pipe(args: &[&str], vars: &[(&str, String)]) -> (bool, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut cmd = intake(&elsewhere(), args, vars);
    cmd.stdout(Stdio::from(writer));
    let (ok, _, err) = run(cmd).await;
    (ok, err)
}

#[tokio::test]
async fn a_closed_pipe_ends_every_command_quietly() {
    let stack = a_stack().await;
    let reference = a_ticket(&stack, "+6281299990011").await;
    let vars = [
        ("TABLE_NAME", stack.store.table().to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.endpoint()),
        ("PUBLIC_BASE_URL", stack.url()),
        ("TWILIO_AUTH_TOKEN", TEST_AUTH_TOKEN.to_owned()),
        (
            "INTAKE_RECORDER_PORT",
            stack.options.recorder_port.to_string(),
        ),
        ("AWS_ENDPOINT_URL_SESV2", stack.ses.endpoint()),
    ];
    let example = root().join("intake.example.toml").display().to_string();
    for args in [
        &["tickets", "list"][..],
        &["tickets", "list", "--json"],
        &["tickets", "show", &reference],
        &["tickets", "show", &reference, "--json"],
        &["outbox", "list"],
        &["outbox", "list", "--json"],
        &["simulate", "twilio", "--body", "Halo"],
        &["config", "check", &example],
        &["manifest"],
        &["--help"],
    ] {
        let (ok, err) = into_a_closed_pipe(args, &vars).await;
        assert!(ok && err.is_empty(), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn head_1_reads_its_line_and_the_rest_ends_quietly() {
    // More than a pipe holds (64 KiB): the preview of 30 brands.
    let config = elsewhere().join(format!("intake-brands-{}.toml", std::process::id()));
    let brands: String = (0..30)
        .map(|i| {
            format!(
                "[[brand]]\nid = \"b{i}\"\nname = \"Brand {i}\"\ntime_zone = \"Asia/Jakarta\"\n\n"
            )
        })
        .collect();
    std::fs::write(&config, brands).expect("write");
    let path = config.display().to_string();
    let mut child = intake(&elsewhere(), &["config", "check", &path], &[])
        .spawn()
        .expect("intake runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await.expect("read").expect("a line");
    assert_eq!(first, format!("{path}: valid"));
    drop(lines);
    let (ok, _, err) = finish(child).await;
    let _ = std::fs::remove_file(&config);
    assert!(ok && err.is_empty(), "{err}");
}

#[tokio::test]
async fn dynamodb_local_sends_no_telemetry_and_leaves_no_installation_id() {
    // Where DynamoDB Local runs (the test's working directory, the crate), an earlier
    // version's file may be left over; ignored by git, but not to be written again.
    let metadata = Path::new(env!("CARGO_MANIFEST_DIR")).join("dynamodb-local-metadata.json");
    let _ = std::fs::remove_file(&metadata);
    let port = intake_dev::free_port().expect("a free port");
    let mut dynamo = intake_dev::dynamo_local::DynamoLocal::start(port, None)
        .await
        .expect("DynamoDB Local starts (run `npm ci` first)");
    // With telemetry on, the file is there by the time the port answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !metadata.exists(),
        "{} was written: telemetry is on",
        metadata.display()
    );
    dynamo.stop().await;
}
