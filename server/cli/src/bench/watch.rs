//! What a load costs and leaves behind, read from Linux's `/proc`: the load generator's
//! own CPU time, and a watched server process's resident memory and open descriptors
//! sampled over a soak.
//!
//! Why `/proc` and not a crate: three numbers, on the one platform the server is deployed
//! on, without `unsafe` (the crate forbids it) or a new dependency. Elsewhere the figures
//! are reported as unavailable, never guessed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`: 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) this process has used so far, if `/proc` says.
pub fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields after the
    // last ')' are numbered from 3 (state); utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// One look at the watched process.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the load started.
    pub at_secs: f64,
    /// Resident memory (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Open file descriptors (entries of `/proc/PID/fd`).
    pub fds: u64,
    /// Attestations acknowledged so far in this run.
    pub accepted: u64,
}

/// How the watched process's memory and descriptors moved over the run.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    /// The process watched.
    pub pid: u32,
    /// Seconds between samples.
    pub interval_secs: f64,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
    /// The sample growth is measured from: the first one after a quarter of the run
    /// (connections open, caches warm), so start-up is not counted as growth.
    pub baseline_at_secs: f64,
    /// Resident memory at the baseline, KiB.
    pub rss_baseline_kib: u64,
    /// Resident memory at the last sample, KiB.
    pub rss_end_kib: u64,
    /// Largest resident memory seen, KiB.
    pub rss_max_kib: u64,
    /// rss_end - rss_baseline, KiB (negative: shrank).
    pub rss_growth_kib: i64,
    /// That growth per minute between the baseline and the end, KiB/min.
    pub rss_growth_kib_per_min: f64,
    /// Open descriptors at the baseline.
    pub fds_baseline: u64,
    /// Open descriptors at the last sample.
    pub fds_end: u64,
    /// Most descriptors seen.
    pub fds_max: u64,
    /// `flat`, or what grew (see [`verdict`]).
    pub verdict: String,
    /// Whether the process was still there at the end.
    pub alive_at_end: bool,
}

/// Resident memory (KiB) and open descriptors of `pid`, or `None` if it is gone or
/// `/proc` is unreadable.
pub fn sample_process(pid: u32) -> Option<(u64, u64)> {
    let proc = Path::new("/proc").join(pid.to_string());
    let status = std::fs::read_to_string(proc.join("status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(proc.join("fd")).ok()?.count() as u64;
    Some((rss, fds))
}

/// A thread sampling a process every `interval` until [`Watcher::finish`].
pub struct Watcher {
    pid: u32,
    interval: Duration,
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(Vec<Sample>, bool)>,
}

impl Watcher {
    /// Starts sampling `pid` now (the first sample at once), printing each sample to
    /// stderr as it is taken; `accepted` is the run's acknowledged count.
    pub fn start(pid: u32, interval: Duration, accepted: Arc<AtomicU64>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            let mut samples = Vec::new();
            let mut alive;
            let mut ticks = 0u32;
            eprintln!("watching process {pid}:   seconds   rss MiB   fds   accepted");
            loop {
                let at = start.elapsed();
                match sample_process(pid) {
                    Some((rss_kib, fds)) => {
                        let s = Sample {
                            at_secs: at.as_secs_f64(),
                            rss_kib,
                            fds,
                            accepted: accepted.load(Ordering::Relaxed),
                        };
                        eprintln!(
                            "                         {:>7.0}   {:>7.1}   {:>3}   {:>8}",
                            s.at_secs,
                            s.rss_kib as f64 / 1024.0,
                            s.fds,
                            s.accepted
                        );
                        samples.push(s);
                        alive = true;
                    }
                    None => alive = false,
                }
                // Sleep to the next multiple of the interval, waking early to stop.
                ticks = ticks.saturating_add(1);
                let next = interval.saturating_mul(ticks);
                while start.elapsed() < next {
                    if flag.load(Ordering::Relaxed) {
                        return (samples, alive);
                    }
                    std::thread::sleep(Duration::from_millis(50).min(interval));
                }
            }
        });
        Self {
            pid,
            interval,
            stop,
            handle,
        }
    }

    /// Takes a last sample, stops and says how memory and descriptors moved.
    pub fn finish(self) -> WatchReport {
        self.stop.store(true, Ordering::Relaxed);
        let (samples, alive) = self.handle.join().unwrap_or_default();
        report(self.pid, self.interval, samples, alive)
    }
}

/// How memory and descriptors moved over `samples`.
fn report(pid: u32, interval: Duration, samples: Vec<Sample>, alive: bool) -> WatchReport {
    let end = samples.last().cloned();
    let span = end.as_ref().map(|s| s.at_secs).unwrap_or(0.0);
    let base = samples
        .iter()
        .find(|s| s.at_secs >= span / 4.0)
        .or(samples.first())
        .cloned();
    let (b_rss, b_fds, b_at) = base
        .as_ref()
        .map(|s| (s.rss_kib, s.fds, s.at_secs))
        .unwrap_or_default();
    let (e_rss, e_fds, e_at) = end
        .as_ref()
        .map(|s| (s.rss_kib, s.fds, s.at_secs))
        .unwrap_or_default();
    let growth = e_rss as i64 - b_rss as i64;
    let minutes = (e_at - b_at) / 60.0;
    WatchReport {
        pid,
        interval_secs: interval.as_secs_f64(),
        baseline_at_secs: b_at,
        rss_baseline_kib: b_rss,
        rss_end_kib: e_rss,
        rss_max_kib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        rss_growth_kib: growth,
        rss_growth_kib_per_min: if minutes > 0.0 {
            growth as f64 / minutes
        } else {
            0.0
        },
        fds_baseline: b_fds,
        fds_end: e_fds,
        fds_max: samples.iter().map(|s| s.fds).max().unwrap_or(0),
        verdict: verdict(samples.len(), b_rss, e_rss, b_fds, e_fds, alive),
        alive_at_end: alive,
        samples,
    }
}

