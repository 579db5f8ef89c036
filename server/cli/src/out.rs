//! Standard output that a closed pipe does not turn into a panic.
//!
//! `outln!` panics when stdout is a pipe whose reader has gone (`pramaan compliance
//! --format json | head -1`): exit 101 and a panic message for an ordinary shell idiom.
//! Every command prints through [`outln!`] and [`out!`] instead: once the reader has
//! gone, output is dropped quietly and the command finishes (a closed pipe is the reader
//! saying it has seen enough, so the exit status stays 0). Any other write error (a full
//! disk behind `> file`) is kept and reported by [`finish`], so it still fails the
//! command.
//!
//! JSON that reaches a terminal goes through [`pretty_json`]: the serializer escapes
//! control characters inside strings but passes bidirectional overrides, C1 controls and
//! DEL as they are; written as `\uXXXX` escapes instead they cannot steer the terminal or
//! reorder what IT reads, and the document still parses to the same value. Plain text
//! from a device, the registry or the server goes through
//! [`pramaan_core::text::for_terminal`].

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

/// `v` pretty-printed, with every unsafe character ([`pramaan_core::text::is_unsafe_char`])
/// written as a JSON `\uXXXX` escape: the same JSON value, safe for a terminal.
pub fn pretty_json(v: &serde_json::Value) -> String {
    let text = match serde_json::to_string_pretty(v) {
        Ok(t) => t,
        Err(e) => return format!("{{\"error\": \"cannot print JSON: {e}\"}}"),
    };
    if !text
        .chars()
        .any(|c| c != '\n' && pramaan_core::text::is_unsafe_char(c))
    {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        // Outside strings the pretty printer writes only newlines and spaces; inside them
        // the serializer already escaped C0 controls, so every other unsafe character is
        // inside a string, where a `\uXXXX` escape means the same character.
        if c != '\n' && pramaan_core::text::is_unsafe_char(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints `value` as pretty JSON and a newline (every `--format json`), unsafe characters
/// escaped as [`pretty_json`] does.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), crate::CliError> {
    let v = serde_json::to_value(value)
        .map_err(|e| crate::CliError::new(format!("cannot print JSON: {e}")))?;
    emit(format_args!("{}", pretty_json(&v)), true);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_json_escapes_what_a_terminal_would_act_on_and_keeps_the_value() {
        let v = serde_json::json!({
            "model": "Pixel\u{1b}[2J\u{1b}[H",
            "email": "x@\u{202E}ni.vog",
            "c1": "\u{9b}31m\u{7f}",
            "plain": "ગુજરાત",
        });
        let text = pretty_json(&v);
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && pramaan_core::text::is_unsafe_char(c)),
            "{text}"
        );
        assert!(
            text.contains("\\u202e") && text.contains("\\u001b"),
            "{text}"
        );
        assert!(text.contains("ગુજરાત"));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, v);
    }
}
