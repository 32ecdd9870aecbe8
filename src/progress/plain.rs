//! plain: the line-oriented renderer, byte-compatible with buildctl's `--progress plain`
//! (`#N name`, `#N id 1.2MB / 3.4MB 0.5s done`, `#N 0.123 log line`, `#N DONE 0.3s`,
//! `#N CACHED`, `#N ERROR: …`, `#N CANCELED`, `#N WARN: …`, `#N ...` on a switch).
//! It decides what to print from the event model and an injected clock only: the same
//! messages at the same times give the same bytes. Output goes into a caller's buffer;
//! it never writes to a terminal itself and never truncates names or logs.

use std::collections::HashMap;
use std::io::Write;

use super::model::{go_seconds, Trace, TraceOptions};
use super::units::bytes_2f;

const ANTI_FLICKER: i64 = 5_000_000_000;
const MAX_DELAY: i64 = 10_000_000_000;
const MIN_TIME_DELTA: i64 = 5_000_000_000;
const MIN_PROGRESS_DELTA: f64 = 0.05;
const RING_SIZE: usize = 10;
/// buildctl refreshes plain output every 150 ms and at most every 100 ms on updates.
pub(crate) const TICK: i64 = 150_000_000;
const DISPLAY_INTERVAL: i64 = 100_000_000;

/// The last log lines printed for a vertex, kept like BuildKit's ring (for error reports).
#[derive(Debug, Default)]
struct Ring {
    slots: Vec<Option<Vec<u8>>>,
    pos: usize,
}

impl Ring {
    fn set(&mut self, line: &[u8]) {
        if self.slots.is_empty() {
            self.slots = vec![None; RING_SIZE];
        }
        // Reuse the slot's buffer: this runs once per printed log line.
        let slot = self.slots[self.pos].get_or_insert_with(Vec::new);
        slot.clear();
        slot.extend_from_slice(line);
    }
    fn advance(&mut self) {
        self.pos = (self.pos + 1) % RING_SIZE;
    }
    fn lines(&self) -> impl Iterator<Item = &Vec<u8>> {
        let n = self.slots.len();
        (0..n).filter_map(move |i| self.slots[(self.pos + i) % n].as_ref())
    }
}

/// Per-row state of the printer (the numbering and where a half-printed line stands).
#[derive(Debug, Default)]
struct RowPrint {
    index: usize,
    /// `#N ` ready to copy in front of each line.
    tag: Vec<u8>,
    logs_offset: usize,
    warnings_printed: usize,
    ring: Ring,
}

#[derive(Debug, Clone, Copy)]
struct LastStatus {
    current: i64,
    timestamp: i64,
}

/// BuildKit's `textMux`: decides which vertex to print and prints its news.
#[derive(Debug, Default)]
pub(crate) struct PlainPrinter {
    rows: HashMap<usize, RowPrint>,
    current: Option<usize>,
    last: HashMap<String, LastStatus>,
    not_first: bool,
    next_index: usize,
}

struct Stat {
    block_time: i64,
    speed: f64,
    share: f64,
    over_limit: bool,
}

