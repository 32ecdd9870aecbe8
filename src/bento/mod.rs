//! Bentos: finds a built Bento (a directory, or `name[:tag]` in the BentoML store), reads its
//! `bento.yaml` and validates the docker options the way BentoML 1.1.11 does.
//!
//! In: a [`BentoRef`] (and `$BENTOML_HOME`). Out: a [`Bento`] with its paths, name, version,
//! validated [`DockerOptions`], models (with where they live in the store) and warnings for
//! the CLI to show. Bentos written by BentoML 1.2–1.4 load too; unknown bento.yaml keys are
//! ignored. This module never renders templates, never prints, never writes.

mod docker;
mod env_file;
mod error;
mod store;
mod yaml;

use std::path::{Path, PathBuf};

pub use docker::{Distro, DockerOptions, ReleaseType};
pub use error::BentoError;
pub use store::{default_store_home, BentoRef};

use error::Result;

/// A built Bento, ready to be rendered into a Dockerfile.
#[derive(Debug, Clone)]
pub struct Bento {
    /// The Bento directory (the build context): holds bento.yaml, env/, src/.
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    /// The BentoML version that built it, as written in bento.yaml.
    pub bentoml_version: Option<String>,
    /// True when bento.yaml has the BentoML ≥ 1.2 layout (`entry_service`, `services`, …).
    pub new_style: bool,
    pub docker: DockerOptions,
    /// Whether the conda options are empty (decides the miniconda release type).
    pub conda_is_empty: bool,
    /// The Python version pinned in env/conda/environment.yml, if any.
    pub conda_python_version: Option<String>,
    pub models: Vec<BentoModel>,
    /// The user Dockerfile template stored in the Bento (env/docker/Dockerfile.template),
    /// when `docker.dockerfile_template` is set.
    pub dockerfile_template: Option<PathBuf>,
    /// Things the user should know (ignored options, defaults applied).
    pub warnings: Vec<String>,
}

/// A model the Bento's services use, and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BentoModel {
    pub name: String,
    pub version: String,
    /// `models/NAME/VERSION` inside the Bento when the Bento carries it, else in the store
    /// (`$BENTOML_HOME/models/NAME/VERSION`).
    pub path: PathBuf,
    /// Whether `path` exists right now.
    pub present: bool,
}

impl Bento {
    /// Loads a Bento from a directory or from the store at `$BENTOML_HOME` (default `~/bentoml`).
    pub fn load(reference: &BentoRef) -> Result<Bento, BentoError> {
        Self::load_with_store(reference, &default_store_home())
    }

    /// Like [`Bento::load`] with an explicit store directory.
    pub fn load_with_store(reference: &BentoRef, store_home: &Path) -> Result<Bento, BentoError> {
        let dir = store::resolve(reference, store_home)?;
        Self::from_dir(&dir, store_home)
    }