/// Resident memory may grow this much past the baseline and still be flat: 5 % of the
/// baseline or 4 MiB, whichever is more (allocator and SQLite page-cache noise).
fn rss_allowance_kib(baseline: u64) -> u64 {
    (baseline / 20).max(4 * 1024)
}

/// Descriptors may be this many above the baseline and still be flat (a connection
/// being accepted or closed as the sample is taken).
const FD_ALLOWANCE: u64 = 2;

/// `flat` when memory and descriptors stayed within their allowances from the baseline
/// to the end; otherwise what grew and by how much.
pub fn verdict(
    samples: usize,
    rss_base: u64,
    rss_end: u64,
    fds_base: u64,
    fds_end: u64,
    alive: bool,
) -> String {
    if samples < 2 {
        return "too few samples to judge (run longer or sample more often)".into();
    }
    let mut grew = Vec::new();
    if rss_end > rss_base + rss_allowance_kib(rss_base) {
        grew.push(format!(
            "resident memory grew {:.1} MiB ({:.1} -> {:.1} MiB)",
            (rss_end - rss_base) as f64 / 1024.0,
            rss_base as f64 / 1024.0,
            rss_end as f64 / 1024.0
        ));
    }
    if fds_end > fds_base + FD_ALLOWANCE {
        grew.push(format!(
            "open descriptors grew by {} ({fds_base} -> {fds_end})",
            fds_end - fds_base
        ));
    }
    if !alive {
        grew.push("the process was gone at the end".into());
    }
    if grew.is_empty() {
        "flat".into()
    } else {
        grew.join("; ")
    }
}

/// The samples as an aligned table, then the verdict.
pub fn print(w: &WatchReport) {
    outln!(
        "  server process {} every {:.0} s:   seconds   rss MiB   fds   accepted",
        w.pid,
        w.interval_secs
    );
    for s in &w.samples {
        outln!(
            "                                {:>7.0}   {:>7.1}   {:>3}   {:>8}",
            s.at_secs,
            s.rss_kib as f64 / 1024.0,
            s.fds,
            s.accepted
        );
    }
    outln!(
        "    from {:.0} s to the end: rss {:.1} -> {:.1} MiB ({:+.1} MiB, {:+.0} KiB/min, max {:.1}), fds {} -> {} (max {})",
        w.baseline_at_secs,
        w.rss_baseline_kib as f64 / 1024.0,
        w.rss_end_kib as f64 / 1024.0,
        w.rss_growth_kib as f64 / 1024.0,
        w.rss_growth_kib_per_min,
        w.rss_max_kib as f64 / 1024.0,
        w.fds_baseline,
        w.fds_end,
        w.fds_max
    );
    outln!("    verdict            {}", w.verdict);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_is_read_and_grows_with_work() {
        let before = own_cpu_seconds().expect("/proc/self/stat");
        // Spin until the kernel has counted a tick of it (10 ms of CPU; a busy machine
        // may take longer to give it, hence the generous bound).
        let mut x = 0u64;
        let start = Instant::now();
        let mut after = before;
        while after <= before && start.elapsed() < Duration::from_secs(20) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            after = own_cpu_seconds().expect("/proc/self/stat");
        }
        assert!(after > before, "{before} -> {after}");
    }

    #[test]
    fn this_process_is_sampled_and_a_missing_one_is_none() {
        let (rss, fds) = sample_process(std::process::id()).expect("sample self");
        assert!(rss > 0 && fds >= 3, "{rss} {fds}");
        // Above the kernel's pid_max (at most 2^22): no such process.
        assert!(sample_process(u32::MAX - 1).is_none());
    }

    #[test]
    fn the_verdict_is_flat_within_allowances_and_names_what_grew() {
        let base = 100 * 1024;
        assert_eq!(verdict(10, base, base + 4 * 1024, 20, 22, true), "flat");
        let v = verdict(10, base, base + 20 * 1024, 20, 21, true);
        assert!(v.contains("resident memory grew 20.0 MiB"), "{v}");
        let v = verdict(10, base, base, 20, 40, true);
        assert!(v.contains("descriptors grew by 20 (20 -> 40)"), "{v}");
        assert!(verdict(10, base, base, 20, 20, false).contains("gone"));
        assert!(verdict(1, base, base, 20, 20, true).contains("too few"));
    }

    #[test]
    fn the_report_measures_from_a_quarter_of_the_run() {
        let s = |at: f64, rss: u64, fds: u64| Sample {
            at_secs: at,
            rss_kib: rss,
            fds,
            accepted: 0,
        };
        // Start-up growth (0 -> 10 s) is not counted; the rest is flat.
        let samples = vec![
            s(0.0, 10_000, 10),
            s(10.0, 50_000, 20),
            s(20.0, 50_500, 20),
            s(30.0, 50_200, 21),
            s(40.0, 50_400, 20),
        ];
        let r = report(1, Duration::from_secs(10), samples, true);
        assert_eq!((r.baseline_at_secs, r.rss_baseline_kib), (10.0, 50_000));
        assert_eq!(
            (r.rss_growth_kib, r.rss_max_kib, r.fds_max),
            (400, 50_500, 21)
        );
        assert_eq!(r.verdict, "flat");
        assert!((r.rss_growth_kib_per_min - 800.0).abs() < 1e-6);
    }
}
