//! The DATA encoder (RFC 5321 sections 4.1.1.4 and 4.5.2): a streaming transform from a
//! message to the bytes sent after the 354 reply.
//!
//! - Every line ending becomes CRLF: CRLF stays, a bare LF and a bare CR each become
//!   CRLF. No bare CR or LF ever reaches the wire, which closes the "SMTP smuggling"
//!   class of attacks (a `\n.\n` or `\r.\r` inside a body that one server reads as the
//!   end of data and another does not).
//! - A dot at the start of a line is doubled (dot-stuffing).
//! - [`DataEncoder::finish`] ends the last line if the body did not, then writes the
//!   terminating `.` CRLF, exactly once.
//!
//! The state carried between calls is where the current line stands (a pending CR,
//! mid-line or not, its length so far), so input may be split at any byte (including
//! between a CR and its LF) and the output is identical for every split.
//!
//! The same encoder serves BDAT (RFC 3030) in [chunked mode](DataEncoder::chunked):
//! line endings are normalized exactly as for DATA, but no dot is doubled and
//! [`DataEncoder::finish`] only ends the last line (BDAT has no terminator line).
//! [`message_size`] tells in advance how many octets chunked mode produces for a whole
//! message: the size announced by `BDAT n LAST` and by the `SIZE=` parameter (RFC 1870
//! section 3 counts the message with CRLF line endings, without dot-stuffing and without
//! the terminator).
//!
//! This module never panics.

/// Longest output of [`DataEncoder::finish`]: CRLF (ending the last line) + `.` CRLF.
pub const FINISH_MAX: usize = 5;

/// Streaming DATA encoder. See the [module documentation](self).
///
/// ```
/// use wasm_smtp_core::data::DataEncoder;
/// let mut enc = DataEncoder::new();
/// let mut out = [0xa5u8; 64];
/// let (used, n) = enc.encode(b"Subject: hi\n\n.hidden\r", &mut out);
/// assert_eq!(used, 21);
/// let m = enc.finish(&mut out[n..]).unwrap_or(0);
/// assert_eq!(&out[..n + m], b"Subject: hi\r\n\r\n..hidden\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DataEncoder {
    /// Octets of the current line so far (before dot-stuffing), saturating.
    line_len: u16,
    /// A line longer than [`MAX_LINE`] octets went through.
    overlong: bool,
    /// The last input byte was a CR whose line ending has not been written yet.
    pending_cr: bool,
    /// The next output byte does not start a line (false at the beginning, and after
    /// each CRLF).
    mid_line: bool,
    /// BDAT: no dot-stuffing and no terminator line.
    chunked: bool,
}

impl Default for DataEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DataEncoder {
    /// An encoder for DATA at the start of a message.
    pub const fn new() -> Self {
        DataEncoder {
            line_len: 0,
            overlong: false,
            pending_cr: false,
            mid_line: false,
            chunked: false,
        }
    }

    /// An encoder for BDAT chunks (RFC 3030): line endings normalized to CRLF as for
    /// DATA, no dot-stuffing, and [`finish`](Self::finish) writes no terminator.
    ///
    /// ```
    /// use wasm_smtp_core::data::{message_size, DataEncoder};
    /// let mut enc = DataEncoder::chunked();
    /// let mut out = [0xa5u8; 64];
    /// let (_, n) = enc.encode(b"Subject: hi\n\n.kept\r", &mut out);
    /// let m = enc.finish(&mut out[n..]).unwrap_or(0);
    /// assert_eq!(&out[..n + m], b"Subject: hi\r\n\r\n.kept\r\n");
    /// assert_eq!(message_size(b"Subject: hi\n\n.kept\r"), (n + m) as u64);
    /// ```
    pub const fn chunked() -> Self {
        DataEncoder {
            line_len: 0,
            overlong: false,
            pending_cr: false,
            mid_line: false,
            chunked: true,
        }
    }

