//! `bentokit containerize` end to end against the real buildkitd, with docker.io mirrored
//! to the local registry (the stand-in `python:3.11-slim` comes from
//! scripts/standin-images.sh).

mod common;
#[path = "gateway/mod.rs"]
mod gw;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello-bento");

/// An unpacked OCI layout: its manifests (one per platform) and blob paths.
struct Oci {
    dir: tempfile::TempDir,
    index: serde_json::Value,
}

impl Oci {
    fn open(tarball: &Path) -> Oci {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("tar").arg("-C").arg(dir.path()).arg("-xf").arg(tarball).status().unwrap();
        assert!(ok.success());
        let index = serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        Oci { dir, index }
    }

    fn blob(&self, digest: &str) -> PathBuf {
        self.dir.path().join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
    }

    fn json(&self, digest: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.blob(digest)).unwrap()).unwrap()
    }

    /// The image manifests: from the index, following one nested index if present.
    fn manifests(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for m in self.index["manifests"].as_array().unwrap() {
            let doc = self.json(m["digest"].as_str().unwrap());
            match doc.get("manifests") {
                Some(inner) => out.extend(inner.as_array().unwrap().iter().map(|d| self.json(d["digest"].as_str().unwrap()))),
                None => out.push(doc),
            }
        }
        out
    }

    fn config(&self, manifest: &serde_json::Value) -> serde_json::Value {
        self.json(manifest["config"]["digest"].as_str().unwrap())
    }

    /// `tar -tv` lines of every layer (`mode uid/gid size date time path`).
    fn listing(&self, manifest: &serde_json::Value) -> Vec<String> {
        let mut lines = Vec::new();
        for layer in manifest["layers"].as_array().unwrap() {
            let out = Command::new("tar").arg("--numeric-owner").arg("-tvzf").arg(self.blob(layer["digest"].as_str().unwrap())).output().unwrap();
            lines.extend(text(&out.stdout).lines().map(str::to_string));
        }
        lines
    }

    /// Whether any blob (layers decompressed, configs, manifests) contains `needle`.
    fn any_blob_contains(&self, needle: &[u8]) -> bool {
        for entry in std::fs::read_dir(self.dir.path().join("blobs/sha256")).unwrap() {
            let path = entry.unwrap().path();
            let raw = std::fs::read(&path).unwrap();
            let data = Command::new("gzip").arg("-dc").arg(&path).output().map(|o| o.stdout).unwrap_or_default();
            if gw::contains(&raw, needle) || gw::contains(&data, needle) {
                return true;
            }
        }
        false
    }
}

/// A copy of the example Bento with a Dockerfile template of our own.
fn bento_with_template(template: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new("cp").arg("-a").arg(format!("{EXAMPLE}/.")).arg(dir.path()).status().unwrap();
    assert!(ok.success());
    std::fs::write(dir.path().join("env/docker/Dockerfile.template"), template).unwrap();
    let yaml = std::fs::read_to_string(dir.path().join("bento.yaml")).unwrap();
    let yaml = yaml.replace("  dockerfile_template: null", "  dockerfile_template: env/docker/Dockerfile.template");
    std::fs::write(dir.path().join("bento.yaml"), yaml).unwrap();
    dir
}

/// A template for busybox: every block replaced, so no apt or groupadd is needed.
fn busybox_template(body: &str) -> String {
    format!(
        "{{% extends bento_base_template %}}\n\
         {{% block SETUP_BENTO_BASE_IMAGE %}}FROM localhost:5000/base:latest AS base-container\n{body}\n{{% endblock %}}\n\
         {{% block SETUP_BENTO_USER %}}{{% endblock %}}\n\
         {{% block SETUP_BENTO_ENVARS %}}{{% endblock %}}\n\
         {{% block SETUP_BENTO_COMPONENTS %}}{{% endblock %}}\n\
         {{% block SETUP_BENTO_ENTRYPOINT %}}{{% endblock %}}\n"
    )
}

