//! The C# binding finds libmemlink without `LD_LIBRARY_PATH`: its test
//! suite, built with Mono's `mcs`, runs with `libmemlink.so` copied next to
//! the program and no library path in the environment (Mono probes the
//! assembly's directory). This is Mono only: the .NET SDK is not available
//! where these tests run, so the `runtimes/<rid>/native/` resolver for .NET
//! (see Memlink.cs) is compiled there only.
//!
//! Mono missing skips the test, loudly, unless `MEMLINK_REQUIRE_BINDINGS=1`.

mod support;

use std::path::Path;
use std::process::Command;

use support::{repo, run, works};

#[test]
fn csharp_suite_finds_the_library_next_to_the_program() {
    if !works("mcs") || !works("mono") {
        if std::env::var("MEMLINK_REQUIRE_BINDINGS").is_ok_and(|v| v == "1") {
            panic!("mono (mcs, mono) is not installed (MEMLINK_REQUIRE_BINDINGS=1)");
        }
        eprintln!("skipped: mono is not installed; .ci/bindings.sh installs it");
        return;
    }
    // The library this test binary's profile builds.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", "memlink-ffi", "--lib"])
        .current_dir(repo());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        build.env("CARGO_TARGET_DIR", target);
    }
    run(&mut build);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cs-no-library-path");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test directory");
    std::fs::copy(profile_dir.join("libmemlink.so"), dir.join("libmemlink.so"))
        .expect("copy libmemlink.so");
    let program = dir.join("binding-test.exe");
    run(Command::new("mcs")
        .args(["-nologo", "-warnaserror"])
        .arg(format!("-out:{}", program.display()))
        .arg(repo().join("bindings/csharp/Memlink.cs"))
        .arg(repo().join("bindings/csharp/tests/BindingTest.cs")));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let output = run(Command::new("mono")
        .arg(&program)
        .arg(format!("mltest-ffi-cslib-{}-{nanos:x}", std::process::id()))
        // Run from elsewhere, with no library path of any kind.
        .current_dir(std::env::temp_dir())
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("MEMLINK_LIBRARY")
        .env_remove("MONO_PATH"));
    let last = output.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{output}");
    println!("{last}");
}
