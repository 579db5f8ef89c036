//! Prometheus text metrics without a metrics dependency: a few counters and one latency
//! histogram behind a mutex, rendered by `GET /metrics`.
//!
//! Why hand-rolled: a few metric families do not justify a registry crate, and the labels
//! (route templates, verdicts, rejection codes) are small closed sets, so cardinality
//! stays bounded.
//!
//! Two gauges describe Google's revocation status list in force ([`status_list_gauges`]),
//! read from the list itself at scrape time rather than kept here:
//! `pramaan_status_list_age_seconds` (seconds since the copy was fetched from Google) and
//! `pramaan_status_list_entries`. With no list installed the age is `-1` and the entries
//! `0`, rather than the series being absent: an alert such as
//! `pramaan_status_list_age_seconds < 0 or pramaan_status_list_age_seconds > 30 * 86400`
//! then fires for a missing list as well as a stale one, and an absent series keeps its
//! usual meaning (the server is not being scraped).
//!
//! Log growth per device (issue "bounded log growth"): `pramaan_log_attestation_bytes_total`
//! counts the bytes of audit-log leaves appended for accepted attestations,
//! `pramaan_top_device_log_bytes_hour` is the most one device appended in the current
//! clock hour (so an alert sees one device growing the log long before its daily limit),
//! and `pramaan_devices_limited_total` counts devices reaching their policy's `[limits]`
//! (once per device per hour, as the server log warns; every refusal is also in
//! `pramaan_rejections_total{reason="quota_exceeded"}`). Per-device state is kept only for
//! the current hour, so it holds at most the devices that attested in it.

use std::collections::{BTreeMap, HashMap};
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
    /// Accepted attestations by device protocol version.
    protocols: BTreeMap<u32, u64>,
    rejections: BTreeMap<String, u64>,
    latency: BTreeMap<String, Histogram>,
    checkpoint_refusals: u64,
    log_bytes: u64,
    /// The clock hour (Unix seconds / 3600) `hour_bytes` is for.
    hour: u64,
    /// Log bytes each device appended in `hour`.
    hour_bytes: HashMap<uuid::Uuid, u64>,
    /// When each device was last counted as reaching its limit (within the last hour).
    limited: HashMap<uuid::Uuid, u64>,
    limited_total: u64,
}

