//! `pramaan bench`: verified, logged and durably stored attestations per second over TLS on
//! loopback, against the crypto-only ceiling measured in the same run (design section 10).
//!
//! Why both numbers in one run: absolute rates depend on the machine; the ratio of the
//! server's end-to-end rate (TLS, HTTP, COSE verify, policy, SQLite commit with fsync,
//! audit-log append, signed answer) to the rate of the cryptography alone (ES256 verify +
//! claims decode + policy evaluation + Ed25519 sign, on every core) says how much the
//! server adds. The load generator runs in the same process and shares the CPU, and each
//! of its devices signs a fresh ES256 attestation per request answering the previous
//! answer's nonce, exactly as a phone would.
//!
//! `--server URL` instead loads a server that is already running (a deployment, or a
//! `pramaan serve` child in a crash or soak test): [`remote`], with [`watch`] for the load
//! generator's CPU and the watched server's memory and descriptors.

pub mod audit_pull;
pub mod console;
pub mod cpu;
pub mod flood;
pub mod logcheck;
pub mod registry;
pub mod remote;
pub mod roster;
pub mod sizing;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{
    self, AppFact, AttestResult, Attestation, Challenge, DeviceInfo, EnrollRequest, GroupFact,
    OsInfo, Platform, Receipt,
};
use pramaan_core::cose::{self, DEVICE_CONTENT_TYPE, Sign1};
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::keys::{ServerKey, Signer, SoftwareSigner};
use pramaan_core::policy::{Officer, Policy};
use pramaan_core::transport::{HttpsClient, Options, Trust};
use serde::Serialize;
use uuid::Uuid;

use super::{CliError, CliResult};
use pramaan_server::attest;
use pramaan_server::config::Config;
use pramaan_server::server;
use pramaan_server::store::DeviceRow;
use pramaan_server::store::Role;

const POLICY: &str = r#"
department = "BENCH"
name = "Benchmark department"
check_in_hours = 24
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "WhatsApp"
[[groups]]
platform = "WhatsApp"
id = "bench-officers"
# The simulated phones have software keys and no platform evidence: accepted explicitly.
[evidence]
assurance = "software"
platforms = ["android"]
# The load measures throughput: each simulated phone sends as fast as it can.
[limits]
attestations_per_day = 4000000000
offline_per_day = 1
"#;
/// WhatsApp's signing-certificate digest, from the built-in catalog (read once: `facts`
/// runs for every simulated request).
static WHATSAPP_SIGNER: std::sync::LazyLock<Option<String>> = std::sync::LazyLock::new(|| {
    Catalog::builtin()
        .find("WhatsApp")
        .and_then(|p| p.android_signers.first().cloned())
});

