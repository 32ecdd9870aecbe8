//! Golden tests: recorded `buildctl --progress rawjson` streams (tests/fixtures/progress/*/
//! status.json, captured from a real buildkitd v0.13) replayed through our renderers must
//! print byte for byte what BuildKit's own progressui printed for the same stream
//! (plain.golden / rawjson.golden, made by tools/progress-replay; see goldens.sh).

use std::path::{Path, PathBuf};

use bentokit::progress::{decode_stream, encode_status, replay, ProgressOptions, ResolvedMode};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/progress");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("status.json").exists()).collect();
    dirs.sort();
    assert!(dirs.len() >= 5, "fixtures missing under {}", root.display());
    dirs
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(300);
    format!(
        "first difference at byte {at}\n--- ours ---\n{}\n--- buildctl ---\n{}",
        String::from_utf8_lossy(&a[from..(at + 300).min(a.len())]),
        String::from_utf8_lossy(&b[from..(at + 300).min(b.len())])
    )
}

#[test]
fn plain_output_is_byte_identical_to_buildctl() {
    for dir in fixtures() {
        let msgs = decode_stream(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
        let (ours, _) = replay(&msgs, ProgressOptions::new(ResolvedMode::Plain));
        let want = std::fs::read(dir.join("plain.golden")).unwrap();
        assert!(want.len() > 100);
        assert!(ours == want, "{}: {}", dir.display(), first_difference(&ours, &want));
    }
}

#[test]
fn rawjson_output_is_byte_identical_to_buildctl() {
    for dir in fixtures() {
        let msgs = decode_stream(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
        let (ours, _) = replay(&msgs, ProgressOptions::new(ResolvedMode::RawJson));
        let want = std::fs::read(dir.join("rawjson.golden")).unwrap();
        assert!(ours == want, "{}: {}", dir.display(), first_difference(&ours, &want));
        let joined: String = msgs.iter().map(encode_status).collect();
        assert_eq!(joined.as_bytes(), &want[..]);
    }
}

#[test]
fn quiet_prints_only_the_error_report() {
    for dir in fixtures() {
        let msgs = decode_stream(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
        let (ours, summary) = replay(&msgs, ProgressOptions::new(ResolvedMode::Quiet));
        let text = String::from_utf8(ours).unwrap();
        if summary.failures.is_empty() {
            assert_eq!(text, "", "{}", dir.display());
        } else {
            assert!(text.starts_with("------\n > "), "{}: {text}", dir.display());
        }
    }
}

#[test]
fn summaries_name_failures_cancellations_and_warnings() {
    let load = |name: &str| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/progress").join(name);
        let msgs = decode_stream(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
        replay(&msgs, ProgressOptions::new(ResolvedMode::Plain)).1
    };
    let ok = load("success");
    assert!(ok.failures.is_empty() && ok.canceled.is_empty());
    assert!(ok.cached >= 1, "{ok:?}");

    let failing = load("failing");
    assert_eq!(failing.failures.len(), 1);
    let f = &failing.failures[0];
    assert!(f.name.starts_with("[4/5] RUN echo \"about to fail\""), "{f:?}");
    assert!(f.error.ends_with("exit code: 3"));
    assert!(f.last_logs.iter().any(|l| l.ends_with("ls: /does-not-exist: No such file or directory")), "{f:?}");

    let canceled = load("canceled");
    assert_eq!(canceled.failures.len(), 1);
    assert_eq!(canceled.canceled.len(), 1);
    assert!(canceled.canceled[0].starts_with("[slow 2/2]"));

    let warned = load("warnings");
    assert_eq!(warned.warnings.len(), 1);
    assert!(warned.warnings[0].message.starts_with("Empty continuation line found in: RUN echo one"));
}
