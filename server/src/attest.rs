//! The attestation decision: one implementation, used by `POST /v1/attest` and by
//! `pramaan bench`'s crypto-only ceiling.
//!
//! Why a module of its own: the decision (is this token genuine, is it fresh, does the
//! device comply) is the server's security core, and it used to live inside the HTTP
//! handler, with the benchmark keeping a copy of its cryptographic half. A copy drifts;
//! a benchmark of a copy measures something the server no longer runs. Here the decision
//! knows nothing of HTTP (bytes in, typed outcome or typed [`AttestError`] out; the API
//! layer turns the error into its status and body), and the benchmark calls the very
//! functions the handler calls.
//!
//! Why two phases:
//!
//! 1. [`verify`] (or [`verify_device`]) needs no write access: parse the COSE_Sign1,
//!    find the device key by `kid` (through a read-only snapshot: the key of an enrolled
//!    device never changes), verify ES256, decode the claims and check what needs no
//!    state (the `ueid` is the `kid`'s device, `seq` is storable), and fresh evidence the
//!    claims carry against the device's enrollment evidence. It runs outside the
//!    writer's lock, so slow ECDSA and certificate checks do not serialize the server.
//!    [`verify`] also evaluates rules R1..R5 on its snapshot (the department's policy and
//!    rosters come parsed from the store's cache, [`crate::store::RulesCache`]), keeping
//!    what the verdict depended on ([`Prejudged`]).
//! 2. [`decide`] runs inside the caller's transaction (`&mut dyn Tx`): revoked, officer,
//!    `seq` (a conditional write), `iat`, nonce or offline window (a conditional write),
//!    policy R1..R5 with the department's rosters ([`evaluate`]; phase one's verdict when
//!    the department's rules generation, the officer's row and the device's state read
//!    here are those it used, else evaluated again here), then the writes: the
//!    audit-log leaf, the attestation row and the next nonce. Every check precedes or
//!    shares the transaction with every write, so a rejection rolls back and changes
//!    nothing; the caller answers only after its commit.
//!
//! The nonce's MAC and expiry are checked without the store ([`crate::nonce`]); reads of
//! `last_seq` only choose the precise error; acceptance is the store's conditional
//! writes ([`Tx::use_nonce`], [`Tx::advance_seq`]), which
//! succeed for exactly one of two racing requests whatever the backend's isolation.
//!
//! The order of the checks fixes which error a bad request gets and is part of the
//! protocol: malformed (400) -> unknown key (401) -> bad signature (401) -> claims (400)
//! -> ueid (400) -> fresh evidence without a nonce (400) -> revoked (403) -> officer
//! (400) -> seq (409) -> iat (400) -> officer/policy gone (404/409) -> the policy's
//! per-device limits (429) -> nonce (409/410) or offline chain, window and run (409) ->
//! App Attest counter (409) -> verdict.
//!
//! The per-device limits ([`check_limits`], the policy's `[limits]`) bound what one
//! device adds to the audit log: at most `attestations_per_day` accepted in any 24 hours,
//! of which at most `offline_per_day` offline. They are counted from the store inside the
//! writer's transaction, so concurrent floods cannot overshoot; a refusal (429
//! `quota_exceeded`, with when a slot frees) is rolled back like every other and logs
//! nothing.

use pramaan_core::P256PublicKey;
use pramaan_core::api::RejectCode;
use pramaan_core::claims::{self, AttestResult, Attestation, Failure, Protocol, Verdict};
use pramaan_core::cose::{self, Sign1};
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::keys::ServerKey;
use pramaan_core::policy::{
    DeviceState, EvalContext, Officer, Policy, Roster, evaluate_attestation_judged,
};
use uuid::Uuid;

use crate::auth::{AuthError, hash_secret};
use crate::nonce::{NonceError, NonceKey};
use crate::store::{
    AttestationRow, DepartmentRules, DeviceRow, LogEntry, Store, StoreError, Tx, read_transaction,
};
use pramaan_core::model::DeviceLimits;

/// Allowed clock skew of a device's `iat` ahead of the server, seconds (core's, which the
/// auditor's replay uses too).
pub use pramaan_core::claims::MAX_FUTURE_SKEW;

