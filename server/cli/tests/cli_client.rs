//! The client commands (`officers import|show`, `policy set`, `roster set`, `enroll-token`,
//! `compliance`, `devices revoke|list`, `evidence status-list`) run as the built `pramaan` binary against a real
//! server started in-process over TLS, the way department IT runs them: what is checked
//! is what a user sees (stdout, stderr, exit status), not internal values.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pramaan_core::SoftwareSigner;
use pramaan_core::agent::{Agent, Facts};
use pramaan_core::claims::Platform;
use pramaan_server::server::{self, InitOutput, Running};
use pramaan_server::store::Role;

use pramaan_testkit::POLICY_GAD as POLICY;

const OFFICERS: &str = "officer_id,name,designation,department,email,mobile,entitled
GAD-001,Rajesh Patel,Additional Chief Secretary,GAD,rajesh.patel@gujarat.gov.in,+919825010001,true
GAD-002,Hemaben Desai,Principal Secretary,GAD,hema.desai@gujarat.gov.in,+919825010002,true
GAD-003,Kiran Mehta,Secretary,GAD,kiran.mehta@gujarat.gov.in,+919825010003,false
";

const ROSTER: &str = "platform,group,handle
WhatsApp,gad-officers,+919825010001
WhatsApp,gad-officers,+919825010002
";

/// Google's revocation status list, three entries.
const LIST: &str = r#"{"entries": {
    "2c8cdddfd5e03bfc": {"status": "REVOKED", "expires": "2020-11-13", "reason": "KEY_COMPROMISE"},
    "c8966fcb2fbe32": {"status": "SUSPENDED", "reason": "SOFTWARE_FLAW"},
    "1dc5f2f8c48b4f1c": {"status": "REVOKED"}
}}"#;

struct Env {
    dir: tempfile::TempDir,
    init: InitOutput,
    running: Running,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let init = server::admin_init(&data, "localhost").expect("admin init");
        let running = server::start(&data, "127.0.0.1:0".parse().expect("addr")).expect("start");
        Env { dir, init, running }
    }

    fn file(&self, name: &str, text: &str) -> std::path::PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn token(&self, role: Role, department: Option<&str>) -> String {
        server::create_token(&self.running.data_dir, role, department).expect("token")
    }

    /// Runs `pramaan ARGS` as the admin.
    fn run(&self, args: &[&str]) -> Output {
        self.run_as(&self.init.admin_token, args)
    }

    fn run_as(&self, token: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pramaan"))
            .args(args)
            .env("PRAMAAN_SERVER", &self.running.url)
            .env("PRAMAAN_TOKEN", token)
            .env("PRAMAAN_PIN", &self.init.pin_b64url)
            .env_remove("PRAMAAN_CA")
            .env("NO_COLOR", "1")
            .output()
            .expect("run pramaan")
    }

    /// Sets the policy and the registry (with the admin token).
    fn department(&self) {
        let policy = self.file("policy.toml", POLICY);
        ok(&self.run(&["policy", "set", path(&policy)]));
        let officers = self.file("officers.csv", OFFICERS);
        ok(&self.run(&["officers", "import", path(&officers)]));
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "expected success\nstdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn fails(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected failure\nstdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    stderr(o)
}

/// Enrolls a device for `officer` through the real protocol and checks it in once.
fn enroll(env: &Env, officer: &str, facts: &str) -> uuid::Uuid {
    let out = ok(&env.run(&["enroll-token", "--officer", officer, "--no-qr"]));
    let uri = out.lines().next().expect("uri line").to_string();
    let agent = Agent::open(
        &env.dir.path().join(format!("device-{officer}")),
        Arc::new(SoftwareSigner::generate().expect("key")),
    )
    .expect("agent");
    let facts = Facts::from_toml(facts).expect("facts");
    let enrollment = agent.enroll(&uri, &facts, None).expect("enroll");
    agent.check_in(&facts).expect("check in");
    enrollment.device_id
}

fn compliant_facts(email: &str, handle: &str) -> String {
    pramaan_testkit::facts_toml(&Facts {
        platform: Platform::Desktop,
        os_name: String::new(),
        os_version: String::new(),
        patch_level: String::new(),
        ..pramaan_testkit::compliant_facts(email, handle)
    })
}

