//! Device and server keys.
//!
//! The device key is ECDSA P-256 (COSE ES256) because it is the one curve both Android
//! StrongBox and the iOS Secure Enclave hold. On phones it lives in hardware behind the
//! platform's implementation of [`Signer`]; [`SoftwareSigner`] (ring, PKCS#8 on disk with
//! mode 0600) serves the desktop agent and tests. The server identity key is Ed25519
//! ([`ServerKey`]): it signs results, receipts and log checkpoints.

use std::path::Path;

use coset::{CborSerializable, CoseKey, CoseKeyBuilder, Label, iana};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};

/// Errors of key handling.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file, as displayed in the message.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a PKCS#8 key of this algorithm (`P-256` or `Ed25519`).
    #[error("not a valid {0} private key (PKCS#8)")]
    BadPrivateKey(&'static str),
    /// Not an uncompressed P-256 point or not an EC2 P-256 COSE_Key; holds why.
    #[error("not a valid P-256 COSE_Key: {0}")]
    BadCoseKey(&'static str),
    /// The signer returned neither raw `r || s` nor a strict DER `ECDSA-Sig-Value`.
    #[error("signature from the signer is neither raw r||s nor DER ECDSA-Sig-Value")]
    BadSignature,
    /// The signer (ring, or the platform keystore through FFI) failed; holds its message.
    #[error("signer failed: {0}")]
    Signer(String),
    /// The system random number generator failed (key generation).
    #[error("random number generator failed")]
    Rng,
}

/// An uncompressed SEC1 P-256 public key (`0x04 || x || y`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct P256PublicKey([u8; 65]);

impl std::fmt::Debug for P256PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P256PublicKey({})", hex::encode(self.0))
    }
}

impl P256PublicKey {
    /// Parses an uncompressed SEC1 point (65 bytes starting with 0x04).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 65] = bytes
            .try_into()
            .map_err(|_| KeyError::BadCoseKey("public key is not 65 bytes"))?;
        if arr[0] != 0x04 {
            return Err(KeyError::BadCoseKey(
                "public key is not an uncompressed point",
            ));
        }
        Ok(Self(arr))
    }

    /// The 65-byte SEC1 form (`0x04 || x || y`), as ring verifies it.
    pub fn as_sec1(&self) -> &[u8; 65] {
        &self.0
    }

    /// The COSE_Key (RFC 9053: kty EC2, crv P-256, alg ES256).
    pub fn to_cose_key(&self) -> CoseKey {
        let mut key = CoseKeyBuilder::new_ec2_pub_key(
            iana::EllipticCurve::P_256,
            self.0[1..33].to_vec(),
            self.0[33..65].to_vec(),
        )
        .algorithm(iana::Algorithm::ES256)
        .build();
        key.key_ops.clear();
        key
    }

    /// The encoded COSE_Key.
    pub fn to_cose_key_bytes(&self) -> Vec<u8> {
        // A COSE_Key built from fixed-size fields always encodes.
        self.to_cose_key().to_vec().unwrap_or_default()
    }

    /// Parses an encoded COSE_Key; only EC2 / P-256 with 32-byte coordinates is accepted.
    pub fn from_cose_key_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = CoseKey::from_slice(bytes).map_err(|_| KeyError::BadCoseKey("not CBOR"))?;
        Self::from_cose_key(&key)
    }

    /// Reads a decoded COSE_Key: EC2, P-256, ES256 if `alg` is set, 32-byte coordinates.
    pub fn from_cose_key(key: &CoseKey) -> Result<Self, KeyError> {
        if key.kty != coset::KeyType::Assigned(iana::KeyType::EC2) {
            return Err(KeyError::BadCoseKey("kty is not EC2"));
        }
        if let Some(alg) = &key.alg
            && *alg != coset::Algorithm::Assigned(iana::Algorithm::ES256)
        {
            return Err(KeyError::BadCoseKey("alg is not ES256"));
        }
        let param = |label: i64| {
            key.params
                .iter()
                .find(|(l, _)| *l == Label::Int(label))
                .map(|(_, v)| v)
        };
        let crv = param(iana::Ec2KeyParameter::Crv as i64)
            .and_then(|v| v.as_integer())
            .ok_or(KeyError::BadCoseKey("crv missing"))?;
        if crv != (iana::EllipticCurve::P_256 as i64).into() {
            return Err(KeyError::BadCoseKey("crv is not P-256"));
        }
        let coord = |label: iana::Ec2KeyParameter, what: &'static str| {
            param(label as i64)
                .and_then(|v| v.as_bytes())
                .filter(|b| b.len() == 32)
                .ok_or(KeyError::BadCoseKey(what))
        };
        let x = coord(iana::Ec2KeyParameter::X, "x is not 32 bytes")?;
        let y = coord(iana::Ec2KeyParameter::Y, "y is not 32 bytes")?;
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..33].copy_from_slice(x);
        out[33..].copy_from_slice(y);
        Ok(Self(out))
    }
}

