//! Errors, split by who is at fault.
//!
//! Every fallible operation of this crate returns [`SmtpError`]. It owns all its data (no
//! lifetimes, no generics), never contains a secret, and tells the caller which party is
//! at fault:
//!
//! | party | variants |
//! |---|---|
//! | the transport | [`SmtpError::Io`], [`SmtpError::ConnectionClosed`], [`SmtpError::Tls`], [`SmtpError::Timeout`] |
//! | the server, misbehaving | [`SmtpError::MalformedReply`], [`SmtpError::Protocol`] |
//! | the server, saying no | [`SmtpError::Rejected`], [`SmtpError::RecipientsRejected`], [`SmtpError::Auth`], [`SmtpError::ExtensionUnavailable`], [`SmtpError::MessageTooLarge`] |
//! | the caller | [`SmtpError::InvalidInput`], [`SmtpError::BufferTooSmall`], [`SmtpError::PlaintextAuth`], [`SmtpError::SessionUnusable`], [`SmtpError::BodySource`] |
//!
//! [`SmtpError::is_transient`] and [`SmtpError::is_permanent`] answer the question a mail
//! queue asks: should this message be retried later?

use crate::auth::BearerStatus;
use crate::capabilities::Mechanism;
use crate::reply::{EnhancedStatus, ReplyCode};
use embedded_io_async::ErrorKind;

/// The stage of the SMTP dialogue a server reply answered.
///
/// Carried by [`Rejection`] so that an error says what was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Stage {
    /// The server's opening greeting (RFC 5321 section 4.3.1).
    Greeting,
    /// `EHLO` (RFC 5321 section 4.1.1.1).
    Ehlo,
    /// `HELO`, the fallback when `EHLO` is refused.
    Helo,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// The TLS handshake after the 220 reply to `STARTTLS` (RFC 3207 section 4), run by
    /// the transport. No reply answers it: it appears only in
    /// [`SmtpError::Timeout`], when the handshake outlasts
    /// [`Timeouts::tls_handshake`](crate::Timeouts::tls_handshake).
    TlsHandshake,
    /// `AUTH` and its challenge exchange (RFC 4954).
    Auth,
    /// `MAIL FROM` (RFC 5321 section 4.1.1.2).
    MailFrom,
    /// `RCPT TO` (RFC 5321 section 4.1.1.3).
    RcptTo,
    /// `DATA`, the request to start sending the message (354 expected).
    Data,
    /// The end of the message: the `.` line after DATA, or the `BDAT n LAST` chunk. Its
    /// reply is the server's verdict on the message itself.
    DataEnd,
    /// A `BDAT n` chunk other than the last (RFC 3030).
    Bdat,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

impl Stage {
    /// The command name as written on the wire (or `"greeting"`, `"TLS handshake"`,
    /// `"end of data"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::Helo => "HELO",
            Stage::StartTls => "STARTTLS",
            Stage::TlsHandshake => "TLS handshake",
            Stage::Auth => "AUTH",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::DataEnd => "end of data",
            Stage::Bdat => "BDAT",
            Stage::Rset => "RSET",
            Stage::Noop => "NOOP",
            Stage::Quit => "QUIT",
        }
    }
}

impl core::fmt::Display for Stage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A negative (4xx or 5xx) reply from the server, and what it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rejection {
    /// What the reply answered.
    pub stage: Stage,
    /// The three-digit reply code (400-599).
    pub code: ReplyCode,
    /// The RFC 3463 enhanced status code, when the server sent one.
    pub enhanced: Option<EnhancedStatus>,
}

impl Rejection {
    /// A 4xx reply: the same request may succeed later.
    pub const fn is_transient(&self) -> bool {
        self.code.is_transient_negative()
    }

    /// A 5xx reply: the same request will fail again.
    pub const fn is_permanent(&self) -> bool {
        self.code.is_permanent_negative()
    }
}

impl core::fmt::Display for Rejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} rejected with {}", self.stage, self.code.get())?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        Ok(())
    }
}

