//! Fuzz target bodies for wasm-smtp-core.
//!
//! Each public function takes arbitrary bytes and panics when an invariant of the core
//! crate is broken. The libFuzzer entry points in `fuzz_targets/` call them, and so does
//! the stable-toolchain smoke runner (`examples/smoke.rs`, see [`smoke`]), so both check
//! exactly the same things.
//!
//! | target | what it checks |
//! | --- | --- |
//! | [`reply_parser`] | `ReplyParser::step` never panics, every line makes progress, and what it returns is consistent with the bytes it consumed |
//! | [`reply_parser_split`] | feeding the input in fragments gives the same lines, errors and leftover as feeding it whole |
//! | [`data_encoder`] | `DataEncoder` output is the same for every chunking and output room, is valid DATA, and un-stuffs to the normalized input |
//! | [`session`] | the sans-I/O `Session` alone, no transport: fuzzer-chosen configuration, operations, buffer and piece sizes and server bytes; no panic, progress, nothing transmitted once closed, no internal error |
//! | [`command_encoding`] | every command and AUTH response with fuzzer-chosen arguments: a validation error, or one line ending in its only CRLF, as long as `encoded_len` says |
//! | [`whole_session`] | the async `SmtpClient` (connect, login, send, quit) over a transport serving fuzzer bytes in fuzzer-chosen reads: no panic, progress, no I/O after a failure, nothing written once closed, `Ok` only after the end of data, no secret in plaintext |

#![forbid(unsafe_code)]

mod command_encoding;
pub mod smoke;
mod whole_session;

pub use command_encoding::command_encoding;
pub use whole_session::whole_session;

use wasm_smtp_core::data::{DataEncoder, FINISH_MAX};
use wasm_smtp_core::error::MalformedReply;
use wasm_smtp_core::reply::{parse_line, ReplyLine, ReplyParser, ReplyText, Step};
use wasm_smtp_core::SmtpError;

/// A target: its name (of `fuzz_targets/<name>.rs` and `corpus/<name>/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("reply_parser", reply_parser),
    ("reply_parser_split", reply_parser_split),
    ("data_encoder", data_encoder),
    ("session", session),
    ("command_encoding", command_encoding),
    ("whole_session", whole_session),
];

/// Line limit used by the reply targets: the RFC minimum, so that over-long lines are
/// reachable with the fuzzer's default input size (4096 bytes).
const MAX_LINE: usize = 512;

/// Check one line returned by `step` against the bytes it consumed.
fn check_line(input: &[u8], consumed: usize, line: &ReplyLine<'_>, complete: bool) {
    assert!(consumed > 0, "a Line must consume bytes");
    assert!(
        consumed <= input.len(),
        "consumed {consumed} > {}",
        input.len()
    );
    assert!(
        consumed <= MAX_LINE,
        "line of {consumed} bytes passed a {MAX_LINE} limit"
    );
    let raw = &input[..consumed];
    assert!(raw.ends_with(b"\r\n"), "line does not end in CRLF: {raw:?}");
    let body = &raw[..consumed - 2];
    assert!(
        !body.iter().any(|&b| b == b'\r' || b == b'\n'),
        "CR or LF inside an accepted line: {raw:?}"
    );
    assert!(body.len() >= 3 && body[..3].iter().all(u8::is_ascii_digit));
    let code = line.code.get();
    assert!((200..=599).contains(&code));
    assert_eq!(&body[..3], code.to_string().as_bytes());
    assert_eq!(line.last, body.get(3) != Some(&b'-'));
    assert_eq!(complete, line.last);
    assert!(
        body.ends_with(line.text),
        "text is not the tail of the line"
    );
    if let Some(e) = line.enhanced {
        assert_eq!(e.class, line.code.class());
        assert!(e.subject <= 999 && e.detail <= 999);
    }
    // The same line parsed on its own gives the same result.
    assert_eq!(parse_line(body).ok(), Some(*line));
    let text = ReplyText::new(line.text);
    assert!(text.as_str().len() <= line.text.len().min(80));
    assert!(text.as_str().bytes().all(|b| (0x20..0x7f).contains(&b)));
}

