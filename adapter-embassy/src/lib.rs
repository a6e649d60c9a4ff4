//! An [embassy-net] + [embedded-tls] transport for [`wasm_smtp_core::SmtpClient`]: SMTP
//! from a `no_std` device, without an allocator, over plain TCP, required STARTTLS or
//! implicit TLS.
//!
//! # Layers
//! - **TCP**: any [`Socket`], that is an `embedded-io-async` byte stream that can be shut
//!   down; [`embassy_net::tcp::TcpSocket`] is one. The caller creates and connects it (and
//!   chooses its buffers and timeout), then hands it over.
//! - **TLS**: [`embedded_tls::TlsConnection`] (TLS 1.3, `TLS_AES_128_GCM_SHA256`, P-256 key
//!   exchange) over that socket, with the two TLS record buffers and the random number
//!   generator given in a [`TlsSetup`].
//! - **SMTP**: the unchanged core. [`EmbassyTransport`] implements
//!   [`wasm_smtp_core::Transport`]: on `STARTTLS` the core calls `upgrade_to_tls`, which
//!   moves the plain socket into a new `TlsConnection` in place and runs the handshake.
//!
//! # Certificates
//! [`TlsSetup::new`] verifies the server: its chain must lead to the CA certificate the
//! caller gives (DER), its name (subject alternative DNS name, or the common name when
//! there is none) must match the server name, and the server must prove that it holds the
//! certificate's key (the TLS `CertificateVerify` message). embedded-tls itself accepts a
//! handshake in which the server skips its `Certificate` or `CertificateVerify`; this
//! crate refuses such a handshake with [`Error::CertificateNotVerified`]. Limits of
//! embedded-tls's verifier (version 0.19): ECDSA P-256/SHA-256 signatures only, one CA,
//! no check of `basicConstraints` or key usage, a server chain of at most
//! [`CERT_CHAIN_MAX`] bytes and three DNS names, and validity dates only when a clock is
//! given ([`TlsSetup::with_clock`]).
//!
//! [`TlsSetup::without_certificate_verification`] skips all of this: anyone on the path
//! can read and change the session, credentials included. It exists for tests and for
//! devices that authenticate the server by other means, and says so in its name.
//!
//! # Memory
//! Nothing is allocated. The caller owns every buffer: the socket's, the two TLS record
//! buffers (a TLS 1.3 record is up to [`TLS_RECORD_BUFFER`] bytes on the wire, so the read
//! buffer must hold that much unless the server is known to send smaller records; the
//! write buffer only needs to hold the largest write the client makes plus
//! [`TLS_RECORD_OVERHEAD`], and at least the `ClientHello`), and the client's own
//! receive and transmit buffers (see [`wasm_smtp_core::SmtpClient`]).
//!
//! # Errors
//! The core keeps only an [`ErrorKind`] of a transport error. The full [`Error`] (which TLS
//! alert, which certificate check) is kept in the transport: pass `&mut transport` to
//! `SmtpClient::connect` and read [`EmbassyTransport::last_error`] after a failure.
//!
//! [embassy-net]: embassy_net
//! [embedded-tls]: embedded_tls

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::marker::PhantomData;

use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CertificateRef, CertificateVerifyRef, CryptoProvider, Sha256,
    TlsConfig, TlsConnection, TlsContext, TlsVerifier,
};
use wasm_smtp_core::io::{Error as _, ErrorKind, ErrorType, Read, Write};
use wasm_smtp_core::Transport;

pub use embedded_tls::{
    CryptoRng, CryptoRngCore, NoClock, TlsClock, TlsError, TLS_RECORD_OVERHEAD,
};

/// The largest TLS record on the wire: 2^14 bytes of data plus 256 of expansion (RFC 8446
/// section 5.2). A TLS read buffer of this size accepts any record a server may send.
pub const TLS_RECORD_BUFFER: usize = 16_640;

/// The most bytes of the server's certificate chain (as sent in the TLS `Certificate`
/// message) that certificate verification can keep. A longer chain fails the handshake
/// with [`TlsError::OutOfMemory`]. The copy lives in the handshake's future, not in the
/// transport.
pub const CERT_CHAIN_MAX: usize = 4096;

/// A connected byte stream the transport runs over.
pub trait Socket: Read + Write {
    /// Start an orderly close of the connection (TCP FIN). Called by
    /// [`Transport::close`] after the TLS `close_notify` and a flush.
    fn shutdown(&mut self);
}

impl Socket for embassy_net::tcp::TcpSocket<'_> {
    fn shutdown(&mut self) {
        self.close();
    }
}

