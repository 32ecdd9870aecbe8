//! `bentokit dockerfile BENTO`: prints the Dockerfile `containerize` will build. Never
//! connects to buildkitd.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::bento::{Bento, BentoRef};
use crate::template::{self, RenderOptions};

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    /// A Bento directory, or NAME[:VERSION] in the BentoML store ($BENTOML_HOME, default ~/bentoml).
    #[arg(value_name = "BENTO")]
    pub bento: String,
    /// Use this Dockerfile template instead of the one stored in the Bento.
    #[arg(long, value_name = "PATH")]
    pub dockerfile_template: Option<PathBuf>,
    /// Read the base templates from this directory instead of the built-in ones (development).
    #[arg(long, value_name = "DIR")]
    pub templates_dir: Option<PathBuf>,
    /// Also install these BentoML extras: `pip install bentoml[f1,f2]`.
    #[arg(long, value_name = "f1,f2", value_delimiter = ',')]
    pub enable_features: Vec<String>,
}

pub fn run(args: DockerfileArgs) -> anyhow::Result<()> {
    let reference = BentoRef::parse(&args.bento)?;
    let bento = Bento::load(&reference)?;
    for warning in &bento.warnings {
        eprintln!("warning: {warning}");
    }
    let options = RenderOptions {
        dockerfile_template: args.dockerfile_template,
        templates_dir: args.templates_dir,
        features: args.enable_features.into_iter().filter(|f| !f.is_empty()).collect(),
        // Printing needs no line map.
        skip_line_map: true,
        ..RenderOptions::default()
    };
    let rendered = template::render(&bento, &options)?;
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.text.as_bytes())?;
    if !rendered.text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
