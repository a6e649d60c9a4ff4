//! STARTTLS (RFC 3207): stripping, response injection, what is learned before and after
//! the handshake, and transports that lie about encryption.
//!
//! Related tests elsewhere: `sessions.rs` `starttls_then_login_and_capabilities_are_relearned`
//! (AUTH PLAIN and SIZE offered before TLS, only LOGIN after: the client uses LOGIN) and
//! `no_helo_fallback_when_tls_required`; the 421 reply to STARTTLS is here
//! ([`answered_421_required`], [`answered_421_opportunistic`]) and end of stream and I/O
//! errors at STARTTLS are in `connection::starttls`.

use crate::common::*;
use wasm_smtp_core::{Capability, Mechanism};

/// Greeting and an EHLO reply that offers STARTTLS, on a plaintext connection.
fn offered() -> Script {
    Script::new().greeting().ehlo(D, &["STARTTLS"])
}

/// STARTTLS is sent and answered with `reply`, delivered in one read.
fn answered(reply: impl AsRef<[u8]>) -> Script {
    offered().write(b"STARTTLS\r\n").read(reply)
}

/// STARTTLS refused with `code` under the default policy: TLS error, nothing more written.
fn refused_when_required(code: u16) {
    let (t, h) = answered(format!("{code} 4.7.0 TLS not available\r\n")).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::Refused(code))
    );
    h.assert_done();
    assert!(!h.is_encrypted());
}

/// STARTTLS answered with a positive code other than 220: a protocol violation under
/// `policy`, nothing more written and no upgrade.
fn answered_positive(code: u16, policy: TlsPolicy) {
    let (t, h) = answered(format!("{code} sure\r\n")).build();
    assert_eq!(
        connect_with(t, Config::new().tls(policy)).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::StartTls,
            code
        })
    );
    h.assert_done();
    assert!(!h.is_encrypted());
}

/// The 220 to STARTTLS arrives with `extra` bytes in the same read: the connection is
/// abandoned before the handshake, with nothing more written.
fn injected(extra: &[u8], policy: TlsPolicy) {
    let mut read = b"220 2.0.0 Ready to start TLS\r\n".to_vec();
    read.extend_from_slice(extra);
    let (t, h) = answered(read).build();
    assert_eq!(
        connect_with(t, Config::new().tls(policy)).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::DataAfterStartTls)
    );
    h.assert_done();
    assert!(!h.is_encrypted(), "no upgrade after an injection");
}

// ----- stripping --------------------------------------------------------------------------

/// RFC 3207 section 6 (an active attacker removes the STARTTLS offer) and the "NO
/// STARTTLS" analysis (Poddebniak et al., USENIX Security 2021): with the default
/// `TlsPolicy::Required`, a server that does not offer STARTTLS fails the connection;
/// nothing is written after EHLO.
#[test]
fn stripped_offer_fails_when_required() {
    let (t, h) = Script::new().greeting().ehlo(D, &["AUTH PLAIN"]).build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::NotOffered)
    );
    h.assert_done();
}

/// RFC 3207 section 4 (454 "TLS not available due to temporary reason") and section 6:
/// a refused STARTTLS never continues in plaintext under `Required`.
#[test]
fn refused_454() {
    refused_when_required(454);
}

/// RFC 3207 section 4 (501 "Syntax error (no parameters allowed)") and section 6.
#[test]
fn refused_501() {
    refused_when_required(501);
}

/// RFC 5321 section 4.2.3 (502 "Command not implemented") for a STARTTLS that was
/// offered, and RFC 3207 section 6: an attacker rewriting the reply must not downgrade.
#[test]
fn refused_502() {
    refused_when_required(502);
}

/// RFC 3207 section 6: a permanent refusal (554) is still a refusal, never plaintext.
#[test]
fn refused_554() {
    refused_when_required(554);
}

/// RFC 3207 section 4 (after 454 the client decides by local policy whether to continue):
/// under `Opportunistic` the session continues in plaintext, and still sends no
/// credentials in plaintext (nothing is written for the refused login).
#[test]
fn opportunistic_refused_454_continues_in_plaintext_without_auth() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS", "AUTH PLAIN"])
        .write(b"STARTTLS\r\n")
        .read(b"454 4.7.0 TLS not available\r\n")
        .noop()
        .build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Opportunistic)).unwrap();
    assert!(!c.is_encrypted());
    assert_eq!(
        block_on(c.login("alice", "S3CR3T")),
        Err(SmtpError::PlaintextAuth)
    );
    block_on(c.noop()).unwrap();
    h.assert_done();
}

