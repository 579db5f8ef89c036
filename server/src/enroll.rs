//! The enrollment decision, in the same two phases as [`crate::attest`].
//!
//! Why apart from the HTTP handler: like attestation, enrolling a key is a security
//! decision (proof of possession, hardware evidence, a one-time token, the officer and
//! the department's policy) that should read as one piece, be testable without HTTP and
//! keep its error codes in one typed place ([`EnrollError`], each variant one
//! [`RejectCode`]).
//!
//! 1. [`verify`] needs no store: parse, version, the key, the request's signature by the
//!    key it enrolls, the nonce's length, and the platform evidence (hardware assurance
//!    only for evidence that verifies, is bound to this enrollment's nonce and certifies
//!    this very key; anything else is software).
//! 2. [`decide`] runs inside the caller's transaction: the nonce and the one-time token
//!    (decided by the store's conditional writes), the officer and the policy, then the
//!    device row, the log entry and the next nonce. A refusal rolls everything back.
//!
//! The token checks alone ([`token_for`]) also answer the enrollment preview
//! ([`preview`]): the app shows the officer whom a QR code enrolls before enrolling, with
//! the same refusals an enrollment would meet, and nothing consumed.

use pramaan_core::P256PublicKey;
use pramaan_core::api::RejectCode;
use pramaan_core::claims::{self, Assurance, EnrollPreview, EnrollRequest, NONCE_LEN};
use pramaan_core::cose::Sign1;
use pramaan_core::evidence::Roots;
use pramaan_core::policy::Policy;
use uuid::Uuid;

use crate::attest::{self, AttestError, Context};
use crate::auth::hash_secret;
use crate::store::{DeviceRow, EnrollTokenRow, Freshness, LogEntry, StoreError, Tx, key_hash};
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::model::Officer;
use subtle::ConstantTimeEq as _;

/// Why an enrollment was refused; each variant has one [`RejectCode`].
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The body is not a COSE_Sign1.
    #[error("not a COSE_Sign1: {0}")]
    NotCose(String),
    /// The payload is not a valid enrollment request.
    #[error("enrollment request: {0}")]
    BadRequest(String),
    /// A protocol version this server does not know.
    #[error("enrollment version {0} (this server speaks 2, and 1 for a stated period)")]
    UnsupportedVersion(u32),
    /// The previous protocol (v1), past the server's `previous_protocol_until`.
    #[error(transparent)]
    ProtocolOutdated(#[from] crate::attest::ProtocolOutdated),
    /// The COSE_Key does not hold a P-256 public key.
    #[error("device key: {0}")]
    BadKey(String),
    /// The request is not signed by the key it enrolls (no proof of possession).
    #[error("enrollment signature: {0}")]
    BadSignature(String),
    /// The nonce is not 32 bytes.
    #[error("nonce is not 32 bytes")]
    BadNonce,
    /// No enrollment token in the `Authorization: Bearer` header.
    #[error("the enrollment token must be sent in the Authorization: Bearer header")]
    NoToken,
    /// The header's token is not the one whose hash the signed request carries.
    #[error("the enrollment token does not match the token hash in the signed request")]
    TokenMismatch,
    /// The key is enrolled already (for this or another officer).
    #[error("this device key is already enrolled as device {device_id}{}", if *.same_officer { " of this officer" } else { " of another officer" })]
    KeyEnrolled {
        /// The device enrolled with the key.
        device_id: Uuid,
        /// Whether it belongs to the token's officer.
        same_officer: bool,
    },
    /// The key belongs to a revoked device.
    #[error(
        "this device key belongs to revoked device {0}; a revoked key cannot enroll again (make a new key)"
    )]
    KeyRevoked(Uuid),
    /// The officer has an active device and the token does not allow another.
    #[error(
        "officer {officer_id} already has active device {device_id}; revoke it first, or ask IT for a token that allows a second device"
    )]
    DeviceLimit {
        /// The officer.
        officer_id: String,
        /// Their active device.
        device_id: Uuid,
    },
    /// An enrollment token this server never issued.
    #[error("unknown enrollment token")]
    UnknownToken,
    /// The enrollment token was used already.
    #[error("the enrollment token was already used")]
    TokenUsed,
    /// The enrollment token expired.
    #[error("the enrollment token has expired")]
    TokenExpired,
    /// IT cancelled the enrollment token.
    #[error("the enrollment token was cancelled by IT; ask IT for a new QR code")]
    TokenCancelled,
    /// The token's officer left the registry.
    #[error("the token's officer is no longer in the registry")]
    UnknownOfficer,
    /// The officer's department has no policy.
    #[error("the officer's department has no policy")]
    NoPolicy,
    /// The nonce checks and the next nonce, shared with attestation (and the store
    /// failures inside them).
    #[error(transparent)]
    Nonce(#[from] AttestError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EnrollError {
    /// The wire code (and so the HTTP status) of this refusal.
    pub fn code(&self) -> RejectCode {
        use EnrollError::*;
        match self {
            NotCose(_) | BadRequest(_) | BadKey(_) | BadNonce | TokenMismatch => {
                RejectCode::Malformed
            }
            NoToken => RejectCode::UnknownToken,
            KeyEnrolled { .. } => RejectCode::KeyEnrolled,
            KeyRevoked(_) => RejectCode::KeyRevoked,
            DeviceLimit { .. } => RejectCode::DeviceLimit,
            UnsupportedVersion(_) => RejectCode::UnsupportedVersion,
            ProtocolOutdated(_) => RejectCode::ProtocolOutdated,
            BadSignature(_) => RejectCode::BadSignature,
            UnknownToken => RejectCode::UnknownToken,
            TokenUsed => RejectCode::TokenUsed,
            TokenExpired => RejectCode::TokenExpired,
            TokenCancelled => RejectCode::TokenCancelled,
            UnknownOfficer => RejectCode::UnknownOfficer,
            NoPolicy => RejectCode::NoPolicy,
            Nonce(e) => e.code(),
            Store(StoreError::Conflict(_)) => RejectCode::Conflict,
            Store(_) => RejectCode::Internal,
        }
    }
}

