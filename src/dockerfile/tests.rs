//! Table tests: one row per instruction form and flag, and one per error.

use super::*;

fn one(src: &str) -> Instruction {
    let df = parse(&format!("FROM scratch\n{src}\n"), "Dockerfile").unwrap_or_else(|e| panic!("{src}: {}", e.render()));
    assert_eq!(df.stages[0].instructions.len(), 1, "{src}");
    df.stages[0].instructions[0].clone()
}

fn err(src: &str) -> ParseError {
    match parse(&format!("FROM scratch\n{src}\n"), "Dockerfile") {
        Ok(df) => panic!("{src}: expected an error, got {:?}", df.stages[0].instructions),
        Err(e) => e,
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: v.into() }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn from_forms() {
    let df = parse("ARG V=1\nFROM --platform=$BUILDPLATFORM python:${V} AS Build\nFROM build\nFROM scratch as final\n", "D").unwrap();
    assert_eq!(df.meta_args.len(), 1);
    assert_eq!(df.stages.len(), 3);
    let s0 = &df.stages[0];
    assert_eq!((s0.index, s0.name.as_deref(), s0.from.base.as_str()), (0, Some("build"), "python:${V}"));
    assert_eq!(s0.from.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(df.stages[1].name, None);
    assert_eq!(df.stages[1].display_name(), "stage-1");
    assert_eq!(df.stage("FINAL").unwrap().index, 2);
    assert_eq!(df.stage("1").unwrap().index, 1);
    let from = s0.from.expand(&df.lexer(), &df.meta_arg_env(&Default::default()).unwrap()).unwrap();
    assert_eq!(from.value.base, "python:1");
    assert!(from.used_vars.contains("V"));
}

#[test]
fn from_errors() {
    let cases = [
        ("FROM", "FROM requires either one or three arguments"),
        ("FROM a b", "FROM requires either one or three arguments"),
        ("FROM a AS 1x", "invalid name for build stage"),
        ("FROM a AS b\nFROM c AS B", "duplicate stage name \"b\""),
        ("FROM --plattform=x a", "unknown flag: plattform (did you mean platform?)"),
        ("FROM --platform a", "missing a value on flag: platform"),
        ("RUN x\nFROM a", "no build stage in current context"),
    ];
    for (src, want) in cases {
        let e = parse(src, "D").unwrap_err();
        assert!(e.message().contains(want), "{src}: {}", e.message());
    }
}

#[test]
fn run_forms() {
    let Instruction::Run(r) = one("RUN apt-get update && \\\n    apt-get install -y curl") else { panic!() };
    assert_eq!(r.command, CommandLine::Shell("apt-get update &&     apt-get install -y curl".into()));
    assert_eq!(r.source.location, Location { start_line: 2, end_line: 3 });
    let Instruction::Run(r) = one("run [\"echo\", \"a b\"]") else { panic!() };
    assert_eq!(r.command, CommandLine::Exec(vec!["echo".into(), "a b".into()]));
    let Instruction::Run(r) = one("RUN --network=none --security=insecure --mount=type=cache,target=/root/.cache echo") else { panic!() };
    assert_eq!((r.network, r.security), (NetworkMode::None, SecurityMode::Insecure));
    assert_eq!(r.mounts.len(), 1);
    assert_eq!(r.flags_used, vec!["network", "security", "mount"]);
    let m = r.resolve_mounts(&shell::Lexer::new('\\'), &shell::NoEnv).unwrap();
    assert_eq!((m.value[0].kind, m.value[0].target.as_deref()), (MountType::Cache, Some("/root/.cache")));
    let Instruction::Run(r) = one("RUN --network=host true") else { panic!() };
    assert_eq!(r.network, NetworkMode::Host);
    let Instruction::Run(r) = one("RUN --mount=type=secret,id=$SECRET_ID,target=/s cat /s") else { panic!() };
    let m = r.resolve_mounts(&shell::Lexer::new('\\'), &env(&[("SECRET_ID", "tok")])).unwrap();
    assert_eq!(m.value[0].id.as_deref(), Some("tok"));
    assert!(m.used_vars.contains("SECRET_ID"));
}

#[test]
fn run_mount_every_type_and_key() {
    let rows = [
        ("type=bind,source=/a,target=/b,from=build,readonly", MountType::Bind),
        ("type=bind,src=/a,dst=/b,rw=true", MountType::Bind),
        ("type=cache,id=pip,target=/c,sharing=private,mode=0700,uid=1,gid=2,ro=false", MountType::Cache),
        ("type=tmpfs,destination=/t,size=1g", MountType::Tmpfs),
        ("type=secret,id=a,target=/s,required=true,mode=0400,uid=0,gid=0", MountType::Secret),
        ("type=secret,id=aws,env=AWS_KEY", MountType::Secret),
        ("type=ssh,id=default,target=/ssh,required", MountType::Ssh),
        ("TYPE=CACHE,TARGET=/x,readwrite", MountType::Cache),
    ];
    for (m, kind) in rows {
        let Instruction::Run(r) = one(&format!("RUN --mount={m} true")) else { panic!() };
        let resolved = r.resolve_mounts(&shell::Lexer::new('\\'), &shell::NoEnv).unwrap();
        assert_eq!(resolved.value[0].kind, kind, "{m}");
    }
}

#[test]
fn run_errors() {
    let cases = [
        ("RUN --mount=type=foo x", "unsupported mount type \"foo\"", 13),
        ("RUN --network=bridge x", "invalid network mode \"bridge\"", 5),
        ("RUN --security=privileged x", "security \"privileged\" is not valid", 5),
        ("RUN --mnt=type=cache x", "unknown flag: mnt", 5),
        ("RUN --mount x", "missing a value on flag: mount", 5),
        ("RUN --network=none --network=host x", "duplicate flag specified: network", 5),
        ("RUN [\"a\", 1]", "arrays must be comprised of strings only", 1),
        ("RUN --mount=type=cache,target=/x,size=1m x", "unexpected key 'size' for mount type 'cache'", 13),
    ];
    for (src, want, column) in cases {
        let e = err(src);
        assert!(e.message().contains(want), "{src}: {}", e.message());
        assert_eq!(e.span().unwrap().line, 2, "{src}");
        assert_eq!(e.span().unwrap().column, column, "{src}");
    }
}

#[test]
fn copy_and_add() {
    let Instruction::Copy(c) = one("COPY --from=build --chown=bentoml:bentoml --chmod=0644 --link --parents --exclude=*.pyc --exclude=.git a b /dst/") else {
        panic!()
    };
    assert_eq!((c.from.as_deref(), c.chown.as_deref()), (Some("build"), Some("bentoml:bentoml")));
    assert_eq!(c.chmod, Some(Chmod::Octal(0o644)));
    assert!(c.link && c.parents);
    assert_eq!(c.excludes, vec!["*.pyc", ".git"]);
    assert_eq!((c.sources.clone(), c.dest.as_str()), (vec!["a".to_string(), "b".to_string()], "/dst/"));
    let Instruction::Copy(c) = one("COPY --chmod=u+x,go-w [\"a b\", \"/c d/\"]") else { panic!() };
    assert_eq!(c.chmod, Some(Chmod::Symbolic("u+x,go-w".into())));
    assert_eq!((c.sources.clone(), c.dest.as_str()), (vec!["a b".to_string()], "/c d/"));
    let Instruction::Add(a) = one("ADD --checksum=sha256:abcdef0123 --keep-git-dir=true --unpack=false --link https://example.com/x.tgz /x") else {
        panic!()
    };
    assert_eq!((a.checksum.as_deref(), a.keep_git_dir, a.unpack, a.link), (Some("sha256:abcdef0123"), true, Some(false), true));
    assert_eq!(classify_add_source(&a.sources[0]), AddSourceKind::Url);
    assert_eq!(classify_add_source("https://github.com/moby/buildkit.git#v0.13.0"), AddSourceKind::Git);
    assert_eq!(classify_add_source("git@github.com:moby/buildkit.git"), AddSourceKind::Git);
    assert_eq!(classify_add_source("src/app.tar.gz"), AddSourceKind::Local);
}

#[test]
fn copy_add_errors() {
    let cases = [
        ("COPY a", "COPY requires at least two arguments"),
        ("ADD a", "ADD requires at least two arguments"),
        ("COPY --chmod=999 a b", "invalid chmod parameter"),
        ("COPY --chmod=rwx a b", "invalid chmod parameter"),
        ("COPY --checksum=sha256:00 a b", "unknown flag: checksum"),
        ("ADD --from=x a b", "unknown flag: from"),
        ("ADD --checksum=md5:00 a b", "invalid checksum digest"),
        ("COPY --link=yes a b", "expecting boolean value for flag link, not: yes"),
        ("COPY --chwon=a a b", "unknown flag: chwon (did you mean chown?)"),
        ("COPY a <<EOF\nEOF", "COPY cannot accept a heredoc as a destination"),
    ];
    for (src, want) in cases {
        let e = err(src);
        assert!(e.message().contains(want), "{src}: {}", e.message());
    }
}

#[test]
fn env_label_arg() {
    let Instruction::Env(e) = one("ENV A=1 B=\"two words\" C=${A}") else { panic!() };
    assert_eq!(e.pairs, vec![kv("A", "1"), kv("B", "\"two words\""), kv("C", "${A}")]);
    let Instruction::Env(e) = one("ENV LEGACY value with   spaces") else { panic!() };
    assert_eq!(e.pairs, vec![kv("LEGACY", "value with   spaces")]);
    let Instruction::Label(l) = one("LABEL \"com.example.vendor\"=\"ACME\" version=1.0") else { panic!() };
    assert_eq!(l.pairs, vec![kv("\"com.example.vendor\"", "\"ACME\""), kv("version", "1.0")]);
    let Instruction::Arg(a) = one("ARG A B=2 C=\"x y\"") else { panic!() };
    let got: Vec<(&str, Option<&str>)> = a.args.iter().map(|d| (d.key.as_str(), d.default.as_deref())).collect();
    assert_eq!(got, vec![("A", None), ("B", Some("2")), ("C", Some("\"x y\""))]);
    let df = parse("FROM scratch\n# PORT the port to serve on\nARG PORT=3000\n", "D").unwrap();
    let Instruction::Arg(a) = &df.stages[0].instructions[0] else { panic!() };
    assert_eq!(a.args[0].comment, "the port to serve on");
}

#[test]
fn env_label_arg_errors() {
    let cases = [
        ("ENV", "ENV requires at least one argument"),
        ("ENV A", "ENV must have two arguments"),
        ("ENV A=1 B", "can't find = in \"B\""),
        ("ENV =1", "ENV names can not be blank"),
        ("LABEL", "LABEL requires at least one argument"),
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
        ("ENV --x A=1", "unknown flag: x"),
    ];
    for (src, want) in cases {
        let e = err(src);
        assert!(e.message().contains(want), "{src}: {}", e.message());
    }
}

#[test]
fn simple_instructions() {
    let Instruction::Workdir(w) = one("WORKDIR $BENTO_PATH") else { panic!() };
    assert_eq!(w.path, "$BENTO_PATH");
    let Instruction::User(u) = one("USER bentoml:bentoml") else { panic!() };
    assert_eq!(u.user, "bentoml:bentoml");
    let Instruction::Expose(e) = one("EXPOSE 3001 3000/tcp") else { panic!() };
    assert_eq!(e.ports, vec!["3000/tcp", "3001"]);
    let Instruction::Volume(v) = one("VOLUME /a /b") else { panic!() };
    assert_eq!(v.paths, vec!["/a", "/b"]);
    let Instruction::Volume(v) = one("VOLUME [\"/data\"]") else { panic!() };
    assert_eq!(v.paths, vec!["/data"]);
    let Instruction::StopSignal(s) = one("STOPSIGNAL SIGKILL") else { panic!() };
    assert_eq!(s.signal, "SIGKILL");
    let Instruction::Maintainer(m) = one("MAINTAINER Jane <j@x>") else { panic!() };
    assert_eq!(m.maintainer, "Jane <j@x>");
    let Instruction::Shell(s) = one("SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]") else { panic!() };
    assert_eq!(s.shell.len(), 4);
    let Instruction::Cmd(c) = one("CMD python app.py") else { panic!() };
    assert_eq!(c.command.to_argv(&["/bin/sh".into(), "-c".into()]), vec!["/bin/sh", "-c", "python app.py"]);
    let Instruction::Entrypoint(e) = one("ENTRYPOINT [\"/home/bentoml/bento/env/docker/entrypoint.sh\"]") else { panic!() };
    assert!(e.command.unwrap().is_exec());
    let Instruction::Entrypoint(e) = one("ENTRYPOINT []") else { panic!() };
    assert_eq!(e.command, None);
    let Instruction::Onbuild(o) = one("ONBUILD RUN echo hi") else { panic!() };
    assert_eq!((o.trigger.as_str(), o.expression.as_str()), ("RUN", "RUN echo hi"));
}

#[test]
fn simple_instruction_errors() {
    let cases = [
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("USER", "USER requires exactly one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("VOLUME [\"\"]", "VOLUME specified can not be an empty string"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("MAINTAINER", "MAINTAINER requires exactly one argument"),
        ("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []", "SHELL requires at least one argument"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("COPPY a b", "unknown instruction: COPPY (did you mean COPY?)"),
        ("WORKDIR --x /a", "unknown flag: x"),
        ("USER --x a", "unknown flag: x"),
    ];
    for (src, want) in cases {
        let e = err(src);
        assert!(e.message().contains(want), "{src}: {}", e.message());
        assert_eq!(e.span().unwrap().line, 2);
    }
}

#[test]
fn healthcheck() {
    let Instruction::Healthcheck(h) = one("HEALTHCHECK NONE") else { panic!() };
    assert_eq!(h.test(), vec!["NONE"]);
    let Instruction::Healthcheck(h) =
        one("HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --start-interval=2s --retries=3 CMD curl -f http://localhost:3000/healthz")
    else {
        panic!()
    };
    assert_eq!(h.test(), vec!["CMD-SHELL", "curl -f http://localhost:3000/healthz"]);
    let HealthcheckKind::Check { interval, timeout, start_period, start_interval, retries, .. } = h.check else { panic!() };
    use std::time::Duration;
    assert_eq!(interval, Some(Duration::from_secs(30)));
    assert_eq!(timeout, Some(Duration::from_secs(5)));
    assert_eq!(start_period, Some(Duration::from_secs(60)));
    assert_eq!(start_interval, Some(Duration::from_secs(2)));
    assert_eq!(retries, 3);
    let Instruction::Healthcheck(h) = one("HEALTHCHECK CMD [\"curl\", \"-f\", \"x\"]") else { panic!() };
    assert_eq!(h.test(), vec!["CMD", "curl", "-f", "x"]);
    for (src, want) in [
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK FOO x", "Unknown type \"FOO\" in HEALTHCHECK"),
        ("HEALTHCHECK --interval=5 CMD x", "missing unit"),
        ("HEALTHCHECK --interval=1ns CMD x", "cannot be less than 1ms"),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative"),
        ("HEALTHCHECK --retris=1 CMD x", "unknown flag: retris (did you mean retries?)"),
    ] {
        let e = err(src);
        assert!(e.message().contains(want), "{src}: {}", e.message());
    }
}

#[test]
fn heredocs_on_run_and_copy() {
    let df = parse("FROM scratch\nRUN <<EOF\napt-get update\nEOF\nCOPY <<-\"CONF\" /etc/app.conf\n\tkey=$VALUE\n\tCONF\nUSER x\n", "D").unwrap();
    let ins = &df.stages[0].instructions;
    let Instruction::Run(r) = &ins[0] else { panic!() };
    assert_eq!(r.heredocs[0].content, "apt-get update\n");
    assert_eq!(r.source.location, Location { start_line: 2, end_line: 4 });
    let Instruction::Copy(c) = &ins[1] else { panic!() };
    assert_eq!(c.inline_sources, vec![InlineSource { path: "CONF".into(), data: "key=$VALUE\n".into(), expand: false }]);
    assert_eq!(c.dest, "/etc/app.conf");
    assert_eq!(ins[2].location().start_line, 8);
}

#[test]
fn expansion_helpers() {
    let lexer = shell::Lexer::new('\\');
    let e = env(&[("A", "old"), ("HOME", "/home/bentoml"), ("PORTS", "3000 3001/udp"), ("U", "bentoml")]);
    let x = one("ENV A=new B=$A C=\"a b\"").expand(&lexer, &e).unwrap();
    let Instruction::Env(env_out) = x.value else { panic!() };
    assert_eq!(env_out.pairs, vec![kv("A", "new"), kv("B", "old"), kv("C", "a b")], "one instruction sees the values from before it");
    assert_eq!(x.used_vars.into_iter().collect::<Vec<_>>(), vec!["A"]);
    let Instruction::Expose(p) = one("EXPOSE $PORTS").expand(&lexer, &e).unwrap().value else { panic!() };
    assert_eq!(p.ports, vec!["3000", "3001/udp"]);
    let Instruction::Copy(c) = one("COPY --chown=$U:$U --from=$NOT_EXPANDED ${HOME}/a $HOME/b").expand(&lexer, &e).unwrap().value else { panic!() };
    assert_eq!((c.chown.as_deref(), c.from.as_deref()), (Some("bentoml:bentoml"), Some("$NOT_EXPANDED")));
    assert_eq!((c.sources[0].as_str(), c.dest.as_str()), ("/home/bentoml/a", "/home/bentoml/b"));
    let Instruction::Workdir(w) = one("WORKDIR ${HOME:-/}/bento").expand(&lexer, &e).unwrap().value else { panic!() };
    assert_eq!(w.path, "/home/bentoml/bento");
    let Instruction::Cmd(c) = one("CMD echo $HOME").expand(&lexer, &e).unwrap().value else { panic!() };
    assert_eq!(c.command, CommandLine::Shell("echo $HOME".into()), "CMD is left to the shell");
    let df = parse("FROM scratch\nCOPY <<EOF <<'RAW' /d/\n$HOME \"q\"\nEOF\n$HOME\nRAW\n", "D").unwrap();
    let Instruction::Copy(c) = df.stages[0].instructions[0].expand(&lexer, &e).unwrap().value else { panic!() };
    assert_eq!(c.inline_sources[0].data, "/home/bentoml \"q\"\n");
    assert_eq!(c.inline_sources[1].data, "$HOME\n");
    let bad = one("WORKDIR ${NOPE:?must be set}").expand(&lexer, &e).unwrap_err();
    assert_eq!(bad.span().unwrap().line, 2);
    assert!(bad.message().contains("NOPE: must be set"));
    assert_eq!(display_text("RUN echo $HOME \"$X\"", &lexer, &e), "RUN echo /home/bentoml \"$X\"");
}

#[test]
fn meta_args_and_build_args() {
    let df = parse("ARG PY=3.11\nARG BASE=python:${PY}-slim\nARG UNSET\nFROM $BASE\n", "D").unwrap();
    let mut overrides = HashMap::new();
    assert_eq!(df.meta_arg_env(&overrides).unwrap().get("BASE").map(String::as_str), Some("python:3.11-slim"));
    overrides.insert("PY".to_string(), "3.9".to_string());
    let env = df.meta_arg_env(&overrides).unwrap();
    assert_eq!(env.get("BASE").map(String::as_str), Some("python:3.9-slim"));
    assert!(!env.contains_key("UNSET"));
}

#[test]
fn error_render_matches_buildkit_layout() {
    let e = parse("FROM scratch\nENV A=1\nRUN --mount=type=nope \\\n  echo\nUSER x\n", "Dockerfile").unwrap_err();
    assert_eq!(e.span().unwrap().column, 13);
    assert_eq!(e.end_line(), 4);
    let r = e.render();
    assert!(r.starts_with("Dockerfile:3\n--------------------\n"), "{r}");
    assert!(r.contains("   3 | >>> RUN --mount=type=nope \\\n   4 | >>>   echo\n"), "{r}");
    assert!(r.ends_with("error: Dockerfile:3: unsupported mount type \"nope\"\n"), "{r}");
}

#[test]
fn empty_files() {
    for src in ["", "\n\n", "# only a comment\n", "# syntax=docker/dockerfile:1\n"] {
        assert_eq!(parse(src, "D").unwrap_err().kind(), ErrorKind::Empty, "{src:?}");
    }
}
