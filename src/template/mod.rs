//! Dockerfile templates: renders the Dockerfile for a [`Bento`] the way BentoML 1.1's
//! `generate_containerfile` does, with BuildKit features on.
//!
//! In: a loaded Bento and [`RenderOptions`]. Out: a [`RenderedDockerfile`] (the text plus,
//! per line, the template file and line it came from). Our own templates (`templates/`,
//! embedded with `include_str!`) are searched first, then the user template's directory.
//! User templates written for BentoML (`{% extends bento_base_template %}`, `{{ super() }}`,
//! `{% import '_macros.j2' as common %}`, top-level `{% set bento__user = … %}`) work
//! unchanged. This module never touches the network or buildkitd and never prints.

mod context;
mod error;
mod sourcemap;
mod sources;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::{AutoEscape, Environment};

use crate::bento::Bento;

pub use error::{SourceLocation, TemplateError};

/// The extras `bentoml containerize --enable-features` accepts (BentoML 1.1.11's list).
pub const FEATURES: [&str; 16] = [
    "tracing",
    "grpc",
    "grpc-reflection",
    "grpc-channelz",
    "monitor-otlp",
    "triton",
    "aws",
    "all",
    "io",
    "io-file",
    "io-image",
    "io-pandas",
    "io-json",
    "tracing-zipkin",
    "tracing-jaeger",
    "tracing-otlp",
];

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// A Dockerfile template to use instead of the one stored in the Bento.
    pub dockerfile_template: Option<PathBuf>,
    /// Read our templates from this directory (falling back to the embedded ones).
    pub templates_dir: Option<PathBuf>,
    /// BentoML extras to `pip install bentoml[...]` at the end (validated against [`FEATURES`]).
    pub features: Vec<String>,
    /// Write BentoML's "GENERATED DOCKERFILE" banner (off, as in `bentoml containerize`).
    pub add_header: bool,
    /// Overrides for the `bento__*` variables, e.g. `("user", "app")`.
    pub overrides: Vec<(String, String)>,
    /// Do not compute [`RenderedDockerfile::origin`] (it costs a second render, ~0.4 ms).
    pub skip_line_map: bool,
}

/// A rendered Dockerfile.
#[derive(Debug, Clone)]
pub struct RenderedDockerfile {
    pub text: String,
    /// The base template chosen for the Bento, e.g. `python_debian.j2`.
    pub base_template: String,
    /// The user template, when one was used.
    pub user_template: Option<PathBuf>,
    /// One entry per line of `text`: the template line it came from, when known.
    origins: Vec<Option<SourceLocation>>,
}

impl RenderedDockerfile {
    /// Where 1-based line `line` of the Dockerfile came from; `None` when it is not known
    /// (e.g. the `--enable-features` line, or a template whose mapping was discarded).
    pub fn origin(&self, line: usize) -> Option<&SourceLocation> {
        self.origins.get(line.checked_sub(1)?)?.as_ref()
    }

    /// Every line with its 1-based number and origin, for annotated listings.
    pub fn lines_with_origins(&self) -> impl Iterator<Item = (usize, &str, Option<&SourceLocation>)> {
        self.text.lines().enumerate().map(|(i, line)| (i + 1, line, self.origin(i + 1)))
    }
}

/// The base template BentoML would pick for this Bento.
pub fn base_template_name(bento: &Bento) -> String {
    if bento.docker.base_image.is_some() {
        return "base.j2".into();
    }
    let distro = bento.docker.distro.map(|d| d.as_str()).unwrap_or("debian");
    format!("{}_{distro}.j2", bento.release_type().as_str())
}

/// Renders the Bento's Dockerfile.
pub fn render(bento: &Bento, options: &RenderOptions) -> Result<RenderedDockerfile, TemplateError> {
    check_features(&options.features)?;
    if let Some(dir) = &options.templates_dir {
        if !dir.is_dir() {
            return Err(TemplateError::TemplatesDir { path: dir.clone() });
        }
    }
    let base_template = base_template_name(bento);
    let user_path = options.dockerfile_template.clone().or_else(|| bento.dockerfile_template.clone());
    let user_template = match &user_path {
        Some(path) => {
            std::fs::metadata(path).map_err(|source| TemplateError::ReadTemplate { path: path.clone(), source })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "Dockerfile.template".into());
            Some((name, path.clone()))
        }
        None => None,
    };
    let search =
        sources::SearchPath { templates_dir: options.templates_dir.clone(), user_template: user_template.clone() };
    let entry = user_template.as_ref().map(|(n, _)| n.clone()).unwrap_or_else(|| base_template.clone());
    let vars = context::variables(bento, options.add_header, &options.overrides);

    let plain = Renderer::new(&search, &base_template, false);
    let mut text = plain.render(&entry, &vars)?;
    if let Some((_, path)) = &user_template {
        if !plain.base_used.load(Ordering::Relaxed) {
            return Err(TemplateError::DoesNotExtendBase { path: path.clone() });
        }
    }

    let mut origins =
        if options.skip_line_map { Vec::new() } else { line_map(&search, &base_template, &entry, &vars, &text) };

    if !options.features.is_empty() {
        // BentoML joins the Dockerfile and this line with a newline.
        text.push('\n');
        text.push_str(&format!(
            "RUN --mount=type=cache,target=/root/.cache/pip pip install bentoml[{}]",
            options.features.join(",")
        ));
    }
    origins.resize(text.split_inclusive('\n').count(), None);
    Ok(RenderedDockerfile { text, base_template, user_template: user_path, origins })
}

