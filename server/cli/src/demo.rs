//! `pramaan demo`: the whole system on one machine, in one command.
//!
//! Why: the first thing anyone evaluating Pramaan wants is to see a department's
//! compliance view filled with believable officers, and to poke at it with the real
//! commands and the dashboard. Nothing here is faked: the demo initializes a data
//! directory (`admin init`), starts the real server in-process over TLS, loads the demo
//! department through the same HTTP API and client code as `pramaan officers import`,
//! `policy set` and `roster set`, and enrolls simulated phones **through the real
//! protocol** with the core's [`Agent`] (a software P-256 key per device, one state
//! directory each), then checks each one in with its own facts. The compliance table it
//! prints is what `pramaan compliance` prints.
//!
//! The demo department is GAD (General Administration Department, Government of Gujarat):
//! its policy sanctions WhatsApp (digests written out) and Sandes (taken from the built-in
//! catalog), its registry lists 20 officers (18 entitled to the phone funded under GAD GR
//! CEL/102009/686/GH), and its WhatsApp group's roster lists their handles. The devices
//! cover each outcome: compliant, a Gmail account (R1), a repackaged WhatsApp (R3), out of
//! the group (R4), a handle missing from the roster (R4), no screen lock (R5, warning), a
//! phone other than the one the GR paid for (R2, warning), a revoked device, and officers
//! who never enrolled. Simulated devices enroll as the desktop agent (software keys);
//! a real phone adds hardware key attestation, which the demo cannot produce.
//!
//! The data directory is temporary (removed on exit) unless `--data` names one to keep.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use pramaan_core::SoftwareSigner;
use pramaan_core::agent::{Agent, CheckIn, Facts};
use pramaan_core::claims::{AppFact, GroupFact, Platform};
use pramaan_core::transport::Trust;
use serde_json::{Value, json};

use super::client::{Client, encode};
use super::compliance::{Report, fetch_report, render_table};
use super::{CliError, CliResult};
use pramaan_server::server::{self, ServerError};
use pramaan_server::serving::ServeError;
use pramaan_server::store::Role;

/// The demo department's policy.
pub const POLICY: &str = include_str!("../../assets/demo/policy.toml");
/// The demo registry of officers.
pub const OFFICERS: &str = include_str!("../../assets/demo/officers.csv");
/// The roster of the demo WhatsApp group.
pub const ROSTER: &str = include_str!("../../assets/demo/roster.csv");

const DEPARTMENT: &str = "GAD";
const GROUP: &str = "gad-officers";
const WHATSAPP: &str = "com.whatsapp";
/// WhatsApp's current signing-certificate digest (catalog).
const WHATSAPP_SIGNER: &str = "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44";
/// Sandes (GIMS) package and signer (catalog).
const SANDES: &str = "in.nic.gimkerala";
const SANDES_SIGNER: &str = "7f98a5d09d06d266fe947242b03d76032f58f1d3787918a2d5d584bd3bc063c6";

/// `pramaan demo`: a server, the GAD demo department and simulated phones.
#[derive(Debug, Args)]
pub struct DemoCmd {
    /// Keep the server's data in DIR (created; must not already hold a server) instead of
    /// a temporary directory removed on exit. Lets you `pramaan serve --data DIR` later.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443, or a free port if that is taken].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Set everything up, print the table and exit instead of serving until Ctrl-C
    /// (for tests and scripts).
    #[arg(long)]
    pub no_wait: bool,
}

/// What one simulated device does differently from a compliant one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Everything in order: WhatsApp with the right signer, in the group, official email.
    Compliant,
    /// Compliant, with Sandes installed as well as WhatsApp.
    CompliantWithSandes,
    /// Reports a Gmail account (R1).
    GmailAccount,
    /// WhatsApp signed by an unknown key (R3).
    RepackagedWhatsApp,
    /// Not a member of the department's group (R4).
    NotInGroup,
    /// Member under a handle that is not on IT's roster (R4).
    HandleNotInRoster,
    /// No screen lock (R5, warning).
    NoScreenLock,
    /// A phone other than the GR-funded model (R2, warning).
    OtherPhone,
    /// Enrolled and checked in, then revoked by IT.
    Revoked,
}

