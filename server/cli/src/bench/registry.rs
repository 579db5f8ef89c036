//! `pramaan bench --registry N [--baseline M]`: how long `POST /v1/officers/import` takes
//! for a department of N officers, against M officers in the same run, and a re-import of
//! the same N rows (all unchanged).
//!
//! Why a ratio of per-row times: issue 11 found the import quadratic (5,000 rows 1.2 s,
//! 10,000 rows 7.1 s, 20,000 rows 21 s; each row's line number was counted from the start
//! of the file). Absolute times depend on the machine; the per-row time of N rows over the
//! per-row time of M rows is about 1 when the import is linear, about N/M when it is
//! quadratic. The server runs in this process over TLS on loopback, as in the other
//! in-process benches; the upload is the real CSV through the real endpoint.

use std::time::{Duration, Instant};

use pramaan_core::api::ImportReport;
use pramaan_core::transport::{HttpsClient, Options, Trust};
use serde::Serialize;

use super::{CliError, bench_policy, bench_setup, err};
use pramaan_server::server;

/// One timed import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportRun {
    /// Rows in the file.
    pub rows: u64,
    /// Size of the CSV, bytes.
    pub bytes: usize,
    /// Wall time of the request (upload, parse, checks, commit, log entry, answer).
    pub seconds: f64,
    /// rows / seconds.
    pub rows_per_sec: f64,
    /// The server's counts.
    pub added: u64,
    /// Rows found unchanged (not written again).
    pub unchanged: u64,
}

/// What `bench --registry` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryReport {
    /// M new officers.
    pub baseline: ImportRun,
    /// N new officers (other ids than the baseline's).
    pub import: ImportRun,
    /// The same N rows again: every row unchanged.
    pub reimport: ImportRun,
    /// (import seconds / N) / (baseline seconds / M): about 1 when linear.
    pub per_row_ratio: f64,
}

/// `n` registry rows of department BENCH with ids `{prefix}{i:06}`.
fn registry_csv(prefix: &str, n: u64) -> String {
    let mut csv = String::with_capacity(n as usize * 120 + 100);
    csv.push_str(
        "officer_id,name,designation,department,email,mobile,entitled,gr_reference,phone_model,phone_purchased\n",
    );
    for i in 0..n {
        let id = format!("{prefix}{i:06}");
        csv.push_str(&format!(
            "{id},Officer {i},Section Officer,BENCH,{}@gujarat.gov.in,98{:08},true,GR-CEL-102009,Pixel 8,12/04/2024\n",
            id.to_lowercase(),
            i % 100_000_000
        ));
    }
    csv
}

fn timed_import(client: &HttpsClient, csv: &str, rows: u64) -> Result<ImportRun, CliError> {
    let start = Instant::now();
    let r = client
        .post("/v1/officers/import", "text/csv", csv.as_bytes())
        .map_err(err)?;
    let seconds = start.elapsed().as_secs_f64();
    if r.status != 200 {
        return Err(CliError::new(format!(
            "importing {rows} officers: {}",
            crate::client::refusal(&r)
        )));
    }
    let report: ImportReport = serde_json::from_slice(&r.body).map_err(err)?;
    if report.added + report.unchanged != rows {
        return Err(CliError::new(format!(
            "importing {rows} officers: the server counted {} added and {} unchanged",
            report.added, report.unchanged
        )));
    }
    Ok(ImportRun {
        rows,
        bytes: csv.len(),
        seconds,
        rows_per_sec: rows as f64 / seconds.max(1e-9),
        added: report.added,
        unchanged: report.unchanged,
    })
}

/// Imports `baseline` then `n` new officers into a fresh server, then the `n` again.
pub fn run_registry(
    n: u64,
    baseline: u64,
    data: Option<&std::path::Path>,
) -> Result<RegistryReport, CliError> {
    if n == 0 || baseline == 0 {
        return Err(CliError::new(
            "--registry N and --baseline M must be at least 1",
        ));
    }
    if n >= 1_000_000 || baseline >= 1_000_000 {
        return Err(CliError::new(
            "--registry N and --baseline M: at most 999,999",
        ));
    }
    let (dir, init, config) = bench_setup(data, "registry")?;
    let running = server::start_with_config(&dir.0, config).map_err(err)?;
    let big = registry_csv("RN", n);
    let options = Options {
        attempts: 1,
        io_timeout: crate::officers::upload_timeout(big.len()) + Duration::from_secs(60),
        ..Options::default()
    };
    let client = HttpsClient::new(&running.url, Trust::Pin(running.pin), options)
        .map_err(err)?
        .with_bearer(init.admin_token.as_str());
    let r = client
        .put(
            "/v1/departments/BENCH/policy",
            "application/toml",
            bench_policy("BENCH").as_bytes(),
        )
        .map_err(err)?;
    if r.status != 200 {
        return Err(CliError::new(format!(
            "setting the bench policy: {}",
            crate::client::refusal(&r)
        )));
    }
    let baseline = timed_import(&client, &registry_csv("RB", baseline), baseline)?;
    let import = timed_import(&client, &big, n)?;
    let reimport = timed_import(&client, &big, n)?;
    let per_row = |r: &ImportRun| r.seconds / r.rows as f64;
    let per_row_ratio = per_row(&import) / per_row(&baseline).max(1e-12);
    drop(running);
    Ok(RegistryReport {
        baseline,
        import,
        reimport,
        per_row_ratio,
    })
}

/// The report as a table.
pub fn print_registry(r: &RegistryReport) {
    outln!(
        "pramaan bench --registry: POST /v1/officers/import over TLS on loopback, in-process server"
    );
    for (what, run) in [
        ("baseline (new)", &r.baseline),
        ("import (new)", &r.import),
        ("re-import (unchanged)", &r.reimport),
    ] {
        outln!(
            "  {what:<22} {:>7} rows  {:>6.1} MB  {:>7.2} s  {:>9.0} rows/s",
            run.rows,
            run.bytes as f64 / 1e6,
            run.seconds,
            run.rows_per_sec
        );
    }
    outln!(
        "  per-row time ratio     {:.2} (import / baseline; about 1 when linear, {:.0} if quadratic)",
        r.per_row_ratio,
        r.import.rows as f64 / r.baseline.rows as f64
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_registry_parses_clean() {
        let csv = registry_csv("RB", 50);
        let (rows, errors) = pramaan_core::policy::officer_rows_from_csv(&csv);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 50);
        assert_eq!(rows[7].1.mobile, "+919800000007");
    }
}
