//! SMTP commands (RFC 5321 section 4.1) and their encoding into a caller buffer.
//!
//! Arguments are validated by [`crate::address`] before a command is built; encoding then
//! runs one final check on the whole line: the only CR and the only LF are the
//! terminating CRLF, and no other control byte is present. A line that fails the check is
//! never returned (the error is [`SmtpError::InvalidInput`]).
//!
//! AUTH lines that carry credentials are not built here: [`crate::auth`] streams them so
//! that secrets of any length pass through a fixed buffer.

use crate::capabilities::Mechanism;
use crate::error::{InputField, InvalidReason, SmtpError};
use core::marker::PhantomData;

/// Parameters of `MAIL FROM` (RFC 5321 `Mail-parameters`). Each is written only when
/// set; the client sets them from the server's capabilities and the message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailParams<'a> {
    /// `SIZE=n` (RFC 1870): the message size in octets.
    pub size: Option<u64>,
    /// `BODY=8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=FULL` / `RET=HDRS` (RFC 3461).
    #[cfg(feature = "dsn")]
    pub ret: Option<crate::dsn::Ret>,
    /// `ENVID=xtext` (RFC 3461); validate with [`crate::dsn::check_envid`] first.
    #[cfg(feature = "dsn")]
    pub envid: Option<&'a str>,
    _borrow: PhantomData<&'a str>,
}

/// Parameters of `RCPT TO` (RFC 5321 `Rcpt-parameters`): only DSN ones exist here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RcptParams {
    /// `NOTIFY=...` (RFC 3461).
    #[cfg(feature = "dsn")]
    pub notify: Option<crate::dsn::Notify>,
    /// `ORCPT=rfc822;<the recipient as xtext>` (RFC 3461), for ASCII addresses.
    #[cfg(feature = "dsn")]
    pub orcpt: bool,
}

