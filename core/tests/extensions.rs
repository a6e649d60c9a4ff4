//! SMTP service extensions through the scripted mock: PIPELINING (RFC 2920), CHUNKING
//! (RFC 3030), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461,
//! `dsn` feature), reply texts of rejections, and servers that advertise an extension
//! and then misbehave.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

const WIRE: &str = "Subject: hi\r\n\r\nHello\r\n";
const FLIGHT1: &str = "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n";

#[test]
fn pipelined_flight_with_one_refused_recipient() {
    let (t, h) = tls(&["PIPELINING"])
        .write(
            "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n\
             RCPT TO:<nobody@example.com>\r\nDATA\r\n",
        )
        .read("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.com>: no such user\r\n354 go\r\n")
        .message(format!("{WIRE}.\r\n"))
        .build();
    let mut c = connect(t).unwrap();
    let out = send(&mut c, &[TO, "nobody@example.com"], MSG).unwrap();
    assert_eq!(out.accepted_count(), 1);
    assert!(!out.is_accepted(1));
    let first = out.first_rejection().unwrap();
    assert_eq!((first.stage, first.code.get()), (Stage::RcptTo, 550));
    assert_eq!(first.enhanced.unwrap().to_string(), "5.1.1");
    assert_eq!(
        out.first_rejection_text(),
        "<nobody@example.com>: no such user"
    );
    h.assert_done();
    assert_eq!(h.round_trips(), 1 + 2);
}

#[test]
fn pipelined_all_recipients_refused_and_data_554_is_consumed_then_rset() {
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("250 2.1.0 Ok\r\n550 5.1.1 no\r\n554 5.5.1 Error: no valid recipients\r\n")
        .rset()
        .noop()
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(
        matches!(e, SmtpError::RecipientsRejected { rejected: 1, total: 1, first } if first.code.get() == 550),
        "{e:?}"
    );
    assert_eq!(c.rejection_text(), "no");
    // The connection is in step: the next command gets its own reply.
    block_on(c.noop()).unwrap();
    h.assert_done();
}

#[test]
fn pipelined_all_recipients_refused_but_data_354_sends_only_the_dot() {
    // RFC 2920 section 3.1: DATA accepted although no recipient was: end the (empty)
    // message at once, send no content and no RSET.
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("250 2.1.0 Ok\r\n550 5.1.1 no\r\n354 go ahead\r\n")
        .write(".\r\n")
        .read("554 5.5.1 no valid recipients\r\n")
        .noop()
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(
        matches!(e, SmtpError::RecipientsRejected { rejected: 1, .. }),
        "{e:?}"
    );
    block_on(c.noop()).unwrap();
    h.assert_done();
    assert!(!String::from_utf8_lossy(&h.written()).contains("Hello"));
}

#[test]
fn pipelined_mail_refused_consumes_every_reply_then_rset() {
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("553 5.1.8 sender refused\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::MailFrom, 553)(&e), "{e:?}");
    assert_eq!(c.rejection_text(), "sender refused");
    h.assert_done();
}

#[test]
fn pipelined_data_refused_is_reported_then_rset() {
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::Data, 451)(&e), "{e:?}");
    assert!(e.is_transient());
    h.assert_done();
}

#[test]
fn pipelined_421_in_the_middle_closes_without_writing() {
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("250 ok\r\n421 4.3.2 shutting down\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::RcptTo, 421)(&e), "{e:?}");
    assert!(c.is_closed());
    h.assert_done();
}

#[test]
fn pipelining_misbehaviour_is_caught() {
    // An extra reply after the flight.
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("250 ok\r\n250 ok\r\n354 go\r\n250 surprise\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        send(&mut c, &[TO], MSG),
        Err(SmtpError::Protocol(ProtocolViolation::UnsolicitedReply))
    );
    h.assert_done();
    assert!(h.writes_after_failure().is_empty());
    // A 354 where RCPT's reply belongs.
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("250 ok\r\n354 go\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        send(&mut c, &[TO], MSG),
        Err(SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::RcptTo,
            code: 354
        }))
    );
    h.assert_done();
    // The server closes the connection half-way through the replies.
    let (t, h) = tls(&["PIPELINING"])
        .write(FLIGHT1)
        .read("250 ok\r\n")
        .eof()
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(send(&mut c, &[TO], MSG), Err(SmtpError::ConnectionClosed));
    h.assert_done();
}

