//! Messages per second over one reused connection on loopback, through the tokio
//! transport, against the mock crate's `LocalServer` (plaintext, and STARTTLS + AUTH):
//! what a mail queue sees. Each iteration is one whole transaction and its replies (the
//! server offers PIPELINING and CHUNKING: MAIL, RCPT, `BDAT n LAST` and the message in
//! one flight); the connection and TLS set-up are outside the
//! measurement. A client that sent the end-of-data line in a separate small write with
//! Nagle's algorithm on would stall on the peer's delayed ACK here (about 40 ms per
//! message on Linux).
//!
//! ```text
//! cargo bench -p wasm-smtp-benches --bench loopback
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wasm_smtp_mock::server::{LocalServer, ServerConfig};
use wasm_smtp_tokio::{connect_smtp, connect_smtp_starttls_with, Client, Options, TlsConfig};

const MESSAGE: &str = "From: a@example.com\r\nTo: b@example.com\r\nSubject: bench\r\n\r\n\
                       A small message, about the size of a notification.\r\n";

fn bench(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no tokio runtime: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("loopback");
    group.throughput(Throughput::Elements(1));
    for tls in [false, true] {
        let setup = rt.block_on(async {
            let config = if tls {
                ServerConfig::starttls().user("u", "p")
            } else {
                ServerConfig::plaintext()
            };
            let server = LocalServer::start(config).await.ok()?;
            let client: Client = if tls {
                let ca = TlsConfig::from_ca_pem(server.ca_pem().as_bytes()).ok()?;
                let options = Options::new().tls(ca);
                let mut c = connect_smtp_starttls_with("localhost", server.port(), "b", &options)
                    .await
                    .ok()?;
                c.login("u", "p").await.ok()?;
                c
            } else {
                connect_smtp("127.0.0.1", server.port(), "b", &Options::new())
                    .await
                    .ok()?
            };
            Some((server, client))
        });
        let Some((_server, mut client)) = setup else {
            eprintln!("loopback bench: could not start the local server");
            return;
        };
        let name = if tls {
            "message_starttls"
        } else {
            "message_plaintext"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(client.send_mail("a@example.com", &["b@example.com"], MESSAGE))
                    .map(|o| o.accepted_count())
                    .unwrap_or(0)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
