//! A throwaway registry that requires basic auth: Debian's docker-registry with an
//! htpasswd file, on a free port, stopped when the guard drops.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::private_daemon::which;

pub struct AuthRegistry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthRegistry {
    /// Starts it with one user. `None` (with a note) when docker-registry or htpasswd is
    /// missing outside CI; under `CI=true` that is a failure.
    pub fn start(user: &str, password: &str) -> Option<AuthRegistry> {
        let (Some(registry), Some(_)) = (which("docker-registry"), which("htpasswd")) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("docker-registry and htpasswd (apache2-utils) are required in CI");
            }
            eprintln!("note: skipping, docker-registry or htpasswd missing");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = super::run(Command::new("htpasswd").args(["-Bbn", user, password]));
        std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: bentokit-test\n    path: {pw}\n",
            root = dir.path().join("data").display(),
            pw = dir.path().join("htpasswd").display(),
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new(registry).arg("serve").arg(dir.path().join("config.yml")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // Owned by the guard from here on, so it is stopped on every path.
        let registry = AuthRegistry { child, port, _dir: dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(registry);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the htpasswd registry did not start");
    }
}
