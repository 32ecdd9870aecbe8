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
