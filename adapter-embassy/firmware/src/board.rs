//! What a board support crate would provide, reduced to what links and is plausible on a
//! Cortex-M4F at 16 MHz: a SysTick time driver for embassy-time, an Ethernet driver that
//! drops every frame (a real MAC driver comes from the HAL), and a random number
//! generator reading an STM32-style TRNG data register.

use core::cell::{Cell, RefCell};
use core::task::{Context, Waker};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_time_queue_utils::Queue;

/// Core clock (the reset clock of many STM32 parts).
const CORE_HZ: u32 = 16_000_000;
/// embassy-time's tick rate (feature `tick-hz-1_000` of embassy-time-driver).
const TICK_HZ: u32 = 1_000;

/// Start the SysTick time base.
pub fn init() {
    if let Some(mut p) = cortex_m::Peripherals::take() {
        p.SYST.set_clock_source(SystClkSource::Core);
        p.SYST.set_reload(CORE_HZ / TICK_HZ - 1);
        p.SYST.clear_current();
        p.SYST.enable_interrupt();
        p.SYST.enable_counter();
    }
}

/// embassy-time driver: a tick counter advanced by SysTick, and the timer queue it
/// checks on every tick.
struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl embassy_time_driver::Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            // The next SysTick looks at the queue; no alarm to program.
            self.queue.borrow_ref_mut(cs).schedule_wake(at, waker);
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let ticks = DRIVER.ticks.borrow(cs);
        let now = ticks.get() + 1;
        ticks.set(now);
        DRIVER.queue.borrow_ref_mut(cs).next_expiration(now);
    });
}

/// A hardware random number generator: the data register of an STM32F4 `RNG` block.
pub struct HwRng;

/// `RNG_DR` on STM32F4 parts.
const RNG_DR: *const u32 = 0x5006_0808 as *const u32;

impl rand_core::RngCore for HwRng {
    fn next_u32(&mut self) -> u32 {
        // SAFETY: a readable, side-effect-free device register on the target part (this
        // firmware is built to be measured, not to run on a particular board).
        unsafe { core::ptr::read_volatile(RNG_DR) }
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_u32(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// The TRNG output is meant for cryptographic use.
impl rand_core::CryptoRng for HwRng {}

/// An Ethernet driver that is always up, never receives and drops what it sends.
pub struct NoNic;

/// Never produced ([`NoNic`] receives nothing).
pub struct Rx;

/// Hands out a scratch frame that is then dropped.
pub struct Tx;

impl embassy_net_driver::RxToken for Rx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(&mut [])
    }
}

impl embassy_net_driver::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = [0u8; 1514];
        let len = len.min(frame.len());
        f(&mut frame[..len])
    }
}

impl embassy_net_driver::Driver for NoNic {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _cx: &mut Context) -> Option<(Rx, Tx)> {
        None
    }

    fn transmit(&mut self, _cx: &mut Context) -> Option<Tx> {
        Some(Tx)
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = 1514;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet([0x02, 0x00, 0x5e, 0x00, 0x77, 0x02])
    }
}
