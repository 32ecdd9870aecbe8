//! Maps rendered Dockerfile lines back to template lines.
//!
//! minijinja does not report where output came from, so we render a second time from
//! instrumented sources: before the first literal text (or `{{ … }}`) of each template line
//! we insert an invisible marker naming the template and line. Markers sit after the line's
//! leading whitespace and block tags, so `lstrip_blocks`, `trim_blocks` and `-` whitespace
//! control behave exactly as without them; lines whose first content is `{{-` get none.
//! After rendering, the markers on an output line name its origin (see [`extract`]). The caller compares the marker-free text with the plain render and discards the
//! map if they differ (a template that inspects its own text, say).

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

#[derive(Clone, Copy, PartialEq)]
enum State {
    Text,
    /// Inside `{{`, `{%` or `{#`, waiting for the given closing pair; `quote` while in a
    /// string literal (not for comments).
    Tag {
        close: u8,
        quote: Option<u8>,
    },
    /// Between `{% raw %}` and `{% endraw %}`.
    Raw,
}

/// Inserts markers `OPEN id:line CLOSE` into a template source.
pub(crate) fn instrument(source: &str, file_id: usize) -> String {
    let mut out = String::with_capacity(source.len() + source.len() / 4);
    let mut state = State::Text;
    for (index, line) in source.split_inclusive('\n').enumerate() {
        let insert_at = if state == State::Text { marker_position(line) } else { None };
        match insert_at {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push(OPEN);
                out.push_str(&format!("{file_id}:{}", index + 1));
                out.push(CLOSE);
                out.push_str(&line[at..]);
            }
            None => out.push_str(line),
        }
        state = advance(state, line.as_bytes());
    }
    out
}

/// Where the first literal text or `{{` (not `{{-`) of a line starts, skipping leading
/// whitespace and complete `{% %}` / `{# #}` tags; `None` when there is none.
fn marker_position(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() || b[i] == b'\n' || b[i] == b'\r' {
            return None;
        }
        if b[i] == b'{' && i + 1 < b.len() {
            match b[i + 1] {
                b'{' => return (b.get(i + 2) != Some(&b'-')).then_some(i),
                b'%' | b'#' => {
                    let close = if b[i + 1] == b'%' { b'%' } else { b'#' };
                    if b[i + 1] == b'%' && is_raw_open(&line[i..]) {
                        return None;
                    }
                    match find_close(&b[i + 2..], close) {
                        Some(end) => {
                            i = i + 2 + end;
                            continue;
                        }
                        None => return None,
                    }
                }
                _ => return Some(i),
            }
        }
        return Some(i);
    }
}

/// Byte offset just past the closing `%}` / `#}` in `rest`, honouring string literals.
fn find_close(rest: &[u8], close: u8) -> Option<usize> {
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < rest.len() {
        let c = rest[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if close != b'#' && (c == b'"' || c == b'\'') => quote = Some(c),
            None if c == close && rest.get(i + 1) == Some(&b'}') => return Some(i + 2),
            None => {}
        }
        i += 1;
    }
    None
}

fn is_raw_open(tag: &str) -> bool {
    let inner = tag.trim_start_matches("{%").trim_start_matches('-').trim_start();
    inner.starts_with("raw") && inner[3..].trim_start().trim_start_matches('-').starts_with("%}")
}

fn is_raw_close(tag: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(tag) else { return false };
    let inner = text.trim_start_matches("{%").trim_start_matches('-').trim_start();
    inner.starts_with("endraw")
}

