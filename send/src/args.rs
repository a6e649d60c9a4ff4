//! Command-line arguments: parsing and checking, no I/O.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection is secured, from the URL scheme or `--tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `smtps://`, `--tls implicit`: TLS from the first byte (port 465).
    Implicit,
    /// `smtp+starttls://`, `--tls starttls`: STARTTLS required (port 587).
    StartTls,
    /// `smtp://`, `--tls none`: plaintext (port 25), for local relays.
    None,
}

impl Mode {
    fn default_port(self) -> u16 {
        match self {
            Mode::Implicit => 465,
            Mode::StartTls => 587,
            Mode::None => 25,
        }
    }
}

/// Where to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub mode: Mode,
}

/// Everything the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `None`: the embedded local server (offline demo).
    pub server: Option<Server>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub user: Option<String>,
    /// The environment variable that holds the password.
    pub password_env: String,
    pub ehlo: String,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub verbose: bool,
    pub allow_plaintext_auth: bool,
    /// `None` or `-`: standard input (with a server) / the built-in demo message (without).
    pub message: Option<PathBuf>,
}

pub const USAGE: &str = "\
Usage: wasm-smtp-send [OPTIONS] [MESSAGE_FILE]

Send an RFC 5322 message (a file, or standard input with `-`) over SMTP. Without
--server, starts a local test server on 127.0.0.1 and sends a demo message to it
(STARTTLS with a throw-away CA, AUTH PLAIN): works offline.

Server:
  -s, --server URL        smtp+starttls://HOST[:PORT]  STARTTLS required (default port 587)
                          smtps://HOST[:PORT]          implicit TLS (default port 465)
                          smtp://HOST[:PORT]           plaintext, for local relays (port 25)
      --host HOST         the same, as separate options
      --port PORT
      --tls MODE          starttls (default), implicit or none
      --ca-file PATH      trust only the CA certificates in this PEM file (private servers)
      --ehlo NAME         name to greet the server with (default: localhost)
      --timeout SECS      limit for connecting and for each wait for the server (default 60)

Envelope:
  -f, --from ADDRESS      envelope sender (MAIL FROM)
  -t, --to ADDRESS        recipient (RCPT TO); repeat for several

Authentication:
  -u, --user NAME         log in (AUTH PLAIN or LOGIN) as NAME
      --password-env VAR  environment variable holding the password (default SMTP_PASSWORD);
                          there is no option that takes the password itself
      --allow-plaintext-auth
                          allow AUTH without TLS (smtp:// only; the password crosses the
                          network in clear text)

Output:
  -v, --verbose           print the SMTP conversation on stderr (AUTH secrets redacted)
  -h, --help              print this help

Exit status: 0 delivered to every recipient; 64 usage error; 66 message file unreadable;
69 permanent failure (5xx); 75 temporary failure (4xx, connection lost, timeout; retry
later); 76 the server broke the protocol; 77 authentication failed; 78 TLS failed
(certificate, handshake, STARTTLS not offered or refused); 1 anything else.
";

/// A usage error: printed with the usage, exit status 64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// What the command line asks for: send, or print the help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Send(Box<Args>),
    Help,
}

/// Parse the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let mut url = None;
    let (mut host, mut port, mut tls) = (None, None, None);
    let mut out = Args {
        server: None,
        from: None,
        to: Vec::new(),
        user: None,
        password_env: "SMTP_PASSWORD".to_owned(),
        ehlo: "localhost".to_owned(),
        ca_file: None,
        timeout: Duration::from_secs(60),
        verbose: false,
        allow_plaintext_auth: false,
        message: None,
    };
    let mut positional_only = false;
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| UsageError(format!("argument is not UTF-8: {a:?}")))?;
        if positional_only || arg == "-" || !arg.starts_with('-') {
            if out.message.is_some() {
                return Err(UsageError(format!("more than one message file: {arg}")));
            }
            out.message = Some(PathBuf::from(arg));
            continue;
        }
        // --name=value or --name value
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, UsageError> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| UsageError(format!("{name} needs {what}"))),
            }
        };
        match name.as_str() {
            "--" => positional_only = true,
            "-h" | "--help" => return Ok(Command::Help),
            "-v" | "--verbose" => out.verbose = true,
            "--allow-plaintext-auth" => out.allow_plaintext_auth = true,
            "-s" | "--server" => url = Some(value("a URL")?),
            "--host" => host = Some(value("a host name")?),
            "--port" => port = Some(parse_port(&value("a port")?)?),
            "--tls" => {
                tls = Some(match value("a mode")?.as_str() {
                    "starttls" => Mode::StartTls,
                    "implicit" => Mode::Implicit,
                    "none" => Mode::None,
                    other => {
                        return Err(UsageError(format!(
                            "--tls must be starttls, implicit or none, not {other:?}"
                        )))
                    }
                })
            }
            "--ca-file" => out.ca_file = Some(PathBuf::from(value("a path")?)),
            "--ehlo" => out.ehlo = value("a name")?,
            "--timeout" => {
                let v = value("a number of seconds")?;
                let secs: u64 =
                    v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        UsageError(format!("--timeout: not a positive number: {v}"))
                    })?;
                out.timeout = Duration::from_secs(secs);
            }
            "-f" | "--from" => out.from = Some(value("an address")?),
            "-t" | "--to" => out.to.push(value("an address")?),
            "-u" | "--user" => out.user = Some(value("a user name")?),
            "--password-env" => out.password_env = value("a variable name")?,
            "-p" | "--password" | "--pass" => {
                return Err(UsageError(format!(
                    "{name}: passwords are not taken on the command line (other users can \
                     read it from the process list); put it in an environment variable and \
                     name it with --password-env (default SMTP_PASSWORD)"
                )))
            }
            _ => return Err(UsageError(format!("unknown option {name}"))),
        }
    }
    out.server = match (url, host) {
        (Some(_), Some(_)) => {
            return Err(UsageError(
                "give either --server or --host, not both".into(),
            ))
        }
        (Some(url), None) => {
            if port.is_some() || tls.is_some() {
                return Err(UsageError(
                    "--port and --tls go with --host; put them in the --server URL".into(),
                ));
            }
            Some(parse_url(&url)?)
        }
        (None, Some(host)) => {
            let mode = tls.unwrap_or(Mode::StartTls);
            Some(Server {
                host,
                port: port.unwrap_or(mode.default_port()),
                mode,
            })
        }
        (None, None) if port.is_some() || tls.is_some() => {
            return Err(UsageError("--port and --tls need --host".into()))
        }
        (None, None) => None,
    };
    if let Some(server) = &out.server {
        if out.from.is_none() {
            return Err(UsageError("--from is required with a server".into()));
        }
        if out.to.is_empty() {
            return Err(UsageError(
                "at least one --to is required with a server".into(),
            ));
        }
        if out.allow_plaintext_auth && server.mode != Mode::None {
            return Err(UsageError(
                "--allow-plaintext-auth only makes sense with smtp:// (--tls none)".into(),
            ));
        }
        if server.host.is_empty() {
            return Err(UsageError("empty host".into()));
        }
    }
    Ok(Command::Send(Box::new(out)))
}

