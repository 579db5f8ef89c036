//! The messages of the device protocol (design section 5), as typed Rust values.
//!
//! The attestation itself is an EAT claims set (RFC 9711): a CBOR map that mixes registered
//! integer keys (`265` eat_profile, `256` ueid, `10` eat_nonce, `6` iat) with Pramaan's text
//! keys. Serde cannot derive a map with mixed key types, so [`Attestation`] is encoded and
//! decoded by hand over [`ciborium::Value`]; every other message has text keys only and
//! goes through serde with ciborium.
//!
//! Decoding of what a device sends ([`Attestation::from_cbor`], [`EnrollRequest::from_cbor`])
//! is strict: a missing or mistyped required claim, an unknown key at any depth the device
//! controls (the claims set, `apps`, `groups`, `os`, `device`, `evidence`) and trailing
//! bytes after the top-level item are each a [`ClaimsError`]. Why unknown keys are refused
//! rather than ignored: the audit log keeps the device's token whole, so every byte a
//! device may add is a byte it grows the log by; a claim this server does not know is
//! also a claim no auditor can read. A newer agent's new claim needs a server that knows
//! it first (the protocol's `v` and EAT profile say which). The server's answers
//! (receipt, result) are decoded leniently by the agent, so a newer server may add to them.

use std::io::Cursor;

use ciborium::Value;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::encoding::cbor_error_text;
use crate::model::Policy;
pub use crate::model::{Assurance, Failure, Platform, Verdict};

/// The EAT profile this release's attestations name (protocol v2).
pub const EAT_PROFILE: &str = "urn:pramaan:eat:v2";
/// The EAT profile of the previous release's attestations (protocol v1), accepted until
/// the server's `previous_protocol_until`.
pub const EAT_PROFILE_V1: &str = "urn:pramaan:eat:v1";

/// The device protocol a message speaks: its attestation's `eat_profile`, its enrollment's
/// `v` (design section 5). Parsed once, on decoding, so no one compares strings after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Protocol {
    /// The previous release's agents: they verify answers with the key they enrolled
    /// under and follow no key chain.
    V1,
    /// This release's agents.
    #[default]
    V2,
}

impl Protocol {
    /// What this release's agent speaks.
    pub const CURRENT: Protocol = Protocol::V2;

    /// The attestation's `eat_profile` of this version.
    pub fn profile(self) -> &'static str {
        match self {
            Protocol::V1 => EAT_PROFILE_V1,
            Protocol::V2 => EAT_PROFILE,
        }
    }

    /// The version an `eat_profile` names, if one this code knows.
    pub fn from_profile(profile: &str) -> Option<Self> {
        match profile {
            EAT_PROFILE_V1 => Some(Protocol::V1),
            EAT_PROFILE => Some(Protocol::V2),
            _ => None,
        }
    }

    /// An enrollment request's `v` of this version.
    pub fn number(self) -> u32 {
        match self {
            Protocol::V1 => 1,
            Protocol::V2 => 2,
        }
    }

    /// The version an enrollment's `v` names, if one this code knows.
    pub fn from_number(v: u32) -> Option<Self> {
        match v {
            1 => Some(Protocol::V1),
            2 => Some(Protocol::V2),
            _ => None,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}", self.number())
    }
}
/// Largest message the decoders accept: a hard cap for every reader. The server's body
/// limits per endpoint are lower (design section 5 item 7).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Length of a server nonce.
pub const NONCE_LEN: usize = 32;

/// Allowed clock skew of a device's `iat` ahead of the server, seconds: the server refuses
/// an attestation signed further in its future, and an auditor's replay flags a log entry
/// written earlier than its token's `iat` minus this (one constant for both).
pub const MAX_FUTURE_SKEW: u64 = 300;

/// Most entries of the attestation's `apps` list. A device reports the apps its policy
/// names (a department picks a few messaging platforms); no real phone comes near it.
pub const MAX_APPS: usize = 64;
/// Most entries of the attestation's `groups` list: the policy's groups, a few per
/// account. Bounds rule R4's work per attestation (each membership is one set lookup).
pub const MAX_GROUPS: usize = 64;
/// Most entries of the attestation's `email` list (accounts on the phone).
pub const MAX_EMAILS: usize = 16;
/// Most certificates of an Android key attestation chain (real ones have 3 to 5; the
/// chain check refuses longer ones too).
pub const MAX_CHAIN_CERTS: usize = 10;

const KEY_EAT_PROFILE: i64 = 265;
const KEY_UEID: i64 = 256;
const KEY_NONCE: i64 = 10;
const KEY_IAT: i64 = 6;
/// UEID type byte for a RAND UEID (RFC 9711 section 4.2.1): the device UUID follows.
const UEID_TYPE_RAND: u8 = 0x01;

/// Why a message could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimsError {
    /// Over [`MAX_MESSAGE_BYTES`]; holds the length in bytes.
    #[error("message is {0} bytes, over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    /// The CBOR decoder refused the bytes (malformed, or not the expected message).
    #[error("not well-formed CBOR: {0}")]
    Cbor(String),
    /// Bytes left after the top-level item; holds how many.
    #[error("{0} trailing bytes after the CBOR item")]
    TrailingBytes(usize),
    /// The attestation is not a CBOR map.
    #[error("expected a CBOR map at the top level")]
    NotAMap,
    /// A required claim is absent; holds its name.
    #[error("required claim `{0}` is missing")]
    Missing(&'static str),
    /// A claim has the wrong CBOR type or value (e.g. a nonce not [`NONCE_LEN`] bytes).
    #[error("claim `{0}` has the wrong type or value")]
    Invalid(&'static str),
    /// A claim appears twice in the map; holds its name.
    #[error("claim `{0}` appears twice")]
    Duplicate(String),
    /// A map key the protocol does not define; holds where (e.g. `apps[0].colour`).
    #[error("unknown claim key {0}")]
    UnknownKey(String),
    /// A list the device sends has more entries than the protocol accepts ([`MAX_APPS`],
    /// [`MAX_GROUPS`], [`MAX_EMAILS`], [`MAX_CHAIN_CERTS`]): refused before it is decoded
    /// or evaluated, so a device cannot make the server's work per request unbounded.
    #[error("claim `{list}` has {count} entries, more than the {limit} accepted")]
    TooMany {
        /// The list, e.g. `groups` or `evidence.chain`.
        list: &'static str,
        /// How many entries it has.
        count: usize,
        /// The most accepted.
        limit: usize,
    },
    /// `eat_profile` is neither [`EAT_PROFILE`] nor [`EAT_PROFILE_V1`]; holds the one found.
    #[error("eat_profile is {0:?}, expected {EAT_PROFILE:?} (or the previous {EAT_PROFILE_V1:?})")]
    WrongProfile(String),
    /// A text claim holds a control or bidirectional-formatting character
    /// ([`crate::text::is_unsafe_char`]): a terminal escape, a forged line in IT's table, a
    /// domain that reads backwards. Names the claim (`os.version`, `apps[1].id`).
    #[error(
        "claim `{claim}` holds the control or bidirectional-formatting character U+{code:04X} \
         (character {index}); such characters are refused"
    )]
    UnsafeText {
        /// The claim's path, e.g. `groups[0].handle`.
        claim: String,
        /// Index of the character, counted in characters.
        index: usize,
        /// The character's code point.
        code: u32,
    },
}

