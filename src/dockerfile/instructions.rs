//! The typed instructions. Every field holding user text is kept exactly as written
//! (unexpanded) where BuildKit expands at dispatch time; see `expand.rs` for the helpers
//! that produce expanded copies. Flags are validated at parse time.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::error::Location;
use super::lexer::Heredoc;
use super::mount::RawMount;
use super::values::Chmod;

/// Where an instruction came from: its lines and its joined text (continuations folded,
/// as BuildKit's `Node.Original`), used for vertex names like `RUN apt-get update`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// The Dockerfile's name, for error spans.
    #[serde(skip)]
    pub file: Arc<str>,
    pub location: Location,
    pub original: String,
    /// `# comment` lines directly above the instruction.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "instruction", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Instruction {
    Add(Add),
    Arg(Arg),
    Cmd(Cmd),
    Copy(Copy),
    Entrypoint(Entrypoint),
    Env(Env),
    Expose(Expose),
    Healthcheck(Healthcheck),
    Label(Label),
    Maintainer(Maintainer),
    Onbuild(Onbuild),
    Run(Run),
    Shell(Shell),
    StopSignal(StopSignal),
    User(User),
    Volume(Volume),
    Workdir(Workdir),
}

impl Instruction {
    pub fn source(&self) -> &SourceInfo {
        match self {
            Instruction::Add(i) => &i.source,
            Instruction::Arg(i) => &i.source,
            Instruction::Cmd(i) => &i.source,
            Instruction::Copy(i) => &i.source,
            Instruction::Entrypoint(i) => &i.source,
            Instruction::Env(i) => &i.source,
            Instruction::Expose(i) => &i.source,
            Instruction::Healthcheck(i) => &i.source,
            Instruction::Label(i) => &i.source,
            Instruction::Maintainer(i) => &i.source,
            Instruction::Onbuild(i) => &i.source,
            Instruction::Run(i) => &i.source,
            Instruction::Shell(i) => &i.source,
            Instruction::StopSignal(i) => &i.source,
            Instruction::User(i) => &i.source,
            Instruction::Volume(i) => &i.source,
            Instruction::Workdir(i) => &i.source,
        }
    }

    pub fn location(&self) -> Location {
        self.source().location
    }

    /// The upper-case keyword (`RUN`, `COPY`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Add(_) => "ADD",
            Instruction::Arg(_) => "ARG",
            Instruction::Cmd(_) => "CMD",
            Instruction::Copy(_) => "COPY",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Env(_) => "ENV",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Label(_) => "LABEL",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Run(_) => "RUN",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::User(_) => "USER",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Workdir(_) => "WORKDIR",
        }
    }
}

/// Shell form (run through the stage's SHELL) or exec (JSON) form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CommandLine {
    Shell(String),
    Exec(Vec<String>),
}

impl CommandLine {
    /// The argv BuildKit would use: the shell form appended to `shell` (an empty shell
    /// form gives the shell alone, as BuildKit's empty cmdline does).
    pub fn to_argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            CommandLine::Exec(v) => v.clone(),
            CommandLine::Shell(s) if s.is_empty() => shell.to_vec(),
            CommandLine::Shell(s) => shell.iter().cloned().chain(std::iter::once(s.clone())).collect(),
        }
    }

    pub fn is_exec(&self) -> bool {
        matches!(self, CommandLine::Exec(_))
    }
}

/// `FROM [--platform=p] image [AS name]`, the head of a stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct From {
    /// Image reference or stage name, unexpanded (only global ARGs apply to it).
    pub base: String,
    /// Lower-cased stage name after `AS`.
    pub stage_name: Option<String>,
    /// Unexpanded `--platform` value.
    pub platform: Option<String>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityMode {
    Sandbox,
    Insecure,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub command: CommandLine,
    /// Heredoc bodies; RUN bodies are expanded by the shell, not by BuildKit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heredocs: Vec<Heredoc>,
    /// `--mount` values, validated as far as possible without expansion; resolve them
    /// with `Run::mounts` once the environment is known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<RawMount>,
    pub network: NetworkMode,
    pub security: SecurityMode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags_used: Vec<String>,
    pub source: SourceInfo,
}

