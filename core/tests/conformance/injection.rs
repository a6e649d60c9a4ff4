//! Injection through every caller input: the sender, each recipient position, the EHLO
//! domain, the AUTH user name and password, the XOAUTH2 user and token.
//!
//! Every evil shape is its own test, generated as a matrix (`input::shape`). Addresses
//! and the EHLO domain are refused before anything is written; credentials travel
//! base64-encoded (RFC 4954 section 4), so a line break in them cannot end the line:
//! they are either refused (the mechanism's separators, and for XOAUTH2 anything but
//! printable ASCII in the token) or sent as the exact base64 of their bytes.
//!
//! Then non-ASCII characters whose UTF-16 code unit or low byte looks like CR or LF
//! (`lookalike_*`): refused as non-ASCII without SMTPUTF8; with SMTPUTF8 sent as their
//! UTF-8 bytes, which are all 0x80 or above (RFC 3629 section 3), so never CR or LF.
//!
//! DSN and other ESMTP parameters: the API takes no caller-supplied parameter (the
//! client adds `SMTPUTF8` itself), so the only way to smuggle one is through a path,
//! which the `close_path_and_add_parameter` shape covers for every address input.

use crate::common::*;
use wasm_smtp_core::Mechanism;

/// What must happen to a value carrying an evil shape.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Refused before anything is written, for this reason.
    Refused(InvalidReason),
    /// Sent base64-encoded: exactly the expected AUTH line, nothing else.
    Encoded,
}
use Expect::{Encoded, Refused};
use InvalidReason::{ControlCharacter as Control, ForbiddenCharacter as Forbidden};

const SECRET: &str = "S3CR3T";

/// The evil shapes: text put before and after a valid value.
macro_rules! shape {
    (crlf) => {
        ("", "\r\nRCPT TO:<evil@example.net>")
    };
    (lf) => {
        ("", "\nDATA")
    };
    (cr) => {
        ("", "\rDATA")
    };
    (nul) => {
        ("", "\0evil")
    };
    (soh) => {
        ("", "\x01auth=Bearer evil")
    };
    (nel) => {
        ("", "\u{85}DATA")
    };
    (line_separator) => {
        ("", "\u{2028}DATA")
    };
    (paragraph_separator) => {
        ("", "\u{2029}DATA")
    };
    (close_path_and_add_parameter) => {
        ("", "> SIZE=1 NOTIFY=NEVER")
    };
    (del) => {
        ("", "\x7f")
    };
    (tab) => {
        ("", "\tx")
    };
    (angle_brackets) => {
        ("<", ">")
    };
}

/// What each shape is, with its reference.
macro_rules! shape_doc {
    (crlf) => {
        "Shape: CR LF and a whole command after it (RFC 5321 section 2.3.8: CRLF ends a command line, what follows would be a second command)."
    };
    (lf) => {
        "Shape: a bare LF and `DATA` (RFC 5321 section 2.3.8; some servers end a line at a bare LF)."
    };
    (cr) => {
        "Shape: a bare CR and `DATA` (RFC 5321 section 2.3.8)."
    };
    (nul) => {
        "Shape: NUL (RFC 5321 section 4.1.2: no control characters in a path; the PLAIN separator of RFC 4616 section 2)."
    };
    (soh) => {
        "Shape: SOH 0x01 and an extra key (the XOAUTH2 / RFC 7628 section 3.1 key-value separator)."
    };
    (nel) => {
        "Shape: U+0085 NEXT LINE, a C1 control that Unicode-aware software may treat as a line break."
    };
    (line_separator) => {
        "Shape: U+2028 LINE SEPARATOR, a line break for Unicode-aware software."
    };
    (paragraph_separator) => {
        "Shape: U+2029 PARAGRAPH SEPARATOR, a line break for Unicode-aware software."
    };
    (close_path_and_add_parameter) => {
        "Shape: `>` closing the path early, then ESMTP parameters (RFC 5321 section 4.1.2 Path, 4.1.1.2 Mail-parameters; RFC 3461 NOTIFY)."
    };
    (del) => {
        "Shape: DEL 0x7F, a control character (RFC 5321 section 4.1.2)."
    };
    (tab) => {
        "Shape: HT 0x09, white space inside the value (RFC 5321 section 4.1.2)."
    };
    (angle_brackets) => {
        "Shape: the value wrapped in its own `<` `>`, a path inside the path (RFC 5321 section 4.1.2)."
    };
}

