//! [`Trace`]: a redacted, line-by-line view of the conversation, for `--verbose` output
//! and debugging.

use std::sync::Arc;

/// Who a [`Trace`] line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Direction {
    /// A line the client sent.
    Client,
    /// A line the server sent.
    Server,
    /// An event of the transport (TLS established, connection closed).
    Event,
}

/// A callback that receives the conversation line by line, without line ends, with
/// non-printable bytes escaped (`\r`, `\x00`, ...), and with secrets removed:
///
/// - `AUTH <mechanism> <initial response>` is shown as `AUTH <mechanism> <redacted>`;
/// - every line the client sends in answer to a `334` challenge is `<redacted>`;
/// - the message itself (between the `354` reply and the end-of-data line) is one line,
///   `<N octets of message data>`, followed by `.`; a BDAT chunk (RFC 3030) is shown as
///   its `BDAT n [LAST]` line and `<n octets of message data>`.
///
/// Lines longer than 1000 octets are cut, with `...` at the end.
#[derive(Clone)]
pub struct Trace(Arc<TraceFn>);

/// The callback behind a [`Trace`].
type TraceFn = dyn Fn(Direction, &str) + Send + Sync;

impl Trace {
    /// A trace that calls `f` for every line.
    pub fn new(f: impl Fn(Direction, &str) + Send + Sync + 'static) -> Self {
        Trace(Arc::new(f))
    }
}

impl core::fmt::Debug for Trace {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Trace(..)")
    }
}

const REDACTED: &str = "<redacted>";
/// Longest line kept in full.
const LINE_MAX: usize = 1000;

/// Splits both directions into lines and applies the redaction rules.
#[derive(Debug)]
pub(crate) struct Tracer {
    out: Trace,
    client: Vec<u8>,
    server: Vec<u8>,
    /// The last server line was a 334 challenge: the client's next line is a secret.
    challenge: bool,
    /// Between 354 and the end-of-data line: count the client's octets, show none.
    data: Option<u64>,
    /// Octets of the current BDAT chunk still to come, and the chunk size.
    chunk: (u64, u64),
}

impl Tracer {
    pub(crate) fn new(out: Trace) -> Self {
        Tracer {
            out,
            client: Vec::new(),
            server: Vec::new(),
            challenge: false,
            data: None,
            chunk: (0, 0),
        }
    }

    pub(crate) fn event(&self, text: &str) {
        (self.out.0)(Direction::Event, text);
    }

    /// Bytes the client wrote.
    pub(crate) fn client(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.chunk.0 > 0 {
                // Inside a BDAT chunk: count, show nothing.
                let n = usize::try_from(self.chunk.0).map_or(bytes.len(), |c| c.min(bytes.len()));
                bytes = &bytes[n..];
                self.chunk.0 -= n as u64;
                if self.chunk.0 == 0 {
                    let text = format!("<{} octets of message data>", self.chunk.1);
                    (self.out.0)(Direction::Client, &text);
                }
                continue;
            }
            let (line, rest, complete) = split_line(bytes);
            bytes = rest;
            if let Some(octets) = self.data.as_mut() {
                // Only the end-of-data line ends the message: a "." alone on a line.
                let at_line_start = self.client.is_empty();
                if complete && at_line_start && line == b".\r\n" {
                    let text = format!("<{octets} octets of message data>");
                    (self.out.0)(Direction::Client, &text);
                    (self.out.0)(Direction::Client, ".");
                    self.data = None;
                } else {
                    *octets += line.len() as u64;
                    // Remember only whether the line is unfinished.
                    self.client.clear();
                    if !complete {
                        self.client.push(0);
                    }
                }
                continue;
            }
            append(&mut self.client, line);
            if complete {
                let line = core::mem::take(&mut self.client);
                let text = if core::mem::take(&mut self.challenge) {
                    REDACTED.to_string()
                } else {
                    redact_auth(trim(&line))
                };
                (self.out.0)(Direction::Client, &text);
                if let Some(size) = bdat_size(trim(&line)) {
                    self.chunk = (size, size);
                }
            }
        }
    }

    /// Bytes the client read.
    pub(crate) fn server(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let (line, rest, complete) = split_line(bytes);
            bytes = rest;
            append(&mut self.server, line);
            if complete {
                let line = core::mem::take(&mut self.server);
                let line = trim(&line);
                self.challenge = line.starts_with(b"334");
                if line.starts_with(b"354") {
                    self.data = Some(0);
                    self.client.clear();
                }
                (self.out.0)(Direction::Server, &escape(line));
            }
        }
    }
}

/// The size of a `BDAT n [LAST]` line.
fn bdat_size(line: &[u8]) -> Option<u64> {
    let rest = line
        .get(..5)?
        .eq_ignore_ascii_case(b"BDAT ")
        .then(|| &line[5..])?;
    let digits = rest.split(|&b| b == b' ').next()?;
    core::str::from_utf8(digits).ok()?.parse().ok()
}

/// The first line of `bytes` (with its LF), the rest, and whether the line is complete.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8], bool) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..=i], &bytes[i + 1..], true),
        None => (bytes, &[], false),
    }
}