/// Arbitrary bytes through [`ReplyParser::step`] until it needs more bytes or fails.
pub fn reply_parser(data: &[u8]) {
    // `parse_line` on its own takes any bytes (it is given lines without CRLF).
    if let Ok(line) = parse_line(data) {
        assert!(data.ends_with(line.text));
    }
    let mut parser = ReplyParser::new(MAX_LINE, 16);
    let mut pos = 0;
    loop {
        match parser.step(&data[pos..]) {
            Ok(Step::NeedMore) => {
                // Only a line without its CRLF yet may remain, and it is short enough.
                let rest = &data[pos..];
                assert!(rest.len() < MAX_LINE, "NeedMore with {} bytes", rest.len());
                assert!(!rest.contains(&b'\n'), "NeedMore with a LF in the buffer");
                assert!(
                    !rest[..rest.len().saturating_sub(1)].contains(&b'\r'),
                    "NeedMore with a CR before the last byte"
                );
                break;
            }
            Ok(Step::Line {
                consumed,
                line,
                complete,
            }) => {
                check_line(&data[pos..], consumed, &line, complete);
                assert_eq!(parser.in_reply(), !complete);
                pos += consumed;
            }
            Err(_) => break,
        }
    }
}

/// What the parser produced, owned, for comparing two runs.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Line {
        code: u16,
        last: bool,
        complete: bool,
        enhanced: Option<(u8, u16, u16)>,
        text: Vec<u8>,
        consumed: usize,
    },
    Error(MalformedReply),
    /// All input fed; this many bytes were left unconsumed.
    End(usize),
}

/// Run the parser over `input` fed in fragments of the given sizes (the rest in one
/// last fragment). Fragments of size 0 are fed too (a read that returned nothing).
fn run_fragments(input: &[u8], sizes: &[usize], max_lines: usize) -> Vec<Outcome> {
    let mut parser = ReplyParser::new(MAX_LINE, max_lines);
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut next = 0;
    loop {
        match parser.step(&buf) {
            Ok(Step::NeedMore) => {
                if fed == input.len() && next >= sizes.len() {
                    out.push(Outcome::End(buf.len()));
                    return out;
                }
                let n = match sizes.get(next) {
                    Some(&n) => n.min(input.len() - fed),
                    None => input.len() - fed,
                };
                next += 1;
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
            }
            Ok(Step::Line {
                consumed,
                line,
                complete,
            }) => {
                check_line(&buf, consumed, &line, complete);
                out.push(Outcome::Line {
                    code: line.code.get(),
                    last: line.last,
                    complete,
                    enhanced: line.enhanced.map(|e| (e.class, e.subject, e.detail)),
                    text: line.text.to_vec(),
                    consumed,
                });
                buf.drain(..consumed);
            }
            Err(e) => {
                out.push(Outcome::Error(e));
                return out;
            }
        }
    }
}

/// Split the fuzzer's bytes into a small configuration header and the payload: the first
/// byte's low 3 bits say how many of the following bytes are fragment sizes.
fn split_header(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&k, rest) = data.split_first()?;
    let n = usize::from(k & 7).min(rest.len());
    Some((k, &rest[..n], &rest[n..]))
}

/// The same input fed whole and in fragments chosen by the fuzzer must give the same
/// sequence of lines, the same error (if any) and the same leftover bytes.
///
/// Input layout: byte 0 = `k` (bits 0-2: number of fragment-size bytes; bits 3-7: the
/// line-count limit minus one), then that many fragment sizes (one byte each, 0-255),
/// then the server bytes.
pub fn reply_parser_split(data: &[u8]) {
    let Some((k, sizes, input)) = split_header(data) else {
        return;
    };
    let max_lines = usize::from(k >> 3) + 1;
    let whole = run_fragments(input, &[], max_lines);
    let sizes: Vec<usize> = sizes.iter().map(|&s| usize::from(s)).collect();
    let split = run_fragments(input, &sizes, max_lines);
    assert_eq!(split, whole, "fragments {sizes:?} changed the result");
    // Byte by byte too: the hardest split.
    if input.len() <= 1024 {
        let ones = vec![1; input.len()];
        assert_eq!(
            run_fragments(input, &ones, max_lines),
            whole,
            "byte by byte"
        );
    }
}

