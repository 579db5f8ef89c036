//! Device endpoints (design section 5): challenge, enrollment, attestation.
//!
//! Order of checks, and why: parse (400) -> find the key (401) -> verify the signature
//! (401) -> only then read claims -> state checks in one transaction (403 revoked, 409
//! nonce or seq, 410 token) -> evaluate with core's policy -> store and log -> answer.
//! Signatures are verified outside the database lock (the key of an enrolled device never
//! changes), so a slow ECDSA check does not serialize the server. Every state check and
//! every write runs in the same transaction: a request that is rejected rolls back and
//! changes nothing, in particular nonces are consumed only by the transaction that accepts
//! the request, and an answer 200 is sent only after that transaction committed.
//!
//! Reads of the nonce, the enrollment token and the device's `last_seq` only choose the
//! precise error code; acceptance is decided by the store's conditional writes
//! ([`Tx::consume_nonce`], [`Tx::use_enroll_token`], [`Tx::advance_seq`]), which succeed
//! for exactly one of two racing requests whatever the backend's isolation level. A
//! `false` from one of them is the reused/replayed case.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pramaan_core::api::RejectCode;
use pramaan_core::claims::{
    self, AttestResult, Attestation, Challenge, EnrollRequest, NONCE_LEN, Receipt, Verdict,
};
use pramaan_core::cose::{self, Sign1};
use pramaan_core::policy::{DeviceState, Roster, evaluate_attestation};
use pramaan_core::{P256PublicKey, claims::Assurance};
use uuid::Uuid;

use super::{ApiError, AppState, blocking, now};
use crate::auth::{hash_secret, random_bytes};
use crate::store::{
    AttestationRow, DeviceRow, LogEntry, Tx, grouped_transaction, read_transaction, transaction,
};

/// Allowed clock skew of a device's `iat` ahead of the server, seconds.
const MAX_FUTURE_SKEW: u64 = 300;
/// Expired nonces are kept this long (so a late answer says "expired", not "unknown").
const NONCE_GRACE: u64 = 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/challenge", get(challenge))
        .route("/v1/enroll", post(enroll))
        .route("/v1/attest", post(attest))
}

fn cbor_response(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/cbor")],
        bytes,
    )
        .into_response()
}

fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    let bytes = match body {
        Ok(b) => b,
        Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::too_large(limit).cbor());
        }
        Err(rej) => return Err(ApiError::new(RejectCode::Malformed, rej.body_text()).cbor()),
    };
    if bytes.len() > limit {
        return Err(ApiError::too_large(limit).cbor());
    }
    if bytes.is_empty() {
        return Err(ApiError::new(RejectCode::Malformed, "empty body").cbor());
    }
    Ok(bytes)
}

/// Issues a fresh nonce inside `tx`; returns the nonce and its expiry.
fn issue_nonce(tx: &mut dyn Tx, ttl: u64, now: u64) -> Result<(Vec<u8>, u64), ApiError> {
    let nonce = random_bytes::<NONCE_LEN>()?;
    let expires = now.saturating_add(ttl);
    tx.insert_nonce(&hash_secret(&nonce), expires)?;
    Ok((nonce.to_vec(), expires))
}

/// Largest `seq` a device may send: the store keeps signed 64-bit integers, and a seq
/// that could not be stored is refused at the edge rather than clamped.
const MAX_SEQ: u64 = i64::MAX as u64;

fn nonce_reused() -> ApiError {
    ApiError::new(RejectCode::NonceReused, "the nonce was already used")
}

