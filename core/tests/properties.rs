//! Property tests (proptest) for the pure layers: the reply parser and the session's
//! reply folding, the DATA encoder and command encoding.
//!
//! The fuzz targets in `fuzz/` check the same invariants coverage-guided; these run in
//! `cargo test` with proptest's default 256 cases per property.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use wasm_smtp_core::capabilities::Capabilities;
use wasm_smtp_core::command::{Command, MailParams, RcptParams};
use wasm_smtp_core::data::{DataEncoder, FINISH_MAX};
use wasm_smtp_core::reply::{parse_line, ReplyParser, Step};
use wasm_smtp_core::{Config, Exchange, Outcome, Session, TlsPolicy, Want};
use wasm_smtp_core::{Mechanism, SmtpClient, SmtpError};
use wasm_smtp_mock::block_on;

// ----- strategies ------------------------------------------------------------------------

/// Reply text: any byte but CR and LF, biased towards printable ASCII.
fn reply_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => 0x20u8..0x7f,
            1 => any::<u8>().prop_filter("no CR, LF", |b| !matches!(b, b'\r' | b'\n')),
        ],
        0..40,
    )
}

/// An optional enhanced status code prefix for the text, `class.subject.detail `.
fn enhanced(class: u8) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        (0u16..1000, 0u16..1000).prop_map(move |(s, d)| format!("{class}.{s}.{d} ").into_bytes()),
    ]
}

/// Cut points: sizes of successive fragments (the rest goes in a last fragment).
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..40, 0..12)
}

/// Build a reply of `code` from line texts: `code-text` CRLF ... `code text` CRLF.
fn reply_bytes(code: u16, first_prefix: &[u8], texts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        out.extend_from_slice(code.to_string().as_bytes());
        out.push(if i + 1 == texts.len() { b' ' } else { b'-' });
        if i == 0 {
            out.extend_from_slice(first_prefix);
        }
        out.extend_from_slice(t);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Split `input` into fragments of the given sizes, then the rest.
fn fragments<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    for &s in sizes {
        let n = s.min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out.push(rest);
    out
}

/// What a session made of a reply: what the exchange wants next, its result if it is
/// over, the rejection text, the capabilities, and the bytes left over.
type Folded = (
    Want,
    Option<Result<Outcome, SmtpError>>,
    String,
    Capabilities,
    Vec<u8>,
);

/// Feed `frags` to `ex` the way the client does (append, receive, drop what was
/// consumed) until one reply completes.
fn receive_in_fragments(mut ex: Exchange<'_, '_>, frags: &[&[u8]]) -> Folded {
    let mut buf: Vec<u8> = Vec::new();
    let mut next = frags.iter();
    loop {
        let r = ex.receive(&mut buf);
        buf.drain(..r.consumed);
        if r.replied || ex.want() != Want::Receive {
            let want = ex.want();
            let caps = *ex.session().capabilities();
            let text = ex.session().rejection_text().to_owned();
            let result = (want == Want::Done).then(|| ex.finish());
            return (want, result, text, caps, buf);
        }
        match next.next() {
            Some(f) => buf.extend_from_slice(f),
            None => panic!("reply never completed; left {buf:?}"),
        }
    }
}

/// A session on an implicit-TLS connection, new (`greeted` false) or past the greeting
/// with EHLO sent.
fn session() -> Session {
    Session::new(Config::new(), 512, 512, true)
}

fn connected_to_ehlo(s: &mut Session) -> Exchange<'_, 'static> {
    let mut ex = s.connect("client.example.com").unwrap();
    let mut greeting = b"220 mx.example.org ESMTP\r\n".to_vec();
    assert!(ex.receive(&mut greeting).replied);
    let mut out = [0u8; 64];
    let n = ex.transmit(&mut out);
    assert_eq!(&out[..n], b"EHLO client.example.com\r\n");
    ex
}

/// EHLO keyword lines: known keywords in odd cases, with parameters, and noise.
fn ehlo_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "STARTTLS",
            "starttls",
            "PIPELINING",
            "8BITMIME",
            "SMTPUTF8",
            "CHUNKING",
            "DSN",
            "ENHANCEDSTATUSCODES",
            "AUTH PLAIN LOGIN",
            "auth login xoauth2",
            "AUTH=PLAIN",
            "SIZE",
            "SIZE 35882577",
            "SIZE 0",
            "BINARYMIME",
            "X-UNKNOWN stuff",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        reply_text(),
    ]
}

