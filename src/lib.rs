//! bentokit: containerize BentoML Bentos by talking to BuildKit directly.
//!
//! The modules follow the data flow: `bento` → `template` → `dockerfile` → `convert`/`llb`
//! → `solve`/`session` → `progress`, with `cli` at the edge.

pub mod bento;
pub mod cli;
pub mod convert;
pub mod dockerfile;
pub mod llb;
pub mod progress;
mod paths;
pub mod session;
pub mod solve;
pub mod template;
