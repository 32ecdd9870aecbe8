//! Pins the converter's exact output: for every corpus case (with several option sets),
//! the Dockerfile fixtures, the error cases, the benchmark's generated Dockerfile and a few
//! cases aimed at the context followpaths, the digest of the Definition bytes, of the image
//! config JSON and the context paths (or the rendered error) are an insta snapshot.
//! Performance work must leave this snapshot untouched: a change here means the bytes sent
//! to BuildKit changed. No daemon needed (in-process resolver).

#[path = "corpus/resolver.rs"]
mod resolver;
#[path = "corpus/generated.rs"]
mod generated;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bentokit::convert::{self, ConvertOptions, LocalContext, NoCache};
use bentokit::llb::Platform;
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn short_digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..12])
}

fn base_options() -> ConvertOptions {
    let mut build_args = BTreeMap::new();
    build_args.insert("TAG".to_string(), "latest".to_string());
    build_args.insert("BASE_URL".to_string(), "http://127.0.0.1:9".to_string());
    build_args.insert("SUM".to_string(), format!("sha256:{}", "0".repeat(64)));
    ConvertOptions {
        build_platform: Some(Platform::linux_amd64()),
        build_args,
        context: LocalContext { name: "context".into(), session_id: None, exclude_patterns: vec!["*.log".into()] },
        ..Default::default()
    }
}

/// Option sets every corpus case is converted with.
fn variants() -> Vec<(&'static str, ConvertOptions)> {
    let plain = base_options();
    let multi = ConvertOptions {
        platforms: vec![Platform::linux_amd64(), Platform::parse("linux/arm64").unwrap()],
        ..base_options()
    };
    let mut labels = BTreeMap::new();
    labels.insert("org.example.golden".to_string(), "yes".to_string());
    let mut named_contexts = BTreeMap::new();
    named_contexts.insert(
        "extra".to_string(),
        LocalContext { name: "extra".into(), session_id: Some("session-2".into()), exclude_patterns: vec![] },
    );
    let no_cache = ConvertOptions {
        no_cache: NoCache::All,
        labels,
        named_contexts,
        allow_network_host: true,
        extra_hosts: vec![("db".into(), "10.0.0.2".into())],
        context: LocalContext { name: "context".into(), session_id: Some("session-1".into()), exclude_patterns: vec![] },
        ..base_options()
    };
    let filter = ConvertOptions { no_cache: NoCache::Stages(vec!["build".into(), "consumer".into()]), ..base_options() };
    vec![("plain", plain), ("multi", multi), ("nocache", no_cache), ("filter", filter)]
}

/// Dockerfiles aimed at which context paths a build reads (variables, quotes, ONBUILD,
/// unreachable stages, `--parents`, bind mounts).
const CONTEXT_CASES: &[(&str, &str)] = &[
    ("var-source", "FROM localhost:5000/base:latest\nARG DIR=src\nCOPY $DIR/ /app/\nCOPY b.txt /b\n"),
    ("env-source", "FROM localhost:5000/base:latest\nENV D=lib\nCOPY ${D}/x /x\nRUN --mount=type=bind,source=$D,target=/m ls /m\n"),
    ("global-arg-source", "ARG F=c.txt\nFROM localhost:5000/base:latest\nARG F\nCOPY $F /c\n"),
    ("unset-var-source", "FROM localhost:5000/base:latest\nCOPY ${NOPE:-fallback}/ /f/\nCOPY a${NOPE}b /ab\n"),
    ("var-to-root", "FROM localhost:5000/base:latest\nARG ROOT=.\nCOPY $ROOT /all/\n"),
    ("quoted-sources", "FROM localhost:5000/base:latest\nCOPY \"a\"b.txt 'c'd /q/\nCOPY [\"e f\", \"/g/\"]\n"),
    ("escaped", "FROM localhost:5000/base:latest\nCOPY a\\ b /e\n"),
    ("backtick", "# escape=`\nFROM localhost:5000/base:latest\nCOPY a`$b /x\nCOPY c\\d /y\n"),
    ("dot-dot", "FROM localhost:5000/base:latest\nCOPY ../up ./x/../y /z/\nCOPY / /root-copy/\n"),
    ("unreachable", "FROM localhost:5000/base:latest AS unused\nCOPY . /all\nFROM localhost:5000/base:latest\nCOPY only.txt /\n"),
    ("target-reads-all", "FROM localhost:5000/base:latest AS a\nCOPY one.txt /\nFROM a\nCOPY . /all\n"),
    ("onbuild-local", "FROM localhost:5000/base:latest AS parent\nONBUILD COPY from-trigger.txt /t\nFROM parent\nCOPY x.txt /x\n"),
    ("onbuild-image", "FROM localhost:5000/bentokit-corpus/onbuild-base:latest\nCOPY mine.txt /\n"),
    ("from-var", "FROM localhost:5000/base:latest AS b\nRUN true\nFROM localhost:5000/base:latest\nARG S=b\nCOPY --from=$S /etc/hostname /h\nCOPY d.txt /\n"),
    ("bind-mounts", "FROM localhost:5000/base:latest\nRUN --mount=type=bind,source=tools,target=/t --mount=type=bind,target=/all ls\n"),
    ("bind-sub", "FROM localhost:5000/base:latest\nRUN --mount=type=bind,source=./tools/../bin,target=/t ls\nRUN --mount=type=cache,target=/c,source=ignored ls\n"),
    ("parents", "FROM localhost:5000/base:latest\nCOPY --parents a/./b/*.txt c/d.txt /dst/\n"),
    ("add-mixed", "FROM localhost:5000/base:latest\nADD https://example.com/f.tgz local.tgz /x/\nADD git@github.com:o/r.git /r\n"),
    ("heredoc-only", "FROM localhost:5000/base:latest\nCOPY <<EOF /h.txt\nhello\nEOF\n"),
    ("no-context", "FROM localhost:5000/base:latest\nRUN echo hi\n"),
    ("expand-error", "FROM localhost:5000/base:latest\nCOPY ${X:?must be set} /x\n"),
    ("late-error", "FROM localhost:5000/base:latest\nCOPY a.txt /a\nCOPY --from=nowhere /x /y\n"),
];

