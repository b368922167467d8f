//! Names of memlink objects and their two namespaces.
//!
//! A name is written the Windows way: `Global\NAME`, `Local\NAME`, or a bare
//! `NAME`, which means `Local\NAME`. The prefixes are matched without regard
//! to case, as Windows does.
//!
//! * **Global** names are machine-wide. On Linux and macOS, `Global\NAME` is
//!   exactly the POSIX shared-memory name `/NAME`, so programs that call
//!   `shm_open("/NAME")` directly share it with memlink in both directions.
//! * **Local** names belong to the current user: two users who both open
//!   `Local\NAME` reach two different objects. How each OS places them is
//!   documented in the platform layer and the README.
//!
//! The part after the prefix must be 1 to [`Name::MAX_LEN`] bytes of UTF-8,
//! without `/`, `\`, NUL or other control characters, without invisible
//! format characters (Unicode category Cf: bidirectional overrides, zero-width
//! spaces, ...), and must not be `.` or `..`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Whether `c` is in Unicode general category Cf (format characters:
/// bidirectional overrides and isolates, zero-width spaces and joiners, the
/// soft hyphen, tags, ...), which render invisibly or reorder the text around
/// them, so that `memlink ls` could show one name looking like another.
fn is_format_char(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Which namespace a name lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// Scoped to the current user (`Local\`, or no prefix).
    Local,
    /// Machine-wide (`Global\`); the plain POSIX shared-memory name on Unix.
    Global,
}

impl Namespace {
    /// The prefix that selects this namespace, without the backslash.
    pub fn prefix(self) -> &'static str {
        match self {
            Namespace::Local => "Local",
            Namespace::Global => "Global",
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// A validated memlink name: a namespace and a base name.
///
/// ```
/// use memlink::{Name, Namespace};
///
/// let name: Name = "Global\\MyFileMappingObject".parse()?;
/// assert_eq!(name.namespace(), Namespace::Global);
/// assert_eq!(name.base(), "MyFileMappingObject");
///
/// let bare: Name = "scratch".parse()?;
/// assert_eq!(bare.to_string(), "Local\\scratch");
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    namespace: Namespace,
    base: String,
}

impl Name {
    /// The longest base name accepted, in bytes (the Linux file-name limit).
    pub const MAX_LEN: usize = 255;

    /// Parses and validates a name such as `Global\demo`, `Local\demo` or
    /// `demo`.
    pub fn parse(text: &str) -> Result<Name> {
        let invalid = |reason| Error::InvalidName {
            name: text.to_owned(),
            reason,
        };
        let (namespace, base) = match text.split_once('\\') {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("Global") => {
                (Namespace::Global, rest)
            }
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("Local") => {
                (Namespace::Local, rest)
            }
            Some(_) => {
                return Err(invalid(
                    "a backslash may only follow the prefix `Global` or `Local`",
                ))
            }
            None => (Namespace::Local, text),
        };
        if base.is_empty() {
            return Err(invalid("the name after the prefix is empty"));
        }
        if base.len() > Self::MAX_LEN {
            return Err(invalid(
                "the name after the prefix is longer than 255 bytes",
            ));
        }
        if base.contains('\\') {
            return Err(invalid("`\\` is not allowed after the prefix"));
        }
        if base.contains('/') {
            return Err(invalid("`/` is not allowed in a name"));
        }
        if base.contains('\0') {
            return Err(invalid("NUL is not allowed in a name"));
        }
        if base.chars().any(char::is_control) {
            return Err(invalid("control characters are not allowed in a name"));
        }
        if base.chars().any(is_format_char) {
            return Err(invalid(
                "invisible format characters (such as bidirectional overrides or \
                 zero-width spaces, Unicode category Cf) are not allowed in a name: \
                 they make one name look like another in listings",
            ));
        }
        if base == "." || base == ".." {
            return Err(invalid("`.` and `..` are not names"));
        }
        Ok(Name {
            namespace,
            base: base.to_owned(),
        })
    }

    /// The namespace the name lives in.
    pub fn namespace(&self) -> Namespace {
        self.namespace
    }

    /// The part after the prefix.
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl FromStr for Name {
    type Err = Error;

    fn from_str(text: &str) -> Result<Name> {
        Name::parse(text)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\\{}", self.namespace, self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_characters_are_refused() {
        for c in [
            '\u{202E}', '\u{200B}', '\u{200F}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{AD}',
        ] {
            let text = format!("Global\\ab{c}cd");
            match Name::parse(&text) {
                Err(Error::InvalidName { reason, .. }) => {
                    assert!(reason.contains("format characters"), "{c:?}: {reason}")
                }
                other => panic!("{c:?} accepted: {other:?}"),
            }
        }
        assert!(Name::parse("caf\u{E9}-\u{65E5}\u{672C}").is_ok());
    }

    #[test]
    fn prefixes_select_the_namespace() {
        let global = Name::parse("Global\\a").unwrap();
        assert_eq!(
            (global.namespace(), global.base()),
            (Namespace::Global, "a")
        );
        let local = Name::parse("Local\\a").unwrap();
        assert_eq!((local.namespace(), local.base()), (Namespace::Local, "a"));
        let bare = Name::parse("a").unwrap();
        assert_eq!(bare, local);
        assert_eq!(Name::parse("gLoBaL\\a").unwrap(), global);
    }

    #[test]
    fn display_round_trips() {
        for text in ["Global\\x.y-z", "Local\\MyFileMappingObject", "Local\\ü"] {
            assert_eq!(Name::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_names_say_why() {
        let cases = [
            ("", "empty"),
            ("Global\\", "empty"),
            ("Local\\", "empty"),
            ("Global\\a\\b", "backslash"),
            ("Other\\a", "prefix"),
            ("a/b", "`/`"),
            ("Global\\a/b", "`/`"),
            ("a\0b", "NUL"),
            ("a\nb", "control"),
            (".", "not names"),
            ("Global\\..", "not names"),
        ];
        for (text, why) in cases {
            match Name::parse(text) {
                Err(Error::InvalidName { name, reason }) => {
                    assert_eq!(name, text);
                    let full = format!("{reason} backslash prefix");
                    assert!(
                        reason.contains(why) || (why == "backslash" && full.contains(why)),
                        "{text:?}: {reason}"
                    );
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn length_limit_is_exact() {
        let ok = "n".repeat(Name::MAX_LEN);
        assert!(Name::parse(&ok).is_ok());
        assert!(Name::parse(&format!("Global\\{ok}")).is_ok());
        let long = "n".repeat(Name::MAX_LEN + 1);
        assert!(matches!(Name::parse(&long), Err(Error::InvalidName { .. })));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepted_names_are_clean(text in "\\PC{0,300}") {
            if let Ok(name) = Name::parse(&text) {
                let base = name.base();
                prop_assert!(!base.is_empty() && base.len() <= Name::MAX_LEN);
                prop_assert!(!base.contains(['/', '\\', '\0']));
                prop_assert_eq!(Name::parse(&name.to_string()).unwrap(), name);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(text in any::<String>()) {
            let _ = Name::parse(&text);
        }
    }
}
