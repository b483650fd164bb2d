//! Settings for the developer tools: the environment first, then `.env`, then the
//! documented defaults in `.env.example`.

use std::path::{Path, PathBuf};

/// Loads `.env` and then `.env.example` from the first directory, from the current one
/// upwards, that has a `.env.example`. Variables already set win over both files.
/// Returns the directory found (the project root).
pub fn load() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let root = cwd
        .ancestors()
        .find(|dir| dir.join(".env.example").is_file())
        .map(Path::to_path_buf)?;
    let _ = dotenvy::from_path(root.join(".env"));
    let _ = dotenvy::from_path(root.join(".env.example"));
    Some(root)
}

/// A variable, or `default`.
pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}
