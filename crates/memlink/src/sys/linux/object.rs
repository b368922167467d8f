//! Named objects on Linux: POSIX shared memory in `/dev/shm`, holder locks
//! with `flock`, and lifetime "until the last holder goes" even across
//! `kill -9`.
//!
//! # Where names live
//!
//! | memlink name    | file                              | POSIX `shm_open` name |
//! |-----------------|-----------------------------------|-----------------------|
//! | `Global\NAME`   | `/dev/shm/NAME`                   | `/NAME`               |
//! | `Local\NAME`    | `/dev/shm/memlink-<euid>/NAME`    | (none: per user)      |
//!
//! The per-user directory is created `0700` and must be owned by the caller;
//! a directory planted by someone else is refused.
//!
//! # What an entry is
//!
//! A memory-backed mapping's entry *is* the shared memory. A file-backed
//! mapping's entry is a small "file link": a tmpfs file holding
//! [`FILE_LINK_MAGIC`], the logical size and the backing file's absolute path,
//! marked with the set-group-id bit (meaningless on a non-executable file).
//!
//! Every entry is created fully formed: it is built as an unnamed `O_TMPFILE`,
//! sized, reserved with `fallocate` (so a full `/dev/shm` fails here, not with
//! SIGBUS later), given its mode, locked, and only then linked under its name
//! with `linkat`, which fails if the name exists. Nobody ever sees a half-made
//! entry, and a creator killed half-way leaves nothing behind.
//!
//! # Lifetime
//!
//! Each holder keeps a shared `flock` on its own open of the entry; the kernel
//! drops it when the holder closes or dies. A *transient* entry (the default)
//! carries the sticky bit, which Linux ignores on regular files, as its
//! marker. When a holder lets go it tries for an exclusive lock: if it gets
//! it, nobody else holds the entry, and it unlinks the name. If every holder
//! was killed, nobody was left to unlink: the next `open` of the name finds a
//! transient entry that nobody holds, removes it and reports `NotFound`, and
//! the next `create` reuses the name; `reclaim_stale` (`memlink gc`) sweeps
//! them all. So a transient mapping is gone, as far as anyone can observe,
//! from the moment its last holder is gone. Entries without the marker
//! (persistent ones, and those made by programs other than memlink) are never
//! removed except by `remove`.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    fallocate, fchmod, flock, fstat, ftruncate, linkat, mkdirat, openat, statat, unlinkat, AtFlags,
    FallocateFlags, FileType, FlockOperation, Mode, OFlags, Stat, CWD,
};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::name::{Name, Namespace};
use crate::sys::unix::effective_uid;
use crate::sys::unix::entry::{
    self, bury, check_owner, check_regular, identity, join_holders, missing_or, names_same,
    open_error, os_error, read_all, remove_error, write_all, BusySince, Joined, OpenRounds,
};
use crate::sys::unix::file::open_backing_file;
use crate::sys::{Backoff, CreateRequest, OpenRequest, Reclaim};
use crate::types::{Access, Backing, MappingInfo};

/// Where POSIX shared memory lives on Linux.
const SHM_ROOT: &str = "/dev/shm";
/// The per-user directory for `Local\` names is `SHM_ROOT/LOCAL_DIR_PREFIX<euid>`.
const LOCAL_DIR_PREFIX: &str = "memlink-";
/// Marks a transient entry (removed when its last holder goes): sticky and
/// set-user-id, both meaningless on a non-executable file. Both must be set.
const TRANSIENT_MARK: u32 = 0o5000;
/// Marks a file link (an entry that names a backing file).
const FILE_LINK_BIT: u32 = 0o2000;
/// First bytes of a file link.
const FILE_LINK_MAGIC: &[u8] = b"memlink file link 1\n";
/// A file link is magic, a decimal size, a newline and a path: never larger.
const FILE_LINK_MAX: usize = FILE_LINK_MAGIC.len() + 21 + 4096;

