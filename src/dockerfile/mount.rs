//! `RUN --mount=…` values: a CSV record of `key=value` fields (BuildKit reads it with Go's
//! `encoding/csv`), checked at parse time as far as possible without expansion, and
//! resolved into a typed [`Mount`] once the converter knows the environment.

use serde::Serialize;

use super::error::{with_suggestion, ErrorKind, ParseError};
use super::values::parse_ram_bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSharing {
    Shared,
    Private,
    Locked,
}

/// A resolved mount. Defaults the converter must still apply (as BuildKit's
/// `dispatchRunMounts` does): cache `id` defaults to the target, secret/ssh targets to
/// `/run/secrets/<id>` / `/run/buildkit/ssh_agent.N`, cache sharing to `shared`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub kind: MountType,
    pub from: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub read_only: bool,
    pub size_limit: Option<i64>,
    pub id: Option<String>,
    pub sharing: Option<CacheSharing>,
    pub required: bool,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Secret mounts: expose the secret as this environment variable.
    pub env: Option<String>,
}

/// A `--mount` value as written, split into its CSV fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawMount {
    pub text: String,
    pub fields: Vec<String>,
}

/// Checks or expands one field value: `None` means "cannot be checked yet".
type FieldValue<'a> = dyn FnMut(&str, &str) -> Result<Option<String>, ParseError> + 'a;

const KEYS: &[&str] = &[
    "type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro", "readwrite", "rw", "required", "size", "id",
    "sharing", "mode", "uid", "gid", "env",
];

