//! Parser throughput: a synthetic Dockerfile of N lines mixing continuations, heredocs,
//! mounts, JSON and ENV forms. Reports lines/s (criterion throughput in "elements").
//! Run: `cargo bench --bench parse` (sizes 1k, 10k, 100k lines show linearity).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

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

criterion_group!(benches, bench_parse);
criterion_main!(benches);