/// Why a reply could not be parsed. The server is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum MalformedReply {
    /// A line did not start with three digits followed by space, `-` or the line end.
    #[error("reply line does not start with a three-digit code")]
    BadCode,
    /// The code's first digit is not 2, 3, 4 or 5.
    #[error("reply code outside 2xx-5xx")]
    CodeOutOfRange,
    /// The lines of one multi-line reply carried different codes.
    #[error("multi-line reply with mixed codes")]
    MixedCodes,
    /// A line was longer than the receive buffer allows.
    #[error("reply line longer than the {limit}-octet limit")]
    LineTooLong {
        /// The limit in octets, including CRLF.
        limit: usize,
    },
    /// A multi-line reply had more lines than the limit.
    #[error("reply with more than {limit} lines")]
    TooManyLines {
        /// The largest number of lines accepted in one reply.
        limit: usize,
    },
    /// A bare CR or a bare LF inside a reply line.
    #[error("bare CR or LF inside a reply line")]
    BadLineEnding,
    /// A capability line from EHLO could not be understood (for example `SIZE` with a
    /// number that overflows).
    #[error("malformed EHLO capability line")]
    BadCapability,
    /// An AUTH challenge (334) that was not valid base64 where base64 was required.
    #[error("malformed AUTH challenge")]
    BadChallenge,
}

/// A well-formed reply that is wrong for the state of the session. The server is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A positive reply code that does not belong to the command (for example 354 to
    /// `MAIL FROM`).
    #[error("unexpected reply {code} to {stage}")]
    UnexpectedCode {
        /// The command that was answered.
        stage: Stage,
        /// The code received.
        code: u16,
    },
    /// Bytes arrived in the same read as the 220 reply to STARTTLS: a response injection
    /// attempt (CVE-2011-0411 class). The connection has been abandoned.
    #[error("bytes received after the STARTTLS 220 reply before the TLS handshake")]
    DataAfterStartTls,
    /// The server sent bytes when no reply was expected.
    #[error("unsolicited bytes from the server")]
    UnsolicitedReply,
    /// More AUTH challenges (334) than the mechanism allows.
    #[error("too many AUTH challenges")]
    TooManyChallenges,
}

/// TLS policy and upgrade failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TlsError {
    /// TLS is required but the server does not advertise STARTTLS.
    #[error("TLS required but the server does not offer STARTTLS")]
    NotOffered,
    /// TLS is required but the server refused STARTTLS.
    #[error("TLS required but STARTTLS was refused with {0}")]
    Refused(u16),
    /// The transport failed to perform the TLS handshake.
    #[error("TLS handshake failed: {}", kind_str(*.0))]
    Handshake(ErrorKind),
    /// The transport reported that it is still not encrypted after the upgrade.
    #[error("transport is not encrypted after the TLS upgrade")]
    NotEncrypted,
    /// Implicit TLS was required ([`TlsPolicy::Implicit`](crate::TlsPolicy::Implicit))
    /// but the transport is not encrypted. Nothing was read or written.
    #[error("implicit TLS required but the connection is not encrypted; nothing was sent")]
    PlaintextTransport,
}

/// Authentication failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AuthError {
    /// The server refused the credentials (535, 534, 538, 454 ...).
    #[error("authentication failed: {0}")]
    Rejected(Rejection),
    /// No mechanism that both this client and the server support.
    #[error("no common AUTH mechanism")]
    NoCommonMechanism,
    /// The mechanism was requested explicitly but this build does not include it (enable
    /// the cargo feature `auth-scram` or `auth-cram-md5` of wasm-smtp-core).
    #[error("AUTH {} is not built in (cargo feature missing)", .0.name())]
    MechanismDisabled(Mechanism),
    /// OAUTHBEARER failed: the server sent an error challenge (RFC 7628 section 3.2.2),
    /// the client answered with the `\x01` abort, and the server gave its final failure.
    #[error("OAUTHBEARER failed (status \"{status}\"): {rejection}")]
    BearerRejected {
        /// The final negative reply.
        rejection: Rejection,
        /// The `status` member of the server's JSON error (bounded, may be empty).
        status: BearerStatus,
    },
    /// The server broke SCRAM (RFC 5802): a malformed or hostile challenge, or a server
    /// signature that does not prove it knows the password. The connection was abandoned.
    #[error("SCRAM-SHA-256: {0}")]
    Scram(ScramError),
}

