//! The filtered walk fsutil's sender does: include patterns (plus the targets of
//! `followpaths` symlinks), exclude patterns, our local excludes; directories that hold a
//! selected entry are reported just before it, even when they are not selected themselves.
//!
//! In: a [`LocalContext`] and the daemon's filters. Out: entries in fsutil order through a
//! callback. It never follows a symlink while walking, and symlink targets named by
//! `followpaths` are resolved inside the context (an absolute target means context-root
//! relative), so nothing outside the context is ever read.

use std::collections::{BTreeSet, HashMap};
use std::fs::Metadata;
use std::path::PathBuf;

use bollard_buildkit_proto::fsutil::types::Stat;

use super::context::{go_mode, make_stat, LocalContext};
use super::patterns::{MatchInfo, PatternError, PatternMatcher};
use crate::paths::clean as clean_path;

#[derive(Debug, Default, Clone)]
pub(crate) struct Filters {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub follow_paths: Vec<String>,
}

pub(crate) struct Entry {
    pub stat: Stat,
    /// The real file behind a regular file (the only entries the daemon may request).
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("invalid {which} pattern: {source}")]
    Pattern { which: &'static str, source: PatternError },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("transfer stopped")]
    Stopped,
}

struct Matchers {
    include: Option<PatternMatcher>,
    exclude: Vec<PatternMatcher>,
    only_prefix_includes: bool,
    only_prefix_exclude_exceptions: Vec<bool>,
}

struct OpenDir {
    rel: String,
    md: Metadata,
    include: MatchInfo,
    exclude: Vec<MatchInfo>,
    emitted: bool,
}

const PATTERN_CHARS: &[char] = &['*', '[', ']', '?', '^', '\\'];

/// Walks `ctx` with `filters`, calling `emit` for each entry in order.
pub(crate) fn walk(
    ctx: &LocalContext,
    filters: &Filters,
    emit: &mut dyn FnMut(Entry) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    let mut include = filters.include.clone();
    if !filters.follow_paths.is_empty() {
        if let Some(targets) = follow_links(ctx, &filters.follow_paths)? {
            include.extend(targets);
            include.sort();
            include = dedupe_paths(include).unwrap_or_default();
        }
    }
    let include = if include.is_empty() {
        None
    } else {
        Some(PatternMatcher::new(&include).map_err(|source| WalkError::Pattern { which: "include", source })?)
    };
    let only_prefix_includes = include.as_ref().is_none_or(|m| {
        m.patterns().iter().all(|p| p.exclusion() || !p.without_trailing_glob().contains(PATTERN_CHARS))
    });
    let mut exclude = Vec::new();
    if !filters.exclude.is_empty() {
        exclude.push(PatternMatcher::new(&filters.exclude).map_err(|source| WalkError::Pattern { which: "exclude", source })?);
    }
    if let Some(local) = super::context::local_excludes(ctx).map_err(|source| WalkError::Pattern { which: ".dockerignore", source })? {
        exclude.push(local);
    }
    let only_prefix_exclude_exceptions = exclude
        .iter()
        .map(|m| m.patterns().iter().all(|p| !p.exclusion() || !p.without_trailing_glob().contains(PATTERN_CHARS)))
        .collect();
    let matchers = Matchers { include, exclude, only_prefix_includes, only_prefix_exclude_exceptions };
    let mut stack: Vec<OpenDir> = Vec::new();
    let mut inodes = HashMap::new();
    visit(ctx, "", &matchers, &mut stack, &mut inodes, emit)
}