#[test]
fn default_debian_template_builds_the_bento_image() {
    let Some(addr) = shared_daemon() else { return };
    let out_dir = tempfile::tempdir().unwrap();
    let tarball = out_dir.path().join("hello.tar");
    let out = run(bentokit()
        .args(["--addr", &addr, "containerize", EXAMPLE, "--progress", "plain", "--output"])
        .arg(format!("type=oci,dest={}", tarball.display())));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let digest = text(&out.stdout);
    assert!(digest.trim().starts_with("sha256:"), "prints the digest: {digest:?}");
    assert!(stderr.contains("FROM docker.io/library/python:3.11-slim@sha256:"), "{stderr}");

    let oci = Oci::open(&tarball);
    let manifests = oci.manifests();
    assert_eq!(manifests.len(), 1);
    let config = oci.config(&manifests[0]);
    let c = &config["config"];
    assert_eq!(c["User"], "bentoml");
    assert_eq!(c["WorkingDir"], "/home/bentoml/bento");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/home/bentoml/bento/env/docker/entrypoint.sh"]));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"3000/tcp": {}, "3001/tcp": {}}));
    assert!(c["Env"].as_array().unwrap().iter().any(|e| e == "BENTO_PATH=/home/bentoml/bento"));

    let listing = oci.listing(&manifests[0]);
    for path in ["home/bentoml/bento/bento.yaml", "home/bentoml/bento/src/service.py", "home/bentoml/bento/env/docker/entrypoint.sh"] {
        let line = listing.iter().rev().find(|l| l.ends_with(path)).unwrap_or_else(|| panic!("{path} in the image"));
        assert!(line.split_whitespace().nth(1) == Some("1034/1034"), "{path} owned by 1034: {line}");
    }
}

