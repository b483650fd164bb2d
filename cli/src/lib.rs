//! The local stack behind `intake dev`, shared with the end-to-end tests: DynamoDB Local, the
//! webhook server, the stream poller that feeds the acknowledger as Lambda would, and the
//! recorder that stands in for provider APIs. Also the emulators tests start on their own
//! (moto for AWS APIs without another emulator), the checks of `intake doctor`, and the load
//! harness of `intake load` (`load`), and which table the inspector reads (`target`: the local
//! stack's or a deployed one's).

pub mod child;
pub mod dead_letters;
pub mod doctor;
pub mod dotenv;
pub mod dynamo_local;
pub mod lambda_local;
pub mod load;
pub mod moto_local;
pub mod outbox;
pub mod poller;
mod ports;
pub mod reach;
pub mod recorder;
pub mod redrive;
pub mod replay;
pub mod replay_cloud;
pub mod server;
pub mod ses_local;
pub mod simulate;
pub mod simulate_aws_sms;
pub mod simulate_email;
pub mod simulate_messagebird;
pub mod stack;
pub mod table;
pub mod target;
pub mod ticket_filter;

/// Errors of the developer tools, with a message meant for a person.
pub type DevResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The project's root: the nearest directory, from the working directory up (then beside this
/// crate), that holds the installed emulators (`node_modules`).
pub fn project_root() -> DevResult<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    let cwd = std::env::current_dir().ok();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    cwd.iter()
        .flat_map(|c| {
            c.ancestors()
                .map(Path::to_path_buf)
                .collect::<Vec<PathBuf>>()
        })
        .chain(workspace)
        .find(|root| root.join("node_modules").is_dir() && root.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            "the emulators are not installed (no node_modules): run `make dev`, or `npm ci` in \
             the project root"
                .into()
        })
}

pub use ports::free_port;
