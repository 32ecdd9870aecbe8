//! One build through the gateway, the way `client.Build` does it in Go.
//!
//! In: a channel, [`BuildOptions`] (outputs, cache, secrets, ssh, local contexts,
//! entitlements). [`Build::start`] opens the session, starts `Control.Status` and
//! `Control.Solve` (no frontend, no definition) and waits for the gateway; the caller
//! then resolves images and converts with [`Build::gateway`], and hands one
//! [`PlatformResult`] per platform to [`Build::finish`], which solves them, returns the
//! refs with their image configs, waits for the exporters and moves file outputs into
//! place. Dropping a [`Build`] (Ctrl-C) cancels the solve on the daemon and removes
//! partial outputs. Nothing here prints.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::{result, Ref, RefMap, Result as GatewayResult, ReturnRequest};
use bollard_buildkit_proto::moby::buildkit::v1::{control_client::ControlClient, SolveRequest, SolveResponse, StatusRequest, StatusResponse};
use bollard_buildkit_proto::pb;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use super::cache::{cache_options, prepare, update_local_indexes, CacheSpec};
use super::exports::{exporters, ExportSpec};
use super::gateway::Gateway;
use crate::session::{AuthConfig, LocalContext, SecretSpec, Session, SessionError, SessionOptions, SshSpec};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("{context}: {message}{hint}")]
    Daemon { context: String, message: String, code: tonic::Code, hint: String },
    #[error("lost the connection to buildkitd during the build: {0}\nhint: the daemon stopped or restarted; check its log and run the build again")]
    DaemonGone(String),
    #[error("the daemon does not support {feature} (capability {cap})\nhint: upgrade buildkitd")]
    MissingCap { cap: String, feature: String },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("build cancelled")]
    Cancelled,
    /// The caller ended the build with its own error ([`Build::fail`]).
    #[error("{0}")]
    Aborted(String),
    #[error("cannot write the metadata file {path}: {source}")]
    Metadata { path: PathBuf, source: std::io::Error },
    #[error("a build needs at least one platform result")]
    NoResult,
    #[error("local cache: {0}")]
    LocalCache(std::io::Error),
}

impl BuildError {
    pub(crate) fn from_status(context: &str, status: tonic::Status) -> BuildError {
        let message = status.message().to_string();
        if matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown)
            && (message.contains("transport") || message.contains("connection") || message.contains("broken pipe") || message.contains("h2 protocol error"))
        {
            return BuildError::DaemonGone(message);
        }
        if status.code() == tonic::Code::Cancelled {
            return BuildError::Cancelled;
        }
        let hint = if message.contains("secret") && message.contains("not found") {
            "\nhint: pass the secret with --secret id=ID,src=PATH or --secret id=ID,env=VARIABLE".to_string()
        } else if message.contains("no SSH key") {
            "\nhint: forward an agent with --ssh default (uses SSH_AUTH_SOCK) or --ssh ID=/path/to/agent.sock".to_string()
        } else {
            String::new()
        };
        BuildError::Daemon { context: context.into(), message, code: status.code(), hint }
    }
}

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub exports: Vec<ExportSpec>,
    pub cache_imports: Vec<CacheSpec>,
    pub cache_exports: Vec<CacheSpec>,
    pub secrets: Vec<SecretSpec>,
    pub ssh: Vec<SshSpec>,
    /// `local://NAME` contexts the definitions refer to.
    pub locals: HashMap<String, LocalContext>,
    /// e.g. `network.host`, `security.insecure` (the daemon must allow them too).
    pub entitlements: Vec<String>,
    /// Registry credentials; `None` reads the docker config from the environment.
    pub auth: Option<AuthConfig>,
    /// Stable key for incremental context transfer (same key, unchanged files: nothing sent).
    pub shared_key: Option<String>,
    /// Where to write the exporter response as JSON (buildctl's `--metadata-file`).
    pub metadata_file: Option<PathBuf>,
}