/// The simulated devices: officer id and what its device does.
pub const DEVICES: [(&str, Scenario); 16] = [
    ("GAD-001", Scenario::Compliant),
    ("GAD-002", Scenario::Compliant),
    ("GAD-003", Scenario::Compliant),
    ("GAD-004", Scenario::GmailAccount),
    ("GAD-005", Scenario::Compliant),
    ("GAD-006", Scenario::Compliant),
    ("GAD-007", Scenario::RepackagedWhatsApp),
    ("GAD-008", Scenario::NotInGroup),
    ("GAD-009", Scenario::Compliant),
    ("GAD-010", Scenario::Compliant),
    ("GAD-011", Scenario::NoScreenLock),
    ("GAD-012", Scenario::HandleNotInRoster),
    ("GAD-013", Scenario::Compliant),
    ("GAD-015", Scenario::CompliantWithSandes),
    ("GAD-016", Scenario::OtherPhone),
    ("GAD-018", Scenario::Revoked),
    // GAD-014 and GAD-017 (entitled) and GAD-019 (not entitled) never enroll;
    // GAD-020 (not entitled) is added below as a compliant volunteer.
];

/// A registry row the demo needs for facts.
#[derive(Debug, Clone)]
struct DemoOfficer {
    email: String,
    mobile: String,
    phone_model: String,
}

fn registry() -> Result<std::collections::BTreeMap<String, DemoOfficer>, CliError> {
    let (officers, errors) = pramaan_core::policy::officers_from_csv(OFFICERS);
    if let Some(e) = errors.first() {
        return Err(CliError::new(format!(
            "embedded demo registry, line {}: {}",
            e.line, e.reason
        )));
    }
    Ok(officers
        .into_iter()
        .map(|o| {
            (
                o.officer_id.clone(),
                DemoOfficer {
                    email: o.email,
                    mobile: o.mobile,
                    phone_model: o.phone_model.unwrap_or_else(|| "Samsung Galaxy M14".into()),
                },
            )
        })
        .collect())
}

/// The facts a simulated phone of `officer` reports in `scenario`.
fn facts_for(officer: &DemoOfficer, scenario: Scenario) -> Facts {
    let mut facts = Facts {
        platform: Platform::Desktop,
        model: officer.phone_model.clone(),
        os_name: "Android".into(),
        os_version: "14".into(),
        patch_level: "2026-10-05".into(),
        screen_lock: true,
        emails: vec![officer.email.clone()],
        apps: vec![AppFact {
            id: WHATSAPP.into(),
            signer: Some(WHATSAPP_SIGNER.into()),
            version: "2.26.1".into(),
            present: true,
        }],
        groups: vec![GroupFact {
            platform: "WhatsApp".into(),
            group: GROUP.into(),
            member: true,
            handle: officer.mobile.clone(),
        }],
    };
    match scenario {
        Scenario::Compliant | Scenario::Revoked => {}
        Scenario::CompliantWithSandes => facts.apps.push(AppFact {
            id: SANDES.into(),
            signer: Some(SANDES_SIGNER.into()),
            version: "2.0.5".into(),
            present: true,
        }),
        Scenario::GmailAccount => {
            let local = officer.email.split('@').next().unwrap_or("officer");
            facts.emails.push(format!("{local}.1978@gmail.com"));
        }
        Scenario::RepackagedWhatsApp => {
            facts.apps[0].signer =
                Some("5c0f3e8d1a7b2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6".into());
            facts.apps[0].version = "2.25.9-mod".into();
        }
        Scenario::NotInGroup => facts.groups[0].member = false,
        Scenario::HandleNotInRoster => facts.groups[0].handle = "+919099912345".into(),
        Scenario::NoScreenLock => facts.screen_lock = false,
        Scenario::OtherPhone => facts.model = "Redmi 12".into(),
    }
    facts
}

/// Removes a temporary data directory when the demo ends (also on error).
#[derive(Debug)]
struct TempDir(Option<PathBuf>);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            log::warn!("could not remove {}: {e}", dir.display());
        }
    }
}

fn err(context: &str) -> impl FnOnce(ServerError) -> CliError + '_ {
    move |e| CliError::new(format!("{context}: {e}"))
}