/// Largest `seq` a device may send: the store keeps signed 64-bit integers, and a seq
/// that could not be stored is refused at the edge rather than clamped.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// Why a device request was refused. Each variant has one [`RejectCode`] (and so one
/// HTTP status) and one message; the HTTP layer builds its error body from them.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The body is not a COSE_Sign1.
    #[error("not a COSE_Sign1: {0}")]
    NotCose(String),
    /// The `kid` is not a device id, or no such device is enrolled.
    #[error("no enrolled device has this key id")]
    UnknownDevice,
    /// The stored key of the device does not parse (a server fault).
    #[error("stored device key: {0}")]
    StoredKey(String),
    /// The ES256 signature does not verify under the device's key.
    #[error("attestation signature: {0}")]
    BadSignature(String),
    /// The payload is not a valid claims set.
    #[error("attestation claims: {0}")]
    BadClaims(String),
    /// The claims' ueid names another device than the key id.
    #[error("the claims' ueid is not the key id's device")]
    UeidMismatch,
    /// `seq` does not fit the store's integers (at or above 2^63).
    #[error("seq {0} is beyond the largest this server records ({MAX_SEQ})")]
    SeqTooLarge(u64),
    /// The device was revoked; holds IT's reason, which the device is told (it is its own).
    #[error("{}", pramaan_core::api::revoked_message(.0.as_deref()))]
    Revoked(Option<String>),
    /// The claims' officer is not the device's.
    #[error("the claims name another officer than the one the device is enrolled for")]
    OfficerMismatch,
    /// `last` is the last accepted seq, if any.
    #[error("seq {seq} is not above the last accepted {}", match last { Some(l) => l.to_string(), None => "one".to_string() })]
    SeqNotIncreasing {
        /// The refused seq.
        seq: u64,
        /// The device's last accepted seq, if any.
        last: Option<u64>,
    },
    /// `iat` is ahead of the server's clock by more than the allowed skew.
    #[error("iat is ahead of the server's clock")]
    IatInFuture,
    /// A nonce this server did not issue (or pruned long ago).
    #[error("the nonce was not issued by this server (or long expired)")]
    NonceUnknown,
    /// A nonce already used.
    #[error("the nonce was already used")]
    NonceReused,
    /// A nonce past its expiry.
    #[error("the nonce has expired; get a new challenge")]
    NonceExpired,
    /// An offline attestation older than the offline window (seconds).
    #[error("offline attestation older than the {0}-second window")]
    OfflineTooOld(u64),
    /// An offline attestation whose anchor is not the last nonce sent to the device.
    #[error("offline attestation not chained to the last server nonce: {0}")]
    OfflineNotChained(&'static str),
    /// More offline attestations since the last fresh challenge than the policy accepts.
    #[error(
        "{0} offline check-ins since the last fresh server challenge already; the policy accepts no more until the phone answers a fresh challenge online"
    )]
    OfflineRunExceeded(u32),
    /// The device reached one of its policy's `[limits]`; nothing was recorded.
    #[error(
        "this device reached its department's limit of {limit} {what} accepted in 24 hours; retry in {retry_after} seconds"
    )]
    QuotaExceeded {
        /// The device refused.
        device_id: Uuid,
        /// Which limit: `attestations` or `offline deliveries`.
        what: &'static str,
        /// The limit in force.
        limit: u32,
        /// Seconds until the oldest counted attestation leaves the 24-hour window.
        retry_after: u64,
    },
    /// Fresh evidence came with an offline attestation: it must bind a server nonce.
    #[error("fresh evidence must come with a server nonce (an online check-in)")]
    EvidenceOffline,
    /// An App Attest assertion whose counter does not exceed the last one accepted.
    #[error("App Attest assertion counter {0} does not exceed the last one accepted")]
    CounterNotIncreasing(u32),
    /// The device's officer left the registry.
    #[error("the device's officer is no longer in the registry")]
    UnknownOfficer,
    /// The device's department has no policy.
    #[error("the device's department has no policy")]
    NoPolicy,
    /// The system random number generator failed (a server fault).
    #[error("random number generator failed")]
    Rng,
    /// The store failed, or a concurrent request won a uniqueness race (`Conflict`).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The previous protocol (v1), past the server's `previous_protocol_until`.
    #[error(transparent)]
    ProtocolOutdated(#[from] ProtocolOutdated),
}

/// A message of the previous device protocol after the date until which the server
/// accepted it (config `previous_protocol_until`): the officer must update the app.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "{}: it speaks device protocol {protocol}, accepted until {}; {}",
    pramaan_core::api::PROTOCOL_OUTDATED_MESSAGE,
    pramaan_core::times::rfc3339(*until),
    pramaan_core::policy::remedy::UPDATE_APP
)]
pub struct ProtocolOutdated {
    /// The version the message speaks.
    pub protocol: Protocol,
    /// The first second it is no longer accepted.
    pub until: u64,
}

/// Accepts `protocol` at `now`: the current one always, the previous one (v1) before
/// `previous_until` (Unix seconds; the first second it is refused).
pub fn check_protocol(
    protocol: Protocol,
    now: u64,
    previous_until: u64,
) -> Result<(), ProtocolOutdated> {
    if protocol < Protocol::CURRENT && now >= previous_until {
        return Err(ProtocolOutdated {
            protocol,
            until: previous_until,
        });
    }
    Ok(())
}

impl AttestError {
    /// The wire code (and so the HTTP status) of this refusal.
    pub fn code(&self) -> RejectCode {
        use AttestError::*;
        match self {
            NotCose(_) | BadClaims(_) | SeqTooLarge(_) => RejectCode::Malformed,
            UnknownDevice => RejectCode::UnknownDevice,
            StoredKey(_) | Rng => RejectCode::Internal,
            BadSignature(_) => RejectCode::BadSignature,
            UeidMismatch => RejectCode::UeidMismatch,
            Revoked(_) => RejectCode::Revoked,
            OfficerMismatch => RejectCode::OfficerMismatch,
            SeqNotIncreasing { .. } => RejectCode::SeqNotIncreasing,
            IatInFuture => RejectCode::IatInFuture,
            NonceUnknown => RejectCode::NonceUnknown,
            NonceReused => RejectCode::NonceReused,
            NonceExpired => RejectCode::NonceExpired,
            OfflineTooOld(_) => RejectCode::OfflineTooOld,
            OfflineNotChained(_) => RejectCode::OfflineNotChained,
            OfflineRunExceeded(_) => RejectCode::OfflineRunExceeded,
            EvidenceOffline => RejectCode::Malformed,
            QuotaExceeded { .. } => RejectCode::QuotaExceeded,
            CounterNotIncreasing(_) => RejectCode::CounterNotIncreasing,
            UnknownOfficer => RejectCode::UnknownOfficer,
            NoPolicy => RejectCode::NoPolicy,
            Store(StoreError::Conflict(_)) => RejectCode::Conflict,
            Store(_) => RejectCode::Internal,
            ProtocolOutdated(_) => RejectCode::ProtocolOutdated,
        }
    }
}

impl From<NonceError> for AttestError {
    fn from(e: NonceError) -> Self {
        match e {
            NonceError::Unknown => AttestError::NonceUnknown,
            NonceError::Expired => AttestError::NonceExpired,
            // Issuing and checking touch no file: the random generator is all that fails.
            NonceError::Rng | NonceError::Io { .. } | NonceError::BadKeyFile { .. } => {
                AttestError::Rng
            }
        }
    }
}

impl From<AuthError> for AttestError {
    fn from(_: AuthError) -> Self {
        // The only failure of `random_bytes`.
        AttestError::Rng
    }
}

/// An attestation whose signature verified against its enrolled device's key, with its
/// decoded claims. Only [`verify`] and [`verify_device`] make one.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signing device (the token's kid).
    pub device_id: Uuid,
    /// The decoded claims.
    pub claims: Attestation,
    /// The signed claims (CBOR) exactly as the device sent them (stored with the row).
    pub payload: Vec<u8>,
    /// The whole token (COSE_Sign1) as received (the audit-log leaf carries it).
    pub token: Vec<u8>,
    /// The fresh evidence the claims carry (re-attestation), checked against what the
    /// device's enrollment proved; `None` when they carry none.
    pub renewal: Option<EvidenceSummary>,
    /// The rules already evaluated on phase one's snapshot ([`verify`] only), used by
    /// [`decide`] if nothing they depended on changed since.
    pub prejudged: Option<Prejudged>,
}

