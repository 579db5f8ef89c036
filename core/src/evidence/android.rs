//! Android Key Attestation: is the device key in the TEE or StrongBox of a genuine device?
//!
//! At enrollment an Android phone generates its P-256 key in the Keystore with the
//! server's nonce as attestation challenge and sends the certificate chain Keystore
//! returns. The leaf certifies the new key and carries the KeyDescription extension
//! (OID 1.3.6.1.4.1.11129.2.1.17) describing where the key lives and the state of the
//! device; the chain ends at a Google attestation root. We check, at an explicit `now`:
//!
//! 1. every certificate is signed by the next and names it as issuer (`super::x509`);
//! 2. the chain ends at a Google root, matched by public key (the 2016 RSA root was
//!    re-issued with the same key; remotely provisioned chains may omit the root);
//! 3. only the leaf carries a KeyDescription (a Keystore key can sign anything, so a
//!    certificate "issued" by an attested key must never pass as a leaf);
//! 4. the KeyDescription parses and its challenge equals ours (constant time).
//!
//! Decisions, following Google's verifier (android/keyattestation, KeyAttestationCertPathValidator):
//! - The leaf's validity is not checked: the device writes it (1970..2048/2106).
//! - Issuers need a basicConstraints extension, but CA:FALSE is tolerated: the Sony
//!   Xperia 10 III keybox intermediate is marked CA:FALSE. Point 3 above keeps this from
//!   letting an attested key act as a CA.
//! - Expired CA certificates are tolerated only in a factory-provisioned chain (every
//!   certificate below the anchor issued for at least eight years, i.e. an OEM keybox).
//!   The Sony chain's keybox expired on 2026-05-24, before the key was created on
//!   2026-06-04: keyboxes stay in devices past their dates, and Google retires leaked ones
//!   through its revocation status list, not through expiry. Remotely provisioned chains
//!   (certificates living days or weeks) must be current, and not-yet-valid certificates
//!   and an expired anchor are always rejected.
//! - A chain ending at any other root (the AOSP software attestation roots of `marlin`)
//!   is an error: nothing it says is trusted.
//! - Leaves whose key is not EC or RSA (ML-DSA on `tokay`) are rejected as an
//!   unsupported algorithm: Pramaan's device key is P-256.
//!
//! Decoded here but judged elsewhere (`policy::evidence`, against the department's
//! policy): the attestation application id ([`AttestationApplicationId`]: which app made
//! the key, and its signing certificates) and the chain's serial numbers (for Google's
//! revocation status list, which changes after the phone enrolls).
//!
//! A malformed attestationApplicationId is an error of the whole evidence: it sits in
//! the signed leaf, next to the challenge, so a genuine KeyMint never writes one; a leaf
//! that carries one is not evidence of anything, and recording "no app" instead would
//! let a broken (or hostile) leaf look like a merely unknown app.

use subtle::ConstantTimeEq as _;
use x509_parser::asn1_rs::{Any, Class, FromDer as _};
use x509_parser::prelude::X509Certificate;

use super::EvidenceError;
use super::status_list::serial_hex;
use super::x509::{ChainPolicy, Curve, KeyKind, TrustAnchors, key_kind, parse_cert, verify_chain};

/// OID of the KeyDescription extension.
pub const KEY_DESCRIPTION_OID: &str = "1.3.6.1.4.1.11129.2.1.17";

/// The chain policy for Android (see the module documentation).
pub const ANDROID_POLICY: ChainPolicy = ChainPolicy {
    check_leaf_validity: false,
    require_ca: false,
    tolerate_expired_factory_chain: true,
};

/// Where Keystore says the key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityLevel {
    /// `software` (Keystore value 0): the key is in the OS, not in secure hardware.
    Software,
    /// `trusted_environment` (1): the key is in the TEE.
    TrustedEnvironment,
    /// `strong_box` (2): the key is in a separate secure element (StrongBox).
    StrongBox,
}

impl SecurityLevel {
    fn from_enum(v: i64) -> Result<Self, EvidenceError> {
        match v {
            0 => Ok(Self::Software),
            1 => Ok(Self::TrustedEnvironment),
            2 => Ok(Self::StrongBox),
            _ => Err(EvidenceError::Malformed(format!(
                "unknown security level {v}"
            ))),
        }
    }

