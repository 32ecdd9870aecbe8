//! Where a failing vertex came from: the Definition's source map (files + line ranges per
//! op digest), rendered like BuildKit's `PrintSourceMap` (`Dockerfile:22`, a dashed box,
//! numbered lines, `>>>` on the failing ones), plus the template line a Bento's rendered
//! Dockerfile line came from when the caller can tell.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use bollard_buildkit_proto::pb;

/// One source file the build was made from (a Dockerfile, usually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub data: Vec<u8>,
}

/// 1-based inclusive line range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    pub start: u32,
    pub end: u32,
}

/// Lines of one file an op came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: usize,
    pub ranges: Vec<LineRange>,
}

/// Op digest -> source lines, what the converter knows about the Definition it produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    pub files: Vec<SourceFile>,
    pub locations: HashMap<String, Vec<SourceLocation>>,
}

/// The template file and line a rendered Dockerfile line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateOrigin {
    pub file: String,
    pub line: u32,
}

/// `(rendered file name, rendered line) -> template origin`, supplied by the Bento path.
pub type TemplateLookup = Arc<dyn Fn(&str, u32) -> Option<TemplateOrigin> + Send + Sync>;

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file, returning its index for `add_location`.
    pub fn add_file(&mut self, name: impl Into<String>, data: impl Into<Vec<u8>>) -> usize {
        self.files.push(SourceFile { name: name.into(), data: data.into() });
        self.files.len() - 1
    }

    pub fn add_location(&mut self, digest: impl Into<String>, file: usize, ranges: Vec<LineRange>) {
        self.locations.entry(digest.into()).or_default().push(SourceLocation { file, ranges });
    }

    /// Reads `Definition.source` (pb.Source: infos + locations by digest).
    pub fn from_definition(def: &pb::Definition) -> Self {
        let mut map = SourceMap::new();
        let Some(src) = &def.source else { return map };
        for info in &src.infos {
            map.add_file(info.filename.clone(), info.data.clone());
        }
        for (digest, locs) in &src.locations {
            for loc in &locs.locations {
                let ranges = loc
                    .ranges
                    .iter()
                    .map(|r| {
                        let start = r.start.as_ref().map_or(0, |p| p.line.max(0) as u32);
                        let end = r.end.as_ref().map_or(0, |p| p.line.max(0) as u32);
                        LineRange { start, end }
                    })
                    .collect();
                map.add_location(digest.clone(), loc.source_index.max(0) as usize, ranges);
            }
        }
        map
    }

    /// Adds another map (e.g. one Definition per platform); its file indexes are shifted.
    pub fn extend(&mut self, other: SourceMap) {
        let base = self.files.len();
        self.files.extend(other.files);
        for (digest, locs) in other.locations {
            let entry = self.locations.entry(digest).or_default();
            entry.extend(locs.into_iter().map(|l| SourceLocation { file: l.file + base, ranges: l.ranges }));
        }
    }

    pub fn lookup(&self, digest: &str) -> &[SourceLocation] {
        self.locations.get(digest).map(Vec::as_slice).unwrap_or_default()
    }
}

/// A rendered excerpt for a failing vertex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSnippet {
    pub file: String,
    /// First failing line (1-based).
    pub line: u32,
    /// The boxed excerpt, as BuildKit prints it (ends with a newline).
    pub text: String,
    pub template: Option<TemplateOrigin>,
}

impl SourceSnippet {
    /// The excerpt plus the template line, ready to print.
    pub fn render(&self) -> String {
        let mut s = self.text.clone();
        if let Some(t) = &self.template {
            let _ = writeln!(s, "{}:{} comes from template {}:{}", self.file, self.line, t.file, t.line);
        }
        s
    }
}

