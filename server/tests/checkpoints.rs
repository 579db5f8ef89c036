//! Checkpoints the server cannot fork quietly (design sections 7 and 9): every signed
//! checkpoint is stored; a log whose signed prefix was rewritten (even with its tree
//! recomputed) gets no new signature and the last good checkpoint is served again; the
//! checkpoint key is not the key that signs device answers; each `admin init` gets its own
//! log origin; a data directory from before `log.key` keeps its published log key.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::ServerKey;
use pramaan_core::cose::Sign1;
use pramaan_server::audit_log::{self, LogSigner, VerifierKey};
use pramaan_server::server::{self, Paths};
use pramaan_server::store::{CheckpointRow, read_transaction};

fn checkpoint(env: &Env) -> String {
    let r = env.admin().get("/v1/audit/checkpoint").expect("checkpoint");
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 200, "{text}");
    text
}

fn vkey(env: &Env) -> VerifierKey {
    let text = std::fs::read_to_string(Paths::new(env.data_dir()).log_vkey()).expect("log.vkey");
    VerifierKey::parse(&text).expect("parses")
}

fn stored(env: &Env) -> Vec<CheckpointRow> {
    read_transaction(env.server().store().as_ref(), |tx| tx.checkpoints(0, 1000))
        .expect("checkpoints")
}

fn refusals(env: &Env) -> u64 {
    let r = env.admin().get("/metrics").expect("metrics");
    let text = String::from_utf8_lossy(&r.body).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("pramaan_checkpoint_refusals_total "))
        .unwrap_or_else(|| panic!("no refusal counter:\n{text}"))
        .parse()
        .expect("a number")
}

