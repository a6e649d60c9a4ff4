//! Mail transactions (RFC 5321 section 3.3): refused recipients are reported, never
//! silently dropped; a message is reported as sent only after the 250 to the end of
//! data; a failed transaction is reset so the connection can be reused; error texts
//! say what happened.

use crate::common::*;

/// RFC 5321 section 3.3 (each RCPT is answered on its own) and 4.1.1.3: one refused
/// recipient among accepted ones does not sink the others and is reported with its
/// code and enhanced status code (RFC 3463).
#[test]
fn one_rejected_recipient_among_accepted_ones_is_reported() {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to("a@example.com")
        .write(b"RCPT TO:<b@example.com>\r\n")
        .read(b"550 5.1.1 No such user\r\n")
        .rcpt_to("c@example.com")
        .data()
        .message("Subject: hi\r\n\r\nHello\r\n.\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let out = send(
        &mut c,
        &["a@example.com", "b@example.com", "c@example.com"],
        MSG,
    )
    .unwrap();
    assert_eq!(out.accepted_count(), 2);
    assert!(!out.all_accepted());
    assert_eq!(out.rejected().collect::<Vec<_>>(), [1]);
    let r = out.first_rejection().unwrap();
    assert_eq!((r.stage, r.code.get()), (Stage::RcptTo, 550));
    assert_eq!(r.enhanced.unwrap().to_string(), "5.1.1");
    h.assert_done();
}

/// RFC 5321 section 3.3 (DATA needs at least one accepted recipient) and 4.1.1.5
/// (RSET): when every recipient is refused, DATA is not sent, the transaction is reset
/// and the error counts the refusals.
#[test]
fn all_recipients_rejected_means_no_data_and_rset() {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .write(b"RCPT TO:<a@example.com>\r\n")
        .read(b"550 5.1.1 No\r\n")
        .write(b"RCPT TO:<b@example.com>\r\n")
        .read(b"450 4.2.0 Later\r\n")
        .rset()
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &["a@example.com", "b@example.com"], MSG).unwrap_err();
    assert!(matches!(
        e,
        SmtpError::RecipientsRejected {
            rejected: 2,
            total: 2,
            ..
        }
    ));
    h.assert_done();
}

/// RFC 5321 section 4.1.1.5 (RSET aborts the transaction): with
/// `require_all_recipients`, one refusal stops the message before DATA.
#[test]
fn all_or_nothing_mode() {
    let (t, h) = tls(&[])
        .mail_from(FROM)
        .rcpt_to("a@example.com")
        .write(b"RCPT TO:<b@example.com>\r\n")
        .read(b"550 no\r\n")
        .rset()
        .build();
    let mut c = connect_with(t, Config::new().require_all_recipients(true)).unwrap();
    let e = send(&mut c, &["a@example.com", "b@example.com"], MSG).unwrap_err();
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

/// RFC 5321 section 4.1.1.2 (MAIL refused) and 4.1.1.5: a transient refusal of MAIL
/// FROM is reported as such, RSET follows, the next message goes through.
#[test]
fn mail_from_451_then_reset_and_reuse() {
    let s = tls(&[])
        .write(b"MAIL FROM:<alice@example.com>\r\n")
        .read(b"451 4.3.0 try later\r\n")
        .rset();
    let (t, h) = delivery(s, &[TO]).build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::MailFrom, 451)(&e) && e.is_transient());
    send(&mut c, &[TO], MSG).unwrap();
    h.assert_done();
}

/// RFC 5321 section 4.1.1.4 (DATA refused, 554) and 4.1.1.5: permanent refusal of
/// DATA, no body sent, RSET follows, the next message goes through.
#[test]
fn data_554_then_reset_and_reuse() {
    let s = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .write(b"DATA\r\n")
        .read(b"554 5.5.1 no valid recipients\r\n")
        .rset();
    let (t, h) = delivery(s, &[TO]).build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::Data, 554)(&e) && e.is_permanent());
    send(&mut c, &[TO], MSG).unwrap();
    h.assert_done();
}

/// RFC 5321 section 4.1.1.4 (the reply to the end of data ends the transaction either
/// way): a 552 after the body is reported, not sent; no RSET is needed, the next
/// message goes through, then QUIT.
#[test]
fn end_of_data_552_needs_no_reset() {
    let s = tls(&[])
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .write(b"Subject: hi\r\n\r\nHello\r\n.\r\n")
        .read(b"552 5.3.4 too big\r\n");
    let (t, h) = delivery(s, &[TO]).quit().build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::DataEnd, 552)(&e));
    send(&mut c, &[TO], MSG).unwrap();
    block_on(c.quit()).unwrap();
    h.assert_done();
}

/// RFC 5321 section 4.2 and RFC 3463 (code and enhanced code) with CWE-532: error
/// texts name the command, the code and the enhanced code, never the values behind
/// them.
#[test]
fn error_texts_are_clear() {
    let e = SmtpError::Rejected(Rejection {
        stage: Stage::RcptTo,
        code: wasm_smtp_core::ReplyCode::new(550).unwrap(),
        enhanced: Some(wasm_smtp_core::EnhancedStatus {
            class: 5,
            subject: 1,
            detail: 1,
        }),
    });
    assert_eq!(e.to_string(), "RCPT TO rejected with 550 5.1.1");
    assert_eq!(
        SmtpError::Tls(TlsError::NotOffered).to_string(),
        "TLS required but the server does not offer STARTTLS"
    );
    assert_eq!(
        SmtpError::InvalidInput {
            field: InputField::To(3),
            reason: InvalidReason::ControlCharacter
        }
        .to_string(),
        "invalid recipient address #3: contains a control character"
    );
}

/// RFC 5321 sections 3.8 and 4.1.1.5: the RSET after a refused MAIL FROM is answered
/// with 421. The caller gets the refusal that ended the transaction (550), and the
/// session is closed by the 421: nothing more is written.
#[test]
fn reset_after_a_refusal_answered_421() {
    let (t, h) = tls(&[])
        .write(b"MAIL FROM:<alice@example.com>\r\n")
        .read(b"550 5.7.1 not you\r\n")
        .write(b"RSET\r\n")
        .read(b"421 4.3.2 bye\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::MailFrom, 550)(&e), "{e:?}");
    assert_closed_and_silent(&mut c, &h);
}

/// RFC 5321 section 3.8: the connection closes instead of answering the RSET after a
/// refused MAIL FROM. The caller gets the 550 that ended the transaction (a permanent
/// refusal must not turn into a transient connection error), the session is closed and
/// nothing more is written.
#[test]
fn reset_after_a_refusal_hits_end_of_stream() {
    let (t, h) = tls(&[])
        .write(b"MAIL FROM:<alice@example.com>\r\n")
        .read(b"550 5.7.1 not you\r\n")
        .write(b"RSET\r\n")
        .eof()
        .build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::MailFrom, 550)(&e), "{e:?}");
    assert_closed_and_silent(&mut c, &h);
}
