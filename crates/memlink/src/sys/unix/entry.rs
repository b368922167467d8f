//! The entry protocol that Linux and macOS share, written once.
//!
//! On both, a named object has an *entry*: a file under its name in the
//! namespace's directory (on Linux the shared memory itself or a file link,
//! on macOS a small record beside the `shm_open` object). What the entry
//! holds differs; how it is held does not:
//!
//! * every holder keeps a shared `flock` on its own open of the entry, which
//!   the kernel drops when the holder closes or dies;
//! * a holder that lets go asks for an exclusive lock: granted only when no
//!   other holder is left, so exactly the last one removes a transient entry
//!   ([`leave`]);
//! * an `open` joins the holders ([`join_holders`]), and removes a transient
//!   entry that nobody holds any more ([`Joined::Dead`], [`bury`]);
//! * a `create` links the finished entry under its name, taking the name
//!   over from a dead transient entry ([`publish`], [`reclaim_if_dead`]).
//!
//! Each OS passes in what only it knows: whether an entry is transient, and
//! how a dead one is removed.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{
    flock, fstat, openat, statat, AtFlags, FileType, FlockOperation, Mode, OFlags, Stat,
};
use rustix::io::{pread, write, Errno};

use super::effective_uid;
use crate::error::{Error, Result};
use crate::name::{Name, Namespace};
use crate::sys::Reclaim;
use crate::types::{Access, MappingInfo};

/// How long an exclusive lock may refuse `open` before it is taken for not
/// a remover's (removers hold it for the time of one `unlink`).
const FOREIGN_LOCK_GRACE: Duration = Duration::from_millis(250);
/// How long `open` goes on retrying races it lost to other processes (a
/// dead entry reclaimed, a name removed and made again) before it says
/// `Busy`, whatever its busy timeout.
const OPEN_RETRY_WINDOW: Duration = Duration::from_secs(2);
/// How often `create` retries after reclaiming a dead entry of the same name.
const CREATE_ATTEMPTS: usize = 8;

/// What [`join_holders`] found.
pub(crate) enum Joined {
    /// We now hold a shared lock beside the other holders.
    Held,
    /// A persistent entry nobody else holds: we now hold a shared lock on it.
    Nobody,
    /// A transient entry nobody holds: dead. We hold it exclusively.
    Dead,
    /// Someone holds it exclusively (removing it): try again shortly.
    Busy,
}

/// Takes a holder's shared lock on `entry`, finding out on the way whether
/// anybody else holds it.
pub(crate) fn join_holders(entry: &OwnedFd, transient: bool) -> Joined {
    match flock(entry, FlockOperation::NonBlockingLockExclusive) {
        // Dead: the caller removes it while we still hold it exclusively.
        Ok(()) if transient => Joined::Dead,
        Ok(()) => {
            // Linux converts exclusive to shared by dropping and re-taking, so
            // someone may slip in an exclusive probe in between: then retry.
            match flock(entry, FlockOperation::NonBlockingLockShared) {
                Ok(()) => Joined::Nobody,
                Err(_) => Joined::Busy,
            }
        }
        Err(_) => match flock(entry, FlockOperation::NonBlockingLockShared) {
            Ok(()) => Joined::Held,
            Err(_) => Joined::Busy,
        },
    }
}

/// Lets go of a holder's lock but keeps the object open: an observer (an
/// `ls` looking inside for a moment) must not be the holder that outlives
/// the last real one. If the others leave meanwhile, the last of them still
/// removes a transient name; the observer's own [`leave`] finds it gone.
pub(crate) fn stop_holding(entry: &OwnedFd) {
    let _ = flock(entry, FlockOperation::Unlock);
}