/// One module per input, one test per shape, each with the expected outcome.
macro_rules! matrix {
    ($input:ident, $input_doc:literal, [$($shape:ident => $expect:expr),* $(,)?]) => {
        #[doc = $input_doc]
        mod $input {
            use super::*;
            $(
                #[doc = concat!($input_doc, " ", shape_doc!($shape))]
                #[test]
                fn $shape() {
                    let (prefix, suffix) = shape!($shape);
                    check::$input(prefix, suffix, $expect);
                }
            )*
        }
    };
}

/// The checks behind each input of the matrix.
mod check {
    use super::*;

    fn refused_reason(expect: Expect) -> InvalidReason {
        match expect {
            Refused(reason) => reason,
            Encoded => panic!("addresses and domains are never encoded"),
        }
    }

    fn address(
        to: impl Fn(&str) -> Vec<String>,
        from: impl Fn(&str) -> String,
        value: &str,
        field: InputField,
        reason: InvalidReason,
    ) {
        let (t, h) = tls(&[]).build();
        let mut c = connect(t).unwrap();
        let to = to(value);
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let e = block_on(c.send_mail(&from(value), &to, MSG)).unwrap_err();
        assert_eq!(e, SmtpError::InvalidInput { field, reason }, "{value:?}");
        assert!(
            !c.is_closed(),
            "a refused argument leaves the session usable"
        );
        h.assert_done();
    }

    pub fn mail_from(prefix: &str, suffix: &str, expect: Expect) {
        let value = format!("{prefix}alice@example.com{suffix}");
        address(
            |_| vec![TO.into()],
            |v| v.into(),
            &value,
            InputField::From,
            refused_reason(expect),
        );
    }

    pub fn rcpt_only(prefix: &str, suffix: &str, expect: Expect) {
        let value = format!("{prefix}bob@example.com{suffix}");
        address(
            |v| vec![v.into()],
            |_| FROM.into(),
            &value,
            InputField::To(0),
            refused_reason(expect),
        );
    }

    pub fn rcpt_third(prefix: &str, suffix: &str, expect: Expect) {
        let value = format!("{prefix}dave@example.com{suffix}");
        address(
            |v| vec![TO.into(), "carol@example.com".into(), v.into()],
            |_| FROM.into(),
            &value,
            InputField::To(2),
            refused_reason(expect),
        );
    }

    pub fn ehlo_domain(prefix: &str, suffix: &str, expect: Expect) {
        let value = format!("{prefix}client.example.com{suffix}");
        // Nothing is read either: the argument is checked before the greeting.
        let (t, h) = Script::new().implicit_tls().build();
        assert_eq!(
            block_on(SmtpClient::connect(t, &value)).unwrap_err(),
            SmtpError::InvalidInput {
                field: InputField::EhloDomain,
                reason: refused_reason(expect)
            },
            "{value:?}"
        );
        h.assert_done();
    }

    /// Log in with `mech`; `Encoded` expects the exact AUTH exchange of the mock's
    /// helpers (base64 of the exact bytes), `Refused` an error naming `field` and
    /// showing neither value.
    fn credentials(mech: Mechanism, user: &str, secret: &str, field: InputField, expect: Expect) {
        let s = tls(&["AUTH PLAIN LOGIN XOAUTH2"]);
        let s = match (expect, mech) {
            (Refused(_), _) => s,
            (Encoded, Mechanism::Plain) => s.auth_plain(user, secret),
            (Encoded, Mechanism::Login) => s.auth_login(user, secret),
            (Encoded, _) => s.auth_xoauth2(user, secret),
        };
        let (t, h) = s.build();
        let mut c = connect(t).unwrap();
        let result = block_on(c.login_with(mech, user, secret));
        match expect {
            Encoded => {
                result.unwrap();
                assert_only_crlf(&h.written());
            }
            Refused(reason) => {
                let e = result.unwrap_err();
                assert_eq!(e, SmtpError::InvalidInput { field, reason });
                assert_no_secret(&e, &[user, secret, &base64(secret.as_bytes())]);
                assert!(!c.is_closed());
            }
        }
        h.assert_done();
    }

    pub fn plain_user(prefix: &str, suffix: &str, expect: Expect) {
        let user = format!("{prefix}alice{suffix}");
        credentials(
            Mechanism::Plain,
            &user,
            SECRET,
            InputField::Username,
            expect,
        );
    }

