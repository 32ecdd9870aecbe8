//! Real-daemon tests: `--ssh` agent forwarding and private key files. A real `ssh-agent`
//! holding a fresh key is forwarded into an exec, which asks it for its identities over the
//! mounted socket (with python, from the stand-in python image); the key's comment comes
//! back. A key FILE (no agent running) is served by bentokit's in-process agent: the exec
//! lists it and has it sign a nonce, and the signature is verified here with the public key
//! — once through the gateway API and once through `bentokit build --ssh mykey=FILE`.

#[path = "gateway/mod.rs"]
mod common;
#[path = "common/mod.rs"]
#[allow(unused)]
mod cli;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use bentokit::session::SshSpec;
use bentokit::solve::{Build, BuildOptions, Connection, ExportSpec, PlatformResult};
use bollard_buildkit_proto::pb;
use common::private_daemon::which;
use common::*;

const PYTHON_IMAGE: &str = "localhost:5000/library/python:3.11-slim";

struct Agent(Child);
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ssh_mount(id: &str, dest: &str) -> pb::Mount {
    pb::Mount {
        dest: dest.into(),
        output: -1,
        mount_type: pb::MountType::Ssh as i32,
        ssh_opt: Some(pb::SshOpt { id: id.into(), uid: 0, gid: 0, mode: 0o600, optional: false }),
        ..Default::default()
    }
}

/// Builds, on the python stand-in image with `--ssh ssh`, the exec `make_exec` adds, and
/// exports its `/result` directory to `out`.
async fn run_with_ssh(conn: &Connection, ssh: &str, out: &Path, make_exec: impl FnOnce(&mut Llb, &Out, &pb::Platform) -> Out) {
    let opts = BuildOptions {
        exports: vec![ExportSpec::parse(&format!("type=local,dest={}", out.display())).unwrap()],
        ssh: vec![SshSpec::parse(ssh).unwrap()],
        ..Default::default()
    };
    let build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let p = amd64();
    let resolved = build.gateway().resolve_image_config(PYTHON_IMAGE, &p).await.unwrap();
    let mut llb = Llb::default();
    let img = llb.image(&format!("{PYTHON_IMAGE}@{}", resolved.digest), &p);
    let run_op = make_exec(&mut llb, &img, &p);
    let result = llb.copy(None, &run_op, "/result", "/", &p);
    build.finish(vec![PlatformResult { platform: p, definition: llb.definition(&result), image_config: resolved.config_json }]).await.unwrap();
}

#[tokio::test]
async fn ssh_agent_is_forwarded_into_an_exec() {
    let Some(conn) = daemon().await else { return };
    if which("ssh-agent").is_none() || which("ssh-keygen").is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "ssh-agent/ssh-keygen are required in CI");
        eprintln!("note: skipping, no ssh-agent");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("agent.sock");
    let comment = unique("bentokit-test-key-");
    let key = tmp.path().join("id_ed25519");
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f"]).arg(&key));
    let agent = Agent(Command::new("ssh-agent").arg("-D").arg("-a").arg(&socket).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    run(Command::new("ssh-add").env("SSH_AUTH_SOCK", &socket).arg(&key));

    let out = tmp.path().join("out");
    // SSH2_AGENTC_REQUEST_IDENTITIES (11); the answer lists the keys with their comments.
    let script = "mkdir -p /result && python3 -c \"import socket,struct; s=socket.socket(socket.AF_UNIX); s.connect('/run/ssh.sock'); s.sendall(struct.pack('>IB',1,11)); n=struct.unpack('>I',s.recv(4))[0]; d=b''\nwhile len(d)<n: d+=s.recv(n-len(d))\nopen('/result/identities','wb').write(d)\"";
    let script = format!("{script} # {}", unique(""));
    run_with_ssh(&conn, &format!("default={}", socket.display()), &out, |llb, img, p| {
        llb.exec(img, &script, vec![(None, ssh_mount("default", "/run/ssh.sock"))], p)
    })
    .await;
    let identities = std::fs::read(out.join("identities")).unwrap();
    assert_eq!(identities[0], 12, "SSH2_AGENT_IDENTITIES_ANSWER");
    assert!(contains(&identities, comment.as_bytes()), "the forwarded agent did not list the key");
    drop(agent);
}

#[tokio::test]
async fn unknown_ssh_id_is_a_clear_error() {
    let Some(conn) = daemon().await else { return };
    let build = Build::start(conn.channel.clone(), BuildOptions::default()).await.unwrap();
    let p = amd64();
    let resolved = build.gateway().resolve_image_config(BASE_IMAGE, &p).await.unwrap();
    let mut llb = Llb::default();
    let img = llb.image(&format!("{BASE_IMAGE}@{}", resolved.digest), &p);
    let run_op = llb.exec(&img, &format!("true {}", unique("")), vec![(None, ssh_mount("github", "/run/ssh.sock"))], &p);
    let err = build
        .finish(vec![PlatformResult { platform: p, definition: llb.definition(&run_op), image_config: resolved.config_json }])
        .await
        .unwrap_err()
        .to_string();
    eprintln!("unknown ssh id error: {err}");
    assert!(err.contains("github"), "{err}");
}

/// An ssh-agent client in python's stdlib: lists the identities, asks the first key to sign
/// argv[2], and leaves both raw replies in /result. Each request goes out in two writes so
/// the agent has to reassemble it.
const AGENT_CLIENT: &str = r#"import os, socket, struct, sys
path = sys.argv[1] if sys.argv[1] != "-" else os.environ["SSH_AUTH_SOCK"]
data = sys.argv[2].encode()
s = socket.socket(socket.AF_UNIX)
s.connect(path)
def recv(n):
    d = b""
    while len(d) < n:
        c = s.recv(n - len(d))
        if not c:
            raise SystemExit("the agent closed the connection")
        d += c
    return d
