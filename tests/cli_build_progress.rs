//! Issue 7 through the CLI: real `bentokit build` runs against the shared buildkitd. A
//! failing RUN shows the error block with the Dockerfile excerpt (`Dockerfile:N`, numbered
//! lines, `>>>` on the failing line) in plain and in tty (under a pseudo-terminal made by
//! util-linux `script`) and exits non-zero; quiet prints nothing but errors; the image
//! digest is on stdout in every mode; rawjson is a stream of JSON objects (SolveStatus);
//! secret values never reach stderr (masked as `****` in logs and vertex names); `auto`
//! without a terminal is plain and `BUILDKIT_PROGRESS` is honoured.

#[path = "common/mod.rs"]
mod common;
#[path = "gateway/mod.rs"]
#[allow(unused)]
mod gw;

use std::process::{Command, Stdio};

use base64::Engine as _;
use common::{build_cmd, dockerfile_context as context, output, shared_daemon, text};
use gw::private_daemon::which;
use gw::unique;

const BASE: &str = "localhost:5000/base:latest";

/// Runs `bentokit ARGS` under a pseudo-terminal (util-linux `script`), returning the
/// exit code and everything written to the terminal.
fn under_pty(args: &[String], env: &[(&str, &str)]) -> Option<(i32, String)> {
    if which("script").is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("util-linux `script` is required in CI");
        }
        eprintln!("note: skipping the pty part, no `script`");
        return None;
    }
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_bentokit").to_string())
        .chain(args.iter().cloned())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"]).env_remove("BUILDKIT_HOST").env("NO_COLOR", "1").env("TERM", "xterm").env("COLUMNS", "120").env("LINES", "40");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run script");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    eprintln!("--- under a pty {args:?}: {}\n{all}", out.status);
    Some((out.status.code().unwrap_or(-1), all))
}

/// Drops ANSI escape sequences and carriage returns from terminal output.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

fn failing_dockerfile(nonce: &str) -> String {
    format!("FROM {BASE}\nENV STAGE=test\nRUN echo preparing-{nonce} && echo oops-{nonce} >&2 && exit 7\nRUN echo never\n")
}

fn assert_error_block(stderr: &str, nonce: &str) {
    assert!(stderr.contains("Dockerfile:3\n"), "no `Dockerfile:3` heading:\n{stderr}");
    assert!(stderr.contains("   2 |     ENV STAGE=test"), "no numbered context line:\n{stderr}");
    assert!(stderr.contains(&format!("   3 | >>> RUN echo preparing-{nonce}")), "no `>>>` on the failing line:\n{stderr}");
    assert!(stderr.contains("   4 |     RUN echo never"), "no line after the failing one:\n{stderr}");
    assert!(stderr.contains(&format!("oops-{nonce}")), "the step's output is not in the error block:\n{stderr}");
    assert!(stderr.contains("exit code: 7"), "the exit code is not reported:\n{stderr}");
}

#[test]
fn failing_run_shows_the_dockerfile_excerpt_in_plain() {
    let Some(addr) = shared_daemon() else { return };
    let nonce = unique("p");
    let ctx = context(&failing_dockerfile(&nonce));
    let out = output(build_cmd(&addr, ctx.path(), &["--progress=plain"]));
    assert_eq!(out.status.code(), Some(1));
    assert_error_block(&text(&out.stderr), &nonce);
    assert!(text(&out.stdout).is_empty(), "nothing on stdout for a failed build");
}

