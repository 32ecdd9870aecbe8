//! Opening a gRPC channel to buildkitd over a unix socket or TCP (optionally mTLS), and
//! starting a local daemon when none answers on the default socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

use super::addr::Address;
use super::embedded;

/// Client certificates for `tcp://` addresses, as `buildctl --tlscacert/--tlscert/--tlskey`.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub ca_cert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub server_name: Option<String>,
}

impl TlsOptions {
    fn is_enabled(&self) -> bool {
        self.ca_cert.is_some() || self.cert.is_some() || self.key.is_some() || self.server_name.is_some()
    }
}

#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// The address the user gave (`--addr` or `BUILDKIT_HOST`); `None` means the default
    /// socket, with a local buildkitd started when nothing answers there.
    pub addr: Option<String>,
    pub tls: TlsOptions,
}

/// A live connection to buildkitd.
#[derive(Debug, Clone)]
pub struct Connection {
    pub channel: Channel,
    pub addr: Address,
    /// Set when this process started the daemon it is talking to.
    pub started: Option<embedded::Started>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Address(#[from] super::addr::AddressError),
    #[error("cannot read TLS {what} {path}: {source}")]
    TlsFile { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("--tlscert and --tlskey must be given together")]
    TlsPair,
    #[error("TLS options apply only to tcp:// addresses, not {0}")]
    TlsOnUnix(Address),
    #[error("cannot connect to buildkitd at {addr}: {reason}\n{hint}")]
    Unreachable { addr: Address, reason: String, hint: String },
    #[error("TLS handshake with buildkitd at {addr} failed: {reason}\nhint: check --tlscacert (the CA that signed the daemon's certificate), --tlscert/--tlskey, and --tlsservername")]
    Tls { addr: Address, reason: String },
    #[error(transparent)]
    Embedded(#[from] embedded::StartError),
}

/// Connects to buildkitd. With no address given and nothing answering on the default
/// socket, starts a local buildkitd when one is on PATH (see [`embedded`]).
pub async fn connect(opts: &ConnectOptions) -> Result<Connection, ConnectError> {
    let explicit = opts.addr.is_some();
    let addr = match &opts.addr {
        Some(a) => Address::parse(a)?,
        None => Address::default_for_user(),
    };
    tracing::debug!(%addr, explicit, "connecting to buildkitd");
    match open_channel(&addr, &opts.tls).await {
        Ok(channel) => Ok(Connection { channel, addr, started: None }),
        Err(ConnectError::Unreachable { .. }) if !explicit => {
            let Address::Unix(socket) = &addr else { unreachable!("the default address is a unix socket") };
            let Some(binary) = embedded::find_buildkitd() else {
                return Err(unreachable_error(&addr, "nothing listens on the default socket and no buildkitd binary is on PATH".into()));
            };
            let started = embedded::start(&binary, socket).await?;
            let channel = open_channel(&addr, &opts.tls).await?;
            Ok(Connection { channel, addr, started: Some(started) })
        }
        Err(e) => Err(e),
    }
}

/// Opens a channel and proves the daemon answers (a `ListWorkers` call).
pub(crate) async fn open_channel(addr: &Address, tls: &TlsOptions) -> Result<Channel, ConnectError> {
    let channel = match addr {
        Address::Unix(path) => {
            if tls.is_enabled() {
                return Err(ConnectError::TlsOnUnix(addr.clone()));
            }
            unix_channel(path).await.map_err(|e| unreachable_error(addr, error_chain(&e)))?
        }
        Address::Tcp { host, port } => tcp_channel(addr, host, *port, tls).await?,
    };
    probe(&channel).await.map_err(|status| classify_status(addr, tls, status))?;
    Ok(channel)
}

async fn unix_channel(path: &Path) -> Result<Channel, tonic::transport::Error> {
    let path = path.to_path_buf();
    // The URI is ignored by the connector; tonic needs a syntactically valid one.
    Endpoint::from_static("http://buildkitd")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
        }))
        .await
}

async fn tcp_channel(addr: &Address, host: &str, port: u16, tls: &TlsOptions) -> Result<Channel, ConnectError> {
    let authority = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let scheme = if tls.is_enabled() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{authority}"))
        .map_err(|e| unreachable_error(addr, e.to_string()))?
        .connect_timeout(Duration::from_secs(5));
    if tls.is_enabled() {
        // buildkitd wraps its TCP listener in TLS itself and offers no ALPN: speak HTTP/2 anyway.
        let mut config = ClientTlsConfig::new().assume_http2(true).domain_name(tls.server_name.clone().unwrap_or_else(|| host.to_string()));
        if let Some(ca) = &tls.ca_cert {
            config = config.ca_certificate(Certificate::from_pem(read_tls_file("CA certificate", ca)?));
        }
        match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(
                    read_tls_file("certificate", cert)?,
                    read_tls_file("key", key)?,
                ))
            }
            (None, None) => {}
            _ => return Err(ConnectError::TlsPair),
        }
        endpoint = endpoint.tls_config(config).map_err(|e| ConnectError::Tls { addr: addr.clone(), reason: error_chain(&e) })?;
    }
    endpoint.connect().await.map_err(|e| {
        let reason = error_chain(&e);
        if tls.is_enabled() && looks_like_tls_failure(&reason) {
            ConnectError::Tls { addr: addr.clone(), reason }
        } else {
            unreachable_error(addr, reason)
        }
    })
}

async fn probe(channel: &Channel) -> Result<(), tonic::Status> {
    use bollard_buildkit_proto::moby::buildkit::v1::{control_client::ControlClient, ListWorkersRequest};
    let mut control = ControlClient::new(channel.clone());
    let call = control.list_workers(ListWorkersRequest::default());
    match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(tonic::Status::deadline_exceeded("buildkitd did not answer ListWorkers within 10s")),
    }
}

fn classify_status(addr: &Address, tls: &TlsOptions, status: tonic::Status) -> ConnectError {
    let reason = status_chain(&status);
    if tls.is_enabled() && looks_like_tls_failure(&reason) {
        ConnectError::Tls { addr: addr.clone(), reason }
    } else {
        unreachable_error(addr, reason)
    }
}

fn looks_like_tls_failure(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "unknownissuer", "alert", "invalid peer"].iter().any(|w| r.contains(w))
}

fn read_tls_file(what: &'static str, path: &Path) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|source| ConnectError::TlsFile { what, path: path.to_path_buf(), source })
}

pub(crate) fn unreachable_error(addr: &Address, reason: String) -> ConnectError {
    let hint = match addr {
        Address::Unix(_) => format!(
            "hint: start buildkitd (for example `sudo buildkitd --addr {addr} &`, or `scripts/setup-buildkit.sh` from the \
             bentokit repository), or point bentokit at a running one with --addr or BUILDKIT_HOST"
        ),
        Address::Tcp { .. } => format!(
            "hint: is buildkitd listening on {addr} (`buildkitd --addr {addr}`)? For TLS pass --tlscacert, --tlscert and --tlskey"
        ),
    };
    ConnectError::Unreachable { addr: addr.clone(), reason, hint }
}

/// `a: b: c` from an error and its sources, without repeating a source's text.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn status_chain(status: &tonic::Status) -> String {
    use std::error::Error;
    let mut text = status.message().to_string();
    if let Some(src) = status.source() {
        let chain = error_chain(src);
        if !text.contains(&chain) {
            text = if text.is_empty() { chain } else { format!("{text}: {chain}") };
        }
    }
    if text.is_empty() {
        text = format!("{:?}", status.code());
    }
    text
}
