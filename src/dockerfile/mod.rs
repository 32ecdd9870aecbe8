//! The Dockerfile front end: text in, typed stages out, with BuildKit's
//! (`frontend/dockerfile/{parser,instructions,shell}`) rules and better errors.
//!
//! **In:** the rendered Dockerfile text and its file name. **Out:** a [`Dockerfile`]:
//! the parser [`Directives`] (`syntax`, `escape`, `check`), the global ARGs declared before
//! the first FROM ([`Dockerfile::meta_args`]), and the [`Stage`]s (index, optional name,
//! the [`From`] line, the typed [`Instruction`]s), plus non-fatal [`Warning`]s. Every
//! instruction carries a [`SourceInfo`]: its [`Location`] (start/end line, heredoc bodies
//! included — what the converter puts into the LLB source map) and its `original` text
//! (continuations folded — for vertex names like `RUN apt-get update`).
//!
//! **Expansion is the converter's job**, at dispatch time, exactly where BuildKit does it:
//! values stay unexpanded here (quotes included). The converter keeps the environment of
//! the stage and calls, per instruction:
//! - [`Instruction::expand`]`(&lexer, &env)` → an expanded copy (ENV, LABEL, ARG, WORKDIR,
//!   USER, VOLUME, STOPSIGNAL, EXPOSE (split), COPY/ADD paths, `--chown`, `--checksum`,
//!   heredoc sources with `expand`) and the variables used;
//! - [`Run::resolve_mounts`] for `RUN --mount` (validated without expansion at parse time);
//! - [`From::expand`] with the global ARGs only;
//! - [`shell::Lexer`] directly (`process_word`, `process_words`, `process_word_with_matches`)
//!   for anything else, with `Lexer::new(dockerfile.directives.escape_char)`.
//!
//! The environment is anything implementing [`shell::Env`] (maps, `(k, v)` lists).
//!
//! **Errors** are [`ParseError`]s with a [`ErrorKind`], a [`Span`] (file, line, column) and
//! the end line; [`ParseError::render`] prints BuildKit's snippet (`Dockerfile:12`, context,
//! `>>>`). This module never prints, never touches the file system, never runs anything.
//!
//! **Where we differ from the v0.13 frontend on purpose** (tests/dockerfile_daemon.rs
//! checks each against the real daemon): a leading `#!` line does not end the directive
//! block; `# check=` is a directive; duplicate stage names and flags on ARG/STOPSIGNAL are
//! errors; newer syntax is accepted (`COPY --parents`, `--exclude`, `ADD --unpack`,
//! symbolic `--chmod`, secret mounts with `env=`); `${v%}`/`${v#}` with an empty pattern
//! leave `v` alone (Go panics); `${v//p/r}` takes `r` literally; `${…}` nesting is capped at
//! 64 levels and a multiplying `${v//p/…}` at 1 MiB of output; lines are not limited to
//! 64 KiB.

mod build;
mod error;
mod expand;
mod flags;
mod instructions;
mod lexer;
mod mount;
pub mod shell;
mod values;
mod words;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