    /// Encode as much of `input` as fits into `out`. Returns `(consumed, written)`.
    ///
    /// Each input byte produces at most two output bytes; the call stops when fewer than
    /// two bytes of room remain. Call again with `&input[consumed..]`.
    pub fn encode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let mut consumed = 0;
        let mut written = 0;
        while let Some(&b) = input.get(consumed) {
            let Some([o0, o1, ..]) = out.get_mut(written..) else {
                break;
            };
            if self.pending_cr || b == b'\n' {
                // A line ending: the pending CR's (its LF, if this is one, goes with it),
                // or a bare LF. A byte after a pending CR is handled on the next turn.
                *o0 = b'\r';
                *o1 = b'\n';
                written += 2;
                self.mid_line = false;
                self.line_len = 0;
                if !core::mem::take(&mut self.pending_cr) || b == b'\n' {
                    consumed += 1;
                }
                continue;
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                if b == b'.' && !self.mid_line && !self.chunked {
                    *o1 = b'.';
                    written += 1;
                }
                *o0 = b;
                written += 1;
                self.mid_line = true;
                self.count_octet();
            }
            consumed += 1;
        }
        (consumed, written)
    }

    fn count_octet(&mut self) {
        self.line_len = self.line_len.saturating_add(1);
        if usize::from(self.line_len) > MAX_LINE {
            self.overlong = true;
        }
    }

    /// Whether a line of more than [`MAX_LINE`] octets (line ending excluded, before
    /// dot-stuffing) has gone through this encoder since it was made or finished.
    pub const fn overlong(&self) -> bool {
        self.overlong
    }

    /// Write the end of the message: a CRLF if the last line is not ended, then `.` CRLF
    /// (in chunked mode only the CRLF). Needs at most [`FINISH_MAX`] bytes of room;
    /// returns `None` (writing nothing) when `out` is smaller than what is needed. The
    /// encoder is then reset for a new message (in the same mode).
    pub fn finish(&mut self, out: &mut [u8]) -> Option<usize> {
        let tail = self.tail();
        let dst = out.get_mut(..tail.len())?;
        dst.copy_from_slice(tail);
        *self = if self.chunked {
            DataEncoder::chunked()
        } else {
            DataEncoder::new()
        };
        Some(tail.len())
    }

    /// What [`finish`](Self::finish) would write now.
    pub fn tail(&self) -> &'static [u8] {
        let end_line = self.pending_cr || self.mid_line;
        match (end_line, self.chunked) {
            (true, false) => b"\r\n.\r\n",
            (false, false) => b".\r\n",
            (true, true) => b"\r\n",
            (false, true) => b"",
        }
    }
}

/// The longest line a message may have: 998 octets without the line ending (RFC 5322
/// section 2.1.1; RFC 5321 section 4.5.3.1.6 allows 1000 with CRLF).
pub const MAX_LINE: usize = 998;

/// The length in octets of the longest line of `message`, line endings (CRLF, bare CR or
/// bare LF, as the encoder normalizes them) excluded, before dot-stuffing.
pub fn longest_line(message: &[u8]) -> usize {
    body_facts(message).longest_line
}

/// The size of `message` as sent in BDAT chunks: every line ending counted as CRLF, a
/// CRLF added after an unterminated last line, no dot-stuffing, no terminator. This is
/// exactly what [`DataEncoder::chunked`] produces, and the message size of RFC 1870
/// section 3 (which the `SIZE=` parameter declares).
pub fn message_size(message: &[u8]) -> u64 {
    body_facts(message).size
}

/// What the client checks about a message given whole before sending it, found in one
/// pass ([`longest_line`] and [`message_size`] are its fields alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyFacts {
    /// The longest line, in octets, without its line ending.
    pub longest_line: usize,
    /// The size as sent in BDAT chunks and declared with `SIZE=`.
    pub size: u64,
    /// Any byte with the high bit set.
    pub has_8bit: bool,
}

