//! Immutable LLB states: an optional output of an op plus the "meta" values (env, dir, user,
//! platform, network, security, extra hosts) that later `run`/`file` calls inherit.
//!
//! Ops are encoded and digested once, when they are created (`Node::new`), so a `State` is a
//! cheap handle (two `Arc`s) and marshalling is a plain graph walk. Nothing here talks to a
//! daemon; resolving image configs is the caller's job (`State::with_image_config`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bollard_buildkit_proto::pb;
use prost::Message;

use super::error::LlbError;
use super::marshal::SourceLocation;
use super::sourcemap::SourceMap;

/// The `os/arch[/variant]` an op runs for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: String,
}

impl Platform {
    pub fn new(os: &str, architecture: &str) -> Self {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: String::new(),
        }
    }

    pub fn linux_amd64() -> Self {
        Platform::new("linux", "amd64")
    }

    /// The platform of the machine we run on, in OCI spelling (what Go's `platforms.DefaultSpec` gives).
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        // containerd normalizes arm64's "v8" variant away, so the Go client sends none.
        Platform::new("linux", arch)
    }

    /// Parses `linux/amd64` or `linux/arm/v7`.
    pub fn parse(s: &str) -> Result<Self, LlbError> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(LlbError::InvalidPlatform(s.to_string()));
        }
        let mut p = Platform::new(parts[0], parts[1]);
        if let Some(v) = parts.get(2) {
            p.variant = (*v).to_string();
        }
        Ok(p)
    }

    pub(crate) fn to_pb(&self) -> pb::Platform {
        pb::Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            ..Default::default()
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// Per-op settings that do not change what the op does but how BuildKit treats and shows it:
/// platform, custom name, cache, caps, progress group, descriptions and source locations.
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    pub(crate) platform: Option<Arc<Platform>>,
    pub(crate) metadata: OpMeta,
    pub(crate) locations: Vec<SourceLocation>,
    pub(crate) worker_filters: Vec<String>,
}

/// An op's `pb::OpMetadata` before marshalling: keys are mostly static strings, so
/// creating an op allocates little; `marshal` builds the wire message once.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpMeta {
    pub(crate) ignore_cache: bool,
    /// Set semantics: a key appears once, a later value replaces the earlier one.
    pub(crate) description: Vec<(Cow<'static, str>, String)>,
    pub(crate) export_cache: Option<bool>,
    /// Set semantics.
    pub(crate) caps: Vec<Cow<'static, str>>,
    pub(crate) progress_group: Option<pb::ProgressGroup>,
}

impl OpMeta {
    pub(crate) fn set_description(&mut self, key: Cow<'static, str>, value: String) {
        match self.description.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => {
                // Ops carry a name and often the instruction text: room for both at once.
                if self.description.capacity() == 0 {
                    self.description.reserve_exact(2);
                }
                self.description.push((key, value));
            }
        }
    }

    pub(crate) fn add_cap(&mut self, cap: Cow<'static, str>) {
        if !self.caps.contains(&cap) {
            // Execs carry around eight caps: one allocation instead of growing.
            if self.caps.capacity() == 0 {
                self.caps.reserve_exact(8);
            }
            self.caps.push(cap);
        }
    }

    /// The caps, sorted (as the wire map lists them).
    #[cfg(test)]
    pub(crate) fn cap_names(&self) -> Vec<String> {
        let mut caps: Vec<String> = self.caps.iter().map(|c| c.to_string()).collect();
        caps.sort();
        caps
    }

    /// Adds these values to `into` (two nodes can encode to the same op: one entry).
    pub(crate) fn merge_into(&self, into: &mut pb::OpMetadata) {
        into.ignore_cache |= self.ignore_cache;
        for (k, v) in &self.description {
            into.description.insert(k.to_string(), v.clone());
        }
        if let Some(value) = self.export_cache {
            into.export_cache = Some(pb::ExportCache { value });
        }
        for cap in &self.caps {
            into.caps.insert(cap.to_string(), true);
        }
        if self.progress_group.is_some() {
            into.progress_group = self.progress_group.clone();
        }
    }
}

