//! Role matrix over every IT/auditor/admin endpoint (design sections 2 and 8): which role
//! may call what, IT confined to its own department, auditors read-only; plus the check
//! that the database never holds a bearer token or an unused enrollment token in clear.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::transport::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Auditor,
    ItGad,
    ItRev,
}

const ALL: [Who; 4] = [Who::Admin, Who::Auditor, Who::ItGad, Who::ItRev];

struct Call {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    allowed: &'static [Who],
}

/// The calls naming one officer or device: IT of another department gets `404`, as for an
/// id that does not exist, never a `403` that would say the id exists.
const HIDDEN_FROM_OTHER_DEPARTMENTS: &[&str] = &[
    "officer GAD-001",
    "devices GAD",
    "enrollment token GAD-002",
    "ask GAD device for fresh evidence",
    "revoke GAD device",
];

fn send(client: &pramaan_core::transport::HttpsClient, c: &Call) -> Response {
    let body = (c.method != "GET").then_some((c.content_type, c.body.as_slice()));
    client.request(c.method, &c.path, body).expect("request")
}

#[test]
fn every_endpoint_by_every_role() {
    let env = start();
    env.seed();
    let gad_device = env.enroll("GAD-001");
    let mut dev2 = env.enroll("GAD-002");
    env.attest_ok(&mut dev2);
    let tokens = [
        (Who::Admin, env.admin_token.clone()),
        (Who::Auditor, env.token("auditor", None)),
        (Who::ItGad, env.token("it", Some("GAD"))),
        (Who::ItRev, env.token("it", Some("REV"))),
    ];
    let readers: &[Who] = &[Who::Admin, Who::Auditor, Who::ItGad];
    let gad_writers: &[Who] = &[Who::Admin, Who::ItGad];
    let auditors: &[Who] = &[Who::Admin, Who::Auditor];
    let gad_row = "officer_id,name,designation,department,email,mobile,entitled\n\
        GAD-003,D. Mehta,Section Officer,GAD,d.mehta@gujarat.gov.in,+919800000004,true\n";
    let roster = ROSTER_GAD;
    let calls = vec![
        Call {
            name: "compliance GAD",
            method: "GET",
            path: "/v1/compliance?department=GAD".into(),
            content_type: "",
            body: vec![],
            allowed: readers,
        },
        Call {
            name: "compliance GAD csv",
            method: "GET",
            path: "/v1/compliance?department=GAD&format=csv".into(),
            content_type: "",
            body: vec![],
            allowed: readers,
        },
        Call {
            name: "officer GAD-001",
            method: "GET",
            path: "/v1/officers/GAD-001".into(),
            content_type: "",
            body: vec![],
            allowed: readers,
        },
        Call {
            name: "devices GAD",
            method: "GET",
            path: "/v1/devices?department=GAD&status=all".into(),
            content_type: "",
            body: vec![],
            allowed: readers,
        },
        Call {
            name: "policy GAD read",
            method: "GET",
            path: "/v1/departments/GAD/policy".into(),
            content_type: "",
            body: vec![],
            allowed: readers,
        },
        Call {
            name: "officers import GAD row",
            method: "POST",
            path: "/v1/officers/import".into(),
            content_type: "text/csv",
            body: gad_row.as_bytes().to_vec(),
            allowed: gad_writers,
        },
        Call {
            name: "policy GAD write",
            method: "PUT",
            path: "/v1/departments/GAD/policy".into(),
            content_type: "application/toml",
            body: POLICY_GAD.as_bytes().to_vec(),
            allowed: gad_writers,
        },
        Call {
            name: "roster GAD",
            method: "PUT",
            path: "/v1/departments/GAD/groups/gad-officers/roster".into(),
            content_type: "text/csv",
            body: roster.as_bytes().to_vec(),
            allowed: gad_writers,
        },
        Call {
            name: "enrollment token GAD-002",
            method: "POST",
            path: "/v1/enrollment-tokens".into(),
            content_type: "application/json",
            body: br#"{"officer_id":"GAD-002"}"#.to_vec(),
            allowed: gad_writers,
        },
        Call {
            name: "ask GAD device for fresh evidence",
            method: "POST",
            path: format!("/v1/devices/{}/reattest", dev2.id),
            content_type: "application/json",
            body: b"{}".to_vec(),
            allowed: gad_writers,
        },
        Call {
            name: "revoke GAD device",
            method: "POST",
            path: format!("/v1/devices/{}/revoke", gad_device.id),
            content_type: "application/json",
            body: br#"{"reason":"lost"}"#.to_vec(),
            allowed: gad_writers,
        },
        Call {
            name: "audit checkpoint",
            method: "GET",
            path: "/v1/audit/checkpoint".into(),
            content_type: "",
            body: vec![],
            allowed: auditors,
        },
        Call {
            name: "audit entries",
            method: "GET",
            path: "/v1/audit/entries?start=0&end=2".into(),
            content_type: "",
            body: vec![],
            allowed: auditors,
        },
        Call {
            name: "audit inclusion",
            method: "GET",
            path: "/v1/audit/proof/inclusion?index=0&size=2".into(),
            content_type: "",
            body: vec![],
            allowed: auditors,
        },
        Call {
            name: "audit consistency",
            method: "GET",
            path: "/v1/audit/proof/consistency?old=1&new=2".into(),
            content_type: "",
            body: vec![],
            allowed: auditors,
        },
        Call {
            name: "status list install",
            method: "PUT",
            path: "/v1/evidence/status-list".into(),
            content_type: "application/json",
            body: br#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED"}}}"#.to_vec(),
            allowed: &[Who::Admin],
        },
        Call {
            name: "status list read",
            method: "GET",
            path: "/v1/evidence/status-list".into(),
            content_type: "",
            body: vec![],
            allowed: &ALL,
        },
    ];

    for call in &calls {
        // No token and a wrong token: 401 everywhere.
        let r = send(&env.device_client(), call);
        assert_eq!(r.status, 401, "{} without a token", call.name);
        let r = send(&env.client_with("bm90LWEtdG9rZW4tYXQtYWxs"), call);
        assert_eq!(r.status, 401, "{} with a wrong token", call.name);

        for who in ALL {
            let token = &tokens.iter().find(|(w, _)| *w == who).unwrap().1;
            let before = env.counts();
            let r = send(&env.client_with(token), call);
            let text = String::from_utf8_lossy(&r.body).to_string();
            if call.allowed.contains(&who) {
                // Allowed: anything but an authorization failure (the admin's revoke comes
                // second and finds the device already revoked: 409).
                assert!(
                    !matches!(r.status, 401 | 403),
                    "{} by {who:?} should be allowed: {} {text}",
                    call.name,
                    r.status
                );
                assert!(
                    r.status < 500,
                    "{} by {who:?}: {} {text}",
                    call.name,
                    r.status
                );
            } else if call.name == "officers import GAD row" {
                // Another department's IT may call import but no row of GAD is taken.
                if who == Who::Auditor {
                    assert_eq!(r.status, 403, "{} by {who:?}: {text}", call.name);
                } else {
                    assert_eq!(r.status, 200, "{text}");
                    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                    assert_eq!(v["imported"], 0, "{text}");
                    assert_eq!(v["rejected"][0]["line"], 2, "{text}");
                    assert_eq!(env.counts(), before);
                }
            } else if who == Who::ItRev && HIDDEN_FROM_OTHER_DEPARTMENTS.contains(&call.name) {
                // An officer or device of another department is answered as if it did not
                // exist (tests/officer_oracle.rs compares the two answers exactly).
                assert_eq!(r.status, 404, "{} by {who:?}: {text}", call.name);
                assert_eq!(env.counts(), before, "{} by {who:?}", call.name);
            } else {
                assert_eq!(
                    r.status, 403,
                    "{} by {who:?} should be denied: {text}",
                    call.name
                );
                let e: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(e["error"], "forbidden");
                assert_eq!(
                    env.counts(),
                    before,
                    "{} by {who:?} changed state",
                    call.name
                );
            }
        }
    }
}

