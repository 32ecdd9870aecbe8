//! Property tests: the shell-word expander against a small model. Words are generated as
//! a list of segments (literals, quoted text, escapes, `$V`, `${V}`, the `-`/`+` modifiers,
//! prefix/suffix trimming and replacement with one-star globs); the model computes the
//! expected word and the expected split words; the real lexer must agree.

use bentokit::dockerfile::shell::Lexer;
use proptest::prelude::*;

const NAMES: &[&str] = &["A", "B", "C", "D", "E"];

fn value(name: &str) -> Option<&'static str> {
    match name {
        "A" => Some("alpha"),
        "B" => Some("two  words"),
        "C" => Some(""),
        "D" => Some("x/y.z.tar"),
        _ => None,
    }
}

fn env() -> Vec<(String, String)> {
    NAMES.iter().filter_map(|n| value(n).map(|v| (n.to_string(), v.to_string()))).collect()
}

#[derive(Debug, Clone)]
enum Seg {
    Lit(String),
    Single(String),
    Double(Vec<Seg>),
    Escaped(char),
    Var(&'static str, bool),
    Modifier(&'static str, &'static str, String),
    Trim(&'static str, &'static str, String),
    Replace(&'static str, bool, String, String),
}

fn lit() -> impl Strategy<Value = String> {
    "[a-z0-9/._ -]{1,6}"
}

fn plain() -> impl Strategy<Value = String> {
    "[a-z0-9/._-]{0,4}"
}

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(NAMES)
}

fn inner_seg() -> impl Strategy<Value = Seg> {
    prop_oneof![
        lit().prop_map(Seg::Lit),
        (name(), any::<bool>()).prop_map(|(n, b)| Seg::Var(n, b)),
        (name(), prop::sample::select(&[":-", "-", ":+", "+"][..]), plain()).prop_map(|(n, m, w)| Seg::Modifier(n, m, w)),
    ]
}

fn seg() -> impl Strategy<Value = Seg> {
    prop_oneof![
        3 => inner_seg(),
        1 => "[a-z $\"\\\\ ]{0,5}".prop_map(Seg::Single),
        1 => prop::collection::vec(inner_seg(), 0..3).prop_map(Seg::Double),
        1 => prop::sample::select(&['$', '\'', '"', '\\', ' ', 'a'][..]).prop_map(Seg::Escaped),
        1 => (name(), prop::sample::select(&["#", "##", "%", "%%"][..]), "[*]?[a-z./]{0,3}[*]?").prop_filter("one star", |(_, _, p)| p.matches('*').count() <= 1).prop_map(|(n, op, p)| Seg::Trim(n, op, p)),
        1 => (name(), any::<bool>(), "[a-z.]{1,2}", plain()).prop_map(|(n, all, p, r)| Seg::Replace(n, all, p, r)),
    ]
}

/// Renders segments to Dockerfile text; `$V` becomes `${V}` when a name char follows.
fn render(segs: &[Seg], in_double: bool) -> String {
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        let next_starts_name = match segs.get(i + 1) {
            Some(Seg::Lit(l)) => l.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'),
            Some(Seg::Escaped(c)) => *c == 'a' && !in_double,
            _ => false,
        };
        match s {
            Seg::Lit(l) => out.push_str(l),
            Seg::Single(t) => out.push_str(&format!("'{t}'")),
            Seg::Double(inner) => out.push_str(&format!("\"{}\"", render(inner, true))),
            Seg::Escaped(c) => {
                out.push('\\');
                out.push(*c);
            }
            Seg::Var(n, braced) if *braced || next_starts_name => out.push_str(&format!("${{{n}}}")),
            Seg::Var(n, _) => out.push_str(&format!("${n}")),
            Seg::Modifier(n, m, w) => out.push_str(&format!("${{{n}{m}{w}}}")),
            Seg::Trim(n, op, p) => out.push_str(&format!("${{{n}{op}{p}}}")),
            Seg::Replace(n, all, p, r) => out.push_str(&format!("${{{n}/{}{p}/{r}}}", if *all { "/" } else { "" })),
        }
    }
    out
}