    pub fn plain_password(prefix: &str, suffix: &str, expect: Expect) {
        let secret = format!("{prefix}{SECRET}{suffix}");
        credentials(
            Mechanism::Plain,
            "alice",
            &secret,
            InputField::Secret,
            expect,
        );
    }

    pub fn login_user(prefix: &str, suffix: &str, expect: Expect) {
        let user = format!("{prefix}alice{suffix}");
        credentials(
            Mechanism::Login,
            &user,
            SECRET,
            InputField::Username,
            expect,
        );
    }

    pub fn login_password(prefix: &str, suffix: &str, expect: Expect) {
        let secret = format!("{prefix}{SECRET}{suffix}");
        credentials(
            Mechanism::Login,
            "alice",
            &secret,
            InputField::Secret,
            expect,
        );
    }

    #[cfg(feature = "auth-oauth")]
    pub fn xoauth2_user(prefix: &str, suffix: &str, expect: Expect) {
        let user = format!("{prefix}alice@example.com{suffix}");
        credentials(
            Mechanism::XOAuth2,
            &user,
            SECRET,
            InputField::Username,
            expect,
        );
    }

    #[cfg(feature = "auth-oauth")]
    pub fn xoauth2_token(prefix: &str, suffix: &str, expect: Expect) {
        let secret = format!("{prefix}{SECRET}{suffix}");
        credentials(
            Mechanism::XOAuth2,
            "alice@example.com",
            &secret,
            InputField::Secret,
            expect,
        );
    }
}

matrix!(
    mail_from,
    "RFC 5321 section 4.1.1.2 (MAIL FROM reverse-path), the `from` argument of `send_mail`: refused before anything is written.",
    [
        crlf => Refused(Control),
        lf => Refused(Control),
        cr => Refused(Control),
        nul => Refused(Control),
        soh => Refused(Control),
        nel => Refused(Control),
        line_separator => Refused(Control),
        paragraph_separator => Refused(Control),
        close_path_and_add_parameter => Refused(Forbidden),
        del => Refused(Control),
        tab => Refused(Control),
        angle_brackets => Refused(Forbidden),
    ]
);

matrix!(
    rcpt_only,
    "RFC 5321 section 4.1.1.3 (RCPT TO forward-path), the only recipient: refused before anything is written.",
    [
        crlf => Refused(Control),
        lf => Refused(Control),
        cr => Refused(Control),
        nul => Refused(Control),
        soh => Refused(Control),
        nel => Refused(Control),
        line_separator => Refused(Control),
        paragraph_separator => Refused(Control),
        close_path_and_add_parameter => Refused(Forbidden),
        del => Refused(Control),
        tab => Refused(Control),
        angle_brackets => Refused(Forbidden),
    ]
);

matrix!(
    rcpt_third,
    "RFC 5321 section 4.1.1.3, the third recipient after two valid ones: the whole envelope is checked first, so nothing at all is written, not even MAIL FROM.",
    [
        crlf => Refused(Control),
        lf => Refused(Control),
        cr => Refused(Control),
        nul => Refused(Control),
        soh => Refused(Control),
        nel => Refused(Control),
        line_separator => Refused(Control),
        paragraph_separator => Refused(Control),
        close_path_and_add_parameter => Refused(Forbidden),
        del => Refused(Control),
        tab => Refused(Control),
        angle_brackets => Refused(Forbidden),
    ]
);

matrix!(
    ehlo_domain,
    "RFC 5321 section 4.1.1.1 (EHLO domain), the `ehlo_domain` argument of `connect`: refused before the greeting is even read.",
    [
        crlf => Refused(Control),
        lf => Refused(Control),
        cr => Refused(Control),
        nul => Refused(Control),
        soh => Refused(Control),
        nel => Refused(Control),
        line_separator => Refused(Control),
        paragraph_separator => Refused(Control),
        close_path_and_add_parameter => Refused(Forbidden),
        del => Refused(Control),
        tab => Refused(Control),
        angle_brackets => Refused(Forbidden),
    ]
);

matrix!(
    plain_user,
    "RFC 4616 section 2 (PLAIN: authzid NUL authcid NUL passwd), the user name of `login`: NUL is refused, everything else is sent as the exact base64 of its bytes (RFC 4954 section 4).",
    [
        crlf => Encoded,
        lf => Encoded,
        cr => Encoded,
        nul => Refused(Control),
        soh => Encoded,
        nel => Encoded,
        line_separator => Encoded,
        paragraph_separator => Encoded,
        close_path_and_add_parameter => Encoded,
        del => Encoded,
        tab => Encoded,
        angle_brackets => Encoded,
    ]
);