#[test]
fn officers_import_reports_every_rejected_row_by_line() {
    let env = Env::new();
    ok(&env.run(&["policy", "set", path(&env.file("p.toml", POLICY))]));
    let csv = env.file(
        "bad.csv",
        "officer_id,name,designation,department,email,mobile,entitled
GAD-001,Rajesh Patel,ACS,GAD,rajesh.patel@gujarat.gov.in,+919825010001,true
GAD-002,Hemaben Desai,PS,GAD,not-an-email,+919825010002,true
GAD-003,Kiran Mehta,Secretary,GAD,kiran.mehta@gujarat.gov.in,+919825010003,maybe
GAD-004,Nilesh Shah,JS,GAD,nilesh.shah@gujarat.gov.in,+919825010004,yes
",
    );
    let out = env.run(&["officers", "import", path(&csv)]);
    let err = fails(&out);
    assert!(
        stdout(&out).contains("refused (nothing written)"),
        "{}",
        stdout(&out)
    );
    assert!(
        err.contains("line 3: email:") && err.contains("not-an-email"),
        "{err}"
    );
    assert!(err.contains("line 4: entitled:"), "{err}");
    assert!(
        err.contains("2 row(s)") && err.contains("nothing was imported"),
        "{err}"
    );
    let json = ok(&env.run(&["compliance", "--department", "GAD", "--format", "json"]));
    assert!(!json.contains("GAD-004"), "all or nothing: {json}");
    // A dry run reports what would happen and writes nothing.
    let dry = env.run(&["officers", "import", "--dry-run", path(&csv)]);
    fails(&dry);
    assert!(
        stdout(&dry).contains("dry run (nothing written)")
            && stdout(&dry).contains("2 added, 0 updated"),
        "{}",
        stdout(&dry)
    );
    // --partial writes the good rows; with --allow-rejected that is a success.
    let again = env.run(&[
        "officers",
        "import",
        "--partial",
        "--allow-rejected",
        path(&csv),
    ]);
    ok(&again);
    assert!(stderr(&again).contains("line 3:"));
    assert!(stdout(&again).contains("2 added"), "{}", stdout(&again));
    let json = ok(&env.run(&["compliance", "--department", "GAD", "--format", "json"]));
    assert!(
        json.contains("GAD-004") && !json.contains("GAD-003"),
        "{json}"
    );
}

#[test]
fn policy_set_checks_the_file_and_the_department() {
    let env = Env::new();
    let file = env.file("policy.toml", POLICY);
    let out = ok(&env.run(&["policy", "set", path(&file)]));
    assert!(
        out.contains("policy of GAD set") && out.contains("WhatsApp"),
        "{out}"
    );
    let err = fails(&env.run(&["policy", "set", path(&file), "--department", "HD"]));
    assert!(err.contains("does not match"), "{err}");
    let bad = env.file(
        "bad.toml",
        "department = \"GAD\"\nemail_domain = [\"x.in\"]\n",
    );
    let err = fails(&env.run(&["policy", "set", path(&bad)]));
    assert!(err.contains("bad.toml"), "{err}");
    let err = fails(&env.run(&["policy", "set", "/nonexistent/policy.toml"]));
    assert!(
        err.contains("cannot read /nonexistent/policy.toml"),
        "{err}"
    );
}

#[test]
fn roster_set_uploads_and_refuses_another_group() {
    let env = Env::new();
    env.department();
    let file = env.file("roster.csv", ROSTER);
    let out = ok(&env.run(&[
        "roster",
        "set",
        "--department",
        "GAD",
        "--group",
        "gad-officers",
        path(&file),
    ]));
    assert!(
        out.contains("GAD/gad-officers") && out.contains("2 handle(s)"),
        "{out}"
    );
    let err = fails(&env.run(&[
        "roster",
        "set",
        "--department",
        "GAD",
        "--group",
        "other",
        path(&file),
    ]));
    assert!(err.contains("\"other\""), "{err}");
}

#[test]
fn enroll_token_prints_uri_qr_and_writes_a_png() {
    let env = Env::new();
    env.department();
    let png = env.dir.path().join("qr.png");
    let out = env.run(&["enroll-token", "--officer", "GAD-001", "--png", path(&png)]);
    let text = ok(&out);
    let first = text.lines().next().unwrap_or("");
    assert!(first.starts_with("pramaan://enroll?"), "{text}");
    assert!(
        first.contains(&format!("pin={}", env.init.pin_b64url)),
        "{first}"
    );
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("expires 20")),
        "{text}"
    );
    assert!(
        text.contains('█') || text.contains('▀'),
        "QR code drawn: {text}"
    );
    let bytes = std::fs::read(&png).expect("png written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let img = image::load_from_memory(&bytes).expect("decodes").to_luma8();
    assert!(img.width() >= 400);
    // Captioned under the code: the officer and the expiry drawn in the bottom rows
    // (below the code's white quiet zone).
    let ink = |rows: std::ops::Range<u32>| {
        rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 128)
            .count()
    };
    let h = img.height();
    assert!(ink(h - 56..h - 32) > 100, "officer line drawn");
    assert!(ink(h - 32..h - 8) > 100, "expiry line drawn");
    let err = fails(&env.run(&["enroll-token", "--officer", "NOBODY"]));
    assert!(err.contains("server refused: 404 unknown_officer"), "{err}");
}