impl PlainPrinter {
    fn print_vtx(&mut self, t: &mut Trace, r: usize, out: &mut Vec<u8>) {
        if r >= t.rows.len() {
            return;
        }
        let rp = self.rows.entry(r).or_default();
        if rp.index == 0 {
            self.next_index += 1;
            rp.index = self.next_index;
            rp.tag = format!("#{} ", rp.index).into_bytes();
        }
        let index = rp.index;
        if self.current != Some(r) {
            if let Some(cur) = self.current {
                let old = &mut t.rows[cur];
                if old.logs_partial {
                    out.push(b'\n');
                }
                old.count = 0;
                let op = self.rows.entry(cur).or_default();
                op.logs_offset = 0;
                let _ = writeln!(out, "#{} ...", op.index);
            }
            if self.not_first {
                out.push(b'\n');
            }
            self.not_first = true;
            let _ = writeln!(out, "#{} {}", index, t.rows[r].name);
        }
        let rp = self.rows.get_mut(&r).expect("inserted above"); // OK: entry created at the top
        let v = &mut t.rows[r];

        let mut open_status = false;
        for k in 0..v.status_order.len() {
            let s = &v.statuses[v.status_order[k]];
            if !s.updated {
                continue;
            }
            if let (Some(last), None) = (self.last.get(&s.id), s.completed) {
                let progress = if s.total > 0 { (s.current - last.current) as f64 / s.total as f64 } else { 0.0 };
                if progress < MIN_PROGRESS_DELTA && s.timestamp - last.timestamp < MIN_TIME_DELTA {
                    continue;
                }
            }
            self.last.insert(s.id.clone(), LastStatus { current: s.current, timestamp: s.timestamp });
            let mut line = format!("#{} {}", index, s.id);
            if s.total != 0 {
                line.push_str(&format!(" {} / {}", bytes_2f(s.current), bytes_2f(s.total)));
            } else if s.current != 0 {
                line.push_str(&format!(" {}", bytes_2f(s.current)));
            }
            if let Some(started) = s.started {
                let diff = go_seconds(s.completed.unwrap_or(s.timestamp) - started);
                if diff > 0.01 {
                    line.push_str(&format!(" {diff:.1}s"));
                }
            }
            if s.completed.is_some() {
                line.push_str(" done");
            } else {
                open_status = true;
            }
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
        }
        for s in &mut v.statuses {
            s.updated = false;
        }

        for w in &v.warnings[rp.warnings_printed.min(v.warnings.len())..] {
            let _ = write!(out, "#{} WARN: ", index);
            out.extend_from_slice(&w.short);
            out.push(b'\n');
        }
        rp.warnings_printed = v.warnings.len();

        let n = v.pending_logs.len();
        for (i, l) in v.pending_logs.iter().enumerate() {
            let shown: &[u8] = if i == 0 && rp.logs_offset != 0 {
                // The start of this line is already on screen.
                let rest = l.get(rp.logs_offset..).unwrap_or_default();
                out.extend_from_slice(rest);
                rest
            } else {
                out.extend_from_slice(&rp.tag);
                out.extend_from_slice(l);
                l
            };
            if i != n - 1 || !v.logs_partial {
                out.push(b'\n');
            }
            rp.ring.set(shown);
            if !v.logs_partial {
                rp.ring.advance();
            }
        }
        if n > 0 {
            if v.logs_partial {
                v.pending_logs.drain(..n - 1);
                rp.logs_offset = v.pending_logs[0].len();
            } else {
                v.pending_logs.clear();
                rp.logs_offset = 0;
            }
        }

        self.current = Some(r);
        if v.is_completed() && !open_status {
            self.current = None;
            v.count = 0;
            if v.logs_partial {
                out.push(b'\n');
            }
            if !v.error.is_empty() {
                if v.is_canceled() {
                    let _ = writeln!(out, "#{index} CANCELED");
                } else {
                    let _ = writeln!(out, "#{index} ERROR: {}", v.error);
                }
            } else if v.cached {
                let _ = writeln!(out, "#{index} CACHED");
            } else if v.merged.is_empty() {
                let _ = writeln!(out, "#{index} DONE");
            } else {
                let _ = writeln!(out, "#{index} DONE {:.1}s", v.run_seconds(0));
            }
        }
        t.updates.remove(&r);
    }

    /// One refresh: completed vertexes first, then (maybe) a switch to the busiest one.
    pub(crate) fn print(&mut self, t: &mut Trace, now: i64, out: &mut Vec<u8>) {
        let mut completed = Vec::new();
        let mut rest = Vec::new();
        let mut updated: Vec<usize> = t.updates.iter().copied().collect();
        updated.sort_unstable();
        for r in updated {
            let v = &t.rows[r];
            if v.hidden {
                continue;
            }
            if v.is_completed() {
                completed.push(r);
            } else {
                rest.push(r);
            }
        }
        let current = self.current;
        if let Some(cur) = current.filter(|c| completed.contains(c)) {
            self.print_vtx(t, cur, out);
        }
        // Ties keep first-seen order; BuildKit's order there is map order (random).
        completed.sort_by_key(|&r| t.rows[r].most_recent().and_then(|i| i.stop));
        for &r in &completed {
            if Some(r) != current {
                self.print_vtx(t, r, out);
            }
        }

        if rest.is_empty() {
            if let Some(cur) = current {
                let v = &t.rows[cur];
                if v.is_started() && !v.is_completed() {
                    return;
                }
            }
            // Make an open vertex the active one.
            let open = (0..t.rows.len()).find(|&r| {
                let v = &t.rows[r];
                v.is_started() && !v.is_completed() && !v.hidden
            });
            if let Some(r) = open {
                self.print_vtx(t, r, out);
            }
            return;
        }

        if let Some(cur) = current.filter(|c| rest.contains(c)) {
            self.print_vtx(t, cur, out);
        }

        if let Some(cur) = current {
            if !rest.contains(&cur) {
                rest.push(cur);
                rest.sort_unstable();
            }
        }
        let mut stats: HashMap<usize, Stat> = HashMap::new();
        let mut sum = 0.0;
        let mut max: Option<usize> = None;
        for &r in &rest {
            let v = &t.rows[r];
            let Some(lbt) = v.last_block_time else { continue };
            let block_time = now - lbt;
            let speed = v.count as f64 / go_seconds(block_time);
            let over_limit = block_time > MAX_DELAY && Some(r) != current;
            sum += speed;
            let faster = max.is_none_or(|m| stats[&m].speed < speed);
            stats.insert(r, Stat { block_time, speed, share: 0.0, over_limit });
            if over_limit || faster {
                max = Some(r);
            }
        }
        for s in stats.values_mut() {
            s.share = s.speed / sum;
        }
        if current.is_none() || current.is_some_and(|c| completed.contains(&c)) {
            if let Some(m) = max {
                self.print_vtx(t, m, out);
            }
            return;
        }
        if let Some(&r) = rest.iter().find(|r| stats.get(r).is_some_and(|s| s.over_limit)) {
            self.print_vtx(t, r, out);
            return;
        }
        // Give the busiest vertex a turn when the current one has had its fair share.
        if let Some(cs) = current.and_then(|c| stats.get(&c)) {
            if 1.0 / (1.0 - cs.share) * go_seconds(ANTI_FLICKER) < go_seconds(cs.block_time) {
                if let Some(m) = max {
                    self.print_vtx(t, m, out);
                }
            }
        }
    }

