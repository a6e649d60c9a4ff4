//! The SMTP session, sans-I/O: the whole dialogue, from the greeting to QUIT.
//!
//! [`Session`] owns everything the dialogue needs to remember across operations: the
//! [`Config`], what was sent and which replies are still expected (a queue, so that
//! several commands may be outstanding as PIPELINING allows), the TLS state, the
//! capabilities in force, whether AUTH succeeded. It owns no I/O buffer, never awaits
//! and never reads a clock: time limits are data it hands out.
//!
//! Each public operation ([`connect`](Session::connect), [`login`](Session::login),
//! [`send`](Session::send), [`noop`](Session::noop), [`rset`](Session::rset),
//! [`quit`](Session::quit)) checks its arguments and the session's state at once (caller
//! misuse is an error before any byte is produced) and returns an [`Exchange`]: the
//! operation in progress. The caller then moves bytes for it until it is done:
//!
//! ```text
//! loop {
//!     match exchange.want() {
//!         Want::Transmit => { n = exchange.transmit(&mut tx); write tx[..n] }
//!         Want::Receive  => { read more into rx; c = exchange.receive(&mut rx[..len]).consumed; drop c bytes }
//!         Want::Upgrade  => { TLS handshake; exchange.tls_established(transport is encrypted) }
//!         Want::Body     => { read a chunk; (used, n) = exchange.body(chunk, &mut tx); write tx[..n]; until used all }
//!         Want::Close    => { close the connection; exchange.closed(result) }
//!         Want::Done     => return exchange.finish(),
//!     }
//!     // any I/O failure, or a time-out: exchange.failed(error)
//! }
//! ```
//!
//! [`Exchange::limit`] gives the time limit of each wait. `SmtpClient` is that loop over an
//! async transport; `examples/blocking.rs` is the same loop over `std::net::TcpStream`.
//!
//! Where each part of the dialogue lives:
//!
//! | RFC concept | module |
//! |---|---|
//! | replies matched to commands (RFC 5321 section 4.2, RFC 2920) | `session::replies` |
//! | greeting, EHLO/HELO, STARTTLS policy (RFC 5321 section 4.1.1.1, RFC 3207) | `session::connect` |
//! | AUTH exchange: mechanism choice, challenges (RFC 4954) | [`crate::auth::exchange`] |
//! | mail transaction: envelope, PIPELINING flight, DATA/BDAT, outcomes, RSET (RFC 5321 section 3.3, RFC 3030) | `session::transaction` |
//! | NOOP, RSET, QUIT (RFC 5321 sections 4.1.1.5, 4.1.1.9, 4.1.1.10) | here |
//!
//! The phases of the dialogue:
//!
//! ```text
//! ExpectGreeting --220--> ExpectHello --EHLO 250 / HELO 250--> Ready
//! Ready --STARTTLS 220--> AwaitingUpgrade --tls_established--> ExpectHello (capabilities forgotten)
//! Ready --AUTH 334 ... 235--> Ready (authenticated)
//! Ready --MAIL, RCPT..., DATA 354, body, "."--> Ready
//! any --421 or QUIT 221 or a fatal error--> Closed
//! ```
//!
//! After any fatal error the session is closed and produces no more bytes. Caller misuse
//! (an operation out of place, invalid input) and server misbehaviour are different
//! errors; see [`SmtpError`].

mod connect;
mod replies;
mod transaction;

pub use replies::MAX_PENDING;

/// The smallest transmit slice: room for a base64 block of an AUTH line, or a BDAT
/// chunk's line and some data.
pub const MIN_TX: usize = 64;
pub use transaction::{Body, SendOptions, SendOutcome, BDAT_WINDOW, MAX_RECIPIENTS};

use crate::auth::exchange::{Auth, Login};
use crate::capabilities::Capabilities;
use crate::command::Command;
use crate::config::Config;
use crate::error::{SmtpError, Stage};
use crate::reply::{EnhancedStatus, Reply, ReplyParser, ReplyText};
use connect::Connect;
use core::time::Duration;
use replies::{Pending, Read};
use transaction::Mail;

