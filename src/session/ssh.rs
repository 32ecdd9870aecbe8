//! `moby.sshforward.v1.SSH`: ssh agents and private keys for `RUN --mount=type=ssh`.
//!
//! In: `--ssh` specs, as buildctl takes them: `default` or `ID` (= `$SSH_AUTH_SOCK`),
//! `ID=PATH[,PATH…]`. Each path is stat'ed when the spec is parsed: a socket is an agent
//! whose connection is forwarded, a regular file is an unencrypted OpenSSH private key
//! (ed25519, RSA, ECDSA P-256/P-384) served by an in-process agent (`ssh_agent.rs`); several
//! keys per id make one keyring, a socket and keys together are refused, and so are
//! passphrase-protected keys (we do not prompt: load those into an agent). Out: `CheckAgent`
//! says whether an id is configured; `ForwardAgent` (id in the `buildkit.ssh.id` header,
//! `default` when absent) pipes the stream to a new agent connection, or answers it from the
//! keyring. Nothing is logged, and errors name files, never their contents.

use std::collections::HashMap;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard_buildkit_proto::moby::sshforward::v1::{BytesMessage, CheckAgentRequest, CheckAgentResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::ssh_agent::{self, AgentConnection, Keyring};

pub(crate) const METHODS: &[&str] = &["CheckAgent", "ForwardAgent"];

/// Buildctl reads at most this much of a key file; a private key is a few KiB.
const MAX_KEY_FILE: u64 = 100 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSpec {
    pub id: String,
    pub source: SshSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshSource {
    /// An ssh-agent socket, connected to anew for every forwarded connection.
    Agent(PathBuf),
    /// Private keys served by an in-process agent.
    Keys(Keyring),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SshSpecError {
    #[error("--ssh {0}: SSH_AUTH_SOCK is not set\nhint: start an agent (eval $(ssh-agent)) or pass --ssh ID=/path/to/agent.sock or --ssh ID=/path/to/private_key")]
    NoAgent(String),
    #[error("--ssh {spec:?}: {reason}\nhint: use --ssh default, --ssh ID=/path/to/agent.sock or --ssh ID=/path/to/private_key[,/path/to/other_key]")]
    Invalid { spec: String, reason: String },
    #[error("--ssh {spec:?}: cannot use {path}: {reason}\nhint: give an ssh-agent socket or an OpenSSH private key file")]
    Path { spec: String, path: PathBuf, reason: String },
    #[error("--ssh {spec:?}: {path} is passphrase-protected and bentokit does not prompt for passphrases\nhint: add it to an agent (ssh-add {path}) and pass --ssh {id}=$SSH_AUTH_SOCK")]
    Encrypted { spec: String, id: String, path: PathBuf },
}

impl SshSpec {
    /// Forwards the agent listening on `socket` as `id` (not checked until used).
    pub fn agent(id: impl Into<String>, socket: impl Into<PathBuf>) -> Self {
        SshSpec { id: id.into(), source: SshSource::Agent(socket.into()) }
    }

    /// Parses `default`, `ID`, `ID=PATH[,PATH…]` (buildctl's form), reading key files now.
    pub fn parse(spec: &str) -> Result<Self, SshSpecError> {
        let invalid = |reason: &str| SshSpecError::Invalid { spec: spec.into(), reason: reason.into() };
        let (id, paths) = match spec.split_once('=') {
            Some((id, paths)) => (id.trim(), paths.split(',').map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from).collect()),
            None => (spec.trim(), Vec::new()),
        };
        if id.is_empty() {
            return Err(invalid("missing id"));
        }
        let paths = if paths.is_empty() {
            vec![std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from).ok_or_else(|| SshSpecError::NoAgent(spec.into()))?]
        } else {
            paths
        };
        let mut sockets = Vec::new();
        let mut keys = Vec::new();
        for path in paths {
            let path_error = |reason: String| SshSpecError::Path { spec: spec.into(), path: path.clone(), reason };
            let kind = std::fs::metadata(&path).map_err(|e| path_error(e.to_string()))?.file_type();
            if kind.is_socket() {
                sockets.push(path);
            } else if kind.is_file() {
                let key = read_key(&path).map_err(|e| match e {
                    KeyProblem::Encrypted => SshSpecError::Encrypted { spec: spec.into(), id: id.into(), path: path.clone() },
                    KeyProblem::Other(reason) => path_error(reason),
                })?;
                keys.push((path, key));
            } else {
                return Err(path_error("neither a socket nor a regular file".into()));
            }
        }
        let source = match (sockets.len(), keys.is_empty()) {
            (0, false) => SshSource::Keys(Keyring::new(keys).map_err(|e| invalid(&format!("cannot load keys: {e}")))?),
            (1, true) => SshSource::Agent(sockets.remove(0)),
            (_, true) => return Err(invalid("only one agent socket per id is supported")),
            (_, false) => return Err(invalid("give either one agent socket or private key files, not both")),
        };
        Ok(SshSpec { id: id.to_string(), source })
    }
}

enum KeyProblem {
    Encrypted,
    Other(String),
}

/// Reads one OpenSSH private key; the reasons never quote the file.
fn read_key(path: &Path) -> Result<ssh_key::PrivateKey, KeyProblem> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut text))
        .map_err(|e| KeyProblem::Other(e.to_string()))?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(KeyProblem::Other(format!("larger than {} KiB, not a private key", MAX_KEY_FILE / 1024)));
    }
    let key = ssh_key::PrivateKey::from_openssh(&text).map_err(|_| {
        let pem = String::from_utf8_lossy(&text).contains("-----BEGIN ") && !String::from_utf8_lossy(&text).contains("OPENSSH PRIVATE KEY");
        KeyProblem::Other(if pem {
            "not in OpenSSH format (a PEM key): rewrite it with ssh-keygen -p -f FILE, or add it to an agent".into()
        } else {
            "not an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`)".into()
        })
    })?;
    if key.is_encrypted() {
        return Err(KeyProblem::Encrypted);
    }
    if !ssh_agent::supported(&key.algorithm()) {
        return Err(KeyProblem::Other(format!("{} keys are not supported (use ed25519, RSA or ECDSA P-256/P-384, or an agent)", key.algorithm())));
    }
    Ok(key)
}

