//! Hostile servers and hostile arguments. Each test scripts exactly what the client may
//! write: `assert_done` fails if the client writes anything after the failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use wasm_smtp_core::io::ErrorKind;

// ---------------------------------------------------------------- STARTTLS (RFC 3207)

#[test]
fn starttls_stripped_offer_fails_when_required() {
    let (t, h) = Script::new().greeting().ehlo(D, &["AUTH PLAIN"]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::NotOffered)
    );
    h.assert_done();
}

#[test]
fn starttls_refused_fails_when_required() {
    for code in [454u16, 502, 501] {
        let (t, h) = Script::new()
            .greeting()
            .ehlo(D, &["STARTTLS"])
            .write(b"STARTTLS\r\n")
            .read(format!("{code} TLS not available\r\n"))
            .build();
        assert_eq!(
            connect(t).unwrap_err(),
            SmtpError::Tls(TlsError::Refused(code))
        );
        h.assert_done();
    }
}

#[test]
fn starttls_answered_with_a_positive_non_220_code_is_a_violation() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .write(b"STARTTLS\r\n")
        .read(b"250 sure\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::StartTls,
            code: 250
        })
    );
    h.assert_done();
}

#[test]
fn starttls_opportunistic_continues_in_plaintext_only_when_allowed() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .write(b"STARTTLS\r\n")
        .read(b"454 4.7.0 TLS not available\r\n")
        .noop()
        .build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Opportunistic)).unwrap();
    assert!(!c.is_encrypted());
    block_on(c.noop()).unwrap();
    // And still no AUTH in plaintext.
    h.assert_done();
}

#[test]
fn response_injection_with_the_220_is_fatal() {
    // CVE-2011-0411 class: commands' replies injected in plaintext after the 220.
    for extra in [
        &b"250-mx\r\n250 AUTH PLAIN\r\n"[..],
        b"250 ok\r\n",
        b"2",
        b"\r\n",
    ] {
        let mut read = b"220 2.0.0 Ready\r\n".to_vec();
        read.extend_from_slice(extra);
        let (t, h) = Script::new()
            .greeting()
            .ehlo(D, &["STARTTLS"])
            .write(b"STARTTLS\r\n")
            .read(read)
            .build();
        assert_eq!(
            connect(t).unwrap_err(),
            SmtpError::Protocol(ProtocolViolation::DataAfterStartTls),
            "{extra:?}"
        );
        // No upgrade and no further write happened.
        h.assert_done();
        assert!(!h.is_encrypted());
    }
}

#[test]
fn starttls_answered_with_421_closes_under_every_policy() {
    for policy in [TlsPolicy::Required, TlsPolicy::Opportunistic] {
        let (t, h) = Script::new()
            .greeting()
            .ehlo(D, &["STARTTLS"])
            .write(b"STARTTLS\r\n")
            .read(b"421 4.3.2 shutting down\r\n")
            .build();
        let e = connect_with(t, Config::new().tls(policy)).unwrap_err();
        assert!(rejected(Stage::StartTls, 421)(&e), "{e:?}");
        h.assert_done();
    }
}

#[test]
fn transport_that_stays_unencrypted_after_upgrade_is_refused() {
    let (t, h) = Script::new()
        .never_encrypted()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .starttls()
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::NotEncrypted)
    );
    h.assert_done();
}

#[test]
fn failed_handshake_is_a_tls_error() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .write(b"STARTTLS\r\n")
        .read(b"220 go\r\n")
        .upgrade_error(ErrorKind::ConnectionReset)
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::Handshake(ErrorKind::ConnectionReset))
    );
    h.assert_done();
}

#[test]
fn second_starttls_offer_after_tls_is_ignored() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .starttls()
        .ehlo(D, &["STARTTLS", "AUTH PLAIN"])
        .quit()
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.quit()).unwrap();
    h.assert_done();
}

#[test]
fn ehlo_refused_after_tls_fails() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS"])
        .starttls()
        .write(b"EHLO client.example.com\r\n")
        .read(b"554 no\r\n")
        .build();
    assert!(rejected(Stage::Ehlo, 554)(&connect(t).unwrap_err()));
    h.assert_done();
}

// ---------------------------------------------------------------- greeting

