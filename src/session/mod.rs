//! The session server: what the daemon calls back on during a build.
//!
//! In: a channel to buildkitd and [`SessionOptions`] (named local contexts, secrets, ssh
//! agents, registry credentials, export destinations). Out: a [`Session`] whose id goes
//! into `SolveRequest.session`; behind it a gRPC server (health, file sync, file send,
//! secrets, auth, ssh — one file each) runs over the `Control.Session` byte pipe. The
//! server task is kept: [`Session::failed`] resolves if it dies, and [`Session::close`]
//! ends the pipe cleanly after the build. It never prints, and never lets a secret or a
//! credential reach an error or a log.

mod auth;
mod content;
mod context;
mod filesend;
mod filesync;
mod health;
mod patterns;
mod receive;
mod secrets;
mod ssh;
mod ssh_agent;
mod tunnel;
mod walker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::Channel;

pub use auth::AuthConfig;
pub use content::{index_tag_digest, put_index_tag};
pub use context::{read_dockerignore, LocalContext};
pub use filesend::{ExportSink, Outputs};
pub use patterns::{parse_ignore_file, PatternError, PatternMatcher};
pub use secrets::{SecretSource, SecretSpec, SecretSpecError};
pub use ssh::{SshSource, SshSpec, SshSpecError};
pub use ssh_agent::Keyring;
pub use walker::WalkError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot open a session with buildkitd: {}", .0.message())]
    Open(#[source] tonic::Status),
    #[error("invalid session header: {0}")]
    Header(String),
    #[error("the session server stopped: {0}")]
    ServerFailed(String),
    #[error("buildkitd ended the session: {0}")]
    Ended(String),
    #[error("cannot finish the build outputs: {0}")]
    Outputs(std::io::Error),
}

/// Everything the daemon may ask us for during one build.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Shown in the daemon's session list.
    pub name: String,
    /// Keys the daemon's copy of our contexts across builds: the same key makes an
    /// unchanged context transfer nothing. Defaults to a random key.
    pub shared_key: Option<String>,
    /// `local://NAME` sources.
    pub locals: HashMap<String, LocalContext>,
    pub secrets: Vec<SecretSpec>,
    pub ssh: Vec<SshSpec>,
    /// Registry credentials; `None` serves no Auth service (anonymous registry access).
    pub auth: Option<AuthConfig>,
    /// Export destinations by exporter index (`SolveRequest.exporters`).
    pub outputs: HashMap<usize, ExportSink>,
    /// Content stores for local cache import/export: store id (`local:DIR`) -> DIR.
    pub cache_stores: HashMap<String, std::path::PathBuf>,
}

/// A running session.
pub struct Session {
    id: String,
    tunnel: tunnel::Tunnel,
    outputs: Outputs,
    /// Set once [`Session::failed`] has consumed the end of the server / inbound task (a
    /// JoinHandle must not be polled again after it completed).
    server_done: bool,
    inbound_done: bool,
}

impl Session {
    /// Opens `Control.Session` and starts serving on it.
    pub async fn start(channel: Channel, opts: SessionOptions) -> Result<Session, SessionError> {
        let id = random_id(25);
        let shared_key = opts.shared_key.clone().unwrap_or_else(|| random_id(25));
        let outputs = Outputs::new(opts.outputs.clone());
        let (routes, methods) = services(&opts, &outputs);
        let name = if opts.name.is_empty() { "bentokit" } else { &opts.name };
        let headers = tunnel::Headers { id: &id, name, shared_key: &shared_key, methods: &methods };
        let tunnel = tunnel::open(channel, headers, routes).await?;
        Ok(Session { id, tunnel, outputs, server_done: false, inbound_done: false })
    }

    /// The id for `SolveRequest.session` and `local.session`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Resolves when the session stops before [`Session::close`]: the server failed or
    /// the daemon ended the pipe. A build racing this future fails with its error.
    pub async fn failed(&mut self) -> SessionError {
        if self.server_done && self.inbound_done {
            return SessionError::Ended("the session is closed".into());
        }
        tokio::select! {
            r = &mut self.tunnel.server, if !self.server_done => {
                self.server_done = true;
                match r {
                    Ok(Ok(())) => SessionError::ServerFailed("connection closed".into()),
                    Ok(Err(e)) => SessionError::ServerFailed(e),
                    Err(e) => SessionError::ServerFailed(e.to_string()),
                }
            },
            r = &mut self.tunnel.inbound, if !self.inbound_done => {
                self.inbound_done = true;
                match r {
                    Ok(Ok(())) => SessionError::Ended("the session stream closed".into()),
                    Ok(Err(status)) => SessionError::Ended(status.message().to_string()),
                    Err(e) => SessionError::Ended(e.to_string()),
                }
            },
        }
    }

