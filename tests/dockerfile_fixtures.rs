//! Golden tests over tests/fixtures/dockerfile/*.Dockerfile (parse results and errors are
//! insta snapshots under tests/snapshots/dockerfile/), and round-trip checks of the
//! BentoML-shaped fixtures against the stages and instructions we expect.
//!
//! Update snapshots with `INSTA_UPDATE=always cargo test --test dockerfile_fixtures`
//! (or `cargo insta review`).

use std::path::Path;

use bentokit::dockerfile::{self, CommandLine, Instruction, MountType, NetworkMode};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dockerfile").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(serde::Serialize)]
struct ErrorSnapshot {
    kind: dockerfile::ErrorKind,
    line: usize,
    column: usize,
    end_line: usize,
    rendered: String,
}

#[test]
fn golden_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dockerfile");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".Dockerfile"))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "fixtures missing: {names:?}");
    for name in names {
        let source = fixture(&name);
        let snapshot_name = name.trim_end_matches(".Dockerfile").to_string();
        let result = dockerfile::parse(&source, &name);
        assert_eq!(name.starts_with("error-") || name.contains("unterminated"), result.is_err(), "{name}: {result:?}");
        insta::with_settings!({
            snapshot_path => "snapshots/dockerfile",
            prepend_module_to_snapshot => false,
            input_file => dir.join(&name),
        }, {
            match result {
                Ok(df) => insta::assert_yaml_snapshot!(snapshot_name, df),
                Err(e) => {
                    let span = e.span().expect("parse errors carry a span");
                    let snap = ErrorSnapshot { kind: e.kind(), line: span.line, column: span.column, end_line: e.end_line(), rendered: e.render() };
                    insta::assert_yaml_snapshot!(snapshot_name, snap)
                }
            }
        });
    }
}

fn keywords(stage: &dockerfile::Stage) -> Vec<&'static str> {
    stage.instructions.iter().map(Instruction::keyword).collect()
}

#[test]
fn bentoml_debian_round_trip() {
    let df = dockerfile::parse(&fixture("bentoml-debian.Dockerfile"), "Dockerfile").unwrap();
    // "# syntax = …" follows a comment line in BentoML's output, so it is no directive.
    assert_eq!(df.directives.syntax.as_ref().map(|d| d.value.as_str()), Some("docker/dockerfile:1.4-labs"));
    assert!(df.meta_args.is_empty());
    assert_eq!(df.stages.len(), 1);
    let stage = &df.stages[0];
    assert_eq!((stage.name.as_deref(), stage.from.base.as_str()), (Some("base-container"), "python:3.11-slim"));
    assert_eq!(
        keywords(stage),
        vec![
            "ENV", "ENV", "ENV", "ENV", "USER", "ENV", "RUN", "RUN", "RUN", "ARG", "ARG", "ARG", "RUN", "ARG", "ENV", "ENV", "RUN", "WORKDIR", "COPY",
            "RUN", "COPY", "RUN", "EXPOSE", "EXPOSE", "RUN", "USER", "ENTRYPOINT"
        ]
    );
    let Instruction::Run(apt) = &stage.instructions[7] else { panic!() };
    assert_eq!(apt.mounts.len(), 2);
    assert_eq!(apt.source.location.start_line, 24);
    assert_eq!(apt.source.location.end_line, 27);
    assert!(apt.source.original.starts_with("RUN --mount=type=cache,target=/var/lib/apt,sharing=locked --mount"));
    let Instruction::Copy(copy) = &stage.instructions[18] else { panic!() };
    assert_eq!((copy.chown.as_deref(), copy.sources.as_slice(), copy.dest.as_str()), (Some("bentoml:bentoml"), &["./env/python".to_string()][..], "./env/python/"));
    let Instruction::Entrypoint(ep) = stage.instructions.last().unwrap() else { panic!() };
    assert_eq!(ep.command, Some(CommandLine::Exec(vec!["/home/bentoml/bento/env/docker/entrypoint.sh".into()])));

    // Dispatch the way the converter will: the env grows instruction by instruction.
    let lexer = df.lexer();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut workdir = String::new();
    for ins in &stage.instructions {
        let expanded = ins.expand(&lexer, &env).unwrap().value;
        match expanded {
            Instruction::Env(e) => env.extend(e.pairs.into_iter().map(|kv| (kv.key, kv.value))),
            Instruction::Arg(a) => env.extend(a.args.into_iter().filter_map(|d| Some((d.key, d.default?)))),
            Instruction::Workdir(w) => workdir = w.path,
            _ => {}
        }
    }
    assert_eq!(workdir, "/home/bentoml/bento");
}

