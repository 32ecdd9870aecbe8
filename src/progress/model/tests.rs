use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog, VertexStatus};
use bollard_buildkit_proto::pb::ProgressGroup;

use super::*;
use crate::progress::gojson::timestamp_from_nanos as ts;

const S: i64 = 1_000_000_000;

fn vtx(digest: &str, name: &str, started: Option<i64>, completed: Option<i64>) -> Vertex {
    Vertex { digest: digest.into(), name: name.into(), started: started.map(ts), completed: completed.map(ts), ..Vertex::default() }
}

fn msg_v(v: Vec<Vertex>) -> StatusResponse {
    StatusResponse { vertexes: v, ..StatusResponse::default() }
}

fn log(digest: &str, at: i64, data: &str) -> StatusResponse {
    StatusResponse { logs: vec![VertexLog { vertex: digest.into(), timestamp: Some(ts(at)), stream: 1, msg: data.as_bytes().to_vec() }], ..StatusResponse::default() }
}

fn trace() -> Trace {
    Trace::new(TraceOptions { pending_logs: true })
}

#[test]
fn intervals_merge_and_open_ones_swallow_later_ones() {
    let i = |start, stop| Interval { start, stop };
    assert_eq!(merge_intervals(vec![i(5, Some(7)), i(1, Some(3)), i(2, Some(4))]), vec![i(1, Some(4)), i(5, Some(7))]);
    assert_eq!(merge_intervals(vec![i(1, Some(10)), i(2, Some(3))]), vec![i(1, Some(10))]);
    assert_eq!(merge_intervals(vec![i(1, None), i(2, Some(3)), i(9, Some(10))]), vec![i(1, None)]);
    assert_eq!(merge_intervals(vec![i(1, Some(3)), i(2, None)]), vec![i(1, None)]);
    assert!(merge_intervals(vec![]).is_empty());
}

#[test]
fn rows_follow_start_order_and_repeats_do_not_reset() {
    let mut t = trace();
    t.update(&msg_v(vec![vtx("b", "second", None, None), vtx("a", "first", Some(S), None)]), 0);
    t.update(&msg_v(vec![vtx("b", "second", Some(2 * S), None)]), 0);
    let order: Vec<&str> = t.started_order.iter().map(|&r| t.rows[r].name.as_str()).collect();
    assert_eq!(order, ["first", "second"]);
    // A duplicate announcement without times keeps the started state.
    t.update(&msg_v(vec![vtx("a", "first", None, None)]), 0);
    let a = t.row_of("a").unwrap();
    assert!(t.rows[a].is_started() && !t.rows[a].is_completed());
    t.update(&msg_v(vec![vtx("a", "first", Some(S), Some(3 * S))]), 0);
    assert!(t.rows[a].is_completed());
    assert_eq!(t.rows[a].run_seconds(0), 2.0);
    assert_eq!(t.start_time, Some(S));
}

#[test]
fn logs_split_into_prefixed_lines_and_join_partial_ones() {
    let mut t = trace();
    t.update(&msg_v(vec![vtx("a", "run", Some(10 * S), None)]), 0);
    t.update(&log("a", 10 * S + 56_000_000, "one\ntw"), 0);
    t.update(&log("a", 10 * S + 60_000_000, "o\nthree\n"), 0);
    t.update(&log("a", 22 * S, "late\n"), 0);
    t.update(&log("a", 150 * S, "later\n"), 0);
    let r = &t.rows[t.row_of("a").unwrap()];
    let lines: Vec<String> = r.pending_logs.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
    assert_eq!(lines, ["0.056 one", "0.056 two", "0.060 three", "12.00 late", "140.0 later"]);
    assert!(!r.logs_partial);
    assert_eq!(r.tail.len(), 5);
}

#[test]
fn tail_keeps_the_last_lines_only() {
    let mut t = Trace::new(TraceOptions { pending_logs: false });
    t.update(&msg_v(vec![vtx("a", "run", Some(0), None)]), 0);
    for i in 0..25 {
        t.update(&log("a", i, &format!("line {i}\n")), 0);
    }
    let r = &t.rows[t.row_of("a").unwrap()];
    assert!(r.pending_logs.is_empty());
    assert_eq!(r.tail.len(), TAIL_LINES);
    assert!(r.tail.back().unwrap().ends_with(b"line 24"));
}

