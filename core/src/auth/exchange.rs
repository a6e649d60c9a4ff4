//! The AUTH exchange (RFC 4954): choosing the mechanism, the initial response (on the
//! AUTH line, or after a `334` when that line would be too long), the answers to the
//! server's challenges, and the checks made before anything is written.
//!
//! ```text
//! C: AUTH PLAIN <initial response>        C: AUTH LOGIN           C: AUTH XOAUTH2
//! S: 235 ok                               S: 334 <prompt>         S: 334
//!                                         C: <user>               C: <initial response, > 500 octets>
//!                                         S: 334 <prompt>         S: 235 ok
//!                                         C: <password>
//!                                         S: 235 ok
//! ```
//!
//! Every response line is streamed into the transmit buffer one base64 block at a time
//! (see [`crate::auth`]), so no copy of a secret is assembled; the exchange's own secret
//! state (SCRAM proof and expected signature, CRAM-MD5 digest) is wiped when it ends.

use super::{
    Base64Cursor, Credentials, SaslParts, ENCODED_BLOCK, MAX_COMMAND_LINE, MAX_RESPONSE_LINE,
};
use crate::capabilities::{Capability, Mechanism, Mechanisms};
use crate::command::Command;
use crate::error::{
    AuthError, Extension, InputField, InvalidReason, ProtocolViolation, SmtpError, Stage,
};
use crate::reply::{Reply, ReplyCode};
use crate::session::{Session, Tx, Want};

/// What to authenticate with: user name and secret (a password, or the token of XOAUTH2
/// and OAUTHBEARER), and optionally the mechanism, the OAUTHBEARER host and port and the
/// SCRAM nonce. `Debug` never shows the secret.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    mech: Option<Mechanism>,
    creds: Credentials<'a>,
    #[cfg(feature = "auth-oauth")]
    host: Option<(&'a str, u16)>,
    #[cfg(feature = "auth-scram")]
    nonce: Option<&'a super::scram::ClientNonce>,
}

impl<'a> Login<'a> {
    /// User name and secret; the mechanism is chosen with [`choose_mechanism`].
    pub const fn new(user: &'a str, secret: &'a str) -> Self {
        Login {
            mech: None,
            creds: Credentials::new(user, secret),
            #[cfg(feature = "auth-oauth")]
            host: None,
            #[cfg(feature = "auth-scram")]
            nonce: None,
        }
    }

    /// Use `mech`, whatever the automatic choice would be.
    pub const fn mechanism(mut self, mech: Mechanism) -> Self {
        self.mech = Some(mech);
        self
    }

    /// The `host` and `port` the client connected to, sent with OAUTHBEARER (RFC 7628
    /// section 3.1; some providers check them against the token's audience).
    #[cfg(feature = "auth-oauth")]
    pub const fn oauth_host(mut self, host: &'a str, port: u16) -> Self {
        self.host = Some((host, port));
        self
    }

    /// The client nonce of SCRAM-SHA-256, which must be fresh for every exchange. With a
    /// nonce the automatic choice prefers SCRAM-SHA-256.
    #[cfg(feature = "auth-scram")]
    pub const fn nonce(mut self, nonce: &'a super::scram::ClientNonce) -> Self {
        self.nonce = Some(nonce);
        self
    }

    const fn has_nonce(&self) -> bool {
        #[cfg(feature = "auth-scram")]
        return self.nonce.is_some();
        #[cfg(not(feature = "auth-scram"))]
        false
    }

    /// The OAUTHBEARER `port`, if one is sent.
    const fn port(&self) -> Option<u16> {
        #[cfg(feature = "auth-oauth")]
        return match self.host {
            Some((_, port)) => Some(port),
            None => None,
        };
        #[cfg(not(feature = "auth-oauth"))]
        None
    }
}