def string(b):
    return struct.pack(">I", len(b)) + b
def call(body):
    msg = string(body)
    s.sendall(msg[:3])
    s.sendall(msg[3:])
    return recv(struct.unpack(">I", recv(4))[0])
ids = call(bytes([11]))
blob = ids[9:9 + struct.unpack(">I", ids[5:9])[0]]
sig = call(bytes([13]) + string(blob) + string(data) + struct.pack(">I", 0))
os.makedirs("/result", exist_ok=True)
open("/result/identities", "wb").write(ids)
open("/result/signature", "wb").write(sig)
"#;

/// A fresh unencrypted ed25519 key file, or None (skip; a failure under CI=true).
fn ed25519_key(dir: &Path, comment: &str) -> Option<std::path::PathBuf> {
    if which("ssh-keygen").is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "ssh-keygen is required in CI");
        eprintln!("note: skipping, no ssh-keygen");
        return None;
    }
    let key = dir.join("id_ed25519");
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"]).arg(&key));
    Some(key)
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

/// Checks what [`AGENT_CLIENT`] left in `result`: one identity, the key's, with its comment,
/// and a signature over `data` that the key's public half verifies.
fn assert_agent_answers(result: &Path, key: &Path, comment: &str, data: &str) {
    use rsa::signature::Verifier;
    let public = ssh_key::PublicKey::read_openssh_file(&key.with_extension("pub")).unwrap();
    let ids = std::fs::read(result.join("identities")).unwrap();
    assert_eq!(ids[0], 12, "SSH2_AGENT_IDENTITIES_ANSWER: {ids:?}");
    assert_eq!(u32_at(&ids, 1), 1, "one identity");
    let blob_len = u32_at(&ids, 5);
    assert_eq!(ids[9..9 + blob_len], public.to_bytes().unwrap()[..], "the listed key is the file's");
    let comment_at = 9 + blob_len;
    assert_eq!(&ids[comment_at + 4..], comment.as_bytes(), "the key's comment comes back");

    let sig = std::fs::read(result.join("signature")).unwrap();
    assert_eq!(sig[0], 14, "SSH2_AGENT_SIGN_RESPONSE: {sig:?}");
    let blob = &sig[5..5 + u32_at(&sig, 1)];
    let alg_len = u32_at(blob, 0);
    let algorithm = std::str::from_utf8(&blob[4..4 + alg_len]).unwrap();
    assert_eq!(algorithm, "ssh-ed25519");
    let raw = &blob[8 + alg_len..8 + alg_len + u32_at(blob, 4 + alg_len)];
    let signature = ssh_key::Signature::new(ssh_key::Algorithm::new(algorithm).unwrap(), raw).unwrap();
    Verifier::verify(&public, data.as_bytes(), &signature).expect("the agent's signature verifies with the public key");
}

#[tokio::test]
async fn a_private_key_file_is_served_by_an_in_process_agent() {
    let Some(conn) = daemon().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let comment = unique("bentokit-keyfile-");
    let Some(key) = ed25519_key(tmp.path(), &comment) else { return };
    let out = tmp.path().join("out");
    // The nonce is the signed data, so a cached result from another run cannot pass.
    let nonce = unique("sign-me-");
    let script = format!("python3 /scripts/agent.py /run/ssh.sock {nonce}");
    run_with_ssh(&conn, &format!("mykey={}", key.display()), &out, |llb, img, p| {
        let scripts = llb.mkfile(None, "/agent.py", AGENT_CLIENT.as_bytes(), p);
        let scripts_mount = pb::Mount { dest: "/scripts".into(), output: -1, readonly: true, ..Default::default() };
        llb.exec(img, &script, vec![(None, ssh_mount("mykey", "/run/ssh.sock")), (Some(&scripts), scripts_mount)], p)
    })
    .await;
    assert_agent_answers(&out, &key, &comment, &nonce);
}

#[test]
fn cli_build_ssh_with_a_key_file() {
    let Some(addr) = cli::shared_daemon() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let comment = unique("bentokit-cli-keyfile-");
    let Some(key) = ed25519_key(tmp.path(), &comment) else { return };
    let nonce = unique("sign-me-");
    let ctx = cli::dockerfile_context(&format!(
        "FROM {PYTHON_IMAGE} AS ask\nCOPY agent.py /agent.py\nRUN --mount=type=ssh,id=mykey python3 /agent.py - {nonce}\n\
         FROM scratch\nCOPY --from=ask /result /\n"
    ));
    std::fs::write(ctx.path().join("agent.py"), AGENT_CLIENT).unwrap();
    let out = tmp.path().join("out");
    let ssh = format!("mykey={}", key.display());
    let output = format!("type=local,dest={}", out.display());
    let res = cli::output(cli::build_cmd(&addr, ctx.path(), &["--progress", "plain", "--ssh", &ssh, "--output", &output]));
    assert!(res.status.success(), "bentokit build failed: {}", cli::text(&res.stderr));
    assert_agent_answers(&out, &key, &comment, &nonce);

    // A passphrase-protected key is refused before anything is built, naming the file.
    let locked = tmp.path().join("locked");
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"]).arg(&locked));
    let res = cli::output(cli::build_cmd(&addr, ctx.path(), &["--ssh", &format!("mykey={}", locked.display())]));
    let stderr = cli::text(&res.stderr);
    assert!(!res.status.success());
    assert!(stderr.contains("passphrase-protected") && stderr.contains(&locked.display().to_string()), "{stderr}");
}