#[test]
fn compliance_in_table_json_and_csv() {
    let env = Env::new();
    env.department();
    let roster = env.file("roster.csv", ROSTER);
    ok(&env.run(&[
        "roster",
        "set",
        "--department",
        "GAD",
        "--group",
        "gad-officers",
        path(&roster),
    ]));
    enroll(
        &env,
        "GAD-001",
        &compliant_facts("rajesh.patel@gujarat.gov.in", "+919825010001"),
    );
    enroll(
        &env,
        "GAD-002",
        &compliant_facts("hema.desai@gmail.com", "+919825010002"),
    );

    let table = ok(&env.run(&["compliance", "--department", "GAD"]));
    let line = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} missing: {table}"))
            .to_string()
    };
    assert!(line("GAD-001").contains(" compliant "), "{table}");
    assert!(line("GAD-002").contains("noncompliant") && line("GAD-002").contains("R1:"));
    // GAD-003 is not entitled to the GR-funded phone and has none.
    assert!(line("GAD-003").contains("not_entitled"), "{table}");
    // Columns line up: the status starts at the same offset on every line.
    let header = table
        .lines()
        .find(|l| l.starts_with("OFFICER"))
        .expect("header");
    let col = header.find("STATUS").expect("status column");
    for id in ["GAD-001", "GAD-002", "GAD-003"] {
        let l = line(id);
        assert!(
            l[col..].starts_with("compliant")
                || l[col..].starts_with("noncompliant")
                || l[col..].starts_with("not_entitled"),
            "{l}"
        );
    }
    assert!(table.contains("3 officer(s): compliant 1, warning 0, noncompliant 1, stale 0, not_enrolled 0, revoked 0, not_entitled 1"), "{table}");

    let json = ok(&env.run(&["compliance", "--department", "GAD", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let officers = v["officers"].as_array().expect("officers");
    assert_eq!(officers.len(), 3);
    let gad2 = officers
        .iter()
        .find(|o| o["officer_id"] == "GAD-002")
        .expect("GAD-002");
    assert_eq!(gad2["status"], "noncompliant");
    assert_eq!(gad2["failures"][0]["rule"], "R1");

    let csv = ok(&env.run(&["compliance", "--department", "GAD", "--format", "csv"]));
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.contains("officer_id") && h.contains("status")),
        "{csv}"
    );
    // Files get ISO 8601 UTC times (the JSON keeps Unix seconds).
    let gad1 = csv
        .lines()
        .find(|l| l.starts_with("GAD-001,"))
        .expect("GAD-001 row");
    let header: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
    let cells: Vec<&str> = gad1.split(',').collect();
    for name in ["last_seen", "evidence_at"] {
        let i = header.iter().position(|h| *h == name).expect(name);
        assert!(
            time::OffsetDateTime::parse(cells[i], &time::format_description::well_known::Rfc3339)
                .is_ok_and(|t| t.offset().is_utc())
                && cells[i].ends_with('Z'),
            "{name}: {gad1}"
        );
    }
    let gad1_json = officers
        .iter()
        .find(|o| o["officer_id"] == "GAD-001")
        .expect("GAD-001");
    assert!(gad1_json["last_seen"].is_u64(), "{gad1_json}");
    assert_eq!(gad1_json["active_devices"], 1);
    assert_eq!(lines.count(), 3, "{csv}");
}