matrix!(
    plain_password,
    "RFC 4616 section 2, the password of `login`: NUL is refused, everything else is sent as the exact base64 of its bytes (RFC 4954 section 4).",
    [
        crlf => Encoded,
        lf => Encoded,
        cr => Encoded,
        nul => Refused(Control),
        soh => Encoded,
        nel => Encoded,
        line_separator => Encoded,
        paragraph_separator => Encoded,
        close_path_and_add_parameter => Encoded,
        del => Encoded,
        tab => Encoded,
        angle_brackets => Encoded,
    ]
);

matrix!(
    login_user,
    "RFC 4954 section 4 (each response is one base64 line), the user name with LOGIN: NUL is refused, everything else is sent as the exact base64 of its bytes.",
    [
        crlf => Encoded,
        lf => Encoded,
        cr => Encoded,
        nul => Refused(Control),
        soh => Encoded,
        nel => Encoded,
        line_separator => Encoded,
        paragraph_separator => Encoded,
        close_path_and_add_parameter => Encoded,
        del => Encoded,
        tab => Encoded,
        angle_brackets => Encoded,
    ]
);

matrix!(
    login_password,
    "RFC 4954 section 4, the password with LOGIN: NUL is refused, everything else is sent as the exact base64 of its bytes.",
    [
        crlf => Encoded,
        lf => Encoded,
        cr => Encoded,
        nul => Refused(Control),
        soh => Encoded,
        nel => Encoded,
        line_separator => Encoded,
        paragraph_separator => Encoded,
        close_path_and_add_parameter => Encoded,
        del => Encoded,
        tab => Encoded,
        angle_brackets => Encoded,
    ]
);

#[cfg(feature = "auth-oauth")]
matrix!(
    xoauth2_user,
    "XOAUTH2 (`user=` U SOH `auth=Bearer ` T SOH SOH, the RFC 7628 section 3.1 layout), the user name of `login_xoauth2`: NUL, SOH, CR and LF are refused, everything else is sent as the exact base64 of its bytes.",
    [
        crlf => Refused(Control),
        lf => Refused(Control),
        cr => Refused(Control),
        nul => Refused(Control),
        soh => Refused(Control),
        nel => Encoded,
        line_separator => Encoded,
        paragraph_separator => Encoded,
        close_path_and_add_parameter => Encoded,
        del => Encoded,
        tab => Encoded,
        angle_brackets => Encoded,
    ]
);

#[cfg(feature = "auth-oauth")]
matrix!(
    xoauth2_token,
    "XOAUTH2 with RFC 6750 section 2.1 (a bearer token is a b64token: printable ASCII), the token of `login_xoauth2`: anything but printable ASCII is refused, the rest is sent as the exact base64 of its bytes.",
    [
        crlf => Refused(Control),
        lf => Refused(Control),
        cr => Refused(Control),
        nul => Refused(Control),
        soh => Refused(Control),
        nel => Refused(Control),
        line_separator => Refused(Control),
        paragraph_separator => Refused(Control),
        close_path_and_add_parameter => Encoded,
        del => Refused(Control),
        tab => Refused(Control),
        angle_brackets => Encoded,
    ]
);

// ----- non-ASCII characters that look like CR or LF -----------------------------------------

/// `c` as UTF-8 has no byte below 0x80, so no CR or LF.
fn assert_utf8_safe(c: char) {
    let mut buf = [0u8; 4];
    let bytes = c.encode_utf8(&mut buf).as_bytes();
    assert!(
        bytes.len() > 1 && bytes.iter().all(|&b| b >= 0x80),
        "{bytes:x?}"
    );
}

/// Every CR and LF in `written` is part of a CRLF.
fn assert_only_crlf(written: &[u8]) {
    let crlf = written.windows(2).filter(|w| w == b"\r\n").count();
    let cr = written.iter().filter(|&&b| b == b'\r').count();
    let lf = written.iter().filter(|&&b| b == b'\n').count();
    assert_eq!((cr, lf), (crlf, crlf));
}

