//! A full SMTP session through `wasm_smtp_core::SmtpClient`, linked into a bare-metal
//! Cortex-M ELF with no global allocator and no `alloc` crate.
//!
//! If anything in the dependency graph linked `alloc`, rustc would refuse to build this
//! binary ("no global memory allocator found"); `run.sh` also checks the ELF for
//! allocator symbols.
//!
//! The session itself (greeting, EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL/RCPT/DATA, QUIT
//! against a scripted in-memory server) is in `lib.rs`. Its result goes to
//! [`SESSION_STATUS`] so that nothing is optimized away.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::entry;
use wasm_smtp_nostd_check::{block_on, session, Client, ScriptedServer};

/// Session result: 0 before the session ends, then the value of `session()`
/// (`STATUS_OK` = 0x600D5E55 on success), or 0xDEADDEAD after a panic.
#[no_mangle]
pub static SESSION_STATUS: AtomicU32 = AtomicU32::new(0);

/// `size_of::<SmtpClient<ScriptedServer>>()` (default buffers), read back from the ELF by
/// `run.sh`.
#[no_mangle]
#[used]
pub static CLIENT_SIZE: u32 = core::mem::size_of::<Client>() as u32;

/// `size_of::<ScriptedServer>()`, the transport's part of [`CLIENT_SIZE`].
#[no_mangle]
#[used]
pub static TRANSPORT_SIZE: u32 = core::mem::size_of::<ScriptedServer>() as u32;

/// Size of the whole session future (the client plus the state kept across every await
/// point): what the session needs on the stack, besides ordinary call frames.
#[no_mangle]
#[used]
pub static SESSION_FUTURE_SIZE: u32 = future_size(session) as u32;

/// The size of the future that `f` returns, at compile time.
const fn future_size<F: FnOnce() -> Fut, Fut: core::future::Future>(f: F) -> usize {
    core::mem::forget(f);
    core::mem::size_of::<Fut>()
}

#[entry]
fn main() -> ! {
    let status = block_on(session());
    SESSION_STATUS.store(status, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Does not format the panic message, so no formatting code is linked for it.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    SESSION_STATUS.store(0xDEAD_DEAD, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}