#[test]
fn bentoml_setup_script_round_trip() {
    let df = dockerfile::parse(&fixture("bentoml-debian-setup-script.Dockerfile"), "Dockerfile").unwrap();
    let meta: Vec<&str> = df.meta_args.iter().flat_map(|a| a.args.iter().map(|d| d.key.as_str())).collect();
    assert_eq!(meta, vec!["PYTHON_VERSION", "PIP_EXTRA_INDEX_URL"]);
    let env = df.meta_arg_env(&Default::default()).unwrap();
    let from = df.stages[0].from.expand(&df.lexer(), &env).unwrap();
    assert_eq!(from.value.base, "python:3.11-slim");
    let stage = &df.stages[0];
    let Instruction::Env(e) = &stage.instructions[0] else { panic!() };
    assert_eq!(e.pairs.len(), 4);
    let runs: Vec<&dockerfile::Run> = stage.instructions.iter().filter_map(|i| if let Instruction::Run(r) = i { Some(r) } else { None }).collect();
    let install = runs.iter().find(|r| r.mounts.len() == 2 && r.source.original.contains("install.sh")).unwrap();
    let mounts = install.resolve_mounts(&df.lexer(), &dockerfile::shell::NoEnv).unwrap().value;
    assert_eq!((mounts[1].kind, mounts[1].required, mounts[1].target.as_deref()), (MountType::Secret, false, Some("/etc/pip.conf")));
    assert!(runs.iter().all(|r| r.network == NetworkMode::Default));
    let Some(Instruction::Healthcheck(h)) = stage.instructions.iter().find(|i| i.keyword() == "HEALTHCHECK") else { panic!() };
    assert_eq!(h.test()[0], "CMD-SHELL");
    assert_eq!(h.source.location.end_line, h.source.location.start_line + 1);
    let Some(Instruction::Expose(x)) = stage.instructions.iter().find(|i| i.keyword() == "EXPOSE") else { panic!() };
    assert_eq!(x.ports, vec!["3000", "3001"]);
}

#[test]
fn bentoml_two_stage_round_trip() {
    let df = dockerfile::parse(&fixture("bentoml-two-stage.Dockerfile"), "Dockerfile").unwrap();
    let names: Vec<Option<&str>> = df.stages.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(names, vec![Some("wheels"), Some("base-container")]);
    assert_eq!(keywords(&df.stages[0]), vec!["WORKDIR", "COPY", "RUN"]);
    let stage = &df.stages[1];
    assert_eq!(keywords(stage), vec!["ARG", "ARG", "ARG", "ENV", "RUN", "WORKDIR", "RUN", "COPY", "COPY", "RUN", "EXPOSE", "USER", "ENTRYPOINT"]);
    let Instruction::Run(bind) = &stage.instructions[6] else { panic!() };
    let m = &bind.resolve_mounts(&df.lexer(), &dockerfile::shell::NoEnv).unwrap().value[0];
    assert_eq!((m.kind, m.from.as_deref(), m.read_only), (MountType::Bind, Some("wheels"), true));
    let Instruction::Copy(c) = &stage.instructions[7] else { panic!() };
    let env = vec![("BENTO_USER".to_string(), "bentoml".to_string())];
    let Instruction::Copy(c) = Instruction::Copy(c.clone()).expand(&df.lexer(), &env).unwrap().value else { panic!() };
    assert_eq!(c.chown.as_deref(), Some("bentoml:bentoml"));
    let Instruction::Run(heredoc) = &stage.instructions[9] else { panic!() };
    assert_eq!(heredoc.heredocs[0].content, "set -eux\necho \"bento at $BENTO_PATH\"\n");
    assert_eq!(heredoc.command, CommandLine::Shell("<<EOF".into()));
}