/// The lexer state after `line`.
fn advance(mut state: State, b: &[u8]) -> State {
    let mut i = 0;
    while i < b.len() {
        match state {
            State::Text => {
                if b[i] == b'{' && i + 1 < b.len() {
                    let close = match b[i + 1] {
                        b'{' => Some(b'}'),
                        b'%' => Some(b'%'),
                        b'#' => Some(b'#'),
                        _ => None,
                    };
                    if let Some(close) = close {
                        if close == b'%' && is_raw_open(std::str::from_utf8(&b[i..]).unwrap_or("")) {
                            // Skip to the end of the raw tag itself.
                            match find_close(&b[i + 2..], b'%') {
                                Some(end) => {
                                    i += 2 + end;
                                    state = State::Raw;
                                    continue;
                                }
                                None => return State::Tag { close, quote: None },
                            }
                        }
                        state = State::Tag { close, quote: None };
                        i += 2;
                        continue;
                    }
                }
                i += 1;
            }
            State::Tag { close, quote } => {
                let c = b[i];
                match quote {
                    Some(_) if c == b'\\' => i += 1,
                    Some(q) if c == q => state = State::Tag { close, quote: None },
                    Some(_) => {}
                    None if close != b'#' && (c == b'"' || c == b'\'') => state = State::Tag { close, quote: Some(c) },
                    None if c == close && b.get(i + 1) == Some(&b'}') => {
                        state = State::Text;
                        i += 2;
                        continue;
                    }
                    None => {}
                }
                i += 1;
            }
            State::Raw => {
                if b[i] == b'{' && b.get(i + 1) == Some(&b'%') && is_raw_close(&b[i..]) {
                    match find_close(&b[i + 2..], b'%') {
                        Some(end) => {
                            state = State::Text;
                            i += 2 + end;
                            continue;
                        }
                        None => return State::Raw,
                    }
                }
                i += 1;
            }
        }
    }
    state
}

