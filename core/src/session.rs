//! The SMTP session state machine, sans-I/O.
//!
//! [`Session`] knows what was sent, which replies are still expected (a queue, so several
//! commands may be outstanding at once as PIPELINING allows), the TLS state and the
//! capabilities in force. It never awaits anything and owns no I/O buffer:
//!
//! - [`Session::encode`] checks that a command may be sent now, encodes it into the
//!   caller's buffer and queues the reply it expects;
//! - [`Session::receive`] takes the bytes received so far and returns one complete reply
//!   matched to the oldest outstanding command, or asks for more bytes.
//!
//! The dialogue it enforces (RFC 5321 section 3, RFC 3207, RFC 4954):
//!
//! ```text
//! ExpectGreeting --220--> ExpectHello --EHLO 250 / HELO 250--> Ready
//! Ready --STARTTLS 220--> AwaitingUpgrade --tls_established()--> ExpectHello (capabilities forgotten)
//! Ready --AUTH 334 ... 235--> Ready (authenticated)
//! Ready --MAIL, RCPT..., DATA 354, body, "."--> Ready
//! any --421 or QUIT 221 or a fatal error--> Closed
//! ```
//!
//! Policy enforced here: a positive reply code that does not belong to the command is a
//! [`ProtocolViolation`]; bytes that arrive after a reply when no command is outstanding
//! are refused ([`ProtocolViolation::UnsolicitedReply`]); bytes that arrive together with
//! the 220 reply to STARTTLS are refused ([`ProtocolViolation::DataAfterStartTls`]);
//! an AUTH challenge must be base64. After any error the session is closed and
//! [`Session::encode`] refuses to produce more bytes.

use crate::capabilities::Capabilities;
use crate::command::Command;
use crate::error::{MalformedReply, ProtocolViolation, SmtpError, Stage};
use crate::reply::{EnhancedStatus, Reply, ReplyCode, ReplyParser, ReplyText, Step};

/// How many runs of outstanding commands the session tracks. The queue of expected
/// replies is run-length encoded: consecutive commands of the same kind (100 RCPT TOs,
/// a window of BDAT chunks) take one entry of up to 255 commands, so a whole pipelined
/// transaction (MAIL FROM, the RCPT TOs, DATA) takes three.
pub const MAX_PENDING: usize = 8;

/// The replies still expected, oldest first, as runs of one stage.
#[derive(Debug, Clone, Default)]
struct Pending {
    runs: heapless::Deque<(Stage, u8), MAX_PENDING>,
    total: usize,
}

impl Pending {
    fn front(&self) -> Option<Stage> {
        self.runs.front().map(|&(stage, _)| stage)
    }

    fn back(&self) -> Option<Stage> {
        self.runs.back().map(|&(stage, _)| stage)
    }

    fn push_back(&mut self, stage: Stage) -> Result<(), ()> {
        match self.runs.back_mut() {
            Some((s, n)) if *s == stage && *n < u8::MAX => *n += 1,
            _ => self.runs.push_back((stage, 1)).map_err(|_| ())?,
        }
        self.total += 1;
        Ok(())
    }

    fn pop_front(&mut self) {
        if let Some((_, n)) = self.runs.front_mut() {
            *n -= 1;
            if *n == 0 {
                let _ = self.runs.pop_front();
            }
            self.total -= 1;
        }
    }

    fn pop_back(&mut self) {
        if let Some((_, n)) = self.runs.back_mut() {
            *n -= 1;
            if *n == 0 {
                let _ = self.runs.pop_back();
            }
            self.total -= 1;
        }
    }

    fn len(&self) -> usize {
        self.total
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn clear(&mut self) {
        self.runs.clear();
        self.total = 0;
    }
}

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
    /// STARTTLS accepted with 220: the transport must run the TLS handshake, then call
    /// [`Session::tls_established`].
    AwaitingUpgrade,
    /// QUIT answered, 421 received, or a fatal error: nothing more may be written.
    Closed,
}

