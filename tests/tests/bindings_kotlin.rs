//! Kotlin bindings on the JVM: build the cdylib, generate the Kotlin bindings, compile them
//! with `tests/kotlin/BindingsTest.kt` (a java.security signer returning DER, a facts
//! provider) and run it against a real server; then check what the server stored, revoke
//! the device and run it again: the app is told it was revoked, with IT's reason.
//!
//! Tools: kotlinc (`$KOTLINC`, `$KOTLIN_HOME/bin`, PATH, or `~/.cache/pramaan/kotlin-*`),
//! java, and JNA (`$JNA_JAR`, default `/usr/share/java/jna.jar`). Missing tools fail the
//! test when `CI=true` and skip it otherwise.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::process::Command;

use pramaan_tests::{
    bindings_device_id, build_cdylib, find_tool, generate_bindings, jna_jar, kotlin_lib, kotlinc,
    require_tool,
};

#[test]
fn kotlin_agent_enrolls_and_checks_in() {
    let kotlinc = kotlinc();
    let java = find_tool("JAVA", "java");
    let jna = jna_jar();
    if !require_tool("kotlinc", kotlinc.is_some())
        || !require_tool("java", java.is_some())
        || !require_tool("JNA (/usr/share/java/jna.jar)", jna.exists())
    {
        return;
    }
    let (kotlinc, java) = (kotlinc.expect("kotlinc"), java.expect("java"));
    let kotlin_lib = kotlin_lib(&kotlinc);

    let lib = build_cdylib();
    let work = tempfile::tempdir().expect("tempdir");
    let gen_dir = work.path().join("gen");
    generate_bindings(&lib, "kotlin", &gen_dir);
    let generated = gen_dir.join("gov/gujarat/pramaan/pramaan_core.kt");
    assert!(generated.exists(), "no {}", generated.display());

    let jar = work.path().join("t.jar");
    let test_src = pramaan_tests::workspace_root().join("tests/kotlin/BindingsTest.kt");
    let out = Command::new(&kotlinc)
        .arg(&generated)
        .arg(&test_src)
        .arg("-cp")
        .arg(format!(
            "{}:{}",
            jna.display(),
            kotlin_lib.join("kotlin-test.jar").display()
        ))
        .arg("-d")
        .arg(&jar)
        .output()
        .expect("kotlinc runs");
    assert!(
        out.status.success(),
        "kotlinc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let server = pramaan_testkit::start();
    server.seed();
    let uri = server.enrollment_uri("GAD-001");
    let state = work.path().join("state");
    let lib_dir = lib.parent().expect("lib dir");
    let run = |extra: &[&str]| {
        Command::new(&java)
            .arg(format!("-Djna.library.path={}", lib_dir.display()))
            .arg("-cp")
            .arg(format!(
                "{}:{}:{}:{}",
                jar.display(),
                jna.display(),
                kotlin_lib.join("kotlin-stdlib.jar").display(),
                kotlin_lib.join("kotlin-test.jar").display()
            ))
            .arg("BindingsTestKt")
            .arg(&uri)
            .arg(&state)
            .args(extra)
            .output()
            .expect("java runs")
    };
    let out = run(&[]);

    // The server stored both check-ins of that device, signed with the DER-producing key.
    let device_id = bindings_device_id(&out, "KOTLIN OK");
    let stored = server.stored_attestations(&device_id);
    assert_eq!(
        stored.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let officer = server.officer("GAD-001").to_string();
    assert!(officer.contains("android"), "{officer}");

    // IT revokes the device: the app is refused as revoked, and its status says so,
    // with IT's reason and the next step.
    server.revoke(&device_id, "phone reported lost");
    let out = run(&["revoked"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("KOTLIN REVOKED OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