    /// The names used by Google's JSON dumps (`TRUSTED_ENVIRONMENT`...).
    pub fn as_google_str(self) -> &'static str {
        match self {
            Self::Software => "SOFTWARE",
            Self::TrustedEnvironment => "TRUSTED_ENVIRONMENT",
            Self::StrongBox => "STRONG_BOX",
        }
    }
}

/// The bootloader's verdict on the booted OS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifiedBootState {
    /// `verified` (0): the OS was verified with the manufacturer's key.
    Verified,
    /// `self_signed` (1): verified with a key the user installed (custom OS).
    SelfSigned,
    /// `unverified` (2): the bootloader is unlocked; nothing was verified.
    Unverified,
    /// `failed` (3): verification failed.
    Failed,
}

impl VerifiedBootState {
    fn from_enum(v: i64) -> Result<Self, EvidenceError> {
        match v {
            0 => Ok(Self::Verified),
            1 => Ok(Self::SelfSigned),
            2 => Ok(Self::Unverified),
            3 => Ok(Self::Failed),
            _ => Err(EvidenceError::Malformed(format!(
                "unknown verified boot state {v}"
            ))),
        }
    }

    /// The names used by Google's JSON dumps (`VERIFIED`, `SELF_SIGNED`...).
    pub fn as_google_str(self) -> &'static str {
        match self {
            Self::Verified => "VERIFIED",
            Self::SelfSigned => "SELF_SIGNED",
            Self::Unverified => "UNVERIFIED",
            Self::Failed => "FAILED",
        }
    }
}

/// RootOfTrust from an AuthorizationList.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RootOfTrust {
    /// The key that verified the OS (or its digest); hex in JSON.
    #[serde(with = "super::hex_bytes")]
    pub verified_boot_key: Vec<u8>,
    /// Whether the bootloader is locked.
    pub device_locked: bool,
    /// The bootloader's verdict on the booted OS.
    pub verified_boot_state: VerifiedBootState,
    /// Digest of the verified boot data (attestation version 3 and later); hex in JSON.
    #[serde(with = "super::hex_opt")]
    pub verified_boot_hash: Option<Vec<u8>>,
}

/// The AuthorizationList fields Pramaan uses; other tags are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuthorizationList {
    /// Keymaster `Algorithm` value (1 = RSA, 3 = EC).
    pub algorithm: Option<i64>,
    /// Key size in bits.
    pub key_size: Option<i64>,
    /// Keymaster `EcCurve` value (1 = P-256).
    pub ec_curve: Option<i64>,
    /// Keymaster `KeyOrigin` value (0 = generated in the secure hardware, 2 = imported).
    pub origin: Option<i64>,
    /// Milliseconds since the epoch.
    pub creation_date_time: Option<i64>,
    /// The boot state, when this list holds it.
    pub root_of_trust: Option<RootOfTrust>,
    /// e.g. 140000 for Android 14.
    pub os_version: Option<i64>,
    /// YYYYMM.
    pub os_patch_level: Option<i64>,
    /// YYYYMMDD.
    pub vendor_patch_level: Option<i64>,
    /// YYYYMMDD.
    pub boot_patch_level: Option<i64>,
    /// DER `AttestationApplicationId` (packages and signer digests), not decoded; hex in JSON.
    #[serde(with = "super::hex_opt")]
    pub attestation_application_id: Option<Vec<u8>>,
    /// `Build.BRAND`, present only when the device attests its ids.
    pub attestation_id_brand: Option<String>,
    /// `Build.DEVICE`, present only when the device attests its ids.
    pub attestation_id_device: Option<String>,
    /// `Build.PRODUCT`, present only when the device attests its ids.
    pub attestation_id_product: Option<String>,
    /// `Build.MANUFACTURER`, present only when the device attests its ids.
    pub attestation_id_manufacturer: Option<String>,
    /// `Build.MODEL`, present only when the device attests its ids (R2 compares it).
    pub attestation_id_model: Option<String>,
}

