//! AUTH (RFC 4954): plaintext refusal and its opt-in, challenge limits, malformed
//! challenges, failure replies, and secrets kept out of errors, `Debug` and the
//! transcript.
//!
//! Related tests elsewhere: `sessions.rs` `xoauth2_failure_answers_the_error_challenge_then_fails`
//! (the RFC 7628 section 3.2.3 error flow: empty response, then 535, connection still
//! usable) and `starttls_then_login_and_capabilities_are_relearned`; injection through
//! user names, passwords and tokens in `injection`; 421, end of stream and I/O errors
//! during AUTH in `connection`.

use crate::common::*;
use wasm_smtp_core::Mechanism;

const USER: &str = "alice";
const SECRET: &str = "hunter2";

/// The base64 forms of the secret that could leak: alone (LOGIN) and inside the PLAIN
/// response.
fn secret_forms() -> [String; 3] {
    [
        SECRET.to_owned(),
        base64(SECRET.as_bytes()),
        base64(format!("\0{USER}\0{SECRET}").as_bytes()),
    ]
}

fn assert_no_secret_anywhere(e: &SmtpError, c: &Client) {
    let forms = secret_forms();
    let forms: Vec<&str> = forms.iter().map(String::as_str).collect();
    assert_no_secret(e, &forms);
    let debug = format!("{c:?}");
    for s in &forms {
        assert!(!debug.contains(s), "{s:?} in {debug}");
    }
}

/// AUTH PLAIN answered with `reply`: refused as `AuthError::Rejected` with `code`,
/// transient or not, no secret in the error, and the session stays usable (NOOP).
fn failure(reply: &[u8], code: u16, transient: bool) {
    let (t, h) = tls(&["AUTH PLAIN"])
        .write_until(b"\r\n")
        .read(reply)
        .noop()
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login(USER, SECRET)).unwrap_err();
    match e {
        SmtpError::Auth(AuthError::Rejected(r)) => {
            assert_eq!((r.stage, r.code.get()), (Stage::Auth, code));
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(e.is_transient(), transient);
    assert_eq!(e.is_permanent(), !transient);
    assert_no_secret_anywhere(&e, &c);
    block_on(c.noop()).unwrap();
    h.assert_done();
}

/// AUTH LOGIN whose first challenge is `challenge`: malformed, nothing more written.
fn bad_login_challenge(challenge: &[u8]) {
    let (t, h) = tls(&["AUTH LOGIN"])
        .write(b"AUTH LOGIN\r\n")
        .read(challenge)
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(USER, SECRET)),
        Err(SmtpError::MalformedReply(MalformedReply::BadChallenge))
    );
    assert_closed_and_silent(&mut c, &h);
}

// ----- plaintext ------------------------------------------------------------------------------

/// RFC 4616 (security considerations: PLAIN exposes the password without a protected
/// channel) and RFC 3207 section 6: no credentials over an unencrypted connection by
/// default; nothing is written.
#[test]
fn plaintext_refused_by_default() {
    let (t, h) = plain(&["AUTH PLAIN"]).build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    let e = block_on(c.login(USER, SECRET)).unwrap_err();
    assert_eq!(e, SmtpError::PlaintextAuth);
    assert_no_secret_anywhere(&e, &c);
    assert!(!c.is_closed());
    h.assert_done();
}

/// As [`plaintext_refused_by_default`], for an explicitly chosen LOGIN.
#[test]
fn plaintext_refused_for_login_with() {
    let (t, h) = plain(&["AUTH LOGIN"]).build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    assert_eq!(
        block_on(c.login_with(Mechanism::Login, USER, SECRET)),
        Err(SmtpError::PlaintextAuth)
    );
    h.assert_done();
}

/// As [`plaintext_refused_by_default`], for an XOAUTH2 bearer token (RFC 6750 section 5.3:
/// bearer tokens need TLS).
#[test]
#[cfg(feature = "auth-oauth")]
fn plaintext_refused_for_xoauth2() {
    let (t, h) = plain(&["AUTH XOAUTH2"]).build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    assert_eq!(
        block_on(c.login_xoauth2(USER, "ya29.token")),
        Err(SmtpError::PlaintextAuth)
    );
    h.assert_done();
}

