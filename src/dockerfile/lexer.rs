//! From text to logical lines, the way BuildKit's `parser.Parse` reads a Dockerfile:
//! parser directives at the very top, comments, line continuation with the escape
//! character (comment and blank lines inside a continuation are skipped), heredoc bodies
//! after RUN/COPY/ADD lines. Each logical line comes out split into keyword, raw flags
//! and argument text, with its line range. Nothing is expanded here.

use std::sync::Arc;

use super::error::{ErrorKind, Location, ParseError};
use super::shell::{Lexer, NoEnv};
use super::words::{parse_json, split_command, Json};

/// One parser directive (`# syntax=…`, `# escape=…`, `# check=…`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Directive {
    pub value: String,
    pub line: usize,
}

/// The directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Directives {
    pub syntax: Option<Directive>,
    pub escape: Option<Directive>,
    pub check: Option<Directive>,
    /// The escape character in effect: `\` unless `# escape=` said otherwise.
    pub escape_char: char,
}

/// A heredoc attached to an instruction. `content` is the raw body (every line with its
/// newline); when `chomp` is set (`<<-`) leading tabs are to be removed from each line, see
/// [`Heredoc::body`]. `expand` is false when the delimiter was quoted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heredoc {
    pub name: String,
    pub file_descriptor: u64,
    pub expand: bool,
    pub chomp: bool,
    pub content: String,
}

impl Heredoc {
    /// The body with leading tabs removed when the heredoc was opened with `<<-`.
    pub fn body(&self) -> String {
        if self.chomp {
            chomp_tabs(&self.content)
        } else {
            self.content.clone()
        }
    }
}

pub(crate) fn chomp_tabs(s: &str) -> String {
    s.split_inclusive('\n').map(|l| l.trim_start_matches('\t')).collect()
}

/// A warning that does not stop parsing (BuildKit prints these too).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub message: String,
    pub line: usize,
}

/// One logical line, split but not yet typed.
#[derive(Debug, Clone)]
pub(crate) struct RawInstruction {
    pub keyword: String,
    pub flags: Vec<String>,
    pub args: String,
    pub original: String,
    pub location: Location,
    pub heredocs: Vec<Heredoc>,
    pub comments: Vec<String>,
}

pub(crate) struct Lexed {
    pub directives: Directives,
    pub warnings: Vec<Warning>,
}

struct DirectiveParser {
    done: bool,
}

impl DirectiveParser {
    /// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`; a line that is no known directive
    /// ends the directive block for good.
    fn parse_line<'a>(&mut self, line: &'a str) -> Option<(String, &'a str)> {
        if self.done {
            return None;
        }
        let found = match_directive(line).filter(|(name, _)| matches!(name.as_str(), "syntax" | "escape" | "check"));
        if found.is_none() {
            self.done = true;
        }
        found
    }
}

fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0C}' | '\r')
}

fn match_directive(line: &str) -> Option<(String, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_go_space);
    let name_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let name = &rest[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..].trim_start_matches(is_go_space).strip_prefix('=')?;
    let value = value.trim_matches(is_go_space);
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value))
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// Removes a trailing escape character (plus spaces/tabs after it) unless it is itself
/// escaped; returns the text and whether the logical line ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before, false);
        }
    }
    (line, true)
}

fn is_comment(line: &str) -> bool {
    trim_newline(line).trim_start().starts_with('#')
}

