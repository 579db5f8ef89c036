//! The audit log's fixtures and benchmark: log entries from software devices
//! ([`DemoDevice`], kept in pramaan-server for `pramaan bench`) and [`bench`], which
//! measures the same code paths the server runs: [`audit_log::append`] into a durable
//! SQLite file and offline bundle verification.

use std::time::{Duration, Instant};

use pramaan_core::claims::Attestation;
use pramaan_core::cose;
use pramaan_core::keys::{KeyError, ServerKey, Signer as _};
use pramaan_server::audit_log::bundle::{self, BuildOptions};
use pramaan_server::audit_log::{self, LogEntry, LogError, LogSigner};
use uuid::Uuid;

pub use pramaan_server::audit_log::bench::DemoDevice;

/// Why building fixtures or running the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Making a demo log entry failed.
    #[error(transparent)]
    Entry(#[from] audit_log::bench::BenchError),
    /// A key could not be made.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The benchmark's SQLite file failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Building the bundle failed.
    #[error("bundle: {0}")]
    Build(#[from] bundle::BuildError),
    /// The bundle did not verify.
    #[error("bundle does not verify: {0}")]
    Verify(#[from] bundle::VerifyError),
    /// Reading or writing a file failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Benchmark settings.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Devices whose attestations fill the log.
    pub devices: usize,
    /// Attestation entries to append.
    pub attestations: usize,
    /// Appends per transaction.
    pub batch: usize,
    /// `NORMAL` or `FULL`.
    pub synchronous: &'static str,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            devices: 8,
            attestations: 100_000,
            batch: 1000,
            synchronous: "FULL",
        }
    }
}

/// Benchmark results.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Entries in the log.
    pub entries: u64,
    /// Durable appends per second.
    pub appends_per_sec: f64,
    /// Time the appends took.
    pub append_time: Duration,
    /// Size of the bundle file, bytes.
    pub bundle_bytes: usize,
    /// Entries verified per second, all threads.
    pub verified_per_sec: f64,
    /// Time the verification took.
    pub verify_time: Duration,
    /// CPU seconds the process used while verifying (Linux `/proc/self/stat`).
    pub verify_cpu_seconds: Option<f64>,
    /// The same verification on one thread.
    pub one_thread_per_sec: f64,
    /// Of `verify_time`: decoding the bundle file (one thread).
    pub decode_time: Duration,
    /// One core, same run: `Sign1::parse` + ES256 verification of a token.
    pub es256_verify_per_sec: f64,
    /// One core, same run: decoding a leaf (`LogEntry::from_leaf`).
    pub leaf_decode_per_sec: f64,
    /// One core, same run: decoding the EAT claims of a token.
    pub claims_decode_per_sec: f64,
    /// One core, same run: SHA-256 leaf hashes per second.
    pub sha256_leaf_hashes_per_sec: f64,
    /// One core, same run: SHA-256 throughput, MB/s.
    pub sha256_mb_per_sec: f64,
    /// Threads the verification used.
    pub threads: usize,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "entries:               {}", self.entries)?;
        writeln!(
            f,
            "appends:               {:.0}/s ({:.2} s)",
            self.appends_per_sec,
            self.append_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "bundle verification:   {:.0} entries/s ({:.2} s, {} threads, bundle {:.1} MB)",
            self.verified_per_sec,
            self.verify_time.as_secs_f64(),
            self.threads,
            self.bundle_bytes as f64 / 1e6
        )?;
        writeln!(
            f,
            "  of which decoding the bundle file: {:.2} s (one thread)",
            self.decode_time.as_secs_f64()
        )?;
        if let Some(cpu) = self.verify_cpu_seconds {
            writeln!(
                f,
                "  CPU used: {cpu:.2} s over {:.2} s wall = {:.2} cores busy on average (others' load shares the machine)",
                self.verify_time.as_secs_f64(),
                cpu / self.verify_time.as_secs_f64()
            )?;
        }
        writeln!(
            f,
            "  same bundle on 1 thread: {:.0} entries/s",
            self.one_thread_per_sec
        )?;
        writeln!(
            f,
            "one-core baselines:    ES256 parse+verify {:.0}/s, leaf decode {:.0}/s, claims decode {:.0}/s",
            self.es256_verify_per_sec, self.leaf_decode_per_sec, self.claims_decode_per_sec
        )?;
        write!(
            f,
            "SHA-256 baseline:      {:.0} leaf hashes/s of 1 KiB, {:.0} MB/s (one core)",
            self.sha256_leaf_hashes_per_sec, self.sha256_mb_per_sec
        )
    }
}