/// The reference line-ending normalization of the DATA encoder: CRLF, bare CR and bare
/// LF each become CRLF; a final CRLF is added when a non-empty input does not end with a
/// line ending.
fn normalize(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
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

/// Encode `chunks` through an output buffer of `room` bytes, then finish.
fn encode_chunks(chunks: &[&[u8]], room: usize) -> Vec<u8> {
    let mut enc = DataEncoder::new();
    let mut out = Vec::new();
    let mut buf = vec![0xa5u8; room];
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let (used, n) = enc.encode(rest, &mut buf);
            assert!(used > 0 || n > 0, "no progress with {room} bytes of room");
            out.extend_from_slice(&buf[..n]);
            rest = &rest[used..];
        }
    }
    let mut tail = [0xa5u8; FINISH_MAX];
    let n = enc.finish(&mut tail).unwrap();
    out.extend_from_slice(&tail[..n]);
    out
}

/// Message bytes rich in line endings and dots.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            3 => Just(b'.'),
            2 => Just(b'a'),
            1 => any::<u8>(),
        ],
        0..300,
    )
}

/// Strings with the characters that matter to command lines: controls, brackets,
/// separators, non-ASCII (C1 controls and U+2028 included), and plain text.
fn arg_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            2 => prop::sample::select(vec!['@', '.', '<', '>', ' ', '"', '\\', '[', ']', '-']),
            2 => prop::sample::select(vec!['\r', '\n', '\0', '\t', '\u{7f}', '\u{85}', '\u{2028}']),
            1 => any::<char>(),
        ],
        0..60,
    )
    .prop_map(|v| v.into_iter().collect())
}

// ----- properties ------------------------------------------------------------------------

