//! [`SmtpClient`]: the async driver that moves bytes between a [`Transport`] and the
//! sans-I/O [`Session`] through two fixed buffers.
//!
//! # Order of calls
//! 1. [`SmtpClient::connect`] (or [`SmtpClient::connect_with`]): greeting, EHLO (HELO
//!    fallback when allowed), STARTTLS and a second EHLO as the [`TlsPolicy`] demands.
//! 2. Optionally [`SmtpClient::login`] (or [`SmtpClient::login_with`]).
//! 3. Any number of [`SmtpClient::send_mail`] / [`SmtpClient::send_mail_bytes`] /
//!    [`SmtpClient::send_mail_from_reader`], with [`SmtpClient::noop`] and
//!    [`SmtpClient::rset`] as needed.
//! 4. [`SmtpClient::quit`]: QUIT, then [`Transport::close`]. [`SmtpClient::into_inner`]
//!    takes the transport back (without QUIT if `quit` was not called).
//!
//! # Failure and cancellation
//! After a fatal error (transport failure, time-out, malformed or out-of-place reply, TLS
//! failure, 421) the client writes nothing more: every later call returns
//! [`SmtpError::SessionUnusable`].
//!
//! Every wait for the server has a time limit, per phase, from the [`Timeouts`] in the
//! [`Config`], on the transport's timer ([`Transport::sleep`]); see
//! [`timeouts`](crate::timeouts). A rejected command (4xx/5xx) is not fatal: after a
//! failed transaction the client sends RSET so the connection can be reused.
//!
//! No method is cancel-safe: dropping a future mid-way leaves the session in an unknown
//! state, and the client must be dropped too. Dropping the client mid-message never makes
//! a partial message look sent: the end-of-data line is only written after the whole body.

use crate::auth::{self, Base64Stream, Credentials, ENCODED_BLOCK};
use crate::capabilities::{Capabilities, Capability, Mechanism};
use crate::command::Command;
use crate::data::{DataEncoder, FINISH_MAX};
use crate::error::{
    AuthError, Extension, InputField, InvalidReason, Rejection, SmtpError, Stage, TlsError,
};
use crate::reply::{Reply, ReplyCode};
use crate::session::{Phase, Received, Session};
use crate::timeouts::{within, Limit, Timeouts};
use crate::transport::Transport;
use core::future::Future;
use core::pin::pin;
use embedded_io_async::{Error as _, Read};

/// Default receive buffer: one reply line up to this length (RFC 5321 allows 512).
pub const DEFAULT_RX: usize = 1024;
/// Default transmit buffer: commands and DATA output are staged here.
pub const DEFAULT_TX: usize = 512;
/// Most recipients in one [`SmtpClient::send_mail`] call (RFC 5321 section 4.5.3.1.8
/// requires servers to accept at least 100).
pub const MAX_RECIPIENTS: usize = 100;
/// Most AUTH challenges (334 replies) accepted in one exchange.
pub const MAX_AUTH_CHALLENGES: usize = 2;

/// When to use TLS on a connection that starts in plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TlsPolicy {
    /// Upgrade with STARTTLS; fail when the server does not offer it or refuses it. Never
    /// continue in plaintext. The default.
    #[default]
    Required,
    /// Upgrade when offered, continue in plaintext otherwise. An active attacker can
    /// remove the offer: use only where plaintext delivery is acceptable.
    Opportunistic,
    /// Never upgrade (a local relay on loopback, for example).
    ///
    /// The HELO fallback (when EHLO is refused) is used under every policy except
    /// `Required` on a plaintext connection; a HELO session has no AUTH.
    Disabled,
}

/// Session options. `Config::default()` is the secure choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    tls: TlsPolicy,
    allow_plaintext_auth: bool,
    require_all_recipients: bool,
    timeouts: Timeouts,
}

impl Config {
    /// The default: TLS required, no AUTH in plaintext, partial delivery allowed, the
    /// RFC 5321 time limits ([`Timeouts::new`]).
    pub const fn new() -> Self {
        Config {
            tls: TlsPolicy::Required,
            allow_plaintext_auth: false,
            require_all_recipients: false,
            timeouts: Timeouts::new(),
        }
    }

    /// Set the TLS policy for connections that start in plaintext (ignored on implicit
    /// TLS connections, which are encrypted from the start).
    pub const fn tls(mut self, policy: TlsPolicy) -> Self {
        self.tls = policy;
        self
    }

    /// Allow AUTH over an unencrypted connection. Off by default: credentials in
    /// plaintext can be read by anyone on the path. Only for loopback or test servers.
    pub const fn allow_plaintext_auth(mut self, allow: bool) -> Self {
        self.allow_plaintext_auth = allow;
        self
    }