#[test]
fn every_non_220_greeting_fails_without_writing() {
    for (greeting, check) in [
        (
            &b"554 5.3.2 go away\r\n"[..],
            rejected(Stage::Greeting, 554),
        ),
        (b"421 4.3.2 busy\r\n", rejected(Stage::Greeting, 421)),
    ] {
        let (t, h) = Script::new().implicit_tls().read(greeting).build();
        let e = connect(t).unwrap_err();
        assert!(check(&e), "{e:?}");
        h.assert_done();
    }
    for greeting in [&b"250 hello\r\n"[..], b"354 what\r\n", b"235 ok\r\n"] {
        let (t, h) = Script::new().implicit_tls().read(greeting).build();
        assert!(matches!(
            connect(t).unwrap_err(),
            SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
                stage: Stage::Greeting,
                ..
            })
        ));
        h.assert_done();
    }
}

// ---------------------------------------------------------------- reply grammar

fn greeting_error(bytes: &[u8], eof: bool) -> SmtpError {
    let s = Script::new().implicit_tls().read(bytes);
    let (t, h) = if eof { s.eof() } else { s }.build();
    let e = connect(t).unwrap_err();
    h.assert_done();
    e
}

#[test]
fn hostile_reply_grammar() {
    use MalformedReply::*;
    let cases: &[(&[u8], SmtpError)] = &[
        (b"220-a\r\n250 b\r\n", SmtpError::MalformedReply(MixedCodes)),
        (b"120 hi\r\n", SmtpError::MalformedReply(CodeOutOfRange)),
        (b"620 hi\r\n", SmtpError::MalformedReply(CodeOutOfRange)),
        (b"22 hi\r\n", SmtpError::MalformedReply(BadCode)),
        (b"2200 hi\r\n", SmtpError::MalformedReply(BadCode)),
        (b"abc hi\r\n", SmtpError::MalformedReply(BadCode)),
        (b"220 a\nb\r\n", SmtpError::MalformedReply(BadLineEnding)),
        (b"220 a\rb\r\n", SmtpError::MalformedReply(BadLineEnding)),
        (b"220 a\0\r\n", SmtpError::MalformedReply(BadLineEnding)),
        (b"220-mx\r\n220-SIZE", SmtpError::ConnectionClosed),
        (b"", SmtpError::ConnectionClosed),
    ];
    for (bytes, expected) in cases {
        let eof = *expected == SmtpError::ConnectionClosed;
        assert_eq!(greeting_error(bytes, eof), *expected, "{bytes:?}");
    }
}

#[test]
fn overlong_line_is_refused_without_waiting_for_its_end() {
    let (t, h) = Script::new().implicit_tls().read(vec![b'2'; 3000]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::LineTooLong { limit: 1024 })
    );
    // The client stopped reading once its buffer was full: part of the step is unread.
    assert!(h.finish().is_err());
}

#[test]
fn endless_continuation_lines_are_capped() {
    let mut ehlo = b"250-mx\r\n".to_vec();
    for _ in 0..1000 {
        ehlo.extend_from_slice(b"250-X-PADDING\r\n");
    }
    let (t, _h) = Script::new()
        .implicit_tls()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(ehlo)
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::TooManyLines { limit: 128 })
    );
}

#[test]
fn non_utf8_reply_text_is_fine() {
    let (t, h) = Script::new()
        .implicit_tls()
        .read(b"220 \xff\xfe\x80 mx\r\n")
        .ehlo(D, &["\u{1F600}", "X-\u{ff}"])
        .build();
    connect(t).unwrap();
    h.assert_done();
}

#[test]
fn overflowing_size_is_malformed() {
    let (t, h) = tls(&["SIZE 99999999999999999999999"]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::BadCapability)
    );
    h.assert_done();
}

#[test]
fn hundreds_of_auth_mechanisms_and_empty_keywords() {
    let mut auth = String::from("AUTH");
    for i in 0..60 {
        auth.push_str(&format!(" X{i}"));
    }
    auth.push_str(" LOGIN");
    let (t, h) = tls(&["", &auth, " "]).build();
    let c = connect(t).unwrap();
    assert!(c
        .capabilities()
        .auth_mechanisms()
        .contains(wasm_smtp_core::Mechanism::Login));
    h.assert_done();
}