#[test]
fn it_reads_only_its_department_and_auditors_never_write() {
    let env = start();
    env.seed();
    let it_gad = env.client_with(&env.token("it", Some("GAD")));
    let auditor = env.client_with(&env.token("auditor", None));
    // IT without ?department= gets its own department.
    let r = it_gad.get("/v1/compliance").unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["department"], "GAD");
    assert_eq!(
        it_gad.get("/v1/compliance?department=REV").unwrap().status,
        403
    );
    assert_eq!(it_gad.get("/v1/officers/REV-001").unwrap().status, 404);
    // Auditors read everything, change nothing.
    assert_eq!(
        auditor.get("/v1/compliance?department=REV").unwrap().status,
        200
    );
    assert_eq!(auditor.get("/v1/compliance").unwrap().status, 400);
    let r = auditor
        .put(
            "/v1/departments/REV/policy",
            "application/toml",
            POLICY_REV.as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 403);
    // IT may not move an officer of another department into its own.
    let steal = "officer_id,name,designation,department,email,mobile,entitled\n\
        REV-001,C. Desai,Deputy Collector,GAD,c.desai@gujarat.gov.in,+919800000003,true\n";
    let r = it_gad
        .post("/v1/officers/import", "text/csv", steal.as_bytes())
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["imported"], 0, "{v}");
    // A policy sent to another department's path is refused.
    let r = it_gad
        .put(
            "/v1/departments/GAD/policy",
            "application/toml",
            POLICY_REV.as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 400);
    // Bad tokens for roles: an IT token needs a department.
    assert!(
        pramaan_server::server::create_token(env.dir.path(), "it".parse().unwrap(), None).is_err()
    );
}