/// RFC 3207 section 6: under `Opportunistic`, a stripped offer means plaintext, and still
/// no credentials in plaintext.
#[test]
fn opportunistic_not_offered_continues_in_plaintext_without_auth() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["AUTH PLAIN LOGIN"])
        .build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Opportunistic)).unwrap();
    assert!(!c.is_encrypted());
    assert_eq!(
        block_on(c.login("alice", "S3CR3T")),
        Err(SmtpError::PlaintextAuth)
    );
    h.assert_done();
}

/// RFC 3207 section 4 (only 220 starts the handshake) and RFC 5321 section 4.3.2: a
/// 250 to STARTTLS is neither a go-ahead nor a refusal.
#[test]
fn answered_250() {
    answered_positive(250, TlsPolicy::Required);
}

/// RFC 3207 section 4: 221 (closing) is no answer to STARTTLS.
#[test]
fn answered_221() {
    answered_positive(221, TlsPolicy::Required);
}

/// RFC 3207 section 4: 235 (authentication succeeded) is no answer to STARTTLS.
#[test]
fn answered_235() {
    answered_positive(235, TlsPolicy::Required);
}

/// RFC 3207 section 4: 334 (AUTH challenge) is no answer to STARTTLS.
#[test]
fn answered_334() {
    answered_positive(334, TlsPolicy::Required);
}

/// RFC 3207 section 4: 354 (start mail input) is no answer to STARTTLS.
#[test]
fn answered_354() {
    answered_positive(354, TlsPolicy::Required);
}

/// RFC 3207 section 4: a wrong positive code is a violation under `Opportunistic` too:
/// it is not a refusal that would allow plaintext.
#[test]
fn answered_250_opportunistic() {
    answered_positive(250, TlsPolicy::Opportunistic);
}

/// RFC 5321 section 3.8 (421 closes the channel) and RFC 3207 section 4: under
/// `Required`, 421 is reported as such and nothing more is written.
#[test]
fn answered_421_required() {
    let (t, h) = answered(b"421 4.3.2 shutting down\r\n").build();
    let e = connect(t).unwrap_err();
    assert!(rejected(Stage::StartTls, 421)(&e), "{e:?}");
    assert!(e.is_transient());
    h.assert_done();
}

/// RFC 5321 section 3.8: under `Opportunistic`, 421 to STARTTLS is not a refusal that
/// allows plaintext: the session ends, nothing more is written.
#[test]
fn answered_421_opportunistic() {
    let (t, h) = answered(b"421 4.3.2 shutting down\r\n").build();
    let e = connect_with(t, Config::new().tls(TlsPolicy::Opportunistic)).unwrap_err();
    assert!(rejected(Stage::StartTls, 421)(&e), "{e:?}");
    h.assert_done();
}

// ----- response injection -----------------------------------------------------------------

/// CVE-2021-38371 (Exim as a client buffered replies injected before TLS) and RFC 3207
/// section 4.2: a complete plaintext EHLO reply after the 220, in the same read, would
/// be taken as the answer to the EHLO sent over TLS. The connection is abandoned.
#[test]
fn injection_ehlo_reply_after_220() {
    injected(b"250-mx\r\n250 AUTH PLAIN\r\n", TlsPolicy::Required);
}

/// CVE-2021-38371 class: one complete extra reply line after the 220.
#[test]
fn injection_complete_line_after_220() {
    injected(b"250 ok\r\n", TlsPolicy::Required);
}

/// CVE-2021-38371 class: a partial line after the 220 (the rest could follow inside
/// TLS and complete it).
#[test]
fn injection_partial_line_after_220() {
    injected(b"2", TlsPolicy::Required);
}

/// CVE-2021-38371 class: an empty line (CRLF) after the 220.
#[test]
fn injection_crlf_after_220() {
    injected(b"\r\n", TlsPolicy::Required);
}

/// CVE-2021-38371 class: a lone CR after the 220.
#[test]
fn injection_lone_cr_after_220() {
    injected(b"\r", TlsPolicy::Required);
}

/// CVE-2021-38371 class: a lone LF after the 220.
#[test]
fn injection_lone_lf_after_220() {
    injected(b"\n", TlsPolicy::Required);
}

/// CVE-2021-38371 class under `Opportunistic`: an injection is fatal whatever the policy.
#[test]
fn injection_after_220_opportunistic() {
    injected(b"250 ok\r\n", TlsPolicy::Opportunistic);
}