/// Append up to [`LINE_MAX`] octets (one more marks the line as cut).
fn append(buf: &mut Vec<u8>, bytes: &[u8]) {
    let room = (LINE_MAX + 1).saturating_sub(buf.len());
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// The line without its CRLF (or LF), cut to [`LINE_MAX`].
fn trim(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    &line[..line.len().min(LINE_MAX + 1)]
}

fn escape(line: &[u8]) -> String {
    if line.len() > LINE_MAX {
        format!("{}...", line[..LINE_MAX].escape_ascii())
    } else {
        line.escape_ascii().to_string()
    }
}

/// `AUTH <MECHANISM> <initial response>` becomes `AUTH <MECHANISM> <redacted>`.
fn redact_auth(line: &[u8]) -> String {
    if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"AUTH ") {
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        if let (Some(auth), Some(mechanism), Some(_)) = (words.next(), words.next(), words.next()) {
            return format!("{} {} {REDACTED}", escape(auth), escape(mechanism));
        }
    }
    escape(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn collect(f: impl FnOnce(&mut Tracer)) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let mut t = Tracer::new(Trace::new(move |d, s| {
            let tag = match d {
                Direction::Client => "C",
                Direction::Server => "S",
                Direction::Event => "*",
            };
            sink.lock().unwrap().push(format!("{tag}: {s}"));
        }));
        f(&mut t);
        let out = lines.lock().unwrap().clone();
        out
    }

    #[test]
    fn secrets_never_reach_the_trace() {
        // "alice\0alice\0hunter2" and its parts in base64.
        let lines = collect(|t| {
            t.server(b"250 AUTH PLAIN LOGIN\r\n");
            t.client(b"AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n");
            t.server(b"235 ok\r\n");
            t.client(b"AUTH LOGIN\r\n");
            t.server(b"334 VXNlcm5hbWU6\r\n");
            t.client(b"YWxp");
            t.client(b"Y2U=\r\n");
            t.server(b"334 UGFzc3dvcmQ6\r\n");
            t.client(b"aHVudGVyMg==\r\n");
            t.server(b"235 2.7.0 ok\r\n");
            t.client(b"MAIL FROM:<a@b.example>\r\n");
        });
        assert_eq!(
            lines,
            [
                "S: 250 AUTH PLAIN LOGIN",
                "C: AUTH PLAIN <redacted>",
                "S: 235 ok",
                "C: AUTH LOGIN",
                "S: 334 VXNlcm5hbWU6",
                "C: <redacted>",
                "S: 334 UGFzc3dvcmQ6",
                "C: <redacted>",
                "S: 235 2.7.0 ok",
                "C: MAIL FROM:<a@b.example>",
            ]
        );
        for l in &lines {
            assert!(!l.contains("aHVudGVy") && !l.contains("AGFsaWNl"), "{l}");
        }
    }

    /// RFC 4954 section 4: an initial response too long for the AUTH line follows the
    /// server's empty 334 on its own line; it is redacted like any answer to a 334.
    #[test]
    fn a_deferred_initial_response_is_redacted() {
        let lines = collect(|t| {
            t.client(b"AUTH XOAUTH2\r\n");
            t.server(b"334 \r\n");
            t.client(b"dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5Li4uAQE=\r\n");
            t.server(b"235 2.7.0 Accepted\r\n");
        });
        assert_eq!(
            lines,
            [
                "C: AUTH XOAUTH2",
                "S: 334 ",
                "C: <redacted>",
                "S: 235 2.7.0 Accepted"
            ]
        );
    }

    /// A reply's control bytes (NUL, ESC, DEL) and 8-bit bytes reach the trace escaped,
    /// never raw: a hostile server cannot drive the terminal or forge trace lines.
    #[test]
    fn control_bytes_from_the_server_are_escaped() {
        let lines = collect(|t| {
            t.server(b"550 5.1.1 no\0such\x1b[2Juser\x7f\xff\r\n");
        });
        assert_eq!(lines, ["S: 550 5.1.1 no\\x00such\\x1b[2Juser\\x7f\\xff"]);
        assert!(lines[0].bytes().all(|b| (0x20..0x7f).contains(&b)));
    }

    #[test]
    fn bdat_chunks_are_summarised() {
        let lines = collect(|t| {
            t.client(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 9 LAST\r\nSecret\r\n");
            t.client(b"!");
            t.client(b"BDAT 3\r\nab\nbdat 0 last\r\nQUIT\r\n");
        });
        assert_eq!(
            lines,
            [
                "C: MAIL FROM:<a@b>",
                "C: RCPT TO:<c@d>",
                "C: BDAT 9 LAST",
                "C: <9 octets of message data>",
                "C: BDAT 3",
                "C: <3 octets of message data>",
                "C: bdat 0 last",
                "C: QUIT",
            ]
        );
    }

    #[test]
    fn the_message_is_summarised_and_its_dot_lines_do_not_end_it() {
        let lines = collect(|t| {
            t.client(b"DATA\r\n");
            t.server(b"354 go\r\n");
            t.client(b"Subject: x\r\n\r\n..\r\n");
            t.client(b"a line cut in the mid");
            t.client(b"dle.\r\n");
            t.client(b"x\r\n.\r\n");
            t.server(b"250 queued\r\n");
            t.client(b"QUIT\r\n");
        });
        assert_eq!(
            lines,
            [
                "C: DATA",
                "S: 354 go",
                "C: <48 octets of message data>",
                "C: .",
                "S: 250 queued",
                "C: QUIT",
            ]
        );
    }

    #[test]
    fn hostile_lines_are_escaped_and_cut() {
        let long = vec![b'a'; 5000];
        let lines = collect(|t| {
            t.server(b"220 hi\x1b[31m\0\r\n");
            t.server(&long);
            t.server(b"\r\n");
        });
        assert_eq!(lines[0], "S: 220 hi\\x1b[31m\\x00");
        assert_eq!(lines[1].len(), "S: ".len() + LINE_MAX + 3);
        assert!(lines[1].ends_with("aaa..."));
    }
}