/// Result of [`Session::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// No complete reply yet. Drop `consumed` bytes (whole lines already folded), read
    /// more and call again.
    NeedMore {
        /// Bytes of the input already processed.
        consumed: usize,
    },
    /// A complete reply to the oldest outstanding command.
    Reply {
        /// Bytes of the input this reply used.
        consumed: usize,
        /// The command it answers.
        stage: Stage,
        /// The reply. Negative replies (4xx/5xx) are returned here, not as errors: what
        /// they mean depends on the command (a refused RCPT is not fatal).
        reply: Reply,
    },
}

/// The sans-I/O SMTP session. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Session {
    phase: Phase,
    pending: Pending,
    parser: ReplyParser,
    caps: Capabilities,
    folding: Capabilities,
    first: Option<(Option<EnhancedStatus>, ReplyText)>,
    esmtp: bool,
    encrypted: bool,
    authenticated: bool,
}

impl Session {
    /// A session waiting for the greeting. `max_line` caps the length of a reply line
    /// (CRLF included; at least 512); `encrypted` is true for implicit TLS.
    pub fn new(max_line: usize, encrypted: bool) -> Self {
        Session {
            phase: Phase::ExpectGreeting,
            pending: Pending::default(),
            parser: ReplyParser::new(max_line, crate::reply::DEFAULT_MAX_LINES),
            caps: Capabilities::new(),
            folding: Capabilities::new(),
            first: None,
            esmtp: false,
            encrypted,
            authenticated: false,
        }
        .expecting(Stage::Greeting)
    }

    fn expecting(mut self, stage: Stage) -> Self {
        let _ = self.pending.push_back(stage);
        self
    }

    /// The current phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// The capabilities from the last EHLO (empty before EHLO, after HELO, and right
    /// after the TLS upgrade).
    pub const fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Whether the server accepted EHLO (ESMTP) rather than only HELO.
    pub const fn is_esmtp(&self) -> bool {
        self.esmtp
    }

    /// Whether the connection is encrypted.
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

    /// Commands sent and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// The stage whose reply comes next (the oldest outstanding command, or the
    /// greeting), if any.
    pub fn awaiting(&self) -> Option<Stage> {
        self.pending.front()
    }

    /// The stage of the command queued last (the newest outstanding command), if any.
    pub fn last_queued(&self) -> Option<Stage> {
        self.pending.back()
    }

    /// Close the session: nothing more will be encoded.
    pub fn close(&mut self) {
        self.phase = Phase::Closed;
        self.pending.clear();
    }

    /// Fail with `e` and close the session.
    fn fatal<T>(&mut self, e: impl Into<SmtpError>) -> Result<T, SmtpError> {
        self.close();
        Err(e.into())
    }

    /// Check that `stage` may be sent now and queue its reply.
    pub fn queue_expected(&mut self, stage: Stage) -> Result<(), SmtpError> {
        let allowed = match self.phase {
            Phase::Closed | Phase::ExpectGreeting | Phase::AwaitingUpgrade => false,
            Phase::ExpectHello => matches!(stage, Stage::Ehlo | Stage::Helo | Stage::Quit),
            // No command answers the greeting or the TLS handshake.
            Phase::Ready => !matches!(stage, Stage::Greeting | Stage::TlsHandshake),
        };
        if !allowed {
            return Err(SmtpError::SessionUnusable);
        }
        self.pending
            .push_back(stage)
            .map_err(|()| SmtpError::BufferTooSmall {
                needed: MAX_PENDING + 1,
            })
    }

    /// Encode `cmd` into `out` and queue the reply it expects. Returns the length.
    /// Nothing is queued when encoding fails.
    pub fn encode(&mut self, cmd: Command<'_>, out: &mut [u8]) -> Result<usize, SmtpError> {
        let stage = stage_of(&cmd);
        // Check the phase and the queue before encoding so that a refused command leaves `out` alone.
        self.queue_expected(stage)?;
        match cmd.encode(out) {
            Ok(n) => Ok(n),
            Err(e) => {
                self.pending.pop_back();
                Err(e)
            }
        }
    }

