//! The dashboard driven in a real browser: Debian's headless Chromium over the DevTools
//! protocol (`pramaan_testkit::browser`), against a server holding the demo department
//! plus 120 more officers (140: three pages of 50).
//!
//! Each test signs in the way a person does, by typing the token into the form, and
//! asserts on what the page shows: rows, text, which controls are visible, the layout at
//! phone width, the file an export downloads, and for the revoke button, the server's
//! record afterwards. Without Chromium the tests print SKIP, except under CI (`CI=true`),
//! where a missing browser fails them.

#![cfg(feature = "server")] // the demo department is in the default (server) build only
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use pramaan_cli::client::Client;
use pramaan_core::transport::Trust;
use pramaan_server::server::{self, InitOutput, Running};
use pramaan_server::store::Role;
use pramaan_testkit::browser::{Browser, chromium_or_skip, wait_for_download};
use serde_json::Value;

/// The demo department and 120 more officers, on a running server.
struct Demo {
    dir: tempfile::TempDir,
    init: InitOutput,
    running: Running,
    admin: Client,
}

impl Demo {
    fn start() -> Demo {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let init = server::admin_init(&data, "localhost").expect("init");
        let running = server::start(&data, "127.0.0.1:0".parse().expect("addr")).expect("start");
        let admin =
            Client::new(&running.url, Trust::Pin(running.pin), &init.admin_token).expect("client");
        pramaan_cli::demo::populate(&admin, &data.join("devices"), false).expect("populate");
        let mut csv =
            String::from("officer_id,name,designation,department,email,mobile,entitled\n");
        for i in 0..120 {
            let name = if i % 4 == 0 {
                "Anand Patel"
            } else {
                "Meera Rao"
            };
            csv.push_str(&format!(
                "GAD-{n},{name} {i},Section Officer,GAD,o{n}@gujarat.gov.in,+91982502{n},true\n",
                n = 1000 + i
            ));
        }
        admin
            .send("POST", "/v1/officers/import", "text/csv", csv.as_bytes())
            .expect("import 120 officers");
        Demo {
            dir,
            init,
            running,
            admin,
        }
    }

    fn token(&self, role: Role, department: Option<&str>) -> String {
        server::create_token(&self.dir.path().join("data"), role, department).expect("token")
    }

    fn api(&self, path: &str) -> Value {
        self.admin.get_json(path).expect(path)
    }
}

/// Opens the dashboard and signs in by typing `token` into the form.
fn sign_in(b: &mut Browser, url: &str, token: &str) {
    b.navigate(&format!("{url}/")).expect("open the dashboard");
    b.wait_for(
        "document.body.dataset.state === 'signed-out'",
        "the sign-in form",
    )
    .expect("signed out at first");
    b.type_into("#token", token).expect("type the token");
    b.click("#signin-form button[type=submit]").expect("submit");
    wait_loaded(b);
}

fn wait_loaded(b: &mut Browser) {
    b.wait_for(
        "document.body.dataset.state === 'loaded'",
        "the list to load",
    )
    .expect("list loaded");
}

/// Waits until the pager says `text`, then until the list has loaded.
fn wait_range(b: &mut Browser, text: &str) {
    b.wait_for(
        &format!(
            "document.getElementById('range').textContent === {} && document.body.dataset.state === 'loaded'",
            pramaan_testkit::browser::js_string(text)
        ),
        text,
    )
    .expect(text);
}

/// The officer ids of the rows shown, in order.
fn row_ids(b: &mut Browser) -> Vec<String> {
    let v = b
        .eval("[...document.querySelectorAll('#compliance tbody tr')].map(r => r.dataset.officer)")
        .expect("rows");
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("id").to_string())
        .collect()
}

/// The text of column `n` (1-based) of every row shown.
fn column(b: &mut Browser, n: usize) -> Vec<String> {
    let v = b
        .eval(&format!(
            "[...document.querySelectorAll('#compliance tbody tr td:nth-child({n})')].map(c => c.textContent)"
        ))
        .expect("column");
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("text").to_string())
        .collect()
}

fn select(b: &mut Browser, id: &str, value: &str) {
    b.eval(&format!(
        "(() => {{ const s = document.getElementById('{id}'); s.value = {}; \
         s.dispatchEvent(new Event('change')); }})()",
        pramaan_testkit::browser::js_string(value)
    ))
    .expect("select");
}

fn text(b: &mut Browser, selector: &str) -> String {
    b.text(selector).expect("text").unwrap_or_default()
}

