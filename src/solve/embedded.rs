//! Starting a local buildkitd when none answers on the default socket.
//!
//! As root the daemon is started directly; as any other user it runs rootless, under
//! `rootlesskit` when that is on PATH (buildkitd refuses to run rootless outside a user
//! namespace). The daemon is detached into its own process group and left running for
//! later builds; its output goes to a log file whose path is reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::addr::{current_uid, Address};

/// What was started, for the one-line notice the CLI prints.
#[derive(Debug, Clone)]
pub struct Started {
    pub pid: u32,
    pub rootless: bool,
    pub log: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start {binary}: {source}")]
    Spawn { binary: PathBuf, source: std::io::Error },
    #[error("cannot create {path}: {source}")]
    Prepare { path: PathBuf, source: std::io::Error },
    #[error("the buildkitd started by bentokit (pid {pid}) exited before it answered on {addr}; its log {log} ends with:\n{tail}")]
    Exited { pid: u32, addr: Address, log: PathBuf, tail: String },
    #[error("the buildkitd started by bentokit (pid {pid}) did not answer on {addr} within {secs}s; see its log {log}")]
    Timeout { pid: u32, addr: Address, log: PathBuf, secs: u64 },
}

const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn find_buildkitd() -> Option<PathBuf> {
    find_on_path("buildkitd")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false))
}

fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("bentokit");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/bentokit")
}

/// Starts buildkitd on `socket` and waits until it answers.
pub(crate) async fn start(binary: &Path, socket: &Path) -> Result<Started, StartError> {
    let addr = Address::Unix(socket.to_path_buf());
    let rootless = current_uid() != 0;
    let log_dir = state_dir();
    let log = log_dir.join("buildkitd.log");
    for dir in [log_dir.as_path(), socket.parent().unwrap_or(Path::new("/"))] {
        std::fs::create_dir_all(dir).map_err(|source| StartError::Prepare { path: dir.to_path_buf(), source })?;
    }
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|source| StartError::Prepare { path: log.clone(), source })?;
    let log_err = log_file.try_clone().map_err(|source| StartError::Prepare { path: log.clone(), source })?;

    let mut command = match (rootless, find_on_path("rootlesskit")) {
        (true, Some(rootlesskit)) => {
            let mut c = Command::new(rootlesskit);
            c.arg(binary);
            c
        }
        _ => Command::new(binary),
    };
    command.arg("--addr").arg(addr.to_string());
    if rootless {
        command.arg("--rootless");
        // buildkitd's rootless defaults read XDG_RUNTIME_DIR; give it the directory we chose.
        if std::env::var_os("XDG_RUNTIME_DIR").map_or(true, |d| d.is_empty()) {
            if let Some(runtime) = socket.parent().and_then(Path::parent) {
                command.env("XDG_RUNTIME_DIR", runtime);
            }
        }
    }
    use std::os::unix::process::CommandExt;
    command
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        // Its own process group: a Ctrl-C aimed at bentokit must not stop the daemon.
        .process_group(0);
    tracing::debug!(?command, "starting buildkitd");
    let mut child = command.spawn().map_err(|source| StartError::Spawn { binary: binary.to_path_buf(), source })?;
    let pid = child.id();

    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if super::connect::open_channel(&addr, &Default::default()).await.is_ok() {
            // The daemon outlives us on purpose; reap it in the background should it exit
            // while we run, so it never lingers as a zombie of this process.
            std::thread::spawn(move || child.wait());
            return Ok(Started { pid, rootless, log });
        }
        if let Ok(Some(_)) = child.try_wait() {
            return Err(StartError::Exited { pid, addr, tail: log_tail(&log, 15), log });
        }
        if Instant::now() > deadline {
            return Err(StartError::Timeout { pid, addr, log, secs: READY_TIMEOUT.as_secs() });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
