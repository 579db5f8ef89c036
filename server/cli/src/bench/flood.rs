//! `pramaan bench --flood`: one enrolled device sending attestations as fast as it can,
//! and what it added to the audit log against what its department's policy allows.
//!
//! Why: the audit log keeps every accepted attestation whole and forever, so the one
//! figure that matters for its growth is what a single device (a misbehaving agent, or a
//! stolen device key) can make the server append. The flooder here is as bad as a device
//! can be within the protocol: it answers every nonce it gets, sends offline attestations
//! in between (they need no nonce), and pads each one with legitimate claims (e-mail
//! accounts) to just under the server's attestation body limit. The server runs with the
//! per-address rate limit off, so what bounds the log is the policy's `[limits]` alone.
//!
//! Reported: requests, accepted, refused with `quota_exceeded` and otherwise; log entries
//! and bytes appended (the leaves, read from the store) against the allowance: the
//! policy's `attestations_per_day` entries, each at most the attest body limit plus the
//! server's own fields ([`LEAF_OVERHEAD`]).

use std::path::Path;
use std::time::{Duration, Instant};

use pramaan_core::claims::{self, AttestResult, Attestation};
use pramaan_core::cose::{self, DEVICE_CONTENT_TYPE, Sign1};
use pramaan_core::transport::{HttpsClient, Trust};
use pramaan_server::auth::hash_secret;
use pramaan_server::server;
use pramaan_server::store::read_transaction;
use serde::Serialize;

use super::{BenchDevice, POLICY, bench_setup, enroll_all, err, facts, options};
use crate::CliError;

/// Bytes a log leaf holds besides the device's token: the entry's framing, the server's
/// verdict and failures, the department, officer and device ids. Generous: the measured
/// overhead is reported beside it.
pub const LEAF_OVERHEAD: u64 = 2048;

/// What one flooding device achieved.
#[derive(Debug, Clone, Serialize)]
pub struct FloodReport {
    /// Length of the flood, seconds.
    pub seconds: f64,
    /// The policy's `attestations_per_day`.
    pub attestations_per_day: u32,
    /// The policy's `offline_per_day`.
    pub offline_per_day: u32,
    /// The server's attestation body limit, bytes.
    pub attest_body_limit: usize,
    /// Largest token the flooder sent, bytes.
    pub token_bytes_max: usize,
    /// Attestations sent.
    pub requests: u64,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Answered 200 (recorded and logged).
    pub accepted: u64,
    /// Refused with 429 `quota_exceeded`.
    pub refused_quota: u64,
    /// Refused otherwise (e.g. an offline run over `max_offline_run`), or failed.
    pub refused_other: u64,
    /// Audit-log entries appended during the flood.
    pub log_entries_appended: u64,
    /// Bytes of those entries (leaf data).
    pub log_bytes_appended: u64,
    /// Largest leaf minus its token, bytes (measured; compare [`LEAF_OVERHEAD`]).
    pub leaf_overhead_max: u64,
    /// Entries the policy allows in a day: `attestations_per_day`.
    pub allowance_entries: u64,
    /// Bytes the policy allows in a day: entries x (body limit + [`LEAF_OVERHEAD`]).
    pub allowance_bytes: u64,
    /// Whether entries and bytes stayed within the allowance.
    pub within_allowance: bool,
    /// Entries of the whole log an auditor pulled after the flood (`pramaan audit pull`'s
    /// own code, over HTTPS).
    pub pulled_entries: u64,
    /// Whether that bundle verified offline (proofs, signatures, meaning).
    pub pull_verified: bool,
}

/// The bench department's policy with these limits.
fn flood_policy(per_day: u32, offline_per_day: u32) -> String {
    let base = POLICY.split("[limits]").next().unwrap_or(POLICY);
    format!(
        "{base}[limits]\nattestations_per_day = {per_day}\noffline_per_day = {offline_per_day}\n"
    )
}

/// One padding e-mail account of about `len` bytes (a claim the server accepts).
fn address(i: usize, len: usize) -> String {
    format!("{}-{i:02}@gujarat.gov.in", "x".repeat(len))
}

