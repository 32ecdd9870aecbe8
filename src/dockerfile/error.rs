//! The one error type of the `dockerfile` module: what went wrong (a kind and a message),
//! where (file, line, column, and the last line of the instruction), and enough of the source
//! to print the BuildKit-style snippet (`Dockerfile:12`, context lines, `>>>` on the bad ones).

use std::fmt;
use std::sync::Arc;

/// A point in a Dockerfile: 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The lines an instruction occupies (1-based, inclusive), heredoc bodies included.
/// This is what the converter puts into the LLB source map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    pub start_line: usize,
    pub end_line: usize,
}

/// What class of mistake an error is; lets callers pick hints and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ErrorKind {
    /// Directives, continuation, heredoc framing, JSON arrays.
    Syntax,
    /// `FOO bar` where FOO is no Dockerfile instruction.
    UnknownInstruction,
    /// An unknown, duplicated or value-less `--flag`.
    Flag,
    /// Wrong number of arguments for an instruction.
    Arguments,
    /// A value that does not parse (mount option, duration, chmod, stage name, …).
    InvalidValue,
    /// Instruction outside a stage, duplicate stage names.
    Structure,
    /// `${…}` syntax errors and `${v:?msg}` failures during shell-word expansion.
    Expansion,
    /// The file holds no instruction at all.
    Empty,
}

/// A Dockerfile error with its location. Cheap to move (boxed).
#[derive(Clone, PartialEq)]
pub struct ParseError {
    inner: Box<Inner>,
}

#[derive(Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    message: String,
    span: Option<Span>,
    end_line: usize,
    source: Option<Arc<str>>,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ParseError {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                span: None,
                end_line: 0,
                source: None,
            }),
        }
    }

    /// Attaches a location unless one is already set (the innermost location wins).
    pub(crate) fn at(mut self, file: &Arc<str>, line: usize, column: usize, end_line: usize) -> Self {
        if self.inner.span.is_none() {
            self.inner.span = Some(Span { file: file.clone(), line, column: column.max(1) });
            self.inner.end_line = end_line.max(line);
        }
        self
    }

    /// Attaches the Dockerfile text so that [`ParseError::render`] can show context.
    pub(crate) fn with_source(mut self, source: &Arc<str>) -> Self {
        if self.inner.source.is_none() {
            self.inner.source = Some(source.clone());
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The reason alone, without location.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Where the error starts; `None` only for errors of the bare expander
    /// ([`crate::dockerfile::shell::Lexer`]) that no instruction was attached to.
    pub fn span(&self) -> Option<&Span> {
        self.inner.span.as_ref()
    }

    /// Last line of the offending instruction (equals `span().line` for one-line ones).
    pub fn end_line(&self) -> usize {
        self.inner.end_line
    }

    /// BuildKit's error snippet: `Dockerfile:12`, a ruler, up to a few lines of context
    /// with `>>>` on the offending lines, a ruler, then the reason. Falls back to the
    /// plain message when no source text is attached.
    pub fn render(&self) -> String {
        let (Some(span), Some(source)) = (&self.inner.span, &self.inner.source) else {
            return self.to_string();
        };
        let mut out = snippet(&span.file, source, span.line, self.inner.end_line.max(span.line));
        out.push_str(&format!("error: {}:{}: {}\n", span.file, span.line, self.inner.message));
        out
    }
}

/// Same padding rule as BuildKit's `errdefs.Source.Print`: 4 lines of context around a
/// one-line range, 2 around a longer one, split before/after while the file allows.
pub fn snippet(file: &str, source: &str, start: usize, end: usize) -> String {
    let lines: Vec<&str> = source.split('\n').collect();
    if start < 1 || start > lines.len() {
        return String::new();
    }
    let end = end.min(lines.len());
    let pad = if end == start { 4 } else { 2 };
    let (mut first, mut last, mut p) = (start, end, 0);
    while p < pad {
        if first > 1 {
            first -= 1;
            p += 1;
        }
        if last != lines.len() {
            last += 1;
            p += 1;
        }
        p += 1;
    }
    let mut out = format!("{file}:{start}\n--------------------\n");
    for i in first..=last {
        let marker = if (start..=end).contains(&i) { ">>>" } else { "   " };
        out.push_str(&format!(" {i:>3} | {marker} {}\n", lines[i - 1]));
    }
    out.push_str("--------------------\n");
    out
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.span {
            Some(span) => write!(f, "{}:{}: {}", span.file, span.line, self.inner.message),
            None => f.write_str(&self.inner.message),
        }
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseError")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .field("span", &self.inner.span)
            .field("end_line", &self.inner.end_line)
            .finish()
    }
}

impl std::error::Error for ParseError {}

/// "did you mean X?" in BuildKit's way: the closest option within edit distance 2.
pub(crate) fn suggest(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let value_cmp = if case_sensitive { value.to_string() } else { value.to_lowercase() };
    let mut best: Option<&str> = None;
    let mut best_distance = 3;
    for option in options {
        let option_cmp = if case_sensitive { option.to_string() } else { option.to_lowercase() };
        if option_cmp == value_cmp {
            return None;
        }
        let distance = levenshtein(&value_cmp, &option_cmp);
        if distance < best_distance {
            best_distance = distance;
            best = Some(option);
        }
    }
    best.map(|b| {
        if !case_sensitive && value.chars().all(|c| !c.is_lowercase()) {
            b.to_uppercase()
        } else {
            b.to_string()
        }
    })
}

pub(crate) fn with_suggestion(message: String, value: &str, options: &[&str], case_sensitive: bool) -> String {
    match suggest(value, options, case_sensitive) {
        Some(s) => format!("{message} (did you mean {s}?)"),
        None => message,
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_pads_like_buildkit() {
        let src = "FROM a\nENV A=1\nRUN x\nUSER u\nCMD y\nLABEL z=1\n";
        let s = snippet("Dockerfile", src, 3, 3);
        assert_eq!(
            s,
            "Dockerfile:3\n--------------------\n   1 |     FROM a\n   2 |     ENV A=1\n   3 | >>> RUN x\n   4 |     USER u\n   5 |     CMD y\n--------------------\n"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("COPPY", &["copy", "run"], false).as_deref(), Some("COPY"));
        assert_eq!(suggest("chwon", &["chown", "chmod"], true).as_deref(), Some("chown"));
        assert_eq!(suggest("zzzzzz", &["chown"], true), None);
    }
}
