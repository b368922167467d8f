//! Name parsing: never a panic; accepted names are clean and round-trip.
#![no_main]

use memlink::Name;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = Name::parse(text) {
        let base = name.base();
        assert!(!base.is_empty() && base.len() <= Name::MAX_LEN);
        assert!(!base.contains(['/', '\\', '\0']) && base != "." && base != "..");
        assert!(!base.chars().any(char::is_control));
        assert_eq!(Name::parse(&name.to_string()).unwrap(), name);
    }
});
