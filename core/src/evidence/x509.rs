//! Certificate chain validation shared by the Android and Apple verifiers.
//!
//! Both platforms hand us a short chain (leaf first) that must end at a root we ship. A
//! general-purpose RFC 5280 path builder is the wrong tool here: Android chains carry
//! quirks Google's own verifier tolerates (see [`ChainPolicy`]), the anchors must be
//! matched by public key (Google re-issued its 2016 root with the same key), and every
//! check must take an explicit "now" because the evidence is verified long after it was
//! captured (tests) or on a server whose clock is the only one that counts. So this module
//! does the few checks that matter, with `x509-parser` for parsing and `ring` for
//! signatures: name chaining, each signature by the next certificate's key (algorithm
//! picked from the signature OID and the issuer's key), validity at `now`, and a trust
//! anchor matched by SubjectPublicKeyInfo. Nothing here panics on any input.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::asn1_rs::{Any, Class};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

/// Why a chain was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No certificate was given.
    #[error("the certificate chain is empty")]
    Empty,
    /// A certificate does not parse, has trailing bytes or inconsistent unsigned parts.
    #[error("certificate {index} is not valid DER X.509: {reason}")]
    Parse {
        /// Position in the chain, 0 for the leaf.
        index: usize,
        /// The parser's message.
        reason: String,
    },
    /// PEM text with no `CERTIFICATE` block.
    #[error("PEM input holds no certificate")]
    NoPem,
    /// A PEM `BEGIN CERTIFICATE` marker without its `END CERTIFICATE`.
    #[error("PEM certificate {index} has no END CERTIFICATE line")]
    PemUnterminated {
        /// Position of the block in the PEM text, from 0.
        index: usize,
    },
    /// A PEM `CERTIFICATE` block whose body is not base64.
    #[error("PEM certificate {index} is not valid base64")]
    PemBase64 {
        /// Position of the block in the PEM text, from 0.
        index: usize,
    },
    /// A key or signature algorithm Pramaan cannot verify; holds its OID or name.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// A certificate's issuer is not the next certificate's subject.
    #[error("certificate {index}: issuer name does not match the subject of certificate {next}")]
    NameChaining {
        /// Position in the chain, 0 for the leaf.
        index: usize,
        /// Position of the certificate expected to be its issuer.
        next: usize,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error("certificate {index}: signature does not verify with its issuer's key")]
    BadSignature {
        /// Position in the chain, 0 for the leaf.
        index: usize,
    },
    /// A certificate's notBefore is after `now`.
    #[error("certificate {index} is not yet valid at {now} (not before {not_before})")]
    NotYetValid {
        /// Position in the chain, 0 for the leaf.
        index: usize,
        /// The time checked at, seconds since the Unix epoch.
        now: u64,
        /// notBefore, seconds since the Unix epoch.
        not_before: i64,
    },
    /// A certificate's notAfter is before `now` (and no tolerance applied).
    #[error("certificate {index} has expired at {now} (not after {not_after})")]
    Expired {
        /// Position in the chain, 0 for the leaf.
        index: usize,
        /// The time checked at, seconds since the Unix epoch.
        now: u64,
        /// notAfter, seconds since the Unix epoch.
        not_after: i64,
    },
    /// The shipped trust anchor itself has expired at `now`.
    #[error("trust anchor '{name}' is not valid at {now}")]
    AnchorNotValid {
        /// The anchor's subject.
        name: String,
        /// The time checked at, seconds since the Unix epoch.
        now: u64,
    },
    /// An issuer lacks basicConstraints (or CA:TRUE where the policy requires it).
    #[error("certificate {index} issues another certificate but is not a CA")]
    NotCa {
        /// Position in the chain, 0 for the leaf.
        index: usize,
    },
    /// The chain ends at a self-signed root that is not among the anchors.
    #[error("the chain ends at a root that is not trusted ({subject})")]
    UntrustedRoot {
        /// The root's subject.
        subject: String,
    },
    /// The last certificate is not signed by any anchor's key.
    #[error("the chain's last certificate was not issued by a trusted root (issuer {issuer})")]
    UnknownIssuer {
        /// The last certificate's issuer name.
        issuer: String,
    },
    /// The chain is only the anchor: no leaf to attest anything.
    #[error("the chain consists of the trust anchor alone")]
    OnlyAnchor,
}

/// Roots a chain may end at, matched by public key (SubjectPublicKeyInfo DER).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<Anchor>,
}