#[test]
fn reply_with_wrong_positive_code_mid_transaction() {
    let (t, h) = tls(&[])
        .write(b"MAIL FROM:<alice@example.com>\r\n")
        .read(b"354 go ahead\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert!(matches!(
        send(&mut c, &[TO], MSG).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::MailFrom,
            code: 354
        })
    ));
    assert_eq!(send(&mut c, &[TO], MSG), Err(SmtpError::SessionUnusable));
    h.assert_done();
}

// ---------------------------------------------------------------- injection through arguments

#[test]
fn injection_through_every_argument_writes_nothing() {
    let evil = [
        "x@y\r\nRCPT TO:<evil@z>",
        "x@y\nDATA",
        "x@y\r",
        "x@y>\u{20}SIZE=1",
        "x\u{0}@y",
        "x@y\u{85}",
        "x@y\u{2028}",
        "<x@y>",
    ];
    for bad in evil {
        let (t, h) = tls(&[]).build();
        let mut c = connect(t).unwrap();
        assert!(
            matches!(
                send_from(&mut c, bad, &[TO]),
                Err(SmtpError::InvalidInput {
                    field: InputField::From,
                    ..
                })
            ),
            "{bad:?}"
        );
        // A bad recipient after good ones: nothing at all is written.
        assert!(matches!(
            send(&mut c, &[TO, "ok@example.com", bad], MSG),
            Err(SmtpError::InvalidInput {
                field: InputField::To(2),
                ..
            })
        ));
        h.assert_done();
        // The EHLO domain.
        let (t, h) = Script::new().implicit_tls().build();
        assert!(matches!(
            block_on(SmtpClient::connect(t, bad)),
            Err(SmtpError::InvalidInput {
                field: InputField::EhloDomain,
                ..
            })
        ));
        h.assert_done();
    }
}

fn send_from(c: &mut Client, from: &str, to: &[&str]) -> Result<SendOutcome, SmtpError> {
    block_on(c.send_mail(from, to, MSG))
}

#[test]
fn injection_through_credentials_writes_nothing() {
    let (t, h) = tls(&["AUTH PLAIN LOGIN XOAUTH2"]).build();
    let mut c = connect(t).unwrap();
    let cases: [(&str, &str, InputField); 4] = [
        ("alice\0bob", "S3CR3T", InputField::Username),
        ("alice", "S3CR3T\0x", InputField::Secret),
        ("", "S3CR3T", InputField::Username),
        ("alice", "S3CR3T\r\n", InputField::Secret),
    ];
    for (i, (user, pass, field)) in cases.iter().enumerate() {
        let e = if i == 3 {
            block_on(c.login_xoauth2(user, pass)).unwrap_err()
        } else {
            block_on(c.login(user, pass)).unwrap_err()
        };
        assert!(
            matches!(e, SmtpError::InvalidInput { field: f, .. } if f == *field),
            "{e:?}"
        );
        // Neither Display nor Debug of the error shows the secret.
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("S3CR3T"), "{shown}");
    }
    h.assert_done();
}

#[test]
fn recipient_list_limits() {
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        send(&mut c, &[], MSG),
        Err(SmtpError::InvalidInput {
            field: InputField::Recipients,
            reason: InvalidReason::Empty
        })
    );
    let many = vec![TO; 101];
    assert_eq!(
        send(&mut c, &many, MSG),
        Err(SmtpError::InvalidInput {
            field: InputField::Recipients,
            reason: InvalidReason::TooMany(100)
        })
    );
    h.assert_done();
}

// ---------------------------------------------------------------- DATA smuggling

