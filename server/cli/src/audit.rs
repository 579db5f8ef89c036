//! `pramaan audit pull` and `pramaan audit verify`: evidence an auditor checks offline.
//!
//! `pull` downloads a signed checkpoint, a range of log entries (in pages bounded by
//! count and bytes) with one range proof, the enrollment entries that hold the keys of the
//! devices attesting in the range (with their inclusion proofs, in one batched request),
//! and (with `--since`) the consistency proof from an earlier checkpoint, into one bundle
//! file. `--since CP` alone pulls only what is new since CP; a CP larger than the log, of
//! another log, or of the same size with another root is refused with what it may mean.
//! `verify` needs no network and no trust in whoever handed over the file: only the log's
//! public key (`DATA/log.vkey`). It prints what was verified (and, given a checkpoint
//! newer than the bundle, that the bundle is older), or exits non-zero naming the first
//! entry that failed and why (or the range, when its one range proof fails).

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::client::{self, ServerArgs};
use super::{CliError, CliResult};
use pramaan_tlog::bundle::{self, BuildError, BuildOptions, Request, Response};
use pramaan_tlog::{
    EnrollmentsRequest, EntriesResponse, InclusionsRequest, InclusionsResponse, ProofResponse,
};

/// `pramaan audit`: pull the log into an offline bundle, verify bundles.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Download a range of the audit log, with proofs, into an offline bundle.
    Pull {
        /// The server and the auditor's credentials.
        #[command(flatten)]
        server: ServerArgs,
        /// Where to write the bundle.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// First entry (default: the size of the `--since` checkpoint, else 0).
        #[arg(long, value_name = "N")]
        start: Option<u64>,
        /// End of the range, exclusive (default: the checkpoint's size).
        #[arg(long, value_name = "N")]
        end: Option<u64>,
        /// A checkpoint kept from earlier: the bundle then carries the consistency proof
        /// from its size, for `verify --since`, and starts at its size unless `--start`
        /// is given. May be repeated (the range then starts at the smallest).
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        since: Vec<PathBuf>,
        /// Also save the bundle's checkpoint here (keep it for the next `--since`).
        #[arg(long, value_name = "FILE")]
        save_checkpoint: Option<PathBuf>,
        /// Ask for pages of at most this many bytes of entries (the server's own bound,
        /// 4 MiB, applies anyway; a page always holds at least one entry). For slow or
        /// metered links.
        #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
        page_bytes: Option<u64>,
    },
    /// Verify a bundle offline against the log's public key.
    Verify {
        /// The bundle written by `pramaan audit pull`.
        file: PathBuf,
        /// The log's verifier key (`DATA/log.vkey`: `<name>+<key id>+<base64 key>`).
        #[arg(long, value_name = "FILE")]
        log_key: PathBuf,
        /// A checkpoint kept from earlier: also verify the log only grew since.
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        since: Option<PathBuf>,
        /// A witness's verifier key file (`pramaan witness init` prints it); repeat for
        /// more. The bundle's checkpoint must carry their valid cosignatures.
        #[arg(long = "witness-key", value_name = "FILE")]
        witness_keys: Vec<PathBuf>,
        /// How many of the witnesses must have cosigned (default: all given).
        #[arg(long = "witnesses", value_name = "N", requires = "witness_keys")]
        witnesses: Option<usize>,
        /// `text` for people, `json` for scripts.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Read a bundle: entries decoded, device signatures checked, what each entry means
    /// checked by replay, and the state in force at an entry (`--state-at`).
    Show(super::audit_show::ShowArgs),
}

/// Output of `pramaan audit verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One readable summary, or the failing entry.
    Text,
    /// The summary (or the failure) as JSON.
    Json,
}

