//! The platform layer: the only place that talks to the operating system.
//!
//! One module per OS, chosen below as `imp`, provides the same small set of
//! items, listed once below the module declarations (a missing one is a
//! compile error there, for that OS):
//!
//! * `Object`: a held named object (the namespace entry, locked as a holder,
//!   and the descriptor of the bytes), released on drop; `prepare` (made,
//!   not yet named) then `Object::publish`, `ensure_free`, `open`,
//!   `remove`, `inspect`, `list`, `reclaim_stale`; `NO_PERSISTENCE`, why
//!   the OS cannot keep a mapping without holders (`None` where it can);
//! * backing files: `file_access`, `file_path`, `grow_file`;
//! * `MappedRegion` with `map`, flush and unmap-on-drop, and its `MapHints`;
//! * waiting on a shared `AtomicU32` (a shared futex on Linux):
//!   `wait_on(word, expected, deadline)` (which says whether the deadline
//!   passed), `wake_one`, `wake_all`, `wait_on_any` over several words, and
//!   `LocalBell` (with `BellMark`), a process-local bell slept on together
//!   with shared words (written once for Unix in `bell.rs`);
//! * liveness: `EndpointLock` and `any_endpoint_alive` for channels;
//!   `current_process` and `process_alive(pid, start)` for robust mutexes.
//!
//! The requests, [`Reclaim`] and [`ProcessIdentity`] are defined here, once.
//! Everything above this module is free of `cfg(target_os)` and OS calls.
//!
//! | OS      | named objects                  | views                | waiting                         | liveness                      |
//! |---------|--------------------------------|----------------------|---------------------------------|-------------------------------|
//! | Linux   | `linux/object.rs`: `/dev/shm` + flock (`unix/entry.rs`) | `unix/map.rs`: mmap | `linux/sync.rs`: shared futex | `linux/peers.rs`: OFD locks |
//! | macOS   | `macos/object.rs`: `shm_open` + entry files (`unix/entry.rs`) | `unix/map.rs` | `macos/sync.rs`: `__ulock_wait` shared | `macos/peers.rs`: per-slot flock |
//! | Windows | `windows/object.rs`: sections + a `/meta` record (`windows/record.rs`; `windows/security.rs`: DACLs, owners) | `windows/map.rs`: `MapViewOfFile` | `windows/sync.rs`: named semaphores | `windows/peers.rs`: named mutexes |
//!
//! `backoff.rs` is the one spin / back-off policy the whole crate uses.
//! `unix/` holds what Linux and macOS share: the entry protocol
//! (`unix/entry.rs`: holder locks, reclaiming dead entries, kind and owner
//! checks, errno mapping), views (`mmap`), backing files, the effective user
//! id. `unsafe` is allowed per file, only in the files that call the OS
//! through raw pointers.

use crate::name::Name;
use crate::types::Access;
use std::time::Duration;

mod backoff;
mod prefetch;

#[cfg(unix)]
mod unix;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as imp;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
compile_error!("memlink supports Linux, macOS and Windows");

// The one spin / back-off policy, for the whole crate.
pub(crate) use backoff::{Backoff, Limits, UNLIMITED};
// Cache-line hints for the rings (CPU, not OS, specific).
pub(crate) use prefetch::{prefetch_read, prefetch_write};

// What every OS provides: the whole contract, spelled out once.

// Named objects.
pub(crate) use imp::{ensure_free, inspect, list, open, prepare, reclaim_stale, remove, Object};
// Why this OS has no persistent mappings (`None` where it has them).
pub(crate) use imp::NO_PERSISTENCE;

// Backing files.
pub(crate) use imp::{file_access, file_path, grow_file};

// Views.
pub(crate) use imp::{MapHints, MappedRegion};

// Waiting on a shared word.
pub(crate) use imp::{wait_on, wake_all, wake_one};
// Waiting on several: one system call where the OS has one (Linux's
// `futex_waitv`, Windows' `WaitForMultipleObjects` over the words'
// semaphores), polling on macOS, whose `__ulock_wait` takes one address and
// has no multi-address form.
#[cfg(any(target_os = "linux", windows))]
pub(crate) use imp::wait_on_any;
#[cfg(target_os = "macos")]
pub(crate) use wait_on_any_by_polling as wait_on_any;
// A process-local bell slept on together with shared words (the reactor's
// doorbell): one more word of the set on Unix (`bell.rs`), an auto-reset
// event in the `WaitForMultipleObjects` set on Windows.
#[cfg(unix)]
mod bell;
#[cfg(unix)]
pub(crate) use bell::LocalBell;
#[cfg(windows)]
pub(crate) use imp::LocalBell;

