//! Validation of envelope paths and domains (RFC 5321 section 4.1.2, limits from section
//! 4.5.3.1, internationalized forms from RFC 6531).
//!
//! Validation happens before anything is written. It refuses, with a typed
//! [`InvalidReason`]:
//! - CR, LF, every other control character (C0, DEL and C1, plus U+2028/U+2029), so that
//!   no argument can inject a command;
//! - `<` and `>` inside a path, spaces outside a quoted local part;
//! - anything that is not an RFC 5321 `Mailbox` (`Dot-string` or `Quoted-string` local
//!   part, then `@`, then a domain or address literal);
//! - a local part over 64 octets, a domain over 255, a path over 256 (with `<>`).
//!
//! Non-ASCII text is valid grammar only under SMTPUTF8; [`check_mailbox`] reports whether
//! the address needs it and the caller decides (the client refuses it when the server does
//! not offer SMTPUTF8).

use crate::error::{InputField, InvalidReason, SmtpError};

/// Longest local part (RFC 5321 section 4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain (RFC 5321 section 4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest path including `<` and `>` (RFC 5321 section 4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// What [`check_mailbox`] found out about a valid address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxInfo {
    /// `true` when the address contains non-ASCII text and so needs SMTPUTF8.
    pub needs_smtputf8: bool,
    /// `true` for the null reverse-path `<>` (an empty sender).
    pub is_null: bool,
}

fn err(field: InputField, reason: InvalidReason) -> SmtpError {
    SmtpError::invalid(field, reason)
}

/// Whether `s` (valid UTF-8) holds a control character: C0, DEL, C1 (U+0080-U+009F,
/// `C2 80`-`C2 9F`), or the Unicode line and paragraph separators (U+2028, U+2029,
/// `E2 80 A8`-`E2 80 A9`). Works on bytes: in valid UTF-8, `C2` and `E2` are always
/// lead bytes, so the last two or three bytes seen identify the character exactly.
fn has_control(s: &[u8]) -> bool {
    let mut w: u32 = 0;
    s.iter().any(|&b| {
        w = (w << 8) | u32::from(b);
        b < 0x20
            || b == 0x7f
            || (0xc280..=0xc29f).contains(&(w & 0xffff))
            || (0xe2_80a8..=0xe2_80a9).contains(&(w & 0xff_ffff))
    })
}

/// Byte classes for ASCII, as bitmaps of 128 bits.
const fn class_map(chars: &[u8]) -> [u8; 16] {
    let mut map = [0u8; 16];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        let mut hit = b.is_ascii_alphanumeric();
        let mut j = 0;
        while j < chars.len() {
            hit |= chars[j] == b;
            j += 1;
        }
        if hit {
            map[i / 8] |= 1 << (i % 8);
        }
        i += 1;
    }
    map
}

/// RFC 5321 `atext` (RFC 5322 section 3.2.3), ASCII part.
const ATEXT: [u8; 16] = class_map(b"!#$%&'*+-/=?^_`{|}~");
/// Letters, digits and hyphen (domain labels).
const LDH: [u8; 16] = class_map(b"-");
/// What an address literal may hold.
const LITERAL: [u8; 16] = class_map(b".:-");

/// Whether ASCII byte `b` is in `map` (bytes from 0x80 never are).
fn in_class(map: &[u8; 16], b: u8) -> bool {
    b < 0x80 && map[usize::from(b >> 3) & 15] & (1 << (b & 7)) != 0
}

/// The reason to give for a byte the grammar does not allow.
fn bad_byte(b: u8) -> InvalidReason {
    if b == b' ' || b == b'<' || b == b'>' {
        InvalidReason::ForbiddenCharacter
    } else {
        InvalidReason::Syntax
    }
}

fn check_local_part(local: &[u8]) -> Result<(), InvalidReason> {
    if local.len() > MAX_LOCAL_PART {
        return Err(InvalidReason::TooLong(MAX_LOCAL_PART));
    }
    if let [b'"', inner @ .., b'"'] = local {
        // Quoted-string: qtextSMTP or quoted-pair.
        let mut escaped = false;
        for &b in inner {
            let printable = b >= 0x20 && b != 0x7f;
            if !printable || (!escaped && b == b'"') {
                return Err(InvalidReason::Syntax);
            }
            escaped = !escaped && b == b'\\';
        }
        return if escaped {
            Err(InvalidReason::Syntax)
        } else {
            Ok(())
        };
    }
    // Dot-string: atoms separated by single dots (an empty local part is one empty atom).
    let mut atom_start = true;
    for &b in local {
        if b == b'.' {
            if atom_start {
                return Err(InvalidReason::Syntax);
            }
            atom_start = true;
        } else if in_class(&ATEXT, b) || b >= 0x80 {
            atom_start = false;
        } else {
            return Err(bad_byte(b));
        }
    }
    if atom_start {
        return Err(InvalidReason::Syntax);
    }
    Ok(())
}

