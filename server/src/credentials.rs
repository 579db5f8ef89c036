//! The lifecycle of credentials (design section 2): bearer tokens are minted with a name
//! and an optional expiry, listed and revoked; enrollment tokens are listed and cancelled.
//!
//! Why one module for the command line and the API: `pramaan admin token` and `pramaan
//! admin tokens list|revoke --data DIR` work on the database directly (so the first admin
//! token exists before any server runs, and an admin locked out of the API can still
//! revoke), while `GET /v1/tokens` and `POST /v1/tokens/{id}/revoke` do the same over
//! HTTPS. Both run these functions inside their transaction, so the rules (a unique id,
//! never the last admin token, only an outstanding enrollment token is cancelled) hold
//! whichever way a change comes in.
//!
//! Every issuance, revocation and cancellation is logged with `log::info!` (id, name,
//! role, department, by whom), never the token; cancellations are appended to the audit
//! log too, so a replay flags an enrollment by a cancelled token.

use pramaan_core::api::{EnrollTokenInfo, EnrollTokenState, TokenInfo};

use crate::auth::{self, Role, TokenId};
use crate::store::{EnrollTokenListing, LogEntry, StoreError, TokenRow, Tx};

/// Who changes credentials from the command line on the data directory (`created_by`,
/// `revoked_by`): no bearer token is involved there.
pub const ADMIN_CLI: &str = "admin-cli";

/// Longest token name, characters.
pub const MAX_NAME_CHARS: usize = 64;

/// How many secrets are drawn before giving up on a unique id (a collision of 32-bit ids
/// is rare below tens of thousands of tokens; eight in a row means a broken generator).
const MINT_ATTEMPTS: usize = 8;

/// Hex digits of an enrollment token's id (8 bytes: unique in practice for any number of
/// tokens a state issues; any longer prefix of the hash, up to all of it, is accepted).
pub const ENROLL_ID_BYTES: usize = 8;

/// Credential changes refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// A bad argument (role and department, name), in words.
    #[error("{0}")]
    Invalid(String),
    /// An IT token for a department with neither a policy nor an officer.
    #[error("{}", unknown_department_text(.given, .known))]
    UnknownDepartment {
        /// The department asked for.
        given: String,
        /// The departments that exist.
        known: Vec<String>,
    },
    /// No bearer token has this id.
    #[error("no bearer token {0} (see `pramaan admin tokens list`)")]
    NoToken(TokenId),
    /// The bearer token was revoked before.
    #[error("bearer token {0} is revoked already")]
    AlreadyRevoked(TokenId),
    /// Revoking it would leave no usable admin token.
    #[error(
        "bearer token {0} is the last usable admin token: without one nobody could mint or \
         revoke tokens over the API; mint another first (`pramaan admin token --role admin`)"
    )]
    LastAdmin(TokenId),
    /// No enrollment token (the caller may see) has this id.
    #[error("no enrollment token {0} (see `pramaan enroll-token list --all`)")]
    NoEnrollToken(String),
    /// The id is a prefix of several enrollment tokens' hashes.
    #[error("enrollment token id {0} matches more than one token; give all 16 hex digits")]
    Ambiguous(String),
    /// Only an outstanding token can be cancelled.
    #[error("enrollment token {id} is {} already; only an outstanding token can be cancelled", .state.as_str())]
    NotOutstanding {
        /// The token's id.
        id: String,
        /// Where it stands.
        state: EnrollTokenState,
    },
}

fn unknown_department_text(given: &str, known: &[String]) -> String {
    let given_shown = pramaan_core::text::for_terminal(given);
    let hint = match known.iter().find(|k| k.eq_ignore_ascii_case(given)) {
        Some(k) => format!(" {k}, not {given_shown}?"),
        None => String::new(),
    };
    let list = if known.is_empty() {
        "none yet".to_string()
    } else {
        known.join(", ")
    };
    format!(
        "no department {given_shown}: it has no policy and no officer.{hint} Known departments: \
         {list}. Give --new-department to mint the token for a department that does not \
         exist yet."
    )
}

