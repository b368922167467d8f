//! Named objects on Windows: the article's own API. A memlink mapping *is*
//! a file-mapping object (a "section") under its plain name, so a program
//! that calls `CreateFileMappingW` / `OpenFileMappingW` with the same name
//! shares it with memlink in both directions.
//!
//! # Where names live
//!
//! | memlink name  | section name  | object directory                          |
//! |---------------|---------------|-------------------------------------------|
//! | `Global\NAME` | `Global\NAME` | `\BaseNamedObjects`                       |
//! | `Local\NAME`  | `Local\NAME`  | `\Sessions\<session>\BaseNamedObjects`    |
//!
//! `Local\` is Windows' own per-*session* namespace (per user in practice:
//! one interactive user per session), not a per-user one; in session 0
//! (services) it is the same directory as `Global\`. Creating a `Global\`
//! object from a session other than 0 needs `SeCreateGlobalPrivilege`.
//!
//! memlink keeps a few companion objects beside a mapping, all named
//! `NAME/SUFFIX`. A `/` can never be part of a memlink name, so these names
//! cannot collide with anyone's mapping; the object manager treats `/` as an
//! ordinary character.
//!
//! | name          | kind      | what for                                              |
//! |---------------|-----------|-------------------------------------------------------|
//! | `NAME/meta`   | section   | the record: state, logical size, mode, backing path, holders |
//! | `NAME/wait`   | section   | waiter counts of the words that threads sleep on      |
//! | `NAME/w<off>` | semaphore | sleeping place of the word at byte `off`              |
//! | `NAME/ep<i>`  | mutex     | endpoint slot `i` of a channel (abandoned: owner died) |
//!
//! Companion objects are created by whichever process first needs them, in
//! the mapping's namespace. For a `Global\` mapping shared with a process
//! that lacks `SeCreateGlobalPrivilege` (outside session 0, not elevated),
//! that process may fail to create them: its waits then poll every
//! millisecond instead of sleeping, and claiming a channel endpoint fails
//! with an access error. Wine has no such privilege check, so this case is
//! untested.
//!
//! # Publishing only initialised objects
//!
//! Windows cannot give a name to an object that was made without one, so the
//! "make unnamed, initialise, then name" of the other platforms is emulated
//! with the record. `prepare` creates `NAME/meta` first, with
//! `CreateFileMappingW` failing over to "already exists": whoever creates
//! the record owns the name. It writes the record in state *initialising*,
//! then creates the section under `NAME`. `publish` flips the record to
//! *ready* (a Release store). An `open` reads the record first and reports
//! `NotFound` for anything not ready, exactly as if the name did not exist
//! yet; a creator that fails, or drops the object unpublished, marks the
//! record *abandoned*, and one that is killed leaves a record whose creator
//! is dead: both read as "not there". A `create` that meets a record still
//! initialising (by another thread or process), abandoned, or removed waits
//! a moment (up to two seconds) for it to resolve, then reports
//! `AlreadyExists` (published meanwhile) or `Busy`. (On Linux the first to
//! *publish* a name wins it; here the first to *prepare* does.)
//!
//! Order matters for races with the last holder leaving: the record is made
//! before the section and closed after it, and `open` reads the record
//! before it opens the section. A section without a record was therefore
//! made by another program (a "foreign" mapping): it is opened as it is,
//! with the size Windows reports (page-rounded for memory-backed sections).
//!
//! # Lifetime
//!
//! Native: a section lives until its last handle is closed, and Windows
//! closes the handles of a process that dies, so a crashed holder never
//! leaks a mapping and `reclaim_stale` never finds anything. Windows has no
//! persistent sections: asking for one is [`Error::Unsupported`] (keep a
//! process holding the mapping, or back it with a file, which keeps the
//! bytes). `remove` cannot take a name away from its holders either: it marks
//! the record *removed*, after which memlink's `open` reports `NotFound` and
//! the name is freed when the last holder lets go (a `create` meanwhile
//! reports `Busy`). Mappings made by other programs cannot be removed.
//!
//! # Owners and permissions
//!
//! The mode bits become the section's DACL: owner bits for the process
//! token's user, group bits for its primary group, other bits for Everyone
//! (read: `GENERIC_READ`, write: `GENERIC_WRITE`). The companion objects
//! grant full access to every principal that has any access to the mapping.
//! An owner is reported as the last sub-authority (the RID) of the owner's
//! SID: `effective_uid` is the RID of the process token's user (1000 and up
//! for local accounts). `open` refuses sections owned by another SID unless
//! foreign owners are allowed; Wine records no owner SID on sections, and
//! there every section counts as this user's.

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};
use std::path::PathBuf;
use std::ptr::{null, null_mut, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use windows_sys::Wdk::Foundation::{NtQueryObject, ObjectBasicInformation, OBJECT_ATTRIBUTES};
use windows_sys::Wdk::Storage::FileSystem::{NtOpenDirectoryObject, NtQueryDirectoryObject};
use windows_sys::Win32::Foundation::{
    GetLastError, SetLastError, ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_COMMITMENT_LIMIT,
    ERROR_DISK_FULL, ERROR_FILE_INVALID, ERROR_FILE_NOT_FOUND, ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER, ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY, ERROR_PATH_NOT_FOUND,
    HANDLE, INVALID_HANDLE_VALUE, NTSTATUS, STATUS_NO_MORE_ENTRIES, UNICODE_STRING,
};
use windows_sys::Win32::Storage::FileSystem::{
    GetFileType, GetFinalPathNameByHandleW, FILE_NAME_NORMALIZED, FILE_READ_DATA, FILE_TYPE_DISK,
    FILE_WRITE_DATA, READ_CONTROL, SECURITY_IDENTIFICATION, VOLUME_NAME_DOS,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, FILE_MAP_READ,
    FILE_MAP_WRITE, MEMORY_MAPPED_VIEW_ADDRESS, PAGE_PROTECTION_FLAGS, PAGE_READONLY,
    PAGE_READWRITE, SEC_COMMIT,
};
use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};
use windows_sys::Win32::System::Threading::{GetCurrentProcessId, GetCurrentThreadId};

use super::security::{effective_uid, section_owner, Grant, Security};
use super::sync::{current_process, process_alive, WaitDomain};
use crate::error::{Error, Result};
use crate::name::{Name, Namespace};
use crate::sys::{CreateRequest, OpenRequest, ProcessIdentity};
use crate::types::{Access, Backing, MappingInfo};

/// How long `create` waits for a name that another process is still
/// initialising, or whose last holders are leaving.
const BUSY_WAIT: Duration = Duration::from_secs(2);
/// `SECTION_QUERY`: needed to ask a section for its size.
const SECTION_QUERY: u32 = 0x0001;

windows_link::link!("ntdll.dll" "system" fn NtQuerySection(
    section: HANDLE,
    class: u32,
    information: *mut c_void,
    length: usize,
    returned: *mut usize
) -> NTSTATUS);

// ---------------------------------------------------------------------------
// The record (`NAME/meta`)

