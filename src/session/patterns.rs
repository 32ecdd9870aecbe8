//! Path patterns with BuildKit's exact semantics (moby/patternmatcher), used for the
//! daemon's include/exclude lists and `.dockerignore`.
//!
//! In: pattern strings (`**`, `*`, `?`, `[a-z]`, `\` escapes, `!` exceptions). Out: a
//! matcher answering "is this slash-separated relative path selected?", optionally reusing
//! the parent directory's per-pattern results the way fsutil's walker does. gitignore
//! semantics differ (anchoring, trailing `/`), so this is a port of the Go rules, not a
//! gitignore crate.

use regex::Regex;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    #[error("illegal exclusion pattern: \"!\"")]
    LoneBang,
    #[error("syntax error in pattern {pattern:?}: {reason}")]
    Syntax { pattern: String, reason: String },
}

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `prefix**`: the stored text is the prefix.
    Prefix(String),
    /// `**suffix`: the stored text is the suffix (it starts with `/` unless the pattern is `**x`).
    Suffix(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub struct Pattern {
    /// Cleaned pattern text, without the leading `!`.
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    pub fn exclusion(&self) -> bool {
        self.exclusion
    }
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }

    /// The pattern without a trailing `/**` or `/*`, as fsutil uses it to prune directories.
    pub(crate) fn without_trailing_glob(&self) -> &str {
        let s = self.cleaned.strip_suffix("/**").unwrap_or(&self.cleaned);
        s.strip_suffix("/*").unwrap_or(s)
    }
}

/// Per-pattern results of a directory, handed to its children (`MatchInfo` in Go).
#[derive(Debug, Clone, Default)]
pub struct MatchInfo(Vec<bool>);

