//! The core agent against the real server over TLS: enrollment, check-ins, rule failures
//! reaching the compliance view, the offline outbox across a server outage, and a wrong
//! pin refused before any byte of the request leaves the device.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use pramaan_core::agent::{Agent, AgentError, CheckIn, Facts};
use pramaan_core::claims::{Attestation, Verdict};
use pramaan_core::cose::Sign1;
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::keys::SoftwareSigner;
use pramaan_core::policy::Rule;
use pramaan_core::transport::TransportError;
use pramaan_testkit::{facts_toml, gad_facts, options};

fn agent(dir: &std::path::Path) -> Agent {
    let signer = SoftwareSigner::load_or_generate(&dir.join("device.key")).expect("key");
    Agent::open_with(dir, Arc::new(signer), options()).expect("agent opens")
}

fn compliant() -> Facts {
    gad_facts()
}

fn officer_entry(report: &serde_json::Value, officer_id: &str) -> serde_json::Value {
    report["officers"]
        .as_array()
        .expect("officers array")
        .iter()
        .find(|o| o["officer_id"] == officer_id)
        .cloned()
        .unwrap_or_else(|| panic!("{officer_id} not in {report}"))
}

fn rules(v: &serde_json::Value) -> Vec<String> {
    v["failures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["rule"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn enroll_check_in_and_a_failing_rule_reaches_compliance() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent(dir.path());

    let e = agent
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls");
    assert_eq!(e.officer_id, "GAD-001");
    assert_eq!(e.department, "GAD");
    let again = agent.enroll(&server.enrollment_uri("GAD-001"), &compliant(), None);
    assert!(matches!(again, Err(AgentError::AlreadyEnrolled(id)) if id == e.device_id));

    // Compliant facts: only the software key (R5, a warning) stands out on Android.
    let CheckIn::Delivered { result, local, .. } = agent.check_in(&compliant()).expect("check in")
    else {
        panic!("server is up: expected Delivered")
    };
    assert_eq!(result.device_id, e.device_id);
    assert_eq!(result.seq, 1);
    assert_eq!(result.status, Verdict::Warning, "{result:?}");
    assert!(
        result.failures.iter().all(|f| f.rule == Rule::R5),
        "{result:?}"
    );
    assert_eq!(local.verdict, result.status, "device and server agree");
    let report = server.compliance("GAD");
    let me = officer_entry(&report, "GAD-001");
    assert_eq!(me["status"], "warning", "{me}");
    assert_eq!(officer_entry(&report, "GAD-002")["status"], "not_enrolled");

    // A private email account: R1 fails, on the device and on the server.
    let mut facts = compliant();
    facts.emails.push("asha.shah@gmail.com".into());
    let CheckIn::Delivered { result, local, .. } = agent.check_in(&facts).expect("check in") else {
        panic!("expected Delivered")
    };
    assert_eq!(result.seq, 2);
    assert_eq!(result.status, Verdict::Contraindicated);
    let r1 = result
        .failures
        .iter()
        .find(|f| f.rule == Rule::R1)
        .expect("R1 failure");
    assert!(r1.detail.contains("gmail.com"), "{r1:?}");
    assert!(local.failures.iter().any(|f| f.rule == Rule::R1));
    let me = officer_entry(&server.compliance("GAD"), "GAD-001");
    assert_eq!(me["status"], "noncompliant", "{me}");
    assert!(rules(&me).contains(&"R1".to_string()), "{me}");

    let status = agent.status().expect("status");
    assert!(status.enrolled);
    assert_eq!(status.last_seq, 2);
    assert_eq!(status.pending, 0);
    assert_eq!(
        status.last_result.as_ref().map(|r| r.status),
        Some(Verdict::Contraindicated)
    );
}

#[test]
fn outage_queues_attestations_and_delivers_each_once_in_order() {
    let mut server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent(dir.path());
    let e = agent
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls");
    assert!(matches!(
        agent.check_in(&compliant()).expect("online"),
        CheckIn::Delivered { seq: 1, .. }
    ));

    server.stop();
    let mut queued = Vec::new();
    for i in 0..4 {
        let mut facts = compliant();
        facts.patch_level = format!("2026-10-0{i}");
        match agent.check_in(&facts).expect("check in while down") {
            CheckIn::Queued {
                seq,
                token,
                pending,
                ..
            } => {
                assert_eq!(pending, i + 1);
                queued.push((seq, token));
            }
            other => panic!("server is down: {other:?}"),
        }
    }
    assert!(agent.flush_outbox().expect_err("still down").is_transient());
    assert_eq!(agent.status().expect("status").pending, 4);

    server.restart();
    let CheckIn::Delivered {
        seq,
        flushed,
        result,
        ..
    } = agent.check_in(&compliant()).expect("back online")
    else {
        panic!("server is up again: expected Delivered")
    };
    assert_eq!(flushed, 4);
    // The first check-in of the outage tried online with the stored nonce and spent its
    // number (the token might have left); the queued ones follow it.
    let queued_seqs: Vec<u64> = queued.iter().map(|(s, _)| *s).collect();
    assert_eq!(queued_seqs, vec![3, 4, 5, 6]);
    assert_eq!(seq, 7);
    assert_eq!(result.seq, 7);
    assert_eq!(agent.status().expect("status").pending, 0);
    assert_eq!(agent.flush_outbox().expect("nothing left"), 0);

    // Server side: every attestation exactly once, in sequence order, and the queued ones
    // are byte for byte the claims the device signed while offline.
    let stored = server.stored_attestations(&e.device_id);
    let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, vec![1, 3, 4, 5, 6, 7]);
    for (seq, token) in &queued {
        let sign1 = Sign1::parse(token).expect("cose");
        let (_, claims) = stored.iter().find(|(s, _)| s == seq).expect("stored");
        assert_eq!(claims.as_slice(), sign1.unverified_payload(), "seq {seq}");
        let parsed = Attestation::from_cbor(claims).expect("claims");
        assert_eq!(parsed.nonce, None, "queued attestations are offline ones");
    }
    let officer = server.officer("GAD-001");
    assert!(officer.to_string().contains(&e.device_id.to_string()));
}

