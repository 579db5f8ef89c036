//! `PUT` and `GET /v1/evidence/status-list` over TLS (design section 8): only an admin
//! installs Google's revocation status list, every role reads it, a bad list or a fetch
//! time in the future is refused and the list in force stays, the list survives a
//! restart, its body limit is the list's own (not the device endpoints'), and
//! `GET /metrics` reports its age and size.
//!
//! That a listed chain serial is refused is shown in core on real captured chains
//! (`policy::evidence`); here the list itself is under test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::evidence::status_list::MAX_STATUS_LIST_BYTES;
use pramaan_core::transport::{HttpsClient, Response};
use serde_json::Value;

const PATH: &str = "/v1/evidence/status-list";
const DAY: u64 = 86_400;

/// Google's shape, with the fields the server ignores (`expires`, `comment`).
const LIST: &str = r#"{"entries": {
    "2c8cdddfd5e03bfc": {"status": "REVOKED", "expires": "2020-11-13", "reason": "KEY_COMPROMISE", "comment": "Key stored on unsecure system"},
    "c8966fcb2fbe32": {"status": "SUSPENDED", "reason": "SOFTWARE_FLAW"},
    "1dc5f2f8c48b4f1c": {"status": "REVOKED"}
}}"#;

fn install(client: &HttpsClient, body: &str, fetched_at: Option<u64>) -> Response {
    let path = match fetched_at {
        Some(t) => format!("{PATH}?fetched_at={t}"),
        None => PATH.to_string(),
    };
    client
        .put(&path, "application/json", body.as_bytes())
        .expect("request")
}

