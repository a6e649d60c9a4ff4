//! [`SmtpClient`]: the async pump that moves bytes between a [`Transport`] and the
//! sans-I/O [`Session`] through two fixed buffers.
//!
//! It makes no protocol decision: every public method starts an operation of the
//! session and then does what the session asks for ([`Want`]), racing each wait against
//! the transport's timer ([`Transport::sleep`]) with the limit the session hands out
//! (the [`Timeouts`](crate::Timeouts) of the [`Config`], feature `timeouts`). The
//! dialogue itself (greeting, STARTTLS policy, AUTH, transactions, QUIT) is in
//! [`session`](crate::session).
//!
//! # Order of calls
//! 1. [`SmtpClient::connect`] (or [`SmtpClient::connect_with`]): greeting, EHLO (HELO
//!    fallback when allowed), STARTTLS and a second EHLO as the
//!    [`TlsPolicy`](crate::TlsPolicy) demands.
//! 2. Optionally [`SmtpClient::login`] (or [`SmtpClient::login_with`]).
//! 3. Any number of `send_mail*` ([`SmtpClient::send_mail`] ...), with
//!    [`SmtpClient::noop`] and [`SmtpClient::rset`] as needed.
//! 4. [`SmtpClient::quit`]: QUIT, then [`Transport::close`]. [`SmtpClient::into_inner`]
//!    takes the transport back (without QUIT if `quit` was not called).
//!
//! # Failure and cancellation
//! After a fatal error (transport failure, time-out, malformed or out-of-place reply, TLS
//! failure, 421) the client writes nothing more: every later call returns
//! [`SmtpError::SessionUnusable`]. A rejected command (4xx/5xx) is not fatal: after a
//! failed transaction the client sends RSET so the connection can be reused.
//!
//! No method is cancel-safe: dropping a future mid-way closes the session (what the
//! server saw is unknown), and the client can then only be dropped or quit. Dropping the
//! client mid-message never makes a partial message look sent: the end-of-data line is
//! only written after the whole body.

use crate::auth::exchange::Login;
use crate::capabilities::{Capabilities, Mechanism};
use crate::config::Config;
use crate::error::{MalformedReply, SmtpError, TlsError};
use crate::reply::Reply;
use crate::session::{Body, Exchange, Outcome, SendOptions, SendOutcome, Session, Want};
use crate::transport::Transport;
use core::future::Future;
use embedded_io_async::{Error as _, ErrorKind, Read};
use zeroize::Zeroize;

/// Default receive buffer: one reply line up to this length (RFC 5321 allows 512).
pub const DEFAULT_RX: usize = 1024;
/// Default transmit buffer: commands and message data are staged here.
pub const DEFAULT_TX: usize = 512;

/// An SMTP client over a [`Transport`], with a receive buffer of `RX` bytes and a transmit
/// buffer of `TX` bytes (defaults [`DEFAULT_RX`] and [`DEFAULT_TX`]; `RX` must be at least
/// 512 and `TX` at least 64, checked at compile time).
///
/// ```
/// # use wasm_smtp_core::SmtpClient;
/// # use wasm_smtp_mock::{block_on, MockTransport};
/// # let (transport, handle) = MockTransport::builder()
/// #     .implicit_tls()
/// #     .greeting()
/// #     .ehlo("client.example.com", &["AUTH PLAIN LOGIN"])
/// #     .write(b"AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n").read(b"235 2.7.0 ok\r\n")
/// #     .mail_from("alice@example.com").rcpt_to("bob@example.com").data()
/// #     .write(b"Subject: hi\r\n\r\nHello\r\n.\r\n").read(b"250 2.0.0 queued as 1\r\n")
/// #     .quit()
/// #     .build();
/// # let result = block_on(async {
/// let mut client = SmtpClient::connect(transport, "client.example.com").await?;
/// client.login("alice", "hunter2").await?;
/// let outcome = client
///     .send_mail("alice@example.com", &["bob@example.com"], "Subject: hi\r\n\r\nHello\r\n")
///     .await?;
/// assert!(outcome.all_accepted());
/// client.quit().await?;
/// # Ok::<(), wasm_smtp_core::SmtpError>(())
/// # });
/// # assert!(result.is_ok());
/// # handle.assert_done();
/// ```
pub struct SmtpClient<T: Transport, const RX: usize = DEFAULT_RX, const TX: usize = DEFAULT_TX> {
    session: Session,
    io: Io<T, RX, TX>,
}

