//! Reply grammar (RFC 5321 section 4.2): codes, separators, line framing, control and
//! non-UTF-8 bytes, codes that do not fit the command, and replies nobody asked for.
//!
//! Related tests elsewhere: `sessions.rs` `several_replies_in_one_read_are_refused_when_unsolicited`
//! (greeting and an EHLO reply before EHLO was sent), `replies_cut_at_every_byte` and
//! `one_byte_reads_give_the_same_session` (framing across reads); the reply parser's unit
//! tests and the property tests in `properties.rs`.

use crate::common::*;

/// The server sends `bytes` as the greeting (then closes the connection when `eof`);
/// returns the error of `connect` after checking that nothing was written.
fn greeting_error(bytes: &[u8], eof: bool) -> SmtpError {
    let s = Script::new().implicit_tls().read(bytes);
    let (t, h) = if eof { s.eof() } else { s }.build();
    let e = connect(t).unwrap_err();
    h.assert_done();
    e
}

fn malformed(bytes: &[u8], expected: MalformedReply) {
    assert_eq!(
        greeting_error(bytes, false),
        SmtpError::MalformedReply(expected)
    );
}

/// A connected implicit TLS session; `NOOP` is answered with `reply`. Returns the
/// outcome of `noop` and the client and handle.
fn noop_answered(reply: &[u8]) -> (Result<wasm_smtp_core::Reply, SmtpError>, Client, MockHandle) {
    let (t, h) = tls(&[]).write(b"NOOP\r\n").read(reply).build();
    let mut c = connect(t).unwrap();
    let r = block_on(c.noop());
    (r, c, h)
}

/// A mail transaction scripted by `script` fails with `expected`; the session is then
/// closed and silent (no RSET after a protocol violation).
fn transaction_fails(script: Script, expected: SmtpError) {
    let (t, h) = script.build();
    let mut c = connect(t).unwrap();
    assert_eq!(send(&mut c, &[TO], MSG), Err(expected));
    assert_closed_and_silent(&mut c, &h);
}

// ----- codes and separators -----------------------------------------------------------------

/// RFC 5321 section 4.2 (every line of a multi-line reply carries the same code): 220
/// then 250 in one reply is malformed.
#[test]
fn mixed_codes_in_one_reply() {
    malformed(b"220-a\r\n250 b\r\n", MalformedReply::MixedCodes);
}

/// RFC 5321 section 4.2: an EHLO reply whose last line has another code (550) is
/// malformed, neither accepted nor refused.
#[test]
fn mixed_codes_in_the_ehlo_reply() {
    let (t, h) = Script::new()
        .implicit_tls()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"250-mx\r\n250-STARTTLS\r\n550 5.7.1 no\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::MixedCodes)
    );
    h.assert_done();
}

/// RFC 5321 section 4.2.1 (SMTP has no 1yz replies): 120 is out of range.
#[test]
fn code_1xx() {
    malformed(b"120 hi\r\n", MalformedReply::CodeOutOfRange);
}

/// RFC 5321 section 4.2.1 (first digit 2 to 5): 620 is out of range.
#[test]
fn code_6xx() {
    malformed(b"620 hi\r\n", MalformedReply::CodeOutOfRange);
}

/// RFC 5321 section 4.2.1: a code with first digit 0 is out of range.
#[test]
fn code_0xx() {
    malformed(b"020 hi\r\n", MalformedReply::CodeOutOfRange);
}

/// RFC 5321 section 4.2.1: 999 is out of range.
#[test]
fn code_9xx() {
    malformed(b"999 hi\r\n", MalformedReply::CodeOutOfRange);
}

