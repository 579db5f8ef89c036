#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! What an auditor can rely on when the server's operator is the adversary. A real server
//! logs a department's setup, two devices' enrollments and attestations (one of them
//! contraindicated). Then someone with write access to the SQLite file and the log's own
//! key rewrites the log (a replayed token, a token relabelled to another officer, a
//! duplicated entry, a contraindicated verdict turned `affirming`) and signs the forged
//! tree: every proof and signature in the bundle holds, yet `pramaan audit verify` names
//! each forgery with its index, and the server itself refuses to sign the forged tree.
//! On the honest log, `pramaan audit show --state-at` prints the registry and roster in
//! force and a recomputed verdict equal to the logged one.

use std::path::Path;
use std::process::{Command, Output};

use pramaan_core::claims::{Attestation, Verdict};
use pramaan_core::cose;
use pramaan_core::keys::ServerKey;
use pramaan_server::audit_log::bundle::BuildOptions;
use pramaan_server::audit_log::{self, LogEntry, LogSigner, VerifierKey};
use pramaan_testkit::{self as common, Device, Env};

fn pramaan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(args)
        .output()
        .expect("run pramaan")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A department set up by IT (policies, registry, the GAD roster) with two enrolled
/// devices: GAD-001 attests once as it should and once with only a personal email
/// (contraindicated), GAD-002 once.
fn honest_server() -> (Env, Device, Device) {
    let env = common::start();
    env.seed();
    let r = env
        .admin()
        .put(
            &format!("/v1/departments/GAD/groups/{}/roster", common::GAD_GROUP),
            "text/csv",
            common::ROSTER_GAD.as_bytes(),
        )
        .expect("roster");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut a = env.enroll("GAD-001");
    let mut b = env.enroll("GAD-002");
    assert_eq!(
        env.attest_ok(&mut a).status,
        Verdict::Warning,
        "software keys: R5"
    );
    a.seq += 1;
    let claims = Attestation {
        email: vec!["a.shah.personal@gmail.com".into()],
        ..common::claims_for(
            a.id,
            &a.officer,
            Some(a.next_nonce.clone()),
            a.seq,
            common::now(),
        )
    };
    let token = cose::sign_es256(&a.signer, a.id.as_bytes(), claims.to_cbor()).expect("sign");
    let r = env.post_device("/v1/attest", &token);
    assert_eq!(r.status, 200, "{:?}", common::error_of(&r));
    let result: pramaan_core::claims::AttestResult = env.verify_answer(&r.body);
    assert_eq!(
        result.status,
        Verdict::Contraindicated,
        "{:?}",
        result.failures
    );
    a.next_nonce = result.next_nonce;
    env.attest_ok(&mut b);
    (env, a, b)
}

fn entries(conn: &rusqlite::Connection) -> Vec<LogEntry> {
    audit_log::entries(conn, 0, u64::MAX / 2)
        .expect("entries")
        .into_iter()
        .map(|(_, leaf)| LogEntry::from_leaf(&leaf).expect("entry"))
        .collect()
}

fn log_signer(dir: &Path) -> LogSigner {
    let vkey = std::fs::read_to_string(dir.join("log.vkey")).expect("log.vkey");
    VerifierKey::parse(vkey.trim()).expect("vkey");
    // `<name>+<hex id>+<key>`: the name is the log's origin.
    let origin = vkey.trim().split('+').next().expect("name").to_string();
    LogSigner::new(
        origin,
        ServerKey::load(&dir.join("log.key")).expect("log.key"),
    )
}

