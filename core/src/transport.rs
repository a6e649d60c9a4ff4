//! The transport contract: what the client needs from a connection.
//!
//! A transport is a bidirectional byte stream ([`embedded_io_async::Read`] and
//! [`embedded_io_async::Write`]) plus two TLS facts: whether the stream is already
//! encrypted, and how to upgrade it in place after `STARTTLS`. TLS itself is always the
//! transport's job (the Workers runtime, rustls, embedded-tls).
//!
//! Embassy's `TcpSocket` and embedded-tls's `TlsConnection` already implement the two I/O
//! traits; what is left is the STARTTLS swap from one to the other without an allocator,
//! which the `wasm-smtp-embassy` crate does (with certificate verification and
//! [`Transport::sleep`] on embassy-time). Other stacks write the two methods of
//! [`Transport`] on a small wrapper, and [`Transport::sleep`] for time limits.
//!
//! # Time
//! The transport is also the client's time source: [`Transport::sleep`] returns a future
//! that completes after a given duration (tokio's `sleep`, the Workers' `setTimeout`,
//! embassy-time's `Timer::after`, a test's virtual clock). The client races every wait for
//! the server against one such sleep, with the limits of its
//! [`Timeouts`](crate::Timeouts). The default never completes: a transport without a
//! timer has no time limits, and pays nothing for them.
//!
//! On embassy, with this crate's `embassy-time` feature:
//!
//! ```ignore
//! impl Transport for MySocket {
//!     fn is_encrypted(&self) -> bool { self.tls.is_some() }
//!     async fn upgrade_to_tls(&mut self) -> Result<(), Self::Error> { /* ... */ }
//!     fn sleep(limit: core::time::Duration) -> impl core::future::Future<Output = ()> {
//!         wasm_smtp_core::timeouts::embassy_sleep(limit)
//!     }
//! }
//! ```

use core::future::Future;
use core::time::Duration;
use embedded_io_async::{Read, Write};

/// A connection the SMTP client can speak over.
///
/// # Contract
/// - [`Read::read`] returns `Ok(0)` only at end of stream.
/// - [`is_encrypted`](Transport::is_encrypted) is `true` for an implicit-TLS connection
///   (port 465) from the start, and after a successful
///   [`upgrade_to_tls`](Transport::upgrade_to_tls).
/// - [`upgrade_to_tls`](Transport::upgrade_to_tls) runs the TLS handshake over the same
///   connection and from then on reads and writes go through TLS. It must not keep any
///   plaintext bytes it read before the upgrade: the client discards its own buffer too.
///   A transport that cannot do TLS returns an error (the client then fails, it never
///   continues in plaintext when TLS was required).
#[allow(async_fn_in_trait)]
pub trait Transport: Read + Write {
    /// Whether the stream is encrypted right now.
    fn is_encrypted(&self) -> bool;

    /// Upgrade the plaintext stream to TLS in place (called after the server's 220 reply
    /// to `STARTTLS`).
    async fn upgrade_to_tls(&mut self) -> Result<(), Self::Error>;

    /// Close the connection; called by [`SmtpClient::quit`](crate::SmtpClient::quit)
    /// after the server's reply to QUIT (or at once when the session had already
    /// failed). The default does nothing, leaving the connection to be closed when the
    /// transport is dropped. Must be safe to call more than once.
    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// A future that completes after `limit` has passed: the client's time source for
    /// its [`Timeouts`](crate::Timeouts). It must not depend on the connection (the
    /// client creates it while a read or write is in flight) and may be dropped before it
    /// completes (it should then cancel its timer).
    ///
    /// The default never completes: no time limits (and no cost for them).
    fn sleep(limit: Duration) -> impl Future<Output = ()> {
        let _ = limit;
        core::future::pending()
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn is_encrypted(&self) -> bool {
        T::is_encrypted(self)
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), Self::Error> {
        T::upgrade_to_tls(self).await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        T::close(self).await
    }

    fn sleep(limit: Duration) -> impl Future<Output = ()> {
        T::sleep(limit)
    }
}
