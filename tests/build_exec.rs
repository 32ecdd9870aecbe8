//! Real-daemon tests with RUN-equivalent execs: secret mounts (and no trace of the value in
//! any layer or config), a missing secret, cache mounts across builds, and the
//! image/docker/tar/local exporters.

#[path = "gateway/mod.rs"]
mod common;

use bentokit::session::SecretSpec;
use bentokit::solve::{Build, BuildOptions, ExportSpec, PlatformResult, ResolvedImage};
use bollard_buildkit_proto::pb;
use common::*;

async fn base(build: &Build, p: &pb::Platform) -> ResolvedImage {
    build.gateway().resolve_image_config(BASE_IMAGE, p).await.unwrap()
}

#[tokio::test]
async fn secret_mount_leaves_no_trace() {
    let Some(conn) = daemon().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let secret_value = unique("AKIA-SECRET-VALUE-");
    let creds = tmp.path().join("credentials");
    std::fs::write(&creds, format!("[default]\naws_secret_access_key = {secret_value}\n")).unwrap();
    std::env::set_var("BENTOKIT_TEST_TOKEN", format!("env-{secret_value}"));
    let out = tmp.path().join("image.tar");
    let meta = tmp.path().join("meta.json");
    let opts = BuildOptions {
        exports: vec![ExportSpec::parse(&format!("type=oci,dest={}", out.display())).unwrap()],
        secrets: vec![
            SecretSpec::parse(&format!("id=aws,src={}", creds.display())).unwrap(),
            SecretSpec::parse("id=tok,env=BENTOKIT_TEST_TOKEN").unwrap(),
        ],
        metadata_file: Some(meta.clone()),
        ..Default::default()
    };
    let mut build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let status = build.take_status().unwrap();
    let printer = tokio::spawn(bentokit::solve::plain_progress::collect_states(status));
    let p = amd64();
    let resolved = base(&build, &p).await;
    let mut llb = Llb::default();
    let img = llb.image(&format!("{BASE_IMAGE}@{}", resolved.digest), &p);
    let script = "wc -c < /root/.aws/credentials > /aws.len && grep -c aws_secret /root/.aws/credentials > /aws.lines && wc -c < /run/secrets/tok > /tok.len";
    // Secrets are not part of the cache key: bust the cache so this run's value is read.
    let script = format!("{script} # {}", unique(""));
    let run = llb.exec(&img, &script, vec![(None, secret_mount("aws", "/root/.aws/credentials")), (None, secret_mount("tok", "/run/secrets/tok"))], &p);
    build.finish(vec![PlatformResult { platform: p, definition: llb.definition(&run), image_config: resolved.config_json }]).await.unwrap();

    let layout = OciLayout::unpack(&out, &tmp.path().join("layout"));
    let rootfs = tmp.path().join("rootfs");
    layout.rootfs(&layout.manifests()[0], &rootfs);
    let len: usize = std::fs::read_to_string(rootfs.join("aws.len")).unwrap().trim().parse().unwrap();
    assert_eq!(len, std::fs::metadata(&creds).unwrap().len() as usize, "the exec saw the secret file");
    assert_eq!(std::fs::read_to_string(rootfs.join("aws.lines")).unwrap().trim(), "1");
    let tok_len: usize = std::fs::read_to_string(rootfs.join("tok.len")).unwrap().trim().parse().unwrap();
    assert_eq!(tok_len, secret_value.len() + 4);
    for blob in layout.all_blob_bytes() {
        assert!(!contains(&blob, secret_value.as_bytes()), "the secret leaked into a blob");
    }
    assert!(!contains(&std::fs::read(&meta).unwrap(), secret_value.as_bytes()));
    let states = printer.await.unwrap();
    assert!(!format!("{states:?}").contains(&secret_value));
}

#[tokio::test]
async fn missing_secret_is_a_clear_error() {
    let Some(conn) = daemon().await else { return };
    let build = Build::start(conn.channel.clone(), BuildOptions::default()).await.unwrap();
    let p = amd64();
    let resolved = base(&build, &p).await;
    let mut llb = Llb::default();
    let img = llb.image(&format!("{BASE_IMAGE}@{}", resolved.digest), &p);
    let run = llb.exec(&img, &format!("cat /run/secrets/nothere # {}", unique("")), vec![(None, secret_mount("nothere", "/run/secrets/nothere"))], &p);
    let err = build
        .finish(vec![PlatformResult { platform: p, definition: llb.definition(&run), image_config: resolved.config_json }])
        .await
        .unwrap_err()
        .to_string();
    eprintln!("missing secret error: {err}");
    assert!(err.contains("nothere") && err.contains("--secret id="), "{err}");
}

