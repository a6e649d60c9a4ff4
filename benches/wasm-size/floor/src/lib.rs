//! Size floor: the least a Worker does to talk SMTP with STARTTLS by hand. Opens a
//! `worker::Socket` with `secureTransport: "starttls"`, reads the greeting line, writes
//! `STARTTLS`, reads the reply line and upgrades, then writes `QUIT` over TLS and reads
//! its reply. Settings come from `env.var(...)` (not from the request URL: that would
//! pull the `url` crate). The HTTP handling is the same as in `../smtp`.

use core::future::poll_fn;
use core::pin::Pin;
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

async fn write_all(socket: &mut Socket, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *socket).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Read until a line feed (or the buffer is full); returns the number of bytes.
async fn read_line(socket: &mut Socket, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        let n = poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut buf[len..]);
            Pin::new(&mut *socket)
                .poll_read(cx, &mut rb)
                .map_ok(|()| rb.filled().len())
        })
        .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        len += n;
        if buf[..len].contains(&b'\n') {
            break;
        }
    }
    Ok(len)
}

async fn run(env: &Env) -> std::io::Result<()> {
    let host = var(env, "SMTP_HOST");
    let port = var(env, "SMTP_PORT").parse().unwrap_or(587);
    let mut socket = Socket::builder()
        .secure_transport(SecureTransport::StartTls)
        .connect(host, port)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::ConnectionRefused))?;
    let mut buf = [0u8; 512];
    read_line(&mut socket, &mut buf).await?;
    write_all(&mut socket, b"STARTTLS\r\n").await?;
    read_line(&mut socket, &mut buf).await?;
    let mut tls = socket.start_tls();
    write_all(&mut tls, b"QUIT\r\n").await?;
    read_line(&mut tls, &mut buf).await?;
    Ok(())
}

#[event(fetch)]
async fn fetch(_req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match run(&env).await {
        Ok(()) => Response::ok("sent"),
        Err(_) => Response::error("failed", 502),
    }
}