    /// The `------ > name: … ------` blocks for failed (not canceled) vertexes.
    pub(crate) fn print_error_logs(&self, t: &Trace, out: &mut Vec<u8>) {
        for &r in &t.started_order {
            let v = &t.rows[r];
            if v.error.is_empty() || v.is_canceled() {
                continue;
            }
            out.extend_from_slice(b"------\n");
            let _ = writeln!(out, " > {}:", v.name);
            for l in &v.pending_logs {
                out.extend_from_slice(l);
                out.push(b'\n');
            }
            if let Some(rp) = self.rows.get(&r) {
                for l in rp.ring.lines() {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                }
            }
            out.extend_from_slice(b"------\n");
        }
    }
}

/// Go's `rate.Limiter` with burst 1, as buildctl uses it to cap plain refreshes.
#[derive(Debug)]
struct Limiter {
    tokens: f64,
    last: Option<i64>,
}

impl Limiter {
    fn allow(&mut self, now: i64) -> bool {
        let limit = 1.0 / go_seconds(DISPLAY_INTERVAL);
        let mut tokens = match self.last {
            None => 1.0,
            Some(last) => (self.tokens + go_seconds((now - last).max(0)) * limit).min(1.0),
        };
        tokens -= 1.0;
        let wait = if tokens < 0.0 { (1e9 * (-tokens / limit)) as i64 } else { 0 };
        if wait <= 0 {
            self.last = Some(now);
            self.tokens = tokens;
            true
        } else {
            false
        }
    }
}

/// The plain display: the model, the printer and buildctl's refresh timing, on an
/// injected clock. Call `on_status` per message, `on_tick` when `next_tick` is due, and
/// `finish` at the end; each appends what to print to `out`.
#[derive(Debug)]
pub(crate) struct PlainDisplay {
    pub(crate) trace: Trace,
    printer: PlainPrinter,
    limiter: Limiter,
    next_tick: Option<i64>,
}

impl Default for PlainDisplay {
    fn default() -> Self {
        PlainDisplay {
            trace: Trace::new(TraceOptions { pending_logs: true }),
            printer: PlainPrinter::default(),
            limiter: Limiter { tokens: 0.0, last: None },
            next_tick: None,
        }
    }
}

impl PlainDisplay {
    pub(crate) fn on_status(&mut self, msg: &bollard_buildkit_proto::moby::buildkit::v1::StatusResponse, now: i64, out: &mut Vec<u8>) {
        self.trace.update(msg, now);
        if self.limiter.allow(now) {
            self.printer.print(&mut self.trace, now, out);
        }
        self.next_tick = Some(now + TICK);
    }

    pub(crate) fn next_tick(&self) -> Option<i64> {
        self.next_tick
    }

    pub(crate) fn on_tick(&mut self, now: i64, out: &mut Vec<u8>) {
        self.printer.print(&mut self.trace, now, out);
        self.next_tick = Some(now + TICK);
    }

    pub(crate) fn finish(&mut self, now: i64, out: &mut Vec<u8>) {
        self.printer.print(&mut self.trace, now, out);
        self.printer.print_error_logs(&self.trace, out);
    }
}
