//! Shared helpers for the integration tests: the bentokit binary, the shared buildkitd
//! (started by `scripts/setup-buildkit.sh`), and private daemons a test owns.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const DEFAULT_ADDR: &str = "unix:///run/buildkit/buildkitd.sock";

pub fn bentokit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bentokit"));
    c.env_remove("BUILDKIT_HOST").env("NO_COLOR", "1");
    c
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run bentokit")
}

/// `bentokit --addr ADDR build ARGS… CONTEXT`.
pub fn build_cmd(addr: &str, context: &Path, args: &[&str]) -> Command {
    let mut cmd = bentokit();
    cmd.args(["--addr", addr, "build"]).args(args).arg(context).stdin(Stdio::null());
    cmd
}

/// Runs a command, echoing its stderr into the test log for failures.
pub fn output(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run bentokit");
    eprintln!("--- {cmd:?}: {}\n{}", out.status, text(&out.stderr));
    out
}

/// A build context holding just this Dockerfile.
pub fn dockerfile_context(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("bentokit-cli-").tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    dir
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The shared daemon's address, when it answers. Under `CI=true` a missing daemon fails the
/// test (CI must never pass by skipping); elsewhere the test is skipped with a note.
pub fn shared_daemon() -> Option<String> {
    let addr = std::env::var("BUILDKIT_HOST").unwrap_or_else(|_| DEFAULT_ADDR.to_string());
    let ok = Command::new("buildctl")
        .args(["--addr", &addr, "debug", "workers"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some(addr);
    }
    let msg = format!("no buildkitd answers on {addr}: run scripts/setup-buildkit.sh first");
    if std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false) {
        panic!("{msg} (CI=true: integration tests must not be skipped)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// Like [`shared_daemon`], for tests that need a program (buildkitd, openssl, rootlesskit).
pub fn require_program(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if !found {
        let msg = format!("{name} is not on PATH: run scripts/setup-buildkit.sh first");
        if std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false) {
            panic!("{msg} (CI=true: integration tests must not be skipped)");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A buildkitd owned by one test: its own root, config and address; killed on drop.
pub struct PrivateDaemon {
    pub addr: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl PrivateDaemon {
    /// Starts `buildkitd` with `--addr addr` and the extra arguments, and waits until
    /// `ready` (a buildctl invocation's extra args, e.g. TLS flags) succeeds.
    pub fn start(addr: &str, extra: &[&str], buildctl_args: &[&str]) -> PrivateDaemon {
        let dir = tempfile::Builder::new().prefix("bentokit-bkd-").tempdir().unwrap();
        let root = dir.path().join("root");
        let config = dir.path().join("buildkitd.toml");
        std::fs::write(
            &config,
            format!(
                "root = {root:?}\n[worker.oci]\n  enabled = true\n  snapshotter = \"auto\"\n\
                 [worker.containerd]\n  enabled = false\n\
                 [registry.\"localhost:5000\"]\n  http = true\n  insecure = true\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("buildkitd.log")).unwrap();
        let child = Command::new("buildkitd")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(&root)
            .args(["--addr", addr])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start buildkitd");
        let mut daemon = PrivateDaemon { addr: addr.to_string(), dir, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new("buildctl")
                .args(["--addr", addr])
                .args(buildctl_args)
                .args(["debug", "workers"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return daemon;
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("private buildkitd exited with {status}:\n{}", daemon.log());
            }
            assert!(Instant::now() < deadline, "private buildkitd did not answer:\n{}", daemon.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("buildkitd.log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        // SIGTERM lets buildkitd unmount its snapshots before the temp dir goes.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a CA, a server certificate for 127.0.0.1/localhost and a client certificate
/// into `dir` with openssl, returning their paths.
pub struct Certs {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

pub fn make_certs(dir: &Path, ca_name: &str) -> Certs {
    let sh = |script: &str| {
        let out = Command::new("sh").arg("-ec").arg(script).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl failed: {}", text(&out.stderr));
    };
    sh(&format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN={ca_name} -keyout {ca_name}-key.pem -out {ca_name}.pem 2>/dev/null"
    ));
    for (who, ext) in [
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ] {
        std::fs::write(dir.join(format!("{who}.ext")), ext).unwrap();
        sh(&format!(
            "openssl req -newkey rsa:2048 -nodes -subj /CN={who} -keyout {who}-key.pem -out {who}.csr 2>/dev/null && \
             openssl x509 -req -in {who}.csr -CA {ca_name}.pem -CAkey {ca_name}-key.pem -CAcreateserial -days 2 \
             -extfile {who}.ext -out {who}.pem 2>/dev/null"
        ));
    }
    Certs {
        ca: dir.join(format!("{ca_name}.pem")),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
    }
}
