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
//! With the `timeouts` feature (on by default) every wait for the server has a time
//! limit, per phase, from the [`Timeouts`] in the [`Config`], on the transport's timer
//! ([`Transport::sleep`]); see [`timeouts`](crate::timeouts). A rejected command (4xx/5xx) is not fatal: after a
//! failed transaction the client sends RSET so the connection can be reused.
//!
//! No method is cancel-safe: dropping a future mid-way leaves the session in an unknown
//! state, and the client must be dropped too. Dropping the client mid-message never makes
//! a partial message look sent: the end-of-data line is only written after the whole body.

use crate::auth::{self, Base64Cursor, Credentials, ENCODED_BLOCK};
use crate::capabilities::{Capabilities, Capability, Mechanism};
use crate::command::{Command, MailParams, RcptParams};
use crate::data::{DataEncoder, FINISH_MAX, MAX_LINE};
use crate::error::{
    AuthError, Extension, InputField, InvalidReason, MalformedReply, Rejection, ScramError,
    SmtpError, Stage, TlsError,
};
use crate::reply::{Reply, ReplyCode, ReplyText};
use crate::session::{Phase, Received, Session};
use crate::timeouts::Timeouts;
#[cfg(feature = "timeouts")]
use crate::timeouts::{within, Limit};
use crate::transport::Transport;
use core::future::Future;
use core::marker::PhantomData;
#[cfg(feature = "timeouts")]
use core::pin::pin;
use embedded_io_async::{Error as _, ErrorKind, Read};
use zeroize::Zeroize;

/// Default receive buffer: one reply line up to this length (RFC 5321 allows 512).
pub const DEFAULT_RX: usize = 1024;
/// Default transmit buffer: commands and DATA output are staged here.
pub const DEFAULT_TX: usize = 512;
/// Most recipients in one [`SmtpClient::send_mail`] call (RFC 5321 section 4.5.3.1.8
/// requires servers to accept at least 100).
pub const MAX_RECIPIENTS: usize = 100;
/// Most AUTH challenges (334 replies) accepted in one exchange.
pub const MAX_AUTH_CHALLENGES: usize = 2;
/// Most BDAT chunks of a streamed message left unanswered before the client reads a
/// reply (with PIPELINING).
#[cfg(feature = "chunking")]
pub const BDAT_WINDOW: usize = 8;
/// Room kept for a `BDAT n` line in front of a streamed chunk (`BDAT `, 20 digits, CRLF).
#[cfg(feature = "chunking")]
const CHUNK_HEAD: usize = 27;

/// What the caller expects of TLS on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TlsPolicy {
    /// TLS from the first byte (implicit TLS, "SMTPS", RFC 8314 section 3.3, usually
    /// port 465): the transport must already be encrypted when the client is created.
    /// If it is not, [`SmtpClient::connect_with`] fails with
    /// [`TlsError::PlaintextTransport`] before reading or writing anything (no greeting is
    /// read, no EHLO is sent in the clear). The adapters' `connect_smtps*` functions
    /// use it.
    Implicit,
    /// Upgrade a plaintext connection with STARTTLS; fail when the server does not offer
    /// it or refuses it. Never continue in plaintext. The default. (A connection that is
    /// encrypted from the start is accepted as it is.)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    tls: TlsPolicy,
    allow_plaintext_auth: bool,
    allow_long_lines: bool,
    require_all_recipients: bool,
    pipelining: bool,
    #[cfg(feature = "chunking")]
    chunking: bool,
    #[cfg(feature = "timeouts")]
    timeouts: Timeouts,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The default: TLS required, no AUTH in plaintext, partial delivery allowed,
    /// PIPELINING and CHUNKING (with the `chunking` feature) used when the server offers
    /// them, the RFC 5321 time limits ([`Timeouts::new`], with the `timeouts` feature).
    pub const fn new() -> Self {
        Config {
            tls: TlsPolicy::Required,
            allow_plaintext_auth: false,
            allow_long_lines: false,
            require_all_recipients: false,
            pipelining: true,
            #[cfg(feature = "chunking")]
            chunking: true,
            #[cfg(feature = "timeouts")]
            timeouts: Timeouts::new(),
        }
    }

    /// Use PIPELINING (RFC 2920) when the server offers it (default: on): MAIL FROM, the
    /// RCPT TOs and DATA (or a small message's `BDAT n LAST`) go out in one flight and
    /// their replies are read afterwards, in order. Off: one command per round trip.
    pub const fn pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }

    /// Use CHUNKING (RFC 3030, `BDAT`) when the server offers it (default: on). A
    /// message given as bytes goes as one `BDAT n LAST` chunk (no dot-stuffing, no
    /// terminator line); a streamed message as one chunk per read, but only when
    /// PIPELINING is in use too (otherwise every chunk would cost a round trip, and DATA
    /// is used). Off: always DATA. Needs the `chunking` feature (on by default).
    #[cfg(feature = "chunking")]
    pub const fn chunking(mut self, on: bool) -> Self {
        self.chunking = on;
        self
    }

    /// Set the TLS policy. [`TlsPolicy::Implicit`] requires a transport that is
    /// encrypted from the start; the others say what to do on a connection that starts
    /// in plaintext (they accept an implicit-TLS transport as it is).
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

    /// Send messages with lines longer than 998 octets (off by default).
    ///
    /// RFC 5322 section 2.1.1 limits a line to 998 octets and servers may fold, truncate
    /// or refuse longer ones (breaking signatures on the way), so by default such a
    /// message is refused with [`SmtpError::InvalidInput`] for [`InputField::Body`]
    /// ([`InvalidReason::TooLong`]): before anything is written when the message is
    /// given whole, and by abandoning the transaction (closing the session without the
    /// end of data, so the server discards what it got) when it is streamed.
    pub const fn allow_long_lines(mut self, allow: bool) -> Self {
        self.allow_long_lines = allow;
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
    /// ([`Transport::sleep`]). Needs the `timeouts` feature (on by default).
    #[cfg(feature = "timeouts")]
    pub const fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The TLS policy.
    pub const fn tls_policy(&self) -> TlsPolicy {
        self.tls
    }

    /// The time limits ([`Timeouts::none`] without the `timeouts` feature).
    pub const fn timeouts_value(&self) -> Timeouts {
        #[cfg(feature = "timeouts")]
        return self.timeouts;
        #[cfg(not(feature = "timeouts"))]
        Timeouts::none()
    }
}

/// Per-message options for [`SmtpClient::send_mail_with`] and
/// [`SmtpClient::send_mail_from_reader_with`]. `SendOptions::new()` sends exactly what
/// [`SmtpClient::send_mail`] sends.
///
/// Delivery status notification options (RFC 3461) need the `dsn` feature; they are
/// refused with [`SmtpError::ExtensionUnavailable`]`(`[`Extension::Dsn`]`)` before
/// anything is written when the server does not offer DSN (leaving them out silently
/// would change what the sender asked for: `NOTIFY=NEVER` suppresses bounces, `SUCCESS`
/// is a delivery receipt). Check `capabilities().has(Capability::Dsn)` first for best
/// effort.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SendOptions<'a> {
    eight_bit: bool,
    #[cfg(feature = "dsn")]
    notify: Option<crate::dsn::Notify>,
    #[cfg(feature = "dsn")]
    orcpt: bool,
    #[cfg(feature = "dsn")]
    ret: Option<crate::dsn::Ret>,
    #[cfg(feature = "dsn")]
    envid: Option<&'a str>,
    _borrow: PhantomData<&'a str>,
}

impl<'a> SendOptions<'a> {
    /// No options.
    pub const fn new() -> Self {
        SendOptions {
            eight_bit: false,
            #[cfg(feature = "dsn")]
            notify: None,
            #[cfg(feature = "dsn")]
            orcpt: false,
            #[cfg(feature = "dsn")]
            ret: None,
            #[cfg(feature = "dsn")]
            envid: None,
            _borrow: PhantomData,
        }
    }

    /// Declare that the body holds 8-bit data, so `BODY=8BITMIME` is sent (RFC 6152).
    /// Needed only for streamed bodies, whose bytes are not known when MAIL FROM is sent:
    /// for a body given as bytes the client looks for 8-bit bytes itself. Refused with
    /// `ExtensionUnavailable(Extension::EightBitMime)` when the server lacks 8BITMIME.
    pub const fn eight_bit_mime(mut self, on: bool) -> Self {
        self.eight_bit = on;
        self
    }

