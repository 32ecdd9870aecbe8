//! `bentokit build`: a Dockerfile and its context to an image, like `buildctl build` with
//! the dockerfile frontend — but converted here, so the result does not depend on the
//! daemon's frontend. Also the shared pipeline `containerize` runs: parse → connect and
//! open the session → convert (resolving base images through the gateway) → solve and
//! export → progress and result.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use clap::Args;

use super::DaemonArgs;
use crate::convert::{self, ConvertOptions, ImageResolver, NoCache, ResolvedImage};
use crate::dockerfile::{self, Dockerfile};
use crate::llb;
use crate::progress::{self, ProgressMode, ProgressOptions, SecretMasker, TemplateLookup};
use crate::session::{LocalContext, SecretSource, SecretSpec, SshSpec};
use crate::solve::{self, Build, BuildOptions, CacheSpec, ExportSpec, Gateway, PlatformResult};

/// Flags shared by `build` and `containerize` (buildctl/buildx spellings).
#[derive(Debug, Clone, Default, Args)]
pub struct BuildFlags {
    /// Target stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Build-time variable (KEY=VALUE, or KEY to take it from the environment).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Image label (KEY=VALUE).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Target platforms, comma-separated or repeated (e.g. linux/amd64,linux/arm64).
    #[arg(long = "platform", value_name = "PLATFORMS")]
    pub platforms: Vec<String>,
    /// Secret for RUN --mount=type=secret: id=NAME,src=PATH or id=NAME,env=VARIABLE.
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// SSH agent or keys for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK), ID=AGENT_SOCKET,
    /// or ID=KEY[,KEY…] (unencrypted OpenSSH private key files, served by a built-in agent).
    #[arg(long = "ssh", value_name = "SPEC")]
    pub ssh: Vec<String>,
    /// Output (buildctl syntax): type=image,name=…[,push=true] | type=oci|docker|tar,dest=FILE | type=local,dest=DIR.
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    pub outputs: Vec<String>,
    /// Image name (shortcut for --output type=image,name=NAME).
    #[arg(short = 't', long = "tag", visible_alias = "image-tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// Push the tagged images.
    #[arg(long)]
    pub push: bool,
    /// Cache source: type=registry,ref=….
    #[arg(long = "cache-from", value_name = "SPEC")]
    pub cache_from: Vec<String>,
    /// Cache destination: type=registry,ref=…[,mode=max] | type=inline.
    #[arg(long = "cache-to", value_name = "SPEC")]
    pub cache_to: Vec<String>,
    /// Do not use the build cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not use the build cache for these stages.
    #[arg(long = "no-cache-filter", value_name = "STAGE")]
    pub no_cache_filter: Vec<String>,
    /// Progress output: auto, tty, plain, rawjson or quiet (default: $BUILDKIT_PROGRESS, else auto).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Write the exporter's response (digest, descriptor, image name) to FILE as JSON.
    #[arg(long = "metadata-file", value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// Extra entitlements: network.host, security.insecure.
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
    /// Extra /etc/hosts entries for RUN (HOST:IP).
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildCommand {
    /// Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Additional build context: NAME=DIR (used by FROM NAME and COPY --from=NAME).
    #[arg(long = "build-context", value_name = "NAME=DIR")]
    pub build_contexts: Vec<String>,
    #[command(flatten)]
    pub flags: BuildFlags,
    /// The build context directory.
    pub context: PathBuf,
}

/// Everything a build needs, from whichever command set it up.
pub(crate) struct BuildPlan {
    pub dockerfile: Dockerfile,
    /// The main context: its directory (plus virtual mounts) and `.dockerignore` patterns.
    pub context: LocalContext,
    pub named_contexts: BTreeMap<String, LocalContext>,
    pub flags: BuildFlags,
    /// Rendered Dockerfile line → template line, for Bentos.
    pub template_lookup: Option<TemplateLookup>,
    /// A Bento's custom base image: say so before building when it does not run as root.
    pub check_base_user: Option<String>,
}

pub(super) async fn run(daemon: &DaemonArgs, cmd: BuildCommand) -> anyhow::Result<()> {
    let dockerfile_path = cmd.file.clone().unwrap_or_else(|| cmd.context.join("Dockerfile"));
    let dockerfile = read_dockerfile(&dockerfile_path)?;
    let context = LocalContext::new(&cmd.context)
        .with_dockerignore(Some(&dockerfile_path))
        .with_context(|| format!("cannot read the .dockerignore of {}", cmd.context.display()))?;
    if !cmd.context.is_dir() {
        bail!("the build context {} is not a directory", cmd.context.display());
    }
    let mut named_contexts = BTreeMap::new();
    for spec in &cmd.build_contexts {
        let (name, dir) = spec.split_once('=').ok_or_else(|| anyhow!("--build-context {spec:?}: expected NAME=DIR"))?;
        let dir = Path::new(dir);
        if !dir.is_dir() {
            bail!("--build-context {name}={}: not a directory (only local directories are supported)", dir.display());
        }
        named_contexts.insert(name.to_string(), LocalContext::new(dir).with_dockerignore(None)?);
    }
    execute(daemon, BuildPlan { dockerfile, context, named_contexts, flags: cmd.flags, template_lookup: None, check_base_user: None }).await
}

/// Reads and parses a Dockerfile; errors show the BuildKit-style excerpt.
pub(crate) fn read_dockerfile(path: &Path) -> anyhow::Result<Dockerfile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the Dockerfile {}", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "Dockerfile".into());
    dockerfile::parse(&text, &name).map_err(|e| super::Rendered(e.render()).into())
}

