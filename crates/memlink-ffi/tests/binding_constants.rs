//! The C# binding's numeric lists (error codes, access modes, channel kinds,
//! wait strategies, event kinds, object kinds) are checked against the C
//! ABI's constants in the generated header, which `tests/header.rs` checks
//! against the sources: a code added to or renumbered in the ABI and not in
//! C# fails here. (C++ has no list of its own: memlink.hpp uses the
//! header's ML_* constants directly. Python's list is checked by its own
//! binding.)

use std::collections::BTreeMap;
use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `#define ML_... <integer>` of the header.
fn header_constants() -> BTreeMap<String, i64> {
    read("include/memlink.h")
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.split_whitespace();
            let (name, value) = (words.next()?, words.next()?);
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The members of C# `enum NAME { Member = value, ... }` in Memlink.cs.
fn csharp_enum(source: &str, name: &str) -> BTreeMap<String, i64> {
    let start = source
        .find(&format!("enum {name}"))
        .unwrap_or_else(|| panic!("Memlink.cs has no enum {name}"));
    let body = &source[start..];
    let open = body.find('{').expect("enum body") + 1;
    let close = body.find('}').expect("enum end");
    body[open..close]
        .split(',')
        .filter_map(|member| {
            let member: String = member
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join(" ");
            let (key, value) = member.split_once('=')?;
            let value = value.trim();
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("enum {name}: {key} = {value} is not a plain integer"));
            Some((key.trim().to_owned(), value))
        })
        .collect()
}

/// `NotRecoverable` → `NOT_RECOVERABLE`.
fn upper_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Checks that C# enum `name` has exactly the header's constants that start
/// with `prefix`, member by member (`rename` maps a C# member to its
/// constant when the plain rule does not).
fn same_list(name: &str, prefix: &str, rename: &[(&str, &str)]) {
    let source = read("../../bindings/csharp/Memlink.cs");
    let header = header_constants();
    let want: BTreeMap<String, i64> = header
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), *v))
        .chain(rename.iter().map(|(_, c)| (c.to_string(), header[*c])))
        .collect();
    let got: BTreeMap<String, i64> = csharp_enum(&source, name)
        .into_iter()
        .map(|(member, value)| {
            let constant = rename.iter().find(|(m, _)| *m == member).map_or_else(
                || format!("{prefix}{}", upper_snake(&member)),
                |(_, c)| c.to_string(),
            );
            (constant, value)
        })
        .collect();
    assert!(!want.is_empty(), "the header has no {prefix}* constants");
    assert_eq!(
        got, want,
        "C# enum {name} (left) differs from the header's {prefix}* constants (right)"
    );
}

#[test]
fn csharp_error_codes_are_the_c_abi_codes() {
    same_list("ErrorCode", "ML_ERR_", &[("Ok", "ML_OK")]);
}

#[test]
fn csharp_enumerations_are_the_c_abi_values() {
    same_list("MemoryAccess", "ML_ACCESS_", &[]);
    same_list("ChannelKind", "ML_CHANNEL_", &[]);
    same_list("WaitStrategy", "ML_WAIT_", &[]);
    same_list("Readiness", "ML_READY_", &[]);
    same_list("ObjectKind", "ML_OBJECT_", &[]);
}

#[test]
fn the_checker_sees_a_difference() {
    // The parser must not find everything equal by finding nothing.
    let source = "enum E { A = 1, // one\n BeeCee = 2, }";
    let members = csharp_enum(source, "E");
    assert_eq!(members.len(), 2);
    assert_eq!(members["BeeCee"], 2);
    assert_eq!(upper_snake("BeeCee"), "BEE_CEE");
    assert!(header_constants()["ML_ERR_NOT_RECOVERABLE"] == 21);
}