    /// `NOTIFY` on every RCPT TO (RFC 3461 section 4.1).
    #[cfg(feature = "dsn")]
    pub const fn notify(mut self, notify: crate::dsn::Notify) -> Self {
        self.notify = Some(notify);
        self
    }

    /// `ORCPT=rfc822;<address>` on every RCPT TO whose address is ASCII (RFC 3461
    /// section 4.2; the RFC 6533 form for UTF-8 addresses is not implemented, such
    /// recipients get no ORCPT).
    #[cfg(feature = "dsn")]
    pub const fn orcpt(mut self, on: bool) -> Self {
        self.orcpt = on;
        self
    }

    /// `RET` on MAIL FROM (RFC 3461 section 4.3).
    #[cfg(feature = "dsn")]
    pub const fn ret(mut self, ret: crate::dsn::Ret) -> Self {
        self.ret = Some(ret);
        self
    }

    /// `ENVID` on MAIL FROM (RFC 3461 section 4.4): printable ASCII, at most 100
    /// octets once xtext-encoded (checked before anything is written).
    #[cfg(feature = "dsn")]
    pub const fn envid(mut self, envid: &'a str) -> Self {
        self.envid = Some(envid);
        self
    }

    /// Whether any DSN parameter is requested.
    const fn wants_dsn(&self) -> bool {
        #[cfg(feature = "dsn")]
        {
            self.notify.is_some() || self.orcpt || self.ret.is_some() || self.envid.is_some()
        }
        #[cfg(not(feature = "dsn"))]
        {
            false
        }
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
    first_rejection_text: ReplyText,
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

    /// The text of the first refusal (bounded, printable ASCII; empty if none).
    pub fn first_rejection_text(&self) -> &str {
        self.first_rejection_text.as_str()
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
    /// Length of the last 334 challenge's text, kept at the start of `rx`.
    challenge_len: usize,
    /// The command the last reply answered.
    reply_stage: Stage,
    /// The text of the reply behind the last rejection reported in an error.
    rejection_text: ReplyText,
    /// A MAIL FROM was accepted on this connection: the server processes transactions,
    /// so a message may follow the envelope in one BDAT flight.
    mail_accepted: bool,
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
        if config.tls == TlsPolicy::Implicit && !encrypted {
            // Nothing read, nothing written: not even the greeting is trusted.
            return Err(TlsError::PlaintextTransport.into());
        }
        let mut client = SmtpClient {
            transport,
            session: Session::new(RX, encrypted),
            config,
            rx: [0; RX],
            rx_len: 0,
            tx: [0; TX],
            tx_len: 0,
            challenge_len: 0,
            reply_stage: Stage::Greeting,
            rejection_text: ReplyText::default(),
            mail_accepted: false,
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

    /// The text of the server reply behind the last [`SmtpError::Rejected`],
    /// [`SmtpError::RecipientsRejected`] (its first refusal) or
    /// [`AuthError::Rejected`] this client returned: bounded to
    /// [`REPLY_TEXT_CAPACITY`](crate::reply::REPLY_TEXT_CAPACITY) octets, bytes outside
    /// printable ASCII replaced by `?`. The code and enhanced status code are in the
    /// error itself (kept small and `Copy`, so the text lives here).
    pub fn rejection_text(&self) -> &str {
        self.rejection_text.as_str()
    }

    /// Authenticate with user name and password, choosing the strongest mechanism both
    /// sides support (see [`choose_mechanism`]): PLAIN, then LOGIN, then CRAM-MD5 (with
    /// the `auth-cram-md5` feature) on an encrypted connection. SCRAM-SHA-256 needs a
    /// client nonce: use `login_with_nonce` (feature `auth-scram`) to include it.
    pub fn login<'a>(
        &'a mut self,
        user: &'a str,
        password: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.auth(AuthRequest::new(None, user, password))
    }

    /// Authenticate with user name and password, choosing the strongest mechanism both
    /// sides support, SCRAM-SHA-256 first (see [`choose_mechanism`]). `nonce` must be
    /// fresh for every call; it is only used if SCRAM is chosen.
    #[cfg(feature = "auth-scram")]
    pub fn login_with_nonce<'a>(
        &'a mut self,
        user: &'a str,
        password: &'a str,
        nonce: &'a crate::auth::scram::ClientNonce,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        let mut req = AuthRequest::new(None, user, password);
        req.nonce = Some(nonce);
        self.auth(req)
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
        let mut req = AuthRequest::new(Some(Mechanism::ScramSha256), user, password);
        req.nonce = Some(nonce);
        self.auth(req)
    }

    /// Authenticate with XOAUTH2 (an OAuth 2.0 access token, as Gmail and Microsoft 365
    /// expect). Needs the `auth-oauth` feature (on by default).
    #[cfg(feature = "auth-oauth")]
    pub fn login_xoauth2<'a>(
        &'a mut self,
        user: &'a str,
        token: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.auth(AuthRequest::new(Some(Mechanism::XOAuth2), user, token))
    }

    /// Authenticate with OAUTHBEARER (RFC 7628), an OAuth 2.0 bearer token, without the
    /// optional `host` and `port` fields. A failure is reported as
    /// [`AuthError::BearerRejected`] with the `status` from the server's JSON error.
    /// Needs the `auth-oauth` feature (on by default).
    #[cfg(feature = "auth-oauth")]
    pub fn login_oauthbearer<'a>(
        &'a mut self,
        user: &'a str,
        token: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.auth(AuthRequest::new(Some(Mechanism::OAuthBearer), user, token))
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
        let mut req = AuthRequest::new(Some(Mechanism::OAuthBearer), user, token);
        req.host = Some((host, port));
        self.auth(req)
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

