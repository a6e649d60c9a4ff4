//! AUTH mechanisms through the scripted mock: OAUTHBEARER, SCRAM-SHA-256 (feature
//! `auth-scram`), CRAM-MD5 (feature `auth-cram-md5`), the automatic choice, and what a
//! failed attempt leaves in errors. Every transcript is checked byte for byte; after a
//! failure that abandons the connection, the script has no more steps, so any further
//! write would be a mismatch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use wasm_smtp_core::auth::Credentials;
use wasm_smtp_core::Mechanism;

fn b64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    let mut out = vec![0u8; bytes.len().div_ceil(3) * 4];
    base64ct::Base64::encode(bytes, &mut out)
        .unwrap()
        .to_owned()
}

#[cfg_attr(not(feature = "auth-oauth"), allow(dead_code))]
fn auth_err(e: &SmtpError) -> &AuthError {
    match e {
        SmtpError::Auth(a) => a,
        other => panic!("not an AUTH error: {other:?}"),
    }
}

/// After a fatal AUTH failure: closed, and nothing more is written.
#[cfg_attr(not(feature = "auth-oauth"), allow(dead_code))]
fn assert_abandoned(c: &mut Client, h: &wasm_smtp_mock::MockHandle) {
    assert!(c.is_closed());
    assert_eq!(block_on(c.noop()), Err(SmtpError::SessionUnusable));
    block_on(c.quit()).unwrap();
    h.assert_done();
    assert!(h.writes_after_failure().is_empty());
}

// ----- OAUTHBEARER (RFC 7628) -----------------------------------------------------------

#[cfg_attr(not(feature = "auth-oauth"), allow(dead_code))]
const TOKEN: &str = "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==";

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_success() {
    let (t, h) = tls(&["AUTH OAUTHBEARER XOAUTH2"])
        .auth_oauthbearer("user@example.com", TOKEN)
        .quit()
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login_oauthbearer("user@example.com", TOKEN)).unwrap();
    assert!(c.session().is_authenticated());
    block_on(c.quit()).unwrap();
    h.assert_done();
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_with_host_and_port_is_rfc7628_example() {
    // RFC 7628 section 4.1, byte for byte.
    let ir = b64(
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer \
          vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01",
    );
    let (t, h) = tls(&["AUTH OAUTHBEARER"])
        .write(format!("AUTH OAUTHBEARER {ir}\r\n"))
        .read("235 2.7.0 ok\r\n")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login_oauthbearer_at("user@example.com", TOKEN, "server.example.com", 143)).unwrap();
    h.assert_done();
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_user_is_escaped() {
    let (t, h) = tls(&["AUTH OAUTHBEARER"])
        .auth_oauthbearer("a,b=c@example.com", "tok")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login_oauthbearer("a,b=c@example.com", "tok")).unwrap();
    h.assert_done();
    let ir = String::from_utf8(h.written()).unwrap();
    assert!(ir.contains(&b64(
        b"n,a=a=2Cb=3Dc@example.com,\x01auth=Bearer tok\x01\x01"
    )));
}

#[cfg_attr(not(feature = "auth-oauth"), allow(dead_code))]
const BEARER_ERROR: &[u8] =
    br#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#;

