//! `bentokit debug …` against real buildkitd daemons: the shared one on the default socket,
//! and private ones for cache pruning.

mod common;

use common::*;

#[test]
fn workers_lists_linux_amd64_over_the_unix_socket() {
    let Some(addr) = shared_daemon() else { return };
    let out = run(bentokit().args(["--addr", &addr, "debug", "workers"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("ID") && header.contains("PLATFORMS"), "{stdout}");
    assert!(lines.any(|l| l.split_whitespace().nth(1).is_some_and(|p| p.split(',').any(|p| p == "linux/amd64"))), "{stdout}");
}

#[test]
fn workers_as_json_and_buildkit_host_env() {
    let Some(addr) = shared_daemon() else { return };
    let out = run(bentokit().env("BUILDKIT_HOST", &addr).args(["debug", "workers", "--format", "json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let workers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let platforms = workers[0]["platforms"].as_array().unwrap();
    assert!(platforms.iter().any(|p| p == "linux/amd64"), "{workers}");
    assert!(!workers[0]["id"].as_str().unwrap().is_empty());
}

#[test]
fn info_reports_the_buildkit_version() {
    let Some(addr) = shared_daemon() else { return };
    let out = run(bentokit().args(["--addr", &addr, "debug", "info"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("BuildKit: github.com/moby/buildkit v0.13"), "{stdout}");
    let json = run(bentokit().args(["--addr", &addr, "debug", "info", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["version"].as_str().unwrap().starts_with("v0.13"), "{v}");
}

#[test]
fn unreachable_address_is_one_clear_error_with_exit_code_1() {
    let out = run(bentokit().args(["--addr", "unix:///nonexistent", "debug", "workers"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: cannot connect to buildkitd at unix:///nonexistent"), "{stderr}");
    assert!(stderr.contains("hint: start buildkitd"), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    assert!(stderr.lines().count() <= 3, "one paragraph, got:\n{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn refused_tcp_and_bad_scheme_are_clear_errors() {
    let port = free_tcp_port();
    let out = run(bentokit().args(["--addr", &format!("tcp://127.0.0.1:{port}"), "debug", "info"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("cannot connect to buildkitd at tcp://127.0.0.1:{port}")), "{stderr}");

    let out = run(bentokit().env("BUILDKIT_HOST", "docker-container://buildkitd").args(["debug", "info"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unsupported BuildKit address scheme"), "{}", text(&out.stderr));
}

#[test]
fn du_and_prune_all_on_a_private_daemon() {
    if shared_daemon().is_none() || !require_program("buildkitd") {
        return;
    }
    let sock_dir = tempfile::tempdir().unwrap();
    let addr = format!("unix://{}", sock_dir.path().join("bk.sock").display());
    let daemon = PrivateDaemon::start(&addr, &[], &[]);

    // Put something in its cache: a tiny build from the local registry's busybox image.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM localhost:5000/base:latest\nRUN echo cached > /x\n").unwrap();
    let built = std::process::Command::new("buildctl")
        .args(["--addr", &addr, "build", "--progress", "quiet", "--frontend", "dockerfile.v0"])
        .arg(format!("--local=context={}", ctx.path().display()))
        .arg(format!("--local=dockerfile={}", ctx.path().display()))
        .output()
        .unwrap();
    assert!(built.status.success(), "{}\n{}", text(&built.stderr), daemon.log());

    let du = run(bentokit().args(["--addr", &addr, "debug", "du", "--format", "json"]));
    assert!(du.status.success(), "{}", text(&du.stderr));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&du.stdout).unwrap();
    assert!(!records.is_empty(), "a build leaves cache records");
    assert!(records.iter().all(|r| r["size"].as_i64().unwrap() >= 0));

    let table = run(bentokit().args(["--addr", &addr, "debug", "du"]));
    let table = text(&table.stdout);
    assert!(table.starts_with("ID") && table.contains("Reclaimable:") && table.contains("Total:"), "{table}");

    let pruned = run(bentokit().args(["--addr", &addr, "debug", "prune", "--all"]));
    assert!(pruned.status.success(), "{}", text(&pruned.stderr));
    let pruned = text(&pruned.stdout);
    assert!(pruned.lines().count() > 2, "prune lists what it removed:\n{pruned}");
    assert!(pruned.contains("Total:"), "{pruned}");

    let after = run(bentokit().args(["--addr", &addr, "debug", "du", "--format", "json"]));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&after.stdout).unwrap();
    assert!(records.is_empty(), "prune --all leaves no records: {records:?}");
}
