//! `pramaan bench --server` against the real binary: a crash test (the server killed with
//! SIGKILL three times under load, every acknowledged attestation in the log exactly
//! once afterwards, and the log verifies) and a short soak (memory and descriptors
//! sampled, the compliance view and the log consistent, a second run against the same
//! server with an IT token).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pramaan_core::transport::{HttpsClient, Options, Trust};
use pramaan_testkit::bench_acks::{ack_lines, finish, logged_attestations, ok, wait_for_acks};
use pramaan_testkit::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_pramaan");

/// `pramaan ARGS` with no PRAMAAN_* variable from the test's environment.
fn pramaan(args: &[&str]) -> Command {
    pramaan_testkit::command_without_pramaan_env(BIN, args)
}

/// A data directory made by `pramaan admin init`, and `pramaan serve` on it.
struct Deployment {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
    admin: String,
}

impl Deployment {
    fn init() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_string();
        ok(pramaan(&["admin", "init", "--data", &data])
            .output()
            .unwrap());
        let admin = ok(
            pramaan(&["admin", "token", "--data", &data, "--role", "admin"])
                .output()
                .unwrap(),
        )
        .trim()
        .to_string();
        let mut d = Self {
            dir,
            port: free_port(),
            server: None,
            admin,
        };
        d.start();
        d
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn ca(&self) -> PathBuf {
        self.data().join("tls/cert.pem")
    }

    fn pid(&self) -> u32 {
        self.server.as_ref().unwrap().id()
    }

