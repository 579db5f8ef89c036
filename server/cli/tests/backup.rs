//! `pramaan admin backup` and `pramaan admin restore` against the real binary: a backup
//! taken while `pramaan bench --server` loads the server restores to a server whose log
//! verifies since a checkpoint saved before the backup and holds every attestation
//! acknowledged before it began; an older backup is refused over a newer published
//! checkpoint (the replaced directory's own, and `--published`); a live directory and
//! damaged or tampered copies are refused with their reason and change nothing; the
//! archive reader never panics on mutated bytes.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pramaan_core::transport::{HttpsClient, Options, Trust};
use pramaan_testkit::bench_acks::{ack_lines, finish, logged_attestations, ok, wait_for_acks};
use pramaan_testkit::free_port;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};

const BIN: &str = env!("CARGO_BIN_EXE_pramaan");

/// `pramaan ARGS` with no PRAMAAN_* variable from the test's environment.
fn pramaan(args: &[&str]) -> Command {
    pramaan_testkit::command_without_pramaan_env(BIN, args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A failed command's stderr (asserting it failed).
fn refused(out: Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `pramaan admin init` of `data`; the admin token.
fn init(data: &Path) -> String {
    let out = ok(pramaan(&["admin", "init", "--data", s(data)])
        .output()
        .unwrap());
    out.lines().last().unwrap().trim().to_string()
}

/// `pramaan serve` on a data directory, killed when dropped.
struct Server {
    child: Child,
    url: String,
    data: PathBuf,
}

impl Server {
    fn start(data: &Path) -> Self {
        let port = free_port();
        let child = pramaan(&["serve", "--data", s(data)])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("PRAMAAN_RATE_LIMIT", "0")
            .env("PRAMAAN_DEVICE_RATE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pramaan serve");
        let mut server = Self {
            child,
            url: format!("https://127.0.0.1:{port}"),
            data: data.to_path_buf(),
        };
        let probe = server.client(None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while probe.get("/healthz").map(|r| r.status).ok() != Some(200) {
            assert!(
                server.child.try_wait().unwrap().is_none(),
                "pramaan serve exited"
            );
            assert!(Instant::now() < deadline, "pramaan serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn ca(&self) -> PathBuf {
        self.data.join("tls/cert.pem")
    }

    fn client(&mut self, token: Option<&str>) -> HttpsClient {
        let c = HttpsClient::new(
            &self.url,
            Trust::CaPem(std::fs::read(self.ca()).unwrap()),
            Options {
                attempts: 1,
                ..Options::default()
            },
        )
        .unwrap();
        match token {
            Some(t) => c.with_bearer(t),
            None => c,
        }
    }

    /// `GET /v1/audit/checkpoint` saved to `path`; the note.
    fn checkpoint(&mut self, admin: &str, path: &Path) -> String {
        let r = self
            .client(Some(admin))
            .get("/v1/audit/checkpoint")
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        std::fs::write(path, &r.body).unwrap();
        String::from_utf8(r.body).unwrap()
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn backup(data: &Path, out: &Path) -> String {
    ok(
        pramaan(&["admin", "backup", "--data", s(data), "--out", s(out)])
            .output()
            .unwrap(),
    )
}

fn restore(from: &Path, data: &Path, published: &[&Path]) -> Output {
    let mut c = pramaan(&["admin", "restore", "--from", s(from), "--data", s(data)]);
    for p in published {
        c.arg("--published").arg(p);
    }
    c.output().unwrap()
}

/// A checkpoint note's size (its second line).
fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// A new log entry, offline (an auditor token's issue is logged).
fn add_entry(data: &Path) {
    ok(
        pramaan(&["admin", "token", "--data", s(data), "--role", "auditor"])
            .output()
            .unwrap(),
    );
}

/// What a directory holds, file by file (names and contents), for "unchanged" checks.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            // SQLite's shared-memory index of the WAL: readers write to it.
            if p.to_string_lossy().ends_with("-shm") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The names in a directory (temporary or moved-aside directories show up here).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `pramaan audit pull --since CP` from `server` and `pramaan audit verify --since CP
/// --log-key VKEY`; the attestations of the verified bundle.
fn pull_verify_since(
    server: &Server,
    admin: &str,
    since: &Path,
    vkey: &Path,
    work: &Path,
) -> BTreeMap<(String, u64), Vec<u64>> {
    let bundle = work.join("restored.bundle");
    ok(pramaan(&["audit", "pull", "--server", &server.url, "--ca"])
        .arg(server.ca())
        .args(["--start", "0", "--out", s(&bundle), "--since", s(since)])
        .env("PRAMAAN_TOKEN", admin)
        .output()
        .unwrap());
    let out = ok(
        pramaan(&["audit", "verify", s(&bundle), "--log-key", s(vkey)])
            .args(["--since", s(since), "--format", "json"])
            .output()
            .unwrap(),
    );
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let since_size = size_of(&std::fs::read_to_string(since).unwrap());
    assert_eq!(summary["consistent_since"], since_size, "{summary}");
    let shown = ok(pramaan(&["audit", "show", "--format", "json"])
        .arg(&bundle)
        .args(["--log-key", s(vkey)])
        .output()
        .unwrap());
    logged_attestations(&shown)
}

#[test]
fn a_backup_under_load_restores_every_attestation_acknowledged_before_it() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let admin = init(&data);
    let vkey = work.path().join("log.vkey");
    std::fs::copy(data.join("log.vkey"), &vkey).unwrap();
    let mut server = Server::start(&data);
    let acks = work.path().join("acks.log");
    let mut bench = pramaan(&["bench", "--server", &server.url, "--ca"])
        .arg(server.ca())
        .args(["--format", "json", "--devices", "8", "--seconds", "8"])
        // Paced, so the bundle checked afterwards stays a few thousand entries.
        .args(["--rate", "200", "--ack-log", s(&acks)])
        .env("PRAMAAN_TOKEN", &admin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_acks(&acks, 50, &mut bench);
    let cp = work.path().join("before.checkpoint");
    let cp_note = server.checkpoint(&admin, &cp);
    // Every attestation acknowledged before the backup begins.
    let before = ack_lines(&acks);
    let b = work.path().join("under-load.pramaan");
    let t = Instant::now();
    let said = backup(&data, &b);
    eprintln!(
        "backup of {} bytes under load in {:?}",
        std::fs::metadata(&b).unwrap().len(),
        t.elapsed()
    );
    assert!(said.contains("private keys"), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&b).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup holds private keys");
    }
    let report = finish(bench);
    let after = ack_lines(&acks);
    assert!(
        after.len() > before.len(),
        "the load went on after the backup: {report}"
    );
    server.stop();

    let restored = work.path().join("restored");
    let out = ok(restore(&b, &restored, &[]));
    assert!(out.contains("stored checkpoints"), "{out}");
    let mut server = Server::start(&restored);
    let logged = pull_verify_since(&server, &admin, &cp, &vkey, work.path());
    assert!(!before.is_empty() && size_of(&cp_note) > 0);
    for (device, seq, index) in &before {
        assert_eq!(
            logged.get(&(device.clone(), *seq)),
            Some(&vec![*index]),
            "acknowledged before the backup: {device} seq {seq} at {index}"
        );
    }
    // The restored server keeps signing: a checkpoint at least as large as before.
    let now = server.checkpoint(&admin, &work.path().join("after.checkpoint"));
    assert!(size_of(&now) >= size_of(&cp_note));
    eprintln!(
        "{} acknowledged before the backup, {} in total, {} attestations in the restored log",
        before.len(),
        after.len(),
        logged.len()
    );
}

#[test]
fn an_older_backup_is_refused_over_a_newer_published_checkpoint() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    let admin = init(&data);
    let mut server = Server::start(&data);
    server.checkpoint(&admin, &w.join("first.checkpoint"));
    let old = w.join("old.pramaan");
    backup(&data, &old);
    add_entry(&data);
    add_entry(&data);
    let newer = server.checkpoint(&admin, &w.join("newer.checkpoint"));
    let published = w.join("newer.checkpoint");
    server.stop();
    let old_size = size_of(&std::fs::read_to_string(w.join("first.checkpoint")).unwrap());

    // Over the directory that published it (its own checkpoints table).
    let before = snapshot(&data);
    let listing = names(w);
    let err = refused(restore(&old, &data, &[]));
    assert!(err.contains("refusing to restore"), "{err}");
    assert!(
        err.contains(&format!("{} entries was published", size_of(&newer)))
            && err.contains(&format!("holds {old_size}"))
            && err.contains("stored in")
            && err.contains("newer backup"),
        "{err}"
    );
    assert_eq!(snapshot(&data), before, "the directory is unchanged");
    assert_eq!(names(w), listing, "nothing was made or moved");

    // Into a new directory, with the checkpoint the auditors hold.
    let fresh = w.join("fresh");
    let err = refused(restore(&old, &fresh, &[&published]));
    assert!(
        err.contains("refusing to restore") && err.contains(s(&published)),
        "{err}"
    );
    assert!(!fresh.exists());

    // A fork: the old copy grown past the published size with other entries. Large
    // enough, but its root at the published size is not the published one.
    let fork = w.join("fork");
    ok(restore(&old, &fork, &[]));
    for _ in 0..3 {
        add_entry(&fork);
    }
    let forked = w.join("forked.pramaan");
    backup(&fork, &forked);
    for target in [&data, &w.join("fresh2")] {
        let err = refused(restore(&forked, target, &[&published]));
        assert!(
            err.contains("refusing to restore")
                && err.contains(&format!("has another root at {} entries", size_of(&newer))),
            "{err}"
        );
    }
    assert_eq!(snapshot(&data), before);
    assert!(!w.join("fresh2").exists());

    // A backup that holds the published checkpoint is accepted, both ways.
    let new = w.join("new.pramaan");
    backup(&data, &new);
    let out = ok(restore(&new, &fresh, &[&published]));
    assert!(out.contains("is in the restored log"), "{out}");
    let out = ok(restore(&new, &data, &[]));
    assert!(out.contains("moved the previous"), "{out}");
    let aside: Vec<String> = names(w)
        .into_iter()
        .filter(|n| n.starts_with("data.before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "{:?}", names(w));
    assert_eq!(
        snapshot(&w.join(&aside[0])).len(),
        before.len(),
        "the replaced directory was kept whole"
    );
}

/// A checkpoint published after the backup, of the size the backup's log has: restored
/// with `--published`, it is stored, so the restored server serves exactly that note
/// (and checks every later tree against it).
#[test]
fn a_published_checkpoint_the_backup_holds_is_stored_on_restore() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    let admin = init(&data);
    add_entry(&data);
    let b = w.join("b.pramaan");
    backup(&data, &b);
    let mut server = Server::start(&data);
    let cp = w.join("cp");
    let note = server.checkpoint(&admin, &cp);
    server.stop();
    let restored = w.join("restored");
    // A file that is no checkpoint of this log is refused, not ignored.
    let junk = w.join("junk");
    std::fs::write(&junk, "example.org/log\n5\nAAAA\n").unwrap();
    let err = refused(restore(&b, &restored, &[&cp, &junk]));
    assert!(
        err.contains("not a checkpoint of this backup's log") && err.contains(s(&junk)),
        "{err}"
    );
    // Over another deployment's directory, whose checkpoints are of another log.
    let other = w.join("other");
    let other_admin = init(&other);
    let mut other_server = Server::start(&other);
    other_server.checkpoint(&other_admin, &w.join("other.cp"));
    other_server.stop();
    let before = snapshot(&other);
    let err = refused(restore(&b, &other, &[]));
    assert!(err.contains("it is another log"), "{err}");
    assert_eq!(snapshot(&other), before);
    assert!(!restored.exists());

    let out = ok(restore(&b, &restored, &[&cp]));
    assert!(out.contains("stored, so the server never signs"), "{out}");
    let mut server = Server::start(&restored);
    assert_eq!(server.checkpoint(&admin, &w.join("again")), note);
}

#[test]
fn a_backup_spanning_key_rotations_checks_and_restores_with_every_key() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    let admin = init(&data);
    add_entry(&data);
    let mut server = Server::start(&data);
    let before_rotation = w.join("cp-old-key");
    let old_note = server.checkpoint(&admin, &before_rotation);
    server.stop();
    ok(pramaan(&["admin", "rotate-key", "log", "--data", s(&data)])
        .output()
        .unwrap());
    // The answer key too: the old one is kept for previous-version phones.
    ok(
        pramaan(&["admin", "rotate-key", "answer", "--data", s(&data)])
            .output()
            .unwrap(),
    );
    add_entry(&data);
    let mut server = Server::start(&data);
    let after_rotation = w.join("cp-new-key");
    let new_note = server.checkpoint(&admin, &after_rotation);
    server.stop();
    assert!(size_of(&new_note) > size_of(&old_note));
    let b = w.join("b.pramaan");
    backup(&data, &b);
    // Stored checkpoints signed by the first key and by the second both check, and so do
    // published ones of either key.
    let restored = w.join("restored");
    ok(restore(&b, &restored, &[&before_rotation, &after_rotation]));
    assert!(restored.join("log-keys.json").is_file());
    assert!(restored.join("answer-keys.json").is_file());
    assert_eq!(
        names(&restored.join("answer-keys")),
        names(&data.join("answer-keys")),
        "the kept answer keys are restored"
    );
    assert!(!names(&data.join("answer-keys")).is_empty());
    #[cfg(unix)]
    for name in names(&restored.join("answer-keys")) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(restored.join("answer-keys").join(&name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let mut server = Server::start(&restored);
    assert_eq!(server.checkpoint(&admin, &w.join("again")), new_note);
    server.stop();
}

#[test]
fn a_live_directory_is_refused_and_left_untouched() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    init(&data);
    std::fs::write(data.join("notes.txt"), "the operator's own").unwrap();
    let b = w.join("b.pramaan");
    let said = backup(&data, &b);
    assert!(
        said.contains("not copied (not a server's files): notes.txt"),
        "{said}"
    );
    let server = Server::start(&data);
    let before = snapshot(&data);
    let listing = names(w);
    let err = refused(restore(&b, &data, &[]));
    assert!(
        err.contains(&format!("a server is running on {}", s(&data)))
            && err.contains("stop it first"),
        "{err}"
    );
    assert_eq!(snapshot(&data), before);
    assert_eq!(names(w), listing);
    server.stop();
    ok(restore(&b, &data, &[]));
}

/// Rewrites a backup with `change(name, bytes)` applied to its files, manifest sums and
/// checksum recomputed: a copy tampered with by someone who knows the format.
fn repack(from: &Path, to: &Path, change: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let sha256 = |b: &[u8]| hex::encode(ring::digest::digest(&ring::digest::SHA256, b));
    let mut archive = tar::Archive::new(std::fs::File::open(from).unwrap());
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_str().unwrap().to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        files.push((name, bytes));
    }
    let mut manifest: serde_json::Value = serde_json::from_slice(&files[0].1).unwrap();
    let mut out = tar::Builder::new(std::fs::File::create(to).unwrap());
    let mut body = Vec::new();
    for (i, (name, bytes)) in files[1..files.len() - 1].iter().enumerate() {
        let bytes = change(name, bytes.clone());
        manifest["files"][i]["size"] = bytes.len().into();
        manifest["files"][i]["sha256"] = sha256(&bytes).into();
        body.push((name.clone(), bytes));
    }
    let m = serde_json::to_vec(&manifest).unwrap();
    let sum = format!("{}\n", sha256(&m));
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        out.append_data(&mut h, name, bytes).unwrap();
    };
    add("manifest.json", &m);
    for (name, bytes) in &body {
        add(name, bytes);
    }
    add("manifest.sha256", sum.as_bytes());
    out.finish().unwrap();
}

/// The database of a copy, changed by `f` on a scratch file.
fn change_db(bytes: Vec<u8>, f: impl Fn(&rusqlite::Connection)) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db");
    std::fs::write(&p, bytes).unwrap();
    {
        let conn = rusqlite::Connection::open(&p).unwrap();
        f(&conn);
        let _: String = conn
            .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
            .unwrap();
    }
    std::fs::read(&p).unwrap()
}

#[test]
fn damaged_and_tampered_copies_are_refused_with_their_reason() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    let admin = init(&data);
    add_entry(&data);
    let mut server = Server::start(&data);
    server.checkpoint(&admin, &w.join("cp"));
    server.stop();
    let good = w.join("good.pramaan");
    backup(&data, &good);
    let bytes = std::fs::read(&good).unwrap();
    let other = w.join("other");
    init(&other);

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut flipped = bytes.clone();
    let mid = bytes.len() / 2;
    flipped[mid] ^= 0x01;
    cases.push((
        "one flipped byte",
        flipped,
        "pramaan.db does not match its SHA-256",
    ));
    cases.push((
        "truncated",
        bytes[..bytes.len() * 2 / 3].to_vec(),
        "not a usable backup",
    ));
    cases.push((
        "not an archive",
        b"this is not a backup\n".repeat(100),
        "not a usable backup",
    ));
    let t = w.join("t.pramaan");
    let other_vkey = std::fs::read(other.join("log.vkey")).unwrap();
    repack(&good, &t, |name, b| {
        if name == "log.vkey" {
            other_vkey.clone()
        } else {
            b
        }
    });
    cases.push((
        "log.vkey of another log key",
        std::fs::read(&t).unwrap(),
        "is not the verifier key of log.key",
    ));
    // A stored checkpoint signed with the right key over a root the tree does not have.
    let log_key = pramaan_core::ServerKey::load(&data.join("log.key")).unwrap();
    let origin = std::fs::read_to_string(data.join("log.vkey"))
        .unwrap()
        .split('+')
        .next()
        .unwrap()
        .to_string();
    let signer = pramaan_tlog::LogSigner::new(origin, log_key);
    repack(&good, &t, |name, b| {
        if name != "pramaan.db" {
            return b;
        }
        change_db(b, |conn| {
            let size: i64 = conn
                .query_row("SELECT max(size) FROM checkpoints", [], |r| r.get(0))
                .unwrap();
            let root = [7u8; 32];
            let note = signer.sign_checkpoint(size as u64, &root).unwrap();
            conn.execute(
                "UPDATE checkpoints SET root = ?1, note = ?2 WHERE size = ?3",
                rusqlite::params![root.to_vec(), note, size],
            )
            .unwrap();
        })
    });
    cases.push((
        "a stored checkpoint that does not match the tree",
        std::fs::read(&t).unwrap(),
        "does not match its tree",
    ));
    repack(&good, &t, |name, b| {
        if name != "pramaan.db" {
            return b;
        }
        change_db(b, |conn| {
            conn.execute(
                "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        })
    });
    cases.push((
        "a database newer than this binary",
        std::fs::read(&t).unwrap(),
        "schema version 999",
    ));

    // Each refused into a new directory and over the existing (stopped) one.
    let before = snapshot(&data);
    for (what, archive, reason) in cases {
        let f = w.join("case.pramaan");
        std::fs::write(&f, &archive).unwrap();
        let listing = names(w);
        let fresh = w.join("fresh");
        for target in [&fresh, &data] {
            let err = refused(restore(&f, target, &[]));
            assert!(
                err.contains(reason) && err.contains("nothing was restored"),
                "{what}: {err}"
            );
        }
        assert!(!fresh.exists(), "{what}");
        assert_eq!(names(w), listing, "{what}: nothing made or moved");
        assert_eq!(
            snapshot(&data),
            before,
            "{what}: the directory is unchanged"
        );
    }
    // The genuine copy passes the same checks.
    ok(restore(&good, &w.join("fresh"), &[]));
}

#[test]
fn a_postgres_deployment_is_refused_with_the_tools_to_use() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    init(&data);
    let out = pramaan(&["admin", "backup", "--data", s(&data), "--out"])
        .arg(work.path().join("b"))
        .env(
            "PRAMAAN_DATABASE_URL",
            "postgres://pramaan:secret@127.0.0.1:1/pramaan",
        )
        .output()
        .unwrap();
    let err = refused(out);
    assert!(
        err.contains("pg_dump") && err.contains("deploy.md"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
    assert!(!work.path().join("b").exists());
}

/// The archive reader on mutated and random bytes: an error or the genuine manifest,
/// never a panic, and never a file outside the directory it unpacks into.
#[test]
fn the_backup_reader_never_panics_on_mutated_bytes() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    init(&data);
    let good = work.path().join("good.pramaan");
    backup(&data, &good);
    let bytes = std::fs::read(&good).unwrap();
    let genuine = {
        let d = tempfile::tempdir().unwrap();
        pramaan_server::backup::unpack(&bytes[..], d.path()).unwrap()
    };
    let outside = work.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let mut runner = TestRunner::new(PtConfig {
        cases: 256,
        ..PtConfig::default()
    });
    let strategy = (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        any::<usize>(),
        proptest::collection::vec(any::<u8>(), 0..4096),
        0u8..3,
    );
    runner
        .run(&strategy, |(flips, cut, random, kind)| {
            let input = match kind {
                0 => {
                    let mut b = bytes.clone();
                    for (pos, x) in &flips {
                        let i = pos % b.len();
                        b[i] ^= (*x).max(1);
                    }
                    b
                }
                1 => bytes[..cut % bytes.len()].to_vec(),
                _ => random,
            };
            let into = outside.join("into");
            std::fs::create_dir(&into).unwrap();
            let result = pramaan_server::backup::unpack(&input[..], &into);
            if let Ok(m) = result {
                prop_assert_eq!(&m, &genuine);
            }
            std::fs::remove_dir_all(&into).unwrap();
            prop_assert!(names(&outside).is_empty(), "{:?}", names(&outside));
            Ok(())
        })
        .unwrap();
}