/// What a new bearer token is to be.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    /// Its role.
    pub role: Role,
    /// The department of an IT token (required for it, refused for the others).
    pub department: Option<&'a str>,
    /// Its name; default `<role>[-<department>]-<YYYY-MM-DD>`.
    pub name: Option<&'a str>,
    /// Its life, seconds; `None`: it never expires.
    pub expires_in: Option<u64>,
    /// Mint an IT token for a department that has no policy or officer yet.
    pub new_department: bool,
    /// Who mints it (an admin token's label, or [`ADMIN_CLI`]).
    pub by: &'a str,
}

/// A minted token: the secret (shown once) and its row.
#[derive(Debug)]
pub struct Minted {
    /// The token text; nowhere stored.
    pub secret: String,
    /// What the database keeps.
    pub row: TokenRow,
}

/// Mints a bearer token in `tx`: checks role, department and name, draws secrets until
/// the id is unused, stores the hash and appends an `ApiTokenIssued` entry (hash and
/// label, never the token).
pub fn mint(tx: &mut dyn Tx, spec: &NewToken<'_>, now: u64) -> Result<Minted, CredentialError> {
    let department = spec.department.map(str::trim).filter(|d| !d.is_empty());
    match (spec.role, department) {
        (Role::It, None) => {
            return Err(CredentialError::Invalid(
                "an it token needs --department".into(),
            ));
        }
        (Role::Auditor | Role::Admin, Some(_)) => {
            return Err(CredentialError::Invalid(format!(
                "a {} token covers every department; drop --department",
                spec.role
            )));
        }
        _ => {}
    }
    if let Some(d) = department
        && !spec.new_department
    {
        let known = tx.departments()?;
        if !known.iter().any(|k| k == d) {
            return Err(CredentialError::UnknownDepartment {
                given: d.to_string(),
                known,
            });
        }
    }
    let name = match spec.name.map(str::trim) {
        Some(n) => check_name(n)?,
        None => default_name(spec.role, department, now),
    };
    let expires_at = spec
        .expires_in
        .map(|secs| {
            now.checked_add(secs)
                .ok_or_else(|| CredentialError::Invalid("the expiry is too far away".into()))
        })
        .transpose()?;
    for _ in 0..MINT_ATTEMPTS {
        let secret = auth::new_secret().map_err(|_| CredentialError::Rng)?;
        let hash = auth::hash_secret(secret.as_bytes());
        let id = TokenId::of(&hash);
        if !tx.tokens_by_prefix(&id.0, 1)?.is_empty() {
            log::warn!("token id {id} is taken; drawing another secret");
            continue;
        }
        let row = TokenRow {
            name: Some(name.clone()),
            created_by: Some(spec.by.to_string()),
            expires_at,
            ..TokenRow::new(hash, spec.role, department.map(str::to_string), now)
        };
        tx.insert_token(&row)?;
        tx.append_log(&LogEntry::ApiTokenIssued {
            at: now,
            role: spec.role.to_string(),
            department: row.department.clone(),
            label: auth::label(spec.role, &hash),
            token_hash: hash.to_vec(),
        })?;
        return Ok(Minted { secret, row });
    }
    Err(CredentialError::Rng)
}

/// Logs a minted token (after its transaction committed): id, name, role, department,
/// by whom, expiry; never the token.
pub fn log_minted(row: &TokenRow) {
    let id = TokenId::of(&row.hash);
    let role = row.role;
    let expires = row
        .expires_at
        .map_or_else(|| "never".to_string(), |e| e.to_string());
    log::info!(
        "{} minted {role} token {id} named {} for department {}, expires {expires}",
        crate::log_text::untrusted(row.created_by.as_deref().unwrap_or("?")),
        crate::log_text::untrusted(row.name.as_deref().unwrap_or("")),
        crate::log_text::untrusted(row.department.as_deref().unwrap_or("-")),
    );
}

