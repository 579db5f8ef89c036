//! `pramaan bench --sizing`: the disk an attestation and an enrollment take, measured, and
//! the disk a deployment needs per year (issue 15; the figures of docs/sizing.md).
//!
//! Why measured on a real server: an attestation's cost is its row (the claims, verdict
//! and failures), the audit log's leaf (the device's signed token as received) and the
//! tree's stored node hashes, each with B-tree and index overhead. So the bench runs the
//! real server in-process on a fresh SQLite data directory, measures the database (WAL
//! folded in; [`pramaan_server::sizing`]) empty, after enrolling `--devices` simulated
//! phones through the real protocol, and after `--days` rounds of one check-in per phone
//! (the same simulated phone as the throughput bench: a phone's claims, signed ES256), an
//! auditor fetching a checkpoint after each round. Differences over counts give the bytes
//! per enrollment and per attestation; the projection multiplies them out.
//!
//! What is left out of "grows": the `nonces` table (a used nonce is deleted when it
//! expires, so it stays bounded by the check-ins of the last minutes) and free pages
//! (reused before the file grows). Both are in the report. Real phones add their platform
//! evidence to the enrollment (an Android Key Attestation chain is 3 to 5 KB, once in the
//! device row and once in the log); the simulated phones have software keys and none
//! (docs/sizing.md adds it).

use std::collections::BTreeMap;
use std::path::Path;

use pramaan_core::cose::DEVICE_CONTENT_TYPE;
use pramaan_core::transport::{HttpsClient, Trust};
use pramaan_server::server::{self, Paths};
use pramaan_server::sizing::{DiskUsage, postgres_usage, sqlite_usage};
use pramaan_server::store::{PostgresStore, Role};
use serde::Serialize;

use super::{CliError, bench_setup, enroll_all, err, options};

/// The deployments the projection is for: officers checking in once a day.
pub const OFFICERS: [u64; 3] = [1_000, 10_000, 100_000];

/// Signed checkpoints stored per year in the projection: one an hour (a witness or an
/// auditor polling hourly; the server signs only when asked and the log has grown).
pub const CHECKPOINTS_PER_YEAR: u64 = 365 * 24;

/// Bytes of a stored checkpoint besides its note: root (32), size, time and row keys.
const CHECKPOINT_ROW_OVERHEAD: u64 = 56;

/// The table that stays bounded (rows deleted as they expire).
const BOUNDED_TABLE: &str = "nonces";

/// The database at one point of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    /// `page_count * page_size` after the WAL checkpoint.
    pub file_bytes: u64,
    /// Bytes of every table but the bounded one (`nonces`), free pages left out: what
    /// grows with use.
    pub growing_bytes: u64,
    /// Bytes of the audit log's tables (leaves and stored node hashes).
    pub log_bytes: u64,
    /// Bytes of the bounded `nonces` table.
    pub nonce_bytes: u64,
    /// Bytes on the freelist.
    pub free_bytes: u64,
}

impl Measure {
    fn of(u: &DiskUsage) -> Self {
        let nonce_bytes = u.table(BOUNDED_TABLE);
        Measure {
            file_bytes: u.file_bytes,
            growing_bytes: u
                .file_bytes
                .saturating_sub(u.free_bytes)
                .saturating_sub(nonce_bytes),
            log_bytes: u.log_bytes(),
            nonce_bytes,
            free_bytes: u.free_bytes,
        }
    }
}

/// Bytes one item adds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PerItem {
    /// To the database (the log's share included).
    pub db_bytes: f64,
    /// To the audit log's tables.
    pub log_bytes: f64,
}

impl PerItem {
    fn between(before: &Measure, after: &Measure, count: u64) -> Self {
        let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / count.max(1) as f64;
        PerItem {
            db_bytes: per(after.growing_bytes, before.growing_bytes),
            log_bytes: per(after.log_bytes, before.log_bytes),
        }
    }
}

/// The disk one deployment needs for a year of daily check-ins.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    /// Officers, one phone each, checking in once a day.
    pub officers: u64,
    /// Check-ins a year (`officers * 365`).
    pub attestations_per_year: u64,
    /// What the check-ins add to the database in a year (log included).
    pub db_bytes_per_year: u64,
    /// Of which the audit log.
    pub log_bytes_per_year: u64,
    /// The enrollments (registry row, enrollment token, device, log entries), once per
    /// phone: a phone replaced adds one more.
    pub enrollment_bytes: u64,
    /// The stored checkpoints of a year ([`CHECKPOINTS_PER_YEAR`]).
    pub checkpoint_bytes_per_year: u64,
    /// The database at the end of the first year: the empty database, the enrollments,
    /// a year of check-ins and checkpoints. One backup (a copy of it and the keys)
    /// takes as much again.
    pub db_bytes_after_first_year: u64,
}

