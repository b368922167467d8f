//! Named objects on macOS: POSIX shared memory (`shm_open`) for the bytes,
//! and an entry file per name for everything a macOS shm object cannot
//! carry (no directory to list, no `flock`, no links, a 31-byte name limit).
//!
//! Compile-checked in CI (`cargo check --target x86_64-apple-darwin`); not
//! run there, as no macOS machine is available.
//!
//! # Where names live
//!
//! | memlink name  | entry file                      | shm name                              |
//! |---------------|---------------------------------|---------------------------------------|
//! | `Global\NAME` | `/tmp/memlink-global/NAME`      | `/NAME` if at most 30 bytes, else hashed |
//! | `Local\NAME`  | `/tmp/memlink-<euid>/NAME`      | always hashed (per user)              |
//!
//! macOS refuses shm names longer than 31 bytes (`PSHMNAMLEN`), slash
//! included. A hashed name is deterministic: `/` + up to 12 bytes of the
//! base name (characters other than ASCII letters, digits, `.`, `_` and `-`
//! become `_`) + `~` + the 16 hex digits of the 64-bit FNV-1a hash of
//! `Global\NAME` or `Local\<euid>\NAME`: at most 30 bytes. So a short
//! `Global\NAME` is exactly the POSIX name `/NAME` that other programs can
//! `shm_open`; longer ones and all `Local\` names are memlink's own. The
//! entry file records the shm name, so a hash collision is a clean
//! `AlreadyExists`, never a shared object.
//!
//! Temporary entries and endpoint lock files live beside, in
//! `/tmp/memlink-global.work` and `/tmp/memlink-<euid>.work`, so that no
//! memlink name can collide with them. The global directories are
//! world-writable with the sticky bit, like `/tmp`; the per-user ones are
//! `0700` and must be owned by the caller.
//!
//! # Entries, publishing, lifetime
//!
//! An entry is `memlink entry 1`, then `transient|persistent`,
//! `memory|file` and the logical size, then the shm name or the backing
//! file's absolute path; its permission bits are the mapping's mode. It is
//! written under a temporary name in the work directory and published with
//! `link` (which fails if the name exists), as on Linux; a memory-backed
//! mapping's shm object is created (`O_EXCL`) and sized with its one and
//! only `ftruncate` before that. Holders keep a shared `flock` on the entry;
//! the last one to leave a transient mapping (an exclusive lock succeeds)
//! unlinks the shm object and the entry. If every holder was killed, the
//! next `open` or `create` of the name, or `reclaim_stale`, finds an entry
//! nobody holds and removes both.
//!
//! Known gaps: `MappingInfo::holders` is empty (macOS has no `/proc` to
//! read); the shm object of a creator killed before publishing stays until
//! the name is created again (hashed names) or removed (`/NAME`).

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use rustix::fs::{
    fchmod, flock, fstat, ftruncate, linkat, mkdirat, openat, statat, unlinkat, AtFlags,
    FlockOperation, Mode, OFlags, CWD,
};
use rustix::io::Errno;
use rustix::shm;

use crate::error::{Error, Result};
use crate::name::{Name, Namespace};
use crate::sys::unix::effective_uid;
use crate::sys::unix::entry::{
    self, bury, check_owner, check_regular, identity, join_holders, missing_or, names_same,
    open_error, os_error, read_all, remove_error, write_all, BusySince, Joined, OpenRounds,
};
use crate::sys::unix::file::open_backing_file;
use crate::sys::{CreateRequest, OpenRequest, Reclaim};
use crate::types::{Access, Backing, MappingInfo};

const GLOBAL_DIR: &str = "/tmp/memlink-global";
const LOCAL_DIR_PREFIX: &str = "/tmp/memlink-";
const WORK_SUFFIX: &str = ".work";
/// `PSHMNAMLEN`: the longest shm name macOS accepts, slash included.
const SHM_NAME_MAX: usize = 31;
/// How much of the base name a hashed shm name keeps.
const HASHED_PREFIX: usize = 12;
const ENTRY_MAGIC: &[u8] = b"memlink entry 1\n";
const ENTRY_MAX: usize = 4096 + 128;