/// How often [`wait_on_any_by_polling`] looks at the words it does not
/// sleep on.
const POLL_SLICE: std::time::Duration = std::time::Duration::from_millis(1);

/// Waits on several words where the OS cannot wait on several at once
/// (macOS's `__ulock` takes one address; Linux before 5.16; on Windows,
/// more than 64 words or words outside shared views): sleeps on the first word and returns at
/// least every millisecond, so that a change of any other is seen within a
/// millisecond. Returns `false` when `deadline` had passed.
pub(crate) fn wait_on_any_by_polling(
    words: &[(&std::sync::atomic::AtomicU32, u32)],
    deadline: Option<std::time::Instant>,
) -> bool {
    use std::sync::atomic::Ordering;
    let now = std::time::Instant::now();
    if deadline.is_some_and(|d| now >= d) {
        return false;
    }
    if words
        .iter()
        .any(|(word, expected)| word.load(Ordering::Acquire) != *expected)
    {
        return true;
    }
    let slice = now + POLL_SLICE;
    let until = deadline.map_or(slice, |d| d.min(slice));
    match words.first() {
        Some((word, expected)) => {
            wait_on(word, *expected, Some(until));
        }
        None => std::thread::sleep(until.saturating_duration_since(now)),
    }
    deadline.is_none_or(|d| std::time::Instant::now() < d)
}

/// Whether every process that may write a segment owned by `owner` with
/// permission bits `mode` can ring a wait set's doorbell
/// (`channel::doorbell`), which lives owner-only in the current user's
/// namespace: where the segment is ours and nobody else may write it. On
/// Windows, whose words are woken through per-word semaphores, wait sets
/// keep `WaitForMultipleObjects` and use no doorbell.
#[cfg(unix)]
pub(crate) fn doorbell_reaches(owner: u32, mode: u32) -> bool {
    owner == unix::effective_uid() && mode & 0o022 == 0
}

/// See the Unix version: never on Windows.
#[cfg(windows)]
pub(crate) fn doorbell_reaches(_owner: u32, _mode: u32) -> bool {
    false
}

// Liveness of processes and channel endpoints.
pub(crate) use imp::{any_endpoint_alive, current_process, process_alive, EndpointLock};

/// Who a process is, in terms another process can check: a pid alone is
/// not an identity, since pids are reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessIdentity {
    /// The process id (on Linux, as seen in this process's pid namespace).
    pub pid: u32,
    /// When the process started, in the OS's own unit (0 when unknown):
    /// clock ticks since boot on Linux (`/proc/PID/stat`), microseconds
    /// since the epoch on macOS, 100 ns units since 1601 on Windows.
    pub start: u64,
    /// The pid namespace: its inode on Linux (0 when unknown); on macOS and
    /// Windows, which have none, one constant per OS (`PID_NAMESPACE`).
    pub pid_ns: u64,
}

/// What `create` is asked to make.
pub(crate) struct CreateRequest<'a> {
    pub name: &'a Name,
    /// Logical size in bytes; never zero here (the mapping layer resolved it).
    pub size: u64,
    /// Permission bits (`0o777` at most).
    pub mode: u32,
    /// Stays until removed, rather than until the last holder goes.
    pub persistent: bool,
    /// `Some` for a file-backed mapping.
    pub file: Option<BackingFile<'a>>,
    /// Back it with huge pages (`Unsupported` where the system cannot).
    pub huge_pages: bool,
}

/// The file behind a file-backed mapping, already opened and sized.
#[derive(Clone, Copy)]
pub(crate) struct BackingFile<'a> {
    /// Its absolute path, which openers of the name will open.
    pub path: &'a std::path::Path,
    /// The open file, shared by the creator's views.
    pub file: &'a std::fs::File,
}

/// What `open` is asked to open.
pub(crate) struct OpenRequest<'a> {
    pub name: &'a Name,
    pub access: Access,
    pub allow_foreign_owner: bool,
    /// How long to wait for a name that another process is removing (or
    /// holds locked) before `Error::Busy` (Unix; Windows never waits).
    #[cfg_attr(windows, allow(dead_code))]
    pub busy_timeout: Duration,
}

/// What became of a name whose dead entry a Unix backend tried to reclaim.
#[cfg(unix)]
pub(crate) enum Reclaim {
    /// No entry has the name (any more).
    Free,
    /// A live object (or one this user may not judge) has the name.
    Live,
    /// A dead object has the name, and this user may not remove it: in a
    /// sticky directory only its owner (or root) may.
    Stuck,
}

