//! The one printer that owns stderr during a build: it receives status messages (never
//! blocking the sender), masks secrets, feeds the model and the chosen renderer, writes the
//! error report at the end and returns a summary. `Renderer` is the synchronous core with an
//! injected clock (used by replays and tests); `Progress` runs it on its own thread.

use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

use super::model::{Trace, TraceOptions};
use super::plain::PlainDisplay;
use super::rawjson::encode_status;
use super::secrets::SecretMasker;
use super::sourcemap::{snippets, SourceMap, SourceSnippet, TemplateLookup};
use super::tty::{frame, FrameOptions};
use super::ResolvedMode;

/// tty redraw period (at most 10 frames a second).
const TTY_FRAME: i64 = 100_000_000;

/// How to render a build.
#[derive(Clone)]
pub struct ProgressOptions {
    pub mode: ResolvedMode,
    /// The tty header's verb: `[+] Building 1.2s (3/4)`.
    pub phase: String,
    /// Op digest -> Dockerfile lines, from the converter (empty: no excerpts).
    pub source_map: SourceMap,
    /// Rendered Dockerfile line -> template line, for Bentos.
    pub template_lookup: Option<TemplateLookup>,
    pub secrets: SecretMasker,
    /// Colours in tty mode (off when `NO_COLOR` is set; see `ProgressOptions::new`).
    pub color: bool,
}

impl std::fmt::Debug for ProgressOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressOptions").field("mode", &self.mode).field("phase", &self.phase).field("color", &self.color).finish_non_exhaustive()
    }
}

impl ProgressOptions {
    /// Defaults for a mode; colour follows `NO_COLOR` (https://no-color.org).
    pub fn new(mode: ResolvedMode) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        ProgressOptions {
            mode,
            phase: "Building".to_string(),
            source_map: SourceMap::default(),
            template_lookup: None,
            secrets: SecretMasker::default(),
            color: !no_color,
        }
    }
}

/// A step that failed (canceled steps are listed separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VertexFailure {
    pub digest: String,
    pub name: String,
    pub error: String,
    /// The last log lines, each prefixed with its time since the step started.
    pub last_logs: Vec<String>,
    /// Dockerfile excerpts (and template origins) from the source map.
    pub sources: Vec<SourceSnippet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildWarning {
    pub vertex: String,
    pub message: String,
    pub url: String,
}

/// What the CLI needs after the stream ended: non-empty `failures` means a non-zero exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSummary {
    pub failures: Vec<VertexFailure>,
    pub canceled: Vec<String>,
    pub warnings: Vec<BuildWarning>,
    pub vertexes: usize,
    pub completed: usize,
    pub cached: usize,
}

/// The synchronous renderer: call `on_status` per message, `on_tick` when `next_deadline`
/// has passed, and `finish` once; `now` is the local clock in Unix nanoseconds.
pub struct Renderer {
    opts: ProgressOptions,
    out: Box<dyn Write + Send>,
    plain: PlainDisplay,
    /// The model for every mode but plain (which keeps its own).
    trace: Trace,
    buf: Vec<u8>,
    bar: Option<indicatif::ProgressBar>,
    daemon_offset: Option<i64>,
    next_frame: Option<i64>,
    /// Terminal rows and columns (24x80 when unknown).
    size: (usize, usize),
}

