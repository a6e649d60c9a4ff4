//! SASL encoding for AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN, XOAUTH2, OAUTHBEARER
//! (RFC 7628), and behind cargo features SCRAM-SHA-256 (module `scram`, feature `auth-scram`)
//! and CRAM-MD5 (module `cram_md5`, feature `auth-cram-md5`).
//!
//! Responses are base64-encoded with `base64ct` (constant-time) as a stream: the
//! concatenated response (for PLAIN `\0user\0password`) is described as [`SaslParts`]
//! (borrowed slices, never copied as a whole), gathered 48 bytes at a time into a stack
//! block, encoded, and the block is wiped with `zeroize`, so credentials of any length pass
//! through a fixed buffer and no full copy of the secret is ever assembled.
//!
//! Validation happens before anything is written: a user name or secret containing the
//! mechanism's separator (NUL for PLAIN, `\x01` for XOAUTH2 and OAUTHBEARER) is refused,
//! and the error names the field, never its value.
//!
//! # Line lengths (RFC 4954 section 4)
//! The `AUTH` command line is an SMTP command: at most [`MAX_COMMAND_LINE`] octets with
//! its CRLF. When the initial response would make it longer (a long password, a 1-2 KB
//! OAuth bearer token), the client sends `AUTH <mechanism>` alone and the response on a
//! line of its own after the server's `334`, for every mechanism with an initial
//! response (PLAIN, XOAUTH2, OAUTHBEARER, SCRAM-SHA-256). Response lines may be longer:
//! servers must accept [`MAX_RESPONSE_LINE`] octets, and the client refuses credentials
//! whose response line would exceed that, before anything is written
//! ([`InvalidReason::TooLong`] for the user name or the secret). The transmit buffer sets
//! no limit of its own: a response is streamed through it one base64 block at a time
//! (a buffer of at least 64 octets is enough for any length).

use crate::capabilities::Mechanism;
use crate::error::{InputField, InvalidReason, SmtpError};
use base64ct::{Base64, Encoding};
use zeroize::Zeroize;

#[cfg(feature = "auth-cram-md5")]
pub mod cram_md5;
pub mod exchange;
#[cfg(feature = "auth-scram")]
pub mod scram;

/// A username and password for PLAIN or LOGIN. `Debug` never shows the password.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub(crate) user: &'a str,
    pub(crate) secret: &'a str,
}

impl<'a> Credentials<'a> {
    /// Pair a user name with its password (or, for XOAUTH2, its access token).
    pub const fn new(user: &'a str, secret: &'a str) -> Self {
        Credentials { user, secret }
    }

    /// The user name.
    pub const fn user(&self) -> &'a str {
        self.user
    }
}

impl core::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Check the credentials for `mech` before anything is written.
pub fn validate(mech: Mechanism, creds: &Credentials<'_>) -> Result<(), SmtpError> {
    let user = creds.user.as_bytes();
    let secret = creds.secret.as_bytes();
    if user.is_empty() {
        return Err(SmtpError::invalid(
            InputField::Username,
            InvalidReason::Empty,
        ));
    }
    let refuse = |field, reason| Err(SmtpError::invalid(field, reason));
    let control = |b: &u8| *b < 0x20 || *b == 0x7f;
    match mech {
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => {
            // Separators of the mechanism, and line breaks for servers that decode and
            // log naively.
            if user.iter().any(|b| b"\x00\x01\r\n".contains(b)) {
                return refuse(InputField::Username, InvalidReason::ControlCharacter);
            }
            if secret.iter().any(|b| !(0x20..0x7f).contains(b)) {
                // RFC 6750 b64token: printable ASCII only.
                return refuse(InputField::Secret, InvalidReason::ControlCharacter);
            }
        }
        Mechanism::ScramSha256 => {
            // No SASLprep (RFC 4013) here: for ASCII it only forbids control characters,
            // and non-ASCII strings are refused rather than sent unprepared.
            for (field, value) in [(InputField::Username, user), (InputField::Secret, secret)] {
                if !value.is_ascii() {
                    return refuse(field, InvalidReason::NeedsSaslPrep);
                }
                if value.iter().any(control) {
                    return refuse(field, InvalidReason::ControlCharacter);
                }
            }
        }
        Mechanism::CramMd5 => {
            if user.iter().any(control) {
                return refuse(InputField::Username, InvalidReason::ControlCharacter);
            }
        }
        Mechanism::Plain | Mechanism::Login => {
            if user.contains(&0) {
                return refuse(InputField::Username, InvalidReason::ControlCharacter);
            }
            if secret.contains(&0) {
                return refuse(InputField::Secret, InvalidReason::ControlCharacter);
            }
        }
    }
    Ok(())
}