/// Checks that `nonce` is a live, unused server nonce and consumes it (in `tx`).
fn take_nonce(tx: &mut dyn Tx, nonce: &[u8], now: u64) -> Result<(), ApiError> {
    let hash = hash_secret(nonce);
    let row = tx.nonce(&hash)?.ok_or_else(|| {
        ApiError::new(
            RejectCode::NonceUnknown,
            "the nonce was not issued by this server (or long expired)",
        )
    })?;
    if row.used {
        return Err(nonce_reused());
    }
    if now >= row.expires {
        return Err(ApiError::new(
            RejectCode::NonceExpired,
            "the nonce has expired; get a new challenge",
        ));
    }
    // The decision: one conditional write. `false` here means another transaction
    // consumed it after the read above.
    if !tx.consume_nonce(&hash, now)? {
        return Err(nonce_reused());
    }
    Ok(())
}

async fn challenge(State(state): State<AppState>) -> Result<Response, ApiError> {
    let st = state.clone();
    let (nonce, expires) = blocking(move || {
        let now = now();
        transaction(st.store.as_ref(), |tx| {
            tx.prune_nonces(now.saturating_sub(NONCE_GRACE))?;
            issue_nonce(tx, st.config.nonce_ttl_secs, now)
        })
    })
    .await
    .map_err(ApiError::cbor)?;
    Ok(cbor_response(claims::encode(&Challenge { nonce, expires })))
}

async fn enroll(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body, state.config.body_limit_bytes)?;
    let st = state.clone();
    blocking(move || enroll_blocking(&st, &bytes))
        .await
        .map_err(ApiError::cbor)
}

fn enroll_blocking(state: &AppState, bytes: &[u8]) -> Result<Response, ApiError> {
    let msg = Sign1::parse(bytes)
        .map_err(|e| ApiError::new(RejectCode::Malformed, format!("not a COSE_Sign1: {e}")))?;
    let req: EnrollRequest = claims::decode(msg.unverified_payload())
        .map_err(|e| ApiError::new(RejectCode::Malformed, format!("enrollment request: {e}")))?;
    if req.v != 1 {
        return Err(ApiError::new(
            RejectCode::UnsupportedVersion,
            format!("enrollment version {} (this server speaks 1)", req.v),
        ));
    }
    let key = P256PublicKey::from_cose_key_bytes(&req.key)
        .map_err(|e| ApiError::new(RejectCode::Malformed, format!("device key: {e}")))?;
    // Proof of possession: the request is signed by the key it enrolls.
    msg.verify_es256(&key, None).map_err(|e| {
        ApiError::new(
            RejectCode::BadSignature,
            format!("enrollment signature: {e}"),
        )
    })?;
    if req.nonce.len() != NONCE_LEN {
        return Err(ApiError::new(
            RejectCode::Malformed,
            "nonce is not 32 bytes",
        ));
    }
    let token_hash = hash_secret(req.token.trim().as_bytes());
    let evidence = req.evidence.as_ref().map(claims::encode);
    let now = now();
    // Hardware assurance only for evidence that verifies, is bound to this enrollment's
    // nonce and certifies this very key (core's verifiers); anything else is software.
    let (assurance, attested_model) = match &req.evidence {
        Some(ev) => {
            let a = pramaan_core::evidence::assess_with(
                ev,
                &req.nonce,
                &key,
                now,
                &state.evidence_options,
            );
            log::info!("enrollment evidence: {}", a.detail);
            (a.assurance, a.attested_model)
        }
        None => (Assurance::Software, None),
    };
    let (receipt, device_id) = transaction(state.store.as_ref(), |tx| {
        take_nonce(tx, &req.nonce, now)?;
        let token = tx
            .enroll_token(&token_hash)?
            .ok_or_else(|| ApiError::new(RejectCode::UnknownToken, "unknown enrollment token"))?;
        if token.used {
            return Err(ApiError::new(
                RejectCode::TokenUsed,
                "the enrollment token was already used",
            ));
        }
        if now >= token.expires {
            return Err(ApiError::new(
                RejectCode::TokenExpired,
                "the enrollment token has expired",
            ));
        }
        let officer = tx.officer(&token.officer_id)?.ok_or_else(|| {
            ApiError::new(
                RejectCode::UnknownOfficer,
                "the token's officer is no longer in the registry",
            )
        })?;
        let policy = tx.policy(&officer.department)?.ok_or_else(|| {
            ApiError::new(
                RejectCode::NoPolicy,
                "the officer's department has no policy",
            )
        })?;
        let device_id = Uuid::new_v4();
        tx.insert_device(&DeviceRow {
            device_id,
            officer_id: officer.officer_id.clone(),
            department: officer.department.clone(),
            platform: req.platform,
            model: req.device.model.clone(),
            attested_model: attested_model.clone(),
            public_key: req.key.clone(),
            assurance,
            evidence: evidence.clone(),
            revoked: false,
            reason: None,
            last_seq: None,
            enrolled_at: now,
        })?;
        if !tx.use_enroll_token(&token_hash, now)? {
            // Used by a concurrent enrollment since the read above.
            return Err(ApiError::new(
                RejectCode::TokenUsed,
                "the enrollment token was already used",
            ));
        }
        tx.append_log(&LogEntry::Enrollment {
            at: now,
            department: officer.department.clone(),
            officer_id: officer.officer_id.clone(),
            device_id,
            request: bytes.to_vec(),
            assurance: match assurance {
                Assurance::Hardware => "hardware",
                Assurance::Software => "software",
            }
            .to_string(),
        })?;
        let (next_nonce, _) = issue_nonce(tx, state.config.nonce_ttl_secs, now)?;
        Ok((
            Receipt {
                device_id,
                officer_id: officer.officer_id,
                department: officer.department,
                policy,
                assurance,
                next_nonce,
                server_key: Some(state.key.public_key().to_vec()),
            },
            device_id,
        ))
    })?;
    log::info!(
        "enrolled device {device_id} for officer {} ({})",
        receipt.officer_id,
        receipt.department
    );
    let signed = cose::sign_eddsa(&state.key, &state.kid, claims::encode(&receipt));
    Ok(cbor_response(signed))
}