impl Renderer {
    /// A renderer writing to `out`. tty mode draws through indicatif on stderr instead.
    pub fn new(opts: ProgressOptions, out: Box<dyn Write + Send>) -> Self {
        let bar = (opts.mode == ResolvedMode::Tty).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr_with_hz(10));
            // OK to unwrap: the template is a constant without placeholders that can fail.
            bar.set_style(indicatif::ProgressStyle::with_template("{msg}").unwrap());
            bar
        });
        Renderer {
            opts,
            out,
            plain: PlainDisplay::default(),
            trace: Trace::new(TraceOptions { pending_logs: false }),
            buf: Vec::with_capacity(64 * 1024),
            bar,
            daemon_offset: None,
            next_frame: None,
            size: (24, 80),
        }
    }

    fn model(&self) -> &Trace {
        if self.opts.mode == ResolvedMode::Plain {
            &self.plain.trace
        } else {
            &self.trace
        }
    }

    pub fn on_status(&mut self, mut msg: StatusResponse, now: i64) {
        self.opts.secrets.mask_status(&mut msg);
        match self.opts.mode {
            ResolvedMode::Plain => self.plain.on_status(&msg, now, &mut self.buf),
            ResolvedMode::RawJson => {
                self.buf.extend_from_slice(encode_status(&msg).as_bytes());
                self.trace.update(&msg, now);
            }
            ResolvedMode::Quiet => self.trace.update(&msg, now),
            ResolvedMode::Tty => {
                self.trace.update(&msg, now);
                if self.daemon_offset.is_none() {
                    self.daemon_offset = self.trace.start_time.map(|s| now - s);
                }
                if self.next_frame.is_none() {
                    self.next_frame = Some(now);
                }
            }
        }
        self.flush();
    }

    /// When `on_tick` wants to run next, if ever.
    pub fn next_deadline(&self) -> Option<i64> {
        match self.opts.mode {
            ResolvedMode::Plain => self.plain.next_tick(),
            ResolvedMode::Tty => self.next_frame,
            _ => None,
        }
    }

    pub fn on_tick(&mut self, now: i64) {
        match self.opts.mode {
            ResolvedMode::Plain => self.plain.on_tick(now, &mut self.buf),
            ResolvedMode::Tty => {
                self.draw(now);
                self.next_frame = Some(now + TTY_FRAME);
            }
            _ => {}
        }
        self.flush();
    }

    fn frame_text(&mut self, now: i64, final_frame: bool) -> String {
        if let Some((rows, cols)) = console::Term::stderr().size_checked() {
            self.size = (usize::from(rows), usize::from(cols));
        }
        let (height, width) = self.size;
        let opts = FrameOptions { width, height, color: self.opts.color, final_frame };
        frame(&self.trace, &self.opts.phase, now, self.daemon_offset.unwrap_or(0), opts)
    }

    fn draw(&mut self, now: i64) {
        let text = self.frame_text(now, false);
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            // A closed stderr must not stop the build: drop what cannot be written.
            let _ = self.out.write_all(&self.buf);
            let _ = self.out.flush();
            self.buf.clear();
        }
    }

    /// Ends the display, prints the error report, and summarizes.
    pub fn finish(mut self, now: i64) -> BuildSummary {
        match self.opts.mode {
            ResolvedMode::Plain => self.plain.finish(now, &mut self.buf),
            ResolvedMode::Tty => {
                // Clear the live area and print the last frame as ordinary lines, so what
                // follows starts on a fresh line whatever the terminal's wrap state.
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let text = self.frame_text(now, true);
                self.buf.extend_from_slice(text.as_bytes());
                self.buf.push(b'\n');
                error_logs_from_tail(&self.trace, &mut self.buf);
            }
            ResolvedMode::Quiet => error_logs_from_tail(&self.trace, &mut self.buf),
            ResolvedMode::RawJson => {}
        }
        let summary = summarize(self.model(), &self.opts);
        for f in &summary.failures {
            for s in &f.sources {
                self.buf.extend_from_slice(s.render().as_bytes());
            }
        }
        self.flush();
        summary
    }
}