    /// Authenticate with a chosen mechanism, overriding the automatic choice. `secret` is
    /// the password, or the token for XOAUTH2 and OAUTHBEARER. SCRAM-SHA-256 needs a
    /// nonce: use `login_scram` (feature `auth-scram`) (through this method it fails with
    /// [`InputField::Nonce`]).
    pub fn login_with<'a>(
        &'a mut self,
        mech: Mechanism,
        user: &'a str,
        secret: &'a str,
    ) -> impl Future<Output = Result<(), SmtpError>> + 'a {
        self.auth(AuthRequest::new(Some(mech), user, secret))
    }

    /// Every `login*` method: choose the mechanism, check everything, run the exchange,
    /// then wipe the buffers that held secrets.
    async fn auth(&mut self, req: AuthRequest<'_>) -> Result<(), SmtpError> {
        let offered = self.session.capabilities().auth_mechanisms();
        let Some(mech) = req
            .mech
            .or_else(|| choose_mechanism(offered, self.session.is_encrypted(), req.has_nonce()))
        else {
            // Policy errors first, as for an explicit mechanism.
            self.precheck_auth()?;
            return Err(if offered.is_empty() {
                SmtpError::ExtensionUnavailable(Extension::Auth)
            } else {
                AuthError::NoCommonMechanism.into()
            });
        };
        self.precheck_auth()?;
        auth::validate(mech, &req.creds)?;
        #[cfg(feature = "auth-oauth")]
        if let Some((host, _)) = req.host {
            auth::validate_host(host)?;
        }
        if !is_built_in(mech) {
            return Err(AuthError::MechanismDisabled(mech).into());
        }
        if mech == Mechanism::ScramSha256 && !req.has_nonce() {
            return Err(SmtpError::invalid(InputField::Nonce, InvalidReason::Empty));
        }
        if !offered.contains(mech) {
            return Err(if self.session.capabilities().has(Capability::Auth) {
                AuthError::NoCommonMechanism.into()
            } else {
                SmtpError::ExtensionUnavailable(Extension::Auth)
            });
        }
        let a = AuthJob {
            mech,
            req,
            line: Line::Initial,
            cursor: Base64Cursor::default(),
            challenges: 0,
            at: AuthAt::Start,
            scratch: [0; SCRATCH],
            verified: false,
            #[cfg(feature = "auth-oauth")]
            bearer_error: None,
        };
        a.check_line_lengths()?;
        let mut job = Job::Auth(a);
        let result = self.drive(&mut job, &mut &b""[..]).await;
        if let Job::Auth(a) = &mut job {
            a.scratch.zeroize();
        }
        // No copy of an encoded secret stays in the transmit buffer, and nothing staged
        // but unsent after a failure can ever be sent later. The receive buffer held the
        // decoded challenges (and for SCRAM the client-final message).
        self.tx.zeroize();
        self.tx_len = 0;
        self.challenge_len = 0;
        if let Some(idle) = self.rx.get_mut(self.rx_len..) {
            idle.zeroize();
        }
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
        self.send(
            from,
            to,
            Some(message.as_bytes()),
            &b""[..],
            SendOptions::new(),
        )
    }

    /// Send a message given as bytes (8-bit content is passed through unchanged; it
    /// needs a server that offers 8BITMIME).
    pub fn send_mail_bytes<'a>(
        &'a mut self,
        from: &'a str,
        to: &'a [&'a str],
        message: &'a [u8],
    ) -> impl Future<Output = Result<SendOutcome, SmtpError>> + 'a {
        self.send(from, to, Some(message), &b""[..], SendOptions::new())
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
        self.send(from, to, Some(message), &b""[..], options)
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
        self.send(from, to, None, reader, SendOptions::new())
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
        self.send(from, to, None, reader, options)
    }

    /// The mail transaction behind the `send_mail*` methods: the whole message in
    /// `known`, or streamed from `reader`.
    async fn send<R: Read>(
        &mut self,
        from: &str,
        to: &[&str],
        known: Option<&[u8]>,
        mut reader: R,
        options: SendOptions<'_>,
    ) -> Result<SendOutcome, SmtpError> {
        let mut job = Job::Mail(self.prepare(from, to, known, &options)?);
        let reply = self.drive(&mut job, &mut reader).await?;
        match (job, reply) {
            (Job::Mail(m), Some(reply)) => Ok(SendOutcome {
                reply,
                recipients: to.len(),
                rejected: m.rejected,
                first_rejection: m.first_rejection,
                first_rejection_text: m.first_rejection_text,
            }),
            _ => Err(SmtpError::SessionUnusable),
        }
    }

    /// Validate the whole envelope and the options against the server's capabilities
    /// before anything is written, and choose the parameters and the transfer method.
    /// Out of line on Arm (116 bytes less Cortex-M code), inlined elsewhere (300 bytes
    /// less gzipped wasm), both measured.
    #[cfg_attr(target_arch = "arm", inline(never))]
    fn prepare<'a>(
        &self,
        from: &'a str,
        to: &'a [&'a str],
        known: Option<&'a [u8]>,
        options: &SendOptions<'a>,
    ) -> Result<MailJob<'a>, SmtpError> {
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
        for (i, rcpt) in to.iter().enumerate() {
            let info = crate::address::check_mailbox(rcpt, InputField::To(i), false)?;
            if info.needs_smtputf8 && needs_utf8.is_none() {
                needs_utf8 = Some(InputField::To(i));
            }
        }
        let caps = self.session.capabilities();
        let mut params = MailParams::default();
        #[allow(unused_mut)]
        let mut rcpt_params = RcptParams::default();
        #[cfg(feature = "dsn")]
        {
            if let Some(envid) = options.envid {
                crate::dsn::check_envid(envid)?;
            }
            if options.notify.is_some_and(|n| !n.is_valid()) {
                return Err(SmtpError::invalid(InputField::Notify, InvalidReason::Empty));
            }
            params.ret = options.ret;
            params.envid = options.envid;
            rcpt_params.notify = options.notify;
            rcpt_params.orcpt = options.orcpt;
        }
        if let Some(field) = needs_utf8 {
            if !caps.has(Capability::SmtpUtf8) {
                return Err(SmtpError::invalid(field, InvalidReason::NonAscii));
            }
        }
        if options.wants_dsn() && !caps.has(Capability::Dsn) {
            return Err(SmtpError::ExtensionUnavailable(Extension::Dsn));
        }
        // One pass over a message given whole.
        let facts = known.map(crate::data::body_facts);
        let size = facts.map_or(0, |f| f.size);
        if let Some(facts) = facts {
            if !self.config.allow_long_lines && facts.longest_line > MAX_LINE {
                return Err(SmtpError::invalid(
                    InputField::Body,
                    InvalidReason::TooLong(MAX_LINE),
                ));
            }
            if let Some(limit) = caps.size_limit() {
                if size > limit {
                    return Err(SmtpError::MessageTooLarge { size, limit });
                }
            }
            if caps.has(Capability::Size) {
                params.size = Some(size);
            }
        }
        let eight_bit = options.eight_bit || facts.is_some_and(|f| f.has_8bit);
        if eight_bit && !caps.has(Capability::EightBitMime) {
            return Err(SmtpError::ExtensionUnavailable(Extension::EightBitMime));
        }
        params.eight_bit_mime = eight_bit;
        params.smtputf8 = needs_utf8.is_some();
        // Every command line of the transaction must fit the transmit buffer, or the
        // transaction would stop half-way.
        let mut needed = Command::Mail { from, params }.encoded_len();
        for rcpt in to {
            let cmd = Command::Rcpt {
                to: rcpt,
                params: rcpt_params,
            };
            needed = needed.max(cmd.encoded_len());
        }
        if needed > TX {
            return Err(SmtpError::BufferTooSmall { needed });
        }
        Ok(MailJob {
            from,
            to,
            params,
            rcpt_params,
            known,
            #[cfg(feature = "chunking")]
            size,
            pipelining: self.config.pipelining && caps.has(Capability::Pipelining),
            #[cfg(feature = "chunking")]
            chunking: self.config.chunking && caps.has(Capability::Chunking),
            reset: true,
            at: MailAt::Start,
            transfer: Transfer::None,
            queued: 0,
            answered: 0,
            mail_rejection: None,
            transfer_rejection: None,
            got_354: false,
            delivered: false,
            rejected: 0,
            first_rejection: None,
            first_rejection_text: ReplyText::default(),
            enc: DataEncoder::new(),
            pos: 0,
        })
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
            // One wait per turn, raced against the limit for what it waits for. The I/O is
            // written out here rather than in `async fn` helpers: each nested async fn
            // adds a state machine of its own (about 700 bytes of Cortex-M code for the
            // write and the reply reading, measured).
            #[cfg(feature = "timeouts")]
            let (limit, stage) = self.limit(&step);
            // Without `timeouts` the I/O runs in `drive`'s own state machine, not in an
            // async block of its own (about 190 bytes less Cortex-M code, measured). No
            // `?` or `return` in it: every outcome must reach `result` in both builds.
            macro_rules! perform {
                () => {
                    match step {
                        Step::Done => Ok(()),
                        Step::Exchange | Step::Send if self.tx_len == 0 => Ok(()),
                        Step::Exchange | Step::Send => {
                            // Not `write_all`: its default panics when `write` returns
                            // `Ok(0)`; here that is an I/O error like any other.
                            let n = core::mem::replace(&mut self.tx_len, 0);
                            let mut sent = 0;
                            let written = loop {
                                let Some(rest) = self.tx.get(sent..n).filter(|r| !r.is_empty())
                                else {
                                    break self.transport.flush().await.map_err(io);
                                };
                                let len = rest.len();
                                match self.transport.write(rest).await {
                                    Ok(0) => break Err(io(ErrorKind::WriteZero)),
                                    Ok(k) if k <= len => sent += k,
                                    // More than it was given: the transport's bug.
                                    Ok(_) => break Err(io(ErrorKind::InvalidData)),
                                    Err(e) => break Err(io(e)),
                                }
                            };
                            if written.is_err() {
                                self.session.close();
                            }
                            written
                        }
                        // Read until the session completes one reply.
                        Step::Receive => loop {
                            match self.session.receive(&self.rx[..self.rx_len]) {
                                Ok(Received::Reply {
                                    consumed,
                                    reply,
                                    stage,
                                }) => {
                                    last = Some(self.took_reply(consumed, stage, reply));
                                    break Ok(());
                                }
                                Ok(Received::NeedMore { consumed }) => self.consume(consumed),
                                Err(e) => break Err(e),
                            }
                            if self.rx_len == RX {
                                // Cannot happen: the parser caps lines at RX. Fail closed
                                // all the same.
                                self.session.close();
                                break Err(MalformedReply::LineTooLong { limit: RX }.into());
                            }
                            match self.transport.read(&mut self.rx[self.rx_len..]).await {
                                Ok(0) => {
                                    self.session.close();
                                    break Err(SmtpError::ConnectionClosed);
                                }
                                // A count past the buffer is the transport's bug; fail
                                // closed rather than index out of bounds.
                                Ok(n) if n <= RX - self.rx_len => self.rx_len += n,
                                Ok(_) => {
                                    self.session.close();
                                    break Err(io(ErrorKind::InvalidData));
                                }
                                Err(e) => {
                                    self.session.close();
                                    break Err(io(e));
                                }
                            }
                        },
                        Step::Upgrade => match self.transport.upgrade_to_tls().await {
                            Ok(()) => Ok(()),
                            Err(e) => {
                                self.session.close();
                                Err(TlsError::Handshake(e.kind()).into())
                            }
                        },
                        // The body is read into the receive buffer, which must hold no
                        // reply bytes then (a job never asks otherwise; fail closed if
                        // one did).
                        Step::ReadBody if self.rx_len > 0 => {
                            self.session.close();
                            Err(SmtpError::SessionUnusable)
                        }
                        Step::ReadBody => match reader.read(&mut self.rx[..RX.min(TX)]).await {
                            Ok(n) if n <= RX.min(TX) => {
                                self.rx_len = n;
                                Ok(())
                            }
                            // Abandon the connection: without the end-of-data line the
                            // server discards what it received. A count past the buffer
                            // is the reader's bug.
                            Ok(_) => {
                                self.session.close();
                                Err(SmtpError::BodySource(ErrorKind::InvalidData))
                            }
                            Err(e) => {
                                self.session.close();
                                Err(SmtpError::BodySource(e.kind()))
                            }
                        },
                        Step::Close => self.transport.close().await.map_err(io),
                    }
                };
            }
            #[cfg(feature = "timeouts")]
            let result = within(limit, T::sleep, pin!(async { perform!() })).await;
            #[cfg(not(feature = "timeouts"))]
            let result: Result<(), SmtpError> = perform!();
            #[cfg(feature = "timeouts")]
            let result = result.unwrap_or_else(|| {
                // Past the limit, the session is over.
                self.session.close();
                Err(SmtpError::Timeout(stage))
            });
            reply_next = matches!((&step, &result), (Step::Exchange, Ok(_)));
            input = result;
        }
    }

    /// The time limit of `step`, and the stage a time-out reports: the limit of the
    /// [`Timeouts`] for the command written or the reply awaited (the data-block limit
    /// for message data, reported as [`Stage::Data`]), or for the TLS handshake. Reading
    /// the body is not limited here (the caller's reader is not the server).
    #[cfg(feature = "timeouts")]
    fn limit(&self, step: &Step) -> (Limit, Stage) {
        let timeouts = &self.config.timeouts;
        let stage = match step {
            Step::Exchange | Step::Send => match self.session.last_queued() {
                // Message data (DATA's body and end-of-data line, BDAT chunks).
                Some(Stage::DataEnd | Stage::Bdat) => {
                    return (timeouts.data_block_limit(), Stage::Data)
                }
                stage => stage,
            },
            Step::Receive => self.session.awaiting(),
            Step::Close => Some(Stage::Quit),
            Step::Upgrade => Some(Stage::TlsHandshake),
            Step::ReadBody | Step::Done => None,
        };
        match stage {
            Some(stage) => (timeouts.limit(stage), stage),
            None => (Limit::NONE, Stage::Greeting),
        }
    }

    /// The next step of `job`, given the outcome of the last one. Kept out of `drive`'s
    /// state machine: inlined there it costs about 300 to 400 bytes of Cortex-M code and 70 of
    /// gzipped wasm (measured with `adapter-embassy/firmware/run.sh` and
    /// `benches/wasm-size.sh`).
    #[inline(never)]
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
                Err(e) => {
                    if m.reset && !self.session.is_closed() && self.queue(Command::Rset).is_ok() {
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
                if matches!(a.mech, Mechanism::Login | Mechanism::CramMd5) {
                    // No initial response: the server speaks first.
                    self.queue(Command::Auth(a.mech))?;
                    a.at = AuthAt::Reply;
                    return Ok(Step::Exchange);
                }
                if a.initial_line_len() > auth::MAX_COMMAND_LINE {
                    // RFC 4954 section 4: too long for the AUTH line; the response goes
                    // on its own line after the server's (empty) 334.
                    self.queue(Command::Auth(a.mech))?;
                    a.at = AuthAt::Deferred;
                    return Ok(Step::Exchange);
                }
                self.start_secret_line()?;
                self.stage(b"AUTH ")?;
                self.stage(a.mech.name().as_bytes())?;
                self.stage(b" ")?;
                a.at = AuthAt::Line;
            }
            AuthAt::Line => {}
            AuthAt::Reply | AuthAt::Deferred => {
                let reply = got(reply)?;
                if reply.code == ReplyCode::AUTH_SUCCEEDED {
                    return self.auth_succeeded(a);
                }
                if reply.code != ReplyCode::AUTH_CHALLENGE {
                    let rejection = self.rejection(Stage::Auth, reply);
                    #[cfg(feature = "auth-oauth")]
                    if let Some(status) = a.bearer_error {
                        return Err(AuthError::BearerRejected { rejection, status }.into());
                    }
                    return Err(AuthError::Rejected(rejection).into());
                }
                if let AuthAt::Deferred = a.at {
                    // The go-ahead for the initial response (`a.line` is still
                    // `Initial`); its text, empty by RFC 4422, is not used.
                    self.start_secret_line()?;
                    a.at = AuthAt::Line;
                    return self.stream_line(a);
                }
                a.challenges += 1;
                if a.challenges > challenge_limit(a.mech) {
                    self.session.close();
                    return Err(crate::error::ProtocolViolation::TooManyChallenges.into());
                }
                a.line = match self.answer(a) {
                    Ok(line) => line,
                    Err(e) => {
                        // A broken or hostile challenge: write nothing more.
                        self.session.close();
                        return Err(e);
                    }
                };
                a.cursor = Base64Cursor::default();
                self.start_secret_line()?;
                a.at = AuthAt::Line;
            }
        }
        self.stream_line(a)
    }

    /// Stream the base64 of the line `a` is writing through the transmit buffer, sending
    /// it whenever it fills; at the end, CRLF and wait for the reply.
    fn stream_line(&mut self, a: &mut AuthJob<'_>) -> Result<Step, SmtpError> {
        let mut cursor = a.cursor;
        let port = PortDigits::new(a.req.port());
        loop {
            if TX - self.tx_len < ENCODED_BLOCK {
                a.cursor = cursor;
                return Ok(Step::Send);
            }
            let parts = line_parts(a, a.line, &self.rx, port.as_bytes());
            let n = cursor.next_block(&parts, &mut self.tx[self.tx_len..]);
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

    /// A 235: done, unless the mechanism still owed a proof of the server's identity.
    fn auth_succeeded(&mut self, a: &AuthJob<'_>) -> Result<Step, SmtpError> {
        if a.mech == Mechanism::ScramSha256 && !a.verified {
            self.session.close();
            return Err(AuthError::Scram(ScramError::ServerSignatureMissing).into());
        }
        #[cfg(feature = "auth-oauth")]
        if a.bearer_error.is_some() {
            // RFC 7628 section 3.2.3: after an error challenge the outcome is a failure.
            self.session.close();
            return Err(crate::error::ProtocolViolation::UnexpectedCode {
                stage: Stage::Auth,
                code: ReplyCode::AUTH_SUCCEEDED.get(),
            }
            .into());
        }
        Ok(Step::Done)
    }

    /// The response line to a 334 challenge (the challenge text is at the start of the
    /// receive buffer, see [`Self::took_reply`]).
    fn answer(&mut self, a: &mut AuthJob<'_>) -> Result<Line, SmtpError> {
        Ok(match a.mech {
            Mechanism::Login if a.challenges == 1 => Line::LoginUser,
            Mechanism::Login => Line::LoginPassword,
            // XOAUTH2 error challenge: answer with an empty line, the server then sends
            // the failure reply.
            #[cfg(feature = "auth-oauth")]
            Mechanism::XOAuth2 => Line::Empty,
            #[cfg(feature = "auth-oauth")]
            Mechanism::OAuthBearer => {
                // RFC 7628 section 3.2.3: the error challenge is answered with a single
                // %x01; the server then sends the failure reply.
                a.bearer_error = Some(auth::BearerStatus::from_json(self.challenge()?));
                Line::BearerAbort
            }
            #[cfg(feature = "auth-cram-md5")]
            Mechanism::CramMd5 => {
                let challenge = self.challenge()?;
                if challenge.is_empty() {
                    return Err(crate::error::MalformedReply::BadChallenge.into());
                }
                let digest = auth::cram_md5::digest_hex(a.req.creds.secret.as_bytes(), challenge);
                if let Some(dst) = a.scratch.get_mut(..auth::cram_md5::DIGEST_HEX) {
                    dst.copy_from_slice(&digest);
                }
                Line::CramResponse
            }
            #[cfg(feature = "auth-scram")]
            Mechanism::ScramSha256 if a.challenges == 1 => {
                use auth::scram;
                let nonce = a.req.nonce.map(|n| n.as_bytes()).unwrap_or_default();
                let creds = a.req.creds;
                let server_first = self.challenge()?;
                let parsed =
                    scram::parse_server_first(server_first, nonce).map_err(AuthError::Scram)?;
                let fin = scram::client_final(
                    creds.secret.as_bytes(),
                    creds.user.as_bytes(),
                    nonce,
                    server_first,
                    &parsed,
                )
                .map_err(AuthError::Scram)?;
                if let Some(dst) = a.scratch.get_mut(..scram::PROOF_B64) {
                    dst.copy_from_slice(&fin.proof);
                }
                if let Some(dst) = a.scratch.get_mut(scram::PROOF_B64..scram::PROOF_B64 + 32) {
                    dst.copy_from_slice(&fin.server_signature);
                }
                Line::ScramFinal {
                    start: parsed.nonce.start,
                    end: parsed.nonce.end,
                }
            }
            #[cfg(feature = "auth-scram")]
            Mechanism::ScramSha256 => {
                let mut expected = [0u8; 32];
                if let Some(src) = a
                    .scratch
                    .get(auth::scram::PROOF_B64..auth::scram::PROOF_B64 + 32)
                {
                    expected.copy_from_slice(src);
                }
                let result = auth::scram::verify_server_final(self.challenge()?, &expected);
                expected.zeroize();
                result.map_err(AuthError::Scram)?;
                a.verified = true;
                Line::Empty
            }
            _ => return Err(crate::error::ProtocolViolation::TooManyChallenges.into()),
        })
    }

    /// Decode the last 334 challenge in place at the start of the receive buffer (idle
    /// until the next reply is read) and return it.
    #[cfg(any(
        feature = "auth-oauth",
        feature = "auth-scram",
        feature = "auth-cram-md5"
    ))]
    fn challenge(&mut self) -> Result<&[u8], SmtpError> {
        let len = core::mem::take(&mut self.challenge_len);
        let text = match self.rx.get_mut(..len) {
            Some([text @ .., b' ']) | Some(text) => text,
            None => &mut [],
        };
        match <base64ct::Base64 as base64ct::Encoding>::decode_in_place(text) {
            Ok(decoded) => Ok(decoded),
            Err(_) => Err(crate::error::MalformedReply::BadChallenge.into()),
        }
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

    /// One mail transaction. On error, RSET follows unless `m.reset` was cleared (RSET
    /// is never written on a closed session, nor outside [`Phase::Ready`]).
    ///
    /// Replies are handled one at a time in the order of the commands
    /// ([`mail_reply`](Self::mail_reply)); decisions that depend on several replies
    /// (is any recipient left, may the message be sent) are taken only once every
    /// command sent so far is answered ([`mail_decide`](Self::mail_decide)). So the same
    /// code runs with and without PIPELINING: without it, one command is answered at a
    /// time.
    fn mail_step(&mut self, m: &mut MailJob<'_>, input: Input<'_>) -> Result<Step, SmtpError> {
        if let MailAt::Reset(e) = m.at {
            // The RSET after a failure, and any reply of the flight still due before it:
            // read them all while they come; their outcome (even a failure or a
            // time-out, which close the session) does not matter.
            if input.is_ok() && self.session.outstanding() > 0 {
                return Ok(Step::Exchange);
            }
            m.reset = false;
            return Err(e);
        }
        let reply = input?;
        match m.at {
            MailAt::Start => {
                if self.session.phase() != Phase::Ready {
                    // No RSET follows (the session would refuse it outside `Ready`).
                    m.reset = false;
                    return Err(SmtpError::SessionUnusable);
                }
                let (from, params) = (m.from, m.params);
                self.queue(Command::Mail { from, params })?;
                if m.pipelining {
                    m.at = MailAt::Commands;
                    return self.flight_step(m);
                }
                m.at = MailAt::Replies;
                Ok(Step::Exchange)
            }
            MailAt::Commands => self.flight_step(m),
            MailAt::Replies => {
                let reply = got(reply)?;
                self.mail_reply(m, reply)?;
                if self.session.outstanding() > 0 {
                    // More replies of the flight to read (the flush is a no-op).
                    return Ok(Step::Exchange);
                }
                self.mail_decide(m)
            }
            MailAt::Body => self.body_step(m),
            #[cfg(feature = "chunking")]
            MailAt::Window => {
                let reply = got(reply)?;
                self.mail_reply(m, reply)?;
                if m.transfer_rejection.is_some() {
                    // Stop sending chunks; read what is left, then report.
                    m.at = MailAt::Replies;
                    if self.session.outstanding() > 0 {
                        return Ok(Step::Exchange);
                    }
                    return self.mail_decide(m);
                }
                // Replies that arrived together are taken now: the receive buffer must be
                // empty before the next chunk of the body is read into it.
                let pending = self.session.outstanding();
                if pending >= BDAT_WINDOW || (pending > 0 && self.rx_len > 0) {
                    return Ok(Step::Exchange);
                }
                m.at = MailAt::Body;
                Ok(Step::ReadBody)
            }
            // The reply to the lone end-of-data line: the transaction is over whatever
            // it says.
            // Handled before the match.
            MailAt::Dot(e) | MailAt::Reset(e) => {
                m.reset = false;
                Err(e)
            }
        }
    }

    /// PIPELINING: stage every RCPT TO after MAIL FROM, then DATA, or `BDAT n LAST` with
    /// the whole message when it fits the transmit buffer and a MAIL FROM was accepted
    /// on this connection before, writing whenever the buffer fills; the replies are read
    /// once the whole flight is written.
    fn flight_step(&mut self, m: &mut MailJob<'_>) -> Result<Step, SmtpError> {
        while let Some(&to) = m.to.get(m.queued) {
            let cmd = Command::Rcpt {
                to,
                params: m.rcpt_params,
            };
            if cmd.encoded_len() > TX - self.tx_len {
                return Ok(Step::Send);
            }
            self.queue(cmd)?;
            m.queued += 1;
        }
        if self.config.require_all_recipients {
            // All-or-nothing: DATA only once every recipient is known to be accepted
            // (after a 354 the message could no longer be held back).
            m.at = MailAt::Replies;
            return Ok(Step::Exchange);
        }
        #[cfg(not(feature = "chunking"))]
        let cmd = Command::Data;
        #[cfg(feature = "chunking")]
        let cmd = match m.known {
            // Only once a MAIL FROM was accepted on this connection: a server that
            // refuses commands before looking at them (Postfix's 530 "Must issue a
            // STARTTLS command first") does not skip a refused chunk and would read the
            // message as commands.
            Some(_) if m.chunking && self.mail_accepted => Command::Bdat {
                size: m.size,
                last: true,
            },
            // A streamed message, or the first message: BDAT once the envelope is
            // accepted.
            _ if m.chunking => {
                m.at = MailAt::Replies;
                return Ok(Step::Exchange);
            }
            _ => Command::Data,
        };
        let len = cmd.encoded_len();
        #[cfg(feature = "chunking")]
        if let Command::Bdat { size, .. } = cmd {
            if size.saturating_add(len as u64) > TX as u64 {
                // Too big for one flight: the envelope first, the message once accepted.
                m.at = MailAt::Replies;
                return Ok(Step::Exchange);
            }
        }
        if len > TX - self.tx_len {
            return Ok(Step::Send);
        }
        self.queue(cmd)?;
        #[cfg(feature = "chunking")]
        if let Command::Bdat { .. } = cmd {
            m.transfer = Transfer::Bdat;
            m.enc = DataEncoder::chunked();
            m.at = MailAt::Body;
            return self.body_step(m);
        }
        m.transfer = Transfer::Data;
        m.at = MailAt::Replies;
        Ok(Step::Exchange)
    }

    /// Take one reply of the transaction into account. Only a 421 stops at once.
    fn mail_reply(&mut self, m: &mut MailJob<'_>, reply: &Reply) -> Result<(), SmtpError> {
        let stage = self.reply_stage;
        if reply.code == ReplyCode::SERVICE_UNAVAILABLE {
            // The session closed itself: nothing more can be written.
            return Err(self.rejected(stage, reply));
        }
        if stage == Stage::RcptTo {
            let index = m.answered;
            m.answered += 1;
            if reply.code.is_negative() {
                m.rejected |= 1u128.checked_shl(index as u32).unwrap_or(0);
                if m.first_rejection.is_none() {
                    m.first_rejection = Some(Rejection {
                        stage,
                        code: reply.code,
                        enhanced: reply.enhanced,
                    });
                    m.first_rejection_text = reply.text.clone();
                }
            }
            return Ok(());
        }
        if !reply.code.is_negative() {
            match stage {
                Stage::MailFrom => self.mail_accepted = true,
                Stage::Data => m.got_354 = true,
                Stage::DataEnd => m.delivered = true,
                _ => {}
            }
            return Ok(());
        }
        if m.mail_rejection.is_some() || m.transfer_rejection.is_some() {
            // Only the first refusal of MAIL FROM, DATA or BDAT is reported.
            return Ok(());
        }
        let r = self.rejection(stage, reply);
        if stage == Stage::MailFrom {
            m.mail_rejection = Some(r);
        } else {
            m.transfer_rejection = Some(r);
        }
        Ok(())
    }

    /// Every command sent so far is answered: what comes next.
    fn mail_decide(&mut self, m: &mut MailJob<'_>) -> Result<Step, SmtpError> {
        if let Some(r) = m.mail_rejection {
            return self.mail_fail(m, SmtpError::Rejected(r));
        }
        if let Some(&to) = m.to.get(m.queued) {
            // Without PIPELINING: the next recipient.
            let cmd = Command::Rcpt {
                to,
                params: m.rcpt_params,
            };
            self.queue(cmd)?;
            m.queued += 1;
            return Ok(Step::Exchange);
        }
        let rejected = m.rejected.count_ones() as usize;
        if let Some(first) = m.first_rejection {
            if rejected == m.to.len() || self.config.require_all_recipients {
                self.rejection_text = m.first_rejection_text.clone();
                let e = SmtpError::RecipientsRejected {
                    rejected,
                    total: m.to.len(),
                    first,
                };
                return self.mail_fail(m, e);
            }
        }
        if let Some(r) = m.transfer_rejection {
            return self.mail_fail(m, SmtpError::Rejected(r));
        }
        if m.delivered {
            return Ok(Step::Done);
        }
        match m.transfer {
            Transfer::None => self.start_transfer(m),
            Transfer::Data if m.got_354 => {
                m.got_354 = false;
                self.session.queue_expected(Stage::DataEnd)?;
                m.at = MailAt::Body;
                if m.known.is_some() {
                    return self.body_step(m);
                }
                Ok(Step::ReadBody)
            }
            // Every reply was checked by the session: DATA is answered 354 or refused,
            // the last BDAT chunk 250 or refused.
            _ => {
                m.reset = false;
                Err(SmtpError::SessionUnusable)
            }
        }
    }

    /// Send DATA, or start the BDAT chunks.
    fn start_transfer(&mut self, m: &mut MailJob<'_>) -> Result<Step, SmtpError> {
        // A streamed message in BDAT chunks only with PIPELINING: otherwise every chunk
        // would wait for its reply, where DATA streams the whole message at once.
        #[cfg(feature = "chunking")]
        if m.chunking && (m.known.is_some() || m.pipelining) {
            m.transfer = Transfer::Bdat;
            m.enc = DataEncoder::chunked();
            m.at = MailAt::Body;
            if m.known.is_some() {
                self.queue(Command::Bdat {
                    size: m.size,
                    last: true,
                })?;
                return self.body_step(m);
            }
            return Ok(Step::ReadBody);
        }
        self.queue(Command::Data)?;
        m.transfer = Transfer::Data;
        m.at = MailAt::Replies;
        Ok(Step::Exchange)
    }

    /// The transaction failed with `e`. If DATA was answered 354 (pipelined, before the
    /// failure was known), the message is ended at once with the lone end-of-data line
    /// (RFC 2920 section 3.1) and nothing else; otherwise RSET follows, except after a
    /// refusal of the DATA end of message, which ends the transaction by itself (RFC
    /// 5321 section 4.1.1.4).
    fn mail_fail(&mut self, m: &mut MailJob<'_>, e: SmtpError) -> Result<Step, SmtpError> {
        if m.got_354 {
            m.got_354 = false;
            let sent = self
                .session
                .queue_expected(Stage::DataEnd)
                .and_then(|()| self.stage(b".\r\n"));
            return match sent {
                Ok(()) => {
                    m.at = MailAt::Dot(e);
                    Ok(Step::Exchange)
                }
                Err(_) => {
                    // Cannot happen (the buffer is empty here); never leave DATA open
                    // (no RSET on the closed session).
                    self.session.close();
                    Err(e)
                }
            };
        }
        if matches!(e, SmtpError::Rejected(r) if r.stage == Stage::DataEnd)
            && m.transfer == Transfer::Data
        {
            m.reset = false;
        }
        Err(e)
    }

    /// Encode the message into the transmit buffer: from `known`, or from the chunk of a
    /// streamed body in the receive buffer (idle while the body is sent). At the end, the
    /// end of the message (DATA's terminator, or the end of the last line).
    fn body_step(&mut self, m: &mut MailJob<'_>) -> Result<Step, SmtpError> {
        if let Some(body) = m.known {
            while let Some(rest) = body.get(m.pos..).filter(|r| !r.is_empty()) {
                if TX - self.tx_len < 2 {
                    return Ok(Step::Send);
                }
                let (used, written) = m.enc.encode(rest, &mut self.tx[self.tx_len..]);
                self.tx_len += written;
                m.pos += used;
            }
            return Ok(self.end_body(m));
        }
        #[cfg(feature = "chunking")]
        if m.transfer == Transfer::Bdat {
            return self.chunk_step(m);
        }
        if self.rx_len == 0 {
            // The reader is exhausted.
            return Ok(self.end_body(m));
        }
        while m.pos < self.rx_len {
            if TX - self.tx_len < 2 {
                return Ok(Step::Send);
            }
            let (used, written) = m
                .enc
                .encode(&self.rx[m.pos..self.rx_len], &mut self.tx[self.tx_len..]);
            self.tx_len += written;
            m.pos += used;
            self.check_line_length(m)?;
        }
        m.pos = 0;
        self.rx_len = 0;
        Ok(Step::ReadBody)
    }

    /// A streamed message with a line over [`MAX_LINE`] octets (unless allowed): abandon
    /// it. The session closes without the end of data (or the LAST chunk), so the server
    /// discards what it received; the staged bytes are dropped.
    fn check_line_length(&mut self, m: &MailJob<'_>) -> Result<(), SmtpError> {
        if m.enc.overlong() && !self.config.allow_long_lines {
            self.session.close();
            self.tx_len = 0;
            return Err(SmtpError::invalid(
                InputField::Body,
                InvalidReason::TooLong(MAX_LINE),
            ));
        }
        Ok(())
    }

    /// The end of a message whose DATA or `BDAT n LAST` line is already sent.
    fn end_body(&mut self, m: &mut MailJob<'_>) -> Step {
        if TX - self.tx_len < FINISH_MAX {
            return Step::Send;
        }
        // Room for the tail was made just above (TX >= 64).
        let n = m.enc.finish(&mut self.tx[self.tx_len..]).unwrap_or(0);
        self.tx_len += n;
        m.at = MailAt::Replies;
        Step::Exchange
    }

    /// A streamed message in BDAT chunks (with PIPELINING): each read becomes one chunk
    /// (or more, when its encoding does not fit the transmit buffer), sent without
    /// waiting for its reply while fewer than [`BDAT_WINDOW`] are unanswered; at the end
    /// of the reader, `BDAT n LAST` with the end of the last line (n is 0 or 2).
    #[cfg(feature = "chunking")]
    fn chunk_step(&mut self, m: &mut MailJob<'_>) -> Result<Step, SmtpError> {
        if self.rx_len == 0 {
            let tail = m.enc.tail();
            let cmd = Command::Bdat {
                size: tail.len() as u64,
                last: true,
            };
            if cmd.encoded_len() + tail.len() > TX - self.tx_len {
                return Ok(Step::Send);
            }
            self.queue(cmd)?;
            self.stage(tail)?;
            m.enc = DataEncoder::chunked();
            m.at = MailAt::Replies;
            return Ok(Step::Exchange);
        }
        while m.pos < self.rx_len {
            if TX - self.tx_len < CHUNK_HEAD + 2 {
                return Ok(Step::Send);
            }
            // Encode behind room for the BDAT line, then close the gap.
            let start = self.tx_len;
            let data = start + CHUNK_HEAD;
            let (used, written) = m
                .enc
                .encode(&self.rx[m.pos..self.rx_len], &mut self.tx[data..]);
            m.pos += used;
            self.check_line_length(m)?;
            if written == 0 {
                // A lone CR, held back until the next byte shows whether LF follows.
                continue;
            }
            let mut head = [0u8; CHUNK_HEAD];
            let cmd = Command::Bdat {
                size: written as u64,
                last: false,
            };
            let n = self.session.encode(cmd, &mut head)?;
            self.tx.copy_within(data..data + written, start + n);
            self.tx[start..start + n].copy_from_slice(&head[..n]);
            self.tx_len = start + n + written;
        }
        m.pos = 0;
        self.rx_len = 0;
        if self.session.outstanding() >= BDAT_WINDOW {
            m.at = MailAt::Window;
            return Ok(Step::Exchange);
        }
        Ok(Step::ReadBody)
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

    /// The bookkeeping of a reply the session completed with the first `consumed`
    /// bytes of the receive buffer.
    fn took_reply(&mut self, consumed: usize, stage: Stage, reply: Reply) -> Reply {
        // Keep the text of a 334 challenge: moved to the start of the (then empty)
        // receive buffer for the AUTH step to decode.
        let challenge = if stage == Stage::Auth && reply.code == ReplyCode::AUTH_CHALLENGE {
            last_line_text(self.rx.get(..consumed).unwrap_or_default())
        } else {
            None
        };
        self.consume(consumed);
        self.challenge_len = 0;
        if let (Some(text), 0) = (challenge, self.rx_len) {
            self.challenge_len = text.len();
            self.rx.copy_within(text, 0);
        }
        self.reply_stage = stage;
        #[cfg(feature = "defmt")]
        defmt::debug!("S: {=u16}", reply.code.get());
        reply
    }

    fn consume(&mut self, n: usize) {
        self.rx.copy_within(n..self.rx_len, 0);
        self.rx_len -= n;
    }

    /// The rejection for a negative reply; its text is kept for
    /// [`rejection_text`](Self::rejection_text).
    fn rejection(&mut self, stage: Stage, reply: &Reply) -> Rejection {
        self.rejection_text = reply.text.clone();
        Rejection {
            stage,
            code: reply.code,
            enhanced: reply.enhanced,
        }
    }

    /// The error for a negative reply (positive codes that do not belong were already
    /// refused by the session).
    fn rejected(&mut self, stage: Stage, reply: &Reply) -> SmtpError {
        SmtpError::Rejected(self.rejection(stage, reply))
    }
}

/// Where the text of the last line of a complete 334 reply lies in `reply` (which ends
/// with that line's CRLF): after the code and its separator. (A 3xx line never carries an
/// enhanced status code, whose class is 2, 4 or 5.)
fn last_line_text(reply: &[u8]) -> Option<core::ops::Range<usize>> {
    let end = reply.len().checked_sub(2)?;
    let start = reply
        .get(..end)?
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Some((start + 4).min(end)..end)
}

/// The automatic choice of [`SmtpClient::login`] and `SmtpClient::login_with_nonce` (feature `auth-scram`):
/// the first mechanism of the preference order that the server offers and this build
/// implements (XOAUTH2 and OAUTHBEARER take a token, not a password: never chosen).
///
/// | connection | order |
/// |---|---|
/// | encrypted | SCRAM-SHA-256 (with a nonce), PLAIN, LOGIN, CRAM-MD5 |
/// | plaintext (only with [`Config::allow_plaintext_auth`]) | SCRAM-SHA-256 (with a nonce), CRAM-MD5, PLAIN, LOGIN |
///
/// SCRAM-SHA-256 comes first everywhere: the password never leaves the client, the
/// server proves it knows it, and a captured exchange does not replay. Under TLS, PLAIN
/// beats CRAM-MD5: TLS already hides the password, and CRAM-MD5 forces the server to
/// keep plaintext-equivalent passwords and rests on HMAC-MD5 (RFC 8314 and the IETF's
/// move of CRAM-MD5 to Historic point the same way). Without TLS, CRAM-MD5 at least
/// keeps the password itself off the wire, so it goes before PLAIN and LOGIN.
pub fn choose_mechanism(
    offered: crate::capabilities::Mechanisms,
    encrypted: bool,
    have_nonce: bool,
) -> Option<Mechanism> {
    use Mechanism::{CramMd5, Login, Plain, ScramSha256};
    let order = if encrypted {
        [ScramSha256, Plain, Login, CramMd5]
    } else {
        [ScramSha256, CramMd5, Plain, Login]
    };
    order
        .into_iter()
        .find(|&m| offered.contains(m) && is_built_in(m) && (m != ScramSha256 || have_nonce))
}

/// Whether this build implements `mech` (SCRAM-SHA-256 and CRAM-MD5 are cargo features).
const fn is_built_in(mech: Mechanism) -> bool {
    match mech {
        Mechanism::Plain | Mechanism::Login => true,
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => cfg!(feature = "auth-oauth"),
        Mechanism::ScramSha256 => cfg!(feature = "auth-scram"),
        Mechanism::CramMd5 => cfg!(feature = "auth-cram-md5"),
    }
}

/// Most 334 challenges each mechanism may receive.
fn challenge_limit(mech: Mechanism) -> usize {
    let limit = match mech {
        Mechanism::Plain => 0,
        Mechanism::XOAuth2 | Mechanism::OAuthBearer | Mechanism::CramMd5 => 1,
        // LOGIN: user name and password prompts; SCRAM: server-first and server-final.
        Mechanism::Login | Mechanism::ScramSha256 => 2,
    };
    limit.min(MAX_AUTH_CHALLENGES)
}

/// The pieces of the line `a` is writing. Rebuilt at every block from their owners (the
/// caller's strings, the job's scratch space and the receive buffer), so that no copy of
/// a secret is made.
#[cfg_attr(
    not(all(feature = "auth-scram", feature = "auth-oauth")),
    allow(unused_variables)
)]
fn line_parts<'p>(
    a: &'p AuthJob<'_>,
    line: Line,
    rx: &'p [u8],
    port: &'p [u8],
) -> auth::SaslParts<'p> {
    let creds = &a.req.creds;
    match line {
        Line::Initial => match a.mech {
            Mechanism::Plain => auth::plain(creds),
            #[cfg(feature = "auth-oauth")]
            Mechanism::XOAuth2 => auth::xoauth2(creds),
            #[cfg(feature = "auth-oauth")]
            Mechanism::OAuthBearer => auth::oauthbearer(creds, a.req.host.map(|(h, _)| (h, port))),
            #[cfg(feature = "auth-scram")]
            Mechanism::ScramSha256 => auth::SaslParts::new()
                .push(b"n,,n=")
                .push_escaped(creds.user.as_bytes())
                .push(b",r=")
                .push(a.req.nonce.map(|n| n.as_bytes()).unwrap_or_default()),
            _ => auth::SaslParts::new(),
        },
        Line::LoginUser => auth::single(creds.user.as_bytes()),
        Line::LoginPassword => auth::single(creds.secret.as_bytes()),
        #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
        Line::Empty => auth::SaslParts::new(),
        #[cfg(feature = "auth-oauth")]
        Line::BearerAbort => auth::single(b"\x01"),
        #[cfg(feature = "auth-cram-md5")]
        Line::CramResponse => auth::SaslParts::new()
            .push(creds.user.as_bytes())
            .push(b" ")
            .push(a.scratch.get(..32).unwrap_or_default()),
        #[cfg(feature = "auth-scram")]
        Line::ScramFinal { start, end } => auth::SaslParts::new()
            .push(b"c=biws,r=")
            .push(rx.get(start..end).unwrap_or_default())
            .push(b",p=")
            .push(a.scratch.get(..44).unwrap_or_default()),
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

/// A public operation in progress, as a sans-I/O sequence of steps. One lives in each
/// operation's future (no heap to box the mail job into).
#[allow(clippy::large_enum_variant)]
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

/// What a `login*` method asked for.
struct AuthRequest<'a> {
    /// `None`: choose automatically.
    mech: Option<Mechanism>,
    creds: Credentials<'a>,
    /// OAUTHBEARER `host` and `port`.
    #[cfg(feature = "auth-oauth")]
    host: Option<(&'a str, u16)>,
    #[cfg(feature = "auth-scram")]
    nonce: Option<&'a crate::auth::scram::ClientNonce>,
}

impl<'a> AuthRequest<'a> {
    fn new(mech: Option<Mechanism>, user: &'a str, secret: &'a str) -> Self {
        AuthRequest {
            mech,
            creds: Credentials::new(user, secret),
            #[cfg(feature = "auth-oauth")]
            host: None,
            #[cfg(feature = "auth-scram")]
            nonce: None,
        }
    }

    fn has_nonce(&self) -> bool {
        #[cfg(feature = "auth-scram")]
        return self.nonce.is_some();
        #[cfg(not(feature = "auth-scram"))]
        false
    }

    /// The OAUTHBEARER `port`, if one is sent.
    fn port(&self) -> Option<u16> {
        #[cfg(feature = "auth-oauth")]
        return self.host.map(|(_, port)| port);
        #[cfg(not(feature = "auth-oauth"))]
        None
    }
}

/// The decimal digits of an OAUTHBEARER port (none without a port).
struct PortDigits {
    digits: [u8; 5],
    start: usize,
}

impl PortDigits {
    #[cfg(feature = "auth-oauth")]
    fn new(port: Option<u16>) -> Self {
        match port {
            Some(port) => {
                let (digits, start) = auth::port_digits(port);
                PortDigits { digits, start }
            }
            None => PortDigits::NONE,
        }
    }

    #[cfg(not(feature = "auth-oauth"))]
    fn new(_: Option<u16>) -> Self {
        PortDigits::NONE
    }

    const NONE: PortDigits = PortDigits {
        digits: [0; 5],
        start: 5,
    };

    fn as_bytes(&self) -> &[u8] {
        self.digits.get(self.start..).unwrap_or_default()
    }
}

/// Scratch space of an AUTH exchange: the SCRAM proof (base64) and expected server
/// signature, or the CRAM-MD5 digest. Wiped when the exchange ends.
const SCRATCH: usize = if cfg!(feature = "auth-scram") {
    76
} else if cfg!(feature = "auth-cram-md5") {
    32
} else {
    0
};

struct AuthJob<'a> {
    mech: Mechanism,
    req: AuthRequest<'a>,
    /// The line being written, and how far.
    line: Line,
    cursor: Base64Cursor,
    challenges: usize,
    at: AuthAt,
    scratch: [u8; SCRATCH],
    /// SCRAM: the server signature was checked.
    verified: bool,
    /// OAUTHBEARER: the server sent an error challenge with this status.
    #[cfg(feature = "auth-oauth")]
    bearer_error: Option<auth::BearerStatus>,
}

