//! A local build context as the file sync sender sees it: a real directory, optionally
//! overlaid with extra mount points (`relative path -> real directory`) so a Bento's
//! `models/NAME/VERSION` can come straight from the model store without copying.
//!
//! In: the root, the mounts and local exclude patterns (`.dockerignore`). Out: a walk in
//! fsutil order (depth-first, names sorted bytewise) of fsutil `Stat`s with Go FileMode
//! bits, plus the real path of every regular file. Symlinks are reported as links and
//! never followed; nothing outside the root or a mount is ever opened.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use bollard_buildkit_proto::fsutil::types::Stat;

use super::patterns::{parse_ignore_file, PatternMatcher};

/// Go `os.FileMode` type bits (fsutil sends these, not `st_mode`).
pub(crate) mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
    pub const IRREGULAR: u32 = 1 << 19;
    /// `os.ModeType`: any of these means "not a regular file".
    pub const TYPE: u32 = DIR | SYMLINK | NAMED_PIPE | SOCKET | DEVICE | CHAR_DEVICE | IRREGULAR;
}

/// Where a named local source (`local://NAME`) reads from.
#[derive(Debug, Clone)]
pub struct LocalContext {
    root: PathBuf,
    /// Relative, cleaned, `/`-separated path -> real directory shown there.
    mounts: BTreeMap<String, PathBuf>,
    /// Patterns applied by us on top of what the daemon asks for (e.g. `.dockerignore`).
    excludes: Vec<String>,
}

impl LocalContext {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalContext { root: root.into(), mounts: BTreeMap::new(), excludes: Vec::new() }
    }

    /// Shows the real directory `dir` at `relative` inside the context (replacing whatever
    /// the root has there). Intermediate directories are synthesised when missing.
    pub fn with_mount(mut self, relative: &str, dir: impl Into<PathBuf>) -> Self {
        let rel = crate::paths::clean(relative.trim_start_matches('/'));
        self.mounts.insert(rel, dir.into());
        self
    }

    /// Adds exclude patterns (moby/patternmatcher syntax) applied by the sender.
    pub fn with_excludes(mut self, patterns: impl IntoIterator<Item = String>) -> Self {
        self.excludes.extend(patterns);
        self
    }

    /// Adds `<dockerfile>.dockerignore` when it exists, else `<root>/.dockerignore`.
    pub fn with_dockerignore(self, dockerfile: Option<&Path>) -> std::io::Result<Self> {
        let patterns = read_dockerignore(&self.root, dockerfile)?;
        Ok(self.with_excludes(patterns))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn excludes(&self) -> &[String] {
        &self.excludes
    }

    /// The real path behind a relative path (longest mount wins).
    pub(crate) fn real_path(&self, rel: &str) -> PathBuf {
        for (mount, dir) in self.mounts.iter().rev() {
            if rel == mount {
                return dir.clone();
            }
            if let Some(rest) = rel.strip_prefix(mount.as_str()).and_then(|r| r.strip_prefix('/')) {
                return dir.join(rest);
            }
        }
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Names of mount points (or their missing ancestors) directly inside `rel`.
    fn virtual_children(&self, rel: &str) -> Vec<String> {
        let prefix = if rel.is_empty() { String::new() } else { format!("{rel}/") };
        let mut out: Vec<String> = self
            .mounts
            .keys()
            .filter_map(|m| m.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.is_empty())
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        out.dedup();
        out
    }

    /// True for a strict ancestor of a mount point (a directory that may be synthetic).
    fn is_mount_ancestor(&self, rel: &str) -> bool {
        self.mounts.keys().any(|m| m.len() > rel.len() && m.starts_with(rel) && (rel.is_empty() || m.as_bytes()[rel.len()] == b'/'))
    }

    /// lstat of a relative path; a missing ancestor of a mount is a synthetic directory
    /// with the root's metadata.
    pub(crate) fn lstat(&self, rel: &str) -> std::io::Result<Metadata> {
        match std::fs::symlink_metadata(self.real_path(rel)) {
            Ok(md) if self.mounts.contains_key(rel) => {
                // A mount point is always a directory, even when given as a symlink.
                if md.file_type().is_symlink() {
                    std::fs::metadata(self.real_path(rel))
                } else {
                    Ok(md)
                }
            }
            Ok(md) => Ok(md),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.is_mount_ancestor(rel) => {
                std::fs::metadata(&self.root)
            }
            Err(e) => Err(e),
        }
    }

    /// Entry names of a directory, real and virtual, sorted bytewise like Go's ReadDir.
    pub(crate) fn read_dir(&self, rel: &str) -> std::io::Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        match std::fs::read_dir(self.real_path(rel)) {
            Ok(entries) => {
                for entry in entries {
                    let name = entry?.file_name();
                    names.push(name_to_string(&name, rel)?);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.is_mount_ancestor(rel) => {}
            Err(e) => return Err(e),
        }
        names.extend(self.virtual_children(rel));
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        names.dedup();
        Ok(names)
    }
}

fn name_to_string(name: &OsStr, dir: &str) -> std::io::Result<String> {
    name.to_str().map(str::to_string).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("file name {:?} in {dir:?} is not UTF-8; rename it or exclude it", name),
        )
    })
}

