//! `pramaan bench --audit-pull-entries N`: an auditor pulls a bundle of N log entries
//! while the devices attest; with `--audit-pull-only`, the pull alone ([`pull_only`]):
//! a full pull of the log, the offline verify of that bundle, then an incremental
//! `pull --since` of 1,000 new entries, each against a baseline of the same run (the raw
//! read of the leaves from SQLite).
//!
//! Why: an auditor's pull is the heaviest reader the server has (pages of up to a
//! thousand entries bounded by bytes, one range proof, one batched request for the key
//! enrollments' proofs), and the store promises
//! that audit reads use a read-only snapshot that neither waits for the writer nor stalls
//! it ([`pramaan_server::store::Store::with_read`]). This measures that promise from the
//! outside: the same load alone and with the pull, over HTTPS, with an auditor token.
//!
//! The pull is `pramaan audit pull`'s own code ([`crate::audit::request`] answering
//! [`bundle::build_bundle`]'s requests), only stopped when the load's window closes, so
//! that the two load runs compare like with like. The seeded entries are realistic
//! attestation leaves ([`DemoDevice`]: ES256 tokens of ~600 bytes, kid = device id)
//! preceded by their devices' enrollments, so a complete pull verifies offline.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pramaan_core::transport::Trust;
use pramaan_server::audit_log::bench::DemoDevice;
use pramaan_server::audit_log::bundle::{self, BuildError, BuildOptions, Request, Response};
use pramaan_server::store::{LogEntry, Store, StoreError, read_transaction, transaction};
use serde::Serialize;

use super::err;
use crate::CliError;
use crate::audit;
use crate::client::Client;

/// Entries appended per transaction while seeding.
const SEED_BATCH: u64 = 5000;
/// Devices whose attestations fill the seeded range.
const SEED_DEVICES: usize = 8;
/// The fetch error that ends a pull when the load's window closes.
const WINDOW_CLOSED: &str = "the load window closed";

/// How far the auditor's pull got within the load's window.
#[derive(Debug, Clone, Serialize)]
pub struct PullProgress {
    /// Entries asked for (the seeded range).
    pub entries_requested: u64,
    /// Leaves downloaded (`/v1/audit/entries` pages).
    pub entries_downloaded: u64,
    /// Entries of the range whose inclusion proof was downloaded too.
    pub entries_proved: u64,
    /// HTTP requests the pull made.
    pub requests: u64,
    /// The bundle was complete within the window.
    pub complete: bool,
    /// How long the pull ran, seconds.
    pub seconds: f64,
    /// entries_proved / seconds.
    pub entries_per_sec: f64,
    /// Size of the complete bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_bytes: Option<usize>,
    /// Whether the complete bundle verified offline against the log key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_verified: Option<bool>,
    /// A failure other than the window closing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn entries(devices: &[DemoDevice], from: u64, to: u64, at: u64) -> Result<Vec<LogEntry>, CliError> {
    (from..to)
        .map(|i| {
            devices[(i % devices.len() as u64) as usize]
                .attestation(at, i + 1)
                .map_err(err)
        })
        .collect()
}

/// Appends `n` attestation entries (after their devices' enrollments) through the
/// store's transactions, `SEED_BATCH` at a time, signing on `threads` threads. Returns
/// the range `[start, end)` of the attestation entries.
pub fn seed(store: &dyn Store, n: u64, threads: usize) -> Result<(u64, u64), CliError> {
    seed_devices(store, n, threads).map(|(range, _)| range)
}

