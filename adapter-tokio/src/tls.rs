//! [`TlsConfig`]: which certificate authorities the client trusts.

use crate::Error;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The TLS settings of a connection: the trusted roots, as a rustls [`ClientConfig`].
///
/// Server certificates are always verified, including the host name (or IP address)
/// the connection was opened to; there is no switch to turn that off. For a private
/// server, trust its CA with [`TlsConfig::from_ca_file`] instead.
///
/// Cloning is cheap (the configuration is shared).
#[derive(Clone)]
pub struct TlsConfig {
    client: Arc<ClientConfig>,
}

impl core::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::webpki_roots()
    }
}

impl TlsConfig {
    /// Trust the Mozilla root program's CAs, as compiled into the `webpki-roots` crate
    /// (independent of the operating system's store). The default.
    pub fn webpki_roots() -> Self {
        static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        let client = DEFAULT.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            Arc::new(client_config(roots))
        });
        TlsConfig {
            client: Arc::clone(client),
        }
    }

    /// Trust only the certificates in a PEM file (one or more `CERTIFICATE` blocks):
    /// for a private server or a test CA.
    ///
    /// # Errors
    /// [`Error::CaFile`] when the file cannot be read, holds a malformed block, or holds
    /// no certificate rustls accepts as a trust anchor.
    pub fn from_ca_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| e.to_string())
            .and_then(|certs| roots(certs.map(|c| c.map_err(|e| e.to_string()))));
        certs
            .map(Self::from_root_store)
            .map_err(|reason| Error::CaFile {
                path: path.to_path_buf(),
                reason,
            })
    }

    /// Trust only the certificates in PEM text held in memory (from a secret store, for
    /// example).
    ///
    /// # Errors
    /// [`Error::InvalidCa`] when a block is malformed or no certificate can be a trust
    /// anchor.
    pub fn from_ca_pem(pem: &[u8]) -> Result<Self, Error> {
        let certs = CertificateDer::pem_slice_iter(pem).map(|c| c.map_err(|e| e.to_string()));
        roots(certs)
            .map(Self::from_root_store)
            .map_err(Error::InvalidCa)
    }

    /// Trust exactly the roots in `roots`.
    pub fn from_root_store(roots: RootCertStore) -> Self {
        TlsConfig {
            client: Arc::new(client_config(roots)),
        }
    }

    /// Use a rustls configuration built by the caller (client certificates, another
    /// crypto provider, pinned protocol versions). Its certificate verifier is the
    /// caller's responsibility.
    pub fn from_client_config(client: Arc<ClientConfig>) -> Self {
        TlsConfig { client }
    }

    /// The rustls configuration in use.
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.client
    }
}

/// A root store of every certificate, or why there is none.
fn roots(
    certs: impl Iterator<Item = Result<CertificateDer<'static>, String>>,
) -> Result<RootCertStore, String> {
    let certs = certs.collect::<Result<Vec<_>, _>>()?;
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    match (added, ignored) {
        (0, 0) => Err("no PEM CERTIFICATE block".to_string()),
        (0, n) => Err(format!(
            "none of its {n} certificates can be a trust anchor"
        )),
        _ => Ok(roots),
    }
}

/// TLS 1.2 and 1.3 with the aws-lc-rs provider (post-quantum X25519MLKEM768 key exchange
/// offered first) and rustls's safe defaults, no client certificate.
fn client_config(roots: RootCertStore) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // The aws-lc-rs provider supports the default versions; this arm keeps the
        // configuration valid (rustls's process default) instead of panicking.
        Err(_) => ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    }
}
