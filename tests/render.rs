//! Snapshot tests: every fixture Bento under tests/fixtures/bentos renders to the Dockerfile
//! in tests/snapshots (with the warnings the CLI would show), and the line map points at
//! the right template lines.

use std::path::{Path, PathBuf};

use bentokit::bento::{Bento, BentoRef};
use bentokit::template::{self, RenderOptions};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bentos")
}

fn render_dir(dir: &Path, options: &RenderOptions) -> (Bento, template::RenderedDockerfile) {
    let bento = Bento::load_with_store(&BentoRef::Path(dir.to_path_buf()), Path::new("/nonexistent-store"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let rendered = template::render(&bento, options).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    (bento, rendered)
}

#[test]
fn every_fixture_bento_renders() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    assert!(dirs.len() >= 25, "fixtures missing");
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (bento, rendered) = render_dir(&dir, &RenderOptions::default());
        let mut snapshot = format!("# base template: {}\n", rendered.base_template);
        for w in &bento.warnings {
            snapshot.push_str(&format!("# warning: {w}\n"));
        }
        snapshot.push_str(&rendered.text);
        insta::assert_snapshot!(name, snapshot);
    }
}

#[test]
fn features_are_appended_and_validated() {
    let dir = fixtures().join("python_debian");
    let options = RenderOptions { features: vec!["grpc".into(), "tracing".into()], ..Default::default() };
    let (_, rendered) = render_dir(&dir, &options);
    assert!(rendered
        .text
        .ends_with("\nRUN --mount=type=cache,target=/root/.cache/pip pip install bentoml[grpc,tracing]"));
    let bento = Bento::load(&BentoRef::Path(dir)).unwrap();
    let bad = RenderOptions { features: vec!["grpc".into(), "gpu".into()], ..Default::default() };
    let err = template::render(&bento, &bad).unwrap_err().to_string();
    assert!(err.contains("unknown BentoML feature(s) gpu"), "{err}");
}

#[test]
fn dockerfile_template_flag_overrides_the_stored_template() {
    let lambda = fixtures().join("seed_lambda_entrypoint/env/docker/Dockerfile.template");
    let options = RenderOptions { dockerfile_template: Some(lambda.clone()), ..Default::default() };
    let (_, rendered) = render_dir(&fixtures().join("python_alpine"), &options);
    assert!(rendered.text.contains("\"python\", \"-m\", \"awslambdaric\" ]"));
    assert!(rendered.text.contains("FROM python:3.10-alpine as base-container"));
    assert_eq!(rendered.user_template.as_deref(), Some(lambda.as_path()));
}

#[test]
fn templates_dir_overrides_embedded_templates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("python_debian.j2"),
        "{% extends \"base_debian.j2\" %}\n{% block SETUP_BENTO_ENTRYPOINT %}\nCMD [\"dev\"]\n{% endblock %}\n",
    )
    .unwrap();
    let options = RenderOptions { templates_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    let (_, rendered) = render_dir(&fixtures().join("python_debian"), &options);
    assert!(rendered.text.contains("CMD [\"dev\"]"));
    assert!(rendered.text.contains("apt-get update"), "embedded base_debian.j2 still used");
    assert!(!rendered.text.contains("ENTRYPOINT ["));
}

#[test]
fn lines_map_back_to_template_lines() {
    let dir = fixtures().join("seed_multistage");
    let (_, rendered) = render_dir(&dir, &RenderOptions::default());
    let find = |needle: &str| -> usize {
        rendered.text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} not rendered")) + 1
    };
    let origin =
        |needle: &str| rendered.origin(find(needle)).cloned().unwrap_or_else(|| panic!("no origin for {needle}"));

    let user = origin("COPY --from=buildstage");
    assert_eq!(user.template, "Dockerfile.template");
    assert_eq!(user.path.as_deref(), Some(dir.join("env/docker/Dockerfile.template").as_path()));
    assert_eq!(user.line, 12);
    assert_eq!(origin("FROM --platform=$BUILDPLATFORM").line, 3);

    let from = origin("FROM python:3.11-slim as base-container");
    assert_eq!((from.template.as_str(), from.path.is_none()), ("base.j2", true));
    let base_source = include_str!("../templates/base.j2");
    assert!(base_source.lines().nth(from.line - 1).unwrap().starts_with("FROM {{ __base_image__ }}"));

    // An instruction written through `{% call common.RUN() %}` maps to the call, not the macro.
    let apt = origin("RUN --mount=type=cache,target=/var/lib/apt");
    assert_eq!(apt.template, "base_debian.j2");
    let debian_source = include_str!("../templates/base_debian.j2");
    assert!(debian_source.lines().nth(apt.line - 1).unwrap().contains("{% call common.RUN"));
}

#[test]
fn every_rendered_line_has_an_origin() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        let (_, rendered) = render_dir(&dir, &RenderOptions::default());
        for (i, line) in rendered.text.lines().enumerate() {
            if !line.trim().is_empty() {
                assert!(rendered.origin(i + 1).is_some(), "{}:{}: no origin for {line:?}", dir.display(), i + 1);
            }
        }
    }
}

#[test]
fn line_map_snapshot() {
    let (_, rendered) = render_dir(&fixtures().join("seed_conda_cuda"), &RenderOptions::default());
    let annotated: String = rendered
        .lines_with_origins()
        .map(|(_, line, origin)| {
            let origin = origin.map(|o| format!("{}:{}", o.template, o.line)).unwrap_or_default();
            format!("{origin:>26} | {line}\n")
        })
        .collect();
    insta::assert_snapshot!(annotated);
}

#[test]
fn models_resolve_to_the_bento_or_the_store() {
    let dir = fixtures().join("bentoml_1_3_style");
    let store = tempfile::tempdir().unwrap();
    let bento = Bento::load_with_store(&BentoRef::Path(dir.clone()), store.path()).unwrap();
    assert!(bento.new_style);
    assert_eq!((bento.name.as_str(), bento.version.as_str()), ("summarization", "4f6bnqukvkc2c3fd"));
    assert_eq!(bento.models.len(), 1);
    let model = &bento.models[0];
    assert_eq!((model.name.as_str(), model.version.as_str()), ("sshleifer-distilbart", "3ab8c2d1"));
    assert_eq!(model.path, store.path().join("models/sshleifer-distilbart/3ab8c2d1"));
    assert!(!model.present);
    std::fs::create_dir_all(&model.path).unwrap();
    let bento = Bento::load_with_store(&BentoRef::Path(dir), store.path()).unwrap();
    assert!(bento.models[0].present);
}
