//! Transcript tests of the sans-I/O session on plain byte slices: no transport, no mock,
//! no async runtime. Each test is what the server says and what the session must produce,
//! byte for byte, driven through the `Exchange` verbs the way any driver does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wasm_smtp_core::error::{ProtocolViolation, TlsError};
use wasm_smtp_core::{
    Body, Config, Exchange, Login, Outcome, SendOptions, Session, SmtpError, Stage, TlsPolicy, Want,
};

const D: &str = "client.example.com";

/// Run `ex` against a server that answers each write with the next of `replies` (as
/// bytes arrive in one read each); returns everything the session transmitted, one entry
/// per flight (what it sent before it waited for a reply), and the result.
fn run(mut ex: Exchange<'_, '_>, replies: &[&[u8]]) -> (Vec<String>, Result<Outcome, SmtpError>) {
    let mut flights = vec![String::new()];
    let mut replies = replies.iter();
    let mut tx = [0xa5u8; 512];
    loop {
        match ex.want() {
            Want::Done => return (flights, ex.finish()),
            Want::Transmit => {
                let n = ex.transmit(&mut tx);
                flights
                    .last_mut()
                    .unwrap()
                    .push_str(std::str::from_utf8(&tx[..n]).unwrap());
            }
            Want::Receive => {
                let mut input = replies.next().expect("the session waits for more").to_vec();
                let r = ex.receive(&mut input);
                assert!(
                    r.replied || ex.want() != Want::Receive,
                    "a whole reply was given"
                );
                // Every byte of the reply is consumed, unless the session gave up on it.
                assert!(r.consumed == input.len() || ex.want() == Want::Done);
                flights.push(String::new());
            }
            Want::Upgrade => {
                flights.last_mut().unwrap().push_str("<TLS>");
                ex.tls_established(true);
            }
            Want::Body => panic!("no streamed body in these tests"),
            Want::Close => {
                flights.last_mut().unwrap().push_str("<close>");
                ex.closed(Ok(()));
            }
        }
    }
}

/// A transaction from a@example.com to b@example.com.
fn to_bob<'s, 'a>(s: &'s mut Session, body: Body<'a>) -> Exchange<'s, 'a> {
    s.send(
        "a@example.com",
        &["b@example.com"],
        body,
        SendOptions::new(),
    )
    .unwrap()
}