#[tokio::test]
async fn cache_mount_persists_across_builds() {
    let Some(conn) = daemon().await else { return };
    let id = unique("bentokit-cache-");
    let mut seen = Vec::new();
    for round in 0..2 {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let opts = BuildOptions { exports: vec![ExportSpec::parse(&format!("type=local,dest={}", out.display())).unwrap()], ..Default::default() };
        let build = Build::start(conn.channel.clone(), opts).await.unwrap();
        let p = amd64();
        let resolved = base(&build, &p).await;
        let mut llb = Llb::default();
        let img = llb.image(&format!("{BASE_IMAGE}@{}", resolved.digest), &p);
        let script = format!("echo {round} >> /cache/rounds; mkdir -p /result; cat /cache/rounds > /result/rounds");
        let run = llb.exec(&img, &script, vec![(None, cache_mount(&id, "/cache"))], &p);
        // Export only /result with a FileOp copy onto scratch.
        let result = llb.copy(None, &run, "/result", "/", &p);
        build.finish(vec![PlatformResult { platform: p, definition: llb.definition(&result), image_config: resolved.config_json }]).await.unwrap();
        seen.push(std::fs::read_to_string(out.join("rounds")).unwrap());
    }
    assert_eq!(seen, ["0\n", "0\n1\n"]);
}

#[tokio::test]
async fn docker_tar_local_and_push_exports() {
    let Some(conn) = daemon().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("localhost:5000/bentokit-test/exports:{}", unique("t"));
    let (docker, tar, local) = (tmp.path().join("docker.tar"), tmp.path().join("fs.tar"), tmp.path().join("local"));
    let mut exports = vec![
        ExportSpec::parse(&format!("type=docker,dest={},name={name}", docker.display())).unwrap(),
        ExportSpec::parse(&format!("type=tar,dest={}", tar.display())).unwrap(),
        ExportSpec::parse(&format!("type=local,dest={}", local.display())).unwrap(),
    ];
    bentokit::solve::apply_tags_and_push(&mut exports, std::slice::from_ref(&name), true).unwrap();
    let meta = tmp.path().join("meta.json");
    let opts = BuildOptions { exports, metadata_file: Some(meta.clone()), ..Default::default() };
    let build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let p = amd64();
    let mut llb = Llb::default();
    let a = llb.mkfile(None, "/hello.txt", b"hello exports\n", &p);
    let b = llb.mkfile(Some(&a), "/id", unique("").as_bytes(), &p);
    let config = image_config(&p, &["A=1"], "", &["/bin/true"]);
    let outcome = build.finish(vec![PlatformResult { platform: p, definition: llb.definition(&b), image_config: config }]).await.unwrap();
    assert_eq!(outcome.outputs.len(), 3);

    assert_eq!(std::fs::read(local.join("hello.txt")).unwrap(), b"hello exports\n");
    let listing = run(std::process::Command::new("tar").arg("-tf").arg(&tar));
    assert!(listing.lines().any(|l| l.trim_start_matches("./") == "hello.txt"), "{listing}");
    let listing = run(std::process::Command::new("tar").arg("-tf").arg(&docker));
    assert!(listing.contains("manifest.json"), "{listing}");

    let digest = outcome.exporter_response["containerimage.digest"].clone();
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(meta["containerimage.digest"], digest.as_str());
    assert_eq!(meta["image.name"], name.as_str());
    // The pushed manifest is in the registry under that digest.
    let (repo, _) = name.trim_start_matches("localhost:5000/").split_once(':').unwrap();
    let url = format!("http://127.0.0.1:5000/v2/{repo}/manifests/{digest}");
    let out = run(std::process::Command::new("curl").args(["-fsS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json", &url]));
    assert!(out.contains("layers"), "{out}");
}

#[tokio::test]
async fn refused_entitlement_fails_at_start() {
    let Some(conn) = daemon().await else { return };
    let opts = BuildOptions { entitlements: vec!["security.insecure".into()], ..Default::default() };
    let err = match Build::start(conn.channel.clone(), opts).await {
        Ok(_) => panic!("the shared daemon does not allow security.insecure"),
        Err(e) => e.to_string(),
    };
    eprintln!("entitlement error: {err}");
    assert!(err.contains("security.insecure"), "{err}");
}