#[test]
fn forgeries_written_into_the_database_and_re_signed_are_named_by_audit_verify() {
    let (mut env, a, b) = honest_server();
    let admin = env.admin_token.clone();
    let before = {
        let log = env.client_with(&admin);
        let r = log.get("/v1/audit/checkpoint").expect("checkpoint");
        String::from_utf8(r.body).expect("utf8")
    };
    env.stop();
    let dir = env.data_dir().to_path_buf();
    let mut conn = rusqlite::Connection::open(dir.join("pramaan.db")).expect("db");
    let honest = entries(&conn);
    let attestation_of = |device: uuid::Uuid, verdict: Verdict| {
        honest
            .iter()
            .position(|e| {
                matches!(e, LogEntry::Attestation { device_id, verdict: v, .. }
                    if *device_id == device && *v == verdict)
            })
            .expect("attestation")
    };
    let a_ok = attestation_of(a.id, Verdict::Warning);
    let a_bad = attestation_of(a.id, Verdict::Contraindicated);
    let b_ok = attestation_of(b.id, Verdict::Warning);

    // The rewritten log: the contraindicated verdict turned affirming in place, then
    // a replay of GAD-001's good token an hour later, the same token relabelled as
    // REV-001's, and GAD-002's entry duplicated.
    let mut forged = honest.clone();
    if let LogEntry::Attestation {
        verdict, failures, ..
    } = &mut forged[a_bad]
    {
        *verdict = Verdict::Affirming;
        failures.clear();
    }
    let mut replayed = honest[a_ok].clone();
    if let LogEntry::Attestation { at, .. } = &mut replayed {
        *at += 3600;
    }
    let mut relabelled = honest[a_ok].clone();
    if let LogEntry::Attestation {
        officer_id,
        department,
        at,
        ..
    } = &mut relabelled
    {
        *officer_id = "REV-001".into();
        *department = "REV".into();
        *at += 3600;
    }
    let n = forged.len();
    forged.extend([replayed, relabelled, honest[b_ok].clone()]);
    conn.execute_batch("DELETE FROM audit_log_leaves; DELETE FROM audit_log_nodes;")
        .expect("wipe");
    let tx = conn.transaction().expect("tx");
    for e in &forged {
        audit_log::append(&tx, e).expect("append");
    }
    tx.commit().expect("commit");

    // Signed with the log's own key: every proof and device signature holds.
    let signer = log_signer(&dir);
    let bundle =
        audit_log::build_bundle_from_db(&conn, &signer, &BuildOptions::default()).expect("bundle");
    drop(conn);
    let out_dir = tempfile::tempdir().expect("dir");
    let file = out_dir.path().join("forged.cbor");
    std::fs::write(&file, bundle.to_bytes()).expect("write");
    let vkey = dir.join("log.vkey");
    let o = pramaan(&[
        "audit",
        "verify",
        file.to_str().unwrap(),
        "--log-key",
        vkey.to_str().unwrap(),
    ]);
    let said = text(&o);
    assert!(!o.status.success(), "a forged log verified:\n{said}");
    assert!(said.contains("NOT VERIFIED"), "{said}");
    for (index, what) in [
        (a_bad, "recomputed contraindicated"),
        (n, "entry"),
        (n + 1, "REV-001"),
        (n + 2, "entry"),
    ] {
        let named: Vec<&str> = said
            .lines()
            .filter(|l| l.contains(&format!("entry {index}:")))
            .collect();
        assert!(
            named.iter().any(|l| l.contains(what)),
            "entry {index} is not named for {what:?}:\n{said}"
        );
    }
    // No honest entry is accused.
    for line in said
        .lines()
        .filter(|l| l.trim_start().starts_with("entry "))
    {
        let index: usize = line.trim_start()["entry ".len()..]
            .split(':')
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(usize::MAX);
        assert!(
            [a_bad, n, n + 1, n + 2].contains(&index),
            "an honest entry accused: {line}\n{said}"
        );
    }

    // The server, restarted on the forged database, signs nothing new: it serves the
    // last checkpoint it signed honestly.
    env.restart();
    let r = env
        .client_with(&admin)
        .get("/v1/audit/checkpoint")
        .expect("checkpoint");
    assert_eq!(String::from_utf8(r.body).expect("utf8"), before);
}