/// Where the session stands. Named for what it expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// Connected; waiting for the server's 220 greeting.
    ExpectGreeting,
    /// Greeted (or just upgraded to TLS): EHLO or HELO must come next.
    ExpectHello,
    /// EHLO/HELO accepted: STARTTLS, AUTH, a mail transaction, RSET, NOOP or QUIT.
    Ready,
    /// STARTTLS accepted with 220: the TLS handshake must run next.
    AwaitingUpgrade,
    /// QUIT answered, 421 received, or a fatal error: nothing more may be written.
    Closed,
}

/// The sans-I/O SMTP session. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Session {
    config: Config,
    /// The size of the slice the caller hands to [`Exchange::transmit`].
    tx: usize,
    phase: Phase,
    pending: Pending,
    parser: ReplyParser,
    caps: Capabilities,
    folding: Capabilities,
    first: Option<(Option<EnhancedStatus>, ReplyText)>,
    encrypted: bool,
    authenticated: bool,
    /// A MAIL FROM was accepted on this connection: the server processes transactions,
    /// so a message may follow the envelope in one BDAT flight.
    mail_accepted: bool,
    /// The last [`Exchange::receive`] left bytes unconsumed.
    unread: bool,
    /// The text of the reply behind the last rejection reported in an error.
    rejection_text: ReplyText,
}

impl Session {
    /// A session on a new connection, waiting for the greeting.
    ///
    /// `rx` is the size of the caller's receive buffer (it caps the length of a reply
    /// line; raised to 512, RFC 5321 section 4.5.3.1.5), `tx` the size of the slice the
    /// caller hands to [`Exchange::transmit`] (every command line must fit it; at least
    /// 64). `encrypted` is true for an implicit-TLS connection.
    pub fn new(config: Config, rx: usize, tx: usize, encrypted: bool) -> Self {
        let mut pending = Pending::default();
        let _ = pending.push_back(Stage::Greeting);
        Session {
            config,
            tx,
            phase: Phase::ExpectGreeting,
            pending,
            parser: ReplyParser::new(rx, crate::reply::DEFAULT_MAX_LINES),
            caps: Capabilities::new(),
            folding: Capabilities::new(),
            first: None,
            encrypted,
            authenticated: false,
            mail_accepted: false,
            unread: false,
            rejection_text: ReplyText::default(),
        }
    }

    /// The current phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// The options.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The capabilities from the last EHLO (empty before EHLO, after HELO, and right
    /// after the TLS upgrade).
    pub const fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Whether the connection is encrypted (implicit TLS or after STARTTLS).
    pub const fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// Whether AUTH succeeded.
    pub const fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether the session can no longer be used.
    pub const fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The text of the server reply behind the last [`SmtpError::Rejected`],
    /// [`SmtpError::RecipientsRejected`] (its first refusal) or
    /// [`AuthError::Rejected`](crate::error::AuthError::Rejected): bounded to
    /// [`REPLY_TEXT_CAPACITY`](crate::reply::REPLY_TEXT_CAPACITY) octets, bytes outside
    /// printable ASCII replaced by `?`.
    pub fn rejection_text(&self) -> &str {
        self.rejection_text.as_str()
    }

