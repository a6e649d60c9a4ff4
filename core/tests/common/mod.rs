//! Shared helpers for the transcript tests.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::panic)]

pub use wasm_smtp_core::error::*;
pub use wasm_smtp_core::io::ErrorKind;
pub use wasm_smtp_core::{Config, SendOutcome, SmtpClient, SmtpError, TlsPolicy};
pub use wasm_smtp_mock::{block_on, MockHandle, MockTransport, Script};

pub const D: &str = "client.example.com";
pub const FROM: &str = "alice@example.com";
pub const TO: &str = "bob@example.com";
pub const MSG: &str = "Subject: hi\r\n\r\nHello\r\n";

pub type Client = SmtpClient<MockTransport>;

/// Implicit TLS, greeting and EHLO with `keywords`.
pub fn tls(keywords: &[&str]) -> Script {
    Script::new().implicit_tls().greeting().ehlo(D, keywords)
}

/// Plaintext session (TLS disabled by config), greeting and EHLO.
pub fn plain(keywords: &[&str]) -> Script {
    Script::new().greeting().ehlo(D, keywords)
}

pub fn connect(t: MockTransport) -> Result<Client, SmtpError> {
    block_on(SmtpClient::connect(t, D))
}

pub fn connect_with(t: MockTransport, config: Config) -> Result<Client, SmtpError> {
    block_on(SmtpClient::connect_with(t, D, config))
}

pub fn send(c: &mut Client, to: &[&str], msg: &str) -> Result<SendOutcome, SmtpError> {
    block_on(c.send_mail(FROM, to, msg))
}

/// Script a whole delivery of MSG from FROM to the given recipients.
pub fn delivery(s: Script, to: &[&str]) -> Script {
    let mut s = s.mail_from(FROM);
    for t in to {
        s = s.rcpt_to(t);
    }
    s.data().message("Subject: hi\r\n\r\nHello\r\n.\r\n")
}

pub fn rejected(stage: Stage, code: u16) -> impl Fn(&SmtpError) -> bool {
    move |e| matches!(e, SmtpError::Rejected(r) if r.stage == stage && r.code.get() == code)
}

/// An error is a negative reply with `code` to `stage`, whether it reports a refused
/// command or a refused authentication.
pub fn rejected_any(stage: Stage, code: u16) -> impl Fn(&SmtpError) -> bool {
    move |e| match e {
        SmtpError::Rejected(r) | SmtpError::Auth(AuthError::Rejected(r)) => {
            r.stage == stage && r.code.get() == code
        }
        _ => false,
    }
}

/// After a fatal failure: the session is closed, later calls fail with
/// `SessionUnusable` without writing, QUIT writes nothing and only closes the transport,
/// and the client wrote nothing the script did not expect.
pub fn assert_closed_and_silent(c: &mut Client, h: &MockHandle) {
    assert!(c.is_closed(), "the session must be closed");
    assert_eq!(send(c, &[TO], MSG), Err(SmtpError::SessionUnusable));
    assert_eq!(block_on(c.noop()), Err(SmtpError::SessionUnusable));
    assert_eq!(block_on(c.rset()), Err(SmtpError::SessionUnusable));
    let closes = h.close_calls();
    block_on(c.quit()).unwrap();
    assert_eq!(h.close_calls(), closes + 1, "QUIT closes the transport");
    h.assert_done();
    assert!(h.writes_after_failure().is_empty());
}

/// Neither `Display` nor `Debug` of `e` shows any of `secrets`.
pub fn assert_no_secret(e: &SmtpError, secrets: &[&str]) {
    let shown = format!("{e} {e:?}");
    for s in secrets {
        assert!(!s.is_empty() && !shown.contains(s), "{s:?} in {shown:?}");
    }
}

/// Standard base64 (with padding) of `bytes`, for comparing with what the client sent.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
