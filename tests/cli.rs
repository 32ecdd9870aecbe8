//! The `bentokit dockerfile` command as users run it: output, store lookup, and a clear
//! message with exit code 1 for each kind of bad input (messages snapshotted).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bentokit(args: &[&str], bentoml_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bentokit"))
        .args(args)
        .env("BENTOML_HOME", bentoml_home)
        .env_remove("BUILDKIT_HOST")
        .output()
        .expect("run bentokit")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).replace(&manifest().display().to_string(), "[CRATE]")
}

#[test]
fn bad_inputs_fail_with_a_clear_message_and_exit_code_1() {
    let bad = manifest().join("tests/fixtures/bad_bentos");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&bad).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    let store = tempfile::tempdir().unwrap();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // git does not keep empty directories or modes reliably: make the cases explicit.
        if name == "setup_script_not_executable" {
            use std::os::unix::fs::PermissionsExt;
            let script = dir.join("env/docker/setup_script");
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let out = bentokit(&["dockerfile", dir.to_str().unwrap()], store.path());
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr_of(&out));
        assert!(out.stdout.is_empty(), "{name}: printed a Dockerfile");
        insta::assert_snapshot!(format!("cli_error__{name}"), stderr_of(&out));
    }
}

#[test]
fn unknown_feature_and_missing_store_entry_fail() {
    let store = tempfile::tempdir().unwrap();
    let good = manifest().join("tests/fixtures/bentos/python_debian");
    let out = bentokit(&["dockerfile", good.to_str().unwrap(), "--enable-features", "grpc,gpu"], store.path());
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("cli_error__unknown_feature", stderr_of(&out));

    let out = bentokit(&["dockerfile", good.to_str().unwrap(), "--templates-dir", "/nonexistent/templates"], store.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), "error: --templates-dir /nonexistent/templates is not a directory\n");

    let out = bentokit(&["dockerfile", "iris_classifier:latest"], store.path());
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr_of(&out).replace(&store.path().display().to_string(), "[STORE]");
    insta::assert_snapshot!("cli_error__not_in_store", msg);
}

#[test]
fn renders_from_the_store_by_name_tag_and_latest() {
    let store = tempfile::tempdir().unwrap();
    let versions = store.path().join("bentos/python-alpine");
    let src = manifest().join("tests/fixtures/bentos/python_alpine/bento.yaml");
    for version in ["20261129abcdef01", "older"] {
        std::fs::create_dir_all(versions.join(version)).unwrap();
        std::fs::copy(&src, versions.join(version).join("bento.yaml")).unwrap();
    }
    std::fs::write(versions.join("latest"), "20261129abcdef01").unwrap();
    let expected = bentokit(&["dockerfile", src.parent().unwrap().to_str().unwrap()], store.path());
    assert!(expected.status.success());
    for reference in ["python-alpine", "python-alpine:latest", "python-alpine:20261129abcdef01", "python-alpine:older"]
    {
        let out = bentokit(&["dockerfile", reference], store.path());
        assert!(out.status.success(), "{reference}: {}", stderr_of(&out));
        assert_eq!(out.stdout, expected.stdout, "{reference}");
    }
}

#[test]
fn features_flag_appends_the_pip_install_and_warnings_go_to_stderr() {
    let store = tempfile::tempdir().unwrap();
    let dir = manifest().join("tests/fixtures/bentos/base_image");
    let out = bentokit(&["dockerfile", dir.to_str().unwrap(), "--enable-features", "grpc,io-image"], store.path());
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("# Block SETUP_BENTO_BASE_IMAGE\nFROM localhost:5000/base:latest as base-container\n"));
    assert!(text.ends_with("RUN --mount=type=cache,target=/root/.cache/pip pip install bentoml[grpc,io-image]\n"));
    assert!(stderr_of(&out)
        .contains("warning: docker base_image localhost:5000/base:latest is used, 'distro=debian' option is ignored"));
}
