//! `moby.buildkit.secrets.v1.Secrets/GetSecret`, and the `--secret` option.
//!
//! In: `--secret` specs in buildctl's syntax (`id=aws,src=PATH`, `id=X,env=VAR`,
//! `type=file|env`). Out: the secret's bytes to the daemon when an exec mounting it runs;
//! `NotFound` for an id we were not given. A value is read at request time and never
//! appears in a log line, an error or a `Debug` print (specs hold only where it comes
//! from).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use tonic::{Request, Response, Status};

pub(crate) const METHODS: &[&str] = &["GetSecret"];

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub id: String,
    pub source: SecretSource,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretSpecError {
    #[error("--secret {spec:?}: {reason}\nhint: use --secret id=NAME,src=PATH or --secret id=NAME,env=VARIABLE")]
    Invalid { spec: String, reason: String },
}

impl SecretSpec {
    /// Parses buildctl's `--secret` value: comma-separated `key=value` fields `id`,
    /// `type` (`file` or `env`), `src`/`source`, `env`. Without a source, `type=env` reads
    /// the variable named like the id, and a file secret is an error.
    pub fn parse(spec: &str) -> Result<Self, SecretSpecError> {
        let bad = |reason: &str| SecretSpecError::Invalid { spec: spec.into(), reason: reason.into() };
        let (mut id, mut kind, mut src, mut env) = (None, None, None, None);
        for field in super::csv_fields(spec).map_err(|e| bad(&e))? {
            let (key, value) = field.split_once('=').ok_or_else(|| bad(&format!("field {field:?} is not key=value")))?;
            match key.trim().to_ascii_lowercase().as_str() {
                "id" => id = Some(value.to_string()),
                "type" => kind = Some(value.to_string()),
                "src" | "source" => src = Some(value.to_string()),
                "env" => env = Some(value.to_string()),
                other => return Err(bad(&format!("unknown field {other:?}"))),
            }
        }
        let both = || bad("give either src= or env=, not both");
        let source = match kind.as_deref() {
            Some("env") => match (env, src) {
                (Some(var), None) | (None, Some(var)) => SecretSource::Env(var),
                (None, None) => SecretSource::Env(id.clone().ok_or_else(|| bad("missing id="))?),
                _ => return Err(both()),
            },
            Some("file") => match (src, env) {
                (Some(path), None) => SecretSource::File(expand_home(&path)),
                (None, None) => return Err(bad("a file secret needs src=PATH")),
                _ => return Err(both()),
            },
            None => match (src, env) {
                (Some(path), None) => SecretSource::File(expand_home(&path)),
                (None, Some(var)) => SecretSource::Env(var),
                (None, None) => return Err(bad("missing src=PATH or env=VARIABLE")),
                _ => return Err(both()),
            },
            Some(other) => return Err(bad(&format!("unknown type {other:?} (use file or env)"))),
        };
        let id = match id {
            Some(id) if !id.is_empty() => id,
            _ => match &source {
                SecretSource::File(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| bad("missing id="))?,
                SecretSource::Env(v) => v.clone(),
            },
        };
        Ok(SecretSpec { id, source })
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

pub(crate) struct SecretsService {
    specs: Arc<HashMap<String, SecretSource>>,
}

pub(crate) fn server(specs: &[SecretSpec]) -> SecretsServer<SecretsService> {
    let specs = specs.iter().map(|s| (s.id.clone(), s.source.clone())).collect();
    SecretsServer::new(SecretsService { specs: Arc::new(specs) })
}

#[tonic::async_trait]
impl Secrets for SecretsService {
    async fn get_secret(&self, request: Request<GetSecretRequest>) -> Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        let Some(source) = self.specs.get(id) else {
            return Err(Status::not_found(format!("secret {id} not found: pass --secret id={id},src=PATH or --secret id={id},env=VARIABLE")));
        };
        let data = match source {
            SecretSource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| Status::not_found(format!("secret {id}: cannot read {}: {}", path.display(), e.kind())))?,
            SecretSource::Env(var) => std::env::var_os(var)
                .map(std::os::unix::ffi::OsStringExt::into_vec)
                .ok_or_else(|| Status::not_found(format!("secret {id}: environment variable {var} is not set")))?,
        };
        Ok(Response::new(GetSecretResponse { data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buildctl_forms() {
        let p = |s| SecretSpec::parse(s).unwrap();
        assert_eq!(p("id=aws,src=/a/b"), SecretSpec { id: "aws".into(), source: SecretSource::File("/a/b".into()) });
        assert_eq!(p("id=aws,source=/a/b,type=file").source, SecretSource::File("/a/b".into()));
        assert_eq!(p("id=tok,env=TOKEN").source, SecretSource::Env("TOKEN".into()));
        assert_eq!(p("type=env,id=TOKEN").source, SecretSource::Env("TOKEN".into()));
        assert_eq!(p("type=env,id=x,src=VAR").source, SecretSource::Env("VAR".into()));
        assert_eq!(p("src=/run/creds").id, "creds");
        assert_eq!(p("\"id=a,b\",src=/x").id, "a,b");
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in ["id=x", "id=x,src=/a,env=B", "id=x,type=ssh,src=/a", "id=x,color=red", "justtext", "id=x,type=file"] {
            assert!(SecretSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn unknown_ids_are_not_found_and_values_stay_out_of_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("creds");
        std::fs::write(&file, "TOPSECRET").unwrap();
        let svc = SecretsService { specs: Arc::new(HashMap::from([("aws".into(), SecretSource::File(file))])) };
        let ok = svc.get_secret(Request::new(GetSecretRequest { id: "aws".into(), ..Default::default() })).await.unwrap();
        assert_eq!(ok.get_ref().data, b"TOPSECRET");
        let err = svc.get_secret(Request::new(GetSecretRequest { id: "nope".into(), ..Default::default() })).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        assert!(!format!("{err:?}{:?}", svc.specs).contains("TOPSECRET"));
    }
}