#[test]
fn officers_show_prints_registry_status_devices_and_recent_results() {
    let env = Env::new();
    env.department();
    let first = enroll(
        &env,
        "GAD-002",
        &compliant_facts("hema.desai@gmail.com", "+919825010002"),
    );
    let id = first.to_string();
    ok(&env.run(&["devices", "revoke", &id, "--reason", "reported lost"]));
    let out = ok(&env.run(&["officers", "show", "GAD-002"]));
    assert!(out.starts_with("Officer GAD-002  Hemaben Desai\n"), "{out}");
    for want in [
        "designation     Principal Secretary",
        "email           hema.desai@gujarat.gov.in",
        "entitled        yes",
        "Status: revoked",
        "R2: every enrolled device (1) is revoked",
        "What to do: enroll the official phone again: pramaan enroll-token --officer GAD-002",
        "Devices (1):",
        "REVOKED: reported lost",
        "recent results (newest first):",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{out}");
    }
    let device_line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&id))
        .expect("device line");
    assert!(device_line.contains("desktop"), "{device_line}");
    // Its one check-in, with the R1 failure it had, at an RFC 3339 time.
    let result = out
        .lines()
        .find(|l| l.trim_start().starts_with("seq 1 "))
        .expect("result line");
    assert!(
        result.contains("contraindicated") && result.contains("R1:"),
        "{result}"
    );
    assert!(result.contains("Z  "), "{result}");
    assert!(out.contains("last check-in 20"), "{out}");
    // JSON is the server's answer.
    let json = ok(&env.run(&["officers", "show", "GAD-002", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["devices"][0]["recent"][0]["seq"], 1);
    assert_eq!(v["compliance"]["status"], "revoked");
    // Unknown officers and IT of another department get the same refusal.
    let err = fails(&env.run(&["officers", "show", "GAD-404"]));
    assert!(err.contains("404 unknown_officer"), "{err}");
    let rev = env.token(Role::It, Some("REV"));
    let err = fails(&env.run_as(&rev, &["officers", "show", "GAD-002"]));
    assert!(err.contains("404 unknown_officer"), "{err}");
    // An officer without a device is told how to enroll one.
    let out = ok(&env.run(&["officers", "show", "GAD-001"]));
    assert!(out.contains("Status: not_enrolled"), "{out}");
    assert!(
        out.contains("pramaan enroll-token --officer GAD-001"),
        "{out}"
    );
    assert!(out.contains("Devices (0):"), "{out}");
}

#[test]
fn devices_list_in_table_json_and_csv() {
    let env = Env::new();
    env.department();
    let kept = enroll(
        &env,
        "GAD-001",
        &compliant_facts("rajesh.patel@gujarat.gov.in", "+919825010001"),
    );
    let lost = enroll(
        &env,
        "GAD-002",
        &compliant_facts("hema.desai@gujarat.gov.in", "+919825010002"),
    );
    ok(&env.run(&[
        "devices",
        "revoke",
        &lost.to_string(),
        "--reason",
        "=cmd|' /C calc'!A0",
    ]));
    let it = env.token(Role::It, Some("GAD"));
    // IT's own department, active devices by default.
    let table = ok(&env.run_as(&it, &["devices", "list"]));
    let header = table
        .lines()
        .find(|l| l.starts_with("DEVICE"))
        .expect("header");
    for col in [
        "OFFICER",
        "NAME",
        "PLATFORM",
        "MODEL",
        "ASSURANCE",
        "ENROLLED",
        "LAST CHECK-IN",
        "EVIDENCE AGE",
        "STATE",
    ] {
        assert!(header.contains(col), "{col}: {header}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with(&kept.to_string()))
        .expect("kept device");
    assert!(
        row.contains("GAD-001") && row.contains("Rajesh Patel") && row.contains("active"),
        "{row}"
    );
    assert!(!table.contains(&lost.to_string()), "{table}");
    assert!(table.contains("1 device(s)"), "{table}");
    // Revoked ones on request, with the reason.
    let revoked = ok(&env.run_as(&it, &["devices", "list", "--status", "revoked"]));
    assert!(
        revoked.contains(&lost.to_string()) && revoked.contains("revoked: =cmd"),
        "{revoked}"
    );
    // JSON: the server's answer.
    let json = ok(&env.run_as(
        &it,
        &["devices", "list", "--status", "all", "--format", "json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["devices"].as_array().map(Vec::len), Some(2), "{v}");
    // CSV: RFC 3339 times, formula cells neutralized.
    let csv = ok(&env.run_as(
        &it,
        &["devices", "list", "--status", "all", "--format", "csv"],
    ));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "device_id,officer_id,officer_name,platform,model,assurance,enrolled_at,last_check_in,revoked,reason,evidence_at,evidence_age_days"
        )
    );
    let lost_row = csv
        .lines()
        .find(|l| l.starts_with(&lost.to_string()))
        .expect("lost row");
    assert!(
        lost_row.contains(",true,'=cmd|' /C calc'!A0,"),
        "{lost_row}"
    );
    assert!(lost_row.contains("Z,"), "{lost_row}");
    // Auditors name the department; IT of another department is refused as for an
    // unknown one.
    let auditor = env.token(Role::Auditor, None);
    let err = fails(&env.run_as(&auditor, &["devices", "list"]));
    assert!(err.contains("department_required"), "{err}");
    ok(&env.run_as(&auditor, &["devices", "list", "--department", "GAD"]));
    let rev = env.token(Role::It, Some("REV"));
    let err = fails(&env.run_as(&rev, &["devices", "list", "--department", "GAD"]));
    assert!(
        err.contains("404 not_found") && err.contains("no department GAD"),
        "{err}"
    );
}

#[test]
fn devices_revoke_marks_the_officer_revoked() {
    let env = Env::new();
    env.department();
    let id = enroll(
        &env,
        "GAD-001",
        &compliant_facts("rajesh.patel@gujarat.gov.in", "+919825010001"),
    );
    let id_text = id.to_string();
    let out = ok(&env.run(&["devices", "revoke", &id_text, "--reason", "reported lost"]));
    assert!(out.contains(&format!("device {id} revoked")), "{out}");
    let table = ok(&env.run(&["compliance", "--department", "GAD"]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("GAD-001") && l.contains("revoked")),
        "{table}"
    );
    let err = fails(&env.run(&["devices", "revoke", &id_text, "--reason", "again"]));
    assert!(err.contains("server refused: 409 already_revoked"), "{err}");
    let err = fails(&env.run(&["devices", "revoke", "not-a-uuid", "--reason", "x"]));
    assert!(err.contains("not a device id"), "{err}");
}

#[test]
fn bad_token_and_missing_trust_fail_clearly_without_leaking_the_token() {
    let env = Env::new();
    env.department();
    let secret = "this-is-not-a-real-token-0123456789abcdefghij";
    let out = env.run_as(secret, &["compliance", "--department", "GAD"]);
    let err = fails(&out);
    assert!(err.contains("server refused: 401"), "{err}");
    assert!(err.contains("PRAMAAN_TOKEN"), "{err}");
    assert!(!err.contains(secret) && !stdout(&out).contains(secret));

    // An IT token of another department is refused with the server's reason.
    let hd = server::create_token(&env.running.data_dir, Role::It, Some("HD")).expect("token");
    let err = fails(&env.run_as(&hd, &["compliance", "--department", "GAD"]));
    assert!(err.contains("server refused: 403 forbidden"), "{err}");

    // An admin must name the department.
    let err = fails(&env.run(&["compliance"]));
    assert!(
        err.contains("400 department_required") && err.contains("--department D"),
        "{err}"
    );
    assert_eq!(
        err.matches("cover every department").count(),
        1,
        "said once: {err}"
    );

    // No way to trust the server.
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["compliance", "--department", "GAD"])
        .env("PRAMAAN_SERVER", &env.running.url)
        .env("PRAMAAN_TOKEN", &env.init.admin_token)
        .env_remove("PRAMAAN_PIN")
        .env_remove("PRAMAAN_CA")
        .output()
        .expect("run");
    let err = fails(&out);
    assert!(err.contains("--ca") && err.contains("--pin"), "{err}");

    // A wrong pin is refused before anything is sent.
    let wrong = pramaan_core::transport::b64url(&[0u8; 32]);
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["compliance", "--department", "GAD", "--pin", &wrong])
        .env("PRAMAAN_SERVER", &env.running.url)
        .env("PRAMAAN_TOKEN", &env.init.admin_token)
        .env_remove("PRAMAAN_PIN")
        .env_remove("PRAMAAN_CA")
        .output()
        .expect("run");
    let err = fails(&out);
    assert!(err.contains("pin") || err.contains("TLS"), "{err}");
    assert!(!err.contains(&env.init.admin_token));
}

#[test]
fn help_explains_every_flag_and_hides_the_token_value() {
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["compliance", "--help"])
        .env("PRAMAAN_TOKEN", "very-secret-value")
        .output()
        .expect("run");
    let help = ok(&out);
    for flag in [
        "--department",
        "--format",
        "--server",
        "--token",
        "--ca",
        "--pin",
    ] {
        assert!(help.contains(flag), "{flag} missing: {help}");
    }
    assert!(
        help.contains("PRAMAAN_TOKEN") && !help.contains("very-secret-value"),
        "{help}"
    );
}

#[test]
fn admin_imports_with_a_fetch_time_and_everyone_shows_it() {
    let env = Env::new();
    // Nothing installed: show says so and fails.
    let err = fails(&env.run(&["evidence", "status-list", "show"]));
    assert!(err.contains("404 not_found"), "{err}");
    assert!(
        err.contains("no revocation status list is installed"),
        "{err}"
    );

    let file = env.file("status.json", LIST);
    let out = ok(&env.run(&[
        "evidence",
        "status-list",
        "import",
        path(&file),
        "--fetched",
        "2026-01-02T03:04:05Z",
    ]));
    assert!(
        out.contains(
            "installed Google's revocation status list: 3 entries, fetched 2026-01-02T03:04:05Z"
        ),
        "{out}"
    );

    // An IT token may show it but not replace it.
    let it = env.token(Role::It, Some("GAD"));
    let shown = ok(&env.run_as(&it, &["evidence", "status-list", "show"]));
    assert!(shown.contains("entries:  3\n"), "{shown}");
    assert!(
        shown.contains("fetched:  2026-01-02T03:04:05Z\n"),
        "{shown}"
    );
    let age_days = (SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1_767_323_045)
        / 86_400;
    assert!(
        shown.contains(&format!("age:      {age_days} days\n")),
        "{shown}"
    );
    let other = env.file(
        "other.json",
        r#"{"entries": {"ab": {"status": "REVOKED"}}}"#,
    );
    let err = fails(&env.run_as(&it, &["evidence", "status-list", "import", path(&other)]));
    assert!(err.contains("403 forbidden"), "{err}");
    let auditor = env.token(Role::Auditor, None);
    let err = fails(&env.run_as(
        &auditor,
        &["evidence", "status-list", "import", path(&other)],
    ));
    assert!(err.contains("403 forbidden"), "{err}");
    let shown = ok(&env.run_as(&auditor, &["evidence", "status-list", "show"]));
    assert!(
        shown.contains("entries:  3\n"),
        "refused imports changed nothing: {shown}"
    );
    env.running.shutdown();
}

#[test]
fn the_fetch_time_defaults_to_the_files_modification_time() {
    let env = Env::new();
    let file = env.file("status.json", LIST);
    let five_days_ago = SystemTime::now() - Duration::from_secs(5 * 86_400 + 600);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .expect("open")
        .set_modified(five_days_ago)
        .expect("set mtime");
    let out = ok(&env.run(&["evidence", "status-list", "import", path(&file)]));
    assert!(out.contains("3 entries"), "{out}");
    assert!(out.contains("(5 days old when installed)"), "{out}");
    let shown = ok(&env.run(&["evidence", "status-list", "show"]));
    assert!(shown.contains("age:      5 days\n"), "{shown}");
    env.running.shutdown();
}

#[test]
fn a_wrong_file_is_named_before_anything_is_sent() {
    let env = Env::new();
    let file = env.file("page.html", "<html>rate limited</html>");
    let err = fails(&env.run(&["evidence", "status-list", "import", path(&file)]));
    assert!(err.contains("page.html"), "{err}");
    assert!(
        err.contains("not Google's attestation status list JSON"),
        "{err}"
    );
    let err = fails(&env.run(&[
        "evidence",
        "status-list",
        "import",
        path(&env.file("s.json", LIST)),
        "--fetched",
        "last tuesday",
    ]));
    assert!(
        err.contains("--fetched last tuesday: not an RFC 3339 time"),
        "{err}"
    );
    // Nothing reached the server.
    let err = fails(&env.run(&["evidence", "status-list", "show"]));
    assert!(err.contains("404"), "{err}");
    // A fetch time in the future is refused by the server, with the reason.
    let err = fails(&env.run(&[
        "evidence",
        "status-list",
        "import",
        path(&env.file("s2.json", LIST)),
        "--fetched",
        "2999-01-01T00:00:00Z",
    ]));
    assert!(err.contains("400 malformed"), "{err}");
    assert!(err.contains("in the future"), "{err}");
    env.running.shutdown();
}

#[test]
fn evidence_help_lists_every_command_and_the_default_fetch_time() {
    let help = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["evidence", "--help"])
        .output()
        .expect("run");
    let text = ok(&help);
    for cmd in ["android", "apple", "status-list"] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["evidence", "status-list", "import", "--help"])
        .output()
        .expect("run");
    let text = ok(&help);
    assert!(text.contains("modification time"), "{text}");
    assert!(text.contains("--server"), "{text}");
}

