//! DATA (RFC 5321 sections 4.1.1.4 and 4.5.2): every end-of-data shape from the SMTP
//! smuggling research (SEC Consult, December 2023; CVE-2023-51764 Postfix,
//! CVE-2023-51765 Sendmail, CVE-2023-51766 Exim), body edge cases, long lines, and a
//! body source that fails.
//!
//! Each case asserts the exact bytes written after the 354 reply, and that they contain
//! no bare CR or LF (RFC 5321 section 2.3.8) and no `CRLF.CRLF` before the end.
//!
//! Related tests elsewhere: `sessions.rs` `empty_body_and_null_sender`,
//! `bytes_body_with_8bit_content_passes_unchanged`, `streaming_body_from_a_reader`; the
//! encoder's chunking properties in `properties.rs`.

use crate::common::*;

/// Bytes written after `DATA\r\n` in a transcript.
fn body_part(written: &[u8]) -> &[u8] {
    let at = written
        .windows(6)
        .position(|w| w == b"DATA\r\n")
        .expect("DATA was written");
    &written[at + 6..]
}

/// No bare CR or LF, and the only `CRLF . CRLF` (or the leading `. CRLF` of an empty
/// body) is the terminator at the very end.
fn assert_wire_invariants(wire: &[u8]) {
    for (i, &b) in wire.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
            b'\n' => assert!(i > 0 && wire[i - 1] == b'\r', "bare LF at {i}"),
            _ => {}
        }
    }
    let mut framed = b"\r\n".to_vec();
    framed.extend_from_slice(wire);
    let ends: Vec<usize> = framed
        .windows(5)
        .enumerate()
        .filter(|(_, w)| *w == b"\r\n.\r\n")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(ends, [framed.len() - 5], "end-of-data only at the end");
}

/// `body` (sent with `send_mail_bytes`) reaches the server as exactly `wire` after the
/// 354, and is reported as sent only after the 250.
fn wire(body: &[u8], wire: &[u8]) {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .message(wire)
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.send_mail_bytes(FROM, &[TO], body)).unwrap();
    h.assert_done();
    let written = h.written();
    assert_eq!(body_part(&written), wire);
    assert_wire_invariants(wire);
}

// ----- end-of-data shapes ---------------------------------------------------------------------

/// SMTP smuggling (SEC Consult 2023; CVE-2023-51764/51765/51766): `LF . LF` followed by
/// a smuggled command, stuffed and normalized to CRLF.
#[test]
fn smuggling_lf_dot_lf() {
    wire(
        b"a\n.\nMAIL FROM:<x@y>\n",
        b"a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n",
    );
}