/// Lets go of a holder's lock and says whether this was the last holder: it
/// then holds the entry exclusively, and removes a transient one.
pub(crate) fn leave(entry: &OwnedFd) -> bool {
    // Let go first, then ask for the whole entry: the exclusive lock is
    // granted only if no other holder (in any process) still has its shared
    // lock, so exactly the last holder to leave removes the name.
    let _ = flock(entry, FlockOperation::Unlock);
    flock(entry, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Removes the dead entry `id` (which the caller holds exclusively) with
/// `remove` if `base` still names it. Returns whether it still does
/// afterwards: another user's, in a sticky directory, which the caller
/// reports as not found.
pub(crate) fn bury(dir: &OwnedFd, base: &str, id: (u64, u64), remove: impl FnOnce()) -> bool {
    if names_same(dir, base, id) {
        remove();
    }
    names_same(dir, base, id)
}

/// For `open`'s rounds: whether another may start. A round after one that
/// found the entry busy (locked exclusively) counts against the caller's
/// busy timeout; every round counts against `OPEN_RETRY_WINDOW` (or the
/// busy timeout, when longer), which bounds the other races.
pub(crate) struct OpenRounds {
    started: Instant,
    busy_timeout: Duration,
    was_busy: bool,
}

impl OpenRounds {
    /// Rounds of an `open` that may wait `busy_timeout` for a busy entry.
    pub(crate) fn new(busy_timeout: Duration) -> OpenRounds {
        OpenRounds {
            started: Instant::now(),
            busy_timeout,
            was_busy: false,
        }
    }

    /// The round that just ended found the entry busy.
    pub(crate) fn found_busy(&mut self) {
        self.was_busy = true;
    }

    /// Whether `open` must give up (with `Busy`) instead of another round.
    pub(crate) fn exhausted(&mut self) -> bool {
        let elapsed = self.started.elapsed();
        let busy = std::mem::take(&mut self.was_busy);
        elapsed >= self.busy_timeout.max(OPEN_RETRY_WINDOW)
            || (busy && elapsed >= self.busy_timeout)
    }
}

/// For `open`: how long exclusive locks have refused it, on which entry.
///
/// Removers hold the entry exclusively only while they unlink it. A lock
/// that outlasts that, with the object still under the name, is somebody
/// else's: anyone who can open the entry (a read-only peer, too) can take
/// it, and it must not lock out a user of the mapping, who then opens it
/// without a hold.
#[derive(Default)]
pub(crate) struct BusySince {
    seen: Option<((u64, u64), Instant)>,
}

impl BusySince {
    /// Whether the entry `id` has refused us for longer than a remover
    /// would (the clock starts at the first refusal of this entry).
    pub(crate) fn outlasted(&mut self, id: (u64, u64)) -> bool {
        let since = match self.seen {
            Some((seen, since)) if seen == id => since,
            _ => self.seen.insert((id, Instant::now())).1,
        };
        since.elapsed() >= FOREIGN_LOCK_GRACE
    }
}

/// Gives a prepared entry its name with `link` (which fails with `EEXIST`
/// when the name exists): a live object's name is refused, a dead transient
/// one's taken over. `error` maps other failures of `link`.
pub(crate) fn publish(
    name: &Name,
    mut link: impl FnMut() -> rustix::io::Result<()>,
    reclaim: impl Fn() -> rustix::io::Result<Reclaim>,
    error: impl Fn(Errno) -> Error,
) -> Result<()> {
    for _ in 0..CREATE_ATTEMPTS {
        match link() {
            Ok(()) => return Ok(()),
            Err(Errno::EXIST) => match reclaim() {
                Ok(answer) => match answer.refusal(name) {
                    None => continue,
                    Some(error) => return Err(error),
                },
                Err(e) => return Err(os_error("create", name, e)),
            },
            Err(e) => return Err(error(e)),
        }
    }
    Err(Error::Busy {
        name: name.to_string(),
    })
}

/// Fails with `AlreadyExists` (or `PermissionDenied`) when `answer`, what
/// reclaiming the name found, says a create cannot have it. An error here is
/// `publish`'s to report, with the name's final state.
pub(crate) fn refuse_taken(name: &Name, answer: rustix::io::Result<Reclaim>) -> Result<()> {
    match answer.map(|answer| answer.refusal(name)) {
        Ok(Some(error)) => Err(error),
        Ok(None) | Err(_) => Ok(()),
    }
}

/// Removes the entry `base` if it is transient and nobody holds it, and says
/// what became of the name. `dead` reads an open entry: `Some` for a
/// transient one (what `remove` needs to remove it), `None` for one that
/// stays whatever happens (persistent, not memlink's, unreadable).
pub(crate) fn reclaim_if_dead<T>(
    dir: &OwnedFd,
    base: &str,
    dead: impl FnOnce(&OwnedFd, &Stat) -> Option<T>,
    remove: impl FnOnce(T) -> rustix::io::Result<()>,
) -> rustix::io::Result<Reclaim> {
    let entry = match openat(
        dir,
        base,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(entry) => entry,
        Err(Errno::NOENT) => return Ok(Reclaim::Free),
        // Not ours to judge (another user's, or not a file): it stays.
        Err(Errno::ACCESS | Errno::PERM | Errno::LOOP) => return Ok(Reclaim::Live),
        Err(e) => return Err(e),
    };
    let stat = fstat(&entry)?;
    let Some(transient) = dead(&entry, &stat) else {
        return Ok(Reclaim::Live);
    };
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Ok(Reclaim::Live);
    }
    match flock(&entry, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) if !names_same(dir, base, identity(&stat)) => Ok(Reclaim::Free),
        Ok(()) => match remove(transient) {
            Ok(()) | Err(Errno::NOENT) => Ok(Reclaim::Free),
            // Sticky directory: only the entry's owner (or root) may remove it.
            Err(Errno::PERM | Errno::ACCESS) => Ok(Reclaim::Stuck),
            Err(e) => Err(e),
        },
        Err(Errno::WOULDBLOCK) => Ok(Reclaim::Live),
        Err(e) => Err(e),
    }
}

