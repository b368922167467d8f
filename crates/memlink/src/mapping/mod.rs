//! Named mappings: the article's file-mapping objects.
//!
//! A [`Mapping`] is a named object of a fixed size, backed by shared memory
//! or by a file. It is created with [`Mapping::create`] (or
//! [`MappingOptions`] for everything else), opened by name in other
//! processes, and read and written through [`View`]s of any range.
//!
//! Lifetime follows Windows: a mapping exists while some process holds it,
//! through a `Mapping` or a `View`, and disappears when the last holder drops
//! it **or dies**. A persistent mapping stays until [`Mapping::remove`].
//!
//! A plain mapping carries no memlink header: its bytes are all yours, and a
//! `Global\NAME` mapping is the POSIX shared-memory object `/NAME` that other
//! programs can `shm_open` directly.

mod options;
#[allow(unsafe_code)]
mod view;

use std::io;
use std::sync::Arc;

pub use options::{Disposition, MappingOptions};
pub use view::View;

use crate::error::{Error, Result};
use crate::name::{Name, Namespace};
use crate::sys;
use crate::types::{Access, Backing, MappingInfo};

/// A named mapping, held by this process.
///
/// ```
/// use memlink::Mapping;
/// # let name = format!("doc-mapping-{}", std::process::id());
///
/// // The server side: create it and write.
/// let server = Mapping::create(&name, 4096)?;
/// server.view_all()?.write_at(0, b"hello")?;
///
/// // The client side (normally another process): open it by name and read.
/// let client = Mapping::open(&name)?;
/// let mut buf = [0u8; 5];
/// client.view(0, 5)?.read_at(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mapping {
    shared: Arc<Held>,
}

/// What every handle and view of one opened mapping shares; dropping the last
/// of them lets go of the named object.
#[derive(Debug)]
struct Held {
    object: sys::Object,
    name: Name,
    access: Access,
    hints: sys::MapHints,
}

impl Mapping {
    /// Creates a memory-backed, read-write, owner-only mapping of `size`
    /// bytes, filled with zeros, that lives until its last holder goes.
    ///
    /// Fails with [`Error::AlreadyExists`] if the name is taken, and with
    /// [`Error::NoSpace`] if the system cannot back `size` bytes.
    pub fn create(name: &str, size: u64) -> Result<Mapping> {
        MappingOptions::new().size(size).create(name)
    }

    /// Opens an existing mapping for reading and writing.
    ///
    /// Fails with [`Error::NotFound`] if no live mapping has that name, and
    /// with [`Error::ForeignOwner`] if another user created it (see
    /// [`MappingOptions::allow_foreign_owner`]).
    pub fn open(name: &str) -> Result<Mapping> {
        MappingOptions::new().open(name)
    }

    /// Opens the mapping if it exists, or creates a memory-backed one of
    /// `size` bytes, and says which happened. An opened mapping keeps the
    /// size it was created with.
    pub fn open_or_create(name: &str, size: u64) -> Result<(Mapping, Disposition)> {
        MappingOptions::new().size(size).open_or_create(name)
    }

    /// Removes a name now, whatever its lifetime; processes that hold the
    /// mapping keep their memory, but nobody can open it any more.
    pub fn remove(name: &str) -> Result<()> {
        sys::remove(&Name::parse(name)?)
    }

    /// Describes a mapping without holding it.
    pub fn inspect(name: &str) -> Result<MappingInfo> {
        sys::inspect(&Name::parse(name)?)
    }

    /// Describes every mapping of a namespace that this user can see.
    pub fn list(namespace: Namespace) -> Result<Vec<MappingInfo>> {
        sys::list(namespace)
    }

    /// Removes the transient mappings of this user, in both namespaces, whose
    /// holders all died without letting go, and returns their names.
    ///
    /// Such a mapping is already invisible (opening it fails with
    /// [`Error::NotFound`]); this gives its memory back.
    pub fn reclaim_stale() -> Result<Vec<Name>> {
        let mut names = sys::reclaim_stale(Namespace::Local)?;
        names.extend(sys::reclaim_stale(Namespace::Global)?);
        Ok(names)
    }