#[test]
fn statuses_keep_start_order_and_mark_updates() {
    let mut t = trace();
    t.update(&msg_v(vec![vtx("a", "pull", Some(0), None)]), 0);
    let st = |id: &str, cur, started: Option<i64>| VertexStatus { id: id.into(), vertex: "a".into(), current: cur, total: 100, timestamp: Some(ts(1)), started: started.map(ts), ..VertexStatus::default() };
    t.update(&StatusResponse { statuses: vec![st("layer2", 0, None), st("layer1", 5, Some(1))], ..StatusResponse::default() }, 7);
    t.update(&StatusResponse { statuses: vec![st("layer2", 10, Some(2))], ..StatusResponse::default() }, 9);
    let r = &t.rows[t.row_of("a").unwrap()];
    let ids: Vec<&str> = r.status_order.iter().map(|&i| r.statuses[i].id.as_str()).collect();
    assert_eq!(ids, ["layer1", "layer2"]);
    assert!(r.statuses.iter().all(|s| s.updated));
    assert_eq!(r.count, 4, "one for the vertex, one per status update");
    assert_eq!(r.last_block_time, Some(0));
    // Statuses for unknown vertexes are ignored, as in BuildKit.
    t.update(&StatusResponse { statuses: vec![VertexStatus { id: "x".into(), vertex: "nope".into(), ..VertexStatus::default() }], ..StatusResponse::default() }, 0);
}

#[test]
fn progress_groups_are_one_row_shown_once_a_strong_member_starts() {
    let mut t = trace();
    let member = |d: &str, weak, started: Option<i64>, done: Option<i64>, cached| {
        let mut v = vtx(d, d, started, done);
        v.cached = cached;
        v.progress_group = Some(ProgressGroup { id: "g".into(), name: "exporting".into(), weak });
        v
    };
    t.update(&msg_v(vec![member("w", true, Some(S), Some(2 * S), true)]), 0);
    let g = t.row_of("g").unwrap();
    assert_eq!(t.row_of("w"), Some(g));
    assert!(t.rows[g].hidden, "weak members alone keep the group hidden");
    assert!(t.started_order.is_empty());
    t.update(&msg_v(vec![member("s", false, Some(3 * S), Some(5 * S), false)]), 0);
    assert!(!t.rows[g].hidden);
    assert_eq!(t.started_order, [g]);
    assert!(t.rows[g].is_completed());
    assert!(!t.rows[g].cached, "cached only when every member is");
    assert_eq!(t.rows[g].run_seconds(0), 3.0);
}

#[test]
fn errors_and_cancellations_are_told_apart() {
    let mut t = trace();
    let mut failed = vtx("a", "run", Some(0), Some(S));
    failed.error = "process did not complete successfully: exit code: 1".into();
    let mut canceled = vtx("b", "slow", Some(0), Some(S));
    canceled.error = "context canceled".into();
    t.update(&msg_v(vec![failed, canceled]), 0);
    assert!(!t.rows[t.row_of("a").unwrap()].is_canceled());
    assert!(t.rows[t.row_of("b").unwrap()].is_canceled());
}

#[test]
fn time_prefix_matches_go_float_formatting() {
    let float = |d: i64| {
        let sec = go_seconds(d);
        let prec = if sec < 10.0 { 3 } else if sec < 100.0 { 2 } else { 1 };
        format!("{sec:.prec$} ").into_bytes()
    };
    let mut d: i64 = 0;
    let mut n = 0u64;
    while d < 400_000_000_000 {
        assert_eq!(time_prefix(d), float(d), "at {d} ns");
        // A spread of values, including ties and near-ties of every precision.
        for t in [499_999, 500_000, 500_001, 4_999_999, 5_000_000, 50_000_000, 50_000_001] {
            assert_eq!(time_prefix(d + t), float(d + t), "at {} ns", d + t);
        }
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        d += (n >> 40) as i64 + 1;
    }
    assert_eq!(time_prefix(9_999_600_000), b"10.000 ".to_vec());
    assert_eq!(time_prefix(-5), float(-5));
}
