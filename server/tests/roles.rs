//! Role matrix over every IT/auditor/admin endpoint (design sections 2 and 8): which role
//! may call what, IT confined to its own department, auditors read-only; plus the check
//! that the database never holds a bearer token or an unused enrollment token in clear.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::api::{EnrollTokenList, EnrollTokenState, TokenList};
use pramaan_core::transport::{HttpsClient, Response};
use pramaan_server::auth::{TokenId, hash_secret};
use pramaan_server::credentials::NewToken;

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
    "cancel GAD enrollment token",
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
    let spare = env.token("it", Some("REV"));
    let spare_id = TokenId::of(&hash_secret(spare.as_bytes()));
    let outstanding = env.enrollment_token("GAD-002");
    let outstanding_id = hex::encode(&hash_secret(outstanding.as_bytes())[..8]);
    let calls = vec![
        Call {
            name: "list bearer tokens",
            method: "GET",
            path: "/v1/tokens".into(),
            content_type: "",
            body: vec![],
            allowed: &[Who::Admin],
        },
        Call {
            name: "mint a bearer token",
            method: "POST",
            path: "/v1/tokens".into(),
            content_type: "application/json",
            body: br#"{"role":"auditor","name":"matrix"}"#.to_vec(),
            allowed: &[Who::Admin],
        },
        Call {
            name: "revoke a bearer token",
            method: "POST",
            path: format!("/v1/tokens/{spare_id}/revoke"),
            content_type: "application/json",
            body: b"{}".to_vec(),
            allowed: &[Who::Admin],
        },
        Call {
            name: "list GAD enrollment tokens",
            method: "GET",
            path: "/v1/enrollment-tokens?department=GAD&all=true".into(),
            content_type: "",
            body: vec![],
            allowed: readers,
        },
        Call {
            name: "cancel GAD enrollment token",
            method: "POST",
            path: format!("/v1/enrollment-tokens/{outstanding_id}/cancel"),
            content_type: "application/json",
            body: b"{}".to_vec(),
            allowed: gad_writers,
        },
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
            name: "compliance GAD page",
            method: "GET",
            path: "/v1/compliance?department=GAD&q=patel&status=not_enrolled,compliant&sort=name&page=1&per_page=10".into(),
            content_type: "",
            body: vec![],
            allowed: readers,
        },
        Call {
            name: "departments",
            method: "GET",
            path: "/v1/departments".into(),
            content_type: "",
            body: vec![],
            allowed: &ALL,
        },
        Call {
            name: "whoami",
            method: "GET",
            path: "/v1/whoami".into(),
            content_type: "",
            body: vec![],
            allowed: &ALL,
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
            name: "policy GAD read by query",
            method: "GET",
            path: "/v1/policy?department=GAD".into(),
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
                    // All or nothing: refused whole with the row's error.
                    assert_eq!(r.status, 422, "{text}");
                    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                    assert_eq!(v["error"], "rows_rejected", "{text}");
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
    // Likewise the policy: IT's own without naming it, auditors must name one.
    let r = it_gad.get("/v1/policy").unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["department"], "GAD");
    assert_eq!(auditor.get("/v1/policy").unwrap().status, 400);
    assert_eq!(it_gad.get("/v1/policy?department=REV").unwrap().status, 403);
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

/// The department picker and "signed in as": auditors and admins list every department,
/// IT only its own (never another's name); whoami tells each token its role and
/// department, and neither answers without a valid token.
#[test]
fn departments_and_whoami_answer_for_the_token_only() {
    let env = start();
    env.seed();
    let json = |client: &pramaan_core::transport::HttpsClient, path: &str| {
        let r = client.get(path).unwrap();
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()
    };
    let it_gad_token = env.token("it", Some("GAD"));
    let it_gad = env.client_with(&it_gad_token);
    let auditor = env.client_with(&env.token("auditor", None));
    let everyone = serde_json::json!({"departments": ["GAD", "REV"]});
    assert_eq!(json(&auditor, "/v1/departments"), everyone);
    assert_eq!(json(&env.admin(), "/v1/departments"), everyone);
    // IT: its own only, REV is not even named.
    let own = json(&it_gad, "/v1/departments");
    assert_eq!(own, serde_json::json!({"departments": ["GAD"]}));
    assert!(!own.to_string().contains("REV"));

    let me = json(&it_gad, "/v1/whoami");
    assert_eq!(
        (me["role"].as_str(), me["department"].as_str()),
        (Some("it"), Some("GAD"))
    );
    let label = me["label"].as_str().unwrap();
    assert!(label.starts_with("it:") && label.len() == 11, "{me}");
    assert!(
        !me.to_string().contains(&it_gad_token),
        "the token is never echoed"
    );
    let me = json(&auditor, "/v1/whoami");
    assert_eq!(me["role"], "auditor");
    assert!(me["department"].is_null(), "{me}");
    assert_eq!(json(&env.admin(), "/v1/whoami")["role"], "admin");

    for path in ["/v1/departments", "/v1/whoami"] {
        assert_eq!(env.device_client().get(path).unwrap().status, 401, "{path}");
        assert_eq!(
            env.client_with("bm90LWEtdG9rZW4").get(path).unwrap().status,
            401
        );
    }
    // Paging another department's report is refused like the report itself.
    let r = it_gad
        .get("/v1/compliance?department=REV&page=1&per_page=10")
        .unwrap();
    assert_eq!(r.status, 403);
    let r = it_gad
        .get("/v1/compliance?department=REV&format=csv&q=desai")
        .unwrap();
    assert_eq!(r.status, 403);
}

