//! `--progress auto|tty|plain|rawjson|quiet`: the flag's type (a clap `ValueEnum`), the
//! `BUILDKIT_PROGRESS` default, and resolving `auto` against whether stderr is a terminal.

use std::fmt;
use std::str::FromStr;

use super::ProgressError;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressMode {
    /// tty when stderr is a terminal, else plain.
    #[default]
    Auto,
    /// Live view that redraws in place.
    Tty,
    /// buildctl-compatible lines, one event per line.
    Plain,
    /// One JSON object per status message (BuildKit's SolveStatus), for machines.
    Rawjson,
    /// Nothing but errors.
    Quiet,
}

/// What will actually be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedMode {
    Tty,
    Plain,
    RawJson,
    Quiet,
}

impl FromStr for ProgressMode {
    type Err = ProgressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(ProgressMode::Auto),
            "tty" => Ok(ProgressMode::Tty),
            "plain" => Ok(ProgressMode::Plain),
            "rawjson" => Ok(ProgressMode::Rawjson),
            "quiet" => Ok(ProgressMode::Quiet),
            _ => Err(ProgressError::BadMode(s.to_string())),
        }
    }
}

impl fmt::Display for ProgressMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProgressMode::Auto => "auto",
            ProgressMode::Tty => "tty",
            ProgressMode::Plain => "plain",
            ProgressMode::Rawjson => "rawjson",
            ProgressMode::Quiet => "quiet",
        })
    }
}

impl ProgressMode {
    /// Applies `BUILDKIT_PROGRESS` (value of the variable, if set) when the flag says auto,
    /// then resolves auto by the terminal check. Asking for tty without a terminal is an error.
    pub fn resolve(self, buildkit_progress_env: Option<&str>, stderr_is_terminal: bool) -> Result<ResolvedMode, ProgressError> {
        let mode = match (self, buildkit_progress_env) {
            (ProgressMode::Auto, Some(env)) if !env.trim().is_empty() => env.parse()?,
            (mode, _) => mode,
        };
        Ok(match mode {
            ProgressMode::Auto if stderr_is_terminal => ResolvedMode::Tty,
            ProgressMode::Auto => ResolvedMode::Plain,
            ProgressMode::Tty if stderr_is_terminal => ResolvedMode::Tty,
            ProgressMode::Tty => return Err(ProgressError::NotATerminal),
            ProgressMode::Plain => ResolvedMode::Plain,
            ProgressMode::Rawjson => ResolvedMode::RawJson,
            ProgressMode::Quiet => ResolvedMode::Quiet,
        })
    }

    /// `resolve` with this process's environment and stderr.
    pub fn resolve_for_stderr(self) -> Result<ResolvedMode, ProgressError> {
        use std::io::IsTerminal;
        let env = std::env::var("BUILDKIT_PROGRESS").ok();
        self.resolve(env.as_deref(), std::io::stderr().is_terminal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_terminal_and_env() {
        assert_eq!(ProgressMode::Auto.resolve(None, true).unwrap(), ResolvedMode::Tty);
        assert_eq!(ProgressMode::Auto.resolve(None, false).unwrap(), ResolvedMode::Plain);
        assert_eq!(ProgressMode::Auto.resolve(Some("rawjson"), true).unwrap(), ResolvedMode::RawJson);
        assert_eq!(ProgressMode::Plain.resolve(Some("quiet"), true).unwrap(), ResolvedMode::Plain);
        assert!(matches!(ProgressMode::Tty.resolve(None, false), Err(ProgressError::NotATerminal)));
        assert!(matches!(ProgressMode::Auto.resolve(Some("fancy"), false), Err(ProgressError::BadMode(_))));
        assert_eq!("QUIET".parse::<ProgressMode>().unwrap(), ProgressMode::Quiet);
    }

    #[test]
    fn is_a_clap_value_enum() {
        use clap::ValueEnum;
        let names: Vec<_> = ProgressMode::value_variants().iter().map(|v| v.to_possible_value().unwrap().get_name().to_string()).collect();
        assert_eq!(names, ["auto", "tty", "plain", "rawjson", "quiet"]);
    }
}
