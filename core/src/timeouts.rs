//! Time limits on every wait for the server (RFC 5321 section 4.5.3.2).
//!
//! The core never reads a clock. The time source is the transport's
//! [`Transport::sleep`](crate::Transport::sleep): the driver races each wait for the
//! server against one sleep of the limit for that phase, and the wait that loses is
//! dropped. A transport without a timer (the default `sleep` never completes) costs
//! nothing and waits as long as the transport does.
//!
//! [`Timeouts`] holds one limit per phase of the dialogue, set in the
//! [`Config`](crate::Config) with `Config::timeouts` (feature `timeouts`). The
//! defaults are the RFC's, and the RFC's values are *minimums* for a client: a shorter
//! limit may give up on a slow server that would have answered.
//!
//! | phase | limit applies to | default |
//! |---|---|---|
//! | greeting | the 220 greeting | 5 min (RFC) |
//! | EHLO / HELO | each write of the command, the reply | 5 min |
//! | STARTTLS | each write of the command, the 220 reply | 5 min |
//! | TLS handshake | the transport's [`upgrade_to_tls`](crate::Transport::upgrade_to_tls) after the 220 | 1 min |
//! | AUTH | each write of a line, each reply (334 or final) | 5 min |
//! | MAIL | each write of the command, the reply | 5 min (RFC) |
//! | RCPT | each write of the command, each reply | 5 min (RFC) |
//! | DATA initiation | each write of `DATA`, the 354 reply | 2 min (RFC) |
//! | data block | each write of body data, the end-of-data line included | 3 min (RFC) |
//! | end of data | the reply to the end-of-data line (the server's verdict) | 10 min (RFC) |
//! | RSET, NOOP | each write of the command, the reply | 5 min |
//! | QUIT | each write of the command, the reply, and closing the transport | 1 min |
//!
//! A reply's limit covers the whole reply, however many reads it takes (a server that
//! trickles one byte at a time does not restart the clock). A write's limit covers one
//! flush of the transmit buffer (at most `TX` bytes). A limit that expires fails the call
//! with [`SmtpError::Timeout`](crate::SmtpError::Timeout), naming the phase, and closes the
//! session: nothing more is written on that connection.

use crate::error::Stage;
#[cfg(feature = "timeouts")]
use core::future::{poll_fn, Future};
#[cfg(feature = "timeouts")]
use core::pin::{pin, Pin};
#[cfg(feature = "timeouts")]
use core::task::Poll;
use core::time::Duration;

/// One limit, in milliseconds; `u32::MAX` is "no limit". Four bytes instead of the 16
/// of an `Option<Duration>`: [`Timeouts`] lives in every client.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Limit(u32);

impl Limit {
    pub(crate) const NONE: Limit = Limit(u32::MAX);

    const fn secs(s: u32) -> Limit {
        Limit(s * 1000)
    }

    /// Rounded up to the millisecond, at most `u32::MAX - 1` ms (about 49.7 days).
    const fn new(limit: Option<Duration>) -> Limit {
        let Some(d) = limit else {
            return Limit::NONE;
        };
        let ms = d.as_nanos().div_ceil(1_000_000);
        if ms >= u32::MAX as u128 {
            Limit(u32::MAX - 1)
        } else {
            Limit(ms as u32)
        }
    }

    pub(crate) const fn get(self) -> Option<Duration> {
        if self.0 == u32::MAX {
            None
        } else {
            Some(Duration::from_millis(self.0 as u64))
        }
    }
}

impl core::fmt::Debug for Limit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.get().fmt(f)
    }
}