/// One platform's result: the definition to solve and the image config to export with it.
#[derive(Debug, Clone)]
pub struct PlatformResult {
    pub platform: pb::Platform,
    pub definition: pb::Definition,
    /// The OCI image config JSON (ENV, USER, ENTRYPOINT, history, ...).
    pub image_config: Vec<u8>,
}

/// What a finished build produced.
#[derive(Debug, Clone, Default)]
pub struct BuildOutcome {
    /// The exporters' response (`containerimage.digest`, `image.name`, ...).
    pub exporter_response: BTreeMap<String, String>,
    /// Files and directories written.
    pub outputs: Vec<PathBuf>,
}

pub struct Build {
    build_ref: String,
    /// `Some` until [`Build::shutdown`].
    session: Option<Session>,
    solve: JoinHandle<Result<SolveResponse, tonic::Status>>,
    status_task: JoinHandle<()>,
    status: Option<mpsc::Receiver<StatusResponse>>,
    gateway: Gateway,
    metadata_file: Option<PathBuf>,
    cache_exports: Vec<CacheSpec>,
}

impl Build {
    /// Opens the session and the gateway. The gateway is ready when this returns.
    pub async fn start(channel: Channel, opts: BuildOptions) -> Result<Build, BuildError> {
        let (exporter_list, sinks) = exporters(&opts.exports);
        let cache = prepare(&opts.cache_imports, &opts.cache_exports).map_err(BuildError::LocalCache)?;
        let session = Session::start(
            channel.clone(),
            SessionOptions {
                name: "bentokit".into(),
                shared_key: opts.shared_key.clone(),
                locals: opts.locals.clone(),
                secrets: opts.secrets.clone(),
                ssh: opts.ssh.clone(),
                auth: Some(opts.auth.clone().unwrap_or_else(AuthConfig::from_env)),
                outputs: sinks,
                cache_stores: cache.stores.clone(),
            },
        )
        .await?;
        let build_ref = crate::session::random_id(25);

        let (status_tx, status_rx) = mpsc::channel(1024);
        let status_task = tokio::spawn(stream_status(channel.clone(), build_ref.clone(), status_tx));

        let request = SolveRequest {
            r#ref: build_ref.clone(),
            session: session.id().to_string(),
            exporters: exporter_list,
            cache: cache_options(&cache),
            entitlements: opts.entitlements.clone(),
            ..Default::default()
        };
        let mut control = ControlClient::new(channel.clone());
        let imports = super::cache::gateway_imports(&cache);
        let mut solve = tokio::spawn(async move { control.solve(request).await.map(|r| r.into_inner()) });
        // The solve can fail before the gateway ever answers (bad exporter options,
        // entitlements the daemon refuses): report that instead of a gateway timeout.
        let gateway = tokio::select! {
            gw = Gateway::connect(channel, build_ref.clone(), session.id().to_string(), imports) => gw?,
            done = &mut solve => {
                return Err(match done {
                    Ok(Err(status)) => BuildError::from_status("the build failed to start", status),
                    Ok(Ok(_)) => BuildError::Protocol("the daemon finished the build before the gateway started".into()),
                    Err(e) => BuildError::Protocol(format!("solve task: {e}")),
                });
            }
        };
        Ok(Build { build_ref, session: Some(session), solve, status_task, status: Some(status_rx), gateway, metadata_file: opts.metadata_file, cache_exports: opts.cache_exports })
    }

    /// The build's id on the daemon (`Control.Status` ref, history entry).
    pub fn build_ref(&self) -> &str {
        &self.build_ref
    }

    /// The gateway, for image resolution and caps checks while converting.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The session id for `local.session` attributes of local sources.
    pub fn session_id(&self) -> &str {
        self.gateway.session_id()
    }

    /// The `Control.Status` stream (once): vertexes, logs, warnings.
    pub fn take_status(&mut self) -> Option<mpsc::Receiver<StatusResponse>> {
        self.status.take()
    }

