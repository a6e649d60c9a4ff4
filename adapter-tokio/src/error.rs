//! [`Error`]: what can go wrong between resolving the host and the end of the SMTP
//! session.

use std::path::PathBuf;
use std::time::Duration;
use wasm_smtp_core::error::TlsError;
use wasm_smtp_core::SmtpError;

/// An error from this adapter: the connection or the TLS session could not be set up, or
/// the SMTP session failed.
///
/// No variant ever carries a password or token: the texts come from the operating
/// system, from rustls (about certificates and protocol) or from the SMTP engine, which
/// never keeps secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host is neither a valid DNS name nor an IP address, so no certificate could be
    /// checked against it.
    #[error("invalid server name {0:?} for TLS")]
    InvalidHost(String),
    /// Resolving the host or opening the TCP connection failed.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// `host:port` as given.
        addr: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Resolving the host and opening the TCP connection took longer than the limit.
    #[error("could not connect to {addr} within {limit:?}")]
    ConnectTimeout {
        /// `host:port` as given.
        addr: String,
        /// The limit that was exceeded ([`Options::connect_timeout`](crate::Options::connect_timeout)).
        limit: Duration,
    },
    /// The TLS handshake failed (implicit TLS, or after `STARTTLS`): an untrusted or
    /// expired certificate, a name mismatch, no common protocol version. Carries rustls's
    /// explanation.
    #[error("TLS handshake with the SMTP server failed: {0}")]
    TlsHandshake(String),
    /// The TLS handshake took longer than the limit.
    #[error("TLS handshake with the SMTP server did not finish within {0:?}")]
    TlsTimeout(Duration),
    /// A CA file could not be read or holds no usable certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// CA certificates given in memory are malformed or hold no usable certificate.
    #[error("CA certificates: {0}")]
    InvalidCa(String),
    /// The operating system's random generator failed (while making a SCRAM nonce).
    #[error("the system random generator failed")]
    Random,
    /// The connection was set up but the SMTP session failed.
    #[error(transparent)]
    Smtp(#[from] SmtpError),
}

impl Error {
    /// Retrying later may succeed: a failed or slow connection, or an [`SmtpError`] that
    /// [`SmtpError::is_transient`] calls transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::ConnectTimeout { .. } | Error::TlsTimeout(_) => true,
            Error::Smtp(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Retrying will fail the same way: an invalid host name or CA file, or an
    /// [`SmtpError`] that [`SmtpError::is_permanent`] calls permanent.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::InvalidHost(_) | Error::CaFile { .. } | Error::InvalidCa(_) => true,
            Error::Smtp(e) => e.is_permanent(),
            _ => false,
        }
    }

    /// Whether TLS failed: a handshake error or timeout, or an SMTP-level TLS failure
    /// (STARTTLS not offered or refused while required).
    pub fn is_tls(&self) -> bool {
        matches!(
            self,
            Error::TlsHandshake(_) | Error::TlsTimeout(_) | Error::Smtp(SmtpError::Tls(_))
        )
    }

    /// The SMTP error, when the session failed after the connection was opened.
    pub fn smtp(&self) -> Option<&SmtpError> {
        match self {
            Error::Smtp(e) => Some(e),
            _ => None,
        }
    }

    /// Replace the engine's "handshake failed" (which only knows an I/O error kind) with
    /// the transport's own account of the failure, when it has one.
    pub(crate) fn with_tls_detail(e: SmtpError, detail: Option<TlsFailure>) -> Self {
        match (e, detail) {
            (SmtpError::Tls(TlsError::Handshake(_)), Some(TlsFailure::Handshake(text))) => {
                Error::TlsHandshake(text)
            }
            (SmtpError::Tls(TlsError::Handshake(_)), Some(TlsFailure::Timeout(limit))) => {
                Error::TlsTimeout(limit)
            }
            (e, _) => Error::Smtp(e),
        }
    }
}

/// Why the transport's last TLS handshake failed (kept for [`Error::with_tls_detail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsFailure {
    Handshake(String),
    Timeout(Duration),
}