#[test]
fn import_is_all_or_nothing_unless_partial() {
    let env = start();
    env.seed();
    let csv = "officer_id,name,designation,department,email,mobile,entitled\n\
        GAD-010,E. Joshi,Section Officer,GAD,e.joshi@gujarat.gov.in,+919800000010,true\n\
        GAD-011,F. Rao,Section Officer,GAD,not-an-email,+919800000011,true\n\
        GAD-012,G. Iyer,Section Officer,GAD,g.iyer@gujarat.gov.in,+919800000012,maybe\n";
    let before = env.counts();
    // Default: one bad row refuses the file; every row error comes back with its field.
    let r = env
        .admin()
        .post("/v1/officers/import", "text/csv", csv.as_bytes())
        .unwrap();
    assert_eq!(r.status, 422);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (v["error"].as_str(), v["imported"].as_u64()),
        (Some("rows_rejected"), Some(0)),
        "{v}"
    );
    assert_eq!(v["added"], 1, "what the good rows would have done: {v}");
    let errors: Vec<(u64, &str)> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, vec![(3, "email"), (4, "entitled")], "{v}");
    assert_eq!(env.counts(), before, "nothing written, nothing logged");
    // ?partial=true: the good row is written, the others reported.
    let r = env
        .admin()
        .post(
            "/v1/officers/import?partial=true",
            "text/csv",
            csv.as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["imported"], 1, "{v}");
    assert_eq!(v["rejected"].as_array().unwrap().len(), 2, "{v}");
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

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("{} {}", r.status, String::from_utf8_lossy(&r.body)))
}

fn post(client: &HttpsClient, path: &str) -> Response {
    client
        .post(path, "application/json", b"{}")
        .expect("request")
}

fn id_of(token: &str) -> TokenId {
    TokenId::of(&hash_secret(token.as_bytes()))
}

