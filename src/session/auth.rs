//! `moby.filesync.v1.Auth`: registry credentials for pulls and pushes.
//!
//! In: a registry host from the daemon (`localhost:5000`, `registry-1.docker.io`). Out:
//! username and secret from the docker config (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): `auths` entries (base64 `auth` or username/password,
//! identity tokens) and credential helpers (`credsStore`, `credHelpers`, run as
//! `docker-credential-NAME get`), all through the `docker_credential` crate. No
//! credentials means an empty answer (anonymous access). The token-authority calls answer
//! Unimplemented, which makes the daemon fetch registry tokens itself. Credentials are
//! never logged or put in an error.

use std::path::PathBuf;

use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse, GetTokenAuthorityRequest,
    GetTokenAuthorityResponse, VerifyTokenAuthorityRequest, VerifyTokenAuthorityResponse,
};
use docker_credential::DockerCredential;
use tonic::{Request, Response, Status};

pub(crate) const METHODS: &[&str] = &["Credentials", "FetchToken", "GetTokenAuthority", "VerifyTokenAuthority"];

/// Where registry credentials are read from.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The docker `config.json`.
    pub config_file: PathBuf,
}

impl AuthConfig {
    /// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn from_env() -> Self {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".docker"));
        AuthConfig { config_file: dir.join("config.json") }
    }

    /// (username, secret) for a registry host; `None` for anonymous access.
    pub(crate) fn credentials(&self, host: &str) -> Option<(String, String)> {
        let server = match host {
            "registry-1.docker.io" | "docker.io" | "index.docker.io" => "https://index.docker.io/v1/",
            other => other,
        };
        let file = std::fs::File::open(&self.config_file).ok()?;
        match docker_credential::get_credential_from_reader(file, server).ok()? {
            DockerCredential::UsernamePassword(user, password) => Some((user, password)),
            DockerCredential::IdentityToken(token) => Some((String::new(), token)),
        }
    }
}

pub(crate) struct AuthService {
    config: AuthConfig,
}

pub(crate) fn server(config: AuthConfig) -> AuthServer<AuthService> {
    AuthServer::new(AuthService { config })
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn credentials(&self, request: Request<CredentialsRequest>) -> Result<Response<CredentialsResponse>, Status> {
        let config = self.config.clone();
        let host = request.into_inner().host;
        // Credential helpers are external programs: keep them off the async workers.
        let found = tokio::task::spawn_blocking(move || config.credentials(&host)).await.ok().flatten();
        let (username, secret) = found.unwrap_or_default();
        Ok(Response::new(CredentialsResponse { username, secret }))
    }
    async fn fetch_token(&self, _: Request<FetchTokenRequest>) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("bentokit does not act as a token authority"))
    }
    async fn get_token_authority(
        &self,
        _: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("bentokit does not act as a token authority"))
    }
    async fn verify_token_authority(
        &self,
        _: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("bentokit does not act as a token authority"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auths_entries() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        // "alice:pw" in base64
        std::fs::write(&file, r#"{"auths":{"localhost:5001":{"auth":"YWxpY2U6cHc="},"reg.example":{"username":"bob","password":"x"}}}"#).unwrap();
        let cfg = AuthConfig { config_file: file };
        assert_eq!(cfg.credentials("localhost:5001"), Some(("alice".into(), "pw".into())));
        assert_eq!(cfg.credentials("reg.example"), Some(("bob".into(), "x".into())));
        assert_eq!(cfg.credentials("other:1"), None);
    }
}
