//! The registry lifecycle (issue 11): dry runs that change nothing, counts in every mode,
//! unchanged rows not written again, email-domain warnings, retiring an officer (out of
//! the report, devices revoked, tokens cancelled, reinstated by a new import), moving one
//! (devices follow: the new department's IT may revoke them, the old one may not), and
//! rosters (empty refused unless asked, duplicates counted once).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::transport::{HttpsClient, Response};
use pramaan_server::store::{LogEntry, StoreError, read_transaction};
use serde_json::{Value, json};

fn log(env: &Env) -> Vec<LogEntry> {
    read_transaction(env.server().store().as_ref(), |tx| {
        pramaan_tlog::entries(tx.log(), 0, u64::MAX / 2).map_err(StoreError::from_log)
    })
    .expect("entries")
    .into_iter()
    .map(|(_, data)| LogEntry::from_leaf(&data).expect("a leaf parses"))
    .collect()
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into()))
}

fn post_json(c: &HttpsClient, path: &str, v: Value) -> Response {
    c.post(path, "application/json", v.to_string().as_bytes())
        .expect("request")
}

fn import(c: &HttpsClient, query: &str, csv: &str) -> (u16, Value) {
    let r = c
        .post(
            &format!("/v1/officers/import{query}"),
            "text/csv",
            csv.as_bytes(),
        )
        .expect("import");
    (r.status, body(&r))
}

const HEADER: &str = "officer_id,name,designation,department,email,mobile,entitled";

fn officers_listed(env: &Env, department: &str) -> String {
    env.compliance(department).to_string()
}

#[test]
fn dry_run_counts_and_changes_nothing() {
    let env = start();
    env.seed();
    let admin = env.admin();
    // GAD-001 unchanged, GAD-002 updated, GAD-003 added, REV-001 moved to GAD, a bad row.
    let csv = format!(
        "{HEADER}\n\
         GAD-001,A. Shah,Deputy Secretary,GAD,a.shah@gujarat.gov.in,+919800000001,true\n\
         GAD-002,B. Patel,Joint Secretary,GAD,b.patel@gujarat.gov.in,9800000002,true\n\
         GAD-003,C. New,Section Officer,GAD,c.new@gmail.com,09800000033,true\n\
         REV-001,C. Desai,Deputy Collector,GAD,c.desai@gujarat.gov.in,+919800000003,true\n\
         GAD-004,D. Bad,Section Officer,GAD,d@gujarat.gov.in,not-a-phone,true\n"
    );
    let before = (env.counts(), log(&env).len(), officers_listed(&env, "GAD"));
    let (status, v) = import(&admin, "?dry_run=true", &csv);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["dry_run"], true);
    let counts: Vec<u64> = [
        "imported",
        "added",
        "updated",
        "unchanged",
        "moved",
        "reinstated",
    ]
    .iter()
    .map(|k| v[k].as_u64().unwrap())
    .collect();
    assert_eq!(counts, vec![0, 1, 1, 1, 1, 0], "{v}");
    assert_eq!(v["rejected"][0]["line"], 6, "{v}");
    assert_eq!(v["rejected"][0]["field"], "mobile", "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("c.new@gmail.com") && warnings.contains("line 4"),
        "{v}"
    );
    // Nothing written, nothing logged; the same with ?partial=true&dry_run=true.
    let (status, _) = import(&admin, "?partial=true&dry_run=true", &csv);
    assert_eq!(status, 200);
    assert_eq!(
        (env.counts(), log(&env).len(), officers_listed(&env, "GAD")),
        before
    );
    assert!(env.officer("REV-001").to_string().contains("\"REV\""));
}

#[test]
fn partial_import_writes_only_changes_and_warns() {
    let env = start();
    env.seed();
    let admin = env.admin();
    let n = log(&env).len();
    // Importing the registry again: every row unchanged, nothing written or logged.
    let (status, v) = import(&admin, "", OFFICERS);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["imported"].as_u64(), v["unchanged"].as_u64()),
        (Some(0), Some(3)),
        "{v}"
    );
    assert_eq!(log(&env).len(), n, "an unchanged registry logs nothing");
    // A changed row is written and logged, normalized; the gmail address is a warning.
    let csv = format!(
        "{HEADER},phone_purchased\n\
         GAD-002,B. Patel,Joint Secretary,GAD,b.patel@gmail.com,098000 00002,true,31/01/2025\n"
    );
    let (status, v) = import(&admin, "", &csv);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["imported"].as_u64(), v["updated"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert!(
        v["warnings"][0].as_str().unwrap().contains("gmail.com"),
        "{v}"
    );
    let entries = log(&env);
    assert_eq!(entries.len(), n + 1);
    let LogEntry::RegistryImport { officers, .. } = &entries[n] else {
        panic!("{:?}", entries[n]);
    };
    assert_eq!(officers.len(), 1);
    assert_eq!(officers[0].mobile, "+919800000002");
    assert_eq!(officers[0].phone_purchased.as_deref(), Some("2025-01-31"));
}

