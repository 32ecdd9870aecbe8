//! The parts of `bento.yaml` we read, as written by BentoML 1.1 (and 1.2–1.4, whose extra
//! top-level keys such as `spec`, `entry_service`, `services`, `envs`, `schema` are ignored).
//! Values whose type BentoML converts (`python_version: 3.10`, `cuda_version: 11`, `env` in
//! three shapes) stay as YAML values here and are validated in `docker.rs`.

use serde::Deserialize;
use serde_yaml_ng::Value;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawBentoInfo {
    pub name: Option<String>,
    pub version: Option<String>,
    /// Very old bento.yaml files carry `tag: name:version` instead of name + version.
    pub tag: Option<String>,
    pub service: Option<String>,
    pub bentoml_version: Option<String>,
    pub models: Option<Vec<RawModel>>,
    pub docker: Option<RawDocker>,
    pub conda: Option<RawConda>,
    /// BentoML ≥ 1.2 only; kept to tell the user which format was read.
    pub entry_service: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawModel {
    pub tag: Option<String>,
    pub module: Option<String>,
    pub alias: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDocker {
    pub distro: Option<Value>,
    pub python_version: Option<Value>,
    pub cuda_version: Option<Value>,
    pub env: Option<Value>,
    pub system_packages: Option<Value>,
    pub setup_script: Option<Value>,
    pub base_image: Option<Value>,
    pub dockerfile_template: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawConda {
    pub environment_yml: Option<Value>,
    pub channels: Option<Value>,
    pub dependencies: Option<Value>,
    pub pip: Option<Value>,
}

impl RawConda {
    /// BentoML's `CondaOptions.is_empty`: every field missing or falsy.
    pub fn is_empty(&self) -> bool {
        [&self.environment_yml, &self.channels, &self.dependencies, &self.pip]
            .iter()
            .all(|v| v.as_ref().is_none_or(is_falsy))
    }
}

fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Tagged(_) => false,
    }
}

/// Python's `str(value)` for a YAML scalar, which is what BentoML does to option values.
pub(crate) fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.is_finite() && f.fract() == 0.0 => format!("{f:.1}"),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
    }
}
