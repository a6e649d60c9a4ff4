//! The `command_encoding` target: every command and every AUTH response line, with
//! arguments taken from the fuzzer's bytes.

use wasm_smtp_core::address::{check_domain, check_mailbox};
use wasm_smtp_core::auth::{self, Base64Cursor, Credentials, SaslParts, ENCODED_BLOCK};
use wasm_smtp_core::capabilities::Mechanism;
use wasm_smtp_core::command::{Command, MailParams, RcptParams};
use wasm_smtp_core::error::{InputField, InvalidReason};
use wasm_smtp_core::SmtpError;

/// Output room for [`Command::encode`], picked by bits 0-2 of byte 1.
const ROOMS: [usize; 8] = [0, 1, 6, 16, 32, 64, 300, 600];

/// Every mechanism the crate names, picked by bits 3-5 of byte 1.
const MECHANISMS: [Mechanism; 6] = [
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::XOAuth2,
    Mechanism::OAuthBearer,
    Mechanism::CramMd5,
    Mechanism::ScramSha256,
];

/// Standard base64 with padding: the reference for the AUTH responses.
pub(crate) fn base64(input: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// The checks every encoded line passes: exactly one CRLF, at the end; no other CR, LF
/// or NUL.
fn assert_one_line(line: &[u8]) {
    assert!(line.ends_with(b"\r\n"), "line without CRLF: {line:?}");
    let body = &line[..line.len() - 2];
    assert!(
        !body.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0),
        "CR, LF or NUL inside an encoded line: {line:?}"
    );
}

/// Encode `cmd` into `room` bytes and compare with the line the client is meant to write,
/// `expected` (built independently from the same arguments).
fn check_command(cmd: Command<'_>, expected: &[u8], room: usize) {
    assert_eq!(cmd.encoded_len(), expected.len(), "encoded_len of {cmd:?}");
    let mut buf = vec![0xa5u8; room];
    let result = cmd.encode(&mut buf);
    let body = &expected[..expected.len() - 2];
    let has_control = body.iter().any(|&b| b < 0x20 || b == 0x7f);
    if expected.len() > room {
        assert_eq!(
            result,
            Err(SmtpError::BufferTooSmall {
                needed: expected.len()
            }),
            "{cmd:?} in {room} bytes"
        );
    } else if has_control {
        assert!(
            matches!(
                result,
                Err(SmtpError::InvalidInput {
                    reason: InvalidReason::ControlCharacter,
                    ..
                })
            ),
            "{cmd:?} with a control byte gave {result:?}"
        );
    } else {
        let n = result.unwrap_or_else(|e| panic!("{cmd:?} refused: {e:?}"));
        assert_eq!(&buf[..n], expected, "{cmd:?}");
        assert_one_line(&buf[..n]);
        assert!(
            buf[n..].iter().all(|&b| b == 0xa5),
            "{cmd:?} wrote past its line"
        );
    }
}

/// Collect the base64 of `parts` through an output buffer of `room` bytes.
fn collect(parts: SaslParts<'_>, room: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0xa5u8; room];
    let mut cursor = Base64Cursor::default();
    assert_eq!(parts.encoded_len(), base64(&vec![0; parts.octets()]).len());
    loop {
        let n = cursor.next_block(&parts, &mut buf);
        assert!(n <= room);
        if n == 0 {
            return out;
        }
        assert!(n.is_multiple_of(4), "base64 block of {n} bytes");
        out.extend_from_slice(&buf[..n]);
    }
}

/// `AUTH <mech> <response>` as the client writes it, or just the response line.
fn check_response(
    mech: Option<Mechanism>,
    stream: SaslParts<'_>,
    plain: &[u8],
    room: usize,
) -> Vec<u8> {
    let b64 = collect(stream, room);
    assert_eq!(b64, base64(plain), "base64 of the {mech:?} response");
    let mut line = Vec::new();
    if let Some(m) = mech {
        line.extend_from_slice(b"AUTH ");
        line.extend_from_slice(m.name().as_bytes());
        line.push(b' ');
    }
    line.extend_from_slice(&b64);
    line.extend_from_slice(b"\r\n");
    assert_one_line(&line);
    line
}

