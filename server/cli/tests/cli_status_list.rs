//! `pramaan evidence status-list import|show` run as the built binary against a real
//! server over TLS, the way an admin installs Google's revocation status list: what is
//! checked is what the user sees (stdout, stderr, exit status).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use pramaan_server::server::{self, InitOutput, Running};
use pramaan_server::store::Role;

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

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn token(&self, role: Role, department: Option<&str>) -> String {
        server::create_token(&self.dir.path().join("data"), role, department).expect("token")
    }

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
