//! Rendering cost of the library calls `bentokit dockerfile` makes: loading a Bento
//! (bento.yaml + validation) and rendering its Dockerfile (two renders: the text and the
//! instrumented one for the line map). The whole-process time is measured by
//! scripts/bench-dockerfile.sh.

use std::path::Path;

use bentokit::bento::{Bento, BentoRef};
use bentokit::template::{self, RenderOptions};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["python_debian", "seed_conda_cuda"] {
        let dir = manifest.join("tests/fixtures/bentos").join(name);
        let reference = BentoRef::Path(dir);
        c.bench_function(&format!("load/{name}"), |b| b.iter(|| Bento::load(&reference).unwrap()));
        let bento = Bento::load(&reference).unwrap();
        let options = RenderOptions::default();
        c.bench_function(&format!("render/{name}"), |b| b.iter(|| template::render(&bento, &options).unwrap()));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