/// The automatic choice of mechanism: the first of the preference order that the server
/// offers and this build implements (XOAUTH2 and OAUTHBEARER take a token, not a
/// password: never chosen).
///
/// | connection | order |
/// |---|---|
/// | encrypted | SCRAM-SHA-256 (with a nonce), PLAIN, LOGIN, CRAM-MD5 |
/// | plaintext (only with [`Config::allow_plaintext_auth`](crate::Config::allow_plaintext_auth)) | SCRAM-SHA-256 (with a nonce), CRAM-MD5, PLAIN, LOGIN |
///
/// SCRAM-SHA-256 comes first everywhere: the password never leaves the client, the
/// server proves it knows it, and a captured exchange does not replay. Under TLS, PLAIN
/// beats CRAM-MD5: TLS already hides the password, and CRAM-MD5 forces the server to
/// keep plaintext-equivalent passwords and rests on HMAC-MD5 (RFC 8314 and the IETF's
/// move of CRAM-MD5 to Historic point the same way). Without TLS, CRAM-MD5 at least
/// keeps the password itself off the wire, so it goes before PLAIN and LOGIN.
pub fn choose_mechanism(
    offered: Mechanisms,
    encrypted: bool,
    have_nonce: bool,
) -> Option<Mechanism> {
    use Mechanism::{CramMd5, Login, Plain, ScramSha256};
    let order = if encrypted {
        [ScramSha256, Plain, Login, CramMd5]
    } else {
        [ScramSha256, CramMd5, Plain, Login]
    };
    order
        .into_iter()
        .find(|&m| offered.contains(m) && is_built_in(m) && (m != ScramSha256 || have_nonce))
}

/// Whether this build implements `mech` (the token mechanisms, SCRAM-SHA-256 and
/// CRAM-MD5 are cargo features).
const fn is_built_in(mech: Mechanism) -> bool {
    match mech {
        Mechanism::Plain | Mechanism::Login => true,
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => cfg!(feature = "auth-oauth"),
        Mechanism::ScramSha256 => cfg!(feature = "auth-scram"),
        Mechanism::CramMd5 => cfg!(feature = "auth-cram-md5"),
    }
}

/// Most 334 challenges each mechanism may receive (the `334` that asks for a deferred
/// initial response is not counted).
const fn challenge_limit(mech: Mechanism) -> usize {
    match mech {
        Mechanism::Plain => 0,
        Mechanism::XOAuth2 | Mechanism::OAuthBearer | Mechanism::CramMd5 => 1,
        // LOGIN: user name and password prompts; SCRAM: server-first and server-final.
        Mechanism::Login | Mechanism::ScramSha256 => 2,
    }
}

/// Longest combined SCRAM nonce (client and server parts) accepted in a server-first
/// message: it is kept until the client-final message is written.
#[cfg(feature = "auth-scram")]
pub const MAX_SCRAM_NONCE: usize = 128;

/// `login` in progress.
pub(crate) struct Auth<'a> {
    mech: Mechanism,
    login: Login<'a>,
    /// The line being written, and how far.
    line: Line,
    cursor: Base64Cursor,
    challenges: usize,
    at: At,
    /// OAUTHBEARER: the server sent an error challenge with this status.
    #[cfg(feature = "auth-oauth")]
    bearer_error: Option<super::BearerStatus>,
    #[cfg(feature = "auth-scram")]
    scram: Scram,
    /// CRAM-MD5: the hex digest of the challenge.
    #[cfg(feature = "auth-cram-md5")]
    digest: [u8; super::cram_md5::DIGEST_HEX],
}

/// What SCRAM-SHA-256 keeps between the server-first and the server-final message.
#[cfg(feature = "auth-scram")]
struct Scram {
    /// The base64 ClientProof of the client-final message.
    proof: [u8; super::scram::PROOF_B64],
    /// The ServerSignature the server-final message must carry.
    signature: [u8; 32],
    /// The combined nonce, `nonce[..nonce_len]`.
    nonce: [u8; MAX_SCRAM_NONCE],
    nonce_len: usize,
    /// The server signature was checked.
    verified: bool,
}