    /// Read the greeting and say EHLO (HELO when EHLO is refused and the policy allows
    /// it), then STARTTLS, the TLS handshake and EHLO again as the [`TlsPolicy`]
    /// demands. `ehlo_domain` is checked first.
    ///
    /// # Errors
    /// [`SmtpError::InvalidInput`] for the domain; with [`TlsPolicy::Implicit`] on a
    /// plaintext connection [`TlsError::PlaintextTransport`](crate::error::TlsError::PlaintextTransport), before anything is read or
    /// written; [`SmtpError::SessionUnusable`] once connected.
    ///
    /// [`TlsPolicy`]: crate::TlsPolicy
    /// [`TlsPolicy::Implicit`]: crate::TlsPolicy::Implicit
    pub fn connect<'a>(&mut self, ehlo_domain: &'a str) -> Result<Exchange<'_, 'a>, SmtpError> {
        let op = Connect::start(self, ehlo_domain)?;
        Ok(self.exchange(Op::Connect(op), Want::Receive))
    }

    /// Authenticate (RFC 4954), as [`Login`] describes: the mechanism is chosen
    /// automatically unless the request names one.
    ///
    /// # Errors
    /// Everything that can be checked before a byte is written, in this order: the
    /// session is open and ready, AUTH over plaintext is allowed, the credentials are
    /// valid for the mechanism, the mechanism is built in and offered.
    pub fn login<'a>(&mut self, login: Login<'a>) -> Result<Exchange<'_, 'a>, SmtpError> {
        self.ready()?;
        let op = Auth::start(self, login)?;
        Ok(self.exchange(Op::Auth(op), Want::Transmit))
    }

    /// One mail transaction: `from`, the recipients `to`, and the message (`Body::Bytes`
    /// for a message given whole, `Body::Stream` for one handed in chunk by chunk on
    /// [`Want::Body`]).
    ///
    /// # Errors
    /// Everything that can be checked before a byte is written: the addresses, the
    /// options against the server's extensions, the message's size and line lengths (for
    /// a message given whole), every command line against the transmit buffer.
    pub fn send<'a>(
        &mut self,
        from: &'a str,
        to: &'a [&'a str],
        body: Body<'a>,
        options: SendOptions<'a>,
    ) -> Result<Exchange<'_, 'a>, SmtpError> {
        self.ready()?;
        let op = Mail::prepare(self, from, to, body, &options)?;
        Ok(self.exchange(Op::Mail(op), Want::Transmit))
    }

    /// NOOP, answered with 250.
    ///
    /// # Errors
    /// [`SmtpError::SessionUnusable`] unless the session is ready.
    pub fn noop(&mut self) -> Result<Exchange<'_, 'static>, SmtpError> {
        self.simple(Command::Noop)
    }

    /// RSET (abort any transaction), answered with 250.
    ///
    /// # Errors
    /// [`SmtpError::SessionUnusable`] unless the session is ready.
    pub fn rset(&mut self) -> Result<Exchange<'_, 'static>, SmtpError> {
        self.simple(Command::Rset)
    }

    /// QUIT, its reply, then closing the connection ([`Want::Close`]). On a session that
    /// is already closed only the connection is closed. Never fails to start.
    pub fn quit(&mut self) -> Exchange<'_, 'static> {
        let want = if self.is_closed() {
            Want::Close
        } else {
            Want::Transmit
        };
        self.exchange(Op::Quit(Ok(())), want)
    }

    fn simple(&mut self, cmd: Command<'static>) -> Result<Exchange<'_, 'static>, SmtpError> {
        self.ready()?;
        Ok(self.exchange(Op::Simple(cmd, None), Want::Transmit))
    }

    /// The session is open and between operations.
    fn ready(&self) -> Result<(), SmtpError> {
        if self.phase != Phase::Ready {
            return Err(SmtpError::SessionUnusable);
        }
        Ok(())
    }

    /// Queue the reply to a line of the AUTH exchange (its bytes are secret and are
    /// streamed, not encoded as a command).
    pub(crate) fn expect_secret(&mut self) -> Result<(), SmtpError> {
        #[cfg(feature = "defmt")]
        defmt::debug!("C: AUTH <redacted>");
        self.expect_reply(Stage::Auth)
    }

    fn exchange<'a>(&mut self, op: Op<'a>, want: Want) -> Exchange<'_, 'a> {
        self.unread = false;
        Exchange {
            session: self,
            op,
            want,
            error: None,
        }
    }

    /// Close the session: nothing more will be encoded.
    pub(crate) fn close(&mut self) {
        self.phase = Phase::Closed;
        self.pending.clear();
    }

    /// Fail with `e` and close the session.
    pub(crate) fn fatal<T>(&mut self, e: impl Into<SmtpError>) -> Result<T, SmtpError> {
        self.close();
        Err(e.into())
    }

    /// The error for a negative reply to `stage`; its text is kept for
    /// [`rejection_text`](Self::rejection_text).
    pub(crate) fn rejected(&mut self, stage: Stage, reply: &Reply) -> SmtpError {
        SmtpError::Rejected(self.rejection(stage, reply))
    }

    /// The rejection for a negative reply; its text is kept.
    pub(crate) fn rejection(&mut self, stage: Stage, reply: &Reply) -> crate::Rejection {
        self.rejection_text = reply.text.clone();
        crate::Rejection {
            stage,
            code: reply.code,
            enhanced: reply.enhanced,
        }
    }
}

