//! macOS: named objects as `shm_open` objects plus entry files, and
//! endpoint lock files ([`object`]); `__ulock_wait` and process identity
//! ([`sync`]); views are the Unix ones (`unix/map.rs`).

mod object;
mod sync;

pub(crate) use self::object::{
    any_endpoint_alive, ensure_free, file_path, grow_file, inspect, list, open, prepare,
    reclaim_stale, remove, EndpointLock, Object,
};
pub(crate) use self::sync::{current_process, process_alive, wait_on, wake_all, wake_one};
pub(crate) use crate::sys::unix::file::file_access;
pub(crate) use crate::sys::unix::map::{MapHints, MappedRegion};
