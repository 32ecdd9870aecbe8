//! Shell-word expansion as BuildKit's `shell.Lex` does it: `$v`, `${v}`, the `-`, `+`, `?`
//! modifiers (with and without `:`), prefix/suffix trimming (`#`, `##`, `%`, `%%`) and
//! `${v/p/r}`, `${v//p/r}`; single and double quotes; the escape character; word splitting.
//!
//! In: one word (the raw text of an instruction field) and an environment ([`Env`]).
//! Out: the expanded word, the split words, or the set of variable names that were found.
//! Never runs anything and never reads the process environment.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::error::{ErrorKind, ParseError};

/// A variable lookup. Implemented for maps and for `(name, value)` slices (last one wins,
/// as BuildKit's `BuildEnvs` does for `K=V` lists).
pub trait Env {
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl Env for HashMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Env for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Env for [(String, String)] {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Env for Vec<(String, String)> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup(name)
    }
}

impl<E: Env + ?Sized> Env for &E {
    fn lookup(&self, name: &str) -> Option<&str> {
        (**self).lookup(name)
    }
}

/// The empty environment.
pub struct NoEnv;

impl Env for NoEnv {
    fn lookup(&self, _: &str) -> Option<&str> {
        None
    }
}

/// The expander. `Lexer::new(escape)` gives BuildKit's default behaviour; the switches
/// below are the ones BuildKit uses internally (heredoc detection, raw heredoc bodies).
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters (heredoc bodies).
    pub skip_process_quotes: bool,
    /// Leave references to unset variables in place instead of expanding them to "".
    pub skip_unset_env: bool,
}

/// Result of one expansion: the joined word, the split words and the names looked up
/// successfully (BuildKit's "matches", used to report which ARGs a word consumed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    pub word: String,
    pub words: Vec<String>,
    pub matched: BTreeSet<String>,
}

impl Lexer {
    pub fn new(escape: char) -> Self {
        Lexer { escape, raw_quotes: false, raw_escapes: false, skip_process_quotes: false, skip_unset_env: false }
    }

    pub fn escape(&self) -> char {
        self.escape
    }

    /// Expands `word` into a single string (quotes removed, no splitting).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ParseError> {
        if self.is_literal(word) {
            return Ok(word.to_string());
        }
        Ok(self.expand(word, env, false)?.word)
    }

    /// Whether `word` expands to itself: no `$`, no escape character and no quote the
    /// lexer would process (most instruction words; they skip the char-by-char walk).
    fn is_literal(&self, word: &str) -> bool {
        let quotes = !self.skip_process_quotes;
        !word.chars().any(|c| c == '$' || c == self.escape || (quotes && (c == '\'' || c == '"')))
    }

    /// Expands `word` and splits it into words where unquoted whitespace appears
    /// (whitespace coming from a variable's value splits too, as in BuildKit).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ParseError> {
        Ok(self.process(word, env)?.words)
    }

    /// Expands `word` and reports which variables were found in `env`.
    pub fn process_word_with_matches(&self, word: &str, env: &dyn Env) -> Result<(String, BTreeSet<String>), ParseError> {
        let e = self.expand(word, env, false)?;
        Ok((e.word, e.matched))
    }

    /// Everything at once.
    pub fn process(&self, word: &str, env: &dyn Env) -> Result<Expansion, ParseError> {
        self.expand(word, env, true)
    }

    /// `process`; `split_words: false` leaves `words` empty (callers that only want the
    /// joined word skip building the split copy).
    fn expand(&self, word: &str, env: &dyn Env, split_words: bool) -> Result<Expansion, ParseError> {
        if self.is_literal(word) {
            // Unquoted whitespace splits words exactly like `split_whitespace` does.
            let words = if split_words { word.split_whitespace().map(str::to_string).collect() } else { Vec::new() };
            return Ok(Expansion { word: word.to_string(), words, matched: BTreeSet::new() });
        }
        let chars: Vec<char> = word.chars().collect();
        let mut state =
            State { lexer: *self, chars: &chars, pos: 0, env, matched: BTreeSet::new(), raw_escapes: self.raw_escapes, depth: 0, split_words };
        let (word_out, words) = state
            .process_stop_on(None, self.raw_escapes)
            .map_err(|m| ParseError::new(ErrorKind::Expansion, format!("failed to process {word:?}: {m}")))?;
        Ok(Expansion { word: word_out, words, matched: state.matched })
    }
}

