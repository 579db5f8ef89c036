//! The HTTP API (design section 8): device endpoints ([`device`]), department IT and
//! auditor endpoints ([`it`]), the revocation status list ([`evidence`]), and the shared
//! plumbing: state, bearer authentication, the client address and rate limits of the
//! device endpoints ([`crate::limits`]), body limits and metrics.
//!
//! Why the blocking helper: the store is synchronous (SQLite), so every storage call runs
//! on tokio's blocking pool and the async workers stay free for TLS and HTTP.

pub mod audit;
pub mod credentials;
pub mod dashboard;
pub mod device;
pub mod error;
pub mod evidence;
pub mod it;

use pramaan_core::api::RejectCode;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pramaan_core::ServerKey;

use crate::auth::{self, Principal};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Role, Store, read_transaction};
pub use error::{ApiError, RejectReason};

/// Largest body accepted by the IT endpoints but the registry import.
pub const IT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Largest registry CSV accepted by `POST /v1/officers/import`: 100,000 officers take
/// about 11 MB; this leaves room for long names and designations.
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Everything a handler needs.
pub struct Shared {
    /// The storage backend (SQLite).
    pub store: Arc<dyn Store>,
    /// The server's Ed25519 answer keys (sign receipts and results), re-read when
    /// rotated ([`crate::answer_keys`]).
    pub answer_keys: crate::answer_keys::AnswerKeys,
    /// The server configuration (TTLs, limits, App Attest ids).
    pub config: Config,
    /// URL devices use (enrollment URIs).
    pub public_url: String,
    /// The TLS certificate served, a staged key change, their pins (enrollment URIs,
    /// `next_pin` in answers) and expiry ([`crate::cert_renewal`]).
    pub tls: Arc<crate::cert_renewal::CertResolver>,
    /// Counters and latencies served at `GET /metrics`.
    pub metrics: Metrics,
    /// Rate limits of the device endpoints: per device, per address ([`crate::limits`]).
    pub limits: crate::limits::Limits,
    /// The key that stamps and checks server nonces (`DIR/nonce.key`).
    pub nonce_key: Arc<crate::nonce::NonceKey>,
    /// Signs audit-log checkpoints: the key in force, re-read after a rotation.
    pub log_keys: crate::log_keys::LogKeys,
    /// Trust roots for platform evidence (Google's and Apple's attestation roots).
    pub evidence_roots: Arc<pramaan_core::evidence::Roots>,
    /// Google's revocation status list in force.
    pub status_list: crate::status_list::StatusListCache,
    /// The witnesses asked to cosign each new checkpoint (`[[witnesses]]`).
    pub witnesses: Vec<crate::witness_client::WitnessEndpoint>,
    /// The server's replay of its own log, checked before each new checkpoint.
    pub checkpoint_guard: crate::checkpoints::Guard,
    /// The last department reports built, served again while nothing changed.
    pub reports: crate::compliance::ReportCache,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Handler state (cheap to clone).
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Runs `step` on the server's state every `interval`, on a thread of its own named
/// `pramaan-<what>`, until the state is dropped (the server stopped): how one instance
/// follows what another instance or an `admin` command changed under it (the status
/// list in the store, the answer and checkpoint key files). `step` logs its own outcome;
/// a thread that cannot start is logged as an error and the server runs on without it.
pub fn follow_every(
    what: &'static str,
    interval: std::time::Duration,
    shared: std::sync::Weak<Shared>,
    step: impl Fn(&Shared) + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name(format!("pramaan-{}", what.replace(' ', "-")))
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let Some(state) = shared.upgrade() else {
                    return;
                };
                step(&state);
            }
        });
    if let Err(e) = spawned {
        log::error!(
            "cannot start the {what} follower: {}",
            crate::log_text::untrusted(&e.to_string())
        );
    }
}

/// What core's rules take now: the time and the status list in force (if any).
pub fn eval_context(
    list: Option<&crate::status_list::LoadedStatusList>,
) -> pramaan_core::policy::EvalContext<'_> {
    pramaan_core::policy::EvalContext {
        now: now(),
        status_list: list.map(|l| l.view()),
    }
}

/// The server's `kid`: first 8 bytes of SHA-256 of its Ed25519 public key.
pub fn server_kid(key: &ServerKey) -> Vec<u8> {
    crate::auth::hash_secret(&key.public_key())[..8].to_vec()
}

/// A 200 answer with a JSON body (IT, auditor and admin endpoints).
pub fn json_response<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(e) => ApiError::internal(format!("encoding the answer: {e}")).into_response(),
    }
}

/// Seconds since the Unix epoch.
pub use pramaan_core::times::now;

/// Runs blocking work (storage) off the async workers.
pub async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

