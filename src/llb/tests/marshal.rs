//! Op metadata, definition order, determinism, source maps.

use bollard_buildkit_proto::pb;

use super::super::*;
use super::*;

#[test]
fn constraints_land_in_op_metadata() {
    let st = base()
        .run(["true"])
        .constraints(
            Constraints::new()
                .custom_name("[stage 1/2] RUN true")
                .description("com.docker.dockerfile.v1.step", "1")
                .ignore_cache()
                .export_cache(Some(false))
                .cap("exec.meta.proxyenv")
                .progress_group("g1", "group", true),
        )
        .finish()
        .unwrap()
        .root();
    let def = st.marshal();
    let md = def
        .as_pb()
        .metadata
        .get(st.output().unwrap().digest())
        .unwrap();
    assert_eq!(
        md.description.get("llb.customname").unwrap(),
        "[stage 1/2] RUN true"
    );
    assert_eq!(
        md.description.get("com.docker.dockerfile.v1.step").unwrap(),
        "1"
    );
    assert!(md.ignore_cache);
    assert_eq!(md.export_cache, Some(pb::ExportCache { value: false }));
    assert!(md.caps.contains_key("exec.meta.proxyenv"));
    assert_eq!(
        md.progress_group.clone().unwrap(),
        pb::ProgressGroup {
            id: "g1".into(),
            name: "group".into(),
            weak: true
        }
    );
    let terminal = def.ops().unwrap().pop().unwrap();
    let tcaps: Vec<&str> = terminal.metadata.caps.keys().map(String::as_str).collect();
    assert_eq!(
        tcaps,
        [
            "constraints",
            "meta.description",
            "meta.exportcache",
            "meta.ignorecache",
            "platform"
        ]
    );
}

#[test]
fn marshal_orders_inputs_first_and_deduplicates() {
    let a = base();
    let ctx = Local::new("context").finish();
    let b = a
        .file(Copy::new(&ctx, "x", "/x"), Constraints::new())
        .unwrap();
    let c = a
        .run(["true"])
        .mount(Mount::bind("/b", &b))
        .mount(Mount::bind("/ctx", &ctx))
        .finish()
        .unwrap()
        .root();
    let def = c.marshal();
    let ops = def.ops().unwrap();
    let digests: Vec<&str> = ops.iter().map(|e| e.digest.as_str()).collect();
    assert_eq!(
        digests.len(),
        5,
        "image, local, copy, exec, terminal: {digests:?}"
    );
    for (i, e) in ops.iter().enumerate() {
        for input in &e.op.inputs {
            let at = digests
                .iter()
                .position(|d| *d == input.digest)
                .expect("input present");
            assert!(at < i, "input {} must come before op {i}", input.digest);
        }
    }
    assert_eq!(def.head().as_deref(), c.output().map(|o| o.digest()));
    // Equal ops built twice are one op.
    let twice = merge(
        &[
            base(),
            a.file(Mkdir::new("/d", 0o755), Constraints::new()).unwrap(),
        ],
        Constraints::new(),
    );
    assert_eq!(twice.marshal().as_pb().def.len(), 4);
}

#[test]
fn marshal_is_deterministic() {
    fn build() -> Vec<u8> {
        let ctx = Local::new("context")
            .session_id("s")
            .exclude_patterns(&["b", "a"])
            .follow_paths(&["z", "y"])
            .finish();
        let sm = SourceMap::new("Dockerfile", "FROM base\nRUN make\n");
        let st = Image::new("base")
            .constraints(Constraints::new().location(&sm, [line_range(1, 1)]))
            .finish()
            .unwrap()
            .add_env("Z", "1")
            .add_env("A", "2")
            .run(["make"])
            .mount(Mount::bind("/ctx", &ctx).readonly())
            .mount(Mount::cache("/c", "c", CacheSharing::Shared))
            .constraints(
                Constraints::new()
                    .custom_name("RUN make")
                    .description("b", "1")
                    .description("a", "2")
                    .location(&sm, [line_range(2, 2)]),
            )
            .finish()
            .unwrap()
            .root();
        st.marshal().to_bytes()
    }
    let first = build();
    for _ in 0..5 {
        assert_eq!(build(), first);
    }
    // Map keys are written sorted (prost BTreeMap): "a" before "b" in the description map.
    let def = Definition::from_bytes(&first).unwrap();
    let find = |needle: &[u8]| {
        first
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    assert!(find(b"local.excludepatterns") < find(b"local.followpaths"));
    assert!(find(b"\x0a\x01a\x12\x012") < find(b"\x0a\x01b\x12\x011"));
    assert_eq!(def.to_bytes(), first, "decode/encode round trip is stable");
}

#[test]
fn source_locations_are_collected_per_op() {
    let df = SourceMap::new("Dockerfile", "FROM base\nRUN a\nRUN b\n");
    let other = SourceMap::with_language("bentofile.yaml", "YAML", "python: {}\n");
    let st = Image::new("base")
        .constraints(Constraints::new().location(&df, [line_range(1, 1)]))
        .finish()
        .unwrap()
        .run(["a"])
        .constraints(
            Constraints::new()
                .location(&df, [line_range(2, 2)])
                .location(&other, [range(1, 0, 1, 6)]),
        )
        .finish()
        .unwrap()
        .root()
        .run(["b"])
        .constraints(Constraints::new().location(
            &SourceMap::new("Dockerfile", "FROM base\nRUN a\nRUN b\n"),
            [line_range(3, 3)],
        ))
        .finish()
        .unwrap()
        .root();
    let def = st.marshal();
    let source = def.as_pb().source.clone().unwrap();
    // Equal maps (same name, language, data) collapse into one info.
    assert_eq!(source.infos.len(), 2);
    assert_eq!(
        (
            source.infos[0].filename.as_str(),
            source.infos[0].language.as_str()
        ),
        ("Dockerfile", "Dockerfile")
    );
    assert_eq!(source.infos[0].data, b"FROM base\nRUN a\nRUN b\n");
    assert_eq!(source.infos[1].language, "YAML");
    let ops = def.ops().unwrap();
    let loc = |i: usize| {
        source
            .locations
            .get(&ops[i].digest)
            .unwrap()
            .locations
            .clone()
    };
    assert_eq!(
        loc(0),
        [pb::Location {
            source_index: 0,
            ranges: vec![line_range(1, 1)]
        }]
    );
    assert_eq!(
        loc(1),
        [
            pb::Location {
                source_index: 0,
                ranges: vec![line_range(2, 2)]
            },
            pb::Location {
                source_index: 1,
                ranges: vec![range(1, 0, 1, 6)]
            }
        ]
    );
    assert_eq!(
        loc(2),
        [pb::Location {
            source_index: 0,
            ranges: vec![line_range(3, 3)]
        }]
    );
    assert!(
        !source.locations.contains_key(&ops[3].digest),
        "terminal op has no entry"
    );
}

#[test]
fn definition_bytes_round_trip_and_reject_garbage() {
    let def = base().run(["true"]).finish().unwrap().root().marshal();
    let back = Definition::from_bytes(&def.to_bytes()).unwrap();
    assert_eq!(back, def);
    assert!(Definition::from_bytes(b"\xff\xff\xff").is_err());
}