/// [`BodyFacts`] of `message`.
pub fn body_facts(message: &[u8]) -> BodyFacts {
    let mut facts = BodyFacts::default();
    let mut line = 0usize;
    let mut pending_cr = false;
    for &b in message {
        facts.has_8bit |= b >= 0x80;
        if b == b'\r' || b == b'\n' {
            facts.longest_line = facts.longest_line.max(line);
            line = 0;
        } else {
            line += 1;
        }
        // Every line ending (CR LF, bare LF, bare CR) counts as CRLF.
        if pending_cr {
            pending_cr = false;
            facts.size += 2;
            if b == b'\n' {
                continue;
            }
        }
        match b {
            b'\r' => pending_cr = true,
            b'\n' => facts.size += 2,
            _ => facts.size += 1,
        }
    }
    facts.longest_line = facts.longest_line.max(line);
    if pending_cr || line > 0 {
        facts.size += 2;
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn line_length_is_counted_before_stuffing_and_across_chunks() {
        let line = |n: usize| {
            let mut v = std::vec![b'.'];
            v.resize(n, b'x');
            v
        };
        for (len, over) in [(998, false), (999, true)] {
            let mut m = b"Subject: t\r\n\r\n".to_vec();
            m.extend_from_slice(&line(len));
            m.extend_from_slice(b"\r\nshort\n");
            assert_eq!(longest_line(&m), len);
            for chunked in [false, true] {
                let mut enc = if chunked {
                    DataEncoder::chunked()
                } else {
                    DataEncoder::new()
                };
                let mut out = [0u8; 4096];
                let mut pos = 0;
                // Split mid-line: the count carries over.
                for part in m.chunks(7) {
                    let (used, n) = enc.encode(part, &mut out[pos..]);
                    assert_eq!(used, part.len());
                    pos += n;
                }
                assert_eq!(enc.overlong(), over, "len {len} chunked {chunked}");
                let _ = enc.finish(&mut out[pos..]);
                assert!(!enc.overlong(), "finish resets");
            }
        }
        assert_eq!(longest_line(b"a\rbb\r\nccc"), 3);
        assert_eq!(longest_line(b""), 0);
    }

    fn encode_chunks(chunks: &[&[u8]], room: usize) -> Vec<u8> {
        encode_with(DataEncoder::new(), chunks, room)
    }

    fn encode_with(mut enc: DataEncoder, chunks: &[&[u8]], room: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = std::vec![0xa5u8; room];
        for chunk in chunks {
            let mut rest = *chunk;
            while !rest.is_empty() {
                let (used, n) = enc.encode(rest, &mut buf);
                out.extend_from_slice(&buf[..n]);
                rest = &rest[used..];
                assert!(used > 0 || n > 0, "no progress");
            }
        }
        let mut tail = [0xa5u8; FINISH_MAX];
        let n = enc.finish(&mut tail).unwrap();
        out.extend_from_slice(&tail[..n]);
        out
    }

    fn encode(input: &[u8]) -> Vec<u8> {
        encode_chunks(&[input], 64)
    }

    #[test]
    fn table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a\n", b"a\r\n.\r\n"),
            (b"a\r", b"a\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"..x\r\n", b"...x\r\n.\r\n"),
            (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a.b\r\n", b"a.b\r\n.\r\n"),
            (b"\r\n", b"\r\n.\r\n"),
            (b"\r\r\n", b"\r\n\r\n.\r\n"),
            (b"\n\r", b"\r\n\r\n.\r\n"),
            (b"x\r\n\r\n", b"x\r\n\r\n.\r\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                encode(input),
                *expected,
                "{:?}",
                std::string::String::from_utf8_lossy(input)
            );
        }
    }

    /// The 2023 SMTP smuggling shapes: none may produce an early end of data.
    #[test]
    fn smuggling_shapes_are_neutralized() {
        let shapes: &[&[u8]] = &[
            b"\n.\n",
            b"\n.\r\n",
            b"\r\n.\n",
            b"\r.\r",
            b"\r.\r\n",
            b"\r\n.\r",
            b"\n.\r",
            b"\r\n\x00.\r\n",
            b"\r\n.\r\n",
        ];
        for shape in shapes {
            let mut body = Vec::from(&b"Subject: x\r\n\r\nhello"[..]);
            body.extend_from_slice(shape);
            body.extend_from_slice(b"MAIL FROM:<evil@x>\r\n");
            let out = encode(&body);
            let end = out.len() - 5;
            assert_eq!(&out[end..], b"\r\n.\r\n");
            let inner = &out[..end + 2];
            assert!(
                !inner.windows(5).any(|w| w == b"\r\n.\r\n"),
                "early terminator for {shape:?}: {out:?}"
            );
            // No bare CR or LF anywhere.
            for (i, &b) in out.iter().enumerate() {
                if b == b'\r' {
                    assert_eq!(out.get(i + 1), Some(&b'\n'));
                }
                if b == b'\n' {
                    assert_eq!(out[i - 1], b'\r');
                }
            }
        }
    }

    #[test]
    fn every_split_gives_same_output() {
        let input: &[u8] = b".a\r\n.\r\n\r.\rb\n.\n..\r\r\nend\r";
        let whole = encode(input);
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let out = encode_chunks(&[&input[..i], &input[i..j], &input[j..]], 64);
                assert_eq!(out, whole, "split {i} {j}");
            }
        }
        // Tiny output room forces partial progress at every position.
        for room in 2..8 {
            assert_eq!(encode_chunks(&[input], room), whole, "room {room}");
        }
    }

    #[test]
    fn chunked_mode_normalizes_without_stuffing_and_size_matches() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"a", b"a\r\n"),
            (b".", b".\r\n"),
            (b"a\n.\n", b"a\r\n.\r\n"),
            (b"\r\r\n", b"\r\n\r\n"),
            (b"x\r", b"x\r\n"),
            (b"..x\r\n.\r\n", b"..x\r\n.\r\n"),
        ];
        for (input, expected) in cases {
            let out = encode_with(DataEncoder::chunked(), &[input], 64);
            assert_eq!(out, *expected, "{input:?}");
            assert_eq!(message_size(input), expected.len() as u64, "{input:?}");
        }
        // Any split, any room: the same bytes, and the size known in advance.
        let input: &[u8] = b".a\r\n.\r\n\r.\rb\n.\n..\r\r\nend\r\xff";
        let whole = encode_with(DataEncoder::chunked(), &[input], 64);
        assert_eq!(message_size(input), whole.len() as u64);
        for i in 0..=input.len() {
            let out = encode_with(DataEncoder::chunked(), &[&input[..i], &input[i..]], 3);
            assert_eq!(out, whole, "split {i}");
        }
        // DATA output un-stuffed and without its terminator is the chunked output.
        let data = encode(input);
        let mut unstuffed = Vec::new();
        for line in data[..data.len() - 3].split_inclusive(|&b| b == b'\n') {
            unstuffed.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        assert_eq!(unstuffed, whole);
    }

    #[test]
    fn finish_needs_room_and_resets() {
        let mut enc = DataEncoder::new();
        let mut out = [0u8; 8];
        let (_, n) = enc.encode(b"x", &mut out);
        assert_eq!(n, 1);
        assert_eq!(enc.finish(&mut [0u8; 4]), None);
        assert_eq!(enc.finish(&mut out), Some(5));
        assert_eq!(enc.finish(&mut out), Some(3));
    }
}