#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl PatternMatcher {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut out = PatternMatcher::default();
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let mut p = crate::paths::clean(trimmed);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err(PatternError::LoneBang);
                }
                exclusion = true;
                out.exclusions = true;
                p = rest.to_string();
            }
            let kind = compile(&p)?;
            out.patterns.push(Pattern { cleaned: p, exclusion, kind });
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// `MatchesOrParentMatches`: true when `path` or one of its parents is selected and
    /// no later `!` pattern takes it back.
    pub fn matches_or_parent_matches(&self, path: &str) -> bool {
        let mut matched = false;
        let parents: Vec<&str> = parent_prefixes(path);
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let m = p.matches(path) || parents.iter().any(|parent| p.matches(parent));
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`: like [`Self::matches_or_parent_matches`] but reuses the
    /// parent directory's per-pattern results (empty info = no parent known).
    pub fn matches_using_parent(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let known = parent.0.len() == self.patterns.len() && !parent.0.is_empty();
        let mut info = vec![false; self.patterns.len()];
        let mut matched = false;
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = known && parent.0[i];
            if !m {
                if p.exclusion != matched {
                    continue;
                }
                m = p.matches(path);
                if !m && !known {
                    m = parent_prefixes(path).iter().any(|parent| p.matches(parent));
                }
            }
            info[i] = m;
            if m {
                matched = !p.exclusion;
            }
        }
        (matched, MatchInfo(info))
    }
}

/// `a`, `a/b` for `a/b/c` (the proper parents, shortest first).
fn parent_prefixes(path: &str) -> Vec<&str> {
    path.char_indices().filter(|&(_, c)| c == '/').map(|(i, _)| &path[..i]).collect()
}


fn compile(pattern: &str) -> Result<Kind, PatternError> {
    let syntax = |reason: &str| PatternError::Syntax { pattern: pattern.into(), reason: reason.into() };
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    #[derive(PartialEq)]
    enum K {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut kind = K::Exact;
    let mut i = 0;
    let mut index = 0; // Go counts scanner iterations, not chars consumed
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == K::Exact {
                        kind = K::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = K::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = K::Regex;
                }
                if index == 0 {
                    kind = K::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = K::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = K::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => {
                if let Some(&next) = chars.get(i) {
                    i += 1;
                    re.push('\\');
                    re.push(next);
                    kind = K::Regex;
                } else {
                    re.push_str("\\\\");
                }
            }
            '[' | ']' => {
                re.push(ch);
                kind = K::Regex;
            }
            other => re.push(other),
        }
        index += 1;
    }
    // filepath.Match's own syntax check rejects a dangling escape and unclosed classes.
    if pattern.ends_with('\\') && !pattern.ends_with("\\\\") {
        return Err(syntax("trailing backslash"));
    }
    Ok(match kind {
        K::Exact => Kind::Exact,
        K::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        K::Suffix => {
            if pattern.len() == 2 {
                // `**` alone: everything (Go's suffix "" matches every path).
                Kind::Prefix(String::new())
            } else {
                Kind::Suffix(pattern[2..].to_string())
            }
        }
        K::Regex => {
            re.push('$');
            Kind::Regex(Regex::new(&re).map_err(|e| syntax(&e.to_string()))?)
        }
    })
}

/// Reads `.dockerignore` text the way `ignorefile.ReadAll` does: BOM stripped, `#` lines
/// skipped, whitespace trimmed, paths cleaned, a leading `/` dropped (also after `!`).
pub fn parse_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = crate::paths::clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        out.push(if invert { format!("!{cleaned}") } else { cleaned });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str], path: &str) -> bool {
        PatternMatcher::new(patterns).unwrap().matches_or_parent_matches(path)
    }

    #[test]
    fn star_stays_within_one_segment() {
        assert!(m(&["*.txt"], "a.txt"));
        assert!(!m(&["*.txt"], "dir/a.txt"));
        assert!(m(&["dir/*"], "dir/a/b")); // the parent "dir/a" matches
        assert!(m(&["*"], "x/y"));
    }

    #[test]
    fn double_star_forms() {
        assert!(m(&["**/*.go"], "a.go"));
        assert!(m(&["**/*.go"], "x/y/a.go"));
        assert!(m(&["**"], "anything/at/all"));
        assert!(m(&["a/**"], "a/b/c"));
        assert!(m(&["a/**"], "a/"));
        assert!(!m(&["a/**"], "ab"));
        assert!(m(&["a/**/b"], "a/b"));
        assert!(m(&["a/**/b"], "a/x/y/b"));
        assert!(m(&["**/foo"], "foo"));
        assert!(m(&["**/foo"], "x/foo"));
        assert!(m(&["**foo"], "xfoo"));
        assert!(m(&["a**"], "abc/d"));
        assert!(m(&["a/*/**"], "a/b/c"));
    }

    #[test]
    fn exceptions_apply_in_order() {
        assert!(!m(&["*.md", "!README.md"], "README.md"));
        assert!(m(&["*.md", "!README.md"], "CHANGES.md"));
        assert!(m(&["*.md", "!README.md", "README.md"], "README.md"));
        assert!(!m(&["docs", "!docs/keep"], "docs/keep/x"));
        assert!(m(&["docs", "!docs/keep"], "docs/other"));
        assert_eq!(PatternMatcher::new(&["!"]).unwrap_err(), PatternError::LoneBang);
    }

    #[test]
    fn leading_slash_and_cleaning() {
        // Patterns are cleaned; a leading "/" survives Clean (the ignore file drops it).
        assert!(m(&["a/./b/../c"], "a/c"));
        assert!(m(&["dir/"], "dir/file"));
        assert_eq!(parse_ignore_file("/abs\n!/keep\n# c\n  \n\u{feff}x"), vec!["abs", "!keep", "\u{feff}x"]);
        assert_eq!(parse_ignore_file("\u{feff}a/\n ! b \n"), vec!["a", "!b"]);
    }

    #[test]
    fn dir_match_covers_children() {
        assert!(m(&["node_modules"], "node_modules/x/y.js"));
        assert!(!m(&["node_modules"], "src/node_modules/x"));
    }

    #[test]
    fn question_mark_classes_and_escapes() {
        assert!(m(&["?.txt"], "a.txt"));
        assert!(!m(&["?.txt"], "ab.txt"));
        assert!(!m(&["a?b"], "a/b"));
        assert!(m(&["[a-c].txt"], "b.txt"));
        assert!(!m(&["[a-c].txt"], "d.txt"));
        assert!(m(&["[^a].txt"], "b.txt"));
        assert!(!m(&["[^a].txt"], "a.txt"));
        assert!(m(&[r"\*.txt"], "*.txt"));
        assert!(!m(&[r"\*.txt"], "a.txt"));
        assert!(m(&["a.b"], "a.b"));
        assert!(!m(&["a.b"], "axb")); // '.' is literal
        assert!(m(&["f(x)+{y}$"], "f(x)+{y}$"));
    }

    #[test]
    fn parent_results_are_reused() {
        let pm = PatternMatcher::new(&["a", "!a/keep"]).unwrap();
        let (m1, info) = pm.matches_using_parent("a", &MatchInfo::default());
        assert!(m1);
        let (m2, _) = pm.matches_using_parent("a/keep", &info);
        assert!(!m2);
        let (m3, _) = pm.matches_using_parent("a/other", &info);
        assert!(m3);
    }

    /// 3,000 random pattern sets answered by moby/patternmatcher itself
    /// (`MatchesOrParentMatches`, generated with a small Go program over the Go sources).
    #[test]
    fn agrees_with_the_go_implementation() {
        let table = include_str!("../../tests/fixtures/session/patterns.tsv");
        let mut wrong = Vec::new();
        for line in table.lines() {
            let mut cols = line.split('\t');
            let (Some(patterns), Some(path), Some(expected)) = (cols.next(), cols.next(), cols.next()) else { continue };
            let patterns: Vec<&str> = patterns.split('\u{1f}').collect();
            let got = match PatternMatcher::new(&patterns) {
                Ok(pm) => pm.matches_or_parent_matches(path).to_string(),
                Err(_) => "ERR".to_string(),
            };
            if got != expected {
                wrong.push(format!("{patterns:?} {path:?}: go={expected} rust={got}"));
            }
        }
        assert!(wrong.is_empty(), "{} mismatches:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn clean_matches_go() {
        for (i, o) in [("", "."), ("a//b/", "a/b"), ("./a", "a"), ("../a", "../a"), ("/../a", "/a"), ("a/..", ".")] {
            assert_eq!(crate::paths::clean(i), o, "{i}");
        }
    }
}