    /// Moves the build's file outputs into place (call after a successful solve).
    pub fn commit_outputs(&self) -> Result<Vec<std::path::PathBuf>, SessionError> {
        self.outputs.commit().map_err(SessionError::Outputs)
    }

    /// Ends the session: we close our side, the daemon ends its side, the server stops.
    /// Uncommitted outputs are removed.
    pub async fn close(mut self) {
        self.outputs.discard();
        if let Some(close) = self.tunnel.close.take() {
            let _ = close.send(());
        }
        if !self.inbound_done {
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.tunnel.inbound).await;
        }
        if !self.server_done {
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.tunnel.server).await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.outputs.discard();
        self.tunnel.inbound.abort();
        self.tunnel.server.abort();
    }
}

fn paths<S: NamedService>(methods: &[&str]) -> Vec<String> {
    methods.iter().map(|m| format!("/{}/{m}", S::NAME)).collect()
}

/// The routes we serve and the method paths we advertise, built from the same list so
/// they cannot drift apart.
fn services(opts: &SessionOptions, outputs: &Outputs) -> (Routes, Vec<String>) {
    let mut methods = Vec::new();
    let health = health::server();
    methods.extend(paths::<bollard_buildkit_proto::health::health_server::HealthServer<health::HealthService>>(health::METHODS));
    let mut routes = Routes::new(health);

    let filesync = filesync::server(Arc::new(opts.locals.clone()));
    methods.extend(paths::<bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer<filesync::FileSyncService>>(&filesync::METHODS[..1]));
    routes = routes.add_service(filesync);

    let secrets = secrets::server(&opts.secrets);
    methods.extend(paths::<bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::SecretsServer<secrets::SecretsService>>(secrets::METHODS));
    routes = routes.add_service(secrets);

    if !outputs.is_empty() {
        methods.extend(paths::<filesend::FileSendService>(filesend::METHODS));
        routes = routes.add_service(filesend::server(outputs.clone()));
    }
    if let Some(config) = &opts.auth {
        methods.extend(paths::<bollard_buildkit_proto::moby::filesync::v1::auth_server::AuthServer<auth::AuthService>>(auth::METHODS));
        routes = routes.add_service(auth::server(config.clone()));
    }
    if !opts.cache_stores.is_empty() {
        methods.extend(paths::<content::api::content_server::ContentServer<content::ContentService>>(content::METHODS));
        routes = routes.add_service(content::server(opts.cache_stores.clone()));
    }
    if !opts.ssh.is_empty() {
        methods.extend(paths::<bollard_buildkit_proto::moby::sshforward::v1::ssh_server::SshServer<ssh::SshService>>(ssh::METHODS));
        routes = routes.add_service(ssh::server(&opts.ssh));
    }
    (routes, methods)
}

/// Tunes glibc's allocator for streaming a context through the session; call it first
/// thing in `main`, before any thread starts.
///
/// A transfer allocates and frees a few hundred KiB per message. With glibc's defaults those
/// buffers come and go as fresh mappings (page faults, zeroing, unmapping: measured as more
/// than half of the client's CPU time for a 1 GiB upload), and every thread's own arena keeps
/// its own freed buffers (peak RSS). One arena with buffers served from the heap and not
/// trimmed back to the kernel halves the CPU time and keeps RSS at the few buffers in flight.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// A stable shared key for [`SessionOptions::shared_key`]: the same machine building the
/// same context directories gets the same key, so the daemon can reuse what it already
/// received (an unchanged file is not sent again).
pub fn shared_key_for(contexts: &[&std::path::Path]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    if let Ok(host) = std::fs::read_to_string("/etc/machine-id").or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname")) {
        hasher.update(host.trim().as_bytes());
    }
    for dir in contexts {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        hasher.update(b"\0");
        hasher.update(dir.as_os_str().as_encoded_bytes());
    }
    hex::encode(hasher.finalize())[..32].to_string()
}