/// Reads `source` and hands each logical line to `sink` (with the escape character in
/// effect) as soon as it is complete, so parsing streams in one pass.
pub(crate) fn lex(
    source: &str,
    file: &Arc<str>,
    mut sink: impl FnMut(RawInstruction, char) -> Result<(), ParseError>,
) -> Result<Lexed, ParseError> {
    let source = source.strip_prefix('\u{FEFF}').unwrap_or(source);
    let mut lines = source.split_inclusive('\n').peekable();
    let mut directives = Directives { syntax: None, escape: None, check: None, escape_char: '\\' };
    let mut parser = DirectiveParser { done: false };
    let mut count = 0usize;
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut current_line = 0usize;
    let err_at = |e: ParseError, start: usize, end: usize| e.at(file, start, 1, end);

    // A leading `#!` line is skipped, directives may follow it.
    if lines.peek().is_some_and(|l| l.starts_with("#!")) {
        lines.next();
        current_line = 1;
    }

    while let Some(raw) = lines.next() {
        current_line += 1;
        let start_line = current_line;
        if is_comment(raw) {
            let text = trim_newline(raw).trim_start()[1..].trim();
            if text.is_empty() {
                comments.clear();
            } else {
                comments.push(text.to_string());
            }
        }
        let token = trim_newline(raw).trim_start();
        if let Some((name, value)) = parser.parse_line(token) {
            let slot = match name.as_str() {
                "syntax" => &mut directives.syntax,
                "escape" => &mut directives.escape,
                _ => &mut directives.check,
            };
            if slot.is_some() {
                return Err(err_at(ParseError::new(ErrorKind::Syntax, format!("only one {name} parser directive can be used")), start_line, start_line));
            }
            if name == "escape" {
                directives.escape_char = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        let msg = format!("invalid escape token '{value}' does not match ` or \\");
                        return Err(err_at(ParseError::new(ErrorKind::Syntax, msg), start_line, start_line));
                    }
                };
            }
            *slot = Some(Directive { value: value.to_string(), line: start_line });
        }
        let escape = directives.escape_char;
        let token = if token.starts_with('#') { "" } else { token };
        let (first, mut ended) = trim_continuation(token, escape);
        if ended && first.is_empty() {
            continue;
        }
        let mut line = first.to_string();
        let mut empty_continuation = false;
        while !ended {
            let Some(next) = lines.next() else { break };
            current_line += 1;
            parser.parse_line(trim_newline(next));
            if is_comment(next) {
                continue;
            }
            let text = trim_newline(next);
            if text.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (piece, end) = trim_continuation(text, escape);
            line.push_str(piece);
            ended = end;
        }
        if empty_continuation {
            warnings.push(Warning { message: format!("Empty continuation line found in: {line}"), line: current_line });
        }

        let (keyword, flags, args) = split_command(&line);
        let mut heredocs = Vec::new();
        if can_contain_heredoc(&keyword, &args) {
            for mut doc in heredocs_from_line(&line).map_err(|e| err_at(e, start_line, current_line))? {
                let mut terminated = false;
                for body_line in lines.by_ref() {
                    current_line += 1;
                    let mut candidate = trim_newline(body_line);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(body_line);
                }
                if !terminated {
                    return Err(err_at(
                        ParseError::new(ErrorKind::Syntax, format!("unterminated heredoc {:?} (no line reading exactly {:?})", doc.name, doc.name)),
                        start_line,
                        current_line,
                    ));
                }
                heredocs.push(doc);
            }
        }
        count += 1;
        let raw = RawInstruction {
            keyword,
            flags,
            args,
            original: line,
            location: Location { start_line, end_line: current_line },
            heredocs,
            comments: std::mem::take(&mut comments),
        };
        sink(raw, escape)?;
    }
    if count == 0 {
        return Err(err_at(ParseError::new(ErrorKind::Empty, "file with no instructions"), current_line.max(1), current_line.max(1)));
    }
    Ok(Lexed { directives, warnings })
}

/// RUN, COPY and ADD in shell form (also as an ONBUILD trigger) may carry heredocs.
fn can_contain_heredoc(keyword: &str, args: &str) -> bool {
    if keyword.eq_ignore_ascii_case("onbuild") {
        let (k, _, a) = split_command(args);
        return !k.eq_ignore_ascii_case("onbuild") && can_contain_heredoc(&k, &a);
    }
    if !["run", "copy", "add"].iter().any(|k| keyword.eq_ignore_ascii_case(k)) {
        return false;
    }
    !matches!(parse_json(args), Ok(Json::Array(_)))
}

