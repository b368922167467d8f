//! The platform layer: the only place that talks to the operating system.
//!
//! Each OS has one module with the same small set of items:
//!
//! * `Object`: a held named object (the namespace entry, locked as a holder,
//!   and the descriptor of the bytes), released on drop;
//! * `create`, `open`, `remove`, `inspect`, `list`, `reclaim_stale`;
//! * `MappedRegion` with `map`, flush and unmap-on-drop;
//! * `page_size`, `file_access`, `file_path`, `effective_uid`;
//! * waiting on a shared `AtomicU32` (a shared futex on Linux):
//!   `wait_on(word, expected, deadline)` (which says whether the deadline
//!   passed), `wake_one`, `wake_all`;
//! * liveness: endpoint locks for channels; `current_process` and
//!   `process_alive(pid, start)` for robust mutexes.
//!
//! Everything above this module is free of `cfg(target_os)` and OS calls.
//!
//! | OS      | named objects                  | views                | waiting                         | liveness                      |
//! |---------|--------------------------------|----------------------|---------------------------------|-------------------------------|
//! | Linux   | `linux.rs`: `/dev/shm` + flock | `unix_map.rs`: mmap  | `linux_sync.rs`: shared futex   | `linux_peers.rs`: OFD locks   |
//! | macOS   | `macos.rs`: `shm_open` + lock files | `unix_map.rs`   | `macos_sync.rs`: `__ulock_wait` shared | `macos.rs`: per-slot flock |
//! | Windows | `windows.rs`: sections + a `/meta` record (`windows_security.rs`: DACLs, owners) | `windows_map.rs`: `MapViewOfFile` | `windows_sync.rs`: named semaphores | `windows_peers.rs`: named mutexes |

use crate::name::Name;
use crate::types::Access;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
#[cfg(target_os = "linux")]
mod linux_peers;
#[cfg(target_os = "linux")]
pub(crate) use linux_peers::*;

#[cfg(target_os = "linux")]
mod linux_sync;
#[cfg(target_os = "linux")]
pub(crate) use linux_sync::*;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub(crate) use macos::*;
#[cfg(target_os = "macos")]
mod macos_sync;
#[cfg(target_os = "macos")]
pub(crate) use macos_sync::*;

#[cfg(unix)]
mod unix_file;
#[cfg(unix)]
mod unix_map;
#[cfg(unix)]
pub(crate) use unix_map::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
#[cfg(windows)]
mod windows_map;
#[cfg(windows)]
pub(crate) use windows_map::*;
#[cfg(windows)]
mod windows_peers;
#[cfg(windows)]
pub(crate) use windows_peers::*;
#[cfg(windows)]
mod windows_security;
#[cfg(windows)]
mod windows_sync;
#[cfg(windows)]
pub(crate) use windows_sync::*;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
compile_error!("memlink supports Linux, macOS and Windows");

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
