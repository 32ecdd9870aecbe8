//! Exec ops: meta, mounts, secrets, ssh, outputs.

use bollard_buildkit_proto::pb;

use super::super::*;
use super::*;

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