#[test]
fn failing_run_shows_the_dockerfile_excerpt_in_tty() {
    let Some(addr) = shared_daemon() else { return };
    let nonce = unique("t");
    let ctx = context(&failing_dockerfile(&nonce));
    let args: Vec<String> = ["--addr", &addr, "build", "--progress=tty", ctx.path().to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    let Some((code, all)) = under_pty(&args, &[]) else { return };
    assert_eq!(code, 1, "{all}");
    assert_error_block(&strip_ansi(&all), &nonce);
}

#[test]
fn quiet_prints_only_errors_and_every_mode_prints_the_digest() {
    let Some(addr) = shared_daemon() else { return };
    let ctx = context(&format!("FROM {BASE}\nRUN echo {} > /x\n", unique("q")));
    for mode in ["quiet", "plain", "rawjson", "auto"] {
        let meta = ctx.path().join(format!("meta-{mode}.json"));
        let tar = ctx.path().join(format!("{mode}.tar"));
        let out = output(build_cmd(
            &addr,
            ctx.path(),
            &[&format!("--progress={mode}"), "--output", &format!("type=oci,dest={}", tar.display()), "--metadata-file", meta.to_str().unwrap()],
        ));
        assert!(out.status.success());
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
        assert_eq!(text(&out.stdout), format!("{}\n", meta["containerimage.digest"].as_str().unwrap()), "--progress={mode}: stdout must be the digest");
        if mode == "quiet" {
            assert_eq!(text(&out.stderr), "", "quiet must print nothing on success");
        } else {
            assert!(!text(&out.stderr).is_empty());
        }
    }

    // Under a terminal (tty mode) the digest is printed too.
    let tar = ctx.path().join("tty.tar");
    let meta = ctx.path().join("meta-tty.json");
    let args: Vec<String> =
        ["--addr", &addr, "build", "--progress=tty", "--output", &format!("type=oci,dest={}", tar.display()), "--metadata-file", meta.to_str().unwrap(), ctx.path().to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect();
    if let Some((code, all)) = under_pty(&args, &[]) {
        assert_eq!(code, 0, "{all}");
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
        let digest = meta["containerimage.digest"].as_str().unwrap();
        assert!(strip_ansi(&all).contains(digest), "no digest on the terminal:\n{all}");
    }

    // A failure in quiet mode: the error (with its excerpt), nothing else.
    let nonce = unique("qf");
    let failing = context(&failing_dockerfile(&nonce));
    let out = output(build_cmd(&addr, failing.path(), &["--progress=quiet"]));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("exit code: 7") && err.contains("Dockerfile:3"), "{err}");
    assert!(!err.contains("#1 "), "quiet must not print progress:\n{err}");
    assert!(text(&out.stdout).is_empty());
}

/// The rawjson stream as JSON values; each must be one SolveStatus object. Text may only
/// follow the stream (the final error and its Dockerfile excerpt, as buildx prints them).
fn rawjson_objects(stderr: &str) -> Vec<serde_json::Value> {
    let mut stream = serde_json::Deserializer::from_str(stderr).into_iter::<serde_json::Value>();
    let mut values = Vec::new();
    let rest = loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => break "",
            Some(Ok(v)) => values.push(v),
            Some(Err(_)) => break &stderr[offset..],
        }
    };
    let rest = rest.trim_start();
    assert!(rest.is_empty() || rest.starts_with("Dockerfile:") || rest.starts_with("error:") || rest.starts_with("bentokit:"), "not a JSON stream:\n{stderr}");
    assert!(!rest.contains("\n{"), "JSON after text:\n{stderr}");
    for v in &values {
        let obj = v.as_object().unwrap_or_else(|| panic!("not an object: {v}"));
        assert!(!obj.is_empty(), "an empty status message");
        for key in obj.keys() {
            assert!(["vertexes", "statuses", "logs", "warnings"].contains(&key.as_str()), "unexpected key {key} in {v}");
        }
    }
    values
}

