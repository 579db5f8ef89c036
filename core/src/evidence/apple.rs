//! Apple App Attest: is this a genuine instance of our app on a genuine Apple device?
//!
//! An iPhone cannot attest an arbitrary Secure Enclave key; it attests an App Attest key
//! that `DCAppAttestService` generates for the app, over a `clientDataHash` the app
//! chooses. Pramaan puts the enrollment nonce and the device's own P-256 key into that
//! client data (see [`super::assess`]), so a verified attestation binds the enrolled key to
//! a genuine app instance on genuine Apple hardware at enrollment time.
//!
//! [`verify_apple_attestation`] follows Apple's "Validating apps that connect to your
//! server" steps in order: the x5c chain to the Apple App Attestation Root CA at `now`;
//! nonce = SHA-256(authData || clientDataHash) equal to the credential certificate's
//! extension 1.2.840.113635.100.8.2; key id = SHA-256 of the credential key (uncompressed
//! point); counter 0; an aaguid naming one of the two environments; credential id = key
//! id. It does not need the app id in advance: it returns the attested rpIdHash and
//! environment, and the department's policy decides later (`policy::evidence`) which app
//! ids and which environment it accepts, so one verification serves every policy change.
//! [`AppleAttestation::is_for_app`] compares the rpIdHash with SHA-256 of an app id. [`verify_apple_assertion`] checks a later assertion: ECDSA-SHA256 by the
//! attested key over nonce = SHA-256(authenticatorData || clientDataHash) (the nonce is the
//! signed message, hashed again by ECDSA-SHA256, as the real iOS 14 assertions show),
//! rpIdHash, and a counter greater than the last one seen.

use ciborium::Value;
use ring::digest::{SHA256, digest};
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use subtle::ConstantTimeEq as _;
use x509_parser::asn1_rs::{Any, Class, FromDer as _};

use super::EvidenceError;
use super::x509::{ChainPolicy, Curve, KeyKind, TrustAnchors, key_kind, parse_cert, verify_chain};

/// OID of the credential certificate's nonce extension.
pub const NONCE_OID: &str = "1.2.840.113635.100.8.2";

/// Which App Attest environment the app was built for (one type with the policy's).
pub use crate::model::AppAttestEnvironment as Environment;

/// What a verified App Attest attestation establishes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppleAttestation {
    /// The attested App Attest key, uncompressed SEC1 (65 bytes).
    #[serde(with = "super::hex_bytes")]
    pub public_key: Vec<u8>,
    /// The sign counter in authData (0 for an attestation).
    pub counter: u32,
    /// The App Attest receipt (PKCS#7), for fraud-metric requests to Apple.
    #[serde(with = "super::hex_bytes")]
    pub receipt: Vec<u8>,
    /// The environment the aaguid names (either of the two; any other aaguid is refused).
    pub environment: Environment,
    /// rpIdHash from authData: SHA-256 of the app id (`TEAMID.bundle.id`); hex in JSON.
    #[serde(with = "super::hex_bytes")]
    pub rp_id_hash: Vec<u8>,
    /// Subject of the trust anchor the chain ends at.
    pub root: String,
    /// The App Attest key id: SHA-256 of `public_key`; hex in JSON.
    #[serde(with = "super::hex_bytes")]
    pub key_id: Vec<u8>,
}

impl AppleAttestation {
    /// Whether the attested rpIdHash is SHA-256 of `app_id` (`TEAMID.bundle.id`).
    pub fn is_for_app(&self, app_id: &str) -> bool {
        ct_eq(
            &self.rp_id_hash,
            digest(&SHA256, app_id.as_bytes()).as_ref(),
        )
    }
}

/// Parsed authenticator data.
struct AuthData<'a> {
    rp_id_hash: &'a [u8],
    counter: u32,
    /// aaguid, credential id (absent in assertions).
    credential: Option<(&'a [u8], &'a [u8])>,
}

fn parse_auth_data(a: &[u8], attested: bool) -> Result<AuthData<'_>, EvidenceError> {
    let bad = |w: &str| EvidenceError::Malformed(format!("authenticator data: {w}"));
    if a.len() < 37 {
        return Err(bad("shorter than 37 bytes"));
    }
    let counter = u32::from_be_bytes([a[33], a[34], a[35], a[36]]);
    let credential = if attested {
        let rest = &a[37..];
        if rest.len() < 18 {
            return Err(bad("no attested credential data"));
        }
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        let id = rest
            .get(18..18 + len)
            .ok_or_else(|| bad("credential id overruns"))?;
        Some((&rest[..16], id))
    } else {
        None
    };
    Ok(AuthData {
        rp_id_hash: &a[..32],
        counter,
        credential,
    })
}

