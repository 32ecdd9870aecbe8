//! Conversion errors: a message and, when an instruction caused it, the Dockerfile lines,
//! printed like BuildKit's (`Dockerfile:12`, context lines with `>>>`, the reason).

use std::fmt;
use std::sync::Arc;

use crate::dockerfile::{self, Location, ParseError};

#[derive(Clone)]
pub struct ConvertError {
    inner: Box<Inner>,
}

#[derive(Clone)]
enum Inner {
    /// Expansion and parse errors carry their own spans and source.
    Parse(ParseError),
    Plain { message: String, at: Option<(Arc<str>, Arc<str>, Location)> },
}

impl ConvertError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ConvertError { inner: Box::new(Inner::Plain { message: message.into(), at: None }) }
    }

    /// Places the error on `location` of `df` unless it already has a place.
    pub(crate) fn at(mut self, df: &dockerfile::Dockerfile, location: Location) -> Self {
        if let Inner::Plain { at, .. } = self.inner.as_mut() {
            if at.is_none() {
                *at = Some((df.file_name.clone(), df.source.clone(), location));
            }
        }
        self
    }

    /// The reason alone.
    pub fn message(&self) -> &str {
        match self.inner.as_ref() {
            Inner::Parse(e) => e.message(),
            Inner::Plain { message, .. } => message,
        }
    }

    /// The first Dockerfile line the error points at.
    pub fn line(&self) -> Option<usize> {
        match self.inner.as_ref() {
            Inner::Parse(e) => e.span().map(|s| s.line),
            Inner::Plain { at, .. } => at.as_ref().map(|(_, _, l)| l.start_line),
        }
    }

    /// The BuildKit-style snippet followed by the reason.
    pub fn render(&self) -> String {
        match self.inner.as_ref() {
            Inner::Parse(e) => e.render(),
            Inner::Plain { message, at: Some((file, source, loc)) } => {
                let mut out = dockerfile::snippet(file, source, loc.start_line, loc.end_line.max(loc.start_line));
                out.push_str(&format!("error: {file}:{}: {message}\n", loc.start_line));
                out
            }
            Inner::Plain { message, at: None } => format!("error: {message}\n"),
        }
    }
}

impl From<ParseError> for ConvertError {
    fn from(e: ParseError) -> Self {
        ConvertError { inner: Box::new(Inner::Parse(e)) }
    }
}

impl From<crate::llb::LlbError> for ConvertError {
    fn from(e: crate::llb::LlbError) -> Self {
        ConvertError::new(e.to_string())
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.as_ref() {
            Inner::Parse(e) => write!(f, "{e}"),
            Inner::Plain { message, at: Some((file, _, loc)) } => write!(f, "{file}:{}: {message}", loc.start_line),
            Inner::Plain { message, at: None } => f.write_str(message),
        }
    }
}

impl fmt::Debug for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConvertError({self})")
    }
}

impl std::error::Error for ConvertError {}