fn json(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{} not JSON ({e}): {}", r.status, text(r)))
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Status, error code and message of a refused JSON answer.
fn refusal(r: &Response) -> (u16, String, String) {
    let v = json(r);
    (
        r.status,
        v["error"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn metric(env: &Env, name: &str) -> i64 {
    let r = env.admin().get("/metrics").expect("metrics");
    assert_eq!(r.status, 200);
    let body = text(&r);
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{body}"))
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn only_an_admin_installs_and_every_role_reads() {
    let env = start();
    let admin = env.admin();
    let auditor = env.client_with(&env.token("auditor", None));
    let it = env.client_with(&env.token("it", Some("GAD")));
    let nobody = env.device_client();
    let stranger = env.client_with("bm90LWEtdG9rZW4tYXQtYWxs");

    // Nothing installed yet: every reader gets 404 with the way out named.
    let r = admin.get(PATH).unwrap();
    let (status, code, message) = refusal(&r);
    assert_eq!((status, code.as_str()), (404, "not_found"), "{message}");
    assert!(message.contains("status-list import"), "{message}");

    // Refused installs change nothing, whoever tries.
    for (who, client, status, code) in [
        ("auditor", &auditor, 403, "forbidden"),
        ("it", &it, 403, "forbidden"),
        ("no token", &nobody, 401, "unauthorized"),
        ("unknown token", &stranger, 401, "unauthorized"),
    ] {
        let r = install(client, LIST, None);
        assert_eq!(r.status, status, "PUT by {who}: {}", text(&r));
        assert_eq!(refusal(&r).1, code, "PUT by {who}");
        assert_eq!(admin.get(PATH).unwrap().status, 404, "after PUT by {who}");
    }
    assert_eq!(metric(&env, "pramaan_status_list_entries"), 0);

    // The admin installs; the answer says what is now in force.
    let fetched = now() - 3 * DAY - 60;
    let r = install(&admin, LIST, Some(fetched));
    assert_eq!(r.status, 200, "{}", text(&r));
    let v = json(&r);
    assert_eq!(v["entries"], 3, "{v}");
    assert_eq!(v["fetched_at"], fetched, "{v}");
    let imported = v["imported_at"].as_u64().expect("imported_at");
    assert!(imported.abs_diff(now()) < 60, "{v}");

    // Every role reads it; without a valid token nobody does.
    for (who, client) in [("admin", &admin), ("auditor", &auditor), ("it", &it)] {
        let r = client.get(PATH).unwrap();
        assert_eq!(r.status, 200, "GET by {who}: {}", text(&r));
        let v = json(&r);
        assert_eq!(v["entries"], 3, "{who}: {v}");
        assert_eq!(v["fetched_at"], fetched, "{who}: {v}");
        assert_eq!(v["imported_at"], imported, "{who}: {v}");
        assert_eq!(v["age_days"], 3, "{who}: {v}");
    }
    assert_eq!(nobody.get(PATH).unwrap().status, 401);
    assert_eq!(stranger.get(PATH).unwrap().status, 401);

    // An auditor or IT still cannot replace the installed list.
    let other = r#"{"entries": {"ab": {"status": "REVOKED"}}}"#;
    assert_eq!(install(&auditor, other, None).status, 403);
    assert_eq!(install(&it, other, None).status, 403);
    assert_eq!(json(&admin.get(PATH).unwrap())["entries"], 3);
}

#[test]
fn a_bad_list_or_a_future_fetch_time_is_refused_and_the_installed_list_stays() {
    let env = start();
    let admin = env.admin();
    let fetched = now() - DAY;
    assert_eq!(install(&admin, LIST, Some(fetched)).status, 200);
    let before = json(&admin.get(PATH).unwrap());

    let future = now() + 2 * DAY;
    let cases: Vec<(&str, String, Option<u64>, &str)> = vec![
        (
            "not JSON",
            "<html>rate limited</html>".into(),
            None,
            "not Google's",
        ),
        (
            "JSON without entries",
            r#"{"revoked": []}"#.into(),
            None,
            "missing field `entries`",
        ),
        (
            "unknown status",
            r#"{"entries": {"ab": {"status": "MAYBE"}}}"#.into(),
            None,
            "MAYBE",
        ),
        (
            "serial not hex",
            r#"{"entries": {"xyz-1": {"status": "REVOKED"}}}"#.into(),
            None,
            "\"xyz-1\" is not a hexadecimal number",
        ),
        ("empty body", String::new(), None, "not Google's"),
        (
            "fetched in the future",
            LIST.into(),
            Some(future),
            "in the future",
        ),
    ];
    for (what, body, fetched_at, needle) in cases {
        let r = install(&admin, &body, fetched_at);
        let (status, code, message) = refusal(&r);
        assert_eq!(
            (status, code.as_str()),
            (400, "malformed"),
            "{what}: {message}"
        );
        assert!(message.contains(needle), "{what}: {message}");
        assert!(message.contains("unchanged"), "{what}: {message}");
        assert_eq!(
            json(&admin.get(PATH).unwrap()),
            before,
            "{what} changed the list"
        );
    }

    // A fetch time that is not a number, and a body that is not UTF-8.
    let r = admin
        .put(
            &format!("{PATH}?fetched_at=yesterday"),
            "application/json",
            LIST.as_bytes(),
        )
        .unwrap();
    let (status, code, message) = refusal(&r);
    assert_eq!((status, code.as_str()), (400, "malformed"), "{message}");
    assert!(message.contains("fetched_at"), "{message}");
    let r = admin
        .put(PATH, "application/json", &[0xff, 0xfe, b'{'])
        .unwrap();
    assert_eq!(refusal(&r).1, "malformed");
    assert_eq!(json(&admin.get(PATH).unwrap()), before);
    assert_eq!(metric(&env, "pramaan_status_list_entries"), 3);

    // An older copy than the one in force is refused: it would turn back revocations.
    let r = install(&admin, r#"{"entries": {}}"#, Some(fetched - DAY));
    let (status, code, message) = refusal(&r);
    assert_eq!((status, code.as_str()), (409, "conflict"), "{message}");
    assert!(message.contains("newer copy"), "{message}");
    assert_eq!(json(&admin.get(PATH).unwrap()), before);
}

#[test]
fn the_limit_is_the_lists_own_not_the_device_or_it_endpoints() {
    let env = start();
    let admin = env.admin();
    // 40,000 entries (~2.5 MB, over axum's 2 MiB default and far over the device
    // endpoints' 64 KiB), padded with JSON whitespace to 9 MiB (over the IT endpoints'
    // 8 MiB): accepted, since the list's own limit is 16 MiB.
    let entries: Vec<String> = (0..40_000u64)
        .map(|i| {
            format!(
                "\"{:x}\": {{\"status\": \"REVOKED\", \"reason\": \"KEY_COMPROMISE\"}}",
                i + 0x1_0000
            )
        })
        .collect();
    let mut big = format!("{{\"entries\": {{{}}}}}", entries.join(",\n"));
    assert!(big.len() > 2 * 1024 * 1024);
    big.push_str(&" ".repeat(9 * 1024 * 1024 - big.len()));
    assert!(big.len() > pramaan_server::api::IT_BODY_LIMIT);
    let r = install(&admin, &big, None);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["entries"], 40_000);
    // Over the list's limit: 413, and the list in force stays.
    let huge = vec![b' '; MAX_STATUS_LIST_BYTES + 1];
    let r = admin.put(PATH, "application/json", &huge).unwrap();
    let (status, code, message) = refusal(&r);
    assert_eq!((status, code.as_str()), (413, "too_large"), "{message}");
    assert!(
        message.contains(&MAX_STATUS_LIST_BYTES.to_string()),
        "{message}"
    );
    assert_eq!(json(&admin.get(PATH).unwrap())["entries"], 40_000);
}

#[test]
fn the_list_survives_a_restart_and_metrics_report_its_age_and_size() {
    let mut env = start();
    // None installed: age -1 and no entries (documented in server/src/metrics.rs).
    assert_eq!(metric(&env, "pramaan_status_list_age_seconds"), -1);
    assert_eq!(metric(&env, "pramaan_status_list_entries"), 0);

    let fetched = now() - 10 * DAY;
    let r = install(&env.admin(), LIST, Some(fetched));
    assert_eq!(r.status, 200, "{}", text(&r));
    let installed = json(&r);
    let age = metric(&env, "pramaan_status_list_age_seconds");
    let expected = i64::try_from(now() - fetched).unwrap();
    assert!(
        (expected - 5..=expected).contains(&age),
        "age {age}, expected {expected}"
    );
    assert_eq!(metric(&env, "pramaan_status_list_entries"), 3);

    env.restart();
    let v = json(&env.admin().get(PATH).unwrap());
    assert_eq!(v["entries"], installed["entries"], "{v}");
    assert_eq!(v["fetched_at"], installed["fetched_at"], "{v}");
    assert_eq!(v["imported_at"], installed["imported_at"], "{v}");
    assert_eq!(v["age_days"], 10, "{v}");
    assert_eq!(metric(&env, "pramaan_status_list_entries"), 3);
    assert!(metric(&env, "pramaan_status_list_age_seconds") >= 10 * 86_400);
}