/// Encode `chunks` in order through an output buffer of `room` bytes, then finish;
/// `tight_finish` first tries `finish` with too little room.
fn encode_chunks(
    enc: &mut DataEncoder,
    chunks: &[&[u8]],
    room: usize,
    tight_finish: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0xa5u8; room];
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let (used, n) = enc.encode(rest, &mut buf);
            assert!(used <= rest.len() && n <= room);
            assert!(
                n <= 2 * used + 2,
                "more than two output bytes per input byte"
            );
            assert!(used > 0 || n > 0, "no progress with {room} bytes of room");
            out.extend_from_slice(&buf[..n]);
            rest = &rest[used..];
        }
    }
    if tight_finish {
        let mut small = [0x5au8; 2];
        assert_eq!(enc.finish(&mut small), None, "finish fitted in 2 bytes");
        assert_eq!(small, [0x5a; 2], "a failed finish wrote bytes");
    }
    let mut tail = [0u8; FINISH_MAX];
    let n = enc
        .finish(&mut tail)
        .unwrap_or_else(|| panic!("finish needs more than FINISH_MAX"));
    out.extend_from_slice(&tail[..n]);
    out
}

/// The reference: every CRLF, bare CR and bare LF becomes CRLF, and a final CRLF is added
/// when the input does not end with a line ending (nothing for an empty input).
fn normalize(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 2);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Check that `out` is valid DATA content and undo the transparency procedure.
fn unstuff(out: &[u8]) -> Vec<u8> {
    // No bare CR, no bare LF.
    for (i, &b) in out.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(out.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r', "bare LF at {i}");
        }
    }
    // Exactly one terminator, at the very end.
    assert!(out.ends_with(b".\r\n"), "no terminator");
    let body = &out[..out.len() - 3];
    assert!(
        body.is_empty() || body.ends_with(b"\r\n"),
        "terminator not on its own line"
    );
    assert!(
        !out.starts_with(b".\r\n") || out.len() == 3,
        "terminator at the start"
    );
    let early = out.windows(5).position(|w| w == b"\r\n.\r\n");
    assert!(
        early.is_none() || early == Some(out.len() - 5),
        "early terminator at {early:?}"
    );
    // Undo dot-stuffing line by line.
    let mut plain = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("unterminated line"));
        let line = &rest[..end];
        if line.first() == Some(&b'.') {
            assert_eq!(line.get(1), Some(&b'.'), "unstuffed leading dot: {line:?}");
            plain.extend_from_slice(&line[1..]);
        } else {
            plain.extend_from_slice(line);
        }
        plain.extend_from_slice(b"\r\n");
        rest = &rest[end + 2..];
    }
    plain
}

/// The DATA encoder: same output for every chunking and output room; the output is valid
/// DATA (CRLF only, no early `CRLF . CRLF`, one terminator) and un-stuffs to the input with
/// its line endings normalized to CRLF.
///
/// Input layout: byte 0 = `k` (bits 0-2: number of chunk-size bytes; bits 3-5: output
/// room index into `[2, 3, 4, 5, 7, 16, 64, 512]`; bit 6: try `finish` with too little room
/// first), then the chunk sizes, then the message body.
pub fn data_encoder(data: &[u8]) {
    let Some((k, sizes, input)) = split_header(data) else {
        return;
    };
    const ROOMS: [usize; 8] = [2, 3, 4, 5, 7, 16, 64, 512];
    let room = ROOMS[usize::from((k >> 3) & 7)];
    let tight_finish = k & 0x40 != 0;

    // Less than two bytes of room: no progress, no state change.
    let mut enc = DataEncoder::new();
    assert_eq!(enc.encode(input, &mut [0u8; 1]), (0, 0));
    assert_eq!(enc.encode(input, &mut []), (0, 0));

    let whole = encode_chunks(&mut enc, &[input], 4096, false);

    // Fuzzer-chosen chunks, then the rest.
    let mut chunks = Vec::new();
    let mut rest = input;
    for &s in sizes {
        let n = usize::from(s).min(rest.len());
        chunks.push(&rest[..n]);
        rest = &rest[n..];
    }
    chunks.push(rest);
    // `finish` reset the encoder: reuse it for a second message.
    let split = encode_chunks(&mut enc, &chunks, room, tight_finish);
    assert_eq!(
        split, whole,
        "chunks {sizes:?} with room {room} changed the output"
    );
    if input.len() <= 512 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            encode_chunks(&mut DataEncoder::new(), &bytes, 2, false),
            whole,
            "byte by byte"
        );
    }

    assert_eq!(
        unstuff(&whole),
        normalize(input),
        "un-stuffed output differs from input"
    );
}

/// A message for [`session`]: lines, a dot at a line start, a bare LF and 8-bit bytes
/// (8BITMIME is offered or the transaction is refused before it starts).
const MESSAGE: &[u8] = b"Subject: fuzz\r\n\r\n.dot\nline\r\nlast";