/// Check an OAUTHBEARER `host` value: 1 to 255 visible ASCII characters.
#[cfg(feature = "auth-oauth")]
pub fn validate_host(host: &str) -> Result<(), SmtpError> {
    if host.is_empty() {
        return Err(SmtpError::invalid(
            InputField::OAuthHost,
            InvalidReason::Empty,
        ));
    }
    if host.len() > 255 {
        return Err(SmtpError::invalid(
            InputField::OAuthHost,
            InvalidReason::TooLong(255),
        ));
    }
    if !host.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(SmtpError::invalid(
            InputField::OAuthHost,
            InvalidReason::ControlCharacter,
        ));
    }
    Ok(())
}

/// Most octets of an SMTP command line, CRLF included (RFC 5321 section 4.5.3.1.4): the
/// limit for `AUTH <mechanism> <initial-response>`.
pub const MAX_COMMAND_LINE: usize = 512;

/// Most octets of an AUTH response line, CRLF included, that a server must accept (RFC
/// 4954 section 4).
pub const MAX_RESPONSE_LINE: usize = 12288;

/// Input bytes per block: a multiple of 3, so blocks concatenate into valid base64.
const BLOCK: usize = 48;
/// Output bytes per full block.
pub const ENCODED_BLOCK: usize = BLOCK / 3 * 4;
/// Most parts in one [`SaslParts`] (OAUTHBEARER with host and port needs 9, PLAIN 4).
pub const MAX_PARTS: usize = if cfg!(feature = "auth-oauth") { 9 } else { 4 };

/// The pieces of one SASL response, concatenated in order. Parts pushed with
/// `push_escaped` (features `auth-oauth`, `auth-scram`) are sent as an RFC 5802 `saslname` (`,` becomes
/// `=2C` and `=` becomes `=3D`), as SCRAM and the OAUTHBEARER `a=` field require.
#[derive(Clone, Copy)]
pub struct SaslParts<'a> {
    parts: [&'a [u8]; MAX_PARTS],
    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    escaped: u16,
    len: usize,
}

impl core::fmt::Debug for SaslParts<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SaslParts(<redacted>)")
    }
}

impl Default for SaslParts<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> SaslParts<'a> {
    /// No parts (an empty response).
    pub const fn new() -> Self {
        SaslParts {
            parts: [b""; MAX_PARTS],
            #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
            escaped: 0,
            len: 0,
        }
    }

    /// Append a part as is. Parts beyond [`MAX_PARTS`] are a programming error and are
    /// dropped (this crate never builds more).
    pub fn push(mut self, part: &'a [u8]) -> Self {
        if let Some(slot) = self.parts.get_mut(self.len) {
            *slot = part;
            self.len += 1;
        }
        self
    }

    /// Append a part escaped as an RFC 5802 `saslname` (with the `auth-oauth` or
    /// `auth-scram` feature: no other mechanism needs it).
    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    pub fn push_escaped(mut self, part: &'a [u8]) -> Self {
        self.escaped |= 1 << self.len;
        self.push(part)
    }

    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    fn is_escaped(&self, i: usize) -> bool {
        self.escaped & (1 << i) != 0
    }

    /// Octets of the response (escaped parts counted escaped), before base64.
    pub fn octets(&self) -> usize {
        let parts = self.parts.get(..self.len).unwrap_or_default();
        #[allow(unused_variables)]
        let octets = parts.iter().enumerate().map(|(i, part)| {
            #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
            if self.is_escaped(i) {
                return part.iter().map(|b| escape(b).len()).sum();
            }
            part.len()
        });
        octets.sum()
    }

    /// Octets of the response once base64-encoded (padded), without a line ending.
    pub fn encoded_len(&self) -> usize {
        self.octets().div_ceil(3) * 4
    }
}

/// The escaped form of one byte of a `saslname` (RFC 5802 section 5.1).
#[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
fn escape(b: &u8) -> &[u8] {
    match b {
        b',' => b"=2C",
        b'=' => b"=3D",
        other => core::slice::from_ref(other),
    }
}

/// Call `f` with the pieces of `name` escaped as a `saslname`.
#[cfg(feature = "auth-scram")]
pub(crate) fn for_each_escaped(name: &[u8], mut f: impl FnMut(&[u8])) {
    for run in name.split_inclusive(|&b| b == b',' || b == b'=') {
        match run.split_last() {
            Some((last, head)) if *last == b',' || *last == b'=' => {
                f(head);
                f(escape(last));
            }
            _ => f(run),
        }
    }
}

