//! Dockerfile stages → one LLB graph per target platform, plus the image config.
//!
//! In: a parsed [`Dockerfile`](crate::dockerfile::Dockerfile), [`ConvertOptions`] (target,
//! platforms, build args, labels, no-cache, entitlements, the build context's session) and
//! an [`ImageResolver`] for base-image configs (the solve layer's gateway implements it;
//! tests use an in-process one). Out: a [`Converted`] per platform: the `llb::Definition`,
//! the image config and the context paths the build reads.
//!
//! BuildKit's `dockerfile2llb` is the reference for behaviour: base-image config
//! inheritance, ARG/ENV scoping, vertex names (`[stage 2/5] RUN …`), history, mounts,
//! COPY/ADD semantics and followpaths. This module never talks to the daemon, never reads
//! the context and never sees secret values (only their ids).

mod context_guess;
mod copy;
mod dispatch;
mod error;
mod image;
mod platform;
mod reference;
mod run;
mod stages;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;

pub use error::ConvertError;
pub use image::{Healthcheck, History, Image, ImageConfig, DEFAULT_PATH_ENV};
pub use platform::{host as host_platform, parse as parse_platform, parse_list as parse_platforms, PlatformError};
pub use reference::{Reference, ReferenceError};

use crate::dockerfile::Dockerfile;
use crate::llb;
use stages::{Base, Graph};

/// A base image's config, as the gateway's ResolveImageConfig returns it.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The reference the registry resolved to (normally the one asked for).
    pub reference: String,
    /// The manifest digest the image source is pinned to.
    pub digest: String,
    /// The raw image config JSON.
    pub config: Vec<u8>,
}

/// Resolves base images while converting (the gateway's ResolveImageConfig).
pub trait ImageResolver: Sync {
    /// `reference` is normalised (`docker.io/library/python:3.11-slim`); `log_name` is the
    /// progress name (`[internal] load metadata for …`). Errors are shown on the FROM line.
    fn resolve_image_config(
        &self,
        reference: &str,
        platform: &llb::Platform,
        log_name: &str,
    ) -> impl Future<Output = Result<ResolvedImage, String>> + Send;
}

/// A local directory served by the client's session: the main build context, or a
/// named one (`--build-context name=DIR`, used by `FROM name` / `COPY --from=name`).
#[derive(Debug, Clone, Default)]
pub struct LocalContext {
    /// The `local://` name the session serves it under.
    pub name: String,
    pub session_id: Option<String>,
    /// `.dockerignore` patterns.
    pub exclude_patterns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NoCache {
    #[default]
    None,
    All,
    /// Only these stages (`--no-cache-filter`).
    Stages(Vec<String>),
}

#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// The stage to build (`--target`); the last one when unset.
    pub target: Option<String>,
    /// Target platforms; empty means the build platform.
    pub platforms: Vec<llb::Platform>,
    /// The platform bentokit runs on (`BUILDPLATFORM`); the host when unset.
    pub build_platform: Option<llb::Platform>,
    pub build_args: BTreeMap<String, String>,
    /// Labels added to the target image.
    pub labels: BTreeMap<String, String>,
    pub no_cache: NoCache,
    /// The main context (`local://context` unless named otherwise).
    pub context: LocalContext,
    pub named_contexts: BTreeMap<String, LocalContext>,
    /// `--allow network.host`: lets `RUN --network=host` through.
    pub allow_network_host: bool,
    /// `--allow security.insecure`: lets `RUN --security=insecure` through.
    pub allow_security_insecure: bool,
    /// `--add-host host:ip` for every RUN.
    pub extra_hosts: Vec<(String, String)>,
}

/// The conversion for one target platform.
#[derive(Debug, Clone)]
pub struct Converted {
    pub platform: llb::Platform,
    pub definition: llb::Definition,
    pub image: Image,
    /// Context paths the build reads (`None`: the whole context).
    pub context_paths: Option<Vec<String>>,
}

/// Converts `df` for every target platform in `opts`.
pub async fn convert<R: ImageResolver>(df: &Dockerfile, opts: &ConvertOptions, resolver: &R) -> Result<Vec<Converted>, ConvertError> {
    let build_platform = opts.build_platform.clone().unwrap_or_else(platform::host);
    let targets = if opts.platforms.is_empty() { vec![build_platform.clone()] } else { opts.platforms.clone() };
    let multi = targets.len() > 1;
    let mut cache: HashMap<(String, llb::Platform), ResolvedImage> = HashMap::new();
    let mut out = Vec::with_capacity(targets.len());
    for target in &targets {
        out.push(convert_one(df, opts, &build_platform, target, multi, resolver, &mut cache).await?);
    }
    Ok(out)
}