/// Runs a build end to end. Ctrl-C cancels it on the daemon (exit code 130).
pub(crate) async fn execute(daemon: &DaemonArgs, plan: BuildPlan) -> anyhow::Result<()> {
    let flags = &plan.flags;
    let secrets = flags.secrets.iter().map(|s| SecretSpec::parse(s)).collect::<Result<Vec<_>, _>>()?;
    for s in &secrets {
        // Like buildx: a file that is not there is the user's typo, not a missing secret.
        if let SecretSource::File(path) = &s.source {
            if let Err(e) = std::fs::File::open(path) {
                bail!("--secret id={}: cannot read {}: {e}", s.id, path.display());
            }
        }
    }
    let ssh = flags.ssh.iter().map(|s| SshSpec::parse(s)).collect::<Result<Vec<_>, _>>()?;
    let mut exports = flags.outputs.iter().map(|s| ExportSpec::parse(s)).collect::<Result<Vec<_>, _>>()?;
    solve::apply_tags_and_push(&mut exports, &flags.tags, flags.push)?;
    let cache_imports = flags.cache_from.iter().map(|s| CacheSpec::parse_import(s)).collect::<Result<Vec<_>, _>>()?;
    let cache_exports = flags.cache_to.iter().map(|s| CacheSpec::parse_export(s)).collect::<Result<Vec<_>, _>>()?;
    let mut platforms = Vec::new();
    for p in &flags.platforms {
        for platform in convert::parse_platforms(p)? {
            if !platforms.contains(&platform) {
                platforms.push(platform);
            }
        }
    }
    let mut entitlements = Vec::new();
    for a in &flags.allow {
        match a.as_str() {
            "network.host" | "security.insecure" => entitlements.push(a.clone()),
            other => bail!("--allow {other:?}: unknown entitlement; use network.host or security.insecure"),
        }
    }
    let build_args = parse_key_values("--build-arg", &flags.build_args, true)?;
    let labels = parse_key_values("--label", &flags.labels, false)?;
    let extra_hosts = flags
        .add_hosts
        .iter()
        .map(|h| h.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| anyhow!("--add-host {h:?}: expected HOST:IP")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mode = flags.progress.resolve_for_stderr()?;
    let masker = SecretMasker::new(secret_values(&secrets));

    // One Ctrl-C listener for the whole build, so a signal between steps is not lost; before
    // the solve starts, dropping what is under way is all the cancelling there is to do.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let conn = tokio::select! {
        r = super::connect(daemon) => r?,
        _ = &mut interrupted => return Err(super::Cancelled.into()),
    };
    let mut locals = HashMap::new();
    locals.insert("context".to_string(), plan.context.clone());
    for (name, ctx) in &plan.named_contexts {
        locals.insert(name.clone(), ctx.clone());
    }
    let options = BuildOptions {
        exports,
        cache_imports,
        cache_exports,
        secrets,
        ssh,
        locals,
        entitlements: entitlements.clone(),
        auth: None,
        shared_key: Some(crate::session::shared_key_for(&[plan.context.root()])),
        metadata_file: flags.metadata_file.clone(),
    };
    let mut build = tokio::select! {
        r = Build::start(conn.channel.clone(), options) => r?,
        _ = &mut interrupted => return Err(super::Cancelled.into()),
    };
    let status = build.take_status();

    if let Some(base) = &plan.check_base_user {
        warn_non_root_base(build.gateway(), base, &platforms).await;
    }
    let session = build.session_id().to_string();
    let convert_opts = ConvertOptions {
        target: flags.target.clone(),
        platforms,
        build_platform: None,
        build_args,
        labels,
        no_cache: if flags.no_cache {
            NoCache::All
        } else if !flags.no_cache_filter.is_empty() {
            NoCache::Stages(flags.no_cache_filter.clone())
        } else {
            NoCache::None
        },
        context: convert::LocalContext {
            name: "context".into(),
            session_id: Some(session.clone()),
            exclude_patterns: plan.context.excludes().to_vec(),
        },
        named_contexts: plan
            .named_contexts
            .iter()
            .map(|(name, ctx)| {
                let c = convert::LocalContext { name: name.clone(), session_id: Some(session.clone()), exclude_patterns: ctx.excludes().to_vec() };
                (name.clone(), c)
            })
            .collect(),
        allow_network_host: entitlements.iter().any(|e| e == "network.host"),
        allow_security_insecure: entitlements.iter().any(|e| e == "security.insecure"),
        extra_hosts,
    };
    let resolver = GatewayResolver(build.gateway());
    let converting = tokio::select! {
        r = convert::convert(&plan.dockerfile, &convert_opts, &resolver) => r,
        // Dropping the build cancels it (and the image resolution) on the daemon.
        _ = &mut interrupted => return Err(super::Cancelled.into()),
    };
    let converted = match converting {
        Ok(c) => c,
        Err(e) => {
            let _ = build.fail(e.message()).await;
            return Err(super::Rendered(e.render()).into());
        }
    };

    let mut progress_opts = ProgressOptions::new(mode);
    progress_opts.secrets = masker;
    progress_opts.template_lookup = plan.template_lookup.clone();
    for c in &converted {
        progress_opts.source_map.extend(progress::SourceMap::from_definition(c.definition.as_pb()));
    }
    let printer = progress::Progress::start(progress_opts);
    // The printer takes every status message until the daemon ends the stream.
    let mut status = status;
    let forward = tokio::spawn(async move {
        if let Some(rx) = status.as_mut() {
            while let Some(msg) = rx.recv().await {
                printer.push(msg);
            }
        }
        tokio::task::block_in_place(|| printer.finish())
    });

    let results: Vec<PlatformResult> = converted
        .iter()
        .map(|c| PlatformResult { platform: c.platform.to_pb(), definition: c.definition.as_pb().clone(), image_config: c.image.to_json() })
        .collect();
    let outcome = tokio::select! {
        r = build.finish(results) => r,
        _ = &mut interrupted => {
            // The build was dropped with the other branch: its solve is aborted, which
            // cancels it on the daemon; show what the daemon reports, briefly.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), forward).await;
            return Err(super::Cancelled.into());
        }
    };
    let summary = match tokio::time::timeout(std::time::Duration::from_secs(10), forward).await {
        Ok(Ok(summary)) => summary,
        _ => progress::BuildSummary::default(),
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            if let Some(failure) = summary.failures.first() {
                // The step's own error reads better than the solve's, but keep the hint.
                let hint = match &e {
                    solve::BuildError::Daemon { hint, .. } => hint.as_str(),
                    _ => "",
                };
                return Err(anyhow!("failed to solve: {}: {}{hint}", failure.name, failure.error));
            }
            return Err(e.into());
        }
    };
    let response: HashMap<String, String> = outcome.exporter_response.into_iter().collect();
    progress::print_result(&response)?;
    // Quiet means errors only.
    if mode != progress::ResolvedMode::Quiet && response.get("containerimage.digest").is_none() && flags.outputs.is_empty() && flags.tags.is_empty() {
        eprintln!("bentokit: built; the result stays in the BuildKit cache (add --output type=oci,dest=image.tar, or -t NAME --push, to export it)");
    }
    Ok(())
}

