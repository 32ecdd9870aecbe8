//! Real-daemon test: two platforms (FileOp-only on scratch, so no emulation is needed)
//! pushed to the local registry as one OCI index, and the same index in an OCI tarball,
//! each platform's config carrying its own ENV/USER/ENTRYPOINT.

#[path = "gateway/mod.rs"]
mod common;

use bentokit::solve::{Build, BuildOptions, ExportSpec, PlatformResult};
use common::*;

#[tokio::test]
async fn two_platforms_one_index() {
    let Some(conn) = daemon().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let tag = unique("mp");
    let name = format!("localhost:5000/bentokit-test/multi:{tag}");
    let out = tmp.path().join("index.tar");
    let opts = BuildOptions {
        exports: vec![
            ExportSpec::parse(&format!("type=image,name={name},push=true,oci-mediatypes=true")).unwrap(),
            ExportSpec::parse(&format!("type=oci,dest={}", out.display())).unwrap(),
        ],
        ..Default::default()
    };
    let build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let mut results = Vec::new();
    for arch in ["amd64", "arm64"] {
        let p = platform(arch);
        let mut llb = Llb::default();
        let file = llb.mkfile(None, "/arch.txt", format!("{arch} {tag}").as_bytes(), &p);
        let env = format!("ARCH={arch}");
        let config = image_config(&p, &[env.as_str()], &format!("user-{arch}"), &[&format!("/bin/{arch}")]);
        results.push(PlatformResult { platform: p, definition: llb.definition(&file), image_config: config });
    }
    let outcome = build.finish(results).await.unwrap();
    let digest = outcome.exporter_response["containerimage.digest"].clone();

    // The registry holds an index with both manifests.
    let repo = "bentokit-test/multi";
    let fetch = |reference: &str| -> serde_json::Value {
        let url = format!("http://127.0.0.1:5000/v2/{repo}/manifests/{reference}");
        let accept = "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
        serde_json::from_str(&run(std::process::Command::new("curl").args(["-fsS", "-H", accept, &url]))).unwrap()
    };
    let blob = |digest: &str| -> serde_json::Value {
        let url = format!("http://127.0.0.1:5000/v2/{repo}/blobs/{digest}");
        serde_json::from_str(&run(std::process::Command::new("curl").args(["-fsSL", &url]))).unwrap()
    };
    let index = fetch(&digest);
    let manifests = index["manifests"].as_array().expect("an index");
    let mut archs: Vec<String> = manifests.iter().map(|m| m["platform"]["architecture"].as_str().unwrap().to_string()).collect();
    archs.sort();
    assert_eq!(archs, ["amd64", "arm64"]);
    for m in manifests {
        let arch = m["platform"]["architecture"].as_str().unwrap();
        let manifest = fetch(m["digest"].as_str().unwrap());
        let config = blob(manifest["config"]["digest"].as_str().unwrap());
        assert_eq!(config["architecture"], arch);
        assert!(config["config"]["Env"].as_array().unwrap().iter().any(|e| e == &format!("ARCH={arch}")));
        assert_eq!(config["config"]["User"], format!("user-{arch}"));
        assert_eq!(config["config"]["Entrypoint"][0], format!("/bin/{arch}"));
    }

    // The OCI tarball holds the same index.
    let layout = OciLayout::unpack(&out, &tmp.path().join("layout"));
    let mut local = layout.manifests();
    assert_eq!(local.len(), 2);
    local.sort_by_key(|m| layout.json(m["config"]["digest"].as_str().unwrap())["architecture"].as_str().unwrap().to_string());
    for (m, arch) in local.iter().zip(["amd64", "arm64"]) {
        let config = layout.json(m["config"]["digest"].as_str().unwrap());
        assert_eq!(config["config"]["User"], format!("user-{arch}"));
        let rootfs = tmp.path().join(format!("rootfs-{arch}"));
        layout.rootfs(m, &rootfs);
        assert_eq!(std::fs::read_to_string(rootfs.join("arch.txt")).unwrap(), format!("{arch} {tag}"));
    }
}