/// Today in IST, as the export's file name has it.
fn ist_today() -> String {
    let now = pramaan_testkit::now() as i64 + 19_800;
    let d = time::OffsetDateTime::from_unix_timestamp(now)
        .expect("time")
        .date();
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[test]
fn it_searches_filters_sorts_pages_and_exports_its_department() {
    let Some(chromium) =
        chromium_or_skip("it_searches_filters_sorts_pages_and_exports_its_department")
    else {
        return;
    };
    let demo = Demo::start();
    let it = demo.token(Role::It, Some("GAD"));
    let mut b = Browser::launch(chromium, 1280, 900).expect("chromium");
    sign_in(&mut b, &demo.running.url, &it);

    // Role and department shown; IT has no department picker.
    assert!(text(&mut b, "#who-text").starts_with("Signed in as IT of GAD"));
    assert_eq!(text(&mut b, "#department-title"), "Department GAD");
    assert!(
        !b.visible("#department-picker").unwrap(),
        "IT sees no picker"
    );

    // Server-side pages of 50.
    wait_range(&mut b, "1–50 of 140");
    let ids = row_ids(&mut b);
    assert_eq!(ids.len(), 50);
    assert_eq!((ids[0].as_str(), ids[49].as_str()), ("GAD-001", "GAD-1029"));
    assert!(b.eval("document.getElementById('prev').disabled").unwrap() == true);
    b.click("#next").unwrap();
    wait_range(&mut b, "51–100 of 140");
    assert_eq!(row_ids(&mut b)[0], "GAD-1030");
    assert!(
        b.eval("location.hash")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("page=2")
    );
    b.click("#next").unwrap();
    wait_range(&mut b, "101–140 of 140");
    assert_eq!(row_ids(&mut b).len(), 40);
    assert!(b.eval("document.getElementById('next').disabled").unwrap() == true);
    b.click("#prev").unwrap();
    wait_range(&mut b, "51–100 of 140");

    // Search: name, case-insensitive, back to page 1.
    let patels = demo.api("/v1/compliance?department=GAD&q=patel&page=1")["matched"]
        .as_u64()
        .unwrap();
    assert!(patels > 30, "{patels}");
    b.type_into("#search", "PATEL").unwrap();
    b.click("#filters button[type=submit]").unwrap();
    wait_range(
        &mut b,
        &format!("1–{} of {patels} (140 in the department)", patels.min(50)),
    );
    assert!(column(&mut b, 2).iter().all(|n| n.contains("Patel")));
    // By email.
    b.type_into("#search", "o1007@gujarat").unwrap();
    b.click("#filters button[type=submit]").unwrap();
    wait_range(&mut b, "1–1 of 1 (140 in the department)");
    assert_eq!(row_ids(&mut b), ["GAD-1007"]);

    // Filter by status (the search cleared): the demo's four noncompliant officers.
    b.type_into("#search", "").unwrap();
    select(&mut b, "filter-status", "noncompliant");
    wait_range(&mut b, "1–4 of 4 (140 in the department)");
    let statuses = b
        .eval("[...document.querySelectorAll('#compliance tbody tr')].every(r => r.className === 'status-noncompliant')")
        .unwrap();
    assert_eq!(statuses, true);
    // Platform and assurance: every demo device is a desktop agent with a software key.
    select(&mut b, "filter-status", "");
    select(&mut b, "filter-platform", "android");
    wait_range(&mut b, "0 of 0 (140 in the department)");
    select(&mut b, "filter-platform", "desktop");
    select(&mut b, "filter-assurance", "software");
    let enrolled = demo.api("/v1/compliance?department=GAD&platform=desktop&page=1")["matched"]
        .as_u64()
        .unwrap();
    wait_range(
        &mut b,
        &format!("1–{enrolled} of {enrolled} (140 in the department)"),
    );
    assert!(
        column(&mut b, 5)
            .iter()
            .all(|c| c.starts_with("desktop · software"))
    );
    select(&mut b, "filter-platform", "");
    select(&mut b, "filter-assurance", "");
    select(&mut b, "filter-status", "noncompliant");
    wait_range(&mut b, "1–4 of 4 (140 in the department)");

    // Sort by name: the header says which way, the rows follow.
    b.click("th[data-sort=name] button").unwrap();
    b.wait_for(
        "document.querySelector('th[data-sort=name]').getAttribute('aria-sort') === 'ascending' && document.body.dataset.state === 'loaded'",
        "ascending by name",
    )
    .unwrap();
    let names = column(&mut b, 2);
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    b.click("th[data-sort=name] button").unwrap();
    b.wait_for(
        "document.querySelector('th[data-sort=name]').getAttribute('aria-sort') === 'descending' && document.body.dataset.state === 'loaded'",
        "descending by name",
    )
    .unwrap();
    let desc = column(&mut b, 2);
    sorted.reverse();
    assert_eq!(desc, sorted);

    // Export: the current filter and order, every matched row, as a dated file.
    let downloads = tempfile::tempdir().unwrap();
    b.allow_downloads(downloads.path()).unwrap();
    b.click("#export").unwrap();
    let (name, csv) = wait_for_download(downloads.path()).expect("download");
    assert_eq!(name, format!("GAD-compliance-{}.csv", ist_today()));
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows.iter().all(|r| r.contains(",noncompliant,")), "{csv}");
    let csv_names: Vec<String> = rows
        .iter()
        .map(|r| r.split(',').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(csv_names, desc, "the file is in the order shown");
    drop(b);
    demo.running.shutdown();
}

#[test]
fn officer_page_shows_devices_and_revokes_from_it() {
    let Some(chromium) = chromium_or_skip("officer_page_shows_devices_and_revokes_from_it") else {
        return;
    };
    let demo = Demo::start();
    let it = demo.token(Role::It, Some("GAD"));
    let mut b = Browser::launch(chromium, 1280, 900).expect("chromium");
    sign_in(&mut b, &demo.running.url, &it);
    select(&mut b, "filter-status", "compliant");
    b.wait_for(
        "location.hash.includes('status=compliant') && document.body.dataset.state === 'loaded'",
        "the compliant officers",
    )
    .unwrap();
    let listed = row_ids(&mut b);
    assert!(listed.contains(&"GAD-001".to_string()), "{listed:?}");

    // A row opens the officer page, in the fragment.
    b.click("tr[data-officer='GAD-001']").unwrap();
    b.wait_for(
        "document.body.dataset.state === 'officer'",
        "the officer page",
    )
    .unwrap();
    assert_eq!(b.eval("location.hash").unwrap(), "#officer=GAD-001");
    assert_eq!(
        text(&mut b, "#officer-title"),
        "Officer GAD-001 — Rajesh Patel"
    );
    assert!(!b.visible("#compliance").unwrap(), "the list is hidden");
    // The registry row.
    assert_eq!(
        text(&mut b, "#officer-registry [data-field=email] dd"),
        "rajesh.patel@gujarat.gov.in"
    );
    assert_eq!(
        text(&mut b, "#officer-registry [data-field=designation] dd"),
        "Additional Chief Secretary"
    );
    // Its device: platform, assurance, evidence, enrolled and last check-in in IST, results.
    let device = demo.api("/v1/officers/GAD-001")["devices"][0].clone();
    let device_id = device["device_id"].as_str().unwrap().to_string();
    let card = format!("article[data-device='{device_id}']");
    assert!(b.visible(&card).unwrap());
    assert_eq!(
        text(&mut b, &format!("{card} [data-field=platform] dd")),
        "desktop"
    );
    assert_eq!(
        text(&mut b, &format!("{card} [data-field=assurance] dd")),
        "software"
    );
    assert_eq!(
        text(&mut b, &format!("{card} [data-field=evidence] dd")),
        "none (software key)"
    );
    assert!(text(&mut b, &format!("{card} [data-field=enrolled] dd")).contains(" IST ("));
    assert!(text(&mut b, &format!("{card} [data-field='last check-in'] dd")).contains(" IST ("));
    let results = b
        .eval(&format!(
            "document.querySelectorAll(\"{card} table.results tbody tr\").length"
        ))
        .unwrap();
    assert!(results.as_u64().unwrap() >= 1, "results shown");
    // The verdict in the report's words, never the protocol's AR4SI name.
    let verdicts = text(&mut b, &format!("{card} table.results tbody"));
    assert!(verdicts.contains("compliant"), "{verdicts}");
    assert!(!verdicts.contains("affirming"), "{verdicts}");

    // Back returns to the list as it was (the filter kept).
    b.back().unwrap();
    wait_loaded(&mut b);
    assert!(
        b.eval("location.hash")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("status=compliant")
    );
    assert_eq!(
        b.eval("document.getElementById('filter-status').value")
            .unwrap(),
        "compliant"
    );
    assert_eq!(row_ids(&mut b), listed);

    // Revoke from the officer page: a reason is required; then the server has it revoked.
    b.click("tr[data-officer='GAD-001']").unwrap();
    b.wait_for(
        "document.body.dataset.state === 'officer'",
        "the officer page",
    )
    .unwrap();
    assert!(!b.visible(&format!("{card} .revoke-form")).unwrap());
    b.click(&format!("{card} .revoke-open")).unwrap();
    assert!(b.visible(&format!("{card} .revoke-reason")).unwrap());
    // The empty reason keeps the form from submitting (the browser's own check).
    let missing = b
        .eval(&format!(
            "document.querySelector(\"{card} .revoke-reason\").validity.valueMissing"
        ))
        .unwrap();
    assert_eq!(missing, true);
    b.click(&format!("{card} .revoke-form button[type=submit]"))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        demo.api("/v1/officers/GAD-001")["devices"][0]["revoked"],
        false,
        "no revocation without a reason"
    );
    b.type_into(&format!("{card} .revoke-reason"), "phone lost on tour")
        .unwrap();
    b.click(&format!("{card} .revoke-form button[type=submit]"))
        .unwrap();
    b.wait_for(
        &format!("document.querySelector(\"{card}\") && document.querySelector(\"{card}\").dataset.revoked === 'true'"),
        "the device shown revoked",
    )
    .unwrap();
    assert!(text(&mut b, "#notice").contains(&format!("Device {device_id} revoked.")));
    assert_eq!(
        text(&mut b, &format!("{card} [data-field='revoked because'] dd")),
        "phone lost on tour"
    );
    assert!(
        !b.visible(&format!("{card} .revoke-open")).unwrap(),
        "no second revoke"
    );
    let after = demo.api("/v1/officers/GAD-001")["devices"][0].clone();
    assert_eq!(
        (after["revoked"].clone(), after["reason"].clone()),
        (true.into(), "phone lost on tour".into())
    );
    drop(b);
    demo.running.shutdown();
}

