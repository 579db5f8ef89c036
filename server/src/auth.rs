//! Bearer tokens for department IT, auditors and admins (design section 2).
//!
//! A token is 32 random bytes shown once as base64url; the database keeps only its
//! SHA-256, so a copy of the database does not let anyone sign in. The stored digest is
//! compared in constant time ([`subtle`]) after the lookup, so even a lookup that matched
//! on a prefix could not be told apart by timing.

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::store::TokenRow;

/// Role of a bearer token (design section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Department IT (wire name `it`): reads and changes one department.
    It,
    /// Auditor (wire name `auditor`): reads every department and the audit log, changes
    /// nothing.
    Auditor,
    /// Administrator (wire name `admin`): reads and changes every department.
    Admin,
}

impl Role {
    /// The wire name: `it`, `auditor` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::It => "it",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "it" => Ok(Role::It),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected it, auditor or admin)"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Authentication failures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The request has no `Authorization` header.
    #[error("missing bearer token (send Authorization: Bearer <token>)")]
    Missing,
    /// The header is not `Bearer <token>`, or no stored token matches.
    #[error("unknown or malformed bearer token")]
    Invalid,
    /// The system random number generator failed (minting a secret).
    #[error("random number generator failed")]
    Rng,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's role.
    pub role: Role,
    /// Set for IT tokens: the one department they may act on.
    pub department: Option<String>,
    /// Short public label for logs and `updated_by` (first 8 hex digits of the hash).
    pub label: String,
}

impl Principal {
    /// Whether this principal may read `department`.
    pub fn can_read(&self, department: &str) -> bool {
        match self.role {
            Role::Admin | Role::Auditor => true,
            Role::It => self.department.as_deref() == Some(department),
        }
    }

    /// Whether this principal may change `department`.
    pub fn can_write(&self, department: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Auditor => false,
            Role::It => self.department.as_deref() == Some(department),
        }
    }
}

/// `n` random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| AuthError::Rng)?;
    Ok(out)
}

/// A new secret: 32 random bytes as base64url (no padding).
pub fn new_secret() -> Result<String, AuthError> {
    Ok(pramaan_core::encoding::b64url(&random_bytes::<32>()?))
}

/// SHA-256 of a secret (token text or nonce bytes): what the database stores.
pub fn hash_secret(secret: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, secret);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Extracts the token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Invalid);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(AuthError::Invalid);
    }
    Ok(token)
}

/// Checks a looked-up row against the presented token's hash in constant time.
pub fn principal_from(row: Option<TokenRow>, presented: &[u8; 32]) -> Result<Principal, AuthError> {
    let row = row.ok_or(AuthError::Invalid)?;
    if !bool::from(row.hash.ct_eq(presented)) {
        return Err(AuthError::Invalid);
    }
    if row.role == Role::It && row.department.is_none() {
        return Err(AuthError::Invalid);
    }
    Ok(Principal {
        role: row.role,
        department: row.department,
        label: format!("{}:{}", row.role, &hex::encode(presented)[..8]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashes_fixed_size() {
        let a = new_secret().expect("rng");
        let b = new_secret().expect("rng");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_ne!(hash_secret(a.as_bytes()), hash_secret(b.as_bytes()));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Invalid));
        assert_eq!(bearer(Some("Bearer")), Err(AuthError::Invalid));
    }

    #[test]
    fn principal_needs_matching_hash_and_scope() {
        let h = hash_secret(b"t");
        let row = TokenRow {
            hash: h,
            role: Role::It,
            department: Some("GAD".into()),
        };
        let p = principal_from(Some(row.clone()), &h).expect("ok");
        assert!(p.can_read("GAD") && p.can_write("GAD"));
        assert!(!p.can_read("REV") && !p.can_write("REV"));
        assert_eq!(
            principal_from(Some(row), &hash_secret(b"u")),
            Err(AuthError::Invalid)
        );
        let auditor = Principal {
            role: Role::Auditor,
            department: None,
            label: String::new(),
        };
        assert!(auditor.can_read("GAD") && !auditor.can_write("GAD"));
    }
}