/// A phone that stays offline longer than the policy allows: the queued check-ins beyond
/// the run the policy accepts are refused for good, counted as dropped (not taken as
/// delivered), and the officer sees the outage; the next online check-in recovers.
#[test]
fn offline_run_beyond_the_policy_is_dropped_and_counted() {
    let mut server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent(dir.path());
    let e = agent
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls");
    let limit = pramaan_core::model::EvidencePolicy::default().max_offline_run as usize;
    server.stop();
    for _ in 0..=limit {
        assert!(matches!(
            agent.check_in(&compliant()).expect("queued"),
            CheckIn::Queued { .. }
        ));
    }
    server.restart();
    assert_eq!(agent.flush_outbox().expect("flushed"), limit + 1);
    let status = agent.status().expect("status");
    assert_eq!((status.pending, status.dropped), (0, 1), "{status:?}");
    let stored = server.stored_attestations(&e.device_id);
    assert_eq!(stored.len(), limit, "only the accepted run is stored");
    let me = officer_entry(&server.compliance("GAD"), "GAD-001");
    assert_eq!(me["status"], "warning", "{me}");
    assert!(
        me["failures"]
            .to_string()
            .contains("no fresh server challenge since"),
        "{me}"
    );
    // Back online: a fresh challenge clears the outage; what is left is the software key
    // (an R5 warning: the test department accepts software keys).
    assert!(matches!(
        agent.check_in(&compliant()).expect("online"),
        CheckIn::Delivered { .. }
    ));
    let me = officer_entry(&server.compliance("GAD"), "GAD-001");
    assert_eq!(rules(&me), vec!["R5".to_string()], "{me}");
    assert!(
        !me["failures"]
            .to_string()
            .contains("no fresh server challenge"),
        "{me}"
    );
    assert_eq!(
        (&me["platform"], &me["assurance"]),
        (&"android".into(), &"software".into())
    );
}