#[test]
fn retire_leaves_the_report_revokes_devices_and_import_reinstates() {
    let env = start();
    env.seed();
    let device = env.enroll("GAD-001");
    let spare = env.enrollment_token("GAD-001");
    let it_gad = env.client_with(&env.token("it", Some("GAD")));
    let it_rev = env.client_with(&env.token("it", Some("REV")));
    let auditor = env.client_with(&env.token("auditor", None));
    let retire = json!({"reason": "superannuation 2026-11-30"});
    // Refused: another department's IT (as if unknown), an auditor, no reason.
    let r = post_json(&it_rev, "/v1/officers/GAD-001/retire", retire.clone());
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (404, Some("unknown_officer"))
    );
    let r = post_json(&auditor, "/v1/officers/GAD-001/retire", retire.clone());
    assert_eq!(r.status, 403);
    let r = post_json(
        &it_gad,
        "/v1/officers/GAD-001/retire",
        json!({"reason": " "}),
    );
    assert_eq!(r.status, 400);
    assert!(officers_listed(&env, "GAD").contains("GAD-001"));
    let n = log(&env).len();
    // Allowed: GAD's IT.
    let r = post_json(&it_gad, "/v1/officers/GAD-001/retire", retire.clone());
    let v = body(&r);
    assert_eq!(r.status, 200, "{v}");
    assert_eq!(v["devices_revoked"], json!([device.id]), "{v}");
    assert_eq!(v["enrollment_tokens_cancelled"], 1, "{v}");
    let entries = log(&env);
    assert_eq!(entries.len(), n + 1, "one entry");
    assert!(matches!(
        &entries[n],
        LogEntry::OfficerRetired { officer_id, devices, reason, .. }
            if officer_id == "GAD-001" && devices == &vec![device.id] && reason.starts_with("superannuation")
    ));
    let row = env.device_row(&device.id).unwrap();
    assert!(row.revoked);
    assert_eq!(row.reason.as_deref(), Some("superannuation 2026-11-30"));
    let report = officers_listed(&env, "GAD");
    assert!(
        !report.contains("GAD-001") && report.contains("GAD-002"),
        "{report}"
    );
    // The row stays readable with its retirement time.
    assert!(env.officer("GAD-001")["officer"]["retired_at"].is_u64());
    // Twice: refused.
    let r = post_json(&it_gad, "/v1/officers/GAD-001/retire", retire);
    assert_eq!(r.status, 409);
    // No enrollment token for a retired officer.
    let r = post_json(
        &it_gad,
        "/v1/enrollment-tokens",
        json!({"officer_id": "GAD-001"}),
    );
    assert_eq!(r.status, 409, "{}", body(&r));
    assert!(body(&r)["message"].as_str().unwrap().contains("retired"));
    // The cancelled token is marked so in the store (part 1 refuses it at enrollment).
    let cancelled: i64 = {
        let db = rusqlite::Connection::open(env.data_dir().join("pramaan.db")).unwrap();
        db.query_row(
            "SELECT COUNT(*) FROM enrollment_tokens WHERE officer_id = 'GAD-001' AND cancelled_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(cancelled, 1);
    drop(spare);
    // Importing the row again reinstates the officer.
    let (status, v) = import(&env.admin(), "", OFFICERS);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["reinstated"].as_u64(), v["unchanged"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert!(officers_listed(&env, "GAD").contains("GAD-001"));
    assert!(env.officer("GAD-001")["officer"]["retired_at"].is_null());
}

#[test]
fn moved_officers_devices_follow_to_the_new_department() {
    let env = start();
    env.seed();
    let device = env.enroll("GAD-002");
    let it_gad = env.client_with(&env.token("it", Some("GAD")));
    let it_rev = env.client_with(&env.token("it", Some("REV")));
    let to_rev = json!({"department": "REV"});
    // Only an admin moves officers.
    let r = post_json(&it_gad, "/v1/officers/GAD-002/move", to_rev.clone());
    assert_eq!(r.status, 403);
    let r = post_json(
        &env.admin(),
        "/v1/officers/GAD-002/move",
        json!({"department": "NOPOLICY"}),
    );
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (409, Some("no_policy"))
    );
    let n = log(&env).len();
    let r = post_json(&env.admin(), "/v1/officers/GAD-002/move", to_rev.clone());
    let v = body(&r);
    assert_eq!(r.status, 200, "{v}");
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str()),
        (Some("GAD"), Some("REV"))
    );
    assert!(matches!(
        &log(&env)[n],
        LogEntry::OfficerMoved { from, to, devices, .. }
            if from == "GAD" && to == "REV" && devices == &vec![device.id]
    ));
    assert_eq!(env.device_row(&device.id).unwrap().department, "REV");
    assert!(officers_listed(&env, "REV").contains("GAD-002"));
    assert!(!officers_listed(&env, "GAD").contains("GAD-002"));
    // The old IT may no longer revoke the device (answered as unknown); the new IT may.
    let revoke = json!({"reason": "lost"});
    let path = format!("/v1/devices/{}/revoke", device.id);
    let r = post_json(&it_gad, &path, revoke.clone());
    assert_eq!(r.status, 404, "{}", body(&r));
    let r = post_json(&it_rev, &path, revoke);
    assert_eq!(r.status, 200, "{}", body(&r));
    // An admin's import row with another department moves the officer back (reported as
    // moved, logged as a move), and GAD's IT cannot import REV's officer into GAD.
    let back = format!(
        "{HEADER}\nGAD-002,B. Patel,Under Secretary,GAD,b.patel@gujarat.gov.in,+919800000002,true\n"
    );
    let (status, v) = import(&it_gad, "", &back);
    assert_eq!(
        (status, v["rejected"][0]["field"].as_str()),
        (422, Some("officer_id")),
        "{v}"
    );
    let n = log(&env).len();
    let (status, v) = import(&env.admin(), "", &back);
    assert_eq!((status, v["moved"].as_u64()), (200, Some(1)), "{v}");
    let entries = log(&env);
    assert!(matches!(&entries[n], LogEntry::OfficerMoved { to, .. } if to == "GAD"));
    assert!(matches!(&entries[n + 1], LogEntry::RegistryImport { .. }));
    assert_eq!(env.device_row(&device.id).unwrap().department, "GAD");
}