#[test]
fn pipelining_can_be_turned_off() {
    let s = delivery(tls(&["PIPELINING", "CHUNKING"]), &[TO]).build();
    let (t, h) = s;
    let config = Config::new().pipelining(false);
    #[cfg(feature = "chunking")]
    let config = config.chunking(false);
    let mut c = connect_with(t, config).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    h.assert_done();
    assert_eq!(h.round_trips(), 1 + 4);
}

#[test]
fn a_hundred_recipients_in_one_flight_through_a_512_byte_buffer() {
    let to: Vec<String> = (0..100)
        .map(|i| format!("user{i:03}@example.com"))
        .collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let mut flight = String::from("MAIL FROM:<alice@example.com>\r\n");
    let mut replies = String::from("250 ok\r\n");
    for (i, t) in to.iter().enumerate() {
        flight.push_str(&format!("RCPT TO:<{t}>\r\n"));
        replies.push_str(if i == 42 {
            "550 5.1.1 no\r\n"
        } else {
            "250 ok\r\n"
        });
    }
    flight.push_str("DATA\r\n");
    replies.push_str("354 go\r\n");
    assert!(flight.len() > 512);
    let (t, h) = tls(&["PIPELINING"])
        .write(&flight)
        .read(&replies)
        .message(format!("{WIRE}.\r\n"))
        .build();
    let mut c = connect(t).unwrap();
    let out = send(&mut c, &to, MSG).unwrap();
    assert_eq!(out.accepted_count(), 99);
    assert_eq!(out.rejected().collect::<Vec<_>>(), [42]);
    h.assert_done();
    assert_eq!(h.round_trips(), 1 + 2);
}

