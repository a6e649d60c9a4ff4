//! The greeting and EHLO (RFC 5321 sections 3.1, 3.2, 4.1.1.1 and 4.2): every greeting
//! other than 220, EHLO refused when TLS or AUTH is needed, and malformed or hostile
//! capability lines.
//!
//! Related tests elsewhere: the 421 greeting is `connection::greeting::closing_421`;
//! `sessions.rs` `no_helo_fallback_when_tls_required` (EHLO refused on a plaintext
//! connection under `TlsPolicy::Required`: no HELO) and
//! `login_after_helo_is_refused_before_writing` (HELO session, plaintext opt-in: AUTH is
//! unavailable); `reply_grammar` for the framing of the lines themselves.

use crate::common::*;
use wasm_smtp_core::{Capability, Mechanism};

/// The server sends `greeting` on an implicit TLS connection; returns the error of
/// `connect`, after checking that nothing at all was written.
fn greeting(greeting: &[u8]) -> SmtpError {
    let (t, h) = Script::new().implicit_tls().read(greeting).build();
    let e = connect(t).unwrap_err();
    h.assert_done();
    e
}

/// The greeting is a well-formed positive reply other than 220: a protocol violation.
fn positive_greeting(code: u16) {
    assert_eq!(
        greeting(format!("{code} hello\r\n").as_bytes()),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::Greeting,
            code
        })
    );
}

/// An implicit TLS connection whose EHLO reply is `reply` (raw bytes).
fn ehlo_reply(reply: &[u8]) -> Script {
    Script::new()
        .implicit_tls()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(reply)
}

// ----- greetings --------------------------------------------------------------------------

/// RFC 5321 section 3.1 (a 554 greeting refuses the session): reported as a rejected
/// greeting, permanent; nothing is written.
#[test]
fn greeting_554() {
    let e = greeting(b"554 5.3.2 go away\r\n");
    assert!(rejected(Stage::Greeting, 554)(&e), "{e:?}");
    assert!(e.is_permanent());
}

/// RFC 5321 section 3.1 and 4.2 (multi-line replies): a multi-line 554 greeting.
#[test]
fn greeting_554_multiline() {
    let e = greeting(b"554-mx.example.com\r\n554 5.3.2 no service here\r\n");
    assert!(rejected(Stage::Greeting, 554)(&e), "{e:?}");
}

/// RFC 7504 (521: the host does not accept mail): a refused greeting, permanent.
#[test]
fn greeting_521() {
    let e = greeting(b"521 5.3.2 does not accept mail\r\n");
    assert!(rejected(Stage::Greeting, 521)(&e), "{e:?}");
    assert!(e.is_permanent());
}

/// RFC 5321 section 4.2.1 (4yz: transient negative): a 450 greeting is refused and
/// reported as transient.
#[test]
fn greeting_450() {
    let e = greeting(b"450 4.3.2 try later\r\n");
    assert!(rejected(Stage::Greeting, 450)(&e), "{e:?}");
    assert!(e.is_transient());
}

/// RFC 5321 section 4.3.2 (connection establishment: 220 or 554): a 250 greeting is a
/// protocol violation.
#[test]
fn greeting_250() {
    positive_greeting(250);
}

/// RFC 5321 section 4.3.2: a 354 greeting is a protocol violation.
#[test]
fn greeting_354() {
    positive_greeting(354);
}

/// RFC 5321 section 4.3.2: a 235 greeting (as if already authenticated) is a protocol
/// violation.
#[test]
fn greeting_235() {
    positive_greeting(235);
}

/// RFC 5321 section 4.3.2: a 221 greeting is a protocol violation.
#[test]
fn greeting_221() {
    positive_greeting(221);
}

/// RFC 5321 section 4.3.2: a 334 greeting (an AUTH challenge before anything was sent)
/// is a protocol violation.
#[test]
fn greeting_334() {
    positive_greeting(334);
}

/// RFC 5321 section 4.2 (all lines of a multi-line reply carry the same code): a 220
/// continuation followed by a 554 last line is malformed, neither accepted nor refused.
#[test]
fn greeting_220_continuation_then_554() {
    assert_eq!(
        greeting(b"220-mx.example.com ESMTP\r\n554 5.3.2 go away\r\n"),
        SmtpError::MalformedReply(MalformedReply::MixedCodes)
    );
}

/// RFC 5321 section 4.2: a 554 continuation followed by a 220 last line is malformed.
#[test]
fn greeting_554_continuation_then_220() {
    assert_eq!(
        greeting(b"554-go away\r\n220 mx.example.com ESMTP\r\n"),
        SmtpError::MalformedReply(MalformedReply::MixedCodes)
    );
}