/// RFC 3207 section 6 (a stripped offer must not change the outcome): the plaintext
/// check comes first, so a plaintext server without AUTH still gets `PlaintextAuth` and
/// the caller learns about the policy, whatever the server advertises.
#[test]
fn plaintext_refused_before_mechanism_checks() {
    let (t, h) = plain(&[]).build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    assert_eq!(
        block_on(c.login(USER, SECRET)),
        Err(SmtpError::PlaintextAuth)
    );
    h.assert_done();
}

/// RFC 4616 (security considerations) leaves plaintext PLAIN to local policy: the
/// explicit opt-in `allow_plaintext_auth(true)` sends credentials on a plaintext
/// connection (loopback and test servers).
#[test]
fn plaintext_allowed_when_opted_in() {
    let (t, h) = plain(&["AUTH PLAIN"]).auth_plain(USER, SECRET).build();
    let mut c = connect_with(
        t,
        Config::new()
            .tls(TlsPolicy::Disabled)
            .allow_plaintext_auth(true),
    )
    .unwrap();
    block_on(c.login(USER, SECRET)).unwrap();
    h.assert_done();
}

// ----- challenges ------------------------------------------------------------------------------

/// RFC 4954 section 4 (the server sends 334 challenges until it is done) with LOGIN's
/// two prompts: a third 334 is cut off and the session closed.
#[test]
fn login_third_challenge_is_cut_off() {
    let (t, h) = tls(&["AUTH LOGIN"])
        .write(b"AUTH LOGIN\r\n")
        .read(b"334 VXNlcm5hbWU6\r\n")
        .write(b"YWxpY2U=\r\n")
        .read(b"334 UGFzc3dvcmQ6\r\n")
        .write(b"aHVudGVyMg==\r\n")
        .read(b"334 UGFzc3dvcmQ6\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login(USER, SECRET)).unwrap_err();
    assert_eq!(e, SmtpError::Protocol(ProtocolViolation::TooManyChallenges));
    assert_no_secret_anywhere(&e, &c);
    assert_closed_and_silent(&mut c, &h);
}

/// RFC 4954 section 4 (initial response) and RFC 4616 (PLAIN has one message): a 334
/// after the PLAIN initial response is cut off.
#[test]
fn plain_challenge_after_initial_response_is_cut_off() {
    let (t, h) = tls(&["AUTH PLAIN"])
        .write_until(b"\r\n")
        .read(b"334 \r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(USER, SECRET)),
        Err(SmtpError::Protocol(ProtocolViolation::TooManyChallenges))
    );
    assert_closed_and_silent(&mut c, &h);
}

/// RFC 7628 section 3.2.3 (one error challenge, answered with a dummy response, then
/// the final failure), the flow XOAUTH2 follows: a second 334 is cut off.
#[test]
#[cfg(feature = "auth-oauth")]
fn xoauth2_second_challenge_is_cut_off() {
    let (t, h) = tls(&["AUTH XOAUTH2"])
        .write_until(b"\r\n")
        .read(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n")
        .write(b"\r\n")
        .read(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login_xoauth2(USER, "ya29.token")),
        Err(SmtpError::Protocol(ProtocolViolation::TooManyChallenges))
    );
    assert_closed_and_silent(&mut c, &h);
}

/// RFC 4954 section 4 (a challenge is base64): a readable prompt is malformed.
#[test]
fn login_challenge_not_base64() {
    bad_login_challenge(b"334 Username:\r\n");
}

/// RFC 4954 section 4: base64 with broken padding is malformed.
#[test]
fn login_challenge_bad_padding() {
    bad_login_challenge(b"334 YQ=\r\n");
}

/// RFC 4954 section 4: base64 with a character outside the alphabet is malformed.
#[test]
fn login_challenge_bad_character() {
    bad_login_challenge(b"334 VXNl*m5hbWU6\r\n");
}

/// RFC 4954 section 4: a malformed XOAUTH2 error challenge is malformed too; the dummy
/// response is not sent.
#[test]
#[cfg(feature = "auth-oauth")]
fn xoauth2_challenge_not_base64() {
    let (t, h) = tls(&["AUTH XOAUTH2"])
        .write_until(b"\r\n")
        .read(b"334 {\"status\":\"401\"}\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login_xoauth2(USER, "ya29.token")),
        Err(SmtpError::MalformedReply(MalformedReply::BadChallenge))
    );
    assert_closed_and_silent(&mut c, &h);
}

/// RFC 4954 section 4 (an empty challenge is valid base64). LOGIN ignores the prompt
/// text, so an empty first challenge is answered with the user name (current
/// behaviour, as common clients do).
#[test]
fn login_empty_challenge_is_answered() {
    let (t, h) = tls(&["AUTH LOGIN"])
        .write(b"AUTH LOGIN\r\n")
        .read(b"334 \r\n")
        .write(b"YWxpY2U=\r\n")
        .read(b"334\r\n")
        .write(b"aHVudGVyMg==\r\n")
        .read(b"235 2.7.0 ok\r\n")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login(USER, SECRET)).unwrap();
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.5 (reply line length) applied to a 334 challenge: one
/// longer than the receive buffer is refused without waiting for its end; nothing more
/// is written.
#[test]
fn overlong_challenge() {
    let mut challenge = b"334 ".to_vec();
    challenge.extend_from_slice(&b"QUFB".repeat(500));
    challenge.extend_from_slice(b"\r\n");
    let (t, h) = tls(&["AUTH LOGIN"])
        .write(b"AUTH LOGIN\r\n")
        .read(challenge)
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(USER, SECRET)),
        Err(SmtpError::MalformedReply(MalformedReply::LineTooLong {
            limit: 1024
        }))
    );
    assert!(c.is_closed());
    assert_eq!(h.failure(), None);
    assert!(h.writes_after_failure().is_empty());
}

