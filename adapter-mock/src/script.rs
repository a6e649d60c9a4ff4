//! The script builder: what the server sends and what the client must write, in order.

use crate::handle::MockHandle;
use crate::mock::MockTransport;
use crate::text::{base64, quote};
use core::time::Duration;
use embedded_io_async::ErrorKind;

/// The host name the protocol helpers put in server replies.
pub const SERVER_NAME: &str = "mx.example.com";

/// One raw step of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The server sends these bytes (delivered in one read call when the buffer allows).
    Read(Vec<u8>),
    /// The client must write exactly these bytes.
    Write(Vec<u8>),
    /// The client writes anything, up to and including this terminator.
    WriteUntil(Vec<u8>),
    /// The next read fails.
    ReadError(ErrorKind),
    /// The next write fails.
    WriteError(ErrorKind),
    /// The next read returns `Ok(0)`.
    Eof,
    /// The client calls `upgrade_to_tls`, which succeeds.
    Upgrade,
    /// The client calls `upgrade_to_tls`, which fails.
    UpgradeError(ErrorKind),
    /// The server is silent (neither sends nor reads) for this much virtual time.
    Delay(Duration),
    /// The server is silent for good.
    Stall,
    /// The next read or write reports a count the client must refuse (a buggy
    /// transport); nothing is transferred.
    BadCount(BadCount),
}

/// A count a buggy transport reports ([`Script::read_count_past_buffer`],
/// [`Script::write_zero`], [`Script::write_count_past_buffer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadCount {
    /// A read reports one byte more than its buffer.
    ReadPastBuffer,
    /// A write reports `Ok(0)`.
    WriteZero,
    /// A write reports one byte more than it was given.
    WritePastBuffer,
}

impl BadCount {
    /// For messages and the transcript.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            BadCount::ReadPastBuffer => "a read reporting one byte more than its buffer",
            BadCount::WriteZero => "a write reporting Ok(0)",
            BadCount::WritePastBuffer => "a write reporting one byte more than it was given",
        }
    }
}

impl Step {
    /// A short name for messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Step::Read(_) => "server sends",
            Step::Write(_) | Step::WriteUntil(_) => "client write",
            Step::ReadError(_) => "read error",
            Step::WriteError(_) => "write error",
            Step::Eof => "end of stream",
            Step::Upgrade => "TLS upgrade",
            Step::UpgradeError(_) => "TLS upgrade error",
            Step::Delay(_) => "delay",
            Step::Stall => "stall",
            Step::BadCount(_) => "bad count",
        }
    }

    /// What the script expects the client to do, given `offset` bytes of this step
    /// already exchanged. Completes "expected ...".
    pub(crate) fn expectation(&self, offset: usize) -> String {
        match self {
            Step::Read(data) if offset == 0 => format!("the client to read {}", quote(data)),
            Step::Read(data) => format!(
                "the client to read the rest of {} ({offset} of {} bytes delivered)",
                quote(data),
                data.len()
            ),
            Step::Write(data) if offset == 0 => {
                format!("the client to write {}", quote(data))
            }
            Step::Write(data) => format!(
                "the client to write {} (received so far: {})",
                quote(data),
                quote(&data[..offset])
            ),
            Step::WriteUntil(term) => format!(
                "the client to write anything up to and including {}",
                quote(term)
            ),
            Step::ReadError(kind) => format!("the client to read (scripted read error {kind:?})"),
            Step::WriteError(kind) => {
                format!("the client to write (scripted write error {kind:?})")
            }
            Step::Eof => "the client to read (scripted end of stream)".to_owned(),
            Step::Upgrade => "a TLS upgrade (upgrade_to_tls)".to_owned(),
            Step::UpgradeError(kind) => {
                format!("a TLS upgrade (upgrade_to_tls, scripted to fail with {kind:?})")
            }
            Step::Delay(d) => format!("the client to wait {d:?} (scripted delay)"),
            Step::Stall => "the client to wait (scripted stall)".to_owned(),
            Step::BadCount(bad) => format!("the client to meet {} (scripted)", bad.describe()),
        }
    }

    /// Whether the step is satisfied by a client read.
    pub(crate) fn is_server_side(&self) -> bool {
        matches!(
            self,
            Step::Read(_)
                | Step::ReadError(_)
                | Step::Eof
                | Step::BadCount(BadCount::ReadPastBuffer)
        )
    }

    /// Whether the step is a scripted silence (the client's read or write waits).
    pub(crate) fn is_pause(&self) -> bool {
        matches!(self, Step::Delay(_) | Step::Stall)
    }
}