/// One SMTP command without secret content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `EHLO domain`.
    Ehlo(&'a str),
    /// `HELO domain`.
    Helo(&'a str),
    /// `STARTTLS`.
    StartTls,
    /// `AUTH mechanism` with no initial response.
    Auth(Mechanism),
    /// `MAIL FROM:<path>` with parameters.
    Mail {
        /// The reverse-path without brackets (empty for `<>`).
        from: &'a str,
        /// The parameters.
        params: MailParams<'a>,
    },
    /// `RCPT TO:<path>` with parameters.
    Rcpt {
        /// The forward-path without brackets.
        to: &'a str,
        /// The parameters.
        params: RcptParams,
    },
    /// `BDAT size [LAST]` (RFC 3030): the chunk of `size` octets follows the line.
    Bdat {
        /// The chunk size in octets.
        size: u64,
        /// The last chunk of the message.
        last: bool,
    },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

/// Writes into a fixed slice; keeps counting past the end so that the error can say how
/// much room was needed.
pub(crate) struct LineWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> LineWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        LineWriter { buf, pos: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }

    /// Write `n` in decimal.
    pub(crate) fn put_u64(&mut self, n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }

    #[cfg(feature = "dsn")]
    pub(crate) fn finish(self) -> Result<usize, SmtpError> {
        self.written().map(<[u8]>::len)
    }

    /// What was written, or how much room it needed.
    fn written(&self) -> Result<&[u8], SmtpError> {
        self.buf
            .get(..self.pos)
            .ok_or(SmtpError::BufferTooSmall { needed: self.pos })
    }
}

impl Command<'_> {
    /// Encode the command line, CRLF included, at the start of `out`. Returns its length.
    ///
    /// ```
    /// use wasm_smtp_core::command::{Command, RcptParams};
    /// # fn main() -> Result<(), wasm_smtp_core::SmtpError> {
    /// let mut buf = [0xa5u8; 64];
    /// let to = Command::Rcpt { to: "bob@example.com", params: RcptParams::default() };
    /// let n = to.encode(&mut buf)?;
    /// assert_eq!(&buf[..n], b"RCPT TO:<bob@example.com>\r\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, SmtpError> {
        let mut w = LineWriter::new(out);
        let field = self.write(&mut w);
        let line = w.written()?;
        check_line(line, field)?;
        Ok(line.len())
    }

    /// The length of the encoded line, CRLF included, without encoding it anywhere.
    pub fn encoded_len(&self) -> usize {
        let mut w = LineWriter::new(&mut []);
        self.write(&mut w);
        w.pos
    }

    /// Write the line; returns the field to blame if the final check fails.
    fn write(&self, w: &mut LineWriter<'_>) -> InputField {
        let field = match self {
            Command::Ehlo(domain) => {
                w.put(b"EHLO ");
                w.put(domain.as_bytes());
                InputField::EhloDomain
            }
            Command::Helo(domain) => {
                w.put(b"HELO ");
                w.put(domain.as_bytes());
                InputField::EhloDomain
            }
            Command::StartTls => {
                w.put(b"STARTTLS");
                InputField::EhloDomain
            }
            Command::Auth(m) => {
                w.put(b"AUTH ");
                w.put(m.name().as_bytes());
                InputField::Username
            }
            Command::Mail { from, params } => {
                w.put(b"MAIL FROM:<");
                w.put(from.as_bytes());
                w.put(b">");
                if let Some(size) = params.size {
                    w.put(b" SIZE=");
                    w.put_u64(size);
                }
                if params.eight_bit_mime {
                    w.put(b" BODY=8BITMIME");
                }
                if params.smtputf8 {
                    w.put(b" SMTPUTF8");
                }
                #[cfg(feature = "dsn")]
                {
                    if let Some(ret) = params.ret {
                        w.put(b" RET=");
                        w.put(ret.as_str().as_bytes());
                    }
                    if let Some(envid) = params.envid {
                        w.put(b" ENVID=");
                        crate::dsn::write_xtext(w, envid.as_bytes());
                    }
                }
                InputField::From
            }
            Command::Rcpt { to, params } => {
                w.put(b"RCPT TO:<");
                w.put(to.as_bytes());
                w.put(b">");
                #[cfg(feature = "dsn")]
                {
                    if let Some(notify) = params.notify {
                        notify.write(w);
                    }
                    if params.orcpt && to.is_ascii() {
                        w.put(b" ORCPT=rfc822;");
                        crate::dsn::write_xtext(w, to.as_bytes());
                    }
                }
                #[cfg(not(feature = "dsn"))]
                let _ = params;
                InputField::To(0)
            }
            Command::Bdat { size, last } => {
                w.put(b"BDAT ");
                w.put_u64(*size);
                if *last {
                    w.put(b" LAST");
                }
                InputField::Body
            }
            Command::Data => {
                w.put(b"DATA");
                InputField::Body
            }
            Command::Rset => {
                w.put(b"RSET");
                InputField::Body
            }
            Command::Noop => {
                w.put(b"NOOP");
                InputField::Body
            }
            Command::Quit => {
                w.put(b"QUIT");
                InputField::Body
            }
        };
        w.put(b"\r\n");
        field
    }
}

