#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
mod tls;
mod trace;
mod transport;

pub use error::Error;
pub use tls::TlsConfig;
pub use trace::{Direction, Trace};
pub use transport::{Security, TokioTransport};

/// The rustls crate this adapter uses, for building a [`TlsConfig`] by hand.
pub use rustls;
/// The SMTP engine this adapter drives, for everything not re-exported here.
pub use wasm_smtp_core;

pub use wasm_smtp_core::error::{
    AuthError, Extension, InputField, InvalidReason, MalformedReply, ProtocolViolation, TlsError,
};
pub use wasm_smtp_core::{
    Capabilities, Capability, Config, EnhancedStatus, Mechanism, Rejection, Reply, ReplyCode,
    SendOutcome, SmtpClient, SmtpError, Stage, Timeouts, TlsPolicy, Transport,
};

pub use wasm_smtp_core::auth::scram::ClientNonce;

use std::time::Duration;

/// A fresh SCRAM client nonce: 24 bytes (192 bits) from the operating system's generator,
/// through the aws-lc-rs provider's `secure_random` as rustls exposes it (no extra
/// dependency).
///
/// # Errors
/// [`Error::Random`] if the generator fails.
pub fn scram_nonce() -> Result<ClientNonce, Error> {
    let mut random = [0u8; 24];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut random)
        .map_err(|_| Error::Random)?;
    Ok(ClientNonce::from_random(&random)?)
}

/// Log in with the strongest mechanism both sides support, SCRAM-SHA-256 included (with a
/// fresh [`scram_nonce`]), then PLAIN, LOGIN: see
/// [`choose_mechanism`](wasm_smtp_core::auth::exchange::choose_mechanism).
/// [`SmtpClient::login`] is the same without SCRAM.
///
/// # Errors
/// [`Error::Random`]; [`Error::Smtp`] as [`SmtpClient::login_with_nonce`].
pub async fn login<T: Transport, const RX: usize, const TX: usize>(
    client: &mut SmtpClient<T, RX, TX>,
    user: &str,
    password: &str,
) -> Result<(), Error> {
    let nonce = scram_nonce()?;
    Ok(client.login_with_nonce(user, password, &nonce).await?)
}

/// Receive buffer of a [`Client`]: room for long EHLO replies and a few pipelined replies.
pub const RX_BUFFER: usize = 4096;
/// Transmit buffer of a [`Client`]: one full TLS record, so that a large message leaves in
/// few writes.
pub const TX_BUFFER: usize = 16384;

/// The client the entry points of this crate return.
pub type Client = SmtpClient<TokioTransport, RX_BUFFER, TX_BUFFER>;

/// Connection settings: the engine's [`Config`] (with the time limits of the SMTP
/// dialogue, [`Timeouts`]), the trusted roots and the time limits for connecting and for
/// the TLS handshake.
///
/// ```
/// use std::time::Duration;
/// use wasm_smtp_tokio::{Config, Options, Stage, Timeouts, TlsConfig};
///
/// let options = Options::new()
///     .config(
///         Config::new()
///             .require_all_recipients(true)
///             .timeouts(Timeouts::new().data_end(Some(Duration::from_secs(120)))),
///     )
///     .tls(TlsConfig::webpki_roots())
///     .connect_timeout(Duration::from_secs(10));
/// let limits = options.smtp_config().time_limits();
/// assert_eq!(limits.reply(Stage::MailFrom), Some(Duration::from_secs(300)));
/// assert_eq!(limits.reply(Stage::DataEnd), Some(Duration::from_secs(120)));
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    config: Config,
    tls: TlsConfig,
    connect_timeout: Duration,
    tls_timeout: Duration,
    trace: Option<Trace>,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// Default [`Config`] (TLS required, the RFC 5321 section 4.5.3.2 time limits for each
    /// reply: see [`Timeouts`]), the `webpki-roots` CAs, 30 s to connect, 30 s for each
    /// TLS handshake, no trace.
    pub fn new() -> Self {
        Options {
            config: Config::new(),
            tls: TlsConfig::webpki_roots(),
            connect_timeout: Duration::from_secs(30),
            tls_timeout: Duration::from_secs(30),
            trace: None,
        }
    }

    /// The engine's settings (TLS policy, plaintext AUTH, all-or-nothing recipients, the
    /// time limits of the SMTP dialogue). The entry points of this crate override the TLS policy where their name says so.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The trusted roots.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Limit for resolving the host and opening the TCP connection.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// Limit for each TLS handshake.
    pub fn tls_timeout(mut self, limit: Duration) -> Self {
        self.tls_timeout = limit;
        self
    }

    /// Receive the conversation line by line, secrets redacted (see [`Trace`]).
    pub fn trace(mut self, trace: Trace) -> Self {
        self.trace = Some(trace);
        self
    }

    /// The engine's settings.
    pub fn smtp_config(&self) -> Config {
        self.config
    }
}

