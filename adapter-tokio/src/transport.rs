//! [`TokioTransport`]: a tokio `TcpStream`, plaintext or TLS (rustls), as the engine's
//! [`Transport`].

use crate::error::TlsFailure;
use crate::trace::Tracer;
use crate::{Error, Options};
use embedded_io_adapters::tokio_1::FromTokio;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use wasm_smtp_core::io::{ErrorType, Read, Write};
use wasm_smtp_core::Transport;

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Security {
    /// TLS from the first byte (SMTPS, usually port 465).
    ImplicitTls,
    /// Plaintext first, upgraded in place after `STARTTLS` (submission, usually 587).
    StartTls,
    /// Plaintext only; an upgrade is refused. For local relays and test servers.
    Plaintext,
}

/// A TCP connection to an SMTP server, plaintext or TLS.
///
/// Time limits: connecting and each TLS handshake are limited here
/// ([`Options::connect_timeout`], [`Options::tls_timeout`]); every wait of the SMTP
/// dialogue is limited by the engine, with the [`Timeouts`](wasm_smtp_core::Timeouts) of
/// the [`Config`](wasm_smtp_core::Config), on tokio's timer ([`Transport::sleep`] is
/// [`tokio::time::sleep`]).
///
/// `TCP_NODELAY` is set: the engine already gathers each flight of the protocol into one
/// write, so waiting for more data (Nagle's algorithm) only adds a delayed-ACK stall.
/// Reads and writes go through `embedded-io-adapters`' [`FromTokio`] bridge.
pub struct TokioTransport {
    stream: Stream,
    /// Present when the connection may still be upgraded with STARTTLS.
    starttls: Option<(TlsConnector, ServerName<'static>)>,
    tls_timeout: Duration,
    /// Why the last handshake failed, for the adapter's entry points (the engine only
    /// keeps an error kind).
    tls_failure: Arc<Mutex<Option<TlsFailure>>>,
    tracer: Option<Tracer>,
}

enum Stream {
    Plain(FromTokio<TcpStream>),
    Tls(FromTokio<Box<TlsStream<TcpStream>>>),
    /// After a failed upgrade or [`Transport::close`].
    Closed,
}

impl core::fmt::Debug for TokioTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = match self.stream {
            Stream::Plain(_) => "plaintext",
            Stream::Tls(_) => "TLS",
            Stream::Closed => "closed",
        };
        f.debug_struct("TokioTransport")
            .field("state", &state)
            .field("tls_timeout", &self.tls_timeout)
            .finish_non_exhaustive()
    }
}