    /// The TLS handshake after STARTTLS succeeded: forget everything learned in
    /// plaintext (RFC 3207 section 4.2) and expect a new EHLO.
    pub fn tls_established(&mut self) {
        self.encrypted = true;
        self.caps = Capabilities::new();
        self.folding = Capabilities::new();
        self.esmtp = false;
        self.authenticated = false;
        self.parser.reset();
        self.first = None;
        self.pending.clear();
        if self.phase == Phase::AwaitingUpgrade {
            self.phase = Phase::ExpectHello;
        }
    }

    /// Process received bytes: fold lines until one reply is complete.
    ///
    /// On error the session is closed. See [`Received`] for what to do with the bytes.
    // One copy outside the client's async state machine: a smaller firmware than inlining.
    #[inline(never)]
    pub fn receive(&mut self, buf: &[u8]) -> Result<Received, SmtpError> {
        if self.is_closed() {
            return Err(SmtpError::SessionUnusable);
        }
        let mut pos = 0;
        loop {
            let step = match self.parser.step(&buf[pos..]) {
                Ok(s) => s,
                Err(e) => return self.fatal(e),
            };
            let Step::Line {
                consumed,
                line,
                complete,
            } = step
            else {
                return Ok(Received::NeedMore { consumed: pos });
            };
            let Some(stage) = self.pending.front() else {
                return self.fatal(ProtocolViolation::UnsolicitedReply);
            };
            pos += consumed;
            if self.first.is_none() {
                self.first = Some((line.enhanced, ReplyText::new(line.text)));
                self.folding = Capabilities::new();
            } else if stage == Stage::Ehlo && line.code == ReplyCode::OK {
                if let Err(e) = self.folding.fold_line(line.text) {
                    return self.fatal(e);
                }
            }
            if !complete {
                continue;
            }
            let (enhanced, text) = self.first.take().unwrap_or_default();
            let reply = Reply {
                code: line.code,
                enhanced,
                text,
            };
            self.pending.pop_front();
            self.on_reply(stage, &reply, line.text)?;
            let rest = buf.len() - pos;
            if rest > 0 {
                if stage == Stage::StartTls && reply.code == ReplyCode::SERVICE_READY {
                    return self.fatal(ProtocolViolation::DataAfterStartTls);
                }
                if self.pending.is_empty() {
                    return self.fatal(ProtocolViolation::UnsolicitedReply);
                }
            }
            return Ok(Received::Reply {
                consumed: pos,
                stage,
                reply,
            });
        }
    }

    /// Apply a complete reply to the state.
    // Not inlined into `receive`: a smaller firmware.
    #[inline(never)]
    fn on_reply(&mut self, stage: Stage, reply: &Reply, last_text: &[u8]) -> Result<(), SmtpError> {
        let code = reply.code;
        if code == ReplyCode::SERVICE_UNAVAILABLE {
            // 421: the server is closing the channel, whatever the command was.
            self.close();
            return Ok(());
        }
        if code.is_negative() {
            if stage == Stage::Greeting {
                // 554 greeting: no service; only QUIT would be allowed.
                self.close();
            }
            return Ok(());
        }
        let [a, b] = expected_codes(stage);
        if code.get() != a && code.get() != b {
            return self.fatal(ProtocolViolation::UnexpectedCode {
                stage,
                code: code.get(),
            });
        }
        match stage {
            Stage::Greeting => self.phase = Phase::ExpectHello,
            Stage::Ehlo => {
                self.caps = self.folding;
                self.esmtp = true;
                self.phase = Phase::Ready;
            }
            Stage::Helo => {
                self.caps = Capabilities::new();
                self.esmtp = false;
                self.phase = Phase::Ready;
            }
            Stage::StartTls => {
                if !self.pending.is_empty() {
                    // Nothing may be pipelined past STARTTLS.
                    return self.fatal(ProtocolViolation::DataAfterStartTls);
                }
                self.phase = Phase::AwaitingUpgrade;
            }
            Stage::Auth if code == ReplyCode::AUTH_SUCCEEDED => self.authenticated = true,
            Stage::Auth if !crate::auth::is_base64(last_text) => {
                return self.fatal(MalformedReply::BadChallenge);
            }
            Stage::Quit => self.close(),
            _ => {}
        }
        Ok(())
    }
}