/// BuildKit's error block from the kept log tail (tty and quiet keep no printed ring).
fn error_logs_from_tail(t: &Trace, out: &mut Vec<u8>) {
    for &r in &t.started_order {
        let v = &t.rows[r];
        if v.error.is_empty() || v.is_canceled() {
            continue;
        }
        out.extend_from_slice(b"------\n");
        out.extend_from_slice(format!(" > {}:\n", v.name).as_bytes());
        for l in &v.tail {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        out.extend_from_slice(b"------\n");
    }
}

fn summarize(t: &Trace, opts: &ProgressOptions) -> BuildSummary {
    let mut s = BuildSummary::default();
    for row in t.rows.iter().filter(|r| !r.hidden) {
        s.vertexes += 1;
        s.completed += usize::from(row.is_completed());
        s.cached += usize::from(row.cached);
        for w in &row.warnings {
            s.warnings.push(BuildWarning { vertex: row.name.clone(), message: String::from_utf8_lossy(&w.short).into_owned(), url: w.url.clone() });
        }
    }
    for &r in &t.started_order {
        let v = &t.rows[r];
        if v.error.is_empty() {
            continue;
        }
        if v.is_canceled() {
            s.canceled.push(v.name.clone());
            continue;
        }
        let mut sources = snippets(&opts.source_map, &v.digest, opts.template_lookup.as_ref());
        // The Dockerfile itself may spell a secret out; the excerpt must not.
        for src in &mut sources {
            opts.secrets.mask_string(&mut src.text);
        }
        s.failures.push(VertexFailure {
            digest: v.digest.clone(),
            name: v.name.clone(),
            error: v.error.clone(),
            last_logs: v.tail.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect(),
            sources,
        });
    }
    s
}

/// The local clock in Unix nanoseconds.
pub fn wall_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// A running printer thread. `push` never blocks; `finish` waits for the last frame.
pub struct Progress {
    tx: mpsc::Sender<StatusResponse>,
    handle: JoinHandle<BuildSummary>,
}

impl Progress {
    /// Starts the printer on stderr.
    pub fn start(opts: ProgressOptions) -> Progress {
        Self::start_with_output(opts, Box::new(std::io::stderr()))
    }

    pub fn start_with_output(opts: ProgressOptions, out: Box<dyn Write + Send>) -> Progress {
        let (tx, rx) = mpsc::channel::<StatusResponse>();
        let handle = std::thread::Builder::new()
            .name("bentokit-progress".into())
            .spawn(move || {
                let mut r = Renderer::new(opts, out);
                loop {
                    // A flood of messages must not starve the refresh: a due tick goes first.
                    if let Some(deadline) = r.next_deadline() {
                        let now = wall_nanos();
                        if now >= deadline {
                            r.on_tick(now);
                            continue;
                        }
                    }
                    let next = match r.next_deadline() {
                        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                        Some(deadline) => {
                            let wait = (deadline - wall_nanos()).max(0) as u64;
                            rx.recv_timeout(Duration::from_nanos(wait))
                        }
                    };
                    match next {
                        Ok(msg) => r.on_status(msg, wall_nanos()),
                        Err(mpsc::RecvTimeoutError::Timeout) => r.on_tick(wall_nanos()),
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                r.finish(wall_nanos())
            })
            // OK to expect: failing to spawn a thread means the process is out of resources.
            .expect("spawn the progress printer thread");
        Progress { tx, handle }
    }

    /// Hands a message to the printer; never waits on the terminal.
    pub fn push(&self, msg: StatusResponse) {
        let _ = self.tx.send(msg);
    }

    /// Ends the display and returns the summary (blocks until the printer is done).
    pub fn finish(self) -> BuildSummary {
        drop(self.tx);
        self.handle.join().unwrap_or_default()
    }
}

/// Drains a status stream (e.g. `Control.Status` mapped to its messages, or a
/// `ReceiverStream`) into a printer on stderr and returns the summary when it ends.
pub async fn render_stream<S>(stream: S, opts: ProgressOptions) -> BuildSummary
where
    S: futures_core::Stream<Item = StatusResponse>,
{
    use tokio_stream::StreamExt as _;
    let progress = Progress::start(opts);
    let mut stream = std::pin::pin!(stream);
    while let Some(msg) = stream.next().await {
        progress.push(msg);
    }
    tokio::task::spawn_blocking(move || progress.finish()).await.unwrap_or_default()
}

/// Replays recorded messages with the clock BuildKit's replay uses (message k arrives at
/// the latest timestamp in messages 0..=k) and returns what the renderer wrote. Pure.
pub fn replay(messages: &[StatusResponse], opts: ProgressOptions) -> (Vec<u8>, BuildSummary) {
    let sink = SharedBuf::default();
    let mut r = Renderer::new(opts, Box::new(sink.clone()));
    let first = messages.iter().find_map(latest_timestamp).unwrap_or(0);
    let mut clock: Option<i64> = None;
    for msg in messages {
        if let Some(t) = latest_timestamp(msg) {
            if clock.is_none_or(|c| t > c) {
                clock = Some(t);
            }
        }
        let now = clock.unwrap_or(first);
        while let Some(d) = r.next_deadline().filter(|&d| d < now) {
            r.on_tick(d);
        }
        r.on_status(msg.clone(), now);
    }
    let summary = r.finish(clock.unwrap_or(first));
    let bytes = sink.0.lock().map(|b| b.clone()).unwrap_or_default();
    (bytes, summary)
}

fn latest_timestamp(msg: &StatusResponse) -> Option<i64> {
    use super::gojson::nanos;
    let vertex = msg.vertexes.iter().flat_map(|v| [&v.started, &v.completed]);
    let status = msg.statuses.iter().flat_map(|s| [&s.timestamp, &s.started, &s.completed]);
    let logs = msg.logs.iter().map(|l| &l.timestamp);
    vertex.chain(status).chain(logs).filter_map(|t| t.as_ref().map(nanos)).max()
}

/// A `Write` into shared memory, for replays and tests.
#[derive(Clone, Default)]
pub struct SharedBuf(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The line the CLI prints on stdout after a successful export: `name@digest` for each
/// image name, or the bare digest. None when the exporter reported no image digest.
pub fn format_result(exporter_response: &HashMap<String, String>) -> Option<String> {
    let digest = exporter_response.get("containerimage.digest").filter(|d| !d.is_empty())?;
    let names: Vec<&str> = exporter_response
        .get("image.name")
        .map(|n| n.split(',').map(str::trim).filter(|n| !n.is_empty()).collect())
        .unwrap_or_default();
    if names.is_empty() {
        return Some(digest.clone());
    }
    Some(names.iter().map(|n| format!("{n}@{digest}")).collect::<Vec<_>>().join("\n"))
}

/// Prints `format_result` on stdout (every mode, quiet included).
pub fn print_result(exporter_response: &HashMap<String, String>) -> std::io::Result<()> {
    if let Some(line) = format_result(exporter_response) {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    Ok(())
}
