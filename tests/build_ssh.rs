//! Real-daemon test: `--ssh` agent forwarding. A real `ssh-agent` holding a fresh key is
//! forwarded into an exec, which asks it for its identities over the mounted socket (with
//! python, from the stand-in python image); the key's comment comes back.

#[path = "gateway/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};

use bentokit::session::SshSpec;
use bentokit::solve::{Build, BuildOptions, ExportSpec, PlatformResult};
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
    let opts = BuildOptions {
        exports: vec![ExportSpec::parse(&format!("type=local,dest={}", out.display())).unwrap()],
        ssh: vec![SshSpec::parse(&format!("default={}", socket.display())).unwrap()],
        ..Default::default()
    };
    let build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let p = amd64();
    let resolved = build.gateway().resolve_image_config(PYTHON_IMAGE, &p).await.unwrap();
    let mut llb = Llb::default();
    let img = llb.image(&format!("{PYTHON_IMAGE}@{}", resolved.digest), &p);
    // SSH2_AGENTC_REQUEST_IDENTITIES (11); the answer lists the keys with their comments.
    let script = "mkdir -p /result && python3 -c \"import socket,struct; s=socket.socket(socket.AF_UNIX); s.connect('/run/ssh.sock'); s.sendall(struct.pack('>IB',1,11)); n=struct.unpack('>I',s.recv(4))[0]; d=b''\nwhile len(d)<n: d+=s.recv(n-len(d))\nopen('/result/identities','wb').write(d)\"";
    let script = format!("{script} # {}", unique(""));
    let run_op = llb.exec(&img, &script, vec![(None, ssh_mount("default", "/run/ssh.sock"))], &p);
    let result = llb.copy(None, &run_op, "/result", "/", &p);
    build.finish(vec![PlatformResult { platform: p, definition: llb.definition(&result), image_config: resolved.config_json }]).await.unwrap();
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
