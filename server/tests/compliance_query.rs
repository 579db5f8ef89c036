//! `GET /v1/compliance` with the dashboard's query parameters (design section 8): search,
//! filters, sort and server-side pages over a department of 122 officers, the CSV export
//! of the same query, and bad parameters refused with a clear 400.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;

/// GAD-1000 .. GAD-1119 (every third a Patel), on top of the seeded GAD-001 and GAD-002.
fn registry_of_120() -> String {
    let mut csv = String::from("officer_id,name,designation,department,email,mobile,entitled\n");
    for i in 0..120 {
        let name = if i % 3 == 0 {
            format!("K. Patel {i}")
        } else {
            format!("M. Rao {i}")
        };
        csv.push_str(&format!(
            "GAD-{n},{name},Section Officer,GAD,o{n}@gujarat.gov.in,+91980001{n},true\n",
            n = 1000 + i
        ));
    }
    csv
}

fn get_json(env: &Env, path: &str) -> serde_json::Value {
    let r = env.admin().get(path).expect("get");
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).expect("json")
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["officers"]
        .as_array()
        .expect("officers")
        .iter()
        .map(|o| o["officer_id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn pages_search_filters_sort_and_export_of_one_department() {
    let env = start();
    env.seed();
    let r = env
        .admin()
        .post(
            "/v1/officers/import",
            "text/csv",
            registry_of_120().as_bytes(),
        )
        .expect("import");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut device = env.enroll("GAD-001");
    env.attest_ok(&mut device);

    // Without page or per_page: the whole report, as the command line reads it.
    let full = get_json(&env, "/v1/compliance?department=GAD");
    assert_eq!(ids(&full).len(), 122);
    assert!(
        full.get("total").is_none(),
        "no paging fields without paging"
    );

    // Page 2 of 50, in officer id order; the summary counts the whole department.
    let page = get_json(&env, "/v1/compliance?department=GAD&page=2");
    assert_eq!(ids(&page).len(), 50);
    assert_eq!(ids(&page)[0], "GAD-1048");
    assert_eq!(
        (
            &page["total"],
            &page["matched"],
            &page["page"],
            &page["per_page"],
            &page["pages"]
        ),
        (&122.into(), &122.into(), &2.into(), &50.into(), &3.into())
    );
    assert_eq!(page["summary"]["not_enrolled"], 121);
    let counted: u64 = page["summary"]
        .as_object()
        .expect("summary")
        .values()
        .map(|n| n.as_u64().expect("count"))
        .sum();
    assert_eq!(counted, 122);
    let last = get_json(&env, "/v1/compliance?department=GAD&page=3&per_page=50");
    assert_eq!(ids(&last).len(), 22);

    // Search (case-insensitive: name, email, and the handle the device reported).
    let patel = get_json(&env, "/v1/compliance?department=GAD&q=PATEL&per_page=500");
    // 40 K. Patels and B. Patel (GAD-002).
    assert_eq!(patel["matched"], 41);
    assert_eq!(
        ids(&get_json(
            &env,
            "/v1/compliance?department=GAD&q=O1007@GUJARAT"
        )),
        ["GAD-1007"]
    );
    let by_handle = get_json(&env, "/v1/compliance?department=GAD&q=%2B919800000001");
    assert_eq!(ids(&by_handle), ["GAD-001"]);
    assert_eq!(by_handle["officers"][0]["handles"][0], "+919800000001");
    assert_eq!(by_handle["officers"][0]["email"], "a.shah@gujarat.gov.in");

    // Filters: status (several), platform, assurance.
    let v = get_json(
        &env,
        "/v1/compliance?department=GAD&status=compliant,warning,noncompliant,stale&page=1",
    );
    assert_eq!(ids(&v), ["GAD-001"]);
    assert_eq!(v["matched"], 1);
    let v = get_json(
        &env,
        "/v1/compliance?department=GAD&status=not_enrolled&per_page=10",
    );
    assert_eq!((&v["matched"], ids(&v).len()), (&121.into(), 10));
    let v = get_json(
        &env,
        "/v1/compliance?department=GAD&platform=android&assurance=software",
    );
    assert_eq!(ids(&v), ["GAD-001"]);
    let v = get_json(&env, "/v1/compliance?department=GAD&platform=ios");
    assert!(ids(&v).is_empty());

    // Sort: name descending; status puts the compliant officer first.
    let v = get_json(
        &env,
        "/v1/compliance?department=GAD&sort=name&order=desc&per_page=3",
    );
    assert_eq!(
        ids(&v),
        ["GAD-1098", "GAD-1097", "GAD-1095"],
        "M. Rao 98, 97, 95"
    );
    let v = get_json(&env, "/v1/compliance?department=GAD&sort=status&per_page=1");
    assert_eq!(ids(&v), ["GAD-001"]);
    let v = get_json(
        &env,
        "/v1/compliance?department=GAD&sort=last_seen&order=desc&per_page=1",
    );
    assert_eq!(ids(&v), ["GAD-001"]);

    // The export: the same filter and order, every matched row, no page cut.
    let r = env
        .admin()
        .get("/v1/compliance?department=GAD&format=csv&q=patel&sort=name&page=1&per_page=5")
        .expect("csv");
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).expect("utf-8");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 41, "{text}");
    assert!(rows[0].starts_with("GAD-002,B. Patel,"), "{text}");
    assert!(rows.iter().all(|r| r.contains("Patel")), "{text}");
}

#[test]
fn bad_query_parameters_are_refused_with_what_was_wrong() {
    let env = start();
    env.seed();
    for (query, says) in [
        ("status=compliant,happy", "\"happy\" is not one of"),
        ("platform=symbian", "symbian"),
        ("assurance=strong", "strong"),
        (
            "sort=email",
            "expected officer_id, name, status or last_seen",
        ),
        ("order=sideways", "asc or desc"),
        ("page=0", "page \"0\""),
        ("per_page=501", "from 1 to 500"),
        ("per_page=ten", "per_page"),
    ] {
        let r = env
            .admin()
            .get(&format!("/v1/compliance?department=GAD&{query}"))
            .expect("get");
        let text = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 400, "{query}: {text}");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["error"], "malformed", "{query}");
        assert!(
            v["message"].as_str().unwrap().contains(says),
            "{query}: {text}"
        );
    }
}