/// First word of a record: `"mlmeta"`, a NUL and a format byte.
const META_MAGIC: u64 = u64::from_le_bytes(*b"mlmeta\0\x01");
/// Layout version of [`Meta`].
const META_VERSION: u32 = 1;
/// How many holders a record can list (for `ls`); more holders work, they
/// are just not all listed.
const HOLDER_SLOTS: usize = 64;
/// The longest backing-file path a record holds, in UTF-16 units.
const PATH_UNITS: usize = 4000;

/// Record states.
mod state {
    // 0: the record is still being written (its magic is 0 too).
    /// Written; the creator is initialising the mapping.
    pub const INITIALISING: u32 = 1;
    /// Published: `open` may use it.
    pub const READY: u32 = 2;
    /// The creator gave up before publishing.
    pub const ABANDONED: u32 = 3;
    /// `remove` was called: gone for memlink, until the holders let go.
    pub const REMOVED: u32 = 4;
}

/// `flags` bit: the mapping is backed by the file at `path`.
const FLAG_FILE: u32 = 1;

/// memlink's record of a mapping, in the section `NAME/meta`.
///
/// Anyone who may write the mapping may write the record, so every field is
/// an atomic (valid for any bit pattern) and read once, then checked. The
/// creator writes every field before `magic` (Release) and `state`.
#[repr(C)]
pub(super) struct Meta {
    magic: AtomicU64,
    version: AtomicU32,
    state: AtomicU32,
    /// The logical size in bytes.
    size: AtomicU64,
    /// The creator: [`identity_word`].
    creator: AtomicU64,
    /// The creator's thread (another thread of its process may wait for it).
    creator_thread: AtomicU32,
    mode: AtomicU32,
    /// The creator's RID, for display.
    owner: AtomicU32,
    flags: AtomicU32,
    /// Length of `path`, in UTF-16 units.
    path_len: AtomicU32,
    _reserved: AtomicU32,
    /// Holders, as [`identity_word`]s; 0 is a free slot.
    holders: [AtomicU64; HOLDER_SLOTS],
    /// The backing file's path (UTF-16, not terminated).
    path: [AtomicU16; PATH_UNITS],
}

const _: () = assert!(size_of::<Meta>() == 56 + 8 * HOLDER_SLOTS + 2 * PATH_UNITS);

/// Types made only of atomics (and so valid for any bytes that another
/// process may write), which may be placed over a shared section.
///
/// # Safety
///
/// Implementors must be `#[repr(C)]`, contain only atomics (or arrays of
/// them), and need no alignment beyond 8 bytes.
pub(super) unsafe trait AllAtomic {}
// SAFETY: `#[repr(C)]`, atomics and arrays of atomics only, 8-byte aligned.
unsafe impl AllAtomic for Meta {}

/// A process identity as one word: pid in the high half, the low 32 bits of
/// its creation time in the low half.
pub(super) fn identity_word(me: &ProcessIdentity) -> u64 {
    (u64::from(me.pid) << 32) | (me.start & 0xFFFF_FFFF)
}

fn word_alive(word: u64) -> bool {
    process_alive((word >> 32) as u32, Some(word as u32))
}

/// A small section mapped whole, seen as a `T`.
pub(super) struct SharedView<T: AllAtomic> {
    base: NonNull<T>,
    writable: bool,
    _section: OwnedHandle,
}

// SAFETY: the view is a plain address range owned by this value; `T` is made
// of atomics, which may be used from any thread.
unsafe impl<T: AllAtomic> Send for SharedView<T> {}
// SAFETY: as above: shared access only goes through atomics.
unsafe impl<T: AllAtomic> Sync for SharedView<T> {}

impl<T: AllAtomic> SharedView<T> {
    /// Maps all of `section` (which is at least `size_of::<T>()` bytes).
    pub(super) fn map(section: OwnedHandle, writable: bool) -> io::Result<SharedView<T>> {
        let access = if writable {
            FILE_MAP_READ | FILE_MAP_WRITE
        } else {
            FILE_MAP_READ
        };
        // SAFETY: `section` is an open section handle; a new view at an
        // address Windows chooses aliases no Rust object.
        let view = unsafe { MapViewOfFile(raw(&section), access, 0, 0, size_of::<T>()) };
        let base = NonNull::new(view.Value.cast::<T>()).ok_or_else(io::Error::last_os_error)?;
        Ok(SharedView {
            base,
            writable,
            _section: section,
        })
    }

    /// The mapped `T`, for loads. Stores through it are allowed only when
    /// the view is writable: see [`SharedView::writable`].
    pub(super) fn get(&self) -> &T {
        // SAFETY: the view maps at least `size_of::<T>()` bytes, page-aligned,
        // for as long as `self` lives; `T` is valid for any bytes.
        unsafe { self.base.as_ref() }
    }

    /// The mapped `T`, if this view may be written.
    pub(super) fn writable(&self) -> Option<&T> {
        self.writable.then(|| self.get())
    }
}

impl<T: AllAtomic> Drop for SharedView<T> {
    fn drop(&mut self) {
        // SAFETY: the view is this value's own, unmapped once; the
        // references handed out borrow `self`, so none is left.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                Value: self.base.as_ptr().cast(),
            })
        };
    }
}

/// What `open` and `inspect` read from a record, checked.
struct Record {
    size: u64,
    mode: u32,
    owner: u32,
    backing: Backing,
}

/// Reads a ready record once, checking every field. `Ok(None)`: the record
/// is not ready (the name does not exist, as far as memlink is concerned).
fn read_record(meta: &Meta, name: &Name) -> Result<Option<Record>> {
    let corrupt = |what: String| Error::Corrupt {
        name: name.to_string(),
        what,
    };
    // Acquire: pairs with the Release store of `magic` in `write_record`.
    match meta.magic.load(Ordering::Acquire) {
        META_MAGIC => {}
        0 => return Ok(None),
        other => {
            return Err(corrupt(format!(
                "its memlink record ({name}/meta) starts with {other:#018x}, not memlink's magic"
            )))
        }
    }
    let version = meta.version.load(Ordering::Relaxed);
    if version != META_VERSION {
        return Err(corrupt(format!(
            "its memlink record has layout version {version}; this build understands \
             {META_VERSION}"
        )));
    }
    // Acquire: pairs with the Release store of READY in `publish`, so the
    // mapping's initialised contents are visible to whoever opens it.
    if meta.state.load(Ordering::Acquire) != state::READY {
        return Ok(None);
    }
    let size = meta.size.load(Ordering::Relaxed);
    if size == 0 {
        return Err(corrupt("its memlink record says size 0".into()));
    }
    let backing = if meta.flags.load(Ordering::Relaxed) & FLAG_FILE != 0 {
        let len = meta.path_len.load(Ordering::Relaxed) as usize;
        if len == 0 || len > PATH_UNITS {
            return Err(corrupt(format!(
                "its memlink record has a backing path of {len} units"
            )));
        }
        let units: Vec<u16> = meta.path[..len]
            .iter()
            .map(|u| u.load(Ordering::Relaxed))
            .collect();
        let path = PathBuf::from(std::ffi::OsString::from_wide_units(&units));
        if !path.is_absolute() {
            return Err(corrupt(
                "its memlink record has a relative backing path".into(),
            ));
        }
        Backing::File(path)
    } else {
        Backing::Memory
    };
    Ok(Some(Record {
        size,
        mode: meta.mode.load(Ordering::Relaxed) & 0o777,
        owner: meta.owner.load(Ordering::Relaxed),
        backing,
    }))
}

