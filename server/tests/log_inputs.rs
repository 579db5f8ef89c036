//! Every input of a verdict is an audit log entry (design section 7), written in the same
//! transaction as the change: registry imports (the rows upserted), rosters (the handles
//! as stored), enrollment and API tokens issued (their SHA-256, never the token),
//! re-attestation requests and status-list installs (the JSON as installed). A refused
//! request appends nothing, and no token's text is anywhere in the log's bytes.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::claims::enroll_token_hash;
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::policy::officer_rows_from_csv;
use pramaan_core::transport::Response;
use pramaan_server::auth::hash_secret;
use pramaan_server::store::{LogEntry, StoreError, read_transaction};
use serde_json::Value;

/// The log's leaves as stored, in order.
fn leaves(env: &Env) -> Vec<Vec<u8>> {
    read_transaction(env.server().store().as_ref(), |tx| {
        pramaan_tlog::entries(tx.log(), 0, u64::MAX / 2).map_err(StoreError::from_log)
    })
    .expect("entries")
    .into_iter()
    .map(|(_, data)| data)
    .collect()
}

fn log(env: &Env) -> Vec<LogEntry> {
    env.log_entries()
}

/// The entries appended since the log had `before` entries.
fn since(env: &Env, before: usize) -> Vec<LogEntry> {
    log(env).split_off(before)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn ok_json(r: Response) -> Value {
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 200, "{text}");
    serde_json::from_str(&text).expect("json")
}

/// The label requests with `token` are logged under (`role:` and 8 hex of its hash).
fn label(role: &str, token: &str) -> String {
    format!(
        "{role}:{}",
        &hex::encode(hash_secret(token.as_bytes()))[..8]
    )
}

#[test]
fn every_verdict_input_is_logged_with_its_content_and_no_token() {
    let env = start();
    let admin_label = label("admin", &env.admin_token);

    // `admin init` minted the first admin token: logged by hash and label.
    let first = log(&env);
    assert_eq!(
        first,
        vec![LogEntry::ApiTokenIssued {
            at: first[0].at(),
            role: "admin".into(),
            department: None,
            label: admin_label.clone(),
            token_hash: hash_secret(env.admin_token.as_bytes()).to_vec(),
        }]
    );
    let it_token = env.token("it", Some("GAD"));
    let LogEntry::ApiTokenIssued {
        role,
        department,
        label: it_label,
        token_hash,
        ..
    } = &since(&env, 1)[0]
    else {
        panic!("not a token entry");
    };
    assert_eq!(
        (role.as_str(), department.as_deref(), it_label.as_str()),
        ("it", Some("GAD"), label("it", &it_token).as_str())
    );
    assert_eq!(token_hash, &hash_secret(it_token.as_bytes()).to_vec());

    // Policies then the registry: one RegistryImport with exactly the rows, in file order.
    let n = log(&env).len();
    env.seed();
    let added = since(&env, n);
    assert_eq!(
        added.iter().map(LogEntry::kind).collect::<Vec<_>>(),
        ["policy_change", "policy_change", "registry_import"]
    );
    let (rows, bad) = officer_rows_from_csv(OFFICERS);
    assert!(bad.is_empty());
    let LogEntry::RegistryImport { officers, by, .. } = &added[2] else {
        panic!("{added:?}");
    };
    assert_eq!(
        officers,
        &rows.into_iter().map(|(_, o)| o).collect::<Vec<_>>()
    );
    assert_eq!(by, &admin_label);

    // A roster: the handles as stored (a repeated row is stored once), by IT's label.
    let it = env.client_with(&it_token);
    let n = log(&env).len();
    let roster = format!("{ROSTER_GAD}WhatsApp,gad-officers,+919800000001\n");
    ok_json(
        it.put(
            "/v1/departments/GAD/groups/gad-officers/roster",
            "text/csv",
            roster.as_bytes(),
        )
        .unwrap(),
    );
    let LogEntry::RosterSet {
        department,
        platform,
        group,
        handles,
        by,
        ..
    } = &since(&env, n)[0]
    else {
        panic!("not a roster entry");
    };
    assert_eq!(
        (department.as_str(), platform.as_str(), group.as_str()),
        ("GAD", "WhatsApp", GAD_GROUP)
    );
    assert_eq!(handles, &["+919800000001", "+919800000002"]);
    assert_eq!(by, &label("it", &it_token));

    // An enrollment token: its hash is the one the enroll request carries.
    let n = log(&env).len();
    let issued = ok_json(
        it.post(
            "/v1/enrollment-tokens",
            "application/json",
            br#"{"officer_id":"GAD-002","allow_additional":true}"#,
        )
        .unwrap(),
    );
    let token = EnrollmentUri::parse(issued["uri"].as_str().unwrap())
        .unwrap()
        .token;
    let added = since(&env, n);
    assert_eq!(
        added,
        vec![LogEntry::EnrollTokenIssued {
            at: added[0].at(),
            department: "GAD".into(),
            officer_id: "GAD-002".into(),
            token_hash: enroll_token_hash(&token).to_vec(),
            expires: issued["expires"].as_u64().unwrap(),
            allow_additional: true,
            by: label("it", &it_token),
        }]
    );

    // A re-attestation request names the device and its department.
    let device = env.enroll("GAD-001");
    let n = log(&env).len();
    ok_json(
        it.post(&format!("/v1/devices/{}/reattest", device.id), "", b"")
            .unwrap(),
    );
    let added = since(&env, n);
    assert_eq!(
        added,
        vec![LogEntry::ReattestRequested {
            at: added[0].at(),
            department: "GAD".into(),
            device_id: device.id,
            by: label("it", &it_token),
        }]
    );

    // The status list: the JSON exactly as installed, with its fetch time.
    let list = r#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED"}}}"#;
    let fetched = now() - 3600;
    let n = log(&env).len();
    ok_json(
        env.admin()
            .put(
                &format!("/v1/evidence/status-list?fetched_at={fetched}"),
                "application/json",
                list.as_bytes(),
            )
            .unwrap(),
    );
    let added = since(&env, n);
    assert_eq!(
        added,
        vec![LogEntry::StatusListInstalled {
            at: added[0].at(),
            fetched_at: fetched,
            json: list.into(),
            by: admin_label.clone(),
        }]
    );

    // No token's text anywhere in the log.
    let enroll_token = env.enrollment_token("GAD-001");
    let all: Vec<u8> = leaves(&env).concat();
    for secret in [&env.admin_token, &it_token, &token, &enroll_token] {
        assert!(!contains(&all, secret.as_bytes()), "a token is in the log");
    }
    // ... while each issuance is there, by hash.
    for secret in [&env.admin_token, &it_token, &token, &enroll_token] {
        assert!(
            contains(&all, &hash_secret(secret.as_bytes())),
            "an issuance is missing"
        );
    }
}