// ----- EHLO refused -------------------------------------------------------------------------

/// RFC 5321 section 3.2 (HELO fallback) and RFC 4954 section 3 (AUTH is an EHLO
/// extension): on implicit TLS a refused EHLO falls back to HELO, and a login on the
/// HELO session is refused before anything is written.
#[test]
fn ehlo_refused_on_implicit_tls_then_helo_has_no_auth() {
    let (t, h) = ehlo_reply(b"502 5.5.1 Command not implemented\r\n")
        .helo(D)
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(*c.capabilities(), wasm_smtp_core::Capabilities::new());
    assert_eq!(
        block_on(c.login("alice", "S3CR3T")),
        Err(SmtpError::ExtensionUnavailable(Extension::Auth))
    );
    h.assert_done();
}

/// RFC 5321 section 3.2: HELO refused after a refused EHLO ends the connection.
#[test]
fn helo_refused_after_ehlo_refused() {
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"500 5.5.1 what\r\n")
        .write(b"HELO client.example.com\r\n")
        .read(b"550 5.7.1 no\r\n")
        .build();
    let e = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap_err();
    assert!(rejected(Stage::Helo, 550)(&e), "{e:?}");
    h.assert_done();
}

/// RFC 5321 section 3.8 (421 closes the channel): a 421 to EHLO is never a reason for
/// the HELO fallback, even when the policy allows HELO.
#[test]
fn ehlo_421_never_falls_back_to_helo() {
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"421 4.3.2 bye\r\n")
        .build();
    let e = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap_err();
    assert!(rejected(Stage::Ehlo, 421)(&e), "{e:?}");
    h.assert_done();
}

/// RFC 5321 section 4.3.2 (EHLO: 250 on success): a 354 to EHLO is a protocol
/// violation, not a refusal that allows HELO.
#[test]
fn ehlo_answered_354() {
    let (t, h) = ehlo_reply(b"354 go ahead\r\n").build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::Ehlo,
            code: 354
        })
    );
    h.assert_done();
}

// ----- capability lines ---------------------------------------------------------------------

/// RFC 1870 (the SIZE parameter is a decimal number) and the workspace rule on numbers
/// from the wire: a SIZE that overflows `u64` is a malformed capability, not a wrapped
/// or saturated limit.
#[test]
fn size_overflowing_u64() {
    let (t, h) = tls(&["SIZE 99999999999999999999999"]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::BadCapability)
    );
    h.assert_done();
}

/// RFC 1870: `u64::MAX` itself fits and is kept.
#[test]
fn size_u64_max() {
    let (t, h) = tls(&["SIZE 18446744073709551615"]).build();
    let c = connect(t).unwrap();
    assert_eq!(c.capabilities().size_limit(), Some(u64::MAX));
    h.assert_done();
}

/// RFC 1870: a SIZE parameter that is not a decimal number is malformed.
#[test]
fn size_not_a_number() {
    let (t, h) = tls(&["SIZE 10k"]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::BadCapability)
    );
    h.assert_done();
}

/// RFC 1870: a negative SIZE is malformed.
#[test]
fn size_negative() {
    let (t, h) = tls(&["SIZE -1"]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::BadCapability)
    );
    h.assert_done();
}

/// RFC 1870 (SIZE 0: no fixed maximum): the extension is present, with no limit.
#[test]
fn size_zero_means_no_limit() {
    let (t, h) = tls(&["SIZE 0"]).build();
    let c = connect(t).unwrap();
    assert!(c.capabilities().has(Capability::Size));
    assert_eq!(c.capabilities().size_limit(), None);
    h.assert_done();
}

/// RFC 5321 section 4.1.1.1 (an ehlo-keyword has at least one character): empty and
/// blank keyword lines carry nothing and are ignored.
#[test]
fn empty_keyword_lines_are_ignored() {
    let (t, h) = tls(&["", " ", "\t", "AUTH LOGIN"]).build();
    let c = connect(t).unwrap();
    assert!(c
        .capabilities()
        .auth_mechanisms()
        .contains(Mechanism::Login));
    h.assert_done();
}

/// RFC 4954 section 3 (AUTH lists mechanisms): several hundred unknown mechanisms over
/// several AUTH lines are skipped in a fixed-size set; the known one is still found.
#[test]
fn hundreds_of_auth_mechanisms() {
    let lines: Vec<String> = (0..6)
        .map(|l| {
            let mut line = String::from("AUTH");
            for i in 0..100 {
                line.push_str(&format!(" X-{l}{i:02}"));
            }
            line
        })
        .collect();
    let mut keywords: Vec<&str> = lines.iter().map(String::as_str).collect();
    keywords.push("AUTH LOGIN");
    let (t, h) = tls(&keywords).build();
    let c = connect(t).unwrap();
    let mechanisms = c.capabilities().auth_mechanisms();
    assert_eq!(mechanisms.iter().collect::<Vec<_>>(), [Mechanism::Login]);
    h.assert_done();
}