/// The decoded KeyDescription extension.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyDescription {
    /// KeyDescription schema version (e.g. 3 for Keymaster 4, 100 and up for KeyMint).
    pub attestation_version: i64,
    /// Where the attestation was made; [`AndroidAttestation::security_level`] takes it.
    pub attestation_security_level: SecurityLevel,
    /// Keymaster or KeyMint version (e.g. 41, 100).
    pub keymint_version: i64,
    /// Where the key lives as Keymaster/KeyMint reports it.
    pub keymint_security_level: SecurityLevel,
    /// The challenge given at key generation: Pramaan's enrollment nonce; hex in JSON.
    #[serde(with = "super::hex_bytes")]
    pub attestation_challenge: Vec<u8>,
    /// Device-unique id, only for system apps that ask for it; usually empty; hex in JSON.
    #[serde(with = "super::hex_bytes")]
    pub unique_id: Vec<u8>,
    /// Properties the OS enforces (weaker than [`KeyDescription::tee_enforced`]).
    pub software_enforced: AuthorizationList,
    /// `teeEnforced` (called `hardwareEnforced` in Google's JSON).
    pub tee_enforced: AuthorizationList,
}

impl KeyDescription {
    /// The hardware-enforced root of trust, else the software one.
    pub fn root_of_trust(&self) -> Option<&RootOfTrust> {
        self.tee_enforced
            .root_of_trust
            .as_ref()
            .or(self.software_enforced.root_of_trust.as_ref())
    }

    /// A field from the hardware-enforced list, else the software one.
    fn either<T: Clone>(&self, f: impl Fn(&AuthorizationList) -> Option<T>) -> Option<T> {
        f(&self.tee_enforced).or_else(|| f(&self.software_enforced))
    }
}

/// The attested key from the leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttestedKey {
    /// Uncompressed SEC1 point.
    /// Wire tag `type: "ec"`.
    Ec {
        /// The key's curve.
        curve: Curve,
        /// Uncompressed SEC1 point; hex in JSON.
        #[serde(with = "super::hex_bytes")]
        sec1: Vec<u8>,
    },
    /// PKCS#1 RSAPublicKey DER.
    /// Wire tag `type: "rsa"`.
    Rsa {
        /// PKCS#1 `RSAPublicKey` DER; hex in JSON.
        #[serde(with = "super::hex_bytes")]
        der: Vec<u8>,
    },
}

/// What a verified Android key attestation establishes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AndroidAttestation {
    /// TEE or StrongBox, and the chain ends at a Google root.
    pub hardware_backed: bool,
    /// Taken from the KeyDescription's attestation security level.
    pub security_level: SecurityLevel,
    /// Subject of the Google root the chain ends at.
    pub root: String,
    /// Expired keybox certificates accepted (factory-provisioned chain).
    pub expired_certificates_tolerated: bool,
    /// `attestationIdModel` (`Build.MODEL`), if the device attests its ids.
    pub attested_model: Option<String>,
    /// `attestationIdBrand`, if the device attests its ids.
    pub attested_brand: Option<String>,
    /// `attestationIdManufacturer`, if the device attests its ids.
    pub attested_manufacturer: Option<String>,
    /// Whether the bootloader is locked, from the root of trust.
    pub device_locked: Option<bool>,
    /// The bootloader's verdict, from the root of trust.
    pub verified_boot_state: Option<VerifiedBootState>,
    /// OS version as in [`AuthorizationList::os_version`].
    pub os_version: Option<i64>,
    /// OS patch level, YYYYMM.
    pub os_patch_level: Option<i64>,
    /// When the key was created, milliseconds since the Unix epoch.
    pub creation_date_time_ms: Option<i64>,
    /// The key the leaf certifies (compare with the enrolling key).
    pub public_key: AttestedKey,
    /// The app that made the key (attestationApplicationId, tag 709), if the leaf says.
    pub application_id: Option<AttestationApplicationId>,
    /// Serial numbers of the chain's certificates as given (leaf first), in the form of
    /// Google's revocation status list (lowercase hex of the magnitude, no leading zeros).
    pub chain_serials: Vec<String>,
    /// The whole decoded KeyDescription.
    pub key_description: KeyDescription,
}