/// Something that holds a P-256 device key and signs with it.
///
/// Contract: `sign` takes the message itself (the pre-image), hashes it with SHA-256 and
/// signs, as Android Keystore (`SHA256withECDSA`) and CryptoKit do when given the message.
/// It may return raw `r || s` (64 bytes) or a DER `ECDSA-Sig-Value`; [`sign_raw`]
/// normalizes, once, at this edge.
pub trait Signer: Send + Sync {
    /// The device's public key (the one enrolled).
    fn public_key(&self) -> Result<P256PublicKey, KeyError>;
    /// Signs `message` (hashing it with SHA-256 first): raw `r || s` or DER.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;
    /// Called once the server has accepted the enrollment of this key, before the agent
    /// saves its state: a signer whose key lives in a file ([`KeyFile`]) writes it now,
    /// so a refused or failed enrollment leaves no key behind. Keys held by the platform
    /// (Keystore, Secure Enclave) have nothing to do.
    fn keep(&self) -> Result<(), KeyError> {
        Ok(())
    }
}

/// Signs and returns the COSE ES256 form of the signature (raw `r || s`), with a low S.
///
/// ECDSA signatures are malleable: `(r, s)` and `(r, n - s)` both verify. Android
/// Keystore, the Secure Enclave and Java return either, half the time the high one; the
/// server accepts only the low one ([`is_low_s`], design section 4), so the high one is
/// replaced here by `n - s`, which verifies the same.
pub fn sign_raw(signer: &dyn Signer, message: &[u8]) -> Result<Vec<u8>, KeyError> {
    let sig = signer.sign(message)?;
    let raw = match <[u8; 64]>::try_from(sig.as_slice()) {
        Ok(raw) => raw,
        Err(_) => der_to_raw(&sig)?,
    };
    to_low_s(raw).map(|raw| raw.to_vec())
}

/// The order `n` of the P-256 group, big-endian.
const P256_N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// `floor(n / 2)`: the largest low S.
const P256_HALF_N: [u8; 32] = [
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8,
];

/// The S half of a raw `r || s` signature.
fn s_of(raw: &[u8; 64]) -> [u8; 32] {
    let mut s = [0u8; 32];
    s.copy_from_slice(&raw[32..]);
    s
}

/// Whether a raw `r || s` ES256 signature has `s <= n / 2` (is 64 bytes long at all).
/// Equal-length big-endian byte strings compare as the numbers they encode.
pub fn is_low_s(raw: &[u8]) -> bool {
    <[u8; 64]>::try_from(raw).is_ok_and(|raw| s_of(&raw) <= P256_HALF_N)
}

/// `raw` with `s` replaced by `n - s` when `s` is above `n / 2`; an `s` at or above `n`
/// is no signature at all and refused.
fn to_low_s(mut raw: [u8; 64]) -> Result<[u8; 64], KeyError> {
    let s = s_of(&raw);
    if s <= P256_HALF_N {
        return Ok(raw);
    }
    raw[32..].copy_from_slice(&other_s(&s).ok_or(KeyError::BadSignature)?);
    Ok(raw)
}

