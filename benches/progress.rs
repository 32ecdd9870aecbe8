//! Plain-mode rendering throughput: what one log line costs the printer (model update,
//! formatting, the write to a sink), in chunks as the daemon sends them (many lines per
//! message) and in the worst case of one line per message; with and without secret masking.
//! 100,000 lines/s must cost under 5% of a core, i.e. under 500 ns per line.

use bentokit::progress::{ProgressOptions, Renderer, ResolvedMode, SecretMasker};
use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const LINES: usize = 100_000;

fn ts(n: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds: n / 1_000_000_000, nanos: (n % 1_000_000_000) as i32 })
}

/// A started RUN vertex, then `LINES` log lines of ~70 bytes in messages of `per_msg` lines,
/// 10 µs apart (100k lines/s).
fn stream(per_msg: usize) -> Vec<StatusResponse> {
    let digest = "sha256:1f5ae3d4a0c8b0a2e1f6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8".to_string();
    let mut msgs = vec![StatusResponse {
        vertexes: vec![Vertex { digest: digest.clone(), name: "[3/9] RUN pip install -r requirements.txt".into(), started: ts(1), ..Vertex::default() }],
        ..StatusResponse::default()
    }];
    let mut n = 0;
    while n < LINES {
        let mut chunk = Vec::new();
        for _ in 0..per_msg {
            chunk.extend_from_slice(format!("Collecting package-number-{n:06} (from -r requirements.txt (line 12))\n").as_bytes());
            n += 1;
        }
        msgs.push(StatusResponse {
            logs: vec![VertexLog { vertex: digest.clone(), timestamp: ts(1 + n as i64 * 10_000), stream: 1, msg: chunk }],
            ..StatusResponse::default()
        });
    }
    msgs
}

fn run(msgs: Vec<StatusResponse>, secrets: bool) {
    let mut opts = ProgressOptions::new(ResolvedMode::Plain);
    if secrets {
        opts.secrets = SecretMasker::new(["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]);
    }
    let mut r = Renderer::new(opts, Box::new(std::io::sink()));
    let base = 1_000_000_000_000;
    for (i, m) in msgs.into_iter().enumerate() {
        let now = base + i as i64 * 10_000;
        while let Some(d) = r.next_deadline().filter(|&d| d < now) {
            r.on_tick(d);
        }
        r.on_status(m, now);
    }
    std::hint::black_box(r.finish(base + 2_000_000_000));
}

/// CPU time of this thread, which a busy shared machine inflates far less than wall time.
fn thread_cpu_nanos() -> i64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// Best-of-7 thread CPU time per line, printed next to criterion's wall-clock numbers.
fn report_cpu_per_line() {
    for (name, per_msg, secrets) in [("chunks_of_50_lines", 50, false), ("one_line_per_message", 1, false), ("chunks_of_50_lines_masking", 50, true)] {
        let best = (0..7)
            .map(|_| {
                let msgs = stream(per_msg);
                let t0 = thread_cpu_nanos();
                run(msgs, secrets);
                thread_cpu_nanos() - t0
            })
            .min()
            .unwrap_or(0);
        let per_line = best as f64 / LINES as f64;
        println!("cpu {name}: {per_line:.0} ns/line = {:.1}% of a core at 100k lines/s", per_line * 100_000.0 / 1e9 * 100.0);
    }
}

fn bench(c: &mut Criterion) {
    report_cpu_per_line();
    let mut g = c.benchmark_group("plain");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(10);
    for (name, per_msg, secrets) in [("chunks_of_50_lines", 50, false), ("one_line_per_message", 1, false), ("chunks_of_50_lines_masking", 50, true)] {
        g.bench_function(name, |b| b.iter_batched(|| stream(per_msg), |m| run(m, secrets), BatchSize::LargeInput));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