impl Constraints {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs this op for `platform` instead of the state's (or the default) platform.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = Some(Arc::new(platform));
        self
    }

    /// [`Constraints::platform`] with a platform the caller shares between many ops.
    pub(crate) fn shared_platform(mut self, platform: Arc<Platform>) -> Self {
        self.platform = Some(platform);
        self
    }

    /// The vertex name progress shows (`llb.customname`), e.g. `[stage 2/5] RUN make`.
    pub fn custom_name(self, name: impl Into<String>) -> Self {
        self.description("llb.customname", name)
    }

    pub fn description(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.metadata.set_description(key.into(), value.into());
        self
    }

    pub fn ignore_cache(mut self) -> Self {
        self.metadata.ignore_cache = true;
        self
    }

    /// `Some(true)` forces exporting this vertex with the cache, `Some(false)` forbids it.
    pub fn export_cache(mut self, export: Option<bool>) -> Self {
        self.metadata.export_cache = export;
        self
    }

    /// Declares that the op needs a daemon capability (BuildKit rejects ops whose caps it lacks).
    pub fn cap(mut self, cap: impl Into<Cow<'static, str>>) -> Self {
        self.metadata.add_cap(cap.into());
        self
    }

    pub fn progress_group(mut self, id: &str, name: &str, weak: bool) -> Self {
        self.metadata.progress_group = Some(pb::ProgressGroup {
            id: id.into(),
            name: name.into(),
            weak,
        });
        self
    }

    /// Worker filter (`Require` in Go); rarely needed.
    pub fn require_worker(mut self, filter: impl Into<String>) -> Self {
        self.worker_filters.push(filter.into());
        self
    }

    /// Attaches source ranges (e.g. Dockerfile lines) to the op; errors on it point there.
    pub fn location(
        mut self,
        map: &SourceMap,
        ranges: impl IntoIterator<Item = pb::Range>,
    ) -> Self {
        let mut ranges = ranges.into_iter();
        self.locations.push(SourceLocation {
            map: map.clone(),
            first: ranges.next(),
            more: ranges.collect(),
        });
        self
    }

    pub(crate) fn add_cap(&mut self, cap: &'static str) {
        self.metadata.add_cap(Cow::Borrowed(cap));
    }
}

/// One op of the graph, encoded and addressed at creation time.
pub(crate) struct Node {
    pub(crate) digest: String,
    pub(crate) bytes: Vec<u8>,
    /// The distinct outputs this op reads, in `Op.inputs` order.
    pub(crate) inputs: Vec<Output>,
    pub(crate) metadata: OpMeta,
    pub(crate) locations: Vec<SourceLocation>,
}

impl Node {
    /// Encodes `op` (whose `inputs` must already be filled from `inputs`) and digests it.
    pub(crate) fn new(op: pb::Op, inputs: InputList, c: Constraints) -> Arc<Node> {
        debug_assert!(op.inputs.len() >= inputs.outputs.len());
        let bytes = op.encode_to_vec();
        let digest = super::marshal::digest_of(&bytes);
        Arc::new(Node {
            digest,
            bytes,
            inputs: inputs.outputs,
            metadata: c.metadata,
            locations: c.locations,
        })
    }
}

/// Builds `Op.inputs` while deduplicating equal inputs, the way BuildKit's client does.
#[derive(Default)]
pub(crate) struct InputList {
    pub(crate) pb: Vec<pb::Input>,
    outputs: Vec<Output>,
}

impl InputList {
    /// Index of `out` in the op's inputs, adding it when new.
    pub(crate) fn add(&mut self, out: &Output) -> i64 {
        if let Some(i) = self.pb.iter().position(|p| p.digest == out.node.digest && p.index == out.index) {
            return i as i64;
        }
        self.pb.push(out.to_pb());
        self.outputs.push(out.clone());
        (self.pb.len() - 1) as i64
    }

    /// Adds `out` as a new input even when an equal one exists (merge/diff address inputs by
    /// position). The walk still visits each node once.
    pub(crate) fn push_unique_slot(&mut self, out: Option<&Output>) {
        if let Some(out) = out {
            self.pb.push(out.to_pb());
            if !self
                .outputs
                .iter()
                .any(|o| std::sync::Arc::ptr_eq(&o.node, &out.node))
            {
                self.outputs.push(out.clone());
            }
        }
    }
}

/// One output (result filesystem) of an op.
#[derive(Clone)]
pub struct Output {
    pub(crate) node: Arc<Node>,
    pub(crate) index: i64,
}

impl Output {
    /// `sha256:…` digest of the op producing this output.
    pub fn digest(&self) -> &str {
        &self.node.digest
    }

    pub fn index(&self) -> i64 {
        self.index
    }

    pub(crate) fn to_pb(&self) -> pb::Input {
        pb::Input {
            digest: self.node.digest.clone(),
            index: self.index,
        }
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.node.digest, self.index)
    }
}

/// Network mode of `RUN` (`--network`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    #[default]
    Sandbox,
    Host,
    None,
}

/// Security mode of `RUN` (`--security`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Security {
    #[default]
    Sandbox,
    Insecure,
}

