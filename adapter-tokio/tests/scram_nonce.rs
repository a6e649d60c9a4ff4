//! `login` with a nonce from the system generator, through the scripted mock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wasm_smtp_mock::{block_on, Script};
use wasm_smtp_tokio::{scram_nonce, AuthError, SmtpClient, SmtpError};

#[test]
fn nonces_are_fresh_and_printable() {
    let a = scram_nonce().unwrap();
    let b = scram_nonce().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 32);
    assert!(a
        .as_bytes()
        .iter()
        .all(|&c| c.is_ascii_graphic() && c != b','));
}

/// The SCRAM client-first message the client wrote, decoded.
fn client_first(written: &[u8]) -> String {
    use base64ct::Encoding;
    let text = String::from_utf8(written.to_vec()).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("AUTH SCRAM-SHA-256 "))
        .unwrap();
    String::from_utf8(base64ct::Base64::decode_vec(line).unwrap()).unwrap()
}

#[test]
fn login_chooses_scram_with_a_random_nonce() {
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (t, h) = Script::new()
            .implicit_tls()
            .greeting()
            .ehlo("client.example.com", &["AUTH PLAIN SCRAM-SHA-256"])
            .write_until("\r\n")
            .read("535 5.7.8 no\r\n")
            .build();
        let mut c = block_on(SmtpClient::connect(t, "client.example.com")).unwrap();
        let e = block_on(wasm_smtp_tokio::login(&mut c, "user", "pencil")).unwrap_err();
        assert!(matches!(
            e.smtp(),
            Some(SmtpError::Auth(AuthError::Rejected(_)))
        ));
        h.assert_done();
        let first = client_first(&h.written());
        let nonce = first.strip_prefix("n,,n=user,r=").unwrap().to_owned();
        assert_eq!(nonce.len(), 32, "{first}");
        seen.push(nonce);
    }
    assert_ne!(seen[0], seen[1]);
}

#[test]
fn login_without_scram_offered_uses_plain() {
    let (t, h) = Script::new()
        .implicit_tls()
        .greeting()
        .ehlo("client.example.com", &["AUTH LOGIN PLAIN"])
        .auth_plain("user", "pencil")
        .build();
    let mut c = block_on(SmtpClient::connect(t, "client.example.com")).unwrap();
    block_on(wasm_smtp_tokio::login(&mut c, "user", "pencil")).unwrap();
    h.assert_done();
}