/// `pramaan ARGS | head -1` with the admin's environment: head's output and pramaan's
/// exit status and standard error.
fn piped_into_head(env: &Env, args: &[&str]) -> (String, std::process::ExitStatus, String) {
    let mut pramaan = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(args)
        .env("PRAMAAN_SERVER", &env.running.url)
        .env("PRAMAAN_TOKEN", &env.init.admin_token)
        .env("PRAMAAN_PIN", &env.init.pin_b64url)
        .env_remove("PRAMAAN_CA")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pramaan");
    let head = Command::new("head")
        .arg("-1")
        .stdin(pramaan.stdout.take().expect("stdout"))
        .output()
        .expect("run head");
    let out = pramaan.wait_with_output().expect("wait");
    (
        String::from_utf8_lossy(&head.stdout).into_owned(),
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_piped_into_head_exits_zero_without_a_panic() {
    let env = Env::new();
    env.department();
    // Enough officers that the output is far larger than a pipe's buffer: head has
    // gone long before pramaan has written it all.
    let mut csv = String::from(OFFICERS);
    for i in 0..3000 {
        csv.push_str(&format!(
            "GAD-{i:05},Officer Number {i},Under Secretary,GAD,officer.{i}@gujarat.gov.in,+9198250{i:05},true\n"
        ));
    }
    ok(&env.run(&["officers", "import", path(&env.file("many.csv", &csv))]));
    for args in [
        &["compliance", "--department", "GAD", "--format", "json"][..],
        &["compliance", "--department", "GAD"][..],
        &["compliance", "--department", "GAD", "--format", "csv"][..],
        &["--help"][..],
    ] {
        let (first, status, err) = piped_into_head(&env, args);
        assert!(
            status.success(),
            "pramaan {args:?} | head -1: {status}\n{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(first.lines().count(), 1, "{first}");
    }
    // What each printed first: the JSON's opening brace, the table's department line.
    assert_eq!(
        piped_into_head(
            &env,
            &["compliance", "--department", "GAD", "--format", "json"]
        )
        .0,
        "{\n"
    );
    assert_eq!(
        piped_into_head(&env, &["compliance", "--department", "GAD"]).0,
        "Department GAD\n"
    );
}

#[test]
fn flags_override_the_environment() {
    let env = Env::new();
    env.department();
    let cert = env.init.cert_path.to_str().expect("utf-8").to_string();
    let wrong_pin = pramaan_core::transport::b64url(&[0u8; 32]);
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pramaan"));
        c.args(["compliance", "--department", "GAD", "--format", "json"])
            .args(args)
            .env_remove("PRAMAAN_CA")
            .env_remove("PRAMAAN_PIN");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("run")
    };
    // Every variable names something else; every flag wins over it.
    let out = run(
        &[
            ("PRAMAAN_SERVER", "https://127.0.0.1:1"),
            ("PRAMAAN_TOKEN", "not-the-token"),
            ("PRAMAAN_PIN", &wrong_pin),
        ],
        &[
            "--server",
            &env.running.url,
            "--token",
            &env.init.admin_token,
            "--ca",
            &cert,
        ],
    );
    assert!(ok(&out).contains("\"department\": \"GAD\""));
    // --pin over PRAMAAN_CA naming a file that is not there.
    let out = run(
        &[
            ("PRAMAAN_SERVER", &env.running.url),
            ("PRAMAAN_TOKEN", &env.init.admin_token),
            ("PRAMAAN_CA", "/nonexistent/ca.pem"),
        ],
        &["--pin", &env.init.pin_b64url],
    );
    ok(&out);
    // Without a flag, the environment decides: the wrong pin is used and refused.
    let out = run(
        &[
            ("PRAMAAN_SERVER", &env.running.url),
            ("PRAMAAN_TOKEN", &env.init.admin_token),
            ("PRAMAAN_PIN", &wrong_pin),
        ],
        &[],
    );
    fails(&out);
}

#[test]
fn a_department_in_another_case_is_suggested_only_to_who_may_read_it() {
    let env = Env::new();
    env.department();
    // Admins and auditors read every department: the one meant is suggested.
    let err = fails(&env.run(&["compliance", "--department", "gad"]));
    assert!(
        err.contains("404 not_found: no department gad; did you mean GAD?"),
        "{err}"
    );
    let auditor = env.token(Role::Auditor, None);
    let err = fails(&env.run_as(&auditor, &["policy", "show", "--department", "Gad"]));
    assert!(
        err.contains("no department Gad; did you mean GAD?"),
        "{err}"
    );
    // IT of GAD mistyping its own department.
    let it = env.token(Role::It, Some("GAD"));
    let err = fails(&env.run_as(&it, &["compliance", "--department", "gad"]));
    assert!(
        err.contains("no department gad; did you mean GAD?"),
        "{err}"
    );
    // IT of another department learns nothing about GAD.
    let hd = env.token(Role::It, Some("HD"));
    let err = fails(&env.run_as(&hd, &["compliance", "--department", "gad"]));
    assert!(err.contains("403 forbidden"), "{err}");
    assert!(
        !err.contains("GAD") && !err.contains("did you mean"),
        "{err}"
    );
    // A department that does not exist in any case: no suggestion, a command to run.
    let err = fails(&env.run(&["compliance", "--department", "HD"]));
    assert!(
        err.contains("department HD has no policy yet") && err.contains("`pramaan policy set"),
        "{err}"
    );
    assert!(
        !err.contains("/v1/"),
        "hints name commands, not API paths: {err}"
    );
}

#[test]
fn policy_show_prints_the_policy_in_force_and_platforms_list_the_catalog() {
    let env = Env::new();
    env.department();
    // IT without --department: its own department's policy, as TOML that loads back.
    let it = env.token(Role::It, Some("GAD"));
    let toml = ok(&env.run_as(&it, &["policy", "show"]));
    assert!(toml.contains("department = \"GAD\""), "{toml}");
    let shown =
        pramaan_core::policy::Policy::load(&toml, &pramaan_core::catalog::Catalog::builtin())
            .expect("the shown policy loads");
    assert_eq!(shown.department, "GAD");
    assert!(
        shown
            .platforms
            .iter()
            .any(|p| p.name == "WhatsApp" && !p.android_signers.is_empty()),
        "{toml}"
    );
    let json = ok(&env.run_as(&it, &["policy", "show", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["department"], "GAD");
    // Auditors and admins name the department.
    let err = fails(&env.run(&["policy", "show"]));
    assert!(
        err.contains("department_required") && err.contains("--department D"),
        "{err}"
    );
    ok(&env.run(&["policy", "show", "--department", "GAD"]));
    // IT may not read another department's policy.
    let err = fails(&env.run_as(&it, &["policy", "show", "--department", "HD"]));
    assert!(err.contains("403 forbidden"), "{err}");

    // The catalog, offline.
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["platforms", "list"])
        .output()
        .expect("run");
    let list = ok(&out);
    assert!(
        list.lines().next().is_some_and(|l| l.starts_with("NAME")),
        "{list}"
    );
    let whatsapp = list
        .lines()
        .find(|l| l.starts_with("WhatsApp "))
        .expect("WhatsApp row");
    assert!(whatsapp.contains("com.whatsapp") && whatsapp.contains("net.whatsapp.WhatsApp"));
    assert!(
        list.contains("Sandes (GIMS, Government of India)"),
        "{list}"
    );
    // A policy naming a platform the catalog lacks is refused with the names it knows.
    let sandes = env.file(
        "sandes.toml",
        &POLICY.replacen("name = \"WhatsApp\"", "name = \"Sandes\"", 1),
    );
    let err = fails(&env.run(&["policy", "set", path(&sandes)]));
    assert!(
        err.contains("\"Sandes\"")
            && err.contains("\"Sandes (GIMS, Government of India)\"")
            && err.contains("pramaan platforms list"),
        "{err}"
    );
}

#[test]
fn officers_retire_and_move_from_the_command_line() {
    let env = Env::new();
    env.department();
    let rev = env.file("rev.toml", pramaan_testkit::POLICY_REV);
    ok(&env.run(&["policy", "set", path(&rev)]));
    let it = env.token(Role::It, Some("GAD"));
    let out = ok(&env.run_as(
        &it,
        &[
            "officers",
            "retire",
            "GAD-003",
            "--reason",
            "superannuation",
        ],
    ));
    assert!(
        out.contains("officer GAD-003 retired: 0 device(s) revoked"),
        "{out}"
    );
    let err = fails(&env.run_as(&it, &["officers", "retire", "GAD-003", "--reason", "again"]));
    assert!(
        err.contains("409") && err.contains("retired already"),
        "{err}"
    );
    // Moving is for admins.
    let err = fails(&env.run_as(&it, &["officers", "move", "GAD-002", "--to", "REV"]));
    assert!(err.contains("403"), "{err}");
    let out = ok(&env.run(&["officers", "move", "GAD-002", "--to", "REV"]));
    assert!(out.contains("moved from GAD to REV"), "{out}");
    let json = ok(&env.run(&["compliance", "--department", "GAD", "--format", "json"]));
    assert!(
        json.contains("GAD-001") && !json.contains("GAD-002") && !json.contains("GAD-003"),
        "{json}"
    );
    // The registry file again, as a dry run: one unchanged, one moved back, one reinstated.
    let officers = env.file("officers.csv", OFFICERS);
    let out = ok(&env.run(&["officers", "import", "--dry-run", path(&officers)]));
    assert!(
        out.contains("0 added, 0 updated, 1 unchanged, 1 moved, 1 reinstated, 0 rejected"),
        "{out}"
    );
    let json = ok(&env.run(&["compliance", "--department", "GAD", "--format", "json"]));
    assert!(
        !json.contains("GAD-003"),
        "a dry run writes nothing: {json}"
    );
}