/// Values a state carries for later execs and file ops.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    // The values are shared between the states derived from one another (each `State`
    // method changes one of them): cloning a `Meta` allocates nothing.
    pub(crate) env: Arc<Vec<(String, String)>>,
    pub(crate) dir: Arc<str>,
    pub(crate) user: Arc<str>,
    pub(crate) hostname: Arc<str>,
    pub(crate) platform: Option<Arc<Platform>>,
    pub(crate) network: Network,
    pub(crate) security: Security,
    pub(crate) extra_hosts: Vec<(String, String)>,
}

/// The meta values of a fresh state, allocated once.
static DEFAULT_META: std::sync::LazyLock<Arc<Meta>> = std::sync::LazyLock::new(|| {
    let empty: Arc<str> = Arc::from("");
    Arc::new(Meta {
        env: Arc::default(),
        dir: Arc::from("/"),
        user: empty.clone(),
        hostname: empty,
        platform: None,
        network: Network::Sandbox,
        security: Security::Sandbox,
        extra_hosts: Vec::new(),
    })
});

impl Default for Meta {
    fn default() -> Self {
        (**DEFAULT_META).clone()
    }
}

/// A state's environment, shared (see [`State::env_pairs`]).
#[derive(Clone)]
pub(crate) struct EnvPairs(Arc<Meta>);

impl std::ops::Deref for EnvPairs {
    type Target = [(String, String)];

    fn deref(&self) -> &Self::Target {
        &self.0.env
    }
}

/// An immutable point in an LLB graph: "the filesystem produced by these ops", plus the
/// environment that the next `run` will see. Cloning is cheap; every method returns a new state.
#[derive(Clone)]
pub struct State {
    pub(crate) output: Option<Output>,
    pub(crate) meta: Arc<Meta>,
}

impl Default for State {
    fn default() -> Self {
        State { output: None, meta: DEFAULT_META.clone() }
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("output", &self.output)
            .field("meta", &*self.meta)
            .finish()
    }
}

impl State {
    /// The empty filesystem.
    pub fn scratch() -> Self {
        State::default()
    }

    pub(crate) fn from_output(output: Output, platform: Option<Arc<Platform>>) -> Self {
        let meta = match platform {
            Some(p) => Arc::new(Meta { platform: Some(p), ..Meta::default() }),
            None => DEFAULT_META.clone(),
        };
        State { output: Some(output), meta }
    }

    /// Same meta values, different filesystem.
    pub(crate) fn with_output(&self, output: Option<Output>) -> Self {
        State {
            output,
            meta: self.meta.clone(),
        }
    }

    fn edit(&self, f: impl FnOnce(&mut Meta)) -> Self {
        let mut meta = (*self.meta).clone();
        f(&mut meta);
        State {
            output: self.output.clone(),
            meta: Arc::new(meta),
        }
    }

    pub fn output(&self) -> Option<&Output> {
        self.output.as_ref()
    }

    pub fn is_scratch(&self) -> bool {
        self.output.is_none()
    }

    /// Sets (or replaces, moving it to the end like BuildKit does) an environment variable.
    pub fn add_env(&self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.edit(|m| {
            let env = Arc::make_mut(&mut m.env);
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        })
    }

    /// [`State::add_env`] for several variables in order, as one new state (the
    /// environment is copied once, not once per variable).
    pub fn add_envs<K: Into<String>, V: Into<String>>(&self, vars: impl IntoIterator<Item = (K, V)>) -> Self {
        self.edit(|m| {
            let env = Arc::make_mut(&mut m.env);
            for (key, value) in vars {
                let key = key.into();
                env.retain(|(k, _)| *k != key);
                env.push((key, value.into()));
            }
        })
    }

    pub fn del_env(&self, key: &str) -> Self {
        self.edit(|m| Arc::make_mut(&mut m.env).retain(|(k, _)| k != key))
    }

