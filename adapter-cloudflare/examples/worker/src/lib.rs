//! Example Worker: `POST /send` sends one message through an SMTP submission server with
//! `wasm-smtp-cloudflare`, using settings from the Worker's vars and secrets, and answers
//! with a JSON summary. See README.md.

use wasm_smtp_cloudflare::io::ErrorKind;
use wasm_smtp_cloudflare::{
    connect_smtp_plain_insecure, connect_smtp_starttls_with, connect_smtps_with, AuthError, Config,
    Error, InputField, Reply, SendOutcome, SmtpClient, SmtpError, Timeouts, TlsError,
    WorkersTransport, DEFAULT_TIMEOUT,
};
use worker::wasm_bindgen::JsValue;
use worker::{console_error, event, js_sys, Context, Env, Method, Request, Response, Result};

/// How the Worker connects, from `SMTP_TLS`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    StartTls,
    Smtps,
    Plain,
}

/// Settings from vars (`[vars]` in wrangler.toml) and secrets (`wrangler secret put`).
struct Settings {
    host: String,
    port: u16,
    mode: Mode,
    /// User name and password (`SMTP_PASSWORD` is a secret; it is never echoed).
    credentials: Option<(String, String)>,
    allow_plaintext_auth: bool,
    from: String,
    to: Vec<String>,
    ehlo_domain: String,
}

/// A text binding (var or secret); `None` when unset or empty.
fn text(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &name.into()).ok()?.as_string()?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// A secret exactly as stored (not trimmed: spaces may belong to a password); `None` when
/// unset or empty.
fn secret(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &name.into()).ok()?.as_string()?;
    (!value.is_empty()).then_some(value)
}

/// `SMTP_PORT`: a string var (`"587"`) or a number (`587` in wrangler.toml arrives as a
/// JS number); `default` when unset.
fn port(env: &Env, default: u16) -> std::result::Result<u16, String> {
    let invalid = || "SMTP_PORT must be a port number (1-65535)".to_string();
    let value = js_sys::Reflect::get(env, &"SMTP_PORT".into()).unwrap_or(JsValue::UNDEFINED);
    let number = if value.is_undefined() {
        return Ok(default);
    } else if let Some(n) = value.as_f64() {
        n as i64
    } else if let Some(s) = value.as_string() {
        if s.trim().is_empty() {
            return Ok(default);
        }
        s.trim().parse::<i64>().map_err(|_| invalid())?
    } else {
        return Err(invalid());
    };
    u16::try_from(number)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(invalid)
}

impl Settings {
    /// Read and check the settings. The error message names the setting, never a value.
    fn from_env(env: &Env) -> std::result::Result<Self, String> {
        let required = |name: &str| text(env, name).ok_or_else(|| format!("{name} is not set"));
        let mode = match text(env, "SMTP_TLS").as_deref() {
            None | Some("starttls") => Mode::StartTls,
            Some("smtps") => Mode::Smtps,
            Some("plain") => Mode::Plain,
            Some(_) => return Err("SMTP_TLS must be one of starttls, smtps, plain".into()),
        };
        let port = port(env, if mode == Mode::Smtps { 465 } else { 587 })?;
        let credentials = match text(env, "SMTP_USER") {
            Some(user) => {
                let password = secret(env, "SMTP_PASSWORD")
                    .ok_or("SMTP_USER is set but the SMTP_PASSWORD secret is not")?;
                Some((user, password))
            }
            None => None,
        };
        let to: Vec<String> = required("MAIL_TO")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if to.is_empty() {
            return Err("MAIL_TO has no address".into());
        }
        Ok(Settings {
            host: required("SMTP_HOST")?,
            port,
            mode,
            credentials,
            allow_plaintext_auth: mode == Mode::Plain
                && text(env, "SMTP_ALLOW_PLAINTEXT_AUTH").as_deref() == Some("true"),
            from: required("MAIL_FROM")?,
            to,
            ehlo_domain: text(env, "EHLO_DOMAIN").unwrap_or_else(|| "worker.example".into()),
        })
    }
}

/// The message sent when the request body is empty.
fn default_message(s: &Settings) -> Vec<u8> {
    let date = String::from(js_sys::Date::new_0().to_utc_string());
    format!(
        "From: <{}>\r\nTo: {}\r\nDate: {date}\r\nSubject: wasm-smtp example Worker\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         This message was sent by the wasm-smtp example Worker.\r\n",
        s.from,
        s.to.iter()
            .map(|t| format!("<{t}>"))
            .collect::<Vec<_>>()
            .join(", "),
    )
    .into_bytes()
}

