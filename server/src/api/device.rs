//! Device endpoints (design section 5): challenge, enrollment (and its read-only
//! preview), attestation, over HTTP.
//!
//! Why this file is thin for attestation: the decision itself (parse, key, ES256, claims,
//! then revoked / seq / nonce / window / policy / writes / log in one transaction) is
//! [`crate::attest`], shared with `pramaan bench`; here are only the HTTP concerns: body
//! limits, running the decision on the blocking pool inside a group-committed
//! transaction, turning its typed error into an [`ApiError`] (CBOR body) and its outcome
//! into the signed CBOR answer, and metrics (with the log bytes each accepted attestation
//! appended, and a warning, once an hour per device, when one reaches its policy's
//! limits). The answer 200 is sent only after the transaction committed; a rejected
//! request rolls back and changes nothing.
//!
//! Enrollment is split the same way ([`crate::enroll`]): proof of possession and evidence
//! outside the lock; the nonce, the one-time token and the writes in one transaction.
//!
//! A challenge is stateless ([`crate::nonce`]): one HMAC, no database write. Limits
//! ([`crate::limits`]): challenges and enrollments are charged to the client address by
//! the routes' middleware; an attestation is charged to its device once its signature
//! verified, or to its address when it fails before that (an address whose allowance for
//! failures is spent gets 429 for its failures, never for its devices' genuine ones).

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pramaan_core::api::RejectCode;
use pramaan_core::claims::{self, Challenge, EnrollPreviewRequest, Receipt, Verdict};
use pramaan_core::cose;

use super::{ApiError, AppState, ClientAddr, blocking, now};
use crate::store::{grouped_transaction, read_transaction, transaction};
use crate::{attest, enroll};
use std::net::IpAddr;

/// The device endpoints: challenge, enroll (and its preview), attest. The unsigned three
/// are charged to their client address ([`super::charge_address`]); an attestation is
/// charged in the attestation handler, to its device once its signature verified.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/challenge", get(challenge))
        .route("/v1/enroll", post(enroll))
        .route(
            pramaan_core::agent::preview::PREVIEW_PATH,
            post(enroll_preview),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::charge_address,
        ))
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

/// A challenge costs one HMAC and writes nothing ([`crate::nonce`]).
async fn challenge(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (nonce, expires) =
        attest::issue_nonce(&state.nonce_key, state.config.nonce_ttl_secs, now())
            .map_err(|e| ApiError::from(e).cbor())?;
    Ok(cbor_response(claims::encode(&Challenge { nonce, expires })))
}

async fn enroll(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body, state.config.enroll_body_limit())?;
    // The enrollment token travels outside the signed request (it never reaches the log).
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let st = state.clone();
    blocking(move || enroll_blocking(&st, &bytes, token.as_deref()))
        .await
        .map_err(ApiError::cbor)
}

/// The largest enrollment preview body: a CBOR map holding one token (tens of bytes).
pub const PREVIEW_BODY_LIMIT: usize = 4096;

/// `POST /v1/enroll/preview`: whom a token enrolls (officer, department, expiry), with
/// the refusals an enrollment would meet, consuming nothing. Read-only, so not in the
/// audit log; the token is named in the debug log by its id only.
async fn enroll_preview(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body, PREVIEW_BODY_LIMIT)?;
    let st = state.clone();
    blocking(move || preview_blocking(&st, &bytes))
        .await
        .map_err(ApiError::cbor)
}

fn preview_blocking(state: &AppState, bytes: &[u8]) -> Result<Response, ApiError> {
    let req: EnrollPreviewRequest = claims::decode(bytes).map_err(|e| {
        ApiError::new(
            RejectCode::Malformed,
            format!("enrollment preview request: {e}"),
        )
    })?;
    let id = crate::credentials::enroll_token_id(&claims::enroll_token_hash(&req.token));
    let now = now();
    let preview = read_transaction(state.store.as_ref(), |tx| {
        enroll::preview(tx, &req.token, now)
    })
    .inspect_err(|e| {
        log::debug!(
            "enrollment preview of token {id} refused: {}",
            crate::log_text::untrusted(&e.to_string())
        )
    })?;
    log::debug!(
        "enrollment preview of token {id}: officer {} ({})",
        crate::log_text::untrusted(&preview.officer_id),
        crate::log_text::untrusted(&preview.department)
    );
    Ok(cbor_response(claims::encode(&preview)))
}

/// The server's settings and clock for one enrollment or attestation decision.
fn decision_context(state: &AppState) -> attest::Context {
    attest::Context {
        now: now(),
        offline_window_secs: state.config.offline_window_secs,
        nonce_ttl_secs: state.config.nonce_ttl_secs,
        nonce_key: state.nonce_key.clone(),
        status_list: state.status_list.current(),
        roots: state.evidence_roots.clone(),
        previous_protocol_until: state.config.previous_protocol_until,
    }
}

