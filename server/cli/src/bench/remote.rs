//! `pramaan bench --server URL`: load a server that is already running, as a deployment
//! would be loaded, and survive it being killed.
//!
//! Why a separate mode: the in-process bench measures the server against the crypto
//! ceiling on one machine; sizing a real deployment, crash-testing it and soaking it need
//! the real `pramaan serve` process, over the network, with the load generator's own CPU
//! use reported beside its figures (on one machine they share the cores).
//!
//! What it does: with the given bearer token (admin, or IT of the department) it sets the
//! bench policy on the department (unless `--keep-policy`), imports N officers whose ids
//! are unique to this run (so it can be run again against the same server), enrolls one
//! simulated phone (software key) for each through the real protocol, then runs N device
//! threads for S seconds, each answering the previous answer's nonce as a phone would,
//! optionally paced to a total `--rate`.
//!
//! Surviving restarts: a device that loses its connection, or gets an error answer, backs
//! off (50 ms doubling to 1 s), fetches a fresh challenge (the answer carrying its next
//! nonce may be lost, or the nonce consumed by a commit whose answer never arrived) and
//! goes on with the next `seq`. Nothing is ever resent as new: an attestation counts as
//! acknowledged only when its signed answer arrived.
//!
//! `--ack-log FILE`: one line per acknowledged attestation, `DEVICE_ID SEQ LOG_INDEX`,
//! each written with one `write(2)` as the answer arrives, so a SIGKILL of the server (or
//! of the bench) leaves only whole lines of answers that really arrived. A crash test
//! checks each line against a pulled audit bundle afterwards.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pramaan_core::api::ComplianceReport;
use pramaan_core::claims::{self, AttestResult, Challenge, ErrorBody};
use pramaan_core::cose::{self, DEVICE_CONTENT_TYPE, Sign1};
use pramaan_core::transport::{HttpsClient, Response, TransportError, Trust};
use serde::Serialize;
use uuid::Uuid;

use super::logcheck::{self, LogCheck};
use super::watch::{self, WatchReport, Watcher};
use super::{BenchDevice, Fleet, Latency, enroll_fleet, facts, options, percentile};
use crate::CliError;

/// First wait after a failure; doubled per failure in a row.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait after failures in a row (a restarting server is found within it).
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What to load and how.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// The server's URL.
    pub server: String,
    /// How to trust its certificate.
    pub trust: Trust,
    /// Bearer token: admin, or IT of `department`.
    pub token: String,
    /// Department the simulated officers go in.
    pub department: String,
    /// Leave the department's policy as it is (do not set the bench policy).
    pub keep_policy: bool,
    /// Simulated devices (one thread and one connection each).
    pub devices: usize,
    /// Length of the load.
    pub duration: Duration,
    /// Total attestations per second to aim at (0: as fast as each device can).
    pub rate: f64,
    /// Where to write one line per acknowledged attestation.
    pub ack_log: Option<PathBuf>,
    /// Process to sample (resident memory, descriptors) during the load, and how often.
    pub watch: Option<(u32, Duration)>,
    /// The log's verifier key (`DATA/log.vkey`): after the load, pull the log, verify it
    /// and find every acknowledged attestation in it ([`logcheck`]).
    pub log_vkey: Option<String>,
}

/// The load generator's own CPU use during the load.
#[derive(Debug, Clone, Serialize)]
pub struct LoadCpu {
    /// CPU seconds (user + system) the bench process used during the load.
    pub cpu_seconds: f64,
    /// cpu_seconds / wall seconds: cores' worth it kept busy (1.0 = one core).
    pub cores_used: f64,
    /// cores_used / the machine's cores, percent.
    pub percent_of_machine: f64,
}

