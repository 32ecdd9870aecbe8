//! From split logical lines to typed instructions (BuildKit's `instructions.Parse`):
//! argument shapes per keyword, flag sets per instruction, argument-count rules, value
//! checks that need no expansion. Errors point at the flag or word at fault when it can be
//! found in the source, else at the instruction's first column.

use std::sync::Arc;

use super::error::{with_suggestion, ErrorKind, ParseError};
use super::flags::{FlagType, Flags};
use super::instructions::*;
use super::lexer::{chomp_tabs, parse_heredoc, RawInstruction};
use super::mount::RawMount;
use super::values::{is_valid_stage_name, parse_health_duration, Chmod};
use super::words::{parse_json, parse_name_value, parse_words, split_command, split_ws, Json};

/// An error plus, when known, the text in the instruction it is about (for the column).
pub(crate) struct BuildError {
    pub error: ParseError,
    pub needle: Option<String>,
}

impl std::convert::From<ParseError> for BuildError {
    fn from(error: ParseError) -> Self {
        BuildError { error, needle: None }
    }
}

type Result<T> = std::result::Result<T, BuildError>;

fn fail<T>(kind: ErrorKind, msg: impl Into<String>) -> Result<T> {
    Err(ParseError::new(kind, msg).into())
}

fn fail_at<T>(kind: ErrorKind, msg: impl Into<String>, needle: &str) -> Result<T> {
    Err(BuildError { error: ParseError::new(kind, msg), needle: Some(needle.to_string()) })
}

pub(crate) enum Parsed {
    From(From),
    Instruction(Instruction),
}

pub(crate) const INSTRUCTIONS: &[&str] = &[
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label", "maintainer", "onbuild", "run", "shell",
    "stopsignal", "user", "volume", "workdir",
];

/// The arguments of one instruction in BuildKit's node shape: words plus "was JSON".
struct NodeArgs {
    args: Vec<String>,
    json: bool,
}