/// [`seed`], also returning the devices (to attest again later).
fn seed_devices(
    store: &dyn Store,
    n: u64,
    threads: usize,
) -> Result<((u64, u64), Vec<DemoDevice>), CliError> {
    let at = pramaan_server::api::now();
    let devices = (0..SEED_DEVICES)
        .map(|i| DemoDevice::generate(&format!("AUDIT{i:03}")).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    let enrollments = devices
        .iter()
        .map(|d| d.enrollment(at).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    transaction(store, |tx| -> Result<(), StoreError> {
        for e in &enrollments {
            tx.append_log(e)?;
        }
        Ok(())
    })
    .map_err(err)?;
    let range = attest(store, &devices, 0, n, threads)?;
    Ok((range, devices))
}

/// Appends attestations number `[from, to)` of `devices` (round robin); returns their
/// range of log indices.
fn attest(
    store: &dyn Store,
    devices: &[DemoDevice],
    from: u64,
    to: u64,
    threads: usize,
) -> Result<(u64, u64), CliError> {
    let at = pramaan_server::api::now();
    let n = to;
    let threads = threads.max(1) as u64;
    let mut range: Option<(u64, u64)> = None;
    let mut done = from;
    while done < n {
        let batch_end = n.min(done + SEED_BATCH);
        // Signing dominates; spread each batch over the cores.
        let per = (batch_end - done).div_ceil(threads);
        let mut batch = Vec::with_capacity((batch_end - done) as usize);
        let parts = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let from = (done + t * per).min(batch_end);
                    let to = (from + per).min(batch_end);
                    s.spawn(move || entries(devices, from, to, at))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| CliError::new("seeding thread panicked"))?
                })
                .collect::<Result<Vec<_>, CliError>>()
        })?;
        for part in parts {
            batch.extend(part);
        }
        let (first, last) = transaction(store, |tx| -> Result<(u64, u64), StoreError> {
            let mut first = None;
            let mut last = 0;
            for e in &batch {
                last = tx.append_log(e)?;
                first.get_or_insert(last);
            }
            Ok((first.unwrap_or(last), last))
        })
        .map_err(err)?;
        range = Some(match range {
            None => (first, last + 1),
            Some((start, _)) => (start, last + 1),
        });
        done = batch_end;
    }
    range.ok_or_else(|| CliError::new("nothing was seeded"))
}

/// What the auditor's thread brings back.
struct Pulled {
    result: Result<bundle::Bundle, BuildError>,
    downloaded: u64,
    proved: u64,
    requests: u64,
    seconds: f64,
    window_closed: bool,
}

/// An auditor pulling in the background.
pub struct Auditor {
    requested: u64,
    handle: JoinHandle<Pulled>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("requested", &self.requested)
            .finish_non_exhaustive()
    }
}

/// Starts pulling `[range.0, range.1)` over HTTPS with the auditor `token`, as
/// `pramaan audit pull --start --end` does, until done or `window` is over.
pub fn start(
    url: &str,
    pin: [u8; 32],
    token: &str,
    range: (u64, u64),
    window: Duration,
) -> Result<Auditor, CliError> {
    let http = Client::new(url, Trust::Pin(pin), token)?;
    let handle = std::thread::Builder::new()
        .name("bench-auditor".into())
        .spawn(move || {
            let started = Instant::now();
            let deadline = started + window;
            let (mut downloaded, mut proved, mut requests) = (0u64, 0u64, 0u64);
            let mut window_closed = false;
            let mut fetch = |req: Request| -> Result<Response, BuildError> {
                if Instant::now() >= deadline {
                    window_closed = true;
                    return Err(BuildError::Fetch(WINDOW_CLOSED.into()));
                }
                let proves = match &req {
                    Request::Range { start, end, .. } => end - start,
                    _ => 0,
                };
                let is_page = matches!(&req, Request::Entries { start, .. } if *start >= range.0);
                let resp = audit::request(&http, req)?;
                requests += 1;
                proved += proves;
                if let (true, Response::Entries(page)) = (is_page, &resp) {
                    downloaded += page.len() as u64;
                }
                Ok(resp)
            };
            let opts = BuildOptions {
                start: Some(range.0),
                end: Some(range.1),
                ..BuildOptions::default()
            };
            let result = bundle::build_bundle(&mut fetch, &opts);
            Pulled {
                result,
                downloaded,
                proved,
                requests,
                seconds: started.elapsed().as_secs_f64(),
                window_closed,
            }
        })
        .map_err(err)?;
    Ok(Auditor {
        requested: range.1 - range.0,
        handle,
    })
}