/// The authenticated caller of an IT, auditor or admin endpoint.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl Auth {
    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(ApiError::new(
                RejectCode::Forbidden,
                format!("role {} may not do this", self.0.role),
            ))
        }
    }

    /// Refuses unless the caller may read `department` (IT: only its own).
    pub fn require_read(&self, department: &str) -> Result<(), ApiError> {
        if self.0.can_read(department) {
            Ok(())
        } else {
            Err(self.misspelt_own(department).unwrap_or_else(|| {
                ApiError::new(
                    RejectCode::Forbidden,
                    format!("not allowed to read department {department}"),
                )
            }))
        }
    }

    /// Refuses unless the caller may change `department` (IT: only its own; auditors never).
    pub fn require_write(&self, department: &str) -> Result<(), ApiError> {
        if self.0.can_write(department) {
            Ok(())
        } else {
            Err(self.misspelt_own(department).unwrap_or_else(|| {
                ApiError::new(
                    RejectCode::Forbidden,
                    format!("not allowed to change department {department}"),
                )
            }))
        }
    }

    /// IT naming its own department in another case (`gad` for `GAD`): "did you mean",
    /// which tells it nothing it does not know. Any other department stays forbidden,
    /// without a hint of whether it exists.
    fn misspelt_own(&self, department: &str) -> Option<ApiError> {
        let own = self.0.department.as_deref()?;
        (self.0.role == Role::It && own != department && own.eq_ignore_ascii_case(department))
            .then(|| crate::compliance::ComplianceError::no_department(department, own).into())
    }

    /// The department a request is about: the one it names (`?department=D`), else an IT
    /// token's own; auditor and admin tokens must name one.
    pub fn department(&self, asked: Option<String>) -> Result<String, ApiError> {
        match (asked, &self.0.department) {
            (Some(d), _) => Ok(d),
            (None, Some(own)) => Ok(own.clone()),
            (None, None) => Err(ApiError::new(
                RejectCode::DepartmentRequired,
                "auditor and admin tokens cover every department: name one \
                 (`--department D` on the command line, `?department=D` in the API)",
            )),
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = auth::bearer(header)?;
        let hash = auth::hash_secret(token.as_bytes());
        let store = state.store.clone();
        let row =
            blocking(move || Ok(read_transaction(store.as_ref(), |tx| tx.token(&hash))?)).await?;
        // Read on every request, never cached: a revocation or expiry applies to the
        // very next request.
        Ok(Auth(auth::principal_from(row, &hash, now())?))
    }
}

/// The client's address group ([`crate::limits::address_group`]) of a device request:
/// the peer, or the client a trusted proxy names. Set by the device routes' middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The device routes' middleware: finds the client's address (behind trusted proxies),
/// passes it on, and charges it for the unsigned requests (challenge, enrollment).
/// Attestations are charged in their handler: to their device once the signature
/// verified, to the address only when they fail before that ([`device`]).
/// Resolves the client address of a device request (the peer, or through a trusted
/// proxy) and hands it to the handlers and [`charge_address`] as [`ClientAddr`].
async fn client_address(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let group = crate::limits::address_group(state.limits.proxies.client(peer, forwarded));
        req.extensions_mut().insert(ClientAddr(group));
    }
    next.run(req).await
}

/// Charges an unsigned device request (challenge, enrollment) to its client address.
/// Attestations are charged by their handler instead: to the device once the signature
/// verified, to the address only when it did not.
pub(crate) async fn charge_address(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(ClientAddr(group)) = req.extensions().get::<ClientAddr>().copied()
        && let Err(limited) = state.limits.addresses.take(group)
    {
        return ApiError::new(
            RejectCode::RateLimited,
            "too many requests from this address; retry later",
        )
        .retry_after(limited.retry_after)
        .cbor()
        .into_response();
    }
    next.run(req).await
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .request(&route, resp.status().as_u16(), start.elapsed());
    if let Some(reason) = resp.extensions().get::<RejectReason>() {
        state.metrics.rejection(reason.0.as_str());
    } else if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        state.metrics.rejection("too_large");
    }
    resp
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Who may scrape `GET /metrics`: its verdict counts, rejection reasons and per-device
/// log growth describe every department, so not IT (one department) and not anyone
/// without a token. Prometheus sends a bearer token (`authorization: credentials_file`).
const METRICS_READERS: &[Role] = &[Role::Auditor, Role::Admin];

async fn metrics(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(METRICS_READERS)?;
    let mut text = state.metrics.render();
    text.push_str(&crate::metrics::status_list_gauges(
        state.status_list.current().as_deref(),
        now(),
    ));
    text.push_str(&state.metrics.device_gauges(now()));
    text.push_str(&state.limits.gauges());
    text.push_str(&state.metrics.connections.render());
    text.push_str(&state.tls.gauges(now()));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn not_found() -> ApiError {
    ApiError::new(RejectCode::NotFound, "no such endpoint")
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let device = device::routes(&state)
        .layer(DefaultBodyLimit::max(state.config.device_body_limit()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            client_address,
        ));
    let it = it::routes().layer(DefaultBodyLimit::max(IT_BODY_LIMIT));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(device)
        .merge(it)
        .merge(dashboard::routes())
        .merge(audit::routes())
        .merge(credentials::routes())
        .merge(evidence::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .with_state(state)
}
