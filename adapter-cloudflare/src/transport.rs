//! [`WorkersTransport`]: the runtime's TCP socket (`cloudflare:sockets` `connect()`,
//! wrapped by [`worker::Socket`]) as a [`Transport`] for the SMTP client.

use crate::error::Error;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use core::time::Duration;
use std::string::{String, ToString};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasm_smtp_core::io::{ErrorKind, ErrorType, Read, Write};
use wasm_smtp_core::Transport;
use worker::js_sys::{self, futures::JsFuture, Object, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{worker_sys, Delay, Socket};

/// The time limit that [`WorkersTransport::connect`] and the `connect_*` functions put on
/// opening the connection (for implicit TLS, the handshake included) and on the TLS
/// handshake after STARTTLS.
///
/// The waits of the SMTP dialogue are limited by the engine, with the
/// [`Timeouts`](crate::Timeouts) of the [`Config`](crate::Config), on the runtime's timer
/// ([`Transport::sleep`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest delay `setTimeout` takes (2^31 - 1 ms, about 24.8 days); a longer one
/// would fire at once.
const MAX_SET_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Run `fut`, or give up after `limit` (`None`: no limit). Returns `None` on time-out.
async fn within<F: Future>(limit: Option<Duration>, fut: F) -> Option<F::Output> {
    let Some(limit) = limit else {
        return Some(fut.await);
    };
    let mut fut = pin!(fut);
    // A `setTimeout` timer, cleared when dropped.
    let mut timer = pin!(Delay::from(limit));
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// The message of a connect or TLS handshake that did not finish in time. Without the
/// number of seconds (the caller chose the limit, [`DEFAULT_TIMEOUT`] unless it said
/// otherwise): formatting a `u64` pulls its `Display` and digit table into the Worker
/// (the cost is in benches/README.md).
fn timed_out() -> String {
    String::from("the connection or its TLS handshake did not finish within the time limit")
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// TLS from the first byte (SMTPS, port 465): `secureTransport: "on"`.
    ImplicitTls,
    /// Plaintext first, upgraded in place after the SMTP `STARTTLS` command (submission,
    /// port 587): `secureTransport: "starttls"`. Only a socket opened this way can be
    /// upgraded.
    StartTls,
    /// Plaintext, never upgraded: `secureTransport: "off"`. **Insecure**: everything,
    /// credentials included, crosses the network in clear text. Only for a relay on a
    /// private network or a test server.
    Plaintext,
}

impl Security {
    /// The value of the runtime's `secureTransport` socket option.
    const fn option(self) -> &'static str {
        match self {
            Security::ImplicitTls => "on",
            Security::StartTls => "starttls",
            Security::Plaintext => "off",
        }
    }
}

/// One open socket: the `worker` wrapper that does the I/O and the runtime's socket
/// object behind it (needed for `startTls()` and `close()`, so that neither can panic).
struct Conn {
    io: Socket,
    raw: worker_sys::Socket,
}

impl Conn {
    fn new(raw: worker_sys::Socket) -> Self {
        Conn {
            io: Socket::from(raw.clone()),
            raw,
        }
    }
}

/// The state of the connection. Only `StartTlsPlain` can be upgraded, and only once: the
/// runtime's `startTls()` throws on any other socket, so it is never called on one.
enum State {
    /// Opened with `secureTransport: "starttls"`, not upgraded yet.
    StartTlsPlain(Conn),
    /// Upgraded with STARTTLS.
    Tls(Conn),
    /// Opened with `secureTransport: "on"`.
    Implicit(Conn),
    /// Opened with `secureTransport: "off"`: never encrypted.
    Plain(Conn),
    /// Closed, or abandoned after a failed upgrade.
    Closed,
}

/// An SMTP connection over the Workers runtime's TCP socket API.
///
/// Implements [`wasm_smtp_core::io::Read`], [`wasm_smtp_core::io::Write`] and
/// [`Transport`]: TLS (implicit or after STARTTLS), including certificate checks, is done
/// by the runtime. Usually created by [`connect_smtps`](crate::connect_smtps) or
/// [`connect_smtp_starttls`](crate::connect_smtp_starttls); use
/// [`WorkersTransport::connect`] with [`SmtpClient::connect_with`](crate::SmtpClient::connect_with)
/// for full control.
///
/// # Closing
/// [`SmtpClient::quit`](crate::SmtpClient::quit) ends the SMTP session, then closes the
/// socket and waits for it (through [`Transport::close`]). Dropping the transport (or a client that owns it)
/// also closes the socket, without waiting: this never blocks, at any point of a session,
/// and frees the connection slot (the runtime allows only a few simultaneous outbound
/// connections per request).
///
/// # Errors
/// I/O errors are reported to the client as an [`ErrorKind`] (the runtime's errors are
/// mostly [`ErrorKind::Other`]); the runtime's message for the latest one is kept and
/// available from [`last_error`](Self::last_error) after
/// [`SmtpClient::into_inner`](crate::SmtpClient::into_inner).
///
/// # Cancel safety
/// Dropping a read or write future half-way leaves the socket usable (the runtime call in
/// flight is resumed by the next call), but the SMTP client on top is not cancel-safe:
/// drop the client after a cancelled call.
pub struct WorkersTransport {
    state: State,
    timeout: Option<Duration>,
    last_error: Option<String>,
}

impl core::fmt::Debug for WorkersTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = match self.state {
            State::StartTlsPlain(_) => "plaintext (STARTTLS possible)",
            State::Tls(_) => "TLS (after STARTTLS)",
            State::Implicit(_) => "TLS (implicit)",
            State::Plain(_) => "plaintext",
            State::Closed => "closed",
        };
        f.debug_struct("WorkersTransport")
            .field("state", &state)
            .field("timeout", &self.timeout)
            .field("last_error", &self.last_error)
            .finish()
    }
}

