//! `bentokit containerize BENTO`: a Bento to an image, a drop-in for `bentoml containerize`.
//!
//! The Bento directory is served as the build context where it lives, and the models it
//! lists are mapped from the BentoML model store into `models/NAME/VERSION` of that
//! context by the file-sync sender — nothing is copied to a temporary directory, and only
//! what the Dockerfile reads is transferred.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use clap::Args;

use super::build::{execute, BuildFlags, BuildPlan};
use super::DaemonArgs;
use crate::bento::{Bento, BentoRef};
use crate::dockerfile;
use crate::progress::{TemplateLookup, TemplateOrigin};
use crate::session::LocalContext;
use crate::template::{self, RenderOptions};

#[derive(Debug, Args)]
pub struct ContainerizeCommand {
    /// A Bento directory, or NAME[:VERSION] in the BentoML store ($BENTOML_HOME, default ~/bentoml).
    #[arg(value_name = "BENTO")]
    pub bento: String,
    /// Build option as `bentoml containerize --opt` takes them: KEY=VALUE or KEY:VALUE
    /// (platform, build-arg, secret, ssh, target, label, progress, output, cache-from,
    /// cache-to, no-cache, add-host, metadata-file, push, tag, allow).
    #[arg(long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
    /// Use this Dockerfile template instead of the one stored in the Bento.
    #[arg(long, value_name = "PATH")]
    pub dockerfile_template: Option<std::path::PathBuf>,
    /// Read the base templates from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub templates_dir: Option<std::path::PathBuf>,
    /// Also install these BentoML extras (`pip install bentoml[f1,f2]`).
    #[arg(long, value_name = "f1,f2", value_delimiter = ',')]
    pub enable_features: Vec<String>,
    /// Builder backend; bentokit is its own BuildKit client, so only `buildkit` is accepted.
    #[arg(long, env = "BENTOML_CONTAINERIZE_BACKEND", value_name = "NAME")]
    pub backend: Option<String>,
    #[command(flatten)]
    pub flags: BuildFlags,
}

pub(super) async fn run(daemon: &DaemonArgs, mut cmd: ContainerizeCommand) -> anyhow::Result<()> {
    if let Some(backend) = cmd.backend.as_deref().filter(|b| !b.is_empty()) {
        if !backend.eq_ignore_ascii_case("buildkit") {
            bail!(
                "backend {backend:?} is not available: bentokit talks to BuildKit itself and needs no docker, podman or buildx\n\
                 hint: drop --backend (or BENTOML_CONTAINERIZE_BACKEND), or set it to buildkit"
            );
        }
    }
    for opt in std::mem::take(&mut cmd.opts) {
        apply_opt(&mut cmd.flags, &opt)?;
    }
    let bento = Bento::load(&BentoRef::parse(&cmd.bento)?)?;
    for warning in &bento.warnings {
        eprintln!("warning: {warning}");
    }
    warn_credential_build_args(&cmd.flags.build_args);

    let options = RenderOptions {
        dockerfile_template: cmd.dockerfile_template.clone(),
        templates_dir: cmd.templates_dir.clone(),
        features: cmd.enable_features.iter().filter(|f| !f.is_empty()).cloned().collect(),
        ..RenderOptions::default()
    };
    let rendered = Arc::new(template::render(&bento, &options)?);
    let dockerfile = dockerfile::parse(&rendered.text, "Dockerfile").map_err(|e| {
        let mut text = e.render();
        if let Some(origin) = e.span().and_then(|s| rendered.origin(s.line)) {
            text.push_str(&format!("Dockerfile:{} comes from template {}:{}\n", e.span().map_or(0, |s| s.line), template_name(origin), origin.line));
        }
        super::Rendered(text)
    })?;

    // The Bento is the context; models living in the store appear at models/NAME/VERSION.
    let mut context = LocalContext::new(&bento.path).with_dockerignore(None)?;
    for model in &bento.models {
        if !model.present {
            bail!(
                "model {}:{} of Bento {}:{} is not in the model store ({})\nhint: import or pull the model (bentoml models import/pull) first",
                model.name,
                model.version,
                bento.name,
                bento.version,
                model.path.display()
            );
        }
        if !model.path.starts_with(&bento.path) {
            context = context.with_mount(&format!("models/{}/{}", model.name, model.version), &model.path);
        }
    }

    if cmd.flags.tags.is_empty() && cmd.flags.outputs.is_empty() {
        cmd.flags.tags.push(format!("{}:{}", bento.name, bento.version));
    }
    if cmd.flags.outputs.is_empty() && !cmd.flags.push {
        // Keep the image in BuildKit's store under its tag; say how to get it out. Its layers
        // stay uncompressed: nothing has left the machine yet, and compressing a model of
        // gigabytes costs more than the rest of the build (an export or a push later
        // compresses from the cache as it needs).
        let names = cmd.flags.tags.join(",");
        cmd.flags.outputs.push(format!("type=image,\"name={names}\",compression=uncompressed"));
        cmd.flags.tags.clear();
        eprintln!(
            "bentokit: the image stays in BuildKit's cache; export it with --output type=oci,dest=FILE \
             (or type=docker,dest=FILE for `docker load`), or push it with --push"
        );
    }
    let lookup_source = rendered.clone();
    let lookup: TemplateLookup = Arc::new(move |file: &str, line: u32| {
        if file != "Dockerfile" {
            return None;
        }
        let origin = lookup_source.origin(line as usize)?;
        Some(TemplateOrigin { file: template_name(origin), line: origin.line as u32 })
    });
    let plan = BuildPlan {
        dockerfile,
        context,
        named_contexts: BTreeMap::new(),
        flags: cmd.flags,
        template_lookup: Some(lookup),
        check_base_user: bento.docker.base_image.clone(),
    };
    execute(daemon, plan).await
}

