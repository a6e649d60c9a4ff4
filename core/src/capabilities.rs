//! Capabilities advertised in the EHLO reply (RFC 5321 section 4.1.1.1).
//!
//! Each line after the first of a 250 EHLO reply is an `ehlo-keyword` with optional
//! parameters. Keywords compare case-insensitively (RFC 5321 section 2.4). Lines are folded
//! one at a time into a small fixed struct: no list of lines is ever kept.
//!
//! Unknown keywords are ignored; known ones with broken parameters (a `SIZE` number that
//! overflows `u64`, say) are a [`MalformedReply::BadCapability`] error.

use crate::error::MalformedReply;

/// SASL mechanisms this crate knows about (RFC 4954 `AUTH` parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login).
    Login,
    /// `XOAUTH2` (Google and Microsoft OAuth 2.0 bearer tokens; feature `auth-oauth`).
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628; feature `auth-oauth`).
    OAuthBearer,
    /// `CRAM-MD5` (RFC 2195; feature `auth-cram-md5`, for legacy servers).
    CramMd5,
    /// `SCRAM-SHA-256` (RFC 7677; feature `auth-scram`).
    ScramSha256,
}

impl Mechanism {
    const ALL: [Mechanism; 6] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
        Mechanism::CramMd5,
        Mechanism::ScramSha256,
    ];

    /// Whether the mechanism starts with a response from the client (RFC 4954 section
    /// 4's initial response): all but LOGIN and CRAM-MD5, where the server speaks first.
    pub const fn has_initial_response(self) -> bool {
        !matches!(self, Mechanism::Login | Mechanism::CramMd5)
    }

    /// The name used on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    fn from_name(name: &[u8]) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| name.eq_ignore_ascii_case(m.name().as_bytes()))
    }
}

/// A set of [`Mechanism`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mechanisms(u16);

impl Mechanisms {
    /// Whether `m` is in the set.
    pub const fn contains(self, m: Mechanism) -> bool {
        self.0 & m.bit() != 0
    }

    /// Add `m`.
    pub fn insert(&mut self, m: Mechanism) {
        self.0 |= m.bit();
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The mechanisms in the set.
    pub fn iter(self) -> impl Iterator<Item = Mechanism> {
        Mechanism::ALL
            .into_iter()
            .filter(move |m| self.contains(*m))
    }
}

/// Boolean service extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Capability {
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `CHUNKING` (RFC 3030).
    Chunking,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `AUTH` with at least one mechanism (RFC 4954).
    Auth,
    /// `SIZE` (RFC 1870), with or without a limit.
    Size,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
}

impl Capability {
    /// The keywords, in the order of the variants: keyword `i` is the variant with bit
    /// `1 << i`.
    const KEYWORDS: [&'static [u8]; 10] = [
        b"STARTTLS",
        b"PIPELINING",
        b"8BITMIME",
        b"SMTPUTF8",
        b"CHUNKING",
        b"DSN",
        b"ENHANCEDSTATUSCODES",
        b"AUTH",
        b"SIZE",
        b"BINARYMIME",
    ];

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

const _: () = assert!(
    Capability::StartTls as usize == 0
        && Capability::EnhancedStatusCodes as usize == 6
        && Capability::Auth as usize == 7
        && Capability::Size as usize == 8
        && Capability::BinaryMime as usize == 9
);

/// What the server offered in its last EHLO reply.
///
/// Reset to empty whenever the session starts over (after STARTTLS the client forgets
/// everything it learned in plaintext, RFC 3207 section 4.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Capabilities {
    flags: u16,
    size: Option<u64>,
    auth: Mechanisms,
}

impl Capabilities {
    /// No capabilities (what a HELO session or a fresh session has).
    pub const fn new() -> Self {
        Capabilities {
            flags: 0,
            size: None,
            auth: Mechanisms(0),
        }
    }

    /// Whether the server offered `cap`.
    pub const fn has(&self, cap: Capability) -> bool {
        self.flags & cap.bit() != 0
    }

    /// The SIZE limit in octets, when the server gave a non-zero one (`SIZE 0` and bare
    /// `SIZE` mean no fixed limit).
    pub const fn size_limit(&self) -> Option<u64> {
        self.size
    }

    /// The AUTH mechanisms offered.
    pub const fn auth_mechanisms(&self) -> Mechanisms {
        self.auth
    }

    fn set(&mut self, cap: Capability) {
        self.flags |= cap.bit();
    }