    pub fn get_env(&self, key: &str) -> Option<&str> {
        self.meta
            .env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The environment as `(key, value)` pairs, in order, without copying it (the handle
    /// shares the state's values and outlives the state).
    pub(crate) fn env_pairs(&self) -> EnvPairs {
        EnvPairs(self.meta.clone())
    }

    /// The environment as `KEY=value` strings, in order.
    pub fn env(&self) -> Vec<String> {
        self.meta
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// Sets the working directory; a relative path is joined to the current one.
    pub fn dir(&self, dir: &str) -> Self {
        // Go's llb.Dir keeps an absolute path as written (the executor then creates it
        // as given, `..` and all); only a relative one is joined and cleaned.
        let joined = if dir.starts_with('/') { dir.to_string() } else { join_path(&self.meta.dir, dir) };
        self.edit(|m| m.dir = Arc::from(joined))
    }

    pub fn get_dir(&self) -> &str {
        &self.meta.dir
    }

    pub fn user(&self, user: impl Into<String>) -> Self {
        let user = user.into();
        self.edit(|m| m.user = Arc::from(user))
    }

    pub fn get_user(&self) -> &str {
        &self.meta.user
    }

    pub fn hostname(&self, hostname: impl Into<String>) -> Self {
        let hostname = hostname.into();
        self.edit(|m| m.hostname = Arc::from(hostname))
    }

    pub fn platform(&self, platform: Platform) -> Self {
        self.shared_platform(Arc::new(platform))
    }

    pub(crate) fn shared_platform(&self, platform: Arc<Platform>) -> Self {
        self.edit(|m| m.platform = Some(platform))
    }

    pub fn get_platform(&self) -> Option<&Platform> {
        self.meta.platform.as_deref()
    }

    pub fn network(&self, network: Network) -> Self {
        self.edit(|m| m.network = network)
    }

    pub fn get_network(&self) -> Network {
        self.meta.network
    }

    pub fn security(&self, security: Security) -> Self {
        self.edit(|m| m.security = security)
    }

    pub fn get_security(&self) -> Security {
        self.meta.security
    }

    /// `--add-host host:ip` for later execs.
    pub fn add_extra_host(&self, host: impl Into<String>, ip: impl Into<String>) -> Self {
        let entry = (host.into(), ip.into());
        self.edit(|m| m.extra_hosts.push(entry))
    }

    /// Applies an OCI image config (env, working dir, platform), as after `FROM`.
    pub fn with_image_config(&self, config: &[u8]) -> Result<Self, LlbError> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Image {
            architecture: String,
            os: String,
            variant: String,
            config: Config,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "PascalCase")]
        struct Config {
            env: Option<Vec<String>>,
            working_dir: String,
        }
        let img: Image = serde_json::from_slice(config).map_err(LlbError::ImageConfig)?;
        let mut st = self.clone();
        for entry in img.config.env.unwrap_or_default() {
            let (k, v) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            if !k.is_empty() {
                st = st.add_env(k, v);
            }
        }
        st = st.dir(&img.config.working_dir);
        if !img.os.is_empty() && !img.architecture.is_empty() {
            let mut p = Platform::new(&img.os, &img.architecture);
            p.variant = img.variant;
            st = st.platform(p);
        }
        Ok(st)
    }
}

/// `path.Join(base, p)` when `p` is relative, `path.Clean(p)` otherwise.
pub(crate) fn join_path(base: &str, p: &str) -> String {
    if p.starts_with('/') {
        crate::paths::clean(p)
    } else {
        let base = if base.is_empty() { "/" } else { base };
        crate::paths::clean_joined(base, p)
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_and_join_follow_go_path_semantics() {
        assert_eq!(crate::paths::clean("/a/b/../c/./"), "/a/c");
        assert_eq!(crate::paths::clean("/../x"), "/x");
        assert_eq!(crate::paths::clean("a/../../b"), "../b");
        assert_eq!(crate::paths::clean(""), ".");
        assert_eq!(join_path("/app", "src"), "/app/src");
        assert_eq!(join_path("/app", "/etc"), "/etc");
        assert_eq!(join_path("", "x"), "/x");
    }

    #[test]
    fn env_replaces_and_moves_to_end() {
        let st = State::scratch()
            .add_env("A", "1")
            .add_env("B", "2")
            .add_env("A", "3");
        assert_eq!(st.env(), vec!["B=2", "A=3"]);
        assert_eq!(st.get_env("A"), Some("3"));
        assert_eq!(st.del_env("A").env(), vec!["B=2"]);
        let batch = State::scratch().add_envs([("A", "1"), ("B", "2"), ("A", "3")]);
        assert_eq!(batch.env(), st.env());
    }

    #[test]
    fn dir_is_relative_to_previous_dir() {
        let st = State::scratch().dir("/app").dir("sub").dir("../other");
        assert_eq!(st.get_dir(), "/app/other");
        assert_eq!(State::scratch().get_dir(), "/");
    }

    #[test]
    fn image_config_sets_env_dir_platform() {
        let cfg = br#"{"architecture":"arm64","os":"linux","variant":"v8",
            "config":{"Env":["PATH=/usr/bin","EMPTY=","X=a=b"],"WorkingDir":"/work"}}"#;
        let st = State::scratch().with_image_config(cfg).unwrap();
        assert_eq!(st.env(), vec!["PATH=/usr/bin", "EMPTY=", "X=a=b"]);
        assert_eq!(st.get_dir(), "/work");
        assert_eq!(st.get_platform().unwrap().to_string(), "linux/arm64/v8");
        assert!(State::scratch().with_image_config(b"{nope").is_err());
    }

    #[test]
    fn platform_parse() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap(),
            Platform::linux_amd64()
        );
        assert_eq!(Platform::parse("linux/arm/v7").unwrap().variant, "v7");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//x").is_err());
    }
}
