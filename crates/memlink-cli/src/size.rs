//! Human sizes on the command line: `4096`, `0x1000`, `4KiB`, `4k`, `1 MiB`.
//!
//! Twenty-odd lines do not justify a dependency, and owning the parser lets
//! the rules match what `memlink` prints: every size the CLI displays parses
//! back to the same number of bytes.
//!
//! Rules, chosen to match coreutils (`dd`, `truncate`, `head -c`), so that no
//! size means something different here than in the shell one line earlier:
//!
//! | suffix (any case)            | factor      |
//! |------------------------------|-------------|
//! | none, `B`                    | 1           |
//! | `K`, `KiB`  / `KB`           | 1024 / 1000 |
//! | `M`, `MiB`  / `MB`           | 1024² / 1000² |
//! | `G`, `GiB`  / `GB`           | 1024³ / 1000³ |
//! | `T`, `TiB`  / `TB`           | 1024⁴ / 1000⁴ |
//! | `P`, `PiB`  / `PB`           | 1024⁵ / 1000⁵ |
//!
//! A plain number may also be hexadecimal (`0x1000`), which is how offsets
//! are often written. Fractions are refused rather than rounded: a size that
//! silently loses bytes is worse than an error.

/// Binary units, smallest first; shared by the parser and [`format()`].
const BINARY_UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/// Parses a human size into bytes. The error is one line that names the
/// input and says what is accepted.
pub fn parse(text: &str) -> Result<u64, String> {
    let fail = |why: &str| format!("invalid size {text:?}: {why}");
    let trimmed = text.trim();
    if let Some(hex) = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail("expected hexadecimal digits after 0x"));
        }
        return u64::from_str_radix(hex, 16).map_err(|_| fail("too large"));
    }
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    if digits.is_empty() {
        return Err(fail(
            "expected a number of bytes, such as 4096, 4KiB or 1MiB",
        ));
    }
    let unit = unit.trim_start();
    if unit.starts_with(['.', ',']) {
        return Err(fail("fractions are not accepted; use a smaller unit"));
    }
    let factor = unit_factor(unit).ok_or_else(|| {
        fail(&format!(
            "unknown unit {unit:?} (use B, K/KiB, M/MiB, G/GiB, T/TiB, or KB, MB, GB, TB for powers of 1000)"
        ))
    })?;
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| fail("too large (more than 2^64 - 1 bytes)"))
}

/// The multiplier of a unit suffix, case-insensitively; `None` if unknown.
fn unit_factor(unit: &str) -> Option<u64> {
    if !unit.is_ascii() {
        return None;
    }
    let unit = unit.to_ascii_lowercase();
    if unit.is_empty() || unit == "b" {
        return Some(1);
    }
    let (letter, rest) = unit.split_at(1);
    let power = match letter {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    let base: u64 = match rest {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    Some(base.pow(power))
}

/// Formats a byte count exactly, in the largest binary unit that divides it
/// (`4 KiB`, `1536 KiB`, `5000 B`), so that the text parses back to the same
/// number.
pub fn format(bytes: u64) -> String {
    let mut value = bytes;
    let mut unit = "B";
    for name in BINARY_UNITS {
        if value == 0 || !value.is_multiple_of(1024) {
            break;
        }
        value /= 1024;
        unit = name;
    }
    format!("{value} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_hex_numbers() {
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse(" 4096 "), Ok(4096));
        assert_eq!(parse("4096B"), Ok(4096));
        assert_eq!(parse("0x1000"), Ok(4096));
        assert_eq!(parse("0XfF"), Ok(255));
    }

    #[test]
    fn binary_and_decimal_units() {
        assert_eq!(parse("4KiB"), Ok(4096));
        assert_eq!(parse("4kib"), Ok(4096));
        assert_eq!(parse("4k"), Ok(4096));
        assert_eq!(parse("4K"), Ok(4096));
        assert_eq!(parse("4KB"), Ok(4000));
        assert_eq!(parse("1MiB"), Ok(1 << 20));
        assert_eq!(parse("1M"), Ok(1 << 20));
        assert_eq!(parse("1 MiB"), Ok(1 << 20));
        assert_eq!(parse("1MB"), Ok(1_000_000));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("2g"), Ok(2 << 30));
        assert_eq!(parse("3TiB"), Ok(3 << 40));
        assert_eq!(parse("1PiB"), Ok(1 << 50));
        assert_eq!(parse("16383PiB"), Ok(16383 << 50));
    }

    #[test]
    fn errors_name_the_input_and_say_why() {
        for (text, why) in [
            ("", "expected a number"),
            ("KiB", "expected a number"),
            ("-1", "expected a number"),
            ("1.5MiB", "fractions"),
            ("4XB", "unknown unit \"XB\""),
            ("4 KiBs", "unknown unit"),
            ("4µ", "unknown unit \"µ\""),
            ("4é", "unknown unit"),
            ("1ñB", "unknown unit"),
            ("1Kñ", "unknown unit"),
            ("4Ki", "unknown unit"),
            ("0x", "hexadecimal"),
            ("0x1g", "hexadecimal"),
            ("18446744073709551616", "too large"),
            ("16384PiB", "too large"),
            ("0x10000000000000000", "too large"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(&format!("{text:?}")), "{err}");
            assert!(err.contains(why), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn format_is_exact_and_round_trips() {
        assert_eq!(format(0), "0 B");
        assert_eq!(format(1), "1 B");
        assert_eq!(format(5000), "5000 B");
        assert_eq!(format(4096), "4 KiB");
        assert_eq!(format(1536 * 1024), "1536 KiB");
        assert_eq!(format(1 << 20), "1 MiB");
        assert_eq!(format(2 << 30), "2 GiB");
        assert_eq!(format(1 << 60), "1024 PiB");
        for n in [0, 1, 1023, 1024, 4097, 1 << 20, 3 << 40, u64::MAX, 1 << 63] {
            assert_eq!(parse(&format(n)), Ok(n), "{n}");
        }
    }

    /// No input panics: each parses or fails with a one-line error.
    #[test]
    fn no_input_panics() {
        for text in crate::short_inputs::all() {
            if let Err(err) = parse(&text) {
                assert!(!err.contains('\n'), "{err}");
            }
        }
    }
}
