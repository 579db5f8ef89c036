//! After `pramaan bench --server ... --log-key FILE`: is every acknowledged attestation of
//! the run in the server's log, exactly once, where the answer said?
//!
//! Why in the bench: "acknowledged means durable" (design section 10) is the property a
//! crash or a soak must not break, and the bench is the one party that knows which
//! answers arrived. It pulls the whole log as `pramaan audit pull` does
//! ([`crate::audit::pull_bundle`]), verifies it offline as `pramaan audit verify` does
//! (proofs, signatures, the replay of what entries mean), and looks up each
//! acknowledgement `(device, seq, log index)` in it.

use std::collections::{BTreeMap, BTreeSet};

use pramaan_core::transport::Trust;
use pramaan_tlog::LogEntry;
use pramaan_tlog::bundle::{self, BuildOptions, Bundle};
use pramaan_tlog::checkpoint::VerifierKey;
use pramaan_tlog::semantics;
use serde::Serialize;
use uuid::Uuid;

use crate::CliError;
use crate::client::Client;

/// At most this many missing acknowledgements are named in the report.
const NAMED: usize = 20;

/// What the check of the log found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogCheck {
    /// Entries in the pulled log.
    pub entries: u64,
    /// Whether the bundle verified offline under the log key.
    pub verified: bool,
    /// Attestations acknowledged during the run.
    pub acknowledged: u64,
    /// Of those, found in the log at the index their answer gave, once.
    pub found: u64,
    /// Attestations of the run's devices in the log, acknowledged or not (a commit whose
    /// answer was lost in a crash is logged but not acknowledged).
    pub logged: u64,
    /// `(device, seq)` pairs of the run's devices logged more than once.
    pub duplicates: u64,
    /// Acknowledgements not found as answered, as `DEVICE SEQ INDEX` (at most 20).
    pub missing: Vec<String>,
    /// Why the log could not be pulled or did not verify, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LogCheck {
    /// Verified, every acknowledgement found, nothing logged twice.
    pub fn ok(&self) -> bool {
        self.verified
            && self.error.is_none()
            && self.found == self.acknowledged
            && self.duplicates == 0
    }
}

/// Pulls the log with `token` (admin or auditor), verifies it with `log_vkey` and checks
/// every acknowledgement `(device, seq, log index)` against it.
pub fn check_log(
    url: &str,
    trust: &Trust,
    token: &str,
    log_vkey: &str,
    acks: &[(Uuid, u64, u64)],
) -> LogCheck {
    let mut c = LogCheck {
        acknowledged: acks.len() as u64,
        ..LogCheck::default()
    };
    let b = match pull_and_verify(url, trust, token, log_vkey) {
        Ok((b, verify_error)) => {
            c.verified = verify_error.is_none();
            c.error = verify_error;
            b
        }
        Err(e) => {
            c.error = Some(e.to_string());
            return c;
        }
    };
    c.entries = b.entries.len() as u64;
    let devices: BTreeSet<Uuid> = acks.iter().map(|a| a.0).collect();
    tally(&mut c, &attestations_of(&b, &devices), acks);
    c
}

/// Counts what was logged and finds each acknowledgement in `logged`.
fn tally(c: &mut LogCheck, logged: &BTreeMap<(Uuid, u64), Vec<u64>>, acks: &[(Uuid, u64, u64)]) {
    c.logged = logged.values().map(|v| v.len() as u64).sum();
    c.duplicates = logged.values().filter(|v| v.len() > 1).count() as u64;
    for &(device, seq, index) in acks {
        if logged.get(&(device, seq)).map(Vec::as_slice) == Some(&[index]) {
            c.found += 1;
        } else if c.missing.len() < NAMED {
            c.missing.push(format!("{device} {seq} {index}"));
        }
    }
}

/// The bundle of the whole log, and why it does not verify if it does not (what it holds
/// is still reported).
fn pull_and_verify(
    url: &str,
    trust: &Trust,
    token: &str,
    log_vkey: &str,
) -> Result<(Bundle, Option<String>), CliError> {
    let vk = VerifierKey::parse(log_vkey.trim())
        .map_err(|e| CliError::new(format!("--log-key: {e}")))?;
    let client = Client::new(url, trust.clone(), token)?;
    let b = crate::audit::pull_bundle(&client, &BuildOptions::default())
        .map_err(|e| CliError::new(format!("pulling the log: {e}")))?;
    let verify_error = bundle::verify(&b, &vk, None)
        .err()
        .map(|e| format!("the pulled log does not verify: {e}"));
    Ok((b, verify_error))
}

/// `(device, seq) -> log indices` of the attestations of `devices` in `b`.
fn attestations_of(b: &Bundle, devices: &BTreeSet<Uuid>) -> BTreeMap<(Uuid, u64), Vec<u64>> {
    let mut out: BTreeMap<(Uuid, u64), Vec<u64>> = BTreeMap::new();
    for e in &b.entries {
        let Ok(LogEntry::Attestation {
            device_id, token, ..
        }) = LogEntry::from_leaf(&e.leaf)
        else {
            continue;
        };
        if !devices.contains(&device_id) {
            continue;
        }
        if let Ok(claims) = semantics::decode_claims(&token) {
            out.entry((device_id, claims.seq))
                .or_default()
                .push(e.index);
        }
    }
    out
}

/// The check in one line for the table.
pub fn summary(c: &LogCheck) -> String {
    if let Some(e) = &c.error
        && !c.verified
        && c.entries == 0
    {
        return format!("not checked: {e}");
    }
    let mut s = format!(
        "{} entries, {}; {} of {} acknowledged attestations found once at their index ({} logged for the run's devices)",
        c.entries,
        if c.verified {
            "verified"
        } else {
            "NOT verified"
        },
        c.found,
        c.acknowledged,
        c.logged
    );
    if c.duplicates > 0 {
        s.push_str(&format!("; {} logged twice", c.duplicates));
    }
    if !c.missing.is_empty() {
        s.push_str(&format!("; missing: {}", c.missing.join(", ")));
    }
    if let Some(e) = &c.error {
        s.push_str(&format!("; {e}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_are_found_only_once_and_at_their_index() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let logged = BTreeMap::from([
            ((a, 1), vec![10]),
            ((a, 2), vec![12]),
            // Committed, its answer lost: logged, never acknowledged.
            ((a, 3), vec![13]),
            ((b, 1), vec![11, 14]),
        ]);
        let acks = [(a, 1, 10), (a, 2, 99), (b, 1, 11), (b, 2, 15)];
        let mut c = LogCheck {
            verified: true,
            acknowledged: acks.len() as u64,
            ..LogCheck::default()
        };
        tally(&mut c, &logged, &acks);
        assert_eq!((c.found, c.logged, c.duplicates), (1, 5, 1));
        assert_eq!(
            c.missing,
            vec![
                format!("{a} 2 99"),
                format!("{b} 1 11"),
                format!("{b} 2 15")
            ]
        );
        assert!(!c.ok());
        let s = summary(&c);
        assert!(s.contains("1 of 4") && s.contains("1 logged twice"), "{s}");

        let mut good = LogCheck {
            verified: true,
            acknowledged: 2,
            ..LogCheck::default()
        };
        let once: BTreeMap<_, _> = logged.into_iter().filter(|(k, _)| k.0 == a).collect();
        tally(&mut good, &once, &[(a, 1, 10), (a, 2, 12)]);
        assert_eq!((good.found, good.logged, good.duplicates), (2, 3, 0));
        assert!(good.ok(), "{good:?}");
    }
}
