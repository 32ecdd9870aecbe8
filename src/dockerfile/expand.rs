//! Expansion of instruction fields at dispatch time, the way BuildKit's
//! `SupportsSingleWordExpansion` does it: the converter passes the environment in effect
//! *before* the instruction (so `ENV A=1 B=$A` gives B the old A) and gets back an expanded
//! copy plus the names of the variables that were used. Fields BuildKit leaves alone (RUN
//! and CMD command lines, SHELL, COPY --from, HEALTHCHECK, ONBUILD) stay as they are.

use std::collections::BTreeSet;

use super::error::{ErrorKind, ParseError};
use super::instructions::*;
use super::mount::Mount;
use super::shell::{self, Lexer};

/// An instruction with its expandable fields expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded<T> {
    pub value: T,
    /// Variables that were found in the environment while expanding (BuildKit's
    /// "matches"; an ARG counts as used when its name shows up here).
    pub used_vars: BTreeSet<String>,
}

struct Words<'a> {
    lexer: &'a Lexer,
    env: &'a dyn shell::Env,
    used: BTreeSet<String>,
    source: &'a SourceInfo,
}

impl Words<'_> {
    fn spanned(&self, e: ParseError) -> ParseError {
        let loc = self.source.location;
        e.at(&self.source.file, loc.start_line, 1, loc.end_line)
    }

    fn word(&mut self, w: &str) -> Result<String, ParseError> {
        let (word, matched) = self.lexer.process_word_with_matches(w, self.env).map_err(|e| self.spanned(e))?;
        self.used.extend(matched);
        Ok(word)
    }

    fn opt(&mut self, w: &Option<String>) -> Result<Option<String>, ParseError> {
        w.as_deref().map(|w| self.word(w)).transpose()
    }

    fn all(&mut self, ws: &[String]) -> Result<Vec<String>, ParseError> {
        ws.iter().map(|w| self.word(w)).collect()
    }

    fn split(&mut self, w: &str) -> Result<Vec<String>, ParseError> {
        let e = self.lexer.process(w, self.env).map_err(|e| self.spanned(e))?;
        self.used.extend(e.matched);
        Ok(e.words)
    }

    fn pairs(&mut self, kvs: &[KeyValue]) -> Result<Vec<KeyValue>, ParseError> {
        kvs.iter().map(|kv| Ok(KeyValue { key: self.word(&kv.key)?, value: self.word(&kv.value)? })).collect()
    }

    /// Heredoc bodies with an unquoted delimiter: `$vars` expand, quotes stay.
    fn inline(&mut self, sources: &[InlineSource]) -> Result<Vec<InlineSource>, ParseError> {
        let mut raw = Lexer::new('\\');
        raw.skip_process_quotes = true;
        sources
            .iter()
            .map(|s| {
                if !s.expand {
                    return Ok(s.clone());
                }
                let (data, matched) = raw.process_word_with_matches(&s.data, self.env).map_err(|e| self.spanned(e))?;
                self.used.extend(matched);
                Ok(InlineSource { data, path: s.path.clone(), expand: s.expand })
            })
            .collect()
    }
}

impl Instruction {
    /// Whether BuildKit expands any field of this instruction with the environment.
    pub fn expands_words(&self) -> bool {
        !matches!(
            self,
            Instruction::Cmd(_) | Instruction::Entrypoint(_) | Instruction::Shell(_) | Instruction::Healthcheck(_) | Instruction::Maintainer(_) | Instruction::Onbuild(_)
        )
    }