/// A COPY/ADD source given inline as a heredoc (`COPY <<EOF /dst`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineSource {
    /// The heredoc name, used as the file name.
    pub path: String,
    /// The body, already tab-chomped for `<<-`.
    pub data: String,
    /// Whether `$vars` in the body are expanded (unquoted delimiter).
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Copy {
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline_sources: Vec<InlineSource>,
    pub dest: String,
    /// `--from`: stage name, stage index or image; never expanded (as in BuildKit).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<Chmod>,
    pub link: bool,
    pub parents: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Add {
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline_sources: Vec<InlineSource>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<Chmod>,
    pub link: bool,
    pub keep_git_dir: bool,
    /// `--checksum=sha256:…` for URL sources, unexpanded.
    pub checksum: Option<String>,
    /// `--unpack`: `None` means the default (local archives unpack, URLs do not).
    pub unpack: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    pub source: SourceInfo,
}

/// What an (expanded) ADD source refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AddSourceKind {
    Local,
    Url,
    Git,
}

/// Classifies an expanded ADD source like BuildKit: git URLs (`git@…`, `git://…`,
/// `ssh://…`, or http(s) ending in `.git` / with a `.git#ref`), other http(s) URLs,
/// everything else a local path.
pub fn classify_add_source(src: &str) -> AddSourceKind {
    let lower = src.to_ascii_lowercase();
    if lower.starts_with("git@") || lower.starts_with("git://") || lower.starts_with("ssh://") {
        return AddSourceKind::Git;
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let path = lower.split('#').next().unwrap_or("");
        let path = path.split('?').next().unwrap_or("");
        if path.ends_with(".git") {
            return AddSourceKind::Git;
        }
        return AddSourceKind::Url;
    }
    AddSourceKind::Local
}

/// A name/value pair; both sides unexpanded (quotes still in place).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Env {
    pub pairs: Vec<KeyValue>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub pairs: Vec<KeyValue>,
    pub source: SourceInfo,
}

/// One `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDef {
    pub key: String,
    pub default: Option<String>,
    /// Description from a `# name description` comment above, as BuildKit's outline uses.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arg {
    pub args: Vec<ArgDef>,
    pub source: SourceInfo,
}

/// Ports as written, sorted like BuildKit; split further after expansion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expose {
    pub ports: Vec<String>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workdir {
    pub path: String,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub user: String,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    pub paths: Vec<String>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cmd {
    pub command: CommandLine,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entrypoint {
    /// `None` for an empty `ENTRYPOINT` (BuildKit's nil), which clears CMD too.
    pub command: Option<CommandLine>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum HealthcheckKind {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    None,
    Check {
        /// Shell form becomes `CMD-SHELL`, exec form `CMD`.
        test: CommandLine,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Healthcheck {
    pub check: HealthcheckKind,
    pub source: SourceInfo,
}

impl Healthcheck {
    /// The image-config `Test` array: `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", cmd]`.
    pub fn test(&self) -> Vec<String> {
        match &self.check {
            HealthcheckKind::None => vec!["NONE".into()],
            HealthcheckKind::Check { test: CommandLine::Exec(v), .. } => std::iter::once("CMD".to_string()).chain(v.iter().cloned()).collect(),
            HealthcheckKind::Check { test: CommandLine::Shell(s), .. } => vec!["CMD-SHELL".into(), s.clone()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shell {
    pub shell: Vec<String>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StopSignal {
    pub signal: String,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Maintainer {
    pub maintainer: String,
    pub source: SourceInfo,
}

/// `ONBUILD <trigger>`: stored in the image config as text, run by child builds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Onbuild {
    /// The trigger text without `ONBUILD` (heredoc bodies appended as BuildKit does).
    pub expression: String,
    /// The trigger's keyword, upper-cased.
    pub trigger: String,
    pub source: SourceInfo,
}
