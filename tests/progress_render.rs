//! Renderer behaviour beyond the goldens: secrets never printed in any mode, the error
//! report with a Dockerfile excerpt (and template line) after buildctl's output, and the
//! async entry point over a channel stream.

use std::path::Path;
use std::sync::Arc;

use bentokit::progress::{
    decode_stream, render_stream, replay, LineRange, ProgressOptions, ResolvedMode, SecretMasker, SourceMap, TemplateLookup, TemplateOrigin,
};
use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog, VertexStatus};

const SECRET: &str = "AKIAIOSFODNN7EXAMPLE";

fn ts(s: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds: s, nanos: 0 })
}

fn leaky_stream() -> Vec<StatusResponse> {
    let name = format!("[2/3] RUN AWS_ACCESS_KEY_ID={SECRET} aws s3 cp s3://bucket/model /models");
    let v = |started, completed, error: &str| Vertex { digest: "sha256:aa".into(), name: name.clone(), started, completed, error: error.into(), ..Vertex::default() };
    vec![
        StatusResponse { vertexes: vec![v(ts(100), None, "")], ..Default::default() },
        StatusResponse {
            statuses: vec![VertexStatus { id: format!("download {SECRET}"), vertex: "sha256:aa".into(), current: 10, total: 100, timestamp: ts(101), started: ts(100), ..Default::default() }],
            logs: vec![VertexLog { vertex: "sha256:aa".into(), timestamp: ts(101), stream: 1, msg: format!("using key {SECRET}\npartial {SECRET}").into_bytes() }],
            ..Default::default()
        },
        StatusResponse { vertexes: vec![v(ts(100), ts(102), &format!("exit 1 with {SECRET} in the command"))], ..Default::default() },
    ]
}

#[test]
fn secrets_are_masked_in_every_mode() {
    for mode in [ResolvedMode::Plain, ResolvedMode::RawJson, ResolvedMode::Quiet] {
        let mut opts = ProgressOptions::new(mode);
        opts.secrets = SecretMasker::new([SECRET]);
        let (out, summary) = replay(&leaky_stream(), opts);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains(SECRET), "{mode:?} printed the secret:\n{text}");
        let f = &summary.failures[0];
        assert!(!format!("{f:?}").contains(SECRET), "{f:?}");
        assert!(f.name.contains("AWS_ACCESS_KEY_ID=****"), "{f:?}");
        if mode == ResolvedMode::Plain {
            assert!(text.contains("#1 [2/3] RUN AWS_ACCESS_KEY_ID=**** aws s3 cp"), "{text}");
            assert!(text.contains("#1 1.000 using key ****\n"), "{text}");
            assert!(text.contains("#1 ERROR: exit 1 with **** in the command\n"), "{text}");
        }
    }
    // Without the list the values are printed: the masking above is what hides them.
    let (out, _) = replay(&leaky_stream(), ProgressOptions::new(ResolvedMode::Plain));
    assert!(String::from_utf8(out).unwrap().contains(SECRET));
}

#[test]
fn failing_fixture_ends_with_the_dockerfile_excerpt_and_template_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/progress/failing");
    let msgs = decode_stream(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    let failed = msgs.iter().flat_map(|m| &m.vertexes).find(|v| !v.error.is_empty()).unwrap().digest.clone();
    let mut map = SourceMap::new();
    let f = map.add_file("Dockerfile", std::fs::read(dir.join("Dockerfile")).unwrap());
    map.add_location(failed, f, vec![LineRange { start: 5, end: 8 }]);
    let mut opts = ProgressOptions::new(ResolvedMode::Plain);
    opts.source_map = map;
    let lookup: TemplateLookup = Arc::new(|_, line| Some(TemplateOrigin { file: "env/docker/Dockerfile.template".into(), line: line + 100 }));
    opts.template_lookup = Some(lookup);
    let (out, summary) = replay(&msgs, opts);

    // buildctl's plain output first, unchanged ...
    let golden = std::fs::read(dir.join("plain.golden")).unwrap();
    assert!(out.starts_with(&golden));
    // ... then the excerpt exactly as buildctl printed it for this failure, then the template line.
    let rest = String::from_utf8(out[golden.len()..].to_vec()).unwrap();
    let buildctl = std::fs::read_to_string(dir.join("buildctl-error.txt")).unwrap();
    let excerpt = &buildctl[..buildctl.find("error: ").unwrap()];
    assert_eq!(rest, format!("{excerpt}Dockerfile:5 comes from template env/docker/Dockerfile.template:105\n"));
    assert_eq!(summary.failures[0].sources[0].line, 5);
}

#[tokio::test]
async fn render_stream_drains_a_channel_and_summarizes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/progress/canceled");
    let msgs = decode_stream(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let feeder = tokio::spawn(async move {
        for m in msgs {
            tx.send(m).await.unwrap();
        }
    });
    // quiet: this test must not write progress to the test's stderr.
    let mut opts = ProgressOptions::new(ResolvedMode::Quiet);
    opts.source_map = SourceMap::new();
    let summary = render_stream(tokio_stream::wrappers::ReceiverStream::new(rx), opts).await;
    feeder.await.unwrap();
    assert_eq!(summary.failures.len(), 1);
    assert_eq!(summary.canceled.len(), 1);
}
