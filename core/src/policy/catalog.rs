//! The catalog of known messaging platforms a department policy can name (rule R3).
//!
//! Typing a signing-certificate digest by hand is how a genuine app ends up looking
//! repackaged, so the core ships the project's researched catalog
//! (`core/data/platforms.toml`, with its sources and confidence notes) compiled in, and a
//! policy may give a platform by `name` alone; [`crate::policy::Policy::resolve`] fills in
//! the package, signers and iOS identifiers from here.

use serde::{Deserialize, Serialize};

use crate::model::PlatformSpec;

/// The catalog text as shipped (kept byte-for-byte with its source comments).
pub const BUILTIN_TOML: &str = include_str!("../../data/platforms.toml");

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// The catalog is not TOML of the expected shape; holds the parser's message.
    #[error("catalog is not valid TOML: {0}")]
    Toml(String),
    /// Two entries share a name (compared case-insensitively); holds it.
    #[error("catalog entry {0:?} appears twice")]
    Duplicate(String),
    /// An entry the rules could not use; names the entry and the reason.
    #[error("catalog entry {name:?}: {reason}")]
    Invalid {
        /// The entry's `name`.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// One known platform with where its facts come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The platform's name and identifiers (flattened into the entry's table).
    #[serde(flatten)]
    pub spec: PlatformSpec,
    /// "two sources" or "one source" (re-check before enforcing on the latter).
    #[serde(default)]
    pub confidence: String,
    /// Where the package name and digests were seen (free text, one line).
    #[serde(default)]
    pub sources: String,
}

#[derive(Deserialize)]
struct CatalogFile {
    #[serde(default)]
    platforms: Vec<CatalogEntry>,
}

/// Known platforms, looked up by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

impl Catalog {
    /// The catalog compiled into the core. The shipped file is checked by this module's
    /// tests; should it ever fail to parse, the error is logged and the catalog is empty
    /// (a policy naming a platform then fails to resolve with a clear error).
    pub fn builtin() -> Catalog {
        match Self::from_toml(BUILTIN_TOML) {
            Ok(c) => c,
            Err(e) => {
                log::error!("built-in platform catalog does not load: {e}");
                Catalog::default()
            }
        }
    }

    /// Parses and checks a catalog (`[[platforms]]` tables as in `platforms.toml`).
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile =
            toml::from_str(text).map_err(|e| CatalogError::Toml(e.to_string()))?;
        let mut seen = std::collections::BTreeSet::new();
        for entry in &file.platforms {
            let spec = &entry.spec;
            let invalid = |reason: String| CatalogError::Invalid {
                name: spec.name.clone(),
                reason,
            };
            if spec.name.trim().is_empty() {
                return Err(invalid("empty name".into()));
            }
            if !seen.insert(spec.name.to_lowercase()) {
                return Err(CatalogError::Duplicate(spec.name.clone()));
            }
            if spec.android_package.is_none() && spec.ios_bundle.is_none() {
                return Err(invalid("neither android_package nor ios_bundle".into()));
            }
            if spec.android_package.is_some() && spec.android_signers.is_empty() {
                return Err(invalid("android_package without android_signers".into()));
            }
            if let Some(bad) = spec.android_signers.iter().find(|d| !is_sha256_hex(d)) {
                return Err(invalid(format!(
                    "signer {bad:?} is not 64 lowercase hex digits"
                )));
            }
        }
        Ok(Catalog {
            entries: file.platforms,
        })
    }

    /// The platform called `name`: an exact match first, else case-insensitive.
    pub fn find(&self, name: &str) -> Option<&PlatformSpec> {
        self.entries
            .iter()
            .find(|e| e.spec.name == name)
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|e| e.spec.name.eq_ignore_ascii_case(name.trim()))
            })
            .map(|e| &e.spec)
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// Every entry's name, in file order (for messages that list what is known).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.spec.name.as_str())
    }
}

/// A SHA-256 digest as Pramaan writes it: exactly 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_every_entry() {
        let parsed = Catalog::from_toml(BUILTIN_TOML).expect("shipped catalog parses");
        let builtin = Catalog::builtin();
        assert_eq!(parsed, builtin);
        // Count the tables in the file independently of serde, so an entry silently
        // dropped by the parser fails this test.
        let tables = BUILTIN_TOML
            .lines()
            .filter(|l| l.trim() == "[[platforms]]")
            .count();
        assert_eq!(builtin.entries().len(), tables);
        assert!(tables >= 8, "catalog has {tables} entries");
        for e in builtin.entries() {
            assert!(!e.sources.is_empty(), "{} has no sources", e.spec.name);
            assert!(
                e.confidence == "one source" || e.confidence == "two sources",
                "{}: confidence {:?}",
                e.spec.name,
                e.confidence
            );
        }
    }

    #[test]
    fn every_digest_is_64_lowercase_hex() {
        let catalog = Catalog::builtin();
        let mut n = 0;
        for e in catalog.entries() {
            for d in &e.spec.android_signers {
                assert!(is_sha256_hex(d), "{}: {d}", e.spec.name);
                assert_eq!(hex::decode(d).expect("hex").len(), 32);
                n += 1;
            }
        }
        assert!(n >= 10, "only {n} digests");
    }

    #[test]
    fn find_by_exact_and_case_insensitive_name() {
        let catalog = Catalog::builtin();
        let wa = catalog.find("WhatsApp").expect("WhatsApp");
        assert_eq!(wa.android_package.as_deref(), Some("com.whatsapp"));
        assert_eq!(wa.android_signers.len(), 2);
        assert_eq!(wa.ios_bundle.as_deref(), Some("net.whatsapp.WhatsApp"));
        // "WhatsApp Business" must not be found for "WhatsApp" nor the reverse.
        let wab = catalog
            .find("whatsapp business")
            .expect("WhatsApp Business");
        assert_eq!(wab.android_package.as_deref(), Some("com.whatsapp.w4b"));
        let tg = catalog.find("telegram").expect("Telegram");
        assert_eq!(
            tg.android_package.as_deref(),
            Some("org.telegram.messenger")
        );
        assert!(
            catalog.find("Skype").is_none(),
            "Skype is retired, not in the catalog"
        );
        assert!(catalog.find("").is_none());
    }

    #[test]
    fn bad_catalogs_are_refused() {
        assert!(matches!(
            Catalog::from_toml("[[platforms]\n"),
            Err(CatalogError::Toml(_))
        ));
        let upper = "[[platforms]]\nname = \"X\"\nandroid_package = \"x\"\nandroid_signers = [\"3987D043D10AEFAF5A8710B3671418FE57E0E19B653C9DF82558FEB5FFCE5D44\"]\n";
        assert!(matches!(
            Catalog::from_toml(upper),
            Err(CatalogError::Invalid { .. })
        ));
        let dup = "[[platforms]]\nname = \"X\"\nios_bundle = \"x\"\n[[platforms]]\nname = \"x\"\nios_bundle = \"y\"\n";
        assert_eq!(
            Catalog::from_toml(dup),
            Err(CatalogError::Duplicate("x".into()))
        );
        let no_signer = "[[platforms]]\nname = \"X\"\nandroid_package = \"x\"\n";
        assert!(matches!(
            Catalog::from_toml(no_signer),
            Err(CatalogError::Invalid { .. })
        ));
    }

    #[test]
    fn sha256_hex_shape() {
        assert!(is_sha256_hex(&"ab".repeat(32)));
        assert!(!is_sha256_hex(&"AB".repeat(32)));
        assert!(!is_sha256_hex(&"ab".repeat(31)));
        assert!(!is_sha256_hex(&"zz".repeat(32)));
    }
}
