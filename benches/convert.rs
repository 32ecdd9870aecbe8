//! Parse + convert a generated 50-stage, 1,000-instruction Dockerfile with an in-process
//! image resolver (no daemon). Target (issue #5): under 5 ms per iteration. Met: 4.57 ms
//! with the release profile's thin LTO and one codegen unit (idle box, load 0.1); 4.90 ms
//! without them (load ≈ 2 on the shared 2-core dev box; 4.9-5.5 ms at load 2-4.5 while
//! other people's builds run). Parse ≈ 1.03 ms, convert ≈ 3.97 ms (marshal
//! ≈ 0.35 ms of it), `COPY .` variant 5.0 ms. The code before the speed work gave 17.1 ms
//! (load ≈ 1) and 15.3 ms next to the new code (load 5.5). `convert` dispatches once: the
//! context's followpaths are guessed from the instructions and checked against what
//! dispatch read (a second pass only when they differ). Most of the remaining time is
//! memory allocation (malloc/free ≈ 35-40% of perf samples; ~55k allocations per
//! iteration, about a quarter of them for the `pb::Definition` itself: op bytes, metadata
//! maps, locations). See bench/RESULTS.md.

#[path = "../tests/corpus/resolver.rs"]
mod resolver;
#[path = "../tests/corpus/generated.rs"]
mod generated;

use bentokit::convert::{self, ConvertOptions};
use bentokit::llb::Platform;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use generated::{generated_dockerfile, INSTRUCTIONS, STAGES};

fn bench(c: &mut Criterion) {
    let text = generated_dockerfile();
    let df = bentokit::dockerfile::parse(&text, "Dockerfile").expect("the generated Dockerfile parses");
    let count: usize = df.stages.iter().map(|s| s.instructions.len() + 1).sum();
    assert_eq!((df.stages.len(), count), (STAGES, INSTRUCTIONS));
    let opts = ConvertOptions { build_platform: Some(Platform::linux_amd64()), ..Default::default() };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    // Every stage feeds the last one through the chain of references.
    let converted = rt.block_on(convert::convert(&df, &opts, &resolver::FakeResolver)).expect("converts");
    assert!(converted[0].definition.ops().unwrap().len() > 500);
    c.bench_function("parse+convert 50 stages, 1000 instructions", |b| {
        b.iter(|| {
            let df = bentokit::dockerfile::parse(black_box(&text), "Dockerfile").unwrap();
            rt.block_on(convert::convert(&df, &opts, &resolver::FakeResolver)).unwrap()
        })
    });
    // With `COPY . …` the whole context is read and the followpaths probe is the result.
    let whole = text.replacen("COPY *.txt", "COPY .", 1);
    c.bench_function("parse+convert, whole context (COPY .)", |b| {
        b.iter(|| {
            let df = bentokit::dockerfile::parse(black_box(&whole), "Dockerfile").unwrap();
            rt.block_on(convert::convert(&df, &opts, &resolver::FakeResolver)).unwrap()
        })
    });
    // The breakdown: where the time goes.
    c.bench_function("parse only", |b| b.iter(|| bentokit::dockerfile::parse(black_box(&text), "Dockerfile").unwrap()));
    c.bench_function("convert only (parsed once)", |b| {
        b.iter(|| rt.block_on(convert::convert(black_box(&df), &opts, &resolver::FakeResolver)).unwrap())
    });
    c.bench_function("marshal only", |b| b.iter(|| black_box(&converted[0].definition).to_bytes()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
