//! Issue 6 through the CLI, the parts that need a daemon or registry of their own: a
//! registry cache exported by `bentokit build --cache-to` is imported with `--cache-from` by
//! a cold private buildkitd (its steps show CACHED in plain progress); a push to a registry
//! with htpasswd auth works with credentials from `$DOCKER_CONFIG/config.json` (and fails
//! clearly without); killing the daemon mid-build exits 1 with a clear error; SIGINT
//! cancels the build on the daemon, exits 130 and leaves no partial `--output` file.
//! Private daemons and registries are started here and stopped by their pid.

#[path = "common/mod.rs"]
mod common;
#[path = "gateway/mod.rs"]
#[allow(unused)]
mod gw;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{build_cmd, dockerfile_context as context, output, shared_daemon, text};
use gw::auth_registry::AuthRegistry;
use gw::private_daemon::{pids_with, PrivateDaemon};
use gw::unique;

const BASE: &str = "localhost:5000/base:latest";

/// Polls until `cond` holds; a liveness bound so a regression cannot hang the suite (not a
/// timing assertion).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gave up waiting: {what}");
}

/// Waits for a child with the same liveness bound, killing it if it hangs.
fn wait_child(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..1200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("bentokit did not exit");
}

fn child_stderr(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_cache_is_imported_by_a_cold_daemon_and_shows_cached() {
    let Some(shared) = shared_daemon() else { return };
    let marker = unique("bentokit-cli-regcache-");
    let cache_ref = format!("localhost:5000/bentokit-clitest/cache:{}", unique("c"));
    let ctx = context(&format!("FROM {BASE}\nRUN echo {marker} > /marker\nRUN cat /marker && cp /marker /copy\n"));
    let out = output(build_cmd(&shared, ctx.path(), &["--progress=plain", "--cache-to", &format!("type=registry,ref={cache_ref},mode=max")]));
    assert!(out.status.success());
    let first = text(&out.stderr);
    assert!(first.contains("exporting cache"), "{first}");
    assert!(first.lines().any(|l| l.ends_with(&marker) && !l.contains("RUN")), "the step's log shows the marker when it runs:\n{first}");

    let Some(cold) = PrivateDaemon::start(&[]).await else { return };
    let addr = format!("unix://{}", cold.socket.display());
    let cache_from = format!("type=registry,ref={cache_ref}");
    let out = output(build_cmd(&addr, ctx.path(), &["--progress=plain", "--cache-from", &cache_from]));
    assert!(out.status.success(), "{}", cold.log());
    let second = text(&out.stderr);
    // Each RUN step's vertex (`#N [2/3] RUN ...`) ends `#N CACHED`.
    for step in ["[2/3] RUN", "[3/3] RUN"] {
        let id = second
            .lines()
            .find(|l| l.contains(step))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {step} vertex:\n{second}"))
            .to_string();
        assert!(second.lines().any(|l| l == format!("{id} CACHED")), "{step} is not CACHED on the cold daemon:\n{second}");
    }

    // Exporting the result pulls the cached layers (the last step then shows the pulls and
    // DONE, as with buildctl) but runs nothing: its `cat` would log the marker.
    let dest = ctx.path().join("out");
    let out = output(build_cmd(&addr, ctx.path(), &["--progress=plain", "--cache-from", &cache_from, "--output", &format!("type=local,dest={}", dest.display())]));
    assert!(out.status.success(), "{}", cold.log());
    let third = text(&out.stderr);
    assert!(!third.lines().any(|l| l.ends_with(&marker) && !l.contains("RUN")), "a cached step ran again:\n{third}");
    assert_eq!(std::fs::read_to_string(dest.join("copy")).unwrap().trim(), marker);

}

#[tokio::test(flavor = "multi_thread")]
async fn push_to_htpasswd_registry_with_docker_config_credentials() {
    let password = "s3cret-pw-9c1e";
    let Some(registry) = AuthRegistry::start("bento", password) else { return };
    let host = format!("127.0.0.1:{}", registry.port);
    let Some(daemon) = PrivateDaemon::start(&[&host]).await else { return };
    let addr = format!("unix://{}", daemon.socket.display());
    let ctx = context("FROM scratch\nCOPY Dockerfile /Dockerfile\nENTRYPOINT [\"/x\"]\n");
    let config_dir = tempfile::tempdir().unwrap();
    let name = format!("{host}/bentokit-clitest/auth:1");

    // Without credentials: refused, exit 1, a message that says so.
    std::fs::write(config_dir.path().join("config.json"), "{}").unwrap();
    let mut cmd = build_cmd(&addr, ctx.path(), &["--progress=plain", "-t", &name, "--push"]);
    cmd.env("DOCKER_CONFIG", config_dir.path());
    let out = output(cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr).to_lowercase();
    assert!(err.contains("401") || err.contains("unauthorized") || err.contains("authoriz"), "{err}");

    // With an `auths` entry in $DOCKER_CONFIG/config.json: pushed, and the password is
    // printed nowhere.
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("bento:{password}"))
    };
    std::fs::write(config_dir.path().join("config.json"), format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    let mut cmd = build_cmd(&addr, ctx.path(), &["--progress=plain", "-t", &name, "--push"]);
    cmd.env("DOCKER_CONFIG", config_dir.path());
    let out = output(cmd);
    assert!(out.status.success(), "{}", daemon.log());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(password) && !all.contains(&auth), "credentials were printed");
    assert!(text(&out.stdout).trim().starts_with(&format!("{name}@sha256:")), "{}", text(&out.stdout));
    let listing = gw::run(Command::new("curl").args(["-fsS", "-u", &format!("bento:{password}"), &format!("http://{host}/v2/bentokit-clitest/auth/tags/list")]));
    assert!(listing.contains("\"1\""), "{listing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_daemon_mid_build_exits_1_with_a_clear_error() {
    let Some(mut daemon) = PrivateDaemon::start(&[]).await else { return };
    let addr = format!("unix://{}", daemon.socket.display());
    let marker = unique("bentokit-cli-kill-");
    let ctx = context(&format!("FROM {BASE}\nRUN sleep 120; echo {marker}\n"));
    let mut child = build_cmd(&addr, ctx.path(), &["--progress=plain"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_until("the RUN step to start", || !pids_with(&marker).is_empty());
    daemon.kill();
    let status = wait_child(&mut child);
    let err = child_stderr(&mut child);
    eprintln!("{err}");
    for pid in pids_with(&marker) {
        // The orphaned exec of the daemon we killed.
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    unmount_under(daemon.dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    let last = err.lines().rev().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line:\n{err}"));
    assert!(last.contains("buildkitd") || last.contains("daemon"), "the error must say the daemon went away: {last}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A SIGKILLed buildkitd leaves its running exec's rootfs mounted under its root; unmount
/// (deepest first) so the temp dir can go.
fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<&str> = mounts.lines().filter_map(|l| l.split_whitespace().nth(1)).filter(|m| m.starts_with(&prefix)).collect();
    points.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in points {
        let _ = Command::new("umount").arg(m).status();
    }
}

#[test]
fn sigint_cancels_the_build_on_the_daemon_and_leaves_no_output() {
    let Some(addr) = shared_daemon() else { return };
    let marker = unique("bentokit-cli-sigint-");
    let ctx = context(&format!("FROM {BASE}\nRUN sleep 120; echo {marker}\n"));
    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("image.tar");
    let mut child = build_cmd(&addr, ctx.path(), &["--progress=plain", "--output", &format!("type=oci,dest={}", dest.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the RUN step to start", || !pids_with(&marker).is_empty());
    assert!(Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap().success());
    let status = wait_child(&mut child);
    let err = child_stderr(&mut child);
    eprintln!("{err}");
    assert_eq!(status.code(), Some(130), "SIGINT must exit 130: {err}");
    assert!(err.contains("cancel"), "{err}");
    wait_until("the daemon to stop the RUN step", || pids_with(&marker).is_empty());
    assert!(!dest.exists(), "a cancelled build left {}", dest.display());
    let left: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "a cancelled build left {left:?}");
}

#[test]
fn sigint_while_resolving_the_base_image_exits_130_and_the_daemon_lets_go() {
    let Some(addr) = shared_daemon() else { return };
    // A "registry" that accepts connections and never answers: the daemon's resolution of
    // the base image hangs there until the build is cancelled.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ctx = context(&format!("FROM 127.0.0.1:{port}/bentokit/never:{}\nRUN true\n", unique("r")));
    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("image.tar");
    let mut child = build_cmd(&addr, ctx.path(), &["--progress=plain", "--output", &format!("type=oci,dest={}", dest.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    assert!(Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap().success());
    let status = wait_child(&mut child);
    let err = child_stderr(&mut child);
    assert_eq!(status.code(), Some(130), "SIGINT must exit 130: {err}");
    assert!(err.contains("cancel"), "{err}");
    assert!(!dest.exists());
    // The daemon drops the hanging resolution (reads end) once the build is cancelled.
    use std::io::Read;
    conn.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the daemon kept resolving after the cancel: {e}"),
        }
    }
}
