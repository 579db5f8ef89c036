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