/// RFC 5321 section 4.2 (Reply-code is three digits): two digits are malformed.
#[test]
fn code_two_digits() {
    malformed(b"22 hi\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2: four digits are malformed (not 220 followed by text "0").
#[test]
fn code_four_digits() {
    malformed(b"2200 hi\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2: letters instead of digits are malformed.
#[test]
fn code_letters() {
    malformed(b"abc hi\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2: a letter O in place of a zero is malformed.
#[test]
fn code_letter_o_for_zero() {
    malformed(b"22O hi\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2 (the code is followed by SP, "-" or CRLF): text glued to the
/// code is malformed.
#[test]
fn code_without_separator() {
    malformed(b"220hi\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2: a tab is not a separator.
#[test]
fn code_with_tab_separator() {
    malformed(b"220\thi\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2: a reply line starts with the code, not with a space.
#[test]
fn code_with_leading_space() {
    malformed(b" 220 hi\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2: an empty line is not a reply.
#[test]
fn empty_line() {
    malformed(b"\r\n", MalformedReply::BadCode);
}

/// RFC 5321 section 4.2 (`Reply-code [ SP textstring ] CRLF`: the text is optional):
/// `220\r\n` and `250\r\n` without text are valid replies.
#[test]
fn code_without_text_is_accepted() {
    let (t, h) = Script::new()
        .implicit_tls()
        .read(b"220\r\n")
        .write(b"EHLO client.example.com\r\n")
        .read(b"250\r\n")
        .write(b"NOOP\r\n")
        .read(b"250\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let reply = block_on(c.noop()).unwrap();
    assert_eq!(reply.code.get(), 250);
    assert_eq!(reply.text.as_str(), "");
    h.assert_done();
}

// ----- framing, control and non-UTF-8 bytes ---------------------------------------------------

/// RFC 5321 section 2.3.8 (lines end with CRLF; bare LF is not a line ending): a bare
/// LF inside the text is refused.
#[test]
fn bare_lf_in_text() {
    malformed(b"220 a\nb\r\n", MalformedReply::BadLineEnding);
}

/// RFC 5321 section 2.3.8: a bare CR inside the text is refused.
#[test]
fn bare_cr_in_text() {
    malformed(b"220 a\rb\r\n", MalformedReply::BadLineEnding);
}

/// RFC 5321 section 4.2 (textstring is printable characters, SP and HT) and CWE-117: a
/// NUL in the text is treated like any other control byte: the reply counts by its
/// code, and the text reaches the caller, the error and its `Display` with `?` in place
/// of the NUL. (Before, a NUL anywhere made the reply malformed and the session fatal:
/// a greeting with a NUL could not be connected to at all.)
#[test]
fn nul_in_text_is_neutralized_like_any_control_byte() {
    let (t, h) = Script::new()
        .implicit_tls()
        .read(b"220 mx\0 ESMTP\r\n")
        .ehlo(D, &[])
        .mail_from(FROM)
        .write(b"RCPT TO:<bob@example.com>\r\n")
        .read(b"550-5.1.1 no\0such\x1b[2J user\r\n550 5.1.1 \0\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(matches!(e, SmtpError::RecipientsRejected { .. }), "{e:?}");
    assert_eq!(c.rejection_text(), "no?such?[2J user");
    let shown = format!("{e} ({})", c.rejection_text());
    assert!(
        shown.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "{shown:?}"
    );
    assert!(!c.is_closed());
    h.assert_done();
}

/// RFC 5321 section 2.3.8: a line ended by a bare LF is refused, not taken as a line.
#[test]
fn line_ended_by_bare_lf() {
    malformed(b"220 mx ready\n", MalformedReply::BadLineEnding);
}

/// RFC 5321 section 2.3.8: CR CR LF is a bare CR followed by CRLF: refused.
#[test]
fn line_ended_by_cr_cr_lf() {
    malformed(b"220 mx ready\r\r\n", MalformedReply::BadLineEnding);
}

/// RFC 5321 section 4.2 (textstring) and CWE-117 (escape sequences injected into logs
/// and terminals): ESC, BEL, DEL and non-ASCII bytes in the text are accepted but reach
/// the caller as `?`.
#[test]
fn control_bytes_in_text_are_neutralized() {
    let (r, _c, h) = noop_answered(b"250 \x1b[2J\x07ok\x7f\xff\r\n");
    assert_eq!(r.unwrap().text.as_str(), "?[2J?ok??");
    h.assert_done();
}

/// RFC 5321 section 4.2: text that is not UTF-8 is fine (the text is for humans).
#[test]
fn non_utf8_greeting_text() {
    let (t, h) = Script::new()
        .implicit_tls()
        .read(b"220 \xff\xfe\x80 mx\r\n")
        .ehlo(D, &[])
        .build();
    connect(t).unwrap();
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.5 (reply lines) and CWE-117 (output neutralization for
/// logs): the reply text kept for the caller is bounded (80 octets); longer text is cut.
#[test]
fn long_text_is_cut_for_the_caller() {
    let mut reply = b"250 ".to_vec();
    reply.extend_from_slice(&[b'x'; 400]);
    reply.extend_from_slice(b"\r\n");
    let (r, _c, h) = noop_answered(&reply);
    assert_eq!(r.unwrap().text.as_str(), "x".repeat(80));
    h.assert_done();
}

/// RFC 3463 (the class of an enhanced status code matches the reply): an enhanced code
/// of another class is not reported as the rejection's enhanced code.
#[test]
fn enhanced_code_of_another_class_is_ignored() {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .write(b"RCPT TO:<bob@example.com>\r\n")
        .read(b"550 2.1.5 Recipient ok\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    match send(&mut c, &[TO], MSG) {
        Err(SmtpError::RecipientsRejected { first, .. }) => {
            assert_eq!(first.code.get(), 550);
            assert_eq!(first.enhanced, None);
        }
        other => panic!("{other:?}"),
    }
    h.assert_done();
}

// ----- line length --------------------------------------------------------------------------

/// RFC 5321 section 4.5.3.1.5 (reply lines of 512 octets) with the client's buffer of
/// 1024: a line without an end is refused as soon as the buffer is full, without
/// waiting for the rest.
#[test]
fn overlong_line_without_end() {
    let (t, h) = Script::new().implicit_tls().read(vec![b'2'; 3000]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::LineTooLong { limit: 1024 })
    );
    // The client stopped reading once its buffer was full: part of the step is unread.
    assert!(h.finish().is_err());
    assert!(h.written().is_empty());
    assert_eq!(h.failure(), None);
}

/// RFC 5321 section 4.5.3.1.5: a complete line of 2000 octets is refused.
#[test]
fn overlong_line_with_end() {
    let mut line = b"220 ".to_vec();
    line.extend_from_slice(&[b'a'; 1994]);
    line.extend_from_slice(b"\r\n");
    let (t, h) = Script::new().implicit_tls().read(line).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::LineTooLong { limit: 1024 })
    );
    assert!(h.written().is_empty());
    assert_eq!(h.failure(), None);
}

/// RFC 5321 section 4.5.3.1.5: a line of exactly the buffer size (1024 octets with
/// CRLF) is accepted.
#[test]
fn line_at_the_limit_is_accepted() {
    let mut line = b"220 ".to_vec();
    line.resize(1022, b'a');
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 1024);
    let (t, h) = Script::new().implicit_tls().read(line).ehlo(D, &[]).build();
    connect(t).unwrap();
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.5: one octet over the limit is refused.
#[test]
fn line_one_over_the_limit() {
    let mut line = b"220 ".to_vec();
    line.resize(1023, b'a');
    line.extend_from_slice(b"\r\n");
    let (t, h) = Script::new().implicit_tls().read(line).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::LineTooLong { limit: 1024 })
    );
    assert!(h.written().is_empty());
}

// ----- end of stream inside a reply ---------------------------------------------------------

/// RFC 5321 section 3.8 (the connection may close at any time): end of stream before
/// any byte of the greeting.
#[test]
fn eof_before_greeting() {
    assert_eq!(greeting_error(b"", true), SmtpError::ConnectionClosed);
}

/// RFC 5321 section 4.2: end of stream in the middle of a multi-line reply; the
/// complete first line is not taken as the reply.
#[test]
fn eof_mid_multiline_reply() {
    assert_eq!(
        greeting_error(b"220-mx\r\n220-SIZE", true),
        SmtpError::ConnectionClosed
    );
}

/// RFC 5321 section 4.2: end of stream after two digits of a code.
#[test]
fn eof_mid_code() {
    assert_eq!(greeting_error(b"22", true), SmtpError::ConnectionClosed);
}

/// RFC 5321 section 2.3.8: end of stream between the CR and the LF of the only line.
#[test]
fn eof_between_cr_and_lf() {
    assert_eq!(
        greeting_error(b"220 mx ready\r", true),
        SmtpError::ConnectionClosed
    );
}

// ----- codes that do not fit the command --------------------------------------------------

/// RFC 5321 section 4.3.2 (MAIL: 250 on success): 354 to MAIL FROM is a protocol
/// violation; no RSET follows, the session is closed.
#[test]
fn mail_from_answered_354() {
    transaction_fails(
        tls(&[])
            .write(b"MAIL FROM:<alice@example.com>\r\n")
            .read(b"354 go ahead\r\n"),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::MailFrom,
            code: 354,
        }),
    );
}

/// RFC 5321 section 4.3.2 (RCPT: 250 or 251): 354 to RCPT TO is a protocol violation.
#[test]
fn rcpt_to_answered_354() {
    transaction_fails(
        tls(&[])
            .mail_from(FROM)
            .write(b"RCPT TO:<bob@example.com>\r\n")
            .read(b"354 go ahead\r\n"),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::RcptTo,
            code: 354,
        }),
    );
}

/// RFC 5321 section 4.3.2 (DATA: 354, then 250 after the data): a 250 to DATA, as if
/// the message were already accepted, is a protocol violation; the body is never sent
/// and the message is not reported as sent.
#[test]
fn data_answered_250() {
    transaction_fails(
        tls(&[])
            .mail_from(FROM)
            .rcpt_to(TO)
            .write(b"DATA\r\n")
            .read(b"250 2.0.0 queued\r\n"),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::Data,
            code: 250,
        }),
    );
}

/// RFC 5321 section 4.3.2: 354 after the end of data (instead of 250) is a protocol
/// violation; the message is not reported as sent.
#[test]
fn end_of_data_answered_354() {
    transaction_fails(
        tls(&[])
            .mail_from(FROM)
            .rcpt_to(TO)
            .data()
            .write(b"Subject: hi\r\n\r\nHello\r\n.\r\n")
            .read(b"354 more please\r\n"),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::DataEnd,
            code: 354,
        }),
    );
}

// ----- replies nobody asked for ---------------------------------------------------------------

/// RFC 5321 section 4.2 (every command generates exactly one reply): two replies to one
/// NOOP in the same read are refused and the session is closed.
#[test]
fn two_replies_to_one_noop() {
    let (r, mut c, h) = noop_answered(b"250 ok\r\n250 ok\r\n");
    assert_eq!(
        r,
        Err(SmtpError::Protocol(ProtocolViolation::UnsolicitedReply))
    );
    assert_closed_and_silent(&mut c, &h);
}

/// RFC 5321 section 4.2: a partial extra line behind a reply is refused too.
#[test]
fn partial_line_after_a_reply() {
    let (r, mut c, h) = noop_answered(b"250 ok\r\n2");
    assert_eq!(
        r,
        Err(SmtpError::Protocol(ProtocolViolation::UnsolicitedReply))
    );
    assert_closed_and_silent(&mut c, &h);
}

/// RFC 5321 section 4.2: an extra reply behind the EHLO reply is refused.
#[test]
fn extra_reply_after_the_ehlo_reply() {
    let (t, h) = Script::new()
        .implicit_tls()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"250 mx\r\n250 extra\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::UnsolicitedReply)
    );
    h.assert_done();
}

/// RFC 2920 (replies come one per command, in order) and RFC 5321 section 4.2: the
/// client does not pipeline, so a reply for RCPT TO that arrives with the MAIL FROM
/// reply, before RCPT TO was sent, is unsolicited; RCPT TO is never written.
#[test]
fn rcpt_reply_before_rcpt_was_sent() {
    transaction_fails(
        tls(&[])
            .write(b"MAIL FROM:<alice@example.com>\r\n")
            .read(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
        SmtpError::Protocol(ProtocolViolation::UnsolicitedReply),
    );
}

/// RFC 5321 section 4.2: an extra reply behind the 250 to the end of data. The message
/// was accepted, but the session is broken: the client reports the violation rather
/// than success (current behaviour; a retry may deliver the message twice).
#[test]
fn extra_reply_after_end_of_data() {
    transaction_fails(
        tls(&[])
            .mail_from(FROM)
            .rcpt_to(TO)
            .data()
            .write(b"Subject: hi\r\n\r\nHello\r\n.\r\n")
            .read(b"250 2.0.0 queued\r\n250 2.0.0 queued again\r\n"),
        SmtpError::Protocol(ProtocolViolation::UnsolicitedReply),
    );
}
