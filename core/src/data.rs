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
//! The state carried between calls is two flags, so input may be split at any byte
//! (including between a CR and its LF) and the output is identical for every split.
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
#[derive(Debug, Clone, Default)]
pub struct DataEncoder {
    /// The last input byte was a CR whose line ending has not been written yet.
    pending_cr: bool,
    /// The next output byte starts a line (at the beginning, and after each CRLF).
    mid_line: bool,
}

impl DataEncoder {
    /// An encoder at the start of a message.
    pub const fn new() -> Self {
        DataEncoder {
            pending_cr: false,
            mid_line: false,
        }
    }

    /// Encode as much of `input` as fits into `out`. Returns `(consumed, written)`.
    ///
    /// Each input byte produces at most two output bytes; the call stops when fewer than
    /// two bytes of room remain. Call again with `&input[consumed..]`.
    pub fn encode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let mut consumed = 0;
        let mut written = 0;
        for &b in input {
            if out.len() - written < 2 {
                break;
            }
            if self.pending_cr {
                self.pending_cr = false;
                out[written] = b'\r';
                out[written + 1] = b'\n';
                written += 2;
                self.mid_line = false;
                if b == b'\n' {
                    // The LF of a CRLF pair: already written.
                    consumed += 1;
                    continue;
                }
                if out.len() - written < 2 {
                    break;
                }
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    out[written] = b'\r';
                    out[written + 1] = b'\n';
                    written += 2;
                    self.mid_line = false;
                }
                b'.' if !self.mid_line => {
                    out[written] = b'.';
                    out[written + 1] = b'.';
                    written += 2;
                    self.mid_line = true;
                }
                _ => {
                    out[written] = b;
                    written += 1;
                    self.mid_line = true;
                }
            }
            consumed += 1;
        }
        (consumed, written)
    }

    /// Write the end of the message: a CRLF if the last line is not ended, then `.` CRLF.
    /// Needs at most [`FINISH_MAX`] bytes of room; returns `None` (writing nothing) when
    /// `out` is smaller than what is needed. The encoder is then reset for a new message.
    pub fn finish(&mut self, out: &mut [u8]) -> Option<usize> {
        let end_line = self.pending_cr || self.mid_line;
        let tail: &[u8] = if end_line { b"\r\n.\r\n" } else { b".\r\n" };
        let dst = out.get_mut(..tail.len())?;
        dst.copy_from_slice(tail);
        *self = DataEncoder::new();
        Some(tail.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn encode_chunks(chunks: &[&[u8]], room: usize) -> Vec<u8> {
        let mut enc = DataEncoder::new();
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