pub use error::{snippet, ErrorKind, Location, ParseError, Span};
pub use expand::{display_text, Expanded};
pub use instructions::{
    classify_add_source, Add, AddSourceKind, Arg, ArgDef, Cmd, CommandLine, Copy, Entrypoint, Env, Expose, From, Healthcheck,
    HealthcheckKind, InlineSource, Instruction, KeyValue, Label, Maintainer, NetworkMode, Onbuild, Run, SecurityMode, Shell, SourceInfo,
    StopSignal, User, Volume, Workdir,
};
pub use lexer::{Directive, Directives, Heredoc, Warning};
pub use mount::{CacheSharing, Mount, MountType, RawMount};
pub use values::Chmod;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dockerfile {
    #[serde(skip)]
    pub file_name: Arc<str>,
    /// The full text, for error snippets and source maps.
    #[serde(skip)]
    pub source: Arc<str>,
    pub directives: Directives,
    /// ARGs before the first FROM: visible to FROM lines only, unless re-declared.
    pub meta_args: Vec<Arg>,
    pub stages: Vec<Stage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// One build stage: its FROM line and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// Position among the stages (0-based), usable as `COPY --from=<index>`.
    pub index: usize,
    /// The lower-cased `AS` name.
    pub name: Option<String>,
    pub from: From,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The name BuildKit shows in progress output: the stage name, else `stage-<index>`.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

impl Dockerfile {
    /// A stage by name (case-insensitive) or by index written as a number.
    pub fn stage(&self, name_or_index: &str) -> Option<&Stage> {
        let lower = name_or_index.to_ascii_lowercase();
        if let Some(s) = self.stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str())) {
            return Some(s);
        }
        name_or_index.parse::<usize>().ok().and_then(|i| self.stages.get(i))
    }

    /// The lexer for this file's escape character.
    pub fn lexer(&self) -> shell::Lexer {
        shell::Lexer::new(self.directives.escape_char)
    }

    /// Attaches this file's text to an error so [`ParseError::render`] can show context
    /// (use it for errors from the expansion helpers).
    pub fn with_source(&self, error: ParseError) -> ParseError {
        error.with_source(&self.source)
    }

    /// Global ARG defaults as an environment, overridden by `build_args` (unexpanded
    /// defaults are expanded in order, each seeing the ones before it, as BuildKit does).
    pub fn meta_arg_env(&self, build_args: &HashMap<String, String>) -> Result<HashMap<String, String>, ParseError> {
        let lexer = self.lexer();
        let mut env = HashMap::new();
        for arg in &self.meta_args {
            for def in &arg.args {
                let value = match (build_args.get(&def.key), &def.default) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(d)) => Some(lexer.process_word(d, &env).map_err(|e| {
                        let loc = arg.source.location;
                        self.with_source(e.at(&self.file_name, loc.start_line, 1, loc.end_line))
                    })?),
                    (None, None) => None,
                };
                if let Some(v) = value {
                    env.insert(def.key.clone(), v);
                }
            }
        }
        Ok(env)
    }
}

/// Parses a Dockerfile. `file_name` is used in error spans and snippets.
pub fn parse(source: &str, file_name: &str) -> Result<Dockerfile, ParseError> {
    let file: Arc<str> = Arc::from(file_name);
    let text: Arc<str> = Arc::from(source);
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let lexed = lexer::lex(source, &file, |raw, escape| {
        let location = raw.location;
        let parsed = build::build(raw, escape, &file).map_err(|e| {
            let (line, column) = e.needle.as_deref().and_then(|n| locate(source, location, n)).unwrap_or((location.start_line, 1));
            e.error.at(&file, line, column, location.end_line)
        })?;
        let here = |kind, msg: String| ParseError::new(kind, msg).at(&file, location.start_line, 1, location.end_line);
        match parsed {
            build::Parsed::From(from) => {
                if let Some(name) = &from.stage_name {
                    if stages.iter().any(|s| s.name.as_ref() == Some(name)) {
                        return Err(here(ErrorKind::Structure, format!("duplicate stage name {name:?}")));
                    }
                }
                stages.push(Stage { index: stages.len(), name: from.stage_name.clone(), from, instructions: Vec::new() });
            }
            build::Parsed::Instruction(instruction) => match (stages.last_mut(), instruction) {
                (Some(stage), instruction) => stage.instructions.push(instruction),
                (None, Instruction::Arg(arg)) => meta_args.push(arg),
                (None, other) => {
                    let msg = format!("no build stage in current context: {} before the first FROM (only ARG may come before FROM)", other.keyword());
                    return Err(here(ErrorKind::Structure, msg));
                }
            },
        }
        Ok(())
    })
    .map_err(|e| e.with_source(&text))?;
    Ok(Dockerfile { file_name: file, source: text, directives: lexed.directives, meta_args, stages, warnings: lexed.warnings })
}

/// Line and column (1-based, in characters) of `needle` within an instruction's lines.
fn locate(source: &str, loc: Location, needle: &str) -> Option<(usize, usize)> {
    let source = source.strip_prefix('\u{FEFF}').unwrap_or(source);
    source.split('\n').enumerate().skip(loc.start_line - 1).take(loc.end_line + 1 - loc.start_line).find_map(|(i, line)| {
        line.find(needle).map(|byte| (i + 1, line[..byte].chars().count() + 1))
    })
}

#[cfg(test)]
mod tests;
