//! `pramaan devices revoke DEVICE_ID --reason TEXT`: stop trusting a device.
//!
//! A lost or handed-back phone must stop counting for its officer at once: after
//! revocation the server refuses the device's attestations (403) and the officer shows as
//! `revoked` until a new device is enrolled. The reason is required because the
//! revocation goes into the audit log, where an auditor will ask why.

use clap::Subcommand;
use pramaan_core::api::RevokeRequest;
use uuid::Uuid;

use super::client::ServerArgs;
use super::{CliError, CliResult};

/// `pramaan devices revoke`.
#[derive(Debug, Subcommand)]
pub enum DevicesCmd {
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

/// Runs one `devices` command.
pub fn run(cmd: DevicesCmd) -> CliResult {
    match cmd {
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
