//! Server replies (RFC 5321 section 4.2): framing, parsing and folding of multi-line
//! replies.
//!
//! The parser works on `&[u8]`, never `&str`, and owns no buffer. [`ReplyParser::step`]
//! takes the bytes received so far and answers with one complete line (and how many bytes
//! it used), with "need more bytes", or with an error. A multi-line reply is folded line
//! by line as it arrives, so no buffer ever has to hold a whole EHLO reply.
//!
//! Rules enforced (each is a [`MalformedReply`] error):
//! - every line ends in CRLF; a bare CR or bare LF inside a line is refused;
//! - a line is at most `max_line` octets including CRLF;
//! - a reply has at most `max_lines` lines;
//! - each line starts with a three-digit code whose first digit is 2, 3, 4 or 5, followed
//!   by a space, a `-` (more lines follow) or directly by CRLF (`250` alone is accepted);
//! - every line of a multi-line reply carries the same code.
//!
//! The text after the code is not held to RFC 5321's `textstring` (printable ASCII, SP
//! and HT): servers send 8-bit text, and control bytes, NUL included, say nothing about
//! the reply's meaning, which is in its code. The text is kept as bytes here and reaches
//! the caller only through [`ReplyText`], which replaces every byte outside printable
//! ASCII with `?`: no control byte of a reply reaches an error, a `Display` or a log
//! unescaped. (NUL is not singled out: refusing it would make a whole reply, say the
//! verdict on a message already sent, fatal for one byte of its human-readable text.)
//!
//! The result never depends on how the bytes were split across reads: a line is only
//! parsed once its CRLF has arrived.
//!
//! This module never panics.

use crate::error::MalformedReply;
use nom::bytes::complete::take_while_m_n;
use nom::combinator::eof;
use nom::{IResult, Parser};

/// A reply code from 200 to 599 (RFC 5321 section 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// `220` Service ready.
    pub const SERVICE_READY: ReplyCode = ReplyCode(220);
    /// `221` Service closing transmission channel.
    pub const CLOSING: ReplyCode = ReplyCode(221);
    /// `235` Authentication succeeded (RFC 4954).
    pub const AUTH_SUCCEEDED: ReplyCode = ReplyCode(235);
    /// `250` Requested mail action okay, completed.
    pub const OK: ReplyCode = ReplyCode(250);
    /// `334` AUTH challenge (RFC 4954).
    pub const AUTH_CHALLENGE: ReplyCode = ReplyCode(334);
    /// `354` Start mail input.
    pub const START_MAIL_INPUT: ReplyCode = ReplyCode(354);
    /// `421` Service not available, closing transmission channel.
    pub const SERVICE_UNAVAILABLE: ReplyCode = ReplyCode(421);

    /// A code, if it lies in 200..=599.
    pub const fn new(code: u16) -> Option<ReplyCode> {
        if code >= 200 && code <= 599 {
            Some(ReplyCode(code))
        } else {
            None
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2, 3, 4 or 5.
    pub const fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// 2xx: the command succeeded.
    pub const fn is_positive_completion(self) -> bool {
        self.class() == 2
    }

    /// 3xx: the command was accepted and more input is expected.
    pub const fn is_positive_intermediate(self) -> bool {
        self.class() == 3
    }

    /// 4xx: transient failure.
    pub const fn is_transient_negative(self) -> bool {
        self.class() == 4
    }

    /// 5xx: permanent failure.
    pub const fn is_permanent_negative(self) -> bool {
        self.class() == 5
    }

    /// 4xx or 5xx.
    pub const fn is_negative(self) -> bool {
        self.class() >= 4
    }
}

impl core::fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An RFC 3463 enhanced status code (`class.subject.detail`, for example `5.1.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EnhancedStatus {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject (0-999).
    pub subject: u16,
    /// The detail (0-999).
    pub detail: u16,
}

impl core::fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One parsed reply line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// The reply code.
    pub code: ReplyCode,
    /// `true` for the last line of the reply (separator space or nothing).
    pub last: bool,
    /// The enhanced status code at the start of the text, if any and if its class matches
    /// the reply code's class.
    pub enhanced: Option<EnhancedStatus>,
    /// The text after the code (and after the enhanced status code, if any), without CRLF.
    /// Arbitrary bytes except CR and LF (NUL and other control bytes included): not
    /// necessarily UTF-8. Show it through [`ReplyText`], never raw.
    pub text: &'a [u8],
}

/// The result of one [`ReplyParser::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// No complete line yet: read more bytes and call again with all unconsumed bytes.
    NeedMore,
    /// One complete line.
    Line {
        /// Bytes of the input this line used, CRLF included. Drop them before the next
        /// call.
        consumed: usize,
        /// The parsed line.
        line: ReplyLine<'a>,
        /// `true` when this line completed the reply.
        complete: bool,
    },
}

/// Default limit on the number of lines in one reply.
pub const DEFAULT_MAX_LINES: usize = 128;

/// Minimum line limit: RFC 5321 section 4.5.3.1.5 allows reply lines of 512 octets.
pub const MIN_LINE_LIMIT: usize = 512;

/// A push parser for replies: frames lines, parses them and checks that the lines of a
/// multi-line reply agree. Keeps only the code of the reply in progress and a line count.
#[derive(Debug, Clone)]
pub struct ReplyParser {
    max_line: usize,
    max_lines: usize,
    code: Option<ReplyCode>,
    lines: usize,
}

impl ReplyParser {
    /// A parser that accepts lines of up to `max_line` octets (CRLF included; raised to
    /// [`MIN_LINE_LIMIT`] if smaller) and replies of up to `max_lines` lines.
    pub const fn new(max_line: usize, max_lines: usize) -> Self {
        ReplyParser {
            max_line: if max_line < MIN_LINE_LIMIT {
                MIN_LINE_LIMIT
            } else {
                max_line
            },
            max_lines: if max_lines == 0 { 1 } else { max_lines },
            code: None,
            lines: 0,
        }
    }

    /// Whether a reply has started but not yet completed.
    pub const fn in_reply(&self) -> bool {
        self.code.is_some()
    }

    /// Forget the reply in progress.
    pub fn reset(&mut self) {
        self.code = None;
        self.lines = 0;
    }

    /// Try to take one line from `buf`.
    ///
    /// On error the parser's state is unspecified and the connection should be abandoned.
    pub fn step<'a>(&mut self, buf: &'a [u8]) -> Result<Step<'a>, MalformedReply> {
        let Some(len) = frame_line(buf, self.max_line)? else {
            return Ok(Step::NeedMore);
        };
        let line = parse_line(&buf[..len])?;
        match self.code {
            Some(code) if code != line.code => return Err(MalformedReply::MixedCodes),
            _ => {}
        }
        self.lines += 1;
        if self.lines > self.max_lines {
            return Err(MalformedReply::TooManyLines {
                limit: self.max_lines,
            });
        }
        let complete = line.last;
        if complete {
            self.reset();
        } else {
            self.code = Some(line.code);
        }
        Ok(Step::Line {
            consumed: len + 2,
            line,
            complete,
        })
    }
}