/// Progress through the base64 encoding of a [`SaslParts`]. Holds no data, only
/// positions, so the parts can be rebuilt from their owners at every step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Base64Cursor {
    part: usize,
    offset: usize,
    /// Position inside the escape sequence of the current byte.
    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    esc: usize,
}

impl Base64Cursor {
    /// Encode the next block of `parts` into `out`, which must hold at least
    /// [`ENCODED_BLOCK`] bytes. Returns the number of bytes written, 0 when the input is
    /// exhausted. The plain-text block is wiped with `zeroize` before returning.
    pub fn next_block(&mut self, parts: &SaslParts<'_>, out: &mut [u8]) -> usize {
        let mut block = [0u8; BLOCK];
        let mut filled = 0;
        while filled < BLOCK && self.part < parts.len {
            let part = parts.parts.get(self.part).copied().unwrap_or_default();
            #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
            if parts.is_escaped(self.part) {
                if let Some(b) = part.get(self.offset) {
                    let seq = escape(b);
                    if let (Some(dst), Some(&src)) = (block.get_mut(filled), seq.get(self.esc)) {
                        *dst = src;
                    }
                    filled += 1;
                    self.esc += 1;
                    if self.esc >= seq.len() {
                        self.esc = 0;
                        self.offset += 1;
                    }
                } else {
                    self.part += 1;
                    self.offset = 0;
                }
                continue;
            }
            let src = part.get(self.offset..).unwrap_or_default();
            let n = src.len().min(BLOCK - filled);
            block[filled..filled + n].copy_from_slice(&src[..n]);
            filled += n;
            self.offset += n;
            if self.offset >= part.len() {
                self.part += 1;
                self.offset = 0;
            }
        }
        let written = match Base64::encode(&block[..filled], out) {
            Ok(s) => s.len(),
            Err(_) => 0,
        };
        block.zeroize();
        written
    }
}

/// The PLAIN response: `\0 user \0 password` (no authorization identity, RFC 4616).
pub fn plain<'a>(creds: &Credentials<'a>) -> SaslParts<'a> {
    SaslParts::new()
        .push(b"\0")
        .push(creds.user.as_bytes())
        .push(b"\0")
        .push(creds.secret.as_bytes())
}

/// The XOAUTH2 response: `user=U \x01 auth=Bearer T \x01\x01`.
#[cfg(feature = "auth-oauth")]
pub fn xoauth2<'a>(creds: &Credentials<'a>) -> SaslParts<'a> {
    SaslParts::new()
        .push(b"user=")
        .push(creds.user.as_bytes())
        .push(b"\x01auth=Bearer ")
        .push(creds.secret.as_bytes())
        .push(b"\x01\x01")
}

/// The OAUTHBEARER initial client response (RFC 7628 section 3.1):
/// `n,a=USER,\x01[host=HOST\x01port=PORT\x01]auth=Bearer TOKEN\x01\x01`, the user
/// escaped as a `saslname`. `port` holds the port's decimal digits (see [`port_digits`]).
#[cfg(feature = "auth-oauth")]
pub fn oauthbearer<'a>(
    creds: &Credentials<'a>,
    host: Option<(&'a str, &'a [u8])>,
) -> SaslParts<'a> {
    let parts = SaslParts::new()
        .push(b"n,a=")
        .push_escaped(creds.user.as_bytes());
    let parts = match host {
        Some((host, port)) => parts
            .push(b",\x01host=")
            .push(host.as_bytes())
            .push(b"\x01port=")
            .push(port)
            .push(b"\x01auth=Bearer "),
        None => parts.push(b",\x01auth=Bearer "),
    };
    parts.push(creds.secret.as_bytes()).push(b"\x01\x01")
}

/// A port number as decimal digits without leading zeros, right-aligned in the array;
/// returns the array and where the digits start.
#[cfg(feature = "auth-oauth")]
pub fn port_digits(port: u16) -> ([u8; 5], usize) {
    let mut out = [b'0'; 5];
    let mut n = port;
    let mut start = out.len();
    loop {
        start -= 1;
        out[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || start == 0 {
            return (out, start);
        }
    }
}

/// A single value (a LOGIN user name or password).
pub fn single(value: &[u8]) -> SaslParts<'_> {
    SaslParts::new().push(value)
}

/// The `status` of an OAUTHBEARER error (RFC 7628 section 3.2.2), for example
/// `invalid_token` or `400`: at most [`BearerStatus::CAPACITY`] printable ASCII bytes
/// (others become `?`, longer values are cut). Empty when the server sent none.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BearerStatus {
    buf: [u8; BearerStatus::CAPACITY],
    len: u8,
}

