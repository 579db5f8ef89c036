#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! Witnesses against a forked log. One server's data directory is copied while it is
//! stopped (a backup restored elsewhere) and both copies grow their own way: the same log
//! key and origin sign two different logs. A witness (`pramaan witness init`, served over
//! TLS) cosigns fork A, then refuses fork B; `pramaan audit verify --witness-key` passes
//! fork A's bundle and refuses fork B's, naming the witness missing, although both verify
//! without it. The witness keeps its state across a restart, and malformed
//! `add-checkpoint` bodies are 400s that change nothing.

use std::net::SocketAddr;
use std::path::Path;

use clap::Parser as _;
use pramaan_cli::{self as cli, Cli};
use pramaan_core::transport::{HttpsClient, Trust};
use pramaan_server::audit_log::bundle::Bundle;
use pramaan_server::server::{self, Running};
use pramaan_server::witness::{self as wit, RunningWitness};
use pramaan_server::witness_client::{WitnessClientError, WitnessEndpoint, collect_cosignatures};
use pramaan_testkit as common;
use pramaan_tlog::witness::WitnessKey;
use pramaan_tlog::{Checkpoint, Hash, ProofResponse, VerifierKey};

fn run(args: &[&str]) -> Result<(), String> {
    let cli = Cli::try_parse_from(std::iter::once("pramaan").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli::run(cli).map_err(|e| e.0)
}

/// A log as its server serves it: the checkpoint and consistency proofs.
struct LogSide {
    http: HttpsClient,
}

impl LogSide {
    fn new(server: &Running, token: &str) -> Self {
        let http = HttpsClient::new(&server.url, Trust::Pin(server.pin), common::options())
            .expect("client")
            .with_bearer(token);
        Self { http }
    }
    fn checkpoint(&self) -> String {
        let r = self.http.get("/v1/audit/checkpoint").expect("checkpoint");
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).expect("utf8")
    }
    fn proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, String> {
        let r = self
            .http
            .get(&format!("/v1/audit/proof/consistency?old={old}&new={new}"))
            .map_err(|e| e.to_string())?;
        let p: ProofResponse = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        p.to_hashes().ok_or_else(|| "bad hash".to_string())
    }
    fn cosign(&self, w: &WitnessEndpoint) -> Result<String, WitnessClientError> {
        w.cosign(&self.checkpoint(), &mut |o, n| self.proof(o, n))
    }
}

fn size_of(note: &str) -> u64 {
    pramaan_tlog::witness::checkpoint_of(note)
        .map(|c: Checkpoint| c.size)
        .expect("checkpoint")
}

fn start_witness(dir: &Path, log_vkey: &str) -> RunningWitness {
    let logs = vec![VerifierKey::parse(log_vkey).expect("log vkey")];
    wit::start(dir, logs, SocketAddr::from(([127, 0, 0, 1], 0))).expect("witness")
}

fn endpoint(w: &RunningWitness, key: &WitnessKey) -> WitnessEndpoint {
    WitnessEndpoint::new(&w.url, Trust::Pin(w.pin), key.clone()).expect("endpoint")
}

