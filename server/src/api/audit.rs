//! Audit log endpoints (design sections 7 and 8), for auditors and admins.
//!
//! `GET /v1/audit/checkpoint` answers the signed note as `text/plain` (what witnesses and
//! `pramaan audit verify --since` keep), `entries` the leaves as base64 in JSON pages of
//! at most [`MAX_ENTRIES_PER_REQUEST`] entries and at most [`MAX_PAGE_BYTES`] of leaf data
//! (or the client's smaller `max_bytes`; always at least one entry, and `next` says where
//! to continue), and the proof endpoints RFC 9162 inclusion and consistency proofs, range
//! proofs (one proof for a whole range of entries) and batched inclusion proofs as base64
//! hashes. `POST /v1/audit/enrollments` finds the enrollment entries (the device keys) an
//! incremental pull needs, so the auditor need not download the log before its range. Everything is read through [`read_transaction`] (the store's read-only
//! snapshot, which does not wait for writers), so an auditor pulling a large bundle never
//! stalls the group-commit writer; sizes past the log or indices past the size are 400s
//! with the reason, never panics.
//!
//! Register with `.merge(audit::routes())` in the API router.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pramaan_core::api::RejectCode;
use pramaan_tlog::LogStore;

use super::{ApiError, AppState, Auth, blocking, json_response};
use crate::audit_log::{
    self, ConsistencyQuery, EntriesQuery, EntriesResponse, InclusionQuery, LogError,
    MAX_ENTRIES_PER_REQUEST, ProofResponse,
};
use crate::store::{Role, StoreError, read_transaction};
use pramaan_tlog::{
    EnrollmentsRequest, InclusionsRequest, InclusionsResponse, MAX_BATCH, MAX_PAGE_BYTES,
    PageQuery, RangeQuery,
};

const AUDITORS: &[Role] = &[Role::Auditor, Role::Admin];

/// `GET /v1/audit/checkpoint`, `/v1/audit/entries`, `/v1/audit/proof/inclusion`,
/// `/v1/audit/proof/consistency`, `/v1/audit/proof/range`, `POST /v1/audit/proof/inclusions`
/// and `POST /v1/audit/enrollments` (auditor and admin tokens).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/audit/checkpoint", get(get_checkpoint))
        .route("/v1/audit/entries", get(get_entries))
        .route("/v1/audit/proof/inclusion", get(get_inclusion))
        .route("/v1/audit/proof/consistency", get(get_consistency))
        .route("/v1/audit/proof/range", get(get_range))
        .route("/v1/audit/proof/inclusions", post(post_inclusions))
        .route("/v1/audit/enrollments", post(post_enrollments))
        .route("/v1/audit/key-chain", get(get_key_chain))
}

/// `GET /v1/audit/key-chain`: the server's record of its checkpoint keys
/// ([`pramaan_tlog::keychain::KeyChain`]; empty lists before the first rotation). Nothing
/// in it is trusted: `audit pull` turns each rotation into a bundle step the auditor's
/// verifier checks from the key it holds.
async fn get_key_chain(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    state.log_keys.refresh();
    Ok(json_response(&*state.log_keys.chain()))
}

fn log_error(e: LogError) -> ApiError {
    match e {
        LogError::IndexOutOfRange { .. }
        | LogError::SizeOutOfRange { .. }
        | LogError::BadRange { .. }
        | LogError::SizesOutOfOrder { .. } => ApiError::new(RejectCode::BadRange, e.to_string()),
        other => ApiError::internal(format!("audit log: {other}")),
    }
}

/// Runs `f` on the log rows of a read transaction, off the async workers.
async fn with_log<R: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut dyn LogStore<Error = StoreError>, &audit_log::LogSigner) -> Result<R, LogError>
    + Send
    + 'static,
) -> Result<R, ApiError> {
    let state = state.clone();
    blocking(move || {
        read_transaction(state.store.as_ref(), |tx| {
            f(tx.log(), &state.log_keys.signer()).map_err(log_error)
        })
    })
    .await
}

async fn get_checkpoint(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let st = state.clone();
    let note = blocking(move || {
        // A rotated key is picked up before anything is signed.
        st.log_keys.refresh();
        crate::checkpoints::current(
            st.store.as_ref(),
            &st.log_keys.signer(),
            &st.metrics,
            &st.witnesses,
            &st.checkpoint_guard,
            super::now(),
        )
        .map_err(|e| match e {
            crate::checkpoints::CheckpointError::Store(s) => s.into(),
            // Refused with nothing earlier to serve, or unsignable: the reason, as a 500.
            other => {
                log::error!(
                    "checkpoint: {}",
                    crate::log_text::untrusted(&other.to_string())
                );
                ApiError::internal(other.to_string())
            }
        })
    })
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        note,
    )
        .into_response())
}

async fn get_entries(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<EntriesQuery>,
    Query(page): Query<PageQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    if q.start > q.end {
        return Err(ApiError::new(
            RejectCode::BadRange,
            format!("start {} is after end {}", q.start, q.end),
        ));
    }
    let max_bytes = page.max_bytes.unwrap_or(MAX_PAGE_BYTES);
    let page = with_log(&state, move |log, _| {
        EntriesResponse::load_bounded(log, q, max_bytes)
    })
    .await?;
    debug_assert!(page.entries.len() as u64 <= MAX_ENTRIES_PER_REQUEST);
    Ok(json_response(&page))
}

async fn get_inclusion(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<InclusionQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let proof = with_log(&state, move |log, _| {
        pramaan_tlog::inclusion_proof(log, q.index, q.size)
    })
    .await?;
    Ok(json_response(&ProofResponse::from_hashes(&proof)))
}

async fn get_consistency(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let proof = with_log(&state, move |log, _| {
        pramaan_tlog::consistency_proof(log, q.old, q.new)
    })
    .await?;
    Ok(json_response(&ProofResponse::from_hashes(&proof)))
}

async fn get_range(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let proof = with_log(&state, move |log, _| {
        pramaan_tlog::range_proof(log, q.start, q.end, q.size)
    })
    .await?;
    Ok(json_response(&ProofResponse::from_hashes(&proof)))
}

/// Reads a JSON body of type `T`; a body that is not one is a 400 naming why.
fn json_body<T: for<'de> serde::Deserialize<'de>>(
    b: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = b.map_err(|e| ApiError::new(RejectCode::Malformed, format!("body: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(RejectCode::Malformed, format!("JSON body: {e}")))
}

fn check_batch(what: &str, n: usize) -> Result<(), ApiError> {
    if n > MAX_BATCH {
        return Err(ApiError::new(
            RejectCode::BadRange,
            format!("{n} {what} asked for; at most {MAX_BATCH} per request"),
        ));
    }
    Ok(())
}

async fn post_inclusions(
    State(state): State<AppState>,
    auth: Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let req: InclusionsRequest = json_body(body)?;
    check_batch("indices", req.indices.len())?;
    let proofs = with_log(&state, move |log, _| {
        pramaan_tlog::inclusion_proofs(log, req.size, &req.indices)
    })
    .await?;
    Ok(json_response(&InclusionsResponse::from_proofs(&proofs)))
}

async fn post_enrollments(
    State(state): State<AppState>,
    auth: Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let req: EnrollmentsRequest = json_body(body)?;
    check_batch("devices", req.devices.len())?;
    let before = req.before;
    let found = with_log(&state, move |log, _| {
        pramaan_tlog::find_enrollments(log, req.before, &req.devices)
    })
    .await?;
    Ok(json_response(&EntriesResponse::from_leaves(found, before)))
}
