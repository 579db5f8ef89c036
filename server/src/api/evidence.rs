//! Evidence endpoints (design section 8): Google's attestation revocation status list.
//!
//! Why an endpoint and not a fetch: the server runs offline on a department LAN, so it
//! cannot download `https://android.googleapis.com/attestation/status` itself. An admin
//! fetches a copy and installs it (`pramaan evidence status-list import`); every Android
//! chain is then judged against it (a listed serial is refused; an expired factory keybox
//! passes only while the list is recent, `status_list_max_age_days` of the policy). How
//! old the copy is matters as much as what it says, so the fetch time travels with it and
//! its age is shown here, in `GET /metrics` and on the dashboard.
//!
//! | Method | Path | Roles | Body / query | Answer |
//! |---|---|---|---|---|
//! | `PUT` | `/v1/evidence/status-list` | admin | Google's JSON; `?fetched_at=UNIX_SECONDS` (default: now) | `{entries, fetched_at, imported_at}` |
//! | `GET` | `/v1/evidence/status-list` | admin, auditor, it | — | `{entries, fetched_at, imported_at, age_days}`, 404 when none is installed |
//!
//! Only an admin installs: the list decides for every department, so a department's IT
//! may not replace it (403), and an auditor changes nothing (403). Everyone with a token
//! may read it, since it explains their devices' verdicts. A body that is not Google's
//! format, or a `fetched_at` in the future, is a 400 `malformed` naming the problem, and
//! the list in force stays as it was ([`StatusListCache::install`] validates before it
//! stores). The body limit is the list's own ([`MAX_STATUS_LIST_BYTES`], 413 above it),
//! not the device endpoints' small one. An install is logged at info with who did it,
//! the entry count and the fetch time, never the body; the audit log gets the body
//! itself (a `StatusListInstalled` entry, in the install's transaction), since it decides
//! verdicts.
//!
//! [`StatusListCache::install`]: crate::status_list::StatusListCache::install

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::put;
use pramaan_core::api::{RejectCode, StatusListInfo, StatusListInstalled};
use pramaan_core::evidence::StatusListError;
use pramaan_core::evidence::status_list::MAX_STATUS_LIST_BYTES;
use serde::Deserialize;

use super::{ApiError, AppState, Auth, blocking, json_response, now};
use crate::status_list::{LoadedStatusList, StatusListLoadError};
use crate::store::Role;

/// Who may read the list: every role.
const READERS: &[Role] = &[Role::It, Role::Auditor, Role::Admin];
/// Who may install one: admins only.
const INSTALLERS: &[Role] = &[Role::Admin];

const DAY: u64 = 86_400;

/// `PUT` and `GET /v1/evidence/status-list`, with the list's body limit.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/evidence/status-list",
            put(put_status_list).get(get_status_list),
        )
        .layer(DefaultBodyLimit::max(MAX_STATUS_LIST_BYTES))
}

/// The query of `PUT /v1/evidence/status-list`.
#[derive(Debug, Deserialize)]
struct InstallQuery {
    /// When the copy was fetched from Google, Unix seconds (default: now).
    fetched_at: Option<u64>,
}

/// The description of `loaded` at `now` (`GET /v1/evidence/status-list`).
pub fn info(loaded: &LoadedStatusList, now: u64) -> StatusListInfo {
    StatusListInfo {
        entries: entry_count(loaded),
        fetched_at: loaded.fetched_at,
        imported_at: loaded.imported_at,
        age_days: now.saturating_sub(loaded.fetched_at) / DAY,
    }
}

fn entry_count(loaded: &LoadedStatusList) -> u64 {
    u64::try_from(loaded.list.len()).unwrap_or(u64::MAX)
}