    /// Refuse to send a message unless every recipient is accepted (all-or-nothing).
    /// Off by default: the message goes to the accepted recipients and the outcome lists
    /// the refused ones.
    pub const fn require_all_recipients(mut self, require: bool) -> Self {
        self.require_all_recipients = require;
        self
    }

    /// Set the time limits for each phase of the dialogue ([`Timeouts::none`]: wait
    /// forever). They take effect only if the transport has a timer
    /// ([`Transport::sleep`]).
    pub const fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The TLS policy.
    pub const fn tls_policy(&self) -> TlsPolicy {
        self.tls
    }

    /// The time limits.
    pub const fn timeouts_value(&self) -> Timeouts {
        self.timeouts
    }
}

/// The result of a delivered message: the server's final reply (which often holds the
/// queue id) and which recipients were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SendOutcome {
    /// The reply to the end of data (250), for example `2.0.0 Ok: queued as 4F2A1`.
    pub reply: Reply,
    recipients: usize,
    rejected: u128,
    first_rejection: Option<Rejection>,
}

impl SendOutcome {
    /// How many recipients were given.
    pub const fn recipients(&self) -> usize {
        self.recipients
    }

    /// How many recipients the server accepted.
    pub const fn accepted_count(&self) -> usize {
        self.recipients - self.rejected.count_ones() as usize
    }

    /// Whether every recipient was accepted.
    pub const fn all_accepted(&self) -> bool {
        self.rejected == 0
    }

    /// Whether recipient `index` (in the order given to `send_mail`) was accepted.
    pub const fn is_accepted(&self, index: usize) -> bool {
        index < self.recipients && self.rejected & (1 << index) == 0
    }

    /// Indices of the refused recipients.
    pub fn rejected(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.recipients).filter(move |&i| !self.is_accepted(i))
    }

    /// The first refusal, with its code and enhanced status code.
    pub const fn first_rejection(&self) -> Option<Rejection> {
        self.first_rejection
    }
}

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
    transport: T,
    session: Session,
    config: Config,
    rx: [u8; RX],
    rx_len: usize,
    tx: [u8; TX],
    tx_len: usize,
}

impl<T: Transport, const RX: usize, const TX: usize> core::fmt::Debug for SmtpClient<T, RX, TX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("session", &self.session)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn io<E: embedded_io_async::Error>(e: E) -> SmtpError {
    SmtpError::Io(e.kind())
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
        assert!(
            RX >= 512,
            "RX must be at least 512 bytes (RFC 5321 reply lines)"
        );
        assert!(TX >= 64, "TX must be at least 64 bytes");
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
        crate::address::check_domain(ehlo_domain, InputField::EhloDomain, false)?;
        let encrypted = transport.is_encrypted();
        let mut client = SmtpClient {
            transport,
            session: Session::new(RX, encrypted),
            config,
            rx: [0; RX],
            rx_len: 0,
            tx: [0; TX],
            tx_len: 0,
        };
        client
            .drive(
                &mut Job::Connect(ehlo_domain, ConnectAt::Greeting),
                &mut &b""[..],
            )
            .await?;
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

