//! Real-daemon check: the Dockerfiles we render are accepted by BuildKit's own Dockerfile
//! frontend on the running buildkitd (v0.13), through two subrequests that parse without
//! building: `frontend.targets` (parser + instructions) on the exact text, and
//! `frontend.outline` (full conversion, RUN --mount flags included) with the FROM images
//! pointed at the local test registry, since outline resolves base images.
//!
//! Needs `buildctl` and the daemon (BUILDKIT_HOST or unix:///run/buildkit/buildkitd.sock).
//! Without them it skips with a note, unless CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use bentokit::bento::{Bento, BentoRef};
use bentokit::template::{self, RenderOptions};

const STAND_IN_IMAGE: &str = "localhost:5000/base:latest";

fn daemon_addr() -> Option<String> {
    let addr = std::env::var("BUILDKIT_HOST").unwrap_or_else(|_| "unix:///run/buildkit/buildkitd.sock".into());
    let reachable = match addr.strip_prefix("unix://") {
        Some(sock) => Path::new(sock).exists(),
        None => true,
    };
    let buildctl = Command::new("buildctl").arg("--version").output().is_ok_and(|o| o.status.success());
    if reachable && buildctl {
        return Some(addr);
    }
    let note = format!("buildkitd at {addr} or buildctl is not available");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{note}; CI=true requires the real daemon");
    }
    eprintln!("note: skipping the BuildKit frontend check: {note}");
    None
}

/// Points every FROM at the stand-in image, keeping flags and stage names.
fn with_stand_in_images(dockerfile: &str) -> String {
    dockerfile
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("FROM ") else { return line.to_string() };
            let mut words: Vec<&str> = rest.split_whitespace().collect();
            if let Some(image) = words.iter_mut().find(|w| !w.starts_with("--")) {
                *image = STAND_IN_IMAGE;
            }
            format!("FROM {}", words.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn subrequest(addr: &str, dir: &Path, request: &str) -> Result<String, String> {
    let out = Command::new("buildctl")
        .args(["--addr", addr, "build", "--frontend", "dockerfile.v0"])
        .arg("--local")
        .arg(format!("context={}", dir.display()))
        .arg("--local")
        .arg(format!("dockerfile={}", dir.display()))
        .args(["--opt", &format!("requestid={request}")])
        .output()
        .map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn rendered_dockerfiles_pass_buildkits_dockerfile_frontend() {
    let Some(addr) = daemon_addr() else { return };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bentos: Vec<PathBuf> =
        std::fs::read_dir(manifest.join("tests/fixtures/bentos")).unwrap().map(|e| e.unwrap().path()).collect();
    bentos.sort();
    bentos.push(manifest.join("examples/hello-bento"));

    let mut failures = Vec::new();
    for bento_dir in &bentos {
        let name = bento_dir.file_name().unwrap().to_string_lossy().into_owned();
        let bento = Bento::load(&BentoRef::Path(bento_dir.clone())).unwrap();
        let options = RenderOptions { features: vec!["grpc".into()], ..Default::default() };
        let text = template::render(&bento, &options).unwrap().text;

        let exact = tempfile::tempdir().unwrap();
        std::fs::write(exact.path().join("Dockerfile"), &text).unwrap();
        match subrequest(&addr, exact.path(), "frontend.targets") {
            Ok(out) if out.contains("base-container") => {}
            Ok(out) => failures.push(format!("{name}: targets lists no base-container stage:\n{out}")),
            Err(e) => failures.push(format!("{name}: frontend.targets rejected the Dockerfile:\n{e}")),
        }

        let outline = tempfile::tempdir().unwrap();
        std::fs::write(outline.path().join("Dockerfile"), with_stand_in_images(&text)).unwrap();
        match subrequest(&addr, outline.path(), "frontend.outline") {
            Ok(out) if out.contains("TARGET: base-container") => {}
            Ok(out) => failures.push(format!("{name}: outline has no base-container target:\n{out}")),
            Err(e) => failures.push(format!("{name}: frontend.outline rejected the Dockerfile:\n{e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_frontend_check_catches_a_broken_dockerfile() {
    let Some(addr) = daemon_addr() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {STAND_IN_IMAGE} as base-container\nRUN --mount=type=bogus true\n"),
    )
    .unwrap();
    let err = subrequest(&addr, dir.path(), "frontend.outline").unwrap_err();
    assert!(err.contains("unsupported mount type"), "{err}");
}
