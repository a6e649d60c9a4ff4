//! (d) of the size report: the hand-written session of `../handrolled` (c), extended to
//! keep the safety guarantees of wasm-smtp, to measure what they cost without the
//! library's generality (one recipient, one mechanism choice, no pipelining, no options).
//!
//! Kept guarantees:
//! 1. every input is checked before anything is written (EHLO domain, addresses, user and
//!    password, line length of the message), each failure its own [`Error::Invalid`];
//! 2. replies are parsed strictly: CRLF only, lines of at most 512 octets, three digits
//!    and ' ', '-' or the line end, one code per reply, at most 64 lines; bytes that
//!    arrive after a line are kept for the next one;
//! 3. the post-TLS EHLO capabilities decide: STARTTLS, AUTH PLAIN / LOGIN, SIZE (a larger
//!    message is refused, `SIZE=` is declared), 8BITMIME (needed for 8-bit bytes, then
//!    declared with `BODY=8BITMIME`);
//! 4. STARTTLS is required; bytes after its 220 reply are an injection; the session
//!    restarts with EHLO over TLS and nothing read before the upgrade is used;
//! 5. AUTH only over TLS, PLAIN or LOGIN (challenges must be base64), base64 in constant
//!    time; the buffers that held the password are zeroed;
//! 6. DATA goes through a fixed buffer: every line ending is sent as CRLF (no bare CR or
//!    LF ever reaches the server), dot-stuffing, the end-of-data line;
//! 7. errors are classified ([`Error::is_transient`]), never formatted;
//! 8. after an error nothing more is written; QUIT, 221, then the socket is closed.
//!
//! Protocol data lives in fixed stack buffers (a 1024-octet receive buffer, a 512-octet
//! transmit buffer); only the settings from `env.var(...)` are heap strings, as in (c).
//!
//! Not kept, against the library: its full address grammar (quoted local parts,
//! SMTPUTF8) and Unicode control checks, PIPELINING, more than one recipient, RSET after
//! a failure, the HELO fallback, enhanced status codes and reply texts, time limits, the
//! port-25 refusal, waiting for the TLS handshake before writing, the runtime's error
//! messages, credentials longer than 184 octets (the library streams AUTH through its
//! buffer), and `worker::Socket::start_tls`, which panics if the runtime throws (the
//! library calls the runtime's `startTls` itself and reports a failure as an error).

#![forbid(unsafe_code)]

use core::future::poll_fn;
use core::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use worker::wasm_bindgen::JsValue;
use worker::{event, Context, Env, Request, Response, SecureTransport, Socket};
use zeroize::Zeroize;

/// Longest reply line, CRLF included (RFC 5321 section 4.5.3.1.5).
const MAX_LINE: usize = 512;
/// Most lines in one reply.
const MAX_LINES: usize = 64;
/// Longest message line, without its line ending (RFC 5322 section 2.1.1).
const MAX_TEXT_LINE: usize = 998;
/// Longest address (RFC 5321 section 4.5.3.1.3: a path of 256 octets with `<>`, less
/// the brackets, less one as the library counts it).
const MAX_ADDRESS: usize = 254;
/// Longest domain (RFC 5321 section 4.5.3.1.2).
const MAX_DOMAIN: usize = 255;
/// The transmit buffer: command lines and DATA.
const TX: usize = 512;
/// Longest user name or password: `\0user\0password` (2 + 2 * 184 octets) encodes to 496
/// base64 characters, so that `AUTH PLAIN` and the response fit the transmit buffer.
const MAX_CREDENTIAL: usize = 184;

/// Which input failed validation.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Field {
    Ehlo,
    From,
    To,
    User,
    Password,
    Message,
}

/// Why an input failed validation.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Reason {
    Empty,
    TooLong,
    /// A control byte (below 0x20, or 0x7f); NUL for the credentials.
    Control,
    /// A space, `<` or `>` in an address.
    Forbidden,
    /// Not exactly one `@` inside an address; a domain that is not `[A-Za-z0-9.-]` or that
    /// starts or ends with a dot.
    Syntax,
}