/// A laptop is not the official phone: the desktop agent under a department's default
/// (strict) policy is noncompliant with the reason in words; under a policy that lists
/// desktop and software assurance it is compliant, and every report (JSON, CSV, the
/// officer's page) says it is a desktop with a software key.
#[test]
fn a_desktop_agent_passes_only_where_the_policy_lists_desktop() {
    let server = pramaan_testkit::start();
    server.seed();
    let desktop = |email: &str, group: &str, handle: &str| Facts {
        platform: pramaan_core::claims::Platform::Desktop,
        model: "Samsung Galaxy A54 5G".into(), // self-declared: proves nothing
        emails: vec![email.into()],
        groups: vec![pramaan_testkit::whatsapp_group(group, handle)],
        ..compliant()
    };

    // REV keeps the strict default: hardware keys, android and ios only.
    let rev_dir = tempfile::tempdir().expect("tempdir");
    let rev = agent(rev_dir.path());
    let rev_facts = desktop("c.desai@gujarat.gov.in", "rev-officers", "+919800000003");
    rev.enroll(&server.enrollment_uri("REV-001"), &rev_facts, None)
        .expect("enrolls: the evidence rule judges, it does not refuse");
    let CheckIn::Delivered { result, local, .. } = rev.check_in(&rev_facts).expect("check in")
    else {
        panic!("server is up")
    };
    assert_eq!(
        result.status,
        Verdict::Contraindicated,
        "{:?}",
        result.failures
    );
    assert!(
        result
            .failures
            .iter()
            .any(|f| f.rule == Rule::R2
                && f.detail.contains("desktop agent (a computer, not a phone)")),
        "{:?}",
        result.failures
    );
    assert_eq!(
        local.verdict,
        Verdict::Contraindicated,
        "the agent knows it too"
    );
    let me = officer_entry(&server.compliance("REV"), "REV-001");
    assert_eq!(me["status"], "noncompliant", "{me}");
    assert_eq!(
        (&me["platform"], &me["assurance"]),
        (&"desktop".into(), &"software".into())
    );
    assert!(me["failures"].to_string().contains("not a phone"), "{me}");

    // GAD's test policy lists desktop and software: compliant, and said so everywhere.
    let gad_dir = tempfile::tempdir().expect("tempdir");
    let gad = agent(gad_dir.path());
    let gad_facts = desktop("a.shah@gujarat.gov.in", "gad-officers", "+919800000001");
    gad.enroll(&server.enrollment_uri("GAD-001"), &gad_facts, None)
        .expect("enrolls");
    let CheckIn::Delivered { result, .. } = gad.check_in(&gad_facts).expect("check in") else {
        panic!("server is up")
    };
    assert_eq!(result.status, Verdict::Affirming, "{:?}", result.failures);
    let me = officer_entry(&server.compliance("GAD"), "GAD-001");
    assert_eq!(me["status"], "compliant", "{me}");
    assert_eq!(
        (&me["platform"], &me["assurance"]),
        (&"desktop".into(), &"software".into())
    );
    assert_eq!(me["device_evidence"], "none (software key)", "{me}");
    let csv = server
        .admin()
        .get("/v1/compliance?department=GAD&format=csv")
        .expect("csv");
    let csv = String::from_utf8_lossy(&csv.body).to_string();
    let line = csv
        .lines()
        .find(|l| l.starts_with("GAD-001,"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        line.contains(",desktop,software,none (software key),"),
        "{line}"
    );
    let page = server.officer("GAD-001");
    assert_eq!(page["compliance"]["platform"], "desktop", "{page}");
    assert_eq!(page["compliance"]["assurance"], "software", "{page}");
    assert_eq!(page["devices"][0]["evidence"]["kind"], "none", "{page}");
}

/// A platform layer's evidence, recorded: what it was asked for.
#[derive(Default)]
struct RecordingEvidence {
    fresh_asked: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl pramaan_core::agent::EvidenceSource for RecordingEvidence {
    fn key_evidence(
        &self,
        _challenge: &[u8],
        _device_key: &pramaan_core::keys::P256PublicKey,
    ) -> Result<Option<pramaan_core::claims::Evidence>, AgentError> {
        Ok(None)
    }

    fn fresh_evidence(
        &self,
        challenge: &[u8],
    ) -> Result<Option<pramaan_core::claims::Evidence>, AgentError> {
        self.fresh_asked.lock().unwrap().push(challenge.to_vec());
        // Not a chain that verifies: the server must record it as failed evidence.
        Ok(Some(
            pramaan_core::claims::Evidence::AndroidKeyAttestation {
                chain: vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]],
            },
        ))
    }
}

