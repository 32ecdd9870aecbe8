//! The template module's error type and the template locations it reports.

use std::path::PathBuf;

/// Where a template line is, for messages: a user file or one of our embedded templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The template's name on the search path (e.g. `python_debian.j2`, `Dockerfile.template`).
    pub template: String,
    /// The file it was read from; `None` for templates built into bentokit.
    pub path: Option<PathBuf>,
    /// 1-based.
    pub line: usize,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}:{}", p.display(), self.line),
            None => write!(f, "{} (built into bentokit):{}", self.template, self.line),
        }
    }
}

/// Errors from choosing, loading and rendering Dockerfile templates.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template failed to parse or render. `source_line` is the offending line's text.
    #[error("{location}: {message}{}", source_line.as_ref().map(|l| format!("\n  | {l}")).unwrap_or_default())]
    Render { location: SourceLocation, message: String, source_line: Option<String> },

    /// A template error minijinja could not place in a file.
    #[error("template error: {message}")]
    Unplaced { message: String },

    #[error("{path}: the Dockerfile template does not extend the BentoML base template, so the image would miss the Bento setup; make `{{% extends bento_base_template %}}` its first line and put your instructions in blocks (e.g. SETUP_BENTO_BASE_IMAGE, then {{{{ super() }}}})")]
    DoesNotExtendBase { path: PathBuf },

    #[error("cannot read Dockerfile template {path}: {source}")]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("--templates-dir {path} is not a directory")]
    TemplatesDir { path: PathBuf },

    #[error("unknown BentoML feature(s) {unknown}; available features are: {available}")]
    UnknownFeature { unknown: String, available: String },
}
