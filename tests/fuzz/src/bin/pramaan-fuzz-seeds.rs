//! Writes every target's seed corpus (built from the project's fixtures) into a folder:
//! `pramaan-fuzz-seeds DIR` makes `DIR/<target>/seed-NNN`; `pramaan-fuzz-seeds --list`
//! prints the targets (name, tab, what it feeds). `tests/fuzz/run` calls both; the seeds
//! are not committed (they follow the code's encodings).

use std::path::Path;

fn main() {
    let Some(arg) = std::env::args_os().nth(1) else {
        eprintln!("usage: pramaan-fuzz-seeds DIR | --list");
        std::process::exit(2);
    };
    if arg == "--list" {
        for t in pramaan_fuzz::TARGETS {
            println!("{}\t{}", t.name, t.about);
        }
        return;
    }
    let dir = Path::new(&arg);
    match pramaan_fuzz::write_seeds(dir) {
        Ok(n) => println!("wrote {n} seeds under {}", dir.display()),
        Err(e) => {
            eprintln!(
                "pramaan-fuzz-seeds: cannot write the seeds under {}: {e}",
                dir.display()
            );
            std::process::exit(1);
        }
    }
}
