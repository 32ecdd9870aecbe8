//! Talking to buildkitd: where it is ([`Address`]), opening a channel to it ([`connect`],
//! starting a local daemon when none answers on the default socket), the Control API
//! calls that need no session ([`control`]), and builds through the gateway ([`Build`]):
//! session, per-platform solve, exporters (`--output`), cache options, metadata file.
//!
//! Nothing here prints: results and errors go back to the caller (the CLI); status
//! updates go to a channel ([`Build::take_status`]).

mod addr;
mod build;
mod cache;
mod connect;
pub mod control;
mod embedded;
mod exports;
mod gateway;
mod metadata;
pub mod plain_progress;

pub use addr::{Address, AddressError};
pub use build::{parse_platform, Build, BuildError, BuildOptions, BuildOutcome, PlatformResult};
pub use cache::{CacheSpec, CacheSpecError};
pub use connect::{connect, ConnectError, ConnectOptions, Connection, TlsOptions};
pub use embedded::{StartError, Started};
pub use exports::{apply_tags_and_push, Destination, ExportSpec, ExportSpecError, TarballKind};
pub use gateway::{Caps, Gateway, ResolvedImage};
pub use metadata::{metadata_json, write_metadata_file};
