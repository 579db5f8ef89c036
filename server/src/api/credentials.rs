//! Credential endpoints (design section 8): bearer tokens minted, listed and revoked by
//! admins (`POST /v1/tokens`, `GET /v1/tokens`, `POST /v1/tokens/{id}/revoke`), enrollment tokens listed by anyone
//! who may read the department and cancelled by whoever may change it (`GET
//! /v1/enrollment-tokens`, `POST /v1/enrollment-tokens/{id}/cancel`). The rules live in
//! [`crate::credentials`], shared with the command line's `--data` mode.
//!
//! Who may do what: bearer tokens are an admin's business only (an IT token listing
//! tokens would learn who else holds the keys). Auditors read enrollment tokens (to tie
//! them to the log's `EnrollTokenIssued` entries) but cancel nothing; IT lists and cancels
//! its own department's; an enrollment token of another department is answered as one
//! that does not exist.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use pramaan_core::api::{
    EnrollTokenList, EnrollTokenState, MintTokenRequest, MintedToken, RejectCode, TokenList,
};
use serde::Deserialize;

use super::{ApiError, AppState, Auth, blocking, json_response, now};
use crate::auth::TokenId;
use crate::credentials::{self, CredentialError};
use crate::store::{Role, read_transaction, transaction};

/// Most enrollment tokens one list returns (newest first).
pub const LIST_LIMIT: u64 = 50_000;

const ADMINS: &[Role] = &[Role::Admin];
const READERS: &[Role] = &[Role::It, Role::Auditor, Role::Admin];
const WRITERS: &[Role] = &[Role::It, Role::Admin];

/// The credential routes, except `GET /v1/enrollment-tokens` which shares its path with
/// the IT routes' `POST` ([`list_enrollment_tokens`] is routed there).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", get(list_tokens).post(mint_token))
        .route("/v1/tokens/{id}/revoke", post(revoke_token))
        .route(
            "/v1/enrollment-tokens/{id}/cancel",
            post(cancel_enrollment_token),
        )
}

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> Self {
        let e = match e {
            CredentialError::Store(s) => return s.into(),
            other => other,
        };
        let code = match &e {
            CredentialError::Store(_) => RejectCode::Internal,
            CredentialError::Rng => return ApiError::internal("random number generator failed"),
            CredentialError::Invalid(_) | CredentialError::Ambiguous(_) => RejectCode::Malformed,
            CredentialError::UnknownDepartment { .. }
            | CredentialError::NoToken(_)
            | CredentialError::NoEnrollToken(_) => RejectCode::NotFound,
            CredentialError::AlreadyRevoked(_) => RejectCode::AlreadyRevoked,
            CredentialError::LastAdmin(_) => RejectCode::Forbidden,
            CredentialError::NotOutstanding { state, .. } => match state {
                EnrollTokenState::Used | EnrollTokenState::Outstanding => RejectCode::TokenUsed,
                EnrollTokenState::Expired => RejectCode::TokenExpired,
                EnrollTokenState::Cancelled => RejectCode::TokenCancelled,
            },
        };
        ApiError::new(code, e.to_string())
    }
}

async fn list_tokens(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(ADMINS)?;
    let st = state.clone();
    let rows = blocking(move || Ok(read_transaction(st.store.as_ref(), |tx| tx.tokens())?)).await?;
    Ok(json_response(&TokenList {
        tokens: rows.iter().map(credentials::token_info).collect(),
    }))
}

async fn mint_token(
    State(state): State<AppState>,
    auth: Auth,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(ADMINS)?;
    let req: MintTokenRequest = super::it::json_body(b)?;
    let role: Role = req
        .role
        .parse()
        .map_err(|e: String| ApiError::new(RejectCode::Malformed, e))?;
    let st = state.clone();
    let by = auth.0.label.clone();
    let now = now();
    let minted = blocking(move || {
        Ok(transaction(st.store.as_ref(), |tx| {
            credentials::mint(
                tx,
                &credentials::NewToken {
                    role,
                    department: req.department.as_deref(),
                    name: req.name.as_deref(),
                    expires_in: req.expires_in_secs,
                    new_department: req.new_department,
                    by: &by,
                },
                now,
            )
        })?)
    })
    .await?;
    credentials::log_minted(&minted.row);
    Ok(json_response(&MintedToken {
        info: credentials::token_info(&minted.row),
        token: minted.secret,
    }))
}

async fn revoke_token(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(ADMINS)?;
    let id: TokenId = id
        .parse()
        .map_err(|e: String| ApiError::new(RejectCode::Malformed, e))?;
    let st = state.clone();
    let by = auth.0.label.clone();
    let now = now();
    let row = blocking(move || {
        Ok(transaction(st.store.as_ref(), |tx| {
            credentials::revoke(tx, id, &by, now)
        })?)
    })
    .await?;
    credentials::log_revoked(&row, &auth.0.label);
    let mut info = credentials::token_info(&row);
    info.revoked_at = Some(now);
    info.revoked_by = Some(auth.0.label.clone());
    Ok(json_response(&info))
}

/// `GET /v1/enrollment-tokens` query.
#[derive(Debug, Deserialize)]
pub struct EnrollTokensQuery {
    /// The department (IT: its own by default; auditors and admins: every one by default).
    pub department: Option<String>,
    /// Also used, expired and cancelled tokens.
    #[serde(default)]
    pub all: bool,
}

/// `GET /v1/enrollment-tokens?department=D[&all=true]`: outstanding tokens (with `all`,
/// every token and its state), newest first, never the token itself.
pub async fn list_enrollment_tokens(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<EnrollTokensQuery>,
) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    let department = q.department.or_else(|| auth.0.department.clone());
    match &department {
        Some(d) => auth.require_read(d)?,
        // Only IT tokens are limited to a department, and they always have one.
        None if auth.0.role == Role::It => {
            return Err(ApiError::new(
                RejectCode::Forbidden,
                "IT lists its own department",
            ));
        }
        None => {}
    }
    let st = state.clone();
    let now = now();
    let rows = blocking(move || {
        Ok(read_transaction(st.store.as_ref(), |tx| {
            tx.enroll_tokens_of(department.as_deref(), q.all, now, LIST_LIMIT)
        })?)
    })
    .await?;
    Ok(json_response(&EnrollTokenList {
        tokens: rows
            .iter()
            .map(|t| credentials::enroll_token_info(t, now))
            .collect(),
    }))
}

async fn cancel_enrollment_token(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let prefix = credentials::parse_enroll_token_id(&id)?;
    let st = state.clone();
    let principal = auth.0.clone();
    let now = now();
    let t = blocking(move || {
        Ok(transaction(st.store.as_ref(), |tx| {
            credentials::cancel_enroll(
                tx,
                &prefix,
                &|d| principal.can_write(d),
                &principal.label,
                now,
            )
        })?)
    })
    .await?;
    credentials::log_cancelled(&t, &auth.0.label);
    let mut t = t;
    t.row.cancelled_at = Some(now);
    t.row.cancelled_by = Some(auth.0.label.clone());
    Ok(json_response(&credentials::enroll_token_info(&t, now)))
}