/// `pramaan bench`: load a server of its own over TLS on loopback and measure it, or
/// (with --server) load a server that is already running.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Simulated devices (one connection and one thread each).
    #[arg(long, default_value_t = 16)]
    pub devices: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Keep the server's data directory here instead of a temporary one.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Also measure an auditor pulling a bundle of this many entries during the load:
    /// the log is seeded with as many attestation entries first, then the load runs
    /// twice for --seconds, alone and while the pull runs (0 = off).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub audit_pull_entries: u64,
    /// Instead of the load: one device floods the server for --seconds (as fast as it
    /// can, fresh and offline, tokens padded to the body limit) and the report compares
    /// what reached the audit log with the policy's allowance.
    #[arg(long)]
    pub flood: bool,
    /// Instead of the load: time `POST /v1/officers/import` of --baseline M new officers,
    /// then N new ones, then the same N again (all unchanged), and print the ratio of
    /// per-row times (about 1 when the import is linear). N defaults to 100,000.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "100000",
          conflicts_with_all = ["flood", "audit_pull_entries", "server", "console"])]
    pub registry: Option<u64>,
    /// Instead of the load: the department report of a department of N officers (and
    /// of --baseline officers), over TLS, cold and warm, and an officer page; prints ms
    /// and the per-officer ratio (1 = linear). Seeded straight through the store.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "100000",
          conflicts_with_all = ["flood", "audit_pull_entries"])]
    pub console: Option<u64>,
    /// With --registry or --console: the baseline (rows imported, officers reported).
    #[arg(long, value_name = "M", default_value_t = 10_000)]
    pub baseline: u64,
    /// With --flood: the policy's `[limits] attestations_per_day`.
    #[arg(long, default_value_t = pramaan_core::model::DeviceLimits::default().attestations_per_day, value_name = "N")]
    pub flood_per_day: u32,
    /// With --flood: the policy's `[limits] offline_per_day`.
    #[arg(long, default_value_t = pramaan_core::model::DeviceLimits::default().offline_per_day, value_name = "N")]
    pub flood_offline_per_day: u32,
    /// With --audit-pull-entries: no attestation load, only the auditor: a full pull of
    /// the seeded log, its offline verify, then a `pull --since` of 1,000 new entries,
    /// each with a baseline (the raw read of the leaves from SQLite).
    #[arg(long, requires = "audit_pull_entries")]
    pub audit_pull_only: bool,
    /// Load this running server instead of one of its own (e.g. https://host:8443):
    /// enrolls --devices simulated phones in --department with --token (admin, or IT of
    /// that department) and loads it for --seconds; devices ride out server restarts.
    #[arg(long, value_name = "URL", conflicts_with_all = ["flood", "audit_pull_entries", "data", "console"])]
    pub server: Option<String>,
    /// With --server: bearer token (admin, or IT of --department). Prefer the environment
    /// variable: a token on the command line shows up in `ps`.
    #[arg(
        long,
        env = "PRAMAAN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
    /// With --server: trust its certificate by this PEM file (e.g. DATA/tls/cert.pem); or
    /// set PRAMAAN_CA. Either flag overrides both variables.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// With --server: trust it by the SHA-256 of its public key (base64url SPKI pin); or
    /// set PRAMAAN_PIN.
    #[arg(long, value_name = "B64URL", allow_hyphen_values = true)]
    pub pin: Option<String>,
    /// With --server: the department the simulated officers are imported into. Its
    /// policy is replaced by the bench policy unless --keep-policy: use a department of
    /// its own, not a real one.
    #[arg(long, default_value = "BENCH", requires = "server")]
    pub department: String,
    /// With --server: do not set the bench policy (the department's own applies; it may
    /// refuse software keys or limit the rate).
    #[arg(long, requires = "server")]
    pub keep_policy: bool,
    /// With --server: total attestations per second to aim at, spread over the devices
    /// (0 = each device as fast as it can).
    #[arg(long, default_value_t = 0.0, value_name = "R", requires = "server")]
    pub rate: f64,
    /// With --server: write one line per acknowledged attestation, `DEVICE_ID SEQ
    /// LOG_INDEX`, as each answer arrives (for checking against the log after a crash).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub ack_log: Option<PathBuf>,
    /// With --server: sample this process's resident memory and open descriptors
    /// (/proc/PID) during the load, print them and say whether they stayed flat.
    #[arg(long, value_name = "PID", requires = "server")]
    pub watch_pid: Option<u32>,
    /// With --watch-pid: seconds between samples.
    #[arg(long, default_value_t = 10, value_name = "S", requires = "watch_pid")]
    pub watch_every: u64,
    /// Instead of the load: measure the disk an attestation and an enrollment take (the
    /// database and the audit log, against the empty database of the same run) with
    /// --devices phones checking in once a day for --days days, and project the disk
    /// needed per year for 1,000, 10,000 and 100,000 officers (docs/sizing.md).
    #[arg(long, conflicts_with_all = ["flood", "audit_pull_entries", "server", "console", "registry"])]
    pub sizing: bool,
    /// With --sizing: days of daily check-ins to simulate (one check-in per device each).
    #[arg(long, default_value_t = 7, value_name = "D")]
    pub days: u64,
    /// With --server: the log's verifier key (DATA/log.vkey). After the load, pull the
    /// whole log (the token must be admin or auditor), verify it, and check every
    /// acknowledged attestation is in it once, at the index its answer gave.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub log_key: Option<PathBuf>,
}

impl BenchArgs {
    /// The remote load these arguments ask for (with --server).
    fn remote(&self, server: &str) -> Result<remote::RemoteOptions, CliError> {
        let args = crate::client::ServerArgs {
            server: server.to_string(),
            token: self.token.clone().unwrap_or_default(),
            ca: self.ca.clone(),
            pin: self.pin.clone(),
        };
        if args.token.trim().is_empty() {
            return Err(CliError::new(
                "--server needs --token (or PRAMAAN_TOKEN): an admin token, or IT of --department",
            ));
        }
        if self.watch_every == 0 {
            return Err(CliError::new("--watch-every must be at least 1 second"));
        }
        Ok(remote::RemoteOptions {
            server: server.to_string(),
            trust: args.trust()?,
            token: args.token.trim().to_string(),
            department: self.department.clone(),
            keep_policy: self.keep_policy,
            devices: self.devices,
            duration: Duration::from_secs(self.seconds),
            rate: self.rate,
            ack_log: self.ack_log.clone(),
            watch: self
                .watch_pid
                .map(|pid| (pid, Duration::from_secs(self.watch_every))),
            log_vkey: match &self.log_key {
                Some(p) => Some(crate::client::read_text(p)?),
                None => None,
            },
        })
    }
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest request.
    pub max_ms: f64,
}

/// The report's latency line: `p50 1.00 ms   p90 ...   max ... ms`.
impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        )
    }
}

