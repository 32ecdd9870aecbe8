//! Slash-path helpers shared by the stages that handle container paths (LLB states, the
//! converter, the context sender's patterns): Go's `path.Clean`, lexically.

/// Go's `path.Clean` (also `filepath.Clean` for `/`-separated paths): `.` for an empty
/// path, `..` kept at the start of relative paths and dropped at the root.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    clean_segments(p.starts_with('/'), p.split('/'), p.len())
}

/// `p` made absolute (relative to `/`) and cleaned: BuildKit's `NormalizePath("/", p)`.
pub(crate) fn clean_absolute(p: &str) -> String {
    clean_segments(true, p.split('/'), p.len() + 1)
}

/// `clean(&format!("{base}/{p}"))` without building the joined string first.
pub(crate) fn clean_joined(base: &str, p: &str) -> String {
    // `{base}/{p}` is rooted when base is, or empty.
    clean_segments(base.is_empty() || base.starts_with('/'), base.split('/').chain(p.split('/')), base.len() + 1 + p.len())
}

/// `clean_absolute(&format!("{base}/{p}"))` without building the joined string first.
pub(crate) fn clean_absolute_joined(base: &str, p: &str) -> String {
    clean_segments(true, base.split('/').chain(p.split('/')), base.len() + 2 + p.len())
}

/// The cleaning itself, written straight into the result (this runs for every path of
/// every instruction). `..` pops the last segment unless only `..`s precede it.
fn clean_segments<'a>(rooted: bool, segments: impl Iterator<Item = &'a str>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    if rooted {
        out.push('/');
    }
    let start = out.len();
    // End of the leading `..` segments of a relative path: they are never popped.
    let mut floor = start;
    for seg in segments {
        match seg {
            "" | "." => {}
            ".." => {
                if out.len() > floor {
                    let cut = out[start..].rfind('/').map_or(start, |i| start + i);
                    out.truncate(cut);
                } else if !rooted {
                    if out.len() > start {
                        out.push('/');
                    }
                    out.push_str("..");
                    floor = out.len();
                }
            }
            s => {
                if out.len() > start {
                    out.push('/');
                }
                out.push_str(s);
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go_path_clean() {
        for (input, want) in [
            ("", "."),
            ("/", "/"),
            ("a/b/../c", "a/c"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("a/..", "."),
            ("/x/./y//", "/x/y"),
        ] {
            assert_eq!(clean(input), want, "{input:?}");
        }
        assert_eq!(clean_absolute("a/../../b"), "/b");
        assert_eq!(clean_absolute(""), "/");
        assert_eq!(clean_joined("/app", "../x/./y/"), "/x/y");
        assert_eq!(clean_joined("a", "../../b"), "../b");
    }

    /// The straightforward version (split, stack, join) the fast one must agree with.
    fn reference_clean(p: &str) -> String {
        if p.is_empty() {
            return ".".into();
        }
        let rooted = p.starts_with('/');
        let mut parts: Vec<&str> = Vec::new();
        for seg in p.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    if parts.last().is_some_and(|l| *l != "..") {
                        parts.pop();
                    } else if !rooted {
                        parts.push("..");
                    }
                }
                s => parts.push(s),
            }
        }
        let body = parts.join("/");
        match (rooted, body.is_empty()) {
            (true, _) => format!("/{body}"),
            (false, true) => ".".into(),
            (false, false) => body,
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_reference(p in "[/a.b]{0,12}", q in "[/a.]{0,8}") {
            proptest::prop_assert_eq!(clean(&p), reference_clean(&p));
            proptest::prop_assert_eq!(clean_absolute(&p), reference_clean(&format!("/{p}")));
            proptest::prop_assert_eq!(clean_joined(&p, &q), reference_clean(&format!("{p}/{q}")));
            proptest::prop_assert_eq!(clean_absolute_joined(&p, &q), reference_clean(&format!("/{p}/{q}")));
        }
    }
}
