//! Parser throughput: a synthetic Dockerfile of N lines mixing continuations, heredocs,
//! mounts, JSON and ENV forms. Reports lines/s (criterion throughput in "elements").
//! Run: `cargo bench --bench parse` (sizes 1k, 10k, 100k lines show linearity), or
//! `BENTOKIT_BENCH_CPU=1 cargo bench --bench parse` for lines per CPU-second (meaningful on
//! a loaded machine). Measured 2026-11-29 on the shared 2-core box (load ~11):
//! 1.64 M lines/s on CPU at 1.5k lines, 1.72 M at 14k, 1.25 M at 138k (580–800 ns/line;
//! the big file no longer fits in cache). Wall-clock halves that under this load.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

/// Builds a Dockerfile of at least `lines` lines; returns it with its exact line count.
fn synthetic(lines: usize) -> (String, usize) {
    let mut out = String::from("# syntax=docker/dockerfile:1\nARG PYTHON_VERSION=3.11\nFROM python:${PYTHON_VERSION}-slim AS base\n");
    let mut i = 0;
    while out.len() < lines * 40 || out.lines().count() < lines {
        out.push_str(&format!(
            "ENV VAR_{i}=\"value {i}\" OTHER_{i}=${{VAR_{i}:-default}}\n\
             RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \\\n    pip install package-{i} && \\\n    echo done {i}\n\
             COPY --chown=bentoml:bentoml --chmod=0644 ./src/{i} /app/{i}/\n\
             RUN <<EOF\nset -eux\necho heredoc {i}\nEOF\n\
             # a comment line\n\
             WORKDIR /app/{i}\n\
             CMD [\"python\", \"-m\", \"app_{i}\"]\n"
        ));
        i += 1;
    }
    let n = out.lines().count();
    (out, n)
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for size in [1_000usize, 10_000, 100_000] {
        let (text, lines) = synthetic(size);
        // sanity: it parses
        bentokit::dockerfile::parse(&text, "Dockerfile").expect("synthetic Dockerfile parses");
        group.throughput(Throughput::Elements(lines as u64));
        if size == 100_000 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::from_parameter(size), &text, |b, text| {
            b.iter(|| bentokit::dockerfile::parse(std::hint::black_box(text), "Dockerfile").unwrap())
        });
    }
    group.finish();
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), so that throughput
/// can be read on a loaded machine: wall-clock numbers include time spent waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// `BENTOKIT_BENCH_CPU=1 cargo bench --bench parse`: lines per CPU-second for each size.
fn cpu_report() {
    for size in [1_000usize, 10_000, 100_000] {
        let (text, lines) = synthetic(size);
        let rounds = (2_000_000 / lines).max(3);
        let (Some(cpu0), wall0) = (thread_cpu_ns(), std::time::Instant::now()) else { return };
        for _ in 0..rounds {
            std::hint::black_box(bentokit::dockerfile::parse(std::hint::black_box(&text), "Dockerfile").unwrap());
        }
        let cpu = thread_cpu_ns().unwrap_or(cpu0) - cpu0;
        let wall = wall0.elapsed();
        let total = (lines * rounds) as f64;
        println!(
            "cpu-time parse/{size}: {lines} lines x {rounds}: {:.0} lines/s on CPU, {:.0} lines/s wall, {:.1} ns/line",
            total / (cpu as f64 / 1e9),
            total / wall.as_secs_f64(),
            cpu as f64 / total
        );
    }
}

criterion_group!(criterion_benches, bench_parse);

// `criterion_main!` spelled out, with the CPU-time mode in front.
fn main() {
    if std::env::var_os("BENTOKIT_BENCH_CPU").is_some() {
        cpu_report();
        return;
    }
    criterion_benches();
    Criterion::default().configure_from_args().final_summary();
}