/// Rules R1..R5 evaluated in phase one, outside the writer, with everything the verdict
/// depended on: [`decide`] uses it only when its own transaction reads the same (the
/// department's rules generation, the officer's registry row, the device's state, the
/// same clock and status list), and evaluates again otherwise. So the single writer does
/// not pay for rule evaluation in the common case, and a policy, roster or registry
/// change that commits between the two phases is still seen.
#[derive(Debug, Clone)]
pub struct Prejudged {
    generation: u64,
    department: String,
    officer: Officer,
    device: DeviceRow,
    now: u64,
    /// The status list in force then (compared by identity).
    status_list: Option<std::sync::Arc<crate::status_list::LoadedStatusList>>,
    evaluation: Evaluation,
}

impl Prejudged {
    /// Whether `decide`'s transaction reads what this evaluation depended on.
    fn still_holds(
        &self,
        rules: &DepartmentRules,
        officer: &Officer,
        device: &DeviceRow,
        ctx: &Context,
    ) -> bool {
        let same_list = match (&self.status_list, &ctx.status_list) {
            (None, None) => true,
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        };
        self.generation == rules.generation
            && self.department == device.department
            && self.now == ctx.now
            && same_list
            && self.officer == *officer
            && same_state(&self.device, device)
    }
}

/// The device's fields that [`evaluate`] reads ([`device_state`]) are equal.
fn same_state(a: &DeviceRow, b: &DeviceRow) -> bool {
    a.device_id == b.device_id
        && a.platform == b.platform
        && a.model == b.model
        && a.revoked == b.revoked
        && a.freshness.last_fresh_at == b.freshness.last_fresh_at
        && a.evidence_summary == b.evidence_summary
}

fn parse(token: &[u8]) -> Result<(Sign1, Uuid), AttestError> {
    let msg = Sign1::parse(token).map_err(|e| AttestError::NotCose(e.to_string()))?;
    let device_id = Uuid::from_slice(msg.kid()).map_err(|_| AttestError::UnknownDevice)?;
    Ok((msg, device_id))
}

/// Phase one: verifies `token` against the key its `kid` names, read from `store` in a
/// read-only snapshot (which does not wait for writers), and evaluates rules R1..R5 on
/// that snapshot ([`Verified::prejudged`]; the officer and the department's parsed rules
/// are read with the key, in one snapshot: two small reads, the rules from the store's
/// cache, cheaper than a second snapshot after the signature check). Call it outside any
/// transaction of `store`: a store without a separate reader serves the read with a
/// transaction.
pub fn verify(store: &dyn Store, token: &[u8], ctx: &Context) -> Result<Verified, AttestError> {
    let (msg, device_id) = parse(token)?;
    // One snapshot for the key and for what the rules need (officer, parsed policy and
    // rosters, from the store's cache): the evaluation below runs outside the writer.
    let (device, basis) = read_transaction(store, |tx| {
        let Some(device) = tx.device(&device_id)? else {
            return Err(AttestError::UnknownDevice);
        };
        let officer = tx.officer(&device.officer_id)?;
        let rules = tx.department_rules(&device.department)?;
        Ok((device, officer.zip(rules)))
    })?;
    let mut v = verified(&msg, &device, token, ctx)?;
    if let Some((officer, rules)) = basis
        && v.renewal.is_none()
        && v.claims.officer == device.officer_id
    {
        let evaluation = evaluate(
            &rules.policy,
            &officer,
            &device,
            &v.claims,
            &rules.rosters,
            v.claims.nonce.is_some(),
            &ctx.eval(),
        );
        v.prejudged = Some(Prejudged {
            generation: rules.generation,
            department: device.department.clone(),
            officer,
            device,
            now: ctx.now,
            status_list: ctx.status_list.clone(),
            evaluation,
        });
    }
    Ok(v)
}

/// Phase one with the device's row at hand (the benchmark's crypto-only ceiling): the
/// checks of [`verify`]. Fresh evidence the claims carry is checked here too, against the
/// row's enrollment evidence (certificate chains and signatures: work kept out of the
/// writer's transaction); its App Attest counter is decided in [`decide`].
pub fn verify_device(
    device: &DeviceRow,
    token: &[u8],
    ctx: &Context,
) -> Result<Verified, AttestError> {
    let (msg, device_id) = parse(token)?;
    if device_id != device.device_id {
        return Err(AttestError::UnknownDevice);
    }
    verified(&msg, device, token, ctx)
}

fn verified(
    msg: &Sign1,
    device: &DeviceRow,
    token: &[u8],
    ctx: &Context,
) -> Result<Verified, AttestError> {
    let device_id = device.device_id;
    let key = P256PublicKey::from_cose_key_bytes(&device.public_key)
        .map_err(|e| AttestError::StoredKey(e.to_string()))?;
    let payload = msg
        .verify_es256(&key, Some(device_id.as_bytes()))
        .map_err(|e| AttestError::BadSignature(e.to_string()))?;
    let claims =
        Attestation::from_cbor(payload).map_err(|e| AttestError::BadClaims(e.to_string()))?;
    check_protocol(claims.protocol, ctx.now, ctx.previous_protocol_until)?;
    if claims.device_id != device_id {
        return Err(AttestError::UeidMismatch);
    }
    if claims.seq > MAX_SEQ {
        return Err(AttestError::SeqTooLarge(claims.seq));
    }
    let renewal = match (&claims.evidence, &claims.nonce) {
        (None, _) => None,
        (Some(_), None) => return Err(AttestError::EvidenceOffline),
        // The counter's order is the store's decision in `decide`, so it starts at 0.
        (Some(evidence), Some(nonce)) => Some(pramaan_core::evidence::reattest(
            evidence,
            nonce,
            &device.evidence_summary,
            0,
            ctx.now,
            &ctx.roots,
        )),
    };
    Ok(Verified {
        device_id,
        claims,
        payload: payload.to_vec(),
        token: token.to_vec(),
        renewal,
        prejudged: None,
    })
}

/// The verdict on one attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Affirming, warning or contraindicated.
    pub verdict: Verdict,
    /// The failing rules with their detail.
    pub failures: Vec<Failure>,
    /// The device's evidence is old enough that fresh evidence should be sent.
    pub reattest: bool,
}

