//! `pramaan admin init`, `pramaan admin token` and `pramaan serve` as the built binary, and
//! the certificate `admin init` writes working both ways a client can trust it: by SPKI pin
//! and as a CA file (`--ca DIR/tls/cert.pem`, webpki path validation with host names).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use std::process::{Command, Output};

use common::*;
use pramaan_core::transport::{HttpsClient, Trust};

fn pramaan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(args)
        .output()
        .expect("run pramaan")
}

#[test]
fn admin_init_and_token_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("srv");
    let data_s = data.to_str().unwrap();
    let out = pramaan(&[
        "admin",
        "init",
        "--data",
        data_s,
        "--host",
        "pramaan.example",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let pin_line = stdout.lines().find(|l| l.starts_with("SPKI pin:")).unwrap();
    let pin = pin_line.split_whitespace().last().unwrap();
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let expected = pramaan_server::tls::pin_of_chain(&cert, &data.join("tls/cert.pem")).unwrap();
    assert_eq!(pin, pramaan_core::transport::b64url(&expected));
    let admin_token = stdout.lines().last().unwrap().trim().to_string();
    assert_eq!(admin_token.len(), 43);
    let vkey = std::fs::read_to_string(data.join("log.vkey")).unwrap();
    let origin = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Log origin:"))
        .unwrap()
        .trim();
    assert!(
        origin.starts_with("pramaan.example/pramaan-log/"),
        "{origin}"
    );
    assert!(vkey.starts_with(&format!("{origin}+")), "{vkey}");
    // The next steps name the commands, with the paths init wrote.
    for step in [
        format!("pramaan serve --data {data_s}"),
        format!(
            "PRAMAAN_SERVER=https://pramaan.example:8443 PRAMAAN_CA={}",
            data.join("tls/cert.pem").display()
        ),
        format!("pramaan admin token --data {data_s} --role it --department"),
        "pramaan policy set POLICY.toml".into(),
        "pramaan officers import OFFICERS.csv".into(),
        "pramaan enroll-token --officer".into(),
    ] {
        assert!(stdout.contains(&step), "{step} missing: {stdout}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["server.key", "log.key", "nonce.key", "tls/key.pem"] {
            let mode = std::fs::metadata(data.join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    // A second init refuses to overwrite the keys.
    let again = pramaan(&["admin", "init", "--data", data_s]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    // Tokens: the token alone on stdout; IT needs a department, one that exists unless
    // --new-department (this one has no policy or officer yet).
    let out = pramaan(&[
        "admin",
        "token",
        "--data",
        data_s,
        "--role",
        "it",
        "--department",
        "GAD",
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no department GAD") && err.contains("--new-department"),
        "{err}"
    );
    let out = pramaan(&[
        "admin",
        "token",
        "--data",
        data_s,
        "--role",
        "it",
        "--department",
        "GAD",
        "--new-department",
    ]);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert_eq!(token.trim().len(), 43);
    assert_eq!(token.lines().count(), 1);
    let out = pramaan(&["admin", "token", "--data", data_s, "--role", "it"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let out = pramaan(&["admin", "token", "--data", data_s, "--role", "root"]);
    assert!(!out.status.success());

    // The server of that directory accepts the tokens.
    let server = pramaan_server::server::start_with_config(&data, test_config()).unwrap();
    let client = HttpsClient::new(&server.url, Trust::Pin(server.pin), options())
        .unwrap()
        .with_bearer(token.trim());
    let r = client
        .put(
            "/v1/departments/GAD/policy",
            "application/toml",
            POLICY_GAD.as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn the_certificate_validates_as_a_ca_file_for_every_name() {
    let env = start();
    let cert = std::fs::read(env.dir.path().join("tls/cert.pem")).unwrap();
    assert_eq!(cert, env.server().ca_pem);
    let port = env.server().addr.port();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{port}");
        let client = HttpsClient::new(&url, Trust::CaPem(cert.clone()), options()).unwrap();
        let r = client.get("/healthz").unwrap();
        assert_eq!(r.status, 200, "{host}");
    }
    // The CA alone is also a trust anchor.
    let ca = std::fs::read(env.dir.path().join("tls/ca.pem")).unwrap();
    let client = HttpsClient::new(
        &format!("https://localhost:{port}"),
        Trust::CaPem(ca),
        options(),
    )
    .unwrap();
    assert_eq!(client.get("/healthz").unwrap().status, 200);
    // A wrong pin is refused before any request is sent.
    let wrong = HttpsClient::new(&env.server().url, Trust::Pin([0; 32]), options()).unwrap();
    assert!(wrong.get("/healthz").is_err());
}

#[test]
fn serve_honours_pramaan_listen_and_config_toml() {
    let dir = tempfile::tempdir().unwrap();
    pramaan_server::server::admin_init(dir.path(), "localhost").unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "listen = \"127.0.0.1:0\"\nnonce_ttl_secs = 42\n",
    )
    .unwrap();
    let config = pramaan_server::config::Config::load(dir.path()).unwrap();
    assert_eq!(config.nonce_ttl_secs, 42);
    assert_eq!(config.offline_window_secs, 7 * 86_400);
    let server = pramaan_server::server::start(dir.path(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let c = HttpsClient::new(&server.url, Trust::Pin(server.pin), options()).unwrap();
    let ch: pramaan_core::claims::Challenge =
        pramaan_core::claims::decode(&c.get("/v1/challenge").unwrap().body).unwrap();
    let left = ch.expires - now();
    assert!((40..=42).contains(&left), "{left}");
    std::fs::write(dir.path().join("config.toml"), "nonce_tll_secs = 1\n").unwrap();
    assert!(pramaan_server::config::Config::load(dir.path()).is_err());
}

#[test]
fn renew_cert_keeps_the_pin_or_stages_a_new_key_and_refuses_a_short_transition() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("srv");
    let data_s = data.to_str().unwrap();
    let out = pramaan(&["admin", "init", "--data", data_s]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let pin = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SPKI pin:"))
        .unwrap()
        .trim()
        .to_string();

    let out = pramaan(&["admin", "renew-cert", "--data", data_s, "--days", "400"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("SPKI pin:     {pin} (unchanged")),
        "{stdout}"
    );
    assert!(!stdout.contains("New local CA"), "{stdout}");

    // Bad input changes nothing.
    for (args, says) in [
        (vec!["--new-key"], "--transition"),
        (vec!["--new-key", "--transition", "1d"], "14 days"),
        (vec!["--new-key", "--transition", "soon"], "not a duration"),
        (vec!["--days", "9000"], "1 to 825 days"),
    ] {
        let mut all = vec!["admin", "renew-cert", "--data", data_s];
        all.extend(args);
        let out = pramaan(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(says), "{all:?}: {stderr}");
        assert!(!data.join("tls/next").exists());
    }

    let out = pramaan(&[
        "admin",
        "renew-cert",
        "--data",
        data_s,
        "--new-key",
        "--transition",
        "30d",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_pin = stdout
        .lines()
        .find_map(|l| l.strip_prefix("New SPKI pin:"))
        .unwrap()
        .trim();
    assert_ne!(new_pin, pin);
    assert!(stdout.contains(&format!("--pin {new_pin}")), "{stdout}");
    assert!(data.join("tls/next/takes_over_at").exists());
    let out = pramaan(&[
        "admin",
        "renew-cert",
        "--data",
        data_s,
        "--new-key",
        "--transition",
        "30d",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already staged"));

    // A directory made before the CA key was kept gets a new CA, and says who needs it.
    std::fs::remove_file(data.join("tls/ca.key")).unwrap();
    let old_ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    let out = pramaan(&["admin", "renew-cert", "--data", data_s]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("New local CA") && stdout.contains("--ca"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("SPKI pin:     {pin} (unchanged")),
        "{stdout}"
    );
    assert_ne!(std::fs::read(data.join("tls/ca.pem")).unwrap(), old_ca);
    assert!(data.join("tls/ca.key").exists());
}
