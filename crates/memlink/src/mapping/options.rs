//! [`MappingOptions`]: every way to create or open a mapping.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Mapping, View};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::sys;
use crate::types::Access;

/// Whether [`MappingOptions::open_or_create`] created the mapping or opened
/// an existing one (the article's `ERROR_ALREADY_EXISTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The mapping did not exist and was created by this call.
    Created,
    /// The mapping existed and was opened.
    Opened,
}

/// Options for creating and opening mappings, in the style of
/// [`std::fs::OpenOptions`].
///
/// Defaults: read-write access, memory-backed, owner-only (`0o600`),
/// transient (gone when the last holder goes), other users' objects refused.
///
/// ```
/// use memlink::{Access, MappingOptions};
/// # let name = format!("doc-options-{}", std::process::id());
///
/// let shared = MappingOptions::new()
///     .size(64 * 1024)
///     .mode(0o640)
///     .create(&name)?;
/// let reader = MappingOptions::new().access(Access::ReadOnly).open(&name)?;
/// assert_eq!(reader.size(), 64 * 1024);
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MappingOptions {
    size: u64,
    access: Access,
    mode: u32,
    persistent: bool,
    file: Option<FileSource>,
    allow_foreign_owner: bool,
    busy_timeout: Duration,
    hints: sys::MapHints,
}

/// How long `open` waits by default for a name that another process is
/// removing, or holds locked, before [`Error::Busy`].
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
enum FileSource {
    Path(PathBuf),
    Handle(Arc<File>),
}

impl Default for MappingOptions {
    fn default() -> Self {
        MappingOptions {
            size: 0,
            access: Access::ReadWrite,
            mode: 0o600,
            persistent: false,
            file: None,
            allow_foreign_owner: false,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            hints: sys::MapHints::default(),
        }
    }
}

impl MappingOptions {
    /// The defaults described above.
    pub fn new() -> Self {
        Self::default()
    }

    /// The size in bytes for `create`. For a file-backed mapping, 0 means
    /// "the file's size", and a size beyond the end of the file grows it.
    pub fn size(&mut self, bytes: u64) -> &mut Self {
        self.size = bytes;
        self
    }

    /// The access to open with (and the default access of views).
    /// [`Access::CopyOnWrite`] opens read-only and makes private views.
    pub fn access(&mut self, access: Access) -> &mut Self {
        self.access = access;
        self
    }

    /// Permission bits for `create` (at most `0o777`; default `0o600`).
    /// Widen them explicitly to share with other users.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// The permission bits `create` will use.
    pub(crate) fn mode_bits(&self) -> u32 {
        self.mode
    }

    /// Keep the mapping after its last holder goes, until
    /// [`Mapping::remove`].
    pub fn persistent(&mut self, persistent: bool) -> &mut Self {
        self.persistent = persistent;
        self
    }

    /// Back the mapping with the file at `path` (created when missing and the
    /// access is read-write).
    pub fn file(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.file = Some(FileSource::Path(path.into()));
        self
    }

    /// Back the mapping with an already opened file. Its own access is
    /// checked: a file opened read-only cannot back a read-write mapping.
    pub fn file_handle(&mut self, file: File) -> &mut Self {
        self.file = Some(FileSource::Handle(Arc::new(file)));
        self
    }

    /// Accept a mapping that another user created. Off by default, so that a
    /// name planted by someone else is refused with [`Error::ForeignOwner`].
    pub fn allow_foreign_owner(&mut self, allow: bool) -> &mut Self {
        self.allow_foreign_owner = allow;
        self
    }