#[test]
fn a_revoked_bearer_token_is_refused_on_its_next_request() {
    let env = start();
    env.seed();
    let it = env.token("it", Some("GAD"));
    let it_client = env.client_with(&it);
    let r = it_client.get("/v1/compliance").unwrap();
    assert_eq!(r.status, 200);

    // Listed by id, name and who made it; never a hash or a secret.
    let r = env.admin().get("/v1/tokens").unwrap();
    assert_eq!(r.status, 200);
    let text = String::from_utf8_lossy(&r.body).to_string();
    for secret in [&it, &env.admin_token] {
        assert!(!text.contains(secret.as_str()), "{text}");
        assert!(
            !text.contains(&hex::encode(hash_secret(secret.as_bytes()))),
            "{text}"
        );
    }
    let list: TokenList = serde_json::from_slice(&r.body).unwrap();
    let row = list
        .tokens
        .iter()
        .find(|t| t.id == id_of(&it).to_string())
        .expect("listed");
    assert_eq!(
        (row.role.as_str(), row.department.as_deref(), row.revoked_at),
        ("it", Some("GAD"), None)
    );
    assert!(
        row.name
            .as_deref()
            .is_some_and(|n| n.starts_with("it-GAD-")),
        "{row:?}"
    );
    assert_eq!(row.created_by.as_deref(), Some("admin-cli"));

    // Revoked by the admin: refused on the very next request, saying so.
    let r = post(&env.admin(), &format!("/v1/tokens/{}/revoke", id_of(&it)));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = it_client.get("/v1/compliance").unwrap();
    assert_eq!(r.status, 401);
    assert!(json(&r)["message"].as_str().unwrap().contains("revoked"));
    let list: TokenList =
        serde_json::from_slice(&env.admin().get("/v1/tokens").unwrap().body).unwrap();
    let row = list
        .tokens
        .iter()
        .find(|t| t.id == id_of(&it).to_string())
        .unwrap();
    let admin_label = format!("admin:{}", id_of(&env.admin_token));
    assert_eq!(row.revoked_by.as_deref(), Some(admin_label.as_str()));
    assert!(row.revoked_at.is_some());

    // Again: 409; an unknown id: 404; not an id: 400.
    let r = post(&env.admin(), &format!("/v1/tokens/{}/revoke", id_of(&it)));
    assert_eq!(
        (r.status, json(&r)["error"].as_str()),
        (409, Some("already_revoked"))
    );
    let r = post(&env.admin(), "/v1/tokens/00000000/revoke");
    assert_eq!(r.status, 404);
    let r = post(&env.admin(), "/v1/tokens/xyz/revoke");
    assert_eq!(r.status, 400);

    // The last usable admin token cannot be revoked, and keeps working.
    let r = post(
        &env.admin(),
        &format!("/v1/tokens/{}/revoke", id_of(&env.admin_token)),
    );
    assert_eq!(r.status, 403);
    assert!(
        json(&r)["message"]
            .as_str()
            .unwrap()
            .contains("last usable admin token")
    );
    assert_eq!(env.admin().get("/v1/tokens").unwrap().status, 200);
    // With a second admin token it can go.
    let second = env.token("admin", None);
    let r = post(
        &env.client_with(&second),
        &format!("/v1/tokens/{}/revoke", id_of(&env.admin_token)),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(env.admin().get("/v1/tokens").unwrap().status, 401);
}

#[test]
fn a_revocation_on_the_data_directory_reaches_the_running_server() {
    let env = start();
    let auditor = env.token("auditor", None);
    let client = env.client_with(&auditor);
    assert_eq!(client.get("/v1/audit/checkpoint").unwrap().status, 200);
    let info = pramaan_server::server::revoke_token(env.dir.path(), id_of(&auditor)).unwrap();
    assert_eq!(info.revoked_by.as_deref(), Some("admin-cli"));
    let r = client.get("/v1/audit/checkpoint").unwrap();
    assert_eq!(r.status, 401);
    assert!(json(&r)["message"].as_str().unwrap().contains("revoked"));
    // The only admin token cannot be revoked offline either.
    let e =
        pramaan_server::server::revoke_token(env.dir.path(), id_of(&env.admin_token)).unwrap_err();
    assert!(e.to_string().contains("last usable admin token"), "{e}");
}

#[test]
fn an_expired_bearer_token_is_refused() {
    let env = start();
    let minted = pramaan_server::server::create_token_with(
        env.dir.path(),
        &NewToken {
            role: "auditor".parse().unwrap(),
            department: None,
            name: Some("short-lived"),
            expires_in: Some(1),
            new_department: false,
            by: "admin-cli",
        },
    )
    .unwrap();
    assert_eq!(minted.row.expires_at, Some(minted.row.created_at + 1));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = env
        .client_with(&minted.secret)
        .get("/v1/audit/checkpoint")
        .unwrap();
    assert_eq!(r.status, 401);
    assert!(json(&r)["message"].as_str().unwrap().contains("expired"));
    // A token that expires later still works.
    let later = pramaan_server::server::create_token_with(
        env.dir.path(),
        &NewToken {
            role: "auditor".parse().unwrap(),
            department: None,
            name: None,
            expires_in: Some(3600),
            new_department: false,
            by: "admin-cli",
        },
    )
    .unwrap();
    let r = env
        .client_with(&later.secret)
        .get("/v1/audit/checkpoint")
        .unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn an_it_token_for_an_unknown_department_is_refused_unless_new() {
    let env = start();
    env.seed();
    let spec = |department, new_department| NewToken {
        role: "it".parse().unwrap(),
        department: Some(department),
        name: None,
        expires_in: None,
        new_department,
        by: "admin-cli",
    };
    let e = pramaan_server::server::create_token_with(env.dir.path(), &spec("gad", false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("GAD, not gad?"), "{e}");
    assert!(e.contains("Known departments: GAD, REV"), "{e}");
    let before = env.log_entries().len();
    assert!(
        pramaan_server::server::create_token_with(env.dir.path(), &spec("NOSUCH", false)).is_err()
    );
    assert_eq!(env.log_entries().len(), before, "a refusal logs nothing");
    assert!(pramaan_server::server::create_token_with(env.dir.path(), &spec("GAD", false)).is_ok());
    assert!(pramaan_server::server::create_token_with(env.dir.path(), &spec("NEW", true)).is_ok());
}

#[test]
fn enrollment_tokens_are_listed_and_cancelled_by_their_department() {
    let env = start();
    env.seed();
    let it_gad = env.client_with(&env.token("it", Some("GAD")));
    let it_rev = env.client_with(&env.token("it", Some("REV")));
    let auditor = env.client_with(&env.token("auditor", None));
    let issue = |officer: &str, ttl: Option<u64>| {
        let mut body = serde_json::json!({ "officer_id": officer });
        if let Some(t) = ttl {
            body["ttl_secs"] = t.into();
        }
        it_gad
            .post(
                "/v1/enrollment-tokens",
                "application/json",
                body.to_string().as_bytes(),
            )
            .unwrap()
    };
    // Per-token life, bounded.
    let r = issue("GAD-001", Some(7200));
    assert_eq!(r.status, 200);
    let v = json(&r);
    let expires = v["expires"].as_u64().unwrap();
    assert!((now() + 7190..=now() + 7200).contains(&expires), "{v}");
    let token = pramaan_core::enroll_uri::EnrollmentUri::parse(v["uri"].as_str().unwrap())
        .unwrap()
        .token;
    let id = hex::encode(&hash_secret(token.as_bytes())[..8]);
    for bad in [60, 31 * 86_400] {
        let r = issue("GAD-001", Some(bad));
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            json(&r)["message"]
                .as_str()
                .unwrap()
                .contains("5 minutes and 30 days")
        );
    }
    assert_eq!(issue("GAD-002", None).status, 200);

    let list = |client: &HttpsClient, query: &str| {
        let r = client
            .get(&format!("/v1/enrollment-tokens{query}"))
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let text = String::from_utf8_lossy(&r.body).to_string();
        assert!(!text.contains(&token), "never the token");
        serde_json::from_slice::<EnrollTokenList>(&r.body).unwrap()
    };
    let mine = list(&it_gad, "");
    assert_eq!(mine.tokens.len(), 2);
    assert_eq!(mine.tokens[1].id, id, "newest first");
    assert_eq!(mine.tokens[1].state, EnrollTokenState::Outstanding);
    assert_eq!(list(&auditor, "?department=GAD").tokens.len(), 2);
    assert_eq!(list(&auditor, "?department=REV").tokens.len(), 0);
    assert_eq!(
        it_rev
            .get("/v1/enrollment-tokens?department=GAD")
            .unwrap()
            .status,
        403
    );
    assert_eq!(list(&it_rev, "").tokens.len(), 0);

    // Cancelled by GAD's IT, not by REV's (404, as if absent) nor the auditor (403).
    let path = format!("/v1/enrollment-tokens/{id}/cancel");
    assert_eq!(post(&it_rev, &path).status, 404);
    assert_eq!(post(&auditor, &path).status, 403);
    let r = post(&it_gad, &path);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(list(&it_gad, "").tokens.len(), 1, "no longer outstanding");
    let all = list(&it_gad, "?all=true");
    let t = all.tokens.iter().find(|t| t.id == id).unwrap();
    assert_eq!(t.state, EnrollTokenState::Cancelled);
    assert!(
        t.cancelled_by
            .as_deref()
            .is_some_and(|b| b.starts_with("it:"))
    );
    let r = post(&it_gad, "/v1/enrollment-tokens/nothex/cancel");
    assert_eq!(r.status, 400);
}

#[test]
fn an_admin_mints_a_token_over_the_api() {
    let env = start();
    env.seed();
    let mint = |body: &str| {
        env.admin()
            .post("/v1/tokens", "application/json", body.as_bytes())
            .unwrap()
    };
    let r = mint(r#"{"role":"it","department":"gad"}"#);
    assert_eq!(r.status, 404);
    assert!(
        json(&r)["message"]
            .as_str()
            .unwrap()
            .contains("GAD, not gad?")
    );
    assert_eq!(mint(r#"{"role":"it"}"#).status, 400);
    assert_eq!(mint(r#"{"role":"root"}"#).status, 400);
    assert_eq!(mint(r#"{"role":"auditor","extra":1}"#).status, 400);
    let r = mint(r#"{"role":"it","department":"GAD","name":"laptop-17","expires_in_secs":3600}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let minted: pramaan_core::api::MintedToken = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(minted.info.id, id_of(&minted.token).to_string());
    assert_eq!(minted.info.name.as_deref(), Some("laptop-17"));
    let admin_label = format!("admin:{}", id_of(&env.admin_token));
    assert_eq!(
        minted.info.created_by.as_deref(),
        Some(admin_label.as_str())
    );
    assert_eq!(minted.info.expires_at, Some(minted.info.created_at + 3600));
    let r = env
        .client_with(&minted.token)
        .get("/v1/compliance")
        .unwrap();
    assert_eq!(r.status, 200);
    let r = mint(r#"{"role":"it","department":"NEW","new_department":true}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