#[cfg_attr(not(feature = "auth-oauth"), allow(dead_code))]
fn bearer_script() -> Script {
    tls(&["AUTH OAUTHBEARER"]).write(format!(
        "AUTH OAUTHBEARER {}\r\n",
        b64(b"n,a=u,\x01auth=Bearer tok\x01\x01")
    ))
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_error_challenge_is_answered_with_ctrl_a() {
    // RFC 7628 section 3.2.3: the client answers the error challenge with %x01 ("AQ==")
    // and the server sends the final failure; the session stays usable.
    let (t, h) = bearer_script()
        .read(format!("334 {}\r\n", b64(BEARER_ERROR)))
        .write("AQ==\r\n")
        .read("535 5.7.8 Authentication credentials invalid\r\n")
        .noop()
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_oauthbearer("u", "tok")).unwrap_err();
    let AuthError::BearerRejected { rejection, status } = auth_err(&e) else {
        panic!("{e:?}");
    };
    assert_eq!(status.as_str(), "invalid_token");
    assert_eq!(rejection.code.get(), 535);
    assert!(e.is_permanent());
    assert_eq!(e.reply_code().map(|c| c.get()), Some(535));
    assert!(e.to_string().contains("invalid_token"), "{e}");
    assert!(!c.is_closed());
    block_on(c.noop()).unwrap();
    h.assert_done();
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_error_without_json_status() {
    let (t, h) = bearer_script()
        .read(format!("334 {}\r\n", b64(b"not json")))
        .write("AQ==\r\n")
        .read("454 4.7.0 try later\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_oauthbearer("u", "tok")).unwrap_err();
    let AuthError::BearerRejected { status, .. } = auth_err(&e) else {
        panic!("{e:?}");
    };
    assert_eq!(status.as_str(), "");
    assert!(e.is_transient());
    h.assert_done();
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_success_after_error_challenge_is_a_violation() {
    let (t, h) = bearer_script()
        .read(format!("334 {}\r\n", b64(BEARER_ERROR)))
        .write("AQ==\r\n")
        .read("235 2.7.0 ok?\r\n")
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_oauthbearer("u", "tok")).unwrap_err();
    assert!(matches!(
        e,
        SmtpError::Protocol(ProtocolViolation::UnexpectedCode { code: 235, .. })
    ));
    assert_abandoned(&mut c, &h);
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_endless_challenges() {
    let (t, h) = bearer_script()
        .read(format!("334 {}\r\n", b64(BEARER_ERROR)))
        .write("AQ==\r\n")
        .read(format!("334 {}\r\n", b64(BEARER_ERROR)))
        .build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_oauthbearer("u", "tok")).unwrap_err();
    assert_eq!(e, SmtpError::Protocol(ProtocolViolation::TooManyChallenges));
    assert_abandoned(&mut c, &h);
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_bad_base64_challenge() {
    let (t, h) = bearer_script().read("334 {not base64}\r\n").build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_oauthbearer("u", "tok")).unwrap_err();
    assert_eq!(e, SmtpError::MalformedReply(MalformedReply::BadChallenge));
    assert_abandoned(&mut c, &h);
}

#[test]
#[cfg(feature = "auth-oauth")]
fn oauthbearer_input_is_validated_before_writing() {
    let (t, h) = tls(&["AUTH OAUTHBEARER"]).build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_oauthbearer("u", "tok\x01auth=x")).unwrap_err();
    assert!(matches!(
        e,
        SmtpError::InvalidInput {
            field: InputField::Secret,
            ..
        }
    ));
    let e = block_on(c.login_oauthbearer_at("u", "tok", "host\r\nMAIL", 25)).unwrap_err();
    assert!(matches!(
        e,
        SmtpError::InvalidInput {
            field: InputField::OAuthHost,
            ..
        }
    ));
    // Not chosen automatically: it takes a token, not a password.
    let e = block_on(c.login("u", "p")).unwrap_err();
    assert_eq!(e, SmtpError::Auth(AuthError::NoCommonMechanism));
    h.assert_done();
}

#[test]
#[cfg(feature = "auth-oauth")]
fn token_mechanisms_refuse_plaintext() {
    let (t, h) = plain(&["AUTH OAUTHBEARER XOAUTH2"]).build();
    let mut c = connect_with(t, Config::new().tls(TlsPolicy::Disabled)).unwrap();
    assert_eq!(
        block_on(c.login_oauthbearer("u", "tok")),
        Err(SmtpError::PlaintextAuth)
    );
    assert_eq!(
        block_on(c.login_xoauth2("u", "tok")),
        Err(SmtpError::PlaintextAuth)
    );
    h.assert_done();
}

// ----- the automatic choice ---------------------------------------------------------------

#[test]
fn login_prefers_plain_then_login() {
    let (t, h) = tls(&["AUTH LOGIN OAUTHBEARER XOAUTH2"])
        .auth_login("u", "p")
        .build();
    let mut c = connect(t).unwrap();
    block_on(c.login("u", "p")).unwrap();
    h.assert_done();
    let (t, h) = tls(&["AUTH LOGIN CRAM-MD5 SCRAM-SHA-256 PLAIN"])
        .auth_plain("u", "p")
        .build();
    let mut c = connect(t).unwrap();
    // No nonce: SCRAM cannot be chosen; under TLS PLAIN beats CRAM-MD5.
    block_on(c.login("u", "p")).unwrap();
    h.assert_done();
}

#[test]
fn choose_mechanism_table() {
    use wasm_smtp_core::auth::exchange::choose_mechanism;
    use wasm_smtp_core::capabilities::Mechanisms;
    let set = |ms: &[Mechanism]| {
        let mut s = Mechanisms::default();
        for m in ms {
            s.insert(*m);
        }
        s
    };
    let all = set(&[
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::ScramSha256,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
    ]);
    let scram = cfg!(feature = "auth-scram");
    let cram = cfg!(feature = "auth-cram-md5");
    let expect_tls = if scram {
        Mechanism::ScramSha256
    } else {
        Mechanism::Plain
    };
    assert_eq!(choose_mechanism(all, true, true), Some(expect_tls));
    assert_eq!(choose_mechanism(all, true, false), Some(Mechanism::Plain));
    let expect_plaintext = if cram {
        Mechanism::CramMd5
    } else {
        Mechanism::Plain
    };
    assert_eq!(choose_mechanism(all, false, false), Some(expect_plaintext));
    let only_cram = set(&[Mechanism::CramMd5]);
    assert_eq!(
        choose_mechanism(only_cram, true, true),
        cram.then_some(Mechanism::CramMd5)
    );
    assert_eq!(
        choose_mechanism(
            set(&[Mechanism::XOAuth2, Mechanism::OAuthBearer]),
            true,
            true
        ),
        None
    );
}

#[cfg(not(feature = "auth-cram-md5"))]
#[test]
fn disabled_mechanism_is_a_typed_error() {
    let (t, h) = tls(&["AUTH CRAM-MD5"]).build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login_with(Mechanism::CramMd5, "u", "p")).unwrap_err();
    assert_eq!(
        e,
        SmtpError::Auth(AuthError::MechanismDisabled(Mechanism::CramMd5))
    );
    assert!(e.to_string().contains("CRAM-MD5"), "{e}");
    assert_eq!(
        block_on(c.login("u", "p")),
        Err(SmtpError::Auth(AuthError::NoCommonMechanism))
    );
    h.assert_done();
}