#[test]
fn audit_show_prints_the_inputs_in_force_and_a_verdict_recomputed_equal_to_the_logged_one() {
    let (env, a, _b) = honest_server();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("b.cbor");
    let pin = pramaan_core::transport::b64url(&env.server().pin);
    let o = pramaan(&[
        "audit",
        "pull",
        "--server",
        env.url(),
        "--token",
        &env.admin_token,
        "--pin",
        &pin,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let vkey = env.data_dir().join("log.vkey");
    let o = pramaan(&[
        "audit",
        "verify",
        file.to_str().unwrap(),
        "--log-key",
        vkey.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // The registry import and the roster upload are entries of the log.
    let conn = rusqlite::Connection::open(env.data_dir().join("pramaan.db")).expect("db");
    let log = entries(&conn);
    assert!(
        log.iter()
            .any(|e| matches!(e, LogEntry::RegistryImport { officers, .. } if officers.len() == 3))
    );
    assert!(
        log.iter()
            .any(|e| matches!(e, LogEntry::RosterSet { group, .. } if group == common::GAD_GROUP))
    );
    let last_a = log
        .iter()
        .rposition(|e| matches!(e, LogEntry::Attestation { device_id, .. } if *device_id == a.id))
        .expect("attestation");

    let o = pramaan(&[
        "audit",
        "show",
        file.to_str().unwrap(),
        "--log-key",
        vkey.to_str().unwrap(),
        "--state-at",
        &last_a.to_string(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let registry = v["registry"].as_array().expect("registry");
    assert!(
        registry
            .iter()
            .any(|o| o["officer_id"] == "GAD-001" && o["email"] == "a.shah@gujarat.gov.in"),
        "{v}"
    );
    let rosters = v["rosters"].as_array().expect("rosters");
    assert!(
        rosters.iter().any(|r| r["group"] == common::GAD_GROUP
            && r["handles"].as_array().is_some_and(|h| !h.is_empty())),
        "{v}"
    );
    assert_eq!(v["recomputed"]["verdict"], "contraindicated", "{v}");
    assert_eq!(v["recomputed"]["equal"], true, "{v}");
}

#[test]
fn a_cancellation_verifies_and_an_enrollment_forged_after_it_is_named_by_audit_verify() {
    let mut env = common::start();
    env.seed();
    let cancelled = env.enrollment_token("GAD-002");
    let r = env.cancel_enrollment_token(&cancelled);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    env.enroll("GAD-001");
    env.stop();
    let dir = env.data_dir().to_path_buf();
    let vkey = dir.join("log.vkey");
    let out_dir = tempfile::tempdir().expect("dir");
    let verify = |conn: &rusqlite::Connection, name: &str| {
        let bundle =
            audit_log::build_bundle_from_db(conn, &log_signer(&dir), &BuildOptions::default())
                .expect("bundle");
        let file = out_dir.path().join(name);
        std::fs::write(&file, bundle.to_bytes()).expect("write");
        let args = ["--log-key", vkey.to_str().unwrap()];
        let verified = pramaan(&[&["audit", "verify", file.to_str().unwrap()], &args[..]].concat());
        let shown = pramaan(&[&["audit", "show", file.to_str().unwrap()], &args[..]].concat());
        (verified, text(&shown))
    };

    // The honest log with the cancellation verifies, and `audit show` prints it.
    let mut conn = rusqlite::Connection::open(dir.join("pramaan.db")).expect("db");
    let (o, shown) = verify(&conn, "honest.cbor");
    assert!(o.status.success(), "{}", text(&o));
    let mut lines = shown
        .lines()
        .skip_while(|l| !l.contains("enroll_token_cancelled"));
    let (row, summary) = (lines.next(), lines.next());
    assert!(row.is_some_and(|l| l.contains("GAD-002")), "{shown}");
    assert!(
        summary.is_some_and(|l| l.contains("cancelled by admin:")),
        "{shown}"
    );

    // A device enrolled with the cancelled token, written into the database and signed
    // with the log's own key: named by its index.
    let honest = entries(&conn);
    let mut forged = honest
        .iter()
        .find(|e| matches!(e, LogEntry::Enrollment { .. }))
        .expect("an enrollment")
        .clone();
    if let LogEntry::Enrollment {
        at,
        officer_id,
        device_id,
        request,
        ..
    } = &mut forged
    {
        *at += 1;
        *officer_id = "GAD-002".into();
        *device_id = uuid::Uuid::new_v4();
        let signer = pramaan_core::keys::SoftwareSigner::generate().expect("key");
        *request = common::enroll_request(&signer, &cancelled, &[7; 32]);
    }
    let index = honest.len();
    let tx = conn.transaction().expect("tx");
    audit_log::append(&tx, &forged).expect("append");
    tx.commit().expect("commit");
    let (o, _) = verify(&conn, "forged.cbor");
    let said = text(&o);
    assert!(!o.status.success(), "a forged log verified:\n{said}");
    let named: Vec<&str> = said
        .lines()
        .filter(|l| l.trim_start().starts_with("entry "))
        .collect();
    assert_eq!(named.len(), 1, "{said}");
    assert!(
        named[0].contains(&format!("entry {index}:")) && named[0].contains("cancelled at entry"),
        "{said}"
    );
}
