//! The agent's durable state: one JSON file, replaced atomically.
//!
//! Why one small file: everything the agent must not lose (who it is, whom it trusts, the
//! last sequence number it used) changes together, and [`fsutil::write_atomic`] makes a
//! replacement all-or-nothing, so a crash or a torn write leaves the previous version
//! intact. JSON rather than CBOR because officers' IT staff read it when a phone misbehaves.
//! Nothing secret is in it: the device key lives in the platform keystore (or `device.key`
//! for the desktop agent), and the enrollment token is not kept.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::claims::{Assurance, AttestResult, Failure, Platform, Verdict};
use crate::fsutil;
use crate::policy::Policy;

/// File name of the state inside the state directory.
pub const STATE_FILE: &str = "state.json";
/// Format version of [`State`].
pub const STATE_VERSION: u32 = 1;

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing the state file failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The state file, as displayed.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a state this agent reads (bad JSON or another `version`).
    #[error("state file {path} is not valid: {reason}")]
    Corrupt {
        /// The state file, as displayed.
        path: String,
        /// The JSON error or the unsupported version.
        reason: String,
    },
}

/// What the agent keeps about its enrollment and its last check-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format version; must be [`STATE_VERSION`].
    pub version: u32,
    /// The id from the enrollment receipt (the `kid` of attestations).
    pub device_id: Uuid,
    /// The officer the device is enrolled for (registry id).
    pub officer_id: String,
    /// The officer's department code.
    pub department: String,
    /// `https://...` of the server, from the enrollment URI.
    pub server: String,
    /// SPKI SHA-256 pin of the server, base64url.
    pub pin: String,
    /// The server's Ed25519 key (hex) from the receipt; `None` if the server sent none,
    /// in which case answers are trusted on the pinned TLS channel alone.
    #[serde(default)]
    pub server_key: Option<String>,
    /// The device public key (hex SEC1) enrolled; a different signer is refused.
    pub public_key: String,
    /// The platform the agent enrolled as.
    pub platform: Platform,
    /// Model reported at enrollment.
    pub model: String,
    /// Key assurance the server granted at enrollment.
    pub assurance: Assurance,
    /// What the server found the enrollment's evidence to prove (from the receipt), so
    /// the agent judges it against the policy as the server does.
    #[serde(default)]
    pub evidence: crate::evidence::EvidenceSummary,
    /// The department policy from the receipt, for local evaluation.
    pub policy: Policy,
    /// Unused server nonce (hex) and when it arrived (seconds since the epoch).
    #[serde(default)]
    pub next_nonce: Option<String>,
    /// When `next_nonce` arrived, seconds since the Unix epoch.
    #[serde(default)]
    pub nonce_received_at: u64,
    /// SHA-256 (hex) of the last nonce the server sent, spent or not: offline
    /// attestations carry it as their `anchor`.
    #[serde(default)]
    pub anchor: Option<String>,
    /// Highest sequence number ever put into a signed attestation. Saved before the
    /// attestation leaves the agent, so no number is used twice.
    pub last_seq: u64,
    /// The server's answer to the last delivered attestation.
    #[serde(default)]
    pub last_result: Option<AttestResult>,
    /// The agent's own evaluation at the last check-in.
    #[serde(default)]
    pub last_local: Option<LocalEvaluation>,
    /// Outbox entries the server refused for good (they are dropped, counted here).
    #[serde(default)]
    pub dropped: u64,
    /// The server's last online answer asked for fresh platform evidence.
    #[serde(default)]
    pub reattest_requested: bool,
    /// The server refused an attestation with 429 and `Retry-After` (the device reached
    /// its department's daily limit, or the server is busy): until this time (seconds
    /// since the epoch) check-ins are queued without contacting it. 0: none.
    #[serde(default)]
    pub retry_at: u64,
    /// The server refused this device as revoked by department IT (the last answer it
    /// gave); cleared by a later accepted attestation (IT reinstated it).
    #[serde(default)]
    pub revoked: Option<Revocation>,
    /// A TLS key change of the server: the next pin it announced in a signed answer, and
    /// whether a connection met a key matching no pin ([`super::pins`]).
    #[serde(default, skip_serializing_if = "super::pins::PinChange::is_empty")]
    pub pin_change: super::pins::PinChange,
}

