#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! The audit log through a real server over TLS: the server logs what it accepts (policy
//! changes, enrollments, attestations, a revocation), an auditor runs
//! `pramaan audit pull` against the four audit endpoints, and `pramaan audit verify`
//! checks the bundle offline with `DATA/log.vkey`; later, after more attestations, a
//! second pull with `--since` proves the log only grew. A tampered bundle is refused with
//! the entry named, and an IT token may not read the log.

use pramaan_testkit as common;

use clap::Parser as _;
use pramaan_cli::{self as cli, Cli};
use pramaan_server::audit_log::bundle::{Bundle, verify_bundle};

fn run(args: &[&str]) -> Result<(), String> {
    let cli = Cli::try_parse_from(std::iter::once("pramaan").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli::run(cli).map_err(|e| e.0)
}

#[test]
fn pull_and_verify_against_a_running_server() {
    let env = common::start();
    env.seed();
    let mut a = env.enroll("GAD-001");
    let mut b = env.enroll("GAD-002");
    for _ in 0..3 {
        env.attest_ok(&mut a);
        env.attest_ok(&mut b);
    }
    let r = env
        .admin()
        .post(
            &format!("/v1/devices/{}/revoke", b.id),
            "application/json",
            br#"{"reason":"reported lost"}"#,
        )
        .expect("revoke");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let auditor = env.token("auditor", None);
    let pin = pramaan_core::transport::b64url(&env.server().pin);
    let out = env.dir.path().join("bundle.cbor");
    let kept = env.dir.path().join("checkpoint.txt");
    let vkey = env.dir.path().join("log.vkey");
    // `--flag=value`: tokens and pins are base64url and may begin with '-'.
    let server_arg = format!("--server={}", env.server().url);
    let token_arg = format!("--token={auditor}");
    let pin_arg = format!("--pin={pin}");
    let conn = [server_arg.as_str(), token_arg.as_str(), pin_arg.as_str()];
    let mut pull = vec!["audit", "pull"];
    pull.extend(conn);
    pull.extend([
        "--out",
        out.to_str().unwrap(),
        "--save-checkpoint",
        kept.to_str().unwrap(),
    ]);
    run(&pull).expect("pull");

    // policy x2, enrollments x2, attestations x6, revocation x1, and the verdict inputs:
    // admin and auditor tokens x2, registry import x1, enrollment tokens x2
    let bytes = std::fs::read(&out).expect("bundle");
    let key = std::fs::read_to_string(&vkey).expect("vkey");
    let s = verify_bundle(&bytes, key.trim(), None).expect("verifies");
    assert_eq!(
        (
            s.entries,
            s.enrollments,
            s.attestations,
            s.revocations,
            s.policy_changes
        ),
        (16, 2, 6, 1, 2)
    );
    assert_eq!(s.devices, 2);
    run(&[
        "audit",
        "verify",
        out.to_str().unwrap(),
        "--log-key",
        vkey.to_str().unwrap(),
    ])
    .expect("verify command");

    // More happens; a pull of only the new entries with --since proves the log grew.
    let old_size = s.size;
    for _ in 0..2 {
        env.attest_ok(&mut a);
    }
    let out2 = env.dir.path().join("bundle2.cbor");
    let start = old_size.to_string();
    let mut pull2 = vec!["audit", "pull"];
    pull2.extend(conn);
    pull2.extend([
        "--out",
        out2.to_str().unwrap(),
        "--start",
        start.as_str(),
        "--since",
        kept.to_str().unwrap(),
    ]);
    run(&pull2).expect("pull --since");
    let b2 = Bundle::from_bytes(&std::fs::read(&out2).expect("bundle")).expect("parse");
    assert_eq!((b2.start, b2.end), (old_size, old_size + 2));
    assert_eq!(
        b2.enrollments.len(),
        1,
        "device a's enrollment carried for its key"
    );
    run(&[
        "audit",
        "verify",
        out2.to_str().unwrap(),
        "--log-key",
        vkey.to_str().unwrap(),
        "--since",
        kept.to_str().unwrap(),
    ])
    .expect("verify --since");

    // Tampering is refused, naming the entry.
    let mut t = b2.clone();
    let last = t.entries.len() - 1;
    t.entries[last].leaf[30] ^= 1;
    std::fs::write(&out2, t.to_bytes()).expect("write");
    let err = run(&[
        "audit",
        "verify",
        out2.to_str().unwrap(),
        "--log-key",
        vkey.to_str().unwrap(),
    ])
    .expect_err("tampered");
    assert!(err.contains(&format!("entry {}", old_size + 1)), "{err}");

    // IT users may not read the audit log; bad ranges are 400s.
    let it = env.token("it", Some("GAD"));
    let r = env
        .client_with(&it)
        .get("/v1/audit/checkpoint")
        .expect("get");
    assert_eq!(r.status, 403);
    let r = env
        .client_with(&auditor)
        .get("/v1/audit/proof/inclusion?index=5&size=1000")
        .expect("get");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let r = env
        .client_with(&auditor)
        .get("/v1/audit/entries?start=0&end=100000")
        .expect("get");
    assert_eq!(r.status, 200);
}
