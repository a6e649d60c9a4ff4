//! The connection ending at every stage: a 421 reply (RFC 5321 sections 3.8 and 4.2.2:
//! "Service not available, closing transmission channel", allowed in reply to any
//! command), end of stream, a read error and a write error. One module per stage, one
//! test per failure (`stage::failure`).
//!
//! Every test asserts the error (transient in every case: a retry on a new connection
//! may succeed), that nothing is written after the failure (no RSET, no QUIT), that the
//! session is closed so that later calls fail with `SessionUnusable` without writing,
//! and that `quit` then only closes the transport.
//!
//! Not here: the 421 reply to STARTTLS (`starttls::answered_421_required` and
//! `answered_421_opportunistic`), end of stream before the greeting
//! (`reply_grammar::eof_before_greeting`), a failed TLS handshake
//! (`starttls::handshake_failure`), a body source failing mid-DATA
//! (`data::body_source_failure_writes_no_terminator`). A server that answers nothing
//! at all (time-outs) is left out on purpose: time limits are being added to the core on
//! another branch, and these tests will follow them.

use crate::common::*;

/// A call on a connected client that is expected to hit the failure.
type Call = fn(&mut Client) -> Result<(), SmtpError>;

/// A stage of the session where the connection can fail.
struct Case {
    stage: Stage,
    config: Config,
    /// Everything before the client writes the command of this stage.
    before: fn() -> Script,
    /// What ends the client's write at this stage (`None`: the stage has no write).
    until: Option<&'static [u8]>,
    /// The call that hits the failure, on a connected client (`None`: `connect` does).
    call: Option<Call>,
}

impl Case {
    /// The script up to and including the client's write at this stage.
    fn sent(&self) -> Script {
        let s = (self.before)();
        match self.until {
            Some(until) => s.write_until(until),
            None => s,
        }
    }

    fn run(&self, script: Script, check: impl Fn(&SmtpError) -> bool) {
        let (t, h) = script.build();
        let Some(call) = self.call else {
            let e = connect_with(t, self.config).unwrap_err();
            assert!(check(&e), "{:?}: {e:?}", self.stage);
            assert!(e.is_transient(), "{e:?}");
            h.assert_done();
            assert!(h.writes_after_failure().is_empty());
            return;
        };
        let mut c = connect_with(t, self.config).unwrap();
        let e = call(&mut c).unwrap_err();
        assert!(check(&e), "{:?}: {e:?}", self.stage);
        assert!(e.is_transient(), "{e:?}");
        assert_closed_and_silent(&mut c, &h);
    }

    fn closing_421(&self) {
        self.run(
            self.sent().read(b"421 4.3.2 Service shutting down\r\n"),
            rejected_any(self.stage, 421),
        );
    }

    fn eof(&self) {
        self.run(self.sent().eof(), |e| *e == SmtpError::ConnectionClosed);
    }

    fn read_error(&self) {
        self.run(self.sent().read_error(ErrorKind::ConnectionReset), |e| {
            *e == SmtpError::Io(ErrorKind::ConnectionReset)
        });
    }

    fn write_error(&self) {
        self.run((self.before)().write_error(ErrorKind::BrokenPipe), |e| {
            *e == SmtpError::Io(ErrorKind::BrokenPipe)
        });
    }
}

/// One test per failure kind, with the stage's doc followed by the failure's.
macro_rules! failure {
    (closing_421, $doc:literal) => {
        #[doc = concat!($doc, " The server answers 421 (RFC 5321 sections 3.8 and 4.2.2): reported as a transient rejection of this stage; the session is closed and nothing more is written.")]
        #[test]
        fn closing_421() {
            case().closing_421();
        }
    };
    (eof, $doc:literal) => {
        #[doc = concat!($doc, " The server closes the connection instead of replying (RFC 5321 section 3.8): `ConnectionClosed`, nothing more is written.")]
        #[test]
        fn eof() {
            case().eof();
        }
    };
    (read_error, $doc:literal) => {
        #[doc = concat!($doc, " Reading the reply fails (connection reset): `Io`, nothing more is written.")]
        #[test]
        fn read_error() {
            case().read_error();
        }
    };
    (write_error, $doc:literal) => {
        #[doc = concat!($doc, " Writing the command fails (broken pipe): `Io`, nothing more is written.")]
        #[test]
        fn write_error() {
            case().write_error();
        }
    };
}

macro_rules! stage {
    ($name:ident, $doc:literal, $case:expr, [$($kind:ident),* $(,)?]) => {
        #[doc = $doc]
        mod $name {
            use super::*;
            fn case() -> Case {
                $case
            }
            $( failure!($kind, $doc); )*
        }
    };
}

fn required() -> Config {
    Config::new()
}

fn send_one(c: &mut Client) -> Result<(), SmtpError> {
    send(c, &[TO], MSG).map(drop)
}

stage!(
    greeting,
    "RFC 5321 section 3.1 (the greeting), on implicit TLS.",
    Case {
        stage: Stage::Greeting,
        config: required(),
        before: || Script::new().implicit_tls(),
        until: None,
        call: None,
    },
    [closing_421, read_error]
);