/// After the load: does the server's compliance view list every simulated device?
#[derive(Debug, Clone, Serialize)]
pub struct Consistency {
    /// Devices of this run.
    pub devices: usize,
    /// Devices the compliance view shows for their officer, seen during this run.
    pub listed: usize,
    /// Officer ids whose device is missing or not seen (at most 20).
    pub missing: Vec<String>,
    /// Why the view could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `pramaan bench --server` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteReport {
    /// The server loaded.
    pub server: String,
    /// The department of the simulated officers.
    pub department: String,
    /// Simulated devices.
    pub devices: usize,
    /// The rate aimed at, attestations/s (0: unpaced).
    pub target_rate: f64,
    /// Length of the load, seconds.
    pub seconds: f64,
    /// Attestations answered 200 with a matching signed result.
    pub accepted: u64,
    /// accepted / seconds.
    pub attestations_per_sec: f64,
    /// Failed requests (attestations and the challenges fetched after a failure).
    pub failed: u64,
    /// Failed requests by reason: the server's rejection code, or `connect`, `io`,
    /// `tls`, `bad_response` for transport failures; `challenge ...` for challenges.
    pub failures: BTreeMap<String, u64>,
    /// Latency of the accepted attestations.
    pub latency: Latency,
    /// The load generator's own CPU use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_cpu: Option<LoadCpu>,
    /// CPU cores of the machine running the bench.
    pub cores: usize,
    /// Lines written to the acknowledgement log (= accepted when one was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_log_lines: Option<u64>,
    /// The watched process's memory and descriptors (`--watch-pid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchReport>,
    /// The compliance view after the load.
    pub consistency: Consistency,
    /// The log after the load (`--log-key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogCheck>,
}

impl RemoteReport {
    /// Why the run is a failure after all (printed after the report, non-zero exit): an
    /// acknowledged attestation not in the log once, a log that does not verify, or a
    /// device the compliance view does not show.
    pub fn problem(&self) -> Option<String> {
        if let Some(l) = &self.log
            && !l.ok()
        {
            return Some(format!("the log check failed: {}", logcheck::summary(l)));
        }
        let c = &self.consistency;
        if c.error.is_none() && !c.missing.is_empty() {
            return Some(format!(
                "the compliance view does not show {} of the {} devices as seen during the load",
                c.devices - c.listed,
                c.devices
            ));
        }
        None
    }
}

/// One device thread's results.
#[derive(Default)]
struct DeviceRun {
    latencies: Vec<Duration>,
    failures: BTreeMap<String, u64>,
}

impl DeviceRun {
    fn fail(&mut self, reason: impl Into<String>) {
        *self.failures.entry(reason.into()).or_default() += 1;
    }
}

/// The acknowledgement log: whole lines, one `write(2)` each (unbuffered `File`).
struct AckLog {
    file: Mutex<File>,
    lines: AtomicU64,
}

impl AckLog {
    fn create(path: &Path) -> Result<Self, CliError> {
        let file = File::create(path).map_err(|e| {
            CliError::new(format!("cannot create the ack log {}: {e}", path.display()))
        })?;
        Ok(Self {
            file: Mutex::new(file),
            lines: AtomicU64::new(0),
        })
    }

    fn record(&self, device: Uuid, seq: u64, index: u64) -> Result<(), std::io::Error> {
        let line = format!("{device} {seq} {index}\n");
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())?;
        self.lines.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Shared by the device threads.
struct Shared {
    url: String,
    trust: Trust,
    deadline: Instant,
    interval: Option<Duration>,
    ack: Option<AckLog>,
    accepted: Arc<AtomicU64>,
    /// Every acknowledgement `(device, seq, log index)`, kept when the log is checked.
    acks: Option<Mutex<Vec<(Uuid, u64, u64)>>>,
}

/// Checks the department id before it goes into a URL path and a TOML string.
fn check_department(d: &str) -> Result<(), CliError> {
    let ok = !d.is_empty()
        && d.len() <= 64
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "--department {d:?}: expected 1 to 64 letters, digits, '-' or '_'"
        )))
    }
}

