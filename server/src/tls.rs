//! The server's TLS identity: a small local CA and a server certificate made at
//! `pramaan admin init`, and the rustls configuration that serves it (ring provider only).
//!
//! Why a CA and not one self-signed leaf: webpki path validation (core's `Trust::CaPem`,
//! `--ca DIR/tls/cert.pem`) refuses a CA certificate used as an end-entity certificate,
//! so the leaf is issued by a CA and `cert.pem` holds the leaf followed by the CA. Devices
//! do not depend on either: they pin the SHA-256 of the leaf's SubjectPublicKeyInfo.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS setup failures.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Making the CA or the server certificate failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM file (certificate chain or key) is malformed or holds no certificate or key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate or key.
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    /// The leaf's public key pin could not be computed.
    #[error("pin: {0}")]
    Pin(String),
}

/// The PEM files `admin init` writes.
#[derive(Debug, Clone)]
pub struct GeneratedTls {
    /// Leaf then CA.
    pub cert_chain_pem: String,
    /// The leaf's PKCS#8 private key.
    pub key_pem: String,
    /// The local CA certificate alone (written to `tls/ca.pem`).
    pub ca_pem: String,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo.
    pub pin: [u8; 32],
}

/// Makes a CA and a leaf for `host`, `localhost`, `127.0.0.1` and `::1` (ECDSA P-256).
pub fn generate(host: &str) -> Result<GeneratedTls, TlsError> {
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("Pramaan local CA for {host}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = now - time::Duration::days(1);
    ca_params.not_after = now + time::Duration::days(3650);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let mut names = vec![host.to_string()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == extra) {
            names.push(extra.to_string());
        }
    }
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut leaf_params = CertificateParams::new(names)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, host);
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = now - time::Duration::days(1);
    leaf_params.not_after = now + time::Duration::days(825);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    let pin =
        pramaan_core::encoding::spki_pin(leaf.der()).map_err(|e| TlsError::Pin(e.to_string()))?;
    Ok(GeneratedTls {
        cert_chain_pem: format!("{}{}", leaf.pem(), ca_cert.pem()),
        key_pem: leaf_key.serialize_pem(),
        ca_pem: ca_cert.pem(),
        pin,
    })
}

/// The certificates of a PEM file, leaf first.
pub fn read_chain(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: path.display().to_string(),
            reason: "no certificate".into(),
        });
    }
    Ok(chain)
}

/// The pin of the leaf (first certificate) of a PEM chain.
pub fn pin_of_chain(pem: &[u8], path: &Path) -> Result<[u8; 32], TlsError> {
    let chain = read_chain(pem, path)?;
    let leaf = chain
        .first()
        .ok_or_else(|| TlsError::Pin("empty chain".into()))?;
    pramaan_core::encoding::spki_pin(leaf).map_err(|e| TlsError::Pin(e.to_string()))
}

/// A rustls server configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1).
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    path: &Path,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain = read_chain(cert_pem, path)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        path: path.display().to_string(),
        reason: format!("private key: {e}"),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_chain_serves_and_pins_the_leaf() {
        let g = generate("pramaan.example").expect("generate");
        let p = Path::new("cert.pem");
        let chain = read_chain(g.cert_chain_pem.as_bytes(), p).expect("chain");
        assert_eq!(chain.len(), 2);
        assert_eq!(
            pin_of_chain(g.cert_chain_pem.as_bytes(), p).expect("pin"),
            g.pin
        );
        server_config(g.cert_chain_pem.as_bytes(), g.key_pem.as_bytes(), p).expect("config");
    }
}
