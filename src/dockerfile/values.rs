//! Small value grammars checked at parse time: `--chmod` (octal or symbolic), Go-style
//! durations for HEALTHCHECK, tmpfs sizes (`docker/go-units` RAMInBytes), stage names.

use std::time::Duration;

use serde::Serialize;

/// A `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Chmod {
    /// `0755`, `644`…
    Octal(u32),
    /// `u+x,g-w,o=r`, `a+rwX`… (validated, kept as text for the FileOp).
    Symbolic(String),
}

impl Chmod {
    pub fn parse(value: &str) -> Result<Chmod, String> {
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return match u32::from_str_radix(value, 8) {
                Ok(mode) if mode <= 0o7777 => Ok(Chmod::Octal(mode)),
                _ => Err(format!("invalid chmod parameter: {value:?} (octal modes go up to 7777)")),
            };
        }
        if is_symbolic_mode(value) {
            return Ok(Chmod::Symbolic(value.to_string()));
        }
        Err(format!("invalid chmod parameter: {value:?}; use an octal mode like 0755 or a symbolic one like u+x,go-w"))
    }
}

/// `[ugoa]*([-+=]([rwxXst]*|[ugo]))+` clauses separated by commas.
fn is_symbolic_mode(value: &str) -> bool {
    !value.is_empty()
        && value.split(',').all(|clause| {
            let rest = clause.trim_start_matches(['u', 'g', 'o', 'a']);
            let mut chars = rest.chars().peekable();
            if chars.peek().is_none() {
                return false;
            }
            while let Some(op) = chars.next() {
                if !matches!(op, '+' | '-' | '=') {
                    return false;
                }
                if matches!(chars.peek(), Some('u' | 'g' | 'o')) {
                    chars.next();
                    continue;
                }
                while chars.peek().is_some_and(|c| matches!(c, 'r' | 'w' | 'x' | 'X' | 's' | 't')) {
                    chars.next();
                }
            }
            true
        })
}

/// Go's `time.ParseDuration` ("1m30s", "1.5h", "300ms", "0"); may be negative.
pub fn parse_go_duration(s: &str) -> Result<(bool, Duration), String> {
    let err = || format!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok((false, Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err());
        }
        let value: f64 = number.parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        rest = &rest[unit_len..];
        total += value * nanos_per;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    Ok((negative, Duration::from_nanos(total as u64)))
}

/// A HEALTHCHECK duration flag: empty or zero means "not set"; otherwise at least 1ms.
pub fn parse_health_duration(flag: &str, value: Option<&str>) -> Result<Option<Duration>, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    let (negative, d) = parse_go_duration(value)?;
    if d.is_zero() {
        return Ok(None);
    }
    if negative || d < Duration::from_millis(1) {
        return Err(format!("Interval {flag:?} cannot be less than 1ms"));
    }
    Ok(Some(d))
}

/// `docker/go-units` RAMInBytes: `64m`, `1g`, `512k`, `1.5GiB`, `100` (binary units).
pub fn parse_ram_bytes(s: &str) -> Result<i64, String> {
    let err = || format!("invalid size: '{s}'");
    let num_len = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let number = &s[..num_len];
    if number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) || number.ends_with('.') || number.contains("..") {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    let mut rest = s[num_len..].strip_prefix(' ').unwrap_or(&s[num_len..]);
    let mut multiplier = 1f64;
    if let Some(c) = rest.chars().next() {
        let m = match c.to_ascii_lowercase() {
            'k' => Some(1024f64),
            'm' => Some(1024f64.powi(2)),
            'g' => Some(1024f64.powi(3)),
            't' => Some(1024f64.powi(4)),
            'p' => Some(1024f64.powi(5)),
            _ => None,
        };
        if let Some(m) = m {
            multiplier = m;
            rest = &rest[1..];
        }
    }
    let rest = rest.strip_prefix(['i', 'I']).unwrap_or(rest);
    let rest = rest.strip_prefix(['b', 'B']).unwrap_or(rest);
    if !rest.is_empty() {
        return Err(err());
    }
    Ok((value * multiplier) as i64)
}

/// `^[a-z][a-z0-9-_.]*$` on the lower-cased name.
pub fn is_valid_stage_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod() {
        assert_eq!(Chmod::parse("0755"), Ok(Chmod::Octal(0o755)));
        assert_eq!(Chmod::parse("644"), Ok(Chmod::Octal(0o644)));
        assert!(Chmod::parse("0999").is_err());
        assert!(Chmod::parse("17777").is_err());
        for ok in ["u+x", "a+rwX", "u=rwx,g=rx,o=", "go-w", "+x", "u+x-w", "g=u"] {
            assert!(matches!(Chmod::parse(ok), Ok(Chmod::Symbolic(_))), "{ok}");
        }
        for bad in ["", "u", "rwx", "u+q", "x+u", "u+x,", "$MODE"] {
            assert!(Chmod::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("1m30s").unwrap().1, Duration::from_secs(90));
        assert_eq!(parse_go_duration("1.5h").unwrap().1, Duration::from_secs(5400));
        assert_eq!(parse_go_duration("300ms").unwrap().1, Duration::from_millis(300));
        assert_eq!(parse_go_duration("0").unwrap().1, Duration::ZERO);
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("").is_err());
        assert_eq!(parse_health_duration("interval", Some("0s")), Ok(None));
        assert!(parse_health_duration("interval", Some("10us")).is_err());
        assert!(parse_health_duration("interval", Some("-1s")).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_ram_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_ram_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_ram_bytes("100"), Ok(100));
        assert_eq!(parse_ram_bytes("1.5k"), Ok(1536));
        assert!(parse_ram_bytes("big").is_err());
        assert!(parse_ram_bytes("1q").is_err());
    }
}