#[test]
fn secret_mount_template_leaves_no_trace() {
    let Some(addr) = shared_daemon() else { return };
    let secret_value = "AKIA-bentokit-containerize-secret-7731";
    let bento = bento_with_template(&busybox_template(
        "RUN --mount=type=secret,id=aws,target=/root/.aws/credentials grep -q aws_access_key_id /root/.aws/credentials && echo creds-ok > /ok",
    ));
    // Outside the Bento: the context must not carry the secret either.
    let outside = tempfile::tempdir().unwrap();
    let creds = outside.path().join("credentials");
    std::fs::write(&creds, format!("[default]\naws_access_key_id = {secret_value}\n")).unwrap();
    let tarball = outside.path().join("out-secret.tar");
    let out = run(bentokit()
        .args(["--addr", &addr, "containerize", "--no-cache", "--progress", "plain"])
        .arg(bento.path())
        .arg("--secret")
        .arg(format!("id=aws,src={}", creds.display()))
        .arg("--output")
        .arg(format!("type=oci,dest={}", tarball.display())));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(secret_value), "the secret is never printed");
    let oci = Oci::open(&tarball);
    assert!(oci.listing(&oci.manifests()[0]).iter().any(|l| l.ends_with(" ok")), "the RUN saw the secret");
    assert!(!oci.any_blob_contains(secret_value.as_bytes()), "the secret is in no layer and no config");

    // Without the secret the build fails clearly.
    let out = run(bentokit().args(["--addr", &addr, "containerize", "--no-cache", "--progress", "plain"]).arg(bento.path()).args(["--output", "type=tar,dest=/dev/null"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("aws"), "{}", text(&out.stderr));
}

#[test]
fn models_come_from_the_store_without_a_copy() {
    let Some(addr) = shared_daemon() else { return };
    let home = tempfile::tempdir().unwrap();
    let model_dir = home.path().join("models/mymodel/v1");
    std::fs::create_dir_all(&model_dir).unwrap();
    std::fs::write(model_dir.join("model.yaml"), "name: mymodel\nversion: v1\nmodule: bentoml.picklable_model\n").unwrap();
    // 200 MB of incompressible data, so that a copy anywhere would be a real 200 MB file.
    let weights = model_dir.join("weights.bin");
    let ok = Command::new("sh").arg("-c").arg(format!("head -c 209715200 /dev/urandom > {}", weights.display())).status().unwrap();
    assert!(ok.success());
    let sha = text(&Command::new("sha256sum").arg(&weights).output().unwrap().stdout).split_whitespace().next().unwrap().to_string();

    let bento = bento_with_template(&busybox_template(&format!(
        "WORKDIR /bento\nCOPY . ./\nRUN test \"$(sha256sum models/mymodel/v1/weights.bin | cut -d' ' -f1)\" = {sha} && echo model-ok"
    )));
    let yaml = std::fs::read_to_string(bento.path().join("bento.yaml")).unwrap();
    let yaml = yaml.replace("models: []", "models:\n- tag: mymodel:v1\n  module: bentoml.picklable_model\n  creation_time: '2026-11-29T10:00:00+00:00'");
    std::fs::write(bento.path().join("bento.yaml"), yaml).unwrap();
    assert!(!bento.path().join("models").exists(), "the Bento itself carries no models");

    let marker = tempfile::NamedTempFile::new().unwrap();
    let mut child = bentokit()
        .env("BENTOML_HOME", home.path())
        .args(["--addr", &addr, "containerize", "--progress", "plain"])
        .arg(bento.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs, look for any new file of about the model's size outside the daemon's store.
    let mut copies = Vec::new();
    while child.try_wait().unwrap().is_none() {
        let found = Command::new("find")
            .args(["/", "-xdev", "-type", "f", "-size", "+190M", "-newer"])
            .arg(marker.path())
            .args(["-not", "-path", "/var/lib/buildkit/*", "-not", "-path", "/proc/*", "-not", "-path"])
            .arg(format!("{}/*", home.path().display()))
            .output()
            .unwrap();
        copies.extend(text(&found.stdout).lines().map(str::to_string));
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("model-ok"), "the model reached the build intact: {stderr}");
    copies.sort();
    copies.dedup();
    assert!(copies.is_empty(), "no temporary copy of the model: {copies:?}");
}

#[test]
fn two_platform_copy_only_template_gives_an_index() {
    let Some(addr) = shared_daemon() else { return };
    let bento = bento_with_template(
        "{% extends bento_base_template %}\n\
         {% block SETUP_BENTO_BASE_IMAGE %}FROM scratch AS base-container{% endblock %}\n\
         {% block SETUP_BENTO_USER %}{% endblock %}\n\
         {% block SETUP_BENTO_ENVARS %}ENV BENTO_PATH={{ bento__path }}\nWORKDIR {{ bento__path }}{% endblock %}\n\
         {% block SETUP_BENTO_COMPONENTS %}COPY . ./{% endblock %}\n\
         {% block SETUP_BENTO_ENTRYPOINT %}ENTRYPOINT [\"{{ bento__entrypoint }}\"]{% endblock %}\n",
    );
    let out_dir = tempfile::tempdir().unwrap();
    let tarball = out_dir.path().join("two-platforms.tar");
    let out = run(bentokit()
        .args(["--addr", &addr, "containerize", "--progress", "plain", "--platform", "linux/amd64,linux/arm64"])
        .arg(bento.path())
        .arg("--output")
        .arg(format!("type=oci,dest={}", tarball.display())));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let oci = Oci::open(&tarball);
    let mut arches: Vec<String> = oci.manifests().iter().map(|m| oci.config(m)["architecture"].as_str().unwrap().to_string()).collect();
    arches.sort();
    assert_eq!(arches, vec!["amd64", "arm64"]);
    for m in oci.manifests() {
        let c = oci.config(&m);
        assert_eq!(c["config"]["WorkingDir"], "/home/bentoml/bento");
        assert_eq!(c["config"]["Entrypoint"][0], "/home/bentoml/bento/env/docker/entrypoint.sh");
    }
}

#[test]
fn opt_forms_map_to_build_options() {
    let Some(addr) = shared_daemon() else { return };
    let bento = bento_with_template(&busybox_template("ARG FOO\nRUN test \"$FOO\" = 1 && echo foo-is-$FOO"));
    for opts in [
        vec!["--opt", "platform=linux/amd64", "--opt", "build-arg=FOO=1"],
        vec!["--opt", "build-arg:FOO=1"],
        vec!["--build-arg", "FOO=1", "--opt", "progress=plain"],
    ] {
        let out = run(bentokit()
            .args(["--addr", &addr, "containerize", "--no-cache", "--progress", "plain"])
            .arg(bento.path())
            .args(&opts)
            .args(["--output", "type=tar,dest=/dev/null"]));
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{opts:?}: {stderr}");
        assert!(stderr.contains("foo-is-1"), "{opts:?}: {stderr}");
    }
    // Without FOO the RUN fails: the options above really carried it.
    let out = run(bentokit().args(["--addr", &addr, "containerize", "--no-cache", "--progress", "plain"]).arg(bento.path()).args(["--output", "type=tar,dest=/dev/null"]));
    assert_eq!(out.status.code(), Some(1));
    let out = run(bentokit().args(["containerize", "--opt", "bogus=1"]).arg(bento.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown option \"bogus\""), "{}", text(&out.stderr));
}

#[test]
fn credential_build_args_warn_and_other_backends_are_refused() {
    let Some(addr) = shared_daemon() else { return };
    let bento = bento_with_template(&busybox_template("RUN true"));
    let out = run(bentokit()
        .args(["--addr", &addr, "containerize", "--progress", "quiet", "--build-arg", "AWS_SECRET_ACCESS_KEY=x"])
        .arg(bento.path())
        .args(["--output", "type=tar,dest=/dev/null"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning: build-arg AWS_SECRET_ACCESS_KEY looks like a credential"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--secret id=aws_secret_access_key"), "{}", text(&out.stderr));

    let out = run(bentokit().args(["containerize", "--backend", "docker"]).arg(bento.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("backend \"docker\" is not available"), "{}", text(&out.stderr));
    let out = run(bentokit().env("BENTOML_CONTAINERIZE_BACKEND", "podman").arg("containerize").arg(bento.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("backend \"podman\""), "{}", text(&out.stderr));
}

#[test]
fn non_root_base_image_gets_a_note_before_the_build() {
    let Some(addr) = shared_daemon() else { return };
    // A base image that runs as uid 1000.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM localhost:5000/base:latest\nUSER 1000\n").unwrap();
    let pushed = run(bentokit()
        .args(["--addr", &addr, "build", "--progress", "quiet", "--output", "type=image,name=localhost:5000/bentokit-nonroot:latest,push=true,registry.insecure=true"])
        .arg(ctx.path()));
    assert!(pushed.status.success(), "{}", text(&pushed.stderr));

    let bento = bento_with_template(
        "{% extends bento_base_template %}\n\
         {% block SETUP_BENTO_USER %}{% endblock %}\n\
         {% block SETUP_BENTO_ENVARS %}{% endblock %}\n\
         {% block SETUP_BENTO_COMPONENTS %}{% endblock %}\n\
         {% block SETUP_BENTO_ENTRYPOINT %}{% endblock %}\n",
    );
    let yaml = std::fs::read_to_string(bento.path().join("bento.yaml")).unwrap();
    std::fs::write(bento.path().join("bento.yaml"), yaml.replace("  base_image: null", "  base_image: localhost:5000/bentokit-nonroot:latest")).unwrap();
    let out = run(bentokit().args(["--addr", &addr, "containerize", "--progress", "plain"]).arg(bento.path()).args(["--output", "type=tar,dest=/dev/null"]));
    let stderr = text(&out.stderr);
    let note = stderr.find("runs as user \"1000\"").unwrap_or_else(|| panic!("a note about the user: {stderr}"));
    assert!(stderr.contains("USER root") && stderr.contains("#4506"), "{stderr}");
    if let Some(first_step) = stderr.find("#1 ") {
        assert!(note < first_step, "the note comes before the build: {stderr}");
    }
}

#[test]
fn without_an_output_the_image_stays_in_the_daemon_uncompressed() {
    if shared_daemon().is_none() || !require_program("buildkitd") {
        return;
    }
    // A private daemon: its content store is ours to read.
    let sock = tempfile::Builder::new().prefix("bentokit-kept-").tempdir().unwrap();
    let addr = format!("unix://{}/bk.sock", sock.path().display());
    let daemon = PrivateDaemon::start(&addr, &[], &[]);
    let bento = bento_with_template(&busybox_template("COPY . /bento/"));
    let meta = bento.path().join("meta.json");
    let out = run(bentokit()
        .args(["--addr", &addr, "containerize", "--progress", "quiet", "-t", "bentokit-test/kept:1", "--metadata-file"])
        .arg(&meta)
        .arg(bento.path()));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", daemon.log());
    assert!(stderr.contains("the image stays in BuildKit's cache") && stderr.contains("--push"), "says how to get it out: {stderr}");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    let digest = meta["containerimage.digest"].as_str().expect("the image digest in the metadata").to_string();
    assert_eq!(text(&out.stdout).trim(), format!("bentokit-test/kept:1@{digest}"), "prints the image and its digest");
    assert_eq!(meta["image.name"], "bentokit-test/kept:1");

    // The manifest in the daemon's content store names an uncompressed layer for the
    // Bento (the base image's layers keep the blobs they were pulled as).
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    let manifest = gw::walk_files(&daemon.path().join("root"))
        .into_iter()
        .find(|p| p.ends_with(format!("content/blobs/sha256/{hex}")))
        .unwrap_or_else(|| panic!("manifest {digest} in the daemon's content store"));
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().expect("layers");
    let bento_layer = layers.last().expect("layers")["mediaType"].as_str().unwrap();
    assert!(bento_layer.ends_with(".tar"), "the Bento's layer is uncompressed: {bento_layer}");
}
