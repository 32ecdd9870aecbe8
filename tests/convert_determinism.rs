//! The same Dockerfile and inputs give the same Definition, byte for byte: in-process
//! (every corpus case converted repeatedly, each run with freshly seeded hash maps) and
//! through `bentokit llb --format pb` against the real daemon (separate processes).

mod common;
#[path = "corpus/resolver.rs"]
mod resolver;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bentokit::convert::{self, ConvertOptions};
use bentokit::llb::Platform;
use sha2::{Digest, Sha256};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

fn options(case: &str) -> ConvertOptions {
    let mut build_args = BTreeMap::new();
    build_args.insert("TAG".to_string(), "latest".to_string());
    build_args.insert("BASE_URL".to_string(), "http://127.0.0.1:9".to_string());
    build_args.insert("SUM".to_string(), format!("sha256:{}", "0".repeat(64)));
    ConvertOptions {
        target: (case == "target-prune").then(|| "wanted".to_string()),
        build_platform: Some(Platform::linux_amd64()),
        build_args,
        context: convert::LocalContext { name: "context".into(), session_id: None, exclude_patterns: vec!["*.log".into()] },
        ..Default::default()
    }
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[test]
fn every_corpus_case_converts_to_the_same_definition_every_time() {
    let mut cases: Vec<String> =
        std::fs::read_dir(corpus()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    cases.sort();
    assert!(cases.len() >= 30);
    for case in &cases {
        let text = std::fs::read_to_string(corpus().join(case).join("Dockerfile")).unwrap();
        let opts = options(case);
        let mut seen: Option<(String, Vec<u8>)> = None;
        for run in 0..5 {
            // Parse every time too: nothing may depend on addresses or hash seeds.
            let df = bentokit::dockerfile::parse(&text, "Dockerfile").unwrap();
            let converted = resolver::block_on(convert::convert(&df, &opts, &resolver::FakeResolver))
                .unwrap_or_else(|e| panic!("{case}: {}", e.render()));
            let bytes = converted[0].definition.to_bytes();
            let config = converted[0].image.to_json();
            match &seen {
                None => seen = Some((digest(&bytes), config)),
                Some((first, first_config)) => {
                    assert_eq!(&digest(&bytes), first, "{case}: run {run} gave another Definition");
                    assert_eq!(&config, first_config, "{case}: run {run} gave another image config");
                }
            }
        }
    }
}

#[test]
fn bentokit_llb_prints_the_same_bytes_on_every_run() {
    let Some(addr) = common::shared_daemon() else { return };
    for (case, extra) in [
        ("multistage", vec![]),
        ("run-mount-bind", vec![]),
        ("copy-from", vec![]),
        ("arg-scoping", vec!["--build-arg", "OVERRIDDEN=x"]),
        ("target-prune", vec!["--target", "wanted"]),
        ("dockerignore", vec![]),
        ("run-heredoc", vec![]),
    ] {
        let mut digests = Vec::new();
        for _ in 0..3 {
            let out = common::run(
                common::bentokit().args(["--addr", &addr, "llb", "--format", "pb"]).args(&extra).arg(corpus().join(case)),
            );
            assert!(out.status.success(), "{case}: {}", common::text(&out.stderr));
            assert!(!out.stdout.is_empty());
            digests.push(digest(&out.stdout));
        }
        assert!(digests.windows(2).all(|w| w[0] == w[1]), "{case}: Definition digests differ between runs: {digests:?}");
    }
}
