//! The event model: a table of vertexes built from BuildKit status messages (vertex
//! updates, transfer statuses, log chunks, warnings), with progress groups merged into one
//! row and run intervals merged. Pure state updates: the caller passes "now" (nanoseconds)
//! for the little bookkeeping that needs it, nothing here reads a clock or prints.
//!
//! The table also keeps what a renderer has not drawn yet (log lines, changed statuses,
//! the set of changed vertexes); the plain renderer drains those, the tty one only reads.
//! The rules follow BuildKit's progressui trace so plain output matches buildctl's.

use std::collections::{HashMap, HashSet, VecDeque};

use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex, VertexWarning};

use super::gojson::nanos;

/// How many complete log lines each vertex keeps for the error report and the tty view.
pub(crate) const TAIL_LINES: usize = 10;

/// Go's `time.Duration.Seconds()`, bit for bit (whole seconds plus the fraction).
pub(crate) fn go_seconds(d: i64) -> f64 {
    (d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interval {
    pub start: i64,
    pub stop: Option<i64>,
}

/// Sorts by start and merges overlapping intervals; an open one swallows all later ones.
pub(crate) fn merge_intervals(mut ivals: Vec<Interval>) -> Vec<Interval> {
    if ivals.is_empty() {
        return ivals;
    }
    ivals.sort_by_key(|i| i.start);
    let mut merged = Vec::new();
    let mut cur = ivals[0];
    for next in ivals.into_iter().skip(1) {
        let Some(cur_stop) = cur.stop else {
            merged.push(cur);
            return merged;
        };
        if cur_stop < next.start {
            merged.push(cur);
            cur = next;
            continue;
        }
        match next.stop {
            None => {
                merged.push(Interval { start: cur.start, stop: None });
                return merged;
            }
            Some(next_stop) if cur_stop >= next_stop => {}
            Some(next_stop) => cur = Interval { start: cur.start, stop: Some(next_stop) },
        }
    }
    merged.push(cur);
    merged
}

/// One transfer/progress status (`#3 sha256:… 1.2MB / 3.4MB 0.5s`).
#[derive(Debug, Clone, Default)]
pub(crate) struct StatusEntry {
    pub id: String,
    pub current: i64,
    pub total: i64,
    pub timestamp: i64,
    pub started: Option<i64>,
    pub completed: Option<i64>,
    /// Changed since the plain renderer last looked.
    pub updated: bool,
}

/// The fields of the last vertex message, for change detection.
#[derive(Debug, Clone, Default, PartialEq)]
struct SeenVertex {
    digest: String,
    name: String,
    started: Option<i64>,
    completed: Option<i64>,
    cached: bool,
    error: String,
}

/// A row: one vertex, or one progress group standing for its members.
#[derive(Debug, Default)]
pub(crate) struct VertexRow {
    pub digest: String,
    pub name: String,
    pub cached: bool,
    pub error: String,
    /// A group stays hidden until a non-weak member starts.
    pub hidden: bool,
    prev: Option<SeenVertex>,
    /// start -> stop, so repeated updates of one run overwrite each other.
    intervals: Vec<Interval>,
    pub merged: Vec<Interval>,
    /// Started statuses in start order (an id may repeat, as in BuildKit).
    pub status_order: Vec<usize>,
    pub statuses: Vec<StatusEntry>,
    status_by_id: HashMap<String, usize>,
    pub warnings: Vec<VertexWarning>,
    /// Log lines not drawn yet, already prefixed with their time since the vertex started.
    pub pending_logs: Vec<Vec<u8>>,
    pub logs_partial: bool,
    /// The last complete log lines (with the time prefix), for errors and the tty view.
    pub tail: VecDeque<Vec<u8>>,
    /// Updates since the renderer last switched to this row, and when the first one came.
    pub count: i64,
    pub last_block_time: Option<i64>,
    /// Group members, in first-seen order.
    members: Vec<(String, Vertex)>,
    /// The last log time prefix made (lines of one chunk share their timestamp).
    prefix_cache: Option<(i64, Vec<u8>)>,
}

impl VertexRow {
    pub fn is_started(&self) -> bool {
        !self.merged.is_empty()
    }
    pub fn most_recent(&self) -> Option<Interval> {
        self.merged.last().copied()
    }
    pub fn is_completed(&self) -> bool {
        self.most_recent().is_some_and(|i| i.stop.is_some())
    }
    pub fn is_canceled(&self) -> bool {
        self.error.ends_with("context canceled")
    }
    fn bump(&mut self, now: i64) {
        if self.count == 0 {
            self.last_block_time = Some(now);
        }
        self.count += 1;
    }
    fn set_interval(&mut self, ival: Interval) {
        match self.intervals.iter_mut().find(|i| i.start == ival.start) {
            Some(i) => *i = ival,
            None => self.intervals.push(ival),
        }
        self.merged = merge_intervals(self.intervals.clone());
    }
    /// Total run time over merged intervals, as Go sums `Duration.Seconds()`.
    pub fn run_seconds(&self, now: i64) -> f64 {
        self.merged.iter().fold(0.0, |acc, i| acc + go_seconds(i.stop.unwrap_or(now) - i.start))
    }
}

/// What the model keeps for renderers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TraceOptions {
    /// Queue log lines for a renderer that drains them (plain). Off for tty: only the tail.
    pub pending_logs: bool,
}

/// The vertex table.
#[derive(Debug)]
pub(crate) struct Trace {
    opts: TraceOptions,
    pub rows: Vec<VertexRow>,
    by_digest: HashMap<String, usize>,
    groups: HashMap<String, usize>,
    /// Rows in the order they started (BuildKit's `trace.vertexes`).
    pub started_order: Vec<usize>,
    /// Rows changed since the plain renderer last printed them.
    pub updates: HashSet<usize>,
    /// The first start time seen (daemon clock).
    pub start_time: Option<i64>,
    /// The last digest looked up (logs come in runs for one vertex); cleared on remaps.
    last_lookup: Option<(String, usize)>,
}

fn opt_nanos(t: &Option<bollard_buildkit_proto::google::protobuf::Timestamp>) -> Option<i64> {
    t.as_ref().map(nanos)
}

impl Trace {
    pub fn new(opts: TraceOptions) -> Self {
        Trace {
            opts,
            rows: Vec::new(),
            by_digest: HashMap::new(),
            groups: HashMap::new(),
            started_order: Vec::new(),
            updates: HashSet::new(),
            start_time: None,
            last_lookup: None,
        }
    }

    pub fn row_of(&self, digest: &str) -> Option<usize> {
        self.by_digest.get(digest).copied()
    }

    fn row_of_cached(&mut self, digest: &str) -> Option<usize> {
        if let Some((d, r)) = &self.last_lookup {
            if d == digest {
                return Some(*r);
            }
        }
        let r = self.row_of(digest)?;
        self.last_lookup = Some((digest.to_string(), r));
        Some(r)
    }

    fn new_row(&mut self, row: VertexRow) -> usize {
        self.rows.push(row);
        self.rows.len() - 1
    }

    /// Applies one status message; `now` is when it arrived (local clock, nanoseconds).
    pub fn update(&mut self, msg: &StatusResponse, now: i64) {
        let mut seen_groups: Vec<usize> = Vec::new();
        for v in &msg.vertexes {
            if self.start_time.is_none() {
                self.start_time = opt_nanos(&v.started);
            }
            if let Some(pg) = &v.progress_group {
                let g = match self.groups.get(&pg.id) {
                    Some(&g) => g,
                    None => {
                        let g = self.new_row(VertexRow {
                            digest: pg.id.clone(),
                            name: pg.name.clone(),
                            hidden: true,
                            ..VertexRow::default()
                        });
                        self.groups.insert(pg.id.clone(), g);
                        self.by_digest.insert(pg.id.clone(), g);
                        g
                    }
                };
                if !seen_groups.contains(&g) {
                    seen_groups.push(g);
                }
                let members = &mut self.rows[g].members;
                match members.iter_mut().find(|(d, _)| *d == v.digest) {
                    Some(m) => m.1 = v.clone(),
                    None => members.push((v.digest.clone(), v.clone())),
                }
                self.by_digest.insert(v.digest.clone(), g);
                self.last_lookup = None;
                continue;
            }
            let (r, existed) = match self.by_digest.get(&v.digest) {
                Some(&r) => (r, true),
                None => {
                    let r = self.new_row(VertexRow::default());
                    self.by_digest.insert(v.digest.clone(), r);
                    (r, false)
                }
            };
            let was_started = self.rows[r].is_started();
            self.vertex_event(r, v, now);
            let started = opt_nanos(&v.started);
            if started.is_some() && (!existed || !was_started) {
                self.started_order.push(r);
            }
            let row = &mut self.rows[r];
            // A repeated announcement of a started vertex without times must not reset it.
            if !(existed && was_started && started.is_none()) {
                row.digest = v.digest.clone();
                row.name = v.name.clone();
                row.cached = v.cached;
                row.error = v.error.clone();
            }
            if let Some(start) = started {
                row.set_interval(Interval { start, stop: opt_nanos(&v.completed) });
            }
        }
        for g in seen_groups {
            let (changed, revealed) = self.refresh_group(g);
            if self.rows[g].hidden {
                continue;
            }
            if revealed {
                self.started_order.push(g);
            }
            if changed {
                self.rows[g].bump(now);
                self.updates.insert(g);
            }
        }
        for s in &msg.statuses {
            let Some(r) = self.row_of_cached(&s.vertex) else { continue };
            let row = &mut self.rows[r];
            let started = opt_nanos(&s.started);
            let (idx, prev_started) = match row.status_by_id.get(&s.id) {
                Some(&i) => (i, Some(row.statuses[i].started)),
                None => {
                    row.statuses.push(StatusEntry { id: s.id.clone(), ..StatusEntry::default() });
                    let i = row.statuses.len() - 1;
                    row.status_by_id.insert(s.id.clone(), i);
                    (i, None)
                }
            };
            if started.is_some() && prev_started.flatten().is_none() {
                row.status_order.push(idx);
            }
            row.statuses[idx] = StatusEntry {
                id: s.id.clone(),
                current: s.current,
                total: s.total,
                timestamp: opt_nanos(&s.timestamp).unwrap_or(0),
                started,
                completed: opt_nanos(&s.completed),
                updated: true,
            };
            self.updates.insert(r);
            row.bump(now);
        }
        for w in &msg.warnings {
            let Some(r) = self.row_of(&w.vertex) else { continue };
            self.rows[r].warnings.push(w.clone());
            self.rows[r].bump(now);
        }
        for l in &msg.logs {
            let Some(r) = self.row_of_cached(&l.vertex) else { continue };
            let pending = self.opts.pending_logs;
            let row = &mut self.rows[r];
            let ts = opt_nanos(&l.timestamp).unwrap_or(i64::MIN / 2);
            let since_start = row.most_recent().map_or(0, |i| ts.saturating_sub(i.start));
            let complete = split_lines(&l.msg, |i, piece| {
                let open_line = if pending { !row.pending_logs.is_empty() } else { !row.tail.is_empty() };
                if i == 0 && row.logs_partial && open_line {
                    if let Some(last) = row.pending_logs.last_mut() {
                        last.extend_from_slice(piece);
                    }
                    if let Some(last) = row.tail.back_mut() {
                        last.extend_from_slice(piece);
                    }
                    return;
                }
                let line = row.prefixed_line(since_start, piece);
                // Reuse the oldest tail buffer instead of allocating a new one per line.
                let mut kept = if row.tail.len() == TAIL_LINES { row.tail.pop_front().unwrap_or_default() } else { Vec::new() };
                kept.clear();
                kept.extend_from_slice(&line);
                row.tail.push_back(kept);
                if pending {
                    row.pending_logs.push(line);
                }
            });
            row.logs_partial = !complete;
            self.updates.insert(r);
            row.bump(now);
        }
    }

    fn vertex_event(&mut self, r: usize, v: &Vertex, now: i64) {
        let Some(started) = opt_nanos(&v.started) else { return };
        let row = &mut self.rows[r];
        let old = row.prev.clone().unwrap_or_default();
        let completed = opt_nanos(&v.completed);
        // BuildKit compares pointers for `completed`: any completed update counts as a change.
        let changed = v.digest != old.digest
            || v.name != old.name
            || old.started != Some(started)
            || completed.is_some()
            || v.cached != old.cached
            || v.error != old.error;
        if changed {
            row.bump(now);
            self.updates.insert(r);
        }
        row.prev = Some(SeenVertex {
            digest: v.digest.clone(),
            name: v.name.clone(),
            started: Some(started),
            completed,
            cached: v.cached,
            error: v.error.clone(),
        });
    }

    /// Recomputes a group row from its members: (changed, newly revealed).
    fn refresh_group(&mut self, g: usize) -> (bool, bool) {
        let row = &mut self.rows[g];
        let was_hidden = row.hidden;
        let mut changed = false;
        let mut cached = true;
        let mut error = String::new();
        let members = std::mem::take(&mut row.members);
        for (_, m) in &members {
            if let Some(start) = opt_nanos(&m.started) {
                let ival = Interval { start, stop: opt_nanos(&m.completed) };
                if !row.intervals.contains(&ival) {
                    changed = true;
                }
                match row.intervals.iter_mut().find(|i| i.start == start) {
                    Some(i) => *i = ival,
                    None => row.intervals.push(ival),
                }
                if !m.progress_group.as_ref().is_some_and(|p| p.weak) {
                    row.hidden = false;
                }
            }
            cached = cached && m.cached;
            if error.is_empty() {
                error = m.error.clone();
            } else {
                row.hidden = false;
            }
        }
        row.members = members;
        if row.cached != cached || row.error != error {
            changed = true;
        }
        row.cached = cached;
        row.error = error;
        let revealed = !row.hidden && was_hidden;
        changed |= revealed;
        row.merged = merge_intervals(row.intervals.clone());
        (changed, revealed)
    }
}

impl VertexRow {
    /// `12.345 text`: seconds since the vertex started, 3/2/1 decimals as it grows (BuildKit's).
    fn prefixed_line(&mut self, since_start: i64, text: &[u8]) -> Vec<u8> {
        let prefix = match &self.prefix_cache {
            Some((at, p)) if *at == since_start => p,
            _ => &self.prefix_cache.insert((since_start, time_prefix(since_start))).1,
        };
        let mut line = Vec::with_capacity(prefix.len() + text.len());
        line.extend_from_slice(prefix);
        line.extend_from_slice(text);
        line
    }
}

/// `12.345 `: Go's `%.*f` of `Duration.Seconds()` with 3, 2 or 1 decimals below 10 s,
/// 100 s and above. Integer arithmetic gives the same digits except on exact ties of the
/// dropped digits (the float is then a hair off the tie), which take Go's float path.
fn time_prefix(d: i64) -> Vec<u8> {
    let (prec, unit) = if d < 10_000_000_000 {
        (3, 1_000_000)
    } else if d < 100_000_000_000 {
        (2, 10_000_000)
    } else {
        (1, 100_000_000)
    };
    if d < 0 || d % unit == unit / 2 {
        let sec = go_seconds(d);
        return format!("{sec:.prec$} ").into_bytes();
    }
    let q = (d + unit / 2) / unit;
    let scale = 1_000_000_000 / unit;
    format!("{}.{:0prec$} ", q / scale, q % scale).into_bytes()
}

/// Calls `f(i, piece)` per newline-separated piece; true when the data ended with a newline.
/// Empty data counts as unfinished, as in BuildKit.
fn split_lines(mut data: &[u8], mut f: impl FnMut(usize, &[u8])) -> bool {
    if data.is_empty() {
        return false;
    }
    let mut i = 0;
    loop {
        if data.is_empty() {
            return true;
        }
        match memchr::memchr(b'\n', data) {
            None => {
                f(i, data);
                return false;
            }
            Some(idx) => {
                f(i, &data[..idx]);
                data = &data[idx + 1..];
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