fn record(out: &mut String, name: &str, text: &str, opts: &ConvertOptions) {
    let df = match bentokit::dockerfile::parse(text, "Dockerfile") {
        Ok(df) => df,
        Err(e) => {
            writeln!(out, "{name}: parse error {}", short_digest(e.to_string().as_bytes())).unwrap();
            return;
        }
    };
    match resolver::block_on(convert::convert(&df, opts, &resolver::FakeResolver)) {
        Ok(converted) => {
            for c in converted {
                writeln!(
                    out,
                    "{name} [{}]: def={} config={} paths={}",
                    c.platform,
                    short_digest(&c.definition.to_bytes()),
                    short_digest(&c.image.to_json()),
                    paths_text(c.context_paths.as_deref())
                )
                .unwrap();
            }
        }
        Err(e) => writeln!(out, "{name}: error {:?}", e.render()).unwrap(),
    }
}

/// The context paths, or their count and digest when there are many.
fn paths_text(paths: Option<&[String]>) -> String {
    match paths {
        Some(p) if p.len() > 8 => format!("{} paths, digest {}", p.len(), short_digest(p.join("\n").as_bytes())),
        other => format!("{other:?}"),
    }
}

#[test]
fn converter_output_is_pinned() {
    let mut out = String::new();
    let mut cases: Vec<String> = std::fs::read_dir(fixtures().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30);
    for (variant, opts) in variants() {
        for case in &cases {
            let text = std::fs::read_to_string(fixtures().join("corpus").join(case).join("Dockerfile")).unwrap();
            let opts = ConvertOptions { target: (case == "target-prune").then(|| "wanted".to_string()), ..opts.clone() };
            record(&mut out, &format!("{variant}/corpus/{case}"), &text, &opts);
        }
        for (name, text) in CONTEXT_CASES {
            record(&mut out, &format!("{variant}/context/{name}"), text, &opts);
        }
    }

    let mut files: Vec<PathBuf> =
        std::fs::read_dir(fixtures().join("dockerfile")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "Dockerfile")) {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        record(&mut out, &format!("fixture/{name}"), &text, &base_options());
    }
    let mut errors: Vec<PathBuf> =
        std::fs::read_dir(fixtures().join("convert-errors")).unwrap().map(|e| e.unwrap().path()).collect();
    errors.sort();
    for dir in &errors {
        let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let name = dir.file_name().unwrap().to_string_lossy();
        record(&mut out, &format!("error/{name}"), &text, &base_options());
    }

    let bench_opts = ConvertOptions { build_platform: Some(Platform::linux_amd64()), ..Default::default() };
    let text = generated::generated_dockerfile();
    record(&mut out, "bench/generated", &text, &bench_opts);
    record(&mut out, "bench/whole-context", &text.replacen("COPY *.txt", "COPY .", 1), &bench_opts);
    let multi = ConvertOptions { platforms: vec![Platform::linux_amd64(), Platform::parse("linux/arm/v7").unwrap()], ..bench_opts };
    record(&mut out, "bench/multi", &text, &multi);

    insta::assert_snapshot!(out);
}