/// The transport and the two buffers: what the pump moves bytes through.
struct Io<T, const RX: usize, const TX: usize> {
    transport: T,
    rx: [u8; RX],
    /// Received bytes not yet consumed by the session, at the start of `rx`.
    rx_len: usize,
    tx: [u8; TX],
    /// Message data staged in `tx`, not yet written (while the session wants the body).
    tx_len: usize,
    /// How much of the message chunk in `rx[..rx_len]` is encoded.
    chunk_pos: usize,
    /// The message source is exhausted: the session gets the empty chunk that ends it.
    chunk_end: bool,
}

impl<T: Transport, const RX: usize, const TX: usize> core::fmt::Debug for SmtpClient<T, RX, TX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> SmtpClient<T> {
    /// Connect with the default [`Config`] and default buffer sizes: read the greeting,
    /// say EHLO, and on a plaintext transport upgrade with STARTTLS (required) and say
    /// EHLO again.
    pub fn connect<'a>(
        transport: T,
        ehlo_domain: &'a str,
    ) -> impl Future<Output = Result<Self, SmtpError>> + 'a
    where
        T: 'a,
    {
        Self::connect_sized(transport, ehlo_domain, Config::new())
    }

    /// Connect with an explicit [`Config`] and default buffer sizes.
    pub fn connect_with<'a>(
        transport: T,
        ehlo_domain: &'a str,
        config: Config,
    ) -> impl Future<Output = Result<Self, SmtpError>> + 'a
    where
        T: 'a,
    {
        Self::connect_sized(transport, ehlo_domain, config)
    }
}

impl<T: Transport, const RX: usize, const TX: usize> SmtpClient<T, RX, TX> {
    const CHECK: () = {
        assert!(RX >= 512, "RX must be at least 512 (RFC 5321 reply lines)");
        assert!(TX >= crate::session::MIN_TX, "TX must be at least 64 bytes");
    };

