//! Settings for the developer tools: the environment first, then the project's `.env`, then
//! its `.env.example` (the documented local defaults). Outside the project, the defaults of
//! `.env.example` are built into the binary, so an installed `intake` reaches a running
//! local stack from any directory.
//!
//! A relative path in a file (`INTAKE_CONFIG=intake.example.toml`) is relative to that file's
//! directory, not to where `intake` runs: `intake` in `cli/` reads the same files as at the
//! root.

use std::path::{Path, PathBuf};

/// The documented local defaults (`.env.example`), built in for use outside the project.
pub const BUILT_IN: &str = include_str!("../../.env.example");

/// Variables whose value names a file or directory. In a settings file a relative value is
/// relative to the file's directory; among the built-in defaults, which name files of the
/// project, they are left unset outside it.
pub const PATH_VARIABLES: &[&str] = &[
    "INTAKE_CONFIG",
    "INTAKE_DATA_DIR",
    "INTAKE_DEAD_LETTER_DIR",
    "SNS_TRUSTED_CERT_FILE",
    "DYNAMODB_LOCAL_JAR",
];

/// Where the settings came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// The project at this root: its `.env` (if any) and `.env.example`.
    Project(PathBuf),
    /// No project from the current directory up: the built-in defaults.
    BuiltIn,
}

impl Loaded {
    /// The project's root, if one was found.
    pub fn project(&self) -> Option<&Path> {
        match self {
            Loaded::Project(root) => Some(root),
            Loaded::BuiltIn => None,
        }
    }
}

/// Whether `dir` is an Intake checkout: it has the documented defaults and the example
/// acknowledgement settings (another project's `.env.example` is not ours to load).
pub fn is_project(dir: &Path) -> bool {
    dir.join(".env.example").is_file() && dir.join("intake.example.toml").is_file()
}

/// Loads `.env` and then `.env.example` from the nearest Intake project, from the current
/// directory upwards; without one, the built-in defaults. Variables already set win over
/// both files (and the first file over the second).
///
/// It sets process environment variables: call it before any other thread starts (before
/// the async runtime).
pub fn load() -> Loaded {
    let project = std::env::current_dir().ok().and_then(|cwd| {
        cwd.ancestors()
            .find(|dir| is_project(dir))
            .map(Path::to_path_buf)
    });
    match project {
        Some(root) => {
            for name in [".env", ".env.example"] {
                if let Ok(text) = std::fs::read_to_string(root.join(name)) {
                    apply(settings(&text, Some(&root)));
                }
            }
            Loaded::Project(root)
        }
        None => {
            apply(settings(BUILT_IN, None));
            Loaded::BuiltIn
        }
    }
}

/// The variables a settings file sets, with path values made absolute against `base` (the
/// file's directory), or dropped when there is no base. Lines `dotenvy` cannot parse are
/// skipped, as `dotenvy::from_path` would.
pub fn settings(text: &str, base: Option<&Path>) -> Vec<(String, String)> {
    dotenvy::from_read_iter(text.as_bytes())
        .filter_map(Result::ok)
        .filter_map(|(name, value)| {
            if !PATH_VARIABLES.contains(&name.as_str()) || is_not_a_path(&value) {
                return Some((name, value));
            }
            let value = base?.join(&value).display().to_string();
            Some((name, value))
        })
        .collect()
}

/// Empty, absolute, or a keyword such as `:memory:`: nothing to resolve.
fn is_not_a_path(value: &str) -> bool {
    value.is_empty() || value.starts_with(':') || Path::new(value).is_absolute()
}

fn apply(settings: Vec<(String, String)>) {
    for (name, value) in settings {
        if std::env::var_os(&name).is_none() {
            // SAFETY: `load` runs before any other thread (documented), so nothing reads the
            // environment while it changes.
            unsafe { std::env::set_var(name, value) };
        }
    }
}

/// A variable, or `default` when unset or empty.
pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_path_in_a_file_is_relative_to_the_file() {
        let text = "INTAKE_CONFIG=intake.example.toml\nINTAKE_DATA_DIR=:memory:\n\
                    SNS_TRUSTED_CERT_FILE=/etc/cert.pem\nTABLE_NAME=intake-local\n";
        let root = Path::new("/home/dev/intake");
        assert_eq!(
            settings(text, Some(root)),
            [
                ("INTAKE_CONFIG", "/home/dev/intake/intake.example.toml"),
                ("INTAKE_DATA_DIR", ":memory:"),
                ("SNS_TRUSTED_CERT_FILE", "/etc/cert.pem"),
                ("TABLE_NAME", "intake-local"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn the_built_in_defaults_name_the_local_stack_and_no_project_file() {
        let built_in = settings(BUILT_IN, None);
        let get = |name: &str| {
            built_in
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("TABLE_NAME"), Some("intake-local"));
        assert_eq!(
            get("AWS_ENDPOINT_URL_DYNAMODB"),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(get("PUBLIC_BASE_URL"), Some("http://127.0.0.1:3000"));
        assert_eq!(get("INTAKE_RECORDER_PORT"), Some("3001"));
        assert_eq!(get("AWS_ENDPOINT_URL_SESV2"), Some("http://127.0.0.1:8005"));
        for path in PATH_VARIABLES {
            assert_eq!(get(path), None, "{path} names a project file");
        }
    }
}
