//! Source ops: where filesystems come from — registry images, the client's local directories
//! (served over the session), git repositories and HTTP files. Each builder ends in `finish()`
//! and yields a `State`. Attribute keys and caps are BuildKit's (`solver/pb/attr.go`, `caps.go`);
//! no network access happens here (pinning a digest is the caller's `ResolveImageConfig` result).

use std::collections::BTreeMap;

use bollard_buildkit_proto::pb;

use super::error::LlbError;
use super::state::{Constraints, InputList, Node, Output, Platform, State};

/// `image.resolvemode`: how the daemon looks the image up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveMode {
    Default,
    ForcePull,
    PreferLocal,
}

/// A `docker-image://` source.
#[derive(Clone, Debug)]
pub struct Image {
    reference: String,
    pinned: Option<String>,
    record_type: Option<String>,
    resolve_mode: Option<ResolveMode>,
    layer_limit: Option<u32>,
    constraints: Constraints,
}

impl Image {
    /// `reference` as written after `FROM` (`python:3.11-slim`, `localhost:5000/base`, `x@sha256:…`).
    pub fn new(reference: impl Into<String>) -> Self {
        Image {
            reference: reference.into(),
            pinned: None,
            record_type: None,
            resolve_mode: None,
            layer_limit: None,
            constraints: Constraints::default(),
        }
    }

    /// Pins the manifest digest (from `ResolveImageConfig`): `name:tag@sha256:…`.
    pub fn pin(mut self, digest: impl Into<String>) -> Self {
        self.pinned = Some(digest.into());
        self
    }

    /// `image.recordtype`, e.g. `internal` for helper images hidden from history.
    pub fn record_type(mut self, record_type: impl Into<String>) -> Self {
        self.record_type = Some(record_type.into());
        self
    }

    pub fn resolve_mode(mut self, mode: ResolveMode) -> Self {
        self.resolve_mode = Some(mode);
        self
    }

    pub fn layer_limit(mut self, limit: u32) -> Self {
        self.layer_limit = Some(limit);
        self
    }

    /// Per-op constraints; caps the builder already needs are kept.
    pub fn constraints(mut self, c: Constraints) -> Self {
        let caps = std::mem::take(&mut self.constraints.metadata.caps);
        self.constraints = c;
        caps.into_iter().for_each(|cap| self.constraints.metadata.add_cap(cap));
        self
    }

    pub fn finish(self) -> Result<State, LlbError> {
        let mut reference = normalize_image_reference(&self.reference)?;
        if let Some(digest) = &self.pinned {
            if !is_valid_digest(digest) {
                return Err(LlbError::InvalidImageReference {
                    reference: format!("{reference}@{digest}"),
                    reason: "pinned digest must look like sha256:<64 hex digits>",
                });
            }
            if let Some(at) = reference.find('@') {
                reference.truncate(at);
            }
            reference = format!("{reference}@{digest}");
        }
        let mut c = self.constraints;
        c.add_cap("source.image");
        let mut attrs = BTreeMap::new();
        if let Some(mode) = self.resolve_mode {
            let value = match mode {
                ResolveMode::Default => "default",
                ResolveMode::ForcePull => {
                    c.add_cap("source.image.resolvemode");
                    "pull"
                }
                ResolveMode::PreferLocal => "local",
            };
            attrs.insert("image.resolvemode".to_string(), value.to_string());
        }
        if let Some(rt) = self.record_type {
            attrs.insert("image.recordtype".into(), rt);
        }
        if let Some(limit) = self.layer_limit {
            attrs.insert("image.layerlimit".into(), limit.to_string());
            c.add_cap("source.image.layerlimit");
        }
        let platform = c.platform.clone();
        let host = Platform::host;
        let op_platform = platform.as_deref().cloned().unwrap_or_else(host);
        let out = source_output(
            format!("docker-image://{reference}"),
            attrs,
            Some(&op_platform),
            c,
        );
        Ok(State::from_output(out, platform))
    }
}

/// A `local://name` source: a directory the client serves over the session.
#[derive(Clone, Debug)]
pub struct Local {
    name: String,
    attrs: BTreeMap<String, String>,
    constraints: Constraints,
}

impl Local {
    pub fn new(name: impl Into<String>) -> Self {
        Local {
            name: name.into(),
            attrs: BTreeMap::new(),
            constraints: Constraints::default(),
        }
    }

    /// The session that serves the directory (`local.session`).
    pub fn session_id(self, id: impl Into<String>) -> Self {
        self.attr("local.session", id.into(), "source.local.sessionid")
    }

