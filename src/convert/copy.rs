//! COPY and ADD: sources from the context, another stage or image, URLs and git (ADD),
//! heredoc files; `--chown`, `--chmod`, `--link`, `--parents`, `--exclude`, `--checksum`.

use super::dispatch::{history, push_fmt, Dispatcher, StageEnv, StageState};
use crate::paths::clean_absolute as clean_path;
use super::error::ConvertError;
use crate::dockerfile::{self, classify_add_source, AddSourceKind, Chmod, InlineSource, SourceInfo};
use crate::llb;

/// What COPY and ADD have in common, after expansion.
pub(super) struct CopySpec<'a> {
    is_add: bool,
    sources: &'a [String],
    inline: &'a [InlineSource],
    dest: &'a str,
    from: Option<&'a str>,
    chown: Option<&'a str>,
    chmod: Option<&'a Chmod>,
    link: bool,
    parents: bool,
    excludes: &'a [String],
    keep_git_dir: bool,
    checksum: Option<&'a str>,
    unpack: Option<bool>,
    source: &'a SourceInfo,
}

impl<'a> CopySpec<'a> {
    pub(super) fn from_copy(c: &'a dockerfile::Copy) -> Self {
        CopySpec {
            is_add: false,
            sources: &c.sources,
            inline: &c.inline_sources,
            dest: &c.dest,
            from: c.from.as_deref(),
            chown: c.chown.as_deref(),
            chmod: c.chmod.as_ref(),
            link: c.link,
            parents: c.parents,
            excludes: &c.excludes,
            keep_git_dir: false,
            checksum: None,
            unpack: None,
            source: &c.source,
        }
    }

    pub(super) fn from_add(c: &'a dockerfile::Add) -> Self {
        CopySpec {
            is_add: true,
            sources: &c.sources,
            inline: &c.inline_sources,
            dest: &c.dest,
            from: None,
            chown: c.chown.as_deref(),
            chmod: c.chmod.as_ref(),
            link: c.link,
            parents: false,
            excludes: &c.excludes,
            keep_git_dir: c.keep_git_dir,
            checksum: c.checksum.as_deref(),
            unpack: c.unpack,
            source: &c.source,
        }
    }
}