    /// Connect with an explicit [`Config`] and buffer sizes chosen by the caller:
    /// `SmtpClient::<_, 2048, 4096>::connect_sized(transport, domain, config)`.
    pub async fn connect_sized(
        transport: T,
        ehlo_domain: &str,
        config: Config,
    ) -> Result<Self, SmtpError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        let encrypted = transport.is_encrypted();
        let mut client = SmtpClient {
            session: Session::new(config, RX, TX, encrypted),
            io: Io {
                transport,
                rx: [0; RX],
                rx_len: 0,
                tx: [0; TX],
                tx_len: 0,
                chunk_pos: 0,
                chunk_end: false,
            },
        };
        let exchange = client.session.connect(ehlo_domain)?;
        pump(&mut client.io, exchange, &mut &b""[..]).await?;
        Ok(client)
    }

    /// The capabilities from the last EHLO.
    pub fn capabilities(&self) -> &Capabilities {
        self.session.capabilities()
    }

    /// Whether the connection is encrypted (implicit TLS or after STARTTLS).
    pub fn is_encrypted(&self) -> bool {
        self.session.is_encrypted()
    }

    /// Whether the session is closed (after QUIT, a 421 or a fatal error).
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    /// The sans-I/O session, for inspection.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The text of the server reply behind the last [`SmtpError::Rejected`],
    /// [`SmtpError::RecipientsRejected`] (its first refusal) or
    /// [`AuthError::Rejected`](crate::error::AuthError::Rejected) this client returned
    /// (see [`Session::rejection_text`]). The code and enhanced status code are in the
    /// error itself (kept small and `Copy`, so the text lives here).
    pub fn rejection_text(&self) -> &str {
        self.session.rejection_text()
    }

    /// Authenticate with user name and password, choosing the strongest mechanism both
    /// sides support (see [`choose_mechanism`](crate::auth::exchange::choose_mechanism)):
    /// PLAIN, then LOGIN, then CRAM-MD5 (with the `auth-cram-md5` feature) on an
    /// encrypted connection. SCRAM-SHA-256 needs a client nonce: use `login_with_nonce`
    /// (feature `auth-scram`) to include it.
    pub fn login<'a>(
        &'a mut self,
        user: &'a str,
        password: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.authenticate(Login::new(user, password))
    }

    /// Authenticate with user name and password, choosing the strongest mechanism both
    /// sides support, SCRAM-SHA-256 first. `nonce` must be fresh for every call; it is
    /// only used if SCRAM is chosen.
    #[cfg(feature = "auth-scram")]
    pub fn login_with_nonce<'a>(
        &'a mut self,
        user: &'a str,
        password: &'a str,
        nonce: &'a crate::auth::scram::ClientNonce,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.authenticate(Login::new(user, password).nonce(nonce))
    }

    /// Authenticate with SCRAM-SHA-256 (RFC 7677), verifying the server's signature.
    /// `nonce` must be fresh for every call.
    #[cfg(feature = "auth-scram")]
    pub fn login_scram<'a>(
        &'a mut self,
        user: &'a str,
        password: &'a str,
        nonce: &'a crate::auth::scram::ClientNonce,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        let login = Login::new(user, password)
            .mechanism(Mechanism::ScramSha256)
            .nonce(nonce);
        self.authenticate(login)
    }

    /// Authenticate with XOAUTH2 (an OAuth 2.0 access token, as Gmail and Microsoft 365
    /// expect). Needs the `auth-oauth` feature (on by default).
    #[cfg(feature = "auth-oauth")]
    pub fn login_xoauth2<'a>(
        &'a mut self,
        user: &'a str,
        token: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.authenticate(Login::new(user, token).mechanism(Mechanism::XOAuth2))
    }

    /// Authenticate with OAUTHBEARER (RFC 7628), an OAuth 2.0 bearer token, without the
    /// optional `host` and `port` fields. A failure is reported as
    /// [`AuthError::BearerRejected`](crate::error::AuthError::BearerRejected) with the
    /// `status` from the server's JSON error. Needs the `auth-oauth` feature (on by
    /// default).
    #[cfg(feature = "auth-oauth")]
    pub fn login_oauthbearer<'a>(
        &'a mut self,
        user: &'a str,
        token: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.authenticate(Login::new(user, token).mechanism(Mechanism::OAuthBearer))
    }

    /// [`login_oauthbearer`](Self::login_oauthbearer) with the `host` and `port` the
    /// client connected to, which RFC 7628 section 3.1 lets the client send (some
    /// providers check them against the token's audience).
    #[cfg(feature = "auth-oauth")]
    pub fn login_oauthbearer_at<'a>(
        &'a mut self,
        user: &'a str,
        token: &'a str,
        host: &'a str,
        port: u16,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        let login = Login::new(user, token)
            .mechanism(Mechanism::OAuthBearer)
            .oauth_host(host, port);
        self.authenticate(login)
    }

    /// Authenticate with a chosen mechanism, overriding the automatic choice. `secret` is
    /// the password, or the token for XOAUTH2 and OAUTHBEARER. SCRAM-SHA-256 needs a
    /// nonce: use `login_scram` (feature `auth-scram`) (through this method it fails with
    /// [`InputField::Nonce`](crate::error::InputField::Nonce)).
    pub fn login_with<'a>(
        &'a mut self,
        mech: Mechanism,
        user: &'a str,
        secret: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.authenticate(Login::new(user, secret).mechanism(mech))
    }

    /// Run an AUTH exchange as `login` describes, then wipe the buffers that held
    /// secrets: the transmit buffer (encoded responses) and the idle receive buffer
    /// (decoded challenges).
    pub async fn authenticate(&mut self, login: Login<'_>) -> Result<(), SmtpError> {
        let exchange = self.session.login(login)?;
        let result = pump(&mut self.io, exchange, &mut &b""[..]).await;
        self.io.tx.zeroize();
        if let Some(idle) = self.io.rx.get_mut(self.io.rx_len..) {
            idle.zeroize();
        }
        result.map(drop)
    }

    /// Send NOOP and wait for 250.
    pub async fn noop(&mut self) -> Result<Reply, SmtpError> {
        let exchange = self.session.noop()?;
        reply_of(pump(&mut self.io, exchange, &mut &b""[..]).await?)
    }

    /// Send RSET (abort any transaction) and wait for 250.
    pub async fn rset(&mut self) -> Result<Reply, SmtpError> {
        let exchange = self.session.rset()?;
        reply_of(pump(&mut self.io, exchange, &mut &b""[..]).await?)
    }

    /// Send QUIT, wait for the reply, then close the connection with
    /// [`Transport::close`]. A session that is already closed (after a 421 or a fatal
    /// error) writes nothing: the transport is only closed.
    ///
    /// This takes `&mut self` rather than `self` on purpose: an `async fn` that takes the
    /// client by value keeps two copies of it (buffers included) in its future.
    pub async fn quit(&mut self) -> Result<(), SmtpError> {
        let exchange = self.session.quit();
        pump(&mut self.io, exchange, &mut &b""[..]).await.map(drop)
    }

    /// Return the transport (after [`quit`](Self::quit), or to abandon the session
    /// without QUIT).
    pub fn into_inner(self) -> T {
        self.io.transport
    }

    /// Send a message given as text (a complete RFC 5322 message: headers, blank line,
    /// body). Line endings may be LF or CRLF; they are sent as CRLF, with dot-stuffing
    /// under DATA.
    ///
    /// The server's extensions are used as offered (and as the [`Config`] allows):
    /// PIPELINING, CHUNKING, `SIZE=` (a message over the server's limit is refused before
    /// anything is written), `BODY=8BITMIME` when the message has 8-bit bytes, `SMTPUTF8`
    /// when an address needs it.
    pub fn send_mail<'a>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        message: &'a str,
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send_mail_with(from, to, message.as_bytes(), SendOptions::new())
    }

    /// Send a message given as bytes (8-bit content is passed through unchanged; it
    /// needs a server that offers 8BITMIME).
    pub fn send_mail_bytes<'a>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        message: &'a [u8],
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send_mail_with(from, to, message, SendOptions::new())
    }

    /// [`send_mail_bytes`](Self::send_mail_bytes) with per-message [`SendOptions`]
    /// (delivery status notifications with the `dsn` feature).
    pub fn send_mail_with<'a>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        message: &'a [u8],
        options: SendOptions<'a>,
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send(from, to, Body::Bytes(message), &b""[..], options)
    }

    /// Send a message read from `reader` in chunks, so that a device can send a message
    /// larger than its RAM. If the reader fails, the connection is abandoned before the
    /// end-of-data line (or the last BDAT chunk), so the server discards the partial
    /// message, and the error is [`SmtpError::BodySource`].
    ///
    /// The size and content are not known in advance: no `SIZE=` is sent and no limit is
    /// checked, and 8-bit content must be declared with
    /// [`SendOptions::eight_bit_mime`] (through
    /// [`send_mail_from_reader_with`](Self::send_mail_from_reader_with)) to get
    /// `BODY=8BITMIME`; otherwise the bytes are sent as they are.
    pub fn send_mail_from_reader<'a, R: Read>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        reader: &'a mut R,
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send(from, to, Body::Stream, reader, SendOptions::new())
    }

    /// [`send_mail_from_reader`](Self::send_mail_from_reader) with per-message
    /// [`SendOptions`].
    pub fn send_mail_from_reader_with<'a, R: Read>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        reader: &'a mut R,
        options: SendOptions<'a>,
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send(from, to, Body::Stream, reader, options)
    }

    /// The mail transaction behind the `send_mail*` methods.
    async fn send<R: Read>(
        &mut self,
        from: &str,
        to: &[&str],
        body: Body<'_>,
        mut reader: R,
        options: SendOptions<'_>,
    ) -> Result<SendOutcome, SmtpError> {
        let exchange = self.session.send(from, to, body, options)?;
        let Outcome::Sent(outcome) = pump(&mut self.io, exchange, &mut reader).await? else {
            return Err(SmtpError::Internal);
        };
        Ok(outcome)
    }
}