#[cfg(feature = "auth-scram")]
impl Scram {
    const NEW: Scram = Scram {
        proof: [0; super::scram::PROOF_B64],
        signature: [0; 32],
        nonce: [0; MAX_SCRAM_NONCE],
        nonce_len: 0,
        verified: false,
    };
}

impl core::fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Auth")
            .field("mech", &self.mech)
            .field("user", &self.login.creds.user())
            .field("challenges", &self.challenges)
            .finish_non_exhaustive()
    }
}

impl Drop for Auth<'_> {
    fn drop(&mut self) {
        #[cfg(any(feature = "auth-scram", feature = "auth-cram-md5"))]
        use zeroize::Zeroize;
        #[cfg(feature = "auth-scram")]
        {
            self.scram.proof.zeroize();
            self.scram.signature.zeroize();
        }
        #[cfg(feature = "auth-cram-md5")]
        self.digest.zeroize();
    }
}

/// The response line an exchange is writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// The initial response (on the AUTH line, or alone after a `334`).
    Initial,
    LoginUser,
    LoginPassword,
    /// An empty response (XOAUTH2 error challenge, SCRAM after the server-final).
    #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
    Empty,
    /// OAUTHBEARER's `%x01` after an error challenge.
    #[cfg(feature = "auth-oauth")]
    BearerAbort,
    /// `user SP hex-digest`.
    #[cfg(feature = "auth-cram-md5")]
    CramResponse,
    /// `c=biws,r=NONCE,p=PROOF`.
    #[cfg(feature = "auth-scram")]
    ScramFinal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Start,
    /// `AUTH <mechanism>` was sent without its initial response (too long for the
    /// command line): a 334 asks for it.
    Deferred,
    /// Writing a line.
    Line,
    /// Waiting for the reply to a line.
    Reply,
}

impl<'a> Auth<'a> {
    /// Choose the mechanism and check everything that can be checked before a byte is
    /// written.
    pub(crate) fn start(s: &Session, login: Login<'a>) -> Result<Self, SmtpError> {
        let caps = s.capabilities();
        let offered = caps.auth_mechanisms();
        let chosen = login
            .mech
            .or_else(|| choose_mechanism(offered, s.is_encrypted(), login.has_nonce()));
        // Policy first, whatever the mechanism.
        if !s.is_encrypted() && !s.config().allow_plaintext_auth {
            return Err(SmtpError::PlaintextAuth);
        }
        let Some(mech) = chosen else {
            return Err(if offered.is_empty() {
                SmtpError::ExtensionUnavailable(Extension::Auth)
            } else {
                AuthError::NoCommonMechanism.into()
            });
        };
        super::validate(mech, &login.creds)?;
        #[cfg(feature = "auth-oauth")]
        if let Some((host, _)) = login.host {
            super::validate_host(host)?;
        }
        if !is_built_in(mech) {
            return Err(AuthError::MechanismDisabled(mech).into());
        }
        if mech == Mechanism::ScramSha256 && !login.has_nonce() {
            return Err(SmtpError::InvalidInput {
                field: InputField::Nonce,
                reason: InvalidReason::Empty,
            });
        }
        if !offered.contains(mech) {
            return Err(if caps.has(Capability::Auth) {
                AuthError::NoCommonMechanism.into()
            } else {
                SmtpError::ExtensionUnavailable(Extension::Auth)
            });
        }
        let auth = Auth {
            mech,
            login,
            line: Line::Initial,
            cursor: Base64Cursor::default(),
            challenges: 0,
            at: At::Start,
            #[cfg(feature = "auth-oauth")]
            bearer_error: None,
            #[cfg(feature = "auth-scram")]
            scram: Scram::NEW,
            #[cfg(feature = "auth-cram-md5")]
            digest: [0; super::cram_md5::DIGEST_HEX],
        };
        auth.check_line_lengths()?;
        Ok(auth)
    }

