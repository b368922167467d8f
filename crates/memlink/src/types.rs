//! Small vocabulary types shared by every layer.

use std::fmt;
use std::path::PathBuf;

/// How a mapping or a view may be used; the article's `PAGE_READONLY`,
/// `PAGE_READWRITE` and `PAGE_WRITECOPY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read only.
    ReadOnly,
    /// Read and write; writes are seen by every process sharing the mapping.
    ReadWrite,
    /// Read, and write privately: writes stay in this process (copy-on-write)
    /// and never reach the shared object.
    CopyOnWrite,
}

impl Access {
    /// Whether this access can change the shared bytes.
    pub fn writes_shared(self) -> bool {
        self == Access::ReadWrite
    }

    /// Whether a view with this access may be made from a mapping opened with
    /// `granted`.
    pub fn allowed_by(self, granted: Access) -> bool {
        match self {
            Access::ReadWrite => granted == Access::ReadWrite,
            Access::ReadOnly | Access::CopyOnWrite => true,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
            Access::CopyOnWrite => "copy-on-write",
        })
    }
}

/// What backs a named mapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Backing {
    /// Shared memory (the article's `INVALID_HANDLE_VALUE` case).
    Memory,
    /// A file on disk, at this absolute path.
    File(PathBuf),
    /// The OS does not say: a mapping another program made, on Windows
    /// (memlink knows the backing of its own mappings only from its record).
    Unknown,
}

/// A description of a named mapping, taken without holding it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MappingInfo {
    /// The memlink name.
    pub name: crate::name::Name,
    /// The logical size in bytes.
    pub size: u64,
    /// The name the OS knows it by (`/NAME` for a Global name).
    pub os_name: String,
    /// Where the object sits in the file system.
    pub path: PathBuf,
    /// What backs it.
    pub backing: Backing,
    /// The owning user id.
    pub owner: u32,
    /// The permission bits; `None` when the OS does not say (a mapping
    /// another program made, on Windows, whose DACL is not a mode).
    pub mode: Option<u32>,
    /// Whether it stays after its last holder goes.
    pub persistent: bool,
    /// Whether some process holds it; `None` when this user may not look.
    /// A transient mapping that nobody holds is dead and awaits
    /// [`Mapping::reclaim_stale`](crate::Mapping::reclaim_stale).
    pub live: Option<bool>,
    /// The processes that hold it, as far as this user can see.
    pub holders: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_access_needs_a_writable_mapping() {
        assert!(Access::ReadWrite.allowed_by(Access::ReadWrite));
        assert!(!Access::ReadWrite.allowed_by(Access::ReadOnly));
        assert!(!Access::ReadWrite.allowed_by(Access::CopyOnWrite));
        assert!(Access::CopyOnWrite.allowed_by(Access::ReadOnly));
        assert!(Access::ReadOnly.allowed_by(Access::CopyOnWrite));
    }
}
