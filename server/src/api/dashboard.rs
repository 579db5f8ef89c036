//! The browser dashboard (`GET /`): department IT and auditors see compliance at a glance.
//!
//! Why a static page calling the same JSON API: the dashboard holds no privilege of its
//! own. The user signs in with the same bearer token the `pramaan` command uses; the page
//! keeps it in `sessionStorage` and sends it as an `Authorization` header from `fetch`, so
//! the server's role checks (IT sees only its department) apply unchanged, and no cookie
//! exists that a cross-site request could ride on.
//!
//! Everything is served from this binary (no CDN, works offline on a department LAN): the
//! HTML, `/dashboard.js` and `/dashboard.css` are compiled in from `server/assets/`.
//! Scripts and styles are separate files so the Content-Security-Policy can forbid every
//! inline script and style (`script-src 'self'`): even if an officer's name in the registry
//! held markup, it could not run (the script also only ever sets `textContent`).
//! `/dashboard/log-key` serves the audit log's public (verifier) key for display, and
//! `/dashboard/tls` the TLS certificate's expiry (a warning from 60 days before it).
//!
//! The token is typed or pasted into the sign-in form, never taken from a link: a
//! `#token=` fragment is cleared from the address bar unread and the page says sign-in
//! links are not accepted (tokens in links end up in chats, histories and screenshots).
//!
//! What the page asks the API for (design section 8): `GET /v1/whoami` (the role,
//! department and token label it shows), `GET /v1/departments` (the picker, for auditors
//! and admins), `GET /v1/compliance?department=&q=&status=&platform=&assurance=&sort=
//! &order=&page=&per_page=50` (one page of the list: search, filters, sort and pages are
//! the server's, [`crate::report_query`], so a department of 100,000 officers sends 50
//! rows), the same query with `format=csv` and no page for the export (downloaded as a
//! Blob named `D-compliance-YYYY-MM-DD.csv`), `GET /v1/officers/{id}` for the officer
//! page (`#officer=ID`; the list's state is in the fragment too, so the back button
//! returns to it) and `POST /v1/devices/{id}/revoke` from it (IT and admins; a reason is
//! required). Times are shown in IST (Asia/Kolkata, UTC+05:30). At phone width (412 px)
//! the page does not scroll sideways: tables scroll inside their own box.
//! `server/cli/tests/dashboard_browser.rs` drives all of it in headless Chromium.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// The page.
pub const HTML: &str = include_str!("../../assets/dashboard.html");
/// Its script.
pub const JS: &str = include_str!("../../assets/dashboard.js");
/// Its style sheet.
pub const CSS: &str = include_str!("../../assets/dashboard.css");

/// Sent with every dashboard response: only this origin's script, style and API; no
/// framing, no plugins, no forms posting elsewhere, no referrer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `GET /`, `/dashboard.js`, `/dashboard.css`, `/dashboard/log-key`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/dashboard.js", get(script))
        .route("/dashboard.css", get(style))
        .route("/dashboard/log-key", get(log_key))
        .route("/dashboard/tls", get(tls_status))
}

fn with_headers(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn page() -> Response {
    with_headers("text/html; charset=utf-8", HTML)
}

async fn script() -> Response {
    with_headers("text/javascript; charset=utf-8", JS)
}

async fn style() -> Response {
    with_headers("text/css; charset=utf-8", CSS)
}

async fn log_key(State(state): State<AppState>) -> Response {
    with_headers(
        "text/plain; charset=utf-8",
        format!("{}\n", state.log_keys.signer().verifier_key()),
    )
}

/// `GET /dashboard/tls`: the served certificate's expiry, its warning from 60 days
/// before, and a staged key change ([`crate::cert_renewal::TlsStatus`], JSON). Without a
/// token: every TLS client sees the certificate in the handshake anyway.
async fn tls_status(State(state): State<AppState>) -> Response {
    let status = state.tls.status(super::now());
    let body = serde_json::to_string(&status).unwrap_or_else(|_| "{}".into());
    with_headers("application/json", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained() {
        // No external asset: every src/href is local or a data: URL.
        for attr in ["src=\"", "href=\""] {
            for part in HTML.split(attr).skip(1) {
                let url = part.split('"').next().unwrap_or("");
                assert!(
                    url.starts_with('/') || url.starts_with("data:"),
                    "external reference {url:?}"
                );
            }
        }
        assert!(
            !HTML.contains("<style"),
            "inline style would need 'unsafe-inline'"
        );
        assert!(!HTML.contains("onclick") && !HTML.contains("onsubmit"));
        // Every <script> is external (CSP script-src 'self').
        for part in HTML.split("<script").skip(1) {
            assert!(
                part.trim_start().starts_with("src="),
                "inline script: {part}"
            );
        }
    }

    #[test]
    fn script_never_writes_html_and_keeps_the_token_in_session_storage() {
        assert!(!JS.contains("innerHTML") && !JS.contains("outerHTML"));
        assert!(!JS.contains("document.write") && !JS.contains("eval("));
        assert!(
            !JS.contains("localStorage"),
            "the token must not outlive the tab"
        );
        assert!(JS.contains("sessionStorage") && JS.contains("Authorization"));
    }

    #[test]
    fn csp_forbids_inline_and_foreign_code() {
        assert!(CSP.contains("script-src 'self'"));
        assert!(!CSP.contains("unsafe-inline") && !CSP.contains("unsafe-eval"));
        assert!(HeaderValue::from_str(CSP).is_ok());
    }
}