/// One SMTP session: connect, log in, send, quit, close.
async fn send(s: &Settings, message: &[u8]) -> std::result::Result<SendOutcome, Error> {
    // Every wait for the server within a minute: the HTTP client is waiting too.
    let config = Config::new()
        .allow_plaintext_auth(s.allow_plaintext_auth)
        .timeouts(Timeouts::all(Some(DEFAULT_TIMEOUT)));
    let (host, port, ehlo) = (s.host.as_str(), s.port, s.ehlo_domain.as_str());
    let mut client: SmtpClient<WorkersTransport> = match s.mode {
        Mode::StartTls => connect_smtp_starttls_with(host, port, ehlo, config).await?,
        Mode::Smtps => connect_smtps_with(host, port, ehlo, config).await?,
        Mode::Plain => connect_smtp_plain_insecure(host, port, ehlo, config).await?,
    };
    if let Some((user, password)) = &s.credentials {
        client.login(user, password).await?;
    }
    let to: Vec<&str> = s.to.iter().map(String::as_str).collect();
    let outcome = client.send_mail_bytes(&s.from, &to, message).await?;
    // The message is accepted: a failing QUIT does not change that. `quit` also closes
    // the socket.
    if let Err(e) = client.quit().await {
        console_error!("QUIT failed after the message was accepted: {e}");
    }
    Ok(outcome)
}

/// `250 2.0.0 Ok: queued as 1234`.
fn reply_line(reply: &Reply) -> String {
    match reply.enhanced {
        Some(e) => format!("{} {e} {}", reply.code, reply.text),
        None => format!("{} {}", reply.code, reply.text),
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_response(status: u16, body: String) -> Result<Response> {
    Ok(Response::builder()
        .with_status(status)
        .with_header("content-type", "application/json")?
        .fixed(body.into_bytes()))
}

/// `{"ok":false,...}` with an HTTP status.
fn failure(status: u16, kind: &str, transient: bool, message: &str) -> Result<Response> {
    json_response(
        status,
        format!(
            "{{\"ok\":false,\"error_kind\":{},\"transient\":{transient},\"message\":{}}}",
            json_str(kind),
            json_str(message)
        ),
    )
}

/// The `error_kind` of an SMTP failure, and whether the caller's request (the message
/// body) is at fault.
fn smtp_kind(e: &SmtpError) -> (&'static str, bool) {
    match e {
        SmtpError::Io(ErrorKind::TimedOut)
        | SmtpError::Tls(TlsError::Handshake(ErrorKind::TimedOut))
        | SmtpError::Timeout(_) => ("timeout", false),
        SmtpError::Auth(AuthError::Rejected(_)) => ("auth", false),
        SmtpError::Auth(_) | SmtpError::ExtensionUnavailable(_) => ("unsupported", false),
        SmtpError::Tls(_) | SmtpError::PlaintextAuth => ("tls", false),
        SmtpError::Rejected(_) | SmtpError::RecipientsRejected { .. } => ("rejected", false),
        SmtpError::MalformedReply(_) | SmtpError::Protocol(_) => ("protocol", false),
        SmtpError::Io(_) | SmtpError::ConnectionClosed => ("io", false),
        SmtpError::InvalidInput {
            field: InputField::Body,
            ..
        }
        | SmtpError::BufferTooSmall { .. } => ("invalid_input", true),
        // Envelope addresses and the EHLO domain come from the settings.
        SmtpError::InvalidInput { .. } => ("invalid_config", false),
        _ => ("internal", false),
    }
}

fn error_response(e: &Error) -> Result<Response> {
    let transient = e.is_transient();
    let (kind, status) = match e {
        // A setting that can never work: the Worker is misconfigured.
        Error::PortBlocked => ("port_blocked", 500),
        Error::Connect(_) => ("connect", 502),
        Error::Smtp(smtp) => match smtp_kind(smtp) {
            (kind, true) => (kind, 400),
            ("invalid_config", _) => ("invalid_config", 500),
            ("timeout", _) => ("timeout", 504),
            (kind, _) if transient => (kind, 503),
            (kind, _) => (kind, 502),
        },
        _ => ("internal", 500),
    };
    // Display of these errors never contains a secret (see wasm-smtp-core's errors).
    let message = e.to_string();
    console_error!("send failed ({kind}): {message}");
    failure(status, kind, transient, &message)
}

fn success(s: &Settings, outcome: &SendOutcome) -> Result<Response> {
    let rejected: Vec<String> = outcome
        .rejected()
        .filter_map(|i| s.to.get(i))
        .map(|t| json_str(t))
        .collect();
    json_response(
        200,
        format!(
            "{{\"ok\":true,\"accepted\":{},\"rejected\":[{}],\"reply\":{}}}",
            outcome.accepted_count(),
            rejected.join(","),
            json_str(&reply_line(&outcome.reply))
        ),
    )
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // `path()` is cut out of the request URL without parsing it (no `url` crate).
    if req.path() != "/send" {
        return failure(404, "not_found", false, "use POST /send");
    }
    if req.method() != Method::Post {
        return failure(405, "method_not_allowed", false, "use POST /send");
    }
    if let Some(token) = secret(&env, "SEND_TOKEN") {
        let given = req.headers().get("authorization")?.unwrap_or_default();
        let expected = format!("Bearer {token}");
        // Compare without an early exit.
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return failure(401, "unauthorized", false, "missing or wrong bearer token");
        }
    }
    let settings = match Settings::from_env(&env) {
        Ok(s) => s,
        Err(message) => return failure(500, "invalid_config", false, &message),
    };
    let body = req.bytes().await?;
    let message = if body.iter().all(u8::is_ascii_whitespace) {
        default_message(&settings)
    } else {
        body
    };
    match send(&settings, &message).await {
        Ok(outcome) => success(&settings, &outcome),
        Err(e) => error_response(&e),
    }
}
