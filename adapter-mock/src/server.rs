//! [`LocalServer`]: a small real SMTP server on loopback, with STARTTLS or implicit TLS
//! from a throw-away CA, AUTH PLAIN and LOGIN, and the received messages kept in memory.
//!
//! For tests that need a socket rather than a script (a network adapter, a command-line
//! program), and for demos that must work offline. It is strict where a client could be
//! wrong (line endings, command order, dot-stuffing) and keeps exactly what it received.
//! It is not a mail server: it delivers nothing.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use wasm_smtp_mock::server::{LocalServer, ServerConfig};
//!
//! let server = LocalServer::start(ServerConfig::starttls().user("alice", "secret"))
//!     .await
//!     .unwrap();
//! println!("listening on 127.0.0.1:{}", server.port());
//! // ... connect a client to server.port(), trusting server.ca_pem() ...
//! assert!(server.messages().is_empty());
//! # });
//! ```

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig as RustlsServerConfig;
use tokio_rustls::TlsAcceptor;

/// How the server offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerTls {
    /// STARTTLS offered and required before AUTH and MAIL.
    StartTls,
    /// TLS from the first byte.
    Implicit,
    /// No TLS at all (AUTH is still offered: the client must refuse it unless told).
    None,
}

/// What a [`LocalServer`] does.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    tls: ServerTls,
    users: Vec<(String, String)>,
    reject_prefix: Option<String>,
    pipelining: bool,
    chunking: bool,
    certificate_name: Option<String>,
}

impl ServerConfig {
    /// STARTTLS required, no users (AUTH offered but every attempt fails).
    pub fn starttls() -> Self {
        Self::with_tls(ServerTls::StartTls)
    }

    /// Implicit TLS.
    pub fn implicit_tls() -> Self {
        Self::with_tls(ServerTls::Implicit)
    }

    /// Plaintext only.
    pub fn plaintext() -> Self {
        Self::with_tls(ServerTls::None)
    }

    fn with_tls(tls: ServerTls) -> Self {
        ServerConfig {
            tls,
            users: Vec::new(),
            reject_prefix: None,
            pipelining: true,
            chunking: true,
            certificate_name: None,
        }
    }

    /// Accept this user name and password. With at least one user, AUTH is required
    /// before MAIL.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// Refuse (550 5.1.1) every recipient whose address starts with `prefix`.
    pub fn reject_recipients_starting_with(mut self, prefix: &str) -> Self {
        self.reject_prefix = Some(prefix.to_owned());
        self
    }

    /// Issue the server's certificate for this DNS name only, instead of `localhost` and
    /// `127.0.0.1`: a client connecting to either must then refuse the certificate.
    pub fn certificate_for(mut self, name: &str) -> Self {
        self.certificate_name = Some(name.to_owned());
        self
    }

    /// Advertise PIPELINING (default: yes). The server answers in order either way.
    pub fn pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }

    /// Advertise CHUNKING and accept BDAT (default: yes). The chunks of a message must
    /// add up to CRLF-terminated lines with no bare CR or LF.
    pub fn chunking(mut self, on: bool) -> Self {
        self.chunking = on;
        self
    }
}

/// One message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The reverse path (between `<` and `>`).
    pub mail_from: String,
    /// The accepted recipients.
    pub rcpt_to: Vec<String>,
    /// The message: the DATA lines with the transparency dots removed, CRLF line ends
    /// as sent, without the end-of-data line; or the BDAT chunks put together.
    pub data: Vec<u8>,
    /// The message arrived over TLS.
    pub tls: bool,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
}

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct LocalServer {
    addr: SocketAddr,
    ca_pem: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LocalServer {
    /// Generate a CA and a certificate for `localhost` and `127.0.0.1`, listen on a free
    /// loopback port and serve connections (one task each) until dropped. Must be called
    /// inside a tokio runtime.
    ///
    /// # Errors
    /// When the port cannot be bound or the certificates cannot be made.
    pub async fn start(config: ServerConfig) -> io::Result<Self> {
        let (ca_pem, tls) = certificates(config.certificate_name.as_deref())?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            config,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            received: Arc::clone(&received),
        });
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    // A client that misbehaves only ends its own connection.
                    let _ = serve(tcp, &shared).await;
                });
            }
        });
        Ok(LocalServer {
            addr,
            ca_pem,
            received,
            task,
        })
    }

    /// The listening address (127.0.0.1 and a free port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