/// Refuses `s` when it holds an unsafe character, naming `claim` (built only then).
fn safe_text(s: &str, claim: impl FnOnce() -> String) -> Result<(), ClaimsError> {
    match crate::text::first_unsafe_char(s) {
        None => Ok(()),
        Some((index, c)) => Err(ClaimsError::UnsafeText {
            claim: claim(),
            index,
            code: u32::from(c),
        }),
    }
}

/// One app the device reports (rule R3). Unknown keys are refused, as everywhere the
/// device fills in (the facts file included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppFact {
    /// Android package name or iOS bundle id.
    pub id: String,
    /// SHA-256 of the APK signing certificate, lowercase hex (Android only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Version as the OS reports it (e.g. `2.26.1`); may be empty.
    #[serde(default)]
    pub version: String,
    /// Whether the app is installed; true when omitted.
    #[serde(default = "default_true")]
    pub present: bool,
}

fn default_true() -> bool {
    true
}

/// Membership of one messaging group, as the device reports it (rule R4). Unknown keys
/// are refused, as everywhere the device fills in (the facts file included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFact {
    /// Platform name as in the policy (compared case-insensitively).
    pub platform: String,
    /// Group id as in the policy's [`GroupSpec::id`](crate::model::GroupSpec::id).
    pub group: String,
    /// Whether the officer is a member of the group.
    pub member: bool,
    /// The officer's handle there (phone number, `@username`), checked against IT's roster.
    #[serde(default)]
    pub handle: String,
}

/// Operating system facts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsInfo {
    /// OS name, e.g. `android` or `ios`.
    pub name: String,
    /// OS version, e.g. `15`.
    pub version: String,
    /// Security patch level (Android `YYYY-MM-DD`), empty where the OS has none.
    #[serde(default)]
    pub patch: String,
}

/// The EAT claims set of one attestation (design section 5 item 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The protocol version its `eat_profile` names.
    pub protocol: Protocol,
    /// The device's id from its [`Receipt`]; on the wire the `ueid` claim (`0x01` || UUID).
    pub device_id: Uuid,
    /// The server nonce this attestation answers; `None` for an offline attestation.
    pub nonce: Option<Vec<u8>>,
    /// Offline attestations only: SHA-256 of the last nonce the server sent this device
    /// (in a receipt or result), chaining the attestation to the device's last contact.
    pub anchor: Option<Vec<u8>>,
    /// Issued-at, seconds since the Unix epoch.
    pub iat: u64,
    /// Strictly increasing per device.
    pub seq: u64,
    /// Registry id of the officer the device is enrolled for.
    pub officer: String,
    /// Apps the device reports (R3).
    pub apps: Vec<AppFact>,
    /// Group memberships the device reports (R4).
    pub groups: Vec<GroupFact>,
    /// Email accounts on the device (R1).
    pub email: Vec<String>,
    /// Operating system name, version and patch level.
    pub os: OsInfo,
    /// Whether a screen lock is set.
    pub lock: bool,
    /// Fresh platform evidence bound to `nonce`, when the server asked for it
    /// (re-attestation); only with a nonce.
    pub evidence: Option<Evidence>,
}

impl Attestation {
    /// Encodes the claims set as a CBOR map.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut entries: Vec<(Value, Value)> = Vec::with_capacity(11);
        entries.push((KEY_EAT_PROFILE.into(), self.protocol.profile().into()));
        let mut ueid = Vec::with_capacity(17);
        ueid.push(UEID_TYPE_RAND);
        ueid.extend_from_slice(self.device_id.as_bytes());
        entries.push((KEY_UEID.into(), Value::Bytes(ueid)));
        if let Some(nonce) = &self.nonce {
            entries.push((KEY_NONCE.into(), Value::Bytes(nonce.clone())));
        }
        if let Some(anchor) = &self.anchor {
            entries.push(("anchor".into(), Value::Bytes(anchor.clone())));
        }
        entries.push((KEY_IAT.into(), self.iat.into()));
        entries.push(("seq".into(), self.seq.into()));
        entries.push(("officer".into(), self.officer.as_str().into()));
        entries.push(("apps".into(), to_value(&self.apps)));
        entries.push(("groups".into(), to_value(&self.groups)));
        entries.push(("email".into(), to_value(&self.email)));
        entries.push(("os".into(), to_value(&self.os)));
        entries.push(("lock".into(), self.lock.into()));
        if let Some(evidence) = &self.evidence {
            entries.push(("evidence".into(), to_value(evidence)));
        }
        write_value(&Value::Map(entries))
    }

    /// Decodes a claims set a device sends: required claims must be present, unknown keys
    /// (at any depth) are refused, and so is a text claim with a control or
    /// bidirectional-formatting character ([`Attestation::check_text`]).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, ClaimsError> {
        let claims = Self::from_stored_cbor(bytes)?;
        claims.check_text()?;
        Ok(claims)
    }

    /// Decodes a claims set as [`Attestation::from_cbor`] does but without the text check:
    /// for claims the server already stored (accepted before the check existed) and for a
    /// token being inspected, whose text is escaped when shown, never trusted.
    pub fn from_stored_cbor(bytes: &[u8]) -> Result<Self, ClaimsError> {
        let Value::Map(entries) = read_value(bytes)? else {
            return Err(ClaimsError::NotAMap);
        };
        // Unknown keys of the top level are refused below, those inside a claim here.
        for (key, value) in &entries {
            if let Value::Text(t) = key {
                check_nested(t, value)?;
            }
        }
        let mut profile = None;
        let mut ueid = None;
        let mut nonce = None;
        let mut anchor = None;
        let mut iat = None;
        let mut seq = None;
        let mut officer = None;
        let mut apps = None;
        let mut groups = None;
        let mut email = None;
        let mut os = None;
        let mut lock = None;
        let mut evidence = None;
        for (key, value) in entries {
            let name = match &key {
                Value::Integer(i) => match i64::try_from(*i) {
                    Ok(KEY_EAT_PROFILE) => "eat_profile",
                    Ok(KEY_UEID) => "ueid",
                    Ok(KEY_NONCE) => "eat_nonce",
                    Ok(KEY_IAT) => "iat",
                    _ => return Err(ClaimsError::UnknownKey(i128::from(*i).to_string())),
                },
                Value::Text(t) => match t.as_str() {
                    "seq" => "seq",
                    "anchor" => "anchor",
                    "officer" => "officer",
                    "apps" => "apps",
                    "groups" => "groups",
                    "email" => "email",
                    "os" => "os",
                    "lock" => "lock",
                    "evidence" => "evidence",
                    other => return Err(ClaimsError::UnknownKey(other.to_string())),
                },
                _ => return Err(ClaimsError::UnknownKey(describe_key(&key))),
            };
            let slot_taken = match name {
                "eat_profile" => profile.replace(text(value, name)?).is_some(),
                "ueid" => ueid.replace(bytes_of(value, name)?).is_some(),
                "eat_nonce" => nonce.replace(bytes_of(value, name)?).is_some(),
                "anchor" => anchor.replace(bytes_of(value, name)?).is_some(),
                "iat" => iat.replace(uint(value, name)?).is_some(),
                "seq" => seq.replace(uint(value, name)?).is_some(),
                "officer" => officer.replace(text(value, name)?).is_some(),
                "apps" => apps.replace(from_value(value, name)?).is_some(),
                "groups" => groups.replace(from_value(value, name)?).is_some(),
                "email" => email.replace(from_value(value, name)?).is_some(),
                "os" => os.replace(from_value(value, name)?).is_some(),
                "evidence" => evidence.replace(from_value(value, name)?).is_some(),
                "lock" => match value {
                    Value::Bool(b) => lock.replace(b).is_some(),
                    _ => return Err(ClaimsError::Invalid(name)),
                },
                _ => false,
            };
            if slot_taken {
                return Err(ClaimsError::Duplicate(name.to_string()));
            }
        }
        let profile = profile.ok_or(ClaimsError::Missing("eat_profile"))?;
        let protocol =
            Protocol::from_profile(&profile).ok_or(ClaimsError::WrongProfile(profile))?;
        let ueid = ueid.ok_or(ClaimsError::Missing("ueid"))?;
        let device_id = match ueid.split_first() {
            Some((&UEID_TYPE_RAND, rest)) => {
                Uuid::from_slice(rest).map_err(|_| ClaimsError::Invalid("ueid"))?
            }
            _ => return Err(ClaimsError::Invalid("ueid")),
        };
        if nonce.as_ref().is_some_and(|n| n.len() != NONCE_LEN) {
            return Err(ClaimsError::Invalid("eat_nonce"));
        }
        if anchor.as_ref().is_some_and(|a| a.len() != 32) {
            return Err(ClaimsError::Invalid("anchor"));
        }
        Ok(Attestation {
            protocol,
            device_id,
            nonce,
            anchor,
            iat: iat.ok_or(ClaimsError::Missing("iat"))?,
            seq: seq.ok_or(ClaimsError::Missing("seq"))?,
            officer: officer.ok_or(ClaimsError::Missing("officer"))?,
            apps: apps.ok_or(ClaimsError::Missing("apps"))?,
            groups: groups.ok_or(ClaimsError::Missing("groups"))?,
            email: email.ok_or(ClaimsError::Missing("email"))?,
            os: os.ok_or(ClaimsError::Missing("os"))?,
            lock: lock.ok_or(ClaimsError::Missing("lock"))?,
            evidence,
        })
    }

    /// Refuses any text claim holding a control or bidirectional-formatting character
    /// (every string a device fills: officer, apps, groups, email, os), naming the first.
    /// The server checks on decoding; the agent checks before it signs.
    pub fn check_text(&self) -> Result<(), ClaimsError> {
        safe_text(&self.officer, || "officer".into())?;
        for (i, a) in self.apps.iter().enumerate() {
            safe_text(&a.id, || format!("apps[{i}].id"))?;
            if let Some(signer) = &a.signer {
                safe_text(signer, || format!("apps[{i}].signer"))?;
            }
            safe_text(&a.version, || format!("apps[{i}].version"))?;
        }
        for (i, g) in self.groups.iter().enumerate() {
            safe_text(&g.platform, || format!("groups[{i}].platform"))?;
            safe_text(&g.group, || format!("groups[{i}].group"))?;
            safe_text(&g.handle, || format!("groups[{i}].handle"))?;
        }
        for (i, e) in self.email.iter().enumerate() {
            safe_text(e, || format!("email[{i}]"))?;
        }
        safe_text(&self.os.name, || "os.name".into())?;
        safe_text(&self.os.version, || "os.version".into())?;
        safe_text(&self.os.patch, || "os.patch".into())
    }
}

