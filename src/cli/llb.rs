//! `bentokit llb`: the LLB a Dockerfile converts to, without building it — as readable
//! JSON (one op per entry, like `buildctl debug dump-llb`) or as the marshalled
//! Definition that `buildctl build` reads on stdin. Base images are resolved through the
//! daemon's gateway, so digests are pinned exactly as a build would pin them.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};

use super::build::{parse_key_values, read_dockerfile, GatewayResolver};
use super::DaemonArgs;
use crate::convert::{self, ConvertOptions};
use crate::session::LocalContext;
use crate::solve::{Build, BuildOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LlbFormat {
    Json,
    Pb,
}

#[derive(Debug, Args)]
pub struct LlbCommand {
    /// Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = LlbFormat::Json)]
    pub format: LlbFormat,
    /// Target platforms, comma-separated (JSON shows one definition per platform).
    #[arg(long = "platform", value_name = "PLATFORMS")]
    pub platforms: Vec<String>,
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Entitlements the definition may use: network.host, security.insecure.
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
    /// The build context directory (its .dockerignore applies).
    pub context: PathBuf,
}

pub(super) async fn run(daemon: &DaemonArgs, cmd: LlbCommand) -> anyhow::Result<()> {
    let dockerfile_path = cmd.file.clone().unwrap_or_else(|| cmd.context.join("Dockerfile"));
    let dockerfile = read_dockerfile(&dockerfile_path)?;
    let context = LocalContext::new(&cmd.context)
        .with_dockerignore(Some(&dockerfile_path))
        .with_context(|| format!("cannot read the .dockerignore of {}", cmd.context.display()))?;
    let mut platforms = Vec::new();
    for p in &cmd.platforms {
        platforms.extend(convert::parse_platforms(p)?);
    }
    if cmd.format == LlbFormat::Pb && platforms.len() > 1 {
        bail!("--format pb writes one Definition: give a single --platform");
    }
    for a in &cmd.allow {
        if a != "network.host" && a != "security.insecure" {
            bail!("--allow {a:?}: unknown entitlement; use network.host or security.insecure");
        }
    }
    let conn = super::connect(daemon).await?;
    let mut locals = HashMap::new();
    locals.insert("context".to_string(), context.clone());
    let build = Build::start(conn.channel.clone(), BuildOptions { locals, ..Default::default() }).await?;
    let opts = ConvertOptions {
        target: cmd.target.clone(),
        platforms,
        build_args: parse_key_values("--build-arg", &cmd.build_args, true)?,
        context: convert::LocalContext { name: "context".into(), session_id: None, exclude_patterns: context.excludes().to_vec() },
        allow_network_host: cmd.allow.iter().any(|a| a == "network.host"),
        allow_security_insecure: cmd.allow.iter().any(|a| a == "security.insecure"),
        ..Default::default()
    };
    let converted = convert::convert(&dockerfile, &opts, &GatewayResolver(build.gateway())).await;
    // Nothing is built: end the gateway session the resolution needed.
    let _ = build.fail("bentokit llb: conversion only, nothing to build").await;
    let converted = converted.map_err(|e| super::Rendered(e.render()))?;

    let mut out = std::io::stdout().lock();
    match cmd.format {
        LlbFormat::Pb => out.write_all(&converted[0].definition.to_bytes())?,
        LlbFormat::Json => {
            let dumps = converted
                .iter()
                .map(|c| {
                    Ok(serde_json::json!({
                        "platform": c.platform.to_string(),
                        "ops": c.definition.dump()?,
                        "image": serde_json::from_slice::<serde_json::Value>(&c.image.to_json())?,
                    }))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let value = if dumps.len() == 1 { dumps.into_iter().next().unwrap_or_default() } else { serde_json::Value::Array(dumps) };
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
    }
    out.flush()?;
    Ok(())
}