impl TokioTransport {
    /// Resolve `host`, open a TCP connection to it and, for [`Security::ImplicitTls`],
    /// run the TLS handshake, each within its limit from `options`.
    ///
    /// The certificate is checked against `host` (a DNS name or an IP address).
    ///
    /// # Errors
    /// [`Error::InvalidHost`], [`Error::Connect`], [`Error::ConnectTimeout`],
    /// [`Error::TlsHandshake`], [`Error::TlsTimeout`].
    pub async fn connect(
        host: &str,
        port: u16,
        security: Security,
        options: &Options,
    ) -> Result<Self, Error> {
        let name = match security {
            Security::Plaintext => None,
            _ => Some(
                ServerName::try_from(host.to_owned())
                    .map_err(|_| Error::InvalidHost(host.to_owned()))?,
            ),
        };
        let addr = || format!("{host}:{port}");
        let tcp =
            match tokio::time::timeout(options.connect_timeout, TcpStream::connect((host, port)))
                .await
            {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(source)) => {
                    return Err(Error::Connect {
                        addr: addr(),
                        source,
                    })
                }
                Err(_) => {
                    return Err(Error::ConnectTimeout {
                        addr: addr(),
                        limit: options.connect_timeout,
                    })
                }
            };
        tcp.set_nodelay(true).map_err(|source| Error::Connect {
            addr: addr(),
            source,
        })?;
        let mut transport = TokioTransport {
            stream: Stream::Plain(FromTokio::new(tcp)),
            starttls: None,
            tls_timeout: options.tls_timeout,
            tls_failure: Arc::default(),
            tracer: options.trace.clone().map(Tracer::new),
        };
        if let Some(name) = name {
            transport.starttls = Some((
                TlsConnector::from(Arc::clone(options.tls.client_config())),
                name,
            ));
            if security == Security::ImplicitTls {
                if let Err(e) = transport.handshake().await {
                    return Err(match transport.take_tls_failure() {
                        Some(TlsFailure::Handshake(text)) => Error::TlsHandshake(text),
                        Some(TlsFailure::Timeout(limit)) => Error::TlsTimeout(limit),
                        None => Error::TlsHandshake(e.to_string()),
                    });
                }
            }
        }
        Ok(transport)
    }

    /// The negotiated TLS version and cipher suite, when the connection is encrypted
    /// (for example `"TLSv1_3 TLS13_AES_256_GCM_SHA384"`).
    pub fn tls_description(&self) -> Option<String> {
        match &self.stream {
            Stream::Tls(s) => {
                let (_, conn) = s.inner().get_ref();
                let version = conn.protocol_version()?;
                let suite = conn.negotiated_cipher_suite()?;
                Some(format!("{version:?} {:?}", suite.suite()))
            }
            _ => None,
        }
    }

    /// A handle on why the last TLS handshake failed (shared with the entry points).
    pub(crate) fn tls_failure_slot(&self) -> Arc<Mutex<Option<TlsFailure>>> {
        Arc::clone(&self.tls_failure)
    }

    fn take_tls_failure(&self) -> Option<TlsFailure> {
        self.tls_failure.lock().ok().and_then(|mut f| f.take())
    }

    fn record_tls_failure(&self, failure: TlsFailure) {
        if let Ok(mut slot) = self.tls_failure.lock() {
            *slot = Some(failure);
        }
    }

    /// Replace the plaintext stream by a TLS stream over the same socket. Whatever the
    /// outcome, the plaintext stream is gone and can no longer be used, and so is the
    /// connector: one handshake per connection.
    async fn handshake(&mut self) -> io::Result<()> {
        let Some((connector, name)) = self.starttls.take() else {
            return Err(io::Error::other(
                "this connection cannot be upgraded to TLS",
            ));
        };
        let tcp = match core::mem::replace(&mut self.stream, Stream::Closed) {
            Stream::Plain(tcp) => tcp.into_inner(),
            other => {
                self.stream = other;
                return Err(io::Error::other("the connection is not in plaintext"));
            }
        };
        // The TCP socket has no user-space buffer: bytes the server sent before the
        // handshake are read by rustls as TLS records, and fail the handshake.
        match tokio::time::timeout(self.tls_timeout, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => {
                self.stream = Stream::Tls(FromTokio::new(Box::new(tls)));
                if let Some(t) = &self.tracer {
                    let what = self.tls_description().unwrap_or_default();
                    t.event(&format!("TLS established: {what}"));
                }
                Ok(())
            }
            Ok(Err(e)) => {
                self.record_tls_failure(TlsFailure::Handshake(e.to_string()));
                if let Some(t) = &self.tracer {
                    t.event(&format!("TLS handshake failed: {e}"));
                }
                Err(e)
            }
            Err(_) => {
                self.record_tls_failure(TlsFailure::Timeout(self.tls_timeout));
                Err(io::ErrorKind::TimedOut.into())
            }
        }
    }
}

fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

impl ErrorType for TokioTransport {
    type Error = io::Error;
}

impl Read for TokioTransport {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(buf).await?,
            Stream::Tls(s) => s.read(buf).await?,
            Stream::Closed => return Err(not_connected()),
        };
        if let Some(t) = &mut self.tracer {
            t.server(&buf[..n]);
        }
        Ok(n)
    }
}

impl Write for TokioTransport {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        let n = match &mut self.stream {
            Stream::Plain(s) => s.write(buf).await?,
            Stream::Tls(s) => s.write(buf).await?,
            Stream::Closed => return Err(not_connected()),
        };
        if let Some(t) = &mut self.tracer {
            t.client(&buf[..n]);
        }
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), io::Error> {
        match &mut self.stream {
            Stream::Plain(s) => s.flush().await,
            Stream::Tls(s) => s.flush().await,
            Stream::Closed => Err(not_connected()),
        }
    }
}

impl Transport for TokioTransport {
    fn is_encrypted(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), io::Error> {
        self.handshake().await
    }

    /// Send TLS `close_notify` (when encrypted), shut the socket down for writing and
    /// drop it (the engine limits this wait with the QUIT limit of its
    /// [`Timeouts`](wasm_smtp_core::Timeouts)).
    async fn close(&mut self) -> Result<(), io::Error> {
        let result = match &mut self.stream {
            Stream::Plain(s) => s.inner_mut().shutdown().await,
            Stream::Tls(s) => s.inner_mut().shutdown().await,
            Stream::Closed => return Ok(()),
        };
        self.stream = Stream::Closed;
        self.starttls = None;
        if let Some(t) = &self.tracer {
            t.event("connection closed");
        }
        // The peer may have closed first: nothing is lost either way.
        match result {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }

    /// [`tokio::time::sleep`]: the engine's time limits run on tokio's timer (and on its
    /// paused clock in tests).
    fn sleep(limit: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(limit)
    }
}
