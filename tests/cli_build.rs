//! Issue 6 through the CLI: `bentokit build` against the shared buildkitd (BUILDKIT_HOST or
//! unix:///run/buildkit/buildkitd.sock) and the registry on localhost:5000. Secrets leave no
//! trace in any layer or config, a missing required secret is a clear error, cache mounts
//! persist, build-args reach RUN, `--target` picks a stage, a two-platform build pushes an
//! index and writes the same into an OCI tarball, and the docker/tar/local outputs and
//! `--metadata-file` hold what they should. Skips without a daemon (fails under CI=true).

#[path = "common/mod.rs"]
mod common;
#[path = "gateway/mod.rs"]
#[allow(unused)]
mod gw;

use std::path::Path;
use std::process::{Command, Output};

use common::{bentokit, shared_daemon, text};
use gw::{contains, unique, OciLayout};

const BASE: &str = "localhost:5000/base:latest";

/// `bentokit --addr ADDR build ARGS...` with stdin closed.
fn build(addr: &str, context: &Path, args: &[&str]) -> Output {
    let out = bentokit()
        .args(["--addr", addr, "build"])
        .args(args)
        .arg(context)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run bentokit");
    eprintln!("--- bentokit build {args:?}: {}\n{}", out.status, text(&out.stderr));
    out
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "bentokit build failed ({}):\n{}", out.status, text(&out.stderr));
    text(&out.stdout)
}

fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("bentokit-cli-").tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

fn curl_json(url: &str, accept: &str) -> serde_json::Value {
    let out = Command::new("curl").args(["-fsS", "-H", &format!("Accept: {accept}"), url]).output().unwrap();
    assert!(out.status.success(), "curl {url}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{url}: {e}: {}", text(&out.stdout)))
}

#[test]
fn secret_is_used_and_leaves_no_trace_in_layers_or_config() {
    let Some(addr) = shared_daemon() else { return };
    let secret = unique("AKIA-bentokit-secret-");
    let nonce = unique("n");
    // The Dockerfile only holds the hash: the value itself must come through the mount.
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(secret.as_bytes()))
    };
    let ctx = context(&[(
        "Dockerfile",
        &format!(
            "FROM {BASE}\nRUN --mount=type=secret,id=aws,target=/root/.aws/credentials,required=true \\\n    \
             test \"$(sha256sum < /root/.aws/credentials | cut -d' ' -f1)\" = {hash} && echo mounted-{nonce} > /proof && cat /root/.aws/credentials\n\
             ENV AFTER=1\n"
        ),
    )]);
    let creds = ctx.path().join("creds");
    std::fs::write(&creds, &secret).unwrap();
    // The secret file sits in the context too: exclude it so only the mount carries it.
    std::fs::write(ctx.path().join(".dockerignore"), "creds\n").unwrap();
    let tar = ctx.path().join("image.tar");
    let meta = ctx.path().join("meta.json");
    let cache_tag = unique("s");
    let out = build(
        &addr,
        ctx.path(),
        &[
            "--progress=plain",
            "--secret",
            &format!("id=aws,src={}", creds.display()),
            "--output",
            &format!("type=oci,dest={}", tar.display()),
            "--metadata-file",
            meta.to_str().unwrap(),
            "--cache-to",
            &format!("type=registry,ref=localhost:5000/bentokit-clitest/secretcache:{cache_tag},mode=max"),
        ],
    );
    let stdout = ok(&out);
    assert!(!text(&out.stderr).contains(&secret), "the secret was printed");

    let layout = OciLayout::unpack(&tar, &ctx.path().join("oci"));
    let manifests = layout.manifests();
    assert_eq!(manifests.len(), 1);
    let rootfs = ctx.path().join("rootfs");
    layout.rootfs(&manifests[0], &rootfs);
    assert_eq!(std::fs::read_to_string(rootfs.join("proof")).unwrap().trim(), format!("mounted-{nonce}"));
    let leftover = std::fs::read(rootfs.join("root/.aws/credentials")).unwrap_or_default();
    assert!(leftover.is_empty(), "the secret mount left a file with content in the image");
    for blob in layout.all_blob_bytes() {
        assert!(!contains(&blob, secret.as_bytes()), "a blob of the image holds the secret");
    }
    let config = layout.json(manifests[0]["config"]["digest"].as_str().unwrap());
    assert!(!config.to_string().contains(&secret));
    assert!(config["config"]["Env"].as_array().unwrap().iter().any(|e| e == "AFTER=1"), "{config}");

    // Nor is it in the exported build cache (mode=max: every intermediate layer).
    let repo = "http://localhost:5000/v2/bentokit-clitest/secretcache";
    let index = curl_json(&format!("{repo}/manifests/{cache_tag}"), "application/vnd.oci.image.index.v1+json");
    let blobs = index["manifests"].as_array().expect("a cache index");
    assert!(blobs.len() >= 2, "{index}");
    let mut saw_step_layer = false;
    for desc in blobs {
        let path = ctx.path().join("blob");
        let digest = desc["digest"].as_str().unwrap();
        gw::run(Command::new("curl").args(["-fsS", "-o", path.to_str().unwrap(), &format!("{repo}/blobs/{digest}")]));
        let raw = std::fs::read(&path).unwrap();
        let unpacked = if raw.starts_with(&[0x1f, 0x8b]) { Command::new("gzip").arg("-dc").arg(&path).output().unwrap().stdout } else { raw.clone() };
        assert!(!contains(&raw, secret.as_bytes()) && !contains(&unpacked, secret.as_bytes()), "cache blob {digest} holds the secret");
        saw_step_layer |= contains(&unpacked, format!("mounted-{nonce}").as_bytes());
    }
    assert!(saw_step_layer, "the RUN step's layer is not in the exported cache");

    // --metadata-file and stdout agree with the tarball.
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    let digest = meta["containerimage.digest"].as_str().expect("containerimage.digest in the metadata file");
    assert!(digest.starts_with("sha256:"), "{meta}");
    assert_eq!(stdout.trim(), digest, "stdout must hold the image digest");
    assert_eq!(layout.index()["manifests"][0]["digest"].as_str().unwrap(), digest);
}

