//! `pramaan admin backup` and `pramaan admin restore`: printing only; the work, and why it
//! is done the way it is, is in `pramaan_server::backup`.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use pramaan_core::text::for_terminal;
use pramaan_core::times::rfc3339;
use pramaan_server::backup;

use super::{CliError, CliResult};

/// `pramaan admin backup --data DIR --out FILE`.
pub fn run_backup(data: &Path, out: &Path) -> CliResult {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("copying the database {bar:40} {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let result = backup::backup(data, out, &progress);
    bar.finish_and_clear();
    let s = result.map_err(|e| CliError::new(format!("backup failed: {e}")))?;
    let m = &s.manifest;
    outln!("wrote {} ({} bytes)", s.file.display(), s.bytes);
    outln!(
        "  log: {} entries, root {}; newest checkpoint: {}",
        m.log_size,
        m.log_root,
        m.checkpoint
            .as_ref()
            .map(|c| format!("{} entries, signed {}", c.size, rfc3339(c.signed_at)))
            .unwrap_or_else(|| "none".into())
    );
    outln!(
        "  schema version {}, pramaan {}, made {}",
        m.schema_version,
        for_terminal(&m.pramaan_version),
        rfc3339(m.created_at)
    );
    outln!(
        "  files: {}",
        m.files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!("  checksum (SHA-256 of its manifest): {}", s.checksum);
    if !s.not_copied.is_empty() {
        outln!(
            "  not copied (not a server's files): {}",
            s.not_copied
                .iter()
                .map(|f| for_terminal(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    outln!(
        "It holds the server's private keys (server.key, log.key, tls/key.pem): it is \
         mode 0600; keep it as safe as the data directory itself, off this machine \
         (docs/operations.md)."
    );
    Ok(())
}

/// `pramaan admin restore --from FILE --data DIR [--published CHECKPOINT_FILE ...]`.
pub fn run_restore(from: &Path, data: &Path, published: &[PathBuf]) -> CliResult {
    let s = backup::restore(from, data, published)
        .map_err(|e| CliError::new(format!("restore failed: {e}")))?;
    let m = &s.manifest;
    if let Some(aside) = &s.moved_aside {
        outln!(
            "moved the previous {} to {} (nothing was deleted)",
            data.display(),
            aside.display()
        );
    }
    outln!(
        "restored {} from {} (made {} by pramaan {})",
        s.data_dir.display(),
        from.display(),
        rfc3339(m.created_at),
        for_terminal(&m.pramaan_version)
    );
    outln!(
        "  checked: every file's SHA-256, the database's integrity, log.vkey against the \
         log key, the log ({} entries, root {}), {} stored checkpoints",
        m.log_size,
        m.log_root,
        s.checkpoints_checked
    );
    match &s.published {
        Some((size, source)) => outln!(
            "  the newest published checkpoint ({size} entries, {source}) is in the restored \
             log{}",
            if s.published_stored {
                "; stored, so the server never signs a tree that does not extend it"
            } else {
                ""
            }
        ),
        None => outln!(
            "  no published checkpoint was compared (none stored in a replaced directory, \
             no --published): pass the newest checkpoint your auditors hold"
        ),
    }
    outln!("start it with `pramaan serve --data {}`", data.display());
    Ok(())
}
