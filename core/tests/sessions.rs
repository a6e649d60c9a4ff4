//! Complete sessions through the scripted mock: every byte the client writes is checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use wasm_smtp_core::{Capability, Mechanism};

#[test]
fn implicit_tls_plain_auth_one_message() {
    let (t, h) = tls(&["AUTH PLAIN LOGIN", "SIZE 1000000", "8BITMIME"])
        .auth_plain("alice", "s3cret")
        // SIZE is offered: the message size (CRLF line ends, no stuffing) is declared.
        .command("MAIL FROM:<alice@example.com> SIZE=22", "250 2.1.0 Ok")
        .rcpt_to(TO)
        .data()
        .write(b"Subject: hi\r\n\r\nHello\r\n.\r\n")
        .read(b"250 2.0.0 Ok: queued as 4F2A1\r\n")
        .quit()
        .build();
    let mut c = connect(t).unwrap();
    assert!(c.is_encrypted());
    assert_eq!(c.capabilities().size_limit(), Some(1_000_000));
    assert!(c.capabilities().has(Capability::EightBitMime));
    block_on(c.login("alice", "s3cret")).unwrap();
    let out = send(&mut c, &[TO], MSG).unwrap();
    assert!(out.all_accepted());
    assert_eq!(out.reply.code.get(), 250);
    assert_eq!(out.reply.enhanced.unwrap().to_string(), "2.0.0");
    assert_eq!(out.reply.text.as_str(), "Ok: queued as 4F2A1");
    block_on(c.quit()).unwrap();
    h.assert_done();
    assert_eq!(h.round_trips(), 7);
}

#[test]
fn starttls_then_login_and_capabilities_are_relearned() {
    // Before TLS the server offers PLAIN; after TLS only LOGIN. The client must use what
    // the encrypted session offers.
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS", "AUTH PLAIN", "SIZE 10"])
        .starttls()
        .ehlo(D, &["AUTH LOGIN"])
        .auth_login("alice", "s3cret")
        .quit()
        .build();
    let mut c = connect(t).unwrap();
    assert!(c.is_encrypted());
    assert!(!c.capabilities().has(Capability::StartTls));
    assert_eq!(c.capabilities().size_limit(), None);
    assert!(!c
        .capabilities()
        .auth_mechanisms()
        .contains(Mechanism::Plain));
    block_on(c.login("alice", "s3cret")).unwrap();
    block_on(c.quit()).unwrap();
    h.assert_done();
    let text = h.transcript_text();
    assert!(text.contains("*** TLS ***"), "{text}");
    assert!(!text.contains("czNjcmV0"), "secret in transcript: {text}");
}

#[test]
#[cfg(feature = "auth-oauth")]
fn xoauth2() {
    let (t, h) = tls(&["AUTH XOAUTH2 PLAIN"])
        .auth_xoauth2("alice@example.com", "ya29.token")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login_xoauth2("alice@example.com", "ya29.token")).unwrap();
    h.assert_done();
}

#[test]
#[cfg(feature = "auth-oauth")]
fn xoauth2_failure_answers_the_error_challenge_then_fails() {
    let (t, h) = tls(&["AUTH XOAUTH2"])
        .write_until(b"\r\n")
        .read(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n")
        .write(b"\r\n")
        .read(b"535 5.7.8 Username and Password not accepted\r\n")
        .noop()
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_xoauth2("alice@example.com", "expired")).unwrap_err();
    match e {
        SmtpError::Auth(AuthError::Rejected(r)) => {
            assert_eq!(r.code.get(), 535);
            assert_eq!(r.enhanced.unwrap().to_string(), "5.7.8");
            assert!(e.is_permanent());
        }
        other => panic!("{other:?}"),
    }
    // The connection stays usable after a failed AUTH.
    block_on(c.noop()).unwrap();
    h.assert_done();
}

#[test]
fn many_messages_on_one_connection() {
    let mut s = tls(&[]);
    for _ in 0..5 {
        s = delivery(s, &[TO]);
    }
    let (t, h) = s.quit().build();
    let mut c = connect(t).unwrap();
    for _ in 0..5 {
        send(&mut c, &[TO], MSG).unwrap();
    }
    block_on(c.quit()).unwrap();
    h.assert_done();
}

#[test]
fn helo_fallback_when_tls_disabled() {
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"502 5.5.1 Command not implemented\r\n")
        .helo(D)
        .build();
    let c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    assert_eq!(*c.capabilities(), wasm_smtp_core::Capabilities::new());
    h.assert_done();
}