/// Without the `auth-oauth` feature the token mechanisms are refused before anything is
/// written, even when the server offers them.
#[cfg(not(feature = "auth-oauth"))]
#[test]
fn token_mechanisms_disabled_without_the_feature() {
    let (t, h) = tls(&["AUTH XOAUTH2 OAUTHBEARER"]).build();
    let mut c = connect(t).unwrap();
    for mech in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        assert_eq!(
            block_on(c.login_with(mech, "u", "tok")),
            Err(SmtpError::Auth(AuthError::MechanismDisabled(mech)))
        );
    }
    assert_eq!(
        block_on(c.login("u", "p")),
        Err(SmtpError::Auth(AuthError::NoCommonMechanism))
    );
    assert!(!c.is_closed());
    h.assert_done();
}

// ----- CRAM-MD5 (RFC 2195) ------------------------------------------------------------------

#[cfg(feature = "auth-cram-md5")]
mod cram {
    use super::*;

    const CHALLENGE: &str = "<1896.697170952@postoffice.reston.mci.net>";

    #[test]
    fn rfc2195_example() {
        let (t, h) = tls(&["AUTH CRAM-MD5"])
            .write("AUTH CRAM-MD5\r\n")
            .read("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n")
            .write("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n")
            .read("235 2.7.0 ok\r\n")
            .build();
        let mut c = connect(t).unwrap();
        block_on(c.login_with(Mechanism::CramMd5, "tim", "tanstaaftanstaaf")).unwrap();
        h.assert_done();
    }

    #[test]
    fn chosen_only_when_nothing_better_or_in_plaintext() {
        let (t, h) = tls(&["AUTH CRAM-MD5"])
            .auth_cram_md5("u", "p", CHALLENGE)
            .build();
        let mut c = connect(t).unwrap();
        block_on(c.login("u", "p")).unwrap();
        h.assert_done();
        // Plaintext (explicitly allowed): CRAM-MD5 keeps the password off the wire.
        let (t, h) = plain(&["AUTH PLAIN LOGIN CRAM-MD5"])
            .auth_cram_md5("u", "p", CHALLENGE)
            .build();
        let config = Config::new()
            .tls(TlsPolicy::Disabled)
            .allow_plaintext_auth(true);
        let mut c = connect_with(t, config).unwrap();
        block_on(c.login("u", "p")).unwrap();
        h.assert_done();
    }