/// `GET /v1/devices`: IT lists its own department (by default), auditors and admins name
/// one; another department is, to IT, exactly an unknown one; the filter is checked.
#[test]
fn devices_list_by_role_and_department() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    env.attest_ok(&mut dev);
    let rev = env.enroll("REV-001");
    let it_gad = env.client_with(&env.token("it", Some("GAD")));
    let it_rev = env.client_with(&env.token("it", Some("REV")));
    let auditor = env.client_with(&env.token("auditor", None));
    let json = |r: pramaan_core::transport::Response| -> (u16, serde_json::Value) {
        (r.status, serde_json::from_slice(&r.body).unwrap())
    };
    // IT, own department by default: GAD's device with its fields.
    let (status, v) = json(it_gad.get("/v1/devices").unwrap());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["department"], "GAD");
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{v}");
    let d = &devices[0];
    assert_eq!(d["device_id"], dev.id.to_string());
    assert_eq!(d["officer_id"], "GAD-001");
    assert_eq!(d["officer_name"], "A. Shah");
    assert_eq!(d["platform"], "android");
    assert_eq!(d["revoked"], false);
    assert!(d["last_check_in"].as_u64().is_some(), "{d}");
    assert_eq!(d["evidence_age_days"], 0);
    for key in ["model", "assurance", "enrolled_at", "reason", "evidence_at"] {
        assert!(d.get(key).is_some(), "{key} missing: {d}");
    }
    // IT of REV asking for GAD gets exactly what an unknown department gets.
    let (s_other, other) = json(it_rev.get("/v1/devices?department=GAD").unwrap());
    let (s_none, none) = json(it_rev.get("/v1/devices?department=GAX").unwrap());
    assert_eq!((s_other, s_none), (404, 404));
    assert_eq!(other["error"], none["error"]);
    assert_eq!(
        other["message"].as_str().unwrap().replace("GAD", "GAX"),
        none["message"].as_str().unwrap()
    );
    // Its own department is listed.
    let (status, v) = json(it_rev.get("/v1/devices").unwrap());
    assert_eq!(status, 200);
    assert_eq!(v["devices"][0]["device_id"], rev.id.to_string());
    // Auditors name the department; the status filter is checked.
    assert_eq!(auditor.get("/v1/devices").unwrap().status, 400);
    let (status, v) = json(
        auditor
            .get("/v1/devices?department=REV&status=all")
            .unwrap(),
    );
    assert_eq!(
        (status, v["devices"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (status, v) = json(
        auditor
            .get("/v1/devices?department=GAD&status=revoked")
            .unwrap(),
    );
    assert_eq!(
        (status, v["devices"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, v) = json(
        auditor
            .get("/v1/devices?department=GAD&status=lost")
            .unwrap(),
    );
    assert_eq!(
        (status, &v["error"]),
        (400, &serde_json::json!("malformed"))
    );
}

/// `GET /v1/officers/{id}` gives per device the last check-in, the evidence age and the
/// recent results, newest first.
#[test]
fn officer_view_has_recent_results_per_device() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    for _ in 0..12 {
        env.attest_ok(&mut dev);
    }
    let v = env.officer("GAD-001");
    let d = &v["devices"][0];
    let recent = d["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 10, "{d}");
    let seqs: Vec<u64> = recent.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (3..=12).rev().collect::<Vec<u64>>());
    for key in [
        "received_at",
        "verdict",
        "failures",
        "log_index",
        "fresh_nonce",
    ] {
        assert!(recent[0].get(key).is_some(), "{key} missing: {}", recent[0]);
    }
    assert_eq!(d["last_check_in"], recent[0]["received_at"]);
    assert_eq!(d["evidence_age_days"], 0);
    assert_eq!(v["compliance"]["last_seen"], recent[0]["received_at"]);
    assert_eq!(v["compliance"]["active_devices"], 1);
}

#[test]
fn import_reports_rejected_rows_with_lines_and_keeps_the_good_ones() {
    let env = start();
    env.seed();
    let csv = "officer_id,name,designation,department,email,mobile,entitled\n\
        GAD-010,E. Joshi,Section Officer,GAD,e.joshi@gujarat.gov.in,+919800000010,true\n\
        GAD-011,F. Rao,Section Officer,GAD,not-an-email,+919800000011,true\n\
        GAD-012,G. Iyer,Section Officer,GAD,g.iyer@gujarat.gov.in,+919800000012,maybe\n";
    let before = env.counts();
    let r = env
        .admin()
        .post("/v1/officers/import", "text/csv", csv.as_bytes())
        .unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["imported"], 1, "{v}");
    let lines: Vec<u64> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4], "{v}");
    assert_eq!(env.counts().officers, before.officers + 1);
}

#[test]
fn the_database_never_holds_a_bearer_token_or_an_unused_enrollment_token() {
    let env = start();
    env.seed();
    let auditor = env.token("auditor", None);
    let it = env.token("it", Some("GAD"));
    let unused = env.enrollment_token("GAD-002");
    let mut dev = env.enroll("GAD-001");
    env.attest_ok(&mut dev);
    let nonce = env.challenge();
    let mut bytes = Vec::new();
    for name in ["pramaan.db", "pramaan.db-wal"] {
        if let Ok(b) = std::fs::read(env.dir.path().join(name)) {
            bytes.extend_from_slice(&b);
        }
    }
    assert!(bytes.len() > 4096);
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for (what, secret) in [
        ("admin token", env.admin_token.as_str()),
        ("auditor token", auditor.as_str()),
        ("it token", it.as_str()),
        ("unused enrollment token", unused.as_str()),
    ] {
        assert!(
            !contains(secret.as_bytes()),
            "the database holds the {what} in clear"
        );
    }
    assert!(
        !contains(&nonce),
        "the database holds a live nonce in clear"
    );
    // Its hash is what is stored.
    assert!(contains(&pramaan_server::auth::hash_secret(
        env.admin_token.as_bytes()
    )));
}
