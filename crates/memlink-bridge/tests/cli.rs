//! `memlink bridge ...` runs the `memlink-bridge` found beside `memlink`
//! (or on PATH), and says clearly when there is none.

mod support;

use std::path::PathBuf;
use std::process::Command;

fn memlink() -> PathBuf {
    support::memlink_cli()
}

#[test]
fn memlink_bridge_runs_the_bridge_beside_it() {
    let out = Command::new(memlink())
        .args(["bridge", "--version"])
        .env("PATH", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("memlink-bridge "), "{text}");
    // Its exit code is passed on: a route that cannot be bridged is 2.
    let out = Command::new(memlink())
        .args(["bridge", "--no-scouting", "--export", "a/b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("export \"a/b\""),
        "{out:?}"
    );
}

#[test]
fn memlink_bridge_without_the_bridge_says_how_to_get_it() {
    let dir = std::env::temp_dir().join(format!("memlink-alone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let alone = dir.join("memlink");
    std::fs::copy(memlink(), &alone).unwrap();
    let out = Command::new(&alone)
        .args(["bridge", "--export", "x"])
        .env("PATH", "")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memlink-bridge is not installed"), "{err}");
    assert!(
        err.contains("cargo build --release -p memlink-bridge"),
        "{err}"
    );
}
