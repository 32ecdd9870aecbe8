//! `moby.sshforward.v1.SSH`: forwarding ssh agents into `RUN --mount=type=ssh`.
//!
//! In: `--ssh` specs (`default` = `$SSH_AUTH_SOCK`, `ID=/path/to/agent.sock`). Out:
//! `CheckAgent` says whether an id is configured; `ForwardAgent` (id in the
//! `buildkit.ssh.id` header, `default` when absent) pipes the stream's bytes to a new
//! connection on that agent socket and back. Private keys files are not supported (only
//! agent sockets), and nothing is logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard_buildkit_proto::moby::sshforward::v1::{BytesMessage, CheckAgentRequest, CheckAgentResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

pub(crate) const METHODS: &[&str] = &["CheckAgent", "ForwardAgent"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSpec {
    pub id: String,
    pub socket: PathBuf,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SshSpecError {
    #[error("--ssh {0}: SSH_AUTH_SOCK is not set\nhint: start an agent (eval $(ssh-agent)) or pass --ssh ID=/path/to/agent.sock")]
    NoAgent(String),
    #[error("--ssh {spec:?}: {reason}\nhint: use --ssh default or --ssh ID=/path/to/agent.sock")]
    Invalid { spec: String, reason: String },
}

impl SshSpec {
    /// Parses `default`, `ID`, `ID=SOCKET` (buildctl's form; only agent sockets, one path).
    pub fn parse(spec: &str) -> Result<Self, SshSpecError> {
        let (id, paths) = match spec.split_once('=') {
            Some((id, paths)) => (id.trim(), Some(paths)),
            None => (spec.trim(), None),
        };
        if id.is_empty() {
            return Err(SshSpecError::Invalid { spec: spec.into(), reason: "missing id".into() });
        }
        let socket = match paths {
            Some(p) if p.contains(',') => {
                return Err(SshSpecError::Invalid { spec: spec.into(), reason: "only one agent socket per id is supported".into() })
            }
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from).ok_or_else(|| SshSpecError::NoAgent(spec.into()))?,
        };
        Ok(SshSpec { id: id.to_string(), socket })
    }
}

pub(crate) struct SshService {
    agents: Arc<HashMap<String, PathBuf>>,
}

pub(crate) fn server(specs: &[SshSpec]) -> SshServer<SshService> {
    let agents = specs.iter().map(|s| (s.id.clone(), s.socket.clone())).collect();
    SshServer::new(SshService { agents: Arc::new(agents) })
}

impl SshService {
    fn socket(&self, id: &str) -> Result<PathBuf, Status> {
        let id = if id.is_empty() { "default" } else { id };
        self.agents
            .get(id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("no ssh agent with id {id}: pass --ssh {id}=/path/to/agent.sock")))
    }
}

#[tonic::async_trait]
impl Ssh for SshService {
    async fn check_agent(&self, request: Request<CheckAgentRequest>) -> Result<Response<CheckAgentResponse>, Status> {
        let socket = self.socket(&request.get_ref().id)?;
        tokio::net::UnixStream::connect(&socket)
            .await
            .map_err(|e| Status::unavailable(format!("cannot reach ssh agent {}: {e}", socket.display())))?;
        Ok(Response::new(CheckAgentResponse {}))
    }

    type ForwardAgentStream = ReceiverStream<Result<BytesMessage, Status>>;
    async fn forward_agent(&self, request: Request<Streaming<BytesMessage>>) -> Result<Response<Self::ForwardAgentStream>, Status> {
        let id = request.metadata().get("buildkit.ssh.id").and_then(|v| v.to_str().ok()).unwrap_or("default").to_string();
        let socket = self.socket(&id)?;
        let conn = tokio::net::UnixStream::connect(&socket)
            .await
            .map_err(|e| Status::unavailable(format!("cannot reach ssh agent {}: {e}", socket.display())))?;
        let (mut read, mut write) = conn.into_split();
        let mut inbound = request.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(m)) = inbound.message().await {
                if write.write_all(&m.data).await.is_err() {
                    break;
                }
            }
            let _ = write.shutdown().await;
        });
        let (tx, rx) = tokio::sync::mpsc::channel(16);
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
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(SshSpec::parse("gh=/tmp/a.sock").unwrap(), SshSpec { id: "gh".into(), socket: "/tmp/a.sock".into() });
        assert!(SshSpec::parse("=x").is_err());
        assert!(SshSpec::parse("a=/x,/y").is_err());
    }
}
