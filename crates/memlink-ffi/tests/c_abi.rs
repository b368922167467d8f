//! The C ABI from C: `tests/c/abi.c` (every export beyond the smoke test,
//! with real child processes killed with SIGKILL for the robust mutex), built
//! with gcc against the shared and then the static library, and run.
//!
//! gcc missing skips the test, loudly, unless `MEMLINK_REQUIRE_BINDINGS=1`
//! (`.ci/bindings.sh`) makes that a failure.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{lib_dir, repo, run, works};

/// Runs the program with a deadline; returns its output.
fn run_abi(program: &Path, name: &str) -> String {
    let mut child = Command::new(program)
        .arg(name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the C test");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "the C test did not finish in 120 s:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        // Polling the exit status, not synchronising with the program.
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} failed:\n{text}",
        program.display()
    );
    text
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("mltest-ffi-cabi-{tag}-{}-{nanos:x}", std::process::id())
}

/// Whether gcc is there; its absence skips a test, loudly, or fails it
/// under `MEMLINK_REQUIRE_BINDINGS=1`.
fn have_gcc() -> bool {
    if works("gcc") {
        return true;
    }
    if std::env::var("MEMLINK_REQUIRE_BINDINGS").is_ok_and(|v| v == "1") {
        panic!("gcc is not installed (MEMLINK_REQUIRE_BINDINGS=1)");
    }
    eprintln!("skipped: gcc is not installed; .ci/bindings.sh installs it");
    false
}

#[test]
fn the_whole_c_abi_from_c() {
    if !have_gcc() {
        return;
    }
    let lib = lib_dir();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-abi");
    std::fs::create_dir_all(&dir).expect("build directory");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/abi.c");
    let include = repo().join("crates/memlink-ffi/include");
    let flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];

    let shared = dir.join("abi");
    run(Command::new("gcc")
        .args(flags)
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&shared)
        .arg("-L")
        .arg(&lib)
        .arg("-lmemlink")
        .arg(format!("-Wl,-rpath,{}", lib.display())));
    let output = run_abi(&shared, &unique("so"));
    println!("{output}");
    assert!(output.contains("c abi: 10 passed, 0 failed"), "{output}");

    let fixed = dir.join("abi-static");
    run(Command::new("gcc")
        .args(flags)
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .arg(lib.join("libmemlink.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&fixed));
    let output = run_abi(&fixed, &unique("a"));
    assert!(output.contains("c abi: 10 passed, 0 failed"), "{output}");
}

/// `tests/c/waitset.c`: the wait set from C99, with child processes (one
/// sends while the parent waits, one sets a named event, two are killed
/// with SIGKILL).
#[test]
fn the_wait_set_from_c() {
    if !have_gcc() {
        return;
    }
    let lib = lib_dir();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-waitset");
    std::fs::create_dir_all(&dir).expect("build directory");
    let program = dir.join("waitset");
    run(Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(repo().join("crates/memlink-ffi/include"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/waitset.c"))
        .arg("-o")
        .arg(&program)
        .arg("-L")
        .arg(&lib)
        .arg("-lmemlink")
        .arg("-pthread")
        .arg(format!("-Wl,-rpath,{}", lib.display())));
    let output = run_abi(&program, &unique("ws"));
    println!("{output}");
    assert!(output.contains("c waitset: 9 passed, 0 failed"), "{output}");
}
