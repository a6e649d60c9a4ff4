//! Tests of the mock itself, driving it through the raw `embedded-io-async` traits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{block_on, Entry, MockError, MockTransport, Script};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use embedded_io_async::{Error as _, ErrorKind, Read, Write};
use wasm_smtp_core::Transport;

/// One read call with a buffer of `cap` bytes.
fn read(t: &mut MockTransport, cap: usize) -> Result<Vec<u8>, MockError> {
    let mut buf = vec![0u8; cap];
    let n = block_on(t.read(&mut buf))?;
    buf.truncate(n);
    Ok(buf)
}

fn write(t: &mut MockTransport, bytes: &[u8]) -> Result<usize, MockError> {
    block_on(t.write(bytes))
}

fn write_all(t: &mut MockTransport, bytes: &[u8]) -> Result<(), MockError> {
    block_on(t.write_all(bytes))
}

fn upgrade(t: &mut MockTransport) -> Result<(), MockError> {
    block_on(t.upgrade_to_tls())
}

// ----- protocol helpers --------------------------------------------------------------

#[test]
fn helpers_expand_to_documented_bytes() {
    let (mut t, h) = Script::new()
        .greeting()
        .ehlo(
            "client.example.com",
            &["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"],
        )
        .starttls()
        .ehlo("client.example.com", &[])
        .helo("client.example.com")
        .mail_from("a@example.com")
        .rcpt_to("b@example.com")
        .data()
        .message("Hi\r\n.\r\n")
        .rset()
        .noop()
        .command("VRFY x", "252 2.1.5 Cannot VRFY user")
        .quit()
        .build();

    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"220 mx.example.com ESMTP ready\r\n"
    );
    write_all(&mut t, b"EHLO client.example.com\r\n").unwrap();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"250-mx.example.com\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
    );
    write_all(&mut t, b"STARTTLS\r\n").unwrap();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"220 2.0.0 Ready to start TLS\r\n"
    );
    assert!(!t.is_encrypted());
    upgrade(&mut t).unwrap();
    assert!(t.is_encrypted());
    write_all(&mut t, b"EHLO client.example.com\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"250 mx.example.com\r\n");
    write_all(&mut t, b"HELO client.example.com\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"250 mx.example.com\r\n");
    write_all(&mut t, b"MAIL FROM:<a@example.com>\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"250 2.1.0 Ok\r\n");
    write_all(&mut t, b"RCPT TO:<b@example.com>\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"250 2.1.5 Ok\r\n");
    write_all(&mut t, b"DATA\r\n").unwrap();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    write_all(&mut t, b"Hi\r\n.\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"250 2.0.0 Ok: queued\r\n");
    write_all(&mut t, b"RSET\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"250 2.0.0 Ok\r\n");
    write_all(&mut t, b"NOOP\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"250 2.0.0 Ok\r\n");
    write_all(&mut t, b"VRFY x\r\n").unwrap();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"252 2.1.5 Cannot VRFY user\r\n"
    );
    write_all(&mut t, b"QUIT\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"221 2.0.0 Bye\r\n");

    h.assert_done();
    assert!(h.is_done());
    assert_eq!(h.remaining_steps(), 0);
    assert_eq!(h.round_trips(), 12);
}

#[test]
fn auth_helpers_expand_to_documented_bytes() {
    let (mut t, h) = Script::new()
        .auth_plain("user", "pass")
        .auth_login("user", "pass")
        .auth_xoauth2("user", "tok")
        .build();
    write_all(&mut t, b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n").unwrap();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"235 2.7.0 Authentication successful\r\n"
    );
    write_all(&mut t, b"AUTH LOGIN\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"334 VXNlcm5hbWU6\r\n");
    write_all(&mut t, b"dXNlcg==\r\n").unwrap();
    assert_eq!(read(&mut t, 512).unwrap(), b"334 UGFzc3dvcmQ6\r\n");
    write_all(&mut t, b"cGFzcw==\r\n").unwrap();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"235 2.7.0 Authentication successful\r\n"
    );
    // base64("user=user\x01auth=Bearer tok\x01\x01")
    write_all(
        &mut t,
        b"AUTH XOAUTH2 dXNlcj11c2VyAWF1dGg9QmVhcmVyIHRvawEB\r\n",
    )
    .unwrap();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"235 2.7.0 Authentication successful\r\n"
    );
    h.assert_done();
}

#[test]
fn script_len_counts_raw_steps() {
    let script = Script::new();
    assert!(script.is_empty());
    let script = script
        .greeting()
        .ehlo("c", &[])
        .starttls()
        .read("")
        .write(b"");
    assert_eq!(script.len(), 1 + 2 + 3);
    assert_eq!(MockTransport::builder(), Script::new());
}

// ----- read delivery -----------------------------------------------------------------

#[test]
fn one_read_step_arrives_in_one_read() {
    let (mut t, h) = Script::new()
        .read("250-first\r\n250 second\r\n221 bye\r\n")
        .build();
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"250-first\r\n250 second\r\n221 bye\r\n"
    );
    assert_eq!(h.read_calls(), 1);
    h.assert_done();
}

#[test]
fn a_reply_split_over_two_read_steps_arrives_in_two_reads() {
    let (mut t, h) = Script::new()
        .read("250-first\r\n25")
        .read("0 second\r\n")
        .build();
    assert_eq!(read(&mut t, 512).unwrap(), b"250-first\r\n25");
    assert_eq!(read(&mut t, 512).unwrap(), b"0 second\r\n");
    h.assert_done();
}

#[test]
fn small_buffers_get_partial_reads_and_the_rest_later() {
    let (mut t, h) = Script::new()
        .read("220 hello\r\n")
        .read("250 ok\r\n")
        .build();
    assert_eq!(read(&mut t, 4).unwrap(), b"220 ");
    assert_eq!(read(&mut t, 4).unwrap(), b"hell");
    assert_eq!(read(&mut t, 100).unwrap(), b"o\r\n");
    assert_eq!(read(&mut t, 100).unwrap(), b"250 ok\r\n");
    h.assert_done();
    assert_eq!(
        h.transcript(),
        [Entry::Server(b"220 hello\r\n250 ok\r\n".to_vec())]
    );
}

#[test]
fn empty_buffer_reads_return_zero_without_consuming() {
    let (mut t, h) = Script::new().read("220 hi\r\n").build();
    assert_eq!(read(&mut t, 0).unwrap(), b"");
    assert_eq!(read(&mut t, 64).unwrap(), b"220 hi\r\n");
    assert_eq!(write(&mut t, b"").unwrap(), 0);
    h.assert_done();
}

#[test]
fn max_read_size_limits_every_read() {
    let (mut t, h) = Script::new().max_read_size(1).read("220 ok\r\n").build();
    let mut got = Vec::new();
    while got.len() < 8 {
        let chunk = read(&mut t, 64).unwrap();
        assert_eq!(chunk.len(), 1);
        got.extend(chunk);
    }
    assert_eq!(got, b"220 ok\r\n");
    assert_eq!(h.read_calls(), 8);
    h.assert_done();

    let (mut t, h) = Script::new().read("0123456789").max_read_size(4).build();
    assert_eq!(read(&mut t, 64).unwrap(), b"0123");
    assert_eq!(read(&mut t, 2).unwrap(), b"45");
    assert_eq!(read(&mut t, 64).unwrap(), b"6789");
    h.assert_done();
}

// ----- write matching ----------------------------------------------------------------

#[test]
fn one_write_call_may_cover_several_write_steps() {
    let (mut t, h) = Script::new()
        .write("MAIL FROM:<a@b>\r\n")
        .write("RCPT TO:<c@d>\r\n")
        .write("DATA\r\n")
        .read("250 ok\r\n250 ok\r\n354 go\r\n")
        .build();
    let flight = b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
    assert_eq!(write(&mut t, flight).unwrap(), flight.len());
    assert_eq!(
        read(&mut t, 512).unwrap(),
        b"250 ok\r\n250 ok\r\n354 go\r\n"
    );
    h.assert_done();
    assert_eq!(h.write_calls(), 1);
    assert_eq!(h.written(), flight);
}

#[test]
fn one_write_step_may_take_several_write_calls() {
    let (mut t, h) = Script::new().write("EHLO x\r\n").build();
    for b in b"EHLO x\r\n" {
        assert_eq!(write(&mut t, &[*b]).unwrap(), 1);
    }
    h.assert_done();
    assert_eq!(h.write_calls(), 8);
    assert_eq!(h.transcript(), [Entry::Client(b"EHLO x\r\n".to_vec())]);
}

#[test]
fn max_write_size_gives_short_writes() {
    let (mut t, h) = Script::new().max_write_size(3).write("QUIT\r\n").build();
    assert_eq!(write(&mut t, b"QUIT\r\n").unwrap(), 3);
    assert_eq!(write(&mut t, b"T\r\n").unwrap(), 3);
    h.assert_done();

    let (mut t, h) = Script::new().max_write_size(1).write("NOOP\r\n").build();
    write_all(&mut t, b"NOOP\r\n").unwrap();
    h.assert_done();
    assert_eq!(h.write_calls(), 6);
}

#[test]
fn write_until_accepts_anything_up_to_the_terminator() {
    let (mut t, h) = Script::new()
        .write("DATA\r\n")
        .write_until("\r\n.\r\n")
        .write("QUIT\r\n")
        .read("221 bye\r\n")
        .build();
    write_all(&mut t, b"DATA\r\nMessage-ID: <random@x>\r\n\r\nbody\r").unwrap();
    write_all(&mut t, b"\n.").unwrap();
    write_all(&mut t, b"\r\nQUIT\r\n").unwrap();
    assert_eq!(read(&mut t, 64).unwrap(), b"221 bye\r\n");
    h.assert_done();
    assert_eq!(
        h.written(),
        b"DATA\r\nMessage-ID: <random@x>\r\n\r\nbody\r\n.\r\nQUIT\r\n"
    );

    // Not finished while the terminator has not been written.
    let (mut t, h) = Script::new().write_until("\r\n.\r\n").build();
    write_all(&mut t, b"abc\r\n").unwrap();
    assert_eq!(
        h.finish().unwrap_err(),
        r#"the script was not finished: step 1 (client write) is next: expected the client to write anything up to and including "\r\n.\r\n" (1 step not done)"#
    );
}

// ----- mismatches --------------------------------------------------------------------

#[test]
fn byte_mismatch_names_step_offset_and_both_lines() {
    let (mut t, h) = Script::new()
        .greeting()
        .ehlo("client.example.com", &["PIPELINING"])
        .build();
    read(&mut t, 512).unwrap();
    let err = write(&mut t, b"HELO client.example.com\r\n").unwrap_err();
    let expected = r#"step 2 (client write, from .ehlo("client.example.com")): byte 0 differs: expected "EHLO client.example.com\r\n", got "HELO client.example.com\r\n""#;
    assert!(err.is_mismatch());
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(err.mismatch_message(), Some(expected));
    assert_eq!(
        err.to_string(),
        format!("mock transport mismatch: {expected}")
    );
    assert_eq!(h.failure().as_deref(), Some(expected));
    assert_eq!(h.finish().unwrap_err(), expected);
    assert!(!h.is_done());
}

#[test]
fn byte_mismatch_in_a_later_call_shows_the_matched_prefix() {
    let (mut t, h) = Script::new().write("MAIL FROM:<a@example.com>\r\n").build();
    write(&mut t, b"MAIL FROM:<a@").unwrap();
    write(&mut t, b"example.org>\r\nRCPT TO:<x@y>\r\n").unwrap_err();
    assert_eq!(
        h.failure().unwrap(),
        r#"step 1 (client write): byte 21 differs: expected "MAIL FROM:<a@example.com>\r\n", got "MAIL FROM:<a@example.org>\r\n"..."#
    );
    // Only the matching bytes count as written.
    assert_eq!(h.written(), b"MAIL FROM:<a@example.");
}

#[test]
fn byte_mismatch_in_a_long_step_shows_a_window() {
    let mut body = vec![b'a'; 200];
    body.extend_from_slice(b"\r\n.\r\n");
    let (mut t, h) = Script::new().write(&body).build();
    let mut sent = body.clone();
    sent[150] = b'b';
    write(&mut t, &sent).unwrap_err();
    let a40 = "a".repeat(40);
    assert_eq!(
        h.failure().unwrap(),
        format!(
            "step 1 (client write): byte 150 differs: expected ...\"{a40}{a40}\"..., \
             got ...\"{a40}b{}\\r\\n\"...",
            "a".repeat(49)
        )
    );
}

#[test]
fn writing_when_a_reply_is_due_is_a_mismatch() {
    let (mut t, h) = Script::new().mail_from("a@example.com").build();
    // The client pipelines a command the script does not expect before the reply.
    let err = write(
        &mut t,
        b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n",
    )
    .unwrap_err();
    assert!(err.is_mismatch());
    assert_eq!(
        h.failure().unwrap(),
        r#"step 2 (server sends, from .mail_from("a@example.com")): expected the client to read "250 2.1.0 Ok\r\n", got a write of "RCPT TO:<b@example.com>\r\n""#
    );
}

#[test]
fn reading_when_a_write_is_due_is_a_mismatch() {
    let (mut t, h) = Script::new().write("EHLO x\r\n").read("250 x\r\n").build();
    write(&mut t, b"EHL").unwrap();
    read(&mut t, 64).unwrap_err();
    assert_eq!(
        h.failure().unwrap(),
        r#"step 1 (client write): expected the client to write "EHLO x\r\n" (received so far: "EHL"), got a read (a real server would wait forever here)"#
    );
}

#[test]
fn writing_with_unread_server_data_is_a_mismatch() {
    let (mut t, h) = Script::new()
        .read("220 hello\r\n")
        .write("QUIT\r\n")
        .build();
    read(&mut t, 4).unwrap();
    write(&mut t, b"QUIT\r\n").unwrap_err();
    assert_eq!(
        h.failure().unwrap(),
        r#"step 1 (server sends): expected the client to read the rest of "220 hello\r\n" (4 of 11 bytes delivered), got a write of "QUIT\r\n""#
    );
}

#[test]
fn calls_past_the_end_of_the_script_are_mismatches() {
    let (mut t, h) = Script::new().quit().build();
    write_all(&mut t, b"QUIT\r\n").unwrap();
    read(&mut t, 64).unwrap();
    h.assert_done();
    read(&mut t, 64).unwrap_err();
    assert_eq!(
        h.failure().unwrap(),
        "end of script (after step 2): expected nothing more, got a read (a real server would \
         wait forever here)"
    );

    let (mut t, h) = Script::new().build();
    write(&mut t, b"NOOP\r\n").unwrap_err();
    assert_eq!(
        h.failure().unwrap(),
        r#"end of script (empty script): expected nothing, got a write of "NOOP\r\n""#
    );
}

#[test]
fn after_the_first_failure_every_call_fails() {
    let (mut t, h) = Script::new().write("QUIT\r\n").read("221 bye\r\n").build();
    write(&mut t, b"RSET\r\n").unwrap_err();
    let first = h.failure().unwrap();

    let err = read(&mut t, 64).unwrap_err();
    assert_eq!(
        err.mismatch_message().unwrap(),
        format!("the mock transport already failed: {first}")
    );
    write(&mut t, b"QUIT\r\n").unwrap_err();
    write(&mut t, b"more").unwrap_err();
    block_on(t.flush()).unwrap_err();
    upgrade(&mut t).unwrap_err();

    // The first failure is kept, and the later writes are visible.
    assert_eq!(h.failure().unwrap(), first);
    assert_eq!(h.writes_after_failure(), b"QUIT\r\nmore");
    assert_eq!(h.written(), b"");
}

#[test]
fn a_client_that_stops_writing_after_a_failure_shows_no_writes() {
    let (mut t, h) = Script::new().write("DATA\r\n").build();
    write(&mut t, b"DATX\r\n").unwrap_err();
    assert!(h.writes_after_failure().is_empty());
}

#[test]
fn unfinished_script_names_the_next_step() {
    let (mut t, h) = Script::new()
        .greeting()
        .ehlo("c.example", &[])
        .quit()
        .build();
    read(&mut t, 512).unwrap();
    assert_eq!(h.remaining_steps(), 4);
    assert_eq!(
        h.finish().unwrap_err(),
        r#"the script was not finished: step 2 (client write, from .ehlo("c.example")) is next: expected the client to write "EHLO c.example\r\n" (4 steps not done)"#
    );
    drop(t); // The client may drop the transport; the handle still answers.
    assert_eq!(h.remaining_steps(), 4);
}

#[test]
fn assert_done_panics_with_message_and_transcript() {
    let (mut t, h) = Script::new().greeting().ehlo("c.example", &[]).build();
    read(&mut t, 512).unwrap();
    write(&mut t, b"HELO c.example\r\n").unwrap_err();
    let panic = std::panic::catch_unwind(|| h.assert_done()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert_eq!(
        message,
        "mock transport: step 2 (client write, from .ehlo(\"c.example\")): byte 0 differs: \
         expected \"EHLO c.example\\r\\n\", got \"HELO c.example\\r\\n\"\n\
         \n\
         transcript:\n    S: 220 mx.example.com ESMTP ready\n"
    );
}

#[test]
fn assert_done_shows_only_the_end_of_a_long_transcript() {
    let mut script = Script::new();
    for _ in 0..20 {
        script = script.noop();
    }
    let (mut t, h) = script.quit().build();
    for _ in 0..20 {
        write_all(&mut t, b"NOOP\r\n").unwrap();
        read(&mut t, 64).unwrap();
    }
    let panic = std::panic::catch_unwind(|| h.assert_done()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("transcript (last 30 lines):\n"));
    assert_eq!(
        message.lines().filter(|l| l.starts_with("    ")).count(),
        30
    );
    assert!(message.contains(".quit()"));
}

// ----- scripted failures -------------------------------------------------------------

#[test]
fn scripted_read_and_write_errors_are_not_mismatches() {
    let (mut t, h) = Script::new()
        .write("NOOP\r\n")
        .read_error(ErrorKind::ConnectionReset)
        .write_error(ErrorKind::BrokenPipe)
        .build();
    write_all(&mut t, b"NOOP\r\n").unwrap();
    let err = read(&mut t, 64).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(!err.is_mismatch());
    assert_eq!(err.mismatch_message(), None);
    assert_eq!(err.to_string(), "scripted transport error: ConnectionReset");
    let err = write(&mut t, b"QUIT\r\n").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    h.assert_done();
    assert_eq!(
        h.transcript(),
        [
            Entry::Client(b"NOOP\r\n".to_vec()),
            Entry::ReadError(ErrorKind::ConnectionReset),
            Entry::WriteError(ErrorKind::BrokenPipe),
        ]
    );
    assert_eq!(h.round_trips(), 1);
}

#[test]
fn scripted_bad_counts_report_what_a_buggy_transport_would() {
    let (mut t, h) = Script::new()
        .write("NOOP\r\n")
        .read_count_past_buffer()
        .write_zero()
        .write("RSET\r\n")
        .write_count_past_buffer()
        .build();
    write_all(&mut t, b"NOOP\r\n").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(block_on(t.read(&mut buf)).unwrap(), 17);
    assert_eq!(buf, [0u8; 16], "nothing delivered");
    assert_eq!(write(&mut t, b"QUIT\r\n").unwrap(), 0);
    // The bytes before a bad count go out as a short write first.
    assert_eq!(write(&mut t, b"RSET\r\nNOOP\r\n").unwrap(), 6);
    assert_eq!(write(&mut t, b"NOOP\r\n").unwrap(), 7);
    h.assert_done();
    assert_eq!(
        h.transcript(),
        [
            Entry::Client(b"NOOP\r\n".to_vec()),
            Entry::BadCount("a read reporting one byte more than its buffer"),
            Entry::BadCount("a write reporting Ok(0)"),
            Entry::Client(b"RSET\r\n".to_vec()),
            Entry::BadCount("a write reporting one byte more than it was given"),
        ]
    );
    assert!(h
        .transcript_text()
        .contains("*** a write reporting Ok(0) ***"));
}

#[test]
fn write_error_after_matching_bytes_is_a_short_write_first() {
    let (mut t, h) = Script::new()
        .write("MAIL FROM:<a@b>\r\n")
        .write_error(ErrorKind::ConnectionAborted)
        .build();
    let sent = b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
    assert_eq!(write(&mut t, sent).unwrap(), 17);
    let err = write(&mut t, &sent[17..]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionAborted);
    h.assert_done();
}

#[test]
fn eof_returns_zero_and_stays_at_end_of_stream() {
    let (mut t, h) = Script::new().greeting().write("QUIT\r\n").eof().build();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"QUIT\r\n").unwrap();
    assert_eq!(read(&mut t, 64).unwrap(), b"");
    assert_eq!(read(&mut t, 64).unwrap(), b"");
    h.assert_done();
    assert!(h
        .transcript_text()
        .ends_with("C: QUIT\n*** end of stream ***\n"));
}

#[test]
fn eof_is_not_sticky_while_steps_remain() {
    let (mut t, h) = Script::new().eof().write("QUIT\r\n").build();
    assert_eq!(read(&mut t, 64).unwrap(), b"");
    read(&mut t, 64).unwrap_err();
    assert!(h.failure().unwrap().starts_with("step 2 (client write): "));
}

// ----- TLS -----------------------------------------------------------------------------

#[test]
fn upgrade_encrypts_the_transport() {
    let (mut t, h) = Script::new().starttls().build();
    write_all(&mut t, b"STARTTLS\r\n").unwrap();
    read(&mut t, 64).unwrap();
    assert!(!t.is_encrypted());
    assert!(!h.is_encrypted());
    upgrade(&mut t).unwrap();
    assert!(t.is_encrypted());
    assert!(h.is_encrypted());
    h.assert_done();
    assert_eq!(h.transcript().last(), Some(&Entry::Upgrade));
}

#[test]
fn unexpected_upgrade_is_a_mismatch() {
    let (mut t, h) = Script::new()
        .write("STARTTLS\r\n")
        .read("220 go\r\n")
        .build();
    write_all(&mut t, b"STARTTLS\r\n").unwrap();
    upgrade(&mut t).unwrap_err();
    assert!(!t.is_encrypted());
    assert_eq!(
        h.failure().unwrap(),
        r#"step 2 (server sends): expected the client to read "220 go\r\n", got a TLS upgrade (upgrade_to_tls)"#
    );
}

#[test]
fn upgrade_with_unread_plaintext_is_a_mismatch() {
    // STARTTLS response injection: the 220 arrives with extra bytes.
    let (mut t, h) = Script::new()
        .write("STARTTLS\r\n")
        .read("220 go\r\n250 injected\r\n")
        .upgrade()
        .build();
    write_all(&mut t, b"STARTTLS\r\n").unwrap();
    assert_eq!(read(&mut t, 8).unwrap(), b"220 go\r\n");
    upgrade(&mut t).unwrap_err();
    assert!(h.failure().unwrap().contains("(8 of 22 bytes delivered)"));
}

#[test]
fn a_missing_upgrade_is_a_mismatch() {
    let (mut t, h) = Script::new().starttls().ehlo("c", &[]).build();
    write_all(&mut t, b"STARTTLS\r\n").unwrap();
    read(&mut t, 64).unwrap();
    write_all(&mut t, b"EHLO c\r\n").unwrap_err();
    assert_eq!(
        h.failure().unwrap(),
        r#"step 3 (TLS upgrade, from .starttls()): expected a TLS upgrade (upgrade_to_tls), got a write of "EHLO c\r\n""#
    );
}

#[test]
fn scripted_upgrade_error_keeps_plaintext() {
    let (mut t, h) = Script::new().upgrade_error(ErrorKind::InvalidData).build();
    let err = upgrade(&mut t).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(!err.is_mismatch());
    assert!(!t.is_encrypted());
    h.assert_done();
    assert_eq!(
        h.transcript_text(),
        "*** TLS upgrade failed: InvalidData ***\n"
    );
}

#[test]
fn implicit_tls_starts_encrypted() {
    let (t, h) = Script::new().implicit_tls().build();
    assert!(t.is_encrypted());
    assert!(h.is_encrypted());
    h.assert_done();
}

#[test]
fn never_encrypted_lies_even_after_upgrade() {
    let (mut t, h) = Script::new().never_encrypted().upgrade().build();
    upgrade(&mut t).unwrap();
    assert!(!t.is_encrypted());
    h.assert_done();

    let (t, _h) = Script::new().implicit_tls().never_encrypted().build();
    assert!(!t.is_encrypted());
}

#[test]
fn works_through_a_mutable_reference_transport() {
    async fn starttls<T: Transport>(mut t: T) -> Result<bool, T::Error> {
        t.write_all(b"STARTTLS\r\n").await?;
        let mut buf = [0u8; 64];
        let _ = t.read(&mut buf).await?;
        t.upgrade_to_tls().await?;
        Ok(t.is_encrypted())
    }
    let (mut t, h) = Script::new().starttls().build();
    assert!(block_on(starttls(&mut t)).unwrap());
    h.assert_done();
}

// ----- flush -----------------------------------------------------------------------------

#[test]
fn require_flush_rejects_reads_with_unflushed_writes() {
    let (mut t, h) = Script::new().require_flush().noop().noop().build();
    write_all(&mut t, b"NOOP\r\n").unwrap();
    block_on(t.flush()).unwrap();
    read(&mut t, 64).unwrap();
    write_all(&mut t, b"NOOP\r\n").unwrap();
    read(&mut t, 64).unwrap_err();
    assert_eq!(
        h.failure().unwrap(),
        "step 4 (server sends, from .noop()): expected a flush before the read \
         (require_flush), got a read with unflushed writes"
    );

    // Without the option, flushing is optional.
    let (mut t, h) = Script::new().noop().build();
    write_all(&mut t, b"NOOP\r\n").unwrap();
    read(&mut t, 64).unwrap();
    h.assert_done();
}

// ----- round trips -------------------------------------------------------------------

#[test]
fn round_trips_count_waits_for_the_server() {
    let (mut t, h) = Script::new()
        .greeting()
        .ehlo("c", &["PIPELINING"])
        .write("MAIL FROM:<a@b>\r\n")
        .write("RCPT TO:<c@d>\r\n")
        .write("DATA\r\n")
        .read("250 ok\r\n")
        .read("250 ok\r\n")
        .read("354 go\r\n")
        .message(".\r\n")
        .quit()
        .build();
    read(&mut t, 512).unwrap(); // greeting: no round trip
    assert_eq!(h.round_trips(), 0);
    write_all(&mut t, b"EHLO c\r\n").unwrap();
    // The EHLO reply in 1-byte pieces is still a single wait.
    for _ in 0..b"250-mx.example.com\r\n250 PIPELINING\r\n".len() {
        read(&mut t, 1).unwrap();
    }
    assert_eq!(h.round_trips(), 1);
    write_all(&mut t, b"MAIL FROM:<a@b>\r\n").unwrap();
    write_all(&mut t, b"RCPT TO:<c@d>\r\n").unwrap();
    write_all(&mut t, b"DATA\r\n").unwrap();
    for _ in 0..3 {
        read(&mut t, 512).unwrap();
    }
    assert_eq!(h.round_trips(), 2);
    write_all(&mut t, b".\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"QUIT\r\n").unwrap();
    read(&mut t, 512).unwrap();
    assert_eq!(h.round_trips(), 4);
    h.assert_done();
}

#[test]
fn round_trips_without_pipelining() {
    let (mut t, h) = Script::new().mail_from("a@b").rcpt_to("c@d").data().build();
    for (cmd, _) in [
        ("MAIL FROM:<a@b>\r\n", 0),
        ("RCPT TO:<c@d>\r\n", 1),
        ("DATA\r\n", 2),
    ] {
        write_all(&mut t, cmd.as_bytes()).unwrap();
        read(&mut t, 512).unwrap();
    }
    assert_eq!(h.round_trips(), 3);
    h.assert_done();
}

// ----- transcript --------------------------------------------------------------------

#[test]
fn transcript_text_renders_a_session_with_redaction() {
    let (mut t, h) = Script::new()
        .greeting()
        .ehlo("c.example", &["STARTTLS", "AUTH PLAIN LOGIN"])
        .starttls()
        .auth_plain("user", "pass")
        .auth_login("user", "pass")
        .write("auth plain AHVzZXIAcGFzcw==\r\n")
        .read("535 5.7.8 Bad credentials\r\n")
        .write("AUTH PLAIN\r\n")
        .read("334 \r\n")
        .write("AHVzZXIAcGFzcw==\r\n")
        .read("235 ok\r\n")
        .quit()
        .build();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"EHLO c.example\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"STARTTLS\r\n").unwrap();
    read(&mut t, 512).unwrap();
    upgrade(&mut t).unwrap();
    write_all(&mut t, b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"AUTH LOGIN\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"dXNlcg==\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"cGFzcw==\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"auth plain AHVzZXIAcGFzcw==\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"AUTH PLAIN\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"AHVzZXIAcGFzcw==\r\n").unwrap();
    read(&mut t, 512).unwrap();
    write_all(&mut t, b"QUIT\r\n").unwrap();
    read(&mut t, 512).unwrap();
    h.assert_done();

    let text = h.transcript_text();
    assert_eq!(
        text,
        "S: 220 mx.example.com ESMTP ready\n\
         C: EHLO c.example\n\
         S: 250-mx.example.com\n\
         S: 250-STARTTLS\n\
         S: 250 AUTH PLAIN LOGIN\n\
         C: STARTTLS\n\
         S: 220 2.0.0 Ready to start TLS\n\
         *** TLS ***\n\
         C: AUTH PLAIN <redacted>\n\
         S: 235 2.7.0 Authentication successful\n\
         C: AUTH LOGIN\n\
         S: 334 VXNlcm5hbWU6\n\
         C: <redacted>\n\
         S: 334 UGFzc3dvcmQ6\n\
         C: <redacted>\n\
         S: 235 2.7.0 Authentication successful\n\
         C: auth plain <redacted>\n\
         S: 535 5.7.8 Bad credentials\n\
         C: AUTH PLAIN\n\
         S: 334 \n\
         C: <redacted>\n\
         S: 235 ok\n\
         C: QUIT\n\
         S: 221 2.0.0 Bye\n"
    );
    assert!(!text.contains("AHVzZXIAcGFzcw"));
    assert!(!text.contains("cGFzcw"));
    assert_eq!(h.to_string(), text);
    // The raw transcript keeps the bytes.
    assert!(h.written().windows(8).any(|w| w == b"cGFzcw=="));
}

#[test]
fn transcript_escapes_odd_bytes() {
    let (mut t, h) = Script::new()
        .read("220 caf\u{e9}\r\n")
        .write(b"NO\x00OP\n")
        .read(b"250 \xff\r\n")
        .build();
    read(&mut t, 64).unwrap();
    write_all(&mut t, b"NO\x00OP\n").unwrap();
    read(&mut t, 64).unwrap();
    h.assert_done();
    assert_eq!(
        h.transcript_text(),
        "S: 220 caf\u{e9}\nC: NO\\x00OP\\n\nS: 250 \\xff\n"
    );
}

#[test]
fn handles_are_shared_and_debuggable() {
    let (t, h) = Script::new().noop().build();
    let h2 = t.handle();
    let h3 = h.clone();
    drop(t);
    assert_eq!(h2.remaining_steps(), 2);
    assert_eq!(h3.remaining_steps(), 2);
    let debug = format!("{h:?}");
    assert!(debug.starts_with("MockHandle { steps: 2, position: 0"));
}

// ----- block_on ------------------------------------------------------------------------

/// Returns `Pending` once after waking itself, like a cooperative yield.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u8;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
        if self.0 {
            Poll::Ready(7)
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn block_on_runs_ready_and_self_waking_futures() {
    assert_eq!(block_on(async { 1 + 1 }), 2);
    assert_eq!(block_on(YieldOnce(false)), 7);
}

#[test]
#[should_panic(
    expected = "block_on: the future returned Poll::Pending, did not wake itself and waits for no virtual deadline"
)]
fn block_on_panics_on_a_future_that_never_wakes() {
    block_on(core::future::pending::<()>());
}

// ----- virtual time ------------------------------------------------------------------

use crate::clock;
use core::time::Duration;

const MIN: Duration = Duration::from_secs(60);

#[test]
fn a_delay_holds_the_read_for_exactly_its_virtual_time() {
    let (mut t, h) = Script::new()
        .write("NOOP\r\n")
        .delay(4 * MIN)
        .read("250 ok\r\n")
        .build();
    write_all(&mut t, b"NOOP\r\n").unwrap();
    let start = clock::now();
    assert_eq!(read(&mut t, 64).unwrap(), b"250 ok\r\n");
    assert_eq!(clock::now() - start, 4 * MIN);
    h.assert_done();
    assert_eq!(
        h.transcript_text(),
        "C: NOOP\n*** silence for 240s ***\nS: 250 ok\n"
    );
    assert_eq!(h.transcript()[1], Entry::Delay(4 * MIN));
}

#[test]
fn a_delay_starts_when_the_client_reaches_it() {
    let (mut t, h) = Script::new()
        .delay(MIN)
        .read("a")
        .delay(MIN)
        .read("b")
        .build();
    // Virtual time spent elsewhere before the first read does not count.
    block_on(clock::sleep(10 * MIN));
    let start = clock::now();
    assert_eq!(read(&mut t, 8).unwrap(), b"a");
    assert_eq!(read(&mut t, 8).unwrap(), b"b");
    assert_eq!(clock::now() - start, 2 * MIN);
    h.assert_done();
}

#[test]
fn a_write_that_reaches_a_delay_is_short_and_the_next_one_waits() {
    let (mut t, h) = Script::new()
        .write("abc")
        .delay(3 * MIN)
        .write("def")
        .build();
    let start = clock::now();
    assert_eq!(write(&mut t, b"abcdef").unwrap(), 3);
    assert_eq!(clock::now(), start);
    assert_eq!(write(&mut t, b"def").unwrap(), 3);
    assert_eq!(clock::now() - start, 3 * MIN);
    h.assert_done();
}

/// Polls `fut` until it is ready or the virtual clock passes `limit` (a minimal
/// version of the client's race).
fn race<F: Future>(fut: F, limit: Duration) -> Option<F::Output> {
    block_on(async {
        let mut fut = core::pin::pin!(fut);
        let mut timer = core::pin::pin!(clock::sleep(limit));
        core::future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            timer.as_mut().poll(cx).map(|()| None)
        })
        .await
    })
}

#[test]
fn a_stall_waits_until_the_racing_timer_and_counts_as_the_end_of_the_script() {
    let (mut t, h) = Script::new().read("220 hi\r\n").stall().build();
    assert_eq!(read(&mut t, 64).unwrap(), b"220 hi\r\n");
    let start = clock::now();
    let mut buf = [0u8; 8];
    assert!(race(t.read(&mut buf), 5 * MIN).is_none());
    assert_eq!(clock::now() - start, 5 * MIN);
    // Writes wait too (the server stopped reading).
    assert!(race(t.write(b"QUIT\r\n"), MIN).is_none());
    assert_eq!(clock::now() - start, 6 * MIN);
    assert!(h.written().is_empty());
    h.assert_done();
    assert_eq!(
        h.transcript_text(),
        "S: 220 hi\n*** silence from here on ***\n"
    );
}

#[test]
fn a_stall_not_reached_is_not_the_end() {
    let (_t, h) = Script::new().read("220 hi\r\n").stall().build();
    let err = h.finish().unwrap_err();
    assert!(err.contains("step 1 (server sends)"), "{err}");
}

#[test]
fn a_reply_ready_exactly_at_the_limit_wins_the_race() {
    let (mut t, _h) = Script::new().delay(5 * MIN).read("ok").build();
    let mut buf = [0u8; 8];
    assert_eq!(race(t.read(&mut buf), 5 * MIN).unwrap().unwrap(), 2);
    let (mut t, _h) = Script::new().delay(5 * MIN).read("ok").build();
    let start = clock::now();
    assert!(race(t.read(&mut buf), 5 * MIN - Duration::from_millis(1)).is_none());
    assert_eq!(clock::now() - start, 5 * MIN - Duration::from_millis(1));
}

#[test]
fn a_timer_that_loses_the_race_leaves_no_wake_up_behind() {
    let (mut t, _h) = Script::new().delay(MIN).read("ok").build();
    let mut buf = [0u8; 8];
    assert!(race(t.read(&mut buf), 10 * MIN).is_some());
    // The dropped 10-minute timer does not move the clock for the next wait.
    let start = clock::now();
    block_on(clock::sleep(Duration::from_secs(1)));
    assert_eq!(clock::now() - start, Duration::from_secs(1));
}

#[test]
fn the_transport_sleeps_on_the_virtual_clock() {
    let start = clock::now();
    block_on(<MockTransport as Transport>::sleep(Duration::from_millis(
        1500,
    )));
    assert_eq!(clock::now() - start, Duration::from_millis(1500));
    let s = clock::sleep(MIN);
    assert_eq!(s.deadline(), clock::now() + MIN);
}

#[test]
#[should_panic(expected = "waits for no virtual deadline")]
fn block_on_panics_on_a_stall_without_a_time_limit() {
    let (mut t, _h) = Script::new().stall().build();
    let _ = read(&mut t, 8);
}

#[test]
fn a_failed_transport_fails_at_once_even_at_a_stall() {
    let (mut t, h) = Script::new().write("a").stall().build();
    assert!(write(&mut t, b"x").is_err());
    // No wait: the mismatch is reported again.
    assert!(read(&mut t, 8).unwrap_err().is_mismatch());
    assert!(h.finish().is_err());
}