/// Command encoding with fuzzer-chosen arguments: either a validation error or one line
/// with exactly one CRLF, at the end, no other CR, LF or NUL, of length
/// [`Command::encoded_len`], equal to the line built independently. Arguments the
/// address checks accept always encode. The AUTH responses (PLAIN,
/// LOGIN, XOAUTH2) are either refused by `auth::validate` or are the base64 of the
/// expected SASL message, with no CR or LF.
///
/// Input layout: byte 0 = which command (0 EHLO, 1 HELO, 2 MAIL FROM, 3 MAIL FROM with
/// SMTPUTF8, 4 RCPT TO, 5 AUTH mechanism, 6 AUTH PLAIN response, 7 AUTH LOGIN responses,
/// 8 AUTH XOAUTH2 response, 9 commands without arguments; modulo 10); byte 1 = bits 0-2
/// output room (0, 1, 6, 16, 32, 64, 300, 600 bytes; for the base64 responses
/// `ENCODED_BLOCK` plus that), bits 3-5 the mechanism; then the arguments, lossily
/// decoded as UTF-8: the first field up to the first `0xff` byte, the second after it.
pub fn command_encoding(data: &[u8]) {
    let [which, opts, rest @ ..] = data else {
        return;
    };
    let room = ROOMS[usize::from(opts & 7)];
    let mech = MECHANISMS[usize::from((opts >> 3) & 7) % MECHANISMS.len()];
    let (f1, f2) = match rest.iter().position(|&b| b == 0xff) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let a = String::from_utf8_lossy(f1);
    let b = String::from_utf8_lossy(f2);
    let a: &str = &a;
    let b: &str = &b;
    let line = |parts: &[&[u8]]| -> Vec<u8> {
        let mut v = parts.concat();
        v.extend_from_slice(b"\r\n");
        v
    };
    match which % 10 {
        0 | 1 => {
            let (cmd, verb) = if which % 10 == 0 {
                (Command::Ehlo(a), &b"EHLO "[..])
            } else {
                (Command::Helo(a), &b"HELO "[..])
            };
            check_command(cmd, &line(&[verb, a.as_bytes()]), room);
            if check_domain(a, InputField::EhloDomain, false).is_ok() {
                // A valid domain is ASCII letters, digits, '-', '.' or a literal.
                assert!(a.bytes().all(|b| b.is_ascii_graphic()), "{a:?}");
                assert!(cmd.encode(&mut [0u8; 600]).is_ok(), "valid domain {a:?}");
            }
        }
        2 | 3 => {
            let smtputf8 = which % 10 == 3;
            let mut params = MailParams::default();
            params.smtputf8 = smtputf8;
            let cmd = Command::Mail { from: a, params };
            let param: &[u8] = if smtputf8 { b" SMTPUTF8" } else { b"" };
            check_command(
                cmd,
                &line(&[b"MAIL FROM:<", a.as_bytes(), b">", param]),
                room,
            );
            check_path(a, InputField::From, true, cmd);
        }
        4 => {
            let cmd = Command::Rcpt {
                to: a,
                params: RcptParams::default(),
            };
            check_command(cmd, &line(&[b"RCPT TO:<", a.as_bytes(), b">"]), room);
            check_path(a, InputField::To(0), false, cmd);
        }
        5 => {
            let cmd = Command::Auth(mech);
            check_command(cmd, &line(&[b"AUTH ", mech.name().as_bytes()]), room);
        }
        6..=8 => {
            let mech = [Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2]
                [usize::from(which % 10 - 6)];
            let creds = Credentials::new(a, b);
            let room = ENCODED_BLOCK + room;
            let forbidden: &[u8] = if mech == Mechanism::XOAuth2 {
                b"\x00\x01\r\n"
            } else {
                b"\x00"
            };
            let bad = |s: &str| s.bytes().any(|c| forbidden.contains(&c));
            let expect_ok = !a.is_empty()
                && !bad(a)
                && !bad(b)
                && (mech != Mechanism::XOAuth2 || b.bytes().all(|c| (0x20..0x7f).contains(&c)));
            let verdict = auth::validate(mech, &creds);
            assert_eq!(verdict.is_ok(), expect_ok, "validate {mech:?}: {verdict:?}");
            if let Err(e) = verdict {
                assert!(
                    matches!(
                        e,
                        SmtpError::InvalidInput {
                            field: InputField::Username | InputField::Secret,
                            ..
                        }
                    ),
                    "{e:?}"
                );
                return;
            }
            match mech {
                Mechanism::Plain => {
                    let msg = [&b"\0"[..], a.as_bytes(), b"\0", b.as_bytes()].concat();
                    check_response(Some(mech), auth::plain(&creds), &msg, room);
                }
                Mechanism::Login => {
                    check_response(None, auth::single(a.as_bytes()), a.as_bytes(), room);
                    check_response(None, auth::single(b.as_bytes()), b.as_bytes(), room);
                }
                #[cfg(not(feature = "engine-defaults"))]
                _ => {}
                #[cfg(feature = "engine-defaults")]
                _ => {
                    let msg = [
                        &b"user="[..],
                        a.as_bytes(),
                        b"\x01auth=Bearer ",
                        b.as_bytes(),
                        b"\x01\x01",
                    ]
                    .concat();
                    check_response(Some(mech), auth::xoauth2(&creds), &msg, room);
                }
            }
        }
        _ => {
            let all = [
                (Command::StartTls, &b"STARTTLS"[..]),
                (Command::Data, b"DATA"),
                (Command::Rset, b"RSET"),
                (Command::Noop, b"NOOP"),
                (Command::Quit, b"QUIT"),
            ];
            let (cmd, verb) = all[usize::from(opts >> 3) % all.len()];
            check_command(cmd, &line(&[verb]), room);
        }
    }
}

/// A path the address check accepts encodes, and holds nothing that could end the path or
/// the line early.
fn check_path(addr: &str, field: InputField, allow_null: bool, cmd: Command<'_>) {
    let Ok(info) = check_mailbox(addr, field, allow_null) else {
        return;
    };
    assert!(
        !addr.chars().any(|c| c.is_control()
            || c == '\u{2028}'
            || c == '\u{2029}'
            || c == '<'
            || c == '>'),
        "accepted path {addr:?}"
    );
    assert_eq!(info.is_null, addr.is_empty());
    assert_eq!(info.needs_smtputf8, !addr.is_ascii(), "{addr:?}");
    assert!(addr.len() + 2 <= wasm_smtp_core::address::MAX_PATH);
    let mut buf = [0u8; 600];
    let n = cmd
        .encode(&mut buf)
        .unwrap_or_else(|e| panic!("accepted path {addr:?} did not encode: {e:?}"));
    assert_one_line(&buf[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reference() {
        assert_eq!(base64(b""), b"");
        assert_eq!(base64(b"f"), b"Zg==");
        assert_eq!(base64(b"fo"), b"Zm8=");
        assert_eq!(base64(b"foo"), b"Zm9v");
        assert_eq!(base64(b"\0alice\0hunter2"), b"AGFsaWNlAGh1bnRlcjI=");
    }
}