/// `.dockerignore` patterns for a context: `<Dockerfile>.dockerignore` next to the
/// Dockerfile wins over `<root>/.dockerignore`; no file means no patterns.
pub fn read_dockerignore(root: &Path, dockerfile: Option<&Path>) -> std::io::Result<Vec<String>> {
    let mut candidates = Vec::new();
    if let Some(df) = dockerfile {
        let mut name = df.as_os_str().to_owned();
        name.push(".dockerignore");
        candidates.push(PathBuf::from(name));
    }
    candidates.push(root.join(".dockerignore"));
    for path in candidates {
        match std::fs::read(&path) {
            Ok(bytes) => return Ok(parse_ignore_file(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))),
        }
    }
    Ok(Vec::new())
}

/// Go `os.FileMode` from unix metadata.
pub(crate) fn go_file_mode(md: &Metadata) -> u32 {
    let mode = md.mode();
    let ft = md.file_type();
    let mut out = mode & 0o777;
    if mode & 0o4000 != 0 {
        out |= go_mode::SETUID;
    }
    if mode & 0o2000 != 0 {
        out |= go_mode::SETGID;
    }
    if mode & 0o1000 != 0 {
        out |= go_mode::STICKY;
    }
    if ft.is_dir() {
        out |= go_mode::DIR;
    } else if ft.is_symlink() {
        out |= go_mode::SYMLINK;
    } else if ft.is_fifo() {
        out |= go_mode::NAMED_PIPE;
    } else if ft.is_socket() {
        // fsutil clears the socket bit; the entry is then sent as a plain, empty file.
    } else if ft.is_block_device() {
        out |= go_mode::DEVICE;
    } else if ft.is_char_device() {
        out |= go_mode::DEVICE | go_mode::CHAR_DEVICE;
    }
    out
}

/// Builds the fsutil `Stat` of one entry (xattrs included, hardlinks folded by inode).
pub(crate) fn make_stat(
    rel: &str,
    real: &Path,
    md: &Metadata,
    inodes: &mut std::collections::HashMap<(u64, u64), String>,
) -> std::io::Result<Stat> {
    let ft = md.file_type();
    let mut stat = Stat {
        path: rel.to_string(),
        mode: go_file_mode(md),
        uid: md.uid(),
        gid: md.gid(),
        mod_time: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
        ..Default::default()
    };
    if !ft.is_dir() {
        stat.size = md.len() as i64;
        if ft.is_block_device() || ft.is_char_device() {
            let rdev = md.rdev();
            stat.devmajor = libc::major(rdev) as i64;
            stat.devminor = libc::minor(rdev) as i64;
        }
        if ft.is_symlink() {
            stat.linkname = std::fs::read_link(real)?.to_string_lossy().into_owned();
        } else if md.nlink() > 1 {
            match inodes.get(&(md.dev(), md.ino())) {
                Some(first) => {
                    stat.linkname = first.clone();
                    stat.size = 0;
                }
                None => {
                    inodes.insert((md.dev(), md.ino()), rel.to_string());
                }
            }
        }
    }
    stat.xattrs = read_xattrs(real);
    Ok(stat)
}