/// The time limits of an SMTP session, one per phase (see the
/// [module documentation](self) for the table). `Timeouts::new()` (and `default()`) has
/// the RFC 5321 values; [`Timeouts::none`] waits forever.
///
/// Each setter takes `Some(limit)` or `None` (no limit for that phase). Limits are kept
/// to the millisecond (rounded up) and at most about 49 days.
///
/// ```
/// use core::time::Duration;
/// use wasm_smtp_core::{Config, Stage, Timeouts};
///
/// // A Worker that must answer its HTTP client within a minute or so.
/// let limits = Timeouts::all(Some(Duration::from_secs(20)))
///     .data_end(Some(Duration::from_secs(45)));
/// # #[cfg(feature = "timeouts")]
/// # {
/// let config = Config::new().timeouts(limits);
/// assert_eq!(config.time_limits().reply(Stage::RcptTo), Some(Duration::from_secs(20)));
/// # }
/// assert_eq!(Timeouts::new().reply(Stage::DataEnd), Some(Duration::from_secs(600)));
/// assert_eq!(Timeouts::none().data_block_limit(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timeouts {
    greeting: Limit,
    ehlo: Limit,
    starttls: Limit,
    tls_handshake: Limit,
    auth: Limit,
    mail: Limit,
    rcpt: Limit,
    data: Limit,
    data_block: Limit,
    data_end: Limit,
    rset: Limit,
    noop: Limit,
    quit: Limit,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeouts {
    /// RFC 5321 section 4.5.3.2: greeting, MAIL and RCPT 5 minutes, DATA initiation 2
    /// minutes, each data block 3 minutes, end of data 10 minutes. For the phases the
    /// RFC does not name: EHLO/HELO, STARTTLS, AUTH, RSET and NOOP 5 minutes (as MAIL),
    /// the TLS handshake 1 minute (a few round trips and some arithmetic, no work on
    /// the server's side to wait for), QUIT 1 minute (nothing is lost by giving up on
    /// it).
    pub const fn new() -> Self {
        let five = Limit::secs(300);
        Timeouts {
            greeting: five,
            ehlo: five,
            starttls: five,
            tls_handshake: Limit::secs(60),
            auth: five,
            mail: five,
            rcpt: five,
            data: Limit::secs(120),
            data_block: Limit::secs(180),
            data_end: Limit::secs(600),
            rset: five,
            noop: five,
            quit: Limit::secs(60),
        }
    }

    /// No limit at all: every wait lasts as long as the transport lets it.
    pub const fn none() -> Self {
        Self::all(None)
    }

    /// The same limit for every phase.
    pub const fn all(limit: Option<Duration>) -> Self {
        let l = Limit::new(limit);
        Timeouts {
            greeting: l,
            ehlo: l,
            starttls: l,
            tls_handshake: l,
            auth: l,
            mail: l,
            rcpt: l,
            data: l,
            data_block: l,
            data_end: l,
            rset: l,
            noop: l,
            quit: l,
        }
    }

    /// The server's 220 greeting (RFC: 5 minutes).
    pub const fn greeting(mut self, limit: Option<Duration>) -> Self {
        self.greeting = Limit::new(limit);
        self
    }

    /// `EHLO` and `HELO` (default 5 minutes).
    pub const fn ehlo(mut self, limit: Option<Duration>) -> Self {
        self.ehlo = Limit::new(limit);
        self
    }

    /// `STARTTLS` and its 220 reply (default 5 minutes). The TLS handshake that follows
    /// has its own limit, [`tls_handshake`](Self::tls_handshake).
    pub const fn starttls(mut self, limit: Option<Duration>) -> Self {
        self.starttls = Limit::new(limit);
        self
    }

    /// The TLS handshake after the 220 reply to `STARTTLS`: the whole of
    /// [`Transport::upgrade_to_tls`](crate::Transport::upgrade_to_tls) (default 1
    /// minute). A time-out is reported as
    /// [`SmtpError::Timeout`](crate::SmtpError::Timeout)`(`[`Stage::TlsHandshake`]`)`
    /// and closes the session. A transport may have a shorter limit of its own.
    pub const fn tls_handshake(mut self, limit: Option<Duration>) -> Self {
        self.tls_handshake = Limit::new(limit);
        self
    }

    /// Each line of the AUTH exchange and each reply to it (default 5 minutes).
    pub const fn auth(mut self, limit: Option<Duration>) -> Self {
        self.auth = Limit::new(limit);
        self
    }

    /// `MAIL FROM` (RFC: 5 minutes).
    pub const fn mail(mut self, limit: Option<Duration>) -> Self {
        self.mail = Limit::new(limit);
        self
    }

    /// Each `RCPT TO` (RFC: 5 minutes).
    pub const fn rcpt(mut self, limit: Option<Duration>) -> Self {
        self.rcpt = Limit::new(limit);
        self
    }

    /// `DATA` and its 354 reply, "DATA initiation" (RFC: 2 minutes).
    pub const fn data(mut self, limit: Option<Duration>) -> Self {
        self.data = Limit::new(limit);
        self
    }

    /// Each write of message data, up to and including the end-of-data line (RFC: 3
    /// minutes per data block).
    pub const fn data_block(mut self, limit: Option<Duration>) -> Self {
        self.data_block = Limit::new(limit);
        self
    }

    /// The reply to the end-of-data line, "DATA termination" (RFC: 10 minutes; the
    /// server may be scanning the message).
    pub const fn data_end(mut self, limit: Option<Duration>) -> Self {
        self.data_end = Limit::new(limit);
        self
    }

    /// `RSET` (default 5 minutes), including the RSET sent after a failed transaction.
    pub const fn rset(mut self, limit: Option<Duration>) -> Self {
        self.rset = Limit::new(limit);
        self
    }

    /// `NOOP` (default 5 minutes).
    pub const fn noop(mut self, limit: Option<Duration>) -> Self {
        self.noop = Limit::new(limit);
        self
    }

    /// `QUIT`, its reply and closing the transport (default 1 minute).
    pub const fn quit(mut self, limit: Option<Duration>) -> Self {
        self.quit = Limit::new(limit);
        self
    }

    /// The limit for the reply to (and the writing of) the command of `stage`.
    pub const fn reply(&self, stage: Stage) -> Option<Duration> {
        self.limit(stage).get()
    }

    /// The limit for each write of message data.
    pub const fn data_block_limit(&self) -> Option<Duration> {
        self.data_block.get()
    }

    pub(crate) const fn limit(&self, stage: Stage) -> Limit {
        match stage {
            Stage::Greeting => self.greeting,
            Stage::Ehlo | Stage::Helo => self.ehlo,
            Stage::StartTls => self.starttls,
            Stage::TlsHandshake => self.tls_handshake,
            Stage::Auth => self.auth,
            Stage::MailFrom => self.mail,
            Stage::RcptTo => self.rcpt,
            Stage::Data => self.data,
            // A BDAT chunk's reply may carry the verdict on the whole message (the LAST
            // chunk), like the reply to the end of data.
            Stage::DataEnd | Stage::Bdat => self.data_end,
            Stage::Rset => self.rset,
            Stage::Noop => self.noop,
            Stage::Quit => self.quit,
        }
    }
}

