//! The policy document: TOML or JSON parsed into [`Policy`], platforms named only by name
//! filled in from the [`Catalog`], and validation of what the rules cannot use.

use std::collections::BTreeSet;

use super::catalog::{Catalog, is_sha256_hex};
use crate::model::{Assurance, Platform, PlatformSpec, Policy};

/// Why a policy or a CSV upload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// Not TOML, or a field of the wrong type; holds the parser's message.
    #[error("policy is not valid TOML: {0}")]
    Toml(String),
    /// Not JSON, or a field of the wrong type; holds the parser's message.
    #[error("policy is not valid JSON: {0}")]
    Json(String),
    /// A platform given by name only that the catalog does not know; holds the name and
    /// the names the catalog knows, so the fix is in the message.
    #[error(
        "platform {name:?} gives only a name and is not in the platform catalog \
         (it knows {}; `pramaan platforms list` shows them)",
        known.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
    )]
    UnknownPlatform {
        /// The name the policy gave.
        name: String,
        /// Every name the catalog knows, in its order.
        known: Vec<String>,
    },
    /// Parsed, but unusable (unknown key, empty list, bad digest...); holds the first problem.
    #[error("invalid policy: {0}")]
    Invalid(String),
}

impl Policy {
    /// Parses a TOML policy (design section 6). Syntax only: call [`Policy::resolve`] and
    /// [`Policy::validate`] before using it.
    ///
    /// Unknown keys are refused (a misspelt `check_in_hour` would otherwise silently
    /// become the default); the policy inside a receipt is decoded leniently elsewhere.
    pub fn from_toml(s: &str) -> Result<Self, PolicyError> {
        let table: toml::Table = toml::from_str(s).map_err(|e| PolicyError::Toml(e.to_string()))?;
        let json = serde_json::to_value(&table).map_err(|e| PolicyError::Toml(e.to_string()))?;
        check_known_keys(&json)?;
        toml::from_str(s).map_err(|e| PolicyError::Toml(e.to_string()))
    }

    /// Parses a JSON policy with the same fields as the TOML form (unknown keys refused).
    pub fn from_json(s: &str) -> Result<Self, PolicyError> {
        let json: serde_json::Value =
            serde_json::from_str(s).map_err(|e| PolicyError::Json(e.to_string()))?;
        check_known_keys(&json)?;
        serde_json::from_value(json).map_err(|e| PolicyError::Json(e.to_string()))
    }

