//! Real-daemon tests for the progress module: a build with a failing RUN is solved by the
//! running buildkitd (BUILDKIT_HOST, default unix:///run/buildkit/buildkitd.sock) from a
//! hand-built Definition that carries a Dockerfile source map, its `Control.Status` stream
//! is rendered, and the error block with the Dockerfile excerpt must appear — in plain mode
//! and in tty mode under a pseudo-terminal (util-linux `script`). The renderer is the thing
//! under test; when `bentokit build` lands, a CLI test should drive the same check.
//! Without a daemon these tests skip with a note, or fail when CI=true.

use std::collections::HashMap;
use std::sync::Arc;

use bentokit::progress::{
    BuildSummary, Progress, ProgressOptions, ResolvedMode, SecretMasker, SharedBuf, SourceMap, TemplateLookup, TemplateOrigin,
};
use bentokit::solve::{connect, ConnectOptions};
use bollard_buildkit_proto::moby::buildkit::v1::{control_client::ControlClient, SolveRequest, StatusRequest};
use bollard_buildkit_proto::pb;
use prost::Message;
use sha2::{Digest, Sha256};

const SECRET: &str = "s3cr3t-token-8d1f";
const DOCKERFILE: &str = "FROM localhost:5000/base:latest\nENV STAGE=test\nRUN echo preparing; echo \"token=s3cr3t-token-8d1f\"; echo oops >&2; exit 7\nRUN echo never\n";

fn digest(op: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(op)))
}

/// FROM base + RUN that fails, with llb.customname and a source map pointing at line 3.
fn failing_definition(nonce: &str) -> (pb::Definition, String) {
    let platform = pb::Platform { os: "linux".into(), architecture: "amd64".into(), ..Default::default() };
    let src = pb::Op {
        platform: Some(platform.clone()),
        op: Some(pb::op::Op::Source(pb::SourceOp { identifier: "docker-image://localhost:5000/base:latest".into(), ..Default::default() })),
        ..Default::default()
    }
    .encode_to_vec();
    let src_digest = digest(&src);
    let script = format!("echo preparing; echo \"token={SECRET}\"; echo oops >&2; exit 7 # {nonce}");
    let exec = pb::Op {
        inputs: vec![pb::Input { digest: src_digest.clone(), index: 0 }],
        platform: Some(platform),
        op: Some(pb::op::Op::Exec(pb::ExecOp {
            meta: Some(pb::Meta {
                args: vec!["/bin/sh".into(), "-c".into(), script.clone()],
                env: vec!["PATH=/bin".into(), "STAGE=test".into()],
                cwd: "/".into(),
                ..Default::default()
            }),
            mounts: vec![pb::Mount { input: 0, dest: "/".into(), output: 0, ..Default::default() }],
            ..Default::default()
        })),
        ..Default::default()
    }
    .encode_to_vec();
    let exec_digest = digest(&exec);
    let term = pb::Op { inputs: vec![pb::Input { digest: exec_digest.clone(), index: 0 }], ..Default::default() }.encode_to_vec();

    let mut metadata = std::collections::BTreeMap::new();
    let mut desc = std::collections::BTreeMap::new();
    desc.insert("llb.customname".to_string(), format!("[2/2] RUN {script}"));
    metadata.insert(exec_digest.clone(), pb::OpMetadata { description: desc, ignore_cache: true, ..Default::default() });
    let mut locations = std::collections::BTreeMap::new();
    let line = |l| Some(pb::Position { line: l, character: 0 });
    locations.insert(
        exec_digest.clone(),
        pb::Locations { locations: vec![pb::Location { source_index: 0, ranges: vec![pb::Range { start: line(3), end: line(3) }] }] },
    );
    let source = pb::Source { locations, infos: vec![pb::SourceInfo { filename: "Dockerfile".into(), data: DOCKERFILE.into(), ..Default::default() }] };
    (pb::Definition { def: vec![src, exec, term], metadata, source: Some(source) }, exec_digest)
}

fn daemon_addr() -> String {
    std::env::var("BUILDKIT_HOST").ok().filter(|a| !a.is_empty()).unwrap_or_else(|| "unix:///run/buildkit/buildkitd.sock".into())
}

