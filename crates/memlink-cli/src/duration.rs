//! Human durations on the command line: `500ms`, `2s`, `1.5s`, `1m`, `250us`.
//!
//! Like [`size`](crate::size), a few lines of our own rather than a
//! dependency, so that every duration the CLI prints parses back.
//!
//! | suffix            | unit         |
//! |-------------------|--------------|
//! | `ns`              | nanoseconds  |
//! | `us`, `µs`        | microseconds |
//! | `ms`              | milliseconds |
//! | `s`, none         | seconds (as `timeout 5` and `sleep 5` read it) |
//! | `m`, `min`        | minutes      |
//! | `h`               | hours        |
//!
//! A decimal fraction is allowed (`1.5s`, `0.25m`) as long as it comes out
//! to whole nanoseconds; anything finer is refused rather than rounded.

use std::time::Duration;

/// Parses a human duration. The error is one line that names the input and
/// says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let fail = |why: &str| format!("invalid duration {text:?}: {why}");
    let trimmed = text.trim();
    let number_end = trimmed
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(fail(
            "expected a number with a unit, such as 500ms, 2s or 1m",
        ));
    }
    if fraction.contains('.') {
        return Err(fail("more than one decimal point"));
    }
    let nanos_per_unit: u128 = match unit.trim_start() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(fail(&format!(
                "unknown unit {other:?} (use ns, us, ms, s, m or h)"
            )))
        }
    };
    // Exact arithmetic in nanoseconds: whole * unit + fraction * unit / 10^k.
    let too_large = || fail("too large");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut nanos = whole.checked_mul(nanos_per_unit).ok_or_else(too_large)?;
    if !fraction.is_empty() {
        if fraction.len() > 18 {
            return Err(fail("finer than a nanosecond"));
        }
        let digits: u128 = fraction.parse().map_err(|_| fail("bad fraction"))?;
        let scale = 10u128.pow(fraction.len() as u32);
        let scaled = digits * nanos_per_unit;
        if !scaled.is_multiple_of(scale) {
            return Err(fail("finer than a nanosecond"));
        }
        nanos = nanos.checked_add(scaled / scale).ok_or_else(too_large)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_large())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Formats a duration in the largest unit that keeps it exact, so that it
/// parses back: `500ms`, `2s`, `1m`, `1500ms`, `250us`.
pub fn format(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    for (unit, size) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos >= size && nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    if nanos >= 1_000_000_000 {
        // Not whole seconds: decimal seconds, still exact.
        let text = format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
        return format!("{}s", text.trim_end_matches('0'));
    }
    format!("{nanos}ns")
}

/// A measured duration for people: three significant digits in a fitting
/// unit (`3.21 µs`, `45.6 ms`, `1.20 s`). Not meant to parse back.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    let (value, unit) = if secs >= 1.0 {
        (secs, "s")
    } else if secs >= 1e-3 {
        (secs * 1e3, "ms")
    } else if secs >= 1e-6 {
        (secs * 1e6, "µs")
    } else {
        (secs * 1e9, "ns")
    };
    format!("{} {unit}", three_digits(value))
}

/// A positive number with three significant digits: `1.23`, `12.3`, `123`.
pub fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn units() {
        assert_eq!(parse("500ms"), Ok(ms(500)));
        assert_eq!(parse("2s"), Ok(ms(2000)));
        assert_eq!(parse("2"), Ok(ms(2000)));
        assert_eq!(parse("1m"), Ok(ms(60_000)));
        assert_eq!(parse("1min"), Ok(ms(60_000)));
        assert_eq!(parse("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse(" 3 s "), Ok(ms(3000)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn fractions_are_exact() {
        assert_eq!(parse("1.5s"), Ok(ms(1500)));
        assert_eq!(parse(".5s"), Ok(ms(500)));
        assert_eq!(parse("0.25m"), Ok(ms(15_000)));
        assert_eq!(parse("1.000000001s"), Ok(Duration::new(1, 1)));
        assert_eq!(parse("2.5ms"), Ok(Duration::from_micros(2500)));
    }

    #[test]
    fn errors_name_the_input_and_say_why() {
        for (text, why) in [
            ("", "expected a number"),
            ("ms", "expected a number"),
            ("-1s", "expected a number"),
            ("5 parsecs", "unknown unit \"parsecs\""),
            ("5S", "unknown unit"),
            ("1.2.3s", "decimal point"),
            ("1.5ns", "finer than a nanosecond"),
            ("0.0000000001s", "finer than a nanosecond"),
            ("99999999999999999999999h", "too large"),
            ("18446744073709551616s", "too large"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(&format!("{text:?}")), "{err}");
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn format_is_exact_and_round_trips() {
        assert_eq!(format(ms(500)), "500ms");
        assert_eq!(format(ms(2000)), "2s");
        assert_eq!(format(ms(60_000)), "1m");
        assert_eq!(format(ms(1500)), "1500ms");
        assert_eq!(format(Duration::new(1, 1)), "1.000000001s");
        assert_eq!(format(Duration::from_micros(250)), "250us");
        assert_eq!(format(Duration::from_nanos(7)), "7ns");
        assert_eq!(format(Duration::ZERO), "0ns");
        for d in [
            Duration::ZERO,
            Duration::new(1, 1),
            ms(1),
            ms(90_000),
            Duration::new(7200, 0),
            Duration::new(12_345, 678_900_000),
            Duration::from_nanos(999),
        ] {
            assert_eq!(parse(&format(d)), Ok(d), "{d:?}");
        }
    }

    #[test]
    fn human_has_three_digits() {
        assert_eq!(human(Duration::from_nanos(3210)), "3.21 µs");
        assert_eq!(human(Duration::from_micros(45_600)), "45.6 ms");
        assert_eq!(human(ms(1200)), "1.20 s");
        assert_eq!(human(Duration::from_nanos(512)), "512 ns");
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