/// Find the end of the first line in `buf`: the length of the line without its CRLF, or
/// `None` when more bytes are needed.
fn frame_line(buf: &[u8], max_line: usize) -> Result<Option<usize>, MalformedReply> {
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'\n' => {
                // A LF must be preceded by CR, and that CR handled below.
                return Err(MalformedReply::BadLineEnding);
            }
            b'\r' => {
                if i + 2 > max_line {
                    return Err(MalformedReply::LineTooLong { limit: max_line });
                }
                return match buf.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err(MalformedReply::BadLineEnding),
                };
            }
            _ => {}
        }
        if i + 1 >= max_line {
            return Err(MalformedReply::LineTooLong { limit: max_line });
        }
    }
    Ok(None)
}

/// Parser results; the error carries nothing (every failure maps to one
/// [`MalformedReply`] variant, or to "no enhanced status code").
type Res<'a, T> = IResult<&'a [u8], T, ()>;

/// `min` to `max` bytes matching `pred`. One instance of the nom parser serves every
/// byte class (a function pointer, not a closure type per use).
fn span(input: &[u8], min: usize, max: usize, pred: fn(u8) -> bool) -> Res<'_, &[u8]> {
    take_while_m_n(min, max, pred).parse(input)
}

/// `min` to `max` (at most three) ASCII digits, as a number: cannot overflow `u16`.
fn number(input: &[u8], min: usize, max: usize) -> Res<'_, u16> {
    let (rest, digits) = span(input, min, max, |b| b.is_ascii_digit())?;
    let n = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    Ok((rest, n))
}

/// The reply code and whether a `-` follows it (more lines to come); a space or the end
/// of the line may follow instead.
fn code_and_separator(input: &[u8]) -> Res<'_, (u16, bool)> {
    let (rest, code) = number(input, 3, 3)?;
    let (rest, sep) = span(rest, 0, 1, |b| b == b' ' || b == b'-')?;
    if sep.is_empty() {
        eof(rest)?;
    }
    Ok((rest, (code, sep == b"-")))
}

