//! The libFuzzer driver: runs the target named by `PRAMAAN_FUZZ_TARGET` on each input.
//!
//! One binary for every target so that the instrumented build links once; `tests/fuzz/run`
//! builds it with the coverage flags (stable rustc: `-Cpasses=sancov-module` and the
//! sanitizer-coverage LLVM options) and starts it once per target.
#![no_main]

use std::sync::OnceLock;

use pramaan_fuzz::{TARGETS, Target, find};

static TARGET: OnceLock<&'static Target> = OnceLock::new();

fn target() -> &'static Target {
    TARGET.get_or_init(|| {
        let name = std::env::var("PRAMAAN_FUZZ_TARGET").unwrap_or_default();
        match find(&name) {
            Some(t) => t,
            None => {
                let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
                eprintln!(
                    "pramaan-fuzz: set PRAMAAN_FUZZ_TARGET to one of: {}",
                    names.join(", ")
                );
                std::process::exit(2);
            }
        }
    })
}

libfuzzer_sys::fuzz_target!(
    init: {
        target();
    },
    |data: &[u8]| {
        let _ = (target().run)(data);
    }
);
