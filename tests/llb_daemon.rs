//! Real-daemon tests for `bentokit::llb`: definitions we marshal are piped to `buildctl build`
//! (which reads a Definition on stdin when no frontend is given) against the shared buildkitd,
//! exported as OCI tarballs and checked file by file. Base image: `localhost:5000/base:latest`
//! (busybox). Needs `buildctl` and the daemon socket (or `BUILDKIT_HOST`); with `CI=true` a
//! missing daemon fails instead of skipping.
//!
//! Run: `cargo test --test llb_daemon`

#[path = "llb_daemon/oci.rs"]
mod oci;

use std::path::Path;

use bentokit::llb::*;
use oci::{build, daemon, unique, BuildOpts};

fn base() -> State {
    Image::new("localhost:5000/base:latest")
        .constraints(Constraints::new().platform(Platform::linux_amd64()))
        .finish()
        .unwrap()
        .add_env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
}

/// The base with a user `app` (1234) and group `appgrp` (2345): busybox ships without `nobody`.
fn base_with_user() -> State {
    sh(&base(), "echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd && echo 'appgrp:x:2345:' >> /etc/group")
        .finish()
        .unwrap()
        .root()
}

fn sh(st: &State, script: &str) -> Exec {
    st.run(["/bin/sh", "-c", script])
}

