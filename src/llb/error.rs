//! The one error type of the `llb` module.
//!
//! Every variant names the operation and the value that was wrong, so the converter can wrap it
//! with the Dockerfile line it was building when the error happened.

/// What went wrong while building or reading an LLB graph.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlbError {
    /// An image reference could not be normalized (`FROM`/`--from` value).
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidImageReference {
        reference: String,
        reason: &'static str,
    },
    /// A platform string such as `linux/arm64/v8` could not be parsed.
    #[error("invalid platform {0:?}: expected os/arch[/variant]")]
    InvalidPlatform(String),
    /// An exec was declared without a command.
    #[error("exec needs at least one argument (the command to run)")]
    EmptyArgs,
    /// A mount was declared in a way BuildKit would reject.
    #[error("invalid mount at {target:?}: {reason}")]
    InvalidMount {
        target: String,
        reason: &'static str,
    },
    /// `State::file` was called with no action.
    #[error("a file operation needs at least one action")]
    EmptyFileOp,
    /// The image config passed to `State::with_image_config` is not valid JSON.
    #[error("image config is not valid JSON: {0}")]
    ImageConfig(#[source] serde_json::Error),
    /// Bytes handed to `Definition::from_bytes` are not an LLB definition.
    #[error("not an LLB definition: {0}")]
    Decode(#[source] prost::DecodeError),
}
