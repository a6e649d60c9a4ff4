//! The crypto provider behind every `TlsConfig` the adapter builds: aws-lc-rs, whose
//! default key exchange offers the post-quantum hybrid X25519MLKEM768 first. No network.

use wasm_smtp_tokio::rustls::{NamedGroup, RootCertStore};
use wasm_smtp_tokio::TlsConfig;

/// The key exchange groups a configuration offers, in order of preference.
fn groups(tls: &TlsConfig) -> Vec<NamedGroup> {
    tls.client_config()
        .crypto_provider()
        .kx_groups
        .iter()
        .map(|group| group.name())
        .collect()
}

#[test]
fn post_quantum_key_exchange_first() {
    let webpki = TlsConfig::webpki_roots();
    let own_roots = TlsConfig::from_root_store(RootCertStore::empty());
    for tls in [&webpki, &own_roots] {
        let offered = groups(tls);
        assert_eq!(
            offered.first(),
            Some(&NamedGroup::X25519MLKEM768),
            "{offered:?}"
        );
        // The classical groups stay, for servers without ML-KEM.
        assert!(offered.contains(&NamedGroup::X25519), "{offered:?}");
    }
}
