//! The converter against BuildKit's own dockerfile frontend, on a corpus of Dockerfiles
//! (tests/fixtures/corpus/<case>/) that covers every instruction and flag.
//!
//! For each case three images are built on the real daemon: bentokit's LLB
//! (`bentokit llb --format pb | buildctl build`), `bentokit build`, and
//! `buildctl build --frontend dockerfile.v0`. The root filesystems (paths, types, modes,
//! owners, contents, link targets) must match, and so must the image configs of
//! `bentokit build` and the frontend (the fields in `rootfs::CONFIG_FIELDS`, and the
//! history's `created_by`/`empty_layer`). Deliberate differences are listed in `ALLOWED`.

mod common;
#[path = "corpus/rootfs.rs"]
mod rootfs;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

const ONBUILD_BASE: &str = "localhost:5000/bentokit-corpus/onbuild-base:latest";

/// Per-case options beyond the Dockerfile and its context.
#[derive(Default, Clone)]
struct Case {
    name: &'static str,
    build_args: Vec<(String, String)>,
    target: Option<&'static str>,
    secret: bool,
    /// `false` when the daemon's built-in frontend (v0.13, not -labs) rejects a flag the
    /// case uses: then only bentokit's two builds are compared, plus `expect`.
    frontend: bool,
    /// Paths (with a leading `!`: absent paths) bentokit's image must have.
    expect: &'static [&'static str],
}

/// Differences accepted on purpose: (case, line prefix, reason).
const ALLOWED: &[(&str, &str, &str)] = &[];

// buildctl opens its sessions with an empty shared key, so every `--local context=…`
// build on the daemon reuses one local-source cache; with followpaths, files of another
// case's context can show through. Context paths therefore have case-unique names
// (`chmod-dir`, `chown-dir`, …) or identical contents across cases.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases(http_base: &str, payload_sum: &str) -> Vec<Case> {
    let arg = |k: &str, v: &str| (k.to_string(), v.to_string());
    let special: Vec<Case> = vec![
        Case { name: "from-arg", build_args: vec![arg("TAG", "latest")], ..Default::default() },
        Case { name: "arg-scoping", build_args: vec![arg("OVERRIDDEN", "from-cli"), arg("UNUSED", "x")], ..Default::default() },
        Case { name: "target-prune", target: Some("wanted"), ..Default::default() },
        Case { name: "run-mount-secret", secret: true, ..Default::default() },
        Case { name: "add-url", build_args: vec![arg("BASE_URL", http_base), arg("SUM", payload_sum)], ..Default::default() },
        Case {
            name: "copy-parents",
            frontend: false,
            expect: &["dst/a/b/1.txt", "dst2/x/1/2/y.txt", "!dst/1.txt"],
            ..Default::default()
        },
        Case {
            name: "copy-exclude",
            frontend: false,
            expect: &["app/keep.txt", "!app/drop.log", "added/keep.txt", "added/drop.log", "!added/skip", "!added/a.tmp"],
            ..Default::default()
        },
    ];
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            special.iter().find(|c| c.name == name).cloned().unwrap_or_else(|| Case {
                name: Box::leak(name.into_boxed_str()),
                frontend: true,
                ..Default::default()
            })
        })
        .map(|mut c| {
            if !matches!(c.name, "copy-parents" | "copy-exclude") {
                c.frontend = true;
            }
            c
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ty = entry.file_type().unwrap();
        if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A small tar with a file, a directory, a symlink and explicit owners and modes.
fn make_tar(gzip: bool) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, uid: u64, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid + 1);
        h.set_mtime(1_600_000_000);
        h.set_size(data.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        builder.append_data(&mut h, path, data).unwrap();
    };
    add("etc/", tar::EntryType::Directory, 0o755, 0, b"", None);
    add("etc/tarred.conf", tar::EntryType::Regular, 0o640, 7, b"from the tar\n", None);
    add("opt/tool/", tar::EntryType::Directory, 0o750, 3, b"", None);
    add("opt/tool/run", tar::EntryType::Regular, 0o755, 3, b"#!/bin/sh\n", None);
    add("opt/tool/link", tar::EntryType::Symlink, 0o777, 0, b"", Some("run"));
    let bytes = builder.into_inner().unwrap();
    if !gzip {
        return bytes;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&bytes).unwrap();
    enc.finish().unwrap()
}

const PAYLOAD: &[u8] = b"payload served by the test\n";

/// A tiny HTTP server on 127.0.0.1 serving PAYLOAD for every path (ADD <url>).
fn serve_payload() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).starts_with("HEAD");
            let mut resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nLast-Modified: Mon, 02 Jan 2006 15:04:05 GMT\r\nConnection: close\r\n\r\n",
                PAYLOAD.len()
            )
            .into_bytes();
            if !head {
                resp.extend_from_slice(PAYLOAD);
            }
            let _ = stream.write_all(&resp);
        }
    });
    format!("http://{addr}")
}

fn run_ok(cmd: &mut Command, stdin: Option<&[u8]>, what: &str) -> Vec<u8> {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{what} failed:\n{}", common::text(&out.stderr));
    out.stdout
}