#[test]
fn rosters_refuse_empty_and_count_duplicates_once() {
    let env = start();
    env.seed();
    let it_gad = env.client_with(&env.token("it", Some("GAD")));
    let path = "/v1/departments/GAD/groups/gad-officers/roster";
    let header = "platform,group,handle\n";
    let n = log(&env).len();
    let r = it_gad.put(path, "text/csv", header.as_bytes()).unwrap();
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (400, Some("invalid_roster"))
    );
    assert!(
        body(&r)["message"]
            .as_str()
            .unwrap()
            .contains("--allow-empty")
    );
    assert_eq!(log(&env).len(), n, "nothing logged");
    let r = it_gad
        .put(
            &format!("{path}?allow_empty=true"),
            "text/csv",
            header.as_bytes(),
        )
        .unwrap();
    assert_eq!((r.status, body(&r)["handles"].as_u64()), (200, Some(0)));
    let dup = "platform,group,handle\n\
               WhatsApp,gad-officers,9800000001\n\
               WhatsApp,gad-officers,+919800000001\n\
               WhatsApp,gad-officers,+91 98000 00002\n";
    let r = it_gad.put(path, "text/csv", dup.as_bytes()).unwrap();
    let v = body(&r);
    assert_eq!(
        (r.status, v["handles"].as_u64(), v["duplicates"].as_u64()),
        (200, Some(2), Some(1)),
        "{v}"
    );
    let entries = log(&env);
    let LogEntry::RosterSet { handles, .. } = entries.last().unwrap() else {
        panic!("{:?}", entries.last());
    };
    assert_eq!(
        handles,
        &vec!["+919800000001".to_string(), "+919800000002".to_string()]
    );
}