/// What `pramaan bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Simulated devices (one connection each).
    pub devices: usize,
    /// Length of the load, seconds.
    pub seconds: f64,
    /// CPU cores the crypto ceiling was measured on.
    pub cores: usize,
    /// Attestations answered 200 (verified, evaluated, committed with fsync, logged).
    pub accepted: u64,
    /// Requests that did not get a 200.
    pub failed: u64,
    /// accepted / seconds.
    pub attestations_per_sec: f64,
    /// Latency of the accepted requests.
    pub latency: Latency,
    /// ES256 verify + claims decode + policy + Ed25519 sign, all cores, same run.
    pub crypto_ceiling_per_sec: f64,
    /// The crypto ceiling divided by the cores.
    pub crypto_per_core_per_sec: f64,
    /// attestations_per_sec / crypto_ceiling_per_sec.
    pub fraction_of_ceiling: f64,
    /// Size of one signed attestation, bytes.
    pub token_bytes: usize,
    /// Where the load run's CPU went: the load generator's threads (same process, same
    /// cores) and the server's (absent where the OS does not tell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<cpu::CpuSplit>,
    /// Rule R4 with 950 memberships against a 3,000-handle roster: refused at decode,
    /// and what the rule costs when evaluated.
    pub r4_large_roster: roster::RosterReport,
    /// With `--audit-pull-entries`: the load measured again while an auditor pulls.
    /// The fields above are the run alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_pull: Option<AuditPullReport>,
}

/// The load with and without an auditor pulling a bundle at the same time.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPullReport {
    /// Attestation entries appended to the log before the load.
    pub entries_seeded: u64,
    /// The range pulled, `[range_start, range_end)`: the seeded entries.
    pub range_start: u64,
    /// End of the pulled range (exclusive).
    pub range_end: u64,
    /// Attestations per second with no auditor (the fields of the report above).
    pub attestations_per_sec_alone: f64,
    /// Attestations per second while the auditor pulls.
    pub attestations_per_sec_with_pull: f64,
    /// (with_pull - alone) / alone, percent (negative: the pull slowed the load).
    pub change_percent: f64,
    /// Attestations answered 200 during the pull.
    pub accepted_with_pull: u64,
    /// Requests that did not get a 200 during the pull.
    pub failed_with_pull: u64,
    /// Latency of the accepted requests during the pull.
    pub latency_with_pull: Latency,
    /// How far the auditor's pull got in the window.
    pub pull: audit_pull::PullProgress,
}

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::new(e.to_string())
}

/// Prints `report` as `--format` asks: JSON, or the table `print_table` writes.
fn print_as<T: Serialize>(format: &str, report: &T, print_table: impl FnOnce(&T)) -> CliResult {
    match format {
        "json" => crate::out::json(report),
        "table" => {
            print_table(report);
            Ok(())
        }
        other => Err(CliError::new(format!(
            "--format {other}: expected table or json"
        ))),
    }
}

/// Runs `pramaan bench` and prints its report.
pub fn run(args: BenchArgs) -> CliResult {
    let format = args.format.as_str();
    // Refused before a long run, not after it.
    if !matches!(format, "json" | "table") {
        return Err(CliError::new(format!(
            "--format {format}: expected table or json"
        )));
    }
    if args.audit_pull_only {
        if args.audit_pull_entries == 0 {
            return Err(CliError::new(
                "--audit-pull-only needs --audit-pull-entries N",
            ));
        }
        let report = audit_pull::pull_only(args.audit_pull_entries, args.data.as_deref())?;
        return print_as(format, &report, audit_pull::print_pull_only);
    }
    if let Some(n) = args.console {
        let report = console::run_console(n, args.baseline, args.data.as_deref())?;
        return print_as(format, &report, console::print_console);
    }
    if args.devices == 0 || args.seconds == 0 {
        return Err(CliError::new("--devices and --seconds must be at least 1"));
    }
    if args.sizing {
        let report = sizing::run_sizing(args.devices, args.days, args.data.as_deref())?;
        return print_as(format, &report, sizing::print_sizing);
    }
    if let Some(server) = &args.server {
        let report = remote::run_remote(&args.remote(server)?)?;
        print_as(format, &report, remote::print)?;
        return match report.problem() {
            Some(p) => Err(CliError::new(p)),
            None => Ok(()),
        };
    }
    if let Some(n) = args.registry {
        let report = registry::run_registry(n, args.baseline, args.data.as_deref())?;
        match args.format.as_str() {
            "json" => outln!("{}", serde_json::to_string_pretty(&report).map_err(err)?),
            "table" => registry::print_registry(&report),
            other => {
                return Err(CliError::new(format!(
                    "--format {other}: expected table or json"
                )));
            }
        }
        return Ok(());
    }
    if args.flood {
        let report = flood::run_flood(
            Duration::from_secs(args.seconds),
            args.flood_per_day,
            args.flood_offline_per_day,
            args.data.as_deref(),
        )?;
        return print_as(format, &report, flood::print_flood);
    }
    let report = run_bench(
        args.devices,
        Duration::from_secs(args.seconds),
        args.data.as_deref(),
        args.audit_pull_entries,
    )?;
    print_as(format, &report, print_table)
}

