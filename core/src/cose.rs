//! COSE_Sign1 (RFC 9052) for every signed Pramaan message, through coset and ring.
//!
//! Devices sign with ES256 (P-256, raw `r || s`), the server with EdDSA (Ed25519).
//! Verification is parse-then-verify: [`Sign1::parse`] gives the unverified `kid` so the
//! caller can look up the key, and `verify_*` checks, in this order, that the protected
//! header names exactly the expected algorithm (an unprotected `alg` or any `crit` header
//! is refused, so there is no algorithm confusion), that the `kid` is the expected one,
//! and only then the signature. Nothing of the payload is returned before that.

use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, RegisteredLabelWithPrivate,
    TaggedCborSerializable, iana,
};
use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};

use crate::claims::MAX_MESSAGE_BYTES;
use crate::keys::{self, KeyError, P256PublicKey, ServerKey, Signer};

/// Media type of a device message.
pub const DEVICE_CONTENT_TYPE: &str = "application/cose; cose-type=\"cose-sign1\"";

/// The two algorithms Pramaan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256 (device keys).
    Es256,
    /// Ed25519 (server key).
    EdDsa,
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        })
    }
}

impl Alg {
    fn iana(self) -> iana::Algorithm {
        match self {
            Alg::Es256 => iana::Algorithm::ES256,
            Alg::EdDsa => iana::Algorithm::EdDSA,
        }
    }
}

/// Why a COSE_Sign1 was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoseError {
    /// Over the 64 KiB message limit; holds the length in bytes.
    #[error("message is {0} bytes, over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not a COSE_Sign1 structure; holds the decoder's message.
    #[error("not a COSE_Sign1: {0}")]
    Malformed(String),
    /// The protected header names no algorithm.
    #[error("protected header has no algorithm")]
    MissingAlg,
    /// An `alg` in the unprotected header, which the signature does not cover.
    #[error("algorithm must be in the protected header only")]
    UnprotectedAlg,
    /// Another algorithm than the one the caller expects.
    #[error("algorithm {found} where {expected} was expected")]
    WrongAlg {
        /// The algorithm the caller asked to verify with.
        expected: Alg,
        /// The header's algorithm: its IANA name, or the label as sent.
        found: String,
    },
    /// A `crit` header parameter is present (none is supported).
    #[error("critical header parameters are not supported")]
    Critical,
    /// The `kid` is not the expected one.
    #[error("key id does not match the expected key")]
    WrongKid,
    /// The payload is detached (nil) or empty.
    #[error("payload is detached or empty")]
    NoPayload,
    /// The signature does not verify under the given key.
    #[error("signature does not verify")]
    BadSignature,
    /// An ES256 signature whose S is in the upper half of the group order: the other of
    /// the two encodings of one signature. Devices must send the low one (design 4).
    #[error("ES256 signature has a high S (the signer must send the low-S form, n - s)")]
    HighS,
    /// The signer failed (e.g. the platform keystore refused); holds its message.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<KeyError> for CoseError {
    fn from(e: KeyError) -> Self {
        CoseError::Signing(e.to_string())
    }
}

/// A parsed but not yet verified COSE_Sign1.
#[derive(Debug, Clone)]
pub struct Sign1 {
    msg: CoseSign1,
}

