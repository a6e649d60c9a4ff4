//! Time limits (RFC 5321 section 4.5.3.2) on the mock's virtual clock: a server that goes
//! silent at each phase, replies just inside and just outside a limit, configured and
//! disabled limits. No real time passes.

#![cfg(feature = "timeouts")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use core::time::Duration;
use wasm_smtp_core::io::{ErrorType, Read, Write};
use wasm_smtp_core::{Timeouts, Transport};
use wasm_smtp_mock::{clock, MockHandle};

const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

/// Runs `f` and returns its result with the virtual time it took.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = clock::now();
    let r = f();
    (r, clock::now() - start)
}

fn timeout(stage: Stage) -> impl Fn(&Result<(), SmtpError>) -> bool {
    move |r| matches!(r, Err(SmtpError::Timeout(s)) if *s == stage)
}

/// After a time-out: the session is closed, QUIT writes nothing (only closes the
/// transport), nor does another message; the client wrote exactly `written`.
fn assert_silent_after(mut c: Client, h: &MockHandle, written: &[u8]) {
    assert!(c.is_closed());
    let writes = h.write_calls();
    assert_eq!(send(&mut c, &[TO], MSG), Err(SmtpError::SessionUnusable));
    block_on(c.quit()).unwrap();
    assert_eq!(h.write_calls(), writes, "a write after the time-out");
    assert_eq!(h.close_calls(), 1);
    assert_eq!(
        String::from_utf8_lossy(&h.written()),
        String::from_utf8_lossy(written)
    );
    h.assert_done();
}

const EHLO_TLS: &[u8] = b"EHLO client.example.com\r\n";

#[test]
fn silent_greeting_times_out_after_5_minutes() {
    let (t, h) = Script::new().implicit_tls().stall().build();
    let (r, took) = timed(|| connect(t).map(drop));
    assert!(timeout(Stage::Greeting)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    assert_eq!(h.write_calls(), 0);
    h.assert_done();
}

#[test]
fn silent_ehlo_times_out_after_5_minutes() {
    let (t, h) = Script::new()
        .implicit_tls()
        .greeting()
        .write(EHLO_TLS)
        .stall()
        .build();
    let (r, took) = timed(|| connect(t).map(drop));
    assert!(timeout(Stage::Ehlo)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    assert_eq!(h.written(), EHLO_TLS);
    h.assert_done();
}

#[test]
fn silent_starttls_reply_times_out() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .write("STARTTLS\r\n")
        .stall()
        .build();
    let config = Config::new().timeouts(Timeouts::new().starttls(Some(30 * SEC)));
    let (r, took) = timed(|| connect_with(t, config).map(drop));
    assert!(timeout(Stage::StartTls)(&r), "{r:?}");
    assert_eq!(took, 30 * SEC);
    assert!(h.written().ends_with(b"STARTTLS\r\n"));
    h.assert_done();
}

/// The TLS handshake after STARTTLS has its own limit (default 1 minute): a transport
/// whose handshake never finishes does not hang the client. Before this limit the engine
/// awaited `upgrade_to_tls` without a timer, and this test panicked in `block_on` ("no
/// time limit").
#[test]
fn a_tls_handshake_that_never_finishes_times_out_after_1_minute() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .write("STARTTLS\r\n")
        .read("220 2.0.0 Ready to start TLS\r\n")
        .stall()
        .build();
    let (r, took) = timed(|| connect(t).map(drop));
    assert!(timeout(Stage::TlsHandshake)(&r), "{r:?}");
    assert_eq!(took, MIN);
    assert!(!h.is_encrypted());
    assert!(
        h.written().ends_with(b"STARTTLS\r\n"),
        "nothing after STARTTLS"
    );
    h.assert_done();
    assert_eq!(
        r.unwrap_err().to_string(),
        "no answer from the server within the time limit for TLS handshake"
    );
}