impl Auditor {
    /// Waits for the pull to end and verifies the bundle, if complete, against the log's
    /// verifier key (outside the measured window).
    pub fn finish(self, log_vkey: &str) -> Result<PullProgress, CliError> {
        let p = self
            .handle
            .join()
            .map_err(|_| CliError::new("auditor thread panicked"))?;
        let mut progress = PullProgress {
            entries_requested: self.requested,
            entries_downloaded: p.downloaded,
            entries_proved: p.proved,
            requests: p.requests,
            complete: false,
            seconds: p.seconds,
            entries_per_sec: if p.seconds > 0.0 {
                p.proved as f64 / p.seconds
            } else {
                0.0
            },
            bundle_bytes: None,
            bundle_verified: None,
            error: None,
        };
        match p.result {
            Ok(b) => {
                let bytes = b.to_bytes();
                progress.complete = true;
                progress.bundle_bytes = Some(bytes.len());
                let verified = bundle::verify_bundle(&bytes, log_vkey.trim(), None);
                if let Err(e) = &verified {
                    log::error!("the pulled bundle does not verify: {e}");
                }
                progress.bundle_verified = Some(verified.is_ok());
            }
            Err(_) if p.window_closed => {}
            Err(e) => progress.error = Some(e.to_string()),
        }
        Ok(progress)
    }
}

/// What `pramaan bench --audit-pull-only` measured.
#[derive(Debug, Clone, Serialize)]
pub struct PullOnlyReport {
    /// Entries in the log at the full pull.
    pub entries: u64,
    /// Leaf bytes in the log at the full pull.
    pub leaf_bytes: u64,
    /// Seconds spent seeding (signing and appending; not a pull figure).
    pub seed_seconds: f64,
    /// Baseline: reading every leaf from SQLite in the server's process, seconds.
    pub raw_read_seconds: f64,
    /// Baseline: entries / raw_read_seconds.
    pub raw_read_entries_per_sec: f64,
    /// The server's first checkpoint of the seeded log, seconds: its replay of every entry
    /// (`checkpoints::Guard`) before it signs, as after a restart.
    pub first_checkpoint_seconds: f64,
    /// entries / first_checkpoint_seconds.
    pub first_checkpoint_entries_per_sec: f64,
    /// The full `pramaan audit pull` over HTTPS (loopback), seconds (the checkpoint is
    /// already signed).
    pub pull_seconds: f64,
    /// entries / pull_seconds.
    pub pull_entries_per_sec: f64,
    /// HTTP requests of the full pull.
    pub pull_requests: u64,
    /// Size of the full bundle.
    pub bundle_bytes: usize,
    /// Offline verify of the full bundle (parse, range proof, every signature), seconds.
    pub verify_seconds: f64,
    /// entries / verify_seconds.
    pub verify_entries_per_sec: f64,
    /// Threads the verify ran on.
    pub verify_threads: usize,
    /// Baseline for the verify: ES256 verifications of one attestation token per second
    /// on the same threads (the signature check every attestation entry needs).
    pub es256_verify_per_sec: f64,
    /// Entries appended after the full pull.
    pub incremental_entries: u64,
    /// The `pull --since` of them, seconds.
    pub incremental_seconds: f64,
    /// HTTP requests of the incremental pull.
    pub incremental_requests: u64,
    /// Key enrollments the incremental bundle carries.
    pub incremental_key_enrollments: usize,
    /// Size of the incremental bundle.
    pub incremental_bundle_bytes: usize,
    /// The incremental bundle verified with `--since` the full bundle's checkpoint.
    pub incremental_verified: bool,
}

/// Entries appended for the incremental pull.
const INCREMENT: u64 = 1000;

/// Pulls through `http` as `pramaan audit pull` does; returns the bundle, the seconds and
/// the requests made.
fn timed_pull(
    http: &Client,
    opts: &BuildOptions<'_>,
) -> Result<(bundle::Bundle, f64, u64), CliError> {
    let mut requests = 0u64;
    let started = Instant::now();
    let b = bundle::build_bundle(
        &mut |req| {
            requests += 1;
            audit::request(http, req)
        },
        opts,
    )
    .map_err(|e| CliError::new(format!("pull failed: {e}")))?;
    Ok((b, started.elapsed().as_secs_f64(), requests))
}