/// Rules R1..R5 and the evidence rule on one attestation, for `device` (core's
/// evaluation; nothing here decides compliance itself).
pub fn evaluate(
    policy: &Policy,
    officer: &Officer,
    device: &DeviceRow,
    claims: &Attestation,
    rosters: &[Roster],
    fresh_nonce: bool,
    ctx: &EvalContext<'_>,
) -> Evaluation {
    let state = device_state(device, None);
    let judgement = state.judge(policy, ctx);
    let (verdict, failures, _evidence) = evaluate_attestation_judged(
        policy,
        officer,
        &state,
        claims,
        rosters,
        fresh_nonce,
        &judgement,
    );
    Evaluation {
        verdict,
        failures,
        reattest: judgement.reattest_due,
    }
}

/// Core's view of a stored device.
pub fn device_state<'a>(
    device: &'a DeviceRow,
    latest: Option<pramaan_core::policy::Accepted<'a>>,
) -> DeviceState<'a> {
    DeviceState {
        device_id: device.device_id,
        platform: device.platform,
        model: device.model.clone(),
        evidence: &device.evidence_summary,
        revoked: device.revoked,
        latest,
        last_fresh_at: device.freshness.last_fresh_at,
    }
}

/// The server's settings and clock for one decision.
#[derive(Debug, Clone)]
pub struct Context {
    /// Seconds since the Unix epoch, as the server sees them.
    pub now: u64,
    /// How long after the last nonce sent to a device its offline attestations are
    /// accepted (config `offline_window_secs`).
    pub offline_window_secs: u64,
    /// Lifetime of the next nonce (config `nonce_ttl_secs`).
    pub nonce_ttl_secs: u64,
    /// The key that stamps and checks nonces (`DIR/nonce.key`).
    pub nonce_key: std::sync::Arc<NonceKey>,
    /// Google's revocation status list in force, if one is installed.
    pub status_list: Option<std::sync::Arc<crate::status_list::LoadedStatusList>>,
    /// The roots fresh evidence must chain to.
    pub roots: std::sync::Arc<pramaan_core::evidence::Roots>,
    /// The first second the previous protocol (v1) is refused (config
    /// `previous_protocol_until`).
    pub previous_protocol_until: u64,
}

impl Context {
    /// What core's rules take: the time and the status list.
    pub fn eval(&self) -> EvalContext<'_> {
        EvalContext {
            now: self.now,
            status_list: self.status_list.as_ref().map(|l| l.view()),
        }
    }
}

/// An accepted attestation: recorded, logged, and what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The device that attested.
    pub device_id: Uuid,
    /// Its sequence number.
    pub seq: u64,
    /// EAR status of the attestation.
    pub verdict: Verdict,
    /// The rules that failed, with their detail.
    pub failures: Vec<Failure>,
    /// Index of its audit-log leaf.
    pub log_index: u64,
    /// The nonce for the device's next attestation.
    pub next_nonce: Vec<u8>,
    /// When the server decided (the answer's `iat`).
    pub at: u64,
    /// Ask the device for fresh platform evidence.
    pub reattest: bool,
    /// Bytes of the audit-log leaf appended for it.
    pub log_bytes: u64,
    /// The protocol the attestation spoke (which answer key a v1 device verifies with).
    pub protocol: Protocol,
    /// When the device enrolled (likewise).
    pub enrolled_at: u64,
}

impl Outcome {
    /// The answer's claims.
    pub fn result(&self) -> AttestResult {
        AttestResult {
            device_id: self.device_id,
            seq: self.seq,
            status: self.verdict,
            failures: self.failures.clone(),
            log_index: self.log_index,
            next_nonce: self.next_nonce.clone(),
            iat: self.at,
            reattest: self.reattest,
            next_pin: None,
            answer_keys: Vec::new(),
        }
    }

    /// The answer signed by the server (COSE_Sign1, EdDSA), telling the device the next
    /// TLS pin while a key change is staged, with the answer key chain (endorsements,
    /// oldest first) it carries.
    pub fn signed(
        &self,
        key: &ServerKey,
        kid: &[u8],
        next_pin: Option<claims::NextPin>,
        answer_keys: &[Vec<u8>],
    ) -> Vec<u8> {
        let mut result = self.result();
        result.next_pin = next_pin;
        result.answer_keys = answer_keys.to_vec();
        cose::sign_eddsa(key, kid, claims::encode(&result))
    }
}

/// Issues a fresh nonce (stateless: nothing is stored, [`crate::nonce`]); returns the
/// nonce and its expiry.
pub fn issue_nonce(key: &NonceKey, ttl: u64, now: u64) -> Result<(Vec<u8>, u64), AttestError> {
    key.issue(ttl, now).map_err(AttestError::from)
}

/// Checks that `nonce` is one of this server's (its MAC verifies), live and unused, and
/// records its use (in `tx`). Once a minute this also forgets the uses of nonces that
/// have expired (their replay is refused as expired by the check alone).
pub fn take_nonce(
    tx: &mut dyn Tx,
    key: &NonceKey,
    nonce: &[u8],
    now: u64,
) -> Result<(), AttestError> {
    let expires = key.open(nonce, now)?;
    if key.prune_due(now) {
        tx.prune_nonces(now)?;
    }
    // The decision: one conditional write (an insert that does nothing on a duplicate).
    // `false` is a use recorded before, possibly by a concurrent transaction.
    if !tx.use_nonce(&hash_secret(nonce), expires)? {
        return Err(AttestError::NonceReused);
    }
    Ok(())
}

