//! The variables, globals and filters BentoML's templates see (`generate.py` in BentoML
//! 1.1.11): `__options__*`, `bento__*`, `__base_image__`, `__is_cuda__`,
//! `__conda_python_version__`, `__prometheus_port__`, `expands_bento_path`, `bash_quote`.

use std::collections::BTreeMap;

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, ErrorKind, Value};

use crate::bento::{Bento, ReleaseType};

pub(crate) const BENTO_UID_GID: u32 = 1034;
pub(crate) const BENTO_USER: &str = "bentoml";
pub(crate) const BENTO_HOME: &str = "/home/bentoml/";
pub(crate) const BENTO_PATH: &str = "/home/bentoml/bento";
const PROMETHEUS_PORT: u16 = 3001;

/// The render context for a Bento; `overrides` replace `bento__<key>` defaults.
pub(crate) fn variables(bento: &Bento, add_header: bool, overrides: &[(String, String)]) -> BTreeMap<String, Value> {
    let docker = &bento.docker;
    let mut vars = BTreeMap::new();
    let opt_str = |v: &Option<String>| v.as_ref().map(Value::from).unwrap_or(Value::from(()));
    vars.insert("__options__distro".into(), docker.distro.map(|d| Value::from(d.as_str())).unwrap_or(Value::from(())));
    vars.insert("__options__python_version".into(), opt_str(&docker.python_version));
    vars.insert("__options__cuda_version".into(), opt_str(&docker.cuda_version));
    vars.insert(
        "__options__env".into(),
        match &docker.env {
            Some(pairs) => pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Value>(),
            None => Value::from(()),
        },
    );
    vars.insert(
        "__options__system_packages".into(),
        match &docker.system_packages {
            Some(p) => Value::from(p.clone()),
            None => Value::from(()),
        },
    );
    vars.insert("__options__setup_script".into(), opt_str(&docker.setup_script));
    vars.insert("__options__base_image".into(), opt_str(&docker.base_image));
    vars.insert("__options__dockerfile_template".into(), opt_str(&docker.dockerfile_template));

    vars.insert("bento__uid_gid".into(), Value::from(BENTO_UID_GID));
    vars.insert("bento__user".into(), Value::from(BENTO_USER));
    vars.insert("bento__home".into(), Value::from(BENTO_HOME));
    vars.insert("bento__path".into(), Value::from(BENTO_PATH));
    vars.insert("bento__add_header".into(), Value::from(add_header));
    vars.insert("bento__enable_buildkit".into(), Value::from(true));
    // Kept for templates that print it; we never write a `# syntax` line ourselves.
    vars.insert("bento__buildkit_frontend".into(), Value::from("docker/dockerfile:1.2.1"));
    for (key, value) in overrides {
        let key = key.strip_prefix("bento__").unwrap_or(key);
        vars.insert(format!("bento__{key}"), Value::from(value.as_str()));
    }

    vars.insert("__prometheus_port__".into(), Value::from(PROMETHEUS_PORT));
    vars.insert("__base_image__".into(), Value::from(bento.base_image()));
    let conda_python = bento.conda_python_version.clone().or_else(|| docker.python_version.clone());
    vars.insert("__conda_python_version__".into(), opt_str(&conda_python));
    vars.insert("__is_cuda__".into(), Value::from(bento.release_type() == ReleaseType::Cuda));
    vars
}

/// `expands_bento_path(*parts, bento_path=BENTO_PATH)`: joins with `/` under the Bento path.
pub(crate) fn expands_bento_path(parts: Rest<String>, kwargs: Kwargs) -> Result<String, Error> {
    let base: Option<String> = kwargs.get("bento_path")?;
    kwargs.assert_all_used()?;
    let mut joined = base.unwrap_or_else(|| BENTO_PATH.to_string());
    for part in parts.iter() {
        joined.push('/');
        joined.push_str(part);
    }
    Ok(joined)
}

/// Python's `shlex.quote`: safe words unchanged, anything else in single quotes.
pub(crate) fn bash_quote(value: Value) -> Result<String, Error> {
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None if value.is_undefined() => {
            return Err(Error::new(ErrorKind::UndefinedError, "bash_quote got an undefined value"))
        }
        None => value.to_string(),
    };
    Ok(shell_quote(&text))
}

pub(crate) fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    if text.chars().all(|c| c.is_alphanumeric() || "@%+=:,./-_".contains(c)) && text.is_ascii() {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

/// An ENV value as a Dockerfile reads it: unchanged when it has no whitespace, quotes or
/// backslashes, else in double quotes (which keep `$VAR` expansion).
pub(crate) fn dockerfile_env_value(value: Value) -> String {
    let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
    if !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\')) {
        return text;
    }
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::{dockerfile_env_value, shell_quote};
    use minijinja::Value;

    #[test]
    fn env_values_are_quoted_only_when_needed() {
        assert_eq!(dockerfile_env_value(Value::from("a-b/$HOME")), "a-b/$HOME");
        assert_eq!(dockerfile_env_value(Value::from("hello world")), "\"hello world\"");
        assert_eq!(dockerfile_env_value(Value::from("say \"hi\"")), "\"say \\\"hi\\\"\"");
        assert_eq!(dockerfile_env_value(Value::from("")), "\"\"");
    }

    #[test]
    fn quotes_like_shlex() {
        assert_eq!(shell_quote("abc-1.2/x"), "abc-1.2/x");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
    }
}