/// RFC 4954 section 4 (AUTH succeeds with 235 or fails with a negative code): a 250 to
/// AUTH is no success; the session is closed and not authenticated.
#[test]
fn auth_answered_250() {
    let (t, h) = tls(&["AUTH PLAIN"])
        .write_until(b"\r\n")
        .read(b"250 2.0.0 ok\r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(USER, SECRET)),
        Err(SmtpError::Protocol(ProtocolViolation::UnexpectedCode {
            stage: Stage::Auth,
            code: 250
        }))
    );
    assert!(!c.session().is_authenticated());
    assert_closed_and_silent(&mut c, &h);
}

// ----- failure replies ------------------------------------------------------------------------

/// RFC 4954 section 6 (535 5.7.8: authentication credentials invalid): permanent.
#[test]
fn failure_535() {
    failure(
        b"535 5.7.8 Authentication credentials invalid\r\n",
        535,
        false,
    );
}

/// RFC 4954 section 6 (534 5.7.9: authentication mechanism is too weak): permanent.
#[test]
fn failure_534() {
    failure(
        b"534 5.7.9 Please log in with your web browser\r\n",
        534,
        false,
    );
}

/// RFC 4954 section 6 (538 5.7.11: encryption required for the mechanism): permanent.
#[test]
fn failure_538() {
    failure(
        b"538 5.7.11 Encryption required for requested authentication mechanism\r\n",
        538,
        false,
    );
}

/// RFC 4954 section 6 (454 4.7.0: temporary authentication failure): transient.
#[test]
fn failure_454() {
    failure(b"454 4.7.0 Temporary authentication failure\r\n", 454, true);
}

/// RFC 4954 section 6 (432 4.7.12: a password transition is needed): transient.
#[test]
fn failure_432() {
    failure(b"432 4.7.12 A password transition is needed\r\n", 432, true);
}

/// RFC 4954 section 6 (500 5.5.6: authentication exchange line is too long): permanent.
#[test]
fn failure_500() {
    failure(
        b"500 5.5.6 Authentication Exchange line is too long\r\n",
        500,
        false,
    );
}

/// RFC 4954 section 6, multi-line failure reply: the code of the reply counts.
#[test]
fn failure_535_multiline() {
    failure(
        b"535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 Learn more\r\n",
        535,
        false,
    );
}