#[test]
fn rawjson_is_one_json_object_per_status_message() {
    let Some(addr) = shared_daemon() else { return };
    let nonce = unique("j");
    let ctx = context(&format!("FROM {BASE}\nRUN echo hello-{nonce}\n"));
    let out = output(build_cmd(&addr, ctx.path(), &["--progress=rawjson"]));
    assert!(out.status.success());
    let values = rawjson_objects(&text(&out.stderr));
    assert!(values.len() >= 2, "{values:?}");
    let run = values
        .iter()
        .flat_map(|v| v["vertexes"].as_array().cloned().unwrap_or_default())
        .find(|v| v["name"].as_str().unwrap_or("").contains(&format!("RUN echo hello-{nonce}")))
        .expect("the RUN vertex");
    assert!(run["digest"].as_str().unwrap().starts_with("sha256:"));
    let logged: Vec<u8> = values
        .iter()
        .flat_map(|v| v["logs"].as_array().cloned().unwrap_or_default())
        .flat_map(|l| base64::engine::general_purpose::STANDARD.decode(l["data"].as_str().unwrap_or("")).unwrap())
        .collect();
    assert!(text(&logged).contains(&format!("hello-{nonce}")), "the step's log is not in the stream");
    assert!(values.iter().any(|v| v["vertexes"].as_array().is_some_and(|vs| vs.iter().any(|x| x.get("completed").is_some()))));

    // A failing build: the stream still parses and carries the vertex error; exit 1.
    let failing = context(&failing_dockerfile(&nonce));
    let out = output(build_cmd(&addr, failing.path(), &["--progress=rawjson"]));
    assert_eq!(out.status.code(), Some(1));
    let values = rawjson_objects(&text(&out.stderr));
    assert!(
        values.iter().flat_map(|v| v["vertexes"].as_array().cloned().unwrap_or_default()).any(|v| v["error"].as_str().is_some_and(|e| e.contains("exit code: 7"))),
        "no vertex error in the rawjson stream"
    );
}

/// Every secret-bearing view of a build's stderr: plain text, and rawjson with the logs
/// decoded.
fn assert_no_secret(stderr: &str, secret: &str, rawjson: bool) {
    assert!(!stderr.contains(secret), "the secret is in stderr:\n{stderr}");
    if rawjson {
        for v in rawjson_objects(stderr) {
            for l in v["logs"].as_array().cloned().unwrap_or_default() {
                let data = base64::engine::general_purpose::STANDARD.decode(l["data"].as_str().unwrap_or("")).unwrap();
                assert!(!text(&data).contains(secret), "the secret is in a rawjson log");
            }
        }
    }
}

#[test]
fn secret_values_are_masked_in_logs_and_vertex_names() {
    let Some(addr) = shared_daemon() else { return };
    let secret = unique("tok-s3cr3t-");
    let ctx = context(&format!(
        "FROM {BASE}\nARG TOKEN\nRUN --mount=type=secret,id=tok,target=/run/secrets/tok echo \"arg=$TOKEN\" && echo \"file=$(cat /run/secrets/tok)\" # {}\n",
        unique("s")
    ));
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_file.path(), &secret).unwrap();
    let secret_flag = format!("id=tok,src={}", secret_file.path().display());
    // The value reaches the vertex name through the build-arg, and the log through `cat`.
    let token_arg = format!("TOKEN={secret}");
    for mode in ["plain", "rawjson"] {
        let out = output(build_cmd(&addr, ctx.path(), &[&format!("--progress={mode}"), "--no-cache", "--secret", &secret_flag, "--build-arg", &token_arg]));
        assert!(out.status.success());
        let stderr = text(&out.stderr);
        assert_no_secret(&stderr, &secret, mode == "rawjson");
        if mode == "plain" {
            assert!(stderr.contains("RUN --mount=type=secret,id=tok,target=/run/secrets/tok echo \"arg=****\""), "the vertex name is not masked:\n{stderr}");
            assert!(stderr.contains("file=****"), "the log is not masked:\n{stderr}");
            assert!(stderr.contains("arg=****"), "{stderr}");
        }
    }
    // An env= secret is masked too.
    let env_secret = unique("envtok-s3cr3t-");
    let env_ctx = context(&format!("FROM {BASE}\nRUN --mount=type=secret,id=tok2,target=/s echo \"env=$(cat /s)\" # {}\n", unique("e")));
    let mut cmd = build_cmd(&addr, env_ctx.path(), &["--progress=plain", "--secret", "id=tok2,env=BENTOKIT_TEST_TOKEN"]);
    cmd.env("BENTOKIT_TEST_TOKEN", &env_secret);
    let out = output(cmd);
    assert!(out.status.success());
    assert_no_secret(&text(&out.stderr), &env_secret, false);
    assert!(text(&out.stderr).contains("env=****"), "the env secret's value reached the step and is masked");

    // The same in tty mode, and when the step fails (the error block replays the logs).
    let failing = context(&format!("FROM {BASE}\nRUN --mount=type=secret,id=tok,target=/run/secrets/tok cat /run/secrets/tok && exit 3 # {}\n", unique("f")));
    let out = output(build_cmd(&addr, failing.path(), &["--progress=plain", "--secret", &secret_flag]));
    assert_eq!(out.status.code(), Some(1));
    assert_no_secret(&text(&out.stderr), &secret, false);
    assert!(text(&out.stderr).contains("****"));
    let args: Vec<String> =
        ["--addr", &addr, "build", "--progress=tty", "--secret", &secret_flag, "--build-arg", &token_arg, "--no-cache", ctx.path().to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    if let Some((code, all)) = under_pty(&args, &[]) {
        assert_eq!(code, 0, "{all}");
        assert!(!all.contains(&secret), "the secret is on the terminal:\n{all}");
    }
}