/// Re-attestation: IT asks one device for fresh evidence (its own department only); the
/// answer to the next check-in carries the request; the agent asks its platform layer
/// for evidence bound to that check-in's nonce and sends it; the server judges it and
/// the reports show it. The desktop agent can only answer without evidence, so the
/// server keeps asking.
#[test]
fn it_asks_for_fresh_evidence_and_the_agent_answers_with_its_platform() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Arc::new(RecordingEvidence::default());
    let signer = SoftwareSigner::load_or_generate(&dir.path().join("device.key")).expect("key");
    let phone = Agent::open_with(dir.path(), Arc::new(signer), options())
        .expect("agent")
        .with_evidence(source.clone());
    let e = phone
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls");
    let CheckIn::Delivered { result, .. } = phone.check_in(&compliant()).expect("check in") else {
        panic!("up")
    };
    assert!(!result.reattest);

    let path = format!("/v1/devices/{}/reattest", e.device_id);
    // Another department's IT hears "no device" (as for an id that does not exist, see
    // server/tests/closed.rs); an auditor may not ask at all.
    for (role, dept, status) in [("it", Some("REV"), 404), ("auditor", None, 403)] {
        let r = server
            .client_with(&server.token(role, dept))
            .post(&path, "application/json", b"{}")
            .expect("post");
        assert_eq!(r.status, status, "{role} {dept:?} may not ask");
    }
    let r = server
        .client_with(&server.token("it", Some("GAD")))
        .post(&path, "application/json", b"{}")
        .expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let CheckIn::Delivered { result, .. } = phone.check_in(&compliant()).expect("check in") else {
        panic!("up")
    };
    assert!(result.reattest, "the answer asks for fresh evidence");
    assert!(phone.status().expect("status").reattest_requested);
    assert!(
        source.fresh_asked.lock().unwrap().is_empty(),
        "asked only after the answer"
    );

    let CheckIn::Delivered { token, result, .. } = phone.check_in(&compliant()).expect("check in")
    else {
        panic!("up")
    };
    let sent = Attestation::from_cbor(Sign1::parse(&token).expect("cose").unverified_payload())
        .expect("claims");
    let asked = source.fresh_asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        vec![sent.nonce.clone().expect("online")],
        "bound to this nonce"
    );
    assert!(
        sent.evidence.is_some(),
        "the fresh evidence went with the attestation"
    );
    assert!(!result.reattest, "the request was served");
    assert!(
        result.failures.iter().any(|f| f
            .detail
            .contains("key attestation did not verify: fresh key attestation")),
        "{:?}",
        result.failures
    );
    let me = officer_entry(&server.compliance("GAD"), "GAD-001");
    assert!(
        me["device_evidence"]
            .as_str()
            .unwrap_or("")
            .contains("did not verify: fresh key attestation"),
        "{me}"
    );

    // The desktop agent (no platform evidence) answers without: the server keeps asking.
    let ddir = tempfile::tempdir().expect("tempdir");
    let desktop = agent(ddir.path());
    let facts = Facts {
        platform: pramaan_core::claims::Platform::Desktop,
        emails: vec!["b.patel@gujarat.gov.in".into()],
        groups: vec![pramaan_testkit::whatsapp_group(
            "gad-officers",
            "+919800000002",
        )],
        ..compliant()
    };
    let d = desktop
        .enroll(&server.enrollment_uri("GAD-002"), &facts, None)
        .expect("enrolls");
    let r = server
        .admin()
        .post(
            &format!("/v1/devices/{}/reattest", d.device_id),
            "application/json",
            b"{}",
        )
        .expect("post");
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        let CheckIn::Delivered { result, .. } = desktop.check_in(&facts).expect("check in") else {
            panic!("up")
        };
        assert!(result.reattest, "still asked: no evidence came");
    }
}