/// RFC 4954 section 3 and RFC 5321 section 2.4: mechanism names must match whole, not as
/// prefixes or suffixes; none of these is PLAIN or LOGIN, so AUTH is unavailable.
#[test]
fn auth_mechanism_names_must_match_whole() {
    let (t, h) = tls(&["AUTH XPLAIN PLAINX LOGIN- PLAIN-LOGIN"]).build();
    let mut c = connect(t).unwrap();
    assert!(c.capabilities().auth_mechanisms().is_empty());
    assert!(!c.capabilities().has(Capability::Auth));
    assert_eq!(
        block_on(c.login("alice", "S3CR3T")),
        Err(SmtpError::ExtensionUnavailable(Extension::Auth))
    );
    h.assert_done();
}

/// RFC 5321 section 4.2 (multi-line replies) with the client's own cap of 128 lines per
/// reply, which bounds the work a server can cause: a thousand capability lines fail
/// the connection without any write after EHLO.
#[test]
fn thousands_of_capability_lines() {
    let mut reply = b"250-mx\r\n".to_vec();
    for _ in 0..1000 {
        reply.extend_from_slice(b"250-X-PADDING\r\n");
    }
    reply.extend_from_slice(b"250 OK\r\n");
    let (t, h) = ehlo_reply(&reply).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::MalformedReply(MalformedReply::TooManyLines { limit: 128 })
    );
    // The client stops reading at the cap: part of the reply stays unread.
    assert_eq!(h.failure(), None);
    assert_eq!(h.written(), b"EHLO client.example.com\r\n");
    assert!(h.writes_after_failure().is_empty());
}

/// RFC 5321 section 4.2: a reply of exactly 128 lines (the cap) is accepted.
#[test]
fn capability_lines_at_the_cap() {
    let mut keywords = vec!["X-PADDING"; 126];
    keywords.push("STARTTLS");
    let (t, h) = tls(&keywords).build();
    let c = connect(t).unwrap();
    assert!(c.capabilities().has(Capability::StartTls));
    h.assert_done();
}

/// RFC 5321 section 4.1.1.1 (the first line of the EHLO reply is the server's domain,
/// keywords start on the second): `250 STARTTLS` alone offers nothing, so `Required`
/// fails.
#[test]
fn keyword_in_the_first_line_is_not_a_capability() {
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"250 STARTTLS\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::NotOffered)
    );
    h.assert_done();
}

/// RFC 5321 section 2.4 (keywords are case-insensitive): `sTaRtTlS` is STARTTLS.
#[test]
fn keywords_are_case_insensitive() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["sTaRtTlS"])
        .starttls()
        .ehlo(D, &[])
        .build();
    let c = connect(t).unwrap();
    assert!(c.is_encrypted());
    h.assert_done();
}

/// RFC 5321 section 4.1.1.1 (ehlo-keyword is letters, digits and hyphens): `STARTTLS`
/// followed by an escape byte is another, unknown keyword, so `Required` fails.
#[test]
fn keyword_with_a_control_byte_is_not_recognized() {
    let (t, h) = ehlo_reply(b"250-mx\r\n250 STARTTLS\x1b\r\n").build();
    // On implicit TLS no STARTTLS is needed: the session works and has no STARTTLS.
    let c = connect(t).unwrap();
    assert!(!c.capabilities().has(Capability::StartTls));
    h.assert_done();
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"250-mx\r\n250 STARTTLS\x1b\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::NotOffered)
    );
    h.assert_done();
}

/// RFC 5321 section 4.1.1.1: non-ASCII and non-UTF-8 bytes in keyword lines are
/// unknown keywords, ignored without error.
#[test]
fn non_utf8_keywords_are_ignored() {
    let (t, h) = ehlo_reply(
        "250-mx\r\n250-\u{1F600}\r\n250-X-\u{ff}\r\n250-\u{ff}\u{fe}\r\n250 8BITMIME\r\n"
            .as_bytes(),
    )
    .build();
    let c = connect(t).unwrap();
    assert!(c.capabilities().has(Capability::EightBitMime));
    h.assert_done();
    let (t, h) = ehlo_reply(b"250-mx\r\n250-\xff\xfe\x80\r\n250 8BITMIME\r\n").build();
    let c = connect(t).unwrap();
    assert!(c.capabilities().has(Capability::EightBitMime));
    h.assert_done();
}
