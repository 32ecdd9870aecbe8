//! `--flag` parsing per instruction, with BuildKit's `BFlags` rules: each instruction
//! declares the flags it knows; unknown names are errors (with a "did you mean"), plain
//! flags may appear once, list flags (`--mount`, `--exclude`) many times; booleans take
//! no value or `=true`/`=false`; string flags need `=value`.

use super::error::{with_suggestion, ErrorKind, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagType {
    Bool,
    String,
    List,
}

/// The parsed flags of one instruction.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(&'static str, FlagValue)>,
}

#[derive(Debug, Clone)]
pub(crate) enum FlagValue {
    Bool(bool),
    String(String),
    List(Vec<String>),
}

/// An error about one flag: the flag's name travels along so the caller can point the
/// error's column at it.
pub(crate) struct FlagError {
    pub(crate) flag: String,
    pub(crate) error: ParseError,
}

impl Flags {
    /// Parses `raw` (as produced by `words::extract_flags`) against the declared flags.
    pub(crate) fn parse(raw: &[String], declared: &[(&'static str, FlagType)]) -> Result<Flags, FlagError> {
        let mut flags = Flags::default();
        for arg in raw {
            let err = |flag: &str, msg: String| FlagError { flag: flag.to_string(), error: ParseError::new(ErrorKind::Flag, msg) };
            let Some(body) = arg.strip_prefix("--") else {
                return Err(err(arg, format!("arg should start with -- : {arg}")));
            };
            if body.is_empty() {
                return Ok(flags);
            }
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(decl_name, ty)) = declared.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = declared.iter().map(|(n, _)| *n).collect();
                return Err(err(name, with_suggestion(format!("unknown flag: {name}"), name, &names, true)));
            };
            let existing = flags.values.iter().position(|(n, _)| *n == decl_name);
            if existing.is_some() && ty != FlagType::List {
                return Err(err(name, format!("duplicate flag specified: {name}")));
            }
            let parsed = match ty {
                FlagType::Bool => match value {
                    Some("") => return Err(err(name, format!("missing a value on flag: {name}"))),
                    None => FlagValue::Bool(true),
                    Some(v) if v.eq_ignore_ascii_case("true") => FlagValue::Bool(true),
                    Some(v) if v.eq_ignore_ascii_case("false") => FlagValue::Bool(false),
                    Some(v) => return Err(err(name, format!("expecting boolean value for flag {name}, not: {v}"))),
                },
                FlagType::String => match value {
                    Some(v) => FlagValue::String(v.to_string()),
                    None => return Err(err(name, format!("missing a value on flag: {name}"))),
                },
                FlagType::List => match value {
                    Some(v) => {
                        if let Some(i) = existing {
                            if let FlagValue::List(list) = &mut flags.values[i].1 {
                                list.push(v.to_string());
                            }
                            continue;
                        }
                        FlagValue::List(vec![v.to_string()])
                    }
                    None => return Err(err(name, format!("missing a value on flag: {name}"))),
                },
            };
            flags.values.push((decl_name, parsed));
        }
        Ok(flags)
    }

    pub(crate) fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(FlagValue::Bool(true)))
    }

    /// `Some(b)` only when the flag was given.
    pub(crate) fn opt_bool(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Some(FlagValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(FlagValue::String(s)) => Some(s.clone()),
            _ => None,
        }
    }

    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(FlagValue::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn used(&self) -> Vec<String> {
        self.values.iter().map(|(n, _)| n.to_string()).collect()
    }

    fn get(&self, name: &str) -> Option<&FlagValue> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECL: &[(&str, FlagType)] = &[("link", FlagType::Bool), ("from", FlagType::String), ("mount", FlagType::List)];

    fn parse(raw: &[&str]) -> Result<Flags, String> {
        let raw: Vec<String> = raw.iter().map(|s| s.to_string()).collect();
        Flags::parse(&raw, DECL).map_err(|e| e.error.message().to_string())
    }

    #[test]
    fn rules() {
        let f = parse(&["--link", "--from=a", "--mount=x", "--mount=y"]).unwrap();
        assert!(f.bool("link"));
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert_eq!(f.list("mount"), vec!["x", "y"]);
        assert_eq!(parse(&["--link=FALSE"]).unwrap().opt_bool("link"), Some(false));
        assert_eq!(parse(&["--lnk"]).unwrap_err(), "unknown flag: lnk (did you mean link?)");
        assert_eq!(parse(&["--from=a", "--from=b"]).unwrap_err(), "duplicate flag specified: from");
        assert_eq!(parse(&["--from"]).unwrap_err(), "missing a value on flag: from");
        assert_eq!(parse(&["--link="]).unwrap_err(), "missing a value on flag: link");
        assert_eq!(parse(&["--link=maybe"]).unwrap_err(), "expecting boolean value for flag link, not: maybe");
        assert!(parse(&["--", "--whatever"]).is_ok());
    }
}