/// Runs `pramaan bench --audit-pull-only`: a server of its own on loopback, `n`
/// attestation entries seeded, then the figures of [`PullOnlyReport`].
pub fn pull_only(n: u64, data: Option<&std::path::Path>) -> Result<PullOnlyReport, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let (dir, init, config) = super::bench_setup(data, "bench-pull")?;
    let running = pramaan_server::server::start_with_config(&dir.0, config).map_err(err)?;
    let store = running.store();

    eprintln!("seeding the audit log with {n} attestation entries...");
    let started = Instant::now();
    let (_, devices) = seed_devices(store.as_ref(), n, cores)?;
    let seed_seconds = started.elapsed().as_secs_f64();

    eprintln!("baseline: reading every leaf from SQLite...");
    let started = Instant::now();
    let (entries, leaf_bytes) = read_transaction(store.as_ref(), |tx| {
        let log = tx.log();
        let size = log.size()?;
        let mut bytes = 0u64;
        let mut next = 0;
        while next < size {
            let chunk = log.leaves(next, next + 10_000)?;
            bytes += chunk.iter().map(|(_, l)| l.len() as u64).sum::<u64>();
            next += 10_000;
        }
        Ok::<_, StoreError>((size, bytes))
    })
    .map_err(err)?;
    let raw_read_seconds = started.elapsed().as_secs_f64();

    let token =
        pramaan_server::server::create_token(&dir.0, pramaan_server::store::Role::Auditor, None)
            .map_err(err)?;
    let http = Client::new(&running.url, Trust::Pin(running.pin), &token)?;
    eprintln!("the server's first checkpoint (it replays the whole log before signing)...");
    let started = Instant::now();
    http.get_text("/v1/audit/checkpoint")?;
    let first_checkpoint_seconds = started.elapsed().as_secs_f64();
    eprintln!("pulling the whole log over HTTPS...");
    let (full, pull_seconds, pull_requests) = timed_pull(&http, &BuildOptions::default())?;
    let bytes = full.to_bytes();
    let vkey = init.log_vkey.trim().to_string();
    eprintln!("verifying the bundle offline...");
    let started = Instant::now();
    bundle::verify_bundle(&bytes, &vkey, None)
        .map_err(|e| CliError::new(format!("the full bundle does not verify: {e}")))?;
    let verify_seconds = started.elapsed().as_secs_f64();
    let bundle_bytes = bytes.len();
    drop(bytes);
    let es256_verify_per_sec = es256_ceiling(&devices[0], cores)?;
    let cp = bundle::unverified_checkpoint(&full.checkpoint).map_err(err)?;
    let cp_note = full.checkpoint.clone();
    drop(full);

    eprintln!("appending {INCREMENT} entries, then pull --since...");
    attest(store.as_ref(), &devices, n, n + INCREMENT, cores)?;
    let opts = BuildOptions {
        since: vec![cp],
        ..BuildOptions::default()
    };
    let (inc, incremental_seconds, incremental_requests) = timed_pull(&http, &opts)?;
    let inc_bytes = inc.to_bytes();
    let incremental_verified = match bundle::verify_bundle(&inc_bytes, &vkey, Some(&cp_note)) {
        Ok(s) => s.consistent_since.is_some(),
        Err(e) => {
            log::error!("the incremental bundle does not verify: {e}");
            false
        }
    };
    let rate = |secs: f64, n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    Ok(PullOnlyReport {
        entries,
        leaf_bytes,
        seed_seconds,
        raw_read_seconds,
        raw_read_entries_per_sec: rate(raw_read_seconds, entries),
        first_checkpoint_seconds,
        first_checkpoint_entries_per_sec: rate(first_checkpoint_seconds, entries),
        pull_seconds,
        pull_entries_per_sec: rate(pull_seconds, entries),
        pull_requests,
        bundle_bytes,
        verify_seconds,
        verify_entries_per_sec: rate(verify_seconds, entries),
        verify_threads: cores,
        es256_verify_per_sec,
        incremental_entries: inc.end - inc.start,
        incremental_seconds,
        incremental_requests,
        incremental_key_enrollments: inc.enrollments.len(),
        incremental_bundle_bytes: inc_bytes.len(),
        incremental_verified,
    })
}