    /// Fold one EHLO line's text (a line after the first) into the set.
    ///
    /// ```
    /// use wasm_smtp_core::capabilities::{Capabilities, Capability, Mechanism};
    /// # fn main() -> Result<(), wasm_smtp_core::error::MalformedReply> {
    /// let mut caps = Capabilities::new();
    /// caps.fold_line(b"size 35882577")?;
    /// caps.fold_line(b"Auth PLAIN login XOAUTH2")?;
    /// caps.fold_line(b"STARTTLS")?;
    /// assert_eq!(caps.size_limit(), Some(35882577));
    /// assert!(caps.auth_mechanisms().contains(Mechanism::Login));
    /// assert!(caps.has(Capability::StartTls));
    /// # Ok(())
    /// # }
    /// ```
    // Called once per EHLO line; not inlined: a smaller firmware.
    #[inline(never)]
    pub fn fold_line(&mut self, line: &[u8]) -> Result<(), MalformedReply> {
        let line = trim(line);
        let (keyword, params) = match line
            .iter()
            .position(|&b| b == b' ' || b == b'=')
            .and_then(|i| line.split_at_checked(i))
        {
            Some((keyword, [_, params @ ..])) => (keyword, params),
            _ => (line, &[][..]),
        };
        // Unknown keywords, and empty lines (no keyword is empty), carry nothing; a bad
        // keyword is not worth failing the session.
        let Some(i) = Capability::KEYWORDS
            .iter()
            .position(|name| keyword.eq_ignore_ascii_case(name))
        else {
            return Ok(());
        };
        if i == Capability::Size as usize {
            self.set(Capability::Size);
            let params = trim(params);
            if !params.is_empty() {
                let n = parse_u64(params).ok_or(MalformedReply::BadCapability)?;
                self.size = if n == 0 { None } else { Some(n) };
            }
        } else if i == Capability::Auth as usize {
            // Also covers the pre-standard `AUTH=PLAIN LOGIN` form. Empty names (runs of
            // spaces) match no mechanism.
            for name in params.split(|&b| b == b' ') {
                if let Some(m) = Mechanism::from_name(name) {
                    self.auth.insert(m);
                }
            }
            if !self.auth.is_empty() {
                self.set(Capability::Auth);
            }
        } else {
            self.flags |= 1 << i;
        }
        Ok(())
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parse a decimal `u64` with overflow checks; only ASCII digits allowed.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(lines: &[&[u8]]) -> Result<Capabilities, MalformedReply> {
        let mut c = Capabilities::new();
        for l in lines {
            c.fold_line(l)?;
        }
        Ok(c)
    }

    #[test]
    fn flags_case_insensitive() {
        let c = caps(&[
            b"starttls",
            b"Pipelining",
            b"8bitmime",
            b"SMTPUTF8",
            b"chunking",
            b"DSN",
            b"EnhancedStatusCodes",
        ])
        .unwrap();
        for cap in [
            Capability::StartTls,
            Capability::Pipelining,
            Capability::EightBitMime,
            Capability::SmtpUtf8,
            Capability::Chunking,
            Capability::Dsn,
            Capability::EnhancedStatusCodes,
        ] {
            assert!(c.has(cap), "{cap:?}");
        }
        assert!(!c.has(Capability::Auth));
        assert!(!c.has(Capability::Size));
    }

    #[test]
    fn keyword_must_match_whole() {
        let c = caps(&[b"STARTTLSX", b"XSTARTTLS", b"PIPELINING-2"]).unwrap();
        assert!(!c.has(Capability::StartTls));
        assert!(!c.has(Capability::Pipelining));
    }

    #[test]
    fn size() {
        assert_eq!(caps(&[b"SIZE 1000"]).unwrap().size_limit(), Some(1000));
        assert_eq!(caps(&[b"SIZE"]).unwrap().size_limit(), None);
        assert!(caps(&[b"SIZE"]).unwrap().has(Capability::Size));
        assert_eq!(caps(&[b"SIZE 0"]).unwrap().size_limit(), None);
        assert_eq!(
            caps(&[b"SIZE 18446744073709551615"]).unwrap().size_limit(),
            Some(u64::MAX)
        );
        assert_eq!(
            caps(&[b"SIZE 18446744073709551616"]),
            Err(MalformedReply::BadCapability)
        );
        assert_eq!(
            caps(&[b"SIZE 99999999999999999999999999"]),
            Err(MalformedReply::BadCapability)
        );
        assert_eq!(caps(&[b"SIZE -1"]), Err(MalformedReply::BadCapability));
        assert_eq!(caps(&[b"SIZE 12ab"]), Err(MalformedReply::BadCapability));
    }

    #[test]
    fn auth_mechanisms() {
        let c = caps(&[b"AUTH LOGIN plain  CRAM-MD5 GSSAPI"]).unwrap();
        let m = c.auth_mechanisms();
        assert!(m.contains(Mechanism::Plain));
        assert!(m.contains(Mechanism::Login));
        assert!(m.contains(Mechanism::CramMd5));
        assert!(!m.contains(Mechanism::XOAuth2));
        assert!(c.has(Capability::Auth));
        let c = caps(&[b"AUTH=PLAIN XOAUTH2"]).unwrap();
        assert!(c.auth_mechanisms().contains(Mechanism::XOAuth2));
        // AUTH with only unknown mechanisms is as good as no AUTH.
        assert!(!caps(&[b"AUTH GSSAPI NTLM"]).unwrap().has(Capability::Auth));
        // hundreds of mechanisms: folded without any buffer
        let mut line = std::vec::Vec::from(&b"AUTH"[..]);
        for i in 0..500 {
            line.extend_from_slice(std::format!(" X-MECH-{i}").as_bytes());
        }
        line.extend_from_slice(b" PLAIN");
        assert!(caps(&[&line])
            .unwrap()
            .auth_mechanisms()
            .contains(Mechanism::Plain));
    }

    #[test]
    fn empty_and_junk_lines_are_ignored() {
        let c = caps(&[b"", b"   ", b"\xff\xfe", b"X-FOO bar"]).unwrap();
        assert_eq!(c, Capabilities::new());
    }
}