/// How a server broke a SCRAM exchange (RFC 5802 section 7). The server is at fault; the
/// client writes nothing more on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ScramError {
    /// The server-first message does not follow the grammar (missing `r=`, `s=` or `i=`,
    /// out of order, non-printable nonce, not base64 ...).
    #[error("malformed server-first message")]
    MalformedServerFirst,
    /// The server-first message starts with the `m=` mandatory extension, which this
    /// client does not support (RFC 5802 section 5.1).
    #[error("server requires an unsupported mandatory extension (m=)")]
    MandatoryExtension,
    /// The combined nonce does not start with the client nonce, or adds nothing to it.
    #[error("server nonce does not extend the client nonce")]
    NonceMismatch,
    /// The salt is empty, not base64, or longer than the supported maximum.
    #[error("bad salt")]
    BadSalt,
    /// The iteration count is outside the accepted range (too low to be safe, or high
    /// enough to be a denial of service).
    #[error("iteration count {0} outside the accepted range")]
    IterationCount(u32),
    /// The server-final message is neither `v=` with a 32-byte signature nor `e=`.
    #[error("malformed server-final message")]
    MalformedServerFinal,
    /// The server-final message reported an error (`e=`).
    #[error("server reported a SCRAM error")]
    ServerError,
    /// The server signature (`v=`) is wrong: the server does not know the password.
    #[error("server signature mismatch")]
    ServerSignatureMismatch,
    /// The combined nonce of the server-first message is longer than this client keeps
    /// (`auth::exchange::MAX_SCRAM_NONCE` octets, feature `auth-scram`).
    #[error("server nonce too long")]
    NonceTooLong,
    /// The server said 235 without proving its identity with a server signature first.
    #[error("authentication reported successful without a server signature")]
    ServerSignatureMissing,
}

/// The caller argument that failed validation. Never carries the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InputField {
    /// The domain sent with EHLO/HELO.
    EhloDomain,
    /// The reverse-path (`MAIL FROM`).
    From,
    /// A forward-path (`RCPT TO`), with its index in the recipient list.
    To(usize),
    /// The recipient list as a whole.
    Recipients,
    /// The AUTH user name.
    Username,
    /// The AUTH password or token (its content is never reported).
    Secret,
    /// The SCRAM client nonce.
    Nonce,
    /// The OAUTHBEARER `host` value.
    OAuthHost,
    /// The message body.
    Body,
    /// The DSN envelope identifier (`ENVID`, RFC 3461 section 4.4).
    EnvelopeId,
    /// The DSN notification request (`NOTIFY`, RFC 3461 section 4.1).
    Notify,
}

impl core::fmt::Display for InputField {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InputField::EhloDomain => f.write_str("EHLO domain"),
            InputField::From => f.write_str("sender address"),
            InputField::To(i) => write!(f, "recipient address #{i}"),
            InputField::Recipients => f.write_str("recipient list"),
            InputField::Username => f.write_str("user name"),
            InputField::Secret => f.write_str("password or token"),
            InputField::Nonce => f.write_str("SCRAM client nonce"),
            InputField::OAuthHost => f.write_str("OAUTHBEARER host"),
            InputField::Body => f.write_str("message body"),
            InputField::EnvelopeId => f.write_str("DSN envelope id"),
            InputField::Notify => f.write_str("DSN notification request"),
        }
    }
}