/// A held named object: the entry (locked shared as a holder) and the
/// descriptor of its bytes. Dropping it lets go, and removes a transient entry
/// when this was its last holder.
#[derive(Debug)]
pub(crate) struct Object {
    dir: OwnedFd,
    base: String,
    entry: OwnedFd,
    /// The backing file of a file link; `None` when the entry is the memory.
    file: Option<OwnedFd>,
    identity: (u64, u64),
    transient: bool,
    size: u64,
    backing: Backing,
    owner: u32,
    mode: u32,
    os_name: String,
}

impl Object {
    /// Stops counting as a holder while staying open (see
    /// [`entry::stop_holding`]).
    pub(crate) fn stop_holding(&self) {
        entry::stop_holding(&self.entry);
    }
    /// The entry's descriptor (what holder and endpoint locks apply to).
    pub(crate) fn entry_fd(&self) -> &OwnedFd {
        &self.entry
    }
    /// The descriptor to map.
    pub(crate) fn data(&self) -> BorrowedFd<'_> {
        self.file.as_ref().unwrap_or(&self.entry).as_fd()
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
    /// The OS-level name: `/NAME` for a Global name, the file path otherwise.
    pub(crate) fn os_name(&self) -> &str {
        &self.os_name
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        if !self.transient {
            return;
        }
        if entry::leave(&self.entry) && names_same(&self.dir, &self.base, self.identity) {
            let _ = unlinkat(&self.dir, &self.base, AtFlags::empty());
        }
    }
}

/// Makes a new object for `request`, sized, reserved, locked and held, but
/// not yet visible under its name: [`Object::publish`] does that, after the
/// caller has initialised the contents.
pub(crate) fn prepare(request: &CreateRequest<'_>) -> Result<Object> {
    let name = request.name;
    let dir = namespace_dir(name, true)?;
    check_free(&dir, name)?;
    let mode = request.mode & 0o777;
    let marker = if request.persistent {
        0
    } else {
        TRANSIENT_MARK
    };
    let entry = openat(
        &dir,
        ".",
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| os_error("create", name, e))?;
    let (backing, kind_bit, file) = match request.file {
        None if request.huge_pages => {
            reserve_huge(&dir, &entry, name, request.size)?;
            (Backing::Memory, 0, None)
        }
        None => {
            reserve(&entry, name, request.size)?;
            (Backing::Memory, 0, None)
        }
        Some(_) if request.huge_pages => {
            return Err(Error::Unsupported {
                what: format!(
                    "huge pages for {name}: a file-backed mapping takes the file's pages \
                     (Linux gives huge pages to memory mappings on a tmpfs that allows them)"
                ),
            })
        }
        Some(backing) => {
            write_file_link(&entry, request.size, backing.path)
                .map_err(|e| os_error("create", name, e))?;
            let file = backing.file.try_clone().map_err(|source| Error::File {
                path: backing.path.to_owned(),
                source,
            })?;
            (
                Backing::File(backing.path.to_owned()),
                FILE_LINK_BIT,
                Some(OwnedFd::from(file)),
            )
        }
    };
    // A file link names the file to open: only its owner may write it, or
    // anyone who may write the entry could point other users' opens at a file
    // of their choosing. Whoever the mode lets use the mapping may read it.
    let entry_mode = if request.file.is_some() {
        link_mode(mode)
    } else {
        mode
    };
    fchmod(&entry, Mode::from_raw_mode(entry_mode | marker | kind_bit))
        .map_err(|e| os_error("create", name, e))?;
    // Nobody can see the entry yet, so this never waits.
    flock(&entry, FlockOperation::NonBlockingLockShared)
        .map_err(|e| os_error("create", name, e))?;
    let stat = fstat(&entry).map_err(|e| os_error("create", name, e))?;
    Ok(Object {
        os_name: os_name(name),
        dir,
        base: name.base().to_owned(),
        entry,
        file,
        identity: identity(&stat),
        transient: !request.persistent,
        size: request.size,
        backing,
        owner: stat.st_uid,
        // What every opener reads from the entry (a file link's own mode).
        mode: entry_mode,
    })
}