/// Keys are case-insensitive; they are almost always written in lower case already.
fn lowercase(key: &str) -> std::borrow::Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(key.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

fn invalid(msg: String) -> ParseError {
    ParseError::new(ErrorKind::InvalidValue, msg)
}

impl RawMount {
    /// Splits and checks a `--mount` value without expanding it (values holding `$` are
    /// checked later, in [`RawMount::resolve`]).
    pub(crate) fn parse(text: &str) -> Result<RawMount, ParseError> {
        let fields = csv_record(text).map_err(|e| invalid(format!("failed to parse csv mounts: {e}")))?;
        let raw = RawMount { text: text.to_string(), fields };
        raw.build(&mut |key, v| {
            if key == "from" && v.char_indices().any(|(i, c)| c == '$' && i + 1 < v.len()) {
                return Err(invalid("'from' doesn't support variable expansion, define alias stage instead".into()));
            }
            Ok((!v.contains('$')).then(|| v.to_string()))
        })?;
        Ok(raw)
    }

    /// The typed mount, every value passed through `expand` (BuildKit's single-word
    /// expansion with the environment at the RUN).
    pub fn resolve(&self, expand: &mut dyn FnMut(&str) -> Result<String, ParseError>) -> Result<Mount, ParseError> {
        self.build(&mut |_, v| expand(v).map(Some))
    }

    /// `value` returns `None` for a value that cannot be checked yet.
    fn build(&self, value: &mut FieldValue<'_>) -> Result<Mount, ParseError> {
        let mut m = Mount {
            kind: MountType::Bind,
            from: None,
            source: None,
            target: None,
            read_only: false,
            size_limit: None,
            id: None,
            sharing: None,
            required: false,
            mode: None,
            uid: None,
            gid: None,
            env: None,
        };
        let mut read_only_auto = true;
        let mut deferred_type = false;
        let unexpected = |key: &str, m: &Mount| invalid(format!("unexpected key '{key}' for mount type '{}'", type_name(m.kind)));
        for field in &self.fields {
            let (key, raw_value) = match field.split_once('=') {
                Some((k, v)) => (lowercase(k), Some(v)),
                None => (lowercase(field), None),
            };
            let Some(raw_value) = raw_value else {
                match &*key {
                    "readonly" | "ro" => {
                        m.read_only = true;
                        read_only_auto = false;
                    }
                    "readwrite" | "rw" => {
                        m.read_only = false;
                        read_only_auto = false;
                    }
                    "required" if deferred_type || matches!(m.kind, MountType::Secret | MountType::Ssh) => m.required = true,
                    "required" => return Err(unexpected(&key, &m)),
                    _ => return Err(invalid(format!("invalid field '{field}' must be a key=value pair"))),
                }
                continue;
            };
            if !KEYS.contains(&&*key) {
                return Err(invalid(with_suggestion(format!("unexpected key '{key}' in '{field}'"), &key, KEYS, true)));
            }
            let Some(v) = value(&key, raw_value)? else {
                if key == "type" {
                    deferred_type = true;
                }
                continue;
            };
            let bool_value = |v: &str| parse_go_bool(v).ok_or_else(|| invalid(format!("invalid value for {key}: {v}")));
            match &*key {
                "type" => {
                    m.kind = match v.to_ascii_lowercase().as_str() {
                        "bind" => MountType::Bind,
                        "cache" => MountType::Cache,
                        "tmpfs" => MountType::Tmpfs,
                        "secret" => MountType::Secret,
                        "ssh" => MountType::Ssh,
                        _ => {
                            let msg = format!("unsupported mount type {v:?}");
                            return Err(invalid(with_suggestion(msg, &v, &["bind", "cache", "tmpfs", "secret", "ssh"], true)));
                        }
                    }
                }
                "from" => m.from = Some(v),
                "source" | "src" => m.source = Some(v),
                "target" | "dst" | "destination" => m.target = Some(v),
                "readonly" | "ro" => {
                    m.read_only = bool_value(&v)?;
                    read_only_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = !bool_value(&v)?;
                    read_only_auto = false;
                }
                "required" if deferred_type || matches!(m.kind, MountType::Secret | MountType::Ssh) => m.required = bool_value(&v)?,
                "required" => return Err(unexpected(&key, &m)),
                "size" if deferred_type || m.kind == MountType::Tmpfs => {
                    m.size_limit = Some(parse_ram_bytes(&v).map_err(|_| invalid(format!("invalid value for size: {v}")))?)
                }
                "size" => return Err(unexpected(&key, &m)),
                "id" => m.id = Some(v),
                "sharing" => {
                    m.sharing = Some(match v.to_ascii_lowercase().as_str() {
                        "shared" => CacheSharing::Shared,
                        "private" => CacheSharing::Private,
                        "locked" => CacheSharing::Locked,
                        _ => {
                            let msg = format!("unsupported sharing value {v:?}");
                            return Err(invalid(with_suggestion(msg, &v, &["shared", "private", "locked"], true)));
                        }
                    })
                }
                "mode" => m.mode = Some(u32::from_str_radix(&v, 8).map_err(|_| invalid(format!("invalid value {v} for mode")))?),
                "uid" => m.uid = Some(v.parse().map_err(|_| invalid(format!("invalid value {v} for uid")))?),
                "gid" => m.gid = Some(v.parse().map_err(|_| invalid(format!("invalid value {v} for gid")))?),
                "env" if deferred_type || m.kind == MountType::Secret => m.env = Some(v),
                _ => return Err(unexpected(&key, &m)),
            }
        }
        if deferred_type {
            return Ok(m);
        }
        let kind = type_name(m.kind);
        if !matches!(m.kind, MountType::Secret | MountType::Ssh | MountType::Cache) {
            for (set, what) in [(m.mode.is_some(), "mode"), (m.uid.is_some(), "uid"), (m.gid.is_some(), "gid")] {
                if set {
                    return Err(invalid(format!("{what} not allowed for {kind:?} type mounts")));
                }
            }
        }
        if read_only_auto {
            m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
        }
        if m.kind == MountType::Secret {
            if m.from.is_some() {
                return Err(invalid("secret mount should not have a from".into()));
            }
            if m.sharing.is_some() {
                return Err(invalid("secret mount should not define sharing".into()));
            }
            if m.source.is_none() && m.target.is_none() && m.id.is_none() && m.env.is_none() {
                return Err(invalid("invalid secret mount. one of source, target required".into()));
            }
            if m.source.is_some() && m.id.is_some() {
                return Err(invalid("both source and id can't be set".into()));
            }
        }
        if m.sharing.is_some() && m.kind != MountType::Cache {
            return Err(invalid(format!("invalid cache sharing set for {kind} mount")));
        }
        Ok(m)
    }
}

fn type_name(kind: MountType) -> &'static str {
    match kind {
        MountType::Bind => "bind",
        MountType::Cache => "cache",
        MountType::Tmpfs => "tmpfs",
        MountType::Secret => "secret",
        MountType::Ssh => "ssh",
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// One record of Go's `encoding/csv` (strict quotes): fields split at commas, a field
/// starting with `"` is quoted (`""` inside is a quote), bare quotes elsewhere are errors.
fn csv_record(text: &str) -> Result<Vec<String>, String> {
    let first = text.split('\n').next().unwrap_or("");
    let line = first.strip_suffix('\r').unwrap_or(first);
    if text.is_empty() {
        return Err("EOF".into());
    }
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("extraneous or missing \" in quoted-field".into()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("bare \" in non-quoted-field".into()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Mount, String> {
        let raw = RawMount::parse(s).map_err(|e| e.message().to_string())?;
        raw.resolve(&mut |v| Ok(v.replace("$ID", "expanded"))).map_err(|e| e.message().to_string())
    }

    #[test]
    fn csv() {
        assert_eq!(csv_record("a=1,b=2").unwrap(), vec!["a=1", "b=2"]);
        assert_eq!(csv_record("\"a=1,2\",b").unwrap(), vec!["a=1,2", "b"]);
        assert_eq!(csv_record("\"a\"\"b\"").unwrap(), vec!["a\"b"]);
        assert!(csv_record("a\"b").is_err());
        assert!(csv_record("\"ab").is_err());
        assert!(csv_record("").is_err());
    }

    #[test]
    fn mounts() {
        let m = parse("type=cache,target=/root/.cache/pip,sharing=locked,mode=0755,uid=1000").unwrap();
        assert_eq!((m.kind, m.sharing, m.mode, m.uid, m.read_only), (MountType::Cache, Some(CacheSharing::Locked), Some(0o755), Some(1000), false));
        let m = parse("type=secret,id=aws,required").unwrap();
        assert!(m.required && m.read_only);
        let m = parse("target=/src,rw").unwrap();
        assert_eq!((m.kind, m.read_only), (MountType::Bind, false));
        let m = parse("type=tmpfs,target=/t,size=64m").unwrap();
        assert_eq!(m.size_limit, Some(64 << 20));
        assert_eq!(parse("type=cache,id=$ID,target=/x").unwrap().id.as_deref(), Some("expanded"));
        assert_eq!(parse("type=secret,id=tok,env=TOKEN").unwrap().env.as_deref(), Some("TOKEN"));
    }

    #[test]
    fn mount_errors() {
        assert_eq!(parse("type=foo").unwrap_err(), "unsupported mount type \"foo\"");
        assert_eq!(parse("type=cach").unwrap_err(), "unsupported mount type \"cach\" (did you mean cache?)");
        assert!(parse("type=bind,traget=/x").unwrap_err().contains("did you mean target?"));
        assert!(parse("type=bind,required").unwrap_err().contains("unexpected key 'required'"));
        assert!(parse("type=bind,mode=0700").unwrap_err().contains("mode not allowed"));
        assert!(parse("type=secret").unwrap_err().contains("one of source, target required"));
        assert!(parse("type=bind,sharing=locked").unwrap_err().contains("invalid cache sharing"));
        assert!(parse("type=cache,sharing=nope").unwrap_err().contains("unsupported sharing"));
        assert!(parse("type=cache,uid=x").unwrap_err().contains("for uid"));
        assert!(parse("foo").unwrap_err().contains("must be a key=value pair"));
        assert!(parse("type=bind,from=$STAGE").unwrap_err().contains("doesn't support variable expansion"));
        // `type` deferred: checks that need the type wait for resolve()
        assert!(RawMount::parse("type=$T,required").is_ok());
    }
}