/// A name: 1 to [`MAX_NAME_CHARS`] characters, none of them control or bidi characters.
fn check_name(name: &str) -> Result<String, CredentialError> {
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(CredentialError::Invalid(format!(
            "a token name has 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if let Some((_, c)) = pramaan_core::text::first_unsafe_char(name) {
        return Err(CredentialError::Invalid(format!(
            "a token name cannot hold the character U+{:04X}",
            u32::from(c)
        )));
    }
    Ok(name.to_string())
}

/// `it-GAD-2026-11-29`, `admin-2026-11-29`: readable in a list, and says when.
fn default_name(role: Role, department: Option<&str>, now: u64) -> String {
    let date = i64::try_from(now)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .map(|t| t.date().to_string())
        .unwrap_or_else(|| now.to_string());
    match department {
        Some(d) => format!("{role}-{d}-{date}"),
        None => format!("{role}-{date}"),
    }
}

/// A token's row as listed: never its hash.
pub fn token_info(row: &TokenRow) -> TokenInfo {
    TokenInfo {
        id: TokenId::of(&row.hash).to_string(),
        name: row.name.clone(),
        role: row.role.to_string(),
        department: row.department.clone(),
        created_at: row.created_at,
        created_by: row.created_by.clone(),
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        revoked_by: row.revoked_by.clone(),
    }
}

/// Revokes bearer token `id` in `tx` (`by` names who). Refused for an unknown or revoked
/// token and for the last usable admin token ([`Tx::revoke_token`] decides, in one
/// conditional write). Returns the row as it was.
pub fn revoke(
    tx: &mut dyn Tx,
    id: TokenId,
    by: &str,
    now: u64,
) -> Result<TokenRow, CredentialError> {
    let row = tx
        .tokens_by_prefix(&id.0, 1)?
        .into_iter()
        .next()
        .ok_or(CredentialError::NoToken(id))?;
    if row.revoked_at.is_some() {
        return Err(CredentialError::AlreadyRevoked(id));
    }
    if !tx.revoke_token(&row.hash, by, now)? {
        return Err(if row.role == Role::Admin {
            CredentialError::LastAdmin(id)
        } else {
            CredentialError::AlreadyRevoked(id)
        });
    }
    Ok(row)
}

/// Logs a revocation (after its transaction committed).
pub fn log_revoked(row: &TokenRow, by: &str) {
    let id = TokenId::of(&row.hash);
    let role = row.role;
    log::info!(
        "{} revoked {role} token {id} named {} of department {}",
        crate::log_text::untrusted(by),
        crate::log_text::untrusted(row.name.as_deref().unwrap_or("")),
        crate::log_text::untrusted(row.department.as_deref().unwrap_or("-")),
    );
}

/// An enrollment token's public id: the first [`ENROLL_ID_BYTES`] of its SHA-256 in hex.
pub fn enroll_token_id(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..ENROLL_ID_BYTES])
}

/// Where an enrollment token stands at `now`.
pub fn enroll_token_state(row: &crate::store::EnrollTokenRow, now: u64) -> EnrollTokenState {
    if row.used {
        EnrollTokenState::Used
    } else if row.cancelled_at.is_some() {
        EnrollTokenState::Cancelled
    } else if now >= row.expires {
        EnrollTokenState::Expired
    } else {
        EnrollTokenState::Outstanding
    }
}

/// An enrollment token as listed: never the token.
pub fn enroll_token_info(t: &EnrollTokenListing, now: u64) -> EnrollTokenInfo {
    EnrollTokenInfo {
        id: enroll_token_id(&t.row.hash),
        officer_id: t.row.officer_id.clone(),
        department: t.department.clone(),
        state: enroll_token_state(&t.row, now),
        created_at: t.row.created_at,
        created_by: t.row.created_by.clone(),
        expires: t.row.expires,
        allow_additional: t.row.allow_additional,
        cancelled_at: t.row.cancelled_at,
        cancelled_by: t.row.cancelled_by.clone(),
    }
}