/// What an [`Exchange`] waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Want {
    /// Call [`Exchange::transmit`] and write all the bytes it returns.
    Transmit,
    /// Read from the connection, append to the unconsumed bytes and hand them all to
    /// [`Exchange::receive`].
    Receive,
    /// Run the TLS handshake on the connection, then call
    /// [`Exchange::tls_established`].
    Upgrade,
    /// Read the next chunk of the message from its source and hand it to
    /// [`Exchange::body`] (an empty chunk is the end of the message). The receive buffer
    /// holds no unconsumed byte now, so it may hold the chunk.
    Body,
    /// Close the connection, then call [`Exchange::closed`].
    Close,
    /// The operation is over: [`Exchange::finish`] gives its result.
    Done,
}

/// The result of a successful [`Exchange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `connect`, `login`, `quit`.
    Done,
    /// `noop`, `rset`: the server's reply.
    Reply(Reply),
    /// `send`: what happened to the message.
    Sent(SendOutcome),
}

/// What [`Exchange::receive`] did with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes used from the start of the input: drop them and keep the rest.
    pub consumed: usize,
    /// At least one reply was completed (a new wait for a reply starts with the next
    /// read: the time limit of a reply covers all the reads it takes).
    pub replied: bool,
}

/// An operation in progress on a [`Session`]. See the [module documentation](self) for
/// the order of calls. Dropping it before [`Want::Done`] closes the session (its state
/// on the wire is unknown).
#[derive(Debug)]
pub struct Exchange<'s, 'a> {
    session: &'s mut Session,
    op: Op<'a>,
    want: Want,
    /// The failure that ended (or, for a mail transaction being reset, will end) the
    /// operation.
    error: Option<SmtpError>,
}