/// A slow handshake inside a configured limit passes, one outside it fails.
#[test]
fn the_tls_handshake_limit_is_configurable() {
    let slow = |delay| {
        Script::new()
            .greeting()
            .ehlo(D, &["STARTTLS"])
            .write("STARTTLS\r\n")
            .read("220 2.0.0 Ready to start TLS\r\n")
            .delay(delay)
            .upgrade()
            .ehlo(D, &[])
            .build()
    };
    let config = Config::new().timeouts(Timeouts::new().tls_handshake(Some(10 * SEC)));
    let (t, h) = slow(9 * SEC);
    assert!(connect_with(t, config).is_ok());
    h.assert_done();
    let (t, h) = slow(11 * SEC);
    let (r, took) = timed(|| connect_with(t, config).map(drop));
    assert!(timeout(Stage::TlsHandshake)(&r), "{r:?}");
    assert_eq!(took, 10 * SEC);
    assert!(!h.is_encrypted());
}

#[test]
fn silent_auth_times_out_and_nothing_follows() {
    let (t, h) = tls(&["AUTH PLAIN"])
        .write("AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n")
        .stall()
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| block_on(c.login("alice", "hunter2")));
    assert!(timeout(Stage::Auth)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    let mut written = EHLO_TLS.to_vec();
    written.extend_from_slice(b"AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n");
    assert_silent_after(c, &h, &written);
}

#[test]
fn silent_mail_from_times_out_after_5_minutes_without_rset() {
    let (t, h) = tls(&[])
        .write("MAIL FROM:<alice@example.com>\r\n")
        .stall()
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    assert!(timeout(Stage::MailFrom)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    assert_silent_after(
        c,
        &h,
        b"EHLO client.example.com\r\nMAIL FROM:<alice@example.com>\r\n",
    );
}

#[test]
fn a_command_write_that_never_completes_times_out_with_the_command_limit() {
    // The server stops reading before MAIL FROM: the write itself hangs.
    let (t, h) = tls(&[]).stall().build();
    let config = Config::new().timeouts(Timeouts::new().mail(Some(45 * SEC)));
    let mut c = connect_with(t, config).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    assert!(timeout(Stage::MailFrom)(&r), "{r:?}");
    assert_eq!(took, 45 * SEC);
    assert_silent_after(c, &h, EHLO_TLS);
}

#[test]
fn silent_rcpt_times_out_after_5_minutes() {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to("carol@example.com")
        .write("RCPT TO:<bob@example.com>\r\n")
        .stall()
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &["carol@example.com", TO], MSG).map(drop));
    assert!(timeout(Stage::RcptTo)(&r), "{r:?}");
    // The limit is per reply: the first RCPT's (instant) reply does not count.
    assert_eq!(took, 5 * MIN);
    let written = [
        EHLO_TLS,
        b"MAIL FROM:<alice@example.com>\r\n",
        b"RCPT TO:<carol@example.com>\r\n",
        b"RCPT TO:<bob@example.com>\r\n",
    ]
    .concat();
    assert_silent_after(c, &h, &written);
}

#[test]
fn silent_data_initiation_times_out_after_2_minutes() {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .write("DATA\r\n")
        .stall()
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    assert!(timeout(Stage::Data)(&r), "{r:?}");
    assert_eq!(took, 2 * MIN);
    assert!(h.written().ends_with(b"DATA\r\n"));
    assert_silent_after(c, &h, &h.written());
}

#[test]
fn a_server_that_stops_reading_the_body_times_out_after_3_minutes() {
    // The server takes the first 13 bytes of the message, then reads no more: the
    // write of the rest never completes. The end-of-data line is never written.
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .write("Subject: hi\r\n")
        .stall()
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    assert!(timeout(Stage::Data)(&r), "{r:?}");
    assert_eq!(took, 3 * MIN);
    assert!(h.written().ends_with(b"DATA\r\nSubject: hi\r\n"));
    assert_silent_after(c, &h, &h.written());
}

/// A body of `lines` lines of 50 bytes: several flushes of the 512-byte buffer.
fn long_body(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("{i:047}\r\n"))
        .collect::<String>()
        + "\r\n"
}

/// The mock, keeping the data of each write call.
struct Recording(MockTransport, Vec<Vec<u8>>);

