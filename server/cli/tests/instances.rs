//! Several `pramaan serve` instances on one PostgreSQL database (issue 13), as a state
//! deployment runs them: every instance a process of the real binary, all on one data
//! directory and one database URL, each loaded by its own `pramaan bench --server`.
//!
//! What must hold across instances (design sections 7 and 10): the log is one sequence
//! whichever instance appends (every acknowledged attestation is in it exactly once, a
//! bundle pulled from any instance verifies, and the checkpoints of different instances
//! are consistent with each other); nonces, enrollment tokens and seq are single-use
//! whichever instances the two uses reach at the same moment; and an instance killed with
//! SIGKILL under load loses nothing it acknowledged while the others keep accepting. A
//! witness configured for the deployment cosigns the checkpoints of every instance (they
//! are one log to it), and `audit verify` requires its cosignature on each bundle.
//!
//! Needs the PostgreSQL test cluster (`pramaan_testkit::postgres::cluster`: a SKIP line
//! without one outside CI, a failure under `CI=true`); each test has its own database.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use pramaan_core::claims::{self, AttestResult, Challenge, Receipt};
use pramaan_core::cose::{DEVICE_CONTENT_TYPE, Sign1};
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::keys::SoftwareSigner;
use pramaan_core::transport::{HttpsClient, Options, Response, Trust};
use pramaan_testkit::bench_acks::{ack_lines, finish, logged_attestations, ok, wait_for_acks};
use pramaan_testkit::postgres::{Cluster, cluster, fresh_database};
use pramaan_testkit::{Device, anchor_of, enroll_request, error_of, free_port, now, seed};

const BIN: &str = env!("CARGO_BIN_EXE_pramaan");

/// Load of each bench: devices, seconds, attestations/s (paced, so that the bundles
/// pulled and verified afterwards stay small on a debug build).
const DEVICES: &str = "3";
const SECONDS: &str = "6";
const RATE: &str = "60";

/// [`DEVICES`] as a number.
fn devices() -> u64 {
    DEVICES.parse().unwrap()
}

/// `pramaan ARGS` with no PRAMAAN_* variable from the test's environment.
fn pramaan(args: &[&str]) -> Command {
    pramaan_testkit::command_without_pramaan_env(BIN, args)
}

/// The database every instance shares: its URL, and the CA to verify it by (TLS) or none.
struct Database {
    url: String,
    ca: Option<PathBuf>,
}

impl Database {
    /// A fresh database of the test cluster; over TLS (verified against the cluster's CA)
    /// when `tls`.
    fn fresh(cluster: &Cluster, tls: bool) -> Self {
        let ca = if tls {
            Some(
                cluster
                    .ca
                    .clone()
                    .expect("the test cluster names its CA (PRAMAAN_TEST_POSTGRES_CA)"),
            )
        } else {
            None
        };
        Self {
            url: fresh_database(cluster),
            ca,
        }
    }

    /// `c` pointed at this database, as an operator's environment would.
    fn apply<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.env("PRAMAAN_DATABASE_URL", &self.url);
        if let Some(ca) = &self.ca {
            c.env("PRAMAAN_DATABASE_CA", ca);
        }
        c
    }
}

/// One data directory made by `pramaan admin init` on the database, and `pramaan serve`
/// instances on it (each on its own port).
struct Deployment {
    dir: tempfile::TempDir,
    db: Database,
    admin: String,
    ports: Vec<u16>,
    servers: Vec<Option<Child>>,
    witness: Option<Witness>,
}

/// A witness of the deployment's log (`pramaan witness init` and `witness serve`), named
/// in the data directory's `config.toml`: every instance offers it its new checkpoints.
struct Witness {
    dir: tempfile::TempDir,
    server: Child,
}

