//! A newcomer's first hour with `intake`, run as they run it (issue 13): `make dev` shows
//! its first build, the binary works from any directory, a closed pipe ends it quietly, and
//! a stack that is down or a port that is taken is named.

use std::path::Path;

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