impl ErrorType for Recording {
    type Error = <MockTransport as ErrorType>::Error;
}

impl Read for Recording {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).await
    }
}

impl Write for Recording {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = self.0.write(buf).await?;
        self.1.push(buf[..n].to_vec());
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().await
    }
}

impl Transport for Recording {
    fn is_encrypted(&self) -> bool {
        self.0.is_encrypted()
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), Self::Error> {
        self.0.upgrade_to_tls().await
    }
}

/// The data blocks the client writes for `body` (one write call per flush of its
/// transmit buffer), from a run without delays.
fn data_blocks(body: &str) -> Vec<Vec<u8>> {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .write_until("\r\n.\r\n")
        .read("250 ok\r\n")
        .build();
    let mut c = block_on(SmtpClient::connect(Recording(t, Vec::new()), D)).unwrap();
    block_on(c.send_mail(FROM, &[TO], body)).unwrap();
    h.assert_done();
    let writes = c.into_inner().1;
    // EHLO, MAIL, RCPT, DATA, then the message.
    writes[4..].to_vec()
}

#[test]
fn each_data_block_has_its_own_limit() {
    // Each block of the message taken after 170 s: more than 3 minutes in all, each
    // block within its limit.
    let body = format!("Subject: big\r\n\r\n{}", long_body(30));
    let blocks = data_blocks(&body);
    assert!(blocks.len() >= 3, "{} blocks", blocks.len());
    assert!(blocks.concat().ends_with(b"\r\n.\r\n"));
    let mut s = tls(&[]).mail_from(FROM).rcpt_to(TO).data();
    for block in &blocks {
        s = s.delay(170 * SEC).write(block);
    }
    let (t, h) = s.read("250 2.0.0 queued\r\n").quit().build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], &body).map(drop));
    r.unwrap();
    assert_eq!(took, blocks.len() as u32 * 170 * SEC);
    block_on(c.quit()).unwrap();
    h.assert_done();
}

#[test]
fn a_data_block_slower_than_3_minutes_times_out() {
    let body = format!("Subject: big\r\n\r\n{}", long_body(30));
    let blocks = data_blocks(&body);
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .write(&blocks[0])
        .delay(181 * SEC)
        .write(&blocks[1])
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], &body).map(drop));
    assert!(timeout(Stage::Data)(&r), "{r:?}");
    assert_eq!(took, 180 * SEC);
    assert!(h.written().ends_with(&blocks[0]));
    assert_eq!(h.remaining_steps(), 2);
    let (writes, written) = (h.write_calls(), h.written());
    block_on(c.quit()).unwrap();
    assert_eq!((h.write_calls(), h.written()), (writes, written));
}

#[test]
fn silent_end_of_data_times_out_after_10_minutes() {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .write("Subject: hi\r\n\r\nHello\r\n.\r\n")
        .stall()
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    // The whole message was written: the server may have accepted it.
    assert!(timeout(Stage::DataEnd)(&r), "{r:?}");
    assert!(r.unwrap_err().is_transient());
    assert_eq!(took, 10 * MIN);
    assert_silent_after(c, &h, &h.written());
}

#[test]
fn silent_noop_and_rset_time_out_after_5_minutes() {
    let (t, h) = tls(&[]).write("NOOP\r\n").stall().build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| block_on(c.noop()).map(drop));
    assert!(timeout(Stage::Noop)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    assert_silent_after(c, &h, b"EHLO client.example.com\r\nNOOP\r\n");

    let (t, h) = tls(&[]).write("RSET\r\n").stall().build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| block_on(c.rset()).map(drop));
    assert!(timeout(Stage::Rset)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    assert_silent_after(c, &h, b"EHLO client.example.com\r\nRSET\r\n");
}

#[test]
fn the_rset_after_a_refused_transaction_is_timed_too() {
    let (t, h) = tls(&[])
        .command("MAIL FROM:<alice@example.com>", "451 4.3.0 try later")
        .write("RSET\r\n")
        .stall()
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    // The refusal is what the caller needs to see; the session is over all the same.
    assert!(
        matches!(r, Err(SmtpError::Rejected(ref x)) if x.code.get() == 451),
        "{r:?}"
    );
    assert_eq!(took, 5 * MIN);
    assert!(c.is_closed());
    h.assert_done();
}

