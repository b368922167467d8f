//! Windows: the article's own API. Named objects are sections with a
//! `NAME/meta` record ([`object`]), owners and DACLs ([`security`]), views
//! with `MapViewOfFile` ([`map`]), waiting on named semaphores and process
//! identity ([`sync`]), endpoint liveness with named mutexes ([`peers`]).

mod map;
mod object;
mod peers;
mod security;
mod sync;

pub(crate) use self::map::{MapHints, MappedRegion};
pub(crate) use self::object::{
    ensure_free, file_access, file_path, grow_file, inspect, list, open, prepare, reclaim_stale,
    remove, Object,
};
pub(crate) use self::peers::{any_endpoint_alive, EndpointLock};
pub(crate) use self::sync::{current_process, process_alive, wait_on, wake_all, wake_one};