// ----- mechanisms -----------------------------------------------------------------------------

/// RFC 4954 section 3 (the server lists its mechanisms): no mechanism in common with
/// the client, nothing written.
#[test]
fn no_common_mechanism() {
    // Token mechanisms are never chosen for a password; GSSAPI is unknown.
    let (t, h) = tls(&["AUTH XOAUTH2 OAUTHBEARER GSSAPI"]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(USER, SECRET)),
        Err(SmtpError::Auth(AuthError::NoCommonMechanism))
    );
    h.assert_done();
}

/// RFC 4954 section 3: no AUTH at all, nothing written.
#[test]
fn auth_not_offered() {
    let (t, h) = tls(&["PIPELINING"]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(USER, SECRET)),
        Err(SmtpError::ExtensionUnavailable(Extension::Auth))
    );
    h.assert_done();
}

/// RFC 4954 section 4 (the client uses an advertised mechanism): an explicitly chosen
/// mechanism the server does not offer is refused before writing.
#[test]
fn chosen_mechanism_not_offered() {
    let (t, h) = tls(&["AUTH PLAIN"]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login_with(Mechanism::Login, USER, SECRET)),
        Err(SmtpError::Auth(AuthError::NoCommonMechanism))
    );
    h.assert_done();
}

/// RFC 4954 section 4 (AUTH names one SASL mechanism) with CRAM-MD5 (RFC 2195), which
/// the server offers and this build leaves out (cargo feature `auth-cram-md5` off):
/// refused before writing.
#[cfg(not(feature = "auth-cram-md5"))]
#[test]
fn chosen_mechanism_not_implemented() {
    let (t, h) = tls(&["AUTH CRAM-MD5 PLAIN"]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login_with(Mechanism::CramMd5, USER, SECRET)),
        Err(SmtpError::Auth(AuthError::MechanismDisabled(
            Mechanism::CramMd5
        )))
    );
    h.assert_done();
}

// ----- secrets in logs ------------------------------------------------------------------------

/// CWE-532 (sensitive information in log files): the mock's transcript (what a test
/// log shows) holds no secret nor its base64 after a PLAIN login, and the client's
/// `Debug` neither.
#[test]
fn no_secret_in_transcript_or_debug_after_plain() {
    let (t, h) = tls(&["AUTH PLAIN"]).auth_plain(USER, SECRET).build();
    let mut c = connect(t).unwrap();
    block_on(c.login(USER, SECRET)).unwrap();
    h.assert_done();
    let text = h.transcript_text();
    let debug = format!("{c:?}");
    for s in secret_forms() {
        assert!(!text.contains(&s), "{s:?} in {text}");
        assert!(!debug.contains(&s), "{s:?} in {debug}");
    }
}

/// As [`no_secret_in_transcript_or_debug_after_plain`], for XOAUTH2 (the token and the
/// base64 of the whole initial response).
#[test]
#[cfg(feature = "auth-oauth")]
fn no_secret_in_transcript_or_debug_after_xoauth2() {
    let token = "ya29.SECRETTOKEN";
    let (t, h) = tls(&["AUTH XOAUTH2"]).auth_xoauth2(USER, token).build();
    let mut c = connect(t).unwrap();
    block_on(c.login_xoauth2(USER, token)).unwrap();
    h.assert_done();
    let text = h.transcript_text();
    let debug = format!("{c:?}");
    let response = base64(format!("user={USER}\x01auth=Bearer {token}\x01\x01").as_bytes());
    for s in [token, &response] {
        assert!(!text.contains(s), "{s:?} in {text}");
        assert!(!debug.contains(s), "{s:?} in {debug}");
    }
}

/// CWE-532: `Credentials` prints `<redacted>` for the secret in `Debug`.
#[test]
fn credentials_debug_is_redacted() {
    let creds = wasm_smtp_core::auth::Credentials::new(USER, SECRET);
    let debug = format!("{creds:?}");
    assert!(
        !debug.contains(SECRET) && debug.contains("<redacted>"),
        "{debug}"
    );
}