/// The reply of a NOOP or RSET exchange.
fn reply_of(outcome: Outcome) -> Result<Reply, SmtpError> {
    match outcome {
        Outcome::Reply(reply) => Ok(reply),
        _ => Err(SmtpError::Internal),
    }
}

/// Do what `exchange` wants until it is done: the only loop that awaits anything. Each
/// turn is one I/O on the transport (or the message source), raced against the limit the
/// exchange gives for it.
async fn pump<T: Transport, R: Read, const RX: usize, const TX: usize>(
    io: &mut Io<T, RX, TX>,
    mut exchange: Exchange<'_, '_>,
    reader: &mut R,
) -> Result<Outcome, SmtpError> {
    loop {
        let want = exchange.want();
        let turn = match want {
            Want::Done => {
                io.reset_body();
                return exchange.finish();
            }
            Want::Transmit => Turn::Write(exchange.transmit(&mut io.tx)),
            Want::Body => io.stage_body(&mut exchange),
            Want::Receive => Turn::Receive,
            Want::Upgrade => Turn::Upgrade,
            Want::Close => Turn::Close,
        };
        // Reading the message source is the caller's business: not limited.
        let limit = exchange
            .limit(want)
            .filter(|_| !matches!(turn, Turn::ReadBody));
        // Pinned where it is made: a large I/O future (TLS) is never moved, so exists once.
        let result = {
            let perform = core::pin::pin!(io.perform(turn, &mut exchange, reader));
            crate::timeouts::race(limit, T::sleep, perform).await
        };
        if let Err(e) = result {
            io.reset_body();
            exchange.failed(e);
        }
    }
}

