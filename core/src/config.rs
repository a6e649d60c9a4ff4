//! Session options: [`Config`] (the TLS policy, plaintext AUTH, long lines, all-or-nothing
//! delivery, PIPELINING, CHUNKING and the time limits) and [`TlsPolicy`].

use crate::timeouts::Timeouts;

/// What the caller expects of TLS on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TlsPolicy {
    /// TLS from the first byte (implicit TLS, "SMTPS", RFC 8314 section 3.3, usually
    /// port 465): the transport must already be encrypted when the client is created.
    /// If it is not, [`Session::connect`](crate::session::Session::connect) fails with
    /// [`TlsError::PlaintextTransport`](crate::error::TlsError::PlaintextTransport) before reading or writing anything (no greeting is
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
    pub(crate) tls: TlsPolicy,
    pub(crate) allow_plaintext_auth: bool,
    pub(crate) allow_long_lines: bool,
    pub(crate) require_all_recipients: bool,
    pub(crate) pipelining: bool,
    #[cfg(feature = "chunking")]
    pub(crate) chunking: bool,
    #[cfg(feature = "timeouts")]
    pub(crate) timeouts: Timeouts,
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
    /// message is refused with [`SmtpError::InvalidInput`](crate::SmtpError::InvalidInput) for
    /// [`InputField::Body`](crate::error::InputField::Body)
    /// ([`InvalidReason::TooLong`](crate::error::InvalidReason::TooLong)): before anything is written when the message is
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
    /// ([`Transport::sleep`](crate::Transport::sleep)). Needs the `timeouts` feature (on by default).
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
    pub const fn time_limits(&self) -> Timeouts {
        #[cfg(feature = "timeouts")]
        return self.timeouts;
        #[cfg(not(feature = "timeouts"))]
        Timeouts::none()
    }
}