/// Lend the socket instead of giving it away: the caller keeps it after a failure (to
/// abort it) and after [`Transport::close`] (to reuse it).
impl<T: Socket + ?Sized> Socket for &mut T {
    fn shutdown(&mut self) {
        T::shutdown(self);
    }
}

/// What the transport needs for TLS: the server name, the CA to verify it against (or
/// the explicit choice not to), a random number generator and the two TLS record
/// buffers.
///
/// `R` is the random number generator (a hardware TRNG or a CSPRNG seeded from one; `&mut`
/// to one works too). `C` is the clock used to check certificate validity dates: the
/// default [`NoClock`] checks none (see [`with_clock`](Self::with_clock)).
pub struct TlsSetup<'a, R, C = NoClock> {
    server_name: &'a str,
    ca: Option<&'a [u8]>,
    rng: R,
    read_record: &'a mut [u8],
    write_record: &'a mut [u8],
    clock: PhantomData<C>,
}

impl<R, C> core::fmt::Debug for TlsSetup<'_, R, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("server_name", &self.server_name)
            .field("verify_certificate", &self.ca.is_some())
            .field("read_record", &self.read_record.len())
            .field("write_record", &self.write_record.len())
            .finish_non_exhaustive()
    }
}

impl<'a, R: CryptoRngCore> TlsSetup<'a, R, NoClock> {
    /// TLS that verifies the server's certificate chain against `ca_der` (one CA
    /// certificate, DER) and its name against `server_name`.
    ///
    /// `server_name` is also sent as SNI. Connecting by IP address still needs the name
    /// that the certificate carries: embedded-tls matches DNS names only.
    pub fn new(
        server_name: &'a str,
        ca_der: &'a [u8],
        rng: R,
        read_record: &'a mut [u8],
        write_record: &'a mut [u8],
    ) -> Self {
        TlsSetup {
            server_name,
            ca: Some(ca_der),
            rng,
            read_record,
            write_record,
            clock: PhantomData,
        }
    }

    /// TLS **without any check of the server's identity**: the session is encrypted, but
    /// to whoever answers, so anyone on the path can read it (credentials included) and
    /// change it. Only for tests, or where the server is authenticated by other means.
    pub fn without_certificate_verification(
        server_name: &'a str,
        rng: R,
        read_record: &'a mut [u8],
        write_record: &'a mut [u8],
    ) -> Self {
        TlsSetup {
            server_name,
            ca: None,
            rng,
            read_record,
            write_record,
            clock: PhantomData,
        }
    }
}

impl<'a, R, C> TlsSetup<'a, R, C> {
    /// Check the validity dates of every certificate in the chain against the clock
    /// `C2` (seconds since the Unix epoch; a clock that answers `None` checks nothing).
    pub fn with_clock<C2: TlsClock>(self) -> TlsSetup<'a, R, C2> {
        TlsSetup {
            server_name: self.server_name,
            ca: self.ca,
            rng: self.rng,
            read_record: self.read_record,
            write_record: self.write_record,
            clock: PhantomData,
        }
    }

    /// Whether the server's certificate will be verified.
    pub fn verifies_certificate(&self) -> bool {
        self.ca.is_some()
    }
}

/// The random number generator type of a transport that never does TLS
/// ([`EmbassyTransport::plaintext`]). It has no values.
#[derive(Debug)]
pub enum NoTls {}

impl rand_core::RngCore for NoTls {
    fn next_u32(&mut self) -> u32 {
        match *self {}
    }
    fn next_u64(&mut self) -> u64 {
        match *self {}
    }
    fn fill_bytes(&mut self, _: &mut [u8]) {
        match *self {}
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), rand_core::Error> {
        match *self {}
    }
}

impl CryptoRng for NoTls {}

/// A transport error.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The socket failed (plaintext part of the session).
    Socket(ErrorKind),
    /// embedded-tls failed: the handshake (a certificate that does not verify, a name
    /// that does not match, an alert from the server) or a later record.
    Tls(TlsError),
    /// The TLS handshake ended without the server proving its identity (no
    /// `Certificate` or no `CertificateVerify` message) although verification was asked
    /// for.
    CertificateNotVerified,
    /// TLS was asked for on a transport created without a [`TlsSetup`], or a second
    /// time (each setup serves one handshake).
    TlsUnavailable,
    /// The connection can no longer be used: the TLS handshake failed, or it was closed.
    Unusable,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Socket(kind) => write!(f, "socket error: {kind:?}"),
            Error::Tls(e) => write!(f, "TLS error: {e:?}"),
            Error::CertificateNotVerified => {
                f.write_str("the TLS server did not prove its identity")
            }
            Error::TlsUnavailable => f.write_str("no TLS setup for this connection"),
            Error::Unusable => f.write_str("the connection is no longer usable"),
        }
    }
}

