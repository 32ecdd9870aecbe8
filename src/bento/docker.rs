//! Docker options: the tables BentoML 1.1.11 ships (distros, Python and CUDA versions, base
//! images) and the validation `DockerOptions` performs, applied to the raw `docker:` section
//! of bento.yaml. In: raw YAML values and the Bento directory. Out: [`DockerOptions`] with
//! normalised values, plus warnings. Never reads files outside the Bento except an absolute
//! `.env` path the user wrote.

use std::path::Path;

use serde_yaml_ng::Value;

use super::env_file::parse_dotenv;
use super::error::{BentoError, Result};
use super::yaml::{py_str, RawDocker};

/// A Linux distribution BentoML has base templates for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distro {
    Debian,
    Alpine,
    Ubi8,
    Amazonlinux,
}

/// What the base image provides: plain Python, a CUDA runtime, or miniconda.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseType {
    Python,
    Cuda,
    Miniconda,
}

impl ReleaseType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseType::Python => "python",
            ReleaseType::Cuda => "cuda",
            ReleaseType::Miniconda => "miniconda",
        }
    }
}

pub const DISTROS: [Distro; 4] = [Distro::Debian, Distro::Alpine, Distro::Ubi8, Distro::Amazonlinux];

/// CUDA versions with a base image, and the accepted spellings (BentoML's
/// `ALLOWED_CUDA_VERSION_ARGS`, plus `default`).
const CUDA_ALIASES: [(&str, &str); 19] = [
    ("12", "12.1.1"),
    ("12.1", "12.1.1"),
    ("12.1.1", "12.1.1"),
    ("12.1.0", "12.1.0"),
    ("12.0", "12.0.1"),
    ("12.0.1", "12.0.1"),
    ("12.0.0", "12.0.0"),
    ("11", "11.8.0"),
    ("11.8", "11.8.0"),
    ("11.8.0", "11.8.0"),
    ("11.7", "11.7.1"),
    ("11.7.1", "11.7.1"),
    ("11.6", "11.6.2"),
    ("11.6.2", "11.6.2"),
    ("11.4", "11.4.3"),
    ("11.4.3", "11.4.3"),
    ("11.2", "11.2.2"),
    ("11.2.2", "11.2.2"),
    ("default", "11.6.2"),
];

impl Distro {
    pub fn as_str(self) -> &'static str {
        match self {
            Distro::Debian => "debian",
            Distro::Alpine => "alpine",
            Distro::Ubi8 => "ubi8",
            Distro::Amazonlinux => "amazonlinux",
        }
    }

    fn parse(s: &str) -> Option<Distro> {
        DISTROS.into_iter().find(|d| d.as_str() == s)
    }

    pub fn supported_python_versions(self) -> &'static [&'static str] {
        match self {
            Distro::Debian | Distro::Alpine => &["3.8", "3.9", "3.10", "3.11"],
            Distro::Ubi8 => &["3.8", "3.9"],
            Distro::Amazonlinux => &["3.8"],
        }
    }

    /// The base image for a release type, with `{}` standing for the Python or CUDA version;
    /// `None` when the distro has no such release.
    pub fn image_pattern(self, release: ReleaseType) -> Option<&'static str> {
        match (self, release) {
            (Distro::Debian, ReleaseType::Python) => Some("python:{}-slim"),
            (Distro::Debian, ReleaseType::Cuda) => Some("nvidia/cuda:{}-cudnn8-runtime-ubuntu20.04"),
            (Distro::Debian, ReleaseType::Miniconda) => Some("continuumio/miniconda3:latest"),
            (Distro::Alpine, ReleaseType::Python) => Some("python:{}-alpine"),
            (Distro::Alpine, ReleaseType::Miniconda) => Some("continuumio/miniconda3:4.10.3p0-alpine"),
            (Distro::Ubi8, ReleaseType::Python) => Some("registry.access.redhat.com/ubi8/python-{}:1"),
            (Distro::Ubi8, ReleaseType::Cuda) => Some("nvidia/cuda:{}-cudnn8-runtime-ubi8"),
            (Distro::Amazonlinux, ReleaseType::Python) => Some("amazonlinux:2"),
            _ => None,
        }
    }

    fn distros_with(release: ReleaseType) -> String {
        DISTROS
            .into_iter()
            .filter(|d| d.image_pattern(release).is_some())
            .map(Distro::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The `docker:` options of a Bento after BentoML's conversions and our validation.
///
/// Invariant: when `base_image` is `None`, `distro` and `python_version` are set, the Python
/// version is supported by the distro, and the release type has an image on that distro.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DockerOptions {
    pub distro: Option<Distro>,
    /// `X.Y`.
    pub python_version: Option<String>,
    /// A full version from the CUDA table (aliases resolved).
    pub cuda_version: Option<String>,
    /// In the order written; values are strings as Python's `str()` would give them.
    pub env: Option<Vec<(String, String)>>,
    pub system_packages: Option<Vec<String>>,
    pub setup_script: Option<String>,
    pub base_image: Option<String>,
    pub dockerfile_template: Option<String>,
}

/// Context for error messages and relative paths.
pub(crate) struct Origin<'a> {
    pub yaml_path: &'a Path,
    pub bento_dir: &'a Path,
}

