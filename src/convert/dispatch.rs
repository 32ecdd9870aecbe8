//! Dispatching instructions: each stage starts from its base (image config inherited:
//! env, PATH, working dir, user, ONBUILD triggers), then every instruction updates the
//! stage's LLB state and image config. RUN is in `run.rs`, COPY/ADD in `copy.rs`; the
//! metadata instructions are here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::error::ConvertError;
use super::image::{EmptyObject, Healthcheck, History, Image, DEFAULT_PATH_ENV};
use super::stages::{Base, Graph};
use super::ConvertOptions;
use crate::dockerfile::{self, Dockerfile, HealthcheckKind, Instruction, Location};
use crate::llb::{self, Constraints};

/// Description key BuildKit sets to the instruction text on FROM and RUN ops.
pub(super) const COMMAND_DESCRIPTION: &str = "com.docker.dockerfile.v1.command";
const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// A base image resolved before dispatching.
pub(crate) struct ResolvedBase {
    /// Normalised and pinned: `docker.io/library/python:3.11-slim@sha256:…`.
    pub reference: String,
    pub image: Image,
    pub platform: llb::Platform,
}

/// Everything a dispatch pass reads.
pub(crate) struct Input<'a> {
    pub df: &'a Dockerfile,
    pub opts: &'a ConvertOptions,
    pub graph: &'a Graph,
    pub reachable: &'a [bool],
    pub bases: &'a HashMap<usize, ResolvedBase>,
    pub target: &'a llb::Platform,
    pub multi: bool,
    pub meta_env: &'a HashMap<String, String>,
    /// Global ARGs declared without a value (and not given as build args).
    pub meta_unset: &'a HashSet<String>,
    pub named: &'a BTreeMap<String, llb::State>,
}

pub(crate) struct Output {
    pub state: llb::State,
    pub image: Image,
    /// Context paths COPY/ADD and bind mounts read, as `/path`.
    pub context_paths: BTreeSet<String>,
}

/// The per-stage state while its instructions are dispatched.
#[derive(Clone)]
pub(super) struct StageState {
    pub state: llb::State,
    pub image: Image,
    pub platform: std::sync::Arc<llb::Platform>,
    /// ARGs declared in the stage with their values (RUN history lists them).
    pub args: Vec<(String, Option<String>)>,
    pub cmd_set: bool,
    pub cmd_index: usize,
    pub cmd_total: usize,
    pub display_name: String,
    pub ignore_cache: bool,
}

pub(super) struct Dispatcher<'a> {
    pub input: &'a Input<'a>,
    pub lexer: dockerfile::shell::Lexer,
    pub source_map: llb::SourceMap,
    pub context: llb::State,
    pub context_paths: BTreeSet<String>,
    states: Vec<Option<StageState>>,
}

