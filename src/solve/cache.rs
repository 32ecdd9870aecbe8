//! `--cache-from` / `--cache-to` (buildctl syntax) parsed into typed specs and turned into
//! `SolveRequest.cache`.
//!
//! In: `type=registry,ref=REG/APP:cache[,mode=max]`, `type=inline`, `type=local,src=DIR`
//! / `type=local,dest=DIR`. Out: `CacheOptionsEntry`s. The local type needs a content
//! store served over the session, which bentokit does not serve yet: it is rejected with
//! a clear error instead of failing inside the daemon.

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
            "local" => Err(bad("type=local is not supported yet (it needs a session content store); use type=registry".into())),
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
        }
    }
}

pub(crate) fn cache_options(imports: &[CacheSpec], exports: &[CacheSpec]) -> Option<CacheOptions> {
    if imports.is_empty() && exports.is_empty() {
        return None;
    }
    Some(CacheOptions {
        imports: imports.iter().filter(|s| !matches!(s, CacheSpec::Inline)).map(CacheSpec::entry).collect(),
        exports: exports.iter().map(CacheSpec::entry).collect(),
        ..Default::default()
    })
}

/// The same imports in the gateway's message type (each gateway solve carries them).
pub(crate) fn gateway_imports(imports: &[CacheSpec]) -> Vec<bollard_buildkit_proto::moby::buildkit::v1::frontend::CacheOptionsEntry> {
    imports
        .iter()
        .filter(|s| !matches!(s, CacheSpec::Inline))
        .map(|s| {
            let e = s.entry();
            bollard_buildkit_proto::moby::buildkit::v1::frontend::CacheOptionsEntry { r#type: e.r#type, attrs: e.attrs }
        })
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
        for bad in ["type=registry", "type=s3,ref=x", "type=registry,ref=x,mode=huge", "type=local,dest=/tmp/c"] {
            assert!(CacheSpec::parse_export(bad).is_err(), "{bad}");
        }
    }
}
