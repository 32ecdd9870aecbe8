//! The bento module's error type: every message names the file and what to change.

use std::path::PathBuf;

/// Everything that can go wrong while finding, reading or validating a Bento.
///
/// Every variant names the file (or store path) involved and, for option errors, the
/// field, the offending value and what is allowed, so the user knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum BentoError {
    #[error("{path}: not a Bento directory (bento.yaml is missing); build one with `bentoml build` or point at the directory that holds bento.yaml")]
    MissingBentoYaml { path: PathBuf },

    #[error("Bento '{reference}' is not in the BentoML store at {store} (looked for {looked_at}); list the store with `bentoml list` or set BENTOML_HOME")]
    NotInStore { reference: String, store: PathBuf, looked_at: PathBuf },

    #[error("invalid Bento reference '{reference}': {reason}")]
    BadReference { reference: String, reason: String },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}{}: invalid bento.yaml: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Yaml { path: PathBuf, line: Option<usize>, message: String },

    #[error("{path}: invalid docker option {field}={value}: {reason}")]
    InvalidOption { path: PathBuf, field: &'static str, value: String, reason: String },
}

pub type Result<T, E = BentoError> = std::result::Result<T, E>;