fn cbor_map(bytes: &[u8], what: &str) -> Result<Vec<(Value, Value)>, EvidenceError> {
    let value: Value = ciborium::de::from_reader(bytes).map_err(|e| {
        EvidenceError::Malformed(format!(
            "{what} is not CBOR: {}",
            crate::encoding::cbor_error_text(&e)
        ))
    })?;
    match value {
        Value::Map(m) => Ok(m),
        _ => Err(EvidenceError::Malformed(format!(
            "{what} is not a CBOR map"
        ))),
    }
}

fn field<'a>(map: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
        .map(|(_, v)| v)
}

fn bytes_field<'a>(map: &'a [(Value, Value)], key: &str) -> Result<&'a [u8], EvidenceError> {
    match field(map, key) {
        Some(Value::Bytes(b)) => Ok(b),
        _ => Err(EvidenceError::Malformed(format!(
            "missing byte string '{key}'"
        ))),
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Verifies an App Attest attestation object at `now` (unix seconds) for
/// `client_data_hash` and `key_id`; the caller judges the returned rpIdHash and
/// environment (see the module documentation).
pub fn verify_apple_attestation(
    attestation_object: &[u8],
    client_data_hash: &[u8; 32],
    key_id: &[u8],
    now: u64,
    roots: &TrustAnchors,
) -> Result<AppleAttestation, EvidenceError> {
    let top = cbor_map(attestation_object, "attestation object")?;
    match field(&top, "fmt") {
        Some(Value::Text(f)) if f == "apple-appattest" => {}
        _ => {
            return Err(EvidenceError::Malformed(
                "fmt is not apple-appattest".into(),
            ));
        }
    }
    let auth_data = bytes_field(&top, "authData")?;
    let stmt = match field(&top, "attStmt") {
        Some(Value::Map(m)) => m.as_slice(),
        _ => return Err(EvidenceError::Malformed("missing attStmt".into())),
    };
    let x5c: Vec<&[u8]> = match field(stmt, "x5c") {
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= 5 => a
            .iter()
            .map(|v| match v {
                Value::Bytes(b) => Ok(b.as_slice()),
                _ => Err(EvidenceError::Malformed("x5c entry is not bytes".into())),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(EvidenceError::Malformed(
                "x5c missing or of bad size".into(),
            ));
        }
    };
    let receipt = bytes_field(stmt, "receipt")?.to_vec();

    // 1. The chain, every certificate valid at `now`.
    let certs = x5c
        .iter()
        .enumerate()
        .map(|(i, der)| parse_cert(i, der))
        .collect::<Result<Vec<_>, _>>()?;
    let chain = verify_chain(&certs, roots, now, ChainPolicy::STRICT)?;
    let cred = &certs[0];

    // 2-4. nonce = SHA-256(authData || clientDataHash) in the credential certificate.
    let mut pre = Vec::with_capacity(auth_data.len() + 32);
    pre.extend_from_slice(auth_data);
    pre.extend_from_slice(client_data_hash);
    let nonce = digest(&SHA256, &pre);
    let ext = cred
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == NONCE_OID)
        .ok_or(EvidenceError::MissingExtension(
            "App Attest nonce 1.2.840.113635.100.8.2",
        ))?;
    let cert_nonce = nonce_from_extension(ext.value)?;
    if !ct_eq(cert_nonce, nonce.as_ref()) {
        return Err(EvidenceError::NonceMismatch);
    }

    // 5. key id = SHA-256 of the credential public key.
    let spki = cred.public_key();
    if !matches!(key_kind(spki)?, KeyKind::Ec(Curve::P256)) {
        return Err(EvidenceError::UnsupportedAlgorithm(
            "App Attest key is not P-256".into(),
        ));
    }
    let public_key = spki.subject_public_key.data.to_vec();
    if !ct_eq(digest(&SHA256, &public_key).as_ref(), key_id) {
        return Err(EvidenceError::KeyIdMismatch);
    }

    // 6-9. rpIdHash, counter, aaguid, credential id.
    let ad = parse_auth_data(auth_data, true)?;
    if ad.counter != 0 {
        return Err(EvidenceError::Counter(format!(
            "attestation counter is {}, not 0",
            ad.counter
        )));
    }
    let Some((aaguid, cred_id)) = ad.credential else {
        return Err(EvidenceError::Malformed("no attested credential".into()));
    };
    let environment = [Environment::Production, Environment::Development]
        .into_iter()
        .find(|e| aaguid == e.aaguid())
        .ok_or_else(|| {
            EvidenceError::Environment(format!(
                "aaguid {:?} names neither App Attest environment",
                String::from_utf8_lossy(aaguid)
            ))
        })?;
    if !ct_eq(cred_id, key_id) {
        return Err(EvidenceError::KeyIdMismatch);
    }
    log::debug!(
        "evidence: apple attestation verified ({}, rpIdHash {})",
        environment.as_str(),
        hex::encode(ad.rp_id_hash)
    );
    Ok(AppleAttestation {
        public_key,
        counter: ad.counter,
        receipt,
        environment,
        rp_id_hash: ad.rp_id_hash.to_vec(),
        root: chain.anchor,
        key_id: key_id.to_vec(),
    })
}

/// The octets inside `SEQUENCE { [1] EXPLICIT OCTET STRING }`.
fn nonce_from_extension(value: &[u8]) -> Result<&[u8], EvidenceError> {
    let bad = || EvidenceError::Malformed("nonce extension".into());
    let (rest, seq) = Any::from_der(value).map_err(|_| bad())?;
    if !rest.is_empty() || seq.header.class() != Class::Universal || seq.header.tag().0 != 16 {
        return Err(bad());
    }
    let (_, tagged) = Any::from_der(seq.data).map_err(|_| bad())?;
    if tagged.header.class() != Class::ContextSpecific || tagged.header.tag().0 != 1 {
        return Err(bad());
    }
    let (_, octets) = Any::from_der(tagged.data).map_err(|_| bad())?;
    if octets.header.class() != Class::Universal || octets.header.tag().0 != 4 {
        return Err(bad());
    }
    Ok(octets.data)
}

/// Verifies an App Attest assertion; returns its counter, which must be strictly greater
/// than `previous_counter` (the caller stores it per device): a replayed assertion (the
/// same counter) and an older one (a lower counter) are [`EvidenceError::Counter`].
pub fn verify_apple_assertion(
    assertion: &[u8],
    client_data_hash: &[u8; 32],
    public_key: &[u8],
    app_id: &str,
    previous_counter: u32,
) -> Result<u32, EvidenceError> {
    verify_apple_assertion_for(
        assertion,
        client_data_hash,
        public_key,
        digest(&SHA256, app_id.as_bytes()).as_ref(),
        previous_counter,
    )
}

/// [`verify_apple_assertion`] for the app whose rpIdHash (SHA-256 of its app id) is
/// `rp_id_hash`, as recorded from the enrollment's attestation.
pub fn verify_apple_assertion_for(
    assertion: &[u8],
    client_data_hash: &[u8; 32],
    public_key: &[u8],
    rp_id_hash: &[u8],
    previous_counter: u32,
) -> Result<u32, EvidenceError> {
    let map = cbor_map(assertion, "assertion")?;
    let signature = bytes_field(&map, "signature")?;
    let auth_data = bytes_field(&map, "authenticatorData")?;
    let mut pre = Vec::with_capacity(auth_data.len() + 32);
    pre.extend_from_slice(auth_data);
    pre.extend_from_slice(client_data_hash);
    let nonce = digest(&SHA256, &pre);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
        .verify(nonce.as_ref(), signature)
        .map_err(|_| EvidenceError::BadSignature)?;
    let ad = parse_auth_data(auth_data, false)?;
    if !ct_eq(ad.rp_id_hash, rp_id_hash) {
        return Err(EvidenceError::AppIdMismatch);
    }
    if ad.counter <= previous_counter {
        return Err(EvidenceError::Counter(format!(
            "assertion counter {} does not exceed {previous_counter}",
            ad.counter
        )));
    }
    Ok(ad.counter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_auth_data_is_an_error() {
        assert!(parse_auth_data(&[0; 36], false).is_err());
        assert!(parse_auth_data(&[0; 37], true).is_err());
        let mut a = vec![0u8; 37 + 18];
        a[37 + 17] = 5; // credential id of 5 bytes, none present
        assert!(parse_auth_data(&a, true).is_err());
    }

    #[test]
    fn non_cbor_is_an_error() {
        let h = [0u8; 32];
        let r = verify_apple_assertion(&[0xff], &h, &[4; 65], "T.b", 0);
        assert!(matches!(r, Err(EvidenceError::Malformed(_))));
    }
}