/// Check a domain name or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
///
/// With `allow_utf8`, labels may hold non-ASCII characters (U-labels, RFC 6531);
/// otherwise only letters, digits and hyphens. The return value tells whether the domain
/// is non-ASCII.
pub fn check_domain(domain: &str, field: InputField, allow_utf8: bool) -> Result<bool, SmtpError> {
    let bytes = domain.as_bytes();
    if has_control(bytes) {
        return Err(err(field, InvalidReason::ControlCharacter));
    }
    domain_syntax(bytes, allow_utf8).map_err(|r| err(field, r))
}

/// [`check_domain`] after the control character check.
fn domain_syntax(bytes: &[u8], allow_utf8: bool) -> Result<bool, InvalidReason> {
    if bytes.is_empty() {
        return Err(InvalidReason::Empty);
    }
    if bytes.len() > MAX_DOMAIN {
        return Err(InvalidReason::TooLong(MAX_DOMAIN));
    }
    if let [b'[', inner @ .., b']'] = bytes {
        return if !inner.is_empty() && inner.iter().all(|&b| in_class(&LITERAL, b)) {
            Ok(false)
        } else {
            Err(InvalidReason::Syntax)
        };
    }
    let mut non_ascii = false;
    for label in bytes.split(|&b| b == b'.') {
        if label.is_empty() || label.len() > 63 {
            return Err(InvalidReason::Syntax);
        }
        if label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return Err(InvalidReason::Syntax);
        }
        for &b in label {
            if b >= 0x80 {
                non_ascii = true;
            } else if !in_class(&LDH, b) {
                return Err(bad_byte(b));
            }
        }
    }
    if non_ascii && !allow_utf8 {
        return Err(InvalidReason::NonAscii);
    }
    Ok(non_ascii)
}

/// Check an address for `MAIL FROM` (`allow_null`: the empty string means the null
/// reverse-path `<>`) or `RCPT TO` (where the special `Postmaster` is allowed without a
/// domain, RFC 5321 section 4.1.1.3).
///
/// The address is given without angle brackets.
///
/// ```
/// use wasm_smtp_core::address::check_mailbox;
/// use wasm_smtp_core::error::{InputField, InvalidReason, SmtpError};
/// assert!(check_mailbox("alice@example.com", InputField::From, false).is_ok());
/// assert_eq!(
///     check_mailbox("alice@example.com>\r\nRCPT TO:<x@y", InputField::From, false),
///     Err(SmtpError::InvalidInput { field: InputField::From, reason: InvalidReason::ControlCharacter })
/// );
/// ```
pub fn check_mailbox(
    addr: &str,
    field: InputField,
    allow_null: bool,
) -> Result<MailboxInfo, SmtpError> {
    mailbox(addr.as_bytes(), allow_null).map_err(|r| err(field, r))
}

