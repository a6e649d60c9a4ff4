//! Byte rendering helpers: escaping for messages and transcripts, and base64 for the
//! AUTH helpers.

use std::fmt::Write as _;

/// How many bytes of a long step are shown around a mismatch.
const CONTEXT: usize = 40;
/// Steps up to this length are always shown whole.
const SHOW_WHOLE: usize = 100;

/// Escapes bytes for display: `\r`, `\n`, `\t`, other control characters and invalid
/// UTF-8 become visible escapes. With `quoted`, `"` and `\` are escaped too.
pub(crate) fn escape(bytes: &[u8], quoted: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' | '"' if quoted => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_control() => {
                    let code = u32::from(c);
                    if code < 0x100 {
                        let _ = write!(out, "\\x{code:02x}");
                    } else {
                        let _ = write!(out, "\\u{{{code:x}}}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `bytes` escaped and in double quotes.
pub(crate) fn quote(bytes: &[u8]) -> String {
    format!("\"{}\"", escape(bytes, true))
}

/// A short quoted preview: up to the first line end (inclusive) or `CONTEXT` bytes,
/// followed by `...` when something was cut.
pub(crate) fn preview(bytes: &[u8]) -> String {
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    let cut = line_end.min(SHOW_WHOLE);
    let mut s = quote(&bytes[..cut]);
    if cut < bytes.len() {
        s.push_str("...");
    }
    s
}

/// The whole of `bytes`, quoted, when short; otherwise a window around `at`.
/// Returns the rendering and the start of the window.
pub(crate) fn window(bytes: &[u8], at: usize) -> (String, usize) {
    if bytes.len() <= SHOW_WHOLE {
        return (quote(bytes), 0);
    }
    let start = at.saturating_sub(CONTEXT);
    let end = (at + CONTEXT).min(bytes.len());
    let mut s = String::new();
    if start > 0 {
        s.push_str("...");
    }
    s.push_str(&quote(&bytes[start..end]));
    if end < bytes.len() {
        s.push_str("...");
    }
    (s, start)
}

/// What the client sent around a byte mismatch at offset `at` of a write step: the
/// matched part of the step (from `start`, as chosen by [`window`]) followed by the
/// client's bytes from the mismatch on, cut at a line end.
pub(crate) fn got_window(expected: &[u8], start: usize, at: usize, got_tail: &[u8]) -> String {
    let line_end = got_tail
        .iter()
        .position(|&b| b == b'\n')
        .map_or(got_tail.len(), |i| i + 1);
    let cut = line_end.min(
        CONTEXT
            .max(expected.len().saturating_sub(at))
            .min(SHOW_WHOLE),
    );
    let mut bytes = expected[start..at].to_vec();
    bytes.extend_from_slice(&got_tail[..cut]);
    let mut s = String::new();
    if start > 0 {
        s.push_str("...");
    }
    s.push_str(&quote(&bytes));
    if cut < got_tail.len() {
        s.push_str("...");
    }
    s
}

/// Splits bytes into lines, each keeping its `\n` (the last one may have none).
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n')
}

/// A line without its CRLF (a bare LF or a missing line end stays visible).
pub(crate) fn strip_crlf(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r\n").unwrap_or(line)
}

/// Standard base64 with padding (RFC 4648 section 4).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_quotes_and_invalid_utf8() {
        assert_eq!(escape(b"a\r\n\t\x00\x7f", false), "a\\r\\n\\t\\x00\\x7f");
        assert_eq!(escape(b"say \"hi\" \\", true), "say \\\"hi\\\" \\\\");
        assert_eq!(escape(b"say \"hi\"", false), "say \"hi\"");
        assert_eq!(escape("caf\u{e9}".as_bytes(), false), "caf\u{e9}");
        assert_eq!(escape(b"\xff\xfe", false), "\\xff\\xfe");
    }

    #[test]
    fn previews_cut_at_line_end() {
        assert_eq!(preview(b"QUIT\r\n"), "\"QUIT\\r\\n\"");
        assert_eq!(preview(b"A\r\nB\r\n"), "\"A\\r\\n\"...");
    }

    #[test]
    fn windows_long_steps() {
        let long = [b'x'; 300];
        let (s, start) = window(&long, 150);
        assert_eq!(start, 110);
        assert!(s.starts_with("...\"") && s.ends_with("\"..."));
        let (s, start) = window(b"short", 2);
        assert_eq!((s.as_str(), start), ("\"short\"", 0));
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (input, output) in cases {
            assert_eq!(base64(input), output);
        }
        assert_eq!(base64(b"\0user\0pass"), "AHVzZXIAcGFzcw==");
    }
}