#[derive(Debug, Clone)]
struct Anchor {
    name: String,
    /// The SubjectPublicKeyInfo DER: the identity of the anchor.
    spki: Vec<u8>,
    not_after: i64,
}

const GOOGLE_ROOTS_PEM: &str = include_str!("../../data/google_attestation_roots.pem");
const APPLE_ROOT_PEM: &str = include_str!("../../data/apple_app_attestation_root_ca.pem");

impl TrustAnchors {
    /// Anchors from DER certificates (each must parse).
    pub fn from_der_certs(certs: &[Vec<u8>]) -> Result<Self, ChainError> {
        let mut anchors = Vec::with_capacity(certs.len());
        for (index, der) in certs.iter().enumerate() {
            let cert = parse_cert(index, der)?;
            anchors.push(Anchor {
                name: cert.subject().to_string(),
                spki: cert.public_key().raw.to_vec(),
                not_after: cert.validity().not_after.timestamp(),
            });
        }
        Ok(Self { anchors })
    }

    /// Anchors from PEM text holding one or more certificates.
    pub fn from_pem(pem: &str) -> Result<Self, ChainError> {
        Self::from_der_certs(&pem_certificates(pem)?)
    }

    /// Google's hardware attestation roots (`core/data/google_attestation_roots.pem`, from
    /// `roots.json` of android/keyattestation): the RSA root (re-issued 2022, same key as
    /// the 2016 root) and the 2025 ECDSA P-384 "Key Attestation CA1".
    pub fn google_builtin() -> Self {
        // The shipped PEM is covered by tests; an unparsable file would give no anchors,
        // which fails closed (nothing verifies) rather than panicking.
        Self::from_pem(GOOGLE_ROOTS_PEM).unwrap_or_default()
    }

    /// Apple App Attestation Root CA (valid to 2045).
    pub fn apple_builtin() -> Self {
        Self::from_pem(APPLE_ROOT_PEM).unwrap_or_default()
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether there is no anchor (then nothing verifies).
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    fn by_spki(&self, spki: &[u8]) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.spki == spki)
    }
}

/// Platform quirks a chain check tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPolicy {
    /// Check the leaf's validity at `now`. Android Keystore sets the leaf's dates on the
    /// device (1970..2048 or 2106): Google's verifier skips them and so do we.
    pub check_leaf_validity: bool,
    /// Issuers must carry basicConstraints CA:TRUE. When false an issuer must still carry
    /// a basicConstraints extension (Sony shipped keybox intermediates with CA:FALSE).
    pub require_ca: bool,
    /// Accept expired CA certificates when every certificate between the leaf and the
    /// anchor was issued for at least [`FACTORY_MIN_LIFETIME_SECS`] (a factory-provisioned
    /// keybox). Never accepts a not-yet-valid certificate.
    pub tolerate_expired_factory_chain: bool,
}

impl ChainPolicy {
    /// RFC 5280 style: every certificate valid at `now`, issuers are CAs.
    pub const STRICT: Self = Self {
        check_leaf_validity: true,
        require_ca: true,
        tolerate_expired_factory_chain: false,
    };
}

/// Factory keyboxes are issued for ten years; remotely provisioned chains always contain a
/// certificate living days or weeks. Eight years separates the two with room to spare.
pub const FACTORY_MIN_LIFETIME_SECS: i64 = 8 * 365 * 24 * 3600;

/// What a successful chain check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    /// Subject of the trust anchor the chain ends at.
    pub anchor: String,
    /// Number of certificates checked (the in-chain copy of the anchor excluded).
    pub length: usize,
    /// Every certificate below the anchor lives at least [`FACTORY_MIN_LIFETIME_SECS`].
    pub long_lived: bool,
    /// Expired CA certificates that were accepted under the factory-chain tolerance.
    pub expired_tolerated: Vec<usize>,
}

/// Parses one DER certificate; trailing bytes are rejected, and so is any certificate
/// whose unsigned parts (outer signatureAlgorithm, signature BIT STRING) are not exactly
/// what the signed part says (`x509-parser` is lenient about these tags, and a byte of
/// evidence that no check covers is a byte an attacker may change).
pub fn parse_cert(index: usize, der: &[u8]) -> Result<X509Certificate<'_>, ChainError> {
    if !outer_structure_is_strict(der) {
        return Err(ChainError::Parse {
            index,
            reason: "certificate structure is not strict DER".into(),
        });
    }
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(ChainError::Parse {
            index,
            reason: "trailing bytes after the certificate".into(),
        }),
        Err(e) => Err(ChainError::Parse {
            index,
            reason: e.to_string(),
        }),
    }
}