fn load_error(e: StatusListLoadError, fetched_at: u64, now: u64) -> ApiError {
    match e {
        StatusListLoadError::Parse(StatusListError::TooLarge(_)) => {
            ApiError::too_large(MAX_STATUS_LIST_BYTES)
        }
        StatusListLoadError::Parse(p) => ApiError::new(
            RejectCode::Malformed,
            format!("{p}; the installed list is unchanged"),
        ),
        StatusListLoadError::FromTheFuture => ApiError::new(
            RejectCode::Malformed,
            format!(
                "fetched_at {fetched_at} is in the future (server time {now}); \
                 the installed list is unchanged"
            ),
        ),
        StatusListLoadError::Older { .. } => ApiError::new(
            RejectCode::Conflict,
            format!("{e}: install a newer copy; the installed list is unchanged"),
        ),
        StatusListLoadError::Store(s) => s.into(),
    }
}

async fn put_status_list(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<InstallQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(INSTALLERS)?;
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            RejectCode::Malformed,
            format!(
                "query: {} (expected ?fetched_at=UNIX_SECONDS)",
                e.body_text()
            ),
        )
    })?;
    let bytes = match body {
        Ok(b) => b,
        Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::too_large(MAX_STATUS_LIST_BYTES));
        }
        Err(rej) => return Err(ApiError::new(RejectCode::Malformed, rej.body_text())),
    };
    let json = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(RejectCode::Malformed, "body is not UTF-8 text"))?;
    let now = now();
    let fetched_at = q.fetched_at.unwrap_or(now);
    let st = state.clone();
    let by = auth.0.label.clone();
    let loaded = blocking(move || {
        st.status_list
            .install(st.store.as_ref(), &json, fetched_at, now, &by)
            .map_err(|e| load_error(e, fetched_at, now))
    })
    .await?;
    log::info!(
        "{} installed the revocation status list: {} entries, fetched at {}",
        auth.0.label,
        loaded.list.len(),
        loaded.fetched_at
    );
    Ok(json_response(&StatusListInstalled {
        entries: entry_count(&loaded),
        fetched_at: loaded.fetched_at,
        imported_at: loaded.imported_at,
    }))
}

async fn get_status_list(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    match state.status_list.current() {
        Some(loaded) => Ok(json_response(&info(&loaded, now()))),
        None => Err(ApiError::new(
            RejectCode::NotFound,
            "no revocation status list is installed (an admin installs one with \
             `pramaan evidence status-list import FILE`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pramaan_core::evidence::StatusList;

    fn loaded(fetched_at: u64) -> LoadedStatusList {
        let list =
            StatusList::from_json(r#"{"entries":{"1a":{"status":"REVOKED"}}}"#).expect("parses");
        LoadedStatusList {
            list,
            fetched_at,
            imported_at: fetched_at + 10,
        }
    }

    #[test]
    fn age_is_whole_days_since_the_fetch_and_never_negative() {
        let l = loaded(1_000_000);
        let i = info(&l, 1_000_000 + 3 * DAY - 1);
        assert_eq!(
            (i.entries, i.fetched_at, i.imported_at),
            (1, 1_000_000, 1_000_010)
        );
        assert_eq!(i.age_days, 2);
        assert_eq!(info(&l, 1_000_000 + 3 * DAY).age_days, 3);
        // A fetch time slightly ahead of the clock (accepted within the skew) is age 0.
        assert_eq!(info(&l, 999_900).age_days, 0);
    }

    #[test]
    fn errors_name_the_problem_and_say_nothing_changed() {
        let e = load_error(
            StatusListLoadError::Parse(StatusListError::BadSerial("xyz".into())),
            5,
            10,
        );
        assert_eq!(e.code, RejectCode::Malformed);
        assert!(e.message.contains("\"xyz\""), "{}", e.message);
        assert!(e.message.contains("unchanged"), "{}", e.message);
        let e = load_error(StatusListLoadError::FromTheFuture, 9_999, 10);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("9999 is in the future"), "{}", e.message);
        let e = load_error(
            StatusListLoadError::Parse(StatusListError::TooLarge(MAX_STATUS_LIST_BYTES + 1)),
            0,
            0,
        );
        assert_eq!(e.code, RejectCode::TooLarge);
    }
}
