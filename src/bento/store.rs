//! Where a Bento is: a directory path, or `name`, `name:latest`, `name:version` in the
//! BentoML store (`$BENTOML_HOME/bentos/NAME/VERSION`, with `bentos/NAME/latest` a file
//! naming the latest version).

use std::path::{Path, PathBuf};

use super::error::{BentoError, Result};

/// How the user named a Bento.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BentoRef {
    /// A Bento directory.
    Path(PathBuf),
    /// A Bento in the store; `version: None` means the latest.
    Tag { name: String, version: Option<String> },
}

impl BentoRef {
    /// A path when the text names an existing directory or contains a `/`; a store tag
    /// otherwise.
    pub fn parse(text: &str) -> Result<BentoRef, BentoError> {
        if text.contains('/') || text.starts_with('.') || Path::new(text).is_dir() {
            return Ok(BentoRef::Path(PathBuf::from(text)));
        }
        let (name, version) = match text.split_once(':') {
            Some((n, "latest")) => (n, None),
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid(name) || version.is_some_and(|v| !valid(v)) {
            return Err(BentoError::BadReference {
                reference: text.to_string(),
                reason: "expected a Bento directory or NAME[:VERSION] (letters, digits, _ . -)".into(),
            });
        }
        Ok(BentoRef::Tag { name: name.to_lowercase(), version: version.map(str::to_lowercase) })
    }
}

/// `$BENTOML_HOME`, else `~/bentoml`.
pub fn default_store_home() -> PathBuf {
    if let Some(home) = std::env::var_os("BENTOML_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
    home.join("bentoml")
}

pub(super) fn resolve(reference: &BentoRef, store_home: &Path) -> Result<PathBuf> {
    match reference {
        BentoRef::Path(p) => Ok(p.clone()),
        BentoRef::Tag { name, version } => {
            let bento_dir = store_home.join("bentos").join(name);
            let text = match version {
                Some(v) => format!("{name}:{v}"),
                None => format!("{name}:latest"),
            };
            let version = match version {
                Some(v) => v.clone(),
                None => {
                    let latest = bento_dir.join("latest");
                    match std::fs::read_to_string(&latest) {
                        Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
                        _ => {
                            return Err(BentoError::NotInStore {
                                reference: text,
                                store: store_home.to_path_buf(),
                                looked_at: latest,
                            })
                        }
                    }
                }
            };
            let dir = bento_dir.join(&version);
            if !dir.join("bento.yaml").is_file() {
                return Err(BentoError::NotInStore {
                    reference: text,
                    store: store_home.to_path_buf(),
                    looked_at: dir,
                });
            }
            Ok(dir)
        }
    }
}