/// Starts the server on `listen`, or on 8443 falling back to a free port.
fn start(data: &Path, listen: Option<SocketAddr>) -> Result<server::Running, CliError> {
    match listen {
        Some(addr) => server::start(data, addr).map_err(err("starting the server")),
        None => {
            let preferred = SocketAddr::from(([127, 0, 0, 1], 8443));
            match server::start(data, preferred) {
                Err(ServerError::Serve(ServeError::Bind { .. })) => {
                    eprintln!("port 8443 is taken; using a free port instead");
                    server::start(data, SocketAddr::from(([127, 0, 0, 1], 0)))
                        .map_err(err("starting the server"))
                }
                other => other.map_err(err("starting the server")),
            }
        }
    }
}

/// Enrolls one simulated device and checks it in; returns its device id.
fn enroll_device(
    client: &Client,
    state_dir: &Path,
    officer_id: &str,
    facts: &Facts,
) -> Result<uuid::Uuid, CliError> {
    let answer = client.post_json(
        "/v1/enrollment-tokens",
        &json!({ "officer_id": officer_id }),
    )?;
    let uri = answer
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::new("the enrollment-token answer has no `uri`"))?;
    let signer = SoftwareSigner::generate()
        .map_err(|e| CliError::new(format!("generating a device key: {e}")))?;
    let agent = Agent::open(state_dir, Arc::new(signer))
        .map_err(|e| CliError::new(format!("device of {officer_id}: {e}")))?;
    let enrollment = agent
        .enroll(uri, facts, None)
        .map_err(|e| CliError::new(format!("enrolling the device of {officer_id}: {e}")))?;
    match agent
        .check_in(facts)
        .map_err(|e| CliError::new(format!("check-in of {officer_id}: {e}")))?
    {
        CheckIn::Delivered { .. } => Ok(enrollment.device_id),
        CheckIn::Queued { .. } => Err(CliError::new(format!(
            "check-in of {officer_id}: the server could not be reached (queued)"
        ))),
    }
}