/// The device as it describes itself at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Model as the OS reports it (e.g. `Pixel 8`); R2 compares it with the registry.
    pub model: String,
    /// OS name, e.g. `android`.
    pub os: String,
    /// OS version, e.g. `15`.
    pub os_version: String,
}

/// Platform evidence that the device key lives in hardware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// Android Key Attestation: DER certificates, leaf first; attestationChallenge = nonce.
    /// Wire tag `type: "android_key_attestation"`.
    AndroidKeyAttestation {
        /// The certificate chain, DER, leaf first.
        #[serde(with = "vec_of_bytes")]
        chain: Vec<Vec<u8>>,
    },
    /// Apple App Attest: the attestation object, the key id and the client data whose
    /// SHA-256 is the clientDataHash (it binds the nonce and the COSE key).
    /// Wire tag `type: "apple_app_attest"`.
    AppleAppAttest {
        /// The CBOR attestation object from `attestKey`.
        #[serde(with = "serde_bytes")]
        attestation: Vec<u8>,
        /// The App Attest key id: SHA-256 of the attested public key.
        #[serde(with = "serde_bytes")]
        key_id: Vec<u8>,
        /// The bytes whose SHA-256 was passed to `attestKey` as clientDataHash.
        #[serde(with = "serde_bytes")]
        client_data: Vec<u8>,
    },
    /// Apple App Attest assertion (re-attestation only): `generateAssertion` over
    /// clientDataHash = SHA-256(the attestation's server nonce), by the App Attest key
    /// attested at enrollment. Wire tag `type: "apple_assertion"`.
    AppleAssertion {
        /// The CBOR assertion object (`signature`, `authenticatorData`).
        #[serde(with = "serde_bytes")]
        assertion: Vec<u8>,
    },
}

mod vec_of_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_bytes::ByteBuf;

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let bufs: Vec<&serde_bytes::Bytes> = v.iter().map(|b| serde_bytes::Bytes::new(b)).collect();
        bufs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let bufs = Vec::<ByteBuf>::deserialize(d)?;
        Ok(bufs.into_iter().map(ByteBuf::into_vec).collect())
    }
}

/// `GET /v1/challenge` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Single-use nonce, [`NONCE_LEN`] bytes; lives 10 minutes.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
}