/// What `reclaim_stale` does with a namespace's listing: `reclaim` every
/// transient entry of this user's that nobody holds; the names it freed.
pub(crate) fn reclaim_listed(
    listed: Vec<MappingInfo>,
    reclaim: impl Fn(&str) -> rustix::io::Result<Reclaim>,
) -> Vec<Name> {
    let me = effective_uid();
    let mut reclaimed = Vec::new();
    for info in listed {
        if info.persistent || info.live != Some(false) || info.owner != me {
            continue;
        }
        if let Ok(Reclaim::Free) = reclaim(info.name.base()) {
            reclaimed.push(info.name);
        }
    }
    reclaimed
}

/// Describes, with `describe`, every entry of `namespace` in the directory
/// at `path`, sorted by name; entries gone meanwhile, or not mappings (a
/// directory), are left out.
pub(crate) fn list_entries(
    namespace: Namespace,
    path: &Path,
    mut describe: impl FnMut(&Name) -> Result<MappingInfo>,
) -> Result<Vec<MappingInfo>> {
    let reader = fs::read_dir(path).map_err(|source| Error::Os {
        operation: "list",
        name: path.display().to_string(),
        source,
    })?;
    let mut entries = Vec::new();
    for item in reader.flatten() {
        let Some(base) = item.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(name) = Name::parse(&format!("{namespace}\\{base}")) else {
            continue;
        };
        match describe(&name) {
            Ok(info) => entries.push(info),
            // Gone since we read the directory, or not a mapping (a directory).
            Err(Error::NotFound { .. } | Error::WrongKind { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    entries.sort_by(|a, b| a.name.base().cmp(b.name.base()));
    Ok(entries)
}

/// Whether `base` in `dir` still names the file `id`.
pub(crate) fn names_same(dir: &OwnedFd, base: &str, id: (u64, u64)) -> bool {
    statat(dir, base, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|s| identity(&s) == id)
}

/// A file's identity: (device, inode).
pub(crate) fn identity(stat: &Stat) -> (u64, u64) {
    // `st_dev` is an `i32` on macOS.
    #[allow(clippy::unnecessary_cast)]
    (stat.st_dev as u64, stat.st_ino)
}

/// Refuses an entry that is not a regular file.
pub(crate) fn check_regular(name: &Name, stat: &Stat) -> Result<()> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(()),
        FileType::Directory => Err(Error::WrongKind {
            name: name.to_string(),
            expected: "shared-memory object",
            found: "directory",
        }),
        _ => Err(Error::WrongKind {
            name: name.to_string(),
            expected: "shared-memory object",
            found: "special file",
        }),
    }
}

/// Refuses an entry of another user's unless foreign owners are allowed.
pub(crate) fn check_owner(name: &Name, owner: u32, allow_foreign: bool) -> Result<()> {
    let me = effective_uid();
    if owner == me || allow_foreign {
        Ok(())
    } else {
        Err(Error::ForeignOwner {
            name: name.to_string(),
            owner,
            me,
        })
    }
}

/// The error for a failed open of an entry (or of what it names).
pub(crate) fn open_error(name: &Name, e: Errno, access: Access) -> Error {
    match e {
        Errno::ACCESS | Errno::PERM => Error::PermissionDenied {
            name: name.to_string(),
            operation: "open",
            access,
        },
        Errno::LOOP => Error::WrongKind {
            name: name.to_string(),
            expected: "shared-memory object",
            found: "symbolic link",
        },
        Errno::ISDIR => Error::WrongKind {
            name: name.to_string(),
            expected: "shared-memory object",
            found: "directory",
        },
        e => missing_or(name, e, "open"),
    }
}

/// The error for a failed `remove` (the unlink of an entry).
pub(crate) fn remove_error(name: &Name, e: Errno) -> Error {
    match e {
        Errno::ACCESS | Errno::PERM => Error::PermissionDenied {
            name: name.to_string(),
            operation: "remove",
            access: Access::ReadWrite,
        },
        e => missing_or(name, e, "remove"),
    }
}

/// `NotFound` for `ENOENT`, else the OS error of `operation`.
pub(crate) fn missing_or(name: &Name, e: Errno, operation: &'static str) -> Error {
    match e {
        Errno::NOENT => Error::NotFound {
            name: name.to_string(),
        },
        e => os_error(operation, name, e),
    }
}

/// An OS error of `operation` on `name`.
pub(crate) fn os_error(operation: &'static str, name: &Name, errno: Errno) -> Error {
    Error::Os {
        operation,
        name: name.to_string(),
        source: errno.into(),
    }
}

/// Writes all of `bytes` to a new entry.
pub(crate) fn write_all(entry: &OwnedFd, bytes: &[u8]) -> rustix::io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let written = write(entry, rest)?;
        rest = &rest[written..];
    }
    Ok(())
}

/// Reads a whole entry of at most `max` bytes; `None` when it cannot be read
/// or is longer (its contents are not trusted).
pub(crate) fn read_all(entry: &OwnedFd, max: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; max + 1];
    let mut filled = 0;
    while filled < buf.len() {
        match pread(entry, &mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    if filled > max {
        return None;
    }
    buf.truncate(filled);
    Some(buf)
}