/// Why a caller argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InvalidReason {
    /// Empty where a value is required.
    #[error("is empty")]
    Empty,
    /// Longer than the RFC 5321 limit (section 4.5.3.1).
    #[error("is longer than {0} octets")]
    TooLong(usize),
    /// Contains CR, LF, another control byte or DEL.
    #[error("contains a control character")]
    ControlCharacter,
    /// Contains a byte that the grammar forbids here (`<`, `>`, space, NUL ...).
    #[error("contains a forbidden character")]
    ForbiddenCharacter,
    /// Does not match the RFC 5321 grammar (for example a mailbox without `@`).
    #[error("is not well-formed")]
    Syntax,
    /// Contains non-ASCII text and the server does not offer SMTPUTF8.
    #[error("is not ASCII and the server does not offer SMTPUTF8")]
    NonAscii,
    /// Contains non-ASCII characters that would need SASLprep (RFC 4013), which this
    /// client does not implement: SCRAM credentials must be ASCII.
    #[error("is not ASCII (SASLprep is not supported)")]
    NeedsSaslPrep,
    /// Shorter than the minimum length.
    #[error("is shorter than {0} octets")]
    TooShort(usize),
    /// More items than this client allows in one call.
    #[error("has more than {0} entries")]
    TooMany(usize),
}

/// Everything that can go wrong in an SMTP session.
///
/// The error owns its data and never contains a password, token or their encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SmtpError {
    /// The transport failed to read or write.
    #[error("transport error: {}", kind_str(*.0))]
    Io(ErrorKind),
    /// The server closed the connection (end of stream) while a reply was expected.
    #[error("connection closed by the server")]
    ConnectionClosed,
    /// A TLS policy or upgrade failure.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The server did not answer (or did not take data) within the limit of the
    /// [`Timeouts`](crate::Timeouts) for this stage. The session is closed; nothing was
    /// written after the limit expired.
    ///
    /// [`Stage::Data`] covers the wait for the 354 reply and every write of the message
    /// up to and including the end-of-data line: the message was not delivered.
    /// [`Stage::DataEnd`] is the wait for the verdict after the whole message was
    /// written: the server may have accepted it, and a retry may deliver it twice
    /// (RFC 5321 section 6.1 accepts that risk; the error is transient all the same).
    #[error("no answer from the server within the time limit for {0}")]
    Timeout(Stage),
    /// The server sent bytes that are not a valid SMTP reply.
    #[error("malformed reply: {0}")]
    MalformedReply(#[from] MalformedReply),
    /// The server sent a valid reply that is wrong for the session state.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolViolation),
    /// The server refused a command with a 4xx or 5xx reply.
    #[error("{0}")]
    Rejected(Rejection),
    /// The server refused recipients: all of them, or some of them when the caller asked
    /// for all-or-nothing delivery. No message was sent; the transaction was reset.
    #[error("{rejected} of {total} recipients rejected (first: {first})")]
    RecipientsRejected {
        /// How many recipients were refused.
        rejected: usize,
        /// How many recipients were requested.
        total: usize,
        /// The first refusal.
        first: Rejection,
    },
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The server lacks an extension the operation needs.
    #[error("the server does not offer {0}")]
    ExtensionUnavailable(Extension),
    /// The message is larger than the limit the server announced with `SIZE` (RFC 1870).
    /// Nothing was written.
    #[error("message of {size} octets exceeds the server's SIZE limit of {limit}")]
    MessageTooLarge {
        /// The message size in octets (CRLF line endings, before dot-stuffing).
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// AUTH over an unencrypted connection was refused: the caller did not opt in with
    /// [`Config::allow_plaintext_auth`](crate::Config::allow_plaintext_auth).
    #[error("refusing to send credentials over an unencrypted connection")]
    PlaintextAuth,
    /// A caller argument failed validation; nothing was written.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which argument.
        field: InputField,
        /// What is wrong with it.
        reason: InvalidReason,
    },
    /// A fixed-capacity buffer is too small for this operation.
    #[error("buffer too small: {needed} octets needed")]
    BufferTooSmall {
        /// The capacity that would have been enough.
        needed: usize,
    },
    /// The session was closed (QUIT, 421, or an earlier fatal error) and can no longer be
    /// used. Nothing was written.
    #[error("the SMTP session is closed")]
    SessionUnusable,
    /// An internal invariant of this crate did not hold (a bug: please report it). The
    /// session is closed; nothing more was written.
    #[error("internal error in wasm-smtp (a bug; the session was closed)")]
    Internal,
    /// The body source failed in the middle of DATA. The connection was abandoned without
    /// the end-of-data line, so the server discards the partial message.
    #[error("message body source failed: {}", kind_str(*.0))]
    BodySource(ErrorKind),
}