    pub(crate) fn transmit(&mut self, s: &mut Session, tx: &mut Tx<'_>) -> Result<Want, SmtpError> {
        if self.at == At::Start {
            if matches!(self.mech, Mechanism::Login | Mechanism::CramMd5)
                || self.initial_line_len() > MAX_COMMAND_LINE
            {
                // No initial response (the server speaks first), or one too long for the
                // AUTH line (RFC 4954 section 4): it follows the server's empty 334.
                tx.command(s, Command::Auth(self.mech))?;
                self.at = if self.mech.has_initial_response() {
                    At::Deferred
                } else {
                    At::Reply
                };
                return Ok(Want::Receive);
            }
            s.expect_secret()?;
            tx.put(b"AUTH ")?;
            tx.put(self.mech.name().as_bytes())?;
            tx.put(b" ")?;
            self.at = At::Line;
        }
        if self.at != At::Line {
            return Err(SmtpError::Internal);
        }
        // Stream the base64 through the transmit buffer, coming back whenever it fills.
        let port = PortDigits::new(self.login.port());
        let mut cursor = self.cursor;
        loop {
            if tx.room() < ENCODED_BLOCK {
                self.cursor = cursor;
                if tx.len == 0 {
                    return Err(SmtpError::BufferTooSmall {
                        needed: ENCODED_BLOCK,
                    });
                }
                return Ok(Want::Transmit);
            }
            let parts = self.parts(self.line, port.as_bytes());
            let n = cursor.next_block(&parts, tx.rest());
            if n == 0 {
                break;
            }
            tx.len += n;
        }
        // At least ENCODED_BLOCK bytes of room are left.
        tx.put(b"\r\n")?;
        self.at = At::Reply;
        Ok(Want::Receive)
    }

    /// A reply to the AUTH line or to a response line. `text` is the text of its last
    /// line (a 334's challenge, decoded here in place).
    pub(crate) fn reply(
        &mut self,
        s: &mut Session,
        reply: &Reply,
        text: &mut [u8],
    ) -> Result<Want, SmtpError> {
        if reply.code == ReplyCode::AUTH_SUCCEEDED {
            return self.succeeded(s);
        }
        if reply.code != ReplyCode::AUTH_CHALLENGE {
            let rejection = s.rejection(Stage::Auth, reply);
            #[cfg(feature = "auth-oauth")]
            if let Some(status) = self.bearer_error {
                return Err(AuthError::BearerRejected { rejection, status }.into());
            }
            return Err(AuthError::Rejected(rejection).into());
        }
        if self.at == At::Deferred {
            // The go-ahead for the initial response (`self.line` is still `Initial`);
            // its text, empty by RFC 4422, is not used.
            self.at = At::Line;
            s.expect_secret()?;
            return Ok(Want::Transmit);
        }
        self.challenges += 1;
        if self.challenges > challenge_limit(self.mech) {
            return s.fatal(ProtocolViolation::TooManyChallenges);
        }
        self.line = match self.answer(text) {
            Ok(line) => line,
            // A broken or hostile challenge: write nothing more.
            Err(e) => return s.fatal(e),
        };
        self.cursor = Base64Cursor::default();
        self.at = At::Line;
        s.expect_secret()?;
        Ok(Want::Transmit)
    }

    /// A 235: done, unless the mechanism still owed a proof of the server's identity.
    fn succeeded(&self, s: &mut Session) -> Result<Want, SmtpError> {
        #[cfg(feature = "auth-scram")]
        if self.mech == Mechanism::ScramSha256 && !self.scram.verified {
            return s.fatal(AuthError::Scram(
                crate::error::ScramError::ServerSignatureMissing,
            ));
        }
        #[cfg(feature = "auth-oauth")]
        if self.bearer_error.is_some() {
            // RFC 7628 section 3.2.3: after an error challenge the outcome is a failure.
            return s.fatal(ProtocolViolation::UnexpectedCode {
                stage: Stage::Auth,
                code: ReplyCode::AUTH_SUCCEEDED.get(),
            });
        }
        let _ = s;
        Ok(Want::Done)
    }