/// The server's word that department IT revoked this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When the agent learnt it, seconds since the Unix epoch.
    pub at: u64,
    /// IT's reason, if the server gave one.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What the agent computed on the device for a check-in (the officer's to-do list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalEvaluation {
    /// The `seq` of the attestation it was computed for.
    pub seq: u64,
    /// Seconds since the epoch.
    pub at: u64,
    /// The verdict rules R1..R5 give on the device's own facts.
    pub verdict: Verdict,
    /// The failing rules with what to fix.
    pub failures: Vec<Failure>,
}

impl State {
    /// The state file's path inside the state directory `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    /// Loads the state, `None` if the agent has not enrolled.
    pub fn load(dir: &Path) -> Result<Option<State>, StateError> {
        let path = Self::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(StateError::Corrupt {
                path: path.display().to_string(),
                reason: format!("unsupported version {}", state.version),
            });
        }
        Ok(Some(state))
    }

    /// Replaces the state file atomically (mode 0600).
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        let path = Self::path(dir);
        let io = |source| StateError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        fsutil::write_atomic(&path, &bytes, 0o600).map_err(io)
    }

    /// [`State::next_nonce`] decoded from hex; `None` if absent or not hex.
    pub fn next_nonce_bytes(&self) -> Option<Vec<u8>> {
        self.next_nonce.as_deref().and_then(|n| hex::decode(n).ok())
    }

    /// [`State::server_key`] decoded from hex; `None` if absent or not 32 bytes of hex.
    pub fn server_key_bytes(&self) -> Option<[u8; 32]> {
        self.server_key
            .as_deref()
            .and_then(|k| hex::decode(k).ok())
            .and_then(|k| k.try_into().ok())
    }
}

/// Removes temporary files that a write interrupted by a crash left behind
/// (`.state.json.tmp<pid>`; see [`fsutil::write_atomic`]). The state file itself is never
/// touched. One agent process per state directory is assumed, as everywhere here.
pub fn remove_stale_temp_files(dir: &Path) {
    let prefix = format!(".{STATE_FILE}.tmp");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> State {
        State {
            version: STATE_VERSION,
            device_id: Uuid::from_u128(7),
            officer_id: "GAD-001".into(),
            department: "GAD".into(),
            server: "https://127.0.0.1:1".into(),
            pin: crate::transport::b64url(&[1; 32]),
            server_key: Some(hex::encode([2; 32])),
            public_key: hex::encode([4; 65]),
            platform: Platform::Desktop,
            model: "Test".into(),
            assurance: Assurance::Software,
            evidence: Default::default(),
            anchor: None,
            policy: Policy {
                department: "GAD".into(),
                name: String::new(),
                check_in_hours: 24,
                email_domains: vec!["gujarat.gov.in".into()],
                platforms: vec![],
                groups: vec![],
                evidence: Default::default(),
                limits: Default::default(),
            },
            next_nonce: Some(hex::encode([3; 32])),
            nonce_received_at: 5,
            last_seq: 9,
            last_result: None,
            last_local: None,
            dropped: 0,
            reattest_requested: false,
            retry_at: 0,
            revoked: None,
            pin_change: crate::agent::pins::PinChange::default(),
        }
    }

    #[test]
    fn round_trips_and_reports_absence() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(State::load(dir.path()).expect("load").is_none());
        let s = sample();
        s.save(dir.path()).expect("save");
        assert_eq!(State::load(dir.path()).expect("load"), Some(s.clone()));
        assert_eq!(s.server_key_bytes(), Some([2; 32]));
        assert_eq!(s.next_nonce_bytes(), Some(vec![3; 32]));
    }

    #[test]
    fn stale_temp_files_are_removed_and_state_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        sample().save(dir.path()).expect("save");
        std::fs::write(dir.path().join(".state.json.tmp4242"), b"{torn").expect("tmp");
        remove_stale_temp_files(dir.path());
        assert!(!dir.path().join(".state.json.tmp4242").exists());
        assert_eq!(State::load(dir.path()).expect("load"), Some(sample()));
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let full = serde_json::to_vec(&sample()).expect("json");
        for cut in [0, 1, full.len() / 2, full.len() - 1] {
            std::fs::write(State::path(dir.path()), &full[..cut]).expect("write");
            assert!(matches!(
                State::load(dir.path()),
                Err(StateError::Corrupt { .. })
            ));
        }
        let mut other = sample();
        other.version = 99;
        std::fs::write(
            State::path(dir.path()),
            serde_json::to_vec(&other).expect("json"),
        )
        .expect("write");
        assert!(State::load(dir.path()).is_err());
    }
}