impl core::error::Error for Error {}

impl wasm_smtp_core::io::Error for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Socket(kind) | Error::Tls(TlsError::Io(kind)) => *kind,
            Error::Tls(TlsError::ConnectionClosed) => ErrorKind::ConnectionAborted,
            Error::Tls(_) | Error::CertificateNotVerified => ErrorKind::InvalidData,
            Error::TlsUnavailable => ErrorKind::Unsupported,
            Error::Unusable => ErrorKind::NotConnected,
        }
    }
}

/// embedded-tls's certificate verifier, with the checks it leaves out: a
/// `CertificateVerify` must follow a verified `Certificate`, and both must have happened
/// by the end of the handshake ([`Guarded::finish`]).
struct Guarded<'a, C: TlsClock> {
    inner: CertVerifier<'a, Aes128GcmSha256, C, CERT_CHAIN_MAX>,
    certificate: bool,
    signature: bool,
}

impl<'a, C: TlsClock> Guarded<'a, C> {
    fn new(ca_der: &'a [u8]) -> Self {
        Guarded {
            inner: CertVerifier::new(Certificate::X509(ca_der)),
            certificate: false,
            signature: false,
        }
    }

    /// Whether the server proved its identity during the handshake.
    fn finish(&self) -> Result<(), Error> {
        if self.certificate && self.signature {
            Ok(())
        } else {
            Err(Error::CertificateNotVerified)
        }
    }
}

impl<C: TlsClock> TlsVerifier<Aes128GcmSha256> for Guarded<'_, C> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        self.inner.set_hostname_verification(hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &Sha256,
        cert: CertificateRef,
    ) -> Result<(), TlsError> {
        self.certificate = false;
        self.signature = false;
        self.inner.verify_certificate(transcript, cert)?;
        self.certificate = true;
        Ok(())
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef) -> Result<(), TlsError> {
        // embedded-tls's verifier unwraps the state of a verified certificate here: refuse
        // a CertificateVerify without one (or a second one) before it can panic.
        if !self.certificate || self.signature {
            return Err(TlsError::InvalidHandshake);
        }
        self.inner.verify_signature(verify)?;
        self.signature = true;
        Ok(())
    }
}

/// The [`CryptoProvider`] for one handshake.
struct Provider<'a, R, C: TlsClock> {
    rng: R,
    verifier: Option<Guarded<'a, C>>,
}

impl<R: CryptoRngCore, C: TlsClock> CryptoProvider for Provider<'_, R, C> {
    type CipherSuite = Aes128GcmSha256;
    // Only used to sign with a client certificate, which this transport never sends.
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        // `Unimplemented` makes embedded-tls skip verification: only reached through
        // `TlsSetup::without_certificate_verification`.
        self.verifier.as_mut().ok_or(TlsError::Unimplemented)
    }
}

/// Where the connection is.
// The TLS variant is the large one and the one a session spends its time in; boxing it
// would need an allocator.
#[allow(clippy::large_enum_variant)]
enum State<'a, S: Socket> {
    /// TCP without TLS (before STARTTLS, or for good).
    Plain(S),
    /// TLS over the socket; `open` is false after a failed handshake.
    Tls {
        conn: TlsConnection<'a, S, Aes128GcmSha256>,
        open: bool,
    },
    /// After [`Transport::close`]: the socket is shut down (and can be taken back).
    Closed(S),
    /// The socket is gone: closed after a failed handshake (or while a state change is
    /// in progress).
    Gone,
}

