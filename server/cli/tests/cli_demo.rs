//! `pramaan demo` end to end, and the dashboard rendered by a real browser.
//!
//! The demo is the README's first command, so it is run as the built binary exactly as a
//! newcomer would (with `--no-wait` so it exits). The dashboard test loads the page in
//! headless Chromium against a server holding the demo department and checks the
//! rendered DOM: the script signed in, fetched the compliance view, the audit checkpoint
//! and the revocation status list's age (or said none is installed), and coloured the rows
//! by status. Without Chromium the test is skipped with a message, except under CI
//! (`CI=true`), where a missing browser is a failure.

#![cfg(feature = "server")] // `pramaan demo` is in the default (server) build only
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use std::path::Path;
use std::process::Command;

use pramaan_cli::client::Client;
use pramaan_core::transport::Trust;
use pramaan_server::server;
use pramaan_server::store::Role;

#[test]
fn demo_no_wait_prints_compliant_and_failing_officers() {
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["demo", "--no-wait", "--listen", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run pramaan demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} missing: {stdout}"))
    };
    assert!(line("GAD-001").contains(" compliant "), "{stdout}");
    // The demo says what was proved: simulated phones are desktop agents, software keys.
    assert!(line("GAD-001").contains("desktop/software"), "{stdout}");
    assert!(
        stdout.contains("Every device above is simulated"),
        "{stdout}"
    );
    assert!(line("GAD-004").contains("noncompliant") && line("GAD-004").contains("R1:"));
    assert!(line("GAD-007").contains("noncompliant") && line("GAD-007").contains("R3:"));
    assert!(line("GAD-008").contains("R4:"));
    assert!(line("GAD-011").contains("warning") && line("GAD-011").contains("R5:"));
    assert!(line("GAD-012").contains("roster"));
    assert!(line("GAD-014").contains("not_enrolled"));
    assert!(line("GAD-018").contains("revoked"));
    // GAD-019 is not entitled to the GR-funded phone and has none: its own status.
    assert!(line("GAD-019").contains("not_entitled"), "{stdout}");
    assert!(
        stdout.contains("20 officer(s): compliant 10, warning 2, noncompliant 4, stale 0, not_enrolled 2, revoked 1, not_entitled 1"),
        "{stdout}"
    );
    for what in [
        "Dashboard:",
        "Admin token:",
        "SPKI pin:",
        "pramaan compliance",
    ] {
        assert!(stdout.contains(what), "{what} missing: {stdout}");
    }
    // The temporary data directory is gone.
    let data = stderr
        .lines()
        .find_map(|l| l.split("(data in ").nth(1))
        .map(|s| s.trim_end_matches(')').to_string())
        .expect("data dir named on stderr");
    assert!(!Path::new(&data).exists(), "{data} left behind");
}

#[test]
fn demo_refuses_a_data_dir_that_already_holds_a_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    server::admin_init(&data, "localhost").expect("init");
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["demo", "--no-wait", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists"), "{err}");
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn dashboard_renders_the_demo_department_in_headless_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("Chromium is required under CI (apt-get install chromium)");
        }
        eprintln!("SKIP dashboard_renders_the_demo_department_in_headless_chromium: no Chromium");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let init = server::admin_init(&data, "localhost").expect("init");
    let running = server::start(&data, "127.0.0.1:0".parse().expect("addr")).expect("start");
    let admin =
        Client::new(&running.url, Trust::Pin(running.pin), &init.admin_token).expect("client");
    pramaan_cli::demo::populate(&admin, &data.join("devices"), false).expect("populate");
    let auditor = server::create_token(&data, Role::Auditor, None).expect("token");

    let url = format!("{}/#token={auditor}&department=GAD", running.url);
    let out = headless(browser, &dir.path().join("profile-1"), &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-state=\"loaded\""),
        "dashboard did not load\nDOM: {dom}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("Department GAD"), "{dom}");
    assert!(dom.contains("data-officer=\"GAD-001\""), "{dom}");
    assert!(
        dom.contains("class=\"status-noncompliant\" data-officer=\"GAD-004\""),
        "{dom}"
    );
    assert!(
        dom.contains("class=\"status-compliant\" data-officer=\"GAD-001\""),
        "{dom}"
    );
    assert!(
        dom.contains("is not on a government domain"),
        "failure detail shown: {dom}"
    );
    // What was proved: the simulated phones are desktop agents with software keys.
    assert!(
        dom.contains("data-proof=\"desktop/software\""),
        "platform and assurance shown: {dom}"
    );
    assert!(dom.contains("none (software key)"), "evidence shown: {dom}");
    // Summary counts and the audit log checkpoint with the log key.
    assert!(dom.contains("data-status=\"noncompliant\""), "{dom}");
    let origin = init.log_vkey.split('+').next().unwrap();
    assert!(
        dom.contains(&format!("id=\"checkpoint\">{origin}\n")),
        "checkpoint shown: {dom}"
    );
    assert!(dom.contains(&init.log_vkey), "log key shown: {dom}");
    assert!(
        dom.contains("data-status-list=\"none\">No revocation list installed"),
        "a missing status list is said: {dom}"
    );
    // The token left the address bar and is nowhere in the page.
    assert!(!dom.contains(&auditor), "token leaked into the DOM");

    // Google's revocation status list, fetched three days ago: the dashboard shows its age.
    let fetched = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 3 * 86_400
        - 100;
    admin
        .send(
            "PUT",
            &format!("/v1/evidence/status-list?fetched_at={fetched}"),
            "application/json",
            br#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED"}, "c8966fcb2fbe32": {"status": "SUSPENDED"}}}"#,
        )
        .expect("install status list");
    let out = headless(browser, &dir.path().join("profile-3"), &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-status-list=\"installed\">Google revocation list: 2 entries, fetched "),
        "status list shown: {dom}"
    );
    assert!(
        dom.contains(" (3 days ago)</p>"),
        "status list age shown: {dom}"
    );

    // A wrong token: the page says why and offers the sign-in form again.
    let url = format!("{}/#token=not-a-token&department=GAD", running.url);
    let out = headless(browser, &dir.path().join("profile-2"), &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-state=\"signed-out\""), "{dom}");
    assert!(dom.contains("Sign-in failed: 401"), "{dom}");
    assert!(
        !dom.contains("data-officer="),
        "no data without a valid token: {dom}"
    );
    running.shutdown();
}

/// Loads `url` in headless Chromium with a fresh profile and returns the rendered DOM.
fn headless(browser: &str, profile: &Path, url: &str) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--ignore-certificate-errors",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("run chromium")
}