pub(crate) struct SshService {
    sources: Arc<HashMap<String, SshSource>>,
}

pub(crate) fn server(specs: &[SshSpec]) -> SshServer<SshService> {
    let sources = specs.iter().map(|s| (s.id.clone(), s.source.clone())).collect();
    SshServer::new(SshService { sources: Arc::new(sources) })
}

impl SshService {
    fn source(&self, id: &str) -> Result<&SshSource, Status> {
        let id = if id.is_empty() { "default" } else { id };
        self.sources.get(id).ok_or_else(|| {
            Status::not_found(format!("no ssh agent or key with id {id}: pass --ssh {id}=/path/to/agent.sock or --ssh {id}=/path/to/private_key"))
        })
    }
}

async fn connect(socket: &Path) -> Result<tokio::net::UnixStream, Status> {
    tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| Status::unavailable(format!("cannot reach ssh agent {}: {e}", socket.display())))
}

#[tonic::async_trait]
impl Ssh for SshService {
    async fn check_agent(&self, request: Request<CheckAgentRequest>) -> Result<Response<CheckAgentResponse>, Status> {
        if let SshSource::Agent(socket) = self.source(&request.get_ref().id)? {
            connect(socket).await?;
        }
        Ok(Response::new(CheckAgentResponse {}))
    }

