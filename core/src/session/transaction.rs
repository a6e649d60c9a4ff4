//! The mail transaction (RFC 5321 section 3.3): the envelope checked before anything is
//! written, MAIL FROM, the RCPT TOs and DATA in one PIPELINING flight (RFC 2920) or one
//! command per round trip, the message through DATA (dot-stuffed, RFC 5321 section
//! 4.5.2) or BDAT chunks (RFC 3030), per-recipient outcomes, and RSET after a failure.
//!
//! ```text
//! C: MAIL FROM:<a@example.com> SIZE=n   \
//! C: RCPT TO:<b@example.com>             | one flight with PIPELINING
//! C: DATA                               /
//! S: 250 / 250 / 354                    (replies read in order, one decision at the end)
//! C: message, "."                       (or "BDAT n LAST" and the message, no dot)
//! S: 250 queued as ...
//! ```
//!
//! Replies are taken one at a time in the order of the commands; decisions that depend
//! on several replies (is any recipient left, may the message be sent) are taken once
//! every command sent so far is answered. So the same code runs with and without
//! PIPELINING: without it, one command is answered at a time.

use super::{Session, Tx, Want};
use crate::capabilities::Capability;
use crate::command::{Command, MailParams, RcptParams};
use crate::data::{DataEncoder, FINISH_MAX, MAX_LINE};
use crate::error::{Extension, InputField, InvalidReason, Rejection, SmtpError, Stage};
use crate::reply::{Reply, ReplyText};
use core::marker::PhantomData;

/// Most recipients in one transaction (RFC 5321 section 4.5.3.1.8 requires servers to
/// accept at least 100).
pub const MAX_RECIPIENTS: usize = 100;

/// Most BDAT chunks of a streamed message left unanswered before the client reads a
/// reply (with PIPELINING).
pub const BDAT_WINDOW: usize = 8;

/// Room kept for a `BDAT n` line in front of a streamed chunk (`BDAT `, 20 digits, CRLF).
#[cfg(feature = "chunking")]
const CHUNK_HEAD: usize = 27;

/// The message of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// The whole message (headers, blank line, body). Its size, 8-bit content and line
    /// lengths are checked before anything is written.
    Bytes(&'a [u8]),
    /// A message handed in chunk by chunk on [`Want::Body`]: its size and content are not
    /// known in advance (no `SIZE=`; 8-bit content must be declared with
    /// [`SendOptions::eight_bit_mime`]).
    Stream,
}

/// Per-message options ([`Session::send`], `SmtpClient::send_mail_with` and
/// `SmtpClient::send_mail_from_reader_with`). `SendOptions::new()` sends exactly what
/// `SmtpClient::send_mail` sends.
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

/// A mail transaction in progress.
#[derive(Debug)]
pub(super) struct Mail<'a> {
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
    /// RSET follows a failure (cleared where the transaction is over without it, and
    /// once it is sent).
    reset: bool,
    at: At,
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
    /// The reply that accepted the message.
    delivered: Option<Reply>,
    rejected: u128,
    first_rejection: Option<Rejection>,
    first_rejection_text: ReplyText,
    enc: DataEncoder,
    /// How much of a message given whole is encoded.
    pos: usize,
}

/// How the message goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    /// Not started.
    None,
    /// DATA.
    Data,
    /// BDAT chunks.
    #[cfg(feature = "chunking")]
    Bdat,
}

/// Where a transaction stands: what it sends next, or what it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Send MAIL FROM (and with PIPELINING the rest of the flight).
    Start,
    /// Send the rest of the pipelined flight.
    Commands,
    /// Send the next RCPT TO (without PIPELINING).
    Rcpt,
    /// Send DATA, or start the BDAT chunks.
    Transfer,
    /// Read the replies to what was sent.
    Replies,
    /// Send the message.
    Body,
    /// Read replies to BDAT chunks before sending more.
    #[cfg(feature = "chunking")]
    Window,
    /// Send the lone end-of-data line after an unwanted 354 (RFC 2920 section 3.1).
    Dot,
    /// Send RSET after a failure.
    Reset,
    /// Read the replies still due; the transaction is over.
    Draining,
}

