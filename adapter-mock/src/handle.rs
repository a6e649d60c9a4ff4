//! The test's view of a transport the client owns.

use crate::mock::{lock, Shared};
use crate::transcript::{render, Entry};

/// How many transcript lines [`MockHandle::assert_done`] shows.
const PANIC_TRANSCRIPT_LINES: usize = 30;

/// The test's handle on a [`MockTransport`](crate::MockTransport), usable after the client
/// took ownership of the transport, or dropped it.
///
/// Cloning a handle gives another view of the same transport.
///
/// [`Display`](core::fmt::Display) renders the redacted
/// [`transcript_text`](MockHandle::transcript_text).
#[derive(Clone)]
pub struct MockHandle {
    shared: Shared,
}

impl MockHandle {
    pub(crate) fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The message of the first mismatch between the client and the script, if any.
    ///
    /// Messages name the step (numbered from 1, with the helper that added it), what
    /// was expected and what the client did, bytes shown escaped, for example
    /// `step 2 (client write, from .ehlo("client.example.com")): byte 0 differs:
    /// expected "EHLO client.example.com\r\n", got "HELO client.example.com\r\n"`.
    /// Byte offsets count from 0 within the step.
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared).run.failure.clone()
    }

    /// `Ok(())` if no mismatch happened and every step of the script was consumed;
    /// otherwise the first mismatch message, or a message naming the next step.
    pub fn finish(&self) -> Result<(), String> {
        let state = lock(&self.shared);
        state.run.finish(&state.steps)
    }

    /// Whether [`finish`](MockHandle::finish) would return `Ok`.
    pub fn is_done(&self) -> bool {
        self.finish().is_ok()
    }

    /// Asserts that the conversation followed the script to its end.
    ///
    /// # Panics
    /// With the message of [`finish`](MockHandle::finish) followed by the end of the
    /// redacted transcript, if a mismatch happened or steps remain.
    #[track_caller]
    pub fn assert_done(&self) {
        if let Err(message) = self.finish() {
            let text = self.transcript_text();
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(PANIC_TRANSCRIPT_LINES);
            let mut report = format!("mock transport: {message}\n\ntranscript");
            if skip > 0 {
                report.push_str(&format!(" (last {PANIC_TRANSCRIPT_LINES} lines)"));
            }
            report.push_str(":\n");
            for line in &lines[skip..] {
                report.push_str("    ");
                report.push_str(line);
                report.push('\n');
            }
            // Panicking is the purpose of this assertion helper.
            #[allow(clippy::panic)]
            {
                panic!("{report}");
            }
        }
    }

    /// The number of script steps not consumed yet (a partly consumed step counts).
    pub fn remaining_steps(&self) -> usize {
        let state = lock(&self.shared);
        state.steps.len().saturating_sub(state.run.pos)
    }

    /// All bytes the client wrote that the script accepted, in order.
    pub fn written(&self) -> Vec<u8> {
        lock(&self.shared).run.written.clone()
    }

    /// The bytes the client tried to write after the first mismatch (empty when the
    /// client stopped writing, as it should once its transport fails).
    pub fn writes_after_failure(&self) -> Vec<u8> {
        lock(&self.shared).run.writes_after_failure.clone()
    }

    /// The conversation so far, with consecutive bytes in one direction merged.
    pub fn transcript(&self) -> Vec<Entry> {
        lock(&self.shared).run.transcript.clone()
    }

    /// The conversation as text, one line per protocol line:
    ///
    /// ```text
    /// S: 220 mx.example.com ESMTP ready
    /// C: EHLO client.example.com
    /// S: 250-mx.example.com
    /// S: 250 STARTTLS
    /// C: STARTTLS
    /// S: 220 2.0.0 Ready to start TLS
    /// *** TLS ***
    /// C: AUTH PLAIN <redacted>
    /// ```
    ///
    /// CRLF line ends are dropped; other control bytes and invalid UTF-8 are escaped
    /// (`\n`, `\x00`). AUTH secrets are redacted, so the text is safe to print: a client
    /// line starting with `AUTH ` (any case) shows only `AUTH <MECHANISM> <redacted>`
    /// when it carries an initial response, and a client line sent right after a 334
    /// server line shows `<redacted>`. Events appear as `*** TLS ***`,
    /// `*** TLS upgrade failed: <kind> ***`, `*** read error: <kind> ***`,
    /// `*** write error: <kind> ***` and `*** end of stream ***`.
    pub fn transcript_text(&self) -> String {
        render(&lock(&self.shared).run.transcript)
    }

    /// The number of times the client waited for the server: reads that consumed server
    /// data (or a scripted read error or end of stream) after the client had written
    /// since its previous read. A pipelined flight of commands followed by reading all
    /// their replies is one round trip; reading the greeting is none.
    pub fn round_trips(&self) -> usize {
        lock(&self.shared).run.round_trips
    }

    /// The number of `read` calls the client made.
    pub fn read_calls(&self) -> usize {
        lock(&self.shared).run.read_calls
    }

    /// The number of `write` calls the client made.
    pub fn write_calls(&self) -> usize {
        lock(&self.shared).run.write_calls
    }

    /// What the transport currently reports from
    /// [`is_encrypted`](wasm_smtp_core::Transport::is_encrypted).
    pub fn is_encrypted(&self) -> bool {
        lock(&self.shared).run.is_encrypted()
    }

    /// How many times the client called
    /// [`Transport::close`](wasm_smtp_core::Transport::close) (an SMTP client closes the
    /// connection once, after QUIT).
    pub fn close_calls(&self) -> usize {
        lock(&self.shared).run.close_calls
    }
}

impl core::fmt::Display for MockHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.transcript_text())
    }
}

impl core::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = lock(&self.shared);
        f.debug_struct("MockHandle")
            .field("steps", &state.steps.len())
            .field("position", &state.run.pos)
            .field("failure", &state.run.failure)
            .finish_non_exhaustive()
    }
}