/// A held named object: the entry (locked shared as a holder) and the
/// descriptor of its bytes.
#[derive(Debug)]
pub(crate) struct Object {
    dir: OwnedFd,
    pub(super) work: OwnedFd,
    base: String,
    entry: OwnedFd,
    data: OwnedFd,
    /// The shm object behind a memory-backed mapping of memlink's.
    shm_name: Option<String>,
    /// The temporary entry of a prepared, unpublished object.
    temporary: String,
    published: AtomicBool,
    identity: (u64, u64),
    transient: bool,
    size: u64,
    backing: Backing,
    owner: u32,
    pub(super) mode: u32,
    os_name: String,
    /// The hash that names this object's endpoint lock files.
    pub(super) key: u64,
}

impl Object {
    /// Stops counting as a holder while staying open (see
    /// [`entry::stop_holding`]).
    pub(crate) fn stop_holding(&self) {
        entry::stop_holding(&self.entry);
    }
    /// The descriptor to map.
    pub(crate) fn data(&self) -> BorrowedFd<'_> {
        self.data.as_fd()
    }
    /// The logical size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
    /// What backs it.
    pub(crate) fn backing(&self) -> &Backing {
        &self.backing
    }
    /// Whether it stays after its last holder.
    pub(crate) fn persistent(&self) -> bool {
        !self.transient
    }
    /// The owning user id.
    pub(crate) fn owner(&self) -> u32 {
        self.owner
    }
    /// The permission bits.
    pub(crate) fn mode(&self) -> u32 {
        self.mode
    }
    /// The OS-level name: the shm name, or the backing file's path.
    pub(crate) fn os_name(&self) -> &str {
        &self.os_name
    }

    /// Gives a prepared object its name, atomically: `AlreadyExists` if a
    /// live object has it; a dead transient one is taken over.
    pub(crate) fn publish(&self, name: &Name) -> Result<()> {
        let link = || {
            linkat(
                &self.work,
                self.temporary.as_str(),
                &self.dir,
                self.base.as_str(),
                AtFlags::empty(),
            )
        };
        entry::publish(
            name,
            link,
            || reclaim_if_dead(&self.dir, &self.base),
            |e| os_error("create", name, e),
        )?;
        let _ = unlinkat(&self.work, self.temporary.as_str(), AtFlags::empty());
        self.published.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        if !self.published.load(Ordering::Relaxed) {
            let _ = unlinkat(&self.work, self.temporary.as_str(), AtFlags::empty());
            if let Some(shm_name) = &self.shm_name {
                let _ = shm::unlink(shm_name.as_str());
            }
            return;
        }
        if !self.transient {
            return;
        }
        if entry::leave(&self.entry) && names_same(&self.dir, &self.base, self.identity) {
            let _ = remove_entry(&self.dir, &self.base, self.shm_name.as_deref());
        }
    }
}

/// Makes a new object for `request`, sized and locked, but not yet visible
/// under its name: [`Object::publish`] does that.
pub(crate) fn prepare(request: &CreateRequest<'_>) -> Result<Object> {
    let name = request.name;
    if request.huge_pages {
        return Err(Error::Unsupported {
            what: format!("huge pages for {name}: macOS has no huge pages for shared memory"),
        });
    }
    let (dir, work) = namespace_dirs(name.namespace(), true).map_err(|e| dir_error(name, e))?;
    check_free(&dir, name)?;
    let mode = request.mode & 0o777;
    let temporary = temporary_name();
    let entry = openat(
        &work,
        temporary.as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| os_error("create", name, e))?;
    let cleanup = |shm_name: Option<&str>| {
        let _ = unlinkat(&work, temporary.as_str(), AtFlags::empty());
        if let Some(shm_name) = shm_name {
            let _ = shm::unlink(shm_name);
        }
    };
    let (data, shm_name, backing, target) = match request.file {
        None => {
            let shm_name = shm_name(name);
            match create_shm(&dir, name, &shm_name, mode, request.size) {
                Ok(data) => (data, Some(shm_name.clone()), Backing::Memory, shm_name),
                Err(e) => {
                    cleanup(None);
                    return Err(e);
                }
            }
        }
        Some(file) => {
            let data = file.file.try_clone().map_err(|source| Error::File {
                path: file.path.to_owned(),
                source,
            });
            let data = match data {
                Ok(data) => OwnedFd::from(data),
                Err(e) => {
                    cleanup(None);
                    return Err(e);
                }
            };
            let target = file.path.to_string_lossy().into_owned();
            (data, None, Backing::File(file.path.to_owned()), target)
        }
    };
    let written = write_entry(&entry, !request.persistent, &backing, request.size, &target)
        .and_then(|()| fchmod(&entry, mode_bits(mode)))
        .and_then(|()| flock(&entry, FlockOperation::NonBlockingLockShared))
        .and_then(|()| fstat(&entry));
    let stat = match written {
        Ok(stat) => stat,
        Err(e) => {
            cleanup(shm_name.as_deref());
            return Err(os_error("create", name, e));
        }
    };
    Ok(Object {
        os_name: shm_name.clone().unwrap_or_else(|| target.clone()),
        key: name_hash(name),
        dir,
        work,
        base: name.base().to_owned(),
        entry,
        data,
        shm_name,
        temporary,
        published: AtomicBool::new(false),
        identity: identity(&stat),
        transient: !request.persistent,
        size: request.size,
        backing,
        owner: stat.st_uid,
        mode,
    })
}

