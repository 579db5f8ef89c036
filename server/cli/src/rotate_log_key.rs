//! `pramaan admin rotate-key log --data DIR`: hands the audit log to a new checkpoint key
//! (the work is `pramaan_server::log_keys::rotate`; this prints what changed and what
//! auditors and witnesses do).
//!
//! Why a command of its own and not a flag of `init`: the rotation must be an entry of
//! the log, signed by the old key, in the same transaction as the handover checkpoint,
//! while servers keep running; only the server library knows how to do that.

use std::path::Path;

use super::{CliError, CliResult};

/// Runs `admin rotate-key log` on the data directory `data`.
pub fn run(data: &Path) -> CliResult {
    let r = pramaan_server::log_keys::rotate(data)
        .map_err(|e| CliError::new(format!("rotate-key log: {e}")))?;
    let paths = pramaan_server::server::Paths::new(data);
    if r.resumed {
        outln!("Finished the rotation an earlier run had committed.");
    }
    outln!("Checkpoint key rotated at log entry {}.", r.index);
    outln!("Old key (destroyed): {}", r.old);
    outln!("New key:             {}", r.new);
    outln!(
        "Handover checkpoint (the last signed by the old key):\n{}",
        r.handover.trim_end()
    );
    outln!("Key chain:           {}", paths.log_keys().display());
    outln!();
    outln!(
        "Auditors keep the log key they hold: bundles pulled from now on carry the \
         rotation and `pramaan audit verify --log-key OLD.vkey` follows it."
    );
    outln!(
        "Witnesses: give each witness the new key ({}) and restart it \
         (`pramaan witness serve --log-key NEW.vkey`); until then it refuses the new \
         checkpoints, which does not hold up the log.",
        paths.log_vkey().display()
    );
    outln!(
        "Other instances on other directories: copy log.key, log.vkey and \
         log-keys.json to each."
    );
    outln!(
        "Backups taken before now still hold the old key: destroy them or keep them \
         as secret as the key."
    );
    Ok(())
}