#[test]
fn refused_changes_append_nothing() {
    let env = start();
    env.seed();
    let it_gad = env.client_with(&env.token("it", Some("GAD")));
    let auditor = env.client_with(&env.token("auditor", None));
    let device = env.enroll("GAD-001");
    let n = log(&env).len();

    // A registry whose every row is refused (bad rows, another department's rows).
    let bad_rows = "officer_id,name,designation,department,email,mobile,entitled\n\
                    GAD-009,,Deputy Secretary,GAD,x@gujarat.gov.in,+919800000009,maybe\n";
    // Refused whole (all or nothing), and also with ?partial=true (no good row).
    for path in ["/v1/officers/import", "/v1/officers/import?partial=true"] {
        let r = env
            .admin()
            .post(path, "text/csv", bad_rows.as_bytes())
            .unwrap();
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["imported"], 0, "{path}: {v}");
    }
    let foreign = "officer_id,name,designation,department,email,mobile,entitled\n\
                   REV-002,D. Mehta,Deputy Collector,REV,d.mehta@gujarat.gov.in,+919800000004,true\n";
    let r = it_gad
        .post("/v1/officers/import", "text/csv", foreign.as_bytes())
        .unwrap();
    assert_eq!(r.status, 422);
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["imported"], 0, "{v}");

    let refused: Vec<(&str, Response)> = vec![
        (
            "auditor issues an enrollment token",
            auditor
                .post(
                    "/v1/enrollment-tokens",
                    "application/json",
                    br#"{"officer_id":"GAD-001"}"#,
                )
                .unwrap(),
        ),
        (
            "IT issues a token for another department",
            it_gad
                .post(
                    "/v1/enrollment-tokens",
                    "application/json",
                    br#"{"officer_id":"REV-001"}"#,
                )
                .unwrap(),
        ),
        (
            "a roster of a group the policy lacks",
            it_gad
                .put(
                    "/v1/departments/GAD/groups/no-such-group/roster",
                    "text/csv",
                    b"platform,group,handle\nWhatsApp,no-such-group,+919800000001\n",
                )
                .unwrap(),
        ),
        (
            "a roster of another department",
            it_gad
                .put(
                    "/v1/departments/REV/groups/rev-officers/roster",
                    "text/csv",
                    b"platform,group,handle\nWhatsApp,rev-officers,+919800000003\n",
                )
                .unwrap(),
        ),
        (
            "an auditor asks for re-attestation",
            auditor
                .post(&format!("/v1/devices/{}/reattest", device.id), "", b"")
                .unwrap(),
        ),
        (
            "re-attestation of an unknown device",
            it_gad
                .post(
                    "/v1/devices/00000000-0000-4000-8000-000000000000/reattest",
                    "",
                    b"",
                )
                .unwrap(),
        ),
        (
            "a status list that is not Google's format",
            env.admin()
                .put(
                    "/v1/evidence/status-list",
                    "application/json",
                    br#"{"entries": {"not hex": {"status": "REVOKED"}}}"#,
                )
                .unwrap(),
        ),
        (
            "IT installs a status list",
            it_gad
                .put(
                    "/v1/evidence/status-list",
                    "application/json",
                    br#"{"entries": {}}"#,
                )
                .unwrap(),
        ),
    ];
    for (what, r) in &refused {
        assert!(
            (400..500).contains(&r.status),
            "{what}: HTTP {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(
        since(&env, n)
            .iter()
            .map(LogEntry::kind)
            .collect::<Vec<_>>(),
        Vec::<&str>::new(),
        "refused requests appended entries"
    );
}