/// The SMTP transport: a [`Socket`] (an embassy-net `TcpSocket`), upgraded in place to
/// an embedded-tls `TlsConnection` on STARTTLS, or TLS from the start.
///
/// ```no_run
/// use embassy_net::tcp::TcpSocket;
/// use embassy_net::{Ipv4Address, Stack};
/// use wasm_smtp_core::SmtpClient;
/// use wasm_smtp_embassy::{CryptoRngCore, EmbassyTransport, TlsSetup, TLS_RECORD_BUFFER};
///
/// async fn send(stack: Stack<'_>, rng: &mut impl CryptoRngCore, ca_der: &[u8]) {
///     let (mut tcp_rx, mut tcp_tx) = ([0u8; 2048], [0u8; 2048]);
///     let (mut tls_rx, mut tls_tx) = ([0u8; TLS_RECORD_BUFFER], [0u8; 4096]);
///     let mut socket = TcpSocket::new(stack, &mut tcp_rx, &mut tcp_tx);
///     if socket.connect((Ipv4Address::new(192, 0, 2, 25), 587)).await.is_err() {
///         return;
///     }
///     let tls = TlsSetup::new("smtp.example.com", ca_der, rng, &mut tls_rx, &mut tls_tx);
///     // Lend the socket: after a failure it is still here to abort.
///     let mut transport = EmbassyTransport::starttls(&mut socket, tls);
///     let sent = async {
///         let mut client = SmtpClient::connect(&mut transport, "device.example.com").await?;
///         client.login("device", "secret").await?;
///         client
///             .send_mail("device@example.com", &["ops@example.com"], "Subject: hi\n\nHello\n")
///             .await?;
///         client.quit().await
///     }
///     .await;
///     if sent.is_err() {
///         // The TLS detail the core does not keep: transport.last_error().
///         drop(transport);
///         socket.abort();
///     }
/// }
/// ```
pub struct EmbassyTransport<'a, S: Socket, R = NoTls, C: TlsClock = NoClock> {
    state: State<'a, S>,
    tls: Option<TlsSetup<'a, R, C>>,
    last_error: Option<Error>,
}

impl<S: Socket, R, C: TlsClock> core::fmt::Debug for EmbassyTransport<'_, S, R, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = match &self.state {
            State::Plain(_) => "plain",
            State::Tls { open: true, .. } => "tls",
            State::Tls { open: false, .. } => "tls handshake failed",
            State::Closed(_) => "closed",
            State::Gone => "gone",
        };
        f.debug_struct("EmbassyTransport")
            .field("state", &state)
            .field("tls", &self.tls)
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl<'a, S: Socket> EmbassyTransport<'a, S, NoTls, NoClock> {
    /// A plaintext transport that cannot do TLS: an upgrade fails with
    /// [`Error::TlsUnavailable`]. For a relay on a trusted link, with
    /// [`wasm_smtp_core::TlsPolicy::Disabled`].
    pub fn plaintext(socket: S) -> Self {
        EmbassyTransport {
            state: State::Plain(socket),
            tls: None,
            last_error: None,
        }
    }
}

impl<'a, S: Socket, R: CryptoRngCore, C: TlsClock> EmbassyTransport<'a, S, R, C> {
    /// A plaintext connection (port 587 or 25) that the client upgrades with STARTTLS,
    /// using `tls` for the handshake.
    pub fn starttls(socket: S, tls: TlsSetup<'a, R, C>) -> Self {
        EmbassyTransport {
            state: State::Plain(socket),
            tls: Some(tls),
            last_error: None,
        }
    }

    /// Implicit TLS (port 465): run the TLS handshake now, before the server's greeting.
    ///
    /// On failure nothing more is written and the socket is dropped: pass `&mut socket`
    /// to keep it (and abort it).
    pub async fn implicit_tls(socket: S, tls: TlsSetup<'a, R, C>) -> Result<Self, Error> {
        let mut transport = Self::starttls(socket, tls);
        transport.upgrade().await?;
        Ok(transport)
    }

    /// Move the plain socket into a `TlsConnection` and run the handshake.
    async fn upgrade(&mut self) -> Result<(), Error> {
        let result = self.try_upgrade().await;
        if let Err(e) = result {
            self.last_error = Some(e);
        }
        result
    }