/// `OsString::from_wide`, named so that it reads well above.
trait FromWideUnits {
    fn from_wide_units(units: &[u16]) -> std::ffi::OsString;
}
impl FromWideUnits for std::ffi::OsString {
    fn from_wide_units(units: &[u16]) -> std::ffi::OsString {
        use std::os::windows::ffi::OsStringExt;
        std::ffi::OsString::from_wide(units)
    }
}

/// Writes a new record; `magic` goes last, then `state` says initialising.
fn write_record(meta: &Meta, size: u64, mode: u32, path: Option<&[u16]>) {
    meta.version.store(META_VERSION, Ordering::Relaxed);
    meta.size.store(size, Ordering::Relaxed);
    meta.creator
        .store(identity_word(&current_process()), Ordering::Relaxed);
    // SAFETY: no arguments.
    let thread = unsafe { GetCurrentThreadId() };
    meta.creator_thread.store(thread, Ordering::Relaxed);
    meta.mode.store(mode, Ordering::Relaxed);
    meta.owner.store(effective_uid(), Ordering::Relaxed);
    if let Some(path) = path {
        for (slot, unit) in meta.path.iter().zip(path) {
            slot.store(*unit, Ordering::Relaxed);
        }
        meta.path_len.store(path.len() as u32, Ordering::Relaxed);
        meta.flags.store(FLAG_FILE, Ordering::Relaxed);
    }
    meta.state.store(state::INITIALISING, Ordering::Relaxed);
    // Release: pairs with the Acquire load of `magic` in `read_record` and
    // `judge_existing`.
    meta.magic.store(META_MAGIC, Ordering::Release);
}

