//! Python bindings: build the cdylib, generate the Python module beside a copy of the
//! library, and run `tests/python/bindings_test.py` (a `cryptography` P-256 signer that
//! returns SEC1 keys and DER signatures) against a real server.
//!
//! Interpreter: `$PRAMAAN_PYTHON` (CI's venv), else `python3`; it needs the `cryptography`
//! package. Missing pieces fail the test when `CI=true` and skip it otherwise.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use pramaan_tests::{bindings_device_id, build_cdylib, find_tool, generate_bindings, require_tool};

fn python() -> Option<PathBuf> {
    find_tool("PRAMAAN_PYTHON", "python3")
}

fn has_cryptography(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn python_agent_enrolls_and_checks_in() {
    let python = python();
    if !require_tool("python3", python.is_some()) {
        return;
    }
    let python = python.expect("python");
    if !require_tool(
        "the Python package `cryptography`",
        has_cryptography(&python),
    ) {
        return;
    }
    let lib = build_cdylib();
    let work = tempfile::tempdir().expect("tempdir");
    let gen_dir = work.path().join("gen");
    generate_bindings(&lib, "python", &gen_dir);
    // The generated module loads the library from its own folder.
    std::fs::copy(&lib, gen_dir.join("libpramaan_ffi.so")).expect("copy cdylib");

    let server = pramaan_testkit::start();
    server.seed();
    let uri = server.enrollment_uri("GAD-002");
    let script = pramaan_tests::workspace_root().join("tests/python/bindings_test.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&gen_dir)
        .arg(&uri)
        .arg(work.path().join("state"))
        .output()
        .expect("python runs");
    let device_id = bindings_device_id(&out, "PYTHON OK");
    let seqs: Vec<u64> = server
        .stored_attestations(&device_id)
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(seqs, vec![1, 2]);
    let officer = server.officer("GAD-002").to_string();
    assert!(officer.contains("ios"), "{officer}");
}