#[test]
fn wrong_pin_is_refused_before_anything_is_sent() {
    let server = pramaan_testkit::start();
    server.seed();
    let good = server.enrollment_uri("GAD-001");
    let mut uri = EnrollmentUri::parse(&good).expect("uri");
    uri.pin[0] ^= 0xff;
    let bad = uri.to_string();

    let before = server.request_count();
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent(dir.path());
    let err = agent
        .enroll(&bad, &compliant(), None)
        .expect_err("wrong pin must fail");
    assert!(
        matches!(
            err,
            AgentError::Transport(TransportError::PinMismatch { .. })
        ),
        "{err:?}"
    );
    assert!(!agent.status().expect("status").enrolled);
    // `request_count` itself goes through /metrics, which it does not count.
    assert_eq!(server.request_count(), before, "the server saw a request");

    // The token was never presented: the right URI still enrolls with it.
    agent
        .enroll(&good, &compliant(), None)
        .expect("enrolls with the right pin");
}

#[test]
fn desktop_cli_enrolls_attests_and_reports() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, facts) = desktop_files(dir.path());
    let out = dir.path().join("token.cose");
    let run = cli;
    let s = state.to_str().expect("utf8");
    let f = facts.to_str().expect("utf8");
    run(&[
        "device",
        "enroll",
        &server.enrollment_uri("GAD-002"),
        "--state",
        s,
        "--facts",
        f,
    ])
    .expect("device enroll");
    assert!(state.join("device.key").exists());
    run(&[
        "device",
        "attest",
        "--state",
        s,
        "--facts",
        f,
        "--out",
        out.to_str().expect("utf8"),
    ])
    .expect("device attest");
    run(&["device", "status", "--state", s, "--format", "json"]).expect("device status");
    let token = std::fs::read(&out).expect("token written");
    let claims = Attestation::from_cbor(Sign1::parse(&token).expect("cose").unverified_payload())
        .expect("claims");
    assert_eq!(claims.officer, "GAD-002");
    assert_eq!(claims.seq, 1);
    let missing = run(&[
        "device",
        "attest",
        "--state",
        s,
        "--facts",
        "/nonexistent.toml",
    ]);
    assert!(missing.is_err());
    let me = officer_entry(&server.compliance("GAD"), "GAD-002");
    assert_ne!(me["status"], "not_enrolled", "{me}");
}

#[test]
fn refused_nonce_is_replaced_once_and_revocation_is_reported() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent(dir.path());
    let e = agent
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls");

    // A nonce the server never issued (as if it had expired): the attestation carrying it
    // is refused with 409, the agent fetches a fresh challenge and succeeds with the next
    // number; the refused one changed nothing on the server.
    let mut st = pramaan_core::agent::State::load(dir.path())
        .expect("load")
        .expect("enrolled");
    st.next_nonce = Some("ab".repeat(32));
    st.nonce_received_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    st.save(dir.path()).expect("save");
    let outcome = agent.check_in(&compliant()).expect("check in");
    assert!(
        matches!(outcome, CheckIn::Delivered { seq: 2, .. }),
        "{outcome:?}"
    );
    let seqs: Vec<u64> = server
        .stored_attestations(&e.device_id)
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(seqs, vec![2]);

    // IT revokes the device: the next check-in is refused for good, with the reason.
    server.revoke(&e.device_id, "phone lost");
    match agent.check_in(&compliant()) {
        Err(AgentError::Revoked { reason }) => assert_eq!(reason.as_deref(), Some("phone lost")),
        other => panic!("a revoked device must be refused as revoked: {other:?}"),
    }
    // The agent remembers it: its status says revoked, with IT's reason and what to do.
    let status = agent.status().expect("status");
    assert_eq!(status.pending, 0);
    assert_eq!(status.word(), "revoked");
    assert_eq!(
        status.revoked.as_ref().and_then(|r| r.reason.as_deref()),
        Some("phone lost")
    );
    assert_eq!(
        status.hint(),
        Some(pramaan_core::policy::remedy::NEW_QR_CODE)
    );
    // Still revoked on the next try (and said again).
    assert!(matches!(
        agent.check_in(&compliant()),
        Err(AgentError::Revoked { .. })
    ));
    assert_eq!(agent.status().expect("status").word(), "revoked");
}

/// The desktop agent's state directory (not created) and a compliant GAD facts file in `dir`.
fn desktop_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let facts = dir.join("facts.toml");
    std::fs::write(&facts, facts_toml(&gad_facts())).expect("facts");
    (dir.join("agent"), facts)
}