/// SHA-256 of an enrollment token as the URI prints it (surrounding spaces ignored):
/// what [`EnrollRequest::token_hash`] carries and what the server stores.
pub fn enroll_token_hash(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.trim().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `POST /v1/enroll` payload, signed by the new device key (proof of possession).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// Protocol version: 2 from this release's agents, 1 from the previous ones
    /// ([`EnrollRequest::protocol`]).
    pub v: u32,
    /// SHA-256 of the enrollment token (the base64url text from the URI, as printed).
    /// The token itself travels outside the signed request, in the `Authorization:
    /// Bearer` header, so the audit log that keeps this request never holds a token.
    #[serde(with = "serde_bytes")]
    pub token_hash: Vec<u8>,
    /// The nonce of a [`Challenge`]; `evidence` must bind it too.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// The device public key, a COSE_Key (encoded CBOR bytes).
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The platform the device runs.
    pub platform: Platform,
    /// The device's own description, unverified.
    pub device: DeviceInfo,
    /// Hardware evidence for the key; without it the enrollment has software assurance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

impl EnrollRequest {
    /// Decodes an enrollment request (size-limited, no trailing bytes); unknown keys, at
    /// any depth, are refused.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, ClaimsError> {
        let value = read_value(bytes)?;
        let Value::Map(entries) = &value else {
            return Err(ClaimsError::NotAMap);
        };
        for (key, v) in entries {
            let Value::Text(name) = key else {
                return Err(ClaimsError::UnknownKey(describe_key(key)));
            };
            match name.as_str() {
                "v" | "token_hash" | "nonce" | "key" | "platform" => {}
                "device" => check_map(v, &DEVICE_KEYS, "device")?,
                "evidence" => check_evidence(v, "evidence")?,
                other => return Err(ClaimsError::UnknownKey(other.to_string())),
            }
        }
        // ciborium's value error prints as Debug text: take its message.
        let req: Self = value
            .deserialized()
            .map_err(|ciborium::value::Error::Custom(m)| ClaimsError::Cbor(m))?;
        req.check_text()?;
        Ok(req)
    }

    /// The protocol version `v` names, if one this code knows.
    pub fn protocol(&self) -> Option<Protocol> {
        Protocol::from_number(self.v)
    }

    /// Refuses a device description holding a control or bidirectional-formatting
    /// character (`device.model`, `device.os`, `device.os_version`), naming the claim.
    pub fn check_text(&self) -> Result<(), ClaimsError> {
        let d = &self.device;
        safe_text(&d.model, || "device.model".into())?;
        safe_text(&d.os, || "device.os".into())?;
        safe_text(&d.os_version, || "device.os_version".into())
    }

    /// Decodes an enroll request as the audit log keeps it, for the auditor's replay and
    /// the bundle's key check. The first release's agents sent the enrollment token itself
    /// (`token`) where later ones send its SHA-256 (`token_hash`), and its log kept those
    /// requests whole: such a request reads with `token_hash` derived from its token
    /// ([`enroll_token_hash`], the hash its issuance is logged under), so logs of every
    /// release replay. Exactly one of the two must be there.
    pub fn from_logged_cbor(bytes: &[u8]) -> Result<Self, ClaimsError> {
        /// The request of any release: `token` or `token_hash`.
        #[derive(Deserialize)]
        struct Logged {
            v: u32,
            #[serde(default, with = "serde_bytes")]
            token_hash: Option<Vec<u8>>,
            #[serde(default)]
            token: Option<String>,
            #[serde(with = "serde_bytes")]
            nonce: Vec<u8>,
            #[serde(with = "serde_bytes")]
            key: Vec<u8>,
            platform: Platform,
            device: DeviceInfo,
            #[serde(default)]
            evidence: Option<Evidence>,
        }
        let logged: Logged = decode(bytes)?;
        let token_hash = match (logged.token_hash, logged.token) {
            (Some(hash), None) => hash,
            (None, Some(token)) => enroll_token_hash(&token).to_vec(),
            (Some(_), Some(_)) => {
                return Err(ClaimsError::Cbor(
                    "an enroll request carries both `token` and `token_hash`".into(),
                ));
            }
            (None, None) => return Err(ClaimsError::Cbor("missing field `token_hash`".into())),
        };
        Ok(Self {
            v: logged.v,
            token_hash,
            nonce: logged.nonce,
            key: logged.key,
            platform: logged.platform,
            device: logged.device,
            evidence: logged.evidence,
        })
    }
}

/// Answer to an enrollment (signed by the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The id the server assigned: the `kid` and `ueid` of every later attestation.
    pub device_id: Uuid,
    /// The officer the enrollment token was issued for.
    pub officer_id: String,
    /// The officer's department code.
    pub department: String,
    /// The department policy, so the agent can evaluate locally.
    pub policy: Policy,
    /// Whether the key was shown to be hardware-backed (under the policy at enrollment).
    pub assurance: Assurance,
    /// What the enrollment's platform evidence proved, so the agent can judge it against
    /// the policy as the server does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::evidence::EvidenceSummary>,
    /// Nonce for the first attestation, [`NONCE_LEN`] bytes.
    #[serde(with = "serde_bytes")]
    pub next_nonce: Vec<u8>,
    /// The server's Ed25519 public key (32 bytes) that signs this receipt and every later
    /// result. The agent learns it here, over the TLS channel it pinned from the enrollment
    /// URI, checks that it verifies this receipt, and verifies every result with it after.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub server_key: Option<Vec<u8>>,
    /// The TLS key the server changes to, and when (set only while a key change is
    /// staged): the agent trusts it from this signed answer on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_pin: Option<NextPin>,
    /// Every rotation of the answer key, oldest first: endorsements of each new key by
    /// the one before (COSE_Sign1, [`crate::agent::answer_keys`]). An agent holding an
    /// older key follows them to the key that signed this answer. Empty (and absent) while
    /// the key was never rotated.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "vec_of_bytes")]
    pub answer_keys: Vec<Vec<u8>>,
}

/// The pin of the TLS key a server will serve from `takes_over_at`: carried by signed
/// answers during a key change, so enrolled devices trust the new key before it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextPin {
    /// SHA-256 of the next certificate's SubjectPublicKeyInfo (32 bytes).
    #[serde(with = "serde_bytes")]
    pub pin: Vec<u8>,
    /// When the server starts serving it, seconds since the Unix epoch.
    pub takes_over_at: u64,
}

/// `POST /v1/enroll/preview` request: what an enrollment token is for, asked before
/// enrolling. The token travels in the body (the request is not signed and not logged);
/// the server consumes nothing.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollPreviewRequest {
    /// The enrollment token as the link carries it.
    pub token: String,
}

impl std::fmt::Debug for EnrollPreviewRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A bearer secret until used: never in diagnostics.
        f.debug_struct("EnrollPreviewRequest")
            .finish_non_exhaustive()
    }
}

/// `POST /v1/enroll/preview` answer (plain CBOR over the pinned channel): whom the token
/// enrolls, for the officer to check before confirming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollPreview {
    /// The officer the token was issued for.
    pub officer_id: String,
    /// The officer's name as in the registry.
    pub officer_name: String,
    /// The officer's department code.
    pub department: String,
    /// The department's full name (the policy's `name`; may be empty).
    pub department_name: String,
    /// When the token expires, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl EnrollPreview {
    /// Refuses control and bidirectional characters in what the officer will be shown.
    pub fn check_text(&self) -> Result<(), ClaimsError> {
        safe_text(&self.officer_id, || "officer_id".into())?;
        safe_text(&self.officer_name, || "officer_name".into())?;
        safe_text(&self.department, || "department".into())?;
        safe_text(&self.department_name, || "department_name".into())
    }
}

/// Answer to an attestation (signed by the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestResult {
    /// The attesting device.
    pub device_id: Uuid,
    /// The `seq` of the accepted attestation.
    pub seq: u64,
    /// The verdict on this attestation.
    pub status: Verdict,
    /// The rules that failed, with their detail.
    pub failures: Vec<Failure>,
    /// Index of the attestation's entry in the audit log.
    pub log_index: u64,
    /// Nonce for the next attestation, [`NONCE_LEN`] bytes.
    #[serde(with = "serde_bytes")]
    pub next_nonce: Vec<u8>,
    /// When the server accepted it, seconds since the Unix epoch.
    pub iat: u64,
    /// The server asks for fresh platform evidence at the next check-in (the policy's
    /// re-attestation period is ending, or IT asked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reattest: bool,
    /// The TLS key the server changes to, and when (set only while a key change is
    /// staged): the agent trusts it from this signed answer on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_pin: Option<NextPin>,
    /// Every rotation of the answer key, oldest first: endorsements of each new key by
    /// the one before (COSE_Sign1, [`crate::agent::answer_keys`]). An agent holding an
    /// older key follows them to the key that signed this answer. Empty (and absent) while
    /// the key was never rotated.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "vec_of_bytes")]
    pub answer_keys: Vec<Vec<u8>>,
}