/// One dispatch pass over every stage the target needs.
pub(crate) fn run(input: &Input<'_>, context: llb::State) -> Result<Output, ConvertError> {
    let df = input.df;
    let mut d = Dispatcher {
        input,
        lexer: df.lexer(),
        source_map: llb::SourceMap::new(df.file_name.to_string(), df.source.as_bytes().to_vec()),
        context,
        context_paths: BTreeSet::new(),
        states: vec![None; input.graph.nodes.len()],
    };
    // Images named only by `--from` are plain sources; they are ready before any stage.
    for (n, node) in input.graph.nodes.iter().enumerate() {
        if node.stage.is_none() && input.reachable[n] {
            let st = d.init(n)?;
            d.states[n] = Some(st);
        }
    }
    for (n, node) in input.graph.nodes.iter().enumerate() {
        let Some(stage_index) = node.stage else { continue };
        if !input.reachable[n] {
            continue;
        }
        let mut st = d.init(n)?;
        for instruction in &df.stages[stage_index].instructions {
            d.instruction(&mut st, n, instruction).map_err(|e| e.at(df, instruction.location()))?;
        }
        d.states[n] = Some(st);
    }
    let target = d.states[input.graph.target].take().expect("the target is reachable from itself");
    let mut image = target.image;
    if !input.opts.labels.is_empty() {
        let labels = image.config.labels.get_or_insert_with(BTreeMap::new);
        labels.extend(input.opts.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    image.os = input.target.os.clone();
    image.architecture = input.target.architecture.clone();
    image.variant = input.target.variant.clone();
    Ok(Output { state: target.state, image, context_paths: d.context_paths })
}

/// The environment in effect for an instruction; the last entry of a key wins.
pub(super) enum StageEnv {
    Shared(llb::EnvPairs),
    Split(Vec<(String, String)>),
}

impl StageEnv {
    pub(super) fn empty() -> Self {
        StageEnv::Split(Vec::new())
    }

    fn pairs(&self) -> &[(String, String)] {
        match self {
            StageEnv::Shared(p) => p,
            StageEnv::Split(p) => p,
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.pairs().iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl dockerfile::shell::Env for StageEnv {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

impl Dispatcher<'_> {
    /// The state a node starts with: its base, with the base image's config applied.
    fn init(&mut self, n: usize) -> Result<StageState, ConvertError> {
        let input = self.input;
        let node = &input.graph.nodes[n];
        let stage_name = node.stage.and_then(|i| input.df.stages[i].name.clone());
        let ignore_cache = match &input.opts.no_cache {
            super::NoCache::None => false,
            super::NoCache::All => true,
            super::NoCache::Stages(names) => {
                stage_name.as_deref().is_some_and(|s| names.iter().any(|x| x.eq_ignore_ascii_case(s)))
            }
        };
        let default_platform = node.platform.clone().unwrap_or_else(|| input.target.clone());
        let mut st = StageState {
            state: llb::State::scratch(),
            image: Image::empty(&default_platform),
            platform: std::sync::Arc::new(default_platform.clone()),
            args: Vec::new(),
            cmd_set: false,
            cmd_index: 0,
            cmd_total: node.cmd_total,
            display_name: node.display_name.clone(),
            ignore_cache,
        };
        match &node.base {
            Base::Image(_) => {
                let base = &input.bases[&n];
                let mut image = base.image.clone();
                image.created = None;
                let is_scratch = image.rootfs.diff_ids.is_empty() && image.history.iter().all(|h| h.empty_layer);
                st.platform = std::sync::Arc::new(base.platform.clone());
                if !is_scratch {
                    let name = self.prefix(&mut st, &format!("FROM {}", base.reference), &StageEnv::empty());
                    let from_source = node.stage.map(|i| &input.df.stages[i].from.source);
                    // As in BuildKit, the base image itself is never ignore-cache: the same
                    // source op is shared by every stage FROM that image, so marking it for
                    // `--no-cache-filter a` would re-run the stages not named too.
                    let ignore_cache = std::mem::replace(&mut st.ignore_cache, false);
                    let mut c = self.constraints(&st, node.location, name);
                    st.ignore_cache = ignore_cache;
                    if let Some(src) = from_source {
                        c = c.description(COMMAND_DESCRIPTION, src.original.clone());
                    }
                    st.state = llb::Image::new(base.reference.clone()).constraints(c).finish()?;
                }
                st.image = image;
            }
            Base::Stage(j) => {
                let base = self.states[*j].as_ref().expect("a stage's base is dispatched before it");
                st.state = base.state.clone();
                st.image = base.image.clone();
                st.platform = base.platform.clone();
            }
            Base::Scratch => {}
            Base::Context(name) => st.state = input.named[name].clone(),
        }
        st.state = st.state.shared_platform(st.platform.clone());
        if st.image.env_value("PATH").is_none() {
            st.image.config.env.push(DEFAULT_PATH_ENV.to_string());
        }
        st.state = st.state.add_envs(st.image.config.env.iter().map(|kv| kv.split_once('=').unwrap_or((kv.as_str(), ""))));
        if !st.image.config.working_dir.is_empty() {
            let wd = normalize_workdir("/", &st.image.config.working_dir);
            st.state = st.state.dir(&wd);
        }
        if !st.image.config.user.is_empty() {
            st.state = st.state.user(st.image.config.user.clone());
        }
        let triggers = std::mem::take(&mut st.image.config.on_build);
        for trigger in triggers {
            self.onbuild_trigger(&mut st, n, &trigger).map_err(|e| e.at(input.df, node.location))?;
        }
        Ok(st)
    }

    fn onbuild_trigger(&mut self, st: &mut StageState, n: usize, trigger: &str) -> Result<(), ConvertError> {
        let parsed = dockerfile::parse(&format!("FROM scratch\n{trigger}\n"), "ONBUILD")
            .map_err(|e| ConvertError::new(format!("invalid ONBUILD trigger {trigger:?} in the base image: {}", e.message())))?;
        let instructions = &parsed.stages[0].instructions;
        if instructions.len() != 1 {
            return Err(ConvertError::new("onbuild trigger should be a single expression"));
        }
        self.instruction(st, n, &instructions[0])
    }

    /// The environment an instruction sees (the stage state's, shared, not copied).
    pub(super) fn env_of(st: &StageState) -> StageEnv {
        let pairs = st.state.env_pairs();
        if pairs.iter().all(|(k, _)| !k.contains('=')) {
            return StageEnv::Shared(pairs);
        }
        // A key with `=` in it (`ENV $K=v` with K=`a=b`) reads back split at the first `=`,
        // as the `KEY=value` list BuildKit keeps would.
        let split = pairs
            .iter()
            .map(|(k, v)| match k.split_once('=') {
                Some((key, rest)) => (key.to_string(), format!("{rest}={v}")),
                None => (k.clone(), v.clone()),
            })
            .collect();
        StageEnv::Split(split)
    }

    /// Constraints every op of an instruction gets: platform, custom name, source
    /// location, no-cache.
    pub(super) fn constraints(&self, st: &StageState, location: Location, name: String) -> Constraints {
        let range = llb::line_range(location.start_line as u32, location.end_line as u32);
        let mut c = Constraints::new().shared_platform(st.platform.clone()).custom_name(name).location(&self.source_map, [range]);
        if st.ignore_cache {
            c = c.ignore_cache();
        }
        c
    }

    /// BuildKit's `prefixCommand`: `[platform stage i/total] text`.
    pub(super) fn prefix(&self, st: &mut StageState, text: &str, env: &StageEnv) -> String {
        if st.cmd_total == 0 {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len() + st.display_name.len() + 16);
        out.push('[');
        if self.input.multi {
            out.push_str(&st.platform.to_string());
            out.push_str(&target_platform_suffix(&st.platform, env));
            out.push(' ');
        }
        if !st.display_name.is_empty() {
            out.push_str(&st.display_name);
            out.push(' ');
        }
        st.cmd_index += 1;
        let width = decimal_digits(st.cmd_total);
        push_fmt(&mut out, format_args!("{:>width$}/{}] {text}", st.cmd_index, st.cmd_total));
        out
    }

    /// The instruction text with variables substituted, keyword upper-cased (COPY, ADD,
    /// WORKDIR names are built this way).
    pub(super) fn display(&self, original: &str, env: &StageEnv) -> String {
        uppercase_keyword(self.lexer.process_word(original, env).unwrap_or_else(|_| original.to_string()))
    }

    fn instruction(&mut self, st: &mut StageState, n: usize, instruction: &Instruction) -> Result<(), ConvertError> {
        let env = Self::env_of(st);
        // RUN expands its mounts itself (`expand` would only copy it).
        let expanded = if instruction.expands_words() && !matches!(instruction, Instruction::Run(_)) {
            std::borrow::Cow::Owned(instruction.expand(&self.lexer, &env)?.value)
        } else {
            std::borrow::Cow::Borrowed(instruction)
        };
        match &*expanded {
            Instruction::Env(c) => {
                let mut msg = String::from("ENV");
                st.state = st.state.add_envs(c.pairs.iter().map(|kv| (kv.key.as_str(), kv.value.as_str())));
                for kv in &c.pairs {
                    st.image.set_env(&kv.key, &kv.value);
                    push_fmt(&mut msg, format_args!(" {}={}", kv.key, kv.value));
                }
                history(&mut st.image, msg, false, false);
            }
            Instruction::Label(c) => {
                let labels = st.image.config.labels.get_or_insert_with(BTreeMap::new);
                let mut msg = String::from("LABEL");
                for kv in &c.pairs {
                    labels.insert(kv.key.clone(), kv.value.clone());
                    push_fmt(&mut msg, format_args!(" {}={}", kv.key, kv.value));
                }
                history(&mut st.image, msg, false, false);
            }
            Instruction::Arg(c) => {
                let mut parts = Vec::new();
                for def in &c.args {
                    parts.push(match &def.default {
                        Some(v) => format!("{}={v}", def.key),
                        None => def.key.clone(),
                    });
                    let value = self
                        .input
                        .opts
                        .build_args
                        .get(&def.key)
                        .cloned()
                        .or_else(|| def.default.clone())
                        .or_else(|| {
                            if self.input.meta_unset.contains(&def.key) {
                                None
                            } else {
                                self.input.meta_env.get(&def.key).cloned()
                            }
                        });
                    if let Some(v) = &value {
                        st.state = st.state.add_env(def.key.clone(), v.clone());
                    }
                    st.args.push((def.key.clone(), value));
                }
                history(&mut st.image, format!("ARG {}", parts.join(" ")), false, false);
            }
            Instruction::Workdir(c) => self.workdir(st, &c.path, &instruction.source().original, c.source.location, &env)?,
            Instruction::User(c) => {
                st.state = st.state.user(c.user.clone());
                st.image.config.user = c.user.clone();
                history(&mut st.image, format!("USER {}", c.user), false, false);
            }
            Instruction::Expose(c) => {
                let ports = parse_ports(&c.ports)?;
                let set = st.image.config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in &ports {
                    set.insert(p.clone(), EmptyObject {});
                }
                let listed: Vec<String> = ports.iter().map(|p| format!("{p}:{{}}")).collect();
                history(&mut st.image, format!("EXPOSE map[{}]", listed.join(" ")), false, false);
            }
            Instruction::Volume(c) => {
                let set = st.image.config.volumes.get_or_insert_with(BTreeMap::new);
                for v in &c.paths {
                    if v.is_empty() {
                        return Err(ConvertError::new("VOLUME specified can not be an empty string"));
                    }
                    set.insert(v.clone(), EmptyObject {});
                }
                history(&mut st.image, format!("VOLUME [{}]", c.paths.join(" ")), false, false);
            }
            Instruction::StopSignal(c) => {
                check_signal(&c.signal)?;
                st.image.config.stop_signal = c.signal.clone();
                history(&mut st.image, format!("STOPSIGNAL {}", c.signal), false, false);
            }
            Instruction::Shell(c) => {
                st.image.config.shell = c.shell.clone();
                history(&mut st.image, format!("SHELL [{}]", c.shell.join(" ")), false, false);
            }
            Instruction::Cmd(c) => {
                let args = c.command.to_argv(shell_of(&st.image));
                st.image.config.cmd = Some(args.clone());
                st.image.config.args_escaped = true;
                st.cmd_set = true;
                history(&mut st.image, format!("CMD {}", go_quote_list(&args)), false, false);
            }
            Instruction::Entrypoint(c) => {
                let args = c.command.as_ref().map(|cmd| cmd.to_argv(shell_of(&st.image)));
                history(&mut st.image, format!("ENTRYPOINT {}", go_quote_list(args.as_deref().unwrap_or(&[]))), false, false);
                st.image.config.entrypoint = args;
                if !st.cmd_set {
                    st.image.config.cmd = None;
                }
            }
            Instruction::Healthcheck(c) => {
                let ns = |d: &Option<std::time::Duration>| d.map_or(0, |d| d.as_nanos() as i64);
                let hc = match &c.check {
                    HealthcheckKind::None => Healthcheck { test: vec!["NONE".into()], ..Default::default() },
                    HealthcheckKind::Check { interval, timeout, start_period, start_interval, retries, .. } => Healthcheck {
                        test: c.test(),
                        interval: ns(interval),
                        timeout: ns(timeout),
                        start_period: ns(start_period),
                        start_interval: ns(start_interval),
                        retries: i64::from(*retries),
                    },
                };
                history(&mut st.image, format!("HEALTHCHECK {}", go_healthcheck(&hc)), false, false);
                st.image.config.healthcheck = Some(hc);
            }
            Instruction::Maintainer(c) => {
                st.image.author = c.maintainer.clone();
                history(&mut st.image, format!("MAINTAINER {}", c.maintainer), false, false);
            }
            Instruction::Onbuild(c) => st.image.config.on_build.push(c.expression.clone()),
            Instruction::Run(c) => self.run(st, n, c, &env)?,
            Instruction::Copy(c) => self.copy(st, n, &super::copy::CopySpec::from_copy(c), &env)?,
            Instruction::Add(c) => self.copy(st, n, &super::copy::CopySpec::from_add(c), &env)?,
        }
        Ok(())
    }

    fn workdir(&mut self, st: &mut StageState, path: &str, original: &str, location: Location, env: &StageEnv) -> Result<(), ConvertError> {
        let wd = normalize_workdir(&st.image.config.working_dir, path);
        st.image.config.working_dir = wd.clone();
        st.state = st.state.dir(&wd);
        let with_layer = wd != "/";
        if with_layer {
            let mut mkdir = llb::Mkdir::new(wd.clone(), 0o755).parents();
            if !st.image.config.user.is_empty() {
                mkdir = mkdir.owner(llb::Chown::parse(&st.image.config.user));
            }
            let name = self.display(original, env);
            let name = self.prefix(st, &name, env);
            let c = self.constraints(st, location, name);
            st.state = st.state.file(mkdir, c)?;
        }
        history(&mut st.image, format!("WORKDIR {wd}"), with_layer, false);
        Ok(())
    }

    /// The state of the node a `--from` names (dispatched before the current stage).
    pub(super) fn from_state(&self, current: usize, from: &str, what: &str) -> Result<llb::State, ConvertError> {
        let node = self
            .input
            .graph
            .lookup_from(from)
            .ok_or_else(|| ConvertError::new(format!("{what} from {from:?}: no such stage or image")))?;
        match self.states.get(node).and_then(Option::as_ref) {
            Some(st) if node != current => Ok(st.state.clone()),
            _ => {
                let here = self.input.graph.nodes[current].display_name.clone();
                Err(ConvertError::new(format!(
                    "cannot {what} from stage {from:?}, it needs to be defined before current stage {here:?}"
                )))
            }
        }
    }
}

/// Appends formatted text without a temporary `String`.
pub(super) fn push_fmt(out: &mut String, args: std::fmt::Arguments<'_>) {
    // Writing into a String cannot fail.
    let _ = std::fmt::Write::write_fmt(out, args);
}

pub(super) fn history(image: &mut Image, msg: String, with_layer: bool, buildkit_op: bool) {
    let mut created_by = msg;
    if buildkit_op {
        created_by.push_str(" # buildkit");
    }
    image.history.push(History {
        created: None,
        created_by,
        author: String::new(),
        comment: std::borrow::Cow::Borrowed(HISTORY_COMMENT),
        empty_layer: !with_layer,
    });
}

/// The stage's shell for shell-form commands.
pub(super) fn shell_of(image: &Image) -> &[String] {
    static DEFAULT: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| DEFAULT_SHELL.map(String::from));
    if image.config.shell.is_empty() {
        &DEFAULT[..]
    } else {
        &image.config.shell
    }
}

pub(super) fn uppercase_keyword(mut s: String) -> String {
    let keyword_len = s.find(' ').unwrap_or(s.len());
    s[..keyword_len].make_ascii_uppercase();
    s
}

/// How many characters `n` takes in decimal.
fn decimal_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// `path.Join`/`path.Clean` semantics for WORKDIR: relative paths join the current one.
/// BuildKit's `NormalizeWorkdir`: an absolute path is kept as written (`/a/../b/` too: the
/// config, the history and the mkdir see it raw), a relative one is joined and cleaned.
pub(super) fn normalize_workdir(current: &str, path: &str) -> String {
    let parent = if current.is_empty() { "/" } else { current };
    match path {
        "" => crate::paths::clean_absolute(parent),
        p if p.starts_with('/') => p.to_string(),
        p => crate::paths::clean_absolute_joined(parent, p),
    }
}


/// `->arch` when the TARGET* args in the environment name another platform.
fn target_platform_suffix(platform: &llb::Platform, env: &StageEnv) -> String {
    let target = match env.get("TARGETPLATFORM").and_then(|p| super::platform::parse(p).ok()) {
        Some(p) => p,
        None => {
            let (Some(os), Some(arch)) = (env.get("TARGETOS"), env.get("TARGETARCH")) else { return String::new() };
            let mut p = llb::Platform::new(os, arch);
            p.variant = env.get("TARGETVARIANT").unwrap_or_default().to_string();
            p
        }
    };
    if target.os == platform.os && target.architecture != platform.architecture {
        let mut s = format!("->{}", target.architecture);
        if !target.variant.is_empty() {
            push_fmt(&mut s, format_args!("/{}", target.variant));
        }
        s
    } else if target.os != platform.os {
        format!("->{target}")
    } else {
        String::new()
    }
}

/// EXPOSE values as image-config keys (`80/tcp`), ranges expanded, like docker's
/// `nat.ParsePortSpecs`.
fn parse_ports(specs: &[String]) -> Result<Vec<String>, ConvertError> {
    let mut out = BTreeSet::new();
    for spec in specs {
        let (ports, proto) = spec.split_once('/').unwrap_or((spec.as_str(), "tcp"));
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(ConvertError::new(format!("invalid proto: {proto} (in EXPOSE {spec}; use tcp, udp or sctp)")));
        }
        // `ip:hostPort:containerPort` is accepted by docker; only the container port counts.
        let container = ports.rsplit(':').next().unwrap_or(ports);
        let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0);
        let (start, end) = match container.split_once('-') {
            Some((a, b)) => (port(a), port(b)),
            None => (port(container), port(container)),
        };
        match (start, end) {
            (Some(a), Some(b)) if a <= b => out.extend((a..=b).map(|p| format!("{p}/{proto}"))),
            _ => return Err(ConvertError::new(format!("invalid containerPort: {container} (in EXPOSE {spec}; ports are 1-65535 or a range like 8000-8010)"))),
        }
    }
    Ok(out.into_iter().collect())
}

fn check_signal(signal: &str) -> Result<(), ConvertError> {
    const NAMES: &[&str] = &[
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE", "POLL", "PROF",
        "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM",
        "WINCH", "XCPU", "XFSZ",
    ];
    let upper = signal.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = name.strip_prefix("RTMIN").or_else(|| name.strip_prefix("RTMAX"));
    let ok = match signal.parse::<u32>() {
        Ok(n) => (1..=64).contains(&n),
        Err(_) => NAMES.contains(&name) || rt.is_some_and(|r| r.is_empty() || r.trim_start_matches(['+', '-']).parse::<u8>().is_ok()),
    };
    if ok {
        Ok(())
    } else {
        Err(ConvertError::new(format!("invalid signal: {signal} (use a name like SIGTERM or a number)")))
    }
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub(super) fn go_quote_list(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_go_quoted(&mut out, item);
    }
    out.push(']');
    out
}

fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_go_quoted(&mut out, s);
    out
}

fn push_go_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => push_fmt(out, format_args!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `%q` of a `*HealthcheckConfig`, as BuildKit writes it into history.
fn go_healthcheck(h: &Healthcheck) -> String {
    format!(
        "&{{{} {} {} {} {} {}}}",
        go_quote_list(&h.test),
        go_quote(&go_duration(h.interval)),
        go_quote(&go_duration(h.timeout)),
        go_quote(&go_duration(h.start_period)),
        go_quote(&go_duration(h.start_interval)),
        go_char(h.retries)
    )
}

fn go_char(n: i64) -> String {
    match u32::try_from(n).ok().and_then(char::from_u32) {
        Some(c) if c.is_ascii_graphic() || c == ' ' => format!("'{c}'"),
        _ => format!("'\\x{n:02x}'"),
    }
}

/// Go's `time.Duration.String()`.
pub(super) fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 { ("ns", 1) } else if u < 1_000_000 { ("µs", 1_000) } else { ("ms", 1_000_000) };
        return format!("{sign}{}{unit}", trim_fraction(u as f64 / div as f64));
    }
    let secs = u / 1_000_000_000;
    let frac = u % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let s_text = if frac == 0 { s.to_string() } else { trim_fraction(s as f64 + frac as f64 / 1e9) };
    match (h, m) {
        (0, 0) => format!("{sign}{s_text}s"),
        (0, m) => format!("{sign}{m}m{s_text}s"),
        (h, m) => format!("{sign}{h}h{m}m{s_text}s"),
    }
}

