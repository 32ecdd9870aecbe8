//! Invalid Dockerfiles (tests/fixtures/convert-errors/<case>/) against the real daemon:
//! `bentokit llb` and `bentokit build` must both exit with code 1 and print the same
//! BuildKit-style excerpt naming the offending line. The messages are insta snapshots
//! (digests and the registry's network detail filtered out).

mod common;

use std::path::Path;

const CASES: &[(&str, usize)] = &[
    // (case, the Dockerfile line the error must point at)
    ("copy-from-cycle", 4),
    ("copy-from-variable", 4),
    ("empty-mount-target", 2),
    ("healthcheck-bad-retries", 2),
    ("malformed-expose", 3),
    ("mount-from-variable", 4),
    ("malformed-healthcheck", 2),
    ("network-host", 3),
    ("no-from", 2),
    ("stage-cycle", 3),
    ("unknown-from", 4),
    ("unknown-mount-type", 2),
];

fn filtered(text: &str) -> String {
    let digest = regex::Regex::new(r"sha256:[0-9a-f]{64}").unwrap();
    let resolution = regex::Regex::new(r"failed to resolve source metadata for .*").unwrap();
    let text = digest.replace_all(text, "sha256:[digest]");
    resolution.replace_all(&text, "[the registry's resolution error]").into_owned()
}

#[test]
fn invalid_dockerfiles_fail_naming_the_line() {
    let Some(addr) = common::shared_daemon() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convert-errors");
    let work = tempfile::tempdir().unwrap();
    for (case, line) in CASES {
        let ctx = root.join(case);
        let llb = common::run(common::bentokit().args(["--addr", &addr, "llb", "--format", "pb"]).arg(&ctx));
        let llb_err = common::text(&llb.stderr);
        assert_eq!(llb.status.code(), Some(1), "{case}: bentokit llb should exit 1:\n{llb_err}");
        assert!(llb.stdout.is_empty(), "{case}: nothing on stdout when conversion fails");
        assert!(llb_err.contains(&format!("Dockerfile:{line}\n")), "{case}: the excerpt names line {line}:\n{llb_err}");
        assert!(llb_err.contains(&format!(" {line} | >>> ")), "{case}: the excerpt marks line {line}:\n{llb_err}");

        let dest = work.path().join(format!("{case}.tar"));
        let build = common::run(
            common::bentokit()
                .args(["--addr", &addr, "build", "--progress", "plain", "--output"])
                .arg(format!("type=oci,dest={}", dest.display()))
                .arg(&ctx),
        );
        let build_err = common::text(&build.stderr);
        assert_eq!(build.status.code(), Some(1), "{case}: bentokit build should exit 1:\n{build_err}");
        assert!(!dest.exists(), "{case}: no image is written");
        assert!(build_err.ends_with(&llb_err), "{case}: build and llb report the same error:\n{build_err}\n---\n{llb_err}");

        insta::assert_snapshot!(format!("convert_error_{case}"), filtered(&llb_err));
    }
}
