//! SASL encoding for AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN and XOAUTH2.
//!
//! Credentials are base64-encoded with `base64ct` (constant-time) as a stream: the
//! concatenated response (for PLAIN `\0user\0password`) is gathered into a 48-byte stack
//! block, encoded, and the block is wiped, so credentials of any length pass through a
//! fixed buffer and no full copy of the secret is ever assembled.
//!
//! Validation happens before anything is written: a user name or secret containing the
//! mechanism's separator (NUL for PLAIN, `\x01` for XOAUTH2) is refused, and the error
//! names the field, never its value.

use crate::capabilities::Mechanism;
use crate::error::{InputField, InvalidReason, SmtpError};
use base64ct::{Base64, Encoding};

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
    // Separators of the mechanism, and line breaks for LOGIN/XOAUTH2 servers that decode
    // and log naively.
    let forbidden: &[u8] = match mech {
        Mechanism::XOAuth2 => b"\x00\x01\r\n",
        _ => b"\x00",
    };
    if user.iter().any(|b| forbidden.contains(b)) {
        return Err(SmtpError::invalid(
            InputField::Username,
            InvalidReason::ControlCharacter,
        ));
    }
    if secret.iter().any(|b| forbidden.contains(b)) {
        return Err(SmtpError::invalid(
            InputField::Secret,
            InvalidReason::ControlCharacter,
        ));
    }
    if mech == Mechanism::XOAuth2 && secret.iter().any(|b| !(0x20..0x7f).contains(b)) {
        // RFC 6750 b64token: printable ASCII only.
        return Err(SmtpError::invalid(
            InputField::Secret,
            InvalidReason::ControlCharacter,
        ));
    }
    Ok(())
}

/// Input bytes per block: a multiple of 3, so blocks concatenate into valid base64.
const BLOCK: usize = 48;
/// Output bytes per full block.
pub const ENCODED_BLOCK: usize = BLOCK / 3 * 4;

/// A base64 encoder over the concatenation of up to five byte slices.
pub struct Base64Stream<'a> {
    parts: [&'a [u8]; 5],
    part: usize,
    offset: usize,
}

impl core::fmt::Debug for Base64Stream<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Base64Stream(<redacted>)")
    }
}

impl<'a> Base64Stream<'a> {
    /// Encode the concatenation of `parts` (unused slots may be empty).
    pub const fn new(parts: [&'a [u8]; 5]) -> Self {
        Base64Stream {
            parts,
            part: 0,
            offset: 0,
        }
    }

    /// The PLAIN response: `\0 user \0 password` (no authorization identity).
    pub fn plain(creds: &Credentials<'a>) -> Self {
        Self::new([
            b"\0",
            creds.user.as_bytes(),
            b"\0",
            creds.secret.as_bytes(),
            b"",
        ])
    }

    /// The XOAUTH2 response: `user=U \x01 auth=Bearer T \x01\x01`.
    pub fn xoauth2(creds: &Credentials<'a>) -> Self {
        Self::new([
            b"user=",
            creds.user.as_bytes(),
            b"\x01auth=Bearer ",
            creds.secret.as_bytes(),
            b"\x01\x01",
        ])
    }

    /// A single value (a LOGIN user name or password).
    pub fn single(value: &'a [u8]) -> Self {
        Self::new([value, b"", b"", b"", b""])
    }

    /// Encode the next block into `out`, which must hold at least [`ENCODED_BLOCK`]
    /// bytes. Returns the number of bytes written, 0 when the input is exhausted.
    pub fn next_block(&mut self, out: &mut [u8]) -> usize {
        let mut block = [0u8; BLOCK];
        let mut filled = 0;
        while filled < BLOCK && self.part < self.parts.len() {
            let src = &self.parts[self.part][self.offset..];
            let n = src.len().min(BLOCK - filled);
            block[filled..filled + n].copy_from_slice(&src[..n]);
            filled += n;
            self.offset += n;
            if self.offset == self.parts[self.part].len() {
                self.part += 1;
                self.offset = 0;
            }
        }
        let written = match Base64::encode(&block[..filled], out) {
            Ok(s) => s.len(),
            Err(_) => 0,
        };
        block.fill(0);
        written
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

    fn all(mut s: Base64Stream<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; ENCODED_BLOCK];
        loop {
            let n = s.next_block(&mut buf);
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
        assert_eq!(
            all(Base64Stream::plain(&c)),
            b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }

    #[test]
    fn xoauth2_matches_google_example() {
        let c = Credentials::new(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        assert_eq!(
            all(Base64Stream::xoauth2(&c)),
            &b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="[..]
        );
    }

    #[test]
    fn long_secret_streams_in_blocks() {
        let token = "t".repeat(5000);
        let c = Credentials::new("u", &token);
        let streamed = all(Base64Stream::xoauth2(&c));
        let whole = std::format!("user=u\x01auth=Bearer {token}\x01\x01");
        let mut expect = std::vec![0u8; whole.len() * 4 / 3 + 4];
        let e = Base64::encode(whole.as_bytes(), &mut expect).unwrap();
        assert_eq!(streamed, e.as_bytes());
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