impl Sign1 {
    /// Parses a tagged (tag 18) or untagged COSE_Sign1 of at most 64 KiB with nothing after it.
    pub fn parse(bytes: &[u8]) -> Result<Self, CoseError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(CoseError::TooLarge(bytes.len()));
        }
        let msg = if bytes.first() == Some(&0xd2) {
            CoseSign1::from_tagged_slice(bytes)
        } else {
            CoseSign1::from_slice(bytes)
        }
        .map_err(|e| CoseError::Malformed(e.to_string()))?;
        if msg.payload.is_none() {
            return Err(CoseError::NoPayload);
        }
        Ok(Self { msg })
    }

    /// The protected `kid`, unverified (empty if absent).
    pub fn kid(&self) -> &[u8] {
        &self.msg.protected.header.key_id
    }

    /// The protected algorithm, if it is one Pramaan knows.
    pub fn alg(&self) -> Option<Alg> {
        match &self.msg.protected.header.alg {
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => Some(Alg::Es256),
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) => Some(Alg::EdDsa),
            _ => None,
        }
    }

    /// The payload before verification: only for display (`pramaan token inspect`).
    pub fn unverified_payload(&self) -> &[u8] {
        self.msg.payload.as_deref().unwrap_or_default()
    }

    /// The signature bytes (for display).
    pub fn signature(&self) -> &[u8] {
        &self.msg.signature
    }

    /// Verifies an ES256 signature by `key`; `expected_kid` (if given) must equal the kid.
    /// Only the low-S form is accepted ([`CoseError::HighS`]): what a server accepts
    /// must have one encoding, so a copy with `n - s` is not a second valid token.
    pub fn verify_es256(
        &self,
        key: &P256PublicKey,
        expected_kid: Option<&[u8]>,
    ) -> Result<&[u8], CoseError> {
        let payload = self.verify_es256_any_s(key, expected_kid)?;
        if !keys::is_low_s(&self.msg.signature) {
            return Err(CoseError::HighS);
        }
        Ok(payload)
    }

    /// [`Self::verify_es256`] that also accepts a high S: for tokens a log already holds
    /// (the auditor's bundle verification and replay), which a server written before
    /// low-S was required may have accepted. Never for deciding what to accept.
    pub fn verify_es256_any_s(
        &self,
        key: &P256PublicKey,
        expected_kid: Option<&[u8]>,
    ) -> Result<&[u8], CoseError> {
        self.check_headers(Alg::Es256, expected_kid)?;
        let pk = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.as_sec1());
        self.verify_with(|sig, data| pk.verify(data, sig).is_ok())
    }

    /// Verifies an EdDSA (Ed25519) signature by `key`.
    pub fn verify_eddsa(
        &self,
        key: &[u8; 32],
        expected_kid: Option<&[u8]>,
    ) -> Result<&[u8], CoseError> {
        self.check_headers(Alg::EdDsa, expected_kid)?;
        let pk = UnparsedPublicKey::new(&ED25519, key);
        self.verify_with(|sig, data| pk.verify(data, sig).is_ok())
    }

    fn check_headers(&self, expected: Alg, expected_kid: Option<&[u8]>) -> Result<(), CoseError> {
        if self.msg.unprotected.alg.is_some() {
            return Err(CoseError::UnprotectedAlg);
        }
        if !self.msg.protected.header.crit.is_empty() || !self.msg.unprotected.crit.is_empty() {
            return Err(CoseError::Critical);
        }
        match &self.msg.protected.header.alg {
            None => return Err(CoseError::MissingAlg),
            Some(RegisteredLabelWithPrivate::Assigned(a)) if *a == expected.iana() => {}
            Some(other) => {
                return Err(CoseError::WrongAlg {
                    expected,
                    found: match other {
                        // The IANA name as coset's enum spells it (`ES384`, `EdDSA`).
                        RegisteredLabelWithPrivate::Assigned(a) => format!("{a:?}"),
                        RegisteredLabelWithPrivate::PrivateUse(n) => {
                            format!("{n} (private use)")
                        }
                        RegisteredLabelWithPrivate::Text(t) => format!("{t:?}"),
                    },
                });
            }
        }
        if let Some(kid) = expected_kid
            && self.kid() != kid
        {
            return Err(CoseError::WrongKid);
        }
        Ok(())
    }

    fn verify_with(&self, ok: impl Fn(&[u8], &[u8]) -> bool) -> Result<&[u8], CoseError> {
        self.msg.verify_signature(b"", |sig, data| {
            if ok(sig, data) {
                Ok(())
            } else {
                Err(CoseError::BadSignature)
            }
        })?;
        Ok(self.unverified_payload())
    }
}