    /// Solves one definition per platform, returns them with their image configs, and
    /// waits for the exporters. On success the file outputs are in place.
    pub async fn finish(self, results: Vec<PlatformResult>) -> Result<BuildOutcome, BuildError> {
        if results.is_empty() {
            return Err(BuildError::NoResult);
        }
        let mut refs = Vec::new();
        for r in &results {
            match self.gateway.solve(r.definition.clone()).await {
                Ok(id) => refs.push(id),
                Err(e) => return Err(self.fail_with(e).await),
            }
        }
        let ret = return_request(&results, refs);
        if let Err(e) = self.gateway.r#return(ret).await {
            return Err(self.fail_with(e).await);
        }
        self.wait().await
    }

    /// Ends the build with an error of ours (e.g. a conversion error): the daemon is
    /// told, the session closed, nothing exported.
    pub async fn fail(mut self, message: &str) -> BuildError {
        let ret = ReturnRequest {
            result: None,
            error: Some(RpcStatus { code: tonic::Code::Unknown as i32, message: message.into(), details: vec![] }),
        };
        let _ = self.gateway.r#return(ret).await;
        let _ = (&mut self.solve).await;
        self.shutdown().await;
        BuildError::Aborted(message.into())
    }

    async fn fail_with(mut self, error: BuildError) -> BuildError {
        let ret = ReturnRequest {
            result: None,
            error: Some(RpcStatus { code: tonic::Code::Unknown as i32, message: error.to_string(), details: vec![] }),
        };
        let _ = self.gateway.r#return(ret).await;
        let outer = (&mut self.solve).await;
        self.shutdown().await;
        match outer {
            Ok(Err(status)) => BuildError::from_status("build failed", status),
            _ => error,
        }
    }

    async fn wait(mut self) -> Result<BuildOutcome, BuildError> {
        let solved = tokio::select! {
            r = &mut self.solve => r,
            e = session_failed(&mut self.session) => {
                // The session died first: the solve will fail too; report the solve's
                // error when it comes quickly, else the session's.
                let r = tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.solve).await;
                match r {
                    Ok(Ok(Err(status))) => Ok(Err(status)),
                    _ => {
                        self.shutdown().await;
                        return Err(BuildError::Session(e));
                    }
                }
            }
        };
        let response = match solved {
            Ok(Ok(resp)) => resp,
            Ok(Err(status)) => {
                self.shutdown().await;
                return Err(BuildError::from_status("build failed", status));
            }
            Err(join) => {
                self.shutdown().await;
                return Err(BuildError::Protocol(format!("solve task: {join}")));
            }
        };
        let outputs = match &self.session {
            Some(session) => session.commit_outputs(),
            None => Ok(Vec::new()),
        };
        let exporter_response: BTreeMap<String, String> = response.exporter_response.into_iter().collect();
        let metadata_file = self.metadata_file.take();
        let cache_exports = std::mem::take(&mut self.cache_exports);
        self.shutdown().await;
        let outputs = outputs?;
        update_local_indexes(&cache_exports, &exporter_response).map_err(BuildError::LocalCache)?;
        if let Some(path) = metadata_file {
            super::metadata::write_metadata_file(&path, &exporter_response).map_err(|source| BuildError::Metadata { path, source })?;
        }
        Ok(BuildOutcome { exporter_response, outputs })
    }

    async fn shutdown(mut self) {
        self.solve.abort();
        if let Some(session) = self.session.take() {
            session.close().await;
        }
        // Status ends by itself once the build is done; don't wait on a dead daemon.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.status_task).await;
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        // Dropping the Control.Solve call cancels the build on the daemon. The status
        // stream is left to end by itself so the cancellation is still reported.
        self.solve.abort();
    }
}

async fn session_failed(session: &mut Option<Session>) -> SessionError {
    match session {
        Some(s) => s.failed().await,
        None => std::future::pending().await,
    }
}

