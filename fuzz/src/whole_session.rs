//! The `whole_session` target: the real async [`SmtpClient`] over a transport that serves
//! the fuzzer's bytes.
//!
//! [`FuzzTransport`] hands out the server bytes in fuzzer-chosen read sizes, fails or
//! ends the stream where the input says, accepts any write (short writes and a failing
//! write too) and records everything in a shared [`Wire`], which the driver inspects
//! between client calls. The transport itself asserts what must hold at every I/O call.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_smtp_core::data::{DataEncoder, FINISH_MAX};
use wasm_smtp_core::io::{ErrorKind, ErrorType, Read, Write};
use wasm_smtp_core::{Capability, Config, SmtpClient, SmtpError, TlsPolicy, Transport};
use wasm_smtp_mock::block_on;

use crate::command_encoding::base64;

const DOMAIN: &str = "client.example.com";
const USER: &str = "alice";
/// Distinctive, so that it cannot appear in a write by chance.
const SECRET: &str = "s3cr3t-Pa55-fuzz";
const FROM: &str = "alice@example.com";
const RECIPIENTS: [&str; 3] = ["bob@example.org", "carol@example.net", "Postmaster"];
const UTF8_RECIPIENT: &str = "d\u{f6}rte@b\u{fc}cher.example";

/// Messages, picked by bits 3-4 of byte 1. The last one is longer than the transmit
/// buffer, so the body goes out in several writes.
fn message(i: u8, bytes_api: bool) -> Vec<u8> {
    match i & 3 {
        0 => b"Subject: hi\r\n\r\nHello\r\n".to_vec(),
        1 if bytes_api => b"Subject: 8bit\r\n\r\n\xff\x80 bare\rcr\nlf\0nul".to_vec(),
        1 => Vec::new(),
        2 => b".\n.\r\n..x\r.\n\r\n.\r\nend\n.".to_vec(),
        _ => {
            let mut m = b"Subject: long\r\n\r\n".to_vec();
            for i in 0..40 {
                if i % 3 == 0 {
                    m.push(b'.');
                }
                m.extend_from_slice(&[b'a' + (i % 26) as u8; 60]);
                m.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
            }
            m
        }
    }
}

/// What the DATA encoder makes of `message`, terminator included.
fn encoded_body(message: &[u8]) -> Vec<u8> {
    encode_with(DataEncoder::new(), message)
}

/// The message as one BDAT chunk: `BDAT n LAST`, then the line-ending-normalised body
/// without dot-stuffing or terminator (RFC 3030).
fn bdat_body(message: &[u8]) -> Vec<u8> {
    let body = encode_with(DataEncoder::chunked(), message);
    let mut out = format!("BDAT {} LAST\r\n", body.len()).into_bytes();
    out.extend_from_slice(&body);
    out
}

fn encode_with(mut enc: DataEncoder, message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 2 * message.len() + FINISH_MAX];
    let (used, n) = enc.encode(message, &mut out);
    assert_eq!(used, message.len());
    let m = enc.finish(&mut out[n..]).unwrap_or(0);
    out.truncate(n + m);
    out
}

/// What `upgrade_to_tls` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    Succeed,
    Fail,
    /// The handshake "succeeds" but `is_encrypted` stays false.
    Lie,
}

/// The state shared between the transport (owned by the client) and the driver.
#[derive(Debug)]
struct Wire {
    /// Read sizes: 0 = end of stream, 1 = read error, 2 = one line, 255 = a count one past
    /// the buffer (a lying transport), other n = n - 2 bytes.
    ctrl: Vec<u8>,
    ctrl_pos: usize,
    data: Vec<u8>,
    data_pos: usize,
    read_calls: usize,
    /// Most read calls a client that makes progress can need.
    read_bound: usize,
    write_calls: usize,
    /// The write call that fails, and how.
    fail_write_at: Option<(usize, WriteFault)>,
    max_write: usize,
    upgrade: Upgrade,
    upgrades: usize,
    encrypted: bool,
    closes: usize,
    /// Every byte written.
    written: Vec<u8>,
    /// The bytes written while the transport was not encrypted.
    plaintext: Vec<u8>,
    /// Successful reads since the last write.
    reads_since_write: usize,
    /// The transport failed (read error, end of stream, write error, failed or lying
    /// upgrade): no I/O may follow.
    dead: Option<&'static str>,
}