/// The final check on an encoded command line: it ends in CRLF, and contains no other
/// CR, LF, NUL or control byte (tabs and DEL included).
pub fn check_line(line: &[u8], field: InputField) -> Result<(), SmtpError> {
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return Err(SmtpError::invalid(field, InvalidReason::ControlCharacter));
    };
    if body.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(SmtpError::invalid(field, InvalidReason::ControlCharacter));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(from: &str) -> Command<'_> {
        let params = MailParams {
            smtputf8: true,
            ..MailParams::default()
        };
        Command::Mail { from, params }
    }

    fn rcpt(to: &str) -> Command<'_> {
        Command::Rcpt {
            to,
            params: RcptParams::default(),
        }
    }

    fn enc(c: Command<'_>) -> std::vec::Vec<u8> {
        let mut buf = [0xa5u8; 600];
        let n = c.encode(&mut buf).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn encodings() {
        assert_eq!(enc(Command::Ehlo("c.example")), b"EHLO c.example\r\n");
        assert_eq!(enc(Command::Helo("c.example")), b"HELO c.example\r\n");
        assert_eq!(enc(Command::StartTls), b"STARTTLS\r\n");
        assert_eq!(enc(Command::Auth(Mechanism::Login)), b"AUTH LOGIN\r\n");
        assert_eq!(enc(Command::Data), b"DATA\r\n");
        assert_eq!(enc(Command::Rset), b"RSET\r\n");
        assert_eq!(enc(Command::Noop), b"NOOP\r\n");
        assert_eq!(enc(Command::Quit), b"QUIT\r\n");
    }

    #[test]
    fn parameters() {
        let mut p = MailParams::default();
        assert_eq!(
            enc(Command::Mail {
                from: "a@b",
                params: p
            }),
            b"MAIL FROM:<a@b>\r\n"
        );
        p.size = Some(18_446_744_073_709_551_615);
        p.eight_bit_mime = true;
        p.smtputf8 = true;
        assert_eq!(
            enc(Command::Mail {
                from: "",
                params: p
            }),
            &b"MAIL FROM:<> SIZE=18446744073709551615 BODY=8BITMIME SMTPUTF8\r\n"[..]
        );
        p.size = Some(0);
        assert!(enc(Command::Mail {
            from: "",
            params: p
        })
        .starts_with(b"MAIL FROM:<> SIZE=0 "));
        assert_eq!(
            enc(Command::Rcpt {
                to: "a@b",
                params: RcptParams::default()
            }),
            b"RCPT TO:<a@b>\r\n"
        );
        assert_eq!(
            enc(Command::Bdat {
                size: 0,
                last: true
            }),
            b"BDAT 0 LAST\r\n"
        );
        assert_eq!(
            enc(Command::Bdat {
                size: 1234,
                last: false
            }),
            b"BDAT 1234\r\n"
        );
    }

    #[cfg(feature = "dsn")]
    #[test]
    #[allow(clippy::field_reassign_with_default)]
    fn dsn_parameters() {
        use crate::dsn::{Notify, Ret};
        let mut p = MailParams::default();
        p.ret = Some(Ret::Headers);
        p.envid = Some("id+1=2 x");
        assert_eq!(
            enc(Command::Mail {
                from: "a@b",
                params: p
            }),
            &b"MAIL FROM:<a@b> RET=HDRS ENVID=id+2B1+3D2+20x\r\n"[..]
        );
        let mut r = RcptParams::default();
        r.notify = Some(Notify::On {
            success: true,
            failure: false,
            delay: true,
        });
        r.orcpt = true;
        assert_eq!(
            enc(Command::Rcpt {
                to: "b+tag@c",
                params: r
            }),
            &b"RCPT TO:<b+tag@c> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+2Btag@c\r\n"[..]
        );
        r.notify = Some(Notify::Never);
        assert_eq!(
            enc(Command::Rcpt {
                to: "b@c",
                params: r
            }),
            &b"RCPT TO:<b@c> NOTIFY=NEVER ORCPT=rfc822;b@c\r\n"[..]
        );
        // No ORCPT for a non-ASCII address (the RFC 6533 utf-8 form is not implemented).
        assert_eq!(
            enc(Command::Rcpt {
                to: "ü@c",
                params: r
            }),
            "RCPT TO:<ü@c> NOTIFY=NEVER\r\n".as_bytes()
        );
    }

    #[test]
    fn encoded_len_matches_encode() {
        for c in [
            Command::Ehlo("c.example"),
            Command::Auth(Mechanism::Plain),
            mail("a@b"),
            rcpt("bob@example.com"),
            Command::Quit,
        ] {
            assert_eq!(c.encoded_len(), enc(c).len(), "{c:?}");
        }
    }

    #[test]
    fn buffer_too_small_says_how_much() {
        let mut buf = [0u8; 10];
        assert_eq!(
            rcpt("bob@example.com").encode(&mut buf),
            Err(SmtpError::BufferTooSmall { needed: 27 })
        );
    }

    #[test]
    fn final_check_catches_unvalidated_injection() {
        let mut buf = [0u8; 100];
        for bad in ["a@b\r\nDATA", "a@b\n", "a\r@b", "a\t@b", "a\0"] {
            assert!(matches!(
                rcpt(bad).encode(&mut buf),
                Err(SmtpError::InvalidInput {
                    reason: InvalidReason::ControlCharacter,
                    ..
                })
            ));
        }
    }
}