/// Padding accounts that bring `claims` to just under `limit` bytes once signed (a token
/// is the claims plus ~100 bytes of COSE; 300 bytes are kept spare for the claims that
/// vary between attestations: seq, nonce or anchor). The protocol accepts at most
/// `MAX_EMAILS` accounts, so the padding is as many as remain, each as long as needed.
fn padding_for(claims: &Attestation, limit: usize) -> Vec<String> {
    let count = claims::MAX_EMAILS.saturating_sub(claims.email.len());
    let with = |len: usize| -> (Vec<String>, usize) {
        let padding: Vec<String> = (0..count).map(|i| address(i, len)).collect();
        let mut c = claims.clone();
        c.email.extend(padding.iter().cloned());
        let size = c.to_cbor().len();
        (padding, size)
    };
    let mut len = 0;
    for step in [64, 1] {
        while count > 0 && with(len + step).1 + 300 < limit {
            len += step;
        }
    }
    with(len).0
}

/// Floods for `duration` from one device against a policy of `per_day` attestations
/// (`offline_per_day` offline) and reports what reached the log.
pub fn run_flood(
    duration: Duration,
    per_day: u32,
    offline_per_day: u32,
    data: Option<&Path>,
) -> Result<FloodReport, CliError> {
    let (dir, init, config) = bench_setup(data, "flood")?;
    let limit = config.attest_body_limit();
    let running = server::start_with_config(&dir.0, config).map_err(err)?;
    let (url, pin) = (running.url.clone(), running.pin);
    let mut fleet = enroll_all(&url, pin, &init.admin_token, 1)?;
    let mut dev: BenchDevice = fleet.pop().ok_or_else(|| CliError::new("no device"))?;
    let admin = HttpsClient::new(&url, Trust::Pin(pin), options())
        .map_err(err)?
        .with_bearer(init.admin_token.as_str());
    let r = admin
        .put(
            "/v1/departments/BENCH/policy",
            "application/toml",
            flood_policy(per_day, offline_per_day).as_bytes(),
        )
        .map_err(err)?;
    if r.status != 200 {
        return Err(CliError::new(format!(
            "setting the flood policy: HTTP {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )));
    }
    let store = running.store();
    let log_size = || read_transaction(store.as_ref(), |tx| tx.log().size()).map_err(err);
    let start_size = log_size()?;

    let client = HttpsClient::new(&url, Trust::Pin(pin), options()).map_err(err)?;
    // The receipt's nonce anchors offline attestations until a fresh answer moves it.
    let mut anchor = hash_secret(&dev.nonce).to_vec();
    let padding = padding_for(&facts(dev.id, &dev.officer, None, 1), limit);
    let mut token_lens = Vec::new();
    let (mut requests, mut accepted, mut refused_quota, mut refused_other) = (0u64, 0, 0, 0);
    let start = Instant::now();
    let deadline = start + duration;
    while Instant::now() < deadline {
        dev.seq += 1;
        // Every other one offline: no nonce needed, chained to the anchor.
        let fresh = requests % 2 == 0;
        let mut c = facts(
            dev.id,
            &dev.officer,
            fresh.then(|| dev.nonce.clone()),
            dev.seq,
        );
        if !fresh {
            c.anchor = Some(anchor.clone());
        }
        c.email.extend(padding.iter().cloned());
        let token = cose::sign_es256(&dev.signer, dev.id.as_bytes(), c.to_cbor()).map_err(err)?;
        requests += 1;
        let r = client
            .post("/v1/attest", DEVICE_CONTENT_TYPE, &token)
            .map_err(err)?;
        match r.status {
            200 => {
                let msg = Sign1::parse(&r.body).map_err(err)?;
                let result: AttestResult = claims::decode(msg.unverified_payload()).map_err(err)?;
                dev.nonce = result.next_nonce;
                if fresh {
                    anchor = hash_secret(&dev.nonce).to_vec();
                }
                token_lens.push(token.len() as u64);
                accepted += 1;
            }
            429 => refused_quota += 1,
            _ => refused_other += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let end_size = log_size()?;
    let leaves = read_transaction(store.as_ref(), |tx| tx.log().leaves(start_size, end_size))
        .map_err(err)?;
    // An auditor then pulls the whole log and verifies it.
    let auditor = crate::client::Client::new(&url, Trust::Pin(pin), init.admin_token.as_str())?;
    let pulled = crate::audit::pull_bundle(&auditor, &Default::default())
        .map_err(|e| CliError::new(format!("audit pull after the flood: {e}")))?;
    let pull_verified =
        pramaan_server::audit_log::bundle::verify(&pulled, &vkey_of(&init.log_vkey)?, None)
            .map_err(|e| log::error!("the bundle pulled after the flood: {e}"))
            .is_ok();
    running.shutdown();
    let log_bytes: u64 = leaves.iter().map(|(_, d)| d.len() as u64).sum();
    // Leaves are appended in acceptance order, as the token lengths were recorded.
    let leaf_overhead_max = leaves
        .iter()
        .zip(&token_lens)
        .map(|((_, d), t)| (d.len() as u64).saturating_sub(*t))
        .max()
        .unwrap_or(0);
    let allowance_entries = u64::from(per_day);
    let allowance_bytes = allowance_entries * (limit as u64 + LEAF_OVERHEAD);
    let entries = end_size - start_size;
    Ok(FloodReport {
        seconds: elapsed,
        attestations_per_day: per_day,
        offline_per_day,
        attest_body_limit: limit,
        token_bytes_max: token_lens.iter().copied().max().unwrap_or(0) as usize,
        requests,
        requests_per_sec: if elapsed > 0.0 {
            requests as f64 / elapsed
        } else {
            0.0
        },
        accepted,
        refused_quota,
        refused_other,
        log_entries_appended: entries,
        log_bytes_appended: log_bytes,
        leaf_overhead_max,
        allowance_entries,
        allowance_bytes,
        within_allowance: entries <= allowance_entries && log_bytes <= allowance_bytes,
        pulled_entries: pulled.end - pulled.start,
        pull_verified,
    })
}

fn vkey_of(text: &str) -> Result<pramaan_server::audit_log::VerifierKey, CliError> {
    pramaan_server::audit_log::VerifierKey::parse(text.trim()).map_err(err)
}

/// The report as a table.
pub fn print_flood(r: &FloodReport) {
    outln!(
        "pramaan bench --flood: one device, as fast as it can, for {:.1} s",
        r.seconds
    );
    outln!(
        "  policy [limits]          attestations_per_day = {}, offline_per_day = {}",
        r.attestations_per_day,
        r.offline_per_day
    );
    outln!(
        "  requests                 {} ({:.0}/s), tokens up to {} B (limit {} B)",
        r.requests,
        r.requests_per_sec,
        r.token_bytes_max,
        r.attest_body_limit
    );
    outln!(
        "  accepted                 {}\n  refused quota_exceeded   {}\n  refused otherwise        {}",
        r.accepted,
        r.refused_quota,
        r.refused_other
    );
    outln!(
        "  log entries appended     {} (allowance {} a day)",
        r.log_entries_appended,
        r.allowance_entries
    );
    outln!(
        "  log bytes appended       {} (allowance {} a day; leaf overhead up to {} B)",
        r.log_bytes_appended,
        r.allowance_bytes,
        r.leaf_overhead_max
    );
    outln!(
        "  within the allowance     {}",
        if r.within_allowance { "yes" } else { "NO" }
    );
    outln!(
        "  audit pull of the log    {} entries, {}",
        r.pulled_entries,
        if r.pull_verified {
            "verified"
        } else {
            "NOT verified"
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few seconds of flood against a small allowance: the log grows by the allowance
    /// and no more, every further attestation is refused with `quota_exceeded`, and the
    /// padded tokens were as large as the body limit lets them be.
    #[test]
    fn a_flood_appends_no_more_than_the_allowance() {
        let r = run_flood(Duration::from_secs(2), 6, 3, None).expect("flood");
        assert!(r.within_allowance, "{r:?}");
        assert_eq!((r.accepted, r.log_entries_appended), (6, 6), "{r:?}");
        assert!(r.refused_quota > 10, "{r:?}");
        assert_eq!(r.refused_other, 0, "{r:?}");
        assert!(r.token_bytes_max + 400 >= r.attest_body_limit, "{r:?}");
        assert!(r.token_bytes_max <= r.attest_body_limit, "{r:?}");
        assert!(r.leaf_overhead_max <= LEAF_OVERHEAD, "{r:?}");
        assert!(r.log_bytes_appended <= r.allowance_bytes, "{r:?}");
        // The whole log still pulls and verifies (proofs, signatures, meaning).
        assert!(r.pull_verified, "{r:?}");
        assert!(r.pulled_entries >= r.log_entries_appended, "{r:?}");
    }
}
