//! Crash safety of the agent's state and outbox: a child process checks in as fast as it
//! can (server unreachable, so every attestation is signed, numbered and queued) and the
//! test kills it with SIGKILL at random moments, 50 times. After every kill the state must
//! load, every attestation the child had acknowledged (check_in returned `Queued`) must
//! still be in the outbox byte for byte, no sequence number may be reused, and every
//! outbox entry must be a complete, verifiable token whose claims carry its own number.
//!
//! The child is this same test binary re-run with `PRAMAAN_CRASH_CHILD` set (no helper
//! binary to build or find).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pramaan_core::agent::{Agent, CheckIn, Facts, Outbox, State};
use pramaan_core::claims::{Assurance, Attestation, Platform};
use pramaan_core::cose::Sign1;
use pramaan_core::keys::{Signer, SoftwareSigner};
use pramaan_core::policy::Policy;
use pramaan_core::transport::{self, Options};
use uuid::Uuid;

const CHILD_ENV: &str = "PRAMAAN_CRASH_CHILD";
const DEVICE: u128 = 0x5eed;

fn facts() -> Facts {
    Facts::from_toml(
        "platform = \"desktop\"\nmodel = \"Crash test\"\nscreen_lock = true\nemails = [\"a@gujarat.gov.in\"]\n",
    )
    .expect("facts")
}

fn signer(dir: &Path) -> SoftwareSigner {
    SoftwareSigner::load_or_generate(&dir.join("device.key")).expect("key")
}

/// An enrolled state whose server does not exist (port 1 on loopback refuses at once).
fn enrolled_state(dir: &Path) {
    let key = signer(dir);
    State {
        version: pramaan_core::agent::state::STATE_VERSION,
        device_id: Uuid::from_u128(DEVICE),
        officer_id: "GAD-001".into(),
        department: "GAD".into(),
        server: "https://127.0.0.1:1".into(),
        pin: transport::b64url(&[0; 32]),
        server_key: None,
        public_key: hex::encode(key.public_key().expect("pk").as_sec1()),
        platform: Platform::Desktop,
        model: "Crash test".into(),
        assurance: Assurance::Software,
        evidence: Default::default(),
        policy: Policy {
            department: "GAD".into(),
            name: String::new(),
            check_in_hours: 24,
            email_domains: vec!["gujarat.gov.in".into()],
            platforms: vec![],
            groups: vec![],
            evidence: Default::default(),
            limits: Default::default(),
        },
        next_nonce: None,
        nonce_received_at: 0,
        anchor: None,
        last_seq: 0,
        last_result: None,
        last_local: None,
        dropped: 0,
        reattest_requested: false,
        retry_at: 0,
        revoked: None,
        pin_change: pramaan_core::agent::pins::PinChange::default(),
    }
    .save(dir)
    .expect("save state");
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b).as_ref())
}

/// The child: check in forever, printing `ACK <seq> <sha256>` after each queued token.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // not a child run
    };
    let dir = Path::new(&dir);
    let options = Options {
        attempts: 1,
        connect_timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let agent = Agent::open_with(dir, Arc::new(signer(dir)), options).expect("open");
    let facts = facts();
    loop {
        match agent.check_in(&facts).expect("check in") {
            CheckIn::Queued { seq, token, .. } => println!("ACK {seq} {}", sha256_hex(&token)),
            other => panic!("no server should answer: {other:?}"),
        }
    }
}

/// A small xorshift generator seeded from the clock (no rand dependency for one test).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check_invariants(dir: &Path, acked: &BTreeMap<u64, String>, pk: &pramaan_core::P256PublicKey) {
    let state = State::load(dir)
        .expect("state loads")
        .expect("still enrolled");
    let outbox = Outbox::open(dir).expect("outbox");
    let entries = outbox.list().expect("list");
    let mut on_disk = BTreeMap::new();
    for e in &entries {
        let token = outbox.read(e).expect("read");
        let sign1 = Sign1::parse(&token).expect("complete COSE token");
        let claims = Attestation::from_cbor(
            sign1
                .verify_es256(pk, Some(Uuid::from_u128(DEVICE).as_bytes()))
                .expect("signature verifies"),
        )
        .expect("claims");
        assert_eq!(claims.seq, e.seq, "file name and claims agree");
        assert!(
            claims.seq <= state.last_seq,
            "seq {} in the outbox but the state says {}",
            claims.seq,
            state.last_seq
        );
        on_disk.insert(e.seq, sha256_hex(&token));
    }
    for (seq, hash) in acked {
        match on_disk.get(seq) {
            Some(h) => assert_eq!(h, hash, "acknowledged seq {seq} changed on disk"),
            None => panic!("acknowledged seq {seq} was lost"),
        }
    }
}

#[test]
fn sigkill_at_random_points_loses_and_changes_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    enrolled_state(dir.path());
    let pk = signer(dir.path()).public_key().expect("pk");
    let exe = std::env::current_exe().expect("test binary");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut max_seen = 0u64;
    const RUNS: usize = 50;
    for run in 0..RUNS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    let mut parts = l.strip_prefix("ACK ")?.split(' ');
                    let seq = parts.next()?.parse::<u64>().ok()?;
                    Some((seq, parts.next()?.to_string()))
                })
                .collect::<Vec<_>>()
        });
        // Start-up takes some milliseconds; kill anywhere from before the first check-in
        // to a few dozen check-ins in.
        std::thread::sleep(Duration::from_millis(5 + rng.next() % 120));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let lines = reader.join().expect("reader");
        for (seq, hash) in lines {
            assert!(
                seq > max_seen,
                "run {run}: seq {seq} reused (had {max_seen})"
            );
            max_seen = seq;
            assert!(acked.insert(seq, hash).is_none());
        }
        check_invariants(dir.path(), &acked, &pk);
    }
    assert!(
        acked.len() >= RUNS / 5,
        "too few acknowledged check-ins ({}) for the test to mean much",
        acked.len()
    );
    // A clean agent on the same directory continues after everything it finds.
    let agent = Agent::open_with(
        dir.path(),
        Arc::new(signer(dir.path())),
        Options {
            attempts: 1,
            ..Options::default()
        },
    )
    .expect("open");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".state.json.tmp")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files of killed writes were not cleaned up"
    );
    let next = agent.check_in(&facts()).expect("check in").seq();
    assert!(next > max_seen);
    eprintln!(
        "{RUNS} kills, {} acknowledged attestations kept intact",
        acked.len()
    );
}
