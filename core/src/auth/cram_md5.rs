//! CRAM-MD5 (RFC 2195): legacy, and weak.
//!
//! ```text
//! C: AUTH CRAM-MD5
//! S: 334 base64(<challenge>)
//! C: base64(USER " " hex(HMAC-MD5(password, challenge)))
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! Why it is weak, and why [`SmtpClient::login`](crate::SmtpClient::login) prefers PLAIN
//! over it on an encrypted connection: the server must store the password itself (or an
//! equivalent of it), HMAC-MD5 over a captured exchange allows an offline dictionary
//! attack, the server is not authenticated, and the mechanism was moved to Historic by
//! the IETF SASL working group. Its only advantage, not sending the password in the
//! clear, is void under TLS. It exists for old servers that offer nothing else.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use zeroize::Zeroize;

/// Length of the hexadecimal digest in the response.
pub const DIGEST_HEX: usize = 32;

/// `hex(HMAC-MD5(password, challenge))`, lowercase, as RFC 2195 requires.
pub fn digest_hex(password: &[u8], challenge: &[u8]) -> [u8; DIGEST_HEX] {
    type HmacMd5 = Hmac<Md5>;
    // HMAC's key handling written out so that no fallible constructor is needed: keys
    // longer than the block are hashed, shorter ones zero-padded.
    let mut key = hmac::digest::Key::<HmacMd5>::default();
    if password.len() > key.len() {
        let mut hashed: [u8; 16] = Md5::digest(password).into();
        if let Some(dst) = key.get_mut(..16) {
            dst.copy_from_slice(&hashed);
        }
        hashed.zeroize();
    } else if let Some(dst) = key.get_mut(..password.len()) {
        dst.copy_from_slice(password);
    }
    let mut mac = <HmacMd5 as KeyInit>::new(&key);
    key.as_mut_slice().zeroize();
    mac.update(challenge);
    let mut digest: [u8; 16] = mac.finalize().into_bytes().into();
    let mut out = [0u8; DIGEST_HEX];
    for (pair, b) in out.chunks_exact_mut(2).zip(&digest) {
        let hex = b"0123456789abcdef";
        if let [hi, lo] = pair {
            *hi = hex[usize::from(b >> 4)];
            *lo = hex[usize::from(b & 15)];
        }
    }
    digest.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2195_example() {
        let d = digest_hex(
            b"tanstaaftanstaaf",
            b"<1896.697170952@postoffice.reston.mci.net>",
        );
        assert_eq!(&d, b"b913a602c7eda7a495b4e6e7334d3890");
    }

    #[test]
    fn long_key_is_hashed_first() {
        // RFC 2202 test case 6: 80 bytes of 0xaa.
        let d = digest_hex(
            &[0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(&d, b"6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
    }
}
