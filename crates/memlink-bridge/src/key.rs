//! Channel names and Zenoh key expressions.
//!
//! A channel's default key is `PREFIX/CHUNK` (prefix `memlink`), where CHUNK
//! is the channel's name made into one valid key-expression chunk:
//!
//! * `Local\NAME` is the same channel as `NAME` (memlink's default
//!   namespace), so both become `NAME`; `Global\NAME` keeps its prefix,
//!   spelled `Global\` whatever its case.
//! * The bytes that mean something in a key expression, and `%` itself, are
//!   percent-encoded: `%` `%25`, `\` `%5C`, `/` `%2F`, `*` `%2A`, `$` `%24`,
//!   `?` `%3F`, `#` `%23`, and a leading `@` (a verbatim chunk) `%40`.
//!
//! [`channel_of`] undoes it: `memlink/orders` is `orders` and
//! `memlink/Global%5Corders` is `Global\orders`.

use std::fmt;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "memlink";

/// Why a key or a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// The canonical spelling of a channel name: `Local\` dropped, `Global\`
/// spelled so. The name is validated as memlink validates it.
pub fn canonical_name(name: &str) -> Result<String, KeyError> {
    memlink::Name::parse(name).map_err(|e| KeyError(e.to_string()))?;
    let (prefix, rest) = match name.find('\\') {
        Some(at) => (&name[..at], &name[at + 1..]),
        None => ("", name),
    };
    Ok(if prefix.eq_ignore_ascii_case("global") {
        format!("Global\\{rest}")
    } else {
        rest.to_owned()
    })
}

/// The one key-expression chunk that stands for a channel name.
pub fn chunk_of(name: &str) -> Result<String, KeyError> {
    let name = canonical_name(name)?;
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        match c {
            '%' => out.push_str("%25"),
            '\\' => out.push_str("%5C"),
            '/' => out.push_str("%2F"),
            '*' => out.push_str("%2A"),
            '$' => out.push_str("%24"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            '@' if i == 0 => out.push_str("%40"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The default key of a channel: `PREFIX/CHUNK`.
pub fn default_key(prefix: &str, name: &str) -> Result<String, KeyError> {
    let key = format!("{prefix}/{}", chunk_of(name)?);
    check_key(&key)?;
    Ok(key)
}

/// The channel name a default key stands for (the inverse of
/// [`default_key`] for the same prefix).
pub fn channel_of(prefix: &str, key: &str) -> Result<String, KeyError> {
    let chunk = key
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|chunk| !chunk.is_empty() && !chunk.contains('/'))
        .ok_or_else(|| KeyError(format!("key {key:?} is not {prefix}/<one chunk>")))?;
    let bytes = chunk.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = chunk
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| KeyError(format!("key {key:?}: bad escape at byte {i}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let name = String::from_utf8(out).map_err(|_| KeyError(format!("key {key:?}: not UTF-8")))?;
    canonical_name(&name)
}

/// Checks that `key` is a valid Zenoh key expression naming one resource:
/// no wildcards, no empty chunk, no verbatim (`@`) chunk, which memlink
/// reserves for its liveliness tokens.
pub fn check_key(key: &str) -> Result<(), KeyError> {
    let parsed = zenoh::key_expr::KeyExpr::try_from(key)
        .map_err(|e| KeyError(format!("{key:?} is not a valid Zenoh key expression: {e}")))?;
    if parsed.is_wild() {
        return Err(KeyError(format!(
            "{key:?} has wildcards; a bridged channel needs one concrete key"
        )));
    }
    if key.split('/').any(|chunk| chunk.starts_with('@')) {
        return Err(KeyError(format!(
            "{key:?} has a chunk starting with '@'; those are reserved"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_keys() {
        for (name, key, back) in [
            ("orders", "memlink/orders", "orders"),
            ("Local\\orders", "memlink/orders", "orders"),
            (
                "global\\orders",
                "memlink/Global%5Corders",
                "Global\\orders",
            ),
            (
                "a*b$c?d#e%f",
                "memlink/a%2Ab%24c%3Fd%23e%25f",
                "a*b$c?d#e%f",
            ),
            ("@x@y", "memlink/%40x@y", "@x@y"),
            ("ünï côdé", "memlink/ünï côdé", "ünï côdé"),
        ] {
            assert_eq!(default_key(DEFAULT_PREFIX, name).unwrap(), key, "{name}");
            assert_eq!(channel_of(DEFAULT_PREFIX, key).unwrap(), back, "{key}");
        }
    }

    #[test]
    fn bad_names_and_keys_are_refused_with_a_reason() {
        assert!(default_key(DEFAULT_PREFIX, "a/b").is_err());
        assert!(default_key(DEFAULT_PREFIX, "").is_err());
        assert!(check_key("memlink/*").unwrap_err().0.contains("wildcards"));
        assert!(check_key("memlink//x").is_err());
        assert!(check_key("memlink/x?").is_err());
        assert!(check_key("memlink/@live")
            .unwrap_err()
            .0
            .contains("reserved"));
        assert!(channel_of(DEFAULT_PREFIX, "memlink/a%zz").is_err());
        assert!(channel_of(DEFAULT_PREFIX, "other/a").is_err());
    }
}