// ----- line lengths (RFC 4954 section 4) -----------------------------------------------

/// The base64 PLAIN response for USER and `secret`.
fn plain_response(secret: &str) -> String {
    base64(format!("\0{USER}\0{secret}").as_bytes())
}

/// The lines the client wrote after EHLO, each with its CRLF, as lengths.
fn line_lengths(h: &MockHandle) -> Vec<usize> {
    let written = h.written();
    let lines: Vec<&[u8]> = written.split_inclusive(|&b| b == b'\n').collect();
    lines[1..].iter().map(|l| l.len()).collect()
}

/// RFC 4954 section 4 and RFC 5321 section 4.5.3.1.4: with a 400-octet password the PLAIN
/// initial response would make a 557-octet AUTH line (what the client sent before this
/// rule); the client sends `AUTH PLAIN` alone and the response after the server's 334.
#[test]
fn plain_initial_response_too_long_for_the_command_line_follows_the_334() {
    let secret = "p".repeat(400);
    let response = plain_response(&secret);
    assert_eq!(format!("AUTH PLAIN {response}\r\n").len(), 557);
    let (t, h) = tls(&["AUTH PLAIN"])
        .write(b"AUTH PLAIN\r\n")
        .read(b"334 \r\n")
        .write(format!("{response}\r\n"))
        .read(b"235 2.7.0 ok\r\n")
        .noop()
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login(USER, &secret)).unwrap();
    assert!(c.session().is_authenticated());
    block_on(c.noop()).unwrap();
    h.assert_done();
    assert_eq!(line_lengths(&h), [12, 546, 6]);
}

/// The boundary: a 509-octet AUTH line (the longest a PLAIN line can be within 512)
/// keeps its initial response; the next longer secret makes 513 octets and is deferred.
/// The mock's `auth_plain` follows the same rule.
#[test]
fn plain_initial_response_at_the_limit_stays_on_the_auth_line() {
    let inline = "p".repeat(365);
    assert_eq!(
        format!("AUTH PLAIN {}\r\n", plain_response(&inline)).len(),
        509
    );
    let (t, h) = tls(&["AUTH PLAIN"])
        .write(format!("AUTH PLAIN {}\r\n", plain_response(&inline)))
        .read(b"235 2.7.0 ok\r\n")
        .build();
    block_on(connect(t).unwrap().login(USER, &inline)).unwrap();
    h.assert_done();

    let deferred = "p".repeat(366);
    assert_eq!(
        format!("AUTH PLAIN {}\r\n", plain_response(&deferred)).len(),
        513
    );
    let (t, h) = tls(&["AUTH PLAIN"]).auth_plain(USER, &deferred).build();
    block_on(connect(t).unwrap().login(USER, &deferred)).unwrap();
    h.assert_done();
    assert_eq!(line_lengths(&h), [12, 502]);
}

/// A bare `AUTH PLAIN` refused (for example 504 by a server that only accepts initial
/// responses): the refusal is reported, no credentials are written, and the session
/// stays usable.
#[test]
fn deferred_auth_refused_before_the_response() {
    let secret = "p".repeat(400);
    let (t, h) = tls(&["AUTH PLAIN"])
        .write(b"AUTH PLAIN\r\n")
        .read(b"504 5.5.4 Unrecognized authentication type\r\n")
        .noop()
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login(USER, &secret)).unwrap_err();
    assert!(rejected_any(Stage::Auth, 504)(&e), "{e:?}");
    assert!(!c.is_closed());
    block_on(c.noop()).unwrap();
    h.assert_done();
    assert!(!String::from_utf8_lossy(&h.written()).contains(&plain_response(&secret)));
}

/// After a deferred initial response the mechanism's own challenges count as before:
/// PLAIN has none, so a 334 after the response is cut off.
#[test]
fn deferred_plain_challenge_after_the_response_is_cut_off() {
    let secret = "p".repeat(400);
    let (t, h) = tls(&["AUTH PLAIN"])
        .auth_initial("PLAIN", &plain_response(&secret))
        .read(b"334 \r\n")
        .build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(USER, &secret)),
        Err(SmtpError::Protocol(ProtocolViolation::TooManyChallenges))
    );
    assert_closed_and_silent(&mut c, &h);
}