/// One module per lookalike character, with the same five cases.
macro_rules! lookalike {
    ($name:ident, $c:literal, $doc:literal) => {
        #[doc = $doc]
        mod $name {
            use super::*;

            #[doc = concat!("RFC 6531 (non-ASCII needs SMTPUTF8). ", $doc, " In the sender without SMTPUTF8: refused as non-ASCII, nothing written.")]
            #[test]
            fn mail_from_without_smtputf8() {
                let (t, h) = tls(&[]).build();
                let mut c = connect(t).unwrap();
                let from = format!("a{}b@example.com", $c);
                assert_eq!(
                    block_on(c.send_mail(&from, &[TO], MSG)),
                    Err(SmtpError::InvalidInput {
                        field: InputField::From,
                        reason: InvalidReason::NonAscii
                    })
                );
                h.assert_done();
            }

            #[doc = concat!("RFC 6531 and RFC 3629 section 3. ", $doc, " In the sender with SMTPUTF8: sent as its UTF-8 bytes, byte for byte.")]
            #[test]
            fn mail_from_with_smtputf8() {
                assert_utf8_safe($c);
                let from = format!("a{}b@example.com", $c);
                let (t, h) = tls(&["SMTPUTF8"])
                    .write(format!("MAIL FROM:<{from}> SMTPUTF8\r\n"))
                    .read(b"250 2.1.0 Ok\r\n")
                    .rcpt_to(TO)
                    .data()
                    .message("Subject: hi\r\n\r\nHello\r\n.\r\n")
                    .build();
                let mut c = connect(t).unwrap();
                block_on(c.send_mail(&from, &[TO], MSG)).unwrap();
                h.assert_done();
                assert_only_crlf(&h.written());
            }

            #[doc = concat!("RFC 6531 and RFC 3629 section 3. ", $doc, " In a recipient with SMTPUTF8: sent as its UTF-8 bytes, byte for byte.")]
            #[test]
            fn rcpt_with_smtputf8() {
                let to = format!("a{}b@example.com", $c);
                let (t, h) = tls(&["SMTPUTF8"])
                    .write("MAIL FROM:<alice@example.com> SMTPUTF8\r\n")
                    .read(b"250 2.1.0 Ok\r\n")
                    .rcpt_to(&to)
                    .data()
                    .message("Subject: hi\r\n\r\nHello\r\n.\r\n")
                    .build();
                let mut c = connect(t).unwrap();
                block_on(c.send_mail(FROM, &[&to], MSG)).unwrap();
                h.assert_done();
                assert_only_crlf(&h.written());
            }

            #[doc = concat!("RFC 5321 section 4.1.1.1 (EHLO takes an ASCII domain or address literal). ", $doc, " In the EHLO domain: refused as non-ASCII before anything is read.")]
            #[test]
            fn ehlo_domain() {
                let (t, h) = Script::new().implicit_tls().build();
                let domain = format!("{}.example.com", $c);
                assert_eq!(
                    block_on(SmtpClient::connect(t, &domain)).unwrap_err(),
                    SmtpError::InvalidInput {
                        field: InputField::EhloDomain,
                        reason: InvalidReason::NonAscii
                    }
                );
                h.assert_done();
            }

            #[doc = concat!("RFC 4616 section 2 (the password is UTF-8) and RFC 4954 section 4. ", $doc, " In a PLAIN password: sent as the exact base64 of its UTF-8 bytes.")]
            #[test]
            fn plain_password() {
                let secret = format!("pa{}ss", $c);
                let (t, h) = tls(&["AUTH PLAIN"]).auth_plain("alice", &secret).build();
                let mut c = connect(t).unwrap();
                block_on(c.login("alice", &secret)).unwrap();
                h.assert_done();
                assert_only_crlf(&h.written());
            }
        }
    };
}

lookalike!(
    lookalike_u010a,
    '\u{10A}',
    "U+010A LATIN CAPITAL LETTER C WITH DOT ABOVE: UTF-16 code unit 0x010A, low byte 0x0A (LF)."
);
lookalike!(
    lookalike_u010d,
    '\u{10D}',
    "U+010D LATIN SMALL LETTER C WITH CARON: UTF-16 code unit 0x010D, low byte 0x0D (CR)."
);
lookalike!(
    lookalike_u0a0d,
    '\u{A0D}',
    "U+0A0D (Gurmukhi block): UTF-16 bytes 0x0A 0x0D, LF and CR in reverse order."
);
lookalike!(
    lookalike_u0d0a,
    '\u{D0A}',
    "U+0D0A MALAYALAM LETTER UU: UTF-16 bytes 0x0D 0x0A, CR LF in big-endian order."
);
lookalike!(
    lookalike_u560a,
    '\u{560A}',
    "U+560A (CJK ideograph): UTF-16 low byte 0x0A (LF), the classic truncation to 8 bits."
);
lookalike!(
    lookalike_u240d,
    '\u{240D}',
    "U+240D SYMBOL FOR CARRIAGE RETURN: looks like CR, low byte 0x0D."
);
lookalike!(
    lookalike_uff0a,
    '\u{FF0A}',
    "U+FF0A FULLWIDTH ASTERISK: UTF-16 low byte 0x0A (LF)."
);