/// Enrolls the fleet on the server, loads it and reports.
pub fn run_remote(o: &RemoteOptions) -> Result<RemoteReport, CliError> {
    check_department(&o.department)?;
    if !(o.rate >= 0.0 && o.rate.is_finite()) {
        return Err(CliError::new(
            "--rate must be a number of attestations per second, 0 or more",
        ));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let url = o.server.trim_end_matches('/').to_string();
    // Officer ids unique to this run: a second run against the same server adds officers
    // instead of colliding with the first run's enrolled devices.
    let run_id = Uuid::new_v4().simple().to_string();
    let fleet = Fleet {
        department: o.department.clone(),
        officer_prefix: format!("LB{}-", &run_id[..8]),
        set_policy: !o.keep_policy,
    };
    eprintln!(
        "enrolling {} devices in {} on {url}...",
        o.devices, o.department
    );
    let devices = enroll_fleet(&url, &o.trust, &o.token, o.devices, &fleet)?;
    let ack = match &o.ack_log {
        Some(p) => Some(AckLog::create(p)?),
        None => None,
    };
    let interval = (o.rate > 0.0).then(|| Duration::from_secs_f64(o.devices as f64 / o.rate));
    let accepted = Arc::new(AtomicU64::new(0));
    let watcher = o
        .watch
        .map(|(pid, every)| Watcher::start(pid, every, accepted.clone()));
    eprintln!(
        "load: {} devices for {} s{}...",
        o.devices,
        o.duration.as_secs(),
        if o.rate > 0.0 {
            format!(" at {} attestations/s", o.rate)
        } else {
            String::new()
        }
    );
    let cpu_before = watch::own_cpu_seconds();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        url: url.clone(),
        trust: o.trust.clone(),
        deadline: start + o.duration,
        interval,
        ack,
        accepted: accepted.clone(),
        acks: o.log_vkey.as_ref().map(|_| Mutex::new(Vec::new())),
    });
    let started_unix = super::now();
    let ids: Vec<(Uuid, String)> = devices.iter().map(|d| (d.id, d.officer.clone())).collect();
    let mut handles = Vec::new();
    for (i, dev) in devices.into_iter().enumerate() {
        let shared = shared.clone();
        // Paced devices start spread over one interval, not all at once.
        let offset = interval.map(|iv| iv.mul_f64(i as f64 / o.devices.max(1) as f64));
        handles.push(std::thread::spawn(move || {
            device_loop(dev, &shared, offset.unwrap_or_default())
        }));
    }
    let mut latencies = Vec::new();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for h in handles {
        let run = h
            .join()
            .map_err(|_| CliError::new("a load thread panicked"))?;
        latencies.extend(run.latencies);
        for (k, v) in run.failures {
            *failures.entry(k).or_default() += v;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_after = watch::own_cpu_seconds();
    let watch = watcher.map(Watcher::finish);
    latencies.sort();
    let load_cpu = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if elapsed > 0.0 => {
            let used = (b - a) / elapsed;
            Some(LoadCpu {
                cpu_seconds: b - a,
                cores_used: used,
                percent_of_machine: used / cores as f64 * 100.0,
            })
        }
        _ => None,
    };
    let consistency = check_compliance(&url, &o.trust, &o.token, &o.department, &ids, started_unix);
    let log = match (&o.log_vkey, &shared.acks) {
        (Some(vkey), Some(acks)) => {
            eprintln!("pulling and verifying the log...");
            let acks = acks.lock().unwrap_or_else(|p| p.into_inner());
            Some(logcheck::check_log(&url, &o.trust, &o.token, vkey, &acks))
        }
        _ => None,
    };
    let accepted = latencies.len() as u64;
    Ok(RemoteReport {
        server: url,
        department: o.department.clone(),
        devices: o.devices,
        target_rate: o.rate,
        seconds: elapsed,
        accepted,
        attestations_per_sec: accepted as f64 / elapsed.max(1e-9),
        failed: failures.values().sum(),
        failures,
        latency: Latency {
            p50_ms: percentile(&latencies, 0.50),
            p90_ms: percentile(&latencies, 0.90),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies
                .last()
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0),
        },
        load_cpu,
        cores,
        ack_log_lines: shared.ack.as_ref().map(|a| a.lines.load(Ordering::Relaxed)),
        watch,
        consistency,
        log,
    })
}

/// Sleeps `d`, but not past `deadline`.
fn sleep_until_deadline(d: Duration, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    std::thread::sleep(d.min(left));
}

/// The server's reason for an error answer: the rejection code of its CBOR (device API)
/// or JSON body, else `http_<status>`.
fn rejection_code(r: &Response) -> String {
    if let Ok(body) = claims::decode::<ErrorBody>(&r.body) {
        return body.error;
    }
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("http_{}", r.status))
}

/// A transport failure's reason for the report.
fn transport_reason(e: &TransportError) -> &'static str {
    match e {
        TransportError::Connect { .. } => "connect",
        TransportError::Io(_) => "io",
        TransportError::Tls { .. } | TransportError::PinMismatch { .. } => "tls",
        TransportError::BadResponse(_) | TransportError::TooLarge(_) => "bad_response",
        TransportError::BadUrl { .. }
        | TransportError::BadTrust(_)
        | TransportError::BadHeader(_) => "setup",
    }
}

/// What one attestation attempt came to.
enum Attempt {
    /// Answered 200 with a result for this device and seq.
    Accepted(AttestResult),
    /// Refused or failed: the reason, and how long the server asked us to wait.
    Failed(String, Option<Duration>),
}

