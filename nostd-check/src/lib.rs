//! The part of the check that does not depend on the target: a scripted in-memory SMTP
//! server implementing [`Transport`], the session that drives [`SmtpClient`] through it,
//! and a no-op-waker executor. `main.rs` runs it on bare metal; the unit test below runs
//! the same code on the host to show that the session really completes.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use wasm_smtp_core::io::{ErrorKind, ErrorType, Read, Write};
use wasm_smtp_core::{Config, SmtpClient, TlsPolicy, Transport};

/// One step of the scripted conversation.
pub enum Step {
    /// The client must write exactly these bytes (possibly over several writes).
    Expect(&'static [u8]),
    /// The server sends these bytes (possibly over several reads).
    Reply(&'static [u8]),
    /// The client must call `upgrade_to_tls` here.
    Upgrade,
}

use Step::{Expect, Reply, Upgrade};

/// The conversation around the AUTH exchange: plaintext start, STARTTLS, AUTH after the
/// upgrade (`$auth` advertised, `$steps` played), one message to one recipient (with a
/// line that needs dot-stuffing), QUIT.
macro_rules! script {
    ($auth:literal, $($steps:expr),* $(,)?) => {
        &[
            Reply(b"220 mx.example.com ESMTP ready\r\n"),
            Expect(b"EHLO client.example.com\r\n"),
            Reply(concat!("250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 ", $auth, "\r\n").as_bytes()),
            Expect(b"STARTTLS\r\n"),
            Reply(b"220 2.0.0 Ready to start TLS\r\n"),
            Upgrade,
            Expect(b"EHLO client.example.com\r\n"),
            Reply(concat!("250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ", $auth, "\r\n").as_bytes()),
            $($steps,)*
            // PIPELINING: MAIL, RCPT and DATA in one flight, then their three replies.
            Expect(b"MAIL FROM:<alice@example.com>\r\n"),
            Expect(b"RCPT TO:<bob@example.com>\r\n"),
            Expect(b"DATA\r\n"),
            Reply(b"250 2.1.0 Ok\r\n"),
            Reply(b"250 2.1.5 Ok\r\n"),
            Reply(b"354 End data with <CR><LF>.<CR><LF>\r\n"),
            Expect(b"Subject: hi\r\n\r\nHello\r\n..hidden\r\nbye\r\n.\r\n"),
            Reply(b"250 2.0.0 Ok: queued as 4F2A1\r\n"),
            Expect(b"QUIT\r\n"),
            Reply(b"221 2.0.0 Bye\r\n"),
        ]
    };
}

/// The session with AUTH PLAIN (the default build).
#[cfg(not(any(feature = "scram", feature = "cram-md5")))]
pub static SCRIPT: &[Step] = script!(
    "AUTH PLAIN LOGIN",
    // base64("\0alice\0hunter2")
    Expect(b"AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n"),
    Reply(b"235 2.7.0 Authentication successful\r\n"),
);

/// The session with SCRAM-SHA-256 (feature `scram`): the RFC 7677 section 3 exchange.
#[cfg(feature = "scram")]
pub static SCRIPT: &[Step] = script!(
    "AUTH PLAIN SCRAM-SHA-256",
    Expect(b"AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=\r\n"),
    Reply(b"334 cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=\r\n"),
    Expect(b"Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==\r\n"),
    Reply(b"334 dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==\r\n"),
    Expect(b"\r\n"),
    Reply(b"235 2.7.0 Authentication successful\r\n"),
);

/// The session with CRAM-MD5 (feature `cram-md5`): the RFC 2195 section 2 exchange.
#[cfg(all(feature = "cram-md5", not(feature = "scram")))]
pub static SCRIPT: &[Step] = script!(
    "AUTH CRAM-MD5",
    Expect(b"AUTH CRAM-MD5\r\n"),
    Reply(b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
    Expect(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
    Reply(b"235 2.7.0 Authentication successful\r\n"),
);

/// AUTH as the build's features choose: PLAIN, SCRAM-SHA-256 or CRAM-MD5.
async fn login(client: &mut Client) -> Result<(), wasm_smtp_core::SmtpError> {
    #[cfg(feature = "scram")]
    {
        let nonce =
            wasm_smtp_core::auth::scram::ClientNonce::from_printable("rOprNGfwEbeRWgbNEkqO")?;
        client.login_scram("user", "pencil", &nonce).await
    }
    #[cfg(all(feature = "cram-md5", not(feature = "scram")))]
    {
        client
            .login_with(
                wasm_smtp_core::Mechanism::CramMd5,
                "tim",
                "tanstaaftanstaaf",
            )
            .await
    }
    #[cfg(not(any(feature = "scram", feature = "cram-md5")))]
    {
        client.login("alice", "hunter2").await
    }
}

/// The message as the application hands it over (LF line endings, a leading dot).
const MESSAGE: &str = "Subject: hi\n\nHello\n.hidden\nbye\n";

/// An in-memory transport that plays [`SCRIPT`]. It never returns `Pending`.
pub struct ScriptedServer {
    script: &'static [Step],
    /// Index of the current step.
    step: usize,
    /// Bytes of the current step already written or read.
    pos: usize,
    encrypted: bool,
    failed: bool,
}

impl ScriptedServer {
    pub const fn new(script: &'static [Step]) -> Self {
        ScriptedServer {
            script,
            step: 0,
            pos: 0,
            encrypted: false,
            failed: false,
        }
    }

    fn fail(&mut self) -> ErrorKind {
        self.failed = true;
        ErrorKind::InvalidData
    }

    fn advance(&mut self) {
        self.step += 1;
        self.pos = 0;
    }

    /// Whether the whole script was played without a mismatch.
    pub fn done(&self) -> bool {
        !self.failed && self.step == self.script.len()
    }
}

impl ErrorType for ScriptedServer {
    type Error = ErrorKind;
}

impl Read for ScriptedServer {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.failed {
            return Err(ErrorKind::InvalidData);
        }
        match self.script.get(self.step) {
            Some(Reply(bytes)) => {
                let rest = &bytes[self.pos..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                self.pos += n;
                if self.pos == bytes.len() {
                    self.advance();
                }
                Ok(n)
            }
            // The client waits for a reply while the script waits for the client.
            Some(_) => Err(self.fail()),
            None => Ok(0),
        }
    }
}

impl Write for ScriptedServer {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if self.failed {
            return Err(ErrorKind::InvalidData);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        while done < buf.len() {
            let Some(Expect(bytes)) = self.script.get(self.step) else {
                // Written out of turn (a reply or the upgrade was due).
                return Err(self.fail());
            };
            let rest = &bytes[self.pos..];
            let n = rest.len().min(buf.len() - done);
            if rest[..n] != buf[done..done + n] {
                return Err(self.fail());
            }
            done += n;
            self.pos += n;
            if self.pos == bytes.len() {
                self.advance();
            }
        }
        Ok(done)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        if self.failed {
            return Err(ErrorKind::InvalidData);
        }
        Ok(())
    }
}

impl Transport for ScriptedServer {
    fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    async fn upgrade_to_tls(&mut self) -> Result<(), ErrorKind> {
        match self.script.get(self.step) {
            Some(Upgrade) if !self.encrypted => {
                self.encrypted = true;
                self.advance();
                Ok(())
            }
            _ => Err(self.fail()),
        }
    }
}

/// The client with the default buffers (RX 1024, TX 512).
pub type Client = SmtpClient<ScriptedServer>;

/// Success value of [`session`].
pub const STATUS_OK: u32 = 0x600D_5E55;

/// The whole session: [`STATUS_OK`], or `0xE000_0000 | step` (the script step reached)
/// when a call failed, or another `0xE...` code for a wrong result.
pub async fn session() -> u32 {
    session_with(SCRIPT).await
}

/// [`session`] against another script (the tests use it to show that a deviation fails).
pub async fn session_with(script: &'static [Step]) -> u32 {
    let transport = ScriptedServer::new(script);
    let config = Config::new().tls(TlsPolicy::Required);
    let failed = |t: &ScriptedServer| 0xE000_0000 | t.step as u32;

    let mut client: Client =
        match SmtpClient::connect_with(transport, "client.example.com", config).await {
            Ok(c) => c,
            // The transport went into the failed call: no step to report.
            Err(_) => return 0xE0FF_FFFF,
        };
    if !client.is_encrypted() {
        return 0xE100_0000;
    }
    if login(&mut client).await.is_err() {
        return failed(&client.into_inner());
    }
    let outcome = match client
        .send_mail("alice@example.com", &["bob@example.com"], MESSAGE)
        .await
    {
        Ok(o) => o,
        Err(_) => return failed(&client.into_inner()),
    };
    if !outcome.all_accepted() || outcome.reply.code.get() != 250 {
        return 0xE200_0000;
    }
    if client.quit().await.is_err() {
        return 0xE300_0000;
    }
    let t = client.into_inner();
    if t.done() {
        STATUS_OK
    } else {
        failed(&t)
    }
}

/// Poll a future to completion with a no-op waker (the transport is never `Pending`).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_completes() {
        assert_eq!(block_on(session()), STATUS_OK);
    }

    #[test]
    fn a_deviation_from_the_script_fails() {
        // The server expects another password: AUTH (step 8) is where the session stops.
        static OTHER: &[Step] = &[
            Reply(b"220 mx.example.com ESMTP ready\r\n"),
            Expect(b"EHLO client.example.com\r\n"),
            Reply(b"250-mx.example.com\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"),
            Expect(b"STARTTLS\r\n"),
            Reply(b"220 2.0.0 Ready to start TLS\r\n"),
            Upgrade,
            Expect(b"EHLO client.example.com\r\n"),
            Reply(b"250-mx.example.com\r\n250 AUTH PLAIN LOGIN\r\n"),
            Expect(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
            Reply(b"235 2.7.0 Authentication successful\r\n"),
        ];
        assert_eq!(block_on(session_with(OTHER)), 0xE000_0000 | 8);
    }
}
