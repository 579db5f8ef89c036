//! The server's TLS identity: a small local CA and a server certificate made at
//! `pramaan admin init`, and the rustls configuration that serves it (ring provider only).
//!
//! Why a CA and not one self-signed leaf: webpki path validation (core's `Trust::CaPem`,
//! `--ca DIR/tls/cert.pem`) refuses a CA certificate used as an end-entity certificate,
//! so the leaf is issued by a CA and `cert.pem` holds the leaf followed by the CA. Devices
//! do not depend on either: they pin the SHA-256 of the leaf's SubjectPublicKeyInfo.
//!
//! The CA's key is kept (`tls/ca.key`, 0600) so that `pramaan admin renew-cert` issues
//! the renewed leaf under the same CA, and clients trusting `--ca tls/ca.pem` need
//! nothing new ([`crate::cert_renewal`]). It guards nothing more than `tls/key.pem` beside
//! it: both only ever make or are this server's TLS identity.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SerialNumber,
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
#[derive(Clone)]
pub struct GeneratedTls {
    /// Leaf then CA.
    pub cert_chain_pem: String,
    /// The leaf's PKCS#8 private key.
    pub key_pem: String,
    /// The local CA certificate alone (written to `tls/ca.pem`).
    pub ca_pem: String,
    /// The local CA's PKCS#8 private key (written to `tls/ca.key`, 0600), kept so that
    /// `admin renew-cert` issues the renewed certificate under the same CA.
    pub ca_key_pem: String,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo.
    pub pin: [u8; 32],
}

impl std::fmt::Debug for GeneratedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private keys are secrets: never printed.
        f.debug_struct("GeneratedTls")
            .field("pin", &pramaan_core::encoding::b64url(&self.pin))
            .finish_non_exhaustive()
    }
}

/// Days a new server certificate is valid (825: what browsers and most TLS stacks still
/// accept for a leaf).
pub const LEAF_DAYS: u32 = 825;

/// Makes a CA and a leaf for `host`, `localhost`, `127.0.0.1` and `::1` (ECDSA P-256).
pub fn generate(host: &str) -> Result<GeneratedTls, TlsError> {
    let ca = LocalCa::generate(host)?;
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let leaf = ca.issue(host, &leaf_key, LEAF_DAYS)?;
    Ok(GeneratedTls {
        cert_chain_pem: leaf.chain_pem,
        key_pem: leaf_key.serialize_pem(),
        ca_pem: ca.cert_pem.clone(),
        ca_key_pem: ca.key.serialize_pem(),
        pin: leaf.pin,
    })
}

/// The local CA that issues the server certificate.
pub struct LocalCa {
    params: CertificateParams,
    key: KeyPair,
    /// Its certificate, PEM.
    pub cert_pem: String,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").finish_non_exhaustive()
    }
}

/// A server certificate [`LocalCa::issue`] made.
#[derive(Debug, Clone)]
pub struct IssuedLeaf {
    /// Leaf then CA, PEM.
    pub chain_pem: String,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo.
    pub pin: [u8; 32],
    /// The leaf's notAfter, seconds since the Unix epoch.
    pub not_after: u64,
}

fn ca_params(common_name: String) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

impl LocalCa {
    /// A new CA for `host`, valid ten years.
    pub fn generate(host: &str) -> Result<Self, TlsError> {
        let now = time::OffsetDateTime::now_utc();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = ca_params(format!("Pramaan local CA for {host}"))?;
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert_pem = params.self_signed(&key)?.pem();
        Ok(Self {
            params,
            key,
            cert_pem,
        })
    }

    /// The CA kept in `ca_pem` (`tls/ca.pem`) with its key `ca_key_pem` (`tls/ca.key`).
    /// Refused (with the reason) if the key is not the certificate's, the certificate is
    /// not a CA, or it expires within `days` from now (the leaf would outlive it).
    pub fn load(ca_pem: &[u8], ca_key_pem: &str, path: &Path, days: u32) -> Result<Self, TlsError> {
        let bad = |reason: String| TlsError::Pem {
            path: path.display().to_string(),
            reason,
        };
        let der = read_chain(ca_pem, path)?
            .into_iter()
            .next()
            .ok_or_else(|| bad("no certificate".into()))?;
        let key = KeyPair::from_pem(ca_key_pem).map_err(|e| bad(format!("CA key: {e}")))?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| bad(format!("CA certificate: {e}")))?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(bad("the CA key is not this certificate's key".into()));
        }
        if !cert.is_ca() {
            return Err(bad("not a CA certificate".into()));
        }
        let not_after = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
        let needed = unix_now().saturating_add(u64::from(days) * 86_400);
        if not_after < needed {
            return Err(bad(format!(
                "the CA expires at {not_after}, before a {days}-day certificate would"
            )));
        }
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .ok_or_else(|| bad("the CA certificate has no common name".into()))?
            .to_string();
        Ok(Self {
            params: ca_params(cn)?,
            key,
            cert_pem: String::from_utf8_lossy(ca_pem).into_owned(),
        })
    }

    /// Its private key, PEM (for `tls/ca.key`).
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A server certificate for `key` and the names `host`, `localhost`, `127.0.0.1` and
    /// `::1`, valid `days` days from yesterday (a clock slightly behind still accepts it).
    pub fn issue(&self, host: &str, key: &KeyPair, days: u32) -> Result<IssuedLeaf, TlsError> {
        let now = time::OffsetDateTime::now_utc();
        let mut names = vec![host.to_string()];
        for extra in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|n| n == extra) {
                names.push(extra.to_string());
            }
        }
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        // A random serial: a renewed certificate for the same key must not repeat the
        // serial of the one it replaces (rcgen's default derives it from the key).
        let mut serial = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
            .map_err(|_| TlsError::Pin("the random number generator failed".into()))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(i64::from(days));
        let issuer = Issuer::new(self.params.clone(), &self.key);
        let leaf = params.signed_by(key, &issuer)?;
        let pin = pramaan_core::encoding::spki_pin(leaf.der())
            .map_err(|e| TlsError::Pin(e.to_string()))?;
        Ok(IssuedLeaf {
            chain_pem: format!("{}{}", leaf.pem(), self.cert_pem),
            pin,
            not_after: u64::try_from(params.not_after.unix_timestamp()).unwrap_or(0),
        })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The leaf's notAfter (seconds since the Unix epoch) of a PEM chain.
pub fn not_after_of_chain(pem: &[u8], path: &Path) -> Result<u64, TlsError> {
    let chain = read_chain(pem, path)?;
    let leaf = chain
        .first()
        .ok_or_else(|| TlsError::Pin("empty chain".into()))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| TlsError::Pem {
            path: path.display().to_string(),
            reason: format!("certificate: {e}"),
        })?;
    Ok(u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0))
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
