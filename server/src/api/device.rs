//! Device endpoints (design section 5): challenge, enrollment, attestation, over HTTP.
//!
//! Why this file is thin for attestation: the decision itself (parse, key, ES256, claims,
//! then revoked / seq / nonce / window / policy / writes / log in one transaction) is
//! [`crate::attest`], shared with `pramaan bench`; here are only the HTTP concerns: body
//! limits, running the decision on the blocking pool inside a group-committed
//! transaction, turning its typed error into an [`ApiError`] (CBOR body) and its outcome
//! into the signed CBOR answer, and metrics. The answer 200 is sent only after the
//! transaction committed; a rejected request rolls back and changes nothing.
//!
//! Enrollment follows the same rules (proof of possession verified outside the lock; the
//! nonce, the one-time token and the writes in one transaction, decided by the store's
//! conditional writes [`crate::store::Tx::consume_nonce`] and
//! [`crate::store::Tx::use_enroll_token`]).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pramaan_core::api::RejectCode;
use pramaan_core::claims::{self, Challenge, EnrollRequest, NONCE_LEN, Receipt, Verdict};
use pramaan_core::cose::{self, Sign1};
use pramaan_core::{P256PublicKey, claims::Assurance};
use uuid::Uuid;

use super::{ApiError, AppState, blocking, now};
use crate::attest;
use crate::auth::hash_secret;
use crate::store::{DeviceRow, LogEntry, grouped_transaction, transaction};

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

async fn challenge(State(state): State<AppState>) -> Result<Response, ApiError> {
    let st = state.clone();
    let (nonce, expires) = blocking(move || {
        let now = now();
        transaction(st.store.as_ref(), |tx| -> Result<_, ApiError> {
            tx.prune_nonces(now.saturating_sub(NONCE_GRACE))?;
            Ok(attest::issue_nonce(tx, st.config.nonce_ttl_secs, now)?)
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
        attest::take_nonce(tx, &req.nonce, now)?;
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
        let (next_nonce, _) = attest::issue_nonce(tx, state.config.nonce_ttl_secs, now)?;
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

fn attest_blocking(state: &AppState, bytes: &[u8]) -> Result<(Verdict, Response), ApiError> {
    let verified = attest::verify(state.store.as_ref(), bytes)?;
    let ctx = attest::Context {
        now: now(),
        offline_window_secs: state.config.offline_window_secs,
        nonce_ttl_secs: state.config.nonce_ttl_secs,
    };
    // Group commit: concurrent attestations share one durable commit; each one's checks
    // and writes are isolated, and the answer is built only after the commit.
    let outcome = grouped_transaction(state.store.as_ref(), move |tx| {
        attest::decide(tx, &verified, &ctx)
    })?;
    log::debug!(
        "device {} seq {}: {}",
        outcome.device_id,
        outcome.seq,
        outcome.verdict.as_str()
    );
    let signed = outcome.signed(&state.key, &state.kid);
    Ok((outcome.verdict, cbor_response(signed)))
}