/// Loads the demo department through the API and enrolls the simulated devices; returns
/// the compliance report.
pub fn populate(
    client: &Client,
    devices_dir: &Path,
    progress: bool,
) -> Result<pramaan_core::api::ComplianceReport, CliError> {
    let (policy, content_type) = super::policy::check(POLICY, Some(DEPARTMENT))?;
    client.send(
        "PUT",
        &format!("/v1/departments/{}/policy", encode(&policy.department)),
        content_type,
        POLICY.as_bytes(),
    )?;
    let import = client.send(
        "POST",
        "/v1/officers/import",
        "text/csv",
        OFFICERS.as_bytes(),
    )?;
    let report: pramaan_core::api::ImportReport =
        super::client::typed("/v1/officers/import", import)?;
    if let Some(row) = report.rejected.first() {
        return Err(CliError::new(format!(
            "demo registry line {}: {}",
            row.line, row.reason
        )));
    }
    client.send(
        "PUT",
        &format!("/v1/departments/{DEPARTMENT}/groups/{GROUP}/roster"),
        "text/csv",
        ROSTER.as_bytes(),
    )?;

    let officers = registry()?;
    let mut devices: Vec<(&str, Scenario)> = DEVICES.to_vec();
    devices.push(("GAD-020", Scenario::Compliant));
    let bar = if progress {
        indicatif::ProgressBar::new(devices.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} enrolling simulated phones [{bar:30}] {pos}/{len} {msg}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for (officer_id, scenario) in devices {
        bar.set_message(officer_id.to_string());
        let officer = officers
            .get(officer_id)
            .ok_or_else(|| CliError::new(format!("{officer_id} is not in the demo registry")))?;
        let facts = facts_for(officer, scenario);
        let device_id = enroll_device(client, &devices_dir.join(officer_id), officer_id, &facts)?;
        if scenario == Scenario::Revoked {
            client.post_json(
                &format!("/v1/devices/{device_id}/revoke"),
                &json!({ "reason": "phone reported lost (demo)" }),
            )?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    fetch_report(client, Some(DEPARTMENT))
}

/// Runs the demo: sets up, prints the table, tokens and dashboard URL, then serves until
/// Ctrl-C (or returns at once with `--no-wait`).
pub fn run(cmd: DemoCmd) -> CliResult {
    let (data, _cleanup) = match &cmd.data {
        Some(dir) => (dir.clone(), TempDir(None)),
        None => {
            let dir = std::env::temp_dir().join(format!("pramaan-demo-{}", uuid::Uuid::new_v4()));
            (dir.clone(), TempDir(Some(dir)))
        }
    };
    let init = server::admin_init(&data, "localhost").map_err(err("setting up the demo server"))?;
    let running = start(&data, cmd.listen)?;
    let admin = Client::new(&running.url, Trust::Pin(running.pin), &init.admin_token)?;
    eprintln!(
        "Pramaan demo server on {} (data in {})",
        running.url,
        data.display()
    );

    let interactive = std::io::stderr().is_terminal();
    let report = Report::from_api(&populate(&admin, &data.join("devices"), interactive)?);
    let it_token = server::create_token(&data, Role::It, Some(DEPARTMENT))
        .map_err(err("creating the GAD IT token"))?;
    let auditor_token = server::create_token(&data, Role::Auditor, None)
        .map_err(err("creating the auditor token"))?;

    // A facts file for an officer who has not enrolled yet, so the desktop agent can be
    // tried by hand against this server.
    let officers = registry()?;
    let try_facts = data.join("facts-GAD-014.toml");
    if let Some(o) = officers.get("GAD-014") {
        let text = toml::to_string(&facts_for(o, Scenario::Compliant))
            .map_err(|e| CliError::new(format!("writing the example facts: {e}")))?;
        std::fs::write(&try_facts, text)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", try_facts.display())))?;
    }

    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    outln!();
    out!("{}", render_table(&report, colour));
    outln!(
        "Every device above is simulated: a desktop agent with a software key (DEVICE \
         desktop/software), accepted only because the demo policy lists desktop and \
         software assurance. Under a real department's policy a desktop agent is \
         noncompliant: it is not the official phone."
    );
    if cmd.no_wait {
        // The server stops now and a temporary data directory goes with it: print only
        // what is still there once this returns.
        running.shutdown();
        print_after_exit(cmd.data.as_deref(), &init, &it_token, &auditor_token);
        return Ok(());
    }
    outln!();
    outln!(
        "Dashboard:      {}/#department={DEPARTMENT}  (sign in with a token below; the \
         certificate is self-signed, so the browser warns once)",
        running.url
    );
    print_credentials(&init, &it_token, &auditor_token);
    outln!();
    outln!("Try, in another terminal:");
    if let Ok(exe) = std::env::current_exe() {
        outln!("  alias pramaan={}", exe.display());
    }
    outln!(
        "  export PRAMAAN_SERVER={} PRAMAAN_PIN={}",
        running.url,
        init.pin_b64url
    );
    outln!("  export PRAMAAN_TOKEN={it_token}");
    outln!("  pramaan compliance --department GAD");
    outln!("  pramaan compliance --department GAD --format csv");
    outln!("  pramaan enroll-token --officer GAD-014 --png gad-014.png");
    outln!("  # enroll GAD-014's phone with the desktop agent (same core as the phone):");
    outln!(
        "  pramaan device enroll \"$(pramaan enroll-token --officer GAD-014 --no-qr | head -1)\" \\"
    );
    outln!("      --state /tmp/gad-014 --facts {}", try_facts.display());
    outln!(
        "  pramaan device attest --state /tmp/gad-014 --facts {}",
        try_facts.display()
    );
    outln!("  pramaan officers import my-registry.csv");
    if cmd.data.is_none() {
        outln!("(the data directory is temporary and is removed when the demo stops)");
    }

    outln!();
    outln!("Serving until Ctrl-C.");
    running
        .wait_for_signal()
        .map_err(err("waiting for Ctrl-C"))?;
    eprintln!("stopped");
    Ok(())
}

/// The tokens, pin, CA and log key of the demo's data directory.
fn print_credentials(init: &server::InitOutput, it_token: &str, auditor_token: &str) {
    outln!("Admin token:    {}", init.admin_token);
    outln!("GAD IT token:   {it_token}");
    outln!("Auditor token:  {auditor_token}");
    outln!("SPKI pin:       {}", init.pin_b64url);
    outln!("CA certificate: {}", init.ca_path.display());
    outln!("Log key:        {}", init.log_vkey);
}

/// `--no-wait`: the server has stopped. A kept data directory (`--data`) still holds the
/// demo and its tokens, and `pramaan serve` brings it back; a temporary one is gone, and
/// so is everything that named it.
fn print_after_exit(
    data: Option<&Path>,
    init: &server::InitOutput,
    it_token: &str,
    auditor_token: &str,
) {
    outln!();
    match data {
        Some(dir) => {
            outln!(
                "The demo server has stopped; its data is kept in {}.",
                dir.display()
            );
            outln!("Serve it again with:");
            outln!("  pramaan serve --data {}", dir.display());
            outln!("These stay valid for it:");
            print_credentials(init, it_token, auditor_token);
        }
        None => outln!(
            "The demo server has stopped and its temporary data directory was removed \
             (give --data DIR to keep it, or run `pramaan demo` without --no-wait to try it)."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pramaan_core::catalog::Catalog;

    /// The catalog's WhatsApp signers.
    fn catalog_whatsapp_signers() -> Vec<String> {
        Catalog::builtin()
            .find("WhatsApp")
            .map(|p| p.android_signers.clone())
            .unwrap_or_default()
    }

    #[test]
    fn embedded_policy_uses_the_catalog_digests() {
        let (policy, _) =
            super::super::policy::check(POLICY, Some(DEPARTMENT)).unwrap_or_else(|e| panic!("{e}"));
        let wa = policy.platforms.iter().find(|p| p.name == "WhatsApp");
        assert_eq!(
            wa.map(|p| p.android_signers.clone()),
            Some(catalog_whatsapp_signers())
        );
        assert!(catalog_whatsapp_signers().contains(&WHATSAPP_SIGNER.to_string()));
        let sandes = policy
            .platforms
            .iter()
            .find(|p| p.name.starts_with("Sandes"));
        assert_eq!(
            sandes.and_then(|p| p.android_package.clone()).as_deref(),
            Some(SANDES)
        );
        assert!(sandes.is_some_and(|p| p.android_signers.contains(&SANDES_SIGNER.to_string())));
        assert_eq!(policy.groups[0].id, GROUP);
    }

    #[test]
    fn embedded_registry_and_roster_load() {
        let officers = registry().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(officers.len(), 20);
        assert!(
            officers
                .values()
                .all(|o| o.email.ends_with("@gujarat.gov.in"))
        );
        let (rows, _) = pramaan_core::policy::officers_from_csv(OFFICERS);
        assert_eq!(rows.iter().filter(|o| !o.entitled).count(), 2);
        assert!(rows.iter().filter(|o| o.entitled).all(|o| {
            o.gr_reference.as_deref() == Some("GAD GR CEL/102009/686/GH") && o.phone_model.is_some()
        }));
        assert_eq!(
            super::super::roster::check(ROSTER, GROUP, false).ok(),
            Some(20)
        );
        for (id, _) in DEVICES {
            assert!(officers.contains_key(id), "{id}");
        }
    }

    #[test]
    fn scenarios_change_exactly_one_fact() {
        let o = DemoOfficer {
            email: "a.b@gujarat.gov.in".into(),
            mobile: "+919825010001".into(),
            phone_model: "Google Pixel 8".into(),
        };
        let base = facts_for(&o, Scenario::Compliant);
        assert!(base.validate().is_ok());
        assert!(facts_for(&o, Scenario::GmailAccount).emails[1].ends_with("@gmail.com"));
        assert!(!facts_for(&o, Scenario::NoScreenLock).screen_lock);
        assert!(!facts_for(&o, Scenario::NotInGroup).groups[0].member);
        assert_ne!(facts_for(&o, Scenario::OtherPhone).model, base.model);
        assert_ne!(
            facts_for(&o, Scenario::RepackagedWhatsApp).apps[0].signer,
            base.apps[0].signer
        );
        assert_ne!(
            facts_for(&o, Scenario::HandleNotInRoster).groups[0].handle,
            base.groups[0].handle
        );
    }
}
