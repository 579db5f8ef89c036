//! Bearer tokens for department IT, auditors and admins (design section 2).
//!
//! A token is 32 random bytes shown once as base64url; the database keeps only its
//! SHA-256, so a copy of the database does not let anyone sign in. The stored digest is
//! compared in constant time ([`subtle`]) after the lookup, so even a lookup that matched
//! on a prefix could not be told apart by timing.
//!
//! A token has a public id ([`TokenId`]): the first 4 bytes of its SHA-256 in hex, the
//! same digits as the label its requests are logged under (`it:1a2b3c4d`). Ids are unique
//! (the minting code draws a new secret on a collision), so `pramaan admin tokens revoke
//! ID` names one token.
//!
//! Expiry and revocation are checked on every request against the row read in that
//! request: nothing about a token is cached, so a revocation takes effect on the next
//! request. A revoked or expired token is answered with its own wording (401 "this bearer
//! token was revoked" / "has expired"). That tells nothing to anyone without the token:
//! only the holder of the secret can present it, and to them it says why they were let
//! in yesterday and not today. A guessed or unknown token still gets "unknown or
//! malformed", so the answers reveal no token that the caller does not hold.

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
    /// The token was revoked by an admin.
    #[error("this bearer token was revoked; ask an admin for a new one")]
    Revoked,
    /// The token's expiry has passed.
    #[error("this bearer token has expired; ask an admin for a new one")]
    Expired,
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
    /// Short public label for logs and `updated_by`: `role:id` ([`TokenId`]).
    pub label: String,
}

/// A bearer token's public id: the first 4 bytes of its SHA-256, shown as 8 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenId(pub [u8; 4]);

impl TokenId {
    /// The id of the token hashing to `hash`.
    pub fn of(hash: &[u8; 32]) -> Self {
        Self([hash[0], hash[1], hash[2], hash[3]])
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for TokenId {
    type Err = String;
    /// 8 hex digits, or a label `role:8hex` (what logs and `created_by` show).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let digits = s.rsplit_once(':').map_or(s, |(_, id)| id);
        let bytes = hex::decode(digits)
            .ok()
            .filter(|b| b.len() == 4)
            .ok_or_else(|| {
                format!(
                    "\"{}\" is not a token id (8 hex digits, as `pramaan admin tokens list` shows)",
                    pramaan_core::text::for_terminal(s)
                )
            })?;
        let mut id = [0u8; 4];
        id.copy_from_slice(&bytes);
        Ok(Self(id))
    }
}

/// The label a token's requests are logged under: `role:id`.
pub fn label(role: Role, hash: &[u8; 32]) -> String {
    format!("{role}:{}", TokenId::of(hash))
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

/// Checks a looked-up row against the presented token's hash in constant time, then its
/// revocation and expiry at `now` (seconds since the Unix epoch).
pub fn principal_from(
    row: Option<TokenRow>,
    presented: &[u8; 32],
    now: u64,
) -> Result<Principal, AuthError> {
    let row = row.ok_or(AuthError::Invalid)?;
    if !bool::from(row.hash.ct_eq(presented)) {
        return Err(AuthError::Invalid);
    }
    if row.role == Role::It && row.department.is_none() {
        return Err(AuthError::Invalid);
    }
    if row.revoked_at.is_some() {
        return Err(AuthError::Revoked);
    }
    if row.expires_at.is_some_and(|e| now >= e) {
        return Err(AuthError::Expired);
    }
    Ok(Principal {
        role: row.role,
        label: label(row.role, &row.hash),
        department: row.department,
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
        let row = TokenRow::new(h, Role::It, Some("GAD".into()), 10);
        let p = principal_from(Some(row.clone()), &h, 10).expect("ok");
        assert!(p.can_read("GAD") && p.can_write("GAD"));
        assert!(!p.can_read("REV") && !p.can_write("REV"));
        assert_eq!(p.label, format!("it:{}", TokenId::of(&h)));
        assert_eq!(
            principal_from(Some(row), &hash_secret(b"u"), 10),
            Err(AuthError::Invalid)
        );
        let auditor = Principal {
            role: Role::Auditor,
            department: None,
            label: String::new(),
        };
        assert!(auditor.can_read("GAD") && !auditor.can_write("GAD"));
    }

    #[test]
    fn revoked_and_expired_tokens_are_refused_with_their_reason() {
        let h = hash_secret(b"t");
        let mut row = TokenRow::new(h, Role::Admin, None, 10);
        row.expires_at = Some(100);
        assert!(principal_from(Some(row.clone()), &h, 99).is_ok());
        assert_eq!(
            principal_from(Some(row.clone()), &h, 100),
            Err(AuthError::Expired)
        );
        row.revoked_at = Some(50);
        assert_eq!(
            principal_from(Some(row.clone()), &h, 60),
            Err(AuthError::Revoked)
        );
        // A wrong secret never learns that the row is revoked.
        assert_eq!(
            principal_from(Some(row), &hash_secret(b"x"), 60),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn token_ids_parse_from_digits_or_labels() {
        let h = hash_secret(b"t");
        let id = TokenId::of(&h);
        assert_eq!(id.to_string().parse::<TokenId>(), Ok(id));
        assert_eq!(label(Role::It, &h).parse::<TokenId>(), Ok(id));
        assert!("xyz".parse::<TokenId>().is_err());
        assert!("1234567".parse::<TokenId>().is_err());
        assert!("123456789a".parse::<TokenId>().is_err());
    }
}