/// Verifies an Android key attestation chain (DER, leaf first) at `now` (unix seconds).
pub fn verify_android(
    chain: &[Vec<u8>],
    challenge: &[u8],
    now: u64,
    roots: &TrustAnchors,
) -> Result<AndroidAttestation, EvidenceError> {
    if chain.is_empty() {
        return Err(EvidenceError::Chain(super::x509::ChainError::Empty));
    }
    if chain.len() > crate::claims::MAX_CHAIN_CERTS {
        return Err(EvidenceError::Malformed(format!(
            "chain of {} certificates (at most {})",
            chain.len(),
            crate::claims::MAX_CHAIN_CERTS
        )));
    }
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| parse_cert(i, der))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = &certs[0];
    // Only the leaf may describe an attested key (chain extension attack).
    for (index, cert) in certs.iter().enumerate().skip(1) {
        if find_key_description(cert).is_some() {
            return Err(EvidenceError::Malformed(format!(
                "certificate {index} (not the leaf) carries a KeyDescription"
            )));
        }
    }
    let ext = find_key_description(leaf).ok_or(EvidenceError::MissingExtension(
        "KeyDescription 1.3.6.1.4.1.11129.2.1.17",
    ))?;
    let kd = parse_key_description(ext)?;
    let public_key = attested_key(leaf)?;
    let info = verify_chain(&certs, roots, now, ANDROID_POLICY)?;
    if !bool::from(kd.attestation_challenge.as_slice().ct_eq(challenge)) {
        return Err(EvidenceError::ChallengeMismatch);
    }
    let application_id = kd
        .either(|l| l.attestation_application_id.clone())
        .map(|der| parse_attestation_application_id(&der))
        .transpose()?;
    let chain_serials = certs
        .iter()
        .map(|c| serial_hex(c.tbs_certificate.raw_serial()))
        .collect();
    let security_level = kd.attestation_security_level;
    let rot = kd.root_of_trust().cloned();
    let out = AndroidAttestation {
        hardware_backed: security_level != SecurityLevel::Software,
        security_level,
        root: info.anchor,
        expired_certificates_tolerated: !info.expired_tolerated.is_empty(),
        attested_model: kd.either(|l| l.attestation_id_model.clone()),
        attested_brand: kd.either(|l| l.attestation_id_brand.clone()),
        attested_manufacturer: kd.either(|l| l.attestation_id_manufacturer.clone()),
        device_locked: rot.as_ref().map(|r| r.device_locked),
        verified_boot_state: rot.as_ref().map(|r| r.verified_boot_state),
        os_version: kd.either(|l| l.os_version),
        os_patch_level: kd.either(|l| l.os_patch_level),
        creation_date_time_ms: kd.either(|l| l.creation_date_time),
        public_key,
        application_id,
        chain_serials,
        key_description: kd,
    };
    log::debug!(
        "evidence: android attestation verified ({:?}, root {})",
        out.security_level,
        out.root
    );
    Ok(out)
}

/// The raw KeyDescription extension value of a certificate, if any.
pub fn find_key_description<'a>(cert: &X509Certificate<'a>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == KEY_DESCRIPTION_OID)
        .map(|e| e.value)
}

/// Decodes the KeyDescription of a DER leaf certificate without checking anything else
/// (for inspection and tests; never a basis for trust).
pub fn decode_leaf(der: &[u8]) -> Result<KeyDescription, EvidenceError> {
    let cert = parse_cert(0, der)?;
    let ext = find_key_description(&cert).ok_or(EvidenceError::MissingExtension(
        "KeyDescription 1.3.6.1.4.1.11129.2.1.17",
    ))?;
    parse_key_description(ext)
}

fn attested_key(leaf: &X509Certificate<'_>) -> Result<AttestedKey, EvidenceError> {
    let spki = leaf.public_key();
    let data = spki.subject_public_key.data.to_vec();
    match key_kind(spki)? {
        KeyKind::Ec(curve) => Ok(AttestedKey::Ec { curve, sec1: data }),
        KeyKind::Rsa => Ok(AttestedKey::Rsa { der: data }),
    }
}

// ---- KeyDescription DER ----------------------------------------------------------

const TAG_INTEGER: u32 = 2;
const TAG_BOOLEAN: u32 = 1;
const TAG_OCTET_STRING: u32 = 4;
const TAG_ENUMERATED: u32 = 10;
const TAG_SEQUENCE: u32 = 16;

fn malformed(what: &str) -> EvidenceError {
    EvidenceError::Malformed(format!("KeyDescription: {what}"))
}

