//! `wasm-smtp-send`: send an RFC 5322 message over SMTP from the command line.
//!
//! ```text
//! wasm-smtp-send                                  # offline demo against a local server
//! SMTP_PASSWORD=... wasm-smtp-send --server smtp+starttls://smtp.example.com \
//!     --from me@example.com --to you@example.com --user me@example.com message.eml
//! ```
//!
//! See `wasm-smtp-send --help` for the options and exit statuses.

mod args;

use args::{Args, Command, Mode, UsageError};
use embedded_io_adapters::tokio_1::FromTokio;
use std::io::Write as _;
use std::process::ExitCode;
use wasm_smtp_mock::server::{LocalServer, ServerConfig};
use wasm_smtp_tokio::wasm_smtp_core::io::{ErrorType, Read};
use wasm_smtp_tokio::{
    AuthError, Client, Config, Direction, Error, Options, SendOutcome, SmtpError, Timeouts,
    TlsConfig, Trace,
};

/// Exit statuses (sysexits.h values where one fits).
mod status {
    pub const OTHER: u8 = 1;
    pub const USAGE: u8 = 64;
    pub const NO_INPUT: u8 = 66;
    pub const PERMANENT: u8 = 69;
    pub const TRANSIENT: u8 = 75;
    pub const PROTOCOL: u8 = 76;
    pub const AUTH: u8 = 77;
    pub const TLS: u8 = 78;
}

/// A failure and its exit status.
struct Failure {
    status: u8,
    message: String,
}

impl Failure {
    fn new(status: u8, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Self {
        Failure::new(status::USAGE, format!("{}\n\n{}", e.0, args::USAGE))
    }
}

/// The exit status for an adapter error: TLS, then authentication, then the
/// transient/permanent split, then protocol violations.
fn classify(e: &Error) -> u8 {
    match e {
        e if e.is_tls() => status::TLS,
        Error::Smtp(SmtpError::Auth(_) | SmtpError::PlaintextAuth) => status::AUTH,
        Error::InvalidHost(_) | Error::CaFile { .. } | Error::InvalidCa(_) => status::USAGE,
        Error::Smtp(SmtpError::InvalidInput { .. }) => status::USAGE,
        e if e.is_transient() => status::TRANSIENT,
        e if e.is_permanent() => status::PERMANENT,
        Error::Smtp(SmtpError::MalformedReply(_) | SmtpError::Protocol(_)) => status::PROTOCOL,
        _ => status::OTHER,
    }
}

fn fail(e: impl Into<Error>) -> Failure {
    let e = e.into();
    let hint = match &e {
        Error::Smtp(SmtpError::Auth(AuthError::Rejected(_))) => {
            " (check the user name and the password variable)"
        }
        Error::TlsHandshake(_) => " (for a private server, trust its CA with --ca-file)",
        _ => "",
    };
    Failure::new(classify(&e), format!("{e}{hint}"))
}

const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo password, never printed";
const DEMO_FROM: &str = "alice@example.com";
const DEMO_TO: [&str; 2] = ["bob@example.com", "carol@example.com"];
const DEMO_MESSAGE: &str = "From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.com>, Carol <carol@example.com>\r\n\
Subject: Hello from wasm-smtp\r\n\
Message-ID: <demo.1@example.com>\r\n\
\r\n\
Hi both,\r\n\
.this line starts with a dot and is dot-stuffed on the wire.\r\n\
Bye.\r\n";

fn main() -> ExitCode {
    let command = match args::parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        Err(e) => return report(Failure::from(e)),
    };
    let args = match command {
        Command::Help => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Send(args) => args,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return report(Failure::new(status::OTHER, format!("tokio runtime: {e}"))),
    };
    match runtime.block_on(run(*args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(f),
    }
}

fn report(f: Failure) -> ExitCode {
    eprintln!("wasm-smtp-send: {}", f.message);
    ExitCode::from(f.status)
}

async fn run(args: Args) -> Result<(), Failure> {
    let mut options = Options::new()
        .config(
            Config::new()
                .allow_plaintext_auth(args.allow_plaintext_auth)
                .timeouts(Timeouts::all(Some(args.timeout))),
        )
        .connect_timeout(args.timeout)
        .tls_timeout(args.timeout);
    if let Some(path) = &args.ca_file {
        options = options.tls(TlsConfig::from_ca_file(path).map_err(fail)?);
    }
    // The demo always shows the conversation, on stdout; --verbose shows it on stderr,
    // so that stdout keeps only the result.
    let to_stdout = args.server.is_none();
    if args.verbose || to_stdout {
        options = options.trace(Trace::new(move |direction, line| {
            let tag = match direction {
                Direction::Client => "C:",
                Direction::Server => "S:",
                _ => "*",
            };
            let _ = if to_stdout {
                writeln!(std::io::stdout().lock(), "{tag} {line}")
            } else {
                writeln!(std::io::stderr().lock(), "{tag} {line}")
            };
        }));
    }
    match &args.server {
        Some(server) => send_to_server(&args, server, &options).await,
        None => demo(&args, options).await,
    }
}

async fn send_to_server(
    args: &Args,
    server: &args::Server,
    options: &Options,
) -> Result<(), Failure> {
    let password = match &args.user {
        Some(_) => Some(std::env::var(&args.password_env).map_err(|_| {
            Failure::from(UsageError(format!(
                "--user needs the password in the environment variable {} (unset or not UTF-8)",
                args.password_env
            )))
        })?),
        None => None,
    };
    let from = args.from.as_deref().unwrap_or_default();
    let to: Vec<&str> = args.to.iter().map(String::as_str).collect();
    // The message is streamed from the file or stdin, never held whole in memory.
    let mut message = match args.message.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Failure::new(status::NO_INPUT, format!("{}: {e}", path.display())))?;
            Source::File(FromTokio::new(file))
        }
        _ => Source::Stdin(FromTokio::new(tokio::io::stdin())),
    };
    let (host, port) = (server.host.as_str(), server.port);
    let mut client = match server.mode {
        Mode::Implicit => {
            wasm_smtp_tokio::connect_smtps_with(host, port, &args.ehlo, options).await
        }
        Mode::StartTls => {
            wasm_smtp_tokio::connect_smtp_starttls_with(host, port, &args.ehlo, options).await
        }
        Mode::None => wasm_smtp_tokio::connect_smtp(host, port, &args.ehlo, options).await,
    }
    .map_err(fail)?;
    // SCRAM-SHA-256 is chosen when the server offers it (then PLAIN, LOGIN).
    let nonce = wasm_smtp_tokio::scram_nonce().map_err(fail)?;
    let result = async {
        if let (Some(user), Some(password)) = (&args.user, &password) {
            client.login_with_nonce(user, password, &nonce).await?;
        }
        client.send_mail_from_reader(from, &to, &mut message).await
    }
    .await;
    finish(&mut client, result, &to).await
}