/// What `pramaan bench --sizing` measured and projects.
#[derive(Debug, Clone, Serialize)]
pub struct SizingReport {
    /// The store measured: SQLite (file pages, WAL folded) or PostgreSQL
    /// (`pg_total_relation_size` of each table).
    pub backend: String,
    /// Simulated phones.
    pub devices: u64,
    /// Days of check-ins simulated (one per phone per day).
    pub days: u64,
    /// Check-ins accepted (`devices * days`).
    pub attestations: u64,
    /// Checkpoints the server signed and stored during the run (one per day).
    pub checkpoints: u64,
    /// Bytes of one check-in as a phone sends it (COSE_Sign1, ES256).
    pub token_bytes: u64,
    /// The database after `admin init`.
    pub empty: Measure,
    /// After the enrollments.
    pub enrolled: Measure,
    /// After the check-ins.
    pub loaded: Measure,
    /// Bytes per enrolled phone (its officer's registry row and enrollment token
    /// included; the department's policy is shared by all, and counted here).
    pub per_enrollment: PerItem,
    /// Bytes per check-in.
    pub per_attestation: PerItem,
    /// Bytes of one stored checkpoint (the signed note as served, and its row).
    pub per_checkpoint_bytes: u64,
    /// What each table grew by during the check-ins, per check-in.
    pub per_attestation_by_table: BTreeMap<String, f64>,
    /// The projection for [`OFFICERS`].
    pub years: Vec<Projection>,
}