/// `n - s`: the S of the other encoding of the same signature; `None` unless `0 < s < n`.
pub(crate) fn other_s(s: &[u8; 32]) -> Option<[u8; 32]> {
    if *s >= P256_N || s.iter().all(|&b| b == 0) {
        return None;
    }
    // Byte by byte from the least significant, with a borrow; s < n, so no borrow is
    // left at the end.
    let mut out = [0u8; 32];
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let d = u16::from(P256_N[i])
            .wrapping_sub(u16::from(s[i]))
            .wrapping_sub(borrow);
        out[i] = (d & 0xFF) as u8;
        borrow = (d >> 15) & 1;
    }
    Some(out)
}

/// Converts a DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` to 64-byte
/// `r || s`. Written by hand because it is a fixed two-integer shape that ring does not
/// expose and a general DER crate would only add a dependency to the phone library; it is
/// strict (definite short lengths, minimal integers) and fuzzed by the tests below.
pub fn der_to_raw(der: &[u8]) -> Result<[u8; 64], KeyError> {
    fn take_int(input: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
        let (&tag, rest) = input.split_first().ok_or(KeyError::BadSignature)?;
        let (&len, rest) = rest.split_first().ok_or(KeyError::BadSignature)?;
        let len = usize::from(len);
        if tag != 0x02 || len == 0 || len > 33 || rest.len() < len {
            return Err(KeyError::BadSignature);
        }
        let (int, rest) = rest.split_at(len);
        // Minimal encoding: a leading zero only when the next byte has its top bit set.
        if int.len() > 1 && int[0] == 0 && int[1] & 0x80 == 0 {
            return Err(KeyError::BadSignature);
        }
        if int[0] & 0x80 != 0 {
            return Err(KeyError::BadSignature); // negative
        }
        // 33 bytes only as 0x00 and a 32-byte number with its top bit set (checked
        // above): any other first byte is a number beyond 256 bits, never dropped.
        let int = match int.split_first() {
            Some((0, tail)) if int.len() == 33 => tail,
            _ if int.len() == 33 => return Err(KeyError::BadSignature),
            _ => int,
        };
        Ok((int, rest))
    }
    let (&tag, rest) = der.split_first().ok_or(KeyError::BadSignature)?;
    let (&len, body) = rest.split_first().ok_or(KeyError::BadSignature)?;
    if tag != 0x30 || usize::from(len) != body.len() || len >= 0x80 {
        return Err(KeyError::BadSignature);
    }
    let (r, rest) = take_int(body)?;
    let (s, rest) = take_int(rest)?;
    if !rest.is_empty() || r.len() > 32 || s.len() > 32 {
        return Err(KeyError::BadSignature);
    }
    let mut out = [0u8; 64];
    out[32 - r.len()..32].copy_from_slice(r);
    out[64 - s.len()..].copy_from_slice(s);
    Ok(out)
}

/// A P-256 key held in memory by ring, persisted as PKCS#8.
pub struct SoftwareSigner {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("SoftwareSigner")
            .field("public_key", &hex::encode(self.pair.public_key().as_ref()))
            .finish()
    }
}

impl SoftwareSigner {
    /// Generates a fresh key.
    pub fn generate() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Rng)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Reads a PKCS#8 P-256 private key (the format [`SoftwareSigner::save`] writes).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| KeyError::BadPrivateKey("P-256"))?;
        Ok(Self {
            pair,
            pkcs8: pkcs8.to_vec(),
            rng,
        })
    }

    /// Loads the key at `path`.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pkcs8(&bytes)
    }

    /// Writes the key to `path` atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        crate::fsutil::write_atomic(path, &self.pkcs8, 0o600).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Loads the key at `path`, or generates and saves one if there is none.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let signer = Self::generate()?;
        signer.save(path)?;
        Ok(signer)
    }
}