    fn from_dir(dir: &Path, store_home: &Path) -> Result<Bento> {
        let yaml_path = dir.join("bento.yaml");
        let text = match std::fs::read_to_string(&yaml_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BentoError::MissingBentoYaml { path: dir.to_path_buf() })
            }
            Err(source) => return Err(BentoError::Io { path: yaml_path, source }),
        };
        let raw: yaml::RawBentoInfo = serde_yaml_ng::from_str(&text).map_err(|e| BentoError::Yaml {
            path: yaml_path.clone(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        let (name, version) = match (&raw.name, &raw.version, &raw.tag) {
            (Some(n), Some(v), _) => (n.clone(), v.clone()),
            (_, _, Some(tag)) => match tag.split_once(':') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (tag.clone(), String::new()),
            },
            _ => {
                return Err(BentoError::Yaml {
                    path: yaml_path,
                    line: None,
                    message: "missing `name` and `version`".into(),
                })
            }
        };
        let conda_is_empty = raw.conda.as_ref().is_none_or(yaml::RawConda::is_empty);
        let mut warnings = Vec::new();
        let origin = docker::Origin { yaml_path: &yaml_path, bento_dir: dir };
        let docker = DockerOptions::from_raw(&raw.docker.unwrap_or_default(), conda_is_empty, &origin, &mut warnings)?;

        if docker.setup_script.is_some() {
            check_setup_script(dir, &yaml_path, &docker)?;
        }
        let dockerfile_template = match &docker.dockerfile_template {
            None => None,
            Some(original) => {
                let stored = dir.join("env/docker/Dockerfile.template");
                if !stored.is_file() {
                    return Err(BentoError::InvalidOption {
                        path: yaml_path,
                        field: "dockerfile_template",
                        value: original.clone(),
                        reason: format!(
                            "the Bento has no copy of it at {}; rebuild the Bento or pass --dockerfile-template",
                            stored.display()
                        ),
                    });
                }
                Some(stored)
            }
        };
        let models = raw
            .models
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.tag)
            .map(|tag| model_location(&tag, dir, store_home))
            .collect();
        Ok(Bento {
            path: dir.to_path_buf(),
            name,
            version,
            bentoml_version: raw.bentoml_version,
            new_style: raw.entry_service.is_some(),
            conda_python_version: conda_python_version(&dir.join("env/conda/environment.yml")),
            docker,
            conda_is_empty,
            models,
            dockerfile_template,
            warnings,
        })
    }

    /// `name:version`.
    pub fn tag(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    pub fn release_type(&self) -> ReleaseType {
        self.docker.release_type(self.conda_is_empty)
    }

    /// The image the default templates start from (`__base_image__`).
    pub fn base_image(&self) -> String {
        self.docker.base_image_ref(self.conda_is_empty)
    }
}

/// BentoML copies the setup script into the Bento as env/docker/setup_script and runs it in
/// the image, so it must be there and executable.
fn check_setup_script(dir: &Path, yaml_path: &Path, docker: &DockerOptions) -> Result<()> {
    let stored = dir.join("env/docker/setup_script");
    let value = docker.setup_script.clone().unwrap_or_default();
    let invalid = |reason: String| BentoError::InvalidOption {
        path: yaml_path.to_path_buf(),
        field: "setup_script",
        value: value.clone(),
        reason,
    };
    let meta = std::fs::metadata(&stored)
        .map_err(|e| invalid(format!("the Bento has no {} ({e}); rebuild the Bento", stored.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(invalid(format!(
                "{} is not executable; give it a shebang line and run `chmod +x {}`",
                stored.display(),
                stored.display()
            )));
        }
    }
    if !meta.is_file() {
        return Err(invalid(format!("{} is not a file", stored.display())));
    }
    Ok(())
}

fn model_location(tag: &str, bento_dir: &Path, store_home: &Path) -> BentoModel {
    let (name, version) = tag.split_once(':').unwrap_or((tag, "latest"));
    let in_bento = bento_dir.join("models").join(name).join(version);
    let path = if in_bento.is_dir() { in_bento } else { store_home.join("models").join(name).join(version) };
    BentoModel { name: name.to_string(), version: version.to_string(), present: path.is_dir(), path }
}

/// BentoML's `CondaOptions.get_python_version`: the first line matching
/// `python=(\d+.\d+)$` in environment.yml.
fn conda_python_version(environment_yml: &Path) -> Option<String> {
    let text = std::fs::read_to_string(environment_yml).ok()?;
    text.lines().find_map(|line| {
        line.match_indices("python=").find_map(|(i, m)| {
            let rest = &line[i + m.len()..];
            let major = rest.bytes().take_while(u8::is_ascii_digit).count();
            let tail = rest.get(major..)?;
            let mut chars = tail.chars();
            let _any = chars.next()?;
            let minor: &str = chars.as_str();
            (major > 0 && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())).then(|| rest.to_string())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conda_python_version_matches_bentoml() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("environment.yml");
        std::fs::write(&p, "dependencies:\n  - python=3.9\n  - pip\n").unwrap();
        assert_eq!(conda_python_version(&p).as_deref(), Some("3.9"));
        std::fs::write(&p, "dependencies:\n  - python=3.9.1\n").unwrap();
        assert_eq!(conda_python_version(&p), None);
    }
}
