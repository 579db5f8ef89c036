#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! Two instances on one PostgreSQL database, each with its own copy of the data
//! directory. The checkpoint key is rotated on the first one's directory: the second,
//! still holding the old key, never signs with it again (its replay sees the rotation; it
//! serves the last checkpoint and counts a refusal) until the operator copies the new key
//! files, which it then picks up without a restart. Skips without a PostgreSQL cluster
//! (`PRAMAAN_TEST_POSTGRES`), fails under `CI=true`.

use std::time::{Duration, Instant};

use pramaan_server::audit_log::VerifierKey;
use pramaan_testkit::postgres::{cluster, fresh_database};
use pramaan_testkit::*;

fn checkpoint(env: &Env) -> String {
    let r = env.admin().get("/v1/audit/checkpoint").expect("checkpoint");
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).expect("utf-8")
}

fn vkey(env: &Env) -> VerifierKey {
    let text = std::fs::read_to_string(env.data_dir().join("log.vkey")).expect("vkey");
    VerifierKey::parse(text.trim()).expect("vkey")
}

#[test]
fn an_instance_with_the_old_key_stops_signing_until_it_has_the_new_one() {
    let Some(c) = cluster() else { return };
    let url = fresh_database(&c);
    let first = start_on_database(&url, c.ca.as_deref(), |_| {});
    first.seed();
    let second = first.another_instance();
    let old = vkey(&second);
    let mut device = first.enroll("GAD-001");
    let before = checkpoint(&second);
    old.verify_checkpoint(&before).expect("old key");

    let rotated = pramaan_server::log_keys::rotate(first.data_dir()).expect("rotate");
    let new = vkey(&first);
    first.attest_ok(&mut device);
    // The second instance holds only the old key: it signs nothing new with it, and
    // serves the last checkpoint, the handover (the old key's last).
    assert_ne!(rotated.handover, before);
    assert_eq!(checkpoint(&second), rotated.handover);
    let metrics = second.admin().get("/metrics").expect("metrics");
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(
        !text.contains("pramaan_checkpoint_refusals_total 0\n"),
        "the refusal is counted"
    );
    // The first signs with the new key.
    new.verify_checkpoint(&checkpoint(&first)).expect("new key");

    // The operator copies the key files; the second picks them up without a restart.
    for name in ["log.key", "log.vkey", "log-keys.json"] {
        std::fs::copy(first.data_dir().join(name), second.data_dir().join(name)).expect("copy");
    }
    first.attest_ok(&mut device);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let note = checkpoint(&second);
        if new.verify_checkpoint(&note).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not signed by the new key:\n{note}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
