//! The tokio transport over real TCP and rustls, against the mock crate's local server on
//! loopback (a throw-away CA per test). No sleeps: the silent-server test runs on tokio's
//! paused clock.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wasm_smtp_mock::server::{LocalServer, ServerConfig};
use wasm_smtp_tokio::{
    connect, connect_smtp, connect_smtp_starttls_with, connect_smtps_with, Config, Direction,
    Error, Options, Security, SmtpError, Stage, Timeouts, TlsConfig, TlsError, TlsPolicy, Trace,
};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const EHLO: &str = "client.example.com";
const MESSAGE: &str = "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: t\r\n\r\n\
                       .leading dot\r\nnot the end:\r\n.\r\nreally\r\n";

fn trusting(server: &LocalServer) -> Options {
    Options::new().tls(TlsConfig::from_ca_pem(server.ca_pem().as_bytes()).unwrap())
}

#[tokio::test]
async fn starttls_auth_and_two_messages_on_one_connection() {
    let server = LocalServer::start(ServerConfig::starttls().user(USER, PASSWORD))
        .await
        .unwrap();
    let options = trusting(&server);
    let mut client = connect_smtp_starttls_with("localhost", server.port(), EHLO, &options)
        .await
        .unwrap();
    assert!(client.is_encrypted());
    client.login(USER, PASSWORD).await.unwrap();
    for _ in 0..2 {
        let outcome = client
            .send_mail("alice@example.com", &["bob@example.com"], MESSAGE)
            .await
            .unwrap();
        assert!(outcome.all_accepted());
    }
    client.quit().await.unwrap();
    let got = server.messages();
    assert_eq!(got.len(), 2);
    for m in got {
        assert_eq!(m.data, MESSAGE.as_bytes());
        assert!(m.tls);
        assert_eq!(m.auth_user.as_deref(), Some(USER));
        assert_eq!(m.rcpt_to, ["bob@example.com"]);
    }
}

