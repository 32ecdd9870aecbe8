//! Splitting one logical line the way BuildKit's `parser/line_parsers.go` and
//! `split_command.go` do: keyword, leading `--flags`, then the arguments in the shape the
//! instruction wants (JSON array, whitespace list, quote-aware words, name/value pairs).
//!
//! In: the joined text of one instruction. Out: strings, still unexpanded. Pure functions.

use super::error::{ErrorKind, ParseError};

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]+`.
pub(crate) fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{0B}' | '\u{0C}' | '\r' | ' ')
}

/// Splits at runs of `[\t\v\f\r ]`, keeping empty leading/trailing pieces like Go's
/// `regexp.Split(s, -1)` (callers pass trimmed text).
pub(crate) fn split_ws(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_sep = false;
    for c in s.chars() {
        if is_ws(c) {
            if !in_sep {
                out.push(std::mem::take(&mut cur));
                in_sep = true;
            }
        } else {
            in_sep = false;
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Splits off the keyword, then the `--flags`; returns (keyword, flags, arguments text).
pub(crate) fn split_command(line: &str) -> (String, Vec<String>, String) {
    let line = line.trim();
    match line.find(is_ws) {
        None => (line.to_string(), Vec::new(), String::new()),
        Some(i) => {
            let rest = line[i..].trim_start_matches(is_ws);
            let (args, flags) = extract_flags(rest);
            (line[..i].to_string(), flags, args.trim().to_string())
        }
    }
}

/// Leading words starting with `--` are flags (quotes removed, `\` escapes the next char);
/// a bare `--` ends them. Returns the remaining text and the flags.
pub(crate) fn extract_flags(line: &str) -> (&str, Vec<String>) {
    let mut flags = Vec::new();
    let mut pos = 0;
    loop {
        let rest = line[pos..].trim_start();
        if rest.is_empty() {
            return ("", flags);
        }
        let start = line.len() - rest.len();
        if !rest.starts_with("--") {
            return (rest, flags);
        }
        let end = rest.find(char::is_whitespace).map_or(line.len(), |i| start + i);
        let word = &line[start..end];
        if !word.contains(['\'', '"', '\\']) {
            // fast path: the flag is the plain text up to the next space
            if word == "--" {
                return (&line[end..], flags);
            }
            flags.push(word.to_string());
            pos = end;
            continue;
        }
        match quoted_flag(line, start) {
            FlagWord::Flag(flag, next) => {
                flags.extend(flag);
                pos = next;
            }
            FlagWord::Stop(rest) => return (rest, flags),
        }
    }
}

enum FlagWord<'a> {
    /// The flag (if not blank) and where scanning continues.
    Flag(Option<String>, usize),
    /// Flags end; the arguments follow.
    Stop(&'a str),
}

/// One flag word with quotes or escapes, read like BuildKit's `extractBuilderFlags`.
fn quoted_flag(line: &str, start: usize) -> FlagWord<'_> {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = line[start..].char_indices().map(|(i, c)| (start + i, c));
    loop {
        let Some((pos, ch)) = chars.next() else {
            let keep = word != "--" && (blank_ok || !word.is_empty());
            return match keep {
                true => FlagWord::Flag(Some(word), line.len()),
                false => FlagWord::Stop(""),
            };
        };
        match quote {
            None if ch.is_whitespace() => {
                if word == "--" {
                    return FlagWord::Stop(&line[pos..]);
                }
                let keep = blank_ok || !word.is_empty();
                return FlagWord::Flag(keep.then_some(word), pos);
            }
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                blank_ok = true;
            }
            Some(q) if ch == q => quote = None,
            _ if ch == '\\' => match chars.next() {
                Some((_, n)) => word.push(n),
                None => quote = None,
            },
            _ => word.push(ch),
        }
    }
}

/// BuildKit's `parseWords`: whitespace-separated words, quotes and escapes kept verbatim
/// but respected as grouping (used by ARG, ENV and LABEL).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut in_word = false;
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if ch.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    in_word = false;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    match chars.next() {
                        None => continue, // a trailing escape is dropped
                        Some(n) => {
                            word.push(ch);
                            word.push(n);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    match chars.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some(n) => {
                            word.push(ch);
                            word.push(n);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// Outcome of trying the JSON (exec) form.
pub(crate) enum Json {
    Array(Vec<String>),
    /// Not JSON at all: use the shell form.
    NotJson,
}

/// BuildKit's `parseJSON`: the text must start with `[` and decode as one JSON value
/// (trailing text is ignored, as Go's decoder does); an array holding anything but
/// strings is an error rather than a fallback to the shell form.
pub(crate) fn parse_json(rest: &str) -> Result<Json, ParseError> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(Json::NotJson);
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    match stream.next() {
        Some(Ok(serde_json::Value::Array(items))) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    serde_json::Value::String(s) => out.push(s),
                    _ => {
                        return Err(ParseError::new(
                            ErrorKind::Syntax,
                            "when using JSON array syntax, arrays must be comprised of strings only",
                        ))
                    }
                }
            }
            Ok(Json::Array(out))
        }
        _ => Ok(Json::NotJson),
    }
}

/// Name/value pairs for ENV and LABEL, in either form (`K V…` or `K=V K2=V2`).
pub(crate) fn parse_name_value(rest: &str, keyword: &str, escape: char) -> Result<Vec<(String, String)>, ParseError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else { return Ok(Vec::new()) };
    if !first.contains('=') {
        // legacy `ENV key value with spaces`
        return match rest.find(is_ws) {
            Some(i) => Ok(vec![(rest[..i].to_string(), rest[i..].trim_start_matches(is_ws).to_string())]),
            None => Err(ParseError::new(ErrorKind::Arguments, format!("{keyword} must have two arguments"))),
        };
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(ParseError::new(
                ErrorKind::Syntax,
                format!("Syntax error - can't find = in {word:?}. Must be of the form: name=value"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_and_flags() {
        let (cmd, flags, args) = split_command("COPY --from=build --chown=\"a b\" --link src dst");
        assert_eq!(cmd, "COPY");
        assert_eq!(flags, vec!["--from=build", "--chown=a b", "--link"]);
        assert_eq!(args, "src dst");
        let (_, flags, args) = split_command("RUN -- --not-a-flag");
        assert!(flags.is_empty());
        assert_eq!(args, "--not-a-flag");
        let (_, flags, args) = split_command("RUN --network=none");
        assert_eq!(flags, vec!["--network=none"]);
        assert_eq!(args, "");
        let (_, flags, args) = split_command("RUN --a=\"x y\" --b=\\\" -- rest");
        assert_eq!((flags, args.as_str()), (vec!["--a=x y".to_string(), "--b=\"".to_string()], "rest"));
        let (_, flags, args) = split_command("COPY --x='' --y=\"a\"");
        assert_eq!((flags, args.as_str()), (vec!["--x=".to_string(), "--y=a".to_string()], ""));
        let (cmd, flags, args) = split_command("  run\t echo hi  ");
        assert_eq!((cmd.as_str(), flags.len(), args.as_str()), ("run", 0, "echo hi"));
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(parse_words("A=\"a b\" B='c d' C=e\\ f", '\\'), vec!["A=\"a b\"", "B='c d'", "C=e\\ f"]);
        assert_eq!(parse_words("''", '\\'), vec!["''"]);
    }

    #[test]
    fn json_forms() {
        assert!(matches!(parse_json("[\"a\", \"b\"]").unwrap(), Json::Array(v) if v == ["a", "b"]));
        assert!(matches!(parse_json("[\"a\"] trailing").unwrap(), Json::Array(v) if v == ["a"]));
        assert!(matches!(parse_json("['a']").unwrap(), Json::NotJson));
        assert!(matches!(parse_json("[\"a\"").unwrap(), Json::NotJson));
        assert!(parse_json("[1]").is_err());
    }

    #[test]
    fn name_values() {
        assert_eq!(parse_name_value("A b c", "ENV", '\\').unwrap(), vec![("A".into(), "b c".into())]);
        assert_eq!(
            parse_name_value("A=1 B=\"2 3\"", "ENV", '\\').unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "\"2 3\"".into())]
        );
        assert!(parse_name_value("A", "ENV", '\\').is_err());
        assert!(parse_name_value("A=1 B", "ENV", '\\').is_err());
    }
}