    fn from_object(object: sys::Object, name: Name, access: Access, hints: sys::MapHints) -> Self {
        Mapping {
            shared: Arc::new(Held {
                object,
                name,
                access,
                hints,
            }),
        }
    }

    /// The held OS object (for the layers above: endpoint locks).
    /// Keeps this handle open without counting as a holder (see
    /// `sys::Object::stop_holding`): for looking inside for a moment.
    pub(crate) fn stop_holding(&self) {
        self.shared.object.stop_holding();
    }

    pub(crate) fn object(&self) -> &sys::Object {
        &self.shared.object
    }

    fn publish(&self) -> Result<()> {
        self.shared.object.publish(&self.shared.name)
    }

    /// The mapping's name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// The logical size in bytes, exactly as created (no page rounding).
    pub fn size(&self) -> u64 {
        self.shared.object.size()
    }

    /// The access this handle was opened with.
    pub fn access(&self) -> Access {
        self.shared.access
    }

    /// What backs the mapping.
    pub fn backing(&self) -> &Backing {
        self.shared.object.backing()
    }

    /// Whether the mapping stays after its last holder goes.
    pub fn is_persistent(&self) -> bool {
        self.shared.object.persistent()
    }

    /// The user id that owns the mapping.
    pub fn owner(&self) -> u32 {
        self.shared.object.owner()
    }

    /// The permission bits of the mapping's name: those it was created with,
    /// except that a file-backed mapping's name (a link to its file) is
    /// writable by its owner only and keeps just the read bits for others
    /// (on Linux; see the README's "Permissions").
    pub fn mode(&self) -> u32 {
        self.shared.object.mode()
    }

    /// The name the operating system knows it by: `/NAME` (a POSIX
    /// shared-memory name) for `Global\NAME`, a file path for local names.
    pub fn os_name(&self) -> &str {
        self.shared.object.os_name()
    }

    /// Maps `len` bytes from `offset` with the mapping's own access (a
    /// read-only mapping gives read-only views). Offsets need no alignment.
    pub fn view(&self, offset: u64, len: u64) -> Result<View> {
        self.view_with(offset, len, self.shared.access)
    }

    /// Maps the whole mapping with the mapping's own access.
    pub fn view_all(&self) -> Result<View> {
        self.view(0, self.size())
    }

    /// Maps `len` bytes from `offset` with the given access:
    /// [`Access::ReadWrite`] needs a read-write mapping;
    /// [`Access::CopyOnWrite`] works on any mapping and keeps writes private.
    pub fn view_with(&self, offset: u64, len: u64, access: Access) -> Result<View> {
        let held = &self.shared;
        if !access.allowed_by(held.access) {
            return Err(Error::AccessMismatch {
                name: held.name.to_string(),
                what: "mapping",
                requested: access,
                granted: held.access,
            });
        }
        let size = self.size();
        let out_of_range = || Error::OutOfRange {
            name: held.name.to_string(),
            offset,
            len,
            size,
        };
        if len == 0 {
            return Err(Error::invalid_argument(format!(
                "a view of {} must be at least one byte long",
                held.name
            )));
        }
        match offset.checked_add(len) {
            Some(end) if end <= size => {}
            _ => return Err(out_of_range()),
        }
        let len_bytes = usize::try_from(len).map_err(|_| out_of_range())?;
        let region =
            sys::MappedRegion::map(held.object.data(), offset, len_bytes, access, held.hints)
                .map_err(|source| match source.kind() {
                    io::ErrorKind::StorageFull => Error::NoSpace {
                        name: held.name.to_string(),
                        size: len,
                        source,
                    },
                    _ => Error::Os {
                        operation: "map a view of",
                        name: held.name.to_string(),
                        source,
                    },
                })?;
        Ok(View::new(
            region,
            Arc::clone(&self.shared),
            offset,
            len_bytes,
            access,
        ))
    }
}

// Keeps the name and the held object reachable from a view, so a view keeps
// the mapping alive exactly as a handle does (as on Windows).
impl Held {
    fn name(&self) -> &Name {
        &self.name
    }
}