fn enhanced_status(input: &[u8]) -> Res<'_, EnhancedStatus> {
    let (rest, class) = number(input, 1, 1)?;
    let (rest, _) = span(rest, 1, 1, |b| b == b'.')?;
    let (rest, subject) = number(rest, 1, 3)?;
    let (rest, _) = span(rest, 1, 1, |b| b == b'.')?;
    let (rest, detail) = number(rest, 1, 3)?;
    // At least one space, or the end of the line.
    let (rest, spaces) = span(rest, 0, usize::MAX, |b| b == b' ')?;
    if spaces.is_empty() {
        eof(rest)?;
    }
    if !matches!(class, 2 | 4 | 5) {
        return Err(nom::Err::Error(()));
    }
    Ok((
        rest,
        EnhancedStatus {
            class: class as u8,
            subject,
            detail,
        },
    ))
}

/// Parse one reply line, given without its CRLF.
///
/// ```
/// use wasm_smtp_core::reply::parse_line;
/// # fn main() -> Result<(), wasm_smtp_core::error::MalformedReply> {
/// let line = parse_line(b"550-5.1.1 No such user")?;
/// assert_eq!(line.code.get(), 550);
/// assert!(!line.last);
/// assert_eq!(line.enhanced.map(|e| e.to_string()).as_deref(), Some("5.1.1"));
/// assert_eq!(line.text, b"No such user");
/// # Ok(())
/// # }
/// ```
pub fn parse_line(line: &[u8]) -> Result<ReplyLine<'_>, MalformedReply> {
    let (text, (code, more)) = code_and_separator(line).map_err(|_| MalformedReply::BadCode)?;
    let code = ReplyCode::new(code).ok_or(MalformedReply::CodeOutOfRange)?;
    let last = !more;
    let (text, enhanced) = match enhanced_status(text) {
        Ok((rest, e)) if e.class == code.class() => (rest, Some(e)),
        _ => (text, None),
    };
    Ok(ReplyLine {
        code,
        last,
        enhanced,
        text,
    })
}

/// Capacity of [`ReplyText`].
pub const REPLY_TEXT_CAPACITY: usize = 80;

/// A bounded, printable copy of a reply's text (the first line, or the line that carried
/// the verdict), kept for the caller: for example the queue id in `250 2.0.0 Ok: queued
/// as 4F2A1`. Bytes outside printable ASCII are replaced by `?`; longer text is cut.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReplyText(heapless::Vec<u8, REPLY_TEXT_CAPACITY>);

impl ReplyText {
    /// Copy and sanitize `text`.
    pub fn new(text: &[u8]) -> Self {
        let mut v = heapless::Vec::new();
        for &b in text.iter().take(REPLY_TEXT_CAPACITY) {
            let c = if (0x20..0x7f).contains(&b) { b } else { b'?' };
            // Cannot fail: at most REPLY_TEXT_CAPACITY bytes are taken.
            let _ = v.push(c);
        }
        ReplyText(v)
    }

