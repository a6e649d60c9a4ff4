//! The transport, its error type and the shared state behind it.

use crate::clock::{self, Registration};
use crate::script::{BadCount, Options, Script, ScriptStep, Step};
use crate::text::{got_window, preview, window};
use crate::transcript::Entry;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::handle::MockHandle;

/// The error of every [`MockTransport`] operation.
///
/// Either a failure the script asked for ([`Script::read_error`],
/// [`Script::write_error`], [`Script::upgrade_error`]), whose
/// [`kind`](embedded_io_async::Error::kind) is the scripted one, or a mismatch between
/// the client and the script, whose kind is [`ErrorKind::Other`] and whose message says
/// what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockError {
    kind: ErrorKind,
    mismatch: Option<String>,
}

impl MockError {
    fn scripted(kind: ErrorKind) -> Self {
        Self {
            kind,
            mismatch: None,
        }
    }

    fn mismatch(message: String) -> Self {
        Self {
            kind: ErrorKind::Other,
            mismatch: Some(message),
        }
    }

    /// Whether this error reports a mismatch with the script (rather than a scripted
    /// failure).
    pub fn is_mismatch(&self) -> bool {
        self.mismatch.is_some()
    }

    /// The mismatch message, or `None` for a scripted failure.
    pub fn mismatch_message(&self) -> Option<&str> {
        self.mismatch.as_deref()
    }
}

impl core::fmt::Display for MockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.mismatch {
            Some(message) => write!(f, "mock transport mismatch: {message}"),
            None => write!(f, "scripted transport error: {:?}", self.kind),
        }
    }
}

impl std::error::Error for MockError {}

impl embedded_io_async::Error for MockError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// What the client did that did not fit the script.
enum Got<'a> {
    Write(&'a [u8]),
    Read,
    Upgrade,
}

/// Everything the transport and its handles share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) steps: Vec<ScriptStep>,
    pub(crate) run: Run,
}

/// The mutable part of [`State`].
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(crate) options: Options,
    /// Index of the current step.
    pub(crate) pos: usize,
    /// Bytes already exchanged in the current `Read`/`Write`/`WriteUntil` step.
    pub(crate) offset: usize,
    pub(crate) upgraded: bool,
    pub(crate) failure: Option<String>,
    pub(crate) written: Vec<u8>,
    pub(crate) writes_after_failure: Vec<u8>,
    pub(crate) transcript: Vec<Entry>,
    pub(crate) round_trips: usize,
    /// Calls of [`Transport::close`](wasm_smtp_core::Transport::close).
    pub(crate) close_calls: usize,
    pub(crate) read_calls: usize,
    pub(crate) write_calls: usize,
    wrote_since_read: bool,
    unflushed: bool,
    eof_seen: bool,
    /// When the scripted delay at the current step ends (set when the client reaches it).
    delay_until: Option<Duration>,
    /// The client reached a scripted stall.
    stalled: bool,
}

/// Why a read or write cannot go on now.
pub(crate) enum Pause {
    /// A scripted delay, until this virtual time.
    Until(Duration),
    /// A scripted stall.
    Forever,
}

impl Run {
    pub(crate) fn is_encrypted(&self) -> bool {
        !self.options.never_encrypted && (self.options.implicit_tls || self.upgraded)
    }

    fn advance(&mut self) {
        self.pos += 1;
        self.offset = 0;
    }

    /// Get past the scripted delays that are over; `Some` when the client must wait at a
    /// delay or stall (never after a failure, which every call reports at once).
    pub(crate) fn pause(&mut self, steps: &[ScriptStep]) -> Option<Pause> {
        if self.failure.is_some() {
            return None;
        }
        loop {
            match steps.get(self.pos).map(|s| &s.step) {
                Some(Step::Delay(d)) => {
                    let d = *d;
                    let now = clock::now();
                    let until = *self.delay_until.get_or_insert(now.saturating_add(d));
                    if now < until {
                        return Some(Pause::Until(until));
                    }
                    self.delay_until = None;
                    self.transcript.push(Entry::Delay(d));
                    self.advance();
                }
                Some(Step::Stall) => {
                    if !self.stalled {
                        self.stalled = true;
                        self.transcript.push(Entry::Stall);
                    }
                    return Some(Pause::Forever);
                }
                _ => return None,
            }
        }
    }