impl Witness {
    /// Starts a witness of the log of `data` and names it in `data/config.toml`.
    fn start(data: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        ok(pramaan(&["witness", "init", "--data"])
            .arg(dir.path())
            .args(["--name", "audit.test/witness"])
            .output()
            .unwrap());
        let port = free_port();
        let server = pramaan(&["witness", "serve", "--data"])
            .arg(dir.path())
            .arg("--log-key")
            .arg(data.join("log.vkey"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pramaan witness serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the witness did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        let key = std::fs::read_to_string(dir.path().join("witness.vkey")).unwrap();
        let section = format!(
            "\n[[witnesses]]\nurl = \"https://127.0.0.1:{port}\"\nkey = \"{}\"\nca = {:?}\n",
            key.trim(),
            dir.path().join("tls/ca.pem")
        );
        let config = data.join("config.toml");
        let mut text = std::fs::read_to_string(&config).unwrap_or_default();
        text.push_str(&section);
        std::fs::write(&config, text).unwrap();
        Self { dir, server }
    }

    fn vkey(&self) -> PathBuf {
        self.dir.path().join("witness.vkey")
    }
}

impl Deployment {
    /// `admin init` (which migrates the database), an admin token, a witness (when
    /// `witnessed`), and `n` instances.
    fn start(db: Database, n: usize, witnessed: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_string();
        ok(db
            .apply(&mut pramaan(&["admin", "init", "--data", &data]))
            .output()
            .unwrap());
        let admin = ok(db
            .apply(&mut pramaan(&[
                "admin", "token", "--data", &data, "--role", "admin",
            ]))
            .output()
            .unwrap())
        .trim()
        .to_string();
        let mut d = Self {
            dir,
            db,
            admin,
            ports: (0..n).map(|_| free_port()).collect(),
            servers: (0..n).map(|_| None).collect(),
            witness: None,
        };
        if witnessed {
            d.witness = Some(Witness::start(d.data()));
        }
        for i in 0..n {
            d.spawn(i);
        }
        for i in 0..n {
            d.wait_up(i);
        }
        d
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn n(&self) -> usize {
        self.ports.len()
    }

    fn url(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.ports[i])
    }

    fn ca(&self) -> PathBuf {
        self.data().join("tls/cert.pem")
    }

    fn vkey(&self) -> PathBuf {
        self.data().join("log.vkey")
    }

    /// A file of the data directory's `work/` folder (ack logs, bundles, checkpoints).
    fn file(&self, name: &str) -> PathBuf {
        let work = self.data().join("work");
        std::fs::create_dir_all(&work).unwrap();
        work.join(name)
    }

    /// Starts instance `i`: `pramaan serve` on the shared data directory and database,
    /// its stderr in `work/serve-i.log`.
    fn spawn(&mut self, i: usize) {
        let log = std::fs::File::create(self.file(&format!("serve-{i}.log"))).unwrap();
        let mut c = pramaan(&["serve", "--data"]);
        c.arg(self.data())
            .args(["--listen", &format!("127.0.0.1:{}", self.ports[i])])
            // One machine plays every device, each as fast as it is paced: no
            // per-address and no per-device allowance.
            .env("PRAMAAN_RATE_LIMIT", "0")
            .env("PRAMAAN_DEVICE_RATE", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        let child = self.db.apply(&mut c).spawn().expect("spawn pramaan serve");
        self.servers[i] = Some(child);
    }

    /// Waits for instance `i`'s `/healthz`.
    fn wait_up(&mut self, i: usize) {
        let probe = HttpsClient::new(
            &self.url(i),
            self.trust(),
            Options {
                attempts: 1,
                ..Options::default()
            },
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while probe.get("/healthz").map(|r| r.status).ok() != Some(200) {
            if let Some(status) = self.servers[i].as_mut().unwrap().try_wait().unwrap() {
                panic!("instance {i} exited ({status}):\n{}", self.serve_log(i));
            }
            assert!(
                Instant::now() < deadline,
                "instance {i} did not come up:\n{}",
                self.serve_log(i)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn serve_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.file(&format!("serve-{i}.log"))).unwrap_or_default()
    }

    /// SIGKILL of instance `i`: no shutdown, no flush.
    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn trust(&self) -> Trust {
        Trust::CaPem(std::fs::read(self.ca()).unwrap())
    }

    /// A client of instance `i` (one attempt: a race must not be retried).
    fn client(&self, i: usize) -> HttpsClient {
        HttpsClient::new(
            &self.url(i),
            self.trust(),
            Options {
                attempts: 1,
                ..Options::default()
            },
        )
        .unwrap()
    }

    fn admin_client(&self, i: usize) -> HttpsClient {
        self.client(i).with_bearer(self.admin.clone())
    }

    /// `pramaan bench --server` against instance `i` in department BENCH-i, with an ack
    /// log `work/acks-i.log` and (when `check_log`) the log pulled and checked after.
    fn bench(&self, i: usize, check_log: bool) -> Child {
        let mut c = pramaan(&["bench", "--server", &self.url(i), "--ca"]);
        c.arg(self.ca())
            .args(["--format", "json", "--department", &format!("BENCH-{i}")])
            .args(["--devices", DEVICES, "--seconds", SECONDS, "--rate", RATE])
            .arg("--ack-log")
            .arg(self.acks(i));
        if check_log {
            c.arg("--log-key").arg(self.vkey());
        }
        c.env("PRAMAAN_TOKEN", &self.admin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pramaan bench")
    }

    fn acks(&self, i: usize) -> PathBuf {
        self.file(&format!("acks-{i}.log"))
    }

    /// `GET /v1/audit/checkpoint` of instance `i`, saved as `work/NAME`.
    fn checkpoint(&self, i: usize, name: &str) -> PathBuf {
        let r = self
            .admin_client(i)
            .get("/v1/audit/checkpoint")
            .expect("checkpoint");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let path = self.file(name);
        std::fs::write(&path, &r.body).unwrap();
        path
    }

    /// `pramaan audit pull` of the whole log from instance `i` with the consistency
    /// proof from the checkpoint `since` (kept from any instance), its checkpoint saved;
    /// then `pramaan audit verify --since` (and `--witness-key`: the witness's
    /// cosignature required). Returns the bundle and its checkpoint.
    fn pull_verified(&self, i: usize, since: &Path, name: &str) -> (PathBuf, PathBuf) {
        let bundle = self.file(&format!("{name}.bundle"));
        let cp = self.file(&format!("{name}.checkpoint"));
        ok(
            pramaan(&["audit", "pull", "--server", &self.url(i), "--ca"])
                .arg(self.ca())
                .args(["--start", "0", "--out"])
                .arg(&bundle)
                .arg("--since")
                .arg(since)
                .arg("--save-checkpoint")
                .arg(&cp)
                .env("PRAMAAN_TOKEN", &self.admin)
                .output()
                .unwrap(),
        );
        let out = ok(pramaan(&["audit", "verify"])
            .arg(&bundle)
            .arg("--log-key")
            .arg(self.vkey())
            .arg("--since")
            .arg(since)
            .args(
                self.witness
                    .iter()
                    .flat_map(|w| [OsString::from("--witness-key"), w.vkey().into()]),
            )
            .args(["--format", "json"])
            .output()
            .unwrap());
        let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
        let since_size = std::fs::read_to_string(since)
            .unwrap()
            .lines()
            .nth(1)
            .and_then(|l| l.parse::<u64>().ok())
            .expect("a checkpoint's second line is its size");
        if self.witness.is_some() {
            let note = std::fs::read_to_string(&cp).unwrap();
            assert!(
                note.lines()
                    .any(|l| l.starts_with("\u{2014} audit.test/witness ")),
                "instance {i} serves a checkpoint the witness cosigned:\n{note}"
            );
        }
        assert_eq!(
            summary["consistent_since"], since_size,
            "instance {i}: the checkpoint given is a prefix of its log: {summary}"
        );
        (bundle, cp)
    }

    /// The attestation entries of a verified bundle: `(device, seq) -> indices`.
    fn logged_attestations(&self, bundle: &Path) -> BTreeMap<(String, u64), Vec<u64>> {
        let shown = ok(pramaan(&["audit", "show", "--format", "json"])
            .arg(bundle)
            .arg("--log-key")
            .arg(self.vkey())
            .output()
            .unwrap());
        logged_attestations(&shown)
    }

    /// Verifies a device-API answer with the server's key and decodes it.
    fn answer<T: serde::de::DeserializeOwned>(&self, r: &Response) -> T {
        let key = pramaan_core::ServerKey::load(&self.data().join("server.key")).unwrap();
        let msg = Sign1::parse(&r.body).unwrap();
        let payload = msg
            .verify_eddsa(&key.public_key(), None)
            .expect("the server's signature");
        claims::decode(payload).unwrap()
    }

    /// A fresh nonce from instance `i`.
    fn challenge(&self, i: usize) -> Vec<u8> {
        let r = self.client(i).get("/v1/challenge").unwrap();
        assert_eq!(r.status, 200);
        claims::decode::<Challenge>(&r.body).unwrap().nonce
    }

    /// An enrollment token for `officer` issued by instance `i`.
    fn enrollment_token(&self, i: usize, officer: &str) -> String {
        let body = serde_json::json!({ "officer_id": officer }).to_string();
        let r = self
            .admin_client(i)
            .post("/v1/enrollment-tokens", "application/json", body.as_bytes())
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        EnrollmentUri::parse(v["uri"].as_str().unwrap())
            .unwrap()
            .token
    }

    /// A device enrolled for `officer` through instance `i`.
    fn enroll(&self, i: usize, officer: &str) -> Device {
        let token = self.enrollment_token(i, officer);
        let signer = SoftwareSigner::generate().unwrap();
        let body = enroll_request(&signer, &token, &self.challenge(i));
        let r = self
            .client(i)
            .with_bearer(token.as_str())
            .post("/v1/enroll", DEVICE_CONTENT_TYPE, &body)
            .unwrap();
        assert_eq!(r.status, 200, "{:?}", error_of(&r));
        device_of(self.answer(&r), signer, officer)
    }

    /// Posts an attestation to instance `i`.
    fn attest(&self, i: usize, body: &[u8]) -> Response {
        self.client(i)
            .post("/v1/attest", DEVICE_CONTENT_TYPE, body)
            .unwrap()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
        if let Some(w) = &mut self.witness {
            let _ = w.server.kill();
            let _ = w.server.wait();
        }
    }
}

fn device_of(receipt: Receipt, signer: SoftwareSigner, officer: &str) -> Device {
    Device {
        signer,
        id: receipt.device_id,
        officer: officer.to_string(),
        anchor: anchor_of(&receipt.next_nonce),
        next_nonce: receipt.next_nonce,
        seq: 0,
    }
}

/// Runs `send(i)` for every `i` in `0..n` on its own thread, all released at once.
fn at_once<F>(n: usize, send: F) -> Vec<Response>
where
    F: Fn(usize) -> Response + Sync,
{
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, send) = (&barrier, &send);
                s.spawn(move || {
                    barrier.wait();
                    send(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The one answer of `answers` that is 200; every other must be a refusal (4xx) whose
/// code is one of `codes`.
fn only_winner(what: &str, answers: &[Response], codes: &[&str]) -> usize {
    let winners: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i].status == 200)
        .collect();
    let summary: Vec<(u16, Option<String>)> = answers
        .iter()
        .map(|r| (r.status, error_of(r).map(|e| e.error)))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{what}: exactly one accepted: {summary:?}"
    );
    for (i, r) in answers.iter().enumerate() {
        if i != winners[0] {
            let code = error_of(r).map(|e| e.error).unwrap_or_default();
            assert!(
                (400..500).contains(&r.status) && (codes.is_empty() || codes.contains(&&*code)),
                "{what}: the others refused with one of {codes:?}: {summary:?}"
            );
        }
    }
    eprintln!("{what}: {summary:?}");
    winners[0]
}

/// Asserts a bench's report: accepted = its ack log's lines, and (when it checked the
/// log) the log verified with every acknowledgement found once.
fn check_report(i: usize, report: &serde_json::Value, acks: usize, log_checked: bool) {
    assert!(acks > 0, "bench {i} acknowledged nothing: {report}");
    assert_eq!(report["accepted"], acks as u64, "bench {i}: {report}");
    assert_eq!(report["ack_log_lines"], acks as u64, "bench {i}: {report}");
    if log_checked {
        let log = &report["log"];
        assert_eq!(log["verified"], true, "bench {i}: {log}");
        assert_eq!(log["found"], acks as u64, "bench {i}: {log}");
        assert_eq!(log["duplicates"], 0, "bench {i}: {log}");
    }
}

/// Every acknowledgement is logged once, at its index; no `(device, seq)` logged twice.
fn assert_logged_once(logged: &BTreeMap<(String, u64), Vec<u64>>, acks: &[(String, u64, u64)]) {
    for (device, seq, index) in acks {
        assert_eq!(
            logged.get(&(device.clone(), *seq)),
            Some(&vec![*index]),
            "acknowledged {device} seq {seq} at {index}"
        );
    }
    let twice: Vec<_> = logged.iter().filter(|(_, v)| v.len() != 1).collect();
    assert!(twice.is_empty(), "logged more than once: {twice:?}");
}

/// Enrollment tokens, nonces and seq are single-use whichever instances the uses reach
/// at the same moment. Returns the attestations accepted, as `(device, seq, log index)`.
fn single_use_across_instances(d: &Deployment) -> Vec<(String, u64, u64)> {
    let n = d.n();
    seed(&d.admin_client(0));
    let mut accepted = Vec::new();

    // One enrollment token, sent to every instance at once (each request with its own
    // key and nonce): exactly one enrollment.
    let token = d.enrollment_token(0, "GAD-001");
    let signers: Vec<SoftwareSigner> = (0..n)
        .map(|_| SoftwareSigner::generate().unwrap())
        .collect();
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| enroll_request(&signers[i], &token, &d.challenge(i)))
        .collect();
    let answers = at_once(n, |i| {
        d.client(i)
            .with_bearer(token.as_str())
            .post("/v1/enroll", DEVICE_CONTENT_TYPE, &bodies[i])
            .unwrap()
    });
    let w = only_winner("one enrollment token at every instance", &answers, &[]);
    let mut first = device_of(
        d.answer(&answers[w]),
        signers.into_iter().nth(w).unwrap(),
        "GAD-001",
    );
    // A second device, enrolled through another instance than the token's.
    let mut second = d.enroll(n - 1, "GAD-002");

    // One challenge nonce in two attestations of two devices, at two instances at once.
    let nonce = d.challenge(0);
    first.seq += 1;
    second.seq += 1;
    let bodies = [
        first.attestation(Some(nonce.clone()), first.seq, now()),
        second.attestation(Some(nonce), second.seq, now()),
    ];
    let answers = at_once(2, |i| d.attest(i, &bodies[i]));
    let w = only_winner(
        "one nonce in two attestations at two instances",
        &answers,
        &["nonce_reused", "conflict"],
    );
    let res: AttestResult = d.answer(&answers[w]);
    let winner = if w == 0 { &mut first } else { &mut second };
    accepted.push((winner.id.to_string(), res.seq, res.log_index));
    winner.next_nonce = res.next_nonce;
    // The loser attests with a fresh nonce and a new seq: not stuck.
    let loser = if w == 0 { &mut second } else { &mut first };
    loser.seq += 1;
    let body = loser.attestation(Some(d.challenge(1)), loser.seq, now());
    let r = d.attest(1, &body);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    let res: AttestResult = d.answer(&r);
    accepted.push((loser.id.to_string(), res.seq, res.log_index));

    // One seq of one device with two fresh nonces, at two instances at once.
    first.seq += 1;
    let bodies = [
        first.attestation(Some(d.challenge(0)), first.seq, now()),
        first.attestation(Some(d.challenge(1)), first.seq, now()),
    ];
    let answers = at_once(2, |i| d.attest(i, &bodies[i]));
    let w = only_winner(
        "one seq at two instances",
        &answers,
        &["seq_not_increasing", "conflict"],
    );
    let res: AttestResult = d.answer(&answers[w]);
    accepted.push((first.id.to_string(), res.seq, res.log_index));
    // The accepted attestation again, and its seq with a fresh nonce, through each other
    // instance: refused.
    for i in (0..n).filter(|&i| i != w) {
        let r = d.attest(i, &bodies[w]);
        assert!(
            r.status == 409,
            "a replay through instance {i}: {} {:?}",
            r.status,
            error_of(&r)
        );
        let body = first.attestation(Some(d.challenge(i)), first.seq, now());
        let r = d.attest(i, &body);
        assert_eq!(
            (r.status, error_of(&r).map(|e| e.error)),
            (409, Some("seq_not_increasing".to_string())),
            "its seq again through instance {i}"
        );
    }
    accepted
}

/// `n` instances, a bench on each at once, the single-use races meanwhile, then the log
/// from every instance.
fn instances_share_one_log(n: usize, tls: bool, witnessed: bool) {
    let Some(cluster) = cluster() else {
        return;
    };
    let t = Instant::now();
    let d = Deployment::start(Database::fresh(&cluster, tls), n, witnessed);
    eprintln!("{n} instances up at {:?}", t.elapsed());
    let mut raced = single_use_across_instances(&d);
    eprintln!("single-use races done at {:?}", t.elapsed());

    let mut benches: Vec<Child> = (0..n).map(|i| d.bench(i, true)).collect();
    // A checkpoint of instance 0 while every instance appends: every later checkpoint,
    // of any instance, must extend it.
    for (i, b) in benches.iter_mut().enumerate() {
        wait_for_acks(&d.acks(i), 10, b);
    }
    let mid = d.checkpoint(0, "mid.checkpoint");
    let reports: Vec<serde_json::Value> = benches.into_iter().map(finish).collect();
    eprintln!("benches done at {:?}", t.elapsed());
    let mut acks = Vec::new();
    for (i, report) in reports.iter().enumerate() {
        let lines = ack_lines(&d.acks(i));
        check_report(i, report, lines.len(), true);
        assert_eq!(
            report["consistency"]["listed"],
            devices(),
            "bench {i}: {report}"
        );
        acks.extend(lines);
    }

    // Each instance's whole log verifies and extends the previous instance's checkpoint
    // (instance 0's taken under load first, instance 0 again last).
    let mut since = mid;
    let mut last = None;
    for k in 0..=n {
        let i = k % n;
        let (bundle, cp) = d.pull_verified(i, &since, &format!("pull-{k}-of-{i}"));
        since = cp;
        last = Some(bundle);
    }
    let logged = d.logged_attestations(&last.unwrap());
    acks.append(&mut raced);
    assert_logged_once(&logged, &acks);
    // Nothing of the benches' devices is logged that was not acknowledged (no failure
    // that lost an answer happened here: every bench reported its failures).
    let devices: BTreeSet<&String> = acks.iter().map(|a| &a.0).collect();
    let failed: u64 = reports.iter().map(|r| r["failed"].as_u64().unwrap()).sum();
    let of_devices = logged.keys().filter(|k| devices.contains(&k.0)).count();
    if failed == 0 {
        assert_eq!(of_devices, acks.len(), "logged but not acknowledged");
    }
    eprintln!(
        "{n} instances: {} acknowledged, {} logged, {failed} failed requests, checked at {:?}",
        acks.len(),
        logged.len(),
        t.elapsed()
    );
}

#[test]
fn two_witnessed_instances_over_tls_to_the_database_share_one_log_and_single_use() {
    instances_share_one_log(2, true, true);
}

#[test]
fn three_instances_share_one_log_and_single_use() {
    instances_share_one_log(3, false, false);
}

#[test]
fn an_instance_killed_under_load_loses_nothing_and_the_other_keeps_accepting() {
    let Some(cluster) = cluster() else {
        return;
    };
    let t = Instant::now();
    let mut d = Deployment::start(Database::fresh(&cluster, true), 2, false);
    // Instance 1 dies under load: its bench cannot pull the log from it afterwards.
    let mut survivor = d.bench(0, true);
    let mut victim = d.bench(1, false);
    wait_for_acks(&d.acks(0), 10, &mut survivor);
    wait_for_acks(&d.acks(1), 30, &mut victim);
    d.kill(1);
    let at_kill = ack_lines(&d.acks(0)).len();
    let victim_acks = ack_lines(&d.acks(1)).len();
    eprintln!(
        "instance 1 killed at {:?}: {at_kill} acks on instance 0, {victim_acks} on 1",
        t.elapsed()
    );
    // Instance 0 goes on acknowledging after the kill.
    wait_for_acks(&d.acks(0), at_kill + 30, &mut survivor);
    eprintln!("instance 0 acknowledged 30 more at {:?}", t.elapsed());

    let survived = finish(survivor);
    let killed = finish(victim);
    let lines0 = ack_lines(&d.acks(0));
    let lines1 = ack_lines(&d.acks(1));
    check_report(0, &survived, lines0.len(), true);
    check_report(1, &killed, lines1.len(), false);
    // Nothing was acknowledged by the dead instance after the kill, and its bench saw it.
    assert_eq!(lines1.len(), victim_acks, "{killed}");
    assert!(killed["failed"].as_u64().unwrap() > 0, "{killed}");
    assert_eq!(survived["consistency"]["listed"], devices(), "{survived}");

    // Every acknowledgement of both benches (the dead instance's included) is in the log
    // pulled from the survivor, once; the log verifies and extends a checkpoint taken now.
    let now_cp = d.checkpoint(0, "after-kill.checkpoint");
    let (bundle, _) = d.pull_verified(0, &now_cp, "after-kill");
    let logged = d.logged_attestations(&bundle);
    let mut acks = lines0;
    acks.extend(lines1);
    assert_logged_once(&logged, &acks);
    eprintln!(
        "after the kill: {} acknowledged, {} logged, checked at {:?}",
        acks.len(),
        logged.len(),
        t.elapsed()
    );
}
