//! The TAP run's sending code as Cortex-M4F firmware: embassy-executor (thread mode),
//! a static embassy-net stack, embedded-tls, the wasm-smtp core, no global allocator, a
//! panic handler that formats nothing.
//!
//! It links; it is not meant to run on a particular board. What a board support crate
//! (HAL) would provide is stubbed in `board.rs`: the Ethernet driver (drops every frame),
//! the time driver (SysTick) and the random number generator (an STM32-style TRNG
//! register). `run.sh` builds it and reports its flash and RAM.
//!
//! With the `no-smtp` feature the same firmware sends the message bytes through the
//! transport without the SMTP core: the difference in `.text` is the core's share.

#![no_std]
#![no_main]

mod board;

use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};

use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_time::Duration;
use static_cell::StaticCell;
use wasm_smtp_embassy::{EmbassyTransport, NoClock, TlsSetup, TLS_RECORD_BUFFER};

#[cfg(feature = "defmt")]
use defmt_rtt as _;

// Shared with the TAP run, which also uses what this firmware leaves out (implicit TLS,
// the failure details).
#[cfg(not(feature = "no-smtp"))]
#[allow(dead_code)]
#[path = "../../examples/common/session.rs"]
mod session;

/// TCP socket buffers (each direction), as on the TAP run.
pub const TCP_BUFFER: usize = 2048;
/// TLS read record buffer: a whole TLS record of the largest size.
pub const TLS_READ_BUFFER: usize = TLS_RECORD_BUFFER;
/// TLS write record buffer: the client's writes are at most its 512-byte TX buffer, a
/// record adds at most 128 bytes, and the ClientHello fits too.
pub const TLS_WRITE_BUFFER: usize = 4096;

/// The server's CA (a throw-away certificate whose key was discarded).
static CA_DER: &[u8] = include_bytes!("ca.der");
const MESSAGE: &[u8] = b"From: device@embassy.test\r\nTo: ops@embassy.test\r\nSubject: hello\r\n\r\nHello from a Cortex-M.\r\n";

/// 0 while running, then 1 (sent), 2 (refused or failed), 3 (TCP connect failed);
/// 0xDEAD_DEAD after a panic.
#[no_mangle]
pub static STATUS: AtomicU32 = AtomicU32::new(0);

// The static buffers, each a symbol of its own so that `run.sh` can report its size.
static STACK_RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
static TCP_RX: StaticCell<[u8; TCP_BUFFER]> = StaticCell::new();
static TCP_TX: StaticCell<[u8; TCP_BUFFER]> = StaticCell::new();
static TLS_RX: StaticCell<[u8; TLS_READ_BUFFER]> = StaticCell::new();
static TLS_TX: StaticCell<[u8; TLS_WRITE_BUFFER]> = StaticCell::new();

/// The transport as the session uses it.
pub type Transport =
    EmbassyTransport<'static, &'static mut TcpSocket<'static>, board::HwRng, NoClock>;

/// `size_of::<SmtpClient<&mut Transport>>()` minus the reference: the SMTP client's own
/// state with its default buffers (read back from the ELF by `run.sh`).
#[no_mangle]
#[used]
pub static CLIENT_STATE_SIZE: u32 = (core::mem::size_of::<
    wasm_smtp_core::SmtpClient<&'static mut Transport>,
>() - core::mem::size_of::<&'static mut Transport>()) as u32;

/// `size_of::<Transport>()`: the socket reference, embedded-tls's connection state
/// (keys, record reader and writer) and the TLS setup.
#[no_mangle]
#[used]
pub static TRANSPORT_SIZE: u32 = core::mem::size_of::<Transport>() as u32;

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, board::NoNic>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    board::init();
    let mut rng = board::HwRng;
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::new(169, 254, 77, 2), 24),
        gateway: None,
        dns_servers: heapless::Vec::new(),
    });
    let (stack, runner) = embassy_net::new(
        board::NoNic,
        config,
        STACK_RESOURCES.init(StackResources::new()),
        rand_core::RngCore::next_u64(&mut rng),
    );
    if let Ok(token) = net_task(runner) {
        spawner.spawn(token);
    }
    if let Ok(token) = smtp_task(stack) {
        spawner.spawn(token);
    }
}

/// Connect, then send one message with STARTTLS and AUTH PLAIN (or, with `no-smtp`,
/// the same bytes through the transport alone).
#[embassy_executor::task]
async fn smtp_task(stack: Stack<'static>) {
    stack.wait_config_up().await;
    let socket = TcpSocket::new(
        stack,
        TCP_RX.init([0; TCP_BUFFER]),
        TCP_TX.init([0; TCP_BUFFER]),
    );
    static SOCKET: StaticCell<TcpSocket<'static>> = StaticCell::new();
    let socket = SOCKET.init(socket);
    socket.set_timeout(Some(Duration::from_secs(10)));
    if socket
        .connect((Ipv4Address::new(169, 254, 77, 1), 587))
        .await
        .is_err()
    {
        STATUS.store(3, Ordering::SeqCst);
        return;
    }
    let tls = TlsSetup::new(
        "smtp.embassy.test",
        black_box(CA_DER),
        board::HwRng,
        TLS_RX.init([0; TLS_READ_BUFFER]),
        TLS_TX.init([0; TLS_WRITE_BUFFER]),
    );
    let sent = send(socket, tls).await;
    STATUS.store(if sent { 1 } else { 2 }, Ordering::SeqCst);
}

#[cfg(not(feature = "no-smtp"))]
async fn send(
    socket: &'static mut TcpSocket<'static>,
    tls: TlsSetup<'static, board::HwRng>,
) -> bool {
    let mail = session::Mail {
        ehlo_domain: black_box("device.embassy.test"),
        user: black_box("device@embassy.test"),
        password: black_box("device-secret"),
        // Opaque, so that every AUTH mechanism's code stays in (as with a configured one).
        mechanism: black_box(wasm_smtp_core::Mechanism::Plain),
        from: black_box("device@embassy.test"),
        to: &["ops@embassy.test"],
        message: black_box(MESSAGE),
    };
    session::send(socket, session::Security::StartTls, tls, &mail)
        .await
        .is_ok()
}

#[cfg(feature = "no-smtp")]
async fn send(
    socket: &'static mut TcpSocket<'static>,
    tls: TlsSetup<'static, board::HwRng>,
) -> bool {
    use embedded_io_async::{Read, Write};
    use wasm_smtp_core::Transport as _;
    let mut transport: Transport = EmbassyTransport::starttls(socket, tls);
    let mut reply = [0u8; 512];
    transport.upgrade_to_tls().await.is_ok()
        && transport.write_all(black_box(MESSAGE)).await.is_ok()
        && transport.flush().await.is_ok()
        && transport.read(&mut reply).await.is_ok_and(|n| n > 0)
        && transport.close().await.is_ok()
}

/// Formats nothing, so no formatting code is linked for panics.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    STATUS.store(0xDEAD_DEAD, Ordering::SeqCst);
    loop {
        cortex_m::asm::wfi();
    }
}