impl BearerStatus {
    /// Most bytes kept.
    pub const CAPACITY: usize = 24;

    /// The status value (printable ASCII).
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or("")
    }

    /// Extract the `"status"` string member from the server's JSON error object. Only
    /// this member is looked for; nothing else of the JSON is kept or parsed.
    #[cfg(feature = "auth-oauth")]
    pub fn from_json(json: &[u8]) -> Self {
        let mut status = BearerStatus::default();
        let key = b"\"status\"";
        let Some(at) = json.windows(key.len()).position(|w| w == key) else {
            return status;
        };
        let mut rest = json.get(at + key.len()..).unwrap_or_default();
        let skip_ws = |s: &mut &[u8]| {
            while let [b' ' | b'\t' | b'\r' | b'\n', tail @ ..] = *s {
                *s = tail;
            }
        };
        skip_ws(&mut rest);
        let [b':', tail @ ..] = rest else {
            return status;
        };
        rest = tail;
        skip_ws(&mut rest);
        let [b'"', value @ ..] = rest else {
            return status;
        };
        for &b in value.iter().take_while(|&&b| b != b'"' && b != b'\\') {
            let Some(slot) = status.buf.get_mut(usize::from(status.len)) else {
                break;
            };
            *slot = if (0x20..0x7f).contains(&b) { b } else { b'?' };
            status.len += 1;
        }
        status
    }
}