/// `ref` + `containerimage.config` for one platform; `refs` keyed by platform id plus
/// `refs.platforms` and `containerimage.config/<id>` for several.
fn return_request(results: &[PlatformResult], refs: Vec<String>) -> ReturnRequest {
    let mut metadata = HashMap::new();
    let result = if results.len() == 1 {
        metadata.insert("containerimage.config".to_string(), results[0].image_config.clone());
        result::Result::Ref(Ref { id: refs[0].clone(), def: None })
    } else {
        let mut map = HashMap::new();
        let mut platforms = Vec::new();
        for (r, id) in results.iter().zip(refs) {
            let key = super::control::format_platform(&r.platform);
            metadata.insert(format!("containerimage.config/{key}"), r.image_config.clone());
            platforms.push(serde_json::json!({ "ID": key, "Platform": platform_json(&r.platform) }));
            map.insert(key, Ref { id, def: None });
        }
        let json = serde_json::json!({ "Platforms": platforms });
        metadata.insert("refs.platforms".to_string(), json.to_string().into_bytes());
        result::Result::Refs(RefMap { refs: map })
    };
    ReturnRequest { result: Some(GatewayResult { result: Some(result), metadata, ..Default::default() }), error: None }
}

fn platform_json(p: &pb::Platform) -> serde_json::Value {
    let mut v = serde_json::json!({ "architecture": p.architecture, "os": p.os });
    if !p.variant.is_empty() {
        v["variant"] = p.variant.clone().into();
    }
    if !p.os_version.is_empty() {
        v["os.version"] = p.os_version.clone().into();
    }
    v
}

async fn stream_status(channel: Channel, build_ref: String, tx: mpsc::Sender<StatusResponse>) {
    let mut control = ControlClient::new(channel).max_decoding_message_size(64 << 20);
    let Ok(response) = control.status(StatusRequest { r#ref: build_ref }).await else { return };
    let mut stream = response.into_inner();
    while let Ok(Some(update)) = stream.message().await {
        if tx.send(update).await.is_err() {
            return;
        }
    }
}

/// `linux/amd64[/v8]` -> platform.
pub fn parse_platform(s: &str) -> Option<pb::Platform> {
    let mut parts = s.split('/');
    let os = parts.next().filter(|p| !p.is_empty())?;
    let architecture = parts.next().filter(|p| !p.is_empty())?;
    let variant = parts.next().unwrap_or("");
    if parts.next().is_some() {
        return None;
    }
    Some(pb::Platform { os: os.into(), architecture: architecture.into(), variant: variant.into(), ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plat(s: &str) -> PlatformResult {
        PlatformResult { platform: parse_platform(s).unwrap(), definition: Default::default(), image_config: s.as_bytes().to_vec() }
    }

    #[test]
    fn single_platform_return() {
        let r = return_request(&[plat("linux/amd64")], vec!["r1".into()]);
        let res = r.result.unwrap();
        assert!(matches!(res.result, Some(result::Result::Ref(Ref { ref id, .. })) if id == "r1"));
        assert_eq!(res.metadata["containerimage.config"], b"linux/amd64");
    }

    #[test]
    fn multi_platform_return() {
        let r = return_request(&[plat("linux/amd64"), plat("linux/arm64/v8")], vec!["a".into(), "b".into()]);
        let res = r.result.unwrap();
        let Some(result::Result::Refs(map)) = res.result else { panic!() };
        assert_eq!(map.refs["linux/arm64/v8"].id, "b");
        assert_eq!(res.metadata["containerimage.config/linux/amd64"], b"linux/amd64");
        let platforms: serde_json::Value = serde_json::from_slice(&res.metadata["refs.platforms"]).unwrap();
        assert_eq!(platforms["Platforms"][1]["Platform"]["variant"], "v8");
        assert_eq!(platforms["Platforms"][0]["ID"], "linux/amd64");
    }

    #[test]
    fn daemon_errors_get_hints() {
        let e = BuildError::from_status("build failed", tonic::Status::unknown("secret aws not found"));
        assert!(e.to_string().contains("--secret id="));
        let e = BuildError::from_status("x", tonic::Status::unavailable("error reading from server: broken pipe"));
        assert!(matches!(e, BuildError::DaemonGone(_)));
    }
}
