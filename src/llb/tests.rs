//! Unit tests: each builder feature produces the expected `pb` message.

use bollard_buildkit_proto::pb;
use pb::file_action::Action;
use prost::Message;

use super::*;

fn op_of(st: &State) -> pb::Op {
    pb::Op::decode(st.output().expect("not scratch").node.bytes.as_slice()).unwrap()
}

fn exec_of(st: &State) -> pb::ExecOp {
    match op_of(st).op {
        Some(pb::op::Op::Exec(e)) => e,
        other => panic!("not an exec: {other:?}"),
    }
}

fn source_of(st: &State) -> pb::SourceOp {
    match op_of(st).op {
        Some(pb::op::Op::Source(s)) => s,
        other => panic!("not a source: {other:?}"),
    }
}

fn actions_of(st: &State) -> Vec<pb::FileAction> {
    match op_of(st).op {
        Some(pb::op::Op::File(f)) => f.actions,
        other => panic!("not a file op: {other:?}"),
    }
}

fn caps(st: &State) -> Vec<String> {
    st.output()
        .unwrap()
        .node
        .metadata
        .caps
        .keys()
        .cloned()
        .collect()
}

fn base() -> State {
    Image::new("localhost:5000/base:latest").finish().unwrap()
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// ---- sources ----

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

// ---- exec ----

#[test]
fn exec_meta_comes_from_state() {
    let st = base()
        .add_env("PATH", "/bin")
        .dir("/app")
        .user("app")
        .hostname("h")
        .add_extra_host("db", "10.0.0.2");
    let e = exec_of(&st.run(["/bin/sh", "-c", "make"]).finish().unwrap().root());
    let meta = e.meta.unwrap();
    assert_eq!(meta.args, ["/bin/sh", "-c", "make"]);
    assert_eq!(meta.env, ["PATH=/bin"]);
    assert_eq!(meta.cwd, "/app");
    assert_eq!(meta.user, "app");
    assert_eq!(meta.hostname, "h");
    assert_eq!(
        meta.extra_hosts,
        [pb::HostIp {
            host: "db".into(),
            ip: "10.0.0.2".into()
        }]
    );
    assert!(meta.remove_mount_stubs_recursive);
    assert_eq!(e.network, pb::NetMode::Unset as i32);
    assert_eq!(e.security, pb::SecurityMode::Sandbox as i32);
}

#[test]
fn exec_overrides_apply_to_this_run_only() {
    let st = base().add_env("A", "1");
    let out = st
        .run(["true"])
        .env("B", "2")
        .cwd("/tmp")
        .user("nobody")
        .finish()
        .unwrap();
    let meta = exec_of(&out.root()).meta.unwrap();
    assert_eq!(meta.env, ["A=1", "B=2"]);
    assert_eq!((meta.cwd.as_str(), meta.user.as_str()), ("/tmp", "nobody"));
    let root = out.root();
    assert_eq!(root.env(), ["A=1"]);
    assert_eq!(root.get_dir(), "/");
    assert_eq!(root.get_user(), "");
}

#[test]
fn exec_network_security_and_caps() {
    let root = base()
        .run(["true"])
        .network(Network::None)
        .security(Security::Insecure)
        .finish()
        .unwrap()
        .root();
    let e = exec_of(&root);
    assert_eq!(e.network, pb::NetMode::None as i32);
    assert_eq!(e.security, pb::SecurityMode::Insecure as i32);
    assert_eq!(
        caps(&root),
        [
            "exec.meta.base",
            "exec.meta.network",
            "exec.meta.security",
            "exec.mount.bind"
        ]
    );
    let host = base()
        .network(Network::Host)
        .run(["true"])
        .finish()
        .unwrap()
        .root();
    assert_eq!(exec_of(&host).network, pb::NetMode::Host as i32);
}

#[test]
fn exec_requires_args_and_absolute_mounts() {
    assert!(matches!(
        base().run(Vec::<String>::new()).finish(),
        Err(LlbError::EmptyArgs)
    ));
    let err = base()
        .run(["true"])
        .mount(Mount::tmpfs("rel"))
        .finish()
        .unwrap_err();
    assert!(err.to_string().contains("\"rel\""), "{err}");
    assert!(base()
        .run(["true"])
        .mount(Mount::bind("/", &base()))
        .finish()
        .is_err());
    assert!(base()
        .run(["true"])
        .mount(Mount::tmpfs("/t").from(&base()))
        .finish()
        .is_err());
}

#[test]
fn exec_mounts_are_sorted_and_outputs_numbered() {
    let ctx = Local::new("context").finish();
    let deps = Image::new("deps").finish().unwrap();
    let out = base()
        .run(["true"])
        .mount(Mount::bind("/work", &deps))
        .mount(
            Mount::cache("/cache", "pip", CacheSharing::Private)
                .from(&deps)
                .selector("/c"),
        )
        .mount(Mount::bind("/ctx", &ctx).readonly().selector("/app"))
        .mount(Mount::tmpfs("/tmp").size(64 << 20))
        .mount(Mount::bind("/a", &deps).no_output())
        .finish()
        .unwrap();
    let root = out.root();
    let op = op_of(&root);
    let e = exec_of(&root);
    let dests: Vec<&str> = e.mounts.iter().map(|m| m.dest.as_str()).collect();
    assert_eq!(dests, ["/", "/a", "/cache", "/ctx", "/tmp", "/work"]);
    // Inputs: base, deps (deduplicated across /a, /cache, /work), ctx.
    assert_eq!(op.inputs.len(), 3);
    let by_dest = |d: &str| e.mounts.iter().find(|m| m.dest == d).unwrap().clone();
    assert_eq!((by_dest("/").input, by_dest("/").output), (0, 0));
    assert_eq!((by_dest("/a").input, by_dest("/a").output), (1, -1));
    let cache = by_dest("/cache");
    assert_eq!(
        (cache.input, cache.output, cache.selector.as_str()),
        (1, -1, "/c")
    );
    assert_eq!(cache.mount_type, pb::MountType::Cache as i32);
    assert_eq!(
        cache.cache_opt.unwrap(),
        pb::CacheOpt {
            id: "pip".into(),
            sharing: pb::CacheSharingOpt::Private as i32
        }
    );
    let ctxm = by_dest("/ctx");
    assert_eq!((ctxm.input, ctxm.output, ctxm.readonly), (2, -1, true));
    let tmp = by_dest("/tmp");
    assert_eq!(
        (tmp.input, tmp.output, tmp.tmpfs_opt.unwrap().size),
        (-1, -1, 64 << 20)
    );
    assert_eq!((by_dest("/work").input, by_dest("/work").output), (1, 1));

    // Output states: root is output 0, /work output 1, /ctx is its (readonly) source.
    assert_eq!(root.output().unwrap().index(), 0);
    let work = out.mount("/work").unwrap();
    assert_eq!(work.output().unwrap().index(), 1);
    assert_eq!(
        work.output().unwrap().digest(),
        root.output().unwrap().digest()
    );
    assert_eq!(
        out.mount("/ctx").unwrap().output().unwrap().digest(),
        ctx.output().unwrap().digest()
    );
    assert!(
        out.mount("/cache").is_none() && out.mount("/tmp").is_none() && out.mount("/a").is_none()
    );
    assert_eq!(
        caps(&root),
        [
            "exec.meta.base",
            "exec.mount.bind",
            "exec.mount.cache",
            "exec.mount.cache.sharing",
            "exec.mount.selector",
            "exec.mount.tmpfs",
            "exec.mount.tmpfs.size"
        ]
    );
}

#[test]
fn exec_secrets_and_ssh() {
    let root = base()
        .run(["true"])
        .secret(Secret::file("npmrc"))
        .secret(
            Secret::file("key")
                .target("/etc/key")
                .uid(1000)
                .gid(1001)
                .mode(0o440)
                .optional(),
        )
        .secret(Secret::env("tok", "TOKEN"))
        .secret(Secret::file("both").also_env("BOTH"))
        .ssh(Ssh::new("default"))
        .ssh(Ssh::new("github").target("/ssh/gh").mode(0o644))
        .finish()
        .unwrap()
        .root();
    let e = exec_of(&root);
    let secrets: Vec<(String, pb::SecretOpt)> = e
        .mounts
        .iter()
        .filter(|m| m.mount_type == pb::MountType::Secret as i32)
        .map(|m| (m.dest.clone(), m.secret_opt.clone().unwrap()))
        .collect();
    assert_eq!(secrets.len(), 3);
    assert_eq!(secrets[0].0, "/run/secrets/npmrc");
    assert_eq!(
        secrets[0].1,
        pb::SecretOpt {
            id: "npmrc".into(),
            uid: 0,
            gid: 0,
            mode: 0o400,
            optional: false
        }
    );
    assert_eq!(secrets[1].0, "/etc/key");
    assert_eq!(
        secrets[1].1,
        pb::SecretOpt {
            id: "key".into(),
            uid: 1000,
            gid: 1001,
            mode: 0o440,
            optional: true
        }
    );
    assert_eq!(secrets[2].0, "/run/secrets/both");
    assert_eq!(
        e.secretenv,
        [
            pb::SecretEnv {
                id: "tok".into(),
                name: "TOKEN".into(),
                optional: false
            },
            pb::SecretEnv {
                id: "both".into(),
                name: "BOTH".into(),
                optional: false
            }
        ]
    );
    let ssh: Vec<(String, pb::SshOpt)> = e
        .mounts
        .iter()
        .filter(|m| m.mount_type == pb::MountType::Ssh as i32)
        .map(|m| (m.dest.clone(), m.ssh_opt.clone().unwrap()))
        .collect();
    assert_eq!(ssh[0].0, "/run/buildkit/ssh_agent.0");
    assert_eq!(ssh[0].1.mode, 0o600);
    assert_eq!(
        (ssh[1].0.as_str(), ssh[1].1.id.as_str(), ssh[1].1.mode),
        ("/ssh/gh", "github", 0o644)
    );
    assert_eq!(
        e.meta.unwrap().env,
        ["SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"]
    );
    let c = caps(&root);
    for cap in ["exec.mount.secret", "exec.secretenv", "exec.mount.ssh"] {
        assert!(c.contains(&cap.to_string()), "{cap}");
    }
    // A user-set SSH_AUTH_SOCK wins.
    let e = exec_of(
        &base()
            .add_env("SSH_AUTH_SOCK", "/mine")
            .run(["true"])
            .ssh(Ssh::new("default"))
            .finish()
            .unwrap()
            .root(),
    );
    assert_eq!(e.meta.unwrap().env, ["SSH_AUTH_SOCK=/mine"]);
}

#[test]
fn exec_readonly_root_and_exit_codes() {
    let b = base();
    let out = b
        .run(["true"])
        .readonly_root()
        .valid_exit_codes(&[0, 3])
        .finish()
        .unwrap();
    // No writable mount: the "result" is the unchanged base.
    assert_eq!(
        out.root().output().unwrap().digest(),
        b.output().unwrap().digest()
    );
    let scratch_run = State::scratch()
        .run(["/bin/x"])
        .mount(Mount::bind("/out", &b))
        .finish()
        .unwrap();
    let e = exec_of(&scratch_run.mount("/out").unwrap());
    assert_eq!(
        (
            e.mounts[0].dest.as_str(),
            e.mounts[0].input,
            e.mounts[0].output
        ),
        ("/", -1, 0)
    );
    assert_eq!(e.meta.unwrap().valid_exit_codes, Vec::<i32>::new());
    let with_codes = b
        .run(["true"])
        .valid_exit_codes(&[0, 3])
        .finish()
        .unwrap()
        .root();
    assert_eq!(exec_of(&with_codes).meta.unwrap().valid_exit_codes, [0, 3]);
    assert!(caps(&with_codes).contains(&"exec.validexitcode".to_string()));
}

// ---- file ops ----

#[test]
fn file_chain_addresses_previous_results() {
    let ctx = Local::new("context").finish();
    let other = Image::new("other").finish().unwrap();
    let st = base()
        .dir("/app")
        .file(
            FileActions::new()
                .then(
                    Mkdir::new("data", 0o4755)
                        .parents()
                        .owner(Chown::parse("app:staff"))
                        .timestamp(42),
                )
                .then(Copy::new(&ctx, "src", "dst/"))
                .then(Copy::new(&other.dir("/opt"), "lib", "/lib/").mode(0o644))
                .then(Copy::new(&ctx, "*.txt", "."))
                .then(Rm::new("tmp").allow_not_found())
                .then(Mkfile::new("/etc/x", 0o600, "data"))
                .then(Symlink::new("/etc/x", "link")),
            Constraints::new(),
        )
        .unwrap();
    let op = op_of(&st);
    assert!(op.platform.is_none(), "file ops are not platform specific");
    assert_eq!(op.inputs.len(), 3, "base, ctx (once), other");
    let a = actions_of(&st);
    let io: Vec<(i64, i64, i64)> = a
        .iter()
        .map(|x| (x.input, x.secondary_input, x.output))
        .collect();
    assert_eq!(
        io,
        [
            (0, -1, -1),
            (3, 1, -1),
            (4, 2, -1),
            (5, 1, -1),
            (6, -1, -1),
            (7, -1, -1),
            (8, -1, 0)
        ]
    );
    let Some(Action::Mkdir(mk)) = &a[0].action else {
        panic!()
    };
    assert_eq!(
        (mk.path.as_str(), mk.mode, mk.make_parents, mk.timestamp),
        ("/app/data", 0o755, true, 42)
    );
    let owner = mk.owner.clone().unwrap();
    assert_eq!(
        owner.user.unwrap().user,
        Some(pb::user_opt::User::ByName(pb::NamedUserOpt {
            name: "app".into(),
            input: 0
        }))
    );
    let Some(Action::Copy(c1)) = &a[1].action else {
        panic!()
    };
    assert_eq!(
        (c1.src.as_str(), c1.dest.as_str(), c1.mode, c1.timestamp),
        ("/src", "/app/dst/", -1, -1)
    );
    let Some(Action::Copy(c2)) = &a[2].action else {
        panic!()
    };
    assert_eq!(
        (c2.src.as_str(), c2.dest.as_str(), c2.mode),
        ("/opt/lib", "/lib/", 0o644)
    );
    let Some(Action::Copy(c3)) = &a[3].action else {
        panic!()
    };
    assert_eq!((c3.src.as_str(), c3.dest.as_str()), ("/*.txt", "/app"));
    let Some(Action::Rm(rm)) = &a[4].action else {
        panic!()
    };
    assert_eq!(
        (rm.path.as_str(), rm.allow_not_found, rm.allow_wildcard),
        ("/app/tmp", true, false)
    );
    let Some(Action::Mkfile(mf)) = &a[5].action else {
        panic!()
    };
    assert_eq!(
        (mf.path.as_str(), mf.mode, mf.data.as_slice()),
        ("/etc/x", 0o600, b"data".as_slice())
    );
    let Some(Action::Symlink(sl)) = &a[6].action else {
        panic!()
    };
    assert_eq!(
        (sl.oldpath.as_str(), sl.newpath.as_str()),
        ("/etc/x", "/app/link")
    );
    assert_eq!(caps(&st), ["file.base", "file.symlink.create"]);
    // The file op keeps the state's meta.
    assert_eq!(st.get_dir(), "/app");
}

#[test]
fn copy_flags_reach_the_wire() {
    let ctx = Local::new("context").finish();
    let st = State::scratch()
        .file(
            Copy::new(&ctx, "app", "/srv")
                .follow_symlinks()
                .dir_contents_only()
                .attempt_unpack()
                .create_dest_path()
                .allow_wildcard()
                .allow_empty_wildcard()
                .include_patterns(&["**/*.py"])
                .exclude_patterns(&["tests"])
                .owner(Chown::ids(1, 2))
                .timestamp(7)
                .always_replace_existing(),
            Constraints::new(),
        )
        .unwrap();
    let a = actions_of(&st);
    // Scratch target: no base input, the copy source is input 0.
    assert_eq!((a[0].input, a[0].secondary_input, a[0].output), (-1, 0, 0));
    let Some(Action::Copy(c)) = &a[0].action else {
        panic!()
    };
    assert!(
        c.follow_symlink
            && c.dir_copy_contents
            && c.attempt_unpack_docker_compatibility
            && c.create_dest_path
    );
    assert!(c.allow_wildcard && c.allow_empty_wildcard && c.always_replace_existing_dest_paths);
    assert_eq!(
        (c.include_patterns.clone(), c.exclude_patterns.clone()),
        (vec!["**/*.py".to_string()], vec!["tests".to_string()])
    );
    assert_eq!(
        c.owner.clone().unwrap().group.unwrap().user,
        Some(pb::user_opt::User::ById(2))
    );
    assert_eq!(c.timestamp, 7);
    assert_eq!(caps(&st), ["file.base", "file.copy.includeexcludepatterns"]);
    assert!(matches!(
        base().file(FileActions::new(), Constraints::new()),
        Err(LlbError::EmptyFileOp)
    ));
}

// ---- merge / diff ----

#[test]
fn merge_and_diff_shapes() {
    let a = base();
    let b = a
        .file(Mkfile::new("/b", 0o644, "b"), Constraints::new())
        .unwrap();
    assert!(merge(&[], Constraints::new()).is_scratch());
    let only = merge(&[State::scratch(), b.clone()], Constraints::new());
    assert_eq!(
        only.output().unwrap().digest(),
        b.output().unwrap().digest()
    );
    let m = merge(&[a.clone(), b.clone(), a.clone()], Constraints::new());
    let op = op_of(&m);
    assert_eq!(
        op.inputs.len(),
        3,
        "merge keeps repeated inputs: order matters"
    );
    let Some(pb::op::Op::Merge(mo)) = op.op else {
        panic!()
    };
    assert_eq!(
        mo.inputs.iter().map(|i| i.input).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(caps(&m), ["mergeop"]);

    let d = diff(&a, &b, Constraints::new());
    let Some(pb::op::Op::Diff(dop)) = op_of(&d).op else {
        panic!()
    };
    assert_eq!((dop.lower.unwrap().input, dop.upper.unwrap().input), (0, 1));
    let d = diff(&a, &State::scratch(), Constraints::new());
    let Some(pb::op::Op::Diff(dop)) = op_of(&d).op else {
        panic!()
    };
    assert_eq!(
        (dop.lower.unwrap().input, dop.upper.unwrap().input),
        (0, -1)
    );
    assert_eq!(
        diff(&State::scratch(), &b, Constraints::new())
            .output()
            .unwrap()
            .digest(),
        b.output().unwrap().digest()
    );
    // Marshalling a merge visits every input once, before the merge.
    let def = m.marshal();
    assert_eq!(def.as_pb().def.len(), 4, "image, mkfile, merge, terminal");
}

// ---- constraints and marshalling ----

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

#[test]
fn exec_proxy_env_is_kept_apart_from_env() {
    let proxy = ProxyEnv {
        http_proxy: "http://p:3128".into(),
        no_proxy: "localhost".into(),
        ..Default::default()
    };
    let root = base()
        .run(["true"])
        .proxy_env(proxy)
        .finish()
        .unwrap()
        .root();
    let meta = exec_of(&root).meta.unwrap();
    assert!(meta.env.is_empty());
    let p = meta.proxy_env.unwrap();
    assert_eq!(
        (
            p.http_proxy.as_str(),
            p.no_proxy.as_str(),
            p.https_proxy.as_str()
        ),
        ("http://p:3128", "localhost", "")
    );
    assert!(caps(&root).contains(&"exec.meta.proxyenv".to_string()));
}