/// CVE-2021-38371 class: a multi-line 220 followed by an injected line.
#[test]
fn injection_after_multiline_220() {
    let (t, h) = answered(b"220-2.0.0 Ready\r\n220 2.0.0 Go\r\n250 ok\r\n").build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::DataAfterStartTls)
    );
    h.assert_done();
    assert!(!h.is_encrypted());
}

/// CVE-2021-38371 class: the 220 split over two reads, the injected line in the second
/// read right behind the 220's end: still refused.
#[test]
fn injection_after_220_split_across_reads() {
    let (t, h) = offered()
        .write(b"STARTTLS\r\n")
        .read(b"220 2.0")
        .read(b".0 Ready\r\n250 ok\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::DataAfterStartTls)
    );
    h.assert_done();
    assert!(!h.is_encrypted());
}

/// RFC 5321 section 4.2 (every command generates exactly one reply) and the "NO
/// STARTTLS" analysis (Poddebniak et al., USENIX Security 2021), pre-sent replies: a
/// 220 that arrives with the EHLO reply, before STARTTLS was sent, is unsolicited;
/// STARTTLS is never written.
#[test]
fn reply_220_before_starttls_was_sent() {
    let (t, h) = Script::new()
        .greeting()
        .write(b"EHLO client.example.com\r\n")
        .read(b"250-mx\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n")
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Protocol(ProtocolViolation::UnsolicitedReply)
    );
    h.assert_done();
}

// ----- the handshake and the transport ---------------------------------------------------

/// RFC 3207 section 4.1 (the handshake decides whether the session is protected): a
/// transport that reports it is still not encrypted after the upgrade is refused before
/// the second EHLO.
#[test]
fn transport_unencrypted_after_upgrade() {
    let (t, h) = offered().never_encrypted().starttls().build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::NotEncrypted)
    );
    h.assert_done();
}

/// RFC 3207 section 4.1: a failed handshake is a TLS error; nothing is written after.
#[test]
fn handshake_failure() {
    let (t, h) = answered(b"220 go\r\n")
        .upgrade_error(ErrorKind::ConnectionReset)
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::Handshake(ErrorKind::ConnectionReset))
    );
    h.assert_done();
}

/// RFC 3207 section 6 applied to implicit TLS (RFC 8314): a transport built for implicit
/// TLS that reports it is not encrypted is treated as plaintext, so `Required` looks for
/// STARTTLS and fails when it is not offered; nothing is sent in the clear.
#[test]
fn implicit_tls_transport_reporting_plaintext_needs_starttls() {
    let (t, h) = Script::new()
        .implicit_tls()
        .never_encrypted()
        .greeting()
        .ehlo(D, &["AUTH PLAIN"])
        .build();
    assert_eq!(
        connect(t).unwrap_err(),
        SmtpError::Tls(TlsError::NotOffered)
    );
    h.assert_done();
}

/// RFC 3207 section 4.1: an implicit-TLS transport that reports plaintext gets STARTTLS
/// when offered, and is refused if it still reports plaintext after the upgrade.
#[test]
fn implicit_tls_transport_reporting_plaintext_after_upgrade() {
    let (t, h) = Script::new()
        .implicit_tls()
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

/// RFC 8314 section 3.3 (implicit TLS): a caller who asked for TLS from the first byte
/// (`TlsPolicy::Implicit`) and got a plaintext transport is refused before the client
/// reads the greeting or writes anything (before this policy the client read the
/// greeting in the clear, sent EHLO in the clear and then tried STARTTLS). The empty
/// script fails on any read, write or upgrade.
#[test]
fn implicit_policy_on_a_plaintext_transport_reads_and_writes_nothing() {
    for script in [
        Script::new(),
        Script::new().implicit_tls().never_encrypted(),
    ] {
        let (t, h) = script.build();
        let err = connect_with(t, Config::new().tls(TlsPolicy::Implicit)).unwrap_err();
        assert_eq!(err, SmtpError::Tls(TlsError::PlaintextTransport));
        assert_eq!((h.read_calls(), h.write_calls()), (0, 0));
        assert!(h.transcript().is_empty());
        h.assert_done();
        assert_eq!(
            err.to_string(),
            "implicit TLS required but the connection is not encrypted; nothing was sent"
        );
    }
}

/// `TlsPolicy::Implicit` on an encrypted transport: the usual session, and a STARTTLS
/// offer is ignored as on any TLS connection (RFC 3207 section 4.2).
#[test]
fn implicit_policy_on_an_encrypted_transport_runs_as_usual() {
    let (t, h) = tls(&["STARTTLS", "AUTH PLAIN"])
        .auth_plain("alice", "hunter2")
        .quit()
        .build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Implicit)).unwrap();
    assert!(c.is_encrypted());
    block_on(c.login("alice", "hunter2")).unwrap();
    block_on(c.quit()).unwrap();
    h.assert_done();
}

