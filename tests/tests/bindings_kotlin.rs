//! Kotlin bindings on the JVM: build the cdylib, generate the Kotlin bindings, compile them
//! with `tests/kotlin/BindingsTest.kt` (a java.security signer returning DER, a facts
//! provider) and run it against a real server; then check what the server stored, revoke
//! the device and run it again: the app is told it was revoked, with IT's reason.
//!
//! Tools: kotlinc (`$KOTLINC`, `$KOTLIN_HOME/bin`, PATH, or `~/.cache/pramaan/kotlin-*`),
//! java, and JNA (`$JNA_JAR`, default `/usr/share/java/jna.jar`). Missing tools fail the
//! test when `CI=true` and skip it otherwise.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use pramaan_tests::{KotlinJvm, bindings_device_id};

#[test]
fn kotlin_agent_enrolls_and_checks_in() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(kotlin) = KotlinJvm::setup(work.path()) else {
        return;
    };
    let jar = work.path().join("t.jar");
    let test_src = pramaan_tests::workspace_root().join("tests/kotlin/BindingsTest.kt");
    kotlin.compile(&[test_src], &jar);

    let server = pramaan_testkit::start();
    server.seed();
    let uri = server.enrollment_uri("GAD-001");
    let state = work.path().join("state");
    let run = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![uri.as_ref(), state.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        kotlin.run(&jar, "BindingsTestKt", &args)
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
