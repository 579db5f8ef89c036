//! Where `pramaan bench`'s CPU went: the load generator's threads against the server's.
//!
//! Why: the in-process bench runs the simulated phones (ES256 signing, a TLS client each)
//! in the same process as the server, on the same cores. Its accepted rate is only
//! comparable with the crypto-only ceiling if one also knows how much of the machine the
//! load generator took; issue 12 asks for that figure beside the rate.
//!
//! How: each load thread reads its own CPU time (`/proc/thread-self/schedstat`,
//! nanoseconds on the CPU) when it starts and when it ends; the process's CPU time over
//! the same window comes from `/proc/self/stat` (user + system, in the kernel's fixed
//! 100 Hz USER_HZ ticks, threads that ended included). The server's share is the
//! difference. Linux only; elsewhere the figures are absent (`None`), never invented.

use serde::Serialize;

/// Ticks per second of `/proc/*/stat` times (USER_HZ, 100 on every Linux architecture
/// this runs on; the kernel converts to it whatever its internal tick rate).
const USER_HZ: f64 = 100.0;

/// CPU seconds this thread has run so far, if the kernel tells.
pub fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// CPU seconds (user + system) of the whole process so far, every thread included.
pub fn process_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// CPU use during one load run.
#[derive(Debug, Clone, Serialize)]
pub struct CpuSplit {
    /// CPU seconds of the simulated devices' threads (signing, TLS client, HTTP).
    pub load_generator_cpu_seconds: f64,
    /// CPU seconds of everything else in the process: the server (TLS, HTTP, verify,
    /// rules, SQLite, signing the answers).
    pub server_cpu_seconds: f64,
    /// Cores x the run's length: the CPU seconds the machine had.
    pub available_cpu_seconds: f64,
    /// Server CPU per accepted attestation, microseconds.
    pub server_cpu_us_per_attestation: f64,
    /// The share of the machine the server got: server / available.
    pub server_share: f64,
}

impl CpuSplit {
    /// The split of `process` CPU seconds of a run of `elapsed` seconds on `cores`, of
    /// which `load_generator` were the load threads', over `accepted` attestations.
    pub fn new(
        process: f64,
        load_generator: f64,
        cores: usize,
        elapsed: f64,
        accepted: u64,
    ) -> Self {
        let server = (process - load_generator).max(0.0);
        let available = cores as f64 * elapsed;
        Self {
            load_generator_cpu_seconds: load_generator,
            server_cpu_seconds: server,
            available_cpu_seconds: available,
            server_cpu_us_per_attestation: if accepted > 0 {
                server * 1e6 / accepted as f64
            } else {
                0.0
            },
            server_share: if available > 0.0 {
                server / available
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both clocks advance with work done, and the process's includes the thread's.
    #[test]
    fn cpu_clocks_count_work_done() {
        let clocks = (thread_cpu_seconds(), process_cpu_seconds());
        if !cfg!(target_os = "linux") {
            // Elsewhere the figures are absent, which is what the report says.
            assert_eq!(clocks, (None, None));
            return;
        }
        let (Some(t0), Some(p0)) = clocks else {
            panic!("Linux has both clocks: {clocks:?}");
        };
        let mut x = 0u64;
        while thread_cpu_seconds().unwrap_or(f64::MAX) - t0 < 0.05 {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        let t1 = thread_cpu_seconds().expect("thread clock");
        let p1 = process_cpu_seconds().expect("process clock");
        assert!(t1 - t0 >= 0.05);
        // Ticks are 10 ms: the process clock saw at least most of it.
        assert!(p1 - p0 >= 0.03, "process {p0} -> {p1}");
    }

    #[test]
    fn the_split_attributes_the_rest_to_the_server() {
        let s = CpuSplit::new(15.0, 5.0, 2, 10.0, 20_000);
        assert_eq!(s.server_cpu_seconds, 10.0);
        assert_eq!(s.available_cpu_seconds, 20.0);
        assert_eq!(s.server_cpu_us_per_attestation, 500.0);
        assert_eq!(s.server_share, 0.5);
    }
}