    #[test]
    fn rejection() {
        let (t, h) = tls(&["AUTH CRAM-MD5"])
            .write("AUTH CRAM-MD5\r\n")
            .read(format!("334 {}\r\n", b64(CHALLENGE.as_bytes())))
            .write(format!(
                "{}\r\n",
                b64(wasm_smtp_mock::cram_md5_response("u", "p", CHALLENGE).as_bytes())
            ))
            .read("535 5.7.8 no\r\n")
            .build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login_with(Mechanism::CramMd5, "u", "p")).unwrap_err();
        assert!(matches!(auth_err(&e), AuthError::Rejected(r) if r.code.get() == 535));
        assert!(!c.is_closed());
        h.assert_done();
    }

    #[test]
    fn malformed_challenges() {
        for challenge in ["334 \r\n", "334 =\r\n", "334 Zm9v!\r\n", "334 Zg=\r\n"] {
            let (t, h) = tls(&["AUTH CRAM-MD5"])
                .write("AUTH CRAM-MD5\r\n")
                .read(challenge)
                .build();
            let mut c = connect(t).unwrap();
            let e = block_on(c.login_with(Mechanism::CramMd5, "u", "p")).unwrap_err();
            assert_eq!(
                e,
                SmtpError::MalformedReply(MalformedReply::BadChallenge),
                "{challenge:?}"
            );
            assert_abandoned(&mut c, &h);
        }
    }

    #[test]
    fn endless_challenges() {
        let ch = format!("334 {}\r\n", b64(CHALLENGE.as_bytes()));
        let (t, h) = tls(&["AUTH CRAM-MD5"])
            .write("AUTH CRAM-MD5\r\n")
            .read(ch.clone())
            .write(format!(
                "{}\r\n",
                b64(wasm_smtp_mock::cram_md5_response("u", "p", CHALLENGE).as_bytes())
            ))
            .read(ch)
            .build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login_with(Mechanism::CramMd5, "u", "p")).unwrap_err();
        assert_eq!(e, SmtpError::Protocol(ProtocolViolation::TooManyChallenges));
        assert_abandoned(&mut c, &h);
    }
}

// ----- SCRAM-SHA-256 (RFC 5802, RFC 7677) ---------------------------------------------------

#[cfg(feature = "auth-scram")]
mod scram {
    use super::*;
    use wasm_smtp_core::auth::scram::ClientNonce;
    use wasm_smtp_mock::ScramExchange;

    const CNONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SNONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SALT: &[u8] = b"\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81";

    fn rfc() -> ScramExchange {
        ScramExchange::new("user", "pencil", CNONCE, SNONCE, SALT, 4096)
    }

    fn nonce() -> ClientNonce {
        ClientNonce::from_printable(CNONCE).unwrap()
    }

    /// Up to the client-final message: AUTH with client-first, 334 server-first.
    fn to_server_first(server_first: &str) -> Script {
        tls(&["AUTH SCRAM-SHA-256 PLAIN"])
            .write(format!(
                "AUTH SCRAM-SHA-256 {}\r\n",
                b64(rfc().client_first.as_bytes())
            ))
            .read(format!("334 {}\r\n", b64(server_first.as_bytes())))
    }

    /// Up to the server-final message.
    fn to_server_final() -> Script {
        let x = rfc();
        to_server_first(&x.server_first).write(format!("{}\r\n", b64(x.client_final.as_bytes())))
    }

