//! [`Error`]: what can go wrong between opening the socket and the end of the SMTP
//! session.

use std::fmt;
use std::string::String;
use wasm_smtp_core::SmtpError;

/// The message of [`Error::PortBlocked`].
pub(crate) const PORT_BLOCKED: &str = "Cloudflare Workers block outbound connections to port 25; \
     use port 587 (STARTTLS) or 465 (implicit TLS) of your mail provider";

/// An error from this adapter: the connection could not be opened, or the SMTP session
/// failed.
///
/// Like [`SmtpError`], it never contains a password or token: the messages come from the
/// Workers runtime (about the network) or from the SMTP engine (which never keeps
/// secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Refused before connecting: the port is 25, which Cloudflare blocks for all outbound
    /// TCP from Workers. Use the submission ports 587 (STARTTLS) or 465 (implicit TLS).
    PortBlocked,
    /// The runtime could not open the connection (refused, unreachable, DNS failure,
    /// invalid host name). Carries the runtime's message.
    Connect(String),
    /// The connection was opened but the SMTP session failed.
    Smtp(SmtpError),
}

impl Error {
    /// Retrying later may succeed: a failed connection, or an [`SmtpError`] that
    /// [`SmtpError::is_transient`] calls transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::PortBlocked => false,
            Error::Connect(_) => true,
            Error::Smtp(e) => e.is_transient(),
        }
    }

    /// Retrying will fail the same way: port 25, or an [`SmtpError`] that
    /// [`SmtpError::is_permanent`] calls permanent.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::PortBlocked => true,
            Error::Connect(_) => false,
            Error::Smtp(e) => e.is_permanent(),
        }
    }

    /// The SMTP error, when the session failed after the connection was opened.
    pub fn smtp(&self) -> Option<&SmtpError> {
        match self {
            Error::Smtp(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PortBlocked => f.write_str(PORT_BLOCKED),
            Error::Connect(msg) => write!(f, "could not connect to the SMTP server: {msg}"),
            Error::Smtp(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Smtp(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SmtpError> for Error {
    fn from(e: SmtpError) -> Self {
        Error::Smtp(e)
    }
}
