//! Files that state the library's version outside Cargo.toml (the CMake
//! package's version file, the C# package project) say the same version.

use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let len = text[from..].find(end).expect("the end marker");
    &text[from..from + len]
}

#[test]
fn cmake_package_version_is_the_crate_version() {
    let text = read("cmake/memlinkConfigVersion.cmake");
    assert_eq!(
        between(&text, "set(PACKAGE_VERSION \"", "\")"),
        env!("CARGO_PKG_VERSION")
    );
    // Before 1.0 a minor version is an ABI: the file accepts this one only.
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    assert!(
        env!("CARGO_PKG_VERSION_MAJOR") != "0"
            || text.contains(&format!("PACKAGE_FIND_VERSION_MINOR EQUAL {minor}")),
        "memlinkConfigVersion.cmake does not accept 0.{minor}"
    );
}

#[test]
fn csharp_package_version_is_the_crate_version() {
    let text = read("../../bindings/csharp/Memlink.csproj");
    assert_eq!(
        between(&text, "<Version>", "</Version>"),
        env!("CARGO_PKG_VERSION")
    );
}