    fn after_failure(&self) -> MockError {
        MockError::mismatch(format!(
            "the mock transport already failed: {}",
            self.failure.as_deref().unwrap_or_default()
        ))
    }

    fn fail(&mut self, message: String) -> MockError {
        if self.failure.is_none() {
            self.failure = Some(message.clone());
        }
        MockError::mismatch(message)
    }

    fn fail_unexpected(&mut self, steps: &[ScriptStep], got: Got<'_>) -> MockError {
        let (title, expected) = match steps.get(self.pos) {
            Some(step) => (step.title(self.pos), step.step.expectation(self.offset)),
            None if self.pos == 0 => (
                "end of script (empty script)".to_owned(),
                "nothing".to_owned(),
            ),
            None => (
                format!("end of script (after step {})", self.pos),
                "nothing more".to_owned(),
            ),
        };
        let got = match got {
            Got::Write(bytes) => format!("a write of {}", preview(bytes)),
            Got::Read => "a read (a real server would wait forever here)".to_owned(),
            Got::Upgrade => "a TLS upgrade (upgrade_to_tls)".to_owned(),
        };
        self.fail(format!("{title}: expected {expected}, got {got}"))
    }

    fn push_client(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.written.extend_from_slice(bytes);
        self.offset += bytes.len();
        self.wrote_since_read = true;
        self.unflushed = true;
        match self.transcript.last_mut() {
            Some(Entry::Client(v)) => v.extend_from_slice(bytes),
            _ => self.transcript.push(Entry::Client(bytes.to_vec())),
        }
    }

    fn push_server(&mut self, bytes: &[u8]) {
        match self.transcript.last_mut() {
            Some(Entry::Server(v)) => v.extend_from_slice(bytes),
            _ => self.transcript.push(Entry::Server(bytes.to_vec())),
        }
    }

    /// The client waits for the server: counts a round trip if it wrote since its
    /// previous read.
    fn server_turn(&mut self) {
        if self.wrote_since_read {
            self.round_trips += 1;
            self.wrote_since_read = false;
        }
    }