/// An enrollment request whose signature verified against the key it enrolls, with the
/// assessment of its evidence.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The decoded request.
    pub request: EnrollRequest,
    /// The request (COSE_Sign1) as received (the audit-log leaf carries it).
    pub bytes: Vec<u8>,
    /// SHA-256 of the enrollment token from the header (checked against the request).
    pub token_hash: [u8; 32],
    /// What the platform evidence proved (judged against the policy in [`decide`]).
    pub summary: EvidenceSummary,
    /// The evidence as received (CBOR), kept for later verifiers.
    pub evidence: Option<Vec<u8>>,
}

/// Phase one: everything that needs no store. `token` is the enrollment token from the
/// `Authorization: Bearer` header: the signed request carries only its SHA-256, so the
/// audit log that keeps the request never holds a token.
pub fn verify(
    bytes: &[u8],
    token: Option<&str>,
    now: u64,
    previous_protocol_until: u64,
    roots: &Roots,
) -> Result<Verified, EnrollError> {
    let msg = Sign1::parse(bytes).map_err(|e| EnrollError::NotCose(e.to_string()))?;
    let req = EnrollRequest::from_cbor(msg.unverified_payload())
        .map_err(|e| EnrollError::BadRequest(e.to_string()))?;
    let protocol = req
        .protocol()
        .ok_or(EnrollError::UnsupportedVersion(req.v))?;
    crate::attest::check_protocol(protocol, now, previous_protocol_until)?;
    let key = P256PublicKey::from_cose_key_bytes(&req.key)
        .map_err(|e| EnrollError::BadKey(e.to_string()))?;
    // Proof of possession: the request is signed by the key it enrolls.
    msg.verify_es256(&key, None)
        .map_err(|e| EnrollError::BadSignature(e.to_string()))?;
    if req.nonce.len() != NONCE_LEN {
        return Err(EnrollError::BadNonce);
    }
    let token = token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(EnrollError::NoToken)?;
    let token_hash = claims::enroll_token_hash(token);
    if !bool::from(token_hash[..].ct_eq(&req.token_hash)) {
        return Err(EnrollError::TokenMismatch);
    }
    let evidence = req.evidence.as_ref().map(claims::encode);
    let summary = match &req.evidence {
        Some(ev) => pramaan_core::evidence::summarize(ev, &req.nonce, &key, now, roots),
        None => EvidenceSummary::none(now),
    };
    log::info!(
        "enrollment evidence: {}",
        crate::log_text::untrusted(&pramaan_core::policy::describe_evidence(&summary))
    );
    Ok(Verified {
        request: req,
        bytes: bytes.to_vec(),
        token_hash,
        summary,
        evidence,
    })
}

/// What a one-time enrollment token would enroll: the token, its officer and the
/// department's policy.
#[derive(Debug, Clone)]
pub struct TokenFor {
    /// The token's row.
    pub token: EnrollTokenRow,
    /// The officer it was issued for.
    pub officer: Officer,
    /// The officer's department's policy.
    pub policy: Policy,
}

/// The token checks of an enrollment, read-only: known, not used, not cancelled, not
/// expired at `now`, its officer in the registry (and serving) and the department's
/// policy there. [`decide`] runs them before it writes; [`preview`] runs them alone.
pub fn token_for(
    tx: &mut dyn Tx,
    token_hash: &[u8; 32],
    now: u64,
) -> Result<TokenFor, EnrollError> {
    let token = tx
        .enroll_token(token_hash)?
        .ok_or(EnrollError::UnknownToken)?;
    if token.used {
        return Err(EnrollError::TokenUsed);
    }
    if token.cancelled_at.is_some() {
        return Err(EnrollError::TokenCancelled);
    }
    if now >= token.expires {
        return Err(EnrollError::TokenExpired);
    }
    // Retiring an officer cancels their tokens; a retired officer is refused here too, so
    // no token outlives its officer's service whatever the order of events.
    let officer = tx
        .officer(&token.officer_id)?
        .filter(|o| o.retired_at.is_none())
        .ok_or(EnrollError::UnknownOfficer)?;
    let policy = tx
        .policy(&officer.department)?
        .ok_or(EnrollError::NoPolicy)?;
    Ok(TokenFor {
        token,
        officer,
        policy,
    })
}

