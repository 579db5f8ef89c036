//! Prometheus text metrics without a metrics dependency: a few counters and one latency
//! histogram behind a mutex, rendered by `GET /metrics`.
//!
//! Why hand-rolled: four metric families do not justify a registry crate, and the labels
//! (route templates, verdicts, rejection codes) are small closed sets, so cardinality
//! stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    verdicts: BTreeMap<String, u64>,
    rejections: BTreeMap<String, u64>,
    latency: BTreeMap<String, Histogram>,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Empty metrics (every counter at zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one request on `route` (the route template, not the raw path).
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests.entry((route.to_string(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_string()).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Counts one accepted attestation by its verdict's wire name
    /// (`pramaan_verdicts_total`).
    pub fn verdict(&self, status: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.verdicts.entry(status.to_string()).or_default() += 1;
        }
    }

    /// Counts one rejected request by its reason code (`pramaan_rejections_total`).
    pub fn rejection(&self, reason: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.rejections.entry(reason.to_string()).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let Ok(m) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str("# HELP pramaan_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE pramaan_requests_total counter\n");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "pramaan_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP pramaan_verdicts_total Accepted attestations by verdict.\n");
        out.push_str("# TYPE pramaan_verdicts_total counter\n");
        for (v, n) in &m.verdicts {
            let _ = writeln!(
                out,
                "pramaan_verdicts_total{{status=\"{}\"}} {n}",
                escape(v)
            );
        }
        out.push_str("# HELP pramaan_rejections_total Rejected requests by reason.\n");
        out.push_str("# TYPE pramaan_rejections_total counter\n");
        for (r, n) in &m.rejections {
            let _ = writeln!(
                out,
                "pramaan_rejections_total{{reason=\"{}\"}} {n}",
                escape(r)
            );
        }
        out.push_str("# HELP pramaan_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE pramaan_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let route = escape(route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "pramaan_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "pramaan_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "pramaan_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "pramaan_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        m.request("/v1/attest", 200, Duration::from_millis(3));
        m.request("/v1/attest", 409, Duration::from_millis(30));
        m.verdict("affirming");
        m.rejection("nonce_reused");
        let text = m.render();
        assert!(text.contains("pramaan_requests_total{route=\"/v1/attest\",status=\"200\"} 1"));
        assert!(text.contains("pramaan_verdicts_total{status=\"affirming\"} 1"));
        assert!(text.contains("pramaan_rejections_total{reason=\"nonce_reused\"} 1"));
        assert!(text.contains(
            "pramaan_request_duration_seconds_bucket{route=\"/v1/attest\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "pramaan_request_duration_seconds_bucket{route=\"/v1/attest\",le=\"+Inf\"} 2"
        ));
    }
}