    /// Starts `pramaan serve` (same port each time) and waits for /healthz.
    fn start(&mut self) {
        let child = pramaan(&["serve", "--data"])
            .arg(self.data())
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            // One machine plays every device, each as fast as it can: no per-address
            // and no per-device allowance.
            .env("PRAMAAN_RATE_LIMIT", "0")
            .env("PRAMAAN_DEVICE_RATE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pramaan serve");
        self.server = Some(child);
        let pem = std::fs::read(self.ca()).unwrap();
        let probe = HttpsClient::new(
            &self.url(),
            Trust::CaPem(pem),
            Options {
                attempts: 1,
                ..Options::default()
            },
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while probe.get("/healthz").map(|r| r.status).ok() != Some(200) {
            assert!(Instant::now() < deadline, "pramaan serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill(&mut self) {
        if let Some(mut c) = self.server.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// `pramaan bench --server` with these extra arguments, as a child.
    fn bench(&self, token: &str, extra: &[&str]) -> Child {
        let ca = self.ca();
        pramaan(&["bench", "--server", &self.url(), "--ca"])
            .arg(&ca)
            .args(["--format", "json"])
            .args(extra)
            .env("PRAMAAN_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pramaan bench")
    }

    /// Pulls the whole log with `pramaan audit pull`, checks `pramaan audit verify`
    /// passes, and returns the attestation entries' `(device, seq) -> indices`.
    fn pulled_attestations(&self) -> BTreeMap<(String, u64), Vec<u64>> {
        let bundle = self.data().join("bundle.cbor");
        let ca = self.ca();
        ok(pramaan(&["audit", "pull", "--server", &self.url(), "--ca"])
            .arg(&ca)
            .arg("--out")
            .arg(&bundle)
            .env("PRAMAAN_TOKEN", &self.admin)
            .output()
            .unwrap());
        let key = self.data().join("log.vkey");
        ok(pramaan(&["audit", "verify"])
            .arg(&bundle)
            .arg("--log-key")
            .arg(&key)
            .output()
            .unwrap());
        let shown = ok(pramaan(&["audit", "show", "--format", "json"])
            .arg(&bundle)
            .arg("--log-key")
            .arg(&key)
            .output()
            .unwrap());
        logged_attestations(&shown)
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn every_acknowledged_attestation_is_logged_once_across_three_sigkills() {
    let mut d = Deployment::init();
    let acks = d.data().join("acks.log");
    let ack_arg = acks.to_str().unwrap().to_string();
    let vkey = d.data().join("log.vkey").to_str().unwrap().to_string();
    let admin = d.admin.clone();
    let mut bench = d.bench(
        &admin,
        // Paced, so the bundle checked afterwards stays small (a few thousand entries).
        &[
            "--devices",
            "4",
            "--seconds",
            "12",
            "--rate",
            "150",
            "--ack-log",
            &ack_arg,
            "--log-key",
            &vkey,
        ],
    );
    let t = Instant::now();
    let mut seen = wait_for_acks(&acks, 10, &mut bench);
    for kill in 1..=3 {
        d.kill();
        std::thread::sleep(Duration::from_millis(200));
        d.start();
        // The devices reconnect on their own and are acknowledged again.
        seen = wait_for_acks(&acks, seen + 10, &mut bench);
        eprintln!("kill {kill}: acknowledged again at {:?}", t.elapsed());
    }
    let report = finish(bench);
    eprintln!("bench done at {:?}", t.elapsed());
    let lines = ack_lines(&acks);
    assert_eq!(report["accepted"], lines.len() as u64, "{report}");
    assert_eq!(report["ack_log_lines"], lines.len() as u64, "{report}");
    // The kills were seen as failed requests, not as acknowledgements.
    assert!(report["failed"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["consistency"]["listed"], 4, "{report}");
    // The bench's own check agrees (it pulled and verified the log after the load).
    let log = &report["log"];
    assert_eq!(log["verified"], true, "{log}");
    assert_eq!(log["found"], lines.len() as u64, "{log}");
    assert_eq!(log["duplicates"], 0, "{log}");

    let logged = d.pulled_attestations();
    for (device, seq, index) in &lines {
        assert_eq!(
            logged.get(&(device.clone(), *seq)),
            Some(&vec![*index]),
            "acknowledged {device} seq {seq} at {index}"
        );
    }
    // No (device, seq) is logged twice, acknowledged or not.
    assert!(logged.values().all(|v| v.len() == 1), "{logged:?}");
    eprintln!(
        "{} acknowledged, {} logged, checked at {:?}",
        lines.len(),
        logged.len(),
        t.elapsed()
    );
}

#[test]
fn a_short_soak_samples_the_server_and_a_second_run_with_an_it_token_works() {
    let d = Deployment::init();
    let pid = d.pid().to_string();
    let admin = d.admin.clone();
    let bench = d.bench(
        &admin,
        &[
            "--devices",
            "2",
            "--seconds",
            "4",
            "--rate",
            "30",
            "--watch-pid",
            &pid,
            "--watch-every",
            "1",
        ],
    );
    let first = finish(bench);
    let accepted = first["accepted"].as_u64().unwrap();
    // Paced: never more than the schedule allows (30/s for 4 s, plus the first send).
    assert!(accepted > 0 && accepted <= 30 * 4 + 2, "{first}");
    let w = &first["watch"];
    let samples = w["samples"].as_array().unwrap();
    assert!(samples.len() >= 3, "{w}");
    assert!(
        samples
            .iter()
            .all(|s| s["rss_kib"].as_u64().unwrap() > 0 && s["fds"].as_u64().unwrap() > 0),
        "{w}"
    );
    assert_eq!(w["alive_at_end"], true, "{w}");
    assert!(w["verdict"].is_string(), "{w}");
    assert_eq!(first["consistency"]["listed"], 2, "{first}");
    assert!(
        first["load_cpu"]["cpu_seconds"].as_f64().unwrap() > 0.0,
        "{first}"
    );

    // Again, as IT of the department the first run made: new officers, no collision.
    let data = d.data().to_str().unwrap().to_string();
    let it = ok(pramaan(&[
        "admin",
        "token",
        "--data",
        &data,
        "--role",
        "it",
        "--department",
        "BENCH",
    ])
    .output()
    .unwrap())
    .trim()
    .to_string();
    let second = finish(d.bench(&it, &["--devices", "2", "--seconds", "2"]));
    assert!(second["accepted"].as_u64().unwrap() > 0, "{second}");
    assert_eq!(second["failed"], 0, "{second}");
    assert_eq!(second["consistency"]["listed"], 2, "{second}");

    let logged = d.pulled_attestations();
    let total: u64 = logged.values().map(|v| v.len() as u64).sum();
    assert_eq!(
        total,
        accepted + second["accepted"].as_u64().unwrap(),
        "every accepted attestation is in the log, once"
    );
}

#[test]
fn remote_bench_refuses_missing_trust_and_token() {
    let out = pramaan(&["bench", "--server", "https://127.0.0.1:1", "--token", "t"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--ca") && err.contains("--pin"), "{err}");
    let out = pramaan(&["bench", "--server", "https://127.0.0.1:1", "--pin", "x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--token"), "{err}");
    let out = pramaan(&["bench", "--ack-log", "/tmp/x"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--server"), "{err}");
}