/// Extended attributes of a path (not following symlinks); unsupported = none.
fn read_xattrs(path: &Path) -> std::collections::HashMap<String, Vec<u8>> {
    let mut out = std::collections::HashMap::new();
    let Ok(cpath) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return out };
    // SAFETY: cpath is NUL-terminated; a null buffer with size 0 asks for the needed length.
    let len = unsafe { libc::llistxattr(cpath.as_ptr(), std::ptr::null_mut(), 0) };
    if len <= 0 {
        return out;
    }
    let mut names = vec![0u8; len as usize];
    // SAFETY: the buffer is exactly `names.len()` bytes long.
    let len = unsafe { libc::llistxattr(cpath.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if len <= 0 {
        return out;
    }
    for name in names[..len as usize].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(cname) = std::ffi::CString::new(name) else { continue };
        // SAFETY: as above, first the size, then a buffer of that size.
        let size = unsafe { libc::lgetxattr(cpath.as_ptr(), cname.as_ptr(), std::ptr::null_mut(), 0) };
        if size < 0 {
            continue;
        }
        let mut value = vec![0u8; size as usize];
        let got = unsafe { libc::lgetxattr(cpath.as_ptr(), cname.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        if got < 0 {
            continue;
        }
        value.truncate(got as usize);
        out.insert(String::from_utf8_lossy(name).into_owned(), value);
    }
    out
}

/// Local exclude matcher built once per transfer.
pub(crate) fn local_excludes(ctx: &LocalContext) -> Result<Option<PatternMatcher>, super::patterns::PatternError> {
    if ctx.excludes.is_empty() {
        return Ok(None);
    }
    PatternMatcher::new(&ctx.excludes).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_overlay_the_root() {
        let root = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "a").unwrap();
        std::fs::write(store.path().join("model.bin"), "m").unwrap();
        let ctx = LocalContext::new(root.path()).with_mount("models/iris/v1", store.path());
        assert_eq!(ctx.read_dir("").unwrap(), vec!["a.txt", "models"]);
        assert_eq!(ctx.read_dir("models").unwrap(), vec!["iris"]);
        assert_eq!(ctx.read_dir("models/iris").unwrap(), vec!["v1"]);
        assert_eq!(ctx.read_dir("models/iris/v1").unwrap(), vec!["model.bin"]);
        assert!(ctx.lstat("models/iris").unwrap().is_dir());
        assert_eq!(ctx.real_path("models/iris/v1/model.bin"), store.path().join("model.bin"));
    }

    #[test]
    fn go_modes() {
        let dir = tempfile::tempdir().unwrap();
        let md = std::fs::symlink_metadata(dir.path()).unwrap();
        assert_eq!(go_file_mode(&md) & go_mode::DIR, go_mode::DIR);
        std::os::unix::fs::symlink("x", dir.path().join("l")).unwrap();
        let md = std::fs::symlink_metadata(dir.path().join("l")).unwrap();
        assert_eq!(go_file_mode(&md), go_mode::SYMLINK | 0o777);
    }

    #[test]
    fn dockerignore_next_to_dockerfile_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "a\n").unwrap();
        std::fs::write(dir.path().join("Dockerfile.dockerignore"), "/b\n").unwrap();
        let df = dir.path().join("Dockerfile");
        assert_eq!(read_dockerignore(dir.path(), Some(&df)).unwrap(), vec!["b"]);
        assert_eq!(read_dockerignore(dir.path(), None).unwrap(), vec!["a"]);
    }
}