    #[test]
    fn rfc7677_example_through_the_client() {
        let x = rfc();
        assert_eq!(x.client_first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            x.client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            x.server_final,
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let (t, h) = tls(&["AUTH SCRAM-SHA-256"]).auth_scram(&x).quit().build();
        let mut c = connect(t).unwrap();
        block_on(c.login_scram("user", "pencil", &nonce())).unwrap();
        assert!(c.session().is_authenticated());
        block_on(c.quit()).unwrap();
        h.assert_done();
    }

    #[test]
    fn chosen_first_when_a_nonce_is_given() {
        let (t, h) = tls(&["AUTH PLAIN LOGIN SCRAM-SHA-256"])
            .auth_scram(&rfc())
            .build();
        let mut c = connect(t).unwrap();
        block_on(c.login_with_nonce("user", "pencil", &nonce())).unwrap();
        h.assert_done();
        // Not offered: the nonce is unused and PLAIN is chosen.
        let (t, h) = tls(&["AUTH PLAIN"]).auth_plain("user", "pencil").build();
        let mut c = connect(t).unwrap();
        block_on(c.login_with_nonce("user", "pencil", &nonce())).unwrap();
        h.assert_done();
    }

    #[test]
    fn small_transmit_buffer_and_odd_user_name() {
        // 64-byte TX: every line is streamed in several writes; the user name needs
        // escaping; a long random nonce.
        let n = ClientNonce::from_random(&[0x5a; 48]).unwrap();
        let x = ScramExchange::new("a,b=c", "pw", n.as_str(), "srv", b"salt", 4096);
        assert!(x.client_first.starts_with("n,,n=a=2Cb=3Dc,r="));
        let (t, h) = tls(&["AUTH SCRAM-SHA-256"]).auth_scram(&x).build();
        let mut c = block_on(SmtpClient::<_, 512, 64>::connect_sized(t, D, Config::new())).unwrap();
        block_on(c.login_scram("a,b=c", "pw", &n)).unwrap();
        h.assert_done();
    }

    /// RFC 4954 section 4 for SCRAM: a client-first message too long for the AUTH line
    /// (a 400-octet user name) goes on its own line after `AUTH SCRAM-SHA-256` and the
    /// server's empty 334; the two SCRAM challenges follow as usual.
    #[test]
    fn long_client_first_is_deferred() {
        let user = "u".repeat(400);
        let x = ScramExchange::new(&user, "pencil", CNONCE, SNONCE, SALT, 4096);
        let (t, h) = tls(&["AUTH SCRAM-SHA-256"]).auth_scram(&x).build();
        let mut c = connect(t).unwrap();
        block_on(c.login_scram(&user, "pencil", &nonce())).unwrap();
        assert!(c.session().is_authenticated());
        h.assert_done();
        let written = String::from_utf8(h.written()).unwrap();
        assert!(written.contains("\r\nAUTH SCRAM-SHA-256\r\n"), "{written}");
        assert!(written.lines().all(|l| l.len() < 700));
    }

    #[test]
    fn server_rejects_the_proof() {
        let (t, h) = to_server_final()
            .read("535 5.7.8 Authentication failed\r\n")
            .noop()
            .build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login_scram("user", "pencil", &nonce())).unwrap_err();
        assert!(matches!(auth_err(&e), AuthError::Rejected(r) if r.code.get() == 535));
        assert!(!c.is_closed());
        block_on(c.noop()).unwrap();
        h.assert_done();
    }