/// An SMTP service extension that an operation needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Extension {
    /// `AUTH` (RFC 4954).
    Auth,
    /// `8BITMIME` (RFC 6152), needed for a body with 8-bit bytes.
    EightBitMime,
    /// `DSN` (RFC 3461), needed for delivery status notification parameters.
    Dsn,
}

impl core::fmt::Display for Extension {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Extension::Auth => "AUTH",
            Extension::EightBitMime => "8BITMIME",
            Extension::Dsn => "DSN",
        })
    }
}

/// A readable name for an I/O error kind (for `Display`, instead of its `Debug` form).
pub const fn kind_str(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "not found",
        ErrorKind::PermissionDenied => "permission denied",
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::ConnectionReset => "connection reset",
        ErrorKind::ConnectionAborted => "connection aborted",
        ErrorKind::NotConnected => "not connected",
        ErrorKind::AddrInUse => "address in use",
        ErrorKind::AddrNotAvailable => "address not available",
        ErrorKind::BrokenPipe => "broken pipe",
        ErrorKind::AlreadyExists => "already exists",
        ErrorKind::InvalidInput => "invalid input",
        ErrorKind::InvalidData => "invalid data",
        ErrorKind::TimedOut => "timed out",
        ErrorKind::Interrupted => "interrupted",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::OutOfMemory => "out of memory",
        ErrorKind::WriteZero => "write returned zero bytes",
        _ => "other error",
    }
}

impl SmtpError {
    /// Retrying the same operation later, on a new connection if needed, may succeed:
    /// transport failures, time-outs, closed connections and 4xx replies.
    pub const fn is_transient(&self) -> bool {
        match self {
            SmtpError::Io(_) | SmtpError::ConnectionClosed | SmtpError::Timeout(_) => true,
            SmtpError::Rejected(r) => r.is_transient(),
            SmtpError::RecipientsRejected { first, .. } => first.is_transient(),
            SmtpError::Auth(AuthError::Rejected(r))
            | SmtpError::Auth(AuthError::BearerRejected { rejection: r, .. }) => r.is_transient(),
            _ => false,
        }
    }

    /// Retrying the same operation will fail the same way: 5xx replies and invalid input.
    ///
    /// Errors that are neither transient nor permanent (a misbehaving server, a TLS policy
    /// failure, a buffer too small) need a decision by the caller.
    pub const fn is_permanent(&self) -> bool {
        match self {
            SmtpError::Rejected(r) => r.is_permanent(),
            SmtpError::RecipientsRejected { first, .. } => first.is_permanent(),
            SmtpError::Auth(AuthError::Rejected(r))
            | SmtpError::Auth(AuthError::BearerRejected { rejection: r, .. }) => r.is_permanent(),
            SmtpError::InvalidInput { .. } | SmtpError::MessageTooLarge { .. } => true,
            _ => false,
        }
    }

    /// The server's reply code, when the error comes from a negative reply.
    pub const fn reply_code(&self) -> Option<ReplyCode> {
        match self {
            SmtpError::Rejected(r)
            | SmtpError::RecipientsRejected { first: r, .. }
            | SmtpError::Auth(AuthError::Rejected(r))
            | SmtpError::Auth(AuthError::BearerRejected { rejection: r, .. }) => Some(r.code),
            _ => None,
        }
    }

    pub(crate) const fn invalid(field: InputField, reason: InvalidReason) -> Self {
        SmtpError::InvalidInput { field, reason }
    }
}