#[test]
fn no_helo_fallback_when_tls_required() {
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"502 5.5.1 Command not implemented\r\n")
        .build();
    let e = connect(t).unwrap_err();
    assert!(rejected(Stage::Ehlo, 502)(&e), "{e:?}");
    h.assert_done();
}

#[test]
fn login_after_helo_is_refused_before_writing() {
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"500 what\r\n")
        .helo(D)
        .build();
    let mut c = connect_with(
        t,
        Config::new()
            .tls(TlsPolicy::Disabled)
            .allow_plaintext_auth(true),
    )
    .unwrap();
    assert_eq!(
        block_on(c.login("u", "p")),
        Err(SmtpError::ExtensionUnavailable(Extension::Auth))
    );
    h.assert_done();
}

#[test]
fn one_byte_reads_give_the_same_session() {
    let (t, h) = tls(&["PIPELINING", "AUTH PLAIN"])
        .max_read_size(1)
        .auth_plain("alice", "pw")
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
        .read("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n")
        .message("Subject: hi\r\n\r\nHello\r\n.\r\n")
        .quit()
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login("alice", "pw")).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    block_on(c.quit()).unwrap();
    h.assert_done();
}

#[test]
fn replies_cut_at_every_byte() {
    // The whole server side of a session, cut into two reads at every offset of the EHLO
    // reply, including between CR and LF.
    let ehlo_reply: &[u8] = b"250-mx.example.com\r\n250-SIZE 5000\r\n250 AUTH PLAIN\r\n";
    for cut in 1..ehlo_reply.len() {
        let (t, h) = Script::new()
            .implicit_tls()
            .greeting()
            .write(b"EHLO client.example.com\r\n")
            .read(&ehlo_reply[..cut])
            .read(&ehlo_reply[cut..])
            .quit()
            .build();
        let mut c = connect(t).unwrap_or_else(|e| panic!("cut {cut}: {e:?}"));
        assert_eq!(c.capabilities().size_limit(), Some(5000), "cut {cut}");
        block_on(c.quit()).unwrap();
        h.assert_done();
    }
}

#[test]
fn several_replies_in_one_read_are_refused_when_unsolicited() {
    // The greeting and an EHLO reply before EHLO was sent: an early talker.
    let (t, h) = Script::new()
        .implicit_tls()
        .read(b"220 mx ESMTP\r\n250 mx\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::UnsolicitedReply)
    );
    h.assert_done();
}

#[test]
fn streaming_body_from_a_reader() {
    // A body larger than both buffers, read in pieces, with bare LFs and leading dots.
    let mut body = String::from("Subject: big\n\n");
    for i in 0..400 {
        body.push_str(&format!(".line {i} with some text to make it longer\n"));
    }
    let mut wire = String::new();
    for line in body.split_inclusive('\n') {
        let line = line.trim_end_matches('\n');
        if line.starts_with('.') {
            wire.push('.');
        }
        wire.push_str(line);
        wire.push_str("\r\n");
    }
    wire.push_str(".\r\n");
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .message(&wire)
        .build();
    let mut c = connect(t).unwrap();
    let mut reader = body.as_bytes();
    block_on(c.send_mail_from_reader(FROM, &[TO], &mut reader)).unwrap();
    h.assert_done();
}

#[test]
fn bytes_body_with_8bit_content_passes_unchanged() {
    let body: &[u8] = b"Subject: caf\xc3\xa9\r\n\r\n\xff\xfe binary-ish\r\n";
    let mut wire = body.to_vec();
    wire.extend_from_slice(b".\r\n");
    let (t, h) = tls(&["8BITMIME"])
        .command(
            "MAIL FROM:<alice@example.com> BODY=8BITMIME",
            "250 2.1.0 Ok",
        )
        .rcpt_to(TO)
        .data()
        .message(&wire)
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.send_mail_bytes(FROM, &[TO], body)).unwrap();
    h.assert_done();
}

#[test]
fn empty_body_and_null_sender() {
    let (t, h) = tls(&[])
        .write(b"MAIL FROM:<>\r\n")
        .read(b"250 ok\r\n")
        .rcpt_to(TO)
        .data()
        .message(".\r\n")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.send_mail("", &[TO], "")).unwrap();
    h.assert_done();
}