/// Phase two, inside the caller's transaction: state checks, policy, writes and the log
/// append. An `Err` means the caller must roll back (the store's transaction helpers do).
pub fn decide(tx: &mut dyn Tx, v: &Verified, ctx: &Context) -> Result<Outcome, AttestError> {
    let device_id = v.device_id;
    let claims = &v.claims;
    let now = ctx.now;
    let mut device = tx.device(&device_id)?.ok_or(AttestError::UnknownDevice)?;
    if device.revoked {
        return Err(AttestError::Revoked(device.reason.clone()));
    }
    if claims.officer != device.officer_id {
        return Err(AttestError::OfficerMismatch);
    }
    if !tx.advance_seq(&device_id, claims.seq)? {
        return Err(AttestError::SeqNotIncreasing {
            seq: claims.seq,
            last: device.last_seq,
        });
    }
    if claims.iat > now.saturating_add(MAX_FUTURE_SKEW) {
        return Err(AttestError::IatInFuture);
    }
    let officer = tx
        .officer(&device.officer_id)?
        .ok_or(AttestError::UnknownOfficer)?;
    // Parsed once per change of the department's policy or rosters, not per attestation
    // (the store's cache, checked against the generation this transaction reads).
    let rules = tx
        .department_rules(&device.department)?
        .ok_or(AttestError::NoPolicy)?;
    let policy = &rules.policy;
    check_limits(tx, &device_id, &policy.limits, claims.nonce.is_none(), now)?;
    let fresh = match &claims.nonce {
        Some(nonce) => {
            take_nonce(tx, &ctx.nonce_key, nonce, now)?;
            true
        }
        None => {
            take_offline_slot(tx, &device, claims, ctx, policy.evidence.max_offline_run)?;
            false
        }
    };
    if let Some(fresh) = &v.renewal {
        renew_evidence(tx, &mut device, policy, fresh, ctx)?;
    }
    // Phase one's evaluation if nothing it read has changed (the common case), else now.
    // `fresh` is the claims' nonce's presence in both: a nonce that fails is refused above.
    let Evaluation {
        verdict,
        failures,
        reattest,
    } = match &v.prejudged {
        Some(p) if v.renewal.is_none() && p.still_holds(&rules, &officer, &device, ctx) => {
            p.evaluation.clone()
        }
        _ => evaluate(
            policy,
            &officer,
            &device,
            claims,
            &rules.rosters,
            fresh,
            &ctx.eval(),
        ),
    };
    let entry = LogEntry::Attestation {
        at: now,
        department: device.department.clone(),
        officer_id: device.officer_id.clone(),
        device_id,
        token: v.token.clone(),
        verdict,
        failures: failures.clone(),
        fresh_nonce: Some(fresh),
        evidence: v.renewal.as_ref().map(|_| device.evidence_summary.clone()),
    };
    // Encoded once: the leaf appended is the one measured for the log-growth metrics.
    let leaf = entry.to_leaf();
    let log_bytes = leaf.len() as u64;
    let log_index =
        pramaan_tlog::append_leaf(tx.log(), &leaf).map_err(crate::store::StoreError::from_log)?;
    tx.insert_attestation(&AttestationRow {
        device_id,
        seq: claims.seq,
        iat: claims.iat,
        received_at: now,
        fresh_nonce: fresh,
        claims: v.payload.clone(),
        verdict,
        failures: failures.clone(),
        log_index,
    })?;
    let (next_nonce, _) = issue_nonce(&ctx.nonce_key, ctx.nonce_ttl_secs, now)?;
    if fresh {
        // A fresh challenge answered: the nonce sent back is the device's new anchor. An
        // offline delivery does not move it (the rest of the outbox names the old one).
        tx.record_fresh(&device_id, now, &hash_secret(&next_nonce))?;
    }
    Ok(Outcome {
        device_id,
        seq: claims.seq,
        verdict,
        failures,
        log_index,
        next_nonce,
        at: now,
        reattest: fresh && (reattest || device.reattest_requested),
        log_bytes,
        protocol: claims.protocol,
        enrolled_at: device.enrolled_at,
    })
}

/// The policy's per-device limits: refuses the attestation if the device already has
/// `attestations_per_day` accepted in the last 24 hours (its that-many-th latest was
/// received within them), or, for an offline one, `offline_per_day` offline ones. The
/// refusal says when the oldest counted attestation leaves the window, which frees a
/// slot. Store reads are bounded by the limits, not by the device's history.
pub fn check_limits(
    tx: &mut dyn Tx,
    device_id: &Uuid,
    limits: &DeviceLimits,
    offline: bool,
    now: u64,
) -> Result<(), AttestError> {
    let window = DeviceLimits::WINDOW_SECS;
    let since = now.saturating_sub(window);
    let refuse = |what, limit, oldest: u64| AttestError::QuotaExceeded {
        device_id: *device_id,
        what,
        limit,
        retry_after: oldest.saturating_add(window).saturating_sub(now).max(1),
    };
    if let Some(at) = tx.nth_latest_received_at(device_id, limits.attestations_per_day)?
        && at > since
    {
        return Err(refuse("attestations", limits.attestations_per_day, at));
    }
    if offline {
        // Fewer than `attestations_per_day` are in the window (checked above), so this
        // walk is short.
        let recent = tx.offline_received_since(device_id, since, limits.offline_per_day)?;
        if recent.len() >= limits.offline_per_day as usize
            && let Some(&oldest) = recent.last()
        {
            return Err(refuse("offline deliveries", limits.offline_per_day, oldest));
        }
    }
    Ok(())
}

/// Re-attestation: records the fresh evidence phase one checked ([`Verified::renewal`]):
/// it replaces the device's evidence, so a phone whose boot state changed stops passing,
/// and clears IT's request. An App Attest assertion's counter must exceed the last one
/// accepted: a conditional write decides, and a replay is refused with nothing changed.
fn renew_evidence(
    tx: &mut dyn Tx,
    device: &mut DeviceRow,
    policy: &Policy,
    fresh: &EvidenceSummary,
    ctx: &Context,
) -> Result<(), AttestError> {
    if fresh.kind == pramaan_core::evidence::EvidenceKind::AppleAppAttest
        && fresh.verified
        && let Some(counter) = fresh.counter
        && !tx.advance_assert_counter(&device.device_id, counter)?
    {
        return Err(AttestError::CounterNotIncreasing(counter));
    }
    let judgement = pramaan_core::policy::judge_evidence(
        &policy.evidence,
        device.platform,
        fresh,
        ctx.eval().status_list,
        ctx.now,
    );
    log::info!(
        "device {}: fresh evidence: {}",
        device.device_id,
        crate::log_text::untrusted(&pramaan_core::policy::describe_evidence(fresh))
    );
    tx.update_evidence(&device.device_id, fresh, judgement.assurance)?;
    device.evidence_summary = fresh.clone();
    device.assurance = judgement.assurance;
    device.reattest_requested = false;
    Ok(())
}

