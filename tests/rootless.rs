//! Rootless: bentokit run as an ordinary user with no `--addr` finds nothing on the
//! per-user socket, starts `buildkitd --rootless` under rootlesskit, and lists its worker;
//! the next run finds it already running.
//!
//! Needs root (to create the test user) plus Debian's `rootlesskit` and `uidmap`;
//! `scripts/setup-buildkit.sh` installs them (ROOTLESS=1, the default).

mod common;

use std::process::Command;

use common::*;

const USER: &str = "bentokit-rootless";

fn sh(script: &str) -> std::process::Output {
    Command::new("sh").arg("-ec").arg(script).output().unwrap()
}

fn as_user(runtime_dir: &str, bin: &str, args: &str) -> std::process::Output {
    // A login shell with a clean environment: no BUILDKIT_HOST, the user's own HOME.
    Command::new("su")
        .args(["-", USER, "-c"])
        .arg(format!("XDG_RUNTIME_DIR={runtime_dir} PATH=/usr/local/bin:/usr/bin:/bin {bin} {args}"))
        .output()
        .unwrap()
}

#[test]
fn rootless_buildkitd_is_started_then_reused() {
    if shared_daemon().is_none() || !require_program("buildkitd") || !require_program("rootlesskit") {
        return;
    }
    let is_root = sh("test \"$(id -u)\" = 0").status.success();
    if !is_root {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must run the rootless test as root");
        eprintln!("SKIPPED: the rootless test creates a user and must run as root");
        return;
    }
    // rootlesskit maps the user's subordinate ids; older useradd does not always add them.
    let setup = sh(&format!(
        "id -u {USER} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh {USER}
         for f in /etc/subuid /etc/subgid; do grep -q '^{USER}:' $f 2>/dev/null || echo '{USER}:300000:65536' >> $f; done"
    ));
    assert!(setup.status.success(), "{}", text(&setup.stderr));
    let uid = text(&sh(&format!("id -u {USER}")).stdout).trim().to_string();
    let runtime_dir = format!("/run/user/{uid}");
    // A fresh start: no daemon of this user's, an empty runtime dir it owns.
    let _ = sh(&format!("pkill -KILL -u {USER} || true; sleep 0.3; rm -rf {runtime_dir}"));
    let prep = sh(&format!("install -d -m 700 -o {USER} -g {USER} {runtime_dir}"));
    assert!(prep.status.success(), "{}", text(&prep.stderr));
    // The test binary may live under a directory the user cannot enter; give it a copy.
    let bin_dir = tempfile::Builder::new().prefix("bentokit-rl-").tempdir().unwrap();
    let bin = bin_dir.path().join("bentokit");
    std::fs::copy(env!("CARGO_BIN_EXE_bentokit"), &bin).unwrap();
    sh(&format!("chmod 755 {0} {0}/bentokit", bin_dir.path().display()));
    let bin = bin.to_str().unwrap();

    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = sh(&format!("pkill -u {USER} || true"));
        }
    }
    let _cleanup = Cleanup;

    let first = as_user(&runtime_dir, bin, "debug workers");
    let stderr = text(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("started rootless buildkitd")) && stderr.contains(&format!("unix://{runtime_dir}/buildkit/buildkitd.sock")),
        "says in one line that it started a daemon: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(text(&first.stdout).contains("linux/amd64"), "{}", text(&first.stdout));
    let ps = text(&sh(&format!("ps -o args= -u {USER}")).stdout);
    assert!(ps.contains("rootlesskit") && ps.contains("--rootless"), "runs under rootlesskit: {ps}");

    let second = as_user(&runtime_dir, bin, "debug workers --format json");
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(text(&second.stderr).is_empty(), "reuses the running daemon: {}", text(&second.stderr));
    assert!(text(&second.stdout).contains("linux/amd64"));

    // An explicit address turns the automatic start off.
    let _ = sh(&format!("pkill -u {USER} || true; sleep 0.5"));
    let explicit = as_user(&runtime_dir, bin, &format!("--addr unix://{runtime_dir}/buildkit/buildkitd.sock debug workers"));
    assert_eq!(explicit.status.code(), Some(1), "{}", text(&explicit.stderr));
    assert!(text(&explicit.stderr).contains("cannot connect to buildkitd"), "{}", text(&explicit.stderr));
}