/// Body of a rejection (CBOR for devices, JSON elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The rejection code's wire string (see [`RejectCode`](crate::api::RejectCode)).
    pub error: String,
    /// What went wrong, in English for people and logs.
    pub message: String,
}

pub use crate::encoding::cbor_encode as encode;

/// Decodes one serde message from exactly `bytes` (size-limited, no trailing bytes).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ClaimsError> {
    check_size(bytes)?;
    let mut cursor = Cursor::new(bytes);
    let msg =
        ciborium::from_reader(&mut cursor).map_err(|e| ClaimsError::Cbor(cbor_error_text(&e)))?;
    check_trailing(bytes, &cursor)?;
    Ok(msg)
}

fn check_size(bytes: &[u8]) -> Result<(), ClaimsError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(ClaimsError::TooLarge(bytes.len()));
    }
    Ok(())
}

fn check_trailing(bytes: &[u8], cursor: &Cursor<&[u8]>) -> Result<(), ClaimsError> {
    let used = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    if used < bytes.len() {
        return Err(ClaimsError::TrailingBytes(bytes.len() - used));
    }
    Ok(())
}

fn read_value(bytes: &[u8]) -> Result<Value, ClaimsError> {
    check_size(bytes)?;
    let mut cursor = Cursor::new(bytes);
    let value: Value =
        ciborium::from_reader(&mut cursor).map_err(|e| ClaimsError::Cbor(cbor_error_text(&e)))?;
    check_trailing(bytes, &cursor)?;
    Ok(value)
}

const APP_KEYS: [&str; 4] = ["id", "signer", "version", "present"];
const GROUP_KEYS: [&str; 4] = ["platform", "group", "member", "handle"];
const OS_KEYS: [&str; 3] = ["name", "version", "patch"];
const DEVICE_KEYS: [&str; 3] = ["model", "os", "os_version"];

/// Checks the keys inside the attestation claim `name` (the structures a device fills).
fn check_nested(name: &str, value: &Value) -> Result<(), ClaimsError> {
    match name {
        "apps" => {
            check_count(value, "apps", MAX_APPS)?;
            check_list(value, &APP_KEYS, "apps")
        }
        "groups" => {
            check_count(value, "groups", MAX_GROUPS)?;
            check_list(value, &GROUP_KEYS, "groups")
        }
        "email" => check_count(value, "email", MAX_EMAILS),
        "os" => check_map(value, &OS_KEYS, "os"),
        "evidence" => check_evidence(value, "evidence"),
        _ => Ok(()),
    }
}

/// The array `value` has at most `limit` entries (other shapes are left to the typed
/// decoding, which names the claim).
fn check_count(value: &Value, list: &'static str, limit: usize) -> Result<(), ClaimsError> {
    match value {
        Value::Array(items) if items.len() > limit => Err(ClaimsError::TooMany {
            list,
            count: items.len(),
            limit,
        }),
        _ => Ok(()),
    }
}

