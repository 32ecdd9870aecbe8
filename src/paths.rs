//! Slash-path helpers shared by the stages that handle container paths (LLB states, the
//! converter, the context sender's patterns): Go's `path.Clean`, lexically.

/// Go's `path.Clean` (also `filepath.Clean` for `/`-separated paths): `.` for an empty
/// path, `..` kept at the start of relative paths and dropped at the root.
pub(crate) fn clean(p: &str) -> String {
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

/// `p` made absolute (relative to `/`) and cleaned: BuildKit's `NormalizePath("/", p)`.
pub(crate) fn clean_absolute(p: &str) -> String {
    clean(&format!("/{p}"))
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
    }
}
