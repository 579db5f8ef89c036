//! Rotating the answer key (`pramaan admin rotate-key answer`) under running agents, and
//! the device protocol versions (design sections 5 and 7; docs/operations.md section 3).
//!
//! Real agents (pramaan-core's `Agent`) against a testkit server over real TLS: after two
//! rotations an agent that checked in between them and one that slept through both keep
//! checking in and end with the newest key; chains that do not start at the agent's key
//! are refused and the check-in stays queued; the server signs with the new key without
//! a restart; the audit bundle holding the rotations verifies and the replay flags a
//! forged rotation. Then v1 (the previous agents): accepted before the date, refused with
//! `protocol_outdated` after it, and answered with the key the v1 device holds.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code: a failed expectation is the test failing

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser as _;
use pramaan_cli::{self as cli, Cli};
use pramaan_core::agent::answer_keys;
use pramaan_core::agent::{Agent, CheckIn, State};
use pramaan_core::claims::{self, AttestResult, Attestation, Protocol};
use pramaan_core::cose::{self, Sign1};
use pramaan_core::keys::{ServerKey, SoftwareSigner};
use pramaan_core::transport::Response;
use pramaan_server::audit_log::LogEntry;
use pramaan_server::audit_log::bundle::verify_bundle;
use pramaan_server::server::Paths;
use pramaan_testkit::*;
use pramaan_tlog::semantics::{self, ViolationKind};

