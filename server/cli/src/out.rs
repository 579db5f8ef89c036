//! Standard output that a closed pipe does not turn into a panic.
//!
//! `outln!` panics when stdout is a pipe whose reader has gone (`pramaan compliance
//! --format json | head -1`): exit 101 and a panic message for an ordinary shell idiom.
//! Every command prints through [`outln!`] and [`out!`] instead: once the reader has
//! gone, output is dropped quietly and the command finishes (a closed pipe is the reader
//! saying it has seen enough, so the exit status stays 0). Any other write error (a full
//! disk behind `> file`) is kept and reported by [`finish`], so it still fails the
//! command.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write found the pipe closed; later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error that was not a closed pipe.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Writes `args` (and a newline when `newline`) to stdout. Used by [`outln!`] and
/// [`out!`].
pub fn emit(args: fmt::Arguments<'_>, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let result = stdout.write_fmt(args).and_then(|()| {
        if newline {
            stdout.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        note(e);
    }
}

fn note(e: std::io::Error) {
    if e.kind() == ErrorKind::BrokenPipe {
        CLOSED.store(true, Ordering::Relaxed);
        return;
    }
    CLOSED.store(true, Ordering::Relaxed);
    if let Ok(mut failed) = FAILED.lock()
        && failed.is_none()
    {
        *failed = Some(e.to_string());
    }
}

/// Flushes stdout; the first write error other than a closed pipe, if any.
pub fn finish() -> Result<(), String> {
    if !CLOSED.load(Ordering::Relaxed)
        && let Err(e) = std::io::stdout().lock().flush()
    {
        note(e);
    }
    match FAILED.lock() {
        Ok(failed) => failed
            .as_ref()
            .map_or(Ok(()), |e| Err(format!("writing standard output: {e}"))),
        Err(_) => Err("writing standard output: lock poisoned".into()),
    }
}

/// Prints `value` as pretty JSON and a newline (every `--format json`).
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), crate::CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::CliError::new(format!("cannot print JSON: {e}")))?;
    emit(format_args!("{text}"), true);
    Ok(())
}

/// `outln!` that survives a closed pipe (see the module docs).
macro_rules! outln {
    () => {
        $crate::out::emit(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::out::emit(format_args!($($arg)*), true)
    };
}

/// `print!` that survives a closed pipe (see the module docs).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::emit(format_args!($($arg)*), false)
    };
}