async fn attest(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body, state.config.body_limit_bytes)?;
    let st = state.clone();
    let result = blocking(move || attest_blocking(&st, &bytes))
        .await
        .map_err(ApiError::cbor)?;
    state.metrics.verdict(result.0.as_str());
    Ok(result.1)
}

fn unknown_device() -> ApiError {
    ApiError::new(
        RejectCode::UnknownDevice,
        "no enrolled device has this key id",
    )
}

fn attest_blocking(state: &AppState, bytes: &[u8]) -> Result<(Verdict, Response), ApiError> {
    let msg = Sign1::parse(bytes)
        .map_err(|e| ApiError::new(RejectCode::Malformed, format!("not a COSE_Sign1: {e}")))?;
    let device_id = Uuid::from_slice(msg.kid()).map_err(|_| unknown_device())?;
    // The key of an enrolled device never changes: read it, verify outside the lock.
    let device = read_transaction(state.store.as_ref(), |tx| tx.device(&device_id))?
        .ok_or_else(unknown_device)?;
    let key = P256PublicKey::from_cose_key_bytes(&device.public_key)
        .map_err(|e| ApiError::internal(format!("stored device key: {e}")))?;
    let payload = msg
        .verify_es256(&key, Some(device_id.as_bytes()))
        .map_err(|e| {
            ApiError::new(
                RejectCode::BadSignature,
                format!("attestation signature: {e}"),
            )
        })?;
    let claims = Attestation::from_cbor(payload)
        .map_err(|e| ApiError::new(RejectCode::Malformed, format!("attestation claims: {e}")))?;
    if claims.device_id != device_id {
        return Err(ApiError::new(
            RejectCode::UeidMismatch,
            "the claims' ueid is not the key id's device",
        ));
    }
    if claims.seq > MAX_SEQ {
        return Err(ApiError::new(
            RejectCode::Malformed,
            format!(
                "seq {} is beyond the largest this server records ({MAX_SEQ})",
                claims.seq
            ),
        ));
    }
    let now = now();
    let window = state.config.offline_window_secs;
    let payload = payload.to_vec();
    let bytes = bytes.to_vec();
    let st = state.clone();
    // Group commit: concurrent attestations share one durable commit; each one's checks
    // and writes are isolated, and the answer is built only after the commit.
    let (verdict, result) = grouped_transaction(state.store.as_ref(), move |tx| {
        let state = &st;
        // Re-read inside the transaction: revocation and seq may have changed.
        let device = tx.device(&device_id)?.ok_or_else(unknown_device)?;
        if device.revoked {
            return Err(ApiError::new(
                RejectCode::Revoked,
                "this device has been revoked",
            ));
        }
        if claims.officer != device.officer_id {
            return Err(ApiError::new(
                RejectCode::OfficerMismatch,
                "the claims name another officer than the one the device is enrolled for",
            ));
        }
        // The decision: one conditional write (rolled back with the rest if a later check
        // refuses). `false` is a seq at or below the last accepted one, possibly accepted
        // by a concurrent request since the read above.
        if !tx.advance_seq(&device_id, claims.seq)? {
            let last = match device.last_seq {
                Some(last) => last.to_string(),
                None => "one".to_string(),
            };
            return Err(ApiError::new(
                RejectCode::SeqNotIncreasing,
                format!("seq {} is not above the last accepted {last}", claims.seq),
            ));
        }
        if claims.iat > now.saturating_add(MAX_FUTURE_SKEW) {
            return Err(ApiError::new(
                RejectCode::IatInFuture,
                "iat is ahead of the server's clock",
            ));
        }
        let fresh = match &claims.nonce {
            Some(nonce) => {
                take_nonce(tx, nonce, now)?;
                true
            }
            None => {
                if now.saturating_sub(claims.iat) > window {
                    return Err(ApiError::new(
                        RejectCode::OfflineTooOld,
                        format!("offline attestation older than the {window}-second window"),
                    ));
                }
                false
            }
        };
        let officer = tx.officer(&device.officer_id)?.ok_or_else(|| {
            ApiError::new(
                RejectCode::UnknownOfficer,
                "the device's officer is no longer in the registry",
            )
        })?;
        let policy = tx.policy(&device.department)?.ok_or_else(|| {
            ApiError::new(
                RejectCode::NoPolicy,
                "the device's department has no policy",
            )
        })?;
        let rosters = Roster::from_rows(tx.roster_rows(&device.department)?);
        let state_for_eval = DeviceState {
            device_id,
            platform: device.platform,
            model: device.model.clone(),
            attested_model: device.attested_model.clone(),
            assurance: device.assurance,
            revoked: false,
            latest: None,
        };
        let (verdict, failures, _evidence) =
            evaluate_attestation(&policy, &officer, &state_for_eval, &claims, &rosters, fresh);
        let log_index = tx.append_log(&LogEntry::Attestation {
            at: now,
            department: device.department.clone(),
            officer_id: device.officer_id.clone(),
            device_id,
            token: bytes.to_vec(),
            verdict: verdict.as_str().to_string(),
            failures: failures.clone(),
        })?;
        tx.insert_attestation(&AttestationRow {
            device_id,
            seq: claims.seq,
            iat: claims.iat,
            received_at: now,
            fresh_nonce: fresh,
            claims: payload.clone(),
            verdict,
            failures: failures.clone(),
            log_index,
        })?;
        let (next_nonce, _) = issue_nonce(tx, state.config.nonce_ttl_secs, now)?;
        Ok((
            verdict,
            AttestResult {
                device_id,
                seq: claims.seq,
                status: verdict,
                failures,
                log_index,
                next_nonce,
                iat: now,
            },
        ))
    })?;
    log::debug!(
        "device {device_id} seq {}: {}",
        result.seq,
        verdict.as_str()
    );
    let signed = cose::sign_eddsa(&state.key, &state.kid, claims::encode(&result));
    Ok((verdict, cbor_response(signed)))
}