    /// How long `open` waits for a name that another process is removing
    /// at that moment, or holds locked (default 2 s), before it fails with
    /// [`Error::Busy`]. A lock held longer than a removal takes (250 ms) is
    /// somebody else's, and `open` then goes ahead without it; with a
    /// shorter timeout it says `Busy` instead. `Duration::ZERO`: never wait.
    /// Unix only: on Windows a name is never busy for `open`.
    pub fn busy_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.busy_timeout = timeout;
        self
    }

    /// Fault in every page when a view is mapped, instead of on first touch.
    pub fn populate(&mut self, populate: bool) -> &mut Self {
        self.hints.populate = populate;
        self
    }

    /// Lock the pages of every view in RAM (subject to `RLIMIT_MEMLOCK`).
    pub fn lock_in_memory(&mut self, lock: bool) -> &mut Self {
        self.hints.lock = lock;
        self
    }

    /// Huge pages (2 MiB on x86-64) instead of 4 KiB ones: fewer TLB misses
    /// over large mappings.
    ///
    /// On Linux, `create` backs a memory mapping with transparent huge
    /// pages, which needs a tmpfs that allows them on `/dev/shm` (mounted
    /// with `huge=advise`, `always` or `within_size`, or
    /// `shmem_enabled=force`); elsewhere, and for file-backed mappings, it
    /// fails with [`Error::Unsupported`] rather than silently giving small
    /// pages. The memory is still reserved at create (a full `/dev/shm` is
    /// [`Error::NoSpace`]). For `open` it is a hint for this process's
    /// views, ignored where the OS has no huge pages.
    pub fn huge_pages(&mut self, huge: bool) -> &mut Self {
        self.hints.huge_pages = huge;
        self
    }

    /// Creates the mapping; fails with [`Error::AlreadyExists`] if the name
    /// is taken.
    pub fn create(&self, name: &str) -> Result<Mapping> {
        self.create_impl(name, None)
    }

    /// Creates the mapping and runs `init` on a view of all of it *before*
    /// the name becomes visible: no other process can ever open the mapping
    /// half-initialised, and if `init` fails (or this process dies), the name
    /// never appears.
    ///
    /// ```
    /// use memlink::{Mapping, MappingOptions};
    /// # let name = format!("doc-init-{}", std::process::id());
    ///
    /// let mapping = MappingOptions::new()
    ///     .size(4096)
    ///     .create_initialized(&name, |view| view.write_at(0, b"HEADER v1"))?;
    /// // Whoever opens the name sees the header from the first moment.
    /// let mut header = [0u8; 9];
    /// Mapping::open(&name)?.view(0, 9)?.read_at(0, &mut header)?;
    /// assert_eq!(&header, b"HEADER v1");
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn create_initialized(
        &self,
        name: &str,
        init: impl FnOnce(&View) -> Result<()>,
    ) -> Result<Mapping> {
        let mut init = Some(init);
        self.create_impl(
            name,
            Some(&mut |view: &View| match init.take() {
                Some(init) => init(view),
                None => Ok(()),
            }),
        )
    }

    fn create_impl(&self, name: &str, init: Option<&mut Initializer<'_>>) -> Result<Mapping> {
        let name = Name::parse(name)?;
        if self.mode & !0o777 != 0 {
            return Err(Error::invalid_argument(format!(
                "mode {:#o} for {name} has bits beyond 0o777",
                self.mode
            )));
        }
        if let (true, Some(why)) = (self.persistent, sys::NO_PERSISTENCE) {
            // A taken name is the answer a person needs first; then the
            // refusal, before a backing file is created or grown.
            sys::ensure_free(&name)?;
            return Err(Error::Unsupported {
                what: format!("persistent mapping {name}: {why}"),
            });
        }
        let object = match &self.file {
            None => {
                if self.size == 0 {
                    return Err(Error::ZeroSize {
                        name: name.to_string(),
                        reason: "a memory-backed mapping needs a size",
                    });
                }
                sys::prepare(&self.request(&name, self.size, None))?
            }
            Some(source) => {
                // Touch the file only for a create that can succeed.
                sys::ensure_free(&name)?;
                let (file, path) = self.open_file(&name, source)?;
                let size = self.resolve_file_size(&name, &file, &path)?;
                let backing = sys::BackingFile {
                    path: &path,
                    file: &file,
                };
                sys::prepare(&self.request(&name, size, Some(backing)))?
            }
        };
        let mapping = Mapping::from_object(object, name, self.access, self.hints);
        if let Some(init) = init {
            init(&mapping.view_all()?)?;
        }
        mapping.publish()?;
        Ok(mapping)
    }

    /// Opens an existing mapping; fails with [`Error::NotFound`] if there is
    /// none.
    pub fn open(&self, name: &str) -> Result<Mapping> {
        let name = Name::parse(name)?;
        let object = sys::open(&sys::OpenRequest {
            name: &name,
            access: self.access,
            allow_foreign_owner: self.allow_foreign_owner,
            busy_timeout: self.busy_timeout,
        })?;
        Ok(Mapping::from_object(object, name, self.access, self.hints))
    }

    /// Opens the mapping, or creates it if it does not exist, and says which.
    pub fn open_or_create(&self, name: &str) -> Result<(Mapping, Disposition)> {
        // Another process may create or remove the name between our two
        // attempts; a few rounds settle any such race.
        let mut last = None;
        for _ in 0..8 {
            match self.open(name) {
                Ok(mapping) => return Ok((mapping, Disposition::Opened)),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            match self.create(name) {
                Ok(mapping) => return Ok((mapping, Disposition::Created)),
                Err(e @ Error::AlreadyExists { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Busy {
            name: name.to_owned(),
        }))
    }

    fn request<'a>(
        &self,
        name: &'a Name,
        size: u64,
        file: Option<sys::BackingFile<'a>>,
    ) -> sys::CreateRequest<'a> {
        sys::CreateRequest {
            name,
            size,
            mode: self.mode,
            persistent: self.persistent,
            file,
            huge_pages: self.hints.huge_pages,
        }
    }

    /// Opens (or takes) the backing file and checks that its access allows
    /// the mapping's, before anything is mapped.
    fn open_file(&self, name: &Name, source: &FileSource) -> Result<(Arc<File>, PathBuf)> {
        let writable = self.access == Access::ReadWrite;
        let (file, path) = match source {
            FileSource::Path(path) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(writable)
                    .create(writable)
                    .truncate(false)
                    .open(path)
                    .map_err(|source| file_error(path, source))?;
                // The path of the file we opened, as the kernel knows it: a
                // symbolic link swapped in since cannot make the two differ.
                let absolute = match sys::file_path(&file) {
                    Some(absolute) => absolute,
                    None => std::fs::canonicalize(path).map_err(|e| file_error(path, e))?,
                };
                (Arc::new(file), absolute)
            }
            FileSource::Handle(file) => {
                let granted = sys::file_access(file).map_err(|e| Error::Os {
                    operation: "query the access of the file for",
                    name: name.to_string(),
                    source: e,
                })?;
                if !self.access.allowed_by(granted) || granted == Access::CopyOnWrite {
                    return Err(Error::AccessMismatch {
                        name: name.to_string(),
                        what: "backing file",
                        requested: self.access,
                        granted,
                    });
                }
                let path = sys::file_path(file).ok_or_else(|| Error::Unsupported {
                    what: format!(
                        "the file given for {name} has no path (deleted or anonymous), so other \
                         processes could not open it by name"
                    ),
                })?;
                (Arc::clone(file), path)
            }
        };
        let meta = file.metadata().map_err(|e| file_error(&path, e))?;
        if !meta.is_file() {
            return Err(file_error(
                &path,
                std::io::Error::other("not a regular file"),
            ));
        }
        Ok((file, path))
    }

    /// Applies the article's size rules: 0 means the file's size (an empty
    /// file is an error), a larger size grows a writable file.
    fn resolve_file_size(&self, name: &Name, file: &File, path: &Path) -> Result<u64> {
        let len = file.metadata().map_err(|e| file_error(path, e))?.len();
        if self.size == 0 {
            if len == 0 {
                return Err(Error::ZeroSize {
                    name: name.to_string(),
                    reason: "the backing file is empty and size 0 means the file's size",
                });
            }
            return Ok(len);
        }
        if self.size > len {
            if self.access != Access::ReadWrite {
                return Err(Error::AccessMismatch {
                    name: format!("{name} ({} bytes > file's {len})", self.size),
                    what: "backing file",
                    requested: Access::ReadWrite,
                    granted: self.access,
                });
            }
            sys::grow_file(file, len, self.size).map_err(|source| Error::NoSpace {
                name: name.to_string(),
                size: self.size,
                source,
            })?;
            // Some files take a new size without keeping it (`/proc`, `/sys`):
            // every later open would find the mapping truncated.
            let now = file.metadata().map_err(|e| file_error(path, e))?.len();
            if now != self.size {
                let _ = file.set_len(len);
                return Err(file_error(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "its size cannot be set: asked for {} bytes, it reports {now} \
                             (not a file whose size the file system keeps)",
                            self.size
                        ),
                    ),
                ));
            }
        }
        Ok(self.size)
    }
}

/// What `create_initialized` runs on the new mapping before publishing it.
type Initializer<'a> = dyn FnMut(&View) -> Result<()> + 'a;

fn file_error(path: &Path, source: std::io::Error) -> Error {
    Error::File {
        path: path.to_owned(),
        source,
    }
}
