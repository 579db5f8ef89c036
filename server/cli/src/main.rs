//! The `pramaan` command (design section 9).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = pramaan_cli::Cli::parse();
    let result = pramaan_cli::run(cli);
    // Output already written is flushed first, so a failure's reason comes after it.
    let written = pramaan_cli::out::finish();
    match result.map_err(|e| e.to_string()).and(written) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The reason may quote a server, a device or a file: escaped line by line, so
            // it can neither steer the terminal nor pass for another command's output.
            let lines: Vec<_> = e.lines().map(pramaan_core::text::for_terminal).collect();
            eprintln!("pramaan: {}", lines.join("\n"));
            ExitCode::FAILURE
        }
    }
}