/// One I/O of the pump.
#[derive(Clone, Copy)]
enum Turn {
    /// Write `tx[..n]` and flush.
    Write(usize),
    /// Read until the session completes a reply (or wants something else).
    Receive,
    /// The TLS handshake.
    Upgrade,
    /// Read the next chunk of the message into the (idle) receive buffer.
    ReadBody,
    /// Close the transport.
    Close,
}

impl<T: Transport, const RX: usize, const TX: usize> Io<T, RX, TX> {
    async fn perform<R: Read>(
        &mut self,
        turn: Turn,
        exchange: &mut Exchange<'_, '_>,
        reader: &mut R,
    ) -> Result<(), SmtpError> {
        match turn {
            Turn::Write(n) => {
                let mut sent = 0;
                while let Some(rest) = self.tx.get(sent..n).filter(|r| !r.is_empty()) {
                    // Not `write_all`: its default panics when `write` returns `Ok(0)`.
                    match self.transport.write(rest).await {
                        Ok(0) => return Err(io_error(ErrorKind::WriteZero)),
                        Ok(k) if k <= rest.len() => sent += k,
                        // More than it was given: the transport's bug.
                        Ok(_) => return Err(io_error(ErrorKind::InvalidData)),
                        Err(e) => return Err(io_error(e)),
                    }
                }
                if n > 0 {
                    self.transport.flush().await.map_err(io_error)?;
                }
            }
            Turn::Receive => loop {
                let Some(free) = self.rx.get_mut(self.rx_len..).filter(|f| !f.is_empty()) else {
                    // Cannot happen: the parser caps lines at RX. Fail closed all the same.
                    return Err(MalformedReply::LineTooLong { limit: RX }.into());
                };
                let space = free.len();
                match self.transport.read(free).await {
                    Ok(0) => return Err(SmtpError::ConnectionClosed),
                    Ok(n) if n <= space => self.rx_len += n,
                    // A count past the buffer is the transport's bug.
                    Ok(_) => return Err(io_error(ErrorKind::InvalidData)),
                    Err(e) => return Err(io_error(e)),
                }
                let received = exchange.receive(&mut self.rx[..self.rx_len]);
                self.rx.copy_within(received.consumed..self.rx_len, 0);
                self.rx_len -= received.consumed;
                if received.replied || exchange.want() != Want::Receive {
                    return Ok(());
                }
            },
            Turn::Upgrade => {
                // Nothing read before the handshake is kept (the session consumed it all).
                self.rx.fill(0);
                self.rx_len = 0;
                match self.transport.upgrade_to_tls().await {
                    Ok(()) => exchange.tls_established(self.transport.is_encrypted()),
                    Err(e) => return Err(TlsError::Handshake(e.kind()).into()),
                }
            }
            Turn::ReadBody => {
                let cap = RX.min(TX);
                match reader.read(&mut self.rx[..cap]).await {
                    Ok(n) if n <= cap => {
                        self.rx_len = n;
                        self.chunk_pos = 0;
                        self.chunk_end = n == 0;
                    }
                    // A count past the buffer is the reader's bug.
                    Ok(_) => return Err(SmtpError::BodySource(ErrorKind::InvalidData)),
                    Err(e) => return Err(SmtpError::BodySource(e.kind())),
                }
            }
            Turn::Close => {
                let result = self.transport.close().await.map_err(io_error);
                exchange.closed(result);
            }
        }
        Ok(())
    }