/// User + system CPU seconds of this process so far (Linux; `None` elsewhere). Assumes
/// the usual 100 Hz clock tick.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // After the command name: state is field 3 overall, utime 14 and stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Appends `opts.attestations` real attestations (after the enrollments of
/// `opts.devices` devices) into a WAL-mode SQLite file in `dir`, batched in transactions,
/// then builds a bundle of all of them and times its offline verification, and measures
/// SHA-256 as the baseline. Token signing is setup and not timed.
pub fn bench(dir: &std::path::Path, opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let devices = (0..opts.devices.max(1))
        .map(|i| DemoDevice::generate(&format!("officer-{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut entries = Vec::with_capacity(opts.attestations + devices.len());
    for d in &devices {
        entries.push(d.enrollment(1)?.to_leaf());
    }
    for i in 0..opts.attestations {
        let d = &devices[i % devices.len()];
        entries.push(d.attestation(2 + i as u64, i as u64)?.to_leaf());
    }

    let path = dir.join("bench-log.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", opts.synchronous)?;
    audit_log::init_schema(&conn)?;

    let started = Instant::now();
    for batch in entries.chunks(opts.batch.max(1)) {
        let tx = conn.transaction()?;
        for leaf in batch {
            audit_log::append_leaf(&tx, leaf)?;
        }
        tx.commit()?;
    }
    let append_time = started.elapsed();

    let signer = LogSigner::new("pramaan.bench/log".into(), ServerKey::generate()?);
    let bundle = audit_log::build_bundle_from_db(&conn, &signer, &BuildOptions::default())?;
    let bytes = bundle.to_bytes();
    drop(bundle);
    let vkey = signer.verifier_key();
    let started = Instant::now();
    let parsed = bundle::Bundle::from_bytes(&bytes)?;
    let decode_time = started.elapsed();
    let vk = audit_log::VerifierKey::parse(&vkey).map_err(bundle::VerifyError::Key)?;
    let cpu_before = process_cpu_seconds();
    let summary = bundle::verify(&parsed, &vk, None)?;
    let verify_time = started.elapsed();
    let verify_cpu = process_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    // The same on one thread, to show how it scales on this machine right now.
    let started = Instant::now();
    bundle::verify_with_threads(&parsed, &vk, None, 1)?;
    let one_thread_time = started.elapsed() + decode_time;
    drop(parsed);

    // One-core baselines over the first few thousand attestations.
    let sample: Vec<&Vec<u8>> = entries.iter().skip(devices.len()).take(3000).collect();
    let decoded: Vec<LogEntry> = sample
        .iter()
        .filter_map(|l| LogEntry::from_leaf(l).ok())
        .collect();
    let started = Instant::now();
    let n_leaf = sample
        .iter()
        .filter(|l| LogEntry::from_leaf(l).is_ok())
        .count();
    let leaf_decode_per_sec = n_leaf as f64 / started.elapsed().as_secs_f64();
    let key_of = |id: &Uuid| {
        devices
            .iter()
            .find(|d| d.device_id == *id)
            .and_then(|d| d.signer.public_key().ok())
    };
    let started = Instant::now();
    let mut n_sig = 0usize;
    let mut payloads = Vec::new();
    for e in &decoded {
        if let LogEntry::Attestation {
            device_id, token, ..
        } = e
            && let (Ok(msg), Some(key)) = (cose::Sign1::parse(token), key_of(device_id))
            && let Ok(p) = msg.verify_es256_any_s(&key, Some(device_id.as_bytes()))
        {
            n_sig += 1;
            payloads.push(p.to_vec());
        }
    }
    let es256_verify_per_sec = n_sig as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let n_claims = payloads
        .iter()
        .filter(|p| Attestation::from_cbor(p).is_ok())
        .count();
    let claims_decode_per_sec = n_claims as f64 / started.elapsed().as_secs_f64();

    // Baseline: leaf hashing of 1 KiB entries for one second-ish.
    let data = vec![0x5au8; 1024];
    let n = 200_000u32;
    let started = Instant::now();
    let mut acc = 0u8;
    for _ in 0..n {
        acc ^= audit_log::leaf_hash(&data)[0];
    }
    let hash_time = started.elapsed().as_secs_f64();
    log::trace!("{acc}");

    let total = entries.len() as f64;
    Ok(BenchReport {
        entries: entries.len() as u64,
        appends_per_sec: total / append_time.as_secs_f64(),
        append_time,
        bundle_bytes: bytes.len(),
        verified_per_sec: summary.entries as f64 / verify_time.as_secs_f64(),
        verify_time,
        verify_cpu_seconds: verify_cpu,
        one_thread_per_sec: summary.entries as f64 / one_thread_time.as_secs_f64(),
        decode_time,
        es256_verify_per_sec,
        leaf_decode_per_sec,
        claims_decode_per_sec,
        sha256_leaf_hashes_per_sec: f64::from(n) / hash_time,
        sha256_mb_per_sec: f64::from(n) * 1025.0 / hash_time / 1e6,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}
