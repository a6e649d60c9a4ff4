//! Shared helpers for the transcript tests.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::panic)]

pub use wasm_smtp_core::error::*;
pub use wasm_smtp_core::{Config, SendOutcome, SmtpClient, SmtpError, TlsPolicy};
pub use wasm_smtp_mock::{block_on, MockTransport, Script};

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