fn print_table(r: &BenchReport) {
    outln!(
        "pramaan bench: {} devices, {:.1} s, {} cores (load generator in the same process)",
        r.devices,
        r.seconds,
        r.cores
    );
    outln!("  server (TLS + verify + policy + SQLite fsync + audit log + signed answer):");
    outln!(
        "    accepted           {:>10}   failed {}",
        r.accepted,
        r.failed
    );
    outln!(
        "    throughput         {:>10.0} attestations/s",
        r.attestations_per_sec
    );
    outln!("    latency            {}", r.latency);
    outln!("  crypto-only ceiling (verify + decode + policy + sign):");
    outln!(
        "    all cores          {:>10.0} /s   per core {:.0} /s",
        r.crypto_ceiling_per_sec,
        r.crypto_per_core_per_sec
    );
    outln!(
        "  server / ceiling     {:>10.1} %",
        r.fraction_of_ceiling * 100.0
    );
    outln!("  attestation token    {:>10} bytes", r.token_bytes);
    if let Some(c) = &r.cpu {
        outln!(
            "  CPU during the load  server {:.2} s ({:.0} us per attestation, {:.0} % of {:.1} s available)   load generator {:.2} s",
            c.server_cpu_seconds,
            c.server_cpu_us_per_attestation,
            c.server_share * 100.0,
            c.available_cpu_seconds,
            c.load_generator_cpu_seconds
        );
    }
    let g = &r.r4_large_roster;
    outln!(
        "  R4, {} memberships vs {} roster handles: {} at decode in {:.3} ms ({}); evaluated: first {:.2} ms, then p50 {:.3} ms, max {:.3} ms{}",
        g.memberships,
        g.roster_handles,
        if g.refused_at_decode {
            "refused"
        } else {
            "NOT refused"
        },
        g.refuse_ms,
        g.refusal,
        g.first_evaluation_ms,
        g.evaluation_ms_p50,
        g.evaluation_ms_max,
        if g.verdict_right {
            ""
        } else {
            " (WRONG VERDICT)"
        }
    );
    if let Some(a) = &r.audit_pull {
        print_audit_pull(a);
    }
}

fn print_audit_pull(a: &AuditPullReport) {
    let p = &a.pull;
    outln!(
        "  with an auditor pulling entries [{}, {}) ({} seeded) over HTTPS:",
        a.range_start,
        a.range_end,
        a.entries_seeded
    );
    outln!(
        "    throughput alone   {:>10.0} attestations/s",
        a.attestations_per_sec_alone
    );
    outln!(
        "    with the pull      {:>10.0} attestations/s   accepted {}   failed {}",
        a.attestations_per_sec_with_pull,
        a.accepted_with_pull,
        a.failed_with_pull
    );
    outln!("    change             {:>+10.1} %", a.change_percent);
    outln!("    latency            {}", a.latency_with_pull);
    let state = if p.complete {
        match p.bundle_verified {
            Some(true) => "complete, verified".to_string(),
            _ => "complete, NOT verified".to_string(),
        }
    } else if let Some(e) = &p.error {
        format!("failed: {e}")
    } else {
        "stopped when the load window closed".to_string()
    };
    outln!(
        "    pull               {} of {} entries with proofs ({} downloaded) in {:.1} s = {:.0} entries/s, {} requests; {state}",
        p.entries_proved,
        p.entries_requested,
        p.entries_downloaded,
        p.seconds,
        p.entries_per_sec,
        p.requests
    );
}

struct TempDir(PathBuf, bool);

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// What every bench starts from: `data` (kept) or a fresh temporary directory named after
/// `name` (removed at the end), initialized, and the configuration its server runs with
/// (loopback, a free port, no per-address rate limit: one machine plays every device).
fn bench_setup(
    data: Option<&Path>,
    name: &str,
) -> Result<(TempDir, server::InitOutput, Config), CliError> {
    let dir = match data {
        Some(d) => TempDir(d.to_path_buf(), false),
        None => TempDir(
            std::env::temp_dir().join(format!(
                "pramaan-{name}-{}-{}",
                std::process::id(),
                Uuid::new_v4().simple()
            )),
            true,
        ),
    };
    let init = server::admin_init(&dir.0, "localhost").map_err(err)?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse().map_err(err)?,
        rate_limit_per_sec: 0,
        device_rate_per_min: 0,
        ..Config::load(&dir.0).map_err(err)?
    };
    // Every simulated device connects from loopback: the per-address cap would refuse
    // all but the first 64 (and measure nothing).
    config.connections.max_per_address = 1_000_000;
    Ok((dir, init, config))
}

fn now() -> u64 {
    pramaan_server::api::now()
}