/// What went wrong. Never holds data sent or received beyond a reply code.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Error {
    /// An input was refused; nothing was written.
    Invalid(Field, Reason),
    /// The server answered a command with another code than the one expected.
    Reply(u16),
    /// The server sent bytes that are not a valid reply (or a bad SIZE or a 334 challenge
    /// that is not base64).
    Malformed,
    /// The message is larger than the server's SIZE limit; nothing was sent.
    TooLarge,
    /// The message has 8-bit bytes and the server does not offer 8BITMIME.
    EightBitUnavailable,
    /// The server does not offer STARTTLS.
    TlsNotOffered,
    /// The server answered STARTTLS with this code instead of 220.
    TlsRefused(u16),
    /// Bytes arrived after the 220 reply to STARTTLS, before the upgrade.
    TlsInjection,
    /// The server offers neither AUTH PLAIN nor AUTH LOGIN over TLS.
    AuthUnavailable,
    /// The server refused the credentials with this code.
    AuthRejected(u16),
    /// A command line does not fit the transmit buffer (cannot happen after validation).
    BufferTooSmall,
    /// The socket failed to open, read or write.
    Io,
    /// The server closed the connection while a reply was expected.
    Closed,
}

impl Error {
    /// Retrying later may succeed: transport failures, a closed connection, 4xx replies.
    pub fn is_transient(self) -> bool {
        match self {
            Error::Io | Error::Closed => true,
            Error::Reply(code) | Error::TlsRefused(code) | Error::AuthRejected(code) => {
                code / 100 == 4
            }
            _ => false,
        }
    }
}

type Result<T> = core::result::Result<T, Error>;

// ---- Input validation (nothing written yet) ----

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// MAIL FROM and RCPT TO: 1 to 254 octets, no control byte, no space, `<` or `>`, exactly
/// one `@` with something on each side.
fn check_address(address: &[u8], field: Field) -> Result<()> {
    let reason = if address.is_empty() {
        Reason::Empty
    } else if address.len() > MAX_ADDRESS {
        Reason::TooLong
    } else if address.iter().any(|&b| is_control(b)) {
        Reason::Control
    } else if address.iter().any(|b| b" <>".contains(b)) {
        Reason::Forbidden
    } else if address.iter().filter(|&&b| b == b'@').count() != 1
        || address.first() == Some(&b'@')
        || address.last() == Some(&b'@')
    {
        Reason::Syntax
    } else {
        return Ok(());
    };
    Err(Error::Invalid(field, reason))
}

/// The EHLO domain: 1 to 255 octets of `[A-Za-z0-9.-]`, not starting or ending with a dot.
fn check_domain(domain: &[u8]) -> Result<()> {
    let reason = if domain.is_empty() {
        Reason::Empty
    } else if domain.len() > MAX_DOMAIN {
        Reason::TooLong
    } else if domain.iter().any(|&b| is_control(b)) {
        Reason::Control
    } else if !domain
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        || domain.first() == Some(&b'.')
        || domain.last() == Some(&b'.')
    {
        Reason::Syntax
    } else {
        return Ok(());
    };
    Err(Error::Invalid(Field::Ehlo, reason))
}

/// A user name or password for PLAIN / LOGIN: not empty, no NUL (the PLAIN separator).
fn check_credential(value: &[u8], field: Field) -> Result<()> {
    let reason = if value.is_empty() {
        Reason::Empty
    } else if value.len() > MAX_CREDENTIAL {
        Reason::TooLong
    } else if value.contains(&0) {
        Reason::Control
    } else {
        return Ok(());
    };
    Err(Error::Invalid(field, reason))
}

/// What the client checks about the message, in one pass.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
struct Facts {
    /// The longest line in octets, without its line ending.
    longest_line: usize,
    /// The size as sent, less dot-stuffing and the end-of-data line: every line ending
    /// (CRLF, bare LF, bare CR) counted as CRLF, a CRLF after an unterminated last line
    /// (the message size of RFC 1870, declared with `SIZE=`).
    size: u64,
    /// Any byte with the high bit set.
    eight_bit: bool,
}

/// [`Facts`] of `message`, with the line ending rules of [`DataEncoder`].
fn facts(message: &[u8]) -> Facts {
    let mut facts = Facts {
        longest_line: 0,
        size: 0,
        eight_bit: false,
    };
    let mut line = 0;
    let mut after_cr = false;
    for &b in message {
        facts.eight_bit |= b >= 0x80;
        if b == b'\n' && after_cr {
            after_cr = false;
            continue;
        }
        after_cr = b == b'\r';
        if b == b'\r' || b == b'\n' {
            facts.size += 2;
            line = 0;
        } else {
            facts.size += 1;
            line += 1;
            facts.longest_line = facts.longest_line.max(line);
        }
    }
    if line > 0 {
        facts.size += 2;
    }
    facts
}

// ---- Replies ----

