//! Interoperability suite: the tokio transport and the engine against mail servers
//! nobody here wrote, on loopback: aiosmtpd (STARTTLS, implicit TLS, AUTH PLAIN and
//! LOGIN), Postfix's `smtp-sink` with its fault knobs, and the real Postfix `smtpd`
//! delivering to a maildir.
//!
//! Every test is `#[ignore]`d: the servers come from `interop/run.sh`, which starts them
//! (`interop/servers.sh`), runs this file with `--ignored` and stops them. Run without
//! `INTEROP_ENV`, a test fails: it never passes without having talked to its server.
//!
//! Delivered messages are fetched from each server's store by `interop/delivered.py`
//! (by Message-ID) and compared byte for byte with what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use wasm_smtp_tokio::wasm_smtp_core::Mechanism;
use wasm_smtp_tokio::{
    connect_smtp, connect_smtp_starttls_with, connect_smtps_with, AuthError, Capability, Client,
    Options, SmtpError, Stage, TlsConfig, TlsError,
};

const EHLO: &str = "client.interop.test";

struct Env {
    path: String,
    vars: HashMap<String, String>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = std::env::var("INTEROP_ENV")
            .expect("INTEROP_ENV is not set: run these tests with bash interop/run.sh");
        let text = std::fs::read_to_string(&path).expect("read INTEROP_ENV");
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Env { path, vars }
    })
}

impl Env {
    fn get(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from {}", self.path))
    }

    fn port(&self, key: &str) -> u16 {
        self.get(key).parse().unwrap()
    }

    fn host(&self) -> &str {
        self.get("INTEROP_HOST")
    }

    fn options(&self) -> Options {
        Options::new().tls(TlsConfig::from_ca_file(self.get("INTEROP_CA")).unwrap())
    }

    fn user(&self) -> (&str, &str) {
        (self.get("INTEROP_USER"), self.get("INTEROP_PASSWORD"))
    }