/// A 2 KB XOAUTH2 bearer token (large providers issue such tokens): deferred, and the
/// RFC 7628-style error flow still works after it (error challenge, empty line, final
/// failure), with a transmit buffer of 64 octets streaming the 2.7 KB response line.
#[test]
#[cfg(feature = "auth-oauth")]
fn xoauth2_2kb_token_is_deferred_and_its_error_challenge_answered() {
    let token = "t".repeat(2048);
    let response = base64(format!("user={USER}\x01auth=Bearer {token}\x01\x01").as_bytes());
    let (t, h) = tls(&["AUTH XOAUTH2"])
        .write(b"AUTH XOAUTH2\r\n")
        .read(b"334 \r\n")
        .write(format!("{response}\r\n"))
        .read(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n")
        .write(b"\r\n")
        .read(b"535 5.7.8 Username and Password not accepted\r\n")
        .build();
    let mut c = block_on(SmtpClient::<_, 512, 64>::connect_sized(t, D, Config::new())).unwrap();
    let e = block_on(c.login_xoauth2(USER, &token)).unwrap_err();
    assert!(rejected_any(Stage::Auth, 535)(&e), "{e:?}");
    h.assert_done();
    assert_eq!(line_lengths(&h), [14, response.len() + 2, 2]);
}

/// OAUTHBEARER with a 1.5 KB token and the optional host and port: deferred too.
#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_long_token_is_deferred() {
    let token = "t".repeat(1536);
    let response = base64(
        format!("n,a={USER},\x01host=mx.example.com\x01port=587\x01auth=Bearer {token}\x01\x01")
            .as_bytes(),
    );
    let (t, h) = tls(&["AUTH OAUTHBEARER"])
        .write(b"AUTH OAUTHBEARER\r\n")
        .read(b"334 \r\n")
        .write(format!("{response}\r\n"))
        .read(b"235 2.7.0 ok\r\n")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login_oauthbearer_at(USER, &token, "mx.example.com", 587)).unwrap();
    h.assert_done();
}

/// RFC 4954 section 4: servers must accept response lines of 12288 octets. A response
/// line of exactly that size is sent (through a 64-octet transmit buffer); credentials
/// that would need a longer line are refused before anything is written, naming the
/// field and never its value.
#[test]
fn response_lines_up_to_12288_octets() {
    // 9206-octet secret: 9213 octets of PLAIN response, 12284 of base64, 12286 with CRLF.
    let longest = "p".repeat(9206);
    let (t, h) = tls(&["AUTH PLAIN LOGIN"])
        .auth_plain(USER, &longest)
        .build();
    let mut c = block_on(SmtpClient::<_, 512, 64>::connect_sized(t, D, Config::new())).unwrap();
    block_on(c.login(USER, &longest)).unwrap();
    h.assert_done();
    assert_eq!(line_lengths(&h), [12, 12286]);

    let refused = SmtpError::InvalidInput {
        field: InputField::Secret,
        reason: InvalidReason::TooLong(12288),
    };
    // One octet more for PLAIN; LOGIN sends the password alone, 7 octets more fit.
    for (mech, len) in [(Mechanism::Plain, 9207), (Mechanism::Login, 9214)] {
        let too_long = "p".repeat(len);
        let (t, h) = tls(&["AUTH PLAIN LOGIN"]).build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login_with(mech, USER, &too_long)).unwrap_err();
        assert_eq!(e, refused, "{mech:?}");
        assert!(!e.to_string().contains("ppp"));
        h.assert_done();
        assert_eq!(line_lengths(&h), [0usize; 0], "nothing written after EHLO");
    }
    // A LOGIN user name of that size is the user name's fault.
    let (t, h) = tls(&["AUTH LOGIN"]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        block_on(c.login(&"u".repeat(9300), SECRET)),
        Err(SmtpError::InvalidInput {
            field: InputField::Username,
            reason: InvalidReason::TooLong(12288),
        })
    );
    h.assert_done();
}
