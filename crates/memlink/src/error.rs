//! The one error type of memlink.
//!
//! Every fallible call returns [`Error`]. Each variant carries what a person
//! needs to act on it: the name of the mapping, the size, offset or access
//! involved, and the operating-system error where there is one. Each variant
//! also has a stable numeric [`ErrorCode`], which is what crosses the C ABI
//! and becomes an exception type in C#.

use std::io;
use std::path::PathBuf;

use crate::types::Access;

/// A `Result` whose error is memlink's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in memlink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name is not a valid memlink name.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// An argument other than a name is out of its domain (a mode with bits
    /// beyond `0o777`, a zero length, ...).
    #[error("invalid argument: {what}")]
    InvalidArgument {
        /// What was wrong, in words.
        what: String,
    },

    /// `create` found the name already in use.
    #[error("mapping {name} already exists")]
    AlreadyExists {
        /// The mapping's name.
        name: String,
    },

    /// `open` found no live mapping of that name.
    #[error("mapping {name} does not exist")]
    NotFound {
        /// The mapping's name.
        name: String,
    },

    /// The operating system refused the access (file permissions, another
    /// user's object, a missing privilege).
    #[error("permission denied: cannot {operation} {name} for {access}")]
    PermissionDenied {
        /// The mapping's name (or the path of a backing file).
        name: String,
        /// What was being done: `open`, `create`, `remove`, ...
        operation: &'static str,
        /// The access that was asked for.
        access: Access,
    },

    /// The object behind the name belongs to another user, and the caller did
    /// not allow that (see `MappingOptions::allow_foreign_owner`).
    #[error(
        "mapping {name} is owned by uid {owner}, not by this user (uid {me}); refusing to trust it"
    )]
    ForeignOwner {
        /// The mapping's name.
        name: String,
        /// The user id that owns the object.
        owner: u32,
        /// The effective user id of this process.
        me: u32,
    },

    /// A size of zero was asked for where it cannot mean anything: a
    /// memory-backed mapping of 0 bytes, or size 0 ("the file's size") with an
    /// empty file. The article's `ERROR_FILE_INVALID`.
    #[error("mapping {name} would have size 0: {reason}")]
    ZeroSize {
        /// The mapping's name.
        name: String,
        /// Why the size came out as zero.
        reason: &'static str,
    },

    /// The system cannot back the requested size: the shared-memory file
    /// system is full, a quota or limit was hit, or the size is absurd.
    #[error("cannot back mapping {name} with {size} bytes: {source}")]
    NoSpace {
        /// The mapping's name.
        name: String,
        /// The requested size in bytes.
        size: u64,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The requested access is not possible with what was given: a
    /// read-write mapping of a read-only file, or a writable view of a
    /// read-only mapping.
    #[error("{what} of {name} was opened for {granted}, cannot use it for {requested}")]
    AccessMismatch {
        /// The mapping's name (or the path of a backing file).
        name: String,
        /// What carries the narrower access: `file`, `mapping`, `view`.
        what: &'static str,
        /// The access that was asked for.
        requested: Access,
        /// The access that is actually available.
        granted: Access,
    },

    /// An offset or length falls outside a mapping or view.
    #[error("range {offset}..{offset}+{len} is outside {name} (size {size})")]
    OutOfRange {
        /// The mapping's name.
        name: String,
        /// The first byte asked for.
        offset: u64,
        /// The number of bytes asked for.
        len: u64,
        /// The size of the mapping or view.
        size: u64,
    },

    /// The name exists but is another kind of object than the one asked for
    /// (the article's `ERROR_INVALID_HANDLE`).
    #[error("{name} is a {found}, not a {expected}")]
    WrongKind {
        /// The object's name.
        name: String,
        /// The kind that was asked for.
        expected: &'static str,
        /// The kind that was found.
        found: &'static str,
    },

    /// The name stayed in transition (being removed or reclaimed by another
    /// process) for longer than memlink is willing to wait.
    #[error("mapping {name} stayed busy (being created or removed by another process)")]
    Busy {
        /// The mapping's name.
        name: String,
    },

    /// The backing file could not be used.
    #[error("backing file {path}: {source}")]
    File {
        /// The backing file's path.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The operation is not available on this platform or for this kind of
    /// mapping.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What is not supported, in words.
        what: String,
    },

    /// A shared segment holds something no correct peer would write: a bad
    /// header, an index out of range, a record that does not fit.
    #[error("{name} is corrupt: {what}")]
    Corrupt {
        /// The object's name.
        name: String,
        /// What was found, in words.
        what: String,
    },

    /// The other side of a channel is gone (closed, or its process died) and
    /// nothing is left to receive.
    #[error("channel {name} is disconnected: no {peer} is attached any more")]
    Disconnected {
        /// The channel's name.
        name: String,
        /// Which side is missing: `sender` or `receiver`.
        peer: &'static str,
    },

    /// A blocking call reached its deadline.
    #[error("{operation} on {name} timed out after {after:?}")]
    Timeout {
        /// The object's name.
        name: String,
        /// What was being waited for.
        operation: &'static str,
        /// The time allowed.
        after: std::time::Duration,
    },

    /// A message is larger than the channel allows.
    #[error("a message of {len} bytes is larger than channel {name}'s maximum of {max}")]
    MessageTooLarge {
        /// The channel's name.
        name: String,
        /// The message's length.
        len: usize,
        /// The channel's maximum message length.
        max: usize,
    },

    /// Every endpoint slot of that role is taken by a live endpoint.
    #[error("channel {name} has no free {role} slot (all {max} are in use)")]
    NoFreeSlot {
        /// The channel's name.
        name: String,
        /// `sender` or `receiver`.
        role: &'static str,
        /// How many such endpoints the channel allows.
        max: u32,
    },

    /// Any other operating-system failure, with the operation and the object
    /// it was applied to.
    #[error("{operation} {name}: {source}")]
    Os {
        /// The operation that failed (`mmap`, `open`, `msync`, ...).
        operation: &'static str,
        /// The mapping's name or the path involved.
        name: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A robust mutex can no longer be locked: an owner died while holding
    /// it, and the process that took it over released it without calling
    /// `MutexGuard::mark_consistent`, so the data it protects is presumed
    /// broken (POSIX `ENOTRECOVERABLE`). Re-initialise the mutex and the
    /// data together to recover.
    #[error(
        "robust mutex is not recoverable: a previous owner died holding it and the state it \
         protects was never marked consistent; re-initialise the mutex and that state"
    )]
    NotRecoverable,
}