/// One reply line without its CRLF: the code, and whether it is the last line.
fn parse_line(line: &[u8]) -> Result<(u16, bool)> {
    let Some((digits, rest)) = line.split_at_checked(3) else {
        return Err(Error::Malformed);
    };
    let mut code = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(Error::Malformed);
        }
        code = code * 10 + u16::from(d - b'0');
    }
    match rest.first() {
        None | Some(b' ') => Ok((code, true)),
        Some(b'-') => Ok((code, false)),
        Some(_) => Err(Error::Malformed),
    }
}

/// The receive side: a fixed buffer whose bytes `start..end` have arrived but not been
/// parsed yet. Bytes after a line stay for the next one.
struct Reader {
    buf: [u8; 1024],
    start: usize,
    end: usize,
    /// The code of the reply in progress and how many of its lines were parsed.
    code: u16,
    lines: usize,
    /// Where the text of the last parsed line is (after the code and separator).
    text: (usize, usize),
}

impl Reader {
    fn new() -> Self {
        Reader {
            buf: [0; 1024],
            start: 0,
            end: 0,
            code: 0,
            lines: 0,
            text: (0, 0),
        }
    }

    /// Take one line from the buffered bytes: `None` when it has not arrived entirely,
    /// `Some(true)` when it completed the reply.
    fn step(&mut self) -> Result<Option<bool>> {
        let pending = &self.buf[self.start..self.end];
        let Some(lf) = pending.iter().position(|&b| b == b'\n') else {
            return if pending.len() >= MAX_LINE {
                Err(Error::Malformed)
            } else {
                Ok(None)
            };
        };
        // At most MAX_LINE octets with CRLF; CR only right before LF.
        let line = match pending[..lf].split_last() {
            Some((b'\r', line)) if lf < MAX_LINE && !line.contains(&b'\r') => line,
            _ => return Err(Error::Malformed),
        };
        let (code, last) = parse_line(line)?;
        if self.lines > 0 && code != self.code {
            return Err(Error::Malformed);
        }
        self.lines += 1;
        if self.lines > MAX_LINES {
            return Err(Error::Malformed);
        }
        self.code = code;
        self.text = (self.start + line.len().min(4), self.start + line.len());
        self.start += lf + 1;
        if last {
            self.lines = 0;
        }
        Ok(Some(last))
    }

    /// The text of the last parsed line, until the next read.
    fn text(&self) -> &[u8] {
        &self.buf[self.text.0..self.text.1]
    }

    /// Whether bytes have arrived that no reply used.
    fn has_pending(&self) -> bool {
        self.start != self.end
    }

    /// Move the pending bytes to the front and read more after them.
    async fn fill(&mut self, socket: &mut Socket) -> Result<()> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let buf = &mut self.buf[self.end..];
        let n = poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut *buf);
            Pin::new(&mut *socket)
                .poll_read(cx, &mut rb)
                .map_ok(|()| rb.filled().len())
        })
        .await
        .map_err(|_| Error::Io)?;
        if n == 0 {
            return Err(Error::Closed);
        }
        self.end += n;
        Ok(())
    }

    /// Read one whole reply and return its code. With `caps`, fold each line after the
    /// first into them (an EHLO reply).
    async fn reply(&mut self, socket: &mut Socket, mut caps: Option<&mut Caps>) -> Result<u16> {
        let mut first = true;
        loop {
            let Some(last) = self.step()? else {
                self.fill(socket).await?;
                continue;
            };
            if let Some(caps) = caps.as_deref_mut() {
                if !first {
                    caps.add(self.text())?;
                }
            }
            first = false;
            if last {
                return Ok(self.code);
            }
        }
    }
}

/// What the server offers after EHLO (keywords compare case-insensitively).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
struct Caps {
    starttls: bool,
    plain: bool,
    login: bool,
    eight_bit: bool,
    size: bool,
    /// The SIZE limit; 0 when none was given.
    size_limit: u64,
}

impl Caps {
    /// Fold one EHLO line (the text after `250-` / `250 `) in. A SIZE that is not a
    /// number, or overflows, is malformed; unknown keywords are ignored.
    fn add(&mut self, text: &[u8]) -> Result<()> {
        let mut words = text.split(|&b| b == b' ');
        let keyword = words.next().unwrap_or_default();
        let is = |name: &[u8]| keyword.eq_ignore_ascii_case(name);
        if is(b"STARTTLS") {
            self.starttls = true;
        } else if is(b"8BITMIME") {
            self.eight_bit = true;
        } else if is(b"SIZE") {
            self.size = true;
            self.size_limit = 0;
            if let Some(number) = words.next().filter(|w| !w.is_empty()) {
                for &d in number {
                    if !d.is_ascii_digit() {
                        return Err(Error::Malformed);
                    }
                    self.size_limit = self
                        .size_limit
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(d - b'0')))
                        .ok_or(Error::Malformed)?;
                }
            }
        } else if is(b"AUTH") {
            for mechanism in words {
                self.plain |= mechanism.eq_ignore_ascii_case(b"PLAIN");
                self.login |= mechanism.eq_ignore_ascii_case(b"LOGIN");
            }
        }
        Ok(())
    }
}