fn parse_port(s: &str) -> Result<u16, UsageError> {
    s.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| UsageError(format!("not a port number: {s:?}")))
}

/// `scheme://host[:port][/]`, host a name, an IPv4 address or `[IPv6]`.
pub fn parse_url(url: &str) -> Result<Server, UsageError> {
    let bad = |why: &str| UsageError(format!("server URL {url:?}: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected smtp+starttls://, smtps:// or smtp://"))?;
    let mode = match scheme.to_ascii_lowercase().as_str() {
        "smtps" => Mode::Implicit,
        "smtp+starttls" | "submission" => Mode::StartTls,
        "smtp" => Mode::None,
        _ => return Err(bad("unknown scheme; use smtp+starttls, smtps or smtp")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(bad(
            "only scheme://host[:port] is understood (no user, path or query)",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
        };
        (addr, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => parse_port(p)?,
        None => mode.default_port(),
    };
    Ok(Server {
        host: host.to_owned(),
        port,
        mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Command, UsageError> {
        parse(list.iter().map(OsString::from))
    }

    fn send(list: &[&str]) -> Args {
        match args(list) {
            Ok(Command::Send(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_pick_mode_and_default_port() {
        let s = |u| parse_url(u).unwrap();
        assert_eq!(s("smtps://mail.example.com").port, 465);
        assert_eq!(s("smtps://mail.example.com").mode, Mode::Implicit);
        assert_eq!(s("smtp+starttls://mail.example.com/").port, 587);
        assert_eq!(s("SMTP://relay:2525").mode, Mode::None);
        assert_eq!(s("smtp://relay:2525").port, 2525);
        let v6 = s("smtps://[::1]:1465");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1465));
        for bad in [
            "mail.example.com",
            "http://x",
            "smtps://",
            "smtps://host:0",
            "smtps://host:99999",
            "smtps://user@host",
            "smtps://host/path",
            "smtps://[::1",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_full_command_line() {
        let a = send(&[
            "--server=smtps://mail.example.com",
            "-f",
            "a@example.com",
            "--to",
            "b@example.com",
            "-t",
            "c@example.com",
            "-u",
            "a",
            "--password-env",
            "MY_PW",
            "--ca-file",
            "ca.pem",
            "-v",
            "--timeout",
            "5",
            "message.eml",
        ]);
        assert_eq!(a.server.unwrap().port, 465);
        assert_eq!(a.to, ["b@example.com", "c@example.com"]);
        assert_eq!(a.password_env, "MY_PW");
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert!(a.verbose);
        assert_eq!(a.message, Some(PathBuf::from("message.eml")));
    }

    #[test]
    fn host_port_and_tls_as_separate_options() {
        let a = send(&["--host", "h", "--tls", "implicit", "-f", "a@b", "-t", "c@d"]);
        assert_eq!(
            a.server,
            Some(Server {
                host: "h".into(),
                port: 465,
                mode: Mode::Implicit
            })
        );
        let a = send(&[
            "--host", "h", "--port", "2587", "-f", "a@b", "-t", "c@d", "-",
        ]);
        assert_eq!(a.server.unwrap().mode, Mode::StartTls);
        assert_eq!(a.message, Some(PathBuf::from("-")));
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &["--password", "hunter2"][..],
            &["--server", "smtps://h", "--host", "h"],
            &["--server", "smtps://h", "-t", "c@d"],
            &["--server", "smtps://h", "-f", "a@b"],
            &["--server", "smtps://h", "--port", "1"],
            &["--port", "25"],
            &["--tls", "maybe", "--host", "h"],
            &["--timeout", "0"],
            &["--from"],
            &["--bogus"],
            &["a.eml", "b.eml"],
            &[
                "-s",
                "smtps://h",
                "-f",
                "a@b",
                "-t",
                "c@d",
                "--allow-plaintext-auth",
            ],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
        // The refusal names the right option and does not repeat the password.
        let e = args(&["--password=hunter2"]).unwrap_err();
        assert!(
            e.0.contains("--password-env") && !e.0.contains("hunter2"),
            "{}",
            e.0
        );
    }

    #[test]
    fn no_server_is_the_demo() {
        let a = send(&[]);
        assert!(a.server.is_none());
        assert_eq!(args(&["-h"]), Ok(Command::Help));
    }
}