/// A step with the helper that produced it (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptStep {
    pub(crate) step: Step,
    pub(crate) origin: Option<String>,
}

impl ScriptStep {
    /// `step 4 (client write, from .ehlo("client.example.com"))`, with a 0-based index.
    pub(crate) fn title(&self, index: usize) -> String {
        match &self.origin {
            Some(origin) => format!(
                "step {} ({}, from {origin})",
                index + 1,
                self.step.kind_name()
            ),
            None => format!("step {} ({})", index + 1, self.step.kind_name()),
        }
    }
}

/// Global options of a script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) implicit_tls: bool,
    pub(crate) never_encrypted: bool,
    pub(crate) max_read_size: Option<usize>,
    pub(crate) max_write_size: Option<usize>,
    pub(crate) require_flush: bool,
}

/// A script: the exact conversation a [`MockTransport`] will hold, from the client's
/// point of view, written in order like a transcript.
///
/// Steps are consumed in order:
///
/// - [`read`](Script::read): the server sends bytes, which the client must read.
/// - [`write`](Script::write): the client must write exactly these bytes next.
/// - [`upgrade`](Script::upgrade): the client must call
///   [`upgrade_to_tls`](wasm_smtp_core::Transport::upgrade_to_tls).
/// - scripted failures: [`read_error`](Script::read_error),
///   [`write_error`](Script::write_error), [`upgrade_error`](Script::upgrade_error),
///   [`eof`](Script::eof).
/// - silences on the [virtual clock](crate::clock): [`delay`](Script::delay) (the server
///   waits, then goes on) and [`stall`](Script::stall) (the server goes silent for good).
///
/// Protocol helpers such as [`greeting`](Script::greeting), [`ehlo`](Script::ehlo) or
/// [`mail_from`](Script::mail_from) expand to raw steps with typical server replies;
/// each documents the exact bytes. Global options ([`max_read_size`](Script::max_read_size),
/// [`implicit_tls`](Script::implicit_tls), ...) can be set anywhere in the chain.
///
/// Steps are numbered from 1 in the order they were added; a helper adds several
/// steps. Empty byte strings given to [`read`](Script::read) or [`write`](Script::write)
/// add no step.
///
/// ```
/// use wasm_smtp_mock::Script;
///
/// let (transport, handle) = Script::new()
///     .greeting()
///     .ehlo("client.example.com", &["PIPELINING", "8BITMIME"])
///     .write("VRFY postmaster\r\n")
///     .read("252 2.1.5 Cannot VRFY user\r\n")
///     .quit()
///     .build();
/// # drop((transport, handle));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a Script does nothing until `.build()` is called"]
pub struct Script {
    steps: Vec<ScriptStep>,
    options: Options,
    origin: Option<String>,
}

impl Script {
    /// An empty script: a plaintext connection on which nothing happens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the transport (to hand to the client) and a handle to inspect it
    /// afterwards (to keep in the test).
    #[must_use = "the transport is for the client and the handle for the test's assertions"]
    pub fn build(self) -> (MockTransport, MockHandle) {
        MockTransport::from_script(self.steps, self.options)
    }