fn write(dir: &Path, rel: &str, data: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

#[test]
fn exec_env_cwd_user_network() {
    let Some(addr) = daemon() else { return };
    let marker = unique("exec");
    let st = sh(
        &base_with_user()
            .add_env("GREETING", "hello")
            .dir("/work")
            .user("app"),
        &format!("echo \"$GREETING $(pwd) $(id -u) {marker}\" > /tmp/out"),
    )
    .finish()
    .unwrap()
    .root();
    // The user carries over to later runs; override it for this one.
    let st = sh(
        &st,
        "ls /sys/class/net > /net-none && id -u > /uid-override",
    )
    .user("root")
    .network(Network::None)
    .constraints(Constraints::new().custom_name("[test 2/2] RUN ls /sys/class/net"))
    .finish()
    .unwrap()
    .root();
    let out = build(&addr, &st.marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("build failed:\n{e}"));
    let img = out.image;
    assert_eq!(img.text("/tmp/out"), format!("hello /work 1234 {marker}\n"));
    assert_eq!(img.get("/tmp/out").uid, 1234, "the command ran as app");
    assert!(img.has("/work"), "BuildKit creates the working directory");
    assert_eq!(img.text("/uid-override"), "0\n");
    assert_eq!(
        img.text("/net-none").split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "network none has only loopback"
    );
    assert!(
        out.log.contains("[test 2/2] RUN ls /sys/class/net"),
        "custom name shown in progress:\n{}",
        out.log
    );
}

#[test]
fn cache_mount_persists_across_builds_and_stays_out_of_the_image() {
    let Some(addr) = daemon() else { return };
    let id = unique("cache");
    let token = unique("token");
    let cache = || Mount::cache("/cache", &id, CacheSharing::Locked);
    let first = sh(
        &base(),
        &format!("echo {token} >> /cache/log && cp /cache/log /first"),
    )
    .mount(cache())
    .finish()
    .unwrap()
    .root();
    let img = build(&addr, &first.marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert_eq!(img.text("/first"), format!("{token}\n"));
    assert!(
        !img.has("/cache/log"),
        "cache contents must not be in the image"
    );

    // A different command (no exec cache hit) sees what the first build left in the cache.
    let second = sh(&base(), &format!("cat /cache/log > /second # {token}"))
        .mount(cache())
        .finish()
        .unwrap()
        .root();
    let img = build(&addr, &second.marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert_eq!(img.text("/second"), format!("{token}\n"));
}

#[test]
fn tmpfs_and_secrets_do_not_leak() {
    let Some(addr) = daemon() else { return };
    let dir = tempfile::tempdir().unwrap();
    let secret = unique("s3cr3t");
    let secret_path = dir.path().join("secret");
    std::fs::write(&secret_path, &secret).unwrap();
    let script = format!(
        "grep ' /scratch ' /proc/mounts | cut -d' ' -f3 > /scratch-type && echo x > /scratch/f && \
         test \"$(cat /run/secrets/tok)\" = {secret} && stat -c '%a %u' /run/secrets/tok > /secret-stat && \
         test \"$(cat /etc/custom-secret)\" = {secret} && \
         test \"$TOKEN\" = {secret} && echo ok > /secret-ok"
    );
    let st = sh(&base(), &script)
        .mount(Mount::tmpfs("/scratch").size(8 << 20))
        .secret(Secret::file("tok"))
        .secret(
            Secret::file("tok")
                .target("/etc/custom-secret")
                .uid(65534)
                .mode(0o440),
        )
        .secret(Secret::env("tok", "TOKEN"))
        .finish()
        .unwrap()
        .root();
    let opts = BuildOpts {
        secrets: vec![("tok".into(), secret_path)],
        ..Default::default()
    };
    let img = build(&addr, &st.marshal(), &opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert_eq!(img.text("/scratch-type"), "tmpfs\n");
    assert!(
        !img.has("/scratch/f"),
        "tmpfs contents must not be in the image"
    );
    assert_eq!(img.text("/secret-ok"), "ok\n");
    assert_eq!(img.text("/secret-stat"), "400 0\n");
    assert!(
        !img.has("/run/secrets/tok") && !img.has("/etc/custom-secret"),
        "secret mount targets are removed"
    );
    assert!(
        !img.layers_contain(secret.as_bytes()),
        "the secret value must not appear in any layer"
    );
}

#[test]
fn file_ops_copy_mkdir_mkfile_rm() {
    let Some(addr) = daemon() else { return };
    let ctx_dir = tempfile::tempdir().unwrap();
    let c = ctx_dir.path();
    write(c, "a.txt", "A\n");
    write(c, "b.txt", "B\n");
    write(c, "notes.md", "md\n");
    write(c, "dir/sub/x.py", "print(1)\n");
    std::os::unix::fs::symlink("a.txt", c.join("link")).unwrap();
    let ctx = Local::new("context").finish();

    let st = base_with_user()
        .dir("/srv")
        .file(
            FileActions::new()
                .then(
                    Mkdir::new("data/deep", 0o750)
                        .parents()
                        .owner(Chown::ids(1000, 1000)),
                )
                .then(Mkfile::new("data/cfg", 0o600, "k=v\n").owner(Chown::parse("app:appgrp")))
                .then(Mkfile::new("/tmp/gone", 0o644, "x"))
                .then(Rm::new("/tmp/gone"))
                .then(Rm::new("/does/not/exist").allow_not_found())
                .then(
                    Copy::new(&ctx, "*.txt", "txt/")
                        .allow_wildcard()
                        .create_dest_path(),
                )
                .then(
                    Copy::new(&ctx, "dir", "flat/")
                        .dir_contents_only()
                        .create_dest_path()
                        .owner(Chown::ids(123, 456))
                        .mode(0o700),
                )
                .then(
                    Copy::new(&ctx, ".", "/excl/")
                        .dir_contents_only()
                        .exclude_patterns(&["*.md", "dir"]),
                )
                .then(Copy::new(&ctx, "link", "/followed").follow_symlinks())
                .then(Copy::new(&ctx, "link", "/kept")),
            Constraints::new().custom_name("file ops"),
        )
        .unwrap();
    let opts = BuildOpts {
        locals: vec![("context".into(), c.to_path_buf())],
        ..Default::default()
    };
    let img = build(&addr, &st.marshal(), &opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .image;

    let deep = img.get("/srv/data/deep");
    assert_eq!(
        (deep.kind, deep.mode, deep.uid, deep.gid),
        (tar::EntryType::Directory, 0o750, 1000, 1000)
    );
    let cfg = img.get("/srv/data/cfg");
    assert_eq!(
        (cfg.mode, cfg.uid, cfg.gid, cfg.data.as_slice()),
        (0o600, 1234, 2345, b"k=v\n".as_slice()),
        "names resolved by the daemon"
    );
    assert!(!img.has("/tmp/gone"));
    assert_eq!(img.text("/srv/txt/a.txt"), "A\n");
    assert_eq!(img.text("/srv/txt/b.txt"), "B\n");
    assert!(!img.has("/srv/txt/notes.md"), "wildcard only matched *.txt");
    let x = img.get("/srv/flat/sub/x.py");
    assert_eq!(
        (x.mode, x.uid, x.gid, x.data.as_slice()),
        (0o700, 123, 456, b"print(1)\n".as_slice())
    );
    assert!(
        !img.has("/srv/flat/dir"),
        "dir contents only: no extra level"
    );
    assert!(
        img.has("/excl/a.txt") && !img.has("/excl/notes.md") && !img.has("/excl/dir"),
        "exclude patterns"
    );
    let followed = img.get("/followed");
    assert_eq!(
        (followed.kind, followed.data.as_slice()),
        (tar::EntryType::Regular, b"A\n".as_slice())
    );
    let kept = img.get("/kept");
    assert_eq!(
        (kept.kind, kept.link.as_deref()),
        (tar::EntryType::Symlink, Some("a.txt"))
    );
}

#[test]
fn merge_diff_copy_from_and_bind_from_another_state() {
    let Some(addr) = daemon() else { return };
    let marker = unique("built");
    let builder = sh(
        &base(),
        &format!("mkdir /out && echo {marker} > /out/artifact"),
    )
    .finish()
    .unwrap()
    .root();

    // COPY --from, then a RUN that bind-mounts the builder read-only and writes a second file.
    let app = base()
        .file(
            Copy::new(&builder, "/out/artifact", "/srv/artifact").create_dest_path(),
            Constraints::new(),
        )
        .unwrap();
    let run = sh(
        &app,
        "cat /mnt/artifact > /srv/bound && echo changed > /work/new",
    )
    .mount(Mount::bind("/mnt", &builder).readonly().selector("/out"))
    .mount(Mount::bind("/work", &State::scratch()))
    .finish()
    .unwrap();
    let img = build(&addr, &run.root().marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert_eq!(img.text("/srv/artifact"), format!("{marker}\n"));
    assert_eq!(img.text("/srv/bound"), format!("{marker}\n"));
    assert!(
        !img.has("/mnt/artifact"),
        "bind mount contents are not part of the root"
    );

    // The writable /work mount has its own output state.
    let work = run.mount("/work").unwrap();
    let img = build(&addr, &work.marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert_eq!(img.text("/new"), "changed\n");
    assert!(!img.has("/bin/busybox"), "only the mount's filesystem");

    // diff(base, builder) holds only what the RUN added; merged onto a scratch file layer.
    let extra = State::scratch()
        .file(Mkfile::new("/extra", 0o644, "e\n"), Constraints::new())
        .unwrap();
    let merged = merge(
        &[extra, diff(&base(), &builder, Constraints::new())],
        Constraints::new(),
    );
    let img = build(&addr, &merged.marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert_eq!(img.text("/extra"), "e\n");
    assert_eq!(img.text("/out/artifact"), format!("{marker}\n"));
    assert!(
        !img.has("/bin/busybox"),
        "diff must leave out the base image's files"
    );
}

#[test]
fn failing_run_points_at_its_source_location() {
    let Some(addr) = daemon() else { return };
    let dockerfile = "FROM localhost:5000/base:latest\nRUN echo about to fail && exit 3\n";
    let sm = SourceMap::new("Dockerfile", dockerfile);
    let st = sh(
        &base(),
        &format!("echo about to fail && exit 3 # {}", unique("fail")),
    )
    .constraints(
        Constraints::new()
            .custom_name("RUN echo about to fail && exit 3")
            .location(&sm, [line_range(2, 2)]),
    )
    .finish()
    .unwrap()
    .root();
    let err = match build(&addr, &st.marshal(), &BuildOpts::default()) {
        Ok(_) => panic!("the build should fail"),
        Err(log) => log,
    };
    assert!(err.contains("exit code: 3"), "{err}");
    assert!(
        err.contains("Dockerfile:2"),
        "error should point at Dockerfile line 2:\n{err}"
    );
    assert!(err.contains("RUN echo about to fail && exit 3"), "{err}");
}

#[test]
fn exec_extra_hosts_hostname_and_proxy_env() {
    let Some(addr) = daemon() else { return };
    let st = sh(
        &base().hostname("bento-builder"),
        &format!(
            "hostname > /h && cat /etc/hosts > /hosts && echo \"$HTTP_PROXY\" > /proxy # {}",
            unique("hosts")
        ),
    )
    .extra_host("db.internal", "10.1.2.3")
    .proxy_env(ProxyEnv {
        http_proxy: "http://proxy.invalid:3128".into(),
        ..Default::default()
    })
    .finish()
    .unwrap()
    .root();
    let img = build(&addr, &st.marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert_eq!(img.text("/h"), "bento-builder\n");
    let hosts = img.text("/hosts");
    assert!(
        hosts
            .lines()
            .any(|l| l.split_whitespace().eq(["10.1.2.3", "db.internal"])),
        "{hosts}"
    );
    assert_eq!(img.text("/proxy"), "http://proxy.invalid:3128\n");
}

#[test]
fn pinned_image_and_filtered_local_context() {
    let Some(addr) = daemon() else { return };
    let digest = oci::registry_digest("base", "latest");
    let ctx_dir = tempfile::tempdir().unwrap();
    let c = ctx_dir.path();
    write(c, "a.txt", "A\n");
    write(c, "b.txt", "B\n");
    write(c, "dir/keep.txt", "K\n");
    write(c, "dir/sub/x.py", "print(1)\n");
    let ctx = Local::new("context")
        .follow_paths(&["a.txt", "dir"])
        .exclude_patterns(&["**/*.py"])
        .finish();
    let pinned = Image::new("localhost:5000/base:latest")
        .pin(&digest)
        .finish()
        .unwrap();
    let st = pinned
        .file(
            Copy::new(&ctx, ".", "/ctx/")
                .dir_contents_only()
                .create_dest_path(),
            Constraints::new(),
        )
        .unwrap();
    let opts = BuildOpts {
        locals: vec![("context".into(), c.to_path_buf())],
        ..Default::default()
    };
    let img = build(&addr, &st.marshal(), &opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    assert!(img.has("/bin/busybox"), "pinned base resolved");
    assert_eq!(img.text("/ctx/a.txt"), "A\n");
    assert_eq!(img.text("/ctx/dir/keep.txt"), "K\n");
    assert!(!img.has("/ctx/b.txt"), "only followpaths are sent");
    assert!(!img.has("/ctx/dir/sub/x.py"), "excluded by pattern");

    // A digest the registry does not have must fail, proving the pin is used.
    let missing = format!("sha256:{}", "0".repeat(64));
    let bad = Image::new("localhost:5000/base:latest")
        .pin(missing)
        .finish()
        .unwrap();
    let st = sh(&bad, "true").finish().unwrap().root();
    let err = build(&addr, &st.marshal(), &BuildOpts::default())
        .err()
        .expect("unknown digest must fail");
    assert!(
        err.contains("not found") || err.contains("unknown"),
        "{err}"
    );
}

#[test]
fn http_source_with_checksum_name_mode_owner() {
    let Some(addr) = daemon() else { return };
    static BODY: &[u8] = b"downloaded payload\n";
    let url = oci::serve_http("files/payload.txt", BODY);
    let checksum = {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(BODY)))
    };
    let http = Http::new(&url)
        .checksum(&checksum)
        .filename("dl.bin")
        .perm(0o750)
        .chown(7, 8)
        .finish();
    let st = State::scratch()
        .file(
            Copy::new(&http, "dl.bin", "/dl/").create_dest_path(),
            Constraints::new(),
        )
        .unwrap();
    let img = build(&addr, &st.marshal(), &BuildOpts::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    let f = img.get("/dl/dl.bin");
    assert_eq!(
        (f.mode, f.uid, f.gid, f.data.as_slice()),
        (0o750, 7, 8, BODY)
    );

    let wrong = Http::new(&url)
        .checksum(format!("sha256:{}", "1".repeat(64)))
        .finish();
    let err = build(&addr, &wrong.marshal(), &BuildOpts::default())
        .err()
        .expect("checksum mismatch must fail");
    assert!(
        err.contains("digest mismatch") || err.contains("checksum"),
        "{err}"
    );
}

#[test]
fn ssh_mount_forwards_an_agent() {
    let Some(addr) = daemon() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let Ok(mut agent) = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        eprintln!("note: ssh-agent not available, skipping");
        return;
    };
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let st = sh(&base(), &format!("test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /ssh-ok && test -S /run/custom.sock # {}", unique("ssh")))
        .ssh(Ssh::new("default"))
        .ssh(Ssh::new("default").target("/run/custom.sock"))
        .finish()
        .unwrap()
        .root();
    let opts = BuildOpts {
        ssh: vec![("default".into(), sock.clone())],
        ..Default::default()
    };
    let result = build(&addr, &st.marshal(), &opts);
    let _ = agent.kill();
    let _ = agent.wait();
    let img = result.unwrap_or_else(|e| panic!("{e}")).image;
    assert_eq!(img.text("/ssh-ok"), "/run/buildkit/ssh_agent.0\n");
    assert!(
        !img.has("/run/custom.sock"),
        "ssh sockets are not part of the image"
    );
}

#[test]
fn daemon_rejects_features_it_lacks_instead_of_ignoring_them() {
    let Some(addr) = daemon() else { return };
    // BuildKit v0.13 has neither cap; the definition must fail loudly, not build something else.
    let exit_codes = sh(&base(), "exit 3")
        .valid_exit_codes(&[0, 3])
        .finish()
        .unwrap()
        .root();
    let symlink = base()
        .file(Symlink::new("/bin/busybox", "/bb"), Constraints::new())
        .unwrap();
    for (cap, st) in [
        ("exec.validexitcode", exit_codes),
        ("file.symlink.create", symlink),
    ] {
        match build(&addr, &st.marshal(), &BuildOpts::default()) {
            Err(log) => assert!(log.contains(cap), "error should name {cap}:\n{log}"),
            Ok(_) => eprintln!("note: this daemon supports {cap}"),
        }
    }
}

#[test]
fn git_source_from_a_local_git_daemon() {
    let Some(addr) = daemon() else { return };
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .expect("git on PATH");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir_all(&repo).unwrap();
    git(&["init", "-q", "-b", "main"]);
    write(&repo, "README.md", &format!("hello {}\n", unique("git")));
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "-m",
        "init",
    ]);
    git(&["tag", "v1"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Start git-daemon itself (not `git daemon`, which forks it) so killing it stops it.
    let exec_path = std::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .unwrap()
        .stdout;
    let exec_path = String::from_utf8(exec_path).unwrap();
    let mut daemon_proc =
        std::process::Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.path().display()))
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let src = Git::new(format!("git://127.0.0.1:{port}/repo"), "v1")
        .keep_git_dir()
        .finish();
    let result = build(&addr, &src.marshal(), &BuildOpts::default());
    let _ = daemon_proc.kill();
    let _ = daemon_proc.wait();
    let img = result.unwrap_or_else(|e| panic!("{e}")).image;
    assert!(img.text("/README.md").starts_with("hello git-"));
    assert!(img.has("/.git"), "keep_git_dir keeps .git");
}
