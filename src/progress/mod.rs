//! Progress and errors people can read. In: a stream of BuildKit `StatusResponse` messages
//! (from `Control.Status`) plus options (mode, the converter's source map, secret values,
//! a template-line lookup for Bentos). Out: the rendering on stderr — tty (live view),
//! plain (buildctl's lines, byte for byte), rawjson (buildctl's JSON) or quiet — an error
//! report with Dockerfile excerpts, and a `BuildSummary` the CLI turns into an exit code.
//! `print_result` writes the image digest/name on stdout.
//!
//! This is the only module that writes to stderr during a build, and only from its printer
//! thread; the stream is never blocked by the terminal. It never prints a secret value it
//! was given, and never decides the exit code.
//!
//! Inside: `model` (the vertex table, pure updates), one file per renderer (`plain`,
//! `tty`, `rawjson`), `sourcemap` (excerpts), `secrets`, and `printer` (the thread).

mod gojson;
mod mode;
mod model;
mod plain;
mod printer;
mod rawjson;
mod secrets;
mod sourcemap;
mod tty;
mod units;

pub use mode::{ProgressMode, ResolvedMode};
pub use printer::{
    format_result, print_result, render_stream, replay, wall_nanos, BuildSummary, BuildWarning, Progress, ProgressOptions, Renderer, SharedBuf,
    VertexFailure,
};
pub use rawjson::{decode_stream, encode_status};
pub use secrets::SecretMasker;
pub use sourcemap::{LineRange, SourceFile, SourceLocation, SourceMap, SourceSnippet, TemplateLookup, TemplateOrigin};

/// Errors of the progress module.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("unknown progress mode {0:?}: use auto, tty, plain, rawjson or quiet")]
    BadMode(String),
    #[error("--progress tty needs a terminal on stderr: use --progress plain (or auto)")]
    NotATerminal,
    #[error("rawjson message {message}: {reason}")]
    RawJson { message: usize, reason: String },
}