    /// The response line to a 334 challenge whose text is `text`.
    #[cfg_attr(
        not(any(
            feature = "auth-oauth",
            feature = "auth-scram",
            feature = "auth-cram-md5"
        )),
        allow(unused_variables)
    )]
    fn answer(&mut self, text: &mut [u8]) -> Result<Line, SmtpError> {
        Ok(match self.mech {
            Mechanism::Login if self.challenges == 1 => Line::LoginUser,
            Mechanism::Login => Line::LoginPassword,
            // XOAUTH2 error challenge: answer with an empty line, the server then sends
            // the failure reply.
            #[cfg(feature = "auth-oauth")]
            Mechanism::XOAuth2 => Line::Empty,
            #[cfg(feature = "auth-oauth")]
            Mechanism::OAuthBearer => {
                // RFC 7628 section 3.2.3: the error challenge is answered with a single
                // %x01; the server then sends the failure reply.
                self.bearer_error = Some(super::BearerStatus::from_json(decode(text)?));
                Line::BearerAbort
            }
            #[cfg(feature = "auth-cram-md5")]
            Mechanism::CramMd5 => {
                let challenge = decode(text)?;
                if challenge.is_empty() {
                    return Err(crate::error::MalformedReply::BadChallenge.into());
                }
                let secret = self.login.creds.secret.as_bytes();
                self.digest = super::cram_md5::digest_hex(secret, challenge);
                Line::CramResponse
            }
            #[cfg(feature = "auth-scram")]
            Mechanism::ScramSha256 if self.challenges == 1 => {
                use super::scram;
                let nonce = self.login.nonce.map(|n| n.as_bytes()).unwrap_or_default();
                let creds = self.login.creds;
                let server_first = decode(text)?;
                let parsed =
                    scram::parse_server_first(server_first, nonce).map_err(AuthError::Scram)?;
                let combined = server_first.get(parsed.nonce.clone()).unwrap_or_default();
                let Some(dst) = self.scram.nonce.get_mut(..combined.len()) else {
                    return Err(AuthError::Scram(crate::error::ScramError::NonceTooLong).into());
                };
                dst.copy_from_slice(combined);
                self.scram.nonce_len = combined.len();
                let fin = scram::client_final(
                    creds.secret.as_bytes(),
                    creds.user.as_bytes(),
                    nonce,
                    server_first,
                    &parsed,
                )
                .map_err(AuthError::Scram)?;
                self.scram.proof = fin.proof;
                self.scram.signature = fin.server_signature;
                Line::ScramFinal
            }
            #[cfg(feature = "auth-scram")]
            Mechanism::ScramSha256 => {
                super::scram::verify_server_final(decode(text)?, &self.scram.signature)
                    .map_err(AuthError::Scram)?;
                self.scram.verified = true;
                Line::Empty
            }
            _ => return Err(ProtocolViolation::TooManyChallenges.into()),
        })
    }

    /// The pieces of `line`. Rebuilt at every block from their owners (the caller's
    /// strings and the exchange's own state), so that no copy of a secret is made.
    #[cfg_attr(
        not(all(feature = "auth-scram", feature = "auth-oauth")),
        allow(unused_variables)
    )]
    fn parts<'p>(&'p self, line: Line, port: &'p [u8]) -> SaslParts<'p> {
        let creds = &self.login.creds;
        match line {
            Line::Initial => match self.mech {
                Mechanism::Plain => super::plain(creds),
                #[cfg(feature = "auth-oauth")]
                Mechanism::XOAuth2 => super::xoauth2(creds),
                #[cfg(feature = "auth-oauth")]
                Mechanism::OAuthBearer => {
                    super::oauthbearer(creds, self.login.host.map(|(h, _)| (h, port)))
                }
                #[cfg(feature = "auth-scram")]
                Mechanism::ScramSha256 => SaslParts::new()
                    .push(b"n,,n=")
                    .push_escaped(creds.user.as_bytes())
                    .push(b",r=")
                    .push(self.login.nonce.map(|n| n.as_bytes()).unwrap_or_default()),
                _ => SaslParts::new(),
            },
            Line::LoginUser => super::single(creds.user.as_bytes()),
            Line::LoginPassword => super::single(creds.secret.as_bytes()),
            #[cfg(any(feature = "auth-oauth", feature = "auth-scram"))]
            Line::Empty => SaslParts::new(),
            #[cfg(feature = "auth-oauth")]
            Line::BearerAbort => super::single(b"\x01"),
            #[cfg(feature = "auth-cram-md5")]
            Line::CramResponse => SaslParts::new()
                .push(creds.user.as_bytes())
                .push(b" ")
                .push(&self.digest),
            #[cfg(feature = "auth-scram")]
            Line::ScramFinal => SaslParts::new()
                .push(b"c=biws,r=")
                .push(
                    self.scram
                        .nonce
                        .get(..self.scram.nonce_len)
                        .unwrap_or_default(),
                )
                .push(b",p=")
                .push(&self.scram.proof),
        }
    }

    /// Octets of `line` once written: its base64 and CRLF.
    fn line_len(&self, line: Line) -> usize {
        let port = PortDigits::new(self.login.port());
        self.parts(line, port.as_bytes()).encoded_len() + 2
    }

    /// Octets of `AUTH <mechanism> <initial-response>` with its CRLF.
    fn initial_line_len(&self) -> usize {
        "AUTH  ".len() + self.mech.name().len() + self.line_len(Line::Initial)
    }

    /// Refuse credentials whose response lines would exceed [`MAX_RESPONSE_LINE`],
    /// before anything is written. (The server-dependent SCRAM final line is short: a
    /// bounded nonce and a proof.)
    fn check_line_lengths(&self) -> Result<(), SmtpError> {
        let creds = &self.login.creds;
        let longer = if creds.user.len() > creds.secret.len() {
            InputField::Username
        } else {
            InputField::Secret
        };
        let lines: &[(Line, InputField)] = match self.mech {
            Mechanism::Login => &[
                (Line::LoginUser, InputField::Username),
                (Line::LoginPassword, InputField::Secret),
            ],
            #[cfg(feature = "auth-cram-md5")]
            Mechanism::CramMd5 => &[(Line::CramResponse, InputField::Username)],
            _ => &[(Line::Initial, longer)],
        };
        for &(line, field) in lines {
            if self.line_len(line) > MAX_RESPONSE_LINE {
                return Err(SmtpError::InvalidInput {
                    field,
                    reason: InvalidReason::TooLong(MAX_RESPONSE_LINE),
                });
            }
        }
        Ok(())
    }
}