fn buildctl(addr: &str) -> Command {
    let mut c = Command::new("buildctl");
    c.args(["--addr", addr]);
    c
}

/// Builds and pushes the image with ONBUILD triggers that `onbuild-consume` starts from.
fn push_onbuild_base(addr: &str) {
    let dir = fixtures().join("corpus-support");
    run_ok(
        buildctl(addr).args(["build", "--frontend", "dockerfile.v0", "--progress", "plain"]).args([
            "--local",
            &format!("context={}", dir.display()),
            "--local",
            &format!("dockerfile={}", dir.display()),
            "--opt",
            "filename=onbuild-base.Dockerfile",
            "--output",
            &format!("type=image,name={ONBUILD_BASE},push=true,registry.insecure=true"),
        ]),
        None,
        "push the ONBUILD base",
    );
}

struct Outcome {
    name: &'static str,
    problems: Vec<String>,
    allowed: Vec<String>,
}

fn run_case(addr: &str, case: &Case, work: &Path) -> Outcome {
    let ctx = work.join(case.name).join("context");
    copy_tree(&fixtures().join("corpus").join(case.name), &ctx);
    match case.name {
        "from-scratch" => std::fs::write(ctx.join("rootfs.tar"), make_tar(false)).unwrap(),
        "add-wildcard" => {
            // Unpacked when matched by a wildcard; kept as a file when inside a directory.
            std::fs::write(ctx.join("wild.tar"), make_tar(false)).unwrap();
            std::fs::create_dir_all(ctx.join("nested")).unwrap();
            std::fs::write(ctx.join("nested/inner.tar"), make_tar(false)).unwrap();
        }
        "add-tar" => {
            std::fs::write(ctx.join("plain.tar"), make_tar(false)).unwrap();
            std::fs::write(ctx.join("packed.tar.gz"), make_tar(true)).unwrap();
        }
        _ => {}
    }
    let out = work.join(case.name);
    let secret_file = out.join("tok.secret");
    std::fs::write(&secret_file, "s3cr3t-value").unwrap();
    let secret = format!("id=tok,src={}", secret_file.display());

    // 1. bentokit's LLB, solved by buildctl.
    let mut llb = common::bentokit();
    llb.args(["--addr", addr, "llb", "--format", "pb"]);
    let mut build = common::bentokit();
    build.args(["--addr", addr, "build", "--progress", "plain"]);
    let mut frontend = buildctl(addr);
    frontend.args(["build", "--progress", "plain", "--frontend", "dockerfile.v0"]);
    frontend.args(["--local", &format!("dockerfile={}", ctx.display())]);
    for (k, v) in &case.build_args {
        llb.args(["--build-arg", &format!("{k}={v}")]);
        build.args(["--build-arg", &format!("{k}={v}")]);
        frontend.args(["--opt", &format!("build-arg:{k}={v}")]);
    }
    if let Some(t) = case.target {
        llb.args(["--target", t]);
        build.args(["--target", t]);
        frontend.args(["--opt", &format!("target={t}")]);
    }
    llb.arg(&ctx);
    let pb = run_ok(&mut llb, None, &format!("{}: bentokit llb", case.name));
    let llb_tar = out.join("llb.tar");
    let mut solve = buildctl(addr);
    solve.args(["build", "--progress", "plain", "--local", &format!("context={}", ctx.display())]);
    solve.args(["--output", &format!("type=oci,dest={}", llb_tar.display())]);
    if case.secret {
        solve.args(["--secret", &secret]);
        build.args(["--secret", &secret]);
        frontend.args(["--secret", &secret]);
    }
    run_ok(&mut solve, Some(&pb), &format!("{}: buildctl build < bentokit llb", case.name));

    // 2. bentokit build.
    let build_tar = out.join("build.tar");
    build.args(["--output", &format!("type=oci,dest={}", build_tar.display())]).arg(&ctx);
    run_ok(&mut build, None, &format!("{}: bentokit build", case.name));

    let ours_llb = rootfs::read_oci(&std::fs::read(&llb_tar).unwrap());
    let ours = rootfs::read_oci(&std::fs::read(&build_tar).unwrap());
    let mut problems: Vec<String> =
        rootfs::diff_fs(&ours_llb.fs, &ours.fs).into_iter().map(|d| format!("llb vs build: {d}")).collect();

    if case.frontend {
        // 3. BuildKit's dockerfile frontend on the same Dockerfile and context.
        let frontend_tar = out.join("frontend.tar");
        frontend.args(["--local", &format!("context={}", ctx.display())]);
        frontend.args(["--output", &format!("type=oci,dest={}", frontend_tar.display())]);
        run_ok(&mut frontend, None, &format!("{}: buildctl --frontend dockerfile.v0", case.name));
        let theirs = rootfs::read_oci(&std::fs::read(&frontend_tar).unwrap());
        problems.extend(rootfs::diff_fs(&ours_llb.fs, &theirs.fs));
        problems.extend(rootfs::diff_config(&ours.config, &theirs.config));
        problems.extend(rootfs::diff_history(&ours.config, &theirs.config));
    }
    for want in case.expect {
        match want.strip_prefix('!') {
            Some(absent) if ours.fs.contains_key(absent) => problems.push(format!("/{absent} should be absent")),
            None if !ours.fs.contains_key(*want) => problems.push(format!("/{want} is missing")),
            _ => {}
        }
    }
    let (allowed, problems): (Vec<String>, Vec<String>) = problems.into_iter().partition(|p| {
        ALLOWED.iter().any(|(c, prefix, _)| *c == case.name && p.starts_with(prefix))
    });
    Outcome { name: case.name, problems, allowed }
}

