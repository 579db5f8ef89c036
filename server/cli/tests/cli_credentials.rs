//! The credential commands as department IT and admins run them: `pramaan admin token`
//! (name, expiry, department checked), `pramaan admin tokens list|revoke` (on the data
//! directory and over the API) and `pramaan enroll-token list|cancel` (and `--ttl`),
//! as the built binary against a server over TLS; what is checked is what a user sees.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use std::process::{Command, Output};

use pramaan_testkit::{Env, start};

/// Runs `pramaan ARGS` with the server, pin and `token` in the environment.
fn run_as(env: &Env, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(args)
        .env("PRAMAAN_SERVER", &env.server().url)
        .env("PRAMAAN_TOKEN", token)
        .env(
            "PRAMAAN_PIN",
            pramaan_core::encoding::b64url(&env.server().pin),
        )
        .env_remove("PRAMAAN_CA")
        .env_remove("PRAMAAN_DATA")
        .output()
        .expect("run pramaan")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "expected success\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn fails(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected failure\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stderr)
}

/// The line of `list` output that starts with `id`.
fn line_of<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("{id} not in\n{out}"))
}

fn token_id(token: &str) -> String {
    pramaan_server::auth::TokenId::of(&pramaan_server::auth::hash_secret(token.as_bytes()))
        .to_string()
}