/// One DER element; definite lengths only.
fn element<'a>(bytes: &'a [u8], what: &str) -> Result<(&'a [u8], Any<'a>), EvidenceError> {
    Any::from_der(bytes).map_err(|_| malformed(what))
}

/// All elements of a constructed value's contents.
fn elements<'a>(mut data: &'a [u8], what: &str) -> Result<Vec<Any<'a>>, EvidenceError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (rest, any) = element(data, what)?;
        out.push(any);
        data = rest;
    }
    Ok(out)
}

fn expect_universal(any: &Any<'_>, tag: u32, what: &str) -> Result<(), EvidenceError> {
    if any.header.class() == Class::Universal && any.header.tag().0 == tag {
        Ok(())
    } else {
        Err(malformed(what))
    }
}

/// INTEGER or ENUMERATED contents as i64 (two's complement, at most 8 bytes).
fn int_value(any: &Any<'_>, tag: u32, what: &str) -> Result<i64, EvidenceError> {
    expect_universal(any, tag, what)?;
    let d = any.data;
    if d.is_empty() || d.len() > 8 {
        return Err(malformed(what));
    }
    let mut v: i64 = if d[0] & 0x80 != 0 { -1 } else { 0 };
    for b in d {
        v = (v << 8) | i64::from(*b);
    }
    Ok(v)
}

fn octets(any: &Any<'_>, what: &str) -> Result<Vec<u8>, EvidenceError> {
    expect_universal(any, TAG_OCTET_STRING, what)?;
    Ok(any.data.to_vec())
}

/// BOOLEAN, leniently: any non-zero octet is true (some devices encode TRUE as 0x01,
/// which DER forbids; the value is still unambiguous).
fn boolean(any: &Any<'_>, what: &str) -> Result<bool, EvidenceError> {
    expect_universal(any, TAG_BOOLEAN, what)?;
    match any.data {
        [b] => Ok(*b != 0),
        _ => Err(malformed(what)),
    }
}

/// Parses the KeyDescription extension value.
pub fn parse_key_description(value: &[u8]) -> Result<KeyDescription, EvidenceError> {
    let (rest, seq) = element(value, "not DER")?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    expect_universal(&seq, TAG_SEQUENCE, "not a SEQUENCE")?;
    let f = elements(seq.data, "bad SEQUENCE contents")?;
    if f.len() < 8 {
        return Err(malformed("fewer than 8 fields"));
    }
    Ok(KeyDescription {
        attestation_version: int_value(&f[0], TAG_INTEGER, "attestationVersion")?,
        attestation_security_level: SecurityLevel::from_enum(int_value(
            &f[1],
            TAG_ENUMERATED,
            "attestationSecurityLevel",
        )?)?,
        keymint_version: int_value(&f[2], TAG_INTEGER, "keyMintVersion")?,
        keymint_security_level: SecurityLevel::from_enum(int_value(
            &f[3],
            TAG_ENUMERATED,
            "keyMintSecurityLevel",
        )?)?,
        attestation_challenge: octets(&f[4], "attestationChallenge")?,
        unique_id: octets(&f[5], "uniqueId")?,
        software_enforced: authorization_list(&f[6], "softwareEnforced")?,
        tee_enforced: authorization_list(&f[7], "teeEnforced")?,
    })
}

fn authorization_list(any: &Any<'_>, what: &str) -> Result<AuthorizationList, EvidenceError> {
    expect_universal(any, TAG_SEQUENCE, what)?;
    let mut list = AuthorizationList::default();
    for tagged in elements(any.data, what)? {
        if tagged.header.class() != Class::ContextSpecific {
            return Err(malformed(&format!("{what}: untagged entry")));
        }
        let tag = tagged.header.tag().0;
        let (rest, inner) = element(tagged.data, what)?;
        if !rest.is_empty() {
            return Err(malformed(&format!(
                "{what}: tag {tag} holds more than one value"
            )));
        }
        let int = |name: &str| int_value(&inner, TAG_INTEGER, name).map(Some);
        let text = |name: &str| {
            octets(&inner, name).map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
        };
        match tag {
            2 => list.algorithm = int("algorithm")?,
            3 => list.key_size = int("keySize")?,
            10 => list.ec_curve = int("ecCurve")?,
            701 => list.creation_date_time = int("creationDateTime")?,
            702 => list.origin = int("origin")?,
            704 => list.root_of_trust = Some(root_of_trust(&inner)?),
            705 => list.os_version = int("osVersion")?,
            706 => list.os_patch_level = int("osPatchLevel")?,
            709 => {
                list.attestation_application_id = Some(octets(&inner, "attestationApplicationId")?)
            }
            710 => list.attestation_id_brand = text("attestationIdBrand")?,
            711 => list.attestation_id_device = text("attestationIdDevice")?,
            712 => list.attestation_id_product = text("attestationIdProduct")?,
            716 => list.attestation_id_manufacturer = text("attestationIdManufacturer")?,
            717 => list.attestation_id_model = text("attestationIdModel")?,
            718 => list.vendor_patch_level = int("vendorPatchLevel")?,
            719 => list.boot_patch_level = int("bootPatchLevel")?,
            _ => {}
        }
    }
    Ok(list)
}