    pub(crate) fn read(
        &mut self,
        steps: &[ScriptStep],
        buf: &mut [u8],
    ) -> Result<usize, MockError> {
        self.read_calls += 1;
        if self.failure.is_some() {
            return Err(self.after_failure());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let step = steps.get(self.pos).map(|s| &s.step);
        if step.is_some_and(Step::is_server_side) && self.options.require_flush && self.unflushed {
            let title = steps[self.pos].title(self.pos);
            return Err(self.fail(format!(
                "{title}: expected a flush before the read (require_flush), got a read with \
                 unflushed writes"
            )));
        }
        match step {
            Some(Step::Read(data)) => {
                let rest = &data[self.offset..];
                let n = rest
                    .len()
                    .min(buf.len())
                    .min(self.options.max_read_size.unwrap_or(usize::MAX));
                buf[..n].copy_from_slice(&rest[..n]);
                self.server_turn();
                self.push_server(&rest[..n]);
                self.offset += n;
                if self.offset == data.len() {
                    self.advance();
                }
                Ok(n)
            }
            Some(Step::ReadError(kind)) => {
                let kind = *kind;
                self.server_turn();
                self.advance();
                self.transcript.push(Entry::ReadError(kind));
                Err(MockError::scripted(kind))
            }
            Some(Step::BadCount(bad @ BadCount::ReadPastBuffer)) => {
                let bad = *bad;
                self.server_turn();
                self.advance();
                self.transcript.push(Entry::BadCount(bad.describe()));
                Ok(buf.len() + 1)
            }
            Some(Step::Eof) => {
                self.server_turn();
                self.advance();
                self.eof_seen = true;
                self.transcript.push(Entry::Eof);
                Ok(0)
            }
            None if self.eof_seen => Ok(0),
            _ => Err(self.fail_unexpected(steps, Got::Read)),
        }
    }

    pub(crate) fn write(&mut self, steps: &[ScriptStep], buf: &[u8]) -> Result<usize, MockError> {
        self.write_calls += 1;
        if self.failure.is_some() {
            self.writes_after_failure.extend_from_slice(buf);
            return Err(self.after_failure());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let limit = buf
            .len()
            .min(self.options.max_write_size.unwrap_or(usize::MAX));
        let mut done = 0;
        while done < limit {
            match steps.get(self.pos).map(|s| &s.step) {
                Some(Step::Write(expected)) => {
                    let want = &expected[self.offset..];
                    let n = want.len().min(limit - done);
                    let got = &buf[done..done + n];
                    if let Some(k) = want.iter().zip(got).position(|(a, b)| a != b) {
                        self.push_client(&got[..k]);
                        let at = self.offset;
                        let (shown, start) = window(expected, at);
                        let got = got_window(expected, start, at, &buf[done + k..]);
                        let title = steps[self.pos].title(self.pos);
                        return Err(self.fail(format!(
                            "{title}: byte {at} differs: expected {shown}, got {got}"
                        )));
                    }
                    self.push_client(got);
                    done += n;
                    if self.offset == expected.len() {
                        self.advance();
                    }
                }
                Some(Step::WriteUntil(terminator)) => {
                    let rest = &buf[done..limit];
                    // Search the terminator in the last bytes of this step so far (too
                    // few to hold it whole, or the step would be over) plus the new ones.
                    let before = self.offset.min(terminator.len() - 1);
                    let mut tail = self.written[self.written.len() - before..].to_vec();
                    tail.extend_from_slice(rest);
                    let end = tail
                        .windows(terminator.len())
                        .position(|w| w == terminator.as_slice())
                        .map(|i| i + terminator.len());
                    match end {
                        Some(end) => {
                            let n = end - before;
                            self.push_client(&rest[..n]);
                            done += n;
                            self.advance();
                        }
                        None => {
                            self.push_client(rest);
                            done = limit;
                        }
                    }
                }
                Some(Step::WriteError(_) | Step::BadCount(_)) if done > 0 => break,
                Some(Step::BadCount(bad @ (BadCount::WriteZero | BadCount::WritePastBuffer))) => {
                    let bad = *bad;
                    self.advance();
                    self.transcript.push(Entry::BadCount(bad.describe()));
                    return Ok(match bad {
                        BadCount::WriteZero => 0,
                        _ => buf.len() + 1,
                    });
                }
                // The server stops reading: a short write, the next call waits.
                Some(step) if step.is_pause() && done > 0 => break,
                Some(Step::WriteError(kind)) => {
                    let kind = *kind;
                    self.advance();
                    self.transcript.push(Entry::WriteError(kind));
                    return Err(MockError::scripted(kind));
                }
                _ => return Err(self.fail_unexpected(steps, Got::Write(&buf[done..]))),
            }
        }
        Ok(done)
    }

    pub(crate) fn flush(&mut self) -> Result<(), MockError> {
        if self.failure.is_some() {
            return Err(self.after_failure());
        }
        self.unflushed = false;
        Ok(())
    }

    pub(crate) fn upgrade(&mut self, steps: &[ScriptStep]) -> Result<(), MockError> {
        if self.failure.is_some() {
            return Err(self.after_failure());
        }
        match steps.get(self.pos).map(|s| &s.step) {
            Some(Step::Upgrade) => {
                self.advance();
                self.upgraded = true;
                self.transcript.push(Entry::Upgrade);
                Ok(())
            }
            Some(Step::UpgradeError(kind)) => {
                let kind = *kind;
                self.advance();
                self.transcript.push(Entry::UpgradeFailed(kind));
                Err(MockError::scripted(kind))
            }
            _ => Err(self.fail_unexpected(steps, Got::Upgrade)),
        }
    }

    /// `Ok` when no mismatch happened and every step was consumed.
    pub(crate) fn finish(&self, steps: &[ScriptStep]) -> Result<(), String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        match steps.get(self.pos) {
            None => Ok(()),
            Some(step) if step.step == Step::Stall && self.stalled => Ok(()),
            Some(step) => {
                let remaining = steps.len() - self.pos;
                let plural = if remaining == 1 { "" } else { "s" };
                Err(format!(
                    "the script was not finished: {} is next: expected {} ({remaining} step{plural} \
                     not done)",
                    step.title(self.pos),
                    step.step.expectation(self.offset)
                ))
            }
        }
    }
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the shared state. A panic while the lock is held cannot leave the state
/// half-updated in a way that matters to a test, so poisoning is ignored.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A scripted transport: give it to the SMTP client under test.
///
/// Implements [`embedded_io_async::Read`], [`embedded_io_async::Write`] and
/// [`wasm_smtp_core::Transport`]. Every call completes at once, except at a scripted
/// [`delay`](Script::delay) or [`stall`](Script::stall), which waits on the
/// [virtual clock](crate::clock); so tests need no async runtime: see
/// [`block_on`](crate::block_on). Its [`Transport::sleep`](wasm_smtp_core::Transport::sleep)
/// is [`clock::sleep`].
///
/// Build one with [`Script::build`] (or [`MockTransport::builder`]), which also returns
/// the [`MockHandle`] used to inspect the conversation afterwards.
///
/// On the first mismatch with the script, the call returns a [`MockError`] whose message
/// is also recorded in the handle; every later call fails too.
#[derive(Debug)]
pub struct MockTransport {
    shared: Shared,
}

impl MockTransport {
    /// An empty [`Script`], to describe the conversation step by step.
    pub fn builder() -> Script {
        Script::new()
    }

    pub(crate) fn from_script(steps: Vec<ScriptStep>, options: Options) -> (Self, MockHandle) {
        let shared = Arc::new(Mutex::new(State {
            steps,
            run: Run {
                options,
                ..Run::default()
            },
        }));
        (
            Self {
                shared: Arc::clone(&shared),
            },
            MockHandle::new(shared),
        )
    }

    /// Another handle on this transport's state.
    pub fn handle(&self) -> MockHandle {
        MockHandle::new(Arc::clone(&self.shared))
    }

    fn with<R>(&self, f: impl FnOnce(&[ScriptStep], &mut Run) -> R) -> R {
        let mut state = lock(&self.shared);
        let State { steps, run } = &mut *state;
        f(steps, run)
    }
}

impl ErrorType for MockTransport {
    type Error = MockError;
}

/// A read, a write or a TLS handshake, which waits at scripted delays and stalls.
enum Op<'b> {
    Read(&'b mut [u8]),
    Write(&'b [u8]),
    Upgrade,
}

/// The future of [`MockTransport`]'s `read`, `write` and `upgrade_to_tls` (which
/// returns 0).
struct Io<'t, 'b> {
    transport: &'t MockTransport,
    op: Op<'b>,
    wake_up: Option<Registration>,
}

impl Future for Io<'_, '_> {
    type Output = Result<usize, MockError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let empty = match &this.op {
            Op::Read(buf) => buf.is_empty(),
            Op::Write(buf) => buf.is_empty(),
            Op::Upgrade => false,
        };
        let pause = if empty {
            None
        } else {
            this.transport.with(|steps, run| run.pause(steps))
        };
        match pause {
            Some(Pause::Until(until)) => {
                this.wake_up = Some(clock::register(until, cx.waker()));
                return Poll::Pending;
            }
            Some(Pause::Forever) => return Poll::Pending,
            None => this.wake_up = None,
        }
        Poll::Ready(this.transport.with(|steps, run| match &mut this.op {
            Op::Read(buf) => run.read(steps, buf),
            Op::Write(buf) => run.write(steps, buf),
            Op::Upgrade => run.upgrade(steps).map(|()| 0),
        }))
    }
}

impl Read for MockTransport {
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = Result<usize, MockError>> {
        Io {
            transport: self,
            op: Op::Read(buf),
            wake_up: None,
        }
    }
}

impl Write for MockTransport {
    fn write(&mut self, buf: &[u8]) -> impl Future<Output = Result<usize, MockError>> {
        Io {
            transport: self,
            op: Op::Write(buf),
            wake_up: None,
        }
    }

    async fn flush(&mut self) -> Result<(), MockError> {
        self.with(|_, run| run.flush())
    }
}

impl wasm_smtp_core::Transport for MockTransport {
    fn is_encrypted(&self) -> bool {
        self.with(|_, run| run.is_encrypted())
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), MockError> {
        Io {
            transport: self,
            op: Op::Upgrade,
            wake_up: None,
        }
        .await
        .map(drop)
    }

    async fn close(&mut self) -> Result<(), MockError> {
        self.with(|_, run| {
            run.close_calls += 1;
            Ok(())
        })
    }

    /// [`clock::sleep`]: the client's time limits run on the virtual clock.
    fn sleep(limit: Duration) -> impl Future<Output = ()> {
        clock::sleep(limit)
    }
}
