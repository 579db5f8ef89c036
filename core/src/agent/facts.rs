//! What the phone's platform layer reports about the device (design section 9).
//!
//! The core never reads app lists or accounts itself: those live behind platform APIs
//! (PackageManager, AccountManager, iOS schemes) that only Kotlin or Swift can call. The
//! platform layer hands the agent a [`Facts`] value through a [`FactsProvider`]; the
//! desktop agent and the tests read the same shape from a TOML file.

use serde::{Deserialize, Serialize};

use crate::claims::{AppFact, GroupFact, OsInfo, Platform};

use super::AgentError;

/// One snapshot of the device as the platform layer sees it.
///
/// Unknown keys are refused at every level (here and in [`AppFact`] and [`GroupFact`]):
/// a mistyped `screen_lok = true` silently read as "no screen lock" would tell the
/// officer to fix what is not broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The platform the agent runs on.
    pub platform: Platform,
    /// Device model as the OS reports it (e.g. `Pixel 8`).
    #[serde(default)]
    pub model: String,
    /// Operating system name; defaults to the platform name (`android`, `ios`, `desktop`).
    #[serde(default)]
    pub os_name: String,
    /// OS version (e.g. `15`).
    #[serde(default)]
    pub os_version: String,
    /// Security patch level (Android `YYYY-MM-DD`); empty where the OS has none.
    #[serde(default)]
    pub patch_level: String,
    /// Whether a screen lock is set (R5).
    #[serde(default)]
    pub screen_lock: bool,
    /// Email accounts on the device (R1).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Apps to report (R3); on Android with their signing-certificate digest.
    #[serde(default)]
    pub apps: Vec<AppFact>,
    /// Group memberships the officer declares or the platform reports (R4).
    #[serde(default)]
    pub groups: Vec<GroupFact>,
}

/// Why a facts file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FactsError {
    /// Not TOML, or a field of the wrong type; holds the parser's message.
    #[error("facts file is not valid: {0}")]
    Toml(String),
    /// A key the facts file does not have (a typo, or a key of another version).
    #[error(
        "facts file: unknown key {key:?} on line {line}{}",
        match suggestion {
            Some(s) => format!(" (did you mean {s:?}?)"),
            None => String::new(),
        }
    )]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The line it is on (1-based).
        line: usize,
        /// The known key it is closest to, if one is close.
        suggestion: Option<String>,
    },
    /// A value the server would refuse (an app without id, a group without platform or id).
    #[error("facts: {0}")]
    Invalid(String),
}

impl FactsError {
    /// The parser's error, as [`FactsError::UnknownKey`] when it is serde's "unknown
    /// field `k`, expected one of `a`, `b`" (the key, its line and the closest of the
    /// expected keys), as [`FactsError::Toml`] otherwise.
    fn from_toml(e: &toml::de::Error, text: &str) -> Self {
        let unknown = e
            .message()
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'));
        let Some((key, expected)) = unknown else {
            return FactsError::Toml(e.to_string());
        };
        // The expected names are the backquoted words after the key.
        let known = expected.split('`').skip(1).step_by(2);
        let line = e
            .span()
            .and_then(|s| text.get(..s.start))
            .map_or(1, |before| before.matches('\n').count() + 1);
        FactsError::UnknownKey {
            key: key.to_string(),
            line,
            suggestion: crate::suggest::closest(key, known).map(str::to_string),
        }
    }
}

impl Facts {
    /// Parses the facts file of design section 9.
    pub fn from_toml(text: &str) -> Result<Self, FactsError> {
        let mut facts: Facts = toml::from_str(text).map_err(|e| FactsError::from_toml(&e, text))?;
        if facts.os_name.trim().is_empty() {
            facts.os_name = facts.platform.as_str().to_string();
        }
        facts.validate()?;
        Ok(facts)
    }

    /// Rejects values the server would refuse anyway, so the officer hears it on the phone.
    pub fn validate(&self) -> Result<(), FactsError> {
        use crate::claims::{MAX_APPS, MAX_EMAILS, MAX_GROUPS};
        for (list, count, limit) in [
            ("email accounts", self.emails.len(), MAX_EMAILS),
            ("apps", self.apps.len(), MAX_APPS),
            ("group memberships", self.groups.len(), MAX_GROUPS),
        ] {
            if count > limit {
                return Err(FactsError::Invalid(format!(
                    "{count} {list}, more than the {limit} an attestation may carry"
                )));
            }
        }
        if let Some(app) = self.apps.iter().find(|a| a.id.trim().is_empty()) {
            return Err(FactsError::Invalid(format!(
                "an app has an empty id (version {:?})",
                app.version
            )));
        }
        if let Some(g) = self
            .groups
            .iter()
            .find(|g| g.platform.trim().is_empty() || g.group.trim().is_empty())
        {
            return Err(FactsError::Invalid(format!(
                "a group lacks its platform or id ({:?}/{:?})",
                g.platform, g.group
            )));
        }
        Ok(())
    }