    /// An expanded copy: ENV/LABEL keys and values, ARG names and defaults, WORKDIR,
    /// USER, VOLUME, STOPSIGNAL, COPY/ADD sources, destination, `--chown` (and ADD
    /// `--checksum`), heredoc sources with an unquoted delimiter; EXPOSE ports are expanded
    /// *and split* (`EXPOSE $PORTS`). RUN is returned as is: use [`Run::resolve_mounts`].
    pub fn expand(&self, lexer: &Lexer, env: &dyn shell::Env) -> Result<Expanded<Instruction>, ParseError> {
        let mut w = Words { lexer, env, used: BTreeSet::new(), source: self.source() };
        let value = match self {
            Instruction::Env(i) => Instruction::Env(Env { pairs: w.pairs(&i.pairs)?, source: i.source.clone() }),
            Instruction::Label(i) => Instruction::Label(Label { pairs: w.pairs(&i.pairs)?, source: i.source.clone() }),
            Instruction::Arg(i) => {
                let mut args = Vec::with_capacity(i.args.len());
                for a in &i.args {
                    args.push(ArgDef { key: w.word(&a.key)?, default: w.opt(&a.default)?, comment: a.comment.clone() });
                }
                Instruction::Arg(Arg { args, source: i.source.clone() })
            }
            Instruction::Workdir(i) => Instruction::Workdir(Workdir { path: w.word(&i.path)?, source: i.source.clone() }),
            Instruction::User(i) => Instruction::User(User { user: w.word(&i.user)?, source: i.source.clone() }),
            Instruction::StopSignal(i) => Instruction::StopSignal(StopSignal { signal: w.word(&i.signal)?, source: i.source.clone() }),
            Instruction::Volume(i) => Instruction::Volume(Volume { paths: w.all(&i.paths)?, source: i.source.clone() }),
            Instruction::Expose(i) => {
                let mut ports = Vec::new();
                for p in &i.ports {
                    ports.extend(w.split(p)?);
                }
                Instruction::Expose(Expose { ports, source: i.source.clone() })
            }
            // Every field listed (no `..i.clone()`): the expanded ones are not cloned first.
            Instruction::Copy(i) => Instruction::Copy(Copy {
                sources: w.all(&i.sources)?,
                inline_sources: w.inline(&i.inline_sources)?,
                dest: w.word(&i.dest)?,
                chown: w.opt(&i.chown)?,
                from: i.from.clone(),
                chmod: i.chmod.clone(),
                link: i.link,
                parents: i.parents,
                excludes: i.excludes.clone(),
                source: i.source.clone(),
            }),
            Instruction::Add(i) => Instruction::Add(Add {
                sources: w.all(&i.sources)?,
                inline_sources: w.inline(&i.inline_sources)?,
                dest: w.word(&i.dest)?,
                chown: w.opt(&i.chown)?,
                checksum: w.opt(&i.checksum)?,
                chmod: i.chmod.clone(),
                link: i.link,
                keep_git_dir: i.keep_git_dir,
                unpack: i.unpack,
                excludes: i.excludes.clone(),
                source: i.source.clone(),
            }),
            other => other.clone(),
        };
        Ok(Expanded { value, used_vars: w.used })
    }
}

impl Run {
    /// The `--mount` values expanded with `env` and fully validated.
    pub fn resolve_mounts(&self, lexer: &Lexer, env: &dyn shell::Env) -> Result<Expanded<Vec<Mount>>, ParseError> {
        let mut w = Words { lexer, env, used: BTreeSet::new(), source: &self.source };
        let mut mounts = Vec::with_capacity(self.mounts.len());
        for raw in &self.mounts {
            let m = raw.resolve(&mut |v| w.word(v)).map_err(|e| w.spanned(e))?;
            mounts.push(m);
        }
        Ok(Expanded { value: mounts, used_vars: w.used })
    }
}

impl From {
    /// The base name and `--platform` expanded with the global (meta) ARGs.
    pub fn expand(&self, lexer: &Lexer, meta_args: &dyn shell::Env) -> Result<Expanded<From>, ParseError> {
        let mut w = Words { lexer, env: meta_args, used: BTreeSet::new(), source: &self.source };
        let base = w.word(&self.base)?;
        if base.is_empty() {
            let e = ParseError::new(ErrorKind::InvalidValue, format!("base name ({}) should not be blank", self.base));
            return Err(w.spanned(e));
        }
        let value = From { base, platform: w.opt(&self.platform)?, ..self.clone() };
        Ok(Expanded { value, used_vars: w.used })
    }
}

/// BuildKit's vertex-name text: the instruction's original text with known variables
/// substituted, quotes kept, unknown ones left as written; falls back to the text itself.
pub fn display_text(original: &str, lexer: &Lexer, env: &dyn shell::Env) -> String {
    let mut l = *lexer;
    l.raw_quotes = true;
    l.skip_unset_env = true;
    l.process_word(original, env).unwrap_or_else(|_| original.to_string())
}