#[tokio::test]
async fn implicit_tls_to_an_ip_address() {
    let server = LocalServer::start(ServerConfig::implicit_tls().user(USER, PASSWORD))
        .await
        .unwrap();
    let options = trusting(&server);
    let mut client = connect_smtps_with("127.0.0.1", server.port(), EHLO, &options)
        .await
        .unwrap();
    assert!(client.is_encrypted());
    client.login(USER, PASSWORD).await.unwrap();
    let body = "Subject: big\r\n\r\n".to_string() + &"0123456789abcdef\r\n".repeat(40_000);
    client
        .send_mail("alice@example.com", &["bob@example.com"], &body)
        .await
        .unwrap();
    client.quit().await.unwrap();
    assert_eq!(server.messages()[0].data, body.as_bytes());
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake_with_rustls_reason() {
    let server = LocalServer::start(ServerConfig::starttls()).await.unwrap();
    // Default roots (webpki-roots) do not know the throw-away CA.
    let err = connect_smtp_starttls_with("localhost", server.port(), EHLO, &Options::new())
        .await
        .unwrap_err();
    match &err {
        Error::TlsHandshake(text) => assert!(text.contains("UnknownIssuer"), "{text}"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_tls());
    let implicit = LocalServer::start(ServerConfig::implicit_tls())
        .await
        .unwrap();
    let err = connect_smtps_with("localhost", implicit.port(), EHLO, &Options::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TlsHandshake(_)), "{err:?}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let server =
        LocalServer::start(ServerConfig::implicit_tls().certificate_for("mail.example.test"))
            .await
            .unwrap();
    let options = trusting(&server);
    for host in ["localhost", "127.0.0.1"] {
        let err = connect_smtps_with(host, server.port(), EHLO, &options)
            .await
            .unwrap_err();
        match &err {
            Error::TlsHandshake(text) => assert!(text.contains("not valid for name"), "{text}"),
            other => panic!("{host}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn starttls_required_on_a_plaintext_only_server_fails_before_auth() {
    let server = LocalServer::start(ServerConfig::plaintext().user(USER, PASSWORD))
        .await
        .unwrap();
    let options = trusting(&server);
    let err = connect_smtp_starttls_with("localhost", server.port(), EHLO, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Smtp(SmtpError::Tls(TlsError::NotOffered))),
        "{err:?}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn plaintext_relay_and_a_rejected_recipient() {
    let server =
        LocalServer::start(ServerConfig::plaintext().reject_recipients_starting_with("nobody"))
            .await
            .unwrap();
    let mut client = connect_smtp("127.0.0.1", server.port(), EHLO, &Options::new())
        .await
        .unwrap();
    assert!(!client.is_encrypted());
    let outcome = client
        .send_mail(
            "alice@example.com",
            &["bob@example.com", "nobody@example.com", "carol@example.com"],
            MESSAGE,
        )
        .await
        .unwrap();
    assert_eq!(outcome.rejected().collect::<Vec<_>>(), [1]);
    // AUTH in plaintext is refused by the engine unless allowed.
    let err = client.login(USER, PASSWORD).await.unwrap_err();
    assert_eq!(err, SmtpError::PlaintextAuth);
    client.quit().await.unwrap();
    let got = server.messages();
    assert_eq!(got[0].rcpt_to, ["bob@example.com", "carol@example.com"]);
}

#[tokio::test]
async fn opportunistic_starttls_through_connect() {
    let server = LocalServer::start(ServerConfig::starttls()).await.unwrap();
    let options = trusting(&server).config(Config::new().tls(TlsPolicy::Opportunistic));
    let client = connect(
        "localhost",
        server.port(),
        EHLO,
        Security::StartTls,
        &options,
    )
    .await
    .unwrap();
    assert!(client.is_encrypted());
}

#[test]
fn ca_files_and_pem_are_checked() {
    let dir = std::env::temp_dir().join(format!("wasm-smtp-tokio-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.pem");
    let err = TlsConfig::from_ca_file(&missing).unwrap_err();
    assert!(
        matches!(&err, Error::CaFile { path, .. } if path == &missing),
        "{err:?}"
    );
    assert!(err.is_permanent());
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let err = TlsConfig::from_ca_file(&empty).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("CA file {}: no PEM CERTIFICATE block", empty.display())
    );
    let broken = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        TlsConfig::from_ca_pem(broken.as_bytes()),
        Err(Error::InvalidCa(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    // Bind, learn the port, close: nothing listens there now.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let err = connect_smtp("127.0.0.1", port, EHLO, &Options::new())
        .await
        .unwrap_err();
    match &err {
        Error::Connect { addr, source } => {
            assert_eq!(addr, &format!("127.0.0.1:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn an_invalid_host_name_or_ehlo_domain_is_refused_before_connecting() {
    let err = connect_smtps_with("bad host", 465, EHLO, &Options::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidHost(_)), "{err:?}");
    let err = connect_smtps_with("localhost", 465, "bad\r\nRCPT", &Options::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Smtp(SmtpError::InvalidInput { .. })),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out() {
    // Accepts and says nothing. The paused clock jumps to the deadline as soon as every
    // task waits, so this takes no real time.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0; 64];
        let _ = s.read(&mut buf).await;
    });
    let limits = Timeouts::new().greeting(Some(Duration::from_secs(7)));
    let options = Options::new().config(Config::new().timeouts(limits));
    let start = tokio::time::Instant::now();
    let err = connect_smtp("127.0.0.1", port, EHLO, &options)
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(7));
    assert!(
        matches!(err, Error::Smtp(SmtpError::Timeout(Stage::Greeting))),
        "{err:?}"
    );
    assert!(err.is_transient());
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn a_server_silent_after_mail_from_times_out_after_the_rfc_limit() {
    // Greets, answers EHLO, then reads MAIL FROM and never answers: the engine's default
    // MAIL limit (5 minutes) on tokio's paused clock.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"220 hi\r\n").await.unwrap();
        let mut buf = [0; 512];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"250 hi\r\n").await.unwrap();
        let n = s.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"MAIL FROM:<alice@example.com>\r\n");
        // Nothing more may come: the client gives up without RSET or QUIT.
        let n = s.read(&mut buf).await.unwrap();
        assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
    });
    let mut client = connect_smtp("127.0.0.1", port, EHLO, &Options::new())
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let err = client
        .send_mail("alice@example.com", &["bob@example.com"], MESSAGE)
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(300));
    assert_eq!(err, SmtpError::Timeout(Stage::MailFrom));
    client.quit().await.unwrap();
    drop(client);
    server.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_tls_handshake_that_never_completes_times_out() {
    // Accepts the TCP connection and never answers the ClientHello.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0; 4096];
        while s.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    let options = Options::new().tls_timeout(Duration::from_secs(9));
    let err = connect_smtps_with("localhost", port, EHLO, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TlsTimeout(d) if d == Duration::from_secs(9)),
        "{err:?}"
    );
    assert!(err.is_tls() && err.is_transient());
    assert_eq!(
        err.to_string(),
        "TLS handshake with the SMTP server did not finish within 9s"
    );
    server.abort();
}

#[tokio::test]
async fn bytes_injected_after_the_starttls_reply_never_reach_the_tls_session() {
    // A hand-written server that answers STARTTLS with 220 and, in the same write, a
    // forged reply (CVE-2011-0411 style response injection).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"220 hi\r\n").await.unwrap();
        let mut buf = [0; 512];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"250-hi\r\n250 STARTTLS\r\n").await.unwrap();
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"220 go ahead\r\n250 AUTH PLAIN\r\n")
            .await
            .unwrap();
        let _ = s.read(&mut buf).await;
    });
    let err = connect_smtp_starttls_with("localhost", port, EHLO, &Options::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Smtp(SmtpError::Protocol(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_trace_shows_the_dialogue_without_secrets() {
    let server = LocalServer::start(ServerConfig::starttls().user(USER, PASSWORD))
        .await
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let options = trusting(&server).trace(Trace::new(move |d, s| {
        sink.lock().unwrap().push((d, s.to_owned()));
    }));
    let mut client = connect_smtp_starttls_with("localhost", server.port(), EHLO, &options)
        .await
        .unwrap();
    client.login(USER, PASSWORD).await.unwrap();
    client
        .send_mail("alice@example.com", &["bob@example.com"], MESSAGE)
        .await
        .unwrap();
    client.quit().await.unwrap();
    let lines = lines.lock().unwrap().clone();
    let text: Vec<String> = lines.iter().map(|(d, s)| format!("{d:?} {s}")).collect();
    let all = text.join("\n");
    assert!(all.contains("Client AUTH PLAIN <redacted>"), "{all}");
    assert!(all.contains("Event TLS established: TLSv1_3"), "{all}");
    // The local server offers PIPELINING and CHUNKING: the message is one BDAT chunk,
    // summarised.
    assert!(
        all.contains(&format!(
            "Client BDAT {n} LAST\nClient <{n} octets of message data>",
            n = MESSAGE.len()
        )),
        "{all}"
    );
    assert!(!all.contains("leading dot"), "{all}");
    assert!(all.contains("Event connection closed"), "{all}");
    assert!(
        !all.contains("horse") && !all.contains("Y29ycmVjd"),
        "{all}"
    );
    assert!(lines
        .iter()
        .any(|(d, s)| *d == Direction::Server && s.starts_with("221")));
}

#[tokio::test]
async fn pipelining_and_chunking_deliver_the_same_bytes_as_plain_data() {
    let server = LocalServer::start(ServerConfig::plaintext()).await.unwrap();
    // Bare LF line ends and a last line without one: normalised the same way by DATA
    // and BDAT.
    let message = "Subject: t\n\n.leading dot\n.\nbare cr\rend";
    let expected = "Subject: t\r\n\r\n.leading dot\r\n.\r\nbare cr\r\nend\r\n";
    let configs = [
        Config::new().tls(TlsPolicy::Disabled),
        Config::new().tls(TlsPolicy::Disabled).chunking(false),
        Config::new().tls(TlsPolicy::Disabled).pipelining(false),
        Config::new()
            .tls(TlsPolicy::Disabled)
            .pipelining(false)
            .chunking(false),
    ];
    let to = ["bob@example.com", "nobody@example.com", "carol@example.com"];
    for config in configs {
        let options = Options::new().config(config);
        let mut client = connect_smtp("127.0.0.1", server.port(), EHLO, &options)
            .await
            .unwrap();
        let outcome = client
            .send_mail("alice@example.com", &to, message)
            .await
            .unwrap();
        assert!(outcome.all_accepted());
        // Streamed in small reads (BDAT chunks with PIPELINING + CHUNKING).
        let mut reader = Pieces(message.as_bytes(), 5);
        client
            .send_mail_from_reader("alice@example.com", &to[..1], &mut reader)
            .await
            .unwrap();
        client.quit().await.unwrap();
    }
    let got = server.messages();
    assert_eq!(got.len(), 8);
    for m in got {
        assert_eq!(String::from_utf8_lossy(&m.data), expected);
    }
}

/// A reader that returns at most `.1` bytes per read.
struct Pieces<'a>(&'a [u8], usize);

impl wasm_smtp_tokio::wasm_smtp_core::io::ErrorType for Pieces<'_> {
    type Error = wasm_smtp_tokio::wasm_smtp_core::io::ErrorKind;
}

impl wasm_smtp_tokio::wasm_smtp_core::io::Read for Pieces<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.0.len().min(buf.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
