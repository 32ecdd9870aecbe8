//! Where templates come from: our embedded templates (or `--templates-dir` during
//! development), then the user template's own directory — the search order BentoML uses.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The templates compiled into the binary, by name.
pub(crate) const EMBEDDED: [(&str, &str); 14] = [
    ("_macros.j2", include_str!("../../templates/_macros.j2")),
    ("base.j2", include_str!("../../templates/base.j2")),
    ("base_debian.j2", include_str!("../../templates/base_debian.j2")),
    ("base_alpine.j2", include_str!("../../templates/base_alpine.j2")),
    ("base_ubi8.j2", include_str!("../../templates/base_ubi8.j2")),
    ("base_amazonlinux.j2", include_str!("../../templates/base_amazonlinux.j2")),
    ("python_debian.j2", include_str!("../../templates/python_debian.j2")),
    ("python_alpine.j2", include_str!("../../templates/python_alpine.j2")),
    ("python_ubi8.j2", include_str!("../../templates/python_ubi8.j2")),
    ("python_amazonlinux.j2", include_str!("../../templates/python_amazonlinux.j2")),
    ("cuda_debian.j2", include_str!("../../templates/cuda_debian.j2")),
    ("cuda_ubi8.j2", include_str!("../../templates/cuda_ubi8.j2")),
    ("miniconda_debian.j2", include_str!("../../templates/miniconda_debian.j2")),
    ("miniconda_alpine.j2", include_str!("../../templates/miniconda_alpine.j2")),
];

/// One template's text and where it came from.
pub(crate) struct Source {
    pub text: Cow<'static, str>,
    /// `None` for embedded templates.
    pub path: Option<PathBuf>,
}

/// The search path.
#[derive(Debug, Clone, Default)]
pub(crate) struct SearchPath {
    pub templates_dir: Option<PathBuf>,
    /// The user template: its name on the search path and its file.
    pub user_template: Option<(String, PathBuf)>,
}

impl SearchPath {
    /// Looks a template name up: templates dir (or embedded), then the user's directory.
    pub fn find(&self, name: &str) -> std::io::Result<Option<Source>> {
        // Names are relative and stay inside the search directories.
        if name.is_empty() || Path::new(name).is_absolute() || name.split(['/', '\\']).any(|c| c == "..") {
            return Ok(None);
        }
        if let Some((user_name, path)) = &self.user_template {
            if user_name == name {
                return read_if_file(path);
            }
        }
        if let Some(dir) = &self.templates_dir {
            if let Some(src) = read_if_file(&dir.join(name))? {
                return Ok(Some(src));
            }
        }
        if let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name) {
            return Ok(Some(Source { text: Cow::Borrowed(text), path: None }));
        }
        if let Some(dir) = self.user_template.as_ref().and_then(|(_, p)| p.parent()) {
            if let Some(src) = read_if_file(&dir.join(name))? {
                return Ok(Some(src));
            }
        }
        Ok(None)
    }
}

fn read_if_file(path: &Path) -> std::io::Result<Option<Source>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(Source { text: Cow::Owned(text), path: Some(path.to_path_buf()) })),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory) => Ok(None),
        Err(e) => Err(e),
    }
}
