//! `--output` (buildctl syntax), `-t/--tag` and `--push`, parsed into typed specs and
//! turned into `SolveRequest.exporters` plus the session's file sinks.
//!
//! In: option strings like `type=image,name=reg/app:1,push=true` or `type=oci,dest=out.tar`.
//! Out: [`ExportSpec`]s; [`exporters`] gives the wire form and, by exporter index, where
//! the bytes the daemon sends back must go. Nothing is written here.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard_buildkit_proto::moby::buildkit::v1::Exporter;

use crate::session::ExportSink;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportSpecError {
    #[error("--output {spec:?}: {reason}\nhint: e.g. --output type=image,name=registry/app:tag,push=true or --output type=oci,dest=image.tar")]
    Invalid { spec: String, reason: String },
    #[error("--push needs an image name: add -t/--tag NAME or --output type=image,name=NAME")]
    PushWithoutName,
}

/// Where a tarball goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    File(PathBuf),
    Stdout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarballKind {
    Oci,
    Docker,
    /// The root filesystem as a plain tar.
    Tar,
}

impl TarballKind {
    fn exporter_type(&self) -> &'static str {
        match self {
            TarballKind::Oci => "oci",
            TarballKind::Docker => "docker",
            TarballKind::Tar => "tar",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSpec {
    /// An image in the daemon's store, pushed when `push`. `attrs` holds the other
    /// exporter options (`registry.insecure`, `oci-mediatypes`, `compression`, ...).
    Image { names: Vec<String>, push: bool, attrs: BTreeMap<String, String> },
    Tarball { kind: TarballKind, dest: Destination, attrs: BTreeMap<String, String> },
    /// The result's files, written into a directory.
    Local { dest: PathBuf, attrs: BTreeMap<String, String> },
}

impl ExportSpec {
    pub fn parse(spec: &str) -> Result<Self, ExportSpecError> {
        let bad = |reason: String| ExportSpecError::Invalid { spec: spec.into(), reason };
        let mut attrs = BTreeMap::new();
        for field in crate::session::csv_fields(spec).map_err(bad)? {
            let (k, v) = field.split_once('=').ok_or_else(|| bad(format!("field {field:?} is not key=value")))?;
            attrs.insert(k.trim().to_ascii_lowercase(), v.to_string());
        }
        let kind = attrs.remove("type").ok_or_else(|| bad("missing type= (image, registry, oci, docker, tar, local)".into()))?;
        let dest = attrs.remove("dest");
        let need_dest = |dest: Option<String>| dest.filter(|d| !d.is_empty()).ok_or_else(|| bad(format!("type={kind} needs dest=")));
        let tarball = |k: TarballKind, dest: Option<String>, attrs| -> Result<ExportSpec, ExportSpecError> {
            let dest = need_dest(dest)?;
            let dest = if dest == "-" { Destination::Stdout } else { Destination::File(PathBuf::from(dest)) };
            Ok(ExportSpec::Tarball { kind: k, dest, attrs })
        };
        match kind.as_str() {
            "image" | "registry" => {
                if dest.is_some() {
                    return Err(bad("type=image takes no dest=".into()));
                }
                let names = attrs.remove("name").map(|n| split_names(&n)).unwrap_or_default();
                let push = match attrs.remove("push").as_deref() {
                    None => kind == "registry",
                    Some(v) => parse_bool(v).ok_or_else(|| bad(format!("push={v} is not true or false")))?,
                };
                if push && names.is_empty() {
                    return Err(bad("pushing needs name=".into()));
                }
                Ok(ExportSpec::Image { names, push, attrs })
            }
            "oci" => tarball(TarballKind::Oci, dest, attrs),
            "docker" => tarball(TarballKind::Docker, dest, attrs),
            "tar" => tarball(TarballKind::Tar, dest, attrs),
            "local" => Ok(ExportSpec::Local { dest: PathBuf::from(need_dest(dest)?), attrs }),
            other => Err(bad(format!("unknown type {other:?} (image, registry, oci, docker, tar, local)"))),
        }
    }

    fn exporter(&self) -> (Exporter, Option<ExportSink>) {
        let mut attrs: HashMap<String, String> = HashMap::new();
        let (kind, sink) = match self {
            ExportSpec::Image { names, push, attrs: extra } => {
                attrs.extend(extra.clone());
                if !names.is_empty() {
                    attrs.insert("name".into(), names.join(","));
                }
                if *push {
                    attrs.insert("push".into(), "true".into());
                }
                ("image", None)
            }
            ExportSpec::Tarball { kind, dest, attrs: extra } => {
                attrs.extend(extra.clone());
                let sink = match dest {
                    Destination::File(p) => ExportSink::File(p.clone()),
                    Destination::Stdout => ExportSink::Stdout,
                };
                (kind.exporter_type(), Some(sink))
            }
            ExportSpec::Local { dest, attrs: extra } => {
                attrs.extend(extra.clone());
                ("local", Some(ExportSink::Directory(dest.clone())))
            }
        };
        (Exporter { r#type: kind.into(), attrs }, sink)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" => Some(true),
        "false" | "0" | "f" => Some(false),
        _ => None,
    }
}

fn split_names(names: &str) -> Vec<String> {
    names.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect()
}

/// Folds `-t/--tag` and `--push` into the output list: tags name the image output (one is
/// added when there is none); `--push` pushes every image output.
pub fn apply_tags_and_push(specs: &mut Vec<ExportSpec>, tags: &[String], push: bool) -> Result<(), ExportSpecError> {
    if !tags.is_empty() && !specs.iter().any(|s| matches!(s, ExportSpec::Image { .. })) {
        specs.push(ExportSpec::Image { names: Vec::new(), push: false, attrs: BTreeMap::new() });
    }
    for spec in specs.iter_mut() {
        if let ExportSpec::Image { names, push: p, .. } = spec {
            names.extend(tags.iter().cloned());
            if push {
                *p = true;
            }
            if *p && names.is_empty() {
                return Err(ExportSpecError::PushWithoutName);
            }
        }
    }
    if push && !specs.iter().any(|s| matches!(s, ExportSpec::Image { .. })) {
        return Err(ExportSpecError::PushWithoutName);
    }
    Ok(())
}

/// The exporters for `SolveRequest.exporters` and the sink of each exporter index.
pub(crate) fn exporters(specs: &[ExportSpec]) -> (Vec<Exporter>, HashMap<usize, ExportSink>) {
    let mut list = Vec::new();
    let mut sinks = HashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        let (exporter, sink) = spec.exporter();
        list.push(exporter);
        if let Some(sink) = sink {
            sinks.insert(i, sink);
        }
    }
    (list, sinks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_outputs() {
        let spec = ExportSpec::parse("type=image,\"name=a:1,b:2\",push=true,registry.insecure=true,compression=zstd").unwrap();
        let ExportSpec::Image { names, push, attrs } = &spec else { panic!("{spec:?}") };
        assert_eq!(names, &["a:1", "b:2"]);
        assert!(*push);
        assert_eq!(attrs.get("registry.insecure").map(String::as_str), Some("true"));
        let (exp, sink) = spec.exporter();
        assert_eq!(exp.r#type, "image");
        assert_eq!(exp.attrs["name"], "a:1,b:2");
        assert_eq!(sink, None);

        assert_eq!(
            ExportSpec::parse("type=oci,dest=-").unwrap(),
            ExportSpec::Tarball { kind: TarballKind::Oci, dest: Destination::Stdout, attrs: BTreeMap::new() }
        );
        let (exp, sink) = ExportSpec::parse("type=local,dest=out").unwrap().exporter();
        assert_eq!((exp.r#type.as_str(), sink), ("local", Some(ExportSink::Directory("out".into()))));
        assert!(matches!(ExportSpec::parse("type=registry,name=x").unwrap(), ExportSpec::Image { push: true, .. }));
    }

    #[test]
    fn rejects_bad_outputs() {
        for bad in ["dest=x", "type=oci", "type=zip,dest=x", "type=image,push=maybe,name=x", "type=image,push=true", "type=local"] {
            assert!(ExportSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_and_push() {
        let mut specs = vec![ExportSpec::parse("type=oci,dest=a.tar").unwrap()];
        apply_tags_and_push(&mut specs, &["app:1".into()], true).unwrap();
        assert!(matches!(&specs[1], ExportSpec::Image { names, push: true, .. } if names == &["app:1"]));
        let mut none = Vec::new();
        assert_eq!(apply_tags_and_push(&mut none, &[], true), Err(ExportSpecError::PushWithoutName));
        let (list, sinks) = exporters(&specs);
        assert_eq!(list.len(), 2);
        assert_eq!(sinks.get(&0), Some(&ExportSink::File("a.tar".into())));
    }
}