/// Stable numeric codes for [`Error`] variants.
///
/// These values never change meaning: they are the error codes of the C ABI
/// and the basis of the C# exception types. Zero is success and is never an
/// error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum ErrorCode {
    /// [`Error::InvalidName`].
    InvalidName = 1,
    /// [`Error::InvalidArgument`].
    InvalidArgument = 2,
    /// [`Error::AlreadyExists`].
    AlreadyExists = 3,
    /// [`Error::NotFound`].
    NotFound = 4,
    /// [`Error::PermissionDenied`].
    PermissionDenied = 5,
    /// [`Error::ForeignOwner`].
    ForeignOwner = 6,
    /// [`Error::ZeroSize`].
    ZeroSize = 7,
    /// [`Error::NoSpace`].
    NoSpace = 8,
    /// [`Error::AccessMismatch`].
    AccessMismatch = 9,
    /// [`Error::OutOfRange`].
    OutOfRange = 10,
    /// [`Error::WrongKind`].
    WrongKind = 11,
    /// [`Error::Busy`].
    Busy = 12,
    /// [`Error::File`].
    File = 13,
    /// [`Error::Unsupported`].
    Unsupported = 14,
    /// [`Error::Os`].
    Os = 15,
    /// [`Error::Corrupt`].
    Corrupt = 16,
    /// [`Error::Disconnected`].
    Disconnected = 17,
    /// [`Error::Timeout`].
    Timeout = 18,
    /// [`Error::MessageTooLarge`].
    MessageTooLarge = 19,
    /// [`Error::NoFreeSlot`].
    NoFreeSlot = 20,
    /// [`Error::NotRecoverable`].
    NotRecoverable = 21,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::InvalidName,
        ErrorCode::InvalidArgument,
        ErrorCode::AlreadyExists,
        ErrorCode::NotFound,
        ErrorCode::PermissionDenied,
        ErrorCode::ForeignOwner,
        ErrorCode::ZeroSize,
        ErrorCode::NoSpace,
        ErrorCode::AccessMismatch,
        ErrorCode::OutOfRange,
        ErrorCode::WrongKind,
        ErrorCode::Busy,
        ErrorCode::File,
        ErrorCode::Unsupported,
        ErrorCode::Os,
        ErrorCode::Corrupt,
        ErrorCode::Disconnected,
        ErrorCode::Timeout,
        ErrorCode::MessageTooLarge,
        ErrorCode::NoFreeSlot,
        ErrorCode::NotRecoverable,
    ];
}