#[test]
fn admin_tokens_list_and_revoke_locally_and_over_the_api() {
    let env = start();
    env.seed();
    let data = env.dir.path().to_str().unwrap().to_string();
    let admin = env.admin_token.clone();

    // Minted with a name and an expiry: stdout is the token alone; stderr says its id.
    let o = run_as(
        &env,
        &admin,
        &[
            "admin",
            "token",
            "--data",
            &data,
            "--role",
            "it",
            "--department",
            "GAD",
            "--name",
            "laptop-17",
            "--expires-in",
            "90d",
        ],
    );
    let it = ok(&o).trim().to_string();
    assert_eq!(it.len(), 43);
    assert!(
        text(&o.stderr).contains(&token_id(&it)),
        "{}",
        text(&o.stderr)
    );
    let o = run_as(
        &env,
        &admin,
        &[
            "admin",
            "token",
            "--data",
            &data,
            "--role",
            "auditor",
            "--expires-in",
            "90",
        ],
    );
    assert!(fails(&o).contains("not a duration"));
    let o = run_as(
        &env,
        &admin,
        &[
            "admin",
            "token",
            "--data",
            &data,
            "--role",
            "it",
            "--department",
            "gad",
        ],
    );
    let err = fails(&o);
    assert!(
        err.contains("GAD, not gad?") && err.contains("Known departments: GAD, REV"),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    // Listed the same way locally and over the API, never with a secret.
    let local = ok(&run_as(
        &env,
        &admin,
        &["admin", "tokens", "list", "--data", &data],
    ));
    let remote = ok(&run_as(&env, &admin, &["admin", "tokens", "list"]));
    for out in [&local, &remote] {
        let line = line_of(out, &token_id(&it));
        assert!(
            line.contains("active") && line.contains("GAD") && line.contains("laptop-17"),
            "{line}"
        );
        assert!(line.contains("admin-cli"), "{line}");
        assert!(!out.contains(&it) && !out.contains(&admin));
        assert!(line_of(out, &token_id(&admin)).contains("first-admin"));
    }
    // IT may not list tokens.
    let o = run_as(&env, &it, &["admin", "tokens", "list"]);
    assert!(fails(&o).contains("403"));

    // Revoked over the API: refused on its next request.
    ok(&run_as(&env, &it, &["compliance"]));
    let out = ok(&run_as(
        &env,
        &admin,
        &["admin", "tokens", "revoke", &token_id(&it)],
    ));
    assert!(out.contains("revoked"), "{out}");
    let err = fails(&run_as(&env, &it, &["compliance"]));
    assert!(err.contains("revoked"), "{err}");
    let local = ok(&run_as(
        &env,
        &admin,
        &["admin", "tokens", "list", "--data", &data],
    ));
    assert!(line_of(&local, &token_id(&it)).contains("revoked"));
    let err = fails(&run_as(
        &env,
        &admin,
        &["admin", "tokens", "revoke", &token_id(&it)],
    ));
    assert!(err.contains("revoked already"), "{err}");

    // Revoked on the data directory while the server runs, by its log label.
    let auditor = env.token("auditor", None);
    ok(&run_as(
        &env,
        &auditor,
        &["compliance", "--department", "GAD"],
    ));
    let label = format!("auditor:{}", token_id(&auditor));
    ok(&run_as(
        &env,
        &admin,
        &["admin", "tokens", "revoke", &label, "--data", &data],
    ));
    assert!(
        fails(&run_as(
            &env,
            &auditor,
            &["compliance", "--department", "GAD"]
        ))
        .contains("revoked")
    );

    // Never the last usable admin token, locally or over the API.
    let err = fails(&run_as(
        &env,
        &admin,
        &["admin", "tokens", "revoke", &token_id(&admin)],
    ));
    assert!(err.contains("last usable admin token"), "{err}");
    let err = fails(&run_as(
        &env,
        &admin,
        &[
            "admin",
            "tokens",
            "revoke",
            &token_id(&admin),
            "--data",
            &data,
        ],
    ));
    assert!(err.contains("last usable admin token"), "{err}");
    let err = fails(&run_as(
        &env,
        &admin,
        &["admin", "tokens", "revoke", "nothex"],
    ));
    assert!(err.contains("not a token id"), "{err}");
}

#[test]
fn enroll_token_list_and_cancel() {
    let env = start();
    env.seed();
    let it = env.token("it", Some("GAD"));
    let auditor = env.token("auditor", None);
    let o = run_as(
        &env,
        &it,
        &[
            "enroll-token",
            "--officer",
            "GAD-001",
            "--ttl",
            "2h",
            "--no-qr",
        ],
    );
    let out = ok(&o);
    let uri = out.lines().next().unwrap();
    let token = pramaan_core::enroll_uri::EnrollmentUri::parse(uri)
        .unwrap()
        .token;
    let id = hex::encode(&pramaan_server::auth::hash_secret(token.as_bytes())[..8]);
    assert!(
        text(&o.stderr).contains(&format!("enroll-token cancel {id}")),
        "{}",
        text(&o.stderr)
    );
    let err = fails(&run_as(
        &env,
        &it,
        &[
            "enroll-token",
            "--officer",
            "GAD-001",
            "--ttl",
            "1m",
            "--no-qr",
        ],
    ));
    assert!(err.contains("5 minutes and 30 days"), "{err}");
    ok(&run_as(
        &env,
        &it,
        &["enroll-token", "--officer", "GAD-002", "--no-qr"],
    ));

    // Outstanding tokens, never the token itself; the auditor sees them too.
    let list = ok(&run_as(&env, &it, &["enroll-token", "list"]));
    assert!(
        line_of(&list, &id).contains("outstanding") && list.contains("GAD-002"),
        "{list}"
    );
    assert!(!list.contains(&token));
    let list = ok(&run_as(
        &env,
        &auditor,
        &["enroll-token", "list", "--department", "GAD"],
    ));
    assert!(line_of(&list, &id).contains("GAD-001"), "{list}");

    // The auditor cannot cancel; IT can, once.
    let err = fails(&run_as(&env, &auditor, &["enroll-token", "cancel", &id]));
    assert!(err.contains("403"), "{err}");
    let out = ok(&run_as(&env, &it, &["enroll-token", "cancel", &id]));
    assert!(
        out.contains("cancelled") && out.contains("GAD-001"),
        "{out}"
    );
    let err = fails(&run_as(&env, &it, &["enroll-token", "cancel", &id]));
    assert!(err.contains("cancelled already"), "{err}");
    let list = ok(&run_as(&env, &it, &["enroll-token", "list"]));
    assert!(!list.contains(&id), "{list}");
    let list = ok(&run_as(&env, &it, &["enroll-token", "list", "--all"]));
    assert!(line_of(&list, &id).contains("cancelled by it:"), "{list}");
    let err = fails(&run_as(&env, &it, &["enroll-token", "cancel", "zz"]));
    assert!(err.contains("not an enrollment token id"), "{err}");
}