impl Wire {
    fn die(&mut self, why: &'static str) {
        if self.dead.is_none() {
            self.dead = Some(why);
        }
    }

    fn assert_alive(&self, what: &str) {
        if let Some(why) = self.dead {
            panic!(
                "{what} after the transport reported {why}; written so far: {:?}",
                String::from_utf8_lossy(&self.written)
            );
        }
    }
}

/// How the failing write fails.
#[derive(Debug, Clone, Copy)]
enum WriteFault {
    /// An I/O error.
    Error,
    /// `Ok(0)`: no progress.
    Zero,
    /// A count one past the buffer.
    PastBuffer,
}

/// A transport serving the fuzzer's bytes; see the module documentation.
#[derive(Debug)]
struct FuzzTransport(Rc<RefCell<Wire>>);

impl ErrorType for FuzzTransport {
    type Error = ErrorKind;
}

impl Read for FuzzTransport {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let mut w = self.0.borrow_mut();
        w.assert_alive("read");
        w.read_calls += 1;
        assert!(
            w.read_calls <= w.read_bound,
            "{} read calls for {} input bytes: no progress",
            w.read_calls,
            w.read_bound
        );
        assert!(
            w.written.is_empty() || w.written.ends_with(b"\r\n"),
            "waiting for a reply with a partial line written: {:?}",
            String::from_utf8_lossy(&w.written[w.written.len().saturating_sub(80)..])
        );
        assert!(!buf.is_empty(), "read into an empty buffer");
        let c = w.ctrl.get(w.ctrl_pos).copied();
        if c.is_some() {
            w.ctrl_pos += 1;
        }
        let rest = &w.data[w.data_pos..];
        let n = match c {
            Some(0) => {
                w.die("end of stream");
                return Ok(0);
            }
            Some(1) => {
                w.die("a read error");
                return Err(ErrorKind::ConnectionReset);
            }
            Some(255) => {
                // Claims more bytes than fit: the client must fail, not index past its
                // buffer or use stale bytes.
                w.die("a read count past the buffer");
                return Ok(buf.len() + 1);
            }
            Some(2) | None => rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1),
            Some(c) => usize::from(c - 2),
        };
        let n = n.min(rest.len()).min(buf.len());
        if n == 0 {
            w.die("end of stream");
            return Ok(0);
        }
        buf[..n].copy_from_slice(&rest[..n]);
        w.data_pos += n;
        w.reads_since_write += 1;
        Ok(n)
    }
}

impl Write for FuzzTransport {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let mut w = self.0.borrow_mut();
        w.assert_alive("write");
        if buf.is_empty() {
            return Ok(0);
        }
        w.write_calls += 1;
        match w.fail_write_at {
            Some((at, fault)) if at == w.write_calls => {
                return match fault {
                    WriteFault::Error => {
                        w.die("a write error");
                        Err(ErrorKind::BrokenPipe)
                    }
                    WriteFault::Zero => {
                        w.die("a write of no bytes");
                        Ok(0)
                    }
                    WriteFault::PastBuffer => {
                        w.die("a write count past the buffer");
                        Ok(buf.len() + 1)
                    }
                };
            }
            _ => {}
        }
        let n = buf.len().min(w.max_write);
        w.written.extend_from_slice(&buf[..n]);
        if !w.encrypted {
            w.plaintext.extend_from_slice(&buf[..n]);
        }
        w.reads_since_write = 0;
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.borrow().assert_alive("flush");
        Ok(())
    }
}

