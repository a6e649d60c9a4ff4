//! The real embedded stack on Linux: embassy-executor (std), embassy-net (smoltcp) on a
//! TAP device, embedded-tls, and the unchanged SMTP core, sending one message to a real
//! server. `tap/run.sh` creates the network namespace, the TAP device, the server and the
//! certificates, runs this program inside the namespace and checks what was delivered.
//!
//! ```text
//! tap --tap NAME --address 169.254.77.2/24 --server 169.254.77.1 --port 587
//!     --security starttls|implicit --server-name NAME --ca CA.der
//!     --user USER --mechanism plain|login --from ADDR --to ADDR --message FILE
//! ```
//! The password comes from the environment variable `SMTP_PASSWORD` only.
//!
//! Prints one `result:` line and exits with 0 (sent), 3 (the TLS handshake failed) or 1
//! (anything else).

use std::time::{SystemTime, UNIX_EPOCH};

use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Ipv4Cidr, Runner, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::{with_timeout, Duration};
use rand_core::{OsRng, RngCore};
use static_cell::StaticCell;
use wasm_smtp_core::error::TlsError as SmtpTlsError;
use wasm_smtp_core::{Mechanism, SmtpError};
use wasm_smtp_embassy::{Error, TlsClock, TlsSetup, TLS_RECORD_BUFFER};

#[path = "common/session.rs"]
mod session;
use session::{Mail, Security};

/// The wall clock, so that certificate validity dates are checked on this run.
struct SystemClock;

impl TlsClock for SystemClock {
    fn now() -> Option<u64> {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

struct Options {
    tap: String,
    address: Ipv4Cidr,
    server: Ipv4Address,
    port: u16,
    security: Security,
    server_name: String,
    ca: Vec<u8>,
    user: String,
    password: String,
    mechanism: Mechanism,
    from: String,
    to: String,
    message: Vec<u8>,
}

fn usage(msg: &str) -> ! {
    eprintln!("tap: {msg}");
    std::process::exit(2)
}

fn parse_options() -> Options {
    let mut args = std::env::args().skip(1);
    let mut get = std::collections::HashMap::new();
    while let Some(key) = args.next() {
        let Some(key) = key.strip_prefix("--") else {
            usage(&format!("unexpected argument {key:?}"))
        };
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("--{key} needs a value")));
        get.insert(key.to_owned(), value);
    }
    let mut take = |key: &str| {
        get.remove(key)
            .unwrap_or_else(|| usage(&format!("--{key} is required")))
    };
    let ipv4 = |s: &str| -> Ipv4Address {
        s.parse()
            .unwrap_or_else(|_| usage(&format!("not an IPv4 address: {s}")))
    };
    let address = take("address");
    let (ip, prefix) = address
        .split_once('/')
        .unwrap_or_else(|| usage("--address needs a prefix length"));
    let prefix = prefix
        .parse()
        .unwrap_or_else(|_| usage("bad prefix length"));
    let read =
        |path: String| std::fs::read(&path).unwrap_or_else(|e| usage(&format!("{path}: {e}")));
    let options = Options {
        tap: take("tap"),
        address: Ipv4Cidr::new(ipv4(ip), prefix),
        server: ipv4(&take("server")),
        port: take("port").parse().unwrap_or_else(|_| usage("bad --port")),
        security: match take("security").as_str() {
            "starttls" => Security::StartTls,
            "implicit" => Security::Implicit,
            other => usage(&format!("--security starttls|implicit, not {other}")),
        },
        server_name: take("server-name"),
        ca: read(take("ca")),
        user: take("user"),
        password: std::env::var("SMTP_PASSWORD")
            .unwrap_or_else(|_| usage("SMTP_PASSWORD is not set")),
        mechanism: match take("mechanism").as_str() {
            "plain" => Mechanism::Plain,
            "login" => Mechanism::Login,
            other => usage(&format!("--mechanism plain|login, not {other}")),
        },
        from: take("from"),
        to: take("to"),
        message: read(take("message")),
    };
    if let Some(key) = get.keys().next() {
        usage(&format!("unknown option --{key}"));
    }
    options
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let code = run(spawner).await;
    std::process::exit(code as i32);
}

async fn run(spawner: Spawner) -> u8 {
    let options = parse_options();
    let device = TunTapDevice::new(&options.tap)
        .unwrap_or_else(|e| usage(&format!("TAP device {}: {e}", options.tap)));
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: options.address,
        gateway: None,
        dns_servers: heapless::Vec::new(),
    });
    static RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        config,
        RESOURCES.init(StackResources::new()),
        OsRng.next_u64(),
    );
    spawner.spawn(net_task(runner).unwrap_or_else(|e| usage(&format!("spawn: {e:?}"))));
    stack.wait_config_up().await;

    // The same buffer sizes as the firmware.
    let (mut tcp_rx, mut tcp_tx) = ([0u8; 2048], [0u8; 2048]);
    let mut tls_rx = vec![0u8; TLS_RECORD_BUFFER];
    let mut tls_tx = vec![0u8; 4096];

    let mut socket = TcpSocket::new(stack, &mut tcp_rx, &mut tcp_tx);
    socket.set_timeout(Some(Duration::from_secs(10)));
    if let Err(e) = socket.connect((options.server, options.port)).await {
        println!("result: connect failed: {e:?}");
        return 1;
    }
    if let (Some(local), Some(remote)) = (socket.local_endpoint(), socket.remote_endpoint()) {
        eprintln!("tap: connected from {local} to {remote}");
    }

    let tls = TlsSetup::new(
        &options.server_name,
        &options.ca,
        OsRng,
        &mut tls_rx,
        &mut tls_tx,
    )
    .with_clock::<SystemClock>();
    let to = [options.to.as_str()];
    let mail = Mail {
        ehlo_domain: "device.embassy.test",
        user: &options.user,
        password: &options.password,
        mechanism: options.mechanism,
        from: &options.from,
        to: &to,
        message: &options.message,
    };
    // A borrowed socket: after a failure it is still ours to abort.
    let result = with_timeout(
        Duration::from_secs(30),
        session::send(&mut socket, options.security, tls, &mail),
    )
    .await;
    match result {
        Ok(Ok(outcome)) => {
            socket.flush().await.ok();
            println!(
                "result: sent {} {} ({} of {} recipients accepted)",
                outcome.reply.code.get(),
                outcome.reply.text.as_str(),
                outcome.accepted_count(),
                outcome.recipients()
            );
            0
        }
        Ok(Err(failure)) => {
            socket.abort();
            socket.flush().await.ok();
            println!(
                "result: failed: smtp={:?} transport={:?}",
                failure.smtp, failure.transport
            );
            let tls_failed = matches!(
                failure.transport,
                Some(Error::Tls(_) | Error::CertificateNotVerified)
            ) && matches!(
                failure.smtp,
                None | Some(SmtpError::Tls(SmtpTlsError::Handshake(_)))
            );
            if tls_failed {
                3
            } else {
                1
            }
        }
        Err(_) => {
            socket.abort();
            println!("result: timed out after 30 s");
            1
        }
    }
}