/// Refuse port 25 before the runtime is asked (it would fail in production, and only on
/// the first read).
pub(crate) fn check_port(port: u16) -> Result<(), Error> {
    if port == 25 {
        return Err(Error::PortBlocked);
    }
    Ok(())
}

/// The message of a value thrown or rejected by JavaScript.
fn js_message(value: &JsValue) -> String {
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    value
        .as_string()
        .unwrap_or_else(|| "unknown error from the Workers runtime".to_string())
}

/// Set a property of a plain object created here (which cannot fail: no setter, not
/// frozen, not a proxy).
fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// Map the kind of a `std::io::Error` from the socket to the embedded-io kind.
pub(crate) fn map_kind(kind: std::io::ErrorKind) -> ErrorKind {
    use std::io::ErrorKind as K;
    match kind {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::ConnectionRefused => ErrorKind::ConnectionRefused,
        K::ConnectionReset => ErrorKind::ConnectionReset,
        K::ConnectionAborted => ErrorKind::ConnectionAborted,
        K::NotConnected => ErrorKind::NotConnected,
        K::AddrInUse => ErrorKind::AddrInUse,
        K::AddrNotAvailable => ErrorKind::AddrNotAvailable,
        K::BrokenPipe => ErrorKind::BrokenPipe,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        K::InvalidInput => ErrorKind::InvalidInput,
        K::InvalidData => ErrorKind::InvalidData,
        K::TimedOut => ErrorKind::TimedOut,
        K::Interrupted => ErrorKind::Interrupted,
        K::Unsupported => ErrorKind::Unsupported,
        K::OutOfMemory => ErrorKind::OutOfMemory,
        K::WriteZero => ErrorKind::WriteZero,
        _ => ErrorKind::Other,
    }
}

/// An I/O operation on the socket.
enum Op<'a> {
    Read(&'a mut [u8]),
    Write(&'a [u8]),
    Flush,
}

/// One read, write or flush on the socket. One hand-written future for the three
/// operations (rather than three `async fn`s around `poll_fn`) keeps a single small poll
/// function in the Worker. Time limits are the engine's: it races this future against
/// [`Transport::sleep`].
struct SocketIo<'t, 'b> {
    transport: &'t mut WorkersTransport,
    op: Op<'b>,
}

impl Future for SocketIo<'_, '_> {
    type Output = Result<usize, ErrorKind>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // An empty read or write is answered at once, without touching the socket.
        if let Op::Read([]) | Op::Write([]) = this.op {
            return Poll::Ready(Ok(0));
        }
        let socket = match this.transport.socket() {
            Ok(socket) => Pin::new(socket),
            Err(kind) => return Poll::Ready(Err(kind)),
        };
        let polled = match &mut this.op {
            Op::Read(buf) => {
                let mut read_buf = ReadBuf::new(buf);
                socket
                    .poll_read(cx, &mut read_buf)
                    .map_ok(|()| read_buf.filled().len())
            }
            Op::Write(buf) => socket.poll_write(cx, buf),
            Op::Flush => socket.poll_flush(cx).map_ok(|()| 0),
        };
        polled.map(|result| this.transport.outcome(result))
    }
}

/// Why a socket did not open.
enum NotOpened {
    /// The runtime's message.
    Failed(String),
    /// No answer within the time limit.
    TimedOut(String),
}