#[test]
fn smtputf8_addresses_need_the_extension() {
    let (t, h) = tls(&["SMTPUTF8"])
        .write("MAIL FROM:<jürgen@bücher.de> SMTPUTF8\r\n")
        .read(b"250 ok\r\n")
        .rcpt_to(TO)
        .data()
        .message("Subject: hi\r\n\r\nHello\r\n.\r\n")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.send_mail("jürgen@bücher.de", &[TO], MSG)).unwrap();
    h.assert_done();

    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.send_mail(FROM, &[TO, "ü@example.com"], MSG)),
        Err(SmtpError::InvalidInput {
            field: InputField::To(1),
            reason: InvalidReason::NonAscii
        })
    );
    h.assert_done();
}

#[test]
fn rset_and_noop() {
    let (t, h) = tls(&[]).noop().rset().build();
    let mut c = connect(t).unwrap();
    assert_eq!(block_on(c.noop()).unwrap().code.get(), 250);
    assert_eq!(block_on(c.rset()).unwrap().code.get(), 250);
    h.assert_done();
}

#[test]
fn quit_hands_the_transport_back_and_closed_session_writes_nothing() {
    let (t, h) = tls(&[]).quit().build();
    let mut c = connect(t).unwrap();
    block_on(c.quit()).unwrap();
    assert!(c.is_closed());
    // A second QUIT writes nothing.
    block_on(c.quit()).unwrap();
    let transport = c.into_inner();
    assert!(wasm_smtp_core::Transport::is_encrypted(&transport));
    h.assert_done();
}

#[test]
fn custom_buffer_sizes() {
    let (t, h) = tls(&[]).build();
    let c = block_on(SmtpClient::<_, 512, 64>::connect_sized(t, D, Config::new())).unwrap();
    assert!(c.is_encrypted());
    h.assert_done();
    assert!(core::mem::size_of::<SmtpClient<MockTransport, 512, 64>>() < 1024);
}

#[test]
fn quit_closes_the_transport_once_and_after_a_failure_too() {
    let (t, h) = tls(&[]).quit().build();
    let mut c = connect(t).unwrap();
    assert_eq!(h.close_calls(), 0);
    block_on(c.quit()).unwrap();
    assert_eq!(h.close_calls(), 1);
    h.assert_done();

    // A session closed by 421: no QUIT is written, the transport is closed all the same.
    let (t, h) = tls(&[])
        .write(b"NOOP\r\n")
        .read(b"421 4.3.2 bye\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert!(block_on(c.noop()).is_err());
    block_on(c.quit()).unwrap();
    assert_eq!(h.close_calls(), 1);
    h.assert_done();
}

/// NOOP against `script` (after the greeting and EHLO) must fail and close the session
/// without a panic, the script played to its end; returns the error.
fn noop_fails_closed(script: Script) -> SmtpError {
    let (t, h) = script.build();
    let mut c = connect(t).unwrap();
    let err = block_on(c.noop()).unwrap_err();
    assert!(c.is_closed(), "the session is still open after {err:?}");
    h.assert_done();
    err
}

#[test]
fn a_write_that_makes_no_progress_is_an_io_error_not_a_panic() {
    // `embedded-io-async`'s default `write_all` panics on `Ok(0)`; the client must not.
    let err = noop_fails_closed(tls(&[]).write_zero());
    assert_eq!(err, SmtpError::Io(ErrorKind::WriteZero));
}

#[test]
fn a_write_count_past_the_buffer_is_an_io_error_not_taken_as_sent() {
    let err = noop_fails_closed(tls(&[]).write_count_past_buffer());
    assert_eq!(err, SmtpError::Io(ErrorKind::InvalidData));
}

#[test]
fn a_read_count_past_the_buffer_is_an_io_error_not_a_panic() {
    let err = noop_fails_closed(tls(&[]).write("NOOP\r\n").read_count_past_buffer());
    assert_eq!(err, SmtpError::Io(ErrorKind::InvalidData));
}

/// A message source that reports one byte more than the buffer it was given.
struct LyingReader;

impl wasm_smtp_core::io::ErrorType for LyingReader {
    type Error = ErrorKind;
}

impl wasm_smtp_core::io::Read for LyingReader {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(buf.len() + 1)
    }
}

#[test]
fn a_body_read_count_past_the_buffer_abandons_the_message_without_a_panic() {
    let (t, h) = tls(&[]).mail_from(FROM).rcpt_to(TO).data().build();
    let mut c = connect(t).unwrap();
    let err = block_on(c.send_mail_from_reader(FROM, &[TO], &mut LyingReader)).unwrap_err();
    assert_eq!(err, SmtpError::BodySource(ErrorKind::InvalidData));
    // Nothing of the message was written: the server never sees an end of data.
    assert!(c.is_closed());
    h.assert_done();
}