fn flights(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// An EHLO reply offering `keywords` (the first line is the server's name).
fn ehlo(keywords: &[&str]) -> Vec<u8> {
    let mut reply = String::from("250");
    reply.push(if keywords.is_empty() { ' ' } else { '-' });
    reply.push_str("mx.example.org\r\n");
    for (i, k) in keywords.iter().enumerate() {
        let sep = if i + 1 == keywords.len() { ' ' } else { '-' };
        reply.push_str(&format!("250{sep}{k}\r\n"));
    }
    reply.into_bytes()
}

/// A session on an implicit-TLS connection, greeted and past EHLO with `keywords`.
fn ready(keywords: &[&str]) -> Session {
    let mut s = Session::new(Config::new(), 1024, 512, true);
    let (sent, r) = run(
        s.connect(D).unwrap(),
        &[b"220 mx ESMTP\r\n", &ehlo(keywords)],
    );
    assert_eq!(sent, flights(&["", "EHLO client.example.com\r\n", ""]));
    assert_eq!(r, Ok(Outcome::Done));
    s
}

#[test]
fn connect_with_starttls_forgets_what_it_learned_in_plaintext() {
    let mut s = Session::new(Config::new(), 1024, 512, false);
    let (sent, r) = run(
        s.connect(D).unwrap(),
        &[
            b"220 mx ESMTP\r\n",
            b"250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
            b"220 2.0.0 go ahead\r\n",
            b"250-mx\r\n250 AUTH LOGIN\r\n",
        ],
    );
    assert_eq!(r, Ok(Outcome::Done));
    assert_eq!(
        sent,
        flights(&[
            "",
            "EHLO client.example.com\r\n",
            "STARTTLS\r\n",
            "<TLS>EHLO client.example.com\r\n",
            "",
        ])
    );
    assert!(s.is_encrypted());
    let auth = s.capabilities().auth_mechanisms();
    assert!(!auth.contains(wasm_smtp_core::Mechanism::Plain));
    assert!(auth.contains(wasm_smtp_core::Mechanism::Login));
}

#[test]
fn connect_refuses_a_stripped_starttls_offer() {
    let mut s = Session::new(Config::new(), 1024, 512, false);
    let (sent, r) = run(s.connect(D).unwrap(), &[b"220 mx\r\n", b"250 mx\r\n"]);
    assert_eq!(r, Err(SmtpError::Tls(TlsError::NotOffered)));
    assert_eq!(sent, flights(&["", "EHLO client.example.com\r\n", ""]));
    assert!(s.is_closed());
}

#[test]
fn injection_after_the_starttls_220_is_refused_before_the_handshake() {
    let mut s = Session::new(Config::new(), 1024, 512, false);
    let (sent, r) = run(
        s.connect(D).unwrap(),
        &[
            b"220 mx\r\n",
            &ehlo(&["STARTTLS"]),
            b"220 go\r\n250 forged\r\n",
        ],
    );
    assert_eq!(
        r,
        Err(SmtpError::Protocol(ProtocolViolation::DataAfterStartTls))
    );
    assert_eq!(sent.concat(), "EHLO client.example.com\r\nSTARTTLS\r\n");
}

#[test]
fn misuse_is_refused_at_once() {
    let mut s = Session::new(Config::new().tls(TlsPolicy::Implicit), 1024, 512, false);
    // Implicit TLS on a plaintext connection: before anything is read.
    assert!(matches!(
        s.connect(D),
        Err(SmtpError::Tls(TlsError::PlaintextTransport))
    ));
    // Operations before the session is connected.
    assert!(matches!(s.noop(), Err(SmtpError::SessionUnusable)));
    assert!(matches!(
        s.login(Login::new("u", "p")),
        Err(SmtpError::SessionUnusable)
    ));
    // Invalid input names the field, before anything is produced.
    let mut s = ready(&["PIPELINING"]);
    assert!(matches!(
        s.send("a@b", &[], Body::Bytes(b"x"), SendOptions::new()),
        Err(SmtpError::InvalidInput { .. })
    ));
    assert!(matches!(s.connect(D), Err(SmtpError::SessionUnusable)));
}

#[test]
fn login_plain_and_login() {
    let mut s = ready(&["AUTH PLAIN LOGIN"]);
    let (sent, r) = run(
        s.login(Login::new("alice", "hunter2")).unwrap(),
        &[b"235 2.7.0 ok\r\n"],
    );
    assert_eq!(r, Ok(Outcome::Done));
    assert_eq!(sent, flights(&["AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n", ""]));
    assert!(s.is_authenticated());

    let mut s = ready(&["AUTH LOGIN"]);
    let (sent, r) = run(
        s.login(Login::new("alice", "hunter2")).unwrap(),
        &[
            b"334 VXNlcm5hbWU6\r\n",
            b"334 UGFzc3dvcmQ6\r\n",
            b"235 ok\r\n",
        ],
    );
    assert_eq!(r, Ok(Outcome::Done));
    assert_eq!(
        sent,
        flights(&["AUTH LOGIN\r\n", "YWxpY2U=\r\n", "aHVudGVyMg==\r\n", ""])
    );
}

#[test]
fn a_long_initial_response_follows_the_334() {
    let mut s = ready(&["AUTH PLAIN"]);
    let secret = "p".repeat(400);
    let (sent, r) = run(
        s.login(Login::new("alice", &secret)).unwrap(),
        &[b"334 \r\n", b"235 ok\r\n"],
    );
    assert_eq!(r, Ok(Outcome::Done));
    assert_eq!(sent[0], "AUTH PLAIN\r\n");
    assert_eq!(sent[1].len(), 546);
}

#[test]
fn a_refused_login_keeps_the_session() {
    let mut s = ready(&["AUTH PLAIN"]);
    let (_, r) = run(
        s.login(Login::new("alice", "wrong")).unwrap(),
        &[b"535 5.7.8 Authentication credentials invalid\r\n"],
    );
    assert!(matches!(r, Err(SmtpError::Auth(_))));
    assert_eq!(s.rejection_text(), "Authentication credentials invalid");
    assert!(!s.is_closed());
}

#[test]
fn pipelined_transaction_in_one_flight() {
    let mut s = ready(&["PIPELINING", "SIZE 1000"]);
    let (sent, r) = run(
        s.send(
            "a@example.com",
            &["b@example.com", "c@example.com"],
            Body::Bytes(b"Subject: x\n\n.dot\n"),
            SendOptions::new(),
        )
        .unwrap(),
        &[
            b"250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n",
            b"250 2.0.0 queued as 42\r\n",
        ],
    );
    assert_eq!(
        sent,
        flights(&[
            "MAIL FROM:<a@example.com> SIZE=20\r\nRCPT TO:<b@example.com>\r\n\
             RCPT TO:<c@example.com>\r\nDATA\r\n",
            "Subject: x\r\n\r\n..dot\r\n.\r\n",
            "",
        ])
    );
    let Ok(Outcome::Sent(outcome)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(outcome.reply.text.as_str(), "queued as 42");
    assert_eq!(outcome.rejected().collect::<Vec<_>>(), [1]);
    assert_eq!(
        outcome.first_rejection().map(|r| r.stage),
        Some(Stage::RcptTo)
    );
}

#[test]
fn one_command_per_round_trip_without_pipelining() {
    let mut s = ready(&["8BITMIME"]);
    let (sent, r) = run(
        to_bob(&mut s, Body::Bytes(b"hi")),
        &[
            b"250 ok\r\n",
            b"250 ok\r\n",
            b"354 go\r\n",
            b"250 queued\r\n",
        ],
    );
    assert!(matches!(r, Ok(Outcome::Sent(_))));
    assert_eq!(
        sent,
        flights(&[
            "MAIL FROM:<a@example.com>\r\n",
            "RCPT TO:<b@example.com>\r\n",
            "DATA\r\n",
            "hi\r\n.\r\n",
            "",
        ])
    );
}

#[test]
fn refused_sender_is_followed_by_rset() {
    let mut s = ready(&["PIPELINING"]);
    let (sent, r) = run(
        to_bob(&mut s, Body::Bytes(b"hi")),
        &[
            b"550 5.7.1 not you\r\n554 no recipients\r\n554 no data\r\n",
            b"250 reset\r\n",
        ],
    );
    assert!(matches!(r, Err(SmtpError::Rejected(rej)) if rej.stage == Stage::MailFrom));
    assert_eq!(s.rejection_text(), "not you");
    assert_eq!(sent[1], "RSET\r\n");
    assert!(!s.is_closed());
}

#[cfg(feature = "chunking")]
#[test]
fn bdat_last_after_the_first_accepted_envelope() {
    let mut s = ready(&["PIPELINING", "CHUNKING"]);
    let send = |s: &mut Session| {
        run(
            to_bob(s, Body::Bytes(b"hi\n")),
            &[b"250 ok\r\n250 ok\r\n", b"250 queued\r\n"],
        )
    };
    // The first message: the envelope first (a server might refuse it unread), then the
    // message in one BDAT LAST chunk.
    let (sent, r) = send(&mut s);
    assert!(r.is_ok());
    assert_eq!(
        sent,
        flights(&[
            "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n",
            "BDAT 4 LAST\r\nhi\r\n",
            "",
        ])
    );
    // The second: one flight, one round trip.
    let (sent, r) = run(
        to_bob(&mut s, Body::Bytes(b"hi\n")),
        &[b"250 ok\r\n250 ok\r\n250 queued\r\n"],
    );
    assert!(r.is_ok());
    assert_eq!(
        sent,
        flights(&[
            "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 4 LAST\r\nhi\r\n",
            "",
        ])
    );
}

#[test]
fn noop_rset_quit() {
    let mut s = ready(&[]);
    let (sent, r) = run(s.noop().unwrap(), &[b"250 2.0.0 ok\r\n"]);
    assert_eq!(sent.concat(), "NOOP\r\n");
    assert!(matches!(r, Ok(Outcome::Reply(reply)) if reply.code.get() == 250));
    let (sent, r) = run(s.rset().unwrap(), &[b"250 flushed\r\n"]);
    assert_eq!(sent.concat(), "RSET\r\n");
    assert!(r.is_ok());
    let (sent, r) = run(s.quit(), &[b"221 bye\r\n"]);
    assert_eq!(sent, flights(&["QUIT\r\n", "<close>"]));
    assert_eq!(r, Ok(Outcome::Done));
    assert!(s.is_closed());
    // A closed session only closes the connection.
    let (sent, r) = run(s.quit(), &[]);
    assert_eq!(sent, flights(&["<close>"]));
    assert_eq!(r, Ok(Outcome::Done));
}

#[test]
fn a_failed_wait_closes_the_session_and_nothing_more_is_sent() {
    let mut s = ready(&["PIPELINING"]);
    let mut ex = s.noop().unwrap();
    let mut tx = [0u8; 512];
    assert_eq!(ex.transmit(&mut tx), 6);
    assert_eq!(ex.want(), Want::Receive);
    ex.failed(SmtpError::Timeout(Stage::Noop));
    assert_eq!(ex.want(), Want::Done);
    assert_eq!(ex.transmit(&mut tx), 0);
    assert_eq!(ex.finish(), Err(SmtpError::Timeout(Stage::Noop)));
    assert!(s.is_closed());
    // An exchange dropped half-way leaves the session closed too.
    let mut s = ready(&["PIPELINING"]);
    drop(s.noop().unwrap());
    assert!(s.is_closed());
}

#[test]
fn time_limits_are_data() {
    let mut s = ready(&["PIPELINING"]);
    let mut ex = to_bob(&mut s, Body::Bytes(b"hi"));
    let mut tx = [0u8; 512];
    ex.transmit(&mut tx);
    let limit = |ex: &Exchange<'_, '_>, want| ex.limit(want).map(|(d, st)| (d.as_secs(), st));
    #[cfg(feature = "timeouts")]
    {
        // The flight's last command is DATA: its write and the first reply it awaits.
        assert_eq!(limit(&ex, Want::Transmit), Some((120, Stage::Data)));
        assert_eq!(limit(&ex, Want::Receive), Some((300, Stage::MailFrom)));
        assert_eq!(limit(&ex, Want::Upgrade), Some((60, Stage::TlsHandshake)));
    }
    #[cfg(not(feature = "timeouts"))]
    assert_eq!(limit(&ex, Want::Receive), None);
}

/// A streamed message through DATA: the session asks for the body with `Want::Body`
/// once the 354 is in, takes it chunk by chunk (a chunk may be split at any byte, even
/// between CR and LF), and ends it on the empty chunk. Data staged in the caller's buffer
/// behind earlier chunks leaves in one write.
#[test]
fn streamed_message_through_data() {
    let mut s = ready(&["PIPELINING"]);
    let mut ex = to_bob(&mut s, Body::Stream);
    let mut tx = [0u8; 512];
    let n = ex.transmit(&mut tx);
    assert_eq!(
        &tx[..n],
        b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
    );
    let mut replies = *b"250 ok\r\n250 ok\r\n354 go\r\n";
    ex.receive(&mut replies);
    assert_eq!(ex.want(), Want::Body);
    let mut staged = 0;
    for chunk in [&b"Subject: s\r"[..], b"\n\r\n.dot\n", b"end", b""] {
        let (used, written) = ex.body(chunk, &mut tx[staged..]);
        assert_eq!(used, chunk.len());
        staged += written;
    }
    assert_eq!(ex.want(), Want::Receive);
    assert_eq!(&tx[..staged], b"Subject: s\r\n\r\n..dot\r\nend\r\n.\r\n");
    let mut verdict = *b"250 queued\r\n";
    ex.receive(&mut verdict);
    assert!(matches!(ex.finish(), Ok(Outcome::Sent(_))));
}

/// A streamed message in BDAT chunks (CHUNKING with PIPELINING): each chunk handed in
/// becomes one `BDAT n` chunk, no dot-stuffing, and the end is `BDAT n LAST`.
#[cfg(feature = "chunking")]
#[test]
fn streamed_message_in_bdat_chunks() {
    let mut s = ready(&["PIPELINING", "CHUNKING"]);
    let mut ex = to_bob(&mut s, Body::Stream);
    let mut tx = [0u8; 512];
    ex.transmit(&mut tx);
    let mut replies = *b"250 ok\r\n250 ok\r\n";
    ex.receive(&mut replies);
    // The envelope is accepted: the chunks follow at once (they carry their own lines).
    assert_eq!(ex.want(), Want::Body);
    let mut out = Vec::new();
    for chunk in [&b".hi\n"[..], b"there", b""] {
        let (used, written) = ex.body(chunk, &mut tx);
        assert_eq!(used, chunk.len());
        out.extend_from_slice(&tx[..written]);
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "BDAT 5\r\n.hi\r\nBDAT 5\r\nthereBDAT 2 LAST\r\n\r\n"
    );
    let mut verdicts = *b"250 ok\r\n250 ok\r\n250 queued\r\n";
    ex.receive(&mut verdicts);
    assert!(matches!(ex.finish(), Ok(Outcome::Sent(_))));
}