impl NotOpened {
    fn message(self) -> String {
        match self {
            NotOpened::Failed(m) | NotOpened::TimedOut(m) => m,
        }
    }
}

/// Wait for the socket's `opened` promise: the connection is established (for a TLS
/// socket: the handshake is done).
async fn opened(raw: &worker_sys::Socket, limit: Option<Duration>) -> Result<(), NotOpened> {
    let promise = raw
        .opened()
        .map_err(|e| NotOpened::Failed(js_message(&e)))?;
    match within(limit, JsFuture::from(promise)).await {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(NotOpened::Failed(js_message(&e))),
        None => Err(NotOpened::TimedOut(timed_out())),
    }
}

/// Start closing a socket without waiting; a rejection (the socket had already failed)
/// is consumed so that it is not reported as unhandled.
fn close_in_background(raw: &worker_sys::Socket) {
    if let Ok(promise) = raw.close() {
        js_sys::futures::spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

impl WorkersTransport {
    /// Open a TCP connection to `host:port` secured as `security` says, and wait until
    /// the runtime reports it open. Opening the connection and the TLS handshake after
    /// STARTTLS are limited to [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    /// - [`Error::PortBlocked`] for port 25, before anything is attempted.
    /// - [`Error::Connect`] with the runtime's message when the connection cannot be
    ///   opened. The runtime does not fail `connect()` itself for a refused or unreachable
    ///   server; this waits for the socket's `opened` promise so that the failure shows up
    ///   here rather than as an I/O error on the first read. With
    ///   [`Security::ImplicitTls`] a failed TLS handshake (an untrusted certificate, or a
    ///   server that does not speak TLS) also ends here, with the same opaque message
    ///   from the runtime.
    pub fn connect(
        host: &str,
        port: u16,
        security: Security,
    ) -> impl Future<Output = Result<Self, Error>> + '_ {
        Self::connect_with_timeout(host, port, security, Some(DEFAULT_TIMEOUT))
    }

    /// [`connect`](Self::connect) with another time limit for opening the connection and
    /// for the TLS handshake after STARTTLS (`None`: wait as long as the runtime lets the
    /// request run). The waits of the SMTP dialogue follow the
    /// [`Timeouts`](crate::Timeouts) of the client's [`Config`](crate::Config).
    ///
    /// A time-out while connecting is [`Error::Connect`]; during the STARTTLS upgrade the
    /// client reports it as a TLS handshake failure with [`ErrorKind::TimedOut`].
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with_timeout(
        host: &str,
        port: u16,
        security: Security,
        timeout: Option<Duration>,
    ) -> Result<Self, Error> {
        check_port(port)?;
        let address = Object::new();
        set(&address, "hostname", &JsValue::from_str(host));
        set(&address, "port", &JsValue::from(port));
        let options = Object::new();
        set(
            &options,
            "secureTransport",
            &JsValue::from_str(security.option()),
        );
        set(&options, "allowHalfOpen", &JsValue::FALSE);
        let raw = worker_sys::connect(address.into(), options.into())
            .map_err(|e| Error::Connect(js_message(&e)))?;
        let conn = Conn::new(raw);
        let state = match security {
            Security::ImplicitTls => State::Implicit(conn),
            Security::StartTls => State::StartTlsPlain(conn),
            Security::Plaintext => State::Plain(conn),
        };
        // From here on, dropping `transport` closes the socket.
        let transport = WorkersTransport {
            state,
            timeout,
            last_error: None,
        };
        if let Some(conn) = transport.conn() {
            opened(&conn.raw, timeout)
                .await
                .map_err(|e| Error::Connect(e.message()))?;
        }
        Ok(transport)
    }

    fn conn(&self) -> Option<&Conn> {
        match &self.state {
            State::StartTlsPlain(c) | State::Tls(c) | State::Implicit(c) | State::Plain(c) => {
                Some(c)
            }
            State::Closed => None,
        }
    }

    fn socket(&mut self) -> Result<&mut Socket, ErrorKind> {
        match &mut self.state {
            State::StartTlsPlain(c) | State::Tls(c) | State::Implicit(c) | State::Plain(c) => {
                Ok(&mut c.io)
            }
            State::Closed => Err(ErrorKind::NotConnected),
        }
    }

    /// The result of an I/O call; on failure, keep the runtime's message and return the
    /// kind for the client.
    fn outcome<T>(&mut self, result: std::io::Result<T>) -> Result<T, ErrorKind> {
        result.map_err(|e| {
            self.last_error = Some(e.to_string());
            map_kind(e.kind())
        })
    }

    /// One read, write or flush.
    fn io<'b>(&mut self, op: Op<'b>) -> SocketIo<'_, 'b> {
        SocketIo {
            transport: self,
            op,
        }
    }

    /// The runtime's message for the latest I/O or upgrade failure, if any. The SMTP
    /// client reports only an [`ErrorKind`]; this says what the runtime said (for example
    /// that the network connection was lost). Never contains data sent or received.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Close the socket (both directions) and wait until the runtime has done so.
    ///
    /// [`SmtpClient::quit`](crate::SmtpClient::quit) already does this; call it for a
    /// transport you took back with `into_inner` without QUIT. A failure to close is
    /// not reported: it only happens when the connection has already failed, and the
    /// socket is gone either way.
    pub async fn close(mut self) {
        self.shutdown().await;
    }

    /// Close the socket in place (what [`Transport::close`] does).
    async fn shutdown(&mut self) {
        let state = core::mem::replace(&mut self.state, State::Closed);
        if let State::StartTlsPlain(c) | State::Tls(c) | State::Implicit(c) | State::Plain(c) =
            state
        {
            if let Ok(promise) = c.raw.close() {
                let _ = JsFuture::from(promise).await;
            }
        }
    }
}