/// What `POST /v1/enroll/preview` answers: whom `token` enrolls, checked exactly as an
/// enrollment checks it ([`token_for`]), consuming and writing nothing. `token` is the
/// token's text (surrounding spaces ignored, as the enrollment's header is).
pub fn preview(tx: &mut dyn Tx, token: &str, now: u64) -> Result<EnrollPreview, EnrollError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(EnrollError::NoToken);
    }
    let TokenFor {
        token,
        officer,
        policy,
    } = token_for(tx, &claims::enroll_token_hash(token), now)?;
    Ok(EnrollPreview {
        officer_id: officer.officer_id,
        officer_name: officer.name,
        department: officer.department,
        department_name: policy.name,
        expires_at: token.expires,
    })
}

/// An accepted enrollment: recorded, logged, and what the receipt says.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The new device's id.
    pub device_id: Uuid,
    /// The officer it is enrolled for.
    pub officer_id: String,
    /// The officer's department.
    pub department: String,
    /// The department's policy, for the agent to evaluate locally.
    pub policy: Policy,
    /// The assurance the evidence earns under the department's policy.
    pub assurance: Assurance,
    /// What the evidence proved.
    pub summary: EvidenceSummary,
    /// The evidence rule's unmet requirements (shown to the officer at once).
    pub failures: Vec<pramaan_core::model::Failure>,
    /// The nonce for the device's first attestation.
    pub next_nonce: Vec<u8>,
}

/// Phase two, inside the caller's transaction. An `Err` means roll back.
///
/// After the nonce and the token: the key must never have been enrolled (a revoked key
/// never comes back), the officer may have one active device unless the token allows
/// another, and the evidence is judged against the department's policy (a failing
/// judgement does not refuse the enrollment: the device is recorded and shows as
/// noncompliant with the reasons, so IT sees what was tried).
pub fn decide(tx: &mut dyn Tx, v: &Verified, ctx: &Context) -> Result<Enrolled, EnrollError> {
    let req = &v.request;
    let now = ctx.now;
    attest::take_nonce(tx, &ctx.nonce_key, &req.nonce, now)?;
    let TokenFor {
        token,
        officer,
        policy,
    } = token_for(tx, &v.token_hash, now)?;
    let key_hash = key_hash(&req.key)?;
    if let Some(existing) = tx.device_by_key(&key_hash)? {
        return Err(if existing.revoked {
            EnrollError::KeyRevoked(existing.device_id)
        } else {
            EnrollError::KeyEnrolled {
                device_id: existing.device_id,
                same_officer: existing.officer_id == officer.officer_id,
            }
        });
    }
    if !token.allow_additional
        && let Some(active) = tx
            .devices_of_officer(&officer.officer_id)?
            .into_iter()
            .find(|d| !d.revoked)
    {
        return Err(EnrollError::DeviceLimit {
            officer_id: officer.officer_id.clone(),
            device_id: active.device_id,
        });
    }
    let judgement = pramaan_core::policy::judge_evidence(
        &policy.evidence,
        req.platform,
        &v.summary,
        ctx.eval().status_list,
        now,
    );
    let device_id = Uuid::new_v4();
    tx.insert_device(&DeviceRow {
        device_id,
        officer_id: officer.officer_id.clone(),
        department: officer.department.clone(),
        platform: req.platform,
        model: req.device.model.clone(),
        public_key: req.key.clone(),
        assurance: judgement.assurance,
        evidence: v.evidence.clone(),
        evidence_summary: v.summary.clone(),
        freshness: Freshness::default(),
        assert_counter: v.summary.counter,
        reattest_requested: false,
        revoked: false,
        reason: None,
        last_seq: None,
        enrolled_at: now,
    })?;
    // The decision: one conditional write; `false` is a concurrent enrollment that used
    // the token, or a cancellation, since the read above.
    if !tx.use_enroll_token(&v.token_hash, now)? {
        return Err(
            match tx.enroll_token(&v.token_hash)?.and_then(|t| t.cancelled_at) {
                Some(_) => EnrollError::TokenCancelled,
                None => EnrollError::TokenUsed,
            },
        );
    }
    tx.append_log(&LogEntry::Enrollment {
        at: now,
        department: officer.department.clone(),
        officer_id: officer.officer_id.clone(),
        device_id,
        request: v.bytes.clone(),
        assurance: judgement.assurance,
        evidence: Some(v.summary.clone()),
    })?;
    let (next_nonce, _) = attest::issue_nonce(&ctx.nonce_key, ctx.nonce_ttl_secs, now)?;
    // Enrollment answered a fresh challenge; the nonce sent back anchors offline work.
    tx.record_fresh(&device_id, now, &hash_secret(&next_nonce))?;
    Ok(Enrolled {
        device_id,
        officer_id: officer.officer_id,
        department: officer.department,
        policy,
        assurance: judgement.assurance,
        summary: v.summary.clone(),
        failures: judgement.failures,
        next_nonce,
    })
}