    /// Lets the daemon reuse a previous transfer of the same directory (`local.sharedkeyhint`).
    pub fn shared_key_hint(self, hint: impl Into<String>) -> Self {
        self.attr(
            "local.sharedkeyhint",
            hint.into(),
            "source.local.sharedkeyhint",
        )
    }

    /// Only these paths (and their parents) are sent (`local.followpaths`).
    pub fn follow_paths<S: AsRef<str>>(self, paths: &[S]) -> Self {
        self.patterns("local.followpaths", paths, "source.local.followpaths")
    }

    pub fn include_patterns<S: AsRef<str>>(self, patterns: &[S]) -> Self {
        self.patterns(
            "local.includepattern",
            patterns,
            "source.local.includepatterns",
        )
    }

    /// `.dockerignore` patterns (`local.excludepatterns`).
    pub fn exclude_patterns<S: AsRef<str>>(self, patterns: &[S]) -> Self {
        self.patterns(
            "local.excludepatterns",
            patterns,
            "source.local.excludepatterns",
        )
    }

    /// `local.unique`: keeps two otherwise equal local sources apart in the op graph.
    pub fn unique_id(self, id: impl Into<String>) -> Self {
        self.attr("local.unique", id.into(), "source.local.unique")
    }

    /// Per-op constraints; caps the builder already needs are kept.
    pub fn constraints(mut self, c: Constraints) -> Self {
        let caps = std::mem::take(&mut self.constraints.metadata.caps);
        self.constraints = c;
        caps.into_iter().for_each(|cap| self.constraints.metadata.add_cap(cap));
        self
    }

    fn attr(mut self, key: &str, value: String, cap: &'static str) -> Self {
        self.attrs.insert(key.into(), value);
        self.constraints.add_cap(cap);
        self
    }

    /// BuildKit wants these lists as JSON arrays inside the string attribute; empty means unset.
    fn patterns<S: AsRef<str>>(mut self, key: &str, list: &[S], cap: &'static str) -> Self {
        if list.is_empty() {
            self.attrs.remove(key);
            return self;
        }
        let list: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
        // OK to expect: a list of strings always serializes.
        let json = serde_json::to_string(&list).expect("string list serializes");
        self.attr(key, json, cap)
    }

    pub fn finish(self) -> State {
        let mut c = self.constraints;
        c.add_cap("source.local");
        let platform = c.platform.clone();
        State::from_output(
            source_output(format!("local://{}", self.name), self.attrs, None, c),
            platform,
        )
    }
}

/// A `git://` source (remote fetched by the daemon).
#[derive(Clone, Debug)]
pub struct Git {
    url: String,
    reference: String,
    keep_git_dir: bool,
    constraints: Constraints,
}

impl Git {
    /// `url` as in `ADD https://github.com/o/r.git#ref`, `reference` a branch, tag or commit.
    pub fn new(url: impl Into<String>, reference: impl Into<String>) -> Self {
        Git {
            url: url.into(),
            reference: reference.into(),
            keep_git_dir: false,
            constraints: Constraints::default(),
        }
    }

    pub fn keep_git_dir(mut self) -> Self {
        self.keep_git_dir = true;
        self
    }

    /// Per-op constraints; caps the builder already needs are kept.
    pub fn constraints(mut self, c: Constraints) -> Self {
        let caps = std::mem::take(&mut self.constraints.metadata.caps);
        self.constraints = c;
        caps.into_iter().for_each(|cap| self.constraints.metadata.add_cap(cap));
        self
    }

    pub fn finish(self) -> State {
        let mut c = self.constraints;
        let mut url = self.url;
        let mut attrs = BTreeMap::new();
        let scp_style = !url.contains("://") && url.contains('@') && url.contains(':');
        if !url.contains("://") && !scp_style {
            url = format!("https://{url}");
        }
        // The id is host + path so https and ssh spellings of one repo share a cache key.
        let (host, path) = if scp_style {
            let rest = url.split_once('@').map_or(url.as_str(), |(_, r)| r);
            let (h, p) = rest.split_once(':').unwrap_or((rest, ""));
            (h.to_string(), p.to_string())
        } else {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            let (h, p) = rest.split_once('/').unwrap_or((rest, ""));
            (h.to_string(), p.to_string())
        };
        let mut id = format!("{host}{}", crate::paths::clean_absolute(&path));
        if !self.reference.is_empty() {
            id = format!("{id}#{}", self.reference);
        }
        if self.keep_git_dir {
            attrs.insert("git.keepgitdir".to_string(), "true".to_string());
            c.add_cap("source.git.keepgitdir");
        }
        attrs.insert("git.fullurl".into(), url);
        c.add_cap("source.git.fullurl");
        attrs.insert("git.authtokensecret".into(), "GIT_AUTH_TOKEN".into());
        attrs.insert("git.authheadersecret".into(), "GIT_AUTH_HEADER".into());
        if scp_style {
            attrs.insert("git.mountsshsock".into(), "default".into());
            c.add_cap("source.git.knownsshhosts");
            c.add_cap("source.git.mountsshsock");
        }
        c.add_cap("source.git");
        let platform = c.platform.clone();
        State::from_output(
            source_output(format!("git://{id}"), attrs, None, c),
            platform,
        )
    }
}