#[test]
fn smuggling_bodies_reach_the_wire_neutralized() {
    // (body, exact bytes on the wire)
    let cases: &[(&str, &str)] = &[
        (
            "a\n.\nMAIL FROM:<x@y>\n",
            "a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n",
        ),
        ("a\r\n.\nb", "a\r\n..\r\nb\r\n.\r\n"),
        ("a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"),
        ("a\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
        ("a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
        ("a\r\n.\rb", "a\r\n..\r\nb\r\n.\r\n"),
        ("trailing cr\r", "trailing cr\r\n.\r\n"),
        ("no newline", "no newline\r\n.\r\n"),
        (".", "..\r\n.\r\n"),
    ];
    for (body, wire) in cases {
        let (t, h) = tls(&[])
            .mail_from(FROM)
            .rcpt_to(TO)
            .data()
            .message(wire)
            .build();
        let mut c = connect(t).unwrap();
        send(&mut c, &[TO], body).unwrap();
        h.assert_done();
    }
}

#[test]
fn body_source_failure_abandons_the_message() {
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
    assert!(c.is_closed());
    assert_eq!(send(&mut c, &[TO], MSG), Err(SmtpError::SessionUnusable));
    h.assert_done();
}

// ---------------------------------------------------------------- AUTH

#[test]
fn plaintext_auth_is_refused_unless_opted_in() {
    let (t, h) = plain(&["AUTH PLAIN"]).build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    assert_eq!(
        block_on(c.login("alice", "pw")),
        Err(SmtpError::PlaintextAuth)
    );
    h.assert_done();

    let (t, h) = plain(&["AUTH PLAIN"]).auth_plain("alice", "pw").build();
    let mut c = connect_with(
        t,
        Config::new()
            .tls(TlsPolicy::Disabled)
            .allow_plaintext_auth(true),
    )
    .unwrap();
    block_on(c.login("alice", "pw")).unwrap();
    h.assert_done();
}

#[test]
fn endless_auth_challenges_are_cut_off() {
    let (t, h) = tls(&["AUTH LOGIN"])
        .write(b"AUTH LOGIN\r\n")
        .read(b"334 VXNlcm5hbWU6\r\n")
        .write(b"YWxpY2U=\r\n")
        .read(b"334 UGFzc3dvcmQ6\r\n")
        .write(b"cHc=\r\n")
        .read(b"334 UGFzc3dvcmQ6\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login("alice", "pw")),
        Err(SmtpError::Protocol(ProtocolViolation::TooManyChallenges))
    );
    assert!(c.is_closed());
    h.assert_done();
}

#[test]
fn challenge_after_plain_initial_response_is_cut_off() {
    let (t, h) = tls(&["AUTH PLAIN"])
        .write_until(b"\r\n")
        .read(b"334 \r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login("alice", "pw")),
        Err(SmtpError::Protocol(ProtocolViolation::TooManyChallenges))
    );
    h.assert_done();
}

#[test]
fn malformed_challenge() {
    let (t, h) = tls(&["AUTH LOGIN"])
        .write(b"AUTH LOGIN\r\n")
        .read(b"334 Username:\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login("alice", "pw")),
        Err(SmtpError::MalformedReply(MalformedReply::BadChallenge))
    );
    h.assert_done();
}

#[test]
fn auth_failure_replies() {
    for (reply, transient) in [
        (
            &b"535 5.7.8 Authentication credentials invalid\r\n"[..],
            false,
        ),
        (b"534 5.7.9 Please log in with your web browser\r\n", false),
        (b"454 4.7.0 Temporary authentication failure\r\n", true),
    ] {
        let (t, h) = tls(&["AUTH PLAIN"])
            .write_until(b"\r\n")
            .read(reply)
            .build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login("alice", "hunter2")).unwrap_err();
        assert!(
            matches!(e, SmtpError::Auth(AuthError::Rejected(_))),
            "{e:?}"
        );
        assert_eq!(e.is_transient(), transient);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("aHVudGVyMg"));
        h.assert_done();
    }
}

#[test]
fn no_common_mechanism() {
    // Token mechanisms are never chosen for a password; GSSAPI is unknown.
    let (t, h) = tls(&["AUTH XOAUTH2 OAUTHBEARER GSSAPI"]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login("alice", "pw")),
        Err(SmtpError::Auth(AuthError::NoCommonMechanism))
    );
    h.assert_done();
}

// ---------------------------------------------------------------- transactions

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