fn visit(
    ctx: &LocalContext,
    dir: &str,
    m: &Matchers,
    stack: &mut Vec<OpenDir>,
    inodes: &mut HashMap<(u64, u64), String>,
    emit: &mut dyn FnMut(Entry) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    let io = |rel: &str, source| WalkError::Io { path: ctx.real_path(rel), source };
    let names = match ctx.read_dir(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir, e)),
    };
    for name in names {
        let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
        let md = match ctx.lstat(&rel) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&rel, e)),
        };
        let is_dir = md.is_dir();
        let mut skip = false;
        let mut include_info = MatchInfo::default();
        if let Some(inc) = &m.include {
            let parent = stack.last().map(|d| d.include.clone()).unwrap_or_default();
            let (matched, info) = inc.matches_using_parent(&rel, &parent);
            include_info = info;
            if !matched {
                if is_dir && m.only_prefix_includes {
                    let dir_slash = format!("{rel}/");
                    let may_hold = inc
                        .patterns()
                        .iter()
                        .any(|p| !p.exclusion() && format!("{}/", p.without_trailing_glob()).starts_with(&dir_slash));
                    if !may_hold {
                        continue;
                    }
                }
                skip = true;
            }
        }
        let mut exclude_infos = Vec::with_capacity(m.exclude.len());
        let mut prune = false;
        for (i, exc) in m.exclude.iter().enumerate() {
            let parent = stack.last().and_then(|d| d.exclude.get(i).cloned()).unwrap_or_default();
            let (matched, info) = exc.matches_using_parent(&rel, &parent);
            exclude_infos.push(info);
            if matched {
                if is_dir && m.only_prefix_exclude_exceptions[i] {
                    let dir_slash = format!("{rel}/");
                    let may_hold = exc
                        .patterns()
                        .iter()
                        .any(|p| p.exclusion() && format!("{}/", p.without_trailing_glob()).starts_with(&dir_slash));
                    if !may_hold {
                        prune = true; // nothing inside can come back: don't walk it
                        break;
                    }
                }
                skip = true;
            }
        }
        if prune {
            continue;
        }
        if !skip {
            for open in stack.iter_mut().filter(|d| !d.emitted) {
                open.emitted = true;
                let stat = make_stat(&open.rel, &ctx.real_path(&open.rel), &open.md, inodes).map_err(|e| io(&open.rel, e))?;
                emit(Entry { stat, file: None })?;
            }
            let real = ctx.real_path(&rel);
            let stat = make_stat(&rel, &real, &md, inodes).map_err(|e| io(&rel, e))?;
            let file = (stat.mode & go_mode::TYPE == 0).then_some(real);
            emit(Entry { stat, file })?;
        }
        if is_dir {
            stack.push(OpenDir { rel: rel.clone(), md, include: include_info, exclude: exclude_infos, emitted: !skip });
            let result = visit(ctx, &rel, m, stack, inodes, emit);
            stack.pop();
            result?;
        }
    }
    Ok(())
}

/// fsutil's `dedupePaths` on a sorted list: drops children of kept paths; `None` when
/// `.` is present (no filter at all).
fn dedupe_paths(sorted: Vec<String>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in sorted {
        if s == "." {
            return None;
        }
        if let Some(last) = out.last() {
            if s == *last || s.starts_with(&format!("{last}/")) {
                continue;
            }
        }
        out.push(s);
    }
    Some(out)
}

/// Resolves `followpaths` through symlinks inside the context into extra include
/// patterns (fsutil's `FollowLinks`). `None` means "everything".
fn follow_links(ctx: &LocalContext, paths: &[String]) -> Result<Option<Vec<String>>, WalkError> {
    let mut resolved = BTreeSet::new();
    for p in paths {
        follow_one(ctx, p, &mut resolved, 0)?;
    }
    dedupe_paths(resolved.into_iter().collect()).map(Some).ok_or(()).or(Ok(None))
}

fn join(a: &str, b: &str) -> String {
    clean_path(&format!("{a}/{b}"))
}

fn follow_one(ctx: &LocalContext, path: &str, resolved: &mut BTreeSet<String>, depth: usize) -> Result<(), WalkError> {
    if depth > 255 {
        return Ok(()); // a symlink loop: stop like the kernel's ELOOP would
    }
    let mut rest = clean_path(&format!("./{path}")).trim_start_matches('/').to_string();
    if rest.is_empty() {
        rest = ".".into();
    }
    let mut current = ".".to_string();
    loop {
        let (first, tail) = match rest.split_once('/') {
            Some((f, t)) => (f.to_string(), t.to_string()),
            None => (rest.clone(), String::new()),
        };
        current = join(&current, &first);
        let targets = read_symlink(ctx, &current, true)?;
        rest = tail;
        if (rest.is_empty() || targets.is_some()) && resolved.contains(&current) {
            return Ok(());
        }
        if let Some(targets) = targets {
            resolved.insert(current.clone());
            for t in targets {
                follow_one(ctx, &join(&t, &rest), resolved, depth + 1)?;
            }
            return Ok(());
        }
        if rest.is_empty() {
            resolved.insert(current);
            return Ok(());
        }
    }
}

