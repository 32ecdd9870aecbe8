//! The image config the converter produces: Docker's flavour of the OCI image config
//! (OCI fields plus `Healthcheck`, `OnBuild` and `Shell`), as BuildKit's exporter reads it
//! from `containerimage.config`. Field names and encodings follow moby/docker-image-spec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::llb::Platform;

/// Serialises `{}` for each key, as Go encodes `map[string]struct{}`.
pub type EmptySet = BTreeMap<String, EmptyObject>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyObject {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    pub architecture: String,
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(default)]
    pub config: ImageConfig,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(rename = "ExposedPorts", default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<EmptySet>,
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<EmptySet>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(rename = "ArgsEscaped", default, skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
    #[serde(rename = "Healthcheck", default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(rename = "OnBuild", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub on_build: Vec<String>,
    #[serde(rename = "Shell", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub shell: Vec<String>,
}

/// Durations are nanoseconds, as Go's time.Duration marshals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    #[serde(rename = "Test", default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs { kind: "layers".into(), diff_ids: Vec::new() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Always `buildkit.dockerfile.v0` for the steps we write: shared, not allocated.
    #[serde(default, skip_serializing_if = "str_is_empty")]
    pub comment: std::borrow::Cow<'static, str>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

fn str_is_empty(s: &str) -> bool {
    s.is_empty()
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The PATH BuildKit gives an image whose config sets none.
pub const DEFAULT_PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Image {
    /// The config of `FROM scratch` for a platform.
    pub fn empty(platform: &Platform) -> Image {
        Image {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            // BuildKit's emptyImage: WorkingDir "/" shows in the config of scratch images.
            config: ImageConfig { env: vec![DEFAULT_PATH_ENV.to_string()], working_dir: "/".to_string(), ..Default::default() },
            ..Default::default()
        }
    }

    /// Parses a base image's config as ResolveImageConfig returns it.
    pub fn from_json(bytes: &[u8]) -> Result<Image, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        // OK to unwrap: every field is a string, number, list or map with string keys.
        serde_json::to_vec(self).expect("image config serialises")
    }

    /// The value of an environment variable in the config, if set.
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.config.env.iter().rev().find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
    }

    /// Sets (or replaces) an environment variable, keeping the first position it had.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let entry = format!("{key}={value}");
        match self.config.env.iter_mut().find(|kv| kv.split_once('=').map_or(kv.as_str() == key, |(k, _)| k == key)) {
            Some(slot) => *slot = entry,
            None => self.config.env.push(entry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_config_round_trips_with_docker_field_names() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],
            "ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["CMD","true"],"Interval":30000000000}},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"x","empty_layer":true}],
            "container_config":{"Hostname":"ignored"}}"#;
        let img = Image::from_json(json).unwrap();
        assert_eq!(img.config.cmd.as_deref(), Some(&["/bin/sh".to_string()][..]));
        assert_eq!(img.config.healthcheck.as_ref().unwrap().interval, 30_000_000_000);
        let out: serde_json::Value = serde_json::from_slice(&img.to_json()).unwrap();
        assert_eq!(out["config"]["ExposedPorts"]["80/tcp"], serde_json::json!({}));
        assert_eq!(out["rootfs"]["diff_ids"][0], "sha256:aa");
        assert_eq!(out["history"][0]["empty_layer"], true);
        assert!(out.get("container_config").is_none());
    }

    #[test]
    fn null_lists_in_base_configs_are_empty() {
        let img = Image::from_json(br#"{"architecture":"amd64","os":"linux","config":{"Env":null,"OnBuild":null}}"#).unwrap();
        assert!(img.config.env.is_empty() && img.config.on_build.is_empty());
    }

    #[test]
    fn env_updates_in_place() {
        let mut img = Image::empty(&Platform::linux_amd64());
        img.set_env("A", "1");
        img.set_env("PATH", "/x");
        img.set_env("A", "2");
        assert_eq!(img.config.env, vec!["PATH=/x".to_string(), "A=2".to_string()]);
        assert_eq!(img.env_value("A"), Some("2"));
    }
}