/// Splits DER contents into raw elements (header included) with their headers' class,
/// tag and constructed flag.
/// One element: its raw encoding, class, tag number and contents.
type RawElement<'a> = (&'a [u8], Class, u32, &'a [u8]);

fn raw_elements(mut data: &[u8]) -> Option<Vec<RawElement<'_>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (rest, any) = Any::from_der(data).ok()?;
        let raw = &data[..data.len() - rest.len()];
        out.push((raw, any.header.class(), any.header.tag().0, any.data));
        data = rest;
    }
    Some(out)
}

/// Certificate ::= SEQUENCE { tbs SEQUENCE, signatureAlgorithm SEQUENCE { OID, ... },
/// signatureValue BIT STRING }, with signatureAlgorithm byte-equal to the TBS's.
fn outer_structure_is_strict(der: &[u8]) -> bool {
    let check = || -> Option<bool> {
        let top = raw_elements(der)?;
        let [(_, Class::Universal, 16, body)] = top.as_slice() else {
            return Some(false);
        };
        let parts = raw_elements(body)?;
        let [
            (_, Class::Universal, 16, tbs),
            (alg_raw, Class::Universal, 16, alg),
            (_, Class::Universal, 3, _),
        ] = parts.as_slice()
        else {
            return Some(false);
        };
        let alg_parts = raw_elements(alg)?;
        if !matches!(alg_parts.first(), Some((_, Class::Universal, 6, _))) {
            return Some(false);
        }
        let tbs_parts = raw_elements(tbs)?;
        let skip = usize::from(matches!(
            tbs_parts.first(),
            Some((_, Class::ContextSpecific, 0, _))
        ));
        // serial, then the signature AlgorithmIdentifier.
        let inner = tbs_parts.get(skip + 1)?;
        Some(inner.0 == *alg_raw)
    };
    check().unwrap_or(false)
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// The DER bodies of every `CERTIFICATE` block in PEM text, in order.
///
/// Lenient in what support staff paste: blocks are found by their markers, not by lines,
/// so certificates concatenated without a line break
/// (`-----END CERTIFICATE----------BEGIN CERTIFICATE-----`) are read too, and the body may
/// be standard or URL-safe base64, padded or not, wrapped anyhow
/// ([`super::decode_base64`]). Text outside the blocks is ignored; a block without its
/// END marker is an error.
pub fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, ChainError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PEM_BEGIN) {
        let body_and_more = &rest[start + PEM_BEGIN.len()..];
        let end = body_and_more
            .find(PEM_END)
            .ok_or(ChainError::PemUnterminated { index: out.len() })?;
        let body = &body_and_more[..end];
        if body.contains(PEM_BEGIN) {
            return Err(ChainError::PemUnterminated { index: out.len() });
        }
        let der = super::decode_base64(body)
            .ok()
            .filter(|d| !d.is_empty())
            .ok_or(ChainError::PemBase64 { index: out.len() })?;
        out.push(der);
        rest = &body_and_more[end + PEM_END.len()..];
    }
    if out.is_empty() {
        return Err(ChainError::NoPem);
    }
    Ok(out)
}