async fn convert_one<R: ImageResolver>(
    df: &Dockerfile,
    opts: &ConvertOptions,
    build_platform: &llb::Platform,
    target: &llb::Platform,
    multi: bool,
    resolver: &R,
    cache: &mut HashMap<(String, llb::Platform), ResolvedImage>,
) -> Result<Converted, ConvertError> {
    // Global scope: the automatic platform args, then the ARGs before the first FROM, each
    // default expanded with what is declared before it (build args win).
    let lexer = df.lexer();
    let mut meta_env: HashMap<String, String> = platform::automatic_args(build_platform, target)
        .into_iter()
        .map(|(k, v)| {
            let v = opts.build_args.get(&k).cloned().unwrap_or(v);
            (k, v)
        })
        .collect();
    let mut meta_unset: HashSet<String> = HashSet::new();
    for arg in &df.meta_args {
        for def in &arg.args {
            let value = match (opts.build_args.get(&def.key), &def.default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(default)) => Some(
                    lexer
                        .process_word(default, &meta_env)
                        .map_err(|e| ConvertError::from(e).at(df, arg.source.location))?,
                ),
                (None, None) => None,
            };
            // BuildKit keeps a global `ARG X` without a value as a nil arg: it expands to
            // "" in FROM (shadowing an automatic platform arg) and gives a stage's `ARG X`
            // no value.
            match value {
                Some(v) => {
                    meta_unset.remove(&def.key);
                    meta_env.insert(def.key.clone(), v);
                }
                None => {
                    meta_unset.insert(def.key.clone());
                    meta_env.insert(def.key.clone(), String::new());
                }
            }
        }
    }

    let mut froms = Vec::with_capacity(df.stages.len());
    for stage in &df.stages {
        let from = stage.from.expand(&lexer, &meta_env)?.value;
        let platform = match &from.platform {
            Some(p) => Some(platform::parse(p).map_err(|e| {
                ConvertError::new(format!("failed to parse platform {p}: {e}")).at(df, stage.from.source.location)
            })?),
            None => None,
        };
        froms.push((from.base, platform));
    }
    let named = |name: &str| opts.named_contexts.contains_key(name);
    let graph = Graph::build(df, &froms, &named, opts.target.as_deref())?;
    let reachable = graph.reachable();

    // Resolve the base images the target needs, once per (image, platform).
    let mut bases: HashMap<usize, dispatch::ResolvedBase> = HashMap::new();
    for (n, node) in graph.nodes.iter().enumerate() {
        let Base::Image(text) = &node.base else { continue };
        if !reachable[n] {
            continue;
        }
        let reference = Reference::parse_normalized(text)
            .map_err(|e| ConvertError::new(format!("failed to parse stage name {text:?}: {e}")).at(df, node.location))?;
        let platform = node.platform.clone().unwrap_or_else(|| target.clone());
        let key = (reference.to_string(), platform.clone());
        if !cache.contains_key(&key) {
            let prefix = if multi { format!("[{platform} internal]") } else { "[internal]".to_string() };
            let log_name = format!("{prefix} load metadata for {reference}");
            let resolved = resolver
                .resolve_image_config(&key.0, &platform, &log_name)
                .await
                .map_err(|e| {
                    let msg = match node.stage {
                        Some(_) => format!("{text}: {e}"),
                        // A `--from` name that matched no stage was taken for an image.
                        None => format!("{text:?} is neither a build stage nor a resolvable image: {e}"),
                    };
                    ConvertError::new(msg).at(df, node.location)
                })?;
            cache.insert(key.clone(), resolved);
        }
        let resolved = &cache[&key];
        let image = Image::from_json(&resolved.config)
            .map_err(|e| ConvertError::new(format!("failed to parse image config of {reference}: {e}")).at(df, node.location))?;
        let pinned = match Reference::parse_normalized(&resolved.reference) {
            Ok(r) if r.name() != reference.name() => r,
            _ => reference.clone(),
        };
        let pinned = if resolved.digest.is_empty() { pinned } else { pinned.with_digest(&resolved.digest) };
        bases.insert(n, dispatch::ResolvedBase { reference: pinned.to_string(), image, platform });
    }

    let named_states: BTreeMap<String, llb::State> =
        opts.named_contexts.iter().map(|(name, ctx)| (name.clone(), local_state(ctx, None))).collect();
    let input = dispatch::Input { df, opts, graph: &graph, reachable: &reachable, bases: &bases, target, multi, meta_env: &meta_env, meta_unset: &meta_unset, named: &named_states };

    // Which context paths the build reads is known only after dispatching every stage, and
    // the context source must name them (followpaths) before it is created. Dispatch with
    // the paths the instructions name literally; when dispatch collected other ones
    // (variables, ONBUILD triggers), dispatch again with those.
    let guessed_set = context_guess::guess(df, &graph, &reachable);
    let guessed = normalize_context_paths(&guessed_set);
    let first = dispatch::run(&input, local_state(&opts.context, guessed.as_deref()))?;
    // Equal sets normalise equally: the common case needs no second list.
    let (result, paths) = if first.context_paths == guessed_set {
        (first, guessed)
    } else {
        let paths = normalize_context_paths(&first.context_paths);
        if paths == guessed {
            (first, paths)
        } else {
            (dispatch::run(&input, local_state(&opts.context, paths.as_deref()))?, paths)
        }
    };
    Ok(Converted { platform: target.clone(), definition: result.state.marshal(), image: result.image, context_paths: paths })
}

fn local_state(ctx: &LocalContext, follow_paths: Option<&[String]>) -> llb::State {
    let name = if ctx.name.is_empty() { "context" } else { ctx.name.as_str() };
    let mut local = llb::Local::new(name)
        .shared_key_hint(name)
        .constraints(llb::Constraints::new().custom_name(if name == "context" {
            "[internal] load build context".to_string()
        } else {
            format!("[context {name}] load from client")
        }));
    if let Some(session) = &ctx.session_id {
        local = local.session_id(session.clone());
    }
    if let Some(paths) = follow_paths {
        local = local.follow_paths(paths);
    }
    local.exclude_patterns(&ctx.exclude_patterns).finish()
}

/// BuildKit's `normalizeContextPaths`: `None` when the whole context is needed.
fn normalize_context_paths(paths: &BTreeSet<String>) -> Option<Vec<String>> {
    if paths.is_empty() || paths.contains("/") {
        return None;
    }
    let mut out: Vec<String> = paths.iter().map(|p| p.trim_start_matches('/').to_string()).collect();
    out.sort();
    Some(out)
}

#[cfg(test)]
mod tests;