    /// Authenticate with user name and password, choosing the strongest mechanism both
    /// sides support (PLAIN, then LOGIN).
    pub fn login<'a>(
        &'a mut self,
        user: &'a str,
        password: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.auth(None, user, password)
    }

    /// Authenticate with XOAUTH2 (an OAuth 2.0 access token, as Gmail and Microsoft 365
    /// expect).
    pub fn login_xoauth2<'a>(
        &'a mut self,
        user: &'a str,
        token: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.auth(Some(Mechanism::XOAuth2), user, token)
    }

    fn precheck_auth(&self) -> Result<(), SmtpError> {
        if self.session.is_closed() {
            return Err(SmtpError::SessionUnusable);
        }
        if !self.session.is_encrypted() && !self.config.allow_plaintext_auth {
            return Err(SmtpError::PlaintextAuth);
        }
        Ok(())
    }

    /// Authenticate with a chosen mechanism (PLAIN, LOGIN or XOAUTH2).
    pub fn login_with<'a>(
        &'a mut self,
        mech: Mechanism,
        user: &'a str,
        secret: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.auth(Some(mech), user, secret)
    }

    /// `login` (no mechanism given: the strongest both sides support) and `login_with`.
    async fn auth(
        &mut self,
        mech: Option<Mechanism>,
        user: &str,
        secret: &str,
    ) -> Result<(), SmtpError> {
        let offered = self.session.capabilities().auth_mechanisms();
        let Some(mech) = mech.or_else(|| {
            [Mechanism::Plain, Mechanism::Login]
                .into_iter()
                .find(|m| offered.contains(*m))
        }) else {
            // Policy errors first, as for an explicit mechanism.
            self.precheck_auth()?;
            return Err(if offered.is_empty() {
                SmtpError::ExtensionUnavailable(Extension::Auth)
            } else {
                AuthError::NoCommonMechanism.into()
            });
        };
        self.precheck_auth()?;
        let creds = Credentials::new(user, secret);
        auth::validate(mech, &creds)?;
        if !matches!(
            mech,
            Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2
        ) {
            return Err(AuthError::NoCommonMechanism.into());
        }
        if !self.session.capabilities().auth_mechanisms().contains(mech) {
            return Err(if self.session.capabilities().has(Capability::Auth) {
                AuthError::NoCommonMechanism.into()
            } else {
                SmtpError::ExtensionUnavailable(Extension::Auth)
            });
        }
        let mut job = Job::Auth(AuthJob {
            mech,
            creds,
            stream: Base64Stream::single(b""),
            challenges: 0,
            at: AuthAt::Start,
        });
        let result = self.drive(&mut job, &mut &b""[..]).await;
        // No copy of an encoded secret stays in the transmit buffer.
        self.tx.fill(0);
        result.map(|_| ())
    }

    /// Send NOOP and wait for 250.
    pub fn noop(&mut self) -> impl Future<Output = Result<Reply, SmtpError>> + '_ {
        self.simple(Command::Noop, Stage::Noop)
    }

    /// Send RSET (abort any transaction) and wait for 250.
    pub fn rset(&mut self) -> impl Future<Output = Result<Reply, SmtpError>> + '_ {
        self.simple(Command::Rset, Stage::Rset)
    }

    async fn simple(&mut self, cmd: Command<'static>, stage: Stage) -> Result<Reply, SmtpError> {
        let reply = self
            .drive(&mut Job::Simple(cmd, stage), &mut &b""[..])
            .await?;
        reply.ok_or(SmtpError::SessionUnusable)
    }

    /// Send QUIT, wait for the reply, then close the connection with
    /// [`Transport::close`]. A session that is already closed (after a 421 or a fatal
    /// error) writes nothing: the transport is only closed.
    ///
    /// This takes `&mut self` rather than `self` on purpose: an `async fn` that takes the
    /// client by value keeps two copies of it (buffers included) in its future.
    pub async fn quit(&mut self) -> Result<(), SmtpError> {
        self.drive(&mut Job::Quit(QuitAt::Start), &mut &b""[..])
            .await
            .map(|_| ())
    }

    /// Return the transport (after [`quit`](Self::quit), or to abandon the session
    /// without QUIT).
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Send a message given as text (a complete RFC 5322 message: headers, blank line,
    /// body). Line endings may be LF or CRLF; they are sent as CRLF, with dot-stuffing.
    pub fn send_mail<'a>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        message: &'a str,
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send(from, to, message.as_bytes())
    }

    /// Send a message given as bytes (8-bit content is passed through unchanged).
    pub fn send_mail_bytes<'a>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        message: &'a [u8],
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send(from, to, message)
    }

    /// Send a message read from `reader` in chunks, so that a device can send a message
    /// larger than its RAM. If the reader fails, the connection is abandoned before the
    /// end-of-data line, so the server discards the partial message, and the error is
    /// [`SmtpError::BodySource`].
    pub fn send_mail_from_reader<'a, R: Read>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        reader: &'a mut R,
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send(from, to, reader)
    }

    /// The mail transaction behind the three `send_mail*` methods.
    async fn send<R: Read>(
        &mut self,
        from: &str,
        to: &[&str],
        mut reader: R,
    ) -> Result<SendOutcome, SmtpError> {
        let smtputf8 = self.check_envelope(from, to)?;
        let mut job = Job::Mail(MailJob {
            from,
            to,
            smtputf8,
            at: MailAt::Start,
            rcpt: 0,
            rejected: 0,
            first_rejection: None,
            enc: DataEncoder::new(),
            pos: 0,
        });
        let reply = self.drive(&mut job, &mut reader).await?;
        match (job, reply) {
            (Job::Mail(m), Some(reply)) => Ok(SendOutcome {
                reply,
                recipients: to.len(),
                rejected: m.rejected,
                first_rejection: m.first_rejection,
            }),
            _ => Err(SmtpError::SessionUnusable),
        }
    }

    /// Validate the whole envelope before anything is written. Returns whether SMTPUTF8
    /// is needed.
    fn check_envelope(&self, from: &str, to: &[&str]) -> Result<bool, SmtpError> {
        if self.session.is_closed() {
            return Err(SmtpError::SessionUnusable);
        }
        if to.is_empty() {
            return Err(SmtpError::invalid(
                InputField::Recipients,
                InvalidReason::Empty,
            ));
        }
        if to.len() > MAX_RECIPIENTS {
            return Err(SmtpError::invalid(
                InputField::Recipients,
                InvalidReason::TooMany(MAX_RECIPIENTS),
            ));
        }
        // The first field that needs SMTPUTF8, if any.
        let mut needs_utf8 = crate::address::check_mailbox(from, InputField::From, true)?
            .needs_smtputf8
            .then_some(InputField::From);
        let mut needed = 0;
        for (i, rcpt) in to.iter().enumerate() {
            let info = crate::address::check_mailbox(rcpt, InputField::To(i), false)?;
            if info.needs_smtputf8 && needs_utf8.is_none() {
                needs_utf8 = Some(InputField::To(i));
            }
            needed = needed.max(Command::RcptTo(rcpt).encoded_len());
        }
        let smtputf8 = needs_utf8.is_some();
        // Every command line of the transaction must fit the transmit buffer, or the
        // transaction would stop half-way.
        needed = needed.max(Command::MailFrom { from, smtputf8 }.encoded_len());
        if needed > TX {
            return Err(SmtpError::BufferTooSmall { needed });
        }
        if let Some(field) = needs_utf8 {
            if !self.session.capabilities().has(Capability::SmtpUtf8) {
                return Err(SmtpError::invalid(field, InvalidReason::NonAscii));
            }
        }
        Ok(smtputf8)
    }

    // ----- the driver ------------------------------------------------------------------
    //
    // Every public async method above builds a [`Job`] and hands it to `drive`, the only
    // loop that awaits anything. The job's steps (`advance` and the `*_step` methods) are
    // plain synchronous code: they read the last reply, decide, encode the next command
    // into the transmit buffer and say which I/O comes next. One small state machine
    // for all of SMTP keeps the compiled code small (each `.await` in each nested async
    // fn would add its own states). For the same reason the public methods that only
    // forward to another (`connect`, `login`, `noop`, `send_mail` ...) are plain functions
    // returning its future rather than `async fn` wrappers.

    /// Run `job` to completion: perform the I/O each step asks for and feed the result
    /// back. Returns the last reply of jobs that end with one.
    async fn drive<R: Read>(
        &mut self,
        job: &mut Job<'_>,
        reader: &mut R,
    ) -> Result<Option<Reply>, SmtpError> {
        let mut input = Ok(());
        // The reply of the last exchange (`None` after any other step).
        let mut last = None;
        // The write of an exchange went out: its reply comes next.
        let mut reply_next = false;
        loop {
            let step = if reply_next {
                Step::Receive
            } else {
                let step = self.advance(job, input.map(|()| last.as_ref()))?;
                if let Step::Done = step {
                    return Ok(last);
                }
                step
            };
            last = None;
            // One wait per turn, raced against the limit for what it waits for.
            let (limit, stage) = self.limit(&step);
            let result = {
                let io = pin!(async {
                    match step {
                        Step::Done => Ok(None),
                        Step::Exchange | Step::Send => self.flush().await.map(|()| None),
                        Step::Receive => self.read_reply().await.map(Some),
                        Step::Upgrade => match self.transport.upgrade_to_tls().await {
                            Ok(()) => Ok(None),
                            Err(e) => {
                                self.session.close();
                                Err(TlsError::Handshake(e.kind()).into())
                            }
                        },
                        Step::ReadBody => match reader.read(&mut self.rx[..RX.min(TX)]).await {
                            Ok(n) => {
                                self.rx_len = n;
                                Ok(None)
                            }
                            Err(e) => {
                                // Abandon the connection: without the end-of-data line
                                // the server discards what it received.
                                self.session.close();
                                Err(SmtpError::BodySource(e.kind()))
                            }
                        },
                        Step::Close => self.transport.close().await.map(|()| None).map_err(io),
                    }
                });
                within(limit, T::sleep, io).await
            };
            let result = result.unwrap_or_else(|| {
                // Past the limit, the session is over.
                self.session.close();
                Err(SmtpError::Timeout(stage))
            });
            reply_next = matches!((&step, &result), (Step::Exchange, Ok(_)));
            input = result.map(|reply| last = reply);
        }
    }

    /// The time limit of `step`, and the stage a time-out reports: the limit of the
    /// [`Timeouts`] for the command written or the reply awaited (the data-block limit
    /// for message data, reported as [`Stage::Data`]). Reading the body and the TLS
    /// handshake are not limited here.
    fn limit(&self, step: &Step) -> (Limit, Stage) {
        let timeouts = &self.config.timeouts;
        let stage = match step {
            Step::Exchange | Step::Send => match self.session.last_queued() {
                Some(Stage::DataEnd) => return (timeouts.data_block_limit(), Stage::Data),
                stage => stage,
            },
            Step::Receive => self.session.awaiting(),
            Step::Close => Some(Stage::Quit),
            Step::Upgrade | Step::ReadBody | Step::Done => None,
        };
        match stage {
            Some(stage) => (timeouts.limit(stage), stage),
            None => (Limit::NONE, Stage::Greeting),
        }
    }

    /// The next step of `job`, given the outcome of the last one.
    fn advance(&mut self, job: &mut Job<'_>, input: Input<'_>) -> Result<Step, SmtpError> {
        match job {
            Job::Connect(domain, at) => self.connect_step(domain, at, input),
            Job::Auth(a) => self.auth_step(a, input),
            Job::Simple(cmd, stage) => match input? {
                None => {
                    self.queue(*cmd)?;
                    Ok(Step::Exchange)
                }
                Some(reply) if reply.code.is_negative() => Err(self.rejected(*stage, reply)),
                Some(_) => Ok(Step::Done),
            },
            Job::Quit(at) => self.quit_step(at, input),
            Job::Mail(m) => match self.mail_step(m, input) {
                Ok(step) => Ok(step),
                Err((e, reset)) => {
                    if reset && !self.session.is_closed() && self.queue(Command::Rset).is_ok() {
                        // Leave the connection ready for the next message; the original
                        // error is what the caller needs to see.
                        m.at = MailAt::Reset(e);
                        return Ok(Step::Exchange);
                    }
                    Err(e)
                }
            },
        }
    }

    /// Greeting, EHLO (HELO fallback), then STARTTLS, the upgrade and the second EHLO as
    /// the policy demands.
    fn connect_step(
        &mut self,
        domain: &str,
        at: &mut ConnectAt,
        input: Input<'_>,
    ) -> Result<Step, SmtpError> {
        let reply = input?;
        let code = reply.as_ref().map(|r| r.code);
        let required = self.config.tls == TlsPolicy::Required;
        match *at {
            // First call: read the greeting.
            ConnectAt::Greeting if reply.is_none() => return Ok(Step::Exchange),
            ConnectAt::Greeting => {
                let greeting = got(reply)?;
                if greeting.code != ReplyCode::SERVICE_READY {
                    return Err(self.rejected(Stage::Greeting, greeting));
                }
                self.queue(Command::Ehlo(domain))?;
                *at = ConnectAt::Ehlo;
                return Ok(Step::Exchange);
            }
            ConnectAt::Ehlo if code != Some(ReplyCode::OK) => {
                let reply = got(reply)?;
                let needs_tls = !self.session.is_encrypted() && required;
                if reply.code == ReplyCode::SERVICE_UNAVAILABLE || needs_tls {
                    self.session.close();
                    return Err(self.rejected(Stage::Ehlo, reply));
                }
                self.queue(Command::Helo(domain))?;
                *at = ConnectAt::Helo;
                return Ok(Step::Exchange);
            }
            ConnectAt::Helo if code != Some(ReplyCode::OK) => {
                let reply = got(reply)?;
                self.session.close();
                return Err(self.rejected(Stage::Helo, reply));
            }
            ConnectAt::Ehlo | ConnectAt::Helo => {
                // Hello done: STARTTLS next, following the policy.
                if self.session.is_encrypted() || self.config.tls == TlsPolicy::Disabled {
                    return Ok(Step::Done);
                }
                if !self.session.capabilities().has(Capability::StartTls) {
                    if required {
                        self.session.close();
                        return Err(TlsError::NotOffered.into());
                    }
                    return Ok(Step::Done);
                }
                self.queue(Command::StartTls)?;
                *at = ConnectAt::StartTls;
                return Ok(Step::Exchange);
            }
            ConnectAt::StartTls => {
                let reply = got(reply)?;
                if reply.code == ReplyCode::SERVICE_UNAVAILABLE {
                    // The session already closed itself.
                    return Err(self.rejected(Stage::StartTls, reply));
                }
                if reply.code != ReplyCode::SERVICE_READY {
                    if required {
                        self.session.close();
                        return Err(TlsError::Refused(reply.code.get()).into());
                    }
                    return Ok(Step::Done);
                }
                // The session already refused bytes that came with the 220; drop the
                // buffer all the same so nothing read before the handshake can be used
                // after it.
                self.rx_len = 0;
                self.rx.fill(0);
                *at = ConnectAt::Upgrade;
                return Ok(Step::Upgrade);
            }
            ConnectAt::Upgrade => {
                if !self.transport.is_encrypted() {
                    self.session.close();
                    return Err(TlsError::NotEncrypted.into());
                }
                self.session.tls_established();
                self.queue(Command::Ehlo(domain))?;
                *at = ConnectAt::EhloOverTls;
                return Ok(Step::Exchange);
            }
            ConnectAt::EhloOverTls => {}
        }
        let reply = got(reply)?;
        if reply.code != ReplyCode::OK {
            self.session.close();
            return Err(self.rejected(Stage::Ehlo, reply));
        }
        Ok(Step::Done)
    }

    /// AUTH: the initial line, then one response line per 334 challenge.
    fn auth_step(&mut self, a: &mut AuthJob<'_>, input: Input<'_>) -> Result<Step, SmtpError> {
        let reply = input?;
        match a.at {
            AuthAt::Start => {
                if a.mech == Mechanism::Login {
                    self.queue(Command::Auth(a.mech))?;
                    a.at = AuthAt::Reply;
                    return Ok(Step::Exchange);
                }
                a.stream = if a.mech == Mechanism::XOAuth2 {
                    Base64Stream::xoauth2(&a.creds)
                } else {
                    Base64Stream::plain(&a.creds)
                };
                self.start_secret_line()?;
                self.stage(b"AUTH ")?;
                self.stage(a.mech.name().as_bytes())?;
                self.stage(b" ")?;
                a.at = AuthAt::Line;
            }
            AuthAt::Line => {}
            AuthAt::Reply => {
                let reply = got(reply)?;
                if reply.code == ReplyCode::AUTH_SUCCEEDED {
                    return Ok(Step::Done);
                }
                if reply.code != ReplyCode::AUTH_CHALLENGE {
                    return Err(AuthError::Rejected(self.rejection(Stage::Auth, reply)).into());
                }
                a.challenges += 1;
                let limit = match a.mech {
                    Mechanism::Login => 2,
                    Mechanism::XOAuth2 => 1,
                    _ => 0,
                };
                if a.challenges > limit.min(MAX_AUTH_CHALLENGES) {
                    self.session.close();
                    return Err(crate::error::ProtocolViolation::TooManyChallenges.into());
                }
                a.stream = match (a.mech, a.challenges) {
                    (Mechanism::Login, 1) => Base64Stream::single(a.creds.user.as_bytes()),
                    (Mechanism::Login, _) => Base64Stream::single(a.creds.secret.as_bytes()),
                    // XOAUTH2 error challenge: answer with an empty line, the server then
                    // sends the failure reply.
                    _ => Base64Stream::single(b""),
                };
                self.start_secret_line()?;
                a.at = AuthAt::Line;
            }
        }
        // Stream the base64 through the transmit buffer, sending it whenever it fills.
        loop {
            if TX - self.tx_len < ENCODED_BLOCK {
                return Ok(Step::Send);
            }
            let n = a.stream.next_block(&mut self.tx[self.tx_len..]);
            if n == 0 {
                break;
            }
            self.tx_len += n;
        }
        // At least ENCODED_BLOCK bytes of room are left.
        self.stage(b"\r\n")?;
        a.at = AuthAt::Reply;
        Ok(Step::Exchange)
    }

    /// Queue the reply to a line of the AUTH exchange (the line is staged by the caller).
    fn start_secret_line(&mut self) -> Result<(), SmtpError> {
        self.session.queue_expected(Stage::Auth)?;
        #[cfg(feature = "defmt")]
        defmt::debug!("C: AUTH <redacted>");
        Ok(())
    }

    /// QUIT (unless the session is closed already), then close the transport.
    fn quit_step(&mut self, at: &mut QuitAt, input: Input<'_>) -> Result<Step, SmtpError> {
        let result = match *at {
            QuitAt::Start if self.session.is_closed() => Ok(()),
            QuitAt::Start => match self.queue(Command::Quit) {
                Ok(()) => {
                    *at = QuitAt::Reply;
                    return Ok(Step::Exchange);
                }
                Err(e) => Err(e),
            },
            QuitAt::Reply => match input {
                Ok(Some(reply)) if reply.code.is_negative() => {
                    Err(self.rejected(Stage::Quit, reply))
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            },
            // The reply's verdict first, then the transport's.
            QuitAt::Close(result) => return result.and(input).map(|_| Step::Done),
        };
        // Whatever the reply, the session is over.
        self.session.close();
        *at = QuitAt::Close(result);
        Ok(Step::Close)
    }

    /// One mail transaction. On error, the flag says whether RSET should follow.
    fn mail_step(
        &mut self,
        m: &mut MailJob<'_>,
        input: Input<'_>,
    ) -> Result<Step, (SmtpError, bool)> {
        // RSET follows every failure that leaves the session open, except a verdict on
        // the end of data, which ends the transaction by itself.
        let fatal = |e| (e, true);
        if let MailAt::Reset(e) = m.at {
            // The RSET after a failure: its outcome (even a failure or a time-out, which
            // close the session) does not matter.
            return Err((e, false));
        }
        let reply = input.map_err(fatal)?;
        match m.at {
            MailAt::Start => {
                if self.session.phase() != Phase::Ready {
                    return Err((SmtpError::SessionUnusable, false));
                }
                let (from, smtputf8) = (m.from, m.smtputf8);
                self.queue(Command::MailFrom { from, smtputf8 })
                    .map_err(fatal)?;
                m.at = MailAt::MailFrom;
                Ok(Step::Exchange)
            }
            MailAt::MailFrom => {
                let reply = got(reply).map_err(fatal)?;
                if reply.code.is_negative() {
                    return Err((self.rejected(Stage::MailFrom, reply), true));
                }
                m.at = MailAt::RcptTo;
                self.next_rcpt(m).map_err(fatal)
            }
            MailAt::RcptTo => {
                let reply = got(reply).map_err(fatal)?;
                if reply.code.is_negative() {
                    let r = self.rejection(Stage::RcptTo, reply);
                    if reply.code == ReplyCode::SERVICE_UNAVAILABLE {
                        return Err(fatal(SmtpError::Rejected(r)));
                    }
                    m.rejected |= 1 << m.rcpt;
                    m.first_rejection.get_or_insert(r);
                }
                m.rcpt += 1;
                self.next_rcpt(m).map_err(fatal)
            }
            MailAt::Data => {
                let reply = got(reply).map_err(fatal)?;
                if reply.code.is_negative() {
                    return Err((self.rejected(Stage::Data, reply), true));
                }
                self.session.queue_expected(Stage::DataEnd).map_err(fatal)?;
                m.at = MailAt::Body;
                Ok(Step::ReadBody)
            }
            MailAt::Body => Ok(self.body_step(m)),
            MailAt::DataEnd => {
                let reply = got(reply).map_err(fatal)?;
                if reply.code.is_negative() {
                    // The transaction is over either way (RFC 5321 section 4.1.1.4).
                    return Err((self.rejected(Stage::DataEnd, reply), false));
                }
                Ok(Step::Done)
            }
            MailAt::Reset(e) => Err((e, false)),
        }
    }

    /// RCPT TO for the next recipient, or DATA after the last one.
    fn next_rcpt(&mut self, m: &mut MailJob<'_>) -> Result<Step, SmtpError> {
        if let Some(rcpt) = m.to.get(m.rcpt) {
            self.queue(Command::RcptTo(rcpt))?;
            return Ok(Step::Exchange);
        }
        let rejected = m.rejected.count_ones() as usize;
        if let Some(first) = m.first_rejection {
            if rejected == m.to.len() || self.config.require_all_recipients {
                return Err(SmtpError::RecipientsRejected {
                    rejected,
                    total: m.to.len(),
                    first,
                });
            }
        }
        self.queue(Command::Data)?;
        m.at = MailAt::Data;
        Ok(Step::Exchange)
    }

    /// Encode the chunk of the body in the receive buffer (idle while the body is sent)
    /// through the DATA encoder; at the end of the body, the end-of-data line.
    fn body_step(&mut self, m: &mut MailJob<'_>) -> Step {
        if self.rx_len == 0 {
            // The reader is exhausted.
            if TX - self.tx_len < FINISH_MAX {
                return Step::Send;
            }
            // Room for the terminator was made just above (TX >= 64).
            let n = m.enc.finish(&mut self.tx[self.tx_len..]).unwrap_or(0);
            self.tx_len += n;
            m.at = MailAt::DataEnd;
            return Step::Exchange;
        }
        while m.pos < self.rx_len {
            if TX - self.tx_len < 2 {
                return Step::Send;
            }
            let (used, written) = m
                .enc
                .encode(&self.rx[m.pos..self.rx_len], &mut self.tx[self.tx_len..]);
            self.tx_len += written;
            m.pos += used;
        }
        m.pos = 0;
        self.rx_len = 0;
        Step::ReadBody
    }

    // ----- the I/O primitives and buffers ------------------------------------------------

    /// Append bytes to the transmit buffer (the caller made room).
    fn stage(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let end = self.tx_len + bytes.len();
        let Some(dst) = self.tx.get_mut(self.tx_len..end) else {
            return Err(SmtpError::BufferTooSmall { needed: end });
        };
        dst.copy_from_slice(bytes);
        self.tx_len = end;
        Ok(())
    }

    /// Encode one command into the transmit buffer.
    fn queue(&mut self, cmd: Command<'_>) -> Result<(), SmtpError> {
        // Only the command's name is logged: arguments may be personal data.
        #[cfg(feature = "defmt")]
        defmt::debug!("C: {}", crate::session::stage_of(&cmd));
        let n = self.session.encode(cmd, &mut self.tx[self.tx_len..])?;
        self.tx_len += n;
        Ok(())
    }

    /// Write the transmit buffer to the transport.
    async fn flush(&mut self) -> Result<(), SmtpError> {
        if self.tx_len == 0 {
            return Ok(());
        }
        let n = core::mem::replace(&mut self.tx_len, 0);
        let result = async {
            self.transport.write_all(&self.tx[..n]).await.map_err(io)?;
            self.transport.flush().await.map_err(io)
        }
        .await;
        if result.is_err() {
            self.session.close();
        }
        result
    }

    /// Read until the session completes one reply.
    async fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        loop {
            match self.session.receive(&self.rx[..self.rx_len])? {
                Received::Reply {
                    consumed, reply, ..
                } => {
                    self.consume(consumed);
                    #[cfg(feature = "defmt")]
                    defmt::debug!("S: {=u16}", reply.code.get());
                    return Ok(reply);
                }
                Received::NeedMore { consumed } => self.consume(consumed),
            }
            if self.rx_len == RX {
                // Cannot happen: the parser caps lines at RX. Fail closed all the same.
                self.session.close();
                return Err(crate::error::MalformedReply::LineTooLong { limit: RX }.into());
            }
            match self.transport.read(&mut self.rx[self.rx_len..]).await {
                Ok(0) => {
                    self.session.close();
                    return Err(SmtpError::ConnectionClosed);
                }
                Ok(n) => self.rx_len += n,
                Err(e) => {
                    self.session.close();
                    return Err(io(e));
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.rx.copy_within(n..self.rx_len, 0);
        self.rx_len -= n;
    }

    fn rejection(&self, stage: Stage, reply: &Reply) -> Rejection {
        Rejection {
            stage,
            code: reply.code,
            enhanced: reply.enhanced,
        }
    }

    /// The error for a negative reply (positive codes that do not belong were already
    /// refused by the session).
    fn rejected(&self, stage: Stage, reply: &Reply) -> SmtpError {
        SmtpError::Rejected(self.rejection(stage, reply))
    }
}

/// What the last step produced: the reply, for an exchange.
type Input<'r> = Result<Option<&'r Reply>, SmtpError>;

/// The reply an exchange produced (`drive` gives one after every [`Step::Exchange`]).
fn got(reply: Option<&Reply>) -> Result<&Reply, SmtpError> {
    reply.ok_or(SmtpError::SessionUnusable)
}

/// The I/O a job asks [`SmtpClient::drive`] for next.
enum Step {
    /// Write the transmit buffer, then read one complete reply.
    Exchange,
    /// Read one complete reply (the second half of an exchange; only `drive` uses it).
    Receive,
    /// Write the transmit buffer (it is full) and come back.
    Send,
    /// Upgrade the transport to TLS.
    Upgrade,
    /// Read the next chunk of the body into the receive buffer (`rx_len` = its length).
    ReadBody,
    /// Close the transport.
    Close,
    /// The job is done (with the reply of the last exchange, if it was one).
    Done,
}

/// A public operation in progress, as a sans-I/O sequence of steps.
enum Job<'a> {
    /// `connect`: the EHLO domain and where the dialogue stands.
    Connect(&'a str, ConnectAt),
    /// `login_with`.
    Auth(AuthJob<'a>),
    /// `noop`, `rset`: one command; a negative reply is an error for this stage.
    Simple(Command<'static>, Stage),
    /// `quit`.
    Quit(QuitAt),
    /// `send_mail*`.
    Mail(MailJob<'a>),
}

/// Where `connect` stands: the reply it waits for.
#[derive(Clone, Copy)]
enum ConnectAt {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// The TLS handshake.
    Upgrade,
    EhloOverTls,
}

struct AuthJob<'a> {
    mech: Mechanism,
    creds: Credentials<'a>,
    /// The base64 of the line being written.
    stream: Base64Stream<'a>,
    challenges: usize,
    at: AuthAt,
}

#[derive(Clone, Copy)]
enum AuthAt {
    Start,
    /// Writing a line.
    Line,
    /// Waiting for the reply to a line.
    Reply,
}

#[derive(Clone, Copy)]
enum QuitAt {
    Start,
    Reply,
    /// Closing the transport, with the verdict on QUIT.
    Close(Result<(), SmtpError>),
}

struct MailJob<'a> {
    from: &'a str,
    to: &'a [&'a str],
    smtputf8: bool,
    at: MailAt,
    /// The recipient whose RCPT TO was sent last.
    rcpt: usize,
    rejected: u128,
    first_rejection: Option<Rejection>,
    enc: DataEncoder,
    /// How much of the body chunk in the receive buffer is encoded.
    pos: usize,
}

#[derive(Clone, Copy)]
enum MailAt {
    Start,
    MailFrom,
    RcptTo,
    Data,
    Body,
    DataEnd,
    /// RSET after a failure; the error to report.
    Reset(SmtpError),
}
