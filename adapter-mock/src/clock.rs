//! Virtual time: time-limit tests that run instantly and always the same way.
//!
//! Each thread has its own virtual clock, starting at zero. It only moves inside
//! [`block_on`](crate::block_on), and only when the future is stuck: when it returns
//! `Poll::Pending` without having woken itself, the clock jumps to the earliest pending
//! deadline (a [`sleep`] or a scripted [`Script::delay`](crate::Script::delay)) and wakes
//! whatever waits for it. No real time passes, and nothing else can happen in between,
//! so a test observes exact durations:
//!
//! ```
//! use core::time::Duration;
//! use wasm_smtp_mock::{block_on, clock};
//!
//! let start = clock::now();
//! block_on(clock::sleep(Duration::from_secs(300)));
//! assert_eq!(clock::now() - start, Duration::from_secs(300));
//! ```
//!
//! [`MockTransport`](crate::MockTransport)'s
//! [`Transport::sleep`](wasm_smtp_core::Transport::sleep) is [`sleep`], so the SMTP
//! client's time limits run on this clock.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::cell::RefCell;

#[derive(Default)]
struct Clock {
    now: Duration,
    next_id: u64,
    /// Registered wake-ups: id, deadline, waker.
    waiters: Vec<(u64, Duration, Waker)>,
}

thread_local! {
    static CLOCK: RefCell<Clock> = RefCell::new(Clock::default());
}

/// The virtual time on this thread: how long virtual waits have lasted since the thread
/// started.
pub fn now() -> Duration {
    CLOCK.with(|c| c.borrow().now)
}

/// A wake-up at a deadline, cancelled when dropped.
#[derive(Debug)]
pub(crate) struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        let id = self.0;
        // Ignore a clock already torn down at thread exit.
        let _ = CLOCK.try_with(|c| c.borrow_mut().waiters.retain(|w| w.0 != id));
    }
}

/// Wake `waker` when the clock reaches `deadline` (which is in the future).
pub(crate) fn register(deadline: Duration, waker: &Waker) -> Registration {
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        c.next_id += 1;
        let id = c.next_id;
        c.waiters.push((id, deadline, waker.clone()));
        Registration(id)
    })
}

/// Move the clock to the earliest registered deadline and wake everything due then.
/// Returns `false` when nothing waits for the clock (the caller is stuck for good).
pub(crate) fn advance() -> bool {
    let due = CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let now = c.now;
        let Some(next) = c.waiters.iter().map(|w| w.1).filter(|&d| d > now).min() else {
            return Vec::new();
        };
        c.now = next;
        let (due, waiting) = c.waiters.drain(..).partition(|w| w.1 <= next);
        c.waiters = waiting;
        due
    });
    let woke = !due.is_empty();
    // Wake outside the borrow: a waker may poll or drop registrations.
    for (_, _, waker) in due {
        waker.wake();
    }
    woke
}

/// A future that completes once `limit` of virtual time has passed (from its creation).
pub fn sleep(limit: Duration) -> Sleep {
    Sleep {
        deadline: now().saturating_add(limit),
        registration: None,
    }
}

/// The future of [`sleep`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Duration,
    registration: Option<Registration>,
}

impl Sleep {
    /// The virtual time at which it completes.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if now() >= this.deadline {
            this.registration = None;
            return Poll::Ready(());
        }
        this.registration = Some(register(this.deadline, cx.waker()));
        Poll::Pending
    }
}
