//! Talking to buildkitd: where it is ([`Address`]), opening a channel to it ([`connect`],
//! starting a local daemon when none answers on the default socket), and the Control API
//! calls that need no session ([`control`]).
//!
//! Nothing here prints: results and errors go back to the caller (the CLI).

mod addr;
mod connect;
pub mod control;
mod embedded;

pub use addr::{Address, AddressError};
pub use connect::{connect, ConnectError, ConnectOptions, Connection, TlsOptions};
pub use embedded::{StartError, Started};