/// Runs `pramaan ARGS` in this process; the error's message on failure.
fn cli(args: &[&str]) -> Result<(), String> {
    use clap::Parser;
    let mut argv = vec!["pramaan"];
    argv.extend_from_slice(args);
    pramaan_cli::run(pramaan_cli::Cli::parse_from(argv)).map_err(|e| e.0)
}

/// Every path under `dir` (relative), sorted; empty when `dir` does not exist.
fn tree(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for item in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = item.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            walk(root, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `pramaan device enroll` refused by the server (an expired token) or unable to reach
/// it: no `device.key`, no state, no outbox, no directory that was not there before.
#[test]
fn a_failed_desktop_enrollment_leaves_the_state_directory_as_it_was() {
    let mut server = pramaan_testkit::start_with(|c| c.enrollment_token_ttl_secs = 0);
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let facts = dir.path().join("facts.toml");
    std::fs::write(&facts, facts_toml(&gad_facts())).expect("facts");
    let f = facts.to_str().expect("utf8");
    let fresh = dir.path().join("fresh");
    let used = dir.path().join("used");
    std::fs::create_dir(&used).expect("mkdir");
    std::fs::write(used.join("notes.txt"), b"mine").expect("write");

    let expired = server.enrollment_uri("GAD-001");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for state in [&fresh, &used] {
        let before = tree(state);
        let s = state.to_str().expect("utf8");
        let e = cli(&["device", "enroll", &expired, "--state", s, "--facts", f])
            .expect_err("an expired token is refused");
        assert!(e.contains("token_expired"), "{e}");
        assert_eq!(tree(state), before, "{e}");
    }

    let unreachable = server.enrollment_uri("GAD-002");
    server.stop();
    for state in [&fresh, &used] {
        let before = tree(state);
        let s = state.to_str().expect("utf8");
        cli(&["device", "enroll", &unreachable, "--state", s, "--facts", f])
            .expect_err("the server is down");
        assert_eq!(tree(state), before);
        // Asking for the status of a directory that never enrolled writes nothing either.
        cli(&["device", "status", "--state", s]).expect("status");
        assert_eq!(tree(state), before);
    }
    assert!(!fresh.exists());
}

/// `pramaan device status` after IT revoked the device: the word, IT's reason, and the
/// next step; the JSON says the same.
#[test]
fn desktop_status_shows_the_revocation_with_reason_and_next_step() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, facts) = desktop_files(dir.path());
    let (s, f) = (state.to_str().expect("utf8"), facts.to_str().expect("utf8"));
    cli(&[
        "device",
        "enroll",
        &server.enrollment_uri("GAD-001"),
        "--state",
        s,
        "--facts",
        f,
    ])
    .expect("enroll");
    cli(&["device", "attest", "--state", s, "--facts", f]).expect("attest");
    let device_id = pramaan_core::agent::State::load(&state)
        .expect("load")
        .expect("enrolled")
        .device_id;
    server.revoke(&device_id, "left the department");
    let e = cli(&["device", "attest", "--state", s, "--facts", f]).expect_err("revoked");
    assert!(
        e.contains("revoked by department IT: left the department")
            && e.contains("ask IT for a new QR code"),
        "{e}"
    );
    let signer = pramaan_core::keys::KeyFile::open(&state.join("device.key")).expect("key");
    let status = Agent::open(&state, Arc::new(signer))
        .expect("open")
        .status()
        .expect("status");
    assert_eq!(status.word(), "revoked");
    assert_eq!(
        status.revoked.and_then(|r| r.reason).as_deref(),
        Some("left the department")
    );
    cli(&["device", "status", "--state", s, "--format", "json"]).expect("status json");
    cli(&["device", "status", "--state", s]).expect("status text");
}