/// Print the outcome, say QUIT and pick the exit status.
async fn finish(
    client: &mut Client,
    result: Result<SendOutcome, SmtpError>,
    to: &[&str],
) -> Result<(), Failure> {
    // QUIT either way; its failure does not change what happened to the message.
    let _ = client.quit().await;
    let outcome = result.map_err(|e| match e {
        SmtpError::BodySource(kind) => Failure::new(
            status::NO_INPUT,
            format!("reading the message failed: {kind:?}"),
        ),
        e => fail(e),
    })?;
    println!(
        "delivered to {} of {} recipients: {} {}",
        outcome.accepted_count(),
        outcome.recipients(),
        outcome.reply.code,
        outcome.reply.text
    );
    if let Some(rejection) = outcome.first_rejection() {
        for i in outcome.rejected() {
            println!("refused: {}", to.get(i).copied().unwrap_or("?"));
        }
        let status = if rejection.is_transient() {
            status::TRANSIENT
        } else {
            status::PERMANENT
        };
        return Err(Failure::new(
            status,
            format!("some recipients were refused (first: {rejection})"),
        ));
    }
    Ok(())
}

/// The offline demo: a local server on 127.0.0.1 (STARTTLS with a throw-away CA, AUTH
/// PLAIN), one message, and a byte-for-byte check of what the server received.
async fn demo(args: &Args, options: Options) -> Result<(), Failure> {
    let server = LocalServer::start(ServerConfig::starttls().user(DEMO_USER, DEMO_PASSWORD))
        .await
        .map_err(|e| Failure::new(status::OTHER, format!("local server: {e}")))?;
    let message = match args.message.as_deref() {
        Some(path) if path.as_os_str() != "-" => std::fs::read(path)
            .map_err(|e| Failure::new(status::NO_INPUT, format!("{}: {e}", path.display())))?,
        _ => DEMO_MESSAGE.as_bytes().to_vec(),
    };
    println!(
        "no --server given: sending to a local test server on 127.0.0.1:{} \
         (STARTTLS, AUTH PLAIN; see --help)",
        server.port()
    );
    let options = options.tls(TlsConfig::from_ca_pem(server.ca_pem().as_bytes()).map_err(fail)?);
    let mut client = wasm_smtp_tokio::connect_smtp_starttls_with(
        "localhost",
        server.port(),
        &args.ehlo,
        &options,
    )
    .await
    .map_err(fail)?;
    let result = async {
        client.login(DEMO_USER, DEMO_PASSWORD).await?;
        client.send_mail_bytes(DEMO_FROM, &DEMO_TO, &message).await
    }
    .await;
    finish(&mut client, result, &DEMO_TO).await?;
    let received = server.messages();
    let normalized = normalize(&message);
    match received.first() {
        Some(m) if m.data == normalized && m.tls && m.rcpt_to == DEMO_TO => {
            println!(
                "the server received {} octets over TLS, identical to the message sent \
                 (line ends as CRLF)",
                m.data.len()
            );
            Ok(())
        }
        _ => Err(Failure::new(
            status::OTHER,
            "the local server did not receive the message as sent",
        )),
    }
}

/// What the message becomes on the wire before dot-stuffing: CRLF line ends, and a final
/// CRLF when the message lacks one.
fn normalize(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 2);
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' if message.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Where the message comes from, as the engine's `Read`.
enum Source {
    File(FromTokio<tokio::fs::File>),
    Stdin(FromTokio<tokio::io::Stdin>),
}

impl ErrorType for Source {
    type Error = std::io::Error;
}

impl Read for Source {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        match self {
            Source::File(f) => f.read(buf).await,
            Source::Stdin(s) => s.read(buf).await,
        }
    }
}