impl Drop for WorkersTransport {
    fn drop(&mut self) {
        if let Some(conn) = self.conn() {
            close_in_background(&conn.raw);
        }
    }
}

impl ErrorType for WorkersTransport {
    type Error = ErrorKind;
}

impl Read for WorkersTransport {
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = Result<usize, ErrorKind>> {
        self.io(Op::Read(buf))
    }
}

impl Write for WorkersTransport {
    fn write(&mut self, buf: &[u8]) -> impl Future<Output = Result<usize, ErrorKind>> {
        self.io(Op::Write(buf))
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.io(Op::Flush).await.map(|_| ())
    }
}

impl Transport for WorkersTransport {
    fn is_encrypted(&self) -> bool {
        matches!(self.state, State::Tls(_) | State::Implicit(_))
    }

    /// Close the socket and wait for the runtime (called by `quit`). Never fails: a socket
    /// that cannot be closed is already gone.
    async fn close(&mut self) -> Result<(), ErrorKind> {
        self.shutdown().await;
        Ok(())
    }

    /// The runtime's timer (`setTimeout`, cleared when the future is dropped): the
    /// engine's time limits. At most about 24.8 days, the longest `setTimeout` takes.
    fn sleep(limit: Duration) -> impl Future<Output = ()> {
        Delay::from(limit.min(MAX_SET_TIMEOUT))
    }

    /// Swap the plaintext socket for the runtime's TLS socket (`startTls()`) and wait for
    /// the TLS handshake (the new socket's `opened` promise). A failed handshake (for
    /// example an untrusted certificate) is an error here, which the client reports as
    /// [`TlsError::Handshake`](crate::TlsError::Handshake); the runtime gives no detail
    /// (it is in the runtime's log).
    ///
    /// Only a socket opened with [`Security::StartTls`] and not upgraded yet can be
    /// upgraded; any other returns [`ErrorKind::Unsupported`] and stays as it is (the
    /// runtime would throw, and `worker::Socket::start_tls` would panic).
    async fn upgrade_to_tls(&mut self) -> Result<(), ErrorKind> {
        let plain = match core::mem::replace(&mut self.state, State::Closed) {
            State::StartTlsPlain(conn) => conn,
            other => {
                self.state = other;
                self.last_error = Some(
                    "STARTTLS upgrade on a connection that was not opened for STARTTLS".to_string(),
                );
                return Err(ErrorKind::Unsupported);
            }
        };
        let raw = match plain.raw.start_tls() {
            Ok(raw) => raw,
            Err(e) => {
                self.last_error = Some(js_message(&e));
                close_in_background(&plain.raw);
                return Err(ErrorKind::Other);
            }
        };
        // The plaintext socket (and anything it buffered) is dropped here; the runtime
        // has detached its streams, so it must not be closed. From here on, dropping the
        // transport (even in the middle of the handshake) closes the TLS socket.
        drop(plain);
        self.state = State::Tls(Conn::new(raw));
        let limit = self.timeout;
        let handshake = match self.conn() {
            Some(conn) => opened(&conn.raw, limit).await,
            None => Ok(()),
        };
        let Err(e) = handshake else {
            return Ok(());
        };
        let kind = match e {
            NotOpened::TimedOut(_) => ErrorKind::TimedOut,
            NotOpened::Failed(_) => ErrorKind::Other,
        };
        self.last_error = Some(e.message());
        if let State::Tls(conn) = core::mem::replace(&mut self.state, State::Closed) {
            close_in_background(&conn.raw);
        }
        Err(kind)
    }
}