/// Validates `certs` (leaf first) up to one of `anchors` at `now` (unix seconds).
///
/// The chain may or may not include the root: a last certificate whose public key is an
/// anchor's is the anchor itself (its own dates are ignored, the shipped anchor's count);
/// otherwise the last certificate must be signed by an anchor's key.
pub fn verify_chain(
    certs: &[X509Certificate<'_>],
    anchors: &TrustAnchors,
    now: u64,
    policy: ChainPolicy,
) -> Result<ChainInfo, ChainError> {
    let last = certs.last().ok_or(ChainError::Empty)?;
    // The anchor, and the certificates below it.
    let (anchor, below): (Option<&Anchor>, &[X509Certificate<'_>]) =
        match anchors.by_spki(last.public_key().raw) {
            Some(a) => (Some(a), &certs[..certs.len() - 1]),
            None => (None, certs),
        };
    if below.is_empty() {
        return Err(ChainError::OnlyAnchor);
    }
    // Every link inside the chain.
    for (index, pair) in below.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        if cert.issuer().as_raw() != issuer.subject().as_raw() {
            return Err(ChainError::NameChaining {
                index,
                next: index + 1,
            });
        }
        verify_signed_by(index, cert, issuer.public_key())?;
    }
    let top_index = below.len() - 1;
    let top = &below[top_index];
    if let Some(copy) = anchor.map(|_| last) {
        // The chain carries the root: its key is the anchor's. Check the top link with it,
        // and the copy's own self-signature, so that no byte of the chain goes unchecked.
        if top.issuer().as_raw() != copy.subject().as_raw() {
            return Err(ChainError::NameChaining {
                index: top_index,
                next: top_index + 1,
            });
        }
        verify_signed_by(top_index, top, copy.public_key())?;
        verify_signed_by(top_index + 1, copy, copy.public_key())?;
    }
    let anchor = match anchor {
        Some(a) => a,
        None => find_issuing_anchor(top_index, top, anchors)?,
    };
    // Only the anchor's end of life counts: a re-issued root (Google's RSA root, re-issued
    // in 2022 with the 2016 key) vouches for its key from before its own issue date, and
    // RFC 5280 leaves trust anchor dates to the relying party.
    if i64::try_from(now).map_or(true, |n| n > anchor.not_after) {
        return Err(ChainError::AnchorNotValid {
            name: anchor.name.clone(),
            now,
        });
    }
    // Issuers must be CAs (or, under the Android policy, at least say what they are).
    for (index, issuer) in below.iter().enumerate().skip(1) {
        match issuer.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => {}
            Ok(Some(_)) if !policy.require_ca => {
                log::warn!(
                    "evidence: certificate {index} ({}) is CA:FALSE yet issues certificate {}; tolerated (factory keybox quirk)",
                    issuer.subject(),
                    index - 1
                );
            }
            _ => return Err(ChainError::NotCa { index }),
        }
    }
    // Validity at `now`.
    let long_lived = below.iter().skip(1).all(|c| {
        let v = c.validity();
        v.not_after
            .timestamp()
            .saturating_sub(v.not_before.timestamp())
            >= FACTORY_MIN_LIFETIME_SECS
    });
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let mut expired_tolerated = Vec::new();
    let first = if policy.check_leaf_validity { 0 } else { 1 };
    for (index, cert) in below.iter().enumerate().skip(first) {
        let v = cert.validity();
        let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
        if now_i < nb {
            return Err(ChainError::NotYetValid {
                index,
                now,
                not_before: nb,
            });
        }
        if now_i > na {
            if policy.tolerate_expired_factory_chain && long_lived && index > 0 {
                log::warn!(
                    "evidence: certificate {index} ({}) expired at {na}; tolerated in a factory-provisioned chain",
                    cert.subject()
                );
                expired_tolerated.push(index);
            } else {
                return Err(ChainError::Expired {
                    index,
                    now,
                    not_after: na,
                });
            }
        }
    }
    Ok(ChainInfo {
        anchor: anchor.name.clone(),
        length: below.len(),
        long_lived,
        expired_tolerated,
    })
}

fn find_issuing_anchor<'a>(
    index: usize,
    top: &X509Certificate<'_>,
    anchors: &'a TrustAnchors,
) -> Result<&'a Anchor, ChainError> {
    for anchor in &anchors.anchors {
        let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(&anchor.spki) else {
            continue;
        };
        if verify_signed_by(index, top, &spki).is_ok() {
            return Ok(anchor);
        }
    }
    let self_signed = top.issuer().as_raw() == top.subject().as_raw()
        && verify_signed_by(index, top, top.public_key()).is_ok();
    if self_signed {
        Err(ChainError::UntrustedRoot {
            subject: top.subject().to_string(),
        })
    } else {
        Err(ChainError::UnknownIssuer {
            issuer: top.issuer().to_string(),
        })
    }
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
/// DER contents of the namedCurve OIDs.
const CURVE_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const CURVE_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// The elliptic curve of an EC SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Curve {
    /// NIST P-256 (secp256r1); serialized `P256`.
    P256,
    /// NIST P-384 (secp384r1); serialized `P384`.
    P384,
}

/// Classifies a public key: EC on a supported curve, RSA, or something else.
pub(crate) enum KeyKind {
    Ec(Curve),
    Rsa,
}

pub(crate) fn key_kind(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyKind, ChainError> {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        OID_EC_PUBLIC_KEY => {
            let params = spki.algorithm.parameters.as_ref().map(|p| p.data);
            match params {
                Some(CURVE_P256) => Ok(KeyKind::Ec(Curve::P256)),
                Some(CURVE_P384) => Ok(KeyKind::Ec(Curve::P384)),
                _ => Err(ChainError::UnsupportedAlgorithm(
                    "EC public key on a curve other than P-256 or P-384".into(),
                )),
            }
        }
        OID_RSA => Ok(KeyKind::Rsa),
        other => Err(ChainError::UnsupportedAlgorithm(format!(
            "public key algorithm {other}{}",
            known_name(other)
        ))),
    }
}