impl<'a> Mail<'a> {
    /// Validate the whole envelope and the options against the server's capabilities
    /// before anything is written, and choose the parameters and the transfer method.
    /// Out of line on Arm, inlined elsewhere (both measured: see benches/README.md).
    #[cfg_attr(target_arch = "arm", inline(never))]
    pub(super) fn prepare(
        s: &Session,
        from: &'a str,
        to: &'a [&'a str],
        body: Body<'a>,
        options: &SendOptions<'a>,
    ) -> Result<Self, SmtpError> {
        let known = match body {
            Body::Bytes(bytes) => Some(bytes),
            Body::Stream => None,
        };
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
        let caps = s.capabilities();
        let config = s.config();
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
            if !config.allow_long_lines && facts.longest_line > MAX_LINE {
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
        if needed > s.tx {
            return Err(SmtpError::BufferTooSmall { needed });
        }
        Ok(Mail {
            from,
            to,
            params,
            rcpt_params,
            known,
            #[cfg(feature = "chunking")]
            size,
            pipelining: config.pipelining && caps.has(Capability::Pipelining),
            #[cfg(feature = "chunking")]
            chunking: config.chunking && caps.has(Capability::Chunking),
            reset: true,
            at: At::Start,
            transfer: Transfer::None,
            queued: 0,
            answered: 0,
            mail_rejection: None,
            transfer_rejection: None,
            got_354: false,
            delivered: None,
            rejected: 0,
            first_rejection: None,
            first_rejection_text: ReplyText::default(),
            enc: DataEncoder::new(),
            pos: 0,
        })
    }

    /// What was sent, once the message was accepted.
    pub(super) fn outcome(self) -> Result<SendOutcome, SmtpError> {
        Ok(SendOutcome {
            reply: self.delivered.ok_or(SmtpError::Internal)?,
            recipients: self.to.len(),
            rejected: self.rejected,
            first_rejection: self.first_rejection,
            first_rejection_text: self.first_rejection_text,
        })
    }

    pub(super) fn transmit(&mut self, s: &mut Session, tx: &mut Tx<'_>) -> Result<Want, SmtpError> {
        match self.at {
            At::Start => {
                let (from, params) = (self.from, self.params);
                tx.command(s, Command::Mail { from, params })?;
                if self.pipelining {
                    self.at = At::Commands;
                    return self.flight(s, tx);
                }
                self.at = At::Replies;
                Ok(Want::Receive)
            }
            At::Commands => self.flight(s, tx),
            At::Rcpt => {
                let to = self
                    .to
                    .get(self.queued)
                    .copied()
                    .ok_or(SmtpError::Internal)?;
                let params = self.rcpt_params;
                tx.command(s, Command::Rcpt { to, params })?;
                self.queued += 1;
                self.at = At::Replies;
                Ok(Want::Receive)
            }
            At::Transfer => self.start_transfer(s, tx),
            At::Body => self.known_body(tx),
            At::Dot => {
                s.expect_reply(Stage::DataEnd)?;
                tx.put(b".\r\n")?;
                self.at = At::Draining;
                Ok(Want::Receive)
            }
            At::Reset => {
                tx.command(s, Command::Rset)?;
                self.at = At::Draining;
                Ok(Want::Receive)
            }
            _ => Err(SmtpError::Internal),
        }
    }

    /// PIPELINING: every RCPT TO after MAIL FROM, then DATA, or `BDAT n LAST` with the
    /// whole message when it fits the transmit buffer and a MAIL FROM was accepted on
    /// this connection before; written whenever the buffer fills, the replies read once
    /// the whole flight is written.
    fn flight(&mut self, s: &mut Session, tx: &mut Tx<'_>) -> Result<Want, SmtpError> {
        while let Some(&to) = self.to.get(self.queued) {
            let cmd = Command::Rcpt {
                to,
                params: self.rcpt_params,
            };
            if !tx.fits(&cmd) {
                return Ok(Want::Transmit);
            }
            tx.command(s, cmd)?;
            self.queued += 1;
        }
        if s.config().require_all_recipients {
            // All-or-nothing: DATA only once every recipient is known to be accepted
            // (after a 354 the message could no longer be held back).
            self.at = At::Replies;
            return Ok(Want::Receive);
        }
        #[cfg(not(feature = "chunking"))]
        let cmd = Command::Data;
        #[cfg(feature = "chunking")]
        let cmd = match self.known {
            // Only once a MAIL FROM was accepted on this connection: a server that
            // refuses commands before looking at them (Postfix's 530 "Must issue a
            // STARTTLS command first") does not skip a refused chunk and would read the
            // message as commands.
            Some(_) if self.chunking && s.mail_accepted => Command::Bdat {
                size: self.size,
                last: true,
            },
            // A streamed message, or the first message: BDAT once the envelope is
            // accepted.
            _ if self.chunking => {
                self.at = At::Replies;
                return Ok(Want::Receive);
            }
            _ => Command::Data,
        };
        #[cfg(feature = "chunking")]
        if let Command::Bdat { size, .. } = cmd {
            if size.saturating_add(cmd.encoded_len() as u64) > s.tx as u64 {
                // Too big for one flight: the envelope first, the message once accepted.
                self.at = At::Replies;
                return Ok(Want::Receive);
            }
        }
        if !tx.fits(&cmd) {
            return Ok(Want::Transmit);
        }
        tx.command(s, cmd)?;
        #[cfg(feature = "chunking")]
        if let Command::Bdat { .. } = cmd {
            self.start_chunks();
            return self.known_body(tx);
        }
        self.transfer = Transfer::Data;
        self.at = At::Replies;
        Ok(Want::Receive)
    }

    /// One reply of the transaction.
    pub(super) fn reply(
        &mut self,
        s: &mut Session,
        stage: Stage,
        reply: &Reply,
    ) -> Result<Want, SmtpError> {
        match self.at {
            At::Replies => {
                self.take(s, stage, reply)?;
                if !s.pending.is_empty() {
                    // More replies of the flight to read.
                    return Ok(Want::Receive);
                }
                self.decide(s)
            }
            #[cfg(feature = "chunking")]
            At::Window => {
                self.take(s, stage, reply)?;
                let pending = s.pending.len();
                if self.transfer_rejection.is_some() {
                    // Stop sending chunks; read what is left, then report.
                    self.at = At::Replies;
                    if pending > 0 {
                        return Ok(Want::Receive);
                    }
                    return self.decide(s);
                }
                // Replies that arrived together are taken now: the receive buffer must be
                // empty before the next chunk of the body is read into it.
                if pending >= BDAT_WINDOW || (pending > 0 && s.unread) {
                    return Ok(Want::Receive);
                }
                self.at = At::Body;
                Ok(Want::Body)
            }
            // The replies still due after the lone end-of-data line or RSET: their
            // outcome does not matter, the error is already known.
            At::Draining if !s.pending.is_empty() => Ok(Want::Receive),
            At::Draining => Ok(Want::Done),
            _ => Err(SmtpError::Internal),
        }
    }

    /// Take one reply into account. Only a 421 stops at once.
    fn take(&mut self, s: &mut Session, stage: Stage, reply: &Reply) -> Result<(), SmtpError> {
        if reply.code == crate::reply::ReplyCode::SERVICE_UNAVAILABLE {
            // The session closed itself: nothing more can be written.
            return Err(s.rejected(stage, reply));
        }
        if stage == Stage::RcptTo {
            let index = self.answered;
            self.answered += 1;
            if reply.code.is_negative() {
                self.rejected |= 1u128.checked_shl(index as u32).unwrap_or(0);
                if self.first_rejection.is_none() {
                    self.first_rejection = Some(Rejection {
                        stage,
                        code: reply.code,
                        enhanced: reply.enhanced,
                    });
                    self.first_rejection_text = reply.text.clone();
                }
            }
            return Ok(());
        }
        if !reply.code.is_negative() {
            match stage {
                Stage::Data => self.got_354 = true,
                Stage::DataEnd => self.delivered = Some(reply.clone()),
                _ => {}
            }
            return Ok(());
        }
        if self.mail_rejection.is_some() || self.transfer_rejection.is_some() {
            // Only the first refusal of MAIL FROM, DATA or BDAT is reported.
            return Ok(());
        }
        let r = s.rejection(stage, reply);
        if stage == Stage::MailFrom {
            self.mail_rejection = Some(r);
        } else {
            self.transfer_rejection = Some(r);
        }
        Ok(())
    }

    /// Every command sent so far is answered: what comes next.
    fn decide(&mut self, s: &mut Session) -> Result<Want, SmtpError> {
        if let Some(r) = self.mail_rejection {
            return Err(SmtpError::Rejected(r));
        }
        if self.queued < self.to.len() {
            // Without PIPELINING: the next recipient.
            self.at = At::Rcpt;
            return Ok(Want::Transmit);
        }
        let rejected = self.rejected.count_ones() as usize;
        if let Some(first) = self.first_rejection {
            if rejected == self.to.len() || s.config().require_all_recipients {
                s.rejection_text = self.first_rejection_text.clone();
                return Err(SmtpError::RecipientsRejected {
                    rejected,
                    total: self.to.len(),
                    first,
                });
            }
        }
        if let Some(r) = self.transfer_rejection {
            if r.stage == Stage::DataEnd && self.transfer == Transfer::Data {
                // A refused end of message ends the transaction by itself (RFC 5321
                // section 4.1.1.4): no RSET.
                self.reset = false;
            }
            return Err(SmtpError::Rejected(r));
        }
        if self.delivered.is_some() {
            return Ok(Want::Done);
        }
        match self.transfer {
            // A streamed message in BDAT chunks (only with PIPELINING: otherwise every
            // chunk would wait for its reply, where DATA streams the whole message at
            // once): the chunks carry their own command lines.
            #[cfg(feature = "chunking")]
            Transfer::None if self.chunking && self.known.is_none() && self.pipelining => {
                self.start_chunks();
                Ok(Want::Body)
            }
            Transfer::None => {
                self.at = At::Transfer;
                Ok(Want::Transmit)
            }
            Transfer::Data if self.got_354 => {
                self.got_354 = false;
                s.expect_reply(Stage::DataEnd)?;
                self.at = At::Body;
                Ok(if self.known.is_some() {
                    Want::Transmit
                } else {
                    Want::Body
                })
            }
            // Every reply was checked by the session: DATA is answered 354 or refused,
            // the last BDAT chunk 250 or refused.
            _ => Err(SmtpError::Internal),
        }
    }

    /// Send DATA, or `BDAT n LAST` and the message given whole.
    fn start_transfer(&mut self, s: &mut Session, tx: &mut Tx<'_>) -> Result<Want, SmtpError> {
        #[cfg(feature = "chunking")]
        if self.chunking && self.known.is_some() {
            let cmd = Command::Bdat {
                size: self.size,
                last: true,
            };
            tx.command(s, cmd)?;
            self.start_chunks();
            return self.known_body(tx);
        }
        tx.command(s, Command::Data)?;
        self.transfer = Transfer::Data;
        self.at = At::Replies;
        Ok(Want::Receive)
    }

    /// The message goes in BDAT chunks from here on.
    #[cfg(feature = "chunking")]
    fn start_chunks(&mut self) {
        self.transfer = Transfer::Bdat;
        self.enc = DataEncoder::chunked();
        self.at = At::Body;
    }

    /// The transaction failed: what to send before it ends, if anything. After an
    /// unwanted 354 (pipelined, before the failure was known) the message is ended at
    /// once with the lone end-of-data line (RFC 2920 section 3.1) and nothing else;
    /// otherwise RSET, so that the connection can carry the next message (not on a
    /// closed session, and not where the transaction is over by itself).
    pub(super) fn failed(&mut self, s: &Session) -> Option<Want> {
        if s.is_closed() {
            return None;
        }
        if core::mem::take(&mut self.got_354) {
            self.at = At::Dot;
            return Some(Want::Transmit);
        }
        if !core::mem::take(&mut self.reset) {
            return None;
        }
        self.at = At::Reset;
        Some(Want::Transmit)
    }

    /// Encode a message given whole into the transmit buffer, then its end (DATA's
    /// terminator, or the end of the last line).
    fn known_body(&mut self, tx: &mut Tx<'_>) -> Result<Want, SmtpError> {
        let body = self.known.unwrap_or_default();
        while let Some(rest) = body.get(self.pos..).filter(|r| !r.is_empty()) {
            if tx.room() < 2 {
                return Ok(Want::Transmit);
            }
            let (used, written) = self.enc.encode(rest, tx.rest());
            tx.len += written;
            self.pos += used;
        }
        self.end(tx)
    }

    /// The end of a message whose DATA or `BDAT n LAST` line is already sent.
    fn end(&mut self, tx: &mut Tx<'_>) -> Result<Want, SmtpError> {
        if tx.room() < FINISH_MAX {
            return Ok(Want::Transmit);
        }
        let n = self.enc.finish(tx.rest()).ok_or(SmtpError::Internal)?;
        tx.len += n;
        self.at = At::Replies;
        Ok(Want::Receive)
    }

    /// A chunk of a streamed message (empty: its end). Returns how much of it was used
    /// and what comes next; nothing used, nothing written and still [`Want::Body`]: the
    /// room left in `tx` is too small, flush it.
    pub(super) fn body(
        &mut self,
        s: &mut Session,
        chunk: &[u8],
        tx: &mut Tx<'_>,
    ) -> Result<(usize, Want), SmtpError> {
        if self.at != At::Body || self.known.is_some() {
            return Err(SmtpError::Internal);
        }
        #[cfg(feature = "chunking")]
        if self.transfer == Transfer::Bdat {
            return self.chunk(s, chunk, tx);
        }
        if chunk.is_empty() {
            if tx.room() < FINISH_MAX {
                return Ok((0, Want::Body));
            }
            return Ok((0, self.end(tx)?));
        }
        let mut used = 0;
        while let Some(rest) = chunk.get(used..).filter(|r| !r.is_empty()) {
            if tx.room() < 2 {
                break;
            }
            let (n, written) = self.enc.encode(rest, tx.rest());
            tx.len += written;
            used += n;
            self.check_line_length(s)?;
        }
        Ok((used, Want::Body))
    }

    /// A streamed message with a line over [`MAX_LINE`] octets (unless allowed): abandon
    /// it. The session closes without the end of data (or the LAST chunk), so the server
    /// discards what it received; nothing of this call is written.
    fn check_line_length(&self, s: &mut Session) -> Result<(), SmtpError> {
        if self.enc.overlong() && !s.config().allow_long_lines {
            return s.fatal(SmtpError::invalid(
                InputField::Body,
                InvalidReason::TooLong(MAX_LINE),
            ));
        }
        Ok(())
    }

    /// A streamed message in BDAT chunks (with PIPELINING): each chunk handed in becomes
    /// one BDAT chunk (or more, when its encoding does not fit the transmit buffer), sent
    /// without waiting for its reply while fewer than [`BDAT_WINDOW`] are unanswered; at
    /// the end, `BDAT n LAST` with the end of the last line (n is 0 or 2).
    #[cfg(feature = "chunking")]
    fn chunk(
        &mut self,
        s: &mut Session,
        chunk: &[u8],
        tx: &mut Tx<'_>,
    ) -> Result<(usize, Want), SmtpError> {
        if chunk.is_empty() {
            let tail = self.enc.tail();
            let cmd = Command::Bdat {
                size: tail.len() as u64,
                last: true,
            };
            if cmd.encoded_len() + tail.len() > tx.room() {
                return Ok((0, Want::Body));
            }
            tx.command(s, cmd)?;
            tx.put(tail)?;
            self.enc = DataEncoder::chunked();
            self.at = At::Replies;
            return Ok((0, Want::Receive));
        }
        let mut used = 0;
        while let Some(rest) = chunk.get(used..).filter(|r| !r.is_empty()) {
            if tx.room() < CHUNK_HEAD + 2 {
                return Ok((used, Want::Body));
            }
            // Encode behind room for the BDAT line, then close the gap.
            let start = tx.len;
            let data = start + CHUNK_HEAD;
            let (n, written) = self
                .enc
                .encode(rest, tx.buf.get_mut(data..).unwrap_or_default());
            used += n;
            self.check_line_length(s)?;
            if written == 0 {
                // A lone CR, held back until the next byte shows whether LF follows.
                continue;
            }
            let mut head = [0u8; CHUNK_HEAD];
            let cmd = Command::Bdat {
                size: written as u64,
                last: false,
            };
            let n = s.encode(cmd, &mut head)?;
            tx.buf.copy_within(data..data + written, start + n);
            tx.buf[start..start + n].copy_from_slice(&head[..n]);
            tx.len = start + n + written;
        }
        if s.pending.len() >= BDAT_WINDOW {
            self.at = At::Window;
            return Ok((used, Want::Receive));
        }
        Ok((used, Want::Body))
    }
}