/// Decode a 334 challenge's text (base64, possibly with a trailing space) in place.
#[cfg(any(
    feature = "auth-oauth",
    feature = "auth-scram",
    feature = "auth-cram-md5"
))]
fn decode(text: &mut [u8]) -> Result<&[u8], SmtpError> {
    let text = match text {
        [text @ .., b' '] => text,
        text => text,
    };
    match <base64ct::Base64 as base64ct::Encoding>::decode_in_place(text) {
        Ok(decoded) => Ok(decoded),
        Err(_) => Err(crate::error::MalformedReply::BadChallenge.into()),
    }
}

/// The decimal digits of an OAUTHBEARER port (none without a port).
struct PortDigits {
    digits: [u8; 5],
    start: usize,
}

impl PortDigits {
    #[cfg(feature = "auth-oauth")]
    fn new(port: Option<u16>) -> Self {
        match port {
            Some(port) => {
                let (digits, start) = super::port_digits(port);
                PortDigits { digits, start }
            }
            None => PortDigits::NONE,
        }
    }

    #[cfg(not(feature = "auth-oauth"))]
    fn new(_: Option<u16>) -> Self {
        PortDigits::NONE
    }

    const NONE: PortDigits = PortDigits {
        digits: [0; 5],
        start: 5,
    };

    fn as_bytes(&self) -> &[u8] {
        self.digits.get(self.start..).unwrap_or_default()
    }
}