fn run(args: &[&str]) -> Result<(), String> {
    let cli = Cli::try_parse_from(std::iter::once("pramaan").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli::run(cli).map_err(|e| e.0)
}

fn rotate(env: &Env, extra: &[&str]) -> [u8; 32] {
    let data = env.data_dir().display().to_string();
    let mut args = vec!["admin", "rotate-key", "answer", "--data", data.as_str()];
    args.extend(extra);
    run(&args).expect("rotate-key answer");
    let key = disk_key(env.data_dir());
    wait_for_key(env, key);
    key
}

fn disk_key(dir: &Path) -> [u8; 32] {
    ServerKey::load(&Paths::new(dir).server_key())
        .expect("server.key")
        .public_key()
}

/// Waits (no restart) until the running server signs with `key`.
fn wait_for_key(env: &Env, key: [u8; 32]) {
    let t = Instant::now();
    while env
        .server()
        .state()
        .answer_keys
        .current()
        .current
        .public_key()
        != key
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the running server did not take the new answer key"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn agent(env: &Env, dir: &Path, officer: &str) -> Agent {
    let signer = SoftwareSigner::load_or_generate(&dir.join("device.key")).expect("key");
    let agent = Agent::open_with(dir, Arc::new(signer), options()).expect("agent");
    agent
        .enroll(&env.enrollment_uri(officer), &facts(officer), None)
        .expect("enrolls");
    agent
}

fn facts(officer: &str) -> pramaan_core::agent::facts::Facts {
    compliant_facts(registry_email(officer), registry_handle(officer))
}

fn held_key(dir: &Path) -> [u8; 32] {
    State::load(dir)
        .expect("state")
        .expect("enrolled")
        .server_key_bytes()
        .expect("a server key")
}

fn delivered(agent: &Agent, officer: &str) {
    let c = agent.check_in(&facts(officer)).expect("check in");
    assert!(matches!(c, CheckIn::Delivered { .. }), "{c:?}");
    assert_eq!(agent.pending().expect("pending"), 0);
}

/// The must-show: two rotations under a running server, two agents, the log and the
/// auditor's verification.
#[test]
fn agents_follow_two_rotations_and_the_audit_trail_verifies() {
    let env = start();
    env.seed();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = agent(&env, da.path(), "GAD-001");
    let b = agent(&env, db.path(), "GAD-002");
    delivered(&a, "GAD-001");
    delivered(&b, "GAD-002");
    let key0 = held_key(da.path());
    assert_eq!(key0, held_key(db.path()));

    let key1 = rotate(&env, &[]);
    assert_ne!(key1, key0);
    // The running server signs with the new key: a raw device's answer verifies under
    // the key on disk, and carries the endorsement.
    let mut raw = env.enroll("REV-001");
    let result: AttestResult = env.attest_ok(&mut raw);
    assert_eq!(result.answer_keys.len(), 1);
    delivered(&a, "GAD-001");
    assert_eq!(held_key(da.path()), key1, "A moved to the new key");
    assert_eq!(held_key(db.path()), key0, "B has not checked in yet");

    let key2 = rotate(&env, &[]);
    delivered(&a, "GAD-001");
    delivered(&b, "GAD-002");
    assert_eq!(held_key(da.path()), key2);
    assert_eq!(held_key(db.path()), key2, "B walked both rotations");

    // The log records both, chained; the auditor's bundle holding them verifies.
    let rotations: Vec<(u64, LogEntry)> = env
        .log_entries()
        .into_iter()
        .enumerate()
        .map(|(i, e)| (i as u64, e))
        .filter(|(_, e)| matches!(e, LogEntry::AnswerKeyRotated { .. }))
        .collect();
    assert_eq!(rotations.len(), 2);
    let LogEntry::AnswerKeyRotated {
        old_key, new_key, ..
    } = &rotations[1].1
    else {
        unreachable!()
    };
    assert_eq!(
        (old_key.as_slice(), new_key.as_slice()),
        (&key1[..], &key2[..])
    );
    let auditor = env.token("auditor", None);
    let out = env.data_dir().join("bundle.cbor");
    let pin = pramaan_core::transport::b64url(&env.server().pin);
    run(&[
        "audit",
        "pull",
        &format!("--server={}", env.server().url),
        &format!("--token={auditor}"),
        &format!("--pin={pin}"),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect("audit pull");
    let vkey = std::fs::read_to_string(env.data_dir().join("log.vkey")).unwrap();
    let s = verify_bundle(&std::fs::read(&out).unwrap(), vkey.trim(), None)
        .expect("the bundle with the rotations verifies");
    assert!(s.entries > rotations[1].0, "{s:?}");

    // The replay flags a forged rotation: an endorsement by a key that is not the old one,
    // and a rotation that does not start where the previous one ended.
    let entries = env.log_entries();
    let replay = |entries: &[LogEntry]| {
        semantics::check(
            [],
            0,
            entries.iter().enumerate().map(|(i, e)| (i as u64, e)),
        )
    };
    assert!(replay(&entries).is_clean(), "{:?}", replay(&entries));
    let attacker = ServerKey::generate().unwrap();
    let mut forged = entries.clone();
    let i = rotations[1].0 as usize;
    if let LogEntry::AnswerKeyRotated {
        endorsement, at, ..
    } = &mut forged[i]
    {
        *endorsement = answer_keys::endorse(&attacker, &key2, *at);
    }
    let kinds: Vec<_> = replay(&forged)
        .violations
        .iter()
        .map(|v| (v.index, v.kind))
        .collect();
    assert_eq!(kinds, vec![(i as u64, ViolationKind::AnswerKeyChain)]);
    let mut skipped = entries.clone();
    if let LogEntry::AnswerKeyRotated {
        old_key,
        endorsement,
        at,
        ..
    } = &mut skipped[i]
    {
        // A self-consistent rotation from a key the chain never reached.
        *old_key = attacker.public_key().to_vec();
        *endorsement = answer_keys::endorse(&attacker, &key2, *at);
    }
    let kinds: Vec<_> = replay(&skipped)
        .violations
        .iter()
        .map(|v| (v.index, v.kind))
        .collect();
    assert_eq!(kinds, vec![(i as u64, ViolationKind::AnswerKeyChain)]);
}

/// Answers whose chain does not start at the agent's key are refused: the check-in stays
/// queued, the key is kept; once the server answers with a genuine chain they go through.
#[test]
fn forged_and_broken_chains_are_refused_and_nothing_is_lost() {
    let env = start();
    env.seed();
    let d = tempfile::tempdir().unwrap();
    let a = agent(&env, d.path(), "GAD-001");
    delivered(&a, "GAD-001");
    let key0 = held_key(d.path());
    let paths = Paths::new(env.data_dir());
    // Two genuine rotations, their files kept aside.
    rotate(&env, &[]);
    let key2 = rotate(&env, &[]);
    let genuine_chain = std::fs::read(paths.answer_chain()).unwrap();
    let genuine_key = std::fs::read(paths.server_key()).unwrap();

    let install = |chain: &[u8], key: &ServerKey| {
        std::fs::write(paths.answer_chain(), chain).unwrap();
        key.save(&paths.server_key()).unwrap();
        wait_for_key(&env, key.public_key());
    };
    // 1. An endorsement by a key the agent does not hold.
    let (x, y) = (
        ServerKey::generate().unwrap(),
        ServerKey::generate().unwrap(),
    );
    let forged = serde_json::json!({"rotations": [{
        "old_key": hex::encode(x.public_key()),
        "new_key": hex::encode(y.public_key()),
        "since": 1,
        "endorsement": hex::encode(answer_keys::endorse(&x, &y.public_key(), 1)),
        "old_kept": false,
    }]});
    install(&serde_json::to_vec(&forged).unwrap(), &y);
    let stored = env
        .stored_attestations(&State::load(d.path()).unwrap().unwrap().device_id)
        .len();
    let c = a.check_in(&facts("GAD-001")).expect("check in");
    assert!(matches!(c, CheckIn::Queued { pending: 1, .. }), "{c:?}");
    assert_eq!(held_key(d.path()), key0);
    // 2. The genuine chain with its first link removed (the agent's own).
    let mut skipping: serde_json::Value = serde_json::from_slice(&genuine_chain).unwrap();
    skipping["rotations"].as_array_mut().unwrap().remove(0);
    install(
        &serde_json::to_vec(&skipping).unwrap(),
        &ServerKey::from_pkcs8(&genuine_key).unwrap(),
    );
    let c = a.check_in(&facts("GAD-001")).expect("check in");
    assert!(matches!(c, CheckIn::Queued { .. }), "{c:?}");
    assert_eq!(held_key(d.path()), key0);
    // The first kept token was found delivered (409 seq_not_increasing) and left the
    // outbox; the second is kept. The server recorded all of them.
    assert_eq!(a.pending().unwrap(), 1);
    let device_id = State::load(d.path()).unwrap().unwrap().device_id;
    assert_eq!(env.stored_attestations(&device_id).len(), stored + 2);
    // Restored: every queued check-in is delivered and the agent holds the newest key.
    std::fs::write(paths.answer_chain(), &genuine_chain).unwrap();
    let t = Instant::now();
    while env.server().state().answer_keys.current().chain.len() != 2 {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(100));
    }
    delivered(&a, "GAD-001");
    assert_eq!(held_key(d.path()), key2);
    assert_eq!(State::load(d.path()).unwrap().unwrap().dropped, 0);
    assert_eq!(env.stored_attestations(&device_id).len(), stored + 3);
}

/// A v1 attestation or enrollment: accepted before `previous_protocol_until`, refused with
/// `protocol_outdated` (426) after it, when v2 ones are still accepted.
#[test]
fn the_previous_protocol_is_accepted_until_its_date() {
    let mut env = start_with(|c| c.previous_protocol_until = now() + 3600);
    env.seed();
    let mut dev = env.enroll("GAD-001");
    let r = send(&env, &mut dev, Protocol::V1);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    // IT sees which phones still run the previous app, and how many check-ins do.
    let list = env
        .client_with(&env.token("it", Some("GAD")))
        .get("/v1/devices?department=GAD")
        .expect("devices");
    let list: pramaan_core::api::DeviceList = serde_json::from_slice(&list.body).unwrap();
    let entry = list.devices.iter().find(|d| d.device_id == dev.id).unwrap();
    assert_eq!(entry.protocol, Some(1));
    let metrics = env.admin().get("/metrics").expect("metrics");
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("pramaan_attestations_by_protocol_total{protocol=\"v1\"} 1"),
        "{text}"
    );
    let mut config = test_config();
    config.previous_protocol_until = now() - 1;
    env.restart_with(config);
    let r = send(&env, &mut dev, Protocol::V1);
    assert_rejected(&r, 426, "protocol_outdated");
    let body = error_of(&r).unwrap();
    assert!(body.message.contains("update Pramaan"), "{}", body.message);
    let r = send(&env, &mut dev, Protocol::V2);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    // A v1 enrollment too.
    let token = env.enrollment_token("GAD-002");
    let signer = SoftwareSigner::generate().unwrap();
    let req = claims::EnrollRequest {
        v: 1,
        ..claims::decode(
            Sign1::parse(&enroll_request(&signer, &token, &env.challenge()))
                .unwrap()
                .unverified_payload(),
        )
        .unwrap()
    };
    let body = cose::sign_es256(&signer, b"", claims::encode(&req)).unwrap();
    assert_rejected(&env.post_enroll(&token, &body), 426, "protocol_outdated");
    // A version no agent speaks: refused, and the token stays unused.
    for v in [0, 3, u32::MAX] {
        let req = claims::EnrollRequest { v, ..req.clone() };
        let body = cose::sign_es256(&signer, b"", claims::encode(&req)).unwrap();
        assert_rejected(&env.post_enroll(&token, &body), 400, "unsupported_version");
    }
    let r = env.post_enroll(&token, &enroll_request(&signer, &token, &env.challenge()));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}

/// A v1 device is answered with the key it enrolled under while that key is kept; a
/// rotation with `--retire` keeps no key, and the v1 devices enrolled under it then get
/// answers they cannot verify (they must update). v2 answers always use the newest key.
#[test]
fn v1_devices_are_answered_with_the_key_they_hold() {
    let env = start();
    env.seed();
    let key0 = disk_key(env.data_dir());
    let mut d = env.enroll("GAD-001");
    std::thread::sleep(Duration::from_millis(1100));
    let key1 = rotate(&env, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    let mut e = env.enroll("GAD-002");
    std::thread::sleep(Duration::from_millis(1100));
    let key2 = rotate(&env, &["--retire"]);
    assert!(
        Paths::new(env.data_dir())
            .answer_kept_key(&hex::encode(key0))
            .exists()
    );
    assert!(
        !Paths::new(env.data_dir())
            .answer_kept_key(&hex::encode(key1))
            .exists(),
        "a retired key is not kept"
    );
    let signer_of = |r: &Response| {
        let m = Sign1::parse(&r.body).unwrap();
        [key0, key1, key2]
            .iter()
            .position(|k| m.verify_eddsa(k, None).is_ok())
    };
    let r = send(&env, &mut d, Protocol::V1);
    assert_eq!(signer_of(&r), Some(0), "v1 device D holds key0 (kept)");
    let r = send(&env, &mut e, Protocol::V1);
    assert_eq!(signer_of(&r), Some(2), "key1 was retired: E cannot verify");
    for dev in [&mut d, &mut e] {
        let r = send(&env, dev, Protocol::V2);
        assert_eq!(signer_of(&r), Some(2));
    }
}

/// Sends one online attestation of `dev` speaking `protocol`.
fn send(env: &Env, dev: &mut Device, protocol: Protocol) -> Response {
    dev.seq += 1;
    let claims = Attestation {
        protocol,
        ..claims_for(dev.id, &dev.officer, Some(env.challenge()), dev.seq, now())
    };
    let token = cose::sign_es256(&dev.signer, dev.id.as_bytes(), claims.to_cbor()).unwrap();
    env.post_device("/v1/attest", &token)
}
