#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! Rotating the checkpoint key while a server runs (issue 15): enrolled agents keep
//! checking in across two rotations, the server signs its next checkpoints with the new
//! key (read from the files, no restart), and an auditor holding ONLY the original
//! `log.vkey` verifies, with the library and with `pramaan audit verify`, a bundle pulled
//! after both rotations, with `--since` a checkpoint kept before them. `audit show` lists
//! the rotations. The old private key is gone from the directory. The answer key is
//! rotated in the same rounds: the agents follow both.

use std::sync::Arc;

use clap::Parser as _;
use pramaan_cli::{self as cli, Cli};
use pramaan_core::agent::{Agent, CheckIn};
use pramaan_core::keys::SoftwareSigner;
use pramaan_server::audit_log::bundle::{Bundle, verify_bundle};
use pramaan_server::audit_log::{LogEntry, VerifierKey};
use pramaan_testkit::fixtures::gad_facts;
use pramaan_testkit::{self as common, options};

fn run(args: &[&str]) -> Result<(), String> {
    let cli = Cli::try_parse_from(std::iter::once("pramaan").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli::run(cli).map_err(|e| e.0)
}

fn check_in(agent: &Agent) {
    let c = agent.check_in(&gad_facts()).expect("check in");
    assert!(matches!(c, CheckIn::Delivered { .. }), "{c:?}");
}

#[test]
fn agents_keep_checking_in_and_the_first_log_key_follows_two_rotations() {
    let env = common::start();
    env.seed();
    let agents: Vec<(tempfile::TempDir, Agent)> = ["GAD-001", "GAD-002"]
        .iter()
        .map(|officer| {
            let dir = tempfile::tempdir().expect("tempdir");
            let signer =
                SoftwareSigner::load_or_generate(&dir.path().join("device.key")).expect("key");
            let agent = Agent::open_with(dir.path(), Arc::new(signer), options()).expect("agent");
            agent
                .enroll(&env.enrollment_uri(officer), &gad_facts(), None)
                .expect("enrolls");
            (dir, agent)
        })
        .collect();
    for (_, a) in &agents {
        check_in(a);
    }

    let data = env.dir.path();
    let data_arg = data.to_str().unwrap();
    let work = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| work.path().join(name).to_str().unwrap().to_string();
    std::fs::copy(data.join("log.vkey"), file("first.vkey")).expect("copy vkey");
    let first = std::fs::read_to_string(file("first.vkey")).expect("vkey");

    let auditor = env.token("auditor", None);
    let pin = pramaan_core::transport::b64url(&env.server().pin);
    let conn = [
        format!("--server={}", env.server().url),
        format!("--token={auditor}"),
        format!("--pin={pin}"),
    ];
    let pull = |out: &str, extra: &[&str]| {
        let mut args = vec!["audit", "pull"];
        args.extend(conn.iter().map(String::as_str));
        args.extend(["--out", out]);
        args.extend(extra);
        run(&args).expect("pull");
    };
    // The auditor keeps a checkpoint from before any rotation.
    pull(
        &file("before.cbor"),
        &["--save-checkpoint", &file("before.cp")],
    );
    let before = std::fs::read_to_string(file("before.cp")).expect("checkpoint");

    for round in 0..2 {
        run(&["admin", "rotate-key", "log", "--data", data_arg]).expect("rotate");
        run(&["admin", "rotate-key", "answer", "--data", data_arg]).expect("rotate answer key");
        for (_, a) in &agents {
            check_in(a);
        }
        // The running server signs with the new key (no restart).
        let note = env
            .client_with(&auditor)
            .get("/v1/audit/checkpoint")
            .expect("checkpoint");
        let note = String::from_utf8(note.body).expect("utf-8");
        let now = std::fs::read_to_string(data.join("log.vkey")).expect("vkey");
        let now = VerifierKey::parse(now.trim()).expect("vkey");
        now.verify_checkpoint(&note)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            VerifierKey::parse(first.trim())
                .expect("vkey")
                .verify_checkpoint(&note)
                .is_err()
        );
    }
    // Once the running server signs with the newest answer key (it re-reads the key
    // files), every agent follows the chain of endorsements to it.
    std::thread::sleep(pramaan_server::answer_keys::FOLLOW_INTERVAL * 2);
    let answer_key = pramaan_core::keys::ServerKey::load(&data.join("server.key"))
        .expect("answer key")
        .public_key();
    for (dir, a) in &agents {
        check_in(a);
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).expect("state"))
                .expect("json");
        assert_eq!(
            state["server_key"].as_str(),
            Some(hex::encode(answer_key).as_str()),
            "the agent holds the newest answer key"
        );
    }
    let chain: pramaan_tlog::keychain::KeyChain =
        serde_json::from_slice(&std::fs::read(data.join("log-keys.json")).expect("chain"))
            .expect("json");
    assert_eq!((chain.keys.len(), chain.rotations.len()), (3, 2));
    assert_eq!(chain.keys[0], first.trim());
    // The old private keys are not kept anywhere in the directory.
    let key_files: Vec<String> = std::fs::read_dir(data)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("log."))
        .collect();
    assert_eq!(key_files.len(), 2, "{key_files:?}");

    // Incremental, with the checkpoint kept before the rotations.
    pull(&file("after.cbor"), &["--since", &file("before.cp")]);
    let bytes = std::fs::read(file("after.cbor")).expect("bundle");
    let b = Bundle::from_bytes(&bytes).expect("parse");
    assert_eq!((b.version, b.key_chain.len()), (3, 2));
    let s = verify_bundle(&bytes, first.trim(), Some(&before)).expect("verifies");
    assert_eq!(s.key_rotations, 2);
    let before_size = pramaan_tlog::bundle::unverified_checkpoint(&before)
        .expect("cp")
        .size;
    assert_eq!(s.consistent_since, Some(before_size));
    assert_eq!(
        s.attestations, 6,
        "three check-ins of two agents after the first"
    );
    run(&[
        "audit",
        "verify",
        &file("after.cbor"),
        "--log-key",
        &file("first.vkey"),
        "--since",
        &file("before.cp"),
    ])
    .expect("audit verify with the first key");
    // A rotation left out of the bundle: refused, and the auditor is told why.
    let mut cut = b.clone();
    cut.key_chain.pop();
    std::fs::write(file("cut.cbor"), cut.to_bytes()).expect("write");
    let err = run(&[
        "audit",
        "verify",
        &file("cut.cbor"),
        "--log-key",
        &file("first.vkey"),
    ])
    .expect_err("a rotation left out");
    assert!(
        err.contains("NOT VERIFIED") && err.contains("carries no rotation of the checkpoint key"),
        "{err}"
    );
    // The whole log too, and with the current key (no step to follow).
    pull(&file("all.cbor"), &[]);
    let all = std::fs::read(file("all.cbor")).expect("bundle");
    let s = verify_bundle(&all, first.trim(), None).expect("verifies");
    let rotations = Bundle::from_bytes(&all)
        .expect("parse")
        .entries
        .iter()
        .filter(|e| {
            matches!(
                LogEntry::from_leaf(&e.leaf),
                Ok(LogEntry::LogKeyRotated { .. })
            )
        })
        .count();
    assert_eq!((s.key_rotations, rotations), (2, 2));
    let current = std::fs::read_to_string(data.join("log.vkey")).expect("vkey");
    assert_eq!(
        verify_bundle(&all, current.trim(), None)
            .expect("verifies")
            .key_rotations,
        0
    );
    run(&[
        "audit",
        "show",
        &file("all.cbor"),
        "--log-key",
        &file("first.vkey"),
    ])
    .expect("audit show");
    // A restarted server loads the rotated directory and signs with the new key.
    let mut env = env;
    env.restart();
    check_in(&agents[0].1);
    let r = env
        .client_with(&auditor)
        .get("/v1/audit/checkpoint")
        .expect("cp");
    VerifierKey::parse(current.trim())
        .expect("vkey")
        .verify_checkpoint(&String::from_utf8(r.body).expect("utf-8"))
        .expect("signed by the new key after a restart");
    // The bundle from before the rotations still verifies with the first key.
    verify_bundle(
        &std::fs::read(file("before.cbor")).expect("bundle"),
        first.trim(),
        None,
    )
    .expect("old bundle");
}

