#![doc = include_str!("../README.md")]
//!
//! # Writing a script
//!
//! A [`Script`] lists, in order, what the client must write ([`Script::write`]), what the
//! server sends ([`Script::read`]) and where the client must start TLS
//! ([`Script::upgrade`]). Protocol helpers ([`greeting`](Script::greeting),
//! [`ehlo`](Script::ehlo), [`starttls`](Script::starttls),
//! [`auth_plain`](Script::auth_plain), [`mail_from`](Script::mail_from),
//! [`rcpt_to`](Script::rcpt_to), [`data`](Script::data), [`message`](Script::message),
//! [`quit`](Script::quit), ...) expand to those raw steps with typical replies, and raw
//! steps cover everything else: rejections, odd line splits, injected bytes, and silences
//! on a [virtual clock](clock) ([`Script::delay`], [`Script::stall`]) for testing a
//! client's time limits without real time.
//!
//! ```
//! use embedded_io_async::ErrorKind;
//! use wasm_smtp_mock::Script;
//!
//! let (transport, handle) = Script::new()
//!     .greeting()
//!     .ehlo("client.example.com", &["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"])
//!     .starttls()
//!     .ehlo("client.example.com", &["PIPELINING", "AUTH PLAIN LOGIN"])
//!     .auth_plain("user", "secret")
//!     // A pipelined flight: three writes, then three replies in one read.
//!     .write("MAIL FROM:<a@example.com>\r\n")
//!     .write("RCPT TO:<b@example.com>\r\n")
//!     .write("DATA\r\n")
//!     .read("250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n554 5.5.1 No valid recipients\r\n")
//!     .write("RSET\r\n")
//!     // The connection breaks instead of answering.
//!     .read_error(ErrorKind::ConnectionReset)
//!     .build();
//! # drop((transport, handle));
//! ```
//!
//! Options change how the transport behaves overall: [`Script::max_read_size`] and
//! [`Script::max_write_size`] force short reads and writes, [`Script::implicit_tls`]
//! starts encrypted, [`Script::never_encrypted`] makes a transport that lies about TLS,
//! and [`Script::require_flush`] makes reading with unflushed writes a mismatch.
//!
//! # Checking the result
//!
//! [`Script::build`] returns the [`MockTransport`], which the client takes, and a
//! [`MockHandle`] that stays with the test, even if the client drops the transport:
//!
//! - [`MockHandle::assert_done`] panics unless the client followed the script to the end;
//!   [`MockHandle::finish`] returns the same verdict as a `Result`.
//! - [`MockHandle::written`], [`MockHandle::transcript`] and
//!   [`MockHandle::transcript_text`] show what was exchanged;
//!   [`MockHandle::round_trips`] counts how often the client waited for the server.
//!
//! The first deviation from the script makes the offending call fail with a
//! [`MockError`] and is recorded; every later call fails too, and
//! [`MockHandle::writes_after_failure`] shows whether the client kept writing.
//!
//! ```
//! use embedded_io_async::Write;
//! use wasm_smtp_mock::{block_on, Script};
//!
//! let (mut transport, handle) = Script::new()
//!     .ehlo("client.example.com", &[])
//!     .build();
//!
//! let result = block_on(transport.write(b"HELO client.example.com\r\n"));
//! assert!(result.is_err());
//! assert_eq!(
//!     handle.finish().unwrap_err(),
//!     r#"step 1 (client write, from .ehlo("client.example.com")): byte 0 differs: expected "EHLO client.example.com\r\n", got "HELO client.example.com\r\n""#
//! );
//! ```
//!
//! # Testing code generic over [`Transport`](wasm_smtp_core::Transport)
//!
//! ```
//! use embedded_io_async::{Read, Write};
//! use wasm_smtp_core::Transport;
//! use wasm_smtp_mock::{block_on, Script};
//!
//! /// Sends STARTTLS unless the connection is already encrypted.
//! async fn secure<T: Transport>(t: &mut T) -> Result<(), T::Error> {
//!     if t.is_encrypted() {
//!         return Ok(());
//!     }
//!     t.write_all(b"STARTTLS\r\n").await?;
//!     t.flush().await?;
//!     let mut reply = [0u8; 64];
//!     let _ = t.read(&mut reply).await?;
//!     t.upgrade_to_tls().await
//! }
//!
//! let (mut plain, handle) = Script::new().starttls().build();
//! block_on(secure(&mut plain)).unwrap();
//! assert!(plain.is_encrypted());
//! handle.assert_done();
//!
//! let (mut implicit, handle) = Script::new().implicit_tls().build();
//! block_on(secure(&mut implicit)).unwrap();
//! handle.assert_done();
//! ```

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Wake;

pub mod clock;
mod handle;
mod mock;
mod sasl;
mod script;
mod text;
mod transcript;

#[cfg(test)]
mod tests;

pub use handle::MockHandle;
pub use mock::{MockError, MockTransport};
pub use sasl::{cram_md5_response, ScramExchange};
pub use script::{Script, SERVER_NAME};
pub use transcript::Entry;

/// Remembers whether the future asked to be polled again.
struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs a future to completion on the current thread, without a runtime, on the
/// thread's [virtual clock](clock).
///
/// Meant for futures that only wait on a [`MockTransport`] and virtual time. A future
/// that yields after waking itself is polled again. A future that is stuck (it returned
/// `Poll::Pending` without waking itself) moves the virtual clock to the earliest pending
/// deadline ([`clock::sleep`], [`Script::delay`]), which wakes it.
///
/// # Panics
/// If the future is stuck and nothing waits for the virtual clock: it would never
/// complete (for example the server [stalls](Script::stall) and the client has no time
/// limit, or it awaits a real timer, a channel or a real socket).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let flag = Arc::new(WakeFlag(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&flag));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if flag.0.swap(false, Ordering::SeqCst) {
            continue;
        }
        if clock::advance() {
            // The wake-ups were for the poll that follows.
            flag.0.store(false, Ordering::SeqCst);
            continue;
        }
        // Panicking is the documented reaction to a future that can never complete.
        #[allow(clippy::panic)]
        {
            panic!(
                "block_on: the future returned Poll::Pending, did not wake itself and waits \
                 for no virtual deadline, so it would never complete (a scripted stall with \
                 no time limit in the client? or a real timer, a channel or a real socket?)"
            );
        }
    }
}

#[cfg(feature = "server")]
pub mod server;