#[cfg(unix)]
impl Reclaim {
    /// The error for a create that found the name in this state, or `None`
    /// when the name is free.
    pub(crate) fn refusal(self, name: &Name) -> Option<crate::Error> {
        match self {
            Reclaim::Free => None,
            Reclaim::Live => Some(crate::Error::AlreadyExists {
                name: name.to_string(),
            }),
            // Its owner's `memlink gc` (or root) can remove it.
            Reclaim::Stuck => Some(crate::Error::PermissionDenied {
                name: name.to_string(),
                operation: "replace another user's abandoned object under",
                access: Access::ReadWrite,
            }),
        }
    }
}

/// What every backend's endpoint locks must do; the backends' own tests
/// cover what is particular to their mechanism.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mapping;

    fn mapping(tag: &str) -> Mapping {
        let name = format!("mltest-peers-{tag}-{}", std::process::id());
        Mapping::create(&name, 4096).unwrap()
    }

    #[test]
    fn a_ring_after_the_mark_is_never_lost() {
        let bell = LocalBell::new();
        let mark = bell.mark();
        bell.ring();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        assert!(bell.wait(mark, &[], Some(deadline)));
        assert!(std::time::Instant::now() < deadline, "the ring was lost");
        // With shared words too.
        let m = mapping("bell-mark");
        let view = m.view_all().unwrap();
        let word = view.atomic_u32(0).unwrap();
        let mark = bell.mark();
        bell.ring();
        assert!(bell.wait(mark, &[(word, 0)], Some(deadline)));
        assert!(std::time::Instant::now() < deadline, "the ring was lost");
        // No ring and nothing moving: the deadline.
        let mark = bell.mark();
        let soon = std::time::Instant::now() + std::time::Duration::from_millis(20);
        while bell.wait(mark, &[(word, 0)], Some(soon)) {}
        assert!(std::time::Instant::now() >= soon);
    }

    #[test]
    fn a_sleeper_on_a_bell_and_shared_words_wakes_for_either() {
        use std::sync::atomic::Ordering;
        use std::time::{Duration, Instant};
        let m = mapping("bell-words");
        let view = m.view_all().unwrap();
        let word = view.atomic_u32(64).unwrap();
        let bell = LocalBell::new();
        for by_word in [false, true] {
            let (marked, told) = std::sync::mpsc::channel();
            std::thread::scope(|scope| {
                let sleeper = scope.spawn(|| {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    let mark = bell.mark();
                    let seen = word.load(Ordering::SeqCst);
                    marked.send(seen).unwrap();
                    // Until woken: a slice's end returns too, and the
                    // sleeper looks again, as the reactor does.
                    loop {
                        bell.wait(mark, &[(word, seen)], Some(deadline));
                        assert!(Instant::now() < deadline, "never woken");
                        if by_word && word.load(Ordering::SeqCst) != seen {
                            return;
                        }
                        if !by_word && bell.mark() != mark {
                            return;
                        }
                    }
                });
                let seen = told.recv().unwrap();
                if by_word {
                    word.store(seen + 1, Ordering::SeqCst);
                    wake_all(word);
                } else {
                    bell.ring();
                }
                sleeper.join().unwrap();
            });
        }
    }

    #[test]
    fn a_claimed_slot_is_alive_until_dropped() {
        let m = mapping("claim");
        let object = m.object();
        assert!(!any_endpoint_alive(object, 0, 4).unwrap());
        let lock = EndpointLock::try_acquire(object, 2).unwrap().unwrap();
        assert_eq!(lock.index(), 2);
        assert!(any_endpoint_alive(object, 2, 1).unwrap());
        assert!(any_endpoint_alive(object, 0, 4).unwrap());
        assert!(!any_endpoint_alive(object, 0, 2).unwrap());
        // Held by this process: not twice, from any thread.
        assert!(EndpointLock::try_acquire(object, 2).unwrap().is_none());
        let other = Mapping::open(m.name().to_string().as_str()).unwrap();
        assert!(EndpointLock::try_acquire(other.object(), 2)
            .unwrap()
            .is_none());
        // Dropped on another thread: released all the same, and by the time
        // the drop returns (whoever looks next finds the slot free).
        std::thread::spawn(move || drop(lock)).join().unwrap();
        assert!(!any_endpoint_alive(object, 2, 1).unwrap());
        let again = EndpointLock::try_acquire(object, 2).unwrap().unwrap();
        drop(again);
        assert!(!any_endpoint_alive(object, 0, 4).unwrap());
    }
}
