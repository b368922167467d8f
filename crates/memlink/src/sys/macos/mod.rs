//! macOS: named objects as `shm_open` objects plus entry files
//! ([`object`]), endpoint lock files ([`peers`]), `__ulock_wait` and process
//! identity ([`sync`]); views are the Unix ones (`unix/map.rs`).

mod object;
mod peers;
mod sync;

pub(crate) use self::object::{
    ensure_free, file_path, grow_file, inspect, list, open, prepare, reclaim_stale, remove, Object,
};
pub(crate) use self::peers::{any_endpoint_alive, EndpointLock};

/// Persistent mappings are had here (an entry that outlives its holders).
pub(crate) const NO_PERSISTENCE: Option<&str> = None;
pub(crate) use self::sync::{current_process, process_alive, wait_on, wake_all, wake_one};
pub(crate) use crate::sys::unix::file::file_access;
pub(crate) use crate::sys::unix::map::{MapHints, MappedRegion};