fn glob_match(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| glob_match(rest, &t[i..])),
        Some((c, rest)) => t.first() == Some(c) && glob_match(rest, &t[1..]),
    }
}

fn trim(v: &str, op: &str, pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = v.chars().collect();
    let n = t.len();
    let s = |a: usize, b: usize| t[a..b].iter().collect::<String>();
    match op {
        "#" => (0..=n).find(|&i| glob_match(&p, &t[..i])).map(|i| s(i, n)),
        "##" => (0..=n).rev().find(|&i| glob_match(&p, &t[..i])).map(|i| s(i, n)),
        "%" => (0..=n).rev().find(|&i| glob_match(&p, &t[i..])).map(|i| s(0, i)),
        _ => (0..=n).find(|&i| glob_match(&p, &t[i..])).map(|i| s(0, i)),
    }
    .unwrap_or_else(|| v.to_string())
}

fn replace(v: &str, all: bool, p: &str, r: &str) -> String {
    if all {
        v.replace(p, r)
    } else {
        v.replacen(p, r, 1)
    }
}

/// Model output as (char, splittable) so that word splitting can be computed too.
fn model(segs: &[Seg], quoted: bool, out: &mut Vec<(char, bool)>) {
    fn push(out: &mut Vec<(char, bool)>, s: &str, soft: bool) {
        out.extend(s.chars().map(|c| (c, soft)));
    }
    for s in segs {
        match s {
            Seg::Lit(l) => push(out, l, !quoted),
            Seg::Single(t) => push(out, t, false),
            Seg::Double(inner) => model(inner, true, out),
            Seg::Escaped(c) => push(out, &c.to_string(), false),
            Seg::Var(n, _) => push(out, value(n).unwrap_or(""), !quoted),
            Seg::Modifier(n, m, w) => {
                let v = value(n);
                let unset = v.is_none() || (m.starts_with(':') && v == Some(""));
                let r = match *m {
                    ":-" | "-" => {
                        if unset {
                            w.as_str()
                        } else {
                            v.unwrap_or("")
                        }
                    }
                    _ => {
                        if unset {
                            ""
                        } else {
                            w.as_str()
                        }
                    }
                };
                push(out, r, !quoted)
            }
            Seg::Trim(n, op, p) => push(out, &trim(value(n).unwrap_or(""), op, p), !quoted),
            Seg::Replace(n, all, p, r) => push(out, &value(n).map(|v| replace(v, *all, p, r)).unwrap_or_default(), !quoted),
        }
    }
}

fn split(chars: &[(char, bool)]) -> Vec<String> {
    let mut words = vec![String::new()];
    for (c, soft) in chars {
        if *soft && c.is_whitespace() {
            words.push(String::new());
        } else {
            words.last_mut().unwrap().push(*c);
        }
    }
    words.into_iter().filter(|w| !w.is_empty()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn expander_matches_model(segs in prop::collection::vec(seg(), 0..6)) {
        let text = render(&segs, false);
        let mut expected = Vec::new();
        model(&segs, false, &mut expected);
        let lexer = Lexer::new('\\');
        let env = env();
        let word = lexer.process_word(&text, &env).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&word, &expected.iter().map(|(c, _)| *c).collect::<String>(), "word for {:?}", text);
        let words = lexer.process_words(&text, &env).unwrap();
        prop_assert_eq!(words, split(&expected), "words for {:?}", text);
    }

    #[test]
    fn expander_never_panics(text in "[a-zA-Z0-9 ${}:#%/?+*'\"\\\\\\-]{0,24}") {
        let env = env();
        let _ = Lexer::new('\\').process_words(&text, &env);
        let _ = Lexer::new('`').process_word_with_matches(&text, &env);
    }
}
