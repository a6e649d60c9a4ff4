//! Replies (RFC 5321 section 4.2) matched to the commands that asked for them: the queue
//! of expected replies, line folding, and the checks every reply passes before the
//! operation in progress sees it.
//!
//! Policy enforced here: a positive reply code that does not belong to the command is a
//! [`ProtocolViolation`]; bytes that arrive after a reply when no command is outstanding
//! are refused ([`ProtocolViolation::UnsolicitedReply`]); bytes that arrive together with
//! the 220 reply to STARTTLS are refused ([`ProtocolViolation::DataAfterStartTls`]);
//! an AUTH challenge must be base64; a 421 closes the session whatever it answered.

use super::{Phase, Session};
use crate::capabilities::Capabilities;
use crate::command::Command;
use crate::error::{MalformedReply, ProtocolViolation, SmtpError, Stage};
use crate::reply::{Reply, ReplyCode, ReplyText, Step};

/// How many runs of outstanding commands the session tracks. The queue of expected
/// replies is run-length encoded: consecutive commands of the same kind (100 RCPT TOs,
/// a window of BDAT chunks) take one entry of up to 255 commands, so a whole pipelined
/// transaction (MAIL FROM, the RCPT TOs, DATA) takes three.
pub const MAX_PENDING: usize = 8;

/// The replies still expected, oldest first, as runs of one stage.
#[derive(Debug, Clone, Default)]
pub(super) struct Pending {
    runs: heapless::Deque<(Stage, u8), MAX_PENDING>,
    total: usize,
}

impl Pending {
    pub(super) fn front(&self) -> Option<Stage> {
        self.runs.front().map(|&(stage, _)| stage)
    }

    pub(super) fn back(&self) -> Option<Stage> {
        self.runs.back().map(|&(stage, _)| stage)
    }

    pub(super) fn push_back(&mut self, stage: Stage) -> Result<(), ()> {
        match self.runs.back_mut() {
            Some((s, n)) if *s == stage && *n < u8::MAX => *n += 1,
            _ => self.runs.push_back((stage, 1)).map_err(|_| ())?,
        }
        self.total += 1;
        Ok(())
    }

    pub(super) fn pop_front(&mut self) {
        if let Some((_, n)) = self.runs.front_mut() {
            *n -= 1;
            if *n == 0 {
                let _ = self.runs.pop_front();
            }
            self.total -= 1;
        }
    }

    pub(super) fn pop_back(&mut self) {
        if let Some((_, n)) = self.runs.back_mut() {
            *n -= 1;
            if *n == 0 {
                let _ = self.runs.pop_back();
            }
            self.total -= 1;
        }
    }

    #[cfg(feature = "chunking")]
    pub(super) fn len(&self) -> usize {
        self.total
    }

    pub(super) fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub(super) fn clear(&mut self) {
        self.runs.clear();
        self.total = 0;
    }
}

/// One step of reading a reply.
#[derive(Debug)]
pub(super) enum Read {
    /// No complete reply yet: `consumed` bytes (whole lines already folded) may be
    /// dropped.
    NeedMore { consumed: usize },
    /// A complete reply to the oldest outstanding command, in the first `consumed`
    /// bytes; `text` is where its last line's text lies (the challenge of a 334).
    Reply {
        consumed: usize,
        stage: Stage,
        reply: Reply,
        text: core::ops::Range<usize>,
    },
}

impl Session {
    /// Check that a command answered by `stage` may be sent now and queue its reply.
    pub(super) fn expect_reply(&mut self, stage: Stage) -> Result<(), SmtpError> {
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
            .map_err(|()| SmtpError::Internal)
    }

    /// Encode `cmd` at the start of `out` and queue the reply it expects. Returns the
    /// length; nothing is queued when encoding fails.
    pub(super) fn encode(&mut self, cmd: Command<'_>, out: &mut [u8]) -> Result<usize, SmtpError> {
        // Check the phase and the queue before encoding so that a refused command leaves
        // `out` alone.
        self.expect_reply(stage_of(&cmd))?;
        // Only the command's name is logged: arguments may be personal data.
        #[cfg(feature = "defmt")]
        defmt::debug!("C: {}", stage_of(&cmd));
        cmd.encode(out).inspect_err(|_| self.pending.pop_back())
    }

    /// The TLS handshake after STARTTLS succeeded: forget everything learned in
    /// plaintext (RFC 3207 section 4.2) and expect a new EHLO.
    pub(super) fn tls_up(&mut self) {
        self.encrypted = true;
        self.caps = Capabilities::new();
        self.folding = Capabilities::new();
        self.authenticated = false;
        self.parser.reset();
        self.first = None;
        self.pending.clear();
        if self.phase == Phase::AwaitingUpgrade {
            self.phase = Phase::ExpectHello;
        }
    }

    /// Fold received lines until one reply is complete. On error the session is closed.
    // One copy outside the client's async state machine: a smaller firmware than inlining.
    #[inline(never)]
    pub(super) fn read_reply(&mut self, buf: &[u8]) -> Result<Read, SmtpError> {
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
                return Ok(Read::NeedMore { consumed: pos });
            };
            let Some(stage) = self.pending.front() else {
                return self.fatal(ProtocolViolation::UnsolicitedReply);
            };
            let start = pos;
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
            if buf.len() > pos {
                if stage == Stage::StartTls && reply.code == ReplyCode::SERVICE_READY {
                    return self.fatal(ProtocolViolation::DataAfterStartTls);
                }
                if self.pending.is_empty() {
                    return self.fatal(ProtocolViolation::UnsolicitedReply);
                }
            }
            // The text of the last line: after the code and its separator, before CRLF.
            // (A 3xx line never carries an enhanced status code, whose class is 2, 4 or 5.)
            let text = (start + 4).min(pos - 2)..pos - 2;
            return Ok(Read::Reply {
                consumed: pos,
                stage,
                reply,
                text,
            });
        }
    }

    /// Apply a complete reply to the state.
    // Not inlined into `read_reply`: a smaller firmware.
    #[inline(never)]
    fn on_reply(&mut self, stage: Stage, reply: &Reply, last_text: &[u8]) -> Result<(), SmtpError> {
        #[cfg(feature = "defmt")]
        defmt::debug!("S: {=u16}", reply.code.get());
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
                self.phase = Phase::Ready;
            }
            Stage::Helo => {
                self.caps = Capabilities::new();
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
            Stage::MailFrom => self.mail_accepted = true,
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
pub(crate) const fn stage_of(cmd: &Command<'_>) -> Stage {
    match cmd {
        Command::Ehlo(_) => Stage::Ehlo,
        Command::Helo(_) => Stage::Helo,
        Command::StartTls => Stage::StartTls,
        Command::Auth(_) => Stage::Auth,
        Command::Mail { .. } => Stage::MailFrom,
        Command::Rcpt { .. } => Stage::RcptTo,
        Command::Bdat { last: true, .. } => Stage::DataEnd,
        Command::Bdat { last: false, .. } => Stage::Bdat,
        Command::Data => Stage::Data,
        Command::Rset => Stage::Rset,
        Command::Noop => Stage::Noop,
        Command::Quit => Stage::Quit,
    }
}
