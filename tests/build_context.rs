//! Real-daemon tests: local context sync (filters, symlinks, .dockerignore, followpaths,
//! mounts of extra directories) into an image exported as an OCI tarball; metadata file;
//! no output left by a failing build.

#[path = "gateway/mod.rs"]
mod common;

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use bentokit::session::LocalContext;
use bentokit::solve::{Build, BuildOptions, ExportSpec, PlatformResult};
use common::*;

fn write(root: &Path, rel: &str, data: &str, mode: u32) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn context_sync_to_oci_tarball() {
    let Some(conn) = daemon().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    write(&ctx, "app/main.py", "print('hi')\n", 0o644);
    write(&ctx, "app/run.sh", "#!/bin/sh\necho run\n", 0o755);
    write(&ctx, "app/deep/nested/data.txt", &unique("data-"), 0o600);
    write(&ctx, "app/secret.key", "KEY", 0o644); // excluded by .dockerignore
    write(&ctx, "app/cache/x.pyc", "x", 0o644); // excluded by .dockerignore (**)
    write(&ctx, "app/cache/keep.pyc", "k", 0o644); // re-included by !
    write(&ctx, "notes.txt", "not requested", 0o644); // outside the followpaths
    write(&ctx, ".dockerignore", "**/*.key\napp/cache\n!app/cache/keep.pyc\n", 0o644);
    std::os::unix::fs::symlink("main.py", ctx.join("app/link.py")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", ctx.join("app/escape")).unwrap();
    std::os::unix::fs::symlink("app", ctx.join("applink")).unwrap();
    // A "model store" directory mounted into the context without copying.
    let store = tmp.path().join("store");
    write(&store, "saved_model.bin", "weights", 0o644);

    let context = LocalContext::new(&ctx).with_dockerignore(None).unwrap().with_mount("app/models/iris/v1", &store);
    // A second named context in the same build.
    let extra = tmp.path().join("extra");
    write(&extra, "conf/settings.yaml", "a: 1\n", 0o640);
    let out = tmp.path().join("image.tar");
    let meta = tmp.path().join("meta.json");
    let opts = BuildOptions {
        exports: vec![ExportSpec::parse(&format!("type=oci,dest={},name=localhost:5000/bentokit-test/ctx:1", out.display())).unwrap()],
        locals: HashMap::from([("context".to_string(), context), ("extra".to_string(), LocalContext::new(&extra))]),
        metadata_file: Some(meta.clone()),
        ..Default::default()
    };
    let build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let p = amd64();
    let mut llb = Llb::default();
    // followpaths through a symlink: "applink" resolves to "app".
    let local = llb.local("context", build.session_id(), &[("local.followpaths", r#"["applink"]"#)]);
    let copied = llb.copy(None, &local, "/", "/", &p);
    let extra_src = llb.local("extra", build.session_id(), &[]);
    let copied = llb.copy(Some(&copied), &extra_src, "/conf", "/etc/extra", &p);
    let config = image_config(&p, &["PATH=/bin"], "1000", &["/app/run.sh"]);
    let outcome = build.finish(vec![PlatformResult { platform: p.clone(), definition: llb.definition(&copied), image_config: config }]).await.unwrap();
    assert!(outcome.exporter_response.contains_key("containerimage.digest"), "{:?}", outcome.exporter_response);
    assert_eq!(outcome.outputs, vec![out.clone()]);

    let layout = OciLayout::unpack(&out, &tmp.path().join("layout"));
    let manifests = layout.manifests();
    assert_eq!(manifests.len(), 1);
    let rootfs = tmp.path().join("rootfs");
    layout.rootfs(&manifests[0], &rootfs);
    let mut found: Vec<String> = walk_files(&rootfs).iter().map(|p| p.strip_prefix(&rootfs).unwrap().display().to_string()).collect();
    found.sort();
    assert_eq!(
        found,
        [
            "app/cache/keep.pyc",
            "app/deep/nested/data.txt",
            "app/escape",
            "app/link.py",
            "app/main.py",
            "app/models/iris/v1/saved_model.bin",
            "app/run.sh",
            "applink",
            "etc/extra/settings.yaml",
        ]
    );
    for (rel, mode) in [("app/run.sh", 0o755), ("app/main.py", 0o644), ("app/deep/nested/data.txt", 0o600)] {
        let src = std::fs::metadata(ctx.join(rel)).unwrap();
        let dst = std::fs::metadata(rootfs.join(rel)).unwrap();
        assert_eq!(dst.mode() & 0o7777, mode, "{rel}");
        assert_eq!(std::fs::read(ctx.join(rel)).unwrap(), std::fs::read(rootfs.join(rel)).unwrap(), "{rel}");
        assert_eq!(src.mtime(), dst.mtime(), "{rel}");
    }
    assert_eq!(std::fs::read_link(rootfs.join("app/link.py")).unwrap().to_str(), Some("main.py"));
    assert_eq!(std::fs::read_link(rootfs.join("app/escape")).unwrap().to_str(), Some("/etc/passwd"));
    assert_eq!(std::fs::read(rootfs.join("app/models/iris/v1/saved_model.bin")).unwrap(), b"weights");

    let config = layout.json(manifests[0]["config"]["digest"].as_str().unwrap());
    assert_eq!(config["config"]["Entrypoint"][0], "/app/run.sh");
    assert_eq!(config["config"]["User"], "1000");

    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(meta["containerimage.digest"], manifests_digest(&layout));
    assert!(meta["containerimage.descriptor"]["mediaType"].is_string(), "{meta}");
    // no temporaries left next to the outputs
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains("bentokit-")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn manifests_digest(layout: &OciLayout) -> String {
    layout.index()["manifests"][0]["digest"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn failing_build_leaves_no_output() {
    let Some(conn) = daemon().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("image.tar");
    let local_out = tmp.path().join("local-out");
    let opts = BuildOptions {
        exports: vec![
            ExportSpec::parse(&format!("type=oci,dest={}", out.display())).unwrap(),
            ExportSpec::parse(&format!("type=local,dest={}", local_out.display())).unwrap(),
        ],
        metadata_file: Some(tmp.path().join("meta.json")),
        ..Default::default()
    };
    let build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let p = amd64();
    let resolved = build.gateway().resolve_image_config(BASE_IMAGE, &p).await.unwrap();
    let mut llb = Llb::default();
    let base = llb.image(&format!("{BASE_IMAGE}@{}", resolved.digest), &p);
    let failing = llb.exec(&base, &format!("echo {}; exit 3", unique("fail-")), vec![], &p);
    let err = build
        .finish(vec![PlatformResult { platform: p, definition: llb.definition(&failing), image_config: resolved.config_json }])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("exit code: 3") || text.contains("did not complete successfully"), "{text}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "a failed build left {left:?}");
}
