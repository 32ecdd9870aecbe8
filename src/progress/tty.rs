//! tty: the live view (`[+] Building 12.3s (8/15)`, one row per started vertex with its
//! time, ` => => ` rows for transfers with sizes, the last log lines of running steps,
//! CACHED/ERROR/CANCELED marks, colours unless `NO_COLOR`). `frame` is a pure function of
//! the model, the clock and the terminal size; the printer draws frames through indicatif
//! at a bounded rate on its own thread, so the status stream never waits on the terminal.

use std::fmt::Write as _;

use super::model::{go_seconds, Trace};
use super::units::bytes_2f;

/// Log lines shown under a running step (BuildKit's default `BUILDKIT_TTY_LOG_LINES`).
const LOG_ROWS: usize = 6;

const BLUE: &str = "\x1b[34m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const FAINT: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameOptions {
    pub width: usize,
    pub height: usize,
    pub color: bool,
    /// The last frame: everything, no height limit, `FINISHED` when all completed.
    pub final_frame: bool,
}

struct Row {
    text: String,
    timer: String,
    color: Option<&'static str>,
    completed: bool,
}

/// One frame of the view. `now` and `daemon_offset` (local minus daemon clock) are nanoseconds.
pub(crate) fn frame(t: &Trace, phase: &str, now: i64, daemon_offset: i64, opts: FrameOptions) -> String {
    let width = opts.width.max(20);
    let daemon_now = now - daemon_offset;
    let total = t.rows.iter().filter(|r| !r.hidden).count();
    let done = t.rows.iter().filter(|r| !r.hidden && r.is_completed()).count();
    let elapsed = t.start_time.map_or(0.0, |s| go_seconds(daemon_now - s).max(0.0));
    let finished = opts.final_frame && done > 0 && done == total;
    let mut out = format!("[+] {phase} {elapsed:.1}s ({done}/{total}){}", if finished { " FINISHED" } else { "" });
    out.push('\n');

    let mut rows: Vec<Row> = Vec::new();
    for &r in &t.started_order {
        let v = &t.rows[r];
        let completed = v.is_completed();
        let mut name = v.name.replace('\t', " ");
        let mut color = completed.then_some(BLUE);
        if !v.error.is_empty() {
            if v.is_canceled() {
                name = format!("CANCELED {name}");
                color = Some(YELLOW);
            } else {
                name = format!("ERROR {name}");
                color = Some(RED);
            }
        }
        if v.cached {
            name = format!("CACHED {name}");
        }
        let mut dt = v.run_seconds(daemon_now);
        if dt < 0.05 {
            dt = 0.0;
        }
        rows.push(Row { text: name, timer: format!("{dt:.1}s"), color, completed });
        for &si in &v.status_order {
            let s = &v.statuses[si];
            let Some(started) = s.started else { continue };
            let mut text = format!("=> {}", s.id);
            if s.total != 0 {
                let _ = write!(text, " {} / {}", bytes_2f(s.current), bytes_2f(s.total));
            } else if s.current != 0 {
                let _ = write!(text, " {}", bytes_2f(s.current));
            }
            let dt = go_seconds(s.completed.unwrap_or(daemon_now) - started).max(0.0);
            rows.push(Row { text, timer: format!("{dt:.1}s"), color: s.completed.map(|_| BLUE), completed: s.completed.is_some() });
        }
        for w in &v.warnings {
            rows.push(Row { text: format!("WARN: {}", String::from_utf8_lossy(&w.short)), timer: String::new(), color: Some(YELLOW), completed: true });
        }
        if !completed {
            let skip = v.tail.len().saturating_sub(LOG_ROWS);
            for line in v.tail.iter().skip(skip) {
                // Drop the "0.123 " time prefix; the row above already shows the time.
                let text = String::from_utf8_lossy(line);
                let text = text.split_once(' ').map_or(&*text, |(_, rest)| rest);
                rows.push(Row { text: format!("=> # {}", text.replace('\t', " ")), timer: String::new(), color: Some(FAINT), completed: false });
            }
        }
    }

    if !opts.final_frame {
        // Keep the newest rows that fit, but never hide a running one behind finished ones.
        let limit = opts.height.saturating_sub(2).max(1);
        while rows.len() > limit {
            match rows.iter().position(|r| r.completed) {
                Some(i) => {
                    rows.remove(i);
                }
                None => {
                    rows.drain(..rows.len() - limit);
                }
            }
        }
    }

    for row in rows {
        let pfx = " => ";
        let room = width.saturating_sub(pfx.len() + row.timer.len() + 2);
        let text: String = row.text.chars().take(room).collect();
        let pad = room.saturating_sub(text.chars().count());
        let line = format!("{pfx}{text}{} {}", " ".repeat(pad), row.timer);
        match (opts.color, row.color) {
            (true, Some(c)) => {
                let _ = writeln!(out, "{c}{line}{RESET}");
            }
            _ => {
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::model::TraceOptions;
    use crate::progress::rawjson::decode_stream;

    fn fixture_trace(name: &str) -> Trace {
        let path = format!("{}/tests/fixtures/progress/{name}/status.json", env!("CARGO_MANIFEST_DIR"));
        let msgs = decode_stream(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut t = Trace::new(TraceOptions { pending_logs: false });
        for m in &msgs {
            t.update(m, 0);
        }
        t
    }

    #[test]
    fn final_frame_lists_every_step_with_marks_and_sizes() {
        let t = fixture_trace("success");
        let end = t.start_time.unwrap() + 5_000_000_000;
        let text = frame(&t, "Building", end, 0, FrameOptions { width: 200, height: 10, color: false, final_frame: true });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[+] Building 5.0s (12/12) FINISHED");
        assert!(lines.iter().any(|l| l.starts_with(" => CACHED [stage-1 2/6] RUN echo warm-cache-step ") && l.ends_with(" 0.0s")), "{text}");
        assert!(text.contains(" => => sha256:a1c0b6594d7ecbdde8e0b5ef09d02c7f7553af0d171ad58d268d2c9e7c820b59 400.42kB / 400.42kB"), "{text}");
        assert!(text.lines().any(|l| l.starts_with(" => [stage-1 5/6] RUN echo \"bust") && l.ends_with(" 2.1s")), "{text}");
        assert!(!text.contains('\x1b'), "no colour codes when colour is off");
        assert!(text.lines().all(|l| l.chars().count() <= 200));
    }

    #[test]
    fn live_frame_fits_the_terminal_and_marks_errors() {
        let t = fixture_trace("canceled");
        let end = t.start_time.unwrap() + 3_000_000_000;
        let text = frame(&t, "Building", end, 0, FrameOptions { width: 60, height: 6, color: true, final_frame: false });
        assert!(text.lines().count() <= 6, "{text}");
        assert!(text.lines().skip(1).all(|l| console::measure_text_width(l) <= 60), "{text}");
        assert!(text.contains(&format!("{RED} => ERROR [fast 2/2]")), "{text}");
        assert!(text.contains(&format!("{YELLOW} => CANCELED [slow 2/2]")), "{text}");
    }

    #[test]
    fn running_steps_show_their_last_log_lines() {
        let mut t = Trace::new(TraceOptions { pending_logs: false });
        let start = 1_000_000_000;
        let ts = |n: i64| Some(crate::progress::gojson::timestamp_from_nanos(n));
        let v = bollard_buildkit_proto::moby::buildkit::v1::Vertex { digest: "d".into(), name: "[1/1] RUN make".into(), started: ts(start), ..Default::default() };
        t.update(&bollard_buildkit_proto::moby::buildkit::v1::StatusResponse { vertexes: vec![v], ..Default::default() }, 0);
        let data: String = (1..=9).map(|i| format!("compiling unit {i}\n")).collect();
        let log = bollard_buildkit_proto::moby::buildkit::v1::VertexLog { vertex: "d".into(), timestamp: ts(start + 1), stream: 1, msg: data.into_bytes() };
        t.update(&bollard_buildkit_proto::moby::buildkit::v1::StatusResponse { logs: vec![log], ..Default::default() }, 0);
        let text = frame(&t, "Building", start + 2_500_000_000, 0, FrameOptions { width: 80, height: 30, color: false, final_frame: false });
        assert!(text.starts_with("[+] Building 2.5s (0/1)\n => [1/1] RUN make"), "{text}");
        assert!(text.ends_with(" => => # compiling unit 9"), "{text}");
        assert!(!text.contains("compiling unit 3"), "only the last {LOG_ROWS} lines: {text}");
    }
}