struct Shared {
    config: ServerConfig,
    acceptor: TlsAcceptor,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A CA, and a server certificate it signed for localhost / 127.0.0.1 or for `name`
/// (webpki refuses a CA certificate used as the server's own).
fn certificates(name: Option<&str>) -> io::Result<(String, RustlsServerConfig)> {
    let fail = |e: rcgen::Error| io::Error::other(e.to_string());
    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "wasm-smtp test CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let ca_issuer = rcgen::Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(fail)?;
    let dns = name.unwrap_or("localhost");
    let mut leaf = CertificateParams::new(vec![dns.to_owned()]).map_err(fail)?;
    if name.is_none() {
        leaf.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    leaf.distinguished_name.push(DnType::CommonName, dns);
    let cert = leaf.signed_by(&key, &ca_issuer).map_err(fail)?;

    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let tls = RustlsServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(io::Error::other)?;
    Ok((ca_cert.pem(), tls))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Longest command line accepted (RFC 5321 section 4.5.3.1.4), and longest text line.
const LINE_MAX: usize = 512;
const TEXT_LINE_MAX: usize = 1000;

async fn serve(tcp: TcpStream, shared: &Shared) -> io::Result<()> {
    let config = &shared.config;
    // Replies to pipelined commands are written one by one: without NODELAY the second
    // would wait for the client's delayed ACK (about 40 ms on Linux), since the client
    // sends nothing until it has every reply of its flight.
    tcp.set_nodelay(true)?;
    let mut conn: BufReader<Box<dyn Stream>> = if config.tls == ServerTls::Implicit {
        BufReader::new(Box::new(shared.acceptor.accept(tcp).await?))
    } else {
        BufReader::new(Box::new(tcp))
    };
    let mut tls = config.tls == ServerTls::Implicit;
    let mut auth_user: Option<String> = None;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut chunks: Vec<u8> = Vec::new();
    // A refused BDAT chunk refuses the rest of the message (RFC 3030 section 2).
    let mut chunk_failed = false;
    let mut greeted = false;
    reply(&mut conn, "220 localhost wasm-smtp local test server\r\n").await?;
    loop {
        let line = read_line(&mut conn, LINE_MAX).await?;
        let Some(line) = line else { return Ok(()) };
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or("");
        let need_tls = config.tls == ServerTls::StartTls && !tls;
        let need_auth = !config.users.is_empty() && auth_user.is_none();
        match verb {
            "EHLO" | "HELO" => {
                greeted = true;
                mail_from = None;
                rcpt_to.clear();
                chunks.clear();
                chunk_failed = false;
                if verb == "HELO" {
                    reply(&mut conn, "250 localhost\r\n").await?;
                    continue;
                }
                let mut caps = vec!["localhost", "8BITMIME", "SIZE 52428800"];
                if config.pipelining {
                    caps.push("PIPELINING");
                }
                if config.chunking {
                    caps.push("CHUNKING");
                }
                if need_tls {
                    caps.push("STARTTLS");
                } else {
                    caps.push("AUTH PLAIN LOGIN");
                }
                caps.push("ENHANCEDSTATUSCODES");
                let mut text = String::new();
                for (i, cap) in caps.iter().enumerate() {
                    let sep = if i + 1 == caps.len() { ' ' } else { '-' };
                    text.push_str(&format!("250{sep}{cap}\r\n"));
                }
                reply(&mut conn, &text).await?;
            }
            "STARTTLS" if need_tls => {
                if !conn.buffer().is_empty() {
                    // Bytes pipelined after STARTTLS: a client injection (CVE-2011-0411).
                    reply(&mut conn, "554 5.5.1 Data after STARTTLS\r\n").await?;
                    return Ok(());
                }
                reply(&mut conn, "220 2.0.0 Ready to start TLS\r\n").await?;
                let plain = conn.into_inner();
                let upgraded = shared.acceptor.accept(plain).await?;
                conn = BufReader::new(Box::new(upgraded));
                tls = true;
                greeted = false;
            }
            _ if !greeted => reply(&mut conn, "503 5.5.1 EHLO first\r\n").await?,
            _ if need_tls && verb != "QUIT" && verb != "NOOP" && verb != "RSET" => {
                reply(
                    &mut conn,
                    "530 5.7.0 Must issue a STARTTLS command first\r\n",
                )
                .await?;
            }
            "AUTH" => {
                let user = authenticate(&mut conn, &line, &config.users).await?;
                if let Some(user) = user {
                    auth_user = Some(user);
                    reply(&mut conn, "235 2.7.0 Authentication successful\r\n").await?;
                } else {
                    reply(
                        &mut conn,
                        "535 5.7.8 Authentication credentials invalid\r\n",
                    )
                    .await?;
                }
            }
            "MAIL" if need_auth => {
                reply(&mut conn, "530 5.7.0 Authentication required\r\n").await?;
            }
            "MAIL" => match path(&line, "MAIL FROM:") {
                Some(p) if mail_from.is_none() => {
                    mail_from = Some(p);
                    reply(&mut conn, "250 2.1.0 Ok\r\n").await?;
                }
                Some(_) => reply(&mut conn, "503 5.5.1 Nested MAIL\r\n").await?,
                None => reply(&mut conn, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n").await?,
            },
            "RCPT" => match (path(&line, "RCPT TO:"), &mail_from) {
                (_, None) => reply(&mut conn, "503 5.5.1 MAIL first\r\n").await?,
                (None, _) => reply(&mut conn, "501 5.5.4 Syntax: RCPT TO:<address>\r\n").await?,
                (Some(p), _)
                    if config
                        .reject_prefix
                        .as_deref()
                        .is_some_and(|prefix| p.starts_with(prefix)) =>
                {
                    reply(&mut conn, "550 5.1.1 Recipient address rejected\r\n").await?;
                }
                (Some(p), _) => {
                    rcpt_to.push(p);
                    reply(&mut conn, "250 2.1.5 Ok\r\n").await?;
                }
            },
            "DATA" if rcpt_to.is_empty() => {
                reply(&mut conn, "554 5.5.1 No valid recipients\r\n").await?;
            }
            "DATA" => {
                reply(&mut conn, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let Some(data) = read_data(&mut conn).await? else {
                    return Ok(());
                };
                let message = Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: core::mem::take(&mut rcpt_to),
                    data,
                    tls,
                    auth_user: auth_user.clone(),
                };
                if let Ok(mut r) = shared.received.lock() {
                    r.push(message);
                }
                reply(&mut conn, "250 2.0.0 Ok: queued\r\n").await?;
            }
            "BDAT" if config.chunking => {
                let mut words = upper.split(' ').skip(1);
                let size = words.next().and_then(|n| n.parse::<u64>().ok());
                let last = match words.next() {
                    None => false,
                    Some("LAST") if words.next().is_none() => true,
                    Some(_) => return Err(bad("BDAT syntax")),
                };
                let Some(size) = size.filter(|&n| n <= 52_428_800) else {
                    // The chunk cannot be skipped without its size: end the connection.
                    reply(&mut conn, "552 5.3.4 BDAT size missing or too big\r\n").await?;
                    return Ok(());
                };
                let start = chunks.len();
                (&mut conn).take(size).read_to_end(&mut chunks).await?;
                if (chunks.len() - start) as u64 != size {
                    return Ok(());
                }
                if mail_from.is_none() || rcpt_to.is_empty() || chunk_failed {
                    chunks.clear();
                    chunk_failed = true;
                    reply(&mut conn, "554 5.5.1 No valid recipients\r\n").await?;
                } else if !last {
                    reply(&mut conn, &format!("250 2.0.0 {size} octets received\r\n")).await?;
                } else if !crlf_only(&chunks) {
                    chunks.clear();
                    chunk_failed = true;
                    reply(&mut conn, "550 5.6.0 Bare CR or LF, or no final CRLF\r\n").await?;
                } else {
                    let message = Received {
                        mail_from: mail_from.take().unwrap_or_default(),
                        rcpt_to: core::mem::take(&mut rcpt_to),
                        data: core::mem::take(&mut chunks),
                        tls,
                        auth_user: auth_user.clone(),
                    };
                    if let Ok(mut r) = shared.received.lock() {
                        r.push(message);
                    }
                    reply(&mut conn, "250 2.0.0 Ok: queued\r\n").await?;
                }
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                chunks.clear();
                chunk_failed = false;
                reply(&mut conn, "250 2.0.0 Ok\r\n").await?;
            }
            "NOOP" => reply(&mut conn, "250 2.0.0 Ok\r\n").await?,
            "QUIT" => {
                reply(&mut conn, "221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => reply(&mut conn, "502 5.5.2 Command not recognized\r\n").await?,
        }
    }
}

async fn reply(conn: &mut BufReader<Box<dyn Stream>>, text: &str) -> io::Result<()> {
    conn.get_mut().write_all(text.as_bytes()).await?;
    conn.get_mut().flush().await
}

/// One CRLF-terminated line without its CRLF; `None` at end of stream. A bare LF, a bare
/// CR or an overlong line is a protocol error.
async fn read_line(
    conn: &mut BufReader<Box<dyn Stream>>,
    max: usize,
) -> io::Result<Option<String>> {
    let raw = read_raw_line(conn, max).await?;
    let Some(raw) = raw else { return Ok(None) };
    String::from_utf8(raw)
        .map(Some)
        .map_err(|_| bad("command line is not UTF-8"))
}

async fn read_raw_line(
    conn: &mut BufReader<Box<dyn Stream>>,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = (&mut *conn)
        .take(max as u64 + 2)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad("line without CRLF, or too long"));
    }
    line.truncate(line.len() - 2);
    if line.contains(&b'\r') || line.contains(&b'\n') {
        return Err(bad("bare CR or LF"));
    }
    Ok(Some(line))
}

/// The DATA lines up to the end-of-data line, un-stuffed, CRLF kept; `None` at EOF.
async fn read_data(conn: &mut BufReader<Box<dyn Stream>>) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    loop {
        let Some(line) = read_raw_line(conn, TEXT_LINE_MAX).await? else {
            return Ok(None);
        };
        if line == b"." {
            return Ok(Some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(line);
        data.extend_from_slice(b"\r\n");
    }
}

/// Whether `data` is CRLF-terminated lines with no bare CR or LF (or empty).
fn crlf_only(data: &[u8]) -> bool {
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => i += 2,
            b'\r' | b'\n' => return false,
            _ => i += 1,
        }
    }
    data.is_empty() || data.ends_with(b"\r\n")
}

/// The address of `MAIL FROM:<...>` / `RCPT TO:<...>` (parameters ignored).
fn path(line: &str, prefix: &str) -> Option<String> {
    let head = line.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = line[prefix.len()..].strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

/// AUTH PLAIN (with or without an initial response) and AUTH LOGIN; the user on
/// success.
async fn authenticate(
    conn: &mut BufReader<Box<dyn Stream>>,
    line: &str,
    users: &[(String, String)],
) -> io::Result<Option<String>> {
    use base64ct::{Base64, Encoding};
    let mut words = line.split(' ').skip(1);
    let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    let decode = |s: &str| Base64::decode_vec(s).ok();
    match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(r) => r,
                None => {
                    reply(conn, "334 \r\n").await?;
                    read_line(conn, TEXT_LINE_MAX).await?.unwrap_or_default()
                }
            };
            let Some(raw) = decode(&response) else {
                return Ok(None);
            };
            let mut parts = raw.split(|&b| b == 0);
            let (_authzid, user, pass) = (parts.next(), parts.next(), parts.next());
            let (Some(user), Some(pass)) = (user, pass) else {
                return Ok(None);
            };
            Ok(check(users, user, pass))
        }
        "LOGIN" => {
            let user = match initial {
                Some(u) => u,
                None => {
                    reply(conn, "334 VXNlcm5hbWU6\r\n").await?;
                    read_line(conn, TEXT_LINE_MAX).await?.unwrap_or_default()
                }
            };
            reply(conn, "334 UGFzc3dvcmQ6\r\n").await?;
            let pass = read_line(conn, TEXT_LINE_MAX).await?.unwrap_or_default();
            match (decode(&user), decode(&pass)) {
                (Some(u), Some(p)) => Ok(check(users, &u, &p)),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn check(users: &[(String, String)], user: &[u8], pass: &[u8]) -> Option<String> {
    users
        .iter()
        .find(|(u, p)| u.as_bytes() == user && p.as_bytes() == pass)
        .map(|(u, _)| u.clone())
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}