/// SMTP smuggling (SEC Consult 2023): `CRLF . LF`.
#[test]
fn smuggling_crlf_dot_lf() {
    wire(b"a\r\n.\nb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// SMTP smuggling (SEC Consult 2023): `LF . CRLF`.
#[test]
fn smuggling_lf_dot_crlf() {
    wire(b"a\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// SMTP smuggling (SEC Consult 2023): `CR . CR`.
#[test]
fn smuggling_cr_dot_cr() {
    wire(b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// SMTP smuggling (SEC Consult 2023): `CRLF . CR`.
#[test]
fn smuggling_crlf_dot_cr() {
    wire(b"a\r\n.\rb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// SMTP smuggling (SEC Consult 2023): `CR . CRLF`.
#[test]
fn smuggling_cr_dot_crlf() {
    wire(b"a\r.\r\nb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// SMTP smuggling (SEC Consult 2023): `CR . LF`.
#[test]
fn smuggling_cr_dot_lf() {
    wire(b"a\r.\nb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// SMTP smuggling (SEC Consult 2023): `LF . CR`.
#[test]
fn smuggling_lf_dot_cr() {
    wire(b"a\n.\rb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// RFC 5321 section 4.5.2 (transparency): a real `CRLF . CRLF` in the middle of the
/// body is stuffed, so it cannot end the data early.
#[test]
fn crlf_dot_crlf_in_the_middle() {
    wire(b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n");
}

/// RFC 5321 section 4.5.2: a body that starts with `. CRLF` (the terminator right
/// after the 354).
#[test]
fn dot_line_at_the_start() {
    wire(b".\r\nb\r\n", b"..\r\nb\r\n.\r\n");
}

/// SMTP smuggling (SEC Consult 2023): a whole second transaction smuggled behind
/// `LF . CRLF`, as in the published proof of concept; everything stays inside the body.
#[test]
fn smuggled_second_transaction() {
    wire(
        b"Subject: hi\r\n\r\nhello\n.\r\nMAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: pay\r\n\r\nnow\r\n.\r\n",
        b"Subject: hi\r\n\r\nhello\r\n..\r\nMAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: pay\r\n\r\nnow\r\n..\r\n.\r\n",
    );
}

/// RFC 5321 section 4.5.2: a NUL before the dot makes it a data byte, not a line-start
/// dot; NUL passes through as data (8-bit transparency is the caller's concern).
#[test]
fn nul_before_dot_passes_through() {
    wire(b"a\r\n\0.\r\nb", b"a\r\n\0.\r\nb\r\n.\r\n");
}

/// RFC 5321 section 2.3.8: CR CR LF is a bare CR followed by CRLF: two line endings.
#[test]
fn cr_cr_lf() {
    wire(b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n");
}

/// RFC 5321 section 4.5.2: a line that is `..` gets a third dot.
#[test]
fn dot_dot_line() {
    wire(b"a\n..\nb", b"a\r\n...\r\nb\r\n.\r\n");
}

// ----- body edge cases --------------------------------------------------------------------------

/// RFC 5321 section 4.1.1.4 (the data ends with CRLF . CRLF): a body ending in a bare
/// CR gets one line ending, not two.
#[test]
fn trailing_cr() {
    wire(b"trailing cr\r", b"trailing cr\r\n.\r\n");
}

/// RFC 5321 section 4.1.1.4: a body without a final line ending gets one before the
/// terminator.
#[test]
fn no_final_newline() {
    wire(b"no newline", b"no newline\r\n.\r\n");
}

/// RFC 5321 section 4.5.2: a body that is exactly `.` is stuffed.
#[test]
fn body_is_a_single_dot() {
    wire(b".", b"..\r\n.\r\n");
}

/// RFC 5321 section 4.1.1.4: an empty body is just the terminator.
#[test]
fn empty_body() {
    wire(b"", b".\r\n");
}

/// RFC 5321 section 4.5.2 through the streaming path: the `LF . LF` shape delivered
/// one byte per read gives the same bytes.
#[test]
fn smuggling_one_byte_per_read() {
    struct OneByte<'a>(&'a [u8]);
    impl wasm_smtp_core::io::ErrorType for OneByte<'_> {
        type Error = ErrorKind;
    }
    impl wasm_smtp_core::io::Read for OneByte<'_> {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            let Some((&b, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }
    let expected = b"a\r\n..\r\n..\r\nb\r\n.\r\n";
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .message(expected)
        .build();
    let mut c = connect(t).unwrap();
    let mut reader = OneByte(b"a\n.\r.\r\nb");
    block_on(c.send_mail_from_reader(FROM, &[TO], &mut reader)).unwrap();
    h.assert_done();
    assert_wire_invariants(expected);
}

/// RFC 5322 section 2.1.1 (at most 998 octets per line) and RFC 5321 section 4.5.3.1.6
/// (1000 with CRLF): a line of exactly 998 octets is sent unchanged.
#[test]
fn line_of_998_octets_is_sent() {
    let mut body = vec![b'a'; 998];
    body.extend_from_slice(b"\r\nend\r\n");
    let mut expected = body.clone();
    expected.extend_from_slice(b".\r\n");
    wire(&body, &expected);
}

/// RFC 5322 section 2.1.1 / RFC 5321 section 4.5.3.1.6: a message given whole with a
/// 999-octet line is refused before anything is written (a server or relay would fold,
/// cut or refuse it); the connection stays usable.
#[test]
fn line_over_998_octets_is_refused_before_writing() {
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    let mut body = b"Subject: t\r\n\r\n".to_vec();
    body.extend_from_slice(&[b'a'; 999]);
    assert_eq!(
        block_on(c.send_mail_bytes(FROM, &[TO], &body)),
        Err(SmtpError::InvalidInput {
            field: InputField::Body,
            reason: InvalidReason::TooLong(998)
        })
    );
    assert!(!c.is_closed());
    h.assert_done();
}

/// RFC 5322 section 2.1.1 / RFC 5321 sections 4.1.1.4 and 4.5.3.1.6: a streamed message
/// whose line turns out longer than 998 octets is abandoned: no end of data, the session
/// closes (the server discards the partial message), and the error says why.
#[test]
fn streamed_line_over_998_octets_abandons_the_message() {
    let (t, h) = tls(&[]).mail_from(FROM).rcpt_to(TO).data().build();
    let mut c = block_on(SmtpClient::<_, 1024, 2048>::connect_sized(
        t,
        D,
        Config::new(),
    ))
    .unwrap();
    let mut body = b"Subject: t\r\n\r\n".to_vec();
    body.extend_from_slice(&[b'a'; 1500]);
    let mut reader = &body[..];
    assert_eq!(
        block_on(c.send_mail_from_reader(FROM, &[TO], &mut reader)),
        Err(SmtpError::InvalidInput {
            field: InputField::Body,
            reason: InvalidReason::TooLong(998)
        })
    );
    assert!(c.is_closed());
    h.assert_done();
}

/// `Config::allow_long_lines`: the caller takes responsibility, and a 1500-octet line
/// is passed through unchanged, not folded.
#[test]
fn long_lines_pass_through_when_allowed() {
    let mut body = vec![b'a'; 1500];
    body.extend_from_slice(b"\r\nend\r\n");
    let mut wire = body.clone();
    wire.extend_from_slice(b".\r\n");
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .message(&wire)
        .build();
    let mut c = connect_with(t, Config::new().allow_long_lines(true)).unwrap();
    block_on(c.send_mail_bytes(FROM, &[TO], &body)).unwrap();
    h.assert_done();
    assert_wire_invariants(&wire);
}

/// RFC 5321 section 4.1.1.4 (the terminator commits the message): when the body source
/// fails, what was read is written, the terminator never is, the session is abandoned
/// and the error is `BodySource`.
#[test]
fn body_source_failure_writes_no_terminator() {
    struct Failing(usize);
    impl wasm_smtp_core::io::ErrorType for Failing {
        type Error = ErrorKind;
    }
    impl wasm_smtp_core::io::Read for Failing {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            if self.0 == 0 {
                return Err(ErrorKind::Other);
            }
            self.0 -= 1;
            buf[..4].copy_from_slice(b"abc\n");
            Ok(4)
        }
    }
    // 150 lines are read, the transmit buffer (512 bytes) is written out once when full,
    // then the reader fails: the rest is dropped and the terminator never sent.
    let mut partial = "abc\r\n".repeat(102);
    partial.push('a');
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .write(partial)
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.send_mail_from_reader(FROM, &[TO], &mut Failing(150))).unwrap_err();
    assert_eq!(e, SmtpError::BodySource(ErrorKind::Other));
    // Nothing after the partial body: no terminator, no RSET.
    assert_closed_and_silent(&mut c, &h);
}
