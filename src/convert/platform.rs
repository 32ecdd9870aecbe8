//! Target platforms (`linux/amd64`, `linux/arm64`, `linux/arm/v7`): parsing and
//! normalising them as containerd does, and the automatic platform build args.

use std::fmt;

use bollard_buildkit_proto::pb;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid platform {0:?}: expected os/arch[/variant], for example linux/amd64 or linux/arm64")]
pub struct PlatformError(pub String);

impl Platform {
    /// Parses `os/arch[/variant]` (or a bare architecture, meaning linux) and normalises
    /// architecture aliases (`x86_64` → `amd64`, `aarch64` → `arm64`, …).
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let err = || PlatformError(s.to_string());
        let parts: Vec<&str> = s.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [arch] if !arch.is_empty() && *arch != "linux" => ("linux", *arch, ""),
            [os, arch] => (*os, *arch, ""),
            [os, arch, variant] => (*os, *arch, *variant),
            _ => return Err(err()),
        };
        if os.is_empty() || arch.is_empty() || !is_word(os) || !is_word(arch) || !is_word(variant) {
            return Err(err());
        }
        Ok(normalize(os.to_ascii_lowercase(), arch.to_ascii_lowercase(), variant.to_ascii_lowercase()))
    }

    /// The platform of the machine bentokit runs on (the build platform).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        normalize("linux".into(), arch.into(), String::new())
    }

    pub fn to_pb(&self) -> pb::Platform {
        pb::Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            ..Default::default()
        }
    }

    /// The build args BuildKit defines for a platform, with a prefix (`TARGET`/`BUILD`).
    pub fn build_args(&self, prefix: &str) -> Vec<(String, String)> {
        vec![
            (format!("{prefix}PLATFORM"), self.to_string()),
            (format!("{prefix}OS"), self.os.clone()),
            (format!("{prefix}ARCH"), self.architecture.clone()),
            (format!("{prefix}VARIANT"), self.variant.clone()),
        ]
    }
}

fn is_word(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn normalize(os: String, arch: String, variant: String) -> Platform {
    let (arch, variant) = match (arch.as_str(), variant.as_str()) {
        ("i386" | "i686" | "x86", _) => ("386".to_string(), String::new()),
        ("x86_64" | "x86-64" | "amd64", v) => ("amd64".to_string(), if v == "v1" { String::new() } else { v.to_string() }),
        ("aarch64" | "arm64", "8" | "v8" | "") => ("arm64".to_string(), String::new()),
        ("aarch64" | "arm64", v) => ("arm64".to_string(), v.to_string()),
        ("armhf", _) => ("arm".to_string(), "v7".to_string()),
        ("armel", _) => ("arm".to_string(), "v6".to_string()),
        ("arm", "") => ("arm".to_string(), "v7".to_string()),
        ("arm", v @ ("5" | "6" | "7" | "8")) => ("arm".to_string(), format!("v{v}")),
        (a, v) => (a.to_string(), v.to_string()),
    };
    Platform { os, architecture: arch, variant }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// Parses a comma-separated platform list (`--platform linux/amd64,linux/arm64`), keeping
/// the first occurrence of each platform.
pub fn parse_list(s: &str) -> Result<Vec<Platform>, PlatformError> {
    let mut out: Vec<Platform> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let p = Platform::parse(part)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(PlatformError(s.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(Platform::parse("linux/amd64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("linux/aarch64").unwrap().to_string(), "linux/arm64");
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().to_string(), "linux/arm64");
        assert_eq!(Platform::parse("linux/arm").unwrap().to_string(), "linux/arm/v7");
        assert_eq!(Platform::parse("x86_64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("Linux/AMD64").unwrap().to_string(), "linux/amd64");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lists_dedupe_and_args() {
        let l = parse_list("linux/amd64, linux/arm64,linux/amd64").unwrap();
        assert_eq!(l.len(), 2);
        let args = l[1].build_args("TARGET");
        assert_eq!(args[0], ("TARGETPLATFORM".into(), "linux/arm64".into()));
        assert_eq!(args[2], ("TARGETARCH".into(), "arm64".into()));
    }
}
