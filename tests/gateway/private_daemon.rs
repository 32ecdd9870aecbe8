//! A private buildkitd (own socket, own `--root`, own config) for tests that need a cold
//! cache, extra registries, or must kill the daemon. Stopped (by its pid) on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bentokit::solve::{connect, ConnectOptions, Connection};

pub struct PrivateDaemon {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl PrivateDaemon {
    /// Starts buildkitd trusting the plain-HTTP registries `extra_http` besides :5000.
    pub async fn start(extra_http: &[&str]) -> Option<PrivateDaemon> {
        if which("buildkitd").is_none() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("buildkitd binary is required in CI");
            }
            eprintln!("note: skipping, no buildkitd binary");
            return None;
        }
        let dir = tempfile::Builder::new().prefix("bentokit-bkd-").tempdir_in("/var/tmp").unwrap();
        let socket = dir.path().join("buildkitd.sock");
        let mut registries = String::new();
        for host in ["localhost:5000", "127.0.0.1:5000"].iter().chain(extra_http) {
            registries.push_str(&format!("[registry.\"{host}\"]\n  http = true\n  insecure = true\n"));
        }
        let config = format!(
            "root = \"{root}\"\n[grpc]\n  address = [\"unix://{sock}\"]\n[worker.oci]\n  enabled = true\n  snapshotter = \"native\"\n  gc = false\n[worker.containerd]\n  enabled = false\n{registries}",
            root = dir.path().join("root").display(),
            sock = socket.display(),
        );
        let config_path = dir.path().join("buildkitd.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("buildkitd.log")).unwrap();
        let mut cmd = Command::new("buildkitd");
        if std::env::var("BENTOKIT_BKD_DEBUG").is_ok() {
            cmd.arg("--debug");
        }
        let child = cmd
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let daemon = PrivateDaemon { child: Some(child), dir, socket };
        for _ in 0..300 {
            if daemon.socket.exists() && daemon.connect().await.is_ok() {
                return Some(daemon);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("private buildkitd did not start: {}", daemon.log());
    }

    pub async fn connect(&self) -> Result<Connection, bentokit::solve::ConnectError> {
        connect(&ConnectOptions { addr: Some(format!("unix://{}", self.socket.display())), ..Default::default() }).await
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("buildkitd.log")).unwrap_or_default()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM first so it unmounts what it mounted.
            unsafe_kill(child.id(), 15);
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        self.stop();
        // A killed daemon leaves its execs' rootfs mounts behind: lazily unmount what is
        // under our directory (deepest first) so the temporary directory can go.
        let root = self.dir.path().to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts.lines().filter_map(|l| l.split(' ').nth(1)).filter(|m| m.starts_with(&root)).collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ours {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

fn unsafe_kill(pid: u32, signal: i32) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

pub fn which(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(binary)).find(|p| p.is_file())
}

/// Pids whose command line contains `needle`.
pub fn pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == me {
            continue;
        }
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}