/// Transmit buffer sizes, picked by bits 0-1 of byte 1.
const TX_SIZES: [usize; 4] = [64, 100, 512, 4096];

/// The sans-I/O session alone, with no transport: the fuzzer picks the configuration,
/// the operations (connect first, then login, sends given whole or streamed, NOOP, RSET,
/// QUIT), the transmit buffer size, the size of each piece of server bytes and the bytes
/// themselves. Invariants: no panic; every call makes progress (a bounded number of
/// steps per input byte); nothing is transmitted once the session is closed; a received
/// reply consumes bytes and never more than given; the receive buffer never overflows
/// (a reply line that does not fit fails); no exchange ends in `SmtpError::Internal`; a
/// streamed message's end-of-data line is never transmitted after a failure.
///
/// Input layout: byte 0 = bits 0-1 TLS policy (Required, Implicit, Opportunistic,
/// Disabled), bit 2 implicit TLS, bit 3 `allow_plaintext_auth`, bit 4 PIPELINING off,
/// bit 5 CHUNKING off, bits 6-7 server piece size (1, 7, 64, all); byte 1 = bits 0-1 the
/// transmit buffer size, bits 2-4 the number of operations after connect, bit 5 the
/// handshake leaves the connection unencrypted; then one byte per operation (modulo 7:
/// PLAIN login, LOGIN login, send, streamed send, NOOP, RSET, QUIT); then the server
/// bytes.
pub fn session(data: &[u8]) {
    session_log(data);
}

/// [`session`], returning what each operation came to (for the seed tests).
fn session_log(data: &[u8]) -> Vec<String> {
    use wasm_smtp_core::{Body, Config, Mechanism, SendOptions, Session, TlsPolicy, Want};
    let mut log = Vec::new();
    let [b0, b1, rest @ ..] = data else {
        return log;
    };
    let ops = usize::from((b1 >> 2) & 7);
    let Some((ops, mut server)) = rest.split_at_checked(ops) else {
        return log;
    };
    let policy = [
        TlsPolicy::Required,
        TlsPolicy::Implicit,
        TlsPolicy::Opportunistic,
        TlsPolicy::Disabled,
    ][usize::from(b0 & 3)];
    let config = Config::new()
        .tls(policy)
        .allow_plaintext_auth(b0 & 8 != 0)
        .pipelining(b0 & 16 == 0);
    // CHUNKING is a default feature of the engine (off in the --no-default-features run).
    #[cfg(feature = "engine-defaults")]
    let config = config.chunking(b0 & 32 == 0);
    let piece = [1, 7, 64, usize::MAX][usize::from(b0 >> 6)];
    let tx_size = TX_SIZES[usize::from(b1 & 3)];
    let upgrade_encrypts = b1 & 32 == 0;
    let mut s = Session::new(config, MAX_LINE, tx_size, b0 & 4 != 0);
    let mut rx = vec![0u8; MAX_LINE];
    let mut rx_len = 0;
    let mut tx = vec![0xa5u8; tx_size];
    let to: &[&str] = &["bob@example.org", "carol@example.org"];
    // Steps allowed: generous per server byte and per message byte, so that a session
    // that stops making progress fails here instead of spinning.
    let mut budget = 64 * (data.len() + 16 * MESSAGE.len() + 64);
    let mut step = || {
        budget = budget.checked_sub(1).expect("no progress");
    };
    for (i, op) in core::iter::once(None)
        .chain(ops.iter().map(Some))
        .enumerate()
    {
        let started = match op.map(|o| o % 7) {
            None => s.connect("client.example.com"),
            Some(0) => {
                s.login(wasm_smtp_core::Login::new("alice", "hunter2").mechanism(Mechanism::Plain))
            }
            Some(1) => {
                s.login(wasm_smtp_core::Login::new("alice", "hunter2").mechanism(Mechanism::Login))
            }
            Some(2) => s.send(
                "alice@example.com",
                to,
                Body::Bytes(MESSAGE),
                SendOptions::new(),
            ),
            Some(3) => s.send(
                "alice@example.com",
                to,
                Body::Stream,
                SendOptions::new().eight_bit_mime(true),
            ),
            Some(4) => s.noop(),
            Some(5) => s.rset(),
            _ => Ok(s.quit()),
        };
        let started = started.map_err(|e| {
            assert!(e != SmtpError::Internal);
            log.push(format!("refused: {e:?}"));
        });
        let Ok(mut ex) = started else {
            if i == 0 {
                return log;
            }
            continue;
        };
        let mut body = MESSAGE.chunks(5).chain(core::iter::once(&[][..]));
        loop {
            step();
            let closed = ex.session().is_closed();
            match ex.want() {
                Want::Done => break,
                Want::Transmit => {
                    let n = ex.transmit(&mut tx);
                    assert!(n <= tx_size);
                    assert!(
                        !closed || n == 0,
                        "{n} bytes transmitted on a closed session"
                    );
                }
                Want::Receive => {
                    let take = piece.min(server.len()).min(rx.len() - rx_len);
                    if take == 0 {
                        // The server is gone (or the buffer is full without a line end,
                        // which the session must have refused).
                        assert!(rx_len < rx.len(), "receive buffer full without an error");
                        ex.failed(SmtpError::ConnectionClosed);
                        continue;
                    }
                    rx[rx_len..rx_len + take].copy_from_slice(&server[..take]);
                    server = &server[take..];
                    rx_len += take;
                    let r = ex.receive(&mut rx[..rx_len]);
                    assert!(r.consumed <= rx_len);
                    assert!(!r.replied || r.consumed > 0);
                    rx.copy_within(r.consumed..rx_len, 0);
                    rx_len -= r.consumed;
                }
                Want::Upgrade => {
                    assert_eq!(rx_len, 0, "bytes kept across the TLS upgrade");
                    ex.tls_established(upgrade_encrypts);
                }
                Want::Body => {
                    assert_eq!(rx_len, 0, "the body asked for with a reply in the buffer");
                    let chunk = body.next().unwrap_or_default();
                    let mut pos = 0;
                    loop {
                        step();
                        let (used, n) = ex.body(&chunk[pos..], &mut tx);
                        assert!(used <= chunk.len() - pos && n <= tx_size);
                        assert!(!closed || n == 0, "body bytes on a closed session");
                        pos += used;
                        if ex.want() != Want::Body || (!chunk.is_empty() && pos == chunk.len()) {
                            break;
                        }
                        assert!(used > 0 || n > 0, "no progress in the body");
                    }
                }
                Want::Close => ex.closed(Ok(())),
            }
        }
        let closed = ex.session().is_closed();
        match ex.finish() {
            Ok(outcome) => log.push(format!("ok: {outcome:?}")),
            Err(e) => {
                assert!(e != SmtpError::Internal, "internal error");
                log.push(format!("error: {e:?}"));
            }
        }
        if i == 0 && closed {
            return log;
        }
    }
    log
}