fn attest_once(client: &HttpsClient, dev: &BenchDevice) -> Attempt {
    let claims = facts(dev.id, &dev.officer, Some(dev.nonce.clone()), dev.seq);
    let body = match cose::sign_es256(&dev.signer, dev.id.as_bytes(), claims.to_cbor()) {
        Ok(b) => b,
        Err(_) => return Attempt::Failed("signing".into(), None),
    };
    match client.post("/v1/attest", DEVICE_CONTENT_TYPE, &body) {
        Ok(r) if r.status == 200 => {
            let res = Sign1::parse(&r.body)
                .ok()
                .and_then(|m| claims::decode::<AttestResult>(m.unverified_payload()).ok());
            match res {
                Some(res) if res.device_id == dev.id && res.seq == dev.seq => {
                    Attempt::Accepted(res)
                }
                _ => Attempt::Failed("answer_mismatch".into(), None),
            }
        }
        Ok(r) => Attempt::Failed(rejection_code(&r), r.retry_after.map(Duration::from_secs)),
        Err(e) => Attempt::Failed(transport_reason(&e).into(), None),
    }
}

/// A fresh nonce from `GET /v1/challenge`, or why not.
fn fresh_nonce(client: &HttpsClient) -> Result<Vec<u8>, (String, Option<Duration>)> {
    match client.get("/v1/challenge") {
        Ok(r) if r.status == 200 => claims::decode::<Challenge>(&r.body)
            .map(|c| c.nonce)
            .map_err(|_| ("challenge bad_response".into(), None)),
        Ok(r) => Err((
            format!("challenge {}", rejection_code(&r)),
            r.retry_after.map(Duration::from_secs),
        )),
        Err(e) => Err((format!("challenge {}", transport_reason(&e)), None)),
    }
}

/// One simulated phone until the deadline: attest, answer the next nonce, and after any
/// failure back off, fetch a fresh challenge and go on with the next seq.
fn device_loop(mut dev: BenchDevice, shared: &Shared, offset: Duration) -> DeviceRun {
    let mut run = DeviceRun::default();
    let client = match HttpsClient::new(&shared.url, shared.trust.clone(), options()) {
        Ok(c) => c,
        Err(e) => {
            run.fail(transport_reason(&e));
            return run;
        }
    };
    let deadline = shared.deadline;
    let mut next_send = Instant::now() + offset;
    let mut backoff = MIN_BACKOFF;
    let mut need_nonce = false;
    // After a failure: wait what the server asked (if it did) or the backoff, doubled for
    // the next failure in a row.
    let wait = |asked: Option<Duration>, backoff: &mut Duration| {
        sleep_until_deadline(asked.unwrap_or(*backoff), deadline);
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
    };
    while Instant::now() < deadline {
        if let Some(iv) = shared.interval {
            sleep_until_deadline(
                next_send.saturating_duration_since(Instant::now()),
                deadline,
            );
            if Instant::now() >= deadline {
                break;
            }
            // Behind schedule (after a failure): start again from now, no burst.
            next_send = (next_send + iv).max(Instant::now());
        }
        if need_nonce {
            match fresh_nonce(&client) {
                Ok(n) => {
                    dev.nonce = n;
                    need_nonce = false;
                }
                Err((reason, asked)) => {
                    run.fail(reason);
                    wait(asked, &mut backoff);
                    continue;
                }
            }
        }
        // Every attempt a new seq: an earlier one may have been committed although its
        // answer was lost.
        dev.seq += 1;
        let t = Instant::now();
        match attest_once(&client, &dev) {
            Attempt::Accepted(res) => {
                run.latencies.push(t.elapsed());
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                if let Some(ack) = &shared.ack
                    && ack.record(dev.id, res.seq, res.log_index).is_err()
                {
                    run.fail("ack_log_write");
                }
                if let Some(acks) = &shared.acks {
                    acks.lock().unwrap_or_else(|p| p.into_inner()).push((
                        dev.id,
                        res.seq,
                        res.log_index,
                    ));
                }
                dev.nonce = res.next_nonce;
                backoff = MIN_BACKOFF;
            }
            Attempt::Failed(reason, asked) => {
                run.fail(reason);
                need_nonce = true;
                wait(asked, &mut backoff);
            }
        }
    }
    run
}