    /// The text as a string (always printable ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl core::fmt::Debug for ReplyText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for ReplyText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ReplyText {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

/// A complete reply, summarized: its code, the enhanced status code of its first line and
/// a bounded copy of that line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reply {
    /// The reply code.
    pub code: ReplyCode,
    /// The enhanced status code, when present.
    pub enhanced: Option<EnhancedStatus>,
    /// The (sanitized, bounded) text of the first line.
    pub text: ReplyText,
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn all_lines(input: &[u8]) -> Result<Vec<(u16, bool, Vec<u8>)>, MalformedReply> {
        let mut p = ReplyParser::new(512, 8);
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            match p.step(&input[pos..])? {
                Step::NeedMore => return Ok(out),
                Step::Line { consumed, line, .. } => {
                    out.push((line.code.get(), line.last, line.text.to_vec()));
                    pos += consumed;
                }
            }
        }
    }

    #[test]
    fn table() {
        let ok: &[(&[u8], u16, bool, &[u8])] = &[
            (b"250 OK\r\n", 250, true, b"OK"),
            // Control bytes, NUL included, are text (shown to callers as `?`).
            (b"250 O\0K\x1b\r\n", 250, true, b"O\0K\x1b"),
            (b"250\r\n", 250, true, b""),
            (b"250 \r\n", 250, true, b""),
            (b"250-\r\n", 250, false, b""),
            (
                b"220-mx.example.com ESMTP\r\n",
                220,
                false,
                b"mx.example.com ESMTP",
            ),
            (b"599 x\r\n", 599, true, b"x"),
            (b"200 x\r\n", 200, true, b"x"),
            (b"550 \xff\xfe bytes\r\n", 550, true, b"\xff\xfe bytes"),
        ];
        for (input, code, last, text) in ok {
            let lines = all_lines(input).unwrap();
            assert_eq!(lines, [(*code, *last, text.to_vec())], "{input:?}");
        }
        let bad: &[(&[u8], MalformedReply)] = &[
            (b"25 OK\r\n", MalformedReply::BadCode),
            (b"2500 OK\r\n", MalformedReply::BadCode),
            (b"250_OK\r\n", MalformedReply::BadCode),
            (b"abc OK\r\n", MalformedReply::BadCode),
            (b"\r\n", MalformedReply::BadCode),
            (b"150 OK\r\n", MalformedReply::CodeOutOfRange),
            (b"600 OK\r\n", MalformedReply::CodeOutOfRange),
            (b"099 OK\r\n", MalformedReply::CodeOutOfRange),
            (b"250 O\nK\r\n", MalformedReply::BadLineEnding),
            (b"250 O\rK\r\n", MalformedReply::BadLineEnding),
            (b"250 OK\n", MalformedReply::BadLineEnding),
            (b"250-a\r\n251 b\r\n", MalformedReply::MixedCodes),
        ];
        for (input, err) in bad {
            assert_eq!(all_lines(input), Err(*err), "{input:?}");
        }
    }

    #[test]
    fn enhanced_codes() {
        let l = parse_line(b"250 2.1.0 Sender ok").unwrap();
        assert_eq!(
            l.enhanced,
            Some(EnhancedStatus {
                class: 2,
                subject: 1,
                detail: 0
            })
        );
        assert_eq!(l.text, b"Sender ok");
        let l = parse_line(b"451 4.7.650 Throttled").unwrap();
        assert_eq!(l.enhanced.unwrap().detail, 650);
        // class must match the reply code
        let l = parse_line(b"250 5.1.1 odd").unwrap();
        assert_eq!(l.enhanced, None);
        assert_eq!(l.text, b"5.1.1 odd");
        // not an enhanced code: too many digits, or glued to text
        assert_eq!(parse_line(b"250 2.1.0000 x").unwrap().enhanced, None);
        assert_eq!(parse_line(b"250 2.1.0x").unwrap().enhanced, None);
        assert_eq!(
            parse_line(b"250 2.1.0").unwrap().enhanced.unwrap().subject,
            1
        );
        assert_eq!(parse_line(b"250 1.2.3").unwrap().enhanced, None);
    }

    #[test]
    fn line_length_cap() {
        let mut long = Vec::from(&b"250 "[..]);
        long.resize(510, b'a');
        long.extend_from_slice(b"\r\n");
        assert_eq!(long.len(), 512);
        assert_eq!(all_lines(&long).unwrap().len(), 1);
        let mut longer = Vec::from(&b"250 "[..]);
        longer.resize(511, b'a');
        longer.extend_from_slice(b"\r\n");
        assert_eq!(
            all_lines(&longer),
            Err(MalformedReply::LineTooLong { limit: 512 })
        );
        // Detected without waiting for the end of the line.
        let endless = [b'a'; 600];
        let mut p = ReplyParser::new(512, 8);
        assert_eq!(
            p.step(&endless),
            Err(MalformedReply::LineTooLong { limit: 512 })
        );
    }

    #[test]
    fn lines_per_reply_cap() {
        let mut input = Vec::new();
        for _ in 0..8 {
            input.extend_from_slice(b"250-x\r\n");
        }
        assert_eq!(all_lines(&input).unwrap().len(), 8);
        input.extend_from_slice(b"250 x\r\n");
        assert_eq!(
            all_lines(&input),
            Err(MalformedReply::TooManyLines { limit: 8 })
        );
    }

    #[test]
    fn any_split_gives_same_result() {
        let input: &[u8] =
            b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 2.0.0 OK\r\n354 go\r\n";
        let whole = all_lines(input).unwrap();
        for split in 0..=input.len() {
            // Feed the first part, then everything: the parser must wait for complete
            // lines and give the same lines.
            let mut p = ReplyParser::new(512, 8);
            let mut out = Vec::new();
            let mut buf: Vec<u8> = input[..split].to_vec();
            let mut fed = split;
            loop {
                match p.step(&buf).unwrap() {
                    Step::NeedMore => {
                        if fed == input.len() {
                            break;
                        }
                        buf.extend_from_slice(&input[fed..]);
                        fed = input.len();
                    }
                    Step::Line { consumed, line, .. } => {
                        out.push((line.code.get(), line.last, line.text.to_vec()));
                        buf.drain(..consumed);
                    }
                }
            }
            assert_eq!(out, whole, "split at {split}");
        }
        // CR at the very end waits for its LF.
        let mut p = ReplyParser::new(512, 8);
        assert_eq!(p.step(b"250 OK\r"), Ok(Step::NeedMore));
    }

    #[test]
    fn reply_text_is_sanitized_and_bounded() {
        let t = ReplyText::new(b"queued \x1b[31m as \xff");
        assert_eq!(t.as_str(), "queued ?[31m as ?");
        let long = [b'x'; 200];
        assert_eq!(ReplyText::new(&long).as_str().len(), REPLY_TEXT_CAPACITY);
    }
}