struct State<'a> {
    lexer: Lexer,
    chars: &'a [char],
    pos: usize,
    env: &'a dyn Env,
    matched: BTreeSet<String>,
    raw_escapes: bool,
    /// `${…}` nesting; bounded so hostile input cannot exhaust the stack.
    depth: usize,
    /// Whether the top level splits words (nested expansions never need them).
    split_words: bool,
}

/// Deeper `${a:-${b:-…}}` nesting than any real Dockerfile needs.
const MAX_DEPTH: usize = 64;

/// Nested `${v//p/${v//p/…}}` multiplies the output at every level; past this size the
/// word is rejected instead of eating all memory.
const MAX_REPLACE_OUTPUT: usize = 1 << 20;

#[derive(Default)]
struct Words {
    /// When false nothing is recorded (the caller only wants the joined result).
    enabled: bool,
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if !self.enabled {
            return;
        }
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        if !self.enabled {
            return;
        }
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        if self.enabled {
            s.chars().for_each(|c| self.add_char(c));
        }
    }
    fn add_raw_string(&mut self, s: &str) {
        if !self.enabled {
            return;
        }
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

type Step<T> = Result<T, String>;

impl State<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(&mut self, stop: Option<char>, raw_escapes: bool) -> Step<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> Step<(String, Vec<String>)> {
        // The whole word at the top level: usually about as long as its expansion.
        let mut result = String::with_capacity(if stop.is_none() { self.chars.len() } else { 0 });
        let mut words = Words { enabled: self.split_words && stop.is_none(), ..Words::default() };
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            let quotes = !self.lexer.skip_process_quotes;
            if ch == '$' {
                let tmp = self.process_dollar()?;
                result.push_str(&tmp);
                words.add_string(&tmp);
            } else if quotes && (ch == '\'' || ch == '"') {
                let tmp = if ch == '\'' { self.process_single_quote()? } else { self.process_double_quote()? };
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else {
                self.pos += 1;
                if ch == self.lexer.escape {
                    if self.raw_escapes {
                        words.add_raw_char(ch);
                        result.push(ch);
                    }
                    let Some(escaped) = self.next() else { break };
                    words.add_raw_char(escaped);
                    result.push(escaped);
                } else {
                    words.add_char(ch);
                    result.push(ch);
                }
            }
        }
        if let Some(stop) = stop {
            return Err(format!("unexpected end of statement while looking for matching {stop}"));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Step<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lexer.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => return Err("unexpected end of statement while looking for matching single-quote".into()),
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Step<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lexer.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => return Err("unexpected end of statement while looking for matching double-quote".into()),
                Some('"') => {
                    self.pos += 1;
                    if self.lexer.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == self.lexer.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lexer.escape => {
                                self.pos += 1;
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        let v = self.env.lookup(name).map(str::to_string);
        if v.is_some() {
            self.matched.insert(name.to_string());
        }
        v
    }

    fn process_dollar(&mut self) -> Step<String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("variable substitutions nested more than {MAX_DEPTH} levels deep"));
        }
        self.depth += 1;
        let r = self.process_dollar_inner();
        self.depth -= 1;
        r
    }

    fn process_dollar_inner(&mut self) -> Step<String> {
        self.pos += 1; // '$'
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lexer.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1; // '{'
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            _ => {}
        }
        let name = self.process_name();
        let Some(mut ch) = self.next() else {
            return Err("syntax error: missing '}'".into());
        };
        let mut modifier = ch.to_string();
        let mut null_is_unset = false;
        match ch {
            '}' => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lexer.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                if ch == ':' {
                    null_is_unset = true;
                    let Some(c) = self.next() else { return Err("syntax error: missing '}'".into()) };
                    ch = c;
                    modifier.push(c);
                }
                let raw = ch == '#' || ch == '%';
                let (word, _) = self.process_stop_on(Some('}'), raw).map_err(|e| {
                    if self.peek().is_none() {
                        "syntax error: missing '}'".to_string()
                    } else {
                        e
                    }
                })?;
                let value = self.get_env(&name);
                if self.lexer.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}{modifier}{word}}}"));
                }
                let unset = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
                match ch {
                    '-' => Ok(if unset { word } else { value.unwrap_or_default() }),
                    '+' => Ok(if unset { String::new() } else { word }),
                    '?' => {
                        let Some(value) = value else {
                            let msg = if word.is_empty() { "is not allowed to be unset" } else { &word };
                            return Err(format!("{name}: {msg}"));
                        };
                        if null_is_unset && value.is_empty() {
                            let msg = if word.is_empty() { "is not allowed to be empty" } else { &word };
                            return Err(format!("{name}: {msg}"));
                        }
                        Ok(value)
                    }
                    '%' | '#' => {
                        let value = value.unwrap_or_default();
                        let (greedy, pattern) = match word.strip_prefix(ch) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        let pattern = Pattern::parse(pattern, greedy).map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                        Ok(if ch == '%' { pattern.trim_suffix(&value) } else { pattern.trim_prefix(&value) })
                    }
                    _ => Err(format!("unsupported modifier ({modifier}) in substitution")),
                }
            }
            '/' => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.pos += 1;
                }
                let (pattern, _) = self.process_stop_on(Some('/'), true).map_err(|e| {
                    if self.peek().is_none() {
                        "syntax error: missing '/' in ${}".to_string()
                    } else {
                        e
                    }
                })?;
                let (replacement, _) = self.process_stop_on(Some('}'), true).map_err(|e| {
                    if self.peek().is_none() {
                        "syntax error: missing '}'".to_string()
                    } else {
                        e
                    }
                })?;
                let Some(value) = self.get_env(&name) else {
                    if self.lexer.skip_unset_env {
                        return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                    }
                    return Ok(String::new());
                };
                let compiled = Pattern::parse(&pattern, true).map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                compiled.replace(&value, &replacement, replace_all)
            }
            _ => Err(format!("unsupported modifier ({modifier}) in substitution")),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !ch.is_numeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }
}