/// The positive reply codes that may answer `stage` (one of them twice when only one may).
const fn expected_codes(stage: Stage) -> [u16; 2] {
    match stage {
        Stage::Greeting | Stage::StartTls | Stage::TlsHandshake => [220, 220],
        Stage::Ehlo | Stage::Helo | Stage::MailFrom | Stage::DataEnd | Stage::Bdat => [250, 250],
        Stage::Rset | Stage::Noop => [250, 250],
        Stage::RcptTo => [250, 251],
        Stage::Auth => [235, 334],
        Stage::Data => [354, 354],
        Stage::Quit => [221, 221],
    }
}

/// The stage whose reply a command expects.
pub(crate) fn stage_of(cmd: &Command<'_>) -> Stage {
    match cmd {
        Command::Ehlo(_) => Stage::Ehlo,
        Command::Helo(_) => Stage::Helo,
        Command::StartTls => Stage::StartTls,
        Command::Auth(_) => Stage::Auth,
        Command::MailFrom { .. } | Command::Mail { .. } => Stage::MailFrom,
        Command::RcptTo(_) | Command::Rcpt { .. } => Stage::RcptTo,
        Command::Bdat { last: true, .. } => Stage::DataEnd,
        Command::Bdat { last: false, .. } => Stage::Bdat,
        Command::Data => Stage::Data,
        Command::Rset => Stage::Rset,
        Command::Noop => Stage::Noop,
        Command::Quit => Stage::Quit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::Capability;

    fn reply(s: &mut Session, bytes: &[u8]) -> Result<(Stage, u16, usize), SmtpError> {
        match s.receive(bytes)? {
            Received::Reply {
                stage,
                reply,
                consumed,
            } => Ok((stage, reply.code.get(), consumed)),
            Received::NeedMore { .. } => panic!("incomplete"),
        }
    }

    fn ready() -> Session {
        let mut s = Session::new(512, false);
        reply(&mut s, b"220 hi\r\n").unwrap();
        let mut buf = [0u8; 64];
        s.encode(Command::Ehlo("c"), &mut buf).unwrap();
        reply(&mut s, b"250-mx\r\n250-STARTTLS\r\n250 SIZE 10\r\n").unwrap();
        s
    }

    #[test]
    fn greeting_ehlo_folds_capabilities() {
        let s = ready();
        assert_eq!(s.phase(), Phase::Ready);
        assert!(s.capabilities().has(Capability::StartTls));
        assert_eq!(s.capabilities().size_limit(), Some(10));
    }

    #[test]
    fn commands_refused_before_greeting_and_after_close() {
        let mut s = Session::new(512, false);
        let mut buf = [0xa5u8; 32];
        assert_eq!(
            s.encode(Command::Noop, &mut buf),
            Err(SmtpError::SessionUnusable)
        );
        assert_eq!(buf, [0xa5u8; 32]);
        let mut s = ready();
        s.close();
        assert_eq!(
            s.encode(Command::Noop, &mut buf),
            Err(SmtpError::SessionUnusable)
        );
    }

    #[test]
    fn starttls_injection_is_fatal() {
        let mut s = ready();
        let mut buf = [0u8; 32];
        s.encode(Command::StartTls, &mut buf).unwrap();
        assert_eq!(
            s.receive(b"220 go\r\n250 injected\r\n"),
            Err(SmtpError::Protocol(ProtocolViolation::DataAfterStartTls))
        );
        assert!(s.is_closed());
    }

    #[test]
    fn tls_upgrade_forgets_capabilities() {
        let mut s = ready();
        let mut buf = [0u8; 32];
        s.encode(Command::StartTls, &mut buf).unwrap();
        reply(&mut s, b"220 go\r\n").unwrap();
        assert_eq!(s.phase(), Phase::AwaitingUpgrade);
        assert_eq!(
            s.encode(Command::Noop, &mut buf),
            Err(SmtpError::SessionUnusable)
        );
        s.tls_established();
        assert_eq!(s.phase(), Phase::ExpectHello);
        assert_eq!(*s.capabilities(), Capabilities::new());
        assert!(s.is_encrypted());
    }

    #[test]
    fn unexpected_positive_code_is_a_violation() {
        let mut s = ready();
        let mut buf = [0u8; 64];
        s.encode(
            Command::MailFrom {
                from: "a@b",
                smtputf8: false,
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(
            s.receive(b"354 go ahead\r\n"),
            Err(SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
                stage: Stage::MailFrom,
                code: 354
            }))
        );
    }

    #[test]
    fn unsolicited_bytes_are_refused() {
        let mut s = Session::new(512, false);
        assert_eq!(
            s.receive(b"220 hi\r\n250 early\r\n"),
            Err(SmtpError::Protocol(ProtocolViolation::UnsolicitedReply))
        );
    }

    #[test]
    fn pipelined_replies_match_in_order() {
        let mut s = ready();
        let mut buf = [0u8; 64];
        s.encode(
            Command::MailFrom {
                from: "a@b",
                smtputf8: false,
            },
            &mut buf,
        )
        .unwrap();
        s.encode(Command::RcptTo("c@d"), &mut buf).unwrap();
        s.encode(Command::Data, &mut buf).unwrap();
        assert_eq!(s.outstanding(), 3);
        let input = b"250 ok\r\n550 no\r\n354 go\r\n";
        let (st, code, used) = reply(&mut s, input).unwrap();
        assert_eq!((st, code), (Stage::MailFrom, 250));
        let (st, code, used2) = reply(&mut s, &input[used..]).unwrap();
        assert_eq!((st, code), (Stage::RcptTo, 550));
        let (st, code, _) = reply(&mut s, &input[used + used2..]).unwrap();
        assert_eq!((st, code), (Stage::Data, 354));
    }

    #[test]
    fn a_hundred_pipelined_recipients_fit_the_queue() {
        let mut s = ready();
        let mut buf = [0u8; 64];
        s.encode(
            Command::MailFrom {
                from: "a@b",
                smtputf8: false,
            },
            &mut buf,
        )
        .unwrap();
        for _ in 0..300 {
            s.encode(Command::RcptTo("c@d"), &mut buf).unwrap();
        }
        s.encode(Command::Data, &mut buf).unwrap();
        assert_eq!(s.outstanding(), 302);
        let (st, _, _) = reply(&mut s, b"250 ok\r\n").unwrap();
        assert_eq!(st, Stage::MailFrom);
        for i in 0..300 {
            let (st, _, _) = reply(&mut s, b"550 no\r\n").unwrap();
            assert_eq!(st, Stage::RcptTo, "{i}");
        }
        let (st, code, _) = reply(&mut s, b"554 no valid recipients\r\n").unwrap();
        assert_eq!((st, code), (Stage::Data, 554));
        assert_eq!(s.outstanding(), 0);
        // Runs of different commands fill the queue; the refused one queues nothing.
        for i in 0..MAX_PENDING {
            let cmd = if i % 2 == 0 {
                Command::Noop
            } else {
                Command::Rset
            };
            s.encode(cmd, &mut buf).unwrap();
        }
        assert_eq!(
            s.encode(Command::Quit, &mut buf),
            Err(SmtpError::BufferTooSmall {
                needed: MAX_PENDING + 1
            })
        );
        assert_eq!(s.outstanding(), MAX_PENDING);
        // A command that does not fit the buffer is taken back off its run.
        assert!(s.encode(Command::Rset, &mut [0u8; 2]).is_err());
        assert_eq!(s.outstanding(), MAX_PENDING);
    }

    #[test]
    fn service_closing_closes() {
        let mut s = ready();
        let mut buf = [0u8; 64];
        s.encode(Command::Noop, &mut buf).unwrap();
        let (_, code, _) = reply(&mut s, b"421 bye\r\n").unwrap();
        assert_eq!(code, 421);
        assert!(s.is_closed());
    }

    #[test]
    fn auth_challenge_must_be_base64() {
        let mut s = ready();
        let mut buf = [0u8; 64];
        s.encode(
            Command::Auth(crate::capabilities::Mechanism::Login),
            &mut buf,
        )
        .unwrap();
        assert_eq!(
            s.receive(b"334 Username:\r\n"),
            Err(SmtpError::MalformedReply(MalformedReply::BadChallenge))
        );
    }
}
