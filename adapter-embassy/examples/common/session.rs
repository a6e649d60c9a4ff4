//! The sending code shared by the hosted TAP run (`examples/tap.rs`) and the Cortex-M
//! firmware (`firmware/`): hand a connected socket to the transport, then connect (TLS
//! required), log in, send one message and quit through the unchanged core.
//!
//! `no_std` and allocation-free, so that the firmware compiles the same file.

use wasm_smtp_core::{Config, Mechanism, SendOutcome, SmtpClient, SmtpError, TlsPolicy};
use wasm_smtp_embassy::{CryptoRngCore, EmbassyTransport, Error, Socket, TlsClock, TlsSetup};

/// How TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plaintext first, then STARTTLS (required: the session fails without it).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// One message and the account to send it with.
pub struct Mail<'a> {
    /// The domain sent with EHLO.
    pub ehlo_domain: &'a str,
    /// AUTH user name.
    pub user: &'a str,
    /// AUTH password.
    pub password: &'a str,
    /// AUTH mechanism (PLAIN or LOGIN).
    pub mechanism: Mechanism,
    /// Envelope sender.
    pub from: &'a str,
    /// Envelope recipients.
    pub to: &'a [&'a str],
    /// The message (headers, blank line, body).
    pub message: &'a [u8],
}

/// Why sending failed: the SMTP error (if the session started) and the transport's own
/// error (the core keeps only its kind).
#[derive(Debug)]
pub struct Failure {
    /// The error the SMTP client returned (`None` when implicit TLS failed first).
    pub smtp: Option<SmtpError>,
    /// The transport's last error, with the TLS detail.
    pub transport: Option<Error>,
}

/// Send `mail` over `socket` (already connected).
pub async fn send<S, R, C>(
    socket: S,
    security: Security,
    tls: TlsSetup<'_, R, C>,
    mail: &Mail<'_>,
) -> Result<SendOutcome, Failure>
where
    S: Socket,
    R: CryptoRngCore,
    C: TlsClock,
{
    // Implicit TLS: the engine refuses to start unless the transport is encrypted.
    let policy = match security {
        Security::StartTls => TlsPolicy::Required,
        Security::Implicit => TlsPolicy::Implicit,
    };
    let mut transport = match security {
        Security::StartTls => EmbassyTransport::starttls(socket, tls),
        Security::Implicit => EmbassyTransport::implicit_tls(socket, tls)
            .await
            .map_err(|e| Failure {
                smtp: None,
                transport: Some(e),
            })?,
    };
    session(&mut transport, mail, policy)
        .await
        .map_err(|smtp| Failure {
            smtp: Some(smtp),
            transport: transport.last_error(),
        })
}

async fn session<S, R, C>(
    transport: &mut EmbassyTransport<'_, S, R, C>,
    mail: &Mail<'_>,
    policy: TlsPolicy,
) -> Result<SendOutcome, SmtpError>
where
    S: Socket,
    R: CryptoRngCore,
    C: TlsClock,
{
    // The default Config (no AUTH in plaintext) with the TLS policy. Default buffers.
    let config = Config::new().tls(policy);
    let mut client = SmtpClient::connect_with(transport, mail.ehlo_domain, config).await?;
    client
        .login_with(mail.mechanism, mail.user, mail.password)
        .await?;
    let outcome = client
        .send_mail_bytes(mail.from, mail.to, mail.message)
        .await?;
    client.quit().await?;
    Ok(outcome)
}