/// Runs the failing build and renders its status stream with `opts` (to `out`, or stderr).
/// None when no daemon answers and CI is not set.
async fn failing_build(opts: ProgressOptions, out: Option<SharedBuf>) -> Option<(BuildSummary, String)> {
    let conn = match connect(&ConnectOptions { addr: Some(daemon_addr()), ..Default::default() }).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("note: skipping real-daemon progress test, no buildkitd: {e}");
            return None;
        }
        Err(e) => panic!("CI=true but buildkitd is unreachable at {}: {e}", daemon_addr()),
    };
    let nonce = format!("{}-{}", std::process::id(), bentokit::progress::wall_nanos());
    let (def, exec_digest) = failing_definition(&nonce);
    let mut opts = opts;
    opts.source_map = SourceMap::from_definition(&def);
    assert_eq!(opts.source_map.lookup(&exec_digest).len(), 1);
    let build_ref = format!("progress-test-{nonce}");

    let mut control = ControlClient::new(conn.channel.clone());
    let req = SolveRequest { r#ref: build_ref.clone(), definition: Some(def), ..Default::default() };
    let solve = tokio::spawn(async move { control.solve(req).await });

    let progress = match out {
        Some(buf) => Progress::start_with_output(opts, Box::new(buf)),
        None => Progress::start(opts),
    };
    let mut status = ControlClient::new(conn.channel.clone());
    let mut stream = status.status(StatusRequest { r#ref: build_ref }).await.expect("Control.Status").into_inner();
    while let Some(msg) = stream.message().await.expect("status stream") {
        progress.push(msg);
    }
    let summary = tokio::task::spawn_blocking(move || progress.finish()).await.unwrap();
    let err = solve.await.unwrap().expect_err("the RUN exits 7, the solve must fail");
    Some((summary, err.message().to_string()))
}

fn options(mode: ResolvedMode) -> ProgressOptions {
    let mut opts = ProgressOptions::new(mode);
    opts.secrets = SecretMasker::new([SECRET]);
    let lookup: TemplateLookup = Arc::new(|file, line| (file == "Dockerfile").then(|| TemplateOrigin { file: "templates/base_debian.j2".into(), line: line + 40 }));
    opts.template_lookup = Some(lookup);
    opts
}

fn check_summary(summary: &BuildSummary, solve_error: &str) {
    assert!(solve_error.contains("exit code: 7"), "{solve_error}");
    assert_eq!(summary.failures.len(), 1, "{summary:?}");
    let f = &summary.failures[0];
    assert!(f.name.starts_with("[2/2] RUN echo preparing"), "{f:?}");
    assert!(!f.name.contains(SECRET) && f.name.contains("token=****"), "{f:?}");
    assert!(f.last_logs.iter().any(|l| l.ends_with(" oops")), "{f:?}");
    assert_eq!(f.sources.len(), 1);
    assert_eq!(f.sources[0].line, 3);
}

#[tokio::test]
async fn plain_shows_the_error_block_with_the_dockerfile_excerpt() {
    let buf = SharedBuf::default();
    let Some((summary, solve_error)) = failing_build(options(ResolvedMode::Plain), Some(buf.clone())).await else { return };
    check_summary(&summary, &solve_error);
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(!out.contains(SECRET), "secret leaked:\n{out}");
    assert!(out.contains(" [2/2] RUN echo preparing; echo \"token=****\"; echo oops >&2; exit 7 # "), "{out}");
    assert!(out.contains(" preparing\n") && out.contains(" token=****\n"), "{out}");
    assert!(out.contains("ERROR: process \"/bin/sh -c echo preparing; echo \\\"token=****\\\""), "{out}");
    assert!(out.contains("did not complete successfully: exit code: 7\n"), "{out}");
    let block = out.split("------\n > [2/2] RUN").nth(1).unwrap_or_else(|| panic!("no error block:\n{out}"));
    assert!(block.contains(" oops\n"), "{out}");
    let excerpt = "Dockerfile:3\n--------------------\n   1 |     FROM localhost:5000/base:latest\n   2 |     ENV STAGE=test\n   3 | >>> RUN echo preparing; echo \"token=****\"; echo oops >&2; exit 7\n   4 |     RUN echo never\n   5 |     \n--------------------\nDockerfile:3 comes from template templates/base_debian.j2:43\n";
    assert!(out.ends_with(excerpt), "excerpt missing or wrong:\n{out}");
}

#[tokio::test]
async fn rawjson_and_quiet_keep_the_secret_out() {
    for mode in [ResolvedMode::RawJson, ResolvedMode::Quiet] {
        let buf = SharedBuf::default();
        let Some((summary, solve_error)) = failing_build(options(mode), Some(buf.clone())).await else { return };
        check_summary(&summary, &solve_error);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(!out.contains(SECRET), "{mode:?} leaked the secret:\n{out}");
        assert!(out.contains("Dockerfile:3\n"), "{mode:?}:\n{out}");
        if mode == ResolvedMode::RawJson {
            // The daemon batches updates (a cached run can fit in a few messages): check what
            // the stream says, not how many messages carry it.
            let msgs = bentokit::progress::decode_stream(out.split("Dockerfile:3\n").next().unwrap()).unwrap();
            let failed = msgs.iter().flat_map(|m| &m.vertexes).any(|v| v.name.contains("[2/2] RUN") && !v.error.is_empty());
            assert!(failed, "the failing RUN and its error are in the stream:\n{out}");
        } else {
            assert!(out.starts_with("------\n > [2/2] RUN"), "quiet prints only errors:\n{out}");
        }
    }
}

/// The tty half: re-runs this test binary under a pseudo-terminal (`script`), where the
/// child (`tty_child`) renders the same failing build in tty mode on its real stderr.
#[test]
fn tty_shows_the_error_block_under_a_pseudo_terminal() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true but util-linux `script` is missing");
        eprintln!("note: skipping tty test, `script` (util-linux) is not installed");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let cmd = format!("{} tty_child --exact --nocapture --test-threads=1", exe.display());
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("BENTOKIT_PROGRESS_TTY_CHILD", "1")
        .env("COLUMNS", "120")
        .env("LINES", "40")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if text.contains("note: skipping real-daemon progress test") {
        return;
    }
    assert!(out.status.success(), "child failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("CHILD-SAW-A-TERMINAL"), "{text}");
    assert!(text.contains("[+] Building"), "no live header:\n{text}");
    assert!(text.contains("ERROR [2/2] RUN echo preparing"), "no ERROR row:\n{text}");
    assert!(text.contains("\x1b[31m"), "error row should be red without NO_COLOR:\n{text}");
    assert!(text.contains("------\r\n > [2/2] RUN"), "no error block:\n{text}");
    assert!(text.contains("Dockerfile:3\r\n--------------------\r\n"), "no excerpt:\n{text}");
    assert!(text.contains("   3 | >>> RUN echo preparing;"), "{text}");
    assert!(!text.contains(SECRET), "secret leaked on the terminal:\n{text}");
}

#[tokio::test]
async fn tty_child() {
    if std::env::var("BENTOKIT_PROGRESS_TTY_CHILD").as_deref() != Ok("1") {
        return;
    }
    use std::io::IsTerminal;
    assert!(std::io::stderr().is_terminal(), "the tty child must run on a terminal");
    eprintln!("CHILD-SAW-A-TERMINAL");
    let mode = bentokit::progress::ProgressMode::Tty.resolve(None, true).unwrap();
    let Some((summary, solve_error)) = failing_build(options(mode), None).await else { return };
    check_summary(&summary, &solve_error);
}

#[test]
fn result_line_names_the_image() {
    let mut resp = HashMap::new();
    assert_eq!(bentokit::progress::format_result(&resp), None);
    resp.insert("containerimage.digest".to_string(), "sha256:abc".to_string());
    assert_eq!(bentokit::progress::format_result(&resp).unwrap(), "sha256:abc");
    resp.insert("image.name".to_string(), "localhost:5000/a:1,localhost:5000/a:latest".to_string());
    assert_eq!(bentokit::progress::format_result(&resp).unwrap(), "localhost:5000/a:1@sha256:abc\nlocalhost:5000/a:latest@sha256:abc");
}