    async fn try_upgrade(&mut self) -> Result<(), Error> {
        if !matches!(self.state, State::Plain(_)) {
            return Err(match self.state {
                State::Tls { open: true, .. } => Error::TlsUnavailable,
                _ => Error::Unusable,
            });
        }
        let Some(setup) = self.tls.take() else {
            return Err(Error::TlsUnavailable);
        };
        let socket = match core::mem::replace(&mut self.state, State::Gone) {
            State::Plain(socket) => socket,
            other => {
                self.state = other;
                return Err(Error::Unusable);
            }
        };
        let TlsSetup {
            server_name,
            ca,
            rng,
            read_record,
            write_record,
            clock: _,
        } = setup;
        let config = TlsConfig::new().with_server_name(server_name);
        let mut provider: Provider<'a, R, C> = Provider {
            rng,
            verifier: ca.map(Guarded::new),
        };
        self.state = State::Tls {
            conn: TlsConnection::new(socket, read_record, write_record),
            open: false,
        };
        let State::Tls { conn, open } = &mut self.state else {
            return Err(Error::Unusable);
        };
        conn.open(TlsContext::new(&config, &mut provider))
            .await
            .map_err(Error::Tls)?;
        if let Some(verifier) = &provider.verifier {
            verifier.finish()?;
        }
        *open = true;
        Ok(())
    }

    /// Close: TLS `close_notify` (when TLS is in use), flush, TCP FIN. After a failed
    /// handshake nothing is written: the TLS connection and the socket it owns are
    /// dropped.
    async fn shut(&mut self) -> Result<(), Error> {
        let socket = match core::mem::replace(&mut self.state, State::Gone) {
            State::Plain(socket) => socket,
            State::Tls { open: false, .. } => return Ok(()),
            State::Tls { conn, open: true } => match conn.close().await {
                Ok(socket) => socket,
                // The socket comes back either way; it is shut down below.
                Err((socket, e)) => {
                    self.last_error = Some(Error::Tls(e));
                    socket
                }
            },
            closed @ (State::Closed(_) | State::Gone) => {
                self.state = closed;
                return Ok(());
            }
        };
        let mut socket = socket;
        let flushed = socket.flush().await;
        socket.shutdown();
        self.state = State::Closed(socket);
        flushed.map_err(|e| self.fail(Error::Socket(e.kind())))
    }
}

impl<'a, S: Socket, R, C: TlsClock> EmbassyTransport<'a, S, R, C> {
    /// The last error this transport reported (the core keeps only its [`ErrorKind`]).
    pub fn last_error(&self) -> Option<Error> {
        self.last_error
    }

    /// Whether the handshake will verify (or has verified) the server's certificate.
    /// `false` for a plaintext transport, after
    /// [`TlsSetup::without_certificate_verification`], and once the setup has been used.
    pub fn verifies_certificate(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(TlsSetup::verifies_certificate)
    }

    /// Take the socket back: after [`Transport::close`] (it is shut down), or from a
    /// plaintext transport. `None` while TLS is in use: close first.
    pub fn into_socket(self) -> Option<S> {
        match self.state {
            State::Plain(socket) | State::Closed(socket) => Some(socket),
            State::Tls { .. } | State::Gone => None,
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.last_error = Some(e);
        e
    }
}

impl<S: Socket, R, C: TlsClock> ErrorType for EmbassyTransport<'_, S, R, C> {
    type Error = Error;
}

impl<S: Socket, R, C: TlsClock> Read for EmbassyTransport<'_, S, R, C> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let result = match &mut self.state {
            State::Plain(socket) => socket.read(buf).await.map_err(|e| Error::Socket(e.kind())),
            State::Tls { conn, open: true } => conn.read(buf).await.map_err(Error::Tls),
            _ => Err(Error::Unusable),
        };
        result.map_err(|e| self.fail(e))
    }
}

impl<S: Socket, R, C: TlsClock> Write for EmbassyTransport<'_, S, R, C> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        let result = match &mut self.state {
            State::Plain(socket) => socket.write(buf).await.map_err(|e| Error::Socket(e.kind())),
            State::Tls { conn, open: true } => conn.write(buf).await.map_err(Error::Tls),
            _ => Err(Error::Unusable),
        };
        result.map_err(|e| self.fail(e))
    }

    async fn flush(&mut self) -> Result<(), Error> {
        let result = match &mut self.state {
            State::Plain(socket) => socket.flush().await.map_err(|e| Error::Socket(e.kind())),
            State::Tls { conn, open: true } => conn.flush().await.map_err(Error::Tls),
            _ => Err(Error::Unusable),
        };
        result.map_err(|e| self.fail(e))
    }
}

impl<S: Socket, R: CryptoRngCore, C: TlsClock> Transport for EmbassyTransport<'_, S, R, C> {
    /// The engine's per-phase time limits run on embassy-time's timer with this crate's
    /// `embassy-time` feature; without it the transport has no timer and the engine
    /// waits as long as the server (limit the whole session yourself, e.g. with
    /// `embassy_time::with_timeout`).
    #[cfg(feature = "embassy-time")]
    fn sleep(limit: core::time::Duration) -> impl core::future::Future<Output = ()> {
        wasm_smtp_core::timeouts::embassy_sleep(limit)
    }

    fn is_encrypted(&self) -> bool {
        matches!(self.state, State::Tls { open: true, .. })
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), Error> {
        self.upgrade().await
    }

    async fn close(&mut self) -> Result<(), Error> {
        self.shut().await
    }
}

#[cfg(test)]
mod tests;
