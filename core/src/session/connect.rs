//! Opening the session: the greeting (RFC 5321 section 4.3.1), EHLO and the HELO
//! fallback (sections 3.2 and 4.1.1.1), and the STARTTLS policy (RFC 3207; implicit TLS,
//! RFC 8314).
//!
//! ```text
//! S: 220 greeting
//! C: EHLO domain                  (HELO domain if EHLO is refused and the policy allows)
//! S: 250 capabilities
//! C: STARTTLS                     (plaintext connection, policy not Disabled, offered)
//! S: 220 go ahead                 (nothing may follow it before the handshake)
//!    TLS handshake
//! C: EHLO domain                  (everything learned before TLS is forgotten)
//! S: 250 capabilities
//! ```

use super::{Phase, Session, Tx, Want};
use crate::command::Command;
use crate::config::TlsPolicy;
use crate::error::{InputField, SmtpError, Stage, TlsError};
use crate::reply::{Reply, ReplyCode};

/// `connect` in progress: the EHLO domain and the reply it waits for (or the command it
/// sends next, when it wants to transmit).
#[derive(Debug)]
pub(super) struct Connect<'a> {
    domain: &'a str,
    at: At,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// The TLS handshake.
    Upgrade,
    EhloOverTls,
}

impl<'a> Connect<'a> {
    /// Check the domain and the TLS policy before anything is read or written.
    pub(super) fn start(s: &Session, domain: &'a str) -> Result<Self, SmtpError> {
        crate::address::check_domain(domain, InputField::EhloDomain, false)?;
        if s.phase != Phase::ExpectGreeting {
            return Err(SmtpError::SessionUnusable);
        }
        if s.config.tls == TlsPolicy::Implicit && !s.encrypted {
            // Not even the greeting is read in the clear.
            return Err(TlsError::PlaintextTransport.into());
        }
        Ok(Connect {
            domain,
            at: At::Greeting,
        })
    }

    pub(super) fn transmit(&mut self, s: &mut Session, tx: &mut Tx<'_>) -> Result<Want, SmtpError> {
        let cmd = match self.at {
            At::Ehlo | At::EhloOverTls => Command::Ehlo(self.domain),
            At::Helo => Command::Helo(self.domain),
            At::StartTls => Command::StartTls,
            At::Greeting | At::Upgrade => return Err(SmtpError::Internal),
        };
        tx.command(s, cmd)?;
        Ok(Want::Receive)
    }

    pub(super) fn reply(&mut self, s: &mut Session, reply: &Reply) -> Result<Want, SmtpError> {
        let ok = reply.code == ReplyCode::OK;
        match self.at {
            At::Greeting => {
                if reply.code != ReplyCode::SERVICE_READY {
                    return Err(s.rejected(Stage::Greeting, reply));
                }
                self.at = At::Ehlo;
                Ok(Want::Transmit)
            }
            At::Ehlo if !ok => {
                // RFC 5321 section 3.2: HELO after a refused EHLO, but never on a
                // plaintext connection that must become TLS (without ESMTP there is no
                // STARTTLS).
                let needs_tls = !s.encrypted && s.config.tls == TlsPolicy::Required;
                if reply.code == ReplyCode::SERVICE_UNAVAILABLE || needs_tls {
                    s.close();
                    return Err(s.rejected(Stage::Ehlo, reply));
                }
                self.at = At::Helo;
                Ok(Want::Transmit)
            }
            At::Helo if !ok => {
                s.close();
                Err(s.rejected(Stage::Helo, reply))
            }
            At::Ehlo | At::Helo => self.starttls(s),
            At::StartTls => {
                if reply.code == ReplyCode::SERVICE_UNAVAILABLE {
                    // The session already closed itself.
                    return Err(s.rejected(Stage::StartTls, reply));
                }
                if reply.code != ReplyCode::SERVICE_READY {
                    if s.config.tls == TlsPolicy::Required {
                        s.close();
                        return Err(TlsError::Refused(reply.code.get()).into());
                    }
                    return Ok(Want::Done);
                }
                self.at = At::Upgrade;
                Ok(Want::Upgrade)
            }
            At::EhloOverTls if !ok => {
                s.close();
                Err(s.rejected(Stage::Ehlo, reply))
            }
            At::EhloOverTls => Ok(Want::Done),
            At::Upgrade => Err(SmtpError::Internal),
        }
    }

    /// Hello done: STARTTLS next, as the policy says.
    fn starttls(&mut self, s: &mut Session) -> Result<Want, SmtpError> {
        if s.encrypted || s.config.tls == TlsPolicy::Disabled {
            return Ok(Want::Done);
        }
        if !s.caps.has(crate::Capability::StartTls) {
            if s.config.tls == TlsPolicy::Required {
                s.close();
                return Err(TlsError::NotOffered.into());
            }
            return Ok(Want::Done);
        }
        self.at = At::StartTls;
        Ok(Want::Transmit)
    }

    /// The handshake ran; the connection says whether it is now encrypted.
    pub(super) fn upgraded(&mut self, s: &mut Session, encrypted: bool) -> Result<Want, SmtpError> {
        if self.at != At::Upgrade {
            return Err(SmtpError::Internal);
        }
        if !encrypted {
            s.close();
            return Err(TlsError::NotEncrypted.into());
        }
        s.tls_up();
        self.at = At::EhloOverTls;
        Ok(Want::Transmit)
    }
}
