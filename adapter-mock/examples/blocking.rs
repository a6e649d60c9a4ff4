//! A blocking SMTP client in one page: the sans-I/O `Session` of wasm-smtp-core driven
//! over `std::net::TcpStream`, with STARTTLS through rustls's blocking stream. No async
//! runtime on the client side and no second implementation of the protocol: the loop in
//! `run` does what the session asks for, nothing more.
//!
//! ```text
//! cargo run -p wasm-smtp-mock --features server --example blocking
//! ```
//!
//! It sends one message to the loopback test server of this crate (STARTTLS with a
//! throw-away CA, AUTH PLAIN) and checks that the server received it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;
use wasm_smtp_core::error::TlsError;
use wasm_smtp_core::{
    Body, Config, Exchange, Login, Outcome, SendOptions, Session, SmtpError, Want,
};
use wasm_smtp_mock::server::{LocalServer, ServerConfig};

const FROM: &str = "alice@example.com";
const TO: &str = "bob@example.com";
const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.com>\r\n\
Subject: sent by a blocking loop\r\n\
\r\n\
.A dot-stuffed line.\r\n";

/// The connection: plaintext until STARTTLS, then rustls over the same socket.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

/// What the loop moves bytes through: the connection and the two buffers.
struct Io {
    stream: Stream,
    tls: Arc<rustls::ClientConfig>,
    rx: [u8; 1024],
    rx_len: usize,
    tx: [u8; 512],
}

/// Drive `exchange` until it is done. Time limits come from the socket's read and write
/// timeouts here (`exchange.limit(want)` says what the session would allow for each wait).
fn run(io: &mut Io, mut exchange: Exchange<'_, '_>) -> Result<Outcome, SmtpError> {
    loop {
        let result = match exchange.want() {
            Want::Done => return exchange.finish(),
            Want::Transmit => {
                let n = exchange.transmit(&mut io.tx);
                io.write(n)
            }
            Want::Receive => io.read().map(|()| {
                let received = exchange.receive(&mut io.rx[..io.rx_len]);
                io.rx.copy_within(received.consumed..io.rx_len, 0);
                io.rx_len -= received.consumed;
            }),
            Want::Upgrade => io.upgrade().map(|()| exchange.tls_established(true)),
            // This program sends a message given whole: no chunks are asked for.
            Want::Body => Err(SmtpError::Internal),
            Want::Close => {
                exchange.closed(io.close());
                Ok(())
            }
        };
        if let Err(e) = result {
            exchange.failed(e);
        }
    }
}

impl Io {
    fn write(&mut self, n: usize) -> Result<(), SmtpError> {
        let bytes = &self.tx[..n];
        let result = match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Stream::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        };
        result.map_err(io_error)
    }

    fn read(&mut self) -> Result<(), SmtpError> {
        let free = &mut self.rx[self.rx_len..];
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(free),
            Stream::Tls(s) => s.read(free),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
        .map_err(io_error)?;
        if n == 0 {
            return Err(SmtpError::ConnectionClosed);
        }
        self.rx_len += n;
        Ok(())
    }

    /// The TLS handshake on the same socket (the session has consumed every byte read so
    /// far, and refused any that came after the 220).
    fn upgrade(&mut self) -> Result<(), SmtpError> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(SmtpError::Internal);
        };
        let failed = SmtpError::from(TlsError::Handshake(embedded_io_async::ErrorKind::Other));
        let name = "localhost".try_into().map_err(|_| failed)?;
        let conn =
            rustls::ClientConnection::new(Arc::clone(&self.tls), name).map_err(|_| failed)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| SmtpError::from(TlsError::Handshake(kind(&e))))?;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    /// TLS close_notify, then the socket is shut down (a server that closed first, as
    /// it may after its 221, is not an error).
    fn close(&mut self) -> Result<(), SmtpError> {
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Tls(mut s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
                s.sock
            }
            Stream::Plain(s) => s,
            Stream::Gone => return Ok(()),
        };
        match tcp.shutdown(std::net::Shutdown::Both) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(io_error(e)),
            _ => Ok(()),
        }
    }
}

fn kind(e: &io::Error) -> embedded_io_async::ErrorKind {
    use embedded_io_async::ErrorKind as K;
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => K::TimedOut,
        io::ErrorKind::ConnectionReset => K::ConnectionReset,
        io::ErrorKind::BrokenPipe => K::BrokenPipe,
        io::ErrorKind::InvalidData => K::InvalidData,
        _ => K::Other,
    }
}

fn io_error(e: io::Error) -> SmtpError {
    SmtpError::Io(kind(&e))
}

fn tls_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, Box<dyn std::error::Error>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The test server runs on tokio's worker threads; the client below is plain std.
    let runtime = tokio::runtime::Runtime::new()?;
    let server = runtime.block_on(LocalServer::start(
        ServerConfig::starttls().user("alice", "hunter2"),
    ))?;

    let tcp = TcpStream::connect(server.addr())?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut io = Io {
        stream: Stream::Plain(tcp),
        tls: tls_config(server.ca_pem())?,
        rx: [0; 1024],
        rx_len: 0,
        tx: [0; 512],
    };
    // The default Config: STARTTLS required, no AUTH in plaintext.
    let mut session = Session::new(Config::new(), io.rx.len(), io.tx.len(), false);
    run(&mut io, session.connect("client.example.com")?)?;
    println!("connected, encrypted: {}", session.is_encrypted());
    run(&mut io, session.login(Login::new("alice", "hunter2"))?)?;
    let sent = run(
        &mut io,
        session.send(FROM, &[TO], Body::Bytes(MESSAGE), SendOptions::new())?,
    )?;
    let Outcome::Sent(outcome) = sent else {
        return Err("the transaction did not report a delivery".into());
    };
    println!("delivered: {} {}", outcome.reply.code, outcome.reply.text);
    run(&mut io, session.quit())?;

    let received = server.messages();
    let [message] = received.as_slice() else {
        return Err(format!("the server holds {} messages", received.len()).into());
    };
    assert_eq!(message.mail_from, FROM);
    assert_eq!(message.rcpt_to, [TO]);
    assert!(message.tls && message.auth_user.as_deref() == Some("alice"));
    assert_eq!(
        message.data, MESSAGE,
        "the server's copy (dots removed again)"
    );
    println!("the server received the message from {FROM} to {TO}");
    Ok(())
}