/// Creates and sizes the shm object of a new memory-backed mapping. The one
/// `ftruncate` macOS allows on it happens here.
fn create_shm(dir: &OwnedFd, name: &Name, shm_name: &str, mode: u32, size: u64) -> Result<OwnedFd> {
    let no_space = |e: Errno| Error::NoSpace {
        name: name.to_string(),
        size,
        source: e.into(),
    };
    let size_off = i64::try_from(size).map_err(|_| no_space(Errno::FBIG))?;
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
    let mut retried = false;
    let data = loop {
        match shm::open(shm_name, flags, mode_bits(mode)) {
            Ok(data) => break data,
            Err(Errno::EXIST) if !retried && is_hashed(name) && !entry_alive(dir, name) => {
                // A hashed name is memlink's own: with no live entry it is
                // the leftover of a creator that died before publishing.
                retried = true;
                let _ = shm::unlink(shm_name);
            }
            Err(Errno::EXIST) => {
                return Err(Error::AlreadyExists {
                    name: name.to_string(),
                })
            }
            Err(Errno::ACCESS) => {
                return Err(Error::PermissionDenied {
                    name: name.to_string(),
                    operation: "create",
                    access: Access::ReadWrite,
                })
            }
            Err(Errno::NAMETOOLONG) => {
                return Err(Error::InvalidName {
                    name: name.to_string(),
                    reason: "the shared-memory name is too long for macOS",
                })
            }
            Err(e) => return Err(os_error("create", name, e)),
        }
    };
    if let Err(e) = ftruncate(&data, size_off as u64) {
        let _ = shm::unlink(shm_name);
        return Err(no_space(e));
    }
    Ok(data)
}

/// Fails with `AlreadyExists` when a live object has the name.
pub(crate) fn ensure_free(name: &Name) -> Result<()> {
    let (dir, _) = namespace_dirs(name.namespace(), true).map_err(|e| dir_error(name, e))?;
    check_free(&dir, name)
}

fn check_free(dir: &OwnedFd, name: &Name) -> Result<()> {
    entry::refuse_taken(name, reclaim_if_dead(dir, name.base()))
}

