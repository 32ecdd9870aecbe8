//! Source ops: images, local, git, http, scratch.

use super::super::*;
use super::*;

#[test]
fn image_references_are_normalized_like_docker() {
    let cases = [
        ("busybox", "docker.io/library/busybox:latest"),
        ("python:3.11-slim", "docker.io/library/python:3.11-slim"),
        ("bentoml/model:1", "docker.io/bentoml/model:1"),
        ("localhost:5000/base", "localhost:5000/base:latest"),
        ("localhost/x:y", "localhost/x:y"),
        ("ghcr.io/o/r/s:v1.0", "ghcr.io/o/r/s:v1.0"),
        (
            "index.docker.io/library/alpine",
            "docker.io/library/alpine:latest",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(normalize_image_reference(input).unwrap(), want, "{input}");
    }
    let digested = format!("alpine@{DIGEST}");
    assert_eq!(
        normalize_image_reference(&digested).unwrap(),
        format!("docker.io/library/alpine@{DIGEST}")
    );
    for bad in ["", "UPPER/case", "x:", "x@sha256:short", "a//b", "x:-bad"] {
        assert!(
            normalize_image_reference(bad).is_err(),
            "{bad:?} should be rejected"
        );
    }
}

#[test]
fn image_source_pins_digest_and_sets_attrs() {
    let st = Image::new("python:3.11")
        .pin(DIGEST)
        .record_type("internal")
        .resolve_mode(ResolveMode::ForcePull)
        .layer_limit(3)
        .finish()
        .unwrap();
    let src = source_of(&st);
    assert_eq!(
        src.identifier,
        format!("docker-image://docker.io/library/python:3.11@{DIGEST}")
    );
    assert_eq!(src.attrs.get("image.recordtype").unwrap(), "internal");
    assert_eq!(src.attrs.get("image.resolvemode").unwrap(), "pull");
    assert_eq!(src.attrs.get("image.layerlimit").unwrap(), "3");
    assert_eq!(
        caps(&st),
        [
            "source.image",
            "source.image.layerlimit",
            "source.image.resolvemode"
        ]
    );
    // Images are platform specific: the op always carries one.
    assert_eq!(op_of(&st).platform.unwrap().os, "linux");
    // Re-pinning an already digested reference replaces the digest.
    let other = DIGEST.replace("0123", "4567");
    let st = Image::new(format!("alpine@{DIGEST}"))
        .pin(&other)
        .finish()
        .unwrap();
    assert_eq!(
        source_of(&st).identifier,
        format!("docker-image://docker.io/library/alpine@{other}")
    );
    assert!(Image::new("alpine").pin("sha256:nothex").finish().is_err());
}

#[test]
fn image_with_explicit_platform_passes_it_to_later_execs() {
    let arm = Platform::parse("linux/arm64/v8").unwrap();
    let st = Image::new("alpine")
        .constraints(Constraints::new().platform(arm.clone()))
        .finish()
        .unwrap();
    assert_eq!(st.get_platform(), Some(&arm));
    let run = st.run(["true"]).finish().unwrap().root();
    assert_eq!(op_of(&run).platform.unwrap().architecture, "arm64");
}

#[test]
fn local_source_attrs_are_json_arrays() {
    let st = Local::new("context")
        .session_id("s1")
        .shared_key_hint("ctx")
        .follow_paths(&["app", "requirements.txt"])
        .include_patterns(&["app/**"])
        .exclude_patterns(&["*.pyc", "!keep.pyc"])
        .finish();
    let src = source_of(&st);
    assert_eq!(src.identifier, "local://context");
    let attrs: Vec<(&str, &str)> = src
        .attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        attrs,
        [
            ("local.excludepatterns", r#"["*.pyc","!keep.pyc"]"#),
            ("local.followpaths", r#"["app","requirements.txt"]"#),
            ("local.includepattern", r#"["app/**"]"#),
            ("local.session", "s1"),
            ("local.sharedkeyhint", "ctx"),
        ]
    );
    assert!(
        op_of(&st).platform.is_none(),
        "local sources are not platform specific"
    );
    assert!(caps(&st).contains(&"source.local.followpaths".to_string()));
    // An empty list means "no filter": the attribute is left out.
    let st = Local::new("c").follow_paths::<&str>(&[]).finish();
    assert!(source_of(&st).attrs.is_empty());
    let st = Local::new("c").unique_id("u").finish();
    assert_eq!(source_of(&st).attrs.get("local.unique").unwrap(), "u");
}

#[test]
fn git_and_http_sources() {
    let st = Git::new("https://github.com/bentoml/BentoML.git", "v1.2.0")
        .keep_git_dir()
        .finish();
    let src = source_of(&st);
    assert_eq!(
        src.identifier,
        "git://github.com/bentoml/BentoML.git#v1.2.0"
    );
    assert_eq!(
        src.attrs.get("git.fullurl").unwrap(),
        "https://github.com/bentoml/BentoML.git"
    );
    assert_eq!(src.attrs.get("git.keepgitdir").unwrap(), "true");
    let st = Git::new("github.com/o/r", "").finish();
    assert_eq!(source_of(&st).identifier, "git://github.com/o/r");
    let st = Git::new("git@github.com:o/r.git", "main").finish();
    let src = source_of(&st);
    assert_eq!(src.identifier, "git://github.com/o/r.git#main");
    assert_eq!(src.attrs.get("git.mountsshsock").unwrap(), "default");

    let st = Http::new("https://example.com/a.tgz")
        .checksum(DIGEST)
        .filename("b.tgz")
        .perm(0o755)
        .chown(10, 20)
        .finish();
    let src = source_of(&st);
    assert_eq!(src.identifier, "https://example.com/a.tgz");
    assert_eq!(src.attrs.get("http.perm").unwrap(), "0755");
    assert_eq!(src.attrs.get("http.uid").unwrap(), "10");
    assert_eq!(src.attrs.get("http.gid").unwrap(), "20");
    assert_eq!(src.attrs.get("http.filename").unwrap(), "b.tgz");
    assert_eq!(src.attrs.get("http.checksum").unwrap(), DIGEST);
    assert!(
        caps(&st).contains(&"soruce.http.uidgid".to_string()),
        "BuildKit's cap id has this typo"
    );
}

#[test]
fn scratch_marshals_to_empty_definition() {
    let def = State::scratch().marshal();
    assert!(def.as_pb().def.is_empty());
    assert_eq!(def.head(), None);
}

#[test]
fn source_constraints_keep_the_caps_options_added() {
    let st = Local::new("c")
        .session_id("s")
        .constraints(Constraints::new().custom_name("ctx"))
        .finish();
    assert_eq!(caps(&st), ["source.local", "source.local.sessionid"]);
    let st = Http::new("https://x/y")
        .perm(0o600)
        .constraints(Constraints::new().ignore_cache())
        .finish();
    assert_eq!(caps(&st), ["source.http", "source.http.perm"]);
    assert!(st.output().unwrap().node.metadata.ignore_cache);
}
