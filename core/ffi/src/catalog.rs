//! What the apps probe for and ask the officer to confirm: the built-in catalog of
//! messaging apps ([`app_catalog`], for the Android `<queries>` entries and the iOS
//! `LSApplicationQueriesSchemes`, which must list every package or scheme the app may
//! look for) and the enrolled policy in short ([`Agent::policy_summary`]: which apps to
//! look for, which email domains and groups to ask the officer about).

use pramaan_core::model::{GroupSpec, PlatformSpec, Policy};
use pramaan_core::policy::catalog::Catalog;

use crate::{Agent, ApiError};

/// How to find one messaging app on a phone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppProbe {
    /// The platform's name ("WhatsApp"), as policies and groups name it.
    pub platform: String,
    /// Android package ("com.whatsapp").
    pub android_package: Option<String>,
    /// Accepted signing certificates: SHA-256, lowercase hex.
    pub android_signers: Vec<String>,
    /// iOS bundle id ("net.whatsapp.WhatsApp").
    pub ios_bundle: Option<String>,
    /// iOS URL scheme to probe with `canOpenURL` ("whatsapp").
    pub ios_url_scheme: Option<String>,
}

impl From<&PlatformSpec> for AppProbe {
    fn from(p: &PlatformSpec) -> Self {
        Self {
            platform: p.name.clone(),
            android_package: p.android_package.clone(),
            android_signers: p.android_signers.clone(),
            ios_bundle: p.ios_bundle.clone(),
            ios_url_scheme: p.ios_url_scheme.clone(),
        }
    }
}

/// The built-in catalog of messaging apps (`core/data/platforms.toml`), in file order.
#[uniffi::export]
pub fn app_catalog() -> Vec<AppProbe> {
    Catalog::builtin()
        .entries()
        .iter()
        .map(|e| AppProbe::from(&e.spec))
        .collect()
}

/// A department group the officer is asked to confirm membership of.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupToConfirm {
    /// The platform the group is on ("WhatsApp").
    pub platform: String,
    /// The group's id, as reported back in `GroupRecord.group`.
    pub group: String,
    /// The group's display name (may be empty: show the id then).
    pub name: String,
}

impl From<&GroupSpec> for GroupToConfirm {
    fn from(g: &GroupSpec) -> Self {
        Self {
            platform: g.platform.clone(),
            group: g.id.clone(),
            name: g.name.clone(),
        }
    }
}

/// The enrolled department policy, as much of it as the app needs.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PolicySummary {
    /// Department code ("GAD").
    pub department: String,
    /// Department name (may be empty).
    pub department_name: String,
    /// Government email domains (subdomains count too).
    pub email_domains: Vec<String>,
    /// Groups the officer must be in.
    pub groups: Vec<GroupToConfirm>,
    /// Sanctioned messaging apps: one of them must be installed.
    pub apps: Vec<AppProbe>,
    /// Hours after which IT sees the phone as not checked in.
    pub check_in_hours: u32,
}

impl From<&Policy> for PolicySummary {
    fn from(p: &Policy) -> Self {
        Self {
            department: p.department.clone(),
            department_name: p.name.clone(),
            email_domains: p.email_domains.clone(),
            groups: p.groups.iter().map(GroupToConfirm::from).collect(),
            apps: p.platforms.iter().map(AppProbe::from).collect(),
            check_in_hours: p.check_in_hours,
        }
    }
}

