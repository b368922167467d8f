//! Corrupted, truncated or hostile channel segments (see the shared case in
//! crates/memlink/tests/hardening/segment.rs).
#![no_main]

#[path = "../../crates/memlink/tests/hardening/segment.rs"]
mod segment;

libfuzzer_sys::fuzz_target!(|data: &[u8]| segment::exercise(data));
