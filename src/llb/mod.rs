//! Client-side LLB: build BuildKit op graphs as immutable values and marshal them.
//!
//! In: calls from the Dockerfile converter (sources, `run` with mounts, file actions,
//! merge/diff, per-op constraints and source locations). Out: a [`Definition`] — the
//! `pb::Definition` the gateway `Solve` takes, its encoded bytes (`buildctl build` reads them
//! on stdin) and a readable JSON dump. States are cheap to clone (`Arc` inside) and never
//! change; every op is encoded and digested when it is created, so marshalling the same graph
//! always yields byte-identical output. This module never talks to a daemon, reads files, or
//! resolves images: callers pass digests and image configs in.
//!
//! ```
//! use bentokit::llb::{CacheSharing, Constraints, Copy, Image, Local, Mount};
//! let base = Image::new("localhost:5000/base:latest").finish().unwrap();
//! let ctx = Local::new("context").follow_paths(&["app"]).finish();
//! let built = base
//!     .dir("/app")
//!     .file(Copy::new(&ctx, "app", "./").dir_contents_only().create_dest_path(), Constraints::new())
//!     .unwrap()
//!     .run(["/bin/sh", "-c", "make"])
//!     .mount(Mount::cache("/root/.cache", "pip", CacheSharing::Locked))
//!     .constraints(Constraints::new().custom_name("RUN make"))
//!     .finish()
//!     .unwrap()
//!     .root();
//! let def = built.marshal();
//! assert_eq!(def.head().unwrap(), built.output().unwrap().digest());
//! ```

mod combine;
mod dump;
mod error;
mod exec;
mod file;
mod marshal;
mod source;
mod sourcemap;
mod state;

pub use combine::{diff, merge};
pub use error::LlbError;
pub use exec::{CacheSharing, Exec, ExecState, Mount, ProxyEnv, Secret, Ssh};
pub use file::{Chown, Copy, FileAction, FileActions, Mkdir, Mkfile, Rm, Symlink, UserRef};
pub use marshal::{Definition, OpEntry};
pub use source::{normalize_image_reference, Git, Http, Image, Local, ResolveMode};
pub use sourcemap::{line_range, range, SourceMap};
pub use state::{Constraints, Network, Output, Platform, Security, State};
pub(crate) use state::EnvPairs;

#[cfg(test)]
mod tests;
