//! Helpers shared by the C ABI's test binaries: the repository, running a
//! build step, asking whether a tool is installed, and the directory with an
//! up-to-date libmemlink.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `MEMLINK_REQUIRE_BINDINGS=1` (CI): a missing tool is then a
/// failure, not a skip.
pub fn required() -> bool {
    std::env::var("MEMLINK_REQUIRE_BINDINGS").is_ok_and(|v| v == "1")
}

/// Whether `program --version` runs.
pub fn works(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a build step (or any command that must succeed) and returns what
/// it printed; its failure fails the test with the command's own words.
pub fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{command:?} failed:\n{text}");
    text
}

/// The directory holding an up-to-date `libmemlink.so` and `libmemlink.a`.
///
/// Cargo does not build a cdylib-only crate's library for its integration
/// tests, so the first call builds it (`cargo build -p memlink-ffi`, same
/// profile and target directory; a no-op when it is fresh).
pub fn lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("profile directory")
            .to_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["build", "--quiet", "-p", "memlink-ffi", "--lib"])
            .current_dir(repo());
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                command.arg("--release");
            }
            Some(other) => {
                command.args(["--profile", other]);
            }
        }
        if let Some(target) = profile_dir.parent() {
            command.env("CARGO_TARGET_DIR", target);
        }
        run(&mut command);
        let so = profile_dir.join("libmemlink.so");
        assert!(so.exists(), "cargo built no {}", so.display());
        profile_dir
    })
    .clone()
}
