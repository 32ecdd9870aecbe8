//! A `.env` reader compatible with what python-dotenv accepts for the common cases:
//! `KEY=VALUE`, optional `export `, `#` comments, single/double quotes, escapes in double
//! quotes, inline ` #` comments after unquoted values. Keys without `=` get an empty value.

pub(crate) fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, ""),
        };
        if key.is_empty() {
            continue;
        }
        out.push((key.to_string(), unquote(value)));
    }
    out
}

fn unquote(v: &str) -> String {
    let mut chars = v.chars();
    match chars.next() {
        Some(q @ ('\'' | '"')) => {
            let body: String = chars.collect();
            let end = body.rfind(q).unwrap_or(body.len());
            let inner = &body[..end];
            if q == '"' {
                inner.replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\")
            } else {
                inner.to_string()
            }
        }
        _ => match v.find(" #") {
            Some(i) => v[..i].trim_end().to_string(),
            None => v.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_dotenv;

    #[test]
    fn reads_common_forms() {
        let got = parse_dotenv("# c\nA=1\nexport B='two words'\nC=\"x\\ny\"\nD=v # note\nE\n");
        let want = [("A", "1"), ("B", "two words"), ("C", "x\ny"), ("D", "v"), ("E", "")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
    }
}