impl Transport for FuzzTransport {
    fn is_encrypted(&self) -> bool {
        self.0.borrow().encrypted
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), ErrorKind> {
        let mut w = self.0.borrow_mut();
        w.assert_alive("TLS upgrade");
        assert!(!w.encrypted, "upgrade on an encrypted stream");
        assert!(
            w.written.ends_with(b"STARTTLS\r\n") && w.reads_since_write > 0,
            "upgrade without STARTTLS and its reply"
        );
        w.upgrades += 1;
        match w.upgrade {
            Upgrade::Succeed => {
                w.encrypted = true;
                Ok(())
            }
            Upgrade::Fail => {
                w.die("a failed TLS handshake");
                Err(ErrorKind::InvalidData)
            }
            Upgrade::Lie => {
                w.die("no encryption after the upgrade");
                Ok(())
            }
        }
    }

    async fn close(&mut self) -> Result<(), ErrorKind> {
        self.0.borrow_mut().closes += 1;
        Ok(())
    }
}

/// The options taken from the first three input bytes.
#[derive(Debug, Clone, Copy)]
struct Setup {
    default_connect: bool,
    policy: TlsPolicy,
    implicit_tls: bool,
    allow_plaintext_auth: bool,
    login: bool,
    xoauth2: bool,
    recipients: usize,
    utf8_recipient: bool,
    message: u8,
    twice: bool,
    require_all: bool,
    bytes_api: bool,
    rset_noop: bool,
}

impl Setup {
    fn new(b0: u8, b1: u8, b2: u8) -> Self {
        let policy = [
            TlsPolicy::Required,
            TlsPolicy::Implicit,
            TlsPolicy::Opportunistic,
            TlsPolicy::Disabled,
        ][usize::from(b0 & 3)];
        // `connect()` takes the default configuration, whatever the other bits say.
        let default_connect = b0 & 3 == 0;
        Setup {
            default_connect,
            policy,
            implicit_tls: b0 & 0x04 != 0,
            allow_plaintext_auth: b0 & 0x08 != 0 && !default_connect,
            login: b0 & 0x40 != 0,
            xoauth2: b0 & 0x80 != 0,
            recipients: 1 + usize::from(b1 & 3) % 3,
            utf8_recipient: b1 & 0x04 != 0,
            message: (b1 >> 3) & 3,
            twice: b1 & 0x20 != 0,
            require_all: b1 & 0x40 != 0 && !default_connect,
            bytes_api: b1 & 0x80 != 0,
            rset_noop: b2 & 0x80 != 0,
        }
    }

    fn config(&self) -> Config {
        Config::new()
            .tls(self.policy)
            .allow_plaintext_auth(self.allow_plaintext_auth)
            .require_all_recipients(self.require_all)
    }

    fn recipients(&self) -> Vec<&'static str> {
        let mut to = RECIPIENTS[..self.recipients].to_vec();
        if self.utf8_recipient {
            *to.last_mut().unwrap_or_else(|| unreachable!()) = UTF8_RECIPIENT;
        }
        to
    }
}

/// What [`Driver::after`] compares with.
#[derive(Debug, Clone, Copy)]
struct Before {
    closed: bool,
    dead: bool,
    written: usize,
}

/// Checks around each client call, against the shared [`Wire`].
struct Driver {
    wire: Rc<RefCell<Wire>>,
    setup: Setup,
    /// The number of bytes written when the client was first seen closed.
    closed_at: Option<usize>,
    /// Each call and its result, for the seed tests.
    log: Vec<String>,
}

impl Driver {
    fn written_len(&self) -> usize {
        self.wire.borrow().written.len()
    }

    /// The state before a call, for [`Driver::after`].
    fn before(&self, client: &SmtpClient<FuzzTransport>) -> Before {
        let w = self.wire.borrow();
        Before {
            closed: client.is_closed(),
            dead: w.dead.is_some(),
            written: w.written.len(),
        }
    }

