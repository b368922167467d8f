//! Fuzzing on stable Rust, in CI: proptest feeds random inputs to the
//! segment fuzz case (`hardening/segment.rs`, shared with the cargo-fuzz
//! target in `fuzz/`) and to name parsing. `MEMLINK_FUZZ_CASES` scales the
//! run (default 400 segments and 4000 names, a few seconds).
//!
//! A watchdog fails the run if one case takes longer than 20 s: a hostile
//! segment must never make memlink hang.

mod hardening;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memlink::{Mapping, Name};
use proptest::prelude::*;

fn cases(default: u32) -> u32 {
    std::env::var("MEMLINK_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(|n: u32| n.max(1))
        .unwrap_or(default)
}

/// Aborts the process when no case has finished for 20 s.
fn watchdog() -> &'static AtomicU64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(500));
            let start = *START.get().expect("set before the thread runs");
            let last = Duration::from_millis(LAST.load(Ordering::Relaxed));
            if start.elapsed().saturating_sub(last) > Duration::from_secs(20) {
                // Straight to the file: the harness would swallow eprintln.
                use std::io::Write;
                let input = CURRENT.lock().map(|c| c.clone()).unwrap_or_default();
                let _ = writeln!(std::io::stderr(), "a fuzz case hung for 20 s: {input:?}");
                std::process::abort();
            }
        });
        Instant::now()
    });
    LAST.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    &LAST
}

/// The segment case running now, for the watchdog's report.
static CURRENT: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

fn tick() {
    watchdog();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(400), failure_persistence: None, ..ProptestConfig::default() })]

    /// Corrupted, truncated or hostile channel segments: errors or messages,
    /// never a panic, a hang or a crash.
    #[test]
    fn fuzz_segments(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        tick();
        if let Ok(mut current) = CURRENT.lock() {
            current.clone_from(&data);
        }
        hardening::segment::exercise(&data);
        tick();
    }
}

/// Pieces that names are made of, the awkward ones overrepresented.
fn name_text() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just(""),
        Just("Global\\"),
        Just("Local\\"),
        Just("gLoBaL\\"),
        Just("Other\\"),
        Just("\\"),
        Just("Global\\\\"),
        Just("Global/"),
    ];
    let piece = prop_oneof![
        Just(".".to_string()),
        Just("..".to_string()),
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("\0".to_string()),
        Just("\n".to_string()),
        Just("ü".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{7f}".to_string()),
        "[a-z0-9._-]{1,8}",
        "\\PC{1,4}",
        any::<char>().prop_map(String::from),
    ];
    (prefix, proptest::collection::vec(piece, 0..6), 0usize..300).prop_map(|(p, pieces, pad)| {
        let mut text = format!("{p}{}", pieces.concat());
        if pad > 250 {
            text.push_str(&"n".repeat(pad));
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(4000), failure_persistence: None, ..ProptestConfig::default() })]

    /// Name parsing never panics; an accepted name is clean, round-trips
    /// and can be asked about without panicking.
    #[test]
    fn fuzz_names(text in name_text()) {
        tick();
        if let Ok(name) = Name::parse(&text) {
            let base = name.base();
            prop_assert!(!base.is_empty() && base.len() <= Name::MAX_LEN);
            prop_assert!(!base.contains(['/', '\\', '\0']));
            prop_assert!(base != "." && base != "..");
            prop_assert!(!base.chars().any(char::is_control));
            prop_assert_eq!(Name::parse(&name.to_string()).unwrap(), name);
        }
        // Every entry point that takes a name answers without panicking.
        let _ = Mapping::inspect(&text);
        let _ = Mapping::open(&text);
    }
}

/// Inputs the fuzzers found problems with, kept as regression tests.
#[test]
fn fuzz_regressions() {
    let found: &[&[u8]] = &[
        // A lossy broadcast segment whose `tail` is 2^62 past `oldest`: the
        // sender walked the records in between, one by one, ~forever.
        &[
            68, 150, 69, 56, 105, 69, 44, 154, 169, 155, 99, 99, 250, 115, 214, 192, 149, 148, 40,
            6, 9, 46, 127, 255, 117, 135, 156, 86, 127, 185, 195, 69, 67, 166, 58, 27, 17, 49, 46,
            234, 42, 154, 54, 12, 221, 147, 212, 164, 155, 20, 199, 89, 38, 141, 69, 67, 37, 211,
            248, 108, 90, 59, 235, 135, 206, 100, 129, 234, 253, 106, 195,
        ],
        // A tail near 2^64: the padding step overflowed (a panic in debug
        // builds).
        &[
            140, 13, 167, 0, 0, 151, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 224, 0, 0, 1, 0, 0,
            0, 0, 1, 0, 56, 0, 0, 1, 0, 56, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 56, 0, 0, 0, 0, 0, 1,
            0, 55, 0, 0, 0, 0, 0, 0, 0, 0, 236, 0, 113, 104, 170, 105,
        ],
    ];
    for data in found {
        tick();
        hardening::segment::exercise(data);
    }
    tick();
}