#[test]
fn an_answer_that_does_not_verify_is_not_taken_as_delivered() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent(dir.path());
    agent
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls");
    let mut st = pramaan_core::agent::State::load(dir.path())
        .expect("load")
        .expect("enrolled");
    let real_key = st
        .server_key
        .clone()
        .expect("the server sends its key in the receipt");
    // The agent now expects answers signed by another key.
    st.server_key = Some("11".repeat(32));
    st.save(dir.path()).expect("save");
    let outcome = agent.check_in(&compliant()).expect("check in");
    assert!(
        matches!(outcome, CheckIn::Queued { pending: 1, .. }),
        "an unverifiable answer must not count as delivered: {outcome:?}"
    );
    assert!(agent.status().expect("status").last_result.is_none());

    let mut st = pramaan_core::agent::State::load(dir.path())
        .expect("load")
        .expect("enrolled");
    st.server_key = Some(real_key);
    st.save(dir.path()).expect("save");
    let outcome = agent.check_in(&compliant()).expect("check in");
    assert!(
        matches!(outcome, CheckIn::Delivered { flushed: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(agent.status().expect("status").pending, 0);
}

/// A device key that the platform layer may replace before enrollment, as Android's
/// Keystore layer does: a key is attested only with the challenge it was made with.
struct ReplaceableKey(std::sync::Mutex<SoftwareSigner>);

impl pramaan_core::keys::Signer for ReplaceableKey {
    fn public_key(
        &self,
    ) -> Result<pramaan_core::keys::P256PublicKey, pramaan_core::keys::KeyError> {
        self.0.lock().unwrap().public_key()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, pramaan_core::keys::KeyError> {
        self.0.lock().unwrap().sign(message)
    }
}

/// Android's evidence at enrollment: makes a new device key "with the challenge" and
/// records which challenge and which key.
struct KeyMakingEvidence {
    key: Arc<ReplaceableKey>,
    made: std::sync::Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl pramaan_core::agent::EvidenceSource for KeyMakingEvidence {
    fn key_evidence(
        &self,
        challenge: &[u8],
        _device_key: &pramaan_core::keys::P256PublicKey,
    ) -> Result<Option<pramaan_core::claims::Evidence>, AgentError> {
        let fresh = SoftwareSigner::generate().expect("key");
        let sec1 = pramaan_core::keys::Signer::public_key(&fresh)
            .expect("public key")
            .as_sec1()
            .to_vec();
        *self.key.0.lock().unwrap() = fresh;
        self.made.lock().unwrap().push((challenge.to_vec(), sec1));
        Ok(None)
    }

    fn fresh_evidence(
        &self,
        _challenge: &[u8],
    ) -> Result<Option<pramaan_core::claims::Evidence>, AgentError> {
        Ok(None)
    }
}

/// The platform layer makes the device key while giving enrollment evidence (Android):
/// the agent enrolls the key made then, not the one it saw before, and signs with it, so
/// the enrollment is accepted and later check-ins verify against the enrolled key.
#[test]
fn a_device_key_made_during_key_evidence_is_the_one_enrolled() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Arc::new(ReplaceableKey(std::sync::Mutex::new(
        SoftwareSigner::generate().expect("key"),
    )));
    let before = pramaan_core::keys::Signer::public_key(key.as_ref())
        .expect("key")
        .as_sec1()
        .to_vec();
    let source = Arc::new(KeyMakingEvidence {
        key: key.clone(),
        made: std::sync::Mutex::new(Vec::new()),
    });
    let phone = Agent::open_with(dir.path(), key.clone(), options())
        .expect("agent")
        .with_evidence(source.clone());
    phone
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls with the key made during key evidence");
    let made = source.made.lock().unwrap().clone();
    assert_eq!(made.len(), 1, "asked once, at enrollment");
    assert_ne!(made[0].1, before, "a new key was made");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).expect("state"))
            .expect("json");
    assert_eq!(
        state["public_key"],
        made[0]
            .1
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        "the state names the key made with the challenge"
    );
    let CheckIn::Delivered { result, .. } = phone.check_in(&compliant()).expect("check in") else {
        panic!("the server is up")
    };
    // Delivered at all: the server verified the check-in against the enrolled key.
    assert_eq!(result.seq, 1);
}

/// A platform facts provider that asks the agent while it reads the facts (Android's
/// reads the enrolled policy's apps to know which packages to look for).
struct AsksTheAgent {
    agent: std::sync::OnceLock<Arc<Agent>>,
    asked: std::sync::atomic::AtomicUsize,
}

impl pramaan_core::agent::FactsProvider for AsksTheAgent {
    fn facts(&self) -> Result<Facts, AgentError> {
        if let Some(agent) = self.agent.get() {
            agent.status()?;
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(compliant())
    }
}

/// Enrollment and check-in ask the facts provider outside the agent's lock: a provider
/// that calls back into the agent (as the Android and iOS layers do) does not deadlock.
#[test]
fn a_facts_provider_may_ask_the_agent_while_it_is_asked() {
    let server = pramaan_testkit::start();
    server.seed();
    let uri = server.enrollment_uri("GAD-001");
    let dir = tempfile::tempdir().expect("tempdir");
    let phone = Arc::new(agent(dir.path()));
    let facts = Arc::new(AsksTheAgent {
        agent: std::sync::OnceLock::new(),
        asked: std::sync::atomic::AtomicUsize::new(0),
    });
    assert!(facts.agent.set(phone.clone()).is_ok());
    let (done, wait) = std::sync::mpsc::channel();
    let worker = {
        let (phone, facts) = (phone.clone(), facts.clone());
        std::thread::spawn(move || {
            phone.enroll(&uri, facts.as_ref(), None).expect("enrolls");
            let outcome = phone.check_in(facts.as_ref()).expect("checks in");
            done.send(matches!(outcome, CheckIn::Delivered { .. }))
                .expect("send");
        })
    };
    let delivered = wait
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("enroll and check-in finish: no deadlock when the provider asks the agent");
    worker.join().expect("worker");
    assert!(delivered);
    assert_eq!(
        facts.asked.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "asked the agent once per call"
    );
}

/// Revoked by IT, the officer scans IT's new QR code: the preview answers, the old key
/// is refused (a revoked device's key never enrolls again) and nothing changes; with a
/// new key the phone enrolls as a new device, its revoked check-ins dropped. A phone that
/// was not revoked still refuses a second enrollment.
#[test]
fn a_revoked_phone_enrolls_again_with_a_new_qr_code_and_a_new_key() {
    let server = pramaan_testkit::start();
    server.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Arc::new(ReplaceableKey(std::sync::Mutex::new(
        SoftwareSigner::generate().expect("key"),
    )));
    let phone = Agent::open_with(dir.path(), key.clone(), options()).expect("agent");
    let first = phone
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls");
    assert!(matches!(
        phone.preview_enrollment(&server.enrollment_uri("GAD-001")),
        Err(AgentError::AlreadyEnrolled(_))
    ));
    server.revoke(&first.device_id, "phone reported lost");
    assert!(matches!(
        phone.check_in(&compliant()),
        Err(AgentError::Revoked { .. })
    ));
    assert!(phone.status().expect("status").revoked.is_some());

    let again = server.enrollment_uri("GAD-001");
    let preview = phone
        .preview_enrollment(&again)
        .expect("a revoked phone may preview");
    assert_eq!(preview.preview.officer_id, "GAD-001");
    // The same (revoked) key: refused, and the revoked state stays as it was.
    let state_before = std::fs::read(dir.path().join("state.json")).expect("state");
    match phone.enroll(&again, &compliant(), None) {
        Err(AgentError::Rejected { code, .. }) => assert_eq!(code, "key_revoked"),
        other => panic!("the revoked key must be refused: {other:?}"),
    }
    assert_eq!(
        std::fs::read(dir.path().join("state.json")).expect("state"),
        state_before
    );
    // A new key (the platform makes one; Android does it while giving key evidence).
    *key.0.lock().unwrap() = SoftwareSigner::generate().expect("key");
    let second = phone
        .enroll(&server.enrollment_uri("GAD-001"), &compliant(), None)
        .expect("enrolls again");
    assert_ne!(second.device_id, first.device_id);
    let status = phone.status().expect("status");
    assert!(status.revoked.is_none(), "{status:?}");
    assert_eq!(status.device_id, Some(second.device_id));
    assert_eq!(status.pending, 0);
    let CheckIn::Delivered { result, .. } = phone.check_in(&compliant()).expect("check in") else {
        panic!("the server is up")
    };
    assert_eq!(result.seq, 1);
    assert!(matches!(
        phone.enroll(&server.enrollment_uri("GAD-001"), &compliant(), None),
        Err(AgentError::AlreadyEnrolled(id)) if id == second.device_id
    ));
}
