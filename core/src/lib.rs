#![no_std]
#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

#[cfg(test)]
extern crate std;

pub mod address;
pub mod auth;
pub mod capabilities;
pub mod client;
pub mod command;
pub mod config;
pub mod data;
#[cfg(feature = "dsn")]
pub mod dsn;
pub mod error;
pub mod reply;
pub mod session;
pub mod timeouts;
pub mod transport;

pub use auth::exchange::Login;
pub use capabilities::{Capabilities, Capability, Mechanism};
pub use client::SmtpClient;
pub use config::{Config, TlsPolicy};
pub use error::{Rejection, SmtpError, Stage};
pub use reply::{EnhancedStatus, Reply, ReplyCode};
pub use session::{Body, Exchange, Outcome, SendOptions, SendOutcome, Session, Want};
pub use timeouts::Timeouts;
pub use transport::Transport;

/// The I/O traits a transport implements, re-exported so that adapters and users need no
/// direct dependency on `embedded-io-async`.
pub use embedded_io_async as io;

/// The book's chapters whose Rust examples use only this crate (and the mock), compiled
/// as doctests so that they cannot go stale (with the default features, which the
/// examples assume).
#[cfg(all(
    doctest,
    feature = "chunking",
    feature = "auth-oauth",
    feature = "timeouts"
))]
mod book {
    #[doc = include_str!("../../docs/src/architecture.md")]
    struct Architecture;
    #[doc = include_str!("../../docs/src/errors.md")]
    struct Errors;
    #[doc = include_str!("../../docs/src/introduction.md")]
    struct Introduction;
    #[doc = include_str!("../../docs/src/usage.md")]
    struct Usage;
}