/// BentoML issue #4506: a base image that runs as another user breaks `groupadd` in
/// templates that do not switch to root. Ours do; say what happens either way.
async fn warn_non_root_base(gateway: &Gateway, base: &str, platforms: &[llb::Platform]) {
    let Ok(reference) = convert::Reference::parse_normalized(base) else { return };
    let platform = platforms.first().cloned().unwrap_or_else(convert::host_platform);
    let Ok(resolved) = gateway.resolve_image_config(&reference.to_string(), &platform.to_pb()).await else { return };
    let Ok(image) = convert::Image::from_json(&resolved.config_json) else { return };
    let user = image.config.user.trim();
    if !user.is_empty() && !matches!(user, "root" | "0" | "0:0" | "root:root") {
        eprintln!(
            "note: the base image {base} runs as user {user:?}, not root. Installing packages and creating the \
             bentoml user need root: bentokit's templates switch with `USER root` first; a custom template \
             that overrides SETUP_BENTO_BASE_IMAGE must do the same (see BentoML issue #4506)."
        );
    }
}

/// `KEY=VALUE` flags into a map; with `from_env`, a bare `KEY` takes the environment's value.
pub(crate) fn parse_key_values(flag: &str, values: &[String], from_env: bool) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for v in values {
        match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => {
                out.insert(k.to_string(), val.to_string());
            }
            None if from_env && !v.is_empty() => {
                if let Ok(val) = std::env::var(v) {
                    out.insert(v.clone(), val);
                }
            }
            _ => bail!("{flag} {v:?}: expected KEY=VALUE"),
        }
    }
    Ok(out)
}

/// The values of the secrets given, so that progress output can mask them.
fn secret_values(specs: &[SecretSpec]) -> Vec<String> {
    specs
        .iter()
        .filter_map(|s| match &s.source {
            SecretSource::Env(var) => std::env::var(var).ok(),
            SecretSource::File(path) => std::fs::read_to_string(path).ok().filter(|v| v.len() < 64 * 1024),
        })
        .flat_map(|v| {
            // Mask each line of multi-line secrets (credential files) as well as the whole.
            let lines: Vec<String> = v.lines().map(str::trim).filter(|l| l.len() >= 4).map(str::to_string).collect();
            std::iter::once(v.trim().to_string()).chain(lines)
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// Base-image resolution through the build's gateway.
pub(crate) struct GatewayResolver<'a>(pub &'a Gateway);

impl ImageResolver for GatewayResolver<'_> {
    async fn resolve_image_config(&self, reference: &str, platform: &llb::Platform, log_name: &str) -> Result<ResolvedImage, String> {
        let resolved = self.0.resolve_image_config_named(reference, &platform.to_pb(), log_name).await.map_err(|e| e.to_string())?;
        Ok(ResolvedImage { reference: reference.to_string(), digest: resolved.digest, config: resolved.config_json })
    }
}