/// Takes the argument text by value so the common single-string shapes need no copy.
fn node_args(keyword_lc: &str, rest: String, escape: char) -> std::result::Result<NodeArgs, ParseError> {
    let plain = |args: Vec<String>| NodeArgs { args, json: false };
    Ok(match keyword_lc {
        "cmd" | "entrypoint" | "run" | "shell" => {
            if rest.is_empty() {
                plain(Vec::new())
            } else {
                match parse_json(&rest)? {
                    Json::Array(args) => NodeArgs { args, json: true },
                    Json::NotJson => plain(vec![rest]),
                }
            }
        }
        "add" | "copy" | "volume" => match parse_json(&rest)? {
            Json::Array(args) => NodeArgs { args, json: true },
            Json::NotJson if rest.is_empty() => plain(Vec::new()),
            Json::NotJson => plain(split_ws(&rest)),
        },
        "expose" | "from" => plain(if rest.is_empty() { Vec::new() } else { split_ws(&rest) }),
        "maintainer" | "stopsignal" | "user" | "workdir" => plain(if rest.is_empty() { Vec::new() } else { vec![rest] }),
        "arg" => plain(parse_words(&rest, escape)),
        "env" | "label" => {
            let pairs = parse_name_value(&rest, if keyword_lc == "env" { "ENV" } else { "LABEL" }, escape)?;
            plain(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
        "healthcheck" => {
            let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if sep == 0 {
                plain(Vec::new())
            } else {
                let cmd = node_args("cmd", rest[sep..].trim_start().to_string(), escape)?;
                NodeArgs { args: std::iter::once(rest[..sep].to_string()).chain(cmd.args).collect(), json: cmd.json }
            }
        }
        "onbuild" => {
            if rest.is_empty() {
                plain(Vec::new())
            } else {
                let (keyword, _, child_rest) = split_command(&rest);
                // `ONBUILD ONBUILD …` is rejected later; not recursing keeps the depth bounded.
                if keyword.eq_ignore_ascii_case("onbuild") {
                    return Ok(plain(vec![keyword]));
                }
                let child = node_args(&keyword.to_ascii_lowercase(), child_rest, escape)?;
                plain(std::iter::once(keyword).chain(child.args).collect())
            }
        }
        _ => plain(Vec::new()),
    })
}

fn parse_flags(raw: &RawInstruction, declared: &[(&'static str, FlagType)]) -> Result<Flags> {
    Flags::parse(&raw.flags, declared).map_err(|e| BuildError { error: e.error, needle: Some(format!("--{}", e.flag)) })
}

fn source_info(raw: &mut RawInstruction, file: &Arc<str>) -> SourceInfo {
    SourceInfo { file: file.clone(), location: raw.location, original: std::mem::take(&mut raw.original), comments: std::mem::take(&mut raw.comments) }
}

fn exactly_one(keyword: &str, args: &[String]) -> Result<String> {
    match args {
        [one] => Ok(one.clone()),
        _ => fail(ErrorKind::Arguments, format!("{keyword} requires exactly one argument")),
    }
}

fn at_least_one(keyword: &str, args: &[String]) -> Result<()> {
    if args.is_empty() {
        return fail(ErrorKind::Arguments, format!("{keyword} requires at least one argument"));
    }
    Ok(())
}

fn key_values(keyword: &str, args: Vec<String>) -> Result<Vec<KeyValue>> {
    at_least_one(keyword, &args)?;
    if !args.len().is_multiple_of(2) {
        return fail(ErrorKind::Arguments, format!("Bad input to {keyword}, too many arguments"));
    }
    let mut out = Vec::with_capacity(args.len() / 2);
    let mut it = args.into_iter();
    while let (Some(key), Some(value)) = (it.next(), it.next()) {
        if key.is_empty() {
            return fail(ErrorKind::Arguments, format!("{keyword} names can not be blank"));
        }
        out.push(KeyValue { key, value });
    }
    Ok(out)
}

fn command_line(node: NodeArgs) -> CommandLine {
    if node.json {
        CommandLine::Exec(node.args)
    } else if node.args.len() == 1 {
        CommandLine::Shell(node.args.into_iter().next().unwrap_or_default())
    } else {
        CommandLine::Shell(node.args.join(" "))
    }
}

fn comment_for(comments: &[String], name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let prefix = format!("{name} ");
    comments.iter().find_map(|c| c.strip_prefix(&prefix)).unwrap_or("").to_string()
}

pub(crate) fn build(mut raw: RawInstruction, escape: char, file: &Arc<str>) -> Result<Parsed> {
    let Some(keyword_lc) = INSTRUCTIONS.iter().copied().find(|k| raw.keyword.eq_ignore_ascii_case(k)) else {
        let upper: Vec<String> = INSTRUCTIONS.iter().map(|s| s.to_ascii_uppercase()).collect();
        let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
        let msg = with_suggestion(format!("unknown instruction: {}", raw.keyword), &raw.keyword, &upper, false);
        return fail(ErrorKind::UnknownInstruction, msg);
    };
    let node = node_args(keyword_lc, std::mem::take(&mut raw.args), escape)?;
    let source = source_info(&mut raw, file);
    build_typed(keyword_lc, &mut raw, node, source)
}

fn build_typed(keyword_lc: &str, raw: &mut RawInstruction, node: NodeArgs, source: SourceInfo) -> Result<Parsed> {
    let args = &node.args;
    let none: &[(&str, FlagType)] = &[];
    let instruction = match keyword_lc {
        "from" => return build_from(raw, args, source).map(Parsed::From),
        "env" => {
            parse_flags(raw, none)?;
            Instruction::Env(Env { pairs: key_values("ENV", node.args)?, source })
        }
        "label" => {
            parse_flags(raw, none)?;
            Instruction::Label(Label { pairs: key_values("LABEL", node.args)?, source })
        }
        "maintainer" => {
            let maintainer = exactly_one("MAINTAINER", args)?;
            parse_flags(raw, none)?;
            Instruction::Maintainer(Maintainer { maintainer, source })
        }
        "workdir" => {
            let path = exactly_one("WORKDIR", args)?;
            parse_flags(raw, none)?;
            Instruction::Workdir(Workdir { path, source })
        }
        "user" => {
            let user = exactly_one("USER", args)?;
            parse_flags(raw, none)?;
            Instruction::User(User { user, source })
        }
        "stopsignal" => {
            let signal = exactly_one("STOPSIGNAL", args)?;
            parse_flags(raw, none)?;
            Instruction::StopSignal(StopSignal { signal, source })
        }
        "expose" => {
            at_least_one("EXPOSE", args)?;
            parse_flags(raw, none)?;
            let mut ports = args.clone();
            ports.sort();
            Instruction::Expose(Expose { ports, source })
        }
        "volume" => {
            at_least_one("VOLUME", args)?;
            parse_flags(raw, none)?;
            let mut paths = Vec::with_capacity(args.len());
            for v in args {
                let v = v.trim();
                if v.is_empty() {
                    return fail(ErrorKind::Arguments, "VOLUME specified can not be an empty string");
                }
                paths.push(v.to_string());
            }
            Instruction::Volume(Volume { paths, source })
        }
        "arg" => {
            at_least_one("ARG", args)?;
            parse_flags(raw, none)?;
            let mut defs = Vec::with_capacity(args.len());
            for word in args {
                let (key, default) = match word.split_once('=') {
                    Some(("", _)) => return fail(ErrorKind::Arguments, "ARG names can not be blank"),
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (word.clone(), None),
                };
                let comment = comment_for(&source.comments, &key);
                defs.push(ArgDef { key, default, comment });
            }
            Instruction::Arg(Arg { args: defs, source })
        }
        "cmd" => {
            parse_flags(raw, none)?;
            Instruction::Cmd(Cmd { command: command_line(node), source })
        }
        "entrypoint" => {
            parse_flags(raw, none)?;
            let command = (!args.is_empty()).then(|| command_line(node));
            Instruction::Entrypoint(Entrypoint { command, source })
        }
        "shell" => {
            parse_flags(raw, none)?;
            at_least_one("SHELL", args)?;
            if !node.json {
                return fail(ErrorKind::Syntax, "SHELL requires the arguments to be in JSON form");
            }
            Instruction::Shell(Shell { shell: node.args, source })
        }
        "run" => build_run(raw, node, source)?,
        "copy" => build_copy(raw, args, source)?,
        "add" => build_add(raw, args, source)?,
        "healthcheck" => build_healthcheck(raw, node, source)?,
        "onbuild" => {
            at_least_one("ONBUILD", args)?;
            parse_flags(raw, none)?;
            let trigger = args[0].trim().to_ascii_uppercase();
            match trigger.as_str() {
                "ONBUILD" => return fail(ErrorKind::InvalidValue, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
                "MAINTAINER" | "FROM" => return fail(ErrorKind::InvalidValue, format!("{trigger} isn't allowed as an ONBUILD trigger")),
                _ => {}
            }
            let trimmed = source.original.trim_start();
            let mut expression = trimmed.get(7..).unwrap_or("").trim_start().to_string();
            for doc in &raw.heredocs {
                expression.push('\n');
                expression.push_str(&doc.content);
                expression.push_str(&doc.name);
            }
            Instruction::Onbuild(Onbuild { expression, trigger, source })
        }
        _ => unreachable!("keyword checked against INSTRUCTIONS above"),
    };
    Ok(Parsed::Instruction(instruction))
}

fn build_from(raw: &RawInstruction, args: &[String], source: SourceInfo) -> Result<From> {
    let stage_name = match args {
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            if !is_valid_stage_name(&lower) {
                let msg = format!("invalid name for build stage: {name:?}, name can't start with a number or contain symbols");
                return fail_at(ErrorKind::InvalidValue, msg, name);
            }
            Some(lower)
        }
        [_] => None,
        _ => return fail(ErrorKind::Arguments, "FROM requires either one or three arguments"),
    };
    let flags = parse_flags(raw, &[("platform", FlagType::String)])?;
    Ok(From { base: args[0].clone(), stage_name, platform: flags.string("platform"), source })
}

fn build_run(raw: &mut RawInstruction, node: NodeArgs, source: SourceInfo) -> Result<Instruction> {
    let flags = parse_flags(raw, &[("mount", FlagType::List), ("network", FlagType::String), ("security", FlagType::String)])?;
    let mut mounts = Vec::new();
    for text in flags.list("mount") {
        let mount = RawMount::parse(&text).map_err(|error| BuildError { error, needle: Some(text.clone()) })?;
        mounts.push(mount);
    }
    let network = match flags.string("network").as_deref() {
        None | Some("default") => NetworkMode::Default,
        Some("none") => NetworkMode::None,
        Some("host") => NetworkMode::Host,
        Some(v) => return fail_at(ErrorKind::InvalidValue, format!("invalid network mode {v:?} (use default, none or host)"), "--network"),
    };
    let security = match flags.string("security").as_deref() {
        None | Some("sandbox") => SecurityMode::Sandbox,
        Some("insecure") => SecurityMode::Insecure,
        Some(v) => return fail_at(ErrorKind::InvalidValue, format!("security {v:?} is not valid (use sandbox or insecure)"), "--security"),
    };
    Ok(Instruction::Run(Run {
        command: command_line(node),
        heredocs: std::mem::take(&mut raw.heredocs),
        mounts,
        network,
        security,
        flags_used: flags.used(),
        source,
    }))
}

/// Splits COPY/ADD arguments into path sources, heredoc sources and the destination.
fn sources_and_dest(raw: &RawInstruction, keyword: &str, args: &[String]) -> Result<(Vec<String>, Vec<InlineSource>, String)> {
    if args.len() < 2 {
        let msg = format!("{keyword} requires at least two arguments, but only one was provided. Destination could not be determined");
        return fail(ErrorKind::Arguments, msg);
    }
    let (dest, srcs) = args.split_last().expect("len checked above");
    if parse_heredoc(dest)?.is_some() {
        return fail_at(ErrorKind::Arguments, format!("{keyword} cannot accept a heredoc as a destination"), dest);
    }
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    for src in srcs {
        match parse_heredoc(src)? {
            Some(doc) => {
                let found = raw.heredocs.iter().find(|d| d.name == doc.name);
                let content = found.map(|d| d.content.as_str()).unwrap_or("");
                let data = if doc.chomp { chomp_tabs(content) } else { content.to_string() };
                inline.push(InlineSource { path: doc.name, data, expand: doc.expand });
            }
            None => sources.push(src.clone()),
        }
    }
    Ok((sources, inline, dest.clone()))
}

fn chmod_flag(flags: &Flags) -> Result<Option<Chmod>> {
    match flags.string("chmod") {
        None => Ok(None),
        Some(v) => Chmod::parse(&v).map(Some).map_err(|m| BuildError { error: ParseError::new(ErrorKind::InvalidValue, m), needle: Some("--chmod".into()) }),
    }
}

fn build_copy(raw: &mut RawInstruction, args: &[String], source: SourceInfo) -> Result<Instruction> {
    let (sources, inline_sources, dest) = sources_and_dest(raw, "COPY", args)?;
    let flags = parse_flags(
        raw,
        &[
            ("chown", FlagType::String),
            ("from", FlagType::String),
            ("chmod", FlagType::String),
            ("link", FlagType::Bool),
            ("parents", FlagType::Bool),
            ("exclude", FlagType::List),
        ],
    )?;
    Ok(Instruction::Copy(Copy {
        sources,
        inline_sources,
        dest,
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: chmod_flag(&flags)?,
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        excludes: flags.list("exclude"),
        source,
    }))
}

fn build_add(raw: &mut RawInstruction, args: &[String], source: SourceInfo) -> Result<Instruction> {
    let (sources, inline_sources, dest) = sources_and_dest(raw, "ADD", args)?;
    let flags = parse_flags(
        raw,
        &[
            ("chown", FlagType::String),
            ("chmod", FlagType::String),
            ("link", FlagType::Bool),
            ("keep-git-dir", FlagType::Bool),
            ("checksum", FlagType::String),
            ("unpack", FlagType::Bool),
            ("exclude", FlagType::List),
        ],
    )?;
    let checksum = flags.string("checksum");
    if let Some(sum) = checksum.as_deref().filter(|s| !s.contains('$')) {
        let valid = sum.split_once(':').is_some_and(|(algo, hex)| {
            matches!(algo, "sha256" | "sha384" | "sha512") && !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !valid {
            return fail_at(ErrorKind::InvalidValue, format!("invalid checksum digest {sum:?} (expected sha256:<hex>)"), "--checksum");
        }
    }
    Ok(Instruction::Add(Add {
        sources,
        inline_sources,
        dest,
        chown: flags.string("chown"),
        chmod: chmod_flag(&flags)?,
        link: flags.bool("link"),
        keep_git_dir: flags.bool("keep-git-dir"),
        checksum,
        unpack: flags.opt_bool("unpack"),
        excludes: flags.list("exclude"),
        source,
    }))
}

fn build_healthcheck(raw: &mut RawInstruction, node: NodeArgs, source: SourceInfo) -> Result<Instruction> {
    let args = &node.args;
    at_least_one("HEALTHCHECK", args)?;
    let flags = parse_flags(
        raw,
        &[
            ("interval", FlagType::String),
            ("timeout", FlagType::String),
            ("start-period", FlagType::String),
            ("start-interval", FlagType::String),
            ("retries", FlagType::String),
        ],
    )?;
    let kind = args[0].to_ascii_uppercase();
    let check = match kind.as_str() {
        "NONE" => {
            if args.len() != 1 {
                return fail(ErrorKind::Arguments, "HEALTHCHECK NONE takes no arguments");
            }
            HealthcheckKind::None
        }
        "CMD" => {
            let rest = NodeArgs { args: args[1..].to_vec(), json: node.json };
            if rest.args.is_empty() {
                return fail(ErrorKind::Arguments, "Missing command after HEALTHCHECK CMD");
            }
            let duration = |name: &str| {
                parse_health_duration(name, flags.string(name).as_deref())
                    .map_err(|m| BuildError { error: ParseError::new(ErrorKind::InvalidValue, m), needle: Some(format!("--{name}")) })
            };
            let retries = match flags.string("retries") {
                None => 0,
                Some(v) => match v.parse::<i32>() {
                    Ok(n) if n < 0 => return fail_at(ErrorKind::InvalidValue, format!("--retries cannot be negative ({n})"), "--retries"),
                    Ok(n) => n as u32,
                    Err(_) => return fail_at(ErrorKind::InvalidValue, format!("invalid --retries value {v:?}"), "--retries"),
                },
            };
            HealthcheckKind::Check {
                test: command_line(rest),
                interval: duration("interval")?,
                timeout: duration("timeout")?,
                start_period: duration("start-period")?,
                start_interval: duration("start-interval")?,
                retries,
            }
        }
        _ => return fail(ErrorKind::InvalidValue, format!("Unknown type {:?} in HEALTHCHECK (try CMD)", kind)),
    };
    Ok(Instruction::Healthcheck(Healthcheck { check, source }))
}