    /// The `os` claim.
    pub fn os(&self) -> OsInfo {
        OsInfo {
            name: if self.os_name.trim().is_empty() {
                self.platform.as_str().to_string()
            } else {
                self.os_name.clone()
            },
            version: self.os_version.clone(),
            patch: self.patch_level.clone(),
        }
    }
}

/// Source of device facts: the platform layer on a phone, a file on the desktop.
pub trait FactsProvider: Send + Sync {
    /// A snapshot of the device now; called at every check-in. Called outside the
    /// agent's lock, so it may ask the agent (its status, the enrolled policy's apps).
    fn facts(&self) -> Result<Facts, AgentError>;
}

/// A fixed snapshot is its own provider (the desktop agent, tests).
impl FactsProvider for Facts {
    fn facts(&self) -> Result<Facts, AgentError> {
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"
platform = "android"
model = "Pixel 8"
os_version = "15"
patch_level = "2026-10-05"
screen_lock = true
emails = ["a.shah@gujarat.gov.in"]
[[apps]]
id = "com.whatsapp"
signer = "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44"
version = "2.26.1"
[[groups]]
platform = "WhatsApp"
group = "gad-officers"
member = true
handle = "+919800000001"
"#;

    #[test]
    fn parses_the_design_facts_file() {
        let f = Facts::from_toml(SAMPLE).expect("parses");
        assert_eq!(f.platform, Platform::Android);
        assert_eq!(f.os_name, "android");
        assert_eq!(f.os().patch, "2026-10-05");
        assert!(f.apps[0].present);
        assert_eq!(f.groups[0].handle, "+919800000001");
    }

    #[test]
    fn rejects_bad_files_without_panicking() {
        assert!(matches!(
            Facts::from_toml("platform = \"symbian\""),
            Err(FactsError::Toml(_))
        ));
        assert!(matches!(
            Facts::from_toml("model = 3"),
            Err(FactsError::Toml(_))
        ));
        let emails: Vec<String> = (0..=crate::claims::MAX_EMAILS)
            .map(|i| format!("\"a{i}@gujarat.gov.in\""))
            .collect();
        let many = format!("platform = \"ios\"\nemails = [{}]\n", emails.join(", "));
        assert_eq!(
            Facts::from_toml(&many),
            Err(FactsError::Invalid(
                "17 email accounts, more than the 16 an attestation may carry".into()
            ))
        );
        let empty_app = "platform = \"ios\"\n[[apps]]\nid = \" \"\n";
        assert!(matches!(
            Facts::from_toml(empty_app),
            Err(FactsError::Invalid(_))
        ));
        for junk in ["", "[[", "\u{0}", "platform = [1]"] {
            assert!(Facts::from_toml(junk).is_err());
        }
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level_with_a_suggestion() {
        let typo = SAMPLE.replace("screen_lock = true", "screen_lok = true");
        let err = Facts::from_toml(&typo).expect_err("typo refused");
        assert_eq!(
            err,
            FactsError::UnknownKey {
                key: "screen_lok".into(),
                line: 6,
                suggestion: Some("screen_lock".into()),
            }
        );
        assert_eq!(
            err.to_string(),
            "facts file: unknown key \"screen_lok\" on line 6 (did you mean \"screen_lock\"?)"
        );
        let in_app = SAMPLE.replace("version = \"2.26.1\"", "versoin = \"2.26.1\"");
        assert!(matches!(
            Facts::from_toml(&in_app),
            Err(FactsError::UnknownKey { key, suggestion: Some(s), .. })
                if key == "versoin" && s == "version"
        ));
        let in_group = SAMPLE.replace("member = true", "member = true\nkernel = \"6.1\"");
        assert!(matches!(
            Facts::from_toml(&in_group),
            Err(FactsError::UnknownKey { key, suggestion: None, .. }) if key == "kernel"
        ));
    }
}