/// Splits instrumented output into marker-free text and, per line, the (file id, line)
/// it came from: the last marker before the line's first visible character, i.e. the
/// innermost template that wrote it (the base block behind `{{ super() }}`). When that
/// marker is on a macro line that calls `caller()` (`common.RUN`), the next marker wins:
/// the `{% call %}` body, which is where the instruction was written.
pub(crate) fn extract(
    output: &str,
    is_caller_line: impl Fn(usize, usize) -> bool,
) -> (String, Vec<Option<(usize, usize)>>) {
    let mut text = String::with_capacity(output.len());
    let mut origins = Vec::new();
    for line in output.split_inclusive('\n') {
        // (file id, line, seen before any visible text)
        let mut markers: Vec<(usize, usize, bool)> = Vec::new();
        let mut seen_visible = false;
        let mut rest = line;
        while let Some(start) = rest.find(OPEN) {
            let chunk = &rest[..start];
            text.push_str(chunk);
            seen_visible |= chunk.chars().any(|c| !c.is_whitespace());
            let after = &rest[start + OPEN.len_utf8()..];
            let Some(end) = after.find(CLOSE) else {
                rest = after;
                continue;
            };
            if let Some((f, l)) = after[..end].split_once(':') {
                if let (Ok(f), Ok(l)) = (f.parse::<usize>(), l.parse::<usize>()) {
                    markers.push((f, l, !seen_visible));
                }
            }
            rest = &after[end + CLOSE.len_utf8()..];
        }
        text.push_str(rest);
        let leading = markers.iter().rposition(|m| m.2);
        let chosen = match leading {
            Some(i) if is_caller_line(markers[i].0, markers[i].1) => markers.get(i + 1).or(markers.get(i)),
            Some(i) => markers.get(i),
            None => markers.first(),
        };
        origins.push(chosen.map(|m| (m.0, m.1)));
    }
    (text, origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(src: &str) -> String {
        instrument(src, 7).replace(OPEN, "<").replace(CLOSE, ">")
    }

    #[test]
    fn markers_go_after_whitespace_and_block_tags() {
        assert_eq!(
            marked("FROM x\n  {% if a %}\n{% if b -%} RUN y\n{{- z }}\n{{ w }}\n"),
            "<7:1>FROM x\n  {% if a %}\n{% if b -%} <7:3>RUN y\n{{- z }}\n<7:5>{{ w }}\n"
        );
    }

    #[test]
    fn no_markers_inside_tags_or_raw() {
        assert_eq!(
            marked("{{ a ~\n b }}\n{% raw %}\nx\n{% endraw %}\ny\n"),
            "<7:1>{{ a ~\n b }}\n{% raw %}\nx\n{% endraw %}\n<7:6>y\n"
        );
        assert_eq!(marked("{% set s = \"%}\" %}\nz\n"), "{% set s = \"%}\" %}\n<7:2>z\n");
    }

    #[test]
    fn extract_picks_the_innermost_writer_and_skips_caller_lines() {
        let out = format!("{OPEN}1:4{CLOSE}RUN {OPEN}2:9{CLOSE}--mount x\nplain\n{OPEN}3:1{CLOSE} {OPEN}4:2{CLOSE}FROM a{OPEN}5:5{CLOSE}\n");
        let (text, origins) = extract(&out, |f, l| (f, l) == (1, 4));
        assert_eq!(text, "RUN --mount x\nplain\n FROM a\n");
        assert_eq!(origins, vec![Some((2, 9)), None, Some((4, 2))]);
    }

    mod invariance {
        use super::super::{extract, instrument};
        use proptest::prelude::*;

        const ATOMS: &[&str] = &[
            "FROM x as y",
            "  RUN a && \\",
            "    b",
            "{{ value }}",
            "  {{ value }} tail",
            "{{- value }}",
            "{{ value -}}",
            "{{ i }}",
            "text {%- if flag %}y{% endif -%}",
            "{# comment #}",
            "  {#- comment -#}",
            "{# multi\nline #} after",
            "{{ value ~\n  value }}",
            "{% set s = \"%}\" %}",
            "{% raw %}{{ kept }}\n  {% endraw %}",
            "",
            "   ",
        ];
        const BLOCKS: &[(&str, &str)] = &[
            ("{% if flag %}", "{% endif %}"),
            ("  {% if flag -%}", "  {%- endif -%}"),
            ("{%- if not flag %}", "{% else %}\nelse\n{% endif %}"),
            ("{% for i in items %}", "{% endfor %}"),
            ("{% for i in items -%}", "  {% endfor %}"),
            ("{% set cap %}", "{% endset %}{{ cap }}"),
            ("{% macro m() -%}", "{%- endmacro %}{{ m() }}"),
        ];

        fn lines() -> impl Strategy<Value = Vec<String>> {
            let atom = (0..ATOMS.len()).prop_map(|i| vec![ATOMS[i].to_string()]);
            atom.prop_recursive(3, 40, 6, |inner| {
                (0..BLOCKS.len(), prop::collection::vec(inner, 0..5)).prop_map(|(b, body)| {
                    let (open, close) = BLOCKS[b];
                    let mut out = vec![open.to_string()];
                    out.extend(body.into_iter().flatten());
                    out.push(close.to_string());
                    out
                })
            })
        }

        fn env() -> minijinja::Environment<'static> {
            let mut env = minijinja::Environment::new();
            env.set_trim_blocks(true);
            env.set_lstrip_blocks(true);
            env
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            /// Instrumenting never changes what a template renders, markers aside.
            #[test]
            fn markers_do_not_change_output(parts in prop::collection::vec(lines(), 1..5), flag: bool) {
                let source: String = parts.into_iter().flatten().map(|l| l + "\n").collect();
                let ctx = minijinja::context! { flag, value => "v", items => vec![1, 2] };
                let env = env();
                let plain = env.render_str(&source, &ctx).expect("generated templates are valid");
                let marked = env.render_str(&instrument(&source, 0), &ctx).expect("instrumented template compiles");
                let (stripped, _) = extract(&marked, |_, _| false);
                prop_assert_eq!(stripped, plain, "source:\n{}", source);
            }
        }
    }
}