impl AuthJob<'_> {
    /// Octets of `line` once written: its base64 and CRLF.
    fn line_len(&self, line: Line) -> usize {
        let port = PortDigits::new(self.req.port());
        line_parts(self, line, &[], port.as_bytes()).encoded_len() + 2
    }

    /// Octets of `AUTH <mechanism> <initial-response>` with its CRLF.
    fn initial_line_len(&self) -> usize {
        "AUTH  ".len() + self.mech.name().len() + self.line_len(Line::Initial)
    }

    /// Refuse credentials whose response lines would exceed
    /// [`auth::MAX_RESPONSE_LINE`], before anything is written. (The server-dependent
    /// SCRAM final line is short: a nonce bounded by the receive buffer and a proof.)
    fn check_line_lengths(&self) -> Result<(), SmtpError> {
        let creds = &self.req.creds;
        let longer = if creds.user.len() > creds.secret.len() {
            InputField::Username
        } else {
            InputField::Secret
        };
        let lines: &[(Line, InputField)] = match self.mech {
            Mechanism::Login => &[
                (Line::LoginUser, InputField::Username),
                (Line::LoginPassword, InputField::Secret),
            ],
            #[cfg(feature = "auth-cram-md5")]
            Mechanism::CramMd5 => &[(Line::CramResponse, InputField::Username)],
            _ => &[(Line::Initial, longer)],
        };
        for &(line, field) in lines {
            if self.line_len(line) > auth::MAX_RESPONSE_LINE {
                return Err(SmtpError::invalid(
                    field,
                    InvalidReason::TooLong(auth::MAX_RESPONSE_LINE),
                ));
            }
        }
        Ok(())
    }
}