#[test]
fn all_or_nothing_keeps_data_out_of_the_flight() {
    let (t, h) = tls(&["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<c@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n550 no\r\n")
        .rset()
        .build();
    let mut c = connect_with(t, Config::new().require_all_recipients(true)).unwrap();
    let e = send(&mut c, &[TO, "c@example.com"], MSG).unwrap_err();
    assert!(matches!(
        e,
        SmtpError::RecipientsRejected {
            rejected: 1,
            total: 2,
            ..
        }
    ));
    h.assert_done();
}

// ----- CHUNKING ----------------------------------------------------------------------

/// The first message on a PIPELINING + CHUNKING connection: the envelope in one flight,
/// then `BDAT n LAST` (the message joins the flight only once a MAIL FROM was accepted).
fn first_bdat_message(s: Script) -> Script {
    s.write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n")
        .write(format!("BDAT 22 LAST\r\n{WIRE}"))
        .read("250 2.0.0 queued\r\n")
}

#[test]
#[cfg(feature = "chunking")]
fn chunking_with_pipelining_is_one_flight_without_dot_stuffing() {
    let body = "Subject: dots\n\n.leading dot\n..two\nbare cr\rend";
    let wire = "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nbare cr\r\nend\r\n";
    assert_eq!(
        wasm_smtp_core::data::message_size(body.as_bytes()),
        wire.len() as u64
    );
    let (t, h) = first_bdat_message(tls(&["PIPELINING", "CHUNKING"]))
        .write(format!(
            "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT {} LAST\r\n{wire}",
            wire.len()
        ))
        .read("250 ok\r\n250 ok\r\n250 2.0.0 queued as X1\r\n")
        .build();
    let mut c = connect(t).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    assert_eq!(h.round_trips(), 1 + 2);
    let out = send(&mut c, &[TO], body).unwrap();
    assert_eq!(out.reply.text.as_str(), "queued as X1");
    h.assert_done();
    assert_eq!(h.round_trips(), 1 + 2 + 1);
}

#[test]
#[cfg(feature = "chunking")]
fn chunking_without_pipelining_waits_for_each_command() {
    let (t, h) = tls(&["CHUNKING"])
        .mail_from(FROM)
        .rcpt_to(TO)
        .write(format!("BDAT 22 LAST\r\n{WIRE}"))
        .read("250 2.0.0 queued\r\n")
        .build();
    let mut c = connect(t).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    h.assert_done();
    assert_eq!(h.round_trips(), 1 + 3);
}

#[test]
#[cfg(feature = "chunking")]
fn a_message_larger_than_the_buffer_goes_after_the_envelope() {
    // 20 lines of 98 octets + CRLF: 2000 octets, more than the 512-byte buffer.
    let body = format!("{}\r\n", "x".repeat(98)).repeat(20);
    let wire = body.clone();
    let (t, h) = tls(&["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n")
        .write(format!("BDAT 2000 LAST\r\n{wire}"))
        .read("250 ok\r\n")
        .build();
    let mut c = connect(t).unwrap();
    send(&mut c, &[TO], &body).unwrap();
    h.assert_done();
    assert_eq!(h.round_trips(), 1 + 2);
}

#[test]
#[cfg(feature = "chunking")]
fn first_message_refused_by_a_server_that_would_not_skip_a_chunk() {
    // Postfix with `smtpd_tls_security_level = encrypt`, in plaintext: every command is
    // refused before it is parsed, so a pipelined chunk would be read as commands. The
    // first flight holds only the envelope.
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("530 5.7.0 Must issue a STARTTLS command first\r\n".repeat(2))
        .rset()
        .build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Opportunistic)).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::MailFrom, 530)(&e), "{e:?}");
    h.assert_done();
}

#[test]
#[cfg(feature = "chunking")]
fn refused_bdat_is_reported_then_rset() {
    let (t, h) = first_bdat_message(tls(&["PIPELINING", "CHUNKING"]))
        .write(format!(
            "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 22 LAST\r\n{WIRE}"
        ))
        .read("250 ok\r\n250 ok\r\n552 5.3.4 message too big\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::DataEnd, 552)(&e), "{e:?}");
    assert_eq!(c.rejection_text(), "message too big");
    h.assert_done();
}

#[test]
#[cfg(feature = "chunking")]
fn bdat_in_the_flight_with_every_recipient_refused() {
    let (t, h) = first_bdat_message(tls(&["PIPELINING", "CHUNKING"]))
        .write(format!(
            "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 22 LAST\r\n{WIRE}"
        ))
        .read("250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(matches!(e, SmtpError::RecipientsRejected { .. }), "{e:?}");
    h.assert_done();
}

#[test]
#[cfg(feature = "chunking")]
fn chunking_advertised_but_bdat_answered_wrongly() {
    // 354 to BDAT: a protocol violation, nothing more is written.
    let (t, h) = tls(&["CHUNKING"])
        .mail_from(FROM)
        .rcpt_to(TO)
        .write(format!("BDAT 22 LAST\r\n{WIRE}"))
        .read("354 go ahead\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        send(&mut c, &[TO], MSG),
        Err(SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::DataEnd,
            code: 354
        }))
    );
    h.assert_done();
    assert!(h.writes_after_failure().is_empty());
    // BDAT unknown after all (502): a refusal, then RSET.
    let (t, h) = tls(&["CHUNKING"])
        .mail_from(FROM)
        .rcpt_to(TO)
        .write(format!("BDAT 22 LAST\r\n{WIRE}"))
        .read("502 5.5.2 command not recognized\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    assert!(rejected(Stage::DataEnd, 502)(
        &send(&mut c, &[TO], MSG).unwrap_err()
    ));
    h.assert_done();
}