#[uniffi::export]
impl Agent {
    /// The enrolled policy in short; `None` before enrollment.
    pub fn policy_summary(&self) -> Result<Option<PolicySummary>, ApiError> {
        Ok(self
            .inner
            .status()?
            .policy
            .as_ref()
            .map(PolicySummary::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::soft_agent;
    use pramaan_core::agent::State;
    use pramaan_core::claims::{Assurance, Platform};

    #[test]
    fn the_catalog_is_the_built_in_one() {
        let apps = app_catalog();
        assert_eq!(apps.len(), Catalog::builtin().entries().len());
        assert!(apps.len() >= 3);
        let whatsapp = apps
            .iter()
            .find(|a| a.platform == "WhatsApp")
            .expect("WhatsApp is in the catalog");
        assert_eq!(whatsapp.android_package.as_deref(), Some("com.whatsapp"));
        assert_eq!(
            whatsapp.ios_bundle.as_deref(),
            Some("net.whatsapp.WhatsApp")
        );
        assert_eq!(whatsapp.ios_url_scheme.as_deref(), Some("whatsapp"));
        assert!(
            whatsapp.android_signers.contains(
                &"3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44".into()
            )
        );
        for a in &apps {
            // What the Android app's `<queries>` and signature check rely on.
            if a.android_package.is_some() {
                assert!(!a.android_signers.is_empty(), "{}", a.platform);
            }
            assert!(
                a.android_signers
                    .iter()
                    .all(|s| pramaan_core::policy::catalog::is_sha256_hex(s)),
                "{}",
                a.platform
            );
        }
    }

    fn policy() -> Policy {
        Policy::from_toml(
            "department = \"GAD\"\nname = \"General Administration Department\"\ncheck_in_hours = 12\nemail_domains = [\"gujarat.gov.in\", \"gad.gujarat.gov.in\"]\n[[platforms]]\nname = \"WhatsApp\"\nandroid_package = \"com.whatsapp\"\nandroid_signers = [\"3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44\"]\nios_bundle = \"net.whatsapp.WhatsApp\"\nios_url_scheme = \"whatsapp\"\n[[groups]]\nplatform = \"WhatsApp\"\nid = \"gad-officers\"\nname = \"GAD officers\"\n[[groups]]\nplatform = \"WhatsApp\"\nid = \"gad-all\"\n",
        )
        .expect("policy")
    }

    #[test]
    fn the_summary_names_what_the_officer_confirms() {
        let s = PolicySummary::from(&policy());
        assert_eq!(s.department, "GAD");
        assert_eq!(s.department_name, "General Administration Department");
        assert_eq!(s.email_domains, ["gujarat.gov.in", "gad.gujarat.gov.in"]);
        assert_eq!(s.check_in_hours, 12);
        assert_eq!(
            s.groups,
            vec![
                GroupToConfirm {
                    platform: "WhatsApp".into(),
                    group: "gad-officers".into(),
                    name: "GAD officers".into(),
                },
                GroupToConfirm {
                    platform: "WhatsApp".into(),
                    group: "gad-all".into(),
                    name: String::new(),
                },
            ]
        );
        assert_eq!(
            s.apps,
            vec![AppProbe {
                platform: "WhatsApp".into(),
                android_package: Some("com.whatsapp".into()),
                android_signers: vec![
                    "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44".into()
                ],
                ios_bundle: Some("net.whatsapp.WhatsApp".into()),
                ios_url_scheme: Some("whatsapp".into()),
            }]
        );
    }

    #[test]
    fn the_agent_summarizes_its_enrolled_policy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = soft_agent(dir.path());
        assert_eq!(agent.policy_summary().expect("summary"), None);
        State {
            version: pramaan_core::agent::state::STATE_VERSION,
            device_id: uuid::Uuid::from_u128(7),
            officer_id: "GAD-001".into(),
            department: "GAD".into(),
            server: "https://127.0.0.1:1".into(),
            pin: "AAAA".into(),
            server_key: None,
            public_key: hex::encode([4; 65]),
            platform: Platform::Android,
            model: "Pixel 8".into(),
            assurance: Assurance::Hardware,
            evidence: Default::default(),
            policy: policy(),
            next_nonce: None,
            nonce_received_at: 0,
            anchor: None,
            last_seq: 0,
            last_result: None,
            last_local: None,
            dropped: 0,
            reattest_requested: false,
            retry_at: 0,
            revoked: None,
            pin_change: pramaan_core::agent::pins::PinChange::default(),
        }
        .save(dir.path())
        .expect("save");
        assert_eq!(
            agent.policy_summary().expect("summary"),
            Some(PolicySummary::from(&policy()))
        );
        let status = agent.status().expect("status");
        assert_eq!(
            (status.check_in_hours, status.attestations_per_day),
            (12, 96)
        );
        let screen = agent.screen(1_795_000_000).expect("screen");
        assert_eq!(screen.title, "Not checked in yet");
        assert_eq!(
            agent.plan(1_795_000_000).expect("plan").action,
            crate::PlanAction::CheckInNow
        );
    }
}