#[test]
fn silent_quit_times_out_after_1_minute_and_still_closes() {
    let (t, h) = tls(&[]).write("QUIT\r\n").stall().build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| block_on(c.quit()));
    assert!(timeout(Stage::Quit)(&r), "{r:?}");
    assert_eq!(took, MIN);
    assert!(c.is_closed());
    assert_eq!(h.close_calls(), 1);
    assert_eq!(h.written(), b"EHLO client.example.com\r\nQUIT\r\n");
    h.assert_done();
}

#[test]
fn limits_are_per_phase_rcpt_after_4_minutes_passes_6_fails() {
    let script = |wait| {
        tls(&[])
            .mail_from(FROM)
            .write("RCPT TO:<bob@example.com>\r\n")
            .delay(wait)
            .read("250 2.1.5 Ok\r\n")
            .data()
            .message("Subject: hi\r\n\r\nHello\r\n.\r\n")
            .build()
    };
    let (t, h) = script(4 * MIN);
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG));
    assert!(r.unwrap().all_accepted());
    assert_eq!(took, 4 * MIN);
    h.assert_done();

    let (t, h) = script(6 * MIN);
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    assert!(timeout(Stage::RcptTo)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    // The delay, its reply, DATA and the message: none reached.
    assert_eq!(h.remaining_steps(), 6);
}

#[test]
fn data_initiation_has_the_shorter_limit() {
    // 3 minutes is fine for RCPT, too long for DATA's 354.
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .write("RCPT TO:<bob@example.com>\r\n")
        .delay(3 * MIN)
        .read("250 2.1.5 Ok\r\n")
        .write("DATA\r\n")
        .delay(3 * MIN)
        .read("354 go ahead\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    assert!(timeout(Stage::Data)(&r), "{r:?}");
    assert_eq!(took, 3 * MIN + 2 * MIN);
    assert_eq!(h.remaining_steps(), 2);
}

#[test]
fn a_reply_ready_exactly_at_the_limit_is_accepted() {
    let (t, h) = Script::new()
        .implicit_tls()
        .delay(5 * MIN)
        .greeting()
        .ehlo(D, &[])
        .build();
    let (r, took) = timed(|| connect(t).map(drop));
    r.unwrap();
    assert_eq!(took, 5 * MIN);
    h.assert_done();
}

#[test]
fn the_limit_covers_the_whole_reply_not_each_read() {
    // A server that trickles its EHLO reply: each piece within the limit, the whole not.
    let (t, h) = Script::new()
        .implicit_tls()
        .greeting()
        .write(EHLO_TLS)
        .delay(2 * MIN)
        .read("250-mx.example.com\r\n")
        .delay(2 * MIN)
        .read("250-PIPELINING\r\n")
        .delay(2 * MIN)
        .read("250 8BITMIME\r\n")
        .build();
    let (r, took) = timed(|| connect(t).map(drop));
    assert!(timeout(Stage::Ehlo)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
    assert_eq!(h.remaining_steps(), 2);
}

#[test]
fn configured_limits_apply() {
    let limits = Timeouts::new()
        .greeting(Some(10 * SEC))
        .rcpt(Some(Duration::from_millis(1500)));
    let config = Config::new().timeouts(limits);

    let (t, _h) = Script::new().implicit_tls().stall().build();
    let (r, took) = timed(|| connect_with(t, config).map(drop));
    assert!(timeout(Stage::Greeting)(&r), "{r:?}");
    assert_eq!(took, 10 * SEC);

    let (t, _h) = tls(&[])
        .mail_from(FROM)
        .write("RCPT TO:<bob@example.com>\r\n")
        .stall()
        .build();
    let mut c = connect_with(t, config).unwrap();
    let (r, took) = timed(|| send(&mut c, &[TO], MSG).map(drop));
    assert!(timeout(Stage::RcptTo)(&r), "{r:?}");
    assert_eq!(took, Duration::from_millis(1500));
}

#[test]
fn disabled_limits_wait_as_long_as_the_server() {
    let (t, h) = Script::new()
        .implicit_tls()
        .delay(Duration::from_secs(86_400))
        .greeting()
        .ehlo(D, &[])
        .mail_from(FROM)
        .write("RCPT TO:<bob@example.com>\r\n")
        .delay(Duration::from_secs(3600))
        .read("250 ok\r\n")
        .data()
        .message("Subject: hi\r\n\r\nHello\r\n.\r\n")
        .build();
    let config = Config::new().timeouts(Timeouts::none());
    let (r, took) = timed(|| {
        let mut c = connect_with(t, config)?;
        send(&mut c, &[TO], MSG)
    });
    r.unwrap();
    assert_eq!(took, Duration::from_secs(86_400 + 3600));
    h.assert_done();

    // One phase off, the others on.
    let (t, _h) = tls(&[])
        .write("NOOP\r\n")
        .delay(Duration::from_secs(3600))
        .read("250 ok\r\n")
        .write("RSET\r\n")
        .stall()
        .build();
    let config = Config::new().timeouts(Timeouts::new().noop(None));
    let mut c = connect_with(t, config).unwrap();
    block_on(c.noop()).unwrap();
    let (r, took) = timed(|| block_on(c.rset()).map(drop));
    assert!(timeout(Stage::Rset)(&r), "{r:?}");
    assert_eq!(took, 5 * MIN);
}

// ----- a transport without a timer ---------------------------------------------------

/// The mock without its timer: `sleep` keeps the default, which never completes.
struct NoTimer(MockTransport);

impl ErrorType for NoTimer {
    type Error = <MockTransport as ErrorType>::Error;
}

impl Read for NoTimer {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).await
    }
}