impl Signer for SoftwareSigner {
    fn public_key(&self) -> Result<P256PublicKey, KeyError> {
        P256PublicKey::from_sec1(self.pair.public_key().as_ref())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| KeyError::Signer("ring ECDSA signing failed".into()))
    }
}

/// The desktop agent's device key in a file (`STATE/device.key`, mode 0600).
///
/// A key that is not on disk yet is generated in memory and written only by
/// [`Signer::keep`], which the agent calls after the server accepted the enrollment; a
/// key on disk is loaded. So an enrollment that fails leaves no `device.key` behind, and
/// commands run on a directory that never enrolled (`device status`) write nothing.
#[derive(Debug)]
pub struct KeyFile {
    signer: SoftwareSigner,
    path: std::path::PathBuf,
    on_disk: bool,
}

impl KeyFile {
    /// Loads the key at `path`, or generates one in memory if there is none.
    pub fn open(path: &Path) -> Result<Self, KeyError> {
        let on_disk = path.exists();
        let signer = if on_disk {
            SoftwareSigner::load(path)?
        } else {
            SoftwareSigner::generate()?
        };
        Ok(Self {
            signer,
            path: path.to_path_buf(),
            on_disk,
        })
    }

    /// Whether the key is in its file (loaded from it; a new key only after `keep`).
    pub fn on_disk(&self) -> bool {
        self.on_disk || self.path.exists()
    }
}

impl Signer for KeyFile {
    fn public_key(&self) -> Result<P256PublicKey, KeyError> {
        self.signer.public_key()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.signer.sign(message)
    }

    fn keep(&self) -> Result<(), KeyError> {
        if self.on_disk {
            return Ok(());
        }
        self.signer.save(&self.path)
    }
}

/// The server's Ed25519 identity key.
pub struct ServerKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("public_key", &hex::encode(self.public_key()))
            .finish()
    }
}

