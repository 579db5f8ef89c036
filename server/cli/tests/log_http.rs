#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! The audit log through a real server over TLS: the server logs what it accepts (policy
//! changes, enrollments, attestations, a revocation), an auditor runs
//! `pramaan audit pull` against the audit endpoints, and `pramaan audit verify`
//! checks the bundle offline with `DATA/log.vkey`; later, after more attestations, a
//! second pull with `--since` alone fetches only the new entries (with the enrollments
//! they need) and proves the log only grew; the first, older bundle checked against the
//! newer checkpoint passes and says it is older. A tampered bundle is refused, an earlier
//! checkpoint that is larger than the log, of another log or of the same size with
//! another root is refused by `pull` with what it may mean, and an IT token may not read
//! the log. A log of ~60 KiB entries is served in byte-bounded pages and still pulls.

use pramaan_testkit as common;

use clap::Parser as _;
use pramaan_cli::{self as cli, Cli};
use pramaan_server::audit_log::LogEntry;
use pramaan_server::audit_log::bundle::{Bundle, verify_bundle};
use pramaan_server::store::{StoreError, transaction};

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
    let kept2 = env.dir.path().join("checkpoint2.txt");
    let mut pull2 = vec!["audit", "pull"];
    pull2.extend(conn);
    pull2.extend([
        "--out",
        out2.to_str().unwrap(),
        "--since",
        kept.to_str().unwrap(),
        "--save-checkpoint",
        kept2.to_str().unwrap(),
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

    // The first (older) bundle against the newer checkpoint: no "shrank" alarm.
    let s = verify_bundle(
        &bytes,
        key.trim(),
        Some(&std::fs::read_to_string(&kept2).expect("cp")),
    )
    .expect("older bundle verifies");
    assert_eq!(s.older_than_since, Some(old_size + 2));
    for format in ["text", "json"] {
        run(&[
            "audit",
            "verify",
            out.to_str().unwrap(),
            "--log-key",
            vkey.to_str().unwrap(),
            "--since",
            kept2.to_str().unwrap(),
            "--format",
            format,
        ])
        .expect("verify an older bundle --since a newer checkpoint");
    }

    // Earlier checkpoints the server's log cannot extend: refused, saying what it may mean.
    let note = std::fs::read_to_string(&kept2).expect("cp");
    let lines: Vec<String> = note.lines().map(str::to_string).collect();
    let size_now = old_size + 2;
    let edited = |line: usize, value: String| {
        let mut l = lines.clone();
        l[line] = value;
        let path = env.dir.path().join(format!("edited-{line}.txt"));
        std::fs::write(&path, l.join("\n") + "\n").expect("write");
        path
    };
    let cases = [
        (edited(1, (size_now + 50).to_string()), "older backup"),
        (edited(0, "another.example/log".into()), "another log"),
        (edited(2, format!("{}Bwc=", "BwcH".repeat(10))), "fork"),
    ];
    for (path, meaning) in cases {
        let mut p = vec!["audit", "pull"];
        p.extend(conn);
        let out3 = env.dir.path().join("bundle3.cbor");
        p.extend([
            "--out",
            out3.to_str().unwrap(),
            "--since",
            path.to_str().unwrap(),
        ]);
        let err = run(&p).expect_err("must be refused");
        assert!(err.contains(meaning), "{err}");
        assert!(!err.contains("Semantic") && !err.contains("{ "), "{err}");
    }

    // Tampering is refused: the range proof no longer matches.
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
    assert!(
        err.contains("NOT VERIFIED") && err.contains("range proof"),
        "{err}"
    );

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
    for bad in [
        "/v1/audit/proof/range?start=3&end=3&size=5",
        "/v1/audit/proof/range?start=0&end=6&size=5",
        "/v1/audit/proof/range?start=0&end=2&size=100000",
    ] {
        let r = env.client_with(&auditor).get(bad).expect("get");
        assert_eq!(r.status, 400, "{bad}: {}", String::from_utf8_lossy(&r.body));
    }
    let too_many = serde_json::json!({"size": 3, "indices": vec![0; 1001]});
    let r = env
        .client_with(&auditor)
        .post(
            "/v1/audit/proof/inclusions",
            "application/json",
            too_many.to_string().as_bytes(),
        )
        .expect("post");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let r = env
        .client_with(&auditor)
        .post(
            "/v1/audit/proof/inclusions",
            "application/json",
            b"{\"size\":",
        )
        .expect("post");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    // The enrollment lookup is bounded the same way, and refuses what is not device ids.
    let devices: Vec<String> = (0..1001u128)
        .map(|i| uuid::Uuid::from_u128(i).to_string())
        .collect();
    for body in [
        serde_json::json!({"before": 3, "devices": devices}),
        serde_json::json!({"before": 3, "devices": ["not-a-uuid"]}),
    ] {
        let r = env
            .client_with(&auditor)
            .post(
                "/v1/audit/enrollments",
                "application/json",
                body.to_string().as_bytes(),
            )
            .expect("post");
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    }
}

#[test]
fn a_log_of_large_entries_is_served_in_byte_bounded_pages_and_pulls() {
    let env = common::start();
    // Large but meaningful entries (the server replays its log before it signs): API
    // tokens with long labels, written now.
    let now = common::now();
    let big: Vec<LogEntry> = (0..150)
        .map(|i| LogEntry::ApiTokenIssued {
            at: now,
            role: "auditor".into(),
            department: None,
            label: format!("{i}-{}", "p".repeat(60 << 10)),
            token_hash: vec![0; 32],
        })
        .collect();
    transaction(
        env.server().store().as_ref(),
        |tx| -> Result<(), StoreError> {
            for e in &big {
                tx.append_log(e)?;
            }
            Ok(())
        },
    )
    .expect("append");
    let auditor = env.token("auditor", None);
    let page = |q: &str| -> serde_json::Value {
        let r = env
            .client_with(&auditor)
            .get(&format!("/v1/audit/entries?{q}"))
            .expect("get");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).expect("json")
    };
    // The server's budget (4 MiB of leaf data): about 68 entries of 60 KiB, not 150.
    let v = page("start=0&end=1000");
    let n = v["entries"].as_array().expect("entries").len() as u64;
    assert!((60..=70).contains(&n), "{n} entries");
    assert_eq!(v["next"], n);
    // A smaller budget asked for by the client; at least one entry even if it is larger.
    let v = page("start=5&end=1000&max_bytes=130000");
    assert_eq!(v["entries"].as_array().expect("entries").len(), 2);
    assert_eq!(v["next"], 7);
    let v = page("start=5&end=1000&max_bytes=1");
    assert_eq!(v["entries"].as_array().expect("entries").len(), 1);

    let pin = pramaan_core::transport::b64url(&env.server().pin);
    let out = env.dir.path().join("big.cbor");
    let server_arg = format!("--server={}", env.server().url);
    let token_arg = format!("--token={auditor}");
    let pin_arg = format!("--pin={pin}");
    run(&[
        "audit",
        "pull",
        server_arg.as_str(),
        token_arg.as_str(),
        pin_arg.as_str(),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect("pull of large entries");
    let key = std::fs::read_to_string(env.dir.path().join("log.vkey")).expect("vkey");
    let s =
        verify_bundle(&std::fs::read(&out).expect("bundle"), key.trim(), None).expect("verifies");
    assert!(s.other_inputs >= 150, "{s:?}");

    // The auditor may ask for smaller pages: the same bundle, in more requests.
    let small = env.dir.path().join("small-pages.cbor");
    run(&[
        "audit",
        "pull",
        server_arg.as_str(),
        token_arg.as_str(),
        pin_arg.as_str(),
        "--page-bytes",
        "100000",
        "--out",
        small.to_str().unwrap(),
    ])
    .expect("pull in small pages");
    assert_eq!(
        std::fs::read(&small).expect("bundle"),
        std::fs::read(&out).expect("bundle")
    );
    let err = run(&["audit", "pull", "--page-bytes", "0", "--out", "x"]).expect_err("zero");
    assert!(err.contains("page-bytes"), "{err}");
}