impl Origin<'_> {
    fn invalid(&self, field: &'static str, value: impl Into<String>, reason: impl Into<String>) -> BentoError {
        BentoError::InvalidOption {
            path: self.yaml_path.to_path_buf(),
            field,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

impl DockerOptions {
    /// Converts and validates the raw options the way BentoML's `DockerOptions` does, with
    /// defaults applied (`distro: debian`, Python from `env/python/version.txt`).
    pub(crate) fn from_raw(
        raw: &RawDocker,
        conda_is_empty: bool,
        origin: &Origin<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<DockerOptions> {
        let string_field = |field: &'static str, v: &Option<Value>| -> Result<Option<String>> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(py_str(v))),
                Some(other) => Err(origin.invalid(field, py_str(other), "expected a string")),
            }
        };
        let base_image = string_field("base_image", &raw.base_image)?;
        let distro = match string_field("distro", &raw.distro)? {
            None => None,
            Some(s) => Some(Distro::parse(&s).ok_or_else(|| {
                origin.invalid("distro", &s, "allowed distros are: debian, alpine, ubi8, amazonlinux")
            })?),
        };
        let python_version = match string_field("python_version", &raw.python_version)? {
            None => None,
            Some(v) => Some(convert_python_version(&v, origin, warnings)?),
        };
        let cuda_version = convert_cuda_version(&raw.cuda_version, origin)?;
        let env = convert_env(&raw.env, origin)?;
        let system_packages = match &raw.system_packages {
            None | Some(Value::Null) => None,
            Some(Value::Sequence(items)) => Some(
                items
                    .iter()
                    .map(|i| match i {
                        Value::Sequence(_) | Value::Mapping(_) => {
                            Err(origin.invalid("system_packages", py_str(i), "expected a list of package names"))
                        }
                        v => Ok(py_str(v)),
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(other) => {
                return Err(origin.invalid("system_packages", py_str(other), "expected a list of package names"))
            }
        };
        let setup_script = string_field("setup_script", &raw.setup_script)?;
        let dockerfile_template = string_field("dockerfile_template", &raw.dockerfile_template)?;

        let mut opts = DockerOptions {
            distro,
            python_version,
            cuda_version,
            env,
            system_packages,
            setup_script,
            base_image,
            dockerfile_template,
        };
        opts.check_combination(conda_is_empty, origin, warnings)?;
        Ok(opts)
    }

    /// The release type BentoML picks: cuda if a CUDA version is set, else miniconda when
    /// conda options are present, else python.
    pub fn release_type(&self, conda_is_empty: bool) -> ReleaseType {
        if self.cuda_version.is_some() {
            ReleaseType::Cuda
        } else if !conda_is_empty {
            ReleaseType::Miniconda
        } else {
            ReleaseType::Python
        }
    }

    fn check_combination(
        &mut self,
        conda_is_empty: bool,
        origin: &Origin<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        if let Some(base) = &self.base_image {
            let mut ignored = |what: &str, value: &str| {
                warnings.push(format!("docker base_image {base} is used, '{what}={value}' option is ignored"))
            };
            if let Some(d) = self.distro {
                ignored("distro", d.as_str());
            }
            if let Some(v) = &self.python_version {
                ignored("python_version", v);
            }
            if let Some(v) = &self.cuda_version {
                ignored("cuda_version", v);
            }
            if let Some(p) = self.system_packages.as_ref().filter(|p| !p.is_empty()) {
                ignored("system_packages", &p.join(" "));
            }
            warnings.push(format!(
                "bentokit will not install Python into custom base images; make sure '{base}' has Python installed"
            ));
        }
        if let (Some(distro), Some(cuda)) = (self.distro, &self.cuda_version) {
            if distro.image_pattern(ReleaseType::Cuda).is_none() {
                return Err(origin.invalid(
                    "distro",
                    distro.as_str(),
                    format!(
                        "distro '{}' does not support CUDA (cuda_version={cuda}); distros that support CUDA are: {}",
                        distro.as_str(),
                        Distro::distros_with(ReleaseType::Cuda)
                    ),
                ));
            }
        }
        if self.base_image.is_some() {
            return Ok(());
        }
        // BentoML's `with_defaults`: bento.yaml written by `bentoml build` always has both.
        let distro = *self.distro.get_or_insert(Distro::Debian);
        if self.python_version.is_none() {
            let version_txt = origin.bento_dir.join("env/python/version.txt");
            let found = std::fs::read_to_string(&version_txt).ok().and_then(|t| {
                let mut parts = t.trim().split('.');
                Some(format!("{}.{}", parts.next()?, parts.next()?))
            });
            match found {
                Some(v) => {
                    warnings.push(format!(
                        "docker.python_version is not set; using {v} from the Bento's env/python/version.txt"
                    ));
                    self.python_version = Some(v);
                }
                None => {
                    return Err(origin.invalid(
                        "python_version",
                        "None",
                        "set docker.python_version (e.g. \"3.11\") in bento.yaml or write env/python/version.txt",
                    ))
                }
            }
        }
        let python = self.python_version.as_deref().unwrap_or_default();
        let supported = distro.supported_python_versions();
        if !supported.contains(&python) {
            return Err(origin.invalid(
                "python_version",
                python,
                format!("distro '{}' supports Python {}", distro.as_str(), supported.join(", ")),
            ));
        }
        let release = self.release_type(conda_is_empty);
        if distro.image_pattern(release).is_none() {
            return Err(origin.invalid(
                "distro",
                distro.as_str(),
                format!(
                    "distro '{}' has no {} base image; distros with one are: {}",
                    distro.as_str(),
                    release.as_str(),
                    Distro::distros_with(release)
                ),
            ));
        }
        Ok(())
    }

    /// The image the default templates start `FROM`.
    pub fn base_image_ref(&self, conda_is_empty: bool) -> String {
        if let Some(base) = &self.base_image {
            return base.clone();
        }
        let distro = self.distro.unwrap_or(Distro::Debian);
        let release = self.release_type(conda_is_empty);
        let pattern = distro.image_pattern(release).unwrap_or("python:{}-slim");
        let version = match (&self.cuda_version, distro) {
            (Some(cuda), _) => cuda.clone(),
            (None, Distro::Ubi8) => self.python_version.clone().unwrap_or_default().replace('.', ""),
            (None, _) => self.python_version.clone().unwrap_or_default(),
        };
        pattern.replace("{}", &version)
    }
}

/// `^(\d)\.(\d{0,2})(\.\w+)?$` → `X.Y`, warning when a patch part was dropped.
fn convert_python_version(v: &str, origin: &Origin<'_>, warnings: &mut Vec<String>) -> Result<String> {
    let bad = || {
        origin.invalid(
            "python_version",
            v,
            "python version must look like X.Y or X.Y.Z (e.g. 3.11); supported: 3.8, 3.9, 3.10, 3.11",
        )
    };
    let bytes = v.as_bytes();
    if bytes.len() < 2 || !bytes[0].is_ascii_digit() || bytes[1] != b'.' {
        return Err(bad());
    }
    let rest = &v[2..];
    let minor_len = rest.bytes().take(2).take_while(u8::is_ascii_digit).count();
    let (minor, tail) = rest.split_at(minor_len);
    let tail_ok = tail.is_empty()
        || (tail.len() > 1 && tail.starts_with('.') && tail[1..].chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !tail_ok {
        return Err(bad());
    }
    let short = format!("{}.{minor}", &v[..1]);
    if short != v {
        warnings.push(format!(
            "the latest python{short} will be installed instead of python{v}; use a custom base_image for an exact version"
        ));
    }
    Ok(short)
}

fn convert_cuda_version(v: &Option<Value>, origin: &Origin<'_>) -> Result<Option<String>> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => py_str(v),
    };
    if text.is_empty() || text == "None" {
        return Ok(None);
    }
    match CUDA_ALIASES.iter().find(|(alias, _)| *alias == text) {
        Some((_, full)) => Ok(Some((*full).to_string())),
        None => Err(origin.invalid(
            "cuda_version",
            &text,
            format!(
                "supported CUDA versions are: {}",
                CUDA_ALIASES.iter().map(|(a, _)| *a).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

fn convert_env(v: &Option<Value>, origin: &Origin<'_>) -> Result<Option<Vec<(String, String)>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Mapping(map)) => Ok(Some(map.iter().map(|(k, v)| (py_str(k), py_str(v))).collect())),
        Some(Value::Sequence(items)) => {
            let mut out = Vec::new();
            for item in items {
                let text = py_str(item);
                match text.split_once('=') {
                    Some((k, val)) if is_env_key(k) && is_env_list_value(val) => out.push((k.to_string(), val.to_string())),
                    _ => {
                        return Err(origin.invalid(
                            "env",
                            text,
                            "every item of an env list must look like KEY=VALUE (KEY: letters, digits, _; VALUE: letters, digits, _ . - , /)",
                        ))
                    }
                }
            }
            Ok(Some(out))
        }
        Some(Value::String(path)) => {
            let expanded = expand_home(path);
            let candidate = if Path::new(&expanded).is_absolute() {
                std::path::PathBuf::from(&expanded)
            } else {
                origin.bento_dir.join(&expanded)
            };
            match std::fs::read_to_string(&candidate) {
                Ok(text) => Ok(Some(parse_dotenv(&text))),
                Err(e) => Err(origin.invalid(
                    "env",
                    path,
                    format!(
                        "not a readable .env file ({}: {e}); give a dict, a list of KEY=VALUE, or a .env path",
                        candidate.display()
                    ),
                )),
            }
        }
        Some(other) => Err(origin.invalid(
            "env",
            py_str(other),
            "env must be a dict, a list of KEY=VALUE, or a path to a .env file",
        )),
    }
}

fn is_env_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn is_env_list_value(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_alphanumeric() || "_.-,/".contains(c))
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}
