//! Dockerfile stages → one LLB graph per target platform, plus the image config.
//!
//! In: parsed stages (`dockerfile`), build options, and a resolver for base-image configs
//! (the solve layer's gateway implements it). Out: a `pb::Definition` and an [`Image`]
//! config per platform. It never talks to the daemon itself and never sees secret values.

mod image;
mod platform;
mod reference;

pub use image::{Healthcheck, History, Image, ImageConfig, DEFAULT_PATH_ENV};
pub use platform::{parse_list as parse_platforms, Platform, PlatformError};
pub use reference::{Reference, ReferenceError};