fn template_name(origin: &template::SourceLocation) -> String {
    origin.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| origin.template.clone())
}

/// Maps one `--opt` of `bentoml containerize` onto the build flags.
fn apply_opt(flags: &mut BuildFlags, opt: &str) -> anyhow::Result<()> {
    // KEY=VALUE or KEY:VALUE, whichever separator comes first (`build-arg:FOO=1`).
    let cut = opt.find(['=', ':']);
    let (key, value) = match cut {
        Some(i) => (&opt[..i], Some(opt[i + 1..].to_string())),
        None => (opt, None),
    };
    let need = |v: Option<String>| v.filter(|v| !v.is_empty()).ok_or_else(|| anyhow!("--opt {opt:?}: {key} needs a value"));
    let truthy = |v: &Option<String>| v.as_deref().map_or(true, |v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0" | "no"));
    match key.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "platform" => flags.platforms.push(need(value)?),
        "build-arg" => flags.build_args.push(need(value)?),
        "secret" => flags.secrets.push(need(value)?),
        "ssh" => flags.ssh.push(value.unwrap_or_else(|| "default".into())),
        "target" => flags.target = Some(need(value)?),
        "label" => flags.labels.push(need(value)?),
        "progress" => flags.progress = need(value)?.parse()?,
        "output" | "o" => flags.outputs.push(need(value)?),
        "cache-from" => flags.cache_from.push(need(value)?),
        "cache-to" => flags.cache_to.push(need(value)?),
        "no-cache" => flags.no_cache = truthy(&value),
        "no-cache-filter" => flags.no_cache_filter.push(need(value)?),
        "add-host" => flags.add_hosts.push(need(value)?),
        "metadata-file" => flags.metadata_file = Some(need(value)?.into()),
        "push" => flags.push = truthy(&value),
        "tag" | "t" => flags.tags.push(need(value)?),
        "allow" => flags.allow.push(need(value)?),
        "network" => match value.as_deref() {
            None | Some("default") => {}
            Some(other) => bail!(
                "--opt network={other}: a build-wide network is not supported; use RUN --network=host in a custom \
                 template together with --opt allow=network.host"
            ),
        },
        "load" => bail!("--opt load: there is no docker daemon to load into; use --output type=docker,dest=FILE and `docker load -i FILE`"),
        other => bail!(
            "--opt {opt:?}: unknown option {other:?}; supported: platform, build-arg, secret, ssh, target, label, progress, \
             output, cache-from, cache-to, no-cache, no-cache-filter, add-host, metadata-file, push, tag, allow, network"
        ),
    }
    Ok(())
}

/// Build args end up in image history and, via ENV, in the image: credentials belong in
/// secrets (BentoML's own docs show the ARG recipe first; this points the other way).
fn warn_credential_build_args(build_args: &[String]) {
    const MARKERS: [&str; 7] = ["SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "ACCESS_KEY", "PRIVATE_KEY"];
    for arg in build_args {
        let name = arg.split('=').next().unwrap_or(arg).to_ascii_uppercase();
        if MARKERS.iter().any(|m| name.contains(m)) || name == "AWS_SECRET_ACCESS_KEY" || name.ends_with("_KEY") {
            eprintln!(
                "warning: build-arg {name} looks like a credential; build args are stored in the image history. \
                 Pass it as a secret instead: --secret id={},env={name} and RUN --mount=type=secret,id={} in the template",
                name.to_ascii_lowercase(),
                name.to_ascii_lowercase()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opts_map_to_flags() {
        let mut f = BuildFlags::default();
        for o in ["platform=linux/amd64", "build-arg=FOO=1", "build-arg:BAR=2", "secret=id=aws,src=x", "no-cache", "progress=plain", "push=false"] {
            apply_opt(&mut f, o).unwrap();
        }
        assert_eq!(f.platforms, vec!["linux/amd64"]);
        assert_eq!(f.build_args, vec!["FOO=1", "BAR=2"]);
        assert_eq!(f.secrets, vec!["id=aws,src=x"]);
        assert!(f.no_cache && !f.push);
        assert!(apply_opt(&mut f, "bogus=1").is_err());
        assert!(apply_opt(&mut f, "network=host").is_err());
        assert!(apply_opt(&mut f, "target").is_err());
    }
}