    /// Encode what is left of the message chunk in the receive buffer behind the data
    /// already staged in `tx`: small chunks leave together, `tx` is written when it is
    /// full and when the message moves on. Returns the next turn.
    fn stage_body(&mut self, exchange: &mut Exchange<'_, '_>) -> Turn {
        loop {
            let chunk = self.rx.get(self.chunk_pos..self.rx_len).unwrap_or_default();
            if chunk.is_empty() && !self.chunk_end {
                return Turn::ReadBody;
            }
            let free = self.tx.get_mut(self.tx_len..).unwrap_or_default();
            let (used, written) = exchange.body(chunk, free);
            self.chunk_pos += used;
            self.tx_len += written;
            self.chunk_end &= used == 0 && exchange.want() == Want::Body;
            match exchange.want() {
                // The message failed (and the session closed): nothing staged leaves.
                Want::Done => {
                    self.reset_body();
                    return Turn::Write(0);
                }
                Want::Body if used > 0 || written > 0 => continue,
                // No room left, or the message moved on: write what is staged.
                _ => {
                    let n = core::mem::take(&mut self.tx_len);
                    if self.chunk_pos >= self.rx_len {
                        self.rx_len = 0;
                        self.chunk_pos = 0;
                    }
                    return Turn::Write(n);
                }
            }
        }
    }

    /// Drop a message chunk and staged data (after a failure, or at the end).
    fn reset_body(&mut self) {
        self.rx_len = 0;
        self.tx_len = 0;
        self.chunk_pos = 0;
        self.chunk_end = false;
    }
}

fn io_error<E: embedded_io_async::Error>(e: E) -> SmtpError {
    SmtpError::Io(e.kind())
}