#[test]
fn auto_without_a_terminal_is_plain_and_buildkit_progress_is_honoured() {
    let Some(addr) = shared_daemon() else { return };
    let ctx = context(&format!("FROM {BASE}\nRUN echo {}\n", unique("a")));
    let is_plain = |s: &str| s.lines().any(|l| l.starts_with("#1 ")) && s.lines().any(|l| l.ends_with(" DONE") || l.contains(" DONE ") || l.ends_with(" CACHED"));

    // auto (the default) with stderr a pipe: plain.
    let out = output(build_cmd(&addr, ctx.path(), &[]));
    assert!(out.status.success() && is_plain(&text(&out.stderr)), "default auto without a terminal must be plain");
    let out = output(build_cmd(&addr, ctx.path(), &["--progress=auto"]));
    assert!(out.status.success() && is_plain(&text(&out.stderr)));

    // BUILDKIT_PROGRESS picks the mode when the flag does not.
    let mut cmd = build_cmd(&addr, ctx.path(), &[]);
    cmd.env("BUILDKIT_PROGRESS", "rawjson");
    let out = output(cmd);
    assert!(out.status.success());
    assert!(!rawjson_objects(&text(&out.stderr)).is_empty());
    let mut cmd = build_cmd(&addr, ctx.path(), &[]);
    cmd.env("BUILDKIT_PROGRESS", "quiet");
    let out = output(cmd);
    assert!(out.status.success() && text(&out.stderr).is_empty(), "BUILDKIT_PROGRESS=quiet");
    // An explicit flag wins over the variable.
    let mut cmd = build_cmd(&addr, ctx.path(), &["--progress=plain"]);
    cmd.env("BUILDKIT_PROGRESS", "quiet");
    let out = output(cmd);
    assert!(is_plain(&text(&out.stderr)));

    // Under a terminal, auto would be tty; BUILDKIT_PROGRESS=plain makes it plain.
    let args: Vec<String> = ["--addr", &addr, "build", ctx.path().to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    if let Some((code, all)) = under_pty(&args, &[("BUILDKIT_PROGRESS", "plain")]) {
        assert_eq!(code, 0, "{all}");
        assert!(is_plain(&strip_ansi(&all)), "BUILDKIT_PROGRESS=plain under a terminal:\n{all}");
        assert!(!all.contains("\x1b["), "plain mode must not draw with escape sequences:\n{all}");
    }
    // And without the variable, a terminal gets the tty view (cursor movement, no `#1 ` lines).
    if let Some((code, all)) = under_pty(&args, &[]) {
        assert_eq!(code, 0, "{all}");
        assert!(!is_plain(&strip_ansi(&all)), "auto under a terminal should be tty:\n{all}");
    }

    // tty without a terminal is refused with a reason, before anything is built.
    let out = output(build_cmd(&addr, ctx.path(), &["--progress=tty"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).to_lowercase().contains("terminal"), "{}", text(&out.stderr));

    // A bad value is a clear error.
    let mut cmd = build_cmd(&addr, ctx.path(), &[]);
    cmd.env("BUILDKIT_PROGRESS", "fancy");
    let out = output(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("fancy"), "{}", text(&out.stderr));
}