/// Seconds per hour, the granularity of the per-device figures.
const HOUR: u64 = 3600;

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Connections closed by each connection limit, and open now (kept by the serving
    /// helper, rendered at `GET /metrics`).
    pub connections: std::sync::Arc<crate::conn_limits::ConnStats>,
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

    /// Counts one accepted attestation by the device protocol it spoke
    /// (`pramaan_attestations_by_protocol_total{protocol="v1"}`: phones still to update
    /// before `previous_protocol_until`).
    pub fn protocol(&self, version: u32) {
        if let Ok(mut m) = self.inner.lock() {
            *m.protocols.entry(version).or_default() += 1;
        }
    }

    /// Counts one rejected request by its reason code (`pramaan_rejections_total`).
    pub fn rejection(&self, reason: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.rejections.entry(reason.to_string()).or_default() += 1;
        }
    }

    /// Counts one checkpoint the server refused to sign because the log is not consistent
    /// with the last one it signed (`pramaan_checkpoint_refusals_total`; see
    /// `crate::checkpoints`). Always rendered, 0 included, so an alert on `> 0` works.
    pub fn checkpoint_refusal(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.checkpoint_refusals += 1;
        }
    }

    /// Records `bytes` of audit log appended for `device`'s accepted attestation at `now`.
    pub fn log_appended(&self, device: uuid::Uuid, bytes: u64, now: u64) {
        let Ok(mut m) = self.inner.lock() else { return };
        m.log_bytes = m.log_bytes.saturating_add(bytes);
        let hour = now / HOUR;
        if hour != m.hour {
            m.hour = hour;
            m.hour_bytes.clear();
        }
        let b = m.hour_bytes.entry(device).or_default();
        *b = b.saturating_add(bytes);
    }

    /// Records that `device` reached its policy's limit at `now`; `true` the first time in
    /// an hour for this device (then the caller warns in the server log, so a flooding
    /// device cannot flood the log file too).
    pub fn device_limited(&self, device: uuid::Uuid, now: u64) -> bool {
        let Ok(mut m) = self.inner.lock() else {
            return false;
        };
        m.limited.retain(|_, at| now.saturating_sub(*at) < HOUR);
        if m.limited.contains_key(&device) {
            return false;
        }
        m.limited.insert(device, now);
        m.limited_total += 1;
        true
    }

    /// The per-device gauges at `now`.
    pub fn device_gauges(&self, now: u64) -> String {
        let top = match self.inner.lock() {
            Ok(m) if m.hour == now / HOUR => m.hour_bytes.values().copied().max().unwrap_or(0),
            _ => 0,
        };
        format!(
            "# HELP pramaan_top_device_log_bytes_hour Most audit-log bytes one device appended in the current clock hour.\n\
             # TYPE pramaan_top_device_log_bytes_hour gauge\n\
             pramaan_top_device_log_bytes_hour {top}\n"
        )
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
        out.push_str(
            "# HELP pramaan_attestations_by_protocol_total Accepted attestations by device protocol version.\n",
        );
        out.push_str("# TYPE pramaan_attestations_by_protocol_total counter\n");
        for (v, n) in &m.protocols {
            let _ = writeln!(
                out,
                "pramaan_attestations_by_protocol_total{{protocol=\"v{v}\"}} {n}"
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
        out.push_str(
            "# HELP pramaan_checkpoint_refusals_total Checkpoints not signed because the log \
             is not consistent with the last signed one.\n",
        );
        out.push_str("# TYPE pramaan_checkpoint_refusals_total counter\n");
        let _ = writeln!(
            out,
            "pramaan_checkpoint_refusals_total {}",
            m.checkpoint_refusals
        );
        out.push_str("# HELP pramaan_log_attestation_bytes_total Bytes of audit-log leaves appended for accepted attestations.\n");
        out.push_str("# TYPE pramaan_log_attestation_bytes_total counter\n");
        let _ = writeln!(out, "pramaan_log_attestation_bytes_total {}", m.log_bytes);
        out.push_str("# HELP pramaan_devices_limited_total Devices reaching their policy's per-device limits (once per device per hour).\n");
        out.push_str("# TYPE pramaan_devices_limited_total counter\n");
        let _ = writeln!(out, "pramaan_devices_limited_total {}", m.limited_total);
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

/// The gauges of the revocation status list in force at `now` (Unix seconds): its age
/// since it was fetched (never negative: a fetch time slightly ahead of the clock is 0)
/// and its entry count; `-1` and `0` when none is installed.
pub fn status_list_gauges(list: Option<&crate::status_list::LoadedStatusList>, now: u64) -> String {
    let (age, entries) = match list {
        Some(l) => (i128::from(now.saturating_sub(l.fetched_at)), l.list.len()),
        None => (-1, 0),
    };
    format!(
        "# HELP pramaan_status_list_age_seconds Seconds since the installed revocation status list was fetched from Google; -1 when none is installed.\n\
         # TYPE pramaan_status_list_age_seconds gauge\n\
         pramaan_status_list_age_seconds {age}\n\
         # HELP pramaan_status_list_entries Certificates named by the installed revocation status list; 0 when none is installed.\n\
         # TYPE pramaan_status_list_entries gauge\n\
         pramaan_status_list_entries {entries}\n"
    )
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
        assert!(
            m.render()
                .contains("\npramaan_checkpoint_refusals_total 0\n")
        );
        m.checkpoint_refusal();
        let text = m.render();
        assert!(text.contains("\npramaan_checkpoint_refusals_total 1\n"));
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

    #[test]
    fn log_growth_per_device_and_limited_devices() {
        let m = Metrics::new();
        let (a, b) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let t = 10 * HOUR;
        m.log_appended(a, 700, t);
        m.log_appended(a, 800, t + 5);
        m.log_appended(b, 1000, t + 9);
        assert!(
            m.render()
                .contains("\npramaan_log_attestation_bytes_total 2500\n")
        );
        let g = m.device_gauges(t + 10);
        assert!(
            g.contains("\npramaan_top_device_log_bytes_hour 1500\n"),
            "{g}"
        );
        // A new hour starts from zero.
        assert!(m.device_gauges(t + HOUR).contains("_hour 0\n"));
        m.log_appended(b, 10, t + HOUR);
        assert!(m.device_gauges(t + HOUR).contains("_hour 10\n"));
        // A device is counted (and warned about) once an hour, however often refused.
        assert!(m.device_limited(a, t));
        assert!(!m.device_limited(a, t + 60));
        assert!(m.device_limited(b, t + 60));
        assert!(m.device_limited(a, t + HOUR));
        assert!(m.render().contains("\npramaan_devices_limited_total 3\n"));
    }

    #[test]
    fn status_list_gauges_give_age_and_entries_or_minus_one() {
        let none = status_list_gauges(None, 1_000);
        assert!(
            none.contains("\npramaan_status_list_age_seconds -1\n"),
            "{none}"
        );
        assert!(none.contains("\npramaan_status_list_entries 0\n"), "{none}");
        assert!(none.contains("# TYPE pramaan_status_list_age_seconds gauge\n"));
        let list = pramaan_core::evidence::StatusList::from_json(
            r#"{"entries":{"1a":{"status":"REVOKED"},"2b":{"status":"SUSPENDED"}}}"#,
        )
        .expect("parses");
        let loaded = crate::status_list::LoadedStatusList {
            list,
            fetched_at: 1_000,
            imported_at: 1_100,
        };
        let some = status_list_gauges(Some(&loaded), 1_000 + 86_400);
        assert!(
            some.contains("\npramaan_status_list_age_seconds 86400\n"),
            "{some}"
        );
        assert!(some.contains("\npramaan_status_list_entries 2\n"), "{some}");
        // A fetch time a little ahead of the clock is age 0, not negative.
        let ahead = status_list_gauges(Some(&loaded), 900);
        assert!(
            ahead.contains("\npramaan_status_list_age_seconds 0\n"),
            "{ahead}"
        );
    }
}
