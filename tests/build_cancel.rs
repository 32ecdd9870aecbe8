//! Real-daemon tests: dropping a build cancels it on the daemon (the running exec goes
//! away) and leaves no output; killing the daemon mid-build gives a clear error.

#[path = "gateway/mod.rs"]
mod common;

use std::time::Duration;

use bentokit::solve::{Build, BuildError, BuildOptions, ExportSpec, PlatformResult};
use common::private_daemon::{pids_with, PrivateDaemon};
use common::*;

/// Polls until `cond` holds; panics with `what` after a generous bound (a liveness
/// guard so a regression cannot hang the suite, not a timing assertion).
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting: {what}");
}

async fn start_sleeping_build(build: &Build, marker: &str) -> PlatformResult {
    let p = amd64();
    let resolved = build.gateway().resolve_image_config(BASE_IMAGE, &p).await.unwrap();
    let mut llb = Llb::default();
    let img = llb.image(&format!("{BASE_IMAGE}@{}", resolved.digest), &p);
    let run = llb.exec(&img, &format!("sleep 120; echo {marker}"), vec![], &p);
    PlatformResult { platform: p, definition: llb.definition(&run), image_config: resolved.config_json }
}

#[tokio::test]
async fn dropping_a_build_cancels_it_on_the_daemon() {
    let Some(conn) = daemon().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("image.tar");
    let marker = unique("bentokit-cancel-");
    let opts = BuildOptions { exports: vec![ExportSpec::parse(&format!("type=oci,dest={}", out.display())).unwrap()], ..Default::default() };
    let mut build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let mut status = build.take_status().unwrap();
    let result = start_sleeping_build(&build, &marker).await;
    let finishing = tokio::spawn(build.finish(vec![result]));
    wait_until("the exec to start", || !pids_with(&marker).is_empty()).await;

    // Ctrl-C: the CLI drops the build future.
    finishing.abort();
    let _ = finishing.await;

    wait_until("the daemon to stop the exec", || pids_with(&marker).is_empty()).await;
    // The status stream reports the step as cancelled before it ends.
    let mut canceled = false;
    while let Ok(Some(update)) = tokio::time::timeout(Duration::from_secs(30), status.recv()).await {
        canceled |= update.vertexes.iter().any(|v| v.name.contains(&marker) && v.error.contains("cancel"));
    }
    assert!(canceled, "no CANCELED vertex in the status stream");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "a cancelled build left {left:?}");
}

#[tokio::test]
async fn killing_the_daemon_gives_a_clear_error() {
    let Some(mut daemon) = PrivateDaemon::start(&[]).await else { return };
    let conn = daemon.connect().await.unwrap();
    let marker = unique("bentokit-kill-");
    let build = Build::start(conn.channel.clone(), BuildOptions::default()).await.unwrap();
    let result = start_sleeping_build(&build, &marker).await;
    let finishing = tokio::spawn(build.finish(vec![result]));
    wait_until("the exec to start", || !pids_with(&marker).is_empty()).await;
    daemon.kill();
    let err = tokio::time::timeout(Duration::from_secs(60), finishing).await.expect("the build must end").unwrap().unwrap_err();
    let text = err.to_string();
    eprintln!("error after the daemon was killed: {text}");
    assert!(matches!(err, BuildError::DaemonGone(_) | BuildError::Session(_)), "{err:?}");
    assert!(text.contains("buildkitd") || text.contains("session"), "{text}");
    for pid in pids_with(&marker) {
        // The orphaned exec of the daemon we started.
        let _ = std::process::Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
}