fn trim_fraction(v: f64) -> String {
    let s = format!("{v:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Shell-form command line text for an exec's history entry (`RUN |2 A=1 B=2 /bin/sh -c …`).
pub(super) fn run_history(argv: &[String], args: &[(String, Option<String>)], env: &StageEnv) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !args.is_empty() {
        parts.push(format!("|{}", args.len()));
        for (k, v) in args {
            let value = env.get(k).map(str::to_string).or_else(|| v.clone()).unwrap_or_default();
            parts.push(format!("{k}={value}"));
        }
    }
    parts.extend(argv.iter().cloned());
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(30_000_000_000), "30s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
    }

    #[test]
    fn ports_and_signals() {
        assert_eq!(parse_ports(&["80".into(), "53/udp".into(), "8000-8001".into()]).unwrap(), vec!["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        assert!(parse_ports(&["http".into()]).is_err());
        assert!(parse_ports(&["80/xyz".into()]).is_err());
        assert!(parse_ports(&["0".into()]).is_err());
        assert!(check_signal("SIGTERM").is_ok() && check_signal("9").is_ok() && check_signal("kill").is_ok());
        assert!(check_signal("SIGNOPE").is_err() && check_signal("99").is_err());
    }

    #[test]
    fn workdirs() {
        assert_eq!(normalize_workdir("/app", "sub/../x"), "/app/x");
        assert_eq!(normalize_workdir("", "rel"), "/rel");
        assert_eq!(normalize_workdir("/a", "/b/"), "/b/");
        assert_eq!(normalize_workdir("/a", "/b/../c"), "/b/../c");
    }

    #[test]
    fn keywords_and_widths() {
        assert_eq!(uppercase_keyword("copy --from=a x y".into()), "COPY --from=a x y");
        assert_eq!(uppercase_keyword("workdir".into()), "WORKDIR");
        assert_eq!(uppercase_keyword("run ünï ß".into()), "RUN ünï ß");
        assert_eq!((decimal_digits(0), decimal_digits(9), decimal_digits(10), decimal_digits(1000)), (1, 1, 2, 4));
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote_list(&["/bin/sh".into(), "-c".into(), "echo \"hi\"".into()]), r#"["/bin/sh" "-c" "echo \"hi\""]"#);
    }
}