/// An `http(s)://` file source (`ADD https://…`).
#[derive(Clone, Debug)]
pub struct Http {
    url: String,
    attrs: BTreeMap<String, String>,
    constraints: Constraints,
}

impl Http {
    pub fn new(url: impl Into<String>) -> Self {
        Http {
            url: url.into(),
            attrs: BTreeMap::new(),
            constraints: Constraints::default(),
        }
    }

    /// Expected `sha256:…` of the download (`ADD --checksum`).
    pub fn checksum(mut self, digest: impl Into<String>) -> Self {
        self.attrs.insert("http.checksum".into(), digest.into());
        self.constraints.add_cap("source.http.checksum");
        self
    }

    /// Name of the file in the resulting filesystem (defaults to the URL's last segment).
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.attrs.insert("http.filename".into(), name.into());
        self
    }

    /// Permission bits of the downloaded file.
    pub fn perm(mut self, mode: u32) -> Self {
        self.attrs
            .insert("http.perm".into(), format!("0{:o}", mode & 0o777));
        self.constraints.add_cap("source.http.perm");
        self
    }

    pub fn chown(mut self, uid: u32, gid: u32) -> Self {
        self.attrs.insert("http.uid".into(), uid.to_string());
        self.attrs.insert("http.gid".into(), gid.to_string());
        // Sic: BuildKit spells this cap id "soruce"; the daemon checks it verbatim.
        self.constraints.add_cap("soruce.http.uidgid");
        self
    }

    /// Per-op constraints; caps the builder already needs are kept.
    pub fn constraints(mut self, c: Constraints) -> Self {
        let caps = std::mem::take(&mut self.constraints.metadata.caps);
        self.constraints = c;
        caps.into_iter().for_each(|cap| self.constraints.metadata.add_cap(cap));
        self
    }

    pub fn finish(self) -> State {
        let mut c = self.constraints;
        c.add_cap("source.http");
        let platform = c.platform.clone();
        State::from_output(source_output(self.url, self.attrs, None, c), platform)
    }
}

fn source_output(
    identifier: String,
    attrs: BTreeMap<String, String>,
    platform: Option<&Platform>,
    c: Constraints,
) -> Output {
    let op = pb::Op {
        inputs: Vec::new(),
        platform: platform.map(Platform::to_pb),
        constraints: Some(pb::WorkerConstraints {
            filter: c.worker_filters.clone(),
        }),
        op: Some(pb::op::Op::Source(pb::SourceOp { identifier, attrs })),
    };
    Output {
        node: Node::new(op, InputList::default(), c),
        index: 0,
    }
}

fn is_valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// Docker's reference normalization: `busybox` → `docker.io/library/busybox:latest`,
/// `localhost:5000/base` → `localhost:5000/base:latest`; a digest-only reference gets no tag.
pub fn normalize_image_reference(reference: &str) -> Result<String, LlbError> {
    let bad = |reason| LlbError::InvalidImageReference {
        reference: reference.to_string(),
        reason,
    };
    if reference.is_empty() {
        return Err(bad("empty reference"));
    }
    let (name_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => {
            if !is_valid_digest(d) {
                return Err(bad(
                    "digest must look like sha256:<64 lowercase hex digits>",
                ));
            }
            (n, Some(d))
        }
        None => (reference, None),
    };
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !ok {
            return Err(bad("tag may hold letters, digits, '.', '_', '-' (not first) and at most 128 characters"));
        }
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".to_string()
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    let path_ok = !path.is_empty()
        && path.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        });
    if !path_ok {
        return Err(bad(
            "repository name must be lowercase letters, digits and separators",
        ));
    }
    let mut out = format!("{domain}/{path}");
    match (tag, digest) {
        (Some(t), _) => out = format!("{out}:{t}"),
        (None, None) => out.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        out = format!("{out}@{d}");
    }
    Ok(out)
}