#[test]
fn missing_required_secret_is_a_clear_error() {
    let Some(addr) = shared_daemon() else { return };
    let ctx = context(&[(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN --mount=type=secret,id=aws,target=/root/.aws/credentials,required=true cat /root/.aws/credentials # {}\n", unique("m")),
    )]);
    let out = build(&addr, ctx.path(), &["--progress=plain"]);
    assert_eq!(out.status.code(), Some(1), "a missing required secret must exit 1");
    let err = text(&out.stderr);
    assert!(err.contains("aws"), "the error must name the secret: {err}");
    assert!(err.contains("--secret id="), "the error must say how to pass it: {err}");
    assert!(!err.contains("panicked"), "{err}");

    // A --secret whose file does not exist is reported as such, before anything is built.
    let out = build(&addr, ctx.path(), &["--progress=plain", "--secret", "id=aws,src=/nonexistent/bentokit/creds"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent/bentokit/creds") && err.contains("id=aws"), "{err}");
    assert!(!err.contains("#1 "), "the build must not start: {err}");
}

#[test]
fn cache_mounts_persist_across_builds() {
    let Some(addr) = shared_daemon() else { return };
    let cache_id = unique("bentokit-cli-cache-");
    let value = unique("v");
    let write = context(&[(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN --mount=type=cache,id={cache_id},target=/cache echo {value} > /cache/kept\n"),
    )]);
    ok(&build(&addr, write.path(), &["--progress=plain"]));

    // Another Dockerfile (no shared steps) mounting the same cache reads what the first left.
    let read = context(&[(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN --mount=type=cache,id={cache_id},target=/var/cache/x cp /var/cache/x/kept /seen # {}\n", unique("r")),
    )]);
    let dest = read.path().join("out");
    ok(&build(&addr, read.path(), &["--progress=plain", "--output", &format!("type=local,dest={}", dest.display())]));
    assert_eq!(std::fs::read_to_string(dest.join("seen")).unwrap().trim(), value);
    assert!(!dest.join("var/cache/x/kept").exists(), "a cache mount's content must not be in the image");
}

#[test]
fn build_args_reach_run_and_target_picks_a_stage() {
    let Some(addr) = shared_daemon() else { return };
    let nonce = unique("t");
    let dockerfile = format!(
        "ARG BASE_IMAGE={BASE}\nFROM $BASE_IMAGE AS first\nARG GREETING=default\nRUN echo \"$GREETING {nonce}\" > /greeting\n\n\
         FROM $BASE_IMAGE AS second\nRUN echo second > /second\n"
    );
    let ctx = context(&[("Dockerfile", &dockerfile)]);
    let first = ctx.path().join("first");
    ok(&build(
        &addr,
        ctx.path(),
        &["--progress=plain", "--target", "first", "--build-arg", "GREETING=hello-arg", "--output", &format!("type=local,dest={}", first.display())],
    ));
    assert_eq!(std::fs::read_to_string(first.join("greeting")).unwrap().trim(), format!("hello-arg {nonce}"));
    assert!(!first.join("second").exists(), "--target first must not build the last stage");

    let last = ctx.path().join("last");
    ok(&build(&addr, ctx.path(), &["--progress=plain", "--output", &format!("type=local,dest={}", last.display())]));
    assert!(last.join("second").exists() && !last.join("greeting").exists());

    let default_arg = ctx.path().join("default");
    ok(&build(&addr, ctx.path(), &["--progress=plain", "--target=first", "--output", &format!("type=local,dest={}", default_arg.display())]));
    assert_eq!(std::fs::read_to_string(default_arg.join("greeting")).unwrap().trim(), format!("default {nonce}"));

    let out = build(&addr, ctx.path(), &["--progress=plain", "--target", "nosuchstage"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nosuchstage"), "{}", text(&out.stderr));
}

const MULTI_DOCKERFILE: &str = "FROM scratch\nCOPY hello.txt /hello.txt\nENV APP_MODE=production GREETING=\"hi there\"\nUSER 1234:5678\nENTRYPOINT [\"/app\", \"--serve\"]\n";

fn assert_config(config: &serde_json::Value, arch: &str) {
    assert_eq!(config["architecture"], arch, "{config}");
    assert_eq!(config["os"], "linux");
    let env: Vec<&str> = config["config"]["Env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(env.contains(&"APP_MODE=production") && env.contains(&"GREETING=hi there"), "{env:?}");
    assert_eq!(config["config"]["User"], "1234:5678");
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/app", "--serve"]));
}

/// Layer digests (media types differ: the image exporter pushes docker types by default).
fn layer_digests(layers: &serde_json::Value) -> Vec<String> {
    layers.as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect()
}

#[test]
fn two_platforms_push_an_index_and_an_oci_tarball() {
    let Some(addr) = shared_daemon() else { return };
    let hello = unique("hello-");
    let ctx = context(&[("Dockerfile", MULTI_DOCKERFILE), ("hello.txt", &hello)]);
    let tag = unique("m");
    let name = format!("localhost:5000/bentokit-clitest/multi:{tag}");
    let tar = ctx.path().join("multi.tar");
    let meta = ctx.path().join("meta.json");
    let stdout = ok(&build(
        &addr,
        ctx.path(),
        &[
            "--progress=plain",
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            &name,
            "--push",
            "--metadata-file",
            meta.to_str().unwrap(),
        ],
    ));
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    let digest = meta["containerimage.digest"].as_str().unwrap();
    assert_eq!(stdout.trim(), format!("{name}@{digest}"), "stdout names the pushed image and its digest");

    // The registry holds an index with one manifest per platform, each with its config.
    let accept = "application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json";
    let index = curl_json(&format!("http://localhost:5000/v2/bentokit-clitest/multi/manifests/{tag}"), accept);
    let mut archs = Vec::new();
    let mut pushed_layers = Vec::new();
    for desc in index["manifests"].as_array().expect("an index") {
        if desc["platform"]["architecture"] == "unknown" {
            continue; // attestation manifests
        }
        let arch = desc["platform"]["architecture"].as_str().unwrap().to_string();
        let manifest = curl_json(
            &format!("http://localhost:5000/v2/bentokit-clitest/multi/manifests/{}", desc["digest"].as_str().unwrap()),
            "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json",
        );
        let config = curl_json(
            &format!("http://localhost:5000/v2/bentokit-clitest/multi/blobs/{}", manifest["config"]["digest"].as_str().unwrap()),
            "*/*",
        );
        assert_config(&config, &arch);
        pushed_layers.push((arch.clone(), layer_digests(&manifest["layers"])));
        archs.push(arch);
    }
    archs.sort();
    assert_eq!(archs, ["amd64", "arm64"]);

    // The OCI tarball of the same build holds the same.
    let out = build(
        &addr,
        ctx.path(),
        &["--progress=plain", "--platform=linux/amd64", "--platform=linux/arm64", "--output", &format!("type=oci,dest={}", tar.display())],
    );
    ok(&out);
    let layout = OciLayout::unpack(&tar, &ctx.path().join("oci"));
    let mut archs = Vec::new();
    for manifest in layout.manifests() {
        let config = layout.json(manifest["config"]["digest"].as_str().unwrap());
        let arch = config["architecture"].as_str().unwrap().to_string();
        assert_config(&config, &arch);
        let rootfs = ctx.path().join(format!("rootfs-{arch}"));
        layout.rootfs(&manifest, &rootfs);
        assert_eq!(std::fs::read_to_string(rootfs.join("hello.txt")).unwrap(), hello);
        archs.push(arch);
    }
    archs.sort();
    assert_eq!(archs, ["amd64", "arm64"]);
    // Same content: the same layers per platform as the pushed image (configs differ only
    // by their creation time).
    let mut tar_layers: Vec<(String, Vec<String>)> = layout
        .manifests()
        .iter()
        .map(|m| (layout.json(m["config"]["digest"].as_str().unwrap())["architecture"].as_str().unwrap().to_string(), layer_digests(&m["layers"])))
        .collect();
    tar_layers.sort_by(|a, b| a.0.cmp(&b.0));
    pushed_layers.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(tar_layers, pushed_layers);
}

#[test]
fn docker_tar_and_local_outputs() {
    let Some(addr) = shared_daemon() else { return };
    let hello = unique("hello-");
    let ctx = context(&[("Dockerfile", "FROM scratch\nCOPY hello.txt /data/hello.txt\nCMD [\"/x\"]\n"), ("hello.txt", &hello)]);
    let dir = tempfile::tempdir().unwrap();

    let docker = dir.path().join("docker.tar");
    ok(&build(&addr, ctx.path(), &["--progress=quiet", "--output", &format!("type=docker,name=bentokit-clitest/docker:1,dest={}", docker.display())]));
    let unpacked = dir.path().join("docker");
    std::fs::create_dir_all(&unpacked).unwrap();
    gw::run(Command::new("tar").arg("-xf").arg(&docker).arg("-C").arg(&unpacked));
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "bentokit-clitest/docker:1", "{manifest}");

    let plain_tar = dir.path().join("fs.tar");
    ok(&build(&addr, ctx.path(), &["--progress=quiet", "--output", &format!("type=tar,dest={}", plain_tar.display())]));
    let listing = gw::run(Command::new("tar").arg("-tf").arg(&plain_tar));
    assert!(listing.lines().any(|l| l.trim_start_matches("./") == "data/hello.txt"), "{listing}");

    let local = dir.path().join("local");
    ok(&build(&addr, ctx.path(), &["--progress=quiet", "-o", &format!("type=local,dest={}", local.display())]));
    assert_eq!(std::fs::read_to_string(local.join("data/hello.txt")).unwrap(), hello);
}

#[test]
fn no_cache_filter_reruns_only_the_named_stage_and_no_cache_reruns_all() {
    let Some(addr) = shared_daemon() else { return };
    let nonce = unique("nc");
    let ctx = context(&[(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS a\nRUN echo a-ran-{nonce} | tee /a\n\nFROM {BASE}\nRUN echo b-ran-{nonce} | tee /b\nCOPY --from=a /a /a\n"
        ),
    )]);
    // A step ran when its log line (`#N 0.123 a-ran-…`) is printed.
    let ran = |stderr: &str, what: &str| stderr.lines().any(|l| l.ends_with(&format!("{what}-ran-{nonce}")) && !l.contains("RUN"));
    let warm = build(&addr, ctx.path(), &["--progress=plain"]);
    ok(&warm);
    assert!(ran(&text(&warm.stderr), "a") && ran(&text(&warm.stderr), "b"));

    let filtered = build(&addr, ctx.path(), &["--progress=plain", "--no-cache-filter", "a"]);
    ok(&filtered);
    assert!(ran(&text(&filtered.stderr), "a"), "--no-cache-filter a must re-run stage a");
    assert!(!ran(&text(&filtered.stderr), "b"), "--no-cache-filter a must leave the other stage cached");

    let all = build(&addr, ctx.path(), &["--progress=plain", "--no-cache"]);
    ok(&all);
    assert!(ran(&text(&all.stderr), "a") && ran(&text(&all.stderr), "b"), "--no-cache re-runs every step");
}