/// A reader that returns the given pieces one per read.
struct Pieces<'a>(std::collections::VecDeque<&'a [u8]>);

impl embedded_io_async::ErrorType for Pieces<'_> {
    type Error = embedded_io_async::ErrorKind;
}

impl embedded_io_async::Read for Pieces<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let Some(p) = self.0.pop_front() else {
            return Ok(0);
        };
        let n = p.len().min(buf.len());
        buf[..n].copy_from_slice(&p[..n]);
        if n < p.len() {
            self.0.push_front(&p[n..]);
        }
        Ok(n)
    }
}

fn pieces<'a>(p: &[&'a [u8]]) -> Pieces<'a> {
    Pieces(p.iter().copied().collect())
}

#[test]
#[cfg(feature = "chunking")]
fn streamed_body_one_chunk_per_read_then_last() {
    let (t, h) = tls(&["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n")
        // The CR at the end of the first read waits for the next byte.
        .write("BDAT 12\r\nSubject: .hiBDAT 4\r\n\r\n\r\nBDAT 5\r\nHelloBDAT 2 LAST\r\n\r\n")
        .read("250 ok\r\n250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let mut r = pieces(&[b"Subject: .hi\r", b"\n\n", b"Hello"]);
    block_on(c.send_mail_from_reader(FROM, &[TO], &mut r))
        .unwrap_or_else(|e| panic!("{e:?}: {:?}", h.failure()));
    h.assert_done();
    assert_eq!(h.round_trips(), 1 + 2);
    // A body that ends with a line end: `BDAT 0 LAST`.
    let (t, h) = tls(&["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n")
        .write("BDAT 5\r\nx\r\n\r\nBDAT 0 LAST\r\n")
        .read("250 ok\r\n250 2.0.0 queued\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let mut r = pieces(&[b"x\n\n"]);
    block_on(c.send_mail_from_reader(FROM, &[TO], &mut r))
        .unwrap_or_else(|e| panic!("{e:?}: {:?}", h.failure()));
    h.assert_done();
}

#[test]
#[cfg(feature = "chunking")]
fn streamed_chunks_wait_for_replies_when_the_window_is_full() {
    let mut s = tls(&["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n");
    let mut first = String::new();
    for _ in 0..8 {
        first.push_str("BDAT 1\r\na");
    }
    s = s.write(first).read("250 ok\r\n");
    s = s.write("BDAT 1\r\na").read("250 ok\r\n");
    s = s
        .write("BDAT 2 LAST\r\n\r\n")
        // Seven chunks still unanswered, and the last one.
        .read("250 ok\r\n".repeat(7) + "250 queued\r\n");
    let (t, h) = s.build();
    let mut c = connect(t).unwrap();
    let mut r = pieces(&[&b"a"[..]; 9]);
    block_on(c.send_mail_from_reader(FROM, &[TO], &mut r))
        .unwrap_or_else(|e| panic!("{e:?}: {:?}", h.failure()));
    h.assert_done();
}

#[test]
#[cfg(feature = "chunking")]
fn streamed_chunk_replies_arriving_together_are_all_taken_before_reading_on() {
    // The window is full after eight chunks; the server answers all eight at once. The
    // seven replies behind the first must not be lost under the next piece of the body.
    let (t, h) = tls(&["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n")
        .write("BDAT 1\r\na".repeat(8))
        .read("250 ok\r\n".repeat(8))
        .write("BDAT 1\r\naBDAT 1\r\naBDAT 2 LAST\r\n\r\n")
        .read("250 ok\r\n250 ok\r\n250 queued\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let mut r = pieces(&[&b"a"[..]; 10]);
    block_on(c.send_mail_from_reader(FROM, &[TO], &mut r))
        .unwrap_or_else(|e| panic!("{e:?}: {:?}", h.failure()));
    h.assert_done();
}

#[test]
#[cfg(feature = "chunking")]
fn streamed_chunk_refused_stops_the_message_then_rset() {
    let mut s = tls(&["PIPELINING", "CHUNKING"])
        .write("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
        .read("250 ok\r\n250 ok\r\n");
    s = s
        .write("BDAT 1\r\na".repeat(8))
        .read("552 5.3.4 too much\r\n")
        // The other seven chunks' replies are read; no further chunk is sent.
        .read("503 5.5.1 discarded\r\n".repeat(7))
        .rset();
    let (t, h) = s.build();
    let mut c = connect(t).unwrap();
    let mut r = pieces(&[&b"a"[..]; 20]);
    let e = block_on(c.send_mail_from_reader(FROM, &[TO], &mut r)).unwrap_err();
    assert!(rejected(Stage::Bdat, 552)(&e), "{e:?}");
    h.assert_done();
}

#[test]
fn streamed_body_without_pipelining_uses_data() {
    let (t, h) = tls(&["CHUNKING"])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .message(format!("{WIRE}.\r\n"))
        .build();
    let mut c = connect(t).unwrap();
    let mut r = pieces(&[WIRE.as_bytes()]);
    block_on(c.send_mail_from_reader(FROM, &[TO], &mut r))
        .unwrap_or_else(|e| panic!("{e:?}: {:?}", h.failure()));
    h.assert_done();
}

// ----- SIZE, 8BITMIME, SMTPUTF8 ------------------------------------------------------

#[test]
fn size_is_declared_and_the_limit_enforced_before_writing() {
    let (t, h) = tls(&["SIZE 22"])
        .command("MAIL FROM:<alice@example.com> SIZE=22", "250 ok")
        .rcpt_to(TO)
        .data()
        .message(format!("{WIRE}.\r\n"))
        .build();
    let mut c = connect(t).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    h.assert_done();
    // One octet more (a bare LF counts as CRLF): refused, nothing written.
    let (t, h) = tls(&["SIZE 22"]).build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], "Subject: hi\n\nHello!\n").unwrap_err();
    assert_eq!(
        e,
        SmtpError::MessageTooLarge {
            size: 23,
            limit: 22
        }
    );
    assert!(e.is_permanent());
    h.assert_done();
    // SIZE without a limit: declared, never refused; no SIZE keyword: not declared.
    let (t, h) = tls(&["SIZE"])
        .command("MAIL FROM:<alice@example.com> SIZE=22", "250 ok")
        .rcpt_to(TO)
        .data()
        .message(format!("{WIRE}.\r\n"))
        .build();
    let mut c = connect(t).unwrap();
    send(&mut c, &[TO], MSG).unwrap();
    h.assert_done();
}

#[test]
fn eight_bit_body_needs_8bitmime() {
    let body: &[u8] = b"Subject: caf\xc3\xa9\r\n\r\nx\r\n";
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.send_mail_bytes(FROM, &[TO], body)),
        Err(SmtpError::ExtensionUnavailable(Extension::EightBitMime))
    );
    h.assert_done();
    // With CHUNKING too: BODY=8BITMIME and BDAT.
    #[cfg(feature = "chunking")]
    {
        let (t, h) = tls(&["8BITMIME", "CHUNKING", "SIZE"])
            .command(
                "MAIL FROM:<alice@example.com> SIZE=21 BODY=8BITMIME",
                "250 ok",
            )
            .rcpt_to(TO)
            .write(b"BDAT 21 LAST\r\n")
            .write(body)
            .read("250 ok\r\n")
            .build();
        let mut c = connect(t).unwrap();
        block_on(c.send_mail_bytes(FROM, &[TO], body))
            .unwrap_or_else(|e| panic!("{e:?}: {:?}", h.failure()));
        h.assert_done();
    }
}

#[test]
fn streamed_eight_bit_body_is_declared_by_the_caller() {
    let options = wasm_smtp_core::SendOptions::new().eight_bit_mime(true);
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    let mut r = pieces(&[b"x"]);
    assert_eq!(
        block_on(c.send_mail_from_reader_with(FROM, &[TO], &mut r, options)),
        Err(SmtpError::ExtensionUnavailable(Extension::EightBitMime))
    );
    h.assert_done();
    let (t, h) = tls(&["8BITMIME", "SIZE 10"])
        .command("MAIL FROM:<alice@example.com> BODY=8BITMIME", "250 ok")
        .rcpt_to(TO)
        .data()
        .message(b"\xc3\xa9\r\n.\r\n")
        .build();
    let mut c = connect(t).unwrap();
    // Streamed: no SIZE= and no limit check (the size is not known in advance).
    let mut r = pieces(&["\u{e9}\n".as_bytes()]);
    block_on(c.send_mail_from_reader_with(FROM, &[TO], &mut r, options)).unwrap();
    h.assert_done();
}

#[test]
fn utf8_addresses_with_every_parameter() {
    let (t, h) = tls(&["SMTPUTF8", "8BITMIME", "SIZE", "PIPELINING"])
        .write(
            "MAIL FROM:<jürgen@bücher.de> SIZE=22 SMTPUTF8\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
        )
        .read("250 ok\r\n250 ok\r\n354 go\r\n")
        .message(format!("{WIRE}.\r\n"))
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.send_mail("jürgen@bücher.de", &[TO], MSG)).unwrap();
    h.assert_done();
}

// ----- DSN ---------------------------------------------------------------------------

#[cfg(feature = "dsn")]
mod dsn {
    use super::*;
    use wasm_smtp_core::dsn::{Notify, Ret};
    use wasm_smtp_core::SendOptions;

    #[test]
    fn parameters_on_the_wire() {
        let (t, h) = tls(&["DSN", "PIPELINING"])
            .write(
                "MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ+2B314\r\n\
                 RCPT TO:<bob+x@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@example.com\r\n\
                 RCPT TO:<c@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@example.com\r\nDATA\r\n",
            )
            .read("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
            .message(format!("{WIRE}.\r\n"))
            .build();
        let mut c = connect(t).unwrap();
        let options = SendOptions::new()
            .ret(Ret::Headers)
            .envid("QQ+314")
            .notify(Notify::On {
                success: true,
                failure: true,
                delay: false,
            })
            .orcpt(true);
        block_on(c.send_mail_with(
            FROM,
            &["bob+x@example.com", "c@example.com"],
            MSG.as_bytes(),
            options,
        ))
        .unwrap();
        h.assert_done();
    }

    #[test]
    fn refused_before_writing_when_not_offered_or_invalid() {
        let (t, h) = tls(&["PIPELINING"]).build();
        let mut c = connect(t).unwrap();
        let never = SendOptions::new().notify(Notify::Never);
        assert_eq!(
            block_on(c.send_mail_with(FROM, &[TO], MSG.as_bytes(), never)),
            Err(SmtpError::ExtensionUnavailable(Extension::Dsn))
        );
        h.assert_done();
        let (t, h) = tls(&["DSN"]).build();
        let mut c = connect(t).unwrap();
        for (options, field) in [
            (
                SendOptions::new().envid("a\r\nRSET"),
                InputField::EnvelopeId,
            ),
            (SendOptions::new().envid(""), InputField::EnvelopeId),
            (
                SendOptions::new().notify(Notify::On {
                    success: false,
                    failure: false,
                    delay: false,
                }),
                InputField::Notify,
            ),
        ] {
            let e = block_on(c.send_mail_with(FROM, &[TO], MSG.as_bytes(), options)).unwrap_err();
            assert!(
                matches!(e, SmtpError::InvalidInput { field: f, .. } if f == field),
                "{e:?}"
            );
        }
        h.assert_done();
        assert!(h.written().ends_with(b"EHLO client.example.com\r\n"));
    }
}

// ----- round trips -------------------------------------------------------------------

/// Round trips (the client waits for the server) for one small message, by extension
/// set, recipients and connection state (fresh: counted from the greeting, so EHLO
/// included; reused: a message was delivered before on the connection); the table in
/// docs/src/protocol.md.
#[test]
fn round_trip_table() {
    let table: &[(&[&str], usize, bool, usize)] = &[
        // (keywords, recipients, fresh connection, round trips)
        (&[], 1, false, 4),
        (&[], 10, false, 13),
        (&["PIPELINING"], 1, false, 2),
        (&["PIPELINING"], 10, false, 2),
        (&["CHUNKING"], 1, false, 3),
        (&["CHUNKING"], 10, false, 12),
        (&["PIPELINING", "CHUNKING"], 1, false, 1),
        (&["PIPELINING", "CHUNKING"], 10, false, 1),
        (&[], 1, true, 5),
        (&[], 10, true, 14),
        (&["PIPELINING"], 1, true, 3),
        (&["PIPELINING"], 10, true, 3),
        (&["CHUNKING"], 1, true, 4),
        (&["CHUNKING"], 10, true, 13),
        (&["PIPELINING", "CHUNKING"], 1, true, 3),
        (&["PIPELINING", "CHUNKING"], 10, true, 3),
    ];
    let to: Vec<String> = (0..10).map(|i| format!("r{i}@example.com")).collect();
    for &(keywords, n, fresh, expected) in table {
        let to: Vec<&str> = to[..n].iter().map(String::as_str).collect();
        let pipelining = keywords.contains(&"PIPELINING");
        let chunking = keywords.contains(&"CHUNKING");
        if chunking && !cfg!(feature = "chunking") {
            // Without the feature CHUNKING is never used.
            continue;
        }
        let mut s = tls(keywords);
        if !fresh {
            // A first message, then the one counted.
            s = if pipelining && chunking {
                first_bdat_message(s)
            } else if chunking {
                s.mail_from(FROM)
                    .rcpt_to(TO)
                    .write(format!("BDAT 22 LAST\r\n{WIRE}"))
                    .read("250 ok\r\n")
            } else if pipelining {
                s.write(FLIGHT1)
                    .read("250 ok\r\n250 ok\r\n354 go\r\n")
                    .message(format!("{WIRE}.\r\n"))
            } else {
                delivery(s, &[TO])
            };
        }
        let mail = "MAIL FROM:<alice@example.com>\r\n".to_owned();
        let rcpts: Vec<String> = to.iter().map(|t| format!("RCPT TO:<{t}>\r\n")).collect();
        let end = if chunking {
            format!("BDAT 22 LAST\r\n{WIRE}")
        } else {
            "DATA\r\n".to_owned()
        };
        let verdict = if chunking {
            "250 queued\r\n"
        } else {
            "354 go\r\n"
        };
        if pipelining && chunking && fresh {
            s = s
                .write(mail + &rcpts.concat())
                .read("250 ok\r\n".repeat(n + 1))
                .write(end)
                .read(verdict);
        } else if pipelining {
            s = s
                .write(mail + &rcpts.concat() + &end)
                .read("250 ok\r\n".repeat(n + 1) + verdict);
        } else {
            s = s.write(mail).read("250 ok\r\n");
            for r in rcpts {
                s = s.write(r).read("250 ok\r\n");
            }
            s = s.write(end).read(verdict);
        }
        if !chunking {
            s = s.message(format!("{WIRE}.\r\n"));
        }
        let (t, h) = s.build();
        let config = Config::new();
        let mut c = connect_with(t, config).unwrap();
        let before = if fresh {
            0
        } else {
            send(&mut c, &[TO], MSG).unwrap();
            h.round_trips()
        };
        send(&mut c, &to, MSG).unwrap();
        h.assert_done();
        assert_eq!(
            h.round_trips() - before,
            expected,
            "{keywords:?}, {n} recipients, fresh {fresh}"
        );
    }
}