stage!(
    ehlo,
    "RFC 5321 section 4.1.1.1 (EHLO), on implicit TLS.",
    Case {
        stage: Stage::Ehlo,
        config: required(),
        before: || Script::new().implicit_tls().greeting(),
        until: Some(b"\r\n"),
        call: None,
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    helo,
    "RFC 5321 section 3.2 (HELO after a refused EHLO), TLS disabled.",
    Case {
        stage: Stage::Helo,
        config: Config::new().tls(TlsPolicy::Disabled),
        before: || Script::new()
            .greeting()
            .write(b"EHLO client.example.com\r\n")
            .read(b"502 5.5.1 Command not implemented\r\n"),
        until: Some(b"\r\n"),
        call: None,
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    starttls,
    "RFC 3207 section 4 (STARTTLS), before the handshake.",
    Case {
        stage: Stage::StartTls,
        config: required(),
        before: || Script::new().greeting().ehlo(D, &["STARTTLS"]),
        until: Some(b"\r\n"),
        call: None,
    },
    [eof, read_error, write_error]
);

stage!(
    ehlo_after_tls,
    "RFC 3207 section 4.2 (EHLO again after the TLS handshake).",
    Case {
        stage: Stage::Ehlo,
        config: required(),
        before: || Script::new().greeting().ehlo(D, &["STARTTLS"]).starttls(),
        until: Some(b"\r\n"),
        call: None,
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    auth,
    "RFC 4954 section 4 (AUTH PLAIN with an initial response).",
    Case {
        stage: Stage::Auth,
        config: required(),
        before: || tls(&["AUTH PLAIN"]),
        until: Some(b"\r\n"),
        call: Some(|c| block_on(c.login("alice", "pw"))),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    auth_login_password,
    "RFC 4954 section 4 (the password line of AUTH LOGIN, mid-exchange).",
    Case {
        stage: Stage::Auth,
        config: required(),
        before: || tls(&["AUTH LOGIN"])
            .write(b"AUTH LOGIN\r\n")
            .read(b"334 VXNlcm5hbWU6\r\n")
            .write(b"YWxpY2U=\r\n")
            .read(b"334 UGFzc3dvcmQ6\r\n"),
        until: Some(b"\r\n"),
        call: Some(|c| block_on(c.login("alice", "pw"))),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    mail_from,
    "RFC 5321 section 4.1.1.2 (MAIL FROM).",
    Case {
        stage: Stage::MailFrom,
        config: required(),
        before: || tls(&[]),
        until: Some(b"\r\n"),
        call: Some(send_one),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    rcpt_to,
    "RFC 5321 section 4.1.1.3 (RCPT TO, the first recipient).",
    Case {
        stage: Stage::RcptTo,
        config: required(),
        before: || tls(&[]).mail_from(FROM),
        until: Some(b"\r\n"),
        call: Some(send_one),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    rcpt_to_after_an_accepted_recipient,
    "RFC 5321 section 4.1.1.3 (RCPT TO, the second recipient after one was accepted: the message must not go to the first alone).",
    Case {
        stage: Stage::RcptTo,
        config: required(),
        before: || tls(&[]).mail_from(FROM).rcpt_to(TO),
        until: Some(b"\r\n"),
        call: Some(|c| send(c, &[TO, "carol@example.com"], MSG).map(drop)),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    data,
    "RFC 5321 section 4.1.1.4 (DATA, before the 354).",
    Case {
        stage: Stage::Data,
        config: required(),
        before: || tls(&[]).mail_from(FROM).rcpt_to(TO),
        until: Some(b"\r\n"),
        call: Some(send_one),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    end_of_data,
    "RFC 5321 section 4.1.1.4 (the body and the end-of-data line; only the reply to it commits the message, so the message is not reported as sent).",
    Case {
        stage: Stage::DataEnd,
        config: required(),
        before: || tls(&[]).mail_from(FROM).rcpt_to(TO).data(),
        until: Some(b"\r\n.\r\n"),
        call: Some(send_one),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    rset,
    "RFC 5321 section 4.1.1.5 (RSET).",
    Case {
        stage: Stage::Rset,
        config: required(),
        before: || tls(&[]),
        until: Some(b"\r\n"),
        call: Some(|c| block_on(c.rset()).map(drop)),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    noop,
    "RFC 5321 section 4.1.1.9 (NOOP).",
    Case {
        stage: Stage::Noop,
        config: required(),
        before: || tls(&[]),
        until: Some(b"\r\n"),
        call: Some(|c| block_on(c.noop()).map(drop)),
    },
    [closing_421, eof, read_error, write_error]
);

stage!(
    quit,
    "RFC 5321 section 4.1.1.10 (QUIT: the client waits for 221; anything else is reported, and the transport is closed all the same).",
    Case {
        stage: Stage::Quit,
        config: required(),
        before: || tls(&[]),
        until: Some(b"\r\n"),
        call: Some(|c| block_on(c.quit())),
    },
    [closing_421, eof, read_error, write_error]
);