fn enroll_blocking(
    state: &AppState,
    bytes: &[u8],
    token: Option<&str>,
) -> Result<Response, ApiError> {
    let ctx = decision_context(state);
    let verified = enroll::verify(
        bytes,
        token,
        ctx.now,
        ctx.previous_protocol_until,
        &ctx.roots,
    )?;
    let enrolled = transaction(state.store.as_ref(), |tx| {
        enroll::decide(tx, &verified, &ctx)
    })?;
    log::info!(
        "enrolled device {} for officer {} ({})",
        enrolled.device_id,
        enrolled.officer_id,
        enrolled.department
    );
    let keys = state.answer_keys.current();
    let receipt = Receipt {
        device_id: enrolled.device_id,
        officer_id: enrolled.officer_id,
        department: enrolled.department,
        policy: enrolled.policy,
        assurance: enrolled.assurance,
        evidence: Some(enrolled.summary),
        next_nonce: enrolled.next_nonce,
        server_key: Some(keys.current.public_key().to_vec()),
        next_pin: state.tls.next_pin(),
        answer_keys: keys.chain.clone(),
    };
    let (key, kid) = keys.newest();
    let signed = cose::sign_eddsa(key, kid, claims::encode(&receipt));
    Ok(cbor_response(signed))
}

async fn attest(
    State(state): State<AppState>,
    addr: Option<Extension<ClientAddr>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body, state.config.attest_body_limit())?;
    let addr = addr.map(|Extension(a)| a.0);
    let st = state.clone();
    let result = blocking(move || attest_blocking(&st, &bytes, addr))
        .await
        .map_err(ApiError::cbor)?;
    state.metrics.verdict(result.0.as_str());
    Ok(result.1)
}

fn attest_blocking(
    state: &AppState,
    bytes: &[u8],
    addr: Option<IpAddr>,
) -> Result<(Verdict, Response), ApiError> {
    let ctx = decision_context(state);
    let verified = match attest::verify(state.store.as_ref(), bytes, &ctx) {
        Ok(v) => v,
        Err(e) => {
            // Unsigned as far as we know: the address pays, and once its allowance for
            // failures is spent it is told to wait. Devices that sign are never refused
            // for this (the checks above cost a parse and a read, or one ECDSA
            // verification under a real kid: there is nothing cheaper to refuse first).
            let sender_fault = !matches!(e.code(), RejectCode::Internal | RejectCode::Conflict);
            if let Some(addr) = addr
                && sender_fault
                && let Err(limited) = state.limits.failures.take(addr)
            {
                return Err(ApiError::new(
                    RejectCode::RateLimited,
                    "too many failed attestations from this address; retry later",
                )
                .retry_after(limited.retry_after));
            }
            return Err(e.into());
        }
    };
    // Signed by the device: the device pays, wherever it is.
    if let Err(limited) = state.limits.devices.take(verified.device_id) {
        return Err(ApiError::new(
            RejectCode::RateLimited,
            format!(
                "too many attestations from this device; retry in {} s",
                limited.retry_after
            ),
        )
        .retry_after(limited.retry_after));
    }
    // Group commit: concurrent attestations share one durable commit; each one's checks
    // and writes are isolated, and the answer is built only after the commit.
    let now = ctx.now;
    let decided = grouped_transaction(state.store.as_ref(), move |tx| {
        attest::decide(tx, &verified, &ctx)
    });
    let outcome = match decided {
        Ok(o) => o,
        Err(e) => {
            if let attest::AttestError::QuotaExceeded {
                device_id,
                what,
                limit,
                retry_after,
            } = &e
                && state.metrics.device_limited(*device_id, now)
            {
                // Once an hour per device: a flooding device must not flood this log.
                log::warn!(
                    "device {device_id} reached its policy's limit of {limit} {what} in 24 hours; \
                     more are refused for {retry_after} s"
                );
            }
            return Err(e.into());
        }
    };
    state
        .metrics
        .log_appended(outcome.device_id, outcome.log_bytes, outcome.at);
    state.metrics.protocol(outcome.protocol.number());
    log::debug!(
        "device {} seq {}: {}",
        outcome.device_id,
        outcome.seq,
        outcome.verdict.as_str()
    );
    let keys = state.answer_keys.current();
    let (key, kid) = keys.signer_for(outcome.protocol, outcome.enrolled_at);
    let signed = outcome.signed(key, kid, state.tls.next_pin(), &keys.chain);
    Ok((outcome.verdict, cbor_response(signed)))
}