/// Parses an enrollment token id: 8 to 64 hex digits, an even number (a prefix of the
/// SHA-256, as listed or as the audit log records it).
pub fn parse_enroll_token_id(text: &str) -> Result<Vec<u8>, CredentialError> {
    let t = text.trim();
    hex::decode(t)
        .ok()
        .filter(|b| (4..=32).contains(&b.len()))
        .ok_or_else(|| {
            CredentialError::Invalid(format!(
                "\"{}\" is not an enrollment token id (16 hex digits, as `pramaan enroll-token \
                 list` shows)",
                pramaan_core::text::for_terminal(t)
            ))
        })
}

/// Cancels the outstanding enrollment token whose id is `prefix`, if `may_cancel` allows
/// its department (a token of a department the caller may not change is answered as one
/// that does not exist). Appends an `EnrollTokenCancelled` entry in the same transaction.
pub fn cancel_enroll(
    tx: &mut dyn Tx,
    prefix: &[u8],
    may_cancel: &dyn Fn(&str) -> bool,
    by: &str,
    now: u64,
) -> Result<EnrollTokenListing, CredentialError> {
    let shown = hex::encode(prefix);
    let mut found = tx.enroll_tokens_by_prefix(prefix, 2)?;
    if found.len() > 1 {
        return Err(CredentialError::Ambiguous(shown));
    }
    let t = found
        .pop()
        .filter(|t| may_cancel(&t.department))
        .ok_or_else(|| CredentialError::NoEnrollToken(shown.clone()))?;
    let state = enroll_token_state(&t.row, now);
    if state != EnrollTokenState::Outstanding || !tx.cancel_enroll_token(&t.row.hash, by, now)? {
        return Err(CredentialError::NotOutstanding {
            id: enroll_token_id(&t.row.hash),
            state: if state == EnrollTokenState::Outstanding {
                EnrollTokenState::Used
            } else {
                state
            },
        });
    }
    tx.append_log(&LogEntry::EnrollTokenCancelled {
        at: now,
        department: t.department.clone(),
        officer_id: t.row.officer_id.clone(),
        token_hash: t.row.hash.to_vec(),
        by: by.to_string(),
    })?;
    Ok(t)
}

/// Logs a cancellation (after its transaction committed).
pub fn log_cancelled(t: &EnrollTokenListing, by: &str) {
    let id = enroll_token_id(&t.row.hash);
    log::info!(
        "{} cancelled enrollment token {id} of officer {} (department {})",
        crate::log_text::untrusted(by),
        crate::log_text::untrusted(&t.row.officer_id),
        crate::log_text::untrusted(&t.department),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_readable_and_dated() {
        assert_eq!(
            default_name(Role::It, Some("GAD"), 1_795_910_400),
            "it-GAD-2026-11-29"
        );
        assert_eq!(default_name(Role::Admin, None, 0), "admin-1970-01-01");
    }

    #[test]
    fn names_are_bounded_and_plain() {
        assert!(check_name("laptop of GAD IT").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(check_name("a\u{1b}[2Jb").is_err());
        assert!(check_name("a\u{202e}b").is_err());
    }

    #[test]
    fn an_unknown_department_lists_the_known_and_suggests_a_near_one() {
        let known = vec!["GAD".to_string(), "REV".to_string()];
        let text = unknown_department_text("gad", &known);
        assert!(text.contains("GAD, not gad?"), "{text}");
        assert!(text.contains("Known departments: GAD, REV"), "{text}");
        assert!(text.contains("--new-department"), "{text}");
        let text = unknown_department_text("NOSUCH", &known);
        assert!(!text.contains("not NOSUCH?"), "{text}");
        assert!(unknown_department_text("X", &[]).contains("none yet"));
    }

    #[test]
    fn enrollment_token_ids_parse() {
        assert_eq!(
            parse_enroll_token_id("0011223344556677").map_err(|e| e.to_string()),
            Ok(vec![0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])
        );
        assert!(parse_enroll_token_id("001122").is_err());
        assert!(parse_enroll_token_id("0011223").is_err());
        assert!(parse_enroll_token_id("zz11223344556677").is_err());
        assert!(parse_enroll_token_id(&"00".repeat(33)).is_err());
    }
}
