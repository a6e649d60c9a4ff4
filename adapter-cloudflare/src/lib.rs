#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
mod transport;

use core::future::Future;

pub use error::Error;
pub use transport::{Security, WorkersTransport, DEFAULT_TIMEOUT};

/// The SMTP engine this adapter drives, for everything not re-exported here.
pub use wasm_smtp_core;

/// The I/O traits and [`io::ErrorKind`] (embedded-io-async 0.7), as the engine uses them.
pub use wasm_smtp_core::io;

pub use wasm_smtp_core::error::{
    AuthError, Extension, InputField, InvalidReason, MalformedReply, ProtocolViolation, TlsError,
};
pub use wasm_smtp_core::{
    Capabilities, Capability, Config, EnhancedStatus, Mechanism, Rejection, Reply, ReplyCode,
    SendOutcome, SmtpClient, SmtpError, Stage, Timeouts, TlsPolicy, Transport,
};

use wasm_smtp_core::error::InputField as Field;

/// Check the EHLO domain before a socket is opened for nothing.
fn check_ehlo_domain(ehlo_domain: &str) -> Result<(), Error> {
    wasm_smtp_core::address::check_domain(ehlo_domain, Field::EhloDomain, false)?;
    Ok(())
}

async fn open(
    host: &str,
    port: u16,
    ehlo_domain: &str,
    security: Security,
    config: Config,
) -> Result<SmtpClient<WorkersTransport>, Error> {
    transport::check_port(port)?;
    check_ehlo_domain(ehlo_domain)?;
    let transport =
        WorkersTransport::connect_with_timeout(host, port, security, Some(DEFAULT_TIMEOUT)).await?;
    Ok(SmtpClient::connect_with(transport, ehlo_domain, config).await?)
}

/// Connect with implicit TLS (SMTPS, usually port 465), read the greeting and say EHLO,
/// with the default [`Config`].
///
/// The connection is encrypted from the first byte, and the runtime checks the server's
/// certificate against `host`. Opening the connection and the TLS handshake are
/// limited to [`DEFAULT_TIMEOUT`], the SMTP dialogue by the default [`Timeouts`].
///
/// # Errors
/// [`Error::PortBlocked`] for port 25, [`Error::Connect`] when the runtime cannot open the
/// connection (including a failed TLS handshake: the runtime reports it the same way),
/// [`Error::Smtp`] when the greeting or EHLO fails.
pub fn connect_smtps<'a>(
    host: &'a str,
    port: u16,
    ehlo_domain: &'a str,
) -> impl Future<Output = Result<SmtpClient<WorkersTransport>, Error>> + 'a {
    connect_smtps_with(host, port, ehlo_domain, Config::new())
}

/// [`connect_smtps`] with an explicit [`Config`]. Its TLS policy is replaced by
/// [`TlsPolicy::Implicit`]: the engine refuses to read or write anything unless the
/// connection is encrypted from the start.
///
/// # Errors
/// As [`connect_smtps`].
pub fn connect_smtps_with<'a>(
    host: &'a str,
    port: u16,
    ehlo_domain: &'a str,
    config: Config,
) -> impl Future<Output = Result<SmtpClient<WorkersTransport>, Error>> + 'a {
    let config = config.tls(TlsPolicy::Implicit);
    open(host, port, ehlo_domain, Security::ImplicitTls, config)
}

/// Connect in plaintext (submission, usually port 587), read the greeting, say EHLO,
/// upgrade with STARTTLS and say EHLO again, with the default [`Config`].
///
/// STARTTLS is required: when the server does not offer it, refuses it or the handshake
/// fails, this returns an error. It never continues in plaintext. The runtime checks the
/// server's certificate against `host`. Opening the connection and the TLS handshake are
/// limited to [`DEFAULT_TIMEOUT`], the SMTP dialogue by the default [`Timeouts`].
///
/// # Errors
/// [`Error::PortBlocked`] for port 25, [`Error::Connect`] when the runtime cannot open the
/// connection, [`Error::Smtp`] when the SMTP dialogue fails: [`SmtpError::Tls`] with
/// [`TlsError::NotOffered`] or [`TlsError::Refused`] when STARTTLS is not available, and
/// with [`TlsError::Handshake`] when the TLS handshake fails (an untrusted certificate,
/// for example; the runtime gives no detail, it is in the runtime's log).
pub fn connect_smtp_starttls<'a>(
    host: &'a str,
    port: u16,
    ehlo_domain: &'a str,
) -> impl Future<Output = Result<SmtpClient<WorkersTransport>, Error>> + 'a {
    connect_smtp_starttls_with(host, port, ehlo_domain, Config::new())
}