/// RFC 3207 section 4.2 (no STARTTLS once TLS is in place): on an implicit TLS
/// connection a STARTTLS offer is ignored.
#[test]
fn implicit_tls_ignores_starttls_offer() {
    let (t, h) = tls(&["STARTTLS"]).quit().build();
    let mut c = connect(t).unwrap();
    assert!(c.is_encrypted());
    block_on(c.quit()).unwrap();
    h.assert_done();
}

/// RFC 3207 section 4.2 ("A server MUST NOT return the STARTTLS extension in response to
/// an EHLO command received after a TLS handshake has completed"): a second offer after
/// TLS is ignored, STARTTLS is not sent twice.
#[test]
fn second_offer_after_tls_is_ignored() {
    let (t, h) = offered()
        .starttls()
        .ehlo(D, &["STARTTLS", "AUTH PLAIN"])
        .quit()
        .build();
    let mut c = connect(t).unwrap();
    assert!(c.is_encrypted());
    block_on(c.quit()).unwrap();
    h.assert_done();
}

/// RFC 3207 section 4.2 (EHLO after the handshake) and RFC 5321 section 3.2: an EHLO
/// refused over TLS fails the connection, with no HELO fallback.
#[test]
fn ehlo_refused_after_tls() {
    let (t, h) = offered()
        .starttls()
        .write(b"EHLO client.example.com\r\n")
        .read(b"554 no\r\n")
        .build();
    assert!(rejected(Stage::Ehlo, 554)(&connect(t).unwrap_err()));
    h.assert_done();
}

/// RFC 3207 section 6 (`Disabled` is the caller's explicit choice): a STARTTLS offer is
/// not taken and the session reports it is not encrypted.
#[test]
fn disabled_policy_never_sends_starttls() {
    let (t, h) = offered().quit().build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    assert!(!c.is_encrypted());
    block_on(c.quit()).unwrap();
    h.assert_done();
}

// ----- capabilities learned before and after TLS -----------------------------------------

/// RFC 3207 section 4.2 (the client must discard knowledge not obtained over TLS): AUTH
/// appears only after TLS (as many submission servers do), and the client uses it.
#[test]
fn auth_offered_only_after_tls() {
    let (t, h) = offered()
        .starttls()
        .ehlo(D, &["AUTH PLAIN"])
        .auth_plain("alice", "S3CR3T")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login("alice", "S3CR3T")).unwrap();
    h.assert_done();
}

/// RFC 3207 section 4.2: AUTH offered only in plaintext is forgotten after TLS; the
/// login is refused before anything is written.
#[test]
fn auth_offered_only_before_tls_is_forgotten() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS", "AUTH PLAIN LOGIN"])
        .starttls()
        .ehlo(D, &[])
        .build();
    let mut c = connect(t).unwrap();
    assert!(c.capabilities().auth_mechanisms().is_empty());
    assert_eq!(
        block_on(c.login("alice", "S3CR3T")),
        Err(SmtpError::ExtensionUnavailable(Extension::Auth))
    );
    h.assert_done();
}

/// RFC 3207 section 4.2 and RFC 1870: the SIZE limit after TLS replaces the one
/// advertised in plaintext.
#[test]
fn size_after_tls_replaces_size_before() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS", "SIZE 10"])
        .starttls()
        .ehlo(D, &["SIZE 5000", "AUTH LOGIN"])
        .build();
    let c = connect(t).unwrap();
    assert_eq!(c.capabilities().size_limit(), Some(5000));
    assert!(c.capabilities().has(Capability::Size));
    assert!(!c.capabilities().has(Capability::StartTls));
    assert!(c
        .capabilities()
        .auth_mechanisms()
        .contains(Mechanism::Login));
    h.assert_done();
}

/// RFC 3207 section 4.2 and RFC 6531: SMTPUTF8 offered only in plaintext is forgotten;
/// an internationalized address is then refused as non-ASCII, nothing written.
#[test]
fn smtputf8_offered_only_before_tls_is_forgotten() {
    let (t, h) = Script::new()
        .greeting()
        .ehlo(D, &["STARTTLS", "SMTPUTF8"])
        .starttls()
        .ehlo(D, &[])
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.send_mail(FROM, &["jürgen@example.com"], MSG)),
        Err(SmtpError::InvalidInput {
            field: InputField::To(0),
            reason: InvalidReason::NonAscii
        })
    );
    h.assert_done();
}
