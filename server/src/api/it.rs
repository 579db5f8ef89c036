//! Department IT, auditor and admin endpoints (design section 8). JSON in and out.

use axum::Router;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
