//! The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) and CRAM-MD5 (RFC 2195), written
//! independently of wasm-smtp-core so that scripts check the client against the RFCs
//! rather than against itself.

use crate::text::base64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Every message of one SCRAM-SHA-256 exchange, unencoded (base64 them for the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramExchange {
    /// `n,,n=USER,r=CNONCE` (the user escaped as a `saslname`).
    pub client_first: String,
    /// `r=CNONCE+SNONCE,s=SALT,i=ITERATIONS`.
    pub server_first: String,
    /// `c=biws,r=CNONCE+SNONCE,p=PROOF`.
    pub client_final: String,
    /// `v=SERVER-SIGNATURE`.
    pub server_final: String,
}

impl ScramExchange {
    /// Compute the exchange a correct client and server go through.
    ///
    /// ```
    /// // RFC 7677 section 3.
    /// let x = wasm_smtp_mock::ScramExchange::new(
    ///     "user", "pencil", "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    ///     b"\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81", 4096,
    /// );
    /// assert_eq!(x.client_final, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
    ///     p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    /// assert_eq!(x.server_final, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    /// ```
    pub fn new(
        user: &str,
        password: &str,
        client_nonce: &str,
        server_nonce: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        let bare = format!("n={user},r={client_nonce}");
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={iterations}", base64(salt));
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let client_signature = hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac_sha256(&salted, b"Server Key");
        let server_signature = hmac_sha256(&server_key, auth_message.as_bytes());
        ScramExchange {
            client_first: format!("n,,{bare}"),
            server_first,
            client_final: format!("{without_proof},p={}", base64(&proof)),
            server_final: format!("v={}", base64(&server_signature)),
        }
    }
}

/// The CRAM-MD5 response `USER SP hex(HMAC-MD5(password, challenge))`.
///
/// ```
/// // RFC 2195 section 2.
/// assert_eq!(
///     wasm_smtp_mock::cram_md5_response("tim", "tanstaaftanstaaf",
///         "<1896.697170952@postoffice.reston.mci.net>"),
///     "tim b913a602c7eda7a495b4e6e7334d3890"
/// );
/// ```
pub fn cram_md5_response(user: &str, password: &str, challenge: &str) -> String {
    let mut mac = <Hmac<md5::Md5> as Mac>::new_from_slice(password.as_bytes())
        .unwrap_or_else(|_| unreachable!());
    mac.update(challenge.as_bytes());
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{user} {digest}")
}