    /// The message as stored by `server` (`postfix`, `aiosmtpd`, `SINK`, ...), in the
    /// form the client put it on the wire before dot-stuffing.
    fn delivered(&self, server: &str, message_id: &str, copies: usize) -> Vec<u8> {
        let out = Command::new(self.get("INTEROP_PYTHON"))
            .arg(self.get("INTEROP_DELIVERED"))
            .arg(server)
            .args(["--message-id", message_id, "--expect", &copies.to_string()])
            .env("INTEROP_ENV", &self.path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "delivered.py {server} {message_id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Whether `server` stored the message (without waiting long).
    fn stored(&self, server: &str, message_id: &str) -> bool {
        Command::new(self.get("INTEROP_PYTHON"))
            .arg(self.get("INTEROP_DELIVERED"))
            .arg(server)
            .args(["--message-id", message_id, "--timeout", "0.5"])
            .env("INTEROP_ENV", &self.path)
            .output()
            .unwrap()
            .status
            .success()
    }
}

/// A message with a unique Message-ID and the given body lines (CRLF added).
fn message(tag: &str, body: &[u8]) -> (String, Vec<u8>) {
    static N: AtomicU32 = AtomicU32::new(0);
    let id = format!(
        "<{tag}.{}.{}@interop.test>",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut m = format!(
        "From: Alice <alice@interop.test>\r\nTo: Bob <bob@interop.test>\r\n\
         Subject: interop {tag}\r\nMessage-ID: {id}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(body);
    (id, m)
}

/// Bodies that stress transparency, line length and 8-bit data.
fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let mut dots = Vec::new();
    for l in [".", "..", ".x", "x.", "", ". ", "...", "middle", "."] {
        dots.extend_from_slice(l.as_bytes());
        dots.extend_from_slice(b"\r\n");
    }
    dots.extend_from_slice(b".last line starts with a dot\r\n");
    let mut long = Vec::new();
    long.extend_from_slice(&[b'a'; 998]);
    long.extend_from_slice(b"\r\n.");
    long.extend_from_slice(&[b'b'; 997]); // 998 octets, 999 once stuffed
    long.extend_from_slice(b"\r\n");
    let mut eight = "Grüße, naïve café, 日本語, emoji 📬\r\n"
        .as_bytes()
        .to_vec();
    eight.extend((0x80u8..=0xff).filter(|b| *b != 0x85)); // latin-1 bytes, not UTF-8
    eight.extend_from_slice(b"\r\n");
    vec![("dots", dots), ("long", long), ("8bit", eight)]
}

/// About 10 MB: a base64-looking attachment body (76-octet lines).
fn big_body() -> Vec<u8> {
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    let mut body = Vec::with_capacity(10_000_000 + 100);
    let mut i = 0u32;
    while body.len() < 10_000_000 {
        body.extend_from_slice(line);
        i += 1;
        if i.is_multiple_of(1000) {
            body.extend_from_slice(b".a line with a leading dot every thousand lines\r\n");
        }
    }
    body
}

async fn send(client: &mut Client, to: &[&str], message: &[u8]) -> Result<usize, SmtpError> {
    let outcome = client
        .send_mail_bytes("alice@interop.test", to, message)
        .await?;
    Ok(outcome.accepted_count())
}

// ------------------------------------------------------------------ aiosmtpd

async fn aiosmtpd_starttls(mechanism: Mechanism) {
    let e = env();
    let port = e.port("AIOSMTPD_STARTTLS_PORT");
    let mut client = connect_smtp_starttls_with(e.host(), port, EHLO, &e.options())
        .await
        .unwrap();
    let (user, password) = e.user();
    client.login_with(mechanism, user, password).await.unwrap();
    for (tag, body) in bodies() {
        let (id, m) = message(tag, &body);
        assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
        assert_eq!(e.delivered("aiosmtpd", &id, 1), m, "{tag}");
    }
    client.quit().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn aiosmtpd_starttls_auth_plain_bodies() {
    aiosmtpd_starttls(Mechanism::Plain).await;
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn aiosmtpd_starttls_auth_login_bodies() {
    aiosmtpd_starttls(Mechanism::Login).await;
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn aiosmtpd_implicit_tls_10_mb() {
    let e = env();
    let port = e.port("AIOSMTPD_IMPLICIT_PORT");
    let mut client = connect_smtps_with(e.host(), port, EHLO, &e.options())
        .await
        .unwrap();
    assert!(client.is_encrypted());
    let (user, password) = e.user();
    client.login(user, password).await.unwrap();
    let (id, m) = message("big-implicit", &big_body());
    assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
    client.quit().await.unwrap();
    assert!(e.delivered("aiosmtpd", &id, 1) == m, "10 MB body differs");
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn aiosmtpd_wrong_password_is_an_auth_rejection() {
    let e = env();
    let port = e.port("AIOSMTPD_STARTTLS_PORT");
    let mut client = connect_smtp_starttls_with(e.host(), port, EHLO, &e.options())
        .await
        .unwrap();
    let err = client
        .login(e.user().0, "wrong password")
        .await
        .unwrap_err();
    match &err {
        SmtpError::Auth(AuthError::Rejected(r)) => assert_eq!(r.code.get(), 535),
        other => panic!("{other:?}"),
    }
    assert!(err.is_permanent());
    // The connection is still usable.
    client.noop().await.unwrap();
    client.quit().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn aiosmtpd_require_tls_refuses_a_plaintext_client() {
    let e = env();
    // A plaintext client (TLS disabled) on the require-TLS port: MAIL gets 530.
    let port = e.port("AIOSMTPD_STARTTLS_PORT");
    let mut client = connect_smtp(e.host(), port, EHLO, &Options::new())
        .await
        .unwrap();
    let (_, m) = message("plain-on-tls-port", b"x\r\n");
    let err = send(&mut client, &["bob@interop.test"], &m)
        .await
        .unwrap_err();
    match &err {
        SmtpError::Rejected(r) => {
            assert_eq!((r.stage, r.code.get()), (Stage::MailFrom, 530));
        }
        other => panic!("{other:?}"),
    }
    // A server without STARTTLS, or one refusing it: a TLS-requiring client stops
    // before AUTH.
    let port = e.port("AIOSMTPD_NOSTARTTLS_PORT");
    let err = connect_smtp_starttls_with(e.host(), port, EHLO, &e.options())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err.smtp(), Some(SmtpError::Tls(TlsError::NotOffered))),
        "{err:?}"
    );
    let port = e.port("AIOSMTPD_REFUSESTARTTLS_PORT");
    let err = connect_smtp_starttls_with(e.host(), port, EHLO, &e.options())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err.smtp(), Some(SmtpError::Tls(TlsError::Refused(454)))),
        "{err:?}"
    );
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn aiosmtpd_rejected_recipient_among_accepted_then_rset() {
    let e = env();
    let port = e.port("AIOSMTPD_REJECTRCPT_PORT");
    let mut client = connect_smtp_starttls_with(e.host(), port, EHLO, &e.options())
        .await
        .unwrap();
    let (id, m) = message("partial", b"to two of three\r\n");
    let outcome = client
        .send_mail_bytes(
            "alice@interop.test",
            &[
                "bob@interop.test",
                "reject-me@interop.test",
                "carol@interop.test",
            ],
            &m,
        )
        .await
        .unwrap();
    assert_eq!(outcome.rejected().collect::<Vec<_>>(), [1]);
    assert_eq!(outcome.first_rejection().unwrap().code.get(), 550);
    assert_eq!(e.delivered("aiosmtpd", &id, 1), m);
    // Every recipient refused: an error, RSET, and the connection still delivers.
    let (_, m) = message("none", b"to nobody\r\n");
    let err = send(&mut client, &["reject-1@interop.test"], &m)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SmtpError::RecipientsRejected { .. }),
        "{err:?}"
    );
    let (id, m) = message("after-rset", b"after the failed transaction\r\n");
    assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
    assert_eq!(e.delivered("aiosmtpd", &id, 1), m);
    client.quit().await.unwrap();
}

// ------------------------------------------------------------------ smtp-sink

async fn sink(key: &str) -> Client {
    let e = env();
    connect_smtp(
        e.host(),
        e.port(&format!("{key}_PORT")),
        EHLO,
        &Options::new(),
    )
    .await
    .unwrap()
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn sink_many_messages_on_one_connection() {
    let e = env();
    let mut client = sink("SINK").await;
    let mut sent = Vec::new();
    for i in 0..25 {
        let (_, body) = &bodies()[i % 3];
        let (id, m) = message(&format!("sink{i}"), body);
        assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
        sent.push((id, m));
    }
    client.quit().await.unwrap();
    for (id, m) in sent {
        assert_eq!(e.delivered("SINK", &id, 1), m);
    }
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn sink_soft_and_hard_errors_on_chosen_commands() {
    let cases: [(&str, Stage, u16, bool); 6] = [
        ("SINK_SOFT_MAIL", Stage::MailFrom, 451, true),
        ("SINK_HARD_MAIL", Stage::MailFrom, 550, false),
        ("SINK_SOFT_RCPT", Stage::RcptTo, 450, true),
        ("SINK_HARD_RCPT", Stage::RcptTo, 550, false),
        ("SINK_SOFT_DOT", Stage::DataEnd, 451, true),
        ("SINK_HARD_DOT", Stage::DataEnd, 554, false),
    ];
    for (key, stage, code, transient) in cases {
        let mut client = sink(key).await;
        let (_, m) = message(key, b"refused\r\n");
        let err = send(&mut client, &["bob@interop.test"], &m)
            .await
            .unwrap_err();
        let rejection = match &err {
            SmtpError::Rejected(r) => *r,
            SmtpError::RecipientsRejected { first, .. } => *first,
            other => panic!("{key}: {other:?}"),
        };
        assert_eq!(
            (rejection.stage, rejection.code.get()),
            (stage, code),
            "{key}"
        );
        assert_eq!(err.is_transient(), transient, "{key}");
        assert_eq!(err.is_permanent(), !transient, "{key}");
        // After RSET (or the end-of-data verdict) the connection is still usable.
        client.noop().await.unwrap();
        client.quit().await.unwrap();
    }
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn sink_disconnects_are_never_reported_as_sent() {
    let e = env();
    for key in ["SINK_DROP_DATA", "SINK_DROP_DOT", "SINK_ABORT_DATA"] {
        let mut client = sink(key).await;
        let (id, m) = message(key, &big_body()[..200_000]);
        let err = send(&mut client, &["bob@interop.test"], &m)
            .await
            .unwrap_err();
        // DROP_*: the connection ends without a reply: transient, session over.
        // ABORT_DATA answers 550 right after 354, before the body is read, and closes.
        // Depending on timing the engine sees that reply among the 354's bytes (a reply
        // nobody asked for), as the verdict on the end of data (550), or a broken pipe:
        // an error in every case, never "sent".
        if key == "SINK_ABORT_DATA" {
            assert!(
                matches!(
                    err,
                    SmtpError::Protocol(_)
                        | SmtpError::Io(_)
                        | SmtpError::ConnectionClosed
                        | SmtpError::Rejected(_)
                ),
                "{key}: {err:?}"
            );
            let _ = client.quit().await;
            continue;
        }
        assert!(err.is_transient(), "{key}: {err:?}");
        assert!(
            client.is_closed(),
            "{key}: session must be unusable after {err:?}"
        );
        if key == "SINK_DROP_DOT" {
            // The server kept it, but the client cannot know: an error, not "sent".
            assert!(matches!(err, SmtpError::ConnectionClosed), "{key}: {err:?}");
            assert!(e.stored(key, &id));
        }
        // quit on a failed session only closes the transport.
        client.quit().await.unwrap();
    }
    let mut client = sink("SINK_421_RCPT").await;
    let (_, m) = message("421", b"x\r\n");
    let err = send(&mut client, &["bob@interop.test"], &m)
        .await
        .unwrap_err();
    assert_eq!(err.reply_code().map(|c| c.get()), Some(421), "{err:?}");
    assert!(err.is_transient());
    assert!(client.is_closed());
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn sink_without_esmtp_falls_back_to_helo_and_without_extensions_still_works() {
    let e = env();
    for key in ["SINK_NOESMTP", "SINK_NOEXT"] {
        let mut client = sink(key).await;
        let (id, m) = message(key, b"plain old SMTP\r\n.dot\r\n");
        assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
        client.quit().await.unwrap();
        assert_eq!(e.delivered(key, &id, 1), m, "{key}");
    }
}

// ------------------------------------------------------------------ Postfix smtpd

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn postfix_starttls_bodies_and_10_mb_through_a_production_mta() {
    let e = env();
    let port = e.port("POSTFIX_PORT");
    let mut client =
        connect_smtp_starttls_with(e.get("INTEROP_TLS_NAME"), port, EHLO, &e.options())
            .await
            .unwrap();
    let caps = client.capabilities();
    assert!(caps.has(Capability::Pipelining), "{caps:?}");
    assert_eq!(
        caps.size_limit(),
        Some(e.get("POSTFIX_SIZE_LIMIT").parse().unwrap())
    );
    let mut sent = Vec::new();
    for (tag, body) in bodies() {
        sent.push(message(tag, &body));
    }
    sent.push(message("big", &big_body()));
    for (_, m) in &sent {
        assert_eq!(
            send(&mut client, &["bob@interop.test", "carol@interop.test"], m).await,
            Ok(2)
        );
    }
    client.quit().await.unwrap();
    for (id, m) in &sent {
        // One maildir file per recipient; delivered.py checks the copies agree.
        assert!(e.delivered("postfix", id, 2) == *m, "{id} differs");
    }
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn postfix_implicit_tls_and_rejected_recipient_then_rset() {
    let e = env();
    let port = e.port("POSTFIX_SMTPS_PORT");
    let mut client = connect_smtps_with(e.host(), port, EHLO, &e.options())
        .await
        .unwrap();
    let (id, m) = message("pf-partial", b"two of three\r\n");
    let outcome = client
        .send_mail_bytes(
            "alice@interop.test",
            &[
                "bob@interop.test",
                "reject-x@interop.test",
                "carol@interop.test",
            ],
            &m,
        )
        .await
        .unwrap();
    assert_eq!(outcome.rejected().collect::<Vec<_>>(), [1]);
    assert_eq!(e.delivered("postfix", &id, 2), m);
    let (_, m) = message("pf-none", b"nobody\r\n");
    let err = send(&mut client, &["reject-y@interop.test"], &m)
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    let (id, m) = message("pf-after-rset", b"after RSET\r\n");
    assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
    client.quit().await.unwrap();
    assert_eq!(e.delivered("postfix", &id, 1), m);
}

#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn postfix_tls_required_port_refuses_plaintext_mail() {
    let e = env();
    let port = e.port("POSTFIX_TLS_REQUIRED_PORT");
    let mut client = connect_smtp(e.host(), port, EHLO, &Options::new())
        .await
        .unwrap();
    let (_, m) = message("pf-plain", b"x\r\n");
    let err = send(&mut client, &["bob@interop.test"], &m)
        .await
        .unwrap_err();
    match &err {
        SmtpError::Rejected(r) => assert_eq!((r.stage, r.code.get()), (Stage::MailFrom, 530)),
        other => panic!("{other:?}"),
    }
    client.quit().await.unwrap();
    // The same port with STARTTLS delivers.
    let mut client = connect_smtp_starttls_with(e.host(), port, EHLO, &e.options())
        .await
        .unwrap();
    let (id, m) = message("pf-tls-required", b"over TLS\r\n");
    assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
    client.quit().await.unwrap();
    assert_eq!(e.delivered("postfix", &id, 1), m);
}

// ------------------------------------------------------------------ extensions

use wasm_smtp_tokio::wasm_smtp_core::dsn::{Notify, Ret};
use wasm_smtp_tokio::wasm_smtp_core::error::Extension;
use wasm_smtp_tokio::wasm_smtp_core::{Config, SendOptions};

/// Postfix smtpd offers PIPELINING, SIZE, 8BITMIME, DSN, SMTPUTF8 and CHUNKING: every
/// combination of PIPELINING and CHUNKING delivers the same bytes, to several
/// recipients, with one refused among them; DSN parameters and a UTF-8 sender are
/// accepted; a message over the SIZE limit is refused before anything is written.
#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn postfix_pipelining_chunking_size_8bitmime_smtputf8_dsn() {
    let e = env();
    let port = e.port("POSTFIX_PORT");
    let mut sent = Vec::new();
    for (pipelining, chunking) in [(true, true), (true, false), (false, true), (false, false)] {
        let config = Config::new().pipelining(pipelining).chunking(chunking);
        let options = e.options().config(config);
        let mut client =
            connect_smtp_starttls_with(e.get("INTEROP_TLS_NAME"), port, EHLO, &options)
                .await
                .unwrap();
        let caps = *client.capabilities();
        for cap in [
            Capability::Pipelining,
            Capability::Chunking,
            Capability::EightBitMime,
            Capability::SmtpUtf8,
            Capability::Dsn,
            Capability::Size,
        ] {
            assert!(caps.has(cap), "{cap:?} not offered after TLS: {caps:?}");
        }
        let tag = format!("pf-ext-{pipelining}-{chunking}");
        for (name, body) in bodies() {
            let (id, m) = message(&format!("{tag}-{name}"), &body);
            let outcome = client
                .send_mail_bytes(
                    "alice@interop.test",
                    &[
                        "bob@interop.test",
                        "reject-ext@interop.test",
                        "carol@interop.test",
                    ],
                    &m,
                )
                .await
                .unwrap();
            assert_eq!(outcome.rejected().collect::<Vec<_>>(), [1], "{tag}");
            assert_eq!(outcome.first_rejection().unwrap().code.get(), 550);
            assert!(!outcome.first_rejection_text().is_empty());
            sent.push((id, m, 2));
        }
        // Every recipient refused: typed error, the pipelined DATA/BDAT reply consumed,
        // and the connection still in step.
        let (_, m) = message(&format!("{tag}-none"), b"nobody\r\n");
        let err = send(
            &mut client,
            &["reject-a@interop.test", "reject-b@interop.test"],
            &m,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                SmtpError::RecipientsRejected {
                    rejected: 2,
                    total: 2,
                    ..
                }
            ),
            "{tag}: {err:?}"
        );
        assert!(
            client.rejection_text().contains("reject-a"),
            "{}",
            client.rejection_text()
        );
        // DSN parameters and a streamed body declared 8-bit.
        let (id, m) = message(&format!("{tag}-dsn"), "DSN, ünïcödé\r\n".as_bytes());
        let dsn = SendOptions::new()
            .notify(Notify::On {
                success: true,
                failure: true,
                delay: false,
            })
            .orcpt(true)
            .ret(Ret::Headers)
            .envid("interop+envid=1");
        let outcome = client
            .send_mail_with("alice@interop.test", &["bob@interop.test"], &m, dsn)
            .await
            .unwrap();
        assert!(outcome.all_accepted());
        sent.push((id, m, 1));
        let (id, m) = message(&format!("{tag}-stream"), &bodies()[2].1);
        let mut reader = &m[..];
        client
            .send_mail_from_reader_with(
                "alice@interop.test",
                &["carol@interop.test"],
                &mut reader,
                SendOptions::new().eight_bit_mime(true),
            )
            .await
            .unwrap();
        sent.push((id, m, 1));
        // SMTPUTF8: a UTF-8 sender.
        let (id, m) = message(&format!("{tag}-utf8"), "From jürgen\r\n".as_bytes());
        client
            .send_mail_bytes("jürgen@interop.test", &["bob@interop.test"], &m)
            .await
            .unwrap();
        sent.push((id, m, 1));
        // SIZE: one octet over the limit is refused before anything is written.
        let limit: u64 = e.get("POSTFIX_SIZE_LIMIT").parse().unwrap();
        // limit + 1 octets in lines of at most 200 (CRLF line ends: the RFC 1870 size
        // is the length).
        let n = limit as usize + 1;
        let mut big = Vec::with_capacity(n);
        while n - big.len() > 200 {
            big.extend_from_slice(&[b'x'; 98]);
            big.extend_from_slice(b"\r\n");
        }
        big.resize(n - 2, b'x');
        big.extend_from_slice(b"\r\n");
        let err = send(&mut client, &["bob@interop.test"], &big)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SmtpError::MessageTooLarge {
                size: limit + 1,
                limit
            }
        );
        client.noop().await.unwrap();
        client.quit().await.unwrap();
    }
    for (id, m, copies) in &sent {
        assert!(e.delivered("postfix", id, *copies) == *m, "{id} differs");
    }
}

/// smtp-sink offers PIPELINING, 8BITMIME and DSN (no CHUNKING): pipelined DATA with DSN
/// parameters, many messages on one connection.
#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn sink_pipelining_and_dsn() {
    let e = env();
    let mut client = sink("SINK").await;
    let caps = *client.capabilities();
    assert!(
        caps.has(Capability::Pipelining) && caps.has(Capability::Dsn),
        "{caps:?}"
    );
    assert!(!caps.has(Capability::Chunking), "{caps:?}");
    let mut sent = Vec::new();
    for i in 0..10 {
        let (id, m) = message(&format!("sink-dsn{i}"), &bodies()[i % 3].1);
        let options = SendOptions::new().notify(Notify::Never).envid("sink-envid");
        client
            .send_mail_with(
                "alice@interop.test",
                &["bob@interop.test", "carol@interop.test"],
                &m,
                options,
            )
            .await
            .unwrap();
        sent.push((id, m));
    }
    client.quit().await.unwrap();
    for (id, m) in sent {
        assert_eq!(e.delivered("SINK", &id, 1), m);
    }
}

/// aiosmtpd offers none of PIPELINING, CHUNKING and DSN: one command per round trip, and
/// a DSN request is refused before anything is written.
#[tokio::test]
#[ignore = "needs the interop servers: bash interop/run.sh"]
async fn aiosmtpd_without_pipelining_chunking_or_dsn() {
    let e = env();
    let port = e.port("AIOSMTPD_STARTTLS_PORT");
    let mut client = connect_smtp_starttls_with(e.host(), port, EHLO, &e.options())
        .await
        .unwrap();
    let (user, password) = e.user();
    client.login(user, password).await.unwrap();
    let caps = *client.capabilities();
    for cap in [
        Capability::Pipelining,
        Capability::Chunking,
        Capability::Dsn,
    ] {
        assert!(!caps.has(cap), "{cap:?}: {caps:?}");
    }
    let (id, m) = message("aio-ext", &bodies()[0].1);
    let err = client
        .send_mail_with(
            "alice@interop.test",
            &["bob@interop.test"],
            &m,
            SendOptions::new().notify(Notify::FAILURE),
        )
        .await
        .unwrap_err();
    assert_eq!(err, SmtpError::ExtensionUnavailable(Extension::Dsn));
    assert_eq!(send(&mut client, &["bob@interop.test"], &m).await, Ok(1));
    client.quit().await.unwrap();
    assert_eq!(e.delivered("aiosmtpd", &id, 1), m);
}
