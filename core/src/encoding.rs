//! Encodings every side shares: base64url (tokens, pins, URIs), the SPKI pin of a
//! certificate, and canonical-enough CBOR output.
//!
//! Why here: the agent, the server and the command line all print and parse the same pins
//! and tokens; one function each keeps them byte-for-byte the same.

use base64::Engine as _;
use serde::Serialize;

/// Why an encoded value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodingError {
    /// Not base64url (with or without padding).
    #[error("not base64url")]
    NotBase64url,
    /// A certificate that does not parse as X.509 DER.
    #[error("certificate does not parse: {0}")]
    Certificate(String),
}

/// base64url without padding, as used in enrollment URIs, pins and bearer tokens.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, accepting and ignoring trailing `=` padding and surrounding spaces.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, EncodingError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|_| EncodingError::NotBase64url)
}

/// SHA-256 of the SubjectPublicKeyInfo of a DER certificate: the pin devices trust.
pub fn spki_pin(cert_der: &[u8]) -> Result<[u8; 32], EncodingError> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| EncodingError::Certificate(e.to_string()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    Ok(out)
}

/// A CBOR decoding error in words: ciborium's own `Display` is its Debug text
/// (`Semantic(None, "...")`), which must not reach a device, IT or an auditor.
pub fn cbor_error_text<T>(e: &ciborium::de::Error<T>) -> String {
    match e {
        ciborium::de::Error::Io(_) => "the data ends too early".into(),
        ciborium::de::Error::Syntax(at) => format!("malformed CBOR at byte {at}"),
        ciborium::de::Error::Semantic(Some(at), msg) => format!("{msg} (at byte {at})"),
        ciborium::de::Error::Semantic(None, msg) => msg.clone(),
        ciborium::de::Error::RecursionLimitExceeded => "CBOR nested too deeply".into(),
    }
}

/// Encodes any serde value as CBOR.
pub fn cbor_encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail with an I/O error, and every message type here
    // serializes (no maps with non-string keys, no unsupported types).
    if let Err(e) = ciborium::into_writer(msg, &mut out) {
        log::error!("CBOR encoding failed: {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_round_trips_and_tolerates_padding() {
        let bytes = [0xfbu8, 0xff, 0x00, 0x01];
        let text = b64url(&bytes);
        assert_eq!(text, "-_8AAQ");
        assert_eq!(b64url_decode(&text), Ok(bytes.to_vec()));
        assert_eq!(b64url_decode(" -_8AAQ== "), Ok(bytes.to_vec()));
        assert_eq!(b64url_decode("+/8AAQ"), Err(EncodingError::NotBase64url));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            spki_pin(b"not der"),
            Err(EncodingError::Certificate(_))
        ));
    }
}