/// The operations.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Op<'a> {
    Connect(Connect<'a>),
    Auth(Auth<'a>),
    Mail(Mail<'a>),
    /// NOOP or RSET, and the reply once it came.
    Simple(Command<'static>, Option<Reply>),
    /// The verdict on QUIT (the connection is closed whatever it is).
    Quit(Result<(), SmtpError>),
}

impl<'a> Exchange<'_, 'a> {
    /// What the exchange waits for.
    pub const fn want(&self) -> Want {
        self.want
    }

    /// The session (capabilities, TLS state ...).
    pub fn session(&self) -> &Session {
        self.session
    }

    /// Write the next bytes to send at the start of `out` (which must be as large as the
    /// `tx` given to [`Session::new`]) and return how many; 0 when nothing is to be sent
    /// now. Write them all before the next call.
    pub fn transmit(&mut self, out: &mut [u8]) -> usize {
        if self.want != Want::Transmit {
            return 0;
        }
        if out.len() < MIN_TX {
            self.failed(SmtpError::BufferTooSmall { needed: MIN_TX });
            return 0;
        }
        let mut tx = Tx { buf: out, len: 0 };
        let s = &mut *self.session;
        let next = match &mut self.op {
            Op::Connect(c) => c.transmit(s, &mut tx),
            Op::Auth(a) => a.transmit(s, &mut tx),
            Op::Mail(m) => m.transmit(s, &mut tx),
            Op::Simple(cmd, _) => tx.command(s, *cmd).map(|()| Want::Receive),
            Op::Quit(_) => tx.command(s, Command::Quit).map(|()| Want::Receive),
        };
        match next {
            Ok(want) => {
                self.want = want;
                tx.len
            }
            Err(e) => {
                // Nothing staged in a failed call is sent.
                self.session.close();
                self.fail(e);
                0
            }
        }
    }

    /// Take the bytes received so far (all of them that were not consumed before, in
    /// order). Whole replies are taken one after the other as long as the exchange
    /// waits for them; returns how many bytes were used. The bytes of an AUTH challenge
    /// are decoded in place.
    pub fn receive(&mut self, input: &mut [u8]) -> Received {
        let mut pos = 0;
        let mut replied = false;
        while self.want == Want::Receive {
            let rest = input.get_mut(pos..).unwrap_or_default();
            match self.session.read_reply(rest) {
                Ok(Read::NeedMore { consumed }) => {
                    pos += consumed;
                    break;
                }
                Ok(Read::Reply {
                    consumed,
                    stage,
                    reply,
                    text,
                }) => {
                    replied = true;
                    // Whether more bytes follow this reply (replies that arrived
                    // together are taken before the buffer is used for anything else).
                    self.session.unread = consumed < rest.len();
                    let text = rest.get_mut(text).unwrap_or_default();
                    let next = self.on_reply(stage, &reply, text);
                    pos += consumed;
                    self.next(next);
                }
                Err(e) => {
                    self.fail(e);
                    break;
                }
            }
        }
        self.session.unread = pos < input.len();
        if self.session.unread && self.want == Want::Body {
            // Cannot happen (the transaction reads every reply that arrived before it
            // asks for the message); the receive buffer must be free for it.
            self.failed(SmtpError::Internal);
        }
        Received {
            consumed: pos,
            replied,
        }
    }

    fn on_reply(
        &mut self,
        stage: Stage,
        reply: &Reply,
        text: &mut [u8],
    ) -> Result<Want, SmtpError> {
        let s = &mut *self.session;
        match &mut self.op {
            Op::Connect(c) => c.reply(s, reply),
            Op::Auth(a) => a.reply(s, reply, text),
            Op::Mail(m) => m.reply(s, stage, reply),
            Op::Simple(_, slot) => {
                if reply.code.is_negative() {
                    return Err(s.rejected(stage, reply));
                }
                *slot = Some(reply.clone());
                Ok(Want::Done)
            }
            Op::Quit(verdict) => {
                if reply.code.is_negative() {
                    *verdict = Err(s.rejected(stage, reply));
                }
                // Whatever the reply, the session is over.
                s.close();
                Ok(Want::Close)
            }
        }
    }

    /// Encode the next part of a streamed message: as much of `chunk` as fits `out`.
    /// Returns `(consumed, written)`. The bytes written may stay in the caller's buffer
    /// behind the previous ones (give the rest of the buffer as the next `out`), so that
    /// small chunks leave in large writes; write the buffer out when this returns
    /// `(0, 0)` and still wants the body (no room left), and whenever
    /// [`want`](Self::want) becomes anything else. Call again with the rest of the chunk
    /// until it is all consumed, then read the next chunk. An empty chunk ends the
    /// message.
    pub fn body(&mut self, chunk: &[u8], out: &mut [u8]) -> (usize, usize) {
        if self.want != Want::Body {
            return (chunk.len(), 0);
        }
        let Op::Mail(m) = &mut self.op else {
            return (chunk.len(), 0);
        };
        let mut tx = Tx { buf: out, len: 0 };
        match m.body(self.session, chunk, &mut tx) {
            Ok((used, want)) => {
                self.want = want;
                (used, tx.len)
            }
            Err(e) => {
                self.fail(e);
                (chunk.len(), 0)
            }
        }
    }

    /// The TLS handshake after [`Want::Upgrade`] succeeded; `encrypted` is what the
    /// connection now says of itself (a connection that is still not encrypted fails).
    pub fn tls_established(&mut self, encrypted: bool) {
        if self.want != Want::Upgrade {
            return;
        }
        let next = match &mut self.op {
            Op::Connect(c) => c.upgraded(self.session, encrypted),
            _ => Err(SmtpError::Internal),
        };
        self.next(next);
    }

    /// The connection was closed after [`Want::Close`], with this result.
    pub fn closed(&mut self, result: Result<(), SmtpError>) {
        if self.want != Want::Close {
            return;
        }
        if let Op::Quit(verdict) = &mut self.op {
            // The reply's verdict first, then the transport's.
            *verdict = (*verdict).and(result);
        }
        self.want = Want::Done;
    }

    /// The I/O the exchange waited for failed (a transport error, the end of the
    /// stream, a failed TLS handshake, a failing message source). The session is closed:
    /// nothing more is written, except that QUIT still closes the connection.
    pub fn failed(&mut self, error: SmtpError) {
        self.session.close();
        self.fail(error);
    }

    /// The time limit of the I/O for `io` (what [`want`](Self::want) said before the
    /// I/O), and the stage a time-out reports: for [`Want::Receive`] the whole reply,
    /// however many reads it takes; for [`Want::Transmit`] each write of what
    /// [`transmit`](Self::transmit) returned, and for [`Want::Body`] each write of what
    /// [`body`](Self::body) returned (for message data the data block limit, reported as
    /// [`Stage::Data`]; reading the message source is not limited); for
    /// [`Want::Upgrade`] the TLS handshake; for [`Want::Close`] closing the connection.
    /// `None` without a limit (and without the `timeouts` feature). A time-out is
    /// reported with [`failed`](Self::failed)`(SmtpError::Timeout(stage))`.
    pub fn limit(&self, io: Want) -> Option<(Duration, Stage)> {
        let s = &*self.session;
        let timeouts = s.config.time_limits();
        let stage = match io {
            Want::Transmit | Want::Body => match s.pending.back() {
                // Message data (DATA's body and end-of-data line, BDAT chunks).
                Some(Stage::DataEnd | Stage::Bdat) => {
                    return Some((timeouts.data_block_limit()?, Stage::Data));
                }
                stage => stage?,
            },
            Want::Receive => s.pending.front()?,
            Want::Upgrade => Stage::TlsHandshake,
            Want::Close => Stage::Quit,
            Want::Done => return None,
        };
        Some((timeouts.reply(stage)?, stage))
    }

    /// The result, once [`want`](Self::want) is [`Want::Done`] (before that,
    /// [`SmtpError::SessionUnusable`] and the session is closed).
    pub fn finish(mut self) -> Result<Outcome, SmtpError> {
        if self.want != Want::Done {
            self.session.close();
            return Err(SmtpError::SessionUnusable);
        }
        // QUIT: the reply's verdict first, then the transport's (a close that timed out).
        if let Op::Quit(Err(e)) = &self.op {
            return Err(*e);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match core::mem::replace(&mut self.op, Op::Quit(Ok(()))) {
            Op::Connect(_) | Op::Auth(_) => Ok(Outcome::Done),
            Op::Quit(verdict) => verdict.map(|()| Outcome::Done),
            Op::Simple(_, reply) => reply.map(Outcome::Reply).ok_or(SmtpError::Internal),
            Op::Mail(m) => m.outcome().map(Outcome::Sent),
        }
    }

    /// Follow the result of a step.
    fn next(&mut self, next: Result<Want, SmtpError>) {
        match next {
            Ok(want) => self.want = want,
            Err(e) => self.fail(e),
        }
    }

    /// The operation failed with `e`: a mail transaction is reset first if it can be,
    /// QUIT still closes the connection, everything else ends.
    fn fail(&mut self, e: SmtpError) {
        match &mut self.op {
            Op::Mail(m) if self.error.is_none() => {
                if let Some(want) = m.failed(self.session) {
                    self.error = Some(e);
                    self.want = want;
                    return;
                }
            }
            Op::Quit(verdict) if self.want != Want::Close && self.want != Want::Done => {
                self.session.close();
                if verdict.is_ok() {
                    *verdict = Err(e);
                }
                self.want = Want::Close;
                return;
            }
            _ => {}
        }
        // The first error is the one to report (a failure while resetting after a
        // refused transaction does not hide the refusal).
        if self.error.is_none() {
            self.error = Some(e);
        }
        self.want = Want::Done;
    }
}

impl Drop for Exchange<'_, '_> {
    fn drop(&mut self) {
        if self.want != Want::Done {
            // Dropped half-way: what the server saw is unknown.
            self.session.close();
        }
    }
}

/// The caller's transmit slice and how much of it is filled.
pub(crate) struct Tx<'o> {
    pub(crate) buf: &'o mut [u8],
    pub(crate) len: usize,
}

impl Tx<'_> {
    /// Room left.
    pub(crate) fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    /// The unfilled rest.
    pub(crate) fn rest(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }

    /// Append `bytes` (the caller made room).
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let end = self.len + bytes.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(SmtpError::Internal)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Encode one command and queue its reply.
    pub(crate) fn command(&mut self, s: &mut Session, cmd: Command<'_>) -> Result<(), SmtpError> {
        let start = self.len;
        let n = s.encode(cmd, self.buf.get_mut(start..).unwrap_or_default())?;
        self.len += n;
        Ok(())
    }

    /// Whether `cmd` fits the room left.
    fn fits(&self, cmd: &Command<'_>) -> bool {
        cmd.encoded_len() <= self.room()
    }
}