fn contains_wildcards(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

fn read_symlink(ctx: &LocalContext, p: &str, allow_wildcard: bool) -> Result<Option<Vec<String>>, WalkError> {
    if p == "." {
        return Ok(None);
    }
    let (dir, base) = p.rsplit_once('/').unwrap_or((".", p));
    if allow_wildcard && contains_wildcards(base) {
        let rel_dir = if dir == "." { "" } else { dir };
        let names = match ctx.read_dir(rel_dir) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => return Ok(None),
            Err(source) => return Err(WalkError::Io { path: ctx.real_path(rel_dir), source }),
        };
        let glob = PatternMatcher::new(&[base]).map_err(|source| WalkError::Pattern { which: "followpaths", source })?;
        let mut out = Vec::new();
        for name in names.iter().filter(|n| glob.matches_or_parent_matches(n)) {
            out.extend(read_symlink(ctx, &join(dir, name), false)?.unwrap_or_default());
        }
        return Ok((!out.is_empty()).then_some(out));
    }
    let md = match ctx.lstat(p) {
        Ok(md) => md,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => return Ok(None),
        Err(source) => return Err(WalkError::Io { path: ctx.real_path(p), source }),
    };
    if !md.file_type().is_symlink() {
        return Ok(None);
    }
    let link = std::fs::read_link(ctx.real_path(p)).map_err(|source| WalkError::Io { path: ctx.real_path(p), source })?;
    let link = clean_path(&link.to_string_lossy());
    if link.starts_with('/') {
        return Ok(Some(vec![link]));
    }
    Ok(Some(vec![clean_path(&format!("/{dir}/{link}"))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(ctx: &LocalContext, f: &Filters) -> Vec<String> {
        let mut out = Vec::new();
        walk(ctx, f, &mut |e| {
            out.push(e.stat.path);
            Ok(())
        })
        .unwrap();
        out
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for f in ["a.txt", "b.tmp", "sub/c.txt", "sub/deep/d.txt", "z/keep.md", "z/drop.md", "B"] {
            let path = p.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, f).unwrap();
        }
        std::os::unix::fs::symlink("sub/deep", p.join("link")).unwrap();
        std::os::unix::fs::symlink("/etc", p.join("abs")).unwrap();
        d
    }

    #[test]
    fn order_is_depth_first_bytewise() {
        let d = tree();
        let ctx = LocalContext::new(d.path());
        assert_eq!(
            paths(&ctx, &Filters::default()),
            ["B", "a.txt", "abs", "b.tmp", "link", "sub", "sub/c.txt", "sub/deep", "sub/deep/d.txt", "z", "z/drop.md", "z/keep.md"]
        );
    }

    #[test]
    fn includes_emit_parents_lazily_and_excludes_prune() {
        let d = tree();
        let ctx = LocalContext::new(d.path());
        let f = Filters { include: vec!["sub/deep".into()], ..Default::default() };
        assert_eq!(paths(&ctx, &f), ["sub", "sub/deep", "sub/deep/d.txt"]);
        let f = Filters { include: vec!["**/*.txt".into()], ..Default::default() };
        assert_eq!(paths(&ctx, &f), ["a.txt", "sub", "sub/c.txt", "sub/deep", "sub/deep/d.txt"]);
        let f = Filters { exclude: vec!["*.tmp".into(), "sub".into(), "z".into(), "!z/keep.md".into()], ..Default::default() };
        assert_eq!(paths(&ctx, &f), ["B", "a.txt", "abs", "link", "z", "z/keep.md"]);
    }

    #[test]
    fn followpaths_resolve_inside_the_context() {
        let d = tree();
        let ctx = LocalContext::new(d.path());
        let f = Filters { follow_paths: vec!["link".into()], ..Default::default() };
        assert_eq!(paths(&ctx, &f), ["link", "sub", "sub/deep", "sub/deep/d.txt"]);
        // An absolute target is context-relative: "/etc" becomes "etc", which does not exist.
        let f = Filters { follow_paths: vec!["abs".into()], ..Default::default() };
        assert_eq!(paths(&ctx, &f), ["abs"]);
    }

    /// 400 filter sets over a tree with symlinks, answered by fsutil's own `Walk`
    /// (include/exclude/followpaths; generated with a small Go program over the Go sources).
    #[test]
    fn agrees_with_fsutil_walk() {
        let tree: serde_json::Value = serde_json::from_str(include_str!("../../tests/fixtures/session/walk/tree.json")).unwrap();
        let d = tempfile::tempdir().unwrap();
        for f in tree["files"].as_array().unwrap() {
            let p = d.path().join(f.as_str().unwrap());
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f.as_str().unwrap()).unwrap();
        }
        for (link, target) in tree["links"].as_object().unwrap() {
            std::os::unix::fs::symlink(target.as_str().unwrap(), d.path().join(link)).unwrap();
        }
        let ctx = LocalContext::new(d.path());
        let strings = |v: &serde_json::Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
        let mut wrong = Vec::new();
        for line in include_str!("../../tests/fixtures/session/walk/walk.tsv").lines() {
            let (case, expected) = line.split_once('\t').unwrap();
            let c: serde_json::Value = serde_json::from_str(case).unwrap();
            let f = Filters { include: strings(&c["I"]), exclude: strings(&c["E"]), follow_paths: strings(&c["F"]) };
            let got = paths(&ctx, &f).join(",");
            if got != expected {
                wrong.push(format!("{case}\n  go:   {expected}\n  rust: {got}"));
            }
        }
        assert!(wrong.is_empty(), "{} mismatches:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn local_excludes_apply_too() {
        let d = tree();
        let ctx = LocalContext::new(d.path()).with_excludes(["sub/deep".to_string(), "*.tmp".into()]);
        let f = Filters { include: vec!["sub".into(), "b.tmp".into()], ..Default::default() };
        assert_eq!(paths(&ctx, &f), ["sub", "sub/c.txt"]);
    }
}