#[test]
fn failed_transaction_then_rset_leaves_connection_usable() {
    let s = tls(&[])
        .write(b"MAIL FROM:<alice@example.com>\r\n")
        .read(b"451 4.3.0 try later\r\n")
        .rset();
    let s = s
        .mail_from(FROM)
        .rcpt_to(TO)
        .write(b"DATA\r\n")
        .read(b"554 5.5.1 no valid recipients\r\n")
        .rset();
    let s = s
        .mail_from(FROM)
        .rcpt_to(TO)
        .data()
        .write(b"Subject: hi\r\n\r\nHello\r\n.\r\n")
        .read(b"552 5.3.4 too big\r\n");
    let (t, h) = delivery(s, &[TO]).quit().build();
    let mut c = connect(t).unwrap();
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::MailFrom, 451)(&e) && e.is_transient());
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::Data, 554)(&e) && e.is_permanent());
    let e = send(&mut c, &[TO], MSG).unwrap_err();
    assert!(rejected(Stage::DataEnd, 552)(&e));
    // After the end-of-data verdict the transaction is over: no RSET needed.
    send(&mut c, &[TO], MSG).unwrap();
    block_on(c.quit()).unwrap();
    h.assert_done();
}

#[test]
fn service_closing_421_at_every_stage_closes_cleanly() {
    type Step = fn(Script) -> Script;
    let stages: [(Stage, Step); 4] = [
        (Stage::MailFrom, |s| {
            s.write_until(b"\r\n").read(b"421 4.3.2 bye\r\n")
        }),
        (Stage::RcptTo, |s| {
            s.mail_from(FROM)
                .write_until(b"\r\n")
                .read(b"421 4.3.2 bye\r\n")
        }),
        (Stage::Data, |s| {
            s.mail_from(FROM)
                .rcpt_to(TO)
                .write(b"DATA\r\n")
                .read(b"421 4.3.2 bye\r\n")
        }),
        (Stage::DataEnd, |s| {
            s.mail_from(FROM)
                .rcpt_to(TO)
                .data()
                .write_until(b"\r\n.\r\n")
                .read(b"421 4.3.2 bye\r\n")
        }),
    ];
    for (stage, script) in stages {
        let (t, h) = script(tls(&[])).build();
        let mut c = connect(t).unwrap();
        let e = send(&mut c, &[TO], MSG).unwrap_err();
        assert!(rejected(stage, 421)(&e), "{stage:?}: {e:?}");
        assert!(e.is_transient());
        assert!(c.is_closed());
        // Nothing more is written: no RSET, and QUIT on the closed session only closes the transport.
        block_on(c.quit()).unwrap();
        h.assert_done();
    }
    // 421 to EHLO.
    let (t, h) = Script::new()
        .implicit_tls()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"421 bye\r\n")
        .build();
    assert!(rejected(Stage::Ehlo, 421)(&connect(t).unwrap_err()));
    h.assert_done();
}

#[test]
fn eof_and_io_errors_at_every_stage_stop_all_writes() {
    type Step = fn(Script) -> Script;
    let stages: [Step; 4] = [
        |s| s.write_until(b"\r\n").eof(),
        |s| {
            s.mail_from(FROM)
                .write_until(b"\r\n")
                .read_error(ErrorKind::ConnectionReset)
        },
        |s| {
            s.mail_from(FROM)
                .rcpt_to(TO)
                .write_error(ErrorKind::BrokenPipe)
        },
        |s| {
            s.mail_from(FROM)
                .rcpt_to(TO)
                .data()
                .write_until(b"\r\n.\r\n")
                .eof()
        },
    ];
    for (i, script) in stages.iter().enumerate() {
        let (t, h) = script(tls(&[])).build();
        let mut c = connect(t).unwrap();
        let e = send(&mut c, &[TO], MSG).unwrap_err();
        assert!(
            matches!(e, SmtpError::ConnectionClosed | SmtpError::Io(_)),
            "{i}: {e:?}"
        );
        assert!(e.is_transient());
        assert_eq!(send(&mut c, &[TO], MSG), Err(SmtpError::SessionUnusable));
        block_on(c.quit()).unwrap();
        h.assert_done();
    }
}

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

#[test]
fn envelope_too_long_for_the_buffer_is_refused_before_mail_from() {
    let (t, h) = tls(&[]).build();
    let mut c = block_on(SmtpClient::<_, 512, 64>::connect_sized(t, D, Config::new())).unwrap();
    let long = format!("{}@example.com", "x".repeat(60));
    assert_eq!(
        block_on(c.send_mail(FROM, &[TO, &long], MSG)),
        Err(SmtpError::BufferTooSmall { needed: 84 })
    );
    h.assert_done();
}
