//! Oracle test: BentoML 1.1.11 itself (pip-installed into a throwaway venv under target/)
//! renders every fixture Bento, and our instruction sequence must match after normalising
//! whitespace, comments and line continuations — except for the deliberate deviations
//! listed in `DEVIATIONS`, each with its reason.
//!
//! Slow the first time (pip install). Without network it skips with a note, unless CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use bentokit::bento::{Bento, BentoRef};
use bentokit::template::{self, RenderOptions};

/// (BentoML's instruction, ours, why). Applied to BentoML's output before comparing.
const DEVIATIONS: &[(&str, &str, &str)] = &[
    (
        "RUN rm -rf /var/lib/{apt,cache,log}",
        "RUN rm -rf /var/lib/apt/lists/* /var/cache/apt/*",
        "brace expansion needs bash; under RUN's /bin/sh BentoML's line deletes nothing",
    ),
    (
        "RUN --mount=type=cache,target=/var/cache/apk set -eux apk add --update",
        "RUN --mount=type=cache,target=/var/cache/apk set -eux && apk add --update",
        "BentoML misses `&&`, so `apk add` becomes arguments of `set` and system_packages are never installed on alpine",
    ),
];

/// Fixtures BentoML 1.1.11 cannot render, with the reason.
const ORACLE_SKIP: &[(&str, &str)] = &[(
    "defaults_from_version_txt",
    "bento.yaml without a docker section: BentoML fails with \"Distro is required\"; we apply `bentoml build`'s defaults",
)];

/// `ENV KEY=two words` from a docker.env value: BentoML writes it bare, which Dockerfile
/// parsers reject ("can't find = in \"words\""); we double-quote such values.
fn quote_env_value(instruction: &str) -> Option<String> {
    let (key, value) = instruction.strip_prefix("ENV ")?.split_once('=')?;
    if !value.contains(' ') || value.contains('=') || value.starts_with('"') {
        return None;
    }
    Some(format!("ENV {key}=\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// Only for Bentos whose template overrides bento__user: BentoML hard-codes `USER bentoml`.
const USER_DEVIATION: (&str, &str) = ("USER bentoml", "the overridden bento__user (BentoML ignores it)");

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A Python with BentoML 1.1.11, creating the venv when needed; `None` means skip.
fn oracle_python() -> Option<PathBuf> {
    let venv = manifest().join("target/bentoml-1.1.11-oracle-venv");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        Command::new(p)
            .args(["-c", "import bentoml, sys; sys.exit(bentoml.__version__ != '1.1.11')"])
            .env("BENTOML_HOME", std::env::temp_dir().join("bentokit-oracle-home"))
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Some(python);
    }
    let run = |cmd: &mut Command| cmd.status().is_ok_and(|s| s.success());
    let made = run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        && run(Command::new(venv.join("bin/pip")).args(["install", "-q", "bentoml==1.1.11"]));
    if made && ready(&python) {
        return Some(python);
    }
    let note = "cannot install bentoml==1.1.11 with pip into target/ (no python3 or no package index)";
    if ci() {
        panic!("{note}; CI=true requires the oracle");
    }
    eprintln!("note: skipping the BentoML oracle test: {note}");
    None
}

/// Dockerfile text → instructions: continuations joined, comments and blank lines dropped,
/// whitespace runs collapsed.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        let (body, continued) = match trimmed.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        current.push(' ');
        current.push_str(body);
        if !continued {
            let normal = current.split_whitespace().collect::<Vec<_>>().join(" ");
            if !normal.is_empty() {
                out.push(normal);
            }
            current.clear();
        }
    }
    out
}

fn apply_deviations(theirs: Vec<String>, user: Option<&str>) -> Vec<String> {
    theirs
        .into_iter()
        .map(|mut ins| {
            for (bentoml, ours, _why) in DEVIATIONS {
                if ins.starts_with(bentoml) {
                    ins = format!("{ours}{}", &ins[bentoml.len()..]);
                }
            }
            if let Some(quoted) = quote_env_value(&ins) {
                ins = quoted;
            }
            if let Some(user) = user.filter(|u| *u != "bentoml") {
                if ins == USER_DEVIATION.0 {
                    let _why = USER_DEVIATION.1;
                    ins = format!("USER {user}");
                }
            }
            ins
        })
        .collect()
}

#[test]
fn bentoml_1_1_11_renders_the_same_instructions() {
    let Some(python) = oracle_python() else { return };
    let fixtures = manifest().join("tests/fixtures/bentos");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&fixtures).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(&python)
        .arg(manifest().join("tests/oracle/render_bentoml.py"))
        .arg(out.path())
        .args(&dirs)
        .env("BENTOML_HOME", out.path().join("home"))
        .env("BENTOML_DO_NOT_TRACK", "true")
        .output()
        .expect("run the oracle script");
    assert!(status.status.success(), "oracle script failed: {}", String::from_utf8_lossy(&status.stderr));

    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if let Some((_, why)) = ORACLE_SKIP.iter().find(|(n, _)| *n == name) {
            eprintln!("note: {name} is not compared with BentoML: {why}");
            continue;
        }
        let theirs = match std::fs::read_to_string(out.path().join(format!("{name}.Dockerfile"))) {
            Ok(t) => t,
            Err(_) => {
                let err = std::fs::read_to_string(out.path().join(format!("{name}.error"))).unwrap_or_default();
                failures.push(format!("{name}: BentoML failed:\n{err}"));
                continue;
            }
        };
        let bento = Bento::load(&BentoRef::Path(dir.clone())).unwrap();
        let ours = template::render(&bento, &RenderOptions::default()).unwrap().text;
        assert!(!ours.contains("# syntax"), "{name}: a `# syntax` line would make buildkitd pull a frontend image");
        let user = ours.lines().find_map(|l| l.strip_prefix("ARG BENTO_USER=")).map(str::to_string);
        let theirs = apply_deviations(instructions(&theirs), user.as_deref());
        let ours = instructions(&ours);
        if theirs != ours {
            let mut diff = format!("{name}: instructions differ\n");
            for i in 0..theirs.len().max(ours.len()) {
                let (t, o) = (theirs.get(i), ours.get(i));
                if t != o {
                    diff.push_str(&format!("  #{i}\n    bentoml: {t:?}\n    ours:    {o:?}\n"));
                }
            }
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn normaliser_joins_continuations_and_drops_comments() {
    let text = "FROM a as b\n# c\nRUN x && \\\n    # inner comment\n    y\n\n\nENV  A=1\n";
    assert_eq!(instructions(text), ["FROM a as b", "RUN x && y", "ENV A=1"]);
}