/// Run `io`, racing it against `sleep(limit)`. Returns `None` when the sleep finished
/// first; the caller drops `io` then.
///
/// `io` is polled first, so an answer that is ready exactly when the limit expires wins.
/// The sleep is created only when `io` is not ready at its first poll, so a transport
/// that answers at once never starts a timer. `io` is pinned by the caller (not moved
/// in), so that the caller's future holds it once.
#[cfg(feature = "timeouts")]
pub(crate) async fn within<F, S>(
    limit: Duration,
    sleep: impl Fn(Duration) -> S,
    mut io: Pin<&mut F>,
) -> Option<F::Output>
where
    F: Future,
    S: Future<Output = ()>,
{
    let mut timer = pin!(None::<S>);
    poll_fn(|cx| {
        if let Poll::Ready(out) = io.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if timer.is_none() {
            timer.set(Some(sleep(limit)));
        }
        match timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await
}

/// Run `io` within `limit` on the timer `sleep` (a transport's [`Transport::sleep`](crate::Transport::sleep));
/// past the limit, [`SmtpError::Timeout`](crate::SmtpError::Timeout) for `stage`. `io` is
/// pinned by the caller where it was made, so a large I/O future is never moved.
#[cfg(feature = "timeouts")]
pub(crate) async fn race<F, S>(
    limit: Option<(Duration, Stage)>,
    sleep: impl Fn(Duration) -> S,
    io: Pin<&mut F>,
) -> Result<(), crate::SmtpError>
where
    F: Future<Output = Result<(), crate::SmtpError>>,
    S: Future<Output = ()>,
{
    let Some((limit, stage)) = limit else {
        return io.await;
    };
    within(limit, sleep, io)
        .await
        .unwrap_or(Err(crate::SmtpError::Timeout(stage)))
}

/// Without the `timeouts` feature there is no race.
#[cfg(not(feature = "timeouts"))]
pub(crate) async fn race<F, S>(
    _: Option<(Duration, Stage)>,
    _: impl Fn(Duration) -> S,
    io: core::pin::Pin<&mut F>,
) -> Result<(), crate::SmtpError>
where
    F: core::future::Future<Output = Result<(), crate::SmtpError>>,
{
    io.await
}

/// embassy-time's [`Timer`](embassy_time::Timer) for `limit` (rounded up to the
/// millisecond, at most about 49 days): the body of [`Transport::sleep`](crate::Transport::sleep)
/// for a transport on embassy.
///
/// ```ignore
/// fn sleep(limit: core::time::Duration) -> impl core::future::Future<Output = ()> {
///     wasm_smtp_core::timeouts::embassy_sleep(limit)
/// }
/// ```
#[cfg(feature = "embassy-time")]
pub fn embassy_sleep(limit: Duration) -> embassy_time::Timer {
    embassy_time::Timer::after_millis(u64::from(Limit::new(Some(limit)).0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_trip_through_milliseconds() {
        assert_eq!(Limit::new(None).get(), None);
        assert_eq!(
            Limit::new(Some(Duration::from_secs(3))).get(),
            Some(Duration::from_secs(3))
        );
        // Rounded up, so that a tiny limit is not zero.
        assert_eq!(
            Limit::new(Some(Duration::from_nanos(1))).get(),
            Some(Duration::from_millis(1))
        );
        assert_eq!(Limit::new(Some(Duration::ZERO)).get(), Some(Duration::ZERO));
        assert_eq!(
            Limit::new(Some(Duration::MAX)).get(),
            Some(Duration::from_millis(u64::from(u32::MAX - 1)))
        );
    }

    #[test]
    fn rfc_defaults() {
        let t = Timeouts::default();
        let min = |m: u64| Some(Duration::from_secs(m * 60));
        assert_eq!(t.reply(Stage::Greeting), min(5));
        assert_eq!(t.reply(Stage::MailFrom), min(5));
        assert_eq!(t.reply(Stage::RcptTo), min(5));
        assert_eq!(t.reply(Stage::Data), min(2));
        assert_eq!(t.data_block_limit(), min(3));
        assert_eq!(t.reply(Stage::DataEnd), min(10));
        for stage in [
            Stage::Ehlo,
            Stage::Helo,
            Stage::StartTls,
            Stage::Auth,
            Stage::Rset,
            Stage::Noop,
        ] {
            assert_eq!(t.reply(stage), min(5), "{stage}");
        }
        assert_eq!(t.reply(Stage::TlsHandshake), min(1));
        assert_eq!(t.reply(Stage::Quit), min(1));
    }

    #[test]
    fn each_setter_changes_its_phase_only() {
        let s = |n| Some(Duration::from_secs(n));
        let t = Timeouts::none()
            .greeting(s(1))
            .ehlo(s(2))
            .starttls(s(3))
            .tls_handshake(s(13))
            .auth(s(4))
            .mail(s(5))
            .rcpt(s(6))
            .data(s(7))
            .data_block(s(8))
            .data_end(s(9))
            .rset(s(10))
            .noop(s(11))
            .quit(s(12));
        let stages = [
            (Stage::Greeting, 1),
            (Stage::Ehlo, 2),
            (Stage::Helo, 2),
            (Stage::StartTls, 3),
            (Stage::TlsHandshake, 13),
            (Stage::Auth, 4),
            (Stage::MailFrom, 5),
            (Stage::RcptTo, 6),
            (Stage::Data, 7),
            (Stage::DataEnd, 9),
            (Stage::Rset, 10),
            (Stage::Noop, 11),
            (Stage::Quit, 12),
        ];
        for (stage, n) in stages {
            assert_eq!(t.reply(stage), s(n), "{stage}");
            assert_eq!(
                t.rcpt(None).mail(None).reply(stage).is_none(),
                n == 5 || n == 6
            );
        }
        assert_eq!(t.data_block_limit(), s(8));
        assert_eq!(Timeouts::all(s(7)).reply(Stage::Quit), s(7));
        assert_eq!(Timeouts::none().reply(Stage::Greeting), None);
    }
}
