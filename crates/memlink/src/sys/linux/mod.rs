//! Linux: named objects in `/dev/shm` held with `flock` ([`object`]),
//! endpoint liveness with OFD byte locks ([`peers`]), shared futexes and
//! process identity ([`sync`]); views are the Unix ones (`unix/map.rs`).

mod object;
mod peers;
mod sync;

pub(crate) use self::object::{
    ensure_free, file_path, grow_file, inspect, list, open, prepare, reclaim_stale, remove, Object,
};
pub(crate) use self::peers::{any_endpoint_alive, EndpointLock};
pub(crate) use self::sync::{
    current_process, process_alive, wait_on, wait_on_any, wake_all, wake_one,
};
pub(crate) use crate::sys::unix::file::file_access;
pub(crate) use crate::sys::unix::map::{MapHints, MappedRegion};

/// Persistent mappings are had here (an entry that outlives its holders).
pub(crate) const NO_PERSISTENCE: Option<&str> = None;
