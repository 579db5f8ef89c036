//! Audit log benchmark: appends/s into a durable SQLite log (WAL, batched transactions)
//! and offline verification rate of a bundle of real ES256 attestations, against SHA-256
//! measured in the same run.
//!
//! The benchmark itself is `pramaan_testkit::log_fixtures::bench`.
//!
//! `cargo run --release -p pramaan-server --example bench_log [-- ATTESTATIONS [normal|full]]`

use pramaan_testkit::log_fixtures::{BenchOptions, bench};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut opts = BenchOptions::default();
    if let Some(n) = args.next().and_then(|a| a.parse().ok()) {
        opts.attestations = n;
    }
    if let Some(s) = args.next() {
        opts.synchronous = if s.eq_ignore_ascii_case("normal") {
            "NORMAL"
        } else {
            "FULL"
        };
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bench_log: temp dir: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "audit log benchmark: {} attestations from {} devices, batches of {}, WAL, synchronous={}",
        opts.attestations, opts.devices, opts.batch, opts.synchronous
    );
    match bench(dir.path(), &opts) {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_log: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
