//! Where buildkitd listens: `unix://PATH` or `tcp://HOST:PORT`, as `buildctl --addr` takes it.

use std::fmt;
use std::path::PathBuf;

/// A parsed BuildKit address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    /// `host:port`, as written (the host may be a name or an IP literal).
    Tcp { host: String, port: u16 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("unsupported BuildKit address scheme in {0:?}: use unix:///path/to/buildkitd.sock or tcp://host:port")]
    Scheme(String),
    #[error("BuildKit address {0:?} has no socket path after unix://")]
    EmptyPath(String),
    #[error("BuildKit address {0:?} needs host:port after tcp:// (for example tcp://127.0.0.1:1234)")]
    HostPort(String),
}

impl Address {
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(AddressError::EmptyPath(s.to_string()));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| AddressError::HostPort(s.to_string()))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port: u16 = port.parse().map_err(|_| AddressError::HostPort(s.to_string()))?;
            if host.is_empty() {
                return Err(AddressError::HostPort(s.to_string()));
            }
            return Ok(Address::Tcp { host: host.to_string(), port });
        }
        Err(AddressError::Scheme(s.to_string()))
    }

    /// The default address, as buildctl chooses it: the system socket for root, the
    /// per-user runtime directory (`$XDG_RUNTIME_DIR`, else `/run/user/UID`) otherwise.
    pub fn default_for_user() -> Self {
        Address::Unix(default_socket_path(current_uid(), std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)))
    }
}

pub(crate) fn default_socket_path(uid: u32, xdg_runtime_dir: Option<PathBuf>) -> PathBuf {
    if uid == 0 {
        return PathBuf::from("/run/buildkit/buildkitd.sock");
    }
    let runtime = xdg_runtime_dir
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")));
    runtime.join("buildkit/buildkitd.sock")
}

pub(crate) fn current_uid() -> u32 {
    // The owner of /proc/self is the real uid of this process; no libc call needed.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix://{}", p.display()),
            Address::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_and_tcp() {
        assert_eq!(Address::parse("unix:///run/x.sock").unwrap(), Address::Unix("/run/x.sock".into()));
        assert_eq!(
            Address::parse("tcp://127.0.0.1:1234").unwrap(),
            Address::Tcp { host: "127.0.0.1".into(), port: 1234 }
        );
        assert_eq!(Address::parse("tcp://[::1]:99").unwrap(), Address::Tcp { host: "::1".into(), port: 99 });
        assert_eq!(Address::parse("tcp://[::1]:99").unwrap().to_string(), "tcp://[::1]:99");
    }

    #[test]
    fn rejects_bad_addresses() {
        assert!(matches!(Address::parse("docker-container://x"), Err(AddressError::Scheme(_))));
        assert!(matches!(Address::parse("unix://"), Err(AddressError::EmptyPath(_))));
        assert!(matches!(Address::parse("tcp://host"), Err(AddressError::HostPort(_))));
        assert!(matches!(Address::parse("tcp://host:notaport"), Err(AddressError::HostPort(_))));
        assert!(matches!(Address::parse("tcp://:12"), Err(AddressError::HostPort(_))));
    }

    #[test]
    fn default_socket_follows_buildctl() {
        assert_eq!(default_socket_path(0, Some("/x".into())), PathBuf::from("/run/buildkit/buildkitd.sock"));
        assert_eq!(default_socket_path(1000, Some("/run/user/1000".into())), PathBuf::from("/run/user/1000/buildkit/buildkitd.sock"));
        assert_eq!(default_socket_path(1001, None), PathBuf::from("/run/user/1001/buildkit/buildkitd.sock"));
    }
}
