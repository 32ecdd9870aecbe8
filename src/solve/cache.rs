//! `--cache-from` / `--cache-to` (buildctl syntax) parsed into typed specs and turned into
//! `SolveRequest.cache`.
//!
//! In: `type=registry,ref=REG/APP:cache[,mode=max]`, `type=inline`, `type=local,src=DIR`
//! / `type=local,dest=DIR[,tag=T]`. Out: `CacheOptionsEntry`s, and for the local type the
//! directories the session must serve as content stores (`local:DIR`); an import's digest
//! is read from `DIR/index.json` (tag `latest` by default), and an export's manifest is
//! tagged there after the build ([`update_local_indexes`]).

use std::collections::{BTreeMap, HashMap};

use bollard_buildkit_proto::moby::buildkit::v1::{CacheOptions, CacheOptionsEntry};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CacheSpecError {
    #[error("{flag} {spec:?}: {reason}\nhint: e.g. {flag} type=registry,ref=registry/app:buildcache{mode}")]
    Invalid { flag: &'static str, spec: String, reason: String, mode: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheSpec {
    /// A cache image in a registry; `attrs` holds the rest (`mode`, `oci-mediatypes`,
    /// `registry.insecure`, `compression`, ...).
    Registry { reference: String, attrs: BTreeMap<String, String> },
    /// Cache metadata inside the exported image (export), or read from an image (import
    /// through `type=registry`).
    Inline,
    /// An OCI layout directory on this machine (`src=` for imports, `dest=` for exports).
    Local { dir: std::path::PathBuf, tag: String, attrs: BTreeMap<String, String> },
}

impl CacheSpec {
    /// Parses a `--cache-from` value.
    pub fn parse_import(spec: &str) -> Result<Self, CacheSpecError> {
        Self::parse(spec, "--cache-from")
    }

    /// Parses a `--cache-to` value.
    pub fn parse_export(spec: &str) -> Result<Self, CacheSpecError> {
        Self::parse(spec, "--cache-to")
    }

    fn parse(spec: &str, flag: &'static str) -> Result<Self, CacheSpecError> {
        let mode = if flag == "--cache-to" { ",mode=max" } else { "" };
        let bad = |reason: String| CacheSpecError::Invalid { flag, spec: spec.into(), reason, mode };
        let mut attrs = BTreeMap::new();
        for field in crate::session::csv_fields(spec).map_err(bad)? {
            match field.split_once('=') {
                Some((k, v)) => attrs.insert(k.trim().to_ascii_lowercase(), v.to_string()),
                // `--cache-from REF` is a registry reference, as in buildx.
                None if flag == "--cache-from" && !field.is_empty() => attrs.insert("ref".into(), field.clone()),
                None => return Err(bad(format!("field {field:?} is not key=value"))),
            };
        }
        let kind = attrs.remove("type").unwrap_or_else(|| "registry".into());
        match kind.as_str() {
            "registry" => {
                let reference = attrs.remove("ref").filter(|r| !r.is_empty()).ok_or_else(|| bad("missing ref=".into()))?;
                if let Some(m) = attrs.get("mode") {
                    if m != "min" && m != "max" {
                        return Err(bad(format!("mode={m} (use min or max)")));
                    }
                }
                Ok(CacheSpec::Registry { reference, attrs })
            }
            "inline" => Ok(CacheSpec::Inline),
            "local" => {
                let key = if flag == "--cache-to" { "dest" } else { "src" };
                let dir = attrs.remove(key).filter(|d| !d.is_empty()).ok_or_else(|| bad(format!("type=local needs {key}=DIR")))?;
                let tag = attrs.remove("tag").unwrap_or_else(|| "latest".into());
                Ok(CacheSpec::Local { dir: std::path::PathBuf::from(dir), tag, attrs })
            }
            other => Err(bad(format!("unknown type {other:?} (registry, inline)"))),
        }
    }

    fn entry(&self) -> CacheOptionsEntry {
        match self {
            CacheSpec::Registry { reference, attrs } => {
                let mut a: HashMap<String, String> = attrs.clone().into_iter().collect();
                a.insert("ref".into(), reference.clone());
                CacheOptionsEntry { r#type: "registry".into(), attrs: a }
            }
            CacheSpec::Inline => CacheOptionsEntry { r#type: "inline".into(), attrs: HashMap::new() },
            CacheSpec::Local { dir, attrs, .. } => {
                let mut a: HashMap<String, String> = attrs.clone().into_iter().collect();
                // The exporter reads `dest`, the importer `src` (+ `digest`): both name the store.
                a.insert("dest".into(), dir.display().to_string());
                a.insert("src".into(), dir.display().to_string());
                CacheOptionsEntry { r#type: "local".into(), attrs: a }
            }
        }
    }

    fn store(&self) -> Option<(String, std::path::PathBuf)> {
        match self {
            CacheSpec::Local { dir, .. } => Some((format!("local:{}", dir.display()), dir.clone())),
            _ => None,
        }
    }
}

/// Prepared cache options: the wire entries and the content stores the session serves.
pub(crate) struct PreparedCache {
    pub imports: Vec<CacheOptionsEntry>,
    pub exports: Vec<CacheOptionsEntry>,
    pub stores: HashMap<String, std::path::PathBuf>,
}

/// Resolves local imports through `index.json` (a missing directory or tag skips that
/// import, as buildctl does: the first build has no cache yet) and creates local export
/// directories.
pub(crate) fn prepare(imports: &[CacheSpec], exports: &[CacheSpec]) -> std::io::Result<PreparedCache> {
    let mut prepared = PreparedCache { imports: Vec::new(), exports: Vec::new(), stores: HashMap::new() };
    for spec in imports.iter().filter(|s| !matches!(s, CacheSpec::Inline)) {
        let mut entry = spec.entry();
        if let CacheSpec::Local { dir, tag, attrs } = spec {
            if !attrs.contains_key("digest") {
                match crate::session::index_tag_digest(dir, tag) {
                    Ok(Some(digest)) => {
                        entry.attrs.insert("digest".into(), digest);
                    }
                    _ => continue,
                }
            }
            entry.attrs.remove("dest");
        }
        prepared.stores.extend(spec.store());
        prepared.imports.push(entry);
    }
    for spec in exports {
        let mut entry = spec.entry();
        if let CacheSpec::Local { dir, .. } = spec {
            std::fs::create_dir_all(dir)?;
            entry.attrs.remove("src");
        }
        prepared.stores.extend(spec.store());
        prepared.exports.push(entry);
    }
    Ok(prepared)
}

/// After a successful build: tags the exported cache manifest in each local export's
/// `index.json` (the daemon reports it as `cache.manifest`).
pub(crate) fn update_local_indexes(exports: &[CacheSpec], response: &BTreeMap<String, String>) -> std::io::Result<()> {
    let Some(manifest) = response.get("cache.manifest") else { return Ok(()) };
    for spec in exports {
        if let CacheSpec::Local { dir, tag, .. } = spec {
            crate::session::put_index_tag(dir, tag, manifest)?;
        }
    }
    Ok(())
}

pub(crate) fn cache_options(prepared: &PreparedCache) -> Option<CacheOptions> {
    if prepared.imports.is_empty() && prepared.exports.is_empty() {
        return None;
    }
    Some(CacheOptions { imports: prepared.imports.clone(), exports: prepared.exports.clone(), ..Default::default() })
}

/// The same imports in the gateway's message type (each gateway solve carries them).
pub(crate) fn gateway_imports(prepared: &PreparedCache) -> Vec<bollard_buildkit_proto::moby::buildkit::v1::frontend::CacheOptionsEntry> {
    prepared
        .imports
        .iter()
        .map(|e| bollard_buildkit_proto::moby::buildkit::v1::frontend::CacheOptionsEntry { r#type: e.r#type.clone(), attrs: e.attrs.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cache_specs() {
        let s = CacheSpec::parse_export("type=registry,ref=localhost:5000/c:1,mode=max").unwrap();
        let e = s.entry();
        assert_eq!((e.r#type.as_str(), e.attrs["ref"].as_str(), e.attrs["mode"].as_str()), ("registry", "localhost:5000/c:1", "max"));
        assert_eq!(CacheSpec::parse_import("localhost:5000/c:1").unwrap().entry().attrs["ref"], "localhost:5000/c:1");
        assert_eq!(CacheSpec::parse_export("type=inline").unwrap(), CacheSpec::Inline);
        assert!(matches!(CacheSpec::parse_export("type=local,dest=/tmp/c").unwrap(), CacheSpec::Local { tag, .. } if tag == "latest"));
        for bad in ["type=registry", "type=s3,ref=x", "type=registry,ref=x,mode=huge", "type=local,src=/tmp/c"] {
            assert!(CacheSpec::parse_export(bad).is_err(), "{bad}");
        }
    }
}