/// Takes a holder slot in a record; `None` when all are taken by live
/// holders (the mapping works the same, `ls` just does not list us).
fn register_holder(meta: &Meta) -> Option<(usize, u64)> {
    let me = identity_word(&current_process());
    let free = |i: usize, seen: u64| {
        // Relaxed: the slots are informative; nothing else is published
        // through them.
        meta.holders[i]
            .compare_exchange(seen, me, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            .then_some((i, me))
    };
    for i in 0..HOLDER_SLOTS {
        if meta.holders[i].load(Ordering::Relaxed) == 0 {
            if let Some(slot) = free(i, 0) {
                return Some(slot);
            }
        }
    }
    // Full: take over the slot of a holder that died without letting go.
    for i in 0..HOLDER_SLOTS {
        let seen = meta.holders[i].load(Ordering::Relaxed);
        if seen != me && !word_alive(seen) {
            if let Some(slot) = free(i, seen) {
                return Some(slot);
            }
        }
    }
    None
}

/// The live holders listed in a record, one entry per process.
fn live_holders(meta: &Meta) -> Vec<u32> {
    let mut pids = Vec::new();
    for slot in &meta.holders {
        let word = slot.load(Ordering::Relaxed);
        let pid = (word >> 32) as u32;
        if word != 0 && !pids.contains(&pid) && word_alive(word) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

// ---------------------------------------------------------------------------
// Objects

/// A held named object: the section (a handle keeps it alive) and, for
/// memlink's own mappings, the record.
pub(crate) struct Object {
    // Field order is drop order: the section is closed before the record
    // (see "Publishing" in the module docs).
    section: OwnedHandle,
    meta: Option<SharedView<Meta>>,
    domain: Arc<WaitDomain>,
    /// The backing file, for `FlushFileBuffers`.
    file: Option<Arc<File>>,
    os_name: String,
    size: u64,
    backing: Backing,
    owner: u32,
    mode: u32,
    holder: Option<(usize, u64)>,
    /// Made by this process and not yet published.
    unpublished: AtomicBool,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("name", &self.os_name)
            .field("section", &self.section)
            .field("memlink", &self.meta.is_some())
            .field("size", &self.size)
            .field("backing", &self.backing)
            .finish()
    }
}

/// What a view needs of an object.
#[derive(Clone, Copy)]
pub(crate) struct ObjectRef<'a> {
    pub(super) section: BorrowedHandle<'a>,
    pub(super) file: Option<&'a Arc<File>>,
    pub(super) domain: &'a Arc<WaitDomain>,
}

impl Object {
    /// What views of it are made from.
    pub(crate) fn data(&self) -> ObjectRef<'_> {
        use std::os::windows::io::AsHandle;
        ObjectRef {
            section: self.section.as_handle(),
            file: self.file.as_ref(),
            domain: &self.domain,
        }
    }
    /// The logical size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
    /// What backs it.
    pub(crate) fn backing(&self) -> &Backing {
        &self.backing
    }
    /// Always `false`: Windows has no persistent sections.
    pub(crate) fn persistent(&self) -> bool {
        false
    }
    /// The owner's RID.
    pub(crate) fn owner(&self) -> u32 {
        self.owner
    }
    /// The permission bits (0 for mappings made by other programs).
    pub(crate) fn mode(&self) -> u32 {
        self.mode
    }
    /// The Windows object name: `Local\NAME` or `Global\NAME`.
    pub(crate) fn os_name(&self) -> &str {
        &self.os_name
    }
    /// The mode that companion objects (semaphores, endpoint mutexes) are
    /// made with; `None` for mappings made by other programs.
    pub(super) fn companion_mode(&self) -> Option<u32> {
        self.meta.as_ref().map(|_| self.mode)
    }

    /// Gives a prepared object its name: flips its record to ready. The name
    /// was claimed by `prepare`, so this cannot fail.
    pub(crate) fn publish(&self, _name: &Name) -> Result<()> {
        if let Some(meta) = self.meta.as_ref().and_then(SharedView::writable) {
            // Release: pairs with the Acquire load of `state` in
            // `read_record`: the initialised contents are published with it.
            meta.state.store(state::READY, Ordering::Release);
        }
        self.unpublished.store(false, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        let Some(meta) = self.meta.as_ref().and_then(SharedView::writable) else {
            return;
        };
        if let Some((slot, me)) = self.holder {
            let _ =
                meta.holders[slot].compare_exchange(me, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
        if self.unpublished.load(Ordering::Relaxed) {
            // Relaxed: waiters only need to see the state change at all.
            let _ = meta.state.compare_exchange(
                state::INITIALISING,
                state::ABANDONED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

/// Makes a new object for `request`, sized and named, but not yet published:
/// see "Publishing only initialised objects" in the module docs.
pub(crate) fn prepare(request: &CreateRequest<'_>) -> Result<Object> {
    let name = request.name;
    if request.persistent {
        return Err(Error::Unsupported {
            what: format!(
                "persistent mapping {name}: Windows deletes a named mapping when its last handle \
                 closes; keep a process holding it, or back it with a file, which keeps the bytes"
            ),
        });
    }
    let mode = request.mode & 0o777;
    let object_name = name.to_string();
    let (protect, file, backing, path) = match request.file {
        None => {
            check_commit(name, request.size)?;
            (PAGE_READWRITE | SEC_COMMIT, None, Backing::Memory, None)
        }
        Some(backing) => {
            let granted = file_access(backing.file).map_err(|source| Error::File {
                path: backing.path.to_owned(),
                source,
            })?;
            let protect = if granted == Access::ReadWrite {
                PAGE_READWRITE
            } else {
                PAGE_READONLY
            };
            let path: Vec<u16> = backing.path.as_os_str().encode_wide().collect();
            if path.len() > PATH_UNITS {
                return Err(Error::Unsupported {
                    what: format!(
                        "backing file paths longer than {PATH_UNITS} UTF-16 units (for {name})"
                    ),
                });
            }
            let file = backing.file.try_clone().map_err(|source| Error::File {
                path: backing.path.to_owned(),
                source,
            })?;
            (
                protect,
                Some(Arc::new(file)),
                Backing::File(backing.path.to_owned()),
                Some(path),
            )
        }
    };
    let security =
        Security::for_mode(mode, Grant::Section).map_err(|e| os_error("create", name, e))?;
    let meta_name = companion(&object_name, "meta");
    let deadline = Instant::now() + BUSY_WAIT;
    let mut backoff = Backoff::default();
    loop {
        // 1. Claim the name by creating the record.
        let (meta_section, existed) = create_section(
            &meta_name,
            None,
            Some(&security),
            size_of::<Meta>() as u64,
            PAGE_READWRITE,
        )
        .map_err(|e| create_error(e, name, request.size, "create"))?;
        if existed {
            match judge_existing(meta_section, &wide(&object_name)) {
                Existing::Taken => {
                    return Err(Error::AlreadyExists {
                        name: name.to_string(),
                    })
                }
                Existing::Settling => {
                    if Instant::now() >= deadline {
                        return Err(Error::Busy {
                            name: name.to_string(),
                        });
                    }
                    backoff.wait();
                    continue;
                }
            }
        }
        let meta = SharedView::<Meta>::map(meta_section, true)
            .map_err(|e| os_error("map the record of", name, e))?;
        let record = meta.get();
        write_record(record, request.size, mode, path.as_deref());
        let abandon = || record.state.store(state::ABANDONED, Ordering::Relaxed);

        // 2. The section itself, under the plain name.
        let section = match create_section(
            &wide(&object_name),
            file.as_deref(),
            Some(&security),
            request.size,
            protect,
        ) {
            Ok((section, false)) => section,
            Ok((_, true)) => {
                // Another program's mapping (it has no record) has the name.
                abandon();
                return Err(Error::AlreadyExists {
                    name: name.to_string(),
                });
            }
            Err(e) => {
                abandon();
                return Err(create_error(e, name, request.size, "create"));
            }
        };
        let holder = register_holder(record);
        return Ok(Object {
            section,
            domain: WaitDomain::new(object_name.clone(), Some(mode)),
            meta: Some(meta),
            file,
            os_name: object_name,
            size: request.size,
            backing,
            owner: effective_uid(),
            mode,
            holder,
            unpublished: AtomicBool::new(true),
        });
    }
}

/// What an existing record means for a `create` of its name.
enum Existing {
    /// A live, published mapping (or something that is not memlink's).
    Taken,
    /// Being initialised by a live process, abandoned, removed, or left by a
    /// dead creator: it resolves by itself shortly.
    Settling,
}

fn judge_existing(record: OwnedHandle, section_name: &[u16]) -> Existing {
    let Ok(view) = SharedView::<Meta>::map(record, false) else {
        return Existing::Taken;
    };
    let meta = view.get();
    // Acquire: pairs with the Release store in `write_record`.
    match meta.magic.load(Ordering::Acquire) {
        // Its creator is writing it right now.
        0 => return Existing::Settling,
        META_MAGIC => {}
        _ => return Existing::Taken,
    }
    match meta.state.load(Ordering::Acquire) {
        // Published; unless its section is already gone and the record is
        // about to follow (its last holders are leaving).
        state::READY
            if open_section(section_name, SECTION_QUERY).is_err_and(|e| is_not_found(&e)) =>
        {
            Existing::Settling
        }
        state::READY => Existing::Taken,
        state::INITIALISING => {
            let creator = meta.creator.load(Ordering::Relaxed);
            let thread = meta.creator_thread.load(Ordering::Relaxed);
            // SAFETY: no arguments.
            let me = unsafe { GetCurrentThreadId() };
            if creator == identity_word(&current_process()) && thread == me {
                // This very thread is initialising it: waiting would not help.
                Existing::Taken
            } else {
                Existing::Settling
            }
        }
        _ => Existing::Settling,
    }
}

/// Fails with `AlreadyExists` when a live mapping has the name, before the
/// caller commits resources (growing a file) to a create that cannot
/// succeed. Only an early answer: `prepare` decides for certain.
pub(crate) fn ensure_free(name: &Name) -> Result<()> {
    let object_name = name.to_string();
    match open_section(&companion(&object_name, "meta"), FILE_MAP_READ) {
        Ok(section) => {
            if let Ok(view) = SharedView::<Meta>::map(section, false) {
                if matches!(read_record(view.get(), name), Ok(Some(_))) {
                    return Err(Error::AlreadyExists {
                        name: name.to_string(),
                    });
                }
            }
            Ok(())
        }
        Err(_) => match open_section(&wide(&object_name), SECTION_QUERY) {
            Ok(_) => Err(Error::AlreadyExists {
                name: name.to_string(),
            }),
            Err(_) => Ok(()),
        },
    }
}

/// Opens an existing named object and holds it.
pub(crate) fn open(request: &OpenRequest<'_>) -> Result<Object> {
    let name = request.name;
    let object_name = name.to_string();
    let writable = request.access == Access::ReadWrite;
    // The record first: see "Publishing" in the module docs.
    let meta = open_record(name, writable)?;
    let record = match &meta {
        Some(view) => match read_record(view.get(), name)? {
            Some(record) => Some(record),
            None => {
                return Err(Error::NotFound {
                    name: name.to_string(),
                })
            }
        },
        None => None,
    };
    let mut desired = FILE_MAP_READ | SECTION_QUERY | READ_CONTROL;
    if writable {
        desired |= FILE_MAP_WRITE;
    }
    let section = open_section(&wide(&object_name), desired)
        .map_err(|e| open_error(e, name, "open", request.access))?;
    let owner = match section_owner(&section) {
        Some((true, rid)) => rid,
        Some((false, rid)) if !request.allow_foreign_owner => {
            return Err(Error::ForeignOwner {
                name: name.to_string(),
                owner: rid,
                me: effective_uid(),
            })
        }
        Some((false, rid)) => rid,
        None => record.as_ref().map_or_else(effective_uid, |r| r.owner),
    };
    let section_size = section_size(&section);
    let Some(record) = record else {
        // No record when we looked, a section now: either another program's
        // mapping, or a memlink one whose creator published its record and
        // section since ("Publishing"). Look again before taking it as
        // foreign: a memlink mapping is opened as one, or not yet at all.
        if let Some(view) = open_record(name, writable)? {
            return match read_record(view.get(), name)? {
                Some(_) => open(request),
                None => Err(Error::NotFound {
                    name: name.to_string(),
                }),
            };
        }
        // Another program's mapping: as it is.
        let size = section_size.ok_or_else(|| Error::Os {
            operation: "query the size of",
            name: name.to_string(),
            source: io::Error::last_os_error(),
        })?;
        return Ok(Object {
            section,
            meta: None,
            domain: WaitDomain::new(object_name.clone(), None),
            file: None,
            os_name: object_name,
            size,
            backing: Backing::Memory,
            owner,
            mode: 0,
            holder: None,
            unpublished: AtomicBool::new(false),
        });
    };
    if section_size.is_some_and(|actual| actual < record.size) {
        return Err(Error::Corrupt {
            name: name.to_string(),
            what: format!(
                "its record says {} bytes, the section has {}",
                record.size,
                section_size.unwrap_or(0)
            ),
        });
    }
    let file = match &record.backing {
        Backing::File(path) => Some(Arc::new(open_backing_file(path, writable, record.size)?)),
        Backing::Memory => None,
    };
    let holder = meta
        .as_ref()
        .and_then(SharedView::writable)
        .and_then(register_holder);
    Ok(Object {
        section,
        meta,
        domain: WaitDomain::new(object_name.clone(), Some(record.mode)),
        file,
        os_name: object_name,
        size: record.size,
        backing: record.backing,
        owner,
        mode: record.mode,
        holder,
        unpublished: AtomicBool::new(false),
    })
}

/// Opens the record of `name` (read-write if `writable` and allowed), or
/// `None` when there is none.
fn open_record(name: &Name, writable: bool) -> Result<Option<SharedView<Meta>>> {
    let meta_name = companion(&name.to_string(), "meta");
    let read_write = FILE_MAP_READ | FILE_MAP_WRITE;
    let (section, writable) = match open_section(
        &meta_name,
        if writable { read_write } else { FILE_MAP_READ },
    ) {
        Ok(section) => (section, writable),
        // A reader without write access to the record: no holder slot.
        Err(e) if writable && e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => {
            match open_section(&meta_name, FILE_MAP_READ) {
                Ok(section) => (section, false),
                Err(e) => return Err(open_error(e, name, "open", Access::ReadOnly)),
            }
        }
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) if e.raw_os_error() == Some(ERROR_INVALID_HANDLE as i32) => return Ok(None),
        Err(e) => return Err(open_error(e, name, "open", Access::ReadOnly)),
    };
    SharedView::map(section, writable)
        .map(Some)
        .map_err(|e| os_error("map the record of", name, e))
}

/// Opens the backing file named by a record and checks that it still covers
/// the mapping (Windows refuses to shrink a mapped file, but the check is
/// cheap and keeps the platforms alike).
fn open_backing_file(path: &std::path::Path, writable: bool, size: u64) -> Result<File> {
    let file_error = |source| Error::File {
        path: path.to_owned(),
        source,
    };
    use std::os::windows::fs::OpenOptionsExt;
    // The path comes from the mapping's record, which its writers can change:
    // whatever it names must not learn who we are (identification level only,
    // so a named pipe server cannot impersonate us) and must be a file on a
    // disk (not a pipe, a console or a device).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .security_qos_flags(SECURITY_IDENTIFICATION)
        .open(path)
        .map_err(file_error)?;
    // SAFETY: `file` is an open handle.
    if unsafe { GetFileType(file.as_raw_handle()) } != FILE_TYPE_DISK {
        return Err(file_error(io::Error::other(
            "not a file on a disk (the mapping's record names something else)",
        )));
    }
    let len = file.metadata().map_err(file_error)?.len();
    if len < size {
        return Err(file_error(io::Error::other(format!(
            "the file is {len} bytes, shorter than the mapping's {size}; it was truncated"
        ))));
    }
    Ok(file)
}

/// Removes a name for memlink: see "Lifetime" in the module docs.
pub(crate) fn remove(name: &Name) -> Result<()> {
    let not_found = || Error::NotFound {
        name: name.to_string(),
    };
    let Some(view) = open_record(name, true)? else {
        return match open_section(&wide(&name.to_string()), SECTION_QUERY) {
            Ok(_) => Err(Error::Unsupported {
                what: format!(
                    "removing {name}, which another program created: Windows deletes a mapping \
                     only when its last handle closes"
                ),
            }),
            Err(e) => Err(open_error(e, name, "remove", Access::ReadWrite)),
        };
    };
    if read_record(view.get(), name)?.is_none() {
        return Err(not_found());
    }
    let Some(meta) = view.writable() else {
        return Err(Error::PermissionDenied {
            name: name.to_string(),
            operation: "remove",
            access: Access::ReadWrite,
        });
    };
    // Relaxed: `open` only needs to see the state change at all.
    match meta.state.compare_exchange(
        state::READY,
        state::REMOVED,
        Ordering::Relaxed,
        Ordering::Relaxed,
    ) {
        Ok(_) => Ok(()),
        Err(_) => Err(not_found()),
    }
}

/// Describes one named object without becoming a holder.
pub(crate) fn inspect(name: &Name) -> Result<MappingInfo> {
    describe(name, &namespace_directory(name.namespace()))
}

fn describe(name: &Name, directory: &str) -> Result<MappingInfo> {
    let object_name = name.to_string();
    let meta = open_record(name, false)?;
    let record = match &meta {
        Some(view) => match read_record(view.get(), name)? {
            Some(record) => Some(record),
            None => {
                return Err(Error::NotFound {
                    name: name.to_string(),
                })
            }
        },
        None => None,
    };
    let section = open_section(&wide(&object_name), SECTION_QUERY | READ_CONTROL)
        .map_err(|e| open_error(e, name, "inspect", Access::ReadOnly))?;
    let rid = section_owner(&section).map(|(_, rid)| rid);
    let path = PathBuf::from(format!("{directory}\\{}", name.base()));
    Ok(match (record, meta) {
        (Some(record), Some(view)) => MappingInfo {
            name: name.clone(),
            size: record.size,
            os_name: object_name,
            path,
            backing: record.backing,
            owner: rid.unwrap_or(record.owner),
            mode: record.mode,
            persistent: false,
            live: Some(true),
            holders: live_holders(view.get()),
        },
        _ => MappingInfo {
            name: name.clone(),
            size: section_size(&section).unwrap_or(0),
            os_name: object_name,
            path,
            backing: Backing::Memory,
            owner: rid.unwrap_or_else(effective_uid),
            mode: 0,
            persistent: false,
            live: Some(true),
            holders: Vec::new(),
        },
    })
}

/// Describes every mapping of a namespace that this user can see, by
/// reading the namespace's object directory.
pub(crate) fn list(namespace: Namespace) -> Result<Vec<MappingInfo>> {
    let directory = namespace_directory(namespace);
    let mut entries = Vec::new();
    for (base, kind) in read_directory(&directory).map_err(|source| Error::Os {
        operation: "list the object directory",
        name: directory.clone(),
        source,
    })? {
        // Companion objects have a `/` in their names; plain names only.
        if kind != "Section" || base.contains('/') {
            continue;
        }
        let Ok(name) = Name::parse(&format!("{namespace}\\{base}")) else {
            continue;
        };
        // Gone since we read the directory, not ready, not ours to see, or
        // not readable at all (a record someone planted): one entry that
        // cannot be described must not hide the others.
        if let Ok(info) = describe(&name, &directory) {
            entries.push(info);
        }
    }
    entries.sort_by(|a, b| a.name.base().cmp(b.name.base()));
    Ok(entries)
}

/// Nothing is ever stale on Windows: a section goes with its last handle,
/// and Windows closes the handles of dead processes.
pub(crate) fn reclaim_stale(_namespace: Namespace) -> Result<Vec<Name>> {
    Ok(Vec::new())
}

/// The access a file was opened with (from the handle's granted access).
pub(crate) fn file_access(file: &File) -> io::Result<Access> {
    #[repr(C)]
    struct BasicInformation {
        attributes: u32,
        granted_access: u32,
        handle_count: u32,
        pointer_count: u32,
        reserved: [u32; 10],
    }
    let mut info = MaybeUninit::<BasicInformation>::zeroed();
    // SAFETY: `file` is an open handle and `info` a writable buffer of the
    // size given.
    let status = unsafe {
        NtQueryObject(
            file.as_raw_handle(),
            ObjectBasicInformation,
            info.as_mut_ptr().cast(),
            size_of::<BasicInformation>() as u32,
            null_mut(),
        )
    };
    if status < 0 {
        return Err(io::Error::other(format!(
            "NtQueryObject failed with status {status:#010x}"
        )));
    }
    // SAFETY: zero-initialised and filled in by the call above.
    let granted = unsafe { info.assume_init() }.granted_access;
    let read = granted & FILE_READ_DATA != 0;
    let write = granted & FILE_WRITE_DATA != 0;
    Ok(match (read, write) {
        (true, true) => Access::ReadWrite,
        // Write-only cannot be mapped at all; report it as the narrowest.
        (false, true) => Access::CopyOnWrite,
        _ => Access::ReadOnly,
    })
}

/// Grows a backing file from `from` to `to` bytes. Extending a file on
/// Windows allocates its blocks, so a full disk fails here.
pub(crate) fn grow_file(file: &File, from: u64, to: u64) -> io::Result<()> {
    file.set_len(to).inspect_err(|_| {
        let _ = file.set_len(from);
    })
}

/// The absolute path of an open file (`\\?\C:\...`, the form
/// `std::fs::canonicalize` gives), if it has one.
pub(crate) fn file_path(file: &File) -> Option<PathBuf> {
    let mut buf = vec![0u16; 512];
    loop {
        // SAFETY: `file` is an open handle; `buf` is writable for its length.
        let len = unsafe {
            GetFinalPathNameByHandleW(
                file.as_raw_handle(),
                buf.as_mut_ptr(),
                buf.len() as u32,
                FILE_NAME_NORMALIZED | VOLUME_NAME_DOS,
            )
        } as usize;
        if len == 0 {
            return None;
        }
        if len < buf.len() {
            use std::os::windows::ffi::OsStringExt;
            return Some(PathBuf::from(std::ffi::OsString::from_wide(&buf[..len])));
        }
        buf.resize(len + 1, 0);
    }
}

// ---------------------------------------------------------------------------
// Sections, names and errors

/// `text` as a NUL-terminated UTF-16 string.
pub(super) fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

/// The NUL-terminated name of a companion object of `object`.
pub(super) fn companion(object: &str, suffix: &str) -> Vec<u16> {
    wide(&format!("{object}/{suffix}"))
}

/// Takes ownership of a handle a Win32 call returned; `None` for null.
pub(super) fn owned(handle: HANDLE) -> Option<OwnedHandle> {
    // SAFETY: a non-null handle that a call just returned is open and ours.
    (!handle.is_null()).then(|| unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// The raw value of a borrowed handle, for calls.
pub(super) fn raw(handle: &OwnedHandle) -> HANDLE {
    handle.as_raw_handle()
}

/// Creates (or, if the name exists, opens) a section; says whether it
/// existed. `file`: `None` for memory (the paging file).
pub(super) fn create_section(
    name: &[u16],
    file: Option<&File>,
    security: Option<&Security>,
    size: u64,
    protect: PAGE_PROTECTION_FLAGS,
) -> io::Result<(OwnedHandle, bool)> {
    let attributes = security.map(Security::attributes);
    let file_handle = file.map_or(INVALID_HANDLE_VALUE, |f| f.as_raw_handle());
    // SAFETY: `name` is NUL-terminated; `attributes` (if any) points to a
    // valid descriptor that outlives the call; `file_handle` is open or the
    // paging-file marker.
    let (handle, error) = unsafe {
        SetLastError(0);
        let handle = CreateFileMappingW(
            file_handle,
            attributes.as_ref().map_or(null(), |a| a as *const _),
            protect,
            (size >> 32) as u32,
            size as u32,
            name.as_ptr(),
        );
        (handle, GetLastError())
    };
    match owned(handle) {
        Some(section) => Ok((section, error == ERROR_ALREADY_EXISTS)),
        None => Err(io::Error::from_raw_os_error(error as i32)),
    }
}

/// Opens an existing section with `access`.
pub(super) fn open_section(name: &[u16], access: u32) -> io::Result<OwnedHandle> {
    // SAFETY: `name` is NUL-terminated.
    let handle = unsafe { OpenFileMappingW(access, 0, name.as_ptr()) };
    owned(handle).ok_or_else(io::Error::last_os_error)
}

/// The size Windows reports for a section (page-rounded for memory-backed
/// ones); `None` if it will not say.
fn section_size(section: &OwnedHandle) -> Option<u64> {
    #[repr(C)]
    struct SectionBasicInformation {
        base: *mut c_void,
        attributes: u32,
        size: i64,
    }
    let mut info = MaybeUninit::<SectionBasicInformation>::zeroed();
    // SAFETY: an open section handle (with SECTION_QUERY) and a writable
    // buffer of the size given.
    let status = unsafe {
        NtQuerySection(
            raw(section),
            0,
            info.as_mut_ptr().cast(),
            size_of::<SectionBasicInformation>(),
            null_mut(),
        )
    };
    // SAFETY: zero-initialised, filled in on success.
    (status >= 0).then(|| unsafe { info.assume_init() }.size.max(0) as u64)
}

fn is_not_found(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND)
    )
}

/// Maps the failure of a create to memlink's errors.
pub(super) fn create_error(e: io::Error, name: &Name, size: u64, operation: &'static str) -> Error {
    let code = e.raw_os_error().unwrap_or(0) as u32;
    match code {
        ERROR_ALREADY_EXISTS => Error::AlreadyExists {
            name: name.to_string(),
        },
        ERROR_INVALID_HANDLE => wrong_kind(name),
        ERROR_FILE_INVALID => Error::ZeroSize {
            name: name.to_string(),
            reason: "the backing file is empty and size 0 means the file's size",
        },
        ERROR_ACCESS_DENIED if name.namespace() == Namespace::Global => Error::PermissionDenied {
            name: format!(
                "{name} (creating Global\\ objects outside session 0 needs the \
                 SeCreateGlobalPrivilege privilege, or the name is another user's)"
            ),
            operation,
            access: Access::ReadWrite,
        },
        ERROR_ACCESS_DENIED => Error::PermissionDenied {
            name: name.to_string(),
            operation,
            access: Access::ReadWrite,
        },
        ERROR_INVALID_PARAMETER => Error::invalid_argument(format!(
            "Windows refused the parameters for {name} (size {size}): {e}"
        )),
        ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_COMMITMENT_LIMIT | ERROR_DISK_FULL => {
            Error::NoSpace {
                name: name.to_string(),
                size,
                source: e,
            }
        }
        _ => os_error(operation, name, e),
    }
}

/// Maps the failure of an open to memlink's errors.
pub(super) fn open_error(
    e: io::Error,
    name: &Name,
    operation: &'static str,
    access: Access,
) -> Error {
    match e.raw_os_error().unwrap_or(0) as u32 {
        ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND => Error::NotFound {
            name: name.to_string(),
        },
        ERROR_INVALID_HANDLE => wrong_kind(name),
        ERROR_ACCESS_DENIED => Error::PermissionDenied {
            name: name.to_string(),
            operation,
            access,
        },
        _ => os_error(operation, name, e),
    }
}

fn wrong_kind(name: &Name) -> Error {
    Error::WrongKind {
        name: name.to_string(),
        expected: "file mapping",
        found: "named object of another kind (mutex, event, semaphore, ...)",
    }
}

fn os_error(operation: &'static str, name: &Name, source: io::Error) -> Error {
    Error::Os {
        operation,
        name: name.to_string(),
        source,
    }
}

/// A memory-backed mapping larger than the system's commit limit (RAM plus
/// paging files) can never be backed: refuse it now, with the error Windows
/// itself gives when it checks.
fn check_commit(name: &Name, size: u64) -> Result<()> {
    let mut status = MEMORYSTATUSEX {
        dwLength: size_of::<MEMORYSTATUSEX>() as u32,
        // SAFETY: all-zero is a valid MEMORYSTATUSEX (plain integers).
        ..unsafe { std::mem::zeroed() }
    };
    // SAFETY: `status` is a valid, writable MEMORYSTATUSEX with its length set.
    let ok = unsafe { GlobalMemoryStatusEx(&mut status) } != 0;
    // Wine now and then answers "success" with all zeros: no limit known.
    let limit = match status.ullTotalPageFile {
        0 => u64::MAX,
        total if ok => total,
        _ => u64::MAX,
    };
    if size > limit || usize::try_from(size).is_err() {
        return Err(Error::NoSpace {
            name: name.to_string(),
            size,
            source: io::Error::from_raw_os_error(ERROR_COMMITMENT_LIMIT as i32),
        });
    }
    Ok(())
}

/// The object-manager directory that a namespace's names live in.
fn namespace_directory(namespace: Namespace) -> String {
    let mut session = 0u32;
    // SAFETY: `session` is a valid out-pointer.
    let ok = unsafe { ProcessIdToSessionId(GetCurrentProcessId(), &mut session) } != 0;
    match namespace {
        Namespace::Local if ok && session != 0 => {
            format!("\\Sessions\\{session}\\BaseNamedObjects")
        }
        _ => "\\BaseNamedObjects".to_owned(),
    }
}

/// The (name, type) of every object in an object-manager directory.
fn read_directory(directory: &str) -> io::Result<Vec<(String, String)>> {
    #[repr(C)]
    struct DirectoryInformation {
        name: UNICODE_STRING,
        kind: UNICODE_STRING,
    }
    let path: Vec<u16> = directory.encode_utf16().collect();
    let bytes = u16::try_from(path.len() * 2).map_err(|_| io::ErrorKind::InvalidInput)?;
    let object_name = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: path.as_ptr().cast_mut(),
    };
    let attributes = OBJECT_ATTRIBUTES {
        Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: null_mut(),
        ObjectName: &object_name,
        Attributes: 0,
        SecurityDescriptor: null(),
        SecurityQualityOfService: null(),
    };
    let mut handle: HANDLE = null_mut();
    const DIRECTORY_QUERY: u32 = 0x0001;
    // SAFETY: `attributes` and the string it points to outlive the call;
    // `handle` is a valid out-pointer.
    let status = unsafe { NtOpenDirectoryObject(&mut handle, DIRECTORY_QUERY, &attributes) };
    if status < 0 {
        return Err(io::Error::other(format!(
            "NtOpenDirectoryObject failed with status {status:#010x}"
        )));
    }
    let directory = owned(handle).ok_or(io::ErrorKind::Other)?;
    let mut entries = Vec::new();
    // One entry at a time: Wine implements only that mode. Room for the
    // longest object name there is (32767 UTF-16 units) and its type.
    let mut buf = vec![0u64; 9 * 1024];
    let mut context = 0u32;
    let mut first = true;
    loop {
        // SAFETY: `buf` is writable for the length given; `context` is a valid
        // in/out pointer.
        let status = unsafe {
            NtQueryDirectoryObject(
                raw(&directory),
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                true,
                std::mem::take(&mut first),
                &mut context,
                null_mut(),
            )
        };
        if status == STATUS_NO_MORE_ENTRIES {
            break;
        }
        if status < 0 {
            return Err(io::Error::other(format!(
                "NtQueryDirectoryObject failed with status {status:#010x}"
            )));
        }
        // SAFETY: on success the buffer starts with one entry whose strings
        // point into the same buffer, within the length it reports.
        let (name, kind) = unsafe {
            let entry = &*buf.as_ptr().cast::<DirectoryInformation>();
            (unicode(&entry.name), unicode(&entry.kind))
        };
        entries.push((name, kind));
    }
    Ok(entries)
}

/// # Safety
///
/// `text` must describe `Length` readable bytes (or have a null buffer).
unsafe fn unicode(text: &UNICODE_STRING) -> String {
    if text.Buffer.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    let units = unsafe { std::slice::from_raw_parts(text.Buffer, usize::from(text.Length) / 2) };
    String::from_utf16_lossy(units)
}

/// Waits that grow from a yield to a few milliseconds.
#[derive(Default)]
pub(super) struct Backoff {
    step: u32,
}

impl Backoff {
    pub(super) fn wait(&mut self) {
        if self.step < 4 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(100 << self.step.min(9)));
        }
        self.step += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    #[test]
    fn windows_errors_map_to_memlink_errors() {
        let local = name("Local\\x");
        let global = name("Global\\x");
        let e = |code: u32| io::Error::from_raw_os_error(code as i32);
        assert!(matches!(
            create_error(e(ERROR_ALREADY_EXISTS), &local, 1, "create"),
            Error::AlreadyExists { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_INVALID_HANDLE), &local, 1, "create"),
            Error::WrongKind { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_FILE_INVALID), &local, 0, "create"),
            Error::ZeroSize { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_INVALID_PARAMETER), &local, 0, "create"),
            Error::InvalidArgument { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_COMMITMENT_LIMIT), &local, 9, "create"),
            Error::NoSpace { size: 9, .. }
        ));
        match create_error(e(ERROR_ACCESS_DENIED), &global, 1, "create") {
            err @ Error::PermissionDenied { .. } => {
                assert!(err.to_string().contains("SeCreateGlobalPrivilege"), "{err}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            create_error(e(ERROR_ACCESS_DENIED), &local, 1, "create"),
            Error::PermissionDenied { .. }
        ));
        assert!(matches!(
            open_error(e(ERROR_FILE_NOT_FOUND), &local, "open", Access::ReadOnly),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            open_error(e(ERROR_INVALID_HANDLE), &local, "open", Access::ReadOnly),
            Error::WrongKind { .. }
        ));
    }

    use crate::{Disposition, Mapping, MappingOptions};
    use std::sync::atomic::AtomicU32;
    use windows_sys::Win32::System::Threading::CreateMutexW;

    fn unique(tag: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        format!("mltest-win-{tag}-{}-{n}", std::process::id())
    }

    /// Reads the first `len` bytes of the section `name` with plain Win32.
    fn raw_read(name: &str, len: usize) -> Vec<u8> {
        let section = open_section(&wide(name), FILE_MAP_READ).unwrap();
        // SAFETY: an open section; the view is unmapped below.
        let view = unsafe { MapViewOfFile(raw(&section), FILE_MAP_READ, 0, 0, len) };
        assert!(!view.Value.is_null());
        // SAFETY: the view maps at least `len` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(view.Value.cast::<u8>(), len) }.to_vec();
        // SAFETY: our own view, unmapped once.
        unsafe { UnmapViewOfFile(view) };
        bytes
    }

    #[test]
    fn sections_are_shared_with_programs_that_use_win32_directly() {
        // memlink → Win32: the Global name is the section's own name.
        let base = unique("to-win32");
        let global = format!("Global\\{base}");
        let mapping = Mapping::create(&global, 4096).unwrap();
        assert_eq!(mapping.os_name(), global);
        mapping
            .view_all()
            .unwrap()
            .write_at(0, b"to win32")
            .unwrap();
        assert_eq!(raw_read(&global, 8), b"to win32");
        drop(mapping);
        assert!(
            open_section(&wide(&global), FILE_MAP_READ).is_err(),
            "gone with its handles"
        );

        // Win32 → memlink: a section another program made, opened by name.
        let other = format!("Local\\{}", unique("from-win32"));
        let (section, existed) =
            create_section(&wide(&other), None, None, 14, PAGE_READWRITE).unwrap();
        assert!(!existed);
        // SAFETY: an open section; the view is unmapped below.
        let view = unsafe { MapViewOfFile(raw(&section), FILE_MAP_WRITE, 0, 0, 14) };
        // SAFETY: 14 writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(b"from elsewhere".as_ptr(), view.Value.cast(), 14) };
        // SAFETY: our own view, unmapped once.
        unsafe { UnmapViewOfFile(view) };
        let opened = Mapping::open(&other).unwrap();
        assert!(opened.size() >= 14, "Windows may round it up to a page");
        let mut buf = [0u8; 14];
        opened.view(0, 14).unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"from elsewhere");
        assert_eq!(
            opened.mode(),
            0,
            "not recorded for other programs' mappings"
        );
        assert!(!opened.is_persistent());
        let info = Mapping::inspect(&other).unwrap();
        assert_eq!(info.size, opened.size());
        assert!(Mapping::list(Namespace::Local)
            .unwrap()
            .iter()
            .any(|i| i.name.to_string() == other));
        assert!(matches!(
            Mapping::remove(&other),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(
            Mapping::create(&other, 10),
            Err(Error::AlreadyExists { .. })
        ));
        drop((opened, section));
        assert!(matches!(Mapping::open(&other), Err(Error::NotFound { .. })));
    }

    #[test]
    fn a_name_held_by_a_mutex_is_refused() {
        let name = format!("Local\\{}", unique("mutex"));
        let text = wide(&name);
        // SAFETY: `text` is NUL-terminated; the handle is owned below.
        let mutex = owned(unsafe { CreateMutexW(null(), 0, text.as_ptr()) }).unwrap();
        for result in [Mapping::create(&name, 64), Mapping::open(&name)] {
            match result {
                Err(Error::WrongKind { expected, .. }) => assert_eq!(expected, "file mapping"),
                other => panic!("{other:?}"),
            }
        }
        drop(mutex);
        Mapping::create(&name, 64).unwrap();
    }

    #[test]
    fn remove_hides_a_held_mapping_until_its_holders_leave() {
        let name = unique("remove");
        let held = Mapping::create(&name, 64).unwrap();
        held.view_all().unwrap().write_at(0, b"kept").unwrap();
        Mapping::remove(&name).unwrap();
        assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
        assert!(matches!(
            Mapping::inspect(&name),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            Mapping::remove(&name),
            Err(Error::NotFound { .. })
        ));
        // Windows keeps the name while it is held: a create waits, then says so.
        assert!(matches!(
            Mapping::create(&name, 64),
            Err(Error::Busy { .. })
        ));
        // The holder keeps its memory.
        let mut buf = [0u8; 4];
        held.view_all().unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"kept");
        drop(held);
        let fresh = Mapping::create(&name, 64).unwrap();
        fresh.view_all().unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(buf, [0; 4]);
    }

    #[test]
    fn another_thread_waits_for_an_initialisation_in_progress() {
        let name = unique("init-race");
        let (started, go) = std::sync::mpsc::channel();
        let creator = {
            let name = name.clone();
            std::thread::spawn(move || {
                MappingOptions::new()
                    .size(64)
                    .create_initialized(&name, |view| {
                        started.send(()).unwrap();
                        std::thread::sleep(Duration::from_millis(200));
                        view.write_at(0, b"whole")
                    })
                    .unwrap()
            })
        };
        go.recv().unwrap();
        // Not there yet for anyone; a create of the name waits for the
        // initialisation to finish, and then finds the name taken.
        assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
        let (opened, disposition) = Mapping::open_or_create(&name, 64).unwrap();
        assert_eq!(disposition, Disposition::Opened);
        let mut buf = [0u8; 5];
        opened.view(0, 5).unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"whole");
        drop(creator.join().unwrap());
    }

    #[test]
    fn listing_shows_sizes_holders_and_modes() {
        let name = unique("list");
        let mine = MappingOptions::new()
            .size(100)
            .mode(0o640)
            .create(&name)
            .unwrap();
        let second = Mapping::open(&name).unwrap();
        let info = Mapping::list(Namespace::Local)
            .unwrap()
            .into_iter()
            .find(|i| i.name.base() == name)
            .expect("listed");
        assert_eq!(info.size, 100, "the logical size");
        assert_eq!(info.mode, 0o640);
        assert_eq!(info.live, Some(true));
        assert!(!info.persistent);
        assert_eq!(info.holders, vec![std::process::id()]);
        assert_eq!(info.os_name, format!("Local\\{name}"));
        assert!(info
            .path
            .to_string_lossy()
            .ends_with(&format!("BaseNamedObjects\\{name}")));
        assert_eq!(info.owner, effective_uid());
        drop((mine, second));
        assert!(Mapping::list(Namespace::Local)
            .unwrap()
            .iter()
            .all(|i| i.name.base() != name));
        assert!(Mapping::reclaim_stale().unwrap().is_empty());
    }
}