impl Dispatcher<'_> {
    pub(super) fn copy(&mut self, st: &mut StageState, n: usize, spec: &CopySpec<'_>, env: &StageEnv) -> Result<(), ConvertError> {
        let keyword = if spec.is_add { "ADD" } else { "COPY" };
        let mut dest = if spec.dest.is_empty() {
            st.state.get_dir().to_string()
        } else if spec.dest.starts_with('/') {
            clean_path(spec.dest)
        } else {
            crate::paths::clean_absolute_joined(st.state.get_dir(), spec.dest)
        };
        if spec.dest.is_empty() || spec.dest == "." || spec.dest.ends_with('/') {
            if !dest.ends_with('/') {
                dest.push('/');
            }
        }
        let mode = match spec.chmod {
            None => None,
            Some(Chmod::Octal(m)) => Some(*m),
            Some(Chmod::Symbolic(s)) => {
                return Err(ConvertError::new(format!(
                    "--chmod={s}: symbolic modes need BuildKit v0.14 or newer; use an octal mode such as 0755"
                )))
            }
        };
        let from_state = match spec.from {
            Some(from) => Some(self.from_state(n, from, "copy")?),
            None => None,
        };
        if spec.checksum.is_some() {
            if spec.sources.len() != 1 {
                return Err(ConvertError::new("checksum can't be specified for multiple sources"));
            }
            if classify_add_source(&spec.sources[0]) != AddSourceKind::Url {
                return Err(ConvertError::new("checksum can't be specified for non-HTTP sources"));
            }
        }

        let mut msg = String::with_capacity(spec.source.original.len() + 16);
        msg.push_str(keyword);
        if spec.parents {
            msg.push_str(" --parents");
        }
        if let Some(chown) = spec.chown {
            push_fmt(&mut msg, format_args!(" --chown={chown}"));
        }
        if let Some(Chmod::Octal(m)) = spec.chmod {
            // The history shows the flag as written (`0755`, not `755`), like BuildKit.
            let raw = spec.source.original.split_whitespace().find_map(|w| w.strip_prefix("--chmod="));
            match raw {
                Some(raw) => push_fmt(&mut msg, format_args!(" --chmod={raw}")),
                None => push_fmt(&mut msg, format_args!(" --chmod={m:o}")),
            }
        }
        let display = self.display(&spec.source.original, env);
        let name = self.prefix(st, &display, env);

        let finish = |mut copy: llb::Copy| {
            if let Some(m) = mode {
                copy = copy.mode(m);
            }
            if let Some(chown) = spec.chown {
                copy = copy.owner(llb::Chown::parse(chown));
            }
            if !spec.excludes.is_empty() {
                copy = copy.exclude_patterns(spec.excludes);
            }
            copy
        };
        let mut actions = llb::FileActions::new();
        for src in spec.sources {
            push_fmt(&mut msg, format_args!(" {src}"));
            let kind = if spec.from.is_none() { classify_add_source(src) } else { AddSourceKind::Local };
            match kind {
                AddSourceKind::Git if spec.is_add => {
                    let (url, reference) = src.split_once('#').unwrap_or((src.as_str(), ""));
                    let mut git = llb::Git::new(url, reference).constraints(llb::Constraints::new().custom_name(name.clone()));
                    if spec.keep_git_dir {
                        git = git.keep_git_dir();
                    }
                    let state = git.finish();
                    actions = actions.then(finish(llb::Copy::new(&state, "/", dest.clone()).create_dest_path()));
                }
                AddSourceKind::Url if spec.is_add => {
                    let file_name = url_file_name(src);
                    let mut http = llb::Http::new(src.clone())
                        .filename(file_name.clone())
                        .constraints(llb::Constraints::new().custom_name(name.clone()));
                    if let Some(sum) = spec.checksum {
                        http = http.checksum(sum);
                    }
                    let state = http.finish();
                    let mut copy = llb::Copy::new(&state, file_name, dest.clone()).create_dest_path();
                    if spec.unpack == Some(true) {
                        copy = copy.attempt_unpack();
                    }
                    actions = actions.then(finish(copy));
                }
                AddSourceKind::Git | AddSourceKind::Url => {
                    return Err(ConvertError::new(format!("source can't be a URL for COPY: {src} (use ADD)")));
                }
                AddSourceKind::Local => {
                    let (path, include) = if spec.parents {
                        match src.split_once("/./") {
                            Some((pivot, pattern)) => (pivot.to_string(), Some(clean_path(pattern).trim_start_matches('/').to_string())),
                            None => ("/".to_string(), Some(clean_path(src).trim_start_matches('/').to_string())),
                        }
                    } else {
                        (src.clone(), None)
                    };
                    let path = clean_path(&path);
                    let source = from_state.as_ref().unwrap_or(&self.context);
                    let mut copy = llb::Copy::new(source, path, dest.clone())
                        .follow_symlinks()
                        .dir_contents_only()
                        .create_dest_path()
                        .allow_wildcard()
                        .allow_empty_wildcard();
                    if let Some(p) = include {
                        copy = copy.include_patterns(&[p]);
                    }
                    if spec.is_add && spec.unpack != Some(false) {
                        copy = copy.attempt_unpack();
                    }
                    actions = actions.then(finish(copy));
                    if spec.from.is_none() {
                        self.context_paths.insert(clean_path(src));
                    }
                }
            }
        }
        for inline in spec.inline {
            push_fmt(&mut msg, format_args!(" <<{}", inline.path));
            let file = llb::State::scratch().file(
                llb::Mkfile::new(inline.path.clone(), 0o644, inline.data.clone().into_bytes()),
                llb::Constraints::new().shared_platform(st.platform.clone()).custom_name("[internal] preparing inline document"),
            )?;
            actions = actions.then(finish(llb::Copy::new(&file, inline.path.clone(), dest.clone()).create_dest_path()));
        }
        push_fmt(&mut msg, format_args!(" {}", spec.dest));

        let c = self.constraints(st, spec.source.location, name.clone());
        if spec.link && mode.is_none() {
            // --link: the copy is its own layer on scratch, merged onto the stage, so it
            // stays cached when earlier layers change.
            let group = format!("link-{}-{}", n, st.cmd_index);
            let layer = llb::State::scratch().file(actions, c.clone().progress_group(&group, &name, true))?;
            let merge_name = name.replacen(&display, &format!("LINK {display}"), 1);
            let mc = self.constraints(st, spec.source.location, merge_name).progress_group(&group, &name, false);
            // The merge keeps the stage's meta values (env, dir, user) from its first input.
            st.state = llb::merge(&[st.state.clone(), layer], mc);
        } else {
            st.state = st.state.file(actions, c)?;
        }
        history(&mut st.image, msg, true, true);
        Ok(())
    }
}

/// The file name an ADD of a URL writes: the last path segment, `__unnamed__` when none.
fn url_file_name(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = without_scheme.split_once('/').map_or("", |(_, p)| p);
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(base) if !base.is_empty() && base != "." => base.to_string(),
        _ => "__unnamed__".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_names() {
        assert_eq!(url_file_name("https://example.com/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_file_name("https://example.com/"), "__unnamed__");
        assert_eq!(url_file_name("https://example.com"), "__unnamed__");
    }
}