    /// The checks after every call: a dead transport means a closed client, a closed
    /// client writes nothing more, and errors that say "nothing was written" wrote nothing.
    fn after<T>(
        &mut self,
        what: &str,
        client: &SmtpClient<FuzzTransport>,
        before: Before,
        result: &Result<T, SmtpError>,
    ) {
        self.log.push(match result {
            Ok(_) => format!("{what}: ok"),
            Err(e) => format!("{what}: {e:?}"),
        });
        let w = self.wire.borrow();
        let wrote = w.written.len() - before.written;
        if before.closed {
            assert_eq!(wrote, 0, "{what} wrote on a closed session");
        }
        if let Err(
            SmtpError::InvalidInput { .. } | SmtpError::SessionUnusable | SmtpError::PlaintextAuth,
        ) = result
        {
            assert_eq!(wrote, 0, "{what} wrote {wrote} bytes and then refused");
        }
        if let Some(why) = w.dead {
            assert!(
                client.is_closed(),
                "{what}: the session is still open after {why}"
            );
            if !before.dead {
                assert!(result.is_err(), "{what} succeeded after {why}");
            }
        }
        assert_eq!(
            client.is_encrypted(),
            w.encrypted,
            "{what}: client and transport disagree on encryption"
        );
        if client.is_closed() && self.closed_at.is_none() {
            self.closed_at = Some(w.written.len());
        }
    }

    fn login(&mut self, client: &mut SmtpClient<FuzzTransport>) {
        let before = self.before(client);
        let result = if self.setup.xoauth2 {
            // Without the feature: refused before anything is written.
            #[cfg(feature = "engine-defaults")]
            let result = block_on(client.login_xoauth2(USER, SECRET));
            #[cfg(not(feature = "engine-defaults"))]
            let result =
                block_on(client.login_with(wasm_smtp_core::Mechanism::XOAuth2, USER, SECRET));
            result
        } else {
            block_on(client.login(USER, SECRET))
        };
        self.after("login", client, before, &result);
        if result.is_ok() {
            let w = self.wire.borrow();
            assert!(w.encrypted || self.setup.allow_plaintext_auth);
            assert!(client.session().is_authenticated());
            assert!(contains(&w.written[before.written..], b"AUTH "));
        }
    }

    fn send(&mut self, client: &mut SmtpClient<FuzzTransport>) {
        let to = self.setup.recipients();
        let msg = message(self.setup.message, self.setup.bytes_api);
        let before = self.before(client);
        let result = if self.setup.bytes_api {
            block_on(client.send_mail_bytes(FROM, &to, &msg))
        } else {
            let text = std::str::from_utf8(&msg).unwrap_or_else(|_| unreachable!());
            block_on(client.send_mail(FROM, &to, text))
        };
        self.after("send_mail", client, before, &result);
        let Ok(outcome) = result else {
            return;
        };
        let w = self.wire.borrow();
        let wrote = &w.written[before.written..];
        // Ok only after the whole body and the end-of-data line (or, with CHUNKING, the
        // whole body as the LAST chunk) went out, and a reply was read after that.
        // (Without the engine's `chunking` feature BDAT is never used.)
        if cfg!(feature = "engine-defaults") && client.capabilities().has(Capability::Chunking) {
            let chunk = bdat_body(&msg);
            assert!(
                wrote.ends_with(&chunk),
                "send_mail returned Ok but the last bytes written are not the LAST chunk: {:?}",
                String::from_utf8_lossy(&wrote[wrote.len().saturating_sub(chunk.len() + 16)..])
            );
            let before_chunk = &wrote[..wrote.len() - chunk.len()];
            assert!(
                !contains(before_chunk, b"\r\n.\r\n") && !contains(before_chunk, b"DATA\r\n"),
                "DATA or an end of data before the LAST chunk"
            );
        } else {
            let body = encoded_body(&msg);
            assert!(
                wrote.ends_with(&body),
                "send_mail returned Ok but the last bytes written are not the body and the \
                 end of data: {:?}",
                String::from_utf8_lossy(&wrote[wrote.len().saturating_sub(body.len() + 16)..])
            );
            let eod = wrote.windows(5).position(|x| x == b"\r\n.\r\n");
            assert_eq!(
                eod,
                Some(wrote.len() - 5),
                "end of data missing or written early"
            );
        }
        assert!(
            w.reads_since_write > 0,
            "send_mail returned Ok without reading a reply to the end of data"
        );
        assert!(outcome.reply.code.is_positive_completion(), "{outcome:?}");
        assert!(contains(wrote, b"MAIL FROM:<"));
        let rcpt_lines = wrote.windows(9).filter(|x| x == b"RCPT TO:<").count();
        assert_eq!(rcpt_lines, to.len(), "RCPT lines");
        assert_eq!(outcome.recipients(), to.len());
        assert!(outcome.accepted_count() >= 1, "{outcome:?}");
        if self.setup.require_all {
            assert!(outcome.all_accepted(), "{outcome:?}");
        }
    }

