//! `--owner USER|UID`: trusting a name that another user created.
//!
//! By default memlink refuses a name whose owner is not this user (a name
//! planted by someone else). `--owner` trusts one user, not everyone: the
//! name is opened accepting a foreign owner, and the object actually opened
//! must belong to that user (or to us), checked on the opened object itself.

use crate::error::{CliResult, Failure};

/// Whose names to trust besides our own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trust {
    owner: Option<u32>,
}

impl Trust {
    /// Trust names owned by `owner` (`None`: only our own).
    pub fn new(owner: Option<u32>) -> Trust {
        Trust { owner }
    }

    /// Opens with `open(allow_foreign_owner)`: first as the library does by
    /// default (our own names only); if the name belongs to another user
    /// and `--owner` names one, again accepting a foreign owner, keeping the
    /// result only if what was opened belongs to that user (`owner_of`
    /// reads it from the opened object, so a name swapped meanwhile cannot
    /// slip through).
    pub fn open<T>(
        &self,
        open: impl Fn(bool) -> memlink::Result<T>,
        owner_of: impl Fn(&T) -> u32,
    ) -> memlink::Result<CliOpened<T>> {
        match (open(false), self.owner) {
            (Err(memlink::Error::ForeignOwner { .. }), Some(trusted)) => {
                let opened = open(true)?;
                let owner = owner_of(&opened);
                if owner == trusted {
                    Ok(CliOpened::Trusted(opened))
                } else {
                    Ok(CliOpened::Refused { owner, trusted })
                }
            }
            (result, _) => result.map(CliOpened::Trusted),
        }
    }
}

/// What [`Trust::open`] found.
pub enum CliOpened<T> {
    /// Ours, or the trusted user's.
    Trusted(T),
    /// Another user's than the one trusted.
    Refused { owner: u32, trusted: u32 },
}

impl<T> CliOpened<T> {
    /// The opened object, or the refusal as a failure naming `name`.
    pub fn or_refuse(self, name: &str) -> CliResult<T> {
        match self {
            CliOpened::Trusted(opened) => Ok(opened),
            CliOpened::Refused { owner, trusted } => Err(Failure::msg(format!(
                "{name} is owned by uid {owner}, not by uid {trusted} (--owner): refusing to trust it"
            ))),
        }
    }
}

/// Parses `--owner`: a numeric user id, or a user name from `/etc/passwd`.
pub fn parse_owner(text: &str) -> Result<u32, String> {
    if let Ok(uid) = text.parse::<u32>() {
        return Ok(uid);
    }
    if cfg!(windows) {
        return Err("owners are accounts (SIDs) on Windows: give a numeric id".into());
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| format!("cannot read /etc/passwd to look up user {text:?}: {e}"))?;
    uid_of(&passwd, text).ok_or_else(|| {
        format!("no user {text:?} in /etc/passwd (for users known only to a directory service, give the numeric uid)")
    })
}

/// The uid of `user` in the text of an `/etc/passwd`.
fn uid_of(passwd: &str, user: &str) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == user).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_uids_or_names_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/sbin/nologin\n";
        assert_eq!(uid_of(passwd, "nobody"), Some(65534));
        assert_eq!(uid_of(passwd, "root"), Some(0));
        assert_eq!(uid_of(passwd, "nobod"), None);
        assert_eq!(uid_of("broken line\n:x:\n", "broken line"), None);
        assert_eq!(parse_owner("1000"), Ok(1000));
        assert!(parse_owner("no-such-user-here")
            .unwrap_err()
            .contains("no user"));
    }

    #[test]
    fn only_the_trusted_owner_passes() {
        let foreign = |owner: u32| {
            move |allow: bool| {
                if allow {
                    Ok(owner)
                } else {
                    Err(memlink::Error::ForeignOwner {
                        name: "Global\\x".into(),
                        owner,
                        me: 1,
                    })
                }
            }
        };
        let trust = Trust::new(Some(1234));
        let opened = trust.open(foreign(1234), |o| *o).unwrap();
        assert_eq!(opened.or_refuse("x").unwrap(), 1234);
        let refused = trust.open(foreign(4321), |o| *o).unwrap();
        let refused = refused.or_refuse("x").unwrap_err().to_string();
        assert!(
            refused.contains("4321") && refused.contains("1234"),
            "{refused}"
        );
        // Without --owner the library's refusal stands.
        assert!(Trust::default().open(foreign(4321), |o| *o).is_err());
        // Our own names never need --owner.
        let ours = trust.open(|_| Ok(1u32), |o| *o).unwrap();
        assert_eq!(ours.or_refuse("x").unwrap(), 1);
    }
}