/// [`connect_smtp_starttls`] with an explicit [`Config`].
///
/// The TLS policy of `config` is replaced by [`TlsPolicy::Required`]: this function
/// always upgrades or fails. For [`TlsPolicy::Opportunistic`], open the transport yourself
/// with [`WorkersTransport::connect`] and [`Security::StartTls`] and call
/// [`SmtpClient::connect_with`].
///
/// # Errors
/// As [`connect_smtp_starttls`].
pub fn connect_smtp_starttls_with<'a>(
    host: &'a str,
    port: u16,
    ehlo_domain: &'a str,
    config: Config,
) -> impl Future<Output = Result<SmtpClient<WorkersTransport>, Error>> + 'a {
    let config = config.tls(TlsPolicy::Required);
    open(host, port, ehlo_domain, Security::StartTls, config)
}

/// **Insecure.** Connect in plaintext and never use TLS ([`TlsPolicy::Disabled`]): for a
/// relay on a private network or a local test server only.
///
/// Everything crosses the network in clear text. The TLS policy of `config` is replaced
/// by [`TlsPolicy::Disabled`]; AUTH still refuses to run unless `config` has
/// [`Config::allow_plaintext_auth`] set. Opening the connection is limited to
/// [`DEFAULT_TIMEOUT`], the SMTP dialogue by the [`Timeouts`] of `config`.
///
/// # Errors
/// [`Error::PortBlocked`] for port 25, [`Error::Connect`] when the runtime cannot open the
/// connection, [`Error::Smtp`] when the greeting or EHLO/HELO fails.
pub fn connect_smtp_plain_insecure<'a>(
    host: &'a str,
    port: u16,
    ehlo_domain: &'a str,
    config: Config,
) -> impl Future<Output = Result<SmtpClient<WorkersTransport>, Error>> + 'a {
    let config = config.tls(TlsPolicy::Disabled);
    open(host, port, ehlo_domain, Security::Plaintext, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn port_25_is_refused_before_connecting() {
        assert_eq!(transport::check_port(25), Err(Error::PortBlocked));
        assert_eq!(transport::check_port(587), Ok(()));
        assert_eq!(transport::check_port(465), Ok(()));
        let msg = Error::PortBlocked.to_string();
        assert!(msg.contains("port 25"), "{msg}");
        assert!(msg.contains("587") && msg.contains("465"), "{msg}");
    }

    #[test]
    fn port_25_is_refused_by_every_entry_point_without_touching_the_runtime() {
        // These return before any runtime call, so they run on the host too.
        let config = Config::new();
        let results = [
            wasm_smtp_mock::block_on(connect_smtps("mx.example.com", 25, "a.example")),
            wasm_smtp_mock::block_on(connect_smtp_starttls("mx.example.com", 25, "a.example")),
            wasm_smtp_mock::block_on(connect_smtp_plain_insecure(
                "mx.example.com",
                25,
                "a.example",
                config,
            )),
        ];
        for r in results {
            assert_eq!(r.err(), Some(Error::PortBlocked));
        }
        let t = wasm_smtp_mock::block_on(WorkersTransport::connect(
            "mx.example.com",
            25,
            Security::StartTls,
        ));
        assert_eq!(t.err(), Some(Error::PortBlocked));
    }

    #[test]
    fn invalid_ehlo_domain_is_refused_before_connecting() {
        let r = wasm_smtp_mock::block_on(connect_smtps("mx.example.com", 465, "bad\r\nhost"));
        let err = r.err();
        assert!(
            matches!(
                err,
                Some(Error::Smtp(SmtpError::InvalidInput {
                    field: InputField::EhloDomain,
                    ..
                }))
            ),
            "{err:?}"
        );
    }

    #[test]
    fn transience_follows_the_cause() {
        assert!(!Error::PortBlocked.is_transient());
        assert!(Error::PortBlocked.is_permanent());
        let connect = Error::Connect("connection refused".to_string());
        assert!(connect.is_transient() && !connect.is_permanent());
        assert_eq!(
            connect.to_string(),
            "could not connect to the SMTP server: connection refused"
        );
        let closed = Error::from(SmtpError::ConnectionClosed);
        assert!(closed.is_transient());
        assert_eq!(closed.smtp(), Some(&SmtpError::ConnectionClosed));
        let tls = Error::from(SmtpError::Tls(TlsError::NotOffered));
        assert!(!tls.is_transient() && !tls.is_permanent());
        assert_eq!(
            tls.to_string(),
            SmtpError::Tls(TlsError::NotOffered).to_string()
        );
    }

    #[test]
    fn io_error_kinds_map_one_to_one() {
        use std::io::ErrorKind as K;
        use wasm_smtp_core::io::ErrorKind;
        assert_eq!(transport::map_kind(K::Other), ErrorKind::Other);
        assert_eq!(
            transport::map_kind(K::ConnectionReset),
            ErrorKind::ConnectionReset
        );
        assert_eq!(transport::map_kind(K::TimedOut), ErrorKind::TimedOut);
        assert_eq!(transport::map_kind(K::UnexpectedEof), ErrorKind::Other);
    }
}