/// The response line an AUTH exchange is writing.
#[derive(Clone, Copy)]
enum Line {
    /// `AUTH MECH initial-response`.
    Initial,
    LoginUser,
    LoginPassword,
    /// An empty response (XOAUTH2 error challenge, SCRAM after the server-final).
    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    Empty,
    /// OAUTHBEARER's `%x01` after an error challenge.
    #[cfg(feature = "auth-oauth")]
    BearerAbort,
    /// `user SP hex-digest`.
    #[cfg(feature = "auth-cram-md5")]
    CramResponse,
    /// `c=biws,r=NONCE,p=PROOF`, the nonce at `start..end` of the receive buffer.
    #[cfg(feature = "auth-scram")]
    ScramFinal {
        start: usize,
        end: usize,
    },
}

#[derive(Clone, Copy)]
enum AuthAt {
    Start,
    /// `AUTH <mechanism>` was sent without its initial response (too long for the
    /// command line): a 334 asks for it.
    Deferred,
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
    params: MailParams<'a>,
    rcpt_params: RcptParams,
    /// The whole message, when given as bytes.
    known: Option<&'a [u8]>,
    /// Its size in BDAT chunks (0 for a streamed message).
    #[cfg(feature = "chunking")]
    size: u64,
    pipelining: bool,
    #[cfg(feature = "chunking")]
    chunking: bool,
    /// RSET follows a failure (cleared where the transaction is over without it).
    reset: bool,
    at: MailAt,
    transfer: Transfer,
    /// RCPT TO commands sent so far.
    queued: usize,
    /// RCPT TO replies received so far.
    answered: usize,
    mail_rejection: Option<Rejection>,
    /// The first refusal of DATA, a BDAT chunk or the end of the message.
    transfer_rejection: Option<Rejection>,
    /// DATA was answered 354: the message (or the lone end-of-data line) must follow.
    got_354: bool,
    /// The end of the message was accepted.
    delivered: bool,
    rejected: u128,
    first_rejection: Option<Rejection>,
    first_rejection_text: ReplyText,
    enc: DataEncoder,
    /// How much of the message (known) or of the chunk in the receive buffer (streamed)
    /// is encoded.
    pos: usize,
}

/// How the message goes over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transfer {
    /// Not started.
    None,
    /// DATA.
    Data,
    /// BDAT chunks.
    #[cfg(feature = "chunking")]
    Bdat,
}

/// Where a mail transaction stands.
#[derive(Clone, Copy)]
enum MailAt {
    Start,
    /// Staging the pipelined flight.
    Commands,
    /// Reading the replies to what was sent.
    Replies,
    /// Sending the message.
    Body,
    /// Reading replies to BDAT chunks before sending more.
    #[cfg(feature = "chunking")]
    Window,
    /// The lone end-of-data line was sent after an unwanted 354; the error to report.
    Dot(SmtpError),
    /// RSET after a failure; the error to report.
    Reset(SmtpError),
}