/// One more log entry (a policy change).
fn grow(env: &Env) {
    let r = env
        .admin()
        .put(
            "/v1/departments/GAD/policy",
            "application/toml",
            POLICY_GAD.as_bytes(),
        )
        .expect("put policy");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Rewrites leaf `index` in the database behind the server's back and recomputes every
/// node, so the tree looks whole but is another one.
fn rewrite_leaf(env: &Env, index: u64) {
    let mut conn = rusqlite::Connection::open(Paths::new(env.data_dir()).db()).expect("open db");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    let mut leaves = audit_log::entries(&conn, 0, u64::MAX / 2).expect("leaves");
    let data = &mut leaves[usize::try_from(index).unwrap()].1;
    *data = pramaan_server::store::LogEntry::PolicyChange {
        at: 1,
        department: "GAD".into(),
        policy_json: "{\"rewritten\":true}".into(),
        by: "nobody".into(),
    }
    .to_leaf();
    let tx = conn.transaction().expect("tx");
    tx.execute_batch("DELETE FROM audit_log_leaves; DELETE FROM audit_log_nodes;")
        .expect("delete");
    for (_, data) in &leaves {
        audit_log::append_leaf(&tx, data).expect("append");
    }
    tx.commit().expect("commit");
}

#[test]
fn a_rewritten_log_gets_no_new_signature_and_the_last_good_checkpoint_is_served() {
    let env = start();
    env.seed();
    let vk = vkey(&env);
    let first = checkpoint(&env);
    let first_cp = vk.verify_checkpoint(&first).expect("verifies");
    // Not grown: the same note, nothing new stored.
    assert_eq!(checkpoint(&env), first);
    grow(&env);
    let good = checkpoint(&env);
    let good_cp = vk.verify_checkpoint(&good).expect("verifies");
    assert_eq!(good_cp.size, first_cp.size + 1);
    assert_eq!(refusals(&env), 0);

    // A consistent-looking but different tree: refused, the last good note served.
    rewrite_leaf(&env, 1);
    grow(&env);
    assert_eq!(checkpoint(&env), good);
    assert_eq!(refusals(&env), 1);
    grow(&env);
    assert_eq!(checkpoint(&env), good);
    assert_eq!(refusals(&env), 2);
    assert_eq!(
        stored(&env)
            .iter()
            .map(|r| r.note.clone())
            .collect::<Vec<_>>(),
        vec![first, good],
        "no checkpoint of the rewritten log was stored"
    );
}

#[test]
fn a_log_with_a_lost_node_is_not_signed_either() {
    let env = start();
    env.seed();
    let good = checkpoint(&env);
    let conn = rusqlite::Connection::open(Paths::new(env.data_dir()).db()).expect("open db");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    // The node over leaves 0..4 (the signed tree's root), which the new root needs.
    let gone = conn
        .execute(
            "DELETE FROM audit_log_nodes WHERE level = 2 AND idx = 0",
            [],
        )
        .expect("delete");
    assert_eq!(gone, 1);
    grow(&env);
    assert_eq!(checkpoint(&env), good);
    assert_eq!(refusals(&env), 1);
}

#[test]
fn the_checkpoints_table_keeps_every_signed_note() {
    let env = start();
    let mut served = vec![checkpoint(&env)];
    for _ in 0..3 {
        grow(&env);
        served.push(checkpoint(&env));
        // Asked again without growth: the same note, no new row.
        assert_eq!(checkpoint(&env), *served.last().unwrap());
    }
    let rows = stored(&env);
    assert_eq!(
        rows.iter().map(|r| r.note.clone()).collect::<Vec<_>>(),
        served
    );
    let vk = vkey(&env);
    for r in &rows {
        let cp = vk.verify_checkpoint(&r.note).expect("verifies");
        assert_eq!((cp.size, cp.root), (r.size, r.root));
        assert!(r.signed_at >= now() - 60 && r.signed_at <= now());
    }
    assert_eq!(
        rows.iter().map(|r| r.size).collect::<Vec<_>>(),
        vec![1, 2, 3, 4],
        "the admin token's entry, then one per policy change"
    );
}

#[test]
fn the_log_key_is_not_the_server_key() {
    let env = start();
    env.seed();
    let paths = Paths::new(env.data_dir());
    let server_key = ServerKey::load(&paths.server_key()).expect("server key");
    let log_key = ServerKey::load(&paths.log_key()).expect("log key");
    let vk = vkey(&env);
    assert_eq!(vk.key, log_key.public_key());
    assert_ne!(vk.key, server_key.public_key());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(paths.log_key())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A receipt verifies with the server key and not with the log key.
    let token = env.enrollment_token("GAD-001");
    let signer = pramaan_core::keys::SoftwareSigner::generate().expect("key");
    let r = env.post_enroll(&token, &enroll_request(&signer, &token, &env.challenge()));
    assert_eq!(r.status, 200);
    let receipt = Sign1::parse(&r.body).expect("COSE");
    receipt
        .verify_eddsa(&server_key.public_key(), None)
        .expect("signed by the server key");
    assert!(receipt.verify_eddsa(&vk.key, None).is_err());

    // A checkpoint signed with the server key (as the server would have before log.key)
    // does not verify under the published log key.
    let cp = vk.verify_checkpoint(&checkpoint(&env)).expect("verifies");
    let forged = LogSigner::new(vk.name.clone(), server_key).sign_checkpoint(cp.size, &cp.root);
    assert!(vk.verify_checkpoint(&forged.expect("signs")).is_err());
}

#[test]
fn every_init_has_its_own_origin_and_an_explicit_one_is_checked() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ia = server::admin_init(a.path(), "gad.example").expect("init");
    let ib = server::admin_init(b.path(), "gad.example").expect("init");
    assert_ne!(ia.log_origin, ib.log_origin);
    for i in [&ia, &ib] {
        assert!(
            i.log_origin.starts_with("gad.example/pramaan-log/"),
            "{}",
            i.log_origin
        );
        assert!(i.log_vkey.starts_with(&format!("{}+", i.log_origin)));
    }

    for bad in ["", "two words", "a+b", "tab\there"] {
        let dir = tempfile::tempdir().unwrap();
        let e = server::admin_init_with_origin(dir.path(), "localhost", Some(bad))
            .expect_err(bad)
            .to_string();
        assert!(e.contains("log origin"), "{bad:?}: {e}");
        assert!(
            !Paths::new(dir.path()).server_key().exists(),
            "nothing is written for a refused origin"
        );
    }

    // A chosen origin is the log key's name and every checkpoint's first line.
    let dir = tempfile::tempdir().unwrap();
    let init = server::admin_init_with_origin(dir.path(), "localhost", Some("gad.example/audit"))
        .expect("init");
    assert!(init.log_vkey.starts_with("gad.example/audit+"));
    let running = server::start_with_config(dir.path(), test_config()).expect("start");
    let client = pramaan_core::transport::HttpsClient::new(
        &running.url,
        pramaan_core::transport::Trust::Pin(running.pin),
        options(),
    )
    .unwrap()
    .with_bearer(&init.admin_token);
    let note = String::from_utf8(client.get("/v1/audit/checkpoint").unwrap().body).unwrap();
    assert!(note.starts_with("gad.example/audit\n"), "{note}");
    VerifierKey::parse(&init.log_vkey)
        .unwrap()
        .verify_checkpoint(&note)
        .expect("verifies");
}

#[test]
fn a_data_directory_from_before_log_key_keeps_its_published_key() {
    let mut env = start();
    env.stop();
    // What an older `admin init` left: no log.key, log.vkey of the server key.
    let paths = Paths::new(env.data_dir());
    std::fs::remove_file(paths.log_key()).unwrap();
    let server_key = ServerKey::load(&paths.server_key()).unwrap();
    let old = LogSigner::new(server::log_origin("localhost"), server_key).verifier_key();
    std::fs::write(paths.log_vkey(), format!("{old}\n")).unwrap();
    env.restart();
    let cp = VerifierKey::parse(&old)
        .unwrap()
        .verify_checkpoint(&checkpoint(&env))
        .expect("signed with the server key under the old origin");
    assert_eq!(cp.origin, "localhost/pramaan-log");

    // A log.vkey that is not the key's stops the start with the reason.
    env.stop();
    let other = LogSigner::new(
        "localhost/pramaan-log".into(),
        ServerKey::generate().unwrap(),
    );
    std::fs::write(paths.log_vkey(), other.verifier_key()).unwrap();
    let e = server::start_with_config(env.data_dir(), test_config())
        .expect_err("a mismatched log.vkey")
        .to_string();
    assert!(e.contains("is not the verifier key of server.key"), "{e}");
}