/// Whether a 334 challenge is base64 text (possibly empty; one trailing space allowed, as
/// the library does).
fn is_base64(text: &[u8]) -> bool {
    let text = text.strip_suffix(b" ").unwrap_or(text);
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    text.len().is_multiple_of(4)
        && pad <= 2
        && text[..text.len() - pad]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

// ---- Commands ----

/// One base64 digit for `x` (0..=63), without a table or a branch on `x`: secrets are
/// encoded in constant time (the technique of the `base64ct` crate).
fn base64_digit(x: u8) -> u8 {
    let x = i16::from(x);
    let mut c = x + i16::from(b'A');
    c += ((25 - x) >> 8) & 6; // 26..: 'a' - 26
    c -= ((51 - x) >> 8) & 75; // 52..: '0' - 52
    c -= ((61 - x) >> 8) & 15; // 62: '+'
    c += ((62 - x) >> 8) & 3; // 63: '/'
    c as u8
}

/// A command line built in the transmit buffer.
struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
    fits: bool,
}

impl<'a> Line<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Line {
            buf,
            len: 0,
            fits: true,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> &mut Self {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.fits = false,
        }
        self
    }

    /// `input` in base64 (RFC 4648, padded).
    fn base64(&mut self, input: &[u8]) -> &mut Self {
        for chunk in input.chunks(3) {
            let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
            let n = byte(0) << 16 | byte(1) << 8 | byte(2);
            let mut quad = [b'='; 4];
            for (i, digit) in quad.iter_mut().enumerate().take(chunk.len() + 1) {
                *digit = base64_digit((n >> (18 - 6 * i)) as u8 & 63);
            }
            self.put(&quad);
        }
        self
    }

    fn decimal(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..])
    }

    /// Add CRLF; the length of the line.
    fn end(&mut self) -> Result<usize> {
        self.put(b"\r\n");
        if self.fits {
            Ok(self.len)
        } else {
            Err(Error::BufferTooSmall)
        }
    }
}

/// Zero `buf` in a way the optimiser keeps (with `zeroize`, as the library does).
fn wipe(buf: &mut [u8]) {
    buf.zeroize();
}

/// The password from the settings, zeroed when dropped.
struct Secret(Vec<u8>);

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

// ---- DATA ----

/// The message as DATA content, in pieces: every line ending (CRLF, bare LF, bare CR) is
/// sent as CRLF, a line starting with '.' gets another, then the end-of-data line.
struct DataEncoder {
    line_start: bool,
    after_cr: bool,
}

impl DataEncoder {
    fn new() -> Self {
        DataEncoder {
            line_start: true,
            after_cr: false,
        }
    }

    /// Encode a prefix of `input` into `out` (each byte makes at most two); returns the
    /// bytes used and the bytes written.
    fn encode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let mut used = 0;
        let mut n = 0;
        for &b in input {
            let Some(dst) = out.get_mut(n..n + 2) else {
                break;
            };
            used += 1;
            if b == b'\n' && self.after_cr {
                // The LF of a CRLF already sent.
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            if b == b'\r' || b == b'\n' {
                dst.copy_from_slice(b"\r\n");
                n += 2;
                self.line_start = true;
            } else if b == b'.' && self.line_start {
                dst.copy_from_slice(b"..");
                n += 2;
                self.line_start = false;
            } else {
                dst[0] = b;
                n += 1;
                self.line_start = false;
            }
        }
        (used, n)
    }

    /// The end: CRLF after an unterminated last line, then `.` CRLF (`out` holds 5).
    fn finish(&self, out: &mut [u8]) -> usize {
        let end: &[u8] = if self.line_start {
            b".\r\n"
        } else {
            b"\r\n.\r\n"
        };
        out[..end.len()].copy_from_slice(end);
        end.len()
    }
}

// ---- The session ----

