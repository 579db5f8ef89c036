//! `pramaan devices revoke DEVICE_ID --reason TEXT`: stop trusting a device;
//! `pramaan devices list [--department D] [--status active|revoked|all]`: find one.
//!
//! A lost or handed-back phone must stop counting for its officer at once: after
//! revocation the server refuses the device's attestations (403) and the officer shows as
//! `revoked` until a new device is enrolled. The reason is required because the
//! revocation goes into the audit log, where an auditor will ask why.
//!
//! `list` is where IT finds the device id to revoke: one device per line with its
//! officer, platform, model, assurance, enrollment, last check-in and evidence age
//! (`GET /v1/devices`). Device- and registry-sourced text goes through
//! `pramaan_core::text::for_terminal` in the table and `csv_cell` in the CSV; times are
//! RFC 3339 UTC in both (the JSON keeps the server's Unix seconds).

use clap::{Subcommand, ValueEnum};
use pramaan_core::api::{DeviceList, DeviceStatusFilter, RevokeRequest};
use pramaan_core::text::{csv_cell, for_terminal};
use pramaan_core::times::rfc3339;
use uuid::Uuid;

use super::client::{ServerArgs, encode, typed};
use super::compliance::{pad, width};
use super::{CliError, CliResult};

/// `pramaan devices revoke|list`.
#[derive(Debug, Subcommand)]
pub enum DevicesCmd {
    /// List a department's devices (default: the active ones), with the ids that
    /// `devices revoke` takes.
    List {
        /// Department to list. An IT token lists its own; auditors and admins name one.
        #[arg(long, value_name = "D")]
        department: Option<String>,
        /// Which devices: active (not revoked), revoked, or all.
        #[arg(long, value_enum, default_value_t = StatusArg::Active)]
        status: StatusArg,
        /// Output: an aligned table, the server's JSON, or CSV.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke an enrolled device (recorded in the audit log with the reason). Its
    /// attestations are refused from then on.
    Revoke {
        /// The device's id (UUID, as shown in the receipt, `pramaan device status` or the
        /// officer's record).
        device_id: String,
        /// Why (e.g. "reported lost on 2026-11-20"); stored in the audit log.
        #[arg(long)]
        reason: String,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `--status` of `devices list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Devices not revoked.
    Active,
    /// Revoked devices.
    Revoked,
    /// Every device.
    All,
}

impl From<StatusArg> for DeviceStatusFilter {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Active => DeviceStatusFilter::Active,
            StatusArg::Revoked => DeviceStatusFilter::Revoked,
            StatusArg::All => DeviceStatusFilter::All,
        }
    }
}

/// `--format` of `devices list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns, one device per line.
    Table,
    /// The server's JSON answer, pretty-printed.
    Json,
    /// CSV with RFC 3339 times.
    Csv,
}

/// An optional time as RFC 3339, or `fallback`.
fn when(t: Option<u64>, fallback: &str) -> String {
    t.map(rfc3339).unwrap_or_else(|| fallback.into())
}

/// The list as an aligned table, one device per line.
pub fn render_table(list: &DeviceList) -> String {
    let headers = [
        "DEVICE",
        "OFFICER",
        "NAME",
        "PLATFORM",
        "MODEL",
        "ASSURANCE",
        "ENROLLED",
        "LAST CHECK-IN",
        "EVIDENCE AGE",
        "STATE",
    ];
    let rows: Vec<Vec<String>> = list
        .devices
        .iter()
        .map(|d| {
            vec![
                d.device_id.to_string(),
                for_terminal(&d.officer_id).into_owned(),
                for_terminal(&d.officer_name).into_owned(),
                d.platform.to_string(),
                for_terminal(&d.model).into_owned(),
                d.assurance.as_str().to_string(),
                rfc3339(d.enrolled_at),
                when(d.last_check_in, "-"),
                format!("{} d", d.evidence_age_days),
                if d.revoked {
                    format!(
                        "revoked: {}",
                        for_terminal(d.reason.as_deref().unwrap_or_default())
                    )
                } else {
                    "active".into()
                },
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| width(&r[i]))
                .chain([width(headers[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("Department {}\n", for_terminal(&list.department));
    for cells in std::iter::once(headers.map(String::from).to_vec()).chain(rows) {
        let line: String = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| pad(c, w + 2))
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("\n{} device(s)\n", list.devices.len()));
    out
}

/// The list as CSV: `device_id,officer_id,officer_name,platform,model,assurance,
/// enrolled_at,last_check_in,revoked,reason,evidence_at,evidence_age_days`, times RFC 3339
/// UTC, every text cell neutralized against formula injection.
pub fn to_csv(list: &DeviceList) -> Result<String, CliError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| CliError::new(format!("cannot write CSV: {e}"));
    w.write_record([
        "device_id",
        "officer_id",
        "officer_name",
        "platform",
        "model",
        "assurance",
        "enrolled_at",
        "last_check_in",
        "revoked",
        "reason",
        "evidence_at",
        "evidence_age_days",
    ])
    .map_err(fail)?;
    for d in &list.devices {
        w.write_record([
            d.device_id.to_string(),
            csv_cell(&d.officer_id).into_owned(),
            csv_cell(&d.officer_name).into_owned(),
            d.platform.to_string(),
            csv_cell(&d.model).into_owned(),
            d.assurance.as_str().to_string(),
            rfc3339(d.enrolled_at),
            when(d.last_check_in, ""),
            d.revoked.to_string(),
            csv_cell(d.reason.as_deref().unwrap_or_default()).into_owned(),
            rfc3339(d.evidence_at),
            d.evidence_age_days.to_string(),
        ])
        .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| CliError::new(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| CliError::new(format!("cannot write CSV: {e}")))
}

/// Runs one `devices` command.
pub fn run(cmd: DevicesCmd) -> CliResult {
    match cmd {
        DevicesCmd::List {
            department,
            status,
            format,
            server,
        } => {
            let client = server.client()?;
            let filter = DeviceStatusFilter::from(status);
            let mut path = format!("/v1/devices?status={}", filter.as_str());
            if let Some(d) = &department {
                path.push_str(&format!("&department={}", encode(d)));
            }
            let v = client.get_json(&path)?;
            match format {
                ListFormat::Json => crate::out::json(&v)?,
                ListFormat::Table => out!("{}", render_table(&typed(&path, v)?)),
                ListFormat::Csv => out!("{}", to_csv(&typed(&path, v)?)?),
            }
            Ok(())
        }
        DevicesCmd::Revoke {
            device_id,
            reason,
            server,
        } => {
            let id = Uuid::parse_str(device_id.trim()).map_err(|e| {
                CliError::new(format!("{device_id:?} is not a device id (UUID): {e}"))
            })?;
            if reason.trim().is_empty() {
                return Err(CliError::new(
                    "--reason must not be empty: it goes into the audit log",
                ));
            }
            let client = server.client()?;
            client.post_json(
                &format!("/v1/devices/{id}/revoke"),
                &RevokeRequest {
                    reason: reason.trim().to_string(),
                },
            )?;
            outln!("device {id} revoked: {}", reason.trim());
            Ok(())
        }
    }
}