impl Object {
    /// Gives a prepared object its name, atomically: it fails with
    /// `AlreadyExists` if a live object has the name, and takes the name
    /// over from a dead transient one.
    pub(crate) fn publish(&self, name: &Name) -> Result<()> {
        let proc_path = format!("/proc/self/fd/{}", raw_fd(&self.entry));
        let link = || {
            linkat(
                CWD,
                &proc_path,
                &self.dir,
                &self.base,
                AtFlags::SYMLINK_FOLLOW,
            )
        };
        entry::publish(
            name,
            link,
            || reclaim_if_dead(&self.dir, &self.base),
            |e| match e {
                Errno::NOENT => Error::Unsupported {
                    what: "creating named objects needs /proc to be mounted".into(),
                },
                e => os_error("create", name, e),
            },
        )
    }
}

/// Fails with `AlreadyExists` when a live object has the name, before the
/// caller commits resources (reserving memory, growing a file) to a create
/// that cannot succeed. Only an early answer: `publish` decides for certain.
pub(crate) fn ensure_free(name: &Name) -> Result<()> {
    check_free(&namespace_dir(name, true)?, name)
}

fn check_free(dir: &OwnedFd, name: &Name) -> Result<()> {
    entry::refuse_taken(name, reclaim_if_dead(dir, name.base()))
}