fn facts(device_id: Uuid, officer: &str, nonce: Option<Vec<u8>>, seq: u64) -> Attestation {
    Attestation {
        protocol: pramaan_core::claims::Protocol::CURRENT,
        device_id,
        nonce,
        anchor: None,
        iat: now(),
        seq,
        officer: officer.to_string(),
        apps: vec![AppFact {
            id: "com.whatsapp".into(),
            signer: WHATSAPP_SIGNER.clone(),
            version: "2.26.1".into(),
            present: true,
        }],
        groups: vec![GroupFact {
            platform: "WhatsApp".into(),
            group: "bench-officers".into(),
            member: true,
            handle: format!("+91{officer}"),
        }],
        email: vec![format!("{}@gujarat.gov.in", officer.to_lowercase())],
        os: OsInfo {
            name: "android".into(),
            version: "15".into(),
            patch: "2026-10-05".into(),
        },
        lock: true,
        evidence: None,
    }
}

struct BenchDevice {
    signer: SoftwareSigner,
    id: Uuid,
    officer: String,
    nonce: Vec<u8>,
    seq: u64,
}

impl BenchDevice {
    /// The device's next check-in (its seq advanced): a fresh attestation answering the
    /// last nonce the server gave it, signed as a phone signs it.
    fn next_check_in(&mut self) -> Result<Vec<u8>, CliError> {
        self.seq += 1;
        let claims = facts(self.id, &self.officer, Some(self.nonce.clone()), self.seq);
        cose::sign_es256(&self.signer, self.id.as_bytes(), claims.to_cbor()).map_err(err)
    }

    /// Takes the next nonce of an accepted check-in's answer; false for any other answer.
    fn took_answer(&mut self, r: &pramaan_core::transport::Response) -> bool {
        if r.status != 200 {
            return false;
        }
        let next = Sign1::parse(&r.body)
            .ok()
            .and_then(|m| claims::decode::<AttestResult>(m.unverified_payload()).ok());
        match next {
            Some(res) => {
                self.nonce = res.next_nonce;
                true
            }
            None => false,
        }
    }
}

fn options() -> Options {
    Options {
        attempts: 1,
        ..Options::default()
    }
}

fn enroll_all(
    url: &str,
    pin: [u8; 32],
    admin: &str,
    n: usize,
) -> Result<Vec<BenchDevice>, CliError> {
    enroll_fleet(url, &Trust::Pin(pin), admin, n, &Fleet::local())
}

/// Who the simulated devices are: their department, the prefix of their officer ids and
/// whether the bench policy is set on the department first.
struct Fleet {
    /// The department the officers are imported into.
    department: String,
    /// Officer ids are this prefix and a five-digit number.
    officer_prefix: String,
    /// Set [`POLICY`] (for `department`) before enrolling.
    set_policy: bool,
}

impl Fleet {
    /// The in-process benches: department BENCH, officers B00000..., the bench policy.
    fn local() -> Self {
        Self {
            department: "BENCH".into(),
            officer_prefix: "B".into(),
            set_policy: true,
        }
    }
}

/// [`POLICY`] for `department` (an id the caller checked: letters, digits, `-`, `_`).
fn bench_policy(department: &str) -> String {
    POLICY.replace(
        "department = \"BENCH\"",
        &format!("department = \"{department}\""),
    )
}