    /// The number of raw steps so far.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the script has no step yet.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn push(mut self, step: Step) -> Self {
        self.steps.push(ScriptStep {
            step,
            origin: self.origin.clone(),
        });
        self
    }

    /// Adds the steps of a helper, labelled with `origin` in messages.
    fn helper(mut self, origin: String, f: impl FnOnce(Self) -> Self) -> Self {
        let outer = self.origin.replace(origin);
        let mut script = f(self);
        script.origin = outer;
        script
    }

    // ----- raw steps -------------------------------------------------------------------

    /// The server sends `bytes`.
    ///
    /// They are delivered in one read call if the client's buffer is large enough (and
    /// [`max_read_size`](Script::max_read_size) allows): several replies in one `.read`
    /// arrive together, a reply split over two `.read` steps arrives in two reads. A
    /// smaller buffer gets a partial read and the rest stays for the next read.
    pub fn read(self, bytes: impl AsRef<[u8]>) -> Self {
        let bytes = bytes.as_ref();
        if bytes.is_empty() {
            return self;
        }
        self.push(Step::Read(bytes.to_vec()))
    }

    /// The client must write exactly `bytes` next.
    ///
    /// The comparison is byte by byte, however the client splits its write calls: one
    /// call may cover several consecutive `.write` steps (a pipelined "flight"), or one
    /// step may take several calls. A write call cannot run past the flight into a read
    /// or upgrade step: that is a mismatch.
    pub fn write(self, bytes: impl AsRef<[u8]>) -> Self {
        let bytes = bytes.as_ref();
        if bytes.is_empty() {
            return self;
        }
        self.push(Step::Write(bytes.to_vec()))
    }

    /// The client writes any bytes, up to and including the first occurrence of
    /// `terminator` (for content the test cannot predict, such as a message with a
    /// generated `Message-ID`; inspect it afterwards with
    /// [`MockHandle::written`]).
    ///
    /// ```
    /// # use wasm_smtp_mock::Script;
    /// // Any message body, up to the end-of-data line.
    /// let script = Script::new().data().write_until("\r\n.\r\n").read("250 2.0.0 Ok\r\n");
    /// # let _ = script.build();
    /// ```
    ///
    /// # Panics
    /// If `terminator` is empty.
    pub fn write_until(self, terminator: impl AsRef<[u8]>) -> Self {
        let terminator = terminator.as_ref();
        assert!(!terminator.is_empty(), "write_until: empty terminator");
        self.push(Step::WriteUntil(terminator.to_vec()))
    }

    /// The client's next read fails with `kind` (a scripted transport failure, not a
    /// mismatch).
    pub fn read_error(self, kind: ErrorKind) -> Self {
        self.push(Step::ReadError(kind))
    }

    /// The client's next write fails with `kind` (a scripted transport failure, not a
    /// mismatch). If that write call starts with bytes that complete preceding `.write`
    /// steps, it returns those as a short write and the following call fails.
    pub fn write_error(self, kind: ErrorKind) -> Self {
        self.push(Step::WriteError(kind))
    }

    /// A buggy transport: the client's next read reports one byte more than the buffer it
    /// was given, and delivers nothing. The client must fail, not index past its buffer.
    pub fn read_count_past_buffer(self) -> Self {
        self.push(Step::BadCount(BadCount::ReadPastBuffer))
    }

    /// A buggy transport: the client's next write reports `Ok(0)` (no progress) for a
    /// non-empty buffer.
    pub fn write_zero(self) -> Self {
        self.push(Step::BadCount(BadCount::WriteZero))
    }

    /// A buggy transport: the client's next write reports one byte more than it was
    /// given, and takes nothing.
    pub fn write_count_past_buffer(self) -> Self {
        self.push(Step::BadCount(BadCount::WritePastBuffer))
    }

    /// The server closes the connection: the client's next read returns `Ok(0)`. Once
    /// the script is exhausted after an end of stream, further reads keep returning
    /// `Ok(0)`.
    pub fn eof(self) -> Self {
        self.push(Step::Eof)
    }

    /// The client must call
    /// [`upgrade_to_tls`](wasm_smtp_core::Transport::upgrade_to_tls) here. It succeeds
    /// and from then on [`is_encrypted`](wasm_smtp_core::Transport::is_encrypted)
    /// returns `true` (unless [`never_encrypted`](Script::never_encrypted) is set).
    pub fn upgrade(self) -> Self {
        self.push(Step::Upgrade)
    }

    /// The client must call
    /// [`upgrade_to_tls`](wasm_smtp_core::Transport::upgrade_to_tls) here, and the
    /// handshake fails with `kind`; the connection stays unencrypted.
    pub fn upgrade_error(self, kind: ErrorKind) -> Self {
        self.push(Step::UpgradeError(kind))
    }

    /// The server is silent for `duration` of [virtual time](crate::clock): it neither
    /// sends nor reads. The client's next read, write or TLS upgrade waits until then (a write that
    /// reaches this step after some bytes returns them as a short write first), then the
    /// script goes on. The wait starts when the client reaches the step.
    ///
    /// Needs [`block_on`](crate::block_on), which moves the virtual clock; the client's
    /// time limits race the same clock, so a limit shorter than the delay expires first.
    ///
    /// ```
    /// # use core::time::Duration;
    /// # use wasm_smtp_mock::Script;
    /// // RCPT TO answered after 4 minutes.
    /// let script = Script::new()
    ///     .write("RCPT TO:<bob@example.com>\r\n")
    ///     .delay(Duration::from_secs(240))
    ///     .read("250 2.1.5 Ok\r\n");
    /// # let _ = script.build();
    /// ```
    pub fn delay(self, duration: Duration) -> Self {
        self.push(Step::Delay(duration))
    }

    /// The server goes silent for good: from here on, every read, write and TLS upgrade
    /// waits forever (a server that stops answering, stops reading so that writes no
    /// longer complete, or never finishes the TLS handshake). Only the client's time limit ends the wait; with
    /// [`block_on`](crate::block_on) and no time limit, the test panics instead of
    /// hanging. Steps after a stall are never reached; a script that ends in a stall the
    /// client reached counts as finished.
    pub fn stall(self) -> Self {
        self.push(Step::Stall)
    }

    // ----- global options --------------------------------------------------------------

    /// The connection is encrypted from the start (implicit TLS, port 465):
    /// [`is_encrypted`](wasm_smtp_core::Transport::is_encrypted) returns `true` before
    /// any upgrade.
    pub fn implicit_tls(mut self) -> Self {
        self.options.implicit_tls = true;
        self
    }

    /// A lying transport: [`is_encrypted`](wasm_smtp_core::Transport::is_encrypted)
    /// always returns `false`, even after a successful upgrade and even with
    /// [`implicit_tls`](Script::implicit_tls). For testing that a client checks the
    /// transport after `STARTTLS`.
    pub fn never_encrypted(mut self) -> Self {
        self.options.never_encrypted = true;
        self
    }

    /// Each read returns at most `n` bytes (`1` for byte-by-byte delivery), to test
    /// that the client reassembles replies.
    ///
    /// # Panics
    /// If `n` is 0 (a read of 0 bytes means end of stream).
    pub fn max_read_size(mut self, n: usize) -> Self {
        assert!(n > 0, "max_read_size must be at least 1");
        self.options.max_read_size = Some(n);
        self
    }

    /// Each write call accepts at most `n` bytes and reports a short write, to test
    /// that the client writes the rest (for example with `write_all`).
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn max_write_size(mut self, n: usize) -> Self {
        assert!(n > 0, "max_write_size must be at least 1");
        self.options.max_write_size = Some(n);
        self
    }

    /// The client must call `flush` after writing and before it reads (as buffered
    /// transports such as TLS streams need); a read with unflushed writes is a mismatch.
    pub fn require_flush(mut self) -> Self {
        self.options.require_flush = true;
        self
    }

    // ----- protocol helpers ------------------------------------------------------------

    /// A raw command and its reply, each given without its final CRLF.
    ///
    /// Writes `{command}\r\n`, then reads `{reply}\r\n`. `reply` may hold several
    /// lines separated by `\r\n`.
    ///
    /// ```
    /// # use wasm_smtp_mock::Script;
    /// let script = Script::new().command("VRFY postmaster", "252 2.1.5 Cannot VRFY user");
    /// # let _ = script.build();
    /// ```
    pub fn command(self, command: &str, reply: &str) -> Self {
        self.helper(format!(".command({})", quote(command.as_bytes())), |s| {
            s.write(format!("{command}\r\n"))
                .read(format!("{reply}\r\n"))
        })
    }

    /// The server greeting: reads `220 mx.example.com ESMTP ready\r\n`.
    pub fn greeting(self) -> Self {
        self.helper(".greeting()".to_owned(), |s| {
            s.read(format!("220 {SERVER_NAME} ESMTP ready\r\n"))
        })
    }

    /// `EHLO`: writes `EHLO {domain}\r\n`, then reads the multi-line 250 reply
    /// advertising `keywords`, one per line:
    /// `250-mx.example.com\r\n250-PIPELINING\r\n...250 AUTH PLAIN LOGIN\r\n`, or just
    /// `250 mx.example.com\r\n` when `keywords` is empty.
    pub fn ehlo(self, domain: &str, keywords: &[&str]) -> Self {
        let mut reply = String::new();
        let lines = core::iter::once(SERVER_NAME).chain(keywords.iter().copied());
        let count = keywords.len() + 1;
        for (i, line) in lines.enumerate() {
            let sep = if i + 1 == count { ' ' } else { '-' };
            reply.push_str(&format!("250{sep}{line}\r\n"));
        }
        self.helper(format!(".ehlo({})", quote(domain.as_bytes())), |s| {
            s.write(format!("EHLO {domain}\r\n")).read(reply)
        })
    }

    /// `HELO`: writes `HELO {domain}\r\n`, then reads `250 mx.example.com\r\n`.
    pub fn helo(self, domain: &str) -> Self {
        self.helper(format!(".helo({})", quote(domain.as_bytes())), |s| {
            s.write(format!("HELO {domain}\r\n"))
                .read(format!("250 {SERVER_NAME}\r\n"))
        })
    }

    /// `STARTTLS`: writes `STARTTLS\r\n`, reads `220 2.0.0 Ready to start TLS\r\n`, then
    /// expects the [`upgrade`](Script::upgrade).
    pub fn starttls(self) -> Self {
        self.helper(".starttls()".to_owned(), |s| {
            s.write("STARTTLS\r\n")
                .read("220 2.0.0 Ready to start TLS\r\n")
                .upgrade()
        })
    }

    /// `AUTH PLAIN` with an initial response: writes
    /// `AUTH PLAIN {base64("\0{user}\0{password}")}\r\n`, then reads
    /// `235 2.7.0 Authentication successful\r\n`. (When that line would exceed 512
    /// octets, the exchange of [`auth_initial`](Script::auth_initial) instead.)
    pub fn auth_plain(self, user: &str, password: &str) -> Self {
        let response = base64(format!("\0{user}\0{password}").as_bytes());
        self.helper(".auth_plain(..)".to_owned(), |s| {
            s.auth_initial("PLAIN", &response)
                .read("235 2.7.0 Authentication successful\r\n")
        })
    }

    /// The first line of an AUTH exchange with an initial response (`response`, already
    /// base64), as RFC 4954 section 4 wants it: `AUTH {mechanism} {response}\r\n` when
    /// that fits an SMTP command line (512 octets with CRLF); otherwise `AUTH
    /// {mechanism}\r\n`, the server's `334 \r\n`, and `{response}\r\n` on a line of
    /// its own. The server's reply to the response comes next in the script.
    pub fn auth_initial(self, mechanism: &str, response: &str) -> Self {
        let line = format!("AUTH {mechanism} {response}\r\n");
        if line.len() <= 512 {
            return self.write(line);
        }
        self.write(format!("AUTH {mechanism}\r\n"))
            .read("334 \r\n")
            .write(format!("{response}\r\n"))
    }

    /// `AUTH LOGIN`: writes `AUTH LOGIN\r\n`, reads `334 VXNlcm5hbWU6\r\n`, writes
    /// `{base64(user)}\r\n`, reads `334 UGFzc3dvcmQ6\r\n`, writes
    /// `{base64(password)}\r\n`, then reads `235 2.7.0 Authentication successful\r\n`.
    pub fn auth_login(self, user: &str, password: &str) -> Self {
        let user = base64(user.as_bytes());
        let password = base64(password.as_bytes());
        self.helper(".auth_login(..)".to_owned(), |s| {
            s.write("AUTH LOGIN\r\n")
                .read("334 VXNlcm5hbWU6\r\n")
                .write(format!("{user}\r\n"))
                .read("334 UGFzc3dvcmQ6\r\n")
                .write(format!("{password}\r\n"))
                .read("235 2.7.0 Authentication successful\r\n")
        })
    }

    /// `AUTH XOAUTH2` with an initial response: writes
    /// `AUTH XOAUTH2 {base64("user={user}\x01auth=Bearer {token}\x01\x01")}\r\n`
    /// ([`auth_initial`](Script::auth_initial)), then reads
    /// `235 2.7.0 Authentication successful\r\n`.
    pub fn auth_xoauth2(self, user: &str, token: &str) -> Self {
        let response = base64(format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes());
        self.helper(".auth_xoauth2(..)".to_owned(), |s| {
            s.auth_initial("XOAUTH2", &response)
                .read("235 2.7.0 Authentication successful\r\n")
        })
    }

    /// `AUTH OAUTHBEARER` with an initial response (RFC 7628, without `host` and
    /// `port`): writes
    /// `AUTH OAUTHBEARER {base64("n,a={user},\x01auth=Bearer {token}\x01\x01")}\r\n`
    /// (the user escaped as a `saslname`; [`auth_initial`](Script::auth_initial)), then
    /// reads `235 2.7.0 Authentication successful\r\n`.
    pub fn auth_oauthbearer(self, user: &str, token: &str) -> Self {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        let response = base64(format!("n,a={user},\x01auth=Bearer {token}\x01\x01").as_bytes());
        self.helper(".auth_oauthbearer(..)".to_owned(), |s| {
            s.auth_initial("OAUTHBEARER", &response)
                .read("235 2.7.0 Authentication successful\r\n")
        })
    }

    /// `AUTH CRAM-MD5` (RFC 2195): writes `AUTH CRAM-MD5\r\n`, reads
    /// `334 {base64(challenge)}\r\n`, writes the base64 of
    /// [`cram_md5_response`](crate::cram_md5_response), then reads
    /// `235 2.7.0 Authentication successful\r\n`.
    pub fn auth_cram_md5(self, user: &str, password: &str, challenge: &str) -> Self {
        let response = base64(crate::cram_md5_response(user, password, challenge).as_bytes());
        let challenge = base64(challenge.as_bytes());
        self.helper(".auth_cram_md5(..)".to_owned(), |s| {
            s.write("AUTH CRAM-MD5\r\n")
                .read(format!("334 {challenge}\r\n"))
                .write(format!("{response}\r\n"))
                .read("235 2.7.0 Authentication successful\r\n")
        })
    }

    /// A whole `AUTH SCRAM-SHA-256` exchange (RFC 7677) as a correct server runs it: the
    /// client-first message as initial response, `334` server-first, the client-final
    /// message, `334` server-final (`v=`), an empty line, then
    /// `235 2.7.0 Authentication successful\r\n`. See [`ScramExchange`](crate::ScramExchange)
    /// for the messages, to script servers that misbehave.
    pub fn auth_scram(self, exchange: &crate::ScramExchange) -> Self {
        let b = |m: &str| base64(m.as_bytes());
        let (cf, sf, cfin, sfin) = (
            b(&exchange.client_first),
            b(&exchange.server_first),
            b(&exchange.client_final),
            b(&exchange.server_final),
        );
        self.helper(".auth_scram(..)".to_owned(), |s| {
            s.auth_initial("SCRAM-SHA-256", &cf)
                .read(format!("334 {sf}\r\n"))
                .write(format!("{cfin}\r\n"))
                .read(format!("334 {sfin}\r\n"))
                .write("\r\n")
                .read("235 2.7.0 Authentication successful\r\n")
        })
    }

    /// `MAIL FROM`: writes `MAIL FROM:<{address}>\r\n`, then reads `250 2.1.0 Ok\r\n`.
    /// For parameters (`SIZE=`, `BODY=`, `SMTPUTF8`) use [`command`](Script::command)
    /// or raw steps.
    pub fn mail_from(self, address: &str) -> Self {
        self.helper(format!(".mail_from({})", quote(address.as_bytes())), |s| {
            s.write(format!("MAIL FROM:<{address}>\r\n"))
                .read("250 2.1.0 Ok\r\n")
        })
    }

    /// `RCPT TO`: writes `RCPT TO:<{address}>\r\n`, then reads `250 2.1.5 Ok\r\n`.
    pub fn rcpt_to(self, address: &str) -> Self {
        self.helper(format!(".rcpt_to({})", quote(address.as_bytes())), |s| {
            s.write(format!("RCPT TO:<{address}>\r\n"))
                .read("250 2.1.5 Ok\r\n")
        })
    }

    /// `DATA`: writes `DATA\r\n`, then reads
    /// `354 End data with <CR><LF>.<CR><LF>\r\n`.
    pub fn data(self) -> Self {
        self.helper(".data()".to_owned(), |s| {
            s.write("DATA\r\n")
                .read("354 End data with <CR><LF>.<CR><LF>\r\n")
        })
    }

    /// The message after [`data`](Script::data): writes `wire` exactly (the
    /// dot-stuffed content including the final `.\r\n` line), then reads
    /// `250 2.0.0 Ok: queued\r\n`.
    ///
    /// ```
    /// # use wasm_smtp_mock::Script;
    /// let script = Script::new()
    ///     .data()
    ///     .message("Subject: hi\r\n\r\n..leading dot\r\n.\r\n");
    /// # let _ = script.build();
    /// ```
    pub fn message(self, wire: impl AsRef<[u8]>) -> Self {
        self.helper(".message(..)".to_owned(), |s| {
            s.write(wire).read("250 2.0.0 Ok: queued\r\n")
        })
    }

    /// `RSET`: writes `RSET\r\n`, then reads `250 2.0.0 Ok\r\n`.
    pub fn rset(self) -> Self {
        self.helper(".rset()".to_owned(), |s| {
            s.write("RSET\r\n").read("250 2.0.0 Ok\r\n")
        })
    }

    /// `NOOP`: writes `NOOP\r\n`, then reads `250 2.0.0 Ok\r\n`.
    pub fn noop(self) -> Self {
        self.helper(".noop()".to_owned(), |s| {
            s.write("NOOP\r\n").read("250 2.0.0 Ok\r\n")
        })
    }

    /// `QUIT`: writes `QUIT\r\n`, then reads `221 2.0.0 Bye\r\n`.
    pub fn quit(self) -> Self {
        self.helper(".quit()".to_owned(), |s| {
            s.write("QUIT\r\n").read("221 2.0.0 Bye\r\n")
        })
    }
}
