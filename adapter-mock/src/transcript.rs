//! The record of a conversation and its redacted text rendering.

use crate::text::{escape, lines, strip_crlf};
use embedded_io_async::ErrorKind;

/// One entry of a [`MockHandle::transcript`](crate::MockHandle::transcript).
///
/// Consecutive bytes in the same direction are merged: a `Client` entry is everything
/// the client wrote between two reads (one flight), a `Server` entry everything it read
/// between two writes, however many calls it took.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Entry {
    /// Bytes the client wrote (and the script accepted).
    Client(Vec<u8>),
    /// Bytes the server sent and the client read.
    Server(Vec<u8>),
    /// A successful TLS upgrade.
    Upgrade,
    /// A TLS upgrade that failed as scripted.
    UpgradeFailed(ErrorKind),
    /// A read that failed as scripted.
    ReadError(ErrorKind),
    /// A write that failed as scripted.
    WriteError(ErrorKind),
    /// A read that returned end of stream.
    Eof,
    /// A scripted delay that the client waited out ([`Script::delay`](crate::Script::delay)).
    Delay(core::time::Duration),
    /// The client reached a scripted stall ([`Script::stall`](crate::Script::stall)).
    Stall,
    /// A read or write reported a count the client must refuse, as scripted
    /// ([`Script::write_zero`](crate::Script::write_zero) and the like).
    BadCount(&'static str),
}

const REDACTED: &str = "<redacted>";

/// Renders entries line by line, `C: ` for the client and `S: ` for the server, with
/// `***` marker lines for events, and AUTH secrets redacted.
pub(crate) fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    // The last server line was a 334 challenge: the client's next line is a secret.
    let mut challenge = false;
    for entry in entries {
        match entry {
            Entry::Client(bytes) => {
                for line in lines(bytes) {
                    let line = strip_crlf(line);
                    out.push_str("C: ");
                    if challenge {
                        out.push_str(REDACTED);
                        challenge = false;
                    } else {
                        out.push_str(&redact_auth(line));
                    }
                    out.push('\n');
                }
            }
            Entry::Server(bytes) => {
                for line in lines(bytes) {
                    let line = strip_crlf(line);
                    challenge = line.starts_with(b"334");
                    out.push_str("S: ");
                    out.push_str(&escape(line, false));
                    out.push('\n');
                }
            }
            Entry::Upgrade => out.push_str("*** TLS ***\n"),
            Entry::UpgradeFailed(kind) => {
                out.push_str(&format!("*** TLS upgrade failed: {kind:?} ***\n"));
            }
            Entry::ReadError(kind) => out.push_str(&format!("*** read error: {kind:?} ***\n")),
            Entry::WriteError(kind) => out.push_str(&format!("*** write error: {kind:?} ***\n")),
            Entry::BadCount(what) => out.push_str(&format!("*** {what} ***\n")),
            Entry::Eof => out.push_str("*** end of stream ***\n"),
            Entry::Delay(d) => out.push_str(&format!("*** silence for {d:?} ***\n")),
            Entry::Stall => out.push_str("*** silence from here on ***\n"),
        }
    }
    out
}

/// `AUTH <MECHANISM> <initial response>` becomes `AUTH <MECHANISM> <redacted>`; any
/// other line is only escaped.
fn redact_auth(line: &[u8]) -> String {
    let is_auth = line.len() > 5 && line[..5].eq_ignore_ascii_case(b"AUTH ");
    if is_auth {
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        if let (Some(auth), Some(mechanism), Some(_)) = (words.next(), words.next(), words.next()) {
            return format!(
                "{} {} {REDACTED}",
                escape(auth, false),
                escape(mechanism, false)
            );
        }
    }
    escape(line, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_initial_responses_only() {
        assert_eq!(
            redact_auth(b"AUTH PLAIN AHVzZXIAcGFzcw=="),
            "AUTH PLAIN <redacted>"
        );
        assert_eq!(
            redact_auth(b"auth  xoauth2 dXNlcj0="),
            "auth xoauth2 <redacted>"
        );
        assert_eq!(redact_auth(b"AUTH LOGIN"), "AUTH LOGIN");
        assert_eq!(redact_auth(b"AUTHOR x y"), "AUTHOR x y");
        assert_eq!(redact_auth(b"MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");
    }

    #[test]
    fn renders_events_and_line_ends() {
        let text = render(&[
            Entry::Server(b"220 hi\r\n".to_vec()),
            Entry::Client(b"EHLO x\r\nbare\npartial".to_vec()),
            Entry::Upgrade,
            Entry::UpgradeFailed(ErrorKind::Other),
            Entry::ReadError(ErrorKind::ConnectionReset),
            Entry::WriteError(ErrorKind::BrokenPipe),
            Entry::Eof,
            Entry::Delay(core::time::Duration::from_secs(240)),
            Entry::Stall,
        ]);
        assert_eq!(
            text,
            "S: 220 hi\nC: EHLO x\nC: bare\\n\nC: partial\n*** TLS ***\n\
             *** TLS upgrade failed: Other ***\n*** read error: ConnectionReset ***\n\
             *** write error: BrokenPipe ***\n*** end of stream ***\n\
             *** silence for 240s ***\n*** silence from here on ***\n"
        );
    }
}
