//! `pramaan demo` end to end.
//!
//! The demo is the README's first command, so it is run as the built binary exactly as a
//! newcomer would (with `--no-wait` so it exits). The dashboard showing the demo
//! department in a real browser is `dashboard_browser.rs`.

#![cfg(feature = "server")] // `pramaan demo` is in the default (server) build only
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use std::path::Path;
use std::process::Command;

use pramaan_server::server;

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
    // The temporary data directory is gone.
    let data = stderr
        .lines()
        .find_map(|l| l.split("(data in ").nth(1))
        .map(|s| s.trim_end_matches(')').to_string())
        .expect("data dir named on stderr");
    assert!(!Path::new(&data).exists(), "{data} left behind");
    // --no-wait prints only what still exists: the server has exited and its data
    // directory is gone, so no URL, command, token or path that needs them.
    assert!(stdout.contains("The demo server has stopped"), "{stdout}");
    for gone in [
        "Dashboard:",
        "Admin token:",
        "export PRAMAAN_SERVER",
        "pramaan compliance --department",
        "https://",
        data.as_str(),
    ] {
        assert!(!stdout.contains(gone), "{gone} printed: {stdout}");
    }
}

#[test]
fn demo_no_wait_with_data_prints_how_to_serve_it_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("kept");
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["demo", "--no-wait", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pramaan demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(data.is_dir(), "the kept data directory is there");
    assert!(
        stdout.contains(&format!("pramaan serve --data {}", data.display())),
        "{stdout}"
    );
    for what in [
        "Admin token:",
        "GAD IT token:",
        "SPKI pin:",
        "CA certificate:",
    ] {
        assert!(stdout.contains(what), "{what} missing: {stdout}");
    }
    assert!(
        !stdout.contains("Dashboard:") && !stdout.contains("https://"),
        "{stdout}"
    );
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
