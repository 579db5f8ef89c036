//! Google's attestation revocation status list: keyboxes and intermediates Google has
//! revoked or suspended.
//!
//! Google publishes it at `https://android.googleapis.com/attestation/status` as JSON:
//! `{"entries": {"<serial>": {"status": "REVOKED"|"SUSPENDED", "reason": "...",
//! "expires": "...", "comment": "..."}}}`, serials in lowercase hex without leading
//! zeros. Leaked factory keyboxes (traded to fake attestation on rooted phones) are
//! retired here, not through certificate expiry, so a chain containing a listed serial
//! is refused, and a chain whose keybox has expired is accepted only while a recent copy
//! of this list says it is not listed (`policy::evidence`).
//!
//! The server runs offline: IT installs a copy with `pramaan evidence status-list import`,
//! and its age (from when it was fetched) is shown in metrics and the dashboard.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Largest status list accepted, bytes (Google's is about 30 KiB in 2026).
pub const MAX_STATUS_LIST_BYTES: usize = 16 * 1024 * 1024;

/// Why a status list was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusListError {
    /// Over [`MAX_STATUS_LIST_BYTES`].
    #[error("status list of {0} bytes is over the {MAX_STATUS_LIST_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not JSON of the published shape; holds the parser's message.
    #[error("not Google's attestation status list JSON: {0}")]
    Json(String),
    /// A key of `entries` is not a hexadecimal serial number; holds it.
    #[error("serial {0:?} is not a hexadecimal number")]
    BadSerial(String),
}

/// The status of a listed certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// `REVOKED`: never to be trusted again.
    #[serde(rename = "REVOKED")]
    Revoked,
    /// `SUSPENDED`: not trusted for now.
    #[serde(rename = "SUSPENDED")]
    Suspended,
}

impl Status {
    /// The name as Google writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Revoked => "REVOKED",
            Status::Suspended => "SUSPENDED",
        }
    }
}

/// One listed certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// Revoked or suspended.
    pub status: Status,
    /// Google's reason (`KEY_COMPROMISE`, `CA_COMPROMISE`, `SUPERSEDED`,
    /// `SOFTWARE_FLAW`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A parsed status list: serial (normalized) to entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusList {
    entries: BTreeMap<String, StatusEntry>,
}

#[derive(Deserialize)]
struct Wire {
    entries: BTreeMap<String, StatusEntry>,
}

impl StatusList {
    /// Parses the JSON Google publishes. Unknown fields (`expires`, `comment`) are
    /// ignored; an unknown status is an error (it could not be judged).
    pub fn from_json(text: &str) -> Result<Self, StatusListError> {
        if text.len() > MAX_STATUS_LIST_BYTES {
            return Err(StatusListError::TooLarge(text.len()));
        }
        let wire: Wire =
            serde_json::from_str(text).map_err(|e| StatusListError::Json(e.to_string()))?;
        let mut entries = BTreeMap::new();
        for (serial, entry) in wire.entries {
            let key = normalize_serial(&serial).ok_or(StatusListError::BadSerial(serial))?;
            entries.insert(key, entry);
        }
        Ok(Self { entries })
    }

    /// The entry of `serial` (any case, leading zeros ignored), if listed.
    pub fn get(&self, serial: &str) -> Option<&StatusEntry> {
        normalize_serial(serial).and_then(|s| self.entries.get(&s))
    }

    /// How many certificates are listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Lowercase hex without leading zeros ("0" for zero); `None` if not hex.
pub fn normalize_serial(serial: &str) -> Option<String> {
    let s = serial.trim();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let s = s.trim_start_matches('0').to_ascii_lowercase();
    Some(if s.is_empty() { "0".into() } else { s })
}

/// The status-list form of a certificate's DER serial number (big-endian magnitude).
pub fn serial_hex(magnitude: &[u8]) -> String {
    normalize_serial(&hex::encode(magnitude)).unwrap_or_else(|| "0".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"entries": {
        "2c8cdddfd5e03bfc": {"status": "REVOKED", "expires": "2020-11-13", "reason": "KEY_COMPROMISE", "comment": "Key stored on unsecure system"},
        "00C8966FCB2FBE32": {"status": "SUSPENDED", "reason": "SOFTWARE_FLAW"}
    }}"#;

    #[test]
    fn parses_googles_shape_and_normalizes_serials() {
        let list = StatusList::from_json(SAMPLE).expect("parses");
        assert_eq!(list.len(), 2);
        let e = list.get("2C8CDDDFD5E03BFC").expect("listed");
        assert_eq!(e.status, Status::Revoked);
        assert_eq!(e.reason.as_deref(), Some("KEY_COMPROMISE"));
        assert_eq!(
            list.get("c8966fcb2fbe32").map(|e| e.status),
            Some(Status::Suspended)
        );
        assert!(list.get("1234").is_none());
        assert!(list.get("not hex").is_none());
        assert_eq!(serial_hex(&[0, 0x0a, 0xbc]), "abc");
        assert_eq!(serial_hex(&[]), "0");
    }

    #[test]
    fn refuses_other_shapes() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"entries": {"zz": {"status": "REVOKED"}}}"#,
            r#"{"entries": {"01": {"status": "MAYBE"}}}"#,
            r#"{"entries": {"01": {}}}"#,
        ] {
            assert!(StatusList::from_json(bad).is_err(), "{bad}");
        }
    }
}