#[test]
fn auditor_picks_departments_at_phone_width_and_links_do_not_sign_in() {
    let Some(chromium) =
        chromium_or_skip("auditor_picks_departments_at_phone_width_and_links_do_not_sign_in")
    else {
        return;
    };
    let demo = Demo::start();
    demo.admin
        .send(
            "PUT",
            "/v1/departments/REV/policy",
            "application/toml",
            pramaan_testkit::POLICY_REV.as_bytes(),
        )
        .expect("REV policy");
    demo.admin
        .send(
            "POST",
            "/v1/officers/import",
            "text/csv",
            b"officer_id,name,designation,department,email,mobile,entitled\n\
              REV-001,C. Desai,Deputy Collector,REV,c.desai@gujarat.gov.in,+919800000003,true\n",
        )
        .expect("REV officer");
    let auditor = demo.token(Role::Auditor, None);
    let mut b = Browser::launch(chromium, 1280, 900).expect("chromium");

    // A sign-in link does not sign in: the token leaves the address bar, nothing is kept.
    b.navigate(&format!(
        "{}/#token={auditor}&department=GAD",
        demo.running.url
    ))
    .unwrap();
    b.wait_for(
        "document.body.dataset.state === 'signed-out' && !document.getElementById('notice').hidden",
        "the refusal",
    )
    .unwrap();
    assert_eq!(b.eval("location.hash").unwrap(), "");
    assert!(text(&mut b, "#notice").starts_with("Sign-in links are not accepted."));
    assert_eq!(b.eval("sessionStorage.length").unwrap(), 0);
    assert!(b.visible("#token").unwrap());
    assert_eq!(
        b.eval("document.querySelectorAll('tr[data-officer]').length")
            .unwrap(),
        0
    );
    // A wrong token typed in: the page says why and offers the form again.
    b.type_into("#token", "not-a-token").unwrap();
    b.click("#signin-form button[type=submit]").unwrap();
    b.wait_for(
        "document.getElementById('error').textContent.startsWith('Sign-in failed: 401')",
        "the refusal of a wrong token",
    )
    .unwrap();
    assert!(b.visible("#token").unwrap());

    // The auditor's picker lists every department; the role is shown.
    sign_in(&mut b, &demo.running.url, &auditor);
    assert!(text(&mut b, "#who-text").starts_with("Signed in as auditor"));
    assert!(b.visible("#department-picker").unwrap());
    assert_eq!(
        b.eval("[...document.querySelectorAll('#department-picker option')].map(o => o.value)")
            .unwrap(),
        serde_json::json!(["GAD", "REV"])
    );
    assert_eq!(text(&mut b, "#department-title"), "Department GAD");
    select(&mut b, "department-picker", "REV");
    b.wait_for(
        "document.getElementById('department-title').textContent === 'Department REV' && document.body.dataset.state === 'loaded'",
        "REV shown",
    )
    .unwrap();
    assert_eq!(row_ids(&mut b), ["REV-001"]);
    wait_range(&mut b, "1–1 of 1");
    select(&mut b, "department-picker", "GAD");
    wait_range(&mut b, "1–50 of 140");

    // What the demo department proved, the audit checkpoint, the status list.
    assert!(text(&mut b, "#compliance").contains("is not on a government domain"));
    assert!(b.visible("[data-proof='desktop/software']").unwrap());
    let origin = demo.init.log_vkey.split('+').next().unwrap().to_string();
    assert!(text(&mut b, "#checkpoint").starts_with(&format!("{origin}\n")));
    assert_eq!(text(&mut b, "#log-key"), demo.init.log_vkey);
    // The TLS certificate's expiry (825 days ahead: no warning).
    b.wait_for(
        "document.getElementById('tls-expiry').textContent.startsWith('TLS certificate valid until')",
        "the certificate's expiry",
    )
    .unwrap();
    assert!(!b.visible("#tls-warning").unwrap());
    assert!(text(&mut b, "#status-list").starts_with("No revocation list installed"));
    let html = b.eval("document.documentElement.outerHTML").unwrap();
    assert!(
        !html.as_str().unwrap().contains(&auditor),
        "the token is not in the page"
    );

    // An auditor reads an officer but is offered no revoke.
    b.click("tr[data-officer='GAD-002']").unwrap();
    b.wait_for(
        "document.body.dataset.state === 'officer'",
        "the officer page",
    )
    .unwrap();
    assert!(b.visible("article.device").unwrap());
    assert_eq!(
        b.eval("document.querySelectorAll('.revoke-open').length")
            .unwrap(),
        0
    );

    // Phone width (412 px): nothing overflows the page sideways, the controls are there.
    b.viewport(412, 915, true).unwrap();
    b.reload().unwrap();
    b.wait_for(
        "document.body.dataset.state === 'officer'",
        "the officer page at 412 px",
    )
    .unwrap();
    assert_width_fits(&mut b);
    b.back().unwrap();
    wait_loaded(&mut b);
    assert_width_fits(&mut b);
    for control in [
        "#department-picker",
        "#search",
        "#filter-status",
        "#export",
        "#next",
        "#range",
        "#signout",
        "#compliance tbody tr",
    ] {
        assert!(b.visible(control).unwrap(), "{control} visible at 412 px");
        let right = b
            .eval(&format!(
                "document.querySelector(\"{control}\").getBoundingClientRect().left >= 0"
            ))
            .unwrap();
        assert_eq!(right, true, "{control} starts inside the screen");
    }
    // The table scrolls inside its own box instead.
    let boxed = b
        .eval("(() => { const w = document.querySelector('.table-wrap'); return w.clientWidth <= 412; })()")
        .unwrap();
    assert_eq!(boxed, true);
    drop(b);

    // Google's revocation status list, fetched three days ago: the dashboard shows its age.
    let fetched = pramaan_testkit::now() - 3 * 86_400 - 100;
    demo.admin
        .send(
            "PUT",
            &format!("/v1/evidence/status-list?fetched_at={fetched}"),
            "application/json",
            br#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED"}, "c8966fcb2fbe32": {"status": "SUSPENDED"}}}"#,
        )
        .expect("install status list");
    let mut b = Browser::launch(chromium, 1280, 900).expect("chromium");
    sign_in(&mut b, &demo.running.url, &auditor);
    b.wait_for(
        "document.getElementById('status-list').dataset.statusList === 'installed'",
        "the status list",
    )
    .unwrap();
    let list = text(&mut b, "#status-list");
    assert!(
        list.starts_with("Google revocation list: 2 entries, fetched "),
        "{list}"
    );
    assert!(list.ends_with(" (3 days ago)"), "{list}");
    drop(b);
    demo.running.shutdown();
}

fn assert_width_fits(b: &mut Browser) {
    let width = b
        .eval("document.documentElement.scrollWidth")
        .unwrap()
        .as_u64()
        .unwrap();
    assert!(width <= 412, "the page is {width} px wide at 412 px");
}