/// Accepts an offline attestation only if it is chained to the last nonce the server
/// sent the device (its `anchor`), that nonce was sent within the offline window, the
/// attestation was signed after it, and the run since it is below the policy's limit
/// (a conditional write). So a year of tokens cannot be signed in advance: each one is
/// good for at most the offline window after a real contact, and only a few of them.
fn take_offline_slot(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    claims: &Attestation,
    ctx: &Context,
    max_run: u32,
) -> Result<(), AttestError> {
    let now = ctx.now;
    if now.saturating_sub(claims.iat) > ctx.offline_window_secs {
        return Err(AttestError::OfflineTooOld(ctx.offline_window_secs));
    }
    let anchor: [u8; 32] = claims
        .anchor
        .as_deref()
        .and_then(|a| a.try_into().ok())
        .ok_or(AttestError::OfflineNotChained("it names no anchor"))?;
    let (expected, sent_at) = device
        .freshness
        .anchor
        .ok_or(AttestError::OfflineNotChained(
            "no nonce was ever sent to this device",
        ))?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&anchor[..], &expected[..])) {
        return Err(AttestError::OfflineNotChained(
            "its anchor is not the last nonce sent to this device",
        ));
    }
    if now.saturating_sub(sent_at) > ctx.offline_window_secs {
        return Err(AttestError::OfflineTooOld(ctx.offline_window_secs));
    }
    if claims.iat.saturating_add(MAX_FUTURE_SKEW) < sent_at {
        return Err(AttestError::OfflineNotChained(
            "it was signed before its anchor was sent",
        ));
    }
    if !tx.take_offline_slot(&device.device_id, &anchor, max_run)? {
        return Err(AttestError::OfflineRunExceeded(
            device.freshness.offline_run,
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, transaction};
    use pramaan_core::catalog::Catalog;
    use pramaan_core::claims::{Assurance, NONCE_LEN, OsInfo, Platform};
    use pramaan_core::keys::{Signer as _, SoftwareSigner};

    const POLICY: &str = r#"
department = "D"
name = "D"
check_in_hours = 24
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "WhatsApp"
[[groups]]
platform = "WhatsApp"
id = "d-officers"
[evidence]
assurance = "software"
platforms = ["desktop"]
"#;

    /// The anchor the test device holds for offline attestations.
    const ANCHOR: [u8; 32] = [5; 32];

    fn claims(id: Uuid, seq: u64, nonce: Option<Vec<u8>>, now: u64) -> Attestation {
        Attestation {
            protocol: pramaan_core::claims::Protocol::CURRENT,
            device_id: id,
            anchor: nonce.is_none().then(|| ANCHOR.to_vec()),
            nonce,
            iat: now,
            seq,
            officer: "O1".into(),
            apps: vec![claims::AppFact {
                id: "com.whatsapp".into(),
                signer: Some(
                    "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44".into(),
                ),
                version: "2.26.1".into(),
                present: true,
            }],
            groups: vec![claims::GroupFact {
                platform: "WhatsApp".into(),
                group: "d-officers".into(),
                member: true,
                handle: "+919800000001".into(),
            }],
            email: vec!["o1@gujarat.gov.in".into()],
            os: OsInfo {
                name: "android".into(),
                version: "15".into(),
                patch: "2026-10-05".into(),
            },
            lock: true,
            evidence: None,
        }
    }

    /// A store with officer O1 of department D, its policy and one enrolled device.
    fn setup() -> (SqliteStore, SoftwareSigner, Uuid, u64) {
        setup_with(POLICY)
    }

    /// [`setup`] with the department policy `policy_text`.
    fn setup_with(policy_text: &str) -> (SqliteStore, SoftwareSigner, Uuid, u64) {
        let store = SqliteStore::in_memory().expect("store");
        let signer = SoftwareSigner::generate().expect("key");
        let id = Uuid::new_v4();
        let now = crate::api::now();
        let policy = Policy::load(policy_text, &Catalog::builtin()).expect("policy");
        transaction(&store, |tx| -> Result<(), StoreError> {
            tx.upsert_officer(
                &Officer {
                    officer_id: "O1".into(),
                    name: "One".into(),
                    designation: String::new(),
                    department: "D".into(),
                    email: "o1@gujarat.gov.in".into(),
                    mobile: String::new(),
                    entitled: true,
                    gr_reference: None,
                    phone_model: None,
                    phone_purchased: None,
                    retired_at: None,
                },
                now,
            )?;
            tx.set_policy("D", &policy, "test", now)?;
            tx.set_roster("D", "WhatsApp", "d-officers", &["+919800000001".into()])?;
            tx.insert_device(&DeviceRow {
                device_id: id,
                officer_id: "O1".into(),
                department: "D".into(),
                platform: Platform::Desktop,
                model: "Laptop".into(),
                public_key: signer.public_key().expect("pk").to_cose_key_bytes(),
                assurance: Assurance::Software,
                evidence: None,
                evidence_summary: pramaan_core::evidence::EvidenceSummary::none(now),
                freshness: crate::store::Freshness::default(),
                assert_counter: None,
                reattest_requested: false,
                revoked: false,
                reason: None,
                last_seq: None,
                enrolled_at: now,
            })?;
            tx.record_fresh(&id, now, &ANCHOR)
        })
        .expect("setup");
        (store, signer, id, now)
    }

    /// One nonce key for every test context (so their nonces check).
    fn test_key() -> std::sync::Arc<NonceKey> {
        static KEY: std::sync::OnceLock<std::sync::Arc<NonceKey>> = std::sync::OnceLock::new();
        KEY.get_or_init(|| std::sync::Arc::new(NonceKey::from_bytes(&[3; 32])))
            .clone()
    }

    fn context(now: u64) -> Context {
        Context {
            previous_protocol_until: crate::config::DEFAULT_PREVIOUS_PROTOCOL_UNTIL,
            now,
            offline_window_secs: 3600,
            nonce_ttl_secs: 300,
            nonce_key: test_key(),
            status_list: None,
            roots: std::sync::Arc::new(pramaan_core::evidence::Roots::builtin()),
        }
    }

    fn row(store: &SqliteStore, id: Uuid) -> DeviceRow {
        read_transaction(store, |tx| tx.device(&id))
            .expect("read")
            .expect("device")
    }

    #[test]
    fn verify_then_decide_records_logs_and_refuses_a_replay_without_a_trace() {
        let (store, signer, id, now) = setup();
        let ctx = context(now);
        let token = cose::sign_es256(&signer, id.as_bytes(), claims(id, 1, None, now).to_cbor())
            .expect("sign");
        let v = verify(&store, &token, &ctx).expect("verifies");
        assert_eq!((v.device_id, v.claims.seq), (id, 1));
        // The same checks with the row at hand, and another key's signature refused.
        let device = row(&store, id);
        assert_eq!(
            verify_device(&device, &token, &ctx)
                .expect("verifies")
                .payload,
            v.payload
        );
        let other = SoftwareSigner::generate()
            .expect("key")
            .public_key()
            .expect("pk");
        let impostor = DeviceRow {
            public_key: other.to_cose_key_bytes(),
            ..device
        };
        let e = verify_device(&impostor, &token, &ctx).expect_err("wrong key");
        assert_eq!(e.code(), RejectCode::BadSignature);

        let out = transaction(&store, |tx| decide(tx, &v, &ctx)).expect("accepted");
        assert_eq!((out.device_id, out.seq, out.log_index), (id, 1, 0));
        // Offline (no nonce): at best a warning, though every rule passed.
        assert_eq!(out.verdict, Verdict::Warning, "{:?}", out.failures);
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        assert_eq!(out.next_nonce.len(), NONCE_LEN);
        assert_eq!(out.result().next_nonce, out.next_nonce);

        let before = read_transaction(&store, |tx| tx.counts()).expect("counts");
        let e = transaction(&store, |tx| decide(tx, &v, &ctx)).expect_err("replay");
        assert_eq!(e.code(), RejectCode::SeqNotIncreasing);
        assert_eq!(e.to_string(), "seq 1 is not above the last accepted 1");
        assert_eq!(
            read_transaction(&store, |tx| tx.counts()).expect("counts"),
            before
        );

        // The issued nonce is single-use: the second answer to it is nonce_reused.
        let with_nonce = |seq| {
            let t = cose::sign_es256(
                &signer,
                id.as_bytes(),
                claims(id, seq, Some(out.next_nonce.clone()), now).to_cbor(),
            )
            .expect("sign");
            verify(&store, &t, &ctx).expect("verifies")
        };
        // Phase one runs outside the transaction (a store without a separate reader
        // would otherwise wait for itself).
        let (second, third) = (with_nonce(2), with_nonce(3));
        let fresh = transaction(&store, |tx| decide(tx, &second, &ctx)).expect("fresh");
        assert_eq!(fresh.log_index, 1);
        assert_eq!(fresh.verdict, Verdict::Affirming, "{:?}", fresh.failures);
        let e = transaction(&store, |tx| decide(tx, &third, &ctx)).expect_err("reused");
        assert_eq!(e.code(), RejectCode::NonceReused);
    }

    /// A nonce is taken once (its use is the only row), refused precisely otherwise, and
    /// the uses of expired nonces are pruned (at most once a minute, by a later take).
    #[test]
    fn nonces_are_taken_once_and_expired_uses_pruned() {
        let store = SqliteStore::in_memory().expect("store");
        let key = NonceKey::generate().expect("key");
        let t0 = 1_000_000;
        let (a, _) = issue_nonce(&key, 10, t0).expect("issue");
        let (b, _) = issue_nonce(&key, 600, t0).expect("issue");
        let rows = || {
            read_transaction(&store, |tx| tx.counts())
                .expect("counts")
                .nonces_used
        };
        assert_eq!(rows(), 0, "issuing writes nothing");
        let take = |n: &[u8], at| transaction(&store, |tx| take_nonce(tx, &key, n, at));
        take(&a, t0 + 1).expect("first use");
        let code = |r: Result<(), AttestError>| r.expect_err("refused").code();
        assert_eq!(code(take(&a, t0 + 2)), RejectCode::NonceReused);
        assert_eq!(code(take(&a, t0 + 10)), RejectCode::NonceExpired);
        let mut forged = b.clone();
        forged[31] ^= 1;
        assert_eq!(code(take(&forged, t0 + 2)), RejectCode::NonceUnknown);
        assert_eq!(rows(), 1);
        // A minute later a take prunes the use of `a` (expired), then records `b`'s.
        take(&b, t0 + 70).expect("b");
        assert_eq!(rows(), 1);
        let hash_a = hash_secret(&a);
        assert_eq!(
            read_transaction(&store, |tx| tx.nonce(&hash_a)).expect("read"),
            None
        );
        // Its replay is still refused, as expired.
        assert_eq!(code(take(&a, t0 + 71)), RejectCode::NonceExpired);
    }

    #[test]
    fn stateless_refusals_carry_their_codes() {
        let (store, signer, id, now) = setup();
        let ctx = context(now);
        assert_eq!(
            verify(&store, b"not cose", &ctx)
                .expect_err("garbage")
                .code(),
            RejectCode::Malformed
        );
        let stranger = Uuid::new_v4();
        let t = cose::sign_es256(
            &signer,
            stranger.as_bytes(),
            claims(id, 1, None, now).to_cbor(),
        )
        .expect("sign");
        assert_eq!(
            verify(&store, &t, &ctx).expect_err("unknown kid").code(),
            RejectCode::UnknownDevice
        );
        let device = row(&store, id);
        let t = cose::sign_es256(
            &signer,
            id.as_bytes(),
            claims(stranger, 1, None, now).to_cbor(),
        )
        .expect("sign");
        assert_eq!(
            verify_device(&device, &t, &ctx).expect_err("ueid").code(),
            RejectCode::UeidMismatch
        );
        let t = cose::sign_es256(
            &signer,
            id.as_bytes(),
            claims(id, MAX_SEQ + 1, None, now).to_cbor(),
        )
        .expect("sign");
        assert_eq!(
            verify_device(&device, &t, &ctx).expect_err("seq").code(),
            RejectCode::Malformed
        );
    }

    /// The parsed policy and rosters are cached, and phase one evaluates the rules on its
    /// snapshot; neither may hide a change: an attestation after a roster or policy
    /// update is judged by the new one, also when its phase one ran before the update
    /// committed (the writer's transaction sees another generation and evaluates again).
    #[test]
    fn a_policy_or_roster_change_is_seen_by_the_very_next_attestation() {
        use pramaan_core::model::Rule;
        let (store, signer, id, now) = setup();
        let ctx = context(now);
        let mut seq = 0;
        let mut phase_one = || {
            seq += 1;
            let t = cose::sign_es256(&signer, id.as_bytes(), claims(id, seq, None, now).to_cbor())
                .expect("sign");
            verify(&store, &t, &ctx).expect("verifies")
        };
        let rules_of = |o: &Outcome| o.failures.iter().map(|f| f.rule).collect::<Vec<_>>();
        let set_roster = |handles: &[&str]| {
            let h: Vec<String> = handles.iter().map(|h| h.to_string()).collect();
            transaction(&store, |tx| {
                tx.set_roster("D", "WhatsApp", "d-officers", &h)
            })
            .expect("roster");
        };
        let decide_now = |v: &Verified| transaction(&store, |tx| decide(tx, v, &ctx));

        let v = phase_one();
        assert!(v.prejudged.is_some(), "phase one evaluated the rules");
        let out = decide_now(&v).expect("accepted");
        assert!(out.failures.is_empty(), "{:?}", out.failures);

        // The roster no longer lists the device's handle: the next one fails R4.
        set_roster(&["+919800000099"]);
        let out = decide_now(&phase_one()).expect("accepted");
        assert_eq!(rules_of(&out), vec![Rule::R4], "{:?}", out.failures);

        // Phase one before the roster is fixed, the decision after: judged by the new one.
        let early = phase_one();
        assert_eq!(
            early
                .prejudged
                .as_ref()
                .map(|p| p.evaluation.failures.len()),
            Some(1)
        );
        set_roster(&["+919800000001"]);
        let out = decide_now(&early).expect("accepted");
        assert!(out.failures.is_empty(), "{:?}", out.failures);

        // The same for a policy change (now only nic.in addresses are official).
        let early = phase_one();
        let stricter = POLICY.replace("[\"gujarat.gov.in\"]", "[\"nic.in\"]");
        let policy = Policy::load(&stricter, &Catalog::builtin()).expect("policy");
        transaction(&store, |tx| tx.set_policy("D", &policy, "test", now)).expect("policy");
        let out = decide_now(&early).expect("accepted");
        assert!(rules_of(&out).contains(&Rule::R1), "{:?}", out.failures);
        let out = decide_now(&phase_one()).expect("accepted");
        assert!(rules_of(&out).contains(&Rule::R1), "{:?}", out.failures);

        // And for the officer's registry row (the registry email moved).
        let early = phase_one();
        transaction(&store, |tx| {
            let mut o = tx.officer("O1")?.expect("officer");
            o.email = "o1@nic.in".into();
            tx.upsert_officer(&o, now)
        })
        .expect("officer");
        let out = decide_now(&early).expect("accepted");
        assert!(
            out.failures
                .iter()
                .any(|f| f.detail.contains("registry email o1@nic.in")),
            "{:?}",
            out.failures
        );
    }

    /// The policy's per-device limits bound what a flooding device adds to the log: past
    /// `attestations_per_day` (or `offline_per_day` offline) in 24 hours it is refused
    /// with `quota_exceeded` and when a slot frees, nothing is stored or logged, and once
    /// the window has passed its next check-in is accepted again.
    #[test]
    fn device_limits_bound_the_log_and_free_up_after_the_window() {
        let policy = format!("{POLICY}\n[limits]\nattestations_per_day = 5\noffline_per_day = 2\n");
        let (store, signer, id, t0) = setup_with(&policy);
        let log_size = || read_transaction(&store, |tx| tx.log().size()).expect("size");
        let start = log_size();
        let mut seq = 0;
        let mut sign = |nonce: Option<Vec<u8>>, at: u64| {
            seq += 1;
            let t = cose::sign_es256(&signer, id.as_bytes(), claims(id, seq, nonce, at).to_cbor())
                .expect("sign");
            verify(&store, &t, &context(at)).expect("verifies")
        };
        let decide_at =
            |v: &Verified, at: u64| transaction(&store, |tx| decide(tx, v, &context(at)));
        // Offline deliveries: two accepted, the third refused until the first leaves.
        for _ in 0..2 {
            decide_at(&sign(None, t0), t0).expect("offline accepted");
        }
        let e = decide_at(&sign(None, t0 + 5), t0 + 5).expect_err("offline over the limit");
        assert_eq!(e.code(), RejectCode::QuotaExceeded);
        assert!(
            matches!(e, AttestError::QuotaExceeded { what: "offline deliveries", limit: 2, retry_after, .. } if retry_after == 86_400 - 5),
            "{e}"
        );
        // Fresh ones fill the day's allowance; each answer's nonce is the next one's.
        let mut nonce = issue_nonce(&test_key(), 300, t0).expect("nonce").0;
        let mut logged_bytes = 0;
        for i in 0..3 {
            let at = t0 + 10 + i;
            let out = decide_at(&sign(Some(nonce.clone()), at), at).expect("fresh accepted");
            logged_bytes += out.log_bytes;
            nonce = out.next_nonce;
        }
        let before = read_transaction(&store, |tx| tx.counts()).expect("counts");
        let at = t0 + 100;
        let e = decide_at(&sign(Some(nonce.clone()), at), at).expect_err("over the limit");
        assert_eq!(e.code(), RejectCode::QuotaExceeded);
        assert!(
            matches!(e, AttestError::QuotaExceeded { what: "attestations", limit: 5, retry_after, .. } if retry_after == 86_400 - 100),
            "{e}"
        );
        assert!(e.to_string().contains("limit of 5 attestations"), "{e}");
        // Nothing of the refusal is kept: no row, no log entry, the nonce still unused.
        assert_eq!(
            read_transaction(&store, |tx| tx.counts()).expect("counts"),
            before
        );
        assert_eq!(log_size(), start + 5);
        assert!(logged_bytes > 0);
        // A day after the first ones, slots free up and a check-in is accepted again.
        let later = t0 + 86_400 + 1;
        let fresh = issue_nonce(&test_key(), 300, later).expect("nonce").0;
        let out = decide_at(&sign(Some(fresh), later), later).expect("accepted after the window");
        assert_eq!(out.log_index, start + 5);
        assert_eq!(log_size(), start + 6);
    }
}