proptest! {
    /// CWE-117: no byte of a reply's text reaches the caller raw. Whatever a refusal
    /// says (NUL, ESC, DEL, 8-bit bytes ...), the error's `Display` and `Debug` and the
    /// client's `rejection_text` are printable ASCII, and the session stays usable.
    #[test]
    fn reply_text_never_reaches_the_caller_raw(text in reply_text(), code in 500u16..555) {
        let mut reply = format!("{code} ").into_bytes();
        reply.extend_from_slice(&text);
        reply.extend_from_slice(b"\r\n");
        let (t, h) = wasm_smtp_mock::Script::new()
            .implicit_tls()
            .greeting()
            .ehlo("client.example.com", &[])
            .write(b"NOOP\r\n")
            .read(&reply)
            .build();
        let mut c = block_on(SmtpClient::connect(t, "client.example.com")).unwrap();
        let e = block_on(c.noop()).unwrap_err();
        let shown = format!("{e} {e:?} {}", c.rejection_text());
        prop_assert!(shown.bytes().all(|b| (0x20..0x7f).contains(&b)), "{:?}", shown);
        prop_assert!(!c.is_closed());
        h.assert_done();
    }

    /// A multi-line greeting fed in any fragments folds into the same reply as fed whole,
    /// and consumes exactly its bytes.
    #[test]
    fn reply_folding_ignores_fragmentation(
        code in prop_oneof![Just(220u16), Just(421u16), 400u16..600],
        texts in prop::collection::vec(reply_text(), 1..8),
        prefix in prop_oneof![enhanced(2), enhanced(4), enhanced(5)],
        sizes in cuts(),
    ) {
        let bytes = reply_bytes(code, &prefix, &texts);
        let run = |frags: &[&[u8]]| {
            let mut s = session();
            receive_in_fragments(s.connect("client.example.com").unwrap(), frags)
        };
        let whole = run(&[&bytes]);
        prop_assert_eq!(&run(&fragments(&bytes, &sizes)), &whole);
        let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&run(&byte_by_byte), &whole);
        let (want, result, text, _, rest) = whole;
        prop_assert!(rest.is_empty());
        if code == 220 {
            prop_assert_eq!(want, Want::Transmit);
        } else {
            // A negative greeting: reported with its code; the text kept for the caller
            // is a bounded, printable copy of the first line's text.
            let e = result.unwrap().unwrap_err();
            prop_assert_eq!(e.reply_code().map(|c| c.get()), Some(code));
            prop_assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }

    /// A multi-line EHLO reply fed in any fragments gives the same reply and the same
    /// capabilities as fed whole.
    #[test]
    fn ehlo_folding_ignores_fragmentation(
        lines in prop::collection::vec(ehlo_line(), 1..10),
        sizes in cuts(),
    ) {
        let mut texts = vec![b"mx.example.org".to_vec()];
        texts.extend(lines);
        let bytes = reply_bytes(250, b"", &texts);
        let run = |frags: &[&[u8]]| {
            let mut s = session();
            receive_in_fragments(connected_to_ehlo(&mut s), frags)
        };
        let whole = run(&[&bytes]);
        prop_assert_eq!(&run(&fragments(&bytes, &sizes)), &whole);
        let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&run(&byte_by_byte), &whole);
    }

    /// Arbitrary bytes: the parser never panics, every line makes progress, and failures
    /// are typed (`MalformedReply`); `parse_line` takes anything.
    #[test]
    fn reply_parser_takes_any_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_line(&data);
        let mut p = ReplyParser::new(512, 16);
        let mut pos = 0;
        loop {
            match p.step(&data[pos..]) {
                Ok(Step::NeedMore) | Err(_) => break,
                Ok(Step::Line { consumed, .. }) => {
                    prop_assert!(consumed >= 2 && consumed <= data.len() - pos);
                    pos += consumed;
                }
            }
        }
    }

    /// Reply-shaped noise into a session (connect, then NOOP after NOOP while it lasts):
    /// every error about the server's bytes is typed, a malformed or out-of-place reply
    /// closes the session, and bytes are consumed or more are asked for.
    #[test]
    fn session_takes_any_reply_shaped_bytes(
        pieces in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "220", "250", "334", "354", "421", "550", "199", "600", " ", "-", "\r\n",
                    "\r", "\n", "\0", "2.0.0 ", "5.1.1 ", "STARTTLS", "AUTH PLAIN", "SIZE 9",
                ]).prop_map(|s| s.as_bytes().to_vec()),
                reply_text(),
            ],
            0..30,
        ),
        encrypted in any::<bool>(),
    ) {
        let mut data = pieces.concat();
        let mut s = Session::new(Config::new().tls(TlsPolicy::Disabled), 512, 512, encrypted);
        let mut out = [0u8; 512];
        let mut pos = 0;
        let mut ex = s.connect("client.example.com").unwrap();
        loop {
            match ex.want() {
                Want::Transmit => {
                    ex.transmit(&mut out);
                }
                Want::Receive => {
                    let r = ex.receive(&mut data[pos..]);
                    prop_assert!(r.consumed <= data.len() - pos);
                    pos += r.consumed;
                    if !r.replied && ex.want() == Want::Receive {
                        break; // more bytes needed
                    }
                }
                Want::Done => {
                    if let Err(e) = ex.finish() {
                        prop_assert!(
                            matches!(e, SmtpError::MalformedReply(_) | SmtpError::Protocol(_)
                                | SmtpError::Rejected(_)),
                            "untyped server fault: {:?}", e
                        );
                        if !matches!(e, SmtpError::Rejected(_)) {
                            prop_assert!(s.is_closed());
                        }
                    }
                    match s.noop() {
                        Ok(next) => ex = next,
                        Err(_) => break,
                    }
                }
                other => prop_assert!(false, "{:?} without STARTTLS or a body", other),
            }
        }
    }

    /// The DATA encoder: the same output for every chunking and output room; no bare CR
    /// or LF; `CRLF . CRLF` only at the very end; un-stuffing gives the normalized input.
    #[test]
    fn data_encoder_output(
        input in message(),
        sizes in prop::collection::vec(0usize..50, 0..10),
        room in prop_oneof![Just(2usize), Just(3), Just(5), 2usize..600],
    ) {
        let whole = encode_chunks(&[&input], 4096);
        prop_assert_eq!(&encode_chunks(&fragments(&input, &sizes), room), &whole);
        let ones: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(&encode_chunks(&ones, 2), &whole);

        for (i, &b) in whole.iter().enumerate() {
            if b == b'\r' {
                prop_assert_eq!(whole.get(i + 1), Some(&b'\n'), "bare CR at {}", i);
            }
            if b == b'\n' {
                prop_assert!(i > 0 && whole[i - 1] == b'\r', "bare LF at {}", i);
            }
        }
        prop_assert!(whole.ends_with(b".\r\n"));
        let early = whole.windows(5).position(|w| w == b"\r\n.\r\n");
        prop_assert!(early.is_none() || early == Some(whole.len() - 5), "early end of data at {:?}", early);

        // Un-stuff: drop the final ".\r\n", then the leading dot of each line.
        let body = &whole[..whole.len() - 3];
        let mut plain = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            let line = match line.strip_prefix(b".") {
                Some(rest) => {
                    prop_assert!(rest.starts_with(b"."), "unstuffed leading dot");
                    rest
                }
                None => line,
            };
            plain.extend_from_slice(line);
        }
        prop_assert_eq!(plain, normalize(&input));
    }

    /// The one-pass scan of a whole message agrees with plain reference computations:
    /// the longest piece between line-ending bytes, the length of what the chunked
    /// encoder produces (the RFC 1870 size), any byte over 0x7f.
    #[test]
    fn body_facts_agree(input in message()) {
        use wasm_smtp_core::data::{body_facts, longest_line, message_size};
        let facts = body_facts(&input);
        let longest = input
            .split(|&b| b == b'\n' || b == b'\r')
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0);
        prop_assert_eq!(facts.longest_line, longest);
        prop_assert_eq!(longest_line(&input), longest);
        prop_assert_eq!(facts.has_8bit, !input.is_ascii());
        let mut enc = DataEncoder::chunked();
        let mut out = vec![0u8; input.len() * 2 + FINISH_MAX];
        let (used, mut n) = enc.encode(&input, &mut out);
        prop_assert_eq!(used, input.len());
        n += enc.finish(&mut out[n..]).unwrap_or(0);
        prop_assert_eq!(facts.size, n as u64);
        prop_assert_eq!(message_size(&input), n as u64);
    }

    /// Commands with arbitrary arguments: a validation error, or one line whose only CR
    /// and LF are the final CRLF, with no NUL, of the length `encoded_len` says.
    #[test]
    fn command_encoding_is_one_line(
        arg in arg_string(),
        which in 0u8..6,
        smtputf8 in any::<bool>(),
    ) {
        #[allow(clippy::field_reassign_with_default)] // MailParams is non_exhaustive
        let params = {
            let mut p = MailParams::default();
            p.smtputf8 = smtputf8;
            p
        };
        let cmd = match which {
            0 => Command::Ehlo(&arg),
            1 => Command::Helo(&arg),
            2 => Command::Mail { from: &arg, params },
            3 => Command::Rcpt { to: &arg, params: RcptParams::default() },
            4 => Command::Auth(Mechanism::Plain),
            _ => Command::Quit,
        };
        let mut buf = [0xa5u8; 1024];
        match cmd.encode(&mut buf) {
            Ok(n) => {
                let line = &buf[..n];
                prop_assert_eq!(n, cmd.encoded_len());
                prop_assert!(line.ends_with(b"\r\n"));
                let body = &line[..n - 2];
                prop_assert!(!body.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0), "{:?}", line);
                prop_assert!(buf[n..].iter().all(|&b| b == 0xa5), "wrote past the line");
            }
            Err(e) => {
                prop_assert!(matches!(e, SmtpError::InvalidInput { .. }), "{:?}", e);
                prop_assert!(arg.bytes().any(|b| b < 0x20 || b == 0x7f));
            }
        }
    }
}