    /// Parses JSON if the first non-space character is `{`, TOML otherwise.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let s = s.strip_prefix('\u{feff}').unwrap_or(s);
        if s.trim_start().starts_with('{') {
            Self::from_json(s)
        } else {
            Self::from_toml(s)
        }
    }

    /// Parses, resolves against `catalog` and validates: the one call an importer needs.
    pub fn load(s: &str, catalog: &Catalog) -> Result<Self, PolicyError> {
        let policy = Self::parse(s)?.resolve(catalog)?;
        policy.validate()?;
        Ok(policy)
    }

    /// Fills every platform that gives only its `name` from the catalog (so nobody types
    /// a signing digest by hand). A platform with any detail of its own is kept as given.
    pub fn resolve(mut self, catalog: &Catalog) -> Result<Self, PolicyError> {
        for spec in &mut self.platforms {
            let name_only = spec.android_package.is_none()
                && spec.android_signers.is_empty()
                && spec.ios_bundle.is_none()
                && spec.ios_url_scheme.is_none();
            if !name_only {
                continue;
            }
            let found = catalog
                .find(&spec.name)
                .ok_or_else(|| PolicyError::UnknownPlatform {
                    name: spec.name.clone(),
                    known: catalog.names().map(str::to_string).collect(),
                })?;
            // Keep the policy's spelling of the name: its groups refer to it.
            let name = std::mem::take(&mut spec.name);
            *spec = PlatformSpec {
                name,
                ..found.clone()
            };
        }
        Ok(self)
    }

    /// Checks what evaluation relies on; the message names the first problem found.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |m: String| Err(PolicyError::Invalid(m));
        self.validate_text()?;
        if self.department.trim().is_empty() {
            return bad("department is empty".into());
        }
        if self.check_in_hours == 0 {
            return bad("check_in_hours must be greater than 0".into());
        }
        if self.email_domains.is_empty() {
            return bad("email_domains is empty: no email could ever pass rule R1".into());
        }
        for d in &self.email_domains {
            let ok = !d.is_empty()
                && !d.starts_with('.')
                && !d.ends_with('.')
                && d.contains('.')
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return bad(format!(
                    "email domain {d:?} is not a domain name like \"gujarat.gov.in\""
                ));
            }
        }
        if self.platforms.is_empty() {
            return bad("no platforms: no device could ever pass rule R3".into());
        }
        // A device reports one app per platform and one membership per group (two with
        // a second account): a policy must leave its devices within the claims' limits.
        if self.platforms.len() > crate::claims::MAX_APPS / 2 {
            return bad(format!(
                "{} platforms: at most {} (a device reports at most {} apps)",
                self.platforms.len(),
                crate::claims::MAX_APPS / 2,
                crate::claims::MAX_APPS
            ));
        }
        if self.groups.len() > crate::claims::MAX_GROUPS / 2 {
            return bad(format!(
                "{} groups: at most {} (a device reports at most {} group memberships)",
                self.groups.len(),
                crate::claims::MAX_GROUPS / 2,
                crate::claims::MAX_GROUPS
            ));
        }
        let mut names = BTreeSet::new();
        for p in &self.platforms {
            if p.name.trim().is_empty() {
                return bad("a platform has an empty name".into());
            }
            if !names.insert(p.name.as_str()) {
                return bad(format!("platform {:?} appears twice", p.name));
            }
            if p.android_package.is_none() && p.ios_bundle.is_none() {
                return bad(format!(
                    "platform {:?} has neither android_package nor ios_bundle (name a catalog platform or give them)",
                    p.name
                ));
            }
            if p.android_package.is_some() && p.android_signers.is_empty() {
                return bad(format!(
                    "platform {:?} has android_package but no android_signers: every install would look repackaged",
                    p.name
                ));
            }
            if p.android_package.is_none() && !p.android_signers.is_empty() {
                return bad(format!(
                    "platform {:?} has android_signers but no android_package",
                    p.name
                ));
            }
            if let Some(d) = p.android_signers.iter().find(|d| !is_sha256_hex(d)) {
                return bad(format!(
                    "platform {:?}: signer {d:?} is not a SHA-256 digest in 64 lowercase hex digits",
                    p.name
                ));
            }
        }
        let mut groups = BTreeSet::new();
        for g in &self.groups {
            if g.id.trim().is_empty() {
                return bad(format!(
                    "a group of platform {:?} has an empty id",
                    g.platform
                ));
            }
            if !names.contains(g.platform.as_str()) {
                return bad(format!(
                    "group {:?} names platform {:?}, which is not among the policy's platforms",
                    g.id, g.platform
                ));
            }
            if !groups.insert((g.platform.as_str(), g.id.as_str())) {
                return bad(format!(
                    "group {:?} of {:?} appears twice",
                    g.id, g.platform
                ));
            }
        }
        self.validate_evidence()?;
        self.validate_limits()
    }

    /// Refuses control and bidirectional-formatting characters in every string of the
    /// policy (department, names, domains, platform identifiers, group ids): they reach
    /// IT's terminal, the dashboard and the officer's phone in failure details.
    fn validate_text(&self) -> Result<(), PolicyError> {
        let mut fields: Vec<(String, &str)> = vec![
            ("department".into(), &self.department),
            ("name".into(), &self.name),
        ];
        for (i, d) in self.email_domains.iter().enumerate() {
            fields.push((format!("email_domains[{i}]"), d));
        }
        for (i, p) in self.platforms.iter().enumerate() {
            fields.push((format!("platforms[{i}].name"), &p.name));
            for (key, v) in [
                ("android_package", &p.android_package),
                ("ios_bundle", &p.ios_bundle),
                ("ios_url_scheme", &p.ios_url_scheme),
            ] {
                if let Some(v) = v {
                    fields.push((format!("platforms[{i}].{key}"), v));
                }
            }
            for (j, d) in p.android_signers.iter().enumerate() {
                fields.push((format!("platforms[{i}].android_signers[{j}]"), d));
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            fields.push((format!("groups[{i}].platform"), &g.platform));
            fields.push((format!("groups[{i}].id"), &g.id));
            fields.push((format!("groups[{i}].name"), &g.name));
        }
        for (field, value) in fields {
            if let Some((index, c)) = crate::text::first_unsafe_char(value) {
                return Err(PolicyError::Invalid(format!(
                    "{field} holds the control or bidirectional-formatting character \
                     U+{:04X} (character {index}): {}",
                    u32::from(c),
                    crate::text::for_terminal(value)
                )));
            }
        }
        Ok(())
    }

    /// Checks the `[limits]` section: each limit admits at least one attestation a day,
    /// and the offline one is part of the total.
    fn validate_limits(&self) -> Result<(), PolicyError> {
        let l = &self.limits;
        if l.attestations_per_day == 0 {
            return Err(PolicyError::Invalid(
                "limits.attestations_per_day must be at least 1: no device could ever check in"
                    .into(),
            ));
        }
        if l.offline_per_day == 0 {
            return Err(PolicyError::Invalid(
                "limits.offline_per_day must be at least 1 (to accept no offline check-ins, set evidence.max_offline_run = 0)".into(),
            ));
        }
        if l.offline_per_day > l.attestations_per_day {
            return Err(PolicyError::Invalid(format!(
                "limits.offline_per_day ({}) is above limits.attestations_per_day ({}): offline deliveries count among all attestations",
                l.offline_per_day, l.attestations_per_day
            )));
        }
        Ok(())
    }

    /// Checks the `[evidence]` section: what the evidence rule relies on.
    fn validate_evidence(&self) -> Result<(), PolicyError> {
        let bad = |m: String| Err(PolicyError::Invalid(m));
        let ev = &self.evidence;
        if ev.platforms.is_empty() {
            return bad(
                "evidence.platforms is empty: no device could ever be the official phone".into(),
            );
        }
        if ev.assurance == Assurance::Hardware && ev.platforms.contains(&Platform::Desktop) {
            return bad(
                "evidence.platforms lists desktop but evidence.assurance is hardware: the desktop agent has no hardware evidence, so set assurance = \"software\" for a test department".into(),
            );
        }
        if let Some(p) = &ev.android.min_patch_level
            && super::evidence::parse_patch_level(p).is_none()
        {
            return bad(format!(
                "evidence.android.min_patch_level {p:?} is not a month like \"2025-06\""
            ));
        }
        for (i, app) in ev.android.apps.iter().enumerate() {
            if app.package.trim().is_empty() {
                return bad(format!("evidence.android.apps[{i}] has an empty package"));
            }
            if app.signers.is_empty() {
                return bad(format!(
                    "evidence.android.apps[{i}] ({}) has no signers: any app could take its package name",
                    app.package
                ));
            }
            if let Some(d) = app.signers.iter().find(|d| !is_sha256_hex(d)) {
                return bad(format!(
                    "evidence.android.apps[{i}]: signer {d:?} is not a SHA-256 digest in 64 lowercase hex digits"
                ));
            }
        }
        for id in &ev.apple.app_ids {
            let ok = id.split_once('.').is_some_and(|(team, bundle)| {
                team.len() == 10
                    && team.chars().all(|c| c.is_ascii_alphanumeric())
                    && !bundle.is_empty()
            });
            if !ok {
                return bad(format!(
                    "evidence.apple.app_ids: {id:?} is not TEAMID.bundle.id (a 10-character team id, a dot, the bundle id)"
                ));
            }
        }
        Ok(())
    }
}