// ----- other limits on caller input -----------------------------------------------------------

/// RFC 4616 section 2 (authcid is not empty): an empty user name is refused before
/// anything is written, and the error shows no secret.
#[test]
fn empty_user_name() {
    let (t, h) = tls(&["AUTH PLAIN"]).build();
    let mut c = connect(t).unwrap();
    let e = block_on(c.login("", SECRET)).unwrap_err();
    assert_eq!(
        e,
        SmtpError::InvalidInput {
            field: InputField::Username,
            reason: InvalidReason::Empty
        }
    );
    assert_no_secret(&e, &[SECRET]);
    h.assert_done();
}

/// RFC 5321 section 4.1.1.3 (at least one RCPT before DATA): an empty recipient list is
/// refused before anything is written.
#[test]
fn no_recipients() {
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    assert_eq!(
        send(&mut c, &[], MSG),
        Err(SmtpError::InvalidInput {
            field: InputField::Recipients,
            reason: InvalidReason::Empty
        })
    );
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.8 (servers must accept 100 recipients): 101 recipients are
/// refused before anything is written.
#[test]
fn too_many_recipients() {
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    let many = vec![TO; 101];
    assert_eq!(
        send(&mut c, &many, MSG),
        Err(SmtpError::InvalidInput {
            field: InputField::Recipients,
            reason: InvalidReason::TooMany(100)
        })
    );
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.8: exactly 100 recipients are sent.
#[test]
fn one_hundred_recipients_are_sent() {
    let to: Vec<String> = (0..100).map(|i| format!("r{i}@example.com")).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let (t, h) = delivery(tls(&[]), &to).build();
    let mut c = connect(t).unwrap();
    assert_eq!(send(&mut c, &to, MSG).unwrap().accepted_count(), 100);
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.1 (local part of at most 64 octets).
#[test]
fn local_part_over_64_octets() {
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    let long = format!("{}@example.com", "x".repeat(65));
    assert_eq!(
        send(&mut c, &[&long], MSG),
        Err(SmtpError::InvalidInput {
            field: InputField::To(0),
            reason: InvalidReason::TooLong(64)
        })
    );
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.3 (path of at most 256 octets with the brackets).
#[test]
fn path_over_256_octets() {
    let (t, h) = tls(&[]).build();
    let mut c = connect(t).unwrap();
    let domain = [
        "d".repeat(60),
        "e".repeat(60),
        "f".repeat(60),
        "g".repeat(60),
    ]
    .join(".");
    let long = format!("{}@{domain}", "x".repeat(20));
    assert!(long.len() + 2 > 256);
    assert_eq!(
        block_on(c.send_mail(&long, &[TO], MSG)),
        Err(SmtpError::InvalidInput {
            field: InputField::From,
            reason: InvalidReason::TooLong(254)
        })
    );
    h.assert_done();
}

/// RFC 5321 section 4.5.3.1.4 (command lines of 512 octets) with a 64-byte transmit
/// buffer: a command line longer than the buffer is refused before MAIL FROM, so a
/// transaction never stops half-way.
#[test]
fn envelope_longer_than_the_transmit_buffer() {
    let (t, h) = tls(&[]).build();
    let mut c = block_on(SmtpClient::<_, 512, 64>::connect_sized(t, D, Config::new())).unwrap();
    let long = format!("{}@example.com", "x".repeat(60));
    assert_eq!(
        block_on(c.send_mail(FROM, &[TO, &long], MSG)),
        Err(SmtpError::BufferTooSmall { needed: 84 })
    );
    h.assert_done();
}

/// RFC 5321 section 4.1.1.2: a refused argument leaves the session usable; the next
/// valid message is delivered normally.
#[test]
fn session_stays_usable_after_refused_input() {
    let (t, h) = delivery(tls(&[]), &[TO]).build();
    let mut c = connect(t).unwrap();
    assert!(block_on(c.send_mail("a@b\r\nRSET", &[TO], MSG)).is_err());
    send(&mut c, &[TO], MSG).unwrap();
    h.assert_done();
}