    fn rset_noop(&mut self, client: &mut SmtpClient<FuzzTransport>) {
        let before = self.before(client);
        let result = block_on(client.rset());
        self.after("rset", client, before, &result);
        let before = self.before(client);
        let result = block_on(client.noop());
        self.after("noop", client, before, &result);
    }

    fn quit(&mut self, client: &mut SmtpClient<FuzzTransport>) {
        let before = self.before(client);
        let result = block_on(client.quit());
        self.after("quit", client, before, &result);
        assert!(client.is_closed(), "open after quit");
        assert!(
            self.wire.borrow().closes >= 1,
            "quit did not close the transport"
        );
        if before.closed {
            assert_eq!(result, Ok(()), "quit on a closed session");
        }
        // Nothing more after QUIT.
        let before = self.written_len();
        let again = block_on(client.send_mail(FROM, &["bob@example.org"], "x"));
        assert_eq!(again, Err(SmtpError::SessionUnusable));
        assert_eq!(self.written_len(), before);
    }

    /// Checks on everything written, at the end.
    fn finish(&self) {
        let w = self.wire.borrow();
        if let Some(at) = self.closed_at {
            assert_eq!(
                w.written.len(),
                at,
                "wrote {:?} after the session closed",
                String::from_utf8_lossy(&w.written[at..])
            );
        }
        // (A failed write may cut the last line after its CR.)
        let cut = usize::from(w.dead.is_some());
        for (i, &b) in w.written.iter().enumerate() {
            if b == b'\r' && i + cut < w.written.len() {
                assert_eq!(w.written.get(i + 1), Some(&b'\n'), "bare CR written at {i}");
            }
            if b == b'\n' {
                assert!(i > 0 && w.written[i - 1] == b'\r', "bare LF written at {i}");
            }
        }
        let s = self.setup;
        if s.policy == TlsPolicy::Disabled {
            assert!(
                !contains(&w.written, b"STARTTLS"),
                "STARTTLS while disabled"
            );
        }
        if !s.implicit_tls && s.policy == TlsPolicy::Implicit {
            assert!(
                w.written.is_empty(),
                "written with implicit TLS on plaintext"
            );
        }
        if !s.implicit_tls && s.policy == TlsPolicy::Required {
            // Before TLS only EHLO and STARTTLS (and QUIT, to leave politely); the last
            // line may be cut short by a failed write.
            const ALLOWED: [&[u8]; 3] =
                [b"EHLO client.example.com\r\n", b"STARTTLS\r\n", b"QUIT\r\n"];
            for line in w.plaintext.split_inclusive(|&b| b == b'\n') {
                let ok = if line.ends_with(b"\n") {
                    ALLOWED.contains(&line)
                } else {
                    w.dead.is_some() && ALLOWED.iter().any(|a| a.starts_with(line))
                };
                assert!(
                    ok,
                    "plaintext line {:?} with TLS required",
                    String::from_utf8_lossy(line)
                );
            }
        }
        if !s.allow_plaintext_auth {
            let plain = &w.plaintext;
            let leaks = [
                SECRET.as_bytes().to_vec(),
                base64(SECRET.as_bytes()),
                base64(format!("\0{USER}\0{SECRET}").as_bytes()),
                base64(format!("user={USER}\x01auth=Bearer {SECRET}\x01\x01").as_bytes()),
            ];
            for leak in &leaks {
                assert!(!contains(plain, leak), "secret written in plaintext");
            }
            assert!(
                !plain.starts_with(b"AUTH") && !contains(plain, b"\nAUTH"),
                "AUTH written in plaintext"
            );
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The async client over arbitrary server bytes: connect (TLS policy, implicit TLS and
/// the STARTTLS upgrade's fate chosen by the input), optionally login, one or two
/// messages to 1-3 recipients, optionally RSET and NOOP, then QUIT.
///
/// Checked: no panic; progress (read calls <= input length + 2, asserted at each read);
/// no read, write or upgrade after the transport failed (error, end of stream, failed or
/// lying upgrade), and the session is closed then; nothing written after the client is
/// closed; refused input writes nothing; the client never waits for a reply with a
/// partial line written; an `Ok` from `send_mail` comes after the whole dot-stuffed body
/// and the end-of-data line (the last bytes written, `CRLF . CRLF` nowhere earlier) and a
/// read after them, with a 2xx reply; with TLS required, only EHLO, STARTTLS and QUIT in
/// plaintext; without `allow_plaintext_auth`, no AUTH line and no form of the secret in
/// plaintext; no bare CR or LF ever written.
///
/// Input layout: byte 0 = bits 0-1 policy (`connect()` default, `Implicit`,
/// `Opportunistic`, `Disabled`), bit 2 implicit TLS, bit 3 `allow_plaintext_auth`, bits
/// 4-5 upgrade (succeeds, succeeds, fails, "succeeds" without encryption), bit 6 login,
/// bit 7 XOAUTH2 instead of PLAIN/LOGIN; byte 1 = bits 0-1 recipients (1 + n mod 3), bit 2
/// the last recipient is non-ASCII, bits 3-4 the message, bit 5 send twice, bit 6
/// `require_all_recipients`, bit 7 `send_mail_bytes`; byte 2 = bits 0-3 the write call
/// that fails (0 none), bits 4-6 the largest write (unlimited, 1, 2, 3, 7, 16, 64, 300),
/// bit 7 RSET and NOOP before QUIT; byte 3 = `n`; then `n` read-size bytes (0 end of
/// stream, 1 read error, 2 one line, else that many bytes minus 2; after them, one line
/// per read); then the server bytes.
pub fn whole_session(data: &[u8]) {
    run(data);
}

/// [`whole_session`], returning the calls made and their results.
fn run(data: &[u8]) -> Vec<String> {
    let [b0, b1, b2, n, rest @ ..] = data else {
        return Vec::new();
    };
    let n = usize::from(*n).min(rest.len());
    let (ctrl, server) = rest.split_at(n);
    let setup = Setup::new(*b0, *b1, *b2);
    let upgrade = match (b0 >> 4) & 3 {
        2 => Upgrade::Fail,
        3 => Upgrade::Lie,
        _ => Upgrade::Succeed,
    };
    // 1-10: an error at that write call; 11-12: `Ok(0)` at call 1-2; 13-15: a count past
    // the buffer at call 1-3.
    let fail_write_at = match usize::from(b2 & 15) {
        0 => None,
        k @ 1..=10 => Some((k, WriteFault::Error)),
        k @ 11..=12 => Some((k - 10, WriteFault::Zero)),
        k => Some((k - 12, WriteFault::PastBuffer)),
    };
    let max_write = [usize::MAX, 1, 2, 3, 7, 16, 64, 300][usize::from((b2 >> 4) & 7)];
    let wire = Rc::new(RefCell::new(Wire {
        ctrl: ctrl.to_vec(),
        ctrl_pos: 0,
        data: server.to_vec(),
        data_pos: 0,
        read_calls: 0,
        read_bound: ctrl.len() + server.len() + 2,
        write_calls: 0,
        fail_write_at,
        max_write,
        upgrade,
        upgrades: 0,
        encrypted: setup.implicit_tls,
        closes: 0,
        written: Vec::new(),
        plaintext: Vec::new(),
        reads_since_write: 0,
        dead: None,
    }));
    let transport = FuzzTransport(Rc::clone(&wire));
    let mut d = Driver {
        wire,
        setup,
        closed_at: None,
        log: Vec::new(),
    };
    let connected = if setup.default_connect {
        block_on(SmtpClient::connect(transport, DOMAIN))
    } else {
        block_on(SmtpClient::connect_with(transport, DOMAIN, setup.config()))
    };
    let mut client = match connected {
        Ok(c) => c,
        Err(e) => {
            assert!(
                !matches!(
                    e,
                    SmtpError::InvalidInput { .. } | SmtpError::SessionUnusable
                ),
                "connect: {e:?}"
            );
            d.finish();
            return vec![format!("connect: {e:?}")];
        }
    };
    d.log.push("connect: ok".into());
    {
        let w = d.wire.borrow();
        assert!(w.dead.is_none(), "connected after {:?}", w.dead);
        assert!(!client.is_closed());
        assert_eq!(client.is_encrypted(), w.encrypted);
        if !setup.implicit_tls && setup.policy == TlsPolicy::Required {
            assert!(w.encrypted && w.upgrades == 1, "connected without TLS");
        }
        assert!(
            setup.implicit_tls || setup.policy != TlsPolicy::Implicit,
            "connected with implicit TLS required on plaintext"
        );
    }
    if setup.login {
        d.login(&mut client);
    }
    d.send(&mut client);
    if setup.twice {
        d.send(&mut client);
    }
    if setup.rset_noop {
        d.rset_noop(&mut client);
    }
    d.quit(&mut client);
    d.finish();
    d.log
}

#[cfg(test)]
mod tests {
    #![cfg_attr(not(feature = "engine-defaults"), allow(unused_imports))]
    use super::*;
    use crate::smoke::check_seeds;

    /// The seeds reach what their names say: the target is not checking empty runs. (With
    /// the engine's default features: the CHUNKING seeds script BDAT replies.)
    #[test]
    #[cfg(feature = "engine-defaults")]
    fn seeds_reach_their_outcomes() {
        let seen = check_seeds("whole_session", run, |name| {
            Some(match name {
                "implicit-plain-1rcpt" => "login: ok; send_mail: ok; quit: ok",
                "starttls-login-2rcpt" => "login: ok; send_mail: ok; quit: ok",
                "opportunistic-utf8-twice" => "send_mail: ok; send_mail: ok; quit: ok",
                "xoauth2-refused" => "send_mail: ok; rset: ok; noop: ok; quit: ok",
                "plain-421-short-io" => "send_mail: Rejected",
                "starttls-refused" => "connect: Tls(Refused(454))",
                "starttls-injection" => "connect: Protocol(DataAfterStartTls)",
                "upgrade-fails" => "connect: Tls(Handshake",
                "upgrade-lies" => "connect: Tls(NotEncrypted)",
                "implicit-policy-plaintext" => "connect: Tls(PlaintextTransport)",
                "long-body-write-error" => "send_mail: Io(BrokenPipe)",
                "helo-fallback-eof" => "send_mail: ok; quit: ConnectionClosed",
                "rcpt-refused-data-554" => "send_mail: RecipientsRejected",
                "implicit-chunking-only" => "send_mail: ok; quit: ok",
                "implicit-chunking-pipelining-twice" => "send_mail: ok; send_mail: ok; quit: ok",
                _ => return None,
            })
        });
        assert_eq!(seen, 15);
    }
}