/// A witness holds one key per log: after a rotation it refuses the new key's checkpoints
/// (the server still serves them, uncosigned: the log is not held up); restarted with the
/// new `log.vkey` it cosigns again, its state (the tree cosigned before the rotation)
/// carried over, so the new key's log is proved an extension of what it saw.
#[test]
fn a_witness_given_the_new_key_cosigns_again_without_being_a_blocker() {
    use pramaan_server::witness as wit;
    use pramaan_tlog::witness::WitnessKey;

    let mut env = common::start();
    let data = env.data_dir().to_path_buf();
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
    let wkey_text = std::fs::read_to_string(w_dir.path().join("witness.vkey")).expect("wkey");
    let wkey = WitnessKey::parse(&wkey_text).expect("witness key");
    let vkey_of = |path: &std::path::Path| {
        VerifierKey::parse(std::fs::read_to_string(path).expect("vkey").trim()).expect("vkey")
    };
    let start_witness = |addr: std::net::SocketAddr| {
        wit::start(w_dir.path(), vec![vkey_of(&data.join("log.vkey"))], addr).expect("witness")
    };
    let w = start_witness(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut config = common::test_config();
    config.witnesses = vec![pramaan_server::config::WitnessConfig {
        url: w.url.clone(),
        key: wkey_text.trim().to_string(),
        pin: Some(pramaan_core::transport::b64url(&w.pin)),
        ca: None,
    }];
    env.restart_with(config);
    env.seed();
    let admin = env.admin();
    let checkpoint = || {
        let r = admin.get("/v1/audit/checkpoint").expect("checkpoint");
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).expect("utf-8")
    };
    let mut device = env.enroll("GAD-001");
    assert!(wkey.verify(&checkpoint()).is_ok(), "cosigned before");
    let origin = vkey_of(&data.join("log.vkey")).name;
    let before = w.witness.latest(&origin).expect("cosigned tree");

    run(&[
        "admin",
        "rotate-key",
        "log",
        "--data",
        data.to_str().unwrap(),
    ])
    .expect("rotate");
    env.enroll("GAD-002");
    let note = checkpoint();
    vkey_of(&data.join("log.vkey"))
        .verify_checkpoint(&note)
        .expect("served, signed by the new key");
    assert!(
        wkey.verify(&note).is_err(),
        "the witness refuses the new key"
    );

    let addr = w.addr;
    w.shutdown();
    let w = start_witness(addr);
    let kept = w.witness.latest(&origin).expect("state carried over");
    assert_eq!((kept.size, kept.root), (before.size, before.root));
    env.attest_ok(&mut device);
    let note = checkpoint();
    assert!(wkey.verify(&note).is_ok(), "cosigned again:\n{note}");
}