/// Runs one `pramaan audit` command.
pub fn run(cmd: AuditCmd) -> CliResult {
    match cmd {
        AuditCmd::Pull {
            server,
            out,
            start,
            end,
            since,
            save_checkpoint,
            page_bytes,
        } => pull(
            &server,
            &out,
            start,
            end,
            &since,
            save_checkpoint.as_deref(),
            page_bytes,
        ),
        AuditCmd::Verify {
            file,
            log_key,
            since,
            witness_keys,
            witnesses,
            format,
        } => {
            // Checked first so that nothing says "verified" when cosignatures are missing.
            let witnessed = check_witnesses(&file, &witness_keys, witnesses)?;
            verify(&file, &log_key, since.as_deref(), format)?;
            if let Some(line) = witnessed {
                match format {
                    Format::Text => outln!("{line}"),
                    Format::Json => eprintln!("{}", line.trim_start()),
                }
            }
            Ok(())
        }
        AuditCmd::Show(args) => super::audit_show::run(args),
    }
}

fn read_text(path: &Path) -> Result<String, CliError> {
    client::read_text(path)
}

fn pull(
    server: &ServerArgs,
    out: &Path,
    start: Option<u64>,
    end: Option<u64>,
    since: &[PathBuf],
    save_checkpoint: Option<&Path>,
    page_bytes: Option<u64>,
) -> CliResult {
    let http = server.client()?;
    let since = since
        .iter()
        .map(|p| {
            let note = read_text(p)?;
            bundle::since_checkpoint(&note)
                .map_err(|e| CliError::new(format!("{}: {e}", p.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} entries ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("pulling");
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let opts = BuildOptions {
        start,
        end,
        since,
        page_bytes,
        progress: Some(&progress),
    };
    let result = pull_bundle(&http, &opts);
    bar.finish_and_clear();
    let b = result.map_err(|e| CliError::new(format!("pull failed: {e}")))?;
    pramaan_core::fsutil::write_atomic(out, &b.to_bytes(), 0o644)
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", out.display())))?;
    if let Some(path) = save_checkpoint {
        pramaan_core::fsutil::write_atomic(path, b.checkpoint.as_bytes(), 0o644)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
    }
    outln!(
        "wrote {}: entries [{}, {}), {} key enrollments, {} consistency proofs{}",
        out.display(),
        b.start,
        b.end,
        b.enrollments.len(),
        b.consistency.len(),
        match b.key_chain.len() {
            0 => String::new(),
            n => format!(", {n} checkpoint key rotation(s)"),
        }
    );
    Ok(())
}

/// Builds a bundle through the audit API of the server `http` talks to: what
/// `pramaan audit pull` writes (also driven by `pramaan bench --audit-pull-entries`).
pub fn pull_bundle(
    http: &client::Client,
    opts: &BuildOptions<'_>,
) -> Result<bundle::Bundle, BuildError> {
    bundle::build_bundle(&mut |req| request(http, req), opts)
}

/// Answers one of the bundle builder's [`Request`]s with the matching audit API call.
pub fn request(http: &client::Client, req: Request) -> Result<Response, BuildError> {
    let fail = |e: CliError| BuildError::Fetch(e.0);
    match req {
        Request::Checkpoint => http
            .get_text("/v1/audit/checkpoint")
            .map(Response::Checkpoint)
            .map_err(fail),
        Request::Entries {
            start,
            end,
            max_bytes,
        } => {
            let mut path = format!("/v1/audit/entries?start={start}&end={end}");
            if let Some(b) = max_bytes {
                path.push_str(&format!("&max_bytes={b}"));
            }
            entries(http.get_json(&path).map_err(fail)?, &path)
        }
        Request::Enrollments { before, devices } => {
            let path = "/v1/audit/enrollments";
            let v = http
                .post_json(path, &EnrollmentsRequest { before, devices })
                .map_err(fail)?;
            entries(v, path)
        }
        Request::Inclusion { index, size } => proof(
            http,
            &format!("/v1/audit/proof/inclusion?index={index}&size={size}"),
        ),
        Request::Inclusions { size, indices } => {
            let path = "/v1/audit/proof/inclusions";
            let v = http
                .post_json(path, &InclusionsRequest { size, indices })
                .map_err(fail)?;
            let p: InclusionsResponse = client::typed(path, v).map_err(fail)?;
            p.to_proofs().map(Response::Proofs).map_err(|index| {
                BuildError::Fetch(format!(
                    "the answer to {path}: a hash of the proof of entry {index} is not base64 of 32 bytes"
                ))
            })
        }
        Request::Range { start, end, size } => proof(
            http,
            &format!("/v1/audit/proof/range?start={start}&end={end}&size={size}"),
        ),
        Request::Consistency { old, new } => proof(
            http,
            &format!("/v1/audit/proof/consistency?old={old}&new={new}"),
        ),
        Request::KeyChain => {
            let path = "/v1/audit/key-chain";
            match http.get_json(path) {
                Ok(v) => client::typed(path, v).map(Response::KeyChain).map_err(fail),
                // A server from before key rotation has no such endpoint, and no rotation.
                Err(e) if e.0.starts_with("server refused: 404") => {
                    Ok(Response::KeyChain(Default::default()))
                }
                Err(e) => Err(fail(e)),
            }
        }
    }
}

fn entries(v: serde_json::Value, path: &str) -> Result<Response, BuildError> {
    let page: EntriesResponse = client::typed(path, v).map_err(|e| BuildError::Fetch(e.0))?;
    page.decode().map(Response::Entries).map_err(|index| {
        BuildError::Fetch(format!("the answer to {path}: entry {index} is not base64"))
    })
}

fn proof(http: &client::Client, path: &str) -> Result<Response, BuildError> {
    let v = http.get_json(path).map_err(|e| BuildError::Fetch(e.0))?;
    let p: ProofResponse = client::typed(path, v).map_err(|e| BuildError::Fetch(e.0))?;
    p.to_hashes().map(Response::Proof).ok_or_else(|| {
        BuildError::Fetch(format!(
            "the answer to {path}: a hash is not base64 of 32 bytes"
        ))
    })
}

fn verify(file: &Path, log_key: &Path, since: Option<&Path>, format: Format) -> CliResult {
    let bytes = client::read_file(file)?;
    let key = read_text(log_key)?;
    let since_note = since.map(read_text).transpose()?;
    let summary = bundle::verify_bundle(&bytes, key.trim(), since_note.as_deref())
        .map_err(|e| CliError::new(format!("{}: NOT VERIFIED: {e}", file.display())))?;
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&summary)
                .map_err(|e| CliError::new(format!("encoding the summary: {e}")))?;
            outln!("{text}");
        }
        Format::Text => {
            outln!("{}: verified", file.display());
            outln!("  log:          {}", summary.origin);
            outln!(
                "  checkpoint:   size {}, root {}",
                summary.size,
                summary.root
            );
            outln!(
                "  entries:      [{}, {}) = {} ({} enrollments, {} attestations, {} revocations, {} policy changes)",
                summary.start,
                summary.end,
                summary.entries,
                summary.enrollments,
                summary.attestations,
                summary.revocations,
                summary.policy_changes
            );
            outln!(
                "  devices:      {} (signatures checked against enrolled keys; {} enrollments from before the range)",
                summary.devices,
                summary.key_enrollments
            );
            if summary.key_rotations > 0 {
                outln!(
                    "  log key:      rotated {} time(s) since the key given; each rotation \
                     checked (signed by the key before it, in a handover checkpoint)",
                    summary.key_rotations
                );
            }
            match (summary.consistent_since, summary.older_than_since) {
                (Some(old), _) if old == summary.size => {
                    outln!("  consistency:  the checkpoint given is this very one")
                }
                (Some(old), _) => {
                    outln!("  consistency:  the log of size {old} is a prefix of this one")
                }
                (None, Some(newer)) => outln!(
                    "  consistency:  bundle older than checkpoint (the checkpoint given has \
                     {newer} entries, the bundle {}): nothing to check, no alarm",
                    summary.size
                ),
                (None, None) => {
                    outln!("  consistency:  not checked (give --since CHECKPOINT_FILE)")
                }
            }
            let m = &summary.meaning;
            outln!(
                "  meaning:      no entry contradicts those before it; {} verdicts recomputed \
                 from the logged inputs, all equal",
                m.verdicts_recomputed
            );
            if m.verdicts_inputs_before_range > 0 {
                outln!(
                    "                {} verdicts not recomputed: an input precedes the bundle's \
                     range (pull from entry 0 to judge them)",
                    m.verdicts_inputs_before_range
                );
            }
            if m.verdicts_inputs_not_logged > 0 {
                outln!(
                    "                {} verdicts not recomputed: an input is in no entry (written \
                     before verdict inputs were logged)",
                    m.verdicts_inputs_not_logged
                );
            }
        }
    }
    Ok(())
}

/// `audit verify --witness-key`: counts the valid cosignatures on the bundle's checkpoint
/// by the witnesses whose key files are given; fewer than `required` (default: all) is
/// NOT VERIFIED, naming the witnesses missing. Returns the summary line (None when no
/// witness key was given). The bundle itself is verified by [`verify`].
pub fn check_witnesses(
    file: &Path,
    key_files: &[PathBuf],
    required: Option<usize>,
) -> Result<Option<String>, CliError> {
    if key_files.is_empty() {
        return Ok(None);
    }
    let keys = key_files
        .iter()
        .map(|p| {
            pramaan_tlog::witness::WitnessKey::parse(&read_text(p)?).map_err(|e| {
                CliError::new(format!(
                    "{}: {e} (expected a witness's verifier key)",
                    p.display()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A key file given twice is one witness.
    let mut keys = keys;
    keys.sort_by_key(|k| k.label());
    keys.dedup();
    let required = required.unwrap_or(keys.len());
    if required > keys.len() {
        return Err(CliError::new(format!(
            "--witnesses {required} is more than the {} witness keys given",
            keys.len()
        )));
    }
    let bytes = client::read_file(file)?;
    let b = bundle::Bundle::from_bytes(&bytes)
        .map_err(|e| CliError::new(format!("{}: NOT VERIFIED: {e}", file.display())))?;
    let count = pramaan_tlog::witness::count_cosignatures(&b.checkpoint, &keys);
    if count.valid.len() < required {
        let missing: Vec<String> = count
            .missing
            .iter()
            .map(|(w, why)| format!("{w} ({why})"))
            .collect();
        return Err(CliError::new(format!(
            "{}: NOT VERIFIED: the checkpoint has {} of the {required} witness cosignatures required; missing: {}",
            file.display(),
            count.valid.len(),
            missing.join("; ")
        )));
    }
    let names: Vec<&str> = count.valid.iter().map(|(w, _)| w.as_str()).collect();
    Ok(Some(format!(
        "  witnesses:    {} of {} cosigned ({required} required): {}",
        count.valid.len(),
        keys.len(),
        names.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pramaan_core::keys::ServerKey;
    use pramaan_server::audit_log::{self, LogSigner};

    #[test]
    fn verify_command_accepts_a_good_bundle_and_names_the_failing_entry() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = rusqlite::Connection::open_in_memory().expect("db");
        audit_log::init_schema(&conn).expect("schema");
        let d = pramaan_testkit::log_fixtures::DemoDevice::generate("o1").expect("device");
        let tx = conn.transaction().expect("tx");
        audit_log::append(&tx, &d.enrollment(1).expect("e")).expect("append");
        for i in 0..4 {
            audit_log::append(&tx, &d.attestation(2 + i, i).expect("a")).expect("append");
        }
        tx.commit().expect("commit");
        let signer = LogSigner::new("pramaan.test/log".into(), ServerKey::generate().expect("k"));
        let b = audit_log::build_bundle_from_db(&conn, &signer, &BuildOptions::default())
            .expect("build");
        let file = dir.path().join("b.cbor");
        let key = dir.path().join("log.vkey");
        std::fs::write(&file, b.to_bytes()).expect("write");
        std::fs::write(&key, format!("{}\n", signer.verifier_key())).expect("write");
        verify(&file, &key, None, Format::Text).expect("verifies");

        let mut bad = b.clone();
        bad.entries[3].leaf[40] ^= 1;
        std::fs::write(&file, bad.to_bytes()).expect("write");
        let err = verify(&file, &key, None, Format::Json).expect_err("tampered");
        assert!(
            err.0.contains("NOT VERIFIED") && err.0.contains("range proof"),
            "{}",
            err.0
        );
    }
}