impl Write for NoTimer {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().await
    }
}

impl Transport for NoTimer {
    fn is_encrypted(&self) -> bool {
        self.0.is_encrypted()
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), Self::Error> {
        self.0.upgrade_to_tls().await
    }
}

#[test]
fn a_transport_without_a_timer_has_no_limits() {
    let (t, h) = Script::new()
        .implicit_tls()
        .delay(Duration::from_secs(7200))
        .greeting()
        .ehlo(D, &[])
        .quit()
        .build();
    let (r, took) = timed(|| {
        let mut c = block_on(SmtpClient::connect(NoTimer(t), D))?;
        block_on(c.quit())
    });
    r.unwrap();
    assert_eq!(took, Duration::from_secs(7200));
    h.assert_done();
}

// ----- timers are only started for waits ---------------------------------------------

std::thread_local! {
    static SLEEPS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// The mock, counting the timers the client starts.
struct Counting(MockTransport);

impl ErrorType for Counting {
    type Error = <MockTransport as ErrorType>::Error;
}

impl Read for Counting {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).await
    }
}

impl Write for Counting {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().await
    }
}

impl Transport for Counting {
    fn is_encrypted(&self) -> bool {
        self.0.is_encrypted()
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), Self::Error> {
        self.0.upgrade_to_tls().await
    }

    fn sleep(limit: Duration) -> impl core::future::Future<Output = ()> {
        SLEEPS.with(|n| n.set(n.get() + 1));
        clock::sleep(limit)
    }
}

#[test]
fn no_timer_is_started_when_the_server_answers_at_once() {
    let (t, h) = delivery(tls(&[]), &[TO])
        .write("NOOP\r\n")
        .delay(SEC)
        .read("250 ok\r\n")
        .quit()
        .build();
    let mut c = block_on(SmtpClient::connect(Counting(t), D)).unwrap();
    block_on(c.send_mail(FROM, &[TO], MSG)).unwrap();
    assert_eq!(SLEEPS.with(|n| n.get()), 0);
    // One wait, one timer.
    block_on(c.noop()).unwrap();
    assert_eq!(SLEEPS.with(|n| n.get()), 1);
    block_on(c.quit()).unwrap();
    assert_eq!(SLEEPS.with(|n| n.get()), 1);
    h.assert_done();
}
