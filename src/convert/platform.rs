//! Target platforms (`linux/amd64`, `linux/arm64`, `linux/arm/v7`): parsing and
//! normalising them as containerd does, and the automatic platform build args.

use crate::llb::Platform;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid platform {0:?}: expected os/arch[/variant], for example linux/amd64 or linux/arm64")]
pub struct PlatformError(pub String);

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
    Ok(normalize(&os.to_ascii_lowercase(), &arch.to_ascii_lowercase(), &variant.to_ascii_lowercase()))
}

/// The platform of the machine bentokit runs on (the build platform), normalised.
pub fn host() -> Platform {
    let h = Platform::host();
    normalize(&h.os, &h.architecture, &h.variant)
}

/// Parses a comma-separated list (`linux/amd64,linux/arm64`), keeping the first of
/// each platform.
pub fn parse_list(s: &str) -> Result<Vec<Platform>, PlatformError> {
    let mut out: Vec<Platform> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let p = parse(part)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(PlatformError(s.to_string()));
    }
    Ok(out)
}

/// The args BuildKit defines for every build: `BUILDPLATFORM`, `BUILDOS`, `BUILDARCH`,
/// `BUILDVARIANT` and the same for `TARGET`.
pub(crate) fn automatic_args(build: &Platform, target: &Platform) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(8);
    for (prefix, p) in [("BUILD", build), ("TARGET", target)] {
        out.push((format!("{prefix}PLATFORM"), p.to_string()));
        out.push((format!("{prefix}OS"), p.os.clone()));
        out.push((format!("{prefix}ARCH"), p.architecture.clone()));
        out.push((format!("{prefix}VARIANT"), p.variant.clone()));
    }
    out
}

fn is_word(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn normalize(os: &str, arch: &str, variant: &str) -> Platform {
    let (arch, variant) = match (arch, variant) {
        ("i386" | "i686" | "x86", _) => ("386", String::new()),
        ("x86_64" | "x86-64" | "amd64", "v1") => ("amd64", String::new()),
        ("x86_64" | "x86-64" | "amd64", v) => ("amd64", v.to_string()),
        ("aarch64" | "arm64", "8" | "v8" | "") => ("arm64", String::new()),
        ("aarch64" | "arm64", v) => ("arm64", v.to_string()),
        ("armhf", _) => ("arm", "v7".to_string()),
        ("armel", _) => ("arm", "v6".to_string()),
        ("arm", "") => ("arm", "v7".to_string()),
        ("arm", v @ ("5" | "6" | "7" | "8")) => ("arm", format!("v{v}")),
        (a, v) => (a, v.to_string()),
    };
    let mut p = Platform::new(os, arch);
    p.variant = variant;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(parse("linux/amd64").unwrap().to_string(), "linux/amd64");
        assert_eq!(parse("linux/aarch64").unwrap().to_string(), "linux/arm64");
        assert_eq!(parse("linux/arm64/v8").unwrap().to_string(), "linux/arm64");
        assert_eq!(parse("linux/arm").unwrap().to_string(), "linux/arm/v7");
        assert_eq!(parse("x86_64").unwrap().to_string(), "linux/amd64");
        assert_eq!(parse("Linux/AMD64").unwrap().to_string(), "linux/amd64");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lists_dedupe_and_args() {
        let l = parse_list("linux/amd64, linux/arm64,linux/amd64").unwrap();
        assert_eq!(l.len(), 2);
        let args = automatic_args(&l[0], &l[1]);
        assert!(args.contains(&("TARGETPLATFORM".into(), "linux/arm64".into())));
        assert!(args.contains(&("BUILDARCH".into(), "amd64".into())));
        assert!(args.contains(&("TARGETVARIANT".into(), String::new())));
    }
}
