//! `memlink bridge ...`: runs the `memlink-bridge` program, a separate
//! binary (crate `memlink-bridge`) so that building `memlink` never builds
//! Zenoh.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use crate::error::{CliResult, Failure};

/// The bridge program's file name on this OS.
const PROGRAM: &str = if cfg!(windows) {
    "memlink-bridge.exe"
} else {
    "memlink-bridge"
};

/// Runs `memlink-bridge ARGS`, found next to this executable or on PATH,
/// and ends this process with its exit code.
pub fn run(args: &[OsString]) -> CliResult {
    let program = find().ok_or_else(|| {
        Failure::msg(format!(
            "{PROGRAM} is not installed next to memlink or on PATH; build it with \
             `cargo build --release -p memlink-bridge` (it is separate so that memlink \
             never builds Zenoh)"
        ))
    })?;
    let status = Command::new(&program)
        .args(args)
        .status()
        .map_err(|e| Failure::io(&format!("running {}", program.display()), e))?;
    // The bridge printed its own errors; pass its exit code on.
    std::process::exit(status.code().unwrap_or(1));
}

fn find() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(PROGRAM)));
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(PROGRAM))
                .collect()
        })
        .unwrap_or_default();
    beside.into_iter().chain(on_path).find(|p| p.is_file())
}