#[cfg(test)]
mod session_seeds {
    #![cfg_attr(not(feature = "engine-defaults"), allow(unused_imports))]
    use super::*;
    use crate::smoke::check_seeds;

    /// The seeds of the `session` target reach what their names say. (With the engine's
    /// default features: the seeds script CHUNKING replies.)
    #[test]
    #[cfg(feature = "engine-defaults")]
    fn seeds_reach_their_outcomes() {
        let seen = check_seeds("session", session_log, |name| {
            Some(match name {
                "implicit-login-send-quit" => {
                    "ok: Done; ok: Done; ok: Sent(SendOutcome { reply: Reply { code: ReplyCode(250)"
                }
                "starttls-login-stream" => "ok: Done; ok: Done; ok: Sent(",
                "refused-rcpt-rset" => {
                    "ok: Done; error: RecipientsRejected { rejected: 2, total: 2"
                }
                "greeting-421" => {
                    "error: Rejected(Rejection { stage: Greeting, code: ReplyCode(421)"
                }
                "starttls-injection" => "error: Protocol(DataAfterStartTls)",
                _ => return None,
            })
        });
        assert_eq!(seen, 5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_reference() {
        assert_eq!(normalize(b""), b"");
        assert_eq!(normalize(b"a"), b"a\r\n");
        assert_eq!(normalize(b"a\r"), b"a\r\n");
        assert_eq!(normalize(b"\r\r\n\n"), b"\r\n\r\n\r\n");
    }

    #[test]
    fn seeds_and_random_inputs_pass() {
        // The same run as `cargo run --example smoke`, small and fixed.
        for &(name, f) in TARGETS {
            let report = smoke::run_target(name, f, &smoke::Budget::Iterations(3000), 1)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(report.execs >= 3000, "{name}: {report:?}");
        }
    }
}