async fn write_all(socket: &mut Socket, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *socket).poll_write(cx, buf))
            .await
            .map_err(|_| Error::Io)?;
        if n == 0 {
            return Err(Error::Io);
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Write one command line and read the reply; its code.
async fn command(
    socket: &mut Socket,
    reader: &mut Reader,
    line: &[u8],
    caps: Option<&mut Caps>,
) -> Result<u16> {
    write_all(socket, line).await?;
    reader.reply(socket, caps).await
}

fn expect(code: u16, want: u16) -> Result<()> {
    if code == want {
        Ok(())
    } else {
        Err(Error::Reply(code))
    }
}

/// EHLO and the capabilities of its reply.
async fn ehlo(
    socket: &mut Socket,
    reader: &mut Reader,
    tx: &mut [u8],
    domain: &[u8],
) -> Result<Caps> {
    let mut caps = Caps::default();
    let n = Line::new(tx).put(b"EHLO ").put(domain).end()?;
    expect(
        command(socket, reader, &tx[..n], Some(&mut caps)).await?,
        250,
    )?;
    Ok(caps)
}

/// AUTH PLAIN when offered, else AUTH LOGIN. The caller zeroes `tx` afterwards.
async fn auth(
    socket: &mut Socket,
    reader: &mut Reader,
    tx: &mut [u8],
    caps: &Caps,
    user: &[u8],
    password: &[u8],
) -> Result<()> {
    let code = if caps.plain {
        let mut plain = [0u8; 2 + 2 * MAX_CREDENTIAL];
        let mut response = Line::new(&mut plain);
        response.put(b"\0").put(user).put(b"\0").put(password);
        let len = response.len;
        let n = Line::new(tx)
            .put(b"AUTH PLAIN ")
            .base64(&plain[..len])
            .end();
        wipe(&mut plain);
        command(socket, reader, &tx[..n?], None).await?
    } else if caps.login {
        let n = Line::new(tx).put(b"AUTH LOGIN").end()?;
        let mut code = command(socket, reader, &tx[..n], None).await?;
        for value in [user, password] {
            if code != 334 {
                return Err(Error::AuthRejected(code));
            }
            if !is_base64(reader.text()) {
                return Err(Error::Malformed);
            }
            let n = Line::new(tx).base64(value).end()?;
            code = command(socket, reader, &tx[..n], None).await?;
        }
        code
    } else {
        return Err(Error::AuthUnavailable);
    };
    if code != 235 {
        return Err(Error::AuthRejected(code));
    }
    Ok(())
}

/// A var as a string; empty when unset.
fn var(env: &Env, name: &str) -> String {
    env.var(name)
        .ok()
        .and_then(|v| AsRef::<JsValue>::as_ref(&v).as_string())
        .unwrap_or_default()
}

async fn run(env: &Env) -> Result<()> {
    let host = var(env, "SMTP_HOST");
    let port = var(env, "SMTP_PORT").parse().unwrap_or(587);
    let domain = var(env, "EHLO_DOMAIN");
    let user = var(env, "SMTP_USER");
    let password = Secret(var(env, "SMTP_PASSWORD").into_bytes());
    let from = var(env, "MAIL_FROM");
    let to = var(env, "MAIL_TO");
    let message = var(env, "MESSAGE");
    let (domain, user, from, to, message) = (
        domain.as_bytes(),
        user.as_bytes(),
        from.as_bytes(),
        to.as_bytes(),
        message.as_bytes(),
    );

    // 1. Everything checked before connecting.
    check_domain(domain)?;
    check_address(from, Field::From)?;
    check_address(to, Field::To)?;
    check_credential(user, Field::User)?;
    check_credential(&password.0, Field::Password)?;
    let facts = facts(message);
    if facts.longest_line > MAX_TEXT_LINE {
        return Err(Error::Invalid(Field::Message, Reason::TooLong));
    }

    let mut socket = Socket::builder()
        .secure_transport(SecureTransport::StartTls)
        .connect(host, port)
        .map_err(|_| Error::Io)?;
    let mut reader = Reader::new();
    let mut tx = [0u8; TX];
    expect(reader.reply(&mut socket, None).await?, 220)?;

    // 4. STARTTLS, required; nothing may follow its 220 before the upgrade.
    if !ehlo(&mut socket, &mut reader, &mut tx, domain)
        .await?
        .starttls
    {
        return Err(Error::TlsNotOffered);
    }
    let n = Line::new(&mut tx).put(b"STARTTLS").end()?;
    let code = command(&mut socket, &mut reader, &tx[..n], None).await?;
    if code != 220 {
        return Err(Error::TlsRefused(code));
    }
    if reader.has_pending() {
        return Err(Error::TlsInjection);
    }
    let mut socket = socket.start_tls();
    let mut reader = Reader::new();
    let caps = ehlo(&mut socket, &mut reader, &mut tx, domain).await?;

    // 5. AUTH over TLS; the transmit buffer held the encoded password.
    let authed = auth(&mut socket, &mut reader, &mut tx, &caps, user, &password.0).await;
    wipe(&mut tx);
    drop(password);
    authed?;

    // 3. SIZE and 8BITMIME, before MAIL.
    if caps.size && caps.size_limit != 0 && facts.size > caps.size_limit {
        return Err(Error::TooLarge);
    }
    if facts.eight_bit && !caps.eight_bit {
        return Err(Error::EightBitUnavailable);
    }
    let mut mail = Line::new(&mut tx);
    mail.put(b"MAIL FROM:<").put(from).put(b">");
    if facts.eight_bit {
        mail.put(b" BODY=8BITMIME");
    }
    if caps.size {
        mail.put(b" SIZE=").decimal(facts.size);
    }
    let n = mail.end()?;
    expect(
        command(&mut socket, &mut reader, &tx[..n], None).await?,
        250,
    )?;
    let n = Line::new(&mut tx)
        .put(b"RCPT TO:<")
        .put(to)
        .put(b">")
        .end()?;
    match command(&mut socket, &mut reader, &tx[..n], None).await? {
        250 | 251 => {}
        code => return Err(Error::Reply(code)),
    }

    // 6. DATA through the transmit buffer.
    let n = Line::new(&mut tx).put(b"DATA").end()?;
    expect(
        command(&mut socket, &mut reader, &tx[..n], None).await?,
        354,
    )?;
    let mut encoder = DataEncoder::new();
    let mut rest = message;
    while !rest.is_empty() {
        let (used, n) = encoder.encode(rest, &mut tx);
        write_all(&mut socket, &tx[..n]).await?;
        rest = &rest[used..];
    }
    let n = encoder.finish(&mut tx);
    write_all(&mut socket, &tx[..n]).await?;
    expect(reader.reply(&mut socket, None).await?, 250)?;

    // 8. QUIT, then close (a failure to close changes nothing: the message is sent).
    let n = Line::new(&mut tx).put(b"QUIT").end()?;
    expect(
        command(&mut socket, &mut reader, &tx[..n], None).await?,
        221,
    )?;
    let _ = socket.close().await;
    Ok(())
}

#[event(fetch)]
async fn fetch(_req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    // 7. Any error ends the session where it happened (the socket is dropped, nothing more
    // is written); its class picks the status.
    match run(&env).await {
        Ok(()) => Response::ok("sent"),
        Err(e) if e.is_transient() => Response::error("failed", 503),
        Err(_) => Response::error("failed", 502),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader holding `bytes`, as if they had been received.
    fn reader(bytes: &[u8]) -> Reader {
        let mut r = Reader::new();
        r.buf[..bytes.len()].copy_from_slice(bytes);
        r.end = bytes.len();
        r
    }

    /// The code of the first reply in `bytes` and the EHLO capabilities of its lines.
    fn reply(bytes: &[u8]) -> Result<(u16, Caps)> {
        let mut r = reader(bytes);
        let mut caps = Caps::default();
        let mut first = true;
        loop {
            match r.step()? {
                None => return Err(Error::Closed),
                Some(last) => {
                    if !first {
                        caps.add(r.text())?;
                    }
                    first = false;
                    if last {
                        return Ok((r.code, caps));
                    }
                }
            }
        }
    }

    #[test]
    fn replies() {
        assert_eq!(reply(b"220 hi\r\n").unwrap().0, 220);
        assert_eq!(reply(b"250\r\n").unwrap().0, 250);
        assert_eq!(reply(b"250-a\r\n250-b\r\n250 c\r\n").unwrap().0, 250);
        // Incomplete: needs more.
        assert_eq!(reply(b"250-a\r\n250 c"), Err(Error::Closed));
        assert_eq!(reply(b"250 c\r"), Err(Error::Closed));
        for bad in [
            &b"250 a\n"[..],
            b"250 a\rb\r\n",
            b"250-a\r\n251 b\r\n",
            b"25 a\r\n",
            b"2x0 a\r\n",
            b"250xa\r\n",
            b"\r\n",
        ] {
            assert_eq!(reply(bad), Err(Error::Malformed), "{bad:?}");
        }
        // Line length: 512 octets with CRLF, no more.
        let mut long = b"250 ".to_vec();
        long.resize(510, b'x');
        long.extend_from_slice(b"\r\n");
        assert_eq!(reply(&long).unwrap().0, 250);
        long.insert(5, b'x');
        assert_eq!(reply(&long), Err(Error::Malformed));
        assert_eq!(reply(&[b'x'; 600]), Err(Error::Malformed));
    }

    #[test]
    fn line_count() {
        let mut r = Reader::new();
        let mut step = |line: &[u8]| {
            r.buf[..line.len()].copy_from_slice(line);
            (r.start, r.end) = (0, line.len());
            r.step()
        };
        for _ in 0..MAX_LINES - 1 {
            assert_eq!(step(b"250-x\r\n"), Ok(Some(false)));
        }
        assert_eq!(step(b"250-x\r\n"), Ok(Some(false)));
        assert_eq!(step(b"250 x\r\n"), Err(Error::Malformed));
    }

    #[test]
    fn bytes_after_a_line_are_kept() {
        let mut r = reader(b"220 ready\r\n250 ok\r\n");
        assert_eq!(r.step(), Ok(Some(true)));
        assert_eq!((r.code, r.text()), (220, &b"ready"[..]));
        assert!(r.has_pending());
        assert_eq!(r.step(), Ok(Some(true)));
        assert_eq!((r.code, r.text()), (250, &b"ok"[..]));
        assert!(!r.has_pending());
        assert_eq!(r.step(), Ok(None));
    }

    #[test]
    fn capabilities() {
        let (_, caps) = reply(
            b"250-mx.example greets\r\n250-starttls\r\n250-Auth login PLAIN\r\n\
              250-SIZE 35882577\r\n250 8bitmime\r\n",
        )
        .unwrap();
        assert_eq!(
            caps,
            Caps {
                starttls: true,
                plain: true,
                login: true,
                eight_bit: true,
                size: true,
                size_limit: 35882577,
            }
        );
        // The greeting line is not a capability.
        let (_, caps) = reply(b"250-STARTTLS\r\n250 SIZE\r\n").unwrap();
        assert!(!caps.starttls && caps.size && caps.size_limit == 0);
        let (_, caps) = reply(b"250-x\r\n250-AUTH CRAM-MD5 XOAUTH2\r\n250 STARTTLSX\r\n").unwrap();
        assert_eq!(caps, Caps::default());
        assert_eq!(reply(b"250-x\r\n250 SIZE 1k\r\n"), Err(Error::Malformed));
        assert_eq!(
            reply(b"250-x\r\n250 SIZE 18446744073709551616\r\n"),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn addresses_and_domains() {
        let from = |a: &[u8]| check_address(a, Field::From);
        assert_eq!(from(b"a@b.example"), Ok(()));
        let bad = |a: &[u8], r| assert_eq!(from(a), Err(Error::Invalid(Field::From, r)));
        bad(b"", Reason::Empty);
        bad(&[b'a'; 255], Reason::TooLong);
        bad(b"a@b\r\nRCPT TO:<c@d>", Reason::Control);
        bad(b"a@b\x7f", Reason::Control);
        bad(b"a b@c", Reason::Forbidden);
        bad(b"a@b> SIZE=1", Reason::Forbidden);
        bad(b"<a@b", Reason::Forbidden);
        bad(b"ab", Reason::Syntax);
        bad(b"a@b@c", Reason::Syntax);
        bad(b"@b", Reason::Syntax);
        bad(b"a@", Reason::Syntax);
        let mut long = [b'a'; 254];
        long[1] = b'@';
        assert_eq!(from(&long), Ok(()));

        assert_eq!(check_domain(b"mail-1.example.org"), Ok(()));
        assert_eq!(check_domain(&[b'a'; 255]), Ok(()));
        let bad = |d: &[u8], r| assert_eq!(check_domain(d), Err(Error::Invalid(Field::Ehlo, r)));
        bad(b"", Reason::Empty);
        bad(&[b'a'; 256], Reason::TooLong);
        bad(b"a\r\nQUIT", Reason::Control);
        bad(b"a b", Reason::Syntax);
        bad(b"a_b", Reason::Syntax);
        bad(b".a", Reason::Syntax);
        bad(b"a.", Reason::Syntax);
        bad("é".as_bytes(), Reason::Syntax);

        assert_eq!(check_credential(b"u\r\n", Field::User), Ok(()));
        let bad = |v: &[u8], r| {
            assert_eq!(
                check_credential(v, Field::Password),
                Err(Error::Invalid(Field::Password, r))
            )
        };
        bad(b"", Reason::Empty);
        bad(b"a\0b", Reason::Control);
        bad(&[b'a'; MAX_CREDENTIAL + 1], Reason::TooLong);
    }

    fn encode(message: &[u8], out_len: usize) -> Vec<u8> {
        let mut encoder = DataEncoder::new();
        let mut out = Vec::new();
        let mut buf = vec![0u8; out_len];
        let mut rest = message;
        while !rest.is_empty() {
            let (used, n) = encoder.encode(rest, &mut buf);
            assert!(used > 0);
            out.extend_from_slice(&buf[..n]);
            rest = &rest[used..];
        }
        let n = encoder.finish(&mut buf);
        out.extend_from_slice(&buf[..n]);
        out
    }

    #[test]
    fn data() {
        for (message, wire) in [
            (&b""[..], &b".\r\n"[..]),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a\nb", b"a\r\nb\r\n.\r\n"),
            (b"a\rb\r", b"a\r\nb\r\n.\r\n"),
            (b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n"),
            (b"a\n\rb", b"a\r\n\r\nb\r\n.\r\n"),
            (b".a\r\n.\r\nb.\n..", b"..a\r\n..\r\nb.\r\n...\r\n.\r\n"),
            (b"a\r\n.\r\n", b"a\r\n..\r\n.\r\n"),
            (b"x\r.\ry", b"x\r\n..\r\ny\r\n.\r\n"),
        ] {
            for out_len in [5, 6, 7, 512] {
                assert_eq!(encode(message, out_len), wire, "{message:?}");
            }
            // No bare CR or LF on the wire.
            for (i, &b) in wire.iter().enumerate() {
                assert_eq!(b == b'\r', wire.get(i + 1) == Some(&b'\n'));
                assert_eq!(b == b'\n', i > 0 && wire[i - 1] == b'\r');
            }
            // SIZE counts what is sent, less stuffing and the end-of-data line.
            let f = facts(message);
            let unstuffed = wire.len() - 3 - wire.windows(3).filter(|w| w == b"\n..").count();
            let unstuffed = unstuffed - usize::from(wire.starts_with(b".."));
            assert_eq!(f.size as usize, unstuffed, "{message:?}");
        }
    }

    #[test]
    fn message_facts() {
        let f = facts(b"ab\r\ncde\nf\r");
        assert_eq!((f.longest_line, f.size, f.eight_bit), (3, 12, false));
        assert!(facts("é".as_bytes()).eight_bit);
        let mut m = vec![b'x'; MAX_TEXT_LINE];
        assert_eq!(facts(&m).longest_line, MAX_TEXT_LINE);
        m.insert(0, b'x');
        assert_eq!(facts(&m).longest_line, MAX_TEXT_LINE + 1);
    }

    fn base64(input: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; 64];
        let n = Line::new(&mut buf).base64(input).end().unwrap();
        buf[..n - 2].to_vec()
    }

    #[test]
    fn base64_rfc4648() {
        for (input, output) in [
            (&b""[..], &b""[..]),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
            (b"\0user\0pass", b"AHVzZXIAcGFzcw=="),
            (&[0xfb, 0xff, 0xbf], b"+/+/"),
        ] {
            assert_eq!(base64(input), output);
        }
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for x in 0..64u8 {
            assert_eq!(base64_digit(x), alphabet[usize::from(x)]);
        }
        assert!(is_base64(b""));
        assert!(is_base64(b"VXNlcm5hbWU6"));
        assert!(is_base64(b"Zg=="));
        assert!(is_base64(b"Zg== "));
        assert!(!is_base64(b"Zg="));
        assert!(!is_base64(b"Z==="));
        assert!(!is_base64(b"Zm9v YmFy"));
        assert!(!is_base64(b"Zm=v"));
    }

    #[test]
    fn lines() {
        let mut buf = [0u8; 12];
        let n = Line::new(&mut buf).put(b"SIZE=").decimal(0).end().unwrap();
        assert_eq!(&buf[..n], b"SIZE=0\r\n");
        let n = Line::new(&mut buf).decimal(u64::MAX / 10_000_000_000).end();
        assert_eq!(&buf[..n.unwrap()], b"1844674407\r\n");
        assert_eq!(
            Line::new(&mut buf).put(b"0123456789").put(b"x").end(),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn classes() {
        assert!(Error::Io.is_transient() && Error::Closed.is_transient());
        assert!(Error::Reply(421).is_transient() && Error::AuthRejected(454).is_transient());
        assert!(!Error::Reply(550).is_transient() && !Error::TlsInjection.is_transient());
        assert!(!Error::Invalid(Field::To, Reason::Empty).is_transient());
    }

    #[test]
    fn wipe_zeroes() {
        let mut secret = Secret(b"hunter2".to_vec());
        wipe(&mut secret.0);
        assert_eq!(secret.0, [0; 7]);
    }
}