/// Runs the measurement: `devices` phones, `days` check-ins each (also the tests, with
/// small numbers). `data` keeps the data directory.
pub fn run_sizing(
    devices: usize,
    days: u64,
    data: Option<&Path>,
) -> Result<SizingReport, CliError> {
    if devices == 0 || days == 0 {
        return Err(CliError::new(
            "--sizing needs --devices and --days of at least 1",
        ));
    }
    let (dir, init, config) = bench_setup(data, "sizing")?;
    let db = Paths::new(&dir.0).db();
    // PostgreSQL when the configuration names a database (`admin init` above refused
    // one that already holds a deployment): measured through a store of its own.
    let postgres = match &config.database_url {
        Some(url) => Some(PostgresStore::open(url, config.database_ca.as_deref()).map_err(err)?),
        None => None,
    };
    let measure = || -> Result<(DiskUsage, Measure), CliError> {
        let u = match &postgres {
            Some(store) => postgres_usage(store),
            None => sqlite_usage(&db),
        }
        .map_err(err)?;
        if !u.wal_folded {
            log::warn!("the WAL was not folded entirely: the figures may be a few pages short");
        }
        let m = Measure::of(&u);
        Ok((u, m))
    };
    let running = server::start_with_config(&dir.0, config).map_err(err)?;
    let (url, pin) = (running.url.clone(), running.pin);
    let (_, empty) = measure()?;

    eprintln!("enrolling {devices} simulated phones...");
    let mut fleet = enroll_all(&url, pin, &init.admin_token, devices)?;
    let (before_load, enrolled) = measure()?;

    let auditor_token = server::create_token(&dir.0, Role::Auditor, None).map_err(err)?;
    let auditor = HttpsClient::new(&url, Trust::Pin(pin), options())
        .map_err(err)?
        .with_bearer(&auditor_token);
    let client = HttpsClient::new(&url, Trust::Pin(pin), options()).map_err(err)?;
    let bar = indicatif::ProgressBar::new(days * fleet.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} check-ins [{bar:30}] {pos}/{len} {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut token_bytes = 0;
    let mut note_bytes = 0;
    for day in 1..=days {
        bar.set_message(format!("day {day}"));
        for dev in &mut fleet {
            let body = dev.next_check_in()?;
            token_bytes = body.len() as u64;
            let r = client
                .post("/v1/attest", DEVICE_CONTENT_TYPE, &body)
                .map_err(err)?;
            if !dev.took_answer(&r) {
                return Err(CliError::new(format!(
                    "check-in of {} on day {day}: {}",
                    dev.officer,
                    super::device_refusal(&r)
                )));
            }
            bar.inc(1);
        }
        let r = auditor.get("/v1/audit/checkpoint").map_err(err)?;
        if r.status != 200 {
            return Err(CliError::new(format!(
                "the checkpoint of day {day}: {}",
                crate::client::refusal(&r)
            )));
        }
        note_bytes = r.body.len() as u64;
    }
    bar.finish_and_clear();
    let (after_load, loaded) = measure()?;
    running.shutdown();

    let attestations = devices as u64 * days;
    let per_enrollment = PerItem::between(&empty, &enrolled, devices as u64);
    let per_attestation = PerItem::between(&enrolled, &loaded, attestations);
    let per_checkpoint_bytes = note_bytes + CHECKPOINT_ROW_OVERHEAD;
    let per_attestation_by_table = after_load
        .tables
        .iter()
        .filter(|(name, _)| name.as_str() != BOUNDED_TABLE)
        .map(|(name, after)| {
            let grew = after.saturating_sub(before_load.table(name));
            (name.clone(), grew as f64 / attestations as f64)
        })
        .filter(|(_, per)| *per > 0.0)
        .collect();
    let years = OFFICERS
        .iter()
        .map(|&officers| {
            project(
                officers,
                &empty,
                per_enrollment,
                per_attestation,
                per_checkpoint_bytes,
            )
        })
        .collect();
    Ok(SizingReport {
        backend: if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
        .to_string(),
        devices: devices as u64,
        days,
        attestations,
        checkpoints: days,
        token_bytes,
        empty,
        enrolled,
        loaded,
        per_enrollment,
        per_attestation,
        per_checkpoint_bytes,
        per_attestation_by_table,
        years,
    })
}

/// A year of `officers` checking in daily, from the measured figures.
pub fn project(
    officers: u64,
    empty: &Measure,
    per_enrollment: PerItem,
    per_attestation: PerItem,
    per_checkpoint_bytes: u64,
) -> Projection {
    let attestations_per_year = officers * 365;
    let times = |n: u64, bytes: f64| (n as f64 * bytes).round() as u64;
    let db_bytes_per_year = times(attestations_per_year, per_attestation.db_bytes);
    let enrollment_bytes = times(officers, per_enrollment.db_bytes);
    let checkpoint_bytes_per_year = CHECKPOINTS_PER_YEAR * per_checkpoint_bytes;
    Projection {
        officers,
        attestations_per_year,
        db_bytes_per_year,
        log_bytes_per_year: times(attestations_per_year, per_attestation.log_bytes),
        enrollment_bytes,
        checkpoint_bytes_per_year,
        db_bytes_after_first_year: empty.growing_bytes
            + enrollment_bytes
            + db_bytes_per_year
            + checkpoint_bytes_per_year,
    }
}

/// `n` bytes for people: B, KB, MB, GB (powers of 1000, as disks are sold).
fn human(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The report as a table.
pub fn print_sizing(r: &SizingReport) {
    outln!(
        "pramaan bench --sizing: {} phones, {} days of daily check-ins ({} attestations, {} checkpoints), {}",
        r.devices,
        r.days,
        r.attestations,
        r.checkpoints,
        r.backend
    );
    outln!("  database                      total        grows   of which log   nonces (bounded)");
    for (name, m) in [
        ("empty (admin init)", &r.empty),
        ("after the enrollments", &r.enrolled),
        ("after the check-ins", &r.loaded),
    ] {
        outln!(
            "    {name:<26} {:>10} {:>10} {:>12} {:>12}",
            human(m.file_bytes as f64),
            human(m.growing_bytes as f64),
            human(m.log_bytes as f64),
            human(m.nonce_bytes as f64)
        );
    }
    outln!("  measured");
    outln!(
        "    per attestation            {:>8.0} B in the database, {:.0} B of it in the audit log (the phone sends {} B)",
        r.per_attestation.db_bytes,
        r.per_attestation.log_bytes,
        r.token_bytes
    );
    outln!(
        "    per enrollment             {:>8.0} B in the database, {:.0} B of it in the audit log (software key; a real phone adds its evidence, docs/sizing.md)",
        r.per_enrollment.db_bytes,
        r.per_enrollment.log_bytes
    );
    outln!(
        "    per stored checkpoint      {:>8} B",
        r.per_checkpoint_bytes
    );
    let by_table: Vec<String> = r
        .per_attestation_by_table
        .iter()
        .map(|(t, b)| format!("{t} {b:.0}"))
        .collect();
    outln!("    per attestation by table   {}", by_table.join(", "));
    outln!(
        "  per year, every officer checking in once a day ({} checkpoints a year):",
        CHECKPOINTS_PER_YEAR
    );
    outln!(
        "    {:>9} {:>14} {:>12} {:>12} {:>12} {:>12} {:>16}",
        "officers",
        "check-ins",
        "database",
        "of it log",
        "enrollments",
        "checkpoints",
        "after year 1"
    );
    for p in &r.years {
        outln!(
            "    {:>9} {:>14} {:>12} {:>12} {:>12} {:>12} {:>16}",
            p.officers,
            p.attestations_per_year,
            human(p.db_bytes_per_year as f64),
            human(p.log_bytes_per_year as f64),
            human(p.enrollment_bytes as f64),
            human(p.checkpoint_bytes_per_year as f64),
            human(p.db_bytes_after_first_year as f64)
        );
    }
    outln!(
        "  a backup is a copy of the database (and a few KB of keys and configuration): as much again as \"after year 1\" per copy kept"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_sizing_run_gives_consistent_figures() {
        let r = run_sizing(20, 3, None).expect("sizing");
        assert_eq!(r.backend, "SQLite");
        assert_eq!((r.attestations, r.checkpoints), (60, 3));
        let (a, e) = (r.per_attestation, r.per_enrollment);
        assert!(a.log_bytes > 0.0 && a.db_bytes >= a.log_bytes, "{a:?}");
        assert!(e.log_bytes > 0.0 && e.db_bytes >= e.log_bytes, "{e:?}");
        // The log keeps the phone's signed token: an attestation takes at least that.
        assert!(
            a.log_bytes >= r.token_bytes as f64,
            "{a:?} {}",
            r.token_bytes
        );
        assert!(r.loaded.growing_bytes > r.enrolled.growing_bytes);
        assert!(r.enrolled.growing_bytes > r.empty.growing_bytes);
        assert!(r.per_checkpoint_bytes > CHECKPOINT_ROW_OVERHEAD);
        let by_table: f64 = r.per_attestation_by_table.values().sum();
        assert!(by_table > 0.0, "{:?}", r.per_attestation_by_table);
        assert_eq!(r.years.len(), OFFICERS.len());
        for p in &r.years {
            let n = p.officers as f64 * 365.0;
            assert_eq!(p.attestations_per_year, p.officers * 365);
            assert!(
                (p.db_bytes_per_year as f64 - n * a.db_bytes).abs() <= 1.0,
                "{p:?}"
            );
            assert!(
                (p.log_bytes_per_year as f64 - n * a.log_bytes).abs() <= 1.0,
                "{p:?}"
            );
            assert!(p.db_bytes_per_year >= p.log_bytes_per_year);
            assert_eq!(
                p.db_bytes_after_first_year,
                r.empty.growing_bytes
                    + p.enrollment_bytes
                    + p.db_bytes_per_year
                    + p.checkpoint_bytes_per_year
            );
        }
        // Ten times the officers, ten times the disk (within rounding).
        let ratio = r.years[2].db_bytes_per_year as f64 / r.years[1].db_bytes_per_year as f64;
        assert!((ratio - 10.0).abs() < 0.001, "{ratio}");
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["years"][0]["officers"], 1000);
    }

    #[test]
    fn a_postgres_database_is_measured_table_by_table() {
        let Some(cluster) = pramaan_testkit::postgres::cluster() else {
            return;
        };
        let url = pramaan_testkit::postgres::fresh_database(&cluster);
        let dir = tempfile::tempdir().expect("tempdir");
        // The data directory names the database, as a deployment's does.
        let config = pramaan_server::config::Config::template("localhost").replacen(
            '\n',
            &format!("\ndatabase_url = {url:?}\n"),
            1,
        );
        std::fs::write(dir.path().join("config.toml"), config).expect("config.toml");
        let r = run_sizing(5, 2, Some(dir.path())).expect("sizing on PostgreSQL");
        assert_eq!(r.backend, "PostgreSQL");
        assert!(!dir.path().join("pramaan.db").exists());
        let a = r.per_attestation;
        assert!(a.log_bytes > 0.0 && a.db_bytes >= a.log_bytes, "{a:?}");
        assert!(r.loaded.growing_bytes > r.empty.growing_bytes, "{r:?}");
    }

    #[test]
    fn no_devices_or_no_days_is_refused_before_any_work() {
        for (d, days) in [(0, 3), (3, 0)] {
            let e = run_sizing(d, days, None).expect_err("refused");
            assert!(e.to_string().contains("--days"), "{e}");
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(999.0), "999 B");
        assert_eq!(human(1_500.0), "1.5 KB");
        assert_eq!(human(2_340_000_000.0), "2.3 GB");
    }
}
