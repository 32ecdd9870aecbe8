//! `bentokit llb` flags that change the definition: `--allow` entitlements, `--platform`.

mod common;

use common::*;

#[test]
fn allow_network_host_lets_run_network_host_through() {
    let Some(addr) = shared_daemon() else { return };
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM localhost:5000/base:latest\nRUN --network=host true\n").unwrap();
    let denied = run(bentokit().args(["--addr", &addr, "llb"]).arg(ctx.path()));
    assert_eq!(denied.status.code(), Some(1));
    assert!(text(&denied.stderr).contains(">>> RUN --network=host true"), "{}", text(&denied.stderr));
    let allowed = run(bentokit().args(["--addr", &addr, "llb", "--allow", "network.host"]).arg(ctx.path()));
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    assert!(text(&allowed.stdout).contains("\"network\": \"HOST\""), "{}", text(&allowed.stdout));
    let bogus = run(bentokit().args(["--addr", &addr, "llb", "--allow", "root.everything"]).arg(ctx.path()));
    assert_eq!(bogus.status.code(), Some(1));
}

#[test]
fn one_definition_per_platform_in_json() {
    let Some(addr) = shared_daemon() else { return };
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM scratch\nARG TARGETARCH\nCOPY Dockerfile /built-for-$TARGETARCH\n").unwrap();
    let out = run(bentokit().args(["--addr", &addr, "llb", "--platform", "linux/amd64,linux/arm64"]).arg(ctx.path()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let platforms: Vec<&str> = v.as_array().unwrap().iter().map(|d| d["platform"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let dump = text(&out.stdout);
    assert!(dump.contains("/built-for-amd64") && dump.contains("/built-for-arm64"), "{dump}");
    let pb = run(bentokit().args(["--addr", &addr, "llb", "--format", "pb", "--platform", "linux/amd64,linux/arm64"]).arg(ctx.path()));
    assert_eq!(pb.status.code(), Some(1), "pb holds one definition");
}