/// Reads the department's compliance view and checks every device of this run is the
/// one shown for its officer and was seen since the load started.
fn check_compliance(
    url: &str,
    trust: &Trust,
    token: &str,
    department: &str,
    devices: &[(Uuid, String)],
    load_started: u64,
) -> Consistency {
    let mut c = Consistency {
        devices: devices.len(),
        listed: 0,
        missing: Vec::new(),
        error: None,
    };
    let path = format!("/v1/compliance?department={department}");
    let report = crate::client::Client::new(url, trust.clone(), token)
        .and_then(|client| client.get_json(&path))
        .and_then(|v| crate::client::typed::<ComplianceReport>(&path, v));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            c.error = Some(e.to_string());
            return c;
        }
    };
    let shown: BTreeMap<&str, (Option<Uuid>, Option<u64>)> = report
        .officers
        .iter()
        .map(|o| (o.officer_id.as_str(), (o.device_id, o.last_seen)))
        .collect();
    for (id, officer) in devices {
        match shown.get(officer.as_str()) {
            Some((Some(d), Some(seen))) if d == id && *seen >= load_started => c.listed += 1,
            _ if c.missing.len() < 20 => c.missing.push(officer.clone()),
            _ => {}
        }
    }
    c
}

/// The report as a table.
pub fn print(r: &RemoteReport) {
    outln!(
        "pramaan bench --server {}: {} devices in {}, {:.1} s{}",
        r.server,
        r.devices,
        r.department,
        r.seconds,
        if r.target_rate > 0.0 {
            format!(", paced to {} attestations/s", r.target_rate)
        } else {
            String::new()
        }
    );
    outln!(
        "    accepted           {:>10}   failed {}",
        r.accepted,
        r.failed
    );
    for (reason, n) in &r.failures {
        outln!("      {reason:<24} {n:>8}");
    }
    outln!(
        "    throughput         {:>10.0} attestations/s",
        r.attestations_per_sec
    );
    outln!("    latency            {}", r.latency);
    match &r.load_cpu {
        Some(c) => outln!(
            "    load generator CPU {:>10.2} cores ({:.0} % of {} cores, {:.1} CPU s)",
            c.cores_used,
            c.percent_of_machine,
            r.cores,
            c.cpu_seconds
        ),
        None => outln!("    load generator CPU  unavailable (no /proc/self/stat)"),
    }
    if let Some(n) = r.ack_log_lines {
        outln!("    ack log            {n:>10} lines");
    }
    if let Some(w) = &r.watch {
        watch::print(w);
    }
    if let Some(l) = &r.log {
        outln!("    log                {}", logcheck::summary(l));
    }
    let c = &r.consistency;
    match &c.error {
        Some(e) => outln!("    compliance view    not read: {e}"),
        None if c.missing.is_empty() => outln!(
            "    compliance view    lists all {} devices, seen during the load",
            c.devices
        ),
        None => outln!(
            "    compliance view    lists {} of {} devices; missing or not seen: {}",
            c.listed,
            c.devices,
            c.missing.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn department_ids_are_checked_before_use() {
        assert!(check_department("BENCH").is_ok());
        assert!(check_department("load-test_2").is_ok());
        for bad in ["", "GAD\"\n[x]", "a/b", "a b", &"x".repeat(65)] {
            let e = check_department(bad).err().map(|e| e.to_string());
            assert!(e.is_some_and(|e| e.contains("--department")), "{bad:?}");
        }
    }

    #[test]
    fn rejection_codes_come_from_cbor_or_json_bodies() {
        let resp = |status, body: Vec<u8>| Response {
            status,
            content_type: None,
            retry_after: None,
            body,
        };
        let cbor = claims::encode(&ErrorBody {
            error: "nonce_reused".into(),
            message: "m".into(),
        });
        assert_eq!(rejection_code(&resp(409, cbor)), "nonce_reused");
        let json = br#"{"error":"rate_limited","message":"slow down"}"#.to_vec();
        assert_eq!(rejection_code(&resp(429, json)), "rate_limited");
        assert_eq!(rejection_code(&resp(502, b"<html>".to_vec())), "http_502");
    }

    #[test]
    fn ack_log_lines_are_whole_and_counted() {
        let dir = std::env::temp_dir().join(format!("pramaan-ack-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("ack.log");
        let log = AckLog::create(&path).expect("create");
        let a = Uuid::new_v4();
        log.record(a, 1, 7).expect("write");
        log.record(a, 2, 9).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{a} 1 7\n{a} 2 9\n"));
        assert_eq!(log.lines.load(Ordering::Relaxed), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