/// Heredoc openers on a line: every word (quotes and escapes kept) shaped like
/// `[n]<<[-]NAME`. Cheap exit when the line has no `<<`.
pub(crate) fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, ParseError> {
    if !line.contains("<<") {
        return Ok(Vec::new());
    }
    let mut lex = Lexer::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex.process_words(line, &NoEnv).unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(doc) = parse_heredoc(&word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// `^(\d*)<<(-?)([^<]*)$` plus BuildKit's rules for the delimiter: it must be one word;
/// any quoting in it turns expansion off.
pub(crate) fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, ParseError> {
    let digits = word.find(|c: char| !c.is_ascii_digit()).unwrap_or(word.len());
    let Some(rest) = word[digits..].strip_prefix("<<") else { return Ok(None) };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let fd = if digits == 0 { 0 } else { word[..digits].parse::<u64>().unwrap_or(u64::MAX) };
    let mut lex = Lexer::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &NoEnv)?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &NoEnv)?;
    if raw.len() != words.len() {
        return Err(ParseError::new(ErrorKind::Syntax, format!("internal lexing of heredoc produced inconsistent results: {rest}")));
    }
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = quotes(&words[0]) == quotes(&raw[0]);
    Ok(Some(Heredoc { name: words[0].clone(), file_descriptor: fd, expand, chomp, content: String::new() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Out {
        directives: Directives,
        instructions: Vec<RawInstruction>,
        warnings: Vec<Warning>,
    }

    fn lex_all(src: &str) -> Result<Out, ParseError> {
        let mut instructions = Vec::new();
        let l = lex(src, &Arc::from("Dockerfile"), |raw, _| {
            instructions.push(raw);
            Ok(())
        })?;
        Ok(Out { directives: l.directives, instructions, warnings: l.warnings })
    }

    fn lex_ok(src: &str) -> Out {
        lex_all(src).unwrap()
    }

    #[test]
    fn continuation_skips_comments_and_blanks() {
        let l = lex_ok("RUN a \\\n# c\n\n  b \\\n   c\nUSER x\n");
        assert_eq!(l.instructions[0].original, "RUN a   b    c");
        assert_eq!(l.instructions[0].location, Location { start_line: 1, end_line: 5 });
        assert_eq!(l.instructions[1].location, Location { start_line: 6, end_line: 6 });
        assert_eq!(l.warnings.len(), 1);
    }

    #[test]
    fn directives() {
        let l = lex_ok("# escape=`\n# syntax=docker/dockerfile:1\nRUN a `\n b\n");
        assert_eq!(l.directives.escape_char, '`');
        assert_eq!(l.directives.syntax.as_ref().unwrap().value, "docker/dockerfile:1");
        assert_eq!(l.instructions[0].original, "RUN a  b");
        let l = lex_ok("FROM x\n# escape=`\nRUN a `\nRUN b\n");
        assert_eq!(l.directives.escape_char, '\\');
        assert_eq!(l.instructions.len(), 3);
        assert!(lex_all("# escape=\\\n# escape=`\nFROM x\n").is_err());
        assert!(lex_all("# escape=x\nFROM x\n").is_err());
        let l = lex_ok("#!/usr/bin/env buildctl\n# escape=`\nFROM x\n");
        assert_eq!(l.directives.escape_char, '`');
        assert_eq!(l.instructions[0].location.start_line, 3);
    }

    #[test]
    fn heredocs() {
        let l = lex_ok("RUN <<EOF cat <<-'END'\necho $a\nEOF\n\tx\n\tEND\nUSER y\n");
        let docs = &l.instructions[0].heredocs;
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].name.as_str(), docs[0].expand, docs[0].content.as_str()), ("EOF", true, "echo $a\n"));
        assert_eq!((docs[1].name.as_str(), docs[1].expand, docs[1].chomp), ("END", false, true));
        assert_eq!(docs[1].body(), "x\n");
        assert_eq!(l.instructions[0].location.end_line, 5);
        assert!(lex_all("RUN <<EOF\nnever\n").is_err());
        let l = lex_ok("RUN [\"<<EOF\"]\nEOF\n");
        assert_eq!(l.instructions.len(), 2);
        assert_eq!(parse_heredoc("3<<\"E F\"").unwrap().unwrap().file_descriptor, 3);
        assert!(parse_heredoc("<<E F").unwrap().is_none());
    }
}