/// Sets the policy (if asked), imports `n` officers and enrolls one simulated phone
/// (software key) for each through the real protocol, with the bearer `token`.
fn enroll_fleet(
    url: &str,
    trust: &Trust,
    token: &str,
    n: usize,
    fleet: &Fleet,
) -> Result<Vec<BenchDevice>, CliError> {
    let client = HttpsClient::new(url, trust.clone(), options())
        .map_err(err)?
        .with_bearer(token);
    let dept = &fleet.department;
    if fleet.set_policy {
        let r = client
            .put(
                &format!("/v1/departments/{dept}/policy"),
                "application/toml",
                bench_policy(dept).as_bytes(),
            )
            .map_err(err)?;
        if r.status != 200 {
            return Err(CliError::new(format!(
                "setting the policy of {dept}: {}",
                crate::client::refusal(&r)
            )));
        }
    }
    let mut csv = String::from("officer_id,name,designation,department,email,mobile,entitled\n");
    for i in 0..n {
        let id = format!("{}{i:05}", fleet.officer_prefix);
        csv.push_str(&format!(
            "{id},Officer {i},Section Officer,{dept},{}@gujarat.gov.in,+9198{i:08},true\n",
            id.to_lowercase()
        ));
    }
    let r = client
        .post("/v1/officers/import", "text/csv", csv.as_bytes())
        .map_err(err)?;
    if r.status != 200 {
        return Err(CliError::new(format!(
            "importing officers: {}",
            crate::client::refusal(&r)
        )));
    }
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        let officer = format!("{}{i:05}", fleet.officer_prefix);
        let r = client
            .post(
                "/v1/enrollment-tokens",
                "application/json",
                serde_json::json!({ "officer_id": officer })
                    .to_string()
                    .as_bytes(),
            )
            .map_err(err)?;
        if r.status != 200 {
            return Err(CliError::new(format!(
                "an enrollment token for {officer}: {}",
                crate::client::refusal(&r)
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body).map_err(err)?;
        let uri = EnrollmentUri::parse(v["uri"].as_str().unwrap_or_default()).map_err(err)?;
        let c: Challenge =
            claims::decode(&client.get("/v1/challenge").map_err(err)?.body).map_err(err)?;
        let signer = SoftwareSigner::generate().map_err(err)?;
        let req = EnrollRequest {
            v: 1,
            token_hash: claims::enroll_token_hash(&uri.token).to_vec(),
            nonce: c.nonce,
            key: signer.public_key().map_err(err)?.to_cose_key_bytes(),
            platform: Platform::Android,
            device: DeviceInfo {
                model: "Bench".into(),
                os: "android".into(),
                os_version: "15".into(),
            },
            evidence: None,
        };
        let body = cose::sign_es256(&signer, b"", claims::encode(&req)).map_err(err)?;
        // The enrollment token goes in the header, outside the signed request.
        let r = HttpsClient::new(url, trust.clone(), options())
            .map_err(err)?
            .with_bearer(uri.token.as_str())
            .post("/v1/enroll", DEVICE_CONTENT_TYPE, &body)
            .map_err(err)?;
        if r.status != 200 {
            return Err(CliError::new(format!(
                "enrolling device {i}: {}",
                device_refusal(&r)
            )));
        }
        let msg = Sign1::parse(&r.body).map_err(err)?;
        let receipt: Receipt = claims::decode(msg.unverified_payload()).map_err(err)?;
        devices.push(BenchDevice {
            signer,
            id: receipt.device_id,
            officer,
            nonce: receipt.next_nonce,
            seq: 0,
        });
    }
    Ok(devices)
}

/// `server refused: 409 key_enrolled: <message>` from a device-API error answer (CBOR
/// body), or the JSON reading of [`crate::client::refusal`].
fn device_refusal(r: &pramaan_core::transport::Response) -> String {
    match claims::decode::<claims::ErrorBody>(&r.body) {
        Ok(b) => format!("server refused: {} {}: {}", r.status, b.error, b.message),
        Err(_) => crate::client::refusal(r),
    }
}

/// The officer of the crypto-only ceiling (and of the R4 figure).
fn ceiling_officer() -> Officer {
    Officer {
        officer_id: "B00000".into(),
        name: "Officer".into(),
        designation: String::new(),
        department: "BENCH".into(),
        email: "b00000@gujarat.gov.in".into(),
        mobile: String::new(),
        entitled: true,
        gr_reference: None,
        phone_model: None,
        phone_purchased: None,
        retired_at: None,
    }
}

/// A device of [`ceiling_officer`] with the COSE key `public_key`.
fn ceiling_device(id: Uuid, public_key: Vec<u8>) -> DeviceRow {
    DeviceRow {
        device_id: id,
        officer_id: "B00000".into(),
        department: "BENCH".into(),
        platform: Platform::Android,
        model: "Bench".into(),
        public_key,
        assurance: claims::Assurance::Software,
        evidence: None,
        evidence_summary: Default::default(),
        freshness: Default::default(),
        assert_counter: None,
        reattest_requested: false,
        revoked: false,
        reason: None,
        last_seq: None,
        enrolled_at: 0,
    }
}

/// The server's cryptographic and policy work for one attestation, on every core: the
/// very functions `POST /v1/attest` runs ([`attest::verify_with_key`],
/// [`attest::evaluate`], [`attest::Outcome::signed`]), without TLS, HTTP and the store.
fn crypto_ceiling(cores: usize, duration: Duration) -> Result<(f64, f64), CliError> {
    let policy = Arc::new(Policy::load(POLICY, &Catalog::builtin()).map_err(err)?);
    let mut handles = Vec::new();
    for _ in 0..cores {
        let policy = policy.clone();
        handles.push(std::thread::spawn(move || -> Result<u64, CliError> {
            let signer = SoftwareSigner::generate().map_err(err)?;
            let key = signer.public_key().map_err(err)?;
            let server_key = ServerKey::generate().map_err(err)?;
            let id = Uuid::new_v4();
            let token = cose::sign_es256(
                &signer,
                id.as_bytes(),
                facts(id, "B00000", Some(vec![1; 32]), 1).to_cbor(),
            )
            .map_err(err)?;
            let officer = ceiling_officer();
            let device = ceiling_device(id, key.to_cose_key_bytes());
            let ctx = attest::Context {
                previous_protocol_until: pramaan_server::config::DEFAULT_PREVIOUS_PROTOCOL_UNTIL,
                now: now(),
                offline_window_secs: 0,
                nonce_ttl_secs: 0,
                nonce_key: std::sync::Arc::new(
                    pramaan_server::nonce::NonceKey::generate().map_err(err)?,
                ),
                status_list: None,
                roots: std::sync::Arc::new(pramaan_core::evidence::Roots::builtin()),
            };
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < duration {
                let v = attest::verify_device(&device, &token, &ctx).map_err(err)?;
                let eval = attest::evaluate(
                    &policy,
                    &officer,
                    &device,
                    &v.claims,
                    &[],
                    true,
                    &pramaan_core::policy::EvalContext::at(v.claims.iat),
                );
                let outcome = attest::Outcome {
                    protocol: pramaan_core::claims::Protocol::CURRENT,
                    enrolled_at: 0,
                    device_id: v.device_id,
                    seq: v.claims.seq,
                    verdict: eval.verdict,
                    failures: eval.failures,
                    log_index: n,
                    next_nonce: vec![0; 32],
                    at: v.claims.iat,
                    reattest: eval.reattest,
                    log_bytes: 0,
                };
                std::hint::black_box(outcome.signed(&server_key, b"benchkid", None, &[]));
                n += 1;
            }
            Ok(n)
        }));
    }
    let mut total = 0u64;
    for h in handles {
        total += h
            .join()
            .map_err(|_| CliError::new("crypto thread panicked"))??;
    }
    let all = total as f64 / duration.as_secs_f64();
    Ok((all, all / cores as f64))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// One load run's raw results.
struct LoadRun {
    latencies: Vec<Duration>,
    failed: u64,
    elapsed: f64,
    /// CPU seconds of the process over the run, and of its load threads (Linux).
    cpu: Option<(f64, f64)>,
}

impl LoadRun {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed
    }

    /// Where the run's CPU went, on `cores`.
    fn cpu_split(&self, cores: usize) -> Option<cpu::CpuSplit> {
        self.cpu.map(|(process, load)| {
            cpu::CpuSplit::new(
                process,
                load,
                cores,
                self.elapsed,
                self.latencies.len() as u64,
            )
        })
    }

    fn latency(&self) -> Latency {
        let all = &self.latencies;
        Latency {
            p50_ms: percentile(all, 0.50),
            p90_ms: percentile(all, 0.90),
            p99_ms: percentile(all, 0.99),
            max_ms: all.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        }
    }
}

/// Every device attests in a loop until `duration` is over, each answering its previous
/// answer's nonce; returns the devices (with their nonce and seq) for a next run.
fn run_load(
    fleet: Vec<BenchDevice>,
    url: &str,
    pin: [u8; 32],
    duration: Duration,
) -> Result<(LoadRun, Vec<BenchDevice>), CliError> {
    let process_cpu = cpu::process_cpu_seconds();
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::new();
    for mut dev in fleet {
        let url = url.to_string();
        handles.push(std::thread::spawn(
            move || -> (Vec<Duration>, u64, BenchDevice, Option<f64>) {
                let mut lat = Vec::new();
                let mut failed = 0u64;
                // This thread's CPU is the load generator's, not the server's.
                let cpu_start = cpu::thread_cpu_seconds();
                let used = || Some(cpu::thread_cpu_seconds()? - cpu_start?);
                let Ok(client) = HttpsClient::new(&url, Trust::Pin(pin), options()) else {
                    return (lat, 1, dev, used());
                };
                while Instant::now() < deadline {
                    let Ok(body) = dev.next_check_in() else {
                        failed += 1;
                        continue;
                    };
                    let t = Instant::now();
                    let r = client.post("/v1/attest", DEVICE_CONTENT_TYPE, &body);
                    let elapsed = t.elapsed();
                    if r.is_ok_and(|r| dev.took_answer(&r)) {
                        lat.push(elapsed);
                    } else {
                        failed += 1;
                        break;
                    }
                }
                let cpu = used();
                (lat, failed, dev, cpu)
            },
        ));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut fleet = Vec::with_capacity(handles.len());
    let mut load_cpu = Some(0.0);
    for h in handles {
        let (lat, f, dev, cpu) = h
            .join()
            .map_err(|_| CliError::new("load thread panicked"))?;
        latencies.extend(lat);
        failed += f;
        fleet.push(dev);
        load_cpu = load_cpu.zip(cpu).map(|(a, b)| a + b);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = process_cpu
        .zip(cpu::process_cpu_seconds())
        .zip(load_cpu)
        .map(|((before, after), load)| (after - before, load));
    latencies.sort();
    Ok((
        LoadRun {
            latencies,
            failed,
            elapsed,
            cpu,
        },
        fleet,
    ))
}

/// Runs the whole benchmark (also used by tests with small numbers). With
/// `audit_pull_entries > 0`, also seeds the log and measures the load again while an
/// auditor pulls a bundle of that many entries ([`AuditPullReport`]).
pub fn run_bench(
    devices: usize,
    duration: Duration,
    data: Option<&Path>,
    audit_pull_entries: u64,
) -> Result<BenchReport, CliError> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (dir, init, config) = bench_setup(data, "bench")?;
    let running = server::start_with_config(&dir.0, config).map_err(err)?;
    let url = running.url.clone();
    let pin = running.pin;
    eprintln!("enrolling {devices} devices...");
    let fleet = enroll_all(&url, pin, &init.admin_token, devices)?;
    let token_bytes = {
        let d = &fleet[0];
        cose::sign_es256(
            &d.signer,
            d.id.as_bytes(),
            facts(d.id, &d.officer, Some(vec![0; 32]), 1).to_cbor(),
        )
        .map_err(err)?
        .len()
    };

    eprintln!(
        "measuring rule R4 with {} memberships against {} roster handles...",
        roster::MEMBERSHIPS,
        roster::ROSTER_HANDLES
    );
    let r4_large_roster = roster::measure()?;

    eprintln!("measuring the crypto-only ceiling...");
    let (ceiling, per_core) = crypto_ceiling(cores, Duration::from_secs(2).min(duration))?;

    let range = if audit_pull_entries > 0 {
        eprintln!("seeding the audit log with {audit_pull_entries} attestation entries...");
        Some(audit_pull::seed(
            running.store().as_ref(),
            audit_pull_entries,
            cores,
        )?)
    } else {
        None
    };

    eprintln!("load: {devices} devices for {} s...", duration.as_secs());
    let (alone, fleet) = run_load(fleet, &url, pin, duration)?;

    let audit_pull = match range {
        Some(range) => {
            let token = server::create_token(&dir.0, Role::Auditor, None).map_err(err)?;
            eprintln!(
                "load again, {devices} devices for {} s, while an auditor pulls entries [{}, {})...",
                duration.as_secs(),
                range.0,
                range.1
            );
            let auditor = audit_pull::start(&url, pin, &token, range, duration)?;
            let (with_pull, _fleet) = run_load(fleet, &url, pin, duration)?;
            let pull = auditor.finish(&init.log_vkey)?;
            let base = alone.rate();
            let rate = with_pull.rate();
            Some(AuditPullReport {
                entries_seeded: audit_pull_entries,
                range_start: range.0,
                range_end: range.1,
                attestations_per_sec_alone: base,
                attestations_per_sec_with_pull: rate,
                change_percent: if base > 0.0 {
                    (rate - base) / base * 100.0
                } else {
                    0.0
                },
                accepted_with_pull: with_pull.latencies.len() as u64,
                failed_with_pull: with_pull.failed,
                latency_with_pull: with_pull.latency(),
                pull,
            })
        }
        None => None,
    };
    running.shutdown();
    let rate = alone.rate();
    Ok(BenchReport {
        devices,
        seconds: alone.elapsed,
        cores,
        accepted: alone.latencies.len() as u64,
        failed: alone.failed,
        attestations_per_sec: rate,
        latency: alone.latency(),
        crypto_ceiling_per_sec: ceiling,
        crypto_per_core_per_sec: per_core,
        fraction_of_ceiling: if ceiling > 0.0 { rate / ceiling } else { 0.0 },
        token_bytes,
        cpu: alone.cpu_split(cores),
        r4_large_roster,
        audit_pull,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_bench_accepts_attestations_and_reports_a_ceiling() {
        let r = run_bench(2, Duration::from_secs(1), None, 0).expect("bench");
        assert!(r.audit_pull.is_none());
        assert!(r.accepted > 0, "{r:?}");
        assert_eq!(r.failed, 0, "{r:?}");
        assert!(r.crypto_ceiling_per_sec > r.attestations_per_sec, "{r:?}");
        assert!(r.latency.p99_ms >= r.latency.p50_ms);
        assert!(r.token_bytes < 1024);
    }

    #[test]
    fn an_auditor_pull_during_the_load_is_measured_and_its_bundle_verifies() {
        let r = run_bench(2, Duration::from_secs(2), None, 200).expect("bench");
        let a = r.audit_pull.as_ref().expect("audit pull report");
        assert!(a.attestations_per_sec_alone > 0.0, "{a:?}");
        assert!(a.attestations_per_sec_with_pull > 0.0, "{a:?}");
        assert_eq!(a.attestations_per_sec_alone, r.attestations_per_sec);
        assert_eq!((a.failed_with_pull, r.failed), (0, 0), "{a:?}");
        assert_eq!(a.range_end - a.range_start, 200, "{a:?}");
        let p = &a.pull;
        assert!(p.complete, "{p:?}");
        assert_eq!(
            (p.entries_downloaded, p.entries_proved),
            (200, 200),
            "{p:?}"
        );
        assert_eq!(p.bundle_verified, Some(true), "{p:?}");
        assert!(p.error.is_none(), "{p:?}");
        let json = serde_json::to_value(&r).expect("json");
        assert!(json["audit_pull"]["change_percent"].is_number(), "{json}");
        assert_eq!(json["audit_pull"]["pull"]["entries_proved"], 200);
    }
}