    fn scram_fails(script: Script, expect: SmtpError) {
        let (t, h) = script.build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login_scram("user", "pencil", &nonce())).unwrap_err();
        assert_eq!(e, expect);
        assert!(!c.session().is_authenticated() || c.is_closed());
        assert_abandoned(&mut c, &h);
    }

    fn scram(e: ScramError) -> SmtpError {
        SmtpError::Auth(AuthError::Scram(e))
    }

    #[test]
    fn malformed_server_first() {
        let r = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let cases = [
            (
                format!("{r},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0"),
                ScramError::MalformedServerFirst,
            ),
            (
                format!("{r},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000"),
                ScramError::IterationCount(4_000_000_000),
            ),
            (
                format!("{r},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100"),
                ScramError::IterationCount(100),
            ),
            (format!("{r},i=4096"), ScramError::MalformedServerFirst),
            (
                format!("{r},s=W22ZaJ0SNY7soEsUEjb6gQ=="),
                ScramError::MalformedServerFirst,
            ),
            (
                format!("{r},s=W22ZaJ0S!Y7soEsUEjb6gQ==,i=4096"),
                ScramError::BadSalt,
            ),
            (format!("{r},s=,i=4096"), ScramError::BadSalt),
            (
                "r=someone-elses-nonce,s=QQ==,i=4096".to_owned(),
                ScramError::NonceMismatch,
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqO,s=QQ==,i=4096".to_owned(),
                ScramError::NonceMismatch,
            ),
            (
                format!("m=x,{r},s=QQ==,i=4096"),
                ScramError::MandatoryExtension,
            ),
            ("garbage".to_owned(), ScramError::MalformedServerFirst),
            (String::new(), ScramError::MalformedServerFirst),
        ];
        for (server_first, err) in cases {
            scram_fails(to_server_first(&server_first), scram(err));
        }
    }

    #[test]
    fn server_first_not_base64() {
        scram_fails(
            tls(&["AUTH SCRAM-SHA-256"])
                .write(format!(
                    "AUTH SCRAM-SHA-256 {}\r\n",
                    b64(rfc().client_first.as_bytes())
                ))
                .read("334 r=rOprNGfwEbeRWgbNEkqO,s=QQ==,i=4096\r\n"),
            SmtpError::MalformedReply(MalformedReply::BadChallenge),
        );
    }

    #[test]
    fn server_signature_mismatch() {
        // A server that does not know the password (it accepts any proof): its signature
        // cannot be right, and the client stops before the server's 235.
        let wrong = ScramExchange::new("user", "not-pencil", CNONCE, SNONCE, SALT, 4096);
        scram_fails(
            to_server_final().read(format!("334 {}\r\n", b64(wrong.server_final.as_bytes()))),
            scram(ScramError::ServerSignatureMismatch),
        );
    }

    #[test]
    fn server_final_malformed_or_error() {
        for (text, err) in [
            ("e=invalid-proof", ScramError::ServerError),
            ("v=", ScramError::MalformedServerFinal),
            ("x=1", ScramError::MalformedServerFinal),
            ("", ScramError::MalformedServerFinal),
        ] {
            scram_fails(
                to_server_final().read(format!("334 {}\r\n", b64(text.as_bytes()))),
                scram(err),
            );
        }
    }

    #[test]
    fn success_without_server_signature_is_refused() {
        scram_fails(
            to_server_final().read("235 2.7.0 Authentication successful\r\n"),
            scram(ScramError::ServerSignatureMissing),
        );
    }

    #[test]
    fn endless_challenges() {
        let x = rfc();
        scram_fails(
            to_server_final()
                .read(format!("334 {}\r\n", b64(x.server_final.as_bytes())))
                .write("\r\n")
                .read(format!("334 {}\r\n", b64(x.server_final.as_bytes()))),
            SmtpError::Protocol(ProtocolViolation::TooManyChallenges),
        );
    }

    #[test]
    fn caller_errors_write_nothing() {
        let (t, h) = tls(&["AUTH SCRAM-SHA-256"]).build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login_scram("user", "pässword", &nonce())).unwrap_err();
        assert_eq!(
            e,
            SmtpError::InvalidInput {
                field: InputField::Secret,
                reason: InvalidReason::NeedsSaslPrep
            }
        );
        let e = block_on(c.login_with(Mechanism::ScramSha256, "user", "pencil")).unwrap_err();
        assert_eq!(
            e,
            SmtpError::InvalidInput {
                field: InputField::Nonce,
                reason: InvalidReason::Empty
            }
        );
        assert!(ClientNonce::from_random(&[1; 10]).is_err());
        h.assert_done();
        assert!(h.written().starts_with(b"EHLO"));
    }
}

// ----- secrets ----------------------------------------------------------------------------

const SECRET: &str = "Tr0ub4dor&3-correct-horse";

