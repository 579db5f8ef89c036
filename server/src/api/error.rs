//! One error type for every handler, rendered as the design's error body
//! `{error: code, message: text}`: CBOR for devices, JSON for everyone else.
//!
//! Why one type with a format flag: the status codes and codes are the same on both sides;
//! only the encoding differs by audience, so the device handlers just mark their errors
//! [`ApiError::cbor`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pramaan_core::api::RejectCode;
use pramaan_core::claims::{ErrorBody, encode};

use crate::store::StoreError;

/// A rejected request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status, always `code.status()`.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `nonce_reused`.
    pub code: RejectCode,
    /// What went wrong, for a person.
    pub message: String,
    /// Render as CBOR (device endpoints) instead of JSON.
    pub cbor: bool,
    /// Seconds for a `Retry-After` header (a 429 that knows when to come back).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A rejection with `code` (which fixes the HTTP status) and a readable message.
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            // Every code's status is a valid HTTP status (400..=599, tested in core).
            status: StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
            cbor: false,
            retry_after: None,
        }
    }

    /// The same error with a `Retry-After: secs` header.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The same error for a device (CBOR body).
    pub fn cbor(mut self) -> Self {
        self.cbor = true;
        self
    }

    /// 413 with the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            RejectCode::TooLarge,
            format!("request body over the {limit}-byte limit"),
        )
    }

    /// 500; the detail is for the server log, the message for the client.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(RejectCode::Internal, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Conflict(detail) = &e {
            // A constraint refused the write: a concurrent request got there first.
            log::warn!("storage conflict: {}", crate::log_text::untrusted(detail));
            return ApiError::new(
                RejectCode::Conflict,
                "a concurrent request changed the same record; nothing was recorded",
            );
        }
        log::error!(
            "storage failure: {}",
            crate::log_text::untrusted(&e.to_string())
        );
        // The detail stays in the server log; the client learns only that it failed.
        ApiError::internal("storage failure; nothing was recorded")
    }
}

impl From<crate::attest::AttestError> for ApiError {
    fn from(e: crate::attest::AttestError) -> Self {
        match e {
            // Logged, and a conflict told apart from a failure, as for every handler.
            crate::attest::AttestError::Store(store) => ApiError::from(store),
            crate::attest::AttestError::QuotaExceeded { retry_after, .. } => {
                ApiError::new(e.code(), e.to_string()).retry_after(retry_after)
            }
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

impl From<crate::enroll::EnrollError> for ApiError {
    fn from(e: crate::enroll::EnrollError) -> Self {
        use crate::enroll::EnrollError;
        match e {
            EnrollError::Store(store) => ApiError::from(store),
            EnrollError::Nonce(inner) => ApiError::from(inner),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Rng => ApiError::internal("random number generator failed"),
            other => ApiError::new(RejectCode::Unauthorized, other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.as_str().to_string(),
            message: self.message,
        };
        let (bytes, content_type) = if self.cbor {
            (encode(&body), "application/cbor")
        } else {
            (
                serde_json::to_vec(&body).unwrap_or_default(),
                "application/json",
            )
        };
        let mut resp = (self.status, bytes).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if self.status == StatusCode::UNAUTHORIZED && !self.cbor {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // Lets the metrics layer count rejections by reason.
        resp.extensions_mut().insert(RejectReason(self.code));
        resp
    }
}

/// The code of a rejection, attached to the response for metrics.
#[derive(Debug, Clone, Copy)]
pub struct RejectReason(pub RejectCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cbor_for_devices_and_json_otherwise() {
        let e = ApiError::new(RejectCode::NonceReused, "used").cbor();
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        assert_eq!(
            resp.headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/cbor"[..])
        );
        let resp = ApiError::new(RejectCode::Forbidden, "no").into_response();
        assert_eq!(
            resp.headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
    }
}