/// Opens an existing named object and holds it.
pub(crate) fn open(request: &OpenRequest<'_>) -> Result<Object> {
    let name = request.name;
    let dir = namespace_dir(name, false)?;
    let flags = match request.access {
        Access::ReadWrite => OFlags::RDWR,
        Access::ReadOnly | Access::CopyOnWrite => OFlags::RDONLY,
    };
    let mut rounds = OpenRounds::new(request.busy_timeout);
    let mut backoff = Backoff::default();
    let mut first = true;
    let mut busy = BusySince::default();
    loop {
        if !std::mem::take(&mut first) {
            if rounds.exhausted() {
                return Err(Error::Busy {
                    name: name.to_string(),
                });
            }
            backoff.wait();
        }
        let open_entry = |flags: OFlags| {
            openat(
                &dir,
                name.base(),
                flags | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
                Mode::empty(),
            )
        };
        // A file link is writable by its owner only (see `link_mode`): for
        // anyone else, read-write use of a file-backed mapping opens the
        // link read-only (the backing file decides what may be written).
        let entry = match open_entry(flags) {
            Err(Errno::ACCESS) if flags == OFlags::RDWR => match open_entry(OFlags::RDONLY) {
                Ok(entry) if is_file_link(&entry) => Ok(entry),
                Ok(_) => Err(Errno::ACCESS),
                // Gone meanwhile, say: that is the answer.
                Err(e) => Err(e),
            },
            other => other,
        }
        .map_err(|e| open_error(name, e, request.access))?;
        let stat = fstat(&entry).map_err(|e| os_error("open", name, e))?;
        check_regular(name, &stat)?;
        check_owner(name, stat.st_uid, request.allow_foreign_owner)?;
        let transient = is_transient(&stat);

        match join_holders(&entry, transient) {
            Joined::Held | Joined::Nobody => {}
            Joined::Dead => {
                // Every holder is gone: the mapping ended with them. Removed
                // while we hold the entry exclusively, so nobody joins it
                // meanwhile; and if the name now names another object (made
                // since), that one is what the caller asked for.
                let unlink = || {
                    let _ = unlinkat(&dir, name.base(), AtFlags::empty());
                };
                if bury(&dir, name.base(), identity(&stat), unlink) {
                    // Still there: another user's, in sticky `/dev/shm`.
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
        // The name may have been removed (and even reused) between our open
        // and our lock; only the object still under the name counts.
        if !names_same(&dir, name.base(), identity(&stat)) {
            continue;
        }
        let mode = stat.st_mode & 0o777;
        let is_link = stat.st_mode & FILE_LINK_BIT != 0;
        let (size, backing, file) = if is_link {
            let (size, path) = read_file_link(&entry).map_err(|_| Error::WrongKind {
                name: name.to_string(),
                expected: "memlink file link",
                found: "set-group-id file with unknown contents",
            })?;
            let file = open_backing_file(&path, request.access, size, stat.st_uid)?;
            (size, Backing::File(path), Some(file))
        } else {
            let size = u64::try_from(stat.st_size).unwrap_or(0);
            (size, Backing::Memory, None)
        };
        return Ok(Object {
            os_name: os_name(name),
            dir,
            base: name.base().to_owned(),
            entry,
            file,
            identity: identity(&stat),
            transient,
            size,
            backing,
            owner: stat.st_uid,
            mode,
        });
    }
}

/// Removes a name now, whatever its lifetime. Holders keep their memory.
pub(crate) fn remove(name: &Name) -> Result<()> {
    let dir = namespace_dir(name, false)?;
    let stat = statat(&dir, name.base(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| missing_or(name, e, "remove"))?;
    check_regular(name, &stat)?;
    unlinkat(&dir, name.base(), AtFlags::empty()).map_err(|e| remove_error(name, e))
}

/// Describes one named object without becoming a holder.
pub(crate) fn inspect(name: &Name) -> Result<MappingInfo> {
    let dir = namespace_dir(name, false)?;
    let holders = holders_by_identity();
    describe(&dir, name, &holders, flock_held().as_ref())
}

/// Describes every named object of a namespace that this user can see.
pub(crate) fn list(namespace: Namespace) -> Result<Vec<MappingInfo>> {
    let probe = Name::parse(&format!("{namespace}\\probe")).expect("a valid name");
    let dir = match namespace_dir(&probe, false) {
        Ok(dir) => dir,
        Err(Error::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let holders = holders_by_identity();
    let locked = flock_held();
    entry::list_entries(namespace, &namespace_path(namespace), |name| {
        describe(&dir, name, &holders, locked.as_ref())
    })
}

/// Removes every transient entry of a namespace whose holders are all gone,
/// and returns their names.
pub(crate) fn reclaim_stale(namespace: Namespace) -> Result<Vec<Name>> {
    let probe = Name::parse(&format!("{namespace}\\probe")).expect("a valid name");
    let dir = match namespace_dir(&probe, false) {
        Ok(dir) => dir,
        Err(Error::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(entry::reclaim_listed(list(namespace)?, |base| {
        reclaim_if_dead(&dir, base)
    }))
}

/// Grows a backing file from `from` to `to` bytes and reserves the new
/// blocks, so that a full disk fails here rather than with SIGBUS later.
pub(crate) fn grow_file(file: &fs::File, from: u64, to: u64) -> std::io::Result<()> {
    file.set_len(to)?;
    match fallocate(file, FallocateFlags::KEEP_SIZE, from, to - from) {
        Ok(()) | Err(Errno::OPNOTSUPP) => Ok(()),
        Err(e) => {
            let _ = file.set_len(from);
            Err(e.into())
        }
    }
}

/// The absolute path of an open file, if it still has one.
pub(crate) fn file_path(file: &fs::File) -> Option<PathBuf> {
    let link = fs::read_link(format!("/proc/self/fd/{}", raw_fd(file))).ok()?;
    let text = link.as_os_str().as_bytes();
    (link.is_absolute() && !text.ends_with(b" (deleted)")).then_some(link)
}

// ---------------------------------------------------------------------------
// Namespaces

fn namespace_path(namespace: Namespace) -> PathBuf {
    match namespace {
        Namespace::Global => PathBuf::from(SHM_ROOT),
        Namespace::Local => {
            Path::new(SHM_ROOT).join(format!("{LOCAL_DIR_PREFIX}{}", effective_uid()))
        }
    }
}

fn os_name(name: &Name) -> String {
    match name.namespace() {
        Namespace::Global => format!("/{}", name.base()),
        Namespace::Local => namespace_path(Namespace::Local)
            .join(name.base())
            .display()
            .to_string(),
    }
}

/// Opens the directory of a name's namespace; with `create`, makes the
/// per-user directory on first use. A per-user directory that is not ours, or
/// that others can write, is refused.
fn namespace_dir(name: &Name, create: bool) -> Result<OwnedFd> {
    let root = openat(
        CWD,
        SHM_ROOT,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Unsupported {
        what: format!("POSIX shared memory needs {SHM_ROOT} ({e})"),
    })?;
    if name.namespace() == Namespace::Global {
        return Ok(root);
    }
    let me = effective_uid();
    let dir_name = format!("{LOCAL_DIR_PREFIX}{me}");
    if create {
        match mkdirat(&root, &dir_name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(os_error("create namespace for", name, e)),
        }
    }
    let dir = openat(
        &root,
        &dir_name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT => Error::NotFound {
            name: name.to_string(),
        },
        Errno::NOTDIR | Errno::LOOP => Error::WrongKind {
            name: format!("{SHM_ROOT}/{dir_name}"),
            expected: "directory",
            found: "file or symbolic link",
        },
        e => os_error("open namespace for", name, e),
    })?;
    let stat = fstat(&dir).map_err(|e| os_error("open namespace for", name, e))?;
    if stat.st_uid != me {
        return Err(Error::ForeignOwner {
            name: format!("{SHM_ROOT}/{dir_name}"),
            owner: stat.st_uid,
            me,
        });
    }
    if stat.st_mode & 0o022 != 0 {
        return Err(Error::PermissionDenied {
            name: format!("{SHM_ROOT}/{dir_name} (writable by others)"),
            operation: "trust",
            access: Access::ReadWrite,
        });
    }
    Ok(dir)
}

// ---------------------------------------------------------------------------
// Entries

/// Sizes a new memory entry and reserves its pages, so that a size the system
/// cannot back fails now instead of raising SIGBUS on first touch.
fn reserve(entry: &OwnedFd, name: &Name, size: u64) -> Result<()> {
    let no_space = |e: Errno| Error::NoSpace {
        name: name.to_string(),
        size,
        source: e.into(),
    };
    if i64::try_from(size).is_err() {
        return Err(no_space(Errno::FBIG));
    }
    ftruncate(entry, size).map_err(no_space)?;
    match fallocate(entry, FallocateFlags::empty(), 0, size) {
        Ok(()) | Err(Errno::OPNOTSUPP) => Ok(()),
        Err(e) => Err(no_space(e)),
    }
}

/// Sizes a new memory entry and reserves it with huge pages: the hint must
/// reach the kernel before the first page is allocated (an up-front
/// `fallocate` would commit small pages), so the pages are faulted in
/// through a mapping that asks for huge ones (`MADV_HUGEPAGE`, then
/// `MADV_POPULATE_WRITE`, which fails instead of raising SIGBUS).
fn reserve_huge(dir: &OwnedFd, entry: &OwnedFd, name: &Name, size: u64) -> Result<()> {
    if let Some(why) = huge_pages_refused(dir) {
        return Err(Error::Unsupported {
            what: format!("huge pages for {name}: {why}"),
        });
    }
    let no_space = |source: std::io::Error| Error::NoSpace {
        name: name.to_string(),
        size,
        source,
    };
    let len = usize::try_from(size).map_err(|_| no_space(Errno::FBIG.into()))?;
    ftruncate(entry, size).map_err(|e| no_space(e.into()))?;
    let hints = super::MapHints {
        huge_pages: true,
        ..super::MapHints::default()
    };
    super::MappedRegion::map(entry.as_fd(), 0, len, Access::ReadWrite, hints).map_err(
        |e| match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::OutOfMemory => no_space(e),
            _ => os_error(
                "create",
                name,
                Errno::from_io_error(&e).unwrap_or(Errno::IO),
            ),
        },
    )?;
    Ok(())
}

/// Why the tmpfs under `dir` gives no huge pages, if it does not: its
/// `huge=` mount option, unless the system forces (or denies) them for
/// every tmpfs (`shmem_enabled`).
fn huge_pages_refused(dir: &OwnedFd) -> Option<String> {
    let shmem = fs::read_to_string("/sys/kernel/mm/transparent_hugepage/shmem_enabled").ok();
    let chosen = shmem.as_deref().and_then(|text| {
        let start = text.find('[')? + 1;
        let end = start + text[start..].find(']')?;
        Some(text[start..end].to_owned())
    });
    match chosen.as_deref() {
        None => return Some("this kernel has no transparent huge pages for shared memory".into()),
        Some("force") => return None,
        Some("deny") => {
            return Some("shared-memory huge pages are denied (shmem_enabled=deny)".into())
        }
        Some(_) => {}
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let device = fstat(dir).ok()?.st_dev;
    let options = mount_options_of(&mountinfo, device)?;
    let huge = options
        .split(',')
        .find_map(|option| option.strip_prefix("huge="))
        .unwrap_or("never");
    match huge {
        "always" | "within_size" | "advise" => None,
        other => Some(format!(
            "{SHM_ROOT} is a tmpfs mounted with huge={other} (remount it with huge=advise, \
             or set /sys/kernel/mm/transparent_hugepage/shmem_enabled to force)"
        )),
    }
}

/// The super-block options of the mount of `device` in a
/// `/proc/self/mountinfo` text: the last field of its line.
fn mount_options_of(mountinfo: &str, device: u64) -> Option<String> {
    mountinfo.lines().rev().find_map(|line| {
        let mut fields = line.split(' ');
        let dev = fields.nth(2)?;
        let (major, minor) = dev.split_once(':')?;
        let dev = rustix::fs::makedev(major.parse().ok()?, minor.parse().ok()?);
        (dev == device).then(|| line.rsplit(' ').next().unwrap_or("").to_owned())
    })
}

fn write_file_link(entry: &OwnedFd, size: u64, path: &Path) -> rustix::io::Result<()> {
    let mut text = FILE_LINK_MAGIC.to_vec();
    text.extend_from_slice(format!("{size}\n").as_bytes());
    text.extend_from_slice(path.as_os_str().as_bytes());
    write_all(entry, &text)
}

/// Reads a file link back. Its contents are not trusted: any malformed link
/// is an error.
fn read_file_link(entry: &OwnedFd) -> std::result::Result<(u64, PathBuf), ()> {
    let buf = read_all(entry, FILE_LINK_MAX).ok_or(())?;
    let text = buf.strip_prefix(FILE_LINK_MAGIC).ok_or(())?;
    let newline = text.iter().position(|&b| b == b'\n').ok_or(())?;
    let size: u64 = std::str::from_utf8(&text[..newline])
        .map_err(|_| ())?
        .parse()
        .map_err(|_| ())?;
    let path = PathBuf::from(OsStr::from_bytes(&text[newline + 1..]));
    if size == 0 || !path.is_absolute() {
        return Err(());
    }
    Ok((size, path))
}

/// The mode of a file link for a mapping of `mode`: writable by its owner
/// only; readable by whoever `mode` lets read or write the mapping.
fn link_mode(mode: u32) -> u32 {
    let readers = |class_bits: u32, read_bit: u32| {
        if mode & class_bits != 0 {
            read_bit
        } else {
            0
        }
    };
    0o600 | readers(0o060, 0o040) | readers(0o006, 0o004)
}

/// Whether the open entry is a file link.
fn is_file_link(entry: &OwnedFd) -> bool {
    fstat(entry).is_ok_and(|stat| {
        stat.st_mode & FILE_LINK_BIT != 0
            && FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
    })
}

fn describe(
    dir: &OwnedFd,
    name: &Name,
    holders: &HashMap<(u64, u64), Vec<u32>>,
    locked: Option<&FlockTable>,
) -> Result<MappingInfo> {
    let stat = statat(dir, name.base(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| missing_or(name, e, "inspect"))?;
    check_regular(name, &stat)?;
    let transient = is_transient(&stat);
    let is_link = stat.st_mode & FILE_LINK_BIT != 0;
    let mut size = u64::try_from(stat.st_size).unwrap_or(0);
    let mut backing = Backing::Memory;
    let mut live = None;
    if let Ok(entry) = openat(
        dir,
        name.base(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        if is_link {
            if let Ok((link_size, path)) = read_file_link(&entry) {
                size = link_size;
                backing = Backing::File(path);
            }
        }
        live = Some(is_held(&entry, identity(&stat), holders, locked));
    }
    Ok(MappingInfo {
        os_name: os_name(name),
        path: namespace_path(name.namespace()).join(name.base()),
        name: name.clone(),
        size,
        backing,
        owner: stat.st_uid,
        mode: Some(stat.st_mode & 0o777),
        persistent: !transient,
        live,
        holders: holders.get(&identity(&stat)).cloned().unwrap_or_default(),
    })
}

/// Whether anybody holds the open `entry` (identified by `id`), judged
/// without becoming a holder ourselves, even for an instant: a probe that
/// shares the entry would make a last holder that is letting go think someone
/// else still holds it.
///
/// Holders keep a shared `flock` for as long as they live, so a shared lock
/// in the kernel's table, or another process with the entry open, means held.
/// An exclusive lock is no holder: it is someone's momentary probe or removal
/// (another thread of ours running `list`, say), so it is waited out. The
/// table hides locks of processes outside our PID namespace; when it shows
/// nothing, an exclusive probe of our own decides, and is dropped at once.
fn is_held(
    entry: &OwnedFd,
    id: (u64, u64),
    holders: &HashMap<(u64, u64), Vec<u32>>,
    table: Option<&FlockTable>,
) -> bool {
    let me = std::process::id();
    if holders
        .get(&id)
        .is_some_and(|pids| pids.iter().any(|&pid| pid != me))
    {
        return true;
    }
    let probe_refused = || flock(entry, FlockOperation::NonBlockingLockExclusive).is_err();
    let locks_on = |table: &FlockTable| (table.shared.contains(&id), table.exclusive.contains(&id));
    // Without a table a refused probe cannot be told from a holder: say
    // held, the answer that never frees a live name.
    let Some(mut locks) = table.map(locks_on) else {
        return probe_refused();
    };
    let mut backoff = Backoff::default();
    let mut refused_unseen = 0;
    for _ in 0..PROBE_ROUNDS {
        match locks {
            (true, _) => return true,
            (false, false) if !probe_refused() => return false,
            // Refused with nothing in the table: a holder the table hides, or
            // a prober that came and went since it was read. Only a holder
            // keeps refusing.
            (false, false) => {
                refused_unseen += 1;
                if refused_unseen == HIDDEN_HOLDER_ROUNDS {
                    return true;
                }
            }
            (false, true) => {}
        }
        backoff.wait();
        locks = match flock_held() {
            Some(table) => locks_on(&table),
            None => return probe_refused(),
        };
    }
    // An exclusive lock held this long is no probe: someone treats the entry
    // as theirs alone. Say held, the answer that never frees a live name.
    true
}

/// How many times [`is_held`] waits out an exclusive lock (a few
/// milliseconds in all) before it calls the entry held.
const PROBE_ROUNDS: u32 = 12;

/// How many refused probes, with no lock in the table each time, make
/// [`is_held`] conclude that a holder outside our PID namespace exists.
const HIDDEN_HOLDER_ROUNDS: u32 = 3;

/// Removes a transient entry that nobody holds. Returns whether the name is
/// now free (`true`) or held by a live object (`false`).
fn reclaim_if_dead(dir: &OwnedFd, base: &str) -> rustix::io::Result<Reclaim> {
    entry::reclaim_if_dead(
        dir,
        base,
        |_, stat| is_transient(stat).then_some(()),
        |()| unlinkat(dir, base, AtFlags::empty()),
    )
}

/// Whether an entry carries memlink's transient marker (both bits).
fn is_transient(stat: &Stat) -> bool {
    stat.st_mode & TRANSIENT_MARK == TRANSIENT_MARK
}

/// The files, by (device, inode), on which someone holds a `flock`, from
/// the kernel's lock table: shared locks (holders) apart from exclusive
/// ones (probes and removals).
#[derive(Debug, Default, PartialEq, Eq)]
struct FlockTable {
    shared: HashSet<(u64, u64)>,
    exclusive: HashSet<(u64, u64)>,
}

/// The kernel's `flock` table; `None` if it cannot be read.
///
/// The table is not one snapshot: the kernel fills it a page at a time, and
/// locks taken or dropped between two pages can shift an entry past the
/// reader. A lock may therefore be missing from one read (never invented):
/// callers treat absence as "ask again or probe", not as proof.
fn flock_held() -> Option<FlockTable> {
    fs::read_to_string("/proc/locks")
        .ok()
        .map(|table| parse_flock_table(&table))
}

/// Parses `/proc/locks`: lines such as
/// `3: FLOCK  ADVISORY  READ 1234 00:1a:5678 0 EOF`, where `READ` is a shared
/// lock (`WRITE` an exclusive one), `00:1a` the device's major and minor
/// number in hex and `5678` the inode. Waiters (`3: -> FLOCK ...`) hold
/// nothing and are skipped.
fn parse_flock_table(table: &str) -> FlockTable {
    let mut held = FlockTable::default();
    for line in table.lines() {
        let mut fields = line.split_whitespace().skip(1);
        if fields.next() != Some("FLOCK") {
            continue;
        }
        let set = match fields.nth(1) {
            Some("READ") => &mut held.shared,
            Some("WRITE") => &mut held.exclusive,
            _ => continue,
        };
        let Some(file) = fields.nth(1) else { continue };
        let mut parts = file.split(':');
        let (Some(major), Some(minor), Some(inode), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let (Ok(major), Ok(minor), Ok(inode)) = (
            u32::from_str_radix(major, 16),
            u32::from_str_radix(minor, 16),
            inode.parse::<u64>(),
        ) {
            set.insert((rustix::fs::makedev(major, minor), inode));
        }
    }
    held
}

/// Which processes hold each object, by (device, inode): every process with
/// an open descriptor to it that this user may look at. Used by `ls`, never
/// on a hot path.
fn holders_by_identity() -> HashMap<(u64, u64), Vec<u32>> {
    let mut holders: HashMap<(u64, u64), Vec<u32>> = HashMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return holders;
    };
    for proc_entry in procs.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(stat) = statat(CWD, fd.path().as_path(), AtFlags::empty()) {
                if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile {
                    let pids = holders.entry(identity(&stat)).or_default();
                    if !pids.contains(&pid) {
                        pids.push(pid);
                    }
                }
            }
        }
    }
    holders
}

fn raw_fd(fd: &impl AsFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_fd().as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mapping;

    #[test]
    fn the_lock_table_names_flocked_files_only() {
        let table = "\
1: FLOCK  ADVISORY  READ  1234 00:1b:5678 0 EOF
1: -> FLOCK  ADVISORY  WRITE 99 00:1b:777 0 EOF
2: OFDLCK ADVISORY  WRITE -1 00:1b:888 1099511627776 1099511627776
3: POSIX  ADVISORY  WRITE 42 fd:01:999 0 EOF
4: FLOCK  ADVISORY  WRITE 7 103:02:31 0 EOF
5: FLOCK  garbage
";
        let held = parse_flock_table(table);
        assert_eq!(
            held,
            FlockTable {
                shared: HashSet::from([(rustix::fs::makedev(0, 0x1b), 5678)]),
                exclusive: HashSet::from([(rustix::fs::makedev(0x103, 2), 31)]),
            }
        );
    }

    #[test]
    fn mount_options_come_from_the_last_mount_of_the_device() {
        let mountinfo = "\
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=100k
30 25 0:23 / /dev/shm rw,relatime shared:1 - tmpfs tmpfs rw,size=256m,huge=advise
31 25 0:24 / /other rw - tmpfs tmpfs rw,huge=always
";
        let dev = rustix::fs::makedev(0, 23);
        assert_eq!(
            mount_options_of(mountinfo, dev).as_deref(),
            Some("rw,size=256m,huge=advise")
        );
        assert_eq!(
            mount_options_of(mountinfo, rustix::fs::makedev(0, 99)),
            None
        );
        assert_eq!(mount_options_of("garbage\n\n", dev), None);
    }

    #[test]
    fn a_held_entry_is_in_the_lock_table_and_is_live() {
        let name = format!("mltest-locktable-{}", std::process::id());
        let m = Mapping::create(&name, 4096).unwrap();
        let stat = fstat(m.object().entry_fd()).unwrap();
        // Other tests lock and unlock meanwhile, which can hide an entry
        // from one read (see `flock_held`), not from all of them.
        let listed = (0..50).any(|_| {
            flock_held()
                .expect("/proc/locks")
                .shared
                .contains(&identity(&stat))
        });
        assert!(listed, "our shared lock never appeared in /proc/locks");
        assert_eq!(Mapping::inspect(&name).unwrap().live, Some(true));
    }
}