/// Signs `payload` as a tagged COSE_Sign1 with ES256 under the device `signer`.
pub fn sign_es256(signer: &dyn Signer, kid: &[u8], payload: Vec<u8>) -> Result<Vec<u8>, CoseError> {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(kid.to_vec())
        .build();
    let msg = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .try_create_signature(b"", |tbs| keys::sign_raw(signer, tbs))?
        .build();
    msg.to_tagged_vec()
        .map_err(|e| CoseError::Signing(e.to_string()))
}

/// Signs `payload` as a tagged COSE_Sign1 with EdDSA under the server key.
pub fn sign_eddsa(key: &ServerKey, kid: &[u8], payload: Vec<u8>) -> Vec<u8> {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(kid.to_vec())
        .build();
    let msg = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| key.sign(tbs).to_vec())
        .build();
    // Encoding a COSE_Sign1 built from byte strings cannot fail.
    msg.to_tagged_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SoftwareSigner;
    use proptest::prelude::*;

    fn es256_token() -> (SoftwareSigner, Vec<u8>) {
        let signer = SoftwareSigner::generate().expect("key");
        let token = sign_es256(&signer, b"kid-1", b"payload".to_vec()).expect("sign");
        (signer, token)
    }

    #[test]
    fn es256_round_trip() {
        let (signer, token) = es256_token();
        let pk = signer.public_key().expect("pk");
        let parsed = Sign1::parse(&token).expect("parse");
        assert_eq!(parsed.kid(), b"kid-1");
        assert_eq!(parsed.alg(), Some(Alg::Es256));
        assert_eq!(
            parsed.verify_es256(&pk, Some(b"kid-1")),
            Ok(&b"payload"[..])
        );
        assert_eq!(parsed.verify_es256(&pk, None), Ok(&b"payload"[..]));
    }

    #[test]
    fn a_high_s_copy_of_a_valid_token_is_refused_but_still_verifies_as_logged() {
        let (signer, token) = es256_token();
        let pk = signer.public_key().expect("pk");
        let mut msg = coset::CoseSign1::from_tagged_slice(&token).expect("cose");
        assert!(keys::is_low_s(&msg.signature), "sign_es256 sends the low S");
        let s: [u8; 32] = msg.signature[32..].try_into().expect("32");
        let high = keys::other_s(&s).expect("0 < s < n");
        msg.signature[32..].copy_from_slice(&high);
        let flipped = msg.to_tagged_vec().expect("encode");
        let parsed = Sign1::parse(&flipped).expect("parse");
        assert_eq!(parsed.verify_es256(&pk, None), Err(CoseError::HighS));
        assert_eq!(
            parsed.verify_es256_any_s(&pk, None),
            Ok(&b"payload"[..]),
            "the same signature in its other form"
        );
    }

    #[test]
    fn eddsa_round_trip() {
        let key = ServerKey::generate().expect("key");
        let token = sign_eddsa(&key, b"srv", b"hello".to_vec());
        let parsed = Sign1::parse(&token).expect("parse");
        assert_eq!(
            parsed.verify_eddsa(&key.public_key(), Some(b"srv")),
            Ok(&b"hello"[..])
        );
    }

    #[test]
    fn every_changed_byte_fails() {
        let (signer, token) = es256_token();
        let pk = signer.public_key().expect("pk");
        for i in 0..token.len() {
            let mut bad = token.clone();
            bad[i] ^= 0x01;
            let verified =
                Sign1::parse(&bad).and_then(|p| p.verify_es256(&pk, Some(b"kid-1")).map(|_| ()));
            assert!(verified.is_err(), "flipping byte {i} still verified");
        }
    }

    #[test]
    fn another_key_fails() {
        let (_, token) = es256_token();
        let other = SoftwareSigner::generate()
            .expect("key")
            .public_key()
            .expect("pk");
        assert_eq!(
            Sign1::parse(&token)
                .expect("parse")
                .verify_es256(&other, None),
            Err(CoseError::BadSignature)
        );
    }

    #[test]
    fn wrong_kid_fails() {
        let (signer, token) = es256_token();
        let pk = signer.public_key().expect("pk");
        assert_eq!(
            Sign1::parse(&token)
                .expect("parse")
                .verify_es256(&pk, Some(b"kid-2")),
            Err(CoseError::WrongKid)
        );
    }

    #[test]
    fn algorithm_confusion_fails() {
        let (_, token) = es256_token();
        // ES256 token presented as EdDSA.
        let parsed = Sign1::parse(&token).expect("parse");
        let err = parsed.verify_eddsa(&[0; 32], None);
        assert!(matches!(
            err,
            Err(CoseError::WrongAlg {
                expected: Alg::EdDsa,
                ..
            })
        ));
        // Said in words, not as Rust debug text.
        assert_eq!(
            err.err().map(|e| e.to_string()).as_deref(),
            Some("algorithm ES256 where EdDSA was expected")
        );
        // EdDSA token presented as ES256.
        let key = ServerKey::generate().expect("key");
        let ed = Sign1::parse(&sign_eddsa(&key, b"", b"x".to_vec())).expect("parse");
        let pk = SoftwareSigner::generate()
            .expect("k")
            .public_key()
            .expect("pk");
        assert!(matches!(
            ed.verify_es256(&pk, None),
            Err(CoseError::WrongAlg {
                expected: Alg::Es256,
                ..
            })
        ));
    }

    fn build_raw(
        protected: coset::Header,
        unprotected: coset::Header,
        signer: &SoftwareSigner,
    ) -> Vec<u8> {
        CoseSign1Builder::new()
            .protected(protected)
            .unprotected(unprotected)
            .payload(b"p".to_vec())
            .create_signature(b"", |tbs| keys::sign_raw(signer, tbs).expect("sign"))
            .build()
            .to_tagged_vec()
            .expect("encode")
    }

    #[test]
    fn unprotected_or_missing_alg_and_crit_fail() {
        let signer = SoftwareSigner::generate().expect("key");
        let pk = signer.public_key().expect("pk");
        let unprot = build_raw(
            HeaderBuilder::new().build(),
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES256)
                .build(),
            &signer,
        );
        assert_eq!(
            Sign1::parse(&unprot)
                .expect("parse")
                .verify_es256(&pk, None),
            Err(CoseError::UnprotectedAlg)
        );
        let none = build_raw(
            HeaderBuilder::new().build(),
            HeaderBuilder::new().build(),
            &signer,
        );
        assert_eq!(
            Sign1::parse(&none).expect("parse").verify_es256(&pk, None),
            Err(CoseError::MissingAlg)
        );
        let crit = build_raw(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES256)
                .add_critical(iana::HeaderParameter::Alg)
                .build(),
            HeaderBuilder::new().build(),
            &signer,
        );
        assert_eq!(
            Sign1::parse(&crit).expect("parse").verify_es256(&pk, None),
            Err(CoseError::Critical)
        );
    }

    #[test]
    fn structural_garbage_is_typed() {
        let (_, token) = es256_token();
        let mut trailing = token.clone();
        trailing.push(0);
        assert!(matches!(
            Sign1::parse(&trailing),
            Err(CoseError::Malformed(_))
        ));
        for cut in 0..token.len() {
            assert!(Sign1::parse(&token[..cut]).is_err(), "cut {cut}");
        }
        assert!(matches!(
            Sign1::parse(&vec![0; MAX_MESSAGE_BYTES + 1]),
            Err(CoseError::TooLarge(_))
        ));
        let detached = CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ES256)
                    .build(),
            )
            .build()
            .to_vec()
            .expect("encode");
        assert_eq!(Sign1::parse(&detached).err(), Some(CoseError::NoPayload));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = Sign1::parse(&bytes) {
                let _ = p.verify_eddsa(&[0; 32], None);
            }
        }

        #[test]
        fn mutated_tokens_never_verify(pos in 0usize..400, byte in 1u8..=255) {
            let (signer, token) = es256_token();
            let pk = signer.public_key().expect("pk");
            let mut bad = token.clone();
            let i = pos % bad.len();
            bad[i] ^= byte;
            let ok = Sign1::parse(&bad).and_then(|p| p.verify_es256(&pk, Some(b"kid-1")).map(|v| v.to_vec()));
            prop_assert!(ok.is_err() || ok == Ok(b"payload".to_vec()));
        }
    }
}