/// A failed attempt of every mechanism: the error's Display and Debug never hold the
/// secret nor its base64 (alone or inside the mechanism's response).
#[test]
fn failed_attempts_leak_no_secret() {
    let secret_b64 = b64(SECRET.as_bytes());
    let plain_b64 = b64(format!("\0u\0{SECRET}").as_bytes());
    #[allow(unused_mut)]
    let mut attempts: Vec<(Mechanism, Script)> = vec![
        (
            Mechanism::Plain,
            tls(&["AUTH PLAIN"])
                .write(format!("AUTH PLAIN {plain_b64}\r\n"))
                .read("535 5.7.8 no\r\n"),
        ),
        (
            Mechanism::Login,
            tls(&["AUTH LOGIN"])
                .write("AUTH LOGIN\r\n")
                .read("334 VXNlcm5hbWU6\r\n")
                .write(format!("{}\r\n", b64(b"u")))
                .read("334 UGFzc3dvcmQ6\r\n")
                .write(format!("{secret_b64}\r\n"))
                .read("535 5.7.8 no\r\n"),
        ),
    ];
    #[cfg(feature = "auth-oauth")]
    attempts.extend([
        (
            Mechanism::XOAuth2,
            tls(&["AUTH XOAUTH2"])
                .write(format!(
                    "AUTH XOAUTH2 {}\r\n",
                    b64(format!("user=u\x01auth=Bearer {SECRET}\x01\x01").as_bytes())
                ))
                .read(format!("334 {}\r\n", b64(b"{\"status\":\"401\"}")))
                .write("\r\n")
                .read("535 5.7.8 no\r\n"),
        ),
        (
            Mechanism::OAuthBearer,
            tls(&["AUTH OAUTHBEARER"])
                .write(format!(
                    "AUTH OAUTHBEARER {}\r\n",
                    b64(format!("n,a=u,\x01auth=Bearer {SECRET}\x01\x01").as_bytes())
                ))
                .read(format!("334 {}\r\n", b64(BEARER_ERROR)))
                .write("AQ==\r\n")
                .read("535 5.7.8 no\r\n"),
        ),
    ]);
    #[cfg(feature = "auth-cram-md5")]
    attempts.push((
        Mechanism::CramMd5,
        tls(&["AUTH CRAM-MD5"])
            .write("AUTH CRAM-MD5\r\n")
            .read(format!("334 {}\r\n", b64(b"<1.2@x>")))
            .write(format!(
                "{}\r\n",
                b64(wasm_smtp_mock::cram_md5_response("u", SECRET, "<1.2@x>").as_bytes())
            ))
            .read("535 5.7.8 no\r\n"),
    ));
    for (mech, script) in attempts {
        let (t, h) = script.build();
        let mut c = connect(t).unwrap();
        let e = block_on(c.login_with(mech, "u", SECRET)).unwrap_err();
        h.assert_done();
        check_no_secret(&e, &c, &[&secret_b64, &plain_b64]);
        // The secret never crosses the wire unencoded.
        let wire = String::from_utf8_lossy(&h.written()).into_owned();
        assert!(!wire.contains(SECRET), "{mech:?}");
        if mech == Mechanism::CramMd5 {
            assert!(!wire.contains(&secret_b64), "CRAM-MD5 sends only a digest");
        }
    }
    #[cfg(feature = "auth-scram")]
    {
        use wasm_smtp_core::auth::scram::ClientNonce;
        let n = ClientNonce::from_printable("rOprNGfwEbeRWgbNEkqO").unwrap();
        let x = wasm_smtp_mock::ScramExchange::new("u", SECRET, n.as_str(), "s", b"salt", 4096);
        let wrong =
            wasm_smtp_mock::ScramExchange::new("u", "other", n.as_str(), "s", b"salt", 4096);
        for fail in [wrong.server_final.as_str(), "e=other-error"] {
            let (t, h) = tls(&["AUTH SCRAM-SHA-256"])
                .write(format!(
                    "AUTH SCRAM-SHA-256 {}\r\n",
                    b64(x.client_first.as_bytes())
                ))
                .read(format!("334 {}\r\n", b64(x.server_first.as_bytes())))
                .write(format!("{}\r\n", b64(x.client_final.as_bytes())))
                .read(format!("334 {}\r\n", b64(fail.as_bytes())))
                .build();
            let mut c = connect(t).unwrap();
            let e = block_on(c.login_scram("u", SECRET, &n)).unwrap_err();
            h.assert_done();
            check_no_secret(&e, &c, &[&secret_b64]);
            // SCRAM never sends the password in any form.
            let wire = String::from_utf8_lossy(&h.written()).into_owned();
            assert!(!wire.contains(SECRET) && !wire.contains(&secret_b64));
        }
    }
}

fn check_no_secret(e: &SmtpError, c: &Client, encoded: &[&str]) {
    let texts = [
        e.to_string(),
        format!("{e:?}"),
        format!("{e:#?}"),
        format!("{c:?}"),
    ];
    for text in &texts {
        assert!(!text.contains(SECRET), "{text}");
        for enc in encoded {
            assert!(!text.contains(enc), "{text}");
        }
    }
}

#[test]
fn debug_never_shows_secrets() {
    let dbg = format!("{:?}", Credentials::new("alice", SECRET));
    assert!(dbg.contains("alice") && !dbg.contains(SECRET), "{dbg}");
    // After a successful login, nothing in the client's Debug output holds the secret.
    let (t, h) = tls(&["AUTH PLAIN"]).auth_plain("alice", SECRET).build();
    let mut c = connect(t).unwrap();
    block_on(c.login("alice", SECRET)).unwrap();
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains(SECRET) && !dbg.contains(&b64(SECRET.as_bytes())),
        "{dbg}"
    );
    h.assert_done();
}