fn check_features(features: &[String]) -> Result<(), TemplateError> {
    let unknown: Vec<&str> = features.iter().map(String::as_str).filter(|f| !FEATURES.contains(f)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(TemplateError::UnknownFeature { unknown: unknown.join(", "), available: FEATURES.join(", ") })
}

/// Renders again from instrumented sources to map each line of `text` to a template line;
/// empty when instrumenting changed the output (the map would be wrong).
fn line_map(
    search: &sources::SearchPath,
    base_template: &str,
    entry: &str,
    vars: &std::collections::BTreeMap<String, minijinja::Value>,
    text: &str,
) -> Vec<Option<SourceLocation>> {
    let instrumented = Renderer::new(search, base_template, true);
    let Ok(out) = instrumented.render(entry, vars) else { return Vec::new() };
    let names = instrumented.file_names();
    let sources: Vec<Option<sources::Source>> = names.iter().map(|n| search.find(n).ok().flatten()).collect();
    let is_caller_line = |id: usize, line: usize| {
        let text = sources.get(id).and_then(|s| s.as_ref()).and_then(|s| s.text.lines().nth(line.wrapping_sub(1)));
        text.is_some_and(|t| t.contains("caller()"))
    };
    let (stripped, lines) = sourcemap::extract(&out, is_caller_line);
    if stripped != text {
        return Vec::new();
    }
    let paths: Vec<Option<PathBuf>> = sources.iter().map(|s| s.as_ref().and_then(|s| s.path.clone())).collect();
    lines
        .into_iter()
        .map(|o| {
            let (id, line) = o?;
            Some(SourceLocation { template: names.get(id)?.clone(), path: paths.get(id)?.clone(), line })
        })
        .collect()
}

/// One minijinja environment over the search path.
struct Renderer {
    env: Environment<'static>,
    base_used: Arc<AtomicBool>,
    /// Template names by marker id (instrumented renders only).
    ids: Arc<Mutex<Vec<String>>>,
    search: sources::SearchPath,
}

impl Renderer {
    fn new(search: &sources::SearchPath, base_template: &str, instrument: bool) -> Renderer {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        let ids: Arc<Mutex<Vec<String>>> = Arc::default();
        let loader_search = search.clone();
        let loader_ids = ids.clone();
        env.set_loader(move |name| {
            let source = loader_search.find(name).map_err(|e| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("cannot read template {name}: {e}"),
                )
            })?;
            Ok(source.map(|s| {
                if instrument {
                    // A poisoned lock only means another render panicked; the list is still usable.
                    let mut ids = loader_ids.lock().unwrap_or_else(|p| p.into_inner());
                    ids.push(name.to_string());
                    sourcemap::instrument(&s.text, ids.len() - 1)
                } else {
                    s.text.into_owned()
                }
            }))
        });
        env.add_global("bento_base_template", base_template);
        env.add_function("expands_bento_path", context::expands_bento_path);
        env.add_filter("bash_quote", context::bash_quote);
        env.add_filter("dockerfile_env_value", context::dockerfile_env_value);
        let base_used = Arc::new(AtomicBool::new(false));
        let flag = base_used.clone();
        env.add_function("__bentokit_base_template_used__", move || {
            flag.store(true, Ordering::Relaxed);
        });
        Renderer { env, base_used, ids, search: search.clone() }
    }

    fn render(
        &self,
        entry: &str,
        vars: &std::collections::BTreeMap<String, minijinja::Value>,
    ) -> Result<String, TemplateError> {
        let template = self.env.get_template(entry).map_err(|e| self.convert(e))?;
        template.render(vars).map_err(|e| self.convert(e))
    }

    fn file_names(&self) -> Vec<String> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn convert(&self, e: minijinja::Error) -> TemplateError {
        let message = match e.detail() {
            Some(detail) => format!("{}: {detail}", e.kind()),
            None => e.kind().to_string(),
        };
        let (Some(name), Some(line)) = (e.name(), e.line()) else {
            return TemplateError::Unplaced { message: e.to_string() };
        };
        let source = self.search.find(name).ok().flatten();
        let source_line = source.as_ref().and_then(|s| s.text.lines().nth(line - 1)).map(|l| l.trim_end().to_string());
        let path = source.and_then(|s| s.path);
        TemplateError::Render {
            location: SourceLocation { template: name.to_string(), path, line },
            message,
            source_line,
        }
    }
}