/// Open the transport with `security`, then greet, say EHLO and (on a plaintext
/// transport, unless `config` disables TLS) upgrade with STARTTLS, with `options`'
/// [`Config`] as given.
///
/// The building block of the other entry points: use it for
/// [`TlsPolicy::Opportunistic`] with [`Security::StartTls`].
///
/// # Errors
/// The transport's errors ([`TokioTransport::connect`]); [`Error::TlsHandshake`] or
/// [`Error::TlsTimeout`] when the STARTTLS handshake fails; [`Error::Smtp`] when the
/// SMTP dialogue fails.
pub async fn connect(
    host: &str,
    port: u16,
    ehlo_domain: &str,
    security: Security,
    options: &Options,
) -> Result<Client, Error> {
    // Refuse a bad EHLO name before the connection is opened for nothing.
    wasm_smtp_core::address::check_domain(ehlo_domain, InputField::EhloDomain, false)?;
    let transport = TokioTransport::connect(host, port, security, options).await?;
    let tls_failure = transport.tls_failure_slot();
    match Client::connect_sized(transport, ehlo_domain, options.config).await {
        Ok(client) => Ok(client),
        Err(e) => {
            let detail = tls_failure.lock().ok().and_then(|mut f| f.take());
            Err(Error::with_tls_detail(e, detail))
        }
    }
}

/// Connect with implicit TLS (SMTPS, usually port 465), with default [`Options`].
///
/// # Errors
/// As [`connect`].
pub async fn connect_smtps(host: &str, port: u16, ehlo_domain: &str) -> Result<Client, Error> {
    connect_smtps_with(host, port, ehlo_domain, &Options::new()).await
}

/// Connect with implicit TLS (SMTPS, usually port 465). The TLS policy of `options` is
/// replaced by [`TlsPolicy::Implicit`]: the engine refuses to read or write anything
/// unless the connection is encrypted from the start.
///
/// # Errors
/// As [`connect`].
pub async fn connect_smtps_with(
    host: &str,
    port: u16,
    ehlo_domain: &str,
    options: &Options,
) -> Result<Client, Error> {
    let options = options
        .clone()
        .config(options.config.tls(TlsPolicy::Implicit));
    connect(host, port, ehlo_domain, Security::ImplicitTls, &options).await
}

/// Connect in plaintext (submission, usually port 587) and upgrade with STARTTLS, with
/// default [`Options`]. STARTTLS is required: never a plaintext fallback.
///
/// # Errors
/// As [`connect`]; [`SmtpError::Tls`] with [`TlsError::NotOffered`] or
/// [`TlsError::Refused`] when the server does not upgrade.
pub async fn connect_smtp_starttls(
    host: &str,
    port: u16,
    ehlo_domain: &str,
) -> Result<Client, Error> {
    connect_smtp_starttls_with(host, port, ehlo_domain, &Options::new()).await
}

/// [`connect_smtp_starttls`] with explicit [`Options`]; their TLS policy is replaced by
/// [`TlsPolicy::Required`].
///
/// # Errors
/// As [`connect_smtp_starttls`].
pub async fn connect_smtp_starttls_with(
    host: &str,
    port: u16,
    ehlo_domain: &str,
    options: &Options,
) -> Result<Client, Error> {
    let options = options
        .clone()
        .config(options.config.tls(TlsPolicy::Required));
    connect(host, port, ehlo_domain, Security::StartTls, &options).await
}

/// **Plaintext.** Connect without TLS and never upgrade ([`TlsPolicy::Disabled`]): for a
/// relay on the same host or a trusted private network, and for test servers.
///
/// AUTH still refuses to run unless the [`Config`] in `options` has
/// [`Config::allow_plaintext_auth`] set.
///
/// # Errors
/// As [`connect`].
pub async fn connect_smtp(
    host: &str,
    port: u16,
    ehlo_domain: &str,
    options: &Options,
) -> Result<Client, Error> {
    let options = options
        .clone()
        .config(options.config.tls(TlsPolicy::Disabled));
    connect(host, port, ehlo_domain, Security::Plaintext, &options).await
}