/// ES256 verifications per second of one of `device`'s attestation tokens (parse and
/// verify, as the bundle verifier does per attestation) on `threads` threads for ~2 s.
fn es256_ceiling(device: &DemoDevice, threads: usize) -> Result<f64, CliError> {
    use pramaan_core::cose::Sign1;
    let LogEntry::Enrollment { request, .. } = device.enrollment(0).map_err(err)? else {
        return Err(CliError::new("the demo enrollment is not an enrollment"));
    };
    let msg = Sign1::parse(&request).map_err(err)?;
    let req: pramaan_core::claims::EnrollRequest =
        pramaan_core::claims::decode(msg.unverified_payload()).map_err(err)?;
    let key = pramaan_core::keys::P256PublicKey::from_cose_key_bytes(&req.key).map_err(err)?;
    let LogEntry::Attestation { token, .. } = device.attestation(0, 1).map_err(err)? else {
        return Err(CliError::new("the demo attestation is not an attestation"));
    };
    let kid = device.device_id;
    let window = Duration::from_secs(2);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < window {
                        let ok = Sign1::parse(&token)
                            .map(|m| m.verify_es256_any_s(&key, Some(kid.as_bytes())).is_ok())
                            .unwrap_or(false);
                        n += u64::from(ok);
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Prints a [`PullOnlyReport`] for people.
pub fn print_pull_only(r: &PullOnlyReport) {
    outln!(
        "pramaan bench --audit-pull-only: {} entries, {:.1} MB of leaves (seeded in {:.1} s)",
        r.entries,
        r.leaf_bytes as f64 / 1e6,
        r.seed_seconds
    );
    outln!(
        "  baseline: raw read of the leaves from SQLite   {:>8.2} s  {:>10.0} entries/s",
        r.raw_read_seconds,
        r.raw_read_entries_per_sec
    );
    outln!(
        "  first checkpoint (server replays the log)    {:>8.2} s  {:>10.0} entries/s",
        r.first_checkpoint_seconds,
        r.first_checkpoint_entries_per_sec
    );
    outln!(
        "  audit pull, whole log, HTTPS loopback        {:>8.2} s  {:>10.0} entries/s  ({} requests, bundle {:.1} MB)",
        r.pull_seconds,
        r.pull_entries_per_sec,
        r.pull_requests,
        r.bundle_bytes as f64 / 1e6
    );
    outln!(
        "  audit verify, offline, {} threads             {:>8.2} s  {:>10.0} entries/s",
        r.verify_threads,
        r.verify_seconds,
        r.verify_entries_per_sec
    );
    outln!(
        "  baseline: ES256 verify of one token, {} threads            {:>10.0} /s",
        r.verify_threads,
        r.es256_verify_per_sec
    );
    outln!(
        "  pull --since, {} new entries                {:>8.3} s  ({} requests, {} key enrollments, {} bytes, {})",
        r.incremental_entries,
        r.incremental_seconds,
        r.incremental_requests,
        r.incremental_key_enrollments,
        r.incremental_bundle_bytes,
        if r.incremental_verified {
            "verified --since"
        } else {
            "NOT verified"
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_only_pulls_verifies_and_pulls_only_the_new_entries_since() {
        let r = pull_only(1500, None).expect("bench");
        // The seeded entries, their devices' enrollments and the admin token issued at init.
        assert_eq!(r.entries, 1500 + SEED_DEVICES as u64 + 1);
        assert!(r.leaf_bytes > 1500 * 300, "{}", r.leaf_bytes);
        // Checkpoint, two pages, one range proof (no key enrollments: all in range), the
        // key chain (empty).
        assert_eq!(r.pull_requests, 5);
        assert_eq!(r.incremental_entries, INCREMENT);
        // Checkpoint, one page, range proof, enrollments, inclusions, consistency, key
        // chain.
        assert_eq!(r.incremental_requests, 7);
        assert_eq!(r.incremental_key_enrollments, SEED_DEVICES);
        assert!(r.incremental_verified);
        assert!(r.pull_entries_per_sec > 0.0 && r.verify_entries_per_sec > 0.0);
    }
}