impl core::fmt::Debug for BearerStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for BearerStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for BearerStatus {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

/// Whether a 334 challenge is syntactically valid base64 (possibly empty).
pub fn is_base64(text: &[u8]) -> bool {
    let text = match text {
        [rest @ .., b' '] => rest,
        t => t,
    };
    if text.len() % 4 != 0 {
        return false;
    }
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    pad <= 2
        && text[..text.len() - pad]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn all(parts: SaslParts<'_>) -> Vec<u8> {
        let mut cursor = Base64Cursor::default();
        let mut out = Vec::new();
        let mut buf = [0u8; ENCODED_BLOCK];
        loop {
            let n = cursor.next_block(&parts, &mut buf);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn plain_matches_rfc4616_example() {
        // RFC 4616 section 4: "\0tim\0tanstaaftanstaaf" with empty authzid.
        let c = Credentials::new("tim", "tanstaaftanstaaf");
        assert_eq!(all(plain(&c)), b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    }

    #[test]
    #[cfg(feature = "auth-oauth")]
    fn xoauth2_matches_google_example() {
        let c = Credentials::new(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        assert_eq!(
            all(xoauth2(&c)),
            &b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="[..]
        );
    }

    #[test]
    #[cfg(feature = "auth-oauth")]
    fn long_secret_streams_in_blocks() {
        let token = "t".repeat(5000);
        let c = Credentials::new("u", &token);
        let streamed = all(xoauth2(&c));
        let whole = std::format!("user=u\x01auth=Bearer {token}\x01\x01");
        let mut expect = std::vec![0u8; whole.len() * 4 / 3 + 4];
        let e = Base64::encode(whole.as_bytes(), &mut expect).unwrap();
        assert_eq!(streamed, e.as_bytes());
    }

    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    fn decode(b64: &[u8]) -> Vec<u8> {
        let mut out = std::vec![0u8; b64.len()];
        Base64::decode(b64, &mut out).unwrap().to_vec()
    }

    #[test]
    #[cfg(feature = "auth-oauth")]
    fn oauthbearer_matches_rfc7628_example() {
        // RFC 7628 section 4.1 (the token shortened to the one in the example).
        let c = Credentials::new(
            "user@example.com",
            "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==",
        );
        let (digits, start) = port_digits(143);
        assert_eq!(&digits[start..], b"143");
        let parts = oauthbearer(&c, Some(("server.example.com", &digits[start..])));
        assert_eq!(
            decode(&all(parts)),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert_eq!(
            decode(&all(oauthbearer(&Credentials::new("a,b=c", "t"), None))),
            b"n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01"
        );
        for (port, text) in [(0u16, "0"), (7, "7"), (587, "587"), (65535, "65535")] {
            let (d, s) = port_digits(port);
            assert_eq!(&d[s..], text.as_bytes());
        }
    }

    #[test]
    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    fn escaped_parts_stream_across_blocks() {
        // Escapes that straddle the 48-byte block boundary.
        let user = ",=".repeat(40);
        let streamed = decode(&all(SaslParts::new()
            .push(b"x")
            .push_escaped(user.as_bytes())
            .push(b"y")));
        let expect = std::format!("x{}y", "=2C=3D".repeat(40));
        assert_eq!(streamed, expect.as_bytes());
    }

    #[test]
    #[cfg(feature = "auth-oauth")]
    fn bearer_status_from_json() {
        let s = BearerStatus::from_json(br#"{"status":"invalid_token","scope":"x"}"#);
        assert_eq!(s.as_str(), "invalid_token");
        let s = BearerStatus::from_json(br#"{ "scope":"x", "status" : "401" }"#);
        assert_eq!(s.as_str(), "401");
        assert_eq!(BearerStatus::from_json(b"{}").as_str(), "");
        assert_eq!(BearerStatus::from_json(b"\"status\"").as_str(), "");
        assert_eq!(BearerStatus::from_json(br#""status":401"#).as_str(), "");
        let long =
            BearerStatus::from_json(br#"{"status":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#);
        assert_eq!(long.as_str().len(), BearerStatus::CAPACITY);
        let hostile = BearerStatus::from_json(b"{\"status\":\"a\r\n\xffb\\\"x\"}");
        assert_eq!(hostile.as_str(), "a???b");
    }

    /// The length the client decides with (initial response or not, too long or not) is
    /// the length it writes, escapes included, for every remainder modulo 3.
    #[test]
    fn encoded_len_is_the_written_length() {
        let user = "a,b=c";
        for n in 0..200 {
            let secret = "s".repeat(n);
            let creds = Credentials::new(user, &secret);
            #[cfg_attr(not(feature = "auth-oauth"), allow(unused_mut))]
            let mut cases = Vec::from([plain(&creds), single(secret.as_bytes())]);
            #[cfg(feature = "auth-oauth")]
            cases.extend([
                xoauth2(&creds),
                oauthbearer(&creds, None),
                oauthbearer(&creds, Some(("mx.example.com", b"587"))),
            ]);
            for parts in cases {
                assert_eq!(parts.encoded_len(), all(parts).len(), "secret of {n}");
            }
        }
    }

    #[test]
    fn validation_never_echoes() {
        assert_eq!(
            validate(Mechanism::Plain, &Credentials::new("u\0admin", "p")),
            Err(SmtpError::invalid(
                InputField::Username,
                InvalidReason::ControlCharacter
            ))
        );
        assert_eq!(
            validate(Mechanism::Plain, &Credentials::new("u", "p\0x")),
            Err(SmtpError::invalid(
                InputField::Secret,
                InvalidReason::ControlCharacter
            ))
        );
        assert_eq!(
            validate(Mechanism::XOAuth2, &Credentials::new("u", "tok\x01auth=x")),
            Err(SmtpError::invalid(
                InputField::Secret,
                InvalidReason::ControlCharacter
            ))
        );
        assert!(validate(Mechanism::Login, &Credentials::new("u", "p\r\nässword")).is_ok());
        assert_eq!(
            validate(Mechanism::ScramSha256, &Credentials::new("u", "pässword")),
            Err(SmtpError::invalid(
                InputField::Secret,
                InvalidReason::NeedsSaslPrep
            ))
        );
        assert_eq!(
            validate(Mechanism::ScramSha256, &Credentials::new("ü", "p")),
            Err(SmtpError::invalid(
                InputField::Username,
                InvalidReason::NeedsSaslPrep
            ))
        );
        assert_eq!(
            validate(Mechanism::ScramSha256, &Credentials::new("u", "p\tx")),
            Err(SmtpError::invalid(
                InputField::Secret,
                InvalidReason::ControlCharacter
            ))
        );
        assert_eq!(
            validate(Mechanism::OAuthBearer, &Credentials::new("u\x01", "t")),
            Err(SmtpError::invalid(
                InputField::Username,
                InvalidReason::ControlCharacter
            ))
        );
        assert_eq!(
            validate(Mechanism::CramMd5, &Credentials::new("u\r\n", "p")),
            Err(SmtpError::invalid(
                InputField::Username,
                InvalidReason::ControlCharacter
            ))
        );
        #[cfg(feature = "auth-oauth")]
        {
            assert!(validate_host("smtp.example.com").is_ok());
            assert!(validate_host("").is_err());
            assert!(validate_host("a b").is_err());
            assert!(validate_host("a\x01b").is_err());
        }
        let dbg = std::format!("{:?}", Credentials::new("alice", "hunter2"));
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn base64_check() {
        assert!(is_base64(b"VXNlcm5hbWU6"));
        assert!(is_base64(b""));
        assert!(is_base64(b"YQ=="));
        assert!(!is_base64(b"YQ="));
        assert!(!is_base64(b"Username:"));
        assert!(!is_base64(b"YQ===x=="));
    }
}
