//! (c) of the size report: the least a Worker can do to send one message by hand: no
//! validation, no pipelining, no error detail; a lower bound for (b), not a usable client.
//!
//! The floor Worker (`../floor`, same socket helpers) with a complete but minimal SMTP
//! session over STARTTLS: greeting, EHLO, STARTTLS, upgrade, EHLO, `AUTH PLAIN`,
//! `MAIL FROM`, `RCPT TO`, `DATA` (LF sent as CRLF, dot-stuffed), `QUIT`. Each reply is
//! read to its last line and only its code is compared; anything else (the addresses, the
//! message, the server's extensions, the reply text) is taken as it comes. Settings come
//! from `env.var(...)` as in `../smtp`; the HTTP handling is the same as the floor's.

use core::future::poll_fn;
use core::pin::Pin;
use std::io;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use worker::wasm_bindgen::JsValue;
use worker::{event, Context, Env, Request, Response, Result, SecureTransport, Socket};

/// A var as a string; empty when unset.
fn var(env: &Env, name: &str) -> String {
    env.var(name)
        .ok()
        .and_then(|v| AsRef::<JsValue>::as_ref(&v).as_string())
        .unwrap_or_default()
}

async fn write_all(socket: &mut Socket, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *socket).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Read on after the first `len` bytes of `buf` until they hold a line feed; returns the
/// new length. A line longer than `buf` is an error.
async fn read_line(socket: &mut Socket, buf: &mut [u8], mut len: usize) -> io::Result<usize> {
    while !buf[..len].contains(&b'\n') {
        if len == buf.len() {
            return Err(io::ErrorKind::InvalidData.into());
        }
        let n = poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut buf[len..]);
            Pin::new(&mut *socket)
                .poll_read(cx, &mut rb)
                .map_ok(|()| rb.filled().len())
        })
        .await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        len += n;
    }
    Ok(len)
}

/// Read one reply to its last line (`NNN-text` lines go on, any other ends it) and check
/// that its code is `code`. Bytes after the last line are dropped (nothing is pipelined).
async fn reply(socket: &mut Socket, buf: &mut [u8], code: &[u8; 3]) -> io::Result<()> {
    let mut len = 0;
    loop {
        len = read_line(socket, buf, len).await?;
        let end = buf[..len].iter().position(|&b| b == b'\n').unwrap_or(len);
        let line = &buf[..end];
        if line.get(3) != Some(&b'-') {
            return match line.get(..3) {
                Some(c) if c == code => Ok(()),
                _ => Err(io::ErrorKind::InvalidData.into()),
            };
        }
        // The next line to the front.
        buf.copy_within(end + 1..len, 0);
        len -= end + 1;
    }
}

/// Write one command line (`parts` and CRLF, in one write) and check the reply's code.
async fn command(
    socket: &mut Socket,
    buf: &mut [u8],
    parts: &[&[u8]],
    code: &[u8; 3],
) -> io::Result<()> {
    let mut line = parts.concat();
    line.extend_from_slice(b"\r\n");
    write_all(socket, &line).await?;
    reply(socket, buf, code).await
}

/// Base64 (RFC 4648, with padding).
fn base64(input: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i)) as usize & 63]
            } else {
                b'='
            });
        }
    }
    out
}

/// The message as DATA content: bare LF sent as CRLF, a line starting with '.' gets
/// another, a last line without a line break gets one, then the terminating ".".
fn data(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    let mut prev = b'\n';
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        } else if b == b'.' && prev == b'\n' {
            out.push(b'.');
        }
        out.push(b);
        prev = b;
    }
    if prev != b'\n' {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn run(env: &Env) -> io::Result<()> {
    let host = var(env, "SMTP_HOST");
    let port = var(env, "SMTP_PORT").parse().unwrap_or(587);
    let ehlo = var(env, "EHLO_DOMAIN");
    let mut socket = Socket::builder()
        .secure_transport(SecureTransport::StartTls)
        .connect(host, port)
        .map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
    let mut buf = [0u8; 512];
    let buf = &mut buf[..];
    reply(&mut socket, buf, b"220").await?;
    command(&mut socket, buf, &[b"EHLO ", ehlo.as_bytes()], b"250").await?;
    command(&mut socket, buf, &[b"STARTTLS"], b"220").await?;
    let mut tls = socket.start_tls();
    command(&mut tls, buf, &[b"EHLO ", ehlo.as_bytes()], b"250").await?;
    let plain = [
        b"\0",
        var(env, "SMTP_USER").as_bytes(),
        b"\0",
        var(env, "SMTP_PASSWORD").as_bytes(),
    ]
    .concat();
    command(&mut tls, buf, &[b"AUTH PLAIN ", &base64(&plain)], b"235").await?;
    let from = var(env, "MAIL_FROM");
    command(
        &mut tls,
        buf,
        &[b"MAIL FROM:<", from.as_bytes(), b">"],
        b"250",
    )
    .await?;
    let to = var(env, "MAIL_TO");
    command(&mut tls, buf, &[b"RCPT TO:<", to.as_bytes(), b">"], b"250").await?;
    command(&mut tls, buf, &[b"DATA"], b"354").await?;
    write_all(&mut tls, &data(var(env, "MESSAGE").as_bytes())).await?;
    reply(&mut tls, buf, b"250").await?;
    command(&mut tls, buf, &[b"QUIT"], b"221").await
}

#[event(fetch)]
async fn fetch(_req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match run(&env).await {
        Ok(()) => Response::ok("sent"),
        Err(_) => Response::error("failed", 502),
    }
}