/// A shell glob as BuildKit turns it into a regexp: `*`, `?`, literals; `\*`, `\?`, `\\`
/// are literals, `\}` and `\/` drop the backslash. Like Go's `.`, wildcards skip `\n`.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lit(char),
    Any,
    Star,
}

struct Pattern {
    tokens: Vec<Token>,
    greedy: bool,
}

impl Pattern {
    fn parse(pattern: &str, greedy: bool) -> Result<Pattern, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::Any),
                '\\' => match chars.get(i + 1) {
                    Some('}' | '/') => {}
                    Some(&c @ ('*' | '?' | '\\')) => {
                        tokens.push(Token::Lit(c));
                        i += 1;
                    }
                    Some(c) => return Err(format!("invalid escape '\\{c}'")),
                    None => return Err("invalid escape '\\'".into()),
                },
                c => tokens.push(Token::Lit(c)),
            }
            i += 1;
        }
        Ok(Pattern { tokens, greedy })
    }

    /// For every start position, the end of the match Go's regexp would prefer there
    /// (leftmost-first: greedy stars try the longest span first, lazy ones the shortest).
    /// Computed right to left over the tokens, one row per token: O(tokens · text), no
    /// recursion, so hostile patterns cannot exhaust the stack.
    fn match_ends(&self, text: &[char]) -> Vec<Option<usize>> {
        let n = text.len();
        let mut row: Vec<Option<usize>> = (0..=n).map(Some).collect();
        let mut next = vec![None; n + 1];
        for token in self.tokens.iter().rev() {
            match token {
                Token::Lit(c) => {
                    for i in 0..=n {
                        next[i] = if i < n && text[i] == *c { row[i + 1] } else { None };
                    }
                }
                Token::Any => {
                    for i in 0..=n {
                        next[i] = if i < n && text[i] != '\n' { row[i + 1] } else { None };
                    }
                }
                Token::Star => {
                    // A star spans [i, e] where e is the next newline (or the end): scan
                    // right to left within each newline-free segment.
                    let mut seg_best: Option<usize> = None;
                    for i in (0..=n).rev() {
                        if i == n || text[i] == '\n' {
                            seg_best = None;
                        }
                        seg_best = match (self.greedy, seg_best, row[i]) {
                            (true, Some(best), _) => Some(best),
                            (_, _, Some(end)) => Some(end),
                            (false, keep, None) => keep,
                            (true, None, None) => None,
                        };
                        next[i] = seg_best;
                    }
                }
            }
            std::mem::swap(&mut row, &mut next);
        }
        row
    }

    fn trim_prefix(&self, value: &str) -> String {
        let text: Vec<char> = value.chars().collect();
        match self.match_ends(&text)[0] {
            Some(end) => text[end..].iter().collect(),
            None => value.to_string(),
        }
    }

    fn trim_suffix(&self, value: &str) -> String {
        let reversed = Pattern { tokens: self.tokens.iter().rev().cloned().collect(), greedy: self.greedy };
        let text: Vec<char> = value.chars().rev().collect();
        match reversed.match_ends(&text)[0] {
            Some(end) => text[end..].iter().rev().collect(),
            None => value.to_string(),
        }
    }

    fn find(ends: &[Option<usize>], from: usize) -> Option<(usize, usize)> {
        (from..ends.len()).find_map(|s| ends[s].map(|e| (s, e)))
    }

    /// Go's `ReplaceAllString` / single replacement, replacement taken literally.
    fn replace(&self, value: &str, replacement: &str, all: bool) -> Result<String, String> {
        let text: Vec<char> = value.chars().collect();
        let ends = self.match_ends(&text);
        if !all {
            return Ok(match Self::find(&ends, 0) {
                Some((s, e)) => text[..s].iter().collect::<String>() + replacement + &text[e..].iter().collect::<String>(),
                None => value.to_string(),
            });
        }
        let mut out = String::new();
        let (mut search, mut last_end) = (0usize, 0usize);
        while search <= text.len() {
            let Some((s, e)) = Self::find(&ends, search) else { break };
            out.extend(&text[last_end..s]);
            if e > last_end || s == 0 {
                out.push_str(replacement);
                if out.len() > MAX_REPLACE_OUTPUT {
                    return Err(format!("substitution result larger than {MAX_REPLACE_OUTPUT} bytes"));
                }
            }
            last_end = e;
            search = if search + 1 > e { search + 1 } else { e };
        }
        out.extend(&text[last_end.min(text.len())..]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        [("PWD", "/home"), ("SHELL", "bash"), ("KOREAN", "한국어"), ("NULL", ""), ("WORDS", "a b  c"), ("FILE", "dir/file.tar.gz")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn w(word: &str) -> Result<String, String> {
        Lexer::new('\\').process_word(word, &env()).map_err(|e| e.message().to_string())
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("hello", "hello"),
            ("he'll'o", "hello"),
            ("he\"ll\"o", "hello"),
            ("'$PWD'", "$PWD"),
            ("\"$PWD\"", "/home"),
            ("\\$PWD", "$PWD"),
            ("\"\\$PWD\"", "$PWD"),
            ("\"a\\b\"", "a\\b"),
            ("$PWD/x", "/home/x"),
            ("${PWD}x", "/homex"),
            ("${NOPE:-def}", "def"),
            ("${NULL:-def}", "def"),
            ("${NULL-def}", ""),
            ("${PWD:+set}", "set"),
            ("${NULL:+set}", ""),
            ("${NULL+set}", "set"),
            ("${NOPE+set}", ""),
            ("${FILE#*/}", "file.tar.gz"),
            ("${FILE##*.}", "gz"),
            ("${FILE%.*}", "dir/file.tar"),
            ("${FILE%%.*}", "dir/file"),
            ("${FILE/./_}", "dir/file_tar.gz"),
            ("${FILE//./_}", "dir/file_tar_gz"),
            ("${KOREAN}", "한국어"),
            ("$", "$"),
            ("a$", "a$"),
            ("${NOPE}", ""),
            ("$1x", "x"),
            ("${FILE%}", "dir/file.tar.gz"),
            ("${NOPE:-${PWD}}", "/home"),
            ("${NOPE:-a b}", "a b"),
        ];
        for (input, want) in cases {
            assert_eq!(w(input).as_deref(), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn errors() {
        assert!(w("${NOPE:?must be set}").unwrap_err().ends_with("NOPE: must be set"));
        assert!(w("${NULL:?}").unwrap_err().ends_with("NULL: is not allowed to be empty"));
        assert!(w("${NOPE?}").unwrap_err().ends_with("NOPE: is not allowed to be unset"));
        assert_eq!(w("${NULL?}").as_deref(), Ok(""));
        assert!(w("${PWD").unwrap_err().contains("missing '}'"));
        assert!(w("${}").unwrap_err().contains("bad substitution"));
        assert!(w("${PWD:x}").unwrap_err().contains("unsupported modifier"));
        assert!(w("'abc").unwrap_err().contains("single-quote"));
        assert!(w("\"abc").unwrap_err().contains("double-quote"));
        assert!(w("${PWD/a}").unwrap_err().contains("missing '/'"));
    }

    #[test]
    fn splitting_and_matches() {
        let lex = Lexer::new('\\');
        assert_eq!(lex.process_words("$WORDS \"x y\" ''", &env()).unwrap(), vec!["a", "b", "c", "x y"]);
        assert_eq!(lex.process_words("80/tcp  443", &env()).unwrap(), vec!["80/tcp", "443"]);
        let (_, m) = lex.process_word_with_matches("$PWD ${NOPE} ${SHELL:-x}", &env()).unwrap();
        assert_eq!(m.into_iter().collect::<Vec<_>>(), vec!["PWD", "SHELL"]);
    }

    #[test]
    fn backtick_escape_and_skip_unset() {
        let mut lex = Lexer::new('`');
        assert_eq!(lex.process_word("`$PWD \\n", &env()).unwrap(), "$PWD \\n");
        lex.skip_unset_env = true;
        assert_eq!(lex.process_word("$NOPE ${NOPE:-x} $PWD", &env()).unwrap(), "$NOPE ${NOPE:-x} /home");
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        let nested = "${A:-".repeat(10_000) + &"}".repeat(10_000);
        assert!(w(&nested).unwrap_err().contains("nested more than"));
        let e: Vec<(String, String)> = vec![("V".into(), "ab".repeat(1_500))];
        let pattern = "*a".repeat(1_000);
        let lex = Lexer::new('\\');
        assert_eq!(lex.process_word(&format!("${{V##{pattern}}}"), &e).unwrap(), "b");
        assert_eq!(lex.process_word(&format!("${{V%%{pattern}}}"), &e).unwrap(), "ab".repeat(1_500));
    }

    #[test]
    fn multiplying_replacements_are_bounded() {
        let e: Vec<(String, String)> = vec![("P".into(), "abcdefghijklmnopqrstuvwxyz0123456789".into())];
        let word = (0..6).fold("x".to_string(), |inner, _| format!("${{P//?/{inner}}}"));
        let err = Lexer::new('\\').process_word(&word, &e).unwrap_err();
        assert!(err.message().contains("larger than"), "{}", err.message());
    }

    #[test]
    fn lazy_and_greedy_multi_star() {
        let e: Vec<(String, String)> = vec![("V".into(), "a-b-c.d-e".into()), ("N".into(), "x\ny".into())];
        let lex = Lexer::new('\\');
        assert_eq!(lex.process_word("${V#*-*-}", &e).unwrap(), "c.d-e");
        assert_eq!(lex.process_word("${V##*-*-}", &e).unwrap(), "e");
        assert_eq!(lex.process_word("${V%-*}", &e).unwrap(), "a-b-c.d");
        assert_eq!(lex.process_word("${V%%-*}", &e).unwrap(), "a");
        assert_eq!(lex.process_word("${V/-*-/+}", &e).unwrap(), "a+e");
        // like Go's `.`, wildcards do not cross newlines
        assert_eq!(lex.process_word("${N##*}", &e).unwrap(), "\ny");
    }

    #[test]
    fn replace_all_empty_matches_like_go() {
        let e: Vec<(String, String)> = vec![("V".into(), "abc".into())];
        let lex = Lexer::new('\\');
        assert_eq!(lex.process_word("${V//*/x}", &e).unwrap(), "x");
        assert_eq!(lex.process_word("${V//b/}", &e).unwrap(), "ac");
        assert_eq!(lex.process_word("${V/b*/X}", &e).unwrap(), "aX");
    }
}
