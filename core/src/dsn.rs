//! Delivery status notification parameters (RFC 3461), behind the `dsn` feature.
//!
//! - `NOTIFY` on `RCPT TO` ([`Notify`]): `NEVER`, or any of `SUCCESS`, `FAILURE`, `DELAY`
//!   (section 4.1);
//! - `ORCPT` on `RCPT TO`: the original recipient, `rfc822;` and the address as xtext
//!   (section 4.2);
//! - `RET` on `MAIL FROM` ([`Ret`]): return the full message or only its headers in a
//!   failure report (section 4.3);
//! - `ENVID` on `MAIL FROM`: the sender's envelope identifier as xtext (section 4.4),
//!   printable ASCII, at most [`MAX_ENVID`] octets once encoded.
//!
//! xtext (section 4) writes every octet outside `!`..`~`, and `+` and `=`, as `+` and two
//! upper-case hexadecimal digits. `write_xtext` streams it into the command being
//! encoded, one octet at a time: no buffer is needed.

use crate::command::LineWriter;
use crate::error::{InputField, InvalidReason, SmtpError};

/// Longest `ENVID` value, in octets of xtext. RFC 3461 section 4.4 limits the envelope
/// identifier to 100 characters; counting the encoded form keeps within the limit however
/// the limit is read.
pub const MAX_ENVID: usize = 100;

/// When the server should send a delivery status notification for a recipient
/// (`NOTIFY`, RFC 3461 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Notify {
    /// `NOTIFY=NEVER`: no notification at all, not even on failure.
    Never,
    /// `NOTIFY=` the chosen conditions (at least one must be set).
    On {
        /// `SUCCESS`: on delivery.
        success: bool,
        /// `FAILURE`: on failure.
        failure: bool,
        /// `DELAY`: when delivery is delayed.
        delay: bool,
    },
}

impl Notify {
    /// `NOTIFY=FAILURE`.
    pub const FAILURE: Notify = Notify::On {
        success: false,
        failure: true,
        delay: false,
    };
    /// `NOTIFY=SUCCESS,FAILURE,DELAY`.
    pub const ALL: Notify = Notify::On {
        success: true,
        failure: true,
        delay: true,
    };

    /// Whether the request is valid: `NEVER`, or at least one condition.
    pub const fn is_valid(self) -> bool {
        match self {
            Notify::Never => true,
            Notify::On {
                success,
                failure,
                delay,
            } => success || failure || delay,
        }
    }

    pub(crate) fn write(self, w: &mut LineWriter<'_>) {
        w.put(b" NOTIFY=");
        match self {
            Notify::Never => w.put(b"NEVER"),
            Notify::On {
                success,
                failure,
                delay,
            } => {
                let mut sep = false;
                for (on, name) in [
                    (success, &b"SUCCESS"[..]),
                    (failure, b"FAILURE"),
                    (delay, b"DELAY"),
                ] {
                    if on {
                        if sep {
                            w.put(b",");
                        }
                        w.put(name);
                        sep = true;
                    }
                }
            }
        }
    }
}

/// How much of the message a failure notification returns (`RET`, RFC 3461 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: only the header section.
    Headers,
}

impl Ret {
    /// The keyword on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Ret::Full => "FULL",
            Ret::Headers => "HDRS",
        }
    }
}

const fn is_xchar(b: u8) -> bool {
    b >= b'!' && b <= b'~' && b != b'+' && b != b'='
}

/// The length of `bytes` as xtext.
pub fn xtext_len(bytes: &[u8]) -> usize {
    bytes.iter().map(|&b| if is_xchar(b) { 1 } else { 3 }).sum()
}

/// Write `bytes` as xtext.
pub(crate) fn write_xtext(w: &mut LineWriter<'_>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if is_xchar(b) {
            w.put(&[b]);
        } else {
            w.put(&[b'+', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        }
    }
}

/// Encode `bytes` as xtext into `out`; returns the length, or `None` when `out` is too
/// small (nothing useful is written then).
///
/// ```
/// use wasm_smtp_core::dsn::xtext;
/// let mut buf = [0xa5u8; 32];
/// assert_eq!(xtext(b"a+b=c d", &mut buf), Some(13));
/// assert_eq!(&buf[..13], b"a+2Bb+3Dc+20d");
/// ```
pub fn xtext(bytes: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut w = LineWriter::new(out);
    write_xtext(&mut w, bytes);
    w.finish().ok()
}

/// Check an envelope identifier: not empty, printable ASCII (space allowed, it is
/// encoded), at most [`MAX_ENVID`] octets as xtext.
pub fn check_envid(envid: &str) -> Result<(), SmtpError> {
    let field = InputField::EnvelopeId;
    if envid.is_empty() {
        return Err(SmtpError::invalid(field, InvalidReason::Empty));
    }
    if envid.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
        let reason = if envid.is_ascii() {
            InvalidReason::ControlCharacter
        } else {
            InvalidReason::NonAscii
        };
        return Err(SmtpError::invalid(field, reason));
    }
    if xtext_len(envid.as_bytes()) > MAX_ENVID {
        return Err(SmtpError::invalid(field, InvalidReason::TooLong(MAX_ENVID)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"plain", b"plain"),
            (b"+", b"+2B"),
            (b"=", b"+3D"),
            (b" ", b"+20"),
            (b"\r\n", b"+0D+0A"),
            (b"\x7f\x80\xff", b"+7F+80+FF"),
            (b"!~", b"!~"),
            (b"a@b.c", b"a@b.c"),
        ];
        for (input, expected) in cases {
            let mut buf = [0xa5u8; 32];
            let n = xtext(input, &mut buf).unwrap();
            assert_eq!(&buf[..n], *expected, "{input:?}");
            assert_eq!(xtext_len(input), expected.len());
        }
        assert_eq!(xtext(b"++", &mut [0u8; 5]), None);
    }

    #[test]
    fn envid_rules() {
        assert_eq!(check_envid("QQ314159"), Ok(()));
        assert_eq!(check_envid(&"a".repeat(100)), Ok(()));
        let e = |r| Err(SmtpError::invalid(InputField::EnvelopeId, r));
        assert_eq!(check_envid(""), e(InvalidReason::Empty));
        assert_eq!(
            check_envid(&"a".repeat(101)),
            e(InvalidReason::TooLong(100))
        );
        // 34 pluses are 102 octets of xtext.
        assert_eq!(check_envid(&"+".repeat(34)), e(InvalidReason::TooLong(100)));
        assert_eq!(check_envid("a\r\nRSET"), e(InvalidReason::ControlCharacter));
        assert_eq!(check_envid("é"), e(InvalidReason::NonAscii));
    }

    #[test]
    fn notify_validity() {
        assert!(Notify::Never.is_valid());
        assert!(Notify::ALL.is_valid());
        assert!(!Notify::On {
            success: false,
            failure: false,
            delay: false
        }
        .is_valid());
    }
}