fn root_of_trust(any: &Any<'_>) -> Result<RootOfTrust, EvidenceError> {
    expect_universal(any, TAG_SEQUENCE, "rootOfTrust")?;
    let f = elements(any.data, "rootOfTrust")?;
    if f.len() < 3 {
        return Err(malformed("rootOfTrust has fewer than 3 fields"));
    }
    Ok(RootOfTrust {
        verified_boot_key: octets(&f[0], "verifiedBootKey")?,
        device_locked: boolean(&f[1], "deviceLocked")?,
        verified_boot_state: VerifiedBootState::from_enum(int_value(
            &f[2],
            TAG_ENUMERATED,
            "verifiedBootState",
        )?)?,
        verified_boot_hash: f
            .get(3)
            .map(|h| octets(h, "verifiedBootHash"))
            .transpose()?,
    })
}

// ---- AttestationApplicationId ----------------------------------------------------

const TAG_SET: u32 = 17;

/// Most packages accepted in one attestationApplicationId (apps sharing a uid; Android
/// lists a handful at most).
const MAX_PACKAGES: usize = 64;
/// Most signing-certificate digests accepted (key rotation keeps a short history).
const MAX_SIGNERS: usize = 64;

/// One package of the app that made the key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttestedPackage {
    /// The package name (e.g. `gov.gujarat.pramaan`).
    pub name: String,
    /// Its versionCode.
    pub version: i64,
}

/// The decoded attestationApplicationId: which app asked Keystore for the key.
///
/// `AttestationApplicationId ::= SEQUENCE { packageInfos SET OF SEQUENCE { packageName
/// OCTET STRING, version INTEGER }, signatureDigests SET OF OCTET STRING }`. Several
/// packages appear when apps share a uid; the digests are SHA-256 of the signing
/// certificates, which a repackaged app cannot reproduce.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttestationApplicationId {
    /// Every package sharing the uid that made the key.
    pub packages: Vec<AttestedPackage>,
    /// SHA-256 of the app's signing certificates, lowercase hex.
    pub signature_digests: Vec<String>,
}

impl AttestationApplicationId {
    /// The package names, in the order the leaf lists them.
    pub fn package_names(&self) -> Vec<String> {
        self.packages.iter().map(|p| p.name.clone()).collect()
    }
}

fn bad_app_id(what: &str) -> EvidenceError {
    EvidenceError::Malformed(format!("attestationApplicationId: {what}"))
}

