//! Inputs shared by the wasm-smtp benchmarks (`benches/reply_parser.rs`,
//! `benches/data_encoder.rs`).
//!
//! Everything here is deterministic: the same bytes on every run and every machine, so
//! figures from different runs compare.

use wasm_smtp_core::reply::{ReplyParser, Step, DEFAULT_MAX_LINES};

/// A typical single-line reply (a RCPT TO answer with an enhanced status code).
pub const SINGLE_LINE_REPLY: &[u8] = b"250 2.1.5 Recipient <bob@example.org> ok\r\n";

/// A typical 12-line EHLO reply, as a large mail provider sends it.
pub const EHLO_REPLY: &[u8] = b"250-mx.example.org at your service, [192.0.2.17]\r\n\
250-SIZE 35882577\r\n\
250-8BITMIME\r\n\
250-STARTTLS\r\n\
250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-PIPELINING\r\n\
250-CHUNKING\r\n\
250-SMTPUTF8\r\n\
250-DSN\r\n\
250-BINARYMIME\r\n\
250 DELIVERBY 3600\r\n";

/// The greeting that precedes [`EHLO_REPLY`] in a session.
pub const GREETING: &[u8] = b"220 mx.example.org ESMTP ready\r\n";

/// One mail transaction's worth of replies as a server sends them: greeting, EHLO,
/// MAIL, three RCPT (one refused), DATA, the end-of-data verdict, RSET and QUIT.
const TRANSACTION: &[&[u8]] = &[
    b"220-mx.example.org ESMTP ready\r\n220-No UCE.\r\n220 Go ahead\r\n",
    EHLO_REPLY,
    b"250 2.1.0 Sender <alice@example.com> ok\r\n",
    b"250 2.1.5 Recipient <bob@example.org> ok\r\n",
    b"550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n\
550-5.1.1 double-checking the recipient's email address for typos or\r\n\
550 5.1.1 unnecessary spaces. For more information, go to the help pages.\r\n",
    b"250 2.1.5 Recipient <carol@example.org> ok\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 4F2A1C0D3E\r\n",
    b"250 2.0.0 Ok\r\n",
    b"221 2.0.0 Bye\r\n",
];

/// Number of replies in one transaction of [`reply_stream`].
pub const REPLIES_PER_TRANSACTION: usize = TRANSACTION.len();

/// Number of reply lines in one transaction of [`reply_stream`].
pub const LINES_PER_TRANSACTION: usize = 25;

/// A long stream of replies: `transactions` copies of one mail transaction's replies
/// ([`REPLIES_PER_TRANSACTION`] replies, [`LINES_PER_TRANSACTION`] lines each), back to back.
pub fn reply_stream(transactions: usize) -> Vec<u8> {
    let one: Vec<u8> = TRANSACTION.concat();
    one.repeat(transactions)
}

/// Parse every line of `input` with a fresh [`ReplyParser`]; returns `(lines, replies)`,
/// or `None` on a parse error or trailing partial line. Used by the benches' self-checks
/// and by the benchmark loop itself.
pub fn count_lines(input: &[u8]) -> Option<(usize, usize)> {
    let mut parser = ReplyParser::new(512, DEFAULT_MAX_LINES);
    let mut pos = 0;
    let mut lines = 0;
    let mut replies = 0;
    loop {
        match parser.step(&input[pos..]).ok()? {
            Step::NeedMore => return (pos == input.len()).then_some((lines, replies)),
            Step::Line {
                consumed, complete, ..
            } => {
                pos += consumed;
                lines += 1;
                replies += usize::from(complete);
            }
        }
    }
}

/// Line endings of a generated body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eol {
    /// `\r\n`, what a well-behaved client hands over.
    Crlf,
    /// `\n`, what a Unix program writes.
    Lf,
}

/// One MiB: the size of the DATA bodies.
pub const MIB: usize = 1 << 20;

/// Small xorshift64 generator: deterministic filler without a `rand` dependency.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed (zero is replaced).
    pub const fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // Modulo bias is irrelevant for filler text.
        (self.next_u64() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "message",
    "delivery",
    "server",
    "meeting",
    "Tuesday",
    "report",
    "attached",
    "please",
    "regards",
    "quarterly",
    "numbers",
    "schedule",
    "example.org",
    "1.5",
    "2026-05-19",
];

/// A mail message of exactly `size` bytes: a header block, then paragraphs of typical
/// text wrapped at 72 columns, with `eol` line endings. Dots only where prose puts them
/// (never at the start of a line).
pub fn text_body(size: usize, eol: Eol) -> Vec<u8> {
    let nl: &[u8] = match eol {
        Eol::Crlf => b"\r\n",
        Eol::Lf => b"\n",
    };
    let mut out = Vec::with_capacity(size + 128);
    for h in [
        "From: Alice <alice@example.com>",
        "To: Bob <bob@example.org>",
        "Subject: Quarterly numbers",
        "Date: Tue, 19 May 2026 10:00:00 +0000",
        "Message-ID: <4F2A1C0D3E@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
    ] {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(nl);
    }
    let mut rng = XorShift::new(0x5eed_0001);
    let mut col = 0;
    while out.len() < size {
        let word = WORDS[rng.below(WORDS.len())].as_bytes();
        if col + 1 + word.len() > 72 {
            out.extend_from_slice(nl);
            col = 0;
            if rng.below(6) == 0 {
                // Paragraph break.
                out.extend_from_slice(nl);
            }
        }
        if col > 0 {
            out.push(b' ');
            col += 1;
        }
        out.extend_from_slice(word);
        col += word.len();
        if rng.below(12) == 0 {
            out.push(b'.');
            col += 1;
        }
    }
    out.truncate(size);
    out
}

/// A body of exactly `size` bytes where every line starts with a dot (the worst case for
/// dot-stuffing): `.`, `..`, `.hidden`, `. a sentence`, CRLF line endings.
pub fn dotted_body(size: usize) -> Vec<u8> {
    const LINES: &[&[u8]] = &[
        b".",
        b"..",
        b".hidden file",
        b". a sentence that starts with a dot, as quoted text sometimes does",
        b"...",
        b".\tindented",
    ];
    let mut out = Vec::with_capacity(size + 128);
    let mut i = 0;
    while out.len() < size {
        out.extend_from_slice(LINES[i % LINES.len()]);
        out.extend_from_slice(b"\r\n");
        i += 1;
    }
    out.truncate(size);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_as_expected() {
        assert_eq!(count_lines(SINGLE_LINE_REPLY), Some((1, 1)));
        assert_eq!(count_lines(EHLO_REPLY), Some((12, 1)));
        let stream = reply_stream(100);
        let (lines, replies) = count_lines(&stream).unwrap();
        assert_eq!(replies, 100 * REPLIES_PER_TRANSACTION);
        assert_eq!(lines, 100 * LINES_PER_TRANSACTION);
    }

    #[test]
    fn bodies_have_the_promised_shape() {
        let crlf = text_body(MIB, Eol::Crlf);
        let lf = text_body(MIB, Eol::Lf);
        let dots = dotted_body(MIB);
        assert!([crlf.len(), lf.len(), dots.len()].iter().all(|&n| n == MIB));
        assert!(!lf.contains(&b'\r'));
        assert!(crlf.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'));
        // No line of the text bodies starts with a dot; every line of the dotted one does.
        assert!(!crlf.windows(2).any(|w| w == b"\n."));
        assert!(!lf.windows(2).any(|w| w == b"\n."));
        assert!(dots
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .all(|l| l[0] == b'.'));
    }
}