/// Pulls a bundle with `pramaan audit pull` into `out`.
fn pull(server: &Running, token: &str, out: &Path) {
    let pin = pramaan_core::transport::b64url(&server.pin);
    run(&[
        "audit",
        "pull",
        &format!("--server={}", server.url),
        &format!("--token={token}"),
        &format!("--pin={pin}"),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect("pull");
}

#[test]
fn a_witness_refuses_a_forked_log_and_audit_verify_requires_its_cosignature() {
    // The original server, with some history.
    let mut a = common::start();
    a.seed();
    a.enroll("GAD-001");
    let admin = a.admin_token.clone();

    // A backup of its data directory becomes a second server: fork B.
    a.stop();
    let b_dir = tempfile::tempdir().expect("dir");
    pramaan_testkit::copy_dir(a.data_dir(), b_dir.path());
    a.restart();
    let b = server::start_with_config(b_dir.path(), common::test_config()).expect("start B");

    // Each grows its own way: A enrolls a device, B takes policy changes.
    a.enroll("GAD-002");
    let b_admin = HttpsClient::new(&b.url, Trust::Pin(b.pin), common::options())
        .expect("client")
        .with_bearer(&admin);
    for i in 0..3 {
        let policy = format!("{}\n# revision {i}\n", common::POLICY_REV);
        let r = b_admin
            .put(
                "/v1/departments/REV/policy",
                "application/toml",
                policy.as_bytes(),
            )
            .expect("put policy");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let log_a = LogSide::new(a.server(), &admin);
    let log_b = LogSide::new(&b, &admin);
    let (note_a, note_b) = (log_a.checkpoint(), log_b.checkpoint());
    let log_vkey = std::fs::read_to_string(a.data_dir().join("log.vkey")).expect("vkey");
    let vk = VerifierKey::parse(&log_vkey).expect("vkey");
    // Both are validly signed by the same log key: a fork.
    let (cp_a, cp_b) = (
        vk.verify_checkpoint(&note_a).expect("A signed"),
        vk.verify_checkpoint(&note_b).expect("B signed"),
    );
    assert!(cp_b.size > cp_a.size, "{} {}", cp_a.size, cp_b.size);
    assert_ne!(
        log_b.proof(cp_a.size, cp_b.size).ok().map(|p| {
            pramaan_tlog::verify_consistency(cp_a.size, cp_b.size, &cp_a.root, &cp_b.root, &p)
                .is_ok()
        }),
        Some(true),
        "fork B must not extend fork A"
    );

    // The audit department sets up a witness.
    let w_dir = tempfile::tempdir().expect("dir");
    run(&[
        "witness",
        "init",
        "--data",
        w_dir.path().to_str().unwrap(),
        "--name",
        "audit.test/witness",
    ])
    .expect("witness init");
    let wkey_path = w_dir.path().join("witness.vkey");
    let wkey = WitnessKey::parse(&std::fs::read_to_string(&wkey_path).expect("wkey"))
        .expect("witness key");
    let mut w = start_witness(w_dir.path(), &log_vkey);

    // A log configured with the wrong key for this witness keeps no line from it.
    let impostor = pramaan_tlog::witness::Cosigner::new(
        "audit.test/witness".into(),
        pramaan_core::ServerKey::generate().expect("key"),
    )
    .expect("cosigner");
    let wrong = WitnessKey::parse(&impostor.verifier_key()).expect("key");
    match log_a.cosign(&endpoint(&w, &wrong)) {
        Err(WitnessClientError::BadCosignature { .. }) => {}
        other => panic!("a cosignature by another key was kept: {other:?}"),
    }

    // Fork A is cosigned (again: cosigning the same tree twice is allowed); fork B is
    // refused (its tree does not extend the witnessed one).
    let cosigned_a = log_a.cosign(&endpoint(&w, &wkey)).expect("A cosigned");
    assert!(cosigned_a.starts_with(&note_a));
    wkey.verify(&cosigned_a).expect("cosignature verifies");
    let eb = endpoint(&w, &wkey);
    match log_b.cosign(&eb) {
        Err(
            WitnessClientError::Refused { status: 422, .. } | WitnessClientError::Forked { .. },
        ) => {}
        other => panic!("fork B was not refused: {other:?}"),
    }
    assert_eq!(
        collect_cosignatures(&note_b, &[eb], &mut |o, n| log_b.proof(o, n)),
        note_b,
        "no cosignature is added for fork B"
    );
    assert_eq!(
        w.witness.latest(&cp_a.origin).map(|t| (t.size, t.root)),
        Some((cp_a.size, cp_a.root))
    );

    // Auditors pull both forks. Fork A's server serves the cosigned checkpoint (what the
    // log does once witnesses are configured); fork B has no cosignature to serve.
    let files = tempfile::tempdir().expect("dir");
    let (bundle_a, bundle_b) = (files.path().join("a.cbor"), files.path().join("b.cbor"));
    pull(a.server(), &admin, &bundle_a);
    pull(&b, &admin, &bundle_b);
    let mut ba = Bundle::from_bytes(&std::fs::read(&bundle_a).expect("a")).expect("bundle");
    assert_eq!(ba.checkpoint, note_a);
    ba.checkpoint = cosigned_a.clone();
    std::fs::write(&bundle_a, ba.to_bytes()).expect("write");
    let log_key_path = a.data_dir().join("log.vkey");

    // Without a witness, an auditor who kept fork A's checkpoint catches fork B too: a
    // pull from B since it is refused, and B's bundle does not verify since it.
    let cp_a_file = files.path().join("cp-a.txt");
    std::fs::write(&cp_a_file, &note_a).expect("write");
    let b_pin = pramaan_core::transport::b64url(&b.pin);
    let since_b = files.path().join("since-b.cbor");
    let err = run(&[
        "audit",
        "pull",
        &format!("--server={}", b.url),
        &format!("--token={admin}"),
        &format!("--pin={b_pin}"),
        "--since",
        cp_a_file.to_str().unwrap(),
        "--out",
        since_b.to_str().unwrap(),
    ])
    .expect_err("a pull from fork B since fork A's checkpoint");
    assert!(err.contains("fork"), "{err}");
    let err = run(&[
        "audit",
        "verify",
        bundle_b.to_str().unwrap(),
        "--log-key",
        log_key_path.to_str().unwrap(),
        "--since",
        cp_a_file.to_str().unwrap(),
    ])
    .expect_err("fork B's bundle since fork A's checkpoint");
    assert!(err.contains("NOT VERIFIED"), "{err}");
    let verify = |file: &Path, witness: bool| {
        let mut args = vec![
            "audit",
            "verify",
            file.to_str().unwrap(),
            "--log-key",
            log_key_path.to_str().unwrap(),
        ];
        if witness {
            args.extend(["--witness-key", wkey_path.to_str().unwrap()]);
        }
        run(&args)
    };
    // Without a witness both forks verify: the problem witnesses solve.
    verify(&bundle_a, false).expect("A verifies");
    verify(&bundle_b, false).expect("B verifies too");
    verify(&bundle_a, true).expect("A is witnessed");
    let err = verify(&bundle_b, true).expect_err("B is not witnessed");
    assert!(
        err.contains("NOT VERIFIED") && err.contains(&wkey.label()) && err.contains("0 of the 1"),
        "{err}"
    );
    // Fork A's cosignature pasted onto fork B's checkpoint does not verify.
    let mut bb = Bundle::from_bytes(&std::fs::read(&bundle_b).expect("b")).expect("bundle");
    bb.checkpoint = format!("{}{}", bb.checkpoint, &cosigned_a[note_a.len()..]);
    std::fs::write(&bundle_b, bb.to_bytes()).expect("write");
    let err = verify(&bundle_b, true).expect_err("pasted cosignature");
    assert!(err.contains("does not verify"), "{err}");
    // --witnesses 0 accepts no cosignature; more than the keys given is refused.
    let wk = wkey_path.to_str().unwrap();
    let lk = log_key_path.to_str().unwrap();
    let b_path = bundle_b.to_str().unwrap();
    run(&[
        "audit",
        "verify",
        b_path,
        "--log-key",
        lk,
        "--witness-key",
        wk,
        "--witnesses",
        "0",
    ])
    .expect("none required");
    let err = run(&[
        "audit",
        "verify",
        b_path,
        "--log-key",
        lk,
        "--witness-key",
        wk,
        "--witnesses",
        "2",
    ])
    .expect_err("too many");
    assert!(err.contains("more than the 1 witness keys"), "{err}");

    // The witness restarts and keeps its state: B is still refused, A's growth accepted.
    w.shutdown();
    w = start_witness(w_dir.path(), &log_vkey);
    assert_eq!(
        w.witness.latest(&cp_a.origin).map(|t| t.size),
        Some(cp_a.size)
    );
    assert!(
        log_b.cosign(&endpoint(&w, &wkey)).is_err(),
        "B after restart"
    );
    a.enroll("REV-001");
    let grown = log_a.cosign(&endpoint(&w, &wkey)).expect("A grown");
    assert!(size_of(&grown) > cp_a.size);
    wkey.verify(&grown).expect("cosigned");

    // Malformed bodies over HTTPS: 400 (413 past the size bound), nothing recorded.
    let before = w.witness.latest(&cp_a.origin);
    let http = HttpsClient::new(&w.url, Trust::Pin(w.pin), common::options()).expect("client");
    let note_now = log_a.checkpoint();
    for body in [
        String::new(),
        "old 0\n".to_string(),
        format!("old x\n\n{note_now}"),
        format!("old {}\n!!!\n\n{note_now}", cp_a.size),
        format!("old 0\n\n{}", &note_now[..note_now.len() / 2]),
    ] {
        let r = http
            .post("/add-checkpoint", "text/plain", body.as_bytes())
            .expect("post");
        assert_eq!(
            r.status,
            400,
            "{body:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let huge = vec![b'a'; pramaan_tlog::witness::MAX_ADD_CHECKPOINT_BYTES + 1];
    let r = http
        .post("/add-checkpoint", "text/plain", &huge)
        .expect("post");
    assert_eq!(r.status, 413);
    assert_eq!(w.witness.latest(&cp_a.origin), before);
    w.shutdown();
    b.shutdown();
}

#[test]
fn witness_commands_refuse_bad_input_with_clear_messages() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().unwrap();
    let err = run(&["witness", "init", "--data", d, "--name", "has space"]).expect_err("name");
    assert!(err.contains("invalid key name"), "{err}");
    run(&["witness", "init", "--data", d, "--name", "w.test/w"]).expect("init");
    let err = run(&["witness", "init", "--data", d, "--name", "w.test/w"]).expect_err("again");
    assert!(err.contains("already exists"), "{err}");
    // serve needs a log key; a witness key is not one.
    assert!(run(&["witness", "serve", "--data", d]).is_err());
    let wkey = dir.path().join("witness.vkey");
    let err = run(&[
        "witness",
        "serve",
        "--data",
        d,
        "--log-key",
        wkey.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
    .expect_err("not a log key");
    assert!(err.contains("expected a log's verifier key"), "{err}");
}

/// The `pramaan` binary: `witness init` prints the key and pin, `witness serve` serves
/// add-checkpoint over TLS with that pin, and the answer is a cosignature by that key.
#[test]
fn the_witness_binary_serves_cosignatures() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["witness", "init", "--name", "bin.test/w", "--data"])
        .arg(dir.path())
        .output()
        .expect("init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let field = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_string())
            .expect(label)
    };
    let wkey = WitnessKey::parse(&field("Witness key:")).expect("printed key");
    let pin = Trust::from_pin_b64url(&field("SPKI pin:")).expect("printed pin");

    let log = pramaan_tlog::LogSigner::try_new(
        "bin.test/log".into(),
        pramaan_core::ServerKey::generate().expect("key"),
    )
    .expect("log");
    let log_key = dir.path().join("log.vkey");
    std::fs::write(&log_key, log.verifier_key()).expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args([
            "witness",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(dir.path())
        .arg("--log-key")
        .arg(&log_key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let url = format!("https://127.0.0.1:{port}");
    let note = log
        .sign_checkpoint(1, &pramaan_tlog::leaf_hash(b"only"))
        .expect("sign");
    let w = WitnessEndpoint::new(&url, pin, wkey.clone()).expect("endpoint");
    let mut answer = None;
    for _ in 0..100 {
        match w.cosign(&note, &mut |_, _| Err("no proof needed".into())) {
            Err(WitnessClientError::Transport { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            other => {
                answer = Some(other);
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let cosigned = answer
        .expect("the witness never answered")
        .expect("cosigned");
    assert_eq!(wkey.verify(&cosigned).map(|_| ()), Ok(()));
}

/// The server asks the witnesses of its `[[witnesses]]` configuration itself: the
/// checkpoint it serves after the log grows carries the witness's cosignature, the bundle
/// an auditor pulls verifies with `--witness-key`, and the cosigned note is kept (served
/// again after a restart, without asking the witness again).
#[test]
fn the_server_collects_cosignatures_from_its_configured_witnesses() {
    let mut env = common::start();
    let log_key_path = env.data_dir().join("log.vkey");
    let log_vkey = std::fs::read_to_string(&log_key_path).expect("log vkey");
    let w_dir = tempfile::tempdir().expect("dir");
    run(&[
        "witness",
        "init",
        "--data",
        w_dir.path().to_str().unwrap(),
        "--name",
        "audit.test/witness",
    ])
    .expect("witness init");
    let wkey_path = w_dir.path().join("witness.vkey");
    let wkey_text = std::fs::read_to_string(&wkey_path).expect("wkey");
    let wkey = WitnessKey::parse(&wkey_text).expect("witness key");
    let w = start_witness(w_dir.path(), &log_vkey);

    let mut config = common::test_config();
    config.witnesses = vec![pramaan_server::config::WitnessConfig {
        url: w.url.clone(),
        key: wkey_text.trim().to_string(),
        pin: Some(pramaan_core::transport::b64url(&w.pin)),
        ca: None,
    }];
    env.restart_with(config);
    env.seed();
    env.enroll("GAD-001");
    let admin = env.admin_token.clone();
    let log = LogSide::new(env.server(), &admin);
    let note = log.checkpoint();
    assert!(
        wkey.verify(&note).is_ok(),
        "the served checkpoint is cosigned:\n{note}"
    );

    let dir = tempfile::tempdir().expect("dir");
    let bundle = dir.path().join("b.cbor");
    pull(env.server(), &admin, &bundle);
    run(&[
        "audit",
        "verify",
        bundle.to_str().unwrap(),
        "--log-key",
        log_key_path.to_str().unwrap(),
        "--witness-key",
        wkey_path.to_str().unwrap(),
    ])
    .expect("the pulled bundle carries the cosignature");

    // The witness goes away: the kept note is still served, cosigned, after a restart.
    w.shutdown();
    env.restart();
    assert_eq!(LogSide::new(env.server(), &admin).checkpoint(), note);
}