/// Parses the DER `AttestationApplicationId` held by KeyDescription tag 709. Total: any
/// other shape is [`EvidenceError::Malformed`] naming the field.
pub fn parse_attestation_application_id(
    der: &[u8],
) -> Result<AttestationApplicationId, EvidenceError> {
    let (rest, seq) = Any::from_der(der).map_err(|_| bad_app_id("not DER"))?;
    if !rest.is_empty() {
        return Err(bad_app_id("trailing bytes"));
    }
    let universal =
        |a: &Any<'_>, tag: u32| a.header.class() == Class::Universal && a.header.tag().0 == tag;
    if !universal(&seq, TAG_SEQUENCE) {
        return Err(bad_app_id("not a SEQUENCE"));
    }
    let fields = elements(seq.data, "attestationApplicationId")
        .map_err(|_| bad_app_id("bad SEQUENCE contents"))?;
    let [infos, digests] = fields.as_slice() else {
        return Err(bad_app_id(
            "not two fields (packageInfos, signatureDigests)",
        ));
    };
    if !universal(infos, TAG_SET) {
        return Err(bad_app_id("packageInfos is not a SET"));
    }
    if !universal(digests, TAG_SET) {
        return Err(bad_app_id("signatureDigests is not a SET"));
    }
    let infos = elements(infos.data, "packageInfos").map_err(|_| bad_app_id("packageInfos"))?;
    if infos.len() > MAX_PACKAGES {
        return Err(bad_app_id("more than 64 packageInfos"));
    }
    let mut packages = Vec::with_capacity(infos.len());
    for info in &infos {
        if !universal(info, TAG_SEQUENCE) {
            return Err(bad_app_id("packageInfo is not a SEQUENCE"));
        }
        let parts = elements(info.data, "packageInfo").map_err(|_| bad_app_id("packageInfo"))?;
        let [name, version] = parts.as_slice() else {
            return Err(bad_app_id("packageInfo is not (packageName, version)"));
        };
        if !universal(name, TAG_OCTET_STRING) {
            return Err(bad_app_id("packageName is not an OCTET STRING"));
        }
        let name = std::str::from_utf8(name.data)
            .map_err(|_| bad_app_id("packageName is not UTF-8"))?
            .to_string();
        let version =
            int_value(version, TAG_INTEGER, "version").map_err(|_| bad_app_id("version"))?;
        packages.push(AttestedPackage { name, version });
    }
    let digests =
        elements(digests.data, "signatureDigests").map_err(|_| bad_app_id("signatureDigests"))?;
    if digests.len() > MAX_SIGNERS {
        return Err(bad_app_id("more than 64 signatureDigests"));
    }
    let signature_digests = digests
        .iter()
        .map(|d| {
            if universal(d, TAG_OCTET_STRING) {
                Ok(hex::encode(d.data))
            } else {
                Err(bad_app_id("signatureDigest is not an OCTET STRING"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AttestationApplicationId {
        packages,
        signature_digests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_decode_twos_complement() {
        let any = Any::from_der(&[0x02, 0x02, 0x01, 0x00]).map(|(_, a)| a);
        assert_eq!(
            any.map(|a| int_value(&a, TAG_INTEGER, "x").ok())
                .ok()
                .flatten(),
            Some(256)
        );
        let neg = Any::from_der(&[0x02, 0x01, 0xff]).map(|(_, a)| a);
        assert_eq!(
            neg.map(|a| int_value(&a, TAG_INTEGER, "x").ok())
                .ok()
                .flatten(),
            Some(-1)
        );
    }

    #[test]
    fn application_ids_decode_or_name_the_field() {
        // SEQUENCE { SET { SEQUENCE { "a.b", 7 } }, SET { OCTET STRING 01 02 } }
        let good = [
            0x30, 0x12, 0x31, 0x0a, 0x30, 0x08, 0x04, 0x03, b'a', b'.', b'b', 0x02, 0x01, 0x07,
            0x31, 0x04, 0x04, 0x02, 0x01, 0x02,
        ];
        let id = parse_attestation_application_id(&good).ok();
        assert_eq!(
            id,
            Some(AttestationApplicationId {
                packages: vec![AttestedPackage {
                    name: "a.b".into(),
                    version: 7
                }],
                signature_digests: vec!["0102".into()],
            })
        );
        let mut no_digest_set = good;
        no_digest_set[14] = 0x30; // SEQUENCE instead of SET
        let e = parse_attestation_application_id(&no_digest_set).map_err(|e| e.to_string());
        assert!(e.is_err_and(|e| e.contains("signatureDigests")));
        let mut bad_name = good;
        bad_name[6] = 0x0c; // UTF8String instead of OCTET STRING
        let e = parse_attestation_application_id(&bad_name).map_err(|e| e.to_string());
        assert!(e.is_err_and(|e| e.contains("packageName")));
        for cut in 0..good.len() {
            assert!(parse_attestation_application_id(&good[..cut]).is_err());
        }
    }

    #[test]
    fn garbage_key_descriptions_are_errors() {
        for bad in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x80, 0x00, 0x00],
            &[0xff; 4],
        ] {
            assert!(parse_key_description(bad).is_err());
        }
    }
}
