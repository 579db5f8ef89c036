//! `pramaan bench --audit-pull-entries N`: an auditor pulls a bundle of N log entries
//! while the devices attest.
//!
//! Why: an auditor's pull is the heaviest reader the server has (one page request per
//! thousand entries, then one inclusion-proof request per entry), and the store promises
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
use pramaan_server::store::{LogEntry, Store, StoreError, transaction};
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
    let threads = threads.max(1) as u64;
    let mut range: Option<(u64, u64)> = None;
    let mut done = 0u64;
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
                    let devices = &devices;
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
