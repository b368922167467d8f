//! The object lifecycle: `prepare` / `publish`, `open`, `remove` of a
//! mapping and its record (`record.rs`).
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
//! process holding the mapping; a backing file keeps the bytes, not the
//! name), after `AlreadyExists` if the name is taken, and before a backing
//! file is touched (see `NO_PERSISTENCE` in the mapping layer). `remove` cannot take a name away from its holders either: it marks
//! the record *removed*, after which memlink's `open` reports `NotFound` and
//! the name is freed when the last holder lets go (a `create` meanwhile
//! reports `Busy`). Mappings made by other programs cannot be removed.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::mem::size_of;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{BorrowedHandle, OwnedHandle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::ERROR_COMMITMENT_LIMIT;
use windows_sys::Win32::Storage::FileSystem::READ_CONTROL;
use windows_sys::Win32::System::Memory::{
    FILE_MAP_READ, FILE_MAP_WRITE, PAGE_READONLY, PAGE_READWRITE, SEC_COMMIT,
};
use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};

use super::error::{create_error, open_error, os_error};
use super::file::{file_access, open_backing_file};
use super::handle::{companion, wide};
use super::record::{
    judge_existing, open_record, published, read_record, register_holder, write_record, Existing,
    Meta, PATH_UNITS,
};
use super::section::{create_section, open_section, section_size, SharedView, SECTION_QUERY};
use super::security::{effective_uid, section_owner, Grant, Security};
use super::sync::WaitDomain;
use crate::error::{Error, Result};
use crate::name::{Name, Namespace};
use crate::sys::{Backoff, CreateRequest, OpenRequest};
use crate::types::{Access, Backing};

/// Why Windows has no persistent mappings, for `Error::Unsupported`.
pub(crate) const NO_PERSISTENCE: Option<&str> = Some(
    "Windows deletes a named mapping when its last handle closes; keep a process holding it \
     (as `memlink create --hold` does). A backing file keeps the bytes, not the name",
);

fn no_persistence(name: &Name) -> Error {
    Error::Unsupported {
        what: format!(
            "persistent mapping {name}: {}",
            NO_PERSISTENCE.unwrap_or_default()
        ),
    }
}

/// How long `create` waits for a name that another process is still
/// initialising, or whose last holders are leaving.
const BUSY_WAIT: Duration = Duration::from_secs(2);

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
    /// Stops counting as a holder while staying open: impossible on
    /// Windows, where every open handle keeps a section alive (an observer
    /// delays its end by the moment it looks).
    pub(crate) fn stop_holding(&self) {}
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
            meta.mark_ready();
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
            meta.release_holder(slot, me);
        }
        if self.unpublished.load(Ordering::Relaxed) {
            meta.abandon_unpublished();
        }
    }
}

/// Makes a new object for `request`, sized and named, but not yet published:
/// see "Publishing only initialised objects" in the module docs.
pub(crate) fn prepare(request: &CreateRequest<'_>) -> Result<Object> {
    let name = request.name;
    if request.huge_pages {
        return Err(Error::Unsupported {
            what: format!(
                "huge pages for {name}: Windows large pages need the SeLockMemoryPrivilege right and a SEC_LARGE_PAGES section, which memlink does not make"
            ),
        });
    }
    if request.persistent {
        return Err(no_persistence(name));
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
        let abandon = || record.abandon();

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
    let record = published(meta.as_ref(), name)?;
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
            backing: Backing::Unknown,
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
        Backing::Memory | Backing::Unknown => None,
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
    if meta.mark_removed() {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// Nothing is ever stale on Windows: a section goes with its last handle,
/// and Windows closes the handles of dead processes.
pub(crate) fn reclaim_stale(_namespace: Namespace) -> Result<Vec<Name>> {
    Ok(Vec::new())
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

#[cfg(test)]
mod tests {
    use super::*;

    use std::ptr::null;
    use std::sync::atomic::AtomicU32;

    use windows_sys::Win32::System::Memory::{MapViewOfFile, UnmapViewOfFile};
    use windows_sys::Win32::System::Threading::CreateMutexW;

    use super::super::handle::{owned, raw};
    use crate::{Disposition, Mapping, MappingOptions};

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
    fn another_programs_file_backed_section_is_described_without_false_facts() {
        // What a Win32 program does: CreateFileMappingW on its own file,
        // with its own (default) security.
        let path = std::env::temp_dir().join(format!("{}.bin", unique("foreign-file")));
        std::fs::write(&path, [5u8; 8192]).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let other = format!("Local\\{}", unique("foreign-file"));
        let (section, existed) =
            create_section(&wide(&other), Some(&file), None, 0, PAGE_READWRITE).unwrap();
        assert!(!existed);
        let info = Mapping::inspect(&other).unwrap();
        // Windows says neither what backs it nor a mode: memlink must not
        // claim "memory" or "0000".
        assert_eq!(info.backing, Backing::Unknown);
        assert_eq!(info.mode, None);
        assert_eq!(info.size, 8192);
        let opened = Mapping::open(&other).unwrap();
        assert_eq!(opened.backing(), &Backing::Unknown);
        let mut buf = [0u8; 4];
        opened.view(0, 4).unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(buf, [5; 4]);
        drop((opened, section, file));
        std::fs::remove_file(path).unwrap();
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
        assert_eq!(info.mode, Some(0o640));
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