impl TryFrom<i32> for ErrorCode {
    type Error = i32;

    /// The code with this number, or the number back if there is none.
    fn try_from(value: i32) -> std::result::Result<ErrorCode, i32> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| *code as i32 == value)
            .ok_or(value)
    }
}

impl Error {
    /// The stable numeric code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidName { .. } => ErrorCode::InvalidName,
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::PermissionDenied { .. } => ErrorCode::PermissionDenied,
            Error::ForeignOwner { .. } => ErrorCode::ForeignOwner,
            Error::ZeroSize { .. } => ErrorCode::ZeroSize,
            Error::NoSpace { .. } => ErrorCode::NoSpace,
            Error::AccessMismatch { .. } => ErrorCode::AccessMismatch,
            Error::OutOfRange { .. } => ErrorCode::OutOfRange,
            Error::WrongKind { .. } => ErrorCode::WrongKind,
            Error::Busy { .. } => ErrorCode::Busy,
            Error::File { .. } => ErrorCode::File,
            Error::Unsupported { .. } => ErrorCode::Unsupported,
            Error::Os { .. } => ErrorCode::Os,
            Error::NotRecoverable => ErrorCode::NotRecoverable,
            Error::Corrupt { .. } => ErrorCode::Corrupt,
            Error::Disconnected { .. } => ErrorCode::Disconnected,
            Error::Timeout { .. } => ErrorCode::Timeout,
            Error::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            Error::NoFreeSlot { .. } => ErrorCode::NoFreeSlot,
        }
    }

    pub(crate) fn invalid_argument(what: impl Into<String>) -> Error {
        Error::InvalidArgument { what: what.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_object_and_the_numbers() {
        let e = Error::OutOfRange {
            name: "Local\\demo".into(),
            offset: 4090,
            len: 10,
            size: 4096,
        };
        let text = e.to_string();
        assert!(text.contains("Local\\demo"), "{text}");
        assert!(text.contains("4090") && text.contains("4096"), "{text}");
        assert_eq!(e.code(), ErrorCode::OutOfRange);
    }

    #[test]
    fn every_code_round_trips_through_its_number() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as i32, i as i32 + 1, "codes are dense from 1");
            assert_eq!(ErrorCode::try_from(*code as i32), Ok(*code));
        }
        assert_eq!(ErrorCode::try_from(0), Err(0));
        assert_eq!(ErrorCode::try_from(22), Err(22));
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(ErrorCode::InvalidName as i32, 1);
        assert_eq!(ErrorCode::NotFound as i32, 4);
        assert_eq!(ErrorCode::Os as i32, 15);
    }
}