/// A random id of lowercase letters and digits (no `:`: the daemon splits on it).
pub(crate) fn random_id(len: usize) -> String {
    use std::io::Read;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_err() {
        // No urandom: hash time, pid and a counter (ids only need to be unique).
        use sha2::Digest;
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seed = format!("{:?}{}{}", std::time::SystemTime::now(), std::process::id(), COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let digest = sha2::Sha256::digest(seed.as_bytes());
        bytes.iter_mut().zip(digest.iter().cycle()).for_each(|(b, d)| *b = *d);
    }
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// Splits buildctl's CSV-style option values (`a=b,"c=d,e",f`): double quotes group,
/// `""` inside quotes is a literal quote.
pub(crate) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote in {s:?}"));
    }
    fields.push(cur);
    Ok(fields.into_iter().filter(|f| !f.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn grpc_request(path: &str) -> http::Request<tonic::body::Body> {
        http::Request::builder()
            .method("POST")
            .uri(format!("http://session{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(tonic::body::Body::empty())
            .unwrap()
    }

    /// The generated servers answer an unknown path with `grpc-status: 12` in the headers
    /// at once; a served method goes to a handler instead.
    fn unknown_method(resp: &http::Response<tonic::body::Body>) -> bool {
        resp.headers().get("grpc-status").map(|v| v.as_bytes()) == Some(b"12") && resp.headers().get("grpc-message").is_none()
    }

    #[tokio::test]
    async fn every_advertised_method_is_served() {
        let opts = SessionOptions {
            auth: Some(AuthConfig { config_file: "/nonexistent/config.json".into() }),
            ssh: vec![SshSpec::agent("default", "/nonexistent.sock")],
            outputs: HashMap::from([(0, ExportSink::File("/nonexistent/out.tar".into()))]),
            cache_stores: HashMap::from([("local:/nonexistent".to_string(), "/nonexistent".into())]),
            ..Default::default()
        };
        let outputs = Outputs::new(opts.outputs.clone());
        let (routes, methods) = services(&opts, &outputs);
        let expected = [
            "/grpc.health.v1.Health/Check",
            "/moby.filesync.v1.FileSync/DiffCopy",
            "/moby.buildkit.secrets.v1.Secrets/GetSecret",
            "/moby.filesync.v1.FileSend/DiffCopy",
            "/moby.filesync.v1.Auth/Credentials",
            "/moby.filesync.v1.Auth/FetchToken",
            "/moby.filesync.v1.Auth/GetTokenAuthority",
            "/moby.filesync.v1.Auth/VerifyTokenAuthority",
            "/containerd.services.content.v1.Content/Info",
            "/containerd.services.content.v1.Content/Update",
            "/containerd.services.content.v1.Content/List",
            "/containerd.services.content.v1.Content/Delete",
            "/containerd.services.content.v1.Content/Read",
            "/containerd.services.content.v1.Content/Status",
            "/containerd.services.content.v1.Content/ListStatuses",
            "/containerd.services.content.v1.Content/Write",
            "/containerd.services.content.v1.Content/Abort",
            "/moby.sshforward.v1.SSH/CheckAgent",
            "/moby.sshforward.v1.SSH/ForwardAgent",
        ];
        assert_eq!(methods, expected);
        let routes = routes.prepare();
        for m in &methods {
            let resp = routes.clone().oneshot(grpc_request(m)).await.unwrap();
            assert!(!unknown_method(&resp), "{m} is advertised but not served");
        }
        for bogus in ["/moby.filesync.v1.FileSync/Bogus", "/moby.filesync.v1.FileSend/Bogus", "/grpc.health.v1.Health/Bogus"] {
            let resp = routes.clone().oneshot(grpc_request(bogus)).await.unwrap();
            assert!(unknown_method(&resp) || resp.headers().get("grpc-status").is_some(), "{bogus} should be unknown");
        }
    }

    #[test]
    fn csv_fields_follow_buildctl() {
        assert_eq!(csv_fields(r#"type=image,"name=a,b",push=true"#).unwrap(), ["type=image", "name=a,b", "push=true"]);
        assert_eq!(csv_fields(r#""a=""q""""#).unwrap(), [r#"a="q""#]);
        assert!(csv_fields(r#""a"#).is_err());
    }

    #[test]
    fn random_ids_have_no_colon() {
        let id = random_id(25);
        assert_eq!(id.len(), 25);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
