//! How long building and marshalling a Dockerfile-sized LLB graph takes.
//! Run: `cargo bench --bench llb_marshal`

use bentokit::llb::*;
use criterion::{criterion_group, criterion_main, Criterion};

/// A 1 + `steps`*2 op chain like a long Dockerfile: a COPY from the context, then a RUN with a
/// cache mount and a source location, repeated.
fn graph(steps: usize) -> State {
    let sm = SourceMap::new("Dockerfile", "x\n".repeat(steps * 2 + 1));
    let ctx = Local::new("context")
        .session_id("s")
        .follow_paths(&["src"])
        .finish();
    let mut st = Image::new("python:3.11-slim").finish().unwrap().dir("/app");
    for i in 0..steps {
        st = st
            .file(
                Copy::new(&ctx, format!("src/{i}"), "./")
                    .create_dest_path()
                    .owner(Chown::parse("app:app")),
                Constraints::new()
                    .custom_name(format!("COPY src/{i} ./"))
                    .location(&sm, [line_range(2 * i as u32 + 2, 2 * i as u32 + 2)]),
            )
            .unwrap()
            .run(["/bin/sh", "-c", &format!("pip install pkg{i}")])
            .mount(Mount::cache(
                "/root/.cache/pip",
                "pip",
                CacheSharing::Locked,
            ))
            .constraints(Constraints::new().custom_name(format!("RUN pip install pkg{i}")))
            .finish()
            .unwrap()
            .root();
    }
    st
}

fn bench(c: &mut Criterion) {
    c.bench_function("build 100-step graph", |b| b.iter(|| graph(100)));
    let st = graph(100);
    c.bench_function("marshal 100-step graph", |b| b.iter(|| st.marshal()));
    let def = st.marshal();
    c.bench_function("encode 100-step definition", |b| b.iter(|| def.to_bytes()));
    c.bench_function("json dump 100-step definition", |b| {
        b.iter(|| def.dump_json_lines().unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