/// Excerpts for every location of `digest`.
pub(crate) fn snippets(map: &SourceMap, digest: &str, template: Option<&TemplateLookup>) -> Vec<SourceSnippet> {
    map.lookup(digest)
        .iter()
        .filter_map(|loc| {
            let file = map.files.get(loc.file)?;
            let (text, line) = excerpt(&file.name, &file.data, &loc.ranges)?;
            let template = template.and_then(|f| f(&file.name, line));
            Some(SourceSnippet { file: file.name.clone(), line, text, template })
        })
        .collect()
}

/// BuildKit's `Source.Print`: two lines of context (four around a single line).
fn excerpt(name: &str, data: &[u8], ranges: &[LineRange]) -> Option<(String, u32)> {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut start = ranges.iter().map(|r| r.start).min()? as usize;
    let mut end = ranges.iter().map(|r| r.end.max(r.start)).max()? as usize;
    if start > lines.len() || start < 1 {
        return None;
    }
    end = end.min(lines.len());
    let pad = if end == start { 4 } else { 2 };
    let first = start;
    let mut p = 0;
    while p < pad {
        if start > 1 {
            start -= 1;
            p += 1;
        }
        if end != lines.len() {
            end += 1;
            p += 1;
        }
        p += 1;
    }
    let contains = |l: usize| ranges.iter().any(|r| (r.start as usize) <= l && (r.end.max(r.start) as usize) >= l);
    let mut out = format!("{name}:{first}\n--------------------\n");
    for (i, line) in lines.iter().enumerate().take(end).skip(start - 1) {
        let n = i + 1;
        let pfx = if contains(n) { ">>>" } else { "   " };
        let _ = writeln!(out, " {n:>3} | {pfx} {line}");
    }
    out.push_str("--------------------\n");
    Some((out, first as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = "FROM localhost:5000/base:latest\nENV GREETING=hello\nRUN echo \"$GREETING from step one\"\nWORKDIR /app\nRUN echo \"about to fail\"; \\\n    echo \"some stderr\" >&2; \\\n    ls /does-not-exist; \\\n    exit 3\nRUN echo never\n";

    #[test]
    fn excerpt_matches_buildctl() {
        let mut map = SourceMap::new();
        let f = map.add_file("Dockerfile", DOCKERFILE);
        map.add_location("sha256:x", f, vec![LineRange { start: 5, end: 8 }]);
        let got = snippets(&map, "sha256:x", None);
        // What buildctl printed for the same failure (tests/fixtures/progress/failing).
        let want = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/progress/failing/buildctl-error.txt")).unwrap();
        assert!(want.starts_with(&got[0].text), "{}\n---\n{}", got[0].text, want);
        assert_eq!(got[0].line, 5);
        assert!(snippets(&map, "sha256:other", None).is_empty());
    }

    #[test]
    fn maps_of_several_definitions_merge() {
        let mut a = SourceMap::new();
        let fa = a.add_file("Dockerfile", "FROM a\n");
        a.add_location("da", fa, vec![LineRange { start: 1, end: 1 }]);
        let mut b = SourceMap::new();
        let fb = b.add_file("Dockerfile.arm", "FROM b\n");
        b.add_location("db", fb, vec![LineRange { start: 1, end: 1 }]);
        a.extend(b);
        assert_eq!(a.lookup("db")[0].file, 1);
        assert_eq!(snippets(&a, "db", None)[0].file, "Dockerfile.arm");
    }

    #[test]
    fn template_origin_is_named() {
        let mut map = SourceMap::new();
        let f = map.add_file("Dockerfile", "FROM a\nRUN b\n");
        map.add_location("d", f, vec![LineRange { start: 2, end: 2 }]);
        let lookup: TemplateLookup = Arc::new(|file, line| (file == "Dockerfile").then(|| TemplateOrigin { file: "base_debian.j2".into(), line: line + 10 }));
        let s = &snippets(&map, "d", Some(&lookup))[0];
        assert!(s.render().ends_with("Dockerfile:2 comes from template base_debian.j2:12\n"), "{}", s.render());
    }
}