/// Opens an existing named object and holds it.
pub(crate) fn open(request: &OpenRequest<'_>) -> Result<Object> {
    let name = request.name;
    let (dir, work) = match namespace_dirs(name.namespace(), false) {
        Ok(dirs) => dirs,
        Err(Errno::NOENT) => return open_foreign(request),
        Err(e) => return Err(dir_error(name, e)),
    };
    let mut rounds = OpenRounds::new(request.busy_timeout);
    let mut first = true;
    let mut busy = BusySince::default();
    loop {
        if !std::mem::take(&mut first) {
            if rounds.exhausted() {
                return Err(Error::Busy {
                    name: name.to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let entry = match openat(
            &dir,
            name.base(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(entry) => entry,
            Err(Errno::NOENT) => return open_foreign(request),
            Err(e) => return Err(open_error(name, e, request.access)),
        };
        let stat = fstat(&entry).map_err(|e| os_error("open", name, e))?;
        check_regular(name, &stat)?;
        check_owner(name, stat.st_uid, request.allow_foreign_owner)?;
        let content = read_entry(&entry).map_err(|()| Error::WrongKind {
            name: name.to_string(),
            expected: "memlink entry",
            found: "file with unknown contents",
        })?;
        match join_holders(&entry, content.transient) {
            Joined::Held | Joined::Nobody => {}
            Joined::Dead => {
                // Removed while we hold it exclusively; if the name now
                // names another object, that is the one asked for.
                let remove = || {
                    let _ = remove_entry(&dir, name.base(), content.shm_name());
                };
                if bury(&dir, name.base(), identity(&stat), remove) {
                    return Err(Error::NotFound {
                        name: name.to_string(),
                    });
                }
                continue;
            }
            // Held exclusively by someone for longer than a remover would:
            // open it without a hold (see `BusySince`).
            Joined::Busy => {
                if !busy.outlasted(identity(&stat))
                    || !names_same(&dir, name.base(), identity(&stat))
                {
                    rounds.found_busy();
                    continue;
                }
            }
        }
        if !names_same(&dir, name.base(), identity(&stat)) {
            continue;
        }
        let data = match &content.backing {
            // `read_entry` says memory or file, never unknown.
            Backing::Memory | Backing::Unknown => {
                open_shm(name, &content.target, request.access, content.size)?
            }
            Backing::File(path) => {
                open_backing_file(path, request.access, content.size, stat.st_uid)?
            }
        };
        return Ok(Object {
            os_name: content.target.clone(),
            key: name_hash(name),
            dir,
            work,
            base: name.base().to_owned(),
            entry,
            data,
            shm_name: content.shm_name().map(str::to_owned),
            temporary: String::new(),
            published: AtomicBool::new(true),
            identity: identity(&stat),
            transient: content.transient,
            size: content.size,
            backing: content.backing,
            owner: stat.st_uid,
            mode: stat.st_mode as u32 & 0o777,
        });
    }
}

/// Opens a `Global\NAME` that another program made with `shm_open("/NAME")`
/// (no entry): as it is, never removed by memlink.
fn open_foreign(request: &OpenRequest<'_>) -> Result<Object> {
    let name = request.name;
    let not_found = || Error::NotFound {
        name: name.to_string(),
    };
    if is_hashed(name) {
        return Err(not_found());
    }
    let shm_name = shm_name(name);
    let data = open_shm(name, &shm_name, request.access, 0)?;
    let stat = fstat(&data).map_err(|e| os_error("open", name, e))?;
    check_owner(name, stat.st_uid, request.allow_foreign_owner)?;
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size == 0 {
        return Err(Error::ZeroSize {
            name: name.to_string(),
            reason: "the shared-memory object has never been sized",
        });
    }
    let (dir, work) = namespace_dirs(Namespace::Global, true).map_err(|e| dir_error(name, e))?;
    // A stand-in entry descriptor for the endpoint and holder machinery.
    let entry = rustix::io::dup(&data).map_err(|e| os_error("open", name, e))?;
    Ok(Object {
        os_name: shm_name,
        key: name_hash(name),
        dir,
        work,
        base: name.base().to_owned(),
        entry,
        data,
        shm_name: None,
        temporary: String::new(),
        published: AtomicBool::new(true),
        identity: identity(&stat),
        transient: false,
        size,
        backing: Backing::Memory,
        owner: stat.st_uid,
        mode: stat.st_mode as u32 & 0o777,
    })
}

fn open_shm(name: &Name, shm_name: &str, access: Access, size: u64) -> Result<OwnedFd> {
    let flags = match access {
        Access::ReadWrite => shm::OFlags::RDWR,
        Access::ReadOnly | Access::CopyOnWrite => shm::OFlags::RDONLY,
    };
    let data = shm::open(shm_name, flags, Mode::empty()).map_err(|e| match e {
        Errno::NOENT => Error::NotFound {
            name: name.to_string(),
        },
        e => open_error(name, e, access),
    })?;
    let stat = fstat(&data).map_err(|e| os_error("open", name, e))?;
    let actual = u64::try_from(stat.st_size).unwrap_or(0);
    if actual < size {
        return Err(Error::Corrupt {
            name: name.to_string(),
            what: format!("its entry says {size} bytes, the shared memory has {actual}"),
        });
    }
    Ok(data)
}

/// Removes a name now, whatever its lifetime. Holders keep their memory.
pub(crate) fn remove(name: &Name) -> Result<()> {
    let not_found = || Error::NotFound {
        name: name.to_string(),
    };
    let dir = match namespace_dirs(name.namespace(), false) {
        Ok((dir, _)) => Some(dir),
        Err(Errno::NOENT) => None,
        Err(e) => return Err(dir_error(name, e)),
    };
    let entry = dir.as_ref().map(|dir| {
        openat(
            dir,
            name.base(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
    });
    match (dir, entry) {
        (Some(dir), Some(Ok(entry))) => {
            let content = read_entry(&entry).map_err(|()| Error::WrongKind {
                name: name.to_string(),
                expected: "memlink entry",
                found: "file with unknown contents",
            })?;
            unlinkat(&dir, name.base(), AtFlags::empty()).map_err(|e| remove_error(name, e))?;
            if let Some(shm_name) = content.shm_name() {
                let _ = shm::unlink(shm_name);
            }
            Ok(())
        }
        (_, Some(Err(e))) if e != Errno::NOENT => Err(open_error(name, e, Access::ReadWrite)),
        _ => {
            // No entry: a plain `/NAME` that another program made.
            if is_hashed(name) {
                return Err(not_found());
            }
            shm::unlink(shm_name(name).as_str()).map_err(|e| match e {
                Errno::NOENT => not_found(),
                e => open_error(name, e, Access::ReadWrite),
            })
        }
    }
}

/// Describes one named object without becoming a holder.
pub(crate) fn inspect(name: &Name) -> Result<MappingInfo> {
    let (dir, _) = namespace_dirs(name.namespace(), false).map_err(|e| match e {
        Errno::NOENT => Error::NotFound {
            name: name.to_string(),
        },
        e => dir_error(name, e),
    })?;
    describe(&dir, name)
}

/// Describes every named object of a namespace that this user can see.
pub(crate) fn list(namespace: Namespace) -> Result<Vec<MappingInfo>> {
    let probe = Name::parse(&format!("{namespace}\\probe")).expect("a valid name");
    let dir = match namespace_dirs(namespace, false) {
        Ok((dir, _)) => dir,
        Err(Errno::NOENT) => return Ok(Vec::new()),
        Err(e) => return Err(dir_error(&probe, e)),
    };
    entry::list_entries(namespace, &namespace_path(namespace), |name| {
        describe(&dir, name)
    })
}

fn describe(dir: &OwnedFd, name: &Name) -> Result<MappingInfo> {
    let stat = statat(dir, name.base(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| missing_or(name, e, "inspect"))?;
    check_regular(name, &stat)?;
    let mut info = MappingInfo {
        name: name.clone(),
        size: 0,
        os_name: shm_name(name),
        path: namespace_path(name.namespace()).join(name.base()),
        backing: Backing::Memory,
        owner: stat.st_uid,
        mode: Some(stat.st_mode as u32 & 0o777),
        persistent: false,
        live: None,
        holders: Vec::new(),
    };
    if let Ok(entry) = openat(
        dir,
        name.base(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        let content = read_entry(&entry).map_err(|()| Error::WrongKind {
            name: name.to_string(),
            expected: "memlink entry",
            found: "file with unknown contents",
        })?;
        info.size = content.size;
        info.persistent = !content.transient;
        info.os_name = content.target.clone();
        info.backing = content.backing;
        // A probe, not a hold: granted only when nobody holds the entry.
        info.live = Some(flock(&entry, FlockOperation::NonBlockingLockExclusive).is_err());
    }
    Ok(info)
}

/// Removes the transient entries of a namespace whose holders are all gone,
/// the temporary entries of creators that died, and endpoint lock files
/// nobody holds; returns the names removed.
pub(crate) fn reclaim_stale(namespace: Namespace) -> Result<Vec<Name>> {
    let probe = Name::parse(&format!("{namespace}\\probe")).expect("a valid name");
    let (dir, work) = match namespace_dirs(namespace, false) {
        Ok(dirs) => dirs,
        Err(Errno::NOENT) => return Ok(Vec::new()),
        Err(e) => return Err(dir_error(&probe, e)),
    };
    let reclaimed = entry::reclaim_listed(list(namespace)?, |base| reclaim_if_dead(&dir, base));
    let me = effective_uid();
    if let Ok(reader) = fs::read_dir(work_path(namespace)) {
        for item in reader.flatten() {
            let file_name = item.file_name();
            if let Ok(file) = openat(
                &work,
                file_name.as_os_str(),
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
                Mode::empty(),
            ) {
                let ours = fstat(&file).is_ok_and(|s| s.st_uid == me);
                if ours && flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
                    let _ = unlinkat(&work, file_name.as_os_str(), AtFlags::empty());
                }
            }
        }
    }
    Ok(reclaimed)
}

/// Grows a backing file from `from` to `to` bytes.
pub(crate) fn grow_file(file: &fs::File, from: u64, to: u64) -> io::Result<()> {
    file.set_len(to).inspect_err(|_| {
        let _ = file.set_len(from);
    })
}

/// The absolute path of an open file (`F_GETPATH`), if it has one.
pub(crate) fn file_path(file: &fs::File) -> Option<PathBuf> {
    let path = rustix::fs::getpath(file).ok()?;
    let path = PathBuf::from(OsStr::from_bytes(path.as_bytes()));
    path.is_absolute().then_some(path)
}

// ---------------------------------------------------------------------------
// Names

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn name_hash(name: &Name) -> u64 {
    match name.namespace() {
        Namespace::Global => fnv1a(format!("Global\\{}", name.base()).as_bytes()),
        Namespace::Local => {
            fnv1a(format!("Local\\{}\\{}", effective_uid(), name.base()).as_bytes())
        }
    }
}

/// The shm name of a memlink name: see "Where names live".
pub(super) fn shm_name(name: &Name) -> String {
    let base = name.base();
    if !is_hashed(name) {
        return format!("/{base}");
    }
    let mut prefix = String::new();
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '_'
        };
        if prefix.len() + c.len_utf8() > HASHED_PREFIX {
            break;
        }
        prefix.push(c);
    }
    format!("/{prefix}~{:016x}", name_hash(name))
}

/// Whether `name`'s shm name is a hashed one (memlink's own), not `/NAME`.
fn is_hashed(name: &Name) -> bool {
    name.namespace() != Namespace::Global || 1 + name.base().len() > SHM_NAME_MAX
}

fn temporary_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "tmp-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn namespace_path(namespace: Namespace) -> PathBuf {
    match namespace {
        Namespace::Global => PathBuf::from(GLOBAL_DIR),
        Namespace::Local => PathBuf::from(format!("{LOCAL_DIR_PREFIX}{}", effective_uid())),
    }
}

fn work_path(namespace: Namespace) -> PathBuf {
    let mut path = namespace_path(namespace).into_os_string();
    path.push(WORK_SUFFIX);
    PathBuf::from(path)
}

/// Opens (with `create`, makes) a namespace's entry and work directories,
/// refusing per-user directories that are not ours or that others can write.
fn namespace_dirs(namespace: Namespace, create: bool) -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    let (dir_mode, shared) = match namespace {
        Namespace::Global => (0o1777, true),
        Namespace::Local => (0o700, false),
    };
    let open = |path: &Path| -> rustix::io::Result<OwnedFd> {
        if create {
            match mkdirat(CWD, path, Mode::from_raw_mode(dir_mode)) {
                Ok(()) => {
                    // The umask may have narrowed the shared directories.
                    if shared {
                        let dir =
                            openat(CWD, path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
                        let _ = fchmod(&dir, Mode::from_raw_mode(dir_mode));
                    }
                }
                Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
        }
        let dir = openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let stat = fstat(&dir)?;
        if !shared && (stat.st_uid != effective_uid() || stat.st_mode & 0o022 != 0) {
            return Err(Errno::PERM);
        }
        Ok(dir)
    };
    Ok((
        open(&namespace_path(namespace))?,
        open(&work_path(namespace))?,
    ))
}

fn dir_error(name: &Name, e: Errno) -> Error {
    match e {
        Errno::NOENT => Error::NotFound {
            name: name.to_string(),
        },
        Errno::PERM => Error::PermissionDenied {
            name: format!(
                "{} (not owned by this user, or writable by others)",
                namespace_path(name.namespace()).display()
            ),
            operation: "trust",
            access: Access::ReadWrite,
        },
        e => os_error("open the namespace of", name, e),
    }
}

// ---------------------------------------------------------------------------
// Entries

struct Entry {
    transient: bool,
    size: u64,
    backing: Backing,
    /// The shm name (memory) or the file's path (file).
    target: String,
}

impl Entry {
    fn shm_name(&self) -> Option<&str> {
        (self.backing == Backing::Memory).then_some(self.target.as_str())
    }
}

fn write_entry(
    entry: &OwnedFd,
    transient: bool,
    backing: &Backing,
    size: u64,
    target: &str,
) -> rustix::io::Result<()> {
    let mut text = ENTRY_MAGIC.to_vec();
    let lifetime = if transient { "transient" } else { "persistent" };
    let kind = match backing {
        // `create` makes memory- or file-backed mappings, never unknown ones.
        Backing::Memory | Backing::Unknown => "memory",
        Backing::File(_) => "file",
    };
    text.extend_from_slice(format!("{lifetime} {kind} {size}\n{target}").as_bytes());
    write_all(entry, &text)
}

/// Reads an entry back; any malformed entry is an error.
fn read_entry(entry: &OwnedFd) -> std::result::Result<Entry, ()> {
    let buf = read_all(entry, ENTRY_MAX).ok_or(())?;
    let text = std::str::from_utf8(buf.strip_prefix(ENTRY_MAGIC).ok_or(())?).map_err(|_| ())?;
    let (header, target) = text.split_once('\n').ok_or(())?;
    let mut fields = header.split(' ');
    let transient = match fields.next() {
        Some("transient") => true,
        Some("persistent") => false,
        _ => return Err(()),
    };
    let kind = fields.next().ok_or(())?;
    let size: u64 = fields.next().ok_or(())?.parse().map_err(|_| ())?;
    if size == 0 || fields.next().is_some() || target.is_empty() {
        return Err(());
    }
    let backing = match kind {
        "memory" if target.starts_with('/') && target.len() <= SHM_NAME_MAX => Backing::Memory,
        "file" if Path::new(target).is_absolute() => Backing::File(PathBuf::from(target)),
        _ => return Err(()),
    };
    Ok(Entry {
        transient,
        size,
        backing,
        target: target.to_owned(),
    })
}

/// Unlinks a dead or last-held entry and its shm object; says whether the
/// entry could be unlinked.
fn remove_entry(dir: &OwnedFd, base: &str, shm_name: Option<&str>) -> rustix::io::Result<()> {
    if let Some(shm_name) = shm_name {
        let _ = shm::unlink(shm_name);
    }
    unlinkat(dir, base, AtFlags::empty())
}

/// Whether a live memlink entry holds `name`.
fn entry_alive(dir: &OwnedFd, name: &Name) -> bool {
    !matches!(reclaim_if_dead(dir, name.base()), Ok(Reclaim::Free))
}

/// Removes a transient entry that nobody holds, and says what became of the
/// name.
fn reclaim_if_dead(dir: &OwnedFd, base: &str) -> rustix::io::Result<Reclaim> {
    entry::reclaim_if_dead(
        dir,
        base,
        |entry, _| read_entry(entry).ok().filter(|content| content.transient),
        |content| remove_entry(dir, base, content.shm_name()),
    )
}

/// Permission bits as a `Mode` (`mode_t` is 16 bits on macOS).
pub(super) fn mode_bits(bits: u32) -> Mode {
    Mode::from_raw_mode((bits & 0o7777) as rustix::fs::RawMode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shm_names_fit_macos() {
        let short = Name::parse("Global\\short").unwrap();
        assert_eq!(shm_name(&short), "/short");
        assert!(!is_hashed(&short));
        for text in [
            "Global\\a-name-that-is-much-longer-than-thirty-bytes",
            "Local\\short",
            "Local\\ünïcödé names with spaces and more and more",
        ] {
            let name = Name::parse(text).unwrap();
            let shm = shm_name(&name);
            assert!(shm.len() <= SHM_NAME_MAX, "{shm}");
            assert!(is_hashed(&name) && shm.contains('~'), "{shm}");
            assert_eq!(shm, shm_name(&name), "deterministic");
        }
    }

    #[test]
    fn entries_round_trip_and_reject_garbage() {
        assert!(read_entry_text(b"garbage").is_err());
        let ok =
            read_entry_text(b"memlink entry 1\ntransient memory 10\n/x~0123456789abcdef").unwrap();
        assert!(ok.transient && ok.size == 10 && ok.backing == Backing::Memory);
        assert!(read_entry_text(b"memlink entry 1\ntransient memory 0\n/x").is_err());
        assert!(read_entry_text(b"memlink entry 1\npersistent file 5\nrelative").is_err());
    }

    fn read_entry_text(text: &[u8]) -> std::result::Result<Entry, ()> {
        let path = std::env::temp_dir().join(format!(
            "memlink-entry-test-{}-{}",
            std::process::id(),
            fnv1a(text)
        ));
        fs::write(&path, text).unwrap();
        let file = fs::File::open(&path).unwrap();
        let _ = fs::remove_file(&path);
        read_entry(&OwnedFd::from(file))
    }
}
