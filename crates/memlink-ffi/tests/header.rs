//! The committed C header must be what cbindgen makes of the sources today.
//!
//! Run with `MEMLINK_BLESS=1` to rewrite `include/memlink.h` after changing
//! the C API.

use std::path::Path;

#[test]
fn committed_header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("the header is UTF-8");

    let path = crate_dir.join("include").join("memlink.h");
    if std::env::var_os("MEMLINK_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("include/memlink.h is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_owned(), |n| format!("line {}", n + 1));
        panic!(
            "{} is out of date (first difference at {line}); regenerate it with\n  \
             MEMLINK_BLESS=1 cargo test -p memlink-ffi --test header",
            path.display()
        );
    }
}
