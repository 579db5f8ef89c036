//! Reading a `pramaan bench --server --ack-log FILE` child from a test: its acknowledgement
//! log as it grows, and its JSON report at the end (the remote bench and several-instance
//! tests both drive benches this way).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// A child's standard output, asserting it exited 0 (its stderr and stdout shown if not).
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The acknowledgement log's lines: `(device, seq, log index)` (none while it is absent).
pub fn ack_lines(path: &Path) -> Vec<(String, u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "ack line {l:?}");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// Waits (a minute at most) until the ack log holds at least `n` lines while `bench` runs;
/// how many it holds then.
pub fn wait_for_acks(path: &Path, n: usize, bench: &mut Child) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = ack_lines(path).len();
        if have >= n {
            return have;
        }
        assert!(
            bench.try_wait().unwrap().is_none(),
            "the bench ended before {n} acknowledgements ({have})"
        );
        assert!(
            Instant::now() < deadline,
            "only {have} of {n} acknowledgements"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A bench's JSON report (`--format json`); it must have exited 0.
pub fn finish(bench: Child) -> serde_json::Value {
    let out = bench.wait_with_output().unwrap();
    serde_json::from_str(&ok(out)).unwrap()
}

/// The attestation entries of `pramaan audit show --format json --log-key K BUNDLE`'s
/// output, `(device, seq) -> log indices`, asserting the bundle verified with the log key
/// (an entry logged twice has two indices).
pub fn logged_attestations(shown: &str) -> BTreeMap<(String, u64), Vec<u64>> {
    let doc: serde_json::Value = serde_json::from_str(shown).unwrap();
    assert_eq!(doc["verified_with_log_key"], true, "{}", doc["report"]);
    let mut map: BTreeMap<(String, u64), Vec<u64>> = BTreeMap::new();
    for e in doc["entries"].as_array().unwrap() {
        if e["kind"] == "attestation" {
            let device = e["device"].as_str().unwrap().to_string();
            let seq = e["seq"].as_u64().unwrap();
            map.entry((device, seq))
                .or_default()
                .push(e["index"].as_u64().unwrap());
        }
    }
    map
}
