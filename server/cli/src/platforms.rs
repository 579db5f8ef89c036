//! `pramaan platforms list [--format table|json]`: the built-in catalog of messaging
//! platforms a policy may name by `name` alone.
//!
//! Why: a policy names its sanctioned platforms, and one given by name is filled in from
//! the catalog (package, signing digests, iOS bundle); IT needs to see which names the
//! catalog knows and what each stands for before writing `name = "..."`. Offline: the
//! catalog is compiled into this binary, the same one the server resolves policies with.

use clap::{Subcommand, ValueEnum};
use pramaan_core::catalog::Catalog;
use pramaan_core::text::for_terminal;
use serde_json::json;

use super::CliResult;

/// `pramaan platforms list`.
#[derive(Debug, Subcommand)]
pub enum PlatformsCmd {
    /// List the catalog: name, Android package and iOS bundle of each platform (a policy
    /// may give any of these names alone).
    List {
        /// An aligned table, or JSON with every field (signers, URL scheme, sources).
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

/// How `platforms list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// NAME, ANDROID PACKAGE, IOS BUNDLE.
    Table,
    /// Every entry with all its fields.
    Json,
}

/// The catalog as an aligned table: name, Android package, iOS bundle (`-` for none).
pub fn table(catalog: &Catalog) -> String {
    let rows: Vec<[String; 3]> = catalog
        .entries()
        .iter()
        .map(|e| {
            let s = &e.spec;
            [
                s.name.clone(),
                s.android_package.clone().unwrap_or_else(|| "-".into()),
                s.ios_bundle.clone().unwrap_or_else(|| "-".into()),
            ]
            .map(|c| for_terminal(&c).into_owned())
        })
        .collect();
    let head = ["NAME", "ANDROID PACKAGE", "IOS BUNDLE"].map(str::to_string);
    let mut widths = [0usize; 3];
    for r in rows.iter().chain([&head]) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in [&head].into_iter().chain(rows.iter()) {
        let line = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Runs one `platforms` command.
pub fn run(cmd: PlatformsCmd) -> CliResult {
    let catalog = Catalog::builtin();
    match cmd {
        PlatformsCmd::List {
            format: ListFormat::Table,
        } => out!("{}", table(&catalog)),
        PlatformsCmd::List {
            format: ListFormat::Json,
        } => outln!(
            "{}",
            super::out::pretty_json(&json!({ "platforms": catalog.entries() }))
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_catalog_entry_with_its_identifiers() {
        let catalog = Catalog::builtin();
        let t = table(&catalog);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("NAME") && lines[0].contains("IOS BUNDLE"));
        assert_eq!(lines.len(), catalog.entries().len() + 1);
        let whatsapp = lines
            .iter()
            .find(|l| l.starts_with("WhatsApp "))
            .unwrap_or_else(|| panic!("{t}"));
        assert!(whatsapp.contains("com.whatsapp"), "{whatsapp}");
        assert!(whatsapp.contains("net.whatsapp.WhatsApp"), "{whatsapp}");
        // Columns line up: every package starts where the header's does.
        let col = lines[0].find("ANDROID PACKAGE").unwrap_or(0);
        assert_eq!(whatsapp.find("com.whatsapp"), Some(col), "{t}");
    }
}