impl ServerKey {
    /// Generates a fresh Ed25519 key.
    pub fn generate() -> Result<Self, KeyError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Rng)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Reads a PKCS#8 Ed25519 private key (the format [`ServerKey::save`] writes).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::BadPrivateKey("Ed25519"))?;
        Ok(Self {
            pair,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// Loads the PKCS#8 key at `path`.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pkcs8(&bytes)
    }

    /// Writes the key as PKCS#8 to `path` atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        crate::fsutil::write_atomic(path, &self.pkcs8, 0o600).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs `message` with Ed25519: the 64-byte signature.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cose_key_round_trips_and_rejects_other_curves() {
        let signer = SoftwareSigner::generate().expect("key");
        let pk = signer.public_key().expect("pk");
        let bytes = pk.to_cose_key_bytes();
        assert_eq!(
            P256PublicKey::from_cose_key_bytes(&bytes).expect("parse"),
            pk
        );

        let p384 =
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_384, vec![1; 48], vec![2; 48])
                .build();
        assert!(P256PublicKey::from_cose_key(&p384).is_err());
        let okp = CoseKeyBuilder::new_okp_key().build();
        assert!(P256PublicKey::from_cose_key(&okp).is_err());
        assert!(P256PublicKey::from_cose_key_bytes(&[0xff]).is_err());
    }

    #[test]
    fn software_key_persists_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("device.p8");
        let a = SoftwareSigner::load_or_generate(&path).expect("generate");
        let b = SoftwareSigner::load_or_generate(&path).expect("load");
        assert_eq!(a.public_key().expect("pk"), b.public_key().expect("pk"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"garbage").expect("write");
        assert!(matches!(
            SoftwareSigner::load(&path),
            Err(KeyError::BadPrivateKey(_))
        ));
        assert!(!format!("{a:?}").contains(&hex::encode(&a.pkcs8)));
    }

    #[test]
    fn der_signatures_normalize_to_raw() {
        // r = 1, s = 0x80 (needs a leading zero in DER).
        let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80];
        let raw = der_to_raw(&der).expect("der");
        assert_eq!(raw[31], 1);
        assert_eq!(raw[63], 0x80);
        assert!(raw[..31].iter().all(|&b| b == 0));
        // Non-minimal integer, trailing bytes, wrong tag, negative.
        assert!(der_to_raw(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]).is_err());
        assert!(der_to_raw(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]).is_err());
        assert!(der_to_raw(&[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]).is_err());
        assert!(der_to_raw(&[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01]).is_err());
    }

    #[test]
    fn der_from_a_real_signer_verifies_after_conversion() {
        // ring can emit ASN.1 signatures too: convert and verify with the fixed form.
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED};
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("k");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref(), &rng)
            .expect("k");
        for i in 0..50u8 {
            let msg = [i; 10];
            let der = pair.sign(&rng, &msg).expect("sign");
            let raw = der_to_raw(der.as_ref()).expect("convert");
            ring::signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key())
                .verify(&msg, &raw)
                .expect("verifies");
        }
    }

    #[test]
    fn server_key_round_trips() {
        let k = ServerKey::generate().expect("key");
        let again = ServerKey::from_pkcs8(&k.pkcs8).expect("parse");
        assert_eq!(k.public_key(), again.public_key());
        let sig = k.sign(b"m");
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, k.public_key())
            .verify(b"m", &sig)
            .expect("verifies");
    }

    /// Minimal DER of one non-negative integer given big-endian (test side, by the rules).
    fn der_int(n: &[u8]) -> Vec<u8> {
        let start = n.iter().position(|&b| b != 0).unwrap_or(n.len() - 1);
        let mut v = n[start..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }

    fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = der_int(r);
        body.extend(der_int(s));
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn a_33_byte_integer_must_start_with_a_zero() {
        // Found by tests/fuzz too (target der_signature, its input kept in
        // tests/fuzz/regressions/): the first byte of a 33-byte integer used to be dropped,
        // so two different DER values gave one raw signature.
        let mut big = vec![0x01];
        big.extend([0x80; 32]);
        let mut body = vec![0x02, 33];
        body.extend(&big);
        body.extend([0x02, 0x01, 0x01]);
        let mut der = vec![0x30, body.len() as u8];
        der.extend(&body);
        assert!(matches!(der_to_raw(&der), Err(KeyError::BadSignature)));
        // The same length with the one allowed first byte.
        der[4] = 0x00;
        let raw = der_to_raw(&der).expect("0x00 then a top bit set");
        assert_eq!(raw[..32], [0x80; 32]);
        // 0xFF first: negative, refused too.
        der[4] = 0xFF;
        assert!(der_to_raw(&der).is_err());
    }

    /// A platform signer that answers with a chosen encoding and S half.
    struct PlatformSigner {
        inner: SoftwareSigner,
        der: bool,
        high: bool,
    }

    impl Signer for PlatformSigner {
        fn public_key(&self) -> Result<P256PublicKey, KeyError> {
            self.inner.public_key()
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
            let mut raw = <[u8; 64]>::try_from(self.inner.sign(message)?.as_slice())
                .map_err(|_| KeyError::BadSignature)?;
            // Flip to the wanted half: n - s is the other one.
            if is_low_s(&raw) == self.high {
                let flipped = n_minus_s(&raw);
                raw[32..].copy_from_slice(&flipped);
            }
            Ok(if self.der {
                der_sig(&raw[..32], &raw[32..])
            } else {
                raw.to_vec()
            })
        }
    }

    /// n - s by big integers in the test (independent of `to_low_s`).
    fn n_minus_s(raw: &[u8; 64]) -> [u8; 32] {
        let n = u128_pair(&P256_N);
        let s = u128_pair(&raw[32..]);
        let (lo, borrow) = n.1.overflowing_sub(s.1);
        let hi = n.0 - s.0 - u128::from(borrow);
        let mut out = [0u8; 32];
        out[..16].copy_from_slice(&hi.to_be_bytes());
        out[16..].copy_from_slice(&lo.to_be_bytes());
        out
    }

    fn u128_pair(b: &[u8]) -> (u128, u128) {
        let hi = u128::from_be_bytes(b[..16].try_into().expect("16"));
        let lo = u128::from_be_bytes(b[16..32].try_into().expect("16"));
        (hi, lo)
    }

    #[test]
    fn sign_raw_turns_a_high_s_from_a_platform_signer_into_the_low_one() {
        use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
        let inner = SoftwareSigner::generate().expect("key");
        let public = inner.public_key().expect("pk");
        let inner_pkcs8 = inner.pkcs8.clone();
        for (der, high) in [(false, true), (true, true), (false, false), (true, false)] {
            let platform = PlatformSigner {
                inner: SoftwareSigner::from_pkcs8(&inner_pkcs8).expect("key"),
                der,
                high,
            };
            for i in 0..8u8 {
                let msg = [i; 20];
                let given = platform.sign(&msg).expect("sign");
                let out = sign_raw(&platform, &msg).expect("sign_raw");
                assert!(is_low_s(&out), "der {der} high {high}: S not normalised");
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public.as_sec1())
                    .verify(&msg, &out)
                    .expect("the normalised signature verifies");
                if !der {
                    // Random k: another signature, so compare the shape only.
                    assert_eq!(is_low_s(&given), !high);
                }
            }
        }
        assert!(!is_low_s(&[0u8; 63]));
    }

    #[test]
    fn an_s_at_or_above_the_order_is_refused_not_wrapped() {
        let mut raw = [1u8; 64];
        raw[32..].copy_from_slice(&P256_N);
        assert!(!is_low_s(&raw));
        assert!(matches!(to_low_s(raw), Err(KeyError::BadSignature)));
        raw[32..].copy_from_slice(&P256_HALF_N);
        assert_eq!(to_low_s(raw).expect("n/2 is low"), raw);
    }

    proptest! {
        #[test]
        fn der_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = der_to_raw(&bytes);
        }

        #[test]
        fn minimal_der_round_trips(r in any::<[u8; 32]>(), s in any::<[u8; 32]>()) {
            let raw = der_to_raw(&der_sig(&r, &s)).expect("minimal DER parses");
            prop_assert_eq!(&raw[..32], &r[..]);
            prop_assert_eq!(&raw[32..], &s[..]);
        }

        #[test]
        fn a_33_byte_integer_with_a_nonzero_first_byte_is_refused(
            first in 1u8..=255,
            tail in any::<[u8; 32]>(),
            r_side in any::<bool>(),
        ) {
            let mut int = vec![0x02, 33, first];
            int.extend(tail);
            let one = [0x02, 0x01, 0x01];
            let body: Vec<u8> = if r_side {
                int.iter().chain(one.iter()).copied().collect()
            } else {
                one.iter().chain(int.iter()).copied().collect()
            };
            let mut der = vec![0x30, body.len() as u8];
            der.extend(body);
            prop_assert!(der_to_raw(&der).is_err());
        }

        #[test]
        fn low_s_is_the_other_half_or_unchanged(r in any::<[u8; 32]>(), s in any::<[u8; 32]>()) {
            let mut raw = [0u8; 64];
            raw[..32].copy_from_slice(&r);
            raw[32..].copy_from_slice(&s);
            match to_low_s(raw) {
                Ok(low) => {
                    prop_assert!(is_low_s(&low));
                    prop_assert_eq!(&low[..32], &r[..]);
                    if s <= P256_HALF_N {
                        prop_assert_eq!(low, raw);
                    } else {
                        prop_assert_eq!(&low[32..], &n_minus_s(&raw)[..]);
                    }
                }
                Err(_) => prop_assert!(s >= P256_N),
            }
        }
    }
}