/// Every map in the array `value` has only `known` keys. Other shapes are left to the
/// typed decoding, which names the claim.
fn check_list(value: &Value, known: &[&str], at: &str) -> Result<(), ClaimsError> {
    if let Value::Array(items) = value {
        for (i, item) in items.iter().enumerate() {
            check_map(item, known, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The map `value` has only `known` (text) keys.
fn check_map(value: &Value, known: &[&str], at: &str) -> Result<(), ClaimsError> {
    if let Value::Map(entries) = value {
        for (key, _) in entries {
            match key {
                Value::Text(t) if known.contains(&t.as_str()) => {}
                Value::Text(t) => return Err(ClaimsError::UnknownKey(format!("{at}.{t}"))),
                other => {
                    return Err(ClaimsError::UnknownKey(format!(
                        "{at}.{}",
                        describe_key(other)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Evidence has the keys of its `type` (an unknown type is the typed decoding's error).
fn check_evidence(value: &Value, at: &str) -> Result<(), ClaimsError> {
    let Value::Map(entries) = value else {
        return Ok(());
    };
    let kind = entries.iter().find_map(|(k, v)| match (k, v) {
        (Value::Text(k), Value::Text(v)) if k == "type" => Some(v.as_str()),
        _ => None,
    });
    if kind == Some("android_key_attestation")
        && let Some((_, chain)) = entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(k) if k == "chain"))
    {
        check_count(chain, "evidence.chain", MAX_CHAIN_CERTS)?;
    }
    let known: &[&str] = match kind {
        Some("android_key_attestation") => &["type", "chain"],
        Some("apple_app_attest") => &["type", "attestation", "key_id", "client_data"],
        Some("apple_assertion") => &["type", "assertion"],
        _ => return Ok(()),
    };
    check_map(value, known, at)
}

/// A non-text map key, for a message (never Rust debug text).
fn describe_key(key: &Value) -> String {
    match key {
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Text(t) => t.clone(),
        Value::Bytes(_) => "(a byte-string key)".into(),
        _ => "(a key that is neither text nor an integer)".into(),
    }
}

fn write_value(value: &Value) -> Vec<u8> {
    encode(value)
}

fn to_value<T: Serialize>(v: &T) -> Value {
    // Serializing plain structs, strings and vectors into a Value cannot fail.
    Value::serialized(v).unwrap_or(Value::Null)
}

fn from_value<T: DeserializeOwned>(v: Value, name: &'static str) -> Result<T, ClaimsError> {
    v.deserialized().map_err(|_| ClaimsError::Invalid(name))
}

fn text(v: Value, name: &'static str) -> Result<String, ClaimsError> {
    match v {
        Value::Text(t) => Ok(t),
        _ => Err(ClaimsError::Invalid(name)),
    }
}

fn bytes_of(v: Value, name: &'static str) -> Result<Vec<u8>, ClaimsError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(ClaimsError::Invalid(name)),
    }
}

fn uint(v: Value, name: &'static str) -> Result<u64, ClaimsError> {
    match v {
        Value::Integer(i) => u64::try_from(i).map_err(|_| ClaimsError::Invalid(name)),
        _ => Err(ClaimsError::Invalid(name)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Attestation {
        Attestation {
            protocol: crate::claims::Protocol::CURRENT,
            device_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            nonce: Some(vec![7; NONCE_LEN]),
            anchor: None,
            iat: 1_790_000_000,
            seq: 42,
            officer: "GAD-001".into(),
            apps: vec![
                AppFact {
                    id: "com.whatsapp".into(),
                    signer: Some(
                        "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44".into(),
                    ),
                    version: "2.26.1".into(),
                    present: true,
                },
                AppFact {
                    id: "org.telegram.messenger".into(),
                    signer: Some(
                        "49c1522548ebacd46ce322b6fd47f6092bb745d0f88082145caf35e14dcc38e1".into(),
                    ),
                    version: "11.2.0".into(),
                    present: true,
                },
            ],
            groups: vec![
                GroupFact {
                    platform: "WhatsApp".into(),
                    group: "gad-officers".into(),
                    member: true,
                    handle: "+919800000001".into(),
                },
                GroupFact {
                    platform: "Telegram".into(),
                    group: "gad-alerts".into(),
                    member: true,
                    handle: "@ashah".into(),
                },
            ],
            email: vec!["a.shah@gujarat.gov.in".into(), "a.shah@nic.in".into()],
            os: OsInfo {
                name: "android".into(),
                version: "15".into(),
                patch: "2026-10-05".into(),
            },
            lock: true,
            evidence: None,
        }
    }

    #[test]
    fn attestation_round_trips() {
        let a = sample();
        let bytes = a.to_cbor();
        assert_eq!(Attestation::from_cbor(&bytes), Ok(a.clone()));
        let offline = Attestation { nonce: None, ..a };
        assert_eq!(Attestation::from_cbor(&offline.to_cbor()), Ok(offline));
    }

    #[test]
    fn attestation_uses_registered_integer_keys() {
        let Value::Map(entries) = read_value(&sample().to_cbor()).expect("decodes") else {
            panic!("not a map")
        };
        let int_keys: Vec<i64> = entries
            .iter()
            .filter_map(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()))
            .collect();
        assert_eq!(int_keys, vec![265, 256, 10, 6]);
        let ueid = entries
            .iter()
            .find(|(k, _)| k.as_integer() == Some(256.into()))
            .and_then(|(_, v)| v.as_bytes())
            .expect("ueid");
        assert_eq!(ueid.len(), 17);
        assert_eq!(ueid[0], 0x01);
    }

    fn without(key: Value) -> Vec<u8> {
        let Value::Map(mut entries) = read_value(&sample().to_cbor()).expect("decodes") else {
            panic!("not a map")
        };
        entries.retain(|(k, _)| *k != key);
        write_value(&Value::Map(entries))
    }

    fn with_extra(key: Value, value: Value) -> Vec<u8> {
        let Value::Map(mut entries) = read_value(&sample().to_cbor()).expect("decodes") else {
            panic!("not a map")
        };
        entries.push((key, value));
        write_value(&Value::Map(entries))
    }

    #[test]
    fn missing_required_claims_are_typed_errors() {
        for (key, name) in [
            (Value::from(265), "eat_profile"),
            (Value::from(256), "ueid"),
            (Value::from(6), "iat"),
            (Value::from("seq"), "seq"),
            (Value::from("officer"), "officer"),
            (Value::from("apps"), "apps"),
            (Value::from("groups"), "groups"),
            (Value::from("email"), "email"),
            (Value::from("os"), "os"),
            (Value::from("lock"), "lock"),
        ] {
            assert_eq!(
                Attestation::from_cbor(&without(key)),
                Err(ClaimsError::Missing(name))
            );
        }
    }

    #[test]
    fn unknown_claims_are_refused_duplicates_rejected() {
        let extra = with_extra("future".into(), Value::from(1));
        assert_eq!(
            Attestation::from_cbor(&extra),
            Err(ClaimsError::UnknownKey("future".into()))
        );
        let extra_int = with_extra(Value::from(-70000), Value::from("x"));
        assert_eq!(
            Attestation::from_cbor(&extra_int),
            Err(ClaimsError::UnknownKey("-70000".into()))
        );
        let bytes_key = with_extra(Value::Bytes(vec![1]), Value::from("x"));
        assert!(matches!(
            Attestation::from_cbor(&bytes_key),
            Err(ClaimsError::UnknownKey(_))
        ));
        let dup = with_extra("seq".into(), Value::from(43));
        assert_eq!(
            Attestation::from_cbor(&dup),
            Err(ClaimsError::Duplicate("seq".into()))
        );
    }

    /// Replaces the claim `name` of the sample by `value`.
    fn with_claim(name: &str, value: Value) -> Vec<u8> {
        let Value::Map(mut entries) = read_value(&sample().to_cbor()).expect("decodes") else {
            panic!("not a map")
        };
        for (k, v) in &mut entries {
            if *k == Value::from(name) {
                *v = value.clone();
            }
        }
        write_value(&Value::Map(entries))
    }

    /// `value` (a map) with one more entry.
    fn plus(value: Value, key: &str) -> Value {
        let Value::Map(mut entries) = value else {
            panic!("not a map")
        };
        entries.push((key.into(), Value::Bytes(vec![0; 100])));
        Value::Map(entries)
    }

    #[test]
    fn unknown_keys_inside_what_the_device_fills_are_refused() {
        let a = sample();
        let mut apps: Vec<Value> = a.apps.iter().map(to_value).collect();
        apps[1] = plus(apps[1].clone(), "padding");
        assert_eq!(
            Attestation::from_cbor(&with_claim("apps", Value::Array(apps))),
            Err(ClaimsError::UnknownKey("apps[1].padding".into()))
        );
        let mut groups: Vec<Value> = a.groups.iter().map(to_value).collect();
        groups[0] = plus(groups[0].clone(), "note");
        assert_eq!(
            Attestation::from_cbor(&with_claim("groups", Value::Array(groups))),
            Err(ClaimsError::UnknownKey("groups[0].note".into()))
        );
        assert_eq!(
            Attestation::from_cbor(&with_claim("os", plus(to_value(&a.os), "kernel"))),
            Err(ClaimsError::UnknownKey("os.kernel".into()))
        );
        let chain = Evidence::AndroidKeyAttestation {
            chain: vec![vec![0x30, 0x00]],
        };
        let with_evidence = Attestation {
            evidence: Some(chain.clone()),
            ..a
        };
        assert_eq!(
            Attestation::from_cbor(&with_evidence.to_cbor()),
            Ok(with_evidence.clone())
        );
        let Value::Map(mut entries) = read_value(&with_evidence.to_cbor()).expect("decodes") else {
            panic!("not a map")
        };
        for (k, v) in &mut entries {
            if *k == Value::from("evidence") {
                *v = plus(v.clone(), "extra");
            }
        }
        assert_eq!(
            Attestation::from_cbor(&write_value(&Value::Map(entries))),
            Err(ClaimsError::UnknownKey("evidence.extra".into()))
        );
        // The error message names the key, for the device's 400 body.
        assert_eq!(
            ClaimsError::UnknownKey("os.kernel".into()).to_string(),
            "unknown claim key os.kernel"
        );
    }

    /// Every list a device sends is bounded: at the limit it decodes, one more is refused
    /// with an error naming the list, its count and the limit (a device reporting 950
    /// group memberships gets a 400, not a quadratic rule evaluation).
    #[test]
    fn lists_beyond_their_limits_are_refused_naming_the_list() {
        let a = sample();
        let app = a.apps[0].clone();
        let group = a.groups[0].clone();
        for (list, limit) in [
            ("apps", MAX_APPS),
            ("groups", MAX_GROUPS),
            ("email", MAX_EMAILS),
        ] {
            let at_limit = |n: usize| Attestation {
                apps: if list == "apps" {
                    vec![app.clone(); n]
                } else {
                    a.apps.clone()
                },
                groups: if list == "groups" {
                    vec![group.clone(); n]
                } else {
                    a.groups.clone()
                },
                email: if list == "email" {
                    vec!["x@gujarat.gov.in".into(); n]
                } else {
                    a.email.clone()
                },
                ..a.clone()
            };
            let ok = at_limit(limit);
            assert_eq!(Attestation::from_cbor(&ok.to_cbor()), Ok(ok), "{list}");
            let over = at_limit(limit + 1).to_cbor();
            let e = Attestation::from_cbor(&over).expect_err(list);
            assert_eq!(
                e,
                ClaimsError::TooMany {
                    list,
                    count: limit + 1,
                    limit
                }
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "claim `{list}` has {} entries, more than the {limit} accepted",
                    limit + 1
                )
            );
        }
        // The case: 950 memberships.
        let many = Attestation {
            groups: vec![group; 950],
            ..a.clone()
        };
        assert!(matches!(
            Attestation::from_cbor(&many.to_cbor()),
            Err(ClaimsError::TooMany {
                list: "groups",
                count: 950,
                ..
            })
        ));
        // An Android chain longer than any real one, in an attestation and an enrollment.
        let chain = Evidence::AndroidKeyAttestation {
            chain: vec![vec![0x30, 0x00]; MAX_CHAIN_CERTS + 1],
        };
        let with_chain = Attestation {
            evidence: Some(chain.clone()),
            ..a
        };
        let too_long = || ClaimsError::TooMany {
            list: "evidence.chain",
            count: MAX_CHAIN_CERTS + 1,
            limit: MAX_CHAIN_CERTS,
        };
        assert_eq!(
            Attestation::from_cbor(&with_chain.to_cbor()),
            Err(too_long())
        );
        let req = android_enroll_request(DeviceInfo::default(), Some(chain));
        assert_eq!(EnrollRequest::from_cbor(&encode(&req)), Err(too_long()));
    }

    #[test]
    fn logged_enroll_requests_of_every_release_read_with_their_token_hash() {
        let req = android_enroll_request(DeviceInfo::default(), None);
        assert_eq!(
            EnrollRequest::from_logged_cbor(&encode(&req)),
            Ok(req.clone())
        );
        // The first release's request carried the token itself: its hash is derived.
        let Value::Map(top) = to_value(&req) else {
            panic!("not a map")
        };
        let with_token = |keep_hash: bool| {
            let mut entries: Vec<(Value, Value)> = top
                .iter()
                .filter(|(k, _)| keep_hash || *k != Value::from("token_hash"))
                .cloned()
                .collect();
            entries.push(("token".into(), Value::from("tok-1")));
            let mut bytes = Vec::new();
            ciborium::into_writer(&Value::Map(entries), &mut bytes).expect("encode");
            bytes
        };
        let old = EnrollRequest::from_logged_cbor(&with_token(false)).expect("first release");
        assert_eq!(old.token_hash, enroll_token_hash("tok-1").to_vec());
        assert_eq!((old.key, old.nonce), (req.key.clone(), req.nonce.clone()));
        // A device's own request never reads that way, and neither both nor none do.
        assert!(EnrollRequest::from_cbor(&with_token(false)).is_err());
        assert!(EnrollRequest::from_logged_cbor(&with_token(true)).is_err());
        let without: Vec<(Value, Value)> = top
            .iter()
            .filter(|(k, _)| *k != Value::from("token_hash"))
            .cloned()
            .collect();
        let mut bytes = Vec::new();
        ciborium::into_writer(&Value::Map(without), &mut bytes).expect("encode");
        assert!(EnrollRequest::from_logged_cbor(&bytes).is_err());
    }

    #[test]
    fn enroll_requests_refuse_unknown_keys_at_any_depth() {
        let req = EnrollRequest {
            v: 1,
            token_hash: enroll_token_hash("abc").to_vec(),
            nonce: vec![1; 32],
            key: vec![0xa1, 0x01, 0x02],
            platform: Platform::Ios,
            device: DeviceInfo::default(),
            evidence: Some(Evidence::AppleAppAttest {
                attestation: vec![1],
                key_id: vec![2],
                client_data: vec![3],
            }),
        };
        assert_eq!(EnrollRequest::from_cbor(&encode(&req)), Ok(req.clone()));
        let Value::Map(top) = to_value(&req) else {
            panic!("not a map")
        };
        for (field, expected) in [
            (None, "padding"),
            (Some("device"), "device.padding"),
            (Some("evidence"), "evidence.padding"),
        ] {
            let mut entries = top.clone();
            match field {
                None => entries.push(("padding".into(), Value::from(1))),
                Some(f) => {
                    for (k, v) in &mut entries {
                        if *k == Value::from(f) {
                            *v = plus(v.clone(), "padding");
                        }
                    }
                }
            }
            assert_eq!(
                EnrollRequest::from_cbor(&write_value(&Value::Map(entries))),
                Err(ClaimsError::UnknownKey(expected.into())),
                "{expected}"
            );
        }
        assert_eq!(EnrollRequest::from_cbor(&[0x01]), Err(ClaimsError::NotAMap));
    }

    /// The profile is parsed into a typed version: v2 (this release) and v1 (the previous
    /// agents, as their tokens are in logs) both decode, each round-trips byte for byte,
    /// and the enrollment's `v` names the same versions.
    #[test]
    fn both_protocol_versions_decode_as_typed_versions() {
        for (protocol, profile) in [(Protocol::V1, EAT_PROFILE_V1), (Protocol::V2, EAT_PROFILE)] {
            let a = Attestation {
                protocol,
                ..sample()
            };
            let bytes = a.to_cbor();
            let Value::Map(entries) = read_value(&bytes).expect("decodes") else {
                panic!("not a map")
            };
            assert_eq!(entries[0].1, Value::from(profile));
            let back = Attestation::from_cbor(&bytes).expect("decodes");
            assert_eq!(back.protocol, protocol);
            assert_eq!(back.to_cbor(), bytes);
            assert_eq!(Protocol::from_number(protocol.number()), Some(protocol));
        }
        assert_eq!(Protocol::CURRENT.profile(), "urn:pramaan:eat:v2");
        assert_eq!(Protocol::from_number(3), None);
        assert!(Protocol::V1 < Protocol::CURRENT);
    }

    #[test]
    fn wrong_types_and_profiles_are_rejected() {
        let Value::Map(mut entries) = read_value(&sample().to_cbor()).expect("decodes") else {
            panic!()
        };
        entries[0].1 = Value::from("urn:other");
        assert_eq!(
            Attestation::from_cbor(&write_value(&Value::Map(entries.clone()))),
            Err(ClaimsError::WrongProfile("urn:other".into()))
        );
        entries[0].1 = Value::from(EAT_PROFILE);
        entries[2].1 = Value::Bytes(vec![1, 2, 3]);
        assert_eq!(
            Attestation::from_cbor(&write_value(&Value::Map(entries.clone()))),
            Err(ClaimsError::Invalid("eat_nonce"))
        );
        let seq_neg = with_extra("lock".into(), Value::from("yes"));
        assert_eq!(
            Attestation::from_cbor(&seq_neg),
            Err(ClaimsError::Invalid("lock"))
        );
    }

    #[test]
    fn control_and_bidi_characters_in_any_text_claim_are_refused_naming_it() {
        type Edit = fn(&mut Attestation, String);
        let cases: [(&str, Edit); 11] = [
            ("officer", |a, s| a.officer = s),
            ("apps[1].id", |a, s| a.apps[1].id = s),
            ("apps[0].signer", |a, s| a.apps[0].signer = Some(s)),
            ("apps[1].version", |a, s| a.apps[1].version = s),
            ("groups[0].platform", |a, s| a.groups[0].platform = s),
            ("groups[1].group", |a, s| a.groups[1].group = s),
            ("groups[0].handle", |a, s| a.groups[0].handle = s),
            ("email[1]", |a, s| a.email[1] = s),
            ("os.name", |a, s| a.os.name = s),
            ("os.version", |a, s| a.os.version = s),
            ("os.patch", |a, s| a.os.patch = s),
        ];
        for (claim, edit) in cases {
            for (bad, code) in [
                ("15\u{1b}[2J\u{1b}[H\ncompliant", 0x1b),
                ("x@\u{202E}ni.vog", 0x202e),
                ("a\u{2066}b", 0x2066),
            ] {
                let mut a = sample();
                edit(&mut a, bad.to_string());
                let err = Attestation::from_cbor(&a.to_cbor());
                assert!(
                    matches!(&err, Err(ClaimsError::UnsafeText { claim: c, code: k, .. })
                        if c == claim && *k == code),
                    "{claim}: {err:?}"
                );
                // The stored-claims decoder reads it (the server shows it escaped).
                assert_eq!(Attestation::from_stored_cbor(&a.to_cbor()), Ok(a.clone()));
            }
        }
        let msg = ClaimsError::UnsafeText {
            claim: "os.version".into(),
            index: 2,
            code: 0x1b,
        }
        .to_string();
        assert!(
            msg.contains("`os.version`") && msg.contains("U+001B"),
            "{msg}"
        );
        // Non-ASCII text that is not a control or formatting character is fine.
        let mut a = sample();
        a.os.version = "१५ (ગુજરાતી)".into();
        assert_eq!(Attestation::from_cbor(&a.to_cbor()), Ok(a));
    }

    /// An Android enrollment request for `device` with `evidence` (other fields fixed).
    fn android_enroll_request(device: DeviceInfo, evidence: Option<Evidence>) -> EnrollRequest {
        EnrollRequest {
            v: 1,
            token_hash: enroll_token_hash("abc").to_vec(),
            nonce: vec![1; 32],
            key: vec![0xa1, 0x01, 0x02],
            platform: Platform::Android,
            device,
            evidence,
        }
    }

    #[test]
    fn enroll_requests_refuse_control_characters_in_the_device_description() {
        for (claim, device) in [
            (
                "device.model",
                DeviceInfo {
                    model: "Pixel\u{1b}[2J".into(),
                    ..DeviceInfo::default()
                },
            ),
            (
                "device.os",
                DeviceInfo {
                    os: "and\u{202E}roid".into(),
                    ..DeviceInfo::default()
                },
            ),
            (
                "device.os_version",
                DeviceInfo {
                    os_version: "15\n".into(),
                    ..DeviceInfo::default()
                },
            ),
        ] {
            let req = android_enroll_request(device, None);
            let err = EnrollRequest::from_cbor(&encode(&req));
            assert!(
                matches!(&err, Err(ClaimsError::UnsafeText { claim: c, .. }) if c == claim),
                "{claim}: {err:?}"
            );
        }
    }

    #[test]
    fn truncated_trailing_and_oversized_input_is_rejected() {
        let bytes = sample().to_cbor();
        for cut in 0..bytes.len() {
            assert!(
                Attestation::from_cbor(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Attestation::from_cbor(&trailing),
            Err(ClaimsError::TrailingBytes(1))
        );
        let big = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            Attestation::from_cbor(&big),
            Err(ClaimsError::TooLarge(MAX_MESSAGE_BYTES + 1))
        );
        assert_eq!(Attestation::from_cbor(&[0x01]), Err(ClaimsError::NotAMap));
    }

    #[test]
    fn serde_messages_round_trip() {
        let challenge = Challenge {
            nonce: vec![9; 32],
            expires: 1_790_000_600,
        };
        assert_eq!(decode::<Challenge>(&encode(&challenge)), Ok(challenge));
        let req = EnrollRequest {
            v: 1,
            token_hash: enroll_token_hash("abc").to_vec(),
            nonce: vec![1; 32],
            key: vec![0xa1, 0x01, 0x02],
            platform: Platform::Android,
            device: DeviceInfo {
                model: "Pixel 8".into(),
                os: "android".into(),
                os_version: "15".into(),
            },
            evidence: Some(Evidence::AndroidKeyAttestation {
                chain: vec![vec![0x30, 0x00], vec![0x30, 0x01]],
            }),
        };
        assert_eq!(decode::<EnrollRequest>(&encode(&req)), Ok(req.clone()));
        let apple = EnrollRequest {
            evidence: Some(Evidence::AppleAppAttest {
                attestation: vec![1],
                key_id: vec![2],
                client_data: vec![3],
            }),
            ..req
        };
        assert_eq!(decode::<EnrollRequest>(&encode(&apple)), Ok(apple));
        let result = AttestResult {
            answer_keys: Vec::new(),
            device_id: Uuid::new_v4(),
            seq: 3,
            status: Verdict::Warning,
            failures: vec![Failure {
                rule: crate::policy::Rule::R5,
                detail: "screen lock not set".into(),
            }],
            log_index: 17,
            next_nonce: vec![4; 32],
            reattest: true,
            next_pin: None,
            iat: 5,
        };
        assert_eq!(decode::<AttestResult>(&encode(&result)), Ok(result));
        let err = ErrorBody {
            error: "nonce_reused".into(),
            message: "x".into(),
        };
        assert_eq!(decode::<ErrorBody>(&encode(&err)), Ok(err));
    }

    #[test]
    fn serde_messages_reject_garbage_and_missing_fields() {
        assert!(matches!(
            decode::<Challenge>(&encode(&ErrorBody {
                error: "a".into(),
                message: "b".into()
            })),
            Err(ClaimsError::Cbor(_))
        ));
        let mut bytes = encode(&Challenge {
            nonce: vec![1; 32],
            expires: 1,
        });
        bytes.push(0xff);
        assert_eq!(
            decode::<Challenge>(&bytes),
            Err(ClaimsError::TrailingBytes(1))
        );
        assert!(decode::<Challenge>(&[0x9f, 0x9f, 0x9f]).is_err());
    }

    #[test]
    fn attestation_is_small() {
        let len = sample().to_cbor().len();
        assert!(len < 1024, "claims are {len} bytes");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Attestation::from_cbor(&bytes);
            let _ = decode::<EnrollRequest>(&bytes);
            let _ = EnrollRequest::from_cbor(&bytes);
            let _ = decode::<AttestResult>(&bytes);
            let _ = decode::<Receipt>(&bytes);
        }

        #[test]
        fn mutated_attestations_never_panic(pos in 0usize..600, byte in any::<u8>()) {
            let mut bytes = sample().to_cbor();
            let i = pos % bytes.len();
            bytes[i] = byte;
            let _ = Attestation::from_cbor(&bytes);
        }
    }
}