fn known_name(oid: &str) -> &'static str {
    match oid {
        "2.16.840.1.101.3.4.3.17" => " (ML-DSA-44)",
        "2.16.840.1.101.3.4.3.18" => " (ML-DSA-65)",
        "2.16.840.1.101.3.4.3.19" => " (ML-DSA-87)",
        "1.3.101.112" => " (Ed25519)",
        "1.2.840.113549.1.1.10" => " (RSASSA-PSS)",
        _ => "",
    }
}

/// Verifies `cert`'s signature with `issuer`'s key, the ring algorithm chosen from the
/// signature OID and the issuer key's type and curve.
pub(crate) fn verify_signed_by(
    index: usize,
    cert: &X509Certificate<'_>,
    issuer: &SubjectPublicKeyInfo<'_>,
) -> Result<(), ChainError> {
    let sig_oid = cert.signature_algorithm.algorithm.to_id_string();
    if cert.tbs_certificate.signature.algorithm != cert.signature_algorithm.algorithm {
        return Err(ChainError::BadSignature { index });
    }
    let kind = key_kind(issuer)?;
    let alg: &'static dyn VerificationAlgorithm = match (sig_oid.as_str(), &kind) {
        ("1.2.840.10045.4.3.2", KeyKind::Ec(Curve::P256)) => &signature::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", KeyKind::Ec(Curve::P256)) => &signature::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.4.3.2", KeyKind::Ec(Curve::P384)) => &signature::ECDSA_P384_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", KeyKind::Ec(Curve::P384)) => &signature::ECDSA_P384_SHA384_ASN1,
        ("1.2.840.113549.1.1.11", KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (other, _) => {
            return Err(ChainError::UnsupportedAlgorithm(format!(
                "signature algorithm {other}{} with this issuer key",
                known_name(other)
            )));
        }
    };
    if matches!(kind, KeyKind::Rsa) {
        let bits = match issuer.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size(),
            _ => 0,
        };
        if bits < 2048 {
            return Err(ChainError::UnsupportedAlgorithm(format!(
                "RSA issuer key of {bits} bits (at least 2048)"
            )));
        }
    }
    if cert.signature_value.unused_bits != 0 || issuer.subject_public_key.unused_bits != 0 {
        return Err(ChainError::BadSignature { index });
    }
    UnparsedPublicKey::new(alg, issuer.subject_public_key.data.as_ref())
        .verify(
            cert.tbs_certificate.as_ref(),
            cert.signature_value.data.as_ref(),
        )
        .map_err(|_| ChainError::BadSignature { index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_anchors_parse() {
        assert_eq!(TrustAnchors::google_builtin().len(), 2);
        assert_eq!(TrustAnchors::apple_builtin().len(), 1);
    }

    #[test]
    fn empty_and_garbage_chains_are_errors() {
        let anchors = TrustAnchors::google_builtin();
        assert_eq!(
            verify_chain(&[], &anchors, 0, ChainPolicy::STRICT),
            Err(ChainError::Empty)
        );
        assert!(parse_cert(0, &[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert_eq!(pem_certificates("nothing here"), Err(ChainError::NoPem));
        assert_eq!(
            pem_certificates("-----BEGIN CERTIFICATE-----\nMAA="),
            Err(ChainError::PemUnterminated { index: 0 })
        );
        assert_eq!(
            pem_certificates("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"),
            Err(ChainError::PemBase64 { index: 0 })
        );
    }

    #[test]
    fn pem_blocks_are_found_by_markers_in_any_base64() {
        // 0x30 0x00 is "MAA=" (standard, padded); unpadded and URL-safe spellings too.
        let one = "-----BEGIN CERTIFICATE-----MAA=-----END CERTIFICATE-----";
        let glued =
            format!("{one}{one}\n-----BEGIN CERTIFICATE-----\nMAA\n-----END CERTIFICATE-----");
        assert_eq!(
            pem_certificates(&glued),
            Ok(vec![vec![0x30, 0x00], vec![0x30, 0x00], vec![0x30, 0x00]])
        );
        // 0xfb 0xff: "+/8=" standard, "-_8" URL-safe unpadded.
        let url = "-----BEGIN CERTIFICATE-----\n-_8\n-----END CERTIFICATE-----";
        assert_eq!(pem_certificates(url), Ok(vec![vec![0xfb, 0xff]]));
    }
}