    type ForwardAgentStream = ReceiverStream<Result<BytesMessage, Status>>;
    async fn forward_agent(&self, request: Request<Streaming<BytesMessage>>) -> Result<Response<Self::ForwardAgentStream>, Status> {
        let id = request.metadata().get("buildkit.ssh.id").and_then(|v| v.to_str().ok()).unwrap_or("default").to_string();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        match self.source(&id)? {
            SshSource::Agent(socket) => pipe_to_agent(connect(socket).await?, request.into_inner(), tx),
            SshSource::Keys(keyring) => serve_keyring(keyring.clone(), request.into_inner(), tx),
        }
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

type Replies = tokio::sync::mpsc::Sender<Result<BytesMessage, Status>>;

fn pipe_to_agent(conn: tokio::net::UnixStream, mut inbound: Streaming<BytesMessage>, tx: Replies) {
    let (mut read, mut write) = conn.into_split();
    tokio::spawn(async move {
        while let Ok(Some(m)) = inbound.message().await {
            if write.write_all(&m.data).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(Ok(BytesMessage { data: buf[..n].to_vec() })).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Answers the stream from the keyring; a malformed (oversized) message ends it.
fn serve_keyring(keyring: Keyring, mut inbound: Streaming<BytesMessage>, tx: Replies) {
    tokio::spawn(async move {
        let mut conn = AgentConnection::new(keyring);
        while let Ok(Some(m)) = inbound.message().await {
            let reply = match conn.feed(&m.data) {
                Ok(replies) if replies.is_empty() => continue,
                Ok(replies) => Ok(BytesMessage { data: replies }),
                Err(ssh_agent::Oversized(n)) => Err(Status::invalid_argument(format!("ssh-agent message of {n} bytes is too large"))),
            };
            let done = reply.is_err();
            if tx.send(reply).await.is_err() || done {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh ed25519 key file named (and commented) `name`; `passphrase` encrypts it.
    fn key_file(dir: &Path, name: &str, passphrase: &str) -> Option<PathBuf> {
        crate::session::ssh_agent::tests::ssh_keygen(&dir.join(name), "ed25519", passphrase, name)
    }

    fn spec(id: &str, paths: &[&Path]) -> String {
        format!("{id}={}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(","))
    }

    #[test]
    fn a_socket_is_forwarded_and_ids_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert_eq!(SshSpec::parse(&spec("gh", &[&socket])).unwrap(), SshSpec::agent("gh", &socket));
        assert!(matches!(SshSpec::parse("=x"), Err(SshSpecError::Invalid { .. })));
        let two = SshSpec::parse(&spec("a", &[&socket, &socket])).unwrap_err();
        assert!(two.to_string().contains("only one agent socket"), "{two}");
    }

    #[test]
    fn key_files_make_one_keyring_and_sockets_do_not_mix_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let (Some(a), Some(b)) = (key_file(dir.path(), "a", ""), key_file(dir.path(), "b", "")) else { return };
        let parsed = SshSpec::parse(&spec("mykey", &[&a, &b])).unwrap();
        assert_eq!(parsed.id, "mykey");
        let SshSource::Keys(ring) = &parsed.source else { panic!("{parsed:?}") };
        assert_eq!(ring.paths().collect::<Vec<_>>(), vec![a.as_path(), b.as_path()]);
        // Debug output names the files only.
        assert!(!format!("{parsed:?}").contains("PRIVATE"), "{parsed:?}");

        let socket = dir.path().join("agent.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let mixed = SshSpec::parse(&spec("mykey", &[&a, &socket])).unwrap_err();
        assert!(mixed.to_string().contains("not both"), "{mixed}");
    }

    #[test]
    fn missing_unreadable_and_non_key_files_are_named_without_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = SshSpec::parse(&spec("k", &[&missing])).unwrap_err();
        assert!(matches!(&err, SshSpecError::Path { path, .. } if path == &missing), "{err}");
        assert!(err.to_string().contains("No such file"), "{err}");

        let secret = dir.path().join("not-a-key");
        std::fs::write(&secret, "hunter2-secret-content").unwrap();
        let err = SshSpec::parse(&spec("k", &[&secret])).unwrap_err().to_string();
        assert!(err.contains("not-a-key") && err.contains("not an OpenSSH private key") && !err.contains("hunter2"), "{err}");

        let pem = dir.path().join("pem");
        std::fs::write(&pem, "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n").unwrap();
        let err = SshSpec::parse(&spec("k", &[&pem])).unwrap_err().to_string();
        assert!(err.contains("PEM") && !err.contains("MIIB"), "{err}");

        let err = SshSpec::parse(&spec("k", &[dir.path()])).unwrap_err().to_string();
        assert!(err.contains("neither a socket nor a regular file"), "{err}");
    }

    #[test]
    fn an_encrypted_key_says_to_use_an_agent() {
        let dir = tempfile::tempdir().unwrap();
        let Some(key) = key_file(dir.path(), "locked", "correct horse") else { return };
        let err = SshSpec::parse(&spec("gh", &[&key])).unwrap_err();
        assert_eq!(err, SshSpecError::Encrypted { spec: spec("gh", &[&key]), id: "gh".into(), path: key.clone() });
        let text = err.to_string();
        assert!(text.contains("passphrase-protected") && text.contains("ssh-add") && text.contains(&key.display().to_string()), "{text}");
    }
}