const POLICY_KEYS: [&str; 8] = [
    "department",
    "name",
    "check_in_hours",
    "email_domains",
    "platforms",
    "groups",
    "evidence",
    "limits",
];
const LIMITS_KEYS: [&str; 2] = ["attestations_per_day", "offline_per_day"];
const EVIDENCE_KEYS: [&str; 7] = [
    "assurance",
    "platforms",
    "reattest_days",
    "max_offline_run",
    "status_list_max_age_days",
    "android",
    "apple",
];
const ANDROID_KEYS: [&str; 5] = [
    "verified_boot",
    "bootloader_locked",
    "min_patch_level",
    "min_security_level",
    "apps",
];
const APP_KEYS: [&str; 2] = ["package", "signers"];
const APPLE_KEYS: [&str; 2] = ["app_ids", "environment"];
/// `confidence` and `sources` are the catalog's notes: accepted so an entry can be pasted.
const PLATFORM_KEYS: [&str; 7] = [
    "name",
    "android_package",
    "android_signers",
    "ios_bundle",
    "ios_url_scheme",
    "confidence",
    "sources",
];
const GROUP_KEYS: [&str; 3] = ["platform", "id", "name"];

/// Refuses keys a policy does not have, naming where they are.
fn check_known_keys(v: &serde_json::Value) -> Result<(), PolicyError> {
    fn check(
        obj: &serde_json::Map<String, serde_json::Value>,
        known: &[&str],
        at: &str,
    ) -> Result<(), PolicyError> {
        match obj.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(PolicyError::Invalid(format!(
                "unknown key {k:?} in {at} (known: {})",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }
    let Some(top) = v.as_object() else {
        return Ok(()); // the typed parse reports the shape error
    };
    check(top, &POLICY_KEYS, "the policy")?;
    for (list, known) in [
        ("platforms", &PLATFORM_KEYS[..]),
        ("groups", &GROUP_KEYS[..]),
    ] {
        if let Some(items) = top.get(list).and_then(|l| l.as_array()) {
            for (i, item) in items.iter().enumerate() {
                if let Some(obj) = item.as_object() {
                    check(obj, known, &format!("{list}[{i}]"))?;
                }
            }
        }
    }
    if let Some(limits) = top.get("limits").and_then(|l| l.as_object()) {
        check(limits, &LIMITS_KEYS, "limits")?;
    }
    if let Some(ev) = top.get("evidence").and_then(|e| e.as_object()) {
        check(ev, &EVIDENCE_KEYS, "evidence")?;
        if let Some(apple) = ev.get("apple").and_then(|a| a.as_object()) {
            check(apple, &APPLE_KEYS, "evidence.apple")?;
        }
        if let Some(android) = ev.get("android").and_then(|a| a.as_object()) {
            check(android, &ANDROID_KEYS, "evidence.android")?;
            for (i, app) in android
                .get("apps")
                .and_then(|a| a.as_array())
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(obj) = app.as_object() {
                    check(obj, &APP_KEYS, &format!("evidence.android.apps[{i}]"))?;
                }
            }
        }
    }
    Ok(())
}