#[test]
fn corpus_matches_the_dockerfile_frontend() {
    let Some(addr) = common::shared_daemon() else { return };
    let http = serve_payload();
    let sum = format!("sha256:{}", hex::encode(Sha256::digest(PAYLOAD)));
    let only = std::env::var("CORPUS_CASE").ok();
    let all = cases(&http, &sum);
    assert!(all.len() >= 30, "the corpus has {} cases", all.len());
    let selected: Vec<Case> = all.into_iter().filter(|c| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == c.name))).collect();
    if selected.iter().any(|c| c.name == "onbuild-consume") {
        push_onbuild_base(&addr);
    }
    let work = tempfile::Builder::new().prefix("bentokit-corpus-").tempdir().unwrap();
    let queue = Mutex::new(selected.clone());
    let results = Mutex::new(Vec::new());
    // Two workers: the machine has two cores shared with other people's tests.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(case) = queue.lock().unwrap().pop() else { break };
                let name = case.name;
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&addr, &case, work.path())))
                    .unwrap_or_else(|e| {
                        let msg = e.downcast_ref::<String>().cloned().unwrap_or_else(|| format!("{:?}", e.downcast_ref::<&str>()));
                        Outcome { name, problems: vec![format!("error: {msg}")], allowed: vec![] }
                    });
                results.lock().unwrap().push(outcome);
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|o| o.name);
    let mut report = String::new();
    for o in &results {
        for a in &o.allowed {
            eprintln!("{}: allowed difference: {a}", o.name);
        }
        if !o.problems.is_empty() {
            report.push_str(&format!("\n== {} ==\n", o.name));
            for p in o.problems.iter().take(40) {
                report.push_str(&format!("  {p}\n"));
            }
        }
    }
    let failed = results.iter().filter(|o| !o.problems.is_empty()).count();
    eprintln!("corpus: {} cases, {} differ", results.len(), failed);
    assert!(report.is_empty(), "{failed} of {} cases differ from the dockerfile frontend:{report}", results.len());
}


fn layer(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, *data).unwrap();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&b.into_inner().unwrap()).unwrap();
    enc.finish().unwrap()
}

/// An OCI layout with the given layers, as `--output type=oci` writes it.
fn oci(layers: &[Vec<u8>]) -> Vec<u8> {
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |data: Vec<u8>| {
        let d = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        blobs.push((d.clone(), data));
        d
    };
    let config = add(br#"{"config":{"Env":["A=1"]},"history":[]}"#.to_vec());
    let layer_descs: Vec<serde_json::Value> = layers.iter().map(|l| serde_json::json!({"digest": add(l.clone())})).collect();
    let manifest = add(serde_json::to_vec(&serde_json::json!({"config": {"digest": config}, "layers": layer_descs})).unwrap());
    let index = serde_json::to_vec(&serde_json::json!({"manifests": [{"digest": manifest}]})).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut put = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    };
    put("index.json", &index);
    for (d, data) in &blobs {
        put(&format!("blobs/sha256/{}", d.trim_start_matches("sha256:")), data);
    }
    b.into_inner().unwrap()
}

#[test]
fn rootfs_applies_whiteouts_and_reports_differences() {
    use tar::EntryType::{Directory, Regular, Symlink};
    let lower = layer(&[
        ("etc/", Directory, b""),
        ("etc/gone", Regular, b"x"),
        ("opaque/", Directory, b""),
        ("opaque/old", Regular, b"old"),
        ("keep", Regular, b"v1"),
    ]);
    let upper = layer(&[
        ("etc/.wh.gone", Regular, b""),
        ("opaque/.wh..wh..opq", Regular, b""),
        ("opaque/new", Regular, b"new"),
        ("keep", Regular, b"v2"),
        ("link", Symlink, b""),
    ]);
    let image = rootfs::read_oci(&oci(&[lower.clone(), upper]));
    let paths: Vec<&str> = image.fs.keys().map(String::as_str).collect();
    assert_eq!(paths, ["etc", "keep", "link", "opaque", "opaque/new"]);
    assert_eq!(image.config["config"]["Env"][0], "A=1");
    let only_lower = rootfs::read_oci(&oci(&[lower]));
    let diff = rootfs::diff_fs(&image.fs, &only_lower.fs);
    assert!(diff.iter().any(|d| d.starts_with("/keep: ours")), "{diff:?}");
    assert!(diff.iter().any(|d| d.starts_with("only in frontend: /etc/gone")), "{diff:?}");
    assert!(diff.iter().any(|d| d.starts_with("only in ours: /opaque/new")), "{diff:?}");
}