fn mailbox(bytes: &[u8], allow_null: bool) -> Result<MailboxInfo, InvalidReason> {
    if has_control(bytes) {
        return Err(InvalidReason::ControlCharacter);
    }
    if bytes.is_empty() {
        return if allow_null {
            Ok(MailboxInfo {
                needs_smtputf8: false,
                is_null: true,
            })
        } else {
            Err(InvalidReason::Empty)
        };
    }
    if bytes.len() > MAX_PATH - 2 {
        return Err(InvalidReason::TooLong(MAX_PATH - 2));
    }
    // Angle brackets can only appear inside a quoted local part; refuse them anywhere
    // to keep the path unambiguous for every server.
    if bytes.iter().any(|&b| b == b'<' || b == b'>') {
        return Err(InvalidReason::ForbiddenCharacter);
    }
    if !allow_null && bytes.eq_ignore_ascii_case(b"postmaster") {
        return Ok(MailboxInfo {
            needs_smtputf8: false,
            is_null: false,
        });
    }
    let Some(at) = bytes.iter().rposition(|&b| b == b'@') else {
        return Err(InvalidReason::Syntax);
    };
    let Some((local, [_, domain @ ..])) = bytes.split_at_checked(at) else {
        return Err(InvalidReason::Syntax);
    };
    check_local_part(local)?;
    let domain_utf8 = domain_syntax(domain, true)?;
    Ok(MailboxInfo {
        needs_smtputf8: domain_utf8 || !local.is_ascii(),
        is_null: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const F: InputField = InputField::From;

    fn reason(addr: &str) -> Option<InvalidReason> {
        match check_mailbox(addr, F, false) {
            Ok(_) => None,
            Err(SmtpError::InvalidInput { reason, .. }) => Some(reason),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn valid_addresses() {
        for a in [
            "a@b",
            "alice@example.com",
            "first.last+tag@sub.example.co.uk",
            "\"john doe\"@example.com",
            "\"a\\\"b\"@example.com",
            "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]",
            "!#$%&'*+-/=?^_`{|}~@example.com",
            "Postmaster",
        ] {
            assert_eq!(reason(a), None, "{a}");
        }
        let info = check_mailbox("jürgen@bücher.de", F, false).unwrap();
        assert!(info.needs_smtputf8);
        assert!(check_mailbox("", F, true).unwrap().is_null);
    }

    #[test]
    fn injection_is_refused() {
        use InvalidReason::*;
        let cases: &[(&str, InvalidReason)] = &[
            ("a@b\r\nRCPT TO:<evil@x>", ControlCharacter),
            ("a@b\nDATA", ControlCharacter),
            ("a@b\r", ControlCharacter),
            ("a\0@b", ControlCharacter),
            ("a\x7f@b", ControlCharacter),
            ("a@b\u{85}", ControlCharacter),
            ("a@b\u{2028}x", ControlCharacter),
            ("a\t@b", ControlCharacter),
            ("a>@b", ForbiddenCharacter),
            ("<a@b", ForbiddenCharacter),
            ("a@b> SIZE=1", ForbiddenCharacter),
            ("a b@c", ForbiddenCharacter),
            ("a@b c", ForbiddenCharacter),
            ("", Empty),
            ("ab", Syntax),
            ("@b", Syntax),
            ("a@", Empty),
            ("a..b@c", Syntax),
            (".a@c", Syntax),
            ("a@-b.c", Syntax),
            ("a@b..c", Syntax),
            ("a@b_c", Syntax),
            ("\"unterminated@b", Syntax),
            ("a@[]", Syntax),
        ];
        for (a, r) in cases {
            assert_eq!(reason(a), Some(*r), "{a:?}");
        }
    }

    #[test]
    fn length_limits() {
        let local = "a".repeat(64);
        assert_eq!(reason(&std::format!("{local}@b")), None);
        let local = "a".repeat(65);
        assert_eq!(
            reason(&std::format!("{local}@b")),
            Some(InvalidReason::TooLong(64))
        );
        let label = "a".repeat(63);
        let domain = [label.as_str(); 4].join(".");
        assert_eq!(domain.len(), 255);
        assert_eq!(
            check_domain(&domain, InputField::EhloDomain, false),
            Ok(false)
        );
        assert_eq!(
            check_domain(&std::format!("{domain}a"), InputField::EhloDomain, false),
            Err(err(InputField::EhloDomain, InvalidReason::TooLong(255)))
        );
        let addr = std::format!(
            "{}@{}",
            "a".repeat(60),
            "b".repeat(60) + "." + &"c".repeat(60) + "." + &"d".repeat(60) + "." + &"e".repeat(20)
        );
        assert!(addr.len() > 254);
        assert_eq!(reason(&addr), Some(InvalidReason::TooLong(254)));
    }

    #[test]
    fn ehlo_domain_rules() {
        let f = InputField::EhloDomain;
        assert_eq!(check_domain("client.example.com", f, false), Ok(false));
        assert_eq!(check_domain("[127.0.0.1]", f, false), Ok(false));
        assert_eq!(
            check_domain("bücher.de", f, false),
            Err(err(f, InvalidReason::NonAscii))
        );
        assert_eq!(
            check_domain("a.b\r\nMAIL FROM:<x>", f, false),
            Err(err(f, InvalidReason::ControlCharacter))
        );
        // U+010D has 0x0D as the low byte of its UTF-16 form: it is a letter, and as
        // UTF-8 (0xC4 0x8D) it contains no CR, so it is refused only as non-ASCII.
        assert_eq!(
            check_domain("\u{10d}.example", f, false),
            Err(err(f, InvalidReason::NonAscii))
        );
    }
}
