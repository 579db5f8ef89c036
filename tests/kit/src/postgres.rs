//! The PostgreSQL test cluster: where it is, and a fresh database per test.
//!
//! Why through the environment: a PostgreSQL server is a process the tests cannot start
//! from inside `cargo test` without root tricks (it refuses to run as root), so `.ci/run`
//! starts one with `tests/postgres/cluster start DIR` and exports `PRAMAAN_TEST_POSTGRES`
//! (a URL of its `postgres` database, for a role that may create databases) and
//! `PRAMAAN_TEST_POSTGRES_CA` (the CA of its TLS certificate). Without them a test fails
//! under `CI=true` and prints SKIP elsewhere ([`cluster`]).

use std::sync::Mutex;

/// The variable naming the test cluster's URL.
pub const URL_ENV: &str = "PRAMAAN_TEST_POSTGRES";
/// The variable naming the PEM file of the CA that signed the cluster's certificate.
pub const CA_ENV: &str = "PRAMAAN_TEST_POSTGRES_CA";

/// The test cluster as `.ci/run` (or `tests/postgres/cluster start`) described it.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// URL of the cluster's `postgres` database (no TLS parameters).
    pub url: String,
    /// The CA of the cluster's TLS certificate, if given.
    pub ca: Option<std::path::PathBuf>,
}

/// The test cluster, or `None` after a SKIP line when there is none outside CI.
///
/// # Panics
/// Under `CI=true` when `PRAMAAN_TEST_POSTGRES` is unset: CI must test PostgreSQL.
pub fn cluster() -> Option<Cluster> {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(Cluster {
            url: url.trim().to_string(),
            ca: std::env::var_os(CA_ENV)
                .filter(|v| !v.is_empty())
                .map(Into::into),
        }),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            if ci {
                panic!(
                    "CI=true but {URL_ENV} is unset: no PostgreSQL cluster to test against \
                     (.ci/run starts one with tests/postgres/cluster start DIR)"
                );
            }
            eprintln!(
                "SKIP: {URL_ENV} is unset, so the PostgreSQL tests do not run \
                 (eval \"$(tests/postgres/cluster start /tmp/pramaan-pg)\" starts a cluster)"
            );
            None
        }
    }
}

/// `base` with its database name replaced by `db` (the path after the authority).
pub fn url_with_database(base: &str, db: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let authority_end = head[scheme_end..]
        .find('/')
        .map_or(head.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &head[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A database of the cluster named for `key` (created empty the first time it is asked
/// for; the same key gives the same database again, so two handles can share it). The
/// name is `pramaan_t_` and 16 hex digits of a hash of `key` (a temporary directory's
/// path, say). Returns its URL.
pub fn database_for(cluster: &Cluster, key: &str) -> String {
    use std::hash::{Hash, Hasher};
    // Creating databases concurrently from one process is fine for PostgreSQL; the lock
    // only keeps the "already exists" answer of a racing twin from looking like a failure.
    static CREATING: Mutex<()> = Mutex::new(());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    std::process::id().hash(&mut h);
    let name = format!("pramaan_t_{:016x}", h.finish());
    let _guard = CREATING.lock().unwrap_or_else(|p| p.into_inner());
    let mut admin = postgres::Client::connect(&cluster.url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect to the test cluster {}: {e}", cluster.url));
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .expect("look for the database")
        .is_some();
    if !exists {
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    }
    url_with_database(&cluster.url, &name)
}

/// A fresh, empty database of the cluster for one test; its URL.
pub fn fresh_database(cluster: &Cluster) -> String {
    database_for(cluster, &uuid::Uuid::new_v4().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_and_keeps_the_query() {
        assert_eq!(
            url_with_database("postgres://u@127.0.0.1:5432/postgres", "x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(
            url_with_database("postgres://u@h/postgres?sslmode=require", "y"),
            "postgres://u@h/y?sslmode=require"
        );
        assert_eq!(url_with_database("postgres://u@h", "z"), "postgres://u@h/z");
    }
}
